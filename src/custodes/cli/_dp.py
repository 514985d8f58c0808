"""Differential-privacy query access: dp configure/budget/estimate/query, dp budget-change."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes.cli._acting import AsOpt, KeyOpt, WsOpt, queried, show
from custodes.cli._app import app, out
from custodes.errors import SettingError

__all__ = ["change_app", "dp_app"]


dp_app = typer.Typer(
    help="Differential-privacy query access: configure, budgets, queries.",
    no_args_is_help=True,
)
app.add_typer(dp_app, name="dp")


@dp_app.command("configure")
def dp_configure(
    dataset: Annotated[str, typer.Argument(help="The catalog dataset.")],
    config: Annotated[
        Path,
        typer.Option(
            help="TOML: privacy_unit (or unit_is_row), max_contributions, \\[bounds], "
            "\\[public_groups]."
        ),
    ],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Declare how a dataset answers DP queries (a steward)."""
    from custodes._files import read_toml

    settings = read_toml(config, "DP settings")
    show(queried(workspace, as_, lambda a: a.configure(dataset, settings)))


@dp_app.command("budget")
def dp_budget(
    dataset: Annotated[str, typer.Argument(help="The catalog dataset.")],
    set_rho: Annotated[
        str | None,
        typer.Option(
            "--set",
            help="Lower the budget to this rho (zCDP), e.g. 1/8; raising one is a budget "
            "change the board reviews.",
        ),
    ] = None,
    recipient: Annotated[
        str, typer.Option(help="With --set: whose budget ('*': the global ceiling).")
    ] = "*",
    exact: Annotated[
        bool, typer.Option("--exact", help="Show rho as exact fractions, not decimals.")
    ] = False,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Show the budgets on a dataset (total, spent, remaining, source), or lower one."""
    if set_rho is not None:
        queried(workspace, as_, lambda a: a.set_budget(dataset, set_rho, recipient))
    show(queried(workspace, as_, lambda a: a.budget(dataset, exact=exact)))


change_app = typer.Typer(
    help="Budget changes: raising a DP budget, reviewed by the board like a request.",
    no_args_is_help=True,
)
dp_app.add_typer(change_app, name="budget-change")


@change_app.command("propose")
def budget_change_propose(
    dataset: Annotated[str, typer.Argument(help="The catalog dataset.")],
    total: Annotated[str, typer.Option(help="The new total (rho, zCDP), e.g. 1/2 or 0.5.")],
    reason: Annotated[str, typer.Option(help="Why the budget should be raised.")],
    recipient: Annotated[
        str, typer.Option(help="Whose budget ('*': the dataset's global ceiling).")
    ] = "*",
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Propose raising a budget (a steward); prints the change's id."""
    change = queried(
        workspace,
        as_,
        lambda a: a.propose_budget_change(dataset, total, recipient=recipient, reason=reason),
    )
    out.print(change, markup=False)


@change_app.command("review")
def budget_change_review(
    change: Annotated[str, typer.Argument(help="The budget change's id.")],
    rationale: Annotated[str, typer.Option(help="The written rationale of the decision.")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="The decision.")] = True,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Decide on a budget change as a member of the review board."""
    state = queried(workspace, as_, lambda a: a.decide_budget_change(change, approve, rationale))
    out.print(f"budget change {change}: {state.replace('_', ' ')}", markup=False)


@change_app.command("list")
def budget_change_list(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset's.")] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Show rho as exact fractions, not decimals.")
    ] = False,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """List the budget changes, their states and decisions."""
    show(queried(workspace, as_, lambda a: a.budget_changes(dataset, exact=exact)))


EpsilonOpt = Annotated[
    str | None,
    typer.Option(help="Privacy loss as epsilon (at the policy's delta), e.g. 0.5."),
]
RhoOpt = Annotated[str | None, typer.Option(help="Privacy loss as rho (zCDP), e.g. 1/50.")]
ExactOpt = Annotated[
    bool, typer.Option("--exact", help="Show rho as exact fractions, not decimals.")
]


def _checked(dataset: str, sql: str, rho: str | None, epsilon: str | None) -> None:
    """A bad privacy loss, then a query of another dataset, named before anything is read."""
    from custodes.dp import parse_query, query_spend

    query_spend(rho, epsilon, 1e-6)
    if parse_query(sql).dataset != dataset:
        raise SettingError(f"the query reads FROM another dataset than {dataset!r}.")


@dp_app.command("query")
def dp_query(
    dataset: Annotated[str, typer.Argument(help="The catalog dataset the query reads.")],
    sql: Annotated[str, typer.Argument(help="SELECT ... FROM dataset [WHERE] [GROUP BY].")],
    epsilon: EpsilonOpt = None,
    rho: RhoOpt = None,
    exact: ExactOpt = False,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Answer an aggregate query with differential privacy (a recipient)."""
    _checked(dataset, sql, rho, epsilon)
    show(
        queried(workspace, as_, lambda a: a.query(sql, rho=rho, epsilon=epsilon, exact=exact)),
    )


@dp_app.command("estimate")
def dp_estimate(
    dataset: Annotated[str, typer.Argument(help="The catalog dataset the query reads.")],
    sql: Annotated[str, typer.Argument(help="SELECT ... FROM dataset [WHERE] [GROUP BY].")],
    epsilon: EpsilonOpt = None,
    rho: RhoOpt = None,
    exact: ExactOpt = False,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Show what a query would cost and its intervals' width, spending nothing (a recipient)."""
    _checked(dataset, sql, rho, epsilon)
    show(
        queried(workspace, as_, lambda a: a.estimate(sql, rho=rho, epsilon=epsilon, exact=exact)),
    )
