"""Anonymization specs in TOML files (documented in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

from custodes._files import read_json_object, read_toml
from custodes.anonymize._identifiers import (
    IdentifierAction,
    Mask,
    Pseudonymize,
    Redact,
    Remove,
    ShiftDates,
    key_fingerprint,
    load_key,
)
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
from custodes.anonymize._spec import AnonymizationSpec, hierarchy_hash
from custodes.errors import (
    CustodesError,
    DataFileError,
    SettingError,
    closest,
)
from custodes.hierarchy import BUILDERS, Hierarchy, read_hierarchy

__all__ = [
    "load_spec",
    "population_of",
    "read_manifest",
    "spec_from_manifest",
    "spec_from_mapping",
]

_TOP = {
    "linked_pseudonyms",
    "mosaic_safe",
    "quasi_identifiers",
    "hierarchies",
    "models",
    "suppression",
    "gs_factor",
    "identifying",
    "identifiers",
    "levels",
    "method",
    "microaggregation",
    "objective",
}
_MODELS = (
    "k-anonymity",
    "distinct-l-diversity",
    "entropy-l-diversity",
    "recursive-cl-diversity",
    "t-closeness",
    "average-risk",
    "population-uniqueness",
)
_ACTIONS = ("remove", "mask", "pseudonymize", "shift-dates", "redact")


class _Table:
    """A TOML table with its path, for messages that name the setting."""

    def __init__(self, data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                hint = closest(key, allowed)
                extra = f" Did you mean {hint!r}?" if hint else ""
                raise SettingError(f"{where}: unknown setting {key!r}.{extra}")
        self.data, self.where = data, where

    def get(self, key: str, kind: type, default: Any = None, *, required: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise SettingError(f"{self.where}: {key!r} is required.")
            return default
        value = self.data[key]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise SettingError(
                f"{self.where}: {key!r} must be a {kind.__name__}, not {type(value).__name__}."
            )
        return value


def _hierarchy(value: str | Hierarchy, base: Path, where: str) -> Hierarchy | str:
    if isinstance(value, Hierarchy):  # read already (by a face that reads its own files)
        return value
    builder = value.split(":", 1)[0].strip().lower()
    path = base / value
    if builder in BUILDERS and not path.exists():
        return value
    try:
        return read_hierarchy(path)
    except DataFileError as exc:
        raise SettingError(f"{where}: {exc.message}") from None


def _model(entry: Mapping[str, Any], where: str, base: Path) -> PrivacyModel:
    kind = entry.get("type")
    if kind not in _MODELS:
        hint = closest(str(kind), _MODELS)
        extra = f" Did you mean {hint!r}?" if hint else ""
        raise SettingError(f"{where}.type is {kind!r}.{extra} Choose one of {', '.join(_MODELS)}.")
    if kind == "k-anonymity":
        t = _Table(entry, where, {"type", "k"})
        return KAnonymity(t.get("k", int, required=True))
    if kind == "average-risk":
        t = _Table(entry, where, {"type", "threshold"})
        return AverageRisk(t.get("threshold", float, required=True))
    if kind == "population-uniqueness":
        t = _Table(entry, where, {"type", "threshold", "population"})
        population = t.data.get("population")
        if not isinstance(population, str | int) or isinstance(population, bool):
            raise SettingError(f"{where}: 'population' must be a region name or a size.")
        return PopulationUniqueness(
            t.get("threshold", float, required=True), population_of(population)
        )
    if kind == "t-closeness":
        t = _Table(entry, where, {"type", "attribute", "t", "distance", "hierarchy"})
        distance = t.get("distance", str, "hierarchical")
        if distance not in ("hierarchical", "equal", "ordered"):
            raise SettingError(
                f"{where}.distance is {distance!r}; use hierarchical, equal or ordered."
            )
        hierarchy = None
        if isinstance(t.data.get("hierarchy"), Hierarchy):
            hierarchy = t.data["hierarchy"]
        elif t.get("hierarchy", str) is not None:
            built = _hierarchy(t.get("hierarchy", str), base, f"{where}.hierarchy")
            if isinstance(built, str):
                raise SettingError(f"{where}.hierarchy must be a file.")
            hierarchy = built
        return TCloseness(
            t.get("attribute", str, required=True),
            t.get("t", float, required=True),
            cast(Literal["hierarchical", "equal", "ordered"], distance),
            hierarchy,
        )
    t = _Table(entry, where, {"type", "attribute", "l", "c"})
    attribute, l_value = t.get("attribute", str, required=True), t.get("l", int, required=True)
    if kind == "recursive-cl-diversity":
        return RecursiveCLDiversity(attribute, l_value, c=t.get("c", float, 4.0))
    if kind == "entropy-l-diversity":
        return EntropyLDiversity(attribute, l_value)
    return DistinctLDiversity(attribute, l_value)


def _action(entry: Mapping[str, Any], where: str, key: bytes | None) -> IdentifierAction:
    action = entry.get("action")
    if action not in _ACTIONS:
        hint = closest(str(action), _ACTIONS)
        extra = f" Did you mean {hint!r}?" if hint else ""
        raise SettingError(
            f"{where}.action is {action!r}.{extra} Choose one of {', '.join(_ACTIONS)}."
        )
    allowed = {"column", "action", "keep_first", "keep_last", "person", "max_days", "entities"}
    t = _Table(entry, where, allowed)
    column = t.get("column", str, required=True)
    if action == "remove":
        return Remove(column)
    if action == "redact":
        entities = t.get("entities", list, [])
        if not all(isinstance(e, str) for e in entities):
            raise SettingError(f"{where}.entities must be a list of entity names, e.g. ['PHONE'].")
        return Redact(column, tuple(e.upper() for e in entities))
    if action == "mask":
        return Mask(column, t.get("keep_first", int, 0), t.get("keep_last", int, 0))
    if key is None:
        raise SettingError(f"{where}: {action} needs a key (--key-file or CUSTODES_PSEUDONYM_KEY).")
    if action == "pseudonymize":
        return Pseudonymize(column, key)
    return ShiftDates(column, t.get("person", str, required=True), key, t.get("max_days", int, 30))


def load_spec(
    path: str | os.PathLike[str], key_file: str | None = None, *, key_hint: str | None = None
) -> AnonymizationSpec:
    """Read and validate a TOML spec; relative hierarchy paths are relative to the file.

    ``key_hint`` says how to give the key where it is missing (see :func:`load_key`).
    """
    source = Path(path)
    data = read_toml(source, "spec file")
    return spec_from_mapping(
        data, where=str(source), base=source.parent, key_file=key_file, key_hint=key_hint
    )


def spec_from_mapping(
    mapping: Mapping[str, Any],
    *,
    where: str,
    base: str | os.PathLike[str] | None = None,
    key_file: str | None = None,
    key_hint: str | None = None,
) -> AnonymizationSpec:
    """A validated spec from a mapping shaped like a TOML spec file (see the README).

    Every face builds its spec here: the TOML loader, the command line's flags
    (turned into this mapping) and a server's request body, so one set of
    messages names the setting at fault, prefixed by ``where`` (a file, or
    what the mapping came from). A hierarchy is a file path (relative to
    ``base``, default the current folder), a builder description
    (``interval:width=5``, ``date``, ``prc``...) or a :class:`Hierarchy`
    read already. The key for pseudonyms and date shifts is read from
    ``key_file`` (else the environment) only when an identifier action needs
    it; ``key_hint`` says how to give it where it is missing.
    """
    top = _Table(mapping, where, _TOP)
    folder = Path(".") if base is None else Path(base)
    qis = top.get("quasi_identifiers", list, required=True)
    hierarchies = {
        str(col): _hierarchy(
            value if isinstance(value, Hierarchy) else str(value),
            folder,
            f"{where}: hierarchies.{col}",
        )
        for col, value in top.get("hierarchies", dict, {}).items()
    }
    models = [
        _model(entry, f"{where}: models[{i}]", folder)
        for i, entry in enumerate(top.get("models", list, []))
    ]
    entries = top.get("identifiers", list, [])
    needs_key = any(e.get("action") in ("pseudonymize", "shift-dates") for e in entries)
    key = load_key(key_file, provide=key_hint) if needs_key else None
    actions = [_action(e, f"{where}: identifiers[{i}]", key) for i, e in enumerate(entries)]
    levels = top.get("levels", dict, {})
    lows, highs = {}, {}
    for col, limits in levels.items():
        t = _Table(limits, f"{where}: levels.{col}", {"min", "max"})
        if t.get("min", int) is not None:
            lows[col] = t.get("min", int)
        if t.get("max", int) is not None:
            highs[col] = t.get("max", int)
    return AnonymizationSpec(
        quasi_identifiers=tuple(str(q) for q in qis),
        hierarchies=hierarchies,
        models=tuple(models),
        suppression_limit=top.get("suppression", float, 0.0),
        identifying=tuple(str(c) for c in top.get("identifying", list, [])),
        gs_factor=top.get("gs_factor", float, 0.5),
        min_levels=lows,
        max_levels=highs,
        identifier_actions=tuple(actions),
        method=top.get("method", str, "global"),
        objective=top.get("objective", str, "loss"),
        microaggregation={str(c): str(f) for c, f in top.get("microaggregation", dict, {}).items()},
        linked_pseudonyms=top.get("linked_pseudonyms", bool, False),
        mosaic_safe=top.get("mosaic_safe", bool, False),
    )


def population_of(given: str | int) -> int:
    """A population size from a region name or a number (commas allowed)."""
    from custodes.risk import population_size

    text = str(given).strip().replace(",", "").replace("_", "")
    if text.isdigit():
        return int(text)
    return population_size(region=str(given), sample_rows=1)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a release manifest (JSON) written by :meth:`Anonymization.manifest_json`."""
    return read_json_object(path, "release manifest")


