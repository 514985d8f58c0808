"""The store reconciled with the replayed ledger: every record that differs is an anomaly.

The store is a cache of the ledger. Whoever edits the database behind
custodes' back (a charge lowered, a decision deleted, a role added, a budget
raised) leaves records the ledger does not back. :func:`reconcile` compares
every record of the store with the state the ledger implies
(:mod:`._replay`) and names each difference with the record and the ledger
entry that says otherwise; a record with no ledger entry, and a ledger fact
missing from the store, are named too. Anomalies name ids, actors, amounts,
grades and states, never a value of the data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.governance._replay import GLOBAL, Replay
from custodes.store import (
    Actor,
    Charge,
    Dataset,
    Decision,
    Department,
    DPBudget,
    DPBudgetChange,
    DPConfig,
    FeeStandard,
    Release,
    Request,
    RevenueLimit,
)

__all__ = ["reconcile"]

T = TypeVar("T")


def _hashed(text: str) -> str:
    """How the ledger holds a string that was personal data (see ``hash_personal``)."""
    return "sha256:" + text_sha256(text)


def _same(stored: Any, recorded: Any) -> bool:
    """Whether a store value is what the ledger recorded (numbers by value, a string the
    ledger holds hashed by its hash)."""
    if stored == recorded:
        return True
    if isinstance(stored, str) and isinstance(recorded, str):
        if recorded == _hashed(stored):
            return True
        try:
            return Decimal(stored) == Decimal(recorded)
        except (InvalidOperation, ValueError):
            return False
    return False


def _find(mapping: Mapping[Any, T], key: Any) -> T | None:
    """A replayed fact by a store key, also when the ledger holds the key hashed."""
    found = mapping.get(key)
    if found is None and isinstance(key, str):
        found = mapping.get(_hashed(key))
    return found


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _differs(found: list[str], record: str, at: int, fields: list[tuple[str, Any, Any]]) -> None:
    """One anomaly per field whose store value is not what the ledger's entry ``at`` says."""
    for name, stored, recorded in fields:
        if recorded is not None and not _same(stored, recorded):
            found.append(
                f"{record}: the store says {name} {_shown(stored)}, ledger entry {at} "
                f"recorded {_shown(recorded)}"
            )


def reconcile(session: Session, state: Replay) -> list[str]:
    """Every record of the store compared with the replayed ledger; the differences."""
    found: list[str] = []
    checks = {
        "actors": _actors, "catalog": _catalog, "requests": _requests,
        "releases": _releases, "decisions": _decisions, "fee standards": _fees,
        "charges": _charges, "DP budgets": _budgets, "DP settings": _dp_configs,
    }  # fmt: skip
    for what, check in checks.items():
        try:
            check(session, state, found)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            found.append(
                f"the store's {what} hold a value custodes cannot read ({type(exc).__name__}): "
                "changed behind custodes' back; the checks of the rest of them were not made"
            )
    return found


def _key(public_key: str | None, index: int | None) -> str:
    """An actor's key as an anomaly names it: its fingerprint and registering entry."""
    if public_key is None:
        return "none"
    return f"ed25519 {public_key[:16]} (registered by entry {index})"


def _actors(session: Session, state: Replay, found: list[str]) -> None:
    seen = set()
    for row in session.execute(select(Actor).order_by(Actor.name)).scalars():
        fact = _find(state.actors, row.name)
        if fact is None:
            found.append(f"actor {row.name} has no ledger entry")
            continue
        seen.add(fact.name)
        roles = sorted(json.loads(row.roles))
        if roles != sorted(fact.roles):
            found.append(
                f"actor {row.name}: the store gives roles {_shown(roles)}, the ledger (entry "
                f"{fact.entry}) gives {_shown(fact.roles)}"
            )
        if row.board_role != fact.board_role:
            found.append(
                f"actor {row.name}: the store gives board role {_shown(row.board_role)}, the "
                f"ledger (entry {fact.entry}) gives {_shown(fact.board_role)}"
            )
        if fact.organisation is not None and row.organisation != fact.organisation:
            found.append(
                f"actor {row.name}: the store's organisation is not the one the ledger (entry "
                f"{fact.entry}) registered"
            )
        if (row.public_key, row.key_index) != (fact.public_key, fact.key_entry):
            found.append(
                f"actor {row.name}: the store gives key {_key(row.public_key, row.key_index)}, "
                f"the ledger gives {_key(fact.public_key, fact.key_entry)}"
            )
    for name, fact in state.actors.items():
        if name not in seen:
            found.append(f"actor {name} (ledger entry {fact.entry}) is missing from the store")


