"""What differential privacy needs from governance, as a narrow protocol.

DP queries and budgets use governance, they are not governance: they act as
one actor whose roles governance checks, inside governance's transactions,
on datasets of its catalog, within what its review board released, and every
step goes on its ledger. :class:`Access` is that much and no more; the workspace builds
one over its governance (``Workspace.queries(actor)``), so ``dp`` never
imports ``governance``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

__all__ = ["Access", "Catalogued", "Member"]


@dataclass(frozen=True)
class Member:
    """The acting actor, as registered."""

    name: str
    roles: frozenset[str]
    board_role: str | None
    """The review-board seat of a reviewer (legal, privacy_technical, leadership), else None."""


@dataclass(frozen=True)
class Catalogued:
    """A dataset of the catalog (its latest version), as DP queries need it."""

    name: str
    version: int
    grade: str
    columns: tuple[str, ...]
    has_header: bool | None
    """Whether a CSV source's first row names the columns (None: detected when read)."""
    source: str
    """Where the registered data is (a path)."""
    content_sha256: str
    """The registered data's SHA-256."""


class Access(Protocol):
    """Governance's side of DP: identity, transactions, roles, ledger, catalog, grants, policy.

    Methods taking a ``session`` work inside :meth:`transaction`'s
    transaction; what they check raises :class:`~custodes.errors.ForbiddenError`
    (a missing role or actor) or :class:`~custodes.errors.InvalidInputError`
    (an unknown dataset), naming what to do.
    """

    @property
    def actor(self) -> str:
        """Who acts."""
        ...

    @property
    def delta(self) -> float:
        """The policy's delta: of reported (epsilon, delta) figures and partition selection."""
        ...

    def transaction(self) -> AbstractContextManager[Session]:
        """One store transaction: its changes and ledger entries commit together or not at all."""
        ...

    def member(self, session: Session) -> Member:
        """The acting actor, who must be registered."""
        ...

    def need(self, session: Session, *roles: str) -> Member:
        """The acting actor, who must hold one of ``roles``."""
        ...

    def is_actor(self, session: Session, name: str) -> bool:
        """Whether ``name`` is a registered actor."""
        ...

    def record(self, session: Session, event: str, subject: str, payload: dict[str, Any]) -> int:
        """Append a ledger entry by the acting actor (personal strings hashed); its index."""
        ...

    def vote(
        self, session: Session, subject: str, what: str, approve: bool, rationale: str, event: str
    ) -> list[tuple[str, str]] | None:
        """Record the acting board member's decision on ``subject`` (``what`` names it in
        messages) with its ledger entry ``event``, as the board decides on requests; the
        (reviewer, board seat) of each approval so far, or None for a rejection."""
        ...

    def dataset(self, session: Session, name: str) -> Catalogued:
        """The catalog's latest version of dataset ``name``."""
        ...

    def grants(self, session: Session, dataset: str) -> list[frozenset[str]]:
        """The columns of each of the acting actor's released (or monitored) requests for DP
        query access to ``dataset``; empty when there is none."""
        ...

    def source(self, dataset: Catalogued) -> Path:
        """The dataset's registered data, checked unchanged since it was registered."""
        ...

    def grade_default(self, grade: str, *, ceiling: bool) -> Fraction:
        """The policy's default rho for a grade: a recipient's budget, or (``ceiling``) a
        dataset's global ceiling over all recipients."""
        ...

    def board_approves(self, board_roles: Sequence[str], grade: str) -> bool:
        """Whether approvals by reviewers of these board seats (one per approval) meet the
        policy's quorum and cover the seats data of ``grade`` demands."""
        ...

    def close(self) -> None:
        """Close the store's connections (they open again when needed)."""
        ...
