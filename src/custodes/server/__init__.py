"""``custodes serve``: the web interface and the JSON API over the workspace facade.

:func:`create_app` makes the FastAPI application; accounts (argon2id password
hashes and the actor's signing key sealed under the password) are managed with
:func:`set_password` (``custodes account set``).
"""

from custodes.server._accounts import MIN_PASSWORD, accounts, set_password
from custodes.server._app import create_app

__all__ = ["MIN_PASSWORD", "accounts", "create_app", "set_password"]
