"""What every route of the server shares: the workspace, who calls, and errors.

The server holds no policy: each route hands the caller's name and unlocked
key to the workspace facade (``ws.governance(actor, key=...)``), and the
library decides what the caller may do. Library calls are serialized by one
lock: the store and the ledger see one writer at a time, as from the CLI.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import HTTPException, Request

from custodes.errors import (
    CustodesError,
    ForbiddenError,
    InvalidInputError,
    RefusedError,
    TamperedError,
    UnsupportedError,
)
from custodes.server._accounts import Unlocked, account_stamp, token_log_in
from custodes.server._sessions import LoginLimiter, Session, Sessions
from custodes.settings import Settings
from custodes.workspace import Workspace

if TYPE_CHECKING:
    from custodes.dp import PrivateQueries
    from custodes.governance import Governance

__all__ = ["COOKIE", "Caller", "Server", "status_of"]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
COOKIE = "custodes_session"
LANG_COOKIE = "custodes_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger("custodes.server")


class Bounded(OrderedDict[K, V]):
    """A dict that forgets its oldest entries past ``size``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass(frozen=True)
class Caller:
    """Who calls: a logged-in browser (``session``) or an API token (no session)."""

    who: Unlocked
    session: Session | None

    @property
    def actor(self) -> str:
        """The actor's name."""
        return self.who.actor


def status_of(exc: CustodesError) -> int:
    """The HTTP status of a library error."""
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, RefusedError):
        return 409
    if isinstance(exc, TamperedError):
        return 409
    if isinstance(exc, InvalidInputError | UnsupportedError):
        return 400
    return 500


class Server:
    """One server over one workspace."""

    def __init__(
        self,
        settings: Settings,
        *,
        secure_cookies: bool = True,
        idle: float = 1800.0,
        lifetime: float = 8 * 3600.0,
        login_attempts: int = 5,
    ) -> None:
        self.settings = settings
        self.workspace = Workspace(settings)
        self.workspace.passphrase = lambda _path: None  # keys come from logins only
        self.sessions = Sessions(idle, lifetime)
        self.limiter = LoginLimiter(login_attempts)
        self.secure_cookies = secure_cookies
        self._lock = threading.RLock()
        self.plans: Bounded[str, str] = Bounded(256)
        """The plan last edited per request (a plan holds no data)."""
        self.previews: Bounded[tuple[str, str], dict[str, Any]] = Bounded(64)
        """The last preview per steward and request."""
        self._assessed: Bounded[str, dict[str, Any]] = Bounded(16)
        self.results: Bounded[str, dict[str, Any]] = Bounded(256)
        """The DP console's last estimate or answer per actor, shown once after its form."""

    @contextmanager
    def locked(self) -> Iterator[Workspace]:
        """The workspace, for one caller at a time."""
        with self._lock:
            yield self.workspace

    def governed(self, caller: Caller, job: Callable[[Governance], T]) -> T:
        """Run ``job`` with governance acting as the caller, signed with the caller's key."""
        with self.locked() as ws:
            return job(ws.governance(caller.actor, key=caller.who.key))

    def queried(self, caller: Caller, job: Callable[[PrivateQueries], T]) -> T:
        """Run ``job`` with DP queries asked by the caller."""
        with self.locked() as ws, ws.queries(caller.actor, key=caller.who.key) as access:
            return job(access)

    def assessed(self, caller: Caller, data: Mapping[str, Any]) -> dict[str, Any]:
        """The risk of a dataset version (``data``, as the catalog gives it) under its roles,
        kept per content and roles, and shown to the staff roles only, who the library
        lets assess."""
        from custodes.governance import FULL_VIEW

        self.governed(caller, lambda g: g.require(*FULL_VIEW))
        name, version = data["name"], data["version"]
        key = f"{name}\x00{data['content_sha256']}\x00{sorted(data['roles'].items())!r}"
        found = self._assessed.get(key)
        if found is None:
            found = self.governed(caller, lambda g: g.assess_dataset(name, version))
            self._assessed[key] = found
        return found

    def ledger_checked(self, caller: Caller) -> tuple[list[str], Any, list[Any]]:
        """The workspace's ledger checked as an auditor would (an auditor or an admin): the
        problems found (none: verified), the newest signed head (None: none) and the
        witnessed heads the ledger keeps."""
        self.governed(caller, lambda g: g.require("auditor", "admin"))
        with self.locked() as ws:
            problems = ws.check_ledger()
            heads = ws.signed_heads()
            witnessed = ws.witnessed_heads()
        return problems, heads[-1] if heads else None, witnessed

    def close(self) -> None:
        """Close the workspace."""
        self.workspace.close()

    # --- who calls -----------------------------------------------------------------

    def who(self, request: Request) -> Caller | None:
        """Who sends ``request`` (None: nobody logged in): a valid token in an
        ``Authorization: Bearer`` header, else a live session cookie whose password is
        still the one it logged in with. No CSRF check: see :meth:`caller`."""
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            try:
                with self.locked() as ws:
                    return Caller(token_log_in(ws.store, header[7:].strip()), None)
            except ForbiddenError:
                return None
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            return None
        with self.locked() as ws:
            current = account_stamp(ws.store, session.who.actor)
        if current != session.who.stamp:  # a new password (or none): the session ends
            self.sessions.end_actor(session.who.actor)
            return None
        return Caller(session.who, session)

    def caller(self, request: Request, form_csrf: str | None = None) -> Caller | None:
        """The caller of ``request`` (:meth:`who`); a cookie's unsafe request must carry
        the session's CSRF token (header ``X-CSRF-Token`` or the form's ``csrf`` field),
        else it is refused (403)."""
        found = self.who(request)
        if found is not None and found.session is not None and request.method not in SAFE_METHODS:
            given = request.headers.get("x-csrf-token") or form_csrf
            if not Sessions.csrf_ok(found.session, given):
                raise HTTPException(403, "the CSRF token is missing or wrong; reload the page.")
        return found


def error_body(exc: CustodesError) -> dict[str, str]:
    """A library error as the API answers it: its code and message (never a value: the
    library's messages name columns and settings, not data)."""
    return {"error": exc.code, "message": exc.message}
