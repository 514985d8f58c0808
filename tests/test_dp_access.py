# ruff: noqa: F811  (the fixtures imported from other test modules)
"""DP access keeps to what the board approved; refused or failed queries spend nothing (issue 11).

Budgets move only through review; limits, bad privacy parameters and hostile
query strings are clear input errors; quantiles work; the audit report shows
every budget and where it came from.
"""

from __future__ import annotations

import contextlib
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from custodes import Workspace
from custodes.dp import epsilon_of, parse_query, rho_of_epsilon
from custodes.engines._polars_dp import polars_condition
from custodes.errors import (
    CustodesError,
    ForbiddenError,
    InvalidInputError,
    RefusedError,
    SettingError,
    UnknownColumnError,
)
from custodes.governance import Governance, audit_report
from custodes.ledger import open_ledger
from custodes.settings import Settings
from tests.test_dp import service  # noqa: F401 (the DP service fixture, both stores)
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)

Service = tuple[Settings, Path]


def _grant(settings: Settings, who: str, columns: list[str]) -> str:
    ws = Workspace(settings)
    request = Governance(ws, who).file_request("people")
    Governance(ws, who).set_objectives(
        request, purpose="public_welfare", sharing_model="dp_query", columns=columns,
        intended_use="statistics", term_end="2030-01-01",
    )  # fmt: skip
    Governance(ws, "st").identify(request)
    Governance(ws, "st").prepare(request)
    Governance(ws, who).submit(request)
    Governance(ws, "lee").decide(request, True, "aggregates only")
    Governance(ws, "pat").decide(request, True, "budgeted")
    Governance(ws, "st").release(request, recipient=who, terms="DP access")
    return request


def _state(settings: Settings) -> tuple[dict[str, Any], int]:
    """The budgets on people, and how many queries the ledger says were answered."""
    budgets = Workspace(settings).queries("st").budget("people", exact=True)["budgets"]
    ledger = open_ledger(settings)
    answered = sum(
        1 for i in range(ledger.size()) if ledger.entry(i)["type"] == "dp.query_answered"
    )
    return budgets, answered


# ------------------------------------------------------------ what the board approved


def test_a_query_reads_only_the_columns_the_released_request_names(service: Service) -> None:
    settings, _ = service
    _grant(settings, "other", ["sex"])
    access = Workspace(settings).queries("other")
    before = _state(settings)
    for sql in [
        "SELECT region, COUNT(*) FROM people GROUP BY region",
        "SELECT COUNT(*) FROM people WHERE region = 'north'",
        "SELECT sex, SUM(income) FROM people GROUP BY sex",
    ]:
        with pytest.raises(ForbiddenError, match=r"column '(region|income)' .*sex"):
            access.query(sql, rho="1/100")
    assert _state(settings) == before
    access.query("SELECT sex, COUNT(*) FROM people GROUP BY sex", rho="1/100")


# ------------------------------------------------------------ nothing spent on failure


@pytest.mark.parametrize(
    ("sql", "error", "named"),
    [
        ("SELECT COUNT(*) FROM people WHERE nosuch = 'x'", UnknownColumnError, "'nosuch'"),
        ("SELECT s\u0435x, COUNT(*) FROM people GROUP BY s\u0435x", UnknownColumnError, "U+0435"),
        ("SELECT COUNT(*) FROM people WHERE income IN (1000, 2000)", None, None),
        ("SELECT COUNT(*) FROM people WHERE " + "(" * 3000 + "sex = 'F'" + ")" * 3000,
         InvalidInputError, "nesting depth"),
        ("SELECT COUNT(*) FROM people WHERE " + "NOT " * 4900 + "sex='F'", InvalidInputError,
         "nesting depth"),
        ("SELECT COUNT(*) FROM people WHERE " + " AND ".join(["sex='F'"] * 1000),
         InvalidInputError, "conditions"),
        ("SELECT COUNT(*) FROM people WHERE income IN (" + ",".join(["1"] * 100_000) + ")",
         InvalidInputError, "characters"),
        ("SELECT COUNT(*) FROM people WHERE income IN (" + ",".join(["1"] * 2_000) + ")",
         InvalidInputError, "at most 1000 values"),
        ("SELECT " + ", ".join(["COUNT(*)"] * 100) + " FROM people", InvalidInputError,
         "at most 64 groups and aggregates"),
    ],
)  # fmt: skip
def test_bad_queries_spend_nothing(
    service: Service, sql: str, error: type[Exception] | None, named: str | None
) -> None:
    settings, _ = service
    access = Workspace(settings).queries("an")
    before = _state(settings)
    if error is None:  # an integer IN list is answered, and paid once
        answer = access.query(sql, rho="1/100")
        assert answer["rows"][0]["count"] is not None
        assert _state(settings)[1] == before[1] + 1
        return
    with pytest.raises(error) as caught:
        access.query(sql, rho="1/100")
    assert named is not None
    assert named in str(caught.value)
    assert _state(settings) == before


