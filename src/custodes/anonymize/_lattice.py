"""The walk of the lattice, whatever computes a transformation's figures.

The search (:mod:`custodes.anonymize._search`) evaluates transformations from
classes in memory, the spilled search (:mod:`custodes.anonymize._spill`) from
classes on disk; both walk the lattice here, so they visit the same nodes in the
same order and find the same optimum.

- :func:`walk`: the exact best-first search. Nodes are taken in order of a lower
  bound of their objective; a node is asked for its suppressed records once
  (``evaluate``), and for its objective (``score``) only when it meets the
  models. When the models are monotone, a node not yet known is first ruled out,
  if it can be, by the highest failing node on its chain to the top, found by a
  binary search; the floor (classes smaller than any model allows) is monotone
  for every model and rules out nodes the same way.
- :func:`climb`: the heuristic for lattices too large to search exactly.
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
from custodes.anonymize._models import PrivacyModel
from custodes.errors import InvalidInputError, SettingError

__all__ = [
    "Best",
    "Lattice",
    "SearchResult",
    "check_search",
    "climb",
    "no_result",
    "suppression_records",
    "walk",
]

Key = tuple[float, int, tuple[int, ...]]
"""How candidates compare: objective (rounded), sum of levels, levels."""


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
    spilled_parts: int = 0
    """The parts on disk the summary's classes were searched in (0: in memory)."""


def check_search(
    schemes: Sequence[Scheme],
    models: Sequence[PrivacyModel],
    suppression_limit: float,
    min_levels: Sequence[int] | None,
    max_levels: Sequence[int] | None,
) -> tuple[list[int], list[int]]:
    """The lowest and highest levels searched, once the search's settings are checked."""
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
    return lows, highs


class Lattice:
    """The nodes between two corners, in lexicographic order (a node's index is its
    mixed-radix number), with what the walk knows of each."""

    def __init__(self, lows: Sequence[int], highs: Sequence[int]) -> None:
        self.highs = list(highs)
        spans = [hi - lo + 1 for lo, hi in zip(lows, highs, strict=True)]
        self.nodes = np.array(
            list(
                itertools.product(*(range(lo, hi + 1) for lo, hi in zip(lows, highs, strict=True)))
            ),
            dtype=np.int64,
        ).reshape(-1, len(spans))
        strides = np.cumprod([1, *spans[:0:-1]], dtype=np.int64)[::-1]
        self.step = strides.tolist()  # a level up in column j moves a node's index this far
        # at_most[j][v]: the nodes whose level j is at most v (and at_least likewise).
        nodes = self.nodes
        self.at_most = [[nodes[:, j] <= v for v in range(hi + 1)] for j, hi in enumerate(highs)]
        self.at_least = [[nodes[:, j] >= v for v in range(hi + 1)] for j, hi in enumerate(highs)]

    def __len__(self) -> int:
        return len(self.nodes)

    def levels(self, i: int) -> tuple[int, ...]:
        """The levels of node ``i``."""
        return tuple(int(x) for x in self.nodes[i])

    def below(self, i: int) -> npt.NDArray[np.bool_]:
        """Node i and every node below it."""
        out = np.ones(len(self.nodes), dtype=bool)
        for j, v in enumerate(self.nodes[i]):
            out &= self.at_most[j][v]
        return out

    def above(self, i: int) -> npt.NDArray[np.bool_]:
        """Node i and every node above it."""
        out = np.ones(len(self.nodes), dtype=bool)
        for j, v in enumerate(self.nodes[i]):
            out &= self.at_least[j][v]
        return out

    def chain(self, i: int) -> list[int]:
        """Node i and the nodes up to the top, each one level up in the column with the
        most levels left."""
        chain = [i]
        left = [
            high - level for high, level in zip(self.highs, self.nodes[i].tolist(), strict=True)
        ]
        while left and (most := max(left)) > 0:
            j = left.index(most)
            left[j] -= 1
            chain.append(chain[-1] + self.step[j])
        return chain


@dataclass(frozen=True)
class Best:
    """What the walk found: the best node (None: none) and how the walk went."""

    index: int | None
    key: Key | None
    rejected: int
    checked: int


