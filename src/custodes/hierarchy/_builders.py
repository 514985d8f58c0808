"""Building generalization hierarchies from the distinct values of a column.

Every builder takes the values a column holds (duplicates are dropped, the
order of first appearance is kept) and returns a validated :class:`Hierarchy`
with exactly one row per value: the value as given, its generalizations, then
the top ``*``. A value a builder cannot place is never dropped silently: the
builder raises :class:`InvalidInputError` saying how many values failed (never
which, since values may be personal data) and how to fix them.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from itertools import pairwise

from stdnum import numdb

from custodes.errors import InvalidInputError, MalformedTableError, SettingError, closest
from custodes.hierarchy._arx import Hierarchy

__all__ = [
    "BUILDERS",
    "build_hierarchy",
    "date_hierarchy",
    "interval_hierarchy",
    "mapping_hierarchy",
    "masking_hierarchy",
    "prc_division_hierarchy",
]

TOP = "*"
BUILDERS = ("date", "interval", "mask", "prc")
"""The builder names :func:`build_hierarchy` understands."""
_NOT_SHOWN = "(values are not shown because they may be personal data)"

Interval = tuple[Fraction | None, Fraction | None]
"""A half-open interval [lo, hi); None is an open end (-inf or +inf)."""


def _distinct(values: Sequence[str], builder: str) -> list[str]:
    if isinstance(values, str):
        raise InvalidInputError(f"{builder}: pass a list of values, not a single string.")
    distinct = list(dict.fromkeys(values))
    if not distinct:
        raise InvalidInputError(
            f"{builder}: no values given; pass the distinct values of the column."
        )
    wrong = sum(not isinstance(v, str) for v in distinct)
    if wrong:
        raise InvalidInputError(
            f"{builder}: {wrong} of the {len(distinct)} values are not text; "
            "convert them with str() first."
        )
    return distinct


def _failed(builder: str, failed: int, total: int, expected: str, fix: str) -> InvalidInputError:
    return InvalidInputError(
        f"{builder}: {failed} of the {total} distinct values are not {expected} {_NOT_SHOWN}; {fix}"
    )


# --- numeric intervals -------------------------------------------------------------------


def _number(text: str) -> Fraction | None:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return None
    # Finite and of a sane size, so that labels print exactly and quickly.
    return Fraction(d) if d.is_finite() and (not d or -1000 <= d.adjusted() < 300) else None


def _setting(name: str, x: float) -> Fraction:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise SettingError(f"interval_hierarchy: {name}={x!r} is not a finite number.")
    # str() first so that 0.1 means one tenth, not the nearest binary float.
    return Fraction(str(x)) if isinstance(x, float) else Fraction(x)


def _fmt(x: Fraction, integer: bool) -> str:
    """``x`` exactly: every bound is a decimal, made of decimal values and settings."""
    if integer:
        return str(int(x))
    e = 0
    while (x * 10**e).denominator != 1:
        e += 1
    digits = str(abs(x.numerator) * 10**e // x.denominator).rjust(e + 1, "0")
    text = f"{digits[:-e]}.{digits[-e:]}" if e else f"{digits}.0"
    return f"-{text}" if x < 0 else text


def _label(interval: Interval, integer: bool) -> str:
    lo, hi = interval
    if lo is None:
        assert hi is not None
        return f"<{_fmt(hi, integer)}"
    if hi is None:
        return f">={_fmt(lo, integer)}"
    if not integer:
        return f"[{_fmt(lo, integer)}, {_fmt(hi, integer)})"
    last = hi - 1
    if last == lo:
        return _fmt(lo, integer)
    sep = " to " if lo < 0 or last < 0 else "-"
    return f"{_fmt(lo, integer)}{sep}{_fmt(last, integer)}"


Grouper = Callable[[Fraction, int], Interval]
"""The interval of a value at a level (1 = the finest)."""
Grid = tuple[Grouper, list[Fraction], bool]
"""A grouper, the values it must eventually put in one interval, whether bounds are whole."""


def _by_cuts(cuts: Sequence[float], levels: int | None, numbers: list[Fraction]) -> Grid:
    points = [_setting("cuts", c) for c in cuts]
    if not points or any(a >= b for a, b in pairwise(points)):
        raise SettingError("interval_hierarchy: cuts= must be one or more increasing numbers.")
    most = len(points).bit_length()  # beyond, one pair would hold every interval
    if levels is not None and levels > most:
        raise SettingError(
            f"interval_hierarchy: {len(points)} cuts make at most {most} levels, not {levels}."
        )

    def group(x: Fraction, level: int) -> Interval:
        span = 2 ** (level - 1)
        start = bisect_right(points, x) // span * span
        end = min(start + span, len(points) + 1)
        return (
            points[start - 1] if start else None,
            points[end - 1] if end <= len(points) else None,
        )

    return group, numbers, all(p.denominator == 1 for p in points)


def _by_width(
    width: float, bottom: float | None, top: float | None, numbers: list[Fraction]
) -> Grid:
    size = _setting("width", width)
    low = None if bottom is None else _setting("bottom", bottom)
    high = None if top is None else _setting("top", top)
    if size <= 0:
        raise SettingError(f"interval_hierarchy: width={width!r} must be greater than 0.")
    if low is not None and high is not None and low >= high:
        raise SettingError(f"interval_hierarchy: bottom={bottom!r} must be below top={top!r}.")
    # Intervals double from 0; with negative values, from -width * 2**k, the first such
    # point so that [-width * 2**k, width * 2**k) holds every value: 0 stays a bound.
    inside = [x for x in numbers if (low is None or x >= low) and (high is None or x < high)]
    least, most = min(inside, default=Fraction(0)), max(inside, default=Fraction(0))
    anchor = Fraction(0)
    while least < 0 and not (anchor <= least and most < -anchor):
        anchor = anchor * 2 if anchor else -size

    def group(x: Fraction, level: int) -> Interval:
        if low is not None and x < low:
            return (None, low)
        if high is not None and x >= high:
            return (high, None)
        step = size * 2 ** (level - 1)
        lo = anchor + math.floor((x - anchor) / step) * step
        hi = lo + step
        return (lo if low is None else max(lo, low), hi if high is None else min(hi, high))

    return group, inside, all(p is None or p.denominator == 1 for p in (size, low, high))


def interval_hierarchy(
    values: Sequence[str],
    *,
    width: float | None = None,
    cuts: Sequence[float] | None = None,
    levels: int | None = None,
    bottom: float | None = None,
    top: float | None = None,
) -> Hierarchy:
    """Numeric intervals, by a fixed ``width`` or at explicit ``cuts``.

    With ``width``, level 1 cuts the line at the multiples of the width (ages with
    width 5 give ``20-24``) and each higher level doubles it (``20-29``, ``20-39``,
    ...; 0 stays a bound, so negatives merge with positives only at the top).
    Values below ``bottom`` are coded ``<bottom`` and values at or above ``top``
    ``>=top`` at every level; the intervals beside them are clipped (``18-19``,
    ``85-89``). With ``cuts``, level 1 is the intervals between the cuts (``<c0``,
    ``c0-...``, ..., ``>=cN``) and every higher level merges neighbours in pairs.
    Without ``levels``, levels are added until the next one would put all (uncoded)
    values in one interval.

    Labels are ``20-24`` (``-5 to -1`` with negatives) when every value is a whole
    number and every setting is whole, otherwise ``[20.0, 25.0)``.
    """
    name = "interval_hierarchy"
    distinct = _distinct(values, name)
    if levels is not None and (
        isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= 100
    ):
        raise SettingError(f"{name}: levels={levels!r} must be a whole number from 1 to 100.")
    if (width is None) == (cuts is None):
        raise SettingError(f"{name}: give exactly one of width= or cuts=.")
    if cuts is not None and (bottom is not None or top is not None):
        raise SettingError(
            f"{name}: bottom= and top= only go with width=; with cuts= the first and "
            "last cut already code the values below and above them."
        )
    parsed = [_number(v) for v in distinct]
    failed = sum(x is None for x in parsed)
    if failed:
        raise _failed(
            name, failed, len(distinct), "plain numbers",
            "clean or recode them first (finite numbers, 0 or from 1e-1000 to 1e300 in "
            "size), or use masking_hierarchy or mapping_hierarchy for codes and categories.",
        )  # fmt: skip
    numbers = [x for x in parsed if x is not None]
    group, inside, whole = (
        _by_width(width, bottom, top, numbers)
        if width is not None
        else _by_cuts(cuts or (), levels, numbers)
    )
    whole = whole and all(re.fullmatch(r"\s*[+-]?[0-9]+\s*", v) for v in distinct)
    if levels is None:
        levels = 1
        while len({group(x, levels + 1) for x in inside}) > 1:
            levels += 1
    rows = (
        (v, *(_label(group(x, level), whole) for level in range(1, levels + 1)), TOP)
        for v, x in zip(distinct, numbers, strict=True)
    )
    return Hierarchy(rows=tuple(rows), source=name)


# --- dates -------------------------------------------------------------------------------

_DATE_LEVELS: dict[str, Callable[[date], str]] = {
    "day": lambda d: d.isoformat(),
    "month": lambda d: f"{d.year:04d}-{d.month:02d}",
    "quarter": lambda d: f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}",
    "year": lambda d: f"{d.year:04d}",
    "decade": lambda d: f"{d.year // 10 * 10:04d}s",
}
"""The date levels, finest first, with how each labels a date."""
_DATE = re.compile(r"([0-9]{4})([-/]?)([0-9]{2})\2([0-9]{2})")


def _date(text: str) -> date | None:
    m = _DATE.fullmatch(text.strip())
    try:
        return date(int(m[1]), int(m[3]), int(m[4])) if m else None
    except ValueError:
        return None


def date_hierarchy(
    values: Sequence[str], *, levels: Sequence[str] = ("month", "quarter", "year", "decade")
) -> Hierarchy:
    """Dates to ``2020-03`` -> ``2020-Q1`` -> ``2020`` -> ``2020s`` -> ``*``.

    Values are ISO dates (``YYYY-MM-DD``), also ``YYYY/MM/DD`` and ``YYYYMMDD``.
    ``levels`` picks from ``day``, ``month``, ``quarter``, ``year`` and ``decade``, in
    that (coarsening) order.
    """
    name = "date_hierarchy"
    chosen = [levels] if isinstance(levels, str) else list(levels)
    order = list(_DATE_LEVELS)
    unknown = [level for level in chosen if level not in _DATE_LEVELS]
    if unknown:
        hint = closest(unknown[0], order)
        raise SettingError(
            f"{name}: unknown level {unknown[0]!r}."
            + (f" Did you mean {hint!r}?" if hint else "")
            + f" Choose from {', '.join(order)}."
        )
    ranks = [order.index(level) for level in chosen]
    if not chosen or any(a >= b for a, b in pairwise(ranks)):
        raise SettingError(
            f"{name}: levels must be one or more of {', '.join(order)}, each coarser than the "
            "one before and none repeated."
        )
    distinct = _distinct(values, name)
    dates = [_date(v) for v in distinct]
    failed = sum(d is None for d in dates)
    if failed:
        raise _failed(
            name, failed, len(distinct), "dates in a known format",
            "write them as YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD with a valid month and day.",
        )  # fmt: skip
    # Above the day, a date's labels are its month's: made once per month.
    made: dict[date, tuple[str, ...]] = {}
    rows = []
    for v, d in zip(distinct, dates, strict=True):
        if d is None:
            continue
        key = d if "day" in chosen else d.replace(day=1)
        labels = made.get(key)
        if labels is None:
            labels = made[key] = tuple(_DATE_LEVELS[level](key) for level in chosen)
        rows.append((v, *labels, TOP))
    return Hierarchy(rows=tuple(rows), source=name)


# --- masking -----------------------------------------------------------------------------


def masking_hierarchy(values: Sequence[str], *, step: int = 1, mask: str = "*") -> Hierarchy:
    """Codes masked from the right: ``110105`` -> ``11010*`` -> ... -> ``******`` -> ``*``.

    Each level masks ``step`` more characters. Values keep their length, so codes of
    different lengths never share a group below the top: a shorter value is fully
    masked earlier (``1234`` -> ... -> ``****``) and stays so until the top, which gives
    every row the depth of the longest value.
    """
    name = "masking_hierarchy"
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise SettingError(f"{name}: step={step!r} must be a whole number >= 1.")
    if not isinstance(mask, str) or len(mask) != 1:
        raise SettingError(f"{name}: mask={mask!r} must be a single character.")
    distinct = _distinct(values, name)
    height = max(-(-len(v) // step) for v in distinct)

    def masked(v: str, level: int) -> str:
        n = min(level * step, len(v))
        return v[: len(v) - n] + mask * n

    rows = ((v, *(masked(v, level) for level in range(1, height + 1)), TOP) for v in distinct)
    return Hierarchy(rows=tuple(rows), source=name)


# --- explicit mapping --------------------------------------------------------------------


def mapping_hierarchy(
    mapping: Mapping[str, Sequence[str]], values: Sequence[str] | None = None
) -> Hierarchy:
    """Groups from an explicit ``value -> [level 1, level 2, ...]`` mapping.

    Every path must have the same length; ``*`` is appended as the top unless every
    path already ends with it. ``values`` defaults to the keys of the mapping.
    """
    name = "mapping_hierarchy"
    distinct = _distinct(list(mapping) if values is None else values, name)
    missing = sum(v not in mapping for v in distinct)
    if missing:
        raise InvalidInputError(
            f"{name}: {missing} of the {len(distinct)} distinct values are not in the mapping "
            f"{_NOT_SHOWN}; add an entry value -> [level 1, level 2, ...] for each."
        )
    paths = [mapping[v] for v in distinct]
    if any(isinstance(p, str) for p in paths):
        raise SettingError(
            f"{name}: {sum(isinstance(p, str) for p in paths)} mapping entries are a single "
            "string; each entry must be a list of levels, e.g. ['Berlin', 'Germany']."
        )
    lengths = sorted({len(p) for p in paths})
    if len(lengths) > 1:
        raise MalformedTableError(
            f"{name}: the mapping gives paths of {len(lengths)} different lengths (from "
            f"{lengths[0]} to {lengths[-1]} levels); give every value the same number of levels."
        )
    top = () if all(p and p[-1] == TOP for p in paths) else (TOP,)
    rows = tuple((v, *p, *top) for v, p in zip(distinct, paths, strict=True))
    return Hierarchy(rows=rows, source=name)


# --- PRC administrative divisions --------------------------------------------------------

_GENERIC = frozenset(
    {"市", "县", "市辖区", "省直辖行政单位", "省直辖县级行政单位", "自治区直辖县级行政单位"}
)
"""Prefecture-level names that only make sense after their province's name."""
_NAME = re.compile(r"(?:\[([0-9]*)-([0-9]*)\])?(.*)")


