"""The classes of a transformation rolled up from those of one below it, for the search.

The search evaluates thousands of transformations; each one's classes are
grouped from the classes of a transformation already computed below it, and
that grouping is nearly all of the search's time. It is made cheap here:

- A class is one integer, its *packed key*: its node ids, column by column,
  each in a fixed field of bits (wide enough for the column's values at
  level 0), so keys compare like the node ids read first column first.
  Rolling up rewrites the key only in the columns that move up; the others
  cost nothing, and a transformation held for later costs 16 bytes a class.
- Classes are kept in ascending order of their keys. From level 1 up, node
  ids follow the hierarchy's tree (see ``_scheme`` in
  :mod:`custodes.anonymize._generalize`), so moving a column up never breaks
  the order between classes that differ in an earlier column: the new keys
  are sorted already, or sorted runs. Few runs are merged by a stable sort,
  many sorted by digits (:func:`custodes._grouping.sorting_order`); equal
  keys then sit side by side and the classes are cut where the key changes.
- The class of every summary class is worked out only for the models that
  need it (the sensitive attributes' histograms); for the others only for
  the transformations whose value is asked for.
- Each transformation starts from the held one below it with the fewest
  classes; *hubs* (see :meth:`Rollup.classes`) spare most of the starts from
  the bottom.

When the packed key would not fit 62 bits, transformations are regrouped the
general way (:func:`custodes.anonymize._generalize.apply`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes._grouping import sorting_order
from custodes.anonymize._generalize import Generalized, Scheme, apply
from custodes.summary import Summary

__all__ = ["Classes", "Packing", "Rollup"]

IntArray = npt.NDArray[np.int64]
_NONE: IntArray = np.zeros(0, dtype=np.int64)
"""Marks class numbers that are not to be worked out."""


@dataclass(frozen=True, eq=False)
class Classes:
    """The classes of one transformation: packed keys (ascending) and sizes."""

    levels: tuple[int, ...]
    key: IntArray
    sizes: IntArray
    class_of: IntArray | None
    """For each summary class, its class here (None when not worked out)."""
    general: Generalized | None = None
    """The classes as :func:`apply` found them, when keys do not fit (``key`` is then empty)."""

    @property
    def classes(self) -> int:
        """Number of classes."""
        return len(self.sizes)

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        held = self.key.nbytes + self.sizes.nbytes
        if self.class_of is not None:
            held += self.class_of.nbytes
        if self.general is not None:
            held += self.general.nodes.nbytes
        return held


class Packing:
    """Packed keys: a class's node ids, column by column, each in a fixed field of bits.

    The field of a column is as wide as its values at level 0, so a key at any
    level compares like the node ids read first column first (``fits``: the
    fields take at most 62 bits).
    """

    def __init__(self, schemes: Sequence[Scheme]) -> None:
        self.schemes = tuple(schemes)
        bits = [_bits(s.node_counts[0]) for s in schemes]
        self.fits = sum(bits) <= 62
        self.shifts = [sum(bits[j + 1 :]) for j in range(len(bits))]
        self.masks = [(1 << b) - 1 for b in bits]

    def column(self, key: IntArray, j: int) -> IntArray:
        """Node ids of column j from packed keys."""
        return (key >> self.shifts[j]) & self.masks[j]

    def pack(self, codes: npt.NDArray[np.int32], levels: Sequence[int]) -> IntArray:
        """The packed key at ``levels`` of each row of summary codes."""
        key = np.zeros(len(codes), dtype=np.int64)
        for j, (scheme, level, shift) in enumerate(
            zip(self.schemes, levels, self.shifts, strict=True)
        ):
            key |= scheme.nodes[level][codes[:, j]] << shift
        return key

    def roll(self, key: IntArray, low: Sequence[int], high: Sequence[int]) -> IntArray:
        """Keys at levels ``low`` rewritten at levels ``high`` (at or above, column by column)."""
        out = key.copy()
        for j, (a, b) in enumerate(zip(low, high, strict=True)):
            if a != b:
                column = self.column(key, j)
                out -= (column - self.schemes[j].up(a, b)[column]) << self.shifts[j]
        return out

    def order(self, key: IntArray, levels: Sequence[int]) -> IntArray | None:
        """The order that sorts ``key`` (None: sorted already).

        Sorting by digits takes the node ids at ``levels`` packed tight: a move
        of a column whose values number thousands (days to decades, say) leaves
        a run per day but a key of a few bits.
        """
        widths = [
            _bits(s.node_counts[level]) for s, level in zip(self.schemes, levels, strict=True)
        ]

        def tight() -> IntArray:
            packed = np.zeros(len(key), dtype=np.int64)
            for j, width in enumerate(widths):
                packed <<= width
                packed |= self.column(key, j)
            return packed

        return sorting_order(key, sum(widths), tight)

    def group(
        self, key: IntArray, weights: IntArray, levels: Sequence[int]
    ) -> tuple[IntArray, IntArray]:
        """Distinct keys at ``levels`` (ascending) and the weights summed for each."""
        order = self.order(key, levels)
        if order is not None:
            key, weights = key[order], weights[order]
        if len(key) == 0:
            return key, weights.astype(np.int64)
        new = np.empty(len(key), dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        first = np.flatnonzero(new)
        return key[first], np.add.reduceat(weights, first).astype(np.int64, copy=False)


class Rollup:
    """Computes transformations' classes, each from the closest below already computed.

    Holds the transformations computed so far, the oldest forgotten beyond a
    memory budget, and rolls each new one up from the held one below it with
    the fewest classes.
    """

    def __init__(
        self,
        summary: Summary,
        schemes: Sequence[Scheme],
        lows: Sequence[int],
        *,
        class_of: bool,
        budget: int = 256 << 20,
    ) -> None:
        self.summary = summary
        self.schemes = tuple(schemes)
        self.packing = Packing(schemes)
        self.packed = self.packing.fits
        if self.packed:  # the summary's classes, each a key, grouped like any roll
            key = self.packing.pack(summary.codes, lows)
            first = self._group(tuple(lows), key, summary.counts, None if class_of else _NONE)
        else:
            bottom = apply(summary, schemes, lows)
            first = Classes(tuple(lows), bottom.sizes[:0], bottom.sizes, bottom.class_of, bottom)
        self.budget = budget
        self.items = [first]
        self.bytes_held = first.nbytes()
        self.wanted: dict[tuple[int, ...], int] = {}  # hubs: how often one was wanted
        # Levels and class counts of the held items, in rows 0..len(items)-1 (room to grow).
        self.levels = np.zeros((64, len(lows)), dtype=np.int64)
        self.counts = np.zeros(64, dtype=np.int64)
        self.levels[0], self.counts[0] = first.levels, first.classes

    def classes(self, levels: Sequence[int]) -> Classes:
        """The classes of the transformation ``levels`` (held for later ones).

        A transformation with every level at most one above the bottom's is
        a *hub*: the second time one would start from the bottom and the same
        hub lies below it, the hub is computed and held too, so this one and
        the later ones above it start from its classes instead of the
        bottom's (often ten times as many).
        """
        levels = tuple(levels)
        start = self._start(levels)
        if start.levels == levels:
            return start
        if start is self.items[0]:
            bottom = start.levels
            hub = tuple(min(level, low + 1) for level, low in zip(levels, bottom, strict=True))
            self.wanted[hub] = self.wanted.get(hub, 0) + 1
            # Wanted again (likely to serve more), and not held (with as many classes as
            # the bottom, a held hub is passed over for it).
            hub_held = (self.levels[: len(self.items)] == hub).all(axis=1).any()
            if hub != levels and self.wanted[hub] > 1 and not hub_held:
                start = self._compute(hub, start)
                self._hold(start)
        out = self._compute(levels, start)
        self._hold(out)
        return out

    def _start(self, levels: tuple[int, ...]) -> Classes:
        """The held transformation at or below ``levels`` with the fewest classes."""
        held = len(self.items)
        below = (self.levels[:held] <= levels).all(axis=1)
        fewest = np.argmin(np.where(below, self.counts[:held], np.iinfo(np.int64).max))
        return self.items[int(fewest)]

    def _compute(self, levels: tuple[int, ...], start: Classes) -> Classes:
        if start.levels == levels:
            return start
        if start.general is not None:
            g = apply(self.summary, self.schemes, levels, start.general)
            return Classes(levels, g.sizes[:0], g.sizes, g.class_of, g)
        return self._roll(start, levels)

    def _roll(self, start: Classes, levels: tuple[int, ...]) -> Classes:
        key = self.packing.roll(start.key, start.levels, levels)
        return self._group(
            levels, key, start.sizes, _NONE if start.class_of is None else start.class_of
        )

    def _group(
        self,
        levels: tuple[int, ...],
        key: IntArray,
        weights: IntArray,
        class_of: IntArray | None,
    ) -> Classes:
        """The classes of rows with packed keys at ``levels`` (in any order) and sizes.

        ``class_of`` gives the row of each summary class (None: the rows are the
        summary's classes; :data:`_NONE`: not worked out).
        """
        order = self.packing.order(key, levels)
        if order is not None:
            key, weights = key[order], weights[order]
        new = np.empty(len(key), dtype=bool)
        new[:1] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        first = np.flatnonzero(new)
        sizes = np.add.reduceat(weights, first) if len(first) else weights[:0]
        found = None
        if class_of is not _NONE:  # the class of each row, then of each summary class
            group = np.cumsum(new, dtype=np.int64) - 1
            if order is not None:
                unsorted = np.empty_like(group)
                unsorted[order] = group
                group = unsorted
            found = group if class_of is None else group[class_of]
        return Classes(levels, key[first], np.asarray(sizes, dtype=np.int64), found)

    def generalized(self, classes: Classes) -> Generalized:
        """The classes as a :class:`Generalized` (the class of each summary class found on
        first use when it was not worked out)."""
        if classes.general is not None:
            return classes.general
        nodes = np.empty((classes.classes, len(self.schemes)), dtype=np.int64, order="F")
        for j in range(len(self.schemes)):
            nodes[:, j] = self.packing.column(classes.key, j)
        if classes.class_of is not None:
            return Generalized(classes.levels, classes.class_of, classes.sizes, nodes)

        # Found from the summary when asked, holding only what that needs (not the rollup).
        summary, packing, levels = self.summary, self.packing, classes.levels
        key = classes.key

        def find() -> IntArray:
            return np.searchsorted(key, packing.pack(summary.codes, levels)).astype(np.int64)

        return Generalized(classes.levels, find, classes.sizes, nodes)

    def _hold(self, classes: Classes) -> None:
        """Remember a transformation, forgetting the oldest (never the bottom) beyond the budget."""
        held = len(self.items)
        if held == len(self.counts):
            self.levels = np.concatenate([self.levels, np.zeros_like(self.levels)])
            self.counts = np.concatenate([self.counts, np.zeros_like(self.counts)])
        self.items.append(classes)
        self.levels[held], self.counts[held] = classes.levels, classes.classes
        self.bytes_held += classes.nbytes()
        drop = 1
        while self.bytes_held > self.budget and drop < held:
            self.bytes_held -= self.items[drop].nbytes()
            drop += 1
        if drop > 1:
            del self.items[1:drop]
            kept = len(self.items)
            self.levels[1:kept] = self.levels[drop : held + 1].copy()
            self.counts[1:kept] = self.counts[drop : held + 1].copy()


def _bits(values: int) -> int:
    """Bits that hold the numbers 0..values-1."""
    return max(1, (values - 1).bit_length())
