"""Hierarchy builders: intervals, dates, masking, mappings, PRC divisions, descriptions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import numdb

from custodes.errors import InvalidInputError, MalformedTableError, SettingError
from custodes.hierarchy import (
    BUILDERS,
    Hierarchy,
    build_hierarchy,
    date_hierarchy,
    interval_hierarchy,
    mapping_hierarchy,
    masking_hierarchy,
    prc_division_hierarchy,
)

SECRET = "SECRET-VALUE"


def check(h: Hierarchy, values: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The invariants of every builder's output; returns the rows by value."""
    assert [row[0] for row in h.rows] == list(dict.fromkeys(values))
    assert {row[-1] for row in h.rows} == {"*"}
    for level in range(1, h.height):  # a coarsening: each group has a single parent
        parent: dict[str, str] = {}
        for row in h.rows:
            assert parent.setdefault(row[level], row[level + 1]) == row[level + 1]
    Hierarchy(rows=h.rows)  # revalidates
    return {row[0]: row for row in h.rows}


# --- intervals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "options", "expected"),
    [
        (  # ages: width 5, each level doubles
            ["20", "23", "27", "35", "41"],
            {"width": 5},
            [
                ("23", "20-24", "20-29", "20-39", "0-39", "*"),
                ("41", "40-44", "40-49", "40-59", "40-79", "*"),
            ],
        ),
        (  # top and bottom coding, intervals beside them clipped
            ["17", "18", "47", "89", "90", "120"],
            {"width": 10, "bottom": 18, "top": 90},
            [
                ("17", "<18", "<18", "<18", "<18", "*"),
                ("18", "18-19", "18-19", "18-39", "18-79", "*"),
                ("47", "40-49", "40-59", "40-79", "18-79", "*"),
                ("89", "80-89", "80-89", "80-89", "80-89", "*"),
                ("90", ">=90", ">=90", ">=90", ">=90", "*"),
                ("120", ">=90", ">=90", ">=90", ">=90", "*"),
            ],
        ),
        (  # cut points, then pairs merged
            ["17", "20", "45", "65", "100"],
            {"cuts": [18, 30, 45, 65]},
            [
                ("17", "<18", "<30", "<65", "*"),
                ("20", "18-29", "<30", "<65", "*"),
                ("45", "45-64", "30-64", "<65", "*"),
                ("100", ">=65", ">=65", ">=65", "*"),
            ],
        ),
        (
            ["21.5", "20"],
            {"width": 5},
            [("21.5", "[20.0, 25.0)", "*"), ("20", "[20.0, 25.0)", "*")],
        ),
        (["20", "21"], {"width": 2.5}, [("20", "[20.0, 22.5)", "*")]),
        (["0.3", "0.05"], {"width": 0.1}, [("0.3", "[0.3, 0.4)", "[0.2, 0.4)", "*")]),
        (["-3", "4"], {"width": 5}, [("-3", "-5 to -1", "*"), ("4", "0-4", "*")]),
        (
            ["-3", "17", "90"],
            {"width": 5},
            [
                (
                    "-3",
                    "-5 to -1",
                    "-10 to -1",
                    "-20 to -1",
                    "-40 to -1",
                    "-80 to -1",
                    "-160 to -1",
                    "*",
                )
            ],
        ),
        (["42"], {"width": 10}, [("42", "40-49", "*")]),
        (["42"], {"cuts": [50]}, [("42", "<50", "*")]),
        (["1", "2"], {"width": 1, "levels": 3}, [("1", "1", "0-1", "0-3", "*")]),
        ([" 7 ", "7"], {"width": 5}, [(" 7 ", "5-9", "*"), ("7", "5-9", "*")]),
        (["10", "15"], {"cuts": [12.5]}, [("10", "<12.5", "*"), ("15", ">=12.5", "*")]),
        (["1e3", "-2.5e-1"], {"width": 1000}, [("1e3", "[1000.0, 2000.0)", "[0.0, 2000.0)", "*")]),
        (["5", "6", "5"], {"width": 10}, [("5", "0-9", "*"), ("6", "0-9", "*")]),
    ],
)
def test_interval_labels(
    values: list[str], options: dict[str, Any], expected: list[tuple[str, ...]]
) -> None:
    rows = check(interval_hierarchy(values, **options), values)
    for row in expected:
        assert rows[row[0]] == row


