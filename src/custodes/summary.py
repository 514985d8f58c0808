"""The summary: what almost all privacy computation depends on.

A :class:`Summary` holds the distinct combinations of quasi-identifier values
(the equivalence classes) with their record counts, integer-coded, and for each
sensitive attribute the histogram of its values inside every class. It is
usually orders of magnitude smaller than the data; engines build it in one scan
and everything in :mod:`custodes.risk` works on it in memory.

The category values stay in memory only: they are never logged or printed.
They cross the engine seam as Arrow arrays (text), which every engine speaks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from custodes.errors import InternalError

__all__ = [
    "COUNT",
    "DENSE_CELLS",
    "Decoded",
    "PackedClasses",
    "SensitiveHistogram",
    "Summary",
    "as_text",
    "field_bits",
    "fits_dense",
    "natural_rank",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
COUNT = "n"
"""Name of a class-size column."""


DENSE_CELLS = 1 << 22
"""Largest classes x values for which a histogram is also held as a dense matrix."""


def fits_dense(classes: int, values: int) -> bool:
    """Whether a classes x values matrix of counts is small enough to hold."""
    return classes * max(values, 1) <= DENSE_CELLS


class SensitiveHistogram:
    """Counts of one sensitive attribute's values per equivalence class.

    Sparse triples sorted by class: ``class_index[i]`` has ``count[i]`` records
    with value ``values[value_code[i]]`` (an Arrow array of text). Values are in natural order
    (numeric when every value is a number), so codes can be used as ranks.

    When classes x values is small (at most :data:`DENSE_CELLS`) the same
    counts are also available as a dense matrix (:meth:`matrix`), on which the
    per-class measures are a few vector operations. A histogram made from a
    matrix (:meth:`from_matrix`) builds its triples only when asked.
    """

    def __init__(
        self,
        name: str,
        values: pa.Array,
        class_index: IntArray,
        value_code: IntArray,
        count: IntArray,
    ) -> None:
        self.name = name
        self.values = values
        self._triples: tuple[IntArray, IntArray, IntArray] | None = (
            class_index,
            value_code,
            count,
        )
        self._matrix: FloatArray | None = None

    @classmethod
    def from_matrix(cls, name: str, values: pa.Array, matrix: FloatArray) -> SensitiveHistogram:
        """A histogram from dense counts (``matrix[class, value]``)."""
        hist = cls.__new__(cls)
        hist.name, hist.values = name, values
        hist._triples, hist._matrix = None, matrix
        return hist

    def _sparse(self) -> tuple[IntArray, IntArray, IntArray]:
        if self._triples is None:
            assert self._matrix is not None
            rows, cols = np.nonzero(self._matrix)
            counts = self._matrix[rows, cols].astype(np.int64)
            self._triples = (rows.astype(np.int64), cols.astype(np.int64), counts)
        return self._triples

    @property
    def class_index(self) -> IntArray:
        """Class of each triple (ascending)."""
        return self._sparse()[0]

    @property
    def value_code(self) -> IntArray:
        """Value code of each triple (ascending within a class)."""
        return self._sparse()[1]

    @property
    def count(self) -> IntArray:
        """Records of each triple (always >= 1)."""
        return self._sparse()[2]

    @property
    def domain_size(self) -> int:
        """Number of distinct values of the attribute in the data."""
        return len(self.values)

    def matrix(self, classes: int) -> FloatArray | None:
        """Counts as a dense ``classes x domain_size`` matrix, or None when too large."""
        m = self.domain_size
        if self._matrix is not None and self._matrix.shape[0] == classes:
            return self._matrix
        if not fits_dense(classes, m):
            return None
        cls, value, count = self._sparse()
        flat = np.bincount(cls * m + value, weights=count, minlength=classes * m)
        self._matrix = np.asarray(flat, dtype=np.float64).reshape(classes, m)
        return self._matrix

    def class_totals(self, classes: int) -> FloatArray:
        """Number of records in each class (as floats, for weighting)."""
        if self._matrix is not None and self._matrix.shape[0] == classes:
            return np.asarray(self._matrix.sum(axis=1), dtype=np.float64)
        totals = np.bincount(self.class_index, weights=self.count, minlength=classes)
        return np.asarray(totals, dtype=np.float64)

    def overall(self) -> FloatArray:
        """The attribute's distribution over the whole table (sums to 1)."""
        if self._matrix is not None:
            totals = self._matrix.sum(axis=0)
        else:
            totals = np.bincount(self.value_code, weights=self.count, minlength=self.domain_size)
        return np.asarray(totals / totals.sum(), dtype=np.float64)


