"""The table a reader returns, and the helpers every reader shares."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from custodes.errors import (
    CustodesError,
    DataFileError,
    InvalidInputError,
    MalformedTableError,
    closest,
    unknown_column,
)

__all__ = [
    "Bound",
    "Bounds",
    "TableSource",
    "check_columns",
    "collect",
    "missing_file",
    "open_error",
    "reading",
]


@dataclass(frozen=True, eq=False)
class TableSource:
    """A table opened for assessment: a lazy frame plus how it was read.

    ``name`` is the file path as given, or the database URI without its
    password; ``encoding`` and ``delimiter`` are set for CSV files only.
    """

    frame: pl.LazyFrame
    name: str
    format: str
    encoding: str | None
    delimiter: str | None
    columns: tuple[str, ...]
    # Raises the precise error (bad line, bad bytes) when a later collect fails.
    diagnose: Callable[[], None] | None = field(default=None, repr=False)
    bounds: Bounds | None = field(default=None, repr=False)
    """What the file states about its columns' values, for the frame that reads it as is."""


Bound = tuple[object, object, int]
"""A column's lowest and highest value (None when it holds only nulls) and its nulls."""


@dataclass(frozen=True, eq=False)
class Bounds:
    """Each column's lowest and highest value and its nulls, as a file states them.

    A Parquet file keeps them per row group; reading them costs no pass over the
    data. They hold for ``frame`` (the file as it was opened): any other frame,
    even one made from it, may hold other values and gets none.
    """

    frame: pl.LazyFrame
    rows: int
    read: Callable[[Sequence[str]], dict[str, Bound]]

    def of(
        self, frame: pl.LazyFrame, columns: Sequence[str]
    ) -> tuple[int, dict[str, Bound]] | None:
        """The rows of ``frame`` and the bounds of those of ``columns`` the file states
        (None: ``frame`` is not the file as it was opened)."""
        found = self.read(columns) if frame is self.frame else None
        return None if found is None else (self.rows, found)


def check_columns(source: TableSource, names: Iterable[str]) -> None:
    """Raise :class:`UnknownColumnError` for the first name not in ``source``."""
    known = set(source.columns)
    for name in names:
        if name not in known:
            raise unknown_column(name, source.columns, where=repr(source.name))


@contextmanager
def reading(source: TableSource, task: str | None = None) -> Iterator[None]:
    """Turn failures while reading ``source`` to the end into custodes errors.

    Failures that only show up while reading the whole table (a ragged line
    far into a file, a file changed since it was opened) become errors naming
    the file and line, never polars' message, which may quote values. With
    ``task`` (what is being computed from the table, e.g. "writing the
    release"), a failure on a file that still reads correctly is reported as
    that task failing instead.
    """
    try:
        yield
    except CustodesError:
        raise  # a reader's own error
    except (pl.exceptions.PolarsError, OSError) as exc:
        if source.diagnose is not None:
            try:
                source.diagnose()
            except CustodesError:
                raise
            except (OSError, ValueError):
                pass  # the file changed too much to say more than below
            else:
                if task is not None:  # the file is fine: the computation failed
                    raise InvalidInputError(
                        f"{task} failed on {source.name!r} ({type(exc).__name__}) although "
                        "the table reads correctly; check that the spec's identifier actions "
                        "and microaggregation suit the columns' types."
                    ) from None
        if source.diagnose is None and source.format == "polars":
            raise MalformedTableError(
                "the lazy frame given could not be read to the end; check the data it "
                "scans, or pass the file's path so that custodes reads and checks it."
            ) from None
        raise MalformedTableError(
            f"{source.name!r} could not be read to the end; it may have changed since it "
            "was opened. Open it again with read_table to find the problem."
        ) from None


def collect(source: TableSource, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Collect ``source`` (optionally only ``columns``) with the streaming engine."""
    frame = source.frame
    if columns is not None:
        check_columns(source, columns)
        frame = frame.select(list(columns))
    with reading(source):
        return frame.collect(engine="streaming")
    raise AssertionError("unreachable")  # pragma: no cover (mypy: reading re-raises)


def missing_file(path: Path, shown: str) -> DataFileError:
    """The error for a path that does not exist, with the closest file name."""
    cwd = Path.cwd()
    folder = path.parent
    if not folder.is_dir():
        return DataFileError(
            f"file {shown!r} does not exist: its folder {str(folder)!r} does not exist "
            f"either (working directory: {cwd})."
        )
    names: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file():
                names.append(entry.name)
            if len(names) >= 10_000:
                break
    hint = closest(path.name, names)
    where = f" Did you mean {str(folder / hint)!r}?" if hint else ""
    return DataFileError(f"file {shown!r} does not exist (working directory: {cwd}).{where}")


def open_error(path: Path, shown: str, exc: OSError) -> DataFileError:
    """The error for a file that exists but cannot be opened."""
    if isinstance(exc, FileNotFoundError):
        return missing_file(path, shown)
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return DataFileError(f"{shown!r} is a folder, not a file; name a file inside it.")
    if isinstance(exc, PermissionError):
        return DataFileError(f"cannot read {shown!r}: permission denied.")
    reason = exc.strerror or type(exc).__name__
    return DataFileError(f"cannot read {shown!r}: {reason}.")
