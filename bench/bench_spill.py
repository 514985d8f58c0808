"""Benchmark: the anonymization search in memory and on disk, on a 10 M-row register.

Run with ``.venv/bin/python bench/bench_spill.py [--rows 10] [--repeats 3] [--limit 64MiB]``.
Data: the register shape of ``bench/scale_data.py`` (sex, birth date, county code;
6.5 M distinct combinations at 10 M rows), made in ``--data`` if not there. Its
summary is made once by the engine and saved beside it (``summary-10M/``: codes and
counts as raw files, the values as Parquet); then, in fresh processes interleaved run
by run, k=10 with 1 % suppression and the demo's hierarchies (sex, birth date by
month, year and decade, county by prefecture and province) is searched:

- ``memory``: the summary loaded, searched in memory (``optimal_generalization``);
- ``disk``: the summary loaded, searched on disk within ``--limit``
  (``optimal_generalization(..., memory_limit=...)``);
- ``disk, summary on disk``: the summary never loaded: its files are read a chunk at
  a time into a summary on disk (``SummaryWriter``), which is searched within
  ``--limit`` (the case of a summary larger than memory);
- ``anonymize`` and ``anonymize --memory-limit``: the whole command line, from Parquet
  to the release (the engine's summary is in memory either way).

Every run must find the same levels, suppressed records, Loss (per column, to the
last bit), objective and number of nodes checked, or the benchmark stops. For each,
the median wall time of the search (or of the command) and the process's peak
resident memory (VmHWM), with the peak before the search began (what loading took).
Results go to ``bench/results/spill.md``.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from scale_data import REGISTER_QIS, write_register

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MODES = ("memory", "disk", "disk-summary", "anonymize", "anonymize-limited")
LABELS = {
    "memory": "search in memory",
    "disk": "search on disk",
    "disk-summary": "search on disk, summary on disk",
    "anonymize": "`custodes anonymize`",
    "anonymize-limited": "`custodes anonymize --memory-limit`",
}
_CHUNK = 1 << 20


def _peak_mib() -> float:
    """This process's peak resident memory (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def _save_summary(parquet: Path, folder: Path) -> float:
    """The engine's summary of the register, saved in ``folder``; its seconds."""
    import polars as pl

    from custodes.engines import get_engine

    start = time.perf_counter()
    summary = get_engine().summarize(pl.scan_parquet(parquet), list(REGISTER_QIS))
    seconds = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(summary.codes, dtype=np.int32).tofile(folder / "codes.bin")
    summary.counts.astype(np.int64).tofile(folder / "counts.bin")
    names = [f"c{j}" for j in range(len(REGISTER_QIS))]
    for name, values in zip(names, summary.categories, strict=True):
        pq.write_table(pa.table({"v": values}), folder / f"{name}.parquet")
    (folder / "done").write_text(json.dumps({"classes": summary.classes, "seconds": seconds}))
    return seconds


def _categories(folder: Path) -> tuple[pa.Array, ...]:
    return tuple(
        pq.read_table(folder / f"c{j}.parquet").column("v").combine_chunks()
        for j in range(len(REGISTER_QIS))
    )


