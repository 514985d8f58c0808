"""Population uniqueness (Pitman, Zayatz, SNB, Dankar) against ARX and oracles."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from scipy.special import gammaln
from scipy.stats import hypergeom

from custodes.errors import SettingError
from custodes.risk import _population as pop
from custodes.risk._population import (
    REGIONS,
    PopulationRisk,
    population_size,
    population_uniqueness,
)
from tests.conftest import ADULT_QIS, require_adult

Table = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]
ADULT_ROWS = 30_162
USA = 317_238_626


@pytest.fixture(scope="module")
def adult_histogram() -> Table:
    """Adult's class-size frequency table on ARX's 8 QIs."""
    csv = require_adult() / "adult.csv"
    frame = pl.read_csv(csv, separator=";", infer_schema=False)
    classes = frame.group_by(ADULT_QIS).len(name="size")
    table = classes.group_by("size").len(name="classes").sort("size")
    return table["size"].to_numpy(), table["classes"].to_numpy()


def _capture_roots(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Record every call of the Newton solver: (system, start, root)."""
    calls: list[tuple[Any, ...]] = []
    real = pop._solve

    def spy(system: Any, start: Any, constraint: Any = None) -> Any:
        root = real(system, start, constraint)
        calls.append((system, start, root))
        return root

    monkeypatch.setattr(pop, "_solve", spy)
    return calls


# --------------------------------------------------------------------------
# ARX's reference figures on Adult (ARX 3.9.2)


def test_adult_histogram_is_arxs(adult_histogram: Table) -> None:
    sizes, counts = adult_histogram
    assert int(counts.sum()) == 12_458
    assert sizes[0] == 1
    assert counts[0] == 8_841
    assert int((sizes * counts).sum()) == ADULT_ROWS


def test_adult_usa_matches_arx(adult_histogram: Table) -> None:
    sizes, counts = adult_histogram
    n = population_size(region="usa", sample_rows=ADULT_ROWS)
    assert n == USA
    risk = population_uniqueness(sizes, counts, n)
    assert risk.size == USA
    assert risk.sampling_fraction == pytest.approx(ADULT_ROWS / USA)
    assert risk.pitman is not None
    assert risk.zayatz is not None
    assert f"{risk.pitman * 100:.3f}" == "1.455"
    assert f"{risk.zayatz * 100:.2f}" == "8.60"
    assert risk.snb is None  # ARX: SNB does not converge
    assert risk.dankar_model == "pitman"
    assert risk.dankar == risk.pitman


def test_adult_fraction_02_matches_arx(adult_histogram: Table) -> None:
    sizes, counts = adult_histogram
    n = population_size(sampling_fraction=0.2, sample_rows=ADULT_ROWS)
    assert n == 150_810
    risk = population_uniqueness(sizes, counts, n)
    assert risk.sampling_fraction == pytest.approx(0.2)
    assert risk.pitman is not None
    assert risk.zayatz is not None
    assert f"{risk.pitman * 100:.2f}" == "17.63"
    assert f"{risk.zayatz * 100:.2f}" == "17.64"
    assert risk.dankar_model == "zayatz"
    assert risk.dankar == risk.zayatz


