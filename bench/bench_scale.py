"""Benchmark: national scale on one machine, from Parquet, at low and high cardinality.

Run with ``.venv/bin/python bench/bench_scale.py [--sizes 10,50,100] [--repeats 3]``
(DuckDB is installed into the environment on first use). Data: two generated
population registers (``bench/scale_data.py``) of 10, 50 and 100 million rows,
five integer quasi-identifiers each:

- high: sex, birth day (90 years), county (2,850), education, marital status:
  nearly every row unique;
- low: sex, age, education, marital status, urban/rural: some 40,000
  combinations at any size.

Each measurement is one fresh process (its wall time and peak resident memory
from ``wait4``), side by side in one run:

- ``polars``: a Polars streaming group-by of the quasi-identifiers with counts;
- ``duckdb``: DuckDB's group-by of the same columns, fetched as Arrow;
- ``custodes assess``: the command as a user runs it (``--format json``), with
  the default output (every figure, and the analysis of the 31 column subsets).

At 10 M rows the benchmark also checks that custodes' figures equal the ones
computed from the data in memory (class sizes, and uniques per column subset
from a Polars group-by each). Results go to ``bench/results/scale.md`` with a
plot of time and memory against rows (``bench/results/scale.svg``).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from scale_data import REGISTER_QIS, SHAPES, write_register

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TOOLS = ("polars", "duckdb", "custodes")
ANONYMIZE_TOOLS = ("group-by", "copy", "anonymize")
_HIERARCHIES = ("birth_date=date:month,year,decade", "region_code=prc")


def _peak_gb() -> float:
    """This process's peak resident memory since it began running its program (VmHWM).

    Not ``ru_maxrss``: that also counts what the parent held when it forked the
    process, so a benchmark that has read a table would inflate every tool.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError("/proc/self/status has no VmHWM line")


def _worker(tool: str, path: str) -> None:
    """Run one tool once (in this fresh process): what it found on standard output, its
    peak memory as the last line of standard error."""
    atexit.register(lambda: print(f"peak_gb {_peak_gb()}", file=sys.stderr, flush=True))
    if tool == "custodes":  # the command line, as a user runs it
        columns = ",".join(SHAPES[Path(path).name.split("-")[0]])
        sys.argv = ["custodes", "assess", path, "--qi", columns, "--format", "json"]
        from custodes.cli import main

        main()
        return
    if tool in ANONYMIZE_TOOLS:
        _anonymize_worker(tool, Path(path))
        return
    columns = list(pl.scan_parquet(path).collect_schema().names())
    if tool == "polars":
        out = pl.scan_parquet(path).group_by(columns).agg(pl.len()).collect(engine="streaming")
        print(json.dumps({"classes": out.height}))
    elif tool == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET threads = 2")
        cols = ", ".join(f'"{c}"' for c in columns)
        table = con.execute(
            f"SELECT {cols}, count(*) AS n FROM read_parquet('{path}') GROUP BY {cols}"
        ).to_arrow_table()
        print(json.dumps({"classes": table.num_rows}))
    elif tool == "check":
        print(_check(Path(path)))


def _anonymize_worker(tool: str, path: Path) -> None:
    """The anonymization and its two yardsticks, on the register (writing next to it)."""
    out = path.with_name(f"{path.stem}-{tool}.parquet")
    if tool == "group-by":
        grouped = pl.scan_parquet(path).group_by(REGISTER_QIS).agg(pl.len())
        print(json.dumps({"classes": grouped.collect(engine="streaming").height}))
    elif tool == "copy":
        pl.scan_parquet(path).sink_parquet(out)
    else:
        sex = path.with_name("sex.csv")
        if not sex.exists():
            sex.write_text("男;*\n女;*\n", encoding="utf-8")
        manifest = path.with_name(f"{path.stem}-manifest.json")
        hierarchies = [a for h in (f"sex={sex}", *_HIERARCHIES) for a in ("--hierarchy", h)]
        sys.argv = [
            "custodes", "anonymize", str(path), "--qi", ",".join(REGISTER_QIS), *hierarchies,
            "--k", "10", "--suppression", "0.01", "--output", str(out),
            "--manifest", str(manifest),
        ]  # fmt: skip
        from custodes.cli import main

        code = main(sys.argv[1:])
        if code:
            raise SystemExit(code)
        found = json.loads(manifest.read_text())
        print(json.dumps({"levels": found["transformation"], "rows": found["output"]["rows"]}))
    out.unlink(missing_ok=True)


