"""Requests, objectives and review decisions as frozen values (JSON is the store's form)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.store import Decision, Request

__all__ = ["Objectives", "RequestView", "ReviewDecision", "view_of"]


@dataclass(frozen=True)
class Objectives:
    """What a requester wants and why."""

    purpose: str
    sharing_model: str
    columns: tuple[str, ...]
    intended_use: str
    term_end: str
    """The last day of the terms (YYYY-MM-DD)."""
    fee_standard: str | None
    recipient: str | None = None
    """Who will receive the release (the mosaic check's holder; None: the requester)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in the request's details."""
        return {
            "purpose": self.purpose,
            "sharing_model": self.sharing_model,
            "columns": list(self.columns),
            "intended_use": self.intended_use,
            "term_end": self.term_end,
            "fee_standard": self.fee_standard,
            **({"recipient": self.recipient} if self.recipient else {}),
        }

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> Objectives | None:
        """The objectives in a request's details (None before they are set)."""
        if "purpose" not in details:
            return None
        return cls(
            purpose=details["purpose"],
            sharing_model=details["sharing_model"],
            columns=tuple(details["columns"]),
            intended_use=details["intended_use"],
            term_end=details["term_end"],
            fee_standard=details.get("fee_standard"),
            recipient=details.get("recipient"),
        )


@dataclass(frozen=True)
class ReviewDecision:
    """A board member's decision on a request in one review round."""

    reviewer: str
    board_role: str
    decision: str
    """approve, reject or send_back."""
    round: int
    rationale: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        """The mapping form callers of the JSON era read (``decision["round"]``)."""
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True)
class RequestView:
    """A request as the workflow sees it."""

    id: str
    state: str
    requester: str
    dataset: str
    dataset_version: int
    details: dict[str, Any]
    preparer: str | None
    plan: dict[str, Any] | None
    report: dict[str, Any] | None
    artifact_sha256: str | None
    release: dict[str, Any] | None
    decisions: tuple[ReviewDecision, ...]

    @property
    def objectives(self) -> Objectives | None:
        """The requester's objectives (None before they are set)."""
        return Objectives.from_details(self.details)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "state": self.state,
            "requester": self.requester,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "details": self.details,
            "preparer": self.preparer,
            "plan": self.plan,
            "report": self.report,
            "artifact_sha256": self.artifact_sha256,
            "release": self.release,
            "decisions": [d.to_dict() for d in self.decisions],
        }


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def view_of(session: Session, row: Request) -> RequestView:
    """The view of a stored request, with its decisions (oldest round first)."""
    decisions: Sequence[Decision] = list(
        session.execute(
            select(Decision)
            .where(Decision.request_id == row.id)
            .order_by(Decision.round, Decision.created_at)
        ).scalars()
    )
    return RequestView(
        id=row.id,
        state=row.state,
        requester=row.requester,
        dataset=row.dataset,
        dataset_version=row.dataset_version,
        details=json.loads(row.details),
        preparer=row.preparer,
        plan=_loads(row.plan),
        report=_loads(row.report),
        artifact_sha256=row.artifact_sha256,
        release=_loads(row.release),
        decisions=tuple(
            ReviewDecision(
                reviewer=d.reviewer,
                board_role=d.board_role,
                decision=d.decision,
                round=d.round,
                rationale=d.rationale,
                at=d.created_at,
            )
            for d in decisions
        ),
    )