def _latest(names: str) -> str:
    """The most recent of ``[-1991]东郊区,[1992-]东丽区`` (an open end is the present)."""
    best: tuple[int, int, str] = (-1, -1, "")
    for entry in names.split(","):
        m = _NAME.fullmatch(entry.strip())
        assert m is not None  # the pattern matches any text
        key = (int(m[2] or 9999), int(m[1] or 0), m[3])
        best = max(best, key)
    return best[2]


_Found = list[tuple[str, dict[str, str]]]


@cache
def _cn_loc() -> dict[str, _Found]:
    """python-stdnum's ``cn/loc`` look-up (``info``) of every code the table names exactly
    (a province of two digits, then four more), made in one walk of its tree: its own
    look-up scans each level's entries, a third of a millisecond a code. Codes under
    a province with a range of codes are left to it."""
    db = numdb.get("cn/loc")
    found: dict[str, _Found] = {}
    provinces: dict[str, dict[str, str]] = {}
    counties: dict[str, dict[str, dict[str, str]]] = {}
    ranged: set[str] = set()
    for length, low, high, props, children in db.prefixes:
        if length != 2 or low != high:
            return {}  # (another shape of table: every code is looked up)
        provinces.setdefault(low, {}).update(props)
        below = counties.setdefault(low, {})
        for size, start, end, more, _ in children:
            if size != 4 or start != end:
                ranged.add(low)
            else:
                below.setdefault(start, {}).update(more)
    for province, props in provinces.items():
        if province in ranged:
            continue
        for county, more in counties[province].items():
            found[province + county] = [(province, props), (county, more)]
    return found


