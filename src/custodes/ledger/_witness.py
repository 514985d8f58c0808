"""Witnessed tree heads: an outside party's countersignature of a signed tree head.

The workspace key seals the log, but whoever runs the office holds it: they
could remove the newest entries, or rebuild the whole ledger under a new key,
and sign heads over the result. A witness (an auditor, or any outside party)
countersigns a head with their own Ed25519 key and keeps it. Later, every
witnessed head must still be a prefix of the ledger: the first ``size``
entries give its root (offline, :func:`~custodes.ledger.verify_export` with
``witnessed=``), or a consistency proof leads from it to the current head
(in a workspace, :func:`witness_anomalies`). A truncated, rebuilt or re-keyed
history fails, naming the witnessed size.

The witness signs ``custodes-witness-v1\\x00`` followed by the canonical JSON
of the head's body and the witness's name. A workspace keeps a copy of each
witnessed head as a ``head.witnessed`` ledger entry (hex fields; the entry's
actor is the witness).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import read_json
from custodes.errors import CustodesError, DataFileError, InvalidInputError, TamperedError
from custodes.ledger._canonical import canonical
from custodes.ledger._keys import public_key_text, verify_signature
from custodes.ledger._ledger import Ledger, SignedHead, _b64
from custodes.ledger._merkle import verify_consistency
from custodes.ledger._personal import load_actor_key
from custodes.store import LedgerEntry

__all__ = [
    "WITNESSED",
    "WITNESSED_MARK",
    "WITNESS_DOMAIN",
    "WitnessedHead",
    "load_witness_key",
    "load_witnessed",
    "recorded_witnesses",
    "witness_anomalies",
]

WITNESS_DOMAIN = b"custodes-witness-v1\x00"
WITNESSED = "head.witnessed"
"""The type of the ledger entry that keeps a witnessed head in the workspace."""
WITNESSED_MARK = b'"type":"head.witnessed"'
"""Bytes every ``head.witnessed`` entry's canonical JSON holds (a quick test)."""
_PAYLOAD = (
    "head_signature",
    "root_hash",
    "signatures_hash",
    "size",
    "timestamp",
    "witness_public_key",
    "witness_signature",
)


