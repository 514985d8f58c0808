"""What a workspace owns: its settings, engine, store and ledger, and how it records."""

from __future__ import annotations

import functools
import getpass
import os
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from custodes._cache import FileHashes
from custodes.engines import Engine, get_engine
from custodes.settings import Settings, load_settings

if TYPE_CHECKING:  # the store and the ledger load on first use (SQLAlchemy is slow)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custodes.ledger import Ledger
    from custodes.release import ReleaseBook
    from custodes.store import Store
    from custodes.workspace._create import InitResult

__all__ = ["FILE_HASHES", "WorkspaceCore", "current_actor"]


def _passphrase_from_environment(path: Path) -> str | None:
    return os.environ.get("CUSTODES_KEY_PASSPHRASE")


def _file_name(actor: str) -> str:
    """An actor's name as a file name (any other character as its code point)."""
    return "".join(c if c.isalnum() or c in "-_." else f"%{ord(c):x}" for c in actor)


FILE_HASHES = 256
"""How many files' hashes a workspace remembers (least recently used dropped)."""


class WorkspaceCore:
    """A workspace's settings, engine, store and ledger (opened once, on first use, and
    closed by :meth:`close` or when the workspace is garbage-collected)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.engine: Engine = get_engine(self.settings.engine)
        self._ledger: Ledger | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.passphrase: Callable[[Path], str | None] = _passphrase_from_environment
        """The passphrase of an encrypted key file (default: $CUSTODES_KEY_PASSPHRASE; the
        command line asks for it when that is not set)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def init(self) -> InitResult:
        """Create (or check) the workspace: folder, store, migrations, signing key."""
        self.close()  # a store opened before may have had an older schema
        from custodes.workspace._create import init_workspace

        return init_workspace(self.settings)

    @property
    def ledger(self) -> Ledger:
        """The workspace's ledger, opened once; every entry is screened for personal data."""
        if self._ledger is None:
            from custodes.detect import personal_data_in
            from custodes.ledger import open_ledger

            ledger = open_ledger(self.settings, screen=personal_data_in)
            self._finalizer = weakref.finalize(self, ledger.store.dispose)
            self._ledger = ledger
        return self._ledger

    @property
    def store(self) -> Store:
        """The workspace's store (the ledger's)."""
        return self.ledger.store

    def close(self) -> None:
        """Close the store's connections (the workspace opens them again when needed)."""
        if self._finalizer is not None:
            self._finalizer()
        self._ledger = None
        self._finalizer = None

    @property
    def releases(self) -> ReleaseBook:
        """The book of release records, in the workspace's store."""
        from custodes.release import ReleaseBook

        return ReleaseBook(self.store)

    @property
    def path(self) -> Path:
        """The workspace folder."""
        return self.settings.workspace

    def keyring_folder(self) -> Path:
        """This workspace's folder in the keyring: named by the ledger key's fingerprint, so
        that actors of the same name in two workspaces never share a key."""
        from custodes.ledger import fingerprint, load_public_key

        public = load_public_key(self.settings.signing_key_path().with_suffix(".pub"))
        return self.settings.keyring_path() / fingerprint(public)

    def actor_key_path(self, actor: str) -> Path:
        """Where ``actor``'s private key is: the key setting, else the keyring's file."""
        if self.settings.key:
            return Path(self.settings.key)
        return self.keyring_folder() / f"{_file_name(actor)}.key"

    def actor_key(self, actor: str) -> Ed25519PrivateKey:
        """``actor``'s private key (see :meth:`actor_key_path`)."""
        from custodes.ledger import load_actor_key

        path = self.actor_key_path(actor)
        return load_actor_key(path, self.passphrase(path) if path.is_file() else None)

    def new_key_path(self, actor: str) -> Path:
        """Where :meth:`new_actor_key` writes ``actor``'s private key: the keyring."""
        return self.keyring_folder() / f"{_file_name(actor)}.key"

    def new_actor_key(self, actor: str) -> Ed25519PrivateKey:
        """A new key pair for ``actor``, its private key written (mode 0600) into the
        keyring; a key already there is never overwritten (it is moved aside)."""
        from custodes.ledger import write_actor_key

        path = self.new_key_path(actor)
        if path.exists():
            path.replace(path.with_name(f"{path.name}.{os.getpid()}.{id(self)}.old"))
        return write_actor_key(path, os.environ.get("CUSTODES_NEW_KEY_PASSPHRASE") or None)

    def initialized(self) -> bool:
        """Whether ``custodes init`` set this workspace up (its signing key exists)."""
        return self.settings.signing_key_path().is_file()

    def _relative(self, name: str | os.PathLike[str], *, file: bool = False) -> str:
        """How the ledger names a file: relative to the workspace folder, never absolutely.
        A name that is neither a ``file`` nor an existing or absolute path (a database
        table's, a frame's) stays as it is."""
        if not file and not os.path.isabs(name) and not Path(name).exists():
            return os.fspath(name)
        return os.path.relpath(Path(name).resolve(), self.path.resolve())

    def record(
        self, event: str, subject: str, payload: Mapping[str, Any], actor: str | None = None
    ) -> int | None:
        """Append an event to the workspace's ledger (None when it has none yet).

        ``actor`` is who acted (default: $CUSTODES_ACTOR, else the system user).
        """
        if not self.initialized():
            return None
        from custodes.detect import hash_personal

        # Column names and other strings that are personal data go to the ledger hashed.
        subject, payload = hash_personal(subject, payload)
        with self.store.transaction() as session:
            return self.ledger.append(session, event, actor or current_actor(), subject, payload)

    def file_hash(self, path: Path) -> str:
        """The SHA-256 of a file, remembered while its size, inode and time stay the same
        (the workspace remembers a bounded number of files)."""
        return self._file_hashes.of(path)

    @functools.cached_property
    def _file_hashes(self) -> FileHashes:
        return FileHashes(FILE_HASHES)


def current_actor() -> str:
    """Who is acting: $CUSTODES_ACTOR, else the operating-system user."""
    return os.environ.get("CUSTODES_ACTOR") or getpass.getuser()
