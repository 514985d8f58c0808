"""``custodes init``: the workspace folder, its store (migrated) and the ledger's key pair.

Creating a workspace is the workspace's business, not the ledger's: the ledger
only appends and proves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from custodes._files import write_atomic
from custodes.errors import SettingError
from custodes.ledger import (
    Ledger,
    fingerprint,
    load_or_create_key,
    public_key_text,
)
from custodes.settings import Settings
from custodes.store import HEAD_REVISION, Meta, Store

__all__ = ["InitResult", "init_workspace"]


@dataclass(frozen=True)
class InitResult:
    """What ``custodes init`` made or found."""

    workspace: Path
    store: str
    """The store's URL, password hidden."""
    key_path: Path
    public_key_path: Path
    fingerprint: str
    created: bool
    """False when the workspace was already set up (nothing was changed)."""


def init_workspace(settings: Settings) -> InitResult:
    """Create (or check) the workspace: folder, database and migrations, signing key.

    Running it again is harmless: the schema is migrated if needed, the key
    kept, and the key recorded in the store must be the one found.
    """
    settings.workspace.mkdir(parents=True, exist_ok=True)
    key_path = settings.signing_key_path()
    key, _ = load_or_create_key(key_path)
    public = key.public_key()
    public_path = key_path.with_suffix(".pub")
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not public_path.exists() or public_path.read_bytes() != pem:
        write_atomic(public_path, pem)
        public_path.chmod(0o644)  # for auditors: public
    store = Store(settings.database_url())
    try:
        store.migrate()
        ledger = Ledger(store, key, head_every=settings.ledger_head_every)
        with store.transaction() as session:
            recorded = session.execute(
                select(Meta.value).where(Meta.key == "ledger_key_fingerprint")
            ).scalar_one_or_none()
            if recorded is not None and recorded != fingerprint(public):
                raise SettingError(
                    f"the store {store.shown} belongs to the ledger key {recorded}, not to "
                    f"{key_path} ({fingerprint(public)}); set signing_key to its key."
                )
            created = recorded is None
            if created:
                session.add(Meta(key="ledger_key_fingerprint", value=fingerprint(public)))
                session.add(Meta(key="ledger_public_key", value=public_key_text(public)))
                session.add(
                    Meta(key="created", value=datetime.now(UTC).isoformat(timespec="seconds"))
                )
                ledger.append(
                    session,
                    "workspace.initialized",
                    "custodes init",
                    "workspace",
                    # The key's whole SHA-256: the 16-character fingerprint can be all
                    # digits, and a ledger entry must never look like a card number.
                    {"ledger_key_sha256": _key_sha256(public), "schema": HEAD_REVISION},
                )
    finally:
        store.dispose()
    return InitResult(
        settings.workspace, store.shown, key_path, public_path, fingerprint(public), created
    )


def _key_sha256(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex (the fingerprint is its first 16 characters)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
