"""Generalization hierarchies: ARX's CSV format (one row per value, then its
generalizations up to ``*``)."""

from custodes.hierarchy._arx import Hierarchy, read_hierarchy

__all__ = ["Hierarchy", "read_hierarchy"]
