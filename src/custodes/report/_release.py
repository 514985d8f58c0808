"""The release report: what was changed, what it cost, and the risk before and after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from custodes.risk import fold_rare, smallest_shown

if TYPE_CHECKING:
    from custodes.anonymize import Anonymization
from custodes.report._svg import (
    Bar,
    count,
    figure,
    h,
    horizontal_bar_chart,
    html_page,
    paragraph,
    percent,
    table,
)

__all__ = ["fold_rare", "release_html", "render_release_html", "smallest_shown"]

Distribution = Sequence[tuple[str, int]]
_TOP = 12


def _bars(distribution: Distribution, total: int) -> list[Bar]:
    ordered = sorted(distribution, key=lambda item: -item[1])
    shown = ordered[:_TOP]
    rest = ordered[_TOP:]
    if rest:
        shown = [*shown, (f"{len(rest):,} other values", sum(n for _, n in rest))]
    return [Bar(label, n, f"{count(n)} ({percent(n / total)})") for label, n in shown]


def _risk_rows(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[list[str]]:
    def row(name: str, key: str, sub: str | None, fmt: str) -> list[str]:
        values = []
        for side in (before, after):
            value = side[key][sub] if sub else side[key]
            values.append(count(value) if fmt == "count" else percent(value))
        return [name, *values]

    return [
        row("k-anonymity (smallest class)", "k_anonymity", None, "count"),
        row("equivalence classes", "equivalence_classes", "count", "count"),
        row("records unique", "sample_uniques", "fraction", "percent"),
        row("records at risk", "prosecutor", "records_at_risk", "percent"),
        row("highest prosecutor risk", "prosecutor", "highest_risk", "percent"),
        row("average prosecutor risk", "prosecutor", "average_risk", "percent"),
    ]


def release_html(release: Anonymization, title: str = "Anonymized release") -> str:
    """The release report of an anonymization: per-column loss, risk before and after,
    distributions."""
    return render_release_html(release.manifest(), release.distributions, title=title)


def render_release_html(
    manifest: Mapping[str, Any],
    distributions: Mapping[str, tuple[Distribution, Distribution]],
    *,
    title: str = "Anonymized release",
    generated_at: str | None = None,
) -> str:
    """One self-contained page from a release manifest and per-column value counts.

    ``distributions[column]`` holds the quasi-identifier's (value, records)
    before and after; beyond the twelve most frequent values the rest are
    shown together as "other values". A value held by fewer records than the
    release's k (:func:`smallest_shown`) is never named.
    """
    smallest = smallest_shown(manifest)
    when = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    spec = manifest["spec"]
    utility = manifest["utility"]
    rows_in = int(manifest["input"]["rows"])
    sections = []
    method = manifest.get("method", "global")
    if method == "local":
        summary = (
            f"Local recoding (Mondrian) into {count(manifest['parts'])} parts; "
            f"Loss {utility['loss']:.4f}."
        )
        best = manifest.get("global_optimum") or {}
        if best.get("exists"):
            chosen = ", ".join(f"{q}={lv}" for q, lv in best["transformation"].items())
            verdict = (
                "local recoding keeps more information"
                if utility["loss"] < best["loss"]
                else "the global transformation keeps more information; consider it"
            )
            summary += (
                f" The global optimum under the same policy ({chosen}, "
                f"{count(best['suppressed_records'])} records suppressed) has Loss "
                f"{best['loss']:.4f}: {verdict}."
            )
        elif best:
            summary += " No global transformation meets the policy within the suppression limit."
    else:
        summary = (
            f"Full-domain generalization, {count(manifest['suppressed_records'])} records "
            f"suppressed, Loss {utility['loss']:.4f}"
            + (" (proven optimal)." if manifest["search"]["optimal"] else " (not proven optimal).")
        )
    models = "; ".join(manifest["privacy_models"])
    sections.append(
        '<section id="release"><h2>Release</h2>'
        + paragraph(summary, "headline")
        + paragraph(f"Privacy models met: {models}.")
        + paragraph(
            f"Input {manifest['input']['name']} ({count(rows_in)} records, SHA-256 "
            f"{manifest['input']['sha256'] or 'n/a'}); spec SHA-256 {manifest['spec_sha256']}."
        )
        + "</section>"
    )
    columns = {c["column"]: c for c in utility.get("columns", [])}
    levels = manifest.get("transformation") or {}
    rows = []
    for q in spec["quasi_identifiers"]:
        c = columns.get(q, {})
        rows.append(
            [
                q,
                str(levels.get(q, "local")),
                f"{utility['loss_per_column'][q]:.4f}",
                f"{c['granularity']:.3f}" if c else "",
                f"{c['non_uniform_entropy']:.3f}" if c else "",
                percent(c["missing_fraction"]) if c else "",
            ]
        )
    headers = ["Column", "Level", "Loss", "Granularity", "Bits lost", "Missing"]
    sections.append(
        '<section id="utility"><h2>What each column lost</h2>'
        + table("Generalization and information loss per column", headers, rows)
        + "</section>"
    )
    risk = table(
        "Re-identification risk before and after",
        ["Measure", "Before", "After"],
        _risk_rows(manifest["risk_before"], manifest["risk_after"]),
    )
    sections.append(f'<section id="risk"><h2>Risk before and after</h2>{risk}</section>')
    for q, (before, after) in distributions.items():
        charts = []
        for label, raw in (("before", before), ("after", after)):
            dist = fold_rare(raw, smallest)
            total = sum(n for _, n in dist) or 1
            svg = horizontal_bar_chart(
                _bars(dist, total),
                title=f"{q} {label}",
                description=f"Records per value of {q} {label} anonymization.",
            )
            charts.append(figure(svg, f"{q}: records per value {label} anonymization."))
        sections.append(f"<section><h2>{h(q)}: before and after</h2>{''.join(charts)}</section>")
    return html_page(
        title,
        f"generated {when}",
        sections,
        f"Quasi-identifier values held by at least {smallest:,} records (the release's k) "
        "appear with their counts, rarer ones only as counts; identifying and sensitive "
        "columns never do.",
        generated=when,
    )
