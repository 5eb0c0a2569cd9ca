"""The station with a fake clock and a fake player: queueing, urgent cut-ins, catching up, reloading, failures.

Most tests drive `Daemon` directly (no scheduler, no waiting for the clock); a
few run the real APScheduler path for a second or two, and one runs
`announcer run` as a process and stops it with SIGTERM mid-clip.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time as clock
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest


from announcer.core.config import AudioConfig, Broadcast, Config, SpeechConfig, Station
from announcer.core.library import Library
from announcer.core.plan import Occurrence
from announcer.core.playlog import PlayLog, Record
from announcer.station.daemon import Daemon, StationError, Timetable, one_station, job_id
from announcer.station.players import PlayerError

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # this checkout first
ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)


def at(hour: int, minute: int = 0, second: float = 0, day: date = DAY) -> datetime:
    whole = int(second)
    return datetime(day.year, day.month, day.day, hour, minute, whole, int((second - whole) * 1e6), tzinfo=ZONE)


# --- fakes ---------------------------------------------------------------------

class FakeClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakePlayback:
    """Ends after `seconds`, or, when `seconds` is None, only when stopped or released by the test."""

    def __init__(self, player: "FakePlayer", path: Path, seconds: float | None, error: str | None):
        self.path, self.ok, self.error = path, False, None
        self.started, self.ended, self.stopped = clock.monotonic(), None, False
        self._done = threading.Event()
        self._failure = error
        if seconds is not None:
            timer = threading.Timer(seconds, self._end)
            timer.daemon = True
            timer.start()

    def release(self) -> None:
        self._end()

    def _end(self, stopped: bool = False) -> None:
        if self._done.is_set():
            return
        self.stopped = stopped
        self.ok = not stopped and self._failure is None
        self.error = "stopped" if stopped else self._failure
        self.ended = clock.monotonic()
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def stop(self) -> None:
        self._end(stopped=True)


class FakePlayer:
    """Plays nothing; each clip 'plays' for `seconds[file name]` (default 0.01 s). `fail` maps a file to an error.
    A file in `hold` plays until the test calls `release` (no race with a timer on a loaded machine)."""
    name = "fake"

    def __init__(self, seconds: dict[str, float] | None = None, default: float = 0.01, hold: set[str] = frozenset()):
        self.seconds, self.default, self.hold = seconds or {}, default, set(hold)
        self.fail: dict[str, str] = {}
        self.playbacks: list[FakePlayback] = []
        self.volumes: list[float] = []
        self.started = threading.Condition()

    def play(self, path: Path, volume_db: float = 0.0) -> FakePlayback:
        seconds = None if path.name in self.hold else self.seconds.get(path.name, self.default)
        playback = FakePlayback(self, path, seconds, self.fail.get(path.name))
        with self.started:
            self.playbacks.append(playback)
            self.volumes.append(volume_db)
            self.started.notify_all()
        return playback

    def heard(self) -> list[str]:
        """Clip file names in the order they started; a stopped one ends in '!'."""
        return [p.path.name + ("!" if p.stopped else "") for p in self.playbacks]

    def wait_started(self, count: int, timeout: float = 5) -> None:
        with self.started:
            assert self.started.wait_for(lambda: len(self.playbacks) >= count, timeout), self.heard()

    def release(self, count: int) -> None:
        """Once `count` clips have started, end the last one (a held clip)."""
        self.wait_started(count)
        with self.started:
            playback = self.playbacks[count - 1]
        playback.release()


def broadcast(name: str = "morning", **options) -> Broadcast:
    return Broadcast(name=name, **{"at": (time(10),), "gap_s": 0.0, **options})


def config(*broadcasts: Broadcast, path: Path | None = None, **station) -> Config:
    return Config(path=path, speech=SpeechConfig(), audio=AudioConfig(),
                  station=Station(timezone="Asia/Shanghai", **station), broadcasts=broadcasts)


def make_day(out: Path, day: date = DAY, clips=("a", "b"), tag: str = "", tags=None) -> Path:
    """Publish a day with one small file per clip id; `tag` goes into the file names (to tell versions apart)."""
    source = out.parent / f"src-{day}-{tag}-{clock.monotonic_ns()}"
    source.mkdir()
    files, entries = [], []
    for n, clip in enumerate(clips, 1):
        name = f"{n:02d}-{clip}{tag}.wav"
        (source / name).write_bytes(b"RIFF")
        files.append((name, source / name))
        entries.append({"id": clip, "file": name, "duration_s": 0.1, "tags": (tags or {}).get(clip, [])})
    return Library(out).publish(day, files, {"date": day.isoformat(), "clips": entries})


def daemon(tmp_path: Path, cfg: Config, now: datetime = at(10), player: FakePlayer | None = None, **options):
    player = player or FakePlayer()
    d = Daemon(cfg, tmp_path / "out", clock=FakeClock(now), get_player=lambda name, device: player, **options)
    d.fake = player
    return d


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out"


def records(d: Daemon):
    return PlayLog(d.out).records()


def played(d: Daemon, timeout: float = 5) -> None:
    assert d.queue.wait_idle(timeout), "the queue did not empty"


# --- one playback at a time ----------------------------------------------------

def test_colliding_broadcasts_wait_in_order_and_never_overlap(tmp_path, out):
    make_day(out)
    first, second = broadcast("first"), broadcast("second", volume_db=-6.0)
    d = daemon(tmp_path, config(first, second), player=FakePlayer(default=0.05))
    d.start()
    d.due(Occurrence(at(10), first))
    d.due(Occurrence(at(10), second))
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a.wav", "02-b.wav"] * 2
    spans = [(p.started, p.ended) for p in d.fake.playbacks]
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), "playbacks overlapped"
    assert d.fake.volumes == [0.0, 0.0, -6.0, -6.0]
    assert [(r.broadcast, r.result, r.clips) for r in records(d)] == [("first", "played", ("a", "b")),
                                                                       ("second", "played", ("a", "b"))]


def test_gap_between_clips_and_between_repeats(tmp_path, out):
    make_day(out)
    b = broadcast(repeat=2, gap_s=0.1)
    d = daemon(tmp_path, config(b))
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a.wav", "02-b.wav"] * 2
    gaps = [later.started - earlier.ended for earlier, later in zip(d.fake.playbacks, d.fake.playbacks[1:])]
    assert min(gaps) >= 0.09, gaps


def test_only_the_listed_clips_play(tmp_path, out):
    make_day(out, clips=("water", "keys", "vaccine"), tags={"vaccine": ["health"]})
    b = broadcast(clips=("health", "water"))
    d = daemon(tmp_path, config(b))
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-water.wav", "03-vaccine.wav"]


def test_urgent_broadcast_interrupts_and_the_interrupted_one_restarts_its_clip(tmp_path, out):
    make_day(out, clips=("a", "b", "c"))
    normal, urgent = broadcast("rounds"), broadcast("fire", priority="urgent", clips=("a",))
    player = FakePlayer(default=0.02, hold={"02-b.wav"})
    d = daemon(tmp_path, config(normal, urgent), player=player)
    d.start()
    d.due(Occurrence(at(10), normal))
    player.wait_started(2)                                  # b is playing (until released)
    d.due(Occurrence(at(10, 0, 1), urgent))
    player.release(4)                                       # b again, from its start, after the urgent a
    played(d)
    d.stop()
    assert player.heard() == ["01-a.wav", "02-b.wav!", "01-a.wav", "02-b.wav", "03-c.wav"]
    log = {r.broadcast: r for r in records(d)}
    assert log["fire"].result == "played"
    assert log["rounds"].result == "played" and log["rounds"].clips == ("a", "b", "c")
    assert "interrupted" in log["rounds"].reason


def test_an_urgent_broadcast_does_not_interrupt_another_urgent_one(tmp_path, out):
    make_day(out)
    one, two = broadcast("one", priority="urgent"), broadcast("two", priority="urgent")
    player = FakePlayer(hold={"01-a.wav"})
    d = daemon(tmp_path, config(one, two), player=player)
    d.start()
    d.due(Occurrence(at(10), one))
    player.wait_started(1)                                  # one's a is playing (until released)
    d.due(Occurrence(at(10), two))
    player.release(1)
    player.release(3)                                       # two's a
    played(d)
    d.stop()
    assert player.heard() == ["01-a.wav", "02-b.wav"] * 2


def test_a_broadcast_waits_in_the_queue_at_most_once(tmp_path, out):
    """Regression: a broadcast due every minute behind a long one must not build up a backlog."""
    make_day(out)
    long, loop = broadcast("long"), broadcast("loop", clips=("b",))
    player = FakePlayer(hold={"01-a.wav"})
    d = daemon(tmp_path, config(long, loop), player=player)
    d.start()
    d.due(Occurrence(at(10), long))
    player.wait_started(1)                                  # long's a is playing (until released)
    for minute in range(3):
        d.due(Occurrence(at(10, minute), loop))
    player.release(1)
    played(d)
    d.stop()
    assert player.heard() == ["01-a.wav", "02-b.wav", "02-b.wav"]
    loops = [(r.scheduled.minute, r.result) for r in records(d) if r.broadcast == "loop"]
    assert sorted(loops) == [(0, "missed"), (1, "missed"), (2, "played")]


# --- days, versions, midnight --------------------------------------------------

def test_midnight_switches_to_the_new_day(tmp_path, out):
    make_day(out, DAY, tag="-mon")
    make_day(out, DAY + timedelta(days=1), tag="-tue")
    b = broadcast(clips=("a",))
    d = daemon(tmp_path, config(b))
    d.start()
    d.due(Occurrence(at(23, 59, 59.9), b))
    played(d)
    d.due(Occurrence(at(0, 0, 0, day=DAY + timedelta(days=1)), b))
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a-mon.wav", "01-a-tue.wav"]


def test_a_day_rebuilt_while_running_is_used_next_time(tmp_path, out):
    make_day(out, tag="-v1")
    b = broadcast(clips=("a",))
    d = daemon(tmp_path, config(b))
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    make_day(out, tag="-v2")
    d.due(Occurrence(at(11), b))
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a-v1.wav", "01-a-v2.wav"]


def test_a_rebuild_during_a_broadcast_does_not_change_it(tmp_path, out):
    make_day(out, tag="-v1")
    b = broadcast()
    player = FakePlayer({"01-a-v1.wav": 0.2})
    d = daemon(tmp_path, config(b), player=player)
    d.start()
    d.due(Occurrence(at(10), b))
    player.wait_started(1)
    make_day(out, tag="-v2")
    played(d)
    d.stop()
    assert player.heard() == ["01-a-v1.wav", "02-b-v1.wav"]
    assert records(d)[0].result == "played"


def test_two_rebuilds_during_a_broadcast_do_not_take_its_clips_away(tmp_path, out):
    """Only two versions of a day are kept; the one on air is held until its broadcast ends."""
    make_day(out, tag="-v1")
    b = broadcast()
    player = FakePlayer(hold={"01-a-v1.wav"})
    d = daemon(tmp_path, config(b), player=player)
    d.start()
    d.due(Occurrence(at(10), b))
    player.wait_started(1)
    make_day(out, tag="-v2")
    make_day(out, tag="-v3")
    player.release(1)
    played(d)
    make_day(out, tag="-v4")                            # nothing holds v1 any more: it goes
    d.stop()
    assert player.heard() == ["01-a-v1.wav", "02-b-v1.wav"]
    assert [(r.result, r.reason) for r in records(d)] == [("played", None)]
    assert sorted(p.name.rsplit(".", 1)[0] for p in (out / ".days").iterdir()) == ["2026-11-30"] * 2


def test_a_day_not_built_is_recorded_failed_with_what_to_do(tmp_path, out):
    b = broadcast()
    d = daemon(tmp_path, config(b))
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.stop()
    [record] = records(d)
    assert record.result == "failed" and "announcer build" in record.reason
    assert d.fake.heard() == []


# --- failures ------------------------------------------------------------------

def test_a_crashing_player_is_recorded_and_the_next_occurrence_plays(tmp_path, out, caplog):
    make_day(out)
    b = broadcast()
    player = FakePlayer()
    player.fail["01-a.wav"] = "paplay: Connection refused"
    d = daemon(tmp_path, config(b), player=player)
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    player.fail.clear()
    d.due(Occurrence(at(11), b))
    played(d)
    d.stop()
    first, second = records(d)
    assert (first.result, first.clips) == ("failed", ("b",))            # the next clip was still tried
    assert first.reason == "paplay: Connection refused"
    assert (second.result, second.clips) == ("played", ("a", "b"))
    assert d.fake.heard() == ["01-a.wav", "02-b.wav"] * 2
    assert any("Connection refused" in m for m in caplog.messages)


def test_a_missing_player_is_recorded_and_found_again_later(tmp_path, out):
    make_day(out)
    b = broadcast()
    player, calls = FakePlayer(), []

    def get_player(name, device):
        calls.append((name, device))
        if len(calls) <= 2:   # at start and at the first occurrence
            raise PlayerError("找不到播放程序", "no audio player found")
        return player

    cfg = config(b, player="paplay", device="speaker")
    d = Daemon(cfg, out, clock=FakeClock(at(10)), get_player=get_player)
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.due(Occurrence(at(11), b))
    played(d)
    d.stop()
    assert [(r.result, r.reason) for r in records(d)] == [("failed", "no audio player found"), ("played", None)]
    assert calls[-1] == ("paplay", "speaker")


def test_a_player_that_hangs_is_given_up_on(tmp_path, out, monkeypatch):
    monkeypatch.setattr("announcer.station.playqueue.STALL_S", 0.1)
    make_day(out)
    b = broadcast()
    d = daemon(tmp_path, config(b), player=FakePlayer({"01-a.wav": 60}))
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.stop()
    [record] = records(d)
    assert record.result == "failed" and "01-a.wav" in record.reason


def test_a_missing_clip_file_is_skipped_and_recorded(tmp_path, out):
    folder = make_day(out, clips=("a", "b", "c"))
    (folder / "02-b.wav").unlink()
    b = broadcast()
    d = daemon(tmp_path, config(b))
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.due(Occurrence(at(11), b))       # still running, still trying
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a.wav", "03-c.wav"] * 2
    for record in records(d):
        assert (record.result, record.clips) == ("failed", ("a", "c"))
        assert "02-b.wav" in record.reason and "missing" in record.reason


def disk_full(records):
    raise OSError(28, "No space left on device")


def test_a_broken_play_log_is_reported_not_fatal(tmp_path, out, caplog):
    make_day(out)
    b = broadcast()
    d = daemon(tmp_path, config(b))
    d.playlog.add_many = disk_full
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.due(Occurrence(at(11), b))
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a.wav", "02-b.wav"] * 2
    assert any("No space left" in m for m in caplog.messages)


def test_records_wait_while_the_disk_is_full_and_are_all_written_once_it_has_room(tmp_path, out, caplog):
    caplog.set_level("INFO", logger="announcer")
    make_day(out)
    b = broadcast()
    d = daemon(tmp_path, config(b))
    real, full = d.playlog.add_many, [True]
    d.playlog.add_many = lambda records: disk_full(records) if full[0] else real(records)
    d.start()
    for hour in (10, 11, 12):
        d.due(Occurrence(at(hour), b))
        played(d)
    assert records(d) == []                                  # nothing could be written yet
    assert sum("No space left" in m for m in caplog.messages) == 1        # said once, not each time
    full[0] = False
    assert d.flush_playlog()                                 # the station's watcher does this every 2 s
    d.stop()
    got = records(d)
    assert [(r.scheduled.hour, r.result) for r in got] == [(10, "played"), (11, "played"), (12, "played")]
    assert "the play log works again" in caplog.text


def test_records_still_unwritten_at_stop_are_named_in_the_log(tmp_path, out, caplog):
    make_day(out)
    b = broadcast()
    d = daemon(tmp_path, config(b))
    d.playlog.add_many = disk_full
    d.start()
    d.due(Occurrence(at(10), b))
    played(d)
    d.stop()
    assert "1 play-log record(s) could not be written: morning" in caplog.text


def test_a_damaged_play_log_is_said_once_not_for_every_occurrence(tmp_path, out, caplog):
    make_day(out)
    (out / "playlog.sqlite").write_bytes(b"this is not a database " * 100)
    (out / "playlog.sqlite").chmod(0o444)
    out.chmod(0o555)                           # cannot be set aside either: every access fails
    try:
        b = broadcast()
        d = daemon(tmp_path, config(b))
        d.start()
        for minute in range(20):
            d.due(Occurrence(at(10, minute), b))
            played(d)
        d.stop()
    finally:
        out.chmod(0o755)
    said = [m for m in caplog.messages if "play log" in m and "could not be written" not in m]
    assert len(said) == 1, said
    assert len(d.fake.heard()) == 40                         # the station played on


def test_a_broadcast_on_air_is_recorded_playing_and_a_crash_does_not_replay_it(tmp_path, out):
    make_day(out)
    b = broadcast()
    player = FakePlayer({"01-a.wav": 60})
    d = daemon(tmp_path, config(b), player=player)
    d.start()
    d.due(Occurrence(at(10), b))
    player.wait_started(1)
    [record] = records(d)
    assert (record.result, record.started) == ("playing", at(10))
    again = daemon(tmp_path, config(b), now=at(10, 1))       # as after a crash: the log says "playing"
    again.start()
    played(again)
    again.stop()
    assert again.fake.heard() == []
    d.stop()                                                  # the turn's end replaces the "playing" row
    [record] = records(d)
    assert record.result == "failed" and "stopped during playback" in record.reason


def test_a_broadcast_cut_by_a_crash_is_recorded_failed_at_the_next_start(tmp_path, out):
    make_day(out)
    b = broadcast()
    PlayLog(out).add(Record(at(10), b.name, (), "playing", started=at(10)))   # the station died on air
    d = daemon(tmp_path, config(b), now=at(10, 1))
    d.start()
    played(d)
    d.stop()
    assert d.fake.heard() == []
    [record] = records(d)
    assert (record.result, record.reason, record.started) == ("failed", "the station stopped while it played", at(10))


# --- skipped, missed, never twice ----------------------------------------------

def test_skipped_occurrences_are_recorded_with_the_reason_when_their_time_comes(tmp_path, out):
    make_day(out)
    b = broadcast()
    d = daemon(tmp_path, config(b))
    d.start()
    d.due(Occurrence(at(22), b, skipped="quiet-hours"))
    d.due(Occurrence(at(10, day=DAY + timedelta(days=1)), b, skipped="holiday"))
    played(d)
    d.stop()
    assert d.fake.heard() == []
    assert [(r.result, r.reason) for r in records(d)] == [("skipped", "quiet hours"), ("skipped", "holiday")]


def test_skipped_occurrences_while_the_station_was_down_are_recorded_skipped(tmp_path, out):
    from announcer.core.config import QuietHours

    b = broadcast(at=(time(9, 59), time(22)))
    PlayLog(out).add(_record(at(9, 59), "morning"))
    cfg = config(b, quiet_hours=QuietHours(time(21, 30), time(7)))
    d = daemon(tmp_path, cfg, now=at(9, 58, day=DAY + timedelta(days=1)))
    d.start()
    played(d)
    d.stop()
    assert [(r.scheduled, r.result, r.reason) for r in records(d)][1:] == [(at(22), "skipped", "quiet hours")]


def test_missed_within_the_grace_time_plays_once_after_a_restart(tmp_path, out):
    make_day(out)
    b = broadcast(at=(time(9), time(9, 30), time(10)))
    PlayLog(out).add(_record(at(9), "morning"))
    d = daemon(tmp_path, config(b), now=at(10, 3))          # down from 9:10 to 10:03
    d.start()
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a.wav", "02-b.wav"]
    log = [(r.scheduled, r.result) for r in records(d)]
    assert log == [(at(9), "played"), (at(9, 30), "missed"), (at(10), "played")]
    assert "not running" in records(d)[1].reason

    again = daemon(tmp_path, config(b), now=at(10, 4))       # a second restart plays nothing again
    again.start()
    played(again)
    again.due(Occurrence(at(10), b))                         # not even when the scheduler asks
    played(again)
    again.stop()
    assert again.fake.heard() == []
    assert len(records(again)) == 3


def test_missed_after_the_grace_time_is_only_recorded(tmp_path, out):
    make_day(out)
    b = broadcast(at=(time(9), time(10)))
    PlayLog(out).add(_record(at(9), "morning"))
    d = daemon(tmp_path, config(b), now=at(10, 5, 1))
    d.start()
    played(d)
    d.stop()
    assert d.fake.heard() == []
    assert [(r.scheduled, r.result) for r in records(d)][-1] == (at(10), "missed")


def test_no_backlog_burst_after_a_restart(tmp_path, out, caplog):
    """Down for 4 minutes with a broadcast every minute and another at the same time: each plays once."""
    make_day(out)
    loop = broadcast("loop", at=(), start=time(10), until=time(11), every_s=60, clips=("a",))
    other = broadcast("other", at=(time(10, 1),), clips=("b",))
    PlayLog(out).add(_record(at(9, 59), "other"))
    d = daemon(tmp_path, config(loop, other), now=at(10, 4, 30))
    d.start()
    played(d)
    d.stop()
    assert d.fake.heard() == ["02-b.wav", "01-a.wav"]         # oldest first: other 10:01, loop 10:04
    loops = [(r.scheduled.minute, r.result) for r in records(d) if r.broadcast == "loop"]
    assert loops == [(0, "missed"), (1, "missed"), (2, "missed"), (3, "missed"), (4, "played")]
    missed = [m for m in caplog.messages if m.startswith("missed")]
    assert missed == ['missed "loop" 4 time(s) (11-30 10:00:00 to 11-30 10:03:00; the station was not running)']


def test_late_scheduler_jobs_after_a_sleep_play_only_the_latest(tmp_path, out):
    """APScheduler runs jobs up to its misfire grace late: after waking at 10:03:30 the 10:01, 10:02 and 10:03
    jobs all run; only the 10:03 one plays, the others are recorded missed (a later one plays instead)."""
    make_day(out)
    loop = broadcast("loop", at=(), start=time(10), until=time(11), every_s=60, clips=("a",))
    d = daemon(tmp_path, config(loop), now=at(10, 3, 30))
    d.queue.start()
    for minute in (1, 2, 3):
        d.fire(Occurrence(at(10, minute), loop))
    played(d)
    d.fire(Occurrence(at(10, 2), loop))                       # and nothing twice
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a.wav"]
    log = [(r.scheduled.minute, r.result, r.reason) for r in records(d)]
    assert log == [(1, "missed", "a later occurrence of the same broadcast plays instead"),
                   (2, "missed", "a later occurrence of the same broadcast plays instead"), (3, "played", None)]


def test_a_late_job_still_plays_when_the_next_occurrence_is_skipped_or_not_due(tmp_path, out):
    from announcer.core.config import QuietHours

    make_day(out)
    b = broadcast(at=(time(21, 28), time(21, 31)))
    d = daemon(tmp_path, config(b, quiet_hours=QuietHours(time(21, 30), time(7))), now=at(21, 32))
    d.queue.start()
    d.fire(Occurrence(at(21, 28), b))                         # 21:31 is in the quiet hours
    played(d)
    d.stop()
    assert [(r.scheduled, r.result) for r in records(d)] == [(at(21, 28), "played")]


def test_the_first_start_looks_back_only_the_grace_time(tmp_path, out):
    make_day(out)
    b = broadcast(at=(time(6), time(9, 58)))
    d = daemon(tmp_path, config(b), now=at(10))
    d.start()
    played(d)
    d.stop()
    assert [(r.scheduled, r.result) for r in records(d)] == [(at(9, 58), "played")]


def test_the_look_back_is_capped(tmp_path, out):
    b = broadcast(at=(time(12),))
    PlayLog(out).add(_record(at(12, day=DAY - timedelta(days=10)), "morning"))
    d = daemon(tmp_path, config(b), now=at(10))
    d.start()
    played(d)
    d.stop()
    assert [r.scheduled for r in records(d)][1:] == [at(12, day=DAY - timedelta(days=1))]


LONDON = ZoneInfo("Europe/London")


def london(cfg: Config) -> Config:
    return replace(cfg, station=replace(cfg.station, timezone="Europe/London"))


def test_catching_up_across_spring_forward_counts_real_time(tmp_path, out):
    """Clocks jump 01:00 GMT -> 02:00 BST: 00:59 to 02:02 on the wall is 3 minutes, within the grace time."""
    spring = date(2026, 3, 29)
    make_day(out, spring)
    b = broadcast(at=(time(0, 59),))
    PlayLog(out).add(_record(datetime(2026, 3, 28, 0, 59, tzinfo=LONDON), "morning"))
    d = daemon(tmp_path, london(config(b)), now=datetime(2026, 3, 29, 2, 2, tzinfo=LONDON))
    d.start()
    played(d)
    d.stop()
    assert d.fake.heard() == ["01-a.wav", "02-b.wav"]
    assert [(r.scheduled, r.result) for r in records(d)][-1] == (datetime(2026, 3, 29, 0, 59, tzinfo=LONDON), "played")


def test_catching_up_across_fall_back_counts_real_time(tmp_path, out):
    """Clocks go back 02:00 BST -> 01:00 GMT: 01:30 BST to 01:02 GMT is 32 minutes late, though the wall
    clock reads earlier: missed, not played."""
    autumn = date(2026, 10, 25)
    make_day(out, autumn)
    b = broadcast(at=(time(1, 30),))
    PlayLog(out).add(_record(datetime(2026, 10, 24, 1, 30, tzinfo=LONDON), "morning"))
    d = daemon(tmp_path, london(config(b)), now=datetime(2026, 10, 25, 1, 2, fold=1, tzinfo=LONDON))
    d.start()
    played(d)
    d.stop()
    assert d.fake.heard() == []
    last = records(d)[-1]
    assert (last.scheduled.utcoffset(), last.result) == (timedelta(hours=1), "missed")
    assert last.scheduled == datetime(2026, 10, 25, 0, 30, tzinfo=ZoneInfo("UTC"))


def _record(scheduled: datetime, name: str):
    from announcer.core.playlog import Record
    return Record(scheduled, name, ("a",), "played", started=scheduled, ended=scheduled + timedelta(seconds=5))


# --- schedule.toml changes -------------------------------------------------------

SCHEDULE = """[station]
timezone = "Asia/Shanghai"

