"""/log: what the station played on a day, and the same as a CSV file for Excel.

Records keep clip ids and a reason in the language the station ran in. The page shows the clips' titles
(from that day's manifest) and, where a reason is one of the station's fixed texts, says it in the page's
language; any other reason (a player's or the system's own words) is shown as recorded.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, tzinfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from announcer.core.config import MANUAL, Station
from announcer.core.errors import AnnouncerError
from announcer.core.library import Library
from announcer.core.plan import SKIP_REASONS, clip_titles, station_zone
from announcer.core.playlog import RESULT_NAMES, RESULTS, PlayLog, Record
from announcer.web.site import Site, WebError, check_csrf, lang_of, parse_day, render

router = APIRouter(dependencies=[Depends(check_csrf)])

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet would run as a formula
BY_HAND = ("手动播放：", "Played by hand: ")            # how a play by hand is shown (records: config.MANUAL)

# The station's fixed reasons (station/daemon.py, station/playqueue.py, core/plan.py), (zh, en). {n}, {m}, {s}
# and {limit} stand for a number, any other {name} for any text (itself translated when it is a known text).
KNOWN_REASONS: list[tuple[str, str]] = [
    *SKIP_REASONS.values(),
    ("电台在播放途中停止", "the station stopped while it played"),
    ("电台没有运行", "the station was not running"),
    ("手动停止", "stopped by hand"),
    ("同一广播有更晚的一次，只补播那一次", "a later occurrence of the same broadcast plays instead"),
    ("电脑休眠或太忙", "the machine was asleep or busy"),
    ("晚了 {ago}，超过宽限时间（电脑休眠或太忙）", "{ago} late, past the grace time (the machine was asleep or busy)"),
    ("电台开始运行，由电台接着播放", "a station started; it plays from now on"),
    ("电台在轮到它之前停止了", "the station stopped before its turn"),
    ("电台停止，播放中断", "the station stopped during playback"),
    ("播放器出错", "the player failed"),
    ("还在排队时被 {when} 的同一广播代替", "still waiting when the {when} occurrence replaced it"),
    ("被紧急广播打断 {n} 次，已从中断处重播", "interrupted {n} time(s) by an urgent broadcast; the clip was restarted"),
    ("找不到音频文件 {file}", "clip file {file} is missing"),
    ("这一天的音频里已没有 {ids}", "{ids} no longer in the day's clips"),
    ("播放 {file} 超过 {limit} 秒仍未结束，放弃这次广播",
     "{file} still playing after {limit} s; giving up this broadcast"),
    ("{day} 的音频里没有要播的段落（{wanted}）", "none of the clips it plays ({wanted}) are in {day}'s clips"),
    ("{day} 还没有生成音频；请运行 announcer build，或在网页的“今日通知”里生成",
     "no clips for {day}; run announcer build, or build them on the web page's Today page"),
    ("播放器只响了 {heard} 秒，这段有 {length} 秒：可能没有可用的音频输出。请检查喇叭/声卡",
     "the player ran for only {heard} s of this {length} s clip: there may be no working audio output; check the "
     "speaker and the sound card"),
    ("{m} 分 {s} 秒", "{m} min {s} s"),
    ("{s} 秒", "{s} s"),
]
NUMBERS = {"n", "m", "s", "limit"}
CLIP_SAID = re.compile(r"([^\s:]+\.\w+): (.+)")


def _zone(site: Site) -> tzinfo:
    """The station's zone; with an invalid schedule.toml the system's, so the log stays readable."""
    try:
        return station_zone(site.config().station)
    except AnnouncerError:
        return station_zone(Station())


def _clock(moment: datetime | None, zone: tzinfo, form: str = "%H:%M:%S") -> str:
    return moment.astimezone(zone).strftime(form) if moment is not None else ""


def _records(site: Site, day: date, zone: tzinfo) -> list[Record]:
    try:
        return PlayLog(site.out).records(day, zone)
    except OverflowError:        # the last day a date can hold has no next midnight, and nothing recorded
        return []


def _neighbour(day: date, days: int, site: Site) -> date | None:
    """The day before or after, if the page can show it (None past the calendar's or parse_day's bounds)."""
    try:
        other = day + timedelta(days=days)
        return parse_day(other.isoformat(), site)
    except (OverflowError, WebError):
        return None


def _result_name(result: str, lang: str) -> str:
    zh, en = RESULT_NAMES.get(result, (result, result))
    return en if lang == "en" else zh


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else
                              (rf"(?P<{p}>\d+)" if p in NUMBERS else rf"(?P<{p}>.+?)") for i, p in enumerate(parts)))


_KNOWN = [(_pattern(zh), _pattern(en), zh, en) for zh, en in KNOWN_REASONS]


def reason_in(text: str, lang: str) -> str:
    """A recorded reason in `lang` when it is one of the station's fixed texts (or several, joined), else as is."""
    said = _known(text, lang)
    if said is not None:
        return said
    parts = re.split(r"；|; ", text)
    if len(parts) > 1:
        said = [_known(part, lang) for part in parts]
        if any(p is not None for p in said):
            return ("; " if lang == "en" else "；").join(p if p is not None else raw for p, raw in zip(said, parts))
    return text


