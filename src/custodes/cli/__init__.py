"""The ``custodes`` command: parse input, call the workspace, render, map errors."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from custodes import __version__
from custodes._files import write_atomic
from custodes.anonymize import (
    Anonymization,
    AnonymizationSpec,
    build_spec,
    load_spec,
    read_manifest,
    spec_from_manifest,
)
from custodes.cli._governance import _names
from custodes.cli._governance import register as _register_governance
from custodes.cli._render import render_assessment, render_scan, write_text
from custodes.errors import CustodesError, InternalError, SettingError
from custodes.settings import SETTINGS, load_settings
from custodes.workspace import Workspace

__all__ = ["app", "main"]

app = typer.Typer(
    name="custodes",
    help="Assess, anonymize and release public data without leaking privacy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class OutputFormat(StrEnum):
    """Formats of a report."""

    table = "table"
    json = "json"
    html = "html"


WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        help="Workspace folder (else $CUSTODES_WORKSPACE, else ./.custodes).",
        show_default=False,
    ),
]


FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
OutputOpt = Annotated[
    Path | None, typer.Option(help="Write the report to this file instead of the terminal.")
]
InputFormatOpt = Annotated[
    str | None,
    typer.Option(help="Input format when the extension does not tell (csv, parquet, ...)."),
]
HeaderOpt = Annotated[
    bool | None,
    typer.Option("--header/--no-header", help="Whether a CSV file's first line names the columns."),
]
DelimiterOpt = Annotated[
    str | None, typer.Option(help="CSV delimiter (default: detected); '\\t' is a tab.")
]
EncodingOpt = Annotated[
    str | None, typer.Option(help="Text encoding (default: detected), e.g. gb18030.")
]
TableOpt = Annotated[str | None, typer.Option(help="Table name, for a database URI.")]
SheetOpt = Annotated[str | None, typer.Option(help="Sheet name, for an Excel file.")]


def _emit(
    output_format: OutputFormat,
    output: Path | None,
    to_json: Callable[[], str],
    to_html: Callable[[], str],
    render: Callable[[Console], None],
) -> None:
    """Print or write a report in the chosen format (files are written atomically)."""
    if output_format is OutputFormat.json:
        text = to_json()
    elif output_format is OutputFormat.html:
        text = to_html()
    else:
        if output is None:
            render(out)
            return
        rec = Console(file=io.StringIO(), record=True, width=120)
        render(rec)
        text = rec.export_text()
    if output is None:
        write_text(out, text)
    else:
        write_atomic(output, text)
        err.print(f"wrote {output}", markup=False, highlight=False)


def _workspace(path: Path | None, **overrides: Any) -> Workspace:
    return Workspace(load_settings(path, overrides))


@contextmanager
def _progress(
    enabled: bool, label: str = "measuring column combinations"
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress display on stderr: the scan, then the column combinations."""
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        scan = bar.add_task("reading and summarizing the table", total=None)
        combos: list[TaskID] = []

        def update(done: int, total: int) -> None:
            if not combos:
                bar.update(scan, total=1, completed=1)
                combos.append(bar.add_task(label, total=total))
            bar.update(combos[0], completed=done, total=total)

        yield update


