"""The Polars engine's transformations: lazy plans, written by streaming.

Each operation adds to the table's lazy plan; nothing is computed until a
summary of the result is asked for or the result is written, and the write
streams (``sink_csv``, ``sink_parquet``, ``sink_ndjson``): the release is
never held in memory as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from custodes._files import StagedFile
from custodes.engines._polars import Table, as_date, frame_of, source_like
from custodes.io import TableSource, write_table

__all__ = ["PolarsTransformOps", "generalize", "recode"]


class PolarsTransformOps:
    """Transformations as Polars lazy plans."""

    def generalize(
        self,
        table: Table,
        mappings: Mapping[str, tuple[list[str | None], list[str]]],
        suppressed: Mapping[str, list[str]],
        drop: Sequence[str] = (),
    ) -> TableSource:
        """Apply a generalization to the full data (see :func:`generalize`)."""
        return source_like(generalize(frame_of(table), mappings, suppressed, drop), table)

    def recode(self, table: Table, mapping: pa.Table, columns: Sequence[str]) -> TableSource:
        """Local recoding of the full data (see :func:`recode`)."""
        frame = pl.DataFrame(pl.from_arrow(mapping))
        return source_like(recode(frame_of(table), frame, columns), table)

    def remove(self, table: Table, columns: Sequence[str]) -> TableSource:
        """Drop ``columns``."""
        return source_like(frame_of(table).drop(list(columns)), table)

    def select(self, table: Table, columns: Sequence[str]) -> TableSource:
        """Keep only ``columns``, in the table's order."""
        frame = frame_of(table)
        wanted = set(columns)
        return source_like(
            frame.select([c for c in frame.collect_schema().names() if c in wanted]), table
        )

    def mask(
        self, table: Table, column: str, keep_first: int, keep_last: int, char: str
    ) -> TableSource:
        """Mask the middle; a value no longer than what is kept is masked whole."""
        text = pl.col(column).cast(pl.String)
        length = text.str.len_chars()
        kept = keep_first + keep_last
        stars = pl.lit("").str.pad_end(length - kept, char)
        partial = pl.concat_str([text.str.head(keep_first), stars, text.str.tail(keep_last)])
        whole = pl.lit("").str.pad_end(length, char)
        masked = pl.when(length > kept).then(partial).otherwise(whole).alias(column)
        return source_like(frame_of(table).with_columns(masked), table)

    def distinct_text(self, table: Table, column: str) -> pa.Array:
        """The column's distinct values as text, nulls left out."""
        values = (
            frame_of(table).select(pl.col(column).cast(pl.String).unique()).collect().to_series()
        )
        return values.drop_nulls().to_arrow(compat_level=pl.CompatLevel.oldest())

    def replace_text(
        self, table: Table, column: str, old: Sequence[str], new: Sequence[str]
    ) -> TableSource:
        """The column as text with each ``old`` value replaced by its ``new`` one."""
        replaced = (
            pl.col(column)
            .cast(pl.String)
            .replace_strict(list(old), list(new), default=None, return_dtype=pl.String)
        )
        return source_like(frame_of(table).with_columns(replaced), table)

    def shift_dates(
        self,
        table: Table,
        column: str,
        person: str,
        people: Sequence[str],
        days: npt.NDArray[np.int64],
    ) -> TableSource:
        """Move each date by its person's offset; written as YYYY-MM-DD."""
        frame = frame_of(table)
        offset = (
            pl.col(person)
            .cast(pl.String)
            .replace_strict(list(people), days.tolist(), default=None, return_dtype=pl.Int64)
        )
        date = as_date(column, frame.collect_schema()[column])
        shifted = (date + pl.duration(days=offset)).dt.to_string("%Y-%m-%d").alias(column)
        return source_like(frame.with_columns(shifted), table)

    def keep_parts(
        self,
        table: Table,
        column: str,
        keep_first: int,
        keep_last: int | None,
        parity_at: int | None = None,
    ) -> TableSource:
        """The column as what a mask keeps (see :meth:`TransformOps.keep_parts`)."""
        text = pl.col(column).cast(pl.String)
        parts = [text.str.head(keep_first)]
        if parity_at is not None:
            digit = text.str.slice(parity_at - 1, 1).cast(pl.Int64, strict=False)
            parts.append((digit % 2).cast(pl.String).fill_null(""))
        elif keep_last is not None:
            parts.append(text.str.tail(keep_last))
        kept = pl.concat_str(parts, separator="|").alias(column)
        return source_like(frame_of(table).with_columns(kept), table)

    def microaggregate(
        self, table: Table, columns: Mapping[str, str], by: Sequence[str]
    ) -> TableSource:
        """Replace each column by its mean, median or mode within the classes ``by``.

        Mean and median read the column as numbers (a value that is not one
        counts as missing); the mode keeps the column's values.
        """
        if not columns:
            return source_like(frame_of(table), table)
        keys = list(by)
        expressions = []
        for column, function in columns.items():
            if function == "mode":
                value = pl.col(column).mode().sort().first()
            else:
                numbers = pl.col(column).cast(pl.Float64, strict=False)
                value = numbers.mean() if function == "mean" else numbers.median()
            expressions.append(value.over(keys).alias(column))
        return source_like(frame_of(table).with_columns(expressions), table)

    def write(self, table: Table, path: str | os.PathLike[str] | StagedFile) -> None:
        """Write the table, streaming, in the format the path's extension names.

        Given a :class:`~custodes._files.StagedFile`, the table goes to its
        temporary file and the caller renames it into place.
        """
        write_table(frame_of(table), path)


