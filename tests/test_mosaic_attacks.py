"""Attacks on the mosaic check that once let a composition out, each refused now.

A recipient spelled another way, a term already over, the release records edited
in the store, roles or person keys changed between releases, the same file
registered again, an open publication weighed against a combination nobody
holds, a lost key, pseudonyms linked across datasets, two releases racing, and
views that travelled with the files.
"""

# ruff: noqa: F811  (the office fixture is imported)
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from custodes import Workspace
from custodes.cli import main
from custodes.errors import CustodesError, RefusedError, SettingError
from custodes.governance import Governance, audit_report
from custodes.settings import Settings
from tests.test_mosaic_workflow import (  # noqa: F401
    COLUMNS,
    _attack,
    _prepared,
    _pseudonym_plan,
    _record_plans,
    _released,
    _request_file,
    office,
)

ROLES = {
    "resident_id": "identifying",
    "age": "quasi_identifying",
    "sex": "quasi_identifying",
    "region": "quasi_identifying",
    "diagnosis": "sensitive",
}


@contextmanager
def _db(settings: Settings) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(settings.workspace / "custodes.db")
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def _release_a(settings: Settings, folder: Path) -> str:
    a = _prepared(settings, folder, "plan_a.toml", "University X")
    _released(settings, a, "University X")
    return a


