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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from math import comb
from threading import Lock
from typing import Literal

import numpy as np
import numpy.typing as npt

from custodes._grouping import in_runs, in_runs_of_two
from custodes.summary import Summary, field_bits

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
FloatArray = npt.NDArray[np.float64]
_KEY_BITS = 62
"""Bits of a packed key (and of a key with its count beside it, to sort both at once)."""
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
    tensor: FloatArray
    """Record counts (whole numbers far below 2**53: exact as floats)."""

    def tally(self) -> _Tally:
        return _Tally().add(self.tensor[self.tensor > 0].astype(np.int64))

    def drop(self, j: int) -> _Dense:
        axis = self.cols.index(j)
        return _Dense(tuple(c for c in self.cols if c != j), self.tensor.sum(axis=axis))


@dataclass(frozen=True, eq=False)
class _Pairs:
    """Classes that come in twos among the rows agreeing on the columns every subset
    below keeps: under a subset, the two of a pair make one class when their keys
    agree on its fields (``apart``: the bits where they differ), else stay two."""

    apart: IntArray
    joined: IntArray
    """f(f-1) of the pair as one class."""
    split: IntArray
    """f(f-1) of the two classes."""
    alone: IntArray
    """Of the two classes, how many hold one record."""
    masks: tuple[tuple[int, int], ...]
    """(column, its field's bits in the keys)."""

    def tally(self, cols: tuple[int, ...]) -> _Tally:
        mask = 0
        for column, bits in self.masks:
            if column in cols:
                mask |= bits
        apart = (self.apart & mask) != 0
        return _Tally(
            len(apart) + int(np.count_nonzero(apart)),
            int(self.joined.sum()) + int((self.split - self.joined)[apart].sum()),
            int(self.alone[apart].sum()),
        )


@dataclass(frozen=True)
class _Sparse:
    """Classes under ``cols`` (most distinct values first), as sorted packed keys.

    Classes already known to stay alone under every subset still to be rolled
    up from this one are settled in ``settled`` and kept out of ``key``; those
    that come in twos are in ``pairs``, each set counted under any subset at once.
    """

    cols: tuple[int, ...]
    key: IntArray
    counts: IntArray
    settled: _Tally
    pairs: tuple[_Pairs, ...] = ()

    @cached_property
    def active(self) -> _Tally:
        """The tally of the classes in ``key``."""
        return _Tally().add(self.counts)

    def tally(self) -> _Tally:
        total = self.settled.plus(self.active)
        for pairs in self.pairs:
            total = total.plus(pairs.tally(self.cols))
        return total


