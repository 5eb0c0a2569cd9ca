"""The station (`announcer run`): carries out the plan, day after day, with nobody at the keyboard.

Three parts:

- `Daemon` decides: an occurrence whose time has come is played (through the
  one `PlayQueue`), recorded as skipped, or, when it is too late, as missed. It
  reloads schedule.toml when it changes and catches up after a stop. Its clock
  and player are replaceable, so tests drive it without waiting.
- `Timetable` keeps APScheduler in step with the plan: one job per occurrence
  in the next hour (stable id: broadcast and time), plus a job that watches
  schedule.toml and one that plans ahead. APScheduler sleeps until the next job.
- `run()` wires them up, handles SIGTERM/SIGINT and logs one short line per event.
  It also opens the control socket (station/control.py: play now, stop, status,
  for the web page) and, with `page` (`run --web`), serves the page from the same process.

Missed occurrences: on start, and after the machine slept, an occurrence the
play log has not seen plays now when it is at most `grace` (5 min) late; only
the latest of each broadcast plays, oldest broadcast first. Older ones, back to
the last occurrence the play log holds (at most 24 h), are recorded missed.
A scheduler job that runs late gives way to a later occurrence of its broadcast
that is already due. Nothing plays twice: a broadcast is on the play log
("playing") before it sounds. All time arithmetic is in UTC; the station's zone
is for plan() and display only.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from announcer.core.config import MANUAL, Broadcast, Config, load_config
from announcer.core.control import ControlError, Reply, playing_by_hand
from announcer.core.errors import AnnouncerError, ConfigError, LibraryError, shorten, tr
from announcer.core.library import Library
from announcer.core.logs import log_to_stderr, use_zone
from announcer.core.plan import Occurrence, clip_titles, plan, skip_reason, station_zone
from announcer.core.playlog import PlayLog, Record
from announcer.station import players
from announcer.station.control import ControlServer
from announcer.station.playqueue import PlayQueue, Turn, day_clips

log = logging.getLogger("announcer.station")

GRACE = timedelta(minutes=5)       # how late an occurrence may still play
LOOKBACK = timedelta(hours=24)     # how far back a start looks for missed occurrences
WATCH_S = 2                        # schedule.toml is checked this often (seconds)
AHEAD = timedelta(hours=1)         # occurrences get a scheduler job this far ahead...
REPLAN_S = 15 * 60                 # ...renewed this often (seconds)
PAGE_CHECK_S = 1                   # with --web, whether the page still runs is checked this often (seconds)
PAGE_STOP_S = 3.0                  # at start, how long to wait for a page playing on its own player to stop


def manual_name(what: str) -> str:
    """The play log's name for something played by hand: the broadcast's name or the clip ids after a prefix."""
    return tr(MANUAL[0], MANUAL[1]) + what


def is_manual(name: str) -> bool:
    return name.startswith(MANUAL)


class StationError(AnnouncerError):
    """The station cannot start."""


class Daemon:
    def __init__(self, config: Config, out: Path, *, player: str | None = None,
                 clock: Callable[[], datetime] | None = None,
                 get_player: Callable[..., object] | None = None,
                 grace: timedelta = GRACE, lookback: timedelta = LOOKBACK, page_stop_s: float = PAGE_STOP_S):
        self.out = Path(out)
        self.grace, self.lookback = grace, lookback
        self.page_stop_s = page_stop_s
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._player_name = player
        self._get_player = get_player or players.get_player
        self._player = None
        self._lock = threading.RLock()
        self._taken: set[tuple[str, datetime]] = set()   # occurrences handled in this run
        self._warned: set[tuple[object, str]] = set()
        self._unwritten: list[Record] = []              # play-log records waiting for the log to take them
        self._log_trouble: tuple[str, float] | None = None   # the last play-log error said, and when
        self._use(config)
        self._config_state = self._config_stat()
        self.playlog = PlayLog(self.out)
        self.queue = PlayQueue(Library(self.out), self.player, self._finished, self.local_now, self._drop_player,
                               began=self._began)

    def _use(self, config: Config) -> None:
        self.config = config
        self.zone = station_zone(config.station)

    def now(self) -> datetime:
        """The current instant, in UTC: all time arithmetic is done in UTC (within one zone Python
        subtracts wall clocks, which is wrong across a clock change)."""
        return self._clock().astimezone(timezone.utc)

    def local_now(self) -> datetime:
        """The current instant in the station's zone: for display and the play log."""
        return self.now().astimezone(self.zone)

    # --- start and stop -------------------------------------------------------

    def start(self) -> datetime:
        """Start the player queue and catch up on what came due while the station was down; returns up to when."""
        self.queue.start()
        try:
            name = self.player().name
            log.info(tr(f"播放器：{name}", f"player: {name}"))
        except AnnouncerError as e:
            log.error(tr(f"{e}（到点时会再试）", f"{e} (will try again at each occurrence)"))
        # "playing" rows whose player is gone: an earlier station's (this one holds the station lock), and
        # plays by hand unless a page is playing on its own right now (it ends its rows itself).
        by_hand = self._wait_for_page()
        for cut in self._playlog(lambda: self.playlog.unfinished()) or []:
            if not (by_hand and is_manual(cut.broadcast)):
                self._record(replace(cut, result="failed",
                                     reason=tr("电台在播放途中停止", "the station stopped while it played")))
        now = self.now()
        # Plays by hand are left out: they may have been made (through `announcer serve`) while no station ran,
        # and must not hide what it missed meanwhile.
        last = self._playlog(lambda: self.playlog.last_scheduled(exclude=MANUAL))
        since = now - self.grace if last is None else max(last, now - self.lookback)
        self.catch_up(since, now, why=tr("电台没有运行", "the station was not running"))
        return now

    def _wait_for_page(self) -> bool:
        """A page playing on its own player stops once it sees this station (it looks every HANDOVER_S): wait
        up to `page_stop_s` for it, so two players do not sound at once. True when it still plays (said once)."""
        end = time.monotonic() + self.page_stop_s
        while playing_by_hand(self.out):
            if time.monotonic() >= end:
                log.warning(tr(f"网页在 {self.page_stop_s:g} 秒内没有停止它自己的播放；电台照常开始",
                               f"the page did not stop its own playback within {self.page_stop_s:g} s; "
                               "the station starts anyway"))
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self.queue.close()
        if not self.flush_playlog() and self._unwritten:
            lines = "; ".join(f"{r.broadcast} {r.scheduled:%m-%d %H:%M:%S} {r.result}" for r in self._unwritten)
            log.error(tr(f"有 {len(self._unwritten)} 条播放记录没能写入播放记录：{lines}",
                         f"{len(self._unwritten)} play-log record(s) could not be written: {lines}"))

    # --- by hand: play now, stop (station/control.py) -------------------------------

    def play_broadcast(self, name: str) -> Reply:
        """Play a broadcast of the schedule now, with its repeat, gap and volume, cutting in like an urgent one."""
        with self._lock:
            config = self.config
        found = next((b for b in config.broadcasts if b.name == name), None)
        if found is None:
            names = [b.name for b in config.broadcasts]
            shown = shorten(name, 40)
            raise ControlError(
                f"播放计划里没有叫「{shown}」的广播" + (f"（有：{'、'.join(names)}）。" if names else "。"),
                f"there is no broadcast called \"{shown}\" in the schedule"
                + (f" (there are: {', '.join(names)})" if names else ""))
        occurrence = Occurrence(self.local_now(), replace(found, name=manual_name(found.name), priority="urgent"))
        _, clips = day_clips(self.queue.library, occurrence)       # not built: said now, nothing is queued
        return self._play_now(occurrence, len(clips) * found.repeat, found.name)

    def play_clips(self, day: date, clip_ids: tuple[str, ...]) -> Reply:
        """Play clips of a day now, once each (with the first broadcast's gap, as on a USB stick), cutting in
        like an urgent broadcast."""
        found = self.queue.library.day(day)
        if found is None:
            raise LibraryError(f"{day} 还没有生成音频；请先生成。", f"no clips for {day} yet; build them first")
        known = {c.get("id") for c in found[1].get("clips", [])}
        unknown = [i for i in clip_ids if i not in known]
        if unknown:
            shown = shorten(", ".join(unknown), 60)
            raise ControlError(f"{day} 的音频里没有 {shown}。", f"{shown}: not among {day}'s clips")
        titles = clip_titles(found[1])
        label = shorten(", ".join(titles[i] for i in clip_ids), 80)     # the record says what a person knows
        with self._lock:
            gap = self.config.broadcasts[0].gap_s if self.config.broadcasts else Broadcast("").gap_s
        occurrence = Occurrence(self.local_now(), Broadcast(name=manual_name(label), gap_s=gap, priority="urgent"))
        return self._play_now(occurrence, len(clip_ids), label, day=day, clip_ids=tuple(clip_ids))

    def _play_now(self, occurrence: Occurrence, count: int, what: str, **turn) -> Reply:
        on_air, waiting = self.queue.snapshot()
        ahead = sum(t.urgent for t in ([on_air] if on_air else []) + waiting)
        log.info(tr(f"手动播放「{what}」", f"playing \"{what}\" by hand"))
        self.queue.submit(occurrence, **turn)
        if ahead:
            return Reply(f"「{what}」排在 {ahead} 个紧急广播之后播放（{count} 段）。",
                         f"\"{what}\" plays after {ahead} urgent broadcast(s) ({count} clip(s))", {"queued": True})
        return Reply(f"正在播放「{what}」（{count} 段）。", f"playing \"{what}\" now ({count} clip(s))",
                     {"queued": True})

    def stop_by_hand(self) -> Reply:
        """Stop what is on air and drop what waits; each is recorded as stopped by hand."""
        turn, dropped = self.queue.stop_all(tr("手动停止", "stopped by hand"))
        if turn is None and not dropped:
            return Reply("现在没有在播放的广播。", "nothing is playing", {"stopped": False})
        log.info(tr("已手动停止播放", "stopped by hand"))
        zh = f"已停止「{turn.name}」" if turn else "已停止"
        en = f"stopped \"{turn.name}\"" if turn else "stopped"
        if dropped:
            zh += f"，取消了 {len(dropped)} 个排队的广播"
            en += f"; {len(dropped)} waiting broadcast(s) dropped"
        return Reply(zh + "。", en, {"stopped": True})

    def status(self) -> Reply:
        """What is on air and what waits."""
        turn, waiting = self.queue.snapshot()
        data = {"on_air": _turn_json(turn), "waiting": [_turn_json(t) for t in waiting]}
        if turn is None and not waiting:
            return Reply("现在没有在播放的广播。", "nothing is playing", data)
        zh = f"正在播放「{turn.name}」" if turn else "正在准备播放"
        en = f"on air: \"{turn.name}\"" if turn else "about to play"
        if waiting:
            zh += f"，还有 {len(waiting)} 个在排队"
            en += f"; {len(waiting)} waiting"
        return Reply(zh + "。", en, data)

    # --- what happens at an occurrence -----------------------------------------

    def upcoming(self, start: datetime, end: datetime) -> list[Occurrence]:
        return plan(self.config, start, end)

    def due(self, occurrence: Occurrence) -> None:
        """The occurrence's time has come: play it (through the queue) or record that it is skipped."""
        if not self._take(occurrence):
            return
        if occurrence.skipped:
            reason = skip_reason(occurrence.skipped)
            log.info(tr(f"跳过「{occurrence.broadcast.name}」（{reason}）",
                        f"skipping \"{occurrence.broadcast.name}\" ({reason})"))
            self._record(Record(occurrence.time, occurrence.broadcast.name, (), "skipped", reason))
        else:
            self.queue.submit(occurrence)

    def fire(self, occurrence: Occurrence) -> None:
        """The scheduler's job for an occurrence, which may run late (after a sleep or while busy): when a later
        occurrence of the same broadcast is already due, this one is recorded missed and the later one plays
        (as in catch_up: no backlog plays twice)."""
        now = self.now()
        if not occurrence.skipped and now > occurrence.time:
            later = [o for o in self.upcoming(occurrence.time + timedelta(microseconds=1), now + timedelta(microseconds=1))
                     if o.broadcast.name == occurrence.broadcast.name and not o.skipped and o.time > occurrence.time]
            if later:
                self.missed(occurrence, tr("同一广播有更晚的一次，只补播那一次",
                                           "a later occurrence of the same broadcast plays instead"))
                return
        self.due(occurrence)

    def missed(self, occurrence: Occurrence, why: str, quiet: bool = False) -> None:
        record = self._miss(occurrence, why)
        if record is None:
            return
        if not quiet:
            log.warning(tr(f"错过「{occurrence.broadcast.name}」{occurrence.time:%m-%d %H:%M:%S}（{why}）",
                           f"missed \"{occurrence.broadcast.name}\" of {occurrence.time:%m-%d %H:%M:%S} ({why})"))
        self._record(record)

    def _miss(self, occurrence: Occurrence, why: str) -> Record | None:
        """Claim an occurrence as missed; its record (to be written), or None when it was already handled."""
        if not self._take(occurrence):
            return None
        return Record(occurrence.time, occurrence.broadcast.name, (), "missed", why)

    def catch_up(self, since: datetime, now: datetime, why: str) -> None:
        """Occurrences in [since, now) nobody handled: the latest of each broadcast within the grace time
        plays now (oldest first); the others are recorded missed (in one transaction, one log line a
        broadcast), or skipped."""
        late = [o for o in self.upcoming(since, now) if not self._handled(o)]
        latest = {o.broadcast.name: o for o in late if not o.skipped and now - o.time <= self.grace}
        missed: dict[str, list[Occurrence]] = {}
        gone: list[Record] = []
        for o in late:
            if o.skipped:
                self.due(o)
            elif latest.get(o.broadcast.name) is o:
                log.info(tr(f"「{o.broadcast.name}」{o.time:%H:%M:%S} 晚了 {_ago(now - o.time)}，在宽限时间内，现在补播",
                            f"\"{o.broadcast.name}\" of {o.time:%H:%M:%S} is {_ago(now - o.time)} late, "
                            "within the grace time: playing it now"))
                self.due(o)
            else:
                record = self._miss(o, why if now - o.time > self.grace else
                                    tr("同一广播有更晚的一次，只补播那一次", "a later occurrence of the same broadcast plays instead"))
                if record is not None:
                    gone.append(record)
                    missed.setdefault(o.broadcast.name, []).append(o)
        if gone:
            with self._lock:
                self._unwritten.extend(gone)
                self.flush_playlog()
        for name, times in missed.items():
            first, last = f"{times[0].time:%m-%d %H:%M:%S}", f"{times[-1].time:%m-%d %H:%M:%S}"
            log.warning(tr(f"错过「{name}」{len(times)} 次（{first}" + (f" 到 {last}" if len(times) > 1 else "") + f"，{why}）",
                           f"missed \"{name}\" {len(times)} time(s) ({first}" + (f" to {last}" if len(times) > 1 else "")
                           + f"; {why})"))

    # --- schedule.toml ---------------------------------------------------------

    def reload(self) -> bool:
        """Read schedule.toml again when it changed; True when a new schedule is in use."""
        state = self._config_stat()
        if state == self._config_state:
            return False
        self._config_state = state
        if state is None:
            self._config_trouble(tr(f"读不到 {self.config.path}", f"cannot read {self.config.path}"), [])
            return False
        try:
            config = load_config(self.config.path)
        except ConfigError as e:
            self._config_trouble(tr(f"{self.config.path} 有错误", f"{self.config.path} has errors"),
                                 [str(p) for p in e.problems])
            return False
        language = self.config.language
        self.use_config(config)
        if os.environ.get("ANNOUNCER_LANG") == language:     # it came from schedule.toml (cli._config)
            os.environ["ANNOUNCER_LANG"] = config.language
        use_zone(self.zone)
        log.info(tr(f"已重新读取 {config.path}：{len(config.broadcasts)} 个广播",
                    f"reloaded {config.path}: {len(config.broadcasts)} broadcast(s)"))
        return True

    def use_config(self, config: Config) -> None:
        """Use `config` from now on; the player is found again when its settings changed."""
        with self._lock:
            old = self.config.station
            self._use(config)
            if (old.player, old.device) != (config.station.player, config.station.device):
                self._player = None

    def _config_stat(self) -> tuple[int, ...] | None:
        """What tells an edit: an editor that replaces the file changes the inode, any write the ctime
        (a same-size edit within one mtime tick changes neither mtime nor size)."""
        try:
            info = os.stat(self.config.path)
            return info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns
        except (OSError, TypeError):
            return None

    def _config_trouble(self, what: str, problems: list[str]) -> None:
        log.error(tr(f"{what}，继续使用上一次正确的时间表", f"{what}; the last good schedule keeps running")
                  + (tr("：", ":") if problems else ""))
        for problem in problems:
            log.error("  " + problem)

    # --- the player and the play log -------------------------------------------

    def player(self):
        """The player, found when first needed and again after it failed (a speaker may come back)."""
        with self._lock:
            if self._player is None:
                name = self._player_name or self.config.station.player
                self._player = self._get_player(name, self.config.station.device)
            return self._player

    def prepare(self, occurrences: list[Occurrence]) -> None:
        """Get the clips of the coming occurrences ready to play (MP3s decoded), so each starts on the dot.
        A day not built yet is reported here, once, ahead of time."""
        try:
            ready = getattr(self.player(), "prepare", None)
        except AnnouncerError:
            return
        library, done = self.queue.library, set()
        for o in occurrences:
            if o.skipped:
                continue
            try:
                folder, clips = day_clips(library, o)
            except AnnouncerError as e:
                if (o.time.date(), str(e)) not in self._warned:
                    self._warned.add((o.time.date(), str(e)))
                    log.warning(tr(f"「{o.broadcast.name}」{o.time:%m-%d %H:%M}：{e}",
                                   f"\"{o.broadcast.name}\" at {o.time:%m-%d %H:%M}: {e}"))
                continue
            for clip in clips:
                key = (folder / str(clip.get("file", "")), o.broadcast.volume_db)
                if ready is not None and key not in done:
                    done.add(key)
                    try:
                        ready(*key)
                    except (AnnouncerError, OSError):
                        pass                     # reported when it plays

    def _drop_player(self) -> None:
        with self._lock:
            self._player = None

    def _began(self, turn: Turn) -> None:
        """On the record before the first clip sounds: after a crash mid-broadcast the occurrence is neither
        played again nor left without a record. The end of the turn replaces this row."""
        self._record(Record(turn.occurrence.time, turn.name, (), "playing", started=turn.started))

    def _finished(self, turn: Turn, result: str, reason: str | None) -> None:
        ended = self.local_now() if turn.started else None
        if result == "played":
            log.info(tr(f"播完「{turn.name}」", f"finished \"{turn.name}\"") + (f" ({reason})" if reason else ""))
        elif result == "failed":
            log.warning(tr(f"「{turn.name}」记为失败：{reason}", f"\"{turn.name}\" recorded as failed: {reason}"))
        self._record(Record(turn.occurrence.time, turn.name, tuple(turn.played), result, reason,
                            started=turn.started, ended=ended))

    def _record(self, record: Record) -> None:
        """Into the play log; when it cannot be written (a full disk, a locked or damaged log) the record
        waits here, in order, and is written with the next one or by flush_playlog."""
        with self._lock:
            self._unwritten = [r for r in self._unwritten
                               if (r.broadcast, r.scheduled) != (record.broadcast, record.scheduled)] + [record]
            self.flush_playlog()

    def flush_playlog(self) -> bool:
        """Write the records waiting for the play log; True when none waits."""
        with self._lock:
            if not self._unwritten:
                return True
            count = len(self._unwritten)
            if self._playlog(lambda: self.playlog.add_many(self._unwritten) or True) is None:
                return False
            self._unwritten.clear()
            if self._log_trouble is not None:
                self._log_trouble = None
                log.info(tr(f"播放记录又能写入了：补写了 {count} 条", f"the play log works again: {count} records written"))
            return True

    def _playlog(self, action: Callable[[], object]):
        """Play-log access from any thread, one at a time; a failing log is reported (the same trouble once
        a minute), never fatal."""
        with self._lock:
            try:
                result = action()
            except (AnnouncerError, OSError) as e:
                said, now = str(e), time.monotonic()
                if self._log_trouble is None or self._log_trouble[0] != said or now - self._log_trouble[1] > 60:
                    waiting = len(self._unwritten)
                    log.error(tr(f"无法写入播放记录：{e}" + (f"（{waiting} 条记录等着写入）" if waiting else ""),
                                 f"cannot use the play log: {e}" + (f" ({waiting} record(s) waiting)" if waiting else "")))
                    self._log_trouble = (said, now)
                return None
            return result

    def _handled(self, occurrence: Occurrence) -> bool:
        key = _key(occurrence)
        with self._lock:
            return key in self._taken or bool(self._playlog(
                lambda: self.playlog.seen(occurrence.broadcast.name, occurrence.time)))

    def _take(self, occurrence: Occurrence) -> bool:
        """Claim an occurrence; False when it was already handled (nothing happens twice)."""
        with self._lock:
            if self._handled(occurrence):
                return False
            self._taken.add(_key(occurrence))
            return True

    def forget_before(self, moment: datetime) -> None:
        """Drop memory of occurrences before `moment` (the play log still has them)."""
        with self._lock:
            self._taken = {key for key in self._taken if key[1] >= moment}


