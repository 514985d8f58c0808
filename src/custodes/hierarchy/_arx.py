"""Reading and checking generalization hierarchies in ARX's CSV format."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from custodes.errors import DataFileError, EncodingError, InvalidInputError, MalformedTableError

__all__ = ["Hierarchy", "read_hierarchy"]


@dataclass(frozen=True)
class Hierarchy:
    """A generalization hierarchy: for each value, its path from level 0 to the top."""

    rows: tuple[tuple[str, ...], ...]
    source: str = "<memory>"

    def __post_init__(self) -> None:
        if not self.rows:
            raise MalformedTableError(f"{self.source}: the hierarchy has no rows.")
        depth = len(self.rows[0])
        for line, row in enumerate(self.rows, start=1):
            if len(row) != depth:
                raise MalformedTableError(
                    f"{self.source}, line {line}: {len(row)} levels, expected {depth} "
                    "(every row must list a value and all its generalizations up to the top)."
                )
        seen: dict[str, int] = {}
        for line, row in enumerate(self.rows, start=1):
            if row[0] in seen:
                raise MalformedTableError(
                    f"{self.source}, line {line}: the value of line {seen[row[0]]} appears "
                    "again; each value must have exactly one row."
                )
            seen[row[0]] = line
        # A tree: a group at one level always belongs to the same group one level up,
        # and everything meets at a single top (ARX writes it as '*').
        for level in range(1, depth - 1):
            parent: dict[str, tuple[str, int]] = {}
            for line, row in enumerate(self.rows, start=1):
                known = parent.setdefault(row[level], (row[level + 1], line))
                if known[0] != row[level + 1]:
                    raise MalformedTableError(
                        f"{self.source}, line {line}: the level-{level} group of this row has "
                        f"another level-{level + 1} group than on line {known[1]}; a group "
                        "must never be split between two groups of the level above."
                    )
        tops = {row[-1] for row in self.rows}
        if depth > 1 and len(tops) != 1:
            raise MalformedTableError(
                f"{self.source}: the last level has {len(tops)} different values; every row "
                "must end with the same top value (usually '*')."
            )

    @property
    def height(self) -> int:
        """Number of generalization steps above the original values."""
        return len(self.rows[0]) - 1

    def paths_for(self, values: Sequence[str], *, column: str) -> list[tuple[str, ...]]:
        """The generalization path of each value; every value must be covered."""
        index = {row[0]: row for row in self.rows}
        missing = [v for v in values if v not in index]
        if missing:
            raise InvalidInputError(
                f"the hierarchy {self.source} does not cover {len(missing)} of the "
                f"{len(values)} distinct values of column {column!r}; add a row for each "
                "value (values are not shown because they may be personal data)."
            )
        return [index[v] for v in values]


def read_hierarchy(path: str | Path, delimiter: str = ";") -> Hierarchy:
    """Read an ARX hierarchy CSV file (no header; UTF-8, ';'-separated by default)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DataFileError(f"hierarchy file {str(p)!r} does not exist.") from None
    except OSError as exc:
        raise DataFileError(f"cannot read hierarchy file {str(p)!r}: {exc.strerror}.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"hierarchy file {str(p)!r} is not UTF-8 (byte {exc.start}); save it as UTF-8."
        ) from None
    rows = tuple(
        tuple(field.strip() for field in row)
        for row in csv.reader(io.StringIO(text), delimiter=delimiter)
        if row and any(f.strip() for f in row)
    )
    return Hierarchy(rows=rows, source=str(p))
