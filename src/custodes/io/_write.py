"""Writing tables: by extension, to a temporary file first, then renamed into place."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import polars as pl

from custodes.errors import DataFileError, UnsupportedError

__all__ = ["WRITE_FORMATS", "file_sha256", "write_table"]

WRITE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl"}


def write_table(frame: pl.LazyFrame | pl.DataFrame, path: str | os.PathLike[str]) -> int:
    """Write ``frame`` to ``path`` in the format its extension names; return the rows written."""
    target = Path(path)
    fmt = WRITE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise UnsupportedError(
            f"cannot write {str(target)!r}: give the output one of the extensions "
            f"{', '.join(WRITE_FORMATS)}."
        )
    data = frame.collect(engine="streaming") if isinstance(frame, pl.LazyFrame) else frame
    if fmt in ("csv", "tsv", "jsonl"):
        data = _as_text_friendly(data, target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise DataFileError(f"cannot write {str(target)!r}: {exc.strerror}.") from None
    try:
        if fmt == "parquet":
            data.write_parquet(tmp)
        elif fmt == "jsonl":
            data.write_ndjson(tmp)
        else:
            data.write_csv(tmp, separator="\t" if fmt == "tsv" else ",")
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DataFileError(f"cannot write {str(target)!r}: {exc.strerror}.") from None
    return data.height


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


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
