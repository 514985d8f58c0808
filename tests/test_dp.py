"""DP query access: the dialect, answers with intervals, budgets under concurrency, a red team."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from custodes import Workspace
from custodes.dp import parse_query, rho_of_epsilon
from custodes.dp._mechanisms import noisy_counts
from custodes.engines._polars_dp import polars_condition
from custodes.errors import ForbiddenError, InvalidInputError, RefusedError
from custodes.governance import Governance
from custodes.ledger import open_ledger
from custodes.settings import Settings, load_settings
from custodes.store import Store
from custodes.workspace import init_workspace
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)

# ------------------------------------------------------------ the dialect


def test_the_dialect_parses_aggregates_and_conditions() -> None:
    q = parse_query(
        "SELECT sex, COUNT(*), SUM(size), AVG(size), MEDIAN(size), QUANTILE(size, 0.9) "
        "FROM people WHERE size >= 2 AND (sex IN ('F', 'M') OR size BETWEEN 1 AND 3) "
        "GROUP BY sex"
    )
    assert q.dataset == "people"
    assert q.groups == ("sex",)
    assert [a.label for a in q.aggregates] == [
        "count", "sum(size)", "avg(size)", "quantile(size, 0.5)", "quantile(size, 0.9)",
    ]  # fmt: skip
    frame = pl.DataFrame({"sex": ["F", "M", "X"], "size": ["1", "2", "5"]})
    assert q.where is not None
    assert frame.filter(polars_condition(q.where)).get_column("sex").to_list() == ["M"]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT COUNT(*) FROM a JOIN b ON a.x = b.x", "a JOIN"),
        ("SELECT COUNT(*) FROM a WHERE x IN (SELECT x FROM b)", "subquery"),
        ("SELECT x, COUNT(*) FROM a GROUP BY x ORDER BY x", "ORDER BY"),
        ("SELECT COUNT(*) FROM a LIMIT 5", "LIMIT"),
        ("SELECT x, COUNT(*) FROM a GROUP BY x HAVING COUNT(*) > 3", "HAVING"),
        ("SELECT MAX(x) FROM a", "the function MAX"),
        ("SELECT COUNT(DISTINCT x) FROM a", "COUNT(DISTINCT"),
        ("DELETE FROM a", "DELETE statement"),
        ("SELECT COUNT(*) FROM a WHERE LOWER(x) = 'y'", "'LOWER(x)' where a column name belongs"),
    ],
)
def test_anything_else_is_refused_by_name(sql: str, named: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_query(sql)
    assert named in str(caught.value)


def test_a_selected_column_must_be_grouped() -> None:
    with pytest.raises(InvalidInputError, match="'x' is selected but not grouped by"):
        parse_query("SELECT x, COUNT(*) FROM a")


# ------------------------------------------------------------ the noise


def test_the_released_noise_has_the_claimed_scale() -> None:
    """A chi-square test of 4,000 draws against the discrete Gaussian of the claimed scale."""
    rho = Fraction(1, 8)
    noisy, scale = noisy_counts([0] * 4000, 1, rho)
    assert scale == pytest.approx(1 / (2 * float(rho)) ** 0.5, rel=1e-3)  # sigma = d / sqrt(2 rho)
    support = np.arange(-60, 61)
    weights = np.exp(-(support.astype(float) ** 2) / (2 * scale**2))
    pmf = weights / weights.sum()
    edges = [-5, -3, -1, 0, 1, 3, 5]  # bins: (-inf,-5), [-5,-3), ... [5, inf)
    observed = np.histogram(noisy, bins=[-np.inf, *edges, np.inf])[0]
    expected = np.array(
        [pmf[(support >= lo) & (support < hi)].sum() for lo, hi in
         zip([-np.inf, *edges], [*edges, np.inf], strict=True)]
    ) * len(noisy)  # fmt: skip
    assert stats.chisquare(observed, expected).pvalue > 1e-4
    assert abs(np.std(noisy) - scale) < 0.1 * scale


def test_epsilon_and_rho_convert_both_ways() -> None:
    from custodes.dp import epsilon_of

    rho = rho_of_epsilon(1.0, 1e-6)
    assert epsilon_of(rho, 1e-6) == pytest.approx(1.0, rel=1e-6)


# ------------------------------------------------------------ the service


def _table(folder: Path, people: int = 400, seed: int = 1) -> Path:
    rng = random.Random(seed)
    rows = [
        {
            "person": f"P{i:05d}",
            "sex": rng.choice(["F", "M"]),
            "region": rng.choice(["north", "south", "east"]),
            "income": str(rng.randint(1_000, 9_000)),
            "secret": str(rng.randint(0, 1)),
        }
        for i in range(people)
    ]
    path = folder / "people.csv"
    pl.DataFrame(rows).write_csv(path)
    return path


def dp_service(folder: Path, url: str) -> tuple[Settings, Path]:
    """A workspace in ``folder`` whose dataset ``people`` answers DP queries: actors root, st
    (steward), an (a requester with a released DP request for every column), other (a
    requester without one), lee and pat (reviewers); the settings and the data's path."""
    settings = load_settings(folder / "ws", {"store_url": url})
    init_workspace(settings)
    data = _table(folder)
    ws = Workspace(settings)
    root = Governance(ws, "root")
    root.add_actor("root", ["admin"], organisation="Office", credential="c0")
    for name, roles, board in [("st", ["steward"], None), ("an", ["requester"], None),
                               ("other", ["requester"], None), ("lee", ["reviewer"], "legal"),
                               ("pat", ["reviewer"], "privacy_technical")]:  # fmt: skip
        root.add_actor(name, roles, organisation="Office", credential=f"c-{name}", board_role=board)
    Governance(ws, "st").add_department("stats", "Statistics")
    Governance(ws, "st").register_dataset("people", department="stats", system="s", source=data)
    request = Governance(ws, "an").file_request("people")
    Governance(ws, "an").set_objectives(
        request, purpose="public_welfare", sharing_model="dp_query",
        columns=["person", "sex", "region", "income", "secret"], intended_use="statistics",
        term_end="2030-01-01",
    )  # fmt: skip
    Governance(ws, "st").identify(request)
    Governance(ws, "st").prepare(request)
    Governance(ws, "an").submit(request)
    Governance(ws, "lee").decide(request, True, "aggregates only")
    Governance(ws, "pat").decide(request, True, "budgeted")
    Governance(ws, "st").release(request, recipient="an", terms="DP access")
    ws.queries("st").configure(
        "people",
        {
            "privacy_unit": "person",
            "max_contributions": 1,
            "bounds": {"income": [0, 10_000]},
            "public_groups": {"sex": ["F", "M"]},
        },
    )
    return settings, data


