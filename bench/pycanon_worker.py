"""Times pycanon on the Adult table; run in its own environment (it pins an old typer).

Usage: ``python bench/pycanon_worker.py ADULT_CSV ROWS QI,QI,... SENSITIVE``. Prints a
JSON object ``{task: [seconds, value]}`` on standard output. The first ROWS rows are used.
"""

from __future__ import annotations

import json
import sys
import time

import polars as pl
from pycanon import anonymity


def main() -> None:
    path, rows = sys.argv[1], int(sys.argv[2])
    qis, sensitive = sys.argv[3].split(","), sys.argv[4]
    df = pl.read_csv(path, separator=";", infer_schema=False).head(rows).to_pandas()
    tasks = {
        "k-anonymity": lambda: anonymity.k_anonymity(df, qis),
        "distinct l-diversity": lambda: anonymity.l_diversity(df, qis, [sensitive]),
        "t-closeness": lambda: anonymity.t_closeness(df, qis, [sensitive]),
    }
    out = {}
    for name, fn in tasks.items():
        start = time.perf_counter()
        value = fn()
        out[name] = [time.perf_counter() - start, float(value)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
