"""Looking after the workspace: doctor, settings, version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from custodes._version import __version__
from custodes.cli._app import FormatOpt, OutputFormat, WorkspaceOpt, app, open_workspace, out
from custodes.settings import SETTINGS, load_settings

__all__ = ["doctor", "show_settings", "version"]


@app.command()
def doctor(
    folders: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Also look for stale temporary files here (where outputs and exports go).",
            show_default=False,
        ),
    ] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Remove the stale temporary files.")] = False,
    output_format: FormatOpt = OutputFormat.table,
    workspace: WorkspaceOpt = None,
) -> None:
    """List what killed or interrupted commands left behind; exit 1 when something needs care."""
    result = open_workspace(workspace).doctor(folders=folders or (), fix=fix)
    if output_format is OutputFormat.json:
        out.print(json.dumps(result.to_dict(), indent=2), markup=False, highlight=False)
    elif not result.findings:
        out.print(f"workspace {result.workspace}: healthy", markup=False, highlight=False)
    else:
        for f in result.findings:
            status = " (removed)" if f.fixed else ""
            line = f"{f.kind}{status}: {f.path}\n    {f.detail}"
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if not result.healthy:
        raise typer.Exit(1)


@app.command("settings")
def show_settings(workspace: WorkspaceOpt = None) -> None:
    """Show every setting, its value and where the value came from."""
    from rich.table import Table

    resolved = load_settings(workspace)
    t = Table("setting", "value", "source", "environment variable", "help")
    for s in SETTINGS:
        t.add_row(s.name, str(getattr(resolved, s.name)), resolved.sources[s.name], s.env, s.help)
    out.print(t)


@app.command()
def version(workspace: WorkspaceOpt = None) -> None:
    """Print the version of custodes."""
    out.print(f"custodes {__version__}")
