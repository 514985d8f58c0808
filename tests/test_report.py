"""The HTML risk report: self-contained, well-formed, escaped, and faithful to the figures."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import custodes
from custodes.engines import get_engine
from custodes.errors import InvalidInputError
from custodes.report._html import render_assessment_html
from custodes.report._svg import class_size_buckets, percent
from custodes.risk._assess import assess_summary
from tests.conftest import ADULT_QIS

EVIL = "<script>alert(1)</script>"
QIS = (EVIL, "region", "年龄")
SENSITIVE = "诊断"
# Class sizes of the test table: 30 uniques, ..., one class of 1,200 records.
SIZES = [1] * 30 + [2] * 10 + [3] * 5 + [4] * 3 + [7] * 2 + [25, 60, 130, 1200]
NBSP = "\u00a0"
DASH = "\u2013"  # en dash of the size ranges
VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "source", "col", "area", "base"}


def _frame(sizes: list[int]) -> pl.LazyFrame:
    """One equivalence class per entry of ``sizes``; values hold the word Secret."""
    rows: dict[str, list[str]] = {name: [] for name in (*QIS, SENSITIVE)}
    for i, size in enumerate(sizes):
        for j in range(size):
            rows[EVIL].append(f"Secret-A{i % 7}")
            rows["region"].append(f"Secret-Region-{i // 7}")
            rows["年龄"].append(str(20 + i % 3))
            rows[SENSITIVE].append(f"Secret-Diagnosis-{(i + j) % 4}")
    return pl.LazyFrame(rows)


def _assess(sensitive: tuple[str, ...] = (SENSITIVE,), population: int | None = 100_000) -> Any:
    summary = get_engine().summarize(_frame(SIZES), QIS, sensitive)
    assessment = assess_summary(summary, source='uploads/"patients".csv', population=population)
    return assessment.to_dict()


@pytest.fixture(scope="module")
def assessment() -> dict[str, Any]:
    result: dict[str, Any] = _assess()
    return result


@pytest.fixture(scope="module")
def page(assessment: dict[str, Any]) -> str:
    return render_assessment_html(assessment, generated_at="2025-01-31 12:00 UTC")


class _Balance(HTMLParser):
    """Checks that every element is closed, in order; collects start tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Balance:
    parser = _Balance()
    parser.feed(page)
    parser.close()
    return parser


def _svgs(page: str) -> dict[str, str]:
    """Each inline SVG by its aria-label."""
    found = re.findall(r'<svg [^>]*aria-label="([^"]*)">(.*?)</svg>', page, re.S)
    return dict(found)


def _bars(svg: str) -> int:
    return len(re.findall(r'<rect class="bar[ "]', svg))


def _table_rows(page: str, caption: str) -> int:
    match = re.search(
        rf"<caption>{re.escape(caption)}</caption>.*?<tbody>(.*?)</tbody>", page, re.S
    )
    assert match, caption
    return match.group(1).count("<tr")


def test_page_is_well_formed_and_accessible(page: str) -> None:
    parsed = _parse(page)
    assert parsed.errors == []
    assert parsed.stack == []
    assert page.startswith("<!DOCTYPE html>")
    for tag in ("html", "head", "style", "body", "header", "nav", "main", "footer"):
        assert parsed.tags.count(tag) == 1, tag
    assert parsed.tags.count("section") == 8
    assert parsed.tags.count("h1") == 1
    assert parsed.tags.count("h2") == 8
    assert parsed.tags.count("table") == parsed.tags.count("caption")
    assert '<html lang="en">' in page
    head = page[: page.index("</head>")]
    assert head.count("<title>") == 1
    assert "<title>Re-identification risk assessment</title>" in head
    for svg in re.findall(r"<svg [^>]*>", page):
        assert 'role="img"' in svg
        assert "aria-label=" in svg
    assert page.count("<svg ") == page.count("</title>\n<desc>") == 4


def test_page_is_self_contained(page: str) -> None:
    lowered = page.lower()
    assert "http://" not in lowered
    assert "https://" not in lowered
    assert "<script" not in lowered
    assert "<link" not in lowered
    assert "@import" not in lowered
    assert "url(" not in lowered
    assert "@media print" in page
    assert '<meta charset="utf-8">' in page


