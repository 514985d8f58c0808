"""The append-only ledger: entries, signed tree heads, proofs and exports.

Each entry is canonical JSON (``v``, ``index``, ``time``, ``type``, ``actor``,
``subject``, ``payload``): the leaf of an RFC 9162 Merkle tree. The ledger
signs every entry's leaf hash, and signs tree heads (size, root hash, the hash
of all entry signatures so far, time) on demand and after every
``head_every`` entries. An entry is appended in the caller's transaction, so
it commits with the state change it records or not at all; appenders lock
the ledger's state row first, so concurrent threads and processes never
produce a gap, a duplicate index or a fork.

Entries carry hashes and parameters: a string anywhere in an entry that holds
a resident ID, phone, card number or e-mail address is refused, and with a
screen (the workspace passes custodes's recognizers) a subject or payload
string that is a name or an address too (record its hash instead).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from custodes._files import atomic_writer
from custodes.errors import InternalError, InvalidInputError, SettingError
from custodes.ledger._canonical import canonical
from custodes.ledger._chains import chain_to_continue
from custodes.ledger._keys import public_key_text, verify_signature
from custodes.ledger._merkle import MerkleTree, leaf_hash
from custodes.ledger._personal import actor_chain, actor_message
from custodes.ledger._screen import Screen, check_entry
from custodes.store import LedgerEntry, LedgerState, Meta, Store, TreeHead

__all__ = [
    "ACTOR_LINE",
    "ENTRY_DOMAIN",
    "EXPORT_FORMAT",
    "HEAD_DOMAIN",
    "Event",
    "Ledger",
    "Screen",
    "SignedHead",
    "entry_message",
]

ENTRY_DOMAIN = b"custodes-ledger-entry-v1\x00"
ACTOR_LINE = b'{"actor_signature":"'
"""How an export line of an entry an actor signed starts (canonical JSON: the keys
``actor_signature``, ``entry``, ``signature`` in order)."""
HEAD_DOMAIN = b"custodes-tree-head-v1\x00"
EXPORT_FORMAT = "custodes-ledger-export"
_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_PARALLEL = 64
"""Batches of at least this many entries are signed by the workspace in a thread."""


def entry_message(leaf: bytes) -> bytes:
    """What an entry's signature signs: the domain and the leaf hash."""
    return ENTRY_DOMAIN + leaf


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Event:
    """A governance event to record."""

    type: str
    """Dotted lower-case name, e.g. ``release.made``."""
    actor: str
    subject: str
    payload: Mapping[str, Any]
    signer: Ed25519PrivateKey | None = field(default=None, compare=False, repr=False)
    """The actor's private key: its signature of the entry is kept beside the entry (None:
    a tool's record, such as a scan, that no actor signs)."""


