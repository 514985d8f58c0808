"""Rendering results for the terminal with Rich."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from custodes.risk import Assessment

if TYPE_CHECKING:
    from custodes.detect import ScanResult

__all__ = ["render_assessment", "render_scan", "write_text"]


def write_text(console: Console, text: str) -> None:
    """Print machine output (JSON, HTML) as it is: never wrapped, styled or emoji-replaced.

    Rich would wrap a long line at the terminal's width, making piped JSON invalid.
    """
    console.file.write(text if text.endswith("\n") else text + "\n")
    console.file.flush()


def _names(names: tuple[str, ...]) -> str:
    """Column names for Rich markup: escaped, so a '[' in a name is shown as is."""
    return escape(", ".join(names))


def _pct(x: float | None, digits: int = 2) -> str:
    return "did not converge" if x is None else f"{x * 100:.{digits}f} %"


def render_assessment(a: Assessment, console: Console) -> None:
    """Print an assessment as a few compact tables."""
    ec = a.equivalence_classes
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("source", escape(a.source))
    head.add_row("rows", f"{a.rows:,}")
    head.add_row("quasi-identifiers", _names(a.quasi_identifiers))
    if a.sensitive:
        head.add_row("sensitive", _names(a.sensitive))
    if a.identifying:
        head.add_row(
            "[bold red]direct identifiers[/bold red]",
            _names(a.identifying) + " [red](not assessed: remove or mask before release)[/red]",
        )
    head.add_row(
        "equivalence classes",
        f"{ec.count:,} (size min {ec.min_size:,}, avg {ec.avg_size:,.2f}, max {ec.max_size:,})",
    )
    head.add_row("k-anonymity", f"{a.k_anonymity:,}")
    head.add_row(
        "sample uniques", f"{a.sample_unique_records:,} ({_pct(a.sample_uniques_fraction)})"
    )

    risks = Table(title="Attacker models", title_justify="left")
    for col in ("model", "highest risk", "average risk", f"records at risk > {a.threshold:g}"):
        risks.add_column(col, justify="right" if col != "model" else "left")
    for name, r in (("prosecutor", a.prosecutor), ("journalist", a.journalist)):
        risks.add_row(name, _pct(r.highest_risk), _pct(r.average_risk), _pct(r.records_at_risk))
    risks.add_row("marketer", "", _pct(a.marketer_success_rate), "")

    parts: list[Any] = [head, risks]
    if a.population is not None:
        p = a.population
        pop = Table(title="Population uniqueness", title_justify="left")
        pop.add_column("population")
        pop.add_column("sampling fraction", justify="right")
        for col in ("Pitman", "Zayatz", "SNB", "Dankar"):
            pop.add_column(col, justify="right")
        dankar = f"{_pct(p.dankar, 3)} ({p.dankar_model})" if p.dankar_model else "n/a"
        if p.dankar_model in ("census", "population table"):  # counted, not estimated
            models = [f"n/a ({p.dankar_model})"] * 3
        else:
            models = [_pct(p.pitman, 3), _pct(p.zayatz, 3), _pct(p.snb, 3)]
        pop.add_row(
            f"{p.size:,}",
            f"{p.sampling_fraction:.4g}",
            *models,
            dankar,
        )
        parts.append(pop)
    for s in a.sensitive:
        ld, tc = a.l_diversity[s], a.t_closeness[s]
        t = Table(title=f"Sensitive attribute {escape(repr(s))}", title_justify="left")
        t.add_column("measure")
        t.add_column("value", justify="right")
        t.add_column("measure")
        t.add_column("value", justify="right")
        hier = "n/a (no hierarchy)" if tc.hierarchical is None else f"{tc.hierarchical:.4f}"
        t.add_row("distinct-l", str(ld.distinct), "t, equal distance", f"{tc.equal_distance:.4f}")
        t.add_row(
            "entropy-l", f"{ld.entropy:.3f}", "t, ordered distance", f"{tc.ordered_distance:.4f}"
        )
        t.add_row(
            f"recursive-(c={ld.recursive_c:g}) l", str(ld.recursive_l), "t, hierarchical", hier
        )
        t.add_row(
            "homogeneous classes",
            f"{ld.homogeneous_classes:,}",
            "records in them",
            _pct(ld.records_in_homogeneous_classes),
        )
        parts.append(t)
    if a.column_impact:
        imp = Table(title="What to generalize first", title_justify="left")
        imp.add_column("leave out")
        imp.add_column("uniques removed", justify="right")
        imp.add_column("uniques left", justify="right")
        for impact in a.column_impact[:5]:
            imp.add_row(
                escape(impact.column), _pct(impact.uniques_removed), _pct(impact.uniques_without)
            )
        parts.append(imp)
    if a.qi_combinations:
        riskiest = sorted(a.qi_combinations, key=lambda c: (-c.uniques, len(c.columns)))
        combo = Table(title="Smallest column sets that single people out", title_justify="left")
        combo.add_column("columns")
        combo.add_column("uniques", justify="right")
        combo.add_column("distinction", justify="right")
        combo.add_column("separation", justify="right")
        shown: set[int] = set()
        for c in sorted(riskiest, key=lambda c: (len(c.columns), -c.uniques)):
            if len(c.columns) in shown or c.uniques == 0:
                continue
            shown.add(len(c.columns))
            combo.add_row(
                _names(c.columns),
                _pct(c.uniques),
                f"{c.distinction:.4f}",
                f"{c.separation:.4f}",
            )
        parts.append(combo)
    if a.qi_combinations_coverage is not None and a.qi_combinations_coverage.note:
        parts.append(Text(f"Not every column set was measured: {a.qi_combinations_coverage.note}."))
    console.print(Panel(Group(*parts), title="Re-identification risk", expand=False))


def render_scan(result: ScanResult, console: Console) -> None:
    """Print a scan: one row per column, then the suggested grade and its reasons."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("source", escape(result.source))
    scope = "every row" if result.full else f"the first {result.scanned_rows:,} rows"
    head.add_row("rows", f"{result.rows:,} (scanned: {scope})")
    columns = Table(title="Columns", title_justify="left")
    for name in ("column", "suggested role", "entity", "match", "confidence", "categories"):
        columns.add_column(name, justify="right" if name in ("match", "confidence") else "left")
    styles = {"identifying": "bold red", "quasi_identifying": "yellow", "sensitive": "magenta"}
    for c in result.columns:
        role = c.suggested_role.replace("_", "-")
        if c.suggested_action == "redact":
            role += " (redact)"
        entity = c.main_entity or ", ".join(sorted({e.entity for e in c.entities if e.in_text}))
        shown = c.name if c.name_withheld is None else f"(name withheld: {c.name_withheld})"
        columns.add_row(
            escape(shown),
            f"[{styles.get(c.suggested_role, 'dim')}]{role}[/]",
            escape(entity or "-"),
            f"{c.match_rate:.0%}" if c.match_rate else "",
            f"{c.confidence:.2f}" if c.confidence else "",
            escape(", ".join(c.sensitive_categories)),
        )
    grade = Table.grid(padding=(0, 2))
    grade.add_column(style="bold")
    grade.add_column()
    grade.add_row("suggested grade", f"[bold]{result.grade.level}[/bold] (GB/T 43697)")
    for reason in result.grade.reasons:
        grade.add_row("", escape(reason))
    console.print(Panel(Group(head, columns, grade), title="personal data scan"))
