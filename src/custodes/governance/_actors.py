"""Actors: identity records, roles, board roles and personal keys.

Every actor has an Ed25519 key pair; the store and the ledger know only its
public half. The ``actor.added`` entry carries it (signed by the admin who
adds the actor; the very first admin signs its own), and ``actor.key_registered``
and ``actor.key_revoked`` rotate and revoke it. A revoked key signs nothing
after its revocation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from custodes.errors import ForbiddenError, RefusedError, SettingError
from custodes.governance._base import Acting, key_hex, now
from custodes.governance._policy import BOARD_ROLES, ROLES
from custodes.ledger import identifier_kind
from custodes.store import Actor

__all__ = ["Actors"]


class Actors(Acting):
    """Who may act: registering actors and listing them."""

    def add_actor(
        self,
        name: str,
        roles: Sequence[str],
        *,
        organisation: str,
        credential: str,
        board_role: str | None = None,
        public_key: str | None = None,
    ) -> Path | None:
        """Register an actor (admin only; the very first actor must be an admin) with its
        public key (hex of the 32 raw bytes); without one, a key pair is made and its
        private key written to the keyring: where is returned (None: a key was given)."""
        _check_name(name)
        unknown = sorted(set(roles) - set(ROLES))
        if not roles or unknown:
            raise SettingError(
                f"roles {', '.join(unknown) or '(none)'} unknown; choose from {', '.join(ROLES)}."
            )
        if "reviewer" in roles and board_role not in BOARD_ROLES:
            raise SettingError(f"a reviewer needs a board role: one of {', '.join(BOARD_ROLES)}.")
        if not organisation.strip() or not credential.strip():
            raise SettingError(
                "an actor needs a verified identity record: organisation and credential reference."
            )
        public_key = _checked_hex(public_key)
        with self._change() as session:
            first = session.execute(select(Actor).limit(1)).first() is None
            if first:
                if "admin" not in roles:
                    raise RefusedError("the first actor of a workspace must be an admin.")
                if self.actor != name:
                    raise SettingError(
                        f"the first actor adds itself: act as {name!r} (--as {name})."
                    )
            elif self.actor == name and session.get(Actor, name) is None:
                raise SettingError(
                    f"say which admin adds {name!r}: the workspace has actors already, and only "
                    "its very first actor adds itself. Pass --as ADMIN (or set the actor setting)."
                )
            else:
                self._need(session, "admin")
            if session.get(Actor, name) is not None:
                raise RefusedError(f"actor {name!r} exists already.")
            public_key, made = self._new_or_given(name, public_key)
            if first:  # the first admin signs its own registration, with its new key
                self._sign_as(name, public_key, made)
            row = Actor(
                name=name,
                roles=json.dumps(sorted(set(roles))),
                board_role=board_role,
                organisation=organisation,
                credential=credential,
                created_at=now(),
                public_key=public_key,
            )
            session.add(row)
            row.key_index = self._record(
                session,
                "actor.added",
                name,
                {
                    "roles": sorted(set(roles)),
                    "board_role": board_role,
                    "organisation": organisation,
                    "public_key": public_key,
                    "key_made": made is not None,
                },
            )
        return None if made is None else self.preparer.new_key_path(name)

    def register_key(self, name: str, public_key: str | None = None) -> Path | None:
        """Give ``name`` a new key: by ``name`` itself with its current key (rotation), or by
        an admin when ``name`` holds none (after a revocation, the way back): an admin never
        replaces a key an actor holds. Without ``public_key`` (hex), a key pair
        is made into the keyring (where is returned). In a workspace made before personal
        keys, where no actor has a key yet, an admin registers its own first key this way."""
        public_key = _checked_hex(public_key)
        with self._change() as session:
            target = session.get(Actor, name)
            if target is None:
                raise RefusedError(f"there is no actor {name!r}.")
            keyless = (
                session.execute(
                    select(Actor.name).where(Actor.public_key.is_not(None)).limit(1)
                ).first()
                is None
            )
            if keyless:  # the bootstrap of a workspace made before personal keys
                if self.actor != name or "admin" not in json.loads(target.roles):
                    raise ForbiddenError(
                        "no actor has a key yet: an admin first registers its own "
                        f"(`custodes actor key ADMIN --as ADMIN`); {name!r} cannot be first."
                    )
            elif self.actor != name:
                self._need(session, "admin")
                if target.public_key is not None:
                    raise ForbiddenError(
                        f"{name!r} holds a key (ed25519 {target.public_key[:16]}): only "
                        f"{name!r} rotates it (`custodes actor key {name} --as {name}`); "
                        "after a loss, revoke it first (`custodes actor revoke-key`), which "
                        "the ledger and the audit report show."
                    )
            else:
                self._me(session)  # rotating one's own key needs the current one
            # Only once allowed: a new pair moves a key file already in the keyring aside.
            public_key, made = self._new_or_given(name, public_key)
            if keyless:
                self._sign_as(name, public_key, made)
            previous = target.public_key
            target.public_key = public_key
            target.key_index = self._record(
                session,
                "actor.key_registered",
                name,
                {"public_key": public_key, "replaces": previous, "key_made": made is not None},
            )
        return None if made is None else self.preparer.new_key_path(name)

    def _new_or_given(
        self, name: str, public_key: str | None
    ) -> tuple[str, Ed25519PrivateKey | None]:
        """The key to register for ``name``: the one given, else a new pair made into the
        keyring (its private key returned too)."""
        if public_key is not None:
            return public_key, None
        made = self.preparer.new_actor_key(name)
        return key_hex(made), made

    def _sign_as(self, name: str, public_key: str, made: Ed25519PrivateKey | None) -> None:
        """The bootstrap: ``name`` signs its own registration, with the key just made or the
        acting key, which must be the one registered."""
        self._key = made or self._signer()
        if key_hex(self._key) != public_key:
            raise ForbiddenError(f"the key given is not the public key registered for {name!r}.")

    def revoke_key(self, name: str) -> None:
        """Revoke ``name``'s key (an admin, or ``name`` itself): it signs nothing from now on,
        and ``name`` acts again only once a new key is registered."""
        with self._change() as session:
            target = session.get(Actor, name)
            if target is None:
                raise RefusedError(f"there is no actor {name!r}.")
            if self.actor != name:
                self._need(session, "admin")
            else:
                self._me(session)
            if target.public_key is None:
                raise RefusedError(f"{name!r} has no key to revoke.")
            revoked = target.public_key
            target.public_key = None
            target.key_index = None
            self._record(session, "actor.key_revoked", name, {"public_key": revoked})

    def actors(self) -> list[dict[str, Any]]:
        """The actors and their roles: every actor for the roles in :data:`FULL_VIEW`, only
        oneself for a requester. Credential references are shown to admins and to their owner.
        """
        with self._change() as session:
            me = self._me(session)
            admin = "admin" in json.loads(me.roles)
            query = select(Actor).order_by(Actor.name)
            if not self._sees_all(me):
                query = query.where(Actor.name == self.actor)
            return [
                {
                    "name": a.name,
                    "roles": json.loads(a.roles),
                    "board_role": a.board_role,
                    "organisation": a.organisation,
                    "key": None if a.public_key is None else f"ed25519 {a.public_key[:16]}",
                    **({"credential": a.credential} if admin or a.name == self.actor else {}),
                }
                for a in session.execute(query).scalars()
            ]


def _checked_hex(public_key: str | None) -> str | None:
    """A public key as hex of 32 bytes (lower case), or None."""
    if public_key is None:
        return None
    text = public_key.strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise SettingError(
            "a public key is the hex of its 32 raw bytes (64 characters, "
            "custodes.ledger.public_key_hex); on the command line give --public-key FILE "
            "(PEM, or base64 of the 32 bytes)."
        )
    return text


_NAME = re.compile(r"[^\W_][\w.\- @']{0,99}")
"""An actor's name: up to 100 letters, digits, spaces and ``.-_@'``, from a letter or digit."""


def _check_name(name: str) -> None:
    """Refuse a name that is empty, too long, holds control or look-alike characters, or
    reads as personal data (it is printed, kept and used as a file name)."""
    if not _NAME.fullmatch(name) or name != unicodedata.normalize("NFKC", name).strip():
        raise SettingError(
            f"actor name {name[:40]!r}: use 1 to 100 letters, digits, spaces and .-_@' "
            "(starting with a letter or digit, no look-alike characters)."
        )
    kind = identifier_kind(name)
    if kind is not None:
        raise SettingError(
            f"an actor's name must not be personal data (it looks like {kind}): use a staff "
            "name or a role name."
        )
