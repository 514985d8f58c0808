"""The anonymization pipeline: a spec, an engine and a table in, a lazy release out.

1. The engine summarizes the table once (:meth:`Engine.summarize`).
2. Hierarchies are built, and the optimal global generalization is searched
   (or Mondrian's local recoding made) on the summary, in memory.
3. The engine's plan for the release is built, nothing computed yet:
   generalize (or recode), microaggregate, identifier actions, the requested
   columns.
4. The release is assessed from its summary: for a global generalization that
   nothing else changes, the search's classes with the suppressed ones left out
   (no second reading of the table); otherwise the engine's summary of the
   plan (one scan of the columns it needs). The report's distributions come
   from the two summaries, when first asked for.

What comes back is an :class:`~custodes.anonymize.Anonymization` whose
``table`` is the release as a lazy engine table: writing it
(:meth:`Engine.write`) streams it, so the release is never held in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from custodes.anonymize._generalize import (
    Scheme,
    node_labels,
    released_summary,
    schemes_for,
    suppressed_labels,
    value_mappings,
)
from custodes.anonymize._identifiers import apply_identifier_actions, check_dates
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._models import TCloseness
from custodes.anonymize._mondrian import LocalRecoding, mondrian
from custodes.anonymize._mosaic import MosaicCheck, Records, combined_with, records_of, view_of
from custodes.anonymize._objectives import Objective
from custodes.anonymize._result import Anonymization, Distributions
from custodes.anonymize._revealed import check_revealed, kept_parts, revealed_by
from custodes.anonymize._search import SearchResult, optimal_generalization
from custodes.anonymize._spec import AnonymizationSpec
from custodes.anonymize._utility import utility
from custodes.errors import InvalidInputError, SettingError
from custodes.hierarchy import Hierarchy, build_hierarchy
from custodes.io import TableSource
from custodes.risk import Assessment, assess_summary, fold_rare, smallest_shown
from custodes.summary import Summary

if TYPE_CHECKING:
    from custodes.engines import Engine

__all__ = ["Limits", "check_aggregations", "prepare_release"]

Reading = Callable[[str | None], AbstractContextManager[None]]
"""Turns engine failures while reading the table into custodes errors (``io.reading``)."""


@dataclass(frozen=True)
class Limits:
    """What the deployment's settings bound: the search, the risk threshold, the
    assessment's combinations."""

    risk_threshold: float = 0.2
    search_max_nodes: int = 100_000
    search_time_limit: float = 60.0
    max_qi_combinations: int = 10
    memory_limit: int | None = None
    """Bytes the global search may hold; past it the summary is searched on disk (None:
    always in memory)."""


def check_aggregations(engine: Engine, source: TableSource, functions: Mapping[str, str]) -> None:
    """Mean and median need numbers: refuse columns of dates or text."""
    numeric = [c for c, f in functions.items() if f in ("mean", "median")]
    if not numeric:
        return
    for column in engine.temporal_columns(source, numeric):
        raise SettingError(
            f"column {column!r} holds dates; microaggregate it with mode, or generalize "
            "it as a quasi-identifier."
        )
    counts = engine.non_numbers(source, numeric)
    for column in numeric:
        if counts[column] > 0:
            raise SettingError(
                f"column {column!r} has {counts[column]:,} values that are not numbers; "
                f"microaggregate it with mode ({column}:mode) or clean the column."
            )


def _search(
    summary: Summary,
    schemes: Sequence[Scheme],
    spec: AnonymizationSpec,
    limits: Limits,
    **options: Any,
) -> SearchResult:
    """The optimal generalization under the spec's models and the deployment's limits."""
    return optimal_generalization(
        summary,
        schemes,
        spec.models,
        suppression_limit=spec.suppression_limit,
        metric=LossMetric(spec.gs_factor),
        max_nodes=limits.search_max_nodes,
        time_limit=limits.search_time_limit,
        **options,
    )


def _free_name(base: str, taken: Sequence[str]) -> str:
    """A column name starting with ``base`` that no name in ``taken`` starts with."""
    name = f"__{base}"
    while any(t.startswith(name) for t in taken):
        name += "_"
    return name


