"""Delimited text (CSV, TSV, TXT): sniff the layout, validate, scan lazily.

Every column is read as String: privacy work treats values as categories.

- Delimiter: among ``,`` ``;`` tab ``|``, the one giving every record of the
  first 64 KiB the same number of fields (more than one), respecting quotes;
  ties go to the extension's usual delimiter, then that order.
- Header: when ``has_header`` is None, :func:`header_verdict` judges the first
  row: data when one of its fields looks like a number or date (digits with
  ``+-.,:/%()`` and spaces) or occurs again below in its column; a header when
  a field could not be a value of its column; otherwise it asks (an error
  asking for ``has_header``) instead of guessing. Header names must be
  non-empty and distinct, and errors never show them. Without a header the
  columns are ``column_1``, ``column_2``...
- Field counts: polars pads short rows with nulls silently, so ``read_table``
  checks every record with pyarrow's multithreaded parser (and compares row
  counts with polars to catch blank lines); only when that finds a problem
  does a Python pass locate the first bad line for the message.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv

from custodes.errors import MalformedTableError, SettingError

from ._encoding import open_utf8, text_sample
from ._source import TableSource

__all__ = [
    "DELIMITERS",
    "HeaderJudge",
    "ask_header",
    "check_header",
    "header_verdict",
    "is_identifier_name",
    "locate",
    "read_csv",
    "sniff_delimiter",
]

DELIMITERS = (",", ";", "\t", "|")
_NUMERIC_CHARS = frozenset("0123456789+-.,:/%() ")


@dataclass(frozen=True)
class _Layout:
    delimiter: str
    has_header: bool
    names: tuple[str, ...]
    # how the first row is described in messages
    first: str


def _label(delimiter: str) -> str:
    return {"\t": "tab", " ": "space"}.get(delimiter, repr(delimiter))


def _records(text: str, delimiter: str, truncated: bool) -> list[list[str]]:
    """The non-blank records of a sample, without one cut off at its end."""
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if row:
                rows.append(row)
    except csv.Error:
        return rows  # the sample ends inside a quoted value
    if truncated and len(rows) > 1:
        rows.pop()
    return rows


def sniff_delimiter(text: str, *, truncated: bool, preferred: str) -> str:
    """The delimiter that splits the sample most consistently."""
    order = [preferred, *(d for d in DELIMITERS if d != preferred)]
    best, best_score = preferred, (0.0, 0)
    for rank, delimiter in enumerate(order):
        counts = [len(row) for row in _records(text, delimiter, truncated)]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), -rank)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _looks_numeric(value: str) -> bool:
    stripped = value.strip()
    return any(ch.isdigit() for ch in stripped) and all(
        ch.isdigit() or ch in _NUMERIC_CHARS for ch in stripped
    )


def _kind(ch: str) -> str:
    if ch.isdigit():
        return "digit"
    if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf":
        return "han"
    if ch.isascii() and ch.isalpha():
        return "latin"
    if ch.isalpha():
        return "letter"
    return "other"


def _shape(value: str) -> tuple[str, str]:
    """A field's coarse shape: its dominant kind of character and, for Latin text, its case."""
    kinds = [_kind(ch) for ch in value if not ch.isspace()]
    if not kinds:
        return ("empty", "")
    dominant = max(set(kinds), key=lambda k: (kinds.count(k), k))
    if dominant != "latin":
        return (dominant, "")
    letters = [ch for ch in value if ch.isascii() and ch.isalpha()]
    if all(ch.islower() for ch in letters):
        case = "lower"
    elif all(ch.isupper() for ch in letters):
        case = "upper"
    elif letters[0].isupper() and all(ch.islower() for ch in letters[1:]):
        case = "title"
    else:
        case = "mixed"
    return ("latin", case)


