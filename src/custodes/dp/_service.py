"""Differential-privacy query access: queries within what the board approved, paid exactly.

A recipient may query a dataset once a request for ``dp_query`` access to
it has been released to them, and the query may read only the columns that
request names (in SELECT, WHERE and GROUP BY). Everything that can be
checked is checked before anything is spent: the privacy loss (finite, in
range), the dialect and its limits, the columns against the dataset's schema
and the grant, the bounds, and the query against the data's types.

Then one transaction locks the recipient's budget row and the dataset's
global ceiling (so concurrent queries never overspend), checks that both can
pay, computes the answer (the data bounded: at most ``max_contributions`` rows
per person, values clamped to declared bounds; aggregated exactly by the engine;
released through OpenDP's mechanisms), and only then adds the spend and
appends ``dp.query_answered`` with the answer's SHA-256. A query that fails
at any point rolls back: it spends nothing and the ledger says nothing.

An estimate (:meth:`PrivateQueries.estimate`) makes the same checks but the
type check, then shows the query's plan (its charge, mechanisms, noise
scales and interval half-widths) and the budgets before and after, from the
settings alone: it reads no data, spends nothing and records nothing. The
charge it shows and the charge a query pays come from one function,
:func:`~custodes.dp._plan.plan_query`.

:class:`PrivateQueries` works through an :class:`~custodes.dp._access.Access`
(governance's checks and ledger) and a :class:`~custodes.dp._account.BudgetAccount`;
``Workspace.queries(actor)`` builds one.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.dp._access import Access, Catalogued
from custodes.dp._account import GLOBAL, BudgetAccount
from custodes.dp._answer import Bounded, answer_query, bounded
from custodes.dp._budget import Budget
from custodes.dp._plan import Plan, plan_query
from custodes.dp._query import Query, parse_query
from custodes.engines._dp import DPOps, EvaluationError
from custodes.errors import (
    CustodesError,
    ForbiddenError,
    InternalError,
    InvalidInputError,
    RefusedError,
    SettingError,
    UnknownColumnError,
    closest,
)
from custodes.io import TableSource
from custodes.store import DPConfig

__all__ = ["PrivateQueries", "answer_query"]

_COMPOSITION_NOTE = "rho adds up (zCDP); epsilon, concave in rho, falls by less than spent"
"""Why the remaining epsilon falls by less than the epsilon a query spends (short: one line)."""
_ESTIMATE_NOTE = (
    "an estimate: nothing spent, the data not read; the query itself is still checked against "
    "the data's types, and the budgets may change before it is asked"
)
"""What an estimate does not know (short: one line)."""


def _check_config(config: Mapping[str, Any], columns: list[str]) -> dict[str, Any]:
    unit = config.get("privacy_unit")
    row = config.get("unit_is_row", False)
    if not isinstance(row, bool):
        raise SettingError("unit_is_row must be true or false.")
    if row:  # census-style microdata: one row per person, no person column
        if unit is not None:
            raise SettingError(
                "give either privacy_unit (the person column) or unit_is_row = true (each "
                "row is one person), not both."
            )
    elif unit not in columns:
        raise SettingError(
            f"privacy_unit {unit!r} must be a column of the dataset (the person identifier); "
            "for a table with one row per person and no such column, set unit_is_row = true."
        )
    m = config.get("max_contributions", 1)
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise SettingError("max_contributions must be a whole number >= 1.")
    if row and m != 1:
        raise SettingError("with unit_is_row = true each person has one row: max_contributions 1.")
    bounds = {}
    for column, pair in dict(config.get("bounds", {})).items():
        if column not in columns:
            raise SettingError(f"bounds: {column!r} is not a column of the dataset.")
        try:
            low, high = float(pair[0]), float(pair[1])
        except (TypeError, ValueError, IndexError):
            raise SettingError(f"bounds.{column} must be [low, high] numbers.") from None
        if not low < high:
            raise SettingError(f"bounds.{column}: low must be below high.")
        bounds[column] = [low, high]
    public = {}
    for column, values in dict(config.get("public_groups", {})).items():
        if column not in columns:
            raise SettingError(f"public_groups: {column!r} is not a column of the dataset.")
        if not isinstance(values, list) or not values:
            raise SettingError(f"public_groups.{column} must be a list of values.")
        public[column] = [str(v) for v in values]
    known = {"privacy_unit", "unit_is_row", "max_contributions", "bounds", "public_groups"}
    unknown = set(config) - known
    if unknown:
        raise SettingError(
            f"unknown DP setting {sorted(unknown)[0]!r}; the settings are privacy_unit, "
            "unit_is_row, max_contributions, bounds, public_groups."
        )
    checked: dict[str, Any] = {
        "privacy_unit": None if row else unit,
        "max_contributions": m,
        "bounds": bounds,
        "public_groups": public,
    }
    if row:  # recorded only when set: configurations made before keep their hashes
        checked["unit_is_row"] = True
    return checked


class PrivateQueries:
    """DP query access to the catalog's datasets, acting as one actor.

    ``access``: governance's checks and ledger; ``account``: the budgets it
    pays from; ``engine``: bounds and aggregates the data; ``tables``: the
    cache of bounded tables (the workspace's). Build one with
    ``Workspace.queries(actor)``.
    """

    def __init__(
        self, access: Access, account: BudgetAccount, engine: DPOps, tables: Bounded
    ) -> None:
        self.access = access
        self.account = account
        self.engine = engine
        self.tables = tables

    @property
    def actor(self) -> str:
        """Who asks."""
        return self.access.actor

    def close(self) -> None:
        """Close the store's connections (they open again when needed)."""
        self.access.close()

    def __enter__(self) -> PrivateQueries:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ setup

    def configure(self, dataset: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Declare how a dataset answers DP queries (a steward)."""
        with self.access.transaction() as session:
            self.access.need(session, "steward")
            data = self.access.dataset(session, dataset)
            checked = _check_config(config, list(data.columns))
            row = session.get(DPConfig, dataset)
            text = json.dumps(checked, ensure_ascii=False, sort_keys=True)
            if row is None:
                session.add(DPConfig(dataset=dataset, config=text))
            else:
                row.config = text
            self.account.row(session, dataset, GLOBAL, data.grade)
            self.access.record(
                session, "dp.configured", dataset, {"config_sha256": text_sha256(text)}
            )
            return checked

    # ------------------------------------------------------------ budgets

    def set_budget(self, dataset: str, rho: str | Fraction, recipient: str = GLOBAL) -> None:
        """Lower a budget (one steward); see :meth:`BudgetAccount.set_budget`."""
        self.account.set_budget(dataset, rho, recipient)

    def budget(self, dataset: str, *, exact: bool = False) -> dict[str, Any]:
        """Every budget on a dataset; see :meth:`BudgetAccount.budget`."""
        return self.account.budget(dataset, exact=exact)

    def propose_budget_change(
        self, dataset: str, total: str | Fraction, *, recipient: str = GLOBAL, reason: str
    ) -> str:
        """Propose raising a budget; see :meth:`BudgetAccount.propose_budget_change`."""
        return self.account.propose_budget_change(
            dataset, total, recipient=recipient, reason=reason
        )

    def decide_budget_change(self, change_id: str, approve: bool, rationale: str) -> str:
        """Decide on a budget change; see :meth:`BudgetAccount.decide_budget_change`."""
        return self.account.decide_budget_change(change_id, approve, rationale)

    def budget_changes(
        self, dataset: str | None = None, *, exact: bool = False
    ) -> list[dict[str, Any]]:
        """The budget changes; see :meth:`BudgetAccount.budget_changes`."""
        return self.account.budget_changes(dataset, exact=exact)

    # ------------------------------------------------------------ queries

    def _granted(self, session: Session, query: Query) -> tuple[Catalogued, dict[str, Any]]:
        """The dataset and its DP settings, once the query is within the recipient's grant."""
        self.access.need(session, "requester")
        data = self.access.dataset(session, query.dataset)
        columns = list(data.columns)
        for name in sorted(query.columns):
            if name not in columns:
                raise _unknown(name, columns, query.dataset)
        grants = self.access.grants(session, query.dataset)
        if not grants:
            raise ForbiddenError(
                f"{self.actor!r} has no released request for DP query access to "
                f"{query.dataset!r}; file one (sharing model dp_query)."
            )
        granted = frozenset().union(*grants)
        for name in sorted(query.columns - granted):
            raise ForbiddenError(
                f"column {name!r} is not among the columns {self.actor!r}'s released DP request "
                f"on {query.dataset} covers ({', '.join(sorted(granted))}); file a request "
                "that names it."
            )
        config_row = session.get(DPConfig, query.dataset)
        if config_row is None:
            raise RefusedError(
                f"{query.dataset!r} is not set up for DP queries; a steward runs "
                "`custodes dp configure`."
            )
        config = json.loads(config_row.config)
        _check_query(query, config)
        return data, config

    def estimate(
        self,
        sql: str,
        *,
        rho: str | Fraction | float | None = None,
        epsilon: str | Fraction | float | None = None,
        exact: bool = False,
    ) -> dict[str, Any]:
        """What a query would cost and how precise its answer would be, before anything is spent.

        The same checks as :meth:`query` (the recipient's grant, the columns,
        the settings, the privacy loss), then its plan (see
        :func:`~custodes.dp._plan.plan_query`, which :meth:`query` charges
        through too) and the budgets as they stand, from the catalog and the
        DP settings alone: the data is not read, nothing is spent or written,
        and the ledger says nothing (reading budgets is not recorded either).
        """
        delta = self.access.delta
        query = parse_query(sql)
        with self.access.transaction() as session:
            data, config = self._granted(session, query)
            plan = plan_query(query, config, delta, rho=rho, epsilon=epsilon)
            quote = self.account.quote(session, query.dataset, data.grade, plan.charge)
        cost = plan.cost(exact)
        return {
            "dataset": query.dataset,
            "query": query.text,
            "rho_cost": cost["rho"],
            "epsilon_cost": cost["epsilon"],
            "delta": delta,
            "groups": plan.groups,
            "aggregates": [planned.shown() for planned in plan.releases],
            **quote.shown(delta, exact),
            "notes": [*plan.notes(), _ESTIMATE_NOTE, _COMPOSITION_NOTE],
        }

    def query(
        self,
        sql: str,
        *,
        rho: str | Fraction | float | None = None,
        epsilon: str | Fraction | float | None = None,
        exact: bool = False,
    ) -> dict[str, Any]:
        """Answer an aggregate query with differential privacy, paying from both budgets.

        Nothing is spent unless the answer is computed: validation first,
        then lock, check, compute, spend and record in one transaction. The
        charge is the plan's (:func:`~custodes.dp._plan.plan_query`), as
        :meth:`estimate` shows it.
        """
        delta = self.access.delta
        query = parse_query(sql)
        with self.access.transaction() as session:
            data, config = self._granted(session, query)
        plan = plan_query(query, config, delta, rho=rho, epsilon=epsilon)  # before data is read
        source = self.access.source(data)
        table = bounded(self.engine, self.tables, source, query, config, data.has_header)
        _check_types(plan, table, self.engine)
        with self.access.transaction() as session:
            data, config = self._granted(session, query)  # again: the grant may have ended
            plan = plan_query(query, config, delta, rho=rho, epsilon=epsilon)  # and the settings
            spend = plan.charge
            payment = self.account.payment(session, query.dataset, data.grade, spend)
            try:
                answer = answer_query(plan, table, self.engine)
            except CustodesError:
                raise
            except Exception as exc:
                raise InternalError(
                    f"the query could not be answered ({type(exc).__name__}); nothing was spent "
                    "and nothing recorded. This is a bug in custodes: please report it."
                ) from exc
            digest = text_sha256(
                json.dumps(
                    {"columns": answer["columns"], "rows": answer["rows"]},
                    sort_keys=True,
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
            remaining = payment.pay()
            self.access.record(
                session,
                "dp.query_answered",
                query.dataset,
                {
                    "query_sha256": text_sha256(query.text),
                    "answer_sha256": digest,
                    "rho": spend.to_ledger(),
                    "epsilon": f"{spend.epsilon(delta):.6f}",
                    "delta": f"{delta:g}",
                    "recipient": self.actor,
                    # What the budgets started from, for an audit that replays the ledger.
                    "grade": data.grade,
                    "totals": {
                        "recipient": Budget.stored(payment.rows[0].total).to_ledger(),
                        "global": Budget.stored(payment.rows[1].total).to_ledger(),
                    },
                },
            )
        answer["answer_sha256"] = digest
        answer["rho_spent"] = plan.cost(exact)["rho"]
        answer["remaining_rho"] = remaining.shown(exact)
        answer["remaining_epsilon"] = remaining.epsilon_shown(delta)
        answer["notes"].append(_COMPOSITION_NOTE)
        return answer


def _unknown(name: str, columns: Sequence[str], dataset: str) -> UnknownColumnError:
    """A column not in the schema; look-alike characters (e.g. a Cyrillic e) named."""
    odd = [
        f"U+{ord(c):04X} ({unicodedata.name(c, 'unnamed')})"
        for c in name
        if ord(c) > 127 and not unicodedata.category(c).startswith("Lo")
    ]
    hint = closest(name, columns)
    message = f"column {name!r} is not a column of {dataset}"
    if odd:
        message += f"; it contains the character {odd[0]}, which may look like a Latin letter"
    if hint is not None:
        message += f"; did you mean {hint!r}?"
    else:
        message += f"; its columns are {', '.join(columns)}."
    return UnknownColumnError(message)


def _check_types(plan: Plan, table: TableSource, engine: DPOps) -> None:
    """Run the query's filter and grouping on none of the data's rows: type errors show here."""
    try:
        answer_query(plan, table, engine, dry=True)
    except EvaluationError as exc:
        raise InvalidInputError(
            f"the query cannot be evaluated on the columns of {plan.query.dataset} "
            f"({exc.kind}); compare numbers with numbers and text with quoted text."
        ) from None
    except CustodesError:
        raise
    except Exception as exc:
        raise InternalError(
            f"the query could not be checked ({type(exc).__name__}); nothing was spent. This is "
            "a bug in custodes: please report it."
        ) from exc


def _check_query(query: Query, config: Mapping[str, Any]) -> None:
    bounds = config["bounds"]
    for agg in query.aggregates:
        if agg.column is not None and agg.kind != "count" and agg.column not in bounds:
            raise RefusedError(
                f"{agg.label} needs declared bounds for {agg.column!r} (bounds in the DP settings)."
            )
    if config["privacy_unit"] is not None and config["privacy_unit"] in query.groups:
        raise RefusedError("grouping by the privacy unit would release each person's own figures.")
