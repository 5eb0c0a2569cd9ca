"""The district's scenarios (issue 13, section 4) with stations as real `announcer run --player null` processes
speaking with espeak-ng, and a real Mosquitto set up by `announcer office init` (tests/broker.py):

- a station that is off while the office publishes the day builds it when it starts, and an urgent notice that
  expired meanwhile is recorded missed, not played;
- while the broker is stopped the stations play their schedules, and the records reach the office once it is
  back, each once;
- a malformed message on a station's day topic is dropped and logged, and the station builds the next one; an
  urgent notice delivered three times plays once.

An urgent notice may be preceded by an "attention" chime clip: the assertions are about the notice's own clip.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from broker import DISTRICT, TOPICS, broker

from announcer.core.district import (MAX_MESSAGE_BYTES, DayNotice, DayNotices, Urgent, new_message_id,
                                     record_id)
from announcer.core.library import Library
from announcer.core.playlog import FILE as PLAYLOG_FILE
from announcer.core.playlog import PlayLog, Record

__all__ = ["broker"]          # the fixture, used by name below

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Asia/Shanghai")
GROUPS = {"xingfuli": ("east",), "hepingli": ("west",), "yangguang": ("east",)}
NOTICES = """\
[[notice]]
id = "water"
title = "停水通知"
text = "周五停水。"

[[notice]]
id = "fair"
title = "集市"
text = "周六有集市。"
"""


def far_away() -> str:
    """A broadcast twelve hours from now: a schedule that plays nothing during the test."""
    return f'[[broadcast]]\nname = "晚间"\nat = ["{datetime.now(ZONE) + timedelta(hours=12):%H:%M}"]\n'


def until(check, timeout: float = 30.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come true within {timeout} s")


class StationProcess:
    """One station: its folder with schedule.toml ([network] pointing at the broker), run as `announcer run
    --player null`; the log lines of its n-th start go to <folder>/stderr-<n>.txt."""

    def __init__(self, folder: Path, broker, station_id: str, broadcasts: str | None = None):
        self.folder, self.id, self.broker = folder, station_id, broker
        self.out = folder / "out"
        self.process: subprocess.Popen | None = None
        self.starts = 0
        folder.mkdir(parents=True, exist_ok=True)
        self.schedule(broadcasts or far_away())

    def schedule(self, broadcasts: str) -> None:
        """(Re)write schedule.toml with these [[broadcast]] tables; a running station reloads it by itself."""
        password = self.broker.folder / "stations" / f"{self.id}.password"
        (self.folder / "schedule.toml").write_text(
            '[station]\ntimezone = "Asia/Shanghai"\n\n[speech]\nengines = { zh = "espeak-ng", en = "espeak-ng" }\n\n'
            f'[audio]\nformat = "wav"\n\n{broadcasts}\n'
            f'[network]\nbroker = "mqtt://127.0.0.1:{self.broker.port}"\nstation_id = "{self.id}"\n'
            f'groups = {json.dumps(list(GROUPS[self.id]))}\npassword_file = "{password}"\n', encoding="utf-8")

    def start(self) -> None:
        """Start the process (again); each start's log goes to its own stderr file."""
        self.starts += 1
        with open(self.stderr_path(), "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "announcer", "run", "--player", "null", "--out", str(self.out)],
                cwd=self.folder, env={**os.environ, "ANNOUNCER_LANG": "en", "PYTHONPATH": str(ROOT)},
                stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL)

    def stderr_path(self, start: int | None = None) -> Path:
        return self.folder / f"stderr-{start or self.starts}.txt"

    def log(self, start: int | None = None) -> str:
        """What this start (or an earlier one) logged."""
        path = self.stderr_path(start)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def wait_connected(self, timeout: float = 30.0) -> None:
        """Until the station said it is connected and subscribed (in this start)."""
        until(lambda: self.running() and "connected to the office's broker" in self.log(), timeout,
              f"{self.id} connected")

    def running(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.id} exited ({self.process.returncode}):\n{self.log()}")
        return self.process is not None

    def signal_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> None:
        """After SIGTERM: it must exit 0 without a traceback."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"{self.id} did not stop within 20 s of SIGTERM:\n{self.log()}") from None
        log = self.log()
        assert code == 0, f"{self.id} exited {code}:\n{log}"
        assert "Traceback" not in log, log

    def stop(self) -> None:
        self.signal_stop()
        self.wait_stopped()

    def records(self) -> list[Record]:
        return PlayLog(self.out).records() if (self.out / PLAYLOG_FILE).exists() else []


def stop_all(stations: list[StationProcess]) -> None:
    """SIGTERM to every station at once, then each must exit 0 without a traceback."""
    for station in stations:
        station.signal_stop()
    problems = []
    for station in stations:
        try:
            station.wait_stopped()
        except AssertionError as problem:
            problems.append(str(problem))
    assert not problems, "\n".join(problems)


@pytest.fixture
def stations(broker, tmp_path):
    """make(station_id, broadcasts) → a StationProcess (not started); all are stopped after the test."""
    made: list[StationProcess] = []

    def make(station_id: str, broadcasts: str | None = None) -> StationProcess:
        station = StationProcess(tmp_path / station_id, broker, station_id, broadcasts)
        made.append(station)
        return station

    try:
        yield make
    finally:
        stop_all(made)


def office_folder(broker) -> Path:
    """The office's folder: district.toml pointing at the running broker (broker/ is next to it)."""
    folder = broker.folder.parent
    (folder / "district.toml").write_text(DISTRICT.replace("1883", str(broker.port)), encoding="utf-8")
    (folder / "notices.toml").write_text(NOTICES, encoding="utf-8")
    return folder


