"""Web accounts and API tokens: who may log in, and the key each login unlocks.

An actor signs every step with a personal Ed25519 key the ledger knows. The
server must sign for the actor who is logged in, and nobody else may: not an
operator who has the server's disk and database.

So the store keeps, per account, an argon2id hash of the password and the
actor's private key sealed (AES-256-GCM) under a second key stretched from the
same password with argon2id and a salt of its own. A login opens the key and
the server keeps it in memory for that session only (``_sessions``); the disk
never holds it open. An API token (256 random bits) is kept as its SHA-256,
with the key sealed under a key derived from the token itself (HKDF-SHA256).

A seal opened by a key that is not the actor's registered one signs steps the
ledger refuses; a login is refused as soon as it sees that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from custodes.errors import ForbiddenError, SettingError
from custodes.store import Store
from custodes.store._models import Actor, WebAccount, WebToken, timestamp

__all__ = [
    "MIN_PASSWORD",
    "Unlocked",
    "account_stamp",
    "accounts",
    "issue_token",
    "log_in",
    "revoke_token",
    "set_password",
    "token_log_in",
    "tokens_of",
]

MIN_PASSWORD = 12
"""The shortest password an account takes (its hash and seal are on the operator's disk)."""
_HASHER = PasswordHasher()  # argon2id, t = 3, m = 64 MiB, p = 4
_SEAL = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
_FORMAT = "custodes-web-sealed-key-v1"
_TOKEN_PREFIX = "cst_"
_DUMMY = _HASHER.hash("not an account: equal time for unknown names")
REFUSED = "the name or the password is wrong."


@dataclass(frozen=True)
class Unlocked:
    """A login: the actor and its private key, opened for this session only."""

    actor: str
    key: Ed25519PrivateKey
    token: str | None = None
    """The API token's id, when the login is a token's."""
    stamp: str | None = None
    """When the account's password was set, at login: a new password ends the session."""


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _public_hex(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        .hex()
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _stretch(password: str, salt: bytes) -> bytes:
    return hash_secret_raw(password.encode("utf-8"), salt, hash_len=32, type=Type.ID, **_SEAL)


def _derive(token: str) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=_FORMAT.encode()).derive(token.encode())


def _seal(key: Ed25519PrivateKey, secret: bytes, salt: bytes) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(secret).encrypt(nonce, _seed(key), _FORMAT.encode("ascii"))
    return json.dumps(
        {"format": _FORMAT, "salt": _b64(salt), "nonce": _b64(nonce), "sealed": _b64(sealed)}
    )


def _salt(record: str) -> bytes:
    return base64.b64decode(json.loads(record)["salt"], validate=True)


def _unseal(record: str, secret: bytes) -> Ed25519PrivateKey | None:
    try:
        data = json.loads(record)
        nonce = base64.b64decode(data["nonce"], validate=True)
        sealed = base64.b64decode(data["sealed"], validate=True)
        seed = AESGCM(secret).decrypt(nonce, sealed, _FORMAT.encode("ascii"))
        return Ed25519PrivateKey.from_private_bytes(seed)
    except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
        return None


def _registered(store: Store, actor: str) -> str | None:
    with store.transaction() as session:
        row = session.get(Actor, actor)
        return None if row is None else row.public_key


def set_password(store: Store, actor: str, key: Ed25519PrivateKey, password: str) -> None:
    """Give ``actor`` a web login with ``password``, unlocking ``key`` (which must be the
    actor's registered key: anything else would sign steps the ledger refuses)."""
    if len(password) < MIN_PASSWORD:
        raise SettingError(
            f"a web password has at least {MIN_PASSWORD} characters (its hash and the sealed "
            f"key are on the server's disk); choose a longer one."
        )
    registered = _registered(store, actor)
    if registered is None:
        raise SettingError(
            f"{actor!r} is not a registered actor with a key; register it first "
            f"(custodes actor add / custodes actor key)."
        )
    if not hmac.compare_digest(registered, _public_hex(key)):
        raise ForbiddenError(f"the key given is not {actor!r}'s registered key.")
    salt = os.urandom(16)
    sealed = _seal(key, _stretch(password, salt), salt)
    now = timestamp()
    with store.transaction() as session:
        row = session.get(WebAccount, actor)
        if row is None:
            row = WebAccount(actor=actor, created_at=now)
            session.add(row)
        row.password_hash = _HASHER.hash(password)
        row.sealed_key = sealed
        row.public_key = registered
        row.updated_at = f"{now}#{secrets.token_hex(4)}"  # a new stamp, even in the same second
        # A new password ends what the old one opened: the actor's tokens are revoked (and
        # its sessions end at their next request, see :func:`account_stamp`).
        for token in session.execute(
            select(WebToken).where(WebToken.actor == actor, WebToken.revoked_at.is_(None))
        ).scalars():
            token.revoked_at = now


def log_in(store: Store, actor: str, password: str) -> Unlocked:
    """The session key of ``actor`` logging in with ``password``; :class:`ForbiddenError`
    (one message for an unknown name and a wrong password) when refused."""
    with store.transaction() as session:
        row = session.get(WebAccount, actor)
        account = None if row is None else (row.password_hash, row.sealed_key, row.updated_at)
    if account is None:
        _verify(_DUMMY, password)
        raise ForbiddenError(REFUSED)
    if not _verify(account[0], password):
        raise ForbiddenError(REFUSED)
    key = _unseal(account[1], _stretch(password, _salt(account[1])))
    if key is None:
        raise ForbiddenError(REFUSED)
    _check_registered(store, actor, key)
    return Unlocked(actor, key, stamp=account[2])


def account_stamp(store: Store, actor: str) -> str | None:
    """The stamp of ``actor``'s password (None: no account)."""
    with store.transaction() as session:
        row = session.get(WebAccount, actor)
        return None if row is None else row.updated_at


def tokens_of(store: Store, actor: str) -> list[dict[str, str | None]]:
    """``actor``'s API tokens: id, label, made, expires, revoked (never the token)."""
    with store.transaction() as session:
        rows = session.execute(
            select(WebToken).where(WebToken.actor == actor).order_by(WebToken.created_at)
        ).scalars()
        return [
            {"id": r.id, "label": r.label, "created_at": r.created_at,
             "expires_at": r.expires_at, "revoked_at": r.revoked_at}
            for r in rows
        ]  # fmt: skip


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_registered(store: Store, actor: str, key: Ed25519PrivateKey) -> None:
    registered = _registered(store, actor)
    if registered is None or not hmac.compare_digest(registered, _public_hex(key)):
        raise ForbiddenError(
            f"{actor!r}'s web login opens a key that is not (or no longer) the actor's "
            f"registered key; set the password again with the current key."
        )


def issue_token(
    store: Store, who: Unlocked, label: str, days: int = 90
) -> tuple[str, dict[str, str]]:
    """A new API token for the logged-in actor: the token (shown once) and its record."""
    if not 1 <= days <= 366:
        raise SettingError("an API token lasts 1 to 366 days.")
    label = label.strip()[:200] or "API token"
    token_id = secrets.token_hex(8)
    token = f"{_TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    expires = (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")
    record = {"id": token_id, "label": label, "expires_at": expires.replace("+00:00", "Z")}
    with store.transaction() as session:
        session.add(
            WebToken(
                id=token_id,
                actor=who.actor,
                token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                sealed_key=_seal(who.key, _derive(token), b""),
                label=label,
                created_at=timestamp(),
                expires_at=record["expires_at"],
            )
        )
    return token, record


