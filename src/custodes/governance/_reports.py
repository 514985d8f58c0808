"""The annual disclosure report and the audit report, the audit computed from the ledger.

The disclosure report is what a department publishes each year under the
public data pricing rules: authorisations, capped fee standards, products
and the fees actually charged. The audit report is what an auditor reads:
releases by department, recipient and grade; revenue against approved
standards and permitted revenue; every DP budget (total, spent, remaining,
queries, and whether its total is the grade default or came from an approved
budget change); requests rejected and why; and anomalies.

The audit's figures come from the ledger, replayed (:mod:`._replay`): the
same report is computed inside a workspace and from a verified export alone
(:func:`audit_report_from_export`). Its anomalies are every invariant
re-checked on the replayed state (quorum, separation of duties, core data,
caps, free purposes, DP budgets); inside a workspace also every record of the
store that differs from the replay (:mod:`._reconcile`), the ledger verified
offline, and what killed or interrupted steps left in the workspace (a
release file of a request still approved, ...).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._doctor import checkup
from custodes._files import text_sha256
from custodes.errors import CustodesError, DataFileError, InvalidInputError
from custodes.governance._authority import Hook, ledger_problems, with_authority
from custodes.governance._policy import DEFAULT_GOVERNANCE, FREE_PURPOSES, GovernancePolicy
from custodes.governance._reconcile import reconcile
from custodes.governance._replay import ChargeFact, DefaultRho, Replay, replay
from custodes.governance._service import Governance
from custodes.io import file_sha256
from custodes.ledger import (
    WitnessedHead,
    load_head,
    load_public_key,
    recorded_witnesses,
    redacted,
    stored_entries,
    verify_export,
)
from custodes.store import (
    Charge,
    Dataset,
    Decision,
    FeeStandard,
    Request,
    Store,
)

__all__ = [
    "audit_report",
    "audit_report_from_export",
    "disclosure_report",
    "published_disclosure",
]

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
        return disclosure_of(session, year)


def published_disclosure(store: Store, year: int) -> dict[str, Any]:
    """The year's disclosure as the public reads it: the same report, no login (it is
    published by law; it holds no personal data)."""
    with store.transaction() as session:
        return disclosure_of(session, year)


def disclosure_of(session: Session, year: int) -> dict[str, Any]:
    """The disclosure of ``year`` from the store's records."""
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
    """The auditor's report for a year, inside a workspace: the ledger replayed, and every
    record of the store reconciled with it (see the module's description); ``witnessed``
    heads (files an auditor kept) are demanded besides those the ledger keeps."""
    with governance.store.transaction() as session:
        governance._need(session, "auditor", "admin")
        state = replay(stored_entries(session), _defaults(governance.policy))
        texts = {
            (d.request_id, d.reviewer, d.round): d.rationale
            for d in session.execute(select(Decision)).scalars()
        }
        report = _report(state, year, governance.policy, texts)
        anomalies = report["anomalies"] + _released_files(session, state, year)
        anomalies += reconcile(session, state)
    # after the transaction: the export reads alone
    anomalies += _ledger_anomalies(governance, witnessed)
    anomalies += _leftovers(governance)
    # A record's field may hold anything; an anomaly never quotes personal data.
    report["anomalies"] = [redacted(a) for a in anomalies]
    return report


def audit_report_from_export(
    export: str | os.PathLike[str],
    public_key: str | os.PathLike[str],
    year: int,
    *,
    policy: GovernancePolicy | None = None,
    trusted_head: str | os.PathLike[str] | None = None,
    witnessed: Sequence[WitnessedHead] = (),
) -> dict[str, Any]:
    """The auditor's report for a year from a ledger export alone, with no store.

    The export is verified first with the ledger's public key, its chain of
    authority (every step signed by its actor's registered key, with the role
    it needs) and a consistency proof from a trusted head and every
    ``witnessed`` head: any failure raises :class:`~custodes.errors.TamperedError`
    naming the entry. ``policy`` is the governance policy the invariants are
    checked against (default: the built-in one). The figures are those
    :func:`audit_report` computes in the workspace.
    """
    source = Path(export)
    _check_export(source)
    key = load_public_key(Path(public_key))
    trusted = load_head(trusted_head, key) if trusted_head else None
    entries: list[bytes] = []

    def run(check: Hook) -> None:
        entries.clear()  # a second pass (naming a bad signature) sees them again

        def see(index: int, entry: bytes, leaf: bytes, by_actor: bytes | None) -> None:
            entries.append(entry)
            check(index, entry, leaf, by_actor)

        verify_export(source, key, trusted, witnessed, on_entry=see)

    with_authority(run)
    chosen = policy or DEFAULT_GOVERNANCE
    state = replay((json.loads(e) for e in entries), _defaults(chosen))
    return _report(state, year, chosen, {})


