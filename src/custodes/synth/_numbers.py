"""Unique resident identity numbers (GB 11643-1999) and mobile numbers, vectorised."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from custodes.errors import SettingError

__all__ = ["SEQUENCE_SLOTS", "mobile_numbers", "resident_ids"]

_IntArray = npt.NDArray[np.int64]

SEQUENCE_SLOTS = 499
"""Sequence numbers per region, birth date and sex: 001-997 odd (men), 002-998 even."""

# ISO 7064 MOD 11-2 weights of the 17 digits: 2**(17 - i) mod 11.
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_CHECK = pl.Series(["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"], dtype=pl.String)
"""The check character for each value of (weighted digit sum) mod 11."""


def _check_sum(body: _IntArray) -> _IntArray:
    """The weighted digit sum mod 11 of each 17-digit ``body``, four digits at a time."""
    total = np.zeros(len(body), dtype=np.int64)
    chunk = np.arange(10_000, dtype=np.int64)
    for low in range(0, 17, 4):  # digits low .. low+3 counted from the right
        table = np.zeros(10_000, dtype=np.int64)
        for r in range(min(4, 17 - low)):
            table += (chunk // 10**r) % 10 * _WEIGHTS[16 - low - r]
        total += table[(body // 10**low) % 10_000]
    return total % 11


def _group_ranks(keys: _IntArray) -> tuple[_IntArray, _IntArray]:
    """Each row's rank among the rows with its key, and the index of its group's first row."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.ones(len(keys), dtype=np.bool_)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    positions = np.arange(len(keys), dtype=np.int64)
    first = np.maximum.accumulate(np.where(starts, positions, 0))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = positions - first
    leader = np.empty(len(keys), dtype=np.int64)
    leader[order] = order[first]
    return rank, leader


def resident_ids(
    rng: np.random.Generator,
    region: _IntArray,
    birth_ymd: _IntArray,
    male: npt.NDArray[np.bool_],
) -> pl.Series:
    """18-character resident ID numbers, unique per row.

    ``region`` holds 6-digit region codes, ``birth_ymd`` dates as YYYYMMDD. The
    3-digit sequence number is odd for men and even for women; people sharing a
    region, birth date and sex get consecutive sequence numbers from a random
    start, so numbers are unique while the group has at most SEQUENCE_SLOTS rows.
    """
    rows = len(region)
    key = (region * 100_000_000 + birth_ymd) * 2 + male
    rank, leader = _group_ranks(key)
    if rows and int(rank.max()) >= SEQUENCE_SLOTS:
        raise SettingError(
            f"rows={rows} is too many for unique resident IDs: more than {SEQUENCE_SLOTS} "
            "people would share a county, birth date and sex. Ask for fewer rows."
        )
    start = rng.integers(0, SEQUENCE_SLOTS, size=rows, dtype=np.int64)
    slot = (start[leader] + rank) % SEQUENCE_SLOTS
    sequence = np.where(male, 2 * slot + 1, 2 * slot + 2)
    body = (region * 100_000_000 + birth_ymd) * 1000 + sequence
    return (
        pl.DataFrame(
            {"body": pl.Series(body).cast(pl.String), "check": _CHECK.gather(_check_sum(body))}
        )
        .select(pl.concat_str("body", "check"))
        .to_series()
    )


def _scramble(x: _IntArray, a: _IntArray, b: _IntArray) -> _IntArray:
    """A bijection of 0..10**8-1 (per-row parameters): affine, swap halves, affine."""
    modulus = 100_000_000
    x = (a[:, 0] * x + b[:, 0]) % modulus
    x = (x % 10_000) * 10_000 + x // 10_000
    return (a[:, 1] * x + b[:, 1]) % modulus


def mobile_numbers(
    rng: np.random.Generator, rows: int, prefixes: tuple[tuple[int, float], ...]
) -> pl.Series:
    """``rows`` distinct 11-digit mainland mobile numbers on the weighted 3-digit prefixes.

    Within a prefix the k-th number is a seeded bijection of k, so numbers never
    repeat while a prefix has at most 10**8 of them.
    """
    codes = np.array([p for p, _ in prefixes], dtype=np.int64)
    weight = np.array([w for _, w in prefixes], dtype=np.float64)
    prefix = rng.choice(len(codes), size=rows, p=weight / weight.sum())
    rank, _ = _group_ranks(prefix.astype(np.int64))
    # Multipliers ending in 1 are coprime to 10**8, which makes the maps bijections.
    a = rng.integers(0, 10_000_000, size=(len(codes), 2), dtype=np.int64) * 10 + 1
    b = rng.integers(0, 100_000_000, size=(len(codes), 2), dtype=np.int64)
    suffix = _scramble(rank, a[prefix], b[prefix])
    return pl.Series(codes[prefix] * 100_000_000 + suffix).cast(pl.String)
