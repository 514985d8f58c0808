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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeAlias

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.errors import ForbiddenError, InvalidInputError
from custodes.governance._policy import DEFAULT_GOVERNANCE, GovernancePolicy, load_governance_policy
from custodes.governance._ports import Preparer
from custodes.governance._workflow import check_move, check_step
from custodes.ledger import Ledger, public_key_hex
from custodes.store import Actor, Dataset, LedgerEntry, Request, timestamp

__all__ = ["FULL_VIEW", "Acting", "KeyLike", "key_hex", "now"]

KeyLike: TypeAlias = Ed25519PrivateKey | Callable[[], Ed25519PrivateKey]
"""The acting actor's private key, or what loads it when it is first needed."""


def key_hex(key: Ed25519PrivateKey) -> str:
    """The public half of ``key`` as the ledger and the store hold it: hex of 32 bytes."""
    return public_key_hex(key.public_key())


FULL_VIEW = ("admin", "steward", "reviewer", "pricing_authority", "auditor")
"""Roles that see every actor and request; anyone else (a requester) sees only their own."""


now = timestamp
"""The time now, UTC, to the second (ISO 8601 with a Z), as the store's rows hold it."""


class Acting:
    """Governance of one deployment, acting as one actor: the shared plumbing."""

    def __init__(
        self,
        preparer: Preparer,
        actor: str,
        policy: GovernancePolicy | None = None,
        key: KeyLike | None = None,
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
        self._key_source: KeyLike = key if key is not None else self._own_key
        self._key: Ed25519PrivateKey | None = None

    def _own_key(self) -> Ed25519PrivateKey:
        return self.preparer.actor_key(self.actor)

    def _signer(self) -> Ed25519PrivateKey:
        """The acting actor's private key (loaded when first needed)."""
        if self._key is None:
            source = self._key_source
            self._key = source if isinstance(source, Ed25519PrivateKey) else source()
        return self._key

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
        signer = self._signer()
        return self.ledger.append(session, event, self.actor, subject, hashed, signer=signer)

    def _me(self, session: Session) -> Actor:
        me = session.get(Actor, self.actor)
        if me is None:
            raise ForbiddenError(
                f"{self.actor!r} is not a registered actor; an admin adds actors with "
                "`custodes actor add`."
            )
        self._prove(session, me)
        return me

    def _prove(self, session: Session, me: Actor) -> None:
        """Refuse unless the acting key is ``me``'s, as registered on the ledger.

        The store's copy of the key is checked against the ledger entry that
        registered it, so a key swapped in the store behind custodes' back is refused.
        """
        if me.public_key is None or me.key_index is None:
            raise ForbiddenError(
                f"{me.name!r} has no registered key (never registered, or revoked); an admin "
                f"registers one with `custodes actor key {me.name} --as ADMIN`."
            )
        given = key_hex(self._signer())
        if given != me.public_key:
            raise ForbiddenError(
                f"the key given (ed25519 {given[:16]}) is not {me.name!r}'s registered key "
                f"(ed25519 {me.public_key[:16]}); only {me.name!r}'s own private key acts as "
                f"{me.name!r} (--key FILE, the key setting or CUSTODES_KEY)."
            )
        row = session.get(LedgerEntry, me.key_index)
        entry = json.loads(row.entry) if row is not None else {}
        if (
            entry.get("type") not in ("actor.added", "actor.key_registered")
            or entry.get("payload", {}).get("public_key") != me.public_key
            or (entry.get("subject") != me.name and entry.get("subject") != _hashed(me.name))
        ):
            raise ForbiddenError(
                f"{me.name!r}'s key in the store is not the one the ledger registered (entry "
                f"{me.key_index}); the store was changed behind custodes' back: an auditor "
                "runs `custodes audit report`."
            )

    def require(self, *roles: str) -> None:
        """Refuse (:class:`ForbiddenError`) unless the acting actor, proven by its key, holds
        one of ``roles``: for what a face does outside governance (a ledger check)."""
        with self._change() as session:
            self._need(session, *roles)

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


def _hashed(name: str) -> str:
    """``name`` as a ledger subject holds it (a name that is personal data is hashed)."""
    from custodes.detect import hash_personal

    return hash_personal(name, {})[0]
