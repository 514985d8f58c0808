"""The outcome of an anonymization: the released table, the search, the manifest.

The released table is a lazy engine table (:class:`custodes.io.TableSource`):
it is computed when it is written (streaming) or read, never kept whole in
memory; what the manifest and the report need (rows, risk, distributions)
comes from summaries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from custodes._version import __version__
from custodes.anonymize._mondrian import LocalRecoding
from custodes.anonymize._mosaic import Records, view_of
from custodes.anonymize._revealed import Revealed
from custodes.anonymize._search import SearchResult
from custodes.anonymize._spec import AnonymizationSpec
from custodes.anonymize._utility import Utility
from custodes.errors import InternalError
from custodes.io import TableSource
from custodes.risk import Assessment, ReleaseView

if TYPE_CHECKING:
    from custodes.engines import Engine

__all__ = ["Anonymization", "Distributions"]

Distributions = dict[str, tuple[list[tuple[str, int]], list[tuple[str, int]]]]
"""Per quasi-identifier: its (value, records) before and after."""


@dataclass(frozen=True, eq=False)
class Anonymization:
    """An anonymized table that meets its spec, with what a reviewer needs to check it."""

    table: TableSource
    """The release as a lazy engine table (read it with :meth:`to_arrow`, write it with
    the engine's ``write``)."""
    spec: AnonymizationSpec
    search: SearchResult | None
    before: Assessment
    after: Assessment
    source: str
    utility: Utility | None = None
    local: LocalRecoding | None = None
    compared: SearchResult | None = None
    """For local recoding: the global optimum under the same policy (None: there is none)."""
    _distributions: Distributions | Callable[[], Distributions] = field(
        default_factory=dict, repr=False
    )
    """The distributions (see :attr:`distributions`), or how to make them on first use."""
    revealed: tuple[Revealed, ...] = ()
    """Masks that keep characters, what they reveal, and whether ``after`` counts them."""
    input_sha256: str | None = None
    output: str | None = None
    output_sha256: str | None = None
    rows: int = 0
    """Records in the release."""
    engine: Engine | None = field(default=None, repr=False)
    records: Records | None = field(default=None, repr=False)
    """The source's records for the mosaic check (when it was asked for)."""

    @property
    def distributions(self) -> Distributions:
        """Per quasi-identifier: (value, records) before and after, for the report; made
        when first asked for (a pass over every class of the table's summary per column,
        seconds at a hundred million rows, that only the report needs)."""
        found = self._distributions
        if callable(found):
            found = found()
            object.__setattr__(self, "_distributions", found)
        return found

    def mosaic_view(self, name: str, link: str | None) -> ReleaseView:
        """The release as the mosaic check sees it (the records must have been read)."""
        if self.records is None:
            raise InternalError("the records were not read for the mosaic check")
        if self.search is not None:
            return view_of(
                self.records,
                self.search.generalized.class_of,
                self.search.suppressed_classes,
                name=name,
                link=link,
            )
        if self.local is not None:
            return view_of(self.records, self.local.part_of_class, None, name=name, link=link)
        raise InternalError("an anonymization has either a search or a local recoding")

    """The engine whose table ``table`` is."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The release's columns."""
        return self.table.columns

    def to_arrow(self) -> pa.Table:
        """The whole release in memory, as Arrow (for small releases and tests)."""
        if self.engine is None:
            raise InternalError("an anonymization without its engine cannot be read")
        return self.engine.to_arrow(self.table)

    @property
    def transformation(self) -> dict[str, int]:
        """The chosen level of every quasi-identifier (empty for local recoding)."""
        if self.search is None:
            return {}
        return dict(zip(self.spec.quasi_identifiers, self.search.levels, strict=True))

    @property
    def loss(self) -> float:
        """ARX's Loss of the release."""
        if self.search is not None:
            return self.search.loss
        return self.local.loss if self.local is not None else 0.0

    @property
    def suppressed_records(self) -> int:
        """Records whose quasi-identifiers were suppressed."""
        return self.search.suppressed_records if self.search is not None else 0

    def summary_lines(self) -> list[str]:
        """What a person reads first: the transformation, suppression, loss, search, masks."""
        lines = self._search_lines()
        for r in self.revealed:
            if r.counted:
                lines.append(
                    f"mask of {r.column!r} keeps what reveals {r.words()}: counted as a "
                    "quasi-identifier in the risk after"
                )
        return lines

    def _search_lines(self) -> list[str]:
        s = self.search
        if s is None:
            parts = self.local.parts if self.local is not None else 0
            lines = [f"local recoding: {parts:,} parts; loss: {self.loss:.4f}"]
            c = self.compared
            if c is None:
                lines.append("global optimum: none meets the policy within the suppression limit")
            else:
                levels = ", ".join(
                    f"{q}={lv}" for q, lv in zip(self.spec.quasi_identifiers, c.levels, strict=True)
                )
                verdict = (
                    "local recoding loses less"
                    if self.loss < c.loss
                    else "the global transformation loses less: consider the global method"
                )
                lines.append(
                    f"global optimum: {levels}, {c.suppressed_records:,} records suppressed, "
                    f"loss {c.loss:.4f}; {verdict}"
                )
            return lines
        levels = ", ".join(f"{c}={lv}" for c, lv in self.transformation.items())
        proof = "optimal" if s.optimal else "not proven optimal"
        return [
            f"transformation: {levels}",
            f"suppressed records: {s.suppressed_records:,}; loss: {s.loss:.4f}; {proof} "
            f"({s.nodes_checked:,} of {s.nodes_in_lattice:,} transformations checked)",
        ]

    def manifest(self) -> dict[str, Any]:
        """The release manifest (documented in the README)."""
        s = self.search
        per_column = s.loss_per_column if s is not None else ()
        if s is None and self.local is not None:
            per_column = self.local.loss_per_column
        return {
            "custodes_version": __version__,
            "input": {"name": self.source, "sha256": self.input_sha256, "rows": self.before.rows},
            "output": {
                "name": self.output,
                "sha256": self.output_sha256,
                "rows": self.rows,
            },
            "spec": self.spec.to_dict(),
            "spec_sha256": self.spec.sha256(),
            "method": self.spec.method,
            "transformation": self.transformation if s is not None else None,
            "parts": self.local.parts if self.local is not None else None,
            "suppressed_records": self.suppressed_records,
            "privacy_models": [m.describe() for m in self.spec.models],
            "models_met": True,
            "utility": {
                "loss": self.loss,
                "loss_per_column": dict(zip(self.spec.quasi_identifiers, per_column, strict=True)),
                **(self.utility.to_dict() if self.utility is not None else {}),
            },
            "search": None
            if s is None
            else {
                "optimal": s.optimal,
                "nodes_in_lattice": s.nodes_in_lattice,
                "nodes_checked": s.nodes_checked,
                "objective": s.objective,
                "objective_value": s.objective_value,
            },
            "global_optimum": None if self.local is None else _global(self.spec, self.compared),
            "risk_before": _risk(self.before),
            "risk_after": _risk(self.after),
            "revealed_by_masks": [r.to_dict() for r in self.revealed],
        }

    def manifest_json(self) -> str:
        """The manifest as JSON text."""
        return json.dumps(self.manifest(), indent=2, ensure_ascii=False, allow_nan=False)


def _global(spec: AnonymizationSpec, c: SearchResult | None) -> dict[str, Any]:
    """The global optimum a local recoding is compared with."""
    if c is None:
        return {"exists": False}
    return {
        "exists": True,
        "transformation": dict(zip(spec.quasi_identifiers, c.levels, strict=True)),
        "suppressed_records": c.suppressed_records,
        "loss": c.loss,
        "optimal": c.optimal,
    }


def _risk(a: Assessment) -> dict[str, Any]:
    d = a.to_dict()
    keep = ("rows", "equivalence_classes", "k_anonymity", "sample_uniques", "prosecutor")
    out = {k: d[k] for k in keep}
    out["equivalence_classes"] = {
        k: v for k, v in d["equivalence_classes"].items() if k != "histogram"
    }
    out["marketer"] = d["marketer"]
    for key in ("l_diversity", "t_closeness"):
        if key in d:
            out[key] = d[key]
    return out
