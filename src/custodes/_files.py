"""Writing files so that a crash never leaves one half-written."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from custodes.errors import DataFileError, InvalidInputError, SettingError

__all__ = ["atomic_writer", "read_json_object", "read_toml", "text_sha256", "write_atomic"]


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file beside ``path`` that replaces it only once written and synced.

    If the block fails, the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise DataFileError(f"cannot write {str(target)!r}: {exc.strerror}.") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DataFileError(f"cannot write {str(target)!r}: {exc.strerror}.") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path) as handle:
        handle.write(payload)
    return Path(path)


def read_toml(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """A TOML file's table; ``kind`` names the file in errors ("spec file", ...)."""
    source = Path(path)
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(f"{kind} {str(source)!r} does not exist.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingError(f"{source}: not valid TOML ({exc}); fix the file.") from None


def read_json_object(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """A JSON file holding an object; ``kind`` names the file in errors ("manifest", ...)."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(f"{kind} {str(source)!r} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{source}: not a JSON {kind} ({exc}).") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{source}: not a custodes {kind}.")
    return data


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
