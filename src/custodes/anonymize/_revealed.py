"""What a mask keeps: the kept part of an identifier is a released quasi-identifier.

Keeping the first six digits of a resident ID keeps the person's county; the
assessment of a release must count it. This module says, for every mask that
keeps characters, what the kept part reveals (in words, for the manifest) and
gives the values an attacker can match on, so the release's risk is assessed
with them as extra quasi-identifiers.

A PRC resident ID (GB 11643-1999) is read by position: digits 1-6 the region
(2 the province, 4 the prefecture, 6 the county), 7-14 the birth date, 15-17
a sequence number whose 17th digit is odd for men, 18 a check character. The
sequence and check character say nothing about a person that someone could
know without the ID itself, so a kept suffix of a resident ID counts only as
the sex it reveals. A Chinese mobile number's first 3 digits name the
carrier and its first 7 the number block (a region). Any other kept part
counts as it is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from custodes.anonymize._identifiers import IdentifierAction, Mask
from custodes.errors import RefusedError
from custodes.io import TableSource

if TYPE_CHECKING:
    from custodes.engines import Engine

__all__ = ["Revealed", "check_revealed", "kept_parts", "revealed_by"]

_ID_LENGTH = 18
_SEX_DIGIT = 17  # position (1-based) of a resident ID's sex digit
_REGION = ((6, "county"), (4, "prefecture"), (2, "province"))
_BIRTH = ((14, "birth date"), (12, "birth month"), (10, "birth year"))
_PHONE = ((7, "number block (region)"), (3, "carrier"))


@dataclass(frozen=True)
class Revealed:
    """A mask that keeps characters, and what they reveal about a person."""

    column: str
    keep_first: int
    keep_last: int
    kind: str
    """'resident ID', 'mobile phone' or 'text' (read from the released values' lengths)."""
    reveals: tuple[str, ...]
    """In words; empty when the kept part says nothing about a person."""

    @property
    def counted(self) -> bool:
        """Whether the kept part is counted as a quasi-identifier of the release."""
        return bool(self.reveals)

    def to_dict(self) -> dict[str, object]:
        """As recorded in the manifest (never a value)."""
        return {
            "column": self.column,
            "keep_first": self.keep_first,
            "keep_last": self.keep_last,
            "kind": self.kind,
            "reveals": list(self.reveals),
            "counted_as_quasi_identifier": self.counted,
        }

    def words(self) -> str:
        """What it reveals, for a message."""
        return ", ".join(self.reveals)


def _first(kept: int, table: tuple[tuple[int, str], ...]) -> list[str]:
    return [next(word for need, word in table if kept >= need)] if kept >= table[-1][0] else []


def _kind(lengths: list[int]) -> str:
    """What a column is, read from the distinct lengths of its values."""
    if lengths == [_ID_LENGTH]:
        return "resident ID"
    if lengths == [11]:
        return "mobile phone"
    return "text"


def _words(mask: Mask, kind: str) -> tuple[str, ...]:
    first, last = mask.keep_first, mask.keep_last
    if kind == "resident ID":
        out = _first(first, _REGION) + _first(first, _BIRTH)
        if first >= _SEX_DIGIT or last >= _ID_LENGTH - _SEX_DIGIT + 1:
            out.append(f"sex (the {_SEX_DIGIT}th digit)")
        return tuple(out)
    out = _first(first, _PHONE) if kind == "mobile phone" else []
    if first and not out:
        out.append(f"the first {first} characters")
    if last:
        out.append(f"the last {last} characters")
    return tuple(out)


def revealed_by(
    engine: Engine, table: TableSource, actions: Sequence[IdentifierAction]
) -> list[Revealed]:
    """Every mask of a released column that keeps characters, with what it reveals."""
    out = []
    for action in actions:
        if not isinstance(action, Mask) or action.column not in table.columns:
            continue
        if action.keep_first == 0 and action.keep_last == 0:
            continue
        kind = _kind(engine.text_lengths(table, action.column))
        out.append(
            Revealed(action.column, action.keep_first, action.keep_last, kind, _words(action, kind))
        )
    return out


def kept_parts(engine: Engine, table: TableSource, revealed: Sequence[Revealed]) -> TableSource:
    """The table with each counted masked column replaced by what an attacker can match on.

    The kept prefix counts as released; of a resident ID's kept suffix only
    whether the 17th digit is odd (the sex) counts.
    """
    for r in revealed:
        if not r.counted:
            continue
        if r.kind != "resident ID":
            table = engine.keep_parts(table, r.column, r.keep_first, r.keep_last)
        elif r.keep_last >= _ID_LENGTH - _SEX_DIGIT + 1:
            table = engine.keep_parts(table, r.column, r.keep_first, None, _SEX_DIGIT)
        else:
            table = engine.keep_parts(table, r.column, r.keep_first, None)
    return table


def check_revealed(
    revealed: Sequence[Revealed], required: int, without: int, with_masks: int
) -> None:
    """Refuse a release whose kept parts bring k below the spec's k."""
    counted = [r for r in revealed if r.counted]
    if not counted or with_masks >= required or with_masks >= without:
        return
    named = "; ".join(
        f"{r.column!r} keeps the first {r.keep_first} and last {r.keep_last} characters, "
        f"revealing: {r.words()}"
        for r in counted
    )
    raise RefusedError(
        f"the masks keep a quasi-identifier's information: {named}. Counted as a "
        f"quasi-identifier, k falls from {without:,} to {with_masks:,}, below the {required:,} "
        f"the spec's privacy models need. Keep fewer characters ({_fewer(counted[0])}), "
        "or remove the column, or release the information as a generalized "
        "quasi-identifier instead."
    )


def _fewer(r: Revealed) -> str:
    """A mask of the column that keeps nothing a person can be found by."""
    if r.kind == "resident ID":
        return f"e.g. keep_first = 0 and keep_last = 4, --mask {r.column}:0:4"
    return f"e.g. keep_first = 0 and keep_last = 0, --mask {r.column}"
