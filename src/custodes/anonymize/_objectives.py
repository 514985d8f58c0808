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
        rows = float(summary.rows)
        if self.name in ("discernibility", "aecs"):
            bottom = summary.counts.astype(np.float64)
            if self.name == "discernibility":
                value = float((bottom**2).sum()) / rows**2
            else:
                value = rows / len(bottom) / rows
            return np.full(len(nodes), value)
        per_column = np.zeros(nodes.shape)
        for j, scheme in enumerate(schemes):
            if self.name == "precision":
                by_level = [
                    lv / scheme.height if scheme.height else 0.0 for lv in range(scheme.height + 1)
                ]
            elif self.name == "entropy":
                by_level = _per_level(summary, schemes, j)
            else:
                records_per_code = np.bincount(summary.codes[:, j], weights=summary.counts)
                by_level = []
                for level in range(scheme.height + 1):
                    share = scheme.shares[level][scheme.nodes[level]]
                    cost = self.metric.g_factor * float((records_per_code * share).sum())
                    by_level.append(self.metric.normalize(cost, rows, scheme.leaves))
            per_column[:, j] = np.asarray(by_level)[nodes[:, j]]
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
        rows = float(summary.rows)
        sizes = generalized.sizes.astype(np.float64)
        dropped = float(sizes[suppressed].sum())
        if self.name == "loss":
            leaves = [s.leaves for s in schemes]
            return self.metric.aggregate(
                self.metric.per_column(generalized, schemes, suppressed, leaves)
            )
        if self.name == "discernibility":
            return (float((sizes[~suppressed] ** 2).sum()) + dropped * rows) / rows**2
        if self.name == "aecs":
            classes = int((~suppressed).sum()) + (1 if dropped else 0)
            return rows / classes / rows if classes else 1.0
        if self.name == "precision":
            kept = rows - dropped
            per = [
                (kept * lv / s.height if s.height else 0.0) + dropped
                for s, lv in zip(schemes, generalized.levels, strict=True)
            ]
            return float(np.mean(per)) / rows
        measures = utility(summary, schemes, generalized, suppressed)
        return float(np.mean([c.non_uniform_entropy for c in measures.columns]))
