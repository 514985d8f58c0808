"""A summary on disk: its classes in parts that each fit a memory budget.

A :class:`~custodes.summary.Summary` holds every class in memory. When the
classes would not fit, they are written to a temporary folder instead:
:class:`SummaryWriter` takes chunks of class codes with counts (the same class
may come in several chunks, say from batches of rows: its counts are added),
sends each class to a part by a hash of its codes, and when finished groups
each part (splitting again by another hash a part that holds too many
classes); :class:`SpilledSummary` then reads the parts back one at a time. What
is small stays in memory: the quasi-identifiers' values, and per column the
records and the classes of each value.

Both read as :class:`SummaryParts`, the chunks of distinct classes that the
search on disk (:mod:`custodes.anonymize._spill`) reads; :func:`parts_of` gives a
summary in memory that form.

The folder is removed when the summary is closed (it is a context manager),
when the writer fails or is closed unfinished, and at the latest when the
object is collected.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from custodes.errors import DataFileError, InternalError
from custodes.summary import Summary, as_text

__all__ = ["SpilledSummary", "SummaryParts", "SummaryWriter", "parts_of"]

IntArray = npt.NDArray[np.int64]
Codes = npt.NDArray[np.int32]
_FANOUT = 16
"""Parts a writer starts with, and parts an overfull one is split into."""
_GROUPING_BYTES = 64
"""Bytes per class, besides its codes, that grouping a part takes at its peak."""


class SummaryParts(Protocol):
    """A summary's classes, chunk by chunk (no class in two chunks), and what is small."""

    @property
    def quasi_identifiers(self) -> tuple[str, ...]:
        """The columns."""
        ...

    @property
    def rows(self) -> int:
        """Records summarised."""
        ...

    @property
    def classes(self) -> int:
        """Distinct classes."""
        ...

    @property
    def squares(self) -> int:
        """Sum of the squared class sizes."""
        ...

    @property
    def records_per_code(self) -> tuple[IntArray, ...]:
        """Per column, the records holding each code."""
        ...

    @property
    def classes_per_code(self) -> tuple[IntArray, ...]:
        """Per column, the classes holding each code."""
        ...

    def chunks(self) -> Iterator[tuple[Codes, IntArray]]:
        """The classes: codes (rows x columns) and counts, a chunk at a time."""
        ...


class _Held:
    """A summary in memory read as :class:`SummaryParts`."""

    def __init__(self, summary: Summary, chunk: int) -> None:
        self.summary, self.chunk = summary, max(1, chunk)
        self.quasi_identifiers = summary.quasi_identifiers
        self.rows, self.classes = summary.rows, summary.classes
        # Slice by slice: a copy of the whole counts (or their squares) is what the
        # search on disk is there to spare.
        sizes = [len(c) for c in summary.categories]
        records = [np.zeros(n, dtype=np.int64) for n in sizes]
        classes = [np.zeros(n, dtype=np.int64) for n in sizes]
        self.squares = 0
        for codes, counts in self.chunks():
            wide = counts.astype(np.int64)
            self.squares += int((wide * wide).sum())
            for j, n in enumerate(sizes):
                records[j] += np.bincount(codes[:, j], weights=wide, minlength=n).astype(np.int64)
                classes[j] += np.bincount(codes[:, j], minlength=n)
        self.records_per_code, self.classes_per_code = tuple(records), tuple(classes)

    def chunks(self) -> Iterator[tuple[Codes, IntArray]]:
        """Slices of the summary's classes."""
        for start in range(0, self.classes, self.chunk):
            end = start + self.chunk
            yield self.summary.codes[start:end], self.summary.counts[start:end]


def parts_of(summary: Summary, chunk: int = 1 << 20) -> SummaryParts:
    """A summary in memory as :class:`SummaryParts` (slices of ``chunk`` classes)."""
    return _Held(summary, chunk)


def _record(columns: int) -> np.dtype[np.void]:
    return np.dtype([("codes", np.int32, (columns,)), ("count", np.int64)])


