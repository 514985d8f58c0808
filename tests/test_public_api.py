"""The curated public surface: __all__ is complete and importable."""

from __future__ import annotations

import importlib
import inspect
import types
from pathlib import Path

import polars as pl

import custodes
from custodes import errors

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(custodes).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(custodes.__all__)
    for name in custodes.__all__:
        assert hasattr(custodes, name), name


def test_every_error_class_is_exported() -> None:
    classes = {
        name
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.CustodesError) and cls.__module__ == errors.__name__
    }
    assert "CustodesError" in classes
    assert "TamperedError" in classes
    assert classes <= set(custodes.__all__), classes - set(custodes.__all__)
    for name in classes:
        assert getattr(custodes, name) is getattr(errors, name)


def test_the_entry_points_of_governance_dp_and_the_ledger_are_exported() -> None:
    wanted = {
        "Governance",
        "PrivateQueries",
        "Ledger",
        "verify_export",
        "init_workspace",
        "InitResult",
        "open_table",
        "Workspace",
        "spec_from_mapping",
    }
    assert wanted <= set(custodes.__all__)
    from custodes.dp import PrivateQueries
    from custodes.governance import Governance
    from custodes.ledger import Ledger, verify_export

    assert custodes.Governance is Governance
    assert custodes.PrivateQueries is PrivateQueries
    assert custodes.Ledger is Ledger
    assert custodes.verify_export is verify_export


def test_every_name_is_importable_and_documented() -> None:
    section = README.split("### Python", 1)[1].split("\n## ", 1)[0]
    for name in custodes.__all__:
        if name == "__version__":
            continue
        value = getattr(importlib.import_module("custodes"), name)
        exec(f"from custodes import {name}", {})
        assert inspect.getdoc(value), f"{name} has no docstring"
        if not (isinstance(value, type) and issubclass(value, errors.CustodesError)):
            assert f"`{name}`" in section, f"{name} is not in the README's Python section"


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