def prepare_release(
    engine: Engine,
    source: TableSource,
    spec: AnonymizationSpec,
    *,
    reading: Reading,
    limits: Limits | None = None,
    columns: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    mosaic: MosaicCheck | None = None,
    mosaic_safe: bool = False,
) -> Anonymization:
    """Search, transform lazily and assess: the release of ``source`` under ``spec``.

    The spec must already be validated against the table. ``reading(task)``
    wraps every step that reads the table (see :func:`custodes.io.reading`).
    With ``mosaic`` the records are read for the mosaic check, and the result
    carries the release's combination with what the recipient holds; with
    ``mosaic_safe`` too, the search takes that combination as a constraint
    (the least-loss transformation whose combination meets the policy).
    """
    limits = limits or Limits()
    with reading(None):
        check_dates(engine, source, spec.actions(), repr(source.name))
        summary = engine.summarize(source, spec.quasi_identifiers, spec.sensitive)
    if summary.rows == 0:
        raise InvalidInputError(f"{source.name} has no records: there is nothing to anonymize.")
    records: Records | None = None
    if mosaic is not None:
        with reading("reading the records for the mosaic check"):
            records = records_of(
                engine,
                source,
                summary,
                sensitive=mosaic.sensitive,
                person=mosaic.person,
                dataset=mosaic.dataset,
                key=mosaic.key,
                carried=mosaic.carried,
                masked=mosaic.masked,
            )
    accept = None
    if mosaic is not None and records is not None and mosaic_safe:
        if spec.method == "local":
            raise SettingError(
                "the mosaic-safe search weighs global transformations; use the global "
                "method with --mosaic-safe."
            )
        check, kept = mosaic, records

        def accept(generalized: Any, suppressed: Any) -> bool:
            view = view_of(kept, generalized.class_of, suppressed, name=check.name, link=check.link)
            return all(check.accept(risk) for risk in combined_with(check, view))

    hierarchies = _hierarchies(summary, spec)
    schemes = schemes_for(summary, hierarchies)
    result: SearchResult | None = None
    derived: Summary | None = None
    local: LocalRecoding | None = None
    compared: SearchResult | None = None
    if spec.method == "local":
        if spec.min_levels or spec.max_levels:
            raise SettingError(
                "level limits apply to the global search only; local recoding chooses "
                "a node per part. Remove the limits or use the global method."
            )
        local = mondrian(summary, schemes, hierarchies, spec.models, LossMetric(spec.gs_factor))
        try:  # the global optimum under the same policy, for the comparison
            compared = _search(summary, schemes, spec, limits)
        except InvalidInputError:
            compared = None  # no global transformation meets the policy
        with reading("making the release"):
            transformed = engine.recode(
                source, _recoding(summary, spec, local), spec.quasi_identifiers
            )
    else:
        lows, highs = spec.levels([s.height for s in schemes])
        result = _search(
            summary,
            schemes,
            spec,
            limits,
            min_levels=lows,
            max_levels=highs,
            progress=progress,
            objective=Objective(spec.objective, LossMetric(spec.gs_factor)),
            accept=accept,
            memory_limit=limits.memory_limit,
        )
        mappings = value_mappings(summary, hierarchies, result.levels)
        labels = node_labels(
            summary, hierarchies, result.generalized, schemes=schemes, mappings=mappings
        )
        suppressed = suppressed_labels(
            summary, hierarchies, result.generalized, result.suppressed_classes, labels=labels
        )
        with reading("making the release"):
            transformed = engine.generalize(source, mappings, suppressed)
        # Nothing else changes the columns the summary holds: the release's summary is
        # the search's classes, no second reading of the table needed.
        changed = {a.column for a in spec.actions()} | set(spec.microaggregation)
        held = {*spec.quasi_identifiers, *spec.sensitive}
        if not changed & held and (columns is None or held <= set(columns)):
            derived = released_summary(
                summary, hierarchies, result.generalized, result.suppressed_classes, labels=labels
            )
    with reading("making the release"):
        transformed = engine.microaggregate(
            transformed, spec.microaggregation, spec.quasi_identifiers
        )
        released = apply_identifier_actions(engine, transformed, spec.actions())
        if columns is not None:  # what was not asked for never leaves
            released = engine.select(released, columns)
        before, after, after_summary, revealed = _assess(
            engine, summary, released, spec, limits, derived
        )
    return Anonymization(
        _distributions=functools.partial(_distributions, spec, summary, after_summary, after),
        table=released,
        rows=after_summary.rows,
        engine=engine,
        spec=spec,
        search=result,
        utility=None
        if result is None
        else utility(summary, schemes, result.generalized, result.suppressed_classes),
        local=local,
        compared=compared,
        before=before,
        after=after,
        revealed=tuple(revealed),
        source=source.name,
        records=records,
    )


