"""``read_table``: one entry point that picks the reader by URI, format or extension."""

from __future__ import annotations

import os
import re
from pathlib import Path

from custodes.errors import MalformedTableError, SettingError, UnsupportedError, closest

from ._csv import HeaderJudge, read_csv
from ._formats import read_jsonl, read_parquet, read_xlsx
from ._magic import check_content
from ._source import TableSource, open_error

__all__ = ["EXTENSIONS", "FORMATS", "read_table"]

FORMATS = ("csv", "tsv", "parquet", "xlsx", "jsonl", "sqlite", "postgresql")
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
}
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_OPTIONS = {
    "delimiter": ("csv", "tsv"),
    "encoding": ("csv", "tsv", "jsonl"),
    "has_header": ("csv", "tsv", "xlsx"),
    "sheet": ("xlsx",),
    "table": ("sqlite", "postgresql"),
}


def _check_format(fmt: str) -> str:
    wanted = fmt.lower().lstrip(".")
    wanted = {"ndjson": "jsonl", "txt": "csv", "postgres": "postgresql"}.get(wanted, wanted)
    if wanted in FORMATS:
        return wanted
    hint = closest(fmt, FORMATS)
    suggestion = f" Did you mean {hint!r}?" if hint else ""
    raise SettingError(f"format {fmt!r} is not known.{suggestion} Formats: {', '.join(FORMATS)}.")


def _format_of(path: Path, shown: str) -> str:
    suffix = path.suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    what = f"extension {suffix!r}" if suffix else "no extension"
    listed = ", ".join(EXTENSIONS)
    raise UnsupportedError(
        f"cannot tell the format of {shown!r} ({what}). Supported extensions: {listed}; "
        "database URIs sqlite:///path.db and postgresql://user@host:port/db. If the file "
        "is one of these formats, force it with format='csv' (CLI: --input-format csv); formats: "
        f"{', '.join(FORMATS)}."
    )


def _check_options(fmt: str, shown: str, given: dict[str, object]) -> None:
    for option, formats in _OPTIONS.items():
        if given[option] is not None and fmt not in formats:
            raise SettingError(
                f"{option}= does not apply to {shown!r}, which is read as {fmt}; "
                f"it applies to {', '.join(formats)}."
            )


def read_table(
    source: str | os.PathLike[str],
    *,
    format: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    has_header: bool | None = None,
    table: str | None = None,
    sheet: str | None = None,
    header_judge: HeaderJudge | None = None,
) -> TableSource:
    """Open a table for assessment as a lazy frame, or raise a clear custodes error.

    ``header_judge`` decides a first row that could be a header or data
    (see :func:`~custodes.io._csv.header_verdict`); without one, such a file
    is an error asking for ``has_header``.

    ``source`` is a file path (CSV/TSV/TXT, Parquet, JSON Lines, Excel .xlsx,
    SQLite) or a database URI (``sqlite:///x.db#table``,
    ``postgresql://user@host:port/db#table``). ``format`` overrides the
    extension. Text files are checked up front (encoding, delimiter, header,
    field counts), so common errors appear here rather than at collect time.
    """
    shown = os.fspath(source)
    fmt = _check_format(format) if format is not None else None
    given: dict[str, object] = {
        "delimiter": delimiter,
        "encoding": encoding,
        "has_header": has_header,
        "sheet": sheet,
        "table": table,
    }
    if _URI.match(shown) and fmt in (None, "sqlite", "postgresql"):
        kind = "sqlite" if shown.startswith("sqlite") else "postgresql"
        from ._database import read_database, scrub  # SQLAlchemy loads only when needed

        _check_options(kind, scrub(shown), given)
        return read_database(shown, table=table)
    if fmt == "postgresql":
        raise SettingError(
            f"format='postgresql' needs a URI like postgresql://user@host:port/db, not {shown!r}."
        )
    path = Path(shown)
    try:
        with open(path, "rb") as file:
            empty = not file.read(1)
    except OSError as exc:
        raise open_error(path, shown, exc) from None
    fmt = fmt or _format_of(path, shown)
    _check_options(fmt, shown, given)
    if empty:
        raise MalformedTableError(f"{shown!r} is empty (0 bytes): there is no header and no rows.")
    check_content(path, shown, fmt)
    if fmt in ("csv", "tsv"):
        return read_csv(
            path,
            shown,
            delimiter=delimiter,
            encoding=encoding,
            has_header=has_header,
            preferred="\t" if fmt == "tsv" else ",",
            judge=header_judge,
        )
    if fmt == "parquet":
        return read_parquet(path, shown)
    if fmt == "jsonl":
        return read_jsonl(path, shown, encoding)
    if fmt == "xlsx":
        return read_xlsx(path, shown, sheet, has_header, header_judge)
    from ._database import read_database

    return read_database("sqlite:///" + str(path.resolve()), table=table, path=shown)
