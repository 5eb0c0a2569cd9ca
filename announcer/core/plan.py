"""Schedule → plan: when each broadcast plays, as a pure function of the config and a time window.

`plan(config, start, end)` lists every occurrence in [start, end). Nothing here
reads the clock; the caller passes the window in.

Times in schedule.toml are local wall times in the station's timezone, for
every kind of timing (`at`, `from`/`until`/`every`, `cron`, `date`). Across a
daylight-saving change:

- a local time that happens twice (the clocks go back) plays once, the first
  time it comes round;
- a local time that does not exist (the clocks jump forward) plays at the
  first instant after the jump: with London's jump from 01:00 to 02:00, a
  broadcast at 01:30 plays at 02:00 BST. Several times of one broadcast that
  fall into the same gap play once, at 02:00.

`days` decides whether a day has the broadcast at all. Holidays (the station's
own dates plus the country calendar's) and quiet hours keep an occurrence in
the plan, marked skipped, so the staff can see what will not play and why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from announcer.core.config import Broadcast, Config, QuietHours, Station, WEEKDAYS
from announcer.core.errors import shorten, tr

SKIP_REASONS = {"holiday": ("节假日", "holiday"), "quiet-hours": ("静音时段", "quiet hours")}
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Occurrence:
    time: datetime               # aware, in the station's timezone
    broadcast: Broadcast
    skipped: str | None = None   # None, "quiet-hours" or "holiday"


def station_zone(station: Station) -> ZoneInfo:
    """[station] timezone, else the system's zone (TZ, /etc/timezone, the /etc/localtime link), else UTC."""
    candidates = [station.timezone, os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except (OSError, UnicodeError):
        pass
    try:
        candidates.append(os.readlink("/etc/localtime"))
    except OSError:
        pass
    for name in candidates:
        if name and "zoneinfo/" in name:           # a path such as /usr/share/zoneinfo/Asia/Shanghai
            name = name.split("zoneinfo/", 1)[1]
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def skip_reason(code: str) -> str:
    """Why an occurrence will not play, for people."""
    return tr(*SKIP_REASONS[code]) if code in SKIP_REASONS else code


ONCE_TAG = "office-urgent"   # an office's urgent notice spoken into the day: it played when it came, not in "all"


def every_clip(manifest: dict) -> list[dict]:
    """What "all" plays: the manifest's clips but an office's urgent notice (played when it came); in order."""
    return [c for c in manifest.get("clips") or [] if ONCE_TAG not in (c.get("tags") or ())]


def select_clips(broadcast: Broadcast, manifest: dict) -> list[dict]:
    """The manifest's clips the broadcast plays: "all" (but an office's urgent notice, played when it came), or
    those whose id or a tag is listed; manifest order."""
    clips = manifest.get("clips", [])
    wanted = set(broadcast.clips)
    if "all" in wanted:
        return every_clip(manifest)
    return [c for c in clips if c.get("id") in wanted or wanted.intersection(c.get("tags", ()))]


def planned_clips(broadcast: Broadcast, manifest: dict | None) -> list[str]:
    """The clip ids an occurrence will play; ["all"] when its day has not been built yet."""
    if manifest is None:
        return ["all"]
    return [c["id"] for c in select_clips(broadcast, manifest)]


def plan(config: Config, start: datetime, end: datetime) -> list[Occurrence]:
    """Every occurrence in [start, end) (aware datetimes), sorted by time, then by config order."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("plan() needs timezone-aware start and end")
    zone = station_zone(config.station)
    start_u, end_u = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    first, last = start_u.astimezone(zone).date(), end_u.astimezone(zone).date()
    calendar = _calendar(config.station.country, first, last)
    off = set(config.station.holidays) | (set(calendar) if calendar is not None else set())
    found: list[Occurrence] = []
    for broadcast in config.broadcasts:
        seen: set[datetime] = set()
        for day, wall in _wall_times(broadcast, first, last):
            instant = _instant(wall, zone)
            if not start_u <= instant < end_u or instant in seen or not _on(broadcast.days, day, calendar):
                continue
            seen.add(instant)
            local = instant.astimezone(zone)
            found.append(Occurrence(local, broadcast, _skipped(local, off, config.station.quiet_hours)))
    # Compare in UTC: within one zone Python compares wall times and ignores fold.
    found.sort(key=lambda o: o.time.astimezone(timezone.utc))
    return found


def _wall_times(b: Broadcast, first: date, last: date) -> Iterator[tuple[date, datetime]]:
    """(the day `days` is checked on, local wall time) for the days first..last, in time order.

    The config's checks (core/config/timing.py) guarantee the shapes relied on here: a loop has until and
    every (of at least 10 s), a cron line has five standard fields, `date` is a naive local time, and a loop
    ends the day it starts.
    """
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if b.at:
        for day in days:
            for t in sorted(b.at):
                yield day, datetime.combine(day, t)
    elif b.start is not None:
        step = timedelta(seconds=b.every_s)
        for day in days:
            wall, stop = datetime.combine(day, b.start), datetime.combine(day, b.until)
            while wall < stop:
                yield day, wall
                wall += step
    elif b.cron is not None:
        yield from _cron(b.cron, datetime.combine(first, time()), datetime.combine(last + ONE_DAY, time()))
    elif b.once is not None:
        yield b.once.date(), b.once


def _cron(expression: str, begin: datetime, stop: datetime) -> Iterator[tuple[date, datetime]]:
    """Wall times matching a crontab(5) line in [begin, stop).

    crontab(5): when both day-of-month and day-of-week are restricted (neither
    starts with "*"), a day matching either runs; otherwise both must match.
    """
    from croniter import croniter

    fields = expression.split()
    day_or = not (fields[2].startswith("*") or fields[4].startswith("*"))
    times = croniter(expression, begin - timedelta(seconds=1), day_or=day_or)
    while (wall := times.get_next(datetime)) < stop:
        yield wall.date(), wall


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a local wall time plays at: the first of a repeated time; after the gap for a missing one."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=0 reads the time with the offset from before the jump (an instant
    # after the gap) and fold=1 with the one from after it (an instant before the gap).
    lo = math.floor(wall.replace(tzinfo=zone, fold=1).timestamp())
    hi = math.ceil(first.timestamp())
    after = first.astimezone(zone).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, timezone.utc)


def _calendar(country: str | None, first: date, last: date):
    """The country's holiday calendar (it knows make-up workdays), or None."""
    if not country:
        return None
    import holidays

    return holidays.country_holidays(country.upper(), years=range(first.year, last.year + 1))


def _on(days: str | tuple[str, ...], day: date, calendar) -> bool:
    """Does `day` match `days` ("daily", "workdays", "weekends" or config's weekday names)?

    Weekends follow the calendar: a make-up workday is a workday.
    """
    if days == "daily":
        return True
    if days in ("workdays", "weekends"):
        weekend = day.weekday() in (calendar.weekend if calendar is not None else (5, 6))
        if calendar is not None and day in calendar.weekend_workdays:
            weekend = False
        return weekend == (days == "weekends")
    return WEEKDAYS[day.weekday()] in days


def _skipped(local: datetime, off: set[date], quiet: QuietHours | None) -> str | None:
    if local.date() in off:
        return "holiday"
    if in_quiet_hours(quiet, local.time()):
        return "quiet-hours"
    return None


def in_quiet_hours(quiet: QuietHours | None, t: time) -> bool:
    """Whether the time of day `t` (the station's local time) is in the quiet hours, as the plan skips them:
    from inclusive, to exclusive; from after to wraps past midnight; from == to is no quiet time."""
    if quiet is None:
        return False
    if quiet.start <= quiet.end:
        return quiet.start <= t < quiet.end
    return t >= quiet.start or t < quiet.end


def quiet_span(quiet: QuietHours) -> str:
    """The quiet hours for people: "21:30–07:00" (the same in both languages)."""
    return f"{clock(quiet.start)}–{clock(quiet.end)}"


# --- for people: clip titles, air time, timings in words (the page and the commands) ---------------

def clip_title(clip: dict) -> str:
    """A clip's title for people; without one, the start of its text, else its id."""
    return str(clip.get("title") or (shorten(clip["text"]) if isinstance(clip.get("text"), str) and clip["text"].strip()
                                     else clip.get("id") or ""))


def clip_titles(*manifests: dict | None) -> dict[str, str]:
    """Clip id → title from the manifests given (the first that knows an id wins)."""
    titles: dict[str, str] = {}
    for manifest in manifests:
        for clip in (manifest or {}).get("clips", []) if isinstance(manifest, dict) else ():
            if clip.get("id") is not None:
                titles.setdefault(str(clip["id"]), clip_title(clip))
    return titles


def air_seconds(broadcast: Broadcast, clips: list[dict]) -> float | None:
    """How long one round of the broadcast is on air: its clips × repeat, with the gaps between them
    (the chime is inside each clip); None when no clip says how long it is."""
    durations = [float(c.get("duration_s") or 0) for c in clips]
    if not clips or not any(durations):
        return None
    played = len(clips) * broadcast.repeat
    return sum(durations) * broadcast.repeat + broadcast.gap_s * (played - 1)


def round_room(broadcast: Broadcast, wall: time) -> tuple[float, time | None] | None:
    """How long the round at `wall` has before the broadcast's next round is due, in seconds, and that next
    time for `at` times (None for a loop, whose room is `every`); None for other timings and a single time."""
    if broadcast.start is not None and broadcast.every_s:
        return float(broadcast.every_s), None
    times = sorted(set(broadcast.at))
    if len(times) < 2:
        return None
    later = [t for t in times if t > wall]
    following = later[0] if later else times[0]
    seconds = _seconds(following) - _seconds(wall)
    return float(seconds if seconds > 0 else seconds + 86400), following


def quiet_times(broadcast: Broadcast, quiet: QuietHours | None) -> list[time]:
    """The broadcast's times of day that fall in the quiet hours (they are skipped), earliest first."""
    if quiet is None:
        return []
    day = datetime(2024, 1, 1)
    if broadcast.once is not None:
        walls = {broadcast.once.time()}
    elif broadcast.cron is not None:      # its minute and hour fields, on whichever days it runs (15th, June...)
        minute, hour = broadcast.cron.split()[:2]
        walls = {wall.time() for _, wall in _cron(f"{minute} {hour} * * *", day, day + ONE_DAY)}
    else:
        walls = {wall.time() for _, wall in _wall_times(broadcast, day.date(), day.date())}
    return sorted(t for t in walls if in_quiet_hours(quiet, t))


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def clock(t: time) -> str:
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


ZH_DAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
EN_DAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
DAY_SET_WORDS = {"daily": ("每天", "daily"), "workdays": ("工作日", "workdays"), "weekends": ("周末", "weekends")}
_CRON_DAYS = {name: n for n, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


def duration_words(seconds: float) -> tuple[str, str]:
    """3725 → ("1 小时 2 分 5 秒", "1 h 2 min 5 s")."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    zh = [f"{hours} 小时"] * bool(hours) + [f"{minutes} 分"] * bool(minutes) + [f"{secs} 秒"] * bool(secs or not whole)
    en = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes) + [f"{secs} s"] * bool(secs or not whole)
    if minutes and not hours and not secs:
        zh = [f"{minutes} 分钟"]
    return " ".join(zh), " ".join(en)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def weekday_words(days: list[int]) -> tuple[str, str]:
    """Weekday numbers (0 = Monday) → ("每周一、周三", "Mondays and Wednesdays"); a run of three or more
    reads as a range ("每周一至周五", "Mondays to Fridays")."""
    days = sorted(set(days))
    if len(days) == 7:
        return "每天", "daily"
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"每{ZH_DAYS[days[0]]}至{ZH_DAYS[days[-1]]}", f"{EN_DAYS[days[0]]} to {EN_DAYS[days[-1]]}"
    return "每" + "、".join(ZH_DAYS[d] for d in days), _and([EN_DAYS[d] for d in days])


def days_words(days: str | tuple[str, ...]) -> tuple[str, str]:
    """A broadcast's `days` in words."""
    if isinstance(days, str):
        return DAY_SET_WORDS.get(days, (days, days))
    return weekday_words([WEEKDAYS.index(d) for d in days if d in WEEKDAYS])


def _cron_numbers(field: str, low: int, high: int, names: dict[str, int] | None = None) -> list[int] | None:
    """A cron field of numbers, lists and ranges (no steps) → its values; None for anything else."""
    values: list[int] = []
    for part in field.lower().split(","):
        ends = part.split("-")
        if len(ends) > 2:
            return None
        try:
            bounds = [names[e] if names and e in names else int(e) for e in ends]
        except ValueError:
            return None
        if not all(low <= b <= high for b in bounds) or bounds[0] > bounds[-1]:
            return None
        values += range(bounds[0], bounds[-1] + 1)
    return sorted(set(values))


def cron_words(expression: str) -> tuple[str, str] | None:
    """A common crontab line in words: `0 9 * * 1` → ("每周一 09:00", "Mondays 09:00"); a fixed minute and
    hour(s), with weekdays and/or days of the month. None for anything else (show the line itself)."""
    fields = expression.split()
    if len(fields) != 5 or fields[3] != "*":
        return None
    minute, hour, dom, _, dow = fields
    minutes, hours = _cron_numbers(minute, 0, 59), _cron_numbers(hour, 0, 23)
    if not minutes or not hours or len(minutes) != 1:
        return None
    times = [f"{h:02d}:{minutes[0]:02d}" for h in hours]
    day_part: list[tuple[str, str]] = []
    if dom != "*":
        numbers = _cron_numbers(dom, 1, 31)
        if not numbers:
            return None
        day_part.append(("每月 " + "、".join(f"{n} 日" for n in numbers),
                         "on the " + _and([_ordinal(n) for n in numbers]) + " of each month"))
    if dow != "*":
        numbers = _cron_numbers(dow, 0, 7, _CRON_DAYS)
        if not numbers:
            return None
        day_part.append(weekday_words([(n - 1) % 7 for n in numbers]))      # cron: 0 and 7 are Sunday
    if not day_part:
        day_part.append(("每天", "daily"))
    zh = "和".join(z for z, _ in day_part) + " " + "、".join(times)
    en = " and ".join(e for _, e in day_part) + " " + ", ".join(times)
    return zh, en


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def timing_words(broadcast: Broadcast) -> tuple[str, str]:
    """When a broadcast plays, in plain words: ("工作日 08:00、12:00", "workdays 08:00, 12:00")."""
    b = broadcast
    day_zh, day_en = days_words(b.days)
    if b.once is not None:
        return f"仅一次：{b.once:%Y-%m-%d} {clock(b.once.time())}", f"once: {b.once:%Y-%m-%d} {clock(b.once.time())}"
    if b.at:
        times = [clock(t) for t in sorted(b.at)]
        return f"{day_zh} {'、'.join(times)}", f"{day_en} {', '.join(times)}"
    if b.start is not None:
        every_zh, every_en = duration_words(b.every_s or 0)
        span = f"{clock(b.start)}–{clock(b.until)}"
        return f"{day_zh} {span}，每 {every_zh}一次", f"{day_en} {span}, every {every_en}"
    if b.cron is not None:
        words = cron_words(b.cron) or (f"按 cron 表达式 {b.cron}", f"cron {b.cron}")
        if b.days == "daily":
            return words
        return f"{words[0]}（仅限{day_zh.removeprefix('每')}）", f"{words[1]} ({day_en} only)"
    return "", ""
