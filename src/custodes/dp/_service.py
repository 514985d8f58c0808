"""Differential-privacy query access: budgets per recipient and per dataset, on the ledger.

A recipient may query a dataset once a request for ``dp_query`` access to
it has been released to them. A query's rho is reserved from the
recipient's budget and from the dataset's global ceiling in one transaction
that also appends the ledger entry (query hash, rho, recipient); both rows
are locked first, so concurrent queries can never overspend. The answer is
then computed: the data bounded (at most ``max_contributions`` rows per
person, values clamped to declared bounds), aggregated exactly by Polars, and
released through OpenDP's mechanisms.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
from scipy.stats import norm
from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.dp._mechanisms import (
    Z95,
    epsilon_of,
    noisy_counts,
    noisy_quantile,
    noisy_sums,
    rho_of_epsilon,
)
from custodes.dp._query import Query, parse_query
from custodes.errors import ForbiddenError, RefusedError, SettingError
from custodes.governance._service import Governance
from custodes.io import read_table
from custodes.store import DPBudget, DPConfig, Request

__all__ = ["GLOBAL", "PrivateQueries", "parse_rho"]

GLOBAL = "*"
"""The recipient name of a dataset's global ceiling."""
_QUANTILE_CANDIDATES = 101


def parse_rho(text: str | Fraction | float) -> Fraction:
    """A budget in rho-zCDP: a fraction ("1/4"), decimal ("0.25") or number, >= 0."""
    try:
        value = Fraction(str(text)) if not isinstance(text, Fraction) else text
    except (ValueError, ZeroDivisionError):
        raise SettingError(f"rho {text!r} is not a number; give e.g. 0.1 or 1/10.") from None
    if value < 0:
        raise SettingError(f"rho {text!r} is negative.")
    return value


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


class PrivateQueries(Governance):
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

    def set_budget(self, dataset: str, rho: str | Fraction, recipient: str = GLOBAL) -> None:
        """Set a recipient's budget (or the dataset's global ceiling, recipient '*')."""
        total = parse_rho(rho)
        with self._change() as session:
            self._need(session, "steward", "admin")
            data = self._dataset(session, dataset)
            row = self._budget_row(session, dataset, recipient, data.grade)
            if total < Fraction(row.spent):
                raise RefusedError(
                    f"{recipient}'s budget on {dataset} cannot go below what is spent "
                    f"({row.spent})."
                )
            row.total = str(total)
            self._record(
                session, "dp.budget_set", dataset, {"recipient": recipient, "rho": _exact(total)}
            )

    def _budget_row(self, session: Session, dataset: str, recipient: str, grade: str) -> DPBudget:
        row = session.execute(
            select(DPBudget)
            .where(DPBudget.dataset == dataset, DPBudget.recipient == recipient)
            .with_for_update()
        ).scalar_one_or_none()
        if row is None:
            table = (
                self.policy.dp_dataset_rho if recipient == GLOBAL else self.policy.dp_recipient_rho
            )
            row = DPBudget(
                dataset=dataset, recipient=recipient, total=table.get(grade, "0"), spent="0"
            )
            session.add(row)
            session.flush()
        return row

    def budget(self, dataset: str) -> dict[str, Any]:
        """Every budget on a dataset: total, spent, remaining (rho), and epsilon at delta."""
        delta = self.policy.dp_delta
        with self._change() as session:
            self._me(session)
            self._dataset(session, dataset)
            rows = session.execute(
                select(DPBudget).where(DPBudget.dataset == dataset).order_by(DPBudget.recipient)
            ).scalars()
            out = {}
            for row in rows:
                total, spent = Fraction(row.total), Fraction(row.spent)
                out["global" if row.recipient == GLOBAL else row.recipient] = {
                    "total_rho": str(total),
                    "spent_rho": str(spent),
                    "remaining_rho": str(total - spent),
                    "remaining_epsilon": round(epsilon_of(total - spent, delta), 6)
                    if total > spent
                    else 0.0,
                }
            return {"dataset": dataset, "delta": delta, "budgets": out}

    # ------------------------------------------------------------ queries

    def query(
        self,
        sql: str,
        *,
        rho: str | Fraction | None = None,
        epsilon: float | None = None,
    ) -> dict[str, Any]:
        """Answer an aggregate query with differential privacy, paying from both budgets."""
        if (rho is None) == (epsilon is None):
            raise SettingError("give the privacy loss to spend: rho or epsilon (one of them).")
        delta = self.policy.dp_delta
        spend = parse_rho(rho) if rho is not None else rho_of_epsilon(float(epsilon or 0), delta)
        if spend <= 0:
            raise SettingError("a query must spend some privacy loss (rho > 0).")
        query = parse_query(sql)
        digest = text_sha256(query.text)
        with self._change() as session:
            self._need(session, "requester")
            data = self._dataset(session, query.dataset)
            released = session.execute(
                select(Request.details).where(
                    Request.dataset == query.dataset,
                    Request.requester == self.actor,
                    Request.state.in_(("released", "monitoring")),
                )
            ).all()
            granted = [d for (d,) in released if json.loads(d).get("sharing_model") == "dp_query"]
            if not granted:
                raise ForbiddenError(
                    f"{self.actor!r} has no released request for DP query access to "
                    f"{query.dataset!r}; file one (sharing model dp_query)."
                )
            config_row = session.get(DPConfig, query.dataset)
            if config_row is None:
                raise RefusedError(
                    f"{query.dataset!r} is not set up for DP queries; a steward runs "
                    "`custodes dp configure`."
                )
            config = json.loads(config_row.config)
            _check_query(query, config)
            source = self._checked_source(data)
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
                        f"{spend} ({float(spend):.6g}), remaining {remaining} "
                        f"({float(remaining):.6g}), short by {float(spend - remaining):.6g}."
                    )
            for row in payers:
                row.spent = str(Fraction(row.spent) + spend)
            self._record(
                session,
                "dp.query_answered",
                query.dataset,
                {
                    "query_sha256": digest,
                    "rho": _exact(spend),
                    "epsilon": f"{epsilon_of(spend, delta):.6f}",
                    "delta": f"{delta:g}",
                    "recipient": self.actor,
                },
            )
            remaining_after = Fraction(payers[0].total) - Fraction(payers[0].spent)
        answer = answer_query(query, config, source, spend, delta)
        answer["remaining_rho"] = str(remaining_after)
        answer["remaining_epsilon"] = round(epsilon_of(remaining_after, delta), 6)
        return answer


