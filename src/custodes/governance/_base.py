"""What every part of governance shares: acting as an actor, one transaction per change.

Every call acts as an actor whose roles are checked here, in the library, so
no front end can bypass them. Every change is one database transaction that
also appends its ledger event: the change and its record commit together.
The request row is locked first, so two reviewers deciding at once, or two
releases of one request, are serialized: one wins, the other sees the new
state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.errors import ForbiddenError, InvalidInputError
from custodes.governance._policy import DEFAULT_GOVERNANCE, GovernancePolicy, load_governance_policy
from custodes.governance._ports import Preparer
from custodes.governance._workflow import check_move, check_step
from custodes.ledger import Ledger
from custodes.store import Actor, Dataset, Request, timestamp

__all__ = ["FULL_VIEW", "Acting", "now"]

FULL_VIEW = ("admin", "steward", "reviewer", "pricing_authority", "auditor")
"""Roles that see every actor and request; anyone else (a requester) sees only their own."""


now = timestamp
"""The time now, UTC, to the second (ISO 8601 with a Z), as the store's rows hold it."""


class Acting:
    """Governance of one deployment, acting as one actor: the shared plumbing."""

    def __init__(
        self, preparer: Preparer, actor: str, policy: GovernancePolicy | None = None
    ) -> None:
        self.preparer = preparer
        self.settings = preparer.settings
        if policy is None:
            path = self.settings.governance_policy
            policy = load_governance_policy(path) if path else DEFAULT_GOVERNANCE
        self.policy = policy
        self.ledger: Ledger = preparer.ledger  # the deployment's one ledger and store
        self.store = self.ledger.store
        self.actor = actor

    def close(self) -> None:
        """Close the store's connections."""
        self.store.dispose()

    @contextmanager
    def _change(self) -> Iterator[Session]:
        with self.store.transaction() as session:
            yield session

    def _record(
        self, session: Session, event: str, subject: str, payload: Mapping[str, Any]
    ) -> int:
        from custodes.detect import hash_personal

        # Column names and other strings that are personal data go to the ledger hashed.
        subject, hashed = hash_personal(subject, payload)
        return self.ledger.append(session, event, self.actor, subject, hashed)

    def _me(self, session: Session) -> Actor:
        me = session.get(Actor, self.actor)
        if me is None:
            raise ForbiddenError(
                f"{self.actor!r} is not a registered actor; an admin adds actors with "
                "`custodes actor add`."
            )
        return me

    def _need(self, session: Session, *roles: str) -> Actor:
        me = self._me(session)
        mine = set(json.loads(me.roles))
        if not mine & set(roles):
            raise ForbiddenError(
                f"{self.actor!r} ({', '.join(sorted(mine))}) may not do this; it needs the role "
                + " or ".join(repr(r) for r in roles)
                + "."
            )
        return me

    def _sees_all(self, me: Actor) -> bool:
        return bool(set(json.loads(me.roles)) & set(FULL_VIEW))

    def _request(self, session: Session, request_id: str) -> Request:
        row = session.execute(
            select(Request).where(Request.id == request_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise InvalidInputError(f"there is no request {request_id!r}.")
        return row

    def _dataset(self, session: Session, name: str, version: int | None = None) -> Dataset:
        query = select(Dataset).where(Dataset.name == name)
        if version is not None:
            query = query.where(Dataset.version == version)
        row = session.execute(query.order_by(Dataset.version.desc()).limit(1)).scalar_one_or_none()
        if row is None:
            raise InvalidInputError(f"there is no dataset {name!r} in the catalog.")
        return row

    @staticmethod
    def _step(row: Request, step: str) -> None:
        """Refuse unless a request in its state may take ``step`` (see the workflow table)."""
        check_step(row.id, row.state, step)

    def _move(self, session: Session, row: Request, state: str, payload: Mapping[str, Any]) -> int:
        """Move a request to ``state`` through the workflow's transition table, recorded on
        the ledger; the entry's index. A change the table does not allow is refused."""
        old = row.state
        check_move(row.id, old, state)
        row.state = state
        row.updated_at = now()
        return self._record(
            session, f"request.{state}", row.id, {"from": old, "to": state, **dict(payload)}
        )
