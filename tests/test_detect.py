"""Personal-data detection: validators against stdnum and libphonenumber, the corpus, the scan."""

from __future__ import annotations

import itertools
import json
import random
import string
import sys
from datetime import date
from pathlib import Path

import numpy as np
import phonenumbers
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban, luhn
from stdnum.cn import ric, uscc
from stdnum.us import ssn

from custodes._divisions import loc_dat
from custodes.detect import (
    GradingPolicy,
    classify,
    grade,
    identifier_spans,
    load_policy,
    read_scan_roles,
    recognizer,
    redact_column,
    scan,
)
from custodes.detect._validate import (
    iban_pattern,
    iban_valid,
    judged,
    luhn_valid,
    ric18_valid,
    ssn_valid,
    uscc_valid,
)
from custodes.errors import DataFileError, InvalidInputError, SettingError
from custodes.io import collect
from custodes.synth import population_register

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect_corpus import NONE, corpus, scores

REGIONS = sorted(c for c in loc_dat() if len(c) == 6)
REGIONS_SET = frozenset(REGIONS)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _stdnum_ric(value: str) -> bool:
    """stdnum's check character and date rules, with GB 11643-1999's region rule.

    stdnum demands the region code be in use in the birth year; the standard
    makes it the county where the number was assigned (from 1984 on, often
    decades after birth), so any code ever in use is valid. The birth date
    must also be possible: not in the future.
    """
    try:
        born = ric.get_birth_date(value)
    except Exception:  # stdnum raises on an impossible date
        return False
    return (
        ric.calc_check_digit(value) == value[-1]
        and value[:6] in REGIONS_SET
        and born.year >= 1850
        and born <= date.today()
    )


# ------------------------------------------------------------ validators vs the oracles


@st.composite
def ric_like(draw: st.DrawFn) -> str:
    """Mostly well-formed IDs (real regions, plausible dates), some check characters wrong."""
    region = draw(st.sampled_from(REGIONS))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)))
    day = born.strftime("%Y%m%d")
    if draw(st.booleans()):  # an impossible date now and then
        day = day[:6] + draw(st.sampled_from(["00", "30", "31", "32"]))
    body = region + day + draw(st.text("0123456789", min_size=3, max_size=3))
    check = draw(st.sampled_from(list("0123456789X") + ["right"] * 4))
    if check == "right":
        weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
        check = "10X98765432"[total % 11]
    return body + check


@given(st.lists(ric_like(), min_size=1, max_size=50))
@settings(max_examples=60, deadline=None)
def test_resident_id_agrees_with_stdnum(values: list[str]) -> None:
    ours = ric18_valid(pa.array(values))
    assert ours.tolist() == [_stdnum_ric(v) for v in values]


@given(st.lists(st.text("0123456789", min_size=17, max_size=17), min_size=1, max_size=50))
@settings(max_examples=40, deadline=None)
def test_random_digits_agree_with_stdnum(bodies: list[str]) -> None:
    values = [b + "10X98765432"[i % 11] for i, b in enumerate(bodies)]
    assert ric18_valid(pa.array(values)).tolist() == [_stdnum_ric(v) for v in values]


@given(
    st.lists(ric_like(), min_size=1, max_size=40),
    st.lists(st.integers(0, 40), max_size=4),
    st.sampled_from([pa.string(), pa.large_string(), pa.string_view()]),
)
@settings(max_examples=40, deadline=None)
def test_validators_judge_chunks_as_they_judge_the_whole(
    values: list[str], cuts: list[int], kind: pa.DataType
) -> None:
    """A validator runs a chunk at a time: cut anywhere, of any string type, it gives the
    whole column's answer, and hands back the values it read in order."""
    bounds = sorted({0, len(values), *(min(c, len(values)) for c in cuts)})
    parts = [pa.array(values[a:b], type=kind) for a, b in itertools.pairwise(bounds)]
    chunked = pa.chunked_array(parts, type=kind)
    for validate in (ric18_valid, uscc_valid):
        ok, read = judged(validate, chunked)
        assert ok.tolist() == validate(pa.array(values)).tolist()
        assert read.to_pylist() == values
    for name in ("cn_resident_id", "e164_phone"):
        ok, read = recognizer(name).judge(chunked)
        assert len(ok) == len(values)
        assert read.to_pylist() == values


