"""Shared test fixtures: the UCI Adult data from ../shared, when present."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

ADULT_QIS = [
    "age",
    "education",
    "marital-status",
    "native-country",
    "race",
    "salary-class",
    "sex",
    "workclass",
]


def adult_path() -> Path:
    """The folder of the Adult data set: ../shared/data/adult beside the project."""
    env = os.environ.get("CUSTODES_ADULT_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "adult"


def require_adult() -> Path:
    """The Adult folder; skip (or fail in CI) when it is absent."""
    folder = adult_path()
    if not (folder / "adult.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the Adult data is missing at {folder}; CI must have ../shared")
        pytest.skip(f"the Adult data is not at {folder}")
    return folder


@pytest.fixture(scope="session")
def adult_dir() -> Path:
    """Folder with adult.csv and ARX's hierarchies."""
    return require_adult()


@pytest.fixture(scope="session")
def adult_frame(adult_dir: Path) -> pl.LazyFrame:
    """The Adult table as a lazy frame of strings."""
    return pl.scan_csv(adult_dir / "adult.csv", separator=";", infer_schema=False)


@pytest.fixture(autouse=True)
def _own_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in a folder of its own: the default workspace (.custodes) of the
    checkout, e.g. one `make demo` made with an older schema, is never touched."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CUSTODES_WORKSPACE", raising=False)


@pytest.fixture(autouse=True, scope="session")
def _keyring(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Personal keys made by the tests go to a keyring of their own, never the user's."""
    folder = tmp_path_factory.mktemp("keyring")
    os.environ["XDG_CONFIG_HOME"] = str(folder)
    for name in ("CUSTODES_KEY", "CUSTODES_KEYRING", "CUSTODES_KEY_PASSPHRASE"):
        os.environ.pop(name, None)
