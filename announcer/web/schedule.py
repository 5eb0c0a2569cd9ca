"""/schedule: what plays today and tomorrow, "play now" per broadcast, and schedule.toml in an editor.

A save is checked with the same rules as the commands (`parse_config`); an invalid text
is never written. The file's hash as loaded travels with the form, so a change made
meanwhile (by hand, or in another window) is never overwritten unseen. A chime file named
from here must be a sound file in the settings' own folder: the page reads nothing else.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import tomli_w
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from announcer.build import effects
from announcer.core.config import CHIME_PRESETS, Config, parse_config
from announcer.core.errors import AnnouncerError, ConfigError, shorten
from announcer.core.library import Library, atomic_write
from announcer.core.plan import (air_seconds, clip_title, clip_titles, clock, duration_words, plan, quiet_span,
                                 quiet_times, round_room, select_clips, skip_reason, station_zone, timing_words)
from announcer.core.textfile import SETTINGS_ROLE, read_text
from announcer.core.tomlpos import TomlLines
from announcer.web.security import is_loopback
from announcer.web.site import Site, check_csrf, lang_of, render

router = APIRouter(dependencies=[Depends(check_csrf)])
_saving = threading.Lock()        # the hash check and the write, one save at a time

ABSENT = "absent"                 # the hash of a schedule file that does not exist yet
MAX_TEXT = 1_000_000              # characters; a schedule is a few kilobytes
MAX_CHIME = 20_000_000            # bytes; a chime is a few seconds of sound
ADD_FIELD = re.compile(r"broadcast\[\d+\]\.(name|at|days|clips)\b")   # a problem of the added block, by its field
WEEKDAYS = {"zh": "周一 周二 周三 周四 周五 周六 周日".split(), "en": "Mon Tue Wed Thu Fri Sat Sun".split()}
DAY_SETS = {"daily": ("每天", "daily"), "workdays": ("工作日", "workdays"), "weekends": ("周末", "weekends")}


@dataclass
class Problem:
    line: int | None
    key: str
    text: str


def _t(request: Request, zh: str, en: str) -> str:
    return en if lang_of(request) == "en" else zh


def config_file(site: Site) -> Path:
    """The schedule.toml the page edits (and creates when there is none yet)."""
    return site.config_path or Path("schedule.toml")


def _loaded(path: Path) -> tuple[bytes | None, str]:
    """The file's bytes (None when it does not exist) and their hash."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, ABSENT
    except OSError:
        return b"", "unreadable"
    return data, hashlib.sha256(data).hexdigest()


def _problems(request: Request, error: AnnouncerError) -> list[Problem]:
    lang = lang_of(request)
    return [Problem(getattr(p, "line", None), getattr(p, "key", ""), p.en if lang == "en" else p.zh)
            for p in error.problems]


def _file_state(request: Request, site: Site) -> dict:
    """The file as it is now: its text for the editor, its hash, and its config or its problems."""
    path = config_file(site)
    data, digest = _loaded(path)
    text, config, problems = "", None, []
    if data is None:
        config = parse_config("", path)
    else:
        try:
            text = read_text(path, AnnouncerError, SETTINGS_ROLE)
            config = parse_config(text, path)
        except AnnouncerError as error:
            problems = _problems(request, error)
    return {"path": path, "exists": data is not None, "text": text, "digest": digest, "config": config,
            "problems": problems}


