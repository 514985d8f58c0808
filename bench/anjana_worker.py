"""Time anjana's k-anonymity on the UCI Adult table, for bench_anonymize.py.

Runs in ``.venv-anjana`` (anjana depends on pycanon, which pins packages
custodes cannot share), made at the project root with::

    python3 -m venv .venv-anjana && .venv-anjana/bin/pip install anjana polars pyarrow

Usage: ``anjana_worker.py ADULT_DIR QI,QI,... K REPEATS``.

Prints one JSON object ``{task: [median seconds, result]}`` on stdout, where
the result holds anjana's generalization levels (in the QI order given), the
records it suppressed and the rows it returned. anjana's own messages are
kept off stdout.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from anjana.anonymity import _k_anonymity

SUPPRESSION_PERCENT = {"k=5, 0 % suppression": 0, "k=5, 2 % suppression": 2}


def read_hierarchy(path: Path) -> dict[int, pd.Series]:
    """An ARX hierarchy file as anjana wants it: level -> the values at that level."""
    table = pd.read_csv(path, sep=";", header=None, dtype=str, keep_default_na=False)
    return {int(level): column for level, column in dict(table).items()}


def run(
    data: pd.DataFrame, qis: list[str], k: int, percent: int, read: dict[str, dict[int, pd.Series]]
) -> dict[str, Any]:
    hierarchies = copy.deepcopy(read)  # anjana may rewrite them in place; a few ms
    with contextlib.redirect_stdout(io.StringIO()):
        # k_anonymity() is this function without the levels and the count it returns.
        anon, suppressed, levels = _k_anonymity.k_anonymity_inner(
            data, [], qis, k, percent, hierarchies
        )
    return {
        "levels": [int(levels.get(q, 0)) for q in qis],
        "suppressed": int(suppressed),
        "rows": len(anon),
    }


def main() -> int:
    adult, qis, k, repeats = (
        Path(sys.argv[1]),
        sys.argv[2].split(","),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    data = pd.read_csv(adult / "adult.csv", sep=";", dtype=str, keep_default_na=False)
    read = {q: read_hierarchy(adult / f"adult_hierarchy_{q}.csv") for q in qis}
    out: dict[str, list[Any]] = {}
    for task, percent in SUPPRESSION_PERCENT.items():
        times, result = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            result = run(data, qis, k, percent, read)
            times.append(time.perf_counter() - start)
        out[task] = [statistics.median(times), result]
        print(f"{task}: {out[task]}", file=sys.stderr)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
