"""The optimal search against an oracle that evaluates every node of the lattice.

Random tables with random hierarchies (any tree over the values, of any
height), every privacy model, several suppression limits, objectives, factors
and level boxes: the search, whatever it prunes and in whatever order, must
return the transformation the exhaustive evaluation finds best, with the same
suppressed records and the same value. The medium-sized cases have lattices of
hundreds of nodes with the optimum in the middle, where the pruning does most.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.anonymize._generalize import Generalized, Scheme, apply, schemes_for
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    AverageRisk,
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PopulationUniqueness,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
    violating_classes,
)
from custodes.anonymize._objectives import Objective
from custodes.anonymize._search import SearchResult, optimal_generalization
from custodes.engines import get_engine
from custodes.errors import InvalidInputError
from custodes.hierarchy import Hierarchy
from custodes.summary import Summary

SENSITIVE = Hierarchy(
    rows=(("s0", "low", "*"), ("s1", "low", "*"), ("s2", "high", "*"), ("s3", "high", "*"))
)
KINDS = ("k", "distinct", "entropy", "recursive", "t", "average", "population", "k+t")


@dataclass(frozen=True)
class Best:
    """The oracle's answer: the search's sort key, the records suppressed and the Loss."""

    key: tuple[float, int, tuple[int, ...]]
    suppressed: int
    loss: float


def random_hierarchy(values: int, height: int, rng: np.random.Generator) -> Hierarchy:
    """A random tree over ``values`` leaves: each level merges the groups below at random."""
    groups = np.arange(values)
    paths: list[list[str]] = [[f"v{v}"] for v in range(values)]
    for level in range(1, height):
        parents = rng.integers(0, max(1, len(np.unique(groups)) - 1), size=values + 1)
        groups = parents[groups]
        for v in range(values):
            paths[v].append(f"l{level}g{groups[v]}")
    return Hierarchy(rows=tuple((*p, "*") for p in paths))


def models_for(kind: str, k: int, t: float) -> list[PrivacyModel]:
    """The models of one kind, on the sensitive column ``s``."""
    close = TCloseness("s", t, "hierarchical", SENSITIVE)
    return {
        "k": [KAnonymity(k)],
        "distinct": [KAnonymity(k), DistinctLDiversity("s", 2)],
        "entropy": [EntropyLDiversity("s", 1.5)],
        "recursive": [RecursiveCLDiversity("s", 2, c=2.0)],
        "t": [TCloseness("s", t, "ordered")],
        "average": [KAnonymity(k), AverageRisk(0.25)],
        "population": [KAnonymity(k), PopulationUniqueness(0.05, 500)],
        "k+t": [KAnonymity(k), close],
    }[kind]


def exhaustive(
    summary: Summary,
    schemes: Sequence[Scheme],
    models: Sequence[PrivacyModel],
    limit: float,
    objective: Objective,
    lows: Sequence[int],
    highs: Sequence[int],
    accept: Callable[[Generalized, npt.NDArray[np.bool_]], bool],
) -> Best | None:
    """Every node of the box evaluated from the summary: the best by the search's order."""
    cap = math.floor(limit * summary.rows + 1e-9)
    leaves = [s.leaves for s in schemes]
    best: Best | None = None
    for levels in itertools.product(
        *(range(lo, hi + 1) for lo, hi in zip(lows, highs, strict=True))
    ):
        g = apply(summary, schemes, levels)
        bad = violating_classes(
            g.sizes, models, lambda name, g=g: g.histogram(summary.sensitive[name])
        )
        records = int(g.sizes[bad].sum())
        if records > cap or not accept(g, bad):
            continue
        score = objective.value(summary, schemes, g, bad)
        key = (round(score, 12), sum(levels), tuple(levels))
        if best is None or key < best.key:
            loss = objective.metric.aggregate(objective.metric.per_column(g, schemes, bad, leaves))
            best = Best(key, records, loss)
    return best


def check(
    summary: Summary,
    schemes: Sequence[Scheme],
    models: Sequence[PrivacyModel],
    limit: float,
    *,
    objective: Objective | None = None,
    lows: Sequence[int] | None = None,
    highs: Sequence[int] | None = None,
    reject: int = 0,
) -> SearchResult | None:
    """Run the search and the oracle on the same problem and compare them.

    ``reject`` > 0 adds an ``accept`` constraint that refuses every node whose
    levels sum to a multiple of it (a stand-in for the mosaic check).
    """
    objective = objective or Objective()
    box_lows = list(lows) if lows is not None else [0] * len(schemes)
    box_highs = list(highs) if highs is not None else [s.height for s in schemes]

    def accept(g: Generalized, suppressed: npt.NDArray[np.bool_]) -> bool:
        return reject == 0 or sum(g.levels) % reject != 0

    expected = exhaustive(summary, schemes, models, limit, objective, box_lows, box_highs, accept)

    def run() -> SearchResult:
        return optimal_generalization(
            summary,
            schemes,
            models,
            suppression_limit=limit,
            metric=objective.metric,
            objective=objective,
            min_levels=lows,
            max_levels=highs,
            accept=accept if reject else None,
        )

    if expected is None:
        with pytest.raises(InvalidInputError):
            run()
        return None
    result = run()
    assert result.optimal
    assert (round(result.objective_value, 12), sum(result.levels), result.levels) == expected.key
    assert result.suppressed_records == expected.suppressed
    assert result.loss == pytest.approx(expected.loss, abs=1e-12)
    assert int(result.generalized.sizes[result.suppressed_classes].sum()) == expected.suppressed
    assert result.generalized.levels == result.levels
    assert 1 <= result.nodes_checked <= result.nodes_in_lattice
    return result


