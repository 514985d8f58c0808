"""Local recoding: Mondrian multidimensional partitioning (LeFevre et al. 2006).

The records (here: the summary's classes with their counts) are split
recursively along the quasi-identifier whose values in the part are the most
spread out, as long as both halves still meet the privacy models. A cut falls
on a node boundary of the column's hierarchy, the highest level first and the
boundary nearest the median first, so parts follow the hierarchy. Each
final part is released with, per column, the lowest hierarchy node covering its
values, so different records of the same value may be generalized differently
(local recoding) and less information is lost than with one level per column.

Values are ordered by their generalizations from the top down, so the values
under one node are contiguous. Supported models: the class-based ones
(k-anonymity, every l-diversity, t-closeness), each checked on a part as one
class against the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes._grouping import group_keys
from custodes.anonymize._generalize import Scheme
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import (
    DistinctLDiversity,
    EntropyLDiversity,
    KAnonymity,
    PrivacyModel,
    RecursiveCLDiversity,
    TCloseness,
)
from custodes.errors import SettingError
from custodes.hierarchy import Hierarchy
from custodes.summary import SensitiveHistogram, Summary

__all__ = ["LocalRecoding", "mondrian"]

_CLASS_MODELS = (
    KAnonymity,
    DistinctLDiversity,
    EntropyLDiversity,
    RecursiveCLDiversity,
    TCloseness,
)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class LocalRecoding:
    """The parts Mondrian found and the label each column gets in each part."""

    part_of_class: IntArray
    """For each class of the summary, its part."""
    sizes: IntArray
    labels: dict[str, list[str]]
    """Per quasi-identifier, the released label of each part."""
    loss: float
    loss_per_column: tuple[float, ...]

    @property
    def parts(self) -> int:
        """Number of parts (the equivalence classes of the release)."""
        return len(self.sizes)


def _ranks(hierarchy: Hierarchy, values: list[str]) -> IntArray:
    """Rank of each code's value: by its generalizations from the top down, then naturally.

    Values under the same node are then contiguous, so a median split tends to
    follow the hierarchy, whatever order its rows were written in.
    """

    def key(row: tuple[str, ...]) -> tuple[tuple[str, ...], float, str]:
        try:
            number = float(row[0])
        except ValueError:
            number = float("inf")
        return (tuple(reversed(row[1:])), number, row[0])

    ordered = sorted(hierarchy.rows, key=key)
    position = {row[0]: i for i, row in enumerate(ordered)}
    return np.array([position[v] for v in values], dtype=np.int64)


def mondrian(
    summary: Summary,
    schemes: Sequence[Scheme],
    hierarchies: dict[str, Hierarchy],
    models: Sequence[PrivacyModel],
    metric: LossMetric | None = None,
) -> LocalRecoding:
    """Partition the summary's classes so every part meets the models."""
    for model in models:
        if not isinstance(model, _CLASS_MODELS):
            raise SettingError(
                f"local recoding supports class-based models (k-anonymity, l-diversity, "
                f"t-closeness), not {model.describe()}; use the global search for it."
            )
    counts = summary.counts
    q = len(schemes)
    values = [["" if v is None else v for v in summary.category_values(j)] for j in range(q)]
    ranks = np.stack(
        [
            _ranks(hierarchies[s.name], values[j])[summary.codes[:, j]]
            for j, s in enumerate(schemes)
        ],
        axis=1,
    )
    spans = np.array([len(hierarchies[s.name].rows) for s in schemes], dtype=np.float64)

    merged_cache: dict[str, SensitiveHistogram] = {}

    def merged(name: str, member: npt.NDArray[np.bool_]) -> SensitiveHistogram:
        """The attribute's histogram with the part as class 0 and the rest as class 1."""
        hist = summary.sensitive[name]
        m = max(hist.domain_size, 1)
        key = np.where(member[hist.class_index], 0, 1) * m + hist.value_code
        unique_keys, _, totals = group_keys(key, hist.count, 2 * m)
        return SensitiveHistogram(
            name=name,
            values=hist.values,
            class_index=(unique_keys // m).astype(np.int64),
            value_code=(unique_keys % m).astype(np.int64),
            count=totals.astype(np.int64),
        )

    def allowed(part: IntArray) -> bool:
        member = np.zeros(summary.classes, dtype=bool)
        member[part] = True
        inside = int(counts[part].sum())
        sizes = np.array([inside, summary.rows - inside], dtype=np.int64)
        merged_cache.clear()
        for model in models:
            name = model.sensitive
            hist = None
            if name is not None:
                if name not in merged_cache:
                    merged_cache[name] = merged(name, member)
                hist = merged_cache[name]
            if model.violations(sizes, hist)[0]:
                return False
        return True

    if not allowed(np.arange(summary.classes)):
        raise SettingError("the whole table does not meet the privacy models; nothing to release.")
    final: list[IntArray] = []
    stack = [np.arange(summary.classes)]
    # Node of every class at every level, per column: cuts follow node boundaries.
    node_of = [
        [scheme.nodes[h][summary.codes[:, j]] for h in range(scheme.height + 1)]
        for j, scheme in enumerate(schemes)
    ]

    def split(part: IntArray, j: int) -> tuple[IntArray, IntArray] | None:
        """The best allowed cut of ``part`` along column j, highest hierarchy level first."""
        ordered = part[np.argsort(ranks[part, j], kind="stable")]
        cum = np.cumsum(counts[ordered])
        half = cum[-1] / 2
        for h in range(schemes[j].height - 1, -1, -1):
            ids = node_of[j][h][ordered]
            cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
            if len(cuts) == 0:
                continue
            for pos in cuts[np.argsort(np.abs(cum[cuts - 1] - half), kind="stable")][:8]:
                left, right = ordered[:pos], ordered[pos:]
                if allowed(left) and allowed(right):
                    return left, right
        return None

    while stack:
        part = stack.pop()
        r = ranks[part]
        width = (r.max(axis=0) - r.min(axis=0)) / spans
        halves = None
        for j in np.argsort(-width, kind="stable"):
            if width[j] == 0:
                break
            halves = split(part, int(j))
            if halves is not None:
                break
        if halves is None:
            final.append(part)
        else:
            stack += list(halves)

    part_of_class = np.zeros(summary.classes, dtype=np.int64)
    for p, part in enumerate(final):
        part_of_class[part] = p
    sizes = np.bincount(part_of_class, weights=counts, minlength=len(final)).astype(np.int64)
    labels: dict[str, list[str]] = {}
    per_column = np.zeros(q)
    rows = float(summary.rows)
    metric = metric or LossMetric()
    for j, scheme in enumerate(schemes):
        hierarchy = hierarchies[scheme.name]
        column_labels = []
        cost = 0.0
        for p, part in enumerate(final):
            codes = np.unique(summary.codes[part, j])
            level = next(
                h for h in range(scheme.height + 1) if len(np.unique(scheme.nodes[h][codes])) == 1
            )
            node = int(scheme.nodes[level][codes[0]])
            path = hierarchy.paths_for([values[j][codes[0]]], column=scheme.name)[0]
            column_labels.append(path[level])
            cost += metric.g_factor * float(sizes[p]) * float(scheme.shares[level][node])
        labels[scheme.name] = column_labels
        per_column[j] = metric.normalize(cost, rows, scheme.leaves)
    return LocalRecoding(
        part_of_class=part_of_class,
        sizes=sizes,
        labels=labels,
        loss=metric.aggregate(per_column),
        loss_per_column=tuple(float(x) for x in per_column),
    )
