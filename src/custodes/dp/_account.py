"""DP budgets: exact rho per recipient and per dataset, raised only through the board's review.

Budgets are rho-zCDP as exact fractions. A budget starts at the governance
policy's default for the dataset's grade. Lowering one (it only restricts) is
one steward's decision; raising one, or a dataset's global ceiling, is a
*budget change*: a steward proposes it with a reason, the review board
decides on it under the rules of a release (the policy's quorum and the
board roles the dataset's grade demands; the proposer and the recipient may
not review it), and only once approved does the total change. Every step is
on the ledger (``dp.budget_change.proposed``, ``.decided``, ``.approved`` or
``.rejected``; ``dp.budget_set`` for a lowering).

People read decimals (``0.25``); the exact fraction is given on request.

:class:`BudgetAccount` keeps the budgets and their changes; it acts through an
:class:`~custodes.dp._access.Access` (who acts, roles, the ledger, the catalog
and the policy), never through governance itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.dp._access import Access
from custodes.dp._budget import Budget
from custodes.errors import ForbiddenError, InvalidInputError, RefusedError
from custodes.store import Decision, DPBudget, DPBudgetChange, timestamp

__all__ = ["GLOBAL", "BudgetAccount", "Payment", "Quote"]

STAFF = frozenset({"admin", "steward", "reviewer", "pricing_authority", "auditor"})
"""Roles that see every recipient's budget (governance's full view); a recipient sees its
own and the dataset's ceiling."""

GLOBAL = "*"
"""The recipient name of a dataset's global ceiling."""


@dataclass(frozen=True)
class Payment:
    """A query's spend, checked against the locked budget rows that will pay it."""

    spend: Budget
    rows: tuple[DPBudget, ...]
    """The recipient's budget row first, then the dataset's global ceiling."""

    def pay(self) -> Budget:
        """Add the spend to every row (in the transaction that checked it); what the
        recipient has left."""
        for row in self.rows:
            row.spent = (Budget.stored(row.spent) + self.spend).exact()
            row.queries = (row.queries or 0) + 1
        return _remaining(self.rows[0])


@dataclass(frozen=True)
class Quote:
    """What paying a spend would leave, read without locking or changing anything."""

    spend: Budget
    remaining: tuple[Budget, Budget]
    """What the recipient's budget and the dataset's global ceiling have left now."""
    refusal: str | None
    """Why paying would be refused (as the query would be), or None when both can pay."""

    def shown(self, delta: float, exact: bool = False) -> dict[str, Any]:
        """For people: each budget's remaining rho and epsilon before and after paying
        (after: None when the query would be refused), and the refusal."""
        budgets = {}
        for name, before in zip(("recipient", "global"), self.remaining, strict=True):
            after = None if self.refusal is not None else before - self.spend
            budgets[name] = {
                "remaining_rho": before.shown(exact),
                "remaining_epsilon": before.epsilon_shown(delta),
                "remaining_rho_after": None if after is None else after.shown(exact),
                "remaining_epsilon_after": None if after is None else after.epsilon_shown(delta),
            }
        return {"budgets": budgets, "refused": self.refusal is not None, "refusal": self.refusal}


def _remaining(row: DPBudget) -> Budget:
    return Budget.stored(row.total) - Budget.stored(row.spent)


def _refusal(
    spend: Budget, dataset: str, remaining: Iterable[tuple[str, Budget]]
) -> RefusedError | None:
    """Why ``spend`` cannot be paid from each recipient's (then the global) ``remaining``."""
    for recipient, left in remaining:
        if not spend.fits_within(left):
            whose = "the dataset's global" if recipient == GLOBAL else "your"
            return spend.refusal(whose, dataset, left)
    return None