def _hierarchies(summary: Summary, spec: AnonymizationSpec) -> dict[str, Hierarchy]:
    """The spec's hierarchies, those given by a builder's name built on the data's values."""
    return {
        q: (
            build_hierarchy(h, [v or "" for v in summary.category_values(j)])
            if isinstance(h, str)
            else h
        )
        for j, q in enumerate(spec.quasi_identifiers)
        for h in [spec.hierarchies[q]]
    }


def _recoding(summary: Summary, spec: AnonymizationSpec, local: LocalRecoding) -> pa.Table:
    """Each class's values and the values its part releases (for the engine's recode)."""
    prefix = _free_name("new", spec.quasi_identifiers)
    mapping = summary.values_frame()
    parts = pa.array(local.part_of_class)
    for j, q in enumerate(spec.quasi_identifiers):
        labels = pa.array(local.labels[q], type=pa.string())
        mapping = mapping.append_column(f"{prefix}{j}", labels.take(parts))
    return mapping


def _assess(
    engine: Engine,
    summary: Summary,
    released: TableSource,
    spec: AnonymizationSpec,
    limits: Limits,
    derived: Summary | None = None,
) -> tuple[Assessment, Assessment, Summary, list[Any]]:
    """Risk before and after; the after from the engine's summary of the release's plan,
    or from ``derived``, the release's summary made from the search's classes."""
    hierarchy_of = {
        m.sensitive: m.hierarchy
        for m in spec.models
        if isinstance(m, TCloseness) and m.hierarchy is not None
    }
    hierarchies = {k: v for k, v in hierarchy_of.items() if k is not None}
    before = assess_summary(
        summary,
        source=released.name,
        population=summary.rows,
        threshold=limits.risk_threshold,
        hierarchies=hierarchies,
        combinations=False,
    )

    def assessed(
        table: TableSource, qis: Sequence[str], made: Summary | None = None
    ) -> tuple[Assessment, Summary]:
        made = made or engine.summarize(table, qis, spec.sensitive)
        if made.rows == 0:  # every record suppressed
            raise InvalidInputError("<table> has no records: there is nothing to assess.")
        return (
            assess_summary(
                made,
                source="<table>",
                population=made.rows,
                threshold=limits.risk_threshold,
                hierarchies=hierarchies,
                max_qi_combinations=limits.max_qi_combinations,
                combinations=False,
            ),
            made,
        )

    after, after_summary = assessed(released, spec.quasi_identifiers, derived)
    revealed = revealed_by(engine, released, spec.actions())  # a kept prefix is a QI
    counted = tuple(r.column for r in revealed if r.counted)
    if counted:
        without = after.k_anonymity
        after, _ = assessed(
            kept_parts(engine, released, revealed), (*spec.quasi_identifiers, *counted)
        )
        needed = max(m.minimal_class_size() for m in spec.models)
        check_revealed(revealed, needed, without, after.k_anonymity)
    return before, after, after_summary, revealed


def _distributions(
    spec: AnonymizationSpec, before: Summary, after: Summary, risk_after: Assessment
) -> Distributions:
    """Per quasi-identifier, records per value before and after, rare values folded.

    Nothing downstream gets a value rarer than the release's k: it singles people out.
    """
    smallest = smallest_shown(
        {"spec": spec.to_dict(), "risk_after": {"k_anonymity": risk_after.k_anonymity}}
    )
    return {
        q: (
            fold_rare(before.value_counts(j), smallest),
            fold_rare(after.value_counts(j), smallest),
        )
        for j, q in enumerate(spec.quasi_identifiers)
    }
