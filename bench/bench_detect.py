"""Benchmark: personal-data detection quality and speed, beside Presidio, up to 100 M rows.

Run with ``.venv/bin/python bench/bench_detect.py [--sizes 10,100] [--repeats 3]
[--data DIR]``. It measures, in one run:

- precision and recall per entity type on the labelled corpus of
  ``tests/detect_corpus.py`` (Faker zh_CN / en locales, stdnum-built codes,
  hard negatives), judging each value alone (``custodes.detect.classify``);
- ``custodes scan`` on a 1 M-row, 10-column table (the synthetic register with
  a free-text remarks column, ``bench/detect_data.py``): the sampled scan and the
  full scan (``--all``), in cells per second;
- Presidio's pattern recognizers (no spaCy model; Chinese identifiers added as
  pattern recognizers, see ``bench/presidio_worker.py``) on the first rows of
  the same table in ``.venv-presidio``, in cells per second;
- the command ``custodes scan FILE --all --format json`` on the same table at 10 M
  and 100 M rows x 10 columns, each run a fresh process: its wall time, its CPU
  time, its own peak memory (VmHWM) and the machine's load around it.

The tables are made once, a million rows at a time, in ``--data`` (3.8 GB at
100 M rows; later runs reuse them). Results go to ``bench/results/detect.md``.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from bench_risk import machine, markdown_table, write_result
from custodes.detect import classify, scan
from detect_data import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from detect_corpus import corpus, scores  # noqa: E402

PRESIDIO_ROWS = 2_000
CHECKSUMMED = ("CN_RESIDENT_ID", "CN_USCC", "BANK_CARD", "CREDIT_CARD", "IBAN")
GOAL_SECONDS = 360


def make_table(rows: int, data: Path) -> Path:
    """The table of ``rows`` rows in ``data``, written (once) by a child process, so this
    one stays small."""
    path = data / f"detect-{rows // 10**6}M.parquet"
    if not path.exists():
        cmd = [sys.executable, str(ROOT / "bench" / "detect_data.py"), str(rows), str(path)]
        subprocess.run(cmd, check=True, cwd=ROOT / "bench")
    return path


def _peak_gib() -> float:
    """This process's own peak resident memory (VmHWM), not what its parent held."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError("/proc/self/status has no VmHWM line")


def _worker(path: str) -> None:
    """``custodes scan PATH --all --format json`` in this fresh process (the command line,
    through ``custodes.cli.main``); its peak memory as the last line of standard error."""
    atexit.register(lambda: print(f"peak_gib {_peak_gib()}", file=sys.stderr, flush=True))
    sys.argv = ["custodes", "scan", path, "--all", "--format", "json"]
    from custodes.cli import main

    main()


