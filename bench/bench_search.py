"""Benchmark: the optimal search on two hard lattices, today's code against a baseline commit.

Run with ``.venv/bin/python bench/bench_search.py [--baseline REV] [--repeats N]``.
Lattices: UCI Adult with all nine attributes as quasi-identifiers (12,960
transformations) and a generated table of 70,000 people with eight
(``bench/search_data.py``, 90,000 transformations), k-anonymity with
suppression. The baseline is the source of ``REV`` (by default the commit the
search was last rewritten from), unpacked with ``git archive`` into a
temporary folder; each version runs in a worker process of its own
(``bench/search_worker.py``) that builds the summaries once, and the two are
asked in turn (old, new, new, old, ...) so both see the same load on the
machine. Every result of the new search must equal the baseline's: the same
levels, suppressed records and Loss. Results go to ``bench/results/search.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from bench_risk import machine, markdown_table, write_result

ROOT = Path(__file__).resolve().parents[1]
ADULT = Path(os.environ.get("CUSTODES_ADULT_DIR", ROOT.parent / "shared" / "data" / "adult"))
BASELINE = "b33e91f"
"""The commit of main before the search was made faster (issue 17, point 4)."""
REPEATS = 7
LATTICES = {
    "adult": "Adult, 9 QIs (30,162 rows)",
    "generated": "generated, 8 QIs (70,000 rows)",
}
CONFIGS = [(5, 0.02), (5, 0.0), (10, 0.01)]  # (k, suppression limit)


class Worker:
    """A search worker on one version of the source, answering one request at a time."""

    def __init__(self, label: str, src: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(src))
        cmd = [sys.executable, str(ROOT / "bench" / "search_worker.py"), str(ADULT)]
        self.label = label
        self.process = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        hello = self.read()
        if not Path(hello["custodes"]).resolve().is_relative_to(src.resolve()):
            raise SystemExit(f"the {label} worker imported {hello['custodes']}, not from {src}")

    def read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.label} worker stopped (exit {self.process.wait()})")
        return json.loads(line)

    def search(self, lattice: str, k: int, limit: float) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"lattice": lattice, "k": k, "limit": limit}) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def unpack(rev: str, into: Path) -> Path:
    """The ``src`` folder of ``rev``, from ``git archive``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def describe(r: Any) -> str:
    return f"{','.join(str(x) for x in r['levels'])} / {r['suppressed']:,} / {r['loss']:.4f}"


def same(old: Any, new: Any) -> bool:
    return (old["levels"], old["suppressed"], round(old["loss"], 12)) == (
        new["levels"],
        new["suppressed"],
        round(new["loss"], 12),
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def measure(old: Worker, new: Worker, repeats: int) -> list[list[str]]:
    rows = []
    for lattice, title in LATTICES.items():
        for k, limit in CONFIGS:
            times: dict[str, list[float]] = {"old": [], "new": []}
            answers: dict[str, Any] = {}
            for r in range(repeats + 1):  # the first round warms up and is not counted
                pair = (old, new) if r % 2 else (new, old)
                for worker in pair:
                    answer = worker.search(lattice, k, limit)
                    answers[worker.label] = answer
                    if r:
                        times[worker.label].append(answer["seconds"])
            a_old, a_new = answers["old"], answers["new"]
            if not same(a_old, a_new) or not a_new["optimal"]:
                raise SystemExit(
                    f"{title}, k={k}, {limit:.0%}: the new search found {describe(a_new)}, "
                    f"the baseline {describe(a_old)}"
                )
            t_old, t_new = statistics.median(times["old"]), statistics.median(times["new"])
            rows.append(
                [
                    title,
                    f"k={k}, {limit:.0%}",
                    f"{a_new['lattice']:,}",
                    f"{a_old['checked']:,}",
                    f"{a_new['checked']:,}",
                    ms(t_old),
                    ms(t_new),
                    f"{t_old / t_new:.1f}x",
                    describe(a_new),
                ]
            )
            print("  " + " | ".join(rows[-1]), file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed runs per search")
    args = parser.parse_args()
    if not (ADULT / "adult.csv").is_file():
        print(f"the Adult data is not at {ADULT}", file=sys.stderr)
        return 2
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        old = Worker("old", unpack(sha, Path(tmp)))
        new = Worker("new", ROOT / "src")
        try:
            rows = measure(old, new, args.repeats)
        finally:
            old.close()
            new.close()
    lines = [
        "# Search benchmark: the optimal search on hard lattices",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        f"- versions: before = commit {sha}, after = the working tree at {head}; each in a "
        "worker process of its own (`bench/search_worker.py`), asked in turn",
        "- lattices: UCI Adult with its nine attributes as quasi-identifiers and ARX's "
        "hierarchies (sex, age, race, marital-status, education, native-country, workclass, "
        "salary-class, occupation); a generated census-like table (`bench/search_data.py`: "
        "age, region, income, hours, education, occupation, marital status, household; "
        "hierarchy heights 4, 4, 4, 4, 3, 3, 2, 2)",
        "- the search alone: the summary and schemes are built beforehand; k-anonymity, ARX's Loss",
        f"- timings: median of {args.repeats} runs of each version after one warm-up",
        "- result: levels (in the order above) / suppressed records / Loss; the benchmark "
        "stops unless both versions find exactly the same",
        "",
        *markdown_table(
            "lattice|model, suppression|nodes|checked before|checked after|before ms|"
            "after ms|before / after|result",
            rows,
        ),
    ]
    write_result("search.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
