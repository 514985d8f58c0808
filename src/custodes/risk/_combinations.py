"""Which combinations of quasi-identifiers single people out.

For every subset of the quasi-identifiers (all of them up to ``max_size``
columns) we compute Motwani and Xu's *distinction* (distinct combinations per
record) and *separation* (the fraction of record pairs the columns tell
apart), as ARX reports them, and the fraction of records unique under the
subset. Subsets are rolled up from a superset already computed (a depth-first
walk of the subset lattice), so each costs work proportional to its parent's
number of classes, not to the rows. Roll-ups group integer codes with numpy:
a dense count when the codes' product is small, a sort otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np
import numpy.typing as npt

from custodes.summary import Summary

__all__ = ["ColumnImpact", "QICombination", "column_impact", "qi_combinations"]


@dataclass(frozen=True)
class QICombination:
    """Identifiability of the table under one subset of quasi-identifiers."""

    columns: tuple[str, ...]
    distinction: float
    separation: float
    uniques: float
    """Fraction of records unique under these columns."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "columns": list(self.columns),
            "distinction": self.distinction,
            "separation": self.separation,
            "uniques": self.uniques,
        }


@dataclass(frozen=True)
class ColumnImpact:
    """What leaving one quasi-identifier out would change."""

    column: str
    uniques_without: float
    """Fraction of records still unique without this column."""
    uniques_removed: float
    """Fraction of records that stop being unique without it."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "column": self.column,
            "uniques_without": self.uniques_without,
            "uniques_removed": self.uniques_removed,
        }


def _measure(counts: npt.NDArray[np.int64], rows: int, names: tuple[str, ...]) -> QICombination:
    f = counts.astype(np.float64)
    pairs = rows * (rows - 1)
    same = float((f * (f - 1)).sum())
    return QICombination(
        columns=names,
        distinction=len(counts) / rows,
        separation=1.0 - same / pairs if pairs else 0.0,
        uniques=float((counts == 1).sum()) / rows,
    )


IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Classes:
    """Classes under some columns: the code of each class per column, and its size."""

    codes: dict[int, IntArray]
    sizes: dict[int, int]
    counts: IntArray

    def roll_up(self, keep: tuple[int, ...]) -> _Classes:
        """The classes under ``keep`` (a subset of the columns), sizes summed."""
        n = len(self.counts)
        cells = float(np.prod([max(self.sizes[j], 1) for j in keep], dtype=np.float64))
        if cells >= 2.0**62:  # too many combinations for one integer key
            matrix = np.stack([self.codes[j] for j in keep], axis=1)
            unique, inverse = np.unique(matrix, axis=0, return_inverse=True)
            totals = np.bincount(inverse.reshape(-1), weights=self.counts, minlength=len(unique))
            kept = {j: unique[:, i].astype(np.int64) for i, j in enumerate(keep)}
            return _Classes(kept, {j: self.sizes[j] for j in keep}, totals.astype(np.int64))
        key = np.zeros(n, dtype=np.int64)
        for j in keep:
            key = key * max(self.sizes[j], 1) + self.codes[j]
        if cells <= 4 * n + (1 << 16):  # a dense count: no sort
            dense = np.bincount(key, weights=self.counts, minlength=int(cells))
            present = np.flatnonzero(dense)
            totals = dense[present]
        else:
            present, inverse = np.unique(key, return_inverse=True)
            totals = np.bincount(inverse, weights=self.counts, minlength=len(present))
        codes: dict[int, IntArray] = {}
        rest = present.astype(np.int64)
        for j in reversed(keep):
            size = max(self.sizes[j], 1)
            codes[j] = rest % size
            rest = rest // size
        return _Classes(codes, {j: self.sizes[j] for j in keep}, totals.astype(np.int64))


def _classes(summary: Summary) -> _Classes:
    codes = {j: summary.codes[:, j].astype(np.int64) for j in range(summary.codes.shape[1])}
    sizes = {j: int(c.max()) + 1 if len(c) else 0 for j, c in codes.items()}
    return _Classes(codes, sizes, summary.counts)


def subsets_to_measure(q: int, max_size: int) -> int:
    """How many subsets :func:`qi_combinations` measures for ``q`` columns."""
    if q <= max_size:
        return (1 << q) - 1
    return comb(q, 1) + comb(q, 2) + 1


def qi_combinations(
    summary: Summary,
    max_size: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> list[QICombination]:
    """Distinction, separation and uniques for quasi-identifier subsets.

    With at most ``max_size`` quasi-identifiers every non-empty subset is
    measured; with more, the single columns, the pairs and the full set.
    Results are ranked: smaller subsets first, then by uniques, descending.
    """
    q = len(summary.quasi_identifiers)
    rows = summary.rows
    if rows == 0 or q == 0:
        return []
    names = summary.quasi_identifiers
    total = subsets_to_measure(q, max_size)
    results: list[QICombination] = []

    def record(cols: tuple[int, ...], counts: npt.NDArray[np.int64]) -> None:
        results.append(_measure(counts, rows, tuple(names[j] for j in cols)))
        if progress is not None:
            progress(len(results), total)

    full = _classes(summary)
    if q <= max_size:
        # Depth-first over the lattice: each child drops one column that sorts
        # before every column its parent already dropped, so each subset is
        # visited once and at most q roll-ups are alive at a time.
        def visit(cols: tuple[int, ...], classes: _Classes, first_dropped: int) -> None:
            record(cols, classes.counts)
            if len(cols) == 1:
                return
            for j in cols:
                if j >= first_dropped:
                    break
                child = tuple(c for c in cols if c != j)
                visit(child, classes.roll_up(child), j)

        visit(tuple(range(q)), full, q)
    else:
        record(tuple(range(q)), summary.counts)
        for size in (1, 2):
            for cols in combinations(range(q), size):
                record(cols, full.roll_up(cols).counts)
    results.sort(key=lambda r: (len(r.columns), -r.uniques, -r.distinction, r.columns))
    return results


def column_impact(
    combos: list[QICombination], quasi_identifiers: tuple[str, ...]
) -> list[ColumnImpact]:
    """For each column, the uniques that leaving it out would remove (largest first)."""
    by_cols = {frozenset(c.columns): c.uniques for c in combos}
    everything = frozenset(quasi_identifiers)
    if everything not in by_cols or len(quasi_identifiers) < 2:
        return []
    base = by_cols[everything]
    impacts = []
    for name in quasi_identifiers:
        without = by_cols.get(everything - {name})
        if without is None:
            continue
        impacts.append(ColumnImpact(name, without, base - without))
    impacts.sort(key=lambda i: -i.uniques_removed)
    return impacts
