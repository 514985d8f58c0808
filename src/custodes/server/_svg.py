"""The pages' charts: horizontal bars and a budget gauge, as inline SVG (no script)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

__all__ = ["bar_chart", "gauge", "risk_charts"]

_ROW = 22
_LABEL = 150
_BAR = 320


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(bars: Sequence[tuple[str, float, str]], title: str) -> Markup:
    """Bars of ``(label, value, text)`` scaled to the largest value. The title and each
    bar's text are read out by screen readers."""
    top = max((v for _, v, _ in bars), default=0.0) or 1.0
    height = _ROW * max(len(bars), 1) + 8
    width = _LABEL + _BAR + 110
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value, text) in enumerate(bars):
        y = 4 + i * _ROW
        w = max(_BAR * value / top, 1.0 if value > 0 else 0.0)
        parts += [
            f'<text class="label" x="{_LABEL - 6}" y="{y + 15}" text-anchor="end">'
            f"{escape(label)}</text>",
            f'<rect class="bar" x="{_LABEL}" y="{y + 3}" width="{_num(w)}" '
            f'height="{_ROW - 6}"><title>{escape(label)}: {escape(text)}</title></rect>',
            f'<text class="value" x="{_num(_LABEL + w + 6)}" y="{y + 15}">{escape(text)}</text>',
        ]
    parts.append("</svg>")
    return Markup("\n".join(parts))


def gauge(spent: float, total: float, title: str, text: str) -> Markup:
    """A budget gauge: the share of ``total`` spent."""
    share = 0.0 if total <= 0 else min(max(spent / total, 0.0), 1.0)
    tone = " warn" if share >= 0.8 else ""
    return Markup(
        f'<svg class="gauge" role="img" width="260" height="28" viewBox="0 0 260 28" '
        f'aria-label="{escape(title)}: {escape(text)}"><title>{escape(title)}: '
        f'{escape(text)}</title><rect class="track" x="0" y="4" width="260" height="20" rx="4"/>'
        f'<rect class="fill{tone}" x="0" y="4" width="{_num(260 * share)}" height="20" '
        f'rx="4"/></svg>'
    )


_SIZES = ((1, 1, "1"), (2, 2, "2"), (3, 4, "3-4"), (5, 9, "5-9"), (10, 19, "10-19"))


def risk_charts(risk: dict[str, Any], t: Any) -> dict[str, Markup]:
    """The charts of a dataset's risk report: records by class size, records by risk, and
    the unique records each quasi-identifier's removal would save (generalize first)."""
    histogram = [
        (int(h["size"]), int(h["classes"])) for h in risk["equivalence_classes"]["histogram"]
    ]
    rows = max(int(risk["rows"]), 1)
    sizes = [*_SIZES, (20, None, "≥ 20")]
    bars = []
    for low, high, label in sizes:
        records = sum(s * c for s, c in histogram if s >= low and (high is None or s <= high))
        bars.append((label, records / rows, t.percent(records / rows)))
    by_risk = [
        (f"{t.percent(b['low'])}-{t.percent(b['high'])}", float(b["records"]),
         t.percent(b["records"]))
        for b in risk["risk_distribution"]
    ]  # fmt: skip
    impact = [
        (c["column"], float(c["uniques_removed"]), t.percent(c["uniques_removed"]))
        for c in risk.get("column_impact", [])
    ]
    population = risk.get("population") or {}
    models = [
        (name, population.get(key))
        for name, key in (("Pitman", "pitman"), ("Zayatz", "zayatz"), ("SNB", "snb"))
    ]
    dankar = (population.get("dankar") or {}).get("fraction")
    models.append((f"Dankar ({(population.get('dankar') or {}).get('model') or '-'})", dankar))
    unique = [(name, float(v), t.percent(v)) for name, v in models if v is not None]
    unique.insert(0, (t("Unique in the sample"), float(risk["sample_uniques"]["fraction"] or 0),
                      t.percent(risk["sample_uniques"]["fraction"])))  # fmt: skip
    return {
        "population": bar_chart(unique, t("Population uniqueness")),
        "classes": bar_chart(bars, t("Class sizes")),
        "risk": bar_chart(by_risk, t("Records by risk")),
        "impact": bar_chart(impact, t("Generalize first")),
    }
