"""The day's clips, changed by hand from the Today and Recordings pages: move a clip up or down (the broadcast
order is the staff member's), delete a recording, replace it with a new take, and undo the last delete or
replace. Plain forms: each answers with a redirect back to its page, with what was done (or why the file of
a new take was refused) in a flash; a form that cannot be carried out otherwise (a clip that is gone, a move
during a build) gets the error page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from announcer.core.errors import AudioError
from announcer.web.controls import back_with_flash
from announcer.web.recordings import MAX_TEXT, import_upload
from announcer.web.site import Site, WebError, check_csrf, lang_of, parse_day
from announcer.web.today import CLIP_ID, builds, chosen_file

router = APIRouter(dependencies=[Depends(check_csrf)])

PAGES = {"today": ("/", "#clips"), "recordings": ("/recordings", "#recordings-table")}
STEPS = {"up": -1, "down": 1}


def _clip_id(form) -> str:
    clip_id = str(form.get("clip") or "")
    if not CLIP_ID.match(clip_id):
        raise WebError(f"没有这段音频（“{clip_id[:40]}”）。请刷新页面再试。",
                       f"there is no clip \"{clip_id[:40]}\"; reload the page and try again", status=404)
    return clip_id


def _back(request: Request, form, day, zh: str, en: str, kind: str = "ok") -> RedirectResponse:
    """Back to the page the form was on (Today unless it says Recordings), at the clips table."""
    path, anchor = PAGES.get(str(form.get("back") or ""), PAGES["today"])
    text = en if lang_of(request) == "en" else zh
    return RedirectResponse(back_with_flash(request, text, kind, back=f"{path}?date={day.isoformat()}") + anchor,
                            status_code=303)


@router.post("/clips/move")
async def move(request: Request):
    """Move a clip one place up or down in the day's order; refused while the day is being built."""
    from announcer.build.order import move_clip

    site: Site = request.app.state.site
    form = await request.form()
    day = parse_day(str(form.get("date") or ""), site)
    clip_id = _clip_id(form)
    step = STEPS.get(str(form.get("direction") or ""))
    if step is None:
        raise WebError("请用“上移”或“下移”按钮调整顺序。", "use the Move up or Move down button to change the order")
    running = builds(request).running()
    if running is not None and running.day == day:
        raise WebError("这一天的音频正在生成，现在不能调整顺序。请等生成完成后再试。",
                       "this day's clips are being built; change the order when the build has finished", status=409)
    entry, number = await run_in_threadpool(move_clip, day, site.out, clip_id, step)
    title = entry.get("title") or entry["id"]
    return _back(request, form, day, f"已把“{title}”移到第 {number} 段。电台、播放计划和U盘都按这个顺序。",
                 f"Moved \"{title}\" to place {number}. The station, the plan and the USB stick follow this order.")


@router.post("/clips/delete")
async def delete(request: Request):
    """Delete a recording from the day (the page asked first); it can be put back with Undo."""
    from announcer.build.recording import delete_recording

    site: Site = request.app.state.site
    form = await request.form()
    day = parse_day(str(form.get("date") or ""), site)
    entry = await run_in_threadpool(delete_recording, day, site.out, _clip_id(form))
    title = entry.get("title") or entry["id"]
    return _back(request, form, day, f"已删除录音“{title}”，电台不会再播放它。点“撤销”可以恢复。",
                 f"Deleted the recording \"{title}\"; the station will not play it. Press Undo to put it back.")


@router.post("/clips/undo")
async def undo(request: Request):
    """Put back the recording last deleted, or the take last replaced."""
    from announcer.build.recording import undo_recording

    site: Site = request.app.state.site
    form = await request.form()
    day = parse_day(str(form.get("date") or ""), site)
    entry, number = await run_in_threadpool(undo_recording, day, site.out)
    title = entry.get("title") or entry["id"]
    return _back(request, form, day, f"已撤销：录音“{title}”恢复了，在第 {number} 段。",
                 f"Undone: the recording \"{title}\" is back, at place {number}.")


@router.post("/clips/replace")
async def replace(request: Request):
    """A new take of a recording: the upload goes through the same cleaning and takes the old one's id and
    place (no second copy); the old take is kept for Undo."""
    form = await request.form()
    try:
        return await _replace(request, form)
    finally:
        await form.close()      # the spooled copy of the upload goes now


async def _replace(request: Request, form):
    site: Site = request.app.state.site
    day = parse_day(str(form.get("date") or ""), site)
    clip_id = _clip_id(form)
    upload = chosen_file(form)
    if upload is None:
        raise WebError("请先选择新录音的文件，再点“替换”。", "choose the new recording's file first, then press Replace")
    text = str(form.get("text") or "").replace("\r\n", "\n").strip()[:MAX_TEXT]
    try:
        imported = await import_upload(site, upload, day, text=text or None, replaces=clip_id)
    except (AudioError, WebError) as error:      # the file itself: said where the staff member was; the old take stays
        zh, en = ("".join(p.message(lang) for p in error.problems) for lang in ("zh", "en"))
        return _back(request, form, day, f"没有替换：{zh}", f"Not replaced: {en}", kind="bad")
    if str(form.get("back") or "") == "recordings":      # the new take's measurements, as after an upload
        return RedirectResponse(f"/recordings?date={day.isoformat()}&added={clip_id}&replaced=1#recording-result",
                                status_code=303)
    title = imported.clip.get("title") or clip_id
    return _back(request, form, day, f"已换成新录音：“{title}”（第 {imported.number} 段），旧的那段可以点“撤销”换回来。",
                 f"Replaced with the new take: \"{title}\" (place {imported.number}); Undo puts the old one back.")