def test_a_recipient_spelled_another_way_is_the_same_recipient(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    _release_a(settings, folder)
    with pytest.raises(RefusedError, match="only in combination"):
        _prepared(settings, folder, "plan_b.toml", " university  X ")
    wide = "".join(chr(ord(c) + 0xFEE0) if c != " " else "\u3000" for c in "UNIVERSITY X")
    with pytest.raises(RefusedError, match="only in combination"):
        _prepared(settings, folder, "plan_b.toml", wide)


def test_a_term_already_over_is_refused(office: tuple[Settings, Path]) -> None:
    settings, _ = office
    rita = Governance(Workspace(settings), "rita")
    request = rita.file_request("patients")
    with pytest.raises(SettingError, match="in the past"):
        rita.set_objectives(
            request, purpose="public_welfare", sharing_model="file_under_agreement",
            columns=COLUMNS, intended_use="x", term_end="2001-01-01",
        )  # fmt: skip


@pytest.mark.parametrize(
    "edit",
    [
        "DELETE FROM releases WHERE request_id = :a",
        "UPDATE releases SET term_end = '2000-01-01' WHERE request_id = :a",
        "UPDATE releases SET revoked_at = '2020-01-01T00:00:00Z' WHERE request_id = :a",
        "UPDATE releases SET expired_at = '2020-01-01T00:00:00Z' WHERE request_id = :a",
        "UPDATE releases SET sharing_model = 'enclave' WHERE request_id = :a",
        "UPDATE releases SET recipient = 'Nobody' WHERE request_id = :a",
    ],
)
def test_release_records_edited_in_the_store_are_refused(
    office: tuple[Settings, Path], edit: str
) -> None:
    settings, folder = office
    a = _release_a(settings, folder)
    with _db(settings) as db:
        db.execute(edit, {"a": a})
    with pytest.raises(RefusedError, match="changed behind custodes' back"):
        _prepared(settings, folder, "plan_b.toml", "University X")
    # The auditor sees it too.
    auditor = Governance(Workspace(settings), "audrey")
    anomalies = audit_report(auditor, date.today().year)["anomalies"]
    assert any(a in line for line in anomalies)


def test_a_view_borrowed_from_another_release_is_refused(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    a = _release_a(settings, folder)
    c = _prepared(settings, folder, "plan_b.toml", "Other Ltd")
    _released(settings, c, "Other Ltd")
    views = settings.workspace / "views"
    with _db(settings) as db:
        sha, index = db.execute(
            "SELECT view_sha256, ledger_index FROM releases WHERE request_id = ?", (c,)
        ).fetchone()
        db.execute(
            "UPDATE releases SET view_sha256 = ?, ledger_index = ? WHERE request_id = ?",
            (sha, index, a),
        )
    (views / a / "view.npz").write_bytes((views / c / "view.npz").read_bytes())
    with pytest.raises(RefusedError, match="changed behind custodes' back"):
        _prepared(settings, folder, "plan_b.toml", "University X")


def test_a_column_held_as_sensitive_stays_sensitive(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _release_a(settings, folder)
    stella = Governance(Workspace(settings), "stella")
    stella.correct_roles("patients", {"diagnosis": "insensitive"}, "reclassified")
    with pytest.raises(RefusedError, match="only in combination"):
        _prepared(settings, folder, "plan_b.toml", "University X")


def test_the_same_file_under_another_name_is_the_same_people(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    _release_a(settings, folder)
    (folder / "copy.csv").write_bytes((folder / "people.csv").read_bytes())
    Governance(Workspace(settings), "stella").register_dataset(
        "patients_copy", department="health", system="his", source=folder / "copy.csv",
        roles=ROLES, reason="again",
    )  # fmt: skip
    ws = Workspace(settings)
    rita, stella = Governance(ws, "rita"), Governance(ws, "stella")
    request = rita.file_request("patients_copy")
    rita.set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=COLUMNS, intended_use="x", term_end="2030-12-31", recipient="University X",
    )  # fmt: skip
    stella.identify(request)
    with pytest.raises(RefusedError, match="only in combination"):
        stella.prepare(request, folder / "plan_b.toml")


def test_a_person_key_is_not_changed_under_live_releases(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    stella = Governance(Workspace(settings), "stella")
    stella.declare_person_key("patients", "resident_id")
    _release_a(settings, folder)
    with pytest.raises(RefusedError, match="still hold"):
        stella.declare_person_key("patients", None)


def test_an_open_publication_is_checked_against_each_holder(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    _release_a(settings, folder)
    b = _prepared(settings, folder, "plan_b.toml", "Other Ltd")  # another recipient: fine
    _released(settings, b, "Other Ltd")
    # As an open publication, University X would hold A and it: refused.
    with pytest.raises(RefusedError, match="combined with what University X holds"):
        _prepared(settings, folder, "plan_b.toml", "Public", model="open_publication")


def test_a_lost_mosaic_key_is_not_replaced(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _release_a(settings, folder)
    (settings.workspace / "keys" / "mosaic.key").unlink()
    with pytest.raises(RefusedError, match="restore it from a backup"):
        _prepared(settings, folder, "plan_b.toml", "University X")


def test_pseudonyms_linked_across_datasets_need_person_keys(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    key = settings.workspace / "keys" / "pseudonym.key"
    key.parent.mkdir(exist_ok=True)
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    header, *rows = (folder / "people.csv").read_text(encoding="utf-8").splitlines()
    (folder / "clinic.csv").write_text(  # the rows in another order: another dataset's records
        "\n".join([header, *reversed(rows)]) + "\n", encoding="utf-8"
    )
    Governance(Workspace(settings), "stella").register_dataset(
        "clinic", department="health", system="his2", source=folder / "clinic.csv",
        roles=ROLES, reason="clinic",
    )  # fmt: skip
    ages = {"age": "age_a.csv", "sex": "sex.csv"}
    regions = {"region": "region_b.csv", "sex": "sex.csv"}
    (folder / "pa.toml").write_text(_pseudonym_plan(["age", "sex"], ages, linked=True))
    (folder / "pb.toml").write_text(_pseudonym_plan(["region", "sex"], regions, linked=True))
    a = _prepared(settings, folder, "pa.toml", "Cohort", columns=["resident_id", "age", "sex",
                  "diagnosis"])  # fmt: skip
    _released(settings, a, "Cohort")
    ws = Workspace(settings)
    rita, stella = Governance(ws, "rita"), Governance(ws, "stella")
    request = rita.file_request("clinic")
    rita.set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=["resident_id", "region", "sex", "diagnosis"], intended_use="x",
        term_end="2030-12-31", recipient="Cohort",
    )  # fmt: skip
    stella.identify(request)
    with pytest.raises(RefusedError, match="Declare the person key"):
        stella.prepare(request, folder / "pb.toml")


def test_views_never_travel_with_the_files(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    a = _release_a(settings, folder)
    delivered = settings.workspace / "releases" / a
    assert not list(delivered.glob("*.npz"))
    assert (settings.workspace / "views" / a / "view.npz").is_file()


def test_everything_suppressed_is_a_clean_refusal(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    plan = (folder / "plan_b_safe.toml").read_text()
    plan = plan.replace("suppression = 0.5", "suppression = 1.0").replace("k = 5", "k = 5000")
    (folder / "all.toml").write_text(plan)
    with pytest.raises(CustodesError):
        _prepared(settings, folder, "all.toml", "Fresh Recipient")


def test_a_requester_does_not_see_what_others_hold(
    office: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, folder = office
    _release_a(settings, folder)
    b = _prepared(settings, folder, "plan_b_safe.toml", "University X")
    capsys.readouterr()
    code = main(["mosaic", b, "--as", "rita", "--workspace", str(settings.workspace)])
    assert code == 4
    assert "may not see what recipients hold" in capsys.readouterr().err


def test_two_releases_racing_to_one_recipient(
    office: tuple[Settings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """B is checked while A (to the same recipient) is being released: one of them is
    refused, never both out."""
    from custodes.governance import _mosaic

    settings, folder = office
    a = _prepared(settings, folder, "plan_a.toml", "University X")
    b = _prepared(settings, folder, "plan_b.toml", "University X")  # X holds nothing yet
    ws = Workspace(settings)
    for request in (a, b):
        Governance(ws, "stella").submit(request)
        Governance(ws, "pat").decide(request, True, "ok")
        Governance(ws, "lee").decide(request, True, "ok")
    checked, go = threading.Event(), threading.Event()
    original = _mosaic.MosaicGate.mosaic_verdict

    def slow(self: Any, *args: Any, **kw: Any) -> Any:
        out = original(self, *args, **kw)
        if kw.get("request_id") == a and kw.get("stage") == "release":
            checked.set()
            go.wait(60)
        return out

    monkeypatch.setattr(_mosaic.MosaicGate, "mosaic_verdict", slow)
    outcome: dict[str, Any] = {}

    def release_a() -> None:
        w = Workspace(settings)
        try:
            outcome["a"] = Governance(w, "stella").release(a, recipient="University X", terms="T")
        except RefusedError as exc:
            outcome["a"] = exc
        finally:
            w.close()

    thread = threading.Thread(target=release_a)
    thread.start()
    assert checked.wait(60)
    try:
        outcome["b"] = Governance(Workspace(settings), "stella").release(
            b, recipient="University X", terms="T"
        )
    except RefusedError as exc:
        outcome["b"] = exc
    go.set()
    thread.join()
    refused = [k for k, v in outcome.items() if isinstance(v, RefusedError)]
    assert refused == ["a"]
    assert "changed while request" in str(outcome["a"])


def test_a_shared_record_number_links_releases(office: tuple[Settings, Path]) -> None:
    """A record number carried unchanged in two releases joins them like a pseudonym."""
    import csv

    settings, folder = office
    with (folder / "people.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with (folder / "visits.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["record_no", *rows[0]])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({"record_no": str(100_000 + i * 7), **row})
    Governance(Workspace(settings), "stella").register_dataset(
        "visits", department="health", system="his", source=folder / "visits.csv",
        roles=ROLES, reason="visits",
    )  # fmt: skip
    _record_plans(folder)
    a = _request_file(settings, folder, "ra.toml", "visits",
                      ["record_no", "age", "sex", "diagnosis"], "Cohort")  # fmt: skip
    _released(settings, a, "Cohort")
    with pytest.raises(RefusedError, match="fewer than 5"):
        _request_file(settings, folder, "rb.toml", "visits",
                      ["record_no", "region", "sex", "diagnosis"], "Cohort")  # fmt: skip
    # Without the record number the same pair cannot be joined: it passes.
    _request_file(settings, folder, "rb.toml", "visits", ["region", "sex", "diagnosis"], "Cohort")
