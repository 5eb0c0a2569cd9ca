"""The Today page: the day's notices → check → build → the clarity table, and the day's clips for the page.

The day's notices are kept in `<out>/.notices/<date>.toml` (`[[notice]]` tables,
as in examples/notices.toml). Anything pasted or uploaded is read by the same
code as the `check` and `build` commands, so the same input gets the same
one-line errors, and bad input writes nothing. New notices are added to the
saved ones unless a confirmed "replace" is asked for; the last save, edit or
delete can be undone until Build is pressed (`<date>.undo.json` beside them).
A build runs in a background thread, one at a time per site; the page polls
its progress, and hides the day's clips until it is done.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import secrets
import tempfile
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from announcer.build.district import URGENT_TAG, office_notices, with_office
from announcer.build.notices import MAX_A_DAY, Notice, read_notices, too_many_error
from announcer.core.errors import AnnouncerError, LibraryError, shorten
from announcer.core.library import Library, atomic_write
from announcer.web.site import (Site, WebError, check_csrf, form_error, lang_of, notices_too_big, parse_day,
                                render)


KEEP_PASTE = 2       # a paste up to this many times the notices' limit is refused with the text kept


async def read_notices_form(request: Request) -> None:
    """Saving notices reads its form first, with text fields up to twice the notices' limit (not the 2 MB
    every other form has): a paste over the limit is then answered on the Today page, the text kept. A paste
    larger still is not read (nor echoed back): the route answers on the page without it."""
    if request.method == "POST" and request.url.path == "/notices" and "form" in request.headers.get(
            "content-type", ""):
        site: Site = request.app.state.site
        limit = min(site.upload_limit(), KEEP_PASTE * site.text_limit())
        if "urlencoded" in request.headers.get("content-type", ""):
            limit *= 3                  # counted as sent: percent-encoding takes up to 3 bytes a byte
        try:
            await request.form(max_part_size=limit)     # kept by the request: check_csrf gets the same form
        except StarletteHTTPException as error:
            detail = str(error.detail)
            if "maximum size" not in detail:
                raise form_error(detail, limit) from None
            request.state.paste_too_big = True          # nothing is written: no CSRF token was needed
            return
    await check_csrf(request)


router = APIRouter(dependencies=[Depends(read_notices_form)])

NOTICES_DIR = ".notices"
CLIP_ID = re.compile(r"^[a-z0-9-]{1,80}$")     # a notice's or a clip's id, as day.unique_id makes them
JOB_ID = re.compile(r"^[0-9a-f]{16}$")
MEDIA_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav"}
CHUNK = 1 << 16
KEEP_JOBS = 20

# ?msg= after a redirect → (zh, en) flash; "{n}" is the number of stored notices.
MESSAGES = {
    "saved": ("已保存 {n} 条通知。请先看下面的检查结果，再点“生成音频”。",
              "Saved {n} notices. Look at the check below, then press Build."),
    "added": ("已加在已保存的通知后面，现在共 {n} 条。请先看下面的检查结果，再点“生成音频”。",
              "Added to the saved notices: {n} in all now. Look at the check below, then press Build."),
    "undone": ("已撤销，通知恢复成原来的样子，正在重新生成（没改的通知直接沿用）。",
               "Undone: the notices are as they were; building again (unchanged notices are reused)."),
    "undone-unbuilt": ("已撤销，通知恢复成原来的样子。", "Undone: the notices are as they were."),
    "undone-withdrawing": ("已撤销。这一天已经没有要播的通知，正在撤下它的通知音频…",
                           "Undone. No notice is left for this day, so its notice clips are being withdrawn…"),
    "edited": ("已保存修改，正在重新生成（没改的通知直接沿用）。", "Saved the change; building again (unchanged notices are reused)."),
    "deleted": ("已删除这条通知，正在重新生成。", "Deleted the notice; building again."),
    "withdrawing": ("已删除这条通知。这一天已经没有要播的通知，正在撤下它的通知音频…",
                    "Deleted the notice. No notice is left for this day, so its notice clips are being withdrawn…"),
    "deleted-unbuilt": ("已删除这条通知。这一天没有已生成的通知音频，不需要撤下什么。",
                        "Deleted the notice. No notice clips are built for this day, so there is nothing to withdraw."),
    "busy": ("已保存。另一个生成任务正在进行，等它完成后请再点“生成音频”。",
             "Saved. Another build is running; press Build again when it has finished."),
    "busy-withdraw": ("已删除这条通知。另一个生成任务正在进行，这一天的通知音频还没有撤下，电台仍会播放。等它完成后请点“生成音频”把它们撤下。",
                      "Deleted the notice. Another build is running, so this day's notice clips are not withdrawn yet "
                      "and the station would still play them; press Build when it has finished to withdraw them."),
}
WARNINGS = {"busy", "busy-withdraw", "withdrawing", "undone-withdrawing"}     # the messages shown as a warning
UNDO_SUFFIX = ".undo.json"      # beside the day's notices: how they were before the last save, edit or delete


# ---------------------------------------------------------------------------
# The day's notices on disk

def notices_path(out: Path, day: date) -> Path:
    return Path(out) / NOTICES_DIR / f"{day.isoformat()}.toml"


def notices_label(day: date) -> str:
    """How the stored file is named in messages (never the full path)."""
    return f"{NOTICES_DIR}/{day.isoformat()}.toml"


def stored_notices(out: Path, day: date) -> list[Notice]:
    """The day's saved notices ([] when none), read like a notices file given to the commands."""
    path = notices_path(out, day)
    if not path.is_file():
        return []
    try:
        notices = read_notices([path])
    except AnnouncerError as error:
        raise relabel(error, str(path), notices_label(day)) from None
    return [replace(n, source=notices_label(day)) for n in notices]


