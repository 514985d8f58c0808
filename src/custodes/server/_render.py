"""How pages are made: the templates, the language, who is logged in, and messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from custodes.errors import CustodesError
from custodes.server._core import LANG_COOKIE, Caller, Server
from custodes.server._i18n import Texts, pick_locale
from custodes.server._svg import bar_chart, gauge, risk_charts

__all__ = [
    "Posted",
    "act",
    "error_page",
    "form_caller",
    "logged_in",
    "login_url",
    "page",
    "page_caller",
    "posted_by",
    "server_of",
]

T = TypeVar("T")
_ENV = Environment(
    loader=PackageLoader("custodes.server", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(bar_chart=bar_chart, gauge=gauge, risk_charts=risk_charts)


def server_of(request: Request) -> Server:
    """The server answering ``request``."""
    server: Server = request.app.state.server
    return server


def texts(request: Request, caller: Caller | None = None) -> Texts:
    """The texts in the language of the page: the session's, else the cookie's, else zh."""
    if caller is not None and caller.session is not None:
        return Texts(caller.session.locale)
    return Texts(pick_locale(request.cookies.get(LANG_COOKIE)))


def login_url(request: Request) -> str:
    """The login page, coming back to the page asked for."""
    return "/login?next=" + quote(request.url.path, safe="/")


def page_caller(request: Request) -> Caller | None:
    """Who views a page (None: nobody logged in)."""
    return server_of(request).caller(request)


def logged_in(request: Request) -> Caller:
    """Who views a page; nobody logged in is sent to the login page (the app answers a 401
    of a page with it)."""
    caller = page_caller(request)
    if caller is None:
        raise HTTPException(401, "log in first.")
    return caller


def posted_by(request: Request, form: Mapping[str, Any]) -> Caller:
    """Who posts ``form`` (its CSRF token checked); nobody logged in is sent to log in."""
    caller = form_caller(request, form)
    if caller is None:
        raise HTTPException(401, "log in first.")
    return caller


async def _posted(request: Request) -> Mapping[str, Any]:
    """A form's fields, read before the route runs (in a worker thread: it blocks)."""
    return await request.form()


Posted = Annotated[Mapping[str, Any], Depends(_posted)]
"""A posted form: the routes that take it are plain functions, run in worker threads, so
that hashing a password or preparing a release never holds up the server's event loop."""


def form_caller(request: Request, form: Mapping[str, Any]) -> Caller | None:
    """Who posts ``form`` (its CSRF token checked)."""
    csrf = form.get("csrf")
    return server_of(request).caller(request, csrf if isinstance(csrf, str) else None)


def page(
    request: Request, template: str, caller: Caller | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """The page ``template`` for ``caller``, with its messages (shown once)."""
    t = texts(request, caller)
    notes: list[str] = []
    if caller is not None and caller.session is not None:
        notes, caller.session.notes[:] = list(caller.session.notes), []
    html = _ENV.get_template(template).render(
        t=t,
        lang=t.lang,
        who=None if caller is None else caller.actor,
        csrf=None if caller is None or caller.session is None else caller.session.csrf,
        path=request.url.path,
        notes=notes,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error as a page (the message names the setting or the step, never a value)."""
    try:
        caller = page_caller(request)
    except Exception:  # a CSRF failure: show the page without the session
        caller = None
    return page(request, "error.html", caller, status=status, status_code=status, message=message)


def act(caller: Caller, back: str, job: Callable[[], T], done: str | None = None) -> Response:
    """Run a form's ``job``; its outcome (or the library's refusal) is shown on ``back``."""
    t = Texts(caller.session.locale if caller.session is not None else "zh")
    try:
        job()
    except CustodesError as exc:
        note = f"✗ {t('error:' + exc.code)}: {exc.message}"
    else:
        note = f"✓ {t(done)}" if done else "✓"
    if caller.session is not None:
        caller.session.notes.append(note)
    return RedirectResponse(back, status_code=303)
