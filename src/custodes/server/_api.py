"""The JSON API (``/api/v1``): every operation of the command line, over the facade.

Each route names who calls (:func:`caller`), hands the call to the library and
answers what the library answers; the library checks roles and records each
step on the ledger, signed with the caller's key. OpenAPI: ``/api/openapi.json``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    HTTPException,
    Query,
    Request,
    Response,
)
from pydantic import BaseModel, Field

from custodes._files import write_atomic
from custodes.errors import SettingError
from custodes.server._accounts import issue_token, revoke_token, tokens_of
from custodes.server._core import Caller, Server
from custodes.server._login import login_body, logout

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def server_of(request: Request) -> Server:
    """The server answering ``request``."""
    server: Server = request.app.state.server
    return server


def caller(request: Request) -> Caller:
    """Who calls; 401 when nobody is logged in (and 403 without the CSRF token)."""
    found = server_of(request).caller(request)
    if found is None:
        raise HTTPException(
            401,
            "log in first (POST /api/v1/session), or send an API token "
            "(Authorization: Bearer ...).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


Who = Annotated[Caller, Depends(caller)]
Srv = Annotated[Server, Depends(server_of)]


# --- sessions and tokens ---------------------------------------------------------------


class LoginBody(BaseModel):
    actor: Name
    password: Annotated[str, Field(min_length=1, max_length=1000)]
    lang: str | None = None


@router.post("/session", tags=["session"])
def post_session(body: LoginBody, request: Request, response: Response, srv: Srv) -> dict[str, Any]:
    """Log in: sets the session cookie; answers the CSRF token unsafe requests must carry."""
    return login_body(srv, request, response, body.actor, body.password, body.lang)


@router.get("/session", tags=["session"])
def get_session(who: Who) -> dict[str, Any]:
    """Who is logged in, and the session's CSRF token."""
    return {"actor": who.actor, "csrf": who.session.csrf if who.session else None}


@router.delete("/session", tags=["session"])
def delete_session(request: Request, response: Response, who: Who, srv: Srv) -> dict[str, Any]:
    """Log out."""
    logout(srv, request, response)
    return {"logged_out": who.actor}


class TokenBody(BaseModel):
    label: Annotated[str, Field(max_length=200)] = "API token"
    days: Annotated[int, Field(ge=1, le=366)] = 90


@router.post("/tokens", tags=["session"])
def post_token(body: TokenBody, who: Who, srv: Srv) -> dict[str, Any]:
    """A new API token for the logged-in actor (shown once; only its hash is kept). Only a
    session (a person who logged in) makes tokens: a token never makes another."""
    if who.session is None:
        raise HTTPException(403, "API tokens are made from a logged-in session, not a token.")
    with srv.locked() as ws:
        token, record = issue_token(ws.store, who.who, body.label, body.days)
    return {"token": token, **record}


@router.get("/tokens", tags=["session"])
def get_tokens(who: Who, srv: Srv) -> list[dict[str, str | None]]:
    """The caller's API tokens: id, label, made, expires, revoked (never the token)."""
    with srv.locked() as ws:
        return tokens_of(ws.store, who.actor)


@router.delete("/tokens/{token_id}", tags=["session"])
def delete_token(token_id: Name, who: Who, srv: Srv) -> dict[str, str]:
    """Revoke one of the caller's API tokens."""
    with srv.locked() as ws:
        revoke_token(ws.store, who.actor, token_id)
    return {"revoked": token_id}


# --- actors and catalog ----------------------------------------------------------------


class ActorBody(BaseModel):
    name: Name
    roles: list[Name]
    organisation: Name
    credential: Name
    board_role: str | None = None
    public_key: Annotated[str, Field(pattern="^[0-9a-fA-F]{64}$")]


@router.get("/actors", tags=["actors"])
def get_actors(who: Who, srv: Srv) -> list[dict[str, Any]]:
    """The registered actors and their roles."""
    return srv.governed(who, lambda g: g.actors())


@router.post("/actors", tags=["actors"])
def post_actor(body: ActorBody, who: Who, srv: Srv) -> dict[str, str]:
    """Register an actor with its public key (an admin)."""
    srv.governed(
        who,
        lambda g: g.add_actor(
            body.name,
            body.roles,
            organisation=body.organisation,
            credential=body.credential,
            board_role=body.board_role,
            public_key=body.public_key,
        ),
    )
    return {"registered": body.name}


class KeyBody(BaseModel):
    public_key: Annotated[str, Field(pattern="^[0-9a-fA-F]{64}$")]


