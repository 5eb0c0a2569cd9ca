"""The Recordings page: a staff member's phone recording → a clip at the end of the day, like `announcer import`."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from announcer.build.day import clip_warnings
from announcer.core.errors import AnnouncerError, LibraryError
from announcer.core.library import Library
from announcer.web.site import Site, check_csrf, lang_of, parse_day, render
from announcer.web.today import (CLIP_ID, builds, chosen_file, clip_rows, loudness_targets, relabel, save_limited, unit_name,
                                 upload_name, volume_verdict)

if TYPE_CHECKING:
    from announcer.build.recording import Imported

router = APIRouter(dependencies=[Depends(check_csrf)])

SIMPLE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
MAX_TITLE = 200
MAX_TEXT = 5000


def _page(request: Request, day, *, status: int = 200, result: dict | None = None, replaced: bool = False,
          errors: list[str] | None = None, title: str = "", text: str = ""):
    site: Site = request.app.state.site
    lang = lang_of(request)
    clips, clip_errors = clip_rows(site, day, lang, only_recordings=True)
    return render(request, "recordings.html", status=status, page="recordings", day=day, result=result,
                  replaced=replaced and result is not None, errors=errors or [], title=title, text=text,
                  clips=clips, clip_errors=clip_errors, job=builds(request).running())   # its moves wait for it


@router.get("/recordings")
def recordings_page(request: Request, date: str | None = None, added: str | None = None,
                    replaced: str | None = None):
    """The page; `added` names the recording just imported (or `replaced` by a new take), to show how it
    came out."""
    site: Site = request.app.state.site
    day = parse_day(date, site)
    result = _result(site, day, added, lang_of(request)) if added and CLIP_ID.match(added) else None
    return _page(request, day, result=result, replaced=bool(replaced))


def _result(site: Site, day, clip_id: str, lang: str) -> dict | None:
    try:
        manifest = Library(site.out).manifest(day) or {}
    except AnnouncerError:
        return None
    for number, clip in enumerate(manifest.get("clips", []), 1):
        if isinstance(clip, dict) and clip.get("id") == clip_id and clip.get("engine") == "recording":
            rate = clip.get("speech_rate") or {}
            targets = loudness_targets(site)
            return {**clip, "number": number, "pace": rate.get("value"), "pace_unit": unit_name(rate.get("unit"), lang),
                    "warnings": clip_warnings(clip, lang), "volume": volume_verdict(clip, targets)}
    return None


def upload_dir(out: Path) -> tempfile.TemporaryDirectory:
    """A temp folder inside --out, as `import_recording` uses: on the library's disk, not in /tmp (RAM on a Pi)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(dir=out, prefix=".upload-")
    except OSError as error:
        raise LibraryError(f"无法在 --out 文件夹里存放上传的录音（{error.strerror}）。请检查它是否可以写入。",
                           f"cannot keep the upload in the --out folder ({error.strerror}); check that it can be written",
                           str(out)) from None


async def import_upload(site: Site, upload: UploadFile, day, **options) -> Imported:
    """The upload streamed to a temp file in --out, cleaned and added to the day by `import_recording`
    (`options`: title, text, replaces); the temp files always go, and errors name the upload, not them."""
    from announcer.build.recording import import_recording

    name = upload_name(upload, "recording")
    suffix = PurePosixPath(name).suffix
    config = await run_in_threadpool(site.config)
    tmp = await run_in_threadpool(upload_dir, site.out)
    try:
        path = Path(tmp.name) / ("recording" + (suffix.lower() if SIMPLE_SUFFIX.match(suffix) else ""))
        await save_limited(upload, path, site.upload_limit())
        try:
            return await run_in_threadpool(import_recording, path, day, site.out, config, **options)
        except AnnouncerError as error:
            raise relabel(error, str(path), name) from None
    finally:
        await run_in_threadpool(tmp.cleanup)


@router.post("/recordings")
async def upload_recording(request: Request):
    """Stream the upload to a temp file, clean it and add it to the day; the temp files always go."""
    form = await request.form()
    try:
        return await _upload(request, form)
    finally:
        await form.close()      # the spooled copy of the upload goes now


async def _upload(request: Request, form):
    site: Site = request.app.state.site
    lang = lang_of(request)
    day = parse_day(str(form.get("date") or ""), site)
    title = " ".join(str(form.get("title") or "").split())[:MAX_TITLE]
    text = str(form.get("text") or "").replace("\r\n", "\n").strip()[:MAX_TEXT]
    upload = chosen_file(form)
    if upload is None:
        return await run_in_threadpool(_page, request, day, status=400, title=title, text=text, errors=[
            "Choose the recording file first." if lang == "en" else "请先选择录音文件。"])
    name = upload_name(upload, "recording")
    try:
        imported = await import_upload(site, upload, day, title=title or PurePosixPath(name).stem or None,
                                       text=text or None)
    except AnnouncerError as error:
        if getattr(error, "status", 400) == 413:
            raise
        return await run_in_threadpool(_page, request, day, status=400, title=title, text=text,
                                       errors=[p.message(lang) for p in error.problems])
    # Back to the page by a GET, so reloading it does not upload the recording again.
    return RedirectResponse(f"/recordings?date={day.isoformat()}&added={imported.clip['id']}", status_code=303)
