"""The demo: the main job of custodes on a synthetic population register.

Generates a register of realistic (entirely synthetic) Chinese residents,
writes it as a GB18030-encoded CSV as many government systems export it,
reads it back through :mod:`custodes.io` (encoding and delimiter detected) and
assesses its re-identification risk, writing the HTML report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from custodes._files import write_atomic
from custodes.report import render_assessment_html
from custodes.risk import Assessment
from custodes.synth import population_register
from custodes.workspace import Workspace

__all__ = ["DemoResult", "run_demo"]

IDENTIFYING = ("resident_id", "name", "phone", "address")
QUASI_IDENTIFIERS = ("sex", "birth_date", "region_code")
SENSITIVE = ("diagnosis", "benefit_type")


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    rows: int
    data_path: Path
    report_path: Path
    assessments: tuple[tuple[str, Assessment], ...]


def run_demo(workspace: Workspace, *, rows: int = 100_000, seed: int = 20261130) -> DemoResult:
    """Generate the register, assess it, and write the data and report to the workspace."""
    folder = workspace.path / "demo"
    register = population_register(rows, seed=seed)
    data_path = folder / "register.csv"
    text = register.write_csv(separator=",")
    write_atomic(data_path, text.encode("gb18030"))

    full = workspace.assess(
        data_path,
        quasi_identifiers=QUASI_IDENTIFIERS,
        sensitive=SENSITIVE,
        identifying=IDENTIFYING,
    )
    report = render_assessment_html(
        full.to_dict(),
        title="Population register: re-identification risk",
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    report_path = write_atomic(folder / "report.html", report)
    return DemoResult(
        rows=rows,
        data_path=data_path,
        report_path=report_path,
        assessments=(("register, quasi-identifiers: sex, birth date, county", full),),
    )
