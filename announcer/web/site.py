"""What every page shares: the Site (settings, library, guard), the app factory, templates, errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from announcer.config import Config, find_config, load_config
from announcer.errors import AnnouncerError, ConfigError, use_language
from announcer.web.security import LOGIN_COOKIE, SESSION_COOKIE, UNSAFE, Guard, host_allowed, is_loopback, load_secret, same_origin

HERE = Path(__file__).parent
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class WebError(AnnouncerError):
    """A request the page cannot carry out; `status` is the HTTP status it answers with."""

    def __init__(self, zh: str, en: str, where: str | None = None, status: int = 400):
        super().__init__(zh, en, where)
        self.status = status


def refuse_start(host: str, config: Config) -> None:
    """Listening beyond this computer needs a [web] token: without one anybody on the network could play
    anything on the loudspeaker."""
    if not is_loopback(host) and not config.web.token:
        raise WebError(
            f"网页要在 {host} 上开放给其他设备，必须先在 schedule.toml 的 [web] 里设置 token（至少 12 个字符），"
            "否则同一网络里的任何人都能控制喇叭。只在本机使用请去掉 --host。",
            f"to open the page to other devices on {host}, set a token (at least 12 characters) under [web] in "
            "schedule.toml first; without it anybody on the network could control the loudspeaker. "
            "Leave out --host to use it on this computer only", str(config.path or "schedule.toml"))


@dataclass
class Site:
    """The running page's settings. The config is read again on each request (the schedule may change)."""
    config_path: Path | None
    out: Path
    host: str = "127.0.0.1"
    port: int = 8080
    controls: Any = None          # announcer.control.Controls: play now / stop (set by serve / run --web)
    clock: Any = None             # () -> aware datetime, for tests; None: the station's zone now
    _guard: Guard | None = field(default=None, repr=False)

    def config(self) -> Config:
        return load_config(find_config(self.config_path) if self.config_path else find_config(None))

    @property
    def guard(self) -> Guard:
        """The token follows schedule.toml, but is never dropped while the server runs: removing it
        from the file must not open a page that listens on the network."""
        try:
            token = self.config().web.token
        except AnnouncerError:
            token = None
        if self._guard is None:
            self._guard = Guard(load_secret(self.out), token)
        elif token:
            self._guard.token = token
        return self._guard

    def now(self) -> datetime:
        if self.clock is not None:
            return self.clock()
        from announcer.plan import station_zone

        return datetime.now(station_zone(self.config().station))

    def today(self) -> date:
        return self.now().date()

    def upload_limit(self) -> int:
        try:
            return int(self.config().web.upload_limit_mb * 1_000_000)
        except AnnouncerError:
            return 50_000_000


def parse_day(text: str | None, site: Site) -> date:
    """A date from a request (YYYY-MM-DD), or today; anything else is refused before it can name a path."""
    if not text:
        return site.today()
    try:
        if not DAY_PATTERN.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise WebError(f"“{text[:20]}”不是日期，请写成 2026-11-30 这样。",
                       f"\"{text[:20]}\" is not a date; write it like 2026-11-30", status=400) from None


def lang_of(request: Request) -> str:
    return getattr(request.state, "lang", "zh")


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A page, in the request's language, with what every page needs (csrf, lang, nav, site)."""
    site: Site = request.app.state.site
    lang = lang_of(request)
    context.update(request=request, lang=lang, csrf=request.state.csrf, site=site,
                   T=lambda zh, en: en if lang == "en" else zh, station_running=_station_running(site))
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status)


def _station_running(site: Site) -> bool:
    try:
        return bool(site.controls and site.controls.station_running())
    except Exception:
        return False


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or request.headers.get("x-requested-with") == "fetch"


def error_response(request: Request, error: AnnouncerError, status: int = 400) -> Response:
    lang = lang_of(request)
    problems = [p.message(lang) for p in error.problems]
    if wants_json(request):
        return JSONResponse({"ok": False, "errors": problems}, status_code=status)
    return render(request, "error.html", status=status, problems=problems)


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
            return PlainTextResponse("wrong Host header; open the page as http://127.0.0.1", status_code=400)
        if request.method in UNSAFE:
            length = request.headers.get("content-length")
            if length is None and request.headers.get("transfer-encoding"):
                return _plain(request, 411, "请求必须带 Content-Length。", "a request body needs a Content-Length")
            if length is not None and (not length.isdigit() or int(length) > site.upload_limit()):
                limit = site.upload_limit() / 1e6
                return _plain(request, 413, f"上传的内容太大：最多 {limit:g} MB。请把文件缩小或拆开后再上传。",
                              f"the upload is too big: at most {limit:g} MB; make the file smaller or split it")
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
            response = await call_next(request)
        if fresh:
            response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.exception_handler(AnnouncerError)
    async def announcer_error(request: Request, error: AnnouncerError):
        status = getattr(error, "status", 409 if isinstance(error, ConfigError) else 400)
        return error_response(request, error, status)

    from announcer.web import controls, login, playlog, recordings, schedule, today, usb

    for module in (login, today, recordings, schedule, playlog, usb, controls):
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


def _plain(request: Request, status: int, zh: str, en: str) -> Response:
    text = en if lang_of(request) == "en" else zh
    if wants_json(request):
        return JSONResponse({"ok": False, "errors": [text]}, status_code=status)
    return PlainTextResponse(text, status_code=status)


async def check_csrf(request: Request) -> None:
    """Dependency on every router: a POST must carry the session's CSRF token."""
    if request.method not in UNSAFE:
        return
    offered = request.headers.get("x-csrf-token")
    if offered is None and "form" in request.headers.get("content-type", ""):
        offered = (await request.form()).get("csrf")
    if not request.app.state.site.guard.csrf_ok(request.state.session, offered if isinstance(offered, str) else None):
        raise WebError("页面已过期或请求不是从本页面发出的，请刷新页面后再试。",
                       "the page has expired or the request did not come from it; reload the page and try again",
                       status=403)
