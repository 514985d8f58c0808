"""Anonymization on every engine: ARX's five optima on Adult through the whole pipeline,
identifier actions, microaggregation, local recoding and the streamed write."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

from custodes.anonymize import (
    AnonymizationSpec,
    DistinctLDiversity,
    KAnonymity,
    Mask,
    PrivacyModel,
    Pseudonymize,
    RecursiveCLDiversity,
    Remove,
    ShiftDates,
    TCloseness,
)
from custodes.anonymize._identifiers import apply_identifier_actions
from custodes.anonymize._pipeline import prepare_release
from custodes.engines import Engine
from custodes.hierarchy import Hierarchy, read_hierarchy
from custodes.io import TableSource, reading

# ARX's column order for the published levels, and the optima tests/test_anonymize.py checks.
ORDER = (
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "salary-class",
)
ARX = [
    ("k=5", 0.0, (0, 4, 1, 2, 3, 2, 0, 0), 0, 0.5422),
    ("k=5", 0.02, (0, 3, 0, 2, 2, 1, 1, 0), 506, 0.2465),
    ("distinct l=2", 0.02, (0, 3, 0, 0, 2, 1, 1, 0), 567, 0.1472),
    ("recursive c=4 l=3", 0.02, (0, 2, 0, 1, 3, 1, 1, 0), 599, 0.2428),
    ("t=0.2 hierarchical", 0.02, (1, 4, 0, 2, 3, 1, 2, 1), 151, 0.7351),
]
KEY = b"0123456789abcdef-test-key"
LEAF = Hierarchy(rows=tuple((str(v), f"{v // 2}x", f"{v // 4}y", "*") for v in range(8)))


def _reading(source: TableSource):  # type: ignore[no-untyped-def]
    def wrap(task: str | None) -> AbstractContextManager[None]:
        return reading(source, task)

    return wrap


def _rows(engine: Engine, table: TableSource) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = engine.to_arrow(table).to_pylist()
    return rows


@pytest.mark.operation("generalize")
@pytest.mark.parametrize(("model", "limit", "levels", "suppressed", "loss"), ARX)
def test_adult_optimum_matches_arx_through_the_pipeline(
    engine: Engine,
    adult_table: pa.Table,
    adult_dir: Path,
    model: str,
    limit: float,
    levels: tuple[int, ...],
    suppressed: int,
    loss: float,
) -> None:
    occupation = read_hierarchy(adult_dir / "adult_hierarchy_occupation.csv")
    models: dict[str, PrivacyModel] = {
        "k=5": KAnonymity(5),
        "distinct l=2": DistinctLDiversity("occupation", 2),
        "recursive c=4 l=3": RecursiveCLDiversity("occupation", 3, c=4.0),
        "t=0.2 hierarchical": TCloseness("occupation", 0.2, "hierarchical", occupation),
    }
    spec = AnonymizationSpec(
        quasi_identifiers=ORDER,
        hierarchies={q: read_hierarchy(adult_dir / f"adult_hierarchy_{q}.csv") for q in ORDER},
        models=(models[model],),
        suppression_limit=limit,
    )
    source = engine.from_arrow(adult_table, "adult.csv")
    release = prepare_release(engine, source, spec, reading=_reading(source))
    assert release.search is not None
    assert release.search.levels == levels
    assert release.suppressed_records == suppressed
    assert round(release.loss, 4) == loss
    assert release.search.optimal
    assert release.rows == 30_162 - suppressed
    assert release.after.rows == release.rows
    assert release.after.k_anonymity >= (5 if model == "k=5" else 1)
    assert release.columns == tuple(adult_table.column_names)


@pytest.mark.operation("recode")
def test_local_recoding_meets_k(engine: Engine) -> None:
    data = pa.table({"v": [str(i % 8) for i in range(40)], "x": [str(i) for i in range(40)]})
    spec = AnonymizationSpec(
        quasi_identifiers=("v",), hierarchies={"v": LEAF}, models=(KAnonymity(4),), method="local"
    )
    source = engine.from_arrow(data)
    release = prepare_release(engine, source, spec, reading=_reading(source))
    rows = _rows(engine, release.table)
    assert len(rows) == 40 == release.rows
    assert sorted(r["x"] for r in rows) == sorted(data.column("x").to_pylist())
    assert release.after.k_anonymity >= 4


def _people(engine: Engine) -> TableSource:
    return engine.from_arrow(
        pa.table(
            {
                "id": ["11010519491231002X", "360426199101010071", "AB", None],
                "person": ["p1", "p2", "p1", "p3"],
                "date": ["2020-01-05", "2020-02-01", "2021-03-03", "2020-01-01"],
            }
        )
    )


@pytest.mark.operation("mask")
def test_mask(engine: Engine) -> None:
    out = apply_identifier_actions(engine, _people(engine), (Mask("id", 6, 4),))
    assert [r["id"] for r in _rows(engine, out)] == [
        "110105********002X",
        "360426********0071",
        "**",
        None,
    ]


@pytest.mark.operation("pseudonymize")
def test_pseudonyms_are_the_same_on_every_engine(engine: Engine) -> None:
    import hashlib
    import hmac

    out = apply_identifier_actions(engine, _people(engine), (Pseudonymize("person", KEY),))
    expected = [
        hmac.new(KEY, b"pseudonym\x00" + p.encode(), hashlib.sha256).hexdigest()[:32]
        for p in ("p1", "p2", "p1", "p3")
    ]
    assert [r["person"] for r in _rows(engine, out)] == expected


@pytest.mark.operation("shift_dates")
def test_date_shift_moves_each_persons_dates_alike(engine: Engine) -> None:
    from datetime import date

    out = _rows(
        engine,
        apply_identifier_actions(engine, _people(engine), (ShiftDates("date", "person", KEY, 10),)),
    )
    shifts = [
        (date.fromisoformat(str(r["date"])) - date.fromisoformat(d)).days
        for r, d in zip(out, ["2020-01-05", "2020-02-01", "2021-03-03", "2020-01-01"], strict=True)
    ]
    assert shifts[0] == shifts[2]
    assert all(abs(s) <= 10 for s in shifts)


@pytest.mark.operation("remove")
def test_remove_drops_the_column(engine: Engine) -> None:
    out = apply_identifier_actions(engine, _people(engine), (Remove("id"),))
    assert out.columns == ("person", "date")
    assert engine.to_arrow(out).column_names == ["person", "date"]


@pytest.mark.operation("redact")
def test_redact_masks_identifiers_inside_text(engine: Engine) -> None:
    from custodes.anonymize import Redact

    table = engine.from_arrow(pa.table({"note": ["call 13800138000 today", "nothing"]}))
    out = _rows(engine, apply_identifier_actions(engine, table, (Redact("note"),)))
    assert "13800138000" not in str(out[0]["note"])
    assert out[1]["note"] == "nothing"


@pytest.mark.operation("microaggregate")
@pytest.mark.parametrize("function", ["mean", "median"])
def test_microaggregation_replaces_values_by_their_class_aggregate(
    engine: Engine, function: str
) -> None:
    data = pa.table({"v": ["0", "1", "1", "6", "7"], "x": ["1", "2", "3", "9", "11"]})
    spec = AnonymizationSpec(
        quasi_identifiers=("v",),
        hierarchies={"v": LEAF},
        models=(KAnonymity(2),),
        microaggregation={"x": function},
    )
    source = engine.from_arrow(data)
    release = prepare_release(engine, source, spec, reading=_reading(source))
    rows = _rows(engine, release.table)
    assert [r["v"] for r in rows] == ["0x", "0x", "0x", "3x", "3x"]
    assert [r["x"] for r in rows] == [2.0, 2.0, 2.0, 10.0, 10.0]


@pytest.mark.operation("microaggregate")
def test_microaggregation_by_mode_keeps_values(engine: Engine) -> None:
    table = engine.from_arrow(pa.table({"c": ["a", "a", "b", "b"], "m": ["x", "x", "y", "z"]}))
    out = _rows(engine, engine.microaggregate(table, {"m": "mode"}, ["c"]))
    assert [r["m"] for r in out] == ["x", "x", "y", "y"]


@pytest.mark.operation("write")
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_write_streams_the_table(engine: Engine, tmp_path: Path, suffix: str) -> None:
    data = pa.table({"a": ["1", None, "3"], "b": ["x", "y", "中文"]})
    path = tmp_path / f"out{suffix}"
    engine.write(engine.from_arrow(data), path)
    if suffix == ".csv":
        back = pv.read_csv(path, convert_options=pv.ConvertOptions(strings_can_be_null=True))
        assert back.column("b").to_pylist() == ["x", "y", "中文"]
        assert back.column("a").to_pylist() == [1, None, 3]
    elif suffix == ".parquet":
        assert pq.read_table(path).to_pylist() == data.to_pylist()
    else:
        import json

        lines = path.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == data.to_pylist()