def _run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak memory (GB, as the process reports it) and standard output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        done = subprocess.run(cmd, stdout=out, stderr=err, cwd=tempfile.gettempdir(), check=False)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        errors = err.read().decode(errors="replace")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{errors[-2000:]}")
        peak = float(errors.strip().splitlines()[-1].removeprefix("peak_gb "))
        return wall, peak, out.read().decode()


def _command(tool: str, path: Path) -> list[str]:
    return [sys.executable, __file__, "--worker", tool, str(path)]


def measure(
    path: Path, repeats: int, tools: tuple[str, ...] = TOOLS
) -> dict[str, dict[str, float]]:
    """Median wall time and peak memory of each tool, interleaved run by run."""
    runs: dict[str, list[tuple[float, float]]] = {t: [] for t in tools}
    classes = 0
    for _ in range(repeats):
        for tool in tools:
            wall, peak, out = _run(_command(tool, path))
            runs[tool].append((wall, peak))
            if tool in ("polars", "group-by"):
                classes = json.loads(out)["classes"]
            elif tool == "anonymize":  # the manifest's figures, after the command's report
                print(f"  {path.name} {out.strip().splitlines()[-1]}", flush=True)
            print(f"  {path.name} {tool}: {wall:.2f} s, {peak:.2f} GB", flush=True)
    found = {
        t: {
            "seconds": statistics.median(w for w, _ in r),
            "peak_gb": statistics.median(p for _, p in r),
            "runs": len(r),
        }
        for t, r in runs.items()
    }
    found["classes"] = {"count": float(classes)}
    return found


def cross_check(path: Path) -> str:
    """custodes' figures at 10 M rows against the ones computed in memory (in a process of
    its own, so that this one stays small: a child starts with its parent's memory)."""
    _, _, out = _run(_command("check", path))
    return out.strip()


def _check(path: Path) -> str:
    _, _, out = _run(_command("custodes", path))
    found = json.loads(out)
    data = pl.read_parquet(path)
    columns = data.columns
    counts = data.group_by(columns).len().get_column("len").to_numpy()
    n = data.height
    assert found["rows"] == n
    assert found["equivalence_classes"]["count"] == len(counts)
    assert found["k_anonymity"] == int(counts.min())
    assert found["sample_uniques"]["records"] == int((counts == 1).sum())
    assert abs(found["prosecutor"]["average_risk"] - len(counts) / n) < 1e-12
    by_cols = {tuple(c["columns"]): c for c in found["qi_combinations"]}
    checked = 0
    for size in range(1, len(columns) + 1):
        for cols in itertools.combinations(columns, size):
            sizes = data.group_by(list(cols)).len().get_column("len").to_numpy().astype(np.int64)
            got = by_cols[cols]
            assert abs(got["uniques"] - float((sizes == 1).sum()) / n) < 1e-12, cols
            assert abs(got["distinction"] - len(sizes) / n) < 1e-12, cols
            same = float((sizes * (sizes - 1)).sum())
            assert abs(got["separation"] - (1 - same / (n * (n - 1)))) < 1e-9, cols
            checked += 1
    return (
        f"{path.name}: classes, k, sample uniques and average risk, and distinction, separation "
        f"and uniques of all {checked} column subsets equal the in-memory figures"
    )


def machine() -> str:
    """The machine, as the other benchmarks name it, and DuckDB's version."""
    from importlib.metadata import version

    from bench_risk import machine as named

    return f"{named()}, duckdb {version('duckdb')}"


