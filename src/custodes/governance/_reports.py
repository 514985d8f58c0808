"""The annual disclosure report and the audit report, from the store and the ledger.

The disclosure report is what a department publishes each year under the
public data pricing rules: authorisations, capped fee standards, products
and the fees actually charged. The audit report is what an auditor reads:
releases by department, recipient and grade; revenue against approved
standards and permitted revenue; every DP budget (total, spent, remaining,
queries, and whether its total is the grade default or came from an approved
budget change); requests rejected and why; and anomalies, found by re-checking
every invariant from the records, by verifying the ledger offline, and by
looking for what killed or interrupted steps left in the workspace (a release
file of a request still approved, ...).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._doctor import checkup
from custodes.errors import CustodesError
from custodes.governance._authority import Authority
from custodes.governance._policy import FREE_PURPOSES
from custodes.governance._service import Governance
from custodes.io import file_sha256
from custodes.ledger import WitnessedHead, check_ledger, load_public_key, recorded_witnesses
from custodes.store import (
    Charge,
    Dataset,
    Decision,
    DPBudget,
    FeeStandard,
    LedgerEntry,
    Request,
    RevenueLimit,
)

__all__ = ["audit_report", "disclosure_report"]

_RELEASED = ("released", "monitoring", "revoked", "expired")


def _year_of(timestamp: str) -> int:
    return int(timestamp[:4])


def _released_in(session: Session, year: int) -> list[tuple[Request, dict[str, Any], Dataset]]:
    out = []
    for row in session.execute(select(Request).where(Request.state.in_(_RELEASED))).scalars():
        release = json.loads(row.release or "{}")
        if release.get("released_at") and _year_of(release["released_at"]) == year:
            data = session.get(Dataset, (row.dataset, row.dataset_version))
            assert data is not None
            out.append((row, release, data))
    return out


def disclosure_report(governance: Governance, year: int) -> dict[str, Any]:
    """The year's disclosure: authorisations, fee standards, products, fees charged."""
    with governance.store.transaction() as session:
        governance._need(session, "auditor", "admin", "pricing_authority", "steward")
        released = _released_in(session, year)
        standards = list(
            session.execute(
                select(FeeStandard).where(FeeStandard.state == "approved").order_by(FeeStandard.id)
            ).scalars()
        )
        charges = list(session.execute(select(Charge).where(Charge.year == year)).scalars())
        by_standard: dict[str, Decimal] = defaultdict(Decimal)
        for c in charges:
            by_standard[c.fee_standard] += Decimal(c.amount)
        return {
            "year": year,
            "authorisations": [
                {
                    "request": row.id,
                    "dataset": f"{data.name}@{data.version}",
                    "department": data.department,
                    "purpose": json.loads(row.details)["purpose"],
                    "sharing_model": json.loads(row.details)["sharing_model"],
                    "recipient": release["recipient"],
                    "released_at": release["released_at"],
                }
                for row, release, data in released
            ],
            "fee_standards": [
                {
                    "id": s.id,
                    "department": s.department,
                    "product": s.product,
                    "unit": s.unit,
                    "cap": s.cap,
                    "currency": s.currency,
                    "approved_by": s.approved_by,
                }
                for s in standards
            ],
            "products": sorted({s.product for s in standards}),
            "fees_charged": [
                {
                    "fee_standard": sid,
                    "amount": str(total),
                    "currency": next(s.currency for s in standards if s.id == sid),
                }
                for sid, total in sorted(by_standard.items())
            ],
            "witnessed_head": _newest_witnessed(session),
        }


def _newest_witnessed(session: Session) -> dict[str, Any] | None:
    """The newest witnessed head the ledger keeps (its countersignature valid), published."""
    valid = [w for w in recorded_witnesses(session) if w.verify()]
    if not valid:
        return None
    newest = max(reversed(valid), key=lambda w: w.size)  # the last recorded of the largest
    return {
        "size": newest.size,
        "root_hash": newest.head.root_hash.hex(),
        "timestamp": newest.head.timestamp,
        "witness": newest.witness,
    }


