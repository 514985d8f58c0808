"""Answering one query: bound the rows, aggregate exactly in the engine, add OpenDP noise.

The engine bounds the data (at most ``max_contributions`` rows per person,
values clamped to declared bounds) and computes exact counts, sums and the
values of each group; nothing here touches the data itself. The bounded
table is kept in the caller's cache (the workspace's, a bounded LRU) and read
again when the file's size or modification time change.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scipy.stats import norm

from custodes._cache import LRU
from custodes.dp._budget import Budget
from custodes.dp._mechanisms import Z95, noisy_counts, noisy_quantile, noisy_sums
from custodes.dp._query import Aggregate, Query
from custodes.engines._dp import Cells, DPOps
from custodes.io import TableSource, read_table

__all__ = ["BOUNDED_TABLES", "Bounded", "answer_query", "bounded"]

BOUNDED_TABLES = 4
"""How many bounded tables a workspace keeps between queries (least recently used dropped)."""
_QUANTILE_CANDIDATES = 101

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
    query: Query,
    config: Mapping[str, Any],
    table: TableSource,
    rho: Budget,
    delta: float,
    engine: DPOps,
    *,
    dry: bool = False,
) -> dict[str, Any]:
    """Aggregate the bounded ``table`` exactly, then release every cell through OpenDP.

    ``table``: from :func:`bounded`. ``dry``: filter and group none of the
    rows and release nothing (a check of the query against the data's types,
    before anything is spent).
    """
    unit = config["privacy_unit"]
    m = int(config["max_contributions"])
    bounds = config["bounds"]
    public = config["public_groups"]
    groups = list(query.groups)
    private_groups = [g for g in groups if g not in public]
    releases = sum(2 if a.kind == "avg" else 1 for a in query.aggregates)
    releases += 1 if private_groups else 0
    share = rho.split(releases)
    sums = sorted(
        {a.column for a in query.aggregates if a.kind in ("sum", "avg") and a.column is not None}
    )
    domain = None
    if groups and not private_groups:
        domain = list(itertools.product(*(public[g] for g in groups)))
    cells = engine.dp_cells(table, groups, sums, query.where, domain, limit=0 if dry else None)
    if dry:
        return {}
    per = f"({unit})" if unit is not None else "(each row is one person)"
    notes = [f"at most {m} row(s) per person {per}; values clamped to declared bounds"]
    if private_groups:
        counts, scale = noisy_counts(cells.counts, m, share.rho)
        threshold = m + scale * float(norm.ppf(1 - delta / m))
        cells = cells.select([c >= threshold for c in counts])
        notes.append(
            f"groups of {', '.join(private_groups)} released by DP partition selection "
            f"(threshold {threshold:.1f}, delta {delta:g})"
        )
    columns = [*groups]
    results: dict[str, list[Any]] = {g: [k[i] for k in cells.keys] for i, g in enumerate(groups)}
    for agg in query.aggregates:
        columns.append(agg.label)
        results[agg.label], results[f"{agg.label} 95% interval"] = _release(
            agg, cells, table, query, engine, bounds, m, share
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
        "rho_spent": rho.exact(),
        "epsilon_spent": round(rho.epsilon(delta), 6),
        "delta": delta,
        "notes": notes,
    }


def _release(
    agg: Aggregate,
    cells: Cells,
    table: TableSource,
    query: Query,
    engine: DPOps,
    bounds: Mapping[str, list[float]],
    m: int,
    share: Budget,
) -> tuple[list[Any], list[Any]]:
    counts_exact = cells.counts
    if agg.kind == "count":
        noisy, scale = noisy_counts(counts_exact, m, share.rho)
        half = Z95 * scale
        return noisy, [[round(v - half, 2), round(v + half, 2)] for v in noisy]
    assert agg.column is not None
    low, high = bounds[agg.column]
    reach = m * max(abs(low), abs(high))
    if agg.kind == "sum":
        noisy_s, scale = noisy_sums(cells.sums[agg.column], reach, share.rho)
        half = Z95 * scale
        return [round(v, 4) for v in noisy_s], [
            [round(v - half, 4), round(v + half, 4)] for v in noisy_s
        ]
    if agg.kind == "avg":
        noisy_s, s_scale = noisy_sums(cells.sums[agg.column], reach, share.rho)
        noisy_n, n_scale = noisy_counts(counts_exact, m, share.rho)
        values: list[float | None] = []
        intervals: list[list[float]] = []
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
    parts = engine.dp_values(table, agg.column, cells.groups, cells.keys, query.where)
    assert agg.quantile is not None
    picked = [noisy_quantile(part, candidates, agg.quantile, m, share.rho) for part in parts]
    return [round(v, 4) for v in picked], [None] * len(picked)
