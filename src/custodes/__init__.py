"""custodes: share, sell or publish public data without leaking privacy.

The public surface is listed in ``__all__``; everything else is internal.

- Tables: :func:`assess`, :func:`scan`, :func:`anonymize` (with default
  settings), or a :class:`Workspace`, the one facade of a deployment.
- Governance: ``Workspace(...).governance(actor)`` (a :class:`Governance`),
  the yearly :func:`audit_report` and :func:`disclosure_report`.
- Differential privacy: ``Workspace(...).queries(actor)`` (:class:`PrivateQueries`).
- The ledger: ``Workspace(...).ledger`` (a :class:`Ledger`), and
  :func:`verify_export`, the auditor's offline verifier.
- Errors: every class of :mod:`custodes.errors`, rooted at :class:`CustodesError`.

Governance, DP and scan results are imported on first use (they load
detection registries and OpenDP).
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from custodes._version import __version__
from custodes.anonymize import (
    Anonymization,
    AnonymizationSpec,
    AverageRisk,
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PopulationUniqueness,
    RecursiveCLDiversity,
    TCloseness,
    load_spec,
    spec_from_mapping,
)
from custodes.engines import Engine, get_engine
from custodes.errors import (
    ColumnRoleError,
    CustodesError,
    DataFileError,
    EncodingError,
    ForbiddenError,
    InternalError,
    InvalidInputError,
    MalformedTableError,
    RefusedError,
    SettingError,
    TamperedError,
    UnknownColumnError,
    UnsupportedError,
)
from custodes.hierarchy import Hierarchy, read_hierarchy
from custodes.io import TableSource
from custodes.risk import Assessment, PopulationRisk
from custodes.settings import Settings, load_settings
from custodes.summary import Summary
from custodes.workspace import (
    Roles,
    Workspace,
    anonymize,
    assess,
    open_table,
    read_table,
    scan,
)

if _TYPE_CHECKING:
    from custodes.detect import ScanResult
    from custodes.dp import Budget, PrivateQueries
    from custodes.governance import (
        Governance,
        GovernancePolicy,
        audit_report,
        disclosure_report,
        load_governance_policy,
    )
    from custodes.ledger import (
        Ledger,
        SignedHead,
        Verification,
        load_head,
        load_public_key,
        verify_export,
    )
    from custodes.release import ReleaseRecord
    from custodes.workspace import InitResult, init_workspace


__all__ = [
    "Anonymization",
    "AnonymizationSpec",
    "Assessment",
    "AverageRisk",
    "Budget",
    "ColumnRoleError",
    "CustodesError",
    "DataFileError",
    "DistinctLDiversity",
    "EncodingError",
    "Engine",
    "EntropyLDiversity",
    "ForbiddenError",
    "Governance",
    "GovernancePolicy",
    "Hierarchy",
    "InitResult",
    "InternalError",
    "InvalidInputError",
    "KAnonymity",
    "Ledger",
    "MalformedTableError",
    "PopulationRisk",
    "PopulationUniqueness",
    "PrivateQueries",
    "RecursiveCLDiversity",
    "RefusedError",
    "ReleaseRecord",
    "Roles",
    "ScanResult",
    "SettingError",
    "Settings",
    "SignedHead",
    "Summary",
    "TCloseness",
    "TableSource",
    "TamperedError",
    "UnknownColumnError",
    "UnsupportedError",
    "Verification",
    "Workspace",
    "__version__",
    "anonymize",
    "assess",
    "audit_report",
    "disclosure_report",
    "get_engine",
    "init_workspace",
    "load_governance_policy",
    "load_head",
    "load_public_key",
    "load_settings",
    "load_spec",
    "open_table",
    "read_hierarchy",
    "read_table",
    "scan",
    "spec_from_mapping",
    "verify_export",
]

_LAZY = {
    "ScanResult": "custodes.detect",
    "PrivateQueries": "custodes.dp",
    "Budget": "custodes.dp",
    "ReleaseRecord": "custodes.release",
    "Governance": "custodes.governance",
    "GovernancePolicy": "custodes.governance",
    "audit_report": "custodes.governance",
    "disclosure_report": "custodes.governance",
    "load_governance_policy": "custodes.governance",
    # The ledger and workspace creation load the store (SQLAlchemy, Alembic).
    "Ledger": "custodes.ledger",
    "SignedHead": "custodes.ledger",
    "Verification": "custodes.ledger",
    "load_head": "custodes.ledger",
    "load_public_key": "custodes.ledger",
    "verify_export": "custodes.ledger",
    "InitResult": "custodes.workspace",
    "init_workspace": "custodes.workspace",
}


def __getattr__(name: str) -> _Any:
    """The names of :data:`_LAZY`, imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'custodes' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
