"""Parquet, JSON Lines and Excel readers.

Parquet and Excel keep the column types stored in the file; JSON Lines
columns are read as String (nested values as JSON text), like CSV.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import fastexcel
import polars as pl
import pyarrow as pa

from custodes.errors import MalformedTableError, SettingError, closest

from ._csv import HeaderJudge, ask_header, check_header, header_verdict
from ._encoding import open_utf8, text_sample
from ._source import Bound, Bounds, TableSource

if TYPE_CHECKING:
    import pyarrow.parquet as pq

__all__ = ["read_jsonl", "read_parquet", "read_xlsx"]

_UNNAMED = "__UNNAMED__"


def read_parquet(path: Path, shown: str) -> TableSource:
    """Scan a Parquet file lazily."""
    frame = pl.scan_parquet(path, glob=False)
    try:
        names = frame.collect_schema().names()
    except pl.exceptions.PolarsError:
        raise MalformedTableError(
            f"{shown!r} is not a readable Parquet file: it may be incomplete or in another "
            "format (force one with format='csv', CLI: --input-format csv)."
        ) from None
    bounds = _parquet_bounds(path, frame)
    return TableSource(frame, shown, "parquet", None, None, tuple(names), bounds=bounds)


def _parquet_bounds(path: Path, frame: pl.LazyFrame) -> Bounds | None:
    """The columns' bounds from the row groups' statistics (of signed integers, dates and
    booleans only: those every writer orders as their values)."""
    import pyarrow.parquet as pq  # (only for Parquet files)

    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return None
    where = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    arrow = meta.schema.to_arrow_schema()

    def read(columns: Sequence[str]) -> dict[str, Bound]:
        out: dict[str, Bound] = {}
        for name in columns:
            i = where.get(name)
            if i is None or arrow.get_field_index(name) < 0:
                continue
            kind = arrow.field(name).type
            if not (pa.types.is_signed_integer(kind) or kind in (pa.date32(), pa.bool_())):
                continue
            found = _stated(meta, i)
            if found is not None:
                out[name] = found
        return out

    return Bounds(frame, meta.num_rows, read)


def _stated(meta: pq.FileMetaData, i: int) -> Bound | None:
    """Column ``i``'s bounds over every row group (None: a group does not state them)."""
    low: object = None
    high: object = None
    nulls = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        stats = group.column(i).statistics
        if stats is None or not stats.has_null_count:
            return None
        nulls += stats.null_count
        if stats.has_min_max:
            low = stats.min if low is None else min(low, stats.min)
            high = stats.max if high is None else max(high, stats.max)
        elif stats.null_count != group.num_rows:
            return None
    return low, high, nulls


def _json_problem(line: str, number: int, shown: str) -> MalformedTableError | None:
    if not line.strip():
        return None
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return MalformedTableError(
            f"line {number} of {shown!r} is not valid JSON ({exc.msg} at column {exc.colno}). "
            "JSON Lines files hold one JSON object per line."
        )
    if not isinstance(value, dict):
        return MalformedTableError(
            f"line {number} of {shown!r} is a JSON {type(value).__name__}, not an object. "
            "JSON Lines files hold one JSON object per line."
        )
    return None


def _locate_json(path: Path, shown: str) -> MalformedTableError | None:
    with open(path, encoding="utf-8-sig") as file:
        for number, line in enumerate(file, start=1):
            problem = _json_problem(line, number, shown)
            if problem is not None:
                return problem
    return None


def _sample_keys(path: Path, shown: str) -> tuple[str, ...]:
    text, truncated = text_sample(path)
    lines = text.split("\n")
    if truncated and len(lines) > 1:
        lines.pop()
    keys: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        problem = _json_problem(line, number, shown)
        if problem is not None:
            raise problem
        if line.strip():
            keys.update(dict.fromkeys(json.loads(line)))
    if not keys:
        raise MalformedTableError(f"{shown!r} has no rows with keys: there are no columns to read.")
    return tuple(keys)


