"""Mosaic risk: two releases, each k-anonymous, combined (Ganta et al., KDD 2008).

A live composition attack: a scripted attacker who knows each target's age,
sex and region intersects the diagnoses of the target's class in release A
and in release B; the combined view must find exactly the people it pins.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.errors import InvalidInputError
from custodes.risk._mosaic import ReleaseView, mosaic_risk

IntArray = npt.NDArray[np.int64]
N = 4_000


def _population(seed: int = 7) -> dict[str, IntArray]:
    rng = np.random.default_rng(seed)
    return {
        "age": rng.integers(18, 90, N),
        "sex": rng.integers(0, 2, N),
        "region": rng.integers(0, 40, N),
        # skewed: most people have the first diagnoses, few the rare ones
        "diagnosis": rng.choice(8, N, p=[0.4, 0.25, 0.15, 0.08, 0.05, 0.04, 0.02, 0.01]),
    }


def _release(people: dict[str, IntArray], name: str, keys: list[IntArray], k: int = 5,
             link: str | None = None) -> ReleaseView:  # fmt: skip
    """Records grouped by ``keys`` (generalized quasi-identifiers); classes below ``k``
    suppressed, so the release is k-anonymous."""
    stacked = np.stack(keys, axis=1)
    _, klass, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    klass = klass.reshape(-1)
    kept = counts[klass] >= k
    person = np.flatnonzero(kept).astype(np.int64)
    return ReleaseView(
        name,
        person,
        klass[kept].astype(np.int64),
        {"diagnosis": people["diagnosis"][kept].astype(np.int64)},
        link,
    )


def _a_and_b(people: dict[str, IntArray]) -> tuple[ReleaseView, ReleaseView]:
    age, sex, region = people["age"], people["sex"], people["region"]
    a = _release(people, "A", [age // 10, sex, region // 8])  # 10-year bands, coarse regions
    b = _release(people, "B", [(age + 5) // 10, sex, region // 2])  # shifted bands, finer
    return a, b


def _attacker(views: list[ReleaseView], n: int) -> int:
    """People whose diagnosis is the only one in every class they fall in."""
    values: list[set[int]] = [set(range(8)) for _ in range(n)]
    for view in views:
        per_class: dict[int, set[int]] = {}
        for c, v in zip(view.klass, view.sensitive["diagnosis"], strict=True):
            per_class.setdefault(int(c), set()).add(int(v))
        for p, c in zip(view.person, view.klass, strict=True):
            values[int(p)] &= per_class[int(c)]
    return sum(1 for v in values if len(v) == 1)


def test_a_composition_attack_is_found_exactly() -> None:
    people = _population()
    a, b = _a_and_b(people)
    pinned = _attacker([a, b], N)
    assert pinned > _attacker([a], N)  # the combination pins people the release alone did not
    assert pinned > _attacker([b], N)
    assert pinned >= 1  # the attack is live
    combined = mosaic_risk([a, b], k=5)
    assert combined.sensitive["diagnosis"].pinned == pinned
    assert combined.sensitive["diagnosis"].min_l == 1
    assert combined.sensitive["diagnosis"].highest_posterior == 1.0
    assert combined.k >= 5  # unlinkable: no record is joined, each release stays 5-anonymous
    assert combined.below_k == 0
    alone = mosaic_risk([a], k=5)
    assert alone.sensitive["diagnosis"].pinned == _attacker([a], N)
    assert alone.k >= 5


def test_linkable_releases_are_joined() -> None:
    """The same pseudonyms in both: joined record by record, the classes intersect."""
    people = _population()
    age, sex, region = people["age"], people["sex"], people["region"]
    a = _release(people, "A", [age // 10, sex], link="key-1")
    b = _release(people, "B", [region], link="key-1")
    assert mosaic_risk([a], k=5).k >= 5
    assert mosaic_risk([b], k=5).k >= 5
    joined = mosaic_risk([a, b], k=5)
    assert joined.k < 5
    assert joined.below_k > 0
    assert joined.highest_risk > 1 / 5
    # With a key per release they cannot be joined: each stays 5-anonymous.
    separate = mosaic_risk(
        [
            ReleaseView("A", a.person, a.klass, a.sensitive),
            ReleaseView("B", b.person, b.klass, b.sensitive),
        ],
        k=5,
    )
    assert separate.k >= 5
    assert separate.below_k == 0


def test_bad_views_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="at least one release"):
        mosaic_risk([])
    view = ReleaseView("A", np.arange(3), np.zeros(2, dtype=np.int64))
    with pytest.raises(InvalidInputError, match="release 'A'"):
        mosaic_risk([view])


@st.composite
def _views(draw: st.DrawFn) -> list[ReleaseView]:
    n = draw(st.integers(5, 60))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    people = {
        "age": rng.integers(18, 90, n),
        "sex": rng.integers(0, 2, n),
        "region": rng.integers(0, 10, n),
        "diagnosis": rng.integers(0, 4, n),
    }
    views = []
    for i in range(draw(st.integers(1, 3))):
        width = draw(st.integers(1, 40))
        keys = [people["age"] // width, people["region"] // draw(st.integers(1, 10))]
        views.append(_release(people, f"R{i}", keys, k=draw(st.integers(1, 3))))
    return [v for v in views if len(v.person)] or [
        ReleaseView(
            "all",
            np.arange(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            {"diagnosis": people["diagnosis"].astype(np.int64)},
        )
    ]


@settings(max_examples=60, deadline=None)
@given(_views())
def test_a_release_with_itself_gives_its_own_figures(views: list[ReleaseView]) -> None:
    one = views[0]
    twice = mosaic_risk([one, ReleaseView("again", one.person, one.klass, one.sensitive)])
    alone = mosaic_risk([one])
    assert (twice.k, twice.highest_risk, twice.average_risk) == (
        alone.k,
        alone.highest_risk,
        alone.average_risk,
    )
    assert twice.sensitive == alone.sensitive


@settings(max_examples=60, deadline=None)
@given(_views())
def test_adding_a_release_never_lowers_the_risk(views: list[ReleaseView]) -> None:
    before = mosaic_risk(views[:1])
    after = mosaic_risk(views)
    people_before = set(views[0].person.tolist())
    assert after.people >= len(people_before)
    if after.people == before.people:  # the same people: every figure can only get worse
        assert after.k <= before.k
        assert after.highest_risk >= before.highest_risk
    d_before, d_after = before.sensitive["diagnosis"], after.sensitive["diagnosis"]
    assert d_after.highest_posterior >= d_before.highest_posterior
    assert d_after.pinned >= d_before.pinned


def test_a_join_that_pins_people_counts_only_in_combination() -> None:
    """Two releases linked by one pseudonym key, each 2-diverse alone, pin everyone when
    joined: the new one is weighed against the others without it, and against itself."""
    person = np.arange(12, dtype=np.int64)
    value = np.array([0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3], dtype=np.int64)
    by_age = np.array([0] * 6 + [1] * 6, dtype=np.int64)
    by_region = np.array([0, 1] * 6, dtype=np.int64)
    for link in (None, "pseudonyms K"):
        a = ReleaseView("A", person, by_age, {"dx": value}, link, "d")
        b = ReleaseView("B", person, by_region, {"dx": value}, link, "d")
        assert mosaic_risk([a], 3).sensitive["dx"].min_l == 2
        assert mosaic_risk([b], 3).sensitive["dx"].min_l == 2
        combined = mosaic_risk([a, b], 3, min_l=2, new=1).sensitive["dx"]
        assert combined.pinned == 12
        assert combined.lowered == 12


@given(st.integers(0, 10_000), st.integers(1, 200), st.booleans())
@settings(max_examples=30, deadline=None)
def test_a_view_saved_and_loaded_is_the_same(seed: int, values: int, keyed: bool) -> None:
    from custodes.risk import load_view, save_view

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 300))
    person = rng.integers(0, 2**62 if keyed else 10_000, n).astype(np.int64)
    view = ReleaseView(
        "A",
        person,
        rng.integers(0, 40, n).astype(np.int64),
        {"s": rng.integers(0, 2**62, values)[rng.integers(0, values, n)].astype(np.int64)},
        "link" if keyed else None,
        "key" if keyed else "dataset",
    )
    back = load_view(save_view(view), "a view")
    assert (back.name, back.link, back.basis) == (view.name, view.link, view.basis)
    assert np.array_equal(back.person, view.person)
    assert np.array_equal(back.sensitive["s"], view.sensitive["s"])
    # classes renumbered, the partition the same
    pairs = set(zip(back.klass.tolist(), view.klass.tolist(), strict=True))
    assert len(pairs) == len(set(view.klass.tolist()))
