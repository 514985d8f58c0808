"""The assessment: every risk figure of one table, computed from its summary."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from custodes.errors import InvalidInputError
from custodes.hierarchy import Hierarchy
from custodes.risk._closeness import TCloseness, t_closeness
from custodes.risk._combinations import (
    ColumnImpact,
    Coverage,
    QICombination,
    column_impact,
    qi_combinations,
)
from custodes.risk._diversity import LDiversity, l_diversity
from custodes.risk._population import PopulationRisk, population_uniqueness
from custodes.risk._reidentification import (
    AttackerRisk,
    ClassStatistics,
    attacker_risk,
    class_statistics,
    prosecutor_risk,
)
from custodes.summary import Summary

__all__ = ["Assessment", "RiskBucket", "assess_summary", "census", "exact_population"]

# Upper bounds of the risk buckets of the distribution plot (as in ARX's view).
_RISK_EDGES = (1.0, 0.5, 1 / 3, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001, 0.0)


@dataclass(frozen=True)
class RiskBucket:
    """Records whose prosecutor risk lies in (low, high]."""

    low: float
    high: float
    records: float
    """Fraction of all records."""

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"low": self.low, "high": self.high, "records": self.records}


@dataclass(frozen=True)
class Assessment:
    """Re-identification risk of one table. :meth:`to_json` gives the stable JSON."""

    source: str
    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    threshold: float
    rows: int
    equivalence_classes: ClassStatistics
    k_anonymity: int
    sample_unique_records: int
    prosecutor: AttackerRisk
    journalist: AttackerRisk
    marketer_success_rate: float
    population: PopulationRisk | None
    risk_distribution: tuple[RiskBucket, ...]
    l_diversity: Mapping[str, LDiversity] = field(default_factory=dict)
    t_closeness: Mapping[str, TCloseness] = field(default_factory=dict)
    qi_combinations: tuple[QICombination, ...] = ()
    column_impact: tuple[ColumnImpact, ...] = ()
    qi_combinations_coverage: Coverage | None = None
    """How many subsets were measured (None when the analysis was not asked for)."""
    identifying: tuple[str, ...] = ()
    """Direct identifiers in the table: not assessed; a release must remove or mask them."""

    @property
    def sample_uniques_fraction(self) -> float:
        """Fraction of records that are unique in the table."""
        return self.sample_unique_records / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON object (see the README's reference)."""
        out: dict[str, Any] = {
            "source": self.source,
            "quasi_identifiers": list(self.quasi_identifiers),
            "sensitive": list(self.sensitive),
            "identifying": list(self.identifying),
            "threshold": self.threshold,
            "rows": self.rows,
            "equivalence_classes": self.equivalence_classes.to_dict(),
            "k_anonymity": self.k_anonymity,
            "sample_uniques": {
                "records": self.sample_unique_records,
                "fraction": self.sample_uniques_fraction,
            },
            "prosecutor": self.prosecutor.to_dict(),
            "journalist": self.journalist.to_dict(),
            "marketer": {"success_rate": self.marketer_success_rate},
            "population": self.population.to_dict() if self.population else None,
            "risk_distribution": [b.to_dict() for b in self.risk_distribution],
            "qi_combinations": [c.to_dict() for c in self.qi_combinations],
            "column_impact": [c.to_dict() for c in self.column_impact],
            "qi_combinations_coverage": (
                self.qi_combinations_coverage.to_dict() if self.qi_combinations_coverage else None
            ),
        }
        if self.sensitive:
            out["l_diversity"] = {k: v.to_dict() for k, v in self.l_diversity.items()}
            out["t_closeness"] = {k: v.to_dict() for k, v in self.t_closeness.items()}
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """The assessment as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def _risk_distribution(
    sizes: npt.NDArray[np.int64], freq: npt.NDArray[np.int64]
) -> tuple[RiskBucket, ...]:
    """From the class size frequencies: records of classes of size ``sizes[i]``."""
    records = sizes * freq
    rows = int(records.sum())
    risk = 1.0 / sizes.astype(np.float64)
    buckets = []
    for high, low in itertools.pairwise(_RISK_EDGES):
        inside = (risk <= high) & (risk > low)
        buckets.append(RiskBucket(low, high, float(records[inside].sum() / rows) if rows else 0.0))
    return tuple(buckets)


def exact_population(population: Summary, sample_rows: int) -> PopulationRisk:
    """Population uniqueness counted in the population table itself: no estimate needed."""
    return PopulationRisk(
        size=population.rows,
        sampling_fraction=sample_rows / population.rows,
        pitman=None,
        zayatz=None,
        snb=None,
        dankar_model="population table",
        dankar=float((population.counts == 1).sum()) / population.rows,
    )


def census(summary: Summary) -> PopulationRisk:
    """The table is the whole population: its uniques are the population's uniques.

    The estimators are not applicable (there is nothing to estimate), so they
    are None and the Dankar entry reports the exact figure as model ``census``.
    """
    uniques = float((summary.counts == 1).sum()) / summary.rows
    return PopulationRisk(
        size=summary.rows,
        sampling_fraction=1.0,
        pitman=None,
        zayatz=None,
        snb=None,
        dankar_model="census",
        dankar=uniques,
    )


def _population_sizes(sample: Summary, population: Summary) -> npt.NDArray[np.int64]:
    """Size of each sample class in the population table (matched by value, not code)."""
    import pyarrow.compute as pc  # (imported when needed: 40-60 ms)

    left, right = sample.values_frame(), population.values_frame()
    n, m = sample.classes, population.classes
    key = np.zeros(n + m, dtype=np.int64)
    rows: list[npt.NDArray[np.int64]] = []
    radix = 1.0
    for q in sample.quasi_identifiers:
        # One dictionary over both tables' values, a null a value of its own.
        both = pa.chunked_array([left.column(q), right.column(q)]).combine_chunks()
        encoded = pc.dictionary_encode(both, null_encoding="encode")
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        size = max(len(encoded.dictionary), 1)
        rows.append(codes)
        radix *= size
        key = key * size + codes
    if radix >= 2.0**62:  # too many combinations for one integer key: rank the rows
        _, inverse = np.unique(np.stack(rows, axis=1), axis=0, return_inverse=True)
        key = inverse.reshape(-1).astype(np.int64)
    order = np.argsort(key[n:], kind="stable")
    known = key[n:][order]
    at = np.searchsorted(known, key[:n])
    found = at < m
    found[found] = known[at[found]] == key[:n][found]
    sizes = np.zeros(n, dtype=np.int64)
    sizes[found] = population.counts[order[at[found]]]
    missing = int((~found).sum())
    smaller = int((sizes[found] < sample.counts[found]).sum())
    if missing or smaller:
        raise InvalidInputError(
            "the population table does not contain every record of the table: "
            f"{missing} equivalence classes are missing from it and {smaller} are smaller "
            "there. Give the table the sample was drawn from, with the same columns."
        )
    return sizes


def assess_summary(
    summary: Summary,
    *,
    source: str = "<table>",
    population: int | None = None,
    threshold: float = 0.2,
    hierarchies: Mapping[str, Hierarchy] | None = None,
    recursive_c: float = 4.0,
    max_qi_combinations: int = 10,
    combinations: bool = True,
    population_summary: Summary | None = None,
    progress: Callable[[int, int], None] | None = None,
    identifying: tuple[str, ...] = (),
) -> Assessment:
    """Compute every figure of an :class:`Assessment` from a summary."""
    hierarchies = hierarchies or {}
    counts = summary.counts
    rows = summary.rows
    # Most figures depend on the class sizes only: counted once, they cost no more
    # for ten million classes than for ten.
    sizes, freq = frequencies = summary.class_size_frequencies()
    stats = class_statistics(summary, frequencies)
    prosecutor = prosecutor_risk(sizes, freq, threshold)
    if population_summary is not None:
        ref = _population_sizes(summary, population_summary)
        journalist = attacker_risk(counts, threshold, ref)
        marketer = journalist.average_risk
    else:
        journalist = prosecutor
        marketer = summary.classes / rows if rows else 0.0

    pop: PopulationRisk | None = None
    if population_summary is not None:
        pop = exact_population(population_summary, rows)
    elif population is not None and rows:
        if population == rows:
            pop = census(summary)
        else:
            pop = population_uniqueness(sizes, freq, population)

    ldiv = {s: l_diversity(h, summary.classes, recursive_c) for s, h in summary.sensitive.items()}
    tclose = {
        s: t_closeness(h, summary.classes, hierarchies.get(s)) for s, h in summary.sensitive.items()
    }
    combos: list[QICombination] = []
    coverage = None
    if combinations:
        combos, coverage = qi_combinations(summary, max_qi_combinations, progress)
    return Assessment(
        source=source,
        quasi_identifiers=summary.quasi_identifiers,
        sensitive=tuple(summary.sensitive),
        threshold=threshold,
        rows=rows,
        equivalence_classes=stats,
        k_anonymity=stats.min_size,
        sample_unique_records=int(freq[0]) if len(sizes) and sizes[0] == 1 else 0,
        prosecutor=prosecutor,
        journalist=journalist,
        marketer_success_rate=marketer,
        population=pop,
        risk_distribution=_risk_distribution(sizes, freq),
        l_diversity=ldiv,
        t_closeness=tclose,
        qi_combinations=tuple(combos),
        column_impact=tuple(column_impact(combos, summary.quasi_identifiers)),
        qi_combinations_coverage=coverage,
        identifying=identifying,
    )
