"""Logging in and out: the rate limit, the session cookie and its CSRF token."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response

from custodes.server._accounts import log_in
from custodes.server._core import COOKIE, LANG_COOKIE, Server
from custodes.server._i18n import pick_locale

__all__ = ["login_body", "logout", "set_lang"]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_body(
    srv: Server, request: Request, response: Response, actor: str, password: str, lang: str | None
) -> dict[str, Any]:
    """Log ``actor`` in: 429 while the name or the address waits, 403 when refused; on
    success the session cookie is set and the CSRF token answered."""
    address = _address(request)
    wait = srv.limiter.begin(actor, address)
    if wait > 0:
        raise HTTPException(
            429,
            "too many failed logins; wait and try again.",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    with srv.locked() as ws:
        store = ws.store
    who = log_in(store, actor, password)  # refused: the attempt stays counted
    srv.limiter.succeeded(actor, address)
    locale = pick_locale(lang or request.cookies.get(LANG_COOKIE))
    session_id, session = srv.sessions.start(who, locale)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(srv.sessions.lifetime),
        httponly=True,
        secure=srv.secure_cookies,
        samesite="strict",
        path="/",
    )
    return {"actor": who.actor, "csrf": session.csrf}


def logout(srv: Server, request: Request, response: Response) -> None:
    """End the session of ``request`` and clear its cookie."""
    srv.sessions.end(request.cookies.get(COOKIE))
    response.delete_cookie(COOKIE, path="/", secure=srv.secure_cookies, httponly=True)


def set_lang(response: Response, lang: str, secure: bool) -> str:
    """Remember the interface language in a cookie; the language chosen."""
    chosen = pick_locale(lang)
    response.set_cookie(
        LANG_COOKIE, chosen, max_age=365 * 86400, secure=secure, samesite="lax", path="/"
    )
    return chosen