def test_adult_pitman_root_solves_the_likelihood_equations(
    adult_histogram: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Oracle: the root satisfies Hoshino's equations summed term by term."""
    sizes, counts = adult_histogram
    calls = _capture_roots(monkeypatch)
    risk = population_uniqueness(sizes, counts, USA)
    theta, alpha = calls[0][2]
    u, n = int(counts.sum()), ADULT_ROWS
    i = np.arange(1, u, dtype=np.float64)
    eq1 = math.fsum(1 / (theta + i * alpha)) - math.fsum(1 / (theta + np.arange(1.0, n)))
    inner = [math.fsum(1 / (np.arange(1.0, k) - alpha)) for k in sizes if k != 1]
    eq2 = math.fsum(i / (theta + i * alpha)) - math.fsum(
        c * s for c, s in zip(counts[sizes != 1], inner, strict=True)
    )
    assert abs(eq1) <= 1e-6
    assert abs(eq2) <= 1e-6
    uniques = math.exp(gammaln(theta + 1) - gammaln(theta + alpha)) * USA**alpha
    assert risk.pitman == pytest.approx(uniques / USA, rel=1e-12)


def test_adult_snb_at_full_sample_equals_sample_uniques(
    adult_histogram: Table,
) -> None:
    """With N = n the SNB equation k * f * beta**alpha = c1 makes uniques = c1."""
    sizes, counts = adult_histogram
    risk = population_uniqueness(sizes, counts, ADULT_ROWS)
    assert risk.snb == pytest.approx(8_841 / ADULT_ROWS, abs=1e-9)
    assert risk.zayatz == pytest.approx(8_841 / ADULT_ROWS, rel=1e-12)


# --------------------------------------------------------------------------
# Small cases computed by hand or by independent formulas


def test_zayatz_by_hand() -> None:
    # n = 5 of N = 10; P(1 | 1) = 1/2, P(1 | 2) = 2 C(8,4) / C(10,5) = 5/9;
    # share unique = 3 (1/2) / (3 (1/2) + 5/9) = 27/37; uniques = 3 (27/37) / (1/2).
    risk = population_uniqueness(np.array([1, 2]), np.array([3, 1]), 10)
    expected = Fraction(3) * Fraction(27, 37) / Fraction(1, 2) / 10
    assert risk.zayatz == pytest.approx(float(expected), rel=1e-13)
    assert risk.sampling_fraction == 0.5
    assert risk.dankar_model == "zayatz"  # SNB has no estimate here
    assert risk.dankar == risk.zayatz


def test_all_unique_and_population_is_sample() -> None:
    risk = population_uniqueness([1], [5], 5)
    assert risk.zayatz == 1.0
    assert risk.snb == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("sizes", "counts", "population"),
    [
        ([1, 2, 3, 5, 10, 50, 200], [100, 50, 20, 10, 5, 2, 1], 100_000),
        ([1, 2, 7], [40, 3, 2], 60),
        ([1, 3, 4, 9], [9, 4, 1, 2], 3_000_000),
    ],
)
def test_zayatz_against_scipy_hypergeometric(
    sizes: list[int], counts: list[int], population: int
) -> None:
    n = int(np.dot(sizes, counts))
    u = sum(counts)
    p = [hypergeom(population, k, n).pmf(1) for k in sizes]
    share = (counts[0] / u * p[0]) / sum(c / u * q for c, q in zip(counts, p, strict=True))
    expected = counts[0] * share / (n / population) / population
    risk = population_uniqueness(sizes, counts, population)
    assert risk.zayatz == pytest.approx(expected, rel=1e-9)