def parse_notices(data: bytes, suffix: str, label: str) -> list[Notice]:
    """Notices from the bytes of a pasted text or uploaded file, through `read_notices` exactly as the
    commands read a file; `suffix` (".txt" or ".toml") picks the format. Errors name `label`, not the temp file."""
    with tempfile.TemporaryDirectory(prefix="announcer-notices-") as tmp:
        path = Path(tmp) / f"notices{suffix}"
        path.write_bytes(data)
        try:
            notices = read_notices([path])
        except AnnouncerError as error:
            raise relabel(error, str(path), label) from None
    return [replace(n, source=label) for n in notices]


def relabel(error: AnnouncerError, old: str, new: str) -> AnnouncerError:
    """Say `new` wherever the messages would name the (temporary) path `old`."""
    olds = sorted({old, str(Path(old).resolve())}, key=len, reverse=True)
    for problem in {id(p): p for p in [error, *error.problems]}.values():
        for name in olds:
            problem.zh, problem.en = problem.zh.replace(name, new), problem.en.replace(name, new)
            if problem.where:
                problem.where = problem.where.replace(name, new)
    return error


def notices_toml(notices: list[Notice]) -> bytes:
    import tomli_w

    tables = []
    for n in notices:
        entry = {"id": n.id, "title": n.title, "text": n.text, "language": n.language, "repeat": n.repeat,
                 "valid_from": n.valid_from, "valid_until": n.valid_until, "tags": list(n.tags) or None}
        tables.append("[[notice]]\n" + tomli_w.dumps({k: v for k, v in entry.items() if v is not None}))
    return "\n".join(tables).encode("utf-8")


_notices_lock = threading.Lock()   # one read-change-write of a day's notices at a time


def write_notices(out: Path, day: date, notices: list[Notice]) -> list[Notice]:
    """Store `notices` as the day's (none: remove the file). What is written is read back first, so the
    stored file always reads; returns the notices as stored."""
    path = notices_path(out, day)
    if not notices:
        path.unlink(missing_ok=True)
        return []
    data = notices_toml(notices)
    stored = parse_notices(data, ".toml", notices_label(day))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LibraryError(f"无法创建文件夹（{error.strerror}）。请检查 --out 文件夹是否可以写入。",
                           f"cannot make the folder ({error.strerror}); check that the --out folder can be written",
                           str(path.parent)) from None
    atomic_write(path, data)
    return stored


# ---------------------------------------------------------------------------
# Undo: the day's notices file as it was before the last save, edit or delete

def undo_path(out: Path, day: date) -> Path:
    return Path(out) / NOTICES_DIR / f"{day.isoformat()}{UNDO_SUFFIX}"


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _file_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def change_notices(out: Path, day: date, notices: list[Notice], action: str, title: str | None = None
                   ) -> list[Notice]:
    """`write_notices`, keeping the file as it was for one undo (`action`: "save", "edit" or "delete";
    `title`: the notice edited or deleted). Call it holding _notices_lock."""
    path = notices_path(out, day)
    before = _file_bytes(path)
    built = notice_clips(out, day) > 0       # then undo builds the day again (a delete may have withdrawn it)
    stored = write_notices(out, day, notices)
    record = {"action": action, "title": title, "before": None if before is None else before.decode("utf-8"),
              "after": _digest(_file_bytes(path)), "built": built}
    atomic_write(undo_path(out, day), json.dumps(record, ensure_ascii=False).encode("utf-8"))
    return stored