def _info(code: str) -> _Found:
    """``numdb.get("cn/loc").info(code)``, for a 6-digit code."""
    known = _cn_loc().get(code)
    return known if known is not None else numdb.get("cn/loc").info(code)


def _prc_path(code: str) -> tuple[str, str] | None:
    """The prefecture and province labels of a 6-digit code, or None if unknown."""
    if not re.fullmatch(r"[0-9]{6}", code):
        return None
    found = _info(code)
    if len(found) != 2 or "province" not in found[0][1] or "county" not in found[1][1]:
        return None
    province_name = found[0][1]["province"]
    province = f"{code[:2]} {province_name}"
    if code[2:] == "0000":  # a province given as a whole
        return province, province
    prefecture_code = code[:4] + "00"
    prefecture = _info(prefecture_code)
    if len(prefecture) != 2 or "county" not in prefecture[1][1]:
        return None
    pref_name = _latest(prefecture[1][1]["county"])
    if pref_name in _GENERIC:
        pref_name = province_name + pref_name
    return f"{code[:4]} {pref_name}", province


def prc_division_hierarchy(values: Sequence[str]) -> Hierarchy:
    """PRC division codes: ``110105`` -> ``1101 北京市市辖区`` -> ``11 北京市`` -> ``*``.

    Names come from python-stdnum's ``cn/loc`` table (historical codes included; the
    most recent name of a code is used). A prefecture-level code (``110100``) is its
    own prefecture; a province code (``110000``) shows its province at both levels.
    """
    name = "prc_division_hierarchy"
    distinct = _distinct(values, name)
    paths = [_prc_path(v.strip()) for v in distinct]
    failed = sum(p is None for p in paths)
    if failed:
        raise _failed(
            name, failed, len(distinct), "PRC division codes known to python-stdnum",
            "give 6-digit codes such as the first 6 digits of a resident ID number (check for "
            "lost leading characters), or use masking_hierarchy for other codes.",
        )  # fmt: skip
    rows = ((v, *p, TOP) for v, p in zip(distinct, paths, strict=True) if p is not None)
    return Hierarchy(rows=tuple(rows), source=name)


