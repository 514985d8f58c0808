"""The chain of authority, checked offline from a ledger export.

The offline verifier (:func:`custodes.ledger.verify_export`) proves the
export is the workspace's signed log. This check proves that each entry was
made by whom it names, with the authority it needed, even against whoever
holds the workspace key: every governance entry must carry its actor's
signature, made with the key registered for that actor in an earlier entry
(``actor.added`` signed by an admin, the very first admin's by itself;
``actor.key_registered``; a key revoked by ``actor.key_revoked`` signs nothing
after), the actor must hold the role the step needs at that index, and every
approval must be made of distinct reviewers' own signed approve decisions in
the round, none of them the requester or a preparer.

An actor signs its chain (:func:`custodes.ledger.actor_chain`), which covers
every entry and signature it made before: the first pass checks only the last
signature of each actor's key, and only if one fails, a second pass
(:func:`with_authority`) checks every signature to name the first entry that
breaks the chain. Signatures are checked in parallel, in batches
(``cryptography`` releases the GIL).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custodes.errors import InternalError, TamperedError
from custodes.governance._workflow import STEPS, TRANSITIONS
from custodes.ledger import (
    CHAIN_START,
    Ledger,
    WitnessedHead,
    actor_chain,
    actor_message,
    check_ledger,
    legacy_actor_message,
)

__all__ = ["TOOL_EVENTS", "Authority", "ledger_problems", "with_authority"]

T = TypeVar("T")
Hook = Callable[[int, bytes, bytes, "bytes | None"], None]

TOOL_EVENTS = frozenset({"workspace.initialized", "scan.made", "anonymization.made"})
"""Records the tool makes for whoever runs it: no actor signs them."""

_ROLES: dict[str, tuple[str, ...]] = {
    "actor.added": ("admin",),
    "department.added": ("admin", "steward"),
    "dataset.registered": ("steward",),
    "dataset.roles_corrected": ("steward",),
    "dataset.person_key": ("steward",),
    "mosaic.checked": tuple(dict.fromkeys((*STEPS["processing"].roles, *STEPS["release"].roles))),
    "request.filed": ("requester",),
    "request.decided": STEPS["a decision"].roles,
    "fee_standard.proposed": ("steward",),
    "fee_standard.approved": ("pricing_authority",),
    "revenue_limit.set": ("pricing_authority",),
    "fee.charged": STEPS["charging"].roles,
    "dp.configured": ("steward",),
    "dp.budget_set": ("steward", "admin"),
    "dp.budget_change.proposed": ("steward",),
    "dp.budget_change.decided": ("reviewer",),
    "dp.budget_change.rejected": ("reviewer",),
    "dp.budget_change.approved": ("reviewer",),
    "dp.query_answered": ("requester",),
    "head.witnessed": ("auditor",),
}
"""The roles an event's actor needs (request moves: the workflow table's step; key
registration and revocation: the actor itself, or an admin). Any other event an actor
signs is not a step custodes makes."""

_KEY_EVENTS = frozenset({"actor.key_registered", "actor.key_revoked"})

_BATCH = 2048


_Signed = tuple[int, Ed25519PublicKey, bytes, bytes, bytes]  # index, key, signature, chain, leaf


def _check(batch: list[_Signed], strict: bool) -> int | None:
    """The first entry of ``batch`` whose actor signature fails, or None. Strictly (one
    entry at a time), a signature of the leaf alone (before the chain) passes too."""
    for index, key, signature, chain, leaf in batch:
        try:
            key.verify(signature, actor_message(chain))
        except InvalidSignature:
            try:
                if not strict:
                    raise
                key.verify(signature, legacy_actor_message(leaf))
            except InvalidSignature:
                return index
    return None


class _ChainBrokenError(Exception):
    """The last signature of an actor's key fails: every entry is checked next."""


def _always(_: object) -> bool:
    return True


def with_authority(run: Callable[[Hook], T], complete: Callable[[T], bool] = _always) -> T:
    """``run`` a verification pass that feeds each entry to the hook it is given, checking
    the chain of authority; the pass's result once :meth:`Authority.finish` (done when
    ``complete(result)``) passes. When an actor's last signature fails, the pass runs
    again checking every signature, to name the first bad entry."""
    for strict in (False, True):
        authority = Authority(strict=strict)
        try:
            result = run(authority.see)
            if complete(result):
                authority.finish()
            return result
        except _ChainBrokenError:
            continue
        finally:
            authority.close()
    raise InternalError("the strict pass of the chain of authority broke off")


