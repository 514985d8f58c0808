"""Privacy models: which equivalence classes of a transformation must be suppressed.

Each model marks the classes that violate it; a transformation is acceptable
when the records of all violating classes fit within the suppression limit.
Definitions follow ARX: a class smaller than k (or than l for the l-diversity
models) violates; recursive-(c,l) needs r1 < c (r_l + ... + r_m), strictly;
t-closeness needs the class's EMD to the whole table to be at most t.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from custodes.errors import SettingError
from custodes.hierarchy import Hierarchy
from custodes.risk._closeness import class_distances, smallest_close_class
from custodes.risk._diversity import class_diversity
from custodes.risk._population import population_uniqueness
from custodes.summary import SensitiveHistogram

__all__ = [
    "AverageRisk",
    "DistinctLDiversity",
    "EntropyLDiversity",
    "KAnonymity",
    "PopulationUniqueness",
    "PrivacyModel",
    "RecursiveCLDiversity",
    "TCloseness",
    "violating_classes",
]

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class KAnonymity:
    """Every class has at least k records."""

    k: int

    def __post_init__(self) -> None:
        if not isinstance(self.k, int) or self.k < 1:
            raise SettingError(f"k is {self.k!r}; k-anonymity needs a whole number k >= 1, e.g. 5.")

    @property
    def sensitive(self) -> str | None:
        """The sensitive attribute the model is about (None: none)."""
        return None

    def minimal_class_size(self, hist: SensitiveHistogram | None = None) -> int:
        """Classes smaller than this always violate."""
        return self.k

    def violations(
        self, sizes: npt.NDArray[np.int64], hist: SensitiveHistogram | None
    ) -> BoolArray:
        """Classes that violate the model."""
        return np.asarray(sizes < self.k)

    def describe(self) -> str:
        """A short name for reports."""
        return f"{self.k}-anonymity"


@dataclass(frozen=True)
class _LModel:
    attribute: str
    l: int  # noqa: E741 (the model's name for it)

    def __post_init__(self) -> None:
        if not isinstance(self.l, int | float) or self.l < 1:
            raise SettingError(f"l is {self.l!r}; l-diversity needs l >= 1, e.g. 2.")

    @property
    def sensitive(self) -> str | None:
        """The sensitive attribute the model is about."""
        return self.attribute

    def minimal_class_size(self, hist: SensitiveHistogram | None = None) -> int:
        """Classes smaller than l always violate."""
        return math.ceil(self.l)


@dataclass(frozen=True)
class DistinctLDiversity(_LModel):
    """Every class has at least l distinct values of the sensitive attribute."""

    def violations(
        self, sizes: npt.NDArray[np.int64], hist: SensitiveHistogram | None
    ) -> BoolArray:
        """Classes that violate the model."""
        assert hist is not None
        per_class = class_diversity(hist, len(sizes))
        return np.asarray((sizes < self.minimal_class_size()) | (per_class.distinct < self.l))

    def describe(self) -> str:
        """A short name for reports."""
        return f"distinct {self.l}-diversity of {self.attribute!r}"


@dataclass(frozen=True)
class EntropyLDiversity(_LModel):
    """Every class's sensitive values have entropy at least log(l)."""

    def violations(
        self, sizes: npt.NDArray[np.int64], hist: SensitiveHistogram | None
    ) -> BoolArray:
        """Classes that violate the model."""
        assert hist is not None
        per_class = class_diversity(hist, len(sizes))
        too_low = per_class.entropy < self.l * (1 - 1e-12)
        return np.asarray((sizes < self.minimal_class_size()) | too_low)

    def describe(self) -> str:
        """A short name for reports."""
        return f"entropy {self.l}-diversity of {self.attribute!r}"


@dataclass(frozen=True)
class RecursiveCLDiversity(_LModel):
    """In every class r1 < c (r_l + ... + r_m) for its sorted value counts."""

    c: float = 4.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not math.isfinite(self.c) or self.c <= 0:
            raise SettingError(f"c is {self.c!r}; recursive-(c,l) diversity needs c > 0, e.g. 4.")

    def violations(
        self, sizes: npt.NDArray[np.int64], hist: SensitiveHistogram | None
    ) -> BoolArray:
        """Classes that violate the model."""
        assert hist is not None
        per_class = class_diversity(hist, len(sizes), self.c)
        return np.asarray((sizes < self.minimal_class_size()) | (per_class.recursive < self.l))

    def describe(self) -> str:
        """A short name for reports."""
        return f"recursive-({self.c:g},{self.l}) diversity of {self.attribute!r}"


