"""Settings: defaults, file, environment, flags; and useful errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.errors import SettingError
from custodes.settings import SETTINGS, load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path, environ={})
    assert s.workspace == tmp_path
    assert s.risk_threshold == 0.2
    assert s.engine == "polars"
    assert s.sources["risk_threshold"] == "default"


def test_workspace_from_environment_then_default() -> None:
    assert load_settings(environ={"CUSTODES_WORKSPACE": "/x/ws"}).workspace == Path("/x/ws")
    assert load_settings(environ={}).workspace == Path(".custodes")


def test_precedence_file_env_flag(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("risk_threshold = 0.1\n", encoding="utf-8")
    assert load_settings(tmp_path, environ={}).risk_threshold == 0.1
    env = {"CUSTODES_RISK_THRESHOLD": "0.05"}
    assert load_settings(tmp_path, environ=env).risk_threshold == 0.05
    s = load_settings(tmp_path, {"risk_threshold": 0.3}, environ=env)
    assert s.risk_threshold == 0.3
    assert s.sources["risk_threshold"] == "flag"


def test_unknown_setting_in_file_suggests_closest(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("risk_treshold = 0.1\n", encoding="utf-8")
    with pytest.raises(SettingError, match=r"unknown setting 'risk_treshold'.*'risk_threshold'"):
        load_settings(tmp_path, environ={})


def test_bad_values_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match=r"'risk_threshold'.*CUSTODES_RISK_THRESHOLD"):
        load_settings(tmp_path, environ={"CUSTODES_RISK_THRESHOLD": "high"})
    with pytest.raises(SettingError, match=r"'risk_threshold' is 2.0; it must be in \(0, 1\]"):
        load_settings(tmp_path, {"risk_threshold": 2}, environ={})
    from custodes.workspace import Workspace

    with pytest.raises(SettingError, match=r"'engine' is 'spork'"):  # checked where it is made
        Workspace(load_settings(tmp_path, {"engine": "spork"}, environ={}))


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text("risk_threshold = = 1\n", encoding="utf-8")
    with pytest.raises(SettingError, match=r"settings\.toml: not valid TOML"):
        load_settings(tmp_path, environ={})


def test_every_setting_has_help() -> None:
    for s in SETTINGS:
        assert s.help.endswith(".")
        assert s.env == "CUSTODES_" + s.name.upper()
