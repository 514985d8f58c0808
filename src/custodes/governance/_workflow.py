"""The workflow of a request as an explicit transition table.

Workflow (GB/T 37964, NIST SP 800-188): draft -> objectives_set ->
identifiers_identified -> processed -> under_review -> approved | rejected ->
released -> monitoring; revoked or expired at the end. A steward identifies and
prepares a request again (re-preparing) until it is submitted, and a reviewer
may send it back for changes, after which it is prepared again and reviewed in
a new round.

Each :class:`Step` names the states it starts from, the states it may lead to,
the roles that take it and the artifact it needs. :data:`TRANSITIONS` maps each
state to its allowed next states and the step of each; every state change goes
through :func:`check_move`, and a change that is not in the table is refused.
This module is pure: no store, no ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from custodes.errors import RefusedError

__all__ = [
    "STATES",
    "STEPS",
    "TRANSITIONS",
    "Step",
    "check_move",
    "check_step",
]

STATES = (
    "draft",
    "objectives_set",
    "identifiers_identified",
    "processed",
    "under_review",
    "sent_back",
    "approved",
    "rejected",
    "released",
    "monitoring",
    "revoked",
    "expired",
)
INITIAL = "draft"
"""The state a filed request starts in."""

_LIVE = ("released", "monitoring")


@dataclass(frozen=True)
class Step:
    """One step of the workflow: from which states, to which, by whom, needing what."""

    name: str
    """What the step is called in messages ("identifying", "release", ...)."""
    sources: tuple[str, ...]
    """The states the step starts from."""
    targets: tuple[str, ...]
    """The states it may lead to."""
    roles: tuple[str, ...]
    """The roles that take it (any one of them)."""
    needs: str
    """The artifact (or earlier step) it needs, as a message names it."""


STEPS: Mapping[str, Step] = MappingProxyType(
    {
        s.name: s
        for s in (
            Step("setting objectives", ("draft",), ("objectives_set",), ("requester",),
                 "a draft"),
            Step("identifying",
                 ("objectives_set", "identifiers_identified", "processed", "sent_back"),
                 ("identifiers_identified",), ("steward",), "its objectives set"),
            Step("processing", ("identifiers_identified", "processed", "sent_back"),
                 ("processed",), ("steward",), "identifiers identified"),
            Step("review", ("processed",), ("under_review",), ("requester", "steward"),
                 "processed, report attached"),
            Step("a decision", ("under_review",), ("approved", "rejected", "sent_back"),
                 ("reviewer",), "submitted for review"),
            Step("release", ("approved",), ("released",), ("steward",),
                 "approved by the board"),
            Step("monitoring", _LIVE, ("monitoring",), ("steward",), "released"),
            Step("revocation", _LIVE, ("revoked",), ("steward", "admin"), "released"),
            Step("expiry", _LIVE, ("expired",), ("steward", "admin"), "its term ended"),
            Step("charging", _LIVE, (), ("steward",), "released"),
        )
    }
)  # fmt: skip
"""Every step by name. Charging changes no state but needs a released request."""


def _table() -> Mapping[str, Mapping[str, Step]]:
    table: dict[str, dict[str, Step]] = {state: {} for state in STATES}
    for step in STEPS.values():
        for source in step.sources:
            for target in step.targets:
                if target in table[source]:  # one step per transition
                    raise AssertionError(f"{source} -> {target} twice in the workflow")
                table[source][target] = step
    return MappingProxyType({k: MappingProxyType(v) for k, v in table.items()})


TRANSITIONS: Mapping[str, Mapping[str, Step]] = _table()
"""State -> allowed next state -> the step that makes the change."""


def _shown(state: str) -> str:
    return state.replace("_", " ")


def check_step(request_id: str, state: str, step: str, missing: str | None = None) -> Step:
    """The step named ``step`` if a request in ``state`` may take it; refused otherwise,
    naming what it needs (``missing`` overrides the table's wording)."""
    found = STEPS[step]
    if state not in found.sources:
        raise RefusedError(
            f"request {request_id} is {_shown(state)}; {found.name} needs it "
            f"{' or '.join(_shown(a) for a in found.sources)} ({missing or found.needs})."
        )
    return found


def check_move(request_id: str, old: str, new: str) -> Step:
    """The step that moves a request from ``old`` to ``new``; refused when the table has
    no such transition."""
    step = TRANSITIONS.get(old, {}).get(new)
    if step is None:
        allowed = ", ".join(_shown(s) for s in TRANSITIONS.get(old, {})) or "none"
        raise RefusedError(
            f"request {request_id} is {_shown(old)} and cannot become {_shown(new)} "
            f"(the workflow allows: {allowed})."
        )
    return step
