"""Writing tables: by extension, to a temporary file first, then renamed into place."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from custodes._files import StagedFile, file_sha256
from custodes.errors import DataFileError, UnsupportedError

__all__ = ["WRITE_FORMATS", "file_sha256", "write_table"]

WRITE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl"}


def write_table(
    frame: pl.LazyFrame | pl.DataFrame, path: str | os.PathLike[str] | StagedFile
) -> int:
    """Write ``frame`` to ``path`` in the format its extension names; return the rows written.

    Given a :class:`~custodes._files.StagedFile`, the table goes to its
    temporary file and the caller renames it into place (``commit``) once
    whatever must exist first (a manifest, a ledger entry) does.
    """
    staged = path if isinstance(path, StagedFile) else None
    target = path.target if isinstance(path, StagedFile) else Path(path)
    fmt = WRITE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise UnsupportedError(
            f"cannot write {str(target)!r}: give the output one of the extensions "
            f"{', '.join(WRITE_FORMATS)}."
        )
    data = frame.collect(engine="streaming") if isinstance(frame, pl.LazyFrame) else frame
    if fmt in ("csv", "tsv", "jsonl"):
        data = _as_text_friendly(data, target)
    if staged is not None:
        _write(data, staged.temp, fmt, target)
        return data.height
    with StagedFile(target) as own:
        _write(data, own.temp, fmt, target)
        own.commit()
    return data.height


def _write(data: pl.DataFrame, temp: Path, fmt: str, target: Path) -> None:
    try:
        if fmt == "parquet":
            data.write_parquet(temp)
        elif fmt == "jsonl":
            data.write_ndjson(temp)
        else:
            data.write_csv(temp, separator="\t" if fmt == "tsv" else ",")
    except OSError as exc:
        raise DataFileError(f"cannot write {str(target)!r}: {exc.strerror}.") from None


def _as_text_friendly(data: pl.DataFrame, target: Path) -> pl.DataFrame:
    """Durations as text and bytes as hex for text formats; nested values cannot go."""
    for name, dtype in data.schema.items():
        if isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Object):
            raise UnsupportedError(
                f"column {name!r} holds {dtype} values, which {str(target)!r} cannot hold as "
                "text; write Parquet (.parquet) or drop the column."
            )
    return data.with_columns(
        pl.col(pl.Duration).cast(pl.String),
        pl.col(pl.Binary).bin.encode("hex"),
    )
