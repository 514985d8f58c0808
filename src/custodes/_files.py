"""Writing files so that a crash never leaves one half-written.

A file is written under a temporary name beside its target and renamed into
place once complete. The temporary name is custodes's own and carries the
writer's process id, ``.NAME.custodes-PID-RANDOM.tmp``, so a later run can
tell the leftovers of a killed writer (its process is gone) from the file of
a writer still at work, and remove only the former.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from custodes.errors import DataFileError, InvalidInputError, SettingError

__all__ = [
    "StagedFile",
    "atomic_writer",
    "file_sha256",
    "read_json",
    "read_json_object",
    "read_toml",
    "remove_stale_temporaries",
    "stale_temporaries",
    "temporary_target",
    "text_sha256",
    "write_atomic",
]

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.custodes-(?P<pid>[0-9]+)-[A-Za-z0-9_]+\.tmp$")


def temporary_target(path: Path) -> tuple[Path, int] | None:
    """(the file it was to become, the writer's process id) of a custodes temporary file."""
    match = _TEMPORARY.match(path.name)
    if match is None:
        return None
    return path.with_name(match["name"]), int(match["pid"])


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running (when unsure: yes, it may)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # no harmless liveness probe: never take a writer for dead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: alive
        return True
    return True


def stale_temporaries(folder: Path, *, recursive: bool = True) -> list[Path]:
    """The custodes temporary files under ``folder`` whose writer's process is gone."""
    if not folder.is_dir():
        return []
    found = folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")
    stale = []
    for path in found:
        parsed = temporary_target(path)
        if parsed is not None and path.is_file() and not _alive(parsed[1]):
            stale.append(path)
    return sorted(stale)


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files a killed writer of ``target`` left beside it."""
    removed = []
    for path in stale_temporaries(target.parent, recursive=False):
        parsed = temporary_target(path)
        if parsed is not None and parsed[0].name == target.name:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class StagedFile:
    """A file written under a temporary name beside ``target``; :meth:`commit` renames it.

    As a context manager it first removes what killed writers of ``target``
    left, then creates the temporary file :attr:`temp`. If the block fails,
    the temporary file is removed, and so is ``target`` when this object had
    already moved it there (the step that was to commit with it failed). A
    block that ends without committing leaves ``target`` untouched.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        self.temp = self.target.with_name(f".{self.target.name}.custodes-{os.getpid()}-new.tmp")
        self.committed = False

    def __enter__(self) -> StagedFile:
        name = self.target.name
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.target)
            prefix = f".{name}.custodes-{os.getpid()}-"
            fd, temp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self.target.parent)
        except OSError as exc:
            raise DataFileError(f"cannot write {str(self.target)!r}: {exc.strerror}.") from None
        os.close(fd)
        self.temp = Path(temp)
        return self

    def commit(self) -> None:
        """Sync the temporary file to disk and rename it into place."""
        try:
            with open(self.temp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(self.temp, self.target)
        except OSError as exc:
            raise DataFileError(f"cannot write {str(self.target)!r}: {exc.strerror}.") from None
        self.committed = True

    def discard(self) -> None:
        """Remove the temporary file, and ``target`` if this object put it there."""
        self.temp.unlink(missing_ok=True)
        if self.committed:
            self.target.unlink(missing_ok=True)
            self.committed = False

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None:
            self.discard()
        else:
            self.temp.unlink(missing_ok=True)


@contextmanager
def atomic_writer(path: str | os.PathLike[str], *, private: bool = False) -> Iterator[BinaryIO]:
    """A binary file beside ``path`` that replaces it only once written and synced.

    If the block fails, the temporary file is removed and ``path`` is untouched.
    """
    with StagedFile(path) as staged:
        try:
            with open(staged.temp, "wb") as handle:
                if private:  # before a byte is written: no one else ever reads it
                    os.chmod(staged.temp, 0o600)
                yield handle
        except OSError as exc:
            raise DataFileError(f"cannot write {str(staged.target)!r}: {exc.strerror}.") from None
        staged.commit()


def write_atomic(path: str | os.PathLike[str], data: str | bytes, *, private: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place
    (``private``: readable by its owner only, from the first byte)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path, private=private) as handle:
        handle.write(payload)
    return Path(path)


def read_toml(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """A TOML file's table; ``kind`` names the file in errors ("spec file", ...)."""
    source = Path(path)
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(f"{kind} {str(source)!r} does not exist.") from None
    except OSError as exc:
        raise DataFileError(f"{kind} {str(source)!r} cannot be read: {exc.strerror}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise SettingError(f"{source}: not valid TOML ({what}); fix the file.") from None


def read_json(path: str | os.PathLike[str], kind: str, not_json: str | None = None) -> Any:
    """A JSON file's value; ``kind`` names the file in errors ("manifest", ...), and
    ``not_json`` is the message when the file is not JSON (default: names the reason)."""
    source = Path(path)
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(f"{kind} {str(source)!r} does not exist.") from None
    except OSError as exc:
        raise DataFileError(f"{kind} {str(source)!r} cannot be read: {exc.strerror}.") from None
    except (ValueError, RecursionError) as exc:  # JSON, UTF-8, huge numbers, deep nesting
        what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidInputError(not_json or f"{source}: not a JSON {kind} ({what}).") from None


def read_json_object(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """A JSON file holding an object; ``kind`` names the file in errors ("manifest", ...)."""
    source = Path(path)
    data = read_json(source, kind)
    if not isinstance(data, dict):
        raise InvalidInputError(f"{source}: not a custodes {kind}.")
    return data


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
