"""The classes of a summary under any subset of its quasi-identifiers.

Every class is one integer key, its columns' codes in fixed fields of bits, so
a subset's classes are a shift and a mask away: counted in a tensor when its
combinations are few (:class:`Dense`), else rolled up from the sorted keys of
a superset (:class:`Sparse`), with the classes that cannot merge any more
settled (:class:`Tally`) and those in twos counted in closed form
(:class:`Pairs`). :mod:`custodes.risk._combinations` walks the subsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from custodes._grouping import in_runs, in_runs_of_two, runs
from custodes.errors import InternalError
from custodes.summary import Decoded, PackedClasses, Summary, field_bits

__all__ = [
    "DENSE_FLOOR",
    "SORT_BUDGET",
    "SORT_FLOOR",
    "Dense",
    "Lattice",
    "Pairs",
    "Sparse",
    "Tally",
    "sorted_classes",
]


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
class Tally:
    """Class counts of records already settled: classes, sum of f(f-1), unique records."""

    classes: int = 0
    same: int = 0
    uniques: int = 0

    def add(self, counts: IntArray) -> Tally:
        return Tally(
            self.classes + len(counts),
            self.same + int(counts @ counts) - int(counts.sum()),
            self.uniques + int(np.count_nonzero(counts == 1)),
        )

    def plus(self, other: Tally) -> Tally:
        return Tally(
            self.classes + other.classes, self.same + other.same, self.uniques + other.uniques
        )

    def minus(self, other: Tally) -> Tally:
        return Tally(
            self.classes - other.classes, self.same - other.same, self.uniques - other.uniques
        )


@dataclass(frozen=True)
class Dense:
    """Counts of every combination of ``cols`` as a tensor (one axis per column)."""

    cols: tuple[int, ...]
    tensor: FloatArray
    """Record counts (whole numbers far below 2**53: exact as floats)."""

    def tally(self) -> Tally:
        return Tally().add(self.tensor[self.tensor > 0].astype(np.int64))

    def drop(self, j: int) -> Dense:
        axis = self.cols.index(j)
        return Dense(tuple(c for c in self.cols if c != j), self.tensor.sum(axis=axis))


@dataclass(frozen=True, eq=False)
class Pairs:
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

    def tally(self, cols: tuple[int, ...]) -> Tally:
        mask = 0
        for column, bits in self.masks:
            if column in cols:
                mask |= bits
        apart = (self.apart & mask) != 0
        return Tally(
            len(apart) + int(np.count_nonzero(apart)),
            int(self.joined.sum()) + int((self.split - self.joined)[apart].sum()),
            int(self.alone[apart].sum()),
        )


@dataclass(frozen=True)
class Sparse:
    """Classes under ``cols`` (most distinct values first), as sorted packed keys.

    Classes already known to stay alone under every subset still to be rolled
    up from this one are settled in ``settled`` and kept out of ``key``; those
    that come in twos are in ``pairs``, each set counted under any subset at once.
    """

    cols: tuple[int, ...]
    key: IntArray
    counts: IntArray
    settled: Tally
    pairs: tuple[Pairs, ...] = ()

    @cached_property
    def active(self) -> Tally:
        """The tally of the classes in ``key``."""
        return Tally().add(self.counts)

    def tally(self) -> Tally:
        total = self.settled.plus(self.active)
        for pairs in self.pairs:
            total = total.plus(pairs.tally(self.cols))
        return total


def sorted_classes(
    key: IntArray, counts: IntArray, bits: int, *, partly_sorted: bool = False
) -> tuple[IntArray, IntArray]:
    """Distinct keys (0 <= key < 2**bits), ascending, with their summed counts.

    ``partly_sorted``: the keys are sorted but inside short runs (as a roll-up leaves them),
    which a merge sort (timsort) orders in a few passes, several times faster than
    a quicksort; keys in no order are sorted by a quicksort.
    """
    if len(key) == 0:
        return key, counts
    if not bool((key[1:] >= key[:-1]).all()):  # (dropping the last column keeps the order)
        kind: Literal["stable", "quicksort"] = "stable" if partly_sorted else "quicksort"
        shift = int(counts.max()).bit_length()
        if bits + shift <= _KEY_BITS:
            # Key and count in one integer: one sort, no permutation to gather through.
            both = np.sort((key << shift) | counts, kind=kind)
            key = both >> shift
            counts = both & ((1 << shift) - 1)
        else:
            order = np.argsort(key, kind="stable")
            key, counts = key[order], counts[order]
    return runs(key, counts)


class Lattice:
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

    def __init__(self, summary: Summary, budget: int | None = None) -> None:
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
        self.budget = SORT_BUDGET * len(self.counts) + SORT_FLOOR if budget is None else budget
        self.sorted_rows = 0
        # Columns of most distinct values come first in every packed key, unless the
        # summary comes sorted by another order of them.
        self.order = list(summary.sorted_by) or sorted(
            range(len(self.sizes)), key=lambda j: (-self.sizes[j], j)
        )
        self.packable = self.bits_of(self.order) <= _KEY_BITS
        self.summary = summary
        self._root: Sparse | None = None

    def bits_of(self, cols: Sequence[int]) -> int:
        return sum(self.widths[j] for j in cols)

    def _weights(self) -> IntArray:
        """The class sizes in the order :meth:`_fields` gives the keys."""
        return self.root().counts if self.packable else self.counts

    def ordered(self, cols: Sequence[int]) -> tuple[int, ...]:
        return tuple(j for j in self.order if j in cols)

    def parts(self, size: int) -> list[tuple[int, int]]:
        """The root's classes cut into slices of about ``size`` (start, stop), each cut
        where the first column's value changes: no class in one slice agrees with one
        in another on it, so under any subset that keeps that column each slice's
        classes are counted apart and the tallies summed."""
        key = self.root().key
        below = self.bits_of(self.order[1:])
        cuts = [0]
        while len(key) - cuts[-1] > size:
            value = int(key[cuts[-1] + size]) >> below
            cut = int(np.searchsorted(key, value << below))
            if cut <= cuts[-1]:  # (one value holds more than ``size`` classes)
                cut = int(np.searchsorted(key, (value + 1) << below))
            if cut >= len(key):
                break
            cuts.append(cut)
        return list(zip(cuts, [*cuts[1:], len(key)], strict=True))

    def part(self, start: int, stop: int) -> Lattice:
        """The lattice of the root's classes ``start:stop`` (a slice of :meth:`parts`),
        the first column's values counted from the lowest there, with its share of the
        sorting budget."""
        root = self.root()
        top, below = self.order[0], self.bits_of(self.order[1:])
        key = root.key[start:stop]
        low = int(key[0]) >> below
        sizes = list(self.sizes)
        sizes[top] = (int(key[-1]) >> below) - low + 1
        summary = Summary(
            quasi_identifiers=self.summary.quasi_identifiers,
            counts=root.counts[start:stop],
            sensitive={},
            packed=PackedClasses(key - (low << below), tuple(self.order), tuple(sizes), _none),
        )
        share = self.budget * (stop - start) // max(len(root.key), 1)
        return Lattice(summary, share)

    def root(self) -> Sparse:
        """The classes under every column, sorted by their keys."""
        if self._root is None:
            cols = tuple(self.order)
            if self.packed is not None:
                self._root = Sparse(cols, self.packed.key, self.counts, Tally())
                return self._root
            codes = self.summary.codes
            key = np.zeros(len(self.counts), dtype=np.int64)
            for j in cols:
                key <<= self.widths[j]
                key |= codes[:, j]
            key, counts = sorted_classes(key, self.counts, self.bits_of(cols))
            self._root = Sparse(cols, key, counts, Tally())
        return self._root

    def dense(self, cols: tuple[int, ...]) -> Dense:
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
        return Dense(cols, np.ascontiguousarray(trimmed))

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
        total = self.bits_of(root.cols)
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
        return self.bits_of(cols) <= self.dense_bits

    def direct(self, cols: tuple[int, ...]) -> Sparse | Dense | None:
        """Classes under ``cols`` from the table's classes (None: over the sorting budget)."""
        if self.fits(cols):
            return self.dense(cols)
        cols = self.ordered(cols)
        self.sorted_rows += len(self.counts)
        if self.sorted_rows > self.budget:
            return None
        key = self._fields(cols)
        counts = self._weights()
        return Sparse(cols, *sorted_classes(key, counts, self.bits_of(cols)), Tally())

    def narrow(self, node: Sparse, at: int) -> Sparse:
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
        run = node.key >> self.bits_of(node.cols[at:])
        n = len(run)
        same = run[1:] == run[:-1]  # same[i]: rows i and i + 1 agree
        del run
        many = in_runs(same, 3)
        if np.count_nonzero(many) > 3 * n // 4:  # not worth a copy
            return node
        first = np.flatnonzero(same & ~many[:-1])  # the first of a run of exactly two
        key, counts = node.key, node.counts
        one, two = counts[first], counts[first + 1]
        kept = counts[many]
        gone = node.active.minus(Tally().add(kept)).minus(Tally().add(one).plus(Tally().add(two)))
        masks = tuple(
            (c, ((1 << self.widths[c]) - 1) << self.bits_of(node.cols[p + 1 :]))
            for p, c in enumerate(node.cols)
        )
        pairs = Pairs(
            apart=key[first] ^ key[first + 1],
            joined=(one + two) * (one + two - 1),
            split=one * (one - 1) + two * (two - 1),
            alone=(one == 1).astype(np.int64) + (two == 1),
            masks=masks,
        )
        settled = node.settled.plus(gone)
        return Sparse(node.cols, key[many], kept, settled, (*node.pairs, pairs))

    def prefix(self, cols: tuple[int, ...]) -> Sparse | None:
        """The classes under the first columns of the keys (``cols``, in any order) cut
        from the root's sorted keys, or None when ``cols`` are not such columns."""
        if set(cols) != set(self.order[: len(cols)]):
            return None
        root = self.root()
        kept = tuple(self.order[: len(cols)])
        key = root.key >> self.bits_of(self.order[len(cols) :])
        return Sparse(kept, *sorted_classes(key, root.counts, self.bits_of(kept)), Tally())

    def roll_up(
        self, node: Sparse | Dense | None, cols: tuple[int, ...], j: int
    ) -> Sparse | Dense | None:
        """Classes under ``cols`` without column ``j``, from ``node`` (the classes under
        ``cols``) when there is one. None: over the sorting budget (and not the first
        columns of the keys, which need no sort)."""
        if isinstance(node, Dense):
            return node.drop(j)
        kept = tuple(c for c in cols if c != j)
        if self.fits(kept):
            return self.dense(kept)
        if node is None:
            return self.prefix(kept)
        at = node.cols.index(j)
        below = self.bits_of(node.cols[at + 1 :])
        key, counts, settled = node.key, node.counts, node.settled
        run = key >> (below + self.widths[j])  # the columns before j: sorted, as the key is
        busy = in_runs_of_two(run)
        if busy is not None:  # the rest is alone in its run: settled
            counts = counts[busy]
            settled = settled.plus(node.active.minus(Tally().add(counts)))
            key, run = key[busy], run[busy]
        if below:
            self.sorted_rows += len(key)
            if self.sorted_rows > self.budget:
                return self.prefix(kept)
        child = (run << below) | (key & ((1 << below) - 1)) if below else run
        kept = node.cols[:at] + node.cols[at + 1 :]  # most distinct values first
        return Sparse(
            kept,
            *sorted_classes(child, counts, self.bits_of(kept), partly_sorted=True),
            settled,
            node.pairs,
        )


def _none() -> Decoded:
    raise InternalError("a part of a lattice is never decoded")
