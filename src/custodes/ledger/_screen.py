"""What an entry must not hold: personal data, written out or found by a screen."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from stdnum import luhn
from stdnum.cn import ric

from custodes.errors import InvalidInputError


class _Entry(Protocol):
    """What is checked of an event (the ledger's :class:`~custodes.ledger.Event`)."""

    @property
    def type(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


__all__ = ["Screen", "check_entry", "identifier_kind", "new_id", "redacted"]


# Values an entry must not hold: identifiers written out (record their hash). Digits
# written apart by spaces or dashes are put together first, and digit runs are found
# wherever they stand, also glued to letters; a hex digest's digit runs are chance.
_SPLIT = re.compile(r"(?<=[0-9])[\s\-\u00a0\u3000]+(?=[0-9])")
_RUN = re.compile(r"(?<![0-9])(?<![0-9]\.)(?:\+?86)?[0-9]+[Xx]?")
"""A digit run, whole; not the fraction of a decimal number (``0.110105...``: a parameter)."""
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_DIGEST = re.compile(r"^(?:sha256:)?(?=[0-9a-f]*[a-f])[0-9a-f]{16,}$")
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9][0-9]{9}$")


_FEW = re.compile(r"[^@0-9]*(?:[0-9][^@0-9]*){0,10}")
"""No ``@`` and at most 10 digits: no e-mail address, and fewer digits than the shortest
identifier checked (a mobile number's 11)."""


def identifier_kind(text: str) -> str | None:
    """The kind of personal data ``text`` is or holds (an e-mail address, a resident ID, a
    mobile or card number), or None."""
    if _FEW.fullmatch(text) or _DIGEST.match(text):
        return None
    if _EMAIL.search(text):
        return "an e-mail address"
    for run in _RUN.findall(_SPLIT.sub("", text)):
        digits = run.lstrip("+")
        if len(digits) == 18 and ric.calc_check_digit(digits) == digits[-1].upper():
            return "a resident ID number"
        if _MOBILE.match(run):
            return "a phone number"
        if 13 <= len(digits) <= 19 and digits.isdigit() and luhn.is_valid(digits):
            return "a card number"
    return None


def new_id(length: int = 12) -> str:
    """A random id of ``length`` hex digits that the screen passes: one whose digits happen
    to read as a phone or card number is drawn again (an entry naming it would be refused)."""
    while True:
        made = uuid.uuid4().hex[:length]
        if identifier_kind(made) is None:
            return made


def redacted(text: str) -> str:
    """``text`` with every e-mail address, resident ID, mobile or card number in it replaced
    by its kind, in brackets (for messages that quote what a store holds)."""
    text = _EMAIL.sub("[an e-mail address]", text)

    def one(found: re.Match[str]) -> str:
        kind = identifier_kind(found.group(0))
        return f"[{kind}]" if kind is not None else found.group(0)

    return _RUN.sub(one, text)


Screen = Callable[[Sequence[str]], list[str | None]]
"""Says for each string the kind of personal data it is or holds (None: none)."""


def _strings(value: Any, where: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, str):  # numbers are parameters (counts, fractions' parts)
        out.append((value, where))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            out.append((str(key), f"{where} (a key)"))
            _strings(item, f"{where}.{key}" if _PLAIN_KEY.match(str(key)) else where, out)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _strings(item, f"{where}[{i}]", out)


_PLAIN_KEY = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def check_entry(event: _Entry, screen: Screen | None) -> None:
    """Refuse an entry any string of which is or holds personal data.

    Every string is checked for identifiers (type, actor, subject, payload
    keys and values); with a ``screen`` (the workspace passes custodes's
    recognizers), the subject and the payload are checked with it too. The
    message names where, never the value.
    """
    strings: list[tuple[str, str]] = [
        (event.type, "the event type"),
        (event.actor, "the actor"),
        (event.subject, "the subject"),
    ]
    _strings(dict(event.payload), "payload", strings)
    for text, where in strings:
        kind = identifier_kind(text)
        if kind is not None:
            raise InvalidInputError(
                f"ledger entry: {where} holds what looks like {kind}; the ledger records "
                "hashes and parameters, never personal data: record its hash instead."
            )
    if screen is not None:
        screened = strings[2:]  # the subject and the payload: actors are staff, not data
        for (_, where), entity in zip(screened, screen([t for t, _ in screened]), strict=True):
            if entity is not None:
                raise InvalidInputError(
                    f"ledger entry: {where} is or holds personal data ({entity}); the ledger "
                    "records hashes and parameters, never personal data: record its hash "
                    "instead."
                )