def _catalog(session: Session, state: Replay, found: list[str]) -> None:
    seen: set[Any] = set()
    for dep in session.execute(select(Department).order_by(Department.code)).scalars():
        if _find(state.departments, dep.code) is None:
            found.append(f"department {dep.code} has no ledger entry")
        seen.add(dep.code)
        seen.add(_hashed(dep.code))
    for code, (_, at) in state.departments.items():
        if code not in seen:
            found.append(f"department {code} (ledger entry {at}) is missing from the store")
    seen = set()
    for row in session.execute(select(Dataset).order_by(Dataset.name, Dataset.version)).scalars():
        data = state.datasets.get((row.name, row.version))
        record = f"dataset {row.name}@{row.version}"
        if data is None:
            found.append(f"{record} has no ledger entry")
            continue
        seen.add((row.name, row.version))
        _differs(found, record, data.entry, [
            ("grade", row.grade, data.grade),
            ("department", row.department, data.department),
            ("rows", row.rows, data.rows),
        ])  # fmt: skip
        if row.content_sha256 != data.content_sha256:
            found.append(
                f"{record}: the store's content hash is not the one ledger entry {data.entry} "
                "recorded"
            )
    for key, data in state.datasets.items():
        if key not in seen:
            found.append(
                f"dataset {data.name}@{data.version} (ledger entry {data.entry}) is missing "
                "from the store"
            )


def _releases(session: Session, state: Replay, found: list[str]) -> None:
    """Release records (who received what, whether it is still held: the mosaic check's
    input) against the request's release entry, and every release entry against a record."""
    recorded: set[int] = set()
    for row in session.execute(select(Release).order_by(Release.id)).scalars():
        fact = _find(state.requests, row.request_id)
        release = fact.release if fact is not None else None
        if release is None:
            found.append(f"release {row.id} of request {row.request_id} has no ledger entry")
            continue
        if row.ledger_index != release.entry:
            continue
        recorded.add(release.entry)
        differs = [
            what
            for what, same in (
                ("recipient", _same(row.recipient, release.recipient)),
                ("file hash", row.artifact_sha256 == release.artifact_sha256),
                ("sharing model", release.sharing_model in (None, row.sharing_model)),
                ("view hash", release.view_sha256 in (None, row.view_sha256)),
                ("term end", release.term_end in (None, row.term_end)),
                ("revocation", (row.revoked_at is not None) == (release.ended == "revoked")),
                ("expiry", row.expired_at is None or release.ended == "expired"),
            )
            if not same
        ]
        if differs:
            found.append(
                f"release {row.id} of request {row.request_id}: the store's "
                f"{', '.join(differs)} is not what the ledger recorded (entry {release.entry} "
                "and after)"
            )
    for fact in state.requests.values():
        release = fact.release
        if release is not None and release.entry not in recorded:
            found.append(
                f"the release of request {fact.id} (ledger entry {release.entry}) is missing "
                "from the release records"
            )


def _dp_configs(session: Session, state: Replay, found: list[str]) -> None:
    """A dataset's DP settings (privacy unit, bounds, public groups) against their hash."""
    for row in session.execute(select(DPConfig).order_by(DPConfig.dataset)).scalars():
        recorded = state.dp_configs.get(row.dataset)
        if recorded is None:
            found.append(f"the DP settings of {row.dataset} have no ledger entry")
        elif text_sha256(row.config) != recorded[0]:
            found.append(
                f"the DP settings of {row.dataset} are not those ledger entry {recorded[1]} "
                "recorded (their hash differs)"
            )


