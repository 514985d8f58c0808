"""National scale, the release: the fast paths give the release of the plain ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.anonymize._generalize import (
    Generalized,
    Scheme,
    apply,
    node_labels,
    released_summary,
    schemes_for,
    suppressed_labels,
    value_mappings,
)
from custodes.anonymize._models import DistinctLDiversity, KAnonymity
from custodes.anonymize._search import optimal_generalization
from custodes.anonymize._utility import utility
from custodes.engines import get_engine
from custodes.engines._polars_transform import _generalize_text, _numbered, generalize
from custodes.errors import InvalidInputError
from custodes.hierarchy import Hierarchy
from custodes.summary import Summary
from tests.peak_memory import SMALL_READ_AHEAD, peak_mib


def _column(rng: np.random.Generator, kind: str, rows: int) -> pl.Series:
    values = rng.integers(0, 12, rows)
    if kind == "int":
        series = pl.Series(values * 3 - 7)
    elif kind == "wide":  # a range far wider than its values: no lookup table
        series = pl.Series(values * 10**12)
    elif kind == "date":
        series = pl.Series([dt.date(1950, 1, 1) + dt.timedelta(days=int(v) * 40) for v in values])
    else:
        series = pl.Series([("" if v == 0 else f"区 {v}") for v in values])
    return series.scatter(rng.integers(0, rows, rows // 8), None)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[pl.DataFrame, dict, dict]:  # type: ignore[type-arg]
    kinds = draw(st.lists(st.sampled_from(["int", "wide", "date", "text"]), min_size=1, max_size=3))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    rows = draw(st.integers(5, 80))
    frame = pl.DataFrame({f"c {j}": _column(rng, k, rows) for j, k in enumerate(kinds)})
    frame = frame.with_columns(pl.int_range(rows).alias("row"))
    mappings = {}
    for column in frame.columns[:-1]:
        text = frame.get_column(column).cast(pl.String).unique().to_list()
        known = [v for v in text if v is None or rng.random() < 0.9]  # some values unknown
        labels = [f"g{rng.integers(0, 3)}" for _ in known]
        mappings[column] = (known, labels)
    labelled = [mappings[c][1] for c in mappings]
    suppressed = {c: [] for c in mappings}
    for _ in range(draw(st.integers(0, 4))):
        for c, labels in zip(mappings, labelled, strict=True):
            suppressed[c].append(labels[int(rng.integers(0, len(labels)))] if labels else "g0")
    return frame, mappings, suppressed


@given(case=_cases())
@settings(max_examples=60, deadline=None)
def test_labels_looked_up_by_number_equal_labels_looked_up_as_text(case: tuple) -> None:  # type: ignore[type-arg]
    frame, mappings, suppressed = case
    assert _numbered(frame.lazy(), mappings, suppressed) is not None
    fast = generalize(frame.lazy(), mappings, suppressed).collect()
    plain = _generalize_text(frame.lazy(), mappings, suppressed).collect()
    assert fast.columns == plain.columns
    assert fast.sort("row").to_dicts() == plain.sort("row").to_dicts()


def _classes(summary: Summary) -> list[tuple[object, ...]]:
    values = summary.values_frame().to_pylist()
    rows = [(*v.values(), int(c)) for v, c in zip(values, summary.counts, strict=True)]
    return sorted(rows, key=str)


def _histograms(summary: Summary) -> dict[str, tuple[list[object], list[tuple[object, ...]]]]:
    values = summary.values_frame().to_pylist()
    out = {}
    for name, hist in summary.sensitive.items():
        labels = hist.values.to_pylist()
        triples = [
            (*values[int(c)].values(), labels[int(v)], int(n))
            for c, v, n in zip(hist.class_index, hist.value_code, hist.count, strict=True)
        ]
        out[name] = (labels, sorted(triples, key=str))
    return out


@st.composite
def _registers(draw: st.DrawFn) -> tuple[pl.DataFrame, int, float]:
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    rows = draw(st.integers(20, 150))
    data = {}
    for j in range(draw(st.integers(1, 3))):
        series = pl.Series([str(v) for v in rng.integers(0, draw(st.integers(2, 27)), rows)])
        data[f"q{j}"] = series.scatter(rng.integers(0, rows, rows // 10), None)
    # A few rare values: those only in suppressed records leave the release's histograms.
    data["diagnosis"] = pl.Series(
        [f"d{v}" if v < 4 else f"r{i}" for i, v in enumerate(rng.integers(0, 5, rows))]
    )
    return pl.DataFrame(data), draw(st.integers(2, 5)), draw(st.sampled_from([0.0, 0.05, 0.3]))


@given(case=_registers())
@settings(max_examples=40, deadline=None)
def test_the_release_summary_from_the_search_equals_the_release_read_again(
    case: tuple[pl.DataFrame, int, float],
) -> None:
    frame, k, limit = case
    qis = [c for c in frame.columns if c.startswith("q")]
    engine = get_engine()
    summary = engine.summarize(frame.lazy(), qis, ["diagnosis"])
    hierarchies = {  # value -> value // 3 -> value // 9 -> *; a null is looked up as ""
        q: Hierarchy(
            rows=(
                ("", "", "", "*"),
                *((str(v), f"{v // 3}x", f"{v // 9}y", "*") for v in range(27)),
            )
        )
        for q in qis
    }
    schemes = schemes_for(summary, hierarchies)
    models = [KAnonymity(k), DistinctLDiversity("diagnosis", 2)]
    try:
        result = optimal_generalization(summary, schemes, models, suppression_limit=limit)
    except InvalidInputError:
        return  # nothing meets the models: there is no release
    mappings = value_mappings(summary, hierarchies, result.levels)
    labels = suppressed_labels(summary, hierarchies, result.generalized, result.suppressed_classes)
    released = engine.generalize(frame.lazy(), mappings, labels)
    derived = released_summary(summary, hierarchies, result.generalized, result.suppressed_classes)
    read = engine.summarize(released, qis, ["diagnosis"])
    assert _classes(derived) == _classes(read)
    assert _histograms(derived) == _histograms(read)
    # The same with the search's schemes and the mappings made already (the pipeline's way).
    given = {
        "labels": node_labels(
            summary, hierarchies, result.generalized, schemes=schemes, mappings=mappings
        )
    }
    again = suppressed_labels(
        summary, hierarchies, result.generalized, result.suppressed_classes, **given
    )
    assert again == labels
    derived = released_summary(
        summary, hierarchies, result.generalized, result.suppressed_classes, **given
    )
    assert _classes(derived) == _classes(read)


def _register_file(path: Path, rows: int, rng: np.random.Generator) -> None:
    """Few combinations of sex, age and region; a wide text column beside them."""
    text = pa.scalar("号：" + "记录内容" * 8)
    regions = pa.array([f"{110101 + j}" for j in range(30)])
    writer = None
    for _ in range(0, rows, 1_000_000):
        chunk = pa.table(
            {
                "sex": pa.array(["男", "女"]).take(pa.array(rng.integers(0, 2, 1_000_000))),
                "age": pa.array(rng.integers(0, 90, 1_000_000, dtype=np.int32)),
                "region": regions.take(pa.array(rng.integers(0, 30, 1_000_000))),
                "note": pc.binary_join_element_wise(  # each row its own: no dictionary
                    pa.array(rng.integers(0, 2**62, 1_000_000)).cast(pa.string()), text, ""
                ),
            }
        )
        writer = writer or pq.ParquetWriter(path, chunk.schema)
        writer.write_table(chunk, row_group_size=1 << 17)
    assert writer is not None
    writer.close()


def test_anonymizing_streams_the_release_instead_of_loading_the_table(tmp_path: Path) -> None:
    # A streaming anonymization holds the classes, not the rows: four times the rows
    # (each over 100 bytes in memory) must not cost a quarter of the extra table.
    code = (
        "import sys, custodes\n"
        "from custodes.anonymize import KAnonymity\n"
        "from custodes.hierarchy import Hierarchy\n"
        "sex = Hierarchy(rows=(('男', '*'), ('女', '*')))\n"
        "spec = custodes.AnonymizationSpec(('sex', 'age', 'region'), {'sex': sex, "
        "'age': 'interval:width=10', 'region': 'mask'}, (KAnonymity(10),), 0.01)\n"
        "done = custodes.anonymize(sys.argv[1], spec, output=sys.argv[2])\n"
        "assert done.rows > 0\n"
    )
    rng = np.random.default_rng(11)
    peaks = {}
    for rows in (2_000_000, 8_000_000):
        path = tmp_path / f"register-{rows}.parquet"
        _register_file(path, rows, rng)
        out = tmp_path / f"release-{rows}.parquet"
        peaks[rows] = peak_mib(code, str(path), str(out), cwd=tmp_path, env=SMALL_READ_AHEAD)
        assert pl.scan_parquet(out).select(pl.len()).collect().item() == rows
        out.unlink()
    loaded = pl.read_parquet(path).estimated_size("mb") * 6 / 8  # the extra 6 M rows
    assert peaks[8_000_000] - peaks[2_000_000] < loaded / 4, (peaks, loaded)


_LEVELS = (("", "", "", "*"), *((str(v), f"{v // 3}x", f"{v // 9}y", "*") for v in range(27)))
"""A hierarchy of three levels over the values 0..26 (and the empty value)."""


def _generalized(
    case: tuple[pl.DataFrame, int, float], seed: int
) -> tuple[
    pl.DataFrame, Summary, tuple[Scheme, ...], tuple[int, ...], Generalized, npt.NDArray[np.bool_]
]:
    """A register, its summary and schemes, levels drawn at random, its classes at those
    levels, and about three in ten of them suppressed."""
    frame = case[0].drop("diagnosis").fill_null("")
    rng = np.random.default_rng(seed)
    summary = get_engine().summarize(frame.lazy(), frame.columns)
    schemes = schemes_for(summary, {q: Hierarchy(rows=_LEVELS) for q in frame.columns})
    levels = tuple(int(rng.integers(0, 4)) for _ in frame.columns)
    generalized = apply(summary, schemes, levels)
    return frame, summary, schemes, levels, generalized, rng.random(generalized.classes) < 0.3


@given(case=_registers(), seed=st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_utility_per_value_equals_the_measures_record_by_record(
    case: tuple[pl.DataFrame, int, float], seed: int
) -> None:
    frame, summary, schemes, levels, generalized, suppressed = _generalized(case, seed)
    qis, rows = frame.columns, _LEVELS
    found = utility(summary, schemes, generalized, suppressed)
    # Record by record: each row's class, its value's frequency and its node's.
    n = frame.height
    labels = {v: path for v, *path in rows}
    cut = suppressed[generalized.class_of]
    values = summary.values_frame().to_pylist()
    by_row = frame.join(
        pl.DataFrame([{**v, "__cut": bool(c)} for v, c in zip(values, cut, strict=True)]),
        on=qis,
        how="left",
    )
    for j, q in enumerate(qis):
        column = by_row.get_column(q).to_list()
        level = levels[j]
        node = [v if level == 0 else labels[v][level - 1] for v in column]
        freq = {v: column.count(v) for v in set(column)}
        node_freq = {x: node.count(x) for x in set(node)}
        leaves = {x: sum(1 for r in rows if (r[0] if level == 0 else r[level]) == x) for x in node}
        lost = granular = missing = 0.0
        for v, x, c in zip(column, node, by_row.get_column("__cut"), strict=True):
            if c:
                lost += -np.log2(freq[v] / n)
                granular += 1.0
                missing += 1.0
            else:
                lost += -np.log2(freq[v] / node_freq[x])
                granular += leaves[x] / len(rows)
        got = found.columns[j]
        assert got.non_uniform_entropy == pytest.approx(lost / n)
        assert got.granularity == pytest.approx(granular / n)
        assert got.missing_fraction == pytest.approx(1.0 if level == 3 else missing / n)


@given(case=_registers(), seed=st.integers(0, 2**31), packed=st.booleans())
@settings(max_examples=40, deadline=None)
def test_utility_finds_the_suppressed_classes_without_each_class_of(
    case: tuple[pl.DataFrame, int, float], seed: int, packed: bool
) -> None:
    # The search leaves each class's generalized class to be found; the utility finds the
    # suppressed ones by their packed nodes instead (unless they would not fit a table),
    # and gives what it gives when every class's generalized class is at hand.
    from custodes.anonymize import _utility

    _, summary, schemes, _, known, suppressed = _generalized(case, seed)
    asked = []

    def find() -> np.ndarray:  # type: ignore[type-arg]
        asked.append(True)
        return known.class_of

    later = Generalized(known.levels, find, known.sizes, known.nodes)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_utility, "PACKED_TABLE", _utility.PACKED_TABLE if packed else 0)
        found = utility(summary, schemes, later, suppressed)
    assert found == utility(summary, schemes, known, suppressed)
    assert bool(asked) == (not packed and bool(suppressed.any()))


def test_an_unsigned_column_past_2_63_is_relabelled_as_text() -> None:
    # Its values do not fit the 64-bit signed numbers the lookup uses: the text path.
    frame = pl.DataFrame({"u": pl.Series([1, 2**63 + 5, 3], dtype=pl.UInt64), "r": [0, 1, 2]})
    mappings = {"u": (["1", str(2**63 + 5), "3"], ["a", "b", "a"])}
    released = generalize(frame.lazy(), mappings, {"u": ["b"]}).collect()
    assert released.to_dict(as_series=False) == {"u": ["a", "a"], "r": [0, 2]}


def test_a_bad_read_ahead_setting_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Polars would panic deep in a scan; the setting is named with the fix instead.
    from custodes.cli import main

    path = tmp_path / "people.parquet"
    pl.DataFrame({"sex": ["男", "女"] * 5, "age": list(range(10))}).write_parquet(path)
    monkeypatch.setenv("POLARS_ROW_GROUP_PREFETCH_SIZE", "many")
    assert main(["assess", str(path), "--qi", "sex,age"]) == 2
    err = capsys.readouterr().err
    assert "POLARS_ROW_GROUP_PREFETCH_SIZE" in err
    assert "whole number" in err
