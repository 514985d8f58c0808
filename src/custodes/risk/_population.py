"""Population uniqueness: how many people in the population are unique on the QIs.

Three statistical models estimate, from the sample's class-size frequency table
(how many equivalence classes have 1, 2, 3, ... records), the number of
*population* uniques; Dankar's rule picks one of them. ARX 3.9.x
(``org.deidentifier.arx.risk``) is the reference implementation; this module
re-implements it in numpy/scipy and reproduces its figures:

* **Pitman** (Pitman 1996; Hoshino 2001): a Pitman-Yor (two-parameter
  Poisson-Dirichlet) model of class sizes. Theta and alpha are maximum
  likelihood estimates found by Newton-Raphson; the population uniques are
  ``Gamma(theta+1) / Gamma(theta+alpha) * N**alpha``.
* **Zayatz** (Zayatz 1991): the share of sample uniques that are population
  uniques, from hypergeometric draws, scaled by ``1 / sampling fraction``.
* **SNB** (Chen & McNulty 1998): a slide negative binomial model whose two
  parameters are solved by Newton-Raphson, with ARX's Shlosser-type estimate of
  the number of non-empty population classes.
* **Dankar** (Dankar et al. 2012): with a sampling fraction <= 10 % use Pitman
  (Zayatz if Pitman has no estimate); above, use the smaller of Zayatz and SNB
  (Zayatz alone if SNB has no estimate).

Every figure is a *fraction of the population*: estimated population uniques
divided by the population size N (ARX's ``getFractionOfUniqueTuples*``). On UCI
Adult (8 QIs, 30,162 rows) this gives, as ARX 3.9.2 shows: with ARX's USA
population, Pitman 1.455 %, Zayatz 8.60 %, no SNB estimate, Dankar -> Pitman;
at sampling fraction 0.2 (N = 150,810), Pitman 17.63 %, Zayatz 17.64 %,
Dankar -> Zayatz. (As fractions of the *sample* the figures would be
N / n times larger; they are not what ARX shows.)

Reproduced from ARX, quirks included: Pitman's initial guess, closed-form
digamma equations with ARX's Lightspeed digamma/trigamma (its trigamma omits
the asymptotic tail for reduced arguments in [8, 12); only the Jacobian is
affected), the check of that root against the exact ("iterative") equations
and the re-solve with them, theta >= 0, the bounds check on the result; SNB's
equations and Jacobian as ARX writes them (its second equation multiplies by
(1 - d)**(alpha + 2) while its Jacobian divides, so SNB often fails) and its
Shlosser-type estimate; the solver: |equation| <= 1e-6 for both, the given
start then the 16 deterministic starts {0, .33, .66, .99}^2 of
``ARXSolverConfiguration``, 1,000 iterations per start, and the solver
library's stop right after the first step from the last start.

Deliberate differences: no wall-clock limits (ARX: 100 ms per start, 1 s in
all), so results do not depend on machine speed; the exact equations are
summed in closed form with cancellation-free digamma differences, so the cost
is O(distinct class sizes), not O(rows); Zayatz uses the true N where ARX
clips it to 2**31 - 1 (an overflow ARX marks as a TODO).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from custodes.errors import SettingError, closest
from custodes.risk._special import (
    arx_digamma,
    arx_trigamma,
    lgamma_ratio_rest,
    psi_diff,
    ramp_sum,
    special,
    trigamma_diff,
)

__all__ = ["REGIONS", "PopulationRisk", "population_size", "population_uniqueness"]

FloatArray = npt.NDArray[np.float64]

REGIONS: dict[str, int] = {
    # ARX 3.9's ARXPopulationModel.Region, with its figures.
    "africa": 1_100_000_000,
    "australia": 23_130_900,
    "brasil": 202_656_788,
    "brazil": 202_656_788,
    "canada": 34_834_841,
    "china": 1_366_040_000,
    "eu": 507_420_000,
    "europe": 740_000_000,
    "european_union": 507_420_000,
    "france": 65_820_916,
    "germany": 80_767_000,
    "india": 1_210_569_573,
    "north_america": 565_265_000,
    "south_america": 385_742_554,
    "uk": 63_705_000,
    "usa": 317_238_626,
    # Not in ARX: UN World Population Prospects 2024, 1 July 2024.
    "world": 8_161_972_572,
}
"""Population sizes by region (ARX's figures; 'world' from the UN, 2024)."""

# ARXSolverConfiguration defaults (ARX >= 3.7).
_ACCURACY = 1e-6
_ITERATIONS_PER_TRY = 1000


def _arx_start_values() -> tuple[tuple[float, float], ...]:
    """ARX's deterministic start values: d1, d2 = 0, .33, .66, .99 (as ARX adds them)."""
    steps: list[float] = []
    d = 0.0
    while d < 1.0:
        steps.append(d)
        d += 0.33
    return tuple((d1, d2) for d1 in steps for d2 in steps)


_START_VALUES = _arx_start_values()
_ITERATIONS_TOTAL = (len(_START_VALUES) + 1) * _ITERATIONS_PER_TRY


@dataclass(frozen=True)
class PopulationRisk:
    """Estimated population uniqueness for one population size.

    Model values are fractions of the population (uniques / N); None when the
    model has no estimate (its solver did not converge, or the estimate is
    outside what ARX accepts). ``dankar_model`` is the model Dankar's rule
    picked; it is None only when the sample has no uniques, and then every
    estimate is 0.
    """

    size: int
    sampling_fraction: float
    pitman: float | None
    zayatz: float | None
    snb: float | None
    dankar_model: str | None
    dankar: float | None

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "size": self.size,
            "sampling_fraction": self.sampling_fraction,
            "pitman": self.pitman,
            "zayatz": self.zayatz,
            "snb": self.snb,
            "dankar": {"model": self.dankar_model, "fraction": self.dankar},
        }