@pytest.mark.parametrize(
    ("values", "options", "error", "message"),
    [
        (
            ["1", SECRET, "x", "nan"],
            {"width": 5},
            InvalidInputError,
            r"3 of the 4 distinct values are not plain numbers",
        ),
        (["1", "inf"], {"width": 5}, InvalidInputError, r"1 of the 2 distinct values"),
        (
            ["1", "1e400", "-1e-1001"],
            {"width": 5},
            InvalidInputError,
            r"0 or from 1e-1000 to 1e300 in size",
        ),
        ([], {"width": 5}, InvalidInputError, r"no values given"),
        ("12", {"width": 5}, InvalidInputError, r"not a single string"),
        (["1"], {}, SettingError, r"give exactly one of width= or cuts="),
        (["1"], {"width": 5, "cuts": [3]}, SettingError, r"exactly one of width= or cuts="),
        (["1"], {"cuts": [3], "top": 9}, SettingError, r"bottom= and top= only go with width="),
        (["1"], {"cuts": [3, 3]}, SettingError, r"cuts= must be one or more increasing numbers"),
        (["1"], {"cuts": []}, SettingError, r"cuts= must be one or more increasing numbers"),
        (
            ["1"],
            {"cuts": [1, 2, 3], "levels": 3},
            SettingError,
            r"3 cuts make at most 2 levels, not 3",
        ),
        (["1"], {"width": 5, "levels": 101}, SettingError, r"levels=101 must be a whole number"),
        (["1"], {"width": 0}, SettingError, r"width=0 must be greater than 0"),
        (["1"], {"width": float("inf")}, SettingError, r"width=inf is not a finite number"),
        (["1"], {"width": 5, "bottom": 9, "top": 9}, SettingError, r"bottom=9 must be below top=9"),
        (
            ["1"],
            {"width": 5, "levels": 0},
            SettingError,
            r"levels=0 must be a whole number from 1 to 100",
        ),
    ],
)
def test_interval_errors(
    values: list[str], options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        interval_hierarchy(values, **options)
    assert SECRET not in str(info.value)


def _contains(label: str, x: Fraction) -> bool:
    """Whether x is in ``<a``, ``>=a``, ``[a, b)``, ``a-b``, ``a to b`` or ``a``."""
    if label.startswith("<"):
        return x < Fraction(label[1:])
    if label.startswith(">="):
        return x >= Fraction(label[2:])
    if label.startswith("["):
        lo, hi = label[1:-1].split(", ")
        return Fraction(lo) <= x < Fraction(hi)
    m = re.fullmatch(r"(-?[0-9]+)(?: to |-)(-?[0-9]+)", label)
    if m:
        return Fraction(m[1]) <= x <= Fraction(m[2])
    return x == Fraction(label)


numbers = st.one_of(
    st.integers(-10_000, 10_000).map(str),
    st.decimals(-1000, 1000, places=2, allow_nan=False, allow_infinity=False).map(str),
)


@settings(deadline=None)
@given(
    values=st.lists(numbers, min_size=1, max_size=30),
    width=st.sampled_from([1, 2, 5, 10, 0.5, 2.5, 0.01]),
    bottom=st.none() | st.integers(-100, 100),
    span=st.none() | st.integers(1, 500),
    levels=st.none() | st.integers(1, 6),
)
def test_interval_property(
    values: list[str], width: float, bottom: int | None, span: int | None, levels: int | None
) -> None:
    top = None if span is None else (bottom or 0) + span
    h = interval_hierarchy(values, width=width, bottom=bottom, top=top, levels=levels)
    check(h, values)
    if levels is not None:
        assert h.height == levels + 1
    for row in h.rows:
        assert all(_contains(label, Fraction(row[0])) for label in row[1:-1]), row


@settings(deadline=None)
@given(
    values=st.lists(numbers, min_size=1, max_size=30),
    cuts=st.lists(st.integers(-2000, 2000), min_size=1, max_size=9, unique=True).map(sorted),
)
def test_interval_cuts_property(values: list[str], cuts: list[int]) -> None:
    h = interval_hierarchy(values, cuts=cuts)
    check(h, values)
    for row in h.rows:
        assert all(_contains(label, Fraction(row[0])) for label in row[1:-1]), row


# --- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "levels", "expected"),
    [
        (["2020-03-15"], None, ("2020-03-15", "2020-03", "2020-Q1", "2020", "2020s", "*")),
        (["2020/12/01"], None, ("2020/12/01", "2020-12", "2020-Q4", "2020", "2020s", "*")),
        (["19990701"], None, ("19990701", "1999-07", "1999-Q3", "1999", "1990s", "*")),
        ([" 2000-01-31 "], ["day", "year"], (" 2000-01-31 ", "2000-01-31", "2000", "*")),
        (["2000-02-29"], ["month", "decade"], ("2000-02-29", "2000-02", "2000s", "*")),
        (["0005-06-30"], ["quarter", "decade"], ("0005-06-30", "0005-Q2", "0000s", "*")),
        (["2011-11-11"], "year", ("2011-11-11", "2011", "*")),
    ],
)
def test_date_labels(
    values: list[str], levels: list[str] | None, expected: tuple[str, ...]
) -> None:
    h = date_hierarchy(values) if levels is None else date_hierarchy(values, levels=levels)
    assert check(h, values)[values[0]] == expected


