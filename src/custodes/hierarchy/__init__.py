"""Generalization hierarchies: ARX's CSV format (one row per value, then its
generalizations up to ``*``)."""

from custodes.hierarchy._arx import Hierarchy, read_hierarchy
from custodes.hierarchy._builders import (
    BUILDERS,
    build_hierarchy,
    date_hierarchy,
    interval_hierarchy,
    mapping_hierarchy,
    masking_hierarchy,
    prc_division_hierarchy,
)

__all__ = [
    "BUILDERS",
    "Hierarchy",
    "build_hierarchy",
    "date_hierarchy",
    "interval_hierarchy",
    "mapping_hierarchy",
    "masking_hierarchy",
    "prc_division_hierarchy",
    "read_hierarchy",
]