@router.post("/actors/{name}/key", tags=["actors"])
def post_key(name: Name, body: KeyBody, who: Who, srv: Srv) -> dict[str, str]:
    """Register a new public key (the actor rotating its own, or an admin after a
    revocation); the actor's web sessions end, and its web password must be set again
    with the new key (``custodes account set``)."""
    srv.governed(who, lambda g: g.register_key(name, body.public_key))
    srv.sessions.end_actor(name)
    return {"actor": name, "key": "registered"}


@router.post("/actors/{name}/revoke-key", tags=["actors"])
def post_revoke_key(name: Name, who: Who, srv: Srv) -> dict[str, str]:
    """Revoke an actor's key (an admin, or the actor): it signs nothing from now on, and
    its web sessions end."""
    srv.governed(who, lambda g: g.revoke_key(name))
    srv.sessions.end_actor(name)
    return {"actor": name, "key": "revoked"}


class DepartmentBody(BaseModel):
    code: Name
    name: Name


@router.post("/catalog/departments", tags=["catalog"])
def post_department(body: DepartmentBody, who: Who, srv: Srv) -> dict[str, str]:
    """Add a department (a steward)."""
    srv.governed(who, lambda g: g.add_department(body.code, body.name))
    return {"added": body.code}


@router.get("/departments", tags=["catalog"])
def get_departments(who: Who, srv: Srv) -> list[dict[str, str]]:
    """The departments: code and name."""
    return srv.governed(who, lambda g: g.departments())


@router.get("/catalog", tags=["catalog"])
def get_catalog(who: Who, srv: Srv) -> list[dict[str, Any]]:
    """Every version of every dataset: department, grade, owner, columns and roles."""
    return [shown(d) for d in srv.governed(who, lambda g: g.datasets())]


def shown(dataset: dict[str, Any]) -> dict[str, Any]:
    """A dataset as the web shows it: its source by file name (no path of the server)."""
    return {**dataset, "source": Path(str(dataset.get("source") or "")).name}


@router.get("/catalog/{name}", tags=["catalog"])
def get_dataset(
    name: Name, who: Who, srv: Srv, version: Annotated[int | None, Query(ge=1, le=2**31)] = None
) -> dict[str, Any]:
    """One dataset version (default: the newest)."""
    return shown(srv.governed(who, lambda g: g.dataset(name, version)))


@router.get("/catalog/{name}/risk", tags=["catalog"])
def get_risk(name: Name, who: Who, srv: Srv) -> dict[str, Any]:
    """The dataset's re-identification risk under its roles (staff): the assessment JSON
    of ``custodes assess``, aggregate figures and column names only."""
    data = srv.governed(who, lambda g: g.dataset(name))
    return srv.assessed(who, data)


class RolesBody(BaseModel):
    roles: dict[Name, Name]
    reason: Text