def test_snb_solves_arxs_equations(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small table where SNB converges: check ARX's equations independently."""
    sizes, counts, population = [1, 2, 4, 6], [38, 3, 21, 15], 436
    calls = _capture_roots(monkeypatch)
    risk = population_uniqueness(sizes, counts, population)
    alpha, beta = next(root for _s, start, root in calls if start == (1.0, 1.0))
    n, u, c1, c2 = 218, 77, 38, 3
    f = n / population
    k_sizes, k_counts = np.array(sizes, float), np.array(counts, float)
    var1 = np.sum(k_sizes * f**2 * (1 - f**2) ** (k_sizes - 1) * k_counts)
    var2 = np.sum((1 - f) ** k_sizes * k_counts * (1 + f) ** k_sizes - 1)
    var3 = np.sum((1 - f) ** k_sizes * k_counts)
    var4 = np.sum(k_sizes * f * (1 - f) ** (k_sizes - 1) * k_counts)
    k = u + c1 * (var1 / var2) * (var3 / var4) ** 2
    d = (1 - f) * (1 - beta)
    eq1 = k * f * (beta / (1 - d)) ** alpha * (alpha * d / (1 - d) + 1) - c1
    eq2 = (k * alpha * beta**alpha * f**2 * (1 - beta) / 2 * (1 - d) ** (alpha + 2)) * (
        2 - (1 - alpha) * d
    ) - c2
    assert abs(eq1) <= 1e-6
    assert abs(eq2) <= 1e-6
    assert risk.snb == pytest.approx(k * beta**alpha / population, rel=1e-12)
    assert risk.dankar_model == "snb"  # f = 0.5 and SNB < Zayatz
    assert risk.snb is not None
    assert risk.zayatz is not None
    assert risk.snb < risk.zayatz


def test_no_sample_uniques_means_no_population_uniques() -> None:
    risk = population_uniqueness([2, 3], [5, 1], 500)
    assert (risk.pitman, risk.zayatz, risk.snb, risk.dankar) == (0.0, 0.0, 0.0, 0.0)
    assert risk.dankar_model is None


def test_unsorted_sizes_and_zero_counts_are_accepted() -> None:
    a = population_uniqueness([1, 2, 4, 6], [38, 3, 21, 15], 436)
    b = population_uniqueness([6, 4, 1, 2, 9], [15, 21, 38, 3, 0], 436)
    assert a == b


# --------------------------------------------------------------------------
# No estimate: None, never NaN, never an exception


def test_non_convergence_is_none_and_json_safe() -> None:
    risk = population_uniqueness([1], [5], 500)  # only uniques: Pitman and SNB fail
    assert risk.pitman is None
    assert risk.snb is None
    assert risk.zayatz == 1.0
    assert risk.dankar_model == "zayatz"
    text = json.dumps(risk.to_dict(), allow_nan=False)
    assert json.loads(text) == {
        "size": 500,
        "sampling_fraction": 0.01,
        "pitman": None,
        "zayatz": 1.0,
        "snb": None,
        "dankar": {"model": "zayatz", "fraction": 1.0},
    }


@pytest.mark.parametrize("seed", range(6))
def test_random_tables_never_raise_or_give_nan(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = np.unique(np.concatenate([[1], rng.integers(2, 60, size=rng.integers(1, 12))]))
    counts = rng.integers(1, 400, size=sizes.size)
    n = int(np.dot(sizes, counts))
    for fraction in (1.0, 0.5, 0.1, 1e-3, 1e-6):
        risk = population_uniqueness(sizes, counts, round(n / fraction))
        for value in (risk.pitman, risk.zayatz, risk.snb, risk.dankar):
            assert value is None or (isinstance(value, float) and math.isfinite(value))
        for value in (risk.pitman, risk.zayatz):
            assert value is None or 0.0 <= value <= 1.0
        assert risk.dankar_model in {"pitman", "zayatz", "snb"}


# --------------------------------------------------------------------------
# Dankar's decision rule


def _with_models(
    monkeypatch: pytest.MonkeyPatch, pitman: float, zayatz: float, snb: float
) -> Callable[[int], PopulationRisk]:
    monkeypatch.setattr(pop, "_pitman", lambda _h, _n: pitman)
    monkeypatch.setattr(pop, "_zayatz", lambda _h, _n: zayatz)
    monkeypatch.setattr(pop, "_snb", lambda _h, _n: snb)
    return lambda population: population_uniqueness([1, 2], [10, 5], population)


@pytest.mark.parametrize(
    ("population", "models", "chosen"),
    [
        (200, (30.0, 40.0, 20.0), "pitman"),  # f = 0.1: Pitman
        (200, (math.nan, 40.0, 20.0), "zayatz"),  # Pitman failed: Zayatz
        (200, (0.0, 40.0, 20.0), "zayatz"),  # 0 counts as no estimate (ARX)
        (100, (30.0, 10.0, 20.0), "zayatz"),  # f > 0.1: the smaller of Zayatz, SNB
        (100, (30.0, 25.0, 20.0), "snb"),
        (100, (30.0, 20.0, 20.0), "snb"),  # tie: SNB, as in ARX
        (100, (30.0, 25.0, math.nan), "zayatz"),  # SNB failed: Zayatz
    ],
)
def test_dankar_rule(
    monkeypatch: pytest.MonkeyPatch,
    population: int,
    models: tuple[float, float, float],
    chosen: str,
) -> None:
    risk = _with_models(monkeypatch, *models)(population)
    assert risk.dankar_model == chosen
    value = dict(zip(("pitman", "zayatz", "snb"), models, strict=True))[chosen]
    assert risk.dankar == (value / population if value else None)


# --------------------------------------------------------------------------
# Population size


def test_regions_are_arxs() -> None:
    assert REGIONS["usa"] == 317_238_626
    assert REGIONS["uk"] == 63_705_000
    assert REGIONS["eu"] == REGIONS["european_union"] == 507_420_000
    assert REGIONS["europe"] == 740_000_000
    assert REGIONS["china"] == 1_366_040_000
    assert REGIONS["india"] == 1_210_569_573
    assert REGIONS["germany"] == 80_767_000
    assert REGIONS["world"] > 8_000_000_000
    assert all(name == name.lower() for name in REGIONS)


@pytest.mark.parametrize(
    ("region", "expected"),
    [("usa", USA), ("USA", USA), ("European Union", 507_420_000), ("north-america", 565_265_000)],
)
def test_population_size_by_region(region: str, expected: int) -> None:
    assert population_size(region=region, sample_rows=100) == expected


def test_population_size_by_size_and_fraction() -> None:
    assert population_size(size=1_000, sample_rows=1_000) == 1_000
    assert population_size(sampling_fraction=1.0, sample_rows=7) == 7
    assert population_size(sampling_fraction=0.3, sample_rows=10) == 33
    assert population_size(sampling_fraction=0.4, sample_rows=1) == 3  # 2.5 rounds up


def test_unknown_region_suggests_the_closest() -> None:
    with pytest.raises(SettingError) as info:
        population_size(region="usaa", sample_rows=10)
    message = str(info.value)
    assert "unknown population region 'usaa'" in message
    assert "Did you mean 'usa'?" in message
    assert "china" in message
    assert "world" in message


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "give exactly one of region, size or sampling_fraction"),
        ({"region": "usa", "size": 10**6}, "(got region, size)"),
        ({"size": 10}, "population size 10 is smaller than the sample (100 rows)"),
        ({"sampling_fraction": 0.0}, "sampling fraction must be in (0, 1]"),
        ({"sampling_fraction": 1.5}, "sampling fraction must be in (0, 1]"),
        ({"sampling_fraction": math.nan}, "sampling fraction must be in (0, 1]"),
        ({"sampling_fraction": -0.2}, "not -0.2"),
    ],
)
def test_population_size_errors(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SettingError) as info:
        population_size(sample_rows=100, **kwargs)
    assert fragment in str(info.value)


