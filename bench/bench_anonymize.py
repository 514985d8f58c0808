"""Benchmark: custodes' optimal generalization search vs ARX's published figures and anjana.

Run with ``.venv/bin/python bench/bench_anonymize.py``. Data: the UCI Adult
table from ../shared (8 quasi-identifiers in ARX's order, ARX's hierarchies)
and scale-ups of it to 1 M and 10 M rows (``custodes.synth.adult_like``).
Every custodes result is checked against ARX's optimum. anjana runs in its own
environment ``.venv-anjana`` (``bench/anjana_worker.py``). Results go to
``bench/results/anonymize.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from bench_risk import machine, markdown_table, median_time, write_result
from custodes.anonymize import DistinctLDiversity, KAnonymity, RecursiveCLDiversity, TCloseness
from custodes.anonymize._generalize import Scheme, schemes_for
from custodes.anonymize._search import SearchResult, optimal_generalization
from custodes.demo import register_hierarchies
from custodes.engines import get_engine
from custodes.hierarchy import Hierarchy, read_hierarchy
from custodes.summary import Summary
from custodes.synth import adult_like, population_register

ROOT = Path(__file__).resolve().parents[1]
ADULT = Path(os.environ.get("CUSTODES_ADULT_DIR", ROOT.parent / "shared" / "data" / "adult"))
QIS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass"]
QIS += ["salary-class"]
SENSITIVE = "occupation"
REGISTER_QIS = ["sex", "birth_date", "region_code"]
REPEATS = 5
ARX_SOURCE = "ARX 3.9.2, figures given in the project's issue"
# name: (suppression, ARX's levels, suppressed records, Loss, ARX in-process search s)
CONFIGS: dict[str, tuple[float, str, int, float, float | None]] = {
    "k=5, 0 %": (0.0, "0,4,1,2,3,2,0,0", 0, 0.5422, 0.063),
    "k=5, 2 %": (0.02, "0,3,0,2,2,1,1,0", 506, 0.2465, 0.492),
    "distinct l=2, 2 %": (0.02, "0,3,0,0,2,1,1,0", 567, 0.1472, 0.541),
    "recursive (4,3), 2 %": (0.02, "0,2,0,1,3,1,1,0", 599, 0.2428, None),
    "t=0.2 hierarchical, 2 %": (0.02, "1,4,0,2,3,1,2,1", 151, 0.7351, 2.1),
}
ARX_PROCESS = {"k=5, 0 %": 3.0, "k=5, 2 %": 3.5}  # whole process, JVM start included


def model_for(name: str, occupation: Hierarchy) -> Any:
    if name.startswith("k=5"):
        return KAnonymity(5)
    if name.startswith("distinct"):
        return DistinctLDiversity(SENSITIVE, 2)
    if name.startswith("recursive"):
        return RecursiveCLDiversity(SENSITIVE, 3, 4.0)
    return TCloseness(SENSITIVE, 0.2, "hierarchical", occupation)


def summarize(frame: pl.DataFrame, hierarchies: dict[str, Hierarchy]) -> tuple[Summary, Any]:
    summary = get_engine().summarize(frame.lazy(), QIS, [SENSITIVE])
    return summary, schemes_for(summary, hierarchies)


def search(summary: Summary, schemes: tuple[Scheme, ...], model: Any, limit: float) -> Any:
    return optimal_generalization(summary, schemes, [model], suppression_limit=limit)


def whole(frame: pl.DataFrame, hierarchies: dict[str, Hierarchy], model: Any, limit: float) -> Any:
    return search(*summarize(frame, hierarchies), model, limit)


def describe(r: SearchResult) -> str:
    levels = ",".join(str(x) for x in r.levels)
    return f"{levels} / {r.suppressed_records} / {r.loss:.4f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.1 else f"{seconds * 1000:,.1f}"


def in_process(
    adult: pl.DataFrame, hierarchies: dict[str, Hierarchy], occ: Hierarchy
) -> tuple[list[list[str]], dict[str, float]]:
    summary, schemes = summarize(adult, hierarchies)
    rows, times = [], {}
    for name, (limit, levels, suppressed, loss, arx) in CONFIGS.items():
        model = model_for(name, occ)
        t_search, r = median_time(partial(search, summary, schemes, model, limit), REPEATS)
        t_all, _ = median_time(partial(whole, adult, hierarchies, model, limit), REPEATS)
        if describe(r) != f"{levels} / {suppressed} / {loss:.4f}":
            raise SystemExit(f"{name}: custodes found {describe(r)}, ARX {levels} / {suppressed}")
        times[name] = t_search
        vs = (
            ["—"] * 3 if arx is None else [ms(arx), f"{arx / t_search:.2f}x", f"{arx / t_all:.2f}x"]
        )
        checked = f"{r.nodes_checked:,} of {r.nodes_in_lattice:,}"
        rows.append([name, checked, ms(t_search), ms(t_all), *vs, describe(r) + " (= ARX)"])
        print("  " + " | ".join(rows[-1]), file=sys.stderr)
    return rows, times


def cli(name: str, limit: float) -> list[str]:
    """The whole `custodes anonymize` process, as a user would run it."""
    cmd = [str(Path(sys.executable).with_name("custodes")), "anonymize", str(ADULT / "adult.csv")]
    cmd += ["--qi", ",".join(QIS), "--suppression", str(limit)]
    t_model = name.startswith("t=")
    for c in QIS + ([SENSITIVE] if t_model else []):
        cmd += ["--hierarchy", f"{c}={ADULT / f'adult_hierarchy_{c}.csv'}"]
    cmd += ["--sensitive", SENSITIVE, "--t", "0.2"] if t_model else ["--k", "5"]
    with tempfile.TemporaryDirectory() as tmp:
        cmd += ["--output", str(Path(tmp) / "x.csv")]
        run = partial(subprocess.run, cmd, check=True, capture_output=True, cwd=tmp)
        t, _ = median_time(run, 3)
    arx = ARX_PROCESS.get(name)
    vs = ["—"] * 2 if arx is None else [ms(arx), f"{arx / t:.1f}x"]
    print(f"  {name}: {ms(t)} ms", file=sys.stderr)
    return [name, ms(t), *vs]


def anjana(
    summary: Summary, schemes: tuple[Scheme, ...], ours: dict[str, float]
) -> tuple[list[list[str]], str]:
    """anjana's k-anonymity in its own environment; its node re-scored with custodes' Loss."""
    python = ROOT / ".venv-anjana" / "bin" / "python"
    if not python.exists():
        return [], "Not run: `.venv-anjana` is missing (see the header of anjana_worker.py)."
    cmd = [str(python), str(ROOT / "bench" / "anjana_worker.py"), str(ADULT), ",".join(QIS)]
    done = subprocess.run([*cmd, "5", str(REPEATS)], capture_output=True, text=True)
    if done.returncode != 0:
        return [], f"anjana failed: `{done.stderr.strip().splitlines()[-1]}`"
    rows = []
    for task, (seconds, got) in json.loads(done.stdout).items():
        name, node = task.replace(" suppression", ""), got["levels"]
        # anjana's node evaluated by custodes: every class smaller than k suppressed.
        only = {"suppression_limit": 1.0, "min_levels": node, "max_levels": node}
        r = optimal_generalization(summary, schemes, [KAnonymity(5)], **only)
        if r.suppressed_records != got["suppressed"]:
            raise SystemExit(f"anjana {task}: {got}, custodes: {r.suppressed_records} suppressed")
        _, levels, suppressed, loss, _ = CONFIGS[name]
        optimum = f"{levels} / {suppressed} / {loss:.4f}"
        speed = f"{seconds / ours[name]:,.0f}x"
        rows.append([name, ms(seconds), ms(ours[name]), speed, describe(r), optimum])
        print("  anjana " + " | ".join(rows[-1]), file=sys.stderr)
    return rows, ""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def scale(adult: pl.DataFrame, hierarchies: dict[str, Hierarchy]) -> tuple[list, str]:
    """Summary + search (k=5) on 1 M and 10 M rows; peak RSS around the 10 M run."""
    rows, memory = [], ""
    for label, n in [("1 M", 1_000_000), ("10 M", 10_000_000)]:
        frame = adult_like(n, seed=1, source=adult)
        before = peak_rss_mib()
        for name in ["k=5, 2 %", "k=5, 0 %"]:
            job = partial(whole, frame, hierarchies, KAnonymity(5), CONFIGS[name][0])
            t, r = median_time(job, 3)
            combos = f"{len(summarize(frame, hierarchies)[0].counts):,}"
            rows.append([label, name, combos, f"{r.nodes_checked:,}", ms(t), describe(r)])
            print("  " + " | ".join(rows[-1]), file=sys.stderr)
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        memory = (
            f"Peak RSS of the benchmark process: {before:,.0f} MiB once the {label}-row table "
            f"({frame.estimated_size() / 2**20:,.0f} MiB in Polars) was built, "
            f"{peak_rss_mib():,.0f} MiB after the summaries and searches on it "
            f"(the machine has {ram:.0f} GiB); building the table sets the peak."
        )
        del frame
    return rows, memory


def register_search(
    frame: pl.DataFrame, hierarchies: dict[str, Hierarchy], k: int, limit: float
) -> SearchResult:
    summary = get_engine().summarize(frame.lazy(), REGISTER_QIS, [])
    schemes = schemes_for(summary, hierarchies)
    return optimal_generalization(summary, schemes, [KAnonymity(k)], suppression_limit=limit)


def register_scale() -> tuple[list[list[str]], str]:
    """Summary + search on the synthetic register: millions of distinct combinations."""
    rows, memory = [], ""
    for label, n, repeats in [("1 M", 1_000_000, 3), ("10 M", 10_000_000, 1)]:
        register = population_register(n)
        hierarchies = register_hierarchies(register)
        frame = register.select(
            "sex", pl.col("birth_date").cast(pl.String), "region_code"
        )  # the text the hierarchies hold
        del register
        for k, limit in [(10, 0.01), (5, 0.0)]:
            job = partial(register_search, frame, hierarchies, k, limit)
            t, r = median_time(job, repeats)
            combos = get_engine().summarize(frame.lazy(), REGISTER_QIS, []).classes
            name = f"k={k}, {limit:.0%}"
            checked = f"{r.nodes_checked:,} of {r.nodes_in_lattice:,}"
            rows.append([label, name, f"{combos:,}", checked, ms(t), describe(r)])
            print("  register " + " | ".join(rows[-1]), file=sys.stderr)
        memory = (
            f"Peak RSS after the register runs: {peak_rss_mib():,.0f} MiB (generating the "
            f"{label}-row register sets it)."
        )
        del frame
    return rows, memory


SECTIONS = {  # title: (text, table head)
    "In-process search on Adult": (
        "'search' gets the summary already built; 'summary + search' starts from the Polars "
        "table. Every custodes result equals ARX's optimum (checked by the benchmark).",
        "model, suppression|nodes checked|search ms|summary + search ms|ARX ms|ARX / search|"
        "ARX / (summary + search)|result",
    ),
    "Whole process": (
        "`custodes anonymize adult.csv --qi ... --hierarchy ... --output x.csv` in a "
        "subprocess: start-up, reading the CSV, the search, writing the table, and the risk "
        "reports before and after that the command prints. ARX's figures include the JVM start.",
        "model, suppression|custodes ms|ARX ms|ARX / custodes",
    ),
    "anjana (k-anonymity only)": (
        "anjana 1.2.3 in `.venv-anjana`: `k_anonymity` on a pandas frame in memory, the same "
        "hierarchies, `supp_level` 0 and 2 (percent). It generalizes greedily (the QI with the "
        "most distinct values first, one level at a time) until suppressing the classes smaller "
        "than k fits the limit, so its node is not the optimum. The Loss of its node is computed "
        "by custodes; the custodes time is the search alone.",
        "model, suppression|anjana ms|custodes search ms|anjana / custodes|anjana's result|"
        "optimum (ARX = custodes)",
    ),
    "Scale": (
        "`custodes.synth.adult_like(n, seed=1, source=adult)` (whole rows resampled, age moved "
        "by up to 2 years, age kept as strings of the hierarchy); summary + search, median of 3 "
        "runs. Resampling makes the classes grow with n, so few records need suppressing and "
        "the optimum is at or next to the bottom of the lattice (at 10 M every combination "
        "already has 5 records or more): this measures the scan, not a hard search.",
        "rows|model, suppression|QI combinations|nodes checked|summary + search ms|result",
    ),
    "Scale, hard: the population register": (
        "`custodes.synth.population_register(n)` (the demo's register) with quasi-identifiers "
        "sex, birth date (by day) and county, and the demo's hierarchies (date: month, year, "
        "decade; county: prefecture, province): nearly every person has their own combination, "
        "so the summary is almost as long as the table and every transformation regroups "
        "millions of classes. Summary + search from the Polars table; median of 3 runs at "
        "1 M, one run at 10 M. Levels in the order sex, birth date, county.",
        "rows|model, suppression|QI combinations|nodes checked|summary + search ms|result",
    ),
}


def main() -> int:
    if not (ADULT / "adult.csv").is_file():
        print(f"the Adult data is not at {ADULT}", file=sys.stderr)
        return 2
    adult = pl.read_csv(ADULT / "adult.csv", separator=";", infer_schema=False)
    hierarchies = {c: read_hierarchy(ADULT / f"adult_hierarchy_{c}.csv") for c in QIS}
    occupation = read_hierarchy(ADULT / f"adult_hierarchy_{SENSITIVE}.csv")
    print("in-process search", file=sys.stderr)
    search_rows, ours = in_process(adult, hierarchies, occupation)
    print("whole process", file=sys.stderr)
    names = [*ARX_PROCESS, "t=0.2 hierarchical, 2 %"]
    process_rows = [cli(name, CONFIGS[name][0]) for name in names]
    print("anjana", file=sys.stderr)
    anjana_rows, anjana_error = anjana(*summarize(adult, hierarchies), ours)
    print("scale", file=sys.stderr)
    scale_rows, memory = scale(adult, hierarchies)
    print("register", file=sys.stderr)
    register_rows, register_memory = register_scale()

    lines = [
        "# Anonymization benchmark: optimal generalization search",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        f"- data: UCI Adult ({adult.height:,} rows) with ARX's hierarchies; quasi-identifiers "
        f"in ARX's order ({', '.join(QIS)}); sensitive attribute `{SENSITIVE}`; ARX's Loss "
        "metric; 4,320 transformations in the lattice",
        f"- ARX: {ARX_SOURCE}; not measured on this machine",
        f"- timings: custodes median of {REPEATS} runs after a warm-up (whole process and "
        "scale: 3 runs)",
        "- result: levels (in the order above) / suppressed records / Loss",
        "",
    ]
    tables = [search_rows, process_rows, anjana_rows, scale_rows, register_rows]
    for (title, (text, head)), rows in zip(SECTIONS.items(), tables, strict=True):
        lines += [f"## {title}", "", text, ""]
        missing = rows is anjana_rows and anjana_error
        lines += [anjana_error, ""] if missing else markdown_table(head, rows)
    lines += [memory, "", register_memory, ""]
    write_result("anonymize.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
