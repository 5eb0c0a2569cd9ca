"""What every page shares: the Site (settings, library, guard), rendering, errors (the app: app.py)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from announcer.core.config import Config, find_config, load_config
from announcer.core.errors import AnnouncerError
from announcer.core.plan import duration_words
from announcer.web import status as status_strip
from announcer.web.security import (LOGIN_COOKIE, UNSAFE, Guard, is_loopback,
                                    load_secret)

HERE = Path(__file__).parent
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
TEXT_LIMIT = 2_000_000        # bytes: the largest text field of a form (a day's notices are a few KB)
SETTLED_NS = 2_000_000_000     # a settings file is cached once unchanged this long (mtime ticks are coarse)
GET_PAGES = ("/", "/recordings", "/schedule", "/log", "/usb", "/district")
PAGE_OF_POST = {"/usb/plan": "/usb", "/usb/export": "/usb", "/schedule/add": "/schedule",
                "/district/publish": "/district", "/district/urgent": "/district"}
FLASH_KEYS = ("flash", "flash_kind", "flash_sig")
KINDS = ("ok", "warn", "bad")
log = logging.getLogger("announcer.web")


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
    controls: Any = None          # play now / stop: announcer.station.by_hand.Controls (set by serve / run --web)
    clock: Any = None             # () -> aware datetime, for tests; None: the station's zone now
    district: Path | None = None      # the office's district.toml: the District page (None: no such page)
    broker_dir: Path | None = None    # the folder `announcer office init` wrote (office.password, office.sqlite)
    _guard: Guard | None = field(default=None, repr=False)
    _cached: tuple | None = field(default=None, repr=False)      # (file key, Config)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def config(self) -> Config:
        """The settings, parsed again only when the file changed (its inode, mtime or size): the middleware
        and the route ask several times a request."""
        path = find_config(self.config_path) if self.config_path else find_config(None)
        if path is None:
            return load_config(None)
        try:
            info = path.stat()
        except OSError:
            return load_config(path)          # says what is wrong with it
        key = (str(path), info.st_ino, info.st_mtime_ns, info.st_size)
        with self._cache_lock:
            cached = self._cached
        if cached is not None and cached[0] == key:
            found = cached[1]
        else:
            found = load_config(path)     # a problem is not kept: it may lie in another file (the chime)
            if time.time_ns() - info.st_mtime_ns > SETTLED_NS:   # a file written this instant may change
                with self._cache_lock:                           # again within the same mtime tick
                    self._cached = (key, found)
        return found

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
        from announcer.core.plan import station_zone

        return datetime.now(station_zone(self.config().station))

    def today(self) -> date:
        return self.now().date()

    def upload_limit(self) -> int:
        try:
            return int(self.config().web.upload_limit_mb * 1_000_000)
        except AnnouncerError:
            return 50_000_000

    def text_limit(self) -> int:
        """The largest text a form may carry, pasted notices included (held in memory)."""
        return min(self.upload_limit(), TEXT_LIMIT)


def parse_day(text: str | None, site: Site) -> date:
    """A date from a request (YYYY-MM-DD, 2000 to 2099), or today; anything else is refused before it can
    name a path."""
    if not text:
        return site.today()
    try:
        if not DAY_PATTERN.match(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise WebError(f"“{text[:20]}”不是日期，请写成 2026-11-30 这样。",
                       f"\"{text[:20]}\" is not a date; write it like 2026-11-30", status=400) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise WebError(f"日期 {text} 超出范围：请选 {FIRST_DAY} 到 {LAST_DAY} 之间的日期。",
                       f"{text} is out of range: choose a date from {FIRST_DAY} to {LAST_DAY}", status=400)
    return day


def page_of(path: str, query: str = "") -> str:
    """The page to go back to from `path` (a page, or a form's POST address that has no page of its own),
    keeping a valid ?date=; never anywhere but one of this site's pages."""
    if path in GET_PAGES:
        page = path
    else:
        page = PAGE_OF_POST.get(path, "/")       # /notices…, /play, /stop, /build: the Today page
    day = dict(parse_qsl(query)).get("date", "")
    return f"{page}?{urlencode({'date': day})}" if DAY_PATTERN.match(day) else page


def here(request: Request, day: Any = None) -> str:
    """This page as a place to come back to (the language switch, Stop); a page answering a POST names its
    GET page, with the day it showed."""
    query = request.url.query
    if request.method != "GET" and isinstance(day, date):
        query = urlencode({"date": day.isoformat()})
    return page_of(request.url.path, query)


def lang_of(request: Request) -> str:
    return getattr(request.state, "lang", "zh")


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A page, in the request's language, with what every page needs (csrf, lang, nav, site). Without a
    `flash` of the caller's, the signed flash in the address (what Play now or Stop said) is shown."""
    site: Site = request.app.state.site
    lang = lang_of(request)
    if not context.get("flash"):
        context.update(flash_of(request))
    strip = _strip(request, site)
    context.update(request=request, lang=lang, csrf=request.state.csrf, site=site,
                   here=here(request, context.get("day")), T=lambda zh, en: en if lang == "en" else zh,
                   station_running=strip.running if strip else _station_running(site), status=strip,
                   quiet_now=bool(strip and strip.quiet), quiet_hours=strip.quiet_hours if strip else "",
                   air_time=lambda seconds: duration_words(seconds)[lang == "en"],
                   listen_choices=lambda day: status_strip.listen_choices(site, day),
                   has_chime=lambda: status_strip.has_chime(site))
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status)


