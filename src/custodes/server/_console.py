"""The DP console, the auditor's dashboard and the public disclosure page."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custodes.errors import CustodesError
from custodes.server._core import Caller, Server
from custodes.server._render import (
    Posted,
    logged_in,
    page,
    page_caller,
    posted_by,
    server_of,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _queryable(srv: Server, caller: Caller) -> list[str]:
    """The datasets the caller may query or oversee: released DP access, or all for staff."""
    rows = srv.governed(caller, lambda g: [r.to_dict() for r in g.requests()])
    granted = {
        r["dataset"]
        for r in rows
        if r["state"] == "released" and r["details"].get("sharing_model") == "dp_query"
    }
    if rows and any(r["requester"] != caller.actor for r in rows):  # staff see every request
        return sorted({r["dataset"] for r in rows} | granted)
    return sorted(granted)


def _gauges(srv: Server, caller: Caller, datasets: list[str]) -> list[dict[str, Any]]:
    gauges = []
    for name in datasets:

        def budget(queries: Any, dataset: str = name) -> dict[str, Any]:
            found: dict[str, Any] = queries.budget(dataset)["budgets"]
            return found

        try:
            budgets = srv.queried(caller, budget)
        except CustodesError:
            continue
        for whose, b in sorted(budgets.items()):
            total = float(Fraction(str(b.get("total_rho", "0"))))
            spent = float(Fraction(str(b.get("spent_rho", "0"))))
            gauges.append({"dataset": name, "whose": whose, "total": total, "spent": spent})
    return gauges


@router.get("/dp")
def console(request: Request, dataset: str = "") -> Response:
    caller = logged_in(request)
    srv = server_of(request)
    datasets = _queryable(srv, caller)
    chosen = dataset if dataset in datasets else (datasets[0] if datasets else "")
    result = srv.results.pop(caller.actor, None)
    return page(
        request, "dp.html", caller, datasets=datasets, chosen=chosen, result=result,
        gauges=_gauges(srv, caller, datasets),
        sql=(result or {}).get("sql") or (f'SELECT COUNT(*) FROM "{chosen}"' if chosen else ""),
    )  # fmt: skip


@router.post("/dp")
def console_post(request: Request, form: Posted) -> Response:
    caller = posted_by(request, form)
    srv = server_of(request)
    sql = str(form.get("sql", ""))[:20_000]
    loss = str(form.get("loss", "")).strip() or None
    kind = str(form.get("kind", "rho"))
    rho, epsilon = (loss, None) if kind == "rho" else (None, loss)
    action = "query" if form.get("action") == "query" else "estimate"
    result: dict[str, Any] = {"sql": sql, "action": action, "loss": loss or "", "kind": kind}
    try:
        if action == "query":
            result["answer"] = srv.queried(
                caller, lambda q: q.query(sql, rho=rho, epsilon=epsilon, exact=True)
            )
        else:
            result["estimate"] = srv.queried(
                caller, lambda q: q.estimate(sql, rho=rho, epsilon=epsilon, exact=True)
            )
    except CustodesError as exc:
        result["refused"] = exc.message
    srv.results[caller.actor] = result
    dataset = str(form.get("dataset", ""))
    return RedirectResponse(f"/dp?dataset={dataset}" if dataset else "/dp", status_code=303)


@router.get("/audit")
def audit(request: Request, year: int = date.today().year) -> Response:
    caller = logged_in(request)
    from custodes.governance import audit_report

    srv = server_of(request)
    problems, newest, witnessed = srv.ledger_checked(caller)
    report = srv.governed(caller, lambda g: audit_report(g, year))
    return page(
        request, "audit.html", caller, problems=problems,
        newest=None if newest is None else newest.to_dict(),
        witnessed=[w.to_dict() for w in witnessed], report=report, year=year,
    )  # fmt: skip


@router.get("/audit/report.html")
def audit_html(request: Request, year: int = date.today().year) -> Response:
    caller = logged_in(request)
    from custodes.governance import audit_report
    from custodes.report import render_audit_html

    report = server_of(request).governed(caller, lambda g: audit_report(g, year))
    # The report is one self-contained page: its own inline style, no script.
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    return HTMLResponse(render_audit_html(report), headers={"Content-Security-Policy": csp})


@router.get("/disclosure")
def disclosure(request: Request, year: int = date.today().year) -> Response:
    """The public page: no login."""
    if not 2000 <= year <= 2200:
        year = date.today().year
    with server_of(request).locked() as ws:
        report = ws.disclosure(year)
    return page(request, "disclosure.html", page_caller(request), report=report, year=year)
