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
per person, values clamped to declared bounds; aggregated exactly by Polars;
released through OpenDP's mechanisms), and only then adds the spend and
appends ``dp.query_answered`` with the answer's SHA-256. A query that fails
at any point rolls back: it spends nothing and the ledger says nothing.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
from scipy.stats import norm
from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.dp._budgets import GLOBAL, Budgets, _exact, query_spend, shown
from custodes.dp._mechanisms import (
    Z95,
    epsilon_of,
    noisy_counts,
    noisy_quantile,
    noisy_sums,
)
from custodes.dp._query import Query, parse_query
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
from custodes.io import read_table
from custodes.store import DPConfig, Request

__all__ = ["PrivateQueries", "answer_query"]

_QUANTILE_CANDIDATES = 101
_COMPOSITION_NOTE = "rho adds up (zCDP); epsilon, concave in rho, falls by less than spent"
"""Why the remaining epsilon falls by less than the epsilon a query spends (short: one line)."""


def _check_config(config: Mapping[str, Any], columns: list[str]) -> dict[str, Any]:
    unit = config.get("privacy_unit")
    if unit not in columns:
        raise SettingError(
            f"privacy_unit {unit!r} must be a column of the dataset (the person identifier)."
        )
    m = config.get("max_contributions", 1)
    if not isinstance(m, int) or isinstance(m, bool) or m < 1:
        raise SettingError("max_contributions must be a whole number >= 1.")
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
    unknown = set(config) - {"privacy_unit", "max_contributions", "bounds", "public_groups"}
    if unknown:
        raise SettingError(
            f"unknown DP setting {sorted(unknown)[0]!r}; the settings are privacy_unit, "
            "max_contributions, bounds, public_groups."
        )
    return {"privacy_unit": unit, "max_contributions": m, "bounds": bounds, "public_groups": public}


