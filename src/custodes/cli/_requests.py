"""Release requests and their workflow: request file/objectives/identify/prepare/..."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes.cli._acting import AsOpt, KeyOpt, ReasonOpt, RoleOpt, WsOpt, governed, roles, show
from custodes.cli._app import app, out, split_names

__all__ = ["request_app"]


request_app = typer.Typer(help="Release requests and their workflow.", no_args_is_help=True)
app.add_typer(request_app, name="request")


@request_app.command("file")
def request_file(
    dataset: Annotated[str, typer.Argument(help="The dataset asked for.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Open a draft request (a requester); prints its id."""
    out.print(governed(workspace, as_, lambda g: g.file_request(dataset)), markup=False)


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
    recipient: Annotated[
        str | None,
        typer.Option(help="Who will receive the release (default: the requester)."),
    ] = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Set a draft request's objectives (its requester)."""
    governed(
        workspace,
        as_,
        lambda g: g.set_objectives(
            request,
            purpose=purpose,
            sharing_model=sharing,
            columns=split_names(columns),
            intended_use=use,
            term_end=term_end,
            fee_standard=fee_standard,
            recipient=recipient,
        ),
    )
    out.print(f"request {request}: objectives set", markup=False)


@request_app.command("identify")
def request_identify(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    role: RoleOpt = None,
    reason: ReasonOpt = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Identify the request's identifiers from the dataset's roles (a steward); --set
    corrects the dataset's roles first."""
    show(governed(workspace, as_, lambda g: g.identify(request, roles(role), reason)))


@request_app.command("prepare")
def request_prepare(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    plan: Annotated[
        Path | None, typer.Option(help="The anonymization plan (a spec file) for a file.")
    ] = None,
    mosaic_safe: Annotated[
        bool,
        typer.Option(
            help="Find the least-loss transformation whose combination with what the "
            "recipient holds meets the policy (else such a file is refused)."
        ),
    ] = False,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Run the plan and attach the risk and utility report (a steward); gates checked,
    the mosaic check among them."""
    show(governed(workspace, as_, lambda g: g.prepare(request, plan, mosaic_safe=mosaic_safe)))


@request_app.command("submit")
def request_submit(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Send a processed request to the review board."""
    governed(workspace, as_, lambda g: g.submit(request))
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
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Decide on a request as a member of the review board: approve, reject or send back."""
    state = governed(
        workspace, as_, lambda g: g.decide(request, approve, rationale, send_back=send_back)
    )
    out.print(f"request {request}: {state.replace('_', ' ')}", markup=False)


@request_app.command("release")
def request_release(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    recipient: Annotated[str, typer.Option(help="Who receives the release.")],
    terms: Annotated[str, typer.Option(help="The terms of use.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Produce the approved artifact exactly (hash-checked) and record the release."""
    show(
        governed(workspace, as_, lambda g: g.release(request, recipient=recipient, terms=terms)),
    )


@request_app.command("monitor")
def request_monitor(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    note: Annotated[str, typer.Option(help="The monitoring review's findings.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Record a monitoring review of a released request."""
    governed(workspace, as_, lambda g: g.review_monitoring(request, note))
    out.print(f"request {request}: monitoring reviewed", markup=False)


@request_app.command("revoke")
def request_revoke(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    reason: Annotated[str, typer.Option(help="Why it is revoked.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Revoke a released request."""
    governed(workspace, as_, lambda g: g.revoke(request, reason))
    out.print(f"request {request}: revoked", markup=False)


@request_app.command("expire")
def request_expire(as_: AsOpt = None, key: KeyOpt = None, workspace: WsOpt = None) -> None:
    """Mark released requests whose term has ended as expired."""
    show(governed(workspace, as_, lambda g: g.expire()))


@request_app.command("due")
def request_due(as_: AsOpt = None, key: KeyOpt = None, workspace: WsOpt = None) -> None:
    """List released requests whose monitoring review is due."""
    show(governed(workspace, as_, lambda g: g.monitoring_due()))


@request_app.command("show")
def request_show(
    request: Annotated[str, typer.Argument(help="The request's id.")],
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """Show a request: state, objectives, plan, report, decisions, release."""
    show(governed(workspace, as_, lambda g: g.request(request).to_dict()))


@request_app.command("list")
def request_list(as_: AsOpt = None, key: KeyOpt = None, workspace: WsOpt = None) -> None:
    """List the requests and their states."""
    rows = governed(workspace, as_, lambda g: g.requests())
    show([{"id": r.id, "state": r.state, "dataset": r.dataset} for r in rows])


@app.command("mosaic")
def mosaic_command(
    request: Annotated[str, typer.Argument(help="The request's id (prepared as a file).")],
    output_format: Annotated[
        str, typer.Option("--format", help="Output format: table, json or html.")
    ] = "table",
    output: Annotated[Path | None, typer.Option(help="Write the report to this file.")] = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WsOpt = None,
) -> None:
    """The combined risk of a request's prepared file with what its recipient holds now:
    the releases involved, combined k, risk and l, and the holding's grade."""
    import json

    from custodes._files import write_atomic
    from custodes.cli._app import err
    from custodes.cli._render import write_text
    from custodes.errors import SettingError
    from custodes.report import render_mosaic_html

    if output_format not in ("table", "json", "html"):
        raise SettingError(f"--format {output_format!r}: choose table, json or html.")
    data = governed(workspace, as_, lambda g: g.mosaic(request))
    if output_format == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False)
    elif output_format == "html":
        text = render_mosaic_html(data)
    else:
        text = _mosaic_table(data)
    if output is None:
        write_text(out, text)
    else:
        write_atomic(output, text)
        err.print(f"wrote {output}", markup=False, highlight=False)


def _mosaic_table(data: dict[str, object]) -> str:
    """The mosaic report as plain lines for a terminal."""
    figures: dict[str, object] = data["figures"]  # type: ignore[assignment]
    holding: dict[str, object] = data["holding"]  # type: ignore[assignment]
    releases: list[dict[str, object]] = data["releases"]  # type: ignore[assignment]
    lines = [
        f"request {data['request']} ({data['dataset']}) for {data['recipient']}: "
        f"{str(data['verdict']).upper()}",
        f"releases held: {len(releases)}",
        *(f"  release {r['release']}  {r['dataset']}  request {r['request']}" for r in releases),
        f"people {figures['people']:,}  combined k {figures['k']}  below k {figures['below_k']:,}"
        f"  highest risk {figures['highest_risk']}  average risk {figures['average_risk']}",
    ]
    sensitive: dict[str, dict[str, object]] = figures["sensitive"]  # type: ignore[assignment]
    for name, s in sensitive.items():
        lines.append(
            f"  {name}: highest posterior {s['highest_posterior']}, combined l {s['min_l']}, "
            f"pinned {s['pinned']:,}, only in combination {s['lowered']:,}"
        )
    lines.append(
        f"holding: {holding['people']:,} people, grade {holding['grade']}"
        + (f" ({'; '.join(holding['reasons'])})" if holding["reasons"] else "")  # type: ignore[arg-type]
    )
    problems: list[str] = data["problems"]  # type: ignore[assignment]
    lines.extend(f"problem: {p}" for p in problems)
    # names come from people: no control characters reach the terminal
    return "\n".join("".join(c if c.isprintable() else "?" for c in line) for line in lines) + "\n"