def pending_undo(out: Path, day: date) -> dict | None:
    """What the Undo button would take back ({"action", "title", ...}), or None: nothing, or the notices
    changed since in another way (another tab, the file edited by hand)."""
    try:
        record = json.loads(undo_path(out, day).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("action") not in UNDO_LABELS:
        return None
    if record.get("after") != _digest(_file_bytes(notices_path(out, day))):
        return None
    return record


def forget_undo(out: Path, day: date) -> None:
    undo_path(out, day).unlink(missing_ok=True)


def undo_label(record: dict, lang: str) -> str:
    """The Undo button's words: what it takes back."""
    (zh, en), (zh_of, en_of) = UNDO_LABELS[record["action"]]
    title = str(record.get("title") or "")[:40]
    if title:
        zh, en = zh_of.format(title=title), en_of.format(title=title)
    return en if lang == "en" else zh


UNDO_LABELS = {     # action → (words, words naming the notice)
    "save": (("撤销上一次保存", "Undo the last save"),) * 2,
    "edit": (("撤销上一次修改", "Undo the last edit"), ("撤销对“{title}”的修改", "Undo the edit of “{title}”")),
    "delete": (("撤销删除", "Undo the delete"), ("撤销删除“{title}”", "Undo deleting “{title}”")),
}


def _merge(existing: list[Notice], added: list[Notice]) -> list[Notice]:
    """`added` after `existing`, an id already taken getting -2, -3..."""
    from announcer.build.day import unique_id

    taken = {n.id for n in existing}
    out = list(existing)
    for notice in added:
        ident = unique_id(notice.id, taken)
        taken.add(ident)
        out.append(replace(notice, id=ident))
    return out


# ---------------------------------------------------------------------------
# Uploads

def too_big(limit: int) -> WebError:
    mb = limit / 1e6
    return WebError(f"上传的内容太大：最多 {mb:g} MB。请把文件缩小或拆开后再上传。",
                    f"the upload is too big: at most {mb:g} MB; make the file smaller or split it", status=413)


async def read_limited(upload: UploadFile, limit: int, refuse=too_big) -> bytes:
    """The upload's bytes, refusing (`refuse(limit)`) more than `limit` while reading."""
    parts, size = [], 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise refuse(limit)
        parts.append(chunk)
    return b"".join(parts)


async def save_limited(upload: UploadFile, path: Path, limit: int) -> int:
    """Copy the upload to `path` chunk by chunk, refusing more than `limit`; returns the size.
    The copy runs in a worker thread, off the event loop."""
    return await run_in_threadpool(_copy_limited, upload.file, path, limit)


def _copy_limited(source, path: Path, limit: int) -> int:
    size = 0
    with open(path, "wb") as target:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_big(limit)
            target.write(chunk)
    return size


def upload_name(upload: UploadFile, fallback: str) -> str:
    """The uploaded file's own name, for messages: no folders, no control characters, not too long."""
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:80] or fallback


def chosen_file(form, name: str = "file") -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


# ---------------------------------------------------------------------------
# Builds in the background

@dataclass
class BuildJob:
    id: str
    day: date
    total: int
    withdraw: bool = False          # no notice left for the day: take its notice clips out, keep recordings
    done: int = 0
    finished: bool = False
    ok: bool = False
    rendered: int = 0
    reused: int = 0
    withdrawn: int = 0              # notice clips taken out (a withdraw)
    kept: int = 0                   # recordings left in the day (a withdraw)
    errors: list[AnnouncerError] = field(default_factory=list)
    internal: str | None = None     # an unexpected failure, as "Type: message"
    stage: dict = field(default_factory=dict)   # within a clip: {"stage": "loading"} or the sentence being spoken
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def step(self, notice, cached) -> None:
        with self._lock:             # called from the build's two worker threads
            self.done = min(self.done + 1, self.total)

    def detail(self, stage) -> None:
        """build_day's finer progress (announcer.build.day.Stage): the voice loading, a notice's sentences."""
        with self._lock:
            self.stage = {"stage": stage.kind, "clip": stage.clip, "sentence": stage.sentence,
                          "sentences": stage.sentences, "title": stage.title}

    def stage_text(self, lang: str) -> str:
        """What the build is doing within a clip, in words ("" when nothing finer is known)."""
        with self._lock:
            stage = dict(self.stage)
        if stage.get("stage") == "loading":
            return "loading the voice…" if lang == "en" else "正在加载语音…"
        if stage.get("stage") == "speaking" and stage.get("sentences"):
            clip, sentence, sentences = stage["clip"], stage["sentence"], stage["sentences"]
            return (f"speaking clip {clip}: sentence {sentence} of {sentences}" if lang == "en"
                    else f"正在生成第 {clip} 段：第 {sentence}/{sentences} 句")
        return ""

    def messages(self, lang: str) -> list[str]:
        out = [p.message(lang) for e in self.errors for p in e.problems]
        if self.internal:
            out.append(f"内部错误：{self.internal}。请把这行发给维护人员。" if lang != "en"
                       else f"internal error: {self.internal}; please report this line")
        return out

    def to_json(self, lang: str) -> dict:
        return {"job": self.id, "day": self.day.isoformat(), "done": self.done, "total": self.total,
                "finished": self.finished, "ok": self.ok, "rendered": self.rendered, "reused": self.reused,
                "withdraw": self.withdraw, "withdrawn": self.withdrawn, "kept": self.kept,
                "stage": dict(self.stage), "stage_text": self.stage_text(lang) if not self.finished else "",
                "errors": self.messages(lang)}

    def outcome(self, lang: str) -> tuple[str, str]:
        """How a finished, successful job ended, for the page's flash: (text, kind)."""
        if not self.withdraw:
            return (f"Built {self.total} clips: {self.rendered} rendered, {self.reused} from the cache." if lang == "en"
                    else f"生成完成：共 {self.total} 段，新生成 {self.rendered} 段，沿用缓存 {self.reused} 段。"), "ok"
        if lang == "en":
            kept = (f"The {self.kept} recording(s) added by hand stay and will be played." if self.kept
                    else "Nothing is left to play that day.")
            return (f"No notice is left for {self.day}: its {self.withdrawn} notice clip(s) were withdrawn, "
                    f"and the station will not play them. {kept}"), "warn"
        kept = f"另外加入的 {self.kept} 段录音保留，照常播放。" if self.kept else "这一天没有要播的音频了。"
        return f"{self.day} 已经没有通知：已撤下 {self.withdrawn} 段通知音频，电台不会再播放它们。{kept}", "warn"


