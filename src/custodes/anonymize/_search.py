"""The optimal full-domain generalization: a best-first search of the lattice.

Every node of the lattice (one level per quasi-identifier) has a lower bound
on its Loss that ignores suppression: the generalization cost alone, which
only grows with the levels and needs no grouping. Nodes are evaluated in
order of that bound; once the bound of the next node exceeds the best Loss
found, no remaining node can beat it, so the result is the proven optimum.
Ties in Loss go to the transformation with the smaller sum of levels (as in
ARX), then to the lexicographically smaller one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.anonymize._generalize import Generalized, Scheme, apply
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import PrivacyModel
from custodes.errors import InvalidInputError, SettingError
from custodes.summary import Summary

__all__ = ["SearchResult", "optimal_generalization"]


@dataclass(frozen=True)
class SearchResult:
    """The optimum found, and how the search went."""

    levels: tuple[int, ...]
    loss: float
    loss_per_column: tuple[float, ...]
    suppressed_records: int
    generalized: Generalized
    suppressed_classes: npt.NDArray[np.bool_]
    nodes_in_lattice: int
    nodes_checked: int
    optimal: bool
    """True when the search proved no other transformation has a lower Loss."""


def _lower_bounds(
    summary: Summary, schemes: Sequence[Scheme], metric: LossMetric, nodes: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Loss of each node if nothing were suppressed: a bound that needs no grouping."""
    rows = float(summary.rows)
    per_column = np.zeros(nodes.shape)
    for j, scheme in enumerate(schemes):
        records_per_code = np.bincount(summary.codes[:, j], weights=summary.counts)
        low = metric.g_factor * rows / scheme.leaves
        by_level = []
        for level in range(scheme.height + 1):
            share = scheme.shares[level][scheme.nodes[level]]
            cost = metric.g_factor * float((records_per_code * share).sum())
            by_level.append(max(0.0, (cost - low) / (rows - low)) if rows > low else 0.0)
        per_column[:, j] = np.asarray(by_level)[nodes[:, j]]
    return np.asarray(np.exp(np.log1p(per_column).mean(axis=1)) - 1.0)


def optimal_generalization(
    summary: Summary,
    schemes: Sequence[Scheme],
    models: Sequence[PrivacyModel],
    *,
    suppression_limit: float = 0.0,
    metric: LossMetric | None = None,
    min_levels: Sequence[int] | None = None,
    max_levels: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """The transformation with the least Loss that meets every model within the limit."""
    metric = metric or LossMetric()
    if not models:
        raise SettingError("give at least one privacy model (e.g. k=5).")
    if not 0.0 <= suppression_limit <= 1.0:
        raise SettingError(
            f"the suppression limit is {suppression_limit}; give a fraction in [0, 1], e.g. 0.02."
        )
    heights = [s.height for s in schemes]
    lows = list(min_levels) if min_levels is not None else [0] * len(schemes)
    highs = list(max_levels) if max_levels is not None else heights
    for s, lo, hi, top in zip(schemes, lows, highs, heights, strict=True):
        if not 0 <= lo <= hi <= top:
            raise SettingError(
                f"levels for {s.name!r} must satisfy 0 <= min <= max <= {top}; got {lo}..{hi}."
            )
    for model in models:
        if model.sensitive is not None and model.sensitive not in summary.sensitive:
            raise InvalidInputError(
                f"{model.describe()} needs {model.sensitive!r} as a sensitive attribute."
            )

    nodes = np.array(
        list(itertools.product(*(range(lo, hi + 1) for lo, hi in zip(lows, highs, strict=True)))),
        dtype=np.int64,
    ).reshape(-1, len(schemes))
    bounds = _lower_bounds(summary, schemes, metric, nodes)
    order = np.lexsort((nodes.sum(axis=1), bounds))
    limit = math.floor(suppression_limit * summary.rows + 1e-9)
    leaves = [s.leaves for s in schemes]

    best: tuple[float, int, tuple[int, ...]] | None = None
    best_result: tuple[Generalized, npt.NDArray[np.bool_], npt.NDArray[np.float64], int] | None
    best_result = None
    checked = 0
    for position, index in enumerate(order):
        if best is not None and bounds[index] > best[0] + 1e-12:
            break
        levels = tuple(int(x) for x in nodes[index])
        generalized = apply(summary, schemes, levels)
        checked += 1
        if progress is not None:
            progress(position + 1, len(order))
        suppressed = np.zeros(generalized.classes, dtype=bool)
        for model in models:
            hist = None
            if model.sensitive is not None:
                hist = generalized.histogram(summary.sensitive[model.sensitive])
            suppressed |= model.violations(generalized.sizes, hist)
        records = int(generalized.sizes[suppressed].sum())
        if records > limit:
            continue
        per_column = metric.per_column(generalized, schemes, suppressed, leaves)
        loss = metric.aggregate(per_column)
        candidate = (round(loss, 12), sum(levels), levels)
        if best is None or candidate < best:
            best = candidate
            best_result = (generalized, suppressed, per_column, records)
    if best is None or best_result is None:
        raise InvalidInputError(
            "no transformation meets the privacy models within the suppression limit "
            f"({suppression_limit:.2%}); raise the limit, allow higher levels, or relax "
            "the models."
        )
    generalized, suppressed, per_column, records = best_result
    return SearchResult(
        levels=best[2],
        loss=float(metric.aggregate(per_column)),
        loss_per_column=tuple(float(x) for x in per_column),
        suppressed_records=records,
        generalized=generalized,
        suppressed_classes=suppressed,
        nodes_in_lattice=len(order),
        nodes_checked=checked,
        optimal=True,
    )