def audit_report(
    governance: Governance, year: int, *, witnessed: Sequence[WitnessedHead] = ()
) -> dict[str, Any]:
    """The auditor's report for a year (see the module's description); ``witnessed`` heads
    (files an auditor kept) are demanded besides those the ledger keeps."""
    with governance.store.transaction() as session:
        governance._need(session, "auditor", "admin")
        released = _released_in(session, year)
        releases = {
            "by_department": dict(Counter(d.department for _, _, d in released)),
            "by_recipient": dict(Counter(r["recipient"] for _, r, _ in released)),
            "by_grade": dict(Counter(d.grade for _, _, d in released)),
            "list": [
                {
                    "request": row.id,
                    "dataset": f"{data.name}@{data.version}",
                    "grade": data.grade,
                    "recipient": release["recipient"],
                    "artifact_sha256": release["artifact_sha256"],
                    "state": row.state,
                }
                for row, release, data in released
            ],
        }
        charges = list(session.execute(select(Charge).where(Charge.year == year)).scalars())
        revenue: dict[str, dict[str, Any]] = {}
        for c in charges:
            entry = revenue.setdefault(
                c.department,
                {"charged": Decimal(0), "deducted_next_period": Decimal(0), "currency": c.currency},
            )
            entry["charged"] += Decimal(c.amount)
            entry["deducted_next_period"] += Decimal(c.deducted)
        for department, entry in revenue.items():
            limit = session.get(RevenueLimit, (department, year))
            entry["permitted"] = None if limit is None else limit.amount
        rejected = []
        for row in session.execute(select(Request).where(Request.state == "rejected")).scalars():
            if _year_of(row.updated_at) == year:
                reasons = session.execute(
                    select(Decision).where(
                        Decision.request_id == row.id, Decision.decision == "reject"
                    )
                ).scalars()
                rejected.append(
                    {
                        "request": row.id,
                        "dataset": row.dataset,
                        "reasons": [
                            f"{d.reviewer} ({d.board_role}): {d.rationale}" for d in reasons
                        ],
                    }
                )
        budgets = _dp_budgets(session)
        anomalies = _anomalies(governance, session, released, charges)
        anomalies += _dp_anomalies(governance, session)
    # after the transaction: the export reads alone
    anomalies += _ledger_anomalies(governance, witnessed)
    anomalies += _leftovers(governance)
    return {
        "year": year,
        "releases": releases,
        "revenue": {
            d: {k: str(v) if isinstance(v, Decimal) else v for k, v in e.items()}
            for d, e in revenue.items()
        },
        "dp_budget_spent": budgets,
        "rejected_requests": rejected,
        "anomalies": anomalies,
    }


def _dp_budgets(session: Session) -> list[dict[str, Any]]:
    """Every DP budget: total, spent and remaining rho (exact fractions and decimals), the
    queries paid from it, and where its total came from (the grade default, an approved
    budget change, or a steward's lowering)."""
    out = []
    rows = session.execute(select(DPBudget).order_by(DPBudget.dataset, DPBudget.recipient))
    for row in rows.scalars():
        total, spent = Fraction(row.total), Fraction(row.spent)
        out.append(
            {
                "dataset": row.dataset,
                "recipient": row.recipient,
                "total_rho": _decimal(total),
                "spent_rho": _decimal(spent),
                "remaining_rho": _decimal(total - spent),
                "total_rho_exact": str(total),
                "spent_rho_exact": str(spent),
                "queries": row.queries,
                "source": row.source,
            }
        )
    return out