@dataclass(frozen=True)
class TCloseness:
    """Every class's distribution of the sensitive attribute is within t of the table's."""

    attribute: str
    t: float
    distance: Literal["equal", "ordered", "hierarchical"] = "hierarchical"
    hierarchy: Hierarchy | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.t <= 1.0:
            raise SettingError(f"t is {self.t!r}; t-closeness needs t in [0, 1], e.g. 0.2.")
        if self.distance == "hierarchical" and self.hierarchy is None:
            raise SettingError(
                f"hierarchical t-closeness of {self.attribute!r} needs a hierarchy for it; "
                "give one, or choose the equal or ordered distance."
            )

    @property
    def sensitive(self) -> str | None:
        """The sensitive attribute the model is about."""
        return self.attribute

    def minimal_class_size(self, hist: SensitiveHistogram | None = None) -> int:
        """Classes smaller than this violate whatever their values (1 without ``hist``).

        ``hist`` is the attribute's histogram over the whole table: a class of
        s records can only take counts in steps of 1/s, and below some s no
        such distribution is within t of the table's (see
        :func:`custodes.risk.smallest_close_class`).
        """
        if hist is None:
            return 1
        return smallest_close_class(hist, self.t, self.distance, self.hierarchy)

    def violations(
        self, sizes: npt.NDArray[np.int64], hist: SensitiveHistogram | None
    ) -> BoolArray:
        """Classes that violate the model."""
        assert hist is not None
        hierarchical = self.distance == "hierarchical"
        d = class_distances(
            hist,
            len(sizes),
            self.hierarchy if hierarchical else None,
            only_hierarchical=hierarchical,
        )
        emd = {"equal": d.equal, "ordered": d.ordered, "hierarchical": d.hierarchical}[
            self.distance
        ]
        assert emd is not None
        return np.asarray(emd > self.t + 1e-12)

    def describe(self) -> str:
        """A short name for reports."""
        return f"{self.t:g}-closeness of {self.attribute!r} ({self.distance} distance)"


class _TableLevel:
    """A model about the whole release rather than single classes (see ``extend``)."""

    @property
    def sensitive(self) -> str | None:
        """No sensitive attribute."""
        return None

    def minimal_class_size(self, hist: SensitiveHistogram | None = None) -> int:
        """No minimal class size."""
        return 1

    def violations(
        self, sizes: npt.NDArray[np.int64], hist: SensitiveHistogram | None
    ) -> BoolArray:
        """No class violates it on its own (see :meth:`extend`)."""
        return np.zeros(len(sizes), dtype=bool)

    def extend(self, sizes: npt.NDArray[np.int64], suppressed: BoolArray) -> BoolArray:
        """The classes to suppress, given those the class-level models suppress."""
        raise NotImplementedError


@dataclass(frozen=True)
class AverageRisk(_TableLevel):
    """The average prosecutor risk of the released records is at most ``threshold``.

    A table-level model: when the classes that remain after the other models
    are too small on average, the smallest are suppressed until the average
    risk (classes / records) falls to the threshold.
    """

    threshold: float

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise SettingError(
                f"average risk threshold is {self.threshold!r}; give a number in (0, 1], e.g. 0.05."
            )

    def extend(self, sizes: npt.NDArray[np.int64], suppressed: BoolArray) -> BoolArray:
        """Suppress the fewest smallest classes that bring the average risk to the threshold."""
        kept = np.flatnonzero(~suppressed)
        order = kept[np.argsort(sizes[kept], kind="stable")]
        records = float(sizes[kept].sum())
        removed = np.concatenate(([0.0], np.cumsum(sizes[order], dtype=np.float64)))
        classes_left = len(order) - np.arange(len(order) + 1)
        records_left = records - removed
        safe = np.maximum(records_left, 1.0)
        risk = np.where(records_left > 0, classes_left / safe, 0.0)
        k = int(np.argmax(risk <= self.threshold + 1e-12))
        out = suppressed.copy()
        out[order[:k]] = True
        return out

    def describe(self) -> str:
        """A short name for reports."""
        return f"average re-identification risk at most {self.threshold:g}"


@dataclass(frozen=True)
class PopulationUniqueness(_TableLevel):
    """At most ``threshold`` of the population is estimated unique (Dankar et al.'s rule).

    A table-level model over the released classes: when the estimate for the
    population of ``population`` people exceeds the threshold, every class
    counts as violating, so the transformation is rejected.
    """

    threshold: float
    population: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise SettingError(
                f"population uniqueness threshold is {self.threshold!r}; give a fraction in "
                "[0, 1], e.g. 0.01."
            )
        if self.population < 1:
            raise SettingError("the population size must be a whole number of people >= 1.")

    def extend(self, sizes: npt.NDArray[np.int64], suppressed: BoolArray) -> BoolArray:
        """All classes when the kept ones make too many people unique in the population."""
        kept = sizes[~suppressed]
        if not len(kept) or not (kept == 1).any():
            return suppressed
        rows = int(kept.sum())
        if self.population <= rows:
            estimate = float((kept == 1).sum()) / rows
        else:
            values, counts = np.unique(kept, return_counts=True)
            risk = population_uniqueness(values, counts, self.population)
            estimate = 1.0 if risk.dankar is None else risk.dankar
        if estimate <= self.threshold:
            return suppressed
        return np.ones(len(sizes), dtype=bool)

    def describe(self) -> str:
        """A short name for reports."""
        return f"population uniqueness at most {self.threshold:g} of {self.population:,} people"


PrivacyModel = (
    KAnonymity
    | DistinctLDiversity
    | EntropyLDiversity
    | RecursiveCLDiversity
    | TCloseness
    | AverageRisk
    | PopulationUniqueness
)


def violating_classes(
    sizes: npt.NDArray[np.int64],
    models: Sequence[PrivacyModel],
    histogram: Callable[[str], SensitiveHistogram],
) -> BoolArray:
    """Classes to suppress under all the models (class-level first, then table-level)."""
    suppressed = np.zeros(len(sizes), dtype=bool)
    for model in models:
        attribute = model.sensitive
        suppressed |= model.violations(sizes, histogram(attribute) if attribute else None)
    for model in models:
        if isinstance(model, _TableLevel):
            suppressed = model.extend(sizes, suppressed)
    return suppressed
