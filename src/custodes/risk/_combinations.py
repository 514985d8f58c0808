"""Which combinations of quasi-identifiers single people out.

For every subset of the quasi-identifiers (all of them up to ``max_size``
columns) we compute Motwani and Xu's *distinction* (distinct combinations per
record) and *separation* (the fraction of record pairs the columns tell
apart), as ARX reports them, and the fraction of records unique under the
subset. Subsets are rolled up from a superset already computed (a depth-first
walk of the subset lattice, see :class:`_Lattice`), so the work is close to the
number of classes, not that times the number of subsets; what would sort more
than a budget is left out, and :class:`Coverage` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from math import comb

import numpy as np
import numpy.typing as npt

from custodes.summary import Summary

__all__ = ["ColumnImpact", "Coverage", "QICombination", "column_impact", "qi_combinations"]


@dataclass(frozen=True)
class QICombination:
    """Identifiability of the table under one subset of quasi-identifiers."""

    columns: tuple[str, ...]
    distinction: float
    separation: float
    uniques: float
    """Fraction of records unique under these columns."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "columns": list(self.columns),
            "distinction": self.distinction,
            "separation": self.separation,
            "uniques": self.uniques,
        }


@dataclass(frozen=True)
class ColumnImpact:
    """What leaving one quasi-identifier out would change."""

    column: str
    uniques_without: float
    """Fraction of records still unique without this column."""
    uniques_removed: float
    """Fraction of records that stop being unique without it."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "column": self.column,
            "uniques_without": self.uniques_without,
            "uniques_removed": self.uniques_removed,
        }


IntArray = npt.NDArray[np.int64]
_PACKABLE = 2**62
SORT_BUDGET = 4
"""Rows a subset's grouping may sort, in all, as a multiple of the table's classes."""
DENSE_FLOOR = 1 << 16
"""Combinations always counted in a tensor, however few classes the table has."""
SORT_FLOOR = 1 << 22
"""Rows the roll-ups may sort in all, however few classes the table has (well under a second)."""


@dataclass(frozen=True)
class Coverage:
    """How many subsets of quasi-identifiers were measured, and why not all."""

    measured: int
    subsets: int
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"measured": self.measured, "subsets": self.subsets, "note": self.note}


@dataclass(frozen=True)
class _Tally:
    """Class counts of records already settled: classes, sum of f(f-1), unique records."""

    classes: int = 0
    same: int = 0
    uniques: int = 0

    def add(self, counts: IntArray) -> _Tally:
        return _Tally(
            self.classes + len(counts),
            self.same + int(counts @ counts) - int(counts.sum()),
            self.uniques + int(np.count_nonzero(counts == 1)),
        )

    def plus(self, other: _Tally) -> _Tally:
        return _Tally(
            self.classes + other.classes, self.same + other.same, self.uniques + other.uniques
        )

    def minus(self, other: _Tally) -> _Tally:
        return _Tally(
            self.classes - other.classes, self.same - other.same, self.uniques - other.uniques
        )


def _measured(tally: _Tally, rows: int, names: tuple[str, ...]) -> QICombination:
    pairs = rows * (rows - 1)
    return QICombination(
        columns=names,
        distinction=tally.classes / rows,
        separation=1.0 - tally.same / pairs if pairs else 0.0,
        uniques=tally.uniques / rows,
    )


@dataclass(frozen=True)
class _Dense:
    """Counts of every combination of ``cols`` as a tensor (one axis per column)."""

    cols: tuple[int, ...]
    tensor: IntArray

    def tally(self) -> _Tally:
        return _Tally().add(self.tensor[self.tensor > 0])

    def drop(self, j: int) -> _Dense:
        axis = self.cols.index(j)
        return _Dense(tuple(c for c in self.cols if c != j), self.tensor.sum(axis=axis))


@dataclass(frozen=True)
class _Sparse:
    """Classes under ``cols`` (most distinct values first), as sorted packed keys.

    Classes already known to stay alone under every subset still to be rolled
    up from this one are settled in ``settled`` and kept out of ``key``.
    """

    cols: tuple[int, ...]
    key: IntArray
    counts: IntArray
    settled: _Tally

    @cached_property
    def active(self) -> _Tally:
        """The tally of the classes not settled."""
        return _Tally().add(self.counts)

    def tally(self) -> _Tally:
        return self.settled.plus(self.active)


def _sorted_classes(key: IntArray, counts: IntArray, cells: float) -> tuple[IntArray, IntArray]:
    """Distinct keys (0 <= key < cells), ascending, with their summed counts."""
    if len(key) == 0:
        return key, counts
    top = int(counts.max()) + 1
    if cells * top < _PACKABLE:
        # Key and count in one integer: a plain sort, no permutation to gather through.
        both = np.sort(key * top + counts)
        key = both // top
        counts = both - key * top
    else:
        order = np.argsort(key, kind="stable")
        key, counts = key[order], counts[order]
    new = np.empty(len(key), dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    if new.all():
        return key, counts
    starts = np.flatnonzero(new)
    return key[starts], np.add.reduceat(counts, starts)


class _Lattice:
    """The summary's classes under any subset of its quasi-identifiers.

    A subset whose combinations fit in a tensor as large as the table's classes
    is counted densely (a marginal of a larger tensor, or one pass over the
    classes); any other is rolled up from a superset one column larger, whose
    classes are sorted by a packed key with the columns of most values first.
    Dropping a column then only merges classes inside runs that agree on the
    columns before it, and a class alone in its run stays alone under every
    subset rolled up from it, so it is settled and not looked at again.
    """

    def __init__(self, summary: Summary) -> None:
        codes = summary.codes
        self.counts = summary.counts.astype(np.int64)
        self.sizes = [
            int(codes[:, j].max()) + 1 if len(codes) else 1 for j in range(codes.shape[1])
        ]
        self.dense_limit = max(len(self.counts), DENSE_FLOOR)
        self.budget = SORT_BUDGET * len(self.counts) + SORT_FLOOR
        self.sorted_rows = 0
        # Columns of most distinct values come first in every packed key, unless the
        # summary comes sorted by another order of them.
        self.order = list(summary.sorted_by) or sorted(
            range(len(self.sizes)), key=lambda j: (-self.sizes[j], j)
        )
        self.packable = self._cells(self.order) < _PACKABLE
        self.codes = codes

    def _cells(self, cols: Sequence[int]) -> float:
        return float(np.prod([max(self.sizes[j], 1) for j in cols], dtype=np.float64))

    def _key(self, cols: Sequence[int]) -> IntArray:
        key = np.zeros(len(self.counts), dtype=np.int64)
        for j in cols:
            key *= max(self.sizes[j], 1)
            key += self.codes[:, j]
        return key

    def ordered(self, cols: Sequence[int]) -> tuple[int, ...]:
        return tuple(j for j in self.order if j in cols)

    def root(self) -> _Sparse:
        cols = tuple(self.order)
        key = self._key(cols)
        if len(key) > 1 and bool((key[1:] > key[:-1]).all()):  # the summary came sorted
            return _Sparse(cols, key, self.counts, _Tally())
        return _Sparse(cols, *_sorted_classes(key, self.counts, self._cells(cols)), _Tally())

    def dense(self, cols: tuple[int, ...]) -> _Dense:
        """Counts under ``cols`` in one pass over the table's classes."""
        cols = self.ordered(cols)
        shape = [max(self.sizes[j], 1) for j in cols]
        flat = np.bincount(self._key(cols), weights=self.counts, minlength=int(np.prod(shape)))
        return _Dense(cols, flat.astype(np.int64).reshape(shape))

    def fits(self, cols: Sequence[int]) -> bool:
        return self._cells(cols) <= self.dense_limit

    def direct(self, cols: tuple[int, ...]) -> _Sparse | _Dense | None:
        """Classes under ``cols`` from the table's classes (None: over the sorting budget)."""
        if self.fits(cols):
            return self.dense(cols)
        cols = self.ordered(cols)
        self.sorted_rows += len(self.counts)
        if self.sorted_rows > self.budget:
            return None
        return _Sparse(
            cols, *_sorted_classes(self._key(cols), self.counts, self._cells(cols)), _Tally()
        )

    def roll_up(
        self, node: _Sparse | _Dense | None, cols: tuple[int, ...], j: int
    ) -> _Sparse | _Dense | None:
        """Classes under ``cols`` without column ``j``, from ``node`` (the classes under
        ``cols``) when there is one. None: over the sorting budget."""
        if isinstance(node, _Dense):
            return node.drop(j)
        kept = tuple(c for c in cols if c != j)
        if self.fits(kept):
            return self.dense(kept)
        if node is None:
            return None
        at = node.cols.index(j)
        below = int(np.prod([max(self.sizes[c], 1) for c in node.cols[at + 1 :]]))
        size = max(self.sizes[j], 1)
        key = node.key
        run = key // (size * below)  # the columns before j: sorted, as the key is
        n = len(key)
        edge = np.ones(n + 1, dtype=bool)  # edge[i]: a run starts at i (or i == n)
        np.not_equal(run[1:], run[:-1], out=edge[1:n])
        busy = np.flatnonzero(~(edge[:-1] & edge[1:]))  # rows in runs of two or more
        counts = node.counts[busy]
        # The rest is alone in its run: settled (tallied as all minus the busy rows).
        settled = node.settled.plus(node.active.minus(_Tally().add(counts)))
        self.sorted_rows += len(busy)
        if self.sorted_rows > self.budget:
            return None
        rest = key[busy]
        child = run[busy] * below + (rest - (rest // below) * below)
        kept = node.cols[:at] + node.cols[at + 1 :]  # most distinct values first
        return _Sparse(kept, *_sorted_classes(child, counts, self._cells(kept)), settled)


def subsets_to_measure(q: int, max_size: int) -> int:
    """How many subsets :func:`qi_combinations` measures for ``q`` columns."""
    if q <= max_size:
        return (1 << q) - 1
    return comb(q, 1) + comb(q, 2) + (q > 2)  # (with two columns the pair is the full set)


def qi_combinations(
    summary: Summary,
    max_size: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[QICombination], Coverage]:
    """Distinction, separation and uniques for quasi-identifier subsets.

    With at most ``max_size`` quasi-identifiers every non-empty subset is
    measured; with more, the single columns, the pairs and the full set.
    Results are ranked: smaller subsets first, then by uniques, descending.
    Subsets that would need more sorting than :data:`SORT_BUDGET` times the
    table's classes are left out, and the coverage says how many.
    """
    q = len(summary.quasi_identifiers)
    rows = summary.rows
    if rows == 0 or q == 0:
        return [], Coverage(0, 0)
    names = summary.quasi_identifiers
    lattice = _Lattice(summary)
    total = subsets_to_measure(q, max_size if lattice.packable else 0)
    results: list[QICombination] = []
    done = 0

    def record(cols: tuple[int, ...], tally: _Tally | None) -> None:
        nonlocal done
        done += 1
        if tally is not None:
            ordered = tuple(names[j] for j in sorted(cols))
            results.append(_measured(tally, rows, ordered))
        if progress is not None:
            progress(done, total)

    everything = tuple(range(q))
    if q <= max_size and lattice.packable:
        # Depth-first over the lattice: each child drops one column that comes
        # after (in the keys' order) every column its parent already dropped, so
        # each subset is visited once, its parent adds back a column of few values,
        # and at most q nodes are alive.
        rank = lattice.order[::-1]  # (a child's descendants drop columns later in the keys)

        def visit(cols: tuple[int, ...], node: _Sparse | _Dense | None, first: int) -> None:
            record(cols, None if node is None else node.tally())
            if len(cols) > 1:
                for at, j in enumerate(rank[:first]):
                    if j in cols:
                        visit(tuple(c for c in cols if c != j), lattice.roll_up(node, cols, j), at)

        visit(everything, lattice.root(), q)
    else:
        record(everything, _Tally().add(lattice.counts))
        for size in range(1, min(q, 3)):
            for cols in combinations(range(q), size):
                node = lattice.direct(cols)
                record(cols, None if node is None else node.tally())
    results.sort(key=lambda r: (len(r.columns), -r.uniques, -r.distinction, r.columns))
    skipped = done - len(results)
    note = None
    if q <= max_size and not lattice.packable:
        note = (
            "the quasi-identifiers have too many combinations of values to measure every "
            "subset: the single columns, the pairs and the full set are measured"
        )
    if skipped:
        note = (
            f"{skipped} of {total} subsets were not measured: grouping them would sort more "
            f"than {SORT_BUDGET} times the table's {len(lattice.counts)} classes"
        )
    return results, Coverage(len(results), total, note)


def column_impact(
    combos: list[QICombination], quasi_identifiers: tuple[str, ...]
) -> list[ColumnImpact]:
    """For each column, the uniques that leaving it out would remove (largest first)."""
    by_cols = {frozenset(c.columns): c.uniques for c in combos}
    everything = frozenset(quasi_identifiers)
    if everything not in by_cols or len(quasi_identifiers) < 2:
        return []
    base = by_cols[everything]
    impacts = []
    for name in quasi_identifiers:
        without = by_cols.get(everything - {name})
        if without is None:
            continue
        impacts.append(ColumnImpact(name, without, base - without))
    impacts.sort(key=lambda i: -i.uniques_removed)
    return impacts
