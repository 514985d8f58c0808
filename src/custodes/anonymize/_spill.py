"""The optimal generalization of a summary too large to search in memory.

The search in memory (:mod:`custodes.anonymize._search`) holds the summary's
classes several times over: their keys, the sort that groups them, and the
transformations held to roll the next ones up from. Past a memory budget, the
search here holds at most about the budget, whatever the summary's size:

1. The classes at the lowest levels searched are written to a temporary folder
   in parts, each small enough to roll up in memory
   (:mod:`custodes.anonymize._parts`). The summary is read once for it, chunk
   by chunk: it may itself be on disk (:class:`custodes._spilled.SpilledSummary`).
2. The lattice is walked exactly as in memory (:func:`custodes.anonymize._lattice.walk`).
   What a node needs under k-anonymity is sums over its classes (a
   :class:`~custodes.anonymize._tally.Tally`: classes, suppressed records,
   squared sizes, the leaves covered), counted part by part: whole numbers, the
   same in any order, so every figure equals the one in memory.
3. A node whose classes fit in a share of the budget is held in memory, and the
   nodes above it are rolled up from it without reading the parts again.
4. The best node's classes are made once more, in memory and in key order (as
   many as the release has, which k bounds: at most rows / k kept).

Only k-anonymity (with suppression) and the objectives made of such sums (all
but ``entropy``) are searched this way; other models need each class's
sensitive values or the whole release at once, and are refused with the
setting to raise. The folder is removed when the search ends, also when it
fails.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from custodes._spilled import SummaryParts, parts_of
from custodes.anonymize._generalize import Generalized, Scheme
from custodes.anonymize._lattice import (
    Lattice,
    SearchResult,
    check_search,
    climb,
    no_result,
    suppression_records,
    walk,
)
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import KAnonymity, PrivacyModel
from custodes.anonymize._objectives import Objective
from custodes.anonymize._parts import Joiner, Parts, plan_parts, write_parts
from custodes.anonymize._rollup import Packing
from custodes.anonymize._tally import Tally
from custodes.errors import DataFileError, InternalError, SettingError
from custodes.summary import Summary

__all__ = [
    "SEARCH_BYTES_PER_CLASS",
    "check_spillable",
    "fits_in_memory",
    "spillable",
    "spilled_generalization",
]

IntArray = npt.NDArray[np.int64]
SEARCH_BYTES_PER_CLASS = 64
"""Bytes a summary class costs the search in memory at its peak, besides the summary
(the bottom's keys and sizes, the sort that groups them, held transformations)."""
_WORK_BYTES = 128
"""Bytes per class of rolling up one part (its keys and sizes, the rolled keys, the order
that sorts them and the sorted copies)."""
_HELD_BYTES = 16
"""Bytes per class of a held transformation or a piece waiting to be joined."""


PART_BUDGET = 64 << 20
"""Bytes the search of a summary of more than :data:`IN_PARTS` classes holds, at most,
when it runs in parts though memory would hold it whole."""
IN_PARTS = 1 << 22
"""Classes past which a search the parts can do runs in parts whatever the memory (held
in memory when it would hold the whole search, else on disk): each part's roll-ups stay
in the processor's caches, where those of the whole summary sort arrays of hundreds of
megabytes (measured: 1.7 s in parts on disk against 3.0 s whole at 6.5 million classes,
``bench/results/spill.md``)."""


def fits_in_memory(classes: int, memory_limit: int) -> bool:
    """Whether the search in memory of a summary of ``classes`` stays within the limit."""
    return classes * SEARCH_BYTES_PER_CLASS <= memory_limit


def _refuse(why: str) -> SettingError:
    return SettingError(
        f"the summary is larger than the memory limit lets the search hold, and the search "
        f"on disk {why}; raise the limit (the setting memory_limit, or --memory-limit) so "
        "that the search runs in memory."
    )


def spillable(
    models: Sequence[PrivacyModel], objective: Objective, *, mosaic: bool = False
) -> bool:
    """Whether the search on disk can do what is asked."""
    try:
        check_spillable(models, objective, mosaic=mosaic)
    except SettingError:
        return False
    return True


def check_spillable(
    models: Sequence[PrivacyModel], objective: Objective, *, mosaic: bool = False
) -> int:
    """The k to search for; refuses what the search on disk cannot do."""
    others = [m.describe() for m in models if not isinstance(m, KAnonymity)]
    if others:
        raise _refuse(
            "supports k-anonymity only, and the policy also asks for " + ", ".join(others)
        )
    if not models:
        raise SettingError("give at least one privacy model (e.g. k=5).")
    if objective.name == "entropy":
        raise _refuse(
            "cannot minimise the entropy objective (choose loss, precision, discernibility or aecs)"
        )
    if mosaic:
        raise _refuse("cannot weigh each transformation against what the recipient holds")
    return max(m.k for m in models if isinstance(m, KAnonymity))


class _Nodes:
    """Each transformation's tally, from held transformations in memory or from the parts."""

    def __init__(
        self,
        parts: Parts,
        packing: Packing,
        lows: Sequence[int],
        k: int,
        covers: bool,
        budget: int,
    ) -> None:
        self.parts, self.packing, self.lows, self.k = parts, packing, tuple(lows), k
        self.covers = covers
        # An eighth of the budget held: joining or sorting them takes a few times that.
        self.hold_classes = max(64, budget // (8 * _HELD_BYTES))
        self.held: list[tuple[tuple[int, ...], IntArray, IntArray]] = []
        self.held_classes = 0
        self.tallies: dict[tuple[int, ...], Tally] = {}

    def _tally(self, levels: tuple[int, ...], key: IntArray, sizes: IntArray) -> Tally:
        covers = []
        if self.covers:
            for j, (scheme, level) in enumerate(zip(self.packing.schemes, levels, strict=True)):
                covers.append(scheme.covers[level][self.packing.column(key, j)])
        return Tally.of(sizes, sizes < self.k, covers)

    def _start(self, levels: tuple[int, ...]) -> tuple[tuple[int, ...], IntArray, IntArray] | None:
        """The held transformation at or below ``levels`` with the fewest classes."""
        below = [h for h in self.held if all(a <= b for a, b in zip(h[0], levels, strict=True))]
        return min(below, key=lambda h: len(h[1]), default=None)

    def _hold(self, levels: tuple[int, ...], key: IntArray, sizes: IntArray) -> None:
        """Keep a transformation's classes, forgetting the oldest beyond the budget."""
        self.held.append((levels, key, sizes))
        self.held_classes += len(key)
        while self.held_classes > self.hold_classes and len(self.held) > 1:
            self.held_classes -= len(self.held.pop(0)[1])

    def classes(self, levels: tuple[int, ...], whole: bool) -> tuple[IntArray, IntArray] | None:
        """The classes at ``levels`` (keys ascending, sizes) when they fit the budget, or
        ``whole``; else None (their tally is counted all the same)."""
        start = self._start(levels)
        if start is not None:
            key, sizes = self.packing.group(
                self.packing.roll(start[1], start[0], levels), start[2], levels
            )
            self.tallies[levels] = self._tally(levels, key, sizes)
            if len(key) <= self.hold_classes:
                self._hold(levels, key, sizes)
            return key, sizes
        tally = Tally.empty(len(levels) if self.covers else 0)
        kept: list[tuple[IntArray, IntArray]] | None = []
        count = 0
        for key, sizes in self._from_parts(levels):
            tally += self._tally(levels, key, sizes)
            count += len(key)
            if kept is not None and (whole or count <= self.hold_classes):
                kept.append((key, sizes))
            else:
                kept = None
        self.tallies[levels] = tally
        if kept is None:
            return None
        key = np.concatenate([k for k, _ in kept]) if kept else np.zeros(0, dtype=np.int64)
        sizes = np.concatenate([s for _, s in kept]) if kept else np.zeros(0, dtype=np.int64)
        key, sizes = self.packing.group(key, sizes, levels)  # sorted runs, merged
        if len(key) <= self.hold_classes:
            self._hold(levels, key, sizes)
        return key, sizes

    def _from_parts(self, levels: tuple[int, ...]) -> Iterator[tuple[IntArray, IntArray]]:
        """The whole classes at ``levels``, chunk by chunk, read from the parts."""
        if self.parts.plan.kept_apart(levels, self.lows):
            for i in range(len(self.parts)):
                key, sizes = self.parts.read(i)
                yield self.packing.group(self.packing.roll(key, self.lows, levels), sizes, levels)
            return
        joiner = Joiner(
            self.packing,
            levels,
            self.parts.folder / "join",
            hold=self.hold_classes,
            buckets=len(self.parts),
        )
        try:
            for i in range(len(self.parts)):
                key, sizes = self.parts.read(i)
                joiner.add(
                    *self.packing.group(self.packing.roll(key, self.lows, levels), sizes, levels)
                )
            yield from joiner.classes()
        finally:
            shutil.rmtree(self.parts.folder / "join", ignore_errors=True)

    def tally(self, levels: tuple[int, ...]) -> Tally:
        """The tally of the transformation at ``levels``."""
        if levels not in self.tallies:
            self.classes(levels, whole=False)
        return self.tallies[levels]


def _folder(directory: str | Path | None) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix="custodes-search-", dir=directory))
    except OSError as exc:
        where = directory or tempfile.gettempdir()
        raise DataFileError(
            f"cannot make a folder for the search's parts under {where} "
            f"({exc.strerror or exc}); point TMPDIR to a folder you can write, or raise "
            "the memory limit so that the search runs in memory."
        ) from None


