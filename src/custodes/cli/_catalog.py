"""The actors and the catalog: actor add/list, catalog department/add/roles/list/show."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from custodes.cli._acting import AsOpt, KeyOpt, ReasonOpt, RoleOpt, WsOpt, governed, roles, show
from custodes.cli._app import app, out, split_names

__all__ = ["actor_app", "catalog_app"]


actor_app = typer.Typer(help="Actors: who may act, with which roles.", no_args_is_help=True)
catalog_app = typer.Typer(help="The catalog: departments and datasets.", no_args_is_help=True)
app.add_typer(actor_app, name="actor")
app.add_typer(catalog_app, name="catalog")

PublicKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="The actor's Ed25519 public key file (PEM, or base64 of its 32 bytes); the actor "
        "keeps the private key.",
    ),
]


@actor_app.command("add")
def actor_add(
    name: Annotated[str, typer.Argument(help="The actor's name.")],
    roles: Annotated[
        str,
        typer.Option(
            help="Comma-separated: admin, steward, requester, reviewer, pricing_authority, auditor."
        ),
    ],
    organisation: Annotated[str, typer.Option(help="The actor's organisation.")],
    credential: Annotated[
        str, typer.Option(help="Reference of the verified credential (not the credential).")
    ],
    board_role: Annotated[
        str | None,
        typer.Option(help="For reviewers: legal, privacy_technical or leadership."),
    ] = None,
    public_key: PublicKeyOpt = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Register an actor (an admin; the first actor of a workspace must be an admin) with
    its public key; without --public-key, a key pair is made and the private key written
    to the keyring (mode 0600) for the actor."""
    given = _public_hex(public_key)
    if given is None and key is not None and as_ in (None, name):  # the first admin's own
        from custodes.governance import key_hex
        from custodes.ledger import load_actor_key

        given = key_hex(load_actor_key(key, os.environ.get("CUSTODES_KEY_PASSPHRASE")))
    written = governed(
        workspace,
        as_,
        lambda g: g.add_actor(
            name,
            split_names(roles),
            organisation=organisation,
            credential=credential,
            board_role=board_role,
            public_key=given,
        ),
        # Without --as or the actor setting, the very first actor adds itself.
        default=name,
    )
    out.print(f"actor {name} added", markup=False, highlight=False)
    _key_written(name, written)


@actor_app.command("key")
def actor_key(
    name: Annotated[str, typer.Argument(help="The actor whose key is registered.")],
    public_key: PublicKeyOpt = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Register a new key for an actor (rotation, or after a revocation): an admin, or the
    actor itself with its current key. Without --public-key, a key pair is made."""
    given = _public_hex(public_key)
    written = governed(workspace, as_, lambda g: g.register_key(name, given), default=name)
    out.print(f"key of {name} registered", markup=False, highlight=False)
    _key_written(name, written)


@actor_app.command("revoke-key")
def actor_revoke_key(
    name: Annotated[str, typer.Argument(help="The actor whose key is revoked.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Revoke an actor's key (an admin, or the actor itself): it signs nothing from now on."""
    governed(workspace, as_, lambda g: g.revoke_key(name), default=name)
    out.print(f"key of {name} revoked", markup=False, highlight=False)


def _public_hex(path: Path | None) -> str | None:
    if path is None:
        return None
    from custodes.ledger import load_public_key, public_key_hex

    return public_key_hex(load_public_key(path))


def _key_written(name: str, path: Path | None) -> None:
    if path is not None:
        out.print(
            f"{name}'s private key written to {path} (mode 0600): give it to {name} alone; "
            "custodes keeps only the public key.",
            markup=False,
            highlight=False,
        )


@actor_app.command("list")
def actor_list(as_: AsOpt = None, key: KeyOpt = None, workspace: WsOpt = None) -> None:
    """List the actors and their roles."""
    show(governed(workspace, as_, lambda g: g.actors()))


@catalog_app.command("department")
def catalog_department(
    code: Annotated[str, typer.Argument(help="Short code, e.g. civil-affairs.")],
    name: Annotated[str, typer.Option(help="The department's name.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Add a department."""
    governed(workspace, as_, lambda g: g.add_department(code, name))
    out.print(f"department {code} added", markup=False, highlight=False)


@catalog_app.command("add")
def catalog_add(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    department: Annotated[str, typer.Option(help="Its department's code.")],
    system: Annotated[str, typer.Option(help="The data system it comes from.")],
    source: Annotated[Path, typer.Option(help="The data file.")],
    owner: Annotated[str | None, typer.Option(help="Its owner (default: you).")] = None,
    header: Annotated[
        bool | None,
        typer.Option(
            "--header/--no-header",
            help="Whether the CSV file's first line names the columns (default: detected; "
            "kept with the dataset for every later read).",
        ),
    ] = None,
    role: RoleOpt = None,
    reason: ReasonOpt = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Register a dataset, or a new version when its content changed (scanned and graded)."""
    registered = governed(
        workspace,
        as_,
        lambda g: g.register_dataset(
            name, department=department, system=system, source=source, owner=owner,
            has_header=header, roles=roles(role), reason=reason,
        ),
    )  # fmt: skip
    show(registered)


@catalog_app.command("roles")
def catalogroles(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    role: RoleOpt = None,
    reason: ReasonOpt = None,
    version: Annotated[int | None, typer.Option(help="The version (default: newest).")] = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Correct the column roles the scan suggested (a steward), with a written reason."""
    corrected = governed(
        workspace,
        as_,
        lambda g: g.correct_roles(name, roles(role) or {}, reason or "", version=version),
    )
    show(corrected)


@catalog_app.command("person-key")
def catalog_person_key(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    column: Annotated[
        str | None,
        typer.Argument(help="The column holding the person key (omit with --withdraw)."),
    ] = None,
    withdraw: Annotated[bool, typer.Option(help="Withdraw the person key.")] = False,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Declare the column that identifies a person (e.g. the resident ID) in every version
    of a dataset (a steward): the mosaic check links the records of datasets that declare
    one. Without one, a dataset's people are its source rows."""
    from custodes.errors import SettingError

    if (column is None) != withdraw:
        raise SettingError("name the person-key column, or give --withdraw (not both).")
    show(governed(workspace, as_, lambda g: g.declare_person_key(name, column)))


@catalog_app.command("list")
def catalog_list(as_: AsOpt = None, key: KeyOpt = None, workspace: WsOpt = None) -> None:
    """List every dataset version."""
    rows = governed(workspace, as_, lambda g: g.datasets())
    show(
        [{k: r[k] for k in ("name", "version", "department", "grade", "rows")} for r in rows],
    )


@catalog_app.command("show")
def catalog_show(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    version: Annotated[int | None, typer.Option(help="The version (default: newest).")] = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Show a dataset: source, schema, roles, grade and reasons, content hash."""
    show(governed(workspace, as_, lambda g: g.dataset(name, version)))