@st.composite
def problems(draw: st.DrawFn) -> tuple[pl.DataFrame, dict[str, Hierarchy]]:
    """A random table (2 to 4 quasi-identifiers and ``s``) with a random hierarchy per column."""
    columns = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rows = draw(st.integers(1, 120))
    data: dict[str, list[str]] = {}
    hierarchies: dict[str, Hierarchy] = {}
    for j in range(columns):
        values = draw(st.integers(1, 8))
        height = draw(st.integers(1, 3 if columns < 4 else 2))
        skew = 1.0 / np.arange(1, values + 1) ** draw(st.sampled_from([0.0, 1.0, 2.0]))
        codes = rng.choice(values, size=rows, p=skew / skew.sum())
        data[f"q{j}"] = [f"v{c}" for c in codes]
        hierarchies[f"q{j}"] = random_hierarchy(values, height, rng)
    data["s"] = [f"s{c}" for c in rng.integers(0, 4, rows)]
    return pl.DataFrame(data), hierarchies


def summarized(
    frame: pl.DataFrame, hierarchies: dict[str, Hierarchy]
) -> tuple[Summary, tuple[Scheme, ...]]:
    qis = [c for c in frame.columns if c != "s"]
    summary = get_engine().summarize(frame.lazy(), qis, ["s"])
    return summary, schemes_for(summary, hierarchies)


@given(
    problem=problems(),
    kind=st.sampled_from(KINDS),
    k=st.integers(1, 6),
    t=st.sampled_from([0.15, 0.3, 0.5]),
    limit=st.sampled_from([0.0, 0.04, 0.1, 0.3]),
)
@settings(max_examples=150, deadline=None)
def test_search_equals_the_exhaustive_evaluation(
    problem: tuple[pl.DataFrame, dict[str, Hierarchy]], kind: str, k: int, t: float, limit: float
) -> None:
    summary, schemes = summarized(*problem)
    check(summary, schemes, models_for(kind, k, t), limit)


@given(
    problem=problems(),
    k=st.integers(1, 5),
    limit=st.sampled_from([0.0, 0.1]),
    name=st.sampled_from(["loss", "precision", "discernibility", "aecs", "entropy"]),
    gs_factor=st.sampled_from([0.5, 0.2, 0.8]),
    reject=st.sampled_from([0, 0, 2, 3]),
    data=st.data(),
)
@settings(max_examples=100, deadline=None)
def test_search_in_a_box_with_any_objective_equals_the_exhaustive_evaluation(
    problem: tuple[pl.DataFrame, dict[str, Hierarchy]],
    k: int,
    limit: float,
    name: str,
    gs_factor: float,
    reject: int,
    data: st.DataObject,
) -> None:
    summary, schemes = summarized(*problem)
    lows, highs = [], []
    for s in schemes:
        lo = data.draw(st.integers(0, s.height))
        lows.append(lo)
        highs.append(data.draw(st.integers(lo, s.height)))
    objective = Objective(name, LossMetric(gs_factor))
    check(
        summary, schemes, [KAnonymity(k)], limit,
        objective=objective, lows=lows, highs=highs, reject=reject,
    )  # fmt: skip


def medium_table(seed: int) -> tuple[Summary, tuple[Scheme, ...]]:
    """2,000 skewed rows, five quasi-identifiers, a lattice of 5*4*4*3*3 = 720 nodes."""
    rng = np.random.default_rng(seed)
    rows = 2_000
    shapes = [(24, 4), (12, 3), (10, 3), (6, 2), (5, 2)]  # (values, height)
    data: dict[str, list[str]] = {}
    hierarchies: dict[str, Hierarchy] = {}
    for j, (values, height) in enumerate(shapes):
        skew = 1.0 / np.arange(1, values + 1) ** 0.8
        codes = rng.choice(values, size=rows, p=skew / skew.sum())
        data[f"q{j}"] = [f"v{c}" for c in codes]
        hierarchies[f"q{j}"] = random_hierarchy(values, height, rng)
    data["s"] = [f"s{c}" for c in rng.integers(0, 4, rows)]
    return summarized(pl.DataFrame(data), hierarchies)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    ("kind", "k", "limit"),
    [
        ("k", 5, 0.0),
        ("k", 5, 0.02),
        ("k", 10, 0.01),
        ("k", 3, 0.1),
        ("distinct", 5, 0.02),
        ("recursive", 1, 0.05),
        ("k+t", 5, 0.02),
        ("average", 2, 0.02),
    ],
)
def test_medium_lattices_equal_the_exhaustive_evaluation(
    seed: int, kind: str, k: int, limit: float
) -> None:
    summary, schemes = medium_table(seed)
    result = check(summary, schemes, models_for(kind, k, 0.3), limit)
    assert result is not None
    assert result.nodes_in_lattice == 720


def test_medium_lattice_in_a_box_equals_the_exhaustive_evaluation() -> None:
    summary, schemes = medium_table(3)
    check(summary, schemes, [KAnonymity(4)], 0.02, lows=[1, 0, 0, 0, 1], highs=[3, 2, 3, 2, 2])
    check(summary, schemes, [KAnonymity(4)], 0.02, reject=2)
