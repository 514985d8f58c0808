"""Open anything custodes accepts as a table: a path, a URI, a Polars frame or a source."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from custodes.errors import InvalidInputError

from ._read import EXTENSIONS, read_table
from ._source import TableSource

__all__ = ["TableLike", "is_text", "open_table"]

TableLike = str | os.PathLike[str] | pl.DataFrame | pl.LazyFrame | TableSource


def open_table(table: TableLike, /, **read_options: Any) -> TableSource:
    """Turn a path, URI, DataFrame or LazyFrame into a :class:`TableSource`.

    A path or URI is opened by :func:`read_table` with ``read_options``; a frame or
    a source is taken as it is.
    """
    if isinstance(table, TableSource):
        return table
    if isinstance(table, pl.DataFrame | pl.LazyFrame):
        frame = table.lazy()
        try:
            cols = tuple(frame.collect_schema().names())
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InvalidInputError(
                f"the lazy frame given cannot be read ({type(exc).__name__}); check the file "
                "it scans, or pass a path and let custodes read it."
            ) from None
        return TableSource(frame, "<table>", "polars", None, None, cols)
    return read_table(table, **read_options)


_TEXT_FORMATS = ("csv", "tsv", "jsonl")


def is_text(table: TableLike, read_options: Mapping[str, Any]) -> bool:
    """Whether ``table`` will be read as text (where an encoding applies)."""
    fmt = read_options.get("format")
    if fmt is not None:
        return str(fmt).lower() in _TEXT_FORMATS
    if not isinstance(table, str | os.PathLike) or "://" in str(table):
        return False
    return EXTENSIONS.get(Path(table).suffix.lower()) in _TEXT_FORMATS
