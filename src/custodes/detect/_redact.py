"""Find identifier spans inside free text, to mask them in place.

Candidates are extracted with each recognizer's span pattern, normalised and
validated like whole cells (a phone number in a remark must be in a real
number range, an ID must pass its check character), then every run that is a
validated span is replaced by the entity's label (see :func:`redaction`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from custodes.detect._recognizers import RECOGNIZERS, normalised
from custodes.errors import SettingError

__all__ = ["SPAN_ENTITIES", "identifier_spans", "redaction"]

SPAN_ENTITIES = tuple(sorted({r.entity for r in RECOGNIZERS if r.span is not None}))
"""The entity types found inside free text."""


def identifier_spans(
    frame: pl.LazyFrame, column: str, entities: Sequence[str] = ()
) -> dict[str, dict[str, str]]:
    """Per recognizer, every validated span of ``column`` mapped to its label (``[ENTITY]``)."""
    unknown = sorted(set(entities) - set(SPAN_ENTITIES))
    if unknown:
        raise SettingError(
            f"redact of {column!r}: {', '.join(unknown)} cannot be found in text; choose from "
            f"{', '.join(SPAN_ENTITIES)}."
        )
    chosen = [
        r for r in RECOGNIZERS if r.span is not None and (not entities or r.entity in entities)
    ]
    text = pl.col(column).cast(pl.String)
    queries = [
        frame.select(
            text.str.extract_all(r.span or "").explode().drop_nulls().unique().alias("span")
        )
        for r in chosen
    ]
    found: dict[str, dict[str, str]] = {}
    for r, spans in zip(chosen, pl.collect_all(queries), strict=True):
        if spans.height == 0:
            continue
        norm = spans.select(normalised(pl.col("span"), r.variant).alias("norm"), "span")
        norm = norm.filter(pl.col("norm").str.contains(r.pattern))
        if r.validate is not None and norm.height:
            norm = norm.filter(pl.Series(r.validate(norm.get_column("norm"))))
        if norm.height:
            found[r.name] = dict.fromkeys(norm.get_column("span").to_list(), f"[{r.entity}]")
    return found


_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: run markers


def redaction(column: str, spans: dict[str, dict[str, str]]) -> pl.Expr:
    """The column with every validated span replaced by its label.

    A span is replaced only where it is a whole run of its recognizer's span
    pattern, exactly as it was found: every run is first wrapped in markers,
    the marked valid spans are replaced in one Aho-Corasick pass, and the
    markers are removed. A phone number that is also the middle of an order
    number in the same cell stays in the order number.
    """
    text = pl.col(column).cast(pl.String).str.replace_all(f"[{_OPEN}{_CLOSE}]", "")
    by_name = {r.name: r for r in RECOGNIZERS}
    for name, mapping in spans.items():
        pattern = by_name[name].span or ""
        marked = {f"{_OPEN}{k}{_CLOSE}": v for k, v in mapping.items()}
        text = (
            text.str.replace_all(f"({pattern})", f"{_OPEN}${{1}}{_CLOSE}")
            .str.replace_many(marked, leftmost=True)
            .str.replace_all(f"[{_OPEN}{_CLOSE}]", "")
        )
    return text.alias(column)
