"""The ledger's Ed25519 key pair: created once per workspace, private key mode 0600."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custodes.errors import DataFileError, SettingError

__all__ = [
    "fingerprint",
    "load_or_create_key",
    "load_private_key",
    "load_public_key",
    "parse_private_pem",
    "private_pem",
    "public_key_hex",
    "public_key_text",
    "verify_signature",
]


def load_or_create_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The private key at ``path``, made (mode 0600) when missing; and whether it was made."""
    if path.exists():
        return load_private_key(path), False
    key = Ed25519PrivateKey.generate()
    pem = private_pem(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    except FileExistsError:  # another process made it first
        return load_private_key(path), False
    except OSError as exc:
        raise DataFileError(
            f"cannot write the signing key {str(path)!r}: {exc.strerror}."
        ) from None
    return key, True


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The ledger's private key (PEM, PKCS#8)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(
            f"signing key {str(path)!r} does not exist; run `custodes init` first."
        ) from None
    except OSError as exc:
        raise DataFileError(f"cannot read the signing key {str(path)!r}: {exc.strerror}.") from None
    return parse_private_pem(data, path, "a PEM private key")


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """A private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def parse_private_pem(data: bytes, path: Path, what: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PKCS#8 PEM ``data`` read from ``path`` (``what`` names
    what the file should have been, in the error)."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise SettingError(f"{path} is not {what}.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingError(f"{path} is not an Ed25519 key; custodes signs with Ed25519.")
    return key


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as base64 of its 32 raw bytes (what exports and heads carry)."""
    return base64.b64encode(_raw(key)).decode("ascii")


def public_key_hex(key: Ed25519PublicKey) -> str:
    """The public key as hex of its 32 raw bytes (how an actor's key is registered)."""
    return _raw(key).hex()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex, first 16 characters."""
    return hashlib.sha256(_raw(key)).hexdigest()[:16]


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key file: PEM (SubjectPublicKeyInfo) or base64 of the 32 raw bytes."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFileError(f"public key {str(path)!r} does not exist.") from None
    except OSError as exc:
        raise DataFileError(f"cannot read the public key {str(path)!r}: {exc.strerror}.") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if isinstance(key, Ed25519PublicKey):
                return key
            raise ValueError
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    except (ValueError, TypeError):
        raise SettingError(
            f"{path} is not an Ed25519 public key (PEM, or base64 of 32 bytes); export it with "
            "the workspace's keys/ledger.pub (written by `custodes init`)."
        ) from None


def verify_signature(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is the key's signature of ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