class Builds:
    """The site's builds: at most one running; the last few kept so the page can show how they ended."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs: OrderedDict[str, BuildJob] = OrderedDict()

    def running(self) -> BuildJob | None:
        with self.lock:
            return next((j for j in self.jobs.values() if not j.finished), None)

    def get(self, job_id: str) -> BuildJob | None:
        with self.lock:
            return self.jobs.get(job_id)

    def start(self, notices: list[Notice], day: date, out: Path, config, engine=None) -> BuildJob:
        with self.lock:
            busy = next((j for j in self.jobs.values() if not j.finished), None)
            if busy is not None:
                raise WebError(f"正在生成 {busy.day} 的音频，请等它完成后再试。",
                               f"a build for {busy.day} is already running; wait until it has finished", status=409)
            total = sum(n.valid_on(day) for n in notices)
            job = BuildJob(secrets.token_hex(8), day, total=total, withdraw=total == 0)
            self.jobs[job.id] = job
            while len(self.jobs) > KEEP_JOBS:
                self.jobs.popitem(last=False)
        context = contextvars.copy_context()    # the page's language, for the clips' warnings
        threading.Thread(target=context.run, args=(self._run, job, notices, out, config, engine),
                         name=f"build-{day}", daemon=True).start()
        return job

    @staticmethod
    def _run(job: BuildJob, notices, out, config, engine) -> None:
        from announcer.build.day import build_day, withdraw_notices

        try:
            if job.withdraw:
                gone = withdraw_notices(job.day, out)
                job.withdrawn, job.kept, job.ok = gone.withdrawn, gone.kept, True
                return
            result = build_day(notices, job.day, out, config, engine=engine, progress=job.step, detail=job.detail)
            job.rendered, job.reused, job.done, job.ok = result.rendered, result.reused, job.total, True
        except AnnouncerError as error:
            job.errors = [error]
        except Exception as error:     # shown on the page, not lost in a thread
            job.internal = f"{type(error).__name__}: {error}"
        finally:
            job.finished = True


_builds_lock = threading.Lock()


def builds(request: Request) -> Builds:
    state = request.app.state
    with _builds_lock:
        found = getattr(state, "today_builds", None)
        if found is None:
            found = state.today_builds = Builds()
    return found


def notice_clips(out: Path, day: date) -> int:
    """How many clips made from notices the day has (not imported recordings); 0 when not built or unreadable."""
    try:
        manifest = Library(out).manifest(day) or {}
    except AnnouncerError:
        return 0
    return sum(1 for c in manifest.get("clips", []) if isinstance(c, dict) and c.get("engine") != "recording")


def start_build(request: Request, day: date) -> BuildJob:
    """Build the day from its saved notices and the office's (a district station's); with none valid that day,
    withdraw the notice clips built before."""
    site: Site = request.app.state.site
    notices = with_office(stored_notices(site.out, day), site.out, day)
    if not any(n.valid_on(day) for n in notices):
        if not notice_clips(site.out, day):
            if notices:
                raise WebError(f"保存的通知在 {day} 都不在有效日期内（valid_from / valid_until），没有要生成的。",
                               f"no notice saved for {day} is valid on that day (see valid_from / valid_until); "
                               "there is nothing to build")
            raise WebError(f"{day} 还没有保存通知。请先粘贴或上传通知并保存。",
                           f"no notices are saved for {day}; paste or upload them and save first")
        return builds(request).start([], day, site.out, None)
    config = site.config()
    return builds(request).start(notices, day, site.out, config, getattr(request.app.state, "engine", None))


# ---------------------------------------------------------------------------
# The page

def unit_name(unit: str | None, lang: str) -> str:
    """A speech rate's unit as the page says it."""
    from announcer.build.speakable import PACE_UNIT_NAMES

    if not unit:
        return ""
    zh, en = PACE_UNIT_NAMES.get(unit, (unit, unit))
    return en if lang == "en" else zh