def test_region_smaller_than_sample() -> None:
    with pytest.raises(SettingError, match="smaller than the sample"):
        population_size(region="uk", sample_rows=100_000_000)


@pytest.mark.parametrize(
    ("sizes", "counts", "population", "fragment"),
    [
        ([1, 2], [3], 100, "same length"),
        ([1, 1], [3, 2], 100, "must be distinct"),
        ([0, 2], [3, 2], 100, "must be positive"),
        ([1, 2], [3, -1], 100, "must not be negative"),
        ([1.5, 2], [3, 1], 100, "whole numbers"),
        ([], [], 100, "no equivalence classes"),
        ([1, 2], [3, 1], 4, "population 4 is smaller than the sample (5 rows)"),
        ([1, 2], [3, 1], 5.0, "population must be a whole number"),
    ],
)
def test_population_uniqueness_errors(
    sizes: list[float], counts: list[int], population: Any, fragment: str
) -> None:
    with pytest.raises(SettingError) as info:
        population_uniqueness(sizes, counts, population)
    assert fragment in str(info.value)


# --------------------------------------------------------------------------
# Cost: O(distinct class sizes), not O(rows)


def test_cost_does_not_grow_with_rows() -> None:
    sizes = np.arange(1, 81)
    base = np.maximum(1, (9_000 * sizes**-2.5).astype(np.int64))

    def timed(scale: int) -> float:
        counts = base * scale
        rows = int(np.dot(sizes, counts))
        start = time.perf_counter()
        population_uniqueness(sizes, counts, rows * 10_000)
        return time.perf_counter() - start

    small = min(timed(1) for _ in range(3))
    huge = min(timed(10**7) for _ in range(3))  # about 3e11 rows
    assert huge < 5.0
    assert huge < 20 * small + 0.5


