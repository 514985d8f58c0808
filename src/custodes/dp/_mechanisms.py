"""Noise from OpenDP measurements, and the accounting in rho-zCDP.

Aggregates are computed exactly on the bounded data by the engine; OpenDP's
Gaussian mechanism (on integer counts, or on float sums) and its noisy-max
quantile selection then release them. Each mechanism's scale is set from the
rho it may spend and checked with OpenDP's own privacy map, so the loss a
query reports is the one OpenDP certifies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import opendp.prelude as dp

__all__ = [
    "Z95",
    "count_scale",
    "epsilon_of",
    "gaussian_scale",
    "half_width",
    "noisy_counts",
    "noisy_quantile",
    "noisy_sums",
    "quantile_scale",
    "rho_of_epsilon",
    "sum_scale",
]

dp.enable_features("contrib")

Z95 = 1.959963984540054
"""The 97.5 % point of the standard normal: a 95 % interval is +- Z95 sigma."""


def half_width(scale: float) -> float:
    """The half-width of the 95 % interval of a value released with Gaussian noise of ``scale``."""
    return Z95 * scale


def rho_of_epsilon(epsilon: Fraction | str | float, delta: float) -> Fraction:
    """The largest short rho (8 significant digits) whose zCDP gives at most (epsilon, delta)-DP.

    The inverse of :func:`epsilon_of`, rounded down, so a query paid by epsilon
    never spends more than that epsilon allows.
    """
    e = float(Fraction(epsilon) if isinstance(epsilon, str) else epsilon)
    log = math.log(1 / delta)
    rho = (e / (math.sqrt(log + e) + math.sqrt(log))) ** 2  # (sqrt(L + e) - sqrt(L))^2, stably
    if not rho > 0:
        return Fraction(0)
    unit = Fraction(1, 10 ** (7 - math.floor(math.log10(rho))))
    short = math.floor(rho / unit) * unit
    while short > 0 and epsilon_of(short, delta) > e:
        short -= unit
    return short


def epsilon_of(rho: Fraction, delta: float) -> float:
    """(epsilon, delta)-DP implied by rho-zCDP: rho + 2 sqrt(rho ln(1/delta))."""
    value = float(rho)
    return value + 2 * math.sqrt(value * math.log(1 / delta))


def gaussian_scale(sensitivity: float, rho: Fraction) -> float:
    """The Gaussian scale spending at most ``rho`` at L2 ``sensitivity`` (rho = d^2 / 2 s^2)."""
    return sensitivity / math.sqrt(2 * float(rho))


def _fitted(make: object, sensitivity: float, rho: Fraction) -> tuple[object, float]:
    """A measurement whose OpenDP privacy map at ``sensitivity`` is within ``rho``."""
    assert callable(make)
    scale = gaussian_scale(sensitivity, rho) * (1 + 1e-9)
    for _ in range(50):
        measurement = make(scale)
        if measurement.map(sensitivity) <= float(rho):
            return measurement, scale
        scale *= 1.0001
    raise RuntimeError("no scale meets the privacy budget")  # pragma: no cover


def _gaussian_measurement(kind: type, sensitivity: float, rho: Fraction) -> tuple[object, float]:
    """OpenDP's Gaussian mechanism on integer or float vectors at L2 ``sensitivity``, its scale
    fitted to ``rho``; and the scale. Deterministic: the estimate and the answer fit alike."""
    atom = dp.atom_domain(T=int) if kind is int else dp.atom_domain(T=float, nan=False)
    domain, metric = dp.vector_domain(atom), dp.l2_distance(T=kind)

    def make(scale: float) -> object:
        return dp.m.make_gaussian(domain, metric, scale=scale)

    return _fitted(make, sensitivity, rho)


def _gaussian(
    values: Sequence[float], kind: type, sensitivity: float, rho: Fraction
) -> tuple[list[Any], float]:
    """Values with Gaussian noise from OpenDP (integers or floats, L2 sensitivity); the scale."""
    measurement, scale = _gaussian_measurement(kind, sensitivity, rho)
    released = measurement([kind(v) for v in values])  # type: ignore[operator]
    return [kind(v) for v in released], scale


def count_scale(sensitivity: int, rho: Fraction) -> float:
    """The scale :func:`noisy_counts` releases counts with, spending ``rho``."""
    return _gaussian_measurement(int, sensitivity, rho)[1]


def sum_scale(sensitivity: float, rho: Fraction) -> float:
    """The scale :func:`noisy_sums` releases sums with, spending ``rho``."""
    return _gaussian_measurement(float, sensitivity, rho)[1]


def noisy_counts(counts: Sequence[int], sensitivity: int, rho: Fraction) -> tuple[list[int], float]:
    """Counts with Gaussian noise (OpenDP, integers, L2 sensitivity); and the scale."""
    return _gaussian(counts, int, sensitivity, rho)


def noisy_sums(
    sums: Sequence[float], sensitivity: float, rho: Fraction
) -> tuple[list[float], float]:
    """Sums with Gaussian noise (OpenDP, floats, L2 sensitivity); and the scale."""
    return _gaussian(sums, float, sensitivity, rho)


def _quantile_measurement(
    candidates: Sequence[float], q: float, contributions: int, rho: Fraction
) -> tuple[object, float]:
    """OpenDP's noisy max over quantile scores of ``candidates``, its scale fitted to ``rho``;
    and the scale."""
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    scores = dp.t.make_quantile_score_candidates(
        domain, dp.symmetric_distance(), candidates=list(candidates), alpha=q
    )

    def make(scale: float) -> Any:
        return scores >> dp.m.then_noisy_max(
            dp.zero_concentrated_divergence(), scale=scale, negate=True
        )

    # The privacy map grows with (d / scale)^2, like the Gaussian's: fit the same way.
    unit = make(1.0).map(contributions)
    scale = math.sqrt(unit / float(rho)) * (1 + 1e-9)
    measurement = make(scale)
    while measurement.map(contributions) > float(rho):
        scale *= 1.0001
        measurement = make(scale)
    return measurement, scale


def quantile_scale(
    candidates: Sequence[float], q: float, contributions: int, rho: Fraction
) -> float:
    """The scale :func:`noisy_quantile` chooses with, spending ``rho``."""
    return _quantile_measurement(candidates, q, contributions, rho)[1]


def noisy_quantile(
    values: Sequence[float],
    candidates: Sequence[float],
    q: float,
    contributions: int,
    rho: Fraction,
) -> float:
    """A quantile chosen among ``candidates`` by OpenDP's noisy max on quantile scores (zCDP)."""
    measurement, _ = _quantile_measurement(candidates, q, contributions, rho)
    index = measurement([float(v) for v in values])  # type: ignore[operator]
    return float(candidates[int(index)])
