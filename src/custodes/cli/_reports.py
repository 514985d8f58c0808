"""The yearly reports: disclosure and audit report; a witness's countersigned head."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from custodes._files import write_atomic
from custodes.cli._acting import AsOpt, KeyOpt, WsOpt, _acting, governed
from custodes.cli._app import app, err, out
from custodes.cli._ledger import WitnessedOpt, audit_app
from custodes.cli._render import write_text
from custodes.errors import SettingError

__all__ = ["audit_report_command", "audit_witness", "disclosure"]

ReportFormat = Annotated[str, typer.Option("--format", help="Output format: json or html.")]
ReportOutput = Annotated[Path | None, typer.Option(help="Write the report to this file.")]


def _report(
    kind: str,
    year: int,
    output_format: str,
    output: Path | None,
    as_: str | None,
    workspace: Path | None,
    witnessed: list[Path] | None = None,
) -> None:
    from custodes.governance import audit_report, disclosure_report
    from custodes.ledger import load_witnessed

    if output_format not in ("json", "html"):
        raise SettingError(f"--format {output_format!r}: choose json or html.")
    if kind == "audit":
        heads = [load_witnessed(w) for w in witnessed or []]
        data = governed(workspace, as_, lambda g: audit_report(g, year, witnessed=heads))
    else:
        data = governed(workspace, as_, lambda g: disclosure_report(g, year))
    _write(data, kind, output_format, output)


def _write(data: dict[str, Any], kind: str, output_format: str, output: Path | None) -> None:
    from custodes.report import render_audit_html, render_disclosure_html

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
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Compute the report from this ledger export alone (custodes ledger export), "
            "verified first; no workspace needed.",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="With --ledger: the ledger's public key (keys/ledger.pub)."),
    ] = None,
    trusted_head: Annotated[
        Path | None,
        typer.Option(help="With --ledger: a signed head saved earlier the export must extend."),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="With --ledger: the governance policy (TOML) the invariants are checked "
            "against; default the built-in one."
        ),
    ] = None,
    witnessed: WitnessedOpt = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """The auditor's report: releases, revenue against standards, rejections, anomalies.

    In a workspace the ledger is replayed and every record reconciled with it; with
    --ledger and --public-key the same report comes from a verified export alone.
    """
    if ledger is None:
        if public_key is not None or trusted_head is not None or policy is not None:
            raise SettingError(
                "--public-key, --trusted-head and --policy go with --ledger EXPORT (a report "
                "from an export alone); give --ledger too, or leave them out."
            )
        _report("audit", year, output_format, output, as_, workspace, witnessed)
        return
    from custodes.governance import audit_report_from_export, load_governance_policy

    if public_key is None:
        raise SettingError(
            "--ledger needs --public-key KEY: the ledger's public key (the workspace's "
            "keys/ledger.pub), to verify the export before the report is computed from it."
        )
    if output_format not in ("json", "html"):
        raise SettingError(f"--format {output_format!r}: choose json or html.")
    from custodes.ledger import load_witnessed

    chosen = load_governance_policy(policy) if policy is not None else None
    heads = [load_witnessed(w) for w in witnessed or []]
    data = audit_report_from_export(
        ledger, public_key, year, policy=chosen, trusted_head=trusted_head, witnessed=heads
    )
    _write(data, "audit", output_format, output)


@audit_app.command("witness")
def audit_witness(
    output: Annotated[
        Path, typer.Option(help="Write the witnessed head (JSON) here; keep it outside the office.")
    ],
    witness_key: Annotated[
        Path | None,
        typer.Option(
            help="Countersign with this Ed25519 private key (PEM or a custodes encrypted key) "
            "that the witness keeps outside the office (default: the auditor's personal key)."
        ),
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(
            help="Countersign the signed head of this size (default: the newest, signed first "
            "when it covers fewer entries than the ledger holds)."
        ),
    ] = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Countersign a tree head as a witness (an auditor), keep it on the ledger and save it.

    Every later verification given the file (--witnessed), and every audit of the
    workspace, demands that the ledger still extends this head.
    """
    ws, who = _acting(workspace, as_)
    with ws:
        witnessed = ws.witness_head(who, witness_key, output, size=size)
    out.print(
        f"witnessed: {witnessed.describe()} (root {witnessed.head.root_hash.hex()}), kept on "
        f"the ledger and written to {output}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
