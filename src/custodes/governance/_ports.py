"""What governance needs from the deployment it runs in, as narrow protocols.

Governance never imports the workspace: it receives a :class:`Preparer`,
which the :class:`~custodes.workspace.Workspace` satisfies structurally (and
a test double or a server can too). A preparer gives the settings, the one
ledger (and through it the store), the workspace folder, a scan of a source,
the anonymization of a source into a staged file, and the book of release
records, which the release step writes in its own transaction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy.orm import Session

    from custodes._files import StagedFile
    from custodes.anonymize import Anonymization, AnonymizationSpec
    from custodes.anonymize._mosaic import MosaicCheck
    from custodes.detect import ScanResult
    from custodes.ledger import Ledger
    from custodes.risk import Assessment
    from custodes.settings import Settings

__all__ = ["Preparer", "ReleaseBook"]


class ReleaseBook(Protocol):
    """Where release records are kept (:class:`custodes.release.ReleaseBook`).

    Governance decides who may receive; the book only records what was
    released, revoked or expired, in the caller's transaction.
    """

    def record(
        self,
        session: Session,
        *,
        request_id: str,
        recipient: str,
        dataset: str,
        dataset_version: int,
        sharing_model: str,
        generalization: Mapping[str, Mapping[str, Any]],
        local_cuts: Mapping[str, Sequence[str]] | None,
        artifact_sha256: str | None,
        delivered_sha256: str | None,
        terms: str,
        term_end: str,
        released_at: str,
        ledger_index: int,
        view_sha256: str | None = None,
    ) -> str:
        """Record a release; its id."""
        ...

    def held_in(self, session: Session, recipient: str | None, today: str) -> Sequence[Any]:
        """The release records ``recipient`` holds (its live releases and every live open
        publication; None: every live release), oldest first."""
        ...

    def revoke(self, session: Session, request_id: str, *, at: str, reason_sha256: str) -> None:
        """Mark the releases of a request revoked."""
        ...

    def expire(self, session: Session, request_id: str, *, at: str) -> None:
        """Mark the releases of a request expired."""
        ...


class Preparer(Protocol):
    """The operations governance uses: what it reads, scans, prepares and records with."""

    @property
    def settings(self) -> Settings:
        """The deployment's settings (the governance policy's path among them)."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The one ledger (its ``store`` is the one store)."""
        ...

    @property
    def path(self) -> Path:
        """The workspace folder (release files, the pseudonym key)."""
        ...

    @property
    def releases(self) -> ReleaseBook:
        """The book of release records."""
        ...

    def file_hash(self, path: Path) -> str:
        """A file's SHA-256 (the deployment may remember it while the file is unchanged)."""
        ...

    def actor_key(self, actor: str) -> Ed25519PrivateKey:
        """``actor``'s private key, from where the deployment keeps it for whoever acts (the
        key setting, else the keyring); refused (forbidden) when it is not there."""
        ...

    def new_key_path(self, actor: str) -> Path:
        """Where :meth:`new_actor_key` writes ``actor``'s private key."""
        ...

    def new_actor_key(self, actor: str) -> Ed25519PrivateKey:
        """A new key pair for ``actor``, its private key written to the keyring (outside the
        workspace, mode 0600)."""
        ...

    def scan(
        self,
        table: str | os.PathLike[str],
        *,
        read_options: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> ScanResult:
        """Scan a registered source (recorded on the ledger as ``actor``)."""
        ...

    def assess(
        self,
        table: str | os.PathLike[str],
        *,
        quasi_identifiers: Sequence[str],
        sensitive: Sequence[str] | None = None,
        read_options: Mapping[str, Any] | None = None,
    ) -> Assessment:
        """Measure a registered source's re-identification risk (nothing recorded)."""
        ...

    def anonymize(
        self,
        table: str | os.PathLike[str],
        spec: AnonymizationSpec,
        *,
        output: StagedFile | None = None,
        read_options: Mapping[str, Any] | None = None,
        record: bool = True,
        columns: Sequence[str] | None = None,
        mosaic: MosaicCheck | None = None,
        mosaic_safe: bool = False,
    ) -> Anonymization:
        """Run a plan on a source into a staged file that the caller commits (reading the
        records the mosaic check needs, and with ``mosaic_safe`` taking it as a constraint)."""
        ...
