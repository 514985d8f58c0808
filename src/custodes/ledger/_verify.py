"""The offline verifier: an export and the public key are all it needs.

A first pass streams the export once. Every entry line must hold the entry
whose index is its position (0, 1, 2, ... with no gap, repeat or swap); its
exact bytes are the leaf appended to the Merkle tree's right edge, and its
signature goes into the running signatures hash. Each signed head is checked
where it stands: its signature, its size against the entries before it, and
its root hash and signatures hash against the recomputed ones. The export
must end in a signed head over all its entries (``Ledger.export`` signs one),
so the whole export is one signed Merkle tree. Entries after the newest head
(in an export made otherwise) have their own signatures checked and fail the
verification as unsealed. With a trusted head saved earlier, or heads a
witness countersigned (:mod:`custodes.ledger._witness`), the first ``size``
entries must give the same root, checked as the stream passes each size; a
``head.witnessed`` entry inside the export must keep a valid countersignature
of the export's own head of that size.

What a signed export cannot show by itself: that nobody with the signing key
removed the newest entries and signed a head over what was left. Only a head
kept outside the office (``--trusted-head``, an auditor's saved head, or
``--witnessed``, a head a witness countersigned) rules that out;
:attr:`Verification.truncation_ruled_out` says whether it was.

When anything fails, a second pass names the first bad entry: a line that
is not canonical, an index out of place (an entry removed, moved, repeated or
replaced), or a signature the ledger's key did not make (an entry edited or
re-signed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custodes._files import read_json
from custodes.errors import CustodesError, DataFileError, InvalidInputError, TamperedError
from custodes.ledger._canonical import canonical
from custodes.ledger._keys import fingerprint, public_key_text, verify_signature
from custodes.ledger._ledger import ACTOR_LINE, EXPORT_FORMAT, Ledger, SignedHead, entry_message
from custodes.ledger._merkle import Frontier, leaf_hash
from custodes.ledger._witness import (
    WITNESSED,
    WITNESSED_MARK,
    WitnessedHead,
    recorded_witnesses,
    witness_anomalies,
)

__all__ = ["Verification", "check_ledger", "load_head", "verify_export"]

_ENTRY = b'{"entry":'
_INDEX = b',"index":'
_SIGNATURE = b',"signature":"'
_END = b'"}\n'
_B64_SIGNATURE = 88  # characters of a 64-byte signature in base64
_CANONICAL_LAST = (b"A", b"Q", b"g", b"w")  # base64 digits 0, 16, 32, 48


@dataclass(frozen=True)
class Verification:
    """What a successful verification established."""

    size: int
    heads: int
    newest_head: SignedHead | None
    trusted_head: SignedHead | None
    witnessed: tuple[WitnessedHead, ...] = ()
    """The witnessed heads given, each a prefix of the export."""
    witnessed_in_export: int = 0
    """The ``head.witnessed`` entries in the export, each checked."""

    @property
    def outside_size(self) -> int | None:
        """The largest size a head kept outside the office vouches for (None: none given)."""
        sizes = [w.size for w in self.witnessed]
        if self.trusted_head is not None:
            sizes.append(self.trusted_head.size)
        return max(sizes, default=None)

    @property
    def truncation_ruled_out(self) -> bool:
        """Whether a trusted or witnessed head shows that no newest entries were removed.

        Only a head kept outside the office can: the export's own final head
        is signed with the workspace key, which whoever runs the office holds.
        """
        return self.outside_size == self.size

    def caveat(self) -> str | None:
        """What this verification could not establish, and how to establish it."""
        if self.truncation_ruled_out:
            return None
        outside = self.outside_size
        if outside is None:
            since = "the newest entries"
        elif not self.witnessed:
            since = f"entries after the trusted head's {outside:,}"
        else:
            since = f"entries after the trusted or witnessed heads' {outside:,}"
        return (
            f"not ruled out: that {since} were removed before the export was made and a head "
            "signed over the rest (the workspace key can sign one). To rule it out, verify "
            "with --trusted-head, a head an auditor saved (custodes ledger head --output), or "
            "--witnessed, a head a witness countersigned (custodes audit witness), at or after "
            "the last event they know of."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "verified": True,
            "entries": self.size,
            "signed_heads": self.heads,
            "newest_head": None if self.newest_head is None else self.newest_head.to_dict(),
            "consistent_with_trusted_head": self.trusted_head is not None,
            "trusted_head_size": None if self.trusted_head is None else self.trusted_head.size,
            "witnessed_heads": [{"size": w.size, "witness": w.witness} for w in self.witnessed],
            "witnessed_in_export": self.witnessed_in_export,
            "truncation_ruled_out": self.truncation_ruled_out,
            "caveat": self.caveat(),
        }


class _FailureError(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _actor_part(line: bytes, lineno: int) -> tuple[bytes, bytes | None]:
    """An entry line without its actor signature (``{"entry":...``), and the actor's
    signature (None when no actor signed the entry)."""
    if not line.startswith(ACTOR_LINE):
        return line, None
    start = len(ACTOR_LINE)
    text = line[start : start + _B64_SIGNATURE]
    if line[start + _B64_SIGNATURE : start + _B64_SIGNATURE + 2] != b'",':
        raise _FailureError(f"line {lineno}: the actor's signature is not 64 bytes in base64")
    signature = _signature(text, lineno, "the actor's signature")
    return b"{" + line[start + _B64_SIGNATURE + 2 :], signature


def _entry_parts(line: bytes, lineno: int) -> tuple[bytes, bytes]:
    """An entry line's entry bytes and signature."""
    cut = line.rfind(_SIGNATURE)
    if (
        not line.endswith(_END)
        or cut < len(_ENTRY)
        or len(line) - cut - len(_SIGNATURE) - len(_END) != _B64_SIGNATURE
    ):
        raise _FailureError(f"line {lineno} is not an entry line of an export")
    text = line[cut + len(_SIGNATURE) : -len(_END)]
    return line[len(_ENTRY) : cut], _signature(text, lineno, "the signature")


def _signature(text: bytes, lineno: int, what: str) -> bytes:
    """A signature's 64 bytes from its base64 ``text`` (``what`` names it in errors)."""
    try:
        signature = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _FailureError(f"line {lineno}: {what} is not base64") from None
    # 64 bytes are 86 characters and "==": the last one's 4 low bits are unused, and must be
    # 0, or other text would decode to the same bytes.
    if text[85:86] not in _CANONICAL_LAST:
        raise _FailureError(f"line {lineno}: {what} is not in canonical base64")
    return signature


def _index_of(entry: bytes, lineno: int) -> int:
    """The index an entry's bytes declare.

    Canonical JSON sorts the keys (``actor`` then ``index``), and a string can
    never hold an unescaped quote, so the first ``,"index":`` is the key's.
    """
    at = entry.find(_INDEX)
    if at < 0:
        raise _FailureError(f"line {lineno}: the entry has no index")
    start = at + len(_INDEX)
    end = entry.find(b",", start)
    digits = entry[start:end]
    if end < 0 or not digits.isdigit() or (len(digits) > 1 and digits[:1] == b"0"):
        raise _FailureError(f"line {lineno}: the entry's index is not a whole number")
    if len(digits) > 18:
        raise _FailureError(f"line {lineno}: the entry's index has {len(digits)} digits")
    return int(digits)


def _json_line(line: bytes, lineno: int) -> Any:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # not JSON or UTF-8, a huge number, deep nesting
        raise _FailureError(f"line {lineno} is not valid JSON of a ledger export") from None
    try:
        same = canonical(value) + b"\n" == line
    except (InvalidInputError, RecursionError):  # a float, or nesting no entry has
        same = False
    if not same:
        raise _FailureError(f"line {lineno} is not in canonical form")
    return value


def _head_line(line: bytes, lineno: int) -> SignedHead:
    value = _json_line(line, lineno)
    try:
        head = SignedHead.from_dict(value, f"line {lineno}")
    except InvalidInputError as exc:
        raise _FailureError(exc.message.rstrip(".")) from None
    if canonical(head.to_dict()) != canonical(value):
        raise _FailureError(f"line {lineno}: the signed head is not in canonical form")
    return head


def load_head(path: str | os.PathLike[str], key: Ed25519PublicKey) -> SignedHead:
    """A signed head saved as JSON (``custodes ledger head --output``), checked against the key."""
    source = Path(path)
    data = read_json(source, "trusted head", f"{source} is not a JSON signed tree head.")
    head = SignedHead.from_dict(data, str(source))
    if not head.verify(key):
        raise TamperedError(f"the trusted head {source} is not signed by this public key.")
    return head


EntryHook = Callable[[int, bytes, bytes, "bytes | None"], None]
"""Called with each entry as the verifier passes it: its index, canonical bytes, leaf hash
and actor signature (None: none). It raises :class:`TamperedError` to fail the export."""


def verify_export(
    path: str | os.PathLike[str],
    key: Ed25519PublicKey,
    trusted: SignedHead | None = None,
    witnessed: Sequence[WitnessedHead] = (),
    *,
    on_entry: EntryHook | None = None,
) -> Verification:
    """Verify an export; raise :class:`TamperedError` naming the first bad entry.

    ``trusted`` is a head saved earlier and ``witnessed`` heads a witness
    countersigned: the export's first ``size`` entries must give each one's
    root; a truncated, rebuilt or re-keyed history fails naming the size.
    ``on_entry`` sees every entry in order (the chain of authority is checked that way);
    it runs only while the export is sound so far.
    """
    source = Path(path)
    if source.is_dir():
        raise DataFileError(f"ledger export {str(source)!r} is a folder; give the export file.")
    for w in witnessed:
        if not w.verify():
            raise TamperedError(
                f"{w.describe()} has a countersignature its witness's key did not make."
            )
        if not w.head.verify(key):
            raise TamperedError(
                f"{w.describe()} is not signed by the ledger key {fingerprint(key)}: the ledger "
                "was re-keyed (rebuilt under a new key) since it was witnessed."
            )
    checks = _checkpoints(trusted, witnessed)
    try:
        return _fast(source, key, trusted, tuple(witnessed), checks, on_entry)
    except _FailureError as failure:
        bad = _first_bad_entry(source, key)
        if bad is not None:
            raise TamperedError(f"{bad} ({failure.message}).") from None
        raise TamperedError(f"{failure.message}.") from None
    except FileNotFoundError:
        raise DataFileError(f"ledger export {str(source)!r} does not exist.") from None


@dataclass(frozen=True)
class _Checkpoint:
    """A head kept outside the office: the first ``size`` entries must give its hashes."""

    size: int
    root_hash: bytes
    signatures_hash: bytes
    differ: str
    """The failure when they differ."""
    short: str
    """What the export has fewer entries than, when it has."""


def _checkpoints(
    trusted: SignedHead | None, witnessed: Sequence[WitnessedHead]
) -> list[_Checkpoint]:
    """The heads to check as the stream passes their sizes, by size."""
    checks = [
        _Checkpoint(
            w.size,
            w.head.root_hash,
            w.head.signatures_hash,
            f"the first {w.size} entries differ from those of {w.describe()}: the history was "
            "rewritten since it was witnessed",
            w.describe(),
        )
        for w in witnessed
    ]
    if trusted is not None:
        checks.append(
            _Checkpoint(
                trusted.size,
                trusted.root_hash,
                trusted.signatures_hash,
                f"the first {trusted.size} entries differ from the trusted head's",
                f"the trusted head's {trusted.size}",
            )
        )
    return sorted((c for c in checks if c.size > 0), key=lambda c: c.size)


def _header(line: bytes, key: Ed25519PublicKey, witnessed: Sequence[WitnessedHead]) -> int:
    header = _json_line(line, 1)
    expected = {"format", "public_key", "size", "version"}
    if not isinstance(header, dict) or set(header) != expected:
        raise _FailureError("line 1 is not the header of a custodes ledger export")
    if (
        header["format"] != EXPORT_FORMAT
        or type(header["version"]) is not int
        or (header["version"] != 1)
    ):
        raise _FailureError("line 1: not a custodes ledger export of version 1")
    if header["public_key"] != public_key_text(key):
        raise _FailureError(
            f"the export names another signing key than {fingerprint(key)}"
            + "".join(
                f"; {w.describe()} was signed with {fingerprint(key)}: the ledger was re-keyed "
                "since"
                for w in witnessed[:1]
            )
        )
    size = header["size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _FailureError("line 1: the size is not a whole number")
    return size


def _witnessed_entry(entry: bytes, index: int, lineno: int, heads: dict[int, SignedHead]) -> bool:
    """Check a ``head.witnessed`` entry against the export's head of its size; whether it
    was one."""
    try:
        value = json.loads(entry)
    except (ValueError, RecursionError):  # the entry's signature and the heads judge it
        return False
    if not isinstance(value, dict) or value.get("type") != WITNESSED:
        return False
    try:
        w = WitnessedHead.from_entry(value)
    except InvalidInputError as exc:
        raise _FailureError(f"line {lineno}: {exc.message.rstrip('.')}") from None
    where = f"entry {index} ({WITNESSED}) keeps {w.describe()}"
    if not w.verify():
        raise _FailureError(f"{where}, but its countersignature is not the witness key's")
    head = heads.get(w.size)
    if head is None:
        raise _FailureError(f"{where}, but the export has no signed head of size {w.size}")
    if head != w.head:
        raise _FailureError(
            f"{where}, but the export's signed head of size {w.size} differs from it: the "
            "history was rewritten or re-keyed since it was witnessed"
        )
    return True


def _fast(
    source: Path,
    key: Ed25519PublicKey,
    trusted: SignedHead | None,
    witnessed: tuple[WitnessedHead, ...],
    checks: list[_Checkpoint],
    on_entry: EntryHook | None = None,
) -> Verification:
    frontier = Frontier()
    signatures = hashlib.sha256()
    count = heads = in_export = 0
    newest: SignedHead | None = None
    seen: dict[int, SignedHead] = {}  # the export's heads by size, for head.witnessed entries
    tail: list[tuple[int, bytes, bytes]] = []  # entries after the newest head
    pending = iter(checks)
    check = next(pending, None)
    with source.open("rb") as handle:
        first = handle.readline()
        if not first:
            raise _FailureError("the export is empty")
        declared = _header(first, key, witnessed)
        for lineno, line in enumerate(handle, start=2):
            if line.startswith((_ENTRY, ACTOR_LINE)):
                line, by_actor = _actor_part(line, lineno)
                entry, signature = _entry_parts(line, lineno)
                at = entry.find(_INDEX) + len(_INDEX)  # inline: this loop runs per entry
                try:
                    index = int(entry[at : entry.find(b",", at)]) if at >= len(_INDEX) else -1
                except ValueError:
                    index = -1
                if index != count:
                    index = _index_of(entry, lineno)  # the exact complaint, if malformed
                    raise _FailureError(
                        f"line {lineno} holds entry {index} where entry {count} belongs"
                    )
                if WITNESSED_MARK in entry and _witnessed_entry(entry, count, lineno, seen):
                    in_export += 1
                leaf = leaf_hash(entry)
                frontier.append(leaf)
                signatures.update(signature)
                tail.append((count, leaf, signature))
                if on_entry is not None:
                    on_entry(count, entry, leaf, by_actor)
                count += 1
                while check is not None and count == check.size:
                    if (frontier.root(), signatures.digest()) != (
                        check.root_hash,
                        check.signatures_hash,
                    ):
                        raise _FailureError(check.differ)
                    check = next(pending, None)
            elif line.startswith(b'{"head":'):
                head = _head_line(line, lineno)
                if head.size != count:
                    raise _FailureError(
                        f"the signed head of size {head.size} follows {count} entries: entries "
                        f"{count} to {head.size - 1} are missing"
                        if head.size > count
                        else f"line {lineno}: a head of size {head.size} after {count} entries"
                    )
                if not head.verify(key):
                    raise _FailureError(f"the signed head of size {head.size} has a bad signature")
                if head.root_hash != frontier.root() or head.signatures_hash != signatures.digest():
                    raise _FailureError(
                        f"the entries before the signed head of size {head.size} do not give its "
                        "root hash and signatures hash"
                    )
                if newest is not None and head.size <= newest.size:
                    raise _FailureError(f"line {lineno}: a signed head repeated or out of order")
                heads += 1
                newest = head
                seen[head.size] = head
                tail.clear()
            else:
                raise _FailureError(f"line {lineno} is neither an entry nor a signed head")
    for index, leaf, signature in tail:
        if not verify_signature(key, signature, entry_message(leaf)):
            raise _FailureError(f"entry {index} (after the newest signed head) has a bad signature")
    if declared != count:
        raise _FailureError(
            f"the export declares {declared} entries but holds {count}"
            + (f": entries from {count} on are missing" if declared > count else "")
        )
    if check is not None:
        raise _FailureError(
            f"the ledger has {count} entries, fewer than {check.short}: entries from {count} on "
            "were removed"
        )
    if newest is None or newest.size != count:
        sealed = 0 if newest is None else newest.size
        raise _FailureError(
            f"the export does not end in a signed head over its {count} entries (the newest "
            f"covers {sealed}): entries from {sealed} on are not sealed, and entries after "
            f"entry {count - 1} may have been cut; export with `custodes ledger export`, which "
            "signs a head over every entry"
        )
    return Verification(count, heads, newest, trusted, witnessed, in_export)


def _first_bad_entry(source: Path, key: Ed25519PublicKey) -> str | None:
    """The first entry that is malformed, out of place or wrongly signed, described."""
    position = 0
    try:
        with source.open("rb") as handle:
            handle.readline()
            for lineno, line in enumerate(handle, start=2):
                if not (line.startswith((_ENTRY, ACTOR_LINE))):
                    continue
                try:
                    value = _json_line(line, lineno)
                    line, _ = _actor_part(line, lineno)
                    entry, signature = _entry_parts(line, lineno)
                except _FailureError as failure:
                    return f"entry {position} is damaged: {failure.message}"
                index = value.get("entry", {}).get("index") if isinstance(value, dict) else None
                if not isinstance(index, int) or isinstance(index, bool):
                    return f"entry {position} is damaged: it has no index (line {lineno})"
                if index > position:
                    return f"entry {position} is missing (line {lineno} holds entry {index})"
                if index < position:
                    return (
                        f"entry {position} is out of place: line {lineno} holds entry {index} "
                        "again (an entry repeated, moved or replaced)"
                    )
                if not verify_signature(key, signature, entry_message(leaf_hash(entry))):
                    return (
                        f"entry {position} was changed or re-signed: its signature is not the "
                        "ledger key's signature of its content"
                    )
                position += 1
    except OSError:
        return None
    return None


def check_ledger(
    ledger: Ledger,
    key: Ed25519PublicKey,
    witnessed: Sequence[WitnessedHead] = (),
    *,
    on_entry: EntryHook | None = None,
) -> list[str]:
    """A workspace's ledger checked as an auditor would: exported and verified offline, and a
    consistency proof demanded from every witnessed head, those the ledger keeps
    (``head.witnessed`` entries) and those given, to the newest head. What fails."""
    found = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            export = Path(folder) / "ledger.jsonl"
            ledger.export(export)  # signs a head over every entry first
            verify_export(export, key, on_entry=on_entry)
    except CustodesError as exc:
        found.append(f"the ledger fails verification: {exc.message}")
    try:
        with ledger.store.transaction() as session:
            recorded = recorded_witnesses(session)
    except CustodesError as exc:
        return [*found, f"the ledger's witnessed heads cannot be read: {exc.message}"]
    every = dict.fromkeys([*recorded, *witnessed])  # a file of a kept head: checked once
    return found + witness_anomalies(ledger, key, list(every))
