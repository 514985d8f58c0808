"""One conformance suite for every engine: the same summary invariants on each."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.engines import ENGINES, get_engine
from custodes.errors import ColumnRoleError, SettingError

ENGINE_NAMES = sorted(ENGINES)

cells = st.one_of(st.none(), st.sampled_from(["a", "b", "中文", "10", "9"]))
tables = st.lists(st.tuples(cells, cells, cells), min_size=0, max_size=80)


@pytest.mark.parametrize("name", ENGINE_NAMES)
@given(rows=tables)
@settings(max_examples=50, deadline=None)
def test_summary_counts_every_combination(name: str, rows: list[tuple[str | None, ...]]) -> None:
    frame = pl.DataFrame(rows, schema=["a", "b", "s"], orient="row").lazy()
    summary = get_engine(name).summarize(frame, ["a", "b"], ["s"])
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


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_typed_columns_are_summarised_as_text(name: str) -> None:
    frame = pl.DataFrame(
        {"n": [1, 1, 2], "d": pl.Series(["2020-01-01"] * 3).str.to_date(), "s": [3.5, 1.0, 3.5]}
    ).lazy()
    summary = get_engine(name).summarize(frame, ["n", "d"], ["s"])
    assert sorted(summary.counts.tolist()) == [1, 2]
    assert summary.sensitive["s"].values.to_pylist() == ["1.0", "3.5"]


def test_unknown_engine_is_a_setting_error() -> None:
    with pytest.raises(
        SettingError, match=r"'polar', which is not an engine\. Did you mean 'polars'"
    ):
        get_engine("polar")


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_column_names_cannot_collide_with_internal_ones(name: str) -> None:
    frame = pl.DataFrame({"__count": ["a", "a", "b"], "c0": ["x", "y", "x"], "k1": ["1"] * 3})
    summary = get_engine(name).summarize(frame.lazy(), ["__count", "k1"], ["c0"])
    assert sorted(summary.counts.tolist()) == [1, 2]
    assert summary.sensitive["c0"].values.to_pylist() == ["x", "y"]
    assert summary.values_frame().column_names == ["__count", "k1"]


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_a_column_with_two_roles_is_refused(name: str) -> None:
    frame = pl.DataFrame({"a": ["1"], "b": ["2"]}).lazy()
    with pytest.raises(ColumnRoleError, match="one role"):
        get_engine(name).summarize(frame, ["a", "b"], ["a"])
