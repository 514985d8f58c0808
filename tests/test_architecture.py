"""The architecture is a test: DESIGN.md's layers, no cycles, no Polars above the seam,
small modules."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "custodes"
ALLOWED_POLARS = ("engines", "io", "synth")
MAX_LINES = 600


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_the_import_contracts_hold() -> None:
    """The contracts of .importlinter (layers, forbidden imports, acyclic packages)."""
    exe = Path(sys.executable).with_name("lint-imports")
    command = str(exe) if exe.exists() else shutil.which("lint-imports")
    if command is None:  # pragma: no cover (make test installs it)
        pytest.fail("lint-imports is not installed; `make test` installs the dev extras")
    done = subprocess.run(
        [command, "--no-cache"],
        cwd=SRC.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_only_engines_io_and_synth_import_polars() -> None:
    """Also lazy imports inside functions, which the contract sees too, and string imports."""
    offenders = []
    for path in _modules():
        package = path.relative_to(SRC).parts[0]
        if package in ALLOWED_POLARS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "polars" or n.startswith("polars.") for n in names):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines; split its concepts"
