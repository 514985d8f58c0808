"""The Typer app: global options, the workspace, progress, reports, errors to exit codes."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
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

from custodes._files import write_atomic
from custodes.cli._render import write_text
from custodes.errors import CustodesError, InternalError, SettingError
from custodes.settings import load_settings
from custodes.workspace import Workspace

__all__ = [
    "DelimiterOpt",
    "EncodingOpt",
    "FormatOpt",
    "HeaderOpt",
    "InputFormatOpt",
    "OutputFormat",
    "OutputOpt",
    "SheetOpt",
    "TableOpt",
    "WorkspaceOpt",
    "app",
    "emit",
    "err",
    "input_options",
    "main",
    "open_workspace",
    "out",
    "parse_hierarchies",
    "progress_bar",
    "split_names",
]

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


def emit(
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


def open_workspace(path: Path | None, **overrides: Any) -> Workspace:
    """The workspace of ``--workspace`` (else the settings'), with settings overridden."""
    return Workspace(load_settings(path, overrides))


@contextmanager
def progress_bar(
    enabled: bool,
    label: str = "measuring column combinations",
    first: str = "reading and summarizing the table",
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress display on stderr: ``first`` (a spinner), then ``label`` with a bar
    (from the first report of progress)."""
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
        scan = bar.add_task(first, total=None)
        combos: list[TaskID] = []

        def update(done: int, total: int) -> None:
            if not combos:
                bar.update(scan, total=1, completed=1)
                combos.append(bar.add_task(label, total=total))
            bar.update(combos[0], completed=done, total=total)

        yield update


def parse_hierarchies(specs: list[str]) -> dict[str, str]:
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


def input_options(
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


def split_names(text: str) -> list[str]:
    """The names of a comma-separated list."""
    return [n.strip() for n in text.split(",") if n.strip()]


def _error(exc: CustodesError) -> None:
    text = Text("error", style="bold red")
    text.append(f" [{exc.code}]: {exc.message}")
    err.print(text, highlight=False, soft_wrap=True)


def _repeated(command: Any, args: list[str]) -> str | None:
    """The first option of one value given twice to the command ``args`` run (the
    parser would keep the last and drop the first without a word), or None."""
    rest = list(args)
    while hasattr(command, "commands"):  # a group: follow the subcommand named
        names = [a for a in rest if not a.startswith("-")]
        if not names or names[0] not in command.commands:
            return None
        rest = rest[rest.index(names[0]) + 1 :]
        command = command.commands[names[0]]
    single = {
        opt: param.name
        for param in getattr(command, "params", ())
        if getattr(param, "opts", None)
        and not getattr(param, "multiple", True)
        and not getattr(param, "is_flag", True)
        and not getattr(param, "count", False)
        for opt in param.opts
    }
    seen: set[str] = set()
    for arg in rest:
        if arg == "--":
            break
        option = arg.split("=", 1)[0]
        if option in single:
            if single[option] in seen:
                return option
            seen.add(single[option])
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (errors mapped from the exception tree)."""
    try:
        command = typer.main.get_command(app)
        twice = _repeated(command, sys.argv[1:] if argv is None else argv)
        if twice is not None:
            raise SettingError(
                f"the option {twice} is given twice, and only one would count; give it once "
                f"(several names go in one, comma-separated: {twice} a,b)."
            )
        command(args=argv, prog_name="custodes")
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
