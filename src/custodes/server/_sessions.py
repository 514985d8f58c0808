"""Sessions, CSRF tokens and the login rate limit, kept in the server's memory only.

A session id is 256 random bits in a ``Secure``, ``HttpOnly``, ``SameSite=Strict``
cookie; the server keeps only its SHA-256, with the actor, the key the login
unlocked, a CSRF token and two clocks: a session ends after ``idle`` without a
request, and after ``lifetime`` in any case. A restart ends every session (the
keys were never written down). Failed logins are counted per name and per
address; past the limit, logins wait.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from custodes.server._accounts import Unlocked

__all__ = ["LoginLimiter", "Session", "Sessions"]


@dataclass
class Session:
    """One logged-in browser."""

    who: Unlocked
    csrf: str
    started: float
    seen: float
    locale: str = "zh"
    notes: list[str] = field(default_factory=list)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class Sessions:
    """The open sessions (by the SHA-256 of their ids)."""

    def __init__(self, idle: float = 1800.0, lifetime: float = 8 * 3600.0) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._open: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, who: Unlocked, locale: str = "zh") -> tuple[str, Session]:
        """A new session for ``who``: its id (for the cookie) and the session."""
        session_id = secrets.token_urlsafe(32)
        now = time.monotonic()
        session = Session(who, secrets.token_urlsafe(32), now, now, locale)
        with self._lock:
            self._sweep(now)
            self._open[_digest(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of ``session_id`` (None: none, or it expired)."""
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._open.get(_digest(session_id))
            if session is None:
                return None
            if now - session.seen > self.idle or now - session.started > self.lifetime:
                del self._open[_digest(session_id)]
                return None
            session.seen = now
            return session

    def end(self, session_id: str | None) -> None:
        """Log out."""
        if session_id:
            with self._lock:
                self._open.pop(_digest(session_id), None)

    def end_actor(self, actor: str) -> None:
        """End every session of ``actor`` (a new password, a revoked key)."""
        with self._lock:
            for digest in [d for d, s in self._open.items() if s.who.actor == actor]:
                del self._open[digest]

    def _sweep(self, now: float) -> None:
        for digest in [
            d
            for d, s in self._open.items()
            if now - s.seen > self.idle or now - s.started > self.lifetime
        ]:
            del self._open[digest]

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        """Whether ``given`` is the session's CSRF token."""
        return given is not None and hmac.compare_digest(session.csrf, given)


class LoginLimiter:
    """Login attempts counted in ``window`` seconds, each before its password is checked
    (parallel guesses count too): at most ``attempts`` per name from one address, twice as
    many per name from anywhere, six times as many per address. Past a limit, logins of
    that name or address wait for the rest of the window; a success forgets its own
    attempt and the failures of that name from that address. Behind a proxy that hides the
    callers' addresses, a spray of wrong names locks only the address's unknown names first:
    a person's own limit (name and address) is the smallest."""

    def __init__(self, attempts: int = 5, window: float = 900.0) -> None:
        self.attempts = attempts
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, name: str, address: str) -> tuple[tuple[str, int], ...]:
        return (
            (f"p:{address}\x00{name}", self.attempts),
            (f"n:{name}", 2 * self.attempts),
            (f"a:{address}", 6 * self.attempts),
        )

    def _recent(self, key: str, now: float) -> deque[float]:
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        return seen

    def begin(self, name: str, address: str) -> float:
        """Count an attempt of ``name`` from ``address``: seconds to wait (0: go on, the
        attempt counted; else refused and not counted)."""
        now = time.monotonic()
        with self._lock:
            keys = self._keys(name, address)
            waits = [
                self.window - (now - seen[0])
                for key, limit in keys
                if len(seen := self._recent(key, now)) >= limit
            ]
            if waits:
                return max(max(waits), 1.0)
            for key, _ in keys:
                self._recent(key, now).append(now)
            if len(self._seen) > 100_000:  # bounded: the oldest keys go first
                for key in list(self._seen)[:50_000]:
                    del self._seen[key]
            return 0.0

    def succeeded(self, name: str, address: str) -> None:
        """The attempt went through: it is forgotten, with that name's failures from that
        address."""
        with self._lock:
            for key, _ in self._keys(name, address):
                seen = self._seen.get(key)
                if seen:
                    seen.pop()
            self._seen.pop(f"p:{address}\x00{name}", None)
