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

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from custodes._files import write_atomic
from custodes.anonymize import Anonymization, AnonymizationSpec, KAnonymity, Mask, Pseudonymize
from custodes.detect import ScanResult
from custodes.governance import audit_report_from_export
from custodes.hierarchy import (
    Hierarchy,
    date_hierarchy,
    mapping_hierarchy,
    prc_division_hierarchy,
)
from custodes.ledger import load_or_create_key, load_witnessed
from custodes.report import release_html, render_assessment_html, render_scan_html
from custodes.risk import Assessment
from custodes.synth import Register, population_register, register_csv, register_values
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
    witnessed_size: int
    """The size of the head the auditor countersigned (the export was verified against it)."""
    witnessed_path: Path
    governance: dict[str, str]
    """The governed release: request, recipient, charge, audit verdict, report paths."""
    offline_audit: str
    """The audit report computed from the verified export alone, summarized."""
    keyring: Path
    """Where the actors' private keys are (each signs its own steps)."""
    web_logins: Path
    """The demo actors' web passwords for ``custodes serve`` (file mode 0600)."""


def _key(workspace: Workspace) -> bytes:
    """The workspace's pseudonymization key, made on first use (file mode 0600)."""
    path = workspace.path / "keys" / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def register_hierarchies(register: Register) -> dict[str, Hierarchy]:
    """Hierarchies for the register's quasi-identifiers: sex, birth date (day to
    month, year, decade) and county (to prefecture and province)."""
    values = register_values(register)
    return {
        "sex": mapping_hierarchy({"男": ["*"], "女": ["*"]}),
        "birth_date": date_hierarchy(values["birth_date"], levels=("month", "year", "decade")),
        "region_code": prc_division_hierarchy(values["region_code"]),
    }


_PLAN = """quasi_identifiers = ["sex", "birth_date", "region_code"]
suppression = 0.01
identifying = ["name", "phone", "address", "province", "prefecture"]

[hierarchies]
sex = "sex.csv"
birth_date = "date:month,year,decade"
region_code = "prc"

[[models]]
type = "k-anonymity"
k = 10

[[identifiers]]
column = "resident_id"
action = "pseudonymize"
"""
_ACTORS = (
    ("admin", ["admin"], None),
    ("steward", ["steward"], None),
    ("researcher", ["requester"], None),
    ("counsel", ["reviewer"], "legal"),
    ("privacy-officer", ["reviewer"], "privacy_technical"),
    ("pricing-office", ["pricing_authority"], None),
    ("auditor", ["auditor"], None),
)


def audit_summary(report: dict[str, Any]) -> str:
    """An audit report's figures in one line: releases, revenue, DP budgets, anomalies."""
    revenue = ", ".join(
        f"{d} {r['charged']} {r['currency']} of {r['permitted'] or 'no limit'}"
        for d, r in sorted(report["revenue"].items())
    )
    spent = sum(b["queries"] for b in report["dp_budget_spent"] if b["recipient"] != "*")
    return (
        f"{len(report['releases']['list'])} releases, charged {revenue or 'nothing'}, "
        f"{spent} DP queries paid, {len(report['rejected_requests'])} rejections, "
        f"{len(report['anomalies'])} anomalies"
    )


