"""Play now and stop: POST /play, POST /stop, GET /status.

They go through `site.controls`, which the command serving the page sets
(announcer.station.by_hand.Controls): to the running station, or, without one,
to this process's own player. A form POST is
answered with a redirect (303) back to the page it came from (the form's `back`
field, else its Referer; only ever one of this site's pages), carrying a flash
message in signed query parameters (`flash`, `flash_kind`, `flash_sig`) that
`render` shows on any page. A refused request shows the error page. Requests
that accept JSON get `{"ok": ..., "message": ...}`.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from announcer.core.control import StationClient
from announcer.core.errors import AnnouncerError
from announcer.core.library import Library
from announcer.core.plan import in_quiet_hours, quiet_span
from announcer.web.site import (Site, WebError, check_csrf, error_response, flash_signature, lang_of, page_of,
                                parse_day, wants_json)
from announcer.web.status import title_of

router = APIRouter(dependencies=[Depends(check_csrf)])

LIMIT = 64 * 1024                      # largest /play request body
_lazy = threading.Lock()


def controls_of(site: Site):
    """The site's controls; a page made without them (tools) reaches the running station only."""
    if site.controls is None:
        with _lazy:
            if site.controls is None:
                site.controls = StationClient(site.out)
    return site.controls


@router.post("/play")
async def play(request: Request):
    """`broadcast` (a schedule name), or `date` and one or more `clip` ids of that day. In the station's quiet
    hours only with `quiet_ok` (the page asked first); without it the answer says so and nothing plays."""
    fields = await _fields(request)
    site: Site = request.app.state.site
    broadcast = fields.get("broadcast")
    clips = fields.get("clip") or []
    if bool(broadcast) == bool(clips):
        raise WebError("请选择要播放的广播，或者要播放的段落（二选一）。",
                       "choose a broadcast to play, or clips to play (one of the two)", status=400)
    day = None if broadcast else parse_day(fields.get("date"), site)
    quiet = await run_in_threadpool(_quiet_hours, site)     # it may read schedule.toml
    if quiet and not fields.get("quiet_ok"):
        return await _quiet_refusal(request, quiet)
    controls = controls_of(site)
    if broadcast:
        return await _do(request, controls.play_broadcast, broadcast)
    return await _do(request, controls.play_clips, day, clips, said=lambda text: _with_titles(site, day, clips, text))


@router.post("/stop")
async def stop(request: Request):
    return await _do(request, controls_of(request.app.state.site).stop)


@router.get("/status")
async def status(request: Request):
    site: Site = request.app.state.site
    controls = controls_of(site)
    lang = lang_of(request)
    try:
        reply = await run_in_threadpool(controls.status)
    except AnnouncerError as e:
        message = e.message(lang)
        return JSONResponse({"ok": False, "running": True, "message": message, "errors": [message]},
                            status_code=503)
    return JSONResponse({"ok": True, "running": bool(reply.data.get("station")), "message": reply.message(lang),
                         "on_air": reply.data.get("on_air"), "waiting": reply.data.get("waiting", [])})


async def _do(request: Request, action, *args, said=None):
    """Carry out a Controls call (it may wait on the station's socket, so in a worker thread) and answer;
    `said` may reword the answer (clip titles for ids)."""
    lang = lang_of(request)
    try:
        reply = await run_in_threadpool(action, *args)
    except AnnouncerError as e:
        if wants_json(request):
            message = e.message(lang)
            return JSONResponse({"ok": False, "message": message, "errors": [message]}, status_code=400)
        return await run_in_threadpool(error_response, request, e, 400)
    message = reply.message(lang)
    if said is not None:
        message = await run_in_threadpool(said, message)     # it may read the day's manifest
    if wants_json(request):
        return JSONResponse({"ok": True, "message": message})
    back = None
    if "form" in request.headers.get("content-type", ""):
        field = (await request.form()).get("back")
        back = field if isinstance(field, str) else None
    return RedirectResponse(back_with_flash(request, message, back=back), status_code=303)


