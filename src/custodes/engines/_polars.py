"""The Polars engine's summaries: one lazy (streaming) scan builds the summary.

One group-by over the quasi-identifiers and the sensitive attributes reads the
data once. Each column of the (much smaller) result is integer-coded by a
fresh categorical mapping; the classes and histograms are then derived with
numpy from a mixed-radix key of the codes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from custodes._grouping import renumber
from custodes.engines._polars_packed import packed_summary, text_arrow
from custodes.errors import ColumnRoleError, SettingError
from custodes.io import TableSource
from custodes.summary import SensitiveHistogram, Summary, natural_rank

__all__ = ["PolarsSummaryOps", "Table", "check_environment", "frame_of", "source_like"]

# Polars decodes Parquet row groups ahead of a slower consumer (a sink writing the
# release) without bound, so memory grew with the table (pola-rs/polars#28569); one row
# group ahead keeps a streaming write in bounded memory and costs no speed on two cores.
# Read when a scan runs, so setting it here (before any) is enough; a user's value stays.
_PREFETCH = "POLARS_ROW_GROUP_PREFETCH_SIZE"
os.environ.setdefault(_PREFETCH, "1")


def check_environment() -> None:
    """Refuse a read-ahead setting Polars would panic on in the middle of a scan."""
    value = os.environ.get(_PREFETCH, "1").strip()
    if not value.isdigit() or int(value) < 1:
        raise SettingError(
            f"the environment variable {_PREFETCH} is {value[:40]!r}; give a whole number "
            "of Parquet row groups to read ahead, at least 1 (custodes uses 1), or unset it."
        )


Table = TableSource | pl.LazyFrame | pl.DataFrame
"""What the Polars engine takes: a table handle, or (for convenience) a Polars frame."""

_COUNT = "n"  # the other columns of the query are k0, k1, ... and c0, c1, ...
IntArray = npt.NDArray[np.int64]
_NESTED = (pl.List, pl.Array, pl.Struct, pl.Object, pl.Binary)


def frame_of(table: Table) -> pl.LazyFrame:
    """The lazy frame behind ``table``."""
    if isinstance(table, TableSource):
        return table.frame
    return table.lazy()


def source_like(frame: pl.LazyFrame, like: Table) -> TableSource:
    """``frame`` as a table handle read as ``like`` was (its name, format, diagnosis)."""
    columns = tuple(frame.collect_schema().names())
    if isinstance(like, TableSource):
        return TableSource(
            frame, like.name, like.format, like.encoding, like.delimiter, columns, like.diagnose
        )
    return TableSource(frame, "<table>", "polars", None, None, columns)


def _first_index(codes: IntArray, size: int) -> IntArray:
    """Row of the first occurrence of each code 0..size-1."""
    first = np.empty(size, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1, dtype=np.int64)
    return first


def _codes(physical: pl.Series) -> IntArray:
    """Categorical codes as int64; a null gets the code after the largest."""
    column = physical.to_numpy()
    if column.dtype.kind == "f":  # nulls came out as NaN
        missing = np.isnan(column)
        column = np.where(missing, (-1.0 if missing.all() else np.nanmax(column)) + 1, column)
    return column.astype(np.int64)


def _radix_key(columns: list[IntArray], sizes: list[int]) -> IntArray | None:
    """One int64 per row combining the codes (mixed radix), or None if it would overflow."""
    n = len(columns[0]) if columns else 0
    if float(np.prod([max(s, 1) for s in sizes], dtype=np.float64)) >= 2.0**62:
        return None
    key = np.zeros(n, dtype=np.int64)
    for codes, size in zip(columns, sizes, strict=True):
        key = key * max(size, 1) + codes
    return key


@dataclass(frozen=True)
class _Grouping:
    """Rows grouped into classes. ``order`` sorts rows by class (then by ``tail``)."""

    order: IntArray
    class_sorted: IntArray  # class of each row, in ``order``
    starts: IntArray  # position in ``order`` where each class begins

    @property
    def first_row(self) -> IntArray:
        return self.order[self.starts]

    def class_of_row(self) -> IntArray:
        out = np.empty(len(self.order), dtype=np.int64)
        out[self.order] = self.class_sorted
        return out


def _group(columns: list[IntArray], sizes: list[int], tail: IntArray, tail_size: int) -> _Grouping:
    """Sort rows by their code columns, then ``tail``; number the distinct classes."""
    n = len(tail)
    key = _radix_key([*columns, tail], [*sizes, tail_size])
    if key is not None:
        order = np.argsort(key)  # keys are distinct: no need for a stable sort
        class_key = key[order] // max(tail_size, 1)
        new = np.empty(n, dtype=bool)
        new[:1] = True
        np.not_equal(class_key[1:], class_key[:-1], out=new[1:])
    else:  # too many combinations for one integer key: sort rows lexicographically
        order = np.lexsort([tail, *reversed(columns)]) if columns else np.argsort(tail)
        new = np.zeros(n, dtype=bool)
        new[:1] = True
        for c in columns:
            sc = c[order]
            new[1:] |= sc[1:] != sc[:-1]
    return _Grouping(order.astype(np.int64), np.cumsum(new) - 1, np.flatnonzero(new))


class PolarsSummaryOps:
    """Summaries computed by Polars, streaming when the data exceeds memory."""

    name = "polars"

    def from_arrow(self, data: pa.Table, name: str = "<table>") -> TableSource:
        """A lazy Polars table holding ``data``."""
        frame = pl.DataFrame(pl.from_arrow(data)).lazy()
        return TableSource(frame, name, "polars", None, None, tuple(data.column_names))

    def to_arrow(self, table: Table, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole table (or ``columns``) in memory, streaming."""
        frame = frame_of(table)
        if columns is not None:
            frame = frame.select(list(columns))
        return frame.collect(engine="streaming").to_arrow(compat_level=pl.CompatLevel.oldest())

    def unsupported_columns(self, table: Table, columns: Sequence[str]) -> list[tuple[str, str]]:
        """(name, type) of the ``columns`` holding nested or binary values."""
        schema = frame_of(table).collect_schema()
        return [
            (name, str(schema[name]))
            for name in columns
            if isinstance(schema[name], _NESTED) or schema[name] in _NESTED
        ]

    def temporal_columns(self, table: Table, columns: Sequence[str]) -> list[str]:
        """The ``columns`` that hold dates or times."""
        schema = frame_of(table).collect_schema()
        return [c for c in columns if schema[c].is_temporal()]

    def non_numbers(self, table: Table, columns: Sequence[str]) -> dict[str, int]:
        """Per column, how many values are present but not numbers."""
        if not columns:
            return {}
        counts = (
            frame_of(table)
            .select(
                (
                    pl.col(c).cast(pl.Float64, strict=False).is_null().sum()
                    - pl.col(c).is_null().sum()
                ).alias(str(j))
                for j, c in enumerate(columns)
            )
            .collect(engine="streaming")
        )
        return {c: int(counts[0, str(j)]) for j, c in enumerate(columns)}

    def non_dates(self, table: Table, column: str) -> tuple[int, int | None]:
        """How many values are present but not dates, and the data row of the first."""
        frame = frame_of(table)
        date = as_date(column, frame.collect_schema()[column])
        bad = pl.col(column).is_not_null() & date.is_null()
        count, first = (
            frame.select(column)
            .with_row_index("row", offset=1)
            .filter(bad)
            .select(pl.len().alias("count"), pl.col("row").first().alias("first"))
            .collect()
            .row(0)
        )
        return int(count), None if first is None else int(first)

    def text_lengths(self, table: Table, column: str) -> list[int]:
        """The distinct lengths of the column's values as text."""
        lengths = (
            frame_of(table)
            .select(pl.col(column).cast(pl.String).drop_nulls().str.len_chars().unique())
            .collect(engine="streaming")
            .to_series()
        )
        return sorted(int(n) for n in lengths.to_list())

    def cast_like(self, table: Table, like: Table, columns: Sequence[str]) -> TableSource:
        """``table`` with ``columns`` cast to the types ``like`` holds them in."""
        schema = frame_of(like).collect_schema()
        frame = frame_of(table).with_columns(
            pl.col(q).cast(schema[q], strict=False) for q in columns
        )
        return source_like(frame, table)

    def row_codes(self, table: Table, columns: Sequence[str]) -> list[tuple[IntArray, pa.Array]]:
        """Each row's code per column (row order kept) and the distinct values as text."""
        frame = frame_of(table)
        keys = [f"k{j}" for j in range(len(columns))]
        schema = frame.collect_schema()
        text = [
            (pl.col(name) if schema[name] == pl.String else pl.col(name).cast(pl.String)).alias(key)
            for name, key in zip(columns, keys, strict=True)
        ]
        data = frame.select(text).collect(engine="streaming")
        out: list[tuple[IntArray, pa.Array]] = []
        for key in keys:
            series = data.get_column(key)
            physical = series.cast(pl.Categorical(pl.Categories.random())).to_physical()
            codes, distinct = renumber(_codes(physical))
            size = len(distinct)
            out.append((codes, text_arrow(series.gather(_first_index(codes, size)))))
        return out

    def summarize(
        self,
        table: Table,
        quasi_identifiers: Sequence[str],
        sensitive: Sequence[str] = (),
    ) -> Summary:
        """Group by the quasi-identifiers and sensitive attributes in one pass."""
        frame = frame_of(table)
        qis = list(quasi_identifiers)
        sens = list(sensitive)
        names = [*qis, *sens]
        if len(set(names)) != len(names):
            raise ColumnRoleError(
                "a column is listed twice among the quasi-identifiers and sensitive "
                "attributes; give each column one role."
            )
        if not sens:
            bounds = table.bounds if isinstance(table, TableSource) else None
            stated = bounds.of(frame, qis) if bounds is not None else None
            packed = packed_summary(frame, qis, stated)
            if packed is not None:
                return packed
        # Positional names inside the query: a user column may be called anything.
        keys = [f"k{j}" for j in range(len(names))]
        # Group the raw values first (one hash pass over the data), then code each
        # column of the much smaller result with a fresh categorical mapping: the
        # codes stay dense and private to this summary. (Casting the input to
        # categorical first is ~1 ms faster on small tables but 40 % slower at 10 M rows.)
        schema = frame.collect_schema()
        renamed = [pl.col(name).alias(key) for name, key in zip(names, keys, strict=True)]
        coded = [
            (pl.col(key) if schema[name] == pl.String else pl.col(key).cast(pl.String))
            .cast(pl.Categorical(pl.Categories.random()))
            .to_physical()
            .alias(f"c{j}")
            for j, (name, key) in enumerate(zip(names, keys, strict=True))
        ]
        detail = (
            frame.select(renamed)
            .group_by(keys)
            .agg(pl.len().alias(_COUNT))
            .with_columns(coded)
            .collect(engine="streaming")
        )
        counts = detail.get_column(_COUNT).to_numpy().astype(np.int64)
        codes: list[IntArray] = []
        sizes: list[int] = []
        for j in range(len(keys)):
            c, distinct = renumber(_codes(detail.get_column(f"c{j}")))
            size = len(distinct)
            codes.append(c)
            sizes.append(size)

        q = len(qis)
        natural: list[tuple[pa.Array, IntArray]] = []
        for offset in range(len(sens)):
            j = q + offset
            first = _first_index(codes[j], sizes[j])
            categories = detail.get_column(keys[j]).gather(first).cast(pl.String)
            rank = natural_rank(text_arrow(categories))
            ordered = text_arrow(categories.gather(np.argsort(rank, kind="stable")))
            natural.append((ordered, rank[codes[j]]))

        # Sort once by class and, with one sensitive attribute, by its value too:
        # the sorted rows are then exactly the histogram's (class, value) triples.
        single = len(sens) == 1
        tail = natural[0][1] if single else np.zeros(len(counts), dtype=np.int64)
        grouping = _group(codes[:q], sizes[:q], tail, len(natural[0][0]) if single else 1)
        classes = len(grouping.starts)
        sorted_counts = counts[grouping.order]
        class_counts = (
            np.add.reduceat(sorted_counts, grouping.starts) if classes else sorted_counts[:0]
        )
        first_row = grouping.first_row
        matrix = np.empty((classes, q), dtype=np.int32)
        for j in range(q):
            matrix[:, j] = codes[j][first_row]

        histograms: dict[str, SensitiveHistogram] = {}
        if single:
            histograms[sens[0]] = SensitiveHistogram(
                name=sens[0],
                values=natural[0][0],
                class_index=grouping.class_sorted,
                value_code=tail[grouping.order],
                count=sorted_counts,
            )
        else:
            class_of_row = grouping.class_of_row()
            for name, (ordered, value_codes) in zip(sens, natural, strict=True):
                histograms[name] = _histogram(name, ordered, value_codes, class_of_row, counts)
        return Summary(
            quasi_identifiers=tuple(qis),
            codes=matrix,
            counts=class_counts.astype(np.int64),
            sensitive=histograms,
            # One entry per distinct value of each column crosses the seam, as text.
            categories=tuple(
                text_arrow(detail.get_column(keys[j]).gather(_first_index(codes[j], sizes[j])))
                for j in range(q)
            ),
        )


def _histogram(
    name: str,
    values: pa.Array,
    value_codes: IntArray,
    class_of_row: IntArray,
    counts: IntArray,
) -> SensitiveHistogram:
    """Sparse (class, value, count) triples summed over rows."""
    m = max(len(values), 1)
    unique_keys, inverse = np.unique(class_of_row * m + value_codes, return_inverse=True)
    totals = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(unique_keys))
    return SensitiveHistogram(
        name=name,
        values=values,
        class_index=(unique_keys // m).astype(np.int64),
        value_code=(unique_keys % m).astype(np.int64),
        count=totals.astype(np.int64),
    )


def as_date(column: str, dtype: pl.DataType) -> pl.Expr:
    """The column read as dates (text parsed as YYYY-MM-DD; what does not parse: null)."""
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return pl.col(column).cast(pl.Date)
    return pl.col(column).cast(pl.String).str.to_date(strict=False)