@pytest.mark.parametrize(
    ("values", "levels", "error", "message"),
    [
        (
            ["2020-01-01", SECRET, "2021-02-29", "2020-13-01", "2020-1-1", "2020-03/15"],
            None,
            InvalidInputError,
            r"5 of the 6 distinct values are not dates in a known format",
        ),
        (["x"], None, InvalidInputError, r"write them as YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD"),
        ([], None, InvalidInputError, r"no values given"),
        (
            ["2020-01-01"],
            ["mnth"],
            SettingError,
            r"unknown level 'mnth'. Did you mean 'month'\? Choose from day, month",
        ),
        (["2020-01-01"], ["year", "month"], SettingError, r"each coarser than the one before"),
        (["2020-01-01"], ["year", "year"], SettingError, r"none repeated"),
        (["2020-01-01"], [], SettingError, r"levels must be one or more of"),
    ],
)
def test_date_errors(
    values: list[str], levels: list[str] | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        date_hierarchy(values) if levels is None else date_hierarchy(values, levels=levels)
    assert SECRET not in str(info.value)


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
LEVELS = ("day", "month", "quarter", "year", "decade")


@settings(deadline=None)
@given(
    dates=st.lists(
        st.tuples(st.dates(date(1000, 1, 1), date(9999, 12, 31)), st.sampled_from(DATE_FORMATS)),
        min_size=1,
        max_size=20,
    ),
    chosen=st.sets(st.sampled_from(LEVELS), min_size=1),
)
def test_date_property(dates: list[tuple[date, str]], chosen: set[str]) -> None:
    values = [d.strftime(fmt) for d, fmt in dates]
    levels = [level for level in LEVELS if level in chosen]
    rows = check(date_hierarchy(values, levels=levels), values)
    for d, fmt in dates:
        labels = dict(zip(levels, rows[d.strftime(fmt)][1:], strict=False))
        assert labels.get("day", d.isoformat()) == d.isoformat()
        assert labels.get("month", d.isoformat()[:7]) == d.isoformat()[:7]
        assert labels.get("year", str(d.year)) == str(d.year)
        quarter = f"{d.year}-Q{(d.month + 2) // 3}"
        assert labels.get("quarter", quarter) == quarter
        assert labels.get("decade", f"{str(d.year)[:3]}0s") == f"{str(d.year)[:3]}0s"


# --- masking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "options", "expected"),
    [
        (
            ["110105"],
            {},
            ("110105", "11010*", "1101**", "110***", "11****", "1*****", "******", "*"),
        ),
        (["110105"], {"step": 2}, ("110105", "1101**", "11****", "******", "*")),
        (["110105"], {"step": 4}, ("110105", "11****", "******", "*")),
        (["110105"], {"step": 9}, ("110105", "******", "*")),
        (["12345", "1234"], {"step": 2, "mask": "#"}, ("1234", "12##", "####", "####", "*")),
        (["12345", "1234"], {"step": 2, "mask": "#"}, ("12345", "123##", "1####", "#####", "*")),
        (["", "12"], {}, ("", "", "", "*")),
        (["a"], {}, ("a", "*", "*")),
    ],
)
def test_masking_labels(
    values: list[str], options: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert check(masking_hierarchy(values, **options), values)[expected[0]] == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"step": 0}, r"step=0 must be a whole number >= 1"),
        ({"step": 1.5}, r"step=1.5 must be a whole number >= 1"),
        ({"mask": ""}, r"mask='' must be a single character"),
        ({"mask": "**"}, r"mask='\*\*' must be a single character"),
    ],
)
def test_masking_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        masking_hierarchy(["1"], **options)


