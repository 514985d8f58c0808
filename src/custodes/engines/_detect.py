"""What the detector asks of an engine: samples, runs of rows, shape and span searches.

The detector (:mod:`custodes.detect`) keeps its recognizers as data: a
normalisation (:data:`Variant`), the regular expression a whole value must
match, the runs to look for inside text, and a validator that works on a
``pyarrow`` array. An engine reads the values and evaluates the regular
expressions (in its own regex dialect, the same for every search); the
detector validates what the engine found, in memory. Everything that crosses
the seam is a ``pyarrow`` array, a numpy array or plain Python values. A whole
table crosses in runs of rows (:class:`DetectBatch`), read while the detector
works on the previous run, so that memory stays the same at any size. Strings
may be ``string``, ``large_string`` or ``string_view`` arrays (views cross
without a copy; the detector casts what its validators read), whole or in
chunks (:data:`Strings`): a long column crosses in the chunks the engine
works on, so neither side joins it into one array (string work on one array of
millions of values is twice as slow as on chunks of a hundred thousand: every
intermediate result leaves the cache).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from custodes.io import TableSource

__all__ = [
    "DetectBatch",
    "DetectOps",
    "DetectSample",
    "Matches",
    "Shape",
    "SpanSearch",
    "Strings",
    "Variant",
]

Strings: TypeAlias = pa.Array | pa.ChunkedArray
"""Strings as they cross the seam: one Arrow array or a chunked one (no nulls)."""

Variant = Literal["text", "compact", "phone"]
"""How a value is normalised before matching: ``text`` stripped of white space at both
ends; ``compact`` also without white space and dashes anywhere, upper case; ``phone``
also without brackets (ASCII and full-width)."""

DIGEST = r"\b[0-9A-Fa-f]{16,}\b"
"""A hex token of 16 or more characters (a keyed pseudonym, a digest): its digit runs are
chance, and :attr:`SpanSearch.skip_digests` takes them out of the text first."""


@dataclass(frozen=True)
class Shape:
    """What a value must look like: normalised by ``variant``, it matches ``pattern``."""

    variant: Variant
    pattern: str
    """A regular expression the normalised value must match (anchored by ``^``/``$``
    where it must match whole)."""
    contains_any: tuple[tuple[str, ...], ...] = ()
    """Word lists: the normalised value must also contain a word of each (an address
    names a division and a street-level place)."""


@dataclass(frozen=True)
class SpanSearch:
    """The candidates of one recognizer in each value, and the shape each must have."""

    shape: Shape
    span: str | None = None
    """A regular expression of the runs to take out of each value (None: no runs)."""
    whole: bool = False
    """The whole value is a candidate too."""
    compact_digits: bool = False
    """Also the runs of the value with digits written apart (spaces, dashes, no-break and
    ideographic spaces between them) put together."""
    skip_digests: bool = False
    """Hex tokens (:data:`DIGEST`) are blanked out before the runs are taken."""


@dataclass(frozen=True)
class Matches:
    """The values (or candidates) that have a shape: where they are and what they became."""

    rows: npt.NDArray[np.int64]
    """The position of each match among the values searched (a value may appear more than
    once: several candidates in one text)."""
    values: Strings
    """Each match normalised (strings, no nulls), in the order of ``rows``."""


@dataclass(frozen=True)
class DetectSample:
    """What a sampled scan reads: the table's size and the first rows' values."""

    rows: int
    """Rows in the whole table."""
    sampled: int
    """Rows read (the first ones)."""
    values: Mapping[str, Strings]
    """Per column (in table order), the non-empty values of the rows read, as strings with
    white space stripped at both ends, nulls and empty strings left out."""


@dataclass(frozen=True)
class DetectBatch:
    """A run of rows of a table read whole: how many, and their values."""

    rows: int
    """Rows in the run."""
    values: Mapping[str, Strings]
    """Per column asked for, the non-empty values of the run's rows (as
    :attr:`DetectSample.values`)."""


class DetectOps(Protocol):
    """The detector's operations (conformance: ``tests/conformance/test_detect.py``).

    The detector may search (:meth:`shape_matches`, :meth:`span_matches`) from several
    threads at once, one column's values in each.
    """

    def detect_sample(self, source: TableSource, rows: int) -> DetectSample:
        """The row count, and the non-empty values of the first ``rows`` rows per column."""
        ...

    def detect_batches(self, source: TableSource, columns: Sequence[str]) -> Iterator[DetectBatch]:
        """Every row of ``columns`` once, in runs of rows in row order, read as the runs are
        taken (streaming: the table is read once, and never held whole)."""
        ...

    def shape_matches(self, values: Strings, shapes: Sequence[Shape]) -> list[Matches]:
        """Per shape, the values (strings) that have it, normalised; all shapes in one pass."""
        ...

    def span_matches(self, values: Strings, searches: Sequence[SpanSearch]) -> list[Matches]:
        """Per search, every candidate of every value (strings) that has the search's shape;
        ``rows`` says which value each came from."""
        ...

    def columns_matching(self, source: TableSource, pattern: str) -> list[str]:
        """The columns of ``source`` (as strings) with a value in which ``pattern`` is found."""
        ...

    def distinct_runs(
        self, source: TableSource, column: str, patterns: Sequence[str]
    ) -> list[Strings]:
        """Per pattern, the distinct runs of it found in ``column``'s values (as strings)."""
        ...

    def redact(
        self,
        source: TableSource,
        column: str,
        replacements: Sequence[tuple[str, Mapping[str, str]]],
    ) -> TableSource:
        """``column`` as strings with every run of each pattern that is a key of its
        mapping replaced by the key's value; only whole runs, as found, are replaced, and
        nothing else of the table changes. The result is lazy (nothing is read yet)."""
        ...
