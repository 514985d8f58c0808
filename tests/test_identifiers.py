"""Direct identifiers: masking, keyed pseudonyms, per-person date shifts, key handling."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from custodes.anonymize import Mask, Pseudonymize, Remove, ShiftDates, load_key
from custodes.anonymize._identifiers import (
    IdentifierAction,
    apply_identifier_actions,
    key_fingerprint,
)
from custodes.engines import get_engine
from custodes.errors import SettingError
from custodes.io import TableSource

ENGINE = get_engine()

KEY = b"0123456789abcdef-test-key"
OTHER = b"fedcba9876543210-other-key"


def frame() -> pl.LazyFrame:
    return pl.DataFrame(
        {
            "id": ["11010519491231002X", "360426199101010071", "AB", None],
            "person": ["p1", "p2", "p1", "p3"],
            "date": ["2020-01-05", "2020-02-01", "2021-03-03", "2020-01-01"],
        }
    ).lazy()


def _source(table: pl.DataFrame | pl.LazyFrame) -> TableSource:
    return ENGINE.from_arrow(table.lazy().collect().to_arrow())


def _collect(table: TableSource) -> pl.DataFrame:
    return pl.DataFrame(pl.from_arrow(ENGINE.to_arrow(table)))


def _apply(table: pl.LazyFrame, actions: tuple[IdentifierAction, ...]) -> pl.DataFrame:
    return _collect(apply_identifier_actions(ENGINE, _source(table), actions))


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (6, 4, ["110105********002X", "360426********0071", "**", None]),
        (0, 0, ["*" * 18, "*" * 18, "**", None]),
        (3, 0, ["110" + "*" * 15, "360" + "*" * 15, "**", None]),
    ],
)
def test_mask(first: int, last: int, expected: list[str | None]) -> None:
    out = _apply(frame(), (Mask("id", first, last),))
    assert out["id"].to_list() == expected


def test_pseudonyms_are_consistent_within_a_key_and_differ_across_keys() -> None:
    one = _apply(frame(), (Pseudonymize("person", KEY),))["person"]
    again = _apply(frame(), (Pseudonymize("person", KEY),))["person"]
    other = _apply(frame(), (Pseudonymize("person", OTHER),))["person"]
    assert one.to_list() == again.to_list()
    assert one[0] == one[2] != one[1]
    assert set(one.to_list()).isdisjoint(other.to_list())
    assert all(len(v) == 32 for v in one.to_list())
    assert "p1" not in one.to_list()


def test_date_shift_is_the_same_for_each_person() -> None:
    out = _apply(frame(), (ShiftDates("date", "person", KEY, 10),))
    before = pl.Series(["2020-01-05", "2021-03-03"]).str.to_date()
    after = out.filter(pl.col("person") == "p1")["date"].str.to_date()
    shifts = {(a - b).days for a, b in zip(after.to_list(), before.to_list(), strict=True)}
    assert len(shifts) == 1
    assert abs(shifts.pop()) <= 10


def test_remove_drops_the_column() -> None:
    out = _apply(frame(), (Remove("id"),))
    assert out.columns == ["person", "date"]


def test_keys_come_from_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    assert load_key(key_file) == KEY
    monkeypatch.setenv("CUSTODES_PSEUDONYM_KEY", OTHER.decode())
    assert load_key() == OTHER
    monkeypatch.setenv("CUSTODES_PSEUDONYM_KEY", "short")
    with pytest.raises(SettingError, match="missing or shorter than 16 bytes"):
        load_key()


def test_manifest_records_a_fingerprint_never_the_key() -> None:
    described = Pseudonymize("person", KEY).describe()
    assert described["key_fingerprint"] == key_fingerprint(KEY)
    assert KEY.decode() not in json.dumps(described)


def test_cli_pseudonymizes_and_masks(
    adult_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from custodes.cli import main

    people = tmp_path / "people.csv"
    rows = ["name,id,age,sex"] + [
        f"Person{i},11010519491231{i:04d},{20 + i % 5},{'MF'[i % 2]}" for i in range(200)
    ]
    people.write_text("\n".join(rows) + "\n", encoding="utf-8")
    age = tmp_path / "age.csv"
    age.write_text("".join(f"{a};{a // 5 * 5}-{a // 5 * 5 + 4};*\n" for a in range(20, 25)))
    sex = tmp_path / "sex.csv"
    sex.write_text("M;*\nF;*\n", encoding="utf-8")
    monkeypatch.setenv("CUSTODES_PSEUDONYM_KEY", KEY.decode())
    out, manifest = tmp_path / "out.csv", tmp_path / "m.json"
    argv = ["anonymize", str(people), "--qi", "age,sex", "--k", "10"]
    argv += ["--hierarchy", f"age={age}", "--hierarchy", f"sex={sex}"]
    argv += ["--pseudonymize", "name", "--mask", "id:6:4", "--output", str(out)]
    argv += ["--manifest", str(manifest)]
    assert main(argv) == 0, capsys.readouterr().err
    released = pl.read_csv(out, infer_schema=False)
    assert not released["name"].str.starts_with("Person").any()
    assert released["id"][0] == "110105********0000"
    text = manifest.read_text(encoding="utf-8")
    assert KEY.decode() not in text
    actions = json.loads(text)["spec"]["identifier_actions"]
    assert {a["action"] for a in actions} == {"pseudonymize", "mask"}


def test_date_shift_refuses_values_that_are_not_dates() -> None:
    from custodes.anonymize._identifiers import check_dates
    from custodes.errors import InvalidInputError

    secret = "Zhang-Secret-4242"
    table = pl.DataFrame(
        {"person": ["p1", "p2", "p3", "p4"], "date": ["2020-01-05", secret, None, "soon"]}
    ).lazy()
    check_dates(ENGINE, _source(frame()), (ShiftDates("date", "person", KEY, 10),), "'t.csv'")
    with pytest.raises(InvalidInputError) as caught:
        check_dates(ENGINE, _source(table), (ShiftDates("date", "person", KEY, 10),), "'t.csv'")
    assert str(caught.value) == (
        "column 'date' of 't.csv' has 2 values that are not dates (the first in data row 2), "
        "which a date shift would release as empty cells. Write dates as YYYY-MM-DD, or remove "
        "or mask that column instead of shifting it."
    )


def test_anonymize_with_a_date_shift_of_a_non_date_fails_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodes.cli import main

    rows = ["sex,visit,person"] + [
        f"{'FM'[i % 2]},2020-01-{i % 28 + 1:02d},p{i}" for i in range(40)
    ]
    rows[7] = "F,unknown,p6"
    data = tmp_path / "visits.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setenv("CUSTODES_PSEUDONYM_KEY", KEY.decode())
    out = tmp_path / "out.csv"
    argv = ["anonymize", str(data), "--qi", "sex", "--hierarchy", "sex=mask:step=1", "--k", "2",
            "--shift-dates", "visit:person", "--identifying", "person", "--output", str(out),
            "--workspace", str(tmp_path / "ws")]  # fmt: skip
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "column 'visit' of" in err
    assert "has 1 value that is not a date (the first in data row 7)" in err
    assert "unknown" not in err
    assert not out.exists()


def test_a_missing_key_names_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTODES_PSEUDONYM_KEY", raising=False)
    with pytest.raises(SettingError, match=r"and pass --key-file, or set CUSTODES_PSEUDONYM_KEY"):
        load_key()
    with pytest.raises(SettingError, match=r"and save it as ws/keys/pseudonym.key\.$"):
        load_key(provide="save it as ws/keys/pseudonym.key")


@pytest.mark.parametrize(
    ("action", "done"),
    [(Mask("sex", 1, 0), "masked"), (Remove("sex"), "removed"),
     (ShiftDates("sex", "person", KEY), "date-shifted")],
)  # fmt: skip
def test_an_action_on_a_quasi_identifier_is_named_in_plain_words(
    action: Mask | Remove | ShiftDates, done: str
) -> None:
    from custodes.anonymize import AnonymizationSpec, KAnonymity
    from custodes.errors import ColumnRoleError
    from custodes.hierarchy import build_hierarchy

    hierarchy = build_hierarchy("mask:step=1", ["F", "M"])
    with pytest.raises(ColumnRoleError) as caught:
        AnonymizationSpec(
            quasi_identifiers=("sex",),
            hierarchies={"sex": hierarchy},
            models=(KAnonymity(2),),
            identifier_actions=(action,),
        )
    assert f"would also be {done}; generalize it" in str(caught.value)


def _register_release(mask: Mask, tmp_path: Path) -> object:
    """A register anonymized to k=10 on sex, birth date and county with the ID masked."""
    from custodes.anonymize import AnonymizationSpec, KAnonymity
    from custodes.settings import load_settings
    from custodes.synth import population_register
    from custodes.workspace import Workspace

    spec = AnonymizationSpec(
        quasi_identifiers=("sex", "birth_date", "region_code"),
        hierarchies={"sex": "mask:step=1", "birth_date": "date:year,decade",
                     "region_code": "prc"},
        models=(KAnonymity(10),),
        identifying=("resident_id", "name"),
        identifier_actions=(mask,),
        suppression_limit=0.05,
    )  # fmt: skip
    ws = Workspace(load_settings(workspace=tmp_path / "ws"))
    return ws.anonymize(population_register(3000, seed=7), spec, record=False)


def test_a_kept_resident_id_prefix_is_counted_and_refused(tmp_path: Path) -> None:
    from custodes.errors import RefusedError

    with pytest.raises(RefusedError) as caught:
        _register_release(Mask("resident_id", 6, 0), tmp_path)
    assert str(caught.value) == (
        "the masks keep a quasi-identifier's information: 'resident_id' keeps the first 6 "
        "and last 0 characters, revealing: county. Counted as a quasi-identifier, k falls "
        "from 11 to 1, below the 10 the spec's privacy models need. Keep fewer characters "
        "(e.g. keep_first = 0 and keep_last = 4, --mask resident_id:0:4), or remove the "
        "column, or release the information as a generalized quasi-identifier instead."
    )


def test_keeping_only_the_last_four_of_a_resident_id_passes(tmp_path: Path) -> None:
    from custodes.anonymize import Anonymization

    made = _register_release(Mask("resident_id", 0, 4), tmp_path)
    assert isinstance(made, Anonymization)
    assert made.after.k_anonymity >= 10
    assert "resident_id" in made.after.quasi_identifiers
    (counted,) = made.manifest()["revealed_by_masks"]
    assert counted["column"] == "resident_id"
    assert counted["reveals"] == ["sex (the 17th digit)"]
    assert made.summary_lines()[-1] == (
        "mask of 'resident_id' keeps what reveals sex (the 17th digit): counted as a "
        "quasi-identifier in the risk after"
    )


@pytest.mark.parametrize(
    ("first", "last", "words"),
    [
        (2, 0, ["province"]),
        (6, 0, ["county"]),
        (10, 0, ["county", "birth year"]),
        (14, 4, ["county", "birth date", "sex (the 17th digit)"]),
        (0, 1, []),
    ],
)
def test_what_a_kept_part_of_a_resident_id_reveals(first: int, last: int, words: list[str]) -> None:
    from custodes.anonymize._revealed import revealed_by

    table = pl.DataFrame({"id": ["110105********002X", "360426********0071"]})
    (found,) = revealed_by(ENGINE, _source(table), (Mask("id", first, last),))
    assert list(found.reveals) == words


@pytest.mark.parametrize(
    ("first", "last", "words"),
    [(3, 0, ["carrier"]), (7, 0, ["number block (region)"]),
     (0, 4, ["the last 4 characters"]), (0, 0, None)],
)  # fmt: skip
def test_what_a_kept_part_of_a_phone_reveals(
    first: int, last: int, words: list[str] | None
) -> None:
    from custodes.anonymize._revealed import kept_parts, revealed_by

    table = pl.DataFrame({"phone": ["138*****678", "139*****001"], "n": [1, 2]})
    found = revealed_by(ENGINE, _source(table), (Mask("phone", first, last), Remove("n")))
    if words is None:  # a mask that keeps nothing reveals nothing
        assert found == []
        return
    assert list(found[0].reveals) == words
    assert _collect(kept_parts(ENGINE, _source(table), found))["phone"].n_unique() == 2