# --------------------------------------------------------------------------
# Population size


def _region_key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def population_size(
    *,
    region: str | None = None,
    size: int | None = None,
    sampling_fraction: float | None = None,
    sample_rows: int,
) -> int:
    """The population size N from exactly one of a region, a size or a fraction.

    A sampling fraction f gives N = round(sample_rows / f), rounded half up as
    ARX does (``Math.round``).
    """
    options = {"region": region, "size": size, "sampling_fraction": sampling_fraction}
    given = [name for name, value in options.items() if value is not None]
    if len(given) != 1:
        got = ", ".join(given) if given else "none"
        raise SettingError(
            f"give exactly one of region, size or sampling_fraction for the population (got {got})."
        )
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 1:
        raise SettingError(f"sample_rows must be a positive whole number, not {sample_rows!r}.")
    if region is not None:
        key = _region_key(region)
        if key not in REGIONS:
            hint = closest(key, REGIONS)
            suggestion = f" Did you mean {hint!r}?" if hint else ""
            raise SettingError(
                f"unknown population region {region!r}.{suggestion} "
                f"Choose one of: {', '.join(sorted(REGIONS))}; "
                "or give the population size or the sampling fraction instead."
            )
        n = REGIONS[key]
        if n < sample_rows:
            raise SettingError(
                f"the population of region {key!r} ({n:,}) is smaller than the sample "
                f"({sample_rows:,} rows); give a larger population."
            )
        return n
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int | np.integer):
            raise SettingError(f"population size must be a whole number, not {size!r}.")
        size = int(size)
        if size < sample_rows:
            raise SettingError(
                f"population size {size:,} is smaller than the sample ({sample_rows:,} rows); "
                "the population must contain the sample."
            )
        return size
    fraction = sampling_fraction
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0.0 < fraction <= 1.0
    ):
        raise SettingError(
            f"sampling fraction must be in (0, 1] (e.g. 0.2 for a 20 % sample), not {fraction!r}."
        )
    return max(sample_rows, math.floor(sample_rows / fraction + 0.5))


