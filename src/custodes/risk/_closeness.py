"""t-closeness: the earth mover's distance between each class and the table.

Three ground distances, as defined by Li, Li and Venkatasubramanian (2007) and
offered by ARX: *equal* (every two values are 1 apart: half the L1 distance),
*ordered* (values in natural order, i and j are |i - j| / (m - 1) apart) and
*hierarchical* (the distance of two values is the height of their lowest
common ancestor in a generalization hierarchy over the hierarchy's height).
The t a table reaches is the largest distance of any class.

When classes x m is small, all three are computed on the dense counts with a
few matrix operations (the hierarchical one as one product per level). Else
they are computed from the sparse (class, value, count) triples: the work
grows with the number of triples (times log m for the ordered distance, times
the hierarchy's height for the hierarchical one), never with classes x m.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes._grouping import group_keys
from custodes.hierarchy import Hierarchy
from custodes.summary import SensitiveHistogram

__all__ = [
    "ClassDistances",
    "TCloseness",
    "class_distances",
    "smallest_close_class",
    "t_closeness",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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


def _segment_starts(cls: IntArray) -> npt.NDArray[np.bool_]:
    first = np.empty(len(cls), dtype=bool)
    first[:1] = True
    np.not_equal(cls[1:], cls[:-1], out=first[1:])
    return first


def _ordered(
    cls: IntArray,
    value: IntArray,
    counts: IntArray,
    totals: FloatArray,
    q: FloatArray,
    classes: int,
) -> FloatArray:
    """Ordered-distance EMD of every class: (1/(m-1)) * sum_i |P_i - Q_i| over cumulatives.

    A class's cumulative P is a step function that changes only at its present
    values; on each step the sum of |c - Q_i| is read from prefix sums of Q.
    """
    m = len(q)
    big_q = np.cumsum(q)[: m - 1]  # Q_0 .. Q_{m-2}; the last term is always 0
    prefix = np.concatenate(([0.0], np.cumsum(big_q)))  # prefix[i] = Q_0 + ... + Q_{i-1}
    first = _segment_starts(cls)
    last = np.empty(len(cls), dtype=bool)
    last[:-1] = first[1:]
    last[-1:] = True
    # Cumulative p within each class, from exact integer counts.
    running = np.cumsum(counts)
    start = np.maximum.accumulate(np.where(first, np.arange(len(cls)), 0))
    c = (running - (running[start] - counts[start])) / totals[cls]
    # Step t covers i in [value_t, next value - 1], or up to m - 2 for the last step.
    a = value
    nxt = np.empty(len(cls), dtype=np.int64)
    nxt[:-1] = value[1:]
    b_end = np.minimum(np.where(last, m - 1, nxt), m - 1)  # exclusive end
    s = np.clip(np.searchsorted(big_q, c, side="left"), a, np.maximum(a, b_end))
    below = c * (s - a) - (prefix[s] - prefix[a])
    above = (prefix[b_end] - prefix[s]) - c * (b_end - s)
    steps = np.where(b_end > a, below + above, 0.0)
    total = np.bincount(cls, weights=steps, minlength=classes)
    # Before a class's first value its cumulative is 0: the sum is Q_0 + ... + Q_{v1-1}.
    total += np.bincount(cls[first], weights=prefix[value[first]], minlength=classes)
    return np.asarray(total / (m - 1), dtype=np.float64)


def _levels(hist: SensitiveHistogram, hierarchy: Hierarchy) -> list[IntArray]:
    """Node id of every value at each level 0..H (level 0: the values themselves)."""
    leaves = tuple(str(v) if v is not None else "" for v in hist.values.to_pylist())
    return _levels_of(leaves, hierarchy, hist.name)


@functools.lru_cache(maxsize=64)
def _levels_of(leaves: tuple[str, ...], hierarchy: Hierarchy, name: str) -> list[IntArray]:
    paths = hierarchy.paths_for(leaves, column=name)
    levels = [np.arange(len(leaves), dtype=np.int64)]
    for level in range(1, hierarchy.height + 1):
        labels = np.array([p[level] for p in paths], dtype=object)
        _, ids = np.unique(labels, return_inverse=True)
        levels.append(ids.reshape(-1).astype(np.int64))
    return levels


def _hierarchical(
    cls: IntArray,
    value: IntArray,
    p: FloatArray,
    q: FloatArray,
    levels: list[IntArray],
    classes: int,
) -> FloatArray:
    """Hierarchical EMD of every class, visiting only ancestors of present values.

    For a node N at height h the cost is h/H * min(pos, neg), where pos and neg
    add up the positive and negative extras (P - Q) of N's children. Children
    with no present value have extra -Q(child); their sum is Q(N) minus the Q
    of the present children, so absent nodes never need to be visited.
    """
    height = len(levels) - 1
    cost = np.zeros(classes)
    child_cls, child_node, child_p = cls, value, p
    child_q_of = q  # Q of each node at the child level
    for h in range(1, height + 1):
        nodes = int(levels[h].max()) + 1
        parent_of = np.zeros(int(levels[h - 1].max()) + 1, dtype=np.int64)
        parent_of[levels[h - 1]] = levels[h]
        node_q = np.asarray(np.bincount(levels[h], weights=q, minlength=nodes), dtype=np.float64)
        extra = child_p - child_q_of[child_node]
        key = child_cls * nodes + parent_of[child_node]
        unique_keys, inverse, _ = group_keys(key, child_p, classes * nodes)
        pos = np.bincount(inverse, weights=np.clip(extra, 0.0, None))
        neg_present = np.bincount(inverse, weights=np.clip(-extra, 0.0, None))
        q_present = np.bincount(inverse, weights=child_q_of[child_node])
        parent_p = np.asarray(np.bincount(inverse, weights=child_p), dtype=np.float64)
        parent_cls = unique_keys // nodes
        parent_node = unique_keys % nodes
        neg = neg_present + np.clip(node_q[parent_node] - q_present, 0.0, None)
        cost += np.bincount(
            parent_cls, weights=h / height * np.minimum(pos, neg), minlength=classes
        )
        child_cls, child_node, child_p, child_q_of = parent_cls, parent_node, parent_p, node_q
    return cost


@dataclass(frozen=True, eq=False)
class ClassDistances:
    """Each class's EMD to the whole table, per ground distance."""

    equal: FloatArray
    ordered: FloatArray
    hierarchical: FloatArray | None


