"""The spilled search's classes on disk: the summary's classes at the lowest levels, in parts.

A class is its packed key (:class:`custodes.anonymize._rollup.Packing`) at the
lowest levels searched, with its size; a part holds as many classes as the
memory budget lets the search roll up at once, sorted by key.

The parts are chosen so that most transformations find each of their classes
within one part: the classes go to parts by their node at some level L of one
column c, whole nodes to a part. A transformation that takes column c no
higher than L never joins classes of two parts, so its classes are those of
each part rolled up alone (*kept apart*). The column and the level are those
that keep apart the largest share of the lattice with every node's classes
within a part. The classes of any other transformation are rolled up part by
part and joined (:class:`Joiner`): in memory when they fit, else through
buckets on disk chosen by a hash of the keys (all of a class's pieces land in
one bucket, and a bucket fits in memory).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from custodes._spilled import SummaryParts
from custodes.anonymize._generalize import Scheme
from custodes.anonymize._rollup import Packing
from custodes.errors import DataFileError

__all__ = ["Joiner", "Parts", "Plan", "plan_parts", "write_parts"]

IntArray = npt.NDArray[np.int64]
_RECORD = np.dtype([("key", np.int64), ("size", np.int64)])


@dataclass(frozen=True)
class Plan:
    """Which part each class goes to."""

    column: int | None
    """The column c whose nodes part the classes (None: a hash of the key does)."""
    level: int
    """The level L of column c whose nodes do."""
    part_of_node: IntArray
    """The part of each of column c's nodes at level L."""
    parts: int

    def kept_apart(self, levels: Sequence[int], lows: Sequence[int]) -> bool:
        """Whether the transformation at ``levels`` never joins classes of two parts."""
        if self.column is None:
            return tuple(levels) == tuple(lows)
        return levels[self.column] <= self.level


def plan_parts(
    source: SummaryParts,
    schemes: Sequence[Scheme],
    lows: Sequence[int],
    highs: Sequence[int],
    part_classes: int,
) -> Plan:
    """The parts for classes at ``lows``: at most ``part_classes`` classes each.

    The classes at level 0 (``source.classes_per_code``) bound those at any level,
    so a node of column c at level L holds at most the classes of its values.
    """
    best: tuple[float, int, int] | None = None  # (share kept apart, level, column)
    for c, scheme in enumerate(schemes):
        per_code = source.classes_per_code[c]
        for level in range(scheme.height, lows[c] - 1, -1):
            nodes = scheme.nodes[level]
            per_node = np.bincount(nodes, weights=per_code[: len(nodes)])
            if per_node.max(initial=0) <= part_classes:
                span = highs[c] - lows[c] + 1
                share = (min(level, highs[c]) - lows[c] + 1) / span
                if best is None or (share, level) > best[:2]:
                    best = (share, level, c)
                break
    if best is None:  # no column parts the classes finely enough: a hash of the key does
        parts = max(1, math.ceil(source.classes / part_classes))
        return Plan(None, 0, np.zeros(0, dtype=np.int64), parts)
    _, level, c = best
    scheme = schemes[c]
    per_node = np.bincount(
        scheme.nodes[level], weights=source.classes_per_code[c][: len(scheme.nodes[level])]
    ).astype(np.int64)
    part_of_node = np.zeros(len(per_node), dtype=np.int64)
    part, filled = 0, 0
    for node, classes in enumerate(per_node.tolist()):  # whole nodes, in order, to a part
        if filled and filled + classes > part_classes:
            part, filled = part + 1, 0
        part_of_node[node] = part
        filled += classes
    return Plan(c, level, part_of_node, part + 1)


def _spread(key: IntArray, buckets: int) -> IntArray:
    """A bucket for each key, by a multiplicative hash (the same key, the same bucket)."""
    mixed = key.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return ((mixed >> np.uint64(20)) % np.uint64(buckets)).astype(np.int64)


def _write(path: Path, data: bytes) -> None:
    """Append ``data`` to the file ``path``."""
    with path.open("ab") as out:
        out.write(data)


def _empty() -> tuple[IntArray, IntArray]:
    """No classes: keys and sizes."""
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def _split(
    which: IntArray, key: IntArray, sizes: IntArray, parts: int
) -> list[tuple[IntArray, IntArray]]:
    """Each part's (keys, sizes) among these classes (``which`` names the part)."""
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(parts + 1))
    key, sizes = key[order], sizes[order]
    return [
        (key[bounds[i] : bounds[i + 1]], sizes[bounds[i] : bounds[i + 1]]) for i in range(parts)
    ]


def _append(paths: Sequence[Path], which: IntArray, key: IntArray, sizes: IntArray) -> None:
    """Append each (key, size) to the file of ``paths`` that ``which`` names."""
    pieces = _split(which, key, sizes, len(paths))
    try:
        for path, (part_key, part_sizes) in zip(paths, pieces, strict=True):
            if len(part_key):
                records = np.empty(len(part_key), dtype=_RECORD)
                records["key"], records["size"] = part_key, part_sizes
                _write(path, records.tobytes())
    except OSError as exc:
        raise DataFileError(
            f"cannot write the search's parts under {path.parent.parent} "
            f"({exc.strerror or exc}); free space there, or point TMPDIR to a folder "
            "with room (or raise the memory limit so that the search runs in memory)."
        ) from None


