"""A small least-recently-used cache, owned by whoever makes it (a workspace), never global."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

from custodes._files import file_sha256

__all__ = ["LRU", "FileHashes"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``entries`` values; adding one more drops the least recently used.

    Safe to share between threads; a value being made is not locked (two
    threads may make the same one; the last stored wins).
    """

    def __init__(self, entries: int) -> None:
        if entries < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self.entries = entries
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        """The value of ``key`` (now the most recently used), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        """Store ``value``, dropping the least recently used entries beyond the bound."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value of ``key``, made and stored when it is not held."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        self.put(key, value)
        return value

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()


class FileHashes:
    """Files' SHA-256, computed again whenever a file's size, inode or modification time
    change; at most ``entries`` files remembered."""

    def __init__(self, entries: int = 256) -> None:
        self._hashes: LRU[tuple[str, int, int, int], str] = LRU(entries)

    def __len__(self) -> int:
        return len(self._hashes)

    def of(self, path: Path) -> str:
        """The SHA-256 of the file at ``path`` (hex)."""
        info = path.stat()
        key = (str(path.resolve()), info.st_size, info.st_mtime_ns, info.st_ino)
        return self._hashes.get_or_make(key, lambda: file_sha256(path))
