"""The FastAPI application of ``custodes serve``: the API, the pages, and their guards."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from custodes._version import __version__
from custodes.errors import CustodesError
from custodes.server._core import SAFE_METHODS, Server, error_body, log, status_of
from custodes.settings import Settings

__all__ = ["create_app"]

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


_UPLOADS = frozenset({"/api/v1/catalog/datasets", "/api/v1/scan", "/api/v1/assess"})
_UPLOAD_LIMIT = 2 * 1024**3 + 1024**2
_BODY_LIMIT = 8 * 1024**2
_OPEN = frozenset({"/login", "/api/v1/session"})


class BodyGuard:
    """Before any body is read: an unsafe request (POST, PUT, DELETE) with a body must say
    its length (else 411), within the limit of its route (else 413: 2 GiB for an upload, 8 MiB
    otherwise), and come from someone logged in (else 401, or the login page), except a
    login. Nobody can fill the disk or the memory without an account."""

    def __init__(self, app: ASGIApp, server: Server) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"]
        length = request.headers.get("content-length")
        if length is None and "transfer-encoding" not in request.headers:
            length = "0"  # no body
        limit = _UPLOAD_LIMIT if path in _UPLOADS else _BODY_LIMIT
        refusal: Response | None = None
        if length is None or not length.isdigit():
            refusal = _refuse(path, 411, "say the body's length (Content-Length).")
        elif int(length) > limit:
            refusal = _refuse(path, 413, f"the body is larger than {limit // 1024**2:,} MiB.")
        elif path not in _OPEN and await run_in_threadpool(self.server.who, request) is None:
            if path.startswith("/api/"):
                refusal = _refuse(path, 401, "log in first (POST /api/v1/session), or send "
                                  "an API token (Authorization: Bearer ...).")  # fmt: skip
            else:
                refusal = RedirectResponse("/login", status_code=303)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, _capped(receive, int(length or 0)), send)


def _capped(receive: Receive, length: int) -> Receive:
    """``receive`` that ends the body once the announced length is read (a client that
    sends more is cut off there)."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            if seen + len(body) > length:
                message = {"type": "http.request", "body": body[: length - seen],
                           "more_body": False}  # fmt: skip
            seen += len(message.get("body", b""))
        return message

    return capped


def _refuse(path: str, status: int, message: str) -> Response:
    if path.startswith("/api/"):
        return JSONResponse({"error": "http", "message": message}, status_code=status)
    return Response(message, status_code=status, media_type="text/plain; charset=utf-8")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _validation(errors: list[Any]) -> list[dict[str, Any]]:
    """Validation errors without the input they refused (it may be personal data)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in errors
    ]


def create_app(
    settings: Settings,
    *,
    secure_cookies: bool = True,
    idle: float = 1800.0,
    lifetime: float = 8 * 3600.0,
    login_attempts: int = 5,
) -> FastAPI:
    """The application over the workspace of ``settings``.

    ``secure_cookies`` marks the session cookie ``Secure`` (browsers send it over
    HTTPS and to localhost only); ``idle`` and ``lifetime`` end sessions (seconds);
    ``login_attempts`` failed logins per name or address lock logins for 15 minutes.
    """
    from custodes.server import _api, _api_access, _api_tables, _console, _pages

    server = Server(
        settings,
        secure_cookies=secure_cookies,
        idle=idle,
        lifetime=lifetime,
        login_attempts=login_attempts,
    )
    app = FastAPI(
        title="custodes",
        version=__version__,
        description="Share, sell or publish public data without leaking privacy, with a "
        "ledger an auditor can verify. Log in with POST /api/v1/session (a cookie and a "
        "CSRF token for X-CSRF-Token) or send an API token as Authorization: Bearer.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive pages load scripts from a CDN: none is served
        redoc_url=None,
        lifespan=_closing(server),
    )
    app.state.server = server
    app.add_middleware(BodyGuard, server=server)
    app.include_router(_api.router)
    app.include_router(_api_access.router)
    app.include_router(_api_tables.router)
    app.include_router(_pages.router)
    app.include_router(_console.router)
    app.mount("/static", StaticFiles(packages=[("custodes.server", "static")]), name="static")

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        # The access log: method, path and status; never the query string (it may hold
        # values) nor a body.
        log.info(
            "%s %s %d %.1f ms",
            request.method,
            request.url.path[:200],
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    @app.exception_handler(CustodesError)
    async def library_error(request: Request, exc: CustodesError) -> Response:
        status = status_of(exc)
        if status == 500:
            return _internal(request, exc)
        if _is_api(request):
            return JSONResponse(error_body(exc), status_code=status)
        return _pages.error_page(request, status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"error": "http", "message": str(exc.detail)},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        if exc.status_code == 401:
            return RedirectResponse(_pages.login_url(request), status_code=303)
        return _pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"error": "invalid_input", "message": "the request is not valid.",
                 "details": _validation(list(exc.errors()))},
                status_code=422,
            )  # fmt: skip
        return _pages.error_page(request, 422, "the form is not complete or not valid.")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        return _internal(request, exc)

    return app


def _closing(server: Server) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        server.close()

    return lifespan


def _internal(request: Request, exc: BaseException) -> Response:
    """An unexpected failure: a reference the log names, no message (it may quote data)."""
    reference = secrets.token_hex(6)
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = "" if frame is None else f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}"
    log.error("internal error %s: %s at %s", reference, type(exc).__name__, where)
    message = f"an internal error (reference {reference} in the server's log)."
    if _is_api(request):
        return JSONResponse({"error": "internal", "message": message}, status_code=500)
    from custodes.server._pages import error_page

    return error_page(request, 500, message)


logging.getLogger("custodes.server").addHandler(logging.NullHandler())
