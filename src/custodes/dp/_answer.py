"""Answering one query: bound the rows, aggregate exactly in the engine, add OpenDP noise.

The engine bounds the data (at most ``max_contributions`` rows per person,
values clamped to declared bounds) and computes exact counts, sums and the
values of each group; nothing here touches the data itself. The bounded
table is kept in the caller's cache (the workspace's, a bounded LRU) and read
again when the file's size or modification time change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from custodes._cache import LRU
from custodes.dp._budget import Budget
from custodes.dp._mechanisms import half_width, noisy_counts, noisy_quantile, noisy_sums
from custodes.dp._plan import Plan, Planned
from custodes.dp._query import Query
from custodes.engines._dp import Cells, DPOps
from custodes.errors import InternalError
from custodes.io import TableSource, read_table

__all__ = ["BOUNDED_TABLES", "Bounded", "answer_query", "bounded"]

BOUNDED_TABLES = 4
"""How many bounded tables a workspace keeps between queries (least recently used dropped)."""

Bounded = LRU[tuple[Any, ...], TableSource]
"""A cache of bounded tables (the workspace owns one)."""


def bounded(
    engine: DPOps,
    cache: Bounded,
    source: Path,
    query: Query,
    config: Mapping[str, Any],
    has_header: bool | None = None,
) -> TableSource:
    """The columns ``query`` needs of the table at ``source``, bounded by the engine (see
    :meth:`custodes.engines.DPOps.dp_bound`); from ``cache`` unless the file changed."""
    unit = config["privacy_unit"]
    m = int(config["max_contributions"])
    bounds = config["bounds"]
    needed = sorted(query.columns | ({unit} if unit is not None else set()))
    info = source.stat()
    key = (str(source.resolve()), info.st_mtime_ns, info.st_size, tuple(needed), unit, m,
           json.dumps(bounds, sort_keys=True), has_header)  # fmt: skip

    def make() -> TableSource:
        from custodes.detect import header_judge  # judged as when it was registered

        opened = read_table(source, has_header=has_header, header_judge=header_judge)
        return engine.dp_bound(opened, needed, unit, m, bounds)

    return cache.get_or_make(key, make)


def answer_query(
    plan: Plan, table: TableSource, engine: DPOps, *, dry: bool = False
) -> dict[str, Any]:
    """Aggregate the bounded ``table`` exactly, then release every cell through OpenDP as
    ``plan`` says (see :func:`~custodes.dp._plan.plan_query`).

    ``table``: from :func:`bounded`. ``dry``: filter and group none of the
    rows and release nothing (a check of the query against the data's types,
    before anything is spent).
    """
    query, share = plan.query, plan.share
    m = int(plan.config["max_contributions"])
    groups = list(query.groups)
    sums = sorted(
        {a.column for a in query.aggregates if a.kind in ("sum", "avg") and a.column is not None}
    )
    limit = 0 if dry else None
    cells = engine.dp_cells(table, groups, sums, query.where, plan.domain, limit=limit)
    if dry:
        return {}
    if plan.threshold is not None:
        counts, _ = noisy_counts(cells.counts, m, share.rho)
        cells = cells.select([c >= plan.threshold for c in counts])
    columns = [*groups]
    results: dict[str, list[Any]] = {g: [k[i] for k in cells.keys] for i, g in enumerate(groups)}
    for planned in plan.releases:
        label = planned.aggregate.label
        columns.append(label)
        results[label], results[f"{label} 95% interval"] = _release(
            planned, cells, table, query, engine, plan.config["bounds"], m, share
        )
    rows = []
    for i in range(len(cells)):
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
        "rho_spent": plan.charge.exact(),
        "epsilon_spent": plan.charge.epsilon_shown(plan.delta),
        "delta": plan.delta,
        "aggregates": [planned.shown() for planned in plan.releases],
        "notes": plan.notes(),
    }


def _release(
    planned: Planned,
    cells: Cells,
    table: TableSource,
    query: Query,
    engine: DPOps,
    bounds: Mapping[str, list[float]],
    m: int,
    share: Budget,
) -> tuple[list[Any], list[Any]]:
    """One aggregate's released values and 95 % intervals, at the scales ``planned`` fitted."""
    agg, counts_exact = planned.aggregate, cells.counts
    if agg.kind == "count":
        noisy, scale = noisy_counts(counts_exact, m, share.rho)
        _same(scale, planned, "count")
        return noisy, [planned.interval(v) for v in noisy]
    assert agg.column is not None
    low, high = bounds[agg.column]
    reach = m * max(abs(low), abs(high))
    if agg.kind == "sum":
        noisy_s, scale = noisy_sums(cells.sums[agg.column], reach, share.rho)
        _same(scale, planned, "sum")
        return [round(v, 4) for v in noisy_s], [planned.interval(v) for v in noisy_s]
    if agg.kind == "avg":
        noisy_s, s_scale = noisy_sums(cells.sums[agg.column], reach, share.rho)
        noisy_n, n_scale = noisy_counts(counts_exact, m, share.rho)
        _same(s_scale, planned, "sum")
        _same(n_scale, planned, "count")
        values: list[float | None] = []
        intervals: list[list[float]] = []
        for s, n in zip(noisy_s, noisy_n, strict=True):
            n_low, n_high = n - half_width(n_scale), n + half_width(n_scale)
            s_low, s_high = s - half_width(s_scale), s + half_width(s_scale)
            value = min(max(s / n, low), high) if n > 0 else None
            values.append(None if value is None else round(value, 4))
            if n_low > 0:
                ends = [s_low / n_low, s_low / n_high, s_high / n_low, s_high / n_high]
                intervals.append([round(max(min(ends), low), 4), round(min(max(ends), high), 4)])
            else:
                intervals.append([low, high])
        return values, intervals
    # Quantile: noisy max over the planned candidates, per group (disjoint groups).
    parts = engine.dp_values(table, agg.column, cells.groups, cells.keys, query.where)
    assert agg.quantile is not None
    picked = [
        noisy_quantile(part, planned.candidates, agg.quantile, m, share.rho) for part in parts
    ]
    return [round(v, 4) for v in picked], [None] * len(picked)


def _same(scale: float, planned: Planned, statistic: str) -> None:
    """The noise was released at the scale the plan (and so the estimate) showed."""
    if scale != planned.scales[statistic]:  # pragma: no cover (both fit the same way)
        raise InternalError(
            f"{planned.aggregate.label}: the {statistic} was released at scale {scale}, not the "
            f"planned {planned.scales[statistic]}; nothing was spent. This is a bug in custodes: "
            "please report it."
        )
