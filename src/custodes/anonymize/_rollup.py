"""The classes of a transformation rolled up from those of one below it, for the search.

The search evaluates thousands of transformations; each one's classes are
grouped from the classes of a transformation already computed below it, and
that grouping is nearly all of the search's time. It is made cheap here:

- A class is one integer, its *packed key*: its node ids, column by column,
  with fixed multipliers (the number of values of the columns after it), so
  keys compare like the node ids read first column first. Rolling up rewrites
  the key only in the columns that move up; the others cost nothing, and a
  transformation held for later costs 16 bytes a class.
- Classes are kept in ascending order of their keys. Node ids follow the
  hierarchy's tree (see ``_scheme`` in :mod:`custodes.anonymize._generalize`),
  so moving a column up never breaks the order between classes that differ
  in an earlier column: the new keys are sorted already, or a few sorted runs
  that a stable sort merges in a few passes. Equal keys then sit side by side
  and the classes are cut where the key changes.
- The class of every summary class is worked out only for the models that
  need it (the sensitive attributes' histograms); for the others only for
  the transformations whose value is asked for.

When the packed key would not fit 62 bits, transformations are regrouped the
general way (:func:`custodes.anonymize._generalize.apply`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes._grouping import cut_sorted
from custodes.anonymize._generalize import Generalized, Scheme, apply
from custodes.summary import Summary

__all__ = ["Classes", "Rollup"]

IntArray = npt.NDArray[np.int64]


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
        self.radix = np.asarray([s.node_counts[0] for s in schemes], dtype=np.int64)
        self.packed = float(np.prod(self.radix, dtype=np.float64)) < 2.0**62
        self.multipliers = np.cumprod([1, *self.radix[:0:-1]], dtype=np.int64)[::-1]
        self.keep_class_of = class_of or not self.packed
        bottom = apply(summary, schemes, lows)
        if self.packed:
            key = self._pack([bottom.nodes[:, j] for j in range(len(schemes))])
            first = Classes(tuple(lows), key, bottom.sizes, bottom.class_of if class_of else None)
        else:
            first = Classes(tuple(lows), bottom.sizes[:0], bottom.sizes, bottom.class_of, bottom)
        self.budget = budget
        self.items = [first]
        self.held = first.nbytes()
        self.levels = np.asarray([first.levels], dtype=np.int64)
        self.counts = np.asarray([first.classes], dtype=np.int64)

    def _pack(self, columns: Sequence[npt.NDArray[np.integer]]) -> IntArray:
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for column, multiplier in zip(columns, self.multipliers, strict=True):
            key += column.astype(np.int64) * multiplier
        return key

    def _column(self, key: IntArray, j: int) -> IntArray:
        """Node ids of column j from packed keys."""
        column = key // self.multipliers[j] if self.multipliers[j] != 1 else key
        return column % self.radix[j] if j else column

    def classes(self, levels: Sequence[int]) -> Classes:
        """The classes of the transformation ``levels`` (held for later ones)."""
        below = (self.levels <= np.asarray(levels)).all(axis=1)
        start = self.items[int(np.argmin(np.where(below, self.counts, np.iinfo(np.int64).max)))]
        if start.levels == tuple(levels):
            return start
        if start.general is not None:
            g = apply(self.summary, self.schemes, levels, start.general)
            out = Classes(tuple(levels), g.sizes[:0], g.sizes, g.class_of, g)
        else:
            out = self._roll(start, tuple(levels))
        self._hold(out)
        return out

    def _roll(self, start: Classes, levels: tuple[int, ...]) -> Classes:
        key = start.key.copy()
        for j, (low, high) in enumerate(zip(start.levels, levels, strict=True)):
            if low != high:
                column = self._column(start.key, j)
                key -= (column - self.schemes[j].up(low, high)[column]) * self.multipliers[j]
        if len(key) > 1 and bool((key[1:] < key[:-1]).any()):
            order = np.argsort(key, kind="stable")  # merges the sorted runs
            sorted_group, first, sizes = cut_sorted(key[order], start.sizes[order])
            group = np.empty(len(key), dtype=np.int64)
            group[order] = sorted_group
            first = order[first]
        else:
            group, first, sizes = cut_sorted(key, start.sizes)
        class_of = None if start.class_of is None else group[start.class_of]
        return Classes(levels, key[first], sizes, class_of)

    def generalized(self, classes: Classes) -> Generalized:
        """The classes as a :class:`Generalized` (the class of each summary class found on
        first use when it was not worked out)."""
        if classes.general is not None:
            return classes.general
        nodes = np.empty((classes.classes, len(self.schemes)), dtype=np.int64, order="F")
        for j in range(len(self.schemes)):
            nodes[:, j] = self._column(classes.key, j)
        if classes.class_of is not None:
            return Generalized(classes.levels, classes.class_of, classes.sizes, nodes)

        def find() -> IntArray:
            codes = self.summary.codes
            columns = [
                s.nodes[level][codes[:, j]]
                for j, (s, level) in enumerate(zip(self.schemes, classes.levels, strict=True))
            ]
            return np.searchsorted(classes.key, self._pack(columns)).astype(np.int64)

        return Generalized(classes.levels, find, classes.sizes, nodes)

    def _hold(self, classes: Classes) -> None:
        """Remember a transformation, forgetting the oldest (never the bottom) beyond the budget."""
        self.items.append(classes)
        self.held += classes.nbytes()
        self.levels = np.vstack([self.levels, np.asarray(classes.levels)[None, :]])
        self.counts = np.append(self.counts, classes.classes)
        drop = 1
        while self.held > self.budget and drop < len(self.items) - 1:
            self.held -= self.items[drop].nbytes()
            drop += 1
        if drop > 1:
            self.items = [self.items[0], *self.items[drop:]]
            self.levels = np.concatenate([self.levels[:1], self.levels[drop:]])
            self.counts = np.concatenate([self.counts[:1], self.counts[drop:]])
