"""l-diversity of a sensitive attribute: distinct, entropy and recursive-(c,l).

All three are computed for every class at once, from the dense counts when
they fit in memory (:meth:`SensitiveHistogram.matrix`), else from the sparse
triples.
Definitions (Machanavajjhala et al. 2007, as in ARX): a class is distinct
l-diverse with l distinct values; entropy l-diverse when its value entropy is
at least log(l), so its entropy-l is exp(H); recursive-(c,l) diverse when
r1 < c (r_l + ... + r_m) for its value counts r1 >= r2 >= ... >= r_m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.summary import SensitiveHistogram

__all__ = ["ClassDiversity", "LDiversity", "class_diversity", "l_diversity"]


@dataclass(frozen=True)
class LDiversity:
    """The l each variant reaches: the minimum over all classes."""

    distinct: int
    entropy: float
    recursive_c: float
    recursive_l: int
    homogeneous_classes: int
    """Classes in which every record has the same sensitive value."""
    records_in_homogeneous_classes: float
    """Fraction of records exposed to a homogeneity attack."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "distinct": self.distinct,
            "entropy": self.entropy,
            "recursive": {"c": self.recursive_c, "l": self.recursive_l},
            "homogeneous_classes": self.homogeneous_classes,
            "records_in_homogeneous_classes": self.records_in_homogeneous_classes,
        }


@dataclass(frozen=True, eq=False)
class ClassDiversity:
    """Per-class diversity of one sensitive attribute (arrays indexed by class)."""

    distinct: npt.NDArray[np.int64]
    entropy: npt.NDArray[np.float64]
    """exp(entropy): the entropy-l each class reaches."""
    recursive: npt.NDArray[np.int64]
    """The largest l for which the class is recursive-(c,l) diverse."""
    totals: npt.NDArray[np.float64]


def class_diversity(hist: SensitiveHistogram, classes: int, c: float = 4.0) -> ClassDiversity:
    """Distinct, entropy and recursive-(c,l) diversity of every class."""
    matrix = hist.matrix(classes)
    if matrix is not None:
        return _dense_diversity(matrix, c)
    cls = hist.class_index
    counts = hist.count.astype(np.float64)
    totals = hist.class_totals(classes)

    distinct = np.bincount(cls, minlength=classes)
    p = counts / totals[cls]
    entropy = -np.bincount(cls, weights=p * np.log(p), minlength=classes)

    # Recursive: rank values in each class by count, descending; the class is
    # (c,l)-diverse while r1 < c * (r_l + ... + r_m), a prefix of ranks l.
    top = int(hist.count.max()) if len(hist.count) else 0
    order = np.argsort(cls * (top + 1) + (top - hist.count))  # ties have equal counts
    cls_sorted = cls[order]
    cnt_sorted = counts[order]
    cum = np.cumsum(cnt_sorted)
    starts = np.flatnonzero(np.r_[True, cls_sorted[1:] != cls_sorted[:-1]])
    start_of = np.repeat(starts, np.diff(np.r_[starts, len(cls_sorted)]))
    before = cum - cnt_sorted - np.r_[0.0, cum][start_of]  # counts ranked before this one
    tail = totals[cls_sorted] - before  # r_i + ... + r_m for this rank i
    r1 = cnt_sorted[start_of]
    satisfied = c * tail > r1
    recursive = np.bincount(cls_sorted[satisfied], minlength=classes)
    return ClassDiversity(
        distinct.astype(np.int64), np.exp(entropy), recursive.astype(np.int64), totals
    )


def _dense_diversity(matrix: npt.NDArray[np.float64], c: float) -> ClassDiversity:
    """:func:`class_diversity` on dense counts (one row per class)."""
    present = matrix > 0
    totals = matrix.sum(axis=1)
    p = matrix / np.maximum(totals, 1.0)[:, None]
    log_p = np.zeros_like(p)
    np.log(p, out=log_p, where=present)
    entropy = -(p * log_p).sum(axis=1)
    ranked = -np.sort(-matrix, axis=1)  # counts in descending order
    tail = totals[:, None] - (np.cumsum(ranked, axis=1) - ranked)  # r_i + ... + r_m
    satisfied = (ranked > 0) & (c * tail > ranked[:, :1])
    return ClassDiversity(
        present.sum(axis=1).astype(np.int64),
        np.exp(entropy),
        satisfied.sum(axis=1).astype(np.int64),
        np.asarray(totals, dtype=np.float64),
    )


def l_diversity(hist: SensitiveHistogram, classes: int, c: float = 4.0) -> LDiversity:
    """Distinct, entropy and recursive-(c,l) diversity of one attribute."""
    if classes == 0:
        return LDiversity(0, 0.0, c, 0, 0, 0.0)
    per_class = class_diversity(hist, classes, c)
    homogeneous = per_class.distinct == 1
    totals = per_class.totals
    return LDiversity(
        distinct=int(per_class.distinct.min()),
        entropy=float(per_class.entropy.min()),
        recursive_c=c,
        recursive_l=int(per_class.recursive.min()),
        homogeneous_classes=int(homogeneous.sum()),
        records_in_homogeneous_classes=float(totals[homogeneous].sum() / totals.sum()),
    )
