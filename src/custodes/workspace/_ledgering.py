"""The ledger for the faces: export, heads, proofs, witnesses and verification."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodes.workspace._core import WorkspaceCore

if TYPE_CHECKING:  # the store and the ledger load on first use (SQLAlchemy is slow)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from custodes.governance import Governance, KeyLike
    from custodes.ledger import Ledger, SignedHead, Verification, WitnessedHead

Paths = Sequence[str | os.PathLike[str]]

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
        witnessed: Paths = (),
    ) -> Verification:
        """Verify a ledger export offline with the ledger's public key (no store needed),
        and its chain of authority (:class:`custodes.governance._authority.Authority`: every
        step signed by its actor's registered key, with the role it needs).

        ``trusted_head`` is a signed head saved earlier, ``witnessed`` files of heads a
        witness countersigned (``custodes audit witness``): the export must extend each.
        """
        from custodes.governance._authority import with_authority
        from custodes.ledger import load_head, load_public_key, load_witnessed, verify_export

        key = load_public_key(Path(public_key))
        trusted = load_head(trusted_head, key) if trusted_head is not None else None
        heads = [load_witnessed(w) for w in witnessed]
        return with_authority(lambda see: verify_export(export, key, trusted, heads, on_entry=see))

    if TYPE_CHECKING:

        def governance(
            self, actor: str, policy: Any = None, *, key: KeyLike | None = None
        ) -> Governance:
            """Governance acting as ``actor`` (the :class:`Workspace` gives it)."""

    def _public_key(self, public_key: str | os.PathLike[str] | None = None) -> Ed25519PublicKey:
        """The ledger's public key: the file given, else the workspace's keys/ledger.pub."""
        from custodes.ledger import load_public_key

        path = self.settings.signing_key_path().with_suffix(".pub")
        return load_public_key(Path(public_key) if public_key is not None else path)

    def witness_head(
        self,
        actor: str,
        key: str | os.PathLike[str] | None = None,
        output: str | os.PathLike[str] | None = None,
        *,
        size: int | None = None,
    ) -> WitnessedHead:
        """Countersign the newest signed head (or the one of ``size``) as the witness
        ``actor`` (an auditor) with the witness's private ``key`` (default: the actor's
        own personal key), keep it on the ledger (``head.witnessed``, signed by the actor)
        and write it to ``output``.

        A head over every entry is signed first when the newest covers fewer. The
        head's workspace signature is checked, and so is its consistency with the
        witnessed heads the ledger keeps: a witness never countersigns a rewritten history.
        """
        from custodes._files import write_atomic
        from custodes.errors import InvalidInputError, TamperedError
        from custodes.governance import record_witnessed_head
        from custodes.ledger import (
            WitnessedHead,
            load_witness_key,
            recorded_witnesses,
            witness_anomalies,
        )

        private = (
            self.actor_key(actor)
            if key is None
            else load_witness_key(key, self.passphrase(Path(key)))
        )
        public = self._public_key()
        ledger = self.ledger
        heads = ledger.heads()
        if size is None:
            head = heads[-1] if heads and heads[-1].size == ledger.size() else ledger.sign_head()
        else:
            found = [h for h in heads if h.size == size]
            if not found:
                raise InvalidInputError(
                    f"--size {size}: no signed head has that size (sizes: "
                    f"{', '.join(str(h.size) for h in heads[-5:]) or 'none'}); leave --size out "
                    "to countersign the newest."
                )
            head = found[0]
        if not head.verify(public):
            raise TamperedError(
                f"the signed head of size {head.size} is not signed by the workspace's key "
                "(keys/ledger.pub); a witness countersigns only the workspace's own heads."
            )
        witnessed = WitnessedHead.sign(head, actor, private)
        with ledger.store.transaction() as session:
            kept = recorded_witnesses(session)
        problems = witness_anomalies(ledger, public, [*kept, witnessed])
        if problems:
            raise TamperedError(f"not countersigned: {'; '.join(problems)}.")
        record_witnessed_head(self.governance(actor), witnessed)
        if output is not None:
            write_atomic(output, json.dumps(witnessed.to_dict(), indent=2) + "\n")
        return witnessed

    def witnessed_heads(self) -> list[WitnessedHead]:
        """The witnessed heads the ledger keeps (``head.witnessed`` entries), oldest first."""
        from custodes.ledger import recorded_witnesses

        with self.store.transaction() as session:
            return recorded_witnesses(session)

    def signed_heads(self) -> list[SignedHead]:
        """Every signed tree head, by size."""
        return self.ledger.heads()

    def check_ledger(
        self, witnessed: Paths = (), public_key: str | os.PathLike[str] | None = None
    ) -> list[str]:
        """The workspace's ledger checked as an auditor would (empty: all is well).

        It is exported and verified offline with ``public_key`` (default: the
        workspace's) with its chain of authority (every actor's signature and role),
        and a consistency proof is demanded from every witnessed head
        the ledger keeps and every ``witnessed`` file given, to the newest head:
        each failure names the witnessed size.
        """
        from custodes.errors import TamperedError
        from custodes.governance._authority import ledger_problems
        from custodes.ledger import load_witnessed

        heads = [load_witnessed(w) for w in witnessed]
        try:
            return ledger_problems(self.ledger, self._public_key(public_key), heads)
        except TamperedError as exc:  # the chain of authority, as the audit checks it
            return [exc.message.rstrip(".")]
