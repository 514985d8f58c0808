"""Screening strings bound for the permanent record (the ledger).

An entry can never be removed from the ledger, so no string in it may be
personal data: not a column name that is really the first person's name (a
header-less file), not a subject, not a payload key. :func:`personal_data_in`
says what kind of personal data each string is or holds, with every
recognizer custodes has: a string that *is* a name, an address, an
identifier or an e-mail address (judged whole, as :func:`classify` does), and
a string that *holds* a validated identifier anywhere inside it, also written
with spaces or dashes between its digits or glued to letters.
:func:`hash_personal` replaces such strings with their SHA-256, which is what
the ledger should record instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from custodes.detect._classify import classify
from custodes.detect._lexicon import CATEGORY_HINTS, NAME_HINTS, QUASI_HINTS, name_has
from custodes.detect._recognizers import RECOGNIZERS, validated_hits
from custodes.engines._detect import SpanSearch
from custodes.io import is_identifier_name

__all__ = ["could_be_personal", "hash_personal", "header_judge", "personal_data_in"]

_PREFIX = "sha256:"
# Judged whole, these are facts, not people: a date (a deadline, a release day), a place.
_NOT_ALONE = frozenset({"DATE_OF_BIRTH", "IP_ADDRESS", "PLACE"})
# A digest in hex (what the ledger records instead of data): its digit runs are chance.
_DIGEST = re.compile(r"^(?:sha256:)?(?=[0-9a-f]*[a-f])[0-9a-f]{16,}$")


# What no recognizer can match, so that most strings of a ledger entry (event names, keys,
# states, parameters, digests) skip the engine: ASCII words and a few separators with no
# pairs of hex letters joined as a MAC address joins them; a word with a short number in it
# (sha256); a number of at most 8 digits a side that does not start with a 0 (01010000 is
# a Beijing telephone number); a hex digest (the ledger's own hashes).
_WORDS = re.compile(r"[A-Za-z_./ \-]*")
_HEX_PAIRS = re.compile(r"(?i)[a-f]{2}[.\-][a-f]{2}")
_SHORT_NUMBERED = re.compile(r"[A-Za-z_]*[0-9]{1,4}[A-Za-z_]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,7})(?:\.[0-9]{1,8})?(?:e[-+]?[0-9]{1,3})?")


def could_be_personal(text: str) -> bool:
    """False for a string no recognizer can match (see above); True otherwise."""
    if _WORDS.fullmatch(text):
        return _HEX_PAIRS.search(text) is not None
    return not (_SHORT_NUMBERED.fullmatch(text) or _NUMBER.fullmatch(text) or _DIGEST.match(text))


def personal_data_in(strings: Sequence[str]) -> list[str | None]:
    """For each string, the entity of the personal data it is or holds, or None."""
    out: list[str | None] = [None] * len(strings)
    todo = [i for i, text in enumerate(strings) if could_be_personal(text)]
    if todo:
        for i, kind in zip(todo, _recognized([strings[i] for i in todo]), strict=True):
            out[i] = kind
    return out


def _recognized(strings: Sequence[str]) -> list[str | None]:
    """:func:`personal_data_in` by the recognizers, run by the engine."""
    values = pa.array(list(strings), type=pa.large_string())
    kinds: list[str | None] = [
        None if entity in _NOT_ALONE else entity for entity in classify(values).to_pylist()
    ]
    digests = [_DIGEST.match(s) is not None for s in strings]
    spans = [r for r in RECOGNIZERS if r.span is not None]
    hits = validated_hits(values, spans, lambda r: SpanSearch(r.shape, r.span, compact_digits=True))
    for r, found in zip(spans, hits, strict=True):
        for row in np.unique(found.rows).tolist():
            kinds[row] = kinds[row] or r.entity
    return [None if digest else kind for kind, digest in zip(kinds, digests, strict=True)]


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            out.append(str(key))
            _strings(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _strings(item, out)


def _digest(text: str) -> str:
    return _PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _replace(value: Any, flagged: set[str]) -> Any:
    if isinstance(value, str):
        return _digest(value) if value in flagged else value
    if isinstance(value, Mapping):
        return {
            (_digest(str(k)) if str(k) in flagged else k): _replace(v, flagged)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_replace(v, flagged) for v in value]
    return value


def hash_personal(subject: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The subject and payload with every string that is or holds personal data hashed
    (``sha256:`` and the hex digest of its UTF-8 bytes), keys included."""
    strings: list[str] = [subject]
    _strings(payload, strings)
    distinct = sorted(set(strings))
    flagged = {
        s for s, kind in zip(distinct, personal_data_in(distinct), strict=True) if kind is not None
    }
    if not flagged:
        return subject, dict(payload)
    replaced: dict[str, Any] = _replace(payload, flagged)
    return (_digest(subject) if subject in flagged else subject), replaced


_COLUMN_WORDS = tuple(
    {w for words in NAME_HINTS.values() for w in words}
    | set(QUASI_HINTS)
    | {w for words in CATEGORY_HINTS.values() for w in words}
)


def header_judge(fields: Sequence[str], fits: Sequence[bool]) -> bool:
    """Whether a first row names the columns, when some of its fields could be values.

    It does when none of its fields is personal data and each field that
    could be a value of its column is a known column word (姓名 above names,
    性别, 出生日期 ...) or an identifier-like name (``name``, ``birth_date``):
    a person's name or address in that place (a header-less file) is not.
    """
    if any(kind is not None for kind in personal_data_in(list(fields))):
        return False
    return all(
        name_has(field, _COLUMN_WORDS) or is_identifier_name(field)
        for field, fit in zip(fields, fits, strict=True)
        if fit and field.strip()  # an empty name is the reader's to report
    )