def full_scan(path: Path, rows: int) -> dict[str, float]:
    """One run of the command in a fresh process: wall and CPU seconds, peak GiB, load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--worker", str(path)],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            check=False,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"the scan of {path} failed:\n{done.stderr[-2000:]}")
        out.seek(0)
        found = json.loads(out.read())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    resident = next(c for c in found["columns"] if c["name"] == "resident_id")
    assert found["scanned_rows"] == rows == resident["entities"][0]["matches"], path
    peak = float(done.stderr.strip().splitlines()[-1].removeprefix("peak_gib "))
    return {
        "seconds": wall,
        "cpu": cpu,
        "peak_gib": peak,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def at_scale(sizes: list[int], repeats: int, data: Path) -> list[str]:
    """The full scan at each size, ``repeats`` runs each (sizes interleaved)."""
    paths = {rows: make_table(rows, data) for rows in sizes}
    runs: dict[int, list[dict[str, float]]] = {rows: [] for rows in sizes}
    for _ in range(repeats):
        for rows in sizes:
            run = full_scan(paths[rows], rows)
            runs[rows].append(run)
            print(
                f"  {rows // 10**6} M: {run['seconds']:.1f} s, CPU {run['cpu']:.1f} s, "
                f"{run['peak_gib']:.2f} GiB, load {run['load_before']:.1f}",
                file=sys.stderr,
                flush=True,
            )
    table = []
    for rows in sizes:
        r = runs[rows]
        wall = statistics.median(x["seconds"] for x in r)
        cpu = statistics.median(x["cpu"] for x in r)
        loads = ", ".join(f"{x['load_before']:.1f}-{x['load_after']:.1f}" for x in r)
        table.append(
            [
                f"{rows // 10**6} M",
                str(len(r)),
                f"{wall:.1f}",
                f"{rows * len(COLUMNS) / wall:,.0f}",
                f"{cpu:.1f}",
                f"{cpu / wall:.2f}",
                f"{statistics.median(x['peak_gib'] for x in r):.2f}",
                ", ".join(f"{x['seconds']:.0f}" for x in r),
                loads,
            ]
        )
    head = (
        "rows|runs|seconds (median)|cells per second|CPU seconds|cores busy|peak GiB"
        "|each run's seconds|load before-after each run"
    )
    biggest = max(sizes)
    verdict = statistics.median(x["seconds"] for x in runs[biggest])
    return [
        "## The full scan at scale",
        "",
        f"`custodes scan FILE --all --format json` on the same table of {len(COLUMNS)} "
        "columns (Parquet, zstd, row groups of a million rows), each run a fresh process "
        "through `custodes.cli.main`, in a folder without a workspace: wall time of the "
        "whole process (start-up, the sample, reading and counting every row, the JSON), "
        "its CPU time (user and system, all threads), its own peak resident memory (VmHWM) "
        "and the machine's one-minute load average before and after it (two cores; other "
        "work on the machine shares them, and the load after a run counts the run's own "
        "threads). The scan reads the table once, a million rows at a time, and counts "
        "the columns of each run in two threads; memory does not grow with the rows.",
        "",
        *markdown_table(head, table),
        f"Goal: {biggest // 10**6} M rows in under {GOAL_SECONDS // 60} minutes: "
        f"{verdict:.0f} s ({'met' if verdict < GOAL_SECONDS else 'not met'}).",
        "",
    ]


def timed(job: object) -> tuple[float, object]:
    assert callable(job)
    start = time.perf_counter()
    result = job()
    return time.perf_counter() - start, result


def quality() -> list[list[str]]:
    frame = corpus(per_type=2_000, seed=1)
    seconds, predicted = timed(lambda: classify(frame["value"]))
    rows = []
    for r in scores(frame, pl.Series(predicted)).iter_rows(named=True):
        mark = " (checksummed)" if r["entity"] in CHECKSUMMED else ""
        rows.append(
            [
                r["entity"] + mark,
                f"{r['positives']:,}",
                f"{r['false_positives']:,}",
                f"{r['precision']:.4f}",
                f"{r['recall']:.4f}",
            ]
        )
    negatives = frame.filter(pl.col("label") == "NONE").height
    print(f"  corpus: {frame.height:,} values, {negatives:,} hard negatives, "
          f"classified in {seconds:.2f} s", file=sys.stderr)  # fmt: skip
    return rows


def presidio(path: Path, repeats: int) -> dict[str, object] | str:
    """Presidio's run on ``path`` with the median time of ``repeats`` runs."""
    python = ROOT / ".venv-presidio" / "bin" / "python"
    if not python.exists():
        return "not run: `.venv-presidio` is missing (make .venv-presidio/.installed)"
    cmd = [str(python), str(ROOT / "bench" / "presidio_worker.py"), str(path), ",".join(COLUMNS)]
    runs = []
    for _ in range(repeats):
        done = subprocess.run([*cmd, "--rows", str(PRESIDIO_ROWS)], capture_output=True, text=True)
        if done.returncode != 0:
            return f"Presidio failed: {done.stderr.strip().splitlines()[-1]}"
        runs.append(json.loads(done.stdout))
    result: dict[str, object] = runs[0]
    seconds = statistics.median(float(r["seconds"]) for r in runs)
    result.update(seconds=seconds, cells_per_second=int(str(result["cells"])) / seconds)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="10,100", help="millions of rows, e.g. 10,100")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each full scan")
    parser.add_argument("--data", default="/tmp/custodes-detect", help="where tables are made")
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker)
        return 0
    data = Path(args.data)
    sizes = [int(s) * 10**6 for s in args.sizes.split(",")]
    lines = [
        "# Personal-data detection benchmark",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        "",
        "## Quality on the labelled corpus",
        "",
        "`tests/detect_corpus.py`, 2,000 values per generator and seed 1: Faker zh_CN names, "
        "addresses, phones, resident IDs (kept when stdnum accepts them), plates, e-mails, IP "
        "and MAC addresses; Faker en_US cards, en_GB / de_DE IBANs; credit codes and UnionPay "
        "cards built with stdnum's check digits; hard negatives (date-prefixed 18-digit order "
        "numbers, 13-digit timestamps, IDs, cards and credit codes with a wrong check "
        "character, product codes, 20-digit invoice numbers, 11-digit numbers outside mobile "
        "ranges, amounts, and common Chinese words, many starting with a surname character). "
        "Each value is judged alone, without a column name (`custodes.detect.classify`).",
        "",
    ]
    print("quality", file=sys.stderr)
    lines += markdown_table("entity|positives|false positives|precision|recall", quality())
    lines += [
        "Names are judged by their surname alone here: a two-character word that starts with "
        "a surname character (李子, 黄色) is taken for a name. In a scan the column name "
        "(姓名, name, 联系人 ...) and the share of matching values decide, so a column of such "
        "words is not called a name column. The missed phone numbers are Faker's 149 numbers, "
        "which libphonenumber's ranges do not list as mobile; the missed plates have an O, "
        "which plates do not use.",
        "",
    ]
    print("1 M rows", file=sys.stderr)
    path = make_table(1_000_000, data)
    cells = 1_000_000 * len(COLUMNS)
    load = os.getloadavg()[0]
    sample_s = statistics.median(timed(lambda: scan(path))[0] for _ in range(args.repeats))
    fulls = [timed(lambda: scan(path, full=True)) for _ in range(args.repeats)]
    full_s, result = statistics.median(s for s, _ in fulls), fulls[0][1]
    rate = cells / full_s
    peer = presidio(path, args.repeats)
    lines += [
        "## Speed beside Presidio",
        "",
        f"A 1 M-row table of {len(COLUMNS)} columns ({', '.join(COLUMNS)}; every tenth "
        "remark holds an ID and a phone number, the others a sentence without digits), "
        "Parquet. custodes times include reading the file (in this process). Presidio: its "
        f"pattern recognizers only on the first {PRESIDIO_ROWS:,} rows (it analyzes cell by "
        "cell, so its rate does not depend on the row count). Each time is the median of "
        f"{args.repeats} runs; the load average was {load:.1f} when they began.",
        "",
    ]
    rows = [
        ["custodes scan (first 10,000 rows)", f"{sample_s:.2f}", "", ""],
        ["custodes scan --all (every cell)", f"{full_s:.2f}", f"{rate:,.0f}", ""],
    ]
    if isinstance(peer, dict):
        peer_rate = float(peer["cells_per_second"])  # type: ignore[arg-type]
        rows.append(
            [
                f"Presidio {peer['presidio_version']} ({peer['cells']:,} cells)",
                f"{float(peer['seconds']):.2f}",  # type: ignore[arg-type]
                f"{peer_rate:,.0f}",
                "",
            ]
        )
        rows[1][3] = f"{rate / peer_rate:,.0f}x"
    lines += markdown_table("run|seconds|cells per second|custodes / Presidio", rows)
    if not isinstance(peer, dict):
        lines += [peer, ""]
    assert hasattr(result, "columns")
    roles = ", ".join(f"{c.name}: {c.suggested_role}" for c in result.columns)
    lines += [f"Roles found on the full scan: {roles}.", ""]
    print("the full scan at scale", file=sys.stderr)
    lines += at_scale(sizes, args.repeats, data)
    write_result("detect.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
