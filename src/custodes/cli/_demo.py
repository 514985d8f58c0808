"""``custodes demo``: the main job of custodes on a synthetic population register."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from custodes.cli._app import WorkspaceOpt, app, err, open_workspace, out
from custodes.cli._render import render_assessment, render_scan

__all__ = ["demo"]


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="People in the synthetic register.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = 20261130,
    workspace: WorkspaceOpt = None,
) -> None:
    """Generate a synthetic population register, assess it and write the HTML report."""
    from custodes.demo import run_demo

    ws = open_workspace(workspace)
    with err.status("generating and assessing the synthetic register..."):
        result = run_demo(ws, rows=rows, seed=seed)
    path = escape(str(result.data_path))
    out.print(f"[bold]Synthetic register[/bold]: {result.rows:,} people -> {path}")
    render_scan(result.scan, out)
    out.print(f"scan: {result.scan_path}", markup=False, highlight=False)
    for title, assessment in result.assessments:
        out.rule(title)
        render_assessment(assessment, out)
    release = result.release
    for line in (
        *release.summary_lines(),
        f"HTML report: {result.report_path}",
        f"release: {result.release_path} (manifest: {result.manifest_path})",
        f"governed release: request {result.governance['request']} approved by the board and "
        f"released to {result.governance['recipient']} ({result.governance['artifact']}); "
        f"charged {result.governance['charged']} under the approved fee standard",
        f"mosaic check (the file with everything its recipient already holds): "
        f"{result.governance['mosaic']}",
        "DP queries by the researcher (three answered, the fourth refused by the budget):\n"
        + result.governance["dp_queries"],
        f"audit report: anomalies: {result.governance['anomalies']} "
        f"({result.governance['audit_report']}); disclosure: {result.governance['disclosure']}",
        f"witnessed head: the auditor countersigned the ledger's head of size "
        f"{result.witnessed_size:,} ({result.witnessed_path})",
        f"ledger: {result.ledger_entries:,} entries, exported to {result.ledger_path} and "
        f"verified offline (every step signed by its actor's own key, the keys in "
        f"{result.keyring}), consistent with the witnessed head of size "
        f"{result.witnessed_size:,}; root {result.ledger_root}",
        f"audit in the workspace (the store reconciled with the ledger): "
        f"{result.governance['audit_summary']}",
        f"audit from the export alone (no store): {result.offline_audit}",
        f"web interface: run `custodes serve` and open http://127.0.0.1:8000/ (logins of the "
        f"demo actors: {result.web_logins})",
    ):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