def _read(path: Path) -> tuple[IntArray, IntArray]:
    records = np.fromfile(path, dtype=_RECORD)
    return np.ascontiguousarray(records["key"]), np.ascontiguousarray(records["size"])


class Parts:
    """The classes at the lowest levels, in parts on disk (see the module's docstring), or
    ``held`` in memory."""

    def __init__(
        self,
        folder: Path,
        plan: Plan,
        paths: list[Path],
        classes: int,
        held: list[tuple[IntArray, IntArray]] | None = None,
    ) -> None:
        self.folder, self.plan, self.paths, self.classes = folder, plan, paths, classes
        self.held = held

    def __len__(self) -> int:
        return len(self.held) if self.held is not None else len(self.paths)

    def read(self, i: int) -> tuple[IntArray, IntArray]:
        """Part i: keys (ascending) and sizes."""
        return self.held[i] if self.held is not None else _read(self.paths[i])


def write_parts(
    source: SummaryParts,
    packing: Packing,
    lows: Sequence[int],
    plan: Plan,
    folder: Path,
    *,
    in_memory: bool = False,
) -> Parts:
    """The source's classes at ``lows`` written to parts in ``folder`` (one pass of the
    source, then each part grouped: classes that ``lows`` joins are in the same part);
    ``in_memory``: the parts are held, not written (the memory allows it, and the
    search runs in parts for its speed)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = [folder / f"raw{i}" for i in range(plan.parts)]
    pieces: list[list[tuple[IntArray, IntArray]]] = [[] for _ in raw]
    for codes, counts in source.chunks():
        key = packing.pack(codes, lows)
        if plan.column is None:
            which = _spread(key, plan.parts)
        else:
            nodes = packing.schemes[plan.column].nodes[plan.level]
            which = plan.part_of_node[nodes[codes[:, plan.column]]]
        sizes = counts.astype(np.int64, copy=False)
        if in_memory:
            for kept, piece in zip(pieces, _split(which, key, sizes, plan.parts), strict=True):
                if len(piece[0]):
                    kept.append(piece)
        else:
            _append(raw, which, key, sizes)
    if in_memory:
        held = []
        for kept in pieces:
            if kept:
                keys, sizes = (np.concatenate(a) for a in zip(*kept, strict=True))
                held.append(packing.group(keys, sizes, lows))
            else:
                held.append(_empty())
            kept.clear()
        return Parts(folder, plan, [], sum(len(k) for k, _ in held), held)
    paths, classes = [], 0
    for i, path in enumerate(raw):
        done = folder / f"part{i}"
        if path.exists():
            key, sizes = packing.group(*_read(path), lows)
            path.unlink()
        else:
            key, sizes = _empty()
        _append([done], np.zeros(len(key), dtype=np.int64), key, sizes)
        done.touch()
        paths.append(done)
        classes += len(key)
    return Parts(folder, plan, paths, classes)


class Joiner:
    """The classes of one transformation, joined from what each part rolled up.

    Pieces (keys and sizes, a class's pieces possibly in several parts) are held
    while they number at most ``hold``; past that, they go to ``buckets`` files
    in ``folder`` by a hash of the key, and each bucket is joined alone.
    """

    def __init__(
        self, packing: Packing, levels: Sequence[int], folder: Path, hold: int, buckets: int
    ) -> None:
        self.packing, self.levels = packing, tuple(levels)
        self.folder, self.hold, self.buckets = folder, hold, max(1, buckets)
        self.pieces: list[tuple[IntArray, IntArray]] = []
        self.held = 0
        self.paths: list[Path] = []

    def add(self, key: IntArray, sizes: IntArray) -> None:
        """Pieces of classes: keys at the transformation's levels, with sizes."""
        self.pieces.append((key, sizes))
        self.held += len(key)
        if self.held > self.hold:
            self._flush()

    def _flush(self) -> None:
        if not self.paths:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.paths = [self.folder / f"bucket{i}" for i in range(self.buckets)]
        for key, sizes in self.pieces:
            _append(self.paths, _spread(key, self.buckets), key, sizes)
        self.pieces, self.held = [], 0

    @property
    def spilled(self) -> bool:
        """Whether the pieces went to disk."""
        return bool(self.paths)

    def classes(self) -> Iterator[tuple[IntArray, IntArray]]:
        """The whole classes (keys ascending, sizes), one chunk at a time; each chunk once,
        its bucket removed when read."""
        if not self.paths:
            if self.pieces:
                key = np.concatenate([k for k, _ in self.pieces])
                sizes = np.concatenate([s for _, s in self.pieces])
                self.pieces = []
                yield self.packing.group(key, sizes, self.levels)
            return
        self._flush()
        for path in self.paths:
            if path.exists():
                key, sizes = _read(path)
                path.unlink()
                yield self.packing.group(key, sizes, self.levels)
