"""Find identifier spans inside free text, to mask them in place.

Candidates are extracted with each recognizer's span pattern, normalised and
validated like whole cells (a phone number in a remark must be in a real
number range, an ID must pass its check character), then every run that is a
validated span is replaced by the entity's label (:func:`redact_column`; the
engine replaces only whole runs, exactly as they were found).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from custodes.detect._recognizers import RECOGNIZERS, validated
from custodes.detect._validate import plain
from custodes.engines import get_engine
from custodes.engines._detect import DetectOps
from custodes.errors import SettingError
from custodes.io import TableLike, TableSource, open_table

__all__ = ["SPAN_ENTITIES", "identifier_spans", "redact_column", "replacements"]

SPAN_ENTITIES = tuple(sorted({r.entity for r in RECOGNIZERS if r.span is not None}))
"""The entity types found inside free text."""


def identifier_spans(
    table: TableLike,
    column: str,
    entities: Sequence[str] = (),
    *,
    engine: DetectOps | None = None,
) -> dict[str, dict[str, str]]:
    """Per recognizer, every validated span of ``column`` mapped to its label (``[ENTITY]``).

    ``entities`` limits the search to those entity types (default: every one in
    :data:`SPAN_ENTITIES`).
    """
    unknown = sorted(set(entities) - set(SPAN_ENTITIES))
    if unknown:
        raise SettingError(
            f"redact of {column!r}: {', '.join(unknown)} cannot be found in text; choose from "
            f"{', '.join(SPAN_ENTITIES)}."
        )
    chosen = [
        r for r in RECOGNIZERS if r.span is not None and (not entities or r.entity in entities)
    ]
    ops: DetectOps = engine or get_engine()
    runs = ops.distinct_runs(open_table(table), column, [r.span or "" for r in chosen])
    found: dict[str, dict[str, str]] = {}
    for r, spans in zip(chosen, runs, strict=True):
        if len(spans) == 0:
            continue
        hits = validated(r, ops.shape_matches(spans, [r.shape])[0])
        if len(hits.rows):
            kept = plain(spans).take(hits.rows).to_pylist()
            found[r.name] = dict.fromkeys(kept, f"[{r.entity}]")
    return found


def replacements(spans: Mapping[str, Mapping[str, str]]) -> list[tuple[str, Mapping[str, str]]]:
    """:func:`identifier_spans`' result as the engine's ``redact`` takes it: per recognizer,
    its span pattern and the runs to replace."""
    by_name = {r.name: r for r in RECOGNIZERS}
    return [(by_name[name].span or "", mapping) for name, mapping in spans.items()]


def redact_column(
    table: TableLike,
    column: str,
    entities: Sequence[str] = (),
    *,
    engine: DetectOps | None = None,
) -> TableSource:
    """``table`` with every validated identifier span in ``column`` replaced by its label.

    The engine-neutral entry point of the ``redact`` action: the spans are found by
    :func:`identifier_spans` (one pass over the column), and the result is lazy (the
    engine replaces them while the release is written).
    """
    source = open_table(table)
    ops: DetectOps = engine or get_engine()
    spans = identifier_spans(source, column, entities, engine=ops)
    return ops.redact(source, column, replacements(spans))
