"""Anonymization specs in TOML files (documented in the README)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

from custodes.anonymize._identifiers import (
    IdentifierAction,
    Mask,
    Pseudonymize,
    Remove,
    ShiftDates,
    load_key,
)
from custodes.anonymize._models import (
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
)
from custodes.anonymize._spec import AnonymizationSpec
from custodes.errors import DataFileError, SettingError, closest
from custodes.hierarchy import BUILDERS, Hierarchy, read_hierarchy

__all__ = ["load_spec"]

_TOP = {
    "quasi_identifiers",
    "hierarchies",
    "models",
    "suppression",
    "gs_factor",
    "identifying",
    "identifiers",
    "levels",
}
_MODELS = (
    "k-anonymity",
    "distinct-l-diversity",
    "entropy-l-diversity",
    "recursive-cl-diversity",
    "t-closeness",
)
_ACTIONS = ("remove", "mask", "pseudonymize", "shift-dates")


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


def _hierarchy(value: str, base: Path, where: str) -> Hierarchy | str:
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
    if kind == "t-closeness":
        t = _Table(entry, where, {"type", "attribute", "t", "distance", "hierarchy"})
        distance = t.get("distance", str, "hierarchical")
        if distance not in ("hierarchical", "equal", "ordered"):
            raise SettingError(
                f"{where}.distance is {distance!r}; use hierarchical, equal or ordered."
            )
        hierarchy = None
        if t.get("hierarchy", str) is not None:
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
    allowed = {"column", "action", "keep_first", "keep_last", "person", "max_days"}
    t = _Table(entry, where, allowed)
    column = t.get("column", str, required=True)
    if action == "remove":
        return Remove(column)
    if action == "mask":
        return Mask(column, t.get("keep_first", int, 0), t.get("keep_last", int, 0))
    if key is None:
        raise SettingError(f"{where}: {action} needs a key (--key-file or CUSTODES_PSEUDONYM_KEY).")
    if action == "pseudonymize":
        return Pseudonymize(column, key)
    return ShiftDates(column, t.get("person", str, required=True), key, t.get("max_days", int, 30))


def load_spec(path: str | os.PathLike[str], key_file: str | None = None) -> AnonymizationSpec:
    """Read and validate a TOML spec; relative hierarchy paths are relative to the file."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(f"spec file {str(source)!r} does not exist.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingError(f"{source}: not valid TOML ({exc}); fix the file.") from None
    where = str(source)
    top = _Table(data, where, _TOP)
    base = source.parent
    qis = top.get("quasi_identifiers", list, required=True)
    hierarchies = {
        str(col): _hierarchy(str(value), base, f"{where}: hierarchies.{col}")
        for col, value in top.get("hierarchies", dict, {}).items()
    }
    models = [
        _model(entry, f"{where}: models[{i}]", base)
        for i, entry in enumerate(top.get("models", list, []))
    ]
    entries = top.get("identifiers", list, [])
    needs_key = any(e.get("action") in ("pseudonymize", "shift-dates") for e in entries)
    key = load_key(key_file) if needs_key else None
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
    )
