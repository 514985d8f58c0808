"""Benchmark: DP query latency and accuracy beside OpenDP (Polars), smartnoise-sql, diffprivlib.

Run with ``.venv/bin/python bench/bench_dp.py``. Tables: UCI Adult (30,162
rows) and ``custodes.synth.adult_like`` scale-ups to 1 M and 10 M rows, as
Parquet, with a person id ``pid`` (one row per person). Two queries, each
spending rho = 0.25 (zCDP): a count by sex and a sum of age (clamped to
17..90) by sex, sex keys public.

custodes is measured through its whole service path (actor and access check,
the budget reservation and the ledger entry in one transaction, reading the
Parquet file, bounding, Polars aggregation, OpenDP noise), and through the
answer alone. The peers run in their own environments (``bench/dp_*_worker.py``;
``make bench`` builds them). Results go to ``bench/results/dp.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import polars as pl

from bench_risk import machine, markdown_table, write_result
from custodes import Workspace
from custodes.dp import BOUNDED_TABLES, LRU, Bounded, answer_query, bounded, parse_query, plan_query
from custodes.governance import Governance
from custodes.settings import load_settings
from custodes.store import Store
from custodes.synth import adult_like
from custodes.workspace import init_workspace

ROOT = Path(__file__).resolve().parents[1]
ADULT = Path(os.environ.get("CUSTODES_ADULT_DIR", ROOT.parent / "shared" / "data" / "adult"))
RHO = Fraction(1, 4)
QUERIES = {
    "count by sex": "SELECT sex, COUNT(*) FROM adult GROUP BY sex",
    "sum of age by sex": "SELECT sex, SUM(age) FROM adult GROUP BY sex",
}
PEERS = {
    "OpenDP Polars API": ("opendp", "dp_opendp_worker.py"),
    "smartnoise-sql": ("smartnoise", "dp_smartnoise_worker.py"),
    "diffprivlib": ("diffprivlib", "dp_diffprivlib_worker.py"),
}


def tables(folder: Path) -> dict[str, Path]:
    adult = pl.read_csv(ADULT / "adult.csv", separator=";", infer_schema=False)
    out = {}
    for label, frame in (
        ("adult", adult),
        ("1 M", adult_like(1_000_000, seed=2, source=adult)),
        ("10 M", adult_like(10_000_000, seed=3, source=adult)),
    ):
        path = folder / f"{label.replace(' ', '')}.parquet"
        frame.select("sex", "age").with_columns(pl.int_range(pl.len()).alias("pid")).write_parquet(
            path
        )
        out[label] = path
        del frame
    return out


def service(folder: Path, data: Path) -> Workspace:
    """A workspace where 'analyst' has DP query access to the table, with a large budget."""
    settings = load_settings(folder, {"ledger_head_every": 100_000})
    init_workspace(settings)
    ws = Workspace(settings)
    root = Governance(ws, "root")
    root.add_actor("root", ["admin"], organisation="bench", credential="b0")
    for name, roles, board in [("st", ["steward"], None), ("analyst", ["requester"], None),
                               ("a", ["reviewer"], "legal"),
                               ("b", ["reviewer"], "privacy_technical"),
                               ("c", ["reviewer"], "leadership")]:  # fmt: skip
        root.add_actor(name, roles, organisation="bench", credential=f"b-{name}", board_role=board)
    Governance(ws, "st").add_department("bench", "Benchmark")
    Governance(ws, "st").register_dataset("adult", department="bench", system="b", source=data)
    request = Governance(ws, "analyst").file_request("adult")
    Governance(ws, "analyst").set_objectives(
        request, purpose="public_welfare", sharing_model="dp_query", columns=["sex", "age"],
        intended_use="benchmark", term_end="2030-01-01",
    )  # fmt: skip
    Governance(ws, "st").identify(request)
    Governance(ws, "st").prepare(request)
    Governance(ws, "analyst").submit(request)
    for reviewer in ("a", "b", "c"):  # important data (over 1 M people) needs all three roles
        if Governance(ws, "st").request(request).state == "under_review":
            Governance(ws, reviewer).decide(request, True, "bench")
    Governance(ws, "st").release(request, recipient="analyst", terms="bench")
    steward = ws.queries("st")
    steward.configure(
        "adult",
        {
            "privacy_unit": "pid",
            "max_contributions": 1,
            "bounds": {"age": [17, 90]},
            "public_groups": {"sex": ["Male", "Female"]},
        },
    )
    changes = [  # raising a budget is a budget change the board approves
        steward.propose_budget_change("adult", "100000", recipient=who, reason="bench")
        for who in ("*", "analyst")
    ]
    steward.close()
    for change in changes:
        for reviewer in ("a", "b", "c"):
            board = ws.queries(reviewer)
            state = board.decide_budget_change(change, True, "bench")
            board.close()
            if state == "approved":
                break
    return ws


def ours(ws: Workspace, data: Path, repeats: int) -> dict[str, dict[str, float]]:
    access = ws.queries("analyst")
    truth = pl.read_parquet(data).with_columns(pl.col("age").cast(pl.Int64).clip(17, 90))
    out = {}
    for name, sql in QUERIES.items():
        exact = truth.group_by("sex").agg(pl.len().alias("count"), pl.col("age").sum().alias("sum"))
        column = "count" if "COUNT" in sql else "sum"
        label = "count" if column == "count" else "sum(age)"
        exact_of = dict(zip(exact["sex"].to_list(), exact[column].to_list(), strict=True))
        start = time.perf_counter()
        access.query(sql, rho=RHO)  # the first query reads and bounds the table
        first = time.perf_counter() - start
        times, errors = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            answer = access.query(sql, rho=RHO)
            times.append(time.perf_counter() - start)
            errors += [row[label] - exact_of[row["sex"]] for row in answer["rows"]]
        query = parse_query(sql)
        config = {"privacy_unit": "pid", "max_contributions": 1, "bounds": {"age": [17, 90]},
                  "public_groups": {"sex": ["Male", "Female"]}}  # fmt: skip
        answer_times = []
        tables: Bounded = LRU(BOUNDED_TABLES)
        bounded(ws.engine, tables, data, query, config)  # read and bounded, as by the service
        for _ in range(repeats):
            start = time.perf_counter()
            table = bounded(ws.engine, tables, data, query, config)
            answer_query(plan_query(query, config, 1e-6, rho=RHO), table, ws.engine)
            answer_times.append(time.perf_counter() - start)
        sensitivity = 1 if column == "count" else 90
        out[name] = {
            "first_s": first,
            "query_s": statistics.median(times),
            "answer_s": statistics.median(answer_times),
            "noise_std": sensitivity / math.sqrt(2 * float(RHO)),
            "observed_std": statistics.pstdev(errors),
        }
        print(f"  custodes {name}: {out[name]}", file=sys.stderr)
    access.close()
    return out


def peer(venv: str, worker: str, data: Path, repeats: int) -> dict[str, object] | str:
    python = ROOT / f".venv-{venv}" / "bin" / "python"
    if not python.exists():
        return f"not run: `.venv-{venv}` is missing (make .venv-{venv}/.installed)"
    cmd = [str(python), str(ROOT / "bench" / worker), str(data), "--rho", str(float(RHO))]
    cmd += ["--repeats", str(repeats), "--max-seconds", "600"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed: {last[:200]}"
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
    rows: list[list[str]] = []
    notes: list[str] = []
    accuracy: list[list[str]] = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print("tables", file=sys.stderr)
        paths = tables(tmp)
        for label, path in paths.items():
            repeats = {"adult": 20, "1 M": 5}.get(label, 3)
            print(label, file=sys.stderr)
            ws = service(tmp / f"ws-{label.replace(' ', '')}", path)
            mine = ours(ws, path, repeats)
            Store.dispose_all()
            for name, figures in mine.items():
                first_s, query_s = f"{figures['first_s']:.3f}", f"{figures['query_s']:.3f}"
                rows.append([label, name, "custodes (service)", first_s, query_s, ""])
                answer_s = f"{figures['answer_s']:.3f}"
                rows.append([label, name, "custodes (answer only)", "", answer_s, ""])
                if label == "adult":
                    accuracy.append([name, "custodes", f"{figures['noise_std']:.3f}",
                                     f"{figures['observed_std']:.3f}"])  # fmt: skip
            for peer_name, (venv, worker) in PEERS.items():
                result = peer(venv, worker, path, repeats)
                print(f"  {peer_name}: {str(result)[:300]}", file=sys.stderr)
                if isinstance(result, str):
                    rows.append([label, "both", peer_name, "", result, ""])
                    continue
                if result.get("skipped"):
                    rows.append([label, "both", peer_name, "", f"skipped: {result['skipped']}", ""])
                    continue
                for note in result.get("notes", []):  # type: ignore[union-attr]
                    text = f"{peer_name}: {note}"
                    if text not in notes:
                        notes.append(text)
                for name, figures in result["queries"].items():  # type: ignore[union-attr]
                    ours_s = mine[name]["query_s"]
                    query_s = float(figures["query_s"])
                    rows.append([label, name, peer_name, f"{float(figures['setup_s']):.3f}",
                                 f"{query_s:.3f}", f"{query_s / ours_s:.1f}x"])  # fmt: skip
                    if label == "adult":
                        std = figures.get("noise_std")
                        accuracy.append(
                            [name, peer_name, "—" if std is None else f"{std:.3f}", "—"]
                        )
    lines = [
        "# Differential-privacy query benchmark",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        f"- queries: {'; '.join(f'{k}: `{v}`' for k, v in QUERIES.items())}; each spends "
        f"rho = {RHO} (zCDP), one row per person, age clamped to 17..90, sex keys public",
        "- custodes (service): the whole path of `workspace.dp_query` (access check, budget "
        "reservation and ledger entry in one transaction, reading the Parquet file, bounding, "
        "Polars aggregation, OpenDP noise); custodes (answer only): the same without the store",
        "- times: median of 20 runs after a first query on Adult, 5 at 1 M, 3 at 10 M; setup: "
        "custodes' first query of a process (it reads the Parquet file and bounds it, then "
        "keeps it in memory), the peers' one-off work (building a context, copying into SQLite)",
        "",
        "## Latency per query",
        "",
    ]
    lines += markdown_table("rows|query|system|setup s|query s|peer / custodes (service)", rows)
    lines += [
        "## Accuracy at the same rho (Adult)",
        "",
        "The standard deviation of the noise each system adds to a cell: custodes' Gaussian "
        "scale (sensitivity / sqrt(2 rho)) and the one observed over the repeats; the peers' as "
        "their workers report it.",
        "",
    ]
    lines += markdown_table("query|system|noise std (claimed)|noise std (observed)", accuracy)
    if notes:
        lines += ["## Notes from the peers", "", *[f"- {n}" for n in notes], ""]
    write_result("dp.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
