"""Times pycanon on the Adult table; run in its own environment (it pins an old typer).

Usage: ``python bench/pycanon_worker.py ADULT_CSV ROWS``. Prints a JSON object
``{task: [seconds, value]}`` on standard output. The first ROWS rows are used.
"""

from __future__ import annotations

import json
import sys
import time

import polars as pl
from pycanon import anonymity

QIS = [
    "age",
    "education",
    "marital-status",
    "native-country",
    "race",
    "salary-class",
    "sex",
    "workclass",
]
SENSITIVE = "occupation"


def main() -> None:
    path, rows = sys.argv[1], int(sys.argv[2])
    df = pl.read_csv(path, separator=";", infer_schema=False).head(rows).to_pandas()
    tasks = {
        "k-anonymity": lambda: anonymity.k_anonymity(df, QIS),
        "distinct l-diversity": lambda: anonymity.l_diversity(df, QIS, [SENSITIVE]),
        "t-closeness": lambda: anonymity.t_closeness(df, QIS, [SENSITIVE]),
    }
    out = {}
    for name, fn in tasks.items():
        start = time.perf_counter()
        value = fn()
        out[name] = [time.perf_counter() - start, float(value)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