def _plan_rows(request: Request, site: Site, config: Config) -> tuple[list[dict], str]:
    """Every occurrence today and tomorrow in the station's zone, for the table, each with what stands in its way."""
    zone = station_zone(config.station)
    now = site.now().astimezone(zone)
    today = now.date()
    start = datetime.combine(today, time(), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=2), time(), tzinfo=zone)
    manifests = _Manifests(site)
    lang = lang_of(request)
    known = clip_titles(manifests.get(today) if isinstance(manifests.get(today), dict) else None)

    rows = []
    for occurrence in plan(config, start, end):
        broadcast, moment = occurrence.broadcast, occurrence.time
        found = manifests.get(moment.date())
        built = isinstance(found, dict)
        warning = None
        if isinstance(found, AnnouncerError):
            clips = found.message(lang)
        elif found is None:
            chosen = ", ".join(_t(request, "全部", "all") if c == "all" else known.get(c, c) for c in broadcast.clips)
            clips = chosen + _t(request, "（当天还没有生成）", " (not built yet)")
        else:
            chosen = select_clips(broadcast, found)
            clips = _t(request, "、", ", ").join(clip_title(c) + (_t(request, "（街道）", " (office)")
                                                                if "office" in (c.get("tags") or []) else "")
                                                 for c in chosen) or "—"
            if not chosen:
                warning = _no_clips(request, broadcast, found)
            elif occurrence.skipped is None:
                warning = _too_long(request, broadcast, chosen, moment.time())
        rows.append({
            "day": moment.date(), "today": moment.date() == today,
            "day_label": f"{moment:%Y-%m-%d} {WEEKDAYS[lang][moment.weekday()]}",
            "time": moment.strftime("%H:%M:%S" if moment.second else "%H:%M"),
            "name": broadcast.name, "clips": clips, "built": built, "repeat": broadcast.repeat,
            "skipped": occurrence.skipped, "reason": skip_reason_in(request, occurrence.skipped),
            "skip_help": _skip_help(request, occurrence.skipped, config),
            "warning": warning, "past": moment < now, "at": moment,
        })
    return _collapsed(request, rows), zone.key


class _Manifests:
    """The days' manifests, each read once: a dict, None (not built) or the error reading it."""

    def __init__(self, site: Site):
        self.library, self.found = Library(site.out), {}

    def get(self, day: date):
        if day not in self.found:
            try:
                self.found[day] = self.library.manifest(day)
            except AnnouncerError as error:
                self.found[day] = error
        return self.found[day]


def _no_clips(request: Request, broadcast, manifest: dict) -> dict:
    """A broadcast that matches no clip of its day plays nothing: say so, and what to write instead."""
    wanted = ", ".join(broadcast.clips)
    there = [f"{clip_title(c)}（{c.get('id')}）" for c in manifest.get("clips", [])[:5]]
    there_en = [f"{clip_title(c)} ({c.get('id')})" for c in manifest.get("clips", [])[:5]]
    more = len(manifest.get("clips", [])) > 5
    zh = (f"它的 clips 要的是 {wanted}，当天的片段里没有这个编号或标签。请在下面的设置里把 clips 改成 \"all\"，"
          "或改成当天片段的编号" + (f"（当天有：{'、'.join(there)}{'等' if more else ''}）。" if there else "。"))
    en = (f"Its clips ask for {wanted}, and no clip that day has that id or tag. In the settings below, change "
          "clips to \"all\" or to ids of that day's clips" + (f" (there are: {', '.join(there_en)}"
                                                                  f"{', …' if more else ''})." if there else "."))
    return {"code": "no-clips", "help": _t(request, zh, en),
            "text": _t(request, "不会播放：当天没有符合的片段", "plays nothing: no clip that day matches")}


def _too_long(request: Request, broadcast, clips: list[dict], wall: time) -> dict | None:
    """A round that is still on air when the broadcast's next round is due."""
    seconds, room = air_seconds(broadcast, clips), round_room(broadcast, wall)
    if seconds is None or room is None or seconds <= room[0]:
        return None
    length, over, gap = duration_words(seconds), duration_words(seconds - room[0]), duration_words(room[0])
    if room[1] is None:
        zh = (f"一轮要播约 {length[0]}，比间隔（每 {gap[0]}）长 {over[0]}：下一轮到时，这一轮还没播完，只能等它播完。"
              "请把 every 改长，或减少片段、repeat 或 gap。")
        en = (f"A round is on air for about {length[1]}, {over[1]} longer than the interval (every {gap[1]}): when "
              "the next round is due this one has not ended, so it has to wait. Make every longer, or play fewer "
              "clips, or lower repeat or gap.")
    else:
        nxt = clock(room[1])
        zh = (f"一轮要播约 {length[0]}，比到下一次 {nxt} 的 {gap[0]} 长 {over[0]}：{nxt} 那次只能等这一轮播完。"
              "请把 at 里的时间错开，或减少片段、repeat 或 gap。")
        en = (f"A round is on air for about {length[1]}, {over[1]} longer than the {gap[1]} until the next one at "
              f"{nxt}: that one has to wait for this one to end. Space the times in at further apart, or play "
              "fewer clips, or lower repeat or gap.")
    return {"code": "too-long", "help": _t(request, zh, en),
            "text": _t(request, f"播放，但一轮太长（多 {over[0]}）", f"plays, but a round is too long (by {over[1]})")}


