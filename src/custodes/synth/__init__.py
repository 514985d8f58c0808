"""Synthetic data for demos and benchmarks: no real person's data, no downloads.

- :func:`population_register`: a realistic Chinese population register with
  resident ID numbers, names, addresses, phones, health and benefit columns.
- :func:`adult_like`: scale the UCI Adult table up to any number of rows.
"""

from custodes.synth._adult import adult_like
from custodes.synth._register import REFERENCE_DATE, population_register

__all__ = ["REFERENCE_DATE", "adult_like", "population_register"]