def token_log_in(store: Store, token: str) -> Unlocked:
    """The actor and key an API token unlocks; :class:`ForbiddenError` when refused."""
    digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
    with store.transaction() as session:
        row = session.execute(
            select(WebToken).where(WebToken.token_sha256 == digest)
        ).scalar_one_or_none()
        found = None if row is None else (row.id, row.actor, row.sealed_key, row.expires_at)
        revoked = row is not None and row.revoked_at is not None
    if found is None or revoked or found[3] <= timestamp():
        raise ForbiddenError("the API token is unknown, revoked or expired.")
    key = _unseal(found[2], _derive(token))
    if key is None:
        raise ForbiddenError("the API token is unknown, revoked or expired.")
    _check_registered(store, found[1], key)
    return Unlocked(found[1], key, found[0])


def revoke_token(store: Store, actor: str, token_id: str) -> None:
    """Revoke one of ``actor``'s API tokens."""
    with store.transaction() as session:
        row = session.get(WebToken, token_id)
        if row is None or row.actor != actor:
            raise SettingError(f"no API token {token_id!r} of yours.")
        row.revoked_at = row.revoked_at or timestamp()


def accounts(store: Store) -> list[dict[str, str]]:
    """The web accounts (actor, created, updated): no hash, no seal."""
    with store.transaction() as session:
        rows = session.execute(select(WebAccount).order_by(WebAccount.actor)).scalars()
        return [
            {"actor": r.actor, "created_at": r.created_at, "updated_at": r.updated_at} for r in rows
        ]
