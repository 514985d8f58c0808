"""An actor's chain where its next entry continues it, checked before it is signed.

The store keeps each signed entry's actor and chain (``ledger_entries.actor`` and
``actor_chain``) so that the next signature need not replay the actor's history.
Whoever edits that column would make the actor's next, honest signature cover a
wrong chain, and the verifier would then blame the honest entry: so the chain is
checked first, against the actor's own signature of it, or recomputed from the
actor's entries when that signature was made with another key (before a
rotation) or over the leaf alone (before chains).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes.errors import TamperedError
from custodes.ledger._personal import CHAIN_START, actor_chain, actor_message
from custodes.store import LedgerEntry

__all__ = ["chain_to_continue"]


def chain_to_continue(
    session: Session, actor: str, public_key: Ed25519PublicKey
) -> tuple[bytes, bytes]:
    """The chain and actor signature at ``actor``'s last signed entry (the start of a chain
    before its first), checked; :class:`TamperedError` naming the entry when the store's
    chain is not the one the actor's entries give."""
    signed = LedgerEntry.actor == actor, LedgerEntry.actor_signature.is_not(None)
    found = session.execute(
        select(LedgerEntry.index, LedgerEntry.actor_chain, LedgerEntry.actor_signature)
        .where(*signed)
        .order_by(LedgerEntry.index.desc())
        .limit(1)
    ).first()
    if found is None:
        return CHAIN_START, b""
    index, stored, signature = found[0], bytes(found[1] or b""), bytes(found[2] or b"")
    try:
        public_key.verify(signature, actor_message(stored))
        return stored, signature  # the actor's own signature of it
    except InvalidSignature:
        pass
    chain, before = CHAIN_START, b""
    for leaf, by_actor in session.execute(
        select(LedgerEntry.leaf_hash, LedgerEntry.actor_signature)
        .where(*signed)
        .order_by(LedgerEntry.index)
    ):
        chain, before = actor_chain(chain, before, bytes(leaf)), bytes(by_actor or b"")
    if chain != stored:
        raise TamperedError(
            f"the store's chain of {actor!r}'s entries at entry {index} is not the one its "
            "entries give (ledger_entries.actor_chain was changed behind custodes' back); "
            f"{actor!r} signs nothing until an auditor looks (`custodes ledger verify`)."
        )
    return stored, signature
