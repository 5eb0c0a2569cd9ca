"""A station under faults on a fast fake clock: the harness behind tests/test_soak.py and bench/soak.py.

The real Daemon (what `announcer run` runs) carries out a schedule of frequent broadcasts from a real clip
library and play log, its clock jumping from one occurrence to the next, its scheduler replaced by
calling `fire` as APScheduler would. Each round (occurrence) may carry one fault:

  rebuild      the day is rebuilt once, or twice in a row, while the broadcast plays
  schedule     schedule.toml is made invalid, reloaded, then fixed and reloaded
  crash        the player fails on the first clip
  hang         the player never ends (the queue's stall limit is shortened)
  early        the player ends at once with success (issue 12 will have it caught)
  missing      a clip file of the day is gone (a rebuild brings it back)
  kill         the station is killed with -9 mid-broadcast, stays down a while, and starts again
  full         the disk is full while the broadcast plays; it has room again a round later
  damaged      the play log file is overwritten with garbage

At the end every planned occurrence must be in the play log exactly once, with the result its fault
calls for, nothing may be left "playing", and the player must have played exactly the clips the
records list (nothing twice, nothing unrecorded).
"""

from __future__ import annotations

import errno
import random
import resource
import threading
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from announcer.core.config import load_config
from announcer.core.library import Library
from announcer.core.plan import Occurrence, plan
from announcer.core.playlog import FILE, PlayLog
from announcer.station import playqueue
from announcer.station.daemon import Daemon

ZONE = ZoneInfo("Asia/Shanghai")
FAULTS = ("rebuild", "schedule", "crash", "hang", "early", "missing", "kill", "full", "damaged")
DOWN_ROUNDS = 3            # occurrences a killed station misses before it is started again


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Playback:
    def __init__(self, path: Path, mode: str):
        self.path, self.ok, self.error = path, False, None
        self._done = threading.Event()
        if mode == "crash":
            self.error = "the player crashed (exit 1)"
            self._done.set()
        elif mode in ("normal", "early"):
            self.ok = True
            self._done.set()               # "hang" and "hold" wait for stop or release

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def stop(self) -> None:
        if not self._done.is_set():
            self.error = "stopped"
            self._done.set()

    def release(self) -> None:
        if not self._done.is_set():
            self.ok = True
            self._done.set()


class Player:
    """Plays at once; `mode` makes the next clip crash, hang or end early; `hold` keeps the next clip on air
    until `release` (a broadcast that is playing while a fault happens)."""
    name = "soak"

    def __init__(self):
        self.mode, self.hold = "normal", False
        self.playbacks: list[Playback] = []
        self.started = threading.Semaphore(0)

    def play(self, path: Path, volume_db: float = 0.0) -> Playback:
        mode, self.mode = self.mode, "normal"
        if self.hold:
            mode, self.hold = "hold", False
        playback = Playback(path, mode)
        self.playbacks.append(playback)
        self.started.release()
        return playback

    def release(self) -> None:
        for playback in self.playbacks[-2:]:
            playback.release()

    def played(self) -> int:
        return sum(p.ok for p in self.playbacks)


@dataclass
class Result:
    occurrences: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)          # planned occurrences with no record
    doubled: list[str] = field(default_factory=list)       # recorded twice (before and after a damaged log)
    wrong: list[str] = field(default_factory=list)         # recorded with another result than expected
    unended: list[str] = field(default_factory=list)       # still "playing"
    plays: int = 0                                         # clips the player played
    recorded_plays: int = 0                                # clips the records say were played
    seconds: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0