def _parse_hierarchies(specs: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for spec in specs:
        column, sep, path = spec.partition("=")
        if not sep or not column.strip() or not path.strip():
            raise SettingError(
                f"--hierarchy {spec!r} is not COLUMN=FILE; write e.g. "
                "--hierarchy occupation=occupation.csv."
            )
        parsed[column.strip()] = path.strip()
    return parsed


@app.command()
def assess(
    path: Annotated[
        str,
        typer.Argument(
            help="Table: a file (CSV, TSV, Parquet, Excel, JSON Lines) or a database URI."
        ),
    ],
    qi: Annotated[
        str | None,
        typer.Option("--qi", help="Quasi-identifiers, comma-separated (or from --roles-from)."),
    ] = None,
    roles_from: Annotated[
        Path | None,
        typer.Option(
            help="A saved scan (custodes scan --format json): take the column roles it "
            "suggests; --qi, --sensitive and --identifying override them."
        ),
    ] = None,
    sensitive: Annotated[
        str | None, typer.Option(help="Sensitive attributes, comma-separated.")
    ] = None,
    identifying: Annotated[
        str | None,
        typer.Option(help="Direct identifiers, comma-separated (not assessed; flagged)."),
    ] = None,
    insensitive: Annotated[
        str | None, typer.Option(help="Insensitive columns, comma-separated.")
    ] = None,
    population: Annotated[
        str | None,
        typer.Option(help="Population: a region (china, usa, eu, uk, india, world, ...)."),
    ] = None,
    population_size: Annotated[int | None, typer.Option(help="Population size N.")] = None,
    sampling_fraction: Annotated[
        float | None, typer.Option(help="Sampling fraction n/N in (0, 1].")
    ] = None,
    population_table: Annotated[
        str | None, typer.Option(help="The table the data was sampled from (for journalist risk).")
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Risk threshold for 'records at risk' \\[default: 0.2].")
    ] = None,
    hierarchy: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN=FILE: an ARX hierarchy for hierarchical t-closeness. Repeatable."
        ),
    ] = None,
    recursive_c: Annotated[float, typer.Option(help="c of recursive-(c,l) diversity.")] = 4.0,
    combinations: Annotated[
        bool, typer.Option(help="Measure every quasi-identifier combination.")
    ] = True,
    output_format: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    input_format: InputFormatOpt = None,
    header: HeaderOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    table: TableOpt = None,
    sheet: SheetOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Measure how identifiable the people in a table are."""
    ws = _workspace(workspace, risk_threshold=threshold)
    if population is not None and population_size is not None:
        raise SettingError("give --population or --population-size, not both.")
    read_options = _read_options(input_format, delimiter, encoding, header, table, sheet)
    if roles_from is not None:
        from custodes.workspace import open_table

        names = open_table(path, **read_options).columns
        qi, sensitive, identifying = _scan_roles(roles_from, qi, sensitive, identifying, names)
    if qi is None:
        raise SettingError("give the quasi-identifiers: --qi COLUMNS, or --roles-from SCAN.json.")
    show_progress = err.is_terminal
    with _progress(show_progress) as progress:
        result = ws.assess(
            path,
            quasi_identifiers=qi,
            sensitive=sensitive,
            identifying=identifying,
            insensitive=insensitive,
            population=population if population is not None else population_size,
            sampling_fraction=sampling_fraction,
            population_table=population_table,
            hierarchies=_parse_hierarchies(hierarchy or []),
            recursive_c=recursive_c,
            combinations=combinations,
            progress=progress,
            read_options=read_options,
        )
    from custodes.report import render_assessment_html

    _emit(
        output_format,
        output,
        result.to_json,
        lambda: render_assessment_html(result.to_dict()),
        lambda console: render_assessment(result, console),
    )


@app.command()
def scan(
    path: Annotated[
        str,
        typer.Argument(
            help="Table: a file (CSV, TSV, Parquet, Excel, JSON Lines) or a database URI."
        ),
    ],
    sample: Annotated[
        int, typer.Option(help="Rows to scan (the first ones), unless --all.")
    ] = 10_000,
    all_rows: Annotated[
        bool,
        typer.Option("--all", help="Count every row (for the entity types the sample points to)."),
    ] = False,
    policy: Annotated[
        Path | None,
        typer.Option(help="Grading policy file (TOML, a grading table); default: built in."),
    ] = None,
    output_format: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    input_format: InputFormatOpt = None,
    header: HeaderOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    table: TableOpt = None,
    sheet: SheetOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Find the columns holding personal data; suggest roles and the table's grade."""
    ws = _workspace(workspace)
    options = _read_options(input_format, delimiter, encoding, header, table, sheet)
    with _progress(err.is_terminal, "scanning columns") as progress:
        result = ws.scan(
            path,
            sample=sample,
            full=all_rows,
            policy=policy,
            progress=progress,
            read_options=options,
        )
    from custodes.report import render_scan_html

    _emit(
        output_format,
        output,
        result.to_json,
        lambda: render_scan_html(result.to_dict()),
        lambda console: render_scan(result, console),
    )


def _read_options(
    input_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    header: bool | None,
    table: str | None,
    sheet: str | None,
) -> dict[str, Any]:
    """The reader's options from the common input flags."""
    return {
        k: v
        for k, v in {
            "format": input_format,
            "delimiter": {"\\t": "\t", "tab": "\t"}.get(delimiter or "", delimiter),
            "encoding": encoding,
            "has_header": header,
            "table": table,
            "sheet": sheet,
        }.items()
        if v is not None
    }


