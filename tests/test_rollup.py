"""The search's rollup: every transformation's classes equal those regrouped from the summary.

Whatever transformation a rollup starts from (a held one, a hub, the bottom,
after forgetting the oldest beyond its budget, or the general regrouping when
packed keys would not fit), the classes must be exactly those
:func:`custodes.anonymize._generalize.apply` finds from the summary, with the
same class for every summary class, and kept in order of their nodes.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes._grouping import sorting_order
from custodes.anonymize._generalize import Generalized, Scheme, apply, schemes_for
from custodes.anonymize._models import KAnonymity
from custodes.anonymize._rollup import Rollup
from custodes.engines import get_engine
from custodes.hierarchy import Hierarchy, interval_hierarchy
from custodes.summary import Summary
from tests.test_search_exhaustive import check, random_hierarchy


def table(columns: int, values: int, rows: int, seed: int) -> tuple[Summary, tuple[Scheme, ...]]:
    """Skewed random codes with random hierarchies of height 1 to 3."""
    rng = np.random.default_rng(seed)
    data, hierarchies = {}, {}
    for j in range(columns):
        skew = 1.0 / np.arange(1, values + 1) ** 0.7
        data[f"q{j}"] = [f"v{c}" for c in rng.choice(values, size=rows, p=skew / skew.sum())]
        hierarchies[f"q{j}"] = random_hierarchy(values, int(rng.integers(1, 4)), rng)
    summary = get_engine().summarize(pl.DataFrame(data).lazy(), list(data))
    return summary, schemes_for(summary, hierarchies)


def canonical(g: Generalized) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sizes, nodes and each summary class's class, with the classes in order of their nodes."""
    order = np.lexsort(g.nodes.T[::-1])
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return g.sizes[order], g.nodes[order], rank[g.class_of]


def same(
    rollup: Rollup, levels: tuple[int, ...], summary: Summary, schemes: tuple[Scheme, ...]
) -> None:
    classes = rollup.classes(levels)
    got = rollup.generalized(classes)
    assert classes.levels == levels
    assert np.all(classes.key[1:] > classes.key[:-1])  # the rollup keeps its classes sorted
    if classes.general is None:
        assert np.all(np.diff(np.lexsort(got.nodes.T[::-1])) == 1)  # sorted like the nodes
    for a, b in zip(canonical(got), canonical(apply(summary, schemes, levels)), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("class_of", [False, True])
@pytest.mark.parametrize("budget", [1, 256 << 20])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_transformation_equals_the_regrouped_summary(
    class_of: bool, budget: int, seed: int
) -> None:
    summary, schemes = table(4, 12, 600, seed)
    lows = [int(np.random.default_rng(seed).integers(0, 2)) if s.height > 1 else 0 for s in schemes]
    rollup = Rollup(summary, schemes, lows, class_of=class_of, budget=budget)
    assert rollup.packed
    boxes = [range(lo, s.height + 1) for lo, s in zip(lows, schemes, strict=True)]
    order = list(itertools.product(*boxes))
    np.random.default_rng(seed).shuffle(order)  # any order: starts from all sorts of nodes
    for levels in order:
        same(rollup, tuple(int(x) for x in levels), summary, schemes)
    if budget == 1:  # only the bottom and the newest are held
        assert len(rollup.items) == 2


def test_keys_too_wide_to_pack_take_the_general_way() -> None:
    rng = np.random.default_rng(5)
    data = {f"q{j}": rng.integers(0, 3000, 800).astype(str) for j in range(7)}
    summary = get_engine().summarize(pl.DataFrame(data).lazy(), list(data))
    hierarchies = {
        c: interval_hierarchy(list(v), width=100, levels=1)
        if j < 3
        else Hierarchy(rows=tuple((x, "*") for x in dict.fromkeys(v)))
        for j, (c, v) in enumerate(data.items())
    }
    schemes = schemes_for(summary, hierarchies)
    rollup = Rollup(summary, schemes, [0] * 7, class_of=False, budget=1)
    assert not rollup.packed  # seven columns of about ten bits each
    for levels in [(1, 0, 0, 0, 0, 0, 0), (1, 1, 0, 1, 0, 0, 1), (2, 2, 2, 1, 1, 1, 1)]:
        same(rollup, levels, summary, schemes)
    check(summary, schemes, [KAnonymity(3)], 0.05)  # the search, against every node


def test_a_generalized_finds_the_class_of_each_summary_class_once() -> None:
    calls: list[int] = []

    def find() -> np.ndarray:
        calls.append(1)
        return np.array([0, 0, 1])

    g = Generalized((1,), find, np.array([2, 1]), np.array([[0], [1]]))
    assert calls == []  # nothing worked out until asked
    assert g.class_of.tolist() == [0, 0, 1]
    assert g.class_of.tolist() == [0, 0, 1]
    assert calls == [1]


keys = st.lists(st.integers(0, 2**40), max_size=300)


@given(keys=keys, runs=st.integers(1, 40), bits=st.sampled_from([8, 16, 24, 41]))
@settings(max_examples=200, deadline=None)
def test_sorting_order_sorts_stably(keys: list[int], runs: int, bits: int) -> None:
    """Sorted runs of any number: merged or sorted by digits, the order equals a stable sort."""
    key = np.asarray(keys, dtype=np.int64) % (1 << bits)
    for part in np.array_split(np.arange(len(key)), runs):  # sorted runs
        key[part] = np.sort(key[part])
    order = sorting_order(key, bits)
    expected = np.argsort(key, kind="stable")
    if order is None:
        assert np.array_equal(expected, np.arange(len(key)))
    else:
        assert np.array_equal(order, expected)
