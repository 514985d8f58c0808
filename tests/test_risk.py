"""Risk figures: ARX's reference values on Adult, and invariants against oracles."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.stats import wasserstein_distance

from custodes import summary as summary_module
from custodes.engines import get_engine
from custodes.errors import InvalidInputError
from custodes.hierarchy import Hierarchy, read_hierarchy
from custodes.risk import (
    assess_summary,
    l_diversity,
    qi_combinations,
    smallest_close_class,
    t_closeness,
)
from custodes.risk._closeness import class_distances
from custodes.risk._diversity import class_diversity
from custodes.summary import SensitiveHistogram
from tests.conftest import ADULT_QIS


@pytest.fixture(scope="module")
def adult_assessment(adult_frame: pl.LazyFrame, adult_dir: Path):  # type: ignore[no-untyped-def]
    summary = get_engine().summarize(adult_frame, ADULT_QIS, ["occupation"])
    hierarchy = read_hierarchy(adult_dir / "adult_hierarchy_occupation.csv")
    return assess_summary(summary, population=317_238_626, hierarchies={"occupation": hierarchy})


def test_adult_matches_arx_classes_and_uniques(adult_assessment) -> None:  # type: ignore[no-untyped-def]
    a = adult_assessment
    assert a.rows == 30_162
    assert a.equivalence_classes.count == 12_458
    assert a.sample_unique_records == 8_841
    assert round(a.sample_uniques_fraction * 100, 2) == 29.31
    assert a.k_anonymity == 1


def test_adult_matches_arx_attacker_models(adult_assessment) -> None:  # type: ignore[no-untyped-def]
    a = adult_assessment
    assert a.prosecutor.highest_risk == 1.0
    assert round(a.prosecutor.average_risk, 4) == 0.4130
    assert round(a.marketer_success_rate, 4) == 0.4130
    assert round(a.prosecutor.records_at_risk * 100, 2) == 50.90
    assert a.journalist == a.prosecutor  # no population table: the sample is the population


def test_adult_population_models_match_arx(adult_assessment) -> None:  # type: ignore[no-untyped-def]
    p = adult_assessment.population
    assert p.size == 317_238_626
    assert round(p.pitman * 100, 3) == 1.455
    assert round(p.zayatz * 100, 2) == 8.60
    assert p.snb is None
    assert p.dankar_model == "pitman"


def test_census_when_no_population_is_given(adult_frame: pl.LazyFrame) -> None:
    summary = get_engine().summarize(adult_frame, ADULT_QIS)
    p = assess_summary(summary, population=summary.rows, combinations=False).population
    assert p is not None
    assert p.dankar_model == "census"
    assert p.sampling_fraction == 1.0
    assert round(p.dankar * 100, 2) == 29.31


def test_adult_json_has_documented_fields(adult_assessment) -> None:  # type: ignore[no-untyped-def]
    d = adult_assessment.to_dict()
    assert set(d["equivalence_classes"]) >= {"count", "min_size", "avg_size", "max_size"}
    assert set(d["sample_uniques"]) == {"records", "fraction"}
    assert set(d["prosecutor"]) >= {"highest_risk", "average_risk", "records_at_risk"}
    assert set(d["marketer"]) == {"success_rate"}
    assert set(d["population"]) >= {"size", "pitman", "zayatz", "snb", "dankar"}
    assert set(d["population"]["dankar"]) == {"model", "fraction"}
    assert set(d["l_diversity"]["occupation"]) >= {"distinct", "entropy", "recursive"}
    assert set(d["t_closeness"]["occupation"]) == {
        "equal_distance",
        "ordered_distance",
        "hierarchical",
    }
    assert len(d["qi_combinations"]) == 2**8 - 1
    assert math.isclose(sum(b["records"] for b in d["risk_distribution"]), 1.0)


# ---------------------------------------------------------------- oracles

values = st.sampled_from(["a", "b", "c", "d"])
small_tables = st.lists(
    st.tuples(values, st.sampled_from(["x", "y"]), st.sampled_from(["s1", "s2", "s3", "s4", "s5"])),
    min_size=1,
    max_size=60,
)


def _frame(rows: list[tuple[str, str, str]]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=["q1", "q2", "s"], orient="row").lazy()


def _classes(rows: list[tuple[str, str, str]]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for q1, q2, s in rows:
        groups.setdefault((q1, q2), []).append(s)
    return groups


@given(small_tables)
@settings(max_examples=60, deadline=None)
def test_classes_and_diversity_match_brute_force(rows: list[tuple[str, str, str]]) -> None:
    summary = get_engine().summarize(_frame(rows), ["q1", "q2"], ["s"])
    groups = _classes(rows)
    assert summary.rows == len(rows)
    assert sorted(summary.counts.tolist()) == sorted(len(g) for g in groups.values())

    ld = l_diversity(summary.sensitive["s"], summary.classes, c=2.0)
    assert ld.distinct == min(len(set(g)) for g in groups.values())

    def entropy(g: list[str]) -> float:
        n = len(g)
        return -sum(g.count(v) / n * math.log(g.count(v) / n) for v in set(g))

    assert math.isclose(ld.entropy, min(math.exp(entropy(g)) for g in groups.values()))

    def recursive_l(g: list[str], c: float) -> int:
        r = sorted((g.count(v) for v in set(g)), reverse=True)
        return max((i for i in range(1, len(r) + 1) if r[0] < c * sum(r[i - 1 :])), default=0)

    assert ld.recursive_l == min(recursive_l(g, 2.0) for g in groups.values())


def _emd_lp(p: np.ndarray, q: np.ndarray, dist: np.ndarray) -> float:
    """Earth mover's distance by linear programming: the textbook definition."""
    m = len(p)
    a_eq = []
    b_eq = []
    for i in range(m):
        row = np.zeros((m, m))
        row[i, :] = 1
        a_eq.append(row.ravel())
        b_eq.append(p[i])
    for j in range(m):
        col = np.zeros((m, m))
        col[:, j] = 1
        a_eq.append(col.ravel())
        b_eq.append(q[j])
    res = linprog(dist.ravel(), A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=(0, None))
    assert res.success
    return float(res.fun)


