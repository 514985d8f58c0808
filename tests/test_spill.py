"""The search on disk: the same result as the search in memory, in bounded memory.

When a summary is larger than the memory limit, its classes are searched in parts
in a temporary folder (:mod:`custodes.anonymize._spill`). Whatever the parts (a
tiny limit makes hundreds), the levels, the suppressed records and every loss
figure must equal those of the search in memory; the folder must be gone after
the search, also when it fails; and what the search holds must not grow with the
summary.
"""

from __future__ import annotations

import datetime as dt
import importlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes import AnonymizationSpec
from custodes._spilled import SummaryWriter
from custodes.anonymize import _parts, _search, _spill
from custodes.anonymize._generalize import Scheme, schemes_for
from custodes.anonymize._lattice import SearchResult
from custodes.anonymize._models import DistinctLDiversity, KAnonymity, PrivacyModel
from custodes.anonymize._objectives import Objective
from custodes.anonymize._search import optimal_generalization
from custodes.anonymize._spill import spilled_generalization
from custodes.engines import get_engine
from custodes.errors import DataFileError, InvalidInputError, SettingError
from custodes.hierarchy import Hierarchy, build_hierarchy
from custodes.settings import load_settings
from custodes.summary import Summary
from custodes.synth._geography import counties
from custodes.workspace import Workspace
from tests.peak_memory import peak_mib
from tests.test_search_exhaustive import random_hierarchy

SEX = Hierarchy(rows=(("男", "*"), ("女", "*")))
QIS = ("sex", "birth_date", "region_code")
TINY = 256 << 10
"""A memory limit that makes parts of a thousand classes."""


def register(rows: int, seed: int) -> pl.DataFrame:
    """The register shape of ``bench/scale_data.py``: sex, a birth date in 100 years and a
    county code (Zipf-weighted), as text and a date."""
    rng = np.random.default_rng(seed)
    codes = counties().code
    weights = 1.0 / np.arange(1, len(codes) + 1)
    first = (dt.date(1926, 12, 1) - dt.date(1970, 1, 1)).days
    days = rng.integers(first, first + 100 * 365 + 24, rows).astype(np.int32)
    return pl.DataFrame(
        {
            "sex": np.array(["男", "女"])[rng.integers(0, 2, rows)],
            "birth_date": pl.Series(days).cast(pl.Date),
            "region_code": np.array(codes)[rng.choice(len(codes), rows, p=weights / weights.sum())],
        }
    )


def register_problem(rows: int, seed: int) -> tuple[Summary, tuple[Scheme, ...]]:
    summary = get_engine().summarize(register(rows, seed).lazy(), list(QIS))
    hierarchies = {
        "sex": SEX,
        "birth_date": build_hierarchy("date:month,year,decade", summary.category_values(1)),
        "region_code": build_hierarchy("prc", summary.category_values(2)),
    }
    return summary, schemes_for(summary, hierarchies)


def same(memory: SearchResult, disk: SearchResult, *, class_of: bool = True) -> None:
    """Every figure of the two results equal (floats to the last bit)."""
    assert disk.levels == memory.levels
    assert disk.suppressed_records == memory.suppressed_records
    assert disk.loss == memory.loss
    assert disk.loss_per_column == memory.loss_per_column
    assert disk.objective_value == memory.objective_value
    assert (disk.nodes_checked, disk.nodes_in_lattice) == (
        memory.nodes_checked,
        memory.nodes_in_lattice,
    )
    assert disk.optimal == memory.optimal
    assert np.array_equal(disk.generalized.sizes, memory.generalized.sizes)
    assert np.array_equal(disk.generalized.nodes, memory.generalized.nodes)
    assert np.array_equal(disk.suppressed_classes, memory.suppressed_classes)
    if class_of:
        assert np.array_equal(disk.generalized.class_of, memory.generalized.class_of)


@pytest.mark.parametrize(
    ("k", "suppression", "objective"),
    [(10, 0.01, "loss"), (5, 0.0, "loss"), (3, 0.02, "precision")],
)
def test_on_the_register_the_search_on_disk_equals_the_search_in_memory(
    k: int, suppression: float, objective: str, tmp_path: Path
) -> None:
    summary, schemes = register_problem(60_000, seed=17)
    assert summary.classes > 50_000  # nearly every person unique, as at national scale
    models = [KAnonymity(k)]
    memory = optimal_generalization(
        summary, schemes, models, suppression_limit=suppression, objective=Objective(objective)
    )
    disk = optimal_generalization(
        summary,
        schemes,
        models,
        suppression_limit=suppression,
        objective=Objective(objective),
        memory_limit=TINY,
        spill_directory=tmp_path,
    )
    assert memory.spilled_parts == 0
    assert disk.spilled_parts > 40
    same(memory, disk)
    assert list(tmp_path.iterdir()) == []