def _turn_json(turn: Turn | None) -> dict | None:
    if turn is None:
        return None
    clips = turn.clips or []
    clip = clips[turn.index].get("id") if turn.index < len(clips) else None
    return {"name": turn.name, "scheduled": turn.occurrence.time.isoformat(), "urgent": turn.urgent,
            "started": turn.started.isoformat() if turn.started else None, "clip": clip,
            "clip_number": turn.index + 1 if clip else None, "clips": len(clips)}


def _key(occurrence: Occurrence) -> tuple[str, datetime]:
    """In UTC: two local times that differ only in fold (a fall-back hour) compare and hash equal."""
    return occurrence.broadcast.name, occurrence.time.astimezone(timezone.utc)


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return tr(f"{seconds // 60} 分 {seconds % 60} 秒", f"{seconds // 60} min {seconds % 60} s") if seconds >= 60 \
        else tr(f"{seconds} 秒", f"{seconds} s")


class Timetable:
    """APScheduler in step with the daemon's plan."""

    def __init__(self, daemon: Daemon, scheduler=None):
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.daemon = daemon
        self.scheduler = scheduler or BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={
                "coalesce": True,                 # after a sleep, a periodic job runs once, not once per lost turn
                "max_instances": 1,
                # An occurrence more than `grace` late (the machine slept) is reported missed, not played.
                "misfire_grace_time": max(1, int(daemon.grace.total_seconds())),
            },
            timezone=timezone.utc)         # in UTC: APScheduler subtracts same-zone times by wall clock
        self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
        self.scheduler.add_listener(self._error, EVENT_JOB_ERROR)
        self._jobs: dict[str, Occurrence] = {}
        self._planned_until: datetime | None = None
        self._preparing: threading.Thread | None = None
        self._versions: dict = {}           # day -> its version folder, when its clips were last prepared
        self._lock = threading.Lock()

    def start(self, since: datetime | None = None) -> None:
        """Start scheduling; occurrences from `since` (where the daemon's catch-up ended) to now are caught up."""
        self._planned_until = since
        # These run however late they are: after a sleep they catch up at once.
        self.scheduler.add_job(self._watch, "interval", seconds=WATCH_S, id="watch-schedule",
                               misfire_grace_time=None)
        self.scheduler.add_job(self.sync, "interval", seconds=REPLAN_S, id="plan-ahead", misfire_grace_time=None)
        self.sync()
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            # Pause, and let a pass over the due jobs finish (get_jobs waits for it): shutting down in the
            # middle of one makes APScheduler 3.11 fail to remove a date job that just ran (JobLookupError).
            self.scheduler.pause()
            self.scheduler.get_jobs()
            self.scheduler.shutdown(wait=False)

    def sync(self) -> None:
        """One job per occurrence in the next hour; anything between the last plan and now was slept through."""
        with self._lock:
            now = self.daemon.now()
            if self._planned_until is not None and self._planned_until < now:      # at most `lookback` back
                since = max(self._planned_until, now - self.daemon.lookback)
                self.daemon.catch_up(since, now, why=tr("电脑休眠或太忙", "the machine was asleep or busy"))
            wanted: dict[str, Occurrence] = {}
            for occurrence in self.daemon.upcoming(now, now + AHEAD):
                wanted.setdefault(job_id(occurrence), occurrence)
            for job in self.scheduler.get_jobs():     # dropped from the schedule (jobs already due run or miss)
                gone = self._jobs.get(job.id)
                if gone is not None and job.id not in wanted and gone.time >= now:
                    job.remove()
                    del self._jobs[job.id]
            for key, occurrence in wanted.items():
                if self._jobs.get(key) == occurrence and self.scheduler.get_job(key):
                    continue
                self.scheduler.add_job(self.daemon.fire, "date", run_date=occurrence.time.astimezone(timezone.utc),
                                       args=[occurrence],
                                       id=key, replace_existing=True)
                self._jobs[key] = occurrence
            self._planned_until = now + AHEAD
            self._prepare(list(wanted.values()))
            self._jobs = {k: o for k, o in self._jobs.items() if o.time >= now - self.daemon.lookback}
            self.daemon.forget_before(now - 2 * self.daemon.lookback)

    def _prepare(self, occurrences: list[Occurrence]) -> None:
        """Decode the occurrences' clips ahead, in the background (one pass at a time)."""
        if self._preparing and self._preparing.is_alive():
            return
        library = self.daemon.queue.library
        self._versions = {day: library.day_version(day) for day in {o.time.date() for o in occurrences}}
        self._preparing = threading.Thread(target=self.daemon.prepare, args=(occurrences,),
                                           name="announcer-prepare", daemon=True)
        self._preparing.start()

    def _watch(self) -> None:
        self.daemon.flush_playlog()            # records that waited for a full disk or a locked log
        if self.daemon.reload():
            self.sync()
            return
        # A day rebuilt (its link swapped to a new version): prepare its clips now, not at the next sync.
        with self._lock:
            now, library = self.daemon.now(), self.daemon.queue.library
            coming = [o for o in self._jobs.values() if o.time >= now]
            if any(library.day_version(day) != folder for day, folder in self._versions.items()) or \
                    {o.time.date() for o in coming} - self._versions.keys():
                self._prepare(coming)

    def _missed(self, event) -> None:
        occurrence = self._jobs.get(event.job_id)
        if occurrence is not None:
            late = self.daemon.now() - occurrence.time
            self.daemon.missed(occurrence, tr(
                f"晚了 {_ago(late)}，超过宽限时间（电脑休眠或太忙）",
                f"{_ago(late)} late, past the grace time (the machine was asleep or busy)"))

    def _error(self, event) -> None:
        log.error(tr(f"内部错误（{event.job_id}）：{type(event.exception).__name__}: {event.exception}",
                     f"internal error ({event.job_id}): {type(event.exception).__name__}: {event.exception}"))
        if os.environ.get("ANNOUNCER_DEBUG"):
            log.error(event.traceback)


