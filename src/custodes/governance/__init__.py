"""Governance: the catalog, release requests and the review board, fee standards, reports.

Releasing data is only possible through an approved request, and charging
for it only under an approved fee standard; every step is a ledger event.
"""

from custodes.governance._base import KeyLike, key_hex
from custodes.governance._gates import GATES, Refusal, ReleaseCandidate, check_gates
from custodes.governance._policy import (
    BOARD_ROLES,
    DEFAULT_GOVERNANCE,
    PURPOSES,
    ROLES,
    SHARING_MODELS,
    GovernancePolicy,
    load_governance_policy,
)
from custodes.governance._ports import Preparer, ReleaseBook
from custodes.governance._reports import (
    audit_report,
    audit_report_from_export,
    disclosure_report,
    published_disclosure,
)
from custodes.governance._roles import COLUMN_ROLES, parse_role_pairs
from custodes.governance._service import FULL_VIEW, STATES, UNITS, Governance
from custodes.governance._values import Objectives, RequestView, ReviewDecision
from custodes.governance._witness import record_witnessed_head
from custodes.governance._workflow import STEPS, TRANSITIONS, Step

__all__ = [
    "BOARD_ROLES",
    "COLUMN_ROLES",
    "DEFAULT_GOVERNANCE",
    "FULL_VIEW",
    "GATES",
    "PURPOSES",
    "ROLES",
    "SHARING_MODELS",
    "STATES",
    "STEPS",
    "TRANSITIONS",
    "UNITS",
    "Governance",
    "GovernancePolicy",
    "KeyLike",
    "Objectives",
    "Preparer",
    "Refusal",
    "ReleaseBook",
    "ReleaseCandidate",
    "RequestView",
    "ReviewDecision",
    "Step",
    "audit_report",
    "audit_report_from_export",
    "check_gates",
    "disclosure_report",
    "key_hex",
    "load_governance_policy",
    "parse_role_pairs",
    "published_disclosure",
    "record_witnessed_head",
]
