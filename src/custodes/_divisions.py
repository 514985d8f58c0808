"""PRC administrative division codes from python-stdnum's ``cn/loc.dat``.

``loc.dat`` lists every division code since 1980 with the years it was in
use (``[1983-]`` from 1983 on, ``[-1993]`` until 1993, no brackets: always).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Entries", "Entry", "loc_dat"]

_ENTRY = re.compile(r"^\[(\d*)-(\d*)\](.*)$")
_LINE = re.compile(r'^(\s*)(\d+) (?:province|county)="([^"]*)"$')


@dataclass(frozen=True)
class Entry:
    """One name of a code, with the years it was in use (None: open-ended)."""

    start: int | None
    end: int | None
    name: str

    def valid(self, year: int) -> bool:
        """Whether the name was in use in ``year``."""
        return (self.start is None or year >= self.start) and (self.end is None or year <= self.end)


Entries = tuple[Entry, ...]


def _parse_entries(text: str) -> Entries:
    entries = []
    for part in text.split(","):
        match = _ENTRY.match(part)
        if match is None:
            entries.append(Entry(None, None, part))
        else:
            start, end, name = match.groups()
            entries.append(Entry(int(start) if start else None, int(end) if end else None, name))
    return tuple(entries)


@cache
def loc_dat() -> dict[str, Entries]:
    """Every code in loc.dat (provinces as 2 digits, the rest as 6) with its entries."""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    divisions: dict[str, Entries] = {}
    province = ""
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        indent, digits, value = match.groups()
        province = digits if not indent else province
        divisions[digits if not indent else province + digits] = _parse_entries(value)
    return divisions
