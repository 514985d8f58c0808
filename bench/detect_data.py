"""The detection benchmark's table: the synthetic register with case remarks, in Parquet.

Ten columns (resident_id, name, sex, birth_date, region_code, phone, address,
diagnosis, benefit_type, remarks); every tenth remark holds a resident ID and a
phone number inside the text. The table is written a million rows at a time,
each million a register of its own seed (``custodes.synth.population_register``),
so a file of any size is made in bounded memory (about 1 GB) and the first
million rows of every file are the 1 M-row table.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa

from custodes.synth import population_register
from scale_data import write_chunks

__all__ = ["COLUMNS", "table", "write_table"]

COLUMNS = ["resident_id", "name", "sex", "birth_date", "region_code", "phone", "address"]
COLUMNS += ["diagnosis", "benefit_type", "remarks"]
CHUNK = 1_000_000
SEED = 11


def table(rows: int, seed: int = SEED) -> pl.DataFrame:
    """The register's columns plus case remarks, some with an ID and a phone inside."""
    register = population_register(rows, seed=seed)
    remark = (
        pl.when(pl.int_range(pl.len()) % 10 == 0)
        .then(pl.format("来电人身份证{}，联系电话{}，已转办。", "resident_id", "phone"))
        .otherwise(pl.lit("已办结，群众对处理结果表示满意。"))
    )
    return register.with_columns(remark.alias("remarks")).select(COLUMNS)


def write_table(path: Path, rows: int) -> Path:
    """Write ``rows`` rows to ``path`` (Parquet, zstd) a million at a time, if not there."""

    def chunks() -> Iterator[pa.Table]:
        for i, start in enumerate(range(0, rows, CHUNK)):
            yield table(min(CHUNK, rows - start), SEED + i).to_arrow()
            if i % 10 == 9:
                print(f"  {path.name}: {start + CHUNK:,} rows written", file=sys.stderr)

    return write_chunks(path, chunks())


if __name__ == "__main__":  # python bench/detect_data.py ROWS PATH
    write_table(Path(sys.argv[2]), int(sys.argv[1]))
