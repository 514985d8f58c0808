# ruff: noqa: F811  (the fixtures imported from other test modules)
"""The exact Budget value, the workspace's bounded caches, and dp's place in the layers."""

from __future__ import annotations

import ast
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import custodes.dp
from custodes import Workspace
from custodes.dp import BOUNDED_TABLES, LRU, Budget, parse_rho, query_spend
from custodes.errors import RefusedError, SettingError
from custodes.settings import Settings
from tests.test_dp import service  # noqa: F401 (the DP service fixture, both stores)
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)

rhos = st.fractions(min_value=0, max_value=10**6, max_denominator=10**12)
budgets = rhos.map(Budget)

# ------------------------------------------------------------ arithmetic, exactly


@given(budgets, budgets, budgets)
def test_budgets_add_and_subtract_exactly(a: Budget, b: Budget, c: Budget) -> None:
    assert (a + b) - b == a
    assert a + b == b + a
    assert (a + b) + c == a + (b + c)
    assert (a + b).rho == a.rho + b.rho
    assert a + Budget() == a


@given(budgets, budgets)
def test_a_spend_fits_exactly_when_it_is_not_more(spend: Budget, available: Budget) -> None:
    assert spend.fits_within(available) == (spend <= available) == (spend.rho <= available.rho)
    short = spend.short_of(available)
    assert short >= Budget()
    assert (short == Budget()) == spend.fits_within(available)
    assert spend.fits_within(available + short)
    if not spend.fits_within(available):
        assert available + short == spend


@given(budgets, st.integers(min_value=1, max_value=64))
def test_a_split_adds_back_to_the_whole(whole: Budget, parts: int) -> None:
    share = whole.split(parts)
    total = Budget()
    for _ in range(parts):
        total += share
    assert total == whole


@given(budgets)
def test_budgets_round_trip_through_store_ledger_and_text(value: Budget) -> None:
    assert Budget.stored(value.exact()) == value
    assert Budget.from_ledger(value.to_ledger()) == value
    assert value.to_ledger() == [value.rho.numerator, value.rho.denominator]
    assert value.shown(exact=True) == value.exact() == str(value.rho)
    shown = str(value)
    assert "/" not in shown
    assert "e" not in shown.lower()
    assert len(shown.replace(".", "").lstrip("0")) <= 7  # 6 significant digits (+ integer part)
    assert Fraction(shown) == pytest.approx(value.rho, rel=1e-5, abs=0)


def test_budgets_show_short_decimals() -> None:
    assert [str(Budget(Fraction(n, d))) for n, d in [(1, 4), (0, 1), (1, 3), (5, 1), (2, 25)]] == [
        "0.25", "0", "0.333333", "5", "0.08",
    ]  # fmt: skip
    assert Budget(Fraction(1, 3)).shown(exact=True) == "1/3"
    assert Budget(1) == Budget(Fraction(1))
    with pytest.raises(TypeError):
        Budget(0.5)  # type: ignore[arg-type]


def test_insufficient_budget_says_requested_remaining_and_difference() -> None:
    refusal = Budget(Fraction(1, 10)).refusal("your", "people", Budget(Fraction(1, 20)))
    assert isinstance(refusal, RefusedError)
    assert str(refusal) == (
        "your privacy budget on people cannot pay: requested rho 1/10 (0.1), remaining 1/20 "
        "(0.05), short by 0.05."
    )


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "1e400", "1e7", "x", ""])
def test_totals_outside_the_range_are_setting_errors(text: str) -> None:
    with pytest.raises(SettingError, match="rho"):
        Budget.total(text)
    with pytest.raises(SettingError, match="rho"):
        parse_rho(text)


def test_spends_come_from_rho_or_epsilon() -> None:
    assert Budget.spend("1/8", None, 1e-6) == Budget(Fraction(1, 8))
    assert query_spend("0.125", None, 1e-6) == Fraction(1, 8)
    by_epsilon = Budget.spend(None, "1", 1e-6)
    assert by_epsilon.epsilon(1e-6) <= 1.0
    assert by_epsilon.epsilon(1e-6) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(SettingError, match="one of them"):
        Budget.spend("1", "1", 1e-6)
    with pytest.raises(SettingError, match=r"outside the accepted range 0\.000000001 to 100"):
        Budget.spend("1000", None, 1e-6)