def _check_export(source: Path) -> None:
    """Refuse what is not a ledger export at all (a tampered one fails verification)."""
    if source.is_dir():
        raise DataFileError(f"ledger export {str(source)!r} is a folder; give the export file.")
    try:
        with source.open("rb") as handle:
            first = handle.readline()
    except FileNotFoundError:
        raise DataFileError(
            f"ledger export {str(source)!r} does not exist; make one with `custodes ledger "
            "export --output FILE` in the workspace."
        ) from None
    except OSError as exc:
        raise DataFileError(
            f"ledger export {str(source)!r} cannot be read: {exc.strerror}."
        ) from None
    try:
        header = json.loads(first)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or header.get("format") != "custodes-ledger-export":
        raise InvalidInputError(
            f"{source}: line 1 is not the header of a custodes ledger export; give the file "
            "`custodes ledger export --output FILE` wrote."
        )


def _defaults(policy: GovernancePolicy) -> DefaultRho:
    """A grade's default DP budget under ``policy`` (for entries that do not carry it)."""

    def default(grade: str, ceiling: bool) -> Fraction:
        table = policy.dp_dataset_rho if ceiling else policy.dp_recipient_rho
        return Fraction(table.get(grade, "0"))

    return default


def _released_files(session: Session, state: Replay, year: int) -> list[str]:
    """Released files (in the workspace) that no longer match the hash the ledger recorded."""
    found = []
    for fact in _released(state, year):
        assert fact.release is not None
        row = session.get(Request, fact.id)
        path = json.loads((row.release if row is not None else None) or "{}").get("path")
        if path and Path(path).is_file() and file_sha256(path) != fact.release.artifact_sha256:
            found.append(f"the released file of request {fact.id} no longer matches its hash")
    return found


def _released(state: Replay, year: int) -> list[Any]:
    return [
        r
        for r in state.requests.values()
        if r.release is not None and _year_of(r.release.time) == year
    ]


def _report(
    state: Replay,
    year: int,
    policy: GovernancePolicy,
    texts: Mapping[tuple[str, str, int], str],
) -> dict[str, Any]:
    """The report of a year from the replayed ledger; ``texts`` are the decisions'
    rationales the store holds (shown when they match the ledger's hash)."""
    released = sorted(_released(state, year), key=lambda r: r.release.entry)

    def grade(r: Any) -> str:
        data = state.datasets.get((r.dataset, r.version))
        return data.grade if data is not None else str(r.release.grade)

    def department(r: Any) -> str:
        data = state.datasets.get((r.dataset, r.version))
        return data.department if data is not None else str(r.release.department)

    releases = {
        "by_department": dict(Counter(department(r) for r in released)),
        "by_recipient": dict(Counter(r.release.recipient for r in released)),
        "by_grade": dict(Counter(grade(r) for r in released)),
        "list": [
            {
                "request": r.id,
                "dataset": f"{r.dataset}@{r.version}",
                "grade": grade(r),
                "recipient": r.release.recipient,
                "artifact_sha256": r.release.artifact_sha256,
                "state": r.state,
                "ledger_entry": r.release.entry,
            }
            for r in released
        ],
    }
    charges = [c for c in state.charges if c.year == year]
    revenue: dict[str, dict[str, Any]] = {}
    for c in charges:
        entry = revenue.setdefault(
            str(c.department),
            {"charged": Decimal(0), "deducted_next_period": Decimal(0), "currency": c.currency},
        )
        entry["charged"] += _money(c.amount)
        entry["deducted_next_period"] += _money(c.deducted)
    for dep, entry in revenue.items():
        limit = state.revenue_limits.get((dep, year))
        entry["permitted"] = None if limit is None else limit.amount
    anomalies = _invariants(state, released, charges, policy) + list(state.findings)
    return {
        "year": year,
        "ledger_size": state.size,
        "releases": releases,
        "revenue": {
            d: {k: str(v) if isinstance(v, Decimal) else v for k, v in e.items()}
            for d, e in revenue.items()
        },
        "dp_budget_spent": _dp_budgets(state),
        "rejected_requests": _rejected(state, year, texts),
        "actor_keys": _actor_keys(state),
        "anomalies": anomalies,
    }