_MODEL_CLASSES: dict[str, Any] = {
    "KAnonymity": lambda e: KAnonymity(int(e["k"])),
    "AverageRisk": lambda e: AverageRisk(float(e["threshold"])),
    "PopulationUniqueness": lambda e: PopulationUniqueness(
        float(e["threshold"]), int(e["population"])
    ),
    "DistinctLDiversity": lambda e: DistinctLDiversity(e["attribute"], e["l"]),
    "EntropyLDiversity": lambda e: EntropyLDiversity(e["attribute"], e["l"]),
    "RecursiveCLDiversity": lambda e: RecursiveCLDiversity(e["attribute"], e["l"], c=e["c"]),
}


def _checked_hierarchy(entry: Mapping[str, Any], where: str) -> Hierarchy | str:
    if "builder" in entry:
        return str(entry["builder"])
    hierarchy = read_hierarchy(entry["source"])
    if hierarchy_hash(hierarchy) != entry["sha256"]:
        raise SettingError(
            f"{where}: the hierarchy file {entry['source']!r} has changed since the release "
            "(its SHA-256 differs); restore it to re-apply the same transformation."
        )
    return hierarchy


def spec_from_manifest(
    manifest: Mapping[str, Any], key_file: str | None = None
) -> AnonymizationSpec:
    """The spec of a release, with its transformation fixed, to re-apply it to new data.

    Hierarchy files must be unchanged (checked by SHA-256), and a pseudonymizing
    release needs the same key (checked by its fingerprint).
    """
    if isinstance(manifest.get("spec"), dict) and manifest["spec"].get("method") == "local":
        raise SettingError(
            "the manifest is of a local recoding, whose parts are specific to its table; "
            "it cannot be re-applied: anonymize the new table with the same spec instead."
        )
    try:
        spec = manifest["spec"]
        levels = {str(k): int(v) for k, v in manifest["transformation"].items()}
        hierarchies = {
            q: _checked_hierarchy(h, f"manifest hierarchies.{q}")
            for q, h in spec["hierarchies"].items()
        }
        models: list[PrivacyModel] = []
        for entry in spec["models"]:
            if entry["model"] == "TCloseness":
                hierarchy = None
                if "hierarchy_source" in entry:
                    built = _checked_hierarchy(
                        {"source": entry["hierarchy_source"], "sha256": entry["hierarchy_sha256"]},
                        "manifest t-closeness hierarchy",
                    )
                    hierarchy = built if isinstance(built, Hierarchy) else None
                models.append(
                    TCloseness(entry["attribute"], entry["t"], entry["distance"], hierarchy)
                )
            else:
                models.append(_MODEL_CLASSES[entry["model"]](entry))
        actions = spec.get("identifier_actions", [])
        key = None
        if any(a["action"] in ("pseudonymize", "shift dates") for a in actions):
            key = load_key(key_file)
            wanted = {a["key_fingerprint"] for a in actions if "key_fingerprint" in a}
            if wanted != {key_fingerprint(key)}:
                raise SettingError(
                    "the key given is not the key the release was made with (fingerprints "
                    "differ); pass the same --key-file to re-apply it."
                )
        restored: list[IdentifierAction] = []
        for a in actions:
            kind = a["action"]
            if kind == "remove":
                restored.append(Remove(a["column"]))
            elif kind == "redact":
                restored.append(Redact(a["column"], tuple(a.get("entities", ()))))
            elif kind == "mask":
                restored.append(Mask(a["column"], a["keep_first"], a["keep_last"]))
            elif kind == "pseudonymize" and key is not None:
                restored.append(Pseudonymize(a["column"], key))
            elif key is not None:
                restored.append(ShiftDates(a["column"], a["person"], key, a["max_days"]))
        return AnonymizationSpec(
            quasi_identifiers=tuple(spec["quasi_identifiers"]),
            hierarchies=hierarchies,
            models=tuple(models),
            suppression_limit=float(spec["suppression_limit"]),
            identifying=tuple(spec["identifying"]),
            gs_factor=float(spec["gs_factor"]),
            min_levels=levels,
            max_levels=levels,
            microaggregation=dict(spec.get("microaggregation", {})),
            objective=str(spec.get("objective", "loss")),
            identifier_actions=tuple(restored),
        )
    except CustodesError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise SettingError(
            f"the manifest is incomplete or not a custodes release manifest ({exc!r} is "
            "missing or wrong); give the manifest file the release wrote."
        ) from None
