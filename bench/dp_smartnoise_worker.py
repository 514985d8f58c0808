"""Times smartnoise-sql (over an in-memory SQLite copy) on two grouped queries.

Run in its own environment (smartnoise-sql pins its own opendp and pandas)::

    .venv-smartnoise/bin/python bench/dp_smartnoise_worker.py TABLE.parquet --rho R \
        --repeats N [--max-seconds S]

TABLE needs the columns ``sex`` ("Male"/"Female"), ``age`` (integer-valued, may be stored as
text) and ``pid`` (one row per person, the privacy unit). Queries:

* "count by sex": ``SELECT sex, COUNT(*) ... GROUP BY sex``;
* "sum of age by sex": ``SELECT sex, SUM(age) ... GROUP BY sex``, age bounds [17, 90].

smartnoise-sql takes (epsilon, delta): each query gets epsilon = rho + 2·sqrt(rho·ln(1/delta))
with delta = 1e-6, the standard bound for converting rho-zCDP to (epsilon, delta)-DP, and uses
the Gaussian mechanism for counts and sums.

Prints one JSON object on standard output::

    {"library", "version", "rows", "rho", "epsilon", "delta", "load_s",
     "queries": {NAME: {"setup_s", "query_s", "query_s_runs", "repeats", "answers",
                        "noise_std", "sensitivity", "rho_implied", "privacy_cost", "mechanism"}},
     "notes": [...], and "skipped": reason when the time budget ran out}

``load_s`` (reading the Parquet file) is not part of ``setup_s``. ``setup_s`` (casting age,
copying the frame into SQLite, building the metadata and the reader) is timed once and shared
by both queries; ``query_s`` is the median over the repeats of ``reader.execute``.
``--max-seconds`` bounds the whole run: SQLite aborts the statement running when it is spent
(the copy or a query), no further repeat starts, and the JSON carries ``"skipped"``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import statistics
import sys
import time
from importlib.metadata import version
from typing import Any

import pandas as pd
import snsql
from snsql.sql._mechanisms.base import Mechanism
from snsql.sql.privacy import Stat

from dp_worker_common import AGE_BOUNDS, AGE_FILL, KEYS, epsilon_of
from dp_worker_common import parse_args as common_arguments

DELTA = 1e-6
TABLE = "main.adult"
QUERIES = {
    "count by sex": f"SELECT sex, COUNT(*) AS value FROM {TABLE} GROUP BY sex",
    "sum of age by sex": f"SELECT sex, SUM(age) AS value FROM {TABLE} GROUP BY sex",
}
SENSITIVITY = {"count by sex": 1, "sum of age by sex": max(abs(b) for b in AGE_BOUNDS)}
METADATA = {
    "Bench": {
        "main": {
            "adult": {
                "max_ids": 1,
                "censor_dims": False,  # the keys are public: no thresholding of rare groups
                "pid": {"type": "int", "private_id": True},
                "sex": {"type": "string"},
                "age": {
                    "type": "int",
                    "lower": AGE_BOUNDS[0],
                    "upper": AGE_BOUNDS[1],
                    "nullable": False,
                },
            }
        }
    }
}


class OutOfTimeError(Exception):
    """The --max-seconds budget ran out."""


class Deadline:
    """A wall-clock budget that SQLite checks while it runs a statement."""

    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.perf_counter() + seconds

    def passed(self) -> bool:
        return self.at is not None and time.perf_counter() > self.at

    def sqlite_progress(self) -> int:
        """SQLite progress handler: a non-zero return aborts the running statement."""
        return 1 if self.passed() else 0

    def check(self, stage: str) -> None:
        if self.passed():
            raise OutOfTimeError(f"time budget spent during {stage}")


def parse_args() -> argparse.Namespace:
    parser = common_arguments(__doc__.split("\n")[0], "time budget of the run")
    return parser.parse_args()


def gaussian_privacy(epsilon: float) -> snsql.Privacy:
    """Privacy parameters that make smartnoise use its Gaussian mechanism for counts and sums."""
    privacy = snsql.Privacy(epsilon=epsilon, delta=DELTA)
    for stat in (Stat.count, Stat.sum_int, Stat.sum_large_int, Stat.sum_float):
        privacy.mechanisms.map[stat] = Mechanism.gaussian
    return privacy


def run_sql(deadline: Deadline, stage: str, action: Any) -> Any:
    """Run ``action()``, turning an abort by the SQLite progress handler into OutOfTimeError."""
    try:
        return action()
    except (sqlite3.Error, pd.errors.DatabaseError):
        if deadline.passed():
            raise OutOfTimeError(f"time budget spent during {stage}") from None
        raise


def noise_scale(reader: Any, sql: str) -> tuple[float | None, str]:
    """The scale of the mechanism smartnoise applies to the aggregate of ``sql`` (private API)."""
    try:
        subquery, _ = reader._rewrite(sql)
        mechanisms = [m for m in reader._get_mechanisms(subquery) if m is not None]
        return float(mechanisms[0].scale), type(mechanisms[0]).__name__
    except (AttributeError, IndexError, TypeError, ValueError) as error:
        return None, f"unknown ({error})"


def answers_of(rows: list[Any]) -> dict[str, int | float | None]:
    """{key: released value} from execute's [header, (sex, value), ...]; None if key absent."""
    values = {row[0]: plain(row[1]) for row in rows[1:]}
    return {key: values.get(key) for key in KEYS}


