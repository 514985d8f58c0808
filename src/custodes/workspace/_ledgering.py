"""The ledger for the faces: export, heads, proofs and offline verification."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodes.workspace._core import WorkspaceCore

if TYPE_CHECKING:  # the store and the ledger load on first use (SQLAlchemy is slow)
    from custodes.ledger import Ledger, SignedHead, Verification

__all__ = ["LedgerFace"]


class LedgerFace(WorkspaceCore):
    """What the command line and a server need of the ledger, so that no face opens a
    ledger or reads a key itself."""

    def export_ledger(self, path: str | os.PathLike[str]) -> int:
        """Write every entry and signed head to ``path`` (JSON Lines) for an auditor; its size."""
        return self.ledger.export(path)

    def sign_head(self) -> SignedHead:
        """Sign (and store) a tree head for the ledger as it is now."""
        return self.ledger.sign_head()

    def inclusion_proof(self, entry: int, size: int | None = None) -> dict[str, Any]:
        """A proof that entry ``entry`` is in the signed head of ``size`` (default: newest)."""
        with self._proving() as ledger:
            return ledger.inclusion_proof(entry, size)

    def consistency_proof(self, old: int, new: int | None = None) -> dict[str, Any]:
        """A proof that the signed head of size ``old`` is a prefix of a newer one."""
        with self._proving() as ledger:
            return ledger.consistency_proof(old, new)

    @contextmanager
    def _proving(self) -> Iterator[Ledger]:
        """The ledger for proofs. With the key, a head is signed when none covers the
        entry yet; without it (an auditor's copy of the store), the heads must exist."""
        if self.settings.signing_key_path().exists():
            yield self.ledger
            return
        from custodes.ledger import open_ledger

        ledger = open_ledger(self.settings, signing=False)
        try:
            yield ledger
        finally:
            ledger.store.dispose()

    @staticmethod
    def verify_ledger(
        export: str | os.PathLike[str],
        public_key: str | os.PathLike[str],
        trusted_head: str | os.PathLike[str] | None = None,
    ) -> Verification:
        """Verify a ledger export offline with the ledger's public key (no store needed),
        and its chain of authority (:class:`custodes.governance._authority.Authority`: every
        step signed by its actor's registered key, with the role it needs).

        ``trusted_head`` is a signed head saved earlier: the export must extend it.
        """
        from custodes.governance._authority import Authority
        from custodes.ledger import load_head, load_public_key, verify_export

        key = load_public_key(Path(public_key))
        trusted = load_head(trusted_head, key) if trusted_head is not None else None
        authority = Authority()
        try:
            found = verify_export(export, key, trusted, on_entry=authority.see)
            authority.finish()
        finally:
            authority.close()
        return found