def _check_query(query: Query, config: Mapping[str, Any]) -> None:
    bounds = config["bounds"]
    for agg in query.aggregates:
        if agg.column is not None and agg.kind != "count" and agg.column not in bounds:
            raise RefusedError(
                f"{agg.label} needs declared bounds for {agg.column!r} (bounds in the DP settings)."
            )
    if config["privacy_unit"] in query.groups:
        raise RefusedError("grouping by the privacy unit would release each person's own figures.")


def _exact(value: Fraction) -> list[int]:
    """A fraction for the ledger: [numerator, denominator] (integers, exact, never a float)."""
    return [value.numerator, value.denominator]


def answer_query(
    query: Query,
    config: Mapping[str, Any],
    source: Path,
    rho: Fraction,
    delta: float,
) -> dict[str, Any]:
    """Bound, aggregate exactly, then release every cell through OpenDP."""
    unit = config["privacy_unit"]
    m = int(config["max_contributions"])
    bounds = config["bounds"]
    public = config["public_groups"]
    needed = sorted(query.columns | {unit})
    data = _bounded(source, needed, unit, m, bounds)
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
        cells = keys.join(exact, on=groups, how="left").fill_null(0)
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
    source: Path, needed: list[str], unit: str, m: int, bounds: Mapping[str, list[float]]
) -> pl.DataFrame:
    """The table's needed columns with at most ``m`` rows per person and clamped copies
    (``__c_<column>``) of the bounded columns; kept in memory between queries of a process
    (again read when the file's size or modification time change)."""
    info = source.stat()
    key = (str(source.resolve()), info.st_mtime_ns, info.st_size, tuple(needed), unit, m,
           json.dumps(bounds, sort_keys=True))  # fmt: skip
    if key not in _FRAMES:
        frame = read_table(source).frame.select(needed)
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
