"""The faces are thin: the CLI and the demo call the workspace; the flags become a spec
through the same mapping a spec file (or a server) gives."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

import custodes.cli
from custodes.anonymize import load_spec, spec_from_mapping
from custodes.cli._flags import spec_from_flags
from custodes.errors import SettingError, TamperedError
from custodes.settings import load_settings
from custodes.workspace import Workspace, identifiers_from_scan, roles_from_scan

SRC = Path(custodes.cli.__file__).resolve().parents[1]
GLUE = re.compile(
    r"\bGovernance\(|\bPrivateQueries\(|\bopen_ledger\b|\binit_workspace\b|\bverify_export\b"
    r"|\bopen_table\b|\bread_scan_roles\b|^\s*(import|from) polars\b",
    re.MULTILINE,
)


def _faces() -> list[Path]:
    return [*sorted((SRC / "cli").glob("*.py")), SRC / "demo.py"]


@pytest.mark.parametrize("path", _faces(), ids=lambda p: p.name)
def test_faces_hold_no_glue_of_their_own(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 600, f"{path.name} is over 600 lines"
    assert GLUE.search(text) is None, f"{path.name}: {GLUE.search(text)}"


def test_the_flag_grammar_left_the_library() -> None:
    package = importlib.import_module("custodes.anonymize")
    assert not hasattr(package, "build_spec")
    assert "spec_from_mapping" in package.__all__


@pytest.fixture
def hierarchy(tmp_path: Path) -> Path:
    path = tmp_path / "sex.csv"
    path.write_text("M;*\nF;*\n", encoding="utf-8")
    return path


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text("k" * 32, encoding="utf-8")
    return path


def test_flags_and_a_spec_file_make_the_same_spec(
    tmp_path: Path, hierarchy: Path, key: Path
) -> None:
    diagnosis = tmp_path / "diagnosis.csv"
    diagnosis.write_text("D1;*\nD2;*\n", encoding="utf-8")
    from_flags = spec_from_flags(
        qi="sex, age",
        hierarchies={"sex": str(hierarchy), "age": "interval:width=5", "diagnosis": str(diagnosis)},
        k=5,
        sensitive="diagnosis",
        l_value=2,
        recursive_c=3.0,
        t=0.4,
        average_risk=0.1,
        suppression=0.02,
        identifying="name,address",
        mask=["phone:3:2"],
        pseudonymize=["id"],
        shift_dates=["visit:id:10"],
        key_file=str(key),
        redact=["notes:phone,email"],
        microaggregate=["income:median", "weight"],
        population_uniqueness=0.01,
        population="10,000",
    )
    spec_file = tmp_path / "plan.toml"
    spec_file.write_text(
        f"""quasi_identifiers = ["sex", "age"]