def read_jsonl(path: Path, shown: str, encoding: str | None) -> TableSource:
    """Scan a JSON Lines file lazily; columns are the keys seen in its first 64 KiB."""
    utf8_path, det = open_utf8(path, shown, encoding)
    names = _sample_keys(utf8_path, shown)
    frame = pl.scan_ndjson(utf8_path, schema=dict.fromkeys(names, pl.String))

    def diagnose() -> None:
        problem = _locate_json(utf8_path, shown)
        if problem is not None:
            raise problem

    try:
        frame.select(pl.first().is_null().sum()).collect()
    except pl.exceptions.PolarsError:
        diagnose()
        raise MalformedTableError(f"{shown!r} cannot be read as JSON Lines.") from None
    return TableSource(frame, shown, "jsonl", det.encoding, None, names, diagnose)


def _workbook(path: Path, shown: str) -> fastexcel.ExcelReader:
    try:
        return fastexcel.read_excel(str(path))
    except fastexcel.FastExcelError:
        raise MalformedTableError(
            f"{shown!r} cannot be read as an Excel workbook (.xlsx): it may be damaged or "
            "in another format (force one with format='csv', CLI: --input-format csv)."
        ) from None


_HEADER_SAMPLE = 1_000
"""Rows of a sheet read to judge whether its first row is a header."""


def read_xlsx(
    path: Path,
    shown: str,
    sheet: str | None,
    has_header: bool | None,
    judge: HeaderJudge | None = None,
) -> TableSource:
    """Read one sheet of a workbook (the first unless ``sheet`` names one).

    Excel files are read eagerly (a sheet holds at most about a million rows).
    Empty rows, and columns with neither a name nor values, are dropped. With
    ``has_header`` None the first row is judged as in a CSV file
    (:func:`~custodes.io._csv.header_verdict`).
    """
    sheets = _workbook(path, shown).sheet_names
    if not sheets:
        raise MalformedTableError(
            f"{shown!r} is an Excel workbook with no sheets: there is no table to read. "
            "Add a sheet with a header row and data, or export the table as CSV."
        )
    if sheet is None:
        sheet = sheets[0]
    elif sheet not in sheets:
        hint = closest(sheet, sheets)
        suggestion = f" Did you mean {hint!r}?" if hint else ""
        listed = ", ".join(repr(s) for s in sheets)
        raise SettingError(
            f"sheet {sheet!r} is not in {shown!r}.{suggestion} Its sheets are: {listed}."
        )
    where = f"{shown!r} (sheet {sheet!r})"
    if has_header is None:
        head = _workbook(path, shown).load_sheet(
            sheet, header_row=None, n_rows=_HEADER_SAMPLE, dtypes="string"
        )
        cells = [["" if v is None else str(v) for v in row] for row in head.to_polars().rows()]
        if cells:
            has_header = header_verdict(cells[0], cells[1:], judge)
            if has_header is None:
                raise ask_header(where)
    header = has_header is not False
    try:
        frame = pl.read_excel(
            path, sheet_name=sheet, engine="calamine", has_header=header, drop_empty_cols=False
        )
    except pl.exceptions.NoDataError:
        raise MalformedTableError(f"sheet {sheet!r} of {shown!r} is empty.") from None
    except (pl.exceptions.PolarsError, fastexcel.FastExcelError):
        raise MalformedTableError(f"sheet {sheet!r} of {shown!r} cannot be read.") from None
    if not header:
        frame.columns = [f"column_{i}" for i in range(1, frame.width + 1)]
        return TableSource(frame.lazy(), shown, "xlsx", None, None, tuple(frame.columns))
    first = _workbook(path, shown).load_sheet(sheet, header_row=None, n_rows=1, dtypes="string")
    check_header(where, [value or "" for value in first.to_polars().row(0)], allow_empty=True)
    unnamed = [c for c in frame.columns if c.startswith(_UNNAMED)]
    frame = frame.drop([c for c in unnamed if frame[c].null_count() == frame.height])
    for name in frame.columns:
        if name.startswith(_UNNAMED):
            position = int(name.removeprefix(_UNNAMED)) + 1
            raise MalformedTableError(
                f"the header of {where} has an empty column name at position {position}, "
                "and that column holds values. Give every column a name, or pass "
                "has_header=False (CLI: --no-header) if the first row is data."
            )
    return TableSource(frame.lazy(), shown, "xlsx", None, None, tuple(frame.columns))
