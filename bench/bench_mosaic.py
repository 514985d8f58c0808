"""Mosaic check benchmark: a 1 M-row candidate against 100 earlier releases.

High cardinality: every record is its own person (source rows); the releases
are of the same dataset at varied generalizations (age bands of 1 to 10 years
shifted by 0 to 4, regions grouped by 1 to 30 of 3,000, sex), with a sensitive
attribute of 50 values. No peer checks a release against earlier ones (ARX,
sdcMicro and ACRO assess each release alone), so the table has no peer column.

Run: ``python bench/bench_mosaic.py`` (writes bench/results/mosaic.md).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from custodes.risk import ReleaseView, load_view, mosaic_risk, save_view

ROWS = int(os.environ.get("MOSAIC_ROWS", "1000000"))
HELD = int(os.environ.get("MOSAIC_HELD", "100"))
REPEATS = int(os.environ.get("MOSAIC_REPEATS", "3"))


def _views(rows: int, count: int, coarse: bool = False) -> list[ReleaseView]:
    """Releases of one dataset; ``coarse`` ones (age bands of 10 to 19 years, regions in
    groups of 100 to 390) leave everyone several values, so the posterior is computed."""
    rng = np.random.default_rng(1)
    age = rng.integers(0, 100, rows)
    region = rng.integers(0, 3000, rows)
    sex = rng.integers(0, 2, rows)
    diagnosis = rng.integers(0, 50, rows)
    person = np.arange(rows, dtype=np.int64)
    out = []
    for i in range(count):
        width, group = 1 + i % 10, 1 + (i * 7) % 30
        if coarse:
            width, group = 10 + i % 10, 100 + (i * 70) % 300
        key = ((age + i % 5) // width) * 100_000 + (region // group) * 2 + sex
        _, klass = np.unique(key, return_inverse=True)
        klass = klass.reshape(-1).astype(np.int64)
        view = ReleaseView(f"R{i}", person, klass, {"diagnosis": diagnosis}, basis="bench")
        out.append(view)
    return out


HEADER = (
    "| releases | loading the views | combined view | total | view size | combined k "
    "| combined l | pinned | highest posterior |\n|---|---|---|---|---|---|---|---|---|"
)


def _measure(coarse: bool) -> tuple[float, float, float, Any]:
    views = _views(ROWS, HELD + 1, coarse)
    stored = [save_view(v) for v in views[:HELD]]
    del views[:HELD]
    loads, checks = [], []
    result = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        held = [load_view(b, f"view {i}") for i, b in enumerate(stored)]
        loads.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = mosaic_risk([*held, views[-1]], k=5, new=HELD)
        checks.append(time.perf_counter() - start)
        del held
    size = sum(len(b) for b in stored) / len(stored)
    return statistics.median(loads), statistics.median(checks), size, result


def main() -> None:
    rows = []
    for coarse in (False, True):
        load, check, size, result = _measure(coarse)
        s = result.sensitive["diagnosis"]
        label = (
            "coarse: nobody pinned, the posterior computed"
            if coarse
            else ("varied: many pinned down")
        )
        rows.append(
            f"| {label} | {load:.2f} s | {check:.2f} s | **{load + check:.2f} s** | "
            f"{size / 2**20:.1f} MiB | {result.k} | {s.min_l} | {s.pinned:,} | "
            f"{s.highest_posterior:.3f} |"
        )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    table = "\n".join(rows)
    text = f"""# Mosaic check benchmark

- date: {when}
- machine: {machine}
- data: a candidate of {ROWS:,} records, every record its own person (high cardinality),
  checked against {HELD} earlier releases of the same dataset at varied generalizations
  (each view stored as custodes keeps it, loaded from memory); one sensitive attribute of
  50 values. Medians of {REPEATS} runs.
- goal (issue 15): under 10 s on this machine. No peer tool checks a release against
  earlier ones (ARX, sdcMicro and ACRO assess each release alone), so there is no peer
  column.

{HEADER}
{table}
"""
    out = Path(__file__).resolve().parent / "results" / "mosaic.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