@settings(deadline=None)
@given(
    values=st.lists(st.text("0123456789*X", max_size=10), min_size=1, max_size=30),
    step=st.integers(1, 4),
)
def test_masking_property(values: list[str], step: int) -> None:
    h = masking_hierarchy(values, step=step)
    check(h, values)
    assert h.height == max(-(-len(v) // step) for v in values) + 1
    for row in h.rows:
        v = row[0]
        for level, label in enumerate(row[1:-1], start=1):
            kept = max(len(v) - level * step, 0)
            assert label == v[:kept] + "*" * (len(v) - kept)


# --- explicit mappings --------------------------------------------------------------------

CITIES = {
    "Berlin": ["Germany", "Europe"],
    "Lyon": ["France", "Europe"],
    "Lima": ["Peru", "America"],
}


@pytest.mark.parametrize(
    ("mapping", "values", "expected"),
    [
        (CITIES, None, [("Berlin", "Germany", "Europe", "*"), ("Lima", "Peru", "America", "*")]),
        (CITIES, ["Lyon", "Lyon"], [("Lyon", "France", "Europe", "*")]),
        ({"a": ["x", "*"], "b": ["y", "*"]}, None, [("a", "x", "*"), ("b", "y", "*")]),
        ({"a": [], "b": []}, None, [("a", "*"), ("b", "*")]),
        ({"a": ("x",), "b": ("*",)}, None, [("a", "x", "*"), ("b", "*", "*")]),
    ],
)
def test_mapping_rows(
    mapping: dict[str, Sequence[str]], values: list[str] | None, expected: list[tuple[str, ...]]
) -> None:
    rows = check(mapping_hierarchy(mapping, values), list(mapping) if values is None else values)
    for row in expected:
        assert rows[row[0]] == row


@pytest.mark.parametrize(
    ("mapping", "values", "error", "message"),
    [
        (
            CITIES,
            ["Berlin", SECRET, "Paris"],
            InvalidInputError,
            r"2 of the 3 distinct values are not in the mapping",
        ),
        ({}, None, InvalidInputError, r"no values given"),
        (
            {"a": ["x"], "b": ["y", "z"]},
            None,
            MalformedTableError,
            r"paths of 2 different lengths \(from 1 to 2 levels\)",
        ),
        ({"a": "Europe"}, None, SettingError, r"1 mapping entries are a single string"),
        (
            {"a": ["x", "P"], "b": ["x", "Q"]},
            None,
            MalformedTableError,
            r"line 2: the level-1 group",
        ),
    ],
)
def test_mapping_errors(
    mapping: dict[str, Sequence[str]],
    values: list[str] | None,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message) as info:
        mapping_hierarchy(mapping, values)
    assert SECRET not in str(info.value)


@settings(deadline=None)
@given(groups=st.dictionaries(st.text(max_size=5), st.integers(0, 5), min_size=1))
def test_mapping_property(groups: dict[str, int]) -> None:
    # A tree by construction: group g always belongs to supergroup g % 3.
    mapping = {v: [f"g{g}", f"s{g % 3}"] for v, g in groups.items()}
    rows = check(mapping_hierarchy(mapping), list(mapping))
    assert all(rows[v] == (v, *mapping[v], "*") for v in mapping)


# --- PRC divisions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expected",
    [
        ("110105", "1101 北京市市辖区", "11 北京市", "*"),
        ("110103", "1101 北京市市辖区", "11 北京市", "*"),  # 崇文区, merged in 2010
        ("110100", "1101 北京市市辖区", "11 北京市", "*"),  # a prefecture code
        ("110000", "11 北京市", "11 北京市", "*"),  # a province code
        ("210202", "2102 大连市", "21 辽宁省", "*"),  # 旅大市 until 1980
        ("142201", "1422 忻州地区", "14 山西省", "*"),  # 忻县地区 until 1982
        ("429021", "4290 湖北省省直辖县级行政单位", "42 湖北省", "*"),
        (" 330106", "3301 杭州市", "33 浙江省", "*"),
    ],
)
def test_prc_labels(expected: tuple[str, ...]) -> None:
    values = [expected[0], "500101"]
    rows = check(prc_division_hierarchy(values), values)
    assert rows[expected[0]] == expected
    assert rows["500101"] == ("500101", "5001 重庆市市辖区", "50 重庆市", "*")


def test_prc_unknown_codes_are_counted() -> None:
    with pytest.raises(InvalidInputError, match=r"4 of the 5 distinct values are not PRC") as info:
        prc_division_hierarchy(["110105", "999999", "11010", "abcdef", "119999"])
    assert "999999" not in str(info.value)
    assert "first 6 digits of a resident ID" in str(info.value)


def _known_codes() -> list[str]:
    codes = []
    for _, province, _, _, children in numdb.get("cn/loc").prefixes:
        codes += [province + child[1] for child in children]
    return codes


KNOWN_CODES = _known_codes()


@settings(deadline=None)
@given(codes=st.lists(st.sampled_from(KNOWN_CODES), min_size=1, max_size=40))
def test_prc_property(codes: list[str]) -> None:
    for row in check(prc_division_hierarchy(codes), codes).values():
        code = row[0]
        province = row[2].split(" ")[0]
        assert province == code[:2]
        assert row[1].split(" ")[0] in (code[:4], code[:2])


# --- descriptions -------------------------------------------------------------------------

AGES = ["17", "23", "35", "64", "91"]


@pytest.mark.parametrize(
    ("description", "values", "same_as"),
    [
        (
            "interval:width=5,bottom=18,top=90",
            AGES,
            lambda v: interval_hierarchy(v, width=5, bottom=18, top=90),
        ),
        ("interval:cuts=18;30;45;65", AGES, lambda v: interval_hierarchy(v, cuts=[18, 30, 45, 65])),
        (
            "interval: width = 2.5 , levels=2",
            AGES,
            lambda v: interval_hierarchy(v, width=2.5, levels=2),
        ),
        ("date", ["2020-03-15"], date_hierarchy),
        (
            "date:month,year,decade",
            ["2020-03-15"],
            lambda v: date_hierarchy(v, levels=["month", "year", "decade"]),
        ),
        ("mask:step=2", ["110105"], lambda v: masking_hierarchy(v, step=2)),
        ("mask:mask=#", ["110105"], lambda v: masking_hierarchy(v, mask="#")),
        ("mask", ["110105"], masking_hierarchy),
        ("prc", ["110105"], prc_division_hierarchy),
        ("PRC:", ["110105"], prc_division_hierarchy),
    ],
)
def test_build_hierarchy(description: str, values: list[str], same_as: Any) -> None:
    assert build_hierarchy(description, values) == same_as(values)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        (
            "intervl:width=5",
            r"unknown builder 'intervl'. Did you mean 'interval'\? Choose one of date, interval,",
        ),
        ("postcode", r"unknown builder 'postcode'. Choose one of date, interval, mask, prc"),
        (
            "interval:widht=5",
            r"bad part 'widht=5'; 'interval' takes width=..., .*did you mean 'width=...'\?",
        ),
        ("interval:width=5,width=6", r"bad part 'width=6'.*each once"),
        ("interval:width", r"bad part 'width'"),
        ("interval:width=abc", r"'interval:width=abc': width='abc' is not a number"),
        ("interval:cuts=1;x", r"cuts='x' is not a number"),
        ("interval:width=5,levels=2.5", r"levels='2.5' is not a whole number"),
        ("interval:width=inf", r"width='inf' is not a number"),
        ("mask:step=two", r"step='two' is not a whole number"),
        ("prc:step=1", r"bad part 'step=1'; 'prc' takes no options"),
        ("date:mnth", r"unknown level 'mnth'. Did you mean 'month'\?"),
        ("interval", r"give exactly one of width= or cuts="),
    ],
)
def test_build_hierarchy_errors(description: str, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        build_hierarchy(description, ["1"])


def test_builder_names() -> None:
    assert BUILDERS == ("date", "interval", "mask", "prc")


def test_the_cn_loc_index_answers_as_stdnum_does() -> None:
    # The index made in one walk of python-stdnum's table gives what its own look-up
    # gives, for every code it holds and for codes it does not.
    from custodes.hierarchy import _builders

    db = numdb.get("cn/loc")
    indexed = _builders._cn_loc()
    assert len(indexed) > 3000
    others = [f"{n:06d}" for n in range(0, 1_000_000, 997)]
    for code in [*indexed, *others, "110000", "110100", "999999"]:
        assert _builders._info(code) == db.info(code), code
