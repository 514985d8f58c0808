"""The disclosure report and the audit report as self-contained HTML pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from custodes.report._svg import h, html_page, paragraph, table

__all__ = ["render_audit_html", "render_disclosure_html", "render_mosaic_html"]


def _page(
    title: str,
    sections: Sequence[str],
    note: str = "Every figure comes from the store and is backed by ledger entries.",
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return html_page(title, f"generated {when}", sections, note, generated=when)


def _rows(items: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[list[str]]:
    return [["—" if item.get(k) is None else str(item.get(k)) for k in keys] for item in items]


def _section(
    title: str, caption: str, items: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> str:
    if not items:
        return f"<section><h2>{h(title)}</h2>{paragraph('None.')}</section>"
    headers = [k.replace("_", " ").capitalize() for k in keys]
    body = table(caption, headers, _rows(items, keys), numeric_from=len(keys))
    return f"<section><h2>{h(title)}</h2>{body}</section>"


def render_disclosure_html(report: Mapping[str, Any]) -> str:
    """The annual disclosure report (see :func:`custodes.governance.disclosure_report`)."""
    year = report["year"]
    return _page(
        f"Public data: annual disclosure {year}",
        [
            _section(
                "Authorisations",
                f"Data released in {year}",
                report["authorisations"],
                ["request", "dataset", "department", "purpose", "sharing_model", "recipient"],
            ),
            _section(
                "Fee standards (caps)",
                "Approved fee standards",
                report["fee_standards"],
                ["id", "department", "product", "unit", "cap", "currency", "approved_by"],
            ),
            _section(
                "Fees charged",
                f"Fees actually charged in {year}, per fee standard",
                report["fees_charged"],
                ["fee_standard", "amount", "currency"],
            ),
            _section(
                "Witnessed ledger head",
                "The newest tree head of the ledger an outside witness countersigned: every "
                "later ledger must extend it",
                [w] if (w := report.get("witnessed_head")) else [],
                ["size", "root_hash", "timestamp", "witness"],
            ),
        ],
    )


def render_audit_html(report: Mapping[str, Any]) -> str:
    """The audit report (see :func:`custodes.governance.audit_report`)."""
    year = report["year"]
    revenue = [{"department": d, **v} for d, v in report["revenue"].items()]
    anomalies = report["anomalies"]
    verdict = (
        paragraph("No anomaly: every release had its quorum, every charge its approved "
                  "standard, and the ledger verifies and backs every record.", "headline")
        if not anomalies
        else "<ul>" + "".join(f"<li>{h(a)}</li>" for a in anomalies) + "</ul>"
    )  # fmt: skip
    return _page(
        f"Audit report {year}",
        [
            f"<section><h2>Anomalies</h2>{verdict}</section>",
            _section(
                "Releases",
                f"Releases in {year}",
                report["releases"]["list"],
                ["request", "dataset", "grade", "recipient", "state", "artifact_sha256"],
            ),
            _section(
                "Revenue",
                "Revenue by department against the permitted revenue",
                revenue,
                ["department", "charged", "deducted_next_period", "permitted", "currency"],
            ),
            _section(
                "Differential privacy budgets",
                "Privacy budgets (rho, zCDP; recipient * is the dataset's global ceiling): "
                "spending and where each total came from",
                report["dp_budget_spent"],
                [
                    "dataset",
                    "recipient",
                    "total_rho",
                    "spent_rho",
                    "remaining_rho",
                    "queries",
                    "source",
                ],
            ),
            _section(
                "Rejected requests",
                "Requests the board rejected, and why",
                [{**r, "reasons": "; ".join(r["reasons"])} for r in report["rejected_requests"]],
                ["request", "dataset", "reasons"],
            ),
            _section(
                "Actors and their keys",
                "Who holds which key, by the ledger: who registered it, and whether custodes "
                "made the key pair where the registrar acted (the registrar then held it)",
                [{**a, "roles": ", ".join(a["roles"])} for a in report.get("actor_keys", [])],
                ["actor", "roles", "board_role", "key", "registered_by", "made_by_registrar"],
            ),
        ],
        "Every figure is computed from the ledger, replayed"
        + (f" ({report['ledger_size']:,} entries)" if "ledger_size" in report else "")
        + "; in a workspace every record of the store is reconciled with it.",
    )


def render_mosaic_html(report: Mapping[str, Any]) -> str:
    """The mosaic check of a request (see :meth:`custodes.governance.Governance.mosaic`):
    bilingual headings, counts and probabilities only, never a value."""
    figures, holding = report["figures"], report["holding"]
    verdict = report["verdict"]
    sensitive = [
        {"column": name, **values} for name, values in figures.get("sensitive", {}).items()
    ]
    summary = paragraph(
        f"Request {report['request']} ({report['dataset']}) combined with what "
        f"{report['recipient']} holds: {verdict}. "
        f"请求 {report['request']} 与接收方已持有数据的组合风险："
        f"{'通过' if verdict == 'passed' else '拒绝'}。"
    )
    problems = (
        "<ul>" + "".join(f"<li>{h(p)}</li>" for p in report["problems"]) + "</ul>"
        if report["problems"]
        else paragraph("The combination meets the policy. 组合满足策略要求。")
    )
    return _page(
        f"Mosaic risk of request {report['request']} · 组合风险",
        [
            f"<section><h2>{h('Verdict · 结论')}</h2>{summary}{problems}</section>",
            _section(
                "Releases held · 已持有的发布",
                "Releases to the recipient neither revoked nor expired, and open publications",
                report["releases"],
                ["release", "request", "dataset", "ledger_index"],
            ),
            _section(
                "Combined identity risk · 组合重识别风险",
                "Over every person in any of the releases",
                [figures],
                ["people", "k", "below_k", "highest_risk", "average_risk"],
            ),
            _section(
                "Sensitive attributes · 敏感属性",
                "Per sensitive column: the sharpest posterior, the fewest values left, the "
                "people pinned down, and those left below l only in combination",
                sensitive,
                ["column", "highest_posterior", "min_l", "pinned", "below_l", "lowered"],
            ),
            _section(
                "The holding, graded · 持有数据的分级",
                f"What the recipient would hold, graded with {holding['grading_policy']}",
                [
                    {
                        **holding,
                        "categories": ", ".join(holding["categories"]) or "—",
                        "departments": ", ".join(holding["departments"]),
                    }
                ],
                ["people", "sensitive_people", "categories", "departments", "grade"],
            ),
        ],
        note="Figures are computed from the release records and the views kept beside them; "
        "no value of any record is shown.",
    )
