"""Actors: identity records, roles and board roles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from custodes.errors import RefusedError, SettingError
from custodes.governance._base import Acting, now
from custodes.governance._policy import BOARD_ROLES, ROLES
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
    ) -> None:
        """Register an actor (admin only; the very first actor must be an admin)."""
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
        with self._change() as session:
            if session.execute(select(Actor).limit(1)).first() is None:
                if "admin" not in roles:
                    raise RefusedError("the first actor of a workspace must be an admin.")
            elif self.actor == name and session.get(Actor, name) is None:
                raise SettingError(
                    f"say which admin adds {name!r}: the workspace has actors already, and only "
                    "its very first actor adds itself. Pass --as ADMIN (or set the actor setting)."
                )
            else:
                self._need(session, "admin")
            if session.get(Actor, name) is not None:
                raise RefusedError(f"actor {name!r} exists already.")
            session.add(
                Actor(
                    name=name,
                    roles=json.dumps(sorted(set(roles))),
                    board_role=board_role,
                    organisation=organisation,
                    credential=credential,
                    created_at=now(),
                )
            )
            self._record(
                session,
                "actor.added",
                name,
                {
                    "roles": sorted(set(roles)),
                    "board_role": board_role,
                    "organisation": organisation,
                },
            )

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
                    **({"credential": a.credential} if admin or a.name == self.actor else {}),
                }
                for a in session.execute(query).scalars()
            ]