def _known(text: str, lang: str) -> str | None:
    text = text.strip().rstrip("。.")
    for zh_pattern, en_pattern, zh, en in _KNOWN:
        found = zh_pattern.fullmatch(text) or en_pattern.fullmatch(text)
        if found:
            values = {k: reason_in(v, lang) for k, v in found.groupdict().items()}
            return (en if lang == "en" else zh).format(**values)
    clip = CLIP_SAID.fullmatch(text)              # a player's problem with a clip: "01-water.mp3: …"
    if clip:
        said = _known(clip[2], lang)
        return None if said is None else f"{clip[1]}: {said}"
    return None


def _titles(site: Site, day: date) -> dict[str, str]:
    """Clip id → title, from the day's manifest (then today's, for clips of today played on another day)."""
    library, found = Library(site.out), []
    for each in dict.fromkeys((day, site.today())):
        try:
            found.append(library.manifest(each))
        except AnnouncerError:
            continue
    return clip_titles(*found)


def broadcast_name(name: str, titles: dict[str, str], lang: str) -> str:
    """A record's broadcast for people: a play by hand says so in the page's language, with clip titles."""
    for prefix in MANUAL:
        if name.startswith(prefix):
            what = name[len(prefix):]
            ids = what.split(", ")
            if all(i in titles for i in ids):
                what = ("、" if lang != "en" else ", ").join(titles[i] for i in ids)
            return (BY_HAND[1] if lang == "en" else BY_HAND[0]) + what
    return name


def _rows(records: list[Record], zone: tzinfo, lang: str, titles: dict[str, str] | None = None) -> list[dict]:
    titles = titles or {}
    rows = []
    for r in records:
        due = _clock(r.scheduled, zone)
        rows.append({"scheduled": due[:-3] if due.endswith(":00") else due, "started": _clock(r.started, zone),
                     "ended": _clock(r.ended, zone), "broadcast": r.broadcast,
                     "broadcast_name": broadcast_name(r.broadcast, titles, lang),
                     "clips": [titles.get(c, c) for c in r.clips], "clip_ids": list(r.clips),
                     "result": r.result, "result_name": _result_name(r.result, lang),
                     "reason": reason_in(r.reason, lang) if r.reason else ""})
    return rows


@router.get("/log")
def log_page(request: Request, date: str | None = None):
    site: Site = request.app.state.site
    day = parse_day(date, site)
    zone = _zone(site)
    lang = lang_of(request)
    records = _records(site, day, zone)
    counts = [{"result": result, "name": _result_name(result, lang), "count": sum(r.result == result for r in records)}
              for result in RESULTS]
    return render(request, "playlog.html", page="log", day=day, zone=getattr(zone, "key", str(zone)),
                  rows=_rows(records, zone, lang, _titles(site, day)), counts=counts,
                  previous=_neighbour(day, -1, site), next=_neighbour(day, 1, site), is_today=day == site.today())


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@router.get("/log.csv")
def log_csv(request: Request, date: str | None = None):
    site: Site = request.app.state.site
    day = parse_day(date, site)
    zone = _zone(site)
    lang = lang_of(request)
    zh = lang != "en"
    stamp = "%Y-%m-%d %H:%M:%S"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["计划时间", "开始", "结束", "广播", "片段", "结果", "原因"] if zh else
                    ["scheduled", "started", "ended", "broadcast", "clips", "result", "reason"])
    titles = _titles(site, day)
    for r in _records(site, day, zone):
        writer.writerow([safe_cell(cell) for cell in (
            _clock(r.scheduled, zone, stamp), _clock(r.started, zone, stamp), _clock(r.ended, zone, stamp),
            broadcast_name(r.broadcast, titles, lang), " ".join(r.clips),
            _result_name(r.result, lang), reason_in(r.reason, lang) if r.reason else "")])
    data = "\ufeff" + buffer.getvalue()      # the BOM makes Excel read UTF-8 (Chinese) correctly
    return Response(data.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="playlog-{day.isoformat()}.csv"',
                             "Cache-Control": "no-store"})
