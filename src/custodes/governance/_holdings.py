"""What a recipient holds, for the mosaic check: release records checked against the
ledger, and the views kept apart from the delivered files.

What a recipient holds is read from the release records (never from the
recipient's files): its releases neither revoked nor expired, and every open
publication (anyone holds those). The records are first compared with the
ledger. Each file release keeps its view in the workspace (``views/REQ/view.npz``:
persons, classes and keyed codes of values, no value), whose SHA-256 the
release record and the ledger carry: a view changed, removed or borrowed is
refused, never skipped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from custodes._names import canonical_name
from custodes.anonymize import AnonymizationSpec
from custodes.anonymize._identifiers import Pseudonymize, ShiftDates, key_fingerprint
from custodes.errors import RefusedError
from custodes.governance._base import Acting
from custodes.ledger import leaf_hash
from custodes.risk import ReleaseView, load_view
from custodes.store import Dataset, LedgerEntry, Release

__all__ = [
    "CANDIDATE_FILE",
    "FILE_MODELS",
    "VIEW_FILE",
    "Holding",
    "Holdings",
    "link_of",
    "per_release",
    "release_key",
    "write_view",
]

VIEW_FILE = "view.npz"
CANDIDATE_FILE = "candidate-view.npz"
FILE_MODELS = ("open_publication", "file_under_agreement")


@dataclass(frozen=True)
class Holding:
    """What one holder holds: its live release records and their views, in one order."""

    holder: str
    records: list[Any]
    views: list[ReleaseView]


def release_key(key: bytes, request_id: str) -> bytes:
    """The pseudonym key of one request's release, derived from the workspace's key: two
    releases' pseudonyms cannot be joined unless their plan links them."""
    return hmac.new(
        key, b"custodes release pseudonyms\x00" + request_id.encode(), "sha256"
    ).digest()


def per_release(spec: AnonymizationSpec, request_id: str) -> AnonymizationSpec:
    """``spec`` with its pseudonyms and date shifts keyed for this release alone (unless
    the plan sets ``linked_pseudonyms``)."""
    if spec.linked_pseudonyms:
        return spec
    actions = tuple(
        replace(a, key=release_key(a.key, request_id))
        if isinstance(a, Pseudonymize | ShiftDates)
        else a
        for a in spec.identifier_actions
    )
    return replace(spec, identifier_actions=actions)


def link_of(spec: AnonymizationSpec, columns: Sequence[str]) -> str | None:
    """What a release can be joined by: the key of the pseudonyms it carries (None: none)."""
    keys = sorted(
        key_fingerprint(a.key)
        for a in spec.actions()
        if isinstance(a, Pseudonymize) and a.column in columns
    )
    return f"pseudonyms {keys[0]}" if keys else None


