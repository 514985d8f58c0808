"""What the DP peer workers share: the queries, the age bounds, the command line.

Standard library only: each worker runs in its own environment
(``.venv-opendp``, ``.venv-smartnoise``, ``.venv-diffprivlib``) and imports this
file from ``bench/``.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["AGE_BOUNDS", "AGE_FILL", "KEYS", "QUERIES", "epsilon_of", "parse_args"]

KEYS = ("Male", "Female")
AGE_BOUNDS = (17, 90)
AGE_FILL = AGE_BOUNDS[0]  # value given to a missing or unparsable age
QUERIES = ("count by sex", "sum of age by sex")


def parse_args(description: str, budget_help: str = "soft time budget") -> argparse.ArgumentParser:
    """The workers' common arguments: TABLE, --rho, --repeats, --max-seconds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("table", help="Parquet file with columns sex, age, pid")
    parser.add_argument("--rho", type=float, required=True, help="rho-zCDP spent by each query")
    parser.add_argument("--repeats", type=int, default=5, help="releases timed per query")
    parser.add_argument("--max-seconds", type=float, default=None, help=budget_help)
    return parser


def epsilon_of(rho: float, delta: float) -> float:
    """An epsilon such that rho-zCDP implies (epsilon, delta)-DP (Bun & Steinke 2016, Prop 1.3)."""
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))
