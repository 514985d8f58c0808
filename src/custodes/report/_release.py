"""The release report: what was changed, what it cost, and the risk before and after."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

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

__all__ = ["fold_rare", "render_release_html", "smallest_shown"]

Distribution = Sequence[tuple[str, int]]
_TOP = 12


def smallest_shown(manifest: Mapping[str, Any]) -> int:
    """The fewest records a value needs to be named in a report of this release.

    The release's k: the largest of the k of its k-anonymity models, the
    smallest class it achieved, and 2. A value held by fewer records is only
    counted, among "values below k".
    """
    ks = [
        int(m["k"])
        for m in manifest.get("spec", {}).get("models", [])
        if isinstance(m, Mapping) and m.get("model") == "KAnonymity" and "k" in m
    ]
    achieved = manifest.get("risk_after", {}).get("k_anonymity")
    if isinstance(achieved, int) and not isinstance(achieved, bool):
        ks.append(achieved)
    return max([2, *ks])


_FOLDED = re.compile(r"^([\d,]+) values with fewer than ([\d,]+) records$")


def fold_rare(distribution: Distribution, smallest: int) -> list[tuple[str, int]]:
    """The distribution with every value held by fewer than ``smallest`` records folded
    into one entry that names no value. Folding a folded distribution again changes
    nothing: an earlier fold's entry joins the new one with the values it counts."""
    kept: list[tuple[str, int]] = []
    values = records = 0
    for value, n in distribution:
        folded = _FOLDED.match(value)
        if folded is not None and int(folded.group(2).replace(",", "")) <= smallest:
            values += int(folded.group(1).replace(",", ""))
            records += n
        elif n < smallest:
            values += 1
            records += n
        else:
            kept.append((value, n))
    if values:
        kept.append((f"{values:,} values with fewer than {smallest:,} records", records))
    return kept


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
