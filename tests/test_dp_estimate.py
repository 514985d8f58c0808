"""`dp estimate`: a query's cost and interval widths before spending, exactly what it is charged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from custodes import Workspace
from custodes.errors import ForbiddenError, RefusedError
from custodes.governance import Governance
from custodes.ledger import open_ledger
from custodes.settings import Settings
from custodes.store import Store
from tests.test_dp import dp_service
from tests.test_dp_access import _grant


class Session:
    """One workspace with ``people`` set up for DP queries, shared by the module's tests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ws = Workspace(settings)
        self.an = self.ws.queries("an")
        self.steward = self.ws.queries("st")

    def budgets(self) -> dict[str, Any]:
        """Every budget on people, rho as exact fractions."""
        budgets: dict[str, Any] = self.steward.budget("people", exact=True)["budgets"]
        return budgets

    def spent(self, who: str) -> Fraction:
        return Fraction(self.budgets()[who]["spent_rho"])

    def ledger_size(self) -> int:
        return open_ledger(self.settings).size()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """``an`` and the dataset's ceiling raised by the board to rho 1000 (so that many queries
    can be paid); ``other`` granted the column sex only; ``outsider``, a requester without any
    request. Settings in the workspace folder, for the command line."""
    folder = tmp_path_factory.mktemp("estimate")
    url = f"sqlite:///{folder / 'custodes.db'}"
    settings, _ = dp_service(folder, url)
    (settings.workspace / "settings.toml").write_text(f'store_url = "{url}"\n', encoding="utf-8")
    ws = Workspace(settings)
    for recipient in ("an", "*"):
        change = ws.queries("st").propose_budget_change(
            "people", "1000", recipient=recipient, reason="many test queries"
        )
        for reviewer in ("lee", "pat"):
            ws.queries(reviewer).decide_budget_change(change, True, "a test")
    _grant(settings, "other", ["sex"])
    Governance(ws, "root").add_actor(
        "outsider", ["requester"], organisation="Office", credential="c-outsider"
    )
    shared = Session(settings)
    yield shared
    shared.an.close()
    shared.steward.close()
    Store.dispose_all()


# ------------------------------------------------------------ the estimate is the charge

_AGGREGATES = st.lists(
    st.sampled_from(
        ["COUNT(*)", "COUNT(income)", "SUM(income)", "AVG(income)", "MEDIAN(income)",
         "QUANTILE(income, 0.9)"]
    ),
    min_size=1,
    max_size=3,
)  # fmt: skip
_WHERE = st.sampled_from(
    ["", "WHERE income > 3000", "WHERE sex = 'F'", "WHERE region IN ('north', 'east')",
     "WHERE income BETWEEN 2000 AND 8000 AND NOT sex = 'M'", "WHERE region = 'nowhere'",
     "WHERE sex = 'F' OR income < 1500"]
)  # fmt: skip
_GROUPS = st.sampled_from([(), ("sex",), ("region",), ("sex", "region")])
_RHO = st.fractions(
    min_value=Fraction(1, 10_000), max_value=Fraction(1, 4), max_denominator=100_000
).map(lambda f: {"rho": str(f)})
_RHO_DECIMAL = st.integers(1, 2_500).map(lambda n: {"rho": f"{n / 10_000:g}"})
_EPSILON = st.integers(1, 200).map(lambda n: {"epsilon": f"{n / 100:g}"})


@given(
    aggregates=_AGGREGATES,
    where=_WHERE,
    groups=_GROUPS,
    loss=_RHO | _RHO_DECIMAL | _EPSILON,
    exact=st.booleans(),
)
@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_estimate_is_what_the_query_is_charged(
    session: Session,
    aggregates: list[str],
    where: str,
    groups: tuple[str, ...],
    loss: dict[str, str],
    exact: bool,
) -> None:
    select = ", ".join([*groups, *aggregates])
    group_by = f" GROUP BY {', '.join(groups)}" if groups else ""
    sql = f"SELECT {select} FROM people {where}{group_by}"
    estimate = session.an.estimate(sql, exact=exact, **loss)
    before = {who: session.spent(who) for who in ("an", "global")}
    answer = session.an.query(sql, exact=exact, **loss)
    cost = Fraction(session.an.estimate(sql, exact=True, **loss)["rho_cost"])
    # The charge: what each budget paid, what the answer and the ledger say.
    for who in ("an", "global"):
        assert session.spent(who) - before[who] == cost
    assert estimate["rho_cost"] == answer["rho_spent"]
    assert estimate["epsilon_cost"] == answer["epsilon_spent"]
    ledger = open_ledger(session.settings)
    entry = ledger.entry(ledger.size() - 1)
    assert entry["type"] == "dp.query_answered"
    assert entry["payload"]["rho"] == [cost.numerator, cost.denominator]
    # What was left, as the estimate said it would be.
    after = estimate["budgets"]["recipient"]
    assert after["remaining_rho_after"] == answer["remaining_rho"]
    assert after["remaining_epsilon_after"] == answer["remaining_epsilon"]
    assert not estimate["refused"]
    # The intervals: the same mechanisms, scales and half-widths as the answer's, and every
    # cell's interval as wide as that (up to the answer's rounding of its ends).
    assert estimate["aggregates"] == answer["aggregates"]
    for shown in estimate["aggregates"]:
        half = shown["interval_half_width"]
        label = shown["aggregate"]
        for row in answer["rows"]:
            low, high = row[f"{label} 95% interval"] or (None, None)
            if half is not None:  # counts' ends are rounded to 2 decimals, sums' to 4
                rounding = 0.0101 if label.startswith("count") else 0.000101
                assert (high - low) / 2 == pytest.approx(half, abs=rounding)
            elif label.startswith("quantile"):
                assert low is None
    if estimate["groups"] is not None:
        assert len(answer["rows"]) == estimate["groups"]


