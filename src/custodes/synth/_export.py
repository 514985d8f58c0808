"""The synthetic register as the demo and the benchmarks need it, without their touching Polars."""

from __future__ import annotations

import polars as pl

__all__ = ["Register", "register_csv", "register_values"]

Register = pl.DataFrame
"""A synthetic population register, as :func:`custodes.synth.population_register` returns it."""


def register_csv(register: Register, encoding: str = "gb18030") -> bytes:
    """The register as a CSV file's bytes in ``encoding`` (as many government systems
    export their tables: GB18030 by default)."""
    return register.write_csv(separator=",").encode(encoding)


def register_values(register: Register) -> dict[str, list[str]]:
    """The distinct values, as text, of the columns the demo generalizes with a
    hierarchy built from their values: ``birth_date`` and ``region_code``."""
    return {
        "birth_date": register.get_column("birth_date").cast(pl.String).unique().to_list(),
        "region_code": register.get_column("region_code").unique().to_list(),
    }
