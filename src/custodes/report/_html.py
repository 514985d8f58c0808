"""One self-contained HTML page for a re-identification risk assessment.

The page is what a disclosure reviewer opens offline: no scripts, no external
stylesheets, fonts or images, charts as inline SVG (:mod:`._svg`), a print
stylesheet. It is built from the JSON object of
:meth:`custodes.risk._assess.Assessment.to_dict`, which holds aggregate figures
and column names only, never data values. Column names come from user files,
so every text is HTML-escaped on its way out (:func:`._svg.h`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from custodes.errors import InvalidInputError
from custodes.report._svg import (
    Raw,
    class_size_buckets,
    class_size_chart,
    count,
    figure,
    h,
    html_page,
    impact_chart,
    paragraph,
    percent,
    risk_chart,
    table,
)

__all__ = ["render_assessment_html"]

_TOP_COMBINATIONS = 15
_LEVELS = {
    "high": ("High risk", "more than 5 % of records are unique, or more than 10 % are at risk"),
    "medium": ("Medium risk", "not high, but the table is not 5-anonymous (k < 5)"),
    "low": ("Low risk", "not high, and every record shares its values with at least 4 others"),
}
_MODELS = {"pitman": "Pitman", "zayatz": "Zayatz", "snb": "SNB"}
_SECTIONS = {
    "verdict": "Verdict",
    "input": "Input",
    "classes": "Equivalence classes",
    "distribution": "Risk distribution",
    "attackers": "Attacker models",
    "population": "Population uniqueness",
    "sensitive": "Sensitive attributes",
    "combinations": "Quasi-identifier combinations",
}


class _Fields:
    """Typed, checked access to one JSON object of the assessment."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise self._bad(where or "assessment", "an object")
        self._data: dict[str, object] = data
        self._where = where

    @staticmethod
    def _bad(where: str, expected: str) -> InvalidInputError:
        return InvalidInputError(
            f"assessment field {where!r} is missing or not {expected}. Give the object "
            "produced by Assessment.to_dict() (the JSON of a risk assessment)."
        )

    def _path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def opt_num(self, key: str) -> float | None:
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(self._path(key), "a number")
        return float(value)

    def num(self, key: str) -> float:
        value = self.opt_num(key)
        if value is None:
            raise self._bad(self._path(key), "a number")
        return value

    def whole(self, key: str) -> int:
        return round(self.num(key))

    def text(self, key: str, default: str | None = None) -> str:
        value = self._data.get(key, default)
        if not isinstance(value, str):
            raise self._bad(self._path(key), "a string")
        return value

    def texts(self, key: str) -> list[str]:
        value = self._data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(self._path(key), "a list of strings")
        return [str(v) for v in value]

    def obj(self, key: str) -> _Fields:
        return _Fields(self._data.get(key), self._path(key))

    def objs(self, key: str) -> list[_Fields]:
        value = self._data.get(key, [])
        if not isinstance(value, list):
            raise self._bad(self._path(key), "a list")
        return [_Fields(v, f"{self._path(key)}[{i}]") for i, v in enumerate(value)]

    def keyed(self, key: str) -> list[tuple[str, _Fields]]:
        value = self._data.get(key) or {}
        if not isinstance(value, dict):
            raise self._bad(self._path(key), "an object")
        return [(str(k), _Fields(v, f"{self._path(key)}.{k}")) for k, v in value.items()]


# -- building blocks --------------------------------------------------------------------