def class_distances(
    hist: SensitiveHistogram,
    classes: int,
    hierarchy: Hierarchy | None = None,
    *,
    only_hierarchical: bool = False,
) -> ClassDistances:
    """Equal, ordered and (with a hierarchy) hierarchical EMD of every class.

    With ``only_hierarchical`` the other two are left as zeros (a search that
    checks one model need not pay for the others).
    """
    m = hist.domain_size
    if m <= 1:
        zeros = np.zeros(classes)
        return ClassDistances(zeros, zeros, zeros if hierarchy is not None else None)
    matrix = hist.matrix(classes)
    if matrix is not None:
        return _dense_distances(hist, matrix, hierarchy, only_hierarchical)
    totals = hist.class_totals(classes)
    q = hist.overall()
    cls, value = hist.class_index, hist.value_code
    p = hist.count / totals[cls]
    # Equal distance: absent values contribute q_v each.
    qv = q[value]
    present = np.bincount(cls, weights=np.abs(p - qv) - qv, minlength=classes)
    hier = None
    if hierarchy is not None:
        hier = _hierarchical(cls, value, p, q, _levels(hist, hierarchy), classes)
    if only_hierarchical:
        zeros = np.zeros(classes)
        return ClassDistances(zeros, zeros, hier)
    return ClassDistances(
        equal=np.asarray(0.5 * (present + 1.0), dtype=np.float64),
        ordered=_ordered(cls, value, hist.count, totals, q, classes),
        hierarchical=hier,
    )


@functools.lru_cache(maxsize=64)
def _memberships(leaves: tuple[str, ...], hierarchy: Hierarchy, name: str) -> list[FloatArray]:
    """For each level h >= 1, the 0/1 matrix mapping level h-1 nodes to their parents."""
    levels = _levels_of(leaves, hierarchy, name)
    out = []
    for h in range(1, len(levels)):
        member = np.zeros((int(levels[h - 1].max()) + 1, int(levels[h].max()) + 1))
        member[levels[h - 1], levels[h]] = 1.0
        out.append(member)
    return out


def _dense_distances(
    hist: SensitiveHistogram,
    matrix: FloatArray,
    hierarchy: Hierarchy | None,
    only_hierarchical: bool,
) -> ClassDistances:
    """:func:`class_distances` on dense counts (one row per class)."""
    classes, m = matrix.shape
    q = hist.overall()
    extra = matrix / np.maximum(matrix.sum(axis=1), 1.0)[:, None] - q  # P - Q
    hier = None
    if hierarchy is not None:
        leaves = tuple(str(v) if v is not None else "" for v in hist.values.to_pylist())
        memberships = _memberships(leaves, hierarchy, hist.name)
        height = len(memberships)
        hier = np.zeros(classes)
        child = extra
        for h, member in enumerate(memberships, start=1):
            # Per parent: positive and negative extras of its children.
            pos = np.clip(child, 0.0, None) @ member
            net = child @ member
            hier += h / height * np.minimum(pos, pos - net).sum(axis=1)
            child = net
    if only_hierarchical:
        zeros = np.zeros(classes)
        return ClassDistances(zeros, zeros, hier)
    cumulative = np.cumsum(extra, axis=1)[:, : m - 1]
    return ClassDistances(
        equal=np.asarray(0.5 * np.abs(extra).sum(axis=1), dtype=np.float64),
        ordered=np.asarray(np.abs(cumulative).sum(axis=1) / (m - 1), dtype=np.float64),
        hierarchical=hier,
    )