def test_a_full_scan_of_a_long_column_judges_every_chunk() -> None:
    """Several hundred thousand values are judged a chunk at a time: a failing code, and the
    one child, are found wherever they are."""
    n = 300_001
    good, bad = "91350100M000100Y43", "91350211M0000XUF46"  # bad fails the check character
    codes = [good] * n
    for i in (0, 65_535, 65_536, 200_000, n - 1):
        codes[i] = bad
    born = ["1950-01-01"] * n
    born[n - 1] = f"{date.today().year - 3}-06-01"  # the only child, in the last chunk
    frame = pl.DataFrame({"credit_code": codes, "birth_date": born})
    result = scan(frame, sample=10, full=True)
    code = result.column("credit_code").entities[0]
    assert (code.entity, code.matches, code.shape_only) == ("CN_USCC", n - 5, 5)
    assert "minors_under_14" in result.column("birth_date").sensitive_categories
    born[n - 1] = "1950-01-01"
    adults = scan(pl.DataFrame({"birth_date": born}), sample=10, full=True)
    assert "minors_under_14" not in adults.column("birth_date").sensitive_categories


def _with_check(body: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def late_region_ids(count: int, seed: int = 0) -> list[str]:
    """Valid IDs whose region code came into use after the holder's birth (assigned later)."""
    rng = random.Random(seed)
    late = sorted(
        code
        for code, entries in loc_dat().items()
        if len(code) == 6
        and entries
        and all(e.start is not None and e.start > 1960 for e in entries)
    )
    out = []
    for _ in range(count):
        code = rng.choice(late)
        first = min(e.start for e in loc_dat()[code] if e.start is not None)
        born = date(rng.randint(1930, first - 1), rng.randint(1, 12), rng.randint(1, 28))
        out.append(_with_check(code + born.strftime("%Y%m%d") + f"{rng.randint(0, 999):03d}"))
    return out


def test_ids_assigned_by_a_county_created_after_birth_are_valid() -> None:
    ids = late_region_ids(500)
    assert not any(_stdnum_strict(v) for v in ids[:50])  # stdnum's stricter rule rejects them
    assert ric18_valid(pa.array(ids)).all()
    future = _with_check("110105" + f"{date.today().year + 1}0101" + "123")
    assert ric18_valid(pa.array([future, _with_check("11010518000101123")])).tolist() == [
        False,
        False,
    ]


def _stdnum_strict(value: str) -> bool:
    try:
        return bool(ric.is_valid(value))
    except KeyError:
        return False


def test_the_issues_examples() -> None:
    ids = pa.array(["11010519491231002X", "360426199101010071", "340524198001010013"])
    assert ric18_valid(ids).tolist() == [True, True, False]
    codes = pa.array(["91350100M000100Y43", "91110000600037341L", "91350211M0000XUF46"])
    assert uscc_valid(codes).tolist() == [True, True, False]


@given(
    st.lists(
        st.tuples(
            st.text("0123456789", min_size=8, max_size=8),
            st.text(USCC_ALPHABET, min_size=10, max_size=10),
        ).map("".join),
        min_size=1,
        max_size=50,
    )
)
@settings(max_examples=60, deadline=None)
def test_credit_code_agrees_with_stdnum(values: list[str]) -> None:
    # Half get their right check character.
    fixed = [v[:-1] + uscc.calc_check_digit(v) if i % 2 else v for i, v in enumerate(values)]
    assert uscc_valid(pa.array(fixed)).tolist() == [uscc.is_valid(v) for v in fixed]


@given(st.lists(st.text("0123456789", min_size=12, max_size=19), min_size=1, max_size=50))
@settings(max_examples=60, deadline=None)
def test_luhn_agrees_with_stdnum(values: list[str]) -> None:
    fixed = [v[:-1] + luhn.calc_check_digit(v[:-1]) if i % 3 else v for i, v in enumerate(values)]
    assert luhn_valid(pa.array(fixed)).tolist() == [luhn.is_valid(v) for v in fixed]


def test_iban_agrees_with_stdnum() -> None:
    from faker import Faker

    Faker.seed(3)
    rng = random.Random(3)
    values = [Faker(loc).iban() for loc in ("en_GB", "de_DE", "fr_FR", "nl_NL") for _ in range(200)]
    values += [v[:6] + rng.choice(string.digits) + v[7:] for v in values]
    series = pl.Series(values)
    shaped = series.str.contains(iban_pattern()).to_numpy()
    ours = np.zeros(len(values), dtype=bool)
    ours[shaped] = iban_valid(series.filter(pl.Series(shaped)).to_arrow())
    assert ours.tolist() == [iban.is_valid(v, check_country=False) for v in values]


@given(st.lists(st.text("0123456789", min_size=9, max_size=9), min_size=1, max_size=80))
@settings(max_examples=40, deadline=None)
def test_ssn_agrees_with_stdnum(values: list[str]) -> None:
    values = [*values, "078051120", "666123456", "900123456"]
    assert ssn_valid(pa.array(values)).tolist() == [ssn.is_valid(v) for v in values]


@given(st.lists(st.text("0123456789", min_size=10, max_size=10), min_size=1, max_size=50))
@settings(max_examples=40, deadline=None)
def test_mobile_numbers_agree_with_libphonenumber(rests: list[str]) -> None:
    values = ["1" + r for r in rests]
    pattern = recognizer("cn_mobile").pattern
    ours = pl.Series(values).str.contains(pattern).to_list()
    kinds = phonenumbers.PhoneNumberType
    mobile = (kinds.MOBILE, kinds.FIXED_LINE_OR_MOBILE)

    def is_mobile(text: str) -> bool:
        try:  # libphonenumber refuses some digit strings outright (e.g. "1" + "00...")
            number = phonenumbers.parse(text, "CN")
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.number_type(number) in mobile and phonenumbers.is_valid_number(number)

    assert ours == [is_mobile(v) for v in values]


# ------------------------------------------------------------ the labelled corpus


def test_checksummed_types_reach_99_percent_on_the_corpus() -> None:
    frame = corpus(per_type=300, seed=7)
    table = scores(frame, pl.Series(classify(frame["value"])))
    by_entity = {row["entity"]: row for row in table.iter_rows(named=True)}
    for entity in ("CN_RESIDENT_ID", "CN_USCC", "BANK_CARD", "CREDIT_CARD", "IBAN"):
        assert by_entity[entity]["precision"] >= 0.99, by_entity[entity]
        assert by_entity[entity]["recall"] >= 0.99, by_entity[entity]
    # No hard negative is taken for a checksummed identifier.
    negatives = frame.with_columns(pl.Series("p", classify(frame["value"]))).filter(
        pl.col("label") == NONE
    )
    assert negatives.filter(pl.col("p").is_in(["CN_RESIDENT_ID", "IBAN"])).height == 0


# ------------------------------------------------------------ the scan


@pytest.fixture(scope="module")
def register() -> pl.DataFrame:
    return population_register(3_000, seed=5)


def test_scan_suggests_the_registers_roles(register: pl.DataFrame) -> None:
    result = scan(register)
    roles = {c.name: c.suggested_role for c in result.columns}
    assert roles["resident_id"] == "identifying"
    assert result.column("resident_id").main_entity == "CN_RESIDENT_ID"
    assert result.column("resident_id").match_rate == 1.0
    assert roles["name"] == "identifying"
    assert roles["phone"] == "identifying"
    assert roles["address"] == "identifying"
    assert roles["birth_date"] == "quasi_identifying"
    assert roles["sex"] == "quasi_identifying"
    assert roles["diagnosis"] == "sensitive"
    assert "health" in result.column("diagnosis").sensitive_categories
    assert "identity_document" in result.column("resident_id").sensitive_categories
    assert "minors_under_14" in result.column("birth_date").sensitive_categories
    assert result.grade.level == "general"


def test_the_scan_never_shows_a_value(register: pl.DataFrame) -> None:
    text = scan(register).to_json()
    for column in ("resident_id", "name", "phone", "address", "diagnosis"):
        for value in register[column].head(200).to_list():
            assert str(value) not in text


def test_free_text_columns_get_redact(tmp_path: Path) -> None:
    rng = random.Random(1)
    notes = []
    for i in range(400):
        if i % 4 == 0:
            notes.append(f"来电人 11010519491231002X 反映情况，电话13812345678，已记录{i}")
        else:
            notes.append(f"订单号20261130{rng.randint(10**9, 10**10 - 1)}已发货，客户满意度良好。")
    frame = pl.DataFrame({"case_id": [str(i) for i in range(400)], "remarks": notes})
    result = scan(frame)
    remarks = result.column("remarks")
    assert remarks.free_text
    assert remarks.suggested_action == "redact"
    found = {e.entity for e in remarks.entities if e.in_text}
    assert found == {"CN_RESIDENT_ID", "PHONE"}
    assert result.roles()["redact"] == ["remarks"]


def test_a_credit_code_failing_its_checksum_is_shape_only() -> None:
    frame = pl.DataFrame({"code": ["91350211M0000XUF46"] * 20 + ["91350100M000100Y43"] * 5})
    column = scan(frame).column("code")
    match = column.entities[0]
    assert match.entity == "CN_USCC"
    assert (match.matches, match.shape_only) == (5, 20)
    assert 0.6 <= match.confidence < 0.98  # lower than a clean code's


def test_full_scan_counts_every_row(register: pl.DataFrame) -> None:
    sampled = scan(register, sample=100)
    full = scan(register, sample=100, full=True)
    assert sampled.scanned_rows == 100
    assert full.scanned_rows == full.rows == register.height
    assert full.column("resident_id").entities[0].matches == register.height


def test_sample_must_be_positive(register: pl.DataFrame) -> None:
    with pytest.raises(SettingError, match="--sample"):
        scan(register, sample=0)


# ------------------------------------------------------------ grading


def test_grading_takes_the_higher_level() -> None:
    assert grade(1000, 0, []).level == "general"
    big = grade(2_000_000, 0, [])
    assert big.level == "important"
    assert any("over 1,000,000" in r for r in big.reasons)
    sensitive = grade(200_000, 150_000, ["health"])
    assert sensitive.level == "important"
    policy = GradingPolicy(core_categories=("biometric",), important_people=10)
    core = grade(50, 50, ["biometric"], policy)
    assert core.level == "core"
    assert core.reasons[-1].endswith("core (就高从严)")


def test_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[grading]\nimportant_people = 100\ncore_categories = ['health']\n")
    policy = load_policy(path)
    assert (policy.important_people, policy.core_categories) == (100, ("health",))
    path.write_text("[grading]\nimportant_peple = 100\n")
    with pytest.raises(SettingError, match="unknown setting 'important_peple'"):
        load_policy(path)
    path.write_text("[grading]\ncore_categories = ['heath']\n")
    with pytest.raises(SettingError, match="'heath', which is not a category"):
        load_policy(path)
    with pytest.raises(DataFileError):
        load_policy(tmp_path / "missing.toml")


# ------------------------------------------------------------ redaction and saved roles


def test_redaction_masks_validated_spans_only() -> None:
    frame = pl.DataFrame(
        {
            "note": [
                "身份证号11010519491231002X，电话13812345678",
                "订单号202611301381234567890 未付款",
                "校验错误 340524198001010013",
                None,
            ]
        }
    ).lazy()
    spans = identifier_spans(frame, "note")
    assert spans == {
        "cn_resident_id": {"11010519491231002X": "[CN_RESIDENT_ID]"},
        "cn_mobile": {"13812345678": "[PHONE]"},
    }
    with pytest.raises(SettingError, match="cannot be found in text"):
        identifier_spans(frame, "note", ["PERSON_NAME"])


def test_cli_scan_then_assess_and_anonymize_with_its_roles(
    register: pl.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    data = tmp_path / "register.csv"
    register.write_csv(data)
    saved = tmp_path / "scan.json"
    assert main(["scan", str(data), "--format", "json", "--output", str(saved)]) == 0
    roles = read_scan_roles(saved)
    assert "resident_id" in roles["identifying"]
    assert main(["scan", str(data), "--format", "html", "--output", str(tmp_path / "s.html")]) == 0
    html = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert "Suggested grade" in html
    assert str(register["resident_id"][0]) not in html
    assert main(["scan", str(data)]) == 0
    assert "suggested grade" in capsys.readouterr().out
    assert main(["assess", str(data), "--roles-from", str(saved), "--format", "json"]) == 0
    assessed = json.loads(capsys.readouterr().out)
    assert set(assessed["quasi_identifiers"]) >= {"sex", "birth_date", "region_code"}
    assert "diagnosis" in assessed["sensitive"]
    assert "resident_id" in assessed["identifying"]
    out = tmp_path / "release.csv"
    argv = ["anonymize", str(data), "--qi", "region_code", "--k", "2"]
    argv += ["--hierarchy", "region_code=prc"]
    argv += ["--suppression", "1", "--roles-from", str(saved), "--output", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    released = pl.read_csv(out, infer_schema=False)
    assert "resident_id" not in released.columns
    assert "phone" not in released.columns


def test_cli_scan_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from custodes.cli import main

    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,2\n")
    policy = tmp_path / "p.toml"
    policy.write_text("[grading]\ncore_people = -1\n")
    assert main(["scan", str(data), "--policy", str(policy)]) == 2
    assert "core_people is -1" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["assess", str(data), "--roles-from", str(bad)]) == 2
    assert "not a custodes scan" in capsys.readouterr().err
    with pytest.raises(InvalidInputError):
        read_scan_roles(bad)


def test_anonymize_redacts_free_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from custodes.cli import main

    rows = 60
    frame = pl.DataFrame(
        {
            "sex": ["男", "女"] * (rows // 2),
            "notes": [
                f"第{i}号来电：身份证11010519491231002X，手机13812345678；订单202611301381234567890"
                for i in range(rows)
            ],
        }
    )
    data, out = tmp_path / "cases.csv", tmp_path / "release.csv"
    frame.write_csv(data)
    (tmp_path / "sex.csv").write_text("男;*\n女;*\n", encoding="utf-8")
    argv = ["anonymize", str(data), "--qi", "sex", "--hierarchy", f"sex={tmp_path / 'sex.csv'}"]
    argv += ["--k", "2", "--redact", "notes", "--output", str(out)]
    argv += ["--manifest", str(tmp_path / "m.json")]
    assert main(argv) == 0, capsys.readouterr().err
    notes = pl.read_csv(out, infer_schema=False)["notes"].to_list()
    assert notes[0] == "第0号来电：身份证[CN_RESIDENT_ID]，手机[PHONE]；订单202611301381234567890"
    manifest = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    actions = manifest["spec"]["identifier_actions"]
    assert {"column": "notes", "action": "redact", "entities": []} in actions
    argv[argv.index("notes")] = "notes:PHONE"
    assert main(argv) == 0
    assert pl.read_csv(out, infer_schema=False)["notes"][0].startswith("第0号来电：身份证110105")


def test_the_workspace_setting_chooses_the_grading_policy(tmp_path: Path) -> None:
    from custodes import Workspace, load_settings

    policy = tmp_path / "policy.toml"
    policy.write_text("[grading]\nimportant_people = 10\n")
    ws = Workspace(load_settings(tmp_path, {"grading_policy": str(policy)}))
    frame = pl.DataFrame({"id_card": ["11010519491231002X"] * 20})
    result = ws.scan(frame)
    assert result.policy.source == str(policy)
    assert result.grade.level == "important"
    assert Workspace(load_settings(tmp_path)).scan(frame).grade.level == "general"


def test_late_region_ids_under_an_uninformative_name_and_in_text_are_found() -> None:
    ids = late_region_ids(1_000, seed=7)
    notes = [
        f"来访登记，证件{v}，已核实" if i % 2 else f"备注{i}：无证件" for i, v in enumerate(ids)
    ]
    frame = pl.DataFrame({"编号": ids, "记录": notes})
    result = scan(frame, sample=1_000)
    column = result.column("编号")
    assert column.suggested_role == "identifying"
    assert column.entities[0].entity == "CN_RESIDENT_ID"
    redacted = collect(redact_column(frame, "记录"))["记录"]
    assert not any(v in text for v, text in zip(ids, redacted.to_list(), strict=True))
    assert redacted.str.contains(r"\[CN_RESIDENT_ID\]").sum() == 500


def test_chinese_place_columns_are_quasi_identifiers_not_names() -> None:
    """区县 values (朝阳区, 海淀区 ...) were read as person names (朝 and 高 are surnames)."""
    counties = sorted(
        {e.name for code, es in loc_dat().items() if len(code) == 6 for e in es} - {"市辖区", "县"}
    )[:300]
    rng = random.Random(2)
    n = 600
    frame = pl.DataFrame(
        {
            "区县": [rng.choice(counties) for _ in range(n)],
            "街道": [
                rng.choice(["建国门街道", "和平里街道", "高碑店乡", "马驹桥镇"]) for _ in range(n)
            ],
            "社区": [rng.choice(["朝阳社区", "高家园社区", "王村", "李家村"]) for _ in range(n)],
            "所在地": [rng.choice(["朝阳区", "高县", "海淀区", "周至县"]) for _ in range(n)],
            "姓名": [rng.choice(["王芳", "张伟", "高明", "刘洋", "朝晖"]) for _ in range(n)],
        }
    )
    result = scan(frame, sample=n)
    roles = {c.name: c.suggested_role for c in result.columns}
    assert roles == {
        "区县": "quasi_identifying",
        "街道": "quasi_identifying",
        "社区": "quasi_identifying",
        "所在地": "quasi_identifying",
        "姓名": "identifying",
    }
    assert result.column("区县").entities[0].entity == "PLACE"


def test_the_gate_finds_checked_identifiers_in_any_form() -> None:
    from custodes.detect import checked_identifiers

    card = "6222021234567894"
    frame = pl.DataFrame(
        {
            "notes": ["来访登记，证件11010519491231002X，已核实", "无"],
            "plain": [card, "1"],
            "spaced": [" ".join(card[i : i + 4] for i in range(0, 16, 4)), "2"],
            "iban": ["GB82 WEST 1234 5698 7654 32", "3"],
            "pseudonym": ["ab" * 8 + card + "cd", "4"],  # a hex token: its digits are chance
            "wrong": ["11010519491231002Y", card[:-1] + "5"],
            "dates": ["2024-01-01 12:00:00", "1990-05-06"],
        }
    )
    found = {(h.column, h.entity, h.cells) for h in checked_identifiers(frame)}
    assert found == {
        ("notes", "CN_RESIDENT_ID", 1),
        ("plain", "BANK_CARD", 1),
        ("spaced", "BANK_CARD", 1),
        ("iban", "IBAN", 1),
    }


def test_detection_imports_neither_polars_nor_the_workspace() -> None:
    """Every pass over the data is an engine operation (tests/conformance/test_detect.py)."""
    import ast

    folder = Path(__file__).resolve().parents[1] / "src" / "custodes" / "detect"
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not name.startswith(("polars", "custodes.workspace")), (path.name, name)


@given(
    st.lists(
        st.text("abcdefABCDEFghxyzXYZ._/ -", min_size=0, max_size=24)
        | st.from_regex(r"[A-Za-z_]{0,6}[0-9]{1,4}[A-Za-z_]{0,6}", fullmatch=True)
        | st.from_regex(r"-?[0-9]{1,8}(\.[0-9]{1,8})?(e[-+]?[0-9]{1,3})?", fullmatch=True)
        | st.from_regex(r"(sha256:)?[0-9a-f]{16,64}", fullmatch=True)
        | st.sampled_from(["dead.beef.cafe", "ab-cd-ef-ab-cd-ef", "request.released", "a-b"]),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=150, deadline=None)
def test_the_ledger_screen_skips_only_what_no_recognizer_matches(strings: list[str]) -> None:
    """The screen's shortcut (plain words skip the engine) agrees with the recognizers."""
    from custodes.detect._screen import _recognized, could_be_personal

    skipped = [s for s in strings if not could_be_personal(s)]
    assert _recognized(skipped) == [None] * len(skipped)
    assert could_be_personal("dead.beef.cafe")
    assert could_be_personal("ab-cd-ef-ab-cd-ef")
    assert could_be_personal("13812345678")  # a phone number is a number, but a long one
    assert could_be_personal("01010000")  # and a short one with an area code
    assert could_be_personal("E12345678")
