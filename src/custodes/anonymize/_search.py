"""The optimal full-domain generalization: a best-first search of the lattice.

Every node of the lattice (one level per quasi-identifier) has a lower bound
on its Loss that ignores suppression: the generalization cost alone, which
only grows with the levels and needs no grouping. Nodes are evaluated in
order of that bound; once the bound of the next node exceeds the best Loss
found, no remaining node can beat it, so the result is the proven optimum.
Ties in Loss go to the transformation with the smaller sum of levels (as in
ARX), then to the lexicographically smaller one.

Most nodes below the optimum fail the models, and proving that is most of
the work. When the models are monotone (a node that meets them passes that on
to every node above it, and one that fails to every node below), a node not
yet known is not evaluated first: the chain from it to the top is binary
searched for its highest failing node, which rules out the node with every
other node below it at the cost of a node with far fewer classes. Each node's
classes are rolled up from a node below it already computed
(:mod:`custodes.anonymize._rollup`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from custodes.anonymize._generalize import Generalized, Scheme
from custodes.anonymize._lattice import (
    Lattice,
    SearchResult,
    check_search,
    climb,
    no_result,
    suppression_records,
    walk,
)
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    DistinctLDiversity,
    KAnonymity,
    PrivacyModel,
    violating_classes,
)
from custodes.anonymize._objectives import Objective
from custodes.anonymize._rollup import Classes, Rollup
from custodes.anonymize._spill import (
    IN_PARTS,
    PART_BUDGET,
    check_spillable,
    fits_in_memory,
    spillable,
    spilled_generalization,
)
from custodes.errors import InvalidInputError
from custodes.summary import SensitiveHistogram, Summary

__all__ = ["Accept", "SearchResult", "optimal_generalization"]

Accept = Callable[["Generalized", npt.NDArray[np.bool_]], bool]
"""A further constraint on a transformation: its classes and the classes it suppresses."""


def _violations(
    summary: Summary, rollup: Rollup, classes: Classes, models: Sequence[PrivacyModel]
) -> npt.NDArray[np.bool_]:
    generalized: list[Generalized] = []  # made when a model first asks for a histogram

    def histogram(name: str) -> SensitiveHistogram:
        if not generalized:
            generalized.append(rollup.generalized(classes))
        return generalized[0].histogram(summary.sensitive[name])

    return violating_classes(classes.sizes, models, histogram)


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
    max_nodes: int = 100_000,
    time_limit: float = 60.0,
    objective: Objective | None = None,
    accept: Accept | None = None,
    memory_limit: int | None = None,
    spill_directory: str | Path | None = None,
) -> SearchResult:
    """The transformation with the least Loss that meets every model within the limit.

    Lattices of up to ``max_nodes`` transformations are searched exactly;
    larger ones by a heuristic (greedy generalization, then local improvement)
    that stops after ``time_limit`` seconds and reports ``optimal=False``.

    ``accept`` is a further constraint (the mosaic check): asked only of a
    transformation that meets the models and would be the best so far, so the
    result is the least-loss transformation that also passes it.

    With ``memory_limit`` (bytes), a summary too large to search within it in memory
    is searched in parts on disk, under ``spill_directory`` (default: the system's
    temporary folder): the same result, for k-anonymity only (see
    :mod:`custodes.anonymize._spill`). A summary of more than
    :data:`~custodes.anonymize._spill.IN_PARTS` classes is searched so whatever the
    limit, when the models allow it: the parts' roll-ups are faster.
    """
    metric = metric or LossMetric()
    objective = objective or Objective("loss", metric)
    lows, highs = check_search(schemes, models, suppression_limit, min_levels, max_levels)
    for model in models:
        if model.sensitive is not None and model.sensitive not in summary.sensitive:
            raise InvalidInputError(
                f"{model.describe()} needs {model.sensitive!r} as a sensitive attribute."
            )
    held = False
    if summary.classes > IN_PARTS and spillable(models, objective, mosaic=accept is not None):
        # In parts, held in memory when it would hold the whole search: faster.
        held = memory_limit is None or fits_in_memory(summary.classes, memory_limit)
        memory_limit = min(memory_limit or PART_BUDGET, PART_BUDGET)
    if memory_limit is not None and not fits_in_memory(summary.classes, memory_limit):
        check_spillable(models, objective, mosaic=accept is not None)
        return spilled_generalization(
            summary,
            schemes,
            models,
            memory_limit=memory_limit,
            suppression_limit=suppression_limit,
            metric=metric,
            min_levels=lows,
            max_levels=highs,
            progress=progress,
            max_nodes=max_nodes,
            time_limit=time_limit,
            objective=objective,
            directory=spill_directory,
            held=held,
        )

    size = math.prod(hi - lo + 1 for lo, hi in zip(lows, highs, strict=True))
    if size > max_nodes:
        guessed = _heuristic(
            summary,
            schemes,
            models,
            metric,
            objective,
            lows,
            highs,
            suppression_limit,
            size,
            time_limit,
        )
        if accept is not None and not accept(guessed.generalized, guessed.suppressed_classes):
            raise InvalidInputError(
                f"the lattice ({size:,} transformations) is too large for an exact search, and "
                "the best transformation found breaks the mosaic check; fix levels "
                "(min/max levels) to narrow the search."
            )
        return guessed
    lattice = Lattice(lows, highs)
    bounds = objective.lower_bounds(summary, schemes, lattice.nodes)
    limit = suppression_records(suppression_limit, summary.rows)
    leaves = [s.leaves for s in schemes]

    rollup = Rollup(summary, schemes, lows, class_of=any(m.sensitive for m in models))
    monotone = all(isinstance(m, KAnonymity | DistinctLDiversity) for m in models)
    # Classes smaller than the floor violate whatever their values; the records
    # in them only shrink as the levels rise, so too many of them at a node
    # rule out the node and every node below it (for any model).
    floor = max(
        m.minimal_class_size(summary.sensitive[m.sensitive] if m.sensitive else None)
        for m in models
    )
    results: dict[int, tuple[Classes, npt.NDArray[np.bool_], int]] = {}
    room = 256 << 20  # bytes the results may still take

    def evaluate(i: int) -> tuple[int, bool]:
        nonlocal room
        classes = rollup.classes(lattice.levels(i))
        small = classes.sizes < floor
        records = int(classes.sizes[small].sum())
        floored = records > limit  # ruled out by the floor alone: no model needs checking
        suppressed = small
        if not floored:
            suppressed = _violations(summary, rollup, classes, models)
            records = int(classes.sizes[suppressed].sum())
        if room > 0:
            results[i] = (classes, suppressed, records)
            room -= classes.nbytes() + suppressed.nbytes
        return records, floored

    scored: list[tuple[Generalized, npt.NDArray[np.bool_], int]] = []  # the last node scored

    def score(i: int) -> float:
        if i in results:
            classes, suppressed, records = results[i]
        else:  # not held: once more (it met the floor, so the models are asked)
            classes = rollup.classes(lattice.levels(i))
            suppressed = _violations(summary, rollup, classes, models)
            records = int(classes.sizes[suppressed].sum())
        generalized = rollup.generalized(classes)
        scored[:] = [(generalized, suppressed, records)]
        return objective.value(summary, schemes, generalized, suppressed)

    best_result: list[tuple[Generalized, npt.NDArray[np.bool_], npt.NDArray[np.float64], int]]
    best_result = []

    def keep(i: int) -> None:
        generalized, suppressed, records = scored[0]
        per_column = metric.per_column(generalized, schemes, suppressed, leaves)
        best_result[:] = [(generalized, suppressed, per_column, records)]

    found = walk(
        lattice,
        bounds,
        limit,
        monotone,
        evaluate,
        score,
        accept=None if accept is None else (lambda i: accept(scored[0][0], scored[0][1])),
        keep=keep,
        progress=progress,
    )
    if found.key is None or not best_result:
        raise no_result(lattice, schemes, models, suppression_limit, limit, found.rejected)
    generalized, suppressed, per_column, records = best_result[0]
    return SearchResult(
        levels=found.key[2],
        loss=float(metric.aggregate(per_column)),
        loss_per_column=tuple(float(x) for x in per_column),
        suppressed_records=records,
        generalized=generalized,
        suppressed_classes=suppressed,
        nodes_in_lattice=len(lattice),
        nodes_checked=found.checked,
        optimal=True,
        objective=objective.name,
        objective_value=found.key[0],
    )


def _heuristic(
    summary: Summary,
    schemes: Sequence[Scheme],
    models: Sequence[PrivacyModel],
    metric: LossMetric,
    objective: Objective,
    lows: list[int],
    highs: list[int],
    suppression_limit: float,
    size: int,
    time_limit: float,
) -> SearchResult:
    """Greedy generalization to a feasible node, then local moves that lower the Loss."""
    limit = suppression_records(suppression_limit, summary.rows)
    leaves = [s.leaves for s in schemes]
    rollup = Rollup(summary, schemes, lows, class_of=any(m.sensitive for m in models))
    seen: dict[tuple[int, ...], tuple[int, float, Generalized, npt.NDArray[np.bool_]]] = {}

    def evaluate(levels: tuple[int, ...]) -> tuple[int, float]:
        if levels not in seen:
            classes = rollup.classes(levels)
            suppressed = _violations(summary, rollup, classes, models)
            records = int(classes.sizes[suppressed].sum())
            generalized = rollup.generalized(classes)
            score = objective.value(summary, schemes, generalized, suppressed)
            seen[levels] = (records, score, generalized, suppressed)
        return seen[levels][:2]

    current = climb(evaluate, lows, highs, limit, suppression_limit, time_limit)
    records, score, generalized, suppressed = seen[current]
    per_column = metric.per_column(generalized, schemes, suppressed, leaves)
    return SearchResult(
        levels=current,
        loss=metric.aggregate(per_column),
        loss_per_column=tuple(float(x) for x in per_column),
        suppressed_records=records,
        generalized=generalized,
        suppressed_classes=suppressed,
        nodes_in_lattice=size,
        nodes_checked=len(seen),
        optimal=False,
        objective=objective.name,
        objective_value=score,
    )
