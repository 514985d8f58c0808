"""The workspace and its ledger: init, ledger export/head/heads/prove/verify, audit verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from custodes._files import write_atomic
from custodes.cli._app import (
    FormatOpt,
    OutputFormat,
    OutputOpt,
    WorkspaceOpt,
    app,
    err,
    open_workspace,
    out,
)
from custodes.cli._render import write_text
from custodes.errors import SettingError, TamperedError
from custodes.settings import load_settings
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.ledger import Verification

__all__ = ["WitnessedOpt", "audit_app", "ledger_app"]

WitnessedOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--witnessed",
        help="A witnessed head file (custodes audit witness --output): the ledger must still "
        "extend it; repeat for more.",
    ),
]


@app.command()
def init(
    store: Annotated[
        str | None,
        typer.Option(
            help="Database URL (else the store_url setting, else SQLite in the workspace), "
            "e.g. postgresql+psycopg://user@host/db."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create the workspace: folder, store (migrated) and the ledger's signing key."""
    ws = Workspace(load_settings(workspace, {"store_url": store} if store else None))
    result = ws.init()
    verb = "created" if result.created else "already set up; checked and migrated"
    for line in (
        f"workspace {result.workspace}: {verb}",
        f"store: {result.store}",
        f"ledger signing key: {result.key_path} (fingerprint {result.fingerprint})",
        f"public key for auditors: {result.public_key_path}",
    ):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


ledger_app = typer.Typer(
    help="The verifiable ledger: export it, sign a tree head, prove an entry.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The auditor: verify a ledger export offline; the yearly audit report.",
    no_args_is_help=True,
)
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")


