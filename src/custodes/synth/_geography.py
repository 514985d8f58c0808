"""PRC county-level divisions from python-stdnum's ``cn/loc.dat``, and where people live.

``loc.dat`` lists every administrative division code since 1980 with the years
it was in use (``[1983-]`` from 1983 on, ``[-1993]`` until 1993, no brackets:
always). A county is *current* when one of its entries has no end year.

stdnum's resident ID check rejects a region code that was not in use in the
holder's birth year, and many current codes only date from a recoding in 1983
or later (no current Hebei, Jiangsu, Shandong, Henan or Guangdong code is
valid before 1983). So the ID of a person born before their county got its
current code carries the county's code *as it was in the birth year*: the
code, valid that year, of the same-named county (stdnum's model of an ID
region code). Only if no such code exists do we take another code valid that
year from the same prefecture, else province, else anywhere.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import numpy.typing as npt

from custodes._divisions import Entries as _Entries
from custodes._divisions import loc_dat as _loc_dat
from custodes.errors import InternalError

__all__ = [
    "OLDEST_BIRTH_YEAR",
    "REFERENCE_DATE",
    "Counties",
    "Geography",
    "counties",
    "pick_geography",
]

REFERENCE_DATE = date(2026, 11, 30)
"""The day the register describes: ages and code validity are as of this date."""

OLDEST_BIRTH_YEAR = REFERENCE_DATE.year - 101
"""No one in the register is born before this year (ages 0-100)."""

_YEARS = REFERENCE_DATE.year - OLDEST_BIRTH_YEAR + 1

_MUNICIPALITIES = frozenset({"11", "12", "31", "50"})

# 2020 census resident population in millions, by province code. Hong Kong,
# Macao and Taiwan have no county-level codes in loc.dat and are left out.
_PROVINCE_POPULATION: dict[str, float] = {
    "11": 21.89, "12": 13.87, "13": 74.61, "14": 34.92, "15": 24.05,
    "21": 42.59, "22": 24.07, "23": 31.85, "31": 24.87, "32": 84.75,
    "33": 64.57, "34": 61.03, "35": 41.54, "36": 45.19, "37": 101.53,
    "41": 99.37, "42": 57.75, "43": 66.44, "44": 126.01, "45": 50.13,
    "46": 10.08, "50": 32.05, "51": 83.67, "52": 38.56, "53": 47.21,
    "54": 3.65, "61": 39.53, "62": 25.02, "63": 5.92, "64": 7.20,
    "65": 25.85,
}  # fmt: skip

_SUFFIX = re.compile(r"(自治县|自治旗|特区|林区|县|市|区|旗)$")


def _name_in(entries: _Entries, year: int) -> str | None:
    """The name under which the code validates in ``year`` (as stdnum checks), or None."""
    for entry in entries:
        if entry.valid(year):
            return entry.name
    return None


def _current_name(entries: _Entries) -> str | None:
    return _name_in(entries, REFERENCE_DATE.year) if entries else None


def _stem(name: str) -> str:
    return _SUFFIX.sub("", name) or name


def _is_county_level(code: str, entries: _Entries) -> bool:
    return (
        len(code) == 6
        and not code.endswith("00")
        and code[:2] in _PROVINCE_POPULATION
        and not any(e.name == "市辖区" or "直辖" in e.name for e in entries)
    )


@cache
def _county_level() -> dict[str, _Entries]:
    """Every county-level code ever in loc.dat (current or ended), in code order."""
    return {c: e for c, e in sorted(_loc_dat().items()) if _is_county_level(c, e)}


@cache
def _by_stem() -> dict[str, tuple[str, ...]]:
    index: defaultdict[str, set[str]] = defaultdict(set)
    for code, entries in _county_level().items():
        for entry in entries:
            index[_stem(entry.name)].add(code)
    return {stem: tuple(sorted(codes)) for stem, codes in index.items()}


@dataclass(frozen=True)
class Counties:
    """Every current county-level division of mainland China in loc.dat."""

    code: tuple[str, ...]
    province: tuple[str, ...]
    prefecture: tuple[str, ...]
    """The prefecture's name; for the four municipalities, the municipality."""
    county: tuple[str, ...]
    is_district: npt.NDArray[np.bool_]
    """An urban district (区), as opposed to a county, banner or county-level city."""


