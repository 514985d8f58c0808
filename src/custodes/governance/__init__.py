"""Governance: the catalog, release requests and the review board, fee standards, reports.

Releasing data is only possible through an approved request, and charging
for it only under an approved fee standard; every step is a ledger event.
"""

from custodes.governance._policy import (
    BOARD_ROLES,
    DEFAULT_GOVERNANCE,
    PURPOSES,
    ROLES,
    SHARING_MODELS,
    GovernancePolicy,
    load_governance_policy,
)
from custodes.governance._reports import audit_report, disclosure_report
from custodes.governance._roles import COLUMN_ROLES, parse_role_pairs
from custodes.governance._service import STATES, UNITS, Governance, RequestView

__all__ = [
    "BOARD_ROLES",
    "COLUMN_ROLES",
    "DEFAULT_GOVERNANCE",
    "PURPOSES",
    "ROLES",
    "SHARING_MODELS",
    "STATES",
    "UNITS",
    "Governance",
    "GovernancePolicy",
    "RequestView",
    "audit_report",
    "disclosure_report",
    "load_governance_policy",
    "parse_role_pairs",
]
