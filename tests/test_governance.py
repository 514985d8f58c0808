"""Governance end to end, on SQLite and PostgreSQL: the happy path and every refusal."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from custodes import Workspace
from custodes.errors import ForbiddenError, InvalidInputError, RefusedError, SettingError
from custodes.governance import Governance, GovernancePolicy, audit_report, disclosure_report
from custodes.ledger import load_public_key, open_ledger, verify_export
from custodes.settings import Settings, load_settings
from custodes.store import Store
from custodes.synth import population_register
from custodes.workspace import init_workspace
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)

COLUMNS = ["sex", "birth_date", "region_code", "household_size", "income_band", "diagnosis"]
COLUMNS += ["benefit_type"]
PLAN = """quasi_identifiers = ["sex", "birth_date", "region_code"]
suppression = 0.05
identifying = ["resident_id", "name", "phone", "address", "province", "prefecture"]

[hierarchies]
sex = "sex.csv"
birth_date = "date:year,decade"
region_code = "prc"

[[models]]
type = "k-anonymity"
k = 10
"""


@pytest.fixture
def office(store_url: str, tmp_path: Path) -> Iterator[tuple[Settings, Path]]:  # noqa: F811
    settings = load_settings(tmp_path / "ws", {"store_url": store_url})
    init_workspace(settings)
    data = tmp_path / "register.csv"
    population_register(3_000, seed=3).write_csv(data)
    (tmp_path / "plan.toml").write_text(PLAN, encoding="utf-8")
    (tmp_path / "sex.csv").write_text("男;*\n女;*\n", encoding="utf-8")
    gov = Governance(Workspace(settings), "root")
    gov.add_actor("root", ["admin"], organisation="Data office", credential="ID-0001")
    for name, roles, board in [
        ("stella", ["steward"], None),
        ("rita", ["requester"], None),
        ("lee", ["reviewer"], "legal"),
        ("pat", ["reviewer"], "privacy_technical"),
        ("lin", ["reviewer"], "leadership"),
        ("priya", ["pricing_authority"], None),
        ("audrey", ["auditor"], None),
    ]:
        gov.add_actor(
            name, roles, organisation="Data office", credential=f"ID-{name}", board_role=board
        )
    gov.close()
    yield settings, tmp_path
    Store.dispose_all()


def act(settings: Settings, who: str) -> Governance:
    return Governance(Workspace(settings), who)


def _registered(settings: Settings, folder: Path) -> None:
    act(settings, "stella").add_department("civil", "Civil Affairs Bureau")
    act(settings, "stella").register_dataset(
        "register", department="civil", system="hukou", source=folder / "register.csv"
    )


def _through_review(settings: Settings, folder: Path, purpose: str = "public_welfare",
                    fee: str | None = None) -> str:  # fmt: skip
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request,
        purpose=purpose,
        sharing_model="file_under_agreement",
        columns=COLUMNS,
        intended_use="study household benefits by county",
        term_end="2030-12-31",
        fee_standard=fee,
    )
    act(settings, "stella").identify(request)
    act(settings, "stella").prepare(request, folder / "plan.toml")
    act(settings, "stella").submit(request)
    return request


def test_the_whole_lifecycle(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    data = act(settings, "audrey").dataset("register")
    assert data["version"] == 1
    assert data["grade"] == "general"
    assert "resident_id" in data["roles"]["identifying"]
    standard = act(settings, "stella").propose_fee_standard(
        department="civil", product="register extract", unit="per_product", cap="500.00"
    )
    act(settings, "priya").approve_fee_standard(standard, "cost-based pricing, report 2026-7")
    act(settings, "priya").set_revenue_limit("civil", 2026, "600")
    request = _through_review(settings, folder, purpose="commercial", fee=standard)
    view = act(settings, "audrey").request(request)
    assert view.state == "under_review"
    assert view.report is not None
    assert view.report["k_anonymity"] >= 10
    assert act(settings, "pat").decide(request, True, "risk below thresholds") == "under_review"
    assert act(settings, "lee").decide(request, True, "agreement signed") == "approved"
    released = act(settings, "stella").release(request, recipient="University X", terms="DUA-17")
    assert released["artifact_sha256"] == view.artifact_sha256
    assert Path(released["path"]).is_file()
    first = act(settings, "stella").charge(request, quantity="1", unit_price="450.00")
    assert first["amount"] == "450.00"
    assert first["deducted_next_period"] == "0"
    second = act(settings, "stella").charge(
        request, quantity="1", unit_price="400", reason="a second extract, delivered in May"
    )
    assert Decimal(second["deducted_next_period"]) == Decimal("250.00")  # above the 600 permitted
    act(settings, "stella").review_monitoring(request, "recipient confirmed secure storage")
    disclosure = disclosure_report(act(settings, "audrey"), 2026)
    assert [a["request"] for a in disclosure["authorisations"]] == [request]
    assert disclosure["fees_charged"] == [
        {"fee_standard": standard, "amount": "850.00", "currency": "CNY"}
    ]
    audit = audit_report(act(settings, "audrey"), 2026)
    assert audit["anomalies"] == []
    assert audit["releases"]["by_grade"] == {"general": 1}
    assert audit["revenue"]["civil"]["charged"] == "850.00"
    assert audit["revenue"]["civil"]["permitted"] == "600"
    # Every step is on the ledger, and the ledger verifies.
    ledger = open_ledger(settings)
    export = folder / "ledger.jsonl"
    ledger.export(export)
    key = load_public_key(settings.signing_key_path().with_suffix(".pub"))
    assert verify_export(export, key).size == ledger.size()
    types = [json.loads(line)["entry"]["type"] for line in export.read_text().splitlines()[1:]
             if '"entry":' in line[:120]]  # fmt: skip
    for expected in ("dataset.registered", "request.objectives_set", "request.processed",
                     "request.approved", "request.released", "fee.charged",
                     "fee_standard.approved", "request.monitoring"):  # fmt: skip
        assert expected in types, expected


def test_refusals_name_what_is_missing(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    with pytest.raises(ForbiddenError, match="needs the role 'requester'"):
        act(settings, "stella").file_request("register")
    with pytest.raises(ForbiddenError, match="not a registered actor"):
        act(settings, "mallory").file_request("register")
    request = act(settings, "rita").file_request("register")
    with pytest.raises(RefusedError, match="needs it identifiers identified"):
        act(settings, "stella").prepare(request, folder / "plan.toml")
    with pytest.raises(RefusedError, match="needs an approved fee standard"):
        act(settings, "rita").set_objectives(
            request, purpose="commercial", sharing_model="file_under_agreement",
            columns=COLUMNS, intended_use="resale", term_end="2030-01-01",
        )  # fmt: skip
    with pytest.raises(RefusedError, match="unknown salary"):
        act(settings, "rita").set_objectives(
            request, purpose="public_welfare", sharing_model="file_under_agreement",
            columns=["salary"], intended_use="x", term_end="2030-01-01",
        )  # fmt: skip
    with pytest.raises(SettingError, match="not a date"):
        act(settings, "rita").set_objectives(
            request, purpose="public_welfare", sharing_model="enclave",
            columns=COLUMNS, intended_use="x", term_end="next year",
        )  # fmt: skip
    # A plan that leaves an identifier in the file is refused at processing.
    weak = folder / "weak.toml"
    weak.write_text(PLAN.replace('"resident_id", ', ""), encoding="utf-8")
    act(settings, "rita").set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=[*COLUMNS, "resident_id"], intended_use="x", term_end="2030-01-01",
    )  # fmt: skip
    act(settings, "stella").identify(request)
    with pytest.raises(RefusedError, match="direct identifiers never leave unprocessed"):
        act(settings, "stella").prepare(request, weak)
    loose = folder / "loose.toml"
    loose.write_text(PLAN.replace("k = 10", "k = 2"), encoding="utf-8")
    with pytest.raises(RefusedError, match=r"k >= 10, highest risk <= 0.1"):
        act(settings, "stella").prepare(request, loose)
    with pytest.raises(RefusedError, match="needs an anonymization plan"):
        act(settings, "stella").prepare(request)


def test_review_rules(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    # The requester and the preparer can never approve, even holding the reviewer role.
    act(settings, "root").add_actor(
        "stan", ["steward", "reviewer"], organisation="Data office", credential="ID-stan",
        board_role="privacy_technical",
    )  # fmt: skip
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=COLUMNS, intended_use="benefit planning", term_end="2030-01-01",
    )  # fmt: skip
    act(settings, "stan").identify(request)
    act(settings, "stan").prepare(request, folder / "plan.toml")
    act(settings, "stan").submit(request)
    with pytest.raises(ForbiddenError, match="filed or prepared request"):
        act(settings, "stan").decide(request, True, "fine")
    with pytest.raises(RefusedError, match="written rationale"):
        act(settings, "pat").decide(request, True, "  ")
    # Two approvals without the privacy-technical role do not make the quorum.
    assert act(settings, "lee").decide(request, True, "lawful") == "under_review"
    assert act(settings, "lin").decide(request, True, "in the plan") == "under_review"
    with pytest.raises(RefusedError, match=r"decided on request .* already"):
        act(settings, "lin").decide(request, True, "again")
    with pytest.raises(RefusedError, match="needs it approved"):
        act(settings, "stan").release(request, recipient="x", terms="y")
    assert act(settings, "pat").decide(request, True, "risk fine") == "approved"
    act(settings, "stan").release(request, recipient="Welfare office", terms="internal use")
    with pytest.raises(RefusedError, match="is free: nothing may be charged"):
        act(settings, "stan").charge(request, quantity="1", unit_price="1")


def test_fee_rules(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    standard = act(settings, "stella").propose_fee_standard(
        department="civil", product="extract", unit="per_call", cap="10"
    )
    with pytest.raises(ForbiddenError, match="pricing_authority"):
        act(settings, "stella").approve_fee_standard(standard, "self-approved")
    with pytest.raises(RefusedError, match="written report"):
        act(settings, "priya").approve_fee_standard(standard, "")
    request = act(settings, "rita").file_request("register")
    with pytest.raises(RefusedError, match="is not approved"):
        act(settings, "rita").set_objectives(
            request, purpose="commercial", sharing_model="file_under_agreement",
            columns=COLUMNS, intended_use="x", term_end="2030-01-01", fee_standard=standard,
        )  # fmt: skip
    act(settings, "priya").approve_fee_standard(standard, "cost study 2026")
    request = _through_review(settings, folder, purpose="commercial", fee=standard)
    act(settings, "pat").decide(request, True, "ok")
    act(settings, "lee").decide(request, True, "ok")
    act(settings, "stella").release(request, recipient="Firm Y", terms="licence 3")
    with pytest.raises(RefusedError, match="above the approved cap"):
        act(settings, "stella").charge(request, quantity="3", unit_price="10.01")
    with pytest.raises(InvalidInputError, match="decimal amount"):
        act(settings, "stella").charge(request, quantity="3", unit_price="ten")
    assert (
        act(settings, "stella").charge(request, quantity="3", unit_price="9.99")["amount"]
        == "29.97"
    )
    # Last year's revenue above its limit is deducted from this year's permitted revenue.
    year = date.today().year
    engine = sa.create_engine(settings.database_url())
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO charges (request_id, fee_standard, department, quantity, unit_price,"
                " amount, deducted, currency, year, charged_by, created_at) VALUES (:r, :f,"
                " 'civil', '1', '40', '40', '15.00', 'CNY', :y, 'stella', '2025-12-31T00:00:00Z')"
            ),
            {"r": request, "f": standard, "y": year - 1},
        )
    engine.dispose()
    act(settings, "priya").set_revenue_limit("civil", year, "50")
    charged = act(settings, "stella").charge(
        request, quantity="1", unit_price="10", reason="a second licence period"
    )
    assert charged["deducted_next_period"] == "4.97"  # room 50 - 15 carried - 29.97 = 5.03


def test_core_and_important_data_gates(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    strict = GovernancePolicy(sharing={"general": ("dp_query",), "important": (), "core": ()})
    request = act(settings, "rita").file_request("register")
    with pytest.raises(RefusedError, match="may only be shared as dp_query"):
        Governance(Workspace(settings), "rita", strict).set_objectives(
            request, purpose="public_welfare", sharing_model="open_publication",
            columns=COLUMNS, intended_use="x", term_end="2030-01-01",
        )  # fmt: skip
    with pytest.raises(SettingError, match="core data is never released"):
        GovernancePolicy(sharing={"core": ("enclave",)})


def test_concurrent_approvals_and_releases(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "lee").decide(request, True, "lawful")
    outcomes: list[str] = []

    def decide(who: str) -> None:
        try:
            outcomes.append(act(settings, who).decide(request, True, "fine"))
        except RefusedError as exc:
            outcomes.append(f"refused: {exc.message}")

    threads = [threading.Thread(target=decide, args=(who,)) for who in ("pat", "lin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert act(settings, "audrey").request(request).state == "approved"
    assert sum(o == "approved" for o in outcomes) >= 1
    released: list[str] = []

    def release() -> None:
        try:
            act(settings, "stella").release(request, recipient="Uni", terms="DUA")
            released.append("ok")
        except RefusedError:
            released.append("refused")

    threads = [threading.Thread(target=release) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(released) == ["ok", "refused"]
    ledger = open_ledger(settings)
    export = folder / "ledger.jsonl"
    ledger.export(export)
    key = load_public_key(settings.signing_key_path().with_suffix(".pub"))
    verify_export(export, key)
    assert sum('"type":"request.released"' in line for line in export.read_text().splitlines()) == 1


def test_cli_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from custodes.cli import main

    ws = str(tmp_path / "ws")
    data = tmp_path / "register.csv"
    population_register(2_000, seed=4).write_csv(data)
    (tmp_path / "plan.toml").write_text(PLAN, encoding="utf-8")
    (tmp_path / "sex.csv").write_text("男;*\n女;*\n", encoding="utf-8")
    base = ["--workspace", ws]
    assert main(["init", *base]) == 0
    assert main(["actor", "add", "root", "--roles", "admin", "--organisation", "O",
                 "--credential", "C", *base]) == 0  # fmt: skip
    for name, roles, board in [("s", "steward", None), ("r", "requester", None),
                               ("p", "reviewer", "privacy_technical"),
                               ("l", "reviewer", "legal"), ("a", "auditor", None)]:  # fmt: skip
        extra = ["--board-role", board] if board else []
        argv = ["actor", "add", name, "--roles", roles, "--organisation", "O", "--credential",
                f"C-{name}", *extra, "--as", "root", *base]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
    assert main(["catalog", "department", "civil", "--name", "Civil", "--as", "s", *base]) == 0
    argv = ["catalog", "add", "register", "--department", "civil", "--system", "hukou",
            "--source", str(data), "--as", "s", *base]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["request", "file", "register", "--as", "r", *base]) == 0
    request = capsys.readouterr().out.strip()
    argv = ["request", "objectives", request, "--purpose", "public_welfare", "--sharing",
            "file_under_agreement", "--columns", ",".join(COLUMNS), "--use", "study",
            "--term-end", "2030-01-01", "--as", "r", *base]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert main(["request", "identify", request, "--as", "s", *base]) == 0
    argv = ["request", "prepare", request, "--plan", str(tmp_path / "plan.toml"), "--as", "s"]
    assert main([*argv, *base]) == 0, capsys.readouterr().err
    assert main(["request", "submit", request, "--as", "r", *base]) == 0
    for who in ("p", "l"):
        argv = ["request", "review", request, "--approve", "--rationale", "ok", "--as", who]
        assert main([*argv, *base]) == 0
    assert "approved" in capsys.readouterr().out
    argv = ["request", "release", request, "--recipient", "Uni", "--terms", "DUA", "--as", "s"]
    assert main([*argv, *base]) == 0
    assert main(["request", "file", "register", *base]) == 2
    assert "--as NAME" in capsys.readouterr().err
    assert main(["request", "file", "register", "--as", "a", *base]) == 4
    out = tmp_path / "audit.html"
    argv = ["audit", "report", "--format", "html", "--output", str(out), "--as", "a", *base]
    assert main(argv) == 0
    assert "No anomaly" in out.read_text(encoding="utf-8")
    assert main(["disclosure", "--as", "a", *base]) == 0
    assert request in capsys.readouterr().out


def test_changed_plans_and_sources_are_refused_and_terms_end(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "pat").decide(request, True, "ok")
    act(settings, "lee").decide(request, True, "ok")
    plan = folder / "plan.toml"
    original = plan.read_text(encoding="utf-8")
    plan.write_text(original.replace("suppression = 0.05", "suppression = 0.2"), encoding="utf-8")
    with pytest.raises(RefusedError, match=r"plan of request .* changed since it was approved"):
        act(settings, "stella").release(request, recipient="Uni", terms="DUA")
    plan.write_text(original, encoding="utf-8")
    data = folder / "register.csv"
    kept = data.read_bytes()
    data.write_bytes(kept + kept.splitlines(keepends=True)[1])  # one more row
    with pytest.raises(RefusedError, match="changed or is gone since it was registered"):
        act(settings, "stella").release(request, recipient="Uni", terms="DUA")
    data.write_bytes(kept)
    act(settings, "stella").release(request, recipient="Uni", terms="DUA")
    with pytest.raises(RefusedError, match="written reason"):
        act(settings, "stella").revoke(request, "")
    assert act(settings, "stella").expire(date(2031, 1, 1)) == [request]
    assert act(settings, "audrey").request(request).state == "expired"
    with pytest.raises(RefusedError, match="needs it released or monitoring"):
        act(settings, "stella").review_monitoring(request, "late")
    assert act(settings, "audrey").monitoring_due(date(2031, 1, 1)) == []


def _released_for_a_fee(settings: Settings, folder: Path) -> tuple[str, str]:
    _registered(settings, folder)
    standard = act(settings, "stella").propose_fee_standard(
        department="civil", product="extract", unit="per_call", cap="10"
    )
    act(settings, "priya").approve_fee_standard(standard, "cost study 2026")
    request = _through_review(settings, folder, purpose="commercial", fee=standard)
    act(settings, "pat").decide(request, True, "ok")
    act(settings, "lee").decide(request, True, "ok")
    act(settings, "stella").release(request, recipient="Firm Y", terms="licence 3")
    return request, standard


def test_charges_refuse_absurd_amounts_and_unexplained_repeats(
    office: tuple[Settings, Path],
) -> None:
    from custodes._files import text_sha256

    settings, folder = office
    request, _ = _released_for_a_fee(settings, folder)
    steward = act(settings, "stella")
    for quantity in ("0", "1e30", "NaN", "inf", "-1", "0.0000001", "1000000001"):
        with pytest.raises(InvalidInputError, match=r"^the quantity \(--quantity\) is"):
            steward.charge(request, quantity=quantity, unit_price="1")
    for price in ("0", "1e30", "nan", "-Infinity", "-5", "1.00001"):
        with pytest.raises(InvalidInputError, match=r"^the unit price \(--unit-price\) is"):
            steward.charge(request, quantity="1", unit_price=price)
    with pytest.raises(InvalidInputError) as caught:
        steward.charge(request, quantity="1e30", unit_price="1")
    assert str(caught.value) == (
        "the quantity (--quantity) is '1e30'; give a number greater than 0 and at most "
        "1,000,000,000, with at most 6 decimals."
    )
    assert steward.charge(request, quantity="1E+1", unit_price="2")["quantity"] == "10"
    with pytest.raises(RefusedError) as refused:
        steward.charge(request, quantity="1", unit_price="2")
    assert str(refused.value) == (
        f"request {request} was charged already (once); a further charge of the same release "
        "needs a written reason (--reason), recorded with the charge."
    )
    with pytest.raises(RefusedError, match="needs a written reason"):
        steward.charge(request, quantity="1", unit_price="2", reason="   ")
    reason = "a second delivery of the extract, invoice 17"
    again = steward.charge(request, quantity="1", unit_price="2", reason=reason)
    assert again["reason_sha256"] == text_sha256(reason)
    engine = sa.create_engine(settings.database_url())
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT reason FROM charges WHERE request_id = :r ORDER BY id"), {"r": request}
        ).all()
    engine.dispose()
    assert [row[0] for row in stored] == [None, reason]
    export = folder / "ledger.jsonl"
    open_ledger(settings).export(export)
    charged = [json.loads(line)["entry"] for line in export.read_text().splitlines()
               if '"type":"fee.charged"' in line]  # fmt: skip
    charged = [json.loads(e) if isinstance(e, str) else e for e in charged]
    assert [e["payload"].get("reason_sha256") for e in charged] == [None, text_sha256(reason)]
    assert reason not in export.read_text()


def test_requesters_see_only_themselves_and_their_own_requests(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    _registered(settings, folder)
    act(settings, "root").add_actor("ravi", ["requester"], organisation="Uni", credential="ID-ravi")
    mine = act(settings, "rita").file_request("register")
    theirs = act(settings, "ravi").file_request("register")
    seen = act(settings, "rita").actors()
    assert [a.pop("key").startswith("ed25519 ") for a in seen] == [True]
    assert seen == [
        {"name": "rita", "roles": ["requester"], "board_role": None,
         "organisation": "Data office", "credential": "ID-rita"},
    ]  # fmt: skip
    seen = act(settings, "stella").actors()
    assert len(seen) == 9  # root, the seven of the office and ravi
    assert [a["name"] for a in seen if "credential" in a] == ["stella"]
    assert all("credential" in a for a in act(settings, "root").actors())
    assert [r.id for r in act(settings, "rita").requests()] == [mine]
    assert [r.id for r in act(settings, "ravi").requests()] == [theirs]
    with pytest.raises(ForbiddenError, match="may see only its own requests"):
        act(settings, "ravi").request(mine)
    assert act(settings, "rita").request(mine).id == mine
    for who in ("stella", "lee", "audrey", "root"):
        assert {r.id for r in act(settings, who).requests()} == {mine, theirs}
        assert act(settings, who).request(theirs).requester == "ravi"


def test_fee_standards_are_listed_with_their_ids(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _registered(settings, folder)
    approved = act(settings, "stella").propose_fee_standard(
        department="civil", product="extract", unit="per_call", cap="10.50"
    )
    act(settings, "priya").approve_fee_standard(approved, "cost study")
    proposed = act(settings, "stella").propose_fee_standard(
        department="civil", product="full file", unit="per_product", cap="900"
    )
    listed = act(settings, "rita").fee_standards()
    assert listed == [
        {"id": approved, "department": "civil", "product": "extract", "unit": "per_call",
         "cap": "10.50", "currency": "CNY", "state": "approved"},
    ]  # fmt: skip
    assert {f["id"] for f in act(settings, "stella").fee_standards()} == {approved, proposed}


def test_scans_and_new_actors_name_who_acts(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    with pytest.raises(SettingError) as caught:
        act(settings, "newbie").add_actor(
            "newbie", ["requester"], organisation="Uni", credential="ID-n"
        )
    assert str(caught.value) == (
        "say which admin adds 'newbie': the workspace has actors already, and only its very "
        "first actor adds itself. Pass --as ADMIN (or set the actor setting)."
    )
    with pytest.raises(ForbiddenError, match="'mallory' is not a registered actor"):
        act(settings, "mallory").add_actor(
            "newbie", ["requester"], organisation="Uni", credential="ID-n"
        )
    _registered(settings, folder)
    export = folder / "ledger.jsonl"
    open_ledger(settings).export(export)
    entries = [json.loads(line)["entry"] for line in export.read_text().splitlines()
               if '"type":"scan.made"' in line]  # fmt: skip
    entries = [json.loads(e) if isinstance(e, str) else e for e in entries]
    assert [e["actor"] for e in entries] == ["stella"]


def test_a_plan_needing_a_key_says_where_the_workspace_keeps_it(
    office: tuple[Settings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, folder = office
    monkeypatch.delenv("CUSTODES_PSEUDONYM_KEY", raising=False)
    _registered(settings, folder)
    plan = folder / "keyed.toml"
    plan.write_text(
        PLAN.replace('"resident_id", ', "")
        + '\n[[identifiers]]\ncolumn = "resident_id"\naction = "pseudonymize"\n',
        encoding="utf-8",
    )
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=[*COLUMNS, "resident_id"], intended_use="x", term_end="2030-01-01",
    )  # fmt: skip
    act(settings, "stella").identify(request)
    with pytest.raises(SettingError) as caught:
        act(settings, "stella").prepare(request, plan)
    key = settings.workspace / "keys" / "pseudonym.key"
    assert str(caught.value).endswith(
        f"and save it as {str(key)!r} (the workspace's pseudonym key), or set "
        "CUSTODES_PSEUDONYM_KEY."
    )
    assert "--key-file" not in str(caught.value)


def _cli_office(tmp_path: Path, long_name: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """A workspace with a dataset of a long name and a request with long objectives."""
    from custodes.cli import main

    base = ["--workspace", str(tmp_path / "ws")]
    data = tmp_path / ("a-data-file-with-a-long-name-" * 3 + ".csv")
    population_register(500, seed=5).write_csv(data)
    assert main(["init", *base]) == 0
    assert main(["actor", "add", "root", "--roles", "admin", "--organisation", "O",
                 "--credential", "C " * 30, *base]) == 0  # fmt: skip
    for name, roles in (("s", "steward"), ("r", "requester")):
        argv = ["actor", "add", name, "--roles", roles, "--organisation", "O", "--credential",
                f"C-{name}", "--as", "root", *base]  # fmt: skip
        assert main(argv) == 0
    assert main(["catalog", "department", "civil", "--name", "Civil", "--as", "s", *base]) == 0
    argv = ["catalog", "add", long_name, "--department", "civil", "--system", "hukou " * 20,
            "--source", str(data), "--as", "s", *base]  # fmt: skip
    assert main(argv) == 0
    assert main(["fee", "propose", "--department", "civil", "--product", "a product " * 10,
                 "--unit", "per_call", "--cap", "10", "--as", "s", *base]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["request", "file", long_name, "--as", "r", *base]) == 0
    request = capsys.readouterr().out.strip()
    argv = ["request", "objectives", request, "--purpose", "public_welfare", "--sharing",
            "file_under_agreement", "--columns", ",".join(COLUMNS), "--use",
            "a study of household benefits by county and by year of birth " * 3,
            "--term-end", "2030-01-01", "--as", "r", *base]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    return [*base, request]


def test_cli_machine_output_is_valid_json_on_a_narrow_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodes import cli
    from custodes.cli import main

    long_name = "register-of-households-and-their-benefits-" * 2
    *base, request = _cli_office(tmp_path, long_name, capsys)
    # What COLUMNS=40 does to the console: Rich wrapped every longer line at 40 characters.
    monkeypatch.setattr(cli.out, "_width", 40)
    outputs = []
    for argv in (["catalog", "list"], ["catalog", "show", long_name], ["request", "show", request],
                 ["request", "list"], ["actor", "list"], ["dp", "budget", long_name],
                 ["request", "identify", request], ["disclosure"]):  # fmt: skip
        assert main([*argv, "--as", "s", *base]) == 0, argv
        outputs.append(capsys.readouterr().out)
    parsed = [json.loads(text) for text in outputs]
    assert parsed[1]["name"] == long_name
    assert parsed[2]["details"]["intended_use"].startswith("a study of household benefits")
    assert parsed[5]["dataset"] == long_name


def test_cli_actor_add_without_as_and_fee_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    *base, _ = _cli_office(tmp_path, "register", capsys)
    argv = ["actor", "add", "n", "--roles", "auditor", "--organisation", "O", "--credential", "C"]
    assert main([*argv, *base]) == 2  # no --as: the new actor is not blamed
    assert "say which admin adds 'n'" in capsys.readouterr().err
    assert main([*argv, "--as", "root", *base]) == 0
    capsys.readouterr()
    assert main(["actor", "list", "--as", "s", *base]) == 0
    actors = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in actors] == ["n", "r", "root", "s"]
    assert [a["name"] for a in actors if "credential" in a] == ["s"]  # only its own
    assert main(["actor", "list", "--as", "r", *base]) == 0
    assert [a["name"] for a in json.loads(capsys.readouterr().out)] == ["r"]
    assert main(["fee", "list", "--as", "s", *base]) == 0
    standards = json.loads(capsys.readouterr().out)
    assert [f["state"] for f in standards] == ["proposed"]
    assert main(["fee", "list", "--as", "r", *base]) == 0
    assert json.loads(capsys.readouterr().out) == []  # a requester sees approved ones only


def test_cli_help_shows_bracketed_setting_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodes.cli import main

    monkeypatch.setenv("COLUMNS", "300")  # one line per option

    assert main(["dp", "configure", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "[bounds]" in help_text
    assert "[public_groups]" in help_text
    assert main(["assess", "--help"]) == 0
    assert "[default: 0.2]" in capsys.readouterr().out


def test_identifiers_in_unprocessed_columns_never_leave(office: tuple[Settings, Path]) -> None:
    """Resident IDs written in case notes: the roles said free text, the plan forgot it."""
    import polars as pl

    from tests.test_detect import late_region_ids

    settings, folder = office
    register = pl.read_csv(folder / "register.csv", infer_schema=False)
    ids = late_region_ids(register.height, seed=5)
    notes = [f"来访登记，证件{v}，已核实" if i % 3 == 0 else "电话回访" for i, v in enumerate(ids)]
    register.with_columns(pl.Series("case_notes", notes)).write_csv(folder / "register.csv")
    _registered(settings, folder)
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request,
        purpose="public_welfare",
        sharing_model="file_under_agreement",
        columns=[*COLUMNS, "case_notes"],
        intended_use="study household benefits by county",
        term_end="2030-12-31",
    )
    act(settings, "stella").identify(request)
    with pytest.raises(RefusedError) as caught:
        act(settings, "stella").prepare(request, folder / "plan.toml")
    message = str(caught.value)
    assert re.search(r"column 'case_notes': [\d,]+ cells with a CN_RESIDENT_ID", message)
    assert not [v for v in ids if v in message]
    assert act(settings, "audrey").request(request).state == "identifiers_identified"
    redacting = PLAN + '\n[[identifiers]]\ncolumn = "case_notes"\naction = "redact"\n'
    (folder / "redacting.toml").write_text(redacting, encoding="utf-8")
    report = act(settings, "stella").prepare(request, folder / "redacting.toml")
    assert "case_notes" in report["columns_out"]


def test_a_release_holds_exactly_the_requested_columns(office: tuple[Settings, Path]) -> None:
    """A request for 4 of 13 columns needed a plan naming the other 9 as identifying."""
    settings, folder = office
    _registered(settings, folder)
    plan = PLAN.replace(
        'identifying = ["resident_id", "name", "phone", "address", "province", "prefecture"]\n', ""
    )
    (folder / "short.toml").write_text(plan, encoding="utf-8")
    wanted = ["sex", "birth_date", "region_code", "household_size"]
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request,
        purpose="public_welfare",
        sharing_model="file_under_agreement",
        columns=wanted,
        intended_use="household sizes by county",
        term_end="2030-12-31",
    )
    act(settings, "stella").identify(request)
    report = act(settings, "stella").prepare(request, folder / "short.toml")
    assert report["columns_out"] == wanted
    narrow = folder / "narrow.toml"
    narrow.write_text(plan.replace('"sex", "birth_date", "region_code"', '"sex", "income_band"')
                      .replace('birth_date = "date:year,decade"\nregion_code = "prc"\n', "")
                      .replace('[hierarchies]\n', '[hierarchies]\nincome_band = "mask:step=1"\n'),
                      encoding="utf-8")  # fmt: skip
    request2 = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request2,
        purpose="public_welfare",
        sharing_model="file_under_agreement",
        columns=wanted,
        intended_use="household sizes by county",
        term_end="2030-12-31",
    )
    act(settings, "stella").identify(request2)
    with pytest.raises(SettingError, match="assesses column 'income_band', which the release"):
        act(settings, "stella").prepare(request2, narrow)
    act(settings, "stella").submit(request)
    act(settings, "pat").decide(request, True, "risk below thresholds")
    act(settings, "lee").decide(request, True, "agreement signed")
    released = act(settings, "stella").release(request, recipient="University X", terms="DUA-17")
    header = Path(released["path"]).read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == wanted
    note = json.loads((Path(released["path"]).parent / "manifest.json").read_text("utf-8"))
    assert note["request"] == request
    assert note["columns"] == wanted
    assert note["terms"] == "DUA-17"
    assert note["risk"]["k_anonymity"] >= 10
    assert note["privacy_models"] == ["10-anonymity"]
    assert set(note["generalization"]) == {"sex", "birth_date", "region_code"}
    entry = open_ledger(settings).entry(note["ledger_index"])
    assert (entry["type"], entry["subject"]) == ("request.released", request)
    text = json.dumps(note)
    assert str(folder) not in text
    assert "fingerprint" not in text


def test_the_gate_reads_the_file_that_leaves(
    office: tuple[Settings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: the gate scans the bytes written, not the plan that should have made
    them, so an identifier a faulty transformation or engine writes is still caught."""
    import polars as pl

    import custodes.engines._polars_transform as transform
    from tests.test_detect import late_region_ids

    settings, folder = office
    _registered(settings, folder)
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request,
        purpose="public_welfare",
        sharing_model="file_under_agreement",
        columns=COLUMNS,
        intended_use="study household benefits by county",
        term_end="2030-12-31",
    )
    act(settings, "stella").identify(request)
    written = transform.write_table
    leaked = late_region_ids(1, seed=9)[0]

    def faulty(frame: pl.LazyFrame, path: object) -> None:  # a bug that writes an ID
        first = frame.collect_schema().names()[0]
        written(frame.with_columns(pl.lit(leaked).alias(first)), path)

    monkeypatch.setattr(transform, "write_table", faulty)
    with pytest.raises(RefusedError, match="CN_RESIDENT_ID") as caught:
        act(settings, "stella").prepare(request, folder / "plan.toml")
    assert leaked not in str(caught.value)
    assert act(settings, "audrey").request(request).state == "identifiers_identified"