def _strip(request: Request, site: Site) -> status_strip.Strip | None:
    """The status strip, for a logged-in staff member only (an error page may be shown before the login)."""
    try:
        if not site.guard.logged_in(getattr(request.state, "session", ""), request.cookies.get(LOGIN_COOKIE)):
            return None
        return status_strip.strip(site, lang_of(request))
    except Exception:
        log.exception("status strip")
        return None


def flash_of(request: Request) -> dict:
    """{"flash": text, "flash_kind": kind} when the address carries a flash signed for this session, else {}
    (a link made elsewhere cannot put words on the page)."""
    text, kind, sig = (request.query_params.get(k) for k in FLASH_KEYS)
    kind = kind or "ok"
    if not text or kind not in KINDS or not sig or not hmac.compare_digest(sig, flash_signature(request, kind, text)):
        return {}
    return {"flash": text, "flash_kind": kind}


def flash_signature(request: Request, kind: str, text: str) -> str:
    guard = request.app.state.site.guard
    message = f"flash:{request.state.session}:{kind}:{text}".encode()
    return hmac.new(guard.secret, message, hashlib.sha256).hexdigest()[:32]


def _station_running(site: Site) -> bool:
    try:
        return bool(site.controls and site.controls.station_running())
    except Exception:
        return False


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or request.headers.get("x-requested-with") == "fetch"


def error_response(request: Request, error: AnnouncerError, status: int = 400,
                   headers: dict | None = None) -> Response:
    lang = lang_of(request)
    problems = [p.message(lang) for p in error.problems]
    if wants_json(request):
        response = JSONResponse({"ok": False, "errors": problems}, status_code=status)
    else:
        response = render(request, "error.html", status=status, problems=problems)
    response.headers.update(headers or {})
    return response


def too_big(limit: int) -> WebError:
    mb = f"{round(limit / 1e6, 1):g}"
    return WebError(f"上传的内容太大：最多 {mb} MB。请把文件缩小或拆开后再上传。",
                    f"the upload is too big: at most {mb} MB; make the file smaller or split it", status=413)


def notices_too_big(limit: int) -> WebError:
    mb = f"{round(limit / 1e6, 1):g}"
    return WebError(f"通知内容太大：最多 {mb} MB。一天的通知一般只有几 KB，请确认选对了文件。",
                    f"the notices are too big: at most {mb} MB; a day's notices are a few KB, "
                    "so check that this is the right file", status=413)


def form_error(detail: str, limit: int) -> WebError:
    """A form Starlette could not read (its own English words), said for the page. A field over its size
    limit names the limit it met: `limit`, or the 1 MB of the routes with declared Form fields."""
    if "maximum size" in detail:
        size = re.search(r"(\d+)\s*KB", detail)
        return too_big(int(size.group(1)) * 1024 if size else limit)
    return WebError("无法读取提交的表单（内容不完整或太多）。请刷新页面后再试。",
                    "the form could not be read (incomplete, or too many fields); reload the page and try again")


def http_error(status: int) -> WebError:
    if status == 404:
        return WebError("找不到这个页面。请用上面的菜单打开要用的页面。",
                        "there is no such page; use the menu above to open the page you need", status=404)
    if status == 405:
        return WebError("这个地址不能这样打开。请用上面的菜单回到页面。",
                        "this address cannot be opened this way; use the menu above to go back to the page",
                        status=405)
    return WebError(f"请求被拒绝（HTTP {status}）。请刷新页面后再试。",
                    f"the request was refused (HTTP {status}); reload the page and try again", status=status)


def internal_error() -> WebError:
    return WebError("内部错误：页面出了问题，没能完成这一步。请记下时间并告诉维护人员；电台的日志里有详细信息。",
                    "internal error: the page failed to do this; please report it with the time "
                    "(the server's log has the details)", status=500)


async def check_csrf(request: Request) -> None:
    """Dependency on every router: a POST must carry the session's CSRF token."""
    if request.method not in UNSAFE:
        return
    offered = request.headers.get("x-csrf-token")
    if "form" in request.headers.get("content-type", ""):
        # Read here first: a text field (held in memory) up to TEXT_LIMIT, where Starlette's own is 1 MB;
        # files go to disk whatever this is. The route's request.form() gets this same parsed form.
        limit = request.app.state.site.text_limit()
        try:
            form = await request.form(max_part_size=limit)
        except StarletteHTTPException as error:
            detail = str(error.detail)
            raise (notices_too_big(limit) if "maximum size" in detail else form_error(detail, limit)) from None
        if offered is None:
            offered = form.get("csrf")
    if not request.app.state.site.guard.csrf_ok(request.state.session, offered if isinstance(offered, str) else None):
        raise WebError("页面已过期或请求不是从本页面发出的，请刷新页面后再试。",
                       "the page has expired or the request did not come from it; reload the page and try again",
                       status=403)
