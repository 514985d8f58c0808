"""The detector's engine operations give the same answers on every engine.

The fixtures are files (read by :func:`custodes.io.read_table`), so that an
engine that reads them its own way is checked on the same data. The expected
values are written out: they are what the detector relies on.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from custodes.detect import (
    RECOGNIZERS,
    checked_identifiers,
    classify,
    identifier_spans,
    recognizer,
    redact_column,
    scan_table,
)
from custodes.engines import Engine
from custodes.engines._detect import Shape, SpanSearch
from custodes.io import TableSource, collect, read_table
from custodes.synth import population_register

ID = "11010519491231002X"  # a valid resident ID (GB 11643-1999's example)
CARD = "6222021234567894"  # a UnionPay number that passes Luhn


def _parquet(tmp_path: Path, frame: pl.DataFrame, name: str = "t.parquet") -> TableSource:
    path = tmp_path / name
    frame.write_parquet(path)
    return read_table(path)


def _strings(values: pa.Array) -> list[str]:
    return [str(v) for v in values.to_pylist()]


@pytest.fixture
def mixed(tmp_path: Path) -> TableSource:
    return _parquet(
        tmp_path,
        pl.DataFrame(
            {
                "text": ["  a b ", "", None, "\u3000c", "d"],
                "number": [1, None, 3, 40, 5],
                "day": [dt.date(1990, 5, 6), None, None, dt.date(2001, 1, 2), None],
            }
        ),
    )


@pytest.mark.operation("detect_sample")
def test_the_sample_is_the_first_rows_stripped_without_empties(
    engine: Engine, mixed: TableSource
) -> None:
    sample = engine.detect_sample(mixed, 4)
    assert (sample.rows, sample.sampled) == (5, 4)
    assert list(sample.values) == ["text", "number", "day"]
    assert _strings(sample.values["text"]) == ["a b", "c"]
    assert _strings(sample.values["number"]) == ["1", "3", "40"]
    assert _strings(sample.values["day"]) == ["1990-05-06", "2001-01-02"]
    everything = engine.detect_sample(mixed, 10_000)
    assert (everything.rows, everything.sampled) == (5, 5)


def _read(engine: Engine, source: TableSource, columns: list[str]) -> dict[str, list[str]]:
    """Every batch of ``columns`` put together."""
    out: dict[str, list[str]] = {c: [] for c in columns}
    for batch in engine.detect_batches(source, columns):
        assert list(batch.values) == columns
        for c, values in batch.values.items():
            out[c] += _strings(values)
    return out


@pytest.mark.operation("detect_batches")
def test_whole_columns_are_read_in_row_order(engine: Engine, mixed: TableSource) -> None:
    found = _read(engine, mixed, ["number", "text"])
    assert found == {"number": ["1", "3", "40", "5"], "text": ["a b", "c", "d"]}
    assert [b.rows for b in engine.detect_batches(mixed, ["day"])] == [5]


@pytest.mark.operation("shape_matches")
def test_shapes_are_matched_after_normalisation(engine: Engine) -> None:
    values = pa.array(
        [
            " 138-1234-5678 ",
            "(010)\uff0812345678\uff09",
            "abc-def",
            ID.lower(),
            "x北京市海淀区中关村大街1号",
        ]
    )
    shapes = [
        Shape("compact", r"^\d{11}$"),
        Shape("phone", r"^010\d{8}$"),
        Shape("text", r"^abc-def$"),
        Shape("compact", r"^\d{17}[0-9X]$"),
        Shape("text", r"[\u4e00-\u9fff]", (("北京市", "上海市"), ("大街", "路"))),
        Shape("text", r"^nothing$"),
    ]
    found = engine.shape_matches(values, shapes)
    assert [m.rows.tolist() for m in found] == [[0], [1], [2], [3], [4], []]
    assert [_strings(m.values) for m in found[:4]] == [
        ["13812345678"],
        ["01012345678"],
        ["abc-def"],
        [ID],
    ]
    empty = engine.shape_matches(pa.array([], type=pa.large_string()), shapes[:2])
    assert [len(m.rows) for m in empty] == [0, 0]


@pytest.mark.operation("span_matches")
def test_candidates_in_text_whole_values_and_digits_written_apart(engine: Engine) -> None:
    values = pa.array(
        [
            f"证件{ID}，电话13812345678",
            "110105 1949 1231 002X",
            "ab" * 8 + CARD + "cd",
            CARD,
        ]
    )
    digits = Shape("compact", r"^\d{16,18}X?$")
    searches = [
        SpanSearch(digits, r"\d+[Xx]?"),
        SpanSearch(digits, r"\d+[Xx]?", compact_digits=True),
        SpanSearch(digits, r"\d+[Xx]?", whole=True, skip_digests=True),
        SpanSearch(digits, None, whole=True),
    ]
    runs, apart, gate, whole = engine.span_matches(values, searches)
    assert sorted(zip(runs.rows.tolist(), _strings(runs.values), strict=True)) == [
        (0, ID),
        (2, CARD),
        (3, CARD),
    ]
    assert sorted(set(zip(apart.rows.tolist(), _strings(apart.values), strict=True))) == [
        (0, ID),
        (1, ID),
        (2, CARD),
        (3, CARD),
    ]
    # The hex token's digit run is chance; the whole value (compacted) is a candidate too.
    assert sorted(set(zip(gate.rows.tolist(), _strings(gate.values), strict=True))) == [
        (0, ID),
        (1, ID),
        (3, CARD),
    ]
    assert whole.rows.tolist() == [1, 3]


@pytest.mark.operation("shape_matches")
def test_long_columns_cross_in_chunks_and_rows_count_across_them(engine: Engine) -> None:
    """Values may come whole or in chunks of any sizes (views or not); a row is a position
    in all the values, and a long column read from a file comes back in order."""
    n = 300_007
    hits = [0, 4, 131_071, 131_072, 262_143, n - 1]  # around any chunk boundary
    texts = [f"x{i}" for i in range(n)]
    for i in hits:
        texts[i] = f"电话1381234{i % 10_000:04d}"
    parts = [texts[:5], texts[5:200_000], texts[200_000:]]
    chunked = pa.chunked_array([pa.array(p, type=pa.string_view()) for p in parts])
    phone = Shape("phone", r"^电话\d{11}$")
    search = SpanSearch(Shape("compact", r"^1\d{10}$"), r"\d+")
    for values in (pa.array(texts), chunked):
        (found,) = engine.shape_matches(values, [phone])
        assert found.rows.tolist() == hits
        assert _strings(found.values) == [texts[i] for i in hits]
        (spans,) = engine.span_matches(values, [search])
        assert spans.rows.tolist() == hits
        assert _strings(spans.values) == [texts[i][2:] for i in hits]
    (failed,) = engine.shape_matches(found.values, [Shape("text", r"0000$")])
    assert failed.rows.tolist() == [0]


@pytest.mark.operation("detect_batches")
def test_a_long_table_is_read_in_runs_of_rows_in_order(engine: Engine, tmp_path: Path) -> None:
    n = 2_400_003
    frame = pl.DataFrame({"v": pl.int_range(n, eager=True)}).with_columns(
        w=pl.when(pl.col("v") % 3 == 0).then(pl.lit("")).otherwise(pl.col("v").cast(pl.String))
    )
    source = _parquet(tmp_path, frame)
    sizes: list[int] = []
    values: list[str] = []
    for batch in engine.detect_batches(source, ["w"]):
        sizes.append(batch.rows)
        values += _strings(batch.values["w"])
    assert sum(sizes) == n
    assert len(sizes) > 1, "the table came in one piece"
    assert values == frame.filter(pl.col("w") != "").get_column("w").to_list()


@pytest.mark.operation("columns_matching")
def test_the_gates_first_pass_names_the_columns_to_search(engine: Engine, tmp_path: Path) -> None:
    source = _parquet(
        tmp_path,
        pl.DataFrame(
            {
                "clean": ["a", "b"],
                "number": [123, 4],
                "long": ["x", "1234 5678 9012 3"],
                "day": [dt.date(2020, 1, 1), None],
            }
        ),
    )
    assert engine.columns_matching(source, r"[0-9][0-9 \-]{11,}[0-9Xx]") == ["long"]
    assert engine.columns_matching(source, r"^[0-9]+$") == ["number"]


@pytest.mark.operation("distinct_runs")
def test_distinct_runs_of_each_pattern(engine: Engine, tmp_path: Path) -> None:
    source = _parquet(tmp_path, pl.DataFrame({"note": ["a12 b34 a12", None, "c5", "none"]}))
    digits, letters = engine.distinct_runs(source, "note", [r"\d+", r"[a-c]\d"])
    assert sorted(_strings(digits)) == ["12", "34", "5"]
    assert sorted(_strings(letters)) == ["a1", "b3", "c5"]


@pytest.mark.operation("redact")
def test_only_whole_runs_are_replaced(engine: Engine, tmp_path: Path) -> None:
    notes = ["电话13812345678，订单202611301381234567890", None, "13812345678"]
    source = _parquet(tmp_path, pl.DataFrame({"id": [1, 2, 3], "note": notes}))
    redacted = engine.redact(source, "note", [(r"\+?\d+[Xx]?", {"13812345678": "[PHONE]"})])
    assert redacted.columns == source.columns
    table = collect(redacted)
    assert table["note"].to_list() == [
        "电话[PHONE]，订单202611301381234567890",
        None,
        "[PHONE]",
    ]
    assert table["id"].to_list() == [1, 2, 3]


# ------------------------------------------------------------ the detector on each engine


@pytest.mark.operation("span_matches")
def test_the_gate_finds_the_same_identifiers(engine: Engine, tmp_path: Path) -> None:
    source = _parquet(
        tmp_path,
        pl.DataFrame(
            {
                "notes": [f"来访登记，证件{ID}，已核实", "无", f"{ID} / {ID.lower()}"],
                "spaced": [" ".join(CARD[i : i + 4] for i in range(0, 16, 4)), "2", None],
                "iban": ["GB82 WEST 1234 5698 7654 32", "3", "4"],
                "pseudonym": ["ab" * 8 + CARD + "cd", "4", "5"],
                "wrong": [ID[:-1] + "Y", CARD[:-1] + "5", "6"],
                "clean": ["a", "b", "c"],
            }
        ),
    )
    found = {(h.column, h.entity, h.cells) for h in checked_identifiers(source, engine=engine)}
    assert found == {
        ("notes", "CN_RESIDENT_ID", 2),
        ("spaced", "BANK_CARD", 1),
        ("iban", "IBAN", 1),
    }


@pytest.mark.operation("distinct_runs")
def test_redaction_spans_and_the_redacted_column(engine: Engine, tmp_path: Path) -> None:
    notes = [
        f"身份证号{ID}，电话13812345678",
        "订单号202611301381234567890 未付款",
        "校验错误 340524198001010013",
        None,
    ]
    source = _parquet(tmp_path, pl.DataFrame({"note": notes}))
    assert identifier_spans(source, "note", engine=engine) == {
        "cn_resident_id": {ID: "[CN_RESIDENT_ID]"},
        "cn_mobile": {"13812345678": "[PHONE]"},
    }
    redacted = collect(redact_column(source, "note", engine=engine))["note"].to_list()
    assert redacted == [
        "身份证号[CN_RESIDENT_ID]，电话[PHONE]",
        notes[1],
        notes[2],
        None,
    ]
    phones = collect(redact_column(source, "note", ["PHONE"], engine=engine))["note"]
    assert phones[0] == f"身份证号{ID}，电话[PHONE]"


@pytest.mark.operation("shape_matches")
def test_classify_judges_each_value(engine: Engine) -> None:
    values = [ID, "13812345678", "张伟", "朝阳区", "北京市朝阳区建国路8号", "1990-05-06", None]
    assert classify(values, engine=engine).to_pylist() == [
        "CN_RESIDENT_ID",
        "PHONE",
        "PERSON_NAME",
        "PLACE",
        "ADDRESS",
        "DATE_OF_BIRTH",
        None,
    ]


@pytest.mark.operation("detect_sample")
def test_the_scan_gives_the_same_figures(engine: Engine, tmp_path: Path) -> None:
    register = population_register(2_000, seed=5).with_columns(
        pl.when(pl.int_range(pl.len()) % 4 == 0)
        .then(pl.format("来电人身份证{}，联系电话{}，已转办。", "resident_id", "phone"))
        .otherwise(pl.lit("已办结，群众对处理结果表示满意。"))
        .alias("remarks")
    )
    source = _parquet(tmp_path, register)
    for full in (False, True):
        result = scan_table(source, sample=500, full=full, engine=engine)
        assert result.scanned_rows == (2_000 if full else 500)
        resident = result.column("resident_id")
        assert resident.entities[0].entity == "CN_RESIDENT_ID"
        assert resident.entities[0].matches == resident.values == result.scanned_rows
        roles = {c.name: c.suggested_role for c in result.columns}
        assert roles["name"] == roles["phone"] == roles["address"] == "identifying"
        assert roles["birth_date"] == roles["sex"] == "quasi_identifying"
        assert roles["diagnosis"] == "sensitive"
        remarks = result.column("remarks")
        assert remarks.suggested_action == "redact"
        in_text = {e.entity: e.matches for e in remarks.entities if e.in_text}
        assert in_text == {
            "CN_RESIDENT_ID": result.scanned_rows // 4,
            "PHONE": result.scanned_rows // 4,
        }
        assert "minors_under_14" in result.column("birth_date").sensitive_categories


def test_every_recognizer_pattern_compiles_on_the_engine(engine: Engine) -> None:
    """A recognizer's shape and span are the engine's regular expressions."""
    values = pa.array(["x"])
    found = engine.shape_matches(values, [r.shape for r in RECOGNIZERS])
    assert len(found) == len(RECOGNIZERS)
    spans = [SpanSearch(r.shape, r.span) for r in RECOGNIZERS if r.span is not None]
    assert len(engine.span_matches(values, spans)) == len(spans)
    assert recognizer("cn_address").shape.contains_any  # an address needs both word lists
    assert np.all([len(m.rows) == 0 for m in found])
