"""The scan report: which columns hold personal data, and the suggested grade."""

from __future__ import annotations

from collections.abc import Mapping
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
    table,
)

__all__ = ["render_scan_html"]

_ROLE_NAMES = {
    "identifying": "identifying",
    "quasi_identifying": "quasi-identifying",
    "sensitive": "sensitive",
    "insensitive": "insensitive",
}


def render_scan_html(
    scan: Mapping[str, Any], *, title: str = "Personal data scan", generated_at: str | None = None
) -> str:
    """One self-contained page from a scan's JSON form (:meth:`ScanResult.to_dict`)."""
    when = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    grade = scan["grade"]
    scope = "every row" if scan["full"] else f"the first {count(scan['scanned_rows'])} rows"
    sections = [
        '<section id="grade"><h2>Suggested grade</h2>'
        + paragraph(
            f"{grade['level'].capitalize()} data under GB/T 43697, for {scan['source']} "
            f"({count(scan['rows'])} rows; scanned {scope}).",
            "headline",
        )
        + "<ul>"
        + "".join(f"<li>{h(reason)}</li>" for reason in grade["reasons"])
        + "</ul>"
        + paragraph(f"Grading policy: {scan['policy']['source']}.")
        + "</section>"
    ]
    rows = []
    reasons = []
    for c in scan["columns"]:
        in_text = sorted({e["entity"] for e in c["entities"] if e["in_text"]})
        entity = c["main_entity"] or (", ".join(in_text) + " (in text)" if in_text else "")
        role = _ROLE_NAMES[c["suggested_role"]]
        if c["suggested_action"] == "redact":
            role += " (redact spans)"
        rows.append(
            [
                c["name"],
                role,
                entity,
                ", ".join(c["sensitive_categories"]).replace("_", " "),
                f"{c['match_rate']:.1%}" if c["match_rate"] else "",
                f"{c['confidence']:.2f}" if c["confidence"] else "",
            ]
        )
        if c["reasons"]:
            reasons.append(f"<dt>{h(c['name'])}</dt><dd>{h('; '.join(c['reasons']))}.</dd>")
    headers = ["Column", "Suggested role", "Entity", "Sensitive categories", "Match", "Confidence"]
    sections.append(
        '<section id="columns"><h2>Columns</h2>'
        + table("What each column holds", headers, rows, numeric_from=4)
        + (f"<h3>Why</h3><dl>{''.join(reasons)}</dl>" if reasons else "")
        + "</section>"
    )
    bars = [
        Bar(c["name"], float(c["match_rate"]), f"{c['match_rate']:.0%}")
        for c in scan["columns"]
        if c["match_rate"]
    ]
    if bars:
        svg = horizontal_bar_chart(
            bars,
            title="Share of values recognized",
            max_value=1.0,
            description="For each column with a main entity, the share of its values that are it.",
        )
        sections.append(
            '<section id="rates"><h2>Recognized values</h2>'
            + figure(svg, "Share of each column's values that are its main entity.")
            + "</section>"
        )
    return html_page(
        title,
        f"generated {when}",
        sections,
        "The scan shows column names, counts and rates only, never a value.",
        generated=when,
        extra_style=" dt { font-weight: 600; }",
    )
