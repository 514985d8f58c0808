"""The engine's part of differential privacy: bounded tables and their exact aggregates.

A DP query's rows are first *bounded*: at most ``max_contributions`` rows per
person (the privacy unit), in the table's order, and a clamped copy of every
bounded column (a number; missing or unreadable values become the low
bound). The engine then computes exact aggregates of the bounded rows that
meet a condition, per group of text keys; the ``dp`` package adds the noise
(OpenDP) and decides what is released.

The condition is engine-neutral: small frozen values that the ``dp`` package
compiles from the query's ``WHERE`` clause and each engine translates into
its own expressions. Its logic is SQL's: a comparison with a missing value is
unknown, ``NOT`` of unknown is unknown, ``AND`` and ``OR`` are three-valued,
and a row is kept only when the whole condition is true.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from custodes.errors import InvalidInputError
from custodes.io import TableSource

__all__ = [
    "OPERATORS",
    "And",
    "Between",
    "Cells",
    "Compare",
    "Condition",
    "DPOps",
    "EvaluationError",
    "InSet",
    "IsNull",
    "Not",
    "Or",
    "clamped",
]

OPERATORS = ("=", "<>", "<", "<=", ">", ">=")
"""The comparison operators of :class:`Compare`."""


@dataclass(frozen=True)
class Compare:
    """``column <op> value``: as numbers when ``value`` is a float (a column value that is not
    a number is missing), else as text (the column's values written as text)."""

    column: str
    op: str
    value: float | str


@dataclass(frozen=True)
class InSet:
    """``column IN (values)``: as numbers when ``numeric``, else as text."""

    column: str
    values: tuple[float, ...] | tuple[str, ...]
    numeric: bool


@dataclass(frozen=True)
class Between:
    """``column BETWEEN low AND high``, both ends included; numbers or text, as Compare."""

    column: str
    low: float | str
    high: float | str


@dataclass(frozen=True)
class IsNull:
    """``column IS NULL``: the value is missing."""

    column: str


@dataclass(frozen=True)
class And:
    """Both conditions hold."""

    left: Condition
    right: Condition


@dataclass(frozen=True)
class Or:
    """Either condition holds."""

    left: Condition
    right: Condition


@dataclass(frozen=True)
class Not:
    """The condition does not hold."""

    operand: Condition


Condition = Compare | InSet | Between | IsNull | And | Or | Not
"""A row filter, engine-neutral."""

Key = tuple[str | None, ...]


@dataclass(frozen=True)
class Cells:
    """Exact aggregates of a bounded table, one cell per group key (plain Python values).

    ``keys[i]`` holds the group columns' values as text (None: missing);
    ``counts[i]`` the rows of that group, ``sums[column][i]`` the sum of the
    column's clamped values. Without groups there is one cell, key ``()``.
    """

    groups: tuple[str, ...]
    keys: list[Key]
    counts: list[int]
    sums: dict[str, list[float]]

    def __len__(self) -> int:
        return len(self.keys)

    def select(self, keep: Sequence[bool]) -> Cells:
        """The cells where ``keep`` is true, in order."""
        return Cells(
            self.groups,
            [k for k, ok in zip(self.keys, keep, strict=True) if ok],
            [c for c, ok in zip(self.counts, keep, strict=True) if ok],
            {
                name: [v for v, ok in zip(values, keep, strict=True) if ok]
                for name, values in self.sums.items()
            },
        )


class EvaluationError(InvalidInputError):
    """The engine could not evaluate a condition or grouping on the table (a column it does
    not have, a type it cannot compare).

    ``kind`` names the engine's own error class (never a data value); the
    ``dp`` package turns it into a message naming the dataset.
    """

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"the condition or grouping cannot be evaluated on the table's columns ({kind})."
        )
        self.kind = kind


def clamped(column: str) -> str:
    """The name of a bounded column's clamped copy in a bounded table."""
    return f"__c_{column}"


class DPOps(Protocol):
    """The bounded aggregates differential privacy needs, computed exactly by the engine."""

    def dp_bound(
        self,
        source: TableSource,
        columns: Sequence[str],
        unit: str | None,
        max_contributions: int,
        bounds: Mapping[str, Sequence[float]],
    ) -> TableSource:
        """The table's ``columns`` with at most ``max_contributions`` rows per ``unit`` (its
        first rows; None: each row is one person, every row kept) and a clamped copy
        (:func:`clamped`) of each column of ``bounds`` among them (``[low, high]``; a
        missing or non-numeric value becomes ``low``). The result is held by the engine (in
        memory, or cached on the cluster) for repeated queries."""
        ...

    def dp_cells(
        self,
        table: TableSource,
        groups: Sequence[str],
        sums: Sequence[str],
        where: Condition | None = None,
        domain: Sequence[Sequence[str]] | None = None,
        *,
        limit: int | None = None,
    ) -> Cells:
        """Count the rows of a bounded table that meet ``where``, and sum the clamped copies of
        the ``sums`` columns, per group.

        The group columns are compared as text. With ``domain`` (the public
        group keys) there is one cell per key, in its order, zero when no
        row has it; without, one cell per distinct key of the rows that meet
        ``where``, sorted (missing values first). A key with a missing value
        matches no row (as SQL's ``=``): its cell counts zero. ``limit``:
        read at most that many rows (0 checks the query against the column
        types only). Raises :class:`EvaluationError` when the condition or
        grouping does not fit the table.
        """
        ...

    def dp_values(
        self,
        table: TableSource,
        column: str,
        groups: Sequence[str],
        keys: Sequence[Sequence[str | None]],
        where: Condition | None = None,
    ) -> list[list[float]]:
        """The clamped values of ``column`` in the rows that meet ``where``, one list per key
        (rows whose group columns, as text, equal the key; a missing value matches nothing),
        in any order within a list."""
        ...
