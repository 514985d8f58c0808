"""Grouping integer keys fast: a dense count when the key range is small, else a sort."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["group_keys"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def group_keys(
    key: IntArray, weights: npt.NDArray[np.int64] | FloatArray, key_range: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Distinct keys (ascending), the group of every row, and the weight sum per group.

    ``key_range`` bounds the keys (0 <= key < key_range); every weight must be
    positive. When the range is not much larger than the number of rows,
    counting into a dense array avoids sorting.
    """
    n = len(key)
    if key_range <= max(4 * n, 1 << 12):
        sums = np.bincount(key, weights=weights, minlength=key_range)
        present = sums > 0
        distinct = np.flatnonzero(present).astype(np.int64)
        ids = np.cumsum(present) - 1
        return distinct, ids[key].astype(np.int64), np.asarray(sums[distinct], dtype=np.float64)
    distinct, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.int64)
    sums = np.bincount(inverse, weights=weights, minlength=len(distinct))
    return distinct.astype(np.int64), inverse, np.asarray(sums, dtype=np.float64)
