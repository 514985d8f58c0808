"""Scale the UCI Adult table up to any number of rows for benchmarks."""

from __future__ import annotations

import numpy as np
import polars as pl

from custodes.errors import InvalidInputError, SettingError, unknown_column
from custodes.synth._register import _check_count

__all__ = ["adult_like"]

_AGE = "age"
_OFFSETS = np.array([-2, -1, 0, 1, 2], dtype=np.int64)
_OFFSET_WEIGHTS = np.array([0.1, 0.2, 0.4, 0.2, 0.1])


def adult_like(rows: int, *, seed: int = 0, source: pl.DataFrame | None = None) -> pl.DataFrame:
    """``rows`` rows that look like the UCI Adult table ``source``, for benchmarks.

    Whole rows of ``source`` are drawn with replacement, which keeps every
    column's distribution and the relationships between columns, and then
    ``age`` is moved by -2 to +2 years (0 with probability 0.4, +-1 with 0.2
    each, +-2 with 0.1 each; kept within the source's age range), so the number
    of distinct combinations keeps growing with ``rows`` as it would in a
    larger population instead of stopping at the source's. The result has the
    source's columns, in order and with their types (``age`` may be a string or
    an integer column). The same arguments always give the same table.

    Read the table with ``polars.read_csv(path, separator=";")`` (or with
    ``infer_schema=False`` for all-string columns).

    Raises SettingError if ``source`` is missing or empty or ``rows`` or
    ``seed`` is not a whole number >= 0; UnknownColumnError if it has no ``age`` column;
    InvalidInputError if ``age`` holds values that are not whole numbers.
    """
    rows = _check_count(rows, "rows", "adult_like")
    if source is None:
        raise SettingError(
            "adult_like needs the table to scale up: pass the UCI Adult table as "
            "source=polars.read_csv('adult.csv', separator=';')."
        )
    if source.height == 0:
        raise SettingError("adult_like: the source table has no rows; pass the UCI Adult table.")
    if _AGE not in source.columns:
        raise unknown_column(_AGE, source.columns, where="the source table of adult_like")
    age_type = source.schema[_AGE]
    age = source.get_column(_AGE).cast(pl.Int64, strict=False)
    known = age.drop_nulls().to_numpy()
    if age.null_count() > source.get_column(_AGE).null_count() or not len(known):
        raise InvalidInputError(
            f"adult_like: column {_AGE!r} of the source table must hold whole numbers "
            f"(it is {age_type}); fix or drop the rows where it does not."
        )
    rng = np.random.default_rng(_check_count(seed, "seed", "adult_like"))
    picked = rng.integers(0, source.height, size=rows)
    offset = rng.choice(_OFFSETS, size=rows, p=_OFFSET_WEIGHTS)
    low, high = int(known.min()), int(known.max())
    new_age = (age.gather(picked) + pl.Series(offset)).clip(low, high)
    return source[picked].with_columns(new_age.cast(age_type).alias(_AGE))
