"""The audit is computed from the ledger, on SQLite and PostgreSQL.

A workspace goes through a whole workflow (register, file, prepare, review,
release, a charge of 300.00, a rejection, a DP budget and a query); then the
store is edited behind custodes' back, one way per test, and the audit report
must name the record and the ledger entry that says otherwise. The report from
an export alone has the same figures as the report in the workspace.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from custodes import Workspace
from custodes.errors import DataFileError, InvalidInputError, SettingError, TamperedError
from custodes.governance import Governance, audit_report, audit_report_from_export
from custodes.ledger import open_ledger
from custodes.settings import Settings, load_settings
from custodes.store import Store
from custodes.synth import population_register
from custodes.workspace import init_workspace
from tests.test_governance import COLUMNS, PLAN
from tests.test_ledger import _postgres_base

YEAR = date.today().year


@dataclass(frozen=True)
class Built:
    """A workspace after the whole workflow: its folder, and its store's URL."""

    folder: Path
    url: str
    released: str
    rejected: str
    standard: str

    def settings(self, url: str | None = None) -> Settings:
        return load_settings(self.folder / "ws", {"store_url": url or self.url})


def _workflow(settings: Settings, folder: Path) -> tuple[str, str, str]:
    init_workspace(settings)
    population_register(3_000, seed=3).write_csv(folder / "register.csv")
    (folder / "plan.toml").write_text(PLAN, encoding="utf-8")
    (folder / "sex.csv").write_text("男;*\n女;*\n", encoding="utf-8")
    ws = Workspace(settings)

    def act(who: str) -> Governance:
        return Governance(ws, who)

    act("root").add_actor("root", ["admin"], organisation="Data office", credential="ID-0001")
    for name, roles, board in [
        ("stella", ["steward"], None),
        ("rita", ["requester"], None),
        ("lee", ["reviewer"], "legal"),
        ("pat", ["reviewer"], "privacy_technical"),
        ("lin", ["reviewer"], "leadership"),
        ("priya", ["pricing_authority"], None),
        ("audrey", ["auditor"], None),
    ]:
        act("root").add_actor(
            name, roles, organisation="Data office", credential=f"ID-{name}", board_role=board
        )
    act("stella").add_department("civil", "Civil Affairs Bureau")
    act("stella").register_dataset(
        "register", department="civil", system="hukou", source=folder / "register.csv"
    )
    # A second dataset graded important (a grading policy for more than 100 people).
    (folder / "grading.toml").write_text("[grading]\nimportant_people = 100\n", encoding="utf-8")
    strict = load_settings(
        settings.workspace,
        {"store_url": settings.store_url, "grading_policy": str(folder / "grading.toml")},
    )
    Governance(Workspace(strict), "stella").register_dataset(
        "survey", department="civil", system="survey", source=folder / "register.csv"
    )
    standard = act("stella").propose_fee_standard(
        department="civil", product="register extract", unit="per_product", cap="500.00"
    )
    act("priya").approve_fee_standard(standard, "cost-based pricing, report 7")
    act("priya").set_revenue_limit("civil", YEAR, "1000")

    def reviewed(purpose: str, fee: str | None, model: str, columns: list[str]) -> str:
        request = act("rita").file_request("register")
        act("rita").set_objectives(
            request, purpose=purpose, sharing_model=model, columns=columns,
            intended_use="study household benefits", term_end="2030-12-31", fee_standard=fee,
        )  # fmt: skip
        act("stella").identify(request)
        act("stella").prepare(request, folder / "plan.toml" if model != "dp_query" else None)
        act("stella").submit(request)
        return request

    released = reviewed("commercial", standard, "file_under_agreement", COLUMNS)
    act("pat").decide(released, True, "risk below thresholds")
    act("lee").decide(released, True, "agreement signed")
    act("stella").release(released, recipient="University X", terms="DUA-17")
    act("stella").charge(released, quantity="1", unit_price="300.00")
    # A rejection (prepared once more: no file for DP access).
    rejected = reviewed("public_welfare", None, "dp_query", ["sex", "household_size"])
    act("lee").decide(rejected, False, "the purpose is not stated precisely enough")
    # DP query access, a budget lowered, and a query.
    granted = reviewed("public_welfare", None, "dp_query", ["sex", "household_size"])
    act("lee").decide(granted, True, "aggregates only")
    act("pat").decide(granted, True, "budgeted")
    act("stella").release(granted, recipient="rita", terms="DP access")
    queries = ws.queries("stella")
    queries.configure(
        "register",
        {"privacy_unit": "resident_id", "max_contributions": 1,
         "public_groups": {"sex": ["男", "女"]}},
    )  # fmt: skip
    queries.set_budget("register", "1/2", recipient="*")
    ws.queries("rita").query("SELECT COUNT(*) FROM register", rho="1/10")
    ws.close()
    return released, rejected, standard


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    folder = tmp_path_factory.mktemp(f"audit-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'custodes.db'}"
        admin = None
    else:
        base = sa.make_url(_postgres_base() or "")
        url = base.set(database=f"custodes_{uuid.uuid4().hex[:12]}").render_as_string(
            hide_password=False
        )
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{sa.make_url(url).database}"')
    try:
        settings = load_settings(folder / "ws", {"store_url": url})
        released, rejected, standard = _workflow(settings, folder)
        Store.dispose_all()
        yield Built(folder, url, released, rejected, standard)
    finally:
        Store.dispose_all()
        if admin is not None:
            with admin.connect() as connection:
                name = sa.make_url(url).database
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.fixture
def office(built: Built, tmp_path: Path) -> Iterator[Settings]:
    """A copy of the built workspace's store (the workspace folder is shared, read only)."""
    Store.dispose_all()
    if built.url.startswith("sqlite"):
        copy = tmp_path / "copy.db"
        shutil.copy(sa.make_url(built.url).database or "", copy)
        yield built.settings(f"sqlite:///{copy}")
        Store.dispose_all()
        return
    source = sa.make_url(built.url)
    name = f"custodes_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"')
    try:
        yield built.settings(source.set(database=name).render_as_string(hide_password=False))
    finally:
        Store.dispose_all()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _sql(settings: Settings, *statements: str) -> None:
    """Edit the store behind custodes' back."""
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))
    engine.dispose()
    Store.dispose_all()