def _relabel(column: str, old: list[str | None], new: list[str]) -> pl.Expr:
    """Each value's label; nulls get the label of the null value (a value of its own)."""
    text = pl.col(column).cast(pl.String)
    keys = [(o, n) for o, n in zip(old, new, strict=True) if o is not None]
    null_label = next((n for o, n in zip(old, new, strict=True) if o is None), None)
    mapped = text.replace_strict(
        [o for o, _ in keys], [n for _, n in keys], default=None, return_dtype=pl.String
    )
    return pl.when(text.is_null()).then(pl.lit(null_label)).otherwise(mapped).alias(column)


def _label_codes(
    column: str, dtype: pl.DataType, old: list[str | None], new: list[int]
) -> pl.Expr | None:
    """Each row's label number, looked up on the column's own values (no text made per
    row); a value not in ``old`` gets null. None when the column's type is not one the
    lookup knows (or its values do not read back as that type)."""
    known = [(o, n) for o, n in zip(old, new, strict=True) if o is not None]
    null_code = next((n for o, n in zip(old, new, strict=True) if o is None), None)
    text = pl.Series([o for o, _ in known], dtype=pl.String)
    target = pl.Series([n for _, n in known], dtype=pl.Int64)
    value = pl.col(column)
    mapped: pl.Expr
    if not known:
        mapped = pl.lit(None, dtype=pl.Int64)
    elif dtype == pl.String:  # a value's place among ``old``, then its label
        place = value.cast(pl.Enum(text), strict=False).to_physical()
        mapped = pl.lit(target).gather(place)
    elif (dtype.is_integer() and dtype != pl.UInt64) or dtype == pl.Date:  # fit an Int64
        values = text.str.to_date("%Y-%m-%d", strict=False) if dtype == pl.Date else text
        physical = values.cast(dtype, strict=False).to_physical().cast(pl.Int64)
        if physical.null_count():
            return None
        number = value.to_physical().cast(pl.Int64)
        low, high = int(physical.min()), int(physical.max())  # type: ignore[arg-type]
        if high - low <= 4 * len(physical) + 1024:  # a lookup table over the range
            table = np.full(high - low + 1, -1, dtype=np.int64)
            table[physical.to_numpy() - low] = target.to_numpy()
            lookup = pl.Series(table).replace(-1, None)
            inside = number.is_between(low, high)
            mapped = pl.when(inside).then(pl.lit(lookup).gather((number - low).clip(0, high - low)))
        else:
            mapped = number.replace_strict(physical, target, default=None, return_dtype=pl.Int64)
    else:
        return None
    if null_code is not None:
        mapped = pl.when(value.is_null()).then(pl.lit(null_code)).otherwise(mapped)
    return mapped


