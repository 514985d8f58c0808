"""Privacy models: which equivalence classes of a transformation must be suppressed.

Each model marks the classes that violate it; a transformation is acceptable
when the records of all violating classes fit within the suppression limit.
Definitions follow ARX: a class smaller than k (or than l for the l-diversity
models) violates; recursive-(c,l) needs r1 < c (r_l + ... + r_m), strictly;
t-closeness needs the class's EMD to the whole table to be at most t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from custodes.errors import SettingError
from custodes.hierarchy import Hierarchy
from custodes.risk._closeness import class_distances
from custodes.risk._diversity import class_diversity
from custodes.summary import SensitiveHistogram

__all__ = [
    "DistinctLDiversity",
    "EntropyLDiversity",
    "KAnonymity",
    "PrivacyModel",
    "RecursiveCLDiversity",
    "TCloseness",
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

    def minimal_class_size(self) -> int:
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

    def minimal_class_size(self) -> int:
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

    def minimal_class_size(self) -> int:
        """t-closeness sets no minimal class size."""
        return 1

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


PrivacyModel = (
    KAnonymity | DistinctLDiversity | EntropyLDiversity | RecursiveCLDiversity | TCloseness
)
