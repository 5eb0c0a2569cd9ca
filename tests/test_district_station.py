"""A station's link to its office (announcer.district): days built with the office's notices, urgent notices
played once, play-log records sent at least once and stored once, against a real Mosquitto (tests/broker.py)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from broker import TOPICS, broker, free_port

from announcer.build.engines.fake import FakeEngine
from announcer.core.config import AudioConfig, Config, NetworkConfig, QuietHours, SpeechConfig, Station
from announcer.core.district import (MAX_MESSAGE_BYTES, STATION_TOPICS, DayNotice, DayNotices, PlayRecord,
                                     StationStatus, Urgent, new_message_id, read_message, record_id)
from announcer.core.library import Library
from announcer.core.mqtt import Login, connect
from announcer.core.officelog import OfficeLog
from announcer.core.playlog import PlayLog, Record
from announcer.district.link import StationLink

__all__ = ["broker"]          # the fixture, used by name below

ZONE = ZoneInfo("Asia/Shanghai")
GROUPS = {"xingfuli": ("east",), "hepingli": ("west",), "yangguang": ("east",)}
OWN = '[[notice]]\nid = "water"\ntitle = "停水通知"\ntext = "明天停水。"\n'


def until(check, timeout: float = 15.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come true within {timeout} s")


def station_config(port: int, station_id: str = "xingfuli", password: str | None = "none",
                   quiet: QuietHours | None = None) -> Config:
    network = NetworkConfig(broker=f"mqtt://127.0.0.1:{port}", host="127.0.0.1", port=port, station_id=station_id,
                            groups=GROUPS[station_id], username=station_id, password=password)
    return Config(path=None, speech=SpeechConfig(), audio=AudioConfig(format="wav"),
                  station=Station(timezone="Asia/Shanghai", quiet_hours=quiet), network=network)


class Plays:
    """Instead of the station's control socket: what the link asked to play."""

    def __init__(self):
        self.calls: list[tuple[date, list[str]]] = []

    def __call__(self, day, ids):
        self.calls.append((day, list(ids)))
        return "playing"

    def notices(self) -> list[tuple[date, list[str]]]:
        """The calls but those of the attention clip (the chime played while an urgent notice is spoken)."""
        return [call for call in self.calls if call[1] != ["urgent-attention"]]


@pytest.fixture
def make_link(tmp_path):
    links = []

    def make(port: int, station_id: str = "xingfuli", password: str | None = "none", **options) -> StationLink:
        out = tmp_path / f"out-{station_id}"
        config = station_config(port, station_id, password, options.pop("quiet", None))
        options.setdefault("play", Plays())
        link = StationLink(config, out, engine=FakeEngine, send_s=0.2, retry_s=0.5, **options)
        links.append(link)
        return link

    yield make
    for link in links:
        link.stop()


def office(broker, client_id: str = "office-test"):
    """The office's side: a kept session subscribed to every station's status and log."""
    connection = connect(Login("127.0.0.1", broker.port, username="office", password=broker.password("office"),
                               client_id=client_id, keep_session=True))
    connection.client.reconnect_delay_set(min_delay=1, max_delay=2)
    connection.subscribe(STATION_TOPICS)
    broker.clients.append(connection)          # closed with the broker fixture
    return connection


def collect(connection, store: OfficeLog, seconds: float = 0.3) -> list:
    """Read what arrived into the office's store (as `office status` does); the messages."""
    got = []
    for message in connection.receive(seconds):
        found = read_message(message.payload)
        got.append(found)
        if isinstance(found, PlayRecord):
            store.add_record(found)
        elif isinstance(found, StationStatus):
            store.add_status(found)
    return got


