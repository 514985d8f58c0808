"""The anonymization spec: frozen, validated against the table before any work, hashed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custodes._files import text_sha256
from custodes.anonymize._identifiers import IdentifierAction, Remove, ShiftDates
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import PrivacyModel, TCloseness
from custodes.anonymize._objectives import Objective
from custodes.errors import ColumnRoleError, SettingError, unknown_column
from custodes.hierarchy import Hierarchy

__all__ = ["AnonymizationSpec"]

_DONE = {  # an identifier action's past participle, for messages
    "remove": "removed",
    "mask": "masked",
    "pseudonymize": "pseudonymized",
    "shift dates": "date-shifted",
    "redact": "redacted",
}


@dataclass(frozen=True)
class AnonymizationSpec:
    """What to anonymize and to which policy.

    ``hierarchies`` gives every quasi-identifier's generalization hierarchy;
    ``models`` the privacy models the release must meet; up to
    ``suppression_limit`` (a fraction of the records) may be suppressed.
    ``identifying`` columns (direct identifiers) are removed from the release.
    """

    quasi_identifiers: tuple[str, ...]
    hierarchies: Mapping[str, Hierarchy | str]
    """A hierarchy per quasi-identifier, or a builder description such as
    ``interval:width=5`` built from the column's values when the data is read."""
    models: tuple[PrivacyModel, ...]
    suppression_limit: float = 0.0
    identifying: tuple[str, ...] = ()
    gs_factor: float = 0.5
    min_levels: Mapping[str, int] = field(default_factory=dict)
    max_levels: Mapping[str, int] = field(default_factory=dict)
    identifier_actions: tuple[IdentifierAction, ...] = ()
    """How to treat direct identifiers; an identifying column without one is removed."""
    microaggregation: Mapping[str, str] = field(default_factory=dict)
    """Numeric columns replaced by their class's mean, median or mode in the release."""
    objective: str = "loss"
    """What the global search minimises: loss, precision, discernibility, aecs or entropy."""
    method: str = "global"
    """'global' (one level per column, the optimum) or 'local' (Mondrian partitioning)."""
    linked_pseudonyms: bool = False
    """In a governed release, pseudonyms (and date shifts) made with the workspace's key,
    so releases can be joined (longitudinal research); by default each release has its
    own key and the mosaic check treats releases as unlinkable."""
    mosaic_safe: bool = False
    """In a governed release, search for the least-loss transformation whose combination
    with what the recipient holds meets the policy (not only refuse one that does not)."""

    def __post_init__(self) -> None:
        if not self.quasi_identifiers:
            raise SettingError(
                "the spec names no quasi-identifiers; list them (e.g. --qi age,sex)."
            )
        if not self.models:
            raise SettingError("the spec has no privacy model; give one, e.g. --k 5.")
        Objective(self.objective, LossMetric(self.gs_factor))  # validates both
        for column, function in self.microaggregation.items():
            if function not in ("mean", "median", "mode"):
                raise SettingError(
                    f"microaggregation of {column!r} is {function!r}; use mean, median or mode."
                )
            if column in self.quasi_identifiers or column in self.identifying:
                raise ColumnRoleError(
                    f"column {column!r} cannot be microaggregated: it is a quasi-identifier or "
                    "identifier; microaggregate other numeric columns."
                )
        if self.method not in ("global", "local"):
            raise SettingError(f"method is {self.method!r}; choose 'global' or 'local'.")
        if not 0.0 <= self.suppression_limit <= 1.0:
            raise SettingError(
                f"suppression is {self.suppression_limit}; give a fraction of the records in "
                "[0, 1], e.g. 0.02 for 2 %."
            )
        for name in self.quasi_identifiers:
            if name not in self.hierarchies:
                raise SettingError(
                    f"quasi-identifier {name!r} has no hierarchy; add --hierarchy {name}=FILE."
                )
        for name in [*self.min_levels, *self.max_levels]:
            if name not in self.quasi_identifiers:
                raise SettingError(f"a level limit is set for {name!r}, not a quasi-identifier.")
        overlap = set(self.quasi_identifiers) & set(self.identifying)
        if overlap:
            raise ColumnRoleError(
                f"column {sorted(overlap)[0]!r} is both quasi-identifying and identifying; "
                "give it one role."
            )
        columns = [a.column for a in self.identifier_actions]
        repeated = {c for c in columns if columns.count(c) > 1}
        if repeated:
            raise SettingError(
                f"column {sorted(repeated)[0]!r} has two identifier actions; give it one "
                "(remove, mask, pseudonymize, shift dates or redact)."
            )
        for action in self.identifier_actions:
            if action.column in self.quasi_identifiers:
                raise ColumnRoleError(
                    f"column {action.column!r} is a quasi-identifier and would also be "
                    f"{_DONE[str(action.describe()['action'])]}; generalize it or treat it as "
                    "an identifier."
                )
        for model in self.models:
            attribute = model.sensitive
            if attribute is not None and (
                attribute in self.identifying
                or attribute in self.microaggregation
                or attribute in columns
            ):
                raise ColumnRoleError(
                    f"column {attribute!r} is the sensitive attribute of {model.describe()} "
                    "and would be removed, masked or microaggregated in the release; give it "
                    "one role."
                )
            if model.sensitive is not None and model.sensitive in self.quasi_identifiers:
                raise ColumnRoleError(
                    f"column {model.sensitive!r} is a quasi-identifier and the sensitive "
                    f"attribute of {model.describe()}; give it one role."
                )

    def actions(self) -> tuple[IdentifierAction, ...]:
        """The action for every direct identifier (removal unless another is given)."""
        given = {a.column: a for a in self.identifier_actions}
        out: list[IdentifierAction] = [given.pop(c, Remove(c)) for c in self.identifying]
        return (*out, *given.values())

    @property
    def sensitive(self) -> tuple[str, ...]:
        """The sensitive attributes the models are about."""
        names = [m.sensitive for m in self.models if m.sensitive is not None]
        return tuple(dict.fromkeys(names))

    def validate(self, columns: Sequence[str], where: str) -> None:
        """Every column the spec names exists in the table."""
        extra = [a.column for a in self.identifier_actions] + list(self.microaggregation)
        extra += [a.person for a in self.identifier_actions if isinstance(a, ShiftDates)]
        for name in [*self.quasi_identifiers, *self.identifying, *self.sensitive, *extra]:
            if name not in columns:
                raise unknown_column(name, columns, where=where)

    def levels(self, heights: Sequence[int]) -> tuple[list[int], list[int]]:
        """The minimum and maximum level of each quasi-identifier."""
        lows = [self.min_levels.get(q, 0) for q in self.quasi_identifiers]
        highs = [
            self.max_levels.get(q, h) for q, h in zip(self.quasi_identifiers, heights, strict=True)
        ]
        return lows, highs

    def to_dict(self) -> dict[str, Any]:
        """The spec as recorded in the manifest: names, parameters and hierarchy hashes."""
        models = []
        for m in self.models:
            entry: dict[str, Any] = {"model": type(m).__name__, "description": m.describe()}
            entry.update(
                {
                    k: v
                    for k, v in vars(m).items()
                    if k != "hierarchy" and isinstance(v, str | int | float)
                }
            )
            if isinstance(m, TCloseness) and m.hierarchy is not None:
                entry["hierarchy_source"] = _absolute(m.hierarchy.source)
                entry["hierarchy_sha256"] = _hierarchy_hash(m.hierarchy)
            models.append(entry)
        return {
            "method": self.method,
            "objective": self.objective,
            "microaggregation": dict(self.microaggregation),
            "quasi_identifiers": list(self.quasi_identifiers),
            "identifying": list(self.identifying),
            "identifier_actions": [a.describe() for a in self.actions()],
            "models": models,
            "suppression_limit": self.suppression_limit,
            "gs_factor": self.gs_factor,
            "min_levels": dict(self.min_levels),
            "max_levels": dict(self.max_levels),
            # Recorded only when set: specs written before them keep their hashes.
            **({"linked_pseudonyms": True} if self.linked_pseudonyms else {}),
            **({"mosaic_safe": True} if self.mosaic_safe else {}),
            "hierarchies": {
                q: (
                    {"builder": h}
                    if isinstance(h, str)
                    else {"source": _absolute(h.source), "sha256": _hierarchy_hash(h)}
                )
                for q, h in self.hierarchies.items()
                if q in self.quasi_identifiers
            },
        }

    def sha256(self) -> str:
        """Hash of the canonical JSON of :meth:`to_dict` (what the ledger records)."""
        return text_sha256(json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")))


def _absolute(source: str) -> str:
    """A hierarchy file's absolute path (so a manifest works from any folder)."""
    path = Path(source)
    return str(path.resolve()) if path.is_file() else source


def hierarchy_hash(hierarchy: Hierarchy) -> str:
    """SHA-256 of a hierarchy's rows (recorded in manifests, checked on re-use)."""
    return _hierarchy_hash(hierarchy)


def _hierarchy_hash(hierarchy: Hierarchy) -> str:
    return text_sha256("\n".join(";".join(row) for row in hierarchy.rows))