@ledger_app.command("export")
def ledger_export(
    output: Annotated[Path, typer.Option(help="The export file (JSON Lines).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Write every entry and signed head to a file an auditor can verify offline."""
    with open_workspace(workspace) as ws:
        size = ws.export_ledger(output)
    err.print(f"wrote {output} ({size:,} entries)", markup=False, highlight=False)


@ledger_app.command("head")
def ledger_head(
    output: Annotated[
        Path | None, typer.Option(help="Also save the head (JSON) here, e.g. to trust later.")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Sign a tree head for the ledger as it is now and print it."""
    with open_workspace(workspace) as ws:
        head = ws.sign_head()
    text = json.dumps(head.to_dict(), indent=2)
    if output is not None:
        write_atomic(output, text + "\n")
    write_text(out, text)


@ledger_app.command("heads")
def ledger_heads(
    witnessed: Annotated[
        bool,
        typer.Option("--witnessed", help="The witnessed heads the ledger keeps, for publication."),
    ] = False,
    output: OutputOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print every signed tree head, or with --witnessed every witnessed head, as JSON."""
    with open_workspace(workspace) as ws:
        heads = ws.witnessed_heads() if witnessed else ws.signed_heads()
    text = json.dumps([h.to_dict() for h in heads], indent=2)
    if output is not None:
        write_atomic(output, text + "\n")
        err.print(f"wrote {output} ({len(heads):,} heads)", markup=False, highlight=False)
    else:
        write_text(out, text)


@ledger_app.command("prove")
def ledger_prove(
    entry: Annotated[
        int | None, typer.Option(help="Prove that this entry is in the ledger.")
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(help="With --entry: the signed head's size (default: the newest)."),
    ] = None,
    from_size: Annotated[
        int | None,
        typer.Option(
            "--from", help="Prove that the signed head of this size is a prefix of a newer one."
        ),
    ] = None,
    to_size: Annotated[
        int | None, typer.Option("--to", help="With --from: the newer head's size.")
    ] = None,
    output: OutputOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print an inclusion proof (--entry) or a consistency proof (--from) as JSON."""
    if (entry is None) == (from_size is None):
        raise SettingError("give --entry N (inclusion) or --from SIZE (consistency).")
    if entry is not None and to_size is not None:
        raise SettingError("--to goes with --from; with --entry give --size.")
    if from_size is not None and size is not None:
        raise SettingError("--size goes with --entry; with --from give --to.")
    with open_workspace(workspace) as ws:
        if entry is not None:
            proof = ws.inclusion_proof(entry, size)
        else:
            assert from_size is not None
            proof = ws.consistency_proof(from_size, to_size)
    text = json.dumps(proof, indent=2, ensure_ascii=False)
    if output is not None:
        write_atomic(output, text + "\n")
        err.print(f"wrote {output}", markup=False, highlight=False)
    else:
        write_text(out, text)


@ledger_app.command("verify")
def ledger_verify(
    export: Annotated[
        Path | None,
        typer.Argument(help="A ledger export; without it, the workspace's own ledger."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The ledger's public key (needed with EXPORT; else the workspace's "
            "keys/ledger.pub)."
        ),
    ] = None,
    trusted_head: Annotated[
        Path | None,
        typer.Option(help="With EXPORT: a signed head saved earlier that it must extend."),
    ] = None,
    witnessed: WitnessedOpt = None,
    output_format: FormatOpt = OutputFormat.table,
    workspace: WorkspaceOpt = None,
) -> None:
    """Verify an export offline, or the workspace's ledger, demanding every witnessed head.

    Without EXPORT the workspace's ledger is exported and verified, and a consistency
    proof is demanded from every witnessed head it keeps and every --witnessed file to
    its newest head; any failure names the witnessed size (exit 3).
    """
    if export is not None:
        if public_key is None:
            raise SettingError(
                "give --public-key KEY with an EXPORT (the ledger's keys/ledger.pub)."
            )
        _print_verification(
            Workspace.verify_ledger(export, public_key, trusted_head, witnessed or []),
            output_format,
        )
        return
    if trusted_head is not None:
        raise SettingError("--trusted-head goes with an EXPORT; in a workspace give --witnessed.")
    with open_workspace(workspace) as ws:
        problems = ws.check_ledger(witnessed or [], public_key)
        if problems:
            raise TamperedError("; ".join(problems) + ".")
        kept = ws.witnessed_heads()
        newest = ws.signed_heads()[-1]  # the check signed one over every entry
    sizes = sorted({w.size for w in kept})
    given = len(witnessed or [])
    if output_format is OutputFormat.json:
        data = {
            "verified": True,
            "entries": newest.size,
            "newest_head": newest.to_dict(),
            "witnessed_head_sizes": sizes,
            "witnessed_files": given,
        }
        write_text(out, json.dumps(data, indent=2))
        return
    lines = [
        f"verified: the workspace's ledger, {newest.size:,} entries; newest signed head "
        f"root {newest.root_hash.hex()}",
        f"consistent with {len(kept):,} witnessed heads kept on the ledger"
        + (f" (sizes {', '.join(f'{n:,}' for n in sizes)})" if sizes else "")
        + (f" and {given:,} witnessed head files" if given else ""),
    ]
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@audit_app.command("verify")
def audit_verify(
    ledger: Annotated[
        Path, typer.Option("--ledger", help="A ledger export (custodes ledger export).")
    ],
    public_key: Annotated[
        Path, typer.Option(help="The ledger's public key (the workspace's keys/ledger.pub).")
    ],
    trusted_head: Annotated[
        Path | None,
        typer.Option(help="A signed head saved earlier: the ledger must extend it unchanged."),
    ] = None,
    witnessed: WitnessedOpt = None,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Recompute the whole Merkle tree, check every signed head and a trusted head; no database.

    Without --trusted-head the output says that the newest entries' removal cannot be
    ruled out, since the export's own final head is signed with the workspace key.
    """
    _print_verification(
        Workspace.verify_ledger(ledger, public_key, trusted_head, witnessed or []), output_format
    )


def _print_verification(result: Verification, output_format: OutputFormat) -> None:
    trusted = result.trusted_head
    if output_format is OutputFormat.json:
        write_text(out, json.dumps(result.to_dict(), indent=2))
        return
    newest = result.newest_head
    lines = [f"verified: {result.size:,} entries, {result.heads:,} signed heads"]
    if newest is not None:
        lines.append(f"newest signed head: size {newest.size:,}, root {newest.root_hash.hex()}")
    if trusted is not None:
        lines.append(f"consistent with the trusted head of size {trusted.size:,}")
    for w in result.witnessed:
        lines.append(f"consistent with {w.describe()}")
    if result.witnessed_in_export:
        lines.append(
            f"{result.witnessed_in_export:,} witnessed heads kept in the export: "
            "countersignatures and roots checked"
        )
    caveat = result.caveat()
    if caveat is not None:
        lines.append(caveat)
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
