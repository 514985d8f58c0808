"""Anonymization: transformations, the lattice search, utility metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, cast

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
from custodes.anonymize._specfile import load_spec, read_manifest, spec_from_manifest
from custodes.errors import SettingError
from custodes.hierarchy import BUILDERS, Hierarchy, read_hierarchy

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
    "build_spec",
    "load_key",
    "load_spec",
    "optimal_generalization",
    "read_manifest",
    "spec_from_manifest",
]


def _hierarchy(column: str, given: str) -> Hierarchy | str:
    """A hierarchy file, or a builder description (``interval:width=5``, ``date``, ``prc``...)."""
    builder = given.split(":", 1)[0].strip().lower()
    if builder in BUILDERS and not Path(given).exists():
        return given
    return read_hierarchy(given)


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
    average_risk: float | None = None,
    suppression: float = 0.0,
    identifying: str | None = None,
    mask: Sequence[str] = (),
    pseudonymize: Sequence[str] = (),
    shift_dates: Sequence[str] = (),
    key_file: str | None = None,
    local: bool = False,
    redact: Sequence[str] = (),
    microaggregate: Sequence[str] = (),
    objective: str = "loss",
    population_uniqueness: float | None = None,
    population: str | None = None,
) -> AnonymizationSpec:
    """A spec from the command line's flags (hierarchy and key files are read here).

    ``mask`` items are ``COLUMN[:FIRST:LAST]`` (characters kept at each end),
    ``shift_dates`` items ``COLUMN:PERSON[:DAYS]``, ``redact`` items
    ``COLUMN[:ENTITY,ENTITY...]`` (free text; default every entity type).
    """
    qis = tuple(n.strip() for n in qi.split(",") if n.strip())
    loaded: dict[str, Hierarchy | str] = {
        c: _hierarchy(c, given) for c, given in hierarchies.items()
    }
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
        attribute_hierarchy = loaded.pop(sensitive, None)
        if isinstance(attribute_hierarchy, str):
            raise SettingError(
                f"--hierarchy {sensitive}={attribute_hierarchy}: the sensitive attribute's "
                "hierarchy must be a file."
            )
        models.append(TCloseness(sensitive, t, distance, attribute_hierarchy))
    if average_risk is not None:
        models.append(AverageRisk(average_risk))
    if population_uniqueness is not None:
        if population is None:
            raise SettingError(
                "--population-uniqueness needs --population (a region such as usa, or a size)."
            )
        models.append(PopulationUniqueness(population_uniqueness, population_of(population)))
    ids = tuple(n.strip() for n in (identifying or "").split(",") if n.strip())
    actions: list[IdentifierAction] = []
    for item in mask:
        column, *keep = item.split(":")
        if len(keep) not in (0, 2) or not all(k.strip().isdigit() for k in keep):
            raise SettingError(f"--mask {item!r} is not COLUMN or COLUMN:FIRST:LAST, e.g. id:6:4.")
        first, last = (int(keep[0]), int(keep[1])) if keep else (0, 0)
        actions.append(Mask(column.strip(), first, last))
    needs_key = bool(pseudonymize) or bool(shift_dates)
    key = load_key(key_file) if needs_key else b""
    actions += [Pseudonymize(column.strip(), key) for column in pseudonymize]
    for item in shift_dates:
        parts = item.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].strip().isdigit()):
            raise SettingError(
                f"--shift-dates {item!r} is not COLUMN:PERSON[:DAYS], e.g. birth_date:id:30."
            )
        days = int(parts[2]) if len(parts) == 3 else 30
        actions.append(ShiftDates(parts[0].strip(), parts[1].strip(), key, days))
    for item in redact:
        column, _, kinds = item.partition(":")
        entities = tuple(e.strip().upper() for e in kinds.split(",") if e.strip())
        actions.append(Redact(column.strip(), entities))
    return AnonymizationSpec(
        quasi_identifiers=qis,
        hierarchies=loaded,
        models=tuple(models),
        suppression_limit=suppression,
        identifying=ids,
        identifier_actions=tuple(actions),
        method="local" if local else "global",
        microaggregation=_aggregations(microaggregate),
        objective=objective,
    )


def population_of(given: str | int) -> int:
    """A population size from a region name or a number (commas allowed)."""
    from custodes.risk import population_size

    text = str(given).strip().replace(",", "").replace("_", "")
    if text.isdigit():
        return int(text)
    return population_size(region=str(given), sample_rows=1)


def _aggregations(items: Sequence[str]) -> dict[str, str]:
    """``COLUMN[:mean|median|mode]`` items (mean by default)."""
    out: dict[str, str] = {}
    for item in items:
        column, _, function = item.partition(":")
        out[column.strip()] = function.strip() or "mean"
    return out
