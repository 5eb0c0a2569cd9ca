"""The page's application: every request's guards (Host, Origin, size, login, session, CSRF), its error
pages, and the pages' routers put together."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from announcer.core.errors import AnnouncerError, ConfigError, use_language
from announcer.web import clips, controls, district, login, playlog, preview, recordings, schedule, today, usb
from announcer.web.security import LOGIN_COOKIE, SESSION_COOKIE, UNSAFE, host_allowed, same_origin
from announcer.web.site import (HERE, Site, WebError, error_response, form_error, http_error, internal_error, lang_of,
                                log, too_big, wants_json)


def create_app(site: Site) -> FastAPI:
    app = FastAPI(title="announcer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.site = site
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        request.state.lang = _language(request, site)
        use_language(request.state.lang)   # this request's task (and the threads it starts) only
        if not host_allowed(request, site.host):
            address = f"http://127.0.0.1:{site.port}"
            return _plain(request, 400, f"地址不对：请在本机用 {address} 打开本页面。",
                          f"wrong Host header; open the page as {address}")
        if request.method in UNSAFE:
            length = request.headers.get("content-length")
            if length is None and request.headers.get("transfer-encoding"):
                return _plain(request, 411, "请求必须带 Content-Length。", "a request body needs a Content-Length")
            if length is not None and (not length.isdigit() or int(length) > site.upload_limit()):
                big = too_big(site.upload_limit())
                return _plain(request, 413, big.zh, big.en)
            if not same_origin(request):
                return _plain(request, 403, "请求来自别的网站，已拒绝。", "refused: the request came from another site")
        session = request.cookies.get(SESSION_COOKIE) or ""
        fresh = not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", session)
        if fresh:
            session = site.guard.new_session()
        request.state.session = session
        request.state.csrf = site.guard.csrf_token(session)
        public = request.url.path.startswith("/static/") or request.url.path in ("/login", "/lang")
        if not public and not site.guard.logged_in(session, request.cookies.get(LOGIN_COOKIE)):
            if request.method == "GET" and not wants_json(request):
                response = RedirectResponse("/login", status_code=303)
            else:
                response = _plain(request, 401, "请先登录。", "log in first")
        else:
            try:
                response = await call_next(request)
            except Exception:
                log.exception(f"{request.method} {request.url.path}")
                response = await run_in_threadpool(_internal, request)
        if fresh:
            # Lax: a link from another app keeps the session; POSTs still need the CSRF token and Origin.
            response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    # An error page is rendered in a worker thread: its status strip works out the plan and may ask the station.
    @app.exception_handler(AnnouncerError)
    async def announcer_error(request: Request, error: AnnouncerError):
        status = getattr(error, "status", 409 if isinstance(error, ConfigError) else 400)
        return await run_in_threadpool(error_response, request, error, status)

    @app.exception_handler(StarletteHTTPException)
    async def http_exception(request: Request, error: StarletteHTTPException):
        if error.status_code == 400 and isinstance(error.detail, str):
            said = form_error(error.detail, site.upload_limit())   # a form Starlette refused to read
        else:
            said = http_error(error.status_code)
        return await run_in_threadpool(error_response, request, said, said.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        fields = sorted({str(e["loc"][-1]) for e in error.errors() if e.get("loc")}) or ["?"]
        names = "、".join(fields), ", ".join(fields)
        said = WebError(f"请求里的“{names[0]}”缺少或不对。请刷新页面后再试。",
                        f"\"{names[1]}\" in the request is missing or not valid; reload the page and try again",
                        status=422)
        return await run_in_threadpool(error_response, request, said, 422)

    for module in (login, today, recordings, clips, schedule, playlog, usb, controls, preview, district):
        app.include_router(module.router)
    return app


def _language(request: Request, site: Site) -> str:
    chosen = request.cookies.get("lang")
    if chosen in ("zh", "en"):
        return chosen
    try:
        return site.config().language
    except AnnouncerError:
        return "zh"


def _internal(request: Request) -> Response:
    """The one line shown for a failure nobody foresaw (its traceback went to the log)."""
    error = internal_error()
    try:
        return error_response(request, error, 500)
    except Exception:
        log.exception("the error page failed")
        return _plain(request, 500, error.zh, error.en)


def _plain(request: Request, status: int, zh: str, en: str) -> Response:
    text = en if lang_of(request) == "en" else zh
    if wants_json(request):
        return JSONResponse({"ok": False, "errors": [text]}, status_code=status)
    return PlainTextResponse(text, status_code=status)