# --- short descriptions (CLI) ------------------------------------------------------------

_OPTIONS = {
    "interval": ("width", "cuts", "levels", "bottom", "top"),
    "mask": ("step", "mask"),
    "prc": (),
}


def _options(description: str, builder: str, parts: list[str]) -> dict[str, str]:
    allowed = _OPTIONS[builder]
    options: dict[str, str] = {}
    for part in parts:
        key, eq, value = (s.strip() for s in part.partition("="))
        if key not in allowed or not eq or key in options:
            hint = closest(key, allowed)
            takes = (
                ", ".join(f"{k}=..." for k in allowed) + ", each once" if allowed else "no options"
            )
            raise SettingError(
                f"hierarchy description {description!r}: bad part {part!r}; {builder!r} takes "
                + takes
                + (f"; did you mean {hint + '=...'!r}?" if hint and hint != key else ".")
            )
        options[key] = value
    return options


def _num(description: str, key: str, text: str, *, whole: bool = False) -> float:
    try:
        x = int(text) if whole or re.fullmatch(r"[+-]?[0-9]+", text) else float(text)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        kind = "a whole number" if whole else "a number"
        raise SettingError(f"hierarchy description {description!r}: {key}={text!r} is not {kind}.")
    return x


def build_hierarchy(description: str, values: Sequence[str]) -> Hierarchy:
    """Build a hierarchy from a short description, as given on the command line.

    ``interval:width=5,bottom=18,top=90``, ``interval:cuts=18;30;45;65``,
    ``date:month,year,decade`` (``date`` alone: month, quarter, year, decade),
    ``mask:step=2,mask=#`` and ``prc``.
    """
    builder, _, rest = description.strip().partition(":")
    builder = builder.strip().lower()
    parts = [p.strip() for p in rest.split(",")] if rest.strip() else []
    if builder not in BUILDERS:
        hint = closest(builder, BUILDERS)
        raise SettingError(
            f"hierarchy description {description!r}: unknown builder {builder!r}."
            + (f" Did you mean {hint!r}?" if hint else "")
            + f" Choose one of {', '.join(BUILDERS)}, e.g. 'interval:width=5' or 'date:year'."
        )
    if builder == "date":
        return date_hierarchy(values, levels=parts) if parts else date_hierarchy(values)
    options = _options(description, builder, parts)
    if builder == "prc":
        return prc_division_hierarchy(values)
    if builder == "mask":
        step = int(_num(description, "step", options.get("step", "1"), whole=True))
        return masking_hierarchy(values, step=step, mask=options.get("mask", "*"))
    num = {k: _num(description, k, v, whole=k == "levels") for k, v in options.items()
           if k != "cuts"}  # fmt: skip
    cuts = options["cuts"].split(";") if "cuts" in options else None
    return interval_hierarchy(
        values,
        width=num.get("width"),
        cuts=None if cuts is None else [_num(description, "cuts", c.strip()) for c in cuts],
        levels=int(num["levels"]) if "levels" in num else None,
        bottom=num.get("bottom"),
        top=num.get("top"),
    )