class Soak:
    def __init__(self, folder: Path, days: int, every_min: int = 5, seed: int = 1):
        self.folder, self.out = folder, folder / "out"
        self.days, self.every_min = days, every_min
        self.random = random.Random(seed)
        self.config_path = folder / "schedule.toml"
        self.config_path.write_text(self._schedule(), "utf-8")
        self.config = load_config(self.config_path)
        self.player = Player()
        self.expected: dict[tuple[str, datetime], str] = {}
        self.before_damage: dict[tuple[str, datetime], object] = {}
        self.versions = 0

    def _schedule(self) -> str:
        return ('[station]\ntimezone = "Asia/Shanghai"\n\n'
                f'[[broadcast]]\nname = "rounds"\nfrom = "08:00"\nuntil = "20:00"\nevery = "{self.every_min}m"\ngap = "0s"\n\n'
                f'[[broadcast]]\nname = "reminder"\nfrom = "08:02"\nuntil = "20:00"\nevery = "{2 * self.every_min}m"\ngap = "0s"\n\n'
                '[[broadcast]]\nname = "morning"\nat = ["07:30"]\nrepeat = 2\ngap = "0s"\n')

    def publish(self, day: date) -> None:
        """A day of two tiny clips (a new version each time)."""
        self.versions += 1
        source = self.folder / f"src-{self.versions}"
        source.mkdir()
        files, clips = [], []
        for n, clip in enumerate(("water", "lift"), 1):
            name = f"{n:02d}-{clip}.wav"
            (source / name).write_bytes(b"RIFF")
            files.append((name, source / name))
            clips.append({"id": clip, "file": name, "duration_s": 0.01})
        Library(self.out).publish(day, files, {"date": day.isoformat(), "clips": clips})

    def run(self) -> Result:
        first = date(2026, 11, 30)
        start = datetime.combine(first, time(0), tzinfo=ZONE)
        end = start + timedelta(days=self.days)
        for n in range(self.days):
            self.publish(first + timedelta(days=n))
        planned = plan(self.config, start, end)
        result = Result(occurrences=len(planned))
        stall = playqueue.STALL_S
        playqueue.STALL_S = 0.05                       # a hanging player is given up on at once
        began, cpu = clock.perf_counter(), clock.process_time()
        clock_ = Clock(start)
        daemon = self._daemon(clock_)
        daemon.start()
        down: list[Occurrence] = []
        try:
            for i, occurrence in enumerate(planned):
                clock_.now = occurrence.time
                if down:
                    down.append(occurrence)
                    if len(down) > DOWN_ROUNDS:       # started again: it catches up on what it missed
                        clock_.now = occurrence.time + timedelta(seconds=1)
                        self._expect_catch_up(down[1:], clock_.now, daemon.grace)
                        daemon, down = self._daemon(clock_), []
                        daemon.start()
                        daemon.queue.wait_idle(10)
                    continue
                fault = FAULTS[sum(result.faults.values()) % len(FAULTS)] if i % 3 == 1 else None
                if fault:
                    result.faults[fault] = result.faults.get(fault, 0) + 1
                daemon = self._round(daemon, occurrence, fault)
                if fault == "kill":
                    down = [occurrence]
            if down:
                daemon = self._daemon(clock_)
                self._expect_catch_up(down[1:], clock_.now, daemon.grace)
                daemon.start()
                daemon.queue.wait_idle(10)
            daemon.flush_playlog()
        finally:
            daemon.stop()
            playqueue.STALL_S = stall
        result.seconds = clock.perf_counter() - began
        result.cpu_s = clock.process_time() - cpu
        result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self._verify(planned, result)
        return result

    def _expect_catch_up(self, missed: list[Occurrence], now: datetime, grace: timedelta) -> None:
        """What a station started at `now` records for what it did not see: the latest of each broadcast
        within the grace time plays, the rest is missed."""
        latest = {o.broadcast.name: o for o in missed if not o.skipped and now - o.time <= grace}
        for o in missed:
            self.expected[(o.broadcast.name, o.time)] = ("skipped" if o.skipped else
                                                        "played" if latest.get(o.broadcast.name) is o else "missed")

    def _daemon(self, clock_: Clock) -> Daemon:
        return Daemon(self.config, self.out, clock=clock_, get_player=lambda name, device: self.player,
                      page_stop_s=0.01)

    def _round(self, daemon: Daemon, occurrence: Occurrence, fault: str | None) -> Daemon:
        key = (occurrence.broadcast.name, occurrence.time)
        expect = "skipped" if occurrence.skipped else "played"
        day = occurrence.time.date()
        if fault == "damaged":
            self.before_damage.update({(r.broadcast, r.scheduled): r for r in PlayLog(self.out).records()})
            (self.out / FILE).write_bytes(b"not a database " * 64)
        elif fault == "schedule":
            good = self.config_path.read_text("utf-8")
            self.config_path.write_text(good + "\n[[broadcast]]\nname = \n", "utf-8")
            assert not daemon.reload()
            self.config_path.write_text(good, "utf-8")
            daemon.reload()
        elif fault == "missing":
            folder = Library(self.out).day_version(day)
            (folder / "02-lift.wav").unlink()
            expect = "failed"
        elif fault in ("crash", "hang"):
            self.player.mode = fault
            expect = "failed"
        elif fault == "early":
            self.player.mode = "early"
        elif fault == "kill":
            # Killed mid-broadcast: its "playing" row stays, nothing else is written.
            from announcer.core.playlog import Record

            daemon.queue.wait_idle(10)
            daemon.stop()
            PlayLog(self.out).add(Record(occurrence.time, occurrence.broadcast.name, (), "playing",
                                         started=occurrence.time))
            self.expected[key] = "skipped" if occurrence.skipped else "failed"
            return daemon
        if fault in ("rebuild", "full") and not occurrence.skipped:
            self.player.hold, self.player.started = True, threading.Semaphore(0)
        self.expected[key] = expect
        daemon.fire(occurrence)
        if fault in ("rebuild", "full") and not occurrence.skipped:
            self.player.started.acquire(timeout=10)
            if fault == "rebuild":
                for _ in range(1 + self.random.randrange(2)):
                    self.publish(day)
            else:
                real = daemon.playlog.add_many

                def full(records):
                    raise OSError(errno.ENOSPC, "No space left on device")

                daemon.playlog.add_many = full
                self.player.release()
                daemon.queue.wait_idle(10)
                daemon.playlog.add_many = real
            self.player.release()
        daemon.queue.wait_idle(10)
        daemon.flush_playlog()                      # the watcher does this every 2 s
        if fault == "missing":
            self.publish(day)
        return daemon

    def _verify(self, planned: list[Occurrence], result: Result) -> None:
        final = {(r.broadcast, r.scheduled): r for r in PlayLog(self.out).records()}
        seen = {**self.before_damage, **final}
        for o in planned:
            key = (o.broadcast.name, o.time)
            name = f"{o.broadcast.name} {o.time:%m-%d %H:%M}"
            record = seen.get(key)
            if record is None:
                result.lost.append(name)
                continue
            if key in self.before_damage and key in final:
                result.doubled.append(name)
            if record.result == "playing":
                result.unended.append(name)
            elif record.result != self.expected.get(key, "skipped" if o.skipped else "played"):
                result.wrong.append(f"{name}: {record.result}, expected {self.expected.get(key)}")
        result.plays = self.player.played()
        result.recorded_plays = sum(len(r.clips) for r in seen.values())
