"""Commands on tables: assess, scan and anonymize."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes._files import write_atomic
from custodes.anonymize import (
    Anonymization,
    AnonymizationSpec,
    load_spec,
    read_manifest,
    spec_from_manifest,
)
from custodes.cli._acting import AsOpt, KeyOpt, _acting
from custodes.cli._app import (
    DelimiterOpt,
    EncodingOpt,
    FormatOpt,
    HeaderOpt,
    InputFormatOpt,
    OutputFormat,
    OutputOpt,
    SheetOpt,
    TableOpt,
    WorkspaceOpt,
    app,
    emit,
    err,
    input_options,
    open_workspace,
    out,
    parse_hierarchies,
    progress_bar,
    split_names,
)
from custodes.cli._flags import spec_from_flags
from custodes.cli._render import render_assessment, render_scan
from custodes.errors import SettingError

__all__ = ["anonymize", "assess", "scan"]


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
    ws = open_workspace(workspace, risk_threshold=threshold)
    if population is not None and population_size is not None:
        raise SettingError("give --population or --population-size, not both.")
    options = input_options(input_format, delimiter, encoding, header, table, sheet)
    if roles_from is not None:
        roles = ws.roles_from_scan(
            roles_from,
            path,
            quasi_identifiers=qi,
            sensitive=sensitive,
            identifying=identifying,
            read_options=options,
        )
        if qi is None and not roles.quasi_identifiers:
            raise SettingError(
                f"the scan {str(roles_from)!r} suggests no quasi-identifiers; name them with --qi."
            )
        qi = ",".join(roles.quasi_identifiers)
        sensitive = ",".join(roles.sensitive) or None
        identifying = ",".join(roles.identifying) or None
    if qi is None:
        raise SettingError("give the quasi-identifiers: --qi COLUMNS, or --roles-from SCAN.json.")
    show_progress = err.is_terminal
    with progress_bar(show_progress) as progress:
        result = ws.assess(
            path,
            quasi_identifiers=qi,
            sensitive=sensitive,
            identifying=identifying,
            insensitive=insensitive,
            population=population if population is not None else population_size,
            sampling_fraction=sampling_fraction,
            population_table=population_table,
            hierarchies=parse_hierarchies(hierarchy or []),
            recursive_c=recursive_c,
            combinations=combinations,
            progress=progress,
            read_options=options,
        )
    from custodes.report import render_assessment_html

    emit(
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
    ws = open_workspace(workspace)
    options = input_options(input_format, delimiter, encoding, header, table, sheet)
    label = "scanning every row" if all_rows else "scanning columns"
    with progress_bar(err.is_terminal, label, "reading the first rows") as progress:
        result = ws.scan(
            path,
            sample=sample,
            full=all_rows,
            policy=policy,
            progress=progress,
            read_options=options,
        )
    from custodes.report import render_scan_html

    emit(
        output_format,
        output,
        result.to_json,
        lambda: render_scan_html(result.to_dict()),
        lambda console: render_scan(result, console),
    )


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
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            help="Memory the search may hold: 4GiB, 512MiB, 50% (of the available) or auto "
            "(half); past it the summary is searched in parts on disk (k-anonymity only).",
        ),
    ] = None,
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
    mosaic_safe: Annotated[
        str | None,
        typer.Option(
            "--mosaic-safe",
            metavar="RECIPIENT",
            help="Find the least-loss transformation whose combination with what RECIPIENT "
            "already holds meets the governance policy (a steward; with --dataset).",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(help="With --mosaic-safe: the registered dataset PATH is (its file)."),
    ] = None,
    as_: AsOpt = None,
    key: KeyOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Generalize a table to the least-loss transformation that meets a privacy policy."""
    if mosaic_safe is not None and dataset is None:
        raise SettingError(
            "--mosaic-safe weighs what the recipient holds of a catalog dataset's people: "
            "name the registered dataset PATH is (--dataset NAME)."
        )
    ws = open_workspace(workspace, memory_limit=memory_limit)
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
            redacted = [item.partition(":")[0].strip() for item in redact or []]
            ids, extra = ws.identifiers_from_scan(
                roles_from, path, identifying=split_names(identifying or ""), redacted=redacted
            )
            identifying, redact = ",".join(ids) or None, [*(redact or []), *extra]
        spec = spec_from_flags(
            qi=qi, hierarchies=parse_hierarchies(hierarchy or []), k=k, sensitive=sensitive,
            l_value=l_value, recursive_c=recursive_c, t=t, t_distance=t_distance,
            average_risk=average_risk, suppression=suppression, identifying=identifying,
            mask=mask or (), pseudonymize=pseudonymize or (), shift_dates=shift_dates or (),
            key_file=key_file, local=local, microaggregate=microaggregate or (),
            objective=objective, population_uniqueness=population_uniqueness,
            population=population, redact=redact or (),
        )  # fmt: skip
    if mosaic_safe is not None and dataset is not None:
        result = _mosaic_safe(
            path, spec, output, manifest, mosaic_safe, dataset, as_, workspace, memory_limit
        )
    else:
        with progress_bar(err.is_terminal, "searching transformations") as progress:
            result = ws.anonymize(path, spec, output=output, manifest=manifest, progress=progress)
    if report is not None:
        from custodes.report import release_html

        write_atomic(report, release_html(result))
    _print_release(result, output)


def _mosaic_safe(
    path: str,
    spec: AnonymizationSpec,
    output: Path,
    manifest: Path | None,
    recipient: str,
    dataset: str,
    actor: str | None,
    workspace: Path | None,
    memory_limit: str | None,
) -> Anonymization:
    """Anonymize ``path`` (the registered file of ``dataset``) to the least-loss
    transformation whose combination with what ``recipient`` holds meets the policy; the
    check is recorded on the ledger and its figures printed."""
    ws, who = _acting(workspace, actor, memory_limit=memory_limit)
    with ws:
        governance = ws.governance(who)
        check, holdings = governance.mosaic_preview(dataset, recipient, spec, Path(path))
        with progress_bar(err.is_terminal, "searching transformations") as progress:
            result = ws.anonymize(
                path, spec, output=output, manifest=manifest, progress=progress,
                mosaic=check, mosaic_safe=True,
            )  # fmt: skip
        verdict = governance.preview_verdict(
            holdings, result.mosaic_view(check.name, check.link), dataset
        )
    figures = verdict["figures"]
    out.print(
        f"mosaic-safe for {recipient}: combined with {len(verdict['releases'])} release(s) "
        f"held, k {figures['k']}, highest risk {figures['highest_risk']}, holding graded "
        f"{verdict['holding']['grade']}: {verdict['verdict']}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return result


def _print_release(result: Anonymization, output: Path) -> None:
    for line in result.summary_lines():
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    for title, assessment in (("before", result.before), ("after", result.after)):
        out.rule(f"risk {title}")
        render_assessment(assessment, out)
    err.print(f"wrote {output}", markup=False, highlight=False)
