"""Grouping integer keys fast (a dense count when the key range is small, else a sort),
and finding the runs of equal values in sorted keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "cut_sorted",
    "group_keys",
    "in_runs",
    "in_runs_of_two",
    "renumber",
    "runs",
    "sorting_order",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_Int = TypeVar("_Int", np.int32, np.int64)

DENSE_RANGE = 1 << 26
"""Keys below this are counted into a dense array when the range is at most 16 times
their number (about a gigabyte at the most, for a moment)."""


def group_keys(
    key: IntArray, weights: npt.NDArray[np.int64] | FloatArray, key_range: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Distinct keys (ascending), the group of every row, and the weight sum per group.

    ``key_range`` bounds the keys (0 <= key < key_range); every weight must be
    positive. When the range is not much larger than the number of rows (up to
    16 times, below :data:`DENSE_RANGE`), counting into a dense array avoids
    sorting, which costs seconds on millions of keys; a range far wider than
    the keys would cost more to allocate than the sort.
    """
    n = len(key)
    if key_range <= max(4 * n, 1 << 12) or key_range <= min(16 * n, DENSE_RANGE):
        sums = np.bincount(key, weights=weights, minlength=key_range)
        present = sums > 0
        distinct = np.flatnonzero(present).astype(np.int64)
        ids = np.cumsum(present) - 1
        return distinct, ids[key].astype(np.int64), np.asarray(sums[distinct], dtype=np.float64)
    distinct, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.int64)
    sums = np.bincount(inverse, weights=weights, minlength=len(distinct))
    return distinct.astype(np.int64), inverse, np.asarray(sums, dtype=np.float64)


def cut_sorted(
    key: IntArray, weights: npt.NDArray[np.int64]
) -> tuple[IntArray, IntArray, IntArray]:
    """Groups of keys in ascending order: (group of each row, first row of each group, sums).

    Equal keys sit side by side, so a group starts wherever the key changes:
    no sort and no table, a few passes over the keys.
    """
    new = np.empty(len(key), dtype=bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    first = np.flatnonzero(new)
    group = np.cumsum(new, dtype=np.int64) - 1
    sums = np.add.reduceat(weights, first) if len(first) else weights[:0]
    return group, first.astype(np.int64), np.asarray(sums, dtype=np.int64)


def runs(key: IntArray, weights: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct values of sorted keys, and the sum of each one's rows' ``weights``.

    When nearly every key is distinct, the sums are found from the few repeats (a
    key equal to the one before it): listing the positions of a hundred million
    distinct keys, or gathering through them, takes several times as long as
    picking the distinct keys out by a mask.
    """
    new = np.empty(len(key), dtype=bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    if new.all():
        return key, weights
    distinct = key[new]
    if 2 * len(distinct) < len(key):  # (many repeats: cut at the first of each run)
        return distinct, np.add.reduceat(weights, np.flatnonzero(new))
    sums = weights[new]
    repeats = np.flatnonzero(~new)
    # The i-th repeat (from 0) at position p belongs to the (p - i - 1)-th distinct key.
    np.add.at(sums, repeats - np.arange(1, len(repeats) + 1), weights[repeats])
    return distinct, sums


def sorting_order(
    key: IntArray, bits: int, digits: Callable[[], IntArray] | None = None
) -> IntArray | None:
    """The stable order that sorts ``key``, or None when it is sorted already.

    Keys out of order are sorted runs. A stable sort (timsort) merges r runs
    in about log2(r) / 3 times the work of one counting-sort pass (measured),
    so few runs are merged and many are sorted by their digits, 16 bits a
    counting-sort pass: ``digits()`` gives keys of at most ``bits`` bits that
    sort like ``key`` (``key`` itself by default).
    """
    descents = int(np.count_nonzero(key[1:] < key[:-1]))
    if descents == 0:
        return None
    passes = max(1, -(-bits // 16))
    if descents < 8**passes:
        return np.argsort(key, kind="stable")
    tight = key if digits is None else digits()
    order: IntArray | None = None
    for shift in range(0, 16 * passes, 16):
        digit = ((tight if order is None else tight[order]) >> shift).astype(np.uint16)
        step = np.argsort(digit, kind="stable")  # a counting sort for 16-bit keys
        order = step if order is None else order[step]
    assert order is not None
    return order


def renumber(values: npt.NDArray[_Int]) -> tuple[npt.NDArray[_Int], IntArray]:
    """``values`` renumbered 0..m-1 in their order, and the m distinct values (ascending).

    Small non-negative values (codes, class numbers, folded pairs of them) are
    renumbered through a lookup table, others by a sort: a value range much
    wider than the values is never allocated. The numbers are of the values'
    type (32 or 64 bits: m never exceeds the values' count); values already
    0..m-1 come back as they are.
    """
    if len(values) == 0:
        return values, values.astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 8 * len(values) + 1024:
        present = np.bincount(values, minlength=high + 1) > 0
        distinct = np.flatnonzero(present)
        if len(distinct) == high + 1:
            return values, distinct
        return (np.cumsum(present) - 1)[values].astype(values.dtype), distinct
    distinct, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(-1).astype(values.dtype), distinct.astype(np.int64)


def in_runs_of_two(run: IntArray) -> npt.NDArray[np.bool_] | None:
    """Which positions are in runs of two or more equal values (None: every position)."""
    if len(run) == 0:
        return None
    busy = in_runs(run[1:] == run[:-1], 2)
    return None if busy.all() else busy


def in_runs(same: npt.NDArray[np.bool_], length: int) -> npt.NDArray[np.bool_]:
    """Which positions are in runs of ``length`` or more equal values, where ``same[i]``
    says whether positions i and i + 1 hold equal values: those among ``length`` in a
    row that all agree (boolean shifts, no run lengths)."""
    window = same
    for step in range(1, length - 1):
        window = window[:-1] & same[step:]
    out = np.zeros(len(same) + 1, dtype=bool)
    for step in range(length):
        out[step : step + len(window)] |= window
    return out
