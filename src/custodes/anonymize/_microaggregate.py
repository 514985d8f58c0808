"""Microaggregation: numeric values replaced by an aggregate of their equivalence class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

__all__ = ["microaggregate"]


def microaggregate(
    frame: pl.LazyFrame, columns: Mapping[str, str], by: Sequence[str]
) -> pl.LazyFrame:
    """Replace each column by its ``mean``, ``median`` or ``mode`` within the classes ``by``.

    Mean and median read the column as numbers (a value that is not one counts
    as missing); the mode keeps the column's values.
    """
    if not columns:
        return frame
    keys = list(by)
    expressions = []
    for column, function in columns.items():
        if function == "mode":
            value = pl.col(column).mode().sort().first()
        else:
            numbers = pl.col(column).cast(pl.Float64, strict=False)
            value = numbers.mean() if function == "mean" else numbers.median()
        expressions.append(value.over(keys).alias(column))
    return frame.with_columns(expressions)
