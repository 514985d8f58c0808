"""The flag grammar of ``custodes anonymize``: the flags become a mapping, the mapping a spec.

The mapping has the shape of a TOML spec file, and
:func:`custodes.anonymize.spec_from_mapping` validates it and builds the spec,
as it does for spec files (and will for a server's requests). What only flags
can get wrong (``--mask id:6:4``, ``--l`` without ``--sensitive``) is checked
here, with messages that name the flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from custodes.anonymize import AnonymizationSpec, spec_from_mapping
from custodes.cli._app import split_names
from custodes.errors import SettingError
from custodes.hierarchy import BUILDERS, Hierarchy, read_hierarchy

__all__ = ["spec_from_flags"]


def _hierarchy(given: str) -> Hierarchy | str:
    """A hierarchy file, or a builder description (``interval:width=5``, ``date``, ``prc``...)."""
    builder = given.split(":", 1)[0].strip().lower()
    if builder in BUILDERS and not Path(given).exists():
        return given
    return read_hierarchy(given)


def _models(
    hierarchies: dict[str, Hierarchy | str],
    *,
    k: int | None,
    sensitive: str | None,
    l_value: int | None,
    recursive_c: float | None,
    t: float | None,
    t_distance: str,
    average_risk: float | None,
    population_uniqueness: float | None,
    population: str | None,
) -> list[dict[str, Any]]:
    """The ``models`` of the spec; the sensitive attribute's hierarchy leaves ``hierarchies``."""
    models: list[dict[str, Any]] = []
    if k is not None:
        models.append({"type": "k-anonymity", "k": k})
    needs_sensitive = l_value is not None or t is not None
    if needs_sensitive and not sensitive:
        raise SettingError("--l and --t need --sensitive COLUMN, the attribute they protect.")
    if recursive_c is not None and l_value is None:
        raise SettingError("--recursive-c goes with --l (recursive-(c,l) diversity).")
    if l_value is not None and sensitive:
        if recursive_c is not None:
            models.append(
                {
                    "type": "recursive-cl-diversity",
                    "attribute": sensitive,
                    "l": l_value,
                    "c": recursive_c,
                }
            )
        else:
            models.append({"type": "distinct-l-diversity", "attribute": sensitive, "l": l_value})
    if t is not None and sensitive:
        if t_distance not in ("hierarchical", "equal", "ordered"):
            raise SettingError(
                f"--t-distance is {t_distance!r}; choose hierarchical, equal or ordered."
            )
        closeness: dict[str, Any] = {
            "type": "t-closeness",
            "attribute": sensitive,
            "t": t,
            "distance": t_distance,
        }
        attribute_hierarchy = hierarchies.pop(sensitive, None)
        if isinstance(attribute_hierarchy, str):
            raise SettingError(
                f"--hierarchy {sensitive}={attribute_hierarchy}: the sensitive attribute's "
                "hierarchy must be a file."
            )
        if attribute_hierarchy is not None:
            closeness["hierarchy"] = attribute_hierarchy
        models.append(closeness)
    if average_risk is not None:
        models.append({"type": "average-risk", "threshold": average_risk})
    if population_uniqueness is not None:
        if population is None:
            raise SettingError(
                "--population-uniqueness needs --population (a region such as usa, or a size)."
            )
        models.append(
            {
                "type": "population-uniqueness",
                "threshold": population_uniqueness,
                "population": population,
            }
        )
    return models


def _identifiers(
    mask: Sequence[str],
    pseudonymize: Sequence[str],
    shift_dates: Sequence[str],
    redact: Sequence[str],
) -> list[dict[str, Any]]:
    """The ``identifiers`` of the spec: masks, pseudonyms, date shifts, redactions."""
    actions: list[dict[str, Any]] = []
    for item in mask:
        column, *keep = item.split(":")
        if len(keep) not in (0, 2) or not all(k.strip().isdigit() for k in keep):
            raise SettingError(f"--mask {item!r} is not COLUMN or COLUMN:FIRST:LAST, e.g. id:6:4.")
        first, last = (int(keep[0]), int(keep[1])) if keep else (0, 0)
        actions.append(
            {"column": column.strip(), "action": "mask", "keep_first": first, "keep_last": last}
        )
    actions += [{"column": column.strip(), "action": "pseudonymize"} for column in pseudonymize]
    for item in shift_dates:
        parts = item.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].strip().isdigit()):
            raise SettingError(
                f"--shift-dates {item!r} is not COLUMN:PERSON[:DAYS], e.g. birth_date:id:30."
            )
        days = int(parts[2]) if len(parts) == 3 else 30
        actions.append(
            {
                "column": parts[0].strip(),
                "action": "shift-dates",
                "person": parts[1].strip(),
                "max_days": days,
            }
        )
    for item in redact:
        column, _, kinds = item.partition(":")
        entities = [e.strip() for e in kinds.split(",") if e.strip()]
        actions.append({"column": column.strip(), "action": "redact", "entities": entities})
    return actions


def _aggregations(items: Sequence[str]) -> dict[str, str]:
    """``COLUMN[:mean|median|mode]`` items (mean by default)."""
    out: dict[str, str] = {}
    for item in items:
        column, _, function = item.partition(":")
        out[column.strip()] = function.strip() or "mean"
    return out


def spec_from_flags(
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
    """A spec from the command line's flags (hierarchy files are read here, as given).

    ``mask`` items are ``COLUMN[:FIRST:LAST]`` (characters kept at each end),
    ``shift_dates`` items ``COLUMN:PERSON[:DAYS]``, ``redact`` items
    ``COLUMN[:ENTITY,ENTITY...]`` (free text; default every entity type).
    """
    loaded = {c: _hierarchy(given) for c, given in hierarchies.items()}
    models = _models(
        loaded,
        k=k,
        sensitive=sensitive,
        l_value=l_value,
        recursive_c=recursive_c,
        t=t,
        t_distance=t_distance,
        average_risk=average_risk,
        population_uniqueness=population_uniqueness,
        population=population,
    )
    mapping: dict[str, Any] = {
        "quasi_identifiers": split_names(qi),
        "hierarchies": loaded,
        "models": models,
        "suppression": suppression,
        "identifying": split_names(identifying or ""),
        "identifiers": _identifiers(mask, pseudonymize, shift_dates, redact),
        "method": "local" if local else "global",
        "microaggregation": _aggregations(microaggregate),
        "objective": objective,
    }
    return spec_from_mapping(mapping, where="the command line", key_file=key_file)
