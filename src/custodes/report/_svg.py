"""The report's look: stylesheet, markup primitives and inline SVG charts.

The one stylesheet (screen and print) of the page and its charts; escaping and
the markup primitives (tables, paragraphs, figures); the number formats; two
chart primitives (horizontal and vertical bar charts) drawn without a plotting
library, and the three charts of an assessment built on them: class sizes, the
risk distribution and column impact. :mod:`._html` lays out the page with them.

Every text that reaches the markup is escaped here, so labels may come from
user files (column names). Charts are accessible images: ``role="img"``, an
``aria-label``, a ``<title>`` and a ``<desc>``, and each bar has a ``<title>``
that browsers show as a tooltip. Colours come from CSS classes, so the page's
print stylesheet styles them too. No ``xmlns``: inline SVG in HTML needs none,
and the page holds no URL at all.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "STYLESHEET",
    "Bar",
    "Raw",
    "SizeBucket",
    "class_size_buckets",
    "class_size_chart",
    "count",
    "figure",
    "h",
    "horizontal_bar_chart",
    "html_page",
    "impact_chart",
    "paragraph",
    "percent",
    "risk_chart",
    "table",
    "text_width",
    "vertical_bar_chart",
]

_FONT = 12.0  # px, the chart text size (STYLESHEET sets it)

STYLESHEET = """
:root { --ink: #1d1d1f; --muted: #5f6368; --line: #d9dce1; --accent: #1f4e79;
  --high: #b3261e; --high-bg: #fdecea; --medium: #8a5300; --medium-bg: #fff4e0;
  --low: #1e6b34; --low-bg: #e8f5ec; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5; font-size: 15px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue",
  Arial, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; }
header, nav, main, footer { max-width: 1100px; margin: 0 auto; padding: 0 28px; }
header { padding-top: 28px; border-bottom: 3px solid var(--accent); }
h1 { margin: 0 0 4px; font-size: 28px; color: var(--accent); }
h2 { margin: 36px 0 12px; font-size: 21px; border-bottom: 1px solid var(--line); }
h3 { margin: 28px 0 8px; font-size: 17px; }
p { margin: 8px 0; max-width: 80ch; }
.subtitle { margin: 0 0 14px; color: var(--muted); overflow-wrap: anywhere; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; }
nav a { color: var(--accent); text-decoration: none; font-size: 14px; }
.explain, figcaption, .note { color: var(--muted); font-size: 14px; }
.headline { font-weight: 600; }
.verdict { border: 1px solid; border-left-width: 10px; border-radius: 6px; padding: 14px 20px; }
.verdict-high { border-color: var(--high); background: var(--high-bg); }
.verdict-medium { border-color: var(--medium); background: var(--medium-bg); }
.verdict-low { border-color: var(--low); background: var(--low-bg); }
.verdict-level { margin: 0; font-size: 24px; font-weight: 700; }
.verdict-high .verdict-level { color: var(--high); }
.verdict-medium .verdict-level { color: var(--medium); }
.verdict-low .verdict-level { color: var(--low); }
.verdict-text { font-size: 17px; margin: 6px 0 12px; max-width: none; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr));
  gap: 10px; margin: 0; }
.figure-card { background: #fff; border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 12px; }
.figure-card dt { font-size: 13px; color: var(--muted); }
.figure-card dd { margin: 2px 0 0; font-size: 22px; font-weight: 700; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.legend { list-style: none; padding: 0; margin: 12px 0 4px; font-size: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  margin-right: 8px; vertical-align: -1px; }
.swatch-high { background: var(--high); } .swatch-medium { background: var(--medium); }
.swatch-low { background: var(--low); }
.verdict, .swatch, tr.chosen, svg.chart { -webkit-print-color-adjust: exact;
  print-color-adjust: exact; }
table { border-collapse: collapse; margin: 14px 0 8px; font-size: 14px; min-width: 50%; }
caption { text-align: left; font-weight: 600; padding-bottom: 6px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 14px 5px 0; text-align: left;
  vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); font-size: 13px; color: var(--muted); }
tbody th { font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.num, td.num { padding-left: 14px; }
tr.chosen { background: #e6eef7; } tr.chosen th { color: var(--accent); }
table.facts th { width: 15em; white-space: nowrap; }
.col { display: inline-block; max-width: 100%; overflow-wrap: anywhere; }
figure { margin: 14px 0; } figcaption { margin-top: 4px; }
.chart-pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr));
  gap: 8px 28px; }
details { margin: 8px 0; font-size: 14px; } summary { cursor: pointer; color: var(--accent); }
footer { margin-top: 40px; padding-top: 12px; padding-bottom: 28px; font-size: 13px;
  border-top: 1px solid var(--line); color: var(--muted); }
