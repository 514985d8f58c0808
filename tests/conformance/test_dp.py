"""Conformance: every engine bounds a table and aggregates it exactly as DP queries need.

One small table with what goes wrong in practice: a person with two rows, a
value above the bound, below it, missing and not a number, missing group
values. The expected figures are worked out by hand below.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from custodes.engines import Engine
from custodes.engines._dp import (
    And,
    Between,
    Compare,
    Condition,
    EvaluationError,
    InSet,
    IsNull,
    Not,
    Or,
    clamped,
)
from custodes.errors import InvalidInputError
from custodes.io import TableSource, read_table

ROWS = [
    ("P1", "north", "F", "1000"),
    ("P1", "north", "F", "5000"),  # P1's second row
    ("P2", "south", "M", "12000"),  # above the bound: 10000
    ("P3", "", "F", "abc"),  # no region; not a number: the low bound
    ("P4", "north", "M", "-5"),  # below the bound: 0
    ("P5", "east", "", "3000"),  # no sex
    ("P6", "south", "F", ""),  # no income: the low bound
    ("P2", "south", "M", "2000"),  # P2's second row
    ("P7", "north", "F", "4000"),
]
COLUMNS = ["income", "person", "region", "sex"]
BOUNDS = {"income": [0.0, 10_000.0]}


@pytest.fixture
def table(tmp_path: Path) -> TableSource:
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["person", "region", "sex", "income"])
        writer.writerows(ROWS)
    return read_table(path, has_header=True)


@pytest.fixture
def once(engine: Engine, table: TableSource) -> TableSource:
    """At most one row per person."""
    return engine.dp_bound(table, COLUMNS, "person", 1, BOUNDS)


@pytest.mark.operation("dp_bound")
def test_bounding_keeps_the_first_rows_of_each_person_and_clamps(
    engine: Engine, table: TableSource, once: TableSource
) -> None:
    assert set(once.columns) == {*COLUMNS, clamped("income")}
    values = engine.dp_values(once, "income", ["person"], [(f"P{i}",) for i in range(1, 8)])
    assert values == [[1000.0], [10000.0], [0.0], [0.0], [3000.0], [0.0], [4000.0]]
    twice = engine.dp_bound(table, COLUMNS, "person", 2, BOUNDS)
    cells = engine.dp_cells(twice, [], ["income"])
    assert cells.counts == [9]
    assert cells.sums == {"income": [1000.0 + 5000 + 10000 + 0 + 0 + 3000 + 0 + 2000 + 4000]}


@pytest.mark.operation("dp_cells")
def test_cells_without_groups(engine: Engine, once: TableSource) -> None:
    cells = engine.dp_cells(once, [], ["income"])
    assert (cells.keys, cells.counts) == ([()], [7])
    assert cells.sums == {"income": [18000.0]}


@pytest.mark.operation("dp_cells")
def test_cells_of_distinct_groups_are_sorted_and_a_missing_key_counts_zero(
    engine: Engine, once: TableSource
) -> None:
    cells = engine.dp_cells(once, ["region"], ["income"])
    assert cells.keys == [(None,), ("east",), ("north",), ("south",)]
    assert cells.counts == [0, 1, 3, 2]  # None = None is unknown in SQL: P3 matches no key
    assert cells.sums == {"income": [0.0, 3000.0, 5000.0, 10000.0]}
    two = engine.dp_cells(once, ["region", "sex"], [])
    assert two.keys == [
        (None, "F"), ("east", None), ("north", "F"), ("north", "M"), ("south", "F"),
        ("south", "M"),
    ]  # fmt: skip
    assert two.counts == [0, 0, 2, 1, 1, 1]
    assert two.sums == {}


@pytest.mark.operation("dp_cells")
def test_cells_of_a_public_domain_keep_its_order_with_zeros(
    engine: Engine, once: TableSource
) -> None:
    domain = [("south", "M"), ("north", "F"), ("west", "F")]
    cells = engine.dp_cells(once, ["region", "sex"], ["income"], domain=domain)
    assert cells.keys == domain
    assert cells.counts == [1, 2, 0]
    assert cells.sums == {"income": [10000.0, 5000.0, 0.0]}


@pytest.mark.operation("dp_cells")
@pytest.mark.parametrize(
    ("where", "people"),
    [
        (Compare("income", ">=", 3000.0), {"P2", "P5", "P7"}),  # 12000, 3000, 4000 as written
        (Compare("income", "<", 0.0), {"P4"}),
        (Compare("region", "=", "north"), {"P1", "P4", "P7"}),
        (Compare("region", "<>", "north"), {"P2", "P5", "P6"}),  # a missing region is unknown
        (Compare("income", "=", "1000"), {"P1"}),  # compared as text
        (InSet("income", (1000.0, 4000.0, 7.0), numeric=True), {"P1", "P7"}),
        (InSet("region", ("east", "south"), numeric=False), {"P2", "P5", "P6"}),
        (Between("income", 0.0, 3000.0), {"P1", "P5"}),
        (Between("region", "e", "o"), {"P1", "P4", "P5", "P7"}),
        (IsNull("sex"), {"P5"}),
        (Not(IsNull("income")), {"P1", "P2", "P3", "P4", "P5", "P7"}),
        (Not(Compare("region", "=", "north")), {"P2", "P5", "P6"}),
        (And(Compare("sex", "=", "F"), Compare("region", "=", "north")), {"P1", "P7"}),
        (Or(Compare("sex", "=", "M"), IsNull("region")), {"P2", "P3", "P4"}),
        (Or(Compare("region", "=", "x"), Not(Compare("sex", "=", "M"))), {"P1", "P3", "P6", "P7"}),
    ],
)
def test_conditions_keep_the_rows_sql_keeps(
    engine: Engine, once: TableSource, where: Condition, people: set[str]
) -> None:
    cells = engine.dp_cells(once, ["person"], [], where)
    assert {k[0] for k, n in zip(cells.keys, cells.counts, strict=True) if n} == people
    assert cells.counts == [1] * len(people)
    assert engine.dp_cells(once, [], [], where).counts == [len(people)]


@pytest.mark.operation("dp_cells")
def test_filtered_and_grouped_sums(engine: Engine, once: TableSource) -> None:
    where = Compare("sex", "=", "F")
    cells = engine.dp_cells(once, ["region"], ["income"], where)
    assert cells.keys == [(None,), ("north",), ("south",)]
    assert cells.counts == [0, 2, 1]
    assert cells.sums == {"income": [0.0, 5000.0, 0.0]}
    checked = engine.dp_cells(once, ["region"], ["income"], where, limit=0)
    assert checked.counts == []


@pytest.mark.operation("dp_cells")
def test_a_condition_that_does_not_fit_the_table_is_an_evaluation_error(
    engine: Engine, once: TableSource
) -> None:
    for where, groups in [(Compare("nosuch", "=", "a"), []), (None, ["nosuch"])]:
        with pytest.raises(EvaluationError) as caught:
            engine.dp_cells(once, groups, [], where, limit=0)
        assert isinstance(caught.value, InvalidInputError)
        assert caught.value.kind  # the engine's error class, never a value


@pytest.mark.operation("dp_values")
def test_values_per_key(engine: Engine, once: TableSource) -> None:
    keys = [("north",), (None,), ("south",), ("west",)]
    values = engine.dp_values(once, "income", ["region"], keys)
    assert [sorted(v) for v in values] == [[0.0, 1000.0, 4000.0], [], [0.0, 10000.0], []]
    only = engine.dp_values(once, "income", [], [()], Compare("region", "=", "south"))
    assert [sorted(v) for v in only] == [[0.0, 10000.0]]
    female = engine.dp_values(once, "income", ["region"], keys, Compare("sex", "=", "F"))
    assert [sorted(v) for v in female] == [[1000.0, 4000.0], [], [0.0], []]
