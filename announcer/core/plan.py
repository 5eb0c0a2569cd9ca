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
from announcer.core.errors import tr

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


def select_clips(broadcast: Broadcast, manifest: dict) -> list[dict]:
    """The manifest's clips the broadcast plays: "all", or those whose id or a tag is listed; manifest order."""
    clips = manifest.get("clips", [])
    wanted = set(broadcast.clips)
    if "all" in wanted:
        return list(clips)
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
    if quiet is not None and _quiet(local.time(), quiet):
        return "quiet-hours"
    return None


def _quiet(t: time, quiet: QuietHours) -> bool:
    """From inclusive, to exclusive; from after to wraps past midnight; from == to is no quiet time."""
    if quiet.start <= quiet.end:
        return quiet.start <= t < quiet.end
    return t >= quiet.start or t < quiet.end
