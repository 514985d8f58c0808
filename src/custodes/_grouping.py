"""Grouping integer keys fast: a dense count when the key range is small, else a sort."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["group_keys", "renumber"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_Int = TypeVar("_Int", np.int32, np.int64)

DENSE_RANGE = 1 << 26
"""Keys below this are counted into a dense array when there are many of them (about a
gigabyte at the most, for a moment), whatever the ratio of range to keys."""


def group_keys(
    key: IntArray, weights: npt.NDArray[np.int64] | FloatArray, key_range: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Distinct keys (ascending), the group of every row, and the weight sum per group.

    ``key_range`` bounds the keys (0 <= key < key_range); every weight must be
    positive. When the range is not much larger than the number of rows (or
    small enough to count into: :data:`DENSE_RANGE`), counting into a dense
    array avoids sorting, which costs seconds on millions of keys.
    """
    n = len(key)
    if key_range <= max(4 * n, 1 << 12) or (n > 1 << 16 and key_range <= DENSE_RANGE):
        sums = np.bincount(key, weights=weights, minlength=key_range)
        present = sums > 0
        distinct = np.flatnonzero(present).astype(np.int64)
        ids = np.cumsum(present) - 1
        return distinct, ids[key].astype(np.int64), np.asarray(sums[distinct], dtype=np.float64)
    distinct, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.int64)
    sums = np.bincount(inverse, weights=weights, minlength=len(distinct))
    return distinct.astype(np.int64), inverse, np.asarray(sums, dtype=np.float64)


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
