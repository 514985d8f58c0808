"""The governance policy: review quorum, board roles, release gates by grade.

A department edits it as TOML (the ``governance_policy`` setting); the
defaults below are documented in the README. Thresholds are decimals written
as strings or numbers; the release gates are checked on the risk assessment
of the prepared release.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from custodes._files import read_toml
from custodes.errors import SettingError

__all__ = [
    "BOARD_ROLES",
    "DEFAULT_GOVERNANCE",
    "PURPOSES",
    "ROLES",
    "SHARING_MODELS",
    "GovernancePolicy",
    "load_governance_policy",
]

ROLES = ("admin", "steward", "requester", "reviewer", "pricing_authority", "auditor")
BOARD_ROLES = ("legal", "privacy_technical", "leadership")
PURPOSES = ("public_governance", "public_welfare", "research", "commercial")
FREE_PURPOSES = ("public_governance", "public_welfare")
SHARING_MODELS = ("open_publication", "file_under_agreement", "dp_query", "enclave")


@dataclass(frozen=True)
class GovernancePolicy:
    """What a release needs, by the dataset's grade."""

    quorum: int = 2
    """Approvals a request needs."""
    board_roles: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "general": ("privacy_technical",),
            "important": ("legal", "privacy_technical", "leadership"),
            "core": ("legal", "privacy_technical", "leadership"),
        }
    )
    """Board roles the approvers must cover, by grade."""
    sharing: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "general": SHARING_MODELS,
            "important": ("dp_query", "enclave"),
            "core": (),
        }
    )
    """Sharing models allowed, by grade (core data: none, it is never released)."""
    min_k: int = 5
    max_highest_risk: float = 0.2
    sensitive_min_k: int = 10
    """For a dataset holding sensitive personal information."""
    sensitive_max_highest_risk: float = 0.1
    min_l: int = 2
    """The fewest sensitive values a release may leave a person in combination with what
    its recipient holds (the mosaic check); 2: nobody's value is pinned down."""
    monitoring_days: int = 90
    """Days after a release until its monitoring review is due."""
    # DP budget defaults (rho-zCDP), from published practice:
    # - the global ceiling of general data is rho 2.63, what the US Census Bureau spent on
    #   the whole 2020 Redistricting Data (P.L. 94-171) release (persons 2.56, housing units
    #   0.07; its production settings of June 2021); important data gets rho 1, well below it;
    # - a recipient of general data gets rho 1/4, about epsilon 4 at delta 1e-6: some 14
    #   queries at epsilon 1, the figure commonly used per research query (zCDP adds rho:
    #   epsilon 1 is rho ~0.0175); of important data rho 1/10, about 5 such queries;
    # - core data is never released: 0.
    dp_recipient_rho: Mapping[str, str] = field(
        default_factory=lambda: {"general": "1/4", "important": "1/10", "core": "0"}
    )
    """Default DP budget (rho-zCDP) of one recipient on one dataset, by grade."""
    dp_dataset_rho: Mapping[str, str] = field(
        default_factory=lambda: {"general": "2.63", "important": "1", "core": "0"}
    )
    """Default global DP ceiling (rho-zCDP) of a dataset over all recipients, by grade."""
    dp_delta: float = 1e-6
    """The delta of reported (epsilon, delta) figures and of DP partition selection."""
    source: str = "built-in defaults"

    def __post_init__(self) -> None:
        where = f"governance policy {self.source}"
        if self.quorum < 1:
            raise SettingError(f"{where}: quorum must be at least 1.")
        if self.min_l < 1:
            raise SettingError(f"{where}: min_l must be at least 1 (1: no l-rule).")
        for grade in ("general", "important", "core"):
            for role in self.board_roles.get(grade, ()):
                if role not in BOARD_ROLES:
                    raise SettingError(
                        f"{where}: board role {role!r} for {grade} data is not one of "
                        f"{', '.join(BOARD_ROLES)}."
                    )
            for model in self.sharing.get(grade, ()):
                if model not in SHARING_MODELS:
                    raise SettingError(
                        f"{where}: sharing model {model!r} for {grade} data is not one of "
                        f"{', '.join(SHARING_MODELS)}."
                    )
        if self.sharing.get("core"):
            raise SettingError(f"{where}: core data is never released; leave sharing.core empty.")
        for name in ("max_highest_risk", "sensitive_max_highest_risk"):
            if not 0 < getattr(self, name) <= 1:
                raise SettingError(f"{where}: {name} must be in (0, 1].")

    def approves(self, board_roles: Sequence[str], grade: str) -> bool:
        """Whether approvals by reviewers of these board roles (one per approval) meet the
        quorum and cover the board roles ``grade`` demands."""
        needed = set(self.board_roles.get(grade, ()))
        return len(board_roles) >= self.quorum and needed <= set(board_roles)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "source": self.source,
            "quorum": self.quorum,
            "board_roles": {k: list(v) for k, v in self.board_roles.items()},
            "sharing": {k: list(v) for k, v in self.sharing.items()},
            "min_k": self.min_k,
            "max_highest_risk": self.max_highest_risk,
            "sensitive_min_k": self.sensitive_min_k,
            "sensitive_max_highest_risk": self.sensitive_max_highest_risk,
            "min_l": self.min_l,
            "monitoring_days": self.monitoring_days,
            "dp_recipient_rho": dict(self.dp_recipient_rho),
            "dp_dataset_rho": dict(self.dp_dataset_rho),
            "dp_delta": self.dp_delta,
        }


DEFAULT_GOVERNANCE = GovernancePolicy()

_KEYS = {
    "quorum": int,
    "min_k": int,
    "max_highest_risk": float,
    "sensitive_min_k": int,
    "sensitive_max_highest_risk": float,
    "min_l": int,
    "monitoring_days": int,
    "dp_delta": float,
}


_ALL_KEYS = (*_KEYS, "board_roles", "sharing", "dp_recipient_rho", "dp_dataset_rho")


def load_governance_policy(path: str | os.PathLike[str]) -> GovernancePolicy:
    """Read a governance policy: a TOML file with a ``[governance]`` table."""
    data = read_toml(path, "governance policy")
    table = data.get("governance")
    if not isinstance(table, Mapping):
        raise SettingError(f"governance policy {path}: it needs a [governance] table.")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in _KEYS:
            try:
                values[key] = _KEYS[key](value)
            except (TypeError, ValueError):
                raise SettingError(
                    f"governance policy {path}: {key} is {value!r}; give a number."
                ) from None
        elif key in ("board_roles", "sharing") and isinstance(value, Mapping):
            given = {str(g): tuple(str(x) for x in v) for g, v in value.items()}
            values[key] = {**getattr(DEFAULT_GOVERNANCE, key), **given}
        elif key in ("dp_recipient_rho", "dp_dataset_rho") and isinstance(value, Mapping):
            given_rho = {str(g): str(v) for g, v in value.items()}
            values[key] = {**getattr(DEFAULT_GOVERNANCE, key), **given_rho}
        else:
            raise SettingError(
                f"governance policy {path}: unknown setting {key!r}; the settings are "
                f"{', '.join(sorted(_ALL_KEYS))}."
            )
    return GovernancePolicy(**values, source=str(path))
