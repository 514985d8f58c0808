"""An exact privacy loss: :class:`Budget`, rho of zero-concentrated DP as a fraction.

Budgets, what was spent and what a query spends are all :class:`Budget`
values: they add, subtract, compare and are divided among a query's releases
exactly (``fractions.Fraction``), are stored and put on the ledger exactly
(``"1/4"``; ``[1, 4]``), and are shown to people as short decimals
(``0.25``). Epsilon, at a delta, is derived from rho for people to read; it is
never added up (rho composes, epsilon does not).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from custodes.dp._mechanisms import epsilon_of, rho_of_epsilon
from custodes.errors import RefusedError, SettingError

__all__ = [
    "MAX_BUDGET_RHO",
    "MAX_QUERY_EPSILON",
    "MAX_QUERY_RHO",
    "MIN_QUERY_EPSILON",
    "MIN_QUERY_RHO",
    "Budget",
    "parse_rho",
    "query_spend",
]

MIN_QUERY_RHO = Fraction(1, 10**9)
MAX_QUERY_RHO = Fraction(100)
MIN_QUERY_EPSILON = Fraction(1, 1000)
MAX_QUERY_EPSILON = Fraction(100)
MAX_BUDGET_RHO = Fraction(10**6)

Text = str | Fraction | float | int


_NUMBER = re.compile(
    r"[+-]?(\d{1,40}(\.\d{0,40})?|\.\d{1,40})([eE][+-]?\d{1,3})?|\d{1,40}\s*/\s*\d{1,40}"
)
"""What a privacy loss is written as: a decimal (an exponent of at most three digits) or a
fraction, of at most 40 digits a part. Anything longer is refused before it is read:
``Fraction("1e-999999999")`` alone would take the machine for hours."""


def _number(text: Text, what: str, example: str) -> Fraction:
    if isinstance(text, Fraction):
        return text
    try:
        if isinstance(text, float) and not math.isfinite(text):
            raise ValueError
        written = text.strip() if isinstance(text, str) else str(text)
        if isinstance(text, str) and not _NUMBER.fullmatch(written):
            raise ValueError
        return Fraction(written)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        raise SettingError(
            f"{what} {text!r} is not a finite number; give e.g. {example}."
        ) from None


def _within(value: Fraction, low: Fraction, high: Fraction, text: object, what: str) -> Fraction:
    if not low <= value <= high:
        raise SettingError(
            f"{what} {text!r} is outside the accepted range {Budget(low)} to {Budget(high)}; "
            "give a value in that range."
        )
    return value


@dataclass(frozen=True, order=True)
class Budget:
    """A privacy loss in rho-zCDP, exact. ``str()`` gives the decimal people read."""

    rho: Fraction = Fraction(0)

    def __post_init__(self) -> None:
        if not isinstance(self.rho, Fraction):
            if isinstance(self.rho, bool) or not isinstance(self.rho, int):
                raise TypeError(f"a Budget's rho is a Fraction, not {type(self.rho).__name__}")
            object.__setattr__(self, "rho", Fraction(self.rho))

    # ------------------------------------------------------------ made from text

    @classmethod
    def total(cls, text: Text | Budget) -> Budget:
        """A budget's total: a fraction ("1/4") or decimal ("0.25") from 0 to 10^6."""
        if isinstance(text, Budget):
            text = text.rho
        value = _number(text, "rho", "0.1 or 1/10")
        return cls(_within(value, Fraction(0), MAX_BUDGET_RHO, text, "rho"))

    @classmethod
    def spend(cls, rho: Text | None, epsilon: Text | None, delta: float) -> Budget:
        """What a query spends, from rho or epsilon (at ``delta``), both finite and in range.

        Epsilon is read from its decimal text exactly and converted to the
        largest short rho whose epsilon does not exceed it (rounded down).
        """
        if (rho is None) == (epsilon is None):
            raise SettingError("give the privacy loss to spend: rho or epsilon (one of them).")
        if rho is not None:
            value = _number(rho, "rho", "0.1 or 1/10")
            return cls(_within(value, MIN_QUERY_RHO, MAX_QUERY_RHO, rho, "rho"))
        assert epsilon is not None
        value = _number(epsilon, "epsilon", "1 or 0.5")
        _within(value, MIN_QUERY_EPSILON, MAX_QUERY_EPSILON, epsilon, "epsilon")
        return cls(rho_of_epsilon(value, delta))

    @classmethod
    def stored(cls, text: str) -> Budget:
        """A budget as the store holds it (the exact fraction's text)."""
        return cls(Fraction(text))

    @classmethod
    def from_ledger(cls, pair: list[int]) -> Budget:
        """A budget as the ledger holds it: [numerator, denominator]."""
        return cls(Fraction(pair[0], pair[1]))

    # ------------------------------------------------------------ arithmetic

    def __add__(self, other: Budget) -> Budget:
        if not isinstance(other, Budget):
            return NotImplemented
        return Budget(self.rho + other.rho)

    def __sub__(self, other: Budget) -> Budget:
        if not isinstance(other, Budget):
            return NotImplemented
        return Budget(self.rho - other.rho)

    def split(self, parts: int) -> Budget:
        """An equal share of ``parts`` (each release of a query spends one)."""
        if parts < 1:
            raise ValueError("a budget is split into one part or more")
        return Budget(self.rho / parts)

    def fits_within(self, available: Budget) -> bool:
        """Whether this spend can be paid from ``available``."""
        return self.rho <= available.rho

    def short_of(self, available: Budget) -> Budget:
        """How much ``available`` lacks to pay this (zero when it fits)."""
        return Budget(max(self.rho - available.rho, Fraction(0)))

    # ------------------------------------------------------------ shown

    def epsilon(self, delta: float) -> float:
        """The epsilon of (epsilon, delta)-DP this rho implies (for people; never added up)."""
        return epsilon_of(self.rho, delta)

    def epsilon_shown(self, delta: float) -> float:
        """The epsilon people read: to 6 decimals, 0 when there is no loss (or none left)."""
        return round(self.epsilon(delta), 6) if self.rho > 0 else 0.0

    def exact(self) -> str:
        """The exact fraction's text, e.g. ``1/4`` (what the store holds)."""
        return str(self.rho)

    def shown(self, exact: bool = False) -> str:
        """For people: a decimal of at most 6 significant digits, or the exact fraction."""
        if exact:
            return self.exact()
        if self.rho == 0:
            return "0"
        with localcontext() as context:
            context.prec = 6
            decimal = Decimal(self.rho.numerator) / Decimal(self.rho.denominator)
        text = f"{decimal:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    def __str__(self) -> str:
        return self.shown()

    def to_ledger(self) -> list[int]:
        """For the ledger: [numerator, denominator] (integers, exact, never a float)."""
        return [self.rho.numerator, self.rho.denominator]

    def refusal(self, whose: str, dataset: str, remaining: Budget) -> RefusedError:
        """Why this spend cannot be paid from ``remaining``: requested, remaining, short by."""
        return RefusedError(
            f"{whose} privacy budget on {dataset} cannot pay: requested rho {self.exact()} "
            f"({self}), remaining {remaining.exact()} ({remaining}), short by "
            f"{self.short_of(remaining)}."
        )


def parse_rho(text: Text) -> Fraction:
    """A budget total in rho-zCDP: a fraction ("1/4") or decimal ("0.25"), 0 to 10^6."""
    return Budget.total(text).rho


def query_spend(rho: Text | None, epsilon: Text | None, delta: float) -> Fraction:
    """The rho a query spends, from rho or epsilon (at ``delta``), both finite and in range.

    See :meth:`Budget.spend`.
    """
    return Budget.spend(rho, epsilon, delta).rho