@pytest.fixture
def service(store_url: str, tmp_path: Path) -> Iterator[tuple[Settings, Path]]:  # noqa: F811
    yield dp_service(tmp_path, store_url)
    Store.dispose_all()


def test_answers_carry_intervals_and_the_loss_spent(service: tuple[Settings, Path]) -> None:
    settings, data = service
    truth = pl.read_csv(data, infer_schema=False)
    ws = Workspace(settings)
    answer = ws.dp_query(
        "SELECT sex, COUNT(*), AVG(income), MEDIAN(income) FROM people GROUP BY sex",
        actor="an",
        rho="1/8",
    )
    assert answer["columns"] == ["sex", "count", "avg(income)", "quantile(income, 0.5)"]
    by_sex = {row["sex"]: row for row in answer["rows"]}
    assert set(by_sex) == {"F", "M"}  # the public domain, every cell released
    for sex, row in by_sex.items():
        exact = truth.filter(pl.col("sex") == sex).height
        low, high = row["count 95% interval"]
        assert low <= row["count"] <= high
        assert abs(row["count"] - exact) < 30
        assert 1_000 <= row["avg(income)"] <= 9_000
        assert 0 <= row["quantile(income, 0.5)"] <= 10_000
    assert answer["rho_spent"] == "0.125"
    assert answer["remaining_rho"] == "0.125"  # the default budget of general data is rho 1/4
    # Private groups go through DP partition selection.
    regions = ws.dp_query("SELECT region, COUNT(*) FROM people GROUP BY region", actor="an",
                          rho="1/10")  # fmt: skip
    assert {row["region"] for row in regions["rows"]} <= {"north", "south", "east"}
    assert any("partition selection" in note for note in regions["notes"])


def test_budgets_refuse_with_the_figures(service: tuple[Settings, Path]) -> None:
    settings, _ = service
    access = Workspace(settings).queries("an")
    access.query("SELECT COUNT(*) FROM people", rho="0.2")
    with pytest.raises(RefusedError) as caught:
        access.query("SELECT COUNT(*) FROM people", rho="0.1")
    message = str(caught.value)
    assert "requested rho 1/10 (0.1), remaining 1/20 (0.05), short by 0.05" in message
    with pytest.raises(ForbiddenError, match="no released request for DP query access"):
        Workspace(settings).queries("other").query("SELECT COUNT(*) FROM people", rho="0.1")
    with pytest.raises(RefusedError, match="needs declared bounds for 'secret'"):
        access.query("SELECT SUM(secret) FROM people", rho="0.01")
    budget = Workspace(settings).queries("st").budget("people")
    assert budget["budgets"]["an"]["spent_rho"] == "0.2"
    assert budget["budgets"]["global"]["spent_rho"] == "0.2"
    ledger = open_ledger(settings)
    answered = [ledger.entry(i) for i in range(ledger.size())]
    answered = [e for e in answered if e["type"] == "dp.query_answered"]
    assert len(answered) == 1
    assert set(answered[0]["payload"]) == {
        "query_sha256", "answer_sha256", "rho", "epsilon", "delta", "recipient", "grade", "totals"
    }  # fmt: skip
    assert answered[0]["payload"]["rho"] == [1, 5]


