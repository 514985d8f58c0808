"""The book of release records, kept in the store's ``releases`` table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._names import canonical_name
from custodes.ledger import new_id
from custodes.store import Release, Store

__all__ = ["ReleaseBook", "ReleaseRecord"]


@dataclass(frozen=True)
class ReleaseRecord:
    """One delivered release, as recorded."""

    id: str
    request_id: str
    recipient: str
    dataset: str
    dataset_version: int
    sharing_model: str
    generalization: Mapping[str, Mapping[str, Any]] | None
    """Per quasi-identifier: ``level`` (an int, or ``"local"``) and ``hierarchy_sha256``;
    None for records migrated from before they were kept."""
    local_cuts: Mapping[str, tuple[str, ...]] | None
    """Per quasi-identifier, the labels local recoding released (None: global)."""
    artifact_sha256: str | None
    """The approved artifact's SHA-256 (None: query or enclave access, no file)."""
    delivered_sha256: str | None
    """The delivered copy's SHA-256 (differs from the artifact's once copies are
    fingerprinted)."""
    terms: str
    term_end: str
    released_at: str
    ledger_index: int | None
    revoked_at: str | None
    revocation_sha256: str | None
    expired_at: str | None
    view_sha256: str | None = None
    """The SHA-256 of the release's mosaic view (None: no file, or released before views
    were kept)."""

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and self.expired_at is None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "request": self.request_id,
            "recipient": self.recipient,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "sharing_model": self.sharing_model,
            "generalization": None if self.generalization is None else dict(self.generalization),
            "local_cuts": None
            if self.local_cuts is None
            else {q: list(v) for q, v in self.local_cuts.items()},
            "artifact_sha256": self.artifact_sha256,
            "delivered_sha256": self.delivered_sha256,
            "terms": self.terms,
            "term_end": self.term_end,
            "released_at": self.released_at,
            "ledger_index": self.ledger_index,
            "revoked_at": self.revoked_at,
            "revocation_sha256": self.revocation_sha256,
            "expired_at": self.expired_at,
            "view_sha256": self.view_sha256,
        }

    @classmethod
    def from_row(cls, row: Release) -> ReleaseRecord:
        """The record of a stored row (JSON is the store's business only)."""
        cuts = None if row.local_cuts is None else json.loads(row.local_cuts)
        return cls(
            id=row.id,
            request_id=row.request_id,
            recipient=row.recipient,
            dataset=row.dataset,
            dataset_version=row.dataset_version,
            sharing_model=row.sharing_model,
            generalization=None if row.generalization is None else json.loads(row.generalization),
            local_cuts=None if cuts is None else {q: tuple(v) for q, v in cuts.items()},
            artifact_sha256=row.artifact_sha256,
            delivered_sha256=row.delivered_sha256,
            terms=row.terms,
            term_end=row.term_end,
            released_at=row.released_at,
            ledger_index=row.ledger_index,
            revoked_at=row.revoked_at,
            revocation_sha256=row.revocation_sha256,
            expired_at=row.expired_at,
            view_sha256=row.view_sha256,
        )


class ReleaseBook:
    """The release records of one store. Writes join the caller's transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        session: Session,
        *,
        request_id: str,
        recipient: str,
        dataset: str,
        dataset_version: int,
        sharing_model: str,
        generalization: Mapping[str, Mapping[str, Any]],
        local_cuts: Mapping[str, Sequence[str]] | None,
        artifact_sha256: str | None,
        delivered_sha256: str | None,
        terms: str,
        term_end: str,
        released_at: str,
        ledger_index: int,
        view_sha256: str | None = None,
    ) -> str:
        """Record a release in ``session``'s transaction; its id."""
        release_id = new_id(16)
        session.add(
            Release(
                id=release_id,
                request_id=request_id,
                recipient=recipient,
                dataset=dataset,
                dataset_version=dataset_version,
                sharing_model=sharing_model,
                generalization=json.dumps(
                    {q: dict(g) for q, g in generalization.items()}, ensure_ascii=False
                ),
                local_cuts=None
                if local_cuts is None
                else json.dumps({q: list(v) for q, v in local_cuts.items()}, ensure_ascii=False),
                artifact_sha256=artifact_sha256,
                delivered_sha256=delivered_sha256,
                terms=terms,
                term_end=term_end,
                released_at=released_at,
                ledger_index=ledger_index,
                view_sha256=view_sha256,
            )
        )
        return release_id

    def revoke(self, session: Session, request_id: str, *, at: str, reason_sha256: str) -> None:
        """Mark the active releases of a request revoked."""
        for row in self._active(session, request_id):
            row.revoked_at, row.revocation_sha256 = at, reason_sha256

    def expire(self, session: Session, request_id: str, *, at: str) -> None:
        """Mark the active releases of a request expired."""
        for row in self._active(session, request_id):
            row.expired_at = at

    @staticmethod
    def _active(session: Session, request_id: str) -> list[Release]:
        query = select(Release).where(
            Release.request_id == request_id,
            Release.revoked_at.is_(None),
            Release.expired_at.is_(None),
        )
        return list(session.execute(query).scalars())

    def of_request(self, request_id: str) -> list[ReleaseRecord]:
        """The releases of one request, oldest first."""
        with self.store.transaction() as session:
            query = select(Release).where(Release.request_id == request_id)
            return [ReleaseRecord.from_row(r) for r in session.execute(_ordered(query)).scalars()]

    def to_recipient(self, recipient: str, *, active_only: bool = False) -> list[ReleaseRecord]:
        """Every earlier release to ``recipient``, oldest first (the mosaic check's input);
        with ``active_only`` only those neither revoked nor expired."""
        with self.store.transaction() as session:
            return self.to_recipient_in(session, recipient, active_only=active_only)

    @staticmethod
    def to_recipient_in(
        session: Session, recipient: str, *, active_only: bool = False
    ) -> list[ReleaseRecord]:
        """:meth:`to_recipient` in the caller's transaction."""
        query = select(Release).where(Release.recipient == recipient)
        if active_only:
            query = query.where(Release.revoked_at.is_(None), Release.expired_at.is_(None))
        return [ReleaseRecord.from_row(r) for r in session.execute(_ordered(query)).scalars()]

    @staticmethod
    def held_in(session: Session, recipient: str | None, today: str) -> list[ReleaseRecord]:
        """What ``recipient`` holds (the mosaic check's input), oldest first: its releases
        neither revoked nor expired (by mark or by their term's end before ``today``,
        YYYY-MM-DD), and every open publication likewise (anyone holds those). Names are
        compared as people read them (:func:`~custodes._names.canonical_name`). With
        None: every such release, to anyone."""
        query = select(Release).where(
            Release.revoked_at.is_(None),
            Release.expired_at.is_(None),
            Release.term_end >= today,
        )
        live = [ReleaseRecord.from_row(r) for r in session.execute(_ordered(query)).scalars()]
        if recipient is None:
            return live
        name = canonical_name(recipient)
        return [
            r
            for r in live
            if r.sharing_model == "open_publication" or canonical_name(r.recipient) == name
        ]

    def all(self) -> list[ReleaseRecord]:
        """Every release record, oldest first."""
        with self.store.transaction() as session:
            return [
                ReleaseRecord.from_row(r)
                for r in session.execute(_ordered(select(Release))).scalars()
            ]


def _ordered(query: Any) -> Any:
    return query.order_by(Release.released_at, Release.id)
