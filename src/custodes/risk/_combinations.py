"""Which combinations of quasi-identifiers single people out.

For every subset of the quasi-identifiers (all of them up to ``max_size``
columns) we compute Motwani and Xu's *distinction* (distinct combinations per
record) and *separation* (the fraction of record pairs the columns tell
apart), as ARX reports them, and the fraction of records unique under the
subset. Subsets are rolled up from a superset already computed (a depth-first
walk of the subset lattice, :class:`_Walk`, over the classes of
:class:`custodes.risk._classes.Lattice`), so the work is close to the number of
classes, not that times the number of subsets; what would sort more than a
budget is left out, and :class:`Coverage` says so. A table of many classes is
walked in slices that stay in the processor's caches (:func:`_walk_in_parts`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations
from math import comb
from threading import Lock

from custodes.risk import _classes
from custodes.risk._classes import Dense, Lattice, Sparse, Tally
from custodes.summary import Summary

__all__ = ["ColumnImpact", "Coverage", "QICombination", "column_impact", "qi_combinations"]


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


@dataclass(frozen=True)
class Coverage:
    """How many subsets of quasi-identifiers were measured, and why not all."""

    measured: int
    subsets: int
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"measured": self.measured, "subsets": self.subsets, "note": self.note}


def _measured(tally: Tally, rows: int, names: tuple[str, ...]) -> QICombination:
    pairs = rows * (rows - 1)
    return QICombination(
        columns=names,
        distinction=tally.classes / rows,
        separation=1.0 - tally.same / pairs if pairs else 0.0,
        uniques=tally.uniques / rows,
    )


def subsets_to_measure(q: int, max_size: int) -> int:
    """How many subsets :func:`qi_combinations` measures for ``q`` columns."""
    if q <= max_size:
        return (1 << q) - 1
    return comb(q, 1) + comb(q, 2) + (q > 2)  # (with two columns the pair is the full set)


PART = 1 << 21
"""Classes a part of a large table holds (:func:`_walk_in_parts`): a few megabytes an
array, which the processor's caches hold and the allocator hands out again."""

Record = Callable[[tuple[int, ...], Tally | None], None]


class _Walk:
    """Depth-first over the lattice of subsets: each child drops one column that comes
    after (in the keys' order) every column its parent already dropped, so each subset
    is visited once, its parent adds back a column of few values, and at most q nodes
    are alive.

    With ``beside``, the subsets counted densely and each of their marginals are tasks
    for its threads, beside the roll-ups: most of numpy's work runs without the
    interpreter's lock, so the cores share it. The sorting budget is only spent by the
    roll-ups, in the calling thread, in a fixed order: what is measured does not depend
    on timing.
    """

    def __init__(
        self, lattice: Lattice, record: Record, beside: ThreadPoolExecutor | None = None
    ) -> None:
        self.lattice = lattice
        self.record = record
        self.beside = beside
        self.counted: list[Future[None]] = []
        self.rank = lattice.order[::-1]  # (a child's descendants drop columns later in the keys)

    def run(self, cols: tuple[int, ...], node: Sparse | Dense | None, first: int) -> None:
        """Visit ``cols`` (whose classes are ``node``) and the subsets below it that drop
        only columns among the ``first`` of the rank; wait for every task."""
        try:
            self.visit(cols, node, first)
            waited = 0
            while waited < len(self.counted):  # (a task adds its children before it ends)
                self.counted[waited].result()  # (raises what went wrong there)
                waited += 1
        finally:
            if self.beside is not None:
                self.beside.shutdown(cancel_futures=True)

    def _task(self, call: Callable[..., None], *args: object) -> None:
        if self.beside is None:
            call(*args)
        else:
            self.counted.append(self.beside.submit(call, *args))

    def _dense(self, cols: tuple[int, ...], first: int) -> None:
        self.visit(cols, self.lattice.dense(cols), first)

    def _drop(self, node: Dense, cols: tuple[int, ...], j: int, first: int) -> None:
        self.visit(tuple(c for c in cols if c != j), node.drop(j), first)

    def visit(self, cols: tuple[int, ...], node: Sparse | Dense | None, first: int) -> None:
        self.record(cols, None if node is None else node.tally())
        if len(cols) < 2:
            return
        drops = [(at, j) for at, j in enumerate(self.rank[:first]) if j in cols]
        if isinstance(node, Dense):
            for at, j in drops:
                self._task(self._drop, node, cols, j, at)
            return
        children = [(tuple(c for c in cols if c != j), j, at) for at, j in drops]
        rolled = []
        for kept, j, at in children:  # (dense ones first, so the threads start at once)
            if self.lattice.fits(kept):
                self._task(self._dense, kept, at)
            else:
                rolled.append((kept, j, at))
        if isinstance(node, Sparse):
            # The children to roll up all keep the columns before the earliest one they drop.
            at = min((node.cols.index(j) for _, j, _ in rolled), default=0)
            node = self.lattice.narrow(node, at)
        for kept, j, at in rolled:
            self.visit(kept, self.lattice.roll_up(node, cols, j), at)


