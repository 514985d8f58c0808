"""The ``custodes`` command: parse input, call the workspace, render, map errors.

One module per command group; importing them registers their commands on
:data:`app`, in the order ``custodes --help`` lists them.
"""

from __future__ import annotations

import sys

# isort: off
from custodes.cli import (  # noqa: F401  (each registers its commands)
    _tables,
    _demo,
    _ledger,
    _catalog,
    _requests,
    _fees,
    _dp,
    _reports,
    _doctor,
    _serve,
)

# isort: on
from custodes.cli._app import app, err, main, out

__all__ = ["app", "err", "main", "out"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