def ledger_problems(
    ledger: Ledger, key: Ed25519PublicKey, witnessed: Sequence[WitnessedHead] = ()
) -> list[str]:
    """A workspace's ledger checked as an auditor would (:func:`custodes.ledger.check_ledger`)
    with its chain of authority: the problems (empty: all is well); a break of the chain
    raises :class:`TamperedError` naming the entry."""
    return with_authority(
        lambda see: check_ledger(ledger, key, witnessed, on_entry=see),
        lambda found: not found,
    )


class Authority:
    """Fed every entry in order (:meth:`see`), then :meth:`finish`; raises
    :class:`TamperedError` naming the first entry that breaks the chain."""

    def __init__(self, workers: int = 2, *, strict: bool = True) -> None:
        self._strict = strict
        self._chains: dict[str, tuple[bytes, bytes]] = {}  # actor: its chain, last signature
        self._last: dict[str, _Signed] = {}  # actor: its last entry (not strict)
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._revoked: set[str] = set()
        self._roles: dict[str, set[str]] = {}
        self._boards: dict[str, str | None] = {}  # actor: its registered board role
        self._involved: dict[str, set[str]] = defaultdict(set)
        self._approvals: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        self._pending: list[_Signed] = []
        self._pool = ThreadPoolExecutor(workers)
        self._futures: list[Any] = []

    def see(self, index: int, entry: bytes, leaf: bytes, actor_signature: bytes | None) -> None:
        """Check one entry (its signature later, in a batch)."""
        value = json.loads(entry)
        kind, actor, payload = value["type"], value["actor"], value["payload"]
        if kind in TOOL_EVENTS:
            return
        if actor_signature is None and not self._keys and not self._revoked:
            # Before any personal key was registered (a workspace made before them),
            # entries carry no actor signature; from the first registration on, all do.
            self._authority(index, kind, actor, value["subject"], payload, signed=False)
            return
        if actor_signature is None:
            self._fail(index, f"entry {index} ({kind}) carries no signature of its actor")
        key = self._keys.get(actor)
        bootstrap = not self._keys and not self._revoked
        registers = kind in ("actor.added", "actor.key_registered")
        if registers and value["subject"] == actor and bootstrap and payload.get("public_key"):
            key = self._register(actor, payload["public_key"])  # the first admin signs itself
        if key is None:
            why = "a revoked key" if actor in self._revoked else "no registered key"
            self._fail(index, f"entry {index} ({kind}) is signed for {actor!r}, who has {why}")
        assert key is not None
        assert actor_signature is not None
        chain = actor_chain(*self._chains.get(actor, (CHAIN_START, b"")), leaf)
        self._chains[actor] = (chain, actor_signature)
        signed = (index, key, actor_signature, chain, leaf)
        if not self._strict:  # the last entry of each actor's key covers the earlier ones
            last = self._last.get(actor)
            self._last[actor] = signed
            if last is None or last[1] is key:
                self._authority(index, kind, actor, value["subject"], payload)
                return
            signed = last
        self._pending.append(signed)
        if len(self._pending) >= _BATCH:
            self._flush()
        self._authority(index, kind, actor, value["subject"], payload)

    def _authority(
        self,
        index: int,
        kind: str,
        actor: str,
        subject: str,
        payload: dict[str, Any],
        *,
        signed: bool = True,
    ) -> None:
        needs = _ROLES.get(kind)
        if kind.startswith("request.") and "from" in payload and "to" in payload:
            step = TRANSITIONS.get(payload["from"], {}).get(payload["to"])
            if step is None:
                self._fail(index, f"entry {index} moves a request out of the workflow")
            assert step is not None
            needs = step.roles
        elif kind in _KEY_EVENTS:
            needs = None if actor == subject else ("admin",)
        elif needs is None and signed and kind != "request.approved":
            self._fail(index, f"entry {index} ({kind}) is no step custodes records")
        held = self._roles.get(actor, set())
        first = kind == "actor.added" and len(self._roles) == 0
        if not signed:
            needs = None  # before personal keys, an entry's actor is only a name
        if needs and not first and not held & set(needs):
            self._fail(
                index,
                f"entry {index} ({kind}) was made by {actor!r}, who did not hold the role it "
                f"needs ({' or '.join(needs)}) at that point",
            )
        decides = kind in ("request.decided", "dp.budget_change.decided")
        if decides and signed and payload.get("board_role") != self._boards.get(actor):
            self._fail(
                index,
                f"entry {index}: {actor!r} decided as board role "
                f"{payload.get('board_role')!r}, not its registered {self._boards.get(actor)!r}",
            )
        if kind == "actor.added":
            if subject in self._roles and signed:
                self._fail(index, f"entry {index} adds {subject!r}, who was added before")
            self._roles[subject] = set(payload.get("roles", ()))
            self._boards[subject] = payload.get("board_role")
            if payload.get("public_key"):
                self._register(subject, payload["public_key"])
        elif kind == "actor.key_registered":
            if actor != subject and subject in self._keys:
                self._fail(
                    index,
                    f"entry {index}: {actor!r} registered a key for {subject!r}, who held one "
                    "(only an actor replaces its own key)",
                )
            self._register(subject, payload["public_key"])
        elif kind == "actor.key_revoked":
            self._keys.pop(subject, None)
            self._revoked.add(subject)
        elif kind in ("request.filed", "request.identifiers_identified", "request.processed"):
            self._involved[subject].add(actor)
        elif kind == "request.decided" and payload.get("decision") == "approve":
            if actor in self._involved[subject]:
                self._fail(
                    index, f"entry {index}: {actor!r} approved a request it filed or prepared"
                )
            round_ = int(payload.get("round", 1))
            self._approvals[(subject, round_)][actor] = str(payload.get("board_role"))
        elif kind == "request.approved":
            self._approved(index, subject, payload)
        elif kind == "dp.budget_change.proposed":
            self._involved[subject].update((actor, str(payload.get("recipient"))))
        elif kind == "dp.budget_change.decided" and payload.get("decision") == "approve":
            if actor in self._involved[subject]:
                self._fail(
                    index, f"entry {index}: {actor!r} approved a budget change it proposed "
                    "or would receive",
                )  # fmt: skip
            self._approvals[(subject, int(payload.get("round", 1)))][actor] = str(
                payload.get("board_role")
            )
        elif kind == "dp.budget_change.approved":
            if not self._involved[subject]:
                self._fail(index, f"entry {index} approves budget change {subject}, never proposed")
            self._approved(index, subject, payload)

    def _approved(self, index: int, subject: str, payload: dict[str, Any]) -> None:
        rounds = [r for (s, r) in self._approvals if s == subject]
        votes = self._approvals.get((subject, max(rounds, default=1)), {})
        named = payload.get("approvals", [])
        if not named or any(name not in votes for name in named):
            self._fail(
                index,
                f"entry {index}: request {subject} approved by "
                f"{', '.join(map(repr, named)) or 'nobody'}, not all of whom signed an approval",
            )
        roles = [votes[name] for name in named]
        if len(set(named)) != len(named) or len(set(roles)) != len(roles):
            self._fail(
                index, f"entry {index}: the approvals of {subject} are not distinct reviewers"
            )

    def _register(self, actor: str, public_hex: str) -> Ed25519PublicKey:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
        self._keys[actor] = key
        self._revoked.discard(actor)
        return key

    def _fail(self, index: int, message: str) -> None:
        raise TamperedError(message + ".")

    def _flush(self) -> None:
        if self._pending:
            self._futures.append(self._pool.submit(_check, self._pending, self._strict))
            self._pending = []

    def close(self) -> None:
        """Stop the signature checks' threads (after :meth:`finish`, or on a failure)."""
        self._pool.shutdown(wait=True)

    def finish(self) -> None:
        """Wait for the signature checks: the first failing entry is named (not strictly:
        :class:`_ChainBrokenError`, for :func:`with_authority` to check every entry)."""
        if not self._strict:
            self._pending.extend(self._last.values())
        self._flush()
        failed = [f.result() for f in self._futures]
        bad = [i for i in failed if i is not None]
        if bad and not self._strict:
            raise _ChainBrokenError
        if bad:
            first = min(bad)
            raise TamperedError(
                f"entry {first} is not signed by its actor's registered key: an approval or "
                "step recorded by someone without that actor's private key."
            )