def _actor_keys(state: Replay) -> list[dict[str, Any]]:
    """Who holds which key by the ledger: every actor, its roles, its key's fingerprint,
    who registered the key and whether custodes made the pair where they acted (then the
    registrar held the private key until handing it over: worth a question for a reviewer
    or a pricing authority)."""
    return [
        {
            "actor": a.name,
            "roles": list(a.roles),
            "board_role": a.board_role,
            "key": None if a.public_key is None else f"ed25519 {a.public_key[:16]}",
            "registered_by": a.key_by,
            "ledger_entry": a.key_entry,
            "made_by_registrar": bool(a.key_made) and a.key_by != a.name,
        }
        for a in sorted(state.actors.values(), key=lambda a: a.entry)
    ]


def _money(text: str) -> Decimal:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _rejected(
    state: Replay, year: int, texts: Mapping[tuple[str, str, int], str]
) -> list[dict[str, Any]]:
    """Requests rejected in the year: each rejection's reviewer, board role and the hash
    of its rationale from the ledger (with the store's text when it matches the hash)."""
    out = []
    for r in sorted(state.requests.values(), key=lambda r: r.entry):
        if r.state != "rejected" or _year_of(r.time) != year:
            continue
        decisions = sorted(
            (d for d in state.decisions.values() if d.subject == r.id and d.decision == "reject"),
            key=lambda d: d.entry,
        )
        reasons, shown = [], []
        for d in decisions:
            text = texts.get((d.subject, d.reviewer, d.round))
            if text is not None and d.rationale_sha256 not in (None, text_sha256(text)):
                text = None  # the store's text is not what was decided (an anomaly)
            why = text if text is not None else f"rationale sha256 {d.rationale_sha256 or '?'}"
            reasons.append(f"{d.reviewer} ({d.board_role}): {why}")
            shown.append(
                {
                    "reviewer": d.reviewer,
                    "board_role": d.board_role,
                    "round": d.round,
                    "rationale_sha256": d.rationale_sha256,
                    "ledger_entry": d.entry,
                }
            )
        out.append({"request": r.id, "dataset": r.dataset, "reasons": reasons, "decisions": shown})
    return out


def _dp_budgets(state: Replay) -> list[dict[str, Any]]:
    """Every DP budget: total, spent and remaining rho (exact fractions and decimals), the
    queries paid from it, and where its total came from (the grade default, an approved
    budget change, or a steward's lowering)."""
    out = []
    for (dataset, recipient), row in sorted(state.budgets.items()):
        total, spent = row.total, row.spent
        out.append(
            {
                "dataset": dataset,
                "recipient": recipient,
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


def _decimal(value: Fraction) -> str:
    """A rho as a decimal of at most 6 significant digits."""
    with localcontext() as context:
        context.prec = 6
        text = f"{Decimal(value.numerator) / Decimal(value.denominator):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _invariants(
    state: Replay, released: list[Any], charges: list[ChargeFact], policy: GovernancePolicy
) -> list[str]:
    """Every invariant re-checked on the replayed state."""
    found = []
    for r in released:
        approvals = [
            d
            for d in state.decisions.values()
            if d.subject == r.id and d.round == r.round and d.decision == "approve"
        ]
        data = state.datasets.get((r.dataset, r.version))
        grade = data.grade if data is not None else str(r.release.grade)
        if not policy.approves([str(d.board_role) for d in approvals], grade):
            found.append(f"request {r.id} was released without the quorum the policy demands")
        involved = {r.requester, *r.preparers}
        if any(d.reviewer in involved for d in approvals):
            found.append(f"request {r.id} was approved by its requester or preparer")
        if grade == "core":
            found.append(f"request {r.id} released core data")
    for c in charges:
        request = state.requests.get(c.request)
        standard = state.fee_standards.get(c.fee_standard)
        if request is None or request.purpose in FREE_PURPOSES:
            found.append(f"{c.label} was made on a free purpose")
        if standard is None or standard.state != "approved":
            found.append(f"{c.label} has no approved fee standard")
        elif _money(c.unit_price) > _money(standard.cap):
            found.append(f"{c.label} is above its standard's cap")
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
    try:
        return ledger_problems(governance.ledger, key, witnessed)
    except CustodesError as exc:
        return [f"the ledger fails verification: {exc.message}"]
