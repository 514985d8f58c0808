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
"""

from __future__ import annotations

import math
import uuid
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.dp._mechanisms import epsilon_of, rho_of_epsilon
from custodes.errors import ForbiddenError, InvalidInputError, RefusedError, SettingError
from custodes.governance._service import Governance, _now
from custodes.store import Actor, Decision, DPBudget, DPBudgetChange

__all__ = [
    "GLOBAL",
    "MAX_BUDGET_RHO",
    "MAX_QUERY_EPSILON",
    "MAX_QUERY_RHO",
    "MIN_QUERY_EPSILON",
    "MIN_QUERY_RHO",
    "Budgets",
    "parse_rho",
    "query_spend",
    "shown",
]

GLOBAL = "*"
"""The recipient name of a dataset's global ceiling."""
MIN_QUERY_RHO = Fraction(1, 10**9)
MAX_QUERY_RHO = Fraction(100)
MIN_QUERY_EPSILON = Fraction(1, 1000)
MAX_QUERY_EPSILON = Fraction(100)
MAX_BUDGET_RHO = Fraction(10**6)


def _number(text: str | Fraction | float | int, what: str, example: str) -> Fraction:
    if isinstance(text, Fraction):
        return text
    try:
        if isinstance(text, float) and not math.isfinite(text):
            raise ValueError
        return Fraction(text.strip() if isinstance(text, str) else str(text))
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        raise SettingError(
            f"{what} {text!r} is not a finite number; give e.g. {example}."
        ) from None


def _within(value: Fraction, low: Fraction, high: Fraction, text: object, what: str) -> Fraction:
    if not low <= value <= high:
        raise SettingError(
            f"{what} {text!r} is outside the accepted range {shown(low)} to {shown(high)}; "
            "give a value in that range."
        )
    return value


def parse_rho(text: str | Fraction | float) -> Fraction:
    """A budget total in rho-zCDP: a fraction ("1/4") or decimal ("0.25"), 0 to 10^6."""
    value = _number(text, "rho", "0.1 or 1/10")
    return _within(value, Fraction(0), MAX_BUDGET_RHO, text, "rho")


def query_spend(
    rho: str | Fraction | float | None, epsilon: str | Fraction | float | None, delta: float
) -> Fraction:
    """The rho a query spends, from rho or epsilon (at ``delta``), both finite and in range.

    Epsilon is read from its decimal text exactly and converted to the
    largest short rho whose epsilon does not exceed it (rounded down).
    """
    if (rho is None) == (epsilon is None):
        raise SettingError("give the privacy loss to spend: rho or epsilon (one of them).")
    if rho is not None:
        value = _number(rho, "rho", "0.1 or 1/10")
        return _within(value, MIN_QUERY_RHO, MAX_QUERY_RHO, rho, "rho")
    assert epsilon is not None
    value = _number(epsilon, "epsilon", "1 or 0.5")
    _within(value, MIN_QUERY_EPSILON, MAX_QUERY_EPSILON, epsilon, "epsilon")
    return rho_of_epsilon(value, delta)


def shown(value: Fraction, exact: bool = False) -> str:
    """A rho for people: a decimal of at most 6 significant digits, or the exact fraction."""
    if exact:
        return str(value)
    if value == 0:
        return "0"
    with localcontext() as context:
        context.prec = 6
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
    text = f"{decimal:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _exact(value: Fraction) -> list[int]:
    """A fraction for the ledger: [numerator, denominator] (integers, exact, never a float)."""
    return [value.numerator, value.denominator]


