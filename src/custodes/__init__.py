"""custodes: share, sell or publish public data without leaking privacy.

The public surface is listed in ``__all__``; everything else is internal.
"""

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
)
from custodes.engines import Engine, get_engine
from custodes.errors import (
    ColumnRoleError,
    CustodesError,
    DataFileError,
    EncodingError,
    InternalError,
    InvalidInputError,
    MalformedTableError,
    SettingError,
    UnknownColumnError,
    UnsupportedError,
)
from custodes.hierarchy import Hierarchy, read_hierarchy
from custodes.io import TableSource
from custodes.risk import Assessment, PopulationRisk
from custodes.settings import Settings, load_settings
from custodes.summary import Summary
from custodes.workspace import Roles, Workspace, anonymize, assess, read_table, scan

__all__ = [
    "Anonymization",
    "AnonymizationSpec",
    "Assessment",
    "AverageRisk",
    "ColumnRoleError",
    "CustodesError",
    "DataFileError",
    "DistinctLDiversity",
    "EncodingError",
    "Engine",
    "EntropyLDiversity",
    "Hierarchy",
    "InternalError",
    "InvalidInputError",
    "KAnonymity",
    "MalformedTableError",
    "PopulationRisk",
    "PopulationUniqueness",
    "RecursiveCLDiversity",
    "Roles",
    "ScanResult",
    "SettingError",
    "Settings",
    "Summary",
    "TCloseness",
    "TableSource",
    "UnknownColumnError",
    "UnsupportedError",
    "Workspace",
    "__version__",
    "anonymize",
    "assess",
    "get_engine",
    "load_settings",
    "read_hierarchy",
    "read_table",
    "scan",
]


def __getattr__(name: str) -> _Any:
    """``custodes.ScanResult``, imported on first use (detection loads registries)."""
    if name == "ScanResult":
        from custodes.detect import ScanResult

        return ScanResult
    raise AttributeError(f"module 'custodes' has no attribute {name!r}")