def test_the_heuristic_on_disk_equals_the_heuristic_in_memory(tmp_path: Path) -> None:
    summary, schemes = register_problem(20_000, seed=4)
    options = {"suppression_limit": 0.01, "max_nodes": 4}  # too many nodes to search exactly
    memory = optimal_generalization(summary, schemes, [KAnonymity(10)], **options)  # type: ignore[arg-type]
    disk = spilled_generalization(summary, schemes, [KAnonymity(10)], memory_limit=TINY, **options)  # type: ignore[arg-type]
    assert not disk.optimal
    same(memory, disk)


@st.composite
def problems(draw: st.DrawFn) -> tuple[Summary, tuple[Scheme, ...]]:
    """A random table of 1 to 4 quasi-identifiers with a random hierarchy each."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = draw(st.integers(1, 3_000))
    data: dict[str, list[str]] = {}
    hierarchies: dict[str, Hierarchy] = {}
    for j in range(draw(st.integers(1, 4))):
        values = draw(st.integers(1, 60))
        skew = 1.0 / np.arange(1, values + 1) ** draw(st.sampled_from([0.0, 1.0]))
        data[f"q{j}"] = [f"v{c}" for c in rng.choice(values, size=rows, p=skew / skew.sum())]
        hierarchies[f"q{j}"] = random_hierarchy(values, draw(st.integers(1, 4)), rng)
    summary = get_engine().summarize(pl.DataFrame(data).lazy(), list(data))
    return summary, schemes_for(summary, hierarchies)


@given(
    problem=problems(),
    k=st.integers(1, 12),
    suppression=st.sampled_from([0.0, 0.01, 0.1]),
    objective=st.sampled_from(["loss", "precision", "discernibility", "aecs"]),
    factor=st.sampled_from([0.2, 0.5, 0.8]),
    limit=st.sampled_from([1, 4 << 10, 1 << 20]),
    narrow=st.booleans(),
    held=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_on_random_tables_the_search_on_disk_equals_the_search_in_memory(
    problem: tuple[Summary, tuple[Scheme, ...]],
    k: int,
    suppression: float,
    objective: str,
    factor: float,
    limit: int,
    narrow: bool,
    held: bool,
) -> None:
    # ``held``: the parts cut as on disk but kept in memory (the search of a large
    # summary that memory would hold, run in parts for its speed).
    summary, schemes = problem
    lows = [min(1, s.height) if narrow else 0 for s in schemes]
    highs = [
        max(lo, s.height - 1) if narrow else s.height for lo, s in zip(lows, schemes, strict=True)
    ]
    chosen = Objective(objective)
    chosen = Objective(objective, type(chosen.metric)(factor))
    options = {
        "suppression_limit": suppression,
        "objective": chosen,
        "metric": chosen.metric,
        "min_levels": lows,
        "max_levels": highs,
        "held": held,
    }
    try:
        memory = optimal_generalization(summary, schemes, [KAnonymity(k)], **without_held(options))  # type: ignore[arg-type]
    except InvalidInputError as refused:
        with pytest.raises(InvalidInputError, match=str(refused)[:40]):
            spilled_generalization(summary, schemes, [KAnonymity(k)], memory_limit=limit, **options)  # type: ignore[arg-type]
        return
    disk = spilled_generalization(summary, schemes, [KAnonymity(k)], memory_limit=limit, **options)  # type: ignore[arg-type]
    same(memory, disk)


def without_held(options: dict[str, object]) -> dict[str, object]:
    return {name: value for name, value in options.items() if name != "held"}


def test_a_large_summary_is_searched_in_parts_held_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Past IN_PARTS classes the search runs in parts, whatever the memory, and holds
    # them in memory when the memory would hold the whole search: nothing on disk.
    summary, schemes = register_problem(60_000, seed=17)
    whole = optimal_generalization(summary, schemes, [KAnonymity(10)], suppression_limit=0.01)
    assert whole.spilled_parts == 0
    monkeypatch.setattr(_search, "IN_PARTS", 100)
    monkeypatch.setattr(_search, "PART_BUDGET", 64 << 10)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[list[Path]] = []
    real = _parts.write_parts

    def spy(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        seen.append([p for p in tmp_path.rglob("*") if p.is_file()])
        return made

    monkeypatch.setattr(_spill, "write_parts", spy)
    parted = optimal_generalization(summary, schemes, [KAnonymity(10)], suppression_limit=0.01)
    assert parted.spilled_parts > 1
    assert seen == [[]]  # (held: no part written)
    same(whole, parted)


def write_spilled(summary: Summary, folder: Path, budget: int) -> SummaryWriter:
    """The summary's classes written to disk as the rows of a table would come: every
    class split into pieces spread over several chunks."""
    writer = SummaryWriter(summary.quasi_identifiers, summary.categories, budget, folder)
    pieces = np.repeat(np.arange(summary.classes), 2)
    counts = np.empty(2 * summary.classes, dtype=np.int64)
    counts[0::2] = summary.counts // 2
    counts[1::2] = summary.counts - counts[0::2]
    kept = counts > 0
    pieces, counts = pieces[kept], counts[kept]
    order = np.random.default_rng(3).permutation(len(pieces))
    for chunk in np.array_split(order, 7):
        writer.add(summary.codes[pieces[chunk]], counts[chunk])
    return writer


def test_a_summary_written_to_disk_in_pieces_is_searched_like_the_summary(
    tmp_path: Path,
) -> None:
    summary, schemes = register_problem(30_000, seed=5)
    with write_spilled(summary, tmp_path, budget=TINY) as writer, writer.finish() as spilled:
        assert len(spilled.parts) > 16  # some parts were split again
        assert (spilled.rows, spilled.classes) == (summary.rows, summary.classes)
        back = sorted(
            (tuple(c), int(n))
            for codes, counts in spilled.chunks()
            for c, n in zip(codes.tolist(), counts.tolist(), strict=True)
        )
        assert back == sorted(
            (tuple(c), int(n))
            for c, n in zip(summary.codes.tolist(), summary.counts.tolist(), strict=True)
        )
        memory = optimal_generalization(summary, schemes, [KAnonymity(10)], suppression_limit=0.01)
        disk = spilled_generalization(
            spilled, schemes, [KAnonymity(10)], suppression_limit=0.01, memory_limit=TINY
        )
        same(memory, disk, class_of=False)
    assert list(tmp_path.iterdir()) == []


def test_the_folder_is_removed_when_the_search_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary, schemes = register_problem(20_000, seed=9)
    calls = []

    def interrupted(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user stops it midway

    with pytest.raises(KeyboardInterrupt):
        spilled_generalization(
            summary,
            schemes,
            [KAnonymity(10)],
            suppression_limit=0.01,
            memory_limit=TINY,
            progress=interrupted,
            directory=tmp_path,
        )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInputError, match="no transformation meets"):
        spilled_generalization(
            summary, schemes, [KAnonymity(30_000)], memory_limit=TINY, directory=tmp_path
        )
    assert list(tmp_path.iterdir()) == []

    def broken(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(importlib.import_module("custodes.anonymize._parts"), "_write", broken)
    with pytest.raises(DataFileError, match=r"cannot write the search's parts"):
        spilled_generalization(
            summary, schemes, [KAnonymity(10)], memory_limit=TINY, directory=tmp_path
        )
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), write_spilled(summary, tmp_path, TINY):
        raise RuntimeError("the engine failed while writing")
    assert list(tmp_path.iterdir()) == []


def test_models_the_search_on_disk_cannot_check_are_refused_naming_the_setting() -> None:
    frame = register(20_000, seed=1).with_columns(diagnosis=pl.lit("J00"))
    summary = get_engine().summarize(frame.lazy(), list(QIS), ["diagnosis"])
    _, schemes = register_problem(20_000, seed=1)
    models: list[PrivacyModel] = [KAnonymity(5), DistinctLDiversity("diagnosis", 2)]
    with pytest.raises(SettingError, match=r"k-anonymity only.*diversity.*memory_limit"):
        optimal_generalization(summary, schemes, models, memory_limit=TINY)
    with pytest.raises(SettingError, match=r"entropy objective.*--memory-limit"):
        optimal_generalization(
            summary, schemes, [KAnonymity(5)], memory_limit=TINY, objective=Objective("entropy")
        )
    with pytest.raises(SettingError, match=r"recipient holds.*memory_limit"):
        optimal_generalization(
            summary, schemes, [KAnonymity(5)], memory_limit=TINY, accept=lambda *_: True
        )


def test_anonymize_past_the_memory_limit_makes_the_same_release(tmp_path: Path) -> None:
    path = tmp_path / "register.parquet"
    register(40_000, seed=2).write_parquet(path)
    spec = AnonymizationSpec(
        QIS,
        {"sex": SEX, "birth_date": "date:month,year,decade", "region_code": "prc"},
        (KAnonymity(10),),
        0.01,
    )
    released = {}
    for limit in ("auto", "1MiB"):
        ws = Workspace(load_settings(tmp_path / "ws", {"memory_limit": limit}, environ={}))
        out = tmp_path / f"release-{limit}.parquet"
        result = ws.anonymize(str(path), spec, output=out)
        assert result.search is not None
        released[limit] = (result, pl.read_parquet(out))
    (memory, in_memory), (disk, on_disk) = released["auto"], released["1MiB"]
    assert memory.search is not None
    assert disk.search is not None
    assert (memory.search.spilled_parts, disk.search.spilled_parts > 1) == (0, True)
    assert disk.manifest()["utility"] == memory.manifest()["utility"]
    assert disk.manifest()["risk_after"] == memory.manifest()["risk_after"]
    assert on_disk.equals(in_memory)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("lots", "environment variable CUSTODES_MEMORY_LIMIT"),
        ("0", "environment variable CUSTODES_MEMORY_LIMIT"),
        ("512K", "environment variable CUSTODES_MEMORY_LIMIT"),
        ("150%", "environment variable CUSTODES_MEMORY_LIMIT"),
    ],
)
def test_a_bad_memory_limit_is_refused_naming_the_setting_and_the_fix(
    value: str, where: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingError, match=rf"'memory_limit' from {where} is '{value}'.*4GiB"):
        load_settings(tmp_path, environ={"CUSTODES_MEMORY_LIMIT": value})
    assert load_settings(tmp_path, {"memory_limit": "2GiB"}, environ={}).memory_limit_bytes() == (
        2 << 30
    )
    assert load_settings(tmp_path, {"memory_limit": "50%"}, environ={}).memory_limit_bytes() > 0


def test_the_command_line_refuses_a_bad_memory_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    path = tmp_path / "register.csv"
    register(50, seed=3).write_csv(path)
    code = main(
        [
            "anonymize", str(path), "--qi", "sex", "--hierarchy", "sex=prc", "--k", "2",
            "--output", str(tmp_path / "out.csv"), "--memory-limit", "a lot",
            "--workspace", str(tmp_path / "ws"),
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "'memory_limit' from the command line (--memory-limit) is 'a lot'" in err
    assert "4GiB" in err
    assert not (tmp_path / "out.csv").exists()


def test_what_the_search_on_disk_holds_does_not_grow_with_the_summary(tmp_path: Path) -> None:
    # The summary comes to disk chunk by chunk (as an engine's batches of rows would) and
    # is searched there in 8 MB: four times the rows (1.5 M more classes, 30 MB more as a
    # summary in memory and some 100 MB more for the search in memory) must cost the
    # process a few MB at most. glibc's mmap threshold is fixed, as it is by default until
    # large arrays are freed: raised after that, it keeps freed arrays in the heap for
    # reuse, which would be counted here though nothing holds them.
    code = (
        "import sys, numpy as np, pyarrow as pa\n"
        "from custodes._spilled import SummaryWriter\n"
        "from custodes.anonymize._generalize import schemes_for\n"
        "from custodes.anonymize._models import KAnonymity\n"
        "from custodes.anonymize._spill import spilled_generalization\n"
        "from custodes.hierarchy import Hierarchy, build_hierarchy\n"
        "from custodes.synth._geography import counties\n"
        "import datetime as dt\n"
        "rows, budget = int(sys.argv[1]) * 100_000, 8 << 20\n"
        "days = [str(dt.date(1926, 12, 1) + dt.timedelta(d)) for d in range(100 * 365 + 24)]\n"
        "codes = list(counties().code)\n"
        "categories = [pa.array(['男', '女']), pa.array(days), pa.array(codes)]\n"
        "weights = 1.0 / np.arange(1, len(codes) + 1)\n"
        "rng = np.random.default_rng(1)\n"
        "with SummaryWriter(('sex', 'birth_date', 'region_code'), categories, budget) as w:\n"
        "    for start in range(0, rows, 200_000):\n"
        "        n = min(200_000, rows - start)\n"
        "        chunk = np.stack([rng.integers(0, 2, n), rng.integers(0, len(days), n),\n"
        "            rng.choice(len(codes), n, p=weights / weights.sum())], axis=1)\n"
        "        w.add(chunk.astype(np.int32), np.ones(n, dtype=np.int64))\n"
        "    spilled = w.finish()\n"
        "with spilled:\n"
        "    h = {'sex': Hierarchy(rows=(('男', '*'), ('女', '*'))),\n"
        "         'birth_date': build_hierarchy('date:month,year,decade', days),\n"
        "         'region_code': build_hierarchy('prc', codes)}\n"
        "    schemes = schemes_for(spilled, h)\n"
        "    found = spilled_generalization(spilled, schemes, [KAnonymity(10)],\n"
        "        suppression_limit=0.01, memory_limit=budget)\n"
        "    assert found.spilled_parts > 8, found.spilled_parts\n"
        "    assert spilled.classes > 0.75 * rows, spilled.classes\n"
    )
    environ = {"MALLOC_MMAP_THRESHOLD_": "131072"}
    peaks = {rows: peak_mib(code, str(rows), cwd=tmp_path, env=environ) for rows in (6, 24)}
    grown = 0.75 * 1_800_000 * (3 * 4 + 8) / 2**20  # at least, as a summary in memory
    assert peaks[24] - peaks[6] < grown / 4, (peaks, grown)
