"""Keeping a witnessed tree head in the workspace: a ``head.witnessed`` ledger entry.

A witness countersigns a head outside the office and keeps the file; the
workspace keeps a copy on its own ledger, so that every later audit of the
workspace demands a consistency proof from it. Only an auditor records one,
as themself: the entry's actor is the witness.
"""

from __future__ import annotations

from sqlalchemy import select

from custodes.errors import ForbiddenError, TamperedError
from custodes.governance._service import Governance
from custodes.ledger import WitnessedHead
from custodes.ledger._witness import WITNESSED
from custodes.store import TreeHead

__all__ = ["record_witnessed_head"]


def record_witnessed_head(governance: Governance, witnessed: WitnessedHead) -> int:
    """Record ``witnessed`` on the ledger (auditor only, as the witness); the entry's index.

    The countersignature must verify, and the head must be the workspace's own
    signed head of that size, as the store holds it.
    """
    with governance._change() as session:
        governance._need(session, "auditor")
        if witnessed.witness != governance.actor:
            raise ForbiddenError(
                f"{governance.actor!r} may not record {witnessed.describe()}: a witness records "
                "their own countersignature (act as the witness)."
            )
        if not witnessed.verify():
            raise TamperedError(
                f"{witnessed.describe()} has a countersignature its witness's key did not make."
            )
        row = session.execute(
            select(TreeHead).where(TreeHead.size == witnessed.size)
        ).scalar_one_or_none()
        if row is None or (row.root_hash, row.signatures_hash, row.timestamp, row.signature) != (
            witnessed.head.root_hash,
            witnessed.head.signatures_hash,
            witnessed.head.timestamp,
            witnessed.head.signature,
        ):
            raise TamperedError(
                f"{witnessed.describe()} is not the workspace's signed head of size "
                f"{witnessed.size}: countersign a head of this ledger (custodes audit witness)."
            )
        return governance._record(session, WITNESSED, f"head-{witnessed.size}", witnessed.payload())
