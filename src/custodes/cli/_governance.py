"""Governance commands: actors, the catalog, requests, fees, the disclosure and audit reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from custodes._files import write_atomic
from custodes.cli._render import write_text
from custodes.errors import SettingError
from custodes.settings import load_settings
from custodes.workspace import Workspace

__all__ = ["register"]

AsOpt = Annotated[
    str | None,
    typer.Option("--as", help="Act as this registered actor (else the actor setting)."),
]
WsOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", help="Workspace folder (else $CUSTODES_WORKSPACE, else ./.custodes)."
    ),
]
RoleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "--role",
        help="Correct a column's role: COLUMN=ROLE (identifying, quasi_identifying, sensitive, "
        "insensitive or redact); repeat for more columns.",
    ),
]
ReasonOpt = Annotated[
    str | None, typer.Option(help="Why the roles are corrected (recorded as a hash).")
]
ReportFormat = Annotated[str, typer.Option("--format", help="Output format: json or html.")]
ReportOutput = Annotated[Path | None, typer.Option(help="Write the report to this file.")]


def _acting(
    workspace: Path | None, actor: str | None, default: str | None = None
) -> tuple[Workspace, str]:
    settings = load_settings(workspace)
    who = actor or settings.actor or default
    if not who:
        raise SettingError("say who acts: --as NAME, or the actor setting.")
    return Workspace(settings), who


def _governance(workspace: Path | None, actor: str | None) -> Any:
    from custodes.governance import Governance

    return Governance(*_acting(workspace, actor))


def _access(workspace: Path | None, actor: str | None) -> Any:
    ws, who = _acting(workspace, actor)
    return ws.queries(who)


def _show(out: Console, value: Any) -> None:
    write_text(out, json.dumps(value, indent=2, ensure_ascii=False))


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _roles(pairs: list[str] | None) -> dict[str, str] | None:
    from custodes.governance import parse_role_pairs

    return parse_role_pairs(pairs or [], "--set") or None


def register(app: typer.Typer, out: Console, err: Console) -> None:
    """Add the governance command groups to ``app``."""
    actor_app = typer.Typer(help="Actors: who may act, with which roles.", no_args_is_help=True)
    catalog_app = typer.Typer(help="The catalog: departments and datasets.", no_args_is_help=True)
    request_app = typer.Typer(help="Release requests and their workflow.", no_args_is_help=True)
    fee_app = typer.Typer(help="Fee standards, permitted revenue, charges.", no_args_is_help=True)
    app.add_typer(actor_app, name="actor")
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(request_app, name="request")
    app.add_typer(fee_app, name="fee")

    def run(
        workspace: Path | None,
        actor: str | None,
        job: Callable[[Any], Any],
        make: Callable[[Path | None, str | None], Any] = _governance,
    ) -> Any:
        acting = make(workspace, actor)
        try:
            return job(acting)
        finally:
            acting.close()

    @actor_app.command("add")
    def actor_add(
        name: Annotated[str, typer.Argument(help="The actor's name.")],
        roles: Annotated[
            str,
            typer.Option(
                help="Comma-separated: admin, steward, requester, reviewer, pricing_authority, "
                "auditor."
            ),
        ],
        organisation: Annotated[str, typer.Option(help="The actor's organisation.")],
        credential: Annotated[
            str, typer.Option(help="Reference of the verified credential (not the credential).")
        ],
        board_role: Annotated[
            str | None,
            typer.Option(help="For reviewers: legal, privacy_technical or leadership."),
        ] = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Register an actor (an admin; the first actor of a workspace must be an admin)."""
        from custodes.governance import Governance

        run(
            workspace,
            as_,
            lambda g: g.add_actor(
                name,
                _names(roles),
                organisation=organisation,
                credential=credential,
                board_role=board_role,
            ),
            # Without --as or the actor setting, the very first actor adds itself.
            lambda w, a: Governance(*_acting(w, a, default=name)),
        )
        out.print(f"actor {name} added", markup=False, highlight=False)

    @actor_app.command("list")
    def actor_list(as_: AsOpt = None, workspace: WsOpt = None) -> None:
        """List the actors and their roles."""
        _show(out, run(workspace, as_, lambda g: g.actors()))

    @catalog_app.command("department")
    def catalog_department(
        code: Annotated[str, typer.Argument(help="Short code, e.g. civil-affairs.")],
        name: Annotated[str, typer.Option(help="The department's name.")],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Add a department."""
        run(workspace, as_, lambda g: g.add_department(code, name))
        out.print(f"department {code} added", markup=False, highlight=False)

    @catalog_app.command("add")
    def catalog_add(
        name: Annotated[str, typer.Argument(help="The dataset's name.")],
        department: Annotated[str, typer.Option(help="Its department's code.")],
        system: Annotated[str, typer.Option(help="The data system it comes from.")],
        source: Annotated[Path, typer.Option(help="The data file.")],
        owner: Annotated[str | None, typer.Option(help="Its owner (default: you).")] = None,
        header: Annotated[
            bool | None,
            typer.Option(
                "--header/--no-header",
                help="Whether the CSV file's first line names the columns (default: detected; "
                "kept with the dataset for every later read).",
            ),
        ] = None,
        role: RoleOpt = None,
        reason: ReasonOpt = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Register a dataset, or a new version when its content changed (scanned and graded)."""
        registered = run(
            workspace,
            as_,
            lambda g: g.register_dataset(
                name, department=department, system=system, source=source, owner=owner,
                has_header=header, roles=_roles(role), reason=reason,
            ),
        )  # fmt: skip
        _show(out, registered)

    @catalog_app.command("roles")
    def catalog_roles(
        name: Annotated[str, typer.Argument(help="The dataset's name.")],
        role: RoleOpt = None,
        reason: ReasonOpt = None,
        version: Annotated[int | None, typer.Option(help="The version (default: newest).")] = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Correct the column roles the scan suggested (a steward), with a written reason."""
        corrected = run(
            workspace,
            as_,
            lambda g: g.correct_roles(name, _roles(role) or {}, reason or "", version=version),
        )
        _show(out, corrected)

    @catalog_app.command("list")
    def catalog_list(as_: AsOpt = None, workspace: WsOpt = None) -> None:
        """List every dataset version."""
        rows = run(workspace, as_, lambda g: g.datasets())
        _show(
            out,
            [{k: r[k] for k in ("name", "version", "department", "grade", "rows")} for r in rows],
        )

    @catalog_app.command("show")
    def catalog_show(
        name: Annotated[str, typer.Argument(help="The dataset's name.")],
        version: Annotated[int | None, typer.Option(help="The version (default: newest).")] = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Show a dataset: source, schema, roles, grade and reasons, content hash."""
        _show(out, run(workspace, as_, lambda g: g.dataset(name, version)))

    @request_app.command("file")
    def request_file(
        dataset: Annotated[str, typer.Argument(help="The dataset asked for.")],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Open a draft request (a requester); prints its id."""
        out.print(run(workspace, as_, lambda g: g.file_request(dataset)), markup=False)

    @request_app.command("objectives")
    def request_objectives(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        purpose: Annotated[
            str,
            typer.Option(help="public_governance, public_welfare, research or commercial."),
        ],
        sharing: Annotated[
            str,
            typer.Option(help="open_publication, file_under_agreement, dp_query or enclave."),
        ],
        columns: Annotated[str, typer.Option(help="The columns asked for, comma-separated.")],
        use: Annotated[str, typer.Option(help="The intended use, in words.")],
        term_end: Annotated[str, typer.Option(help="When the permission ends (YYYY-MM-DD).")],
        fee_standard: Annotated[
            str | None, typer.Option(help="The approved fee standard (non-free purposes).")
        ] = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Set a draft request's objectives (its requester)."""
        run(
            workspace,
            as_,
            lambda g: g.set_objectives(
                request,
                purpose=purpose,
                sharing_model=sharing,
                columns=_names(columns),
                intended_use=use,
                term_end=term_end,
                fee_standard=fee_standard,
            ),
        )
        out.print(f"request {request}: objectives set", markup=False)

    @request_app.command("identify")
    def request_identify(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        role: RoleOpt = None,
        reason: ReasonOpt = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Identify the request's identifiers from the dataset's roles (a steward); --set
        corrects the dataset's roles first."""
        _show(out, run(workspace, as_, lambda g: g.identify(request, _roles(role), reason)))

    @request_app.command("prepare")
    def request_prepare(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        plan: Annotated[
            Path | None, typer.Option(help="The anonymization plan (a spec file) for a file.")
        ] = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Run the plan and attach the risk and utility report (a steward); gates checked."""
        _show(out, run(workspace, as_, lambda g: g.prepare(request, plan)))

    @request_app.command("submit")
    def request_submit(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Send a processed request to the review board."""
        run(workspace, as_, lambda g: g.submit(request))
        out.print(f"request {request}: under review", markup=False)

    @request_app.command("review")
    def request_review(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        rationale: Annotated[str, typer.Option(help="The written rationale of the decision.")],
        approve: Annotated[bool, typer.Option("--approve/--reject", help="The decision.")] = True,
        send_back: Annotated[
            bool,
            typer.Option(
                "--send-back",
                help="Send the request back to its steward for changes (prepared again and "
                "resubmitted, it is reviewed anew).",
            ),
        ] = False,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Decide on a request as a member of the review board: approve, reject or send back."""
        state = run(
            workspace, as_, lambda g: g.decide(request, approve, rationale, send_back=send_back)
        )
        out.print(f"request {request}: {state.replace('_', ' ')}", markup=False)

    @request_app.command("release")
    def request_release(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        recipient: Annotated[str, typer.Option(help="Who receives the release.")],
        terms: Annotated[str, typer.Option(help="The terms of use.")],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Produce the approved artifact exactly (hash-checked) and record the release."""
        _show(
            out, run(workspace, as_, lambda g: g.release(request, recipient=recipient, terms=terms))
        )

    @request_app.command("monitor")
    def request_monitor(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        note: Annotated[str, typer.Option(help="The monitoring review's findings.")],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Record a monitoring review of a released request."""
        run(workspace, as_, lambda g: g.review_monitoring(request, note))
        out.print(f"request {request}: monitoring reviewed", markup=False)

    @request_app.command("revoke")
    def request_revoke(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        reason: Annotated[str, typer.Option(help="Why it is revoked.")],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Revoke a released request."""
        run(workspace, as_, lambda g: g.revoke(request, reason))
        out.print(f"request {request}: revoked", markup=False)

    @request_app.command("expire")
    def request_expire(as_: AsOpt = None, workspace: WsOpt = None) -> None:
        """Mark released requests whose term has ended as expired."""
        _show(out, run(workspace, as_, lambda g: g.expire()))

    @request_app.command("due")
    def request_due(as_: AsOpt = None, workspace: WsOpt = None) -> None:
        """List released requests whose monitoring review is due."""
        _show(out, run(workspace, as_, lambda g: g.monitoring_due()))

    @request_app.command("show")
    def request_show(
        request: Annotated[str, typer.Argument(help="The request's id.")],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Show a request: state, objectives, plan, report, decisions, release."""
        _show(out, run(workspace, as_, lambda g: g.request(request).to_dict()))

    @request_app.command("list")
    def request_list(as_: AsOpt = None, workspace: WsOpt = None) -> None:
        """List the requests and their states."""
        rows = run(workspace, as_, lambda g: g.requests())
        _show(out, [{"id": r.id, "state": r.state, "dataset": r.dataset} for r in rows])

    @fee_app.command("propose")
    def fee_propose(
        department: Annotated[str, typer.Option(help="The department charging.")],
        product: Annotated[str, typer.Option(help="The data product.")],
        unit: Annotated[str, typer.Option(help="per_call, per_volume, per_period or per_product.")],
        cap: Annotated[str, typer.Option(help="The cap price per unit (a decimal).")],
        currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "CNY",
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Propose a fee standard (a steward); prints its id."""
        standard = run(
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
        workspace: WsOpt = None,
    ) -> None:
        """Approve a fee standard (the pricing authority)."""
        run(workspace, as_, lambda g: g.approve_fee_standard(standard, report))
        out.print(f"fee standard {standard}: approved", markup=False)

    @fee_app.command("limit")
    def fee_limit(
        department: Annotated[str, typer.Option(help="The department.")],
        year: Annotated[int, typer.Option(help="The year.")],
        amount: Annotated[str, typer.Option(help="The maximum permitted revenue.")],
        currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "CNY",
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Set a department's maximum permitted revenue for a year (the pricing authority)."""
        run(workspace, as_, lambda g: g.set_revenue_limit(department, year, amount, currency))
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
        workspace: WsOpt = None,
    ) -> None:
        """Charge for a release under its approved fee standard (a steward)."""
        _show(
            out,
            run(
                workspace,
                as_,
                lambda g: g.charge(
                    request, quantity=quantity, unit_price=unit_price, reason=reason
                ),
            ),
        )

    @fee_app.command("list")
    def fee_list(as_: AsOpt = None, workspace: WsOpt = None) -> None:
        """List the fee standards and their ids (a requester: the approved ones)."""
        _show(out, run(workspace, as_, lambda g: g.fee_standards()))

    dp_app = typer.Typer(
        help="Differential-privacy query access: configure, budgets, queries.",
        no_args_is_help=True,
    )
    app.add_typer(dp_app, name="dp")

    def dp_run(workspace: Path | None, actor: str | None, job: Callable[[Any], Any]) -> Any:
        return run(workspace, actor, job, _access)

    @dp_app.command("configure")
    def dp_configure(
        dataset: Annotated[str, typer.Argument(help="The catalog dataset.")],
        config: Annotated[
            Path,
            typer.Option(
                help="TOML: privacy_unit, max_contributions, \\[bounds], \\[public_groups]."
            ),
        ],
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Declare how a dataset answers DP queries (a steward)."""
        from custodes._files import read_toml

        settings = read_toml(config, "DP settings")
        _show(out, dp_run(workspace, as_, lambda a: a.configure(dataset, settings)))

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
        workspace: WsOpt = None,
    ) -> None:
        """Show the budgets on a dataset (total, spent, remaining, source), or lower one."""
        if set_rho is not None:
            dp_run(workspace, as_, lambda a: a.set_budget(dataset, set_rho, recipient))
        _show(out, dp_run(workspace, as_, lambda a: a.budget(dataset, exact=exact)))

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
        workspace: WsOpt = None,
    ) -> None:
        """Propose raising a budget (a steward); prints the change's id."""
        change = dp_run(
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
        workspace: WsOpt = None,
    ) -> None:
        """Decide on a budget change as a member of the review board."""
        state = dp_run(workspace, as_, lambda a: a.decide_budget_change(change, approve, rationale))
        out.print(f"budget change {change}: {state.replace('_', ' ')}", markup=False)

    @change_app.command("list")
    def budget_change_list(
        dataset: Annotated[str | None, typer.Argument(help="Only this dataset's.")] = None,
        exact: Annotated[
            bool, typer.Option("--exact", help="Show rho as exact fractions, not decimals.")
        ] = False,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """List the budget changes, their states and decisions."""
        _show(out, dp_run(workspace, as_, lambda a: a.budget_changes(dataset, exact=exact)))

    @dp_app.command("query")
    def dp_query(
        dataset: Annotated[str, typer.Argument(help="The catalog dataset the query reads.")],
        sql: Annotated[str, typer.Argument(help="SELECT ... FROM dataset [WHERE] [GROUP BY].")],
        epsilon: Annotated[
            str | None,
            typer.Option(help="Privacy loss as epsilon (at the policy's delta), e.g. 0.5."),
        ] = None,
        rho: Annotated[
            str | None, typer.Option(help="Privacy loss as rho (zCDP), e.g. 1/50.")
        ] = None,
        exact: Annotated[
            bool, typer.Option("--exact", help="Show rho as exact fractions, not decimals.")
        ] = False,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """Answer an aggregate query with differential privacy (a recipient)."""
        from custodes.dp import parse_query, query_spend

        query_spend(rho, epsilon, 1e-6)  # a bad privacy loss is named before the query is read
        if parse_query(sql).dataset != dataset:
            raise SettingError(f"the query reads FROM another dataset than {dataset!r}.")
        _show(
            out,
            dp_run(workspace, as_, lambda a: a.query(sql, rho=rho, epsilon=epsilon, exact=exact)),
        )

    def _report(
        kind: str,
        year: int,
        output_format: str,
        output: Path | None,
        as_: str | None,
        workspace: Path | None,
    ) -> None:
        from custodes.governance import audit_report, disclosure_report
        from custodes.report import render_audit_html, render_disclosure_html

        if output_format not in ("json", "html"):
            raise SettingError(f"--format {output_format!r}: choose json or html.")
        make = audit_report if kind == "audit" else disclosure_report
        data = run(workspace, as_, lambda g: make(g, year))
        if output_format == "json":
            text = json.dumps(data, indent=2, ensure_ascii=False)
        else:
            text = (render_audit_html if kind == "audit" else render_disclosure_html)(data)
        if output is None:
            write_text(out, text)
        else:
            write_atomic(output, text)
            err.print(f"wrote {output}", markup=False, highlight=False)

    @app.command("disclosure")
    def disclosure(
        year: Annotated[int, typer.Option(help="The year.")] = date.today().year,
        output_format: ReportFormat = "json",
        output: ReportOutput = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """The annual disclosure: authorisations, capped fee standards, products, fees charged."""
        _report("disclosure", year, output_format, output, as_, workspace)

    audit_group = next(g for g in app.registered_groups if g.name == "audit").typer_instance
    assert audit_group is not None

    @audit_group.command("report")
    def audit_report_command(
        year: Annotated[int, typer.Option(help="The year.")] = date.today().year,
        output_format: ReportFormat = "json",
        output: ReportOutput = None,
        as_: AsOpt = None,
        workspace: WsOpt = None,
    ) -> None:
        """The auditor's report: releases, revenue against standards, rejections, anomalies."""
        _report("audit", year, output_format, output, as_, workspace)