HIER = Hierarchy(
    rows=(
        ("s1", "low", "*"),
        ("s2", "low", "*"),
        ("s3", "mid", "*"),
        ("s4", "high", "*"),
        ("s5", "high", "*"),
    )
)


HIER_DEEP = Hierarchy(
    rows=(
        ("s1", "s1-2", "low", "*"),
        ("s2", "s1-2", "low", "*"),
        ("s3", "s3", "low", "*"),
        ("s4", "s4-5", "high", "*"),
        ("s5", "s4-5", "high", "*"),
    )
)


@pytest.mark.parametrize("hierarchy", [HIER, HIER_DEEP])
@given(rows=small_tables)
@settings(max_examples=40, deadline=None)
def test_t_closeness_matches_linear_programming(
    hierarchy: Hierarchy, rows: list[tuple[str, str, str]]
) -> None:
    HIER = hierarchy  # noqa: N806 (the oracle below reads the hierarchy under test)
    summary = get_engine().summarize(_frame(rows), ["q1", "q2"], ["s"])
    hist = summary.sensitive["s"]
    tc = t_closeness(hist, summary.classes, HIER)
    domain = hist.values.to_pylist()
    m = len(domain)
    overall = np.array([sum(1 for r in rows if r[2] == v) / len(rows) for v in domain])
    equal_d = 1.0 - np.eye(m)
    paths = {r[0]: r for r in HIER.rows}

    def hdist(a: str, b: str) -> float:
        for level in range(HIER.height + 1):
            if paths[a][level] == paths[b][level]:
                return level / HIER.height
        return 1.0

    hier_d = np.array([[hdist(a, b) for b in domain] for a in domain])
    worst_equal = worst_ordered = worst_hier = 0.0
    for g in _classes(rows).values():
        p = np.array([g.count(v) / len(g) for v in domain])
        worst_equal = max(worst_equal, _emd_lp(p, overall, equal_d))
        worst_hier = max(worst_hier, _emd_lp(p, overall, hier_d))
        if m > 1:
            positions = np.arange(m)
            ordered = wasserstein_distance(positions, positions, p, overall) / (m - 1)
            worst_ordered = max(worst_ordered, ordered)
    assert tc.equal_distance == pytest.approx(worst_equal, abs=1e-9)
    assert tc.ordered_distance == pytest.approx(worst_ordered, abs=1e-9)
    assert tc.hierarchical == pytest.approx(worst_hier, abs=1e-9)


