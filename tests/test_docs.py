"""The README documents every command, option, setting, error code and JSON field."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer.main

from custodes import errors
from custodes.cli import app
from custodes.settings import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, Any]:
    group: Any = typer.main.get_command(app)
    return dict(group.commands)


def test_every_command_and_option_is_documented() -> None:
    for name, command in _commands().items():
        assert f"custodes {name}" in README, name
        for param in command.params:
            if param.param_type_name == "option":
                for opt in param.opts:
                    assert opt in README, f"{name} {opt}"


def test_every_setting_is_documented() -> None:
    for s in SETTINGS:
        assert f"`{s.name}`" in README, s.name


def test_every_error_code_is_documented() -> None:
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.CustodesError) and cls is not errors.CustodesError:
            assert f"`{cls.code}`" in README, cls.code


def test_quick_start_has_the_two_commands() -> None:
    assert "make demo" in README
    assert "make test" in README