def spilled_generalization(
    summary: Summary | SummaryParts,
    schemes: Sequence[Scheme],
    models: Sequence[PrivacyModel],
    *,
    memory_limit: int,
    suppression_limit: float = 0.0,
    metric: LossMetric | None = None,
    min_levels: Sequence[int] | None = None,
    max_levels: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_nodes: int = 100_000,
    time_limit: float = 60.0,
    objective: Objective | None = None,
    directory: str | Path | None = None,
    held: bool = False,
) -> SearchResult:
    """The result :func:`~custodes.anonymize._search.optimal_generalization` gives, found
    holding about ``memory_limit`` bytes (besides the result's classes), the classes in
    parts in a temporary folder under ``directory`` (default: the system's, ``$TMPDIR``);
    ``held``: the parts in memory (which the memory allows), only cut as on disk.

    ``summary`` may be in memory or on disk (:class:`custodes._spilled.SpilledSummary`).
    Only k-anonymity with suppression, and objectives other than ``entropy``.
    """
    metric = metric or LossMetric()
    objective = objective or Objective("loss", metric)
    lows, highs = check_search(schemes, models, suppression_limit, min_levels, max_levels)
    k = check_spillable(models, objective)
    packing = Packing(schemes)
    if not packing.fits:
        raise _refuse(
            "needs each class's values in one 64-bit key, and the quasi-identifiers have "
            "too many values for it"
        )
    part_classes = max(64, memory_limit // (2 * _WORK_BYTES))
    source = parts_of(summary, part_classes) if isinstance(summary, Summary) else summary
    limit = suppression_records(suppression_limit, source.rows)
    leaves = [s.leaves for s in schemes]
    size = math.prod(hi - lo + 1 for lo, hi in zip(lows, highs, strict=True))
    folder = _folder(directory)
    try:
        plan = plan_parts(source, schemes, lows, highs, part_classes)
        parts = write_parts(source, packing, lows, plan, folder / "parts", in_memory=held)
        # Held in memory, the search may keep what the whole search in memory would.
        holding = (
            max(memory_limit, source.classes * SEARCH_BYTES_PER_CLASS) if held else memory_limit
        )
        nodes = _Nodes(parts, packing, lows, k, objective.name == "loss", holding)
        if size > max_nodes:

            def guess(levels: tuple[int, ...]) -> tuple[int, float]:
                tally = nodes.tally(levels)
                return tally.suppressed, objective.value_of(tally, levels, schemes)

            best = climb(guess, lows, highs, limit, suppression_limit, time_limit)
            value = guess(best)[1]
            checked, optimal = len(nodes.tallies), False
        else:
            lattice = Lattice(lows, highs)
            bounds = objective.bounds_of(
                source.records_per_code,
                source.rows,
                source.classes,
                source.squares,
                schemes,
                lattice.nodes,
            )

            def evaluate(i: int) -> tuple[int, bool]:
                records = nodes.tally(lattice.levels(i)).suppressed
                return records, records > limit  # k alone: the floor is the model

            def score(i: int) -> float:
                levels = lattice.levels(i)
                return objective.value_of(nodes.tally(levels), levels, schemes)

            found = walk(lattice, bounds, limit, True, evaluate, score, progress=progress)
            if found.key is None:
                raise no_result(lattice, schemes, models, suppression_limit, limit, 0)
            best, value, checked, optimal = found.key[2], found.key[0], found.checked, True
        whole = nodes.classes(best, whole=True)
        if whole is None:
            raise InternalError("the best transformation's classes were not made whole")
        key, sizes = whole
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    generalized = _generalized(summary, packing, best, key, sizes)
    suppressed = sizes < k
    per_column = metric.per_column(generalized, schemes, suppressed, leaves)
    return SearchResult(
        levels=best,
        loss=float(metric.aggregate(per_column)),
        loss_per_column=tuple(float(x) for x in per_column),
        suppressed_records=int(sizes[suppressed].sum()),
        generalized=generalized,
        suppressed_classes=suppressed,
        nodes_in_lattice=size,
        nodes_checked=checked,
        optimal=optimal,
        objective=objective.name,
        objective_value=value,
        spilled_parts=len(parts),
    )


def _generalized(
    summary: Summary | SummaryParts,
    packing: Packing,
    levels: tuple[int, ...],
    key: IntArray,
    sizes: IntArray,
) -> Generalized:
    """The classes as a :class:`Generalized`; the class of each summary class is found
    on first use, from a summary in memory only."""
    nodes = np.empty((len(key), len(levels)), dtype=np.int64, order="F")
    for j in range(len(levels)):
        nodes[:, j] = packing.column(key, j)

    def find() -> IntArray:
        if not isinstance(summary, Summary):
            raise InternalError("the class of each summary class is not known on disk")
        return np.searchsorted(key, packing.pack(summary.codes, levels)).astype(np.int64)

    return Generalized(levels, find, sizes, nodes)
