"""Governance as differential privacy sees it: the :class:`custodes.dp.Access` adapter.

Only the workspace sees both ``governance`` and ``dp``; it wraps a
:class:`~custodes.governance.Governance` acting as one actor in this adapter
and hands it to :class:`~custodes.dp.PrivateQueries`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.dp import BOUNDED_TABLES, LRU, Bounded, Catalogued, Member
from custodes.errors import TamperedError
from custodes.store import Actor, LedgerEntry, Release, Request

if TYPE_CHECKING:
    from custodes.governance import Governance

__all__ = ["GovernanceAccess", "QueryCaches"]

_GRANTING = ("released", "monitoring")
"""The states of a request whose access the recipient holds."""


@dataclass(frozen=True)
class QueryCaches:
    """What a workspace keeps between DP queries, bounded: the bounded tables."""

    tables: Bounded = field(default_factory=lambda: LRU(BOUNDED_TABLES))


class GovernanceAccess:
    """:class:`custodes.dp.Access` over governance acting as one actor."""

    def __init__(self, governance: Governance) -> None:
        self.governance = governance

    @property
    def actor(self) -> str:
        """Who acts."""
        return self.governance.actor

    @property
    def delta(self) -> float:
        """The policy's delta."""
        return self.governance.policy.dp_delta

    def transaction(self) -> AbstractContextManager[Session]:
        """One store transaction (its ledger entries commit with it)."""
        return self.governance._change()

    def member(self, session: Session) -> Member:
        """The acting actor, registered."""
        return _member(self.governance._me(session))

    def need(self, session: Session, *roles: str) -> Member:
        """The acting actor, holding one of ``roles``."""
        return _member(self.governance._need(session, *roles))

    def is_actor(self, session: Session, name: str) -> bool:
        """Whether ``name`` is a registered actor."""
        return session.get(Actor, name) is not None

    def record(self, session: Session, event: str, subject: str, payload: dict[str, Any]) -> int:
        """Append a ledger entry by the acting actor."""
        return self.governance._record(session, event, subject, payload)

    def vote(
        self, session: Session, subject: str, what: str, approve: bool, rationale: str, event: str
    ) -> list[tuple[str, str]] | None:
        """The board's vote, recorded by governance."""
        me = self.governance._need(session, "reviewer")
        approvals = self.governance._vote(session, me, subject, what, approve, rationale, event)
        if approvals is None:
            return None
        return [(d.reviewer, d.board_role) for d in approvals]

    def dataset(self, session: Session, name: str) -> Catalogued:
        """The catalog's latest version of ``name``."""
        row = self.governance._dataset(session, name)
        return Catalogued(
            name=row.name,
            version=row.version,
            grade=row.grade,
            columns=tuple(json.loads(row.columns)),
            has_header=row.has_header,
            source=row.source,
            content_sha256=row.content_sha256,
        )

    def grants(self, session: Session, dataset: str) -> list[frozenset[str]]:
        """The columns of each released DP-query request of the actor on ``dataset``."""
        released = session.execute(
            select(Request.id, Request.details).where(
                Request.dataset == dataset,
                Request.requester == self.actor,
                Request.state.in_(_GRANTING),
            )
        ).all()
        grants = []
        for request_id, text in released:
            details = json.loads(text)
            model, columns = details.get("sharing_model"), details.get("columns", [])
            _as_released(session, request_id, model, columns)
            if model == "dp_query":
                grants.append(frozenset(columns))
        return grants

    def source(self, dataset: Catalogued) -> Path:
        """The registered file, refused when it changed or is gone since registration."""
        return self.governance.checked_source(
            dataset.name, dataset.version, dataset.source, dataset.content_sha256
        )

    def grade_default(self, grade: str, *, ceiling: bool) -> Fraction:
        """The policy's default rho of a grade (a recipient's, or the global ceiling)."""
        policy = self.governance.policy
        table = policy.dp_dataset_rho if ceiling else policy.dp_recipient_rho
        return Fraction(table.get(grade, "0"))

    def board_approves(self, board_roles: Sequence[str], grade: str) -> bool:
        """Whether these approvals meet the policy's quorum and seats for ``grade``."""
        return self.governance.policy.approves(list(board_roles), grade)

    def close(self) -> None:
        """Close the store's connections."""
        self.governance.close()


def _member(actor: Actor) -> Member:
    return Member(
        name=actor.name, roles=frozenset(json.loads(actor.roles)), board_role=actor.board_role
    )


def _as_released(session: Session, request_id: str, model: Any, columns: Any) -> None:
    """Refuse a grant whose sharing model or columns in the store are not those its release
    entry recorded (the store edited behind custodes' back to widen access)."""
    payload = _release_entry(session, request_id)
    if payload is None:
        raise TamperedError(
            f"request {request_id} is released in the store, not on the ledger; the store "
            "was changed behind custodes' back: an auditor runs `custodes audit report`."
        )
    if "columns" in payload and (payload["sharing_model"], payload["columns"]) != (
        model,
        columns,
    ):
        raise TamperedError(
            f"request {request_id}: the columns or sharing model the store grants are not "
            "those its release on the ledger recorded; the store was changed behind "
            "custodes' back: an auditor runs `custodes audit report`."
        )


def _release_entry(session: Session, request_id: str) -> dict[str, Any] | None:
    """The payload of a request's newest ``request.released`` entry: found by its release
    record's ledger index, else (no record, or one that does not lead to it) by a search
    of the ledger."""
    index = session.execute(
        select(Release.ledger_index)
        .where(Release.request_id == request_id)
        .order_by(Release.released_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    row = None if index is None else session.get(LedgerEntry, index)
    texts = [] if row is None else [row.entry]
    if not texts or _released_payload(texts[0], request_id) is None:
        texts = list(
            session.execute(
                select(LedgerEntry.entry)
                .where(LedgerEntry.entry.contains(f'"subject":"{request_id}"'))
                .where(LedgerEntry.entry.contains('"type":"request.released"'))
                .order_by(LedgerEntry.index.desc())
                .limit(1)
            ).scalars()
        )
    return _released_payload(texts[0], request_id) if texts else None


def _released_payload(text: str, request_id: str) -> dict[str, Any] | None:
    """The payload of ``text`` when it is ``request_id``'s release entry."""
    entry = json.loads(text)
    if (entry.get("type"), entry.get("subject")) != ("request.released", request_id):
        return None
    payload: dict[str, Any] = entry["payload"]
    return payload
