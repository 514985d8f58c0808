"""The optimal generalization search: ARX's optima on Adult, and brute force on random data."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.anonymize._generalize import apply, schemes_for
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    DistinctLDiversity,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
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
        bad = np.zeros(g.classes, dtype=bool)
        for m in models:
            hist = g.histogram(summary.sensitive["s"]) if m.sensitive else None
            bad |= m.violations(g.sizes, hist)
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
    kind=st.sampled_from(["k", "l", "recursive", "t"]),
)
@settings(max_examples=60, deadline=None)
def test_search_finds_the_brute_force_optimum(
    rows: list[tuple[str, str, str]], k: int, limit: float, kind: str
) -> None:
    frame = pl.DataFrame(rows, schema=["v", "w", "s"], orient="row").lazy()
    summary = get_engine().summarize(frame, ["v", "w"], ["s"])
    schemes = schemes_for(summary, {"v": LEAF, "w": FLAT})
    sensitive = Hierarchy(rows=(("s1", "low", "*"), ("s2", "low", "*"), ("s3", "high", "*")))
    models: list[PrivacyModel] = {
        "k": [KAnonymity(k)],
        "l": [KAnonymity(k), DistinctLDiversity("s", 2)],
        "recursive": [RecursiveCLDiversity("s", 2, c=2.0)],
        "t": [TCloseness("s", 0.3, "hierarchical", sensitive)],
    }[kind]
    expected = _brute_force(summary, schemes, models, limit)
    if expected is None:
        with pytest.raises(InvalidInputError, match="no transformation meets"):
            optimal_generalization(summary, schemes, models, suppression_limit=limit)
        return
    result = optimal_generalization(summary, schemes, models, suppression_limit=limit)
    assert (round(result.loss, 12), sum(result.levels), result.levels) == expected
    kept = ~result.suppressed_classes
    if kind in ("k", "l"):
        assert (result.generalized.sizes[kept] >= k).all()
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
