"""The workspace's health: what killed processes and interrupted steps left behind.

Every file custodes writes goes to a temporary name first
(``.NAME.custodes-PID-RANDOM.tmp``) and is renamed once complete; an output
with a manifest or a governed release is renamed only once its manifest,
ledger entry or release exists. A process killed on the way leaves, at
worst:

- a stale temporary file (its writer's process is gone): harmless, removed
  by the next run that writes the same file, or by ``--fix``;
- a release file of a request that is not released (killed between the
  rename and the commit of ``request release``): the request is still
  approved; release it again, which replaces the file, or remove it;
- a staged file of a request never prepared (the same, for
  ``request prepare``);
- an output whose recorded manifest is gone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import stale_temporaries, temporary_target
from custodes.settings import Settings
from custodes.store import LedgerEntry, Request, Store

__all__ = ["Checkup", "Finding", "checkup"]

KINDS = ("stale_temporary", "unreleased_artifact", "unprepared_artifact", "missing_manifest")


@dataclass(frozen=True)
class Finding:
    """One leftover: its kind (one of :data:`KINDS`), the file, what it means and what to do."""

    kind: str
    path: str
    detail: str
    fixed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "path": self.path, "detail": self.detail, "fixed": self.fixed}


@dataclass(frozen=True)
class Checkup:
    """What ``custodes doctor`` found in a workspace (and the folders it was given)."""

    workspace: str
    findings: tuple[Finding, ...]

    @property
    def healthy(self) -> bool:
        """Nothing found, or everything found was fixed."""
        return all(f.fixed for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "workspace": self.workspace,
            "healthy": self.healthy,
            "findings": [f.to_dict() for f in self.findings],
        }


def checkup(
    settings: Settings,
    store: Store | None,
    *,
    folders: Iterable[str | os.PathLike[str]] = (),
    fix: bool = False,
) -> Checkup:
    """Look for leftovers in the workspace (the store's records too, given ``store``).

    ``folders`` are searched for stale temporary files as well (where
    outputs and ledger exports go). With ``fix`` stale temporary files are
    removed; nothing else is touched.
    """
    workspace = settings.workspace
    findings: list[Finding] = []
    seen: set[Path] = set()
    for folder in (workspace, *(Path(f) for f in folders)):
        for path in stale_temporaries(Path(folder)):
            if path in seen:
                continue
            seen.add(path)
            parsed = temporary_target(path)
            assert parsed is not None
            fixed = False
            if fix:
                path.unlink(missing_ok=True)
                fixed = True
            findings.append(
                Finding(
                    "stale_temporary",
                    str(path),
                    f"an unfinished write of {parsed[0].name} by process {parsed[1]}, which is "
                    "gone; the next run writing that file removes it (or custodes doctor --fix)",
                    fixed,
                )
            )
    if store is not None:
        with store.transaction() as session:
            findings += _artifacts(workspace / "releases", session)
            findings += _manifests(session, Path(workspace))
    return Checkup(str(workspace), tuple(findings))


def _artifacts(releases: Path, session: Session) -> list[Finding]:
    """Release and staged files of requests whose release or preparation never committed."""
    found: list[Finding] = []
    if not releases.is_dir():
        return found
    for folder in sorted(p for p in releases.iterdir() if p.is_dir()):
        row = session.get(Request, folder.name)
        for path in sorted(folder.iterdir()):
            if not path.is_file() or temporary_target(path) is not None:
                continue
            state = "unknown" if row is None else row.state.replace("_", " ")
            if path.stem == "release" and (row is None or row.release is None):
                found.append(
                    Finding(
                        "unreleased_artifact",
                        str(path),
                        f"a release file of request {folder.name}, which is {state}, not "
                        "released: a release interrupted before its commit; release the request "
                        "again (the file is replaced) or remove the file",
                    )
                )
            elif path.stem == "staged" and (row is None or row.artifact_sha256 is None):
                found.append(
                    Finding(
                        "unprepared_artifact",
                        str(path),
                        f"a prepared file of request {folder.name}, which is {state}: a "
                        "preparation interrupted before its commit; prepare the request again "
                        "or remove the file",
                    )
                )
    return found


def _manifests(session: Session, workspace: Path) -> list[Finding]:
    """Outputs recorded with a manifest that is no longer there (the ledger names them
    relative to the workspace folder; entries of older versions, absolutely)."""
    found: list[Finding] = []
    entries = session.execute(
        select(LedgerEntry.entry)
        .where(LedgerEntry.entry.contains('"type":"anonymization.made"'))
        .order_by(LedgerEntry.index)
    ).scalars()
    newest: dict[str, str] = {}  # an output written again belongs to its newest entry
    for text in entries:
        payload = json.loads(text).get("payload", {})
        output, manifest = payload.get("output_path"), payload.get("manifest_path")
        if isinstance(output, str) and isinstance(manifest, str):
            newest[os.path.normpath(workspace.resolve() / output)] = os.path.normpath(
                workspace.resolve() / manifest
            )
    for output, manifest in newest.items():
        if Path(output).is_file() and not Path(manifest).is_file():
            found.append(
                Finding(
                    "missing_manifest",
                    output,
                    f"an anonymized output whose manifest {manifest} is missing; restore the "
                    "manifest or anonymize again",
                )
            )
    return found
