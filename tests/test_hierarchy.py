"""ARX hierarchy files: reading and the checks that keep them trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.errors import DataFileError, InvalidInputError, MalformedTableError
from custodes.hierarchy import Hierarchy, read_hierarchy


def test_reads_arx_files(adult_dir: Path) -> None:
    h = read_hierarchy(adult_dir / "adult_hierarchy_occupation.csv")
    assert h.height == 2
    assert len(h.rows) == 14
    assert all(row[-1] == "*" for row in h.rows)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ((("a", "x", "*"), ("b", "*")), r"line 2: 2 levels, expected 3"),
        ((("a", "x", "*"), ("a", "y", "*")), r"line 2: the value of line 1 appears again"),
        (
            (("a", "O", "T", "*"), ("b", "O", "N", "*"), ("c", "P", "N", "*")),
            r"line 2: the level-1 group of this row has another level-2 group than on line 1",
        ),
        ((("a", "X"), ("b", "Y")), r"the last level has 2 different values"),
        ((), r"the hierarchy has no rows"),
    ],
)
def test_malformed_hierarchies_name_the_line(
    rows: tuple[tuple[str, ...], ...], message: str
) -> None:
    with pytest.raises(MalformedTableError, match=message):
        Hierarchy(rows=rows, source="h.csv")


def test_missing_values_are_counted_not_shown() -> None:
    h = Hierarchy(rows=(("a", "*"), ("b", "*")), source="h.csv")
    with pytest.raises(InvalidInputError, match="does not cover 1 of the 2") as info:
        h.paths_for(["a", "SECRET"], column="diagnosis")
    assert "SECRET" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="does not exist"):
        read_hierarchy(tmp_path / "nope.csv")