class PrivateQueries(Budgets):
    """DP query access to the catalog's datasets, acting as one actor."""

    # ------------------------------------------------------------ setup

    def configure(self, dataset: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Declare how a dataset answers DP queries (a steward)."""
        with self._change() as session:
            self._need(session, "steward")
            data = self._dataset(session, dataset)
            checked = _check_config(config, json.loads(data.columns))
            row = session.get(DPConfig, dataset)
            text = json.dumps(checked, ensure_ascii=False, sort_keys=True)
            if row is None:
                session.add(DPConfig(dataset=dataset, config=text))
            else:
                row.config = text
            self._budget_row(session, dataset, GLOBAL, data.grade)
            self._record(session, "dp.configured", dataset, {"config_sha256": text_sha256(text)})
            return checked

    # ------------------------------------------------------------ queries

    def _granted(self, session: Session, query: Query) -> tuple[Any, dict[str, Any]]:
        """The dataset and its DP settings, once the query is within the recipient's grant."""
        self._need(session, "requester")
        data = self._dataset(session, query.dataset)
        columns = json.loads(data.columns)
        for name in sorted(query.columns):
            if name not in columns:
                raise _unknown(name, columns, query.dataset)
        released = session.execute(
            select(Request.details).where(
                Request.dataset == query.dataset,
                Request.requester == self.actor,
                Request.state.in_(("released", "monitoring")),
            )
        ).all()
        grants = [json.loads(d) for (d,) in released]
        grants = [d for d in grants if d.get("sharing_model") == "dp_query"]
        if not grants:
            raise ForbiddenError(
                f"{self.actor!r} has no released request for DP query access to "
                f"{query.dataset!r}; file one (sharing model dp_query)."
            )
        granted = {c for d in grants for c in d.get("columns", [])}
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
        then lock, check, compute, spend and record in one transaction.
        """
        delta = self.policy.dp_delta
        spend = query_spend(rho, epsilon, delta)
        query = parse_query(sql)
        with self._change() as session:
            data, config = self._granted(session, query)
        source = self._checked_source(data)
        header = data.has_header
        _check_types(query, config, source, header)
        with self._change() as session:
            data, config = self._granted(session, query)  # again: the grant may have ended
            payers = [
                self._budget_row(session, query.dataset, self.actor, data.grade),
                self._budget_row(session, query.dataset, GLOBAL, data.grade),
            ]
            for row in payers:
                remaining = Fraction(row.total) - Fraction(row.spent)
                if spend > remaining:
                    whose = "the dataset's global" if row.recipient == GLOBAL else "your"
                    raise RefusedError(
                        f"{whose} privacy budget on {query.dataset} cannot pay: requested rho "
                        f"{spend} ({shown(spend)}), remaining {remaining} ({shown(remaining)}), "
                        f"short by {shown(spend - remaining)}."
                    )
            try:
                answer = answer_query(query, config, source, spend, delta, has_header=header)
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
            for row in payers:
                row.spent = str(Fraction(row.spent) + spend)
                row.queries = (row.queries or 0) + 1
            self._record(
                session,
                "dp.query_answered",
                query.dataset,
                {
                    "query_sha256": text_sha256(query.text),
                    "answer_sha256": digest,
                    "rho": _exact(spend),
                    "epsilon": f"{epsilon_of(spend, delta):.6f}",
                    "delta": f"{delta:g}",
                    "recipient": self.actor,
                },
            )
            remaining_after = Fraction(payers[0].total) - Fraction(payers[0].spent)
        answer["answer_sha256"] = digest
        answer["rho_spent"] = shown(spend, exact)
        answer["remaining_rho"] = shown(remaining_after, exact)
        answer["remaining_epsilon"] = round(epsilon_of(remaining_after, delta), 6)
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


def _check_types(
    query: Query, config: Mapping[str, Any], source: Path, has_header: bool | None
) -> None:
    """Run the query's filter and grouping on none of the data's rows: type errors show here."""
    try:
        answer_query(query, config, source, Fraction(1), 1e-6, dry=True, has_header=has_header)
    except CustodesError:
        raise
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(
            f"the query cannot be evaluated on the columns of {query.dataset} "
            f"({type(exc).__name__}); compare numbers with numbers and text with quoted text."
        ) from None
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
    if config["privacy_unit"] in query.groups:
        raise RefusedError("grouping by the privacy unit would release each person's own figures.")


def answer_query(
    query: Query,
    config: Mapping[str, Any],
    source: Path,
    rho: Fraction,
    delta: float,
    *,
    dry: bool = False,
    has_header: bool | None = None,
) -> dict[str, Any]:
    """Bound, aggregate exactly, then release every cell through OpenDP.

    ``dry``: filter and group none of the rows and release nothing (a check of
    the query against the data's types, before anything is spent).
    ``has_header``: whether a CSV source's first row names the columns (the
    dataset's choice when registered; None: detected).
    """
    unit = config["privacy_unit"]
    m = int(config["max_contributions"])
    bounds = config["bounds"]
    public = config["public_groups"]
    needed = sorted(query.columns | {unit})
    data = _bounded(source, needed, unit, m, bounds, has_header)
    if dry:
        data = data.head(0)
    if query.where is not None:
        data = data.filter(query.where.fill_null(False))
    groups = list(query.groups)
    private_groups = [g for g in groups if g not in public]
    releases = sum(2 if a.kind == "avg" else 1 for a in query.aggregates)
    releases += 1 if private_groups else 0
    share = rho / releases
    if groups:
        data = data.with_columns(pl.col(g).cast(pl.String) for g in groups)
        if private_groups:
            keys = data.select(groups).unique().sort(groups)
        else:
            keys = pl.DataFrame(
                list(itertools.product(*(public[g] for g in groups))), schema=groups, orient="row"
            )
        exact = data.group_by(groups).agg(
            pl.len().alias("__n"),
            *[
                pl.col(f"__c_{a.column}").sum().alias(f"__s_{a.column}")
                for a in query.aggregates
                if a.kind in ("sum", "avg") and a.column is not None
            ],
        )
        if dry:
            return {}
        cells = keys.join(exact, on=groups, how="left").fill_null(0)
    elif dry:
        return {}
    else:
        cells = pl.DataFrame(
            {"__n": [data.height]}
            | {
                f"__s_{a.column}": [float(data.get_column(f"__c_{a.column}").sum())]
                for a in query.aggregates
                if a.kind in ("sum", "avg") and a.column is not None
            }
        )
    notes = [f"at most {m} row(s) per person ({unit}); values clamped to declared bounds"]
    if private_groups:
        counts, scale = noisy_counts(cells.get_column("__n").to_list(), m, share)
        threshold = m + scale * float(norm.ppf(1 - delta / m))
        keep = [c >= threshold for c in counts]
        cells = cells.filter(pl.Series(keep))
        notes.append(
            f"groups of {', '.join(private_groups)} released by DP partition selection "
            f"(threshold {threshold:.1f}, delta {delta:g})"
        )
    columns = [*groups]
    results: dict[str, list[Any]] = {g: cells.get_column(g).to_list() for g in groups}
    for agg in query.aggregates:
        columns.append(agg.label)
        results[agg.label], results[f"{agg.label} 95% interval"] = _release(
            agg, cells, data, groups, bounds, m, share
        )
    rows = []
    for i in range(cells.height):
        row: dict[str, Any] = {g: results[g][i] for g in groups}
        for agg in query.aggregates:
            row[agg.label] = results[agg.label][i]
            row[f"{agg.label} 95% interval"] = results[f"{agg.label} 95% interval"][i]
        rows.append(row)
    return {
        "dataset": query.dataset,
        "query": query.text,
        "columns": columns,
        "rows": rows,
        "rho_spent": str(rho),
        "epsilon_spent": round(epsilon_of(rho, delta), 6),
        "delta": delta,
        "notes": notes,
    }


_FRAMES: dict[tuple[Any, ...], pl.DataFrame] = {}


def _bounded(
    source: Path,
    needed: list[str],
    unit: str,
    m: int,
    bounds: Mapping[str, list[float]],
    has_header: bool | None = None,
) -> pl.DataFrame:
    """The table's needed columns with at most ``m`` rows per person and clamped copies
    (``__c_<column>``) of the bounded columns; kept in memory between queries of a process
    (again read when the file's size or modification time change)."""
    info = source.stat()
    key = (str(source.resolve()), info.st_mtime_ns, info.st_size, tuple(needed), unit, m,
           json.dumps(bounds, sort_keys=True), has_header)  # fmt: skip
    if key not in _FRAMES:
        from custodes.detect import header_judge  # judged as when it was registered

        opened = read_table(source, has_header=has_header, header_judge=header_judge)
        frame = opened.frame.select(needed)
        if m == 1:  # contribution bounding: the first row of each person
            frame = frame.filter(pl.col(unit).is_first_distinct())
        else:
            frame = frame.filter(pl.int_range(pl.len()).over(unit) < m)
        clamped = [
            pl.col(c)
            .cast(pl.Float64, strict=False)
            .fill_null(low)
            .clip(low, high)
            .alias(f"__c_{c}")
            for c, (low, high) in bounds.items()
            if c in needed
        ]
        if len(_FRAMES) >= 4:
            _FRAMES.pop(next(iter(_FRAMES)))
        _FRAMES[key] = frame.with_columns(clamped).collect(engine="streaming")
    return _FRAMES[key]


def _release(
    agg: Any,
    cells: pl.DataFrame,
    data: pl.DataFrame,
    groups: list[str],
    bounds: Mapping[str, list[float]],
    m: int,
    share: Fraction,
) -> tuple[list[Any], list[Any]]:
    counts_exact = cells.get_column("__n").to_list()
    if agg.kind == "count":
        noisy, scale = noisy_counts(counts_exact, m, share)
        half = Z95 * scale
        return noisy, [[round(v - half, 2), round(v + half, 2)] for v in noisy]
    low, high = bounds[agg.column]
    reach = m * max(abs(low), abs(high))
    if agg.kind in ("sum", "avg"):
        sums_exact = cells.get_column(f"__s_{agg.column}").to_list()
    if agg.kind == "sum":
        noisy_s, scale = noisy_sums(sums_exact, reach, share)
        half = Z95 * scale
        return [round(v, 4) for v in noisy_s], [
            [round(v - half, 4), round(v + half, 4)] for v in noisy_s
        ]
    if agg.kind == "avg":
        noisy_s, s_scale = noisy_sums(sums_exact, reach, share)
        noisy_n, n_scale = noisy_counts(counts_exact, m, share)
        values, intervals = [], []
        for s, n in zip(noisy_s, noisy_n, strict=True):
            n_low, n_high = n - Z95 * n_scale, n + Z95 * n_scale
            s_low, s_high = s - Z95 * s_scale, s + Z95 * s_scale
            value = min(max(s / n, low), high) if n > 0 else None
            values.append(None if value is None else round(value, 4))
            if n_low > 0:
                ends = [s_low / n_low, s_low / n_high, s_high / n_low, s_high / n_high]
                intervals.append([round(max(min(ends), low), 4), round(min(max(ends), high), 4)])
            else:
                intervals.append([low, high])
        return values, intervals
    # Quantile: noisy max over a grid of candidates, per group (disjoint groups).
    step = (high - low) / (_QUANTILE_CANDIDATES - 1)
    candidates = [low + i * step for i in range(_QUANTILE_CANDIDATES)]
    values = []
    for i in range(cells.height):
        if groups:
            key = {g: cells.get_column(g)[i] for g in groups}
            part = data.filter(pl.all_horizontal(pl.col(g) == v for g, v in key.items()))
        else:
            part = data
        picked = noisy_quantile(
            part.get_column(f"__c_{agg.column}").to_list(), candidates, agg.quantile, m, share
        )
        values.append(round(picked, 4))
    return values, [None] * len(values)
