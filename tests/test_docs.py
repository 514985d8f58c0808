"""The README documents every command, option, setting, error code and JSON field."""

from __future__ import annotations

import inspect
import re
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


def _leaves(commands: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every command, sub-commands of groups included, by its full name."""
    out: dict[str, Any] = {}
    for name, command in commands.items():
        full = f"{prefix}{name}"
        out[full] = command
        if hasattr(command, "commands"):
            out |= _leaves(dict(command.commands), f"{full} ")
    return out


def test_every_command_and_option_is_documented() -> None:
    for name, command in _leaves(_commands()).items():
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


def _keys(value: object, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(key)
            found |= _keys(inner, key)
    elif isinstance(value, list):
        for inner in value:
            found |= _keys(inner, prefix)
    return found


def test_every_json_field_is_documented() -> None:
    import polars as pl

    from custodes.hierarchy import Hierarchy
    from custodes.workspace import Workspace

    frame = pl.DataFrame(
        {"age": ["1", "1", "2", "3"], "sex": ["F", "F", "M", "M"], "s": ["a", "b", "a", "b"]}
    )
    hierarchy = Hierarchy(rows=(("a", "*"), ("b", "*")))
    result = Workspace().assess(
        frame,
        quasi_identifiers="age,sex",
        sensitive="s",
        population=1000,
        hierarchies={"s": hierarchy},
    )
    section = README.split("### The assessment JSON", 1)[1].split("\n### ", 1)[0]
    for key in _keys(result.to_dict()) - {"s"}:  # "s" is the sensitive column's name
        assert re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", section), key


def test_every_scan_json_field_is_documented() -> None:
    import polars as pl

    from custodes.detect import scan

    frame = pl.DataFrame(
        {
            "id_card": ["11010519491231002X", "360426199101010071"],
            "remarks": [
                "来电人电话13812345678，已记录情况并转办",
                "订单已经处理完毕，客户表示满意无异议",
            ],
        }
    )
    result = scan(frame)
    section = README.split("### The scan JSON", 1)[1].split("\n### ", 1)[0]
    for key in _keys(result.to_dict()):
        assert re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", section), key