def _skip_help(request: Request, code: str | None, config: Config) -> str:
    """What a skipped occurrence means, and what to do about it."""
    if code == "quiet-hours" and config.station.quiet_hours is not None:
        span = quiet_span(config.station.quiet_hours)
        return _t(request, f"（{span}）这次不会播放。要让它播放，请把时间移出静音时段，"
                           "或修改 [station] 里的 quiet_hours。",
                  f" ({span}): it will not play. To play it, move it out of the quiet hours, or change quiet_hours "
                  "in [station].")
    if code == "holiday":
        return _t(request, "：这天不会播放。要在这天播放，请修改 [station] 里的 holidays 或 country。",
                  ": it will not play that day. To play it, change holidays or country in [station].")
    return ""


def _broadcast_warnings(request: Request, config: Config, now: datetime, rows: list[dict]) -> list[dict]:
    """What keeps a broadcast from playing as the staff expect, once per broadcast, for the top of the plan."""
    warnings = []
    local = now.replace(tzinfo=None)
    for b in config.broadcasts:
        if b.once is not None and b.once < local:
            warnings.append({"code": "date-passed", "broadcast": b.name, "text": _t(
                request,
                f"「{b.name}」只播一次，时间 {b.once:%Y-%m-%d} {clock(b.once.time())} 已经过了，不会再播放。"
                "不需要了可以在下面的设置里删掉这一段；要再播一次，请改 date。",
                f"“{b.name}” plays once, at {b.once:%Y-%m-%d} {clock(b.once.time())}, and that time has passed: it "
                "will not play again. Delete it in the settings below if it is no longer needed, or change its date "
                "to play it again.")})
        quiet = quiet_times(b, config.station.quiet_hours)
        if quiet:
            span = quiet_span(config.station.quiet_hours)
            shown = [clock(t) for t in quiet[:5]] + ["…"] * (len(quiet) > 5)
            warnings.append({"code": "quiet-hours", "broadcast": b.name, "text": _t(
                request,
                f"「{b.name}」的 {'、'.join(shown)} 在静音时段（{span}）内，会被跳过，不会播放。"
                "要让它播放，请把时间移出静音时段，或修改 [station] 里的 quiet_hours。",
                f"“{b.name}” at {', '.join(shown)} falls in the quiet hours ({span}), so it is skipped and will not "
                "play. To play it, move it out of the quiet hours, or change quiet_hours in [station].")})
        for code in ("no-clips", "too-long"):
            row = next((r for r in rows if r["name"] == b.name and r["warning"] and r["warning"]["code"] == code),
                       None)
            if row is not None:
                when = _t(request, "今天", "today") if row["today"] else _t(request, "明天", "tomorrow")
                warnings.append({"code": code, "broadcast": b.name, "text": _t(
                    request, f"「{b.name}」（{when} {row['time']}）{row['warning']['text']}。{row['warning']['help']}",
                    f"“{b.name}” ({when} at {row['time']}) {row['warning']['text']}. {row['warning']['help']}")})
    return warnings


RUN_ROWS = 4          # this many occurrences of a broadcast in a row, evenly spaced, show as one row
PAGE_ROWS = 200       # plan rows a page


def _collapsed(request: Request, rows: list[dict]) -> list[dict]:
    """Runs of one broadcast at a steady interval with the same status as one row: "every 10 s, 14:00–15:59:50,
    720 times" (a broadcast every 10 s made a 5 MB page)."""
    same = ("day", "name", "clips", "built", "repeat", "skipped", "reason", "warning", "past")
    runs: list[list[dict]] = []
    for row in rows:
        run = runs[-1] if runs else None
        if run and all(run[-1][k] == row[k] for k in same) and \
                (len(run) == 1 or row["at"] - run[-1]["at"] == run[1]["at"] - run[0]["at"]):
            run.append(row)
        else:
            runs.append([row])
    out = []
    for run in runs:
        if len(run) < RUN_ROWS:
            out += [{**row, "count": 1} for row in run]
            continue
        step = int((run[1]["at"] - run[0]["at"]).total_seconds())
        every = (_t(request, f"每 {step // 60} 分钟", f"every {step // 60} min") if step % 60 == 0 else
                 _t(request, f"每 {step} 秒", f"every {step} s"))
        out.append({**run[0], "count": len(run), "until": run[-1]["time"],
                    "every": every + _t(request, f"，共 {len(run)} 次", f", {len(run)} times")})
    return out