def _audit(settings: Settings) -> dict[str, Any]:
    ws = Workspace(settings)
    try:
        return audit_report(Governance(ws, "audrey"), YEAR)
    finally:
        ws.close()


def _entries(settings: Settings, kind: str) -> list[dict[str, Any]]:
    ledger = open_ledger(settings)
    try:
        found = [ledger.entry(i) for i in range(ledger.size())]
    finally:
        ledger.store.dispose()
    return [e for e in found if e["type"] == kind]


def _last(settings: Settings, kind: str, subject: str | None = None) -> dict[str, Any]:
    return [e for e in _entries(settings, kind) if subject in (None, e["subject"])][-1]


def _names(anomalies: list[str], *expected: str) -> None:
    for text in expected:
        assert text in anomalies, f"{text!r} not in {anomalies}"


# ------------------------------------------------------------ untampered


def test_an_untampered_workspace_has_no_anomaly(office: Settings, built: Built) -> None:
    report = _audit(office)
    assert report["anomalies"] == []
    released = [r["request"] for r in report["releases"]["list"]]
    assert len(released) == 2  # the file and the DP access
    assert released[0] == built.released
    assert report["releases"]["by_grade"] == {"general": 2}
    assert report["revenue"]["civil"] == {
        "charged": "300.00", "deducted_next_period": "0", "currency": "CNY", "permitted": "1000",
    }  # fmt: skip
    rejected = report["rejected_requests"]
    assert [r["request"] for r in rejected] == [built.rejected]
    assert rejected[0]["reasons"] == ["lee (legal): the purpose is not stated precisely enough"]
    budgets = {(b["dataset"], b["recipient"]): b for b in report["dp_budget_spent"]}
    assert budgets[("register", "*")]["total_rho_exact"] == "1/2"
    assert budgets[("register", "*")]["source"] == "lowered by stella"
    assert budgets[("register", "rita")]["spent_rho_exact"] == "1/10"
    assert budgets[("register", "rita")]["queries"] == 1