def _svg(results: dict[str, dict[int, dict[str, dict[str, float]]]]) -> str:
    """Time and peak memory against rows, one line per tool and shape."""
    width, height, pad = 360, 240, 46
    colours = {"polars": "#1f77b4", "duckdb": "#2ca02c", "custodes": "#d62728"}
    dashes = {"high": "", "low": "6 4"}
    panels = []
    for p, (metric, label) in enumerate((("seconds", "seconds"), ("peak_gb", "peak GB"))):
        x0 = p * (width + 20)
        top = max(r[t][metric] for shape in results.values() for r in shape.values() for t in TOOLS)
        sizes = sorted({s for shape in results.values() for s in shape})
        most = max(sizes)

        def px(rows: int, x0: int = x0, most: int = most) -> float:
            return x0 + pad + (width - pad - 10) * rows / most

        def py(v: float, top: float = top) -> float:
            return height - pad + 10 - (height - pad - 10) * v / top

        parts = [
            f'<text x="{x0 + width / 2}" y="14" text-anchor="middle">{label} by rows</text>',
            f'<line x1="{x0 + pad}" y1="{py(0)}" x2="{x0 + width - 10}" y2="{py(0)}" '
            'stroke="#888"/>',
            f'<line x1="{x0 + pad}" y1="{py(0)}" x2="{x0 + pad}" y2="{py(top)}" stroke="#888"/>',
            f'<text x="{x0 + pad - 4}" y="{py(top) + 4}" text-anchor="end">{top:.0f}</text>',
            f'<text x="{x0 + pad - 4}" y="{py(0) + 4}" text-anchor="end">0</text>',
        ]
        for s in sizes:
            parts.append(
                f'<text x="{px(s)}" y="{py(0) + 16}" text-anchor="middle">{s // 10**6} M</text>'
            )
        for shape, by_size in results.items():
            for tool in TOOLS:
                points = " ".join(
                    f"{px(s):.1f},{py(by_size[s][tool][metric]):.1f}" for s in sorted(by_size)
                )
                parts.append(
                    f'<polyline points="{points}" fill="none" stroke="{colours[tool]}" '
                    f'stroke-width="2" stroke-dasharray="{dashes[shape]}"/>'
                )
        panels.append("\n".join(parts))
    legend = []
    for i, tool in enumerate(TOOLS):
        legend.append(
            f'<line x1="{60 + i * 150}" y1="{height + 14}" x2="{85 + i * 150}" '
            f'y2="{height + 14}" stroke="{colours[tool]}" stroke-width="2"/>'
            f'<text x="{90 + i * 150}" y="{height + 18}">{tool}</text>'
        )
    legend.append(f'<text x="540" y="{height + 18}">solid: high cardinality; dashed: low</text>')
    total_w = 2 * width + 20
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height + 30}" '
        'font-family="sans-serif" font-size="11">\n'
        + "\n".join(panels)
        + "\n"
        + "\n".join(legend)
        + "\n</svg>\n"
    )


def _head(title: str) -> list[str]:
    """A results file's title, date, machine and what each figure is."""
    return [
        f"# Scale benchmark: {title}",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        "- each figure: the median of the runs (one fresh process each, tools interleaved);"
        " time is the whole process's wall time, memory its peak resident set (VmHWM)",
    ]


