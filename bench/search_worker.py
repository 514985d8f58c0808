"""Run optimal searches for bench_search.py, one request at a time, in a process of its own.

Usage: ``search_worker.py ADULT_DIR``, with the custodes to measure first on
``PYTHONPATH`` (bench_search.py starts one worker on today's source and one on
the baseline's). The worker builds the summaries and schemes of both hard
lattices first, then prints one JSON line naming the custodes it imported and
the lattice sizes; after that it reads requests ``{"lattice", "k", "limit"}``
from stdin and answers each with one JSON line: the search's wall time (the
summary already built) and its result.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

import custodes
from custodes.anonymize._generalize import schemes_for
from custodes.anonymize._models import KAnonymity
from custodes.anonymize._search import optimal_generalization
from custodes.engines import get_engine
from custodes.hierarchy import read_hierarchy
from search_data import COLUMNS, hard_table

ADULT_QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass"]
ADULT_QIS += ["salary-class", "occupation"]


def lattices(adult_dir: Path) -> dict[str, tuple[Any, Any]]:
    """(summary, schemes) of Adult with all nine attributes and of the generated table."""
    adult = pl.read_csv(adult_dir / "adult.csv", separator=";", infer_schema=False)
    hierarchies = {c: read_hierarchy(adult_dir / f"adult_hierarchy_{c}.csv") for c in ADULT_QIS}
    generated, generated_hierarchies = hard_table()
    out = {}
    for name, frame, qis, h in [
        ("adult", adult, ADULT_QIS, hierarchies),
        ("generated", generated, list(COLUMNS), generated_hierarchies),
    ]:
        summary = get_engine().summarize(frame.lazy(), qis, [])
        out[name] = (summary, schemes_for(summary, h))
    return out


def main() -> int:
    prepared = lattices(Path(sys.argv[1]))
    sizes = {name: summary.classes for name, (summary, _) in prepared.items()}
    print(json.dumps({"custodes": custodes.__file__, "classes": sizes}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        summary, schemes = prepared[request["lattice"]]
        start = time.perf_counter()
        r = optimal_generalization(
            summary, schemes, [KAnonymity(request["k"])], suppression_limit=request["limit"]
        )
        seconds = time.perf_counter() - start
        answer = {
            "seconds": seconds,
            "levels": list(r.levels),
            "suppressed": r.suppressed_records,
            "loss": r.loss,
            "checked": r.nodes_checked,
            "lattice": r.nodes_in_lattice,
            "optimal": r.optimal,
        }
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
