"""The Polars engine's DP operations: bounding in one streaming pass, then exact aggregates.

The bounded table is collected into memory (it holds only the query's
columns); the engine's caller keeps it between queries. Aggregates run as
one lazy plan on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from custodes.engines._dp import (
    And,
    Between,
    Cells,
    Compare,
    Condition,
    EvaluationError,
    InSet,
    IsNull,
    Not,
    Or,
    clamped,
)
from custodes.io import TableSource, reading

__all__ = ["PolarsDP", "polars_condition"]

_COUNT, _SUM = "__n", "__s_"


def _operand(column: str, value: float | str) -> pl.Expr:
    """The column as a number when compared with a number, else as text."""
    if isinstance(value, float):
        return pl.col(column).cast(pl.Float64, strict=False)
    return pl.col(column).cast(pl.String)


def polars_condition(condition: Condition) -> pl.Expr:
    """The Polars expression of an engine-neutral condition (missing where SQL's is unknown)."""
    match condition:
        case And(left, right):
            return polars_condition(left) & polars_condition(right)
        case Or(left, right):
            return polars_condition(left) | polars_condition(right)
        case Not(operand):
            return ~polars_condition(operand)
        case IsNull(column):
            return pl.col(column).is_null()
        case InSet(column, values, numeric):
            if numeric:
                return pl.col(column).cast(pl.Float64, strict=False).is_in(list(values))
            return pl.col(column).cast(pl.String).is_in(list(values))
        case Between(column, low, high):
            return _operand(column, low).is_between(pl.lit(low), pl.lit(high))
        case Compare(column, op, value):
            target = _operand(column, value)
            compared: pl.Expr = {
                "=": target.__eq__,
                "<>": target.__ne__,
                "<": target.__lt__,
                "<=": target.__le__,
                ">": target.__gt__,
                ">=": target.__ge__,
            }[op](value)
            return compared
    raise TypeError(f"not a condition: {type(condition).__name__}")  # pragma: no cover


class PolarsDP:
    """:class:`~custodes.engines._dp.DPOps` on Polars."""

    def dp_bound(
        self,
        source: TableSource,
        columns: Sequence[str],
        unit: str | None,
        max_contributions: int,
        bounds: Mapping[str, Sequence[float]],
    ) -> TableSource:
        """See :meth:`custodes.engines.DPOps.dp_bound`."""
        if unit is None:  # each row is one person: every row, a row number to count them by
            row = "__custodes_row"
            while row in source.columns:
                row += "_"
            frame = source.frame.with_row_index(row).select([row, *columns])
        elif max_contributions == 1:  # contribution bounding: the first row of each person
            frame = source.frame.select(columns)
            frame = frame.filter(pl.col(unit).is_first_distinct())
        else:
            frame = source.frame.select(columns)
            frame = frame.filter(pl.int_range(pl.len()).over(unit) < max_contributions)
        copies = [
            pl.col(c)
            .cast(pl.Float64, strict=False)
            .fill_null(low)
            .clip(low, high)
            .alias(clamped(c))
            for c, (low, high) in bounds.items()
            if c in columns
        ]
        with reading(source):
            bounded = frame.with_columns(copies).collect(engine="streaming")
        return dataclasses.replace(source, frame=bounded.lazy(), columns=tuple(bounded.columns))

    def _rows(
        self, table: TableSource, groups: Sequence[str], where: Condition | None
    ) -> pl.LazyFrame:
        data = table.frame
        if where is not None:
            data = data.filter(polars_condition(where).fill_null(False))
        return data.with_columns(pl.col(g).cast(pl.String) for g in groups)

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
        """See :meth:`custodes.engines.DPOps.dp_cells`."""
        groups = list(groups)
        data = table.frame if limit is None else table.frame.head(limit)
        data = self._rows(dataclasses.replace(table, frame=data), groups, where)
        aggregates = [pl.len().alias(_COUNT)]
        aggregates += [pl.col(clamped(c)).sum().alias(_SUM + c) for c in sums]
        try:
            if groups:
                if domain is None:
                    keys = data.select(groups).unique().sort(groups)
                else:
                    keys = pl.LazyFrame([list(k) for k in domain], schema=groups, orient="row")
                exact = data.group_by(groups).agg(aggregates)
                joined = keys.join(exact, on=groups, how="left", maintain_order="left")
                cells = joined.fill_null(0).collect()
            else:
                cells = data.select(aggregates).collect()
        except pl.exceptions.PolarsError as exc:
            raise EvaluationError(type(exc).__name__) from None
        return Cells(
            groups=tuple(groups),
            keys=list(cells.select(groups).iter_rows()) if groups else [()],
            counts=[int(n) for n in cells.get_column(_COUNT).to_list()],
            sums={c: [float(v or 0) for v in cells.get_column(_SUM + c).to_list()] for c in sums},
        )

    def dp_values(
        self,
        table: TableSource,
        column: str,
        groups: Sequence[str],
        keys: Sequence[Sequence[str | None]],
        where: Condition | None = None,
    ) -> list[list[float]]:
        """See :meth:`custodes.engines.DPOps.dp_values`."""
        groups = list(groups)
        data = self._rows(table, groups, where)
        values = pl.col(clamped(column))
        try:
            if not groups:
                return [data.select(values).collect().to_series().to_list()] * len(keys)
            lists = data.group_by(groups).agg(values).collect()
        except pl.exceptions.PolarsError as exc:
            raise EvaluationError(type(exc).__name__) from None
        found: dict[tuple[Any, ...], list[float]] = {
            tuple(row[:-1]): row[-1] for row in lists.iter_rows()
        }
        return [[] if any(v is None for v in key) else found.get(tuple(key), []) for key in keys]