def test_widths_follow_the_loss_and_the_settings(session: Session) -> None:
    """Sigma = sensitivity / sqrt(2 rho) per release: a count at rho 1/8 has sigma 2."""
    estimate = session.an.estimate("SELECT COUNT(*) FROM people", rho="1/8")
    (count,) = estimate["aggregates"]
    assert count["mechanism"] == "gaussian"
    assert count["noise_scales"]["count"] == pytest.approx(2.0, rel=1e-6)
    assert count["interval_half_width"] == pytest.approx(3.92, abs=0.01)
    assert estimate["groups"] == 1
    split = session.an.estimate("SELECT SUM(income), AVG(income) FROM people", rho="1/8")
    total, mean = split["aggregates"]  # three releases, rho 1/24 each; sums reach 10,000
    assert total["noise_scales"]["sum"] == pytest.approx(10_000 / (1 / 12) ** 0.5, rel=1e-6)
    assert mean["noise_scales"] == {
        "sum": total["noise_scales"]["sum"],
        "count": pytest.approx(12**0.5, rel=1e-6),
    }
    assert mean["interval_half_width"] is None
    public = session.an.estimate("SELECT sex, COUNT(*) FROM people GROUP BY sex", rho="0.1")
    private = session.an.estimate("SELECT region, COUNT(*) FROM people GROUP BY region", rho="0.1")
    assert public["groups"] == 2
    assert private["groups"] is None
    assert any("partition selection" in note for note in private["notes"])


# ------------------------------------------------------------ nothing spent, nothing written


def test_an_estimate_spends_and_records_nothing(session: Session) -> None:
    budgets, size = session.budgets(), session.ledger_size()
    other = session.ws.queries("other")
    sql = "SELECT sex, COUNT(*) FROM people GROUP BY sex"
    estimate = other.estimate(sql, epsilon="1", exact=True)
    other.close()
    assert session.budgets() == budgets
    assert "other" not in budgets  # no budget row made either: the grade's default is shown
    assert session.ledger_size() == size
    assert estimate["budgets"]["recipient"]["remaining_rho"] == "1/4"
    assert estimate["budgets"]["global"]["remaining_rho"] == budgets["global"]["remaining_rho"]
    facade = session.ws.dp_estimate("SELECT COUNT(*) FROM people", actor="an", rho=0.01)
    assert facade["rho_cost"] == "0.01"
    assert session.budgets() == budgets
    assert session.ledger_size() == size


def test_an_estimate_is_refused_to_whom_a_query_is(session: Session) -> None:
    size = session.ledger_size()
    outsider = session.ws.queries("outsider")
    with pytest.raises(ForbiddenError, match="no released request for DP query access"):
        outsider.estimate("SELECT COUNT(*) FROM people", rho="0.01")
    outsider.close()
    other = session.ws.queries("other")
    with pytest.raises(ForbiddenError, match=r"column 'income' .*sex"):
        other.estimate("SELECT SUM(income) FROM people", rho="0.01")
    with pytest.raises(ForbiddenError, match="needs the role 'requester'"):
        session.steward.estimate("SELECT COUNT(*) FROM people", rho="0.01")
    # Too much for other's budget: the estimate says so, with the query's own refusal.
    estimate = other.estimate("SELECT COUNT(*) FROM people", rho="1/2", exact=True)
    assert estimate["refused"]
    assert estimate["budgets"]["recipient"]["remaining_rho_after"] is None
    with pytest.raises(RefusedError) as caught:
        other.query("SELECT COUNT(*) FROM people", rho="1/2")
    other.close()
    assert estimate["refusal"] == str(caught.value)
    assert "requested rho 1/2 (0.5), remaining 1/4 (0.25)" in str(caught.value)
    assert session.ledger_size() == size


# ------------------------------------------------------------ the command line


def test_cli_dp_estimate(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    from custodes.cli import main

    base = ["--workspace", str(session.settings.workspace)]
    budgets, size = session.budgets(), session.ledger_size()
    sql = "SELECT sex, COUNT(*), SUM(income) FROM people GROUP BY sex"
    argv = ["dp", "estimate", "people", sql, "--rho", "0.02", "--exact", "--as", "an", *base]
    assert main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["rho_cost"] == "1/50"
    assert [a["aggregate"] for a in shown["aggregates"]] == ["count", "sum(income)"]
    assert shown["groups"] == 2
    assert set(shown["budgets"]) == {"recipient", "global"}
    assert shown == session.an.estimate(sql, rho="0.02", exact=True)
    assert main(["dp", "estimate", "people", sql, "--epsilon", "1", "--as", "an", *base]) == 0
    assert json.loads(capsys.readouterr().out)["epsilon_cost"] == pytest.approx(1.0, rel=1e-6)
    assert session.budgets() == budgets
    assert session.ledger_size() == size
    # Bad input is named, exit 2; no access, exit 4.
    assert main(["dp", "estimate", "people", sql, "--epsilon", "nan", "--as", "an", *base]) == 2
    assert "epsilon" in capsys.readouterr().err
    assert main(["dp", "estimate", "other", sql, "--rho", "0.1", "--as", "an", *base]) == 2
    assert "reads FROM another dataset" in capsys.readouterr().err
    argv = ["dp", "estimate", "people", "SELECT COUNT(*) FROM people JOIN x", "--rho", "0.1"]
    assert main([*argv, "--as", "an", *base]) == 2
    assert "JOIN" in capsys.readouterr().err
    argv = ["dp", "estimate", "people", sql, "--rho", "0.1", "--as", "outsider", *base]
    assert main(argv) == 4
    assert "no released request" in capsys.readouterr().err