# --------------------------------------------------------------------------
# Newton-Raphson, as ARX's solver library (de.linearbits.newtonraphson) runs it

_Scalar = np.floating[Any]
_Six = tuple[float, float, float, float, float, float]
_System = Callable[[_Scalar, _Scalar], _Six]
"""(x, y) -> (f1, f2, df1/dx, df1/dy, df2/dx, df2/dy)."""


def _six(*values: Any) -> _Six:
    """Six numpy or Python numbers as Python floats (IEEE values kept)."""
    a, b, c, d, e, f = (float(v) for v in values)
    return a, b, c, d, e, f


def _solve(
    system: _System,
    start: tuple[float, float],
    constraint: Callable[[_Scalar, _Scalar], bool] | None = None,
) -> tuple[float, float] | None:
    """Run ARX's deterministic Newton-Raphson; the root, or None if none found."""
    total = 0
    offset = 0
    first = True
    while total <= _ITERATIONS_TOTAL:
        if first:
            x: _Scalar = np.float64(start[0])
            y: _Scalar = np.float64(start[1])
            first = False
        else:
            x, y = np.float64(_START_VALUES[offset][0]), np.float64(_START_VALUES[offset][1])
            offset += 1
        iterations = 0
        while True:
            total += 1
            f1, f2, j11, j12, j21, j22 = system(x, y)
            if abs(f1) <= _ACCURACY and abs(f2) <= _ACCURACY:
                return float(x), float(y)
            scalar = np.float64(1.0) / (j11 * j22 - j12 * j21)
            x = x - (j22 * scalar * f1 - j12 * scalar * f2)
            y = y - (-j21 * scalar * f1 + j11 * scalar * f2)
            if offset == len(_START_VALUES):
                return None  # the library stops once the last start value is taken
            if constraint is not None and not constraint(x, y):
                break
            if math.isnan(x) or math.isnan(y) or iterations >= _ITERATIONS_PER_TRY:
                break
            iterations += 1
    return None


# --------------------------------------------------------------------------
# The models


@dataclass(frozen=True)
class _Histogram:
    sizes: FloatArray
    counts: FloatArray
    rows: float  # n
    classes: float  # u
    c1: float
    c2: float