def _json(text: str | None) -> dict[str, Any]:
    """A store's JSON column as a mapping ({} when it is not one: that differs too)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _requests(session: Session, state: Replay, found: list[str]) -> None:
    seen = set()
    for row in session.execute(select(Request).order_by(Request.id)).scalars():
        fact = _find(state.requests, row.id)
        if fact is None:
            found.append(f"request {row.id} has no ledger entry")
            continue
        seen.add(fact.id)
        if row.state != fact.state:
            found.append(
                f"request {row.id}: the store says {row.state}, the ledger's last entry "
                f"{fact.entry} says {fact.state}"
            )
        _differs(found, f"request {row.id}", fact.filed_entry, [
            ("requester", row.requester, fact.requester),
            ("dataset", f"{row.dataset}@{row.dataset_version}",
             f"{fact.dataset}@{fact.version}"),
        ])  # fmt: skip
        if fact.objectives_entry is not None:
            details = _json(row.details)
            asked = (details.get("purpose"), details.get("sharing_model"), details.get("columns"))
            if asked != (fact.purpose, fact.sharing_model, fact.columns):
                found.append(
                    f"request {row.id}: the store's purpose, sharing model or columns are not "
                    f"those ledger entry {fact.objectives_entry} recorded"
                )
        if fact.preparer is not None and row.preparer != fact.preparer:
            found.append(
                f"request {row.id}: the store says preparer {_shown(row.preparer)}, the ledger "
                f"gives {fact.preparer}"
            )
        if fact.preparer is not None and row.artifact_sha256 != fact.artifact_sha256:
            found.append(f"request {row.id}: the store's artifact hash is not the ledger's")
        release = json.loads(row.release or "{}")
        if fact.release is not None:
            recipient = release.get("recipient")
            if recipient is None:
                found.append(
                    f"request {row.id}: its release (ledger entry {fact.release.entry}) is "
                    "missing from the store"
                )
            elif not _same(recipient, fact.release.recipient):
                found.append(
                    f"request {row.id}: the store's recipient is not the one ledger entry "
                    f"{fact.release.entry} recorded"
                )
        elif release.get("recipient") is not None:
            found.append(f"request {row.id}: its release has no ledger entry")
    for rid, fact in state.requests.items():
        if rid not in seen:
            found.append(
                f"request {rid} (ledger entry {fact.filed_entry}) is missing from the store"
            )


def _decisions(session: Session, state: Replay, found: list[str]) -> None:
    seen = set()
    rows = session.execute(
        select(Decision).order_by(Decision.request_id, Decision.round, Decision.reviewer)
    ).scalars()
    for row in rows:
        record = f"decision of {row.reviewer} on {row.request_id} round {row.round}"
        fact = state.decisions.get((row.request_id, row.reviewer, row.round))
        if fact is None:
            found.append(f"{record} has no ledger entry")
            continue
        seen.add((row.request_id, row.reviewer, row.round))
        _differs(found, record, fact.entry, [
            ("decision", row.decision, fact.decision),
            ("board role", row.board_role, fact.board_role),
        ])  # fmt: skip
        if fact.rationale_sha256 is not None and text_sha256(row.rationale) != (
            fact.rationale_sha256
        ):
            found.append(
                f"{record}: its rationale in the store does not match the hash ledger entry "
                f"{fact.entry} recorded"
            )
    for key, fact in state.decisions.items():
        if key not in seen:
            found.append(
                f"decision of {fact.reviewer} on {fact.subject} round {fact.round} (entry "
                f"{fact.entry}) is missing from the store"
            )


def _fees(session: Session, state: Replay, found: list[str]) -> None:
    seen = set()
    for row in session.execute(select(FeeStandard).order_by(FeeStandard.id)).scalars():
        fact = state.fee_standards.get(row.id)
        if fact is None:
            found.append(f"fee standard {row.id} has no ledger entry")
            continue
        seen.add(row.id)
        _differs(found, f"fee standard {row.id}", fact.entry, [
            ("cap", row.cap, fact.cap),
            ("unit", row.unit, fact.unit),
            ("currency", row.currency, fact.currency),
            ("department", row.department, fact.department),
            ("product", row.product, fact.product),
            ("state", row.state, fact.state),
            ("approver", row.approved_by, fact.approved_by),
        ])  # fmt: skip
    for sid, fact in state.fee_standards.items():
        if sid not in seen:
            found.append(
                f"fee standard {sid} (ledger entry {fact.entry}) is missing from the store"
            )
    limits = set()
    for lim in session.execute(select(RevenueLimit)).scalars():
        record = f"revenue limit of {lim.department} for {lim.year}"
        limit = _find(state.revenue_limits, (lim.department, lim.year))
        if limit is None:
            found.append(f"{record} has no ledger entry")
            continue
        limits.add((lim.department, lim.year))
        _differs(found, record, limit.entry, [
            ("amount", lim.amount, limit.amount), ("currency", lim.currency, limit.currency),
        ])  # fmt: skip
    for key, limit in state.revenue_limits.items():
        if key not in limits:
            found.append(
                f"revenue limit of {limit.department} for {limit.year} (ledger entry "
                f"{limit.entry}) is missing from the store"
            )


def _charges(session: Session, state: Replay, found: list[str]) -> None:
    rows = {c.id: c for c in session.execute(select(Charge).order_by(Charge.id)).scalars()}
    by_id = {c.id: c for c in state.charges if c.id is not None}
    # Entries made before a charge's id was recorded: matched in order, per request.
    older = [c for c in state.charges if c.id is None]
    for fact in older:
        match = next(
            (r for r in rows.values() if r.request_id == fact.request and r.id not in by_id), None
        )
        if match is not None:
            fact.id = match.id
            by_id[match.id] = fact
    for cid, row in rows.items():
        known = by_id.get(cid)
        if known is None:
            found.append(f"charge {cid} has no ledger entry")
            continue
        _differs(found, f"charge {cid}", known.entry, [
            ("amount", row.amount, known.amount),
            ("unit price", row.unit_price, known.unit_price),
            ("quantity", row.quantity, known.quantity),
            ("deducted", row.deducted, known.deducted),
            ("currency", row.currency, known.currency),
            ("fee standard", row.fee_standard, known.fee_standard),
            ("request", row.request_id, known.request),
            ("department", row.department, known.department),
            ("year", row.year, known.year),
            ("charged by", row.charged_by, known.charged_by),
        ])  # fmt: skip
    for fact in state.charges:
        if fact.id is None or fact.id not in rows:
            found.append(f"{fact.label} (ledger entry {fact.entry}) is missing from the store")


def _budgets(session: Session, state: Replay, found: list[str]) -> None:
    seen = set()
    for row in session.execute(select(DPBudget).order_by(DPBudget.dataset, DPBudget.recipient)):
        budget = row[0]
        whose = (
            "the global ceiling" if budget.recipient == GLOBAL else f"{budget.recipient}'s budget"
        )
        fact = _find(state.budgets, (budget.dataset, budget.recipient))
        if fact is None:
            found.append(f"{whose} on {budget.dataset} has no ledger entry")
            continue
        seen.add((budget.dataset, budget.recipient))
        total, spent = Fraction(budget.total), Fraction(budget.spent)
        if spent != fact.spent:
            found.append(
                f"{whose} on {budget.dataset} says rho {budget.spent} spent, but the ledger's "
                f"answered queries add up to {fact.spent} (last entry {fact.entry})"
            )
        if budget.queries != fact.queries:
            found.append(
                f"{whose} on {budget.dataset} says {budget.queries} queries, the ledger "
                f"answered {fact.queries} (last entry {fact.entry})"
            )
        if total == fact.total:
            continue
        if fact.total_entry is not None:
            found.append(
                f"{whose} on {budget.dataset} has total rho {budget.total}, not the {fact.total} "
                f"the ledger last recorded (entry {fact.total_entry})"
            )
        elif total > fact.total:
            found.append(
                f"{whose} on {budget.dataset} (total rho {budget.total}) is above its grade "
                f"default without an approved budget change on the ledger (the ledger, entry "
                f"{fact.entry}, gives {fact.total})"
            )
        else:
            found.append(
                f"{whose} on {budget.dataset} has total rho {budget.total}, not its grade "
                f"default {fact.total} (ledger entry {fact.entry})"
            )
    for key, fact in state.budgets.items():
        if key not in seen:
            found.append(
                f"{fact.whose} on {fact.dataset} (ledger entry {fact.entry}) is missing from the "
                "store"
            )
    changes = set()
    for change in session.execute(select(DPBudgetChange).order_by(DPBudgetChange.id)).scalars():
        proposal = state.budget_changes.get(change.id)
        if proposal is None:
            found.append(f"budget change {change.id} has no ledger entry")
            continue
        changes.add(change.id)
        _differs(found, f"budget change {change.id}", proposal.entry, [
            ("state", change.state, proposal.state),
            ("total rho", str(Fraction(change.total)), str(proposal.total)),
        ])  # fmt: skip
    for cid, proposal in state.budget_changes.items():
        if cid not in changes:
            found.append(
                f"budget change {cid} (ledger entry {proposal.entry}) is missing from the store"
            )
