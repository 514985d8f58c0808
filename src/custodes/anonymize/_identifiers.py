"""Direct identifiers: remove, mask, pseudonymize with a keyed hash, shift dates, and
redact identifiers inside free text.

Pseudonyms are HMAC-SHA-256 of the value under a secret key: the same value
gets the same pseudonym within a release (joins still work), and a release
made with another key cannot be linked to it. Keys come from a key file or the
environment, never from a spec or the command line; the manifest records only
a fingerprint of the key (a hash, from which the key cannot be recovered).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from custodes.errors import DataFileError, InvalidInputError, SettingError
from custodes.io import TableSource

if TYPE_CHECKING:
    from custodes.engines import Engine

__all__ = [
    "IdentifierAction",
    "Mask",
    "Pseudonymize",
    "Redact",
    "Remove",
    "ShiftDates",
    "apply_identifier_actions",
    "check_dates",
    "load_key",
]

KEY_ENV = "CUSTODES_PSEUDONYM_KEY"


def load_key(
    key_file: str | os.PathLike[str] | None = None, *, provide: str | None = None
) -> bytes:
    """The secret key: from a key file, else from the environment variable.

    ``provide`` says how to give a key where it is missing (default: the
    command line's ``--key-file`` or the environment variable).
    """
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes().strip()
        except OSError as exc:
            raise DataFileError(
                f"cannot read key file {str(key_file)!r}: {exc.strerror}."
            ) from None
        source = f"key file {str(key_file)!r}"
    else:
        value = os.environ.get(KEY_ENV, "")
        key = value.encode("utf-8")
        source = f"environment variable {KEY_ENV}"
    if len(key) < 16:
        raise SettingError(
            f"the pseudonymization key from {source} is missing or shorter than 16 bytes; "
            f"write a random key to a file (e.g. `head -c 32 /dev/urandom | base64 > key`) "
            f"and {provide or f'pass --key-file, or set {KEY_ENV}'}."
        )
    return key


def key_fingerprint(key: bytes) -> str:
    """A short public fingerprint of a key (to tell which key a release used)."""
    return hashlib.sha256(b"custodes key fingerprint\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Remove:
    """Drop the column from the release."""

    column: str

    def describe(self) -> dict[str, object]:
        """The action as recorded in the manifest."""
        return {"column": self.column, "action": "remove"}


@dataclass(frozen=True)
class Mask:
    """Keep the first and last few characters, mask the rest (e.g. 110105********002X)."""

    column: str
    keep_first: int = 0
    keep_last: int = 0
    char: str = "*"

    def __post_init__(self) -> None:
        if self.keep_first < 0 or self.keep_last < 0 or len(self.char) != 1:
            raise SettingError(
                f"mask of {self.column!r}: keep counts must be >= 0 and the mask one character."
            )

    def describe(self) -> dict[str, object]:
        """The action as recorded in the manifest."""
        return {
            "column": self.column,
            "action": "mask",
            "keep_first": self.keep_first,
            "keep_last": self.keep_last,
        }


@dataclass(frozen=True)
class Pseudonymize:
    """Replace each value by HMAC-SHA-256(key, value), hex, 32 characters."""

    column: str
    key: bytes

    def describe(self) -> dict[str, object]:
        """The action as recorded in the manifest (a key fingerprint, never the key)."""
        return {
            "column": self.column,
            "action": "pseudonymize",
            "method": "HMAC-SHA-256",
            "key_fingerprint": key_fingerprint(self.key),
        }


@dataclass(frozen=True)
class ShiftDates:
    """Move each person's dates by the same secret offset of up to ``max_days`` days."""

    column: str
    person: str
    key: bytes
    max_days: int = 30

    def __post_init__(self) -> None:
        if self.max_days < 1:
            raise SettingError(f"date shift of {self.column!r}: max_days must be at least 1.")

    def describe(self) -> dict[str, object]:
        """The action as recorded in the manifest."""
        return {
            "column": self.column,
            "action": "shift dates",
            "person": self.person,
            "max_days": self.max_days,
            "key_fingerprint": key_fingerprint(self.key),
        }


@dataclass(frozen=True)
class Redact:
    """Mask identifiers inside free text (IDs, phones, cards, e-mails...) with their type."""

    column: str
    entities: tuple[str, ...] = ()
    """The entity types to mask (empty: every type found in text)."""

    def describe(self) -> dict[str, object]:
        """The action as recorded in the manifest."""
        return {"column": self.column, "action": "redact", "entities": list(self.entities)}


IdentifierAction = Remove | Mask | Pseudonymize | ShiftDates | Redact


def _hmac_map(
    engine: Engine, table: TableSource, column: str, key: bytes, purpose: bytes
) -> tuple[list[str], list[str]]:
    """Each distinct value of the column and its HMAC (computed once per value).

    ``purpose`` separates uses of one key: a date offset must not be derivable
    from a pseudonym released beside it.
    """
    old: list[str] = engine.distinct_text(table, column).to_pylist()
    new = [
        hmac.new(key, purpose + b"\x00" + v.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
        for v in old
    ]
    return old, new


def check_dates(
    engine: Engine, table: TableSource, actions: tuple[IdentifierAction, ...], where: str
) -> None:
    """Refuse date shifts of a column holding values that are not dates (never shown).

    A value that does not parse as a date would otherwise be released as an
    empty cell without a word.
    """
    for action in actions:
        if not isinstance(action, ShiftDates):
            continue
        count, first = engine.non_dates(table, action.column)
        if count:
            raise InvalidInputError(
                f"column {action.column!r} of {where} has "
                + (
                    "1 value that is not a date"
                    if count == 1
                    else f"{count:,} values that are not dates"
                )
                + f" (the first in data row {first or 0:,}), which a date shift would release as "
                "empty cells. Write dates "
                "as YYYY-MM-DD, or remove or mask that column instead of shifting it."
            )


def apply_identifier_actions(
    engine: Engine, table: TableSource, actions: tuple[IdentifierAction, ...]
) -> TableSource:
    """Apply the actions to the full table (date shifts first: they read the person id).

    A date whose person is unknown (null) is released as null: it cannot be
    shifted consistently with that person's other dates.
    """
    out = table
    for action in sorted(actions, key=lambda a: not isinstance(a, ShiftDates)):
        if isinstance(action, ShiftDates):
            people, digests = _hmac_map(engine, out, action.person, action.key, b"date shift")
            span = 2 * action.max_days + 1
            offsets = np.array(
                [int(d[:8], 16) % span - action.max_days for d in digests], dtype=np.int64
            )
            out = engine.shift_dates(out, action.column, action.person, people, offsets)
        elif isinstance(action, Pseudonymize):
            old, new = _hmac_map(engine, out, action.column, action.key, b"pseudonym")
            out = engine.replace_text(out, action.column, old, new)
        elif isinstance(action, Mask):
            out = engine.mask(out, action.column, action.keep_first, action.keep_last, action.char)
        elif isinstance(action, Redact):
            from custodes.detect import redact_column

            out = redact_column(out, action.column, action.entities, engine=engine)
    removed = [a.column for a in actions if isinstance(a, Remove)]
    return engine.remove(out, removed) if removed else out
