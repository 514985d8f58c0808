"""Synthetic data for demos and benchmarks: no real person's data, no downloads.

- :func:`population_register`: a realistic Chinese population register with
  resident ID numbers, names, addresses, phones, health and benefit columns.
- :func:`adult_like`: scale the UCI Adult table up to any number of rows.
- :func:`register_csv`, :func:`register_values`: a register's CSV export and the
  values its hierarchies are built from, for code that does not touch Polars.
"""

from custodes.synth._adult import adult_like
from custodes.synth._export import Register, register_csv, register_values
from custodes.synth._register import REFERENCE_DATE, population_register

__all__ = [
    "REFERENCE_DATE",
    "Register",
    "adult_like",
    "population_register",
    "register_csv",
    "register_values",
]
