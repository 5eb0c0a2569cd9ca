"""The Recordings page: a staff member's phone recording → a clip at the end of the day, like `announcer import`."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from announcer.errors import AnnouncerError
from announcer.library import Library
from announcer.web.site import Site, check_csrf, lang_of, parse_day, render
from announcer.web.today import chosen_file, clip_rows, relabel, save_limited, upload_name

router = APIRouter(dependencies=[Depends(check_csrf)])

SIMPLE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
MAX_TITLE = 200
MAX_TEXT = 5000
CLIP_ID = re.compile(r"^[a-z0-9-]{1,80}$")


def _page(request: Request, day, *, status: int = 200, result: dict | None = None,
          errors: list[str] | None = None, title: str = "", text: str = "", **flash):
    site: Site = request.app.state.site
    lang = lang_of(request)
    clips, clip_errors = clip_rows(site, day, lang, only_recordings=True)
    return render(request, "recordings.html", status=status, page="recordings", day=day, result=result,
                  errors=errors or [], title=title, text=text, clips=clips, clip_errors=clip_errors, **flash)


@router.get("/recordings")
def recordings_page(request: Request, date: str | None = None, added: str | None = None):
    """The page; `added` names the recording just imported, to show how it came out."""
    from announcer.web.controls import flash_of

    site: Site = request.app.state.site
    day = parse_day(date, site)
    result = _result(site, day, added, lang_of(request)) if added and CLIP_ID.match(added) else None
    return _page(request, day, result=result, **flash_of(request))


def _result(site: Site, day, clip_id: str, lang: str) -> dict | None:
    from announcer.speakable import PACE_UNIT_NAMES

    try:
        manifest = Library(site.out).manifest(day) or {}
    except AnnouncerError:
        return None
    for number, clip in enumerate(manifest.get("clips", []), 1):
        if isinstance(clip, dict) and clip.get("id") == clip_id and clip.get("engine") == "recording":
            rate = clip.get("speech_rate") or {}
            unit = rate.get("unit") or ""
            zh_unit, en_unit = PACE_UNIT_NAMES.get(unit, (unit, unit))
            return {**clip, "number": number, "pace": rate.get("value"),
                    "pace_unit": en_unit if lang == "en" else zh_unit}
    return None


@router.post("/recordings")
async def upload_recording(request: Request):
    """Stream the upload to a temp file, clean it and add it to the day; the temp file always goes."""
    from announcer.recording import import_recording

    site: Site = request.app.state.site
    lang = lang_of(request)
    form = await request.form()
    day = parse_day(str(form.get("date") or ""), site)
    title = " ".join(str(form.get("title") or "").split())[:MAX_TITLE]
    text = str(form.get("text") or "").replace("\r\n", "\n").strip()[:MAX_TEXT]
    upload = chosen_file(form)
    if upload is None:
        return _page(request, day, status=400, title=title, text=text, errors=[
            "Choose the recording file first." if lang == "en" else "请先选择录音文件。"])
    name = upload_name(upload, "recording")
    suffix = PurePosixPath(name).suffix
    config = site.config()
    try:
        with tempfile.TemporaryDirectory(prefix="announcer-upload-") as tmp:
            path = Path(tmp) / ("recording" + (suffix.lower() if SIMPLE_SUFFIX.match(suffix) else ""))
            await save_limited(upload, path, site.upload_limit())
            try:
                imported = await run_in_threadpool(
                    import_recording, path, day, site.out, config,
                    title=title or PurePosixPath(name).stem or None, text=text or None)
            except AnnouncerError as error:
                raise relabel(error, str(path), name) from None
    except AnnouncerError as error:
        if getattr(error, "status", 400) == 413:
            raise
        return _page(request, day, status=400, title=title, text=text,
                     errors=[p.message(lang) for p in error.problems])
    # Back to the page by a GET, so reloading it does not upload the recording again.
    return RedirectResponse(f"/recordings?date={day.isoformat()}&added={imported.clip['id']}", status_code=303)
