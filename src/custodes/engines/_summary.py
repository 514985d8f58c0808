"""What an engine must do to summarize and inspect a table (engine-neutral, no Polars).

Tables are :class:`custodes.io.TableSource` handles; what comes back in memory
is a :class:`~custodes.summary.Summary`, Arrow data, numpy or plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from custodes.io import TableSource
from custodes.summary import Summary

__all__ = ["SummaryOps"]


class SummaryOps(Protocol):
    """Summaries and the few aggregate questions asked of a whole table."""

    name: str

    def summarize(
        self,
        table: TableSource,
        quasi_identifiers: Sequence[str],
        sensitive: Sequence[str] = (),
    ) -> Summary:
        """Group the table by its quasi-identifiers, with sensitive histograms."""
        ...

    def from_arrow(self, data: pa.Table, name: str = "<table>") -> TableSource:
        """A table of this engine holding ``data``."""
        ...

    def to_arrow(self, table: TableSource, columns: Sequence[str] | None = None) -> pa.Table:
        """The whole table (or ``columns``) in memory: for small tables and tests only."""
        ...

    def unsupported_columns(
        self, table: TableSource, columns: Sequence[str]
    ) -> list[tuple[str, str]]:
        """(name, type) of the ``columns`` holding nested or binary values."""
        ...

    def temporal_columns(self, table: TableSource, columns: Sequence[str]) -> list[str]:
        """The ``columns`` that hold dates or times."""
        ...

    def non_numbers(self, table: TableSource, columns: Sequence[str]) -> dict[str, int]:
        """Per column, how many values are present but not numbers."""
        ...

    def non_dates(self, table: TableSource, column: str) -> tuple[int, int | None]:
        """How many values of ``column`` are present but not dates, and the 1-based data
        row of the first."""
        ...

    def text_lengths(self, table: TableSource, column: str) -> list[int]:
        """The distinct lengths (in characters) of the column's values as text."""
        ...

    def cast_like(
        self, table: TableSource, like: TableSource, columns: Sequence[str]
    ) -> TableSource:
        """``table`` with ``columns`` read as ``like`` holds them (an integer 1 is a float 1.0)."""
        ...

    def row_codes(
        self, table: TableSource, columns: Sequence[str]
    ) -> list[tuple[npt.NDArray[np.int64], pa.Array]]:
        """Per column, in the table's row order: each row's code and the distinct values as
        text (code i is ``values[i]``; a null is a null value). One scan of ``columns``."""
        ...
