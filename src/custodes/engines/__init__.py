"""Engines: every operation that touches the full data.

An engine builds the :class:`~custodes.summary.Summary` of a table in one scan
(everything else works on the summary), applies the chosen transformation and
writes the result by streaming. Engines are chosen by name in settings
(``engine = "polars"``); the Polars engine is the embedded default.

:class:`Engine` is composed of one protocol per area (engine-neutral, in
``_<area>.py``) and :class:`PolarsEngine` of one mixin per area (in
``_polars*.py``); one conformance suite (``tests/conformance``) runs on every
engine registered in :data:`ENGINES`.
"""

from __future__ import annotations

from typing import Protocol

from custodes.engines._detect import DetectOps
from custodes.engines._dp import DPOps
from custodes.engines._polars import PolarsSummaryOps, check_environment
from custodes.engines._polars_detect import PolarsDetectOps
from custodes.engines._polars_dp import PolarsDP
from custodes.engines._polars_transform import PolarsTransformOps
from custodes.engines._summary import SummaryOps
from custodes.engines._transform import TransformOps
from custodes.errors import SettingError, closest

__all__ = ["ENGINES", "Engine", "PolarsEngine", "get_engine"]


class Engine(
    SummaryOps,
    TransformOps,
    DetectOps,
    DPOps,
    Protocol,
):
    """What an engine must do. One conformance suite tests every engine."""


class PolarsEngine(
    PolarsSummaryOps,
    PolarsTransformOps,
    PolarsDetectOps,
    PolarsDP,
):
    """The embedded engine: Polars, lazy and streaming."""

    name = "polars"


ENGINES: dict[str, type[Engine]] = {"polars": PolarsEngine}


def get_engine(name: str = "polars") -> Engine:
    """The engine registered under ``name`` (the one place an engine name is checked), once
    the environment it reads is sound."""
    try:
        engine = ENGINES[name]
    except KeyError:
        hint = closest(name, ENGINES)
        extra = f" Did you mean {hint!r}?" if hint else ""
        raise SettingError(
            f"setting 'engine' is {name!r}, which is not an engine.{extra} "
            f"Available: {', '.join(sorted(ENGINES))}."
        ) from None
    if engine is PolarsEngine:
        check_environment()
    return engine()
