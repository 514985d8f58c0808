"""Names compared as people read them: one recipient, however its name is spelled."""

from __future__ import annotations

import unicodedata

__all__ = ["canonical_name"]


def canonical_name(name: str) -> str:
    """``name`` in NFKC, case-folded, with runs of white space as one space and none at the
    ends: "University X", "university x " and the same in full-width letters are one
    name."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())