def skip_reason_in(request: Request, code: str | None) -> str:
    """Why an occurrence will not play, in the page's language (plan.skip_reason follows the process's)."""
    if code is None:
        return ""
    from announcer.core.plan import SKIP_REASONS

    return _t(request, *SKIP_REASONS[code]) if code in SKIP_REASONS else skip_reason(code)


def _timing(request: Request, b) -> str:
    """When a broadcast plays, in a few plain words."""
    return _t(request, *timing_words(b))


def _page(request: Request, site: Site, state: dict, *, status: int = 200, text: str | None = None,
          digest: str | None = None, errors: list[Problem] | None = None, mine: str | None = None,
          flash: str | None = None, flash_kind: str | None = None, add: dict | None = None, page: int = 1):
    """The schedule page. The plan comes from the file on disk; the editor may hold a submitted text."""
    config = state["config"]
    rows, zone = _plan_rows(request, site, config) if config is not None else ([], "")
    now = site.now().astimezone(station_zone(config.station)) if config is not None else site.now()
    warnings = _broadcast_warnings(request, config, now, rows) if config is not None else []
    pages = max(1, -(-len(rows) // PAGE_ROWS))
    page = min(max(1, page), pages)
    rows = rows[(page - 1) * PAGE_ROWS:page * PAGE_ROWS]
    today_clips = _today_clips(site, now.date())
    titles = {c["id"]: c["title"] for c in today_clips}
    broadcasts = [{"name": b.name, "timing": _timing(request, b),
                   "clips": _t(request, "、", ", ").join(_t(request, "全部", "all") if c == "all" else titles.get(c, c)
                                                       for c in b.clips)}
                  for b in (config.broadcasts if config is not None else ())]
    shown = state["text"] if text is None else text
    errors = state["problems"] if errors is None else errors
    marks: dict[int, list[str]] = {}
    for problem in errors:
        if problem.line:
            marks.setdefault(problem.line, []).append(problem.text)
    return render(request, "schedule.html", status=status, page="schedule", flash=flash, flash_kind=flash_kind,
                  rows=rows, plan_page=page, plan_pages=pages, zone=zone, broadcasts=broadcasts, file_ok=config is not None,
                  file_problems=state["problems"], path=state["path"], exists=state["exists"],
                  text=shown, digest=state["digest"] if digest is None else digest, errors=errors,
                  lines=shown.split("\n"), marks=marks, mine=mine, add=add or {},
                  field_errors=_field_errors(errors, add or {}), today=now.date(), warnings=warnings,
                  today_clips=today_clips, station_name=config.station.name if config is not None else "",
                  plan_days=(now.date(), now.date() + timedelta(days=1)))


def _today_clips(site: Site, today: date) -> list[dict]:
    """Today's clips as {id, title}, in broadcast order, for picking clips by title; [] when not built."""
    try:
        manifest = Library(site.out).manifest(today)
    except AnnouncerError:
        return []
    return [{"id": str(c["id"]), "title": clip_title(c)} for c in (manifest or {}).get("clips", [])
            if c.get("id") is not None]


def _field_errors(errors: list[Problem], add: dict) -> dict[str, list[str]]:
    """The problems of an added broadcast, by the form field they belong beside (name, at, days)."""
    fields: dict[str, list[str]] = {}
    for problem in errors:
        found = ADD_FIELD.match(problem.key) if add.get("line") and (problem.line or 0) >= add["line"] else None
        field = found[1] if found else problem.key if problem.line is None else None
        if field in ("name", "at", "days", "clips"):
            fields.setdefault(field, []).append(problem.text)
    return fields


@router.get("/schedule")
def schedule_page(request: Request, saved: str | None = None, page: int = 1):
    site: Site = request.app.state.site
    state = _file_state(request, site)
    flash = None
    if saved == "added":
        flash = _t(request, "已加入并保存。正在运行的电台会在几秒内采用新的计划。",
                   "added and saved; the running station picks it up within a few seconds")
    elif saved is not None:
        flash = _t(request, "已保存。正在运行的电台会在几秒内采用新的设置。",
                   "saved; the running station picks it up within a few seconds")
    return _page(request, site, state, flash=flash, page=page)


@router.post("/schedule")
def save_schedule(request: Request, text: str = Form(""), loaded: str = Form("")):
    return _save(request, text, loaded, "1")


@router.post("/schedule/add")
def add_broadcast(request: Request, text: str = Form(""), loaded: str = Form(""), new_name: str = Form(""),
                  new_at: str = Form(""), new_days: str = Form("daily"), new_clips: list[str] = Form([])):
    """Append a [[broadcast]] block to the editor's text, then check and save it like any edit. Its clips are
    picked by title from today's list (their ids are written); none picked, or "all", plays all of them."""
    site: Site = request.app.state.site
    chosen = [c for c in dict.fromkeys(c.strip() for c in new_clips) if c]
    add = {"name": new_name, "at": new_at, "days": new_days, "clips": chosen}
    name = new_name.strip()
    times = [t for t in re.split(r"[\s,，、;；]+", new_at.strip()) if t]
    missing = []
    if not name:
        missing.append(Problem(None, "name", _t(request, "请给新的广播起个名字。", "give the new broadcast a name")))
    if not times:
        missing.append(Problem(None, "at", _t(request, "请写至少一个播放时间，如 08:00。",
                                             "write at least one time to play, like 08:00")))
    if new_days not in DAY_SETS:
        missing.append(Problem(None, "days", _t(request, "请选择每天、工作日或周末。",
                                               "choose daily, workdays or weekends")))
    state = _file_state(request, site)
    if chosen and "all" not in chosen:
        config = state["config"]
        today = site.now().astimezone(station_zone(config.station)).date() if config is not None else site.today()
        unknown = [c for c in chosen if c not in {clip["id"] for clip in _today_clips(site, today)}]
        if unknown:
            shown = shorten(", ".join(unknown), 60)
            missing.append(Problem(None, "clips", _t(
                request, f"今天的片段里已经没有 {shown}（可能刚重新生成过）。请重新打开这一页再选。",
                f"{shown} is no longer among today's clips (they may have just been rebuilt); open this page "
                "again and choose once more")))
    text = _normalised(text)
    if missing:
        return _page(request, site, state, status=422, text=text, digest=loaded, errors=missing, add=add)
    entry = {"name": name, "at": times, "days": new_days}
    if chosen and "all" not in chosen:
        entry["clips"] = chosen
    block = tomli_w.dumps({"broadcast": [entry]})
    before = text.rstrip("\n") + ("\n\n" if text.strip() else "")
    add["line"] = before.count("\n") + 1          # where the new block starts, to put its problems by its fields
    return _save(request, before + block, loaded, "added", add=add)


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _save(request: Request, text: str, loaded: str, saved: str, add: dict | None = None):
    with _saving:
        return _checked_save(request, text, loaded, saved, add)


def _checked_save(request: Request, text: str, loaded: str, saved: str, add: dict | None):
    site: Site = request.app.state.site
    state = _file_state(request, site)
    path = state["path"]
    text = _normalised(text)
    if len(text) > MAX_TEXT:
        return _page(request, site, state, status=413, text=text[:MAX_TEXT], digest=loaded, errors=[
            Problem(None, "", _t(request, "内容太长，不像是设置文件。", "the text is far too long for a settings file"))])
    if loaded != state["digest"]:
        # Someone changed the file since this page was loaded: keep both, overwrite neither.
        return _page(request, site, state, status=409, mine=text, flash_kind="bad", flash=_t(
            request,
            "schedule.toml 在您打开页面之后被改过了（别人改的，或在另一个窗口里）。为了不覆盖那次修改，这次没有保存。"
            "下面的编辑框里是文件现在的内容，旁边是您刚才写的内容：请把您的修改加到现在的内容里，再保存。",
            "schedule.toml was changed since you opened this page (by someone else, or in another window), so "
            "this was not saved, to keep that change. The editor below holds the file as it is now, and your "
            "text is beside it: put your changes into the current text, then save again."))
    refused = _chime_outside(request, text, path, state["config"])
    try:
        config = parse_config(text, path)
        problems = []
    except ConfigError as error:
        config, problems = None, _problems(request, error)
    if refused is None and config is not None:
        refused = _chime_unreadable(request, text, config)
    if refused is not None:
        # It replaces what parse_config says of the chime: whether such a file exists is not told.
        problems = sorted([p for p in problems if p.key != refused.key] + [refused], key=lambda p: p.line or 0)
    if problems:
        return _page(request, site, state, status=422, text=text, digest=loaded, errors=problems,
                     add=add, flash_kind="bad", flash=_t(request, "设置有问题，没有保存。请按下面的提示修改后再保存。",
                                                         "there are problems, so nothing was saved; fix them as "
                                                         "shown below and save again"))
    if config.web.token is None and not is_loopback(site.host):
        line = TomlLines(text).line(("web",)) if re.search(r"^\s*\[web\]", text, re.M) else None
        return _page(request, site, state, status=422, text=text, digest=loaded, add=add, errors=[Problem(
            line, "web.token", _t(request,
                                  "页面正在向网络开放，请保留 [web] 里的 token：正在运行的页面仍然需要原来的口令，"
                                  "去掉它只会让设置文件和实际情况不一致。",
                                  "keep the token while the page is open to the network: the running page still "
                                  "asks for the old one, so removing it from the file would only make the file "
                                  "disagree with what is in force"))],
            flash_kind="bad", flash=_t(request, "没有保存。", "not saved"))
    _write(path, text.encode("utf-8"))
    return RedirectResponse(f"/schedule?saved={saved}", status_code=303)


def _chime_line(text: str) -> int:
    return TomlLines(text).line(("audio", "chime"))


def _chime_outside(request: Request, text: str, path: Path, current: Config | None) -> Problem | None:
    """A chime file from the page must be named relative to schedule.toml's folder and stay inside it
    (links too). The one the file names now (set on the computer itself) may stay."""
    try:
        audio = tomllib.loads(text).get("audio")
    except tomllib.TOMLDecodeError:
        return None                      # parse_config reports it
    chime = audio.get("chime") if isinstance(audio, dict) else None
    if not isinstance(chime, str) or chime.strip().lower() in CHIME_PRESETS:
        return None
    chime = chime.strip()                # as parse_config reads it
    folder = os.path.realpath(path.parent)
    name = Path(chime)
    try:
        target = os.path.realpath(os.path.join(folder, chime))
        inside = not (chime.startswith("~") or name.is_absolute() or ".." in name.parts
                      or os.path.commonpath([folder, target]) != folder or target == folder)
        if inside:
            return None
        if current is not None and current.audio.chime == str((path.parent / name.expanduser()).resolve()):
            return None
    except (ValueError, OSError):        # a NUL byte, a name too long
        pass
    return Problem(_chime_line(text), "audio.chime", _t(
        request,
        f"提示音只能是 \"two-tone\"、\"none\"，或 schedule.toml 所在文件夹（{folder}）里的声音文件，"
        "只写文件名，如 \"ding.mp3\"。",
        f"the chime can only be \"two-tone\", \"none\", or a sound file in the folder of schedule.toml "
        f"({folder}), written as just its name, like \"ding.mp3\""))


def _chime_unreadable(request: Request, text: str, config: Config) -> Problem | None:
    """A chime file must be a sound file ffmpeg can read, or every build would fail on it."""
    if config.audio.chime in CHIME_PRESETS:
        return None
    sound = Path(config.audio.chime)
    try:
        if sound.stat().st_size > MAX_CHIME:
            return Problem(_chime_line(text), "audio.chime", _t(
                request, f"提示音文件太大（超过 {MAX_CHIME // 1_000_000} MB）；提示音只需要几秒钟。",
                f"the chime file is too big (over {MAX_CHIME // 1_000_000} MB); a chime is a few seconds long"))
        effects.load_sound(sound)
    except OSError:
        return Problem(_chime_line(text), "audio.chime", _t(request, "无法读取提示音文件。", "cannot read the chime file"))
    except AnnouncerError as error:
        return Problem(_chime_line(text), "audio.chime", error.en if lang_of(request) == "en" else error.zh)
    return None


def _write(path: Path, data: bytes) -> None:
    """Atomically, through a link to the real file, keeping its permissions."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = None
    atomic_write(target, data)
    if mode is not None:
        try:
            os.chmod(target, mode)
        except OSError:
            pass
