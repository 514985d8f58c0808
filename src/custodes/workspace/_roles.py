"""Column roles taken from a saved scan and merged with the roles a person gave.

A face (the command line's ``--roles-from``, a server's form) lets a person
start from the roles a scan suggested and override some of them; the merge is
the library's, so every face merges alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ScanRoles", "identifiers_from_scan", "roles_from_scan"]


@dataclass(frozen=True)
class ScanRoles:
    """Roles for an assessment: those given, the rest as a saved scan suggests.

    A role given (even empty) is kept as given; a role not given is the scan's
    suggestion, less every column named in the roles given.
    """

    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    identifying: tuple[str, ...]


def _names(given: str | Iterable[str] | None) -> tuple[str, ...]:
    if given is None:
        return ()
    if isinstance(given, str):
        return tuple(n.strip() for n in given.split(",") if n.strip())
    return tuple(given)


def roles_from_scan(
    scan: str | os.PathLike[str],
    columns: Sequence[str],
    *,
    quasi_identifiers: str | Iterable[str] | None = None,
    sensitive: str | Iterable[str] | None = None,
    identifying: str | Iterable[str] | None = None,
) -> ScanRoles:
    """Merge a saved scan's suggested roles (of a table with ``columns``) with those given.

    The scan's free-text columns (to redact) are counted as identifying.
    """
    from custodes.detect import read_scan_roles

    roles = read_scan_roles(Path(scan), columns)
    given = {
        role: None if names is None else _names(names)
        for role, names in (
            ("quasi_identifiers", quasi_identifiers),
            ("sensitive", sensitive),
            ("identifying", identifying),
        )
    }
    named = {c for names in given.values() if names is not None for c in names}

    def pick(role: str, *keys: str) -> tuple[str, ...]:
        chosen = given[role]
        if chosen is not None:
            return chosen
        return tuple(c for k in keys for c in roles[k] if c not in named)

    return ScanRoles(
        pick("quasi_identifiers", "quasi_identifying"),
        pick("sensitive", "sensitive"),
        pick("identifying", "identifying", "redact"),
    )


def identifiers_from_scan(
    scan: str | os.PathLike[str],
    columns: Sequence[str],
    *,
    identifying: Sequence[str] = (),
    redacted: Sequence[str] = (),
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The identifying columns to remove and the free-text columns to redact, from a scan.

    The given identifying columns come first, then the scan's identifying
    columns that no given action names; the second value holds the scan's
    free-text columns that no given action names (to redact besides
    ``redacted``).
    """
    from custodes.detect import read_scan_roles

    roles = read_scan_roles(Path(scan), columns)
    taken = [*identifying, *redacted]
    ids = (*identifying, *(c for c in roles["identifying"] if c not in taken))
    extra = tuple(c for c in roles["redact"] if c not in redacted and c not in ids)
    return ids, extra
