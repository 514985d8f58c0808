"""Anonymization: transformations, the lattice search, utility metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast

from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
)
from custodes.anonymize._result import Anonymization
from custodes.anonymize._search import SearchResult, optimal_generalization
from custodes.anonymize._spec import AnonymizationSpec
from custodes.errors import SettingError
from custodes.hierarchy import Hierarchy, read_hierarchy

__all__ = [
    "Anonymization",
    "AnonymizationSpec",
    "DistinctLDiversity",
    "EntropyLDiversity",
    "KAnonymity",
    "LossMetric",
    "PrivacyModel",
    "RecursiveCLDiversity",
    "SearchResult",
    "TCloseness",
    "build_spec",
    "optimal_generalization",
]


def build_spec(
    *,
    qi: str,
    hierarchies: Mapping[str, str],
    k: int | None = None,
    sensitive: str | None = None,
    l_value: int | None = None,
    recursive_c: float | None = None,
    t: float | None = None,
    t_distance: str = "hierarchical",
    suppression: float = 0.0,
    identifying: str | None = None,
) -> AnonymizationSpec:
    """A spec from the command line's flags (hierarchy files are read here)."""
    qis = tuple(n.strip() for n in qi.split(",") if n.strip())
    loaded: dict[str, Hierarchy] = {c: read_hierarchy(f) for c, f in hierarchies.items()}
    models: list[PrivacyModel] = []
    if k is not None:
        models.append(KAnonymity(k))
    needs_sensitive = l_value is not None or t is not None
    if needs_sensitive and not sensitive:
        raise SettingError("--l and --t need --sensitive COLUMN, the attribute they protect.")
    if recursive_c is not None and l_value is None:
        raise SettingError("--recursive-c goes with --l (recursive-(c,l) diversity).")
    if l_value is not None and sensitive:
        if recursive_c is not None:
            models.append(RecursiveCLDiversity(sensitive, l_value, c=recursive_c))
        else:
            models.append(DistinctLDiversity(sensitive, l_value))
    if t is not None and sensitive:
        if t_distance not in ("hierarchical", "equal", "ordered"):
            raise SettingError(
                f"--t-distance is {t_distance!r}; choose hierarchical, equal or ordered."
            )
        distance = cast(Literal["hierarchical", "equal", "ordered"], t_distance)
        models.append(TCloseness(sensitive, t, distance, loaded.pop(sensitive, None)))
    ids = tuple(n.strip() for n in (identifying or "").split(",") if n.strip())
    return AnonymizationSpec(
        quasi_identifiers=qis,
        hierarchies=loaded,
        models=tuple(models),
        suppression_limit=suppression,
        identifying=ids,
    )