def _pitman(h: _Histogram, population: float) -> float:
    """Population uniques under Pitman's model (NaN when there is no estimate)."""
    u, n, p = np.float64(h.classes), np.float64(h.rows), np.float64(population)
    c1, c2 = np.float64(h.c1), np.float64(h.c2)
    c2 = c2 if c2 != 0 else np.float64(1.0)
    c = (c1 * (c1 - 1)) / c2
    t0 = ((n * u * c) - (c1 * (n - 1) * ((2 * u) + c))) / (((2 * c1 * u) + (c1 * c)) - (n * c))
    a0 = ((t0 * (c1 - n)) + ((n - 1) * c1)) / (n * u)
    keep = h.sizes != 1.0
    sizes, counts = h.sizes[keep], h.counts[keep]

    ones = np.ones_like(sizes)

    def closed(t: _Scalar, a: _Scalar) -> _Six:
        # ARX's closed forms with its digamma/trigamma, one batch per call:
        # [u - 1 + t/a + 1, t/a + 1, n + t, t + 1, 1 - a, sizes - a].
        v0 = u - 1.0
        head = np.array([v0 + t / a + 1.0, t / a + 1.0, n + t, t + 1.0, 1.0 - a])
        dg = arx_digamma(np.concatenate([head, sizes - a]))
        head[0] = (a + t + a * v0) / a
        tg = arx_trigamma(np.concatenate([head, sizes - a]))
        v1, v4, v2, v3, v5 = dg[0], dg[1], tg[0], tg[1], a * a
        d1 = (v3 - v2) / v5
        d5 = (a * v1 + t * v2 - a * v4 - t * v3) / (v5 * a)
        d3 = (v5 * v0 - t * t * v2 + t * t * v3 - 2 * a * t * v1 + 2 * a * t * v4) / (v5 * v5)
        o1 = (v1 - v4) / a
        o3 = (-t * v1 + a * v0 + t * v4) / (a * a)
        o2 = dg[2] - dg[3]
        d2 = tg[3] - tg[2]  # trigamma(t + 1) - trigamma(n + t)
        d4 = np.sum(counts * (tg[4] - tg[5:]))
        o4 = np.sum(counts * (dg[5:] - dg[4]))
        return _six(o1 - o2, o3 - o4, d2 - d1, -d5, -d5, -d3 - d4)

    def exact(t: _Scalar, a: _Scalar) -> _Six:
        # The likelihood equations summed exactly (ARX's "iterative" variant),
        # o1 = sum_{i<u} 1/(t+ia), o3 = sum_{i<u} i/(t+ia), o2 = sum_{i<n} 1/(t+i),
        # o4 = sum_classes sum_{j<size} 1/(j-a), and their exact derivatives.
        x = t / a if a != 0 else np.float64(np.inf)
        starts = np.concatenate([[x + 1.0, t + 1.0], (1.0 - a) * ones])
        lengths = np.concatenate([[u - 1.0, n - 1.0], sizes - 1.0])
        psi = psi_diff(starts, lengths)
        tri = trigamma_diff(starts, lengths)
        o2, d2 = psi[1], tri[1]
        o4 = np.sum(counts * psi[2:])
        d4 = np.sum(counts * tri[2:])
        if a == 0:
            o1 = (u - 1.0) / t
            o3 = u * (u - 1.0) / (2.0 * t)
            d1 = (u - 1.0) / (t * t)
            d5 = u * (u - 1.0) / (2.0 * t * t)
            d3 = (u - 1.0) * u * (2.0 * u - 1.0) / (6.0 * t * t)
        else:
            s, q = psi[0], tri[0]
            o1 = s / a
            o3 = ramp_sum(np.array([x]), np.array([u - 1.0]))[0] / a
            d1 = q / (a * a)
            d5 = (s - x * q) / (a * a)
            d3 = ((u - 1.0) - 2.0 * x * s + x * x * q) / (a * a)
        return _six(o1 - o2, o3 - o4, d2 - d1, -d5, -d5, -d3 - d4)

    def theta_nonnegative(t: _Scalar, _a: _Scalar) -> bool:
        return bool(t >= 0)

    start = (float(t0), float(a0))
    root = _solve(closed, start, theta_nonnegative)
    if root is not None:
        g1, g2, *_ = exact(np.float64(root[0]), np.float64(root[1]))
        if math.isnan(g1) or math.isnan(g2) or abs(g1) > _ACCURACY or abs(g2) > _ACCURACY:
            root = None
    if root is None:
        root = _solve(exact, start, theta_nonnegative)
    if root is None:
        return math.nan
    t, a = root
    if a == 0:
        return math.nan
    candidates = []
    power = p**a
    if t + 1.0 > 0 and t + a > 0:
        candidates.append(
            float(np.exp(special().gammaln(t + 1.0) - special().gammaln(t + a)) * power)
        )
    candidates.append(float(special().gamma(t + 1.0) / special().gamma(t + a) * power))
    valid = [v for v in candidates if 0.0 <= v <= p]
    return max(valid) if valid else math.nan