def test_key_figures_are_formatted(assessment: dict[str, Any], page: str) -> None:
    rows = sum(SIZES)
    uniques = assessment["sample_uniques"]["fraction"]
    assert uniques == pytest.approx(30 / rows)
    assert f"{rows:,}" == "1,506"
    assert "1,506 records" in page
    assert f"{uniques * 100:.2f}{NBSP}%" == f"1.99{NBSP}%"
    assert f"1.99{NBSP}% of records are unique on these 3 columns" in page
    assert "k = 1" in page
    at_risk = assessment["prosecutor"]["records_at_risk"]
    assert f"{at_risk * 100:.2f}{NBSP}% of records have a prosecutor risk" in page
    assert f"threshold of 20.00{NBSP}%" in page
    assert f"100.00{NBSP}%" in page  # highest prosecutor risk
    assert f"Generated 2025-01-31 12:00 UTC by custodes {custodes.__version__}" in page
    assert "(20%, 25%]" in page
    assert "(33.3%, 50%]" in page
    assert f"1,001{DASH}2,000" in page


def test_percent_format() -> None:
    assert percent(0.29311716729659837) == f"29.31{NBSP}%"
    assert percent(1.0) == f"100.00{NBSP}%"
    assert percent(0.0) == f"0.00{NBSP}%"
    assert percent(9.5e-05) == f"0.0095{NBSP}%"
    assert percent(None) == "did not converge"
    assert percent(12.3456) == f"1,234.56{NBSP}%"


def test_user_text_is_escaped(page: str) -> None:
    assert EVIL not in page
    assert "alert(1)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "uploads/&quot;patients&quot;.csv" in page
    hostile = render_assessment_html(_assess(), title="<b>Q&A</b>")
    assert "<title>&lt;b&gt;Q&amp;A&lt;/b&gt;</title>" in hostile
    assert "<b>" not in hostile


def test_no_data_values_reach_the_page(page: str) -> None:
    assert "Secret" not in page


def test_chinese_column_names(page: str) -> None:
    assert "年龄" in page
    assert "诊断" in page
    assert page.encode("utf-8").decode("utf-8") == page


def test_chart_bar_counts(assessment: dict[str, Any], page: str) -> None:
    svgs = _svgs(page)
    assert len(svgs) == 4
    # Sizes 1 to 20 one by one, then 21-50, 51-100, 101-200, 201-500, 501-1,000, 1,001-2,000.
    assert _bars(svgs["Number of classes by equivalence class size"]) == 26
    assert _bars(svgs["Number of records by equivalence class size"]) == 26
    risk = svgs["Share of records by prosecutor re-identification risk"]
    assert _bars(risk) == len(assessment["risk_distribution"]) == 10
    assert len(re.findall(r'class="bar bar-risk"', risk)) == 4  # (20%, 25%] and above
    impact = svgs["Share of unique records that leaving each column out would remove"]
    assert _bars(impact) == len(QIS)
    assert "&lt;script&gt;" in impact


def test_class_size_buckets() -> None:
    buckets = class_size_buckets([(1, 5), (7, 2), (20, 1), (21, 1), (137, 3), (1500, 1)])
    assert len(buckets) == 26
    assert [b.label for b in buckets[19:]] == [
        "20",
        f"21{DASH}50",
        f"51{DASH}100",
        f"101{DASH}200",
        f"201{DASH}500",
        f"501{DASH}1,000",
        f"1,001{DASH}2,000",
    ]
    assert sum(b.classes for b in buckets) == 13
    assert sum(b.records for b in buckets) == 5 + 14 + 20 + 21 + 411 + 1500
    later = class_size_buckets([(30, 2), (60, 1)])
    assert [(b.label, b.classes, b.records) for b in later] == [
        (f"21{DASH}50", 2, 60),
        (f"51{DASH}100", 1, 60),
    ]
    assert class_size_buckets([]) == []


def test_null_population(assessment: dict[str, Any]) -> None:
    data = copy.deepcopy(assessment)
    data["population"] = None
    page = render_assessment_html(data)
    assert "Not estimated: no population size was given" in page
    assert 'class="chosen"' not in page
    assert _parse(page).errors == []


