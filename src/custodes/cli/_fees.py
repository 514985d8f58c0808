"""Fee standards, permitted revenue and charges: fee propose/approve/limit/charge/list."""

from __future__ import annotations

from typing import Annotated

import typer

from custodes.cli._acting import AsOpt, KeyOpt, WsOpt, governed, show
from custodes.cli._app import app, out

__all__ = ["fee_app"]


fee_app = typer.Typer(help="Fee standards, permitted revenue, charges.", no_args_is_help=True)
app.add_typer(fee_app, name="fee")


@fee_app.command("propose")
def fee_propose(
    department: Annotated[str, typer.Option(help="The department charging.")],
    product: Annotated[str, typer.Option(help="The data product.")],
    unit: Annotated[str, typer.Option(help="per_call, per_volume, per_period or per_product.")],
    cap: Annotated[str, typer.Option(help="The cap price per unit (a decimal).")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "CNY",
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Propose a fee standard (a steward); prints its id."""
    standard = governed(
        workspace,
        as_,
        lambda g: g.propose_fee_standard(
            department=department, product=product, unit=unit, cap=cap, currency=currency
        ),
    )
    out.print(standard, markup=False)


@fee_app.command("approve")
def fee_approve(
    standard: Annotated[str, typer.Argument(help="The fee standard's id.")],
    report: Annotated[str, typer.Option(help="The written pricing report.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Approve a fee standard (the pricing authority)."""
    governed(workspace, as_, lambda g: g.approve_fee_standard(standard, report))
    out.print(f"fee standard {standard}: approved", markup=False)


@fee_app.command("limit")
def fee_limit(
    department: Annotated[str, typer.Option(help="The department.")],
    year: Annotated[int, typer.Option(help="The year.")],
    amount: Annotated[str, typer.Option(help="The maximum permitted revenue.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "CNY",
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Set a department's maximum permitted revenue for a year (the pricing authority)."""
    governed(workspace, as_, lambda g: g.set_revenue_limit(department, year, amount, currency))
    out.print(f"permitted revenue of {department} in {year}: {amount} {currency}", markup=False)


@fee_app.command("charge")
def fee_charge(
    request: Annotated[str, typer.Argument(help="The released request charged for.")],
    quantity: Annotated[str, typer.Option(help="How many units.")],
    unit_price: Annotated[str, typer.Option(help="The price per unit (at most the cap).")],
    reason: Annotated[
        str | None,
        typer.Option(help="Why a release charged already is charged again (recorded)."),
    ] = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Charge for a release under its approved fee standard (a steward)."""
    show(
        governed(
            workspace,
            as_,
            lambda g: g.charge(request, quantity=quantity, unit_price=unit_price, reason=reason),
        ),
    )


@fee_app.command("list")
def fee_list(as_: AsOpt = None, key: KeyOpt = None, workspace: WsOpt = None) -> None:
    """List the fee standards and their ids (a requester: the approved ones)."""
    show(governed(workspace, as_, lambda g: g.fee_standards()))