def test_a_failure_while_computing_rolls_the_reservation_back(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custodes.dp._service as dp_service

    settings, _ = service

    real = dp_service.answer_query

    def broken(*args: Any, dry: bool = False) -> dict[str, Any]:
        if dry:  # the check before spending passes; the computation after locking fails
            return real(*args, dry=True)
        raise RuntimeError("boom")

    monkeypatch.setattr(dp_service, "answer_query", broken)
    before = _state(settings)
    with pytest.raises(CustodesError, match="nothing was spent"):
        Workspace(settings).queries("an").query("SELECT COUNT(*) FROM people", rho="0.1")
    assert _state(settings) == before


def test_the_ledger_entry_carries_the_answers_hash(service: Service) -> None:
    settings, _ = service
    answer = (
        Workspace(settings)
        .queries("an")
        .query("SELECT sex, COUNT(*) FROM people GROUP BY sex", rho="0.1")
    )
    ledger = open_ledger(settings)
    entry = next(
        ledger.entry(i)
        for i in range(ledger.size())
        if ledger.entry(i)["type"] == "dp.query_answered"
    )
    assert entry["payload"]["answer_sha256"] == answer["answer_sha256"]
    assert len(answer["answer_sha256"]) == 64


@pytest.mark.parametrize(
    ("rho", "epsilon"),
    [
        (None, "-1"), (None, "nan"), (None, "inf"), (None, "-inf"), (None, "0"), (None, "1e400"),
        (None, "1e9"), ("1e-400", None), ("1e400", None), ("nan", None), ("inf", None),
        ("0", None), ("-1/4", None), ("1e9", None), (None, float("nan")), (None, -1.0),
    ],
)  # fmt: skip
def test_absurd_privacy_losses_are_invalid_input(
    service: Service, rho: str | None, epsilon: str | float | None
) -> None:
    settings, _ = service
    before = _state(settings)
    with pytest.raises(SettingError, match=r"rho|epsilon"):
        Workspace(settings).queries("an").query(
            "SELECT COUNT(*) FROM people", rho=rho, epsilon=epsilon
        )
    assert _state(settings) == before


def test_cli_refuses_absurd_epsilon_with_exit_2(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    settings, _ = service
    if settings.store_url.startswith("postgresql"):
        pytest.skip("the command line is the same on both stores")
    (settings.workspace / "settings.toml").write_text(
        f'store_url = "{settings.store_url}"\n', encoding="utf-8"
    )
    base = ["--workspace", str(settings.workspace), "--as", "an"]
    sql = "SELECT COUNT(*) FROM people"
    for flag, value in [("--epsilon", "-1"), ("--epsilon", "nan"), ("--rho", "1e-400"),
                        ("--rho", "1e400"), ("--epsilon", "inf")]:  # fmt: skip
        assert main(["dp", "query", "people", sql, flag, value, *base]) == 2, (flag, value)
        message = capsys.readouterr().err
        assert "rho" in message or "epsilon" in message
        assert value in message
    deep = "SELECT COUNT(*) FROM people WHERE " + "(" * 5000 + "sex = 'F'" + ")" * 5000
    assert main(["dp", "query", "people", deep, "--rho", "0.01", *base]) == 2
    assert "nesting depth" in capsys.readouterr().err


# ------------------------------------------------------------ epsilon and rho people can read


def test_epsilon_converts_to_a_short_rho_rounded_down() -> None:
    for text in ["0.5", "1", "3", "0.1", "2.5"]:
        rho = rho_of_epsilon(text, 1e-6)
        assert rho.denominator <= 10**12
        assert epsilon_of(rho, 1e-6) <= float(text)
        assert epsilon_of(rho, 1e-6) == pytest.approx(float(text), rel=1e-6)


def test_budgets_show_decimals_and_exact_fractions_on_request(service: Service) -> None:
    settings, _ = service
    access = Workspace(settings).queries("an")
    answer = access.query("SELECT COUNT(*) FROM people", epsilon="0.5")
    assert len(answer["rho_spent"]) < 16
    assert any("concave" in note for note in answer["notes"])
    shown = Workspace(settings).queries("st").budget("people")["budgets"]["an"]
    assert "/" not in shown["spent_rho"]
    assert len(shown["spent_rho"]) < 16
    exact = Workspace(settings).queries("st").budget("people", exact=True)["budgets"]["an"]
    spent = Fraction(exact["spent_rho"])
    assert spent == rho_of_epsilon("0.5", 1e-6)
    assert len(str(spent.denominator)) <= 12


# ------------------------------------------------------------ quantiles


def test_median_and_quantile_answer_near_the_truth(service: Service, tmp_path: Path) -> None:
    settings, data = service
    truth = pl.read_csv(data, infer_schema=False).get_column("income").cast(pl.Float64)
    access = Workspace(settings).queries("an")
    before = _state(settings)
    answer = access.query("SELECT MEDIAN(income), QUANTILE(income, 0.9) FROM people", rho="1/8")
    row = answer["rows"][0]
    assert abs(row["quantile(income, 0.5)"] - float(truth.median() or 0)) < 600
    assert abs(row["quantile(income, 0.9)"] - float(truth.quantile(0.9) or 0)) < 600
    by_sex = access.query("SELECT sex, MEDIAN(income) FROM people GROUP BY sex", rho="1/10")
    assert {r["sex"] for r in by_sex["rows"]} == {"F", "M"}
    assert _state(settings)[1] == before[1] + 2


# ------------------------------------------------------------ budget changes go through review


def test_raising_a_budget_needs_the_boards_approval(service: Service) -> None:
    settings, _ = service
    ws = Workspace(settings)
    steward = ws.queries("st")
    with pytest.raises(RefusedError, match="budget-change propose"):
        steward.set_budget("people", "5", recipient="an")
    steward.set_budget("people", "1/8", recipient="an")  # lowering: one steward suffices
    change = steward.propose_budget_change("people", "1/2", recipient="an", reason="more tables")
    assert _state(settings)[0]["an"]["total_rho"] == "1/8"
    Governance(ws, "root").add_actor(
        "st2", ["steward", "reviewer"], organisation="O", credential="c2", board_role="legal"
    )
    own = ws.queries("st2").propose_budget_change("people", "1", recipient="an", reason="x")
    with pytest.raises(ForbiddenError, match="proposed"):
        ws.queries("st2").decide_budget_change(own, True, "mine")
    with pytest.raises(ForbiddenError, match="reviewer"):
        ws.queries("an").decide_budget_change(change, True, "yes")
    assert ws.queries("lee").decide_budget_change(change, True, "justified") == ("under_review")
    assert _state(settings)[0]["an"]["total_rho"] == "1/8"
    with pytest.raises(RefusedError, match="decided"):
        ws.queries("lee").decide_budget_change(change, True, "again")
    assert ws.queries("pat").decide_budget_change(change, True, "ok") == "approved"
    assert _state(settings)[0]["an"]["total_rho"] == "1/2"
    listed = {c["id"]: c for c in steward.budget_changes("people")}
    assert listed[change]["state"] == "approved"
    assert [d["reviewer"] for d in listed[change]["decisions"]] == ["lee", "pat"]
    # A rejected change changes nothing; the global ceiling goes the same way.
    ceiling = steward.propose_budget_change("people", "50", reason="census run")
    assert ws.queries("pat").decide_budget_change(ceiling, False, "too much") == ("rejected")
    assert _state(settings)[0]["global"]["total_rho"] != "50"
    ledger = open_ledger(settings)
    types = [ledger.entry(i)["type"] for i in range(ledger.size())]
    for event in ["dp.budget_change.proposed", "dp.budget_change.decided",
                  "dp.budget_change.approved", "dp.budget_change.rejected"]:  # fmt: skip
        assert event in types, event
    # The audit report names every budget, its spending and its source.
    Governance(ws, "root").add_actor("aud", ["auditor"], organisation="O", credential="c-aud")
    ws.queries("an").query("SELECT COUNT(*) FROM people", rho="1/10")
    from datetime import date

    report = audit_report(Governance(ws, "aud"), date.today().year)
    rows = {(b["dataset"], b["recipient"]): b for b in report["dp_budget_spent"]}
    mine = rows[("people", "an")]
    assert (mine["total_rho"], mine["spent_rho"], mine["remaining_rho"]) == ("0.5", "0.1", "0.4")
    assert mine["queries"] == 1
    assert mine["source"] == f"budget change {change}"
    assert rows[("people", "*")]["source"] == "grade default (general)"
    json.dumps(report)
    from custodes.report import render_audit_html

    assert "budget change" in render_audit_html(report)


def test_cli_budget_change_commands(service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    from custodes.cli import main

    settings, _ = service
    if settings.store_url.startswith("postgresql"):
        pytest.skip("the command line is the same on both stores")
    (settings.workspace / "settings.toml").write_text(
        f'store_url = "{settings.store_url}"\n', encoding="utf-8"
    )
    base = ["--workspace", str(settings.workspace)]
    argv = ["dp", "budget-change", "propose", "people", "--total", "0.75", "--recipient", "an",
            "--reason", "a second wave", "--as", "st", *base]  # fmt: skip
    assert main(argv) == 0
    change = capsys.readouterr().out.strip()
    for who in ("lee", "pat"):
        argv = ["dp", "budget-change", "review", change, "--rationale", "fine", "--as", who, *base]
        assert main(argv) == 0
    assert "approved" in capsys.readouterr().out
    assert main(["dp", "budget-change", "list", "people", "--as", "st", *base]) == 0
    assert json.loads(capsys.readouterr().out)[0]["state"] == "approved"
    assert main(["dp", "budget", "people", "--exact", "--as", "st", *base]) == 0
    assert json.loads(capsys.readouterr().out)["budgets"]["an"]["total_rho"] == "3/4"
    assert main(["dp", "budget", "people", "--set", "5", "--recipient", "an", "--as", "st",
                 *base]) == 2  # fmt: skip
    assert "budget-change propose" in capsys.readouterr().err


# ------------------------------------------------------------ hostile query strings

_WORDS = st.sampled_from(
    ["SELECT", "COUNT(*)", "SUM(income)", "AVG(income)", "MEDIAN(income)", "QUANTILE(income,",
     "0.5)", "FROM", "people", "WHERE", "GROUP", "BY", "sex", "region", "income", "secret",
     "s\u0435x", "nosuch", "=", "<>", "<", ">=", "IN", "(", ")", ",", "'F'", "1", "-2.5", "1e400",
     "AND", "OR", "NOT", "BETWEEN", "IS", "NULL", "(SELECT", "JOIN", "*", ";", "--", "'", "\\"]
)  # fmt: skip


@given(st.lists(_WORDS, max_size=25).map(" ".join) | st.text(max_size=60))
@hsettings(max_examples=300, deadline=None)
def test_random_query_strings_never_crash_the_dialect(text: str) -> None:
    with contextlib.suppress(CustodesError):
        parse_query(text)


_PREFIXES = st.sampled_from(
    ["SELECT COUNT(*) FROM people", "SELECT sex, COUNT(*) FROM people",
     "SELECT MEDIAN(income) FROM people", "SELECT SUM(income) FROM people"]
)  # fmt: skip


@given(prefix=_PREFIXES, tail=st.lists(_WORDS, max_size=12).map(" ".join))
@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_refused_query_never_spends(service: Service, prefix: str, tail: str) -> None:
    settings, _ = service
    before = _state(settings)
    access = Workspace(settings).queries("an")
    try:
        access.query(f"{prefix} {tail}", rho="1/1000")
    except CustodesError:
        assert _state(settings) == before
    else:
        budgets, answered = _state(settings)
        assert answered == before[1] + 1
        unspent = {"spent_rho": "0"}
        spent = Fraction(budgets["an"]["spent_rho"])
        assert spent - Fraction(before[0].get("an", unspent)["spent_rho"]) == Fraction(1, 1000)
    finally:
        access.close()


def test_concurrent_first_queries_of_a_recipient_all_pay(service: Service) -> None:
    """The recipient's budget row does not exist yet: concurrent first queries create it once."""
    import threading

    settings, _ = service
    outcomes: list[str] = []

    def ask() -> None:
        access = Workspace(settings).queries("an")
        try:
            access.query("SELECT COUNT(*) FROM people", rho="1/100")
            outcomes.append("answered")
        except Exception as exc:  # any failure is the finding
            outcomes.append(type(exc).__name__)
        finally:
            access.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["answered"] * 8
    budgets, answered = _state(settings)
    assert budgets["an"]["spent_rho"] == "2/25"
    assert budgets["an"]["queries"] == 8
    assert answered == 8


def test_the_audit_finds_budgets_the_ledger_does_not_back(service: Service) -> None:
    from datetime import date

    import sqlalchemy as sa

    from custodes.store import Store

    settings, _ = service
    ws = Workspace(settings)
    Governance(ws, "root").add_actor("aud", ["auditor"], organisation="O", credential="c-aud")
    ws.queries("an").query("SELECT COUNT(*) FROM people", rho="1/10")
    clean = audit_report(Governance(ws, "aud"), date.today().year)["anomalies"]
    assert not [a for a in clean if "rho" in a]
    # An operator with the database raises a budget and hides the spending.
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE dp_budgets SET total = '9', spent = '0' WHERE recipient = 'an'")
        )
    engine.dispose()
    Store.dispose_all()
    found = audit_report(Governance(Workspace(settings), "aud"), date.today().year)["anomalies"]
    assert any("an's budget on people says rho 0 spent" in a for a in found)
    assert any("above its grade default without an approved budget change" in a for a in found)


def test_in_lists_compare_numbers_as_numbers_and_text_as_written() -> None:
    frame = pl.DataFrame({"x": ["1", "2.0", "a", "3"]})
    numbers = parse_query("SELECT COUNT(*) FROM p WHERE x IN (1, 2)").where
    mixed = parse_query("SELECT COUNT(*) FROM p WHERE x IN (1, 'a')").where
    assert numbers is not None
    assert mixed is not None
    assert frame.filter(polars_condition(numbers)).get_column("x").to_list() == ["1", "2.0"]
    assert frame.filter(polars_condition(mixed)).get_column("x").to_list() == ["1", "a"]


# ------------------------------------------------------------ one row per person


def test_a_table_with_one_row_per_person_needs_no_person_column(service: Service) -> None:
    """Census-style microdata: the row is the privacy unit (``unit_is_row = true``); every
    row counts once, and the answer says so."""
    settings, data = service
    truth = pl.read_csv(data, infer_schema=False)
    ws = Workspace(settings)
    steward = ws.queries("st")
    with pytest.raises(SettingError, match="not both"):
        steward.configure("people", {"privacy_unit": "person", "unit_is_row": True})
    with pytest.raises(SettingError, match="max_contributions 1"):
        steward.configure("people", {"unit_is_row": True, "max_contributions": 2})
    with pytest.raises(SettingError, match="unit_is_row = true"):
        steward.configure("people", {"privacy_unit": "nosuchcolumn"})
    steward.configure(
        "people",
        {"unit_is_row": True, "bounds": {"income": [0, 10_000]},
         "public_groups": {"sex": ["F", "M"]}},
    )  # fmt: skip
    answer = ws.dp_query("SELECT sex, COUNT(*) FROM people GROUP BY sex", actor="an", rho="1/16")
    assert any("each row is one person" in note for note in answer["notes"])
    for row in answer["rows"]:
        exact = truth.filter(pl.col("sex") == row["sex"]).height  # every row, duplicates too
        assert abs(row["count"] - exact) < 30
    total = ws.dp_query("SELECT COUNT(*) FROM people", actor="an", rho="1/16")
    assert abs(total["rows"][0]["count"] - truth.height) < 30
    # Grouping by a column is allowed: there is no person column to single out.
    by_region = ws.dp_query(
        "SELECT region, COUNT(*) FROM people GROUP BY region", actor="an", rho="1/16"
    )
    assert by_region["rows"]