svg.chart { display: block; max-width: 100%; height: auto; overflow: visible; }
svg.chart text { font-size: 12px; fill: #3c4043; }
svg.chart .label { fill: #1d1d1f; }
svg.chart .value { fill: #1d1d1f; font-variant-numeric: tabular-nums; }
svg.chart .axis-title { fill: #5f6368; font-size: 11px; }
svg.chart .grid { stroke: #e3e6ea; stroke-width: 1; }
svg.chart .axis { stroke: #80868b; stroke-width: 1; }
svg.chart .bar { fill: #3a6ea5; }
svg.chart .bar-alt { fill: #6b8fb8; }
svg.chart .bar-risk { fill: #b3261e; }
svg.chart .bar:hover { opacity: 0.8; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { font-size: 10pt; }
  header, nav, main, footer { max-width: none; padding: 0; }
  nav, details { display: none; }
  h2, h3 { break-after: avoid; }
  table, figure, .verdict, .legend { break-inside: avoid; }
}
"""


@dataclass(frozen=True)
class Bar:
    """One bar: its axis label, its length and the texts shown with it."""

    label: str
    value: float
    text: str = ""
    """Written after the bar in horizontal charts; in the tooltip of vertical ones."""
    tooltip: str = ""
    """The bar's ``<title>``; defaults to the label and the text."""
    tone: str = ""
    """Extra CSS class, e.g. ``"risk"`` gives ``class="bar bar-risk"``."""


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _num(value: float) -> str:
    """A coordinate: short and locale-free."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float = _FONT) -> float:
    """Rough rendered width of ``text``: wide (CJK) characters count double."""
    units = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            units += 1.0
        elif ch in "il.,:;'|!":
            units += 0.3
        elif ch.isupper() or ch in "mw%":
            units += 0.72
        else:
            units += 0.56
    return units * size


def _fit(text: str, width: float) -> str:
    """``text`` cut with an ellipsis so that it fits ``width`` pixels."""
    if text_width(text) <= width:
        return text
    while text and text_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _count_ticks(top: float, target: int = 5) -> list[int]:
    """Whole tick values from 0 to at least ``top`` in 1-2-5 steps, about ``target`` of them."""
    if top <= 0:
        return [0, 1]
    raw = max(top / target, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = [0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def _open(width: float, height: float, title: str, description: str, css: str) -> list[str]:
    return [
        f'<svg class="chart {css}" role="img" '
        f'width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" aria-label="{_attr(title)}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
    ]


def _bar_rect(bar: Bar, x: float, y: float, w: float, tall: float) -> str:
    tone = f" bar-{_attr(bar.tone)}" if bar.tone else ""
    tip = bar.tooltip or (f"{bar.label}: {bar.text}" if bar.text else bar.label)
    return (
        f'<rect class="bar{tone}" x="{_num(x)}" y="{_num(y)}" '
        f'width="{_num(w)}" height="{_num(tall)}"><title>{escape(tip)}</title></rect>'
    )


def horizontal_bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    max_value: float | None = None,
    width: float = 760.0,
    row_height: float = 26.0,
) -> str:
    """Bars from left to right, one row per bar, labels on the left, texts on the right."""
    label_w = min(max((text_width(b.label) for b in bars), default=0.0) + 12, width * 0.35)
    text_w = min(max((text_width(b.text) for b in bars), default=0.0) + 12, width * 0.35)
    plot_x = label_w + 4
    plot_w = max(width - plot_x - text_w, 40.0)
    top = max_value if max_value else max((b.value for b in bars), default=0.0)
    height = row_height * len(bars) + 8
    out = _open(width, height, title, description, "chart-h")
    out.append(
        f'<line class="axis" x1="{_num(plot_x)}" y1="2" '
        f'x2="{_num(plot_x)}" y2="{_num(height - 4)}"/>'
    )
    for i, bar in enumerate(bars):
        y = 4 + i * row_height
        length = plot_w * bar.value / top if top > 0 else 0.0
        if bar.value > 0:
            length = max(length, 1.5)
        mid = y + row_height / 2
        out.append(
            f'<text class="label" x="{_num(label_w)}" y="{_num(mid)}" '
            f'text-anchor="end" dominant-baseline="central">'
            f"{escape(_fit(bar.label, label_w - 8))}</text>"
        )
        out.append(_bar_rect(bar, plot_x, y + 4, length, row_height - 8))
        if bar.text:
            out.append(
                f'<text class="value" x="{_num(plot_x + length + 6)}" y="{_num(mid)}" '
                f'dominant-baseline="central">{escape(bar.text)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def vertical_bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    description: str,
    y_label: str,
    x_label: str,
    width: float = 520.0,
    height: float = 280.0,
) -> str:
    """Counts as bars rising from an x axis of labels, with whole y ticks and grid lines."""
    top = max((b.value for b in bars), default=0.0)
    ticks = _count_ticks(top)
    tick_w = max(text_width(f"{t:,}") for t in ticks)
    left = tick_w + 26
    right = 8.0
    slot = (width - left - right) / max(len(bars), 1)
    rotate = any(text_width(b.label) > slot - 2 for b in bars)
    label_h = max((text_width(b.label) for b in bars), default=0.0) * 0.72 + 8 if rotate else 16
    bottom = label_h + 22
    plot_h = height - bottom - 10
    base = 10 + plot_h
    scale = plot_h / ticks[-1]

    out = _open(width, height, title, description, "chart-v")
    for t in ticks:
        y = base - t * scale
        out.append(
            f'<line class="grid" x1="{_num(left)}" y1="{_num(y)}" '
            f'x2="{_num(width - right)}" y2="{_num(y)}"/>'
        )
        out.append(
            f'<text class="tick" x="{_num(left - 4)}" y="{_num(y)}" text-anchor="end" '
            f'dominant-baseline="central">{t:,}</text>'
        )
    mid_y = 10 + plot_h / 2
    out.append(
        f'<text class="axis-title" x="10" y="{_num(mid_y)}" text-anchor="middle" '
        f'transform="rotate(-90 10 {_num(mid_y)})">{escape(y_label)}</text>'
    )
    for i, bar in enumerate(bars):
        x = left + i * slot
        tall = bar.value * scale
        if bar.value > 0:
            tall = max(tall, 1.5)
        out.append(_bar_rect(bar, x + slot * 0.12, base - tall, slot * 0.76, tall))
        cx = x + slot / 2
        if rotate:
            out.append(
                f'<text class="tick" x="{_num(cx)}" y="{_num(base + 8)}" text-anchor="end" '
                f'transform="rotate(-45 {_num(cx)} {_num(base + 8)})">{escape(bar.label)}</text>'
            )
        else:
            out.append(
                f'<text class="tick" x="{_num(cx)}" y="{_num(base + 14)}" '
                f'text-anchor="middle">{escape(bar.label)}</text>'
            )
    out.append(
        f'<line class="axis" x1="{_num(left)}" y1="{_num(base)}" '
        f'x2="{_num(width - right)}" y2="{_num(base)}"/>'
    )
    out.append(
        f'<text class="axis-title" x="{_num(left + (width - left - right) / 2)}" '
        f'y="{_num(height - 4)}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


# -- markup primitives of the page ------------------------------------------------------


class Raw(str):
    """Markup that is already escaped; every other ``str`` is escaped as text."""

    __slots__ = ()


def h(value: str) -> str:
    """``value`` escaped for HTML text or attributes, unless it is :class:`Raw` markup."""
    return value if isinstance(value, Raw) else escape(value, quote=True)


def table(
    caption: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric_from: int = 1,
    row_classes: Sequence[str] = (),
    row_headers: bool = True,
) -> str:
    """A table with a caption; columns from ``numeric_from`` on are right-aligned numbers.

    With ``row_headers`` the first cell of each row is its header (``<th scope="row">``).
    """
    out = [f"<table>\n<caption>{h(caption)}</caption>\n<thead><tr>"]
    for i, head in enumerate(headers):
        num = ' class="num"' if i >= numeric_from else ""
        out.append(f'<th scope="col"{num}>{h(head)}</th>')
    out.append("</tr></thead>\n<tbody>")
    for r, row in enumerate(rows):
        cls = row_classes[r] if r < len(row_classes) else ""
        out.append(f'<tr class="{h(cls)}">' if cls else "<tr>")
        for i, cell in enumerate(row):
            tag, scope = ("th", ' scope="row"') if i == 0 and row_headers else ("td", "")
            num = ' class="num"' if i >= numeric_from else ""
            out.append(f"<{tag}{scope}{num}>{h(cell)}</{tag}>")
        out.append("</tr>")
    out.append("</tbody>\n</table>")
    return "\n".join(out)


def paragraph(text: str, cls: str = "") -> str:
    """A ``<p>`` of escaped text."""
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{h(text)}</p>"


def figure(svg: str, caption: str) -> str:
    """A chart with its caption."""
    return f"<figure>\n{svg}\n<figcaption>{h(caption)}</figcaption>\n</figure>"


# -- number formats shared with the page --------------------------------------------------


def count(value: float) -> str:
    """A whole number with thousands separators: 30,162."""
    return f"{round(value):,}"


def percent(fraction: float | None) -> str:
    """A fraction as a percentage with 2 decimals: ``29.31 %``, joined by a no-break space.

    Below 0.1 % it keeps two significant digits (``0.0095 %``); None is a model
    that did not converge.
    """
    if fraction is None:
        return "did not converge"
    value = fraction * 100
    if 0 < value < 0.1:  # two significant digits rather than a misleading 0.00 %
        digits = 1 - math.floor(math.log10(value))
        return f"{value:.{digits}f}\u00a0%" if digits <= 6 else "<\u00a00.000001\u00a0%"
    return f"{value:,.2f}\u00a0%"


def _edge(fraction: float) -> str:
    """A risk bucket edge, as short as exact enough: 20%, 33.3%, 0.1%."""
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + "%"


# -- the charts of an assessment -----------------------------------------------------------


@dataclass(frozen=True)
class SizeBucket:
    """Equivalence classes whose size lies in [low, high]."""

    low: int
    high: int
    classes: int
    records: int

    @property
    def label(self) -> str:
        """``7`` or ``21-50`` (with an en dash)."""
        return str(self.low) if self.low == self.high else f"{self.low:,}\u2013{self.high:,}"


def class_size_buckets(histogram: Sequence[tuple[int, int]]) -> list[SizeBucket]:
    """Sizes 1 to 20 one by one, then 21-50, 51-100, 101-200, 201-500, ... up to the largest.

    ``histogram`` holds (class size, number of classes), ascending. Buckets run
    from the one holding the smallest class to the one holding the largest,
    empty ones included so the axis stays regular.
    """
    if not histogram:
        return []
    smallest, largest = histogram[0][0], histogram[-1][0]
    bounds = [(s, s) for s in range(1, 21)]
    start, edge = 21, 50
    while start <= largest:
        bounds.append((start, edge))
        start, edge = edge + 1, edge * 2 if str(edge)[0] in "15" else edge * 5 // 2
    bounds = [(lo, hi) for lo, hi in bounds if hi >= smallest and lo <= largest]
    classes = [0] * len(bounds)
    records = [0] * len(bounds)
    for size, number in histogram:
        i = next(i for i, (lo, hi) in enumerate(bounds) if lo <= size <= hi)
        classes[i] += number
        records[i] += size * number
    return [
        SizeBucket(lo, hi, c, r) for (lo, hi), c, r in zip(bounds, classes, records, strict=True)
    ]


def class_size_chart(buckets: Sequence[SizeBucket], *, records: bool) -> str:
    """Number of classes (or of records) per class-size bucket."""
    what = "records" if records else "classes"
    bars = []
    for b in buckets:
        value = b.records if records else b.classes
        tip = f"class size {b.label}: {count(value)} {what}"
        bars.append(Bar(b.label, value, count(value), tip, "alt" if records else ""))
    return vertical_bar_chart(
        bars,
        title=f"Number of {what} by equivalence class size",
        description="; ".join(f"size {b.label}: {b.text} {what}" for b in bars),
        y_label=f"number of {what}",
        x_label="class size (records per class)",
    )


def risk_chart(buckets: Sequence[tuple[float, float, float]], threshold: float) -> str:
    """Share of records per prosecutor-risk range (low, high]; red above ``threshold``."""
    bars = []
    for low, high, share in buckets:
        label = f"({_edge(low)}, {_edge(high)}]"
        tip = f"risk {label}: {percent(share)} of records"
        bars.append(Bar(label, share, percent(share), tip, "risk" if low >= threshold else ""))
    return horizontal_bar_chart(
        bars,
        title="Share of records by prosecutor re-identification risk",
        description="; ".join(f"{b.label}: {b.text}" for b in bars),
    )


def impact_chart(impacts: Sequence[tuple[str, float, float]]) -> str:
    """Per column (name, share of unique records removed, share of all records removed)."""
    bars = [
        Bar(name, share, f"{percent(share)} of unique records ({percent(removed)} of all)")
        for name, share, removed in impacts
    ]
    return horizontal_bar_chart(
        bars,
        title="Share of unique records that leaving each column out would remove",
        description="; ".join(f"without {b.label}: {b.text}" for b in bars),
        max_value=1.0,
    )


def html_page(
    title: str,
    subtitle: str,
    sections: Sequence[str],
    footer: str,
    *,
    generated: str,
    nav: str = "",
    extra_style: str = "",
) -> str:
    """One self-contained report page: head, header, optional navigation, sections, footer.

    ``footer`` is text (escaped here), said after "Generated WHEN by custodes X.".
    """
    from custodes._version import __version__

    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">\n<head>\n<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta name="generator" content="custodes {h(__version__)}">',
            f"<title>{h(title)}</title>",
            f"<style>{STYLESHEET}{extra_style}</style>\n</head>\n<body>",
            f'<header>\n<h1>{h(title)}</h1>\n<p class="subtitle">{h(subtitle)}</p>\n</header>',
            nav,
            "<main>",
            *sections,
            "</main>",
            f"<footer>\n<p>Generated {h(generated)} by custodes {h(__version__)}. {h(footer)}"
            "</p>\n</footer>",
            "</body>\n</html>\n",
        ]
    )
