"""Fees: fee standards (proposed by a steward, approved by the pricing authority), the
permitted revenue of a department, and charges under an approved standard."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from custodes._files import text_sha256
from custodes.errors import InvalidInputError, RefusedError, SettingError
from custodes.governance._base import Acting, now
from custodes.governance._policy import FREE_PURPOSES
from custodes.store import Charge, Department, FeeStandard, RevenueLimit

__all__ = ["UNITS", "Fees"]

UNITS = ("per_call", "per_volume", "per_period", "per_product")
_CENT = Decimal("0.01")

_MAX_MONEY = Decimal("1000000000000")  # 10^12: no fee, cap or revenue is larger
_MAX_QUANTITY = Decimal("1000000000")  # 10^9 units in one charge
_MONEY_PLACES = 4  # e.g. 0.0025 per call
_QUANTITY_PLACES = 6


def _number(
    value: str | Decimal | int,
    what: str,
    *,
    maximum: Decimal,
    places: int,
    positive: bool,
    noun: str = "amount",
    example: str = "120.50",
) -> Decimal:
    """A finite decimal in [0, maximum] (above 0 if ``positive``), at most ``places`` decimals."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInputError(
            f"{what} is {value!r}; give a decimal {noun}, e.g. {example}."
        ) from None
    floor = "greater than 0" if positive else "at least 0"
    bound = f"give a number {floor} and at most {maximum:,f}, with at most {places} decimals"
    if not amount.is_finite():
        raise InvalidInputError(f"{what} is {value!r}, not a finite number; {bound}.")
    if amount < 0 or (positive and amount == 0) or amount > maximum:
        raise InvalidInputError(f"{what} is {value!r}; {bound}.")
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number
    if -exponent > places and amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise InvalidInputError(f"{what} is {value!r}; {bound}.")
    if exponent > 0:  # 1E+2 is stored and shown as 100
        amount = amount.quantize(Decimal(1))
    return amount


def _money(value: str | Decimal | int, what: str, *, positive: bool = False) -> Decimal:
    return _number(value, what, maximum=_MAX_MONEY, places=_MONEY_PLACES, positive=positive)