[[broadcast]]
name = "morning"
at = ["{at}"]
"""


def test_schedule_toml_reloaded_and_a_bad_edit_keeps_the_last_good_one(tmp_path, caplog):
    path = tmp_path / "schedule.toml"
    path.write_text(SCHEDULE.format(at="10:00"), "utf-8")
    from announcer.core.config import load_config
    d = daemon(tmp_path, load_config(path))
    assert not d.reload()                                          # unchanged
    path.write_text(SCHEDULE.format(at="10:30"), "utf-8")
    assert d.reload()
    assert d.config.broadcasts[0].at == (time(10, 30),)
    path.write_text(SCHEDULE.format(at="10:30") + 'repeat = "twice"\n', "utf-8")
    assert not d.reload()
    assert d.config.broadcasts[0].at == (time(10, 30),)
    bad = [m for m in caplog.messages if "last good schedule" in m]
    assert len(bad) == 1 and any("repeat" in m and "schedule.toml:7" in m for m in caplog.messages)
    assert not d.reload()                                          # reported once, not every poll
    path.unlink()
    assert not d.reload()
    assert d.config.broadcasts[0].at == (time(10, 30),)
    path.write_text(SCHEDULE.format(at="11:00"), "utf-8")
    assert d.reload()
    assert d.config.broadcasts[0].at == (time(11),)


def test_a_same_size_edit_in_the_same_mtime_tick_is_reloaded(tmp_path):
    path = tmp_path / "schedule.toml"
    path.write_text(SCHEDULE.format(at="10:00"), "utf-8")
    from announcer.core.config import load_config
    d = daemon(tmp_path, load_config(path))
    before = os.stat(path)
    path.write_text(SCHEDULE.format(at="10:30"), "utf-8")          # same size, in place
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))    # and the same mtime (a coarse clock)
    assert d.reload()
    assert d.config.broadcasts[0].at == (time(10, 30),)


def test_a_reload_applies_the_language_and_the_log_time_zone(tmp_path, monkeypatch):
    import logging

    from announcer.core.config import load_config
    from announcer.core.logs import ZoneFormatter

    path = tmp_path / "schedule.toml"
    path.write_text(SCHEDULE.format(at="10:00"), "utf-8")
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")                      # as cli sets it from schedule.toml
    handler = logging.StreamHandler()
    handler.setFormatter(ZoneFormatter(ZONE))
    logging.getLogger("announcer").addHandler(handler)
    try:
        d = daemon(tmp_path, load_config(path))
        path.write_text(SCHEDULE.format(at="10:00").replace("Asia/Shanghai", "Europe/London")
                        .replace("[station]\n", '[station]\nlanguage = "en"\n'), "utf-8")
        assert d.reload()
        assert os.environ["ANNOUNCER_LANG"] == "en"
        assert handler.formatter.zone == LONDON
    finally:
        logging.getLogger("announcer").removeHandler(handler)


# --- the real scheduler ----------------------------------------------------------

def test_timetable_plays_on_time_and_follows_a_reload(tmp_path, out):
    now = datetime.now(ZONE)
    for day in {(now + timedelta(seconds=2)).date(), (now + timedelta(seconds=2.5)).date()}:
        make_day(out, day)
    # Far enough ahead that a loaded machine has started the scheduler and synced before either is due.
    soon = replace(broadcast("soon", clips=("a",)), at=(), once=(now + timedelta(seconds=2)).replace(tzinfo=None))
    later = replace(broadcast("later", clips=("b",)), at=(), once=(now + timedelta(seconds=2.5)).replace(tzinfo=None))
    d = Daemon(config(soon), out, get_player=lambda name, device: player)
    player = FakePlayer()
    timetable = Timetable(d)
    d.start()
    timetable.start()
    try:
        assert [j.id for j in timetable.scheduler.get_jobs() if j.id.startswith("play:")] == \
            [job_id(Occurrence(soon.once.replace(tzinfo=ZONE), soon))]
        d._use(config(soon, later))          # as a reload would
        timetable.sync()
        player.wait_started(2, timeout=8)
        played(d)
    finally:
        timetable.stop()
        d.stop()
    assert player.heard() == ["01-a.wav", "02-b.wav"]
    assert [r.result for r in records(d)] == ["played", "played"]
    assert abs((records(d)[0].started - soon.once.replace(tzinfo=ZONE)).total_seconds()) < 0.2


def test_timetable_follows_an_edit_of_schedule_toml_and_keeps_running_after_a_bad_one(tmp_path, out, monkeypatch,
                                                                                       caplog):
    from announcer.core.config import load_config

    monkeypatch.setattr("announcer.station.daemon.WATCH_S", 0.2)
    base = datetime.now(ZONE).replace(microsecond=0)
    when = {name: base + timedelta(seconds=s) for name, s in (("first", 2), ("second", 5), ("old", 60))}
    for day in {t.date() for t in when.values()}:
        make_day(out, day)

    def schedule(*entries) -> str:
        return '[station]\ntimezone = "Asia/Shanghai"\n' + "".join(
            f'\n[[broadcast]]\nname = "{name}"\ndate = {when[name].replace(tzinfo=None).isoformat()}\n'
            f'clips = ["{clip}"]\n' + extra for name, clip, extra in entries)

    path = tmp_path / "schedule.toml"
    path.write_text(schedule(("old", "a", "")), "utf-8")
    player = FakePlayer()
    d = Daemon(load_config(path), out, get_player=lambda name, device: player)
    timetable = Timetable(d)
    d.start()
    timetable.start()
    try:
        path.write_text(schedule(("first", "b", ""), ("second", "a", "")), "utf-8")
        player.wait_started(1, timeout=8)
        assert player.heard() == ["02-b.wav"]
        path.write_text(schedule(("first", "b", ""), ("second", "b", 'repeat = "twice"\n')), "utf-8")
        player.wait_started(2, timeout=8)
        played(d)
    finally:
        timetable.stop()
        d.stop()
    assert player.heard() == ["02-b.wav", "01-a.wav"]                  # "second" as the last good schedule has it
    assert [(r.broadcast, r.result) for r in records(d)] == [("first", "played"), ("second", "played")]
    assert not [j for j in timetable._jobs if "old" in j]
    assert any("last good schedule" in m for m in caplog.messages)
    started = {r.broadcast: r.started for r in records(d)}
    assert abs((started["second"] - when["second"]).total_seconds()) < 0.2


def test_an_occurrence_slept_through_is_recorded_missed(tmp_path, out):
    """The machine wakes 3 s after an occurrence, with a grace time of 1 s: recorded missed, not played."""
    now = datetime.now(ZONE)
    b = replace(broadcast("asleep"), at=(), once=(now - timedelta(seconds=3)).replace(tzinfo=None, microsecond=0))
    occurrence = Occurrence(b.once.replace(tzinfo=ZONE), b)
    player = FakePlayer()
    d = Daemon(config(b), out, get_player=lambda name, device: player, grace=timedelta(seconds=1))
    timetable = Timetable(d)
    timetable.start()
    timetable.scheduler.add_job(d.due, "date", run_date=occurrence.time, args=[occurrence], id=job_id(occurrence))
    timetable._jobs[job_id(occurrence)] = occurrence
    deadline = clock.monotonic() + 3
    while not records(d) and clock.monotonic() < deadline:
        clock.sleep(0.02)
    timetable.stop()
    [record] = records(d)
    assert record.result == "missed" and "past the grace time" in record.reason
    assert player.heard() == []


def test_a_gap_in_the_plan_after_a_sleep_is_caught_up(tmp_path, out):
    make_day(out)
    b = broadcast(at=(time(10, 30), time(11, 58)))
    d = daemon(tmp_path, config(b), now=at(10))
    timetable = Timetable(d)
    timetable.sync()                                      # jobs until 11:00
    d._clock.now = at(12)                                 # woke up at noon
    timetable.sync()
    d.start()
    played(d)
    d.stop()
    assert [(r.scheduled, r.result) for r in records(d)] == [(at(11, 58), "played")]
    assert [j.id for j in timetable.scheduler.get_jobs() if j.id.startswith("play:")] == \
        [job_id(Occurrence(at(10, 30), b))]               # the 10:30 job reports itself when it runs late


def test_catching_up_after_a_long_sleep_looks_back_at_most_the_look_back(tmp_path, out, monkeypatch):
    """Asleep for 10 days with a broadcast every minute: only the last day's 1440 are recorded, in one write."""
    loop = broadcast("loop", at=(), start=time(0), until=time(23, 59, 59), every_s=60, clips=("a",))
    d = daemon(tmp_path, config(loop), now=at(10, 0, 30, day=DAY - timedelta(days=10)))
    timetable = Timetable(d)
    timetable.sync()
    writes = []
    add_many = d.playlog.add_many
    monkeypatch.setattr(d.playlog, "add_many", lambda rows: (writes.append(len(rows)), add_many(rows)))
    d._clock.now = at(10, 0, 30)
    timetable.sync()
    log = records(d)
    assert writes == [len(log)] and 1435 <= len(log) <= 1440
    assert log[0].scheduled >= at(10, 0, 30, day=DAY - timedelta(days=1))
    assert {(r.result, r.reason) for r in log if r.scheduled < at(9, 55)} == {("missed", "the machine was asleep or busy")}
    assert {r.result for r in log} == {"missed"}                 # 10:00 plays