def _fits(value: str, column: list[str]) -> bool:
    """Whether ``value`` could be one more value of ``column`` (its shape and length)."""
    values = [v for v in column if v.strip()]
    if not value.strip() or not values:
        return True
    if len(values) >= 20 and len(set(values)) <= 0.3 * len(values):
        return False  # a category column, and the field is none of its categories
    lengths = [len(v.strip()) for v in values]
    if not min(lengths) <= len(value.strip()) <= max(lengths):
        return False
    return _shape(value) in {_shape(v) for v in values}


HeaderJudge = Callable[[Sequence[str], Sequence[bool]], bool]
"""Given a first row and which of its fields could be values of their columns, whether
it names the columns (the workspace passes one that knows column words and personal data)."""


def header_verdict(
    first: list[str], rest: list[list[str]], judge: HeaderJudge | None = None
) -> bool | None:
    """Whether the first row names the columns (True), holds data (False), or cannot tell.

    Data when a field looks like a number or date, or occurs again in its
    column below (a name such as 'sex' is not a value of the column 'sex';
    'F' is). A header when no field could be a value of its column: each is
    none of a category column's values, or of another shape or length than
    every value below it ('身份证号' above 18-digit numbers). Otherwise (some
    field could be one more value of its column: '姓名' above names, but also
    a first person's name above the names of a header-less file) ``judge``
    decides (by default :func:`identifier_names`); when it says no, it cannot
    tell: the caller must ask rather than guess, since a row of personal data
    taken for a header would be shown and kept as column names. A repeated name
    is left to :func:`check_header`.
    """
    if any(_looks_numeric(value) for value in first):
        return False
    if not rest:
        return True
    columns: list[list[str]] = [[] for _ in first]
    for row in rest:
        for j, value in enumerate(row[: len(first)]):
            columns[j].append(value)
    if any(value and value in columns[j] for j, value in enumerate(first)):
        return False
    fits = [_fits(value, columns[j]) for j, value in enumerate(first)]
    if not any(fits):
        return True
    if (judge or identifier_names)(first, fits):
        return True
    return None


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")


def is_identifier_name(text: str) -> bool:
    """A name such as ``note`` or ``birth_date``: no spaces, only letters, digits, ``_.-``."""
    return _IDENTIFIER.match(text) is not None


def identifier_names(fields: Sequence[str], fits: Sequence[bool]) -> bool:
    """The reader's own judge: every field that could be a value is an identifier name."""
    return all(
        is_identifier_name(f)
        for f, fit in zip(fields, fits, strict=True)
        if fit and f.strip()  # an empty name is check_header's to report
    )


def ask_header(where: str) -> MalformedTableError:
    """The error for a first row that may be a header or data."""
    return MalformedTableError(
        f"cannot tell whether the first row of {where} names the columns or holds data: each "
        "of its fields looks like the values below it. Say which: --header or --no-header "
        "(Python: has_header=True or has_header=False)."
    )