def _dec(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _section(anchor: str, *parts: str) -> str:
    body = "\n".join(parts)
    return f'<section id="{anchor}">\n<h2>{h(_SECTIONS[anchor])}</h2>\n{body}\n</section>'


def _columns(names: Sequence[str]) -> Raw:
    """Column names kept whole on a line (a separating comma stays with its name)."""
    last = len(names) - 1
    return Raw(
        " ".join(
            f'<span class="col">{escape(n)}{"," if i < last else ""}</span>'
            for i, n in enumerate(names)
        )
    )


# -- the sections -----------------------------------------------------------------------


def _level(a: _Fields) -> str:
    """The verdict rule, as the page explains it."""
    uniques = a.obj("sample_uniques").num("fraction")
    if uniques > 0.05 or a.obj("prosecutor").num("records_at_risk") > 0.10:
        return "high"
    return "medium" if a.whole("k_anonymity") < 5 else "low"


def _sentence(a: _Fields) -> str:
    rows, k, n = a.whole("rows"), a.whole("k_anonymity"), len(a.texts("quasi_identifiers"))
    uniques = a.obj("sample_uniques")
    cols = "this column" if n == 1 else f"these {n} columns"
    if rows == 0:
        return "The table has no records: there is nothing to re-identify."
    if uniques.whole("records") > 0:
        return (
            f"{percent(uniques.num('fraction'))} of records are unique on {cols}: "
            "anyone who knows them can single these people out."
        )
    if k < 5:
        return (
            f"No record is unique, but the smallest groups have only {count(k)} records: "
            f"anyone who knows {cols} narrows a person down to {count(k)} candidates."
        )
    return (
        f"Every record shares its values on {cols} with at least {count(k - 1)} others: "
        f"no one can be narrowed down to fewer than {count(k)} people."
    )


def _verdict(a: _Fields) -> str:
    uniques, pros, level = a.obj("sample_uniques"), a.obj("prosecutor"), _level(a)
    at_risk = (
        f"{percent(pros.num('records_at_risk'))} of records have a prosecutor risk above the "
        f"threshold of {percent(a.num('threshold'))}."
    )
    figures = {
        "k-anonymity": f"k = {count(a.whole('k_anonymity'))}",
        "Sample uniques": percent(uniques.num("fraction")),
        "Records at risk": percent(pros.num("records_at_risk")),
        "Highest prosecutor risk": percent(pros.num("highest_risk")),
        "Average prosecutor risk": percent(pros.num("average_risk")),
    }
    cards = "\n".join(
        f'<div class="figure-card"><dt>{h(name)}</dt><dd>{h(value)}</dd></div>'
        for name, value in figures.items()
    )
    legend = "\n".join(
        f'<li><span class="swatch swatch-{key}"></span><strong>{h(label)}</strong>: {h(rule)}</li>'
        for key, (label, rule) in _LEVELS.items()
    )
    note = f"{count(uniques.whole('records'))} unique records of {count(a.whole('rows'))}."
    return _section(
        "verdict",
        f'<div class="verdict verdict-{level}">',
        paragraph(_LEVELS[level][0], "verdict-level"),
        paragraph(f"{_sentence(a)} {at_risk}", "verdict-text"),
        f'<dl class="figures">\n{cards}\n</dl>',
        paragraph(note, "note"),
        "</div>",
        f'<ul class="legend" aria-label="Verdict legend">\n{legend}\n</ul>',
        paragraph(
            "How the verdict is set: High risk when more than 5 % of records are unique on "
            "the quasi-identifiers (sample uniques) or more than 10 % of records have a "
            "prosecutor risk above the threshold; otherwise Medium risk when k < 5; otherwise "
            "Low risk. It judges the table as given; the population estimates below tell how "
            "many people are unique in the population the table was drawn from.",
            "explain",
        ),
    )


def _input(a: _Fields) -> str:
    qis, sens = a.texts("quasi_identifiers"), a.texts("sensitive")
    facts = {
        "Source": a.text("source", "<table>"),
        "Records": count(a.whole("rows")),
        f"Quasi-identifiers ({len(qis)})": _columns(qis) if qis else "none",
        f"Sensitive attributes ({len(sens)})": _columns(sens) if sens else "none",
        "Risk threshold": f"{percent(a.num('threshold'))} (a record is at risk above it)",
    }
    ids = a.texts("identifying") if a.has("identifying") else []
    if ids:
        facts[f"Direct identifiers ({len(ids)})"] = Raw(
            _columns(ids) + escape(": not assessed; a release must remove or mask them")
        )
    rows = "\n".join(
        f'<tr><th scope="row">{h(k)}</th><td>{h(v)}</td></tr>' for k, v in facts.items()
    )
    return _section(
        "input", f'<table class="facts">\n<caption>What was assessed</caption>\n{rows}\n</table>'
    )


def _classes(a: _Fields) -> str:
    ec = a.obj("equivalence_classes")
    sizes = [ec.whole("count"), ec.whole("min_size"), ec.num("avg_size"), ec.whole("max_size")]
    intro = paragraph(
        "An equivalence class is a group of records with the same values on every "
        "quasi-identifier; the table is k-anonymous for k the size of its smallest class."
    )
    stats = table(
        "Equivalence class sizes",
        ["Classes", "Smallest (k)", "Average size", "Largest"],
        [[count(sizes[0]), count(sizes[1]), _dec(sizes[2], 2), count(sizes[3])]],
        numeric_from=0,
        row_headers=False,
    )
    buckets = class_size_buckets(
        [(r.whole("size"), r.whole("classes")) for r in ec.objs("histogram")]
    )
    if not buckets:
        return _section("classes", intro, stats)
    charts = "\n".join(
        figure(class_size_chart(buckets, records=r), f"Number of {w} by class size.")
        for r, w in ((False, "classes"), (True, "records"))
    )
    data = table(
        "Classes and records per class size",
        ["Class size", "Classes", "Records"],
        [[b.label, count(b.classes), count(b.records)] for b in buckets],
    )
    return _section(
        "classes",
        intro,
        stats,
        f'<div class="chart-pair">\n{charts}\n</div>',
        paragraph("Sizes above 20 are grouped into ranges. A class of size 1 is a unique record."),
        f"<details><summary>Class sizes as a table</summary>\n{data}\n</details>",
    )


def _distribution(a: _Fields) -> str:
    threshold = a.num("threshold")
    buckets = [(b.num("low"), b.num("high"), b.num("records")) for b in a.objs("risk_distribution")]
    return _section(
        "distribution",
        paragraph(
            "A record's prosecutor risk is 1 divided by the size of its equivalence class. "
            f"Red bars are ranges above the threshold of {percent(threshold)}."
        ),
        figure(risk_chart(buckets, threshold), "Share of records in each risk range (low, high]."),
    )


def _attackers(a: _Fields) -> str:
    keys = ("highest_risk", "average_risk", "records_at_risk", "records_at_highest_risk")
    rows = [
        [name, *(percent(a.obj(key).num(k)) for k in keys), a.obj(key).text("basis", "")]
        for name, key in (("Prosecutor", "prosecutor"), ("Journalist", "journalist"))
    ]
    success = percent(a.obj("marketer").num("success_rate"))
    rows.append(["Marketer", "—", success, "—", "—", rows[1][-1]])
    heads = ["Attacker", "Highest risk", "Average risk", "Records at risk", "At highest risk"]
    return _section(
        "attackers",
        table("Re-identification risk by attacker model", [*heads, "Basis"], rows),
        paragraph(
            "The prosecutor knows the person is in the table; the journalist does not, and "
            "matches against a population table (without one, the table stands for the "
            "population and both are equal); the marketer tries to re-identify as many "
            "records as possible, and the success rate is the share they would get right."
        ),
    )


def _people(fraction: float | None, size: float) -> str:
    return "—" if fraction is None else count(fraction * size)


def _population(a: _Fields) -> str:
    if not a.has("population"):
        return _section(
            "population",
            paragraph(
                "Not estimated: no population size was given. Give the size of the population "
                "the table was drawn from to estimate how many people are unique in it."
            ),
        )
    pop = a.obj("population")
    size = pop.num("size")
    dankar = pop.obj("dankar") if pop.has("dankar") else None
    chosen = dankar.text("model") if dankar and dankar.has("model") else ""
    if chosen in ("census", "population table") and dankar is not None:
        fraction = dankar.opt_num("fraction")
        basis = (
            f"The table is taken to be the whole population ({count(size)} people): a register "
            "or census. Every record unique in the table is unique in the population"
            if chosen == "census"
            else f"The population table ({count(size)} people) was given, so uniqueness in "
            "the population is counted, not estimated"
        )
        return _section(
            "population",
            paragraph(
                f"{basis}: {percent(fraction)} of the population "
                f"({_people(fraction, size)} people) are unique on the quasi-identifiers.",
                "headline",
            ),
            paragraph(
                "The estimators (Pitman, Zayatz, SNB) are not needed when the population is "
                "known. If the table is a sample of a larger population, give the population "
                "(a region, a size or a sampling fraction) to estimate population uniqueness."
            ),
        )
    rows = [
        [
            name + (" (Dankar's choice)" if key == chosen else ""),
            percent(pop.opt_num(key)),
            _people(pop.opt_num(key), size),
        ]
        for key, name in _MODELS.items()
    ]
    if dankar is not None and chosen:
        fraction = dankar.opt_num("fraction")
        choice = (
            f"Dankar's rule chooses {_MODELS.get(chosen, chosen)} for this table: an estimated "
            f"{percent(fraction)} of the population ({_people(fraction, size)} people) are "
            "unique on the quasi-identifiers."
        )
    elif a.obj("sample_uniques").whole("records") == 0:
        choice = (
            "No record is unique in the table, so no one is estimated unique in the population."
        )
    else:
        choice = "Dankar's rule found no model with an estimate: did not converge."
    return _section(
        "population",
        paragraph(
            f"Population size {count(size)} people; the table is a sample of "
            f"{percent(pop.num('sampling_fraction'))} of it."
        ),
        table(
            "Estimated population uniques",
            ["Model", "Share of the population", "People"],
            rows,
            row_classes=["chosen" if key == chosen else "" for key in _MODELS],
        ),
        paragraph(choice, "headline"),
        paragraph(
            "A record unique in the table may have look-alikes in the population it was drawn "
            "from. Pitman, Zayatz and SNB are statistical models that estimate, from the class "
            "sizes and the sampling fraction, how many people in the whole population are "
            "unique on the quasi-identifiers; Dankar et al. (2012) choose among them by the "
            "sampling fraction. \u201cDid not converge\u201d means a model's solver found no "
            "estimate."
        ),
    )


def _sensitive(a: _Fields) -> str:
    ldiv, tclose = a.keyed("l_diversity"), a.keyed("t_closeness")
    if not ldiv and not tclose:
        return _section(
            "sensitive",
            paragraph(
                "No sensitive attributes were given: l-diversity and t-closeness were not assessed."
            ),
        )
    lrows = [
        [
            name,
            count(d.whole("distinct")),
            _dec(d.num("entropy"), 2),
            f"c = {d.obj('recursive').num('c'):g}, l = {count(d.obj('recursive').whole('l'))}",
            count(d.whole("homogeneous_classes")),
            percent(d.num("records_in_homogeneous_classes")),
        ]
        for name, d in ldiv
    ]
    trows = [
        [name, _dec(t.num("equal_distance")), _dec(t.num("ordered_distance")), hier]
        for name, t in tclose
        for hier in [_dec(t.opt_num("hierarchical")) if t.has("hierarchical") else "no hierarchy"]
    ]
    lheads = ["Distinct l", "Entropy l", "Recursive (c, l)", "Homogeneous classes", "Their records"]
    return _section(
        "sensitive",
        table("l-diversity (the smallest l of any class)", ["Attribute", *lheads], lrows),
        paragraph(
            "A class with distinct l = 1 is homogeneous: everyone in it has the same sensitive "
            "value, so knowing someone is in the class reveals it without re-identifying them."
        ),
        table(
            "t-closeness (the largest distance of any class from the whole table)",
            ["Attribute", "Equal distance", "Ordered distance", "Hierarchical distance"],
            trows,
        ),
        paragraph(
            "t is the earth mover's distance between the sensitive values of a class and those "
            "of the whole table: 0 means every class looks like the table, 1 the opposite."
        ),
    )


def _combo_row(c: _Fields, first: str, size: bool) -> list[str]:
    cols = c.texts("columns")
    shares = [percent(c.num(k)) for k in ("uniques", "distinction", "separation")]
    return [first, _columns(cols), *([count(len(cols))] if size else []), *shares]


def _combinations(a: _Fields) -> str:
    combos = a.objs("qi_combinations")
    if not combos:
        return _section("combinations", paragraph("No combinations were measured."))
    ranked = sorted(combos, key=lambda c: (-c.num("uniques"), -c.num("distinction")))
    best: dict[int, _Fields] = {}
    for c in ranked:
        best.setdefault(len(c.texts("columns")), c)
    heads = ["Unique records", "Distinction", "Separation"]
    top = ranked[:_TOP_COMBINATIONS]
    coverage = a.obj("qi_combinations_coverage") if a.has("qi_combinations_coverage") else None
    note = coverage.text("note", "") if coverage is not None and coverage.has("note") else ""
    return _section(
        "combinations",
        paragraph(
            f"{count(len(combos))} combinations of the quasi-identifiers were measured. Unique "
            "records: the share of records that no other record matches on the columns; "
            "distinction: distinct value combinations per record; separation: the share of "
            "record pairs the columns tell apart."
            + (f" Not all were measured: {note}." if note else "")
        ),
        table(
            f"The {len(top)} riskiest combinations",
            ["#", "Columns", "Size", *heads],
            [_combo_row(c, str(i), True) for i, c in enumerate(top, 1)],
            numeric_from=2,
        ),
        table(
            "The riskiest combination of each size",
            ["Size", "Columns", *heads],
            [_combo_row(best[s], count(s), False) for s in sorted(best)],
            numeric_from=2,
        ),
        _impact(a),
    )


def _impact(a: _Fields) -> str:
    impacts = []
    for c in a.objs("column_impact"):
        removed = c.num("uniques_removed")
        base = removed + c.num("uniques_without")
        impacts.append((c.text("column"), removed / base if base > 0 else 0.0, removed))
    if not impacts:
        return paragraph(
            "Column impact is not available: it needs at least two quasi-identifiers and "
            "every combination that leaves out one column."
        )
    name, share, _ = impacts[0]
    if share <= 0:
        text = (
            "No record is unique on all the quasi-identifiers: leaving out a column removes none."
        )
        return f"<h3>Column impact</h3>\n{paragraph(text)}"
    lead = (
        f"Leaving {name} out would remove {percent(share)} of unique records: of all columns, "
        "it singles out the most people."
    )
    return "\n".join(
        [
            "<h3>Column impact</h3>",
            paragraph(lead),
            figure(
                impact_chart(impacts),
                "The share of unique records that would stop being unique without each column.",
            ),
        ]
    )


def render_assessment_html(
    assessment: dict[str, object],
    *,
    title: str = "Re-identification risk assessment",
    generated_at: str | None = None,
) -> str:
    """The assessment as one self-contained, printable, accessible HTML page.

    ``assessment`` is the object of ``Assessment.to_dict()``; ``generated_at``
    defaults to the current UTC time. Raises :class:`InvalidInputError` naming
    the field when the object is not an assessment.
    """
    a = _Fields(assessment, "")
    when = generated_at or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sections = [_verdict(a), _input(a), _classes(a), _distribution(a), _attackers(a)]
    sections += [_population(a), _sensitive(a), _combinations(a)]
    nav = "".join(f'<li><a href="#{k}">{h(name)}</a></li>' for k, name in _SECTIONS.items())
    subtitle = f"{a.text('source', '')} · {count(a.whole('rows'))} records · generated {when}"
    return html_page(
        title,
        subtitle,
        sections,
        "The report holds aggregate figures and column names only, no data values.",
        generated=when,
        nav=f'<nav aria-label="Contents"><ul>{nav}</ul></nav>',
    )
