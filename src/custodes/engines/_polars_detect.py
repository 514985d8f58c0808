"""The detector's operations on Polars (:class:`~custodes.engines._detect.DetectOps`).

Regular expressions are Polars' (Rust ``regex``: ``\\d``, ``\\s`` and ``\\b`` are
Unicode-aware). The shapes of one search run in one ``select`` and the
searches in one ``collect_all``, so Polars evaluates them in parallel. Columns
are worked on, and handed over, in chunks of about :data:`CHUNK` values; a
whole table is read by the streaming engine in runs of :data:`BATCH` rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from custodes.engines._detect import (
    DIGEST,
    DetectBatch,
    DetectSample,
    Matches,
    Shape,
    SpanSearch,
    Strings,
    Variant,
)
from custodes.io import TableSource, reading

__all__ = ["BATCH", "CHUNK", "PolarsDetectOps", "normalised", "redaction_expr"]

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: run markers
_VIEWS = pl.CompatLevel.newest()  # strings leave as Arrow string views: no copy
CHUNK = 1 << 17
"""Values per chunk of a column the detector works on: string work on one array of
millions of values is about twice as slow (its intermediate results leave the cache)."""
BATCH = 1 << 20
"""Rows per run of a whole table read (:meth:`PolarsDetectOps.detect_batches`): ten
columns of a register are some 200 MB as text."""


def normalised(column: pl.Expr, variant: Variant) -> pl.Expr:
    """A string column normalised for matching (see :data:`~custodes.engines._detect.Variant`)."""
    text = column.cast(pl.String).str.strip_chars()
    if variant == "text":
        return text
    compact = text.str.replace_all(r"[\s\-]", "").str.to_uppercase()
    if variant == "compact":
        return compact
    return compact.str.replace_all(r"[()\x{FF08}\x{FF09}]", "")  # also full-width brackets


def _compact_digits(text: pl.Expr) -> pl.Expr:
    """Digits written apart (``110105 1949 1231 002X``, ``138-1234-5678``) put together."""
    return text.str.replace_all(r"(\d)[\s\-\u00a0\u3000]+", "${1}").str.replace_all(
        r"(\d)[\s\-\u00a0\u3000]+", "${1}"
    )


def _text(column: str) -> pl.Expr:
    """A column as strings stripped at both ends, an empty string as null."""
    text = pl.col(column).cast(pl.String).str.strip_chars()
    return pl.when(text != "").then(text).alias(column)


def _non_empty(text: pl.Series) -> pl.Series:
    """The strings of a :func:`_text` column (nulls left out)."""
    return text if text.null_count() == 0 else text.drop_nulls()


def _chunked(values: pl.Series) -> pl.Series:
    """``values`` in chunks of about :data:`CHUNK` (zero-copy slices); chunks of a
    streamed read are kept unless one is too large or most are far too small (a run of
    rows that starts or ends inside one of the engine's chunks has a small one there)."""
    sizes = [len(c) for c in values.get_chunks()]
    if not sizes or (max(sizes) <= 2 * CHUNK and len(values) >= len(sizes) * CHUNK // 8):
        return values
    whole = values.rechunk() if len(sizes) > 1 else values
    parts = [whole.slice(start, CHUNK) for start in range(0, len(whole), CHUNK)]
    return pl.concat(parts, rechunk=False) if len(parts) > 1 else whole


def _arrow(values: pl.Series) -> Strings:
    """A string column as Arrow string views in its chunks (no copy)."""
    if values.n_chunks() == 1:
        return values.to_arrow(compat_level=_VIEWS)
    return values.to_frame().to_arrow(compat_level=_VIEWS).column(0)


def _strings(values: Strings) -> pl.Series:
    """Arrow strings as a Polars string column in chunks (:func:`_chunked`)."""
    series = pl.from_arrow(values, rechunk=False)
    assert isinstance(series, pl.Series)
    series = series if series.dtype == pl.String else series.cast(pl.String)
    return _chunked(series.alias("v"))


def _no_matches() -> Matches:
    return Matches(np.zeros(0, dtype=np.int64), pa.array([], type=pa.large_string()))


def _has(shape: Shape, column: str | None = None) -> pl.Expr:
    """Whether the normalised value in ``column`` (default: the variant's) has ``shape``."""
    value = pl.col(column or shape.variant)
    found = value.str.contains(shape.pattern)
    for words in shape.contains_any:
        found = found & value.str.contains_any(list(words))
    return found


def _candidates(search: SpanSearch) -> pl.Expr:
    """The list of candidate strings of each row of column ``text``."""
    text = pl.col("text")
    parts: list[pl.Expr] = [text] if search.whole else []
    if search.span is not None:
        base = text.str.replace_all(DIGEST, " ") if search.skip_digests else text
        parts.append(base.str.extract_all(search.span))
        if search.compact_digits:
            parts.append(_compact_digits(base).str.extract_all(search.span))
    if len(parts) == 1 and search.span is not None and not search.whole:
        return parts[0]
    return pl.concat_list(parts)


def redaction_expr(column: str, replacements: Sequence[tuple[str, Mapping[str, str]]]) -> pl.Expr:
    """The column with every run of each pattern that its mapping lists replaced.

    A run is replaced only where it is a whole run of the pattern, exactly as
    it was found: every run is first wrapped in markers, the marked runs to
    replace are replaced in one Aho-Corasick pass, and the markers are
    removed. A phone number that is also the middle of an order number in the
    same cell stays in the order number.
    """
    text = pl.col(column).cast(pl.String).str.replace_all(f"[{_OPEN}{_CLOSE}]", "")
    for pattern, mapping in replacements:
        marked = {f"{_OPEN}{k}{_CLOSE}": v for k, v in mapping.items()}
        text = (
            text.str.replace_all(f"({pattern})", f"{_OPEN}${{1}}{_CLOSE}")
            .str.replace_many(marked, leftmost=True)
            .str.replace_all(f"[{_OPEN}{_CLOSE}]", "")
        )
    return text.alias(column)


class PolarsDetectOps:
    """:class:`~custodes.engines._detect.DetectOps` on Polars (a mixin of the engine)."""

    def detect_sample(self, source: TableSource, rows: int) -> DetectSample:
        """The row count, and the non-empty values of the first ``rows`` rows per column."""
        with reading(source):
            count = int(source.frame.select(pl.len()).collect().item())
            head = source.frame.head(rows).select(_text(c) for c in source.columns).collect()
        values = {c: _arrow(_non_empty(head.get_column(c))) for c in head.columns}
        return DetectSample(count, head.height, values)

    def detect_batches(self, source: TableSource, columns: Sequence[str]) -> Iterator[DetectBatch]:
        """Every row of ``columns``, :data:`BATCH` rows at a time, in row order: the
        streaming engine reads (and strips) the next rows while the caller works."""
        query = source.frame.select(_text(c) for c in columns)
        with reading(source):
            batches = iter(query.collect_batches(chunk_size=BATCH, engine="streaming"))
        while True:
            with reading(source):  # only the read: the caller's own errors pass
                frame = next(batches, None)
            if frame is None:
                return
            values = {c: _arrow(_chunked(_non_empty(frame.get_column(c)))) for c in columns}
            yield DetectBatch(frame.height, values)

    def shape_matches(self, values: Strings, shapes: Sequence[Shape]) -> list[Matches]:
        """Per shape, the values that have it, normalised; all shapes in one ``select``."""
        if len(values) == 0:
            return [_no_matches() for _ in shapes]
        if not shapes:
            return []
        source = _strings(values).to_frame("v")
        variants = sorted({s.variant for s in shapes})
        frame = source.select(normalised(pl.col("v"), v).alias(v) for v in variants)
        masks = frame.select(_has(s).fill_null(False).alias(str(i)) for i, s in enumerate(shapes))
        out = []
        for i, s in enumerate(shapes):
            mask = masks.get_column(str(i))
            rows = np.flatnonzero(mask.to_numpy()).astype(np.int64, copy=False)
            if len(rows) == 0:
                out.append(_no_matches())
                continue
            out.append(Matches(rows, _arrow(frame.get_column(s.variant).filter(mask))))
        return out

    def span_matches(self, values: Strings, searches: Sequence[SpanSearch]) -> list[Matches]:
        """Per search, every candidate of every value that has the search's shape."""
        if len(values) == 0:
            return [_no_matches() for _ in searches]
        frame = _strings(values).to_frame("text").with_row_index("row")
        if all(s.span is not None and s == SpanSearch(s.shape, s.span) for s in searches):
            # Only runs of the patterns are candidates: the values in which none of them is
            # found (notes without a digit, say) are left out first, in one pass of them all.
            anywhere = "|".join(f"(?:{s.span})" for s in searches)
            frame = frame.filter(pl.col("text").str.contains(anywhere))
        lazy = frame.lazy()
        queries = [
            lazy.select("row", _candidates(s).alias("span"))
            .explode("span")
            .drop_nulls("span")
            .with_columns(normalised(pl.col("span"), s.shape.variant).alias("span"))
            .filter(_has(s.shape, "span"))
            for s in searches
        ]
        return [
            Matches(
                found.get_column("row").to_numpy().astype(np.int64, copy=False),
                _arrow(found.get_column("span")),
            )
            for found in pl.collect_all(queries)
        ]

    def columns_matching(self, source: TableSource, pattern: str) -> list[str]:
        """The columns with a value (as a string) in which ``pattern`` is found: one pass."""
        names = source.frame.collect_schema().names()
        maybe = source.frame.select(
            pl.col(c).cast(pl.String).str.contains(pattern).any().alias(str(i))
            for i, c in enumerate(names)
        ).collect()
        return [c for i, c in enumerate(names) if maybe.get_column(str(i)).item()]

    def distinct_runs(
        self, source: TableSource, column: str, patterns: Sequence[str]
    ) -> list[Strings]:
        """Per pattern, the distinct runs of it in ``column``; the patterns in parallel."""
        text = pl.col(column).cast(pl.String)
        queries = [
            source.frame.select(
                text.str.extract_all(p).explode().drop_nulls().unique().alias("span")
            )
            for p in patterns
        ]
        return [_arrow(found.get_column("span")) for found in pl.collect_all(queries)]

    def redact(
        self,
        source: TableSource,
        column: str,
        replacements: Sequence[tuple[str, Mapping[str, str]]],
    ) -> TableSource:
        """``column`` with the runs its mappings list replaced (:func:`redaction_expr`)."""
        frame = source.frame.with_columns(redaction_expr(column, replacements))
        return dataclasses.replace(source, frame=frame)
