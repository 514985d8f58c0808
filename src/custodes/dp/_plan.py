"""What a query costs and how it is released, known from the dataset's DP settings alone.

A :class:`Plan` is everything about a query's answer that does not depend on
the data: the rho it is charged, its even split over the releases, each
aggregate's mechanism, noise scales and 95 % interval half-width, the
threshold of DP partition selection, and the number of groups when their
domain is public. :func:`plan_query` is the one place the charge is
computed: the estimate shows a plan before anything is spent, and the answer
is computed and paid through one made the same way, so an estimate's cost is
the charge by construction.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from scipy.stats import norm

from custodes.dp._budget import Budget
from custodes.dp._mechanisms import count_scale, half_width, quantile_scale, sum_scale
from custodes.dp._query import Aggregate, Query

__all__ = ["QUANTILE_CANDIDATES", "Plan", "Planned", "plan_query"]

QUANTILE_CANDIDATES = 101
"""How many evenly spaced candidates between the bounds a quantile is chosen among."""


@dataclass(frozen=True)
class Planned:
    """How one aggregate is released: its mechanism and the scale of each noisy statistic."""

    aggregate: Aggregate
    mechanism: str
    scales: Mapping[str, float]
    """The noise scale of each statistic released: ``count``, ``sum``, ``quantile score``."""
    digits: int
    """The decimals the answer rounds the aggregate's intervals to."""
    candidates: tuple[float, ...] = ()
    """A quantile's candidates (empty for the others)."""

    @property
    def half_width(self) -> float | None:
        """The 95 % interval's half-width, the same in every cell; None for an average (its
        interval depends on the noisy count) and a quantile (the answer gives none)."""
        if self.aggregate.kind in ("count", "sum"):
            return half_width(self.scales[self.aggregate.kind])
        return None

    def interval(self, value: float) -> list[float]:
        """The 95 % interval the answer reports around a released count or sum."""
        half = self.half_width
        assert half is not None
        return [round(value - half, self.digits), round(value + half, self.digits)]

    def shown(self) -> dict[str, Any]:
        """For people (the estimate's and the answer's ``aggregates``)."""
        half = self.half_width
        return {
            "aggregate": self.aggregate.label,
            "mechanism": self.mechanism,
            "noise_scales": {name: round(scale, 6) for name, scale in self.scales.items()},
            "interval_half_width": None if half is None else round(half, self.digits),
        }


@dataclass(frozen=True)
class Plan:
    """A query's cost and releases, from its text, the DP settings and the policy's delta."""

    query: Query
    config: Mapping[str, Any]
    charge: Budget
    """The rho the query is charged: what the budgets pay and the ledger records."""
    delta: float
    share: Budget
    """What each release spends (the charge split evenly)."""
    releases: tuple[Planned, ...]
    selection_scale: float | None
    """The noise scale of partition selection's counts (None: every group is public)."""
    threshold: float | None
    """Partition selection's threshold on noisy counts (None: every group is public)."""
    domain: list[tuple[str, ...]] | None
    """Every cell of public groups (None: no groups, or some without a public domain)."""

    @property
    def groups(self) -> int | None:
        """How many groups the answer has, when known before: 1 without GROUP BY, every cell
        of public groups; None when partition selection decides."""
        if not self.query.groups:
            return 1
        return None if self.domain is None else len(self.domain)

    def notes(self) -> list[str]:
        """What every answer of this plan says about how it was made."""
        unit = self.config["privacy_unit"]
        m = int(self.config["max_contributions"])
        per = f"({unit})" if unit is not None else "(each row is one person)"
        notes = [f"at most {m} row(s) per person {per}; values clamped to declared bounds"]
        if self.threshold is not None:
            private = [g for g in self.query.groups if g not in self.config["public_groups"]]
            notes.append(
                f"groups of {', '.join(private)} released by DP partition selection "
                f"(threshold {self.threshold:.1f}, delta {self.delta:g})"
            )
        return notes

    def cost(self, exact: bool = False) -> dict[str, Any]:
        """The charge as people read it: rho (decimal, or the exact fraction) and epsilon."""
        return {"rho": self.charge.shown(exact), "epsilon": self.charge.epsilon_shown(self.delta)}


def plan_query(
    query: Query,
    config: Mapping[str, Any],
    delta: float,
    *,
    rho: str | Fraction | float | None = None,
    epsilon: str | Fraction | float | None = None,
) -> Plan:
    """The plan of ``query`` under the checked DP ``config``, charged ``rho`` or ``epsilon``
    (at ``delta``); a bad privacy loss is a :class:`~custodes.errors.SettingError`."""
    charge = Budget.spend(rho, epsilon, delta)
    m = int(config["max_contributions"])
    public = config["public_groups"]
    private = [g for g in query.groups if g not in public]
    count = sum(2 if a.kind == "avg" else 1 for a in query.aggregates) + (1 if private else 0)
    share = charge.split(count)
    selection = threshold = None
    if private:
        selection = count_scale(m, share.rho)
        threshold = m + selection * float(norm.ppf(1 - delta / m))
    domain = None
    if query.groups and not private:
        domain = list(itertools.product(*(public[g] for g in query.groups)))
    releases = tuple(_planned(a, config["bounds"], m, share.rho) for a in query.aggregates)
    return Plan(query, config, charge, delta, share, releases, selection, threshold, domain)


def _planned(agg: Aggregate, bounds: Mapping[str, list[float]], m: int, rho: Fraction) -> Planned:
    if agg.kind == "count":
        return Planned(agg, "gaussian", {"count": count_scale(m, rho)}, 2)
    assert agg.column is not None
    low, high = bounds[agg.column]
    reach = m * max(abs(low), abs(high))
    if agg.kind == "sum":
        return Planned(agg, "gaussian", {"sum": sum_scale(reach, rho)}, 4)
    if agg.kind == "avg":
        scales = {"sum": sum_scale(reach, rho), "count": count_scale(m, rho)}
        return Planned(agg, "gaussian sum / gaussian count", scales, 4)
    assert agg.quantile is not None
    step = (high - low) / (QUANTILE_CANDIDATES - 1)
    candidates = tuple(low + i * step for i in range(QUANTILE_CANDIDATES))
    scale = quantile_scale(candidates, agg.quantile, m, rho)
    return Planned(agg, "noisy max", {"quantile score": scale}, 4, candidates)
