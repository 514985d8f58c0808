"""The demo: the main job of custodes on a synthetic population register.

Generates a register of realistic (entirely synthetic) Chinese residents,
writes it as a GB18030-encoded CSV as many government systems export it,
reads it back through :mod:`custodes.io` (encoding and delimiter detected),
scans it for personal data, assesses its re-identification risk with the
roles the scan suggested, then anonymizes it to a policy
(10-anonymity, at most 1 % of records suppressed; resident ID numbers
pseudonymized, phones masked, names and addresses removed) and assesses the
release. The HTML reports and the release manifest go to the workspace.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from custodes._files import write_atomic
from custodes.anonymize import Anonymization, AnonymizationSpec, KAnonymity, Mask, Pseudonymize
from custodes.detect import ScanResult
from custodes.hierarchy import (
    Hierarchy,
    date_hierarchy,
    mapping_hierarchy,
    prc_division_hierarchy,
)
from custodes.ledger import init_workspace, load_public_key, open_ledger, verify_export
from custodes.report import render_assessment_html, render_scan_html
from custodes.risk import Assessment
from custodes.synth import population_register
from custodes.workspace import Workspace

__all__ = ["DemoResult", "run_demo"]

IDENTIFYING = ("resident_id", "name", "phone", "address")
QUASI_IDENTIFIERS = ("sex", "birth_date", "region_code")
# Province and prefecture names repeat what region_code says at a coarser level:
# they leave with it only as generalized, so the release drops them.
DERIVED = ("province", "prefecture")


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    rows: int
    data_path: Path
    report_path: Path
    assessments: tuple[tuple[str, Assessment], ...]
    scan: ScanResult
    scan_path: Path
    release: Anonymization
    release_path: Path
    manifest_path: Path
    ledger_path: Path
    ledger_entries: int
    """Entries of the workspace's ledger, verified offline after the export."""
    ledger_root: str


def _key(workspace: Workspace) -> bytes:
    """The workspace's pseudonymization key, made on first use (file mode 0600)."""
    path = workspace.path / "keys" / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def register_hierarchies(register: pl.DataFrame) -> dict[str, Hierarchy]:
    """Hierarchies for the register's quasi-identifiers: sex, birth date (day to
    month, year, decade) and county (to prefecture and province)."""
    births = register.get_column("birth_date").cast(pl.String).unique().to_list()
    regions = register.get_column("region_code").unique().to_list()
    return {
        "sex": mapping_hierarchy({"男": ["*"], "女": ["*"]}),
        "birth_date": date_hierarchy(births, levels=("month", "year", "decade")),
        "region_code": prc_division_hierarchy(regions),
    }


def run_demo(workspace: Workspace, *, rows: int = 100_000, seed: int = 20261130) -> DemoResult:
    """Generate the register, assess it, anonymize it, and write everything to the workspace.

    The workspace is set up first (``custodes init``), so the scan and the
    release are recorded in its ledger; the ledger is then exported and
    verified offline with its public key, as an auditor would.
    """
    init_workspace(workspace.settings)
    folder = workspace.path / "demo"
    register = population_register(rows, seed=seed)
    data_path = folder / "register.csv"
    write_atomic(data_path, register.write_csv(separator=",").encode("gb18030"))

    scanned = workspace.scan(data_path)
    scan_path = write_atomic(folder / "scan.json", scanned.to_json())
    write_atomic(folder / "scan.html", render_scan_html(scanned.to_dict()))
    roles = scanned.roles()
    before = workspace.assess(
        data_path,
        quasi_identifiers=roles["quasi_identifying"],
        sensitive=roles["sensitive"],
        identifying=roles["identifying"] + roles["redact"],
    )
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    report = render_assessment_html(
        before.to_dict(),
        title="Population register: re-identification risk",
        generated_at=generated,
    )
    report_path = write_atomic(folder / "report.html", report)

    key = _key(workspace)
    spec = AnonymizationSpec(
        quasi_identifiers=QUASI_IDENTIFIERS,
        hierarchies=register_hierarchies(register),
        models=(KAnonymity(10),),
        suppression_limit=0.01,
        identifying=(*IDENTIFYING, *DERIVED),
        identifier_actions=(Pseudonymize("resident_id", key), Mask("phone", 3, 0)),
    )
    release_path = folder / "release.csv"
    release = workspace.anonymize(data_path, spec, output=release_path)
    manifest_path = write_atomic(folder / "release-manifest.json", release.manifest_json())
    write_atomic(
        folder / "release-report.html",
        release.report_html("Released register: 10-anonymous, identifiers pseudonymized"),
    )
    ledger = open_ledger(workspace.settings)
    head = ledger.sign_head()
    ledger_path = folder / "ledger.jsonl"
    ledger.export(ledger_path)
    ledger.store.dispose()
    public = load_public_key(workspace.settings.signing_key_path().with_suffix(".pub"))
    verified = verify_export(ledger_path, public)
    return DemoResult(
        rows=rows,
        ledger_path=ledger_path,
        ledger_entries=verified.size,
        ledger_root=head.root_hash.hex(),
        data_path=data_path,
        report_path=report_path,
        scan=scanned,
        scan_path=scan_path,
        assessments=(
            ("register, with the roles the scan suggested", before),
            ("release: 10-anonymous, identifiers pseudonymized or masked", release.after),
        ),
        release=release,
        release_path=release_path,
        manifest_path=manifest_path,
    )