@app.command()
def anonymize(
    path: Annotated[str, typer.Argument(help="Table to anonymize (any input format).")],
    output: Annotated[Path, typer.Option(help="Where to write the anonymized table.")],
    spec_file: Annotated[
        Path | None,
        typer.Option("--spec", help="A TOML spec (instead of --qi, --hierarchy and the models)."),
    ] = None,
    apply: Annotated[
        Path | None,
        typer.Option(
            "--apply",
            help="A release manifest: re-apply its transformation to this table, "
            "checking that its privacy models still hold.",
        ),
    ] = None,
    qi: Annotated[
        str | None, typer.Option("--qi", help="Quasi-identifiers, comma-separated.")
    ] = None,
    hierarchy: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN=FILE (an ARX hierarchy) or COLUMN=BUILDER (interval:width=5, "
            "date:month,year, mask:step=1, prc). Repeatable."
        ),
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", help="k-anonymity: classes of at least k.")
    ] = None,
    sensitive: Annotated[
        str | None, typer.Option(help="The sensitive attribute for --l and --t.")
    ] = None,
    l_value: Annotated[
        int | None, typer.Option("--l", help="Distinct l-diversity of the sensitive attribute.")
    ] = None,
    recursive_c: Annotated[
        float | None,
        typer.Option(help="With --l: recursive-(c,l) diversity instead of distinct."),
    ] = None,
    t: Annotated[
        float | None, typer.Option("--t", help="t-closeness of the sensitive attribute.")
    ] = None,
    t_distance: Annotated[
        str, typer.Option(help="EMD ground distance for --t: hierarchical, equal or ordered.")
    ] = "hierarchical",
    objective: Annotated[
        str,
        typer.Option(
            help="What the search minimises: loss, precision, discernibility, aecs or entropy."
        ),
    ] = "loss",
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Local recoding (Mondrian partitioning) instead of one level per column.",
        ),
    ] = False,
    microaggregate: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN[:mean|median|mode]: replace a numeric column by its class's "
            "aggregate. Repeatable."
        ),
    ] = None,
    population_uniqueness: Annotated[
        float | None,
        typer.Option(
            help="At most this fraction of the population estimated unique (with --population)."
        ),
    ] = None,
    population: Annotated[
        str | None,
        typer.Option(help="Population for --population-uniqueness: a region or a size."),
    ] = None,
    average_risk: Annotated[
        float | None,
        typer.Option(help="Average re-identification risk of the release at most this."),
    ] = None,
    suppression: Annotated[
        float, typer.Option(help="Largest fraction of records that may be suppressed.")
    ] = 0.0,
    identifying: Annotated[
        str | None, typer.Option(help="Direct identifiers to remove, comma-separated.")
    ] = None,
    mask: Annotated[
        list[str] | None,
        typer.Option(help="COLUMN[:FIRST:LAST]: mask a direct identifier. Repeatable."),
    ] = None,
    pseudonymize: Annotated[
        list[str] | None,
        typer.Option(help="COLUMN: replace by a keyed HMAC-SHA-256 pseudonym. Repeatable."),
    ] = None,
    shift_dates: Annotated[
        list[str] | None,
        typer.Option(help="COLUMN:PERSON[:DAYS]: shift each person's dates. Repeatable."),
    ] = None,
    key_file: Annotated[
        str | None,
        typer.Option(
            help="Secret key file for pseudonyms and date shifts (else $CUSTODES_PSEUDONYM_KEY)."
        ),
    ] = None,
    redact: Annotated[
        list[str] | None,
        typer.Option(
            help="COLUMN[:ENTITY,...]: mask identifiers inside free text (IDs, phones, cards, "
            "e-mails...) by their type. Repeatable."
        ),
    ] = None,
    roles_from: Annotated[
        Path | None,
        typer.Option(
            help="A saved scan (custodes scan --format json): remove its identifying columns "
            "and redact its free text, besides --identifying."
        ),
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="Write the release manifest (JSON) here.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the HTML risk report of the release here.")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Generalize a table to the least-loss transformation that meets a privacy policy."""
    ws = _workspace(workspace)
    flags = [qi, hierarchy, k, sensitive, l_value, recursive_c, t, identifying, mask, redact]
    flags += [average_risk, microaggregate, population_uniqueness, population]
    chosen = [local, objective != "loss"]
    if apply is not None:
        taken = any(f for f in flags) or pseudonymize or shift_dates or suppression
        if spec_file is not None or taken or any(chosen):
            raise SettingError("--apply takes the policy from the manifest: give no other policy.")
        spec = spec_from_manifest(read_manifest(apply), key_file)
    elif spec_file is not None:
        if any(f for f in flags) or pseudonymize or shift_dates or suppression or any(chosen):
            raise SettingError("give either --spec FILE or the policy as flags, not both.")
        spec = load_spec(spec_file, key_file)
    elif qi is None:
        raise SettingError("give the policy: --spec FILE, or --qi with --hierarchy and a model.")
    else:
        if roles_from is not None:
            from custodes.workspace import open_table

            names = open_table(path).columns
            identifying, redact = _scan_identifiers(roles_from, identifying, redact, names)
        spec = _spec_from_flags(
            qi, hierarchy, k, sensitive, l_value, recursive_c, t, t_distance, average_risk,
            suppression, identifying, mask, pseudonymize, shift_dates, key_file, local,
            microaggregate, objective, population_uniqueness, population, redact,
        )  # fmt: skip
    with _progress(err.is_terminal, "searching transformations") as progress:
        result = ws.anonymize(path, spec, output=output, manifest=manifest, progress=progress)
    if report is not None:
        from custodes.report import release_html

        write_atomic(report, release_html(result))
    _print_release(result, output)


def _spec_from_flags(
    qi: str,
    hierarchy: list[str] | None,
    k: int | None,
    sensitive: str | None,
    l_value: int | None,
    recursive_c: float | None,
    t: float | None,
    t_distance: str,
    average_risk: float | None,
    suppression: float,
    identifying: str | None,
    mask: list[str] | None,
    pseudonymize: list[str] | None,
    shift_dates: list[str] | None,
    key_file: str | None,
    local: bool,
    microaggregate: list[str] | None,
    objective: str,
    population_uniqueness: float | None,
    population: str | None,
    redact: list[str] | None,
) -> AnonymizationSpec:
    return build_spec(
        qi=qi,
        hierarchies=_parse_hierarchies(hierarchy or []),
        k=k,
        sensitive=sensitive,
        l_value=l_value,
        recursive_c=recursive_c,
        t=t,
        t_distance=t_distance,
        average_risk=average_risk,
        suppression=suppression,
        identifying=identifying,
        mask=mask or (),
        pseudonymize=pseudonymize or (),
        shift_dates=shift_dates or (),
        key_file=key_file,
        local=local,
        microaggregate=microaggregate or (),
        objective=objective,
        population_uniqueness=population_uniqueness,
        population=population,
        redact=redact or (),
    )


def _scan_roles(
    path: Path,
    qi: str | None,
    sensitive: str | None,
    identifying: str | None,
    columns: Sequence[str],
) -> tuple[str, str | None, str | None]:
    """Roles for assess from a saved scan; columns named in flags keep the flag's role."""
    from custodes.detect import read_scan_roles

    roles = read_scan_roles(path, columns)

    given = {*_names(qi or ""), *_names(sensitive or ""), *_names(identifying or "")}

    def pick(flag: str | None, *keys: str) -> str | None:
        if flag is not None:
            return flag
        chosen = [c for k in keys for c in roles[k] if c not in given]
        return ",".join(chosen) or None

    found_qi = pick(qi, "quasi_identifying")
    if found_qi is None:
        raise SettingError(
            f"the scan {str(path)!r} suggests no quasi-identifiers; name them with --qi."
        )
    return found_qi, pick(sensitive, "sensitive"), pick(identifying, "identifying", "redact")


