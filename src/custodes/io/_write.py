"""Writing tables: by extension, streaming, to a temporary file first, then renamed into place."""

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
) -> None:
    """Write ``frame`` to ``path`` in the format its extension names, streaming (a lazy
    frame is never held in memory whole).

    Given a :class:`~custodes._files.StagedFile`, the table goes to its
    temporary file and the caller renames it into place (``commit``) once
    whatever must exist first (a manifest, a ledger entry) does.
    """
    target = path.target if isinstance(path, StagedFile) else Path(path)
    fmt = WRITE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise UnsupportedError(
            f"cannot write {str(target)!r}: give the output one of the extensions "
            f"{', '.join(WRITE_FORMATS)}."
        )
    lazy = frame.lazy()
    if fmt in ("csv", "tsv", "jsonl"):
        lazy = _text_friendly(lazy, target)
    if isinstance(path, StagedFile):
        _sink(lazy, path.temp, fmt, target)
        return
    with StagedFile(target) as own:
        _sink(lazy, own.temp, fmt, target)
        own.commit()


def _sink(frame: pl.LazyFrame, temp: Path, fmt: str, target: Path) -> None:
    try:
        if fmt == "parquet":
            frame.sink_parquet(temp, engine="streaming")
        elif fmt == "jsonl":
            frame.sink_ndjson(temp, engine="streaming")
        else:
            frame.sink_csv(temp, separator="\t" if fmt == "tsv" else ",", engine="streaming")
    except OSError as exc:
        raise DataFileError(f"cannot write {str(target)!r}: {exc.strerror}.") from None


def _text_friendly(frame: pl.LazyFrame, target: Path) -> pl.LazyFrame:
    """Durations as text and bytes as hex for text formats; nested values cannot go."""
    for name, dtype in frame.collect_schema().items():
        if isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Object):
            raise UnsupportedError(
                f"column {name!r} holds {dtype} values, which {str(target)!r} cannot hold as "
                "text; write Parquet (.parquet) or drop the column."
            )
    return frame.with_columns(
        pl.col(pl.Duration).cast(pl.String),
        pl.col(pl.Binary).bin.encode("hex"),
    )
