"""The status strip at the top of every page: is today built (how many clips, how long), the next broadcast,
the station (running or not, and what is on air), and whether it is quiet hours now.

Worked out on every page, so it stays cheap (the plan of the next week is kept a minute) and never fails a
page: whatever goes wrong leaves that part of the strip out.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from announcer.core.config import MANUAL, Config
from announcer.core.errors import AnnouncerError
from announcer.core.library import Library
from announcer.core.plan import clip_titles, in_quiet_hours, plan, quiet_span, select_clips

log = logging.getLogger("announcer.web")

AHEAD = timedelta(days=8)           # the next broadcast is looked for this far ahead
STATUS_S = 1.0                      # what is on air: the station must answer within this (seconds)
WEEKDAYS_ZH = "一二三四五六日"
_plans: dict = {}                   # (id(config), minute) → (config, occurrences): one plan a minute
_plans_lock = threading.Lock()
_asker = ThreadPoolExecutor(max_workers=2, thread_name_prefix="announcer-status")


@dataclass(frozen=True)
class Strip:
    """What the strip says; None where it could not be found out."""
    built: bool | None = None       # today's clips
    clips: int = 0
    seconds: float = 0.0
    next_name: str | None = None
    next_time: datetime | None = None
    next_when: str = ""             # 今天 14:00 / 明天 08:00 / 12月3日（周四）08:00
    running: bool = False
    on_air: str | None = None       # the title of the clip on air
    on_air_of: str | None = None    # its broadcast, when it is a scheduled one
    quiet: bool = False             # now is in the station's quiet hours
    quiet_hours: str = ""           # "21:30–07:00"
    schedule_broken: bool = False   # schedule.toml cannot be read: the Schedule page says what is wrong


def strip(site, lang: str) -> Strip:
    """The strip for `site` (announcer.web.site.Site) now; each part on its own, none can fail the page."""
    parts: dict = {}
    try:
        now = site.now()
    except Exception:
        log.exception("status strip: the time")
        return Strip(running=_running(site))
    today = now.date()
    manifest = None
    try:
        found = Library(site.out).day(today)
        manifest = None if found is None else found[1]
        clips = [] if manifest is None else manifest.get("clips", [])
        parts.update(built=manifest is not None, clips=len(clips), seconds=sum(_duration(c) for c in clips))
    except Exception as e:               # a damaged manifest: the Today page says what to do
        log.debug(f"status strip: today's clips: {e}")
    try:
        config = site.config()
        quiet = config.station.quiet_hours
        if quiet is not None:
            parts.update(quiet=in_quiet_hours(quiet, now.time()), quiet_hours=quiet_span(quiet))
        following = next_broadcast(config, now)
        if following is not None:
            parts.update(next_name=following.broadcast.name, next_time=following.time,
                         next_when=when(following.time, today, lang))
    except AnnouncerError as e:          # schedule.toml with a mistake: the Schedule page says what
        log.debug(f"status strip: the next broadcast: {e}")
        parts["schedule_broken"] = True
    except Exception:
        log.exception("status strip: the next broadcast")
    parts["running"] = _running(site)
    if parts["running"]:                 # a station that is not running is not asked (no wait on its socket)
        try:
            parts.update(_on_air(site, manifest))
        except Exception:
            log.exception("status strip: on air")
    return Strip(**parts)


def next_broadcast(config: Config, now: datetime):
    """The first occurrence from `now` on that will play (not skipped), within AHEAD; None if there is none."""
    minute = now.replace(second=0, microsecond=0)
    key = (id(config), minute.isoformat())
    with _plans_lock:
        kept = _plans.get(key)
    if kept is None or kept[0] is not config:
        kept = (config, _upcoming(config, minute))
        with _plans_lock:
            _plans.clear()               # only this minute's is wanted
            _plans[key] = kept
    found = next((o for o in kept[1] if o.time >= now), None)
    if found is None and kept[1]:        # all of them earlier in this very minute
        found = next(iter(_upcoming(config, now)), None)
    return found


def _upcoming(config: Config, start: datetime) -> list:
    """The occurrences that will play in the first day-long window from `start` (within AHEAD) that has any:
    a day at a time, as a broadcast every few seconds makes a week's plan long."""
    window, last = start, start + AHEAD
    while window < last:
        end = min(window + timedelta(days=1), last)
        found = [o for o in plan(config, window, end) if not o.skipped]
        if found:
            return found
        window = end
    return []