class Holdings(Acting):
    """The holdings the mosaic check weighs, and the views behind them."""

    def checked_source(self, name: str, version: int, source: str, content_sha256: str) -> Path:
        """A dataset version's registered file, refused when it changed or is gone since it
        was registered."""
        path = Path(source)
        if not path.is_file() or self.preparer.file_hash(path) != content_sha256:
            raise RefusedError(
                f"the source of {name} version {version} changed or is gone since it "
                "was registered (SHA-256 differs); register the new version and file a new request."
            )
        return path

    def _mosaic_key(self) -> bytes:
        """The workspace's key for the codes of values and persons in views (made once,
        mode 0600, kept in the workspace's keys folder)."""
        path = self.preparer.path / "keys" / "mosaic.key"
        if not path.exists():
            with self._change() as session:
                kept = session.execute(
                    select(func.count())
                    .select_from(Release)
                    .where(Release.view_sha256.is_not(None))
                ).scalar_one()
            if kept:
                raise RefusedError(
                    f"the mosaic key {str(path)!r} is missing while {kept:,} releases keep views "
                    "made with it; restore it from a backup (a new key would unlink them)."
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(handle, "wb") as out:
                    out.write(secrets.token_bytes(32))
        key = path.read_bytes()
        if len(key) < 16:
            raise RefusedError(
                f"the mosaic key {str(path)!r} is shorter than 16 bytes; it was changed "
                "behind custodes' back. Restore it from a backup (views made with it need it)."
            )
        return key

    def view_path(self, request_id: str, name: str = VIEW_FILE) -> Path:
        """Where a request's mosaic view is kept: in the workspace, apart from the files
        delivered to the recipient (a view must never travel with a release)."""
        return self.preparer.path / "views" / request_id / name

    def basis_of(self, data: Dataset) -> str:
        """Whose rows a dataset's records are: the first name a source with this content was
        registered under (the same file registered again under another name is the same
        people)."""
        with self._change() as session:
            first = session.execute(
                select(Dataset.name)
                .where(Dataset.content_sha256 == data.content_sha256)
                .order_by(Dataset.created_at, Dataset.name)
                .limit(1)
            ).scalar_one_or_none()
        return first or data.name

    def _check_records(self, session: Session, live: Sequence[Any], today: str) -> None:
        """Refuse when the release records leave out a file release the ledger says is
        still held: a record deleted, revoked, expired or retyped in the store alone (each
        ledger entry read is checked against its leaf hash)."""
        from custodes.detect import hash_personal

        released: dict[str, dict[str, Any]] = {}
        ended: set[str] = set()
        rows = session.execute(
            select(LedgerEntry.index, LedgerEntry.entry, LedgerEntry.leaf_hash)
            .where(LedgerEntry.entry.like('%"type":"request.%'))
            .order_by(LedgerEntry.index)
        )
        for index, text, leaf in rows:
            if leaf_hash(text.encode("utf-8")) != bytes(leaf):
                raise RefusedError(
                    f"ledger entry {index} does not match its leaf hash: the ledger was changed "
                    "behind custodes' back; an auditor runs `custodes ledger verify`."
                )
            entry = json.loads(text)
            kind, subject = entry.get("type"), str(entry.get("subject"))
            if kind == "request.released":
                released[subject] = {**entry.get("payload", {}), "index": index}
            elif kind in ("request.revoked", "request.expired"):
                ended.add(subject)
        records = {r.request_id: r for r in live}
        for request, payload in released.items():
            if request in ended or payload.get("sharing_model") not in FILE_MODELS:
                continue
            if str(payload.get("term_end", "9999-12-31")) < today:
                continue
            record = records.get(request)
            said = hash_personal("", {"r": record.recipient})[1]["r"] if record else None
            if (
                record is None
                or record.ledger_index != payload["index"]
                or said != payload.get("recipient")
                or record.sharing_model != payload.get("sharing_model")
            ):
                raise RefusedError(
                    f"the release of request {request} (ledger entry {payload['index']}) is "
                    "still held by its recipient by the ledger, but the release records say "
                    "otherwise: they were changed behind custodes' back, and nothing is "
                    "checked against them. An auditor runs `custodes audit report`."
                )

    def holdings(self, request_id: str, recipient: str, model: str) -> list[Holding]:
        """What the release would join: the recipient's holding, or for an open publication
        (which everyone holds) every recipient's holding and the open publications alone.
        The records are checked against the ledger first."""
        today = date.today().isoformat()
        with self._change() as session:
            live = self.preparer.releases.held_in(session, None, today)
            self._check_records(session, [r for r in live if r.request_id != request_id], today)
        live = _weighed(live, request_id, recipient, model)
        if model != "open_publication":
            return [Holding(recipient, live, [self._held_view(r) for r in live])]
        public = [r for r in live if r.sharing_model == "open_publication"]
        views = {r.id: self._held_view(r) for r in live}
        by_name: dict[str, list[Any]] = {}
        for r in live:
            if r.sharing_model != "open_publication":
                by_name.setdefault(canonical_name(r.recipient), []).append(r)
        out = [Holding("anyone (the open publications)", public, [views[r.id] for r in public])]
        for records in by_name.values():
            held = sorted([*records, *public], key=lambda r: (r.released_at, r.id))
            out.append(Holding(records[0].recipient, held, [views[r.id] for r in held]))
        return out

    def holdings_in(
        self, session: Session, request_id: str, recipient: str, model: str
    ) -> list[str]:
        """The ids of the releases :meth:`holdings` weighs, read in ``session``."""
        live = self.preparer.releases.held_in(session, None, date.today().isoformat())
        return sorted(r.id for r in _weighed(live, request_id, recipient, model))

    def _held_view(self, record: Any) -> ReleaseView:
        """A held release's view, refused when it is missing or not the one released."""
        path = self.view_path(record.request_id)
        what = f"release {record.id} (request {record.request_id}, {record.dataset})"
        if record.view_sha256 is None:
            raise RefusedError(
                f"{what} has no mosaic view: it was released before custodes kept them, so "
                "what its recipient holds cannot be checked. Revoke or expire it "
                "(`custodes request revoke`), or release to another recipient."
            )
        try:
            content = path.read_bytes()
        except OSError:
            raise RefusedError(
                f"the mosaic view of {what} is missing ({path}); restore it from a backup: "
                "nothing is released to its recipient without it."
            ) from None
        digest = hashlib.sha256(content).hexdigest()
        entry = self.ledger.entry(record.ledger_index) if record.ledger_index is not None else {}
        payload = entry.get("payload", {})
        released = (
            entry.get("type") == "request.released"
            and entry.get("subject") == record.request_id
            and payload.get("sharing_model") == record.sharing_model
        )
        if not released or digest != record.view_sha256 or digest != payload.get("view_sha256"):
            raise RefusedError(
                f"the mosaic view of {what} is not the one released (its SHA-256 differs from "
                "the release record's or the ledger's); it was changed behind custodes' back. "
                "Restore it from a backup; an auditor runs `custodes audit report`."
            )
        return replace(load_view(content, str(path)), name=f"release {record.id}")


def _weighed(live: Sequence[Any], request_id: str, recipient: str, model: str) -> list[Any]:
    """Of the live release records, the files a release of ``request_id`` is weighed with:
    every one for an open publication (everyone holds it), else those ``recipient`` holds
    (its own, and the open publications)."""
    files = [r for r in live if r.request_id != request_id and r.sharing_model in FILE_MODELS]
    if model == "open_publication":
        return files
    name = canonical_name(recipient)
    return [
        r
        for r in files
        if r.sharing_model == "open_publication" or canonical_name(r.recipient) == name
    ]


def write_view(view: ReleaseView, path: Path) -> str:
    """Write ``view`` to ``path`` (the caller's staged file); its SHA-256."""
    from custodes.risk import save_view

    content = save_view(view)
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()