@given(rows=small_tables)
@settings(max_examples=40, deadline=None)
def test_dense_and_sparse_measures_agree(rows: list[tuple[str, str, str]]) -> None:
    summary = get_engine().summarize(_frame(rows), ["q1", "q2"], ["s"])
    hist = summary.sensitive["s"]
    dense_d = class_distances(hist, summary.classes, HIER_DEEP)
    dense_l = class_diversity(hist, summary.classes, 2.0)
    assert hist.matrix(summary.classes) is not None
    triples = (hist.class_index, hist.value_code, hist.count)
    sparse = SensitiveHistogram(hist.name, hist.values, *triples)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(summary_module, "DENSE_CELLS", 0)
        assert sparse.matrix(summary.classes) is None
        sparse_d = class_distances(sparse, summary.classes, HIER_DEEP)
        sparse_l = class_diversity(sparse, summary.classes, 2.0)
    for field in ("equal", "ordered", "hierarchical"):
        np.testing.assert_allclose(getattr(dense_d, field), getattr(sparse_d, field), atol=1e-12)
    np.testing.assert_array_equal(dense_l.distinct, sparse_l.distinct)
    np.testing.assert_array_equal(dense_l.recursive, sparse_l.recursive)
    np.testing.assert_allclose(dense_l.entropy, sparse_l.entropy, rtol=1e-12)


def _compositions(total: int, parts: int) -> list[tuple[int, ...]]:
    if parts == 1:
        return [(total,)]
    return [(i, *rest) for i in range(total + 1) for rest in _compositions(total - i, parts - 1)]


@pytest.mark.parametrize("distance", ["equal", "ordered", "hierarchical"])
@given(rows=small_tables, t=st.sampled_from([0.05, 0.1, 0.2, 0.3, 0.5]))
@settings(max_examples=25, deadline=None)
def test_smallest_close_class_matches_enumeration(
    distance: str, rows: list[tuple[str, str, str]], t: float
) -> None:
    """No class below the size found is within t; some class of that size is."""
    summary = get_engine().summarize(_frame(rows), ["q1", "q2"], ["s"])
    hist = summary.sensitive["s"]
    m = hist.domain_size
    found = smallest_close_class(hist, t, distance, HIER_DEEP, cap=5)
    q = hist.overall()
    domain = hist.values.to_pylist()
    paths = {r[0]: r for r in HIER_DEEP.rows}
    height = HIER_DEEP.height
    least = []
    for size in range(1, 6):
        p = np.array(_compositions(size, m), dtype=np.float64) / size
        extra = p - q
        if distance == "equal":
            emd = 0.5 * np.abs(extra).sum(axis=1)
        elif distance == "ordered":
            emd = np.abs(np.cumsum(extra, axis=1)[:, : m - 1]).sum(axis=1) / max(m - 1, 1)
        else:  # tree distance: |P(v) - Q(v)| / 2H over every node below the root
            emd = np.zeros(len(p))
            for level in range(height):
                for node in {paths[v][level] for v in domain}:
                    under = [i for i, v in enumerate(domain) if paths[v][level] == node]
                    emd += np.abs(extra[:, under].sum(axis=1)) / (2 * height)
        least.append(float(emd.min()))
    expected = next((s for s, v in enumerate(least, start=1) if v <= t + 1e-9), 6)
    if m <= 1:
        expected = 1
    assert found == expected, (least, t)


@given(small_tables)
@settings(max_examples=40, deadline=None)
def test_combinations_match_brute_force(rows: list[tuple[str, str, str]]) -> None:
    frame = _frame(rows)
    summary = get_engine().summarize(frame, ["q1", "q2", "s"])
    combos = {c.columns: c for c in qi_combinations(summary)[0]}
    assert len(combos) == 7
    n = len(rows)
    names = ("q1", "q2", "s")
    for size in (1, 2, 3):
        for cols in itertools.combinations(range(3), size):
            keys = [tuple(r[j] for j in cols) for r in rows]
            counts = [keys.count(k) for k in set(keys)]
            got = combos[tuple(names[j] for j in cols)]
            assert got.distinction == pytest.approx(len(counts) / n)
            same = sum(c * (c - 1) for c in counts)
            assert got.separation == pytest.approx(1 - same / (n * (n - 1)) if n > 1 else 0.0)
            assert got.uniques == pytest.approx(sum(1 for c in counts if c == 1) / n)


