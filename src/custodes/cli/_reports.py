"""The yearly reports: disclosure and audit report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from custodes._files import write_atomic
from custodes.cli._acting import AsOpt, KeyOpt, WsOpt, governed
from custodes.cli._app import app, err, out
from custodes.cli._ledger import audit_app
from custodes.cli._render import write_text
from custodes.errors import SettingError

__all__ = ["audit_report_command", "disclosure"]

ReportFormat = Annotated[str, typer.Option("--format", help="Output format: json or html.")]
ReportOutput = Annotated[Path | None, typer.Option(help="Write the report to this file.")]


def _report(
    kind: str,
    year: int,
    output_format: str,
    output: Path | None,
    as_: str | None,
    workspace: Path | None,
) -> None:
    from custodes.governance import audit_report, disclosure_report
    from custodes.report import render_audit_html, render_disclosure_html

    if output_format not in ("json", "html"):
        raise SettingError(f"--format {output_format!r}: choose json or html.")
    make = audit_report if kind == "audit" else disclosure_report
    data = governed(workspace, as_, lambda g: make(g, year))
    if output_format == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False)
    else:
        text = (render_audit_html if kind == "audit" else render_disclosure_html)(data)
    if output is None:
        write_text(out, text)
    else:
        write_atomic(output, text)
        err.print(f"wrote {output}", markup=False, highlight=False)


@app.command("disclosure")
def disclosure(
    year: Annotated[int, typer.Option(help="The year.")] = date.today().year,
    output_format: ReportFormat = "json",
    output: ReportOutput = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """The annual disclosure: authorisations, capped fee standards, products, fees charged."""
    _report("disclosure", year, output_format, output, as_, workspace)


@audit_app.command("report")
def audit_report_command(
    year: Annotated[int, typer.Option(help="The year.")] = date.today().year,
    output_format: ReportFormat = "json",
    output: ReportOutput = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """The auditor's report: releases, revenue against standards, rejections, anomalies."""
    _report("audit", year, output_format, output, as_, workspace)