def _chunks(folder: Path) -> Any:
    """The saved summary's codes and counts, ``_CHUNK`` classes at a time (read, not
    mapped: mapped pages would count as the process's memory)."""
    q = len(REGISTER_QIS)
    with (folder / "codes.bin").open("rb") as codes, (folder / "counts.bin").open("rb") as counts:
        while len(c := np.fromfile(codes, dtype=np.int32, count=_CHUNK * q)):
            yield c.reshape(-1, q), np.fromfile(counts, dtype=np.int64, count=len(c) // q)


def _schemes(values: Any) -> Any:
    from custodes.anonymize._generalize import schemes_for
    from custodes.hierarchy import Hierarchy, build_hierarchy

    hierarchies = {
        "sex": Hierarchy(rows=(("男", "*"), ("女", "*"))),
        "birth_date": build_hierarchy("date:month,year,decade", values.category_values(1)),
        "region_code": build_hierarchy("prc", values.category_values(2)),
    }
    return schemes_for(values, hierarchies)


def _search_worker(mode: str, folder: Path, limit: int) -> dict[str, Any]:
    """One search (in this fresh process): its figures, seconds and memory."""
    from custodes._spilled import SummaryWriter
    from custodes.anonymize._models import KAnonymity
    from custodes.anonymize._search import optimal_generalization
    from custodes.anonymize._spill import spilled_generalization
    from custodes.summary import Summary

    categories = _categories(folder)
    models = [KAnonymity(10)]
    start = time.perf_counter()
    if mode == "disk-summary":
        with SummaryWriter(REGISTER_QIS, categories, limit) as writer:
            for codes, counts in _chunks(folder):
                writer.add(codes, counts)
            spilled = writer.finish()
        loaded = _peak_mib()
        with spilled:
            schemes = _schemes(spilled)
            start = time.perf_counter()
            found = spilled_generalization(
                spilled, schemes, models, suppression_limit=0.01, memory_limit=limit
            )
    else:
        codes = np.fromfile(folder / "codes.bin", dtype=np.int32).reshape(-1, len(REGISTER_QIS))
        counts = np.fromfile(folder / "counts.bin", dtype=np.int64)
        summary = Summary(
            quasi_identifiers=REGISTER_QIS,
            codes=codes,
            counts=counts,
            sensitive={},
            categories=categories,
        )
        schemes = _schemes(summary)
        loaded = _peak_mib()
        start = time.perf_counter()
        found = optimal_generalization(
            summary,
            schemes,
            models,
            suppression_limit=0.01,
            memory_limit=limit if mode == "disk" else None,
        )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "loaded_mib": loaded,
        "figures": {
            "levels": list(found.levels),
            "suppressed_records": found.suppressed_records,
            "loss": found.loss,
            "loss_per_column": list(found.loss_per_column),
            "objective_value": found.objective_value,
            "nodes_checked": found.nodes_checked,
        },
        "parts": found.spilled_parts,
    }


def _anonymize_worker(limited: bool, parquet: Path, limit: str) -> dict[str, Any]:
    """The command line on the register (writing next to it): its figures and seconds."""
    from custodes.cli import main

    out = parquet.with_name(f"{parquet.stem}-spill-release.parquet")
    manifest = parquet.with_name(f"{parquet.stem}-spill-manifest.json")
    sex = parquet.with_name("sex.csv")
    if not sex.exists():
        sex.write_text("男;*\n女;*\n", encoding="utf-8")
    argv = [
        "anonymize", str(parquet), "--qi", ",".join(REGISTER_QIS),
        "--hierarchy", f"sex={sex}", "--hierarchy", "birth_date=date:month,year,decade",
        "--hierarchy", "region_code=prc", "--k", "10", "--suppression", "0.01",
        "--output", str(out), "--manifest", str(manifest),
        *(["--memory-limit", limit] if limited else []),
    ]  # fmt: skip
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    if code:
        raise SystemExit(code)
    found = json.loads(manifest.read_text())
    out.unlink(missing_ok=True)
    manifest.unlink(missing_ok=True)
    utility = found["utility"]
    return {
        "seconds": seconds,
        "loaded_mib": 0.0,
        "figures": {
            "levels": list(found["transformation"].values()),
            "suppressed_records": found["suppressed_records"],
            "loss": utility["loss"],
            "loss_per_column": list(utility["loss_per_column"].values()),
            "objective_value": found["search"]["objective_value"],
            "nodes_checked": found["search"]["nodes_checked"],
        },
        "parts": None,
    }


def _worker(mode: str, folder: str, parquet: str, limit: str) -> None:
    """Run one mode once; what it found as the last line of standard output."""
    import custodes.anonymize._search
    import custodes.cli  # noqa: F401 (what every mode imports, before the peak at start)
    from custodes.settings import memory_bytes

    start = _peak_mib()
    atexit.register(lambda: print(json.dumps({"peak_mib": _peak_mib()}), flush=True))
    if mode.startswith("anonymize"):
        found = _anonymize_worker(mode == "anonymize-limited", Path(parquet), limit)
    else:
        found = _search_worker(mode, Path(folder), memory_bytes(limit))
    print(json.dumps({**found, "start_mib": start}), flush=True)


