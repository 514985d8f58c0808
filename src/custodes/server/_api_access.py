"""The JSON API's DP queries, the ledger, the audit and the public disclosure (``/api/v1``)."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from custodes.server._api import DecisionBody, Name, Srv, Text, Who

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


# --- differential privacy --------------------------------------------------------------


class DPConfigBody(BaseModel):
    config: dict[str, Any]
    """privacy_unit (or unit_is_row), max_contributions, bounds, public_groups."""


class QueryBody(BaseModel):
    sql: Annotated[str, Field(min_length=1, max_length=20_000)]
    rho: str | None = None
    epsilon: str | None = None
    exact: bool = False


class LowerBody(BaseModel):
    rho: Name
    recipient: Name = "*"


class ChangeBody(BaseModel):
    total: Name
    reason: Text
    recipient: Name = "*"


@router.put("/dp/{dataset}/config", tags=["dp"])
def put_dp_config(dataset: Name, body: DPConfigBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Declare how a dataset answers DP queries (a steward)."""
    return srv.queried(who, lambda q: q.configure(dataset, body.config))


@router.get("/dp/{dataset}/budget", tags=["dp"])
def get_budget(
    dataset: Name, who: Who, srv: Srv, exact: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    """The budgets on a dataset: total, spent, remaining, source."""
    return srv.queried(who, lambda q: q.budget(dataset, exact=exact))


@router.post("/dp/{dataset}/budget", tags=["dp"])
def post_budget(dataset: Name, body: LowerBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Lower a budget (raising one is a budget change the board reviews)."""
    srv.queried(who, lambda q: q.set_budget(dataset, body.rho, body.recipient))
    return srv.queried(who, lambda q: q.budget(dataset))


@router.get("/dp/budget-changes", tags=["dp"])
def get_changes(
    who: Who, srv: Srv, dataset: Annotated[str | None, Query(max_length=100)] = None
) -> list[dict[str, Any]]:
    """The budget changes, their states and decisions."""
    return srv.queried(who, lambda q: q.budget_changes(dataset))


@router.post("/dp/{dataset}/budget-changes", tags=["dp"])
def post_change(dataset: Name, body: ChangeBody, who: Who, srv: Srv) -> dict[str, str]:
    """Propose raising a budget (a steward)."""
    made = srv.queried(
        who,
        lambda q: q.propose_budget_change(
            dataset, body.total, recipient=body.recipient, reason=body.reason
        ),
    )
    return {"id": made}


@router.post("/dp/budget-changes/{change_id}/decisions", tags=["dp"])
def post_change_decision(change_id: Name, body: DecisionBody, who: Who, srv: Srv) -> dict[str, str]:
    """Decide on a budget change as a member of the review board."""
    state = srv.queried(
        who, lambda q: q.decide_budget_change(change_id, body.approve, body.rationale)
    )
    return {"change": change_id, "state": state}


@router.post("/dp/estimate", tags=["dp"])
def post_estimate(body: QueryBody, who: Who, srv: Srv) -> dict[str, Any]:
    """What a query would cost and how precise its answer would be, without reading the
    data or spending anything: the cost shown is exactly what the query is charged."""
    return srv.queried(
        who, lambda q: q.estimate(body.sql, rho=body.rho, epsilon=body.epsilon, exact=body.exact)
    )


@router.post("/dp/query", tags=["dp"])
def post_query(body: QueryBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Answer an aggregate query with differential privacy, paid from both budgets."""
    return srv.queried(
        who, lambda q: q.query(body.sql, rho=body.rho, epsilon=body.epsilon, exact=body.exact)
    )


# --- reports and the ledger ------------------------------------------------------------

Year = Annotated[int, Query(ge=2000, le=2200)]


@router.get("/audit/report", tags=["audit"])
def get_audit(who: Who, srv: Srv, year: Year = date.today().year) -> dict[str, Any]:
    """The auditor's annual report: the ledger replayed and the store reconciled with it."""
    from custodes.governance import audit_report

    return srv.governed(who, lambda g: audit_report(g, year))


@router.get("/ledger/verify", tags=["audit"])
def get_verify(who: Who, srv: Srv) -> dict[str, Any]:
    """The workspace's ledger verified as an auditor would (an auditor or an admin)."""
    problems, newest, witnessed = srv.ledger_checked(who)
    newest = None if problems else newest
    kept = sorted({w.size for w in witnessed})
    return {
        "verified": not problems,
        "problems": problems,
        "entries": None if newest is None else newest.size,
        "root_hash": None if newest is None else newest.root_hash.hex(),
        "witnessed_head_sizes": kept,
    }


@router.get("/ledger/head", tags=["audit"])
def get_head(who: Who, srv: Srv) -> dict[str, Any]:
    """A newly signed tree head of the ledger (an auditor or an admin)."""
    srv.governed(who, lambda g: g.require("auditor", "admin"))
    with srv.locked() as ws:
        return ws.sign_head().to_dict()


@router.get("/ledger/proof/inclusion", tags=["audit"])
def get_inclusion(
    who: Who,
    srv: Srv,
    entry: Annotated[int, Query(ge=0, le=2**53)],
    size: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> dict[str, Any]:
    """An inclusion proof of an entry in the tree of ``size`` entries (default: all)."""
    srv.governed(who, lambda g: g.require("auditor", "admin"))
    with srv.locked() as ws:
        return ws.inclusion_proof(entry, size)


@router.get("/ledger/proof/consistency", tags=["audit"])
def get_consistency(
    who: Who,
    srv: Srv,
    old: Annotated[int, Query(ge=1, le=2**53)],
    new: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> dict[str, Any]:
    """A consistency proof from the tree of ``old`` entries to that of ``new``."""
    srv.governed(who, lambda g: g.require("auditor", "admin"))
    with srv.locked() as ws:
        return ws.consistency_proof(old, new)


@router.get("/ledger/export", tags=["audit"], response_class=FileResponse)
def get_export(who: Who, srv: Srv) -> FileResponse:
    """The whole ledger as an export file (JSON lines) an auditor verifies offline."""
    srv.governed(who, lambda g: g.require("auditor", "admin"))
    folder = srv.workspace.path / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ledger-{secrets.token_hex(8)}.jsonl"
    with srv.locked() as ws:
        ws.export_ledger(path)
    return FileResponse(
        path,
        media_type="application/x-ndjson",
        filename="ledger.jsonl",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("/public/disclosure", tags=["public"])
def get_disclosure(srv: Srv, year: Year = date.today().year) -> dict[str, Any]:
    """The year's disclosure (public, no login): authorisations, fee standards, products,
    fees charged, and the newest witnessed head."""
    with srv.locked() as ws:
        return ws.disclosure(year)
