"""What joins two releases record by record, and who is one person: a second round of
attacks on the mosaic check, each refused (or, for a false refusal, let through) now.

A record number beside linked pseudonyms, a masked resident ID, a record number the
roles call sensitive, person keys with gaps, two hospitals' running numbers, and a
sensitive column with nearly every value distinct.
"""

# ruff: noqa: F811  (the office fixture is imported)
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from custodes import Workspace
from custodes.errors import InvalidInputError, RefusedError
from custodes.governance import Governance
from custodes.risk import ReleaseView, mosaic_risk
from custodes.settings import Settings, load_settings
from tests.test_mosaic_attacks import ROLES
from tests.test_mosaic_workflow import (  # noqa: F401
    COLUMNS,
    N,
    _population,
    _pseudonym_plan,
    _record_plans,
    _released,
    _request_file,
    office,
)


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _register(
    settings: Settings, name: str, path: Path, roles: dict[str, str] | None = None
) -> None:
    Governance(Workspace(settings), "stella").register_dataset(
        name, department="health", system="his", source=path, roles=roles or ROLES, reason="r",
    )  # fmt: skip


def _key(settings: Settings) -> None:
    key = settings.workspace / "keys" / "pseudonym.key"
    key.parent.mkdir(exist_ok=True)
    key.write_bytes(b"0123456789abcdef0123456789abcdef")


