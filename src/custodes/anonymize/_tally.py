"""A transformation's figures as exact sums over its classes.

Everything the search's objectives need of a transformation under k-anonymity
is a sum over its classes: how many there are, the records and classes
suppressed, the squares of the kept sizes, and per column the leaves the
classes' values cover, weighted by their sizes. Kept as whole numbers, these
sums are the same in any order and over any split of the classes, so a
transformation whose classes are counted part by part (a summary spilled to
disk, :mod:`custodes.anonymize._spill`) gets the very figures the classes in
memory get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Tally"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Tally:
    """Sums over the classes of one transformation (see the module's docstring)."""

    rows: int
    """Records in all classes, suppressed or not."""
    classes: int
    suppressed_classes: int
    suppressed: int
    """Records in suppressed classes."""
    kept_squares: int
    """Sum of the squared sizes of the classes kept."""
    kept_cover: tuple[int, ...]
    """Per column, the sum over kept classes of size times the leaves its value covers."""
    suppressed_cover: tuple[int, ...]
    """The same over the suppressed classes."""

    @classmethod
    def of(
        cls,
        sizes: IntArray,
        suppressed: npt.NDArray[np.bool_],
        covers: Sequence[IntArray],
    ) -> Tally:
        """The tally of classes of ``sizes``; ``covers[j]``: the leaves each class's value
        of column j covers."""
        sizes = sizes.astype(np.int64, copy=False)
        kept = ~suppressed
        held, dropped = sizes[kept], sizes[suppressed]
        return cls(
            rows=int(sizes.sum()),
            classes=len(sizes),
            suppressed_classes=len(dropped),
            suppressed=int(dropped.sum()),
            kept_squares=int((held * held).sum()),
            kept_cover=tuple(int((held * c[kept]).sum()) for c in covers),
            suppressed_cover=tuple(int((dropped * c[suppressed]).sum()) for c in covers),
        )

    @classmethod
    def empty(cls, columns: int) -> Tally:
        """The tally of no classes."""
        return cls(0, 0, 0, 0, 0, (0,) * columns, (0,) * columns)

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            rows=self.rows + other.rows,
            classes=self.classes + other.classes,
            suppressed_classes=self.suppressed_classes + other.suppressed_classes,
            suppressed=self.suppressed + other.suppressed,
            kept_squares=self.kept_squares + other.kept_squares,
            kept_cover=tuple(a + b for a, b in zip(self.kept_cover, other.kept_cover, strict=True)),
            suppressed_cover=tuple(
                a + b for a, b in zip(self.suppressed_cover, other.suppressed_cover, strict=True)
            ),
        )