def anonymize_report(results: dict[int, dict[str, dict[str, float]]]) -> str:
    lines = [
        *_head("anonymizing 10 to 100 million rows from Parquet"),
        "",
        "`custodes anonymize FILE --qi sex,birth_date,region_code --hierarchy sex=sex.csv"
        " --hierarchy birth_date=date:month,year,decade --hierarchy region_code=prc --k 10"
        " --suppression 0.01 --output OUT.parquet --manifest M.json` on the register shape"
        " (sex and county as text, birth date as a date, three more columns), against a"
        " Polars streaming group-by of the three quasi-identifiers and a Polars copy of the"
        " table to Parquet (`scan_parquet(...).sink_parquet(...)`); the goal is custodes"
        " within 1.5x of the two together, under 16 GB.",
        "",
        "| rows | classes | group-by s | copy s | custodes s | custodes / (group-by + copy) |"
        " group-by GB | copy GB | custodes GB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sorted(results):
        r = results[size]
        g, c, a = r["group-by"], r["copy"], r["anonymize"]
        lines.append(
            f"| {size // 10**6} M | {int(r['classes']['count']):,} | {g['seconds']:.2f} "
            f"| {c['seconds']:.2f} | {a['seconds']:.2f} "
            f"| {a['seconds'] / (g['seconds'] + c['seconds']):.2f}x | {g['peak_gb']:.2f} "
            f"| {c['peak_gb']:.2f} | {a['peak_gb']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def report(results: dict[str, dict[int, dict[str, dict[str, float]]]], checks: list[str]) -> str:
    lines = [
        *_head("10 to 100 million rows from Parquet"),
        "- data: generated registers (`bench/scale_data.py`), five integer quasi-identifiers;"
        " high: sex, birth day in 90 years, one of 2,850 counties, education, marital status;"
        " low: sex, age, education, marital status, urban/rural",
        "- polars: streaming group-by with counts; duckdb: GROUP BY with counts fetched as"
        " Arrow, 2 threads; custodes: the command line `custodes assess FILE --qi ..."
        " --format json` (run by `custodes.cli.main` in the benchmark's worker), the"
        " default output (every risk figure and all 31 column subsets)",
        "",
        "![time and memory by rows](scale.svg)",
        "",
        "| shape | rows | classes | polars s | duckdb s | custodes s | custodes / polars |"
        " polars GB | duckdb GB | custodes GB | memory custodes / polars |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for shape, by_size in results.items():
        for size in sorted(by_size):
            r = by_size[size]
            p, d, c = r["polars"], r["duckdb"], r["custodes"]
            lines.append(
                f"| {shape} | {size // 10**6} M | {int(r['classes']['count']):,} "
                f"| {p['seconds']:.2f} | {d['seconds']:.2f} | {c['seconds']:.2f} "
                f"| {c['seconds'] / p['seconds']:.2f}x | {p['peak_gb']:.2f} | {d['peak_gb']:.2f} "
                f"| {c['peak_gb']:.2f} | {c['peak_gb'] / p['peak_gb']:.2f}x |"
            )
    lines += ["", "## Cross-check", ""]
    lines += [f"- {c}" for c in checks] or ["- not run"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="10,50,100", help="millions of rows, e.g. 10,50")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default="/tmp/custodes-scale", help="where the data is made")
    parser.add_argument(
        "--parts", default="assess,anonymize", help="what to measure: assess, anonymize or both"
    )
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    try:
        import duckdb  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "duckdb>=1.1"], check=True)
    sizes = [int(s) * 10**6 for s in args.sizes.split(",")]
    results: dict[str, dict[int, dict[str, dict[str, float]]]] = {}
    checks = []
    parts = set(args.parts.split(","))
    for shape in SHAPES if "assess" in parts else ():
        results[shape] = {}
        for size in sizes:
            path = write_register(
                Path(args.data) / f"{shape}-{size // 10**6}M.parquet", shape, size
            )
            print(f"{path.name}", flush=True)
            results[shape][size] = measure(path, args.repeats)
            if size == 10**7:
                checks.append(cross_check(path))
    anonymized: dict[int, dict[str, dict[str, float]]] = {}
    for size in sizes if "anonymize" in parts else ():
        path = write_register(
            Path(args.data) / f"register-{size // 10**6}M.parquet", "register", size
        )
        print(f"{path.name}", flush=True)
        anonymized[size] = measure(path, args.repeats, ANONYMIZE_TOOLS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if results:
        (RESULTS / "scale.svg").write_text(_svg(results))
        (RESULTS / "scale.md").write_text(report(results, checks))
        print((RESULTS / "scale.md").read_text())
    if anonymized:
        (RESULTS / "scale-anonymize.md").write_text(anonymize_report(anonymized))
        print((RESULTS / "scale-anonymize.md").read_text())


if __name__ == "__main__":
    main()
