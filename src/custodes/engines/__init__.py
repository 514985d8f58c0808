"""Engines: the few operations that touch the full data.

An engine builds the :class:`~custodes.summary.Summary` of a table in one scan;
everything else works on the summary. Engines are chosen by name in settings
(``engine = "polars"``). The Polars engine is the embedded default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import polars as pl

from custodes.engines._detect import DetectOps
from custodes.engines._polars import PolarsEngine
from custodes.errors import SettingError, closest
from custodes.summary import Summary

__all__ = ["ENGINES", "Engine", "PolarsEngine", "get_engine"]


class Engine(
    DetectOps,
    Protocol,
):
    """What an engine must do. One conformance suite tests every engine."""

    name: str

    def summarize(
        self,
        frame: pl.LazyFrame,
        quasi_identifiers: Sequence[str],
        sensitive: Sequence[str] = (),
    ) -> Summary:
        """Group the table by its quasi-identifiers, with sensitive histograms."""
        ...

    def recode(
        self, frame: pl.LazyFrame, mapping: pl.DataFrame, columns: Sequence[str]
    ) -> pl.LazyFrame:
        """Replace each row's quasi-identifiers by those its combination maps to."""
        ...

    def generalize(
        self,
        frame: pl.LazyFrame,
        mappings: dict[str, tuple[list[str | None], list[str]]],
        suppressed: dict[str, list[str]],
        drop: Sequence[str] = (),
    ) -> pl.LazyFrame:
        """Replace values by their generalized labels, suppress records, drop columns."""
        ...


ENGINES: dict[str, type[PolarsEngine]] = {"polars": PolarsEngine}


def get_engine(name: str = "polars") -> Engine:
    """The engine registered under ``name``."""
    try:
        return ENGINES[name]()
    except KeyError:
        hint = closest(name, ENGINES)
        extra = f" Did you mean {hint!r}?" if hint else ""
        raise SettingError(
            f"setting 'engine' is {name!r}, which is not an engine.{extra} "
            f"Available: {', '.join(sorted(ENGINES))}."
        ) from None
