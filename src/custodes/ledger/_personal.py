"""Personal keys: each actor's Ed25519 key pair, and its signature beside each entry.

An actor's private key lives in a file outside the workspace (mode 0600),
either as unencrypted PKCS#8 PEM or encrypted under a passphrase: the
passphrase is stretched with scrypt (``cryptography``'s KDF, n = 2^15, r = 8,
p = 1) into an AES-256-GCM key that seals the 32-byte private seed. The
workspace knows only the public key, registered on the ledger by an admin.

The actor signs :func:`actor_message` of the actor's chain at the entry:
SHA-256 over the chain at the actor's previous entry, that entry's actor
signature and this entry's leaf hash (the leaf hash is SHA-256 over the
canonical entry, its index and time included). One signature so covers every
entry the actor made and every signature the actor gave before it: an
offline verifier checks the last signature of each actor's key (the
earlier ones only when that fails, to name the first bad entry). Entries
signed before the chain (``custodes-actor-entry-v1``: the leaf alone) still
verify one by one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from custodes.errors import DataFileError, ForbiddenError, SettingError
from custodes.ledger._keys import parse_private_pem, private_pem

__all__ = [
    "ACTOR_DOMAIN",
    "CHAIN_START",
    "ENCRYPTED_FORMAT",
    "actor_chain",
    "actor_message",
    "legacy_actor_message",
    "load_actor_key",
    "public_key_from_text",
    "write_actor_key",
]

ACTOR_DOMAIN = b"custodes-actor-entry-v2\x00"
_LEGACY_DOMAIN = b"custodes-actor-entry-v1\x00"
_CHAIN_DOMAIN = b"custodes-actor-chain-v1\x00"
CHAIN_START = bytes(32)
"""The chain before an actor's first entry."""
ENCRYPTED_FORMAT = "custodes-encrypted-ed25519-key"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_MAX_KEY_FILE = 64 * 1024


def actor_chain(previous: bytes, previous_signature: bytes, leaf: bytes) -> bytes:
    """An actor's chain at an entry: ``previous`` (the chain at the actor's previous entry,
    :data:`CHAIN_START` before the first), that entry's actor signature (64 bytes; empty
    before the first) and this entry's ``leaf`` hash."""
    return hashlib.sha256(_CHAIN_DOMAIN + previous + previous_signature + leaf).digest()


def actor_message(chain: bytes) -> bytes:
    """What an actor's signature of an entry signs: the domain and the actor's chain there
    (:func:`actor_chain`)."""
    return ACTOR_DOMAIN + chain


def legacy_actor_message(leaf: bytes) -> bytes:
    """What an actor signed before the chain: the entry's leaf hash alone."""
    return _LEGACY_DOMAIN + leaf


def public_key_from_text(text: str, where: str = "the public key") -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, binascii.Error):
        raise SettingError(f"{where} is not an Ed25519 public key (base64 of 32 bytes).") from None


def _seal(key: Ed25519PrivateKey, passphrase: str) -> bytes:
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    salt, nonce = os.urandom(16), os.urandom(12)
    secret = Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode("utf-8"))
    sealed = AESGCM(secret).encrypt(nonce, seed, ENCRYPTED_FORMAT.encode("ascii"))
    record = {
        "format": ENCRYPTED_FORMAT,
        "kdf": {"name": "scrypt", "salt": base64.b64encode(salt).decode("ascii"), **_SCRYPT},
        "cipher": "aes-256-gcm",
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "sealed": base64.b64encode(sealed).decode("ascii"),
    }
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("ascii")


def _unseal(data: bytes, passphrase: str, path: Path) -> Ed25519PrivateKey:
    try:
        record = json.loads(data)
        kdf = record["kdf"]
        if record["format"] != ENCRYPTED_FORMAT or kdf["name"] != "scrypt":
            raise ValueError
        if int(kdf["n"]) > 2**20 or int(kdf["r"]) > 16 or int(kdf["p"]) > 4:
            raise ValueError  # a file that would take the machine's memory or hours
        secret = Scrypt(
            salt=base64.b64decode(kdf["salt"], validate=True),
            length=32,
            n=int(kdf["n"]),
            r=int(kdf["r"]),
            p=int(kdf["p"]),
        ).derive(passphrase.encode("utf-8"))
        nonce = base64.b64decode(record["nonce"], validate=True)
        sealed = base64.b64decode(record["sealed"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error, MemoryError):
        raise SettingError(f"{path} is not a custodes encrypted key file.") from None
    try:
        seed = AESGCM(secret).decrypt(nonce, sealed, ENCRYPTED_FORMAT.encode("ascii"))
    except InvalidTag:
        raise ForbiddenError(f"the passphrase does not open the key {path}.") from None
    except ValueError:  # a nonce of the wrong size
        raise SettingError(f"{path} is not a custodes encrypted key file.") from None
    try:
        return Ed25519PrivateKey.from_private_bytes(seed)
    except ValueError:
        raise SettingError(f"{path} is not a custodes encrypted key file.") from None


def write_actor_key(
    path: str | os.PathLike[str], passphrase: str | None = None
) -> Ed25519PrivateKey:
    """Make a key pair and write its private key to ``path`` (mode 0600, never over an
    existing file; encrypted when a passphrase is given); the private key."""
    target = Path(path)
    key = Ed25519PrivateKey.generate()
    if passphrase is not None and not passphrase:
        raise SettingError("the key's passphrase is empty; give one, or none for no encryption.")
    data = _seal(key, passphrase) if passphrase else private_pem(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SettingError(
            f"{target} exists already; a key file is never overwritten (choose another path, "
            "or remove the old key after rotating to a new one)."
        ) from None
    except OSError as exc:
        raise DataFileError(f"cannot write the key {str(target)!r}: {exc.strerror}.") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return key


def load_actor_key(
    path: str | os.PathLike[str], passphrase: str | None = None
) -> Ed25519PrivateKey:
    """An actor's private key: PKCS#8 PEM, or a custodes encrypted key file (which needs
    ``passphrase``)."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE + 1)
    except FileNotFoundError:
        raise ForbiddenError(
            f"the key file {str(source)!r} does not exist; give the acting actor's private key "
            "(--key FILE, the key setting or CUSTODES_KEY)."
        ) from None
    except OSError as exc:
        raise DataFileError(f"cannot read the key {str(source)!r}: {exc.strerror}.") from None
    if len(data) > _MAX_KEY_FILE:
        raise DataFileError(
            f"{source} is not a key file (over {_MAX_KEY_FILE // 1024} KiB); give the actor's "
            "private key."
        )
    if data.lstrip().startswith(b"{"):
        if passphrase is None:
            raise ForbiddenError(
                f"the key {source} is encrypted; give its passphrase in CUSTODES_KEY_PASSPHRASE "
                "(or type it when asked)."
            )
        return _unseal(data, passphrase, source)
    return parse_private_pem(data, source, "a private key (PKCS#8 PEM or a custodes encrypted key)")
