"""Full-domain generalization on the summary.

A *transformation* (a node of the lattice) gives each quasi-identifier a
hierarchy level. Applying it to the summary maps every class's codes to the
codes of their generalized values and regroups the classes: the result is the
summary the generalized table would have, computed without touching the data.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from custodes._grouping import cut_sorted, group_keys, sorting_order
from custodes.errors import InvalidInputError
from custodes.hierarchy import Hierarchy
from custodes.summary import SensitiveHistogram, Summary, fits_dense

__all__ = ["Generalized", "Scheme", "apply", "node_labels", "released_summary", "schemes_for"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Scheme:
    """How one quasi-identifier generalizes: node ids and domain shares per level."""

    name: str
    nodes: tuple[IntArray, ...]
    """``nodes[h][code]``: the node at level ``h`` of the value with that code."""
    node_counts: tuple[int, ...]
    shares: tuple[FloatArray, ...]
    """``shares[h][node]``: the node's share of the hierarchy's values (leaves)."""
    leaves: int
    """Number of values in the hierarchy (ARX's domain size D)."""
    covers: tuple[IntArray, ...]
    """``covers[h][node]``: how many of the hierarchy's values the node covers (its share
    times ``leaves``, exactly: sums of it over classes add up the same in any order)."""

    @property
    def height(self) -> int:
        """The top level (levels run 0..height)."""
        return len(self.nodes) - 1

    @functools.cache  # noqa: B019 (schemes live as long as a search)
    def up(self, low: int, high: int) -> IntArray:
        """For each node at level ``low``, its ancestor at level ``high``."""
        out = np.zeros(self.node_counts[low], dtype=np.int64)
        out[self.nodes[low]] = self.nodes[high]
        return out


def _scheme(name: str, values: Sequence[str | None], hierarchy: Hierarchy) -> Scheme:
    leaves = [("" if v is None else v) for v in values]
    paths = hierarchy.paths_for(leaves, column=name)
    total_leaves = len(hierarchy.rows)
    # Node ids at levels 1 and up follow the tree: values ordered by their path from the
    # top (each group where its first value in code order is), so a node's ancestor never
    # has a smaller id than the ancestor of a node with a smaller id, and moving a column
    # up between these levels keeps classes sorted by their nodes nearly sorted (see
    # _regroup and custodes.anonymize._rollup). Level 0 keeps the codes' order: a summary
    # sorted by its codes then has its classes sorted at the bottom without a sort.
    height = hierarchy.height
    labels = list(zip(*paths, strict=True)) or [()] * (height + 1)  # per level, each label
    keys = []  # per level from 1 up, the first code of each code's group
    for level in range(1, height + 1):
        column = labels[level]  # each label's first code (built from the end: it wins)
        first = dict(zip(reversed(column), range(len(column) - 1, -1, -1), strict=True))
        keys.append(np.fromiter(map(first.__getitem__, column), np.int64, len(column)))
    # The codes ordered by their groups' first codes, the top's first (a stable sort).
    order = np.lexsort(keys) if keys else np.arange(len(paths))
    rows = list(zip(*hierarchy.rows, strict=True))
    nodes: list[IntArray] = []
    counts: list[int] = []
    shares: list[FloatArray] = []
    covers: list[IntArray] = []
    for level in range(height + 1):
        # Domain share: how many of the hierarchy's values the node covers.
        covered = Counter(rows[level])
        visited = labels[level] if level == 0 else [labels[level][c] for c in order.tolist()]
        ids = {label: i for i, label in enumerate(dict.fromkeys(visited))}  # as first met
        node_of_code = np.zeros(len(paths), dtype=np.int64)
        found = np.fromiter(map(ids.__getitem__, visited), np.int64, len(visited))
        if level == 0:
            node_of_code[:] = found
        else:
            node_of_code[order] = found
        nodes.append(node_of_code)
        counts.append(len(ids))
        shares.append(np.array([covered[label] / total_leaves for label in ids], dtype=float))
        covers.append(np.array([covered[label] for label in ids], dtype=np.int64))
    return Scheme(name, tuple(nodes), tuple(counts), tuple(shares), total_leaves, tuple(covers))


class Valued(Protocol):
    """A summary, in memory or on disk: its quasi-identifiers and their values."""

    @property
    def quasi_identifiers(self) -> tuple[str, ...]:
        """The columns."""
        ...

    def category_values(self, j: int) -> list[str | None]:
        """The value behind each code of column ``j``."""
        ...


def schemes_for(summary: Valued, hierarchies: dict[str, Hierarchy]) -> tuple[Scheme, ...]:
    """A scheme for every quasi-identifier of ``summary``; each needs a hierarchy."""
    schemes = []
    for j, name in enumerate(summary.quasi_identifiers):
        if name not in hierarchies:
            raise InvalidInputError(
                f"quasi-identifier {name!r} has no generalization hierarchy; give one "
                f"(e.g. --hierarchy {name}=FILE) or build one in the spec."
            )
        schemes.append(_scheme(name, summary.category_values(j), hierarchies[name]))
    return tuple(schemes)


@dataclass(frozen=True, eq=False)
class Generalized:
    """The classes of the table after a transformation.

    The class of each summary class may be given as a function that finds it
    on first use: the search scores transformations whose models need only
    the class sizes, and most never need it.
    """

    levels: tuple[int, ...]
    _class_of: IntArray | Callable[[], IntArray] = field(repr=False)
    sizes: IntArray
    """Size of each generalized class."""
    nodes: IntArray
    """``nodes[c, j]``: node (at the transformation's level) of class ``c``, column ``j``."""

    @property
    def class_of(self) -> IntArray:
        """For each class of the original summary, its class after generalization."""
        found = self._class_of
        if callable(found):
            found = found()
            object.__setattr__(self, "_class_of", found)
        return found

    @property
    def class_of_known(self) -> bool:
        """Whether :attr:`class_of` is at hand (not still to be found)."""
        return not callable(self._class_of)

    @property
    def classes(self) -> int:
        """Number of generalized classes."""
        return len(self.sizes)

    def histogram(self, hist: SensitiveHistogram) -> SensitiveHistogram:
        """A sensitive attribute's histogram over the generalized classes."""
        m = max(hist.domain_size, 1)
        key = self.class_of[hist.class_index] * m + hist.value_code
        if fits_dense(self.classes, m):  # straight into a matrix: no grouping
            flat = np.bincount(key, weights=hist.count, minlength=self.classes * m)
            matrix = np.asarray(flat, dtype=np.float64).reshape(self.classes, m)
            return SensitiveHistogram.from_matrix(hist.name, hist.values, matrix)
        unique_keys, _, counts = group_keys(key, hist.count, self.classes * m)
        return SensitiveHistogram(
            name=hist.name,
            values=hist.values,
            class_index=(unique_keys // m).astype(np.int64),
            value_code=(unique_keys % m).astype(np.int64),
            count=counts.astype(np.int64),
        )


def _regroup(
    source: npt.NDArray[np.int64] | npt.NDArray[np.int32],
    tables: Sequence[IntArray | None],
    radix: Sequence[int],
    weights: IntArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Group rows by mapped codes: (group of each row, codes of each group, sizes).

    Column j of row r maps to ``tables[j][source[r, j]]`` (stays when the
    table is None); rows with the same mapped codes form a group. Groups come
    out in ascending order of their codes (first column first). Rows that are
    already in that order stay nearly in it once mapped from level 1 up,
    because node ids there follow the hierarchy's tree (see :func:`_scheme`):
    the sort that groups them then merges a few runs instead of sorting from
    scratch, or finds them sorted and only cuts.
    """
    rows = len(source)
    total = float(np.prod(radix, dtype=np.float64))
    if total >= 2.0**62:
        mapped = np.stack(
            [source[:, j] if t is None else t[source[:, j]] for j, t in enumerate(tables)], axis=1
        )
        _, first, inverse = np.unique(mapped, axis=0, return_index=True, return_inverse=True)
        group = inverse.reshape(-1).astype(np.int64)
        sizes = np.bincount(group, weights=weights, minlength=len(first)).astype(np.int64)
        return group, mapped[first].astype(np.int64), sizes
    key = np.zeros(rows, dtype=np.int64)
    for j, table in enumerate(tables):
        column = source[:, j]
        key *= radix[j]
        key += column if table is None else table[column]
    if not bool((key[1:] < key[:-1]).any()):  # sorted: cut where the key changes
        group, first, sizes = cut_sorted(key, weights)
    elif total <= max(4 * rows, 1 << 12):  # small range: count into it
        sums = np.bincount(key, weights=weights, minlength=int(total))
        present = sums > 0
        distinct = np.flatnonzero(present)
        group = (np.cumsum(present) - 1)[key]
        nodes = np.empty((len(distinct), len(tables)), dtype=np.int64, order="F")
        rest = distinct.astype(np.int64)
        for j in range(len(tables) - 1, -1, -1):
            rest, nodes[:, j] = np.divmod(rest, radix[j])
        return group.astype(np.int64), nodes, sums[distinct].astype(np.int64)
    else:
        order = sorting_order(key, int(total - 1).bit_length())
        assert order is not None
        sorted_group, first, sizes = cut_sorted(key[order], weights[order])
        group = np.empty(rows, dtype=np.int64)
        group[order] = sorted_group
        first = order[first]
    picked = source[first]  # one row of each group
    nodes = np.empty((len(first), len(tables)), dtype=np.int64, order="F")
    for j, table in enumerate(tables):
        nodes[:, j] = picked[:, j] if table is None else table[picked[:, j]]
    return group, nodes, sizes


def _identity(schemes: Sequence[Scheme]) -> bool:
    """Whether every scheme's level 0 numbers the values as their codes do."""
    return all(
        len(s.nodes[0]) == s.node_counts[0]
        and bool((s.nodes[0] == np.arange(len(s.nodes[0]))).all())
        for s in schemes
    )


def apply(
    summary: Summary,
    schemes: Sequence[Scheme],
    levels: Sequence[int],
    start: Generalized | None = None,
) -> Generalized:
    """Regroup the summary's classes under the transformation ``levels``.

    With ``start`` (a transformation at or below ``levels`` in every column),
    its classes are regrouped instead of the summary's: the work is then
    proportional to its (usually far fewer) classes.
    """
    if start is not None and tuple(start.levels) == tuple(levels):
        return start
    pairs = list(zip(schemes, levels, strict=True))
    radix = [scheme.node_counts[level] for scheme, level in pairs]
    if start is None and not any(levels) and _identity(schemes):
        # Level 0 is each value itself: the summary's classes, as they are.
        nodes = summary.codes.astype(np.int64)
        return Generalized(tuple(levels), np.arange(summary.classes), summary.counts, nodes)
    if start is None:
        tables: list[IntArray | None] = [scheme.nodes[level] for scheme, level in pairs]
        group, nodes, sizes = _regroup(summary.codes, tables, radix, summary.counts)
        class_of = group
    else:
        tables = [
            None if low == level else scheme.up(low, level)
            for (scheme, level), low in zip(pairs, start.levels, strict=True)
        ]
        group, nodes, sizes = _regroup(start.nodes, tables, radix, start.sizes)
        class_of = group[start.class_of]
    return Generalized(tuple(levels), class_of, sizes, nodes)


def value_mappings(
    summary: Summary, hierarchies: dict[str, Hierarchy], levels: Sequence[int]
) -> dict[str, tuple[list[str | None], list[str]]]:
    """For each quasi-identifier, its values and their generalized labels at ``levels``.

    A null value is looked up in the hierarchy as the empty string (give the
    hierarchy a row for it when a column has nulls); it stays a separate value.
    """
    out: dict[str, tuple[list[str | None], list[str]]] = {}
    for j, (name, level) in enumerate(zip(summary.quasi_identifiers, levels, strict=True)):
        values = summary.category_values(j)
        lookup = ["" if v is None else v for v in values]
        paths = hierarchies[name].paths_for(lookup, column=name)
        out[name] = (values, [p[level] for p in paths])
    return out


Mappings = dict[str, tuple[list[str | None], list[str]]]
"""Per quasi-identifier, its values and their labels at a transformation's levels."""


def node_labels(
    summary: Summary,
    hierarchies: dict[str, Hierarchy],
    generalized: Generalized,
    *,
    schemes: Sequence[Scheme] | None = None,
    mappings: Mappings | None = None,
) -> list[list[str]]:
    """Per quasi-identifier, the label of each node id at the transformation's level.

    With the search's ``schemes`` and the ``mappings`` already made (see
    :func:`value_mappings`), no class is looked up again.
    """
    mappings = mappings or value_mappings(summary, hierarchies, generalized.levels)
    out = []
    for j, name in enumerate(summary.quasi_identifiers):
        _, labels = mappings[name]
        if schemes is not None:  # the node of each code, as the search numbered it
            node_of_code = schemes[j].nodes[generalized.levels[j]]
        else:  # any class holding the code tells it
            node_of_code = np.zeros(len(labels), dtype=np.int64)
            node_of_code[summary.codes[:, j]] = generalized.nodes[generalized.class_of, j]
        label_of_node = [""] * (int(generalized.nodes[:, j].max(initial=-1)) + 1)
        for code in range(len(labels) - 1, -1, -1):  # the first code's label wins
            node = int(node_of_code[code])
            if node < len(label_of_node):
                label_of_node[node] = labels[code]
        out.append(label_of_node)
    return out


def suppressed_labels(
    summary: Summary,
    hierarchies: dict[str, Hierarchy],
    generalized: Generalized,
    suppressed: npt.NDArray[np.bool_],
    *,
    labels: list[list[str]] | None = None,
) -> dict[str, list[str]]:
    """The generalized labels (one list per quasi-identifier) of the suppressed classes;
    ``labels`` are the nodes' labels when made already (:func:`node_labels`)."""
    if labels is None:
        labels = node_labels(summary, hierarchies, generalized)
    return {
        name: [labels[j][int(n)] for n in generalized.nodes[suppressed, j]]
        for j, name in enumerate(summary.quasi_identifiers)
    }


def released_summary(
    summary: Summary,
    hierarchies: dict[str, Hierarchy],
    generalized: Generalized,
    suppressed: npt.NDArray[np.bool_],
    *,
    labels: list[list[str]] | None = None,
) -> Summary:
    """The summary of the release (generalized, suppressed classes left out), made from the
    search's classes: what the engine's summary of the released table holds, without
    reading the table again.

    Only for a release whose quasi-identifiers and sensitive attributes nothing but the
    generalization changes (no microaggregation or identifier action on them).
    ``labels`` are the nodes' labels when made already (:func:`node_labels`).
    """
    kept = ~suppressed
    if labels is None:
        labels = node_labels(summary, hierarchies, generalized)
    nodes = generalized.nodes[kept]
    codes = np.empty(nodes.shape, dtype=np.int32)
    categories = []
    for j in range(nodes.shape[1]):
        present, code = np.unique(nodes[:, j], return_inverse=True)
        codes[:, j] = code.reshape(-1)
        categories.append(pa.array([labels[j][int(n)] for n in present], type=pa.string()))
    renumbered = np.cumsum(kept) - 1  # generalized class -> released class
    histograms = {}
    for name, hist in summary.sensitive.items():
        grouped = generalized.histogram(hist)
        keep = kept[grouped.class_index]
        value = grouped.value_code[keep]
        present, value_code = np.unique(value, return_inverse=True)  # values still released
        histograms[name] = SensitiveHistogram(
            name=name,
            values=hist.values.take(pa.array(present)),
            class_index=renumbered[grouped.class_index[keep]],
            value_code=value_code.reshape(-1).astype(np.int64),
            count=grouped.count[keep],
        )
    return Summary(
        quasi_identifiers=summary.quasi_identifiers,
        codes=codes,
        counts=generalized.sizes[kept].astype(np.int64),
        sensitive=histograms,
        categories=tuple(categories),
    )