def plain(value: Any) -> Any:
    """A numpy scalar as a plain Python number, which json can write; anything else as is."""
    return value.item() if hasattr(value, "item") else value


def measure(args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Fill ``out`` as the run goes, so that a run cut short still reports what it did."""
    deadline = Deadline(args.max_seconds)
    start = time.perf_counter()
    frame = pd.read_parquet(args.table, columns=["pid", "sex", "age"])
    out["load_s"] = time.perf_counter() - start
    out["rows"] = len(frame)
    deadline.check("loading")

    start = time.perf_counter()
    age = pd.to_numeric(frame["age"], errors="coerce").fillna(AGE_FILL)
    frame = frame.assign(age=age.astype("int64"), pid=frame["pid"].astype("int64"))
    conn = sqlite3.connect(":memory:")
    conn.set_progress_handler(deadline.sqlite_progress, 100_000)
    run_sql(deadline, "the copy into SQLite", lambda: frame.to_sql("adult", conn, index=False))
    reader = snsql.from_connection(
        conn, privacy=gaussian_privacy(out["epsilon"]), metadata=METADATA, engine="sqlite"
    )
    setup_s = time.perf_counter() - start

    for name, sql in QUERIES.items():
        scale, mechanism = noise_scale(reader, sql)
        sensitivity = SENSITIVITY[name]
        entry: dict[str, Any] = {
            "setup_s": setup_s,
            "noise_std": scale,
            "sensitivity": sensitivity,
            "rho_implied": None if scale is None else sensitivity**2 / (2 * scale**2),
            "privacy_cost": [float(x) for x in reader.get_privacy_cost(sql)],
            "mechanism": mechanism,
        }
        out["queries"][name] = entry
        runs: list[float] = []
        rows: list[Any] = []
        for _ in range(args.repeats):
            deadline.check(f"{name!r} after {len(runs)} repeats")
            start = time.perf_counter()
            rows = run_sql(deadline, repr(name), lambda sql=sql: reader.execute(sql))
            runs.append(time.perf_counter() - start)
            entry.update(
                query_s=statistics.median(runs),
                query_s_runs=runs,
                repeats=len(runs),
                answers=answers_of(rows),
            )


def main() -> None:
    args = parse_args()
    epsilon = epsilon_of(args.rho, DELTA)
    out: dict[str, Any] = {
        "library": "smartnoise-sql",
        "version": version("smartnoise-sql"),
        "rows": None,
        "rho": args.rho,
        "epsilon": epsilon,
        "delta": DELTA,
        "load_s": None,
        "queries": {},
        "notes": [
            f"(epsilon, delta) per query: epsilon = rho + 2·sqrt(rho·ln(1/delta)) = {epsilon:.6g} "
            f"at delta = {DELTA:g} (rho-zCDP => (epsilon, delta)-DP).",
            "Gaussian mechanism for counts and sums (Privacy.mechanisms.map overridden; the "
            "default is discrete Laplace). smartnoise finds its scale by binary search on OpenDP's "
            "exact zCDP-to-(epsilon, delta) conversion, which is tighter than the formula above, "
            "so noise_std is below sensitivity/sqrt(2·rho) and rho_implied "
            "(= sensitivity²/(2·noise_std²)) exceeds rho.",
            "noise_std is the mechanism's scale read through smartnoise's private API "
            "(reader._get_mechanisms); continuous Gaussian noise, the result rounded to int.",
            "Sensitivity: 1 for the count, max(|17|, |90|) = 90 for the sum (clamp then sum, "
            "add/remove one person).",
            "Privacy unit pid with max_ids=1: the rewritten SQL keeps one random row per pid "
            "(ROW_NUMBER() OVER (PARTITION BY pid ORDER BY RANDOM())), which dominates query_s.",
            "Keys: smartnoise cannot be given a public key set; censor_dims=False releases the "
            "groups found in the data without thresholding (DP only because the keys are "
            "public). A key absent from the data would be missing rather than noisy.",
            "privacy_cost is reader.get_privacy_cost: its delta adds the odometer's slack "
            "(delta/2) to the mechanism's delta.",
            f"setup_s = casting age to int (missing -> {AGE_FILL}) + pandas.to_sql into an "
            "in-memory SQLite database + building the reader, shared by both queries; load_s "
            "(reading the Parquet file) is not included.",
        ],
    }
    # Only the JSON goes to standard output; anything a library prints goes to standard error.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            measure(args, out)
        except OutOfTimeError as error:
            out["skipped"] = f"{error} (--max-seconds {args.max_seconds:g})"
            for name in QUERIES:
                if "query_s" not in out["queries"].get(name, {}):
                    out["queries"][name] = {"skipped": out["skipped"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