# ------------------------------------------------------------ caches the workspace owns


def test_an_lru_holds_at_most_its_bound_and_drops_the_least_recently_used() -> None:
    cache: LRU[int, str] = LRU(3)
    for key in range(3):
        cache.put(key, str(key))
    assert cache.get(0) == "0"  # 0 is now the most recent: 1 goes first
    cache.put(3, "3")
    assert len(cache) == 3
    assert 1 not in cache
    assert [k in cache for k in (0, 2, 3)] == [True, True, True]
    made: list[int] = []
    assert cache.get_or_make(4, lambda: made.append(4) or "4") == "4"
    assert cache.get_or_make(4, lambda: made.append(4) or "again") == "4"
    assert made == [4]
    assert len(cache) == 3
    with pytest.raises(ValueError, match="at least one"):
        LRU(0)


_SHAPES = [
    "SELECT COUNT(*) FROM people",
    "SELECT sex, COUNT(*) FROM people GROUP BY sex",
    "SELECT SUM(income) FROM people",
    "SELECT region, COUNT(*) FROM people GROUP BY region",
    "SELECT COUNT(*) FROM people WHERE secret = '1'",
    "SELECT sex, SUM(income) FROM people WHERE region = 'north' GROUP BY sex",
]


def test_bounded_tables_are_the_workspaces_and_bounded(service: tuple[Settings, Path]) -> None:
    settings, _ = service
    first, second = Workspace(settings), Workspace(settings)
    access = first.queries("an")
    for sql in _SHAPES:  # each reads another set of columns: another bounded table
        access.query(sql, rho="1/1000")
        assert len(first._query_caches.tables) <= BOUNDED_TABLES
    assert len(first._query_caches.tables) == BOUNDED_TABLES
    assert len(first._file_hashes) == 1  # one source file, hashed once
    assert len(second._query_caches.tables) == 0  # nothing shared between workspaces
    second.queries("an").query(_SHAPES[0], rho="1/1000")
    assert len(second._query_caches.tables) == 1
    assert first._query_caches.tables is not second._query_caches.tables
    assert first.queries("an").tables is first.queries("st").tables  # one per workspace
    access.close()


def test_queries_that_were_refused_by_polars_are_answered(service: tuple[Settings, Path]) -> None:
    """A grouped SUM and AVG of one column, and BETWEEN on text, used to fail in Polars
    (a duplicate column; text read as a column name) and be refused as type errors."""
    settings, _ = service
    access = Workspace(settings).queries("an")
    both = access.query(
        "SELECT sex, SUM(income), AVG(income) FROM people GROUP BY sex", rho="1/100"
    )
    assert both["columns"] == ["sex", "sum(income)", "avg(income)"]
    assert len(both["rows"]) == 2
    text = access.query("SELECT COUNT(*) FROM people WHERE region BETWEEN 'a' AND 'm'", rho="1/100")
    assert text["rows"][0]["count"] is not None
    access.close()


# ------------------------------------------------------------ dp's place in the layers


def test_dp_imports_neither_governance_nor_polars() -> None:
    """dp is governance's sibling: it receives an Access; only engines touch Polars."""
    folder = Path(custodes.dp.__file__).parent
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("polars", "custodes.governance")), (path.name, name)
    code = "import sys, custodes.dp; print('custodes.governance' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "False"


def test_a_privacy_loss_written_to_take_the_machine_is_refused_at_once() -> None:
    """Fraction("1e-999999999") takes hours: such a text is refused before it is read."""
    import threading

    from custodes.dp._budget import Budget
    from custodes.errors import SettingError

    outcomes: list[str] = []

    def attempt() -> None:
        for text in ("1e-999999999", "1e999999999", "1" * 5000, "1/" + "9" * 5000):
            try:
                Budget.spend(text, None, 1e-6)
            except SettingError:
                outcomes.append("refused")
            try:
                Budget.total(text)
            except SettingError:
                outcomes.append("refused")

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(30)
    assert outcomes == ["refused"] * 8
    assert Budget.total("1/4").rho == Budget.total("0.25").rho == Budget.total("2.5e-1").rho
