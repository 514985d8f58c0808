"""The last check before a file leaves: identifiers that pass their check digits.

Whatever roles a steward gave the columns, every row of every column of a
prepared file is searched for resident ID numbers, bank and credit card
numbers and IBANs that pass their checks: whole values (also written with
spaces or dashes) and runs inside text, glued to Chinese text or not. A hex
token of 16 or more characters (a keyed pseudonym, a digest) is left out of
the text search: its digit runs are chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.detect._recognizers import RECOGNIZERS, Recognizer, validated_hits
from custodes.engines import get_engine
from custodes.engines._detect import DetectOps, SpanSearch
from custodes.io import TableLike, open_table

__all__ = ["GATE_RECOGNIZERS", "IdentifierHit", "checked_identifiers"]

GATE_RECOGNIZERS = ("cn_resident_id", "cn_bank_card", "credit_card", "iban")
"""The recognizers whose matches are decided by a check digit or check sum."""
_CANDIDATE = r"[0-9][0-9 \-]{11,}[0-9Xx]|[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{11,}"


@dataclass(frozen=True)
class IdentifierHit:
    """A column with cells holding one kind of checked identifier."""

    column: str
    entity: str
    cells: int


def _chosen() -> list[Recognizer]:
    return [r for r in RECOGNIZERS if r.name in GATE_RECOGNIZERS]


def _search(r: Recognizer) -> SpanSearch:
    """The whole value, and the runs of the recognizer's span pattern in it (hex tokens
    taken out first)."""
    return SpanSearch(r.shape, r.span, whole=True, skip_digests=True)


def checked_identifiers(
    table: TableLike, *, engine: DetectOps | None = None
) -> list[IdentifierHit]:
    """Every column of ``table`` with cells that are or hold a checked identifier."""
    source = open_table(table)
    ops: DetectOps = engine or get_engine()
    # One pass over every column first: only a column with a long run of digits (spaces and
    # dashes between them allowed) or an IBAN's shape can hold any of these identifiers.
    columns = ops.columns_matching(source, _CANDIDATE)
    counted: dict[tuple[str, str], int] = {}
    chosen = _chosen()
    batches = ops.detect_batches(source, columns) if columns else iter(())
    for batch in batches:  # those columns read once, a run of rows at a time
        for column, values in batch.values.items():
            cells: dict[str, npt.NDArray[np.bool_]] = {}
            found = validated_hits(values, chosen, _search, ops)
            for r, hits in zip(chosen, found, strict=True):
                if len(hits.rows):
                    cells.setdefault(r.entity, np.zeros(len(values), dtype=bool))[hits.rows] = True
            for entity, mask in cells.items():
                counted[(column, entity)] = counted.get((column, entity), 0) + int(mask.sum())
    return [IdentifierHit(column, entity, n) for (column, entity), n in counted.items()]
