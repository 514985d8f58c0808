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
) -> str:
    ws = Workspace(settings)
    rita, stella = Governance(ws, "rita"), Governance(ws, "stella")
    request = rita.file_request("patients")
    rita.set_objectives(
        request, purpose="public_welfare", sharing_model=model, columns=COLUMNS,
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
    assert after == alone
    report = Workspace(settings)
    assert report is not None
    released = json.loads((file_safe.parent / "manifest.json").read_text(encoding="utf-8"))
    assert released["generalization"] != {}


def test_an_open_publication_is_held_by_everyone(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    a = _prepared(settings, folder, "plan_a.toml", "Public", model="open_publication")
    _released(settings, a, "Public")
    with pytest.raises(RefusedError, match="holds"):
        _prepared(settings, folder, "plan_b.toml", "Other Ltd")