def test_nulls_form_their_own_class() -> None:
    frame = pl.DataFrame({"q": ["a", None, None, "a"], "s": ["x", "y", None, "x"]}).lazy()
    summary = get_engine().summarize(frame, ["q"], ["s"])
    assert sorted(summary.counts.tolist()) == [2, 2]
    assert summary.sensitive["s"].domain_size == 3


def test_natural_order_is_numeric_when_values_are_numbers() -> None:
    frame = pl.DataFrame({"q": ["a"] * 4, "s": ["10", "9", "100", "9"]}).lazy()
    summary = get_engine().summarize(frame, ["q"], ["s"])
    assert summary.sensitive["s"].values.to_pylist() == ["9", "10", "100"]


@given(
    st.lists(
        st.tuples(values, st.sampled_from(["x", "y", None]), values, st.sampled_from(["1", "2"])),
        min_size=1,
        max_size=50,
    )
)
@settings(max_examples=40, deadline=None)
def test_several_sensitive_attributes_match_one_at_a_time(
    rows: list[tuple[str, str | None, str, str]],
) -> None:
    frame = pl.DataFrame(rows, schema=["q1", "q2", "s1", "s2"], orient="row").lazy()
    both = get_engine().summarize(frame, ["q1", "q2"], ["s1", "s2"])
    for name in ("s1", "s2"):
        alone = get_engine().summarize(frame, ["q1", "q2"], [name])
        assert sorted(both.counts.tolist()) == sorted(alone.counts.tolist())
        a, b = both.sensitive[name], alone.sensitive[name]
        assert a.values.to_pylist() == b.values.to_pylist()

        # Same classes may be numbered differently: compare per-class histograms.
        def per_class(h, summary):  # type: ignore[no-untyped-def]
            frame = pl.DataFrame(pl.from_arrow(summary.values_frame())).with_row_index("c")
            keys = {int(r["c"]): (r["q1"], r["q2"]) for r in frame.iter_rows(named=True)}
            out: dict[tuple[str, str], list[tuple[int, int]]] = {}
            for c, v, n in zip(h.class_index, h.value_code, h.count, strict=True):
                out.setdefault(keys[int(c)], []).append((int(v), int(n)))
            return out

        assert per_class(a, both) == per_class(b, alone)


def test_values_frame_decodes_classes() -> None:
    frame = pl.DataFrame({"q": ["a", "b", "b", None], "n": [1, 2, 2, 3]}).lazy()
    summary = get_engine().summarize(frame, ["q", "n"])
    rows_ = summary.values_frame().to_pylist()
    decoded = {(r["q"], r["n"]): int(c) for r, c in zip(rows_, summary.counts, strict=True)}
    assert decoded == {("a", "1"): 1, ("b", "2"): 2, (None, "3"): 1}


def test_population_table_gives_journalist_risk() -> None:
    sample = pl.DataFrame({"q": ["a", "b", "c"]}).lazy()
    population = pl.DataFrame({"q": ["a"] * 4 + ["b"] * 2 + ["c"] * 10}).lazy()
    engine = get_engine()
    s, p = engine.summarize(sample, ["q"]), engine.summarize(population, ["q"])
    a = assess_summary(s, population=p.rows, population_summary=p, combinations=False)
    assert a.prosecutor.highest_risk == 1.0
    assert a.journalist.highest_risk == 0.5
    assert a.journalist.basis == "population table"
    assert a.journalist.average_risk == pytest.approx((1 / 4 + 1 / 2 + 1 / 10) / 3)
    assert a.journalist.records_at_risk == pytest.approx(2 / 3)  # 1/4 and 1/2 exceed 0.2
    assert a.marketer_success_rate == pytest.approx(a.journalist.average_risk)


def test_population_table_must_contain_the_sample() -> None:
    engine = get_engine()
    s = engine.summarize(pl.DataFrame({"q": ["a", "z"]}).lazy(), ["q"])
    p = engine.summarize(pl.DataFrame({"q": ["a", "a"]}).lazy(), ["q"])
    with pytest.raises(InvalidInputError, match="does not contain every record"):
        assess_summary(s, population=2, population_summary=p)


@given(
    st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers(-50, 50).map(str)), unique=True)
)
@settings(max_examples=100, deadline=None)
def test_natural_rank_large_and_small_paths_agree(values: list[str | None]) -> None:
    from custodes.summary import _natural_rank_numpy, natural_rank

    series = pa.array(values, type=pa.string())
    assert natural_rank(series).tolist() == _natural_rank_numpy(series).tolist()