class Budgets(Governance):
    """The DP budgets of the catalog's datasets, acting as one actor."""

    def _budget_row(self, session: Session, dataset: str, recipient: str, grade: str) -> DPBudget:
        """The budget row, locked; made at the grade's default the first time (once, even when
        concurrent transactions make it: the loser's insert is undone and it reads the row)."""
        query = (
            select(DPBudget)
            .where(DPBudget.dataset == dataset, DPBudget.recipient == recipient)
            .with_for_update()
        )
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            table = (
                self.policy.dp_dataset_rho if recipient == GLOBAL else self.policy.dp_recipient_rho
            )
            row = DPBudget(
                dataset=dataset,
                recipient=recipient,
                total=str(Fraction(table.get(grade, "0"))),
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

    def set_budget(self, dataset: str, rho: str | Fraction, recipient: str = GLOBAL) -> None:
        """Lower a recipient's budget (or the global ceiling, recipient '*'), one steward.

        Raising one goes through the board: :meth:`propose_budget_change`.
        """
        total = parse_rho(rho)
        with self._change() as session:
            self._need(session, "steward", "admin")
            data = self._dataset(session, dataset)
            row = self._budget_row(session, dataset, recipient, data.grade)
            before = Fraction(row.total)
            if total > before:
                raise RefusedError(
                    f"raising {_whose(recipient)} budget on {dataset} from rho {shown(before)} to "
                    f"{shown(total)} needs the review board's approval: `custodes dp "
                    f"budget-change propose {dataset} --total {total} --recipient '{recipient}' "
                    "--reason ...` (lowering is one steward's decision)."
                )
            if total < Fraction(row.spent):
                raise RefusedError(
                    f"{_whose(recipient)} budget on {dataset} cannot go below what is spent "
                    f"(rho {shown(Fraction(row.spent))})."
                )
            row.total = str(total)
            row.source = f"lowered by {self.actor}"
            self._record(
                session,
                "dp.budget_set",
                dataset,
                {"recipient": recipient, "rho": _exact(total), "from": _exact(before)},
            )

    def budget(self, dataset: str, *, exact: bool = False) -> dict[str, Any]:
        """Every budget on a dataset: total, spent, remaining (rho), epsilon at delta, source."""
        delta = self.policy.dp_delta
        with self._change() as session:
            self._me(session)
            self._dataset(session, dataset)
            rows = session.execute(
                select(DPBudget).where(DPBudget.dataset == dataset).order_by(DPBudget.recipient)
            ).scalars()
            out = {}
            for row in rows:
                total, spent = Fraction(row.total), Fraction(row.spent)
                out["global" if row.recipient == GLOBAL else row.recipient] = {
                    "total_rho": shown(total, exact),
                    "spent_rho": shown(spent, exact),
                    "remaining_rho": shown(total - spent, exact),
                    "remaining_epsilon": round(epsilon_of(total - spent, delta), 6)
                    if total > spent
                    else 0.0,
                    "queries": row.queries,
                    "source": row.source,
                }
            return {"dataset": dataset, "delta": delta, "budgets": out}

    # ------------------------------------------------------------ budget changes

    def propose_budget_change(
        self, dataset: str, total: str | Fraction, *, recipient: str = GLOBAL, reason: str
    ) -> str:
        """Propose raising a budget (a steward); the board decides. The change's id."""
        value = parse_rho(total)
        if not reason.strip():
            raise RefusedError("a budget change needs a written reason (--reason).")
        with self._change() as session:
            self._need(session, "steward")
            data = self._dataset(session, dataset)
            if recipient != GLOBAL and session.get(Actor, recipient) is None:
                raise InvalidInputError(
                    f"recipient {recipient!r} is not a registered actor; name one, or '*' for "
                    "the dataset's global ceiling."
                )
            row = self._budget_row(session, dataset, recipient, data.grade)
            before = Fraction(row.total)
            if value <= before:
                raise RefusedError(
                    f"rho {shown(value)} does not raise {_whose(recipient)} budget on {dataset} "
                    f"(rho {shown(before)}); lowering is one steward's decision: `custodes dp "
                    "budget --set`."
                )
            change_id = f"budget-{uuid.uuid4().hex[:8]}"
            session.add(
                DPBudgetChange(
                    id=change_id,
                    dataset=dataset,
                    recipient=recipient,
                    total=str(value),
                    previous=str(before),
                    reason=reason,
                    state="under_review",
                    proposed_by=self.actor,
                    created_at=_now(),
                    updated_at=_now(),
                )
            )
            self._record(
                session,
                "dp.budget_change.proposed",
                change_id,
                {
                    "dataset": dataset,
                    "recipient": recipient,
                    "rho": _exact(value),
                    "from": _exact(before),
                    "grade": data.grade,
                    "reason_sha256": text_sha256(reason),
                },
            )
            return change_id

    def decide_budget_change(self, change_id: str, approve: bool, rationale: str) -> str:
        """A reviewer's decision on a budget change, as on a request; the change's new state."""
        if not rationale.strip():
            raise RefusedError("every decision carries a written rationale (--rationale).")
        with self._change() as session:
            me = self._need(session, "reviewer")
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
            change.updated_at = _now()
            approvals = self._vote(
                session,
                me,
                change_id,
                f"budget change {change_id}",
                approve,
                rationale,
                "dp.budget_change.decided",
            )
            if approvals is None:
                change.state = "rejected"
                self._record(session, "dp.budget_change.rejected", change_id, {"by": self.actor})
                return change.state
            data = self._dataset(session, change.dataset)
            if not self.policy.approves([d.board_role for d in approvals], data.grade):
                return change.state
            row = self._budget_row(session, change.dataset, change.recipient, data.grade)
            total = Fraction(change.total)
            if total < Fraction(row.spent):  # pragma: no cover (spending never passes a total)
                raise RefusedError(f"budget change {change_id} is below what is already spent.")
            row.total = str(total)
            row.source = f"budget change {change_id}"
            change.state = "approved"
            self._record(
                session,
                "dp.budget_change.approved",
                change_id,
                {
                    "dataset": change.dataset,
                    "recipient": change.recipient,
                    "rho": _exact(total),
                    "approvals": sorted(d.reviewer for d in approvals),
                },
            )
            return change.state

    def budget_changes(
        self, dataset: str | None = None, *, exact: bool = False
    ) -> list[dict[str, Any]]:
        """Budget changes (of one dataset, or all), oldest first, with their decisions."""
        with self._change() as session:
            self._me(session)
            query = select(DPBudgetChange).order_by(DPBudgetChange.created_at, DPBudgetChange.id)
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
                        "total_rho": shown(Fraction(change.total), exact),
                        "previous_rho": shown(Fraction(change.previous), exact),
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
