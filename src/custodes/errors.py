"""The one exception tree of custodes.

Every error custodes raises on purpose is a :class:`CustodesError`. Each class
has a stable ``code`` (used in JSON output and documented in the README), the
HTTP status a server maps it to, and the CLI exit code. Subclasses also derive
from the builtin they resemble, so ``except ValueError`` keeps working::

    CustodesError
    ├── InvalidInputError (ValueError)            bad data or arguments, exit 2
    │   ├── DataFileError (OSError)               a file is missing or unreadable
    │   │   └── EncodingError (UnicodeError)      bytes do not decode
    │   ├── MalformedTableError                   ragged rows, empty file, bad header
    │   ├── UnknownColumnError (KeyError)         a column name not in the table
    │   ├── ColumnRoleError                       a column given two roles, or none
    │   ├── SettingError                          a setting or flag has a bad value
    │   └── RefusedError                          a governance step refused, and why
    ├── UnsupportedError (NotImplementedError)    a format or feature not available
    ├── ForbiddenError (PermissionError)          the actor's roles do not allow it, exit 4
    ├── TamperedError                             a ledger fails verification, exit 3
    └── InternalError (RuntimeError)              a bug in custodes: please report it

Messages never contain raw values of the data: they name files, lines,
columns and settings, what was expected and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ColumnRoleError",
    "CustodesError",
    "DataFileError",
    "EncodingError",
    "ForbiddenError",
    "InternalError",
    "InvalidInputError",
    "MalformedTableError",
    "RefusedError",
    "SettingError",
    "TamperedError",
    "UnknownColumnError",
    "UnsupportedError",
    "closest",
]


class CustodesError(Exception):
    """Root of every error custodes raises on purpose."""

    code = "custodes_error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        """The error as a JSON-ready object with its stable code."""
        return {"error": self.code, "message": self.message}


class InvalidInputError(CustodesError, ValueError):
    """The input (data, arguments or settings) is not acceptable."""

    code = "invalid_input"
    http_status = 400
    exit_code = 2


class DataFileError(InvalidInputError, OSError):
    """A data file is missing or cannot be opened."""

    code = "data_file"


class EncodingError(DataFileError, UnicodeError):
    """The bytes of a text file do not decode in any encoding tried."""

    code = "encoding"


class MalformedTableError(InvalidInputError):
    """The file opens but is not a well-formed table (ragged rows, no header...)."""

    code = "malformed_table"


class UnknownColumnError(InvalidInputError, KeyError):
    """A column name that is not in the table."""

    code = "unknown_column"

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class ColumnRoleError(InvalidInputError):
    """Column roles contradict each other (a column given two roles)."""

    code = "column_role"


class SettingError(InvalidInputError):
    """A setting, option or flag has a value that cannot be used."""

    code = "setting"


class UnsupportedError(CustodesError, NotImplementedError):
    """A format or feature custodes does not offer (yet)."""

    code = "unsupported"
    http_status = 501
    exit_code = 2


class RefusedError(InvalidInputError):
    """A governance step refused: a missing artifact, a policy gate, a wrong state."""

    code = "refused"
    http_status = 409


class ForbiddenError(CustodesError, PermissionError):
    """The actor has no role that allows this."""

    code = "forbidden"
    http_status = 403
    exit_code = 4


class TamperedError(CustodesError):
    """A ledger export, head or proof fails verification: something was changed."""

    code = "tampered"
    http_status = 409
    exit_code = 3


class InternalError(CustodesError, RuntimeError):
    """An invariant broke: this is a bug in custodes, please report it."""

    code = "internal"
    http_status = 500
    exit_code = 70

    def __init__(self, message: str) -> None:
        super().__init__(f"{message} (this is a bug in custodes; please report it)")


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``name`` (for 'did you mean' hints), or None."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if match:
        return match[0]
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def unknown_column(name: str, columns: Iterable[str], *, where: str) -> UnknownColumnError:
    """Build the error for a column not found in ``where`` (a file or table name)."""
    cols = list(columns)
    hint = closest(name, cols)
    suggestion = f" Did you mean {hint!r}?" if hint else ""
    shown = ", ".join(repr(c) for c in cols[:20]) + (" ..." if len(cols) > 20 else "")
    return UnknownColumnError(
        f"column {name!r} is not in {where}.{suggestion} Its columns are: {shown}."
    )