# --------------------------------------------------------------------------
# Special functions: ARX's approximations and the exact differences


def _arx_digamma_scalar(x: float) -> float:
    """A line-by-line port of ARX's Gamma.digamma, as the oracle."""
    if x == 0:
        return -math.inf
    if x < 0:
        return _arx_digamma_scalar(1 - x) + math.pi / math.tan(-math.pi * x)
    if x <= 1e-6:
        return -0.5772156649015329 - 1 / x + math.pi**2 / 6 * x
    result = 0.0
    while x < 12:
        result -= 1 / x
        x += 1
    r = 1 / x
    result += math.log(x) - 0.5 * r
    r *= r
    return result - r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r / 132))))


def _arx_trigamma_scalar(x: float) -> float:
    """A line-by-line port of ARX's Gamma.trigamma (tail only from 12 on)."""
    if x < 0:
        s = math.pi / math.sin(-math.pi * x)
        return -_arx_trigamma_scalar(1 - x) + s * s
    if x <= 1e-4:
        return 1 / (x * x) + math.pi**2 / 6 - 2 * 1.2020569031595942 * x
    result = 0.0
    while x < 8:
        result += 1 / (x * x)
        x += 1
    if x >= 12:
        r = 1 / (x * x)
        series = 1 + r * (1 / 6 + r * (-1 / 30 + r * (1 / 42 + r * (-1 / 30 + r * 5 / 66))))
        result += 0.5 * r + series / x
    return result


_POINTS = [1e-7, 1e-5, 0.3, 1.5, 3.7, 7.9, 8.0, 8.5, 11.9, 12.0, 12.5, 100.0, 1e6, -0.3, -2.7]


def test_arx_digamma_and_trigamma_match_arx_loops() -> None:
    x = np.array(_POINTS)
    digamma = pop.arx_digamma(x)
    trigamma = pop.arx_trigamma(x)
    for i, value in enumerate(_POINTS):
        assert digamma[i] == pytest.approx(_arx_digamma_scalar(value), rel=1e-13)
        assert trigamma[i] == pytest.approx(_arx_trigamma_scalar(value), rel=1e-13, abs=1e-300)
    assert trigamma[_POINTS.index(8.5)] == 0.0  # ARX's quirk: no tail in [8, 12)


@pytest.mark.parametrize(
    "x", [0.5, 3.3, 63.9, 64.1, 1e4 + 0.3, 1e8 + 0.7, 1e13 + 0.1, -5.5, -200.25]
)
@pytest.mark.parametrize("m", [1, 7, 300])
def test_exact_sums_match_term_by_term(x: float, m: int) -> None:
    i = np.arange(m, dtype=np.float64)
    xs, ms = np.array([x]), np.array([float(m)])
    assert pop.psi_diff(xs, ms)[0] == pytest.approx(math.fsum(1 / (x + i)), rel=1e-12, abs=1e-15)
    assert pop.trigamma_diff(xs, ms)[0] == pytest.approx(math.fsum(1 / (x + i) ** 2), rel=1e-12)
    ramp = math.fsum((i + 1) / (x + i + 1))
    assert pop.ramp_sum(xs, ms)[0] == pytest.approx(ramp, rel=1e-12, abs=1e-15)


def test_start_values_are_arxs() -> None:
    values = pop._START_VALUES
    assert len(values) == 16
    assert values[0] == (0.0, 0.0)
    assert values[1] == (0.0, 0.33)
    assert values[-1] == pytest.approx((0.99, 0.99))
