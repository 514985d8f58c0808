"""What the search minimises: ARX's Loss by default, or another utility measure.

Every objective gives a transformation's value and a lower bound of it that
needs no grouping and never decreases when a column is generalized further,
which is what lets the search stop early with a proven optimum.

- ``loss``: ARX's default Loss (see :mod:`custodes.anonymize._loss`).
- ``precision``: Sweeney's precision loss, the mean over cells of level / height
  (a suppressed cell counts 1).
- ``discernibility``: the sum of squared class sizes, a suppressed record
  counting as the whole table; divided by N squared.
- ``aecs``: the average equivalence class size divided by N (suppressed
  records form one class).
- ``entropy``: non-uniform entropy, the mean bits lost per cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from custodes.anonymize._generalize import Generalized, Scheme
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._tally import Tally
from custodes.anonymize._utility import bits_lost, utility
from custodes.errors import SettingError, closest
from custodes.summary import Summary

__all__ = ["OBJECTIVES", "Objective"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
OBJECTIVES = ("loss", "precision", "discernibility", "aecs", "entropy")


def _per_level(summary: Summary, schemes: Sequence[Scheme], j: int) -> list[float]:
    """Mean bits lost per record of column j at each level, nothing suppressed."""
    counts = summary.counts.astype(np.float64)
    codes = summary.codes[:, j]
    code_freq = np.bincount(codes, weights=counts)
    scheme = schemes[j]
    return [
        float((code_freq * bits_lost(code_freq, scheme, level)).sum() / counts.sum())
        for level in range(scheme.height + 1)
    ]


@dataclass(frozen=True)
class Objective:
    """One of :data:`OBJECTIVES`, with the Loss metric's factor for ``loss``."""

    name: str = "loss"
    metric: LossMetric = field(default_factory=LossMetric)

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            hint = closest(self.name, OBJECTIVES)
            extra = f" Did you mean {hint!r}?" if hint else ""
            raise SettingError(
                f"objective {self.name!r} is not known.{extra} Choose one of "
                f"{', '.join(OBJECTIVES)}."
            )

    def lower_bounds(
        self, summary: Summary, schemes: Sequence[Scheme], nodes: IntArray
    ) -> FloatArray:
        """A bound per node (row of levels) that ignores suppression."""
        if self.name == "entropy":
            by_level = [_per_level(summary, schemes, j) for j in range(len(schemes))]
            return self._combine(by_level, nodes)
        counts = summary.counts.astype(np.int64)
        records = [
            np.bincount(summary.codes[:, j], weights=counts).astype(np.int64)
            for j in range(len(schemes))
        ]
        squares = int((counts * counts).sum())
        return self.bounds_of(records, summary.rows, summary.classes, squares, schemes, nodes)

    def bounds_of(
        self,
        records_per_code: Sequence[IntArray],
        rows: int,
        classes: int,
        squares: int,
        schemes: Sequence[Scheme],
        nodes: IntArray,
    ) -> FloatArray:
        """The bounds of :meth:`lower_bounds` from what they need of the summary: each
        column's records per code, the records, classes and their squared sizes."""
        if self.name == "entropy":
            raise SettingError("the entropy objective needs the summary's classes in memory.")
        if self.name in ("discernibility", "aecs"):
            value = squares / rows**2 if self.name == "discernibility" else rows / classes / rows
            return np.full(len(nodes), value)
        by_level: list[list[float]] = []
        for scheme, per_code in zip(schemes, records_per_code, strict=True):
            if self.name == "precision":
                levels = range(scheme.height + 1)
                by_level.append([lv / scheme.height if scheme.height else 0.0 for lv in levels])
                continue
            column = []
            for level in range(scheme.height + 1):
                covered = int((per_code * scheme.covers[level][scheme.nodes[level]]).sum())
                cost = self.metric.g_factor * (covered / scheme.leaves)
                column.append(self.metric.normalize(cost, rows, scheme.leaves))
            by_level.append(column)
        return self._combine(by_level, nodes)

    def _combine(self, by_level: Sequence[Sequence[float]], nodes: IntArray) -> FloatArray:
        """Each node's bound from each column's bound per level."""
        per_column = np.zeros(nodes.shape)
        for j, column in enumerate(by_level):
            per_column[:, j] = np.asarray(column)[nodes[:, j]]
        if self.name == "loss":
            return np.asarray(np.exp(np.log1p(per_column).mean(axis=1)) - 1.0)
        return np.asarray(per_column.mean(axis=1))

    def value(
        self,
        summary: Summary,
        schemes: Sequence[Scheme],
        generalized: Generalized,
        suppressed: npt.NDArray[np.bool_],
    ) -> float:
        """The objective of a transformation with its suppressed classes."""
        if self.name == "entropy":
            measures = utility(summary, schemes, generalized, suppressed)
            return float(np.mean([c.non_uniform_entropy for c in measures.columns]))
        covers = [
            scheme.covers[level][generalized.nodes[:, j]]
            for j, (scheme, level) in enumerate(zip(schemes, generalized.levels, strict=True))
        ]
        tally = Tally.of(generalized.sizes, suppressed, covers)
        return self.value_of(tally, generalized.levels, schemes)

    def value_of(self, tally: Tally, levels: Sequence[int], schemes: Sequence[Scheme]) -> float:
        """The objective from a transformation's sums (:class:`Tally`); not ``entropy``."""
        rows = tally.rows
        dropped = tally.suppressed
        if self.name == "loss":
            leaves = [s.leaves for s in schemes]
            return self.metric.aggregate(self.metric.per_column_of(tally, leaves))
        if self.name == "discernibility":
            return (tally.kept_squares + dropped * rows) / rows**2
        if self.name == "aecs":
            classes = tally.classes - tally.suppressed_classes + (1 if dropped else 0)
            return rows / classes / rows if classes else 1.0
        if self.name == "precision":
            kept = rows - dropped
            per = [
                (kept * lv / s.height if s.height else 0.0) + dropped
                for s, lv in zip(schemes, levels, strict=True)
            ]
            return float(np.mean(per)) / rows
        raise SettingError("the entropy objective needs the summary's classes in memory.")