def office(broker, *args: str) -> None:
    """`announcer office ARGS --district ... --broker-dir ...`, as the office would run it."""
    from announcer.cli import main

    folder = office_folder(broker)
    assert main(["office", *args, "--district", str(folder / "district.toml"),
                 "--broker-dir", str(broker.folder)]) == 0


def local_today() -> date:
    return datetime.now(ZONE).date()


def urgent(seconds: float = 30 * 60, issued: datetime | None = None) -> Urgent:
    issued = issued or datetime.now(timezone.utc)
    return Urgent(new_message_id(), "燃气泄漏，请离开。", issued, issued + timedelta(seconds=seconds),
                  False, "燃气泄漏")


def clip_of(notice: Urgent) -> str:
    return f"urgent-{notice.id[:8]}"


# ---- a station off while the office sends

@pytest.mark.real
def test_a_station_off_during_the_office_sending_builds_the_day_and_records_an_expired_urgent_missed(broker,
                                                                                                     stations):
    hepingli = stations("hepingli")
    hepingli.start()                      # it has run before: the broker keeps its session while it is off
    hepingli.wait_connected()
    hepingli.stop()
    day = local_today() + timedelta(days=1)
    office(broker, "publish", str(office_folder(broker) / "notices.toml"), "--date", str(day), "--to", "hepingli")
    notice = urgent(seconds=1.5)
    broker.client("office").publish(TOPICS + "urgent/station/hepingli", notice.to_json())
    time.sleep(max(0.0, (notice.expires - datetime.now(timezone.utc)).total_seconds()) + 0.3)

    hepingli.start()                      # the day waits on the broker (retained, and queued), the urgent queued
    folder, manifest = until(lambda: Library(hepingli.out).day(day), what="hepingli's build")
    assert [(c["id"], c["tags"]) for c in manifest["clips"]] == [("water", ["office"]), ("fair", ["office"])]
    assert all((folder / c["file"]).stat().st_size > 1000 for c in manifest["clips"])     # spoken by espeak-ng
    until(lambda: f"built {day}: 2 clip(s)" in hepingli.log(), timeout=10, what="the build logged")

    [missed] = until(lambda: [r for r in hepingli.records() if r.result == "missed"], what="the missed record")
    assert (missed.broadcast, missed.reason, missed.clips) == ("urgent: 燃气泄漏", "expired before it arrived", ())
    assert abs(missed.scheduled - notice.issued) < timedelta(seconds=1)
    assert "was not played: expired before it arrived" in hepingli.log()
    time.sleep(1.0)                       # a second delivery of the day is not built again; the urgent never plays
    assert hepingli.log().count(f"built {day}") == 1 and Library(hepingli.out).day_version(day) == folder
    assert [r for r in hepingli.records() if r.result != "missed"] == []


# ---- the broker stopped while the stations play

def away_from_midnight(seconds: float = 90) -> None:
    """Wait, if need be, until the station's day lasts at least `seconds` more: the test's times fall on one day."""
    now = datetime.now(ZONE)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=ZONE)
    if (midnight - now).total_seconds() < seconds:
        time.sleep((midnight - now).total_seconds() + 1)


def times_from_now(*seconds: float) -> list[str]:
    """Times of day in the station's zone, these many seconds from now, as "HH:MM:SS"."""
    now = datetime.now(ZONE)
    return [f"{now + timedelta(seconds=s):%H:%M:%S}" for s in seconds]


