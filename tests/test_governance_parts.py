"""Governance in parts: the port, the workflow table, the gates, the values, release
records (and their migration), and a ledger without paths of this machine."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import custodes.governance
from custodes import Workspace
from custodes.errors import RefusedError
from custodes.governance import (
    GATES,
    STATES,
    STEPS,
    TRANSITIONS,
    Objectives,
    ReleaseCandidate,
    ReviewDecision,
    check_gates,
)
from custodes.governance._gates import CheckedIdentifier
from custodes.governance._workflow import check_move, check_step
from custodes.ledger import open_ledger
from custodes.release import ReleaseBook
from custodes.settings import Settings
from custodes.store import Release, Request, Store
from tests.test_governance import _registered, _through_review, act, office  # noqa: F401
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)

GOVERNANCE = Path(custodes.governance.__file__).parent


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("module", sorted(GOVERNANCE.glob("*.py")), ids=lambda p: p.name)
def test_governance_imports_no_workspace_engine_or_polars(module: Path) -> None:
    bad = {
        m
        for m in _imports(module)
        if m.split(".")[0] == "polars"
        or m.startswith(("custodes.workspace", "custodes.engines"))
        or m in ("custodes", "custodes.release")
    }
    assert bad == set(), module.name
    assert len(module.read_text(encoding="utf-8").splitlines()) <= 600, module.name


# ------------------------------------------------------------ the workflow table


def test_every_transition_not_in_the_table_is_refused() -> None:
    allowed = {(s, t) for s, nexts in TRANSITIONS.items() for t in nexts}
    for old in STATES:
        for new in STATES:
            if (old, new) in allowed:
                assert check_move("r1", old, new).name in STEPS
            else:
                with pytest.raises(RefusedError, match=f"r1 is {old.replace('_', ' ')} and cannot"):
                    check_move("r1", old, new)


def test_the_table_holds_re_preparing_and_sending_back() -> None:
    assert TRANSITIONS["processed"]["processed"].name == "processing"  # prepared again
    assert TRANSITIONS["sent_back"]["processed"].name == "processing"
    assert TRANSITIONS["under_review"]["sent_back"].roles == ("reviewer",)
    assert TRANSITIONS["approved"]["released"].needs == "approved by the board"
    assert set(TRANSITIONS["draft"]) == {"objectives_set"}
    for end in ("rejected", "revoked", "expired"):
        assert TRANSITIONS[end] == {}, end  # final states
    for step in STEPS.values():  # every state named is a state
        assert set(step.sources) | set(step.targets) <= set(STATES), step.name


def test_a_step_from_a_wrong_state_names_what_it_needs() -> None:
    with pytest.raises(RefusedError) as info:
        check_step("r1", "draft", "release")
    assert str(info.value) == (
        "request r1 is draft; release needs it approved (approved by the board)."
    )
    assert check_step("r1", "monitoring", "charging").targets == ()


def test_moving_a_request_outside_the_table_is_refused(office: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, folder = office
    _registered(settings, folder)
    request = act(settings, "rita").file_request("register")
    gov = act(settings, "stella")
    with gov._change() as session, pytest.raises(RefusedError, match="cannot become approved"):
        gov._move(session, gov._request(session, request), "approved", {})
    assert act(settings, "stella").request(request).state == "draft"


# ------------------------------------------------------------ gates

GOOD = ReleaseCandidate(
    what="the prepared file",
    sensitive=False,
    min_k=5,
    max_highest_risk=0.2,
    k_anonymity=10,
    highest_risk=0.1,
    columns=("sex", "age", "phone"),
    requested=("sex", "age", "phone"),
    identifying=("phone",),
    handled=("phone",),
    checked_identifiers=(),
)
HIT = CheckedIdentifier("phone", 3, False, "PRC mobile number", 1200)
SECRET = CheckedIdentifier("姓名", 2, True, "PRC ID", 7)

CASES: list[tuple[str, dict[str, Any], str | None, str | None]] = [
    ("passes", {}, None, None),
    ("k too small", {"k_anonymity": 4}, "k_and_risk", "it has k = 4 and highest risk 0.1000"),
    ("risk too high", {"highest_risk": 0.25}, "k_and_risk", "highest risk <= 0.2"),
    ("risk at the bound", {"highest_risk": 0.2}, None, None),
    (
        "sensitive",
        {"sensitive": True, "k_anonymity": 4},
        "k_and_risk",
        "data with sensitive personal information (k >= 5",
    ),
    ("raw identifier", {"handled": ()}, "no_raw_identifiers", "phone would be released"),
    (
        "checked identifier",
        {"checked_identifiers": (HIT,)},
        "no_checked_identifiers",
        "column 'phone': 1,200 cells with a PRC mobile number",
    ),
    (
        "withheld name",
        {"checked_identifiers": (SECRET,)},
        "no_checked_identifiers",
        "column 2 (name withheld): 7 cells with a PRC ID",
    ),
    ("extra column", {"requested": ("sex", "phone")}, "only_requested_columns", ": age;"),
]


@pytest.mark.parametrize(("case", "change", "gate", "says"), CASES, ids=[c[0] for c in CASES])
def test_gates(case: str, change: dict[str, Any], gate: str | None, says: str | None) -> None:
    candidate = replace(GOOD, **change)
    refusals = {name: g(candidate) for name, g in GATES.items()}
    refused = {name for name, r in refusals.items() if r is not None}
    assert refused == (set() if gate is None else {gate})
    if gate is None:
        check_gates(candidate)
        return
    assert says is not None
    refusal = refusals[gate]
    assert refusal is not None
    assert refusal.gate == gate
    assert says in refusal.message
    with pytest.raises(RefusedError) as info:
        check_gates(candidate)
    assert str(info.value) == refusal.message
    check_gates(candidate, [g for g in GATES if g != gate])  # only the others: passes
    assert "姓名" not in refusal.message  # a withheld name never shows


def test_requests_objectives_and_decisions_are_frozen_values() -> None:
    objectives = Objectives("research", "dp_query", ("a", "b"), "a study", "2030-12-31", None)
    assert Objectives.from_details(objectives.to_dict()) == objectives
    assert Objectives.from_details({}) is None
    decision = ReviewDecision("lee", "legal", "approve", 2, "fine", "2026-01-01T00:00:00Z")
    assert decision["round"] == 2
    assert decision.to_dict()["reviewer"] == "lee"
    with pytest.raises(AttributeError):
        decision.round = 3  # type: ignore[misc]


# ------------------------------------------------------------ release records


def test_a_release_is_recorded_with_its_generalization_and_revoked(
    office: tuple[Settings, Path],  # noqa: F811
) -> None:
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "pat").decide(request, True, "risk below thresholds")
    act(settings, "lee").decide(request, True, "agreement signed")
    released = act(settings, "stella").release(request, recipient="University X", terms="DUA")
    with Workspace(settings) as ws:
        (record,) = ws.releases.to_recipient("University X")
        assert record.request_id == request
        assert record.active
        assert record.dataset == "register"
        assert record.dataset_version == 1
        assert record.sharing_model == "file_under_agreement"
        assert record.artifact_sha256 == record.delivered_sha256 == released["artifact_sha256"]
        assert record.terms == "DUA"
        assert record.term_end == "2030-12-31"
        assert record.generalization is not None
        assert set(record.generalization) == {"sex", "birth_date", "region_code"}
        for qi in record.generalization.values():
            assert isinstance(qi["level"], int)
            assert len(qi["hierarchy_sha256"]) == 64
        assert record.local_cuts is None
        entry = ws.ledger.entry(record.ledger_index or 0)
        assert entry["type"] == "request.released"
        assert ws.releases.to_recipient("someone else") == []
    act(settings, "stella").revoke(request, "breach of terms")
    with Workspace(settings) as ws:
        (record,) = ws.releases.of_request(request)
        assert record.revoked_at is not None
        assert not record.active
        assert len(record.revocation_sha256 or "") == 64
        assert ws.releases.to_recipient("University X", active_only=True) == []


def _alembic(store: Store, revision: str) -> None:
    from importlib import resources

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("custodes.store").joinpath("migrations"))
    )
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_releases_of_a_0006_store_are_found_after_the_upgrade(
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = Store(store_url)
    try:
        _alembic(store, "0006")
        assert store.revision() == "0006"
        # A release as the 0006 code made it: a JSON string inside the request's row.
        release = {
            "recipient": "Uni",
            "terms": "DUA",
            "path": None,
            "artifact_sha256": "ab" * 32,
            "released_at": "2026-03-01T10:00:00Z",
            "monitoring_due": "2026-09-01",
            "term_end": "2030-12-31",
        }
        details = {"sharing_model": "file_under_agreement", "term_end": "2030-12-31"}
        rows = [("r-released", "monitoring"), ("r-revoked", "revoked")]
        with store.engine.begin() as connection:
            for request_id, state in rows:
                connection.execute(
                    sa.insert(Request.__table__).values(  # type: ignore[arg-type]
                        id=request_id,
                        state=state,
                        requester="rita",
                        dataset="register",
                        dataset_version=2,
                        details=json.dumps(details),
                        preparer="stella",
                        plan=None,
                        report=None,
                        artifact_sha256="ab" * 32,
                        release=json.dumps(release),
                        created_at="2026-02-01T00:00:00Z",
                        updated_at="2026-04-01T00:00:00Z",
                    )
                )
            connection.execute(
                sa.insert(Request.__table__).values(  # type: ignore[arg-type]
                    id="r-draft",
                    state="draft",
                    requester="rita",
                    dataset="register",
                    dataset_version=2,
                    details="{}",
                    created_at="2026-02-01T00:00:00Z",
                    updated_at="2026-02-01T00:00:00Z",
                )
            )
        store.migrate()
        store.check()  # at the head
        found = ReleaseBook(store).to_recipient("Uni")
        assert [r.request_id for r in found] == ["r-released", "r-revoked"]
        first, revoked = found
        assert first.dataset == "register"
        assert first.dataset_version == 2
        assert first.sharing_model == "file_under_agreement"
        assert first.delivered_sha256 == "ab" * 32
        assert first.generalization is None
        assert first.released_at == "2026-03-01T10:00:00Z"
        assert first.active
        assert revoked.revoked_at == "2026-04-01T00:00:00Z"
        assert not revoked.active
        with store.transaction() as session:
            assert session.execute(sa.select(sa.func.count()).select_from(Release)).scalar() == 2
    finally:
        store.dispose()


# ------------------------------------------------------------ no paths in the ledger


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_no_ledger_entry_names_a_path_of_this_machine(office: tuple[Settings, Path]) -> None:  # noqa: F811
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "pat").decide(request, True, "risk below thresholds")
    act(settings, "lee").decide(request, True, "agreement signed")
    act(settings, "stella").release(request, recipient="University X", terms="DUA")
    act(settings, "stella").review_monitoring(request, "checked")
    with Workspace(settings) as ws:  # a standalone anonymization, written outside the workspace
        from custodes.anonymize import load_spec

        (folder / "out").mkdir()
        ws.anonymize(
            folder / "register.csv",
            load_spec(folder / "plan.toml"),
            output=folder / "out" / "a.csv",
            manifest=folder / "out" / "a.json",
        )
        assert ws.doctor().healthy
    ledger = open_ledger(settings)
    roots = {str(folder), str(folder.resolve())} | ({str(Path.home())} - {"/"})
    for index in range(ledger.size()):
        entry = ledger.entry(index)
        for text in _strings(entry):
            assert not Path(text).is_absolute(), (entry["type"], text)
            assert not any(root in text for root in roots), (entry["type"], text)