def when(moment: datetime, today: date, lang: str) -> str:
    """今天 14:00 / 明天 08:00 / 12月3日（周四）08:00 (or today 14:00, tomorrow 08:00, Thu 3 Dec 08:00)."""
    clock = f"{moment:%H:%M}"
    day = moment.date()
    if lang == "en":
        if day == today:
            return f"today {clock}"
        if day == today + timedelta(days=1):
            return f"tomorrow {clock}"
        return f"{moment:%a} {day.day} {moment:%b} {clock}"
    if day == today:
        return f"今天 {clock}"
    if day == today + timedelta(days=1):
        return f"明天 {clock}"
    return f"{day.month}月{day.day}日（周{WEEKDAYS_ZH[day.weekday()]}）{clock}"


def title_of(clip_id: str, manifest: dict | None) -> str:
    """The clip's title in the day's manifest, else its id."""
    return clip_titles(manifest).get(clip_id, clip_id)


def _duration(clip: dict) -> float:
    try:
        return max(float(clip.get("duration_s") or 0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def _running(site) -> bool:
    try:
        return bool(site.controls and site.controls.station_running())
    except Exception:
        return False


def _on_air(site, manifest: dict | None) -> dict:
    """{"on_air": title, "on_air_of": broadcast} from the controls' status, when something is on air. The
    station gets STATUS_S to answer: a busy one leaves it out."""
    controls = site.controls
    if controls is None or not callable(getattr(controls, "status", None)):
        return {}
    try:
        reply = _asker.submit(controls.status).result(timeout=STATUS_S)
    except Late:
        return {}
    except Exception as e:              # the station cannot be reached: the strip says it is not running
        log.debug(f"status strip: the station's status: {e}")
        return {}
    on_air = (getattr(reply, "data", None) or {}).get("on_air")
    if not isinstance(on_air, dict):
        return {}
    name, clip = str(on_air.get("name") or ""), on_air.get("clip")
    manual = name.startswith(MANUAL)
    if clip:
        title = title_of(str(clip), manifest)
    else:
        title = name.removeprefix(MANUAL[0]).removeprefix(MANUAL[1])
    return {"on_air": title or name, "on_air_of": None if manual or not name else name}


def has_chime(site) -> bool:
    """Whether [audio] has a chime to hear alone (chime is not "none"); False when the settings cannot be read."""
    try:
        return site.config().audio.chime != "none"
    except Exception as e:
        log.debug(f"listen box: the chime: {e}")
        return False


def listen_choices(site, day: date) -> list[dict]:
    """The broadcasts for the Listen box on `day`: those that play that day first (with their times and how
    many clips they play), then the others. [] when the schedule cannot be read."""
    try:
        config = site.config()
        zone = site.now().tzinfo
        start = datetime.combine(day, time(), tzinfo=zone)
        found = Library(site.out).day(day)
        manifest = None if found is None else found[1]
        times: dict[str, list[str]] = {}
        for o in plan(config, start, start + timedelta(days=1)):
            if not o.skipped and o.time.date() == day:
                times.setdefault(o.broadcast.name, []).append(f"{o.time:%H:%M}")
    except Exception as e:
        log.debug(f"listen box: {e}")
        return []
    choices = []
    for b in config.broadcasts:
        clips = len(select_clips(b, manifest)) if manifest is not None else 0
        at = times.get(b.name, [])
        choices.append({"name": b.name, "plays": bool(at), "times": at[:4] + (["…"] if len(at) > 4 else []),
                        "clips": clips, "repeat": b.repeat})
    choices.sort(key=lambda c: not c["plays"])
    return choices
