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

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.anonymize._generalize import Generalized, Scheme
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    DistinctLDiversity,
    KAnonymity,
    PrivacyModel,
    violating_classes,
)
from custodes.anonymize._objectives import Objective
from custodes.anonymize._rollup import Classes, Rollup
from custodes.errors import InvalidInputError, SettingError
from custodes.summary import SensitiveHistogram, Summary

__all__ = ["Accept", "SearchResult", "optimal_generalization"]

Accept = Callable[["Generalized", npt.NDArray[np.bool_]], bool]
"""A further constraint on a transformation: its classes and the classes it suppresses."""


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
    """True when the search proved no other transformation has a lower objective."""
    objective: str = "loss"
    objective_value: float = 0.0


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
) -> SearchResult:
    """The transformation with the least Loss that meets every model within the limit.

    Lattices of up to ``max_nodes`` transformations are searched exactly;
    larger ones by a heuristic (greedy generalization, then local improvement)
    that stops after ``time_limit`` seconds and reports ``optimal=False``.

    ``accept`` is a further constraint (the mosaic check): asked only of a
    transformation that meets the models and would be the best so far, so the
    result is the least-loss transformation that also passes it.
    """
    metric = metric or LossMetric()
    objective = objective or Objective("loss", metric)
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

    size = math.prod(hi - lo + 1 for lo, hi in zip(lows, highs, strict=True))
    if size > max_nodes:
        found = _heuristic(
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
        if accept is not None and not accept(found.generalized, found.suppressed_classes):
            raise InvalidInputError(
                f"the lattice ({size:,} transformations) is too large for an exact search, and "
                "the best transformation found breaks the mosaic check; fix levels "
                "(min/max levels) to narrow the search."
            )
        return found
    nodes = np.array(
        list(itertools.product(*(range(lo, hi + 1) for lo, hi in zip(lows, highs, strict=True)))),
        dtype=np.int64,
    ).reshape(-1, len(schemes))
    bounds = objective.lower_bounds(summary, schemes, nodes)
    order = np.lexsort((nodes.sum(axis=1), bounds))
    limit = math.floor(suppression_limit * summary.rows + 1e-9)
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
    known = np.zeros(len(nodes), dtype=np.int8)  # 1 feasible, -1 not, 0 unknown
    relaxed = np.zeros(len(nodes), dtype=np.int8)  # the same for the floor alone
    # Nodes are in lexicographic order: a node's index is its mixed-radix number.
    spans = [hi - lo + 1 for lo, hi in zip(lows, highs, strict=True)]
    strides = np.cumprod([1, *spans[:0:-1]], dtype=np.int64)[::-1]
    step = strides.tolist()  # a level up in column j moves a node's index this far
    checked = 0

    results: dict[int, tuple[Classes, npt.NDArray[np.bool_], int]] = {}
    room = 256 << 20  # bytes the results may still take
    visited: set[int] = set()

    # at_most[j][v]: the nodes whose level j is at most v (and at_least likewise).
    at_most = [[nodes[:, j] <= v for v in range(hi + 1)] for j, hi in enumerate(highs)]
    at_least = [[nodes[:, j] >= v for v in range(hi + 1)] for j, hi in enumerate(highs)]

    def below(i: int) -> npt.NDArray[np.bool_]:
        out = np.ones(len(nodes), dtype=bool)
        for j, v in enumerate(nodes[i]):
            out &= at_most[j][v]
        return out

    def above(i: int) -> npt.NDArray[np.bool_]:
        out = np.ones(len(nodes), dtype=bool)
        for j, v in enumerate(nodes[i]):
            out &= at_least[j][v]
        return out

    def evaluate(i: int) -> tuple[Classes, npt.NDArray[np.bool_], int]:
        nonlocal checked, room
        if i in results:
            return results[i]
        classes = rollup.classes(tuple(nodes[i].tolist()))
        visited.add(i)
        checked = len(visited)
        small = classes.sizes < floor
        records = int(classes.sizes[small].sum())
        if records > limit:  # ruled out by the floor alone: no model needs checking
            lower = below(i)
            known[lower] = -1
            relaxed[lower] = -1
            suppressed = small
        else:
            if relaxed[i] != 1:  # else every node above is marked already
                relaxed[above(i)] = 1
            suppressed = _violations(summary, rollup, classes, models)
            records = int(classes.sizes[suppressed].sum())
            if monotone:  # feasibility is inherited up and down the lattice
                if records <= limit:
                    known[above(i)] = 1
                else:
                    known[below(i)] = -1
        if room > 0:
            results[i] = (classes, suppressed, records)
            room -= classes.nbytes() + suppressed.nbytes
        return classes, suppressed, records

    def probe_chain(i: int, state: npt.NDArray[np.int8]) -> None:
        """Binary search the chain from node i to the top for the first feasible node.

        ``state`` is ``known`` (when the models are monotone) or ``relaxed``
        (the floor alone, which is): either way, nodes found infeasible mark
        every node below them. Node i itself need not have been evaluated: the
        highest infeasible node found on the chain rules out i with all the
        other nodes below it, and costs far less (fewer classes) than i.
        """
        chain = [i]
        left = [high - level for high, level in zip(highs, nodes[i].tolist(), strict=True)]
        while left and (most := max(left)) > 0:  # up the column with the most levels left
            j = left.index(most)
            left[j] -= 1
            chain.append(chain[-1] + step[j])
        lo, hi = -1, len(chain) - 1
        if state[chain[hi]] == 0:
            evaluate(chain[hi])
        if state[chain[hi]] == -1:
            return
        while hi - lo > 1:
            # Three quarters up rather than half: higher nodes have fewer classes, and
            # one found infeasible rules out more below it.
            mid = min(hi - 1, lo + 3 * (hi - lo) // 4)
            if state[chain[mid]] == 0:
                evaluate(chain[mid])
            if state[chain[mid]] == 1:
                hi = mid
            else:
                lo = mid

    rejected = 0
    best: tuple[float, int, tuple[int, ...]] | None = None
    best_result: tuple[Generalized, npt.NDArray[np.bool_], npt.NDArray[np.float64], int] | None
    best_result = None
    for position, index in enumerate(order):
        if best is not None and bounds[index] > best[0] + 1e-12:
            break
        if progress is not None:
            progress(position + 1, len(order))
        if monotone and known[index] == 0:  # a chain above may rule it out cheaper
            probe_chain(int(index), known)
        if known[index] == -1:
            continue
        classes, suppressed, records = evaluate(int(index))
        if records > limit:
            if not monotone and relaxed[index] == -1:
                probe_chain(int(index), relaxed)
            continue
        levels = tuple(int(x) for x in nodes[index])
        generalized = rollup.generalized(classes)
        score = objective.value(summary, schemes, generalized, suppressed)
        candidate = (round(score, 12), sum(levels), levels)
        if best is None or candidate < best:
            if accept is not None and not accept(generalized, suppressed):
                rejected += 1
                continue
            best = candidate
            per_column = metric.per_column(generalized, schemes, suppressed, leaves)
            best_result = (generalized, suppressed, per_column, records)
    if (best is None or best_result is None) and rejected:
        raise InvalidInputError(
            f"no transformation meets the privacy models and the mosaic check: {rejected:,} "
            "met the models but combined with what the recipient holds break the policy; "
            "release fewer quasi-identifiers or sensitive columns, or to another recipient."
        )
    if (best is None or best_result is None) and len(order) == 1:
        fixed = ", ".join(f"{s.name}={lv}" for s, lv in zip(schemes, nodes[0], strict=True))
        raise InvalidInputError(
            f"the transformation {fixed} does not meet "
            + ", ".join(m.describe() for m in models)
            + f" on this table within the suppression limit ({suppression_limit:.2%}, "
            f"{limit:,} records): the table differs too much from the one it was made for."
        )
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
        objective=objective.name,
        objective_value=best[0],
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
    deadline = time.monotonic() + time_limit
    limit = math.floor(suppression_limit * summary.rows + 1e-9)
    leaves = [s.leaves for s in schemes]
    rollup = Rollup(summary, schemes, lows, class_of=any(m.sensitive for m in models))
    seen: dict[tuple[int, ...], tuple[int, float, Generalized, npt.NDArray[np.bool_]]] = {}

    def evaluate(levels: tuple[int, ...]) -> tuple[int, float, Generalized, npt.NDArray[np.bool_]]:
        if levels not in seen:
            classes = rollup.classes(levels)
            suppressed = _violations(summary, rollup, classes, models)
            records = int(classes.sizes[suppressed].sum())
            generalized = rollup.generalized(classes)
            score = objective.value(summary, schemes, generalized, suppressed)
            seen[levels] = (records, score, generalized, suppressed)
        return seen[levels]

    current = tuple(lows)
    # Ascend: one column up at a time, the step that frees most records per unit of loss.
    while evaluate(current)[0] > limit:
        steps = [
            tuple(lv + (j == i) for j, lv in enumerate(current))
            for i in range(len(current))
            if current[i] < highs[i]
        ]
        if not steps:
            raise InvalidInputError(
                "no transformation meets the privacy models within the suppression limit "
                f"({suppression_limit:.2%}); raise the limit, allow higher levels, or relax "
                "the models."
            )
        here = evaluate(current)

        def gain(step: tuple[int, ...], here: tuple[int, float, object, object] = here) -> float:
            # Records no longer suppressed per unit of loss the step costs.
            records, loss = evaluate(step)[:2]
            return (here[0] - records) / max(loss - here[1], 1e-9)

        current = max(steps, key=gain)
    # Descend and swap: feasible neighbours with lower loss, until none or time is up.
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        neighbours = []
        for i in range(len(current)):
            if current[i] > lows[i]:
                down = tuple(lv - (j == i) for j, lv in enumerate(current))
                neighbours.append(down)
                for k in range(len(current)):
                    if k != i and down[k] < highs[k]:
                        neighbours.append(tuple(lv + (j == k) for j, lv in enumerate(down)))
        best_loss = evaluate(current)[1]
        for candidate in neighbours:
            if time.monotonic() >= deadline:
                break
            records, loss, _, _ = evaluate(candidate)
            if records <= limit and loss < best_loss - 1e-12:
                current, best_loss, improved = candidate, loss, True
    records, score, generalized, suppressed = evaluate(current)
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
