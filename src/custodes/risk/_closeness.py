"""t-closeness: the earth mover's distance between each class and the table.

Three ground distances, as defined by Li, Li and Venkatasubramanian (2007) and
offered by ARX: *equal* (every two values are 1 apart: half the L1 distance),
*ordered* (values in natural order, i and j are |i - j| / (m - 1) apart) and
*hierarchical* (the distance of two values is the height of their lowest
common ancestor in a generalization hierarchy over the hierarchy's height).
The t a table reaches is the largest distance of any class.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.hierarchy import Hierarchy
from custodes.summary import SensitiveHistogram

__all__ = ["TCloseness", "t_closeness"]

FloatArray = npt.NDArray[np.float64]
_CHUNK_CELLS = 4_000_000  # dense cells per block: bounds memory on huge summaries


@dataclass(frozen=True)
class TCloseness:
    """The largest EMD of any class, per ground distance."""

    equal_distance: float
    ordered_distance: float
    hierarchical: float | None
    """None when no hierarchy was given for the attribute."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "equal_distance": self.equal_distance,
            "ordered_distance": self.ordered_distance,
            "hierarchical": self.hierarchical,
        }


def _dense_blocks(
    hist: SensitiveHistogram, classes: int, totals: FloatArray
) -> Iterator[FloatArray]:
    """Per-class value distributions as dense blocks of rows, in class order."""
    m = hist.domain_size
    step = max(1, _CHUNK_CELLS // max(m, 1))
    bounds = np.searchsorted(hist.class_index, np.arange(0, classes + step, step))
    for b, lo in enumerate(range(0, classes, step)):
        hi = min(lo + step, classes)
        a, z = bounds[b], bounds[b + 1]
        block = np.zeros((hi - lo, m))
        rows = hist.class_index[a:z] - lo
        block[rows, hist.value_code[a:z]] = hist.count[a:z] / totals[hist.class_index[a:z]]
        yield block


def _hierarchy_steps(hist: SensitiveHistogram, hierarchy: Hierarchy) -> list[npt.NDArray[np.int64]]:
    """For each level, the parent node index of every node of the level below."""
    leaves = [str(v) if v is not None else "" for v in hist.values.to_list()]
    paths = hierarchy.paths_for(leaves, column=hist.name)
    steps: list[npt.NDArray[np.int64]] = []
    child_ids = np.arange(len(leaves))
    for level in range(1, hierarchy.height + 1):
        labels = [p[level] for p in paths]
        _, node_of_leaf = np.unique(np.array(labels, dtype=object), return_inverse=True)
        parent = np.zeros(child_ids.max() + 1, dtype=np.int64)
        parent[child_ids] = node_of_leaf
        steps.append(parent)
        child_ids = node_of_leaf
    return steps


def _hierarchical_emd(diff: FloatArray, steps: list[npt.NDArray[np.int64]]) -> FloatArray:
    height = len(steps)
    extra = diff
    cost = np.zeros(diff.shape[0])
    for level, parent in enumerate(steps, start=1):
        nodes = int(parent.max()) + 1
        member = np.zeros((len(parent), nodes))
        member[np.arange(len(parent)), parent] = 1.0
        pos = np.clip(extra, 0.0, None) @ member
        neg = np.clip(-extra, 0.0, None) @ member
        cost += level / height * np.minimum(pos, neg).sum(axis=1)
        extra = pos - neg
    return cost


def t_closeness(
    hist: SensitiveHistogram, classes: int, hierarchy: Hierarchy | None = None
) -> TCloseness:
    """Largest equal, ordered and (with a hierarchy) hierarchical EMD of any class."""
    m = hist.domain_size
    if classes == 0 or m <= 1:
        return TCloseness(0.0, 0.0, 0.0 if hierarchy is not None else None)
    totals = np.asarray(
        np.bincount(hist.class_index, weights=hist.count, minlength=classes), dtype=np.float64
    )
    q = hist.overall()
    steps = _hierarchy_steps(hist, hierarchy) if hierarchy is not None else None

    # Equal distance from the sparse triples: absent values contribute q_v each.
    p = hist.count / totals[hist.class_index]
    qv = q[hist.value_code]
    present = np.bincount(hist.class_index, weights=np.abs(p - qv) - qv, minlength=classes)
    equal = 0.5 * (present + 1.0)

    ordered = 0.0
    hier = 0.0
    for block in _dense_blocks(hist, classes, totals):
        diff = block - q
        ordered = max(ordered, float(np.abs(np.cumsum(diff, axis=1)).sum(axis=1).max()))
        if steps is not None:
            hier = max(hier, float(_hierarchical_emd(diff, steps).max()))
    return TCloseness(
        equal_distance=float(equal.max()),
        ordered_distance=ordered / (m - 1),
        hierarchical=hier if steps is not None else None,
    )