def test_the_report_from_an_export_alone_has_the_same_figures(
    office: Settings, built: Built, tmp_path: Path
) -> None:
    inside = _audit(office)
    export = tmp_path / "ledger.jsonl"
    ws = Workspace(office)
    ws.export_ledger(export)
    ws.close()
    key = office.signing_key_path().with_suffix(".pub")
    alone = audit_report_from_export(export, key, YEAR)
    for part in ("year", "ledger_size", "releases", "revenue", "dp_budget_spent", "actor_keys"):
        assert alone[part] == inside[part], part
    assert alone["anomalies"] == []
    # The rejection: reviewer, board role and the rationale's hash (the text is the store's).
    from custodes._files import text_sha256

    digest = text_sha256("the purpose is not stated precisely enough")
    assert alone["rejected_requests"][0]["reasons"] == [f"lee (legal): rationale sha256 {digest}"]
    assert alone["rejected_requests"][0]["decisions"] == inside["rejected_requests"][0]["decisions"]
    # A tampered export fails verification; what is no export, or no key, is bad input.
    lines = export.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if '"type":"fee.charged"' in line)
    lines[at] = lines[at].replace('"amount":"300.00"', '"amount":"3.00"')
    forged = tmp_path / "forged.jsonl"
    forged.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(TamperedError, match="changed or re-signed"):
        audit_report_from_export(forged, key, YEAR)
    (tmp_path / "notes.txt").write_text("not a ledger\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not the header of a custodes ledger export"):
        audit_report_from_export(tmp_path / "notes.txt", key, YEAR)
    with pytest.raises(DataFileError, match="does not exist"):
        audit_report_from_export(tmp_path / "nosuch.jsonl", key, YEAR)
    with pytest.raises(DataFileError, match="public key"):
        audit_report_from_export(export, tmp_path / "nosuch.pub", YEAR)
    with pytest.raises(SettingError):
        audit_report_from_export(export, tmp_path / "notes.txt", YEAR)


# ------------------------------------------------------------ each tampering, named


def test_a_charge_amount_changed(office: Settings) -> None:
    entry = _last(office, "fee.charged")
    cid = entry["payload"]["charge"]
    _sql(office, "UPDATE charges SET amount = '1.00'")
    _names(
        _audit(office)["anomalies"],
        f"charge {cid}: the store says amount 1.00, ledger entry {entry['index']} recorded 300.00",
    )


def test_a_charge_unit_price_changed(office: Settings) -> None:
    entry = _last(office, "fee.charged")
    cid = entry["payload"]["charge"]
    _sql(office, "UPDATE charges SET unit_price = '1'")
    _names(
        _audit(office)["anomalies"],
        f"charge {cid}: the store says unit price 1, ledger entry {entry['index']} recorded 300.00",
    )


def test_a_charge_deleted(office: Settings) -> None:
    entry = _last(office, "fee.charged")
    _sql(office, "DELETE FROM charges")
    report = _audit(office)
    _names(
        report["anomalies"],
        f"charge {entry['payload']['charge']} (ledger entry {entry['index']}) is missing from "
        "the store",
    )
    assert report["revenue"]["civil"]["charged"] == "300.00"  # the ledger's figure


def test_decisions_deleted_and_the_request_set_back(office: Settings, built: Built) -> None:
    request = built.released
    decided = {e["actor"]: e["index"] for e in _entries(office, "request.decided")
               if e["subject"] == request}  # fmt: skip
    last = _last(office, "request.released", request)["index"]
    _sql(
        office,
        f"DELETE FROM decisions WHERE request_id = '{request}'",
        f"UPDATE requests SET state = 'approved' WHERE id = '{request}'",
    )
    _names(
        _audit(office)["anomalies"],
        f"decision of lee on {request} round 1 (entry {decided['lee']}) is missing from the store",
        f"decision of pat on {request} round 1 (entry {decided['pat']}) is missing from the store",
        f"request {request}: the store says approved, the ledger's last entry {last} says released",
    )


def test_a_decision_reviewer_changed(office: Settings, built: Built) -> None:
    request = built.released
    entry = next(e for e in _entries(office, "request.decided")
                 if e["subject"] == request and e["actor"] == "lee")  # fmt: skip
    _sql(
        office,
        f"UPDATE decisions SET reviewer = 'lin', board_role = 'leadership' "
        f"WHERE request_id = '{request}' AND reviewer = 'lee'",
    )
    _names(
        _audit(office)["anomalies"],
        f"decision of lin on {request} round 1 has no ledger entry",
        f"decision of lee on {request} round 1 (entry {entry['index']}) is missing from the store",
    )