def _min_plus(a: FloatArray, b: FloatArray) -> FloatArray:
    """``out[n] = min over i + j = n of a[i] + b[j]``."""
    out = np.full(len(a), np.inf)
    for i in range(len(a)):
        np.minimum(out[i:], a[i] + b[: len(a) - i], out=out[i:])
    return out


def _least_tree_distance(q: FloatArray, levels: list[IntArray], size: int) -> float:
    """The smallest tree EMD to ``q`` that a class of ``size`` records can have.

    The hierarchical EMD is the tree distance sum over non-root nodes v of
    |P(v) - Q(v)| / (2H); with counts n(v) = size * P(v) it is minimised by
    dynamic programming over the tree, children combined by min-plus
    convolution (work: nodes x size^2).
    """
    height = len(levels) - 1
    counts = np.arange(size + 1) / size
    weight = 1.0 / (2 * height)
    cost = [weight * np.abs(counts - qv) for qv in q]  # leaves
    for h in range(1, height + 1):
        nodes = int(levels[h].max()) + 1
        parent = np.zeros(int(levels[h - 1].max()) + 1, dtype=np.int64)
        parent[levels[h - 1]] = levels[h]
        node_q = np.bincount(levels[h], weights=q, minlength=nodes)
        merged: list[FloatArray | None] = [None] * nodes
        for child, child_cost in enumerate(cost):
            current = merged[parent[child]]
            merged[parent[child]] = (
                child_cost if current is None else _min_plus(current, child_cost)
            )
        edge = weight if h < height else 0.0
        cost = [
            np.asarray(m, dtype=np.float64) + edge * np.abs(counts - node_q[n])
            for n, m in enumerate(merged)
            if m is not None
        ]
    return float(cost[0][size])


def _least_ordered_distance(q: FloatArray, size: int) -> float:
    """The smallest ordered EMD to ``q`` that a class of ``size`` records can have."""
    m = len(q)
    cumulative_q = np.cumsum(q)[: m - 1]
    counts = np.arange(size + 1) / size
    best = np.zeros(size + 1)
    for qc in cumulative_q:  # cumulative counts never decrease
        best = np.minimum.accumulate(best) + np.abs(counts - qc) / (m - 1)
    return float(best.min())


def smallest_close_class(
    hist: SensitiveHistogram,
    t: float,
    distance: str,
    hierarchy: Hierarchy | None = None,
    *,
    cap: int = 64,
) -> int:
    """The fewest records a class can have and be within ``t`` of the table.

    Every class smaller than this violates t-closeness whatever its values,
    so the number is a minimal class size, like k, which the search uses to
    rule out transformations without computing distances. Sizes are tried
    from 1 to ``cap``; when none is close enough, ``cap + 1`` is returned.
    """
    q = hist.overall() if hist.domain_size else np.zeros(0)
    m = len(q)
    if m <= 1:
        return 1
    if distance == "hierarchical" and hierarchy is not None:
        levels = _levels(hist, hierarchy)
    else:
        levels = [np.arange(m, dtype=np.int64), np.zeros(m, dtype=np.int64)]
    for size in range(1, cap + 1):
        if distance == "ordered":
            least = _least_ordered_distance(q, size)
        else:
            least = _least_tree_distance(q, levels, size)
        if least <= t + 1e-9:
            return size
    return cap + 1


def t_closeness(
    hist: SensitiveHistogram, classes: int, hierarchy: Hierarchy | None = None
) -> TCloseness:
    """Largest equal, ordered and (with a hierarchy) hierarchical EMD of any class."""
    if classes == 0:
        return TCloseness(0.0, 0.0, 0.0 if hierarchy is not None else None)
    d = class_distances(hist, classes, hierarchy)
    return TCloseness(
        equal_distance=float(d.equal.max()),
        ordered_distance=float(d.ordered.max()),
        hierarchical=None if d.hierarchical is None else float(d.hierarchical.max()),
    )