def job_id(occurrence: Occurrence) -> str:
    """Stable: the same broadcast at the same moment always has the same id."""
    return f"play:{occurrence.broadcast.name}@{occurrence.time.isoformat()}"


# --- `announcer run` -----------------------------------------------------------

def run(config: Config, out: Path, player: str | None = None, page: Callable[[], object] | None = None,
        companions: tuple[Callable[[], object], ...] = ()) -> int:
    """Run the station until SIGTERM or SIGINT; 0 when it stopped cleanly. With `page` (it makes the web page,
    its port bound, not yet served: `announcer run --web`) the page is served too, from a thread of this
    process, and stopped before the station. Each of `companions` makes something with start() and stop()
    (the link to the office: announcer.district), started once the station plays and stopped before it; one
    that cannot start is logged, and the station plays on."""
    if config.path is None:
        raise StationError("找不到 schedule.toml。请在当前文件夹写一个带 [[broadcast]] 的 schedule.toml，或用 --config 指定。",
                           "no schedule.toml found; write one with [[broadcast]] entries here, or pass --config")
    log_to_stderr(station_zone(config.station))
    # SIGTERM and SIGINT are blocked before any thread starts (threads inherit the mask) and taken with
    # sigwait here: nothing runs inside a signal handler, and no thread is interrupted by one.
    stops = {signal.SIGTERM, signal.SIGINT}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        with one_station(Path(out)), contextlib.ExitStack() as cleanup:     # undone last to first
            page = page() if page else None     # a port in use: nothing has started
            if page is not None:
                cleanup.callback(page.stop)     # frees the port when the start fails
            daemon = Daemon(config, out, player=player)
            cleanup.callback(daemon.stop)
            timetable = Timetable(daemon)
            cleanup.callback(timetable.stop)
            control = ControlServer(daemon, Path(out))
            try:
                control.start()
                cleanup.callback(control.stop)
            except ControlError as e:           # the schedule still plays; only the page cannot reach it
                log.error(str(e))
            timetable.start(since=daemon.start())
            for make in companions:
                try:
                    companion = make()
                    companion.start()
                    cleanup.callback(companion.stop)
                except AnnouncerError as e:     # the schedule still plays
                    log.error(str(e))
            if page is not None:
                page.start()
                log.info(tr(f"网页：{page.url}", f"page at {page.url}"))
            log.info(_on_air(daemon))
            _wait(stops, page)
            log.info(tr("收到停止信号，正在停止……", "stopping..."))
            if page is not None:
                page.stop()                     # first, while the station still answers it
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    log.info(tr("电台已停止", "station stopped"))
    return 0


