"""The peak memory of a fresh Python process: what the streaming tests compare."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["SMALL_READ_AHEAD", "peak_mib"]

SMALL_READ_AHEAD = {"POLARS_MAX_THREADS": "2", "POLARS_IDEAL_MORSEL_SIZE": "20000"}
"""A small read-ahead for the streaming tests: Polars reads some rows ahead of what it
works on whatever the table, so a table of a few million rows would be held whole anyway
(and more threads read further ahead)."""

_REPORT = """
import pathlib
for _line in pathlib.Path("/proc/self/status").read_text().splitlines():
    if _line.startswith("VmHWM:"):
        print("peak_kib", _line.split()[1])
"""


def peak_mib(code: str, *args: str, cwd: Path, env: Mapping[str, str] | None = None) -> float:
    """Run ``code`` (``sys.argv[1:]`` are ``args``) in a fresh interpreter, in ``cwd``
    with ``env`` added to the environment, and return that process's own peak resident
    memory in MiB.

    The peak is VmHWM, not ``ru_maxrss``: a child's ``ru_maxrss`` starts at what its
    parent (the test run, often larger than the child) held when it started the child.
    """
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("peak_kib "), done.stdout[-500:]
    return int(last.split()[1]) / 1024