@dataclass(frozen=True)
class WitnessedHead:
    """A workspace-signed tree head countersigned by a witness."""

    head: SignedHead
    witness: str
    """The witness's name (in a workspace: the registered actor who countersigned)."""
    witness_key: str
    """The witness's Ed25519 public key, base64 of its 32 raw bytes."""
    signature: bytes
    """The witness's signature of :meth:`message`."""

    @property
    def size(self) -> int:
        """The witnessed head's size."""
        return self.head.size

    @staticmethod
    def message_of(head: SignedHead, witness: str) -> bytes:
        """What a witness signs: the domain, then the head's body and the witness's name."""
        return WITNESS_DOMAIN + canonical({**head.body(), "witness": witness})

    def message(self) -> bytes:
        """What the witness's signature signs."""
        return self.message_of(self.head, self.witness)

    @classmethod
    def sign(cls, head: SignedHead, witness: str, key: Ed25519PrivateKey) -> WitnessedHead:
        """Countersign ``head`` as ``witness`` with the witness's private key."""
        return cls(
            head,
            witness,
            public_key_text(key.public_key()),
            key.sign(cls.message_of(head, witness)),
        )

    def verify(self) -> bool:
        """Whether the witness's key made the countersignature."""
        try:
            key = Ed25519PublicKey.from_public_bytes(
                base64.b64decode(self.witness_key, validate=True)
            )
        except (binascii.Error, ValueError):
            return False
        return verify_signature(key, self.signature, self.message())

    def describe(self) -> str:
        """How messages name it: ``the head of size N witnessed by W``."""
        return f"the head of size {self.size} witnessed by {self.witness}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (a witnessed head file): the signed head and the witness."""
        return {
            **self.head.to_dict(),
            "witness": {
                "name": self.witness,
                "public_key": self.witness_key,
                "signature": _b64(self.signature),
            },
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> WitnessedHead:
        """Parse the JSON form; ``where`` names it in errors."""
        expected = (
            f"{where} is not a witnessed tree head: expected head (size, root_hash, "
            "signatures_hash, timestamp), signature and witness (name, public_key, signature), "
            "as `custodes audit witness --output` writes it"
        )
        if not isinstance(data, dict) or set(data) != {"head", "signature", "witness"}:
            raise InvalidInputError(expected + ".")
        try:
            head = SignedHead.from_dict({k: data[k] for k in ("head", "signature")}, where)
        except InvalidInputError:
            raise InvalidInputError(expected + ".") from None
        witness = data["witness"]
        try:
            if set(witness) != {"name", "public_key", "signature"}:
                raise ValueError
            name, key = witness["name"], witness["public_key"]
            if not isinstance(name, str) or not name.strip() or not isinstance(key, str):
                raise ValueError
            if len(base64.b64decode(key, validate=True)) != 32:
                raise ValueError
            signature = base64.b64decode(witness["signature"], validate=True)
        except (TypeError, ValueError):
            raise InvalidInputError(
                expected + " (the witness's public key: base64 of 32 bytes)."
            ) from None
        return cls(head, name, key, signature)

    def payload(self) -> dict[str, Any]:
        """The ``head.witnessed`` ledger entry's payload (hashes and signatures in hex)."""
        key = base64.b64decode(self.witness_key)
        return {
            "head_signature": self.head.signature.hex(),
            "root_hash": self.head.root_hash.hex(),
            "signatures_hash": self.head.signatures_hash.hex(),
            "size": self.size,
            "timestamp": self.head.timestamp,
            "witness_public_key": key.hex(),
            "witness_signature": self.signature.hex(),
        }

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> WitnessedHead:
        """The witnessed head a ``head.witnessed`` entry keeps (its actor is the witness)."""
        try:
            payload = entry["payload"]
            if set(payload) != set(_PAYLOAD) or not isinstance(entry["actor"], str):
                raise ValueError
            head = SignedHead(
                size=int(payload["size"]),
                root_hash=bytes.fromhex(payload["root_hash"]),
                signatures_hash=bytes.fromhex(payload["signatures_hash"]),
                timestamp=str(payload["timestamp"]),
                signature=bytes.fromhex(payload["head_signature"]),
            )
            key = _b64(bytes.fromhex(payload["witness_public_key"]))
            signature = bytes.fromhex(payload["witness_signature"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError(
                f"ledger entry {entry.get('index')} ({WITNESSED}) does not hold a witnessed head "
                f"({', '.join(_PAYLOAD)})."
            ) from None
        return cls(head, entry["actor"], key, signature)


def load_witnessed(path: str | os.PathLike[str]) -> WitnessedHead:
    """A witnessed head file (``custodes audit witness --output``), its countersignature
    checked; whether the ledger still extends it is the verifier's question."""
    source = Path(path)
    data = read_json(
        source,
        "witnessed head",
        f"{source} is not JSON; give a witnessed head file (custodes audit witness --output).",
    )
    witnessed = WitnessedHead.from_dict(data, str(source))
    if not witnessed.verify():
        raise TamperedError(
            f"{source}: {witnessed.describe()} has a countersignature its witness's key did "
            "not make (the file was changed)."
        )
    return witnessed


def load_witness_key(
    path: str | os.PathLike[str], passphrase: str | None = None
) -> Ed25519PrivateKey:
    """The witness's private key: PKCS#8 PEM (Ed25519), or a custodes encrypted key
    file sealed under ``passphrase``."""
    source = Path(path)
    if not source.is_file():
        raise DataFileError(
            f"witness key {str(source)!r} does not exist; give the witness's Ed25519 private "
            "key (PEM), e.g. made with `openssl genpkey -algorithm ed25519 -out FILE`."
        )
    return load_actor_key(source, passphrase)


def recorded_witnesses(session: Session) -> list[WitnessedHead]:
    """The witnessed heads a workspace's ledger keeps (``head.witnessed`` entries), in order."""
    texts = session.execute(
        select(LedgerEntry.entry)
        .where(LedgerEntry.entry.contains(WITNESSED_MARK.decode("ascii")))
        .order_by(LedgerEntry.index)
    ).scalars()
    found = []
    for text in texts:
        entry = json.loads(text)
        if entry.get("type") == WITNESSED:
            found.append(WitnessedHead.from_entry(entry))
    return found


def witness_anomalies(
    ledger: Ledger, key: Ed25519PublicKey, witnessed: Iterable[WitnessedHead]
) -> list[str]:
    """Each witnessed head checked against the ledger of a workspace: its countersignature,
    its workspace signature under ``key``, and a consistency proof (RFC 9162) from it to the
    newest signed head. What fails, each naming the witnessed size."""
    found = []
    newest = ledger.latest_head()
    for w in witnessed:
        problem = _inconsistency(ledger, key, w, newest)
        if problem is not None:
            found.append(f"{w.describe()}: {problem}")
    return found


def _inconsistency(
    ledger: Ledger, key: Ed25519PublicKey, w: WitnessedHead, newest: SignedHead | None
) -> str | None:
    if not w.verify():
        return "its countersignature is not its witness's key's signature"
    if not w.head.verify(key):
        return (
            "it is not signed by the ledger's key: the ledger was re-keyed (rebuilt under a "
            "new key) since it was witnessed"
        )
    if newest is None or newest.size < w.size:
        held = 0 if newest is None else newest.size
        return (
            f"the ledger's newest signed head covers {held} entries, fewer than the "
            f"{w.size} witnessed: the history was truncated or rebuilt"
        )
    if w.size == 0:
        return None  # the empty tree is a prefix of every tree
    try:
        path = _consistency_path(ledger, w.size, newest.size)
    except (ValueError, CustodesError) as exc:  # the store's entries and heads disagree
        why = exc.message if isinstance(exc, CustodesError) else str(exc)
        return f"no consistency proof leads from it to the newest head ({why})"
    if not verify_consistency(w.size, newest.size, w.head.root_hash, newest.root_hash, path):
        return (
            f"the ledger's first {w.size} entries no longer give its root (no consistency "
            f"proof to the newest head, of size {newest.size}): the history was rewritten"
        )
    return None


def _consistency_path(ledger: Ledger, old: int, new: int) -> list[bytes]:
    """RFC 9162's consistency proof from size ``old`` to ``new`` in the store's tree (like
    :meth:`Ledger.consistency_proof`, but whether or not the office kept a head of ``old``:
    the witness kept it)."""
    with ledger.store.transaction() as session:
        return ledger._tree_at(session).consistency_proof(old, new)
