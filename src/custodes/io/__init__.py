"""Reading tables for privacy assessment, as polars LazyFrames, with clear errors.

>>> source = read_table("people.csv")          # doctest: +SKIP
>>> check_columns(source, ["age", "zip"])      # doctest: +SKIP
>>> frame = collect(source, ["age", "zip"])    # doctest: +SKIP

Formats: CSV/TSV/TXT (encoding, delimiter and header detected), Parquet,
JSON Lines, Excel ``.xlsx`` and database URIs (``sqlite:///x.db#table``,
``postgresql://user@host:port/db#table``). Text columns are read as String;
Parquet, Excel and database columns keep their types. Errors are
:mod:`custodes.errors` classes whose messages never quote cell values.
"""

from ._csv import HeaderJudge, is_identifier_name
from ._open import TableLike, is_text, open_table
from ._read import EXTENSIONS, FORMATS, read_table
from ._source import Bound, Bounds, TableSource, check_columns, collect, reading
from ._write import WRITE_FORMATS, file_sha256, write_table

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "WRITE_FORMATS",
    "Bound",
    "Bounds",
    "HeaderJudge",
    "TableLike",
    "TableSource",
    "check_columns",
    "collect",
    "file_sha256",
    "is_identifier_name",
    "is_text",
    "open_table",
    "read_table",
    "reading",
    "write_table",
]