def _run(mode: str, folder: Path, parquet: Path, limit: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", mode, str(folder), str(parquet), limit]
    with tempfile.TemporaryFile() as out:
        done = subprocess.run(
            command, stdout=out, stderr=subprocess.PIPE, cwd=tempfile.gettempdir(), check=False
        )
        out.seek(0)
        lines = out.read().decode().strip().splitlines()
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")
    found: dict[str, Any] = json.loads(lines[-2])
    found["peak_mib"] = json.loads(lines[-1])["peak_mib"]
    return found


def measure(folder: Path, parquet: Path, repeats: int, limit: str) -> dict[str, Any]:
    """Medians of each mode over ``repeats`` interleaved runs; every run's figures equal."""
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    expected: dict[str, Any] | None = None
    for _ in range(repeats):
        for mode in MODES:
            found = _run(mode, folder, parquet, limit)
            figures = found["figures"]
            if mode.startswith("anonymize"):  # the manifest rounds nothing, but says less
                assert expected is not None
                compared = {k: expected[k] for k in figures}
            else:
                compared = expected or figures
            if figures != compared:
                raise SystemExit(f"{mode} found {figures}, the others {compared}")
            expected = expected or figures
            runs[mode].append(found)
            print(
                f"  {mode}: {found['seconds']:.2f} s, peak {found['peak_mib']:.0f} MiB"
                f" (loaded {found['loaded_mib']:.0f} MiB), parts {found['parts']}",
                flush=True,
            )
    return {
        "figures": expected,
        "modes": {
            m: {
                "seconds": statistics.median(r["seconds"] for r in rs),
                "peak_mib": statistics.median(r["peak_mib"] for r in rs),
                "loaded_mib": statistics.median(r["loaded_mib"] for r in rs),
                "start_mib": statistics.median(r["start_mib"] for r in rs),
                "parts": rs[0]["parts"],
                "runs": len(rs),
            }
            for m, rs in runs.items()
        },
    }


def report(results: dict[str, Any], rows: int, classes: int, summary_s: float, limit: str) -> str:
    from bench_risk import machine

    figures = results["figures"]
    lines = [
        f"# Spill benchmark: the search in memory and on disk, {rows // 10**6} M rows",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        "- data: the register shape of `bench/scale_data.py` (sex, birth date in 100 years,"
        f" county code); {classes:,} distinct combinations; the engine's summary took"
        f" {summary_s:.1f} s, made once and saved",
        "- policy: k=10, 1 % suppression; hierarchies: sex, birth date by month, year and"
        " decade, county by prefecture and province",
        f"- memory limit of the runs on disk: {limit}",
        "- each figure: the median of the runs (one fresh process each, modes interleaved);"
        " search s is the search alone (for the command lines, the whole command in the"
        " process); peak is the process's peak resident memory (VmHWM); at start, its peak"
        " once custodes is imported; loaded, before the search began (the summary loaded,"
        " or written to disk)",
        f"- every run found the same: levels {figures['levels']}, suppressed records"
        f" {figures['suppressed_records']:,}, Loss {figures['loss']!r} (per column"
        f" {figures['loss_per_column']}), {figures['nodes_checked']} nodes checked",
        "",
        "| run | parts on disk | search s | peak MiB | at start MiB | loaded MiB |"
        " search's own MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        r = results["modes"][mode]
        own = f"{r['peak_mib'] - r['loaded_mib']:.0f}" if r["loaded_mib"] else "-"
        loaded = f"{r['loaded_mib']:.0f}" if r["loaded_mib"] else "-"
        lines.append(
            f"| {LABELS[mode]} | {r['parts'] if r['parts'] is not None else '-'} "
            f"| {r['seconds']:.2f} | {r['peak_mib']:.0f} | {r['start_mib']:.0f} | {loaded} "
            f"| {own} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=10, help="millions of rows")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", default="64MiB", help="memory limit of the runs on disk")
    parser.add_argument("--data", default="/tmp/custodes-scale", help="where the data is made")
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    rows = args.rows * 10**6
    parquet = write_register(Path(args.data) / f"register-{args.rows}M.parquet", "register", rows)
    folder = Path(args.data) / f"summary-{args.rows}M"
    if not (folder / "done").exists():
        done = subprocess.run(
            [sys.executable, "-c", f"import bench_spill; bench_spill._save_summary("
             f"__import__('pathlib').Path({str(parquet)!r}), "
             f"__import__('pathlib').Path({str(folder)!r}))"],
            cwd=Path(__file__).parent, check=False,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit("making the summary failed")
    saved = json.loads((folder / "done").read_text())
    print(f"{parquet.name}: {saved['classes']:,} classes", flush=True)
    results = measure(folder, parquet, args.repeats, args.limit)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = report(results, rows, saved["classes"], saved["seconds"], args.limit)
    (RESULTS / "spill.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
