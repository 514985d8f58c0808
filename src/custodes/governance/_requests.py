"""Requests through the workflow: filing, objectives, identification, review, monitoring,
revocation and expiry. Every state change goes through the workflow's transition table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.detect import GRADES
from custodes.errors import ForbiddenError, InvalidInputError, RefusedError, SettingError
from custodes.governance._base import now
from custodes.governance._catalog import Catalog
from custodes.governance._policy import FREE_PURPOSES, PURPOSES, SHARING_MODELS
from custodes.governance._values import Objectives, RequestView, view_of
from custodes.governance._workflow import STEPS
from custodes.ledger import new_id
from custodes.store import Actor, Decision, FeeStandard, Request

__all__ = ["Requests"]


class Requests(Catalog):
    """A request from filing to its end, and the review board's decisions (identifying
    corrects the catalog's column roles)."""

    def file_request(self, dataset: str) -> str:
        """Open a draft request for the newest version of a dataset; its id."""
        with self._change() as session:
            self._need(session, "requester")
            row = self._dataset(session, dataset)
            request_id = new_id(12)
            session.add(
                Request(
                    id=request_id,
                    state="draft",
                    requester=self.actor,
                    dataset=row.name,
                    dataset_version=row.version,
                    details="{}",
                    created_at=now(),
                    updated_at=now(),
                )
            )
            self._record(
                session,
                "request.filed",
                request_id,
                {"dataset": row.name, "version": row.version, "grade": row.grade},
            )
            return request_id

    def set_objectives(
        self,
        request_id: str,
        *,
        purpose: str,
        sharing_model: str,
        columns: Sequence[str],
        intended_use: str,
        term_end: str,
        fee_standard: str | None = None,
        recipient: str | None = None,
    ) -> None:
        """State what is wanted and why (the requester), and who will receive it (default:
        the requester; the mosaic check weighs what that recipient holds)."""
        if recipient is not None and not recipient.strip():
            raise SettingError("the recipient is empty; name who will receive the release.")
        if purpose not in PURPOSES:
            raise SettingError(f"purpose {purpose!r}: choose one of {', '.join(PURPOSES)}.")
        if sharing_model not in SHARING_MODELS:
            raise SettingError(
                f"sharing model {sharing_model!r}: choose one of {', '.join(SHARING_MODELS)}."
            )
        try:
            end = date.fromisoformat(term_end)
        except ValueError:
            raise SettingError(f"term end {term_end!r} is not a date (YYYY-MM-DD).") from None
        if end < date.today():
            raise SettingError(
                f"term end {term_end} is in the past; give the last day the permission lasts."
            )
        if not intended_use.strip():
            raise RefusedError("the objectives need the intended use, in words.")
        with self._change() as session:
            self._need(session, *STEPS["setting objectives"].roles)
            row = self._request(session, request_id)
            if row.requester != self.actor:
                raise ForbiddenError(f"only the requester {row.requester!r} sets the objectives.")
            self._step(row, "setting objectives")
            data = self._dataset(session, row.dataset, row.dataset_version)
            allowed = self.policy.sharing.get(data.grade, ())
            if not allowed:
                raise RefusedError(f"{data.grade} data is never released ({data.name}).")
            if sharing_model not in allowed:
                raise RefusedError(
                    f"{data.grade} data may only be shared as {', '.join(allowed)}, not "
                    f"{sharing_model} (the governance policy's gate)."
                )
            unknown = sorted(set(columns) - set(json.loads(data.columns)))
            if not columns or unknown:
                raise RefusedError(
                    f"request columns must be columns of {data.name}: unknown "
                    f"{', '.join(unknown) or '(none given)'}."
                )
            if purpose in FREE_PURPOSES:
                if fee_standard is not None:
                    raise RefusedError(f"{purpose.replace('_', ' ')} is free: no fee standard.")
            else:
                if fee_standard is None:
                    raise RefusedError(
                        f"a {purpose} request needs an approved fee standard (--fee-standard)."
                    )
                standard = session.get(FeeStandard, fee_standard)
                if standard is None or standard.state != "approved":
                    raise RefusedError(f"fee standard {fee_standard!r} is not approved.")
            objectives = Objectives(
                purpose=purpose,
                sharing_model=sharing_model,
                columns=tuple(columns),
                intended_use=intended_use,
                term_end=end.isoformat(),
                fee_standard=fee_standard,
                recipient=recipient,
            )
            row.details = json.dumps(objectives.to_dict(), ensure_ascii=False)
            self._move(
                session,
                row,
                "objectives_set",
                {
                    "purpose": purpose,
                    "sharing_model": sharing_model,
                    "columns": list(columns),
                    **({"recipient": recipient} if recipient else {}),
                },
            )

    def identify(
        self,
        request_id: str,
        roles: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> dict[str, list[str]]:
        """Identify the direct identifiers, quasi-identifiers and sensitive columns (steward).

        ``roles`` first corrects the dataset's column roles (see
        :meth:`correct_roles`), with its ``reason``. A request identified,
        processed or sent back is identified again (its plan is then prepared again).
        """
        if roles and not (reason or "").strip():
            raise RefusedError("a correction of column roles needs a written reason (--reason).")
        with self._change() as session:
            self._need(session, *STEPS["identifying"].roles)
            row = self._request(session, request_id)
            self._step(row, "identifying")
            data = self._dataset(session, row.dataset, row.dataset_version)
            if roles:
                self._correct(session, data, roles, reason or "")
            roles = json.loads(data.roles)
            wanted = set(json.loads(row.details)["columns"])
            found = {
                key: [c for c in roles.get(key, []) if c in wanted]
                for key in ("identifying", "quasi_identifying", "sensitive", "redact")
            }
            details = json.loads(row.details)
            details["identified"] = found
            row.details = json.dumps(details, ensure_ascii=False)
            self._move(session, row, "identifiers_identified", found)
            return found

    def submit(self, request_id: str) -> None:
        """Send a processed request to the review board (the requester or a steward)."""
        with self._change() as session:
            self._need(session, *STEPS["review"].roles)
            row = self._request(session, request_id)
            self._step(row, "review")
            if row.report is None:
                raise RefusedError(f"request {request_id} has no risk and utility report.")
            self._move(session, row, "under_review", {})

    def decide(
        self, request_id: str, approve: bool, rationale: str, *, send_back: bool = False
    ) -> str:
        """A reviewer's decision with its written rationale; the request's new state.

        With ``send_back`` the request goes back to its steward for changes
        (state ``sent_back``): prepared again and resubmitted, it is reviewed
        in a new round, where the decisions of earlier rounds no longer count.
        """
        if not rationale.strip():
            raise RefusedError("every decision carries a written rationale (--rationale).")
        with self._change() as session:
            me = self._need(session, *STEPS["a decision"].roles)
            row = self._request(session, request_id)
            self._step(row, "a decision")
            details = json.loads(row.details)
            involved = {row.requester, row.preparer, *details.get("preparers", [])}
            if self.actor in involved:
                raise ForbiddenError(
                    f"{self.actor!r} filed or prepared request {request_id} and may not review it."
                )
            review_round = int(details.get("round", 1))
            approvals = self._vote(
                session,
                me,
                request_id,
                f"request {request_id}",
                "send_back" if send_back else approve,
                rationale,
                "request.decided",
                review_round=review_round,
            )
            if send_back:
                self._move(
                    session,
                    row,
                    "sent_back",
                    {"by": self.actor, "round": review_round,
                     "rationale_sha256": text_sha256(rationale)},
                )  # fmt: skip
                return row.state
            if approvals is None:
                self._move(session, row, "rejected", {"by": self.actor})
                return row.state
            grade = self._dataset(session, row.dataset, row.dataset_version).grade
            held = str(details.get("holding_grade", "general"))  # what the recipient would hold
            if held in GRADES and GRADES.index(held) > GRADES.index(grade):
                grade = held
            if self.policy.approves([d.board_role for d in approvals], grade):
                self._move(
                    session,
                    row,
                    "approved",
                    {"approvals": sorted(d.reviewer for d in approvals)},
                )
            return row.state

    def _vote(
        self,
        session: Session,
        me: Actor,
        subject: str,
        what: str,
        approve: bool | str,
        rationale: str,
        event: str,
        *,
        review_round: int = 1,
    ) -> list[Decision] | None:
        """Record a board member's decision on ``subject`` (a request or a budget change) in
        its review round, and its ledger entry; the round's approvals so far, or None when it
        was not an approval (``approve`` False: a rejection; or a decision's name, such as
        ``"send_back"``)."""
        if session.get(Decision, (subject, self.actor, review_round)) is not None:
            raise RefusedError(f"{self.actor!r} has decided on {what} already.")
        assert me.board_role is not None
        named = isinstance(approve, str)
        decision = str(approve) if named else ("approve" if approve else "reject")
        session.add(
            Decision(
                request_id=subject,
                reviewer=self.actor,
                round=review_round,
                board_role=me.board_role,
                decision=decision,
                rationale=rationale,
                created_at=now(),
            )
        )
        session.flush()
        record: dict[str, Any] = {"decision": decision, "board_role": me.board_role}
        if review_round != 1:
            record["round"] = review_round
        record["rationale_sha256"] = text_sha256(rationale)  # the audit checks the text by it
        self._record(session, event, subject, record)
        if decision != "approve":
            return None
        return list(
            session.execute(
                select(Decision).where(
                    Decision.request_id == subject,
                    Decision.round == review_round,
                    Decision.decision == "approve",
                )
            ).scalars()
        )

    def review_monitoring(self, request_id: str, note: str) -> None:
        """Record a monitoring review of a released request (steward)."""
        if not note.strip():
            raise RefusedError("a monitoring review needs a written note.")
        with self._change() as session:
            self._need(session, *STEPS["monitoring"].roles)
            row = self._request(session, request_id)
            self._step(row, "monitoring")
            release = json.loads(row.release or "{}")
            release["monitoring_due"] = (
                date.today() + timedelta(days=self.policy.monitoring_days)
            ).isoformat()
            row.release = json.dumps(release, ensure_ascii=False)
            self._move(session, row, "monitoring", {"note_sha256": text_sha256(note)})

    def revoke(self, request_id: str, reason: str) -> None:
        """Revoke a released request (steward or admin)."""
        if not reason.strip():
            raise RefusedError("a revocation needs a written reason.")
        with self._change() as session:
            self._need(session, *STEPS["revocation"].roles)
            row = self._request(session, request_id)
            self._step(row, "revocation")
            reason_sha256 = text_sha256(reason)
            self._move(session, row, "revoked", {"reason_sha256": reason_sha256})
            self.preparer.releases.revoke(session, row.id, at=now(), reason_sha256=reason_sha256)

    def expire(self, today: date | None = None) -> list[str]:
        """Mark released requests whose term has ended as expired; their ids."""
        day = (today or date.today()).isoformat()
        done = []
        with self._change() as session:
            self._need(session, *STEPS["expiry"].roles)
            rows = session.execute(
                select(Request).where(Request.state.in_(("released", "monitoring")))
            ).scalars()
            for row in rows:
                objectives = Objectives.from_details(json.loads(row.details))
                assert objectives is not None  # a released request has its objectives
                if objectives.term_end < day:
                    self._move(session, row, "expired", {"term_end": objectives.term_end})
                    self.preparer.releases.expire(session, row.id, at=now())
                    done.append(row.id)
        return done

    def monitoring_due(self, today: date | None = None) -> list[dict[str, str]]:
        """Released requests whose monitoring review is due (a requester: its own only)."""
        day = (today or date.today()).isoformat()
        with self._change() as session:
            me = self._me(session)
            query = select(Request).where(Request.state.in_(("released", "monitoring")))
            if not self._sees_all(me):
                query = query.where(Request.requester == self.actor)
            rows = session.execute(query).scalars()
            out = []
            for row in rows:
                due = json.loads(row.release or "{}").get("monitoring_due", "")
                if due and due <= day:
                    out.append({"request": row.id, "dataset": row.dataset, "due": due})
            return out

    def request(self, request_id: str) -> RequestView:
        """A request with its decisions (a requester's own only, see :data:`FULL_VIEW`)."""
        with self._change() as session:
            me = self._me(session)
            row = session.get(Request, request_id)
            if row is None:
                raise InvalidInputError(f"there is no request {request_id!r}.")
            if row.requester != self.actor and not self._sees_all(me):
                raise ForbiddenError(
                    f"{self.actor!r} may see only its own requests; request {request_id} is "
                    "another requester's."
                )
            return view_of(session, row)

    def requests(self) -> list[RequestView]:
        """Every request (a requester's own only, see :data:`FULL_VIEW`)."""
        with self._change() as session:
            me = self._me(session)
            query = select(Request).order_by(Request.created_at)
            if not self._sees_all(me):
                query = query.where(Request.requester == self.actor)
            return [view_of(session, r) for r in session.execute(query).scalars()]
