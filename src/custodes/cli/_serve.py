"""``custodes serve`` (the web interface and the API) and ``custodes account`` (its logins)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from custodes.cli._acting import AsOpt, KeyOpt, WsOpt, _acting
from custodes.cli._app import app, err, out
from custodes.errors import SettingError

__all__ = ["account_app", "serve"]

account_app = typer.Typer(
    help="Web logins: a password that unlocks an actor's own key for its sessions.",
    no_args_is_help=True,
)
app.add_typer(account_app, name="account")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port.", min=1, max=65535)] = 8000,
    insecure_cookies: Annotated[
        bool,
        typer.Option(
            "--insecure-cookies",
            help="Send the session cookie over plain HTTP to hosts other than localhost "
            "(only behind a TLS proxy that strips it; never on an open network).",
        ),
    ] = False,
    workspace: WsOpt = None,
) -> None:
    """Serve the web interface and the JSON API (OpenAPI at /api/openapi.json)."""
    import logging

    import uvicorn

    from custodes.server import create_app
    from custodes.settings import load_settings

    settings = load_settings(workspace)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    application = create_app(settings, secure_cookies=not insecure_cookies)
    err.print(
        f"custodes: http://{host}:{port}/ (workspace {settings.workspace}); Ctrl-C stops",
        markup=False,
        highlight=False,
    )
    # uvicorn's own access log prints query strings, which may hold values: ours does not.
    uvicorn.run(application, host=host, port=port, access_log=False, log_level="warning")


def _password(password_file: Path | None) -> str:
    """The new password: from a file, else $CUSTODES_WEB_PASSWORD, else asked twice."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingError(f"{password_file}: cannot read the password ({exc}).") from None
    given = os.environ.get("CUSTODES_WEB_PASSWORD")
    if given is not None:
        return given
    import sys

    if not sys.stdin.isatty():
        raise SettingError(
            "no password given: use --password-file FILE or $CUSTODES_WEB_PASSWORD (no terminal "
            "to ask at)."
        )
    return str(typer.prompt("new web password", hide_input=True, confirmation_prompt=True))


@account_app.command("set")
def account_set(
    name: Annotated[str, typer.Argument(help="The registered actor who logs in.")],
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from this file (else $CUSTODES_WEB_PASSWORD, "
                     "else it is asked for)."),
    ] = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:  # fmt: skip
    """Set an actor's web password: the actor's own key (--key, else its keyring file) is
    sealed under it, so the server can sign only while the actor is logged in."""
    from custodes.server import set_password

    ws, who = _acting(workspace, name)
    with ws:
        set_password(ws.store, who, ws.actor_key(who), _password(password_file))
    out.print(f"web login of {who}: set", markup=False, highlight=False)


@account_app.command("list")
def account_list(as_: AsOpt = None, key: KeyOpt = None, workspace: WsOpt = None) -> None:
    """List the web logins (names and dates; no hash, no key)."""
    from custodes.cli._acting import show
    from custodes.server import accounts

    ws, _ = _acting(workspace, as_, default="-")
    with ws:
        show(accounts(ws.store))
