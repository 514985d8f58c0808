"""Benchmark: custodes' risk assessment vs pycanon vs a hand-written Polars group-by.

Run with ``make bench`` (or ``.venv/bin/python bench/bench_risk.py [--quick]``).
Data: the UCI Adult table from ../shared and synthetic scale-ups of it to 1 M
and 10 M rows (``custodes.synth.adult_like``). All tools get the same table in
memory, so the timings measure computation, not file reading. Each timing is
the median of several runs. Results go to ``bench/results/risk.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from custodes.engines import get_engine
from custodes.risk._closeness import t_closeness
from custodes.risk._diversity import l_diversity
from custodes.synth import adult_like
from custodes.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
ADULT = Path(os.environ.get("CUSTODES_ADULT_DIR", ROOT.parent / "shared" / "data" / "adult"))
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
WIDE = "1 M, sensitive with 100,000 values"


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls, after one warm-up call."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# ------------------------------------------------------------------ custodes


def custodes_k(frame: pl.DataFrame) -> int:
    summary = get_engine().summarize(frame.lazy(), QIS)
    return int(summary.counts.min())


def custodes_uniques(frame: pl.DataFrame) -> int:
    summary = get_engine().summarize(frame.lazy(), QIS)
    return int((summary.counts == 1).sum())


def custodes_l(frame: pl.DataFrame) -> int:
    summary = get_engine().summarize(frame.lazy(), QIS, [SENSITIVE])
    return l_diversity(summary.sensitive[SENSITIVE], summary.classes).distinct


def custodes_t(frame: pl.DataFrame) -> float:
    summary = get_engine().summarize(frame.lazy(), QIS, [SENSITIVE])
    return t_closeness(summary.sensitive[SENSITIVE], summary.classes).equal_distance


def custodes_assess(frame: pl.DataFrame) -> float:
    """The whole assessment without QI combinations: k, uniques, risks, l, t."""
    result = Workspace().assess(
        frame, quasi_identifiers=QIS, sensitive=[SENSITIVE], combinations=False
    )
    return result.t_closeness[SENSITIVE].equal_distance


# ------------------------------------------------------------ Polars baseline


def polars_k(frame: pl.DataFrame) -> int:
    return int(frame.lazy().group_by(QIS).agg(pl.len()).select(pl.col("len").min()).collect()[0, 0])


def polars_uniques(frame: pl.DataFrame) -> int:
    q = frame.lazy().group_by(QIS).agg(pl.len()).filter(pl.col("len") == 1).select(pl.len())
    return int(q.collect()[0, 0])


def polars_l(frame: pl.DataFrame) -> int:
    q = frame.lazy().group_by(QIS).agg(pl.col(SENSITIVE).n_unique().alias("l"))
    return int(q.select(pl.col("l").min()).collect()[0, 0])


def polars_t(frame: pl.DataFrame) -> float:
    """Equal-distance EMD by hand: one group-by, joins, and a sum."""
    lf = frame.lazy()
    overall = lf.group_by(SENSITIVE).agg((pl.len() / frame.height).alias("q"))
    cells = lf.group_by([*QIS, SENSITIVE]).agg(pl.len().alias("n"))
    totals = cells.group_by(QIS).agg(pl.col("n").sum().alias("total"))
    present = (
        cells.join(totals, on=QIS)
        .join(overall, on=SENSITIVE)
        .with_columns((pl.col("n") / pl.col("total")).alias("p"))
        .group_by(QIS)
        .agg(((pl.col("p") - pl.col("q")).abs() - pl.col("q")).sum().alias("d"))
    )
    emd = present.select(((pl.col("d") + 1.0) / 2.0).max())
    return float(emd.collect()[0, 0])


def polars_groupby(frame: pl.DataFrame) -> int:
    """The practical limit: one group-by of the QIs and the sensitive attribute."""
    return frame.lazy().group_by([*QIS, SENSITIVE]).agg(pl.len()).collect().height


# ------------------------------------------------------------------- pycanon


def pycanon_times(rows: int) -> dict[str, tuple[float, float]]:
    """pycanon's timings on the first ``rows`` Adult rows, from its own environment.

    pycanon pins an old typer that custodes cannot share, so it runs in
    ``.venv-pycanon`` (made by ``make bench``) in a subprocess.
    """
    python = ROOT / ".venv-pycanon" / "bin" / "python"
    if not python.exists():
        print("pycanon environment missing: run `make bench`", file=sys.stderr)
        return {}
    worker = ROOT / "bench" / "pycanon_worker.py"
    done = subprocess.run(
        [str(python), str(worker), str(ADULT / "adult.csv"), str(rows), ",".join(QIS), SENSITIVE],
        check=True,
        capture_output=True,
        text=True,
    )
    return {k: (v[0], v[1]) for k, v in json.loads(done.stdout).items()}


# ---------------------------------------------------------------------- main


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, polars {pl.__version__}, "
        f"numpy {np.__version__}"
    )


def whole_process(repeats: int) -> float:
    """Median time of the whole `custodes assess` process on adult.csv (JSON out)."""
    exe = Path(sys.executable).with_name("custodes")
    cmd = [
        str(exe),
        "assess",
        str(ADULT / "adult.csv"),
        "--qi",
        ",".join(QIS),
        "--sensitive",
        SENSITIVE,
        "--population",
        "usa",
        "--format",
        "json",
    ]
    t, _ = median_time(lambda: subprocess.run(cmd, check=True, capture_output=True), repeats)
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="adult and 1 M rows only")
    args = parser.parse_args()
    if not (ADULT / "adult.csv").is_file():
        print(f"the Adult data is not at {ADULT}", file=sys.stderr)
        return 2
    adult = pl.read_csv(ADULT / "adult.csv", separator=";", infer_schema=False)
    sizes = [("adult", adult.height), ("1 M", 1_000_000)]
    if not args.quick:
        sizes.append(("10 M", 10_000_000))

    tasks: list[tuple[str, Callable[[pl.DataFrame], Any], Callable[[pl.DataFrame], Any]]] = [
        ("k-anonymity", custodes_k, polars_k),
        ("sample uniques", custodes_uniques, polars_uniques),
        ("distinct l-diversity", custodes_l, polars_l),
        ("t-closeness", custodes_t, polars_t),
        ("assessment (k, risks, l, t)", custodes_assess, polars_groupby),
    ]
    pycanon = pycanon_times(adult.height)
    rows_out: list[list[str]] = []
    # A sensitive attribute with a large domain (an amount, say): the t-closeness
    # work must grow with the (class, value) pairs, not with classes x values.
    sizes.append((WIDE, 1_000_000))
    for label, n in sizes:
        frame = adult if label == "adult" else adult_like(n, seed=1, source=adult)
        if label == WIDE:
            amounts = np.random.default_rng(2).integers(0, 100_000, frame.height)
            frame = frame.with_columns(pl.Series(SENSITIVE, amounts.astype(str)))
        repeats = 21 if n < 100_000 else 3
        print(f"{label}: {frame.height:,} rows", file=sys.stderr)
        for task, ours, baseline in tasks:
            if label == WIDE and task not in ("t-closeness", "assessment (k, risks, l, t)"):
                continue
            t_ours, v_ours = median_time(partial(ours, frame), repeats)
            t_base, v_base = median_time(partial(baseline, frame), repeats)
            if task != "assessment (k, risks, l, t)" and not np.isclose(v_ours, v_base):
                raise SystemExit(f"{task} on {label}: custodes {v_ours} != polars {v_base}")
            t_py = v_py = None
            if task in pycanon and label == "adult":
                t_py, v_py = pycanon[task]
                if task != "t-closeness" and v_py != v_ours:
                    raise SystemExit(f"{task}: custodes {v_ours} != pycanon {v_py}")
            rows_out.append(
                [
                    label,
                    task,
                    f"{t_ours * 1000:,.1f}",
                    f"{t_base * 1000:,.1f}",
                    f"{t_ours / t_base:.2f}",
                    "—" if t_py is None else f"{t_py * 1000:,.0f}",
                    "—" if t_py is None else f"{t_py / t_ours:,.0f}x",
                    str(v_ours if not isinstance(v_ours, float) else round(v_ours, 4))
                    + ("" if v_py is None else f" (pycanon: {v_py})"),
                ]
            )
            print("  " + " | ".join(rows_out[-1][1:]), file=sys.stderr)
    process = whole_process(3)

    head = [
        "data",
        "task",
        "custodes ms",
        "Polars group-by ms",
        "custodes / group-by",
        "pycanon ms",
        "custodes speed-up vs pycanon",
        "result",
    ]
    lines = [
        "# Risk assessment benchmark",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        "- data: UCI Adult (30,162 rows) and `custodes.synth.adult_like` scale-ups "
        "(whole rows resampled, age moved by up to 2 years); 8 quasi-identifiers, "
        "sensitive attribute `occupation` (in the last rows, replaced by random amounts "
        "with 100,000 distinct values)",
        "- timings: median of 21 runs (adult) or 3 runs (1 M, 10 M) after a warm-up; "
        "pycanon 1.3: one run, adult only (it loops over classes in pandas: at 1 M rows "
        "t-closeness alone would take hours); its t-closeness uses its own distance for "
        "categorical values, so only its time is compared",
        "- 'Polars group-by' is a hand-written Polars query computing the same figure "
        "(for the assessment row: one group-by of the QIs and the sensitive attribute, "
        "the practical lower limit)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows_out]
    lines += [
        "",
        f"Whole process `custodes assess adult.csv ... --population usa --format json` "
        f"(start-up, CSV detection and reading, every figure including 255 QI "
        f"combinations): median {process * 1000:,.0f} ms.",
        "",
    ]
    write_result("risk.md", lines)
    return 0


def markdown_table(head: str, rows: list[list[str]]) -> list[str]:
    """A Markdown table: ``head`` is the column names joined by '|'."""
    cols = head.split("|")
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return out + ["| " + " | ".join(r) + " |" for r in rows] + [""]


def write_result(name: str, lines: list[str]) -> None:
    """Write ``bench/results/NAME``."""
    out = ROOT / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
