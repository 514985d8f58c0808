"""The special functions the population models need, accurate where ARX's are.

Digamma, trigamma and log-gamma differences for large arguments and small
steps, where the textbook forms lose every digit; ARX's own digamma and
trigamma (for figures that must match ARX's).
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def special() -> ModuleType:
    """scipy.special, imported on first use (it adds ~0.1 s to every start-up)."""
    return importlib.import_module("scipy.special")


# --------------------------------------------------------------------------
# Special functions


_STEPS = np.arange(12.0)


def _recurrence(y: FloatArray, steps: FloatArray, power: int) -> FloatArray:
    """sum_{j < steps} 1 / (y + j)**power, the recurrence ARX runs in a loop."""
    j = _STEPS[None, : int(np.max(steps, initial=0.0))]
    shifted = y[:, None] + j
    use = j < steps[:, None]
    terms = np.where(use, 1.0 / np.where(use, shifted, 1.0) ** power, 0.0)
    return np.asarray(np.sum(terms, axis=1), dtype=np.float64)


def arx_digamma(x: FloatArray) -> FloatArray:
    """ARX's ``Gamma.digamma`` (Minka's Lightspeed), vectorised."""
    y = np.where(x < 0.0, 1.0 - x, x)
    small = ~(y > 1e-6)
    steps = np.where(small, 0.0, np.clip(np.ceil(12.0 - y), 0.0, 12.0))
    z = y + steps
    r = 1.0 / z
    r2 = r * r
    tail = np.log(z) - 0.5 * r
    tail = tail - r2 * (1 / 12 - r2 * (1 / 120 - r2 * (1 / 252 - r2 * (1 / 240 - r2 / 132))))
    taylor = -0.5772156649015329 - 1.0 / y + (math.pi**2 / 6) * y
    pos = np.where(small, taylor, tail - _recurrence(y, steps, 1))
    out = np.where(x < 0.0, pos + math.pi / np.tan(-math.pi * x), pos)
    out = np.where(x == 0.0, -np.inf, out)
    return np.asarray(np.where(np.isfinite(x), out, np.nan), dtype=np.float64)


def arx_trigamma(x: FloatArray) -> FloatArray:
    """ARX's ``Gamma.trigamma``, vectorised, with its quirk kept.

    ARX reduces the argument to >= 8 but adds the asymptotic tail only from 12
    on, so values whose reduced argument falls in [8, 12) lack their tail.
    """
    y = np.where(x < 0.0, 1.0 - x, x)
    small = ~(y > 1e-4)
    steps = np.where(small, 0.0, np.clip(np.ceil(8.0 - y), 0.0, 8.0))
    z = y + steps
    r = 1.0 / (z * z)
    series = 1.0 + r * (1 / 6 + r * (-1 / 30 + r * (1 / 42 + r * (-1 / 30 + r * 5 / 66))))
    tail = np.where(z >= 12.0, 0.5 * r + series / z, 0.0)
    taylor = 1.0 / (y * y) + math.pi**2 / 6 - 2.0 * 1.2020569031595942 * y
    pos = np.where(small, taylor, _recurrence(y, steps, 2) + tail)
    s = math.pi / np.sin(-math.pi * x)
    out = np.where(x < 0.0, -pos + s * s, pos)
    out = np.where(x == 0.0, -np.inf, out)
    return np.asarray(np.where(np.isfinite(x), out, np.nan), dtype=np.float64)


_X0 = 64.0  # above this, use asymptotic expansions for differences
_C_PSI = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132)  # B_2k / 2k
_B = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66)  # B_2k


def _trigamma(x: FloatArray) -> FloatArray:
    """Accurate trigamma, also for negative non-integers (reflection)."""
    neg = x < 0.0
    pos = special().polygamma(1, np.where(neg, 1.0 - x, x))
    s = math.pi / np.sin(math.pi * x)
    return np.asarray(np.where(neg, -pos + s * s, pos), dtype=np.float64)


def _psi_diff_rest(x: FloatArray, m: FloatArray) -> FloatArray:
    """psi(x + m) - psi(x) - log1p(m / x) for x >= _X0, from the asymptotic series."""
    y = x + m
    out = m / (2.0 * x * y) + _C_PSI[0] * m * (x + y) / (x * x * y * y)
    for k, c in enumerate(_C_PSI[1:], start=2):
        out = out - c * (y ** (-2.0 * k) - x ** (-2.0 * k))
    return np.asarray(out, dtype=np.float64)


def _psi_diff_large(x: FloatArray, m: FloatArray) -> FloatArray:
    """psi(x + m) - psi(x) for x >= _X0, without cancellation."""
    return np.asarray(np.log1p(m / x) + _psi_diff_rest(x, m), dtype=np.float64)


def psi_diff(x: FloatArray, m: FloatArray) -> FloatArray:
    """sum_{i=0}^{m-1} 1 / (x + i) = psi(x + m) - psi(x), accurately."""
    x, m = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(m, np.float64))
    mirror = -x - m + 1.0  # all terms negative: the mirrored sum is positive
    big = x >= _X0
    neg = mirror >= _X0
    direct = special().digamma(x + m) - special().digamma(x)
    out = np.where(big, _psi_diff_large(np.where(big, x, _X0), m), direct)
    out = np.where(neg, -_psi_diff_large(np.where(neg, mirror, _X0), m), out)
    return np.asarray(np.where(m == 0.0, 0.0, out), dtype=np.float64)


def trigamma_diff(x: FloatArray, m: FloatArray) -> FloatArray:
    """sum_{i=0}^{m-1} 1 / (x + i)**2 = trigamma(x) - trigamma(x + m), accurately."""
    x, m = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(m, np.float64))

    def large(a: FloatArray) -> FloatArray:
        b = a + m
        out = m / (a * b) + m * (a + b) / (2.0 * a * a * b * b)
        out = out + _B[0] * m * (a * a + a * b + b * b) / (a**3 * b**3)
        for k, c in enumerate(_B[1:], start=2):
            out = out + c * (a ** (-2.0 * k - 1) - b ** (-2.0 * k - 1))
        return np.asarray(out, dtype=np.float64)

    mirror = -x - m + 1.0
    big = x >= _X0
    neg = mirror >= _X0
    direct = _trigamma(x) - _trigamma(x + m)
    out = np.where(big, large(np.where(big, x, _X0)), direct)
    out = np.where(neg, large(np.where(neg, mirror, _X0)), out)
    return np.asarray(np.where(m == 0.0, 0.0, out), dtype=np.float64)


def _x_minus_log1p(r: FloatArray) -> FloatArray:
    """r - log(1 + r), accurate for small r (series r^2/2 - r^3/3 + ... below 0.1)."""
    poly = np.zeros_like(r)
    for k in range(24, 1, -1):
        poly = (-1.0) ** k / k + r * poly
    return np.asarray(np.where(np.abs(r) < 0.1, r * r * poly, r - np.log1p(r)), dtype=np.float64)


def ramp_sum(x: FloatArray, m: FloatArray) -> FloatArray:
    """sum_{i=1}^{m} i / (x + i), accurately (also for large |x|)."""
    x, m = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(m, np.float64))
    s = psi_diff(x + 1.0, m)
    direct = m - x * s
    # Large x: with X = x + 1, r = m / X, the sum is
    # X (r - log1p r) + log1p r - x (S - log1p r), no term cancels.
    big = x + 1.0 >= _X0
    xb = np.where(big, x + 1.0, _X0)
    r = m / xb
    rest = _psi_diff_rest(xb, m)
    large = xb * _x_minus_log1p(r) + np.log1p(r) - (xb - 1.0) * rest
    out = np.where(big, large, direct)
    # Large negative x (every x + i < 0): mirror z = -x - m - 1 > 0 gives
    # -[(m + 1) S(z) - T(z)] with S, T the sums at z.
    z = -x - m - 1.0
    neg = z + 1.0 >= _X0
    if np.any(neg):
        zn = np.where(neg, z, _X0)
        mirrored = -((m + 1.0) * psi_diff(zn + 1.0, m) - ramp_sum(zn, m))
        out = np.where(neg, mirrored, out)
    return np.asarray(np.where(m == 0.0, 0.0, out), dtype=np.float64)


def lgamma_ratio_rest(x: FloatArray, m: FloatArray) -> FloatArray:
    """log Gamma(x + m) - log Gamma(x) - m log x, for x >= 1, m >= 0."""
    big = x >= _X0
    xb = np.where(big, x, _X0)
    yb = xb + m

    def corr(z: FloatArray) -> FloatArray:
        z2 = z * z
        return np.asarray(
            (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * z2)) / z2) / z2) / z, dtype=np.float64
        )

    stirling = (yb - 0.5) * np.log1p(m / xb) - m + corr(yb) - corr(xb)
    xs = np.where(big, 1.0, x)
    direct = special().gammaln(xs + m) - special().gammaln(xs) - m * np.log(xs)
    return np.asarray(np.where(big, stirling, direct), dtype=np.float64)
