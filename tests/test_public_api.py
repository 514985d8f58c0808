"""The curated public surface: __all__ is complete and importable."""

from __future__ import annotations

import types

import polars as pl

import custodes


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(custodes).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(custodes.__all__)
    for name in custodes.__all__:
        assert hasattr(custodes, name), name


def test_assess_accepts_a_dataframe() -> None:
    frame = pl.DataFrame({"age": ["30", "30", "40"], "sex": ["F", "F", "M"]})
    result = custodes.assess(frame, quasi_identifiers=["age", "sex"], population=1000)
    assert result.k_anonymity == 1
    assert result.equivalence_classes.count == 2
    assert result.population is not None
    assert result.population.size == 1000
    assert '"k_anonymity": 1' in result.to_json()