def _sorted_classes(
    key: IntArray, counts: IntArray, bits: int, *, runs: bool = False
) -> tuple[IntArray, IntArray]:
    """Distinct keys (0 <= key < 2**bits), ascending, with their summed counts.

    ``runs``: the keys are sorted but inside short runs (as a roll-up leaves them),
    which a merge sort (timsort) orders in a few passes, several times faster than
    a quicksort; keys in no order are sorted by a quicksort.
    """
    if len(key) == 0:
        return key, counts
    if not bool((key[1:] >= key[:-1]).all()):  # (dropping the last column keeps the order)
        kind: Literal["stable", "quicksort"] = "stable" if runs else "quicksort"
        shift = int(counts.max()).bit_length()
        if bits + shift <= _KEY_BITS:
            # Key and count in one integer: one sort, no permutation to gather through.
            both = np.sort((key << shift) | counts, kind=kind)
            key = both >> shift
            counts = both & ((1 << shift) - 1)
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

    Every class is one integer, its codes in fixed fields of bits (the columns
    of most distinct values first), so a column is a shift and a mask away,
    never a division. A subset whose combinations fit in a tensor as large as
    the table's classes is counted densely (a marginal of a larger tensor, or
    one pass over the classes); any other is rolled up from a superset one
    column larger, whose classes are sorted by their keys. Dropping a column
    then only merges classes inside runs that agree on the columns before it
    (dropping the last needs no sort at all), and a class alone in its run
    stays alone under every subset rolled up from it, so it is settled and not
    looked at again.
    """

    def __init__(self, summary: Summary) -> None:
        self.counts = summary.counts.astype(np.int64, copy=False)
        self.packed = summary.packed  # (then the codes are never needed)
        if self.packed is not None:
            self.sizes = list(self.packed.sizes)
        else:
            codes = summary.codes
            self.sizes = [
                int(codes[:, j].max()) + 1 if len(codes) else 1 for j in range(codes.shape[1])
            ]
        self.widths = [field_bits(size) for size in self.sizes]
        # Tensors of up to twice the classes (fields of bits waste under a bit a column).
        self.dense_bits = (2 * max(len(self.counts), DENSE_FLOOR)).bit_length() - 1
        self.budget = SORT_BUDGET * len(self.counts) + SORT_FLOOR
        self.sorted_rows = 0
        # Columns of most distinct values come first in every packed key, unless the
        # summary comes sorted by another order of them.
        self.order = list(summary.sorted_by) or sorted(
            range(len(self.sizes)), key=lambda j: (-self.sizes[j], j)
        )
        self.packable = self._bits_of(self.order) <= _KEY_BITS
        self.summary = summary
        self._root: _Sparse | None = None

    def _bits_of(self, cols: Sequence[int]) -> int:
        return sum(self.widths[j] for j in cols)

    def _weights(self) -> IntArray:
        """The class sizes in the order :meth:`_fields` gives the keys."""
        return self.root().counts if self.packable else self.counts

    def ordered(self, cols: Sequence[int]) -> tuple[int, ...]:
        return tuple(j for j in self.order if j in cols)

    def root(self) -> _Sparse:
        """The classes under every column, sorted by their keys."""
        if self._root is None:
            cols = tuple(self.order)
            if self.packed is not None:
                self._root = _Sparse(cols, self.packed.key, self.counts, _Tally())
                return self._root
            codes = self.summary.codes
            key = np.zeros(len(self.counts), dtype=np.int64)
            for j in cols:
                key <<= self.widths[j]
                key |= codes[:, j]
            key, counts = _sorted_classes(key, self.counts, self._bits_of(cols))
            self._root = _Sparse(cols, key, counts, _Tally())
        return self._root

    def dense(self, cols: tuple[int, ...]) -> _Dense:
        """Counts under ``cols`` in one pass over the table's classes (an axis per column's
        field of bits)."""
        cols = self.ordered(cols)
        shape = [1 << self.widths[j] for j in cols]
        total = np.bincount(
            self._fields(cols),
            weights=self._weights(),
            minlength=1 << sum(self.widths[j] for j in cols),
        )
        tensor = np.asarray(total, dtype=np.float64).reshape(shape)
        # Cut the slots past each column's values: the marginals then sum less.
        trimmed = tensor[tuple(slice(0, max(self.sizes[j], 1)) for j in cols)]
        return _Dense(cols, np.ascontiguousarray(trimmed))

    def _fields(self, cols: tuple[int, ...]) -> IntArray:
        """Keys of ``cols`` alone (their fields, packed), in the root's order of classes
        (the summary's, when the columns do not fit one key)."""
        if not self.packable:
            codes = self.summary.codes
            key = np.zeros(len(self.counts), dtype=np.int64)
            for j in cols:
                key <<= self.widths[j]
                key |= codes[:, j]
            return key
        root = self.root()
        total = self._bits_of(root.cols)
        out: IntArray | None = None
        low = run = done = 0  # bits below the column; of the run of ``cols``; placed
        for j in (*reversed(root.cols), -1):  # least significant first
            if j in cols:
                run += self.widths[j]
            elif run:  # a run of adjacent columns ends: move it in one piece (in place)
                start = low - run
                piece = np.right_shift(root.key, start) if start else root.key.copy()
                if low < total:
                    np.bitwise_and(piece, (1 << run) - 1, out=piece)
                if done:
                    np.left_shift(piece, done, out=piece)
                out = piece if out is None else np.bitwise_or(out, piece, out=out)
                done += run
                run = 0
            low += self.widths[j] if j >= 0 else 0
        return out if out is not None else np.zeros(len(root.key), dtype=np.int64)

    def fits(self, cols: Sequence[int]) -> bool:
        """Whether ``cols`` are counted densely (in a tensor of at most twice the classes:
        fields of bits waste less than one bit a column)."""
        return self._bits_of(cols) <= self.dense_bits

    def direct(self, cols: tuple[int, ...]) -> _Sparse | _Dense | None:
        """Classes under ``cols`` from the table's classes (None: over the sorting budget)."""
        if self.fits(cols):
            return self.dense(cols)
        cols = self.ordered(cols)
        self.sorted_rows += len(self.counts)
        if self.sorted_rows > self.budget:
            return None
        key = self._fields(cols)
        counts = self._weights()
        return _Sparse(cols, *_sorted_classes(key, counts, self._bits_of(cols)), _Tally())

    def narrow(self, node: _Sparse, at: int) -> _Sparse:
        """``node`` with the classes alone under its first ``at`` columns settled, and
        those in twos set apart as pairs.

        Every subset rolled up from ``node`` that keeps those columns (all its
        descendants in the walk, when none drops a column before position ``at``)
        keeps a class that is alone under them alone, and whether it merges the two
        classes of a pair depends only on their other columns: one pass here spares
        the roll-ups below from looking at either again.
        """
        if at == 0 or len(node.key) < 3:
            return node
        run = node.key >> self._bits_of(node.cols[at:])
        n = len(run)
        same = run[1:] == run[:-1]  # same[i]: rows i and i + 1 agree
        del run
        many = in_runs(same, 3)
        if np.count_nonzero(many) > 3 * n // 4:  # not worth a copy
            return node
        first = np.flatnonzero(same & ~many[:-1])  # the first of a run of exactly two
        key, counts = node.key, node.counts
        one, two = counts[first], counts[first + 1]
        rest = np.flatnonzero(many)
        kept = counts[rest]
        gone = node.active.minus(_Tally().add(kept)).minus(
            _Tally().add(one).plus(_Tally().add(two))
        )
        masks = tuple(
            (c, ((1 << self.widths[c]) - 1) << self._bits_of(node.cols[p + 1 :]))
            for p, c in enumerate(node.cols)
        )
        pairs = _Pairs(
            apart=key[first] ^ key[first + 1],
            joined=(one + two) * (one + two - 1),
            split=one * (one - 1) + two * (two - 1),
            alone=(one == 1).astype(np.int64) + (two == 1),
            masks=masks,
        )
        settled = node.settled.plus(gone)
        return _Sparse(node.cols, key[rest], kept, settled, (*node.pairs, pairs))

    def prefix(self, cols: tuple[int, ...]) -> _Sparse | None:
        """The classes under the first columns of the keys (``cols``, in any order) cut
        from the root's sorted keys, or None when ``cols`` are not such columns."""
        if set(cols) != set(self.order[: len(cols)]):
            return None
        root = self.root()
        kept = tuple(self.order[: len(cols)])
        key = root.key >> self._bits_of(self.order[len(cols) :])
        return _Sparse(kept, *_sorted_classes(key, root.counts, self._bits_of(kept)), _Tally())

    def roll_up(
        self, node: _Sparse | _Dense | None, cols: tuple[int, ...], j: int
    ) -> _Sparse | _Dense | None:
        """Classes under ``cols`` without column ``j``, from ``node`` (the classes under
        ``cols``) when there is one. None: over the sorting budget (and not the first
        columns of the keys, which need no sort)."""
        if isinstance(node, _Dense):
            return node.drop(j)
        kept = tuple(c for c in cols if c != j)
        if self.fits(kept):
            return self.dense(kept)
        if node is None:
            return self.prefix(kept)
        at = node.cols.index(j)
        below = self._bits_of(node.cols[at + 1 :])
        key, counts, settled = node.key, node.counts, node.settled
        run = key >> (below + self.widths[j])  # the columns before j: sorted, as the key is
        busy = in_runs_of_two(run)
        if busy is not None:  # the rest is alone in its run: settled
            counts = counts[busy]
            settled = settled.plus(node.active.minus(_Tally().add(counts)))
            key, run = key[busy], run[busy]
        if below:
            self.sorted_rows += len(key)
            if self.sorted_rows > self.budget:
                return self.prefix(kept)
        child = (run << below) | (key & ((1 << below) - 1)) if below else run
        kept = node.cols[:at] + node.cols[at + 1 :]  # most distinct values first
        return _Sparse(
            kept,
            *_sorted_classes(child, counts, self._bits_of(kept), runs=True),
            settled,
            node.pairs,
        )


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
    lock = Lock()

    def record(cols: tuple[int, ...], tally: _Tally | None) -> None:
        nonlocal done
        with lock:
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
        # Subsets counted densely, and each of their marginals, are tasks for two threads
        # beside the roll-ups: most of numpy's work runs without the interpreter's lock,
        # so the cores share it. The sorting budget is only spent by the roll-ups, in this
        # thread, in a fixed order: what is measured does not depend on timing.
        beside = ThreadPoolExecutor(max_workers=2)
        counted: list[Future[None]] = []

        def visit_dense(cols: tuple[int, ...], first: int) -> None:
            visit(cols, lattice.dense(cols), first)

        def visit_drop(node: _Dense, cols: tuple[int, ...], j: int, first: int) -> None:
            visit(tuple(c for c in cols if c != j), node.drop(j), first)

        def visit(cols: tuple[int, ...], node: _Sparse | _Dense | None, first: int) -> None:
            record(cols, None if node is None else node.tally())
            if len(cols) < 2:
                return
            drops = [(at, j) for at, j in enumerate(rank[:first]) if j in cols]
            if isinstance(node, _Dense):
                for at, j in drops:
                    counted.append(beside.submit(visit_drop, node, cols, j, at))
                return
            children = [(tuple(c for c in cols if c != j), j, at) for at, j in drops]
            rolled = []
            for kept, j, at in children:  # (dense ones first, so the threads start at once)
                if lattice.fits(kept):
                    counted.append(beside.submit(visit_dense, kept, at))
                else:
                    rolled.append((kept, j, at))
            if isinstance(node, _Sparse):
                # The children to roll up all keep the columns before the earliest one
                # they drop.
                node = lattice.narrow(
                    node, min((node.cols.index(j) for _, j, _ in rolled), default=0)
                )
            for kept, j, at in rolled:
                visit(kept, lattice.roll_up(node, cols, j), at)

        try:
            visit(everything, lattice.root(), q)
            waited = 0
            while waited < len(counted):  # (a task adds its children before it ends)
                counted[waited].result()  # (raises what went wrong there)
                waited += 1
        finally:
            beside.shutdown(cancel_futures=True)
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