def _hash(codes: Codes, seed: int) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each row of codes (FNV-1a over the columns, then a finalizer)."""
    h = np.full(len(codes), 0xCBF29CE484222325 ^ seed, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for j in range(codes.shape[1]):
        h ^= codes[:, j].astype(np.uint64)
        h *= prime
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    return h


def _group(codes: Codes, counts: IntArray, sizes: Sequence[int]) -> tuple[Codes, IntArray]:
    """Distinct rows of codes (in order of their mixed-radix number) and summed counts."""
    if len(codes) == 0:
        return codes, counts
    if math.prod(float(n) for n in sizes) < 2.0**62:
        key = np.zeros(len(codes), dtype=np.int64)
        for j, n in enumerate(sizes):
            key *= n
            key += codes[:, j]
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    else:
        order = np.lexsort(codes.T[::-1])
        ordered = codes[order]
        changed = (ordered[1:] != ordered[:-1]).any(axis=1)
        first = np.flatnonzero(np.concatenate(([True], changed)))
    summed = np.add.reduceat(counts[order], first).astype(np.int64)
    return np.ascontiguousarray(codes[order[first]]), summed


class _Folder:
    """A temporary folder removed on :meth:`remove`, and at the latest when collected."""

    def __init__(self, directory: str | Path | None, prefix: str) -> None:
        try:
            self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=directory))
        except OSError as exc:
            raise _unwritable(directory, exc) from None
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)

    def remove(self) -> None:
        """Remove the folder and everything in it (again: nothing)."""
        self._finalizer()


def _unwritable(where: str | Path | None, exc: OSError) -> DataFileError:
    folder = where or tempfile.gettempdir()
    return DataFileError(
        f"cannot write the summary's parts under {folder} ({exc.strerror or exc}); free "
        "space there, or point TMPDIR to a folder with room."
    )


class SpilledSummary:
    """The classes of a summary in parts on disk; what is small, in memory.

    Made by :class:`SummaryWriter`. Read as :class:`SummaryParts`; close it (or use it
    as a context manager) to remove its folder.
    """

    def __init__(
        self,
        quasi_identifiers: tuple[str, ...],
        categories: tuple[pa.Array, ...],
        folder: _Folder,
        parts: list[Path],
        records_per_code: tuple[IntArray, ...],
        classes_per_code: tuple[IntArray, ...],
        squares: int,
    ) -> None:
        self.quasi_identifiers = quasi_identifiers
        self.categories = categories
        self._folder, self.parts = folder, parts
        self.records_per_code, self.classes_per_code = records_per_code, classes_per_code
        self.rows = int(records_per_code[0].sum()) if records_per_code else 0
        self.classes = int(classes_per_code[0].sum()) if classes_per_code else 0
        self.squares = squares

    @property
    def folder(self) -> Path:
        """Where the parts are."""
        return self._folder.path

    def read(self, i: int) -> tuple[Codes, IntArray]:
        """Part ``i``: codes (rows x columns) and counts."""
        records = np.load(self.parts[i])
        return np.ascontiguousarray(records["codes"]), np.ascontiguousarray(records["count"])

    def chunks(self) -> Iterator[tuple[Codes, IntArray]]:
        """The parts, one at a time."""
        for i in range(len(self.parts)):
            yield self.read(i)

    def category_values(self, j: int) -> list[str | None]:
        """The value (as text) behind each code of quasi-identifier ``j``."""
        values: list[str | None] = as_text(self.categories[j]).to_pylist()
        return values

    def close(self) -> None:
        """Remove the parts from disk."""
        self._folder.remove()

    def __enter__(self) -> SpilledSummary:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class SummaryWriter:
    """Writes a summary to disk, chunk by chunk, in parts that each fit ``budget`` bytes.

    ``categories``: per quasi-identifier, the value of each code (as for
    :class:`~custodes.summary.Summary`). Add chunks with :meth:`add`; :meth:`finish`
    gives the :class:`SpilledSummary`. Used as a context manager, the folder is
    removed when the block fails (or ends without :meth:`finish`).
    """

    def __init__(
        self,
        quasi_identifiers: Sequence[str],
        categories: Sequence[pa.Array],
        budget: int,
        directory: str | Path | None = None,
    ) -> None:
        if len(categories) != len(quasi_identifiers):
            raise InternalError("a spilled summary needs the values of each quasi-identifier")
        self.quasi_identifiers = tuple(quasi_identifiers)
        self.categories = tuple(categories)
        self.sizes = [len(c) for c in categories]
        self.record = _record(len(self.sizes))
        self.part_classes = max(1024, budget // (2 * (self.record.itemsize + _GROUPING_BYTES)))
        self.folder = _Folder(directory, "custodes-summary-")
        self.records_per_code = [np.zeros(n, dtype=np.int64) for n in self.sizes]
        self.finished = False

    def _raw(self, name: str) -> Path:
        return self.folder.path / f"{name}.raw"

    def _scatter(self, codes: Codes, counts: IntArray, names: Sequence[str], seed: int) -> None:
        """Append each class to the raw part its hash sends it to."""
        part = (_hash(codes, seed) % np.uint64(len(names))).astype(np.int64)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(len(names) + 1))
        records = np.empty(len(codes), dtype=self.record)
        records["codes"], records["count"] = codes[order], counts[order]
        try:
            for p, name in enumerate(names):
                if bounds[p + 1] > bounds[p]:
                    with self._raw(name).open("ab") as out:
                        out.write(records[bounds[p] : bounds[p + 1]].tobytes())
        except OSError as exc:
            raise _unwritable(self.folder.path.parent, exc) from None

    def add(self, codes: Codes, counts: IntArray) -> None:
        """Add classes: codes (rows x columns, each below its column's number of values)
        and counts (each at least 1)."""
        if self.finished:
            raise InternalError("classes added to a spilled summary already finished")
        codes = np.ascontiguousarray(codes, dtype=np.int32)
        counts = np.ascontiguousarray(counts, dtype=np.int64)
        if codes.shape != (len(counts), len(self.sizes)):
            raise InternalError("spilled summary codes do not match its counts and columns")
        for j, n in enumerate(self.sizes):
            self.records_per_code[j] += np.bincount(codes[:, j], weights=counts, minlength=n)[
                :n
            ].astype(np.int64)
        self._scatter(codes, counts, [f"p{i}" for i in range(_FANOUT)], seed=0)

    def finish(self) -> SpilledSummary:
        """Group every part (splitting those too large to hold) and give the summary."""
        parts: list[Path] = []
        classes = [np.zeros(n, dtype=np.int64) for n in self.sizes]
        squares = 0
        pending = [(f"p{i}", 0) for i in range(_FANOUT)]
        while pending:
            name, depth = pending.pop()
            raw = self._raw(name)
            if not raw.exists():
                continue
            grouped = self._settle(raw, depth)
            if grouped is None:  # too many classes for one part: split it by another hash
                names = [f"{name}-{i}" for i in range(_FANOUT)]
                for codes, counts in self._slices(raw):
                    self._scatter(codes, counts, names, seed=depth + 1)
                raw.unlink()
                pending += [(n, depth + 1) for n in names]
                continue
            codes, counts = grouped
            raw.unlink()
            records = np.empty(len(counts), dtype=self.record)
            records["codes"], records["count"] = codes, counts
            path = self.folder.path / f"{name}.npy"
            try:
                np.save(path, records)
            except OSError as exc:
                raise _unwritable(self.folder.path.parent, exc) from None
            parts.append(path)
            for j, n in enumerate(self.sizes):
                classes[j] += np.bincount(codes[:, j], minlength=n)[:n]
            squares += int((counts * counts).sum())
        self.finished = True
        return SpilledSummary(
            self.quasi_identifiers,
            self.categories,
            self.folder,
            sorted(parts),
            tuple(self.records_per_code),
            tuple(classes),
            squares,
        )

    def _slices(self, raw: Path) -> Iterator[tuple[Codes, IntArray]]:
        """A raw part's records, ``part_classes`` at a time (read, not mapped: mapped pages
        would count as the process's memory)."""
        with raw.open("rb") as source:
            while len(chunk := np.fromfile(source, dtype=self.record, count=self.part_classes)):
                yield chunk["codes"], chunk["count"]

    def _settle(self, raw: Path, depth: int) -> tuple[Codes, IntArray] | None:
        """A raw part's classes grouped, or None when they are too many to hold."""
        codes, counts = self._sizes_empty()
        for more_codes, more_counts in self._slices(raw):
            codes, counts = _group(
                np.concatenate([codes, more_codes]),
                np.concatenate([counts, more_counts]),
                self.sizes,
            )
            if len(counts) > self.part_classes and depth < 8:
                return None
        return codes, counts

    def _sizes_empty(self) -> tuple[Codes, IntArray]:
        return np.zeros((0, len(self.sizes)), dtype=np.int32), np.zeros(0, dtype=np.int64)

    def close(self) -> None:
        """Remove the folder unless the summary was finished (it owns the folder then)."""
        if not self.finished:
            self.folder.remove()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is not None or not self.finished:
            self.folder.remove()
