"""The verifiable ledger: an RFC 9162 Merkle tree log of governance events.

- :class:`Ledger`: append events (in the caller's transaction), sign tree
  heads, prove inclusion and consistency, export.
- :func:`verify_export`: the offline verifier (an export and the public key).
- :class:`WitnessedHead`: a head an outside party countersigned; every later
  verification demands that the ledger still extends it (:func:`check_ledger`
  in a workspace).
- :func:`open_ledger`: the ledger of a workspace's store.
"""

from custodes.ledger._canonical import canonical
from custodes.ledger._keys import (
    fingerprint,
    load_or_create_key,
    load_private_key,
    load_public_key,
    public_key_hex,
    public_key_text,
)
from custodes.ledger._ledger import Event, Ledger, Screen, SignedHead, stored_entries
from custodes.ledger._merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from custodes.ledger._open import open_ledger
from custodes.ledger._personal import (
    CHAIN_START,
    actor_chain,
    actor_message,
    legacy_actor_message,
    load_actor_key,
    public_key_from_text,
    write_actor_key,
)
from custodes.ledger._screen import identifier_kind, new_id, redacted
from custodes.ledger._verify import Verification, check_ledger, load_head, verify_export
from custodes.ledger._witness import (
    WitnessedHead,
    load_witness_key,
    load_witnessed,
    recorded_witnesses,
    witness_anomalies,
)

__all__ = [
    "CHAIN_START",
    "EMPTY_ROOT",
    "Event",
    "Frontier",
    "Ledger",
    "MerkleTree",
    "Screen",
    "SignedHead",
    "Verification",
    "WitnessedHead",
    "actor_chain",
    "actor_message",
    "canonical",
    "check_ledger",
    "fingerprint",
    "identifier_kind",
    "leaf_hash",
    "legacy_actor_message",
    "load_actor_key",
    "load_head",
    "load_or_create_key",
    "load_private_key",
    "load_public_key",
    "load_witness_key",
    "load_witnessed",
    "new_id",
    "node_hash",
    "open_ledger",
    "public_key_from_text",
    "public_key_hex",
    "public_key_text",
    "recorded_witnesses",
    "redacted",
    "root_of",
    "stored_entries",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
    "witness_anomalies",
    "write_actor_key",
]
