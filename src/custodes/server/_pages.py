"""The pages of the interface: log in, the catalog, a dataset, requests and the review.

Forms post back here with the session's CSRF token; each action is the
library's (signed with the caller's key), and its outcome is shown as a
message on the page it came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from custodes.errors import CustodesError, ForbiddenError, SettingError
from custodes.server._api import plan_file
from custodes.server._login import login_body, logout, set_lang
from custodes.server._render import (
    Posted,
    act,
    error_page,
    form_caller,
    logged_in,
    login_url,
    page,
    page_caller,
    posted_by,
    server_of,
)

__all__ = ["error_page", "login_url", "router"]

router = APIRouter(include_in_schema=False)
PURPOSES = ("public_governance", "public_welfare", "research", "commercial")
SHARING = ("open_publication", "file_under_agreement", "dp_query", "enclave")


def _field(form: Mapping[str, Any], name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


def _safe_next(target: str) -> str:
    """Only a path of this site (never another host) to go back to after logging in."""
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if local and target.isprintable() else "/catalog"


# --- logging in ------------------------------------------------------------------------


@router.get("/")
def home() -> Response:
    return RedirectResponse("/catalog", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/catalog") -> Response:
    return page(request, "login.html", None, next=_safe_next(next), failed=None)


@router.post("/login")
def login_form(request: Request, form: Posted) -> Response:
    actor, password = _field(form, "actor"), str(form.get("password", ""))
    target = _safe_next(_field(form, "next", "/catalog"))
    answer = RedirectResponse(target, status_code=303)
    from fastapi import HTTPException

    try:
        login_body(server_of(request), request, answer, actor, password, None)
    except ForbiddenError as exc:
        return page(request, "login.html", None, 403, next=target, failed=exc.message)
    except HTTPException as exc:
        return page(request, "login.html", None, exc.status_code, next=target, failed=exc.detail)
    return answer


@router.post("/logout")
def logout_form(request: Request, form: Posted) -> Response:
    caller = form_caller(request, form)
    answer = RedirectResponse("/login", status_code=303)
    if caller is not None:
        logout(server_of(request), request, answer)
    return answer


@router.get("/lang/{code}")
def language(request: Request, code: str, next: str = "/catalog") -> Response:
    answer = RedirectResponse(_safe_next(next), status_code=303)
    chosen = set_lang(answer, code, server_of(request).secure_cookies)
    caller = page_caller(request)
    if caller is not None and caller.session is not None:
        caller.session.locale = chosen
    return answer


# --- the catalog and a dataset ---------------------------------------------------------


@router.get("/catalog")
def catalog(request: Request) -> Response:
    caller = logged_in(request)
    rows = server_of(request).governed(caller, lambda g: g.datasets())
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        newest[row["name"]] = {**row, "versions": [*newest.get(row["name"], {}).get("versions", []),
                                                   row["version"]]}  # fmt: skip
    names = {
        d["code"]: d["name"] for d in server_of(request).governed(caller, lambda g: g.departments())
    }
    departments: dict[str, list[dict[str, Any]]] = {code: [] for code in names}
    for row in newest.values():
        departments.setdefault(row["department"], []).append(row)
    return page(
        request, "catalog.html", caller, departments=sorted(departments.items()), names=names
    )


@router.get("/datasets/{name}")
def dataset(request: Request, name: str, assess: int = 0) -> Response:
    caller = logged_in(request)
    srv = server_of(request)
    data = srv.governed(caller, lambda g: g.dataset(name))
    risk, refused = None, None
    if assess:
        try:
            risk = srv.assessed(caller, data)
        except CustodesError as exc:
            refused = exc.message
    return page(request, "dataset.html", caller, data=data, risk=risk, refused=refused)


# --- requests --------------------------------------------------------------------------


@router.get("/requests")
def requests(request: Request) -> Response:
    caller = logged_in(request)
    srv = server_of(request)
    rows = srv.governed(caller, lambda g: [r.to_dict() for r in g.requests()])
    datasets = sorted({d["name"] for d in srv.governed(caller, lambda g: g.datasets())})
    fees = [
        f for f in srv.governed(caller, lambda g: g.fee_standards()) if f["state"] == "approved"
    ]
    return page(
        request, "requests.html", caller, rows=rows, datasets=datasets, fees=fees,
        purposes=PURPOSES, sharing=SHARING, today=date.today().isoformat(),
    )  # fmt: skip


@router.post("/requests")
def file_request(request: Request, form: Posted) -> Response:
    caller = posted_by(request, form)
    srv = server_of(request)
    made: list[str] = []

    def job() -> None:
        def run(g: Any) -> None:
            made.append(g.file_request(_field(form, "dataset")))
            g.set_objectives(
                made[0],
                purpose=_field(form, "purpose"),
                sharing_model=_field(form, "sharing_model"),
                columns=[c.strip() for c in _field(form, "columns").split(",") if c.strip()],
                intended_use=_field(form, "intended_use"),
                term_end=_field(form, "term_end"),
                fee_standard=_field(form, "fee_standard") or None,
                recipient=_field(form, "recipient") or None,
            )

        srv.governed(caller, run)

    response = act(caller, "/requests", job, "filed")
    if made:
        response.headers["location"] = f"/requests/{made[0]}"
    return response


@router.get("/requests/{request_id}")
def request_page(request: Request, request_id: str) -> Response:
    caller = logged_in(request)
    srv = server_of(request)
    view = srv.governed(caller, lambda g: g.request(request_id).to_dict())
    mosaic = None
    if view.get("report") and isinstance(view["report"], dict) and "mosaic" in view["report"]:
        try:
            mosaic = srv.governed(caller, lambda g: g.mosaic(request_id))
        except CustodesError as exc:
            mosaic = {"refused": exc.message}
    data = srv.governed(caller, lambda g: g.dataset(view["dataset"], view["dataset_version"]))
    preview = srv.previews.get((caller.actor, request_id))
    from custodes.governance import GATES

    return page(
        request, "request.html", caller, r=view, mosaic=mosaic, columns=data["columns"],
        gates=list(GATES),
        roles=data["roles"], plan=srv.plans.get(request_id) or default_plan(data["roles"]),
        preview=preview,
    )  # fmt: skip


def default_plan(roles: Mapping[str, Any]) -> str:
    """A starting plan from a dataset's roles: its quasi-identifiers, k = 10, 1 % suppressed,
    identifying columns removed (hierarchies to be chosen by the steward)."""
    qis = list(roles.get("quasi_identifying") or [])
    lines = [
        f"quasi_identifiers = {qis!r}".replace("'", '"'),
        "suppression = 0.01",
        f"identifying = {list(roles.get('identifying') or [])!r}".replace("'", '"'),
        "",
        "[hierarchies]",
        *(f'{q} = "mask:step=1"' for q in qis),
        "",
        "[[models]]",
        'type = "k-anonymity"',
        "k = 10",
    ]
    return "\n".join(lines) + "\n"


def built_plan(form: Mapping[str, Any], columns: list[str]) -> str:
    """A plan from the plan editor's fields: the quasi-identifiers ticked, a hierarchy for
    each, k, the suppression limit and, optionally, l-diversity of a sensitive column."""

    def quoted(text: str) -> str:  # a JSON string is a TOML basic string
        return json.dumps(text, ensure_ascii=False)

    qis = [c for c in columns if form.get(f"qi:{c}") == "on"]
    lines = [
        f"quasi_identifiers = [{', '.join(quoted(c) for c in qis)}]",
        f"suppression = {float(_field(form, 'suppression', '0.01') or 0.01)!r}",
        "",
        "[hierarchies]",
        *(f"{quoted(c)} = {quoted(_field(form, f'h:{c}') or 'mask:step=1')}" for c in qis),
        "",
        "[[models]]",
        'type = "k-anonymity"',
        f"k = {int(_field(form, 'k', '10') or 10)}",
    ]
    sensitive = _field(form, "l_attribute")
    if sensitive in columns and _field(form, "l"):
        lines += ["", "[[models]]", 'type = "distinct-l-diversity"',
                  f"attribute = {quoted(sensitive)}", f"l = {int(_field(form, 'l'))}"]  # fmt: skip
    return "\n".join(lines) + "\n"


@router.post("/requests/{request_id}/plan")
def plan_form(request: Request, request_id: str, form: Posted) -> Response:
    """The plan editor's fields made into the plan's text (then previewed or prepared)."""
    caller = posted_by(request, form)
    srv = server_of(request)
    view = srv.governed(caller, lambda g: g.request(request_id).to_dict())
    columns = list(view["details"].get("columns") or [])

    def build() -> None:
        srv.governed(caller, lambda g: g.require("steward"))
        try:
            srv.plans[request_id] = built_plan(form, columns)
        except ValueError:
            raise SettingError("k, l and the suppression limit are numbers.") from None

    return act(caller, f"/requests/{request_id}", build, "plan written")


@router.post("/requests/{request_id}/{action}")
def request_action(request: Request, request_id: str, action: str, form: Posted) -> Response:
    caller = posted_by(request, form)
    srv = server_of(request)
    back = f"/requests/{request_id}"

    def run(job: Any) -> None:
        srv.governed(caller, job)

    if action == "submit":
        return act(caller, back, lambda: run(lambda g: g.submit(request_id)), "submitted")
    if action == "identify":
        return act(caller, back, lambda: run(lambda g: g.identify(request_id)), "identified")
    if action in ("preview", "prepare"):
        plan = str(form.get("plan", ""))[:200_000]

        def steward_plan() -> Path | None:  # kept and written for the steward alone
            srv.governed(caller, lambda g: g.require("steward"))
            srv.plans[request_id] = plan
            return plan_file(srv, request_id, plan) if plan.strip() else None

        try:
            path = steward_plan()
        except CustodesError as exc:
            failed = exc  # shown on the page like any refusal
            return act(caller, back, lambda: _raise(failed))
        if action == "preview":

            def preview() -> None:
                if path is None:
                    return
                result = srv.governed(caller, lambda g: g.preview(request_id, path))
                srv.previews[(caller.actor, request_id)] = result

            return act(caller, back, preview, "preview")
        safe = form.get("mosaic_safe") == "on"
        return act(
            caller, back, lambda: run(lambda g: g.prepare(request_id, path, mosaic_safe=safe)),
            "prepared",
        )  # fmt: skip
    if action == "decide":
        choice = _field(form, "decision")
        rationale = _field(form, "rationale")
        return act(
            caller, back,
            lambda: run(lambda g: g.decide(request_id, choice == "approve", rationale,
                                           send_back=choice == "send_back")),
            "decided",
        )  # fmt: skip
    if action == "release":
        return act(
            caller, back,
            lambda: run(lambda g: g.release(request_id, recipient=_field(form, "recipient"),
                                            terms=_field(form, "terms"))),
            "released",
        )  # fmt: skip
    if action == "charge":
        return act(
            caller, back,
            lambda: run(lambda g: g.charge(request_id, quantity=_field(form, "quantity"),
                                           unit_price=_field(form, "unit_price"))),
            "charged",
        )  # fmt: skip
    return error_page(request, 404, f"no action {action[:40]!r} on a request.")


def _raise(exc: CustodesError) -> None:
    raise exc


@router.get("/review")
def review(request: Request) -> Response:
    caller = logged_in(request)
    rows = server_of(request).governed(caller, lambda g: [r.to_dict() for r in g.requests()])
    waiting = [r for r in rows if r["state"] == "under_review"]
    return page(request, "review.html", caller, rows=waiting)


@router.get("/fees")
def fees(request: Request) -> Response:
    caller = logged_in(request)
    srv = server_of(request)
    standards = srv.governed(caller, lambda g: g.fee_standards())
    departments = sorted({d["department"] for d in srv.governed(caller, lambda g: g.datasets())})
    from custodes.governance import UNITS

    return page(
        request, "fees.html", caller, standards=standards, departments=departments, units=UNITS,
        year=date.today().year,
    )  # fmt: skip


@router.post("/fees")
def propose_fee(request: Request, form: Posted) -> Response:
    caller = posted_by(request, form)
    srv = server_of(request)
    return act(
        caller, "/fees",
        lambda: srv.governed(caller, lambda g: g.propose_fee_standard(
            department=_field(form, "department"), product=_field(form, "product"),
            unit=_field(form, "unit"), cap=_field(form, "cap"),
            currency=_field(form, "currency", "CNY") or "CNY",
        )),
        "proposed",
    )  # fmt: skip


@router.post("/fees/{standard_id}/approve")
def approve_fee(request: Request, standard_id: str, form: Posted) -> Response:
    caller = posted_by(request, form)
    srv = server_of(request)
    report = _field(form, "report")
    return act(
        caller, "/fees",
        lambda: srv.governed(caller, lambda g: g.approve_fee_standard(standard_id, report)),
        "approved",
    )  # fmt: skip


def _year(text: str) -> int:
    """A year from a form (2000 to 2200)."""
    if not text.isdigit() or not 2000 <= int(text) <= 2200:
        raise SettingError(f"the year {text[:12]!r} is not a year from 2000 to 2200.")
    return int(text)


@router.post("/fees/limits")
def revenue_limit(request: Request, form: Posted) -> Response:
    caller = posted_by(request, form)
    srv = server_of(request)
    return act(
        caller, "/fees",
        lambda: srv.governed(caller, lambda g: g.set_revenue_limit(
            _field(form, "department"), _year(_field(form, "year")), _field(form, "amount"),
        )),
        "set",
    )  # fmt: skip