@pytest.fixture(autouse=True)
def logs_reach_caplog(monkeypatch):
    """`announcer run` in another test may have stopped the station's log from propagating."""
    monkeypatch.setattr(logging.getLogger("announcer"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("announcer"), "level", logging.INFO)


def day_message(day: date, *notices: DayNotice) -> DayNotices:
    return DayNotices(new_message_id(), "街道办", day, datetime.now(timezone.utc), notices)


def tomorrow() -> date:
    return datetime.now(ZONE).date() + timedelta(days=1)


# ---- days

@pytest.mark.real
def test_a_day_published_before_the_station_starts_is_kept_and_built_with_the_office_notices_tagged(broker,
                                                                                                    make_link):
    day = tomorrow()
    sender = broker.client("office")
    everybody = day_message(day, DayNotice("water", "街道停水", "周五街道全域停水。"))
    east = day_message(day, DayNotice("fair", "东区集市", "东区周六有集市。", language="zh", repeat=2))
    sender.publish(TOPICS + "day/all", everybody.to_json(), retain=True)
    sender.publish(TOPICS + "day/group/east", east.to_json(), retain=True)
    sender.publish(TOPICS + "day/group/west", day_message(day, DayNotice("west", None, "西区的事。")).to_json(),
                   retain=True)
    listener = office(broker)

    link = make_link(broker.port, password=broker.password("xingfuli"))
    (link.out / ".notices").mkdir(parents=True)
    (link.out / ".notices" / f"{day}.toml").write_text(OWN, encoding="utf-8")
    link.start()
    manifest = until(lambda: (m := Library(link.out).manifest(day)) and len(m["clips"]) == 3 and m, what="the build")
    clips = {c["id"]: c for c in manifest["clips"]}
    assert set(clips) == {"water", "water-2", "fair"}                 # the station's own water kept its id
    assert clips["water"]["tags"] == [] and clips["water"]["text"] == "明天停水。"
    assert clips["water-2"]["tags"] == ["office"] and clips["water-2"]["text"] == "周五街道全域停水。"
    assert clips["fair"]["tags"] == ["office"]
    kept = json.loads((link.out / ".district" / f"{day}.json").read_text(encoding="utf-8"))
    assert set(kept["messages"]) == {TOPICS + "day/all", TOPICS + "day/group/east"}
    assert (link.out / ".notices" / f"{day}.toml").read_text(encoding="utf-8") == OWN     # the page's file: as it was

    store = OfficeLog(broker.folder)
    until(lambda: collect(listener, store) is not None and (s := store.statuses().get("xingfuli"))
          and s[0].day == day, what="the status after the build")
    status = store.statuses()["xingfuli"][0]
    assert status.online and status.built == 3 and status.engine == dict(SpeechConfig().engines)
    assert status.groups == ("east",)
    assert link.alive()

    link.stop()
    offline = until(lambda: [m for m in collect(listener, store) if isinstance(m, StationStatus)],
                    what="the offline status")
    assert offline[-1].online is False


@pytest.mark.real
def test_a_day_published_while_running_is_built_and_the_same_day_again_is_not_built_twice(broker, make_link):
    link = make_link(broker.port, password=broker.password("xingfuli"))
    link.start()
    until(link.connected, what="the connection")
    day = tomorrow()
    message = day_message(day, DayNotice("road", "修路", "东区明天修路。"))
    sender = broker.client("office")
    sender.publish(TOPICS + "day/station/xingfuli", message.to_json(), retain=True)
    until(lambda: Library(link.out).manifest(day), what="the build")
    first = Library(link.out).day_version(day)
    sender.publish(TOPICS + "day/station/xingfuli", message.to_json(), retain=True)     # delivered again
    time.sleep(1.0)
    assert Library(link.out).day_version(day) == first


def test_a_malformed_or_oversized_message_is_dropped_before_it_touches_disk_and_the_link_carries_on(make_link,
                                                                                                     caplog):
    link = make_link(free_port())
    day_topic = TOPICS + "day/all"
    for payload in (b"not json", b'{"kind": "day", "v": 1}', b"{" + b" " * MAX_MESSAGE_BYTES + b"}",
                    Urgent(new_message_id(), "停电", datetime.now(timezone.utc),
                           datetime.now(timezone.utc) + timedelta(minutes=5)).to_json()):    # urgent on a day topic
        link.handle(day_topic, payload)
    assert link.dropped == 4
    assert not (link.out / ".district").exists()
    assert "dropped a message from announcer/v1/day/all" in caplog.text
    assert "bytes, more than" in caplog.text


@pytest.mark.real
def test_a_malformed_message_from_the_broker_is_dropped_and_the_next_one_is_built(broker, make_link):
    link = make_link(broker.port, password=broker.password("xingfuli"))
    link.start()
    until(link.connected, what="the connection")
    sender = broker.client("office")
    sender.publish(TOPICS + "day/group/east", b'{"kind": "day", "v": 1, "id": "x"}', retain=True)
    until(lambda: link.dropped == 1, what="the drop")
    day = tomorrow()
    sender.publish(TOPICS + "day/all", day_message(day, DayNotice("a", None, "一条通知。")).to_json(), retain=True)
    until(lambda: Library(link.out).manifest(day), what="the build")
    assert link.alive() and link.dropped == 1


# ---- urgent notices

def urgent(minutes: float = 30, emergency: bool = False, issued: datetime | None = None) -> Urgent:
    issued = issued or datetime.now(timezone.utc)
    return Urgent(new_message_id(), "燃气泄漏，请立即离开三号楼。", issued, issued + timedelta(minutes=minutes),
                  emergency, "燃气泄漏")


@pytest.mark.real
def test_an_urgent_notice_delivered_twice_is_spoken_into_the_day_and_played_once(broker, make_link):
    link = make_link(broker.port, password=broker.password("yangguang"), station_id="yangguang")
    link.start()
    until(link.connected, what="the connection")
    notice = urgent()
    sender = broker.client("office")
    sender.publish(TOPICS + "urgent/group/east", notice.to_json())
    sender.publish(TOPICS + "urgent/all", notice.to_json())
    until(lambda: len(link._play.calls) == 2, what="the play")
    time.sleep(1.0)
    today = datetime.now(ZONE).date()
    assert link._play.calls == [(today, ["urgent-attention"]), (today, [f"urgent-{notice.id[:8]}"])]
    chime, clip = Library(link.out).manifest(today)["clips"]
    assert chime["id"] == "urgent-attention" and chime["tags"] == ["office", "office-urgent"]
    assert clip["id"] == f"urgent-{notice.id[:8]}" and clip["tags"] == ["office", "office-urgent"]
    assert clip["title"] == "燃气泄漏" and (link.out / ".district" / "urgent.json").is_file()
    assert not list((link.out / ".district" / "urgent-waiting").iterdir())      # settled

    link.stop()                       # the id is remembered across a restart
    again = make_link(broker.port, password=broker.password("yangguang"), station_id="yangguang",
                      play=link._play)
    again.handle(TOPICS + "urgent/all", notice.to_json())
    time.sleep(0.3)
    assert len(link._play.calls) == 2


@pytest.mark.real
def test_an_urgent_notice_that_expired_while_the_station_was_off_is_recorded_missed_not_played(broker, make_link):
    link = make_link(broker.port, password=broker.password("hepingli"), station_id="hepingli")
    link.start()                      # the broker keeps its session: what comes while it is off waits there
    until(link.connected, what="the connection")
    link.stop()
    listener = office(broker)
    issued = datetime.now(timezone.utc) - timedelta(seconds=1)
    sender = broker.client("office")
    sender.publish(TOPICS + "urgent/station/hepingli", urgent(minutes=0.5 / 60, issued=issued).to_json())
    time.sleep(0.6)                   # it expires on the broker
    link = make_link(broker.port, password=broker.password("hepingli"), station_id="hepingli")
    link.start()
    [record] = until(lambda: PlayLog(link.out).records(), what="the missed record")
    assert (record.result, record.reason, record.broadcast) == ("missed", "expired before it arrived",
                                                                "urgent: 燃气泄漏")
    assert link._play.calls == []
    store = OfficeLog(broker.folder)
    until(lambda: collect(listener, store) is not None and store.records("hepingli"), what="the record at the office")
    assert [r.result for r in store.records("hepingli")] == ["missed"]


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_in_the_quiet_hours_an_urgent_notice_waits_for_their_end_and_an_emergency_does_not(make_link):
    night = datetime(2026, 12, 7, 22, 0, tzinfo=ZONE)
    clock_ = Clock(night)
    link = make_link(free_port(), quiet=QuietHours(clock(21, 30), clock(7, 0)), clock=clock_)
    waits = urgent(minutes=12 * 60, issued=night)
    link.take_urgent(waits)
    emergency = urgent(minutes=30, emergency=True, issued=night)
    link.take_urgent(emergency)
    until(lambda: len(link._play.notices()) == 1, what="the emergency")
    assert link._play.notices()[0][1] == [f"urgent-{emergency.id[:8]}"]
    expiring = urgent(minutes=60, issued=night)
    link.take_urgent(expiring)
    time.sleep(0.5)
    assert len(link._play.notices()) == 1
    clock_.now = datetime(2026, 12, 8, 7, 0, 1, tzinfo=ZONE)
    until(lambda: len(link._play.notices()) == 2, what="the play at the end of the quiet hours")
    assert link._play.notices()[1] == (date(2026, 12, 8), [f"urgent-{waits.id[:8]}"])
    until(lambda: PlayLog(link.out).records(), what="the missed record")
    [missed] = PlayLog(link.out).records()
    assert (missed.result, missed.reason) == ("missed", "expired during the quiet hours")
    time.sleep(0.3)
    assert len(link._play.notices()) == 2
    assert [ids for _, ids in link._play.calls] == [["urgent-attention"], [f"urgent-{emergency.id[:8]}"],
                                                    ["urgent-attention"], [f"urgent-{waits.id[:8]}"]]


def test_an_urgent_notice_waiting_when_the_station_stops_plays_when_it_starts_again(make_link):
    night = datetime(2026, 12, 7, 22, 0, tzinfo=ZONE)
    clock_ = Clock(night)
    quiet = QuietHours(clock(21, 30), clock(7, 0))
    link = make_link(free_port(), quiet=quiet, clock=clock_)
    waits = urgent(minutes=12 * 60, issued=night)
    link.take_urgent(waits)
    time.sleep(0.3)
    link.stop()                                          # in the quiet hours: taken, not yet played
    assert link._play.calls == []
    clock_.now = datetime(2026, 12, 8, 7, 30, tzinfo=ZONE)
    again = make_link(free_port(), quiet=quiet, clock=clock_)
    again.handle(TOPICS + "urgent/all", waits.to_json())           # the broker sends it no more: seen
    again.start()
    until(lambda: again._play.notices(), what="the play after the restart")
    assert again._play.notices() == [(date(2026, 12, 8), [f"urgent-{waits.id[:8]}"])]
    time.sleep(0.3)
    assert len(again._play.notices()) == 1 and not PlayLog(again.out).records()


def test_an_urgent_notice_that_expired_while_the_station_was_stopped_is_recorded_missed_at_start(make_link):
    night = datetime(2026, 12, 7, 22, 0, tzinfo=ZONE)
    clock_ = Clock(night)
    quiet = QuietHours(clock(21, 30), clock(7, 0))
    link = make_link(free_port(), quiet=quiet, clock=clock_)
    waits = urgent(minutes=10 * 60, issued=night)         # until 08:00
    link.take_urgent(waits)
    time.sleep(0.3)
    link.stop()
    clock_.now = datetime(2026, 12, 8, 9, 0, tzinfo=ZONE)
    again = make_link(free_port(), quiet=quiet, clock=clock_)
    again.start()
    [record] = until(lambda: PlayLog(again.out).records(), what="the missed record")
    assert (record.result, record.reason) == ("missed", "expired while the station was stopped")
    assert again._play.calls == []


def test_without_a_chime_an_urgent_notice_plays_alone(make_link):
    link = make_link(free_port())
    link.config = replace(link.config, audio=replace(link.config.audio, chime="none"))
    notice = urgent()
    link.take_urgent(notice)
    until(lambda: link._play.calls, what="the play")
    time.sleep(0.3)
    assert [ids for _, ids in link._play.calls] == [[f"urgent-{notice.id[:8]}"]]


# ---- play-log records

def records_at(moment: datetime) -> list[Record]:
    return [Record(moment, "早间广播", ("water",), "playing", started=moment),
            Record(moment + timedelta(hours=4), "午间广播", ("water", "fair"), "missed", "停电")]


@pytest.mark.real
def test_records_are_sent_once_acknowledged_and_an_update_is_sent_again_and_stored_once(broker, make_link):
    due = datetime(2026, 12, 7, 8, 0, tzinfo=ZONE)
    link = make_link(broker.port, password=broker.password("xingfuli"))
    PlayLog(link.out).add_many(records_at(due))
    listener = office(broker)
    store = OfficeLog(broker.folder)
    link.start()
    until(lambda: collect(listener, store) is not None and len(store.records()) == 2, what="the records")
    played = Record(due, "早间广播", ("water",), "played", started=due, ended=due + timedelta(seconds=40))
    PlayLog(link.out).add(played)                       # the same broadcast ends: replaced in the play log
    link.wake()
    until(lambda: collect(listener, store) is not None and store.records()[0].result == "played",
          what="the update")
    assert [r.record() for r in store.records()] == [played, records_at(due)[1]]
    assert store.records()[0].id == record_id("xingfuli", due, "早间广播")
    assert link.records_sent == 3

    listener_raw = broker.client("xingfuli")             # delivered twice: one row at the office
    listener_raw.publish(TOPICS + "station/xingfuli/log", PlayRecord.of("xingfuli", played).to_json())
    collect(listener, store, 0.5)
    assert len(store.records()) == 2
    link.stop()
    again = make_link(broker.port, password=broker.password("xingfuli"))
    again.start()                                        # a restart sends nothing already acknowledged
    until(again.connected, what="the connection")
    time.sleep(1.0)
    assert again.records_sent == 0


@pytest.mark.real
def test_while_the_broker_is_stopped_records_wait_and_arrive_once_each_after_it_is_back(broker, make_link):
    due = datetime(2026, 12, 7, 8, 0, tzinfo=ZONE)
    link = make_link(broker.port, password=broker.password("xingfuli"))
    listener = office(broker)
    store = OfficeLog(broker.folder)
    link.start()
    PlayLog(link.out).add(Record(due, "早间广播", (), "played", started=due, ended=due))
    until(lambda: collect(listener, store) is not None and store.records(), what="the first record")
    broker.stop()
    until(lambda: not link.connected(), what="the link to notice")
    later = [Record(due + timedelta(hours=h), f"广播{h}", ("a",), "played", started=due) for h in range(1, 6)]
    for record in later:                                 # the station plays on
        PlayLog(link.out).add(record)
    link.wake()
    time.sleep(1.0)
    assert link.alive() and link.records_sent == 1
    broker.start()
    until(lambda: collect(listener, store) is not None and len(store.records()) == 6, timeout=30,
          what="the records after the restart")
    assert link.records_sent == 6
    import sqlite3

    with sqlite3.connect(broker.folder / "office.sqlite") as db:
        assert db.execute("SELECT count(*), count(DISTINCT id) FROM record").fetchone() == (6, 6)


def test_a_link_without_a_broker_retries_quietly_and_never_raises(make_link, caplog):
    link = make_link(free_port())
    link.start()
    time.sleep(1.2)
    assert link.alive() and not link.connected()
    assert caplog.text.count("cannot reach the broker") == 1         # said once, not at every try
    link.stop()
    assert not link.alive()


# ---- stations as real `announcer run` processes

@pytest.mark.real
def test_three_running_stations_build_a_published_day_and_play_an_urgent_notice(broker, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    stations = {}
    for station_id, groups in GROUPS.items():
        folder = tmp_path / station_id
        folder.mkdir()
        (folder / "schedule.toml").write_text(
            '[station]\ntimezone = "Asia/Shanghai"\n\n[speech]\nengines = { zh = "espeak-ng", en = "espeak-ng" }\n\n'
            '[audio]\nformat = "wav"\n\n[[broadcast]]\nname = "早间"\nat = ["08:00"]\n\n'
            f'[network]\nbroker = "mqtt://127.0.0.1:{broker.port}"\nstation_id = "{station_id}"\n'
            f'groups = {json.dumps(list(groups))}\n'
            f'password_file = "{broker.folder / "stations" / f"{station_id}.password"}"\n', encoding="utf-8")
        stations[station_id] = subprocess.Popen(
            [sys.executable, "-m", "announcer", "run", "--player", "null", "--out", str(folder / "out")], cwd=folder,
            env={**os.environ, "ANNOUNCER_LANG": "en", "PYTHONPATH": str(root)}, stdout=subprocess.DEVNULL,
            stderr=open(folder / "stderr.txt", "w"), stdin=subprocess.DEVNULL)
    try:
        statuses = broker.client("office")
        statuses.subscribe(TOPICS + "station/+/status")
        online = set()

        def all_online() -> bool:
            online.update(m.station for m in _statuses(statuses) if m.online)
            return online == set(GROUPS)

        until(all_online, timeout=30, what="three stations online")
        day = tomorrow()
        sender = broker.client("office")
        sender.publish(TOPICS + "day/all", day_message(day, DayNotice("water", "停水", "周五停水。")).to_json(),
                       retain=True)
        for station_id in GROUPS:
            out = tmp_path / station_id / "out"
            manifest = until(lambda: Library(out).manifest(day), timeout=60, what=f"{station_id}'s build")
            assert [(c["id"], c["tags"]) for c in manifest["clips"]] == [("water", ["office"])]
        notice = urgent()
        sender.publish(TOPICS + "urgent/all", notice.to_json())
        for station_id in GROUPS:
            log = PlayLog(tmp_path / station_id / "out")
            played = until(lambda: (found := [r for r in log.records() if r.result == "played"]) and
                           len(found) == 2 and found, timeout=60, what=f"{station_id}'s urgent play")
            assert [r.clips for r in played] == [("urgent-attention",), (f"urgent-{notice.id[:8]}",)]
    finally:
        for process in stations.values():
            process.send_signal(signal.SIGTERM)
        for station_id, process in stations.items():
            assert process.wait(timeout=20) == 0
            stderr = (tmp_path / station_id / "stderr.txt").read_text()
            assert "Traceback" not in stderr, stderr


def _statuses(client) -> list[StationStatus]:
    found = []
    while not client.messages.empty():
        found.append(StationStatus.from_json(client.messages.get().payload))
    return found


# ---- schedule.toml edited while the station runs

def write_schedule(folder: Path, port: int, password_file: Path, groups: list[str] | None,
                   quiet: str = "") -> Path:
    path = folder / "schedule.toml"
    text = '[station]\ntimezone = "Asia/Shanghai"\n' + quiet + '\n[audio]\nformat = "wav"\n'
    if groups is not None:
        text += (f'\n[network]\nbroker = "mqtt://127.0.0.1:{port}"\nstation_id = "xingfuli"\n'
                 f'groups = {json.dumps(groups)}\npassword_file = "{password_file}"\n')
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.real
def test_a_running_link_follows_schedule_toml_groups_quiet_hours_and_network_taken_out(broker, tmp_path, caplog):
    from announcer.core.config import load_config

    password = broker.folder / "stations" / "xingfuli.password"
    path = write_schedule(tmp_path, broker.port, password, [])
    link = StationLink(load_config(path), tmp_path / "out", engine=FakeEngine, play=Plays(), send_s=0.1,
                       retry_s=0.5)
    try:
        link.start()
        until(link.connected, what="the connection")
        listener = office(broker)
        store = OfficeLog(broker.folder)
        sender = broker.client("office")

        write_schedule(tmp_path, broker.port, password, ["east"], quiet='quiet_hours = { from = "22:00", to = "07:00" }\n')
        until(lambda: link.network.groups == ("east",), what="the new group")
        assert link.config.station.quiet_hours is not None
        time.sleep(0.5)                                  # subscribed to east
        day = tomorrow()
        sender.publish(TOPICS + "day/group/east", day_message(day, DayNotice("east", None, "东区。")).to_json())
        manifest = until(lambda: Library(link.out).manifest(day), what="the build")
        assert [c["id"] for c in manifest["clips"]] == ["east"]

        write_schedule(tmp_path, broker.port, password, [])           # out of the group: unsubscribed
        until(lambda: link.network.groups == (), what="no group")
        time.sleep(0.5)
        later = day + timedelta(days=1)
        sender.publish(TOPICS + "day/group/east", day_message(later, DayNotice("east", None, "东区。")).to_json())
        sender.publish(TOPICS + "day/all", day_message(later, DayNotice("all", None, "全体。")).to_json())
        manifest = until(lambda: Library(link.out).manifest(later), what="the build")
        assert [c["id"] for c in manifest["clips"]] == ["all"]
        assert link.dropped == 0 and stored_topics(link.out, later) == [TOPICS + "day/all"]

        path.write_text("[station\nbroken", encoding="utf-8")       # mistakes: the last good settings stay
        time.sleep(0.5)
        assert link.connected() and link.network.groups == ()

        write_schedule(tmp_path, broker.port, password, None)        # [network] taken out: offline
        until(lambda: not link.connected(), what="the disconnection")
        until(lambda: collect(listener, store) is not None and (s := store.statuses().get("xingfuli"))
              and not s[0].online, what="the offline status")
        write_schedule(tmp_path, broker.port, password, [])          # and back
        until(link.connected, what="the connection again")
        until(lambda: collect(listener, store) is not None and store.statuses()["xingfuli"][0].online,
              what="the online status")
        assert link.alive() and "Traceback" not in caplog.text
    finally:
        link.stop()


def stored_topics(out: Path, day: date) -> list[str]:
    return list(json.loads((out / ".district" / f"{day}.json").read_text(encoding="utf-8"))["messages"])