def _scan_identifiers(
    path: Path, identifying: str | None, redact: list[str] | None, columns: Sequence[str]
) -> tuple[str | None, list[str]]:
    """Add a saved scan's identifying and free-text columns to the flags' own."""
    from custodes.detect import read_scan_roles

    roles = read_scan_roles(path, columns)
    given_ids = _names(identifying or "")
    given_redact = list(redact or [])
    redacted = {item.partition(":")[0].strip() for item in given_redact}
    ids = given_ids + [c for c in roles["identifying"] if c not in given_ids + list(redacted)]
    given_redact += [c for c in roles["redact"] if c not in redacted and c not in ids]
    return ",".join(ids) or None, given_redact


def _print_release(result: Anonymization, output: Path) -> None:
    for line in result.summary_lines():
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    for title, assessment in (("before", result.before), ("after", result.after)):
        out.rule(f"risk {title}")
        render_assessment(assessment, out)
    err.print(f"wrote {output}", markup=False, highlight=False)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="People in the synthetic register.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed of the generator.")] = 20261130,
    workspace: WorkspaceOpt = None,
) -> None:
    """Generate a synthetic population register, assess it and write the HTML report."""
    from custodes.demo import run_demo

    ws = _workspace(workspace)
    with err.status("generating and assessing the synthetic register..."):
        result = run_demo(ws, rows=rows, seed=seed)
    path = escape(str(result.data_path))
    out.print(f"[bold]Synthetic register[/bold]: {result.rows:,} people -> {path}")
    render_scan(result.scan, out)
    out.print(f"scan: {result.scan_path}", markup=False, highlight=False)
    for title, assessment in result.assessments:
        out.rule(title)
        render_assessment(assessment, out)
    release = result.release
    for line in (
        *release.summary_lines(),
        f"HTML report: {result.report_path}",
        f"release: {result.release_path} (manifest: {result.manifest_path})",
        f"governed release: request {result.governance['request']} approved by the board and "
        f"released to {result.governance['recipient']} ({result.governance['artifact']}); "
        f"charged {result.governance['charged']} under the approved fee standard",
        "DP queries by the researcher (three answered, the fourth refused by the budget):\n"
        + result.governance["dp_queries"],
        f"audit report: anomalies: {result.governance['anomalies']} "
        f"({result.governance['audit_report']}); disclosure: {result.governance['disclosure']}",
        f"ledger: {result.ledger_entries:,} entries, exported to {result.ledger_path} and "
        f"verified offline; root {result.ledger_root}",
    ):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def init(
    store: Annotated[
        str | None,
        typer.Option(
            help="Database URL (else the store_url setting, else SQLite in the workspace), "
            "e.g. postgresql+psycopg://user@host/db."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create the workspace: folder, store (migrated) and the ledger's signing key."""
    from custodes.workspace import init_workspace

    result = init_workspace(load_settings(workspace, {"store_url": store} if store else None))
    verb = "created" if result.created else "already set up; checked and migrated"
    for line in (
        f"workspace {result.workspace}: {verb}",
        f"store: {result.store}",
        f"ledger signing key: {result.key_path} (fingerprint {result.fingerprint})",
        f"public key for auditors: {result.public_key_path}",
    ):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


ledger_app = typer.Typer(
    help="The verifiable ledger: export it, sign a tree head, prove an entry.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The auditor: verify a ledger export offline; the yearly audit report.",
    no_args_is_help=True,
)
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")


@ledger_app.command("export")
def ledger_export(
    output: Annotated[Path, typer.Option(help="The export file (JSON Lines).")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Write every entry and signed head to a file an auditor can verify offline."""
    from custodes.ledger import open_ledger

    ledger = open_ledger(load_settings(workspace))
    size = ledger.export(output)
    err.print(f"wrote {output} ({size:,} entries)", markup=False, highlight=False)


@ledger_app.command("head")
def ledger_head(
    output: Annotated[
        Path | None, typer.Option(help="Also save the head (JSON) here, e.g. to trust later.")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Sign a tree head for the ledger as it is now and print it."""
    import json

    from custodes.ledger import open_ledger

    head = open_ledger(load_settings(workspace)).sign_head()
    text = json.dumps(head.to_dict(), indent=2)
    if output is not None:
        write_atomic(output, text + "\n")
    write_text(out, text)


@ledger_app.command("prove")
def ledger_prove(
    entry: Annotated[
        int | None, typer.Option(help="Prove that this entry is in the ledger.")
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(help="With --entry: the signed head's size (default: the newest)."),
    ] = None,
    from_size: Annotated[
        int | None,
        typer.Option(
            "--from", help="Prove that the signed head of this size is a prefix of a newer one."
        ),
    ] = None,
    to_size: Annotated[
        int | None, typer.Option("--to", help="With --from: the newer head's size.")
    ] = None,
    output: OutputOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Print an inclusion proof (--entry) or a consistency proof (--from) as JSON."""
    import json

    from custodes.ledger import open_ledger

    if (entry is None) == (from_size is None):
        raise SettingError("give --entry N (inclusion) or --from SIZE (consistency).")
    settings = load_settings(workspace)
    # The key signs a head when none covers the entry yet; without it, heads must exist.
    ledger = open_ledger(settings, signing=settings.signing_key_path().exists())
    if entry is not None:
        if to_size is not None:
            raise SettingError("--to goes with --from; with --entry give --size.")
        proof = ledger.inclusion_proof(entry, size)
    else:
        assert from_size is not None
        if size is not None:
            raise SettingError("--size goes with --entry; with --from give --to.")
        proof = ledger.consistency_proof(from_size, to_size)
    text = json.dumps(proof, indent=2, ensure_ascii=False)
    if output is not None:
        write_atomic(output, text + "\n")
        err.print(f"wrote {output}", markup=False, highlight=False)
    else:
        write_text(out, text)


@audit_app.command("verify")
def audit_verify(
    ledger: Annotated[
        Path, typer.Option("--ledger", help="A ledger export (custodes ledger export).")
    ],
    public_key: Annotated[
        Path, typer.Option(help="The ledger's public key (the workspace's keys/ledger.pub).")
    ],
    trusted_head: Annotated[
        Path | None,
        typer.Option(help="A signed head saved earlier: the ledger must extend it unchanged."),
    ] = None,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Recompute the whole Merkle tree, check every signed head and a trusted head; no database.

    Without --trusted-head the output says that the newest entries' removal cannot be
    ruled out, since the export's own final head is signed with the workspace key.
    """
    import json

    from custodes.ledger import load_head, load_public_key, verify_export

    key = load_public_key(public_key)
    trusted = load_head(trusted_head, key) if trusted_head is not None else None
    result = verify_export(ledger, key, trusted)
    if output_format is OutputFormat.json:
        write_text(out, json.dumps(result.to_dict(), indent=2))
        return
    newest = result.newest_head
    lines = [f"verified: {result.size:,} entries, {result.heads:,} signed heads"]
    if newest is not None:
        lines.append(f"newest signed head: size {newest.size:,}, root {newest.root_hash.hex()}")
    if trusted is not None:
        lines.append(f"consistent with the trusted head of size {trusted.size:,}")
    caveat = result.caveat()
    if caveat is not None:
        lines.append(caveat)
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


_register_governance(app, out, err)


@app.command()
def doctor(
    folders: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Also look for stale temporary files here (where outputs and exports go).",
            show_default=False,
        ),
    ] = None,
    fix: Annotated[bool, typer.Option("--fix", help="Remove the stale temporary files.")] = False,
    output_format: FormatOpt = OutputFormat.table,
    workspace: WorkspaceOpt = None,
) -> None:
    """List what killed or interrupted commands left behind; exit 1 when something needs care."""
    import json

    result = _workspace(workspace).doctor(folders=folders or (), fix=fix)
    if output_format is OutputFormat.json:
        out.print(json.dumps(result.to_dict(), indent=2), markup=False, highlight=False)
    elif not result.findings:
        out.print(f"workspace {result.workspace}: healthy", markup=False, highlight=False)
    else:
        for f in result.findings:
            status = " (removed)" if f.fixed else ""
            line = f"{f.kind}{status}: {f.path}\n    {f.detail}"
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if not result.healthy:
        raise typer.Exit(1)


@app.command("settings")
def show_settings(workspace: WorkspaceOpt = None) -> None:
    """Show every setting, its value and where the value came from."""
    from rich.table import Table

    resolved = load_settings(workspace)
    t = Table("setting", "value", "source", "environment variable", "help")
    for s in SETTINGS:
        t.add_row(s.name, str(getattr(resolved, s.name)), resolved.sources[s.name], s.env, s.help)
    out.print(t)


@app.command()
def version(workspace: WorkspaceOpt = None) -> None:
    """Print the version of custodes."""
    out.print(f"custodes {__version__}")


def _error(exc: CustodesError) -> None:
    text = Text("error", style="bold red")
    text.append(f" [{exc.code}]: {exc.message}")
    err.print(text, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (errors mapped from the exception tree)."""
    try:
        app(args=argv, prog_name="custodes")
    except SystemExit as exc:  # usage errors and --help: the parser's own exit code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CustodesError as exc:
        _error(exc)
        return exc.exit_code
    except Exception as exc:
        if os.environ.get("CUSTODES_DEBUG"):
            raise
        # Another library's message may quote data values: name only the error's type.
        bug = InternalError(f"unexpected {type(exc).__name__}; set CUSTODES_DEBUG=1 for details")
        _error(bug)
        return bug.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
