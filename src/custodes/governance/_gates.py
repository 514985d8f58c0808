"""The policy's release gates: small pure rules over a frozen release candidate.

Each gate is a function ``(candidate) -> Refusal | None``; :data:`GATES` is the
registry, checked in order by :func:`check_gates`. What a gate needs from the
data (the risk after anonymization, the identifiers that pass their check
digits) is measured before, by :func:`candidate_of`, so the gates themselves
read nothing and can be tested with plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from custodes._files import StagedFile
from custodes.errors import RefusedError
from custodes.governance._policy import GovernancePolicy

__all__ = [
    "GATES",
    "CheckedIdentifier",
    "Refusal",
    "ReleaseCandidate",
    "candidate_of",
    "check_gates",
    "checked_identifiers_of",
]


@dataclass(frozen=True)
class CheckedIdentifier:
    """A column holding identifiers that pass their check digits (no value, ever)."""

    column: str
    position: int
    """The column's 1-based position in the file."""
    name_withheld: bool
    """Whether the column's name looks like personal data (then only its position is shown)."""
    entity: str
    cells: int


@dataclass(frozen=True)
class ReleaseCandidate:
    """A prepared file as the gates see it: its measures, its columns, the policy's bounds."""

    what: str
    """How messages name it ("the prepared file", "the release of request ...")."""
    sensitive: bool
    """The dataset holds sensitive personal information (stricter bounds)."""
    min_k: int
    max_highest_risk: float
    k_anonymity: int
    highest_risk: float
    columns: tuple[str, ...]
    """The columns of the file."""
    requested: tuple[str, ...]
    """The columns the request asked for."""
    identifying: tuple[str, ...]
    """The dataset's direct identifiers."""
    handled: tuple[str, ...]
    """Columns the plan masks, pseudonymizes, shifts or redacts (not removes)."""
    checked_identifiers: tuple[CheckedIdentifier, ...]


@dataclass(frozen=True)
class Refusal:
    """Why a gate refuses a candidate."""

    gate: str
    message: str


Gate = Callable[[ReleaseCandidate], Refusal | None]


def k_and_risk(c: ReleaseCandidate) -> Refusal | None:
    """k and the highest prosecutor risk within the policy's bounds for the data's kind."""
    if c.k_anonymity >= c.min_k and c.highest_risk <= c.max_highest_risk + 1e-12:
        return None
    kind = "with sensitive personal information " if c.sensitive else ""
    return Refusal(
        "k_and_risk",
        f"the prepared file fails the policy's gate for data {kind}(k >= {c.min_k}, highest "
        f"risk <= {c.max_highest_risk}): it has k = {c.k_anonymity} and highest risk "
        f"{c.highest_risk:.4f}; strengthen the plan.",
    )


def no_raw_identifiers(c: ReleaseCandidate) -> Refusal | None:
    """No direct identifier leaves as it was."""
    raw = sorted((set(c.identifying) & set(c.columns)) - set(c.handled))
    if not raw:
        return None
    return Refusal(
        "no_raw_identifiers",
        f"direct identifiers never leave unprocessed: {', '.join(raw)} would be released "
        "as they are; remove, mask or pseudonymize them in the plan.",
    )


def no_checked_identifiers(c: ReleaseCandidate) -> Refusal | None:
    """Defence in depth: no identifier that passes its check digits leaves, whatever roles
    the columns were given. Names the column (or its position) and the entity, never a value."""
    if not c.checked_identifiers:
        return None
    found = "; ".join(
        (f"column {h.position} (name withheld)" if h.name_withheld else f"column {h.column!r}")
        + f": {h.cells:,} cells with a {h.entity}"
        for h in c.checked_identifiers[:5]
    )
    return Refusal(
        "no_checked_identifiers",
        f"{c.what} holds identifiers that pass their check digits ({found}); nothing leaves "
        "with them: remove, mask, pseudonymize or redact those columns in the plan "
        "(redact = [...] for free text), and prepare again.",
    )


def only_requested_columns(c: ReleaseCandidate) -> Refusal | None:
    """Nothing the request did not ask for."""
    extra = sorted(set(c.columns) - set(c.requested))
    if not extra:
        return None
    return Refusal(
        "only_requested_columns",
        f"the prepared file has columns the request did not ask for: {', '.join(extra)}; "
        "remove them in the plan (identifying = [...]).",
    )


GATES: Mapping[str, Gate] = {
    "k_and_risk": k_and_risk,
    "no_raw_identifiers": no_raw_identifiers,
    "no_checked_identifiers": no_checked_identifiers,
    "only_requested_columns": only_requested_columns,
}
"""The release gates by name, in the order they are checked."""


def check_gates(candidate: ReleaseCandidate, gates: Sequence[str] | None = None) -> None:
    """Refuse (:class:`~custodes.errors.RefusedError`) at the first gate that refuses;
    ``gates`` picks some by name (default: all, in registry order)."""
    for name in GATES if gates is None else gates:
        refusal = GATES[name](candidate)
        if refusal is not None:
            raise RefusedError(refusal.message)


def checked_identifiers_of(table: Any) -> tuple[CheckedIdentifier, ...]:
    """The columns of ``table`` holding identifiers that pass their check digits."""
    from custodes.detect import checked_identifiers, personal_data_in

    hits = checked_identifiers(table)
    if not hits:
        return ()
    columns = list(table.columns)
    kinds = personal_data_in([h.column for h in hits])
    return tuple(
        CheckedIdentifier(
            column=h.column,
            position=columns.index(h.column) + 1,
            name_withheld=kind is not None,
            entity=h.entity,
            cells=h.cells,
        )
        for h, kind in zip(hits, kinds, strict=True)
    )


def written_table(staged: StagedFile) -> Any:
    """A staged file as written (the bytes that will leave), to be read back by the gate."""
    from custodes.io import WRITE_FORMATS, open_table

    fmt = WRITE_FORMATS.get(staged.target.suffix.lower(), "csv")
    return open_table(staged.temp, format=fmt, has_header=True)


def candidate_of(
    made: Any,
    *,
    written: StagedFile | None = None,
    policy: GovernancePolicy,
    roles: Mapping[str, Any],
    requested: Sequence[str],
    what: str = "the prepared file",
) -> ReleaseCandidate:
    """Measure an anonymization result (:class:`~custodes.anonymize.Anonymization`) for the
    gates: ``roles`` are the dataset's column roles, ``requested`` the request's columns.
    With ``written``, identifiers are sought in the file as written, not in the plan that
    made it: whatever went wrong on the way, what leaves is what is scanned."""
    from custodes.anonymize._identifiers import Remove

    sensitive = bool(roles.get("categories"))
    return ReleaseCandidate(
        what=what,
        sensitive=sensitive,
        min_k=policy.sensitive_min_k if sensitive else policy.min_k,
        max_highest_risk=(
            policy.sensitive_max_highest_risk if sensitive else policy.max_highest_risk
        ),
        k_anonymity=made.after.k_anonymity,
        highest_risk=made.after.prosecutor.highest_risk,
        columns=tuple(made.table.columns),
        requested=tuple(requested),
        identifying=tuple(roles.get("identifying", [])),
        handled=tuple(a.column for a in made.spec.actions() if not isinstance(a, Remove)),
        checked_identifiers=checked_identifiers_of(
            made.table if written is None else written_table(written)
        ),
    )
