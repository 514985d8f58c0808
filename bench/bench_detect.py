"""Benchmark: personal-data detection quality and speed, beside Presidio.

Run with ``.venv/bin/python bench/bench_detect.py``. It measures, in one run:

- precision and recall per entity type on the labelled corpus of
  ``tests/detect_corpus.py`` (Faker zh_CN / en locales, stdnum-built codes,
  hard negatives), judging each value alone (``custodes.detect.classify``);
- ``custodes scan`` on a 1 M-row, 10-column table (the synthetic register with
  a free-text remarks column): the sampled scan and the full scan (``--all``),
  in cells per second;
- Presidio's pattern recognizers (no spaCy model; Chinese identifiers added as
  pattern recognizers, see ``bench/presidio_worker.py``) on the first rows of
  the same table in ``.venv-presidio``, in cells per second;
- the full scan of 10 M rows x 10 columns, with the peak memory.

Results go to ``bench/results/detect.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from bench_risk import machine, markdown_table, write_result
from custodes.detect import classify, scan
from custodes.synth import population_register

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from detect_corpus import corpus, scores  # noqa: E402

COLUMNS = ["resident_id", "name", "sex", "birth_date", "region_code", "phone", "address"]
COLUMNS += ["diagnosis", "benefit_type", "remarks"]
PRESIDIO_ROWS = 2_000
CHECKSUMMED = ("CN_RESIDENT_ID", "CN_USCC", "BANK_CARD", "CREDIT_CARD", "IBAN")


def table(rows: int) -> pl.DataFrame:
    """The register's columns plus case remarks, some with an ID and a phone inside."""
    register = population_register(rows, seed=11)
    remark = (
        pl.when(pl.int_range(pl.len()) % 10 == 0)
        .then(pl.format("来电人身份证{}，联系电话{}，已转办。", "resident_id", "phone"))
        .otherwise(pl.lit("已办结，群众对处理结果表示满意。"))
    )
    return register.with_columns(remark.alias("remarks")).select(COLUMNS)


def make_table(rows: int, path: Path) -> None:
    """Write the table in a child process, so this one's peak memory is the scan's."""
    cmd = [sys.executable, __file__, "--make", str(rows), str(path)]
    subprocess.run(cmd, check=True, cwd=ROOT / "bench")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


def presidio(path: Path) -> dict[str, object] | str:
    python = ROOT / ".venv-presidio" / "bin" / "python"
    if not python.exists():
        return "not run: `.venv-presidio` is missing (make .venv-presidio/.installed)"
    cmd = [str(python), str(ROOT / "bench" / "presidio_worker.py"), str(path), ",".join(COLUMNS)]
    done = subprocess.run([*cmd, "--rows", str(PRESIDIO_ROWS)], capture_output=True, text=True)
    if done.returncode != 0:
        return f"Presidio failed: {done.stderr.strip().splitlines()[-1]}"
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
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
    with tempfile.TemporaryDirectory() as tmp:
        print("1 M rows", file=sys.stderr)
        path = Path(tmp) / "table.parquet"
        make_table(1_000_000, path)
        cells = 1_000_000 * len(COLUMNS)
        sample_s, _ = timed(lambda: scan(path))
        full_s, result = timed(lambda: scan(path, full=True))
        rate = cells / full_s
        peer = presidio(path)
        lines += [
            "## Speed beside Presidio",
            "",
            f"A 1 M-row table of {len(COLUMNS)} columns ({', '.join(COLUMNS)}; every tenth "
            "remark holds an ID and a phone number), Parquet. custodes times include reading "
            f"the file. Presidio: its pattern recognizers only on the first {PRESIDIO_ROWS:,} "
            "rows (it analyzes cell by cell, so its rate does not depend on the row count).",
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
        print("10 M rows", file=sys.stderr)
        big = Path(tmp) / "big.parquet"
        make_table(10_000_000, big)
        before = peak_rss_mib()
        big_s, big_result = timed(lambda: scan(big, full=True))
        assert hasattr(big_result, "rows")
        lines += [
            "## 10 M rows",
            "",
            f"`custodes scan --all` on 10,000,000 rows x {len(COLUMNS)} columns (Parquet): "
            f"{big_s:.1f} s, {10_000_000 * len(COLUMNS) / big_s:,.0f} cells per second (goal: "
            f"under a minute). Peak RSS of the benchmark process {peak_rss_mib():,.0f} MiB "
            f"({before:,.0f} MiB before it; the tables are generated in a child process).",
            "",
        ]
    write_result("detect.md", lines)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--make":
        table(int(sys.argv[2])).write_parquet(sys.argv[3])
        sys.exit(0)
    sys.exit(main())