async def _fields(request: Request) -> dict:
    """broadcast, date and clip (a list) from a form or a JSON body."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > LIMIT:
        raise WebError("请求太大。", "the request is too large", status=413)
    if "json" in request.headers.get("content-type", ""):
        body = await request.body()
        if len(body) > LIMIT:
            raise WebError("请求太大。", "the request is too large", status=413)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise WebError("请求不是有效的 JSON 对象。", "the request is not a JSON object", status=400)
        clips = data.get("clip", data.get("clips"))
        clips = [clips] if isinstance(clips, str) else clips
        if clips is not None and (not isinstance(clips, list) or not all(isinstance(c, str) for c in clips)):
            raise WebError("段落编号不对。", "the clip ids are not valid", status=400)
        fields = {"broadcast": data.get("broadcast"), "date": data.get("date"), "clip": clips,
                  "quiet_ok": _yes(data.get("quiet_ok"))}
        for key in ("broadcast", "date"):
            if fields[key] is not None and not isinstance(fields[key], str):
                raise WebError(f"“{key}”不对。", f"\"{key}\" is not valid", status=400)
        return fields
    form = await request.form()
    return {"broadcast": _one(form.get("broadcast")), "date": _one(form.get("date")),
            "clip": [c for c in form.getlist("clip") if isinstance(c, str) and c],
            "quiet_ok": _yes(form.get("quiet_ok"))}


def _yes(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"))


# --- quiet hours and titles ---------------------------------------------------------

def _quiet_hours(site: Site) -> str | None:
    """"21:30–07:00" when now is in the station's quiet hours, else None (also when the settings cannot be read:
    the play itself then says what is wrong)."""
    try:
        quiet = site.config().station.quiet_hours
        if quiet is not None and in_quiet_hours(quiet, site.now().time()):
            return quiet_span(quiet)
    except AnnouncerError:
        pass
    return None


async def _quiet_refusal(request: Request, hours: str):
    """Nothing played: it is quiet hours and the request did not confirm it (409). A form goes back to its page,
    whose play buttons now ask about quiet hours."""
    said = WebError(f"现在是静音时段（{hours}），没有播放：喇叭会打扰居民休息。如果确实要播放，请再点一次“播放”，"
                    "在确认框里点“确定”。",
                    f"it is quiet hours ({hours}), so nothing was played: the loudspeaker would disturb residents. "
                    "To play anyway, press Play again and confirm", status=409)
    message = said.message(lang_of(request))
    if wants_json(request):
        return JSONResponse({"ok": False, "quiet": True, "message": message, "errors": [message]}, status_code=409)
    back = (await request.form()).get("back") if "form" in request.headers.get("content-type", "") else None
    return RedirectResponse(back_with_flash(request, message, "warn", back if isinstance(back, str) else None),
                            status_code=303)


def _with_titles(site: Site, day, clip_ids: list[str], message: str) -> str:
    """The answer with the clips' titles where it names their ids (“a, b” as the station says it)."""
    try:
        found = Library(site.out).day(day)
    except AnnouncerError:
        return message
    if found is None:
        return message
    titles = [title_of(c, found[1]) for c in clip_ids]
    if titles == list(clip_ids):
        return message
    ids = ", ".join(clip_ids)
    for quoted, joint in ((f"「{ids}」", "、"), (f"\"{ids}\"", ", ")):
        if quoted in message:
            return message.replace(quoted, quoted[0] + joint.join(titles) + quoted[-1], 1)
    return message


def _one(value) -> str | None:
    return value if isinstance(value, str) and value else None


# --- the flash after a redirect ------------------------------------------------

def back_with_flash(request: Request, text: str, kind: str = "ok", back: str | None = None) -> str:
    """The page the request came from, with `text` to show as a flash. `back` (a path on this site), else
    the Referer when it is this site; a form's POST address goes to its page (/usb/plan → /usb), and
    anything else to /."""
    path, query = "/", ""
    if back is not None:
        wanted = urlsplit(back)
        if not wanted.scheme and not wanted.netloc:
            path, query = wanted.path, wanted.query
    else:
        referer = urlsplit(request.headers.get("referer", ""))
        if (not referer.netloc or referer.netloc == request.headers.get("host")) \
                and referer.scheme in ("", "http", "https"):
            path, query = referer.path, referer.query
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        path, query = "/", ""
    page = urlsplit(page_of(path, query))                # its query: a valid date at most
    kept = parse_qsl(page.query) + [("flash", text), ("flash_kind", kind),
                                    ("flash_sig", flash_signature(request, kind, text))]
    return f"{page.path}?{urlencode(kept)}"