class ClipRows(list):
    """The clarity table's rows, and what the recordings' undo button would put back (None: nothing)."""
    undo: dict | None = None


def clip_rows(site: Site, day: date, lang: str, only_recordings: bool = False) -> tuple[ClipRows | None, list[str]]:
    """The clarity table's rows for the day (None: not built yet) and any problem reading it."""
    from concurrent.futures import ThreadPoolExecutor

    from announcer.build.day import clip_warnings
    from announcer.build.recording import last_undo
    from announcer.web.waveform import wave_of, wave_svg

    try:
        found = Library(site.out).day(day)
    except AnnouncerError as error:
        return None, [p.message(lang) for p in error.problems]
    if found is None:
        return None, []
    folder, manifest = found
    clips = [c for c in manifest.get("clips", []) if isinstance(c, dict) and isinstance(c.get("file"), str)]
    numbered = [(n, c) for n, c in enumerate(clips, 1) if not only_recordings or c.get("engine") == "recording"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        waves = list(pool.map(lambda c: wave_of(folder / c["file"]), [c for _, c in numbered]))
    rows = ClipRows()
    targets = loudness_targets(site)
    for (number, clip), wave in zip(numbered, waves):
        rate = clip.get("speech_rate") or {}
        title = clip.get("title") or clip.get("id") or clip["file"]
        rows.append({
            "number": number, "last": number == len(clips), "id": clip.get("id", ""), "title": title,
            "file": clip["file"], "volume": volume_verdict(clip, targets),
            "text": clip.get("text") or "", "recording": clip.get("engine") == "recording",
            "tags": [str(t) for t in clip.get("tags") or []],
            "duration": clip.get("duration_s"), "lufs": clip.get("loudness_lufs"),
            "peak": clip.get("true_peak_dbtp"), "pace": rate.get("value"),
            "pace_unit": unit_name(rate.get("unit"), lang), "warnings": clip_warnings(clip, lang),
            "version": str(clip.get("sha256") or "")[:12],
            "wave": wave_svg(wave, f"{title}: {'波形与响度' if lang != 'en' else 'waveform and loudness'}"),
        })
    undo = last_undo(site.out, day)
    if undo is not None:
        rows.undo = {"action": undo["action"], "title": undo["entry"].get("title") or undo["entry"]["id"]}
    return rows, []


def loudness_targets(site: Site) -> tuple[float, float] | None:
    try:
        audio = site.config().audio
    except AnnouncerError:
        return None
    return audio.loudness_lufs, audio.true_peak_dbtp


def volume_verdict(clip: dict, targets: tuple[float, float] | None) -> str | None:
    """How a clip's loudness compares with [audio]'s targets: "ok", "quiet", "loud" or "peak" (the true peak
    over its ceiling); None when it cannot be told. Within the build's tolerance is on target."""
    from announcer.build.day import LOUDNESS_TOLERANCE_LU

    lufs, peak = clip.get("loudness_lufs"), clip.get("true_peak_dbtp")
    if targets is None or not isinstance(lufs, (int, float)) or not isinstance(peak, (int, float)):
        return None
    target, ceiling = targets
    if peak > ceiling + 0.05:
        return "peak"
    if lufs < target - LOUDNESS_TOLERANCE_LU:
        return "quiet"
    if lufs > target + LOUDNESS_TOLERANCE_LU:
        return "loud"
    return "ok"


def _page(request: Request, day: date, *, status: int = 200, flash: str | None = None, flash_kind: str = "ok",
          notice_errors: list[str] | None = None, draft: str = "", job: BuildJob | None = None,
          replacing: bool = False):
    from announcer.build.check import check_notices

    site: Site = request.app.state.site
    lang = lang_of(request)
    stored_errors: list[str] = []
    findings = []
    try:
        notices = stored_notices(site.out, day)
    except AnnouncerError as error:
        notices, stored_errors = [], [p.message(lang) for p in error.problems]
    config_errors: list[str] = []
    targets = None
    try:
        config = site.config()
        targets = (config.audio.loudness_lufs, config.audio.true_peak_dbtp)
        findings = check_notices(notices, config.speech) if notices else []
    except AnnouncerError as error:
        config_errors = [p.message(lang) for p in error.problems]
    # While the day is being built (or withdrawn) its clips are not shown: they may be gone the next moment.
    # Asked again after reading them, for a build started meanwhile (another tab, an edit's rebuild).
    clips, clip_errors, rebuilding = None, [], True
    running = builds(request).running()
    if running is None or running.day != day:
        clips, clip_errors = clip_rows(site, day, lang)
        running = builds(request).running()
        rebuilding = running is not None and running.day == day
        if rebuilding:
            clips, clip_errors = None, []
    if rebuilding:
        job = running
    elif job is not None and job.day != day:
        job = None
    build_errors = job.messages(lang) if job is not None and job.finished and not job.ok else []
    if job is not None and job.finished and job.ok and (flash is None or job.withdraw):
        flash, flash_kind = job.outcome(lang)      # a withdraw says what is off the air, whatever led to it
    valid = {n.id: n.valid_on(day) for n in notices}
    office = office_notices(site.out, day)        # a district station's: built with the day, shown by its clips
    # Clips of notices that are gone: the station would still play them until the day is built (withdrawn).
    stale = bool(clips) and not any(valid.values()) and not office and any(not c["recording"] for c in clips)
    # Clips made from other notices (a command-line build of the day, or notices saved since): said on the page.
    # Compared whatever their order: the broadcast order is the staff member's to choose. An urgent notice the
    # office sent is spoken into the day on its own, not from notices.
    built = Counter(c["text"] for c in clips or [] if not c["recording"] and URGENT_TAG not in c["tags"])
    wanted = Counter(n.text for n in notices if valid[n.id]) + Counter(n.text for n in office)
    differs = bool(built) and bool(wanted) and built != wanted
    undo = pending_undo(site.out, day)
    return render(
        request, "today.html", status=status, page="today", flash=flash, flash_kind=flash_kind, day=day,
        is_today=day == site.today(), notices=notices, valid=valid, stale=stale, differs=differs,
        can_build=bool(notices) or bool(office) or stale,
        findings=findings, stored_errors=stored_errors, config_errors=config_errors,
        notice_errors=notice_errors or [], draft=draft, clips=clips, clip_errors=clip_errors, targets=targets,
        job=job if job is not None and not job.finished else None, build_errors=build_errors,
        rebuilding=rebuilding, other_build=running if running is not None and running.day != day else None,
        undo_label=undo_label(undo, lang) if undo else None, text_limit=site.text_limit(),
        max_notices=MAX_A_DAY, replacing=replacing)


@router.get("/")
def today_page(request: Request, date: str | None = None, job: str | None = None, msg: str | None = None):
    site: Site = request.app.state.site
    day = parse_day(date, site)
    lang = lang_of(request)
    found = builds(request).get(job) if job and JOB_ID.match(job) else None
    flash, kind = None, "warn" if msg in WARNINGS else "ok"
    if msg in MESSAGES:
        zh, en = MESSAGES[msg]
        count = 0
        if msg in ("saved", "added"):
            try:
                count = len(stored_notices(site.out, day))
            except AnnouncerError:
                pass
        flash = (en if lang == "en" else zh).replace("{n}", str(count))
    return _page(request, day, flash=flash, flash_kind=kind, job=found)


def _back(day: date, **params) -> RedirectResponse:
    query = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return RedirectResponse(f"/?date={day.isoformat()}" + (f"&{query}" if query else ""), status_code=303)


@router.post("/notices")
async def save_notices(request: Request):
    """Paste (`text`) or upload (`file`) the day's notices. `mode` "add" (the default) puts them after the
    ones already saved; "replace" takes their place, only with `confirm` = how many saved notices it
    replaces (the page asks first). Whatever is refused is said on the form, the pasted text kept."""
    site: Site = request.app.state.site
    if getattr(request.state, "paste_too_big", False):
        day = parse_day(request.query_params.get("date"), site)
        return await _refuse_save(request, day, [paste_too_big(site.text_limit()).message(lang_of(request))], "",
                                  413)
    form = await request.form()
    try:
        return await _save_notices(request, site, form, site.text_limit())
    finally:
        await form.close()      # an uploaded file's spooled copy goes now


def paste_too_big(limit: int, kept: bool = False) -> WebError:
    mb = f"{round(limit / 1e6, 1):g}"
    more = ("文字还在框里：请删去多余的内容，或分几天保存。", "the text is still in the box: remove what is not needed, "
            "or save it over several days") if kept else \
        ("内容太大，没能留在框里。请只复制当天的通知再粘贴。", "it was too big to keep in the box; copy only the day's "
         "notices and paste them again")
    return WebError(f"粘贴的通知太大：最多 {mb} MB，没有保存。一天的通知一般只有几 KB。{more[0]}",
                    f"the pasted notices are too big: at most {mb} MB, and nothing was saved (a day's notices are "
                    f"a few KB); {more[1]}", status=413)


def _refuse_save(request: Request, day: date, problems: list[str], draft: str, status: int = 400,
                 replacing: bool = False):
    """The Today page with what was refused, the text kept and the choice (add or replace) as it was."""
    return run_in_threadpool(_page, request, day, status=status, draft=draft, notice_errors=problems,
                             replacing=replacing)


async def _save_notices(request: Request, site: Site, form, limit: int):
    day = parse_day(str(form.get("date") or ""), site)
    lang = lang_of(request)
    text = str(form.get("text") or "") if not isinstance(form.get("text"), UploadFile) else ""
    replacing = form.get("mode") == "replace"
    upload = chosen_file(form)
    try:
        if upload is not None:
            name = upload_name(upload, "notices.txt")
            data = await read_limited(upload, limit, notices_too_big)
            suffix = ".toml" if name.lower().endswith(".toml") else ".txt"
            label = name
        elif text.strip():
            data, suffix = text.encode("utf-8"), ".txt"
            label = "pasted text" if lang == "en" else "粘贴的通知"
            if len(data) > limit:
                raise paste_too_big(limit, kept=True)
        else:
            return await _refuse_save(request, day, [
                "Paste the notices into the box, or choose a file." if lang == "en"
                else "请把通知粘贴到框里，或选择一个文件。"], text, replacing=replacing)
        added = await run_in_threadpool(parse_notices, data, suffix, label)

        def store() -> bool:
            """Stores the notices; whether they were added to others."""
            with _notices_lock:
                existing = stored_notices(site.out, day)
                if replacing and existing and str(form.get("confirm") or "") != str(len(existing)):
                    raise replace_unconfirmed(len(existing), str(form.get("confirm") or ""))
                notices = _merge([] if replacing else existing, added)
                if len(notices) > MAX_A_DAY:
                    raise too_many_error(len(notices), day)
                change_notices(site.out, day, notices, "save")
                return bool(existing) and not replacing

        added_to_others = await run_in_threadpool(store)
    except AnnouncerError as error:
        return await _refuse_save(request, day, [p.message(lang) for p in error.problems], text,
                                  getattr(error, "status", 400), replacing=replacing)
    return _back(day, msg="added" if added_to_others else "saved")


def replace_unconfirmed(count: int, confirmed: str) -> WebError:
    """A replace not confirmed for the `count` notices saved now (`confirmed`: the count the page asked about)."""
    if confirmed.isdigit():       # asked about another number: another tab or person changed them meanwhile
        return WebError(f"没有保存：已保存的通知刚刚有了变化，现在是 {count} 条。请看一下下面的通知，再点“保存通知”。",
                        f"nothing was saved: the saved notices changed meanwhile, and there are {count} now; "
                        "look at them below, then press Save notices again", status=409)
    return WebError(f"没有保存：选了“全部替换”，会删掉已保存的 {count} 条通知，但没有确认。"
                    "请再点一次“保存通知”并在提示里点“确定”；想保留它们就选“新通知加在后面”。",
                    f"nothing was saved: \"replace them all\" would remove the saved notices ({count}), and that "
                    "was not confirmed; press Save notices again and answer OK, or choose \"add\" to keep them",
                    status=409)


def _find(notices: list[Notice], notice_id: str, day: date) -> int:
    if CLIP_ID.match(notice_id):
        for index, notice in enumerate(notices):
            if notice.id == notice_id:
                return index
    raise WebError(f"{day} 没有 id 为“{notice_id[:40]}”的通知；请刷新页面再试。",
                   f"there is no notice with the id \"{notice_id[:40]}\" on {day}; reload the page and try again",
                   status=404)


BUSY = {"withdrawing": "busy-withdraw", "undone-withdrawing": "busy-withdraw"}    # else "busy"


def _rebuild(request: Request, day: date, msg: str) -> RedirectResponse:
    try:
        job = start_build(request, day)
    except WebError as error:
        if error.status == 409:
            return _back(day, msg=BUSY.get(msg, "busy"))
        raise
    return _back(day, job=job.id, msg=msg)


def _after_change(request: Request, day: date, left: list[Notice], msgs: tuple[str, str, str]) -> RedirectResponse:
    """Build the day again after its notices changed; with none left for the day, withdraw its notice clips
    (recordings stay), or, not built, just say so. `msgs`: (rebuilt, withdrawing, not built)."""
    site: Site = request.app.state.site
    if any(n.valid_on(day) for n in left):
        return _rebuild(request, day, msgs[0])
    if not notice_clips(site.out, day):
        return _back(day, msg=msgs[2])
    return _rebuild(request, day, msgs[1])


def _one_line(text: str) -> str:
    return " ".join(text.split())


@router.post("/undo/notices")
async def undo_notices(request: Request):     # not under /notices/: a notice titled "Undo" has the id "undo"
    """Take back the day's last save, edit or delete of notices (until Build is pressed), then build the day
    again as an edit does; a day not built is only given its notices back."""
    site: Site = request.app.state.site
    form = await request.form()
    day = parse_day(str(form.get("date") or ""), site)

    def restore() -> tuple[list[Notice], bool] | None:
        with _notices_lock:
            record = pending_undo(site.out, day)
            if record is None:
                return None
            built = bool(record.get("built")) or notice_clips(site.out, day) > 0
            before = record.get("before")
            if before is None:
                notices_path(site.out, day).unlink(missing_ok=True)
            else:
                atomic_write(notices_path(site.out, day), before.encode("utf-8"))
            forget_undo(site.out, day)
            return stored_notices(site.out, day), built

    done = await run_in_threadpool(restore)
    if done is None:
        lang = lang_of(request)
        return await run_in_threadpool(
            _page, request, day, status=409, flash_kind="warn",
            flash="There is nothing to undo: the last change was already undone, or Build was pressed since."
            if lang == "en" else "没有可以撤销的操作：上一次的修改已经撤销过了，或者之后已经点过“生成音频”。")
    left, built = done
    if not built:
        return _back(day, msg="undone-unbuilt")
    return await run_in_threadpool(_after_change, request, day, left,
                                   ("undone", "undone-withdrawing", "undone-unbuilt"))


@router.post("/notices/{notice_id}")
async def edit_notice(request: Request, notice_id: str):
    """Change one notice's title and text (it keeps its id, so its clip keeps its place in the broadcast),
    then build the day again (the other clips come from the cache). Without a `title` field the title stays."""
    site: Site = request.app.state.site
    form = await request.form()
    day = parse_day(str(form.get("date") or ""), site)
    text = str(form.get("text") or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    keep_title = "title" not in form
    title = _one_line(str(form.get("title") or "")) or None
    if not text:
        raise WebError("通知的正文是空的。请写上正文，或删除这条通知。",
                       "the notice's text is empty; write it, or delete the notice")

    def change():
        with _notices_lock:
            notices = stored_notices(site.out, day)
            index = _find(notices, notice_id, day)
            old = notices[index]
            notices[index] = replace(old, text=text, title=old.title if keep_title else title)
            change_notices(site.out, day, notices, "edit", old.title or shorten(old.text, 20))

    await run_in_threadpool(change)
    return await run_in_threadpool(_rebuild, request, day, "edited")


@router.post("/notices/{notice_id}/delete")
async def delete_notice(request: Request, notice_id: str):
    site: Site = request.app.state.site
    form = await request.form()
    day = parse_day(str(form.get("date") or ""), site)

    def change() -> list[Notice]:
        with _notices_lock:
            notices = stored_notices(site.out, day)
            gone = notices.pop(_find(notices, notice_id, day))
            return change_notices(site.out, day, notices, "delete", gone.title or shorten(gone.text, 20))

    left = await run_in_threadpool(change)
    return await run_in_threadpool(_after_change, request, day, left, ("deleted", "withdrawing", "deleted-unbuilt"))


@router.post("/build")
async def build(request: Request):
    """Start building the day in the background: {"ok": true, "job": id}. Pressing Build ends the undo of
    the last change to the day's notices (a rebuild after an edit or delete does not)."""
    site: Site = request.app.state.site
    form = await request.form()
    day = parse_day(str(form.get("date") or request.query_params.get("date") or ""), site)
    job = await run_in_threadpool(start_build, request, day)
    await run_in_threadpool(forget_undo, site.out, day)
    return JSONResponse({"ok": True, "job": job.id})


@router.get("/build/{job_id}")
def build_state(request: Request, job_id: str):
    job = builds(request).get(job_id) if JOB_ID.match(job_id) else None
    lang = lang_of(request)
    if job is None:
        return JSONResponse({"ok": False, "errors": [
            "no such build; reload the page" if lang == "en" else "找不到这个生成任务，请刷新页面。"]}, status_code=404)
    return JSONResponse(job.to_json(lang))


# ---------------------------------------------------------------------------
# The day's clips, for the page's players

def _no_clip() -> WebError:
    return WebError("找不到这个音频。", "no such clip", status=404)


@router.get("/clips/{day}/{file}")
def clip_file(request: Request, day: str, file: str):
    """A clip of the day, only when the day's manifest lists exactly this file name, and only from inside
    the day's folder in the library (no other path, no link leading out)."""
    site: Site = request.app.state.site
    the_day = parse_day(day, site)
    if not file or file != PurePosixPath(file).name or file.startswith(".") or "\\" in file or "\x00" in file:
        raise _no_clip()
    try:
        found = Library(site.out).day(the_day)
    except AnnouncerError:
        raise _no_clip() from None
    if found is None:
        raise _no_clip()
    folder, manifest = found
    listed = {c.get("file") for c in manifest.get("clips", []) if isinstance(c, dict)}
    if file not in listed:
        raise _no_clip()
    root = site.out.resolve()
    path = (folder / file).resolve()
    if path.parent != folder.resolve() or not folder.resolve().is_relative_to(root) or not path.is_file():
        raise _no_clip()
    media = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})