def walk(
    lattice: Lattice,
    bounds: npt.NDArray[np.float64],
    limit: int,
    monotone: bool,
    evaluate: Callable[[int], tuple[int, bool]],
    score: Callable[[int], float],
    *,
    accept: Callable[[int], bool] | None = None,
    keep: Callable[[int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Best:
    """The node with the least objective whose suppressed records are within ``limit``.

    ``evaluate(i)``: node i's suppressed records, and whether they are those of the
    floor alone (too many already: the models were not checked); asked once a node.
    ``score(i)``: the objective of a node within the limit. ``accept(i)``: a further
    constraint, asked of a node that would be the best so far; ``keep(i)``: told of
    each node that becomes the best.
    """
    nodes = lattice.nodes
    order = np.lexsort((nodes.sum(axis=1), bounds))
    known = np.zeros(len(nodes), dtype=np.int8)  # 1 feasible, -1 not, 0 unknown
    relaxed = np.zeros(len(nodes), dtype=np.int8)  # the same for the floor alone
    outcomes: dict[int, int] = {}

    def records(i: int) -> int:
        if i in outcomes:
            return outcomes[i]
        found, floored = evaluate(i)
        outcomes[i] = found
        if floored:  # ruled out by the floor alone, and every node below with it
            lower = lattice.below(i)
            known[lower] = -1
            relaxed[lower] = -1
            return found
        if relaxed[i] != 1:  # else every node above is marked already
            relaxed[lattice.above(i)] = 1
        if monotone:  # feasibility is inherited up and down the lattice
            if found <= limit:
                known[lattice.above(i)] = 1
            else:
                known[lattice.below(i)] = -1
        return found

    def probe_chain(i: int, state: npt.NDArray[np.int8]) -> None:
        """Binary search the chain from node i to the top for the first feasible node.

        ``state`` is ``known`` (when the models are monotone) or ``relaxed``
        (the floor alone, which is): either way, nodes found infeasible mark
        every node below them. Node i itself need not have been evaluated: the
        highest infeasible node found on the chain rules out i with all the
        other nodes below it, and costs far less (fewer classes) than i.
        """
        chain = lattice.chain(i)
        lo, hi = -1, len(chain) - 1
        if state[chain[hi]] == 0:
            records(chain[hi])
        if state[chain[hi]] == -1:
            return
        while hi - lo > 1:
            # Three quarters up rather than half: higher nodes have fewer classes, and
            # one found infeasible rules out more below it.
            mid = min(hi - 1, lo + 3 * (hi - lo) // 4)
            if state[chain[mid]] == 0:
                records(chain[mid])
            if state[chain[mid]] == 1:
                hi = mid
            else:
                lo = mid

    rejected = 0
    best: Key | None = None
    best_index: int | None = None
    for position, index in enumerate(order.tolist()):
        if best is not None and bounds[index] > best[0] + 1e-12:
            break
        if progress is not None:
            progress(position + 1, len(order))
        if monotone and known[index] == 0:  # a chain above may rule it out cheaper
            probe_chain(index, known)
        if known[index] == -1:
            continue
        if records(index) > limit:
            if not monotone and relaxed[index] == -1:
                probe_chain(index, relaxed)
            continue
        levels = lattice.levels(index)
        candidate = (round(score(index), 12), sum(levels), levels)
        if best is None or candidate < best:
            if accept is not None and not accept(index):
                rejected += 1
                continue
            best, best_index = candidate, index
            if keep is not None:
                keep(index)
    return Best(best_index, best, rejected, len(outcomes))


def no_result(
    lattice: Lattice,
    schemes: Sequence[Scheme],
    models: Sequence[PrivacyModel],
    suppression_limit: float,
    limit: int,
    rejected: int,
) -> InvalidInputError:
    """The error when no node meets the models (and the further constraint)."""
    if rejected:
        return InvalidInputError(
            f"no transformation meets the privacy models and the mosaic check: {rejected:,} "
            "met the models but combined with what the recipient holds break the policy; "
            "release fewer quasi-identifiers or sensitive columns, or to another recipient."
        )
    if len(lattice) == 1:
        fixed = ", ".join(f"{s.name}={lv}" for s, lv in zip(schemes, lattice.nodes[0], strict=True))
        return InvalidInputError(
            f"the transformation {fixed} does not meet "
            + ", ".join(m.describe() for m in models)
            + f" on this table within the suppression limit ({suppression_limit:.2%}, "
            f"{limit:,} records): the table differs too much from the one it was made for."
        )
    return InvalidInputError(
        "no transformation meets the privacy models within the suppression limit "
        f"({suppression_limit:.2%}); raise the limit, allow higher levels, or relax "
        "the models."
    )


def climb(
    evaluate: Callable[[tuple[int, ...]], tuple[int, float]],
    lows: Sequence[int],
    highs: Sequence[int],
    limit: int,
    suppression_limit: float,
    time_limit: float,
) -> tuple[int, ...]:
    """Greedy generalization to a feasible node, then local moves that lower the objective.

    ``evaluate(levels)``: the node's suppressed records and objective (asked again of
    the same node: the caller remembers them).
    """
    deadline = time.monotonic() + time_limit
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

        def gain(step: tuple[int, ...], here: tuple[int, float] = here) -> float:
            # Records no longer suppressed per unit of loss the step costs.
            records, loss = evaluate(step)
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
            records, loss = evaluate(candidate)
            if records <= limit and loss < best_loss - 1e-12:
                current, best_loss, improved = candidate, loss, True
    return current


def suppression_records(suppression_limit: float, rows: int) -> int:
    """The most records the limit lets the search suppress."""
    return math.floor(suppression_limit * rows + 1e-9)