@pytest.mark.real
def test_with_the_broker_stopped_the_stations_play_on_and_their_records_reach_the_office_once_it_is_back(
        broker, stations):
    from announcer.core.districtfile import load_district
    from announcer.core.office import collect
    from announcer.core.officelog import OfficeLog

    away_from_midnight()
    district = load_district(office_folder(broker) / "district.toml")
    store = OfficeLog(broker.folder)
    collect(district, broker.folder, store, wait=0)     # the office's session begins: records wait for it
    day = local_today()
    (office_folder(broker) / "chime.toml").write_text('[[notice]]\nid = "chime"\ntext = "报时。"\n', encoding="utf-8")
    office(broker, "publish", str(office_folder(broker) / "chime.toml"), "--date", str(day))
    both = (stations("xingfuli"), stations("hepingli"))
    for station in both:
        station.start()
    for station in both:
        until(lambda: Library(station.out).manifest(day), what=f"{station.id}'s build")

    broker.stop()
    times = times_from_now(6, 9)
    for station in both:                                 # a broadcast in a few seconds: reloaded by itself
        station.schedule(far_away() + f'\n[[broadcast]]\nname = "报时"\nat = {json.dumps(times)}\n')

    def played(station: StationProcess) -> list[Record]:
        return [r for r in station.records() if r.broadcast == "报时" and r.result == "played"]

    for station in both:
        found = until(lambda: len(played(station)) == 2 and played(station), timeout=30,
                      what=f"{station.id}'s two broadcasts without the broker")
        assert [(f"{r.scheduled.astimezone(ZONE):%H:%M:%S}", r.clips) for r in found] == \
            [(t, ("chime",)) for t in times]
        assert station.running() and "lost the office's broker" in station.log()

    broker.start()
    expected = {record_id(s.id, r.scheduled, r.broadcast): (s.id, r.result) for s in both for r in s.records()}
    assert len(expected) == 4
    arrived = 0

    def all_arrived() -> bool:
        nonlocal arrived
        arrived += collect(district, broker.folder, store, wait=0.5).records
        return {r.id: (r.station, r.result) for r in store.records()} == expected

    until(all_arrived, timeout=40, what="the records at the office")
    arrived += collect(district, broker.folder, store, wait=1.0).records     # nothing more comes
    assert arrived == 4                                                      # each arrived once
    with sqlite3.connect(broker.folder / "office.sqlite") as db:
        rows = db.execute("SELECT id FROM record").fetchall()
    assert sorted(id_ for id_, in rows) == sorted(expected)


# ---- malformed messages

@pytest.mark.real
def test_a_malformed_message_is_dropped_and_logged_the_next_day_is_built_and_an_urgent_sent_thrice_plays_once(
        broker, stations):
    xingfuli = stations("xingfuli")
    xingfuli.start()
    xingfuli.wait_connected()
    topic = TOPICS + "day/station/xingfuli"
    sender = broker.client("office")
    for payload in (b"not json {", b'{"kind": "day", "v": 1, "id": "x"}', b"{" + b" " * MAX_MESSAGE_BYTES + b"}"):
        sender.publish(topic, payload, retain=True)
    dropped = f"dropped a message from {topic}: "
    until(lambda: xingfuli.log().count(dropped) == 3, what="three drops logged")
    lines = [line for line in xingfuli.log().splitlines() if dropped in line]
    assert "not JSON" in lines[0] and "is missing" in lines[1], lines
    assert f"more than {MAX_MESSAGE_BYTES:,}" in lines[2], lines
    assert not list(xingfuli.out.glob(".district/????-??-??.json"))     # nothing reached the disk
    assert xingfuli.running()

    day = local_today() + timedelta(days=1)
    message = DayNotices(new_message_id(), "街道办", day, datetime.now(timezone.utc),
                         (DayNotice("road", "修路", "东区明天修路。"),))
    sender.publish(topic, message.to_json(), retain=True)
    manifest = until(lambda: Library(xingfuli.out).manifest(day), what="the build after the drops")
    assert [(c["id"], c["tags"]) for c in manifest["clips"]] == [("road", ["office"])]
    assert xingfuli.log().count(dropped) == 3 and xingfuli.running()

    notice = urgent()                                    # the same urgent notice, three deliveries
    for urgent_topic in ("urgent/all", "urgent/group/east", "urgent/all"):
        sender.publish(TOPICS + urgent_topic, notice.to_json())

    def with_clip() -> list[Record]:
        return [r for r in xingfuli.records() if clip_of(notice) in r.clips]

    until(lambda: [r for r in with_clip() if r.result == "played"], what="the urgent notice played")
    until(lambda: xingfuli.log().count("it is not played twice") == 2, timeout=10, what="both repeats seen")
    time.sleep(1.0)                                      # time for a second play, were there one
    assert [r.result for r in with_clip()] == ["played"]
    assert xingfuli.log().count('playing the urgent notice "urgent: 燃气泄漏"') == 1