def test_a_rationale_rewritten(office: Settings, built: Built) -> None:
    entry = _last(office, "request.decided", built.rejected)
    _sql(office, "UPDATE decisions SET rationale = 'fine' WHERE decision = 'reject'")
    report = _audit(office)
    _names(
        report["anomalies"],
        f"decision of lee on {built.rejected} round 1: its rationale in the store does not "
        f"match the hash ledger entry {entry['index']} recorded",
    )
    assert "fine" not in report["rejected_requests"][0]["reasons"][0]


def test_a_request_state_moved(office: Settings, built: Built) -> None:
    last = _last(office, "request.rejected", built.rejected)["index"]
    _sql(office, f"UPDATE requests SET state = 'approved' WHERE id = '{built.rejected}'")
    report = _audit(office)
    _names(
        report["anomalies"],
        f"request {built.rejected}: the store says approved, the ledger's last entry {last} "
        "says rejected",
    )
    assert [r["request"] for r in report["rejected_requests"]] == [built.rejected]


def test_a_requests_columns_widened(office: Settings, built: Built) -> None:
    """The columns a request asked for bound what it releases and what DP queries read."""
    entry = _last(office, "request.objectives_set", built.released)["index"]
    engine = sa.create_engine(office.store_url)
    with engine.begin() as connection:
        text = connection.execute(
            sa.text("SELECT details FROM requests WHERE id = :i"), {"i": built.released}
        ).scalar_one()
        details = json.loads(text)
        details["columns"] = [*details["columns"], "name"]
        connection.execute(
            sa.text("UPDATE requests SET details = :d WHERE id = :i"),
            {"d": json.dumps(details), "i": built.released},
        )
    engine.dispose()
    Store.dispose_all()
    _names(
        _audit(office)["anomalies"],
        f"request {built.released}: the store's purpose, sharing model or columns are not "
        f"those ledger entry {entry} recorded",
    )


def test_a_release_recipient_changed(office: Settings, built: Built) -> None:
    entry = _last(office, "request.released", built.released)["index"]
    _sql(
        office,
        f"UPDATE releases SET recipient = 'Shadow Corp' WHERE request_id = '{built.released}'",
    )
    anomalies = _audit(office)["anomalies"]
    assert any(
        a.startswith("release ")
        and a.endswith(
            f"of request {built.released}: the store's recipient is not what the ledger "
            f"recorded (entry {entry} and after)"
        )
        for a in anomalies
    ), anomalies


def test_unreadable_store_values_are_anomalies_not_crashes(office: Settings) -> None:
    _sql(
        office,
        "UPDATE dp_budgets SET total = 'abc'",
        "UPDATE actors SET roles = 'notjson' WHERE name = 'rita'",
        "UPDATE charges SET amount = '13812345678'",
    )
    anomalies = _audit(office)["anomalies"]
    for what in ("actors", "DP budgets"):
        assert any(
            a.startswith(f"the store's {what} hold a value custodes cannot") for a in anomalies
        )
    charged = [a for a in anomalies if a.startswith("charge ")]
    assert charged
    assert all("13812345678" not in a for a in anomalies)
    assert "the store says amount [a phone number]" in charged[0]


def test_dp_settings_and_an_organisation_changed(office: Settings) -> None:
    configured = _last(office, "dp.configured", "register")["index"]
    rita = next(e for e in _entries(office, "actor.added") if e["subject"] == "rita")["index"]
    _sql(
        office,
        "UPDATE dp_configs SET config = replace(config, ']', ', 9]')",
        "UPDATE actors SET organisation = 'Elsewhere' WHERE name = 'rita'",
    )
    _names(
        _audit(office)["anomalies"],
        f"the DP settings of register are not those ledger entry {configured} recorded (their "
        "hash differs)",
        f"actor rita: the store's organisation is not the one the ledger (entry {rita}) registered",
    )


