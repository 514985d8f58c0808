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


def test_bad_lazy_frames_raise_custodes_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    with pytest.raises(custodes.InvalidInputError, match="lazy frame given cannot be read"):
        custodes.assess(pl.scan_csv(tmp_path / "nope.csv"), quasi_identifiers=["a"])
    fake = tmp_path / "fake.parquet"
    fake.write_text("not parquet", encoding="utf-8")
    with pytest.raises(custodes.InvalidInputError):
        custodes.assess(pl.scan_parquet(fake), quasi_identifiers=["a"])


def test_threshold_given_as_text_is_accepted() -> None:
    frame = pl.DataFrame({"age": ["30", "30", "40"]})
    result = custodes.assess(frame, quasi_identifiers="age", threshold="0.5")
    assert result.threshold == 0.5
