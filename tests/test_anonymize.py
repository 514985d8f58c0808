"""The optimal generalization search: ARX's optima on Adult, and brute force on random data."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.anonymize._generalize import apply, schemes_for
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    AverageRisk,
    DistinctLDiversity,
    KAnonymity,
    PopulationUniqueness,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
    violating_classes,
)
from custodes.anonymize._search import optimal_generalization
from custodes.engines import get_engine
from custodes.errors import InvalidInputError, SettingError
from custodes.hierarchy import Hierarchy, read_hierarchy

# ARX's column order for the published levels.
ORDER = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "salary-class",
]


@pytest.fixture(scope="module")
def adult(adult_frame: pl.LazyFrame, adult_dir: Path):  # type: ignore[no-untyped-def]
    summary = get_engine().summarize(adult_frame, ORDER, ["occupation"])
    hierarchies = {q: read_hierarchy(adult_dir / f"adult_hierarchy_{q}.csv") for q in ORDER}
    occupation = read_hierarchy(adult_dir / "adult_hierarchy_occupation.csv")
    return summary, schemes_for(summary, hierarchies), occupation


ARX = [
    ("k=5", 0.0, (0, 4, 1, 2, 3, 2, 0, 0), 0, 0.5422),
    ("k=5", 0.02, (0, 3, 0, 2, 2, 1, 1, 0), 506, 0.2465),
    ("distinct l=2", 0.02, (0, 3, 0, 0, 2, 1, 1, 0), 567, 0.1472),
    ("recursive c=4 l=3", 0.02, (0, 2, 0, 1, 3, 1, 1, 0), 599, 0.2428),
    ("t=0.2 hierarchical", 0.02, (1, 4, 0, 2, 3, 1, 2, 1), 151, 0.7351),
]


@pytest.mark.parametrize(("model", "limit", "levels", "suppressed", "loss"), ARX)
def test_adult_optimum_matches_arx(  # type: ignore[no-untyped-def]
    adult, model: str, limit: float, levels: tuple[int, ...], suppressed: int, loss: float
) -> None:
    summary, schemes, occupation = adult
    models: dict[str, PrivacyModel] = {
        "k=5": KAnonymity(5),
        "distinct l=2": DistinctLDiversity("occupation", 2),
        "recursive c=4 l=3": RecursiveCLDiversity("occupation", 3, c=4.0),
        "t=0.2 hierarchical": TCloseness("occupation", 0.2, "hierarchical", occupation),
    }
    result = optimal_generalization(summary, schemes, [models[model]], suppression_limit=limit)
    assert result.levels == levels
    assert result.suppressed_records == suppressed
    assert round(result.loss, 4) == loss
    assert result.optimal
    assert result.nodes_in_lattice == 4320


# ------------------------------------------------------------ brute force

LEAF = Hierarchy(rows=tuple((str(v), f"{v // 2}x", f"{v // 4}y", "*") for v in range(8)))
FLAT = Hierarchy(rows=(("a", "*"), ("b", "*"), ("c", "*")))

tables = st.lists(
    st.tuples(
        st.integers(0, 7).map(str), st.sampled_from("abc"), st.sampled_from(["s1", "s2", "s3"])
    ),
    min_size=1,
    max_size=60,
)


def _brute_force(summary, schemes, models, limit):  # type: ignore[no-untyped-def]
    metric = LossMetric()
    best = None
    cap = int(limit * summary.rows + 1e-9)
    for levels in itertools.product(*(range(s.height + 1) for s in schemes)):
        g = apply(summary, schemes, levels)
        hist = g.histogram(summary.sensitive["s"])
        bad = violating_classes(g.sizes, models, lambda _, hist=hist: hist)
        if int(g.sizes[bad].sum()) > cap:
            continue
        loss = metric.aggregate(metric.per_column(g, schemes, bad, [s.leaves for s in schemes]))
        key = (round(loss, 12), sum(levels), levels)
        best = key if best is None or key < best else best
    return best


@given(
    rows=tables,
    k=st.integers(1, 6),
    limit=st.sampled_from([0.0, 0.05, 0.2]),
    kind=st.sampled_from(["k", "l", "recursive", "t", "average", "population"]),
    t=st.sampled_from([0.1, 0.2, 0.3, 0.5]),
    distance=st.sampled_from(["equal", "ordered", "hierarchical"]),
)
@settings(max_examples=80, deadline=None)
def test_search_finds_the_brute_force_optimum(
    rows: list[tuple[str, str, str]], k: int, limit: float, kind: str, t: float, distance: str
) -> None:
    frame = pl.DataFrame(rows, schema=["v", "w", "s"], orient="row").lazy()
    summary = get_engine().summarize(frame, ["v", "w"], ["s"])
    schemes = schemes_for(summary, {"v": LEAF, "w": FLAT})
    sensitive = Hierarchy(rows=(("s1", "low", "*"), ("s2", "low", "*"), ("s3", "high", "*")))
    models: list[PrivacyModel] = {
        "k": [KAnonymity(k)],
        "l": [KAnonymity(k), DistinctLDiversity("s", 2)],
        "recursive": [RecursiveCLDiversity("s", 2, c=2.0)],
        "t": [TCloseness("s", t, distance, sensitive)],  # type: ignore[arg-type]
        "average": [KAnonymity(k), AverageRisk(0.2)],
        "population": [KAnonymity(k), PopulationUniqueness(0.02, 1000)],
    }[kind]
    expected = _brute_force(summary, schemes, models, limit)
    if expected is None:
        with pytest.raises(InvalidInputError, match="no transformation meets"):
            optimal_generalization(summary, schemes, models, suppression_limit=limit)
        return
    result = optimal_generalization(summary, schemes, models, suppression_limit=limit)
    assert (round(result.loss, 12), sum(result.levels), result.levels) == expected
    kept = ~result.suppressed_classes
    if kind in ("k", "l", "average"):
        assert (result.generalized.sizes[kept] >= k).all()
    if kind == "average":
        sizes = result.generalized.sizes[kept]
        assert len(sizes) == 0 or len(sizes) / sizes.sum() <= 0.2 + 1e-12
    assert result.suppressed_records <= int(limit * summary.rows + 1e-9)


def test_every_quasi_identifier_needs_a_hierarchy() -> None:
    summary = get_engine().summarize(pl.DataFrame({"v": ["1"], "w": ["a"]}).lazy(), ["v", "w"])
    with pytest.raises(InvalidInputError, match="'w' has no generalization hierarchy"):
        schemes_for(summary, {"v": LEAF})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: KAnonymity(0), "k-anonymity needs a whole number k >= 1"),
        (lambda: DistinctLDiversity("s", 0), "l-diversity needs l >= 1"),
        (lambda: RecursiveCLDiversity("s", 2, c=-1.0), "needs c > 0"),
        (lambda: TCloseness("s", 1.5), "t-closeness needs t in"),
        (lambda: TCloseness("s", 0.2, "hierarchical"), "needs a hierarchy"),
        (lambda: LossMetric(2.0), "generalization/suppression factor is 2.0"),
    ],
)
def test_invalid_models_name_the_setting(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingError, match=message):
        make()


# ------------------------------------------------------------ the release


def _hier_args(adult_dir: Path) -> list[str]:
    out: list[str] = []
    for q in ORDER:
        out += ["--hierarchy", f"{q}={adult_dir / f'adult_hierarchy_{q}.csv'}"]
    return out


def test_cli_anonymize_writes_table_and_manifest(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from custodes.cli import main
    from custodes.io import file_sha256

    target, manifest = tmp_path / "out.parquet", tmp_path / "m.json"
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", ",".join(ORDER)]
    argv += _hier_args(adult_dir)
    argv += ["--k", "5", "--suppression", "0.02", "--identifying", "occupation"]
    argv += ["--output", str(target), "--manifest", str(manifest)]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "suppressed records: 506; loss: 0.2465; optimal" in " ".join(out.split())
    released = pl.read_parquet(target)
    assert released.height == 30_162 - 506  # suppressed records are not released
    assert "occupation" not in released.columns  # a direct identifier is removed
    sizes = released.group_by(ORDER).len()["len"]
    assert int(sizes.min()) >= 5
    assert not (released["age"] == "*").any()
    m = json.loads(manifest.read_text(encoding="utf-8"))
    assert m["transformation"] == dict(zip(ORDER, (0, 3, 0, 2, 2, 1, 1, 0), strict=True))
    assert m["suppressed_records"] == 506
    assert round(m["utility"]["loss"], 4) == 0.2465
    assert m["output"]["sha256"] == file_sha256(target)
    assert m["input"]["sha256"] == file_sha256(adult_dir / "adult.csv")
    assert m["risk_before"]["k_anonymity"] == 1
    assert m["risk_after"]["k_anonymity"] >= 5
    assert m["global_optimum"] is None
    assert m["search"]["optimal"] is True
    assert len(m["spec_sha256"]) == 64


def test_cli_anonymize_l_diversity_meets_the_model(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.csv"
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", ",".join(ORDER)]
    argv += _hier_args(adult_dir)
    argv += ["--sensitive", "occupation", "--l", "2", "--suppression", "0.02"]
    argv += ["--output", str(target)]
    from custodes.cli import main

    assert main(argv) == 0, capsys.readouterr().err
    released = pl.read_csv(target, infer_schema=False)
    kept = released.filter(pl.col("age") != "*")
    distinct = kept.group_by(ORDER).agg(pl.col("occupation").n_unique())["occupation"]
    assert int(distinct.min()) >= 2
    assert released.height == 30_162 - 567


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--l", "2"], "--l and --t need --sensitive"),
        (["--k", "5", "--recursive-c", "4"], "--recursive-c goes with --l"),
        ([], "no privacy model"),
        (["--k", "5", "--suppression", "2"], "suppression is 2.0"),
        (["--k", "0"], "k-anonymity needs a whole number"),
    ],
)
def test_cli_anonymize_bad_policies(
    adult_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    from custodes.cli import main

    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", ",".join(ORDER)]
    argv += [*_hier_args(adult_dir), "--output", str(tmp_path / "o.csv"), *extra]
    assert main(argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "o.csv").exists()


def test_missing_hierarchy_fails_before_any_work(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", "age,sex", "--k", "2"]
    argv += ["--hierarchy", f"age={adult_dir / 'adult_hierarchy_age.csv'}"]
    argv += ["--output", str(tmp_path / "o.csv")]
    assert main(argv) == 2
    assert "'sex' has no hierarchy; add --hierarchy sex=FILE" in capsys.readouterr().err


def test_cli_builds_hierarchies_from_descriptions(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from custodes.cli import main

    manifest = tmp_path / "m.json"
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", "age,sex,race"]
    argv += ["--hierarchy", "age=interval:width=5"]
    argv += ["--hierarchy", f"sex={adult_dir / 'adult_hierarchy_sex.csv'}"]
    argv += ["--hierarchy", f"race={adult_dir / 'adult_hierarchy_race.csv'}"]
    argv += ["--k", "20", "--output", str(tmp_path / "o.csv"), "--manifest", str(manifest)]
    assert main(argv) == 0, capsys.readouterr().err
    m = json.loads(manifest.read_text(encoding="utf-8"))
    assert m["spec"]["hierarchies"]["age"] == {"builder": "interval:width=5"}
    released = pl.read_csv(tmp_path / "o.csv", infer_schema=False)
    assert int(released.group_by(["age", "sex", "race"]).len()["len"].min()) >= 20
    assert released["age"].str.contains(r"^(\*|\d+(-\d+)?)$").all()
    assert m["transformation"]["age"] >= 0


def _spec_text(adult_dir: Path) -> str:
    lines = ['quasi_identifiers = ["' + '", "'.join(ORDER) + '"]', "suppression = 0.02", ""]
    lines += ["[hierarchies]"]
    lines += [f'"{q}" = "{adult_dir / f"adult_hierarchy_{q}.csv"}"' for q in ORDER]
    lines += ["", "[[models]]", 'type = "recursive-cl-diversity"', 'attribute = "occupation"']
    lines += ["l = 3", "c = 4", ""]
    return "\n".join(lines) + "\n"


def test_spec_file_gives_the_same_optimum_as_arx(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    spec = tmp_path / "spec.toml"
    spec.write_text(_spec_text(adult_dir), encoding="utf-8")
    report = tmp_path / "r.html"
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--spec", str(spec)]
    argv += ["--output", str(tmp_path / "o.csv"), "--report", str(report)]
    assert main(argv) == 0, capsys.readouterr().err
    out = " ".join(capsys.readouterr().out.split())
    assert "suppressed records: 599; loss: 0.2428" in out
    page = report.read_text(encoding="utf-8")
    assert "<!DOCTYPE html>" in page
    assert "Risk before and after" in page
    assert "What each column lost" in page
    assert "age: before and after" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("l = 3", "l = 3\nlevel = 2"),
            r"models\[0\]: unknown setting 'level'",
        ),
        (
            ('type = "recursive-cl-diversity"', 'type = "recursive"'),
            r"models\[0\].type is 'recursive'",
        ),
        (("suppression = 0.02", 'suppression = "lots"'), "'suppression' must be a float"),
        (
            ("suppression = 0.02", "supression = 0.02"),
            "unknown setting 'supression'. Did you mean 'suppression'",
        ),
        (("l = 3", "l = 3\n[[identifiers]]\ncolumn = 'x'\naction = 'hide'"), "action is 'hide'"),
    ],
)
def test_spec_file_errors_name_the_setting(
    adult_dir: Path, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    from custodes.anonymize import load_spec

    spec = tmp_path / "spec.toml"
    spec.write_text(_spec_text(adult_dir).replace(*change), encoding="utf-8")
    with pytest.raises(SettingError, match=message):
        load_spec(spec)


def test_spec_and_flags_are_exclusive(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    spec = tmp_path / "spec.toml"
    spec.write_text(_spec_text(adult_dir), encoding="utf-8")
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--spec", str(spec), "--k", "5"]
    assert main([*argv, "--output", str(tmp_path / "o.csv")]) == 2
    assert "either --spec FILE or the policy as flags" in capsys.readouterr().err


def test_a_saved_transformation_can_be_reapplied(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import shutil

    from custodes.cli import main

    # Work on copies of the hierarchies so the test can change one.
    hier = tmp_path / "h"
    hier.mkdir()
    for q in ORDER:
        shutil.copy(adult_dir / f"adult_hierarchy_{q}.csv", hier / f"{q}.csv")
    args = [a for q in ORDER for a in ("--hierarchy", f"{q}={hier / f'{q}.csv'}")]
    manifest = tmp_path / "m.json"
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", ",".join(ORDER), *args]
    argv += ["--k", "5", "--suppression", "0.02", "--output", str(tmp_path / "a.csv")]
    assert main([*argv, "--manifest", str(manifest)]) == 0
    capsys.readouterr()

    # The same table: the same transformation and suppression.
    again = ["anonymize", str(adult_dir / "adult.csv"), "--apply", str(manifest)]
    assert main([*again, "--output", str(tmp_path / "b.csv")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "sex=0, age=3, race=0, marital-status=2, education=2" in out
    assert "suppressed records: 506" in out

    # A small part of the table: the transformation no longer holds.
    part = tmp_path / "part.csv"
    pl.read_csv(adult_dir / "adult.csv", separator=";", infer_schema=False).head(500).write_csv(
        part, separator=";"
    )
    assert (
        main(
            ["anonymize", str(part), "--apply", str(manifest), "--output", str(tmp_path / "c.csv")]
        )
        == 2
    )
    assert "does not meet 5-anonymity on this table" in " ".join(capsys.readouterr().err.split())

    # A changed hierarchy is noticed.
    (hier / "sex.csv").write_text("Male;*\nFemale;*\nOther;*\n", encoding="utf-8")
    assert main([*again, "--output", str(tmp_path / "d.csv")]) == 2
    assert "has changed since the release" in " ".join(capsys.readouterr().err.split())
    assert json.loads(manifest.read_text(encoding="utf-8"))["suppressed_records"] == 506


@pytest.mark.parametrize(("limit", "k"), [(0.0, 5), (0.02, 5), (0.02, 20)])
def test_heuristic_result_is_feasible_and_not_better_than_the_optimum(  # type: ignore[no-untyped-def]
    adult, limit: float, k: int
) -> None:
    summary, schemes, _ = adult
    exact = optimal_generalization(summary, schemes, [KAnonymity(k)], suppression_limit=limit)
    guess = optimal_generalization(
        summary, schemes, [KAnonymity(k)], suppression_limit=limit, max_nodes=10
    )
    assert not guess.optimal
    assert guess.loss >= exact.loss - 1e-12
    assert guess.suppressed_records <= int(limit * summary.rows)
    kept = ~guess.suppressed_classes
    assert (guess.generalized.sizes[kept] >= k).all()


def test_many_quasi_identifiers_use_the_heuristic() -> None:
    rng = np.random.default_rng(3)
    columns = {f"c{i}": rng.integers(0, 8, 3000).astype(str) for i in range(16)}
    frame = pl.DataFrame(columns).lazy()
    summary = get_engine().summarize(frame, list(columns))
    schemes = schemes_for(summary, dict.fromkeys(columns, LEAF))
    result = optimal_generalization(summary, schemes, [KAnonymity(3)], suppression_limit=0.05)
    assert result.nodes_in_lattice == 4**16
    assert not result.optimal
    assert result.suppressed_records <= 150
    assert (result.generalized.sizes[~result.suppressed_classes] >= 3).all()


def test_utility_measures_on_simple_cases() -> None:
    from custodes.anonymize._utility import utility

    frame = pl.DataFrame({"v": ["0", "1", "2", "3", "4", "5", "6", "7"]}).lazy()
    summary = get_engine().summarize(frame, ["v"])
    schemes = schemes_for(summary, {"v": LEAF})
    for level, bits, share in ((0, 0.0, 1 / 8), (1, 1.0, 2 / 8), (2, 2.0, 4 / 8), (3, 3.0, 1.0)):
        g = apply(summary, schemes, (level,))
        u = utility(summary, schemes, g, np.zeros(g.classes, dtype=bool))
        column = u.columns[0]
        assert column.non_uniform_entropy == pytest.approx(bits)
        assert column.granularity == pytest.approx(share)
        assert column.generalization_intensity == pytest.approx(level / 3)
        assert column.missing_fraction == (1.0 if level == 3 else 0.0)
        assert u.discernibility == pytest.approx(8 * (2**level) ** 1)  # classes of 2**level
    g = apply(summary, schemes, (1,))
    suppressed = np.zeros(g.classes, dtype=bool)
    suppressed[0] = True
    u = utility(summary, schemes, g, suppressed)
    assert u.columns[0].missing_fraction == pytest.approx(2 / 8)
    assert u.discernibility == pytest.approx(3 * 4 + 2 * 8)
    assert u.average_class_size == pytest.approx(8 / 4)


# ------------------------------------------------------------ local recoding


def test_mondrian_beats_the_global_optimum_on_adult(adult) -> None:  # type: ignore[no-untyped-def]
    from custodes.anonymize._mondrian import mondrian

    summary, schemes, _ = adult
    hierarchies = {s.name: h for s, h in zip(schemes, _adult_hierarchies(), strict=True)}
    local = mondrian(summary, schemes, hierarchies, [KAnonymity(5)])
    assert int(local.sizes.min()) >= 5
    assert int(local.sizes.sum()) == summary.rows
    global_zero = 0.5422  # ARX's optimum for k=5 without suppression
    assert local.loss < global_zero / 2
    for name, labels in local.labels.items():
        assert len(labels) == local.parts
        known = {cell for row in hierarchies[name].rows for cell in row}
        assert set(labels) <= known


def _adult_hierarchies() -> list[Hierarchy]:
    from tests.conftest import adult_path

    return [read_hierarchy(adult_path() / f"adult_hierarchy_{q}.csv") for q in ORDER]


@given(rows=tables, k=st.integers(1, 5))
@settings(max_examples=40, deadline=None)
def test_mondrian_parts_meet_k_and_l(rows: list[tuple[str, str, str]], k: int) -> None:
    from custodes.anonymize._mondrian import mondrian

    frame = pl.DataFrame(rows, schema=["v", "w", "s"], orient="row").lazy()
    summary = get_engine().summarize(frame, ["v", "w"], ["s"])
    hierarchies = {"v": LEAF, "w": FLAT}
    schemes = schemes_for(summary, hierarchies)
    models: list[PrivacyModel] = [KAnonymity(k), DistinctLDiversity("s", 2)]
    hist = summary.sensitive["s"]
    whole = len(np.unique(hist.value_code))
    if summary.rows < k or whole < 2:
        with pytest.raises(SettingError, match="whole table does not meet"):
            mondrian(summary, schemes, hierarchies, models)
        return
    local = mondrian(summary, schemes, hierarchies, models)
    assert (local.sizes >= k).all()
    part_of_triple = local.part_of_class[hist.class_index]
    for p in range(local.parts):
        assert len(np.unique(hist.value_code[part_of_triple == p])) >= 2
    # Every class's values lie under its part's labels.
    values = summary.values_frame()
    for c, row in enumerate(values.to_pylist()):
        p = int(local.part_of_class[c])
        for name, hierarchy in hierarchies.items():
            path = hierarchy.paths_for([row[name]], column=name)[0]
            assert local.labels[name][p] in path


def test_mondrian_refuses_models_it_cannot_split_for() -> None:
    from custodes.anonymize._mondrian import mondrian

    summary = get_engine().summarize(pl.DataFrame({"v": ["1", "2"]}).lazy(), ["v"])
    schemes = schemes_for(summary, {"v": LEAF})
    with pytest.raises(SettingError, match="local recoding supports"):
        mondrian(summary, schemes, {"v": LEAF}, [AverageRisk(0.5)])


def test_cli_local_recoding_release(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from custodes.cli import main

    target, manifest = tmp_path / "out.csv", tmp_path / "m.json"
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", ",".join(ORDER)]
    argv += [*_hier_args(adult_dir), "--k", "5", "--local"]
    argv += ["--output", str(target), "--manifest", str(manifest)]
    argv += ["--report", str(tmp_path / "r.html")]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "local recoding:" in out
    assert "global optimum: sex=0, age=4, race=1" in out  # ARX's k=5, 0 % optimum
    assert "local recoding loses less" in out
    released = pl.read_csv(target, infer_schema=False)
    assert released.height == 30_162
    assert int(released.group_by(ORDER).len()["len"].min()) >= 5
    m = json.loads(manifest.read_text(encoding="utf-8"))
    assert m["method"] == "local"
    assert m["transformation"] is None
    assert m["parts"] > 1000
    assert m["utility"]["loss"] < 0.2465  # below even the global optimum with 2 % suppressed
    assert m["risk_after"]["k_anonymity"] >= 5
    best = m["global_optimum"]
    assert best["exists"]
    assert best["suppressed_records"] == 0
    assert best["loss"] == pytest.approx(0.5422, abs=5e-5)
    assert m["utility"]["loss"] < best["loss"]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "The global optimum under the same policy (sex=0, age=4" in html
    assert "local recoding keeps more information" in html


@pytest.mark.parametrize(
    ("function", "expected"),
    [("mean", [2.0, 2.0, 2.0, 10.0, 10.0]), ("median", [2.0, 2.0, 2.0, 10.0, 10.0])],
)
def test_microaggregation_replaces_values_by_their_class_aggregate(
    function: str, expected: list[float]
) -> None:
    from custodes import AnonymizationSpec, anonymize

    frame = pl.DataFrame({"v": ["0", "1", "1", "6", "7"], "x": ["1", "2", "3", "9", "11"]})
    spec = AnonymizationSpec(
        quasi_identifiers=("v",),
        hierarchies={"v": LEAF},
        models=(KAnonymity(2),),
        microaggregation={"x": function},
    )
    release = anonymize(frame, spec)
    assert _released(release)["v"].to_list() == ["0x", "0x", "0x", "3x", "3x"]
    assert _released(release)["x"].to_list() == expected
    assert release.manifest()["spec"]["microaggregation"] == {"x": function}


def test_microaggregation_of_a_quasi_identifier_is_refused() -> None:
    from custodes import AnonymizationSpec
    from custodes.errors import ColumnRoleError

    with pytest.raises(ColumnRoleError, match="cannot be microaggregated"):
        AnonymizationSpec(
            quasi_identifiers=("v",),
            hierarchies={"v": LEAF},
            models=(KAnonymity(2),),
            microaggregation={"v": "mean"},
        )


@given(
    rows=tables,
    k=st.integers(1, 5),
    limit=st.sampled_from([0.0, 0.1]),
    name=st.sampled_from(["precision", "discernibility", "aecs", "entropy"]),
)
@settings(max_examples=60, deadline=None)
def test_other_objectives_find_the_brute_force_optimum(
    rows: list[tuple[str, str, str]], k: int, limit: float, name: str
) -> None:
    from custodes.anonymize._objectives import Objective

    frame = pl.DataFrame(rows, schema=["v", "w", "s"], orient="row").lazy()
    summary = get_engine().summarize(frame, ["v", "w"], ["s"])
    schemes = schemes_for(summary, {"v": LEAF, "w": FLAT})
    objective = Objective(name)
    cap = int(limit * summary.rows + 1e-9)
    best = None
    for levels in itertools.product(*(range(s.height + 1) for s in schemes)):
        g = apply(summary, schemes, levels)
        bad = g.sizes < k
        if int(g.sizes[bad].sum()) > cap:
            continue
        key = (round(objective.value(summary, schemes, g, bad), 12), sum(levels), levels)
        best = key if best is None or key < best else best
    if summary.rows < k:
        return
    assert best is not None  # the top node always meets k when the table has k rows
    result = optimal_generalization(
        summary, schemes, [KAnonymity(k)], suppression_limit=limit, objective=objective
    )
    assert (round(result.objective_value, 12), sum(result.levels), result.levels) == best
    assert result.objective == name


def test_unknown_objective_suggests_the_closest() -> None:
    from custodes.anonymize._objectives import Objective

    with pytest.raises(
        SettingError, match=r"objective 'precison' is not known\. Did you mean 'precision'"
    ):
        Objective("precison")


def test_mondrian_follows_builder_hierarchies() -> None:
    from custodes import AnonymizationSpec, anonymize

    rng = np.random.default_rng(0)
    frame = pl.DataFrame({"age": rng.integers(0, 80, 200).astype(str)})
    losses = {}
    for method in ("global", "local"):
        spec = AnonymizationSpec(
            ("age",), {"age": "interval:width=5"}, (KAnonymity(5),), method=method
        )
        release = anonymize(frame, spec)
        assert int(_released(release).group_by("age").len()["len"].min()) >= 5
        losses[method] = release.loss
    assert losses["local"] <= losses["global"]


def test_local_recoding_enforces_every_l_model(adult_dir: Path) -> None:
    from custodes import AnonymizationSpec, anonymize

    qis = ("age", "sex", "race")
    spec = AnonymizationSpec(
        qis,
        {q: read_hierarchy(adult_dir / f"adult_hierarchy_{q}.csv") for q in qis},
        (DistinctLDiversity("occupation", 6), DistinctLDiversity("salary-class", 2)),
        method="local",
    )
    release = anonymize(adult_dir / "adult.csv", spec)
    groups = (
        _released(release)
        .group_by(list(qis))
        .agg(pl.col("occupation").n_unique(), pl.col("salary-class").n_unique())
    )
    assert int(groups["occupation"].min()) >= 6
    assert int(groups["salary-class"].min()) >= 2


def test_nulls_and_empty_strings_stay_apart(tmp_path: Path) -> None:
    from custodes import AnonymizationSpec, anonymize

    frame = pl.DataFrame(
        {"q": [None, "", "a", None, "", "a", "a", "", None], "x": [str(i) for i in range(9)]}
    )
    hierarchy = Hierarchy(rows=(("", "*"), ("a", "*")))
    for method in ("global", "local"):
        spec = AnonymizationSpec(("q",), {"q": hierarchy}, (KAnonymity(3),), method=method)
        release = anonymize(frame, spec, output=tmp_path / f"{method}.parquet")
        assert _released(release).height == 9
        assert sorted(_released(release)["x"].to_list()) == [str(i) for i in range(9)]


def test_output_must_not_overwrite_the_input(tmp_path: Path) -> None:
    from custodes import AnonymizationSpec, anonymize

    path = tmp_path / "t.csv"
    pl.DataFrame({"quasi": ["a"] * 5}).write_csv(path)
    spec = AnonymizationSpec(("quasi",), {"quasi": Hierarchy(rows=(("a", "*"),))}, (KAnonymity(2),))
    with pytest.raises(SettingError, match="is the input table"):
        anonymize(path, spec, output=path)
    assert path.read_text(encoding="utf-8").startswith("quasi\n")


def test_nodes_are_counted_once(adult) -> None:  # type: ignore[no-untyped-def]
    summary, schemes, _ = adult
    result = optimal_generalization(summary, schemes, [KAnonymity(5)], suppression_limit=0.02)
    assert result.nodes_checked <= result.nodes_in_lattice


def test_mean_of_text_or_dates_is_refused() -> None:
    from custodes import AnonymizationSpec, anonymize

    frame = pl.DataFrame(
        {
            "q": ["a"] * 4,
            "t": ["x", "1", "2", "3"],
            "d": pl.Series(["2020-01-01"] * 4).str.to_date(),
        }
    )
    base = {"quasi_identifiers": ("q",), "hierarchies": {"q": Hierarchy(rows=(("a", "*"),))}}
    for column, message in (("t", "1 values that are not numbers"), ("d", "holds dates")):
        spec = AnonymizationSpec(**base, models=(KAnonymity(2),), microaggregation={column: "mean"})  # type: ignore[arg-type]
        with pytest.raises(SettingError, match=message):
            anonymize(frame, spec)


def test_population_uniqueness_model_on_adult(
    adult_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from custodes.cli import main
    from custodes.risk import population_uniqueness

    manifest = tmp_path / "m.json"
    argv = ["anonymize", str(adult_dir / "adult.csv"), "--qi", ",".join(ORDER)]
    argv += [*_hier_args(adult_dir), "--population-uniqueness", "0.0001"]
    argv += ["--population", "usa", "--suppression", "0.02"]
    argv += ["--output", str(tmp_path / "o.csv"), "--manifest", str(manifest)]
    assert main(argv) == 0, capsys.readouterr().err
    released = pl.read_csv(tmp_path / "o.csv", infer_schema=False)
    sizes = released.group_by(ORDER).len()["len"].to_numpy()
    values, counts = np.unique(sizes, return_counts=True)
    risk = population_uniqueness(values, counts, 317_238_626)
    assert risk.dankar is None or risk.dankar <= 0.0001
    m = json.loads(manifest.read_text(encoding="utf-8"))
    assert m["spec"]["models"][0]["population"] == 317_238_626


@given(rows=tables, t=st.sampled_from([0.2, 0.4]), kind=st.sampled_from(["t", "recursive"]))
@settings(max_examples=40, deadline=None)
def test_mondrian_meets_t_closeness_and_recursive_diversity(
    rows: list[tuple[str, str, str]], t: float, kind: str
) -> None:
    from custodes.anonymize._mondrian import mondrian
    from custodes.risk._closeness import class_distances
    from custodes.risk._diversity import class_diversity

    frame = pl.DataFrame(rows, schema=["v", "w", "s"], orient="row").lazy()
    summary = get_engine().summarize(frame, ["v", "w"], ["s"])
    hierarchies = {"v": LEAF, "w": FLAT}
    schemes = schemes_for(summary, hierarchies)
    sensitive = Hierarchy(rows=(("s1", "low", "*"), ("s2", "low", "*"), ("s3", "high", "*")))
    model: PrivacyModel = (
        TCloseness("s", t, "hierarchical", sensitive)
        if kind == "t"
        else RecursiveCLDiversity("s", 2, c=2.0)
    )
    try:
        local = mondrian(summary, schemes, hierarchies, [model])
    except SettingError:
        return  # the whole table does not meet the model
    # Regroup the summary by part and check every part.
    g = apply(summary, schemes, (0, 0))
    hist = summary.sensitive["s"]
    from custodes.anonymize._generalize import Generalized

    parts = Generalized((0, 0), local.part_of_class, local.sizes, g.nodes[: local.parts])
    merged = parts.histogram(hist)
    if kind == "t":
        emd = class_distances(merged, local.parts, sensitive).hierarchical
        assert emd is not None
        assert (emd <= t + 1e-9).all()
    else:
        assert (class_diversity(merged, local.parts, 2.0).recursive >= 2).all()


def _released(release: Any) -> pl.DataFrame:
    """The whole release in memory (the release itself is a lazy engine table)."""
    return pl.DataFrame(pl.from_arrow(release.to_arrow()))


def test_the_release_is_a_lazy_engine_table_written_by_streaming(tmp_path: Path) -> None:
    """Anonymization.table is the release's plan, not the release in memory: the file the
    engine streams holds what reading the plan gives, and the counts come from summaries."""
    from custodes import AnonymizationSpec, anonymize
    from custodes.io import TableSource

    frame = pl.DataFrame({"v": [str(i % 8) for i in range(40)], "x": [str(i) for i in range(40)]})
    spec = AnonymizationSpec(
        quasi_identifiers=("v",), hierarchies={"v": LEAF}, models=(KAnonymity(5),)
    )
    out = tmp_path / "release.csv"
    release = anonymize(frame, spec, output=out, record=False)
    assert isinstance(release.table, TableSource)
    assert not isinstance(release.table, pl.DataFrame | pl.LazyFrame)
    written = pl.read_csv(out, infer_schema=False)
    assert written.equals(_released(release))
    assert release.rows == written.height == release.manifest()["output"]["rows"]
    assert release.columns == tuple(written.columns)
    after = dict(release.distributions["v"][1])
    assert after == dict(written.group_by("v").len().iter_rows())


def test_the_distributions_are_made_only_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the report needs them, and they take a pass over every class of the summary per
    # column: seconds at a hundred million rows for a release written without a report.
    from custodes import AnonymizationSpec, anonymize
    from custodes.summary import Summary

    counted = []
    value_counts = Summary.value_counts

    def counting(summary: Summary, j: int) -> list[tuple[str, int]]:
        counted.append(j)
        return value_counts(summary, j)

    monkeypatch.setattr(Summary, "value_counts", counting)
    frame = pl.DataFrame({"v": [str(i % 8) for i in range(40)]})
    spec = AnonymizationSpec(
        quasi_identifiers=("v",), hierarchies={"v": LEAF}, models=(KAnonymity(5),)
    )
    release = anonymize(frame, spec, output=tmp_path / "release.parquet", record=False)
    assert counted == []
    before, after = release.distributions["v"]
    assert sum(n for _, n in before) == 40
    assert sum(n for _, n in after) == release.rows
    assert len(counted) == 2
    assert release.distributions is release.distributions  # made once
