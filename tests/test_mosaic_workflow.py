"""The mosaic check in the workflow: a live composition attack on released files.

A synthetic population (age, sex, region and a skewed diagnosis). Release A
has 10-year age bands and coarse regions, release B age bands shifted by 5
years and finer regions; both are k-anonymous. A scripted attacker who knows
each person's age, sex and region reads both released files, intersects the
diagnoses of the person's class in each, and pins down some people. custodes
refuses B for A's recipient, lets it go to another recipient (unless A is an
open publication, which anyone holds), and its mosaic-safe search finds a B
the same attacker pins nobody with.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from custodes import Workspace
from custodes.errors import RefusedError
from custodes.governance import Governance
from custodes.settings import Settings, load_settings
from custodes.workspace import init_workspace

N = 4_000
K = 5  # the policy's k for data with sensitive information (set below)
DIAGNOSES = ["D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7"]
WEIGHTS = [0.4, 0.25, 0.15, 0.08, 0.05, 0.04, 0.02, 0.01]


def _population(seed: int = 7) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    ages = rng.integers(18, 90, N)
    sexes = rng.integers(0, 2, N)
    regions = rng.integers(0, 40, N)
    diagnoses = rng.choice(len(DIAGNOSES), N, p=WEIGHTS)
    return [
        {
            "resident_id": f"R{i:07d}",
            "age": str(int(ages[i])),
            "sex": "MF"[int(sexes[i])],
            "region": f"G{int(regions[i]):02d}",
            "diagnosis": DIAGNOSES[int(diagnoses[i])],
        }
        for i in range(N)
    ]


def _age_band(age: int, shift: int) -> str:
    low = (age - shift) // 10 * 10 + shift
    return f"{low}-{low + 9}"


def _hierarchies(folder: Path) -> None:
    ages = range(120)
    regions = [f"G{r:02d}" for r in range(40)]
    (folder / "age_a.csv").write_text(
        "".join(f"{a};{_age_band(a, 0)};*\n" for a in ages), encoding="utf-8"
    )
    (folder / "age_b.csv").write_text(
        "".join(f"{a};{_age_band(a, 5)};*\n" for a in ages), encoding="utf-8"
    )
    (folder / "region_a.csv").write_text(
        "".join(f"{r};A{int(r[1:]) // 8};*\n" for r in regions), encoding="utf-8"
    )
    (folder / "region_b.csv").write_text(
        "".join(f"{r};B{int(r[1:]) // 2};A{int(r[1:]) // 8};*\n" for r in regions),
        encoding="utf-8",
    )
    (folder / "sex.csv").write_text("M;*\nF;*\n", encoding="utf-8")


def _plan(age: str, region: str, *, fixed: bool, extra: str = "") -> str:
    levels = (
        "[levels.age]\nmin = 1\nmax = 1\n[levels.region]\nmin = 1\nmax = 1\n"
        "[levels.sex]\nmin = 0\nmax = 0\n"
        if fixed
        else "[levels.age]\nmin = 1\n[levels.region]\nmin = 1\n[levels.sex]\nmin = 0\nmax = 0\n"
    )
    return (
        f'{extra}quasi_identifiers = ["age", "sex", "region"]\n'
        'identifying = ["resident_id"]\nsuppression = 0.5\n'
        f'[hierarchies]\nage = "{age}"\nsex = "sex.csv"\nregion = "{region}"\n'
        f'[[models]]\ntype = "k-anonymity"\nk = {K}\n{levels}'
    )


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[Settings, Path]]:
    (tmp_path / "governance.toml").write_text(
        f"[governance]\nsensitive_min_k = {K}\nsensitive_max_highest_risk = 0.2\n",
        encoding="utf-8",
    )
    settings = load_settings(
        tmp_path / "ws", {"governance_policy": str(tmp_path / "governance.toml")}
    )
    init_workspace(settings)
    people = _population()
    with (tmp_path / "people.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(people[0]))
        writer.writeheader()
        writer.writerows(people)
    _hierarchies(tmp_path)
    (tmp_path / "plan_a.toml").write_text(_plan("age_a.csv", "region_a.csv", fixed=True))
    (tmp_path / "plan_b.toml").write_text(_plan("age_b.csv", "region_b.csv", fixed=True))
    (tmp_path / "plan_b_safe.toml").write_text(
        _plan("age_b.csv", "region_b.csv", fixed=False, extra="mosaic_safe = true\n")
    )
    ws = Workspace(settings)
    root = Governance(ws, "root")
    root.add_actor("root", ["admin"], organisation="Data office", credential="ID-0001")
    for name, roles, board in [
        ("stella", ["steward"], None),
        ("rita", ["requester"], None),
        ("lee", ["reviewer"], "legal"),
        ("pat", ["reviewer"], "privacy_technical"),
        ("audrey", ["auditor"], None),
    ]:
        root.add_actor(
            name, roles, organisation="Data office", credential=f"ID-{name}", board_role=board
        )
    stella = Governance(ws, "stella")
    stella.add_department("health", "Health Commission")
    stella.register_dataset(
        "patients",
        department="health",
        system="his",
        source=tmp_path / "people.csv",
        roles={
            "resident_id": "identifying",
            "age": "quasi_identifying",
            "sex": "quasi_identifying",
            "region": "quasi_identifying",
            "diagnosis": "sensitive",
        },
        reason="the diagnosis is health information",
    )
    yield settings, tmp_path
    ws.close()


COLUMNS = ["age", "sex", "region", "diagnosis"]


def _prepared(
    settings: Settings,
    folder: Path,
    plan: str,
    recipient: str,
    *,
    model: str = "file_under_agreement",
    columns: list[str] | None = None,
) -> str:
    ws = Workspace(settings)
    rita, stella = Governance(ws, "rita"), Governance(ws, "stella")
    request = rita.file_request("patients")
    rita.set_objectives(
        request, purpose="public_welfare", sharing_model=model, columns=columns or COLUMNS,
        intended_use="a study of diagnoses by region", term_end="2030-12-31",
        fee_standard=None, recipient=recipient,
    )  # fmt: skip
    stella.identify(request)
    stella.prepare(request, folder / plan)
    return request


def _released(settings: Settings, request: str, recipient: str) -> Path:
    ws = Workspace(settings)
    Governance(ws, "stella").submit(request)
    Governance(ws, "pat").decide(request, True, "risk below thresholds")
    Governance(ws, "lee").decide(request, True, "agreement signed")
    record = Governance(ws, "stella").release(request, recipient=recipient, terms="DUA-1")
    return Path(record["path"])


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _labels(hierarchy: Path) -> dict[str, list[str]]:
    return {
        row.split(";")[0]: row.split(";")
        for row in hierarchy.read_text(encoding="utf-8").splitlines()
    }


def _attack(folder: Path, releases: list[tuple[Path, str, str]]) -> int:
    """People a scripted attacker pins down: for each target (whose age, sex and region
    it knows), the diagnoses of the records that match the target's generalized values,
    intersected over the released files."""
    people = _population()
    left: list[set[str]] = [set(DIAGNOSES) for _ in people]
    for path, age_file, region_file in releases:
        rows = _read(path)
        ages, regions = _labels(folder / age_file), _labels(folder / region_file)
        by_class: dict[tuple[str, str, str], set[str]] = {}
        for row in rows:
            by_class.setdefault((row["age"], row["sex"], row["region"]), set()).add(
                row["diagnosis"]
            )
        for i, person in enumerate(people):
            seen = [
                values
                for (age, sex, region), values in by_class.items()
                if age in ages[person["age"]]
                and sex in (person["sex"], "*")
                and region in regions[person["region"]]
            ]
            if seen:  # the target's class (one per release: levels are global)
                left[i] &= set().union(*seen)
    return sum(1 for values in left if len(values) == 1)


def _ledger_checks(settings: Settings) -> list[dict[str, Any]]:
    ws = Workspace(settings)
    return [
        e
        for e in (ws.ledger.entry(i) for i in range(ws.ledger.size()))
        if e["type"] == "mosaic.checked"
    ]


def test_a_composition_attack_is_refused_for_the_same_recipient(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    a = _prepared(settings, folder, "plan_a.toml", "University X")
    # Alone, the combined view is the single-release assessment.
    first = _ledger_checks(settings)[0]["payload"]
    report = Governance(Workspace(settings), "stella").request(a).report
    assert report is not None
    assert first["releases"] == []
    assert first["figures"]["k"] == report["k_anonymity"]
    assert float(first["figures"]["highest_risk"]) == pytest.approx(
        float(report["highest_risk"]), abs=1e-6
    )
    assert float(first["figures"]["average_risk"]) == pytest.approx(
        float(report["average_risk"]), abs=1e-6
    )
    file_a = _released(settings, a, "University X")
    # B to another recipient passes, and the live attacker pins people with A and B.
    b_other = _prepared(settings, folder, "plan_b.toml", "Other Ltd")
    file_b = _released(settings, b_other, "Other Ltd")
    alone = _attack(folder, [(file_a, "age_a.csv", "region_a.csv")])
    pinned = _attack(
        folder, [(file_a, "age_a.csv", "region_a.csv"), (file_b, "age_b.csv", "region_b.csv")]
    )
    assert pinned > alone  # the attack is live: the combination pins people A alone did not
    # The same B for A's recipient is refused, naming release A and the figures.
    with pytest.raises(RefusedError, match=r"combined with what University X holds") as refused:
        _prepared(settings, folder, "plan_b.toml", "University X")
    assert f"request {a}" in refused.value.message
    assert "only in combination" in refused.value.message
    checks = _ledger_checks(settings)
    assert [c["payload"]["verdict"] for c in checks][-1] == "refused"
    assert checks[-1]["payload"]["releases"][0]["request"] == a
    # The remedy: the least-loss B whose combination meets the policy; the attacker
    # pins nobody the releases alone did not.
    safe = _prepared(settings, folder, "plan_b_safe.toml", "University X")
    file_safe = _released(settings, safe, "University X")
    after = _attack(
        folder,
        [(file_a, "age_a.csv", "region_a.csv"), (file_safe, "age_b.csv", "region_b.csv")],
    )
    assert alone == 0  # A alone pins nobody (5-anonymous, diverse enough) ...
    assert after == 0  # ... and neither does A with the mosaic-safe B
    released = json.loads((file_safe.parent / "manifest.json").read_text(encoding="utf-8"))
    assert released["generalization"] != {}


def test_an_open_publication_is_held_by_everyone(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    a = _prepared(settings, folder, "plan_a.toml", "Public", model="open_publication")
    _released(settings, a, "Public")
    with pytest.raises(RefusedError, match="holds"):
        _prepared(settings, folder, "plan_b.toml", "Other Ltd")


def _pseudonym_plan(qis: list[str], hierarchies: dict[str, str], *, linked: bool) -> str:
    lines = [
        *(["linked_pseudonyms = true"] if linked else []),
        f"quasi_identifiers = {json.dumps(qis)}",
        'identifying = ["resident_id"]',
        "suppression = 0.5",
        "[hierarchies]",
        *(f'{q} = "{h}"' for q, h in hierarchies.items()),
        "[[models]]",
        'type = "k-anonymity"',
        f"k = {K}",
        *(
            f"[levels.{q}]\nmin = {lv}\nmax = {lv}"
            for q, lv in (("age", 1), ("region", 0))
            if q in qis
        ),
        "[[identifiers]]",
        'column = "resident_id"',
        'action = "pseudonymize"',
    ]
    return "\n".join(lines) + "\n"


def _pair(settings: Settings, folder: Path, *, linked: bool) -> None:
    """Release A (age band, sex) and then B (region, sex) to one recipient, both with the
    resident ID pseudonymized."""
    (folder / "pa.toml").write_text(
        _pseudonym_plan(["age", "sex"], {"age": "age_a.csv", "sex": "sex.csv"}, linked=linked)
    )
    (folder / "pb.toml").write_text(
        _pseudonym_plan(
            ["region", "sex"], {"region": "region_b.csv", "sex": "sex.csv"}, linked=linked
        )
    )
    a = _prepared(settings, folder, "pa.toml", "Cohort Study", columns=["resident_id", "age",
                  "sex", "diagnosis"])  # fmt: skip
    _released(settings, a, "Cohort Study")
    _prepared(settings, folder, "pb.toml", "Cohort Study", columns=["resident_id", "region",
              "sex", "diagnosis"])  # fmt: skip


def test_linked_pseudonyms_are_joined(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    key = settings.workspace / "keys" / "pseudonym.key"
    key.parent.mkdir(exist_ok=True)
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    with pytest.raises(RefusedError, match=r"people fall in a combined class of fewer than 5"):
        _pair(settings, folder, linked=True)


def test_per_release_pseudonym_keys_are_not_joined(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    key = settings.workspace / "keys" / "pseudonym.key"
    key.parent.mkdir(exist_ok=True)
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    _pair(settings, folder, linked=False)  # the same pair passes
    released = [_read(p) for p in sorted((settings.workspace / "releases").glob("*/release.csv"))]
    assert len(released) == 1
    checks = _ledger_checks(settings)
    assert [c["payload"]["verdict"] for c in checks] == ["passed"] * len(checks)


def _two_departments(settings: Settings, folder: Path, *, person_keys: bool) -> Settings:
    """The same residents in a second department's dataset; a grading policy for which
    more than 5,000 people make important data (each dataset alone: 4,000)."""
    (folder / "grading.toml").write_text("[grading]\nimportant_people = 5000\n")
    graded = load_settings(
        settings.workspace,
        {
            "governance_policy": settings.governance_policy,
            "grading_policy": str(folder / "grading.toml"),
        },
    )
    # The same residents (the same IDs) with other values: another department's records.
    people = _population(seed=8)
    with (folder / "benefits.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(people[0]))
        writer.writeheader()
        writer.writerows(people)
    stella = Governance(Workspace(graded), "stella")
    stella.add_department("civil", "Civil Affairs Bureau")
    stella.register_dataset(
        "benefits",
        department="civil",
        system="benefits",
        source=folder / "benefits.csv",
        roles={"resident_id": "identifying", "diagnosis": "sensitive"},
        reason="the diagnosis is health information",
    )
    if person_keys:
        stella.declare_person_key("patients", "resident_id")
        stella.declare_person_key("benefits", "resident_id")
    return graded


def _request_file(
    settings: Settings, folder: Path, plan: str, dataset: str, columns: list[str], recipient: str
) -> str:
    """A file request for ``recipient`` of ``columns`` of ``dataset``, prepared with ``plan``."""
    ws = Workspace(settings)
    rita, stella = Governance(ws, "rita"), Governance(ws, "stella")
    request = rita.file_request(dataset)
    rita.set_objectives(
        request, purpose="public_welfare", sharing_model="file_under_agreement",
        columns=columns, intended_use="a study", term_end="2030-12-31", recipient=recipient,
    )  # fmt: skip
    stella.identify(request)
    stella.prepare(request, folder / plan)
    return request


def _file_to(settings: Settings, folder: Path, dataset: str, recipient: str) -> str:
    return _request_file(settings, folder, "plan_a.toml", dataset, COLUMNS, recipient)


def _record_plans(folder: Path) -> None:
    """Plans ra.toml (age band and sex) and rb.toml (region and sex): joined record by
    record, they single people out; apart, each is 5-anonymous."""
    plan_a = (folder / "plan_a.toml").read_text()
    plan_a = plan_a.replace('["age", "sex", "region"]', '["age", "sex"]')
    plan_a = plan_a.replace('region = "region_a.csv"\n', "")
    plan_a = plan_a.replace("[levels.region]\nmin = 1\nmax = 1\n", "")
    plan_b = (folder / "plan_b.toml").read_text()
    plan_b = plan_b.replace('["age", "sex", "region"]', '["region", "sex"]')
    plan_b = plan_b.replace('age = "age_b.csv"\n', "")
    plan_b = plan_b.replace("[levels.age]\nmin = 1\nmax = 1\n", "")
    plan_b = plan_b.replace(
        "[levels.region]\nmin = 1\nmax = 1", "[levels.region]\nmin = 0\nmax = 0"
    )
    (folder / "ra.toml").write_text(plan_a)
    (folder / "rb.toml").write_text(plan_b)


def test_a_holding_that_reaches_important_data_is_refused_as_a_file(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    graded = _two_departments(settings, folder, person_keys=False)
    first = _file_to(graded, folder, "patients", "Analytics Co")
    _released(graded, first, "Analytics Co")
    # Without person keys the two datasets are 8,000 people: important data, never a file.
    with pytest.raises(RefusedError, match=r"is important data \(important: covers about 8,000"):
        _file_to(graded, folder, "benefits", "Analytics Co")
    check = _ledger_checks(graded)[-1]["payload"]
    assert check["holding"]["departments"] == ["civil", "health"]
    assert check["holding"]["grade"] == "important"
    # To another recipient the same release is general data.
    _file_to(graded, folder, "benefits", "Someone Else")


def test_person_keys_link_datasets(office: tuple[Settings, Path]) -> None:
    """With the resident ID declared the person key of both, the holding is 4,000 people."""
    settings, folder = office
    graded = _two_departments(settings, folder, person_keys=True)
    first = _file_to(graded, folder, "patients", "Analytics Co")
    _released(graded, first, "Analytics Co")
    _file_to(graded, folder, "benefits", "Analytics Co")
    check = _ledger_checks(graded)[-1]["payload"]
    assert check["holding"]["people"] == N
    assert check["verdict"] == "passed"


def test_a_view_changed_on_disk_is_refused(office: tuple[Settings, Path]) -> None:
    """An operator who edits or deletes what a recipient holds does not get a release out."""
    settings, folder = office
    a = _prepared(settings, folder, "plan_a.toml", "University X")
    _released(settings, a, "University X")
    view = settings.workspace / "views" / a / "view.npz"
    original = view.read_bytes()
    view.write_bytes(original[:-8] + bytes(8))
    with pytest.raises(RefusedError, match="is not the one released"):
        _prepared(settings, folder, "plan_b.toml", "University X")
    view.unlink()
    with pytest.raises(RefusedError, match="is missing"):
        _prepared(settings, folder, "plan_b.toml", "University X")
    view.write_bytes(original)  # restored from a backup: checked again
    with pytest.raises(RefusedError, match="only in combination"):
        _prepared(settings, folder, "plan_b.toml", "University X")


def test_the_mosaic_command(
    office: tuple[Settings, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from custodes.cli import main

    settings, folder = office
    monkeypatch.setenv("CUSTODES_GOVERNANCE_POLICY", settings.governance_policy)
    a = _prepared(settings, folder, "plan_a.toml", "University X")
    _released(settings, a, "University X")
    safe = _prepared(settings, folder, "plan_b_safe.toml", "University X")
    capsys.readouterr()
    base = ["--as", "pat", "--workspace", str(settings.workspace)]
    assert main(["mosaic", safe, *base]) == 0
    table = capsys.readouterr().out
    assert "PASSED" in table
    assert "releases held: 1" in table
    assert f"request {a}" in table
    assert main(["mosaic", safe, "--format", "json", *base]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "passed"
    assert [r["request"] for r in data["releases"]] == [a]
    assert data["figures"]["sensitive"]["diagnosis"]["lowered"] == 0
    page = folder / "mosaic.html"
    assert main(["mosaic", safe, "--format", "html", "--output", str(page), *base]) == 0
    html = page.read_text(encoding="utf-8")
    assert "组合风险" in html
    assert "Mosaic risk" in html
    assert a in html
    for person in _population()[:50]:  # no value of any record
        assert person["resident_id"] not in html
    # A request with no prepared file, and a bad format: exit 2 with the fix.
    assert main(["mosaic", "nosuchrequest", *base]) == 2
    assert main(["mosaic", safe, "--format", "xml", *base]) == 2
    assert "choose table, json or html" in capsys.readouterr().err


def test_query_access_to_an_important_holding_needs_its_board(
    office: tuple[Settings, Path],
) -> None:
    """DP query access is allowed for important data, but the approval then needs the
    board roles of important data (legal, privacy-technical and leadership)."""
    settings, folder = office
    graded = _two_departments(settings, folder, person_keys=False)
    first = _file_to(graded, folder, "patients", "Analytics Co")
    _released(graded, first, "Analytics Co")
    ws = Workspace(graded)
    rita, stella = Governance(ws, "rita"), Governance(ws, "stella")
    request = rita.file_request("benefits")
    rita.set_objectives(
        request, purpose="public_welfare", sharing_model="dp_query", columns=["sex", "age"],
        intended_use="counts", term_end="2030-12-31", recipient="Analytics Co",
    )  # fmt: skip
    stella.identify(request)
    assert stella.prepare(request)["holding_grade"] == "important"
    stella.submit(request)
    Governance(ws, "pat").decide(request, True, "aggregates only")
    assert Governance(ws, "lee").decide(request, True, "lawful") == "under_review"
    Governance(ws, "root").add_actor(
        "lin", ["reviewer"], organisation="Data office", credential="ID-lin",
        board_role="leadership",
    )  # fmt: skip
    assert Governance(ws, "lin").decide(request, True, "approved by leadership") == "approved"
    # Alone, the same access is general data: two approvals do.
    other = rita.file_request("benefits")
    rita.set_objectives(
        other, purpose="public_welfare", sharing_model="dp_query", columns=["sex", "age"],
        intended_use="counts", term_end="2030-12-31", recipient="Someone Else",
    )  # fmt: skip
    stella.identify(other)
    assert stella.prepare(other)["holding_grade"] == "general"


def test_anonymize_mosaic_safe(
    office: tuple[Settings, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`custodes anonymize --mosaic-safe RECIPIENT --dataset NAME`: a steward's stand-alone
    anonymization of a registered file, safe with what the recipient holds."""
    from custodes.cli import main

    settings, folder = office
    monkeypatch.setenv("CUSTODES_GOVERNANCE_POLICY", settings.governance_policy)
    a = _prepared(settings, folder, "plan_a.toml", "University X")
    file_a = _released(settings, a, "University X")
    base = ["--as", "stella", "--workspace", str(settings.workspace)]
    safe = folder / "b-safe.csv"
    capsys.readouterr()
    people, plan = str(folder / "people.csv"), str(folder / "plan_b_safe.toml")
    code = main(["anonymize", people, "--spec", plan, "--output", str(safe),
                 "--mosaic-safe", "University X", "--dataset", "patients", *base])  # fmt: skip
    assert code == 0
    assert (
        "mosaic-safe for University X: combined with 1 release(s) held" in capsys.readouterr().out
    )
    pinned = _attack(folder, [(file_a, "age_a.csv", "region_a.csv"),
                              (safe, "age_b.csv", "region_b.csv")])  # fmt: skip
    assert pinned == 0
    assert _ledger_checks(settings)[-1]["payload"]["stage"] == "anonymize"
    # Fixed levels leave the search no safe transformation: refused, exit 2.
    code = main(["anonymize", str(folder / "people.csv"), "--spec", str(folder / "plan_b.toml"),
                 "--output", str(folder / "b.csv"), "--mosaic-safe", "University X",
                 "--dataset", "patients", *base])  # fmt: skip
    assert code == 2
    assert "mosaic check" in capsys.readouterr().err
    # Without --dataset, or with a file that is not the dataset's: exit 2 with the fix.
    code = main(["anonymize", people, "--spec", plan, "--output", str(safe),
                 "--mosaic-safe", "University X", *base])  # fmt: skip
    assert code == 2
    assert "--dataset NAME" in capsys.readouterr().err
    other = folder / "other.csv"
    other.write_text((folder / "people.csv").read_text(encoding="utf-8") + "R9999999,30,M,G01,D0\n")
    code = main(["anonymize", str(other), "--spec", str(folder / "plan_b_safe.toml"),
                 "--output", str(safe), "--mosaic-safe", "University X", "--dataset",
                 "patients", *base])  # fmt: skip
    assert code != 0
    assert "changed or is gone" in capsys.readouterr().err
