"""The exception tree: codes, statuses and builtin bases."""

from __future__ import annotations

import inspect

import pytest

from custodes import errors


def _classes() -> list[type[errors.CustodesError]]:
    return [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.CustodesError)
    ]


def test_codes_are_unique_and_documented_in_the_tree() -> None:
    classes = _classes()
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    doc = errors.__doc__ or ""
    for c in classes:
        assert c.__name__ in doc


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InvalidInputError, ValueError),
        (errors.DataFileError, OSError),
        (errors.EncodingError, UnicodeError),
        (errors.UnknownColumnError, KeyError),
        (errors.UnsupportedError, NotImplementedError),
        (errors.InternalError, RuntimeError),
    ],
)
def test_subclasses_resemble_builtins(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, builtin)


def test_unknown_column_suggests_closest() -> None:
    exc = errors.unknown_column("agee", ["age", "sex"], where="people.csv")
    assert str(exc) == (
        "column 'agee' is not in people.csv. Did you mean 'age'? Its columns are: 'age', 'sex'."
    )
    assert exc.http_status == 400
    assert exc.exit_code == 2


def test_internal_error_says_it_is_a_bug() -> None:
    assert "this is a bug" in str(errors.InternalError("broken"))