class Fees(Acting):
    """Fee standards, revenue limits and charges."""

    def propose_fee_standard(
        self, *, department: str, product: str, unit: str, cap: str, currency: str = "CNY"
    ) -> str:
        """Propose a fee standard (steward); the pricing authority approves it."""
        if unit not in UNITS:
            raise SettingError(f"charging unit {unit!r}: choose one of {', '.join(UNITS)}.")
        amount = _money(cap, "the cap price (--cap)")
        if len(currency) != 3 or not currency.isalpha():
            raise SettingError(f"currency {currency!r} is not an ISO 4217 code such as CNY.")
        with self._change() as session:
            self._need(session, "steward")
            if session.get(Department, department) is None:
                raise RefusedError(f"department {department!r} is not in the catalog.")
            standard_id = f"fee-{uuid.uuid4().hex[:8]}"
            session.add(
                FeeStandard(
                    id=standard_id,
                    department=department,
                    product=product,
                    unit=unit,
                    cap=str(amount),
                    currency=currency.upper(),
                    state="proposed",
                    proposed_by=self.actor,
                    created_at=now(),
                )
            )
            self._record(
                session,
                "fee_standard.proposed",
                standard_id,
                {"department": department, "product": product, "unit": unit, "cap": str(amount),
                 "currency": currency.upper()},
            )  # fmt: skip
            return standard_id

    def fee_standards(self) -> list[dict[str, str | None]]:
        """The fee standards, to find one's id (a requester sees the approved ones only)."""
        with self._change() as session:
            me = self._me(session)
            query = select(FeeStandard).order_by(FeeStandard.created_at, FeeStandard.id)
            if not self._sees_all(me):
                query = query.where(FeeStandard.state == "approved")
            return [
                {
                    "id": f.id,
                    "department": f.department,
                    "product": f.product,
                    "unit": f.unit,
                    "cap": f.cap,
                    "currency": f.currency,
                    "state": f.state,
                }
                for f in session.execute(query).scalars()
            ]

    def approve_fee_standard(self, standard_id: str, report: str) -> None:
        """Approve a fee standard with the written pricing report (pricing authority)."""
        if not report.strip():
            raise RefusedError("a fee standard is approved with a written report (--report).")
        with self._change() as session:
            self._need(session, "pricing_authority")
            row = session.get(FeeStandard, standard_id)
            if row is None:
                raise InvalidInputError(f"there is no fee standard {standard_id!r}.")
            if row.state != "proposed":
                raise RefusedError(f"fee standard {standard_id} is {row.state}, not proposed.")
            row.state, row.approved_by, row.report = "approved", self.actor, report
            self._record(
                session,
                "fee_standard.approved",
                standard_id,
                {"cap": row.cap, "currency": row.currency, "report_sha256": text_sha256(report)},
            )

    def set_revenue_limit(
        self, department: str, year: int, amount: str, currency: str = "CNY"
    ) -> None:
        """The maximum permitted revenue of a department in a year (pricing authority)."""
        value = _money(amount, "the permitted revenue (--amount)")
        with self._change() as session:
            self._need(session, "pricing_authority")
            row = session.get(RevenueLimit, (department, year))
            if row is None:
                session.add(
                    RevenueLimit(
                        department=department, year=year, amount=str(value), currency=currency
                    )
                )
            else:
                row.amount, row.currency = str(value), currency
            self._record(
                session,
                "revenue_limit.set",
                f"{department}/{year}",
                {"amount": str(value), "currency": currency},
            )

    def charge(
        self, request_id: str, *, quantity: str, unit_price: str, reason: str | None = None
    ) -> dict[str, Any]:
        """Charge for a released request under its approved fee standard (steward).

        Quantity and unit price are finite and above 0 (a quantity at most
        10^9 with 6 decimals, a price at most 10^12 with 4). A request charged
        already is charged again only with a written ``reason``, stored with
        the charge and hashed on the ledger.
        """
        units = _number(
            quantity, "the quantity (--quantity)", maximum=_MAX_QUANTITY,
            places=_QUANTITY_PLACES, positive=True, noun="number", example="3",
        )  # fmt: skip
        price = _money(unit_price, "the unit price (--unit-price)", positive=True)
        why = (reason or "").strip() or None
        with self._change() as session:
            self._need(session, "steward")
            row = self._request(session, request_id)
            self._step(row, "charging")
            before = session.execute(select(Charge.id).where(Charge.request_id == request_id)).all()
            if before and why is None:
                raise RefusedError(
                    f"request {request_id} was charged already "
                    f"({'once' if len(before) == 1 else f'{len(before)} times'}); a further "
                    "charge of the same release "
                    "needs a written reason (--reason), recorded with the charge."
                )
            details = json.loads(row.details)
            if details["purpose"] in FREE_PURPOSES:
                raise RefusedError(
                    f"request {request_id} is for {details['purpose'].replace('_', ' ')}, which "
                    "is free: nothing may be charged."
                )
            standard = session.get(FeeStandard, details.get("fee_standard") or "")
            if standard is None or standard.state != "approved":
                raise RefusedError(f"request {request_id} has no approved fee standard.")
            if price > Decimal(standard.cap):
                raise RefusedError(
                    f"the unit price {price} {standard.currency} is above the approved cap "
                    f"{standard.cap} of fee standard {standard.id}."
                )
            amount = (units * price).quantize(_CENT, rounding=ROUND_HALF_UP)
            year = date.today().year
            limit = session.get(RevenueLimit, (standard.department, year))
            deducted = Decimal(0)
            if limit is not None:
                earned = sum(
                    (
                        Decimal(c.amount) - Decimal(c.deducted)
                        for c in session.execute(
                            select(Charge).where(
                                Charge.department == standard.department, Charge.year == year
                            )
                        ).scalars()
                    ),
                    Decimal(0),
                )
                # What last year's charges brought above its limit is deducted from this year's.
                carried = sum(
                    (
                        Decimal(c.deducted)
                        for c in session.execute(
                            select(Charge).where(
                                Charge.department == standard.department, Charge.year == year - 1
                            )
                        ).scalars()
                    ),
                    Decimal(0),
                )
                room = max(Decimal(limit.amount) - carried - earned, Decimal(0))
                deducted = max(amount - room, Decimal(0))
            charge = Charge(
                request_id=request_id,
                fee_standard=standard.id,
                department=standard.department,
                quantity=str(units),
                unit_price=str(price),
                amount=str(amount),
                deducted=str(deducted),
                currency=standard.currency,
                year=year,
                charged_by=self.actor,
                created_at=now(),
                reason=why,
            )
            session.add(charge)
            session.flush()  # its id, for the ledger: the audit reconciles the charge by it
            record: dict[str, Any] = {
                "charge": charge.id,
                "fee_standard": standard.id,
                "quantity": str(units),
                "unit_price": str(price),
                "amount": str(amount),
                "deducted_next_period": str(deducted),
                "currency": standard.currency,
                "department": standard.department,
                "year": year,
            }
            if why is not None:
                record["reason_sha256"] = text_sha256(why)
            self._record(session, "fee.charged", request_id, record)
            return record
