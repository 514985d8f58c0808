"""Server load benchmark: 50 concurrent users on loopback for 60 s.

A `custodes serve` process (uvicorn, one worker, as a user would start it)
serves a demo workspace of 20,000 synthetic residents. Fifty users, each with
an API token of its own, loop for the duration: two thirds browse (the
catalog page, the catalog API, a dataset page), one third are researchers
asking DP queries (a COUNT by sex at rho 1/100,000). The run is bounded in
time and in requests and sends traffic to 127.0.0.1 only. Afterwards the
researcher's budget must have dropped by exactly the queries answered
(rational arithmetic, no rounding), and no request may have failed.

Run: ``python bench/bench_server.py`` (writes bench/results/server.md).
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from custodes.demo import run_demo
from custodes.server import set_password
from custodes.settings import load_settings
from custodes.workspace import Workspace

USERS = int(os.environ.get("SERVER_USERS", "50"))
SECONDS = float(os.environ.get("SERVER_SECONDS", "60"))
MAX_REQUESTS = int(os.environ.get("SERVER_MAX_REQUESTS", "200000"))
ROWS = int(os.environ.get("SERVER_ROWS", "20000"))
RHO = Fraction(1, 100_000)
SQL = 'SELECT sex, COUNT(*) FROM "population-register" GROUP BY sex'
PASSWORD = "bench web password"
OUT = Path(__file__).resolve().parent / "results" / "server.md"


def _office(folder: Path) -> Path:
    """A demo workspace; the researcher's budget raised by the board for the run."""
    os.environ["XDG_CONFIG_HOME"] = str(folder / "config")
    settings = load_settings(folder / "ws")
    with Workspace(settings) as ws:
        run_demo(ws, rows=ROWS)
        for actor in ("steward", "researcher"):
            set_password(ws.store, actor, ws.actor_key(actor), PASSWORD)
        change = ws.queries("steward").propose_budget_change(
            "population-register", "100", recipient="researcher", reason="load test"
        )
        for reviewer in ("counsel", "privacy-officer"):
            ws.queries(reviewer).decide_budget_change(change, True, "load test")
    return folder / "ws"


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _tokens(client: httpx.AsyncClient, actor: str, count: int) -> list[str]:
    """``count`` API tokens of ``actor``, made in one session (its Secure cookie is sent by
    hand: a client sends it over HTTPS only, and this is loopback HTTP)."""
    login = await client.post("/api/v1/session", json={"actor": actor, "password": PASSWORD})
    login.raise_for_status()
    headers = {
        "x-csrf-token": login.json()["csrf"],
        "cookie": f"custodes_session={login.cookies['custodes_session']}",
    }
    made = []
    for _ in range(count):
        answer = await client.post("/api/v1/tokens", json={"days": 1}, headers=headers)
        answer.raise_for_status()
        made.append(str(answer.json()["token"]))
    return made


async def _spent(client: httpx.AsyncClient, token: str) -> Fraction:
    answer = await client.get(
        "/api/v1/dp/population-register/budget",
        params={"exact": "true"},
        headers={"authorization": f"Bearer {token}"},
    )
    answer.raise_for_status()
    return Fraction(answer.json()["budgets"]["researcher"]["spent_rho"])


async def _alone(client: httpx.AsyncClient, tokens: dict[str, list[str]]) -> dict[str, float]:
    """Median latency of one user alone (no queue): 30 browses, 10 DP queries."""
    browse, query = [], []
    for i in range(30):
        t0 = time.perf_counter()
        answer = await client.get(
            ("/catalog", "/api/v1/catalog", "/datasets/population-register")[i % 3],
            headers={"authorization": f"Bearer {tokens['steward'][0]}"},
        )
        answer.raise_for_status()
        browse.append(time.perf_counter() - t0)
    for _ in range(10):
        t0 = time.perf_counter()
        answer = await client.post(
            "/api/v1/dp/query",
            json={"sql": SQL, "rho": f"{RHO}"},
            headers={"authorization": f"Bearer {tokens['researcher'][0]}"},
        )
        answer.raise_for_status()
        query.append(time.perf_counter() - t0)
    return {"browse": statistics.median(browse), "dp query": statistics.median(query)}


