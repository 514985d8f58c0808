"""Equivalence classes and the prosecutor, journalist and marketer attacker models.

Definitions follow ARX (El Emam's attacker models): a record in a class of
size f has prosecutor risk 1/f; the average prosecutor risk (the marketer's
success rate) is classes/rows; a record is *at risk* when its risk is strictly
above the threshold. Journalist risk uses the size F of the record's class in
a population table when one is given, else it equals the prosecutor risk (the
sample is taken as the population, as ARX does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.summary import Summary

__all__ = [
    "AttackerRisk",
    "ClassStatistics",
    "attacker_risk",
    "class_statistics",
    "prosecutor_risk",
]


@dataclass(frozen=True)
class ClassStatistics:
    """Sizes of the equivalence classes."""

    count: int
    min_size: int
    avg_size: float
    max_size: int
    histogram: tuple[tuple[int, int], ...]
    """(class size, number of classes of that size), ascending."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "count": self.count,
            "min_size": self.min_size,
            "avg_size": self.avg_size,
            "max_size": self.max_size,
            "histogram": [{"size": s, "classes": c} for s, c in self.histogram],
        }


@dataclass(frozen=True)
class AttackerRisk:
    """Re-identification risk for one attacker model."""

    highest_risk: float
    average_risk: float
    records_at_risk: float
    """Fraction of records whose risk is strictly above the threshold."""
    records_at_highest_risk: float
    basis: str
    """'sample' or 'population table'."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "highest_risk": self.highest_risk,
            "average_risk": self.average_risk,
            "records_at_risk": self.records_at_risk,
            "records_at_highest_risk": self.records_at_highest_risk,
            "basis": self.basis,
        }


def class_statistics(
    summary: Summary, frequencies: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
) -> ClassStatistics:
    """Count, size range and size histogram of the equivalence classes (``frequencies``:
    the summary's class size frequencies, when already counted)."""
    sizes, freq = frequencies or summary.class_size_frequencies()
    if summary.classes == 0:
        return ClassStatistics(0, 0, 0.0, 0, ())
    return ClassStatistics(
        count=summary.classes,
        min_size=int(sizes[0]),
        avg_size=summary.rows / summary.classes,
        max_size=int(sizes[-1]),
        histogram=tuple((int(s), int(f)) for s, f in zip(sizes, freq, strict=True)),
    )


def _risk(
    reference: npt.NDArray[np.int64], records: npt.NDArray[np.int64], threshold: float, basis: str
) -> AttackerRisk:
    """``records[i]`` records have risk 1 / ``reference[i]``."""
    rows = int(records.sum())
    if rows == 0:
        return AttackerRisk(0.0, 0.0, 0.0, 0.0, basis)
    risk = 1.0 / reference.astype(np.float64)
    highest = float(risk.max())
    weights = records.astype(np.float64)
    return AttackerRisk(
        highest_risk=highest,
        average_risk=float((weights * risk).sum() / rows),
        records_at_risk=float(weights[risk > threshold].sum() / rows),
        records_at_highest_risk=float(weights[risk == highest].sum() / rows),
        basis=basis,
    )


def attacker_risk(
    sample_sizes: npt.NDArray[np.int64],
    threshold: float,
    reference_sizes: npt.NDArray[np.int64] | None = None,
) -> AttackerRisk:
    """Risk of records in classes of ``sample_sizes`` against reference class sizes.

    With no reference the sample is the population (prosecutor model); with a
    reference (population class sizes per sample class) it is the journalist model.
    """
    if reference_sizes is None:
        return _risk(sample_sizes, sample_sizes, threshold, "sample")
    return _risk(reference_sizes, sample_sizes, threshold, "population table")


def prosecutor_risk(
    sizes: npt.NDArray[np.int64], freq: npt.NDArray[np.int64], threshold: float
) -> AttackerRisk:
    """The prosecutor model from the class size frequencies (``freq[i]`` classes of size
    ``sizes[i]``): :func:`attacker_risk` with the classes of one size taken together."""
    return _risk(sizes, sizes * freq, threshold, "sample")