suppression = 0.02
identifying = ["name", "address"]
[hierarchies]
sex = "{hierarchy.name}"
age = "interval:width=5"
[microaggregation]
income = "median"
weight = "mean"
[[models]]
type = "k-anonymity"
k = 5
[[models]]
type = "recursive-cl-diversity"
attribute = "diagnosis"
l = 2
c = 3.0
[[models]]
type = "t-closeness"
attribute = "diagnosis"
t = 0.4
hierarchy = "{diagnosis.name}"
[[models]]
type = "average-risk"
threshold = 0.1
[[models]]
type = "population-uniqueness"
threshold = 0.01
population = 10000
[[identifiers]]
column = "phone"
action = "mask"
keep_first = 3
keep_last = 2
[[identifiers]]
column = "id"
action = "pseudonymize"
[[identifiers]]
column = "visit"
action = "shift-dates"
person = "id"
max_days = 10
[[identifiers]]
column = "notes"
action = "redact"
entities = ["PHONE", "EMAIL"]
""",
        encoding="utf-8",
    )
    from_file = load_spec(spec_file, str(key))
    assert from_flags.to_dict() == from_file.to_dict()
    assert from_flags.sha256() == from_file.sha256()


def test_a_mapping_gets_the_spec_files_messages(hierarchy: Path) -> None:
    base = {"quasi_identifiers": ["sex"], "hierarchies": {"sex": hierarchy.name}}
    with pytest.raises(SettingError, match=r"^request body: models\[0\]: 'k' must be a int"):
        spec_from_mapping(
            {**base, "models": [{"type": "k-anonymity", "k": "5"}]},
            where="request body",
            base=hierarchy.parent,
        )
    with pytest.raises(SettingError, match=r"request body: unknown setting 'model'"):
        spec_from_mapping({**base, "model": []}, where="request body")
    spec = spec_from_mapping(
        {**base, "models": [{"type": "k-anonymity", "k": 5}]},
        where="request body",
        base=hierarchy.parent,
    )
    assert spec.quasi_identifiers == ("sex",)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"l_value": 2}, "--l and --t need --sensitive COLUMN"),
        ({"k": 2, "recursive_c": 4.0}, "--recursive-c goes with --l"),
        ({"k": 2, "mask": ["id:6"]}, "--mask 'id:6' is not COLUMN or COLUMN:FIRST:LAST"),
        ({"k": 2, "shift_dates": ["visit"]}, "--shift-dates 'visit' is not COLUMN:PERSON"),
        ({"population_uniqueness": 0.1}, "--population-uniqueness needs --population"),
        ({"sensitive": "s", "t": 0.2, "t_distance": "far"}, "--t-distance is 'far'"),
    ],
)
def test_messages_about_flags_name_the_flags(flags: dict[str, object], message: str) -> None:
    with pytest.raises(SettingError, match=re.escape(message)):
        spec_from_flags(qi="sex", hierarchies={"sex": "mask:step=1"}, **flags)  # type: ignore[arg-type]


def _saved_scan(tmp_path: Path) -> Path:
    path = tmp_path / "scan.json"
    roles = {
        "identifying": ["id", "name"],
        "quasi_identifying": ["age", "sex", "zip"],
        "sensitive": ["diagnosis"],
        "insensitive": [],
        "redact": ["notes"],
    }
    path.write_text(json.dumps({"roles": roles, "columns": []}), encoding="utf-8")
    return path


def test_roles_from_a_scan_keep_what_was_given(tmp_path: Path) -> None:
    scan = _saved_scan(tmp_path)
    columns = ["id", "name", "age", "sex", "zip", "diagnosis", "notes"]
    merged = roles_from_scan(scan, columns)
    assert merged.quasi_identifiers == ("age", "sex", "zip")
    assert merged.sensitive == ("diagnosis",)
    assert merged.identifying == ("id", "name", "notes")
    # A role given is kept; the scan's other suggestions lose the columns it names.
    merged = roles_from_scan(scan, columns, sensitive="zip", identifying=())
    assert merged.quasi_identifiers == ("age", "sex")
    assert merged.sensitive == ("zip",)
    assert merged.identifying == ()
    ids, redact = identifiers_from_scan(scan, columns, identifying=["zip"], redacted=["name"])
    assert ids == ("zip", "id")
    assert redact == ("notes",)


def test_the_workspace_exports_signs_proves_and_verifies_its_ledger(tmp_path: Path) -> None:
    ws = Workspace(load_settings(tmp_path / "ws"))
    created = ws.init()
    head = ws.sign_head()
    assert head.size == 1
    assert ws.inclusion_proof(0)["index"] == 0
    assert ws.consistency_proof(1)["old_head"]["head"]["size"] == 1
    export = tmp_path / "ledger.jsonl"
    assert ws.export_ledger(export) == 1
    saved = tmp_path / "head.json"
    saved.write_text(json.dumps(head.to_dict()), encoding="utf-8")
    ws.close()
    verified = Workspace.verify_ledger(export, created.public_key_path, saved)
    assert verified.size == 1
    assert verified.truncation_ruled_out
    export.write_bytes(export.read_bytes().replace(b"initialized", b"initialised"))
    with pytest.raises(TamperedError):
        Workspace.verify_ledger(export, created.public_key_path)