def test_a_day_rebuilt_while_running_is_prepared_at_once(tmp_path, out):
    """The watch notices the day link's new target and decodes the new clips, not 15 minutes later."""
    class PreparingPlayer(FakePlayer):
        def __init__(self):
            super().__init__()
            self.prepared: list[str] = []

        def prepare(self, path, volume_db=0.0):
            self.prepared.append(path.name)

    make_day(out, tag="-v1")
    b = broadcast(at=(time(10, 30),), clips=("a",))
    d = daemon(tmp_path, config(b), now=at(10), player=PreparingPlayer())
    timetable = Timetable(d)

    def prepared() -> list[str]:
        timetable._preparing.join(5)
        return d.fake.prepared

    timetable.sync()
    assert prepared() == ["01-a-v1.wav"]
    timetable._watch()                                    # nothing changed: nothing prepared again
    assert prepared() == ["01-a-v1.wav"]
    make_day(out, tag="-v2")
    timetable._watch()
    assert prepared() == ["01-a-v1.wav", "01-a-v2.wav"]


def test_only_one_station_per_library(tmp_path):
    with one_station(tmp_path):
        with pytest.raises(StationError, match="already playing"):
            with one_station(tmp_path):
                pass


# --- the process -------------------------------------------------------------------

# Runs `announcer run` with a player that plays nothing for 30 s a clip.
SLOW_PLAYER = """
import sys, threading
from announcer import cli
from announcer.station import players

class Playback:
    ok, error = False, None
    def __init__(self):
        self.done = threading.Event()
        print("PLAYING", flush=True)
    def wait(self, timeout=None):
        return self.done.wait(timeout)
    def stop(self):
        self.error = "stopped"
        self.done.set()

class Player:
    name = "slow"
    def play(self, path, volume_db=0.0):
        return Playback()

players.get_player = lambda name="auto", device=None: Player()
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_during_playback_stops_cleanly(tmp_path, out, stop):
    start = (datetime.now(ZONE) - timedelta(seconds=1)).replace(microsecond=0)   # just past: start-up plays it at once
    make_day(out, start.date())
    (tmp_path / "schedule.toml").write_text(
        f'[station]\ntimezone = "Asia/Shanghai"\n\n[[broadcast]]\nname = "morning"\n'
        f'date = {start.replace(tzinfo=None).isoformat()}\n', "utf-8")
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_PLAYER, "run", "--out", str(out)], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": PYTHONPATH}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "PLAYING"
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "playing \"morning\"" in stderr and "station stopped" in stderr
    [record] = PlayLog(out).records()
    assert (record.broadcast, record.scheduled, record.result) == ("morning", start, "failed")
    assert "stopped" in record.reason and record.ended is not None


def test_run_without_a_schedule_says_what_to_do(tmp_path):
    result = subprocess.run([sys.executable, "-m", "announcer", "run"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": PYTHONPATH}, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "schedule.toml" in result.stderr


class DyingPage:
    """A page (as run --web has it) whose thread has ended; counts how often the station looked."""
    url = "http://127.0.0.1:1/"

    def __init__(self):
        self.looked, self.stops, self.started = 0, 0, False
        self.looked_twice = threading.Event()

    def start(self) -> None:
        self.started = True

    def alive(self) -> bool:
        self.looked += 1
        if self.looked >= 2:
            self.looked_twice.set()
        return False

    def stop(self) -> None:
        self.stops += 1


def test_run_web_says_once_that_the_page_stopped_and_the_station_plays_on(tmp_path, out, monkeypatch, capsys):
    from announcer.station import daemon as station
    from announcer.station import players

    (tmp_path / "schedule.toml").write_text('[station]\ntimezone = "Asia/Shanghai"\n\n[[broadcast]]\n'
                                            'name = "morning"\nat = ["08:00"]\n', "utf-8")
    page = DyingPage()
    monkeypatch.setattr(station, "PAGE_CHECK_S", 0.05)
    monkeypatch.setattr(players, "get_player", lambda name="auto", device=None: FakePlayer())
    logger = logging.getLogger("announcer")
    saved = logger.handlers[:], logger.propagate, logger.level
    main = threading.main_thread().ident

    def stop_when_seen() -> None:
        page.looked_twice.wait(10)
        signal.pthread_kill(main, signal.SIGTERM)         # blocked in the main thread: the station takes it

    previous = signal.signal(signal.SIGTERM, lambda *_: None)     # should run() end early, pytest lives on
    threading.Thread(target=stop_when_seen, daemon=True).start()
    try:
        from announcer.core.config import load_config
        assert station.run(load_config(tmp_path / "schedule.toml"), out, page=lambda: page) == 0
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert page.started and page.stops >= 1 and page.looked >= 2
    assert err.count("the web page stopped unexpectedly; the station keeps playing on schedule.") == 1
    assert err.index("stopped unexpectedly") < err.index("stopping...") < err.index("station stopped")


def test_a_player_that_ends_long_before_the_clip_is_recorded_failed_with_the_reason(tmp_path, out, monkeypatch):
    """ffplay exits 0 when it cannot open the sound device: a by-hand play that ran 0 s of a 2 s clip did not
    play. The real player (a stand-in program that exits at once), the real queue, the play log."""
    import wave

    from announcer.station import players

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ffplay").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "ffplay").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    source = tmp_path / "src"
    source.mkdir()
    with wave.open(str(source / "01-a.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 16000)                              # 2 s
    Library(out).publish(DAY, [("01-a.wav", source / "01-a.wav")],
                         {"date": DAY.isoformat(), "clips": [{"id": "a", "title": "停水", "file": "01-a.wav",
                                                              "duration_s": 2.0}]})
    d = Daemon(config(broadcast()), out, clock=FakeClock(at(10)),
               get_player=lambda name, device: players.Player("ffplay", cache=tmp_path / "cache"))
    d.start()
    d.play_clips(DAY, ("a",))
    played(d)
    d.stop()
    [record] = records(d)
    assert record.result == "failed" and record.clips == ()
    assert record.reason.startswith("01-a.wav: the player ran for only 0")
    assert "of this 2 s clip: there may be no working audio output" in record.reason
