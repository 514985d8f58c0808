"""Personal-data detection and data grading.

- :func:`scan`: which columns of a table hold identifiers or sensitive personal
  information, each column's suggested role, and the table's suggested grade.
- :data:`RECOGNIZERS`: the registry of recognizers (validated where a standard
  defines a check).
- :func:`redact_column`: mask identifier spans inside free text.

Every pass over a table's data is an engine operation
(:class:`custodes.engines._detect.DetectOps`); recognizers are data (a shape and a
validator over Arrow arrays), so the detector runs on any engine.
"""

from custodes.detect._classify import classify
from custodes.detect._gate import GATE_RECOGNIZERS, IdentifierHit, checked_identifiers
from custodes.detect._grading import (
    DEFAULT_POLICY,
    GRADES,
    SENSITIVE_CATEGORIES,
    Grade,
    GradingPolicy,
    grade,
    load_policy,
)
from custodes.detect._recognizers import RECOGNIZERS, Recognizer, recognizer
from custodes.detect._redact import SPAN_ENTITIES, identifier_spans, redact_column
from custodes.detect._scan import (
    ColumnScan,
    EntityMatch,
    ScanResult,
    read_scan_roles,
    scan,
    scan_table,
)
from custodes.detect._screen import hash_personal, header_judge, personal_data_in

__all__ = [
    "DEFAULT_POLICY",
    "GATE_RECOGNIZERS",
    "GRADES",
    "RECOGNIZERS",
    "SENSITIVE_CATEGORIES",
    "SPAN_ENTITIES",
    "ColumnScan",
    "EntityMatch",
    "Grade",
    "GradingPolicy",
    "IdentifierHit",
    "Recognizer",
    "ScanResult",
    "checked_identifiers",
    "classify",
    "grade",
    "hash_personal",
    "header_judge",
    "identifier_spans",
    "load_policy",
    "personal_data_in",
    "read_scan_roles",
    "recognizer",
    "redact_column",
    "scan",
    "scan_table",
]