def _governed_release(workspace: Workspace, data_path: Path, folder: Path) -> dict[str, str]:
    """The whole lifecycle: register, request, prepare, review, release, charge, audit."""
    from custodes.errors import RefusedError
    from custodes.governance import Governance, audit_report, disclosure_report
    from custodes.report import render_audit_html

    def act(who: str) -> Governance:
        return workspace.governance(who)

    for name, roles, board in _ACTORS:
        with contextlib.suppress(RefusedError):  # an earlier run added it
            act(name if name == "admin" else "admin").add_actor(
                name, roles, organisation="Municipal data office", credential=f"staff-{name}",
                board_role=board,
            )  # fmt: skip
    with contextlib.suppress(RefusedError):
        act("steward").add_department("civil-affairs", "Civil Affairs Bureau")
    act("steward").register_dataset(
        "population-register", department="civil-affairs", system="household registration",
        source=data_path,
    )  # fmt: skip
    standard = act("steward").propose_fee_standard(
        department="civil-affairs", product="anonymized register extract",
        unit="per_product", cap="500.00",
    )  # fmt: skip
    act("pricing-office").approve_fee_standard(standard, "cost-based pricing study, 2026")
    write_atomic(folder / "sex.csv", "男;*\n女;*\n")
    plan = write_atomic(folder / "plan.toml", _PLAN)
    columns = ["resident_id", "sex", "birth_date", "region_code", "household_size"]
    columns += ["income_band", "diagnosis", "benefit_type"]
    request = act("researcher").file_request("population-register")
    act("researcher").set_objectives(
        request, purpose="commercial", sharing_model="file_under_agreement", columns=columns,
        intended_use="market study of household benefits by county", term_end="2027-12-31",
        fee_standard=standard, recipient="Example Analytics Ltd.",
    )  # fmt: skip
    act("steward").identify(request)
    prepared = act("steward").prepare(request, plan)
    mosaic = prepared["mosaic"]
    act("researcher").submit(request)
    act("counsel").decide(request, True, "data use agreement signed; lawful basis checked")
    act("privacy-officer").decide(request, True, "k = 10, highest risk 0.1; identifiers handled")
    released = act("steward").release(
        request, recipient="Example Analytics Ltd.", terms="data use agreement DUA-2026-014"
    )
    charged = act("steward").charge(request, quantity="1", unit_price="450.00")
    queries = _dp_queries(workspace, act)
    # The auditor countersigns the tree head with a key of their own (in an office: kept
    # outside it); the disclosure publishes it, and every later audit demands it.
    witness_key = folder / "auditor" / "witness.key"
    load_or_create_key(witness_key)
    witnessed_path = folder / "auditor" / "witnessed-head.json"
    witnessed = workspace.witness_head("auditor", witness_key, witnessed_path)
    year = date.today().year
    audit = audit_report(act("auditor"), year)
    audit_path = write_atomic(folder / "audit-report.html", render_audit_html(audit))
    disclosure_path = write_atomic(
        folder / "disclosure.json",
        json.dumps(disclosure_report(act("auditor"), year), indent=2, ensure_ascii=False),
    )
    return {
        "audit_summary": audit_summary(audit),
        "dp_queries": "\n".join(queries),
        "request": request,
        "recipient": released["recipient"],
        "artifact": str(released["path"]),
        "charged": f"{charged['amount']} {charged['currency']}",
        "anomalies": "; ".join(audit["anomalies"]) or "none",
        "audit_report": str(audit_path),
        "disclosure": str(disclosure_path),
        "witnessed_size": str(witnessed.size),
        "witnessed": str(witnessed_path),
        "mosaic": f"passed against {len(mosaic['releases'])} earlier release(s) held by "
        f"{mosaic['recipient']} (combined k {mosaic['k']}, highest risk "
        f"{float(mosaic['highest_risk']):.3f}; the holding graded {mosaic['holding_grade']})",
    }


_DP_QUERIES = (
    'SELECT sex, COUNT(*) FROM "population-register" GROUP BY sex',
    'SELECT sex, AVG(household_size) FROM "population-register" GROUP BY sex',
    'SELECT sex, MEDIAN(household_size) FROM "population-register" GROUP BY sex',
    'SELECT COUNT(*) FROM "population-register" WHERE household_size >= 5',
)


