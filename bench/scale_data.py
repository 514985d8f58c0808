"""Generated population registers for the scale benchmark, written to Parquet in chunks.

Two shapes with five integer quasi-identifiers each, for the assessment:

- ``high``: sex, birth day (any of 90 years), one of 2,850 counties, education and
  marital status: nearly every person is unique.
- ``low``: sex, age in years, education, marital status and urban or rural:
  some 40,000 combinations, whatever the number of rows (like Adult's 37,000).

And ``register``, for anonymizing, with the demo register's quasi-identifiers as
text and dates: sex (``男``/``女``), birth date (ages 0-100) and the 6-digit code
of one of the current county-level divisions (Zipf-weighted), with household
size, income band and diagnosis beside them.

Chunks are generated with their own seeds, so a file of any size is made in
bounded memory and the first rows of a larger file are a smaller file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["REGISTER_QIS", "SHAPES", "write_chunks", "write_register"]

SHAPES = {
    "high": ("sex", "birth_day", "county", "education", "marital_status"),
    "low": ("sex", "age", "education", "marital_status", "urban"),
}
REGISTER_QIS = ("sex", "birth_date", "region_code")
_CHUNK = 2_000_000
_DAYS = 90 * 365 + 22  # birth days in 90 years
_COUNTIES = 2_850


def _skewed(rng: np.random.Generator, size: int, domain: int, a: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, domain + 1) ** a
    return rng.choice(domain, size=size, p=weights / weights.sum()).astype(np.int32)


def _register(rng: np.random.Generator, rows: int) -> pa.Table:
    from custodes.synth._geography import counties

    codes = pa.array(counties().code, type=pa.string())
    first = (date(1926, 12, 1) - date(1970, 1, 1)).days
    days = rng.integers(first, first + 100 * 365 + 24, rows, dtype=np.int32)
    incomes = pa.array(["<20k", "20-50k", "50-100k", "100-200k", ">200k"])
    diagnoses = pa.array(["无", "J00-J99", "I00-I99", "E00-E90", "K00-K93", "M00-M99"])
    return pa.table(
        {
            "sex": pa.array(["男", "女"]).take(pa.array(rng.integers(0, 2, rows))),
            "birth_date": pa.array(days, type=pa.int32()).cast(pa.date32()),
            "region_code": codes.take(pa.array(_skewed(rng, rows, len(codes), 1.0))),
            "household_size": pa.array(_skewed(rng, rows, 8, 1.0) + 1),
            "income_band": incomes.take(pa.array(_skewed(rng, rows, 5, 0.7))),
            "diagnosis": diagnoses.take(pa.array(_skewed(rng, rows, 6, 1.5))),
        }
    )


def _chunk(shape: str, rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    if shape == "register":
        return _register(rng, rows)
    sex = rng.integers(0, 2, rows, dtype=np.int32)
    education = _skewed(rng, rows, 16, 0.8)
    marital = _skewed(rng, rows, 7, 1.2)
    if shape == "high":
        columns = {
            "sex": sex,
            "birth_day": rng.integers(0, _DAYS, rows, dtype=np.int32),
            "county": _skewed(rng, rows, _COUNTIES, 0.5),
            "education": education,
            "marital_status": marital,
        }
    else:
        columns = {
            "sex": sex,
            "age": np.clip(rng.normal(42, 20, rows), 0, 89).astype(np.int32),
            "education": education,
            "marital_status": marital,
            "urban": (rng.random(rows) < 0.65).astype(np.int32),
        }
    return pa.table(columns)


def write_chunks(path: Path, chunks: Iterable[pa.Table]) -> Path:
    """Write ``chunks`` to ``path`` (Parquet, zstd, row groups of 2**20 rows) if it is not
    there: under a temporary name, renamed once whole, so a killed run leaves no table."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    writer: pq.ParquetWriter | None = None
    try:
        for table in chunks:
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=1 << 20)
    finally:
        if writer is not None:
            writer.close()
    partial.rename(path)
    return path


def write_register(path: Path, shape: str, rows: int, seed: int = 17) -> Path:
    """Write ``rows`` rows of the ``shape`` register to ``path`` (Parquet), if not there."""
    chunks = (
        _chunk(shape, min(_CHUNK, rows - start), seed * 1_000_003 + start)
        for start in range(0, rows, _CHUNK)
    )
    return write_chunks(path, chunks)