Decoded = tuple[npt.NDArray[np.int32], tuple[pa.Array, ...]]
"""A summary's codes and categories."""


def field_bits(size: int) -> int:
    """Bits of a field that holds every number below ``size`` (none for one value)."""
    return max(int(size) - 1, 0).bit_length()


@dataclass(frozen=True, eq=False)
class PackedClasses:
    """A summary's classes as the engine first found them: one integer per class.

    Column ``order[0]`` sits in the highest bits, each column ``j`` in
    ``bit_length(sizes[j] - 1)`` bits, and the keys ascend (the summary's
    classes are in this order, no two equal). A column's number here is its
    value's offset in a range of ``sizes[j]`` slots, some of which no class may
    use; the summary's own (dense) codes and categories are made from the keys
    by ``decode``, on first use. Measures that only count classes (the
    combinations of quasi-identifiers) work on the keys and never need them.
    """

    key: IntArray
    order: tuple[int, ...]
    sizes: tuple[int, ...]
    decode: Callable[[], Decoded]


class Summary:
    """Equivalence classes of a table under its quasi-identifiers.

    ``codes[c, j]`` is the integer code of class ``c``'s value for
    quasi-identifier ``j`` (codes are dense, 0..k-1, in no particular order);
    ``counts[c]`` is the class size. The values themselves are decoded only on
    request (:meth:`values_frame`) from ``categories``: per quasi-identifier, the
    value (text) of each code, so what crosses the engine seam is one entry per
    distinct value of a column, not one per class. An engine may give the
    classes ``packed`` instead of ``codes`` and ``categories``, which are then
    made when first asked for.
    """

    def __init__(
        self,
        *,
        quasi_identifiers: tuple[str, ...],
        counts: IntArray,
        sensitive: dict[str, SensitiveHistogram],
        codes: npt.NDArray[np.int32] | None = None,
        categories: tuple[pa.Array, ...] | None = None,
        sorted_by: tuple[int, ...] = (),
        packed: PackedClasses | None = None,
    ) -> None:
        self.quasi_identifiers: Final = quasi_identifiers
        self.counts: Final = counts
        self.sensitive: Final = sensitive
        self.sorted_by: Final = packed.order if packed is not None else sorted_by
        """When not empty, a permutation of the quasi-identifiers' positions: the classes
        are in ascending order of their codes under it (first column first), no two equal."""
        self.packed: Final = packed
        self._decoded: Decoded | None = None
        q = len(quasi_identifiers)
        if codes is not None and categories is not None:
            self._decoded = (codes, categories)
            self._check(codes, categories)
        elif packed is None:
            raise InternalError("a summary needs its codes and categories, or packed classes")
        elif len(packed.key) != len(counts) or len(packed.sizes) != q:
            raise InternalError("packed classes do not match the summary's classes")
        if self.sorted_by and sorted(self.sorted_by) != list(range(q)):
            raise InternalError("a summary's order must name each quasi-identifier once")

    def _check(self, codes: npt.NDArray[np.int32], categories: tuple[pa.Array, ...]) -> None:
        if codes.shape != (len(self.counts), len(self.quasi_identifiers)):
            raise InternalError("summary codes do not match its classes and quasi-identifiers")
        if len(categories) != len(self.quasi_identifiers):
            raise InternalError("summary categories do not match its quasi-identifiers")

    def _decode(self) -> Decoded:
        if self._decoded is None:
            assert self.packed is not None  # (the constructor saw to it)
            codes, categories = self.packed.decode()
            self._check(codes, categories)
            self._decoded = (codes, categories)
        return self._decoded

    @property
    def codes(self) -> npt.NDArray[np.int32]:
        """``codes[c, j]``: the code of class ``c``'s value of quasi-identifier ``j``."""
        return self._decode()[0]

    @property
    def categories(self) -> tuple[pa.Array, ...]:
        """Per quasi-identifier, an Arrow text array: entry ``c`` is the value of code ``c``."""
        return self._decode()[1]

    @property
    def rows(self) -> int:
        """Number of records summarised."""
        return int(self.counts.sum())

    @property
    def classes(self) -> int:
        """Number of equivalence classes."""
        return len(self.counts)

    def class_size_frequencies(self) -> tuple[IntArray, IntArray]:
        """Distinct class sizes (ascending) and how many classes have each."""
        counts = self.counts
        if len(counts) and int(counts.max()) <= 4 * len(counts) + (1 << 16):
            every = np.bincount(counts)  # one pass, no sort
            sizes = np.flatnonzero(every)
            return sizes.astype(np.int64), every[sizes].astype(np.int64)
        sizes, freq = np.unique(counts, return_counts=True)
        return sizes.astype(np.int64), freq.astype(np.int64)

    def _text(self, j: int) -> pa.Array:
        return as_text(self.categories[j])

    def category_values(self, j: int) -> list[str | None]:
        """The value (as text) behind each code 0..k-1 of quasi-identifier ``j``."""
        values: list[str | None] = self._text(j).to_pylist()
        return values

    def values_frame(self) -> pa.Table:
        """One row per class with its quasi-identifier values as text (sizes: ``counts``)."""
        return pa.table(
            {
                q: self._text(j).take(pa.array(self.codes[:, j].astype(np.int64)))
                for j, q in enumerate(self.quasi_identifiers)
            }
        )

    def value_counts(self, j: int) -> list[tuple[str, int]]:
        """(value as text, records) of quasi-identifier ``j``, in order of first class."""
        codes = self.codes[:, j].astype(np.int64)
        size = int(codes.max()) + 1 if len(codes) else 0
        totals = np.bincount(codes, weights=self.counts, minlength=size).astype(np.int64)
        values = self.category_values(j)
        first = np.full(size, len(codes), dtype=np.int64)
        np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
        return [
            ("" if values[c] is None else str(values[c]), int(totals[c]))
            for c in np.argsort(first, kind="stable")
        ]


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def natural_rank(values: pa.Array) -> npt.NDArray[np.int64]:
    """Position of each value in natural order: numeric when every value is a
    number, else as text; nulls last. ``values`` holds distinct values (text)."""
    if len(values) > 50_000:  # large domains: vectorised
        return _natural_rank_numpy(values)
    texts = as_text(values).to_pylist()
    numbers = [None if t is None else _number(t) for t in texts]
    numeric = all(x is not None for x, t in zip(numbers, texts, strict=True) if t is not None)

    def key(i: int) -> tuple[bool, float, str]:
        t = texts[i]
        if t is None:
            return (True, 0.0, "")
        return (False, numbers[i] or 0.0 if numeric else 0.0, t)

    order = sorted(range(len(texts)), key=key)
    rank = np.empty(len(texts), dtype=np.int64)
    rank[order] = np.arange(len(texts), dtype=np.int64)
    return rank


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Values as one Arrow array of text (categories may come chunked, or as numbers)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values if pa.types.is_string(values.type) else values.cast(pa.string())