def _numbered(
    frame: pl.LazyFrame,
    mappings: Mapping[str, tuple[list[str | None], list[str]]],
    suppressed: Mapping[str, list[str]],
) -> pl.LazyFrame | None:
    """The generalization through label numbers: each row's labels are looked up by
    number, suppressed records found by one packed key; None when a column's type or
    the number of label combinations does not allow it."""
    schema = frame.collect_schema()
    names = schema.names()
    prefix = "__label_"
    while any(n.startswith(prefix) for n in names):
        prefix += "_"
    columns = list(mappings)
    numbers: dict[str, dict[str, int]] = {}
    codes = []
    for j, (column, (old, new)) in enumerate(mappings.items()):
        number = numbers[column] = {}
        for label in new:
            number.setdefault(label, len(number))
        code = _label_codes(column, schema[column], old, [number[n] for n in new])
        if code is None:
            return None
        codes.append(code.alias(f"{prefix}{j}"))
    out = frame.with_columns(codes)
    if suppressed and any(suppressed.values()):
        if float(np.prod([max(len(numbers[c]), 1) for c in columns], dtype=np.float64)) >= 2**62:
            return None
        key = pl.lit(0, dtype=pl.Int64)
        keys = np.zeros(len(suppressed[columns[0]]), dtype=np.int64)
        for j, column in enumerate(columns):
            size = max(len(numbers[column]), 1)
            key = key * size + pl.col(f"{prefix}{j}")
            keys = keys * size + np.array([numbers[column][x] for x in suppressed[column]])
        out = out.filter(~key.is_in(pl.Series(np.unique(keys)).implode()).fill_null(False))
    labels = [pl.Series(list(numbers[c]), dtype=pl.String) for c in columns]
    return out.with_columns(
        pl.lit(text).gather(pl.col(f"{prefix}{j}")).alias(c)
        for j, (c, text) in enumerate(zip(columns, labels, strict=True))
    ).drop([f"{prefix}{j}" for j in range(len(columns))])


def generalize(
    frame: pl.LazyFrame,
    mappings: Mapping[str, tuple[list[str | None], list[str]]],
    suppressed: Mapping[str, list[str]],
    drop: Sequence[str] = (),
) -> pl.LazyFrame:
    """Apply a generalization to the full data: replace values, suppress records, drop columns.

    ``mappings[column]`` pairs each value with its generalized label; records
    whose generalized quasi-identifiers match a row of ``suppressed`` are
    removed from the release (suppressed records would otherwise form one
    class of their own that no model was checked against). Labels are looked
    up by number on the columns' own values where their types allow (text,
    integers, dates), else on the values as text.
    """
    out = _numbered(frame, mappings, suppressed)
    if out is None:
        out = _generalize_text(frame, mappings, suppressed)
    return out.drop(list(drop)) if drop else out


def _generalize_text(
    frame: pl.LazyFrame,
    mappings: Mapping[str, tuple[list[str | None], list[str]]],
    suppressed: Mapping[str, list[str]],
) -> pl.LazyFrame:
    """:func:`generalize` on the values as text: a lookup per value, a join for suppression."""
    columns = list(mappings)
    out = frame.with_columns(_relabel(c, old, new) for c, (old, new) in mappings.items())
    if suppressed and any(suppressed.values()):
        flag = "__suppressed"
        while flag in frame.collect_schema().names():
            flag += "_"
        keys = pl.LazyFrame(
            {c: pl.Series(c, suppressed[c], dtype=pl.String) for c in columns}
        ).with_columns(pl.lit(True).alias(flag))
        out = out.join(keys, on=columns, how="left", maintain_order="left", nulls_equal=True)
        out = out.filter(pl.col(flag).is_null()).drop(flag)
    return out


def recode(frame: pl.LazyFrame, mapping: pl.DataFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """Replace each row's values of ``columns`` by those its combination maps to.

    ``mapping`` has the original values (as text; nulls match nulls) in ``columns``
    and the released values in as many further columns, in the same order.
    """
    names = frame.collect_schema().names()
    prefix = "__recoded_"
    while any(n.startswith(prefix) for n in names):
        prefix += "_"
    new = mapping.columns[len(columns) :]
    renamed = mapping.rename({n: f"{prefix}{j}" for j, n in enumerate(new)})
    out = frame.with_columns(pl.col(c).cast(pl.String) for c in columns)
    out = out.join(
        renamed.lazy(), on=list(columns), how="left", maintain_order="left", nulls_equal=True
    )
    return out.with_columns(pl.col(f"{prefix}{j}").alias(c) for j, c in enumerate(columns)).drop(
        [f"{prefix}{j}" for j in range(len(new))]
    )
