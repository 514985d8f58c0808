"""What an engine must do to transform a table (engine-neutral, no Polars).

Every method takes a :class:`custodes.io.TableSource` and returns a new lazy
one: nothing is computed until a summary is asked for or the table is
written (:meth:`TransformOps.write`, streaming). Values that cross the seam
(mappings, distinct values, pseudonyms) are Arrow arrays or plain lists.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from custodes._files import StagedFile
from custodes.io import TableSource

__all__ = ["TransformOps"]


class TransformOps(Protocol):
    """Generalization, local recoding, identifier actions, microaggregation, write."""

    def generalize(
        self,
        table: TableSource,
        mappings: Mapping[str, tuple[list[str | None], list[str]]],
        suppressed: Mapping[str, list[str]],
        drop: Sequence[str] = (),
    ) -> TableSource:
        """Replace values by their generalized labels, suppress records, drop columns."""
        ...

    def recode(self, table: TableSource, mapping: pa.Table, columns: Sequence[str]) -> TableSource:
        """Replace each row's ``columns`` by those its combination maps to (local recoding).

        ``mapping`` holds the original values (as text; nulls match nulls) in
        ``columns`` and the released values in as many further columns.
        """
        ...

    def remove(self, table: TableSource, columns: Sequence[str]) -> TableSource:
        """Drop ``columns``."""
        ...

    def select(self, table: TableSource, columns: Sequence[str]) -> TableSource:
        """Keep only ``columns`` (in the table's order)."""
        ...

    def mask(
        self, table: TableSource, column: str, keep_first: int, keep_last: int, char: str
    ) -> TableSource:
        """Keep the first and last characters, mask the rest (a short value whole)."""
        ...

    def distinct_text(self, table: TableSource, column: str) -> pa.Array:
        """The column's distinct values as text, nulls left out."""
        ...

    def replace_text(
        self, table: TableSource, column: str, old: Sequence[str], new: Sequence[str]
    ) -> TableSource:
        """The column as text with each ``old`` value replaced by its ``new`` one (others: null)."""
        ...

    def shift_dates(
        self,
        table: TableSource,
        column: str,
        person: str,
        people: Sequence[str],
        days: npt.NDArray[np.int64],
    ) -> TableSource:
        """Move each date by its person's offset in days, written as YYYY-MM-DD; a date
        whose person is not in ``people`` becomes null."""
        ...

    def keep_parts(
        self,
        table: TableSource,
        column: str,
        keep_first: int,
        keep_last: int | None,
        parity_at: int | None = None,
    ) -> TableSource:
        """The column as what a mask keeps: the first characters, then ``|`` and the last
        ``keep_last`` (None: nothing more), or with ``parity_at`` the parity of the digit at
        that 1-based position."""
        ...

    def microaggregate(
        self, table: TableSource, columns: Mapping[str, str], by: Sequence[str]
    ) -> TableSource:
        """Replace each column by its ``mean``, ``median`` or ``mode`` within the classes ``by``."""
        ...

    def write(self, table: TableSource, path: str | os.PathLike[str] | StagedFile) -> None:
        """Write the table, streaming, in the format the path's extension names."""
        ...
