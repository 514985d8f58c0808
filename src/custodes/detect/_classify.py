"""Judge values one by one: the entity each is, without a column name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from custodes.detect._recognizers import RECOGNIZERS, local_engine, validated
from custodes.engines._detect import DetectOps

__all__ = ["as_strings", "classify"]


def as_strings(values: Any) -> pa.Array:
    """``values`` as one Arrow array: an Arrow array, a list of strings, or any array that
    speaks the Arrow interface (a Polars or pandas Series)."""
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def classify(values: Any, *, engine: DetectOps | None = None) -> pa.Array:
    """The entity each value is (the most confident recognizer that accepts it), or null.

    ``values`` is anything :func:`as_strings` takes; the result is an Arrow array
    of strings, one per value. Judges values one by one, without a column name:
    recognizers that need one (``needs_hint``) are left out.
    """
    array = as_strings(values)
    n = len(array)
    chosen = [r for r in RECOGNIZERS if not r.needs_hint]
    found = (engine or local_engine()).shape_matches(array, [r.shape for r in chosen])
    best = np.full(n, -1.0)
    label = np.full(n, None, dtype=object)
    for r, hits in zip(chosen, found, strict=True):
        mask = np.zeros(n, dtype=bool)
        mask[validated(r, hits).rows] = True
        better = mask & (r.confidence > best)
        best[better] = r.confidence
        label[better] = r.entity
    return pa.array(label.tolist(), type=pa.large_string())
