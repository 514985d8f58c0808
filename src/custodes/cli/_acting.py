"""What the governance commands share: who acts, in which workspace, and JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from custodes.cli._app import out
from custodes.cli._render import write_text
from custodes.errors import SettingError
from custodes.settings import load_settings
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.dp import PrivateQueries
    from custodes.governance import Governance

__all__ = [
    "AsOpt",
    "KeyOpt",
    "ReasonOpt",
    "RoleOpt",
    "WsOpt",
    "governed",
    "queried",
    "roles",
    "show",
]

T = TypeVar("T")

AsOpt = Annotated[
    str | None,
    typer.Option("--as", help="Act as this registered actor (else the actor setting)."),
]
_KEY: list[Path] = []  # the --key of the command being run


def _remember_key(value: Path | None) -> Path | None:
    _KEY.clear()
    if value is not None:
        _KEY.append(value)
    return value


KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="The acting actor's private key file (else the key setting, $CUSTODES_KEY, else "
        "the actor's key in the keyring). Only this key proves who acts.",
        callback=_remember_key,
    ),
]
WsOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", help="Workspace folder (else $CUSTODES_WORKSPACE, else ./.custodes)."
    ),
]
RoleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "--role",
        help="Correct a column's role: COLUMN=ROLE (identifying, quasi_identifying, sensitive, "
        "insensitive or redact); repeat for more columns.",
    ),
]
ReasonOpt = Annotated[
    str | None, typer.Option(help="Why the roles are corrected (recorded as a hash).")
]


def _acting(
    workspace: Path | None, actor: str | None, default: str | None = None, **more: str | None
) -> tuple[Workspace, str]:
    overrides = {"key": str(_KEY[0])} if _KEY else {}
    overrides |= {name: value for name, value in more.items() if value is not None}
    settings = load_settings(workspace, overrides or None)
    who = actor or settings.actor or default
    if not who:
        raise SettingError("say who acts: --as NAME, or the actor setting.")
    ws = Workspace(settings)
    ws.passphrase = _ask_passphrase
    return ws, who


def _ask_passphrase(path: Path) -> str | None:
    """$CUSTODES_KEY_PASSPHRASE, else asked for at a terminal (None: not encrypted, or no
    one to ask)."""
    import os
    import sys

    given = os.environ.get("CUSTODES_KEY_PASSPHRASE")
    if given is not None or not sys.stdin.isatty():
        return given
    try:
        if not path.read_bytes().lstrip().startswith(b"{"):
            return None
    except OSError:
        return None
    return str(typer.prompt(f"passphrase of {path}", hide_input=True))


def governed(
    workspace: Path | None,
    actor: str | None,
    job: Callable[[Governance], T],
    *,
    default: str | None = None,
) -> T:
    """Run ``job`` with the workspace's governance, acting as ``actor`` (else the setting,
    else ``default``); the workspace is closed after."""
    ws, who = _acting(workspace, actor, default)
    with ws:
        return job(ws.governance(who))


def queried(workspace: Path | None, actor: str | None, job: Callable[[PrivateQueries], T]) -> T:
    """Run ``job`` with the workspace's DP queries, asked by ``actor``."""
    ws, who = _acting(workspace, actor)
    with ws:
        return job(ws.queries(who))


def show(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    write_text(out, json.dumps(value, indent=2, ensure_ascii=False))


def roles(pairs: list[str] | None) -> dict[str, str] | None:
    """Role corrections from ``--set COLUMN=ROLE`` flags (None when none)."""
    from custodes.governance import parse_role_pairs

    return parse_role_pairs(pairs or [], "--set") or None
