"""A steward corrects the scan's roles, re-prepares; a reviewer sends a request back; a
header-less source keeps its header choice. On SQLite and PostgreSQL (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custodes._files import text_sha256
from custodes.errors import ForbiddenError, InvalidInputError, RefusedError
from custodes.ledger import open_ledger
from custodes.settings import Settings
from custodes.synth import population_register
from tests.test_governance import (  # noqa: F401 (fixtures)
    COLUMNS,
    PLAN,
    _cli_office,
    _registered,
    _through_review,
    act,
    office,
)
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)


def _entries(settings: Settings, folder: Path, kind: str) -> tuple[list[dict[str, Any]], str]:
    export = folder / "ledger.jsonl"
    open_ledger(settings).export(export)
    text = export.read_text(encoding="utf-8")
    found = [json.loads(line)["entry"] for line in text.splitlines() if f'"type":"{kind}"' in line]
    return [json.loads(e) if isinstance(e, str) else e for e in found], text


def _objectives(settings: Settings) -> str:
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=COLUMNS, intended_use="benefit planning", term_end="2030-01-01",
    )  # fmt: skip
    return request


def test_a_steward_corrects_the_roles_the_scan_suggested(office: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, folder = office
    _registered(settings, folder)
    assert (
        "household_size" not in act(settings, "stella").dataset("register")["roles"]["identifying"]
    )
    reason = "household size identifies people in small villages"
    with pytest.raises(
        InvalidInputError, match=r"no column 'household_sise'.*closest is 'household_size'"
    ):
        act(settings, "stella").correct_roles("register", {"household_sise": "identifying"}, reason)
    with pytest.raises(InvalidInputError, match=r"role 'quasi'.*closest is 'quasi_identifying'"):
        act(settings, "stella").correct_roles("register", {"household_size": "quasi"}, reason)
    with pytest.raises(RefusedError, match="written reason"):
        act(settings, "stella").correct_roles("register", {"household_size": "identifying"}, " ")
    with pytest.raises(ForbiddenError, match="steward"):
        act(settings, "rita").correct_roles("register", {"household_size": "identifying"}, reason)
    corrected = act(settings, "stella").correct_roles(
        "register", {"household_size": "identifying", "diagnosis": "insensitive"}, reason
    )
    assert "household_size" in corrected["roles"]["identifying"]
    assert all("diagnosis" not in corrected["roles"][k] for k in ("sensitive", "redact"))
    # Identification and the release gates use the corrected roles.
    request = _objectives(settings)
    found = act(settings, "stella").identify(request)
    assert "household_size" in found["identifying"]
    with pytest.raises(RefusedError, match=r"direct identifiers never leave.*household_size"):
        act(settings, "stella").prepare(request, folder / "plan.toml")
    # Corrected again while identifying the request, then the plan passes.
    found = act(settings, "stella").identify(
        request, {"household_size": "insensitive"}, "a count, not an identifier"
    )
    assert "household_size" not in found["identifying"]
    act(settings, "stella").prepare(request, folder / "plan.toml")
    entries, text = _entries(settings, folder, "dataset.roles_corrected")
    assert [e["actor"] for e in entries] == ["stella", "stella"]
    assert entries[0]["payload"]["roles"] == {
        "household_size": "identifying",
        "diagnosis": "insensitive",
    }
    assert entries[0]["payload"]["before"]["household_size"] == "insensitive"
    assert entries[0]["payload"]["reason_sha256"] == text_sha256(reason)
    assert reason not in text


def test_re_preparation_and_sending_back(office: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, folder = office
    _registered(settings, folder)
    act(settings, "root").add_actor(
        "stan", ["steward", "reviewer"], organisation="Data office", credential="ID-stan",
        board_role="privacy_technical",
    )  # fmt: skip
    request = _objectives(settings)
    act(settings, "stan").identify(request)
    act(settings, "stan").prepare(request, folder / "plan.toml")
    # Processed, not yet submitted: prepared again with a stronger plan, replacing the old.
    first = act(settings, "audrey").request(request).artifact_sha256
    (folder / "plan2.toml").write_text(PLAN.replace("k = 10", "k = 12"), encoding="utf-8")
    act(settings, "stella").prepare(request, folder / "plan2.toml")
    view = act(settings, "audrey").request(request)
    assert view.state == "processed"
    assert view.plan is not None
    assert view.plan["spec_path"].endswith("plan2.toml")
    assert view.artifact_sha256 != first
    act(settings, "stella").submit(request)
    # A steward who prepared any version may not decide, even after someone else re-prepared.
    with pytest.raises(ForbiddenError, match="filed or prepared"):
        act(settings, "stan").decide(request, True, "fine", send_back=True)
    assert act(settings, "pat").decide(request, True, "risk fine") == "under_review"
    rationale = "aggregate birth dates to years; region codes of small counties"
    assert act(settings, "lee").decide(request, False, rationale, send_back=True) == "sent_back"
    with pytest.raises(RefusedError, match="is sent back; a decision needs it under review"):
        act(settings, "lin").decide(request, True, "late")
    with pytest.raises(RefusedError, match="needs it processed"):
        act(settings, "stella").submit(request)
    act(settings, "stella").prepare(request, folder / "plan.toml")
    act(settings, "stella").submit(request)
    # Pat's approval was of the earlier version: it no longer counts; pat and lee decide again.
    assert act(settings, "lee").decide(request, True, "now lawful") == "under_review"
    assert act(settings, "lin").decide(request, True, "fine") == "under_review"
    assert act(settings, "pat").decide(request, True, "risk fine again") == "approved"
    view = act(settings, "audrey").request(request)
    assert sorted((d["round"], d["reviewer"], d["decision"]) for d in view.decisions) == [
        (1, "lee", "send_back"), (1, "pat", "approve"),
        (2, "lee", "approve"), (2, "lin", "approve"), (2, "pat", "approve"),
    ]  # fmt: skip
    act(settings, "stella").release(request, recipient="Welfare office", terms="internal use")
    sent, text = _entries(settings, folder, "request.sent_back")
    assert sent[0]["payload"]["rationale_sha256"] == text_sha256(rationale)
    assert rationale not in text
    processed, _ = _entries(settings, folder, "request.processed")
    assert [e["payload"]["round"] for e in processed] == [1, 1, 2]
    assert [e["payload"].get("replaces") is not None for e in processed] == [False, True, True]


def test_a_header_less_source_keeps_its_header_choice(office: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, folder = office
    data = folder / "noheader.csv"
    population_register(3_000, seed=3).write_csv(data, include_header=False)
    act(settings, "stella").add_department("civil", "Civil Affairs Bureau")
    registered = act(settings, "stella").register_dataset(
        "register", department="civil", system="hukou", source=data, has_header=False
    )
    assert registered["has_header"] is False
    names = [f"column_{i}" for i in range(1, 14)]
    assert registered["columns"] == names
    columns = names[2:5] + names[9:]  # sex .. region_code, household_size .. benefit_type
    plan = (
        PLAN.replace('"sex"', '"column_3"').replace('"birth_date"', '"column_4"')
        .replace('"region_code"', '"column_5"').replace("sex =", "column_3 =")
        .replace("birth_date =", "column_4 =").replace("region_code =", "column_5 =")
        .replace('"resident_id", "name", "phone", "address", "province", "prefecture"',
                 '"column_1", "column_2", "column_6", "column_7", "column_8", "column_9"')
    )  # fmt: skip
    (folder / "plan-noheader.toml").write_text(plan, encoding="utf-8")
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=columns, intended_use="benefit planning", term_end="2030-01-01",
    )  # fmt: skip
    act(settings, "stella").identify(request)
    act(settings, "stella").prepare(request, folder / "plan-noheader.toml")
    act(settings, "stella").submit(request)
    act(settings, "pat").decide(request, True, "risk fine")
    assert act(settings, "lee").decide(request, True, "lawful") == "approved"
    released = act(settings, "stella").release(request, recipient="Uni", terms="DUA")
    header = Path(released["path"]).read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == columns


def test_cli_roles_header_and_send_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from custodes.cli import main

    *base, request = _cli_office(tmp_path, "register", capsys)
    argv = ["catalog", "roles", "register", "--set", "household_size=identifying",
            "--reason", "small villages", "--as", "s", *base]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert "household_size" in json.loads(capsys.readouterr().out)["roles"]["identifying"]
    assert main([*argv[:3], "--set", "household=identifying", "--reason", "x", *argv[7:]]) == 2
    err = capsys.readouterr().err
    assert "no column 'household'" in err
    assert "closest is 'household_size'" in err
    assert main([*argv[:3], "--set", "household_size", "--reason", "x", *argv[7:]]) == 2
    assert "COLUMN=ROLE" in capsys.readouterr().err
    argv = ["request", "identify", request, "--set", "household_size=insensitiv", "--reason",
            "a count", "--as", "s", *base]  # fmt: skip
    assert main(argv) == 2
    assert "closest is 'insensitive'" in capsys.readouterr().err
    argv[4] = "household_size=insensitive"
    assert main(argv) == 0, capsys.readouterr().err
    assert "household_size" not in json.loads(capsys.readouterr().out)["identifying"]
    data = tmp_path / "noheader.csv"
    population_register(500, seed=5).write_csv(data, include_header=False)
    argv = ["catalog", "add", "plain", "--department", "civil", "--system", "hukou", "--source",
            str(data), "--no-header", "--role", "column_11=sensitive", "--reason", "income",
            "--as", "s", *base]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    shown = json.loads(capsys.readouterr().out)
    assert shown["has_header"] is False
    assert "column_11" in shown["roles"]["sensitive"]
    assert main(["request", "review", request, "--send-back", "--rationale", "x", "--as", "s",
                 *base]) == 4  # fmt: skip
