"""Data grading per GB/T 43697-2024: core, important or general data.

The rules live in a policy a department can edit (TOML, :func:`load_policy`);
:data:`DEFAULT_POLICY` documents the defaults. Every rule that fires adds a
reason, and the grade is the highest any rule reaches ("take the higher
level", 就高从严).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from custodes._files import read_toml
from custodes.errors import SettingError

__all__ = ["DEFAULT_POLICY", "GRADES", "Grade", "GradingPolicy", "grade", "load_policy"]

GradeLevel = Literal["general", "important", "core"]
GRADES: tuple[GradeLevel, ...] = ("general", "important", "core")

SENSITIVE_CATEGORIES = (
    "identity_document",
    "financial_account",
    "financial",
    "health",
    "biometric",
    "religion",
    "specific_identity",
    "whereabouts",
    "minors_under_14",
    "credentials",
)
"""Sensitive personal information categories (GB/T 35273-2020 Appendix B, PIPL Art. 28)."""


@dataclass(frozen=True)
class GradingPolicy:
    """When a table is important or core data."""

    important_people: int = 1_000_000
    """A table about more people than this is at least important data."""
    important_sensitive_people: int = 100_000
    """A table with sensitive information of more people than this is at least important."""
    important_categories: tuple[str, ...] = ()
    """Sensitive categories that make any table holding them important data."""
    core_categories: tuple[str, ...] = ()
    """Sensitive categories that make any table holding them core data."""
    core_people: int = 0
    """A table about more people than this is core data (0: no such rule)."""
    important_departments: int = 0
    """What one recipient holds is at least important data when it combines personal data
    of more departments than this (the mosaic check's holding; 0: no such rule)."""
    source: str = "built-in defaults"

    def __post_init__(self) -> None:
        for name in (
            "important_people",
            "important_sensitive_people",
            "core_people",
            "important_departments",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SettingError(
                    f"grading policy {self.source}: {name} is {value!r}; give a whole number "
                    "of people >= 0."
                )
        for name in ("important_categories", "core_categories"):
            for category in getattr(self, name):
                if category not in SENSITIVE_CATEGORIES:
                    raise SettingError(
                        f"grading policy {self.source}: {name} has {category!r}, which is not a "
                        f"category; use one of {', '.join(SENSITIVE_CATEGORIES)}."
                    )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (recorded in the scan)."""
        return {
            "source": self.source,
            "important_people": self.important_people,
            "important_sensitive_people": self.important_sensitive_people,
            "important_categories": list(self.important_categories),
            "core_categories": list(self.core_categories),
            "core_people": self.core_people,
            "important_departments": self.important_departments,
        }


DEFAULT_POLICY = GradingPolicy()


def load_policy(path: str | os.PathLike[str]) -> GradingPolicy:
    """Read a grading policy: a TOML file with a ``[grading]`` table of the fields above."""
    path = Path(path)
    data = read_toml(path, "grading policy")
    table = data.get("grading")
    if not isinstance(table, Mapping):
        raise SettingError(f"grading policy {path}: it needs a [grading] table.")
    known = set(GradingPolicy.__dataclass_fields__) - {"source"}
    for key in table:
        if key not in known:
            raise SettingError(
                f"grading policy {path}: unknown setting {key!r}; the settings are "
                f"{', '.join(sorted(known))}."
            )
    values: dict[str, Any] = dict(table)
    for key in ("important_categories", "core_categories"):
        if key in values:
            if not isinstance(values[key], list):
                raise SettingError(f"grading policy {path}: {key} must be a list of categories.")
            values[key] = tuple(values[key])
    return GradingPolicy(**values, source=str(path))


@dataclass(frozen=True)
class Grade:
    """The suggested grade and why."""

    level: GradeLevel
    reasons: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"level": self.level, "reasons": list(self.reasons)}


def grade(
    people: int,
    sensitive_people: int,
    categories: Sequence[str],
    policy: GradingPolicy = DEFAULT_POLICY,
    *,
    personal: bool = True,
) -> Grade:
    """Grade a table about ``people`` people, ``sensitive_people`` of them with
    sensitive information in ``categories``."""
    levels: list[tuple[GradeLevel, str]] = []
    found = sorted(set(categories))
    if not personal:
        levels.append(("general", "no personal information was found"))
    else:
        levels.append(("general", f"personal information of about {people:,} people"))
    if personal and policy.core_people and people > policy.core_people:
        levels.append(("core", f"covers about {people:,} people, over {policy.core_people:,}"))
    for category in found:
        if category in policy.core_categories:
            levels.append(("core", f"holds {category} information, core by policy"))
        elif category in policy.important_categories:
            levels.append(("important", f"holds {category} information, important by policy"))
    if personal and people > policy.important_people:
        levels.append(
            ("important", f"covers about {people:,} people, over {policy.important_people:,}")
        )
    if found and sensitive_people > policy.important_sensitive_people:
        levels.append(
            (
                "important",
                f"sensitive personal information ({', '.join(found)}) of about "
                f"{sensitive_people:,} people, over {policy.important_sensitive_people:,}",
            )
        )
    top = max(GRADES.index(level) for level, _ in levels)
    reasons = [f"{level}: {why}" for level, why in levels]
    if top > 0:
        reasons.append(f"the highest level any rule reaches applies: {GRADES[top]} (就高从严)")
    return Grade(GRADES[top], tuple(reasons))