def test_fifty_concurrent_queries_never_overspend(service: tuple[Settings, Path]) -> None:
    settings, _ = service
    Workspace(settings).queries("st").set_budget("people", "1/10", recipient="an")
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        access = Workspace(settings).queries("an")
        try:
            access.query("SELECT COUNT(*) FROM people", rho="1/100")
            result = "answered"
        except RefusedError:
            result = "refused"
        finally:
            access.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=ask) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("answered") == 10
    assert outcomes.count("refused") == 40
    budget = Workspace(settings).queries("st").budget("people")
    assert budget["budgets"]["an"]["spent_rho"] == "0.1"


def _reconstruct(answers: list[float], subsets: list[list[int]], people: int) -> np.ndarray:
    matrix = np.zeros((len(subsets), people))
    for row, subset in enumerate(subsets):
        matrix[row, subset] = 1
    solution, *_ = np.linalg.lstsq(matrix, np.asarray(answers, dtype=float), rcond=None)
    return np.asarray(solution > 0.5, dtype=int)


def test_a_reconstruction_attack_fails_through_custodes(service: tuple[Settings, Path]) -> None:
    """Dinur and Nissim: random subset counts of a secret bit reveal every bit, unless noised."""
    settings, data = service
    table = pl.read_csv(data, infer_schema=False).head(60)
    people = table.height
    secret = table.get_column("secret").cast(pl.Int64).to_numpy()
    ids = table.get_column("person").to_list()
    rng = random.Random(7)
    subsets = [[i for i in range(people) if rng.random() < 0.5] for _ in range(4 * people)]
    # Without noise: exact answers recover nearly every bit.
    exact = [int(secret[s].sum()) for s in subsets]
    assert (_reconstruct(exact, subsets, people) == secret).mean() > 0.95
    # Through custodes: each query costs rho, the budget stops the attack early.
    access = Workspace(settings).queries("an")
    answers, asked = [], []
    refused = False
    for subset in subsets:
        names = ", ".join(f"'{ids[i]}'" for i in subset)
        sql = f"SELECT COUNT(*) FROM people WHERE secret = '1' AND person IN ({names})"
        try:
            answers.append(access.query(sql, rho="1/800")["rows"][0]["count"])
        except RefusedError:
            refused = True
            break
        asked.append(subset)
    access.close()
    assert refused
    assert len(asked) == 200  # rho 1/4 of budget, 1/800 a query
    recovered = (_reconstruct(answers, asked, people) == secret).mean()
    assert recovered < 0.75  # about chance: the noise (sigma 20) swamps counts of about 15


def test_cli_dp_commands(
    service: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    settings, _ = service
    base = ["--workspace", str(settings.workspace)]
    config = settings.workspace / "dp.toml"
    config.write_text(
        'privacy_unit = "person"\nmax_contributions = 1\n[bounds]\nincome = [0, 10000]\n'
        '[public_groups]\nsex = ["F", "M"]\n',
        encoding="utf-8",
    )
    if settings.store_url.startswith("postgresql"):
        pytest.skip("the command line is the same on both stores")
    (settings.workspace / "settings.toml").write_text(
        f'store_url = "{settings.store_url}"\n', encoding="utf-8"
    )
    assert main(["dp", "configure", "people", "--config", str(config), "--as", "st", *base]) == 0
    capsys.readouterr()
    sql = "SELECT sex, SUM(income) FROM people GROUP BY sex"
    assert main(["dp", "query", "people", sql, "--epsilon", "1", "--as", "an", *base]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["columns"] == ["sex", "sum(income)"]
    assert answer["epsilon_spent"] == pytest.approx(1.0, rel=1e-6)
    argv = ["dp", "budget", "people", "--set", "0.2", "--recipient", "an", "--as", "st", *base]
    assert main(argv) == 0
    budgets = json.loads(capsys.readouterr().out)["budgets"]
    assert budgets["an"]["total_rho"] == "0.2"
    assert main(["dp", "query", "other", sql, "--rho", "0.1", "--as", "an", *base]) == 2
    assert "reads FROM another dataset" in capsys.readouterr().err