@dataclass(frozen=True)
class SignedHead:
    """A signed tree head."""

    size: int
    root_hash: bytes
    signatures_hash: bytes
    """SHA-256 of the signatures of entries 0 .. size - 1, concatenated."""
    timestamp: str
    signature: bytes

    def body(self) -> dict[str, Any]:
        """The signed fields."""
        return {
            "root_hash": self.root_hash.hex(),
            "signatures_hash": self.signatures_hash.hex(),
            "size": self.size,
            "timestamp": self.timestamp,
        }

    def message(self) -> bytes:
        """What the signature signs."""
        return HEAD_DOMAIN + canonical(self.body())

    def to_dict(self) -> dict[str, Any]:
        """JSON form (a head file, an export line)."""
        return {"head": self.body(), "signature": _b64(self.signature)}

    def verify(self, key: Ed25519PublicKey) -> bool:
        """Whether the key signed this head."""
        return verify_signature(key, self.signature, self.message())

    @classmethod
    def from_dict(cls, data: Any, where: str) -> SignedHead:
        """Parse a head's JSON form; ``where`` names it in errors."""
        try:
            body = data["head"]
            size, timestamp = body["size"], body["timestamp"]
            if type(size) is not int or size < 0 or not isinstance(timestamp, str):
                raise ValueError  # "43", 43.0 and true are not sizes
            head = cls(
                size=size,
                root_hash=bytes.fromhex(body["root_hash"]),
                signatures_hash=bytes.fromhex(body["signatures_hash"]),
                timestamp=timestamp,
                signature=base64.b64decode(data["signature"], validate=True),
            )
        except (KeyError, TypeError, ValueError, OverflowError):
            raise InvalidInputError(
                f"{where} is not a signed tree head (head.size, head.root_hash, "
                "head.signatures_hash, head.timestamp, signature)."
            ) from None
        if set(data) != {"head", "signature"} or set(body) != set(head.body()):
            raise InvalidInputError(f"{where} has fields a signed tree head does not have.")
        return head


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Ledger:
    """The ledger of one store. Appending and signing heads need the private key."""

    def __init__(
        self,
        store: Store,
        key: Ed25519PrivateKey | None = None,
        *,
        head_every: int = 1000,
        screen: Screen | None = None,
    ) -> None:
        if head_every < 1:
            raise SettingError("ledger_head_every must be >= 1, e.g. 1000.")
        self.store = store
        self.key = key
        self.head_every = head_every
        self.screen = screen
        self._lock = threading.Lock()
        self._tree = MerkleTree()
        self._signatures = hashlib.sha256()

    # ------------------------------------------------------------ the in-memory mirror

    def _reset(self) -> None:
        self._tree = MerkleTree()
        self._signatures = hashlib.sha256()

    def _sync(self, session: Session, size: int) -> None:
        """Bring the in-memory tree to the store's first ``size`` entries."""
        tree = self._tree
        if tree.size > size:
            self._reset()  # a transaction that appended was rolled back
        elif tree.size:
            last = session.execute(_LEAF, {"i": tree.size - 1}).scalar_one_or_none()
            if last != tree.levels[0][-1]:
                self._reset()  # the mirror is stale: rebuild it
        if self._tree.size == size:
            return
        rows = session.execute(
            select(LedgerEntry.index, LedgerEntry.leaf_hash, LedgerEntry.signature)
            .where(LedgerEntry.index >= self._tree.size, LedgerEntry.index < size)
            .order_by(LedgerEntry.index)
        )
        for index, leaf, signature in rows:
            if index != self._tree.size:
                raise InternalError(f"ledger entry {self._tree.size} is missing from the store")
            self._tree.append(leaf)
            self._signatures.update(signature)
        if self._tree.size != size:
            raise InternalError("the ledger's size and its entries disagree")

    def _state(self, session: Session) -> LedgerState:
        state = session.execute(
            select(LedgerState).where(LedgerState.id == 1).with_for_update()
        ).scalar_one_or_none()
        if state is None:
            raise SettingError("the store has no ledger; run `custodes init`.")
        return state

    def _signer(self) -> Ed25519PrivateKey:
        if self.key is None:
            raise SettingError("appending to the ledger needs its signing key (custodes init).")
        return self.key

    # ------------------------------------------------------------ appending

    def append(
        self,
        session: Session,
        type: str,
        actor: str,
        subject: str,
        payload: Mapping[str, Any],
        *,
        time: str | None = None,
        signer: Ed25519PrivateKey | None = None,
    ) -> int:
        """Record an event in ``session``'s transaction; its index. ``signer`` is the
        actor's private key (see :attr:`Event.signer`)."""
        event = Event(type, actor, subject, payload, signer)
        return self.append_many(session, [event], time=time)[0]

    def append_many(
        self, session: Session, events: Sequence[Event], *, time: str | None = None
    ) -> list[int]:
        """Record events in ``session``'s transaction, in order; their indexes."""
        key = self._signer()
        for event in events:
            if not _TYPE.match(event.type):
                raise InvalidInputError(
                    f"ledger event type {event.type!r} must be dotted lower-case words, "
                    "e.g. release.made."
                )
            check_entry(event, self.screen)
        with self._lock:
            state = self._state(session)
            self._sync(session, state.size)
            when = time or _now()
            indexes = []
            texts = [
                canonical(
                    {
                        "actor": event.actor,
                        "index": state.size + offset,
                        "payload": dict(event.payload),
                        "subject": event.subject,
                        "time": when,
                        "type": event.type,
                        "v": 1,
                    }
                )
                for offset, event in enumerate(events)
            ]
            leaves = [leaf_hash(text) for text in texts]
            if len(events) < _PARALLEL:
                signatures = [key.sign(entry_message(leaf)) for leaf in leaves]
                by_actors = self._actor_signatures(session, events, leaves)
            else:  # the workspace's signatures in a thread (OpenSSL frees the GIL) while
                # the actors' are made here (each actor's chain in order)
                with ThreadPoolExecutor(1) as pool:
                    made = pool.submit(lambda: [key.sign(entry_message(f)) for f in leaves])
                    by_actors = self._actor_signatures(session, events, leaves)
                    signatures = made.result()
            rows: list[dict[str, Any]] = []
            for text, leaf, signature, by_actor in zip(
                texts, leaves, signatures, by_actors, strict=True
            ):
                index = state.size
                actor, chain, signed = by_actor or (None, None, None)
                rows.append(
                    {
                        "index": index,
                        "entry": text.decode("utf-8"),
                        "leaf_hash": leaf,
                        "signature": signature,
                        "actor": actor,
                        "actor_chain": chain,
                        "actor_signature": signed,
                    }
                )
                self._tree.append(leaf)
                self._signatures.update(signature)
                state.size = index + 1
                indexes.append(index)
                if state.size % self.head_every == 0:
                    self._add_head(session, key, when)
            if rows:  # one executemany (ORM objects cost more than the signatures)
                session.execute(insert(LedgerEntry), rows)
            session.flush()
            return indexes

    def _actor_signatures(
        self, session: Session, events: Sequence[Event], leaves: Sequence[bytes]
    ) -> list[tuple[str, bytes, bytes] | None]:
        """Each event's actor, chain and actor signature (None: no actor signs it)."""
        chains: dict[str, tuple[bytes, bytes]] = {}  # actor: chain, signature
        out: list[tuple[str, bytes, bytes] | None] = []
        for event, leaf in zip(events, leaves, strict=True):
            if event.signer is None:
                out.append(None)
                continue
            if event.actor not in chains:
                public = event.signer.public_key()
                chains[event.actor] = chain_to_continue(session, event.actor, public)
            chain = actor_chain(*chains[event.actor], leaf)
            signed = event.signer.sign(actor_message(chain))
            chains[event.actor] = (chain, signed)
            out.append((event.actor, chain, signed))
        return out

    def _add_head(self, session: Session, key: Ed25519PrivateKey, when: str) -> SignedHead:
        size = self._tree.size
        existing = session.get(TreeHead, size)
        if existing is not None:
            return _head(existing)
        unsigned = SignedHead(size, self._tree.root(), self._signatures.digest(), when, b"")
        head = SignedHead(
            size,
            unsigned.root_hash,
            unsigned.signatures_hash,
            when,
            key.sign(unsigned.message()),
        )
        session.add(
            TreeHead(
                size=size,
                root_hash=head.root_hash,
                signatures_hash=head.signatures_hash,
                timestamp=when,
                signature=head.signature,
            )
        )
        return head

    def sign_head(self) -> SignedHead:
        """Sign (and store) a head for the ledger as it is now."""
        key = self._signer()
        with self.store.transaction() as session, self._lock:
            state = self._state(session)
            self._sync(session, state.size)
            return self._add_head(session, key, _now())

    # ------------------------------------------------------------ reading

    def size(self) -> int:
        """Number of entries."""
        with self.store.transaction() as session:
            state = session.get(LedgerState, 1)
            return 0 if state is None else state.size

    def heads(self) -> list[SignedHead]:
        """Every signed head, by size."""
        with self.store.transaction() as session:
            rows = session.execute(select(TreeHead).order_by(TreeHead.size)).scalars()
            return [_head(r) for r in rows]

    def latest_head(self) -> SignedHead | None:
        """The newest signed head."""
        with self.store.transaction() as session:
            return self._newest_head(session)

    def entry(self, index: int) -> dict[str, Any]:
        """An entry as stored (its canonical JSON parsed)."""
        with self.store.transaction() as session:
            row = session.get(LedgerEntry, index)
            if row is None:
                raise InvalidInputError(f"the ledger has no entry {index}.")
            data: dict[str, Any] = json.loads(row.entry)
            return data

    def _tree_at(self, session: Session) -> MerkleTree:
        size = session.execute(_SIZE).scalar_one_or_none()
        with self._lock:
            self._sync(session, size or 0)
            return self._tree

    def _newest_head(self, session: Session) -> SignedHead | None:
        row = session.execute(_NEWEST_HEAD).one_or_none()
        return None if row is None else SignedHead(*row)

    def _head_of_size(self, session: Session, size: int) -> SignedHead:
        row = session.execute(select(*_HEAD_COLUMNS).where(TreeHead.size == size)).one_or_none()
        if row is not None:
            return SignedHead(*row)
        newest = self._newest_head(session)
        raise InvalidInputError(
            f"no signed head has size {size} (the newest has size "
            f"{newest.size if newest else 0}); sign one with `custodes ledger head`, or "
            "leave the size out."
        )

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        """That entry ``index`` is in the tree of ``size`` entries (default: the newest head).

        The proof carries the entry, its signature, the audit path and the
        signed head it leads to; a head is signed first if none covers the entry.
        """
        with self.store.transaction() as session:
            if size is not None:
                head = self._head_of_size(session, size)
            else:
                newest = self._newest_head(session)
                if newest is not None and newest.size > index:
                    head = newest
                else:  # sign a head that covers the entry, in this transaction
                    key = self._signer()
                    with self._lock:
                        state = self._state(session)
                        self._sync(session, state.size)
                        head = self._add_head(session, key, _now())
            if not 0 <= index < head.size:
                raise InvalidInputError(
                    f"entry {index} is not in the ledger's first {head.size} entries."
                )
            tree = self._tree_at(session)
            row = session.execute(_ENTRY, {"i": index}).one_or_none()
            if row is None:
                raise InvalidInputError(f"the ledger has no entry {index}.")
            entry, signature, leaf = row
            path = tree.inclusion_proof(index, head.size)
            return {
                "entry": entry,
                "entry_signature": _b64(signature),
                "index": index,
                "leaf_hash": bytes(leaf).hex(),
                "path": [p.hex() for p in path],
                "head": head.to_dict(),
            }

    def consistency_proof(self, old: int, new: int | None = None) -> dict[str, Any]:
        """That the signed head of size ``old`` is a prefix of the one of size ``new``."""
        with self.store.transaction() as session:
            old_head = self._head_of_size(session, old)
            if new is None:
                new_head = self._newest_head(session)
                assert new_head is not None  # there is the old one at least
            else:
                new_head = self._head_of_size(session, new)
            if new_head.size < old:
                raise InvalidInputError(
                    f"the head of size {new_head.size} is older than the one of size {old}."
                )
            path = self._tree_at(session).consistency_proof(old, new_head.size)
        return {
            "old_head": old_head.to_dict(),
            "new_head": new_head.to_dict(),
            "path": [p.hex() for p in path],
        }

    # ------------------------------------------------------------ export

    def export(self, path: str | os.PathLike[str], *, batch: int = 10_000) -> int:
        """Write the whole ledger (entries and signed heads) as JSON Lines; its size.

        The export always ends in a signed head over all its entries: one is
        signed (and stored) first when the newest head is older. The file is
        written beside ``path`` and renamed into place when complete. Entries
        and heads are written as the store has them: the export is what an
        auditor verifies, so nothing is repaired here.
        """
        target = Path(path)
        public = self.key.public_key() if self.key is not None else None
        with self.store.transaction() as session:
            state = session.get(LedgerState, 1)
            size = 0 if state is None else state.size
            newest = self._newest_head(session)
            if state is not None and (newest is None or newest.size != size):
                # Seal the export: a head over every entry, so that a verifier can tell
                # an export cut short from a complete one.
                if self.key is None:
                    raise SettingError(
                        f"the ledger's newest signed head covers {newest.size if newest else 0} "
                        f"of its {size} entries; exporting signs a head over all of them and "
                        "needs the signing key (the signing_key setting)."
                    )
                with self._lock:
                    state = self._state(session)
                    size = state.size
                    self._sync(session, size)
                    self._add_head(session, self.key, _now())
                session.flush()
            heads = list(session.execute(select(TreeHead).order_by(TreeHead.size)).scalars())
            recorded = session.get(Meta, "ledger_public_key")
            header = {
                "format": EXPORT_FORMAT,
                "public_key": public_key_text(public)
                if public is not None
                else (recorded.value if recorded is not None else ""),
                "size": size,
                "version": 1,
            }
            with atomic_writer(target) as out:
                out.write(canonical(header) + b"\n")
                pending = iter(heads)
                head = next(pending, None)
                for index, entry, signature, by_actor in _rows(session, batch):
                    out.write(
                        (b"{" if by_actor is None else ACTOR_LINE + base64.b64encode(by_actor))
                        + (b'"entry":' if by_actor is None else b'","entry":')
                        + entry.encode("utf-8")
                        + b',"signature":"'
                        + base64.b64encode(signature)
                        + b'"}\n'
                    )
                    while head is not None and head.size <= index + 1:
                        out.write(canonical(_head(head).to_dict()) + b"\n")
                        head = next(pending, None)
                while head is not None:  # heads beyond the entries (a truncated store)
                    out.write(canonical(_head(head).to_dict()) + b"\n")
                    head = next(pending, None)
        return size


