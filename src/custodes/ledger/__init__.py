"""The verifiable ledger: an RFC 9162 Merkle tree log of governance events.

- :class:`Ledger`: append events (in the caller's transaction), sign tree
  heads, prove inclusion and consistency, export.
- :func:`verify_export`: the offline verifier (an export and the public key).
- :func:`init_workspace`: ``custodes init``.
"""

from custodes.ledger._canonical import canonical
from custodes.ledger._init import InitResult, init_workspace, open_ledger
from custodes.ledger._keys import fingerprint, load_public_key
from custodes.ledger._ledger import Event, Ledger, Screen, SignedHead
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
from custodes.ledger._verify import Verification, load_head, verify_export

__all__ = [
    "EMPTY_ROOT",
    "Event",
    "Frontier",
    "InitResult",
    "Ledger",
    "MerkleTree",
    "Screen",
    "SignedHead",
    "Verification",
    "canonical",
    "fingerprint",
    "init_workspace",
    "leaf_hash",
    "load_head",
    "load_public_key",
    "node_hash",
    "open_ledger",
    "root_of",
    "verify_consistency",
    "verify_export",
    "verify_inclusion",
]