def _dp_anomalies(governance: Governance, session: Session) -> list[str]:
    """Every DP budget row re-checked against the ledger: what was spent is the sum of the
    answered queries' rho, and a total above the grade default needs an approved budget
    change (or a steward's lowering) on the ledger."""
    spent: dict[tuple[str, str], Fraction] = defaultdict(Fraction)
    totals: dict[tuple[str, str], Fraction] = {}
    texts = session.execute(
        select(LedgerEntry.entry)
        .where(LedgerEntry.entry.contains('"type":"dp.'))
        .order_by(LedgerEntry.index)
    ).scalars()
    for text in texts:
        entry = json.loads(text)
        kind, payload = entry["type"], entry["payload"]
        if kind == "dp.query_answered":
            rho = Fraction(*payload["rho"])
            spent[(entry["subject"], payload["recipient"])] += rho
            spent[(entry["subject"], "*")] += rho
        elif kind == "dp.budget_set":
            totals[(entry["subject"], payload["recipient"])] = Fraction(*payload["rho"])
        elif kind == "dp.budget_change.approved":
            totals[(payload["dataset"], payload["recipient"])] = Fraction(*payload["rho"])
    found = []
    for row in session.execute(select(DPBudget)).scalars():
        key = (row.dataset, row.recipient)
        whose = "the global ceiling" if row.recipient == "*" else f"{row.recipient}'s budget"
        if Fraction(row.spent) != spent.get(key, Fraction(0)):
            found.append(
                f"{whose} on {row.dataset} says rho {row.spent} spent, but the ledger's answered "
                f"queries add up to {spent.get(key, Fraction(0))}"
            )
        if key in totals:
            if Fraction(row.total) != totals[key]:
                found.append(
                    f"{whose} on {row.dataset} has total rho {row.total}, not the {totals[key]} "
                    "the ledger last recorded"
                )
            continue
        data = session.execute(
            select(Dataset).where(Dataset.name == row.dataset).order_by(Dataset.version.desc())
        ).scalar()
        policy = governance.policy
        table = policy.dp_dataset_rho if row.recipient == "*" else policy.dp_recipient_rho
        default = Fraction(table.get(data.grade, "0")) if data is not None else Fraction(0)
        if Fraction(row.total) > default:
            found.append(
                f"{whose} on {row.dataset} (total rho {row.total}) is above its grade default "
                "without an approved budget change on the ledger"
            )
    return found


def _decimal(value: Fraction) -> str:
    """A rho as a decimal of at most 6 significant digits."""
    with localcontext() as context:
        context.prec = 6
        text = f"{Decimal(value.numerator) / Decimal(value.denominator):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _anomalies(
    governance: Governance,
    session: Session,
    released: list[tuple[Request, dict[str, Any], Dataset]],
    charges: list[Charge],
) -> list[str]:
    """Every invariant re-checked from the records, and the ledger verified offline."""
    found = []
    policy = governance.policy
    for row, release, data in released:
        approvals = list(
            session.execute(
                select(Decision).where(
                    Decision.request_id == row.id,
                    Decision.round == int(json.loads(row.details).get("round", 1)),
                    Decision.decision == "approve",
                )
            ).scalars()
        )
        roles = {d.board_role for d in approvals}
        needed = set(policy.board_roles.get(data.grade, ()))
        if len(approvals) < policy.quorum or not needed <= roles:
            found.append(f"request {row.id} was released without the quorum the policy demands")
        involved = {row.requester, row.preparer, *json.loads(row.details).get("preparers", [])}
        if any(d.reviewer in involved for d in approvals):
            found.append(f"request {row.id} was approved by its requester or preparer")
        if data.grade == "core":
            found.append(f"request {row.id} released core data")
        path = release.get("path")
        if path and Path(path).is_file() and file_sha256(path) != release["artifact_sha256"]:
            found.append(f"the released file of request {row.id} no longer matches its hash")
    for c in charges:
        request = session.get(Request, c.request_id)
        standard = session.get(FeeStandard, c.fee_standard)
        if request is None or json.loads(request.details).get("purpose") in FREE_PURPOSES:
            found.append(f"charge {c.id} was made on a free purpose")
        if standard is None or standard.state != "approved":
            found.append(f"charge {c.id} has no approved fee standard")
        elif Decimal(c.unit_price) > Decimal(standard.cap):
            found.append(f"charge {c.id} is above its standard's cap")
    return found


def _leftovers(governance: Governance) -> list[str]:
    """What killed or interrupted steps left in the workspace (see ``custodes doctor``)."""
    found = checkup(governance.settings, governance.store).findings
    return [f"{f.kind.replace('_', ' ')} {f.path}: {f.detail}" for f in found]


def _ledger_anomalies(governance: Governance, witnessed: Sequence[WitnessedHead] = ()) -> list[str]:
    """The ledger exported and verified offline, as an outside auditor would, and a
    consistency proof demanded from every witnessed head (kept on the ledger, or given)."""
    try:
        key = load_public_key(governance.settings.signing_key_path().with_suffix(".pub"))
    except CustodesError as exc:
        return [f"the ledger fails verification: {exc.message}"]
    authority = Authority()
    try:
        found = check_ledger(governance.ledger, key, witnessed, on_entry=authority.see)
        if not found:
            authority.finish()
    except CustodesError as exc:
        found = [f"the ledger fails verification: {exc.message}"]
    finally:
        authority.close()
    return found