def _rows(session: Session, batch: int) -> Iterator[tuple[int, str, bytes, bytes | None]]:
    """(index, entry, signature, actor signature) rows in order, a batch at a time."""
    last = -1
    while True:
        rows = session.execute(
            select(
                LedgerEntry.index,
                LedgerEntry.entry,
                LedgerEntry.signature,
                LedgerEntry.actor_signature,
            )
            .where(LedgerEntry.index > last)
            .order_by(LedgerEntry.index)
            .limit(batch)
        ).all()
        if not rows:
            return
        for index, entry, signature, by_actor in rows:
            yield (
                int(index),
                str(entry),
                bytes(signature),
                None if by_actor is None else bytes(by_actor),
            )
        last = int(rows[-1][0])


def stored_entries(session: Session, batch: int = 10_000) -> Iterator[dict[str, Any]]:
    """The store's ledger entries, parsed, in index order (a batch at a time)."""
    return (json.loads(entry) for _, entry, _, _ in _rows(session, batch))


_HEAD_COLUMNS = (
    TreeHead.size,
    TreeHead.root_hash,
    TreeHead.signatures_hash,
    TreeHead.timestamp,
    TreeHead.signature,
)


# Statements built once (proofs run them many times).
_SIZE = select(LedgerState.size).where(LedgerState.id == 1)
_LEAF = select(LedgerEntry.leaf_hash).where(LedgerEntry.index == bindparam("i"))
_ENTRY = select(LedgerEntry.entry, LedgerEntry.signature, LedgerEntry.leaf_hash).where(
    LedgerEntry.index == bindparam("i")
)
_NEWEST_HEAD = select(*_HEAD_COLUMNS).order_by(TreeHead.size.desc()).limit(1)


def _head(row: TreeHead) -> SignedHead:
    """A stored head."""
    return SignedHead(
        size=row.size,
        root_hash=row.root_hash,
        signatures_hash=row.signatures_hash,
        timestamp=row.timestamp,
        signature=row.signature,
    )
