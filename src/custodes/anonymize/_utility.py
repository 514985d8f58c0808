"""Utility of a release: how much each column was coarsened, and class-based measures.

Computed from the summary and the chosen transformation, for the manifest:

- per column: *generalization intensity* (level / height), *granularity* (the
  mean share of the hierarchy's values a released value covers, 1 for '*'),
  *non-uniform entropy* (Gionis and Tassa: the mean number of bits lost,
  -log2(frequency of the original value / frequency of its generalized value);
  a suppressed cell loses all of -log2(frequency of the original value)) and
  the *missing fraction* (cells released as '*');
- for the table: *discernibility* (the sum of squared class sizes, a
  suppressed record counting as the whole table) and the *average class size*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.anonymize._generalize import Generalized, Scheme
from custodes.summary import Summary

__all__ = ["ColumnUtility", "Utility", "bits_lost", "utility"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ColumnUtility:
    """How one quasi-identifier was coarsened."""

    column: str
    level: int
    generalization_intensity: float
    granularity: float
    non_uniform_entropy: float
    missing_fraction: float

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "column": self.column,
            "level": self.level,
            "generalization_intensity": self.generalization_intensity,
            "granularity": self.granularity,
            "non_uniform_entropy": self.non_uniform_entropy,
            "missing_fraction": self.missing_fraction,
        }


@dataclass(frozen=True)
class Utility:
    """Utility measures of a release."""

    columns: tuple[ColumnUtility, ...]
    discernibility: float
    average_class_size: float

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "columns": [c.to_dict() for c in self.columns],
            "discernibility": self.discernibility,
            "average_class_size": self.average_class_size,
        }


def bits_lost(code_freq: npt.ArrayLike, scheme: Scheme, level: int) -> FloatArray:
    """Bits each code loses at ``level``: -log2(its records / its node's records)."""
    freq = np.asarray(code_freq, dtype=np.float64)
    nodes = scheme.nodes[level]
    node_freq = np.bincount(nodes, weights=freq, minlength=scheme.node_counts[level])
    return np.asarray(-np.log2(freq / node_freq[nodes]), dtype=np.float64)


def utility(
    summary: Summary,
    schemes: Sequence[Scheme],
    generalized: Generalized,
    suppressed: npt.NDArray[np.bool_],
) -> Utility:
    """The measures of the transformation ``generalized`` with ``suppressed`` classes."""
    rows = float(summary.rows)
    counts = summary.counts.astype(np.float64)
    # Records of each original class that are suppressed: the sums below are taken per
    # value (code), so no array as long as the summary is made per column but one count.
    cut_counts = np.where(suppressed[generalized.class_of], counts, 0.0)
    columns = []
    for j, scheme in enumerate(schemes):
        level = generalized.levels[j]
        codes = summary.codes[:, j]
        code_freq = np.bincount(codes, weights=counts, minlength=len(scheme.nodes[level]))
        cut_freq = np.bincount(codes, weights=cut_counts, minlength=len(code_freq))
        kept_freq = code_freq - cut_freq
        kept_bits = bits_lost(code_freq, scheme, level)
        with np.errstate(divide="ignore"):  # a value no record holds loses nothing
            all_bits = np.where(code_freq > 0, -np.log2(code_freq / rows), 0.0)
        share = scheme.shares[level][scheme.nodes[level]]
        lost = float((kept_freq * np.nan_to_num(kept_bits)).sum() + (cut_freq * all_bits).sum())
        is_top = level == scheme.height
        missing = rows if is_top else float(cut_freq.sum())
        columns.append(
            ColumnUtility(
                column=scheme.name,
                level=level,
                generalization_intensity=level / scheme.height if scheme.height else 0.0,
                granularity=float(((kept_freq * share).sum() + cut_freq.sum()) / rows),
                non_uniform_entropy=lost / rows,
                missing_fraction=missing / rows,
            )
        )
    sizes = generalized.sizes.astype(np.float64)
    kept = sizes[~suppressed]
    suppressed_records = float(sizes[suppressed].sum())
    classes = len(kept) + (1 if suppressed_records else 0)
    return Utility(
        columns=tuple(columns),
        discernibility=float((kept**2).sum() + suppressed_records * rows),
        average_class_size=rows / classes if classes else 0.0,
    )