def test_a_record_number_does_not_hide_linked_pseudonyms(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _key(settings)
    rows = [{"record_no": str(100_000 + 7 * i), **r} for i, r in enumerate(_population())]
    _write(folder / "visits.csv", rows)
    _register(settings, "visits", folder / "visits.csv")
    ages, regions = (
        {"age": "age_a.csv", "sex": "sex.csv"},
        {"region": "region_b.csv", "sex": "sex.csv"},
    )
    (folder / "pa.toml").write_text(_pseudonym_plan(["age", "sex"], ages, linked=True))
    (folder / "pb.toml").write_text(_pseudonym_plan(["region", "sex"], regions, linked=True))
    columns = ["resident_id", "age", "sex", "diagnosis"]
    a = _request_file(settings, folder, "pa.toml", "visits", columns, "Cohort")
    _released(settings, a, "Cohort")
    with pytest.raises(RefusedError, match="fewer than 5"):
        _request_file(settings, folder, "pb.toml", "visits",
                 ["record_no", "resident_id", "region", "sex", "diagnosis"], "Cohort")  # fmt: skip


def _resident_ids(folder: Path, settings: Settings) -> None:
    """Resident IDs of one county (110105), as the usual display mask leaves them mostly
    distinct (the county, and the last four characters)."""
    rng = np.random.default_rng(3)
    rows = _population()
    for r in rows:
        birth = (
            f"{2024 - int(r['age'])}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
        )
        r["resident_id"] = f"110105{birth}{int(rng.integers(0, 10_000)):04d}"
    _write(folder / "residents.csv", rows)
    _register(settings, "residents", folder / "residents.csv")


def test_a_masked_resident_id_links_releases(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    _resident_ids(folder, settings)
    ages, regions = (
        {"age": "age_a.csv", "sex": "sex.csv"},
        {"region": "region_b.csv", "sex": "sex.csv"},
    )
    for name, qis, hierarchies in (
        ("ma", ["age", "sex"], ages),
        ("mb", ["region", "sex"], regions),
    ):
        plan = _pseudonym_plan(qis, hierarchies, linked=False)
        plan = plan.replace(
            'action = "pseudonymize"', 'action = "mask"\nkeep_first = 6\nkeep_last = 4'
        )
        (folder / f"{name}.toml").write_text(plan)
    a = _request_file(settings, folder, "ma.toml", "residents",
                 ["resident_id", "age", "sex", "diagnosis"], "Cohort")  # fmt: skip
    _released(settings, a, "Cohort")
    with pytest.raises(RefusedError, match="fewer than 5"):
        _request_file(settings, folder, "mb.toml", "residents",
                 ["resident_id", "region", "sex", "diagnosis"], "Cohort")  # fmt: skip


def test_a_record_number_called_sensitive_still_links(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    rows = [{"record_no": str(500_000 + i), **r} for i, r in enumerate(_population())]
    _write(folder / "visits.csv", rows)
    _register(settings, "visits", folder / "visits.csv", {**ROLES, "record_no": "sensitive"})
    _record_plans(folder)
    columns = ["record_no", "age", "sex", "diagnosis"]
    a = _request_file(settings, folder, "ra.toml", "visits", columns, "Cohort")
    _released(settings, a, "Cohort")
    with pytest.raises(RefusedError, match="fewer than 5"):
        _request_file(settings, folder, "rb.toml", "visits",
                 ["record_no", "region", "sex", "diagnosis"], "Cohort")  # fmt: skip


def test_two_hospitals_running_numbers_do_not_link(office: tuple[Settings, Path]) -> None:
    """Different people, each export numbered 1..n: nothing joins them, nothing refused."""
    settings, folder = office
    one = [{"id": str(i + 1), **r} for i, r in enumerate(_population())]
    two = [{"id": str(i + 1), **r, "resident_id": f"S{i:07d}"}
           for i, r in enumerate(_population(seed=11))]  # fmt: skip
    _write(folder / "one.csv", one)
    _write(folder / "two.csv", two)
    _register(settings, "hospital_a", folder / "one.csv")
    _register(settings, "hospital_b", folder / "two.csv")
    a = _request_file(settings, folder, "plan_a.toml", "hospital_a", ["id", *COLUMNS], "Cohort")
    _released(settings, a, "Cohort")
    _request_file(settings, folder, "plan_a.toml", "hospital_b", ["id", *COLUMNS], "Cohort")


def test_records_without_a_person_key_are_people_of_their_own(
    office: tuple[Settings, Path],
) -> None:
    """Two clinics of 3,000 residents each, a third without a resident ID: with the ID as
    the person key of both, the holding is still 6,000 people (important at 5,000)."""
    settings, folder = office
    (folder / "grading.toml").write_text("[grading]\nimportant_people = 5000\n")
    graded = load_settings(
        settings.workspace,
        {"governance_policy": settings.governance_policy,
         "grading_policy": str(folder / "grading.toml")},
    )  # fmt: skip
    one = _population()[:3000]
    two = [{**r, "resident_id": f"S{i:07d}"} for i, r in enumerate(_population(seed=9)[:3000])]
    for rows, name in ((one, "clinic1"), (two, "clinic2")):
        for i, r in enumerate(rows):
            if i % 3 == 0:
                r["resident_id"] = ""
        _write(folder / f"{name}.csv", rows)
        _register(graded, name, folder / f"{name}.csv")
        Governance(Workspace(graded), "stella").declare_person_key(name, "resident_id")
    first = _request_file(graded, folder, "plan_a.toml", "clinic1", COLUMNS, "Analytics")
    _released(graded, first, "Analytics")
    with pytest.raises(RefusedError, match="important data"):
        _request_file(graded, folder, "plan_a.toml", "clinic2", COLUMNS, "Analytics")


def test_a_refusal_before_the_figures_is_on_the_ledger(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    a = _request_file(settings, folder, "plan_a.toml", "patients", COLUMNS, "University X")
    _released(settings, a, "University X")
    (settings.workspace / "views" / a / "view.npz").unlink()
    with pytest.raises(RefusedError, match="is missing"):
        _request_file(settings, folder, "plan_b.toml", "patients", COLUMNS, "University X")
    ws = Workspace(settings)
    last = ws.ledger.entry(ws.ledger.size() - 1)
    assert last["type"] == "mosaic.checked"
    assert last["payload"]["verdict"] == "refused"


def test_a_sensitive_column_with_nearly_every_value_distinct(
    office: tuple[Settings, Path],
) -> None:
    """A first release with an income nearly unique per person: counted per class (no
    bitsets over every value), quickly; combined with another release, the bitsets of
    too many values are refused with the fix rather than exhausting memory."""
    settings, folder = office
    rng = np.random.default_rng(5)
    rows = [{**r, "income": str(int(x))} for r, x in
            zip(_population(), rng.integers(10_000, 10_000_000, N), strict=True)]  # fmt: skip
    _write(folder / "tax.csv", rows)
    _register(settings, "tax", folder / "tax.csv", {**ROLES, "income": "sensitive"})
    a = _request_file(settings, folder, "plan_a.toml", "tax", [*COLUMNS, "income"], "Bureau")
    report = Governance(Workspace(settings), "stella").request(a).report
    assert report is not None
    assert report["mosaic"]["releases"] == []
    n = 20_000
    person = np.arange(n, dtype=np.int64)
    values = {"income": np.arange(n, dtype=np.int64)}
    one = ReleaseView("A", person, person // 10, values, None, "d")
    two = ReleaseView("B", person, (person + 5) // 10, values, None, "d")
    import custodes.risk._mosaic as module

    budget = module.MEMORY_BUDGET
    module.MEMORY_BUDGET = 1 << 20
    try:
        with pytest.raises(InvalidInputError, match="Generalize the column"):
            mosaic_risk([one, two], 5, new=1)
    finally:
        module.MEMORY_BUDGET = budget