@cache
def counties() -> Counties:
    """The current county-level divisions, read once from stdnum's loc.dat."""
    divisions = _loc_dat()
    rows: list[tuple[str, str, str, str, bool]] = []
    for code, entries in _county_level().items():
        county = _current_name(entries)
        province = _current_name(divisions.get(code[:2], ()))
        if code[:2] in _MUNICIPALITIES:
            prefecture = province
        else:
            prefecture = _current_name(divisions.get(code[:4] + "00", ()))
        if county is None or province is None or prefecture is None or "直辖" in prefecture:
            continue
        rows.append((code, province, prefecture, county, county.endswith("区")))
    codes, province_, prefecture_, county_, district = zip(*rows, strict=True)
    return Counties(
        code=codes,
        province=province_,
        prefecture=prefecture_,
        county=county_,
        is_district=np.array(district, dtype=np.bool_),
    )


def _valid_in(codes: Iterable[str], year: int, stems: frozenset[str] | None) -> list[str]:
    """The codes that validate in ``year`` (under a name with one of ``stems``, if given)."""
    table = _county_level()
    found = []
    for code in codes:
        name = _name_in(table[code], year)
        if name is not None and (stems is None or _stem(name) in stems):
            found.append(code)
    return found


@cache
def _with_prefix(prefix: str) -> tuple[str, ...]:
    return tuple(c for c in _county_level() if c.startswith(prefix))


@cache
def _valid_with_prefix(prefix: str, year: int) -> tuple[str, ...]:
    return tuple(_valid_in(_with_prefix(prefix), year, None))


def _birth_code(code: str, year: int) -> str:
    """The ID region code of someone born in ``year`` whose home county is ``code``."""
    table = _county_level()
    entries = table[code]
    if _name_in(entries, year) is not None:
        return code
    stems = frozenset(_stem(e.name) for e in entries)
    namesakes = sorted(
        {c for s in stems for c in _by_stem().get(s, ())},
        key=lambda c: (c[:4] != code[:4], c[:2] != code[:2], c),
    )
    found = _valid_in(namesakes, year, stems)
    if found:
        return found[0]
    # No namesake: a code valid that year near the county, spread by the county's
    # code so that counties without a namesake do not all share one code.
    for prefix in (code[:4], code[:2], ""):
        nearby = _valid_with_prefix(prefix, year)
        if nearby:
            return nearby[int(code) % len(nearby)]
    raise InternalError(f"no county-level code in loc.dat is valid in {year}")  # pragma: no cover


@dataclass(frozen=True)
class Geography:
    """The counties a register's population comes from, as indexes into :func:`counties`."""

    home: npt.NDArray[np.int64]
    """The populated counties."""
    weight: npt.NDArray[np.float64]
    """Share of the population registered in each at birth, summing to 1."""
    id_codes: tuple[str, ...]
    """Every region code an ID may carry."""
    id_code: npt.NDArray[np.int64]
    """``[home, birth year - OLDEST_BIRTH_YEAR]``: index into ``id_codes`` of the ID
    region code of someone born in that year in that home county."""


def pick_geography(rng: np.random.Generator, size: int = 300) -> Geography:
    """Pick about ``size`` counties, spread over provinces by 2020 census population.

    Within a province the counties get Zipf weights (1/rank), urban districts
    tending to rank first, so a few counties are large and most are small.
    """
    table = counties()
    provinces = np.array([c[:2] for c in table.code])
    total = sum(_PROVINCE_POPULATION.values())
    home: list[npt.NDArray[np.int64]] = []
    weight: list[npt.NDArray[np.float64]] = []
    for province, population in _PROVINCE_POPULATION.items():
        members = np.flatnonzero(provinces == province)
        share = population / total
        wanted = min(len(members), max(1, round(size * share)))
        chosen = rng.choice(members, size=wanted, replace=False)
        score = rng.random(wanted) * np.where(table.is_district[chosen], 2.0, 1.0)
        chosen = chosen[np.argsort(-score, kind="stable")]
        zipf = 1.0 / np.arange(1, wanted + 1, dtype=np.float64)
        home.append(chosen.astype(np.int64))
        weight.append(share * zipf / zipf.sum())
    homes = np.concatenate(home)
    weights = np.concatenate(weight)
    id_codes: dict[str, int] = {}
    id_code = np.empty((len(homes), _YEARS), dtype=np.int64)
    for i, county in enumerate(homes):
        for offset in range(_YEARS):
            code = _birth_code(table.code[county], OLDEST_BIRTH_YEAR + offset)
            id_code[i, offset] = id_codes.setdefault(code, len(id_codes))
    return Geography(
        home=homes, weight=weights / weights.sum(), id_codes=tuple(id_codes), id_code=id_code
    )