async def _run(base: str) -> dict[str, object]:
    timings: dict[str, list[float]] = {"browse": [], "dp query": []}
    errors: list[str] = []
    sent = 0
    limits = httpx.Limits(max_connections=USERS + 5)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as setup:
        tokens = {actor: await _tokens(setup, actor, USERS) for actor in ("steward", "researcher")}
        before = await _spent(setup, tokens["researcher"][0])
        alone = await _alone(setup, tokens)
    started = time.perf_counter()

    async def user(index: int) -> None:
        nonlocal sent
        researcher = index % 3 == 0
        token = tokens["researcher" if researcher else "steward"][index]
        headers = {"authorization": f"Bearer {token}"}
        pages = ("/catalog", "/api/v1/catalog", "/datasets/population-register")
        async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:
            step = 0
            while time.perf_counter() - started < SECONDS and sent < MAX_REQUESTS:
                sent += 1
                t0 = time.perf_counter()
                if researcher:
                    kind = "dp query"
                    answer = await client.post(
                        "/api/v1/dp/query", json={"sql": SQL, "rho": f"{RHO}"}
                    )
                else:
                    kind = "browse"
                    answer = await client.get(pages[step % len(pages)])
                step += 1
                elapsed = time.perf_counter() - t0
                if answer.status_code != 200:
                    errors.append(f"{kind} {answer.status_code} {answer.text[:120]}")
                else:
                    timings[kind].append(elapsed)

    await asyncio.gather(*(user(i) for i in range(USERS)))
    duration = time.perf_counter() - started
    async with httpx.AsyncClient(base_url=base, timeout=60) as check:
        after = await _spent(check, tokens["researcher"][0])
    answered = len(timings["dp query"])
    return {
        "timings": timings,
        "errors": errors,
        "duration": duration,
        "budget_exact": after - before == (answered + 10) * RHO,  # with the 10 alone
        "alone": alone,
        "spent": after - before,
        "answered": answered,
    }


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "—"
    ordered = sorted(values)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f}"


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="custodes-bench-server-"))
    try:
        workspace = _office(folder)
        port = _port()
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        server = subprocess.Popen(
            [sys.executable, "-c", "import sys; from custodes.cli import main; sys.exit(main())",
             "serve", "--workspace", str(workspace), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/login", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            result = asyncio.run(_run(base))
        finally:
            server.terminate()
            server.wait(10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _write(result)


def _write(result: dict[str, object]) -> None:
    timings: dict[str, list[float]] = result["timings"]  # type: ignore[assignment]
    errors: list[str] = result["errors"]  # type: ignore[assignment]
    duration = float(result["duration"])  # type: ignore[arg-type]
    alone: dict[str, float] = result["alone"]  # type: ignore[assignment]
    total = sum(len(v) for v in timings.values())
    rows = [
        f"| {kind} | {len(v):,} | {len(v) / duration:.1f} | {_ms(v, 0.5)} | {_ms(v, 0.95)} | "
        f"{_ms(v, 0.99)} | {1000 * statistics.mean(v) if v else 0:.0f} |"
        for kind, v in timings.items()
    ]
    lines = [
        "# Server load: 50 users on loopback",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"`custodes serve` (uvicorn, one process) over a demo workspace of {ROWS:,} "
        f"synthetic residents; {USERS} concurrent users for {SECONDS:.0f} s (each with its "
        "own API token): two thirds browse (the catalog page, the catalog API, a dataset "
        "page, in turn), one third ask DP queries (COUNT by sex, rho 1/100,000 each). "
        "Latency in milliseconds, measured by the clients, queueing included.",
        "",
        "| requests | answered | per second | p50 | p95 | p99 | mean |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Requests answered: {total:,} in {duration:.1f} s; errors: {len(errors)}"
        + (f" (first: {errors[0]})" if errors else "")
        + ".",
        "",
        f"Budget exact: {result['budget_exact']} (the researcher's spent rho rose by "
        f"{result['spent']} = ({result['answered']:,} + 10 answered alone) x 1/100000).",
        "",
        "One user alone (no queue), median: "
        + ", ".join(f"{k} {1000 * v:.0f} ms" for k, v in alone.items())
        + f". With {USERS} users the latency is mostly the queue: 2 cores and one Python "
        "process serve about as many requests per second as one user's latency allows.",
        "",
        "Every library call is serialized by one lock (the store and the ledger see one "
        "writer, as from the command line), and each DP answer is a signed ledger entry "
        "and a budget update in one transaction: throughput is bounded by that, not by "
        "the HTTP layer. The latencies include waiting behind the other 49 users.",
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    if errors or not result["budget_exact"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