def _numbers(text: pa.Array) -> pa.Array | None:
    """Every value as a number (nulls stay null), or None when one is not a number.

    Arrow parses the common case in one pass; what it refuses is judged as the
    small path judges it (Python's ``float``), so both paths agree.
    """
    import pyarrow.compute as pc  # (imported when needed: 40-60 ms)

    try:
        parsed = pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = None
    if parsed is not None and not pc.any(pc.is_nan(parsed)).as_py():
        return parsed
    numbers: list[float | None] = []
    for t in text.to_pylist():
        if t is None:
            numbers.append(None)
            continue
        number = _number(t)
        if number is None:
            return None
        numbers.append(number)
    return pa.array(numbers, type=pa.float64())


def _natural_rank_numpy(values: pa.Array) -> npt.NDArray[np.int64]:
    import pyarrow.compute as pc  # (imported when needed: 40-60 ms)

    n = len(values)
    text = as_text(values)
    nulls = pc.is_null(text)
    numbers = _numbers(text) if len(text) > text.null_count else None
    columns = {"nulls": nulls, "text": pc.fill_null(text, "")}
    keys = [("nulls", "ascending")]
    if numbers is not None:
        columns["number"] = pc.fill_null(numbers, np.inf)
        keys.append(("number", "ascending"))
    keys.append(("text", "ascending"))
    order = pc.sort_indices(pa.table(columns), sort_keys=keys).to_numpy()
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    return rank
