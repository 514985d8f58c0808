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

import math
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
    # The original classes that are suppressed, and their records: the sums below are
    # taken per value (code), over all classes for what is kept, over these for what is cut.
    cut = _classes_within(summary, schemes, generalized, suppressed)
    cut_counts = counts[cut]
    columns = []
    for j, scheme in enumerate(schemes):
        level = generalized.levels[j]
        codes = summary.codes[:, j]
        code_freq = np.bincount(codes, weights=counts, minlength=len(scheme.nodes[level]))
        cut_freq = np.bincount(codes[cut], weights=cut_counts, minlength=len(code_freq))
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


PACKED_TABLE = 1 << 26
"""Largest number of node combinations for which :func:`_classes_within` marks the flagged
ones in a table (a byte each) instead of finding every class's generalized class."""


def _classes_within(
    summary: Summary,
    schemes: Sequence[Scheme],
    generalized: Generalized,
    flagged: npt.NDArray[np.bool_],
) -> npt.NDArray[np.intp]:
    """The summary's classes (ascending) whose generalized class is ``flagged``.

    A class's generalized class is the one holding its nodes at the transformation's
    levels. Unless :attr:`Generalized.class_of` is at hand (the search most often leaves
    it to be found, a search for every class) and when the combinations of nodes are few,
    the flagged classes' combinations are marked in a table and each summary class is
    looked up by its own nodes, packed into one number.
    """
    if not flagged.any():
        return np.empty(0, dtype=np.intp)
    pairs = list(zip(schemes, generalized.levels, strict=True))
    radix = [scheme.node_counts[level] for scheme, level in pairs]
    if generalized.class_of_known or math.prod(radix) > PACKED_TABLE:
        return np.flatnonzero(flagged[generalized.class_of])
    # Each column's nodes scaled to their place in the packed number (which fits 32 bits).
    key = np.zeros(summary.classes, dtype=np.int32)
    flagged_key = np.zeros(int(flagged.sum()), dtype=np.int64)
    place = math.prod(radix)
    for j, (scheme, level) in enumerate(pairs):
        place //= radix[j]
        key += (scheme.nodes[level] * place).astype(np.int32)[summary.codes[:, j]]
        flagged_key += generalized.nodes[flagged, j] * place
    marked = np.zeros(math.prod(radix), dtype=np.bool_)
    marked[flagged_key] = True
    return np.flatnonzero(marked[key])
