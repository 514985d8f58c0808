"""A steward's corrections of the column roles a scan suggested."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from custodes.errors import InvalidInputError

__all__ = ["COLUMN_ROLES", "apply_roles", "check_roles", "parse_role_pairs"]

COLUMN_ROLES = ("identifying", "quasi_identifying", "sensitive", "insensitive", "redact")
"""What a column may be: ``insensitive`` columns are in no list of the stored roles."""
_LISTED = ("identifying", "quasi_identifying", "sensitive", "redact")


def _closest(word: str, choices: Sequence[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.0)
    return f"; the closest is {near[0]!r}" if near else ""


def parse_role_pairs(pairs: Sequence[str], option: str) -> dict[str, str]:
    """``COLUMN=ROLE`` texts (as given to ``option``) as a mapping."""
    out: dict[str, str] = {}
    for pair in pairs:
        column, sep, role = pair.rpartition("=")
        if not sep or not column.strip() or not role.strip():
            raise InvalidInputError(
                f"{option} {pair!r} is not COLUMN=ROLE; e.g. {option} 区县=quasi_identifying "
                f"(roles: {', '.join(COLUMN_ROLES)})."
            )
        out[column.strip()] = role.strip()
    return out


def check_roles(corrections: Mapping[str, str], columns: Sequence[str], where: str) -> None:
    """Refuse an unknown column or role, naming it and the closest valid choice."""
    if not corrections:
        raise InvalidInputError(f"no role corrections given for {where}; give COLUMN=ROLE.")
    for column, role in corrections.items():
        if column not in columns:
            raise InvalidInputError(
                f"{where} has no column {column!r}{_closest(column, columns)}; its columns are "
                f"{', '.join(columns)}."
            )
        if role not in COLUMN_ROLES:
            raise InvalidInputError(
                f"role {role!r} for column {column!r} is not a column role"
                f"{_closest(role, COLUMN_ROLES)}; choose one of {', '.join(COLUMN_ROLES)}."
            )


def apply_roles(
    roles: Mapping[str, Any], corrections: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The stored roles with the corrections applied, and each corrected column's role before."""
    out: dict[str, Any] = {k: list(v) if isinstance(v, list) else v for k, v in roles.items()}
    before: dict[str, str] = {}
    for column, role in corrections.items():
        before[column] = next((key for key in _LISTED if column in out.get(key, [])), "insensitive")
        for key in _LISTED:
            out[key] = [c for c in out.get(key, []) if c != column]
        if role != "insensitive":
            out[role].append(column)
    return out, before
