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

import polars as pl

from custodes.detect._recognizers import RECOGNIZERS, Recognizer, validated_hits
from custodes.io import TableSource

__all__ = ["GATE_RECOGNIZERS", "IdentifierHit", "checked_identifiers"]

GATE_RECOGNIZERS = ("cn_resident_id", "cn_bank_card", "credit_card", "iban")
"""The recognizers whose matches are decided by a check digit or check sum."""
_DIGEST = r"\b[0-9A-Fa-f]{16,}\b"
_CANDIDATE = r"[0-9][0-9 \-]{11,}[0-9Xx]|[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 ]{11,}"


@dataclass(frozen=True)
class IdentifierHit:
    """A column with cells holding one kind of checked identifier."""

    column: str
    entity: str
    cells: int


def _chosen() -> list[Recognizer]:
    return [r for r in RECOGNIZERS if r.name in GATE_RECOGNIZERS]


def checked_identifiers(table: pl.DataFrame | pl.LazyFrame | TableSource) -> list[IdentifierHit]:
    """Every column of ``table`` with cells that are or hold a checked identifier."""
    frame = table.frame if isinstance(table, TableSource) else table.lazy()
    names = frame.collect_schema().names()
    # One pass over every column first: only a column with a long run of digits (spaces and
    # dashes between them allowed) or an IBAN's shape can hold any of these identifiers.
    maybe = frame.select(
        pl.col(c).cast(pl.String).str.contains(_CANDIDATE).any().alias(str(i))
        for i, c in enumerate(names)
    ).collect()
    columns = [c for i, c in enumerate(names) if maybe.get_column(str(i)).item()]
    counted: dict[tuple[str, str], set[int]] = {}
    chosen = _chosen()
    for column in columns:
        text = pl.col(column).cast(pl.String)
        rows = frame.select(text.alias("v")).with_row_index("row").drop_nulls("v")
        hits = validated_hits(rows, chosen, _candidates)
        for r, found in zip(chosen, hits, strict=True):
            if found.height:
                counted.setdefault((column, r.entity), set()).update(
                    found.get_column("row").to_list()
                )
    return [
        IdentifierHit(column, entity, len(cells)) for (column, entity), cells in counted.items()
    ]


def _candidates(r: Recognizer) -> pl.Expr:
    """The whole value, and the runs of the recognizer's span pattern in it (hex tokens
    taken out first)."""
    whole = pl.concat_list(pl.col("v"))
    if r.span is None:
        return whole
    runs = pl.col("v").str.replace_all(_DIGEST, " ").str.extract_all(r.span)
    return pl.concat_list(whole, runs)