def test_dp_columns_widened_in_the_store_are_refused_before_spending(office: Settings) -> None:
    """The store's columns of a DP grant are edited to add one nobody approved: the query
    on it is refused (tampered) before anything is spent, not answered."""
    granted = next(
        e for e in _entries(office, "request.released") if e["payload"]["recipient"] == "rita"
    )
    engine = sa.create_engine(office.store_url)
    with engine.begin() as connection:
        text = connection.execute(
            sa.text("SELECT details FROM requests WHERE id = :i"), {"i": granted["subject"]}
        ).scalar_one()
        details = json.loads(text)
        details["columns"] = [*details["columns"], "income_band"]
        connection.execute(
            sa.text("UPDATE requests SET details = :d WHERE id = :i"),
            {"d": json.dumps(details), "i": granted["subject"]},
        )
    engine.dispose()
    Store.dispose_all()
    ws = Workspace(office)
    try:
        before = ws.queries("rita").budget("register")
        with pytest.raises(TamperedError, match=f"request {granted['subject']}: the columns"):
            ws.queries("rita").query(
                "SELECT income_band, COUNT(*) FROM register GROUP BY income_band", rho="1/100"
            )
        assert ws.queries("rita").budget("register") == before
    finally:
        ws.close()
    # Without its release record, the release is found on the ledger all the same.
    _sql(office, f"DELETE FROM releases WHERE request_id = '{granted['subject']}'")
    ws = Workspace(office)
    try:
        with pytest.raises(TamperedError, match=f"request {granted['subject']}: the columns"):
            ws.queries("rita").query("SELECT COUNT(*) FROM register", rho="1/100")
    finally:
        ws.close()


def test_a_role_added_to_an_actor(office: Settings) -> None:
    entry = next(e for e in _entries(office, "actor.added") if e["subject"] == "rita")
    _sql(office, """UPDATE actors SET roles = '["admin", "requester"]' WHERE name = 'rita'""")
    _names(
        _audit(office)["anomalies"],
        f"actor rita: the store gives roles admin, requester, the ledger (entry "
        f"{entry['index']}) gives requester",
    )


def test_a_key_swapped_in_the_store(office: Settings) -> None:
    added = {e["subject"]: e for e in _entries(office, "actor.added")}
    lee, stella = added["lee"]["payload"]["public_key"], added["stella"]["payload"]["public_key"]
    at = added["stella"]["index"]
    _sql(office, f"UPDATE actors SET public_key = '{stella}', key_index = {at} WHERE name = 'lee'")
    _names(
        _audit(office)["anomalies"],
        f"actor lee: the store gives key ed25519 {stella[:16]} (registered by entry {at}), the "
        f"ledger gives ed25519 {lee[:16]} (registered by entry {added['lee']['index']})",
    )


def test_a_fee_standard_cap_raised(office: Settings, built: Built) -> None:
    entry = _last(office, "fee_standard.approved", built.standard)
    _sql(office, "UPDATE fee_standards SET cap = '5000'")
    _names(
        _audit(office)["anomalies"],
        f"fee standard {built.standard}: the store says cap 5000, ledger entry "
        f"{entry['index']} recorded 500.00",
    )


def test_a_revenue_limit_raised(office: Settings) -> None:
    entry = _last(office, "revenue_limit.set")
    _sql(office, "UPDATE revenue_limits SET amount = '99999'")
    report = _audit(office)
    _names(
        report["anomalies"],
        f"revenue limit of civil for {YEAR}: the store says amount 99999, ledger entry "
        f"{entry['index']} recorded 1000",
    )
    assert report["revenue"]["civil"]["permitted"] == "1000"


def test_a_dp_budget_raised(office: Settings) -> None:
    query = _last(office, "dp.query_answered")
    lowered = _last(office, "dp.budget_set")
    _sql(office, "UPDATE dp_budgets SET total = '9'")
    _names(
        _audit(office)["anomalies"],
        "rita's budget on register (total rho 9) is above its grade default without an "
        f"approved budget change on the ledger (the ledger, entry {query['index']}, gives 1/4)",
        "the global ceiling on register has total rho 9, not the 1/2 the ledger last "
        f"recorded (entry {lowered['index']})",
    )