def _wait(stops: set[signal.Signals], page) -> None:
    """Until SIGTERM or SIGINT. When the page's thread ends, that is said once; the station plays on (the
    broadcasts matter most)."""
    said = False
    while signal.sigtimedwait(stops, PAGE_CHECK_S) is None:
        if page is not None and not page.alive() and not said:
            said = True
            log.error(tr("网页意外停止了；电台继续按时播放。要恢复网页，请重新启动 announcer run --web。",
                         "the web page stopped unexpectedly; the station keeps playing on schedule. "
                         "Restart announcer run --web to get the page back."))


def _on_air(daemon: Daemon) -> str:
    now = daemon.now()
    upcoming = [o for o in daemon.upcoming(now, now + timedelta(days=8)) if not o.skipped][:1]
    name, count = daemon.config.station.name, len(daemon.config.broadcasts)
    if not upcoming:
        return tr(f"电台「{name}」开始运行：{count} 个广播，一周内没有要播的",
                  f"station \"{name}\" on air: {count} broadcast(s), nothing to play in the next week")
    o, when = upcoming[0], f"{upcoming[0].time:%m-%d %H:%M:%S}"
    return tr(f"电台「{name}」开始运行：{count} 个广播；下一个：「{o.broadcast.name}」{when}",
              f"station \"{name}\" on air: {count} broadcast(s); next: \"{o.broadcast.name}\" at {when}")


class one_station:
    """Only one station per clip library: two would play everything twice."""

    def __init__(self, out: Path):
        self.out = out

    def __enter__(self):
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.out / ".station.lock", "a")
        except OSError as e:
            raise StationError(f"无法使用音频文件夹（{e.strerror or e}）；请检查 --out 和权限",
                               f"cannot use the clip folder ({e.strerror or e}); check --out and the permissions",
                               str(self.out)) from None
        for _ in range(20):        # the page's probe (announcer.core.control.station_running) holds it briefly
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                time.sleep(0.025)
        else:
            self._handle.close()
            raise StationError("已经有一个 announcer run 在播放这个文件夹的音频；同一时间只能运行一个。",
                               "another announcer run is already playing from this folder; only one may run",
                               str(self.out)) from None
        return self

    def __exit__(self, *exc):
        self._handle.close()
