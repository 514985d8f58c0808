"""A generated census-like table whose generalization lattice is large and hard to search.

70,000 people with eight quasi-identifiers, correlated the way census answers
are (age drives marital status, income and hours; region and education drive
income; education drives occupation), answers clustered on round numbers, and
a hierarchy for each whose heights are 4, 4, 4, 4, 3, 3, 2, 2: the lattice
holds 5^4 * 4^2 * 3^2 = 90,000 transformations. Nearly every person is unique
at the bottom (69,946 classes), so at k=5 with 2 % suppression the optimum is
well above it (levels 4, 2, 3, 3, 2, 2, 1, 1), and the bound that orders the
search leaves some 60,000 transformations cheaper than the optimum, all but
one of them failing k-anonymity: the search has to earn its proof.

The same seed always gives the same table.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from custodes.hierarchy import Hierarchy, interval_hierarchy, mapping_hierarchy

__all__ = ["COLUMNS", "hard_table"]

COLUMNS = (
    "age",
    "region",
    "income",
    "hours",
    "education",
    "occupation",
    "marital",
    "household",
)
ROWS = 70_000
_REGIONS = 400  # three-digit codes 100..499 -> district (13x) -> province (1xx) -> north/south -> *
_OCCUPATIONS = 24


def _skewed(rng: np.random.Generator, size: int, domain: int, a: float) -> npt.NDArray[np.int64]:
    weights = 1.0 / np.arange(1, domain + 1) ** a
    return rng.choice(domain, size=size, p=weights / weights.sum())


def _region_hierarchy(values: list[str]) -> Hierarchy:
    """Code 137 -> district 13x -> province 1xx -> macro-region (1-2, 3-4) -> *."""
    mapping = {v: [f"{v[:2]}x", f"{v[0]}xx", "north" if v[0] in "12" else "south"] for v in values}
    return mapping_hierarchy(mapping)


def _education_hierarchy() -> Hierarchy:
    """16 grades -> 6 stages -> 3 (basic, secondary, tertiary) -> *."""
    stages = ["primary"] * 4 + ["lower"] * 3 + ["upper"] * 3 + ["vocational"] * 2
    stages += ["bachelor"] * 2 + ["master", "doctor"]
    broad = {"primary": "basic", "lower": "basic", "upper": "secondary"}
    broad |= {"vocational": "secondary", "bachelor": "tertiary"}
    broad |= {"master": "tertiary", "doctor": "tertiary"}
    return mapping_hierarchy({f"g{i:02d}": [s, broad[s]] for i, s in enumerate(stages)})


def _occupation_hierarchy() -> Hierarchy:
    """24 occupations -> 8 groups -> 3 sectors -> *."""
    return mapping_hierarchy(
        {f"o{i:02d}": [f"group{i // 3}", f"sector{i // 9}"] for i in range(_OCCUPATIONS)}
    )


def _small_hierarchy(values: int, groups: int, prefix: str) -> Hierarchy:
    """``values`` codes -> ``groups`` groups (contiguous) -> *."""
    size = -(-values // groups)
    return mapping_hierarchy(
        {f"{prefix}{i}": [f"{prefix}-group{i // size}"] for i in range(values)}
    )


def hard_table(seed: int = 17) -> tuple[pl.DataFrame, dict[str, Hierarchy]]:
    """The table (text columns) and a hierarchy for each of its quasi-identifiers."""
    rng = np.random.default_rng(seed)
    n = ROWS
    age = np.clip(rng.gamma(9.0, 4.5, n), 0, 89).astype(np.int64)
    region = 100 + _skewed(rng, n, _REGIONS, 1.0)
    education = np.clip(_skewed(rng, n, 16, 0.4) + (age > 25) * rng.integers(0, 3, n), 0, 15)
    occupation = (education * 3 // 2 + rng.integers(-1, 2, n)) % _OCCUPATIONS
    rich = (region < 200).astype(np.float64)  # the first province earns more
    mean = 2.8 + 0.012 * np.minimum(age, 60) + 0.3 * rich + 0.05 * education
    income = np.clip(rng.lognormal(mean, 0.4), 0, 199)
    hours = np.clip(rng.normal(40 - 0.15 * np.maximum(age - 55, 0), 10, n), 1, 99)
    hours = np.where(rng.random(n) < 0.5, 40, hours)  # half work the standard week
    # Answers cluster on round numbers.
    income = np.minimum(np.where(rng.random(n) < 0.7, np.round(income / 5) * 5, income), 199)
    hours = np.where(rng.random(n) < 0.6, np.round(hours / 5) * 5, hours)
    marital = np.where(age < 25, _skewed(rng, n, 6, 2.0), _skewed(rng, n, 6, 0.8))
    household = np.clip(rng.poisson(1.8 + (marital > 0) * 1.2, n), 1, 8) - 1
    frame = pl.DataFrame(
        {
            "age": age.astype(str),
            "region": region.astype(str),
            "income": income.astype(np.int64).astype(str),
            "hours": hours.astype(np.int64).astype(str),
            "education": [f"g{e:02d}" for e in education],
            "occupation": [f"o{o:02d}" for o in occupation],
            "marital": [f"m{m}" for m in marital],
            "household": [f"h{h}" for h in household],
        }
    )
    ages = [str(a) for a in range(90)]
    hierarchies = {
        "age": interval_hierarchy(ages, width=5, levels=3),
        "region": _region_hierarchy([str(r) for r in range(100, 100 + _REGIONS)]),
        "income": interval_hierarchy([str(i) for i in range(200)], width=10, levels=3),
        "hours": interval_hierarchy([str(h) for h in range(100)], width=5, levels=3),
        "education": _education_hierarchy(),
        "occupation": _occupation_hierarchy(),
        "marital": _small_hierarchy(6, 3, "m"),
        "household": _small_hierarchy(8, 3, "h"),
    }
    return frame, hierarchies