def check_header(where: str, names: list[str], *, allow_empty: bool = False) -> None:
    """Raise for an empty or repeated column name in the header of ``where``."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        # Names are not shown: a first row taken for a header may hold personal data.
        if not name.strip():
            if allow_empty:
                continue
            raise MalformedTableError(
                f"the header of {where} has an empty column name at position "
                f"{position}. Give every column a name, or pass has_header=False "
                "(CLI: --no-header) if the first row is data."
            )
        if name in seen:
            raise MalformedTableError(
                f"the header of {where} repeats a column name at positions "
                f"{seen[name]} and {position}. Column names must be unique: rename one, "
                "or pass has_header=False (CLI: --no-header) if the first row is data."
            )
        seen[name] = position


def _layout(
    shown: str,
    text: str,
    truncated: bool,
    delimiter: str | None,
    has_header: bool | None,
    preferred: str,
    judge: HeaderJudge | None = None,
) -> _Layout:
    if delimiter is None:
        delimiter = sniff_delimiter(text, truncated=truncated, preferred=preferred)
    rows = _records(text, delimiter, truncated)
    if not rows:
        raise MalformedTableError(f"{shown!r} has no rows: not even a header line.")
    first = rows[0]
    if has_header is None:
        has_header = header_verdict(first, rows[1:], judge)
        if has_header is None:
            raise ask_header(repr(shown))
    if has_header:
        check_header(repr(shown), first)
        return _Layout(delimiter, True, tuple(first), f"the header has {len(first)}")
    names = tuple(f"column_{i}" for i in range(1, len(first) + 1))
    return _Layout(delimiter, False, names, f"the first row has {len(first)}")


def _fields(count: int) -> str:
    return f"{count} field" + ("" if count == 1 else "s")


def locate(path: Path, shown: str, layout: _Layout) -> MalformedTableError | None:
    """The first record whose field count differs from the first row's, if any."""
    width = len(layout.names)
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file, delimiter=layout.delimiter)
        start = 1
        try:
            for row in reader:
                if not row and width > 1:
                    return MalformedTableError(
                        f"line {start} of {shown!r} is blank, expected {_fields(width)} "
                        f"({layout.first}). Remove blank lines from the file."
                    )
                if row and len(row) != width:
                    return MalformedTableError(
                        f"line {start} of {shown!r} has {_fields(len(row))}, expected {width} "
                        f"({layout.first}). A value containing the delimiter "
                        f"{_label(layout.delimiter)} or a line break must be in double quotes."
                    )
                start = reader.line_num + 1
        except csv.Error as exc:
            return MalformedTableError(
                f"line {reader.line_num} of {shown!r} cannot be read as CSV ({exc})."
            )
    return None


def _consistent(path: Path, layout: _Layout) -> bool:
    """Whether pyarrow and polars agree that every record has the right width."""
    width = len(layout.names)
    names = [f"c{i}" for i in range(width)]
    try:  # pyarrow raises on the first record with another field count
        reader = pa_csv.open_csv(
            str(path),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=4 << 20),
            parse_options=pa_csv.ParseOptions(
                delimiter=layout.delimiter,
                newlines_in_values=True,
                ignore_empty_lines=True,
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=names[:1], column_types={names[0]: pa.binary()}
            ),
        )
        rows: int = sum(batch.num_rows for batch in reader)
    except (pa.ArrowInvalid, OSError):
        return False
    if width == 1:
        return True  # a blank line is an empty value, not a problem
    try:
        lines = pl.scan_csv(
            path, has_header=False, separator=layout.delimiter, infer_schema=False, glob=False
        ).select(pl.len())
        counted: int = lines.collect().item()
    except pl.exceptions.PolarsError:
        return False
    return counted == rows


def read_csv(
    path: Path,
    shown: str,
    *,
    delimiter: str | None,
    encoding: str | None,
    has_header: bool | None,
    preferred: str,
    judge: HeaderJudge | None = None,
) -> TableSource:
    """Open a delimited text file; see the module docstring for the rules."""
    if delimiter is not None and len(delimiter) != 1:
        raise SettingError(
            f"the delimiter must be one character, not {len(delimiter)}; for tab pass '\\t'."
        )
    utf8_path, det = open_utf8(path, shown, encoding)
    text, truncated = text_sample(utf8_path)
    if "\r" in text and "\n" not in text:
        raise MalformedTableError(
            f"{shown!r} ends its lines with a carriage return only (old Mac style), which "
            "the reader does not support. Save it again with Windows or Unix line endings."
        )
    layout = _layout(shown, text, truncated, delimiter, has_header, preferred, judge)

    if not _consistent(utf8_path, layout):
        error = locate(utf8_path, shown, layout)
        if error is not None:
            raise error

    def diagnose() -> None:
        error = locate(utf8_path, shown, layout)
        if error is not None:
            raise error

    frame = pl.scan_csv(
        utf8_path,
        has_header=layout.has_header,
        separator=layout.delimiter,
        infer_schema=False,
        new_columns=list(layout.names),
        glob=False,
    )
    return TableSource(
        frame=frame,
        name=shown,
        format="csv",
        encoding=det.encoding,
        delimiter=layout.delimiter,
        columns=layout.names,
        diagnose=diagnose,
    )
