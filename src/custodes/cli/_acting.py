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
    workspace: Path | None, actor: str | None, default: str | None = None
) -> tuple[Workspace, str]:
    settings = load_settings(workspace)
    who = actor or settings.actor or default
    if not who:
        raise SettingError("say who acts: --as NAME, or the actor setting.")
    return Workspace(settings), who


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
