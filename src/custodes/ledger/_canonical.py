"""Canonical JSON: the bytes every ledger hash and signature is computed over.

Keys sorted, no spaces, UTF-8 (no ASCII escaping), and no floats: a float's
text is not unique across languages, so numbers must be integers and
fractions be written as strings by the caller.
"""

from __future__ import annotations

import json
from typing import Any

from custodes.errors import InvalidInputError

__all__ = ["canonical"]


def _check(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, float):
        raise InvalidInputError(
            f"ledger entries hold no floats ({where} is one); write it as a string or an integer."
        )
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"ledger entry keys must be text ({where} has {key!r}).")
            _check(item, f"{where}.{key}")
        return
    raise InvalidInputError(
        f"ledger entries hold text, integers, booleans, lists and objects; {where} is a "
        f"{type(value).__name__}."
    )


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``."""
    _check(value, "the entry")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")
