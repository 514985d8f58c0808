"""custodes: share, sell or publish public data without leaking privacy.

The public surface is listed in ``__all__``; everything else is internal.
"""

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
from custodes.io import TableSource, read_table
from custodes.risk import Assessment, PopulationRisk
from custodes.settings import Settings, load_settings
from custodes.summary import Summary
from custodes.workspace import Roles, Workspace, assess

__version__ = "0.1.0"

__all__ = [
    "Assessment",
    "ColumnRoleError",
    "CustodesError",
    "DataFileError",
    "EncodingError",
    "Engine",
    "Hierarchy",
    "InternalError",
    "InvalidInputError",
    "MalformedTableError",
    "PopulationRisk",
    "Roles",
    "SettingError",
    "Settings",
    "Summary",
    "TableSource",
    "UnknownColumnError",
    "UnsupportedError",
    "Workspace",
    "__version__",
    "assess",
    "get_engine",
    "load_settings",
    "read_hierarchy",
    "read_table",
]