def _zayatz(h: _Histogram, population: float) -> float:
    """Population uniques under Zayatz's model.

    The share of sample uniques that are population uniques is
    c1 * P(1 | 1) / sum_k c_k * P(1 | k), with P(1 | k) the hypergeometric
    probability that a population class of size k leaves exactly one record in
    a sample of n out of N; the ratios P(1 | k) / P(1 | 1) are computed in log
    space, so the cost is O(distinct sizes).
    """
    big_n, n = population, h.rows
    k = h.sizes
    m = k - 1.0
    a = big_n - n - k + 2.0  # P(1 | k) = 0 when the rest cannot fill the sample
    b = big_n - k + 1.0
    ok = a >= 1.0
    a_ok = np.where(ok, a, 1.0)
    log_ratio = (
        np.log(k)
        + lgamma_ratio_rest(a_ok, m)
        - lgamma_ratio_rest(b, m)
        + m * np.log1p((a_ok - b) / b)
    )
    ratio = np.where(ok, np.exp(log_ratio), 0.0)
    ratio = np.where(k == 1.0, 1.0, ratio)
    denominator = float(np.sum(h.counts * ratio))
    uniqueness = h.c1 / denominator
    return h.c1 * uniqueness / (n / big_n)


def _snb(h: _Histogram, population: float) -> float:
    """Population uniques under the SNB model, with ARX's equations."""
    f = np.float64(h.rows) / np.float64(population)
    c1, c2 = np.float64(h.c1), np.float64(h.c2)
    size, cnt = h.sizes, h.counts
    # ARX's Shlosser-type estimate of non-empty population classes (its
    # "- 1" is per distinct class size, as in ARX).
    v2 = (1.0 - f) ** size * cnt
    var1 = np.sum(size * (f * f) * (1.0 - f * f) ** (size - 1.0) * cnt)
    var2 = np.sum(v2 * (1.0 + f) ** size - 1.0)
    var3 = np.sum(v2)
    var4 = np.sum(size * f * (1.0 - f) ** (size - 1.0) * cnt)
    k = np.float64(h.classes) + c1 * (var1 / var2) * (var3 / var4) * (var3 / var4)

    def system(a: _Scalar, b: _Scalar) -> _Six:
        d = (1.0 - f) * (1.0 - b)
        g1 = k * f * (b / (1.0 - d)) ** a * (((a * d) / (1.0 - d)) + 1.0) - c1
        g2 = (
            k
            * a
            * b**a
            * (f * f)
            * (1.0 - b)
            / 2.0
            * (1.0 - d) ** (a + 2.0)
            * (2.0 - (1.0 - a) * d)
            - c2
        )
        w0 = (b - 1.0) * (f - 1.0)
        w1 = w0 - 1.0
        w2 = 1.0 - w0
        w3 = a * w0 / w1 - 1.0
        w4 = (-b / w1) ** a
        w6 = f**2.0
        w7 = b**a
        w9 = a * (w7 * w6 * k)
        w10 = 2.0 * w2 ** (a + 2.0)
        w11 = w1**2.0
        w13 = f * k
        w14 = f - 1.0
        w15 = a - 1.0
        w16 = b - 1.0
        w17 = w15 * w0
        w18 = w6 * k
        w19 = w17 + 2.0
        w20 = w18 * w19
        j11 = -w13 * np.log(-b / w1) * w3 * w4 - (w13 * w4 * w0) / w1
        j12 = a * w13 * (1.0 / w1 - (b * w14) / w11) * w3 * (-b / w1) ** w15 - w13 * w4 * (
            (a * w14) / w1 - (a * w16 * w14**2.0) / w11
        )
        j21 = (
            (w9 * np.log(w2) * w19 * w16) / w10
            - (w9 * w16**2.0 * w14) / w10
            - (w7 * w20 * w16) / w10
            - (a * w7 * w18 * np.log(b) * w19 * w16) / w10
        )
        j22 = (
            -(w9 * w19) / w10
            - (a**2.0 * b**w15 * w20 * w16) / w10
            - (a * w7 * w18 * w17) / w10
            - (a * w7 * w20 * (a + 2.0) * w0) / (2.0 * w2 ** (a + 3.0))
        )
        return _six(g1, g2, j11, j12, j21, j22)

    root = _solve(system, (1.0, 1.0))
    if root is None:
        return math.nan
    alpha, beta = np.float64(root[0]), np.float64(root[1])
    return float(k * beta**alpha)


