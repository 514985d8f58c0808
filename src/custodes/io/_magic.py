"""What a file really holds, from its first bytes (magic numbers), whatever its name says.

A gzip file named ``.csv`` would otherwise be read as one garbled column of
no rows, and a Parquet file named ``.csv`` as mojibake. ``check_content``
refuses a file whose content is not what its format expects, naming what it
is and how to read it.
"""

from __future__ import annotations

import re
from pathlib import Path

from custodes.errors import DataFileError

__all__ = ["check_content", "sniff_kind"]

# (kind, what it is in a message, how its first bytes look)
_MAGIC: tuple[tuple[str, str, re.Pattern[bytes]], ...] = tuple(
    (kind, what, re.compile(pattern, re.DOTALL))
    for kind, what, pattern in (
        ("gzip", "a gzip-compressed file", rb"\x1f\x8b\x08"),
        ("zip", "a ZIP archive (an Excel .xlsx workbook is one)", rb"PK(\x03\x04|\x05\x06)"),
        ("parquet", "a Parquet file", rb"PAR1"),
        ("bzip2", "a bzip2-compressed file", rb"BZh[1-9](1AY&SY|\x17rE8P)"),
        ("xz", "an xz-compressed file", rb"\xfd7zXZ\x00"),
        ("zstd", "a Zstandard-compressed file", rb"\x28\xb5\x2f\xfd"),
        ("7z", "a 7-Zip archive", rb"7z\xbc\xaf\x27\x1c"),
        ("sqlite", "a SQLite database", rb"SQLite format 3\x00"),
        ("ole", "an old-style Office file (.xls or .doc)", rb"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
        ("pdf", "a PDF document", rb"%PDF-"),
    )
)
# The content each format expects; None: text.
_EXPECTED = {"parquet": "parquet", "xlsx": "zip", "sqlite": "sqlite"}
_COMPRESSED = {"gzip": "gunzip", "bzip2": "bunzip2", "xz": "unxz", "zstd": "unzstd"}


def sniff_kind(head: bytes) -> tuple[str, str] | None:
    """The kind of binary content ``head`` (a file's first bytes) starts, and its description."""
    for kind, what, pattern in _MAGIC:
        if pattern.match(head):
            return kind, what
    return None


def _advice(kind: str, shown: str) -> str:
    if kind in _COMPRESSED:
        return (
            f"Decompress it first (e.g. {_COMPRESSED[kind]} -k {shown!r}) and read the "
            "decompressed file."
        )
    if kind == "zip":
        return (
            "If it is an Excel workbook, read it with format='xlsx' (CLI: --input-format xlsx); "
            "otherwise unzip it and read the table inside."
        )
    if kind in ("parquet", "sqlite"):
        return f"Read it with format='{kind}' (CLI: --input-format {kind})."
    if kind == "ole":
        return "Open it in a spreadsheet program and save it as .xlsx or .csv."
    return "It holds no table custodes can read: export the table as CSV, Parquet or .xlsx."


def check_content(path: Path, shown: str, fmt: str) -> None:
    """Refuse a file whose first bytes show content other than what ``fmt`` expects."""
    with open(path, "rb") as file:
        head = file.read(64)
        if head.startswith(b"PAR1"):  # Parquet ends with its magic too
            file.seek(-4, 2)
            if file.read(4) != b"PAR1":
                head = b""
    found = sniff_kind(head)
    expected = _EXPECTED.get(fmt)
    if found is None or found[0] == expected:
        return
    kind, what = found
    wanted = "text" if expected is None else f"{fmt} content"
    raise DataFileError(
        f"{shown!r} is {what}, not {wanted} as its name or format says "
        f"(read as {fmt}). {_advice(kind, shown)}"
    )