def test_null_model_values(assessment: dict[str, Any]) -> None:
    data = copy.deepcopy(assessment)
    data["population"] = {
        "size": 1_000_000,
        "sampling_fraction": 0.001506,
        "pitman": None,
        "zayatz": 0.0123,
        "snb": None,
        "dankar": {"model": "zayatz", "fraction": 0.0123},
    }
    page = render_assessment_html(data)
    assert page.count("did not converge") == 2
    chosen = re.findall(r'<tr class="chosen">\s*<th scope="row">([^<]*)</th>', page)
    assert chosen == ["Zayatz (Dankar&#x27;s choice)"]
    assert f"1.23{NBSP}% of the population (12,300 people)" in page
    assert "Population size 1,000,000 people" in page

    data["population"]["dankar"] = {"model": None, "fraction": None}
    data["population"]["zayatz"] = None
    page = render_assessment_html(data)
    assert page.count("did not converge") == 4
    assert "Dankar&#x27;s rule found no model with an estimate" in page
    assert 'class="chosen"' not in page


def test_computed_population(assessment: dict[str, Any], page: str) -> None:
    population = assessment["population"]
    assert population["size"] == 100_000
    assert "Population size 100,000 people" in page
    chosen = population["dankar"]["model"]
    if chosen is not None:
        assert 'class="chosen"' in page


def test_zero_sensitive_attributes() -> None:
    data = _assess(sensitive=(), population=None)
    assert "l_diversity" not in data
    page = render_assessment_html(data)
    assert "No sensitive attributes were given" in page
    assert "l-diversity (" not in page
    assert "Sensitive attributes (0)" in page
    assert _parse(page).errors == []


def test_sensitive_tables(assessment: dict[str, Any], page: str) -> None:
    ldiv = assessment["l_diversity"][SENSITIVE]
    assert _table_rows(page, "l-diversity (the smallest l of any class)") == 1
    assert f"c = 4, l = {ldiv['recursive']['l']}" in page
    assert "no hierarchy" in page


def test_combinations_show_top_15_and_best_per_size() -> None:
    names = [f"col{i}" for i in range(10)]
    combos = [
        {"columns": list(c), "distinction": len(c) / 20, "separation": 0.9, "uniques": len(c) / 10}
        for size in range(1, 11)
        for c in combinations(names, size)
    ]
    assert len(combos) == 1023
    data = copy.deepcopy(_assess(population=None))
    data["qi_combinations"] = combos
    data["column_impact"] = []
    page = render_assessment_html(data)
    assert "1,023 combinations of the quasi-identifiers were measured" in page
    assert _table_rows(page, "The 15 riskiest combinations") == 15
    assert _table_rows(page, "The riskiest combination of each size") == 10
    assert "Column impact is not available" in page


@pytest.mark.parametrize(
    ("uniques", "at_risk", "k", "level"),
    [
        (0.06, 0.0, 1, "high"),
        (0.0, 0.11, 2, "high"),
        (0.05, 0.10, 2, "medium"),
        (0.0, 0.0, 5, "low"),
    ],
)
def test_verdict_levels(
    assessment: dict[str, Any], uniques: float, at_risk: float, k: int, level: str
) -> None:
    data = copy.deepcopy(assessment)
    data["sample_uniques"] = {"records": round(uniques * 1506), "fraction": uniques}
    data["prosecutor"]["records_at_risk"] = at_risk
    data["k_anonymity"] = k
    page = render_assessment_html(data)
    assert f'<div class="verdict verdict-{level}">' in page
    assert "How the verdict is set" in page


def test_low_risk_table_without_uniques() -> None:
    summary = get_engine().summarize(_frame([5] * 40 + [9] * 3), QIS, (SENSITIVE,))
    page = render_assessment_html(assess_summary(summary, population=10_000).to_dict())
    assert '<div class="verdict verdict-low">' in page
    assert "with at least 4 others: no one can be narrowed down to fewer than 5 people" in page
    assert "No record is unique on all the quasi-identifiers" in page
    assert "No record is unique in the table, so no one is estimated unique" in page
    assert _parse(page).errors == []


def test_empty_table() -> None:
    frame = pl.LazyFrame(schema=dict.fromkeys(QIS, pl.String))
    summary = get_engine().summarize(frame, QIS)
    page = render_assessment_html(assess_summary(summary).to_dict())
    assert "The table has no records" in page
    assert _parse(page).errors == []