def _valid(value: float) -> bool:
    """ARX's test for an available estimate: a number other than 0."""
    return not math.isnan(value) and value != 0.0


def population_uniqueness(
    class_sizes: npt.ArrayLike,
    class_counts: npt.ArrayLike,
    population: int,
) -> PopulationRisk:
    """Pitman, Zayatz, SNB and Dankar's estimates of population uniqueness.

    ``class_sizes[i]`` is an equivalence-class size and ``class_counts[i]`` how
    many classes have that size (the sample's class-size frequency table); the
    sample has n = sum(sizes * counts) rows. ``population`` is N >= n. Every
    figure is the estimated number of population uniques divided by N, as ARX
    reports it. The cost is O(number of distinct class sizes).
    """
    sizes = np.asarray(class_sizes)
    counts = np.asarray(class_counts)
    if sizes.ndim != 1 or counts.ndim != 1 or sizes.shape != counts.shape:
        raise SettingError(
            "class_sizes and class_counts must be two 1-D arrays of the same length "
            f"(got shapes {sizes.shape} and {counts.shape})."
        )
    for name, arr in (("class_sizes", sizes), ("class_counts", counts)):
        if arr.size and (
            not np.all(np.isfinite(arr.astype(np.float64)))
            or not np.all(np.floor(arr.astype(np.float64)) == arr.astype(np.float64))
        ):
            raise SettingError(f"{name} must hold whole numbers.")
    sizes_f = sizes.astype(np.float64)
    counts_f = counts.astype(np.float64)
    if np.any(sizes_f < 1):
        raise SettingError("class_sizes must be positive (a class has at least one record).")
    if np.any(counts_f < 0):
        raise SettingError("class_counts must not be negative.")
    keep = counts_f > 0
    sizes_f, counts_f = sizes_f[keep], counts_f[keep]
    if sizes_f.size == 0:
        raise SettingError("the sample has no equivalence classes (no rows to assess).")
    order = np.argsort(sizes_f, kind="stable")
    sizes_f, counts_f = sizes_f[order], counts_f[order]
    if np.any(np.diff(sizes_f) == 0):
        raise SettingError("class_sizes must be distinct: give each size once with its count.")
    rows = float(np.sum(sizes_f * counts_f))
    if isinstance(population, bool) or not isinstance(population, int | np.integer):
        raise SettingError(f"population must be a whole number, not {population!r}.")
    if population < rows:
        raise SettingError(
            f"population {int(population):,} is smaller than the sample ({rows:,.0f} rows); "
            "the population must contain the sample."
        )
    big_n = float(population)
    c1 = float(counts_f[0]) if sizes_f[0] == 1.0 else 0.0
    two = np.nonzero(sizes_f == 2.0)[0]
    c2 = float(counts_f[two[0]]) if two.size else 0.0
    h = _Histogram(sizes_f, counts_f, rows, float(np.sum(counts_f)), c1, c2)
    fraction = rows / big_n
    if c1 == 0:
        return PopulationRisk(int(population), fraction, 0.0, 0.0, 0.0, None, 0.0)

    with np.errstate(all="ignore"):
        pitman = _pitman(h, big_n)
        zayatz = _zayatz(h, big_n)
        snb = _snb(h, big_n)

    # Dankar et al.'s decision rule, as ARX applies it (Zayatz as fallback).
    if fraction <= 0.1:
        model, chosen = ("pitman", pitman) if _valid(pitman) else ("zayatz", zayatz)
    elif _valid(snb):
        model, chosen = ("zayatz", zayatz) if zayatz < snb else ("snb", snb)
    else:
        model, chosen = "zayatz", zayatz

    def share(value: float) -> float | None:
        return value / big_n if _valid(value) and math.isfinite(value) else None

    return PopulationRisk(
        size=int(population),
        sampling_fraction=fraction,
        pitman=share(pitman),
        zayatz=share(zayatz),
        snb=share(snb),
        dankar_model=model,
        dankar=share(chosen),
    )
