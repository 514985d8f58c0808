"""Anonymization: transformations, the lattice search, utility metrics."""

from __future__ import annotations

from custodes.anonymize._identifiers import (
    IdentifierAction,
    Mask,
    Pseudonymize,
    Redact,
    Remove,
    ShiftDates,
    load_key,
)
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    AverageRisk,
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PopulationUniqueness,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
)
from custodes.anonymize._result import Anonymization
from custodes.anonymize._search import SearchResult, optimal_generalization
from custodes.anonymize._spec import AnonymizationSpec
from custodes.anonymize._specfile import (
    load_spec,
    read_manifest,
    spec_from_manifest,
    spec_from_mapping,
)

__all__ = [
    "Anonymization",
    "AnonymizationSpec",
    "AverageRisk",
    "DistinctLDiversity",
    "EntropyLDiversity",
    "IdentifierAction",
    "KAnonymity",
    "LossMetric",
    "Mask",
    "PopulationUniqueness",
    "PrivacyModel",
    "Pseudonymize",
    "RecursiveCLDiversity",
    "Redact",
    "Remove",
    "SearchResult",
    "ShiftDates",
    "TCloseness",
    "load_key",
    "load_spec",
    "optimal_generalization",
    "read_manifest",
    "spec_from_manifest",
    "spec_from_mapping",
]