class BudgetAccount:
    """The DP budgets of the catalog's datasets and their board-reviewed changes, as one actor."""

    def __init__(self, access: Access) -> None:
        self.access = access

    @property
    def actor(self) -> str:
        """Who acts."""
        return self.access.actor

    def row(self, session: Session, dataset: str, recipient: str, grade: str) -> DPBudget:
        """The budget row, locked; made at the grade's default the first time (once, even when
        concurrent transactions make it: the loser's insert is undone and it reads the row)."""
        query = (
            select(DPBudget)
            .where(DPBudget.dataset == dataset, DPBudget.recipient == recipient)
            .with_for_update()
        )
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            default = self._default(recipient, grade)
            row = DPBudget(
                dataset=dataset,
                recipient=recipient,
                total=default.exact(),
                spent="0",
                queries=0,
                source=f"grade default ({grade})",
            )
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # another transaction made it first
                row = session.execute(query).scalar_one()
        return row

    def payment(self, session: Session, dataset: str, grade: str, spend: Budget) -> Payment:
        """Lock the acting recipient's budget and the dataset's global ceiling, and check that
        both can pay ``spend``; refused naming requested, remaining and the shortfall."""
        rows = (
            self.row(session, dataset, self.actor, grade),
            self.row(session, dataset, GLOBAL, grade),
        )
        refusal = _refusal(spend, dataset, [(row.recipient, _remaining(row)) for row in rows])
        if refusal is not None:
            raise refusal
        return Payment(spend, rows)

    def quote(self, session: Session, dataset: str, grade: str, spend: Budget) -> Quote:
        """What :meth:`payment` would find, read without locking or writing: the remaining
        budgets (a row not made yet is at the grade's default) and its refusal, if any."""
        remaining = []
        for recipient in (self.actor, GLOBAL):
            row = session.execute(
                select(DPBudget).where(DPBudget.dataset == dataset, DPBudget.recipient == recipient)
            ).scalar_one_or_none()
            remaining.append(self._default(recipient, grade) if row is None else _remaining(row))
        refusal = _refusal(spend, dataset, zip((self.actor, GLOBAL), remaining, strict=True))
        return Quote(spend, (remaining[0], remaining[1]), None if refusal is None else str(refusal))

    def _default(self, recipient: str, grade: str) -> Budget:
        """A budget's total before anything changed it: the policy's default for the grade."""
        return Budget(self.access.grade_default(grade, ceiling=recipient == GLOBAL))

    def set_budget(self, dataset: str, rho: str | Fraction, recipient: str = GLOBAL) -> None:
        """Lower a recipient's budget (or the global ceiling, recipient '*'), one steward.

        Raising one goes through the board: :meth:`propose_budget_change`.
        """
        total = Budget.total(rho)
        with self.access.transaction() as session:
            self.access.need(session, "steward", "admin")
            data = self.access.dataset(session, dataset)
            row = self.row(session, dataset, recipient, data.grade)
            before, spent = Budget.stored(row.total), Budget.stored(row.spent)
            if total > before:
                raise RefusedError(
                    f"raising {_whose(recipient)} budget on {dataset} from rho {before} to "
                    f"{total} needs the review board's approval: `custodes dp "
                    f"budget-change propose {dataset} --total {total.exact()} --recipient "
                    f"'{recipient}' --reason ...` (lowering is one steward's decision)."
                )
            if total < spent:
                raise RefusedError(
                    f"{_whose(recipient)} budget on {dataset} cannot go below what is spent "
                    f"(rho {spent})."
                )
            row.total = total.exact()
            row.source = f"lowered by {self.actor}"
            self.access.record(
                session,
                "dp.budget_set",
                dataset,
                {"recipient": recipient, "rho": total.to_ledger(), "from": before.to_ledger(),
                 "grade": data.grade},
            )  # fmt: skip

    def budget(self, dataset: str, *, exact: bool = False) -> dict[str, Any]:
        """Every budget on a dataset: total, spent, remaining (rho), epsilon at delta, source."""
        delta = self.access.delta
        with self.access.transaction() as session:
            me = self.access.member(session)
            self.access.dataset(session, dataset)
            rows = session.execute(
                select(DPBudget).where(DPBudget.dataset == dataset).order_by(DPBudget.recipient)
            ).scalars()
            out = {}
            for row in rows:
                if not (me.roles & STAFF) and row.recipient not in (GLOBAL, me.name):
                    continue  # a recipient sees its own budget and the ceiling, no other's
                total, spent = Budget.stored(row.total), Budget.stored(row.spent)
                remaining = total - spent
                out["global" if row.recipient == GLOBAL else row.recipient] = {
                    "total_rho": total.shown(exact),
                    "spent_rho": spent.shown(exact),
                    "remaining_rho": remaining.shown(exact),
                    "remaining_epsilon": remaining.epsilon_shown(delta),
                    "queries": row.queries,
                    "source": row.source,
                }
            return {"dataset": dataset, "delta": delta, "budgets": out}

    # ------------------------------------------------------------ budget changes

    def propose_budget_change(
        self, dataset: str, total: str | Fraction, *, recipient: str = GLOBAL, reason: str
    ) -> str:
        """Propose raising a budget (a steward); the board decides. The change's id."""
        value = Budget.total(total)
        if not reason.strip():
            raise RefusedError("a budget change needs a written reason (--reason).")
        with self.access.transaction() as session:
            self.access.need(session, "steward")
            data = self.access.dataset(session, dataset)
            if recipient != GLOBAL and not self.access.is_actor(session, recipient):
                raise InvalidInputError(
                    f"recipient {recipient!r} is not a registered actor; name one, or '*' for "
                    "the dataset's global ceiling."
                )
            row = self.row(session, dataset, recipient, data.grade)
            before = Budget.stored(row.total)
            if value <= before:
                raise RefusedError(
                    f"rho {value} does not raise {_whose(recipient)} budget on {dataset} "
                    f"(rho {before}); lowering is one steward's decision: `custodes dp "
                    "budget --set`."
                )
            change_id = f"budget-{uuid.uuid4().hex[:8]}"
            session.add(
                DPBudgetChange(
                    id=change_id,
                    dataset=dataset,
                    recipient=recipient,
                    total=value.exact(),
                    previous=before.exact(),
                    reason=reason,
                    state="under_review",
                    proposed_by=self.actor,
                    created_at=timestamp(),
                    updated_at=timestamp(),
                )
            )
            self.access.record(
                session,
                "dp.budget_change.proposed",
                change_id,
                {
                    "dataset": dataset,
                    "recipient": recipient,
                    "rho": value.to_ledger(),
                    "from": before.to_ledger(),
                    "grade": data.grade,
                    "reason_sha256": text_sha256(reason),
                },
            )
            return change_id

    def decide_budget_change(self, change_id: str, approve: bool, rationale: str) -> str:
        """A reviewer's decision on a budget change, as on a request; the change's new state."""
        if not rationale.strip():
            raise RefusedError("every decision carries a written rationale (--rationale).")
        with self.access.transaction() as session:
            self.access.need(session, "reviewer")
            change = session.execute(
                select(DPBudgetChange).where(DPBudgetChange.id == change_id).with_for_update()
            ).scalar_one_or_none()
            if change is None:
                raise InvalidInputError(f"there is no budget change {change_id!r}.")
            if change.state != "under_review":
                raise RefusedError(
                    f"budget change {change_id} is {change.state.replace('_', ' ')}; a decision "
                    "needs it under review."
                )
            if self.actor in (change.proposed_by, change.recipient):
                raise ForbiddenError(
                    f"{self.actor!r} proposed budget change {change_id} or would receive it, and "
                    "may not review it."
                )
            change.updated_at = timestamp()
            approvals = self.access.vote(
                session,
                change_id,
                f"budget change {change_id}",
                approve,
                rationale,
                "dp.budget_change.decided",
            )
            if approvals is None:
                change.state = "rejected"
                self.access.record(
                    session, "dp.budget_change.rejected", change_id, {"by": self.actor}
                )
                return change.state
            data = self.access.dataset(session, change.dataset)
            if not self.access.board_approves([seat for _, seat in approvals], data.grade):
                return change.state
            row = self.row(session, change.dataset, change.recipient, data.grade)
            total = Budget.stored(change.total)
            if total < Budget.stored(row.spent):  # pragma: no cover (spending never passes it)
                raise RefusedError(f"budget change {change_id} is below what is already spent.")
            row.total = total.exact()
            row.source = f"budget change {change_id}"
            change.state = "approved"
            self.access.record(
                session,
                "dp.budget_change.approved",
                change_id,
                {
                    "dataset": change.dataset,
                    "recipient": change.recipient,
                    "rho": total.to_ledger(),
                    "approvals": sorted(who for who, _ in approvals),
                },
            )
            return change.state

    def budget_changes(
        self, dataset: str | None = None, *, exact: bool = False
    ) -> list[dict[str, Any]]:
        """Budget changes (of one dataset, or all), oldest first, with their decisions."""
        with self.access.transaction() as session:
            me = self.access.member(session)
            query = select(DPBudgetChange).order_by(DPBudgetChange.created_at, DPBudgetChange.id)
            if not me.roles & STAFF:  # a recipient sees the changes of its own budget only
                query = query.where(DPBudgetChange.recipient == me.name)
            if dataset is not None:
                query = query.where(DPBudgetChange.dataset == dataset)
            out = []
            for change in session.execute(query).scalars():
                decisions = session.execute(
                    select(Decision)
                    .where(Decision.request_id == change.id)
                    .order_by(Decision.created_at, Decision.reviewer)
                ).scalars()
                out.append(
                    {
                        "id": change.id,
                        "dataset": change.dataset,
                        "recipient": "global" if change.recipient == GLOBAL else change.recipient,
                        "total_rho": Budget.stored(change.total).shown(exact),
                        "previous_rho": Budget.stored(change.previous).shown(exact),
                        "reason": change.reason,
                        "state": change.state,
                        "proposed_by": change.proposed_by,
                        "created_at": change.created_at,
                        "decisions": [
                            {
                                "reviewer": d.reviewer,
                                "board_role": d.board_role,
                                "decision": d.decision,
                                "rationale": d.rationale,
                                "at": d.created_at,
                            }
                            for d in decisions
                        ],
                    }
                )
            return out


def _whose(recipient: str) -> str:
    return "the dataset's global" if recipient == GLOBAL else f"{recipient}'s"
