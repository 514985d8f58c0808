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

from custodes.detect._recognizers import RECOGNIZERS, Recognizer, normalised

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


def checked_identifiers(table: pl.DataFrame | pl.LazyFrame) -> list[IdentifierHit]:
    """Every column of ``table`` with cells that are or hold a checked identifier."""
    frame = table.lazy()
    names = frame.collect_schema().names()
    # One pass over every column first: only a column with a long run of digits (spaces and
    # dashes between them allowed) or an IBAN's shape can hold any of these identifiers.
    maybe = frame.select(
        pl.col(c).cast(pl.String).str.contains(_CANDIDATE).any().alias(str(i))
        for i, c in enumerate(names)
    ).collect()
    columns = [c for i, c in enumerate(names) if maybe.get_column(str(i)).item()]
    queries: list[tuple[str, Recognizer, pl.LazyFrame]] = []
    for column in columns:
        text = pl.col(column).cast(pl.String)
        rows = frame.select(text.alias("v")).with_row_index("row").drop_nulls("v")
        for r in _chosen():
            whole = rows.select("row", normalised(pl.col("v"), r.variant).alias("span"))
            parts = [whole]
            if r.span is not None:
                parts.append(
                    rows.select(
                        "row",
                        pl.col("v")
                        .str.replace_all(_DIGEST, " ")
                        .str.extract_all(r.span)
                        .alias("s"),
                    )
                    .explode("s")
                    .drop_nulls("s")
                    .select("row", normalised(pl.col("s"), r.variant).alias("span"))
                )
            candidates = pl.concat(parts).filter(pl.col("span").str.contains(r.pattern))
            queries.append((column, r, candidates))
    results = pl.collect_all([q for _, _, q in queries])
    counted: dict[tuple[str, str], set[int]] = {}
    for (column, r, _), found in zip(queries, results, strict=True):
        if not found.height:
            continue
        if r.validate is not None:
            found = found.filter(pl.Series(r.validate(found.get_column("span"))))
        if found.height:
            counted.setdefault((column, r.entity), set()).update(found.get_column("row").to_list())
    return [IdentifierHit(column, entity, len(rows)) for (column, entity), rows in counted.items()]