def _dp_queries(workspace: Workspace, act: Any) -> list[str]:
    """A researcher with DP query access: three answers, then the budget refuses a fourth."""
    from custodes.dp import parse_rho
    from custodes.errors import RefusedError

    dataset = "population-register"
    request = act("researcher").file_request(dataset)
    act("researcher").set_objectives(
        request, purpose="public_welfare", sharing_model="dp_query",
        columns=["sex", "household_size"], intended_use="household statistics by sex",
        term_end="2027-12-31",
    )  # fmt: skip
    act("steward").identify(request)
    act("steward").prepare(request)
    act("researcher").submit(request)
    act("counsel").decide(request, True, "aggregates only, under a budget")
    act("privacy-officer").decide(request, True, "rho 3/10 for this researcher")
    act("steward").release(request, recipient="researcher", terms="DP query access")
    steward = workspace.queries("steward")
    steward.configure(
        dataset,
        {
            "privacy_unit": "resident_id",
            "max_contributions": 1,
            "bounds": {"household_size": [1, 10]},
            "public_groups": {"sex": ["男", "女"]},
        },
    )
    budgets = steward.budget(dataset, exact=True)["budgets"]
    spent = budgets.get("researcher", {}).get("spent_rho", "0")
    # Raising a budget is a budget change the board reviews, like a release.
    change = steward.propose_budget_change(
        dataset, str(parse_rho(spent) + parse_rho("3/10")), recipient="researcher",
        reason="three household tables by sex",
    )  # fmt: skip
    for reviewer in ("counsel", "privacy-officer"):
        board = workspace.queries(reviewer)
        board.decide_budget_change(change, True, "three tables, rho 1/10 each")
    lines = []
    for sql in _DP_QUERIES:
        query = sql
        try:
            answer = workspace.dp_query(query, actor="researcher", rho="1/10")
        except RefusedError as exc:
            lines.append(f"  {query}\n    refused: {exc.message}")
            continue
        cells = []
        for row in answer["rows"]:
            keys = [str(row[c]) for c in answer["columns"] if c in row and "(" not in c
                    and c != "count"]  # fmt: skip
            values = [
                f"{c} {row[c]}"
                + (
                    f" (95 % interval {row[c + ' 95% interval']})"
                    if row.get(c + " 95% interval") is not None
                    else " (noisy-max choice: no interval)"
                )
                for c in answer["columns"]
                if c not in keys and (c == "count" or "(" in c)
            ]
            cells.append(" ".join(keys) + (": " if keys else "") + "; ".join(values))
        lines.append(
            f"  {query}\n    " + "\n    ".join(cells)
            + f"\n    spent rho {answer['rho_spent']}; remaining rho {answer['remaining_rho']}"
        )  # fmt: skip
    return lines


def _web_logins(workspace: Workspace, folder: Path) -> Path:
    """A web login for each demo actor (``custodes serve``): a new random password that seals
    the actor's own key, listed in a file only its owner reads."""
    from custodes.server import set_password

    lines = ["# custodes serve: the demo actors' web logins (name, password); keep private"]
    for name, _roles, _board in _ACTORS:
        password = secrets.token_urlsafe(12)
        set_password(workspace.store, name, workspace.actor_key(name), password)
        lines.append(f"{name} {password}")
    path = folder / "web-logins.txt"
    return write_atomic(path, "\n".join(lines) + "\n", private=True)


def run_demo(workspace: Workspace, *, rows: int = 100_000, seed: int = 20261130) -> DemoResult:
    """Generate the register, assess it, anonymize it, and write everything to the workspace.

    The workspace is set up first (``custodes init``), so the scan and the
    release are recorded in its ledger; the ledger is then exported and
    verified offline with its public key, as an auditor would.
    """
    created = workspace.init()
    folder = workspace.path / "demo"
    register = population_register(rows, seed=seed)
    data_path = folder / "register.csv"
    write_atomic(data_path, register_csv(register, "gb18030"))

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
        identifier_actions=(Pseudonymize("resident_id", key), Mask("phone")),
    )
    release_path = folder / "release.csv"
    manifest_path = folder / "release-manifest.json"
    release = workspace.anonymize(data_path, spec, output=release_path, manifest=manifest_path)
    write_atomic(
        folder / "release-report.html",
        release_html(release, "Released register: 10-anonymous, identifiers pseudonymized"),
    )
    governed = _governed_release(workspace, data_path, folder)
    web_logins = _web_logins(workspace, folder)
    head = workspace.sign_head()
    ledger_path = folder / "ledger.jsonl"
    workspace.export_ledger(ledger_path)
    witnessed_path = Path(governed["witnessed"])
    verified = Workspace.verify_ledger(
        ledger_path, created.public_key_path, witnessed=[witnessed_path]
    )
    # The auditor's report again, from the verified export alone (no store): same figures.
    alone = audit_report_from_export(
        ledger_path,
        created.public_key_path,
        date.today().year,
        witnessed=[load_witnessed(witnessed_path)],
    )
    return DemoResult(
        rows=rows,
        governance=governed,
        ledger_path=ledger_path,
        ledger_entries=verified.size,
        ledger_root=head.root_hash.hex(),
        witnessed_size=int(governed["witnessed_size"]),
        witnessed_path=witnessed_path,
        offline_audit=audit_summary(alone),
        keyring=workspace.keyring_folder(),
        web_logins=web_logins,
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
