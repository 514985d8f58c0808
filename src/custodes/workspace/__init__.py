"""The workspace: the one facade that wires custodes together for a deployment.

The CLI and the server are thin adapters over :class:`Workspace`; it owns one
store, one ledger and one engine, and hands the faces what they need
(``ws.governance(actor)``, ``ws.queries(actor)``, ``ws.ledger``,
``ws.assess(...)``, ``ws.anonymize(...)``, ``ws.scan(...)``).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from custodes.workspace._roles import ScanRoles, identifiers_from_scan, roles_from_scan
from custodes.workspace._workspace import (
    Roles,
    TableLike,
    Workspace,
    anonymize,
    assess,
    open_table,
    read_table,
    scan,
)

if _TYPE_CHECKING:  # creating a workspace loads the store (SQLAlchemy, Alembic): on first use
    from custodes.workspace._create import InitResult, init_workspace

__all__ = [
    "InitResult",
    "Roles",
    "ScanRoles",
    "TableLike",
    "Workspace",
    "anonymize",
    "assess",
    "identifiers_from_scan",
    "init_workspace",
    "open_table",
    "read_table",
    "roles_from_scan",
    "scan",
]


def __getattr__(name: str) -> _Any:
    """``InitResult`` and ``init_workspace``, imported on first use."""
    if name in ("InitResult", "init_workspace"):
        from custodes.workspace import _create

        return getattr(_create, name)
    raise AttributeError(f"module 'custodes.workspace' has no attribute {name!r}")
