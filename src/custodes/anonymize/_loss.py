"""ARX's "Loss" information-loss metric (Iyengar's loss metric, geometric mean).

For quasi-identifier j with D_j values in its hierarchy, a record generalized
to a node covering s of them costs gFactor * s / D_j; a suppressed record
costs 1 (with the default generalization/suppression factor 0.5). Per
column, the cost S_j over the N records is normalised between the cost of
the untouched table (gFactor * N / D_j) and N:

    L_j = max(0, (S_j - gFactor N / D_j) / (N - gFactor N / D_j))

and the columns are combined by a shifted geometric mean,
Loss = (prod_j (1 + L_j))^(1/m) - 1, so Loss is 0 for the original table and
1 when everything is generalized to '*' or suppressed. With a factor below
0.5 suppression is cheaper (a suppressed record costs s + sFactor (1 - s));
above 0.5 generalization is cheaper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from custodes.anonymize._generalize import Generalized, Scheme
from custodes.anonymize._tally import Tally
from custodes.errors import SettingError

__all__ = ["LossMetric"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LossMetric:
    """The metric with its generalization/suppression factor (ARX's default 0.5)."""

    gs_factor: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.gs_factor <= 1.0:
            raise SettingError(
                f"the generalization/suppression factor is {self.gs_factor}; it must be in "
                "[0, 1] (0.5 weighs both equally)."
            )

    @property
    def s_factor(self) -> float:
        """Weight of suppression (1 unless the factor is below 0.5)."""
        return 2 * self.gs_factor if self.gs_factor < 0.5 else 1.0

    @property
    def g_factor(self) -> float:
        """Weight of generalization (1 unless the factor is above 0.5)."""
        return 1.0 if self.gs_factor <= 0.5 else 1 - 2 * (self.gs_factor - 0.5)

    def per_column(
        self,
        generalized: Generalized,
        schemes: Sequence[Scheme],
        suppressed: npt.NDArray[np.bool_],
        leaves: Sequence[int],
    ) -> FloatArray:
        """L_j for every quasi-identifier of a transformation."""
        covers = [
            scheme.covers[level][generalized.nodes[:, j]]
            for j, (scheme, level) in enumerate(zip(schemes, generalized.levels, strict=True))
        ]
        return self.per_column_of(Tally.of(generalized.sizes, suppressed, covers), leaves)

    def per_column_of(self, tally: Tally, leaves: Sequence[int]) -> FloatArray:
        """L_j for every quasi-identifier, from a transformation's sums (:class:`Tally`).

        A record's cost is a share of the leaves (covered / D), so a column's cost
        is a whole-number sum divided once: the same however its classes were added.
        """
        out = np.zeros(len(leaves))
        for j, domain in enumerate(leaves):
            cost = self.g_factor * (tally.kept_cover[j] / domain)
            if self.s_factor == 1.0:
                cost += tally.suppressed
            else:  # s + s_factor (1 - s) per record
                share = tally.suppressed_cover[j] / domain
                cost += self.s_factor * tally.suppressed + (1 - self.s_factor) * share
            out[j] = self.normalize(cost, tally.rows, domain)
        return out

    def normalize(self, cost: float, rows: float, leaves: int) -> float:
        """L_j from a column's cost: 0 for the untouched table, 1 for all '*' or suppressed.

        Rounded to 10 decimals, as ARX rounds; rounding keeps the order of
        costs, so a bound normalised the same way stays a bound.
        """
        low = self.g_factor * rows / leaves
        span = rows - low
        return round(max(0.0, (cost - low) / span), 10) if span > 0 else 0.0

    @staticmethod
    def aggregate(per_column: FloatArray) -> float:
        """Shifted geometric mean of the per-column losses."""
        if len(per_column) == 0:
            return 0.0
        return float(np.exp(np.log1p(per_column).mean()) - 1.0)
