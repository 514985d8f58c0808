"""The outcome of an anonymization: the released table, the search, the manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from custodes.anonymize._search import SearchResult
from custodes.anonymize._spec import AnonymizationSpec
from custodes.anonymize._utility import Utility
from custodes.risk import Assessment

__all__ = ["Anonymization"]


@dataclass(frozen=True, eq=False)
class Anonymization:
    """An anonymized table that meets its spec, with what a reviewer needs to check it."""

    table: pl.DataFrame
    spec: AnonymizationSpec
    search: SearchResult
    before: Assessment
    after: Assessment
    source: str
    utility: Utility | None = None
    input_sha256: str | None = None
    output: str | None = None
    output_sha256: str | None = None

    @property
    def transformation(self) -> dict[str, int]:
        """The chosen level of every quasi-identifier."""
        return dict(zip(self.spec.quasi_identifiers, self.search.levels, strict=True))

    def manifest(self) -> dict[str, Any]:
        """The release manifest (documented in the README)."""
        from custodes import __version__

        s = self.search
        return {
            "custodes_version": __version__,
            "input": {"name": self.source, "sha256": self.input_sha256, "rows": self.before.rows},
            "output": {
                "name": self.output,
                "sha256": self.output_sha256,
                "rows": self.table.height,
            },
            "spec": self.spec.to_dict(),
            "spec_sha256": self.spec.sha256(),
            "transformation": self.transformation,
            "suppressed_records": s.suppressed_records,
            "privacy_models": [m.describe() for m in self.spec.models],
            "models_met": True,
            "utility": {
                "loss": s.loss,
                "loss_per_column": dict(
                    zip(self.spec.quasi_identifiers, s.loss_per_column, strict=True)
                ),
                **(self.utility.to_dict() if self.utility is not None else {}),
            },
            "search": {
                "optimal": s.optimal,
                "nodes_in_lattice": s.nodes_in_lattice,
                "nodes_checked": s.nodes_checked,
            },
            "risk_before": _risk(self.before),
            "risk_after": _risk(self.after),
        }

    def manifest_json(self) -> str:
        """The manifest as JSON text."""
        return json.dumps(self.manifest(), indent=2, ensure_ascii=False, allow_nan=False)


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