def _walk_in_parts(
    lattice: Lattice, record: Record, total: int, progress: Callable[[int, int], None] | None
) -> None:
    """The walk of a table of many classes, part by part.

    Every subset that keeps the keys' first column is measured in slices of the
    root's classes cut where that column's value changes (:meth:`Lattice.parts`),
    whose tallies add up: each slice's arrays stay in the caches and in memory the
    process already holds, where one pass over a hundred million classes makes
    every array anew. The subsets without that column are counted densely slice by
    slice when their combinations are few, else rolled up from the whole root.
    """
    q = len(lattice.order)
    everything = tuple(range(q))
    top = lattice.order[0]
    rest = tuple(c for c in everything if c != top)
    sums: dict[tuple[int, ...], Tally | None] = {}
    lock = Lock()

    def add(cols: tuple[int, ...], tally: Tally | None) -> None:
        with lock:
            if cols in sums:
                before = sums[cols]  # (over the budget in one part: not measured)
                sums[cols] = None if before is None or tally is None else before.plus(tally)
            else:
                sums[cols] = tally

    dense_rest = lattice.fits(rest) and (1 << lattice.bits_of(rest)) <= PART
    marginal: list[Dense] = []
    slices = lattice.parts(PART)
    done = 0

    def measure(start: int, stop: int) -> None:
        nonlocal done
        part = lattice.part(start, stop)
        _Walk(part, add).run(everything, part.root(), q - 1)  # (never drops the first column)
        counted = part.dense(rest) if dense_rest else None
        with lock:
            if counted is not None:
                if marginal:  # (the axes in the keys' order, as the part counted them)
                    marginal[0] = Dense(counted.cols, marginal[0].tensor + counted.tensor)
                else:
                    marginal.append(counted)
            done += 1
            if progress is not None:  # (the last subsets are measured after the parts)
                progress(done * (total - 1) // len(slices), total)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda cut: measure(*cut), slices))
    for cols, tally in sums.items():
        record(cols, tally)
    node = marginal[0] if marginal else lattice.roll_up(lattice.root(), everything, top)
    _Walk(lattice, record).run(rest, node, q - 1)
    if progress is not None:
        progress(total, total)


def qi_combinations(
    summary: Summary,
    max_size: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[QICombination], Coverage]:
    """Distinction, separation and uniques for quasi-identifier subsets.

    With at most ``max_size`` quasi-identifiers every non-empty subset is
    measured; with more, the single columns, the pairs and the full set.
    Results are ranked: smaller subsets first, then by uniques, descending.
    Subsets that would need more sorting than
    :data:`~custodes.risk._classes.SORT_BUDGET` times the table's classes are
    left out, and the coverage says how many.
    """
    q = len(summary.quasi_identifiers)
    rows = summary.rows
    if rows == 0 or q == 0:
        return [], Coverage(0, 0)
    names = summary.quasi_identifiers
    lattice = Lattice(summary)
    total = subsets_to_measure(q, max_size if lattice.packable else 0)
    results: list[QICombination] = []
    done = 0
    lock = Lock()

    def keep(cols: tuple[int, ...], tally: Tally | None) -> None:
        nonlocal done
        with lock:
            done += 1
            if tally is not None:
                ordered = tuple(names[j] for j in sorted(cols))
                results.append(_measured(tally, rows, ordered))

    def record(cols: tuple[int, ...], tally: Tally | None) -> None:
        keep(cols, tally)
        if progress is not None:
            progress(done, total)

    everything = tuple(range(q))
    if q <= max_size and lattice.packable and q > 1 and len(lattice.counts) > 2 * PART:
        _walk_in_parts(lattice, keep, total, progress)
    elif q <= max_size and lattice.packable:
        walk = _Walk(lattice, record, ThreadPoolExecutor(max_workers=2))
        walk.run(everything, lattice.root(), q)
    else:
        record(everything, Tally().add(lattice.counts))
        for size in range(1, min(q, 3)):
            for cols in combinations(range(q), size):
                node = lattice.direct(cols)
                record(cols, None if node is None else node.tally())
    results.sort(key=lambda r: (len(r.columns), -r.uniques, -r.distinction, r.columns))
    skipped = done - len(results)
    note = None
    if q <= max_size and not lattice.packable:
        note = (
            "the quasi-identifiers have too many combinations of values to measure every "
            "subset: the single columns, the pairs and the full set are measured"
        )
    if skipped:
        note = (
            f"{skipped} of {total} subsets were not measured: grouping them would sort more "
            f"than {_classes.SORT_BUDGET} times the table's {len(lattice.counts)} classes"
        )
    return results, Coverage(len(results), total, note)


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