def test_a_dp_budget_spent_lowered(office: Settings) -> None:
    query = _last(office, "dp.query_answered")
    _sql(office, "UPDATE dp_budgets SET spent = '0', queries = 0 WHERE recipient = 'rita'")
    _names(
        _audit(office)["anomalies"],
        "rita's budget on register says rho 0 spent, but the ledger's answered queries add up "
        f"to 1/10 (last entry {query['index']})",
        f"rita's budget on register says 0 queries, the ledger answered 1 (last entry "
        f"{query['index']})",
    )


def test_a_dataset_grade_lowered(office: Settings) -> None:
    entry = next(e for e in _entries(office, "dataset.registered") if e["subject"] == "survey@1")
    assert entry["payload"]["grade"] == "important"
    _sql(office, "UPDATE datasets SET grade = 'general' WHERE name = 'survey'")
    _names(
        _audit(office)["anomalies"],
        f"dataset survey@1: the store says grade general, ledger entry {entry['index']} "
        "recorded important",
    )


def test_records_inserted_with_no_ledger_entry(office: Settings, built: Built) -> None:
    _sql(
        office,
        "INSERT INTO charges (id, request_id, fee_standard, department, quantity, unit_price, "
        "amount, deducted, currency, year, charged_by, created_at) VALUES (90, "
        f"'{built.released}', '{built.standard}', 'civil', '1', '5', '5', '0', 'CNY', {YEAR}, "
        "'stella', '2026-01-01T00:00:00Z')",
        "INSERT INTO actors (name, roles, board_role, organisation, credential, created_at) "
        """VALUES ('mallory', '["admin"]', NULL, 'X', 'c', '2026-01-01T00:00:00Z')""",
        "INSERT INTO decisions (request_id, reviewer, round, board_role, decision, rationale, "
        f"created_at) VALUES ('{built.rejected}', 'lin', 1, 'leadership', 'approve', 'ok', "
        "'2026-01-01T00:00:00Z')",
    )
    report = _audit(office)
    _names(
        report["anomalies"],
        "charge 90 has no ledger entry",
        "actor mallory has no ledger entry",
        f"decision of lin on {built.rejected} round 1 has no ledger entry",
    )
    assert report["revenue"]["civil"]["charged"] == "300.00"


# ------------------------------------------------------------ the command line


def test_cli_audit_report_from_an_export(
    office: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    if office.store_url.startswith("postgresql"):
        pytest.skip("the command line is the same on both stores")
    export = tmp_path / "ledger.jsonl"
    ws = Workspace(office)
    ws.export_ledger(export)
    ws.close()
    key = office.signing_key_path().with_suffix(".pub")
    inside = _audit(office)
    argv = ["audit", "report", "--ledger", str(export), "--public-key", str(key),
            "--year", str(YEAR)]  # fmt: skip
    assert main(argv) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["revenue"] == inside["revenue"]
    assert alone["releases"] == inside["releases"]
    assert main([*argv, "--format", "html", "--output", str(tmp_path / "a.html")]) == 0
    assert "computed from the ledger" in (tmp_path / "a.html").read_text(encoding="utf-8")
    capsys.readouterr()
    # A tampered export: exit 3. No key, a missing or malformed export or key: exit 2.
    forged = tmp_path / "forged.jsonl"
    forged.write_text(
        export.read_text(encoding="utf-8").replace('"amount":"300.00"', '"amount":"3.00"'),
        encoding="utf-8",
    )
    assert main(["audit", "report", "--ledger", str(forged), "--public-key", str(key)]) == 3
    assert "tampered" in capsys.readouterr().err.lower()
    assert main(["audit", "report", "--ledger", str(export)]) == 2
    assert "--public-key" in capsys.readouterr().err
    assert main(["audit", "report", "--ledger", str(tmp_path / "no.jsonl"),
                 "--public-key", str(key)]) == 2  # fmt: skip
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "junk.jsonl").write_text("{}\n", encoding="utf-8")
    assert main(["audit", "report", "--ledger", str(tmp_path / "junk.jsonl"),
                 "--public-key", str(key)]) == 2  # fmt: skip
    assert "not the header" in capsys.readouterr().err
    assert main(["audit", "report", "--ledger", str(export),
                 "--public-key", str(tmp_path / "junk.jsonl")]) == 2  # fmt: skip
    capsys.readouterr()
    assert main(["audit", "report", "--public-key", str(key)]) == 2
    assert "go with --ledger" in capsys.readouterr().err
