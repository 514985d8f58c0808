"""Summaries (moved from tests/test_engines.py) and risk on Adult, on every engine."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.engines import Engine, get_engine
from custodes.errors import ColumnRoleError, SettingError
from custodes.hierarchy import read_hierarchy
from custodes.risk import assess_summary, qi_combinations
from tests.conftest import ADULT_QIS

cells = st.one_of(st.none(), st.sampled_from(["a", "b", "中文", "10", "9"]))
tables = st.lists(st.tuples(cells, cells, cells), min_size=0, max_size=80)
fixture_ok = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.operation("summarize")
@given(rows=tables)
@fixture_ok
def test_summary_counts_every_combination(
    engine: Engine, rows: list[tuple[str | None, ...]]
) -> None:
    data = pa.table(
        {name: pa.array([r[j] for r in rows], type=pa.string()) for j, name in enumerate("abs")}
    )
    summary = engine.summarize(engine.from_arrow(data), ["a", "b"], ["s"])
    expected = Counter((r[0], r[1]) for r in rows)
    rows_ = summary.values_frame().to_pylist()
    decoded = {(r["a"], r["b"]): int(n) for r, n in zip(rows_, summary.counts, strict=True)}
    assert decoded == dict(expected)
    assert summary.rows == len(rows)
    hist = summary.sensitive["s"]
    assert int(hist.count.sum()) == len(rows)
    # Triples are sorted by class, then value, with no repeats.
    pairs = list(zip(hist.class_index.tolist(), hist.value_code.tolist(), strict=True))
    assert pairs == sorted(set(pairs))


@pytest.mark.operation("summarize")
def test_typed_columns_are_summarised_as_text(engine: Engine) -> None:
    table = engine.from_arrow(
        pa.table({"n": [1, 1, 2], "d": [date(2020, 1, 1)] * 3, "s": [3.5, 1.0, 3.5]})
    )
    summary = engine.summarize(table, ["n", "d"], ["s"])
    assert sorted(summary.counts.tolist()) == [1, 2]
    assert summary.sensitive["s"].values.to_pylist() == ["1.0", "3.5"]
    assert sorted(summary.category_values(1)) == ["2020-01-01"]


def test_unknown_engine_is_a_setting_error() -> None:
    with pytest.raises(
        SettingError, match=r"'polar', which is not an engine\. Did you mean 'polars'"
    ):
        get_engine("polar")


@pytest.mark.operation("summarize")
def test_column_names_cannot_collide_with_internal_ones(engine: Engine) -> None:
    table = engine.from_arrow(
        pa.table({"__count": ["a", "a", "b"], "c0": ["x", "y", "x"], "k1": ["1"] * 3})
    )
    summary = engine.summarize(table, ["__count", "k1"], ["c0"])
    assert sorted(summary.counts.tolist()) == [1, 2]
    assert summary.sensitive["c0"].values.to_pylist() == ["x", "y"]
    assert summary.values_frame().column_names == ["__count", "k1"]


@pytest.mark.operation("summarize")
def test_a_column_with_two_roles_is_refused(engine: Engine) -> None:
    table = engine.from_arrow(pa.table({"a": ["1"], "b": ["2"]}))
    with pytest.raises(ColumnRoleError, match="one role"):
        engine.summarize(table, ["a", "b"], ["a"])


@pytest.mark.operation("checks")
def test_checks_of_types_numbers_and_dates(engine: Engine) -> None:
    table = engine.from_arrow(
        pa.table(
            {
                "x": ["1", "2.5", "ten", None],
                "d": ["2020-01-05", "soon", None, "later"],
                "t": [date(2020, 1, 1)] * 4,
                "l": [[1], [2], [3], [4]],
            }
        )
    )
    assert [c for c, _ in engine.unsupported_columns(table, ["x", "l"])] == ["l"]
    assert engine.temporal_columns(table, ["x", "t"]) == ["t"]
    assert engine.non_numbers(table, ["x"]) == {"x": 1}
    assert engine.non_dates(table, "d") == (2, 2)
    assert engine.text_lengths(table, "d") == [4, 5, 10]


# ------------------------------------------------------------------ risk on Adult


@pytest.mark.operation("summarize")
def test_adult_risk_matches_arx(engine: Engine, adult_table: pa.Table, adult_dir: Path) -> None:
    """The figures tests/test_risk.py checks against ARX, through this engine."""
    hierarchy = read_hierarchy(adult_dir / "adult_hierarchy_occupation.csv")
    summary = engine.summarize(engine.from_arrow(adult_table), ADULT_QIS, ["occupation"])
    a = assess_summary(summary, population=317_238_626, hierarchies={"occupation": hierarchy})
    assert a.rows == 30_162
    assert a.equivalence_classes.count == 12_458
    assert a.sample_unique_records == 8_841
    assert round(a.sample_uniques_fraction * 100, 2) == 29.31
    assert a.k_anonymity == 1
    assert a.prosecutor.highest_risk == 1.0
    assert round(a.prosecutor.average_risk, 4) == 0.4130
    assert round(a.marketer_success_rate, 4) == 0.4130
    assert round(a.prosecutor.records_at_risk * 100, 2) == 50.90
    p = a.population
    assert p is not None
    assert p.size == 317_238_626
    assert round(p.pitman * 100, 3) == 1.455
    assert round(p.zayatz * 100, 2) == 8.60
    combos = {c.columns: c for c in qi_combinations(summary)[0]}
    assert combos[tuple(ADULT_QIS)].uniques == a.sample_uniques_fraction