def test_not_an_assessment_names_the_field(assessment: dict[str, Any]) -> None:
    data = copy.deepcopy(assessment)
    del data["prosecutor"]["highest_risk"]
    with pytest.raises(InvalidInputError, match=r"'prosecutor\.highest_risk' is missing"):
        render_assessment_html(data)
    with pytest.raises(InvalidInputError, match="'rows'"):
        render_assessment_html({**assessment, "rows": "many"})


def test_adult_report(adult_frame: pl.LazyFrame, tmp_path: Path) -> None:
    summary = get_engine().summarize(adult_frame, ADULT_QIS, ["occupation"])
    result = assess_summary(summary, source="adult.csv", population=317_238_626)
    page = render_assessment_html(result.to_dict())
    (tmp_path / "report.html").write_text(page, encoding="utf-8")
    assert _parse(page).errors == []
    # Published ARX figures for these 8 quasi-identifiers.
    assert "30,162 records" in page
    assert f"29.31{NBSP}% of records are unique on these 8 columns" in page
    assert "12,458" in page
    assert f"Dankar&#x27;s rule chooses Pitman for this table: an estimated 1.45{NBSP}%" in page
    assert _table_rows(page, "The 15 riskiest combinations") == 15


def test_direct_identifiers_are_listed_and_escaped() -> None:
    frame = pl.DataFrame({"q": ["a", "b", "b"]}).lazy()
    summary = get_engine().summarize(frame, ["q"])
    result = assess_summary(summary, identifying=("身份证号", EVIL))
    page = render_assessment_html(result.to_dict())
    assert "Direct identifiers (2)" in page
    assert '<span class="col">身份证号,</span>' in page
    assert "&lt;span" not in page
    assert "<script>" not in page


def test_population_table_and_census_are_reported_as_counted() -> None:
    engine = get_engine()
    sample = engine.summarize(pl.DataFrame({"q": ["a", "b"]}).lazy(), ["q"])
    population = engine.summarize(pl.DataFrame({"q": ["a", "b", "b", "c"]}).lazy(), ["q"])
    counted = assess_summary(sample, population_summary=population, population=4)
    page = render_assessment_html(counted.to_dict())
    assert "The population table (4 people) was given" in page
    assert f"50.00{NBSP}% of the population" in page
    census = render_assessment_html(assess_summary(sample, population=2).to_dict())
    assert "taken to be the whole population (2 people)" in census


def test_release_reports_never_name_a_value_rarer_than_k() -> None:
    """Birth dates held by 2 or 3 people were listed in the release report."""
    from datetime import date, timedelta

    from custodes import AnonymizationSpec, KAnonymity
    from custodes.hierarchy import Hierarchy

    days = [date(1950, 1, 1) + timedelta(days=i) for i in range(120)]
    births = [d.isoformat() for d in days for _ in range(1 + days.index(d) % 4)]
    births += ["1960-06-01"] * 40  # one date held by many: it may be named
    frame = pl.DataFrame({"birth": births, "sex": ["F", "M"] * (len(births) // 2)})
    rows = tuple(sorted({(b, b[:4], "*") for b in births}))
    spec = AnonymizationSpec(
        quasi_identifiers=("birth", "sex"),
        hierarchies={
            "birth": Hierarchy(rows=rows),
            "sex": Hierarchy(rows=(("F", "*"), ("M", "*"))),
        },
        models=(KAnonymity(5),),
    )
    release = custodes.anonymize(frame, spec)
    from custodes.report import release_html

    page = release_html(release)
    counts = frame.group_by("birth").len()
    rare = counts.filter(pl.col("len") < 5).get_column("birth").to_list()
    assert len(rare) == 120
    assert not [b for b in rare if b in page]
    assert "1960-06-01" in page
    assert re.search(r"held by at least \d+ records", page)
    for before, after in release.distributions.values():
        assert all(n >= 5 or "fewer than" in v for v, n in [*before, *after])


def test_folding_rare_values_twice_changes_nothing() -> None:
    """The workspace folds, and the report folds again: the count of values must survive."""
    from custodes.report import fold_rare

    once = fold_rare([("a", 1), ("b", 2), ("c", 9)], 5)
    assert once == [("c", 9), ("2 values with fewer than 5 records", 3)]
    assert fold_rare(once, 5) == once
    assert fold_rare(once, 10) == [("3 values with fewer than 10 records", 12)]
