"""National scale: the fast paths give the figures of the plain ones, and plans stream."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custodes.engines import _polars_packed, get_engine
from custodes.engines._polars_packed import packed_summary
from custodes.errors import DataFileError
from custodes.io import open_table
from custodes.risk import _classes, _combinations
from custodes.risk._classes import Pairs
from custodes.risk._combinations import QICombination, qi_combinations
from custodes.summary import Decoded, Summary
from tests.peak_memory import SMALL_READ_AHEAD, peak_mib

# Columns of assorted domains (some with gaps and nulls, some as text): 30 to 300 rows.
_columns = st.lists(
    st.tuples(st.integers(1, 40), st.booleans(), st.integers(-5, 5), st.booleans()),
    min_size=2,
    max_size=5,
)


def _table(draw: st.DrawFn) -> pl.DataFrame:
    spec = draw(_columns)
    rows = draw(st.integers(30, 300))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    data: dict[str, pl.Series] = {}
    for j, (domain, nulls, shift, text) in enumerate(spec):
        values = rng.integers(0, domain, rows) * (1 + j % 3) + shift * 1000
        series = pl.Series(values)
        if text:  # ranks of text differ from the numbers' order; "" is a value
            series = pl.Series([("" if v % 7 == 0 else f"值 {v}") for v in values])
        if nulls:
            series = series.scatter(rng.integers(0, rows, rows // 10), None)
        data[f"column {j}"] = series
    return pl.DataFrame(data)


tables = st.composite(_table)()


def _brute(frame: pl.DataFrame, cols: tuple[str, ...]) -> tuple[float, float, float]:
    counts = frame.group_by(list(cols)).len().get_column("len").to_numpy().astype(np.int64)
    n = frame.height
    same = int((counts * (counts - 1)).sum())
    return len(counts) / n, 1 - same / (n * (n - 1)), float((counts == 1).sum()) / n


def _assert_group_by_figures(frame: pl.DataFrame, found: list[QICombination]) -> None:
    """Every measured subset's figures are a group-by's of ``frame``."""
    for got in found:
        distinction, separation, uniques = _brute(frame, got.columns)
        assert got.distinction == pytest.approx(distinction)
        assert got.separation == pytest.approx(separation)
        assert got.uniques == pytest.approx(uniques)


@pytest.mark.parametrize(
    ("floor", "part"), [(0, 1 << 21), (1 << 16, 1 << 21), (0, 3), (1 << 16, 8)]
)
@given(frame=tables)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_subset_matches_a_group_by(
    frame: pl.DataFrame, floor: int, part: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # floor 0 makes every subset larger than the table's classes sparse: rolled up by sorting.
    monkeypatch.setattr(_classes, "DENSE_FLOOR", floor)
    monkeypatch.setattr(_classes, "SORT_BUDGET", 100)
    # A small part measures the subsets that keep the first column part by part.
    monkeypatch.setattr(_combinations, "PART", part)
    summary = get_engine().summarize(frame.lazy(), frame.columns)
    found, coverage = qi_combinations(summary)
    q = len(frame.columns)
    assert coverage.measured == coverage.subsets == 2**q - 1
    assert coverage.note is None
    by_cols = {c.columns: c for c in found}
    for size in range(1, q + 1):
        for cols in itertools.combinations(frame.columns, size):
            distinction, separation, uniques = _brute(frame, cols)
            got = by_cols[cols]
            assert got.distinction == pytest.approx(distinction)
            assert got.separation == pytest.approx(separation)
            assert got.uniques == pytest.approx(uniques)


@pytest.mark.parametrize("sample", [1 << 20, 8])
@given(frame=tables)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_packed_summary_equals_the_general_one(
    frame: pl.DataFrame, sample: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small sample finds most rows distinct: the keys are sorted and their runs counted
    # instead of grouped.
    monkeypatch.setattr(_polars_packed, "SAMPLE", sample)
    packed = packed_summary(frame.lazy(), frame.columns)
    assert packed is not None
    with monkeypatch.context() as patched:
        patched.setattr("custodes.engines._polars.packed_summary", lambda *_: None)
        general = get_engine().summarize(frame.lazy(), frame.columns)

    def classes(summary: object) -> list[tuple[object, ...]]:
        values = summary.values_frame().to_pylist()  # type: ignore[attr-defined]
        counts = summary.counts.tolist()  # type: ignore[attr-defined]
        return sorted((tuple(map(str, v.values())), c) for v, c in zip(values, counts, strict=True))

    assert classes(packed) == classes(general)
    for j in range(len(frame.columns)):
        assert sorted(map(str, packed.category_values(j))) == sorted(
            map(str, general.category_values(j))
        )
    assert all(len(c) == int(packed.codes[:, j].max()) + 1 for j, c in enumerate(packed.categories))


@pytest.mark.parametrize("floor", [0, 1 << 16])
@given(frame=tables)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_combinations_of_packed_classes_need_no_codes(
    frame: pl.DataFrame, floor: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The analysis works on the engine's packed keys alone: making the codes (a pass over
    # every class and column) would fail here, and the figures are a group-by's.
    monkeypatch.setattr(_classes, "DENSE_FLOOR", floor)
    monkeypatch.setattr(_classes, "SORT_BUDGET", 100)
    packed = packed_summary(frame.lazy(), frame.columns)
    assert packed is not None
    assert packed.packed is not None

    def refuse() -> Decoded:
        raise AssertionError("the codes were made")

    keys = dataclasses.replace(packed.packed, decode=refuse)
    summary = Summary(
        quasi_identifiers=packed.quasi_identifiers, counts=packed.counts, sensitive={}, packed=keys
    )
    found, coverage = qi_combinations(summary)
    assert coverage.measured == coverage.subsets == 2 ** len(frame.columns) - 1
    _assert_group_by_figures(frame, found)


def test_over_the_sorting_budget_the_first_columns_of_the_keys_are_still_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With no sorting allowed, the subsets that need a sort are left out (and the note
    # says so), but those cut from the sorted keys (the widest columns) are measured.
    monkeypatch.setattr(_classes, "DENSE_FLOOR", 0)
    monkeypatch.setattr(_classes, "SORT_BUDGET", 0)
    monkeypatch.setattr(_classes, "SORT_FLOOR", 0)
    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {
            "day": rng.integers(0, 3000, 4000),
            "place": rng.integers(0, 300, 4000),
            "job": rng.integers(0, 30, 4000),
            "sex": rng.integers(0, 2, 4000),
        }
    )
    summary = get_engine().summarize(frame.lazy(), frame.columns)
    found, coverage = qi_combinations(summary)
    by_cols = {c.columns: c for c in found}
    for cols in [("day",), ("day", "place"), ("day", "place", "job"), tuple(frame.columns)]:
        distinction, separation, uniques = _brute(frame, cols)
        assert by_cols[cols].distinction == pytest.approx(distinction)
        assert by_cols[cols].separation == pytest.approx(separation)
        assert by_cols[cols].uniques == pytest.approx(uniques)
    assert ("day", "job") not in by_cols
    assert coverage.measured == len(found) < coverage.subsets == 15
    assert coverage.note is not None
    assert "were not measured" in coverage.note
    _assert_group_by_figures(frame, found)


@pytest.mark.parametrize("sample", [1 << 20, 8])
def test_a_parquet_files_statistics_spare_the_pass_over_its_number_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: int
) -> None:
    # (sample 8: the keys are sorted, not grouped, and a lying file still caught)
    monkeypatch.setattr(_polars_packed, "SAMPLE", sample)
    rng = np.random.default_rng(3)
    n = 5000
    born = pa.array(
        [dt.date(1930, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 30000, n)]
    )
    frame = pl.DataFrame(
        {
            "born": pl.from_arrow(born),
            "county": pl.Series(rng.integers(-50, 2800, n)).scatter([3, 9], None),
            "member": pl.Series(rng.integers(0, 2, n) == 1),
            "sex": pl.Series(rng.integers(1, 3, n), dtype=pl.Int8),
        }
    )
    path = tmp_path / "register.parquet"
    pq.write_table(frame.to_arrow(), path, row_group_size=700)
    expected = get_engine().summarize(frame.lazy(), frame.columns)
    table = open_table(path)
    assert table.bounds is not None
    with monkeypatch.context() as patched:  # no query may run before the group-by
        patched.setattr(
            "custodes.engines._polars_packed.pl.collect_all",
            lambda *_, **__: pytest.fail("the ranges were read from the data"),
        )
        summary = get_engine().summarize(table, frame.columns)
    assert summary.packed is not None

    def classes(found: Summary) -> list[tuple[object, ...]]:
        values = found.values_frame().to_pylist()
        return sorted(
            (*map(str, v.values()), c) for v, c in zip(values, found.counts.tolist(), strict=True)
        )

    assert classes(summary) == classes(expected)
    # A file whose statistics lie (values past the bounds, fewer rows) must not merge
    # classes: the summary is then made from the data's own ranges.
    stated = table.bounds.read(frame.columns)
    assert set(stated) == set(frame.columns)
    for lie in (
        dataclasses.replace(table.bounds, read=lambda _: {**stated, "county": (0, 100, 0)}),
        dataclasses.replace(table.bounds, read=lambda _: {**stated, "sex": (1, 1, 0)}),
        dataclasses.replace(
            table.bounds, read=lambda _: {**stated, "county": (*stated["county"][:2], 0)}
        ),
        dataclasses.replace(table.bounds, rows=n // 2),
    ):
        lied = dataclasses.replace(table, bounds=lie)
        assert classes(get_engine().summarize(lied, frame.columns)) == classes(expected)
    # A frame made from the file holds other values: the file's bounds are not its own.
    derived = dataclasses.replace(table, frame=table.frame.filter(pl.col("sex") == 1))
    assert derived.bounds is not None
    assert derived.bounds.of(derived.frame, ["sex"]) is None
    # A file without statistics (or of text columns) is read for its ranges.
    plain = tmp_path / "plain.parquet"
    pq.write_table(frame.to_arrow(), plain, write_statistics=False)
    bare = open_table(plain)
    assert bare.bounds is not None
    assert bare.bounds.of(bare.frame, ["born"]) == (n, {})
    assert classes(get_engine().summarize(bare, frame.columns)) == classes(expected)


def test_classes_in_twos_are_set_apart_and_counted_under_every_subset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Most rows share their widest columns with one other row at most: the roll-ups
    # then leave those pairs out and count them under each subset in one pass.
    monkeypatch.setattr(_classes, "DENSE_FLOOR", 0)
    made: list[object] = []
    monkeypatch.setattr(_classes, "Pairs", lambda *a, **k: made.append(Pairs(*a, **k)) or made[-1])
    rng = np.random.default_rng(11)
    for rows, wide in ((3000, 4000), (800, 300), (5000, 900)):
        frame = pl.DataFrame(
            {
                "day": rng.integers(0, wide, rows),
                "place": rng.integers(0, 60, rows),
                "job": rng.integers(0, 9, rows),
                "sex": rng.integers(0, 2, rows),
            }
        )
        found, coverage = qi_combinations(get_engine().summarize(frame.lazy(), frame.columns))
        assert coverage.measured == coverage.subsets == 15
        _assert_group_by_figures(frame, found)
    assert made


def test_in_parts_the_subsets_without_the_widest_column_keep_their_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The subsets without the widest column are counted in a tensor part by part; its
    # axes are in the keys' order (most values first), not the table's.
    monkeypatch.setattr(_combinations, "PART", 64)
    rng = np.random.default_rng(5)
    frame = pl.DataFrame(
        {
            "few": rng.integers(0, 3, 3000),
            "some": rng.integers(0, 10, 3000),
            "day": rng.integers(0, 1000, 3000),
        }
    )
    found, coverage = qi_combinations(get_engine().summarize(frame.lazy(), frame.columns))
    assert coverage.measured == coverage.subsets == 7
    _assert_group_by_figures(frame, found)


def test_dates_and_booleans_are_packed_and_read_back_as_text() -> None:
    frame = pl.DataFrame(
        {
            "born": [dt.date(1950, 1, 2), dt.date(2001, 12, 31), None, dt.date(1950, 1, 2)],
            "flag": [True, False, True, True],
            "code": [110101, 659004, 110101, 110101],
        }
    )
    packed = packed_summary(frame.lazy(), frame.columns)
    assert packed is not None
    assert sorted(map(str, packed.category_values(0))) == ["1950-01-02", "2001-12-31", "None"]
    assert sorted(packed.category_values(1)) == ["false", "true"]
    assert sorted(packed.category_values(2)) == ["110101", "659004"]
    assert sorted(packed.counts.tolist()) == [1, 1, 2]


@pytest.mark.parametrize("sample", [1 << 20, 8])
def test_a_text_value_that_appears_between_the_passes_is_a_changed_table(
    monkeypatch: pytest.MonkeyPatch, sample: int
) -> None:
    # The first pass lists each text column's values; a value the second pass meets that
    # the first did not (or a null where it found none) means the table changed while it
    # was read: said so (exit 2), never a library's error or a value merged with another.
    monkeypatch.setattr(_polars_packed, "SAMPLE", sample)
    frame = pl.DataFrame({"place": ["北京", "上海", "广州", None] * 50, "age": list(range(200))})
    real = _polars_packed._ranges

    def first_pass(*args: object, **kwargs: object) -> object:
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        assert found is not None
        rows, ranges, texts = found
        j = 0 if 0 in texts else 1
        ranges[j] = (ranges[j][0], ranges[j][1] - 1, False)  # neither 上海 nor null seen
        texts[j] = texts[j].filter(texts[j] != "上海")
        return rows, ranges, texts

    monkeypatch.setattr(_polars_packed, "_ranges", first_pass)
    with pytest.raises(DataFileError, match="changed while it was read"):
        packed_summary(frame.lazy(), ["place", "age"])


def test_columns_that_cannot_be_packed_take_the_general_path() -> None:
    frame = pl.DataFrame({"a": [0.5, 1.5], "b": [1, 2]})
    assert packed_summary(frame.lazy(), ["a", "b"]) is None
    empty = pl.DataFrame({"a": pl.Series([None, None], dtype=pl.String), "b": [1, 2]})
    nothing = packed_summary(empty.lazy(), ["a", "b"])  # text of no value: one null value
    assert nothing is not None
    assert nothing.category_values(0) == [None]
    assert sorted(nothing.counts.tolist()) == [1, 1]
    unsigned = pl.DataFrame({"big": pl.Series([1, 2**63 + 5, 3], dtype=pl.UInt64), "b": [1, 2, 1]})
    assert packed_summary(unsigned.lazy(), ["big", "b"]) is None
    assert sorted(get_engine().summarize(unsigned.lazy(), ["big", "b"]).counts) == [1, 1, 1]
    wide = pl.DataFrame({f"c{j}": [0, 2**40] for j in range(3)})
    assert packed_summary(wide.lazy(), wide.columns) is None
    summary = get_engine().summarize(wide.lazy(), wide.columns)
    assert summary.counts.tolist() == [1, 1]


def test_a_subset_over_the_sorting_budget_is_left_out_and_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_classes, "DENSE_FLOOR", 0)
    monkeypatch.setattr(_classes, "SORT_BUDGET", 0)
    monkeypatch.setattr(_classes, "SORT_FLOOR", 0)
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({f"c{j}": rng.integers(0, 50, 400) for j in range(4)})
    summary = get_engine().summarize(frame.lazy(), frame.columns)
    found, coverage = qi_combinations(summary)
    assert coverage.subsets == 15
    assert coverage.measured == len(found) < 15
    assert coverage.note is not None
    assert "not measured" in coverage.note
    for combo in found:  # what is reported is still exact
        assert combo.uniques == pytest.approx(_brute(frame, combo.columns)[2])


def _peak_of_assess(path: Path, columns: list[str]) -> float:
    """Peak resident memory (MiB) of a fresh `custodes assess` process on ``path``."""
    code = (
        "import sys, custodes\n"
        "custodes.assess(sys.argv[1], quasi_identifiers=sys.argv[2].split(','))\n"
    )
    return peak_mib(code, str(path), ",".join(columns), cwd=path.parent, env=SMALL_READ_AHEAD)


def test_assessing_streams_instead_of_loading_the_table(tmp_path: Path) -> None:
    # Few combinations, many rows: a streaming assessment holds the classes, not the rows,
    # so four times the rows (460 MB more in memory as integers) must not cost a quarter of that.
    rng = np.random.default_rng(7)
    columns = ["sex", "age", "education", "marital_status", "urban"]
    domains = [2, 90, 16, 7, 2]
    sizes = {}
    for rows in (8_000_000, 32_000_000):
        path = tmp_path / f"register-{rows}.parquet"
        writer = None
        for _ in range(0, rows, 2_000_000):
            chunk = pa.table(
                {
                    c: rng.integers(0, d, 2_000_000, dtype=np.int32)
                    for c, d in zip(columns, domains, strict=True)
                }
            )
            writer = writer or pq.ParquetWriter(path, chunk.schema)
            writer.write_table(chunk)
        assert writer is not None
        writer.close()
        sizes[rows] = _peak_of_assess(path, columns)
    grown = sizes[32_000_000] - sizes[8_000_000]
    loaded = 24_000_000 * len(columns) * 4 / 2**20
    assert grown < loaded / 4, (sizes, loaded)


def _case_notes(rng: np.random.Generator, rows: int) -> pa.Table:
    """Resident IDs (valid), mobile numbers and case notes, every tenth with both inside."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    born = rng.integers(1940, 2020, rows) * 10**4 + rng.integers(1, 13, rows) * 100
    tail = (born + rng.integers(1, 29, rows)) * 1000 + rng.integers(0, 1000, rows)
    check = (41 + sum(tail // 10**k % 10 * weights[16 - k] for k in range(11))) % 11
    frame = pl.DataFrame(
        {"tail": tail, "check": check, "phone": rng.integers(13 * 10**9, 2 * 10**10, rows)}
    )
    return (
        frame.select(
            resident_id=pl.concat_str(
                pl.lit("110105"),
                pl.col("tail").cast(pl.String),
                pl.col("check").replace_strict(list(range(11)), list("10X98765432")),
            ),
            phone=pl.col("phone").cast(pl.String),
        )
        .with_columns(
            remarks=pl.when(pl.int_range(pl.len()) % 10 == 0)
            .then(pl.format("来电人身份证{}，联系电话{}，已转办。", "resident_id", "phone"))
            .otherwise(pl.lit("已办结，群众对处理结果表示满意。"))
        )
        .to_arrow()
    )


# Polars reads a few dozen chunks ("morsels") ahead of a slow reader, more with more
# threads, and the scan counts runs of a million rows: with two threads, small morsels and
# runs of 65,536 rows, tables of a few million rows show whether what the scan holds grows
# with the rows.
def test_a_full_scan_streams_instead_of_loading_the_table(tmp_path: Path) -> None:
    # Four times the rows (some 600 MB more as Arrow strings) must not cost a quarter of
    # that: the scan counts a run of rows at a time and keeps only the counts.
    rng = np.random.default_rng(11)
    peaks, loaded = {}, {}
    code = (
        "import sys, custodes, custodes.engines._polars_detect as engine\n"
        "engine.BATCH = 1 << 16\n"
        "found = custodes.scan(sys.argv[1], full=True).column('resident_id')\n"
        "assert found.values == found.entities[0].matches == int(sys.argv[2])"
    )
    for rows in (2_000_000, 8_000_000):
        path = tmp_path / f"notes-{rows}.parquet"
        loaded[rows] = 0
        with pq.ParquetWriter(path, _case_notes(rng, 1).schema) as writer:
            for _ in range(0, rows, 1_000_000):
                chunk = _case_notes(rng, 1_000_000)
                loaded[rows] += chunk.nbytes
                writer.write_table(chunk, row_group_size=1 << 18)
        peaks[rows] = peak_mib(code, str(path), str(rows), cwd=tmp_path, env=SMALL_READ_AHEAD)
    grown = peaks[8_000_000] - peaks[2_000_000]
    more = (loaded[8_000_000] - loaded[2_000_000]) / 2**20
    assert grown < more / 4, (peaks, more)


def test_a_column_of_wide_range_is_packed_without_a_table_as_wide() -> None:
    # Ten rows, one column spanning ten billion values: its codes must come from its
    # ten distinct values, not from a count over its whole range.
    frame = pl.DataFrame(
        {
            "phone": [13_800_000_000 + 10**9 * (j % 7) for j in range(10)],
            "sex": [1] * 10,
        }
    )
    summary = get_engine().summarize(frame.lazy(), frame.columns)
    assert sorted(summary.counts.tolist()) == [1, 1, 1, 1, 2, 2, 2]
    assert len(summary.categories[0]) == 7


@given(frame=tables)
@settings(max_examples=20, deadline=None)
def test_with_more_columns_than_the_limit_singles_pairs_and_all_match(
    frame: pl.DataFrame,
) -> None:
    summary = get_engine().summarize(frame.lazy(), frame.columns)
    found, coverage = qi_combinations(summary, max_size=1)
    q = len(frame.columns)
    wanted = {cols for size in (1, 2) for cols in itertools.combinations(frame.columns, size)}
    wanted.add(tuple(frame.columns))
    assert {c.columns for c in found} == wanted
    assert coverage.measured == coverage.subsets == len(wanted) == q + q * (q - 1) // 2 + (q > 2)
    _assert_group_by_figures(frame, found)