@router.post("/catalog/{name}/roles", tags=["catalog"])
def post_roles(name: Name, body: RolesBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Correct a dataset's column roles, with the reason (a steward)."""
    return srv.governed(who, lambda g: g.correct_roles(name, body.roles, body.reason))


class PersonKeyBody(BaseModel):
    column: str | None = None


@router.post("/catalog/{name}/person-key", tags=["catalog"])
def post_person_key(name: Name, body: PersonKeyBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Declare (or clear) the column that names the same person across datasets."""
    return srv.governed(who, lambda g: g.declare_person_key(name, body.column))


# --- requests --------------------------------------------------------------------------


class FileBody(BaseModel):
    dataset: Name


class ObjectivesBody(BaseModel):
    purpose: Name
    sharing_model: Name
    columns: list[Name]
    intended_use: Text
    term_end: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    fee_standard: str | None = None
    recipient: str | None = None


class IdentifyBody(BaseModel):
    roles: dict[Name, Name] | None = None
    reason: str | None = None


class PrepareBody(BaseModel):
    plan: Annotated[str | None, Field(max_length=200_000)] = None
    """The anonymization plan as TOML (a spec file's text)."""
    mosaic_safe: bool = False


class DecisionBody(BaseModel):
    approve: bool
    rationale: Text
    send_back: bool = False


class ReleaseBody(BaseModel):
    recipient: Name
    terms: Text


class NoteBody(BaseModel):
    note: Text


class ReasonBody(BaseModel):
    reason: Text


@router.get("/requests", tags=["requests"])
def get_requests(who: Who, srv: Srv) -> list[dict[str, Any]]:
    """The requests the caller may see, with their states."""
    return srv.governed(who, lambda g: [r.to_dict() for r in g.requests()])


@router.post("/requests", tags=["requests"])
def post_request(body: FileBody, who: Who, srv: Srv) -> dict[str, str]:
    """Open a draft request (a requester)."""
    return {"id": srv.governed(who, lambda g: g.file_request(body.dataset))}


@router.get("/requests/{request_id}", tags=["requests"])
def get_request(request_id: Name, who: Who, srv: Srv) -> dict[str, Any]:
    """One request: state, objectives, plan, report, decisions, release."""
    return srv.governed(who, lambda g: g.request(request_id).to_dict())


@router.put("/requests/{request_id}/objectives", tags=["requests"])
def put_objectives(request_id: Name, body: ObjectivesBody, who: Who, srv: Srv) -> dict[str, str]:
    """Set a draft request's objectives (its requester)."""
    srv.governed(
        who,
        lambda g: g.set_objectives(
            request_id,
            purpose=body.purpose,
            sharing_model=body.sharing_model,
            columns=body.columns,
            intended_use=body.intended_use,
            term_end=body.term_end,
            fee_standard=body.fee_standard,
            recipient=body.recipient,
        ),
    )
    return {"request": request_id, "objectives": "set"}


@router.post("/requests/{request_id}/identify", tags=["requests"])
def post_identify(request_id: Name, body: IdentifyBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Identify the request's identifiers from the dataset's roles (a steward)."""
    return srv.governed(who, lambda g: g.identify(request_id, body.roles, body.reason))


def plan_file(srv: Server, request_id: str, plan: str) -> Path:
    """The plan's text as a file of the workspace (named by its hash) for ``prepare``. A plan
    from the web names its hierarchies by builders (``interval:``, ``date:``, ``mask:``,
    ``prc``): a path would read a file of the server."""
    _builders_only(plan)
    data = plan.encode("utf-8")
    name = f"{hashlib.sha256(request_id.encode()).hexdigest()[:16]}-"
    path = srv.workspace.path / "plans" / f"{name}{hashlib.sha256(data).hexdigest()[:16]}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
    return path


def _builders_only(plan: str) -> None:
    import tomllib

    from custodes.hierarchy import BUILDERS

    try:
        spec = tomllib.loads(plan)
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"the plan is not valid TOML ({exc}); fix it.") from None
    named = list((spec.get("hierarchies") or {}).items()) if isinstance(spec, dict) else []
    named += [
        (f"models[{i}].hierarchy", m["hierarchy"])
        for i, m in enumerate(spec.get("models") or [])
        if isinstance(m, dict) and "hierarchy" in m
    ]
    for where, value in named:
        text = str(value)
        if not any(text == b or text.startswith(f"{b}:") for b in BUILDERS):
            raise SettingError(
                f"hierarchy {where!s}: a plan from the web names a builder "
                f"({', '.join(f'{b}:...' for b in BUILDERS)}), not a file; register file "
                "hierarchies from the command line."
            )


@router.post("/requests/{request_id}/prepare", tags=["requests"])
def post_prepare(request_id: Name, body: PrepareBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Run the plan and attach the risk and utility report (a steward); gates checked."""
    srv.governed(who, lambda g: g.require("steward"))
    plan = None if body.plan is None else plan_file(srv, request_id, body.plan)
    return srv.governed(who, lambda g: g.prepare(request_id, plan, mosaic_safe=body.mosaic_safe))


class PlanBody(BaseModel):
    plan: Annotated[str, Field(min_length=1, max_length=200_000)]


@router.post("/requests/{request_id}/preview", tags=["requests"])
def post_preview(request_id: Name, body: PlanBody, who: Who, srv: Srv) -> dict[str, Any]:
    """What a plan would make (transformation, suppression, loss, risk before and after),
    before preparing; nothing is written or recorded."""
    srv.governed(who, lambda g: g.require("steward"))
    plan = plan_file(srv, request_id, body.plan)
    return srv.governed(who, lambda g: g.preview(request_id, plan))


@router.post("/requests/{request_id}/submit", tags=["requests"])
def post_submit(request_id: Name, who: Who, srv: Srv) -> dict[str, str]:
    """Send a processed request to the review board."""
    srv.governed(who, lambda g: g.submit(request_id))
    return {"request": request_id, "state": "under_review"}


@router.post("/requests/{request_id}/decisions", tags=["requests"])
def post_decision(request_id: Name, body: DecisionBody, who: Who, srv: Srv) -> dict[str, str]:
    """Approve, reject or send back, as a member of the review board."""
    state = srv.governed(
        who, lambda g: g.decide(request_id, body.approve, body.rationale, send_back=body.send_back)
    )
    return {"request": request_id, "state": state}


@router.get("/requests/{request_id}/mosaic", tags=["requests"])
def get_mosaic(request_id: Name, who: Who, srv: Srv) -> dict[str, Any]:
    """The combined risk of the prepared file with what its recipient holds now."""
    return srv.governed(who, lambda g: g.mosaic(request_id))


@router.post("/requests/{request_id}/release", tags=["requests"])
def post_release(request_id: Name, body: ReleaseBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Produce the approved artifact exactly (hash-checked) and record the release."""
    done = srv.governed(
        who, lambda g: g.release(request_id, recipient=body.recipient, terms=body.terms)
    )
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in done.items()}


@router.post("/requests/{request_id}/monitoring", tags=["requests"])
def post_monitoring(request_id: Name, body: NoteBody, who: Who, srv: Srv) -> dict[str, str]:
    """Record a monitoring review of a released request."""
    srv.governed(who, lambda g: g.review_monitoring(request_id, body.note))
    return {"request": request_id, "monitoring": "reviewed"}


@router.post("/requests/{request_id}/revoke", tags=["requests"])
def post_revoke(request_id: Name, body: ReasonBody, who: Who, srv: Srv) -> dict[str, str]:
    """Revoke a released request."""
    srv.governed(who, lambda g: g.revoke(request_id, body.reason))
    return {"request": request_id, "state": "revoked"}


@router.post("/requests/expire", tags=["requests"])
def post_expire(who: Who, srv: Srv) -> list[str]:
    """Mark released requests whose term has ended as expired."""
    return srv.governed(who, lambda g: g.expire())


@router.get("/monitoring-due", tags=["requests"])
def get_due(who: Who, srv: Srv) -> list[dict[str, str]]:
    """Released requests whose monitoring review is due."""
    return srv.governed(who, lambda g: g.monitoring_due())


# --- fees ------------------------------------------------------------------------------


class FeeBody(BaseModel):
    department: Name
    product: Name
    unit: Name
    cap: Name
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "CNY"


class ApproveFeeBody(BaseModel):
    report: Text


class LimitBody(BaseModel):
    department: Name
    year: Annotated[int, Field(ge=2000, le=2200)]
    amount: Name
    currency: Annotated[str, Field(min_length=3, max_length=3)] = "CNY"


class ChargeBody(BaseModel):
    quantity: Name
    unit_price: Name
    reason: str | None = None


@router.get("/fees", tags=["fees"])
def get_fees(who: Who, srv: Srv) -> list[dict[str, str | None]]:
    """The fee standards and their states."""
    return srv.governed(who, lambda g: g.fee_standards())


@router.post("/fees", tags=["fees"])
def post_fee(body: FeeBody, who: Who, srv: Srv) -> dict[str, str]:
    """Propose a capped fee standard (a steward)."""
    made = srv.governed(
        who,
        lambda g: g.propose_fee_standard(
            department=body.department,
            product=body.product,
            unit=body.unit,
            cap=body.cap,
            currency=body.currency,
        ),
    )
    return {"id": made}


@router.post("/fees/{standard_id}/approve", tags=["fees"])
def post_fee_approval(
    standard_id: Name, body: ApproveFeeBody, who: Who, srv: Srv
) -> dict[str, str]:
    """Approve a fee standard (the pricing authority)."""
    srv.governed(who, lambda g: g.approve_fee_standard(standard_id, body.report))
    return {"approved": standard_id}


@router.post("/fees/limits", tags=["fees"])
def post_limit(body: LimitBody, who: Who, srv: Srv) -> dict[str, str]:
    """Set a department's permitted revenue for a year (the pricing authority)."""
    srv.governed(
        who, lambda g: g.set_revenue_limit(body.department, body.year, body.amount, body.currency)
    )
    return {"department": body.department, "year": str(body.year)}


@router.post("/requests/{request_id}/charge", tags=["fees"])
def post_charge(request_id: Name, body: ChargeBody, who: Who, srv: Srv) -> dict[str, Any]:
    """Charge a released request under its approved standard, never above the cap."""
    return srv.governed(
        who,
        lambda g: g.charge(
            request_id, quantity=body.quantity, unit_price=body.unit_price, reason=body.reason
        ),
    )
