"""Play now / stop by hand: the station's control socket against a Daemon with a fake clock and player, and
the page's Controls with and without a running station."""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest

from announcer.core.control import LIMIT, SOCKET, ControlError, ask, playing_by_hand, station_running
from announcer.core.errors import AnnouncerError
from announcer.core.library import Library
from announcer.core.plan import Occurrence
from announcer.core.playlog import PlayLog, Record
from announcer.station.by_hand import Controls
from announcer.station.control import ControlServer
from announcer.station.daemon import one_station
from test_station import DAY, FakeClock, FakePlayer, at, broadcast, config, daemon, make_day, out, played, records  # noqa: F401


@pytest.fixture
def station(tmp_path):
    """A daemon with its control socket open (as `announcer run` has it): morning (a, b) and fire (a, urgent)."""
    out = tmp_path / "out"
    make_day(out, clips=("a", "b", "c"))
    cfg = config(broadcast("morning"), broadcast("fire", clips=("a",), repeat=2, volume_db=-3.0))
    d = daemon(tmp_path, cfg, player=FakePlayer(hold={"02-b.wav"}))
    d.queue.start()
    server = ControlServer(d, out)
    server.start()
    d.server = server
    yield d
    server.stop()
    d.stop()


def send(d, request) -> dict:
    return ask(d.out, request, timeout=5)


def raw(out: Path, data: bytes, timeout: float = 5, close: bool = False) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(out / SOCKET))
        try:
            s.sendall(data)
        except OSError:
            pass                              # refused mid-way: the answer is still there to read
        if close:
            s.shutdown(socket.SHUT_WR)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return json.loads(answer)


def test_play_a_broadcast_now_cuts_in_and_is_logged_under_a_manual_name(station):
    d = station
    d.due(Occurrence(at(10), d.config.broadcasts[0]))
    d.fake.wait_started(2)                                  # morning's b is playing (held)
    answer = send(d, {"do": "play", "broadcast": "fire"})
    assert answer["ok"] and answer["message_en"] == 'playing "fire" now (2 clip(s))'
    assert answer["message_zh"] == "正在播放「fire」（2 段）。"
    d.fake.release(5)                                       # a a (fire, twice), then b again
    played(d)
    assert d.fake.heard() == ["01-a.wav", "02-b.wav!", "01-a.wav", "01-a.wav", "02-b.wav", "03-c.wav"]
    assert d.fake.volumes[2:4] == [-3.0, -3.0]
    log = {r.broadcast: r for r in records(d)}
    assert log["manual: fire"].result == "played" and log["manual: fire"].clips == ("a", "a")
    assert log["manual: fire"].scheduled == at(10) and log["manual: fire"].ended is not None
    assert log["morning"].result == "played" and "interrupted" in log["morning"].reason


def test_play_clips_of_a_day_now_plays_exactly_those_once(station):
    d = station
    answer = send(d, {"do": "play", "day": DAY.isoformat(), "clips": ["c", "a", "c"]})
    assert answer["ok"], answer
    played(d)
    assert d.fake.heard() == ["03-c.wav", "01-a.wav"]
    [record] = records(d)
    assert (record.broadcast, record.result, record.clips) == ("manual: c, a", "played", ("c", "a"))


def test_stop_ends_what_plays_and_drops_what_waits(station):
    d = station
    d.due(Occurrence(at(10), d.config.broadcasts[0]))
    d.fake.wait_started(2)
    d.due(Occurrence(at(10, 0, 1), broadcast("later", at=(at(10).time(),))))
    status = send(d, {"do": "status"})
    assert status["on_air"]["name"] == "morning" and status["on_air"]["clip"] == "b"
    assert [t["name"] for t in status["waiting"]] == ["later"]
    assert status["message_en"] == 'on air: "morning"; 1 waiting'
    answer = send(d, {"do": "stop"})
    assert answer["ok"] and answer["message_en"] == 'stopped "morning"; 1 waiting broadcast(s) dropped'
    played(d)
    assert d.fake.heard() == ["01-a.wav", "02-b.wav!"]
    log = {r.broadcast: r for r in records(d)}
    assert (log["morning"].result, log["morning"].reason, log["morning"].clips) == ("failed", "stopped by hand", ("a",))
    assert (log["later"].result, log["later"].reason) == ("missed", "stopped by hand")
    assert send(d, {"do": "stop"})["message_en"] == "nothing is playing"
    assert send(d, {"do": "status"})["on_air"] is None
    d.due(Occurrence(at(10, 5), broadcast("after", clips=("a",))))   # the station plays on after a stop
    played(d)
    assert d.fake.heard()[-1] == "01-a.wav"


@pytest.mark.parametrize("request_, message", [
    ({"do": "play", "broadcast": "evening"},
     'there is no broadcast called "evening" in the schedule (there are: morning, fire)'),
    ({"do": "play", "day": DAY.isoformat(), "clips": ["a", "nope"]}, "nope: not among 2026-11-30's clips"),
    ({"do": "play", "day": "2026-12-01", "clips": ["a"]}, "no clips for 2026-12-01 yet; build them first"),
    ({"do": "play", "day": "2026-13-01", "clips": ["a"]}, '"2026-13-01" is not a date; write it like 2026-11-30'),
    ({"do": "play", "day": "../../etc", "clips": ["a"]}, '"../../etc" is not a date; write it like 2026-11-30'),
    ({"do": "play", "day": DAY.isoformat(), "clips": []}, "choose the clips to play"),
    ({"do": "play", "day": DAY.isoformat(), "clips": ["a\nb"]}, 'not a valid clip name: "a b"'),
    ({"do": "play", "broadcast": "fire", "clips": ["a"]}, "say which broadcast to play, or which day and clips"),
    ({"do": "play"}, "say which broadcast to play, or which day and clips (one of the two)"),
    ({"do": "play", "broadcast": 3}, 'not a valid broadcast name: "3"'),
    ({"do": "reboot"}, 'unknown request "reboot" (play, stop or status)'),
    ({"do": "stop", "now": True}, "unknown fields in the request: now"),
    (["play"], "the request is not a JSON object"),
])
def test_bad_requests_are_refused_and_nothing_plays(station, request_, message):
    answer = send(station, request_)
    assert answer["ok"] is False and answer["en"].startswith(message), answer
    assert answer["zh"] and answer["zh"] != answer["en"]
    assert not station.queue.busy() and station.fake.heard() == []


def test_a_day_not_built_refuses_a_broadcast_without_queueing_it(tmp_path):
    d = daemon(tmp_path, config(broadcast("morning")))
    with pytest.raises(AnnouncerError) as caught:
        d.play_broadcast("morning")
    assert caught.value.en == "no clips for 2026-11-30; run announcer build, or build them on the web page's Today page"
    assert caught.value.zh == "2026-11-30 还没有生成音频；请运行 announcer build，或在网页的“今日通知”里生成"
    assert not d.queue.busy() and records(d) == []


def test_malformed_and_oversized_requests_are_answered_and_the_station_goes_on(station):
    out = station.out
    assert raw(out, b"{not json\n") == {"ok": False, "zh": "请求不是有效的 JSON。", "en": "the request is not valid JSON"}
    huge = raw(out, b'{"do": "play", "broadcast": "' + b"x" * (LIMIT + 10) + b'"}\n')
    assert huge["ok"] is False and huge["en"] == "the request is too large (at most 64 KB)"
    assert raw(out, b'{"do": "status"}', close=True)["ok"]   # no newline: the end of the stream ends it
    with pytest.raises(ControlError, match="too large"):
        ask(out, {"do": "play", "broadcast": "x" * LIMIT})


def test_a_silent_client_does_not_hold_up_the_others(station):
    station.server.read_s = 0.3
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(station.out / SOCKET))
        idle.sendall(b'{"do": "st')                          # and never finishes
        started = time.monotonic()
        assert send(station, {"do": "status"})["ok"]
        assert time.monotonic() - started < 0.25
        idle.settimeout(2)
        assert idle.recv(10) == b""                          # dropped after its time is up


def test_the_socket_is_private_replaces_a_stale_one_and_is_removed_on_stop(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)   # what a crashed station leaves behind
    stale.bind(str(out / SOCKET))
    stale.close()
    d = daemon(tmp_path, config(broadcast("morning")))
    server = ControlServer(d, out)
    server.start()
    try:
        mode = os.stat(out / SOCKET).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        assert send(d, {"do": "status"})["message_en"] == "nothing is playing"
    finally:
        server.stop()
    assert not (out / SOCKET).exists()
    assert [p.name for p in out.iterdir()] == []


def test_a_folder_path_too_long_for_a_unix_socket_still_works(tmp_path):
    out = tmp_path / ("deep-" * 20) / "out"
    out.mkdir(parents=True)
    assert len(str(out / SOCKET)) > 108
    d = daemon(tmp_path, config(broadcast("morning")))
    server = ControlServer(d, out)
    server.start()
    try:
        assert ask(out, {"do": "status"})["ok"]
    finally:
        server.stop()
    assert not (out / SOCKET).exists()


def test_a_start_after_a_manual_play_still_records_what_the_station_missed(tmp_path, out):
    """A play by hand while no station ran must not hide the scheduled times missed before it."""
    hourly = broadcast("hourly", at=tuple(at(h).time() for h in range(7, 12)))
    log = PlayLog(out)
    log.add(Record(at(7), "hourly", ("a",), "played"))
    log.add(Record(at(10), "manual: hourly", ("a",), "played"))
    d = daemon(tmp_path, config(hourly), now=at(10, 30))
    d.start()
    d.stop()
    assert [(r.scheduled.hour, r.broadcast, r.result) for r in records(d)] == [
        (7, "hourly", "played"), (8, "hourly", "missed"), (9, "hourly", "missed"), (10, "manual: hourly", "played"),
        (10, "hourly", "missed")]


def test_a_manual_play_does_not_hide_missed_times_when_the_last_regular_record_is_old(tmp_path, out):
    """The station last ran two days ago; a play by hand at 10:00 (through the page); the station starts at 10:30."""
    hourly = broadcast("hourly", at=tuple(at(h).time() for h in range(7, 12)))
    log = PlayLog(out)
    log.add(Record(at(7) - timedelta(days=2), "hourly", ("a",), "played"))
    log.add(Record(at(10), "manual: hourly", ("a",), "played"))
    d = daemon(tmp_path, config(hourly), now=at(10, 30))
    d.start()
    d.stop()
    today = [(r.scheduled.hour, r.broadcast, r.result) for r in records(d) if r.scheduled.date() == DAY]
    assert today == [(7, "hourly", "missed"), (8, "hourly", "missed"), (9, "hourly", "missed"),
                     (10, "manual: hourly", "played"), (10, "hourly", "missed")]
    yesterday = [r for r in records(d) if r.scheduled.date() == DAY - timedelta(days=1)]
    assert [(r.scheduled.hour, r.result) for r in yesterday] == [(11, "missed")]    # the look-back is 24 h


def test_a_manual_play_does_not_hide_a_time_within_the_grace_at_the_first_start(tmp_path, out):
    make_day(out)
    b = broadcast("b", at=(at(10, 27).time(),))
    PlayLog(out).add(Record(at(10, 29), "manual: b", ("a",), "played"))
    d = daemon(tmp_path, config(b), now=at(10, 30))
    d.start()
    played(d)
    d.stop()
    assert [(r.scheduled, r.broadcast, r.result) for r in records(d)] == [
        (at(10, 27), "b", "played"), (at(10, 29), "manual: b", "played")]
    assert d.fake.heard() == ["01-a.wav", "02-b.wav"]


# --- Controls: the page's side ----------------------------------------------------

def settled(controls: Controls, timeout: float = 5) -> None:
    """Until the page's own queue has played everything and been closed (it lets go of .by-hand.lock then)."""
    end = time.monotonic() + timeout
    while controls._local is not None or playing_by_hand(controls.out):      # letting go comes last
        assert time.monotonic() < end, "the local queue was not closed"
        time.sleep(0.01)


def test_without_a_station_controls_play_on_their_own_player(tmp_path, out):
    make_day(out)
    cfg = config(broadcast("morning", repeat=2))
    player = FakePlayer(hold={"02-b.wav"})
    controls = Controls(out, lambda: cfg, get_player=lambda name, device: player, clock=FakeClock(at(9)))
    try:
        assert not controls.station_running()
        assert controls.status().data == {"on_air": None, "waiting": [], "station": False}
        reply = controls.play_broadcast("morning")
        assert reply.message("en") == 'playing "morning" now (4 clip(s))'
        player.wait_started(2)
        assert controls.status().data["on_air"]["name"] == "manual: morning"
        assert controls.stop().message("en") == 'stopped "manual: morning"'
        settled(controls)
        controls.play_clips(DAY, ["a"])
        settled(controls)
        with pytest.raises(ControlError) as caught:
            controls.play_clips(DAY, ["zzz"])
        assert caught.value.en == "zzz: not among 2026-11-30's clips"
    finally:
        controls.close()
    assert player.heard() == ["01-a.wav", "02-b.wav!", "01-a.wav"]
    log = PlayLog(out).records()
    assert [(r.broadcast, r.result, r.reason) for r in log] == [("manual: morning", "failed", "stopped by hand"),
                                                               ("manual: a", "played", None)]


def test_controls_follow_an_edited_schedule(tmp_path, out):
    make_day(out)
    settings = {"config": config(broadcast("morning"))}
    player = FakePlayer()
    controls = Controls(out, lambda: settings["config"], get_player=lambda name, device: player, clock=FakeClock(at(9)))
    try:
        controls.play_broadcast("morning")
        settings["config"] = config(broadcast("evening"))
        with pytest.raises(ControlError, match="no broadcast called \"morning\""):
            controls.play_broadcast("morning")
    finally:
        controls.close()


def test_with_a_station_running_controls_go_through_its_socket(station, tmp_path):
    d = station
    own = FakePlayer()
    controls = Controls(d.out, lambda: d.config, get_player=lambda name, device: own)
    assert not controls.station_running()                   # no lock held yet
    with one_station(d.out):
        assert controls.station_running() and station_running(d.out)
        assert controls.play_broadcast("fire").message("en") == 'playing "fire" now (2 clip(s))'
        played(d)
        assert controls.status().data["station"] is True
        assert controls.stop().message("en") == "nothing is playing"
        with pytest.raises(ControlError) as caught:
            controls.play_broadcast("nope")
        assert caught.value.en.startswith('there is no broadcast called "nope"')
    assert d.fake.heard() == ["01-a.wav", "01-a.wav"] and own.heard() == []
    assert controls._local is None


def test_a_station_that_holds_the_lock_but_does_not_answer_is_reported(tmp_path, out):
    controls = Controls(out, lambda: config(broadcast("morning")))
    with one_station(out):
        with pytest.raises(ControlError) as caught:
            controls.play_broadcast("morning")
    assert caught.value.en.startswith("the station is running but cannot be reached")
    assert controls._local is None                          # never played here instead


def test_a_station_that_starts_between_the_pages_first_look_and_its_lock_is_used_instead(tmp_path, out):
    """_send looked (no station), then a station started: _here looks again while holding .by-hand.lock, so
    either the station sees the page playing or the page sees the station; here the page does not play."""
    make_day(out)
    cfg = config(broadcast("morning"))
    player = FakePlayer()
    controls = Controls(out, lambda: cfg, get_player=lambda name, device: player, clock=FakeClock(at(9)))
    try:
        with one_station(out):
            with controls._lock:
                assert controls._here(cfg) is None
            assert controls._local is None and not playing_by_hand(out)
    finally:
        controls.close()
    assert player.heard() == []


def test_the_page_holds_the_by_hand_lock_only_while_it_plays_on_its_own(tmp_path, out):
    make_day(out)
    player = FakePlayer(hold={"01-a.wav"})
    controls = Controls(out, lambda: config(broadcast("morning")), get_player=lambda name, device: player,
                        clock=FakeClock(at(9)), watch_s=0.02)
    try:
        assert not playing_by_hand(out)
        controls.play_broadcast("morning")
        player.wait_started(1)
        assert playing_by_hand(out)
        player.release(1)
        settled(controls)
        assert not playing_by_hand(out)
        assert [(r.broadcast, r.result) for r in PlayLog(out).records()] == [("manual: morning", "played")]
    finally:
        controls.close()


def test_a_station_that_starts_while_the_page_plays_on_its_own_takes_over(tmp_path, out):
    """Two players must not sound at once: the page stops its own playback and says why in the play log."""
    make_day(out)
    player = FakePlayer(hold={"01-a.wav"})
    controls = Controls(out, lambda: config(broadcast("morning")), get_player=lambda name, device: player,
                        clock=FakeClock(at(9)), watch_s=0.02)
    try:
        controls.play_broadcast("morning")
        controls.play_clips(DAY, ["b"])                          # waits behind it
        player.wait_started(1)
        with one_station(out):                                  # a station starts; nobody uses the page
            settled(controls)
        assert player.heard() == ["01-a.wav!"]
        handed = "a station started; it plays from now on"
        assert sorted((r.broadcast, r.result, r.reason) for r in PlayLog(out).records()) == [
            ("manual: b", "missed", handed), ("manual: morning", "failed", handed)]
        assert not playing_by_hand(out)
    finally:
        controls.close()


def test_a_starting_station_waits_for_the_pages_own_play_to_stop_before_it_plays(tmp_path, out):
    """A broadcast in its grace time when the station starts: its first clip sounds only after the page's player
    was stopped (the page sees the station within watch_s)."""
    make_day(out)
    page = FakePlayer(hold={"01-a.wav"})
    controls = Controls(out, lambda: config(broadcast("fire")), get_player=lambda name, device: page,
                        clock=FakeClock(at(10, 1)), watch_s=0.3)
    try:
        controls.play_broadcast("fire")
        page.wait_started(1)
        with one_station(out):
            d = daemon(tmp_path, config(broadcast("morning", at=(at(10).time(),))), now=at(10, 1))
            d.start()
            played(d)
            d.stop()
        stopped, first = page.playbacks[0], d.fake.playbacks[0]
        assert page.heard() == ["01-a.wav!"] and d.fake.heard() == ["01-a.wav", "02-b.wav"]
        assert stopped.ended is not None and stopped.ended <= first.started
        assert {r.broadcast: (r.result, r.reason) for r in records(d)} == {
            "manual: fire": ("failed", "a station started; it plays from now on"), "morning": ("played", None)}
    finally:
        controls.close()


def test_a_starting_station_leaves_the_pages_own_play_to_the_page(tmp_path, out, caplog):
    """The page's "playing" record is not the station's to end (it did not stop; its player still plays):
    the page ends it, with the true reason, once it sees the station (here at its next request). The station
    waits for it only `page_stop_s`, and says so once."""
    make_day(out)
    player = FakePlayer(hold={"01-a.wav"})
    controls = Controls(out, lambda: config(broadcast("morning")), get_player=lambda name, device: player,
                        clock=FakeClock(at(9)), watch_s=60)
    try:
        controls.play_broadcast("morning")
        player.wait_started(1)
        PlayLog(out).add(Record(at(8), "manual: fire", (), "playing", started=at(8)))    # an earlier crash's
        with one_station(out):
            d = daemon(tmp_path, config(broadcast("morning", at=(at(7).time(),))), now=at(9, 1), page_stop_s=0.1)
            with caplog.at_level(logging.WARNING, logger="announcer.station"):
                d.start()
            said = [r.getMessage() for r in caplog.records if "did not stop its own playback" in r.getMessage()]
            assert said == ["the page did not stop its own playback within 0.1 s; the station starts anyway"]
            rows = {r.broadcast: r for r in records(d)}
            assert (rows["manual: morning"].result, rows["manual: morning"].ended) == ("playing", None)
            assert rows["manual: fire"].result == "playing"     # cannot tell while a page plays; the next start will
            server = ControlServer(d, out)
            server.start()
            try:
                assert controls.status().data["station"] is True
            finally:
                server.stop()
                d.stop()
        assert controls._local is None and player.heard() == ["01-a.wav!"]
        rows = {r.broadcast: r for r in records(d)}
        assert (rows["manual: morning"].result, rows["manual: morning"].reason) == (
            "failed", "a station started; it plays from now on")
        again = daemon(tmp_path, config(broadcast("morning", at=(at(7).time(),))), now=at(9, 2))
        again.start()
        again.stop()
        assert {r.broadcast: r.result for r in records(again)}["manual: fire"] == "failed"
    finally:
        controls.close()


def test_a_play_by_hand_is_logged_under_the_clips_titles(tmp_path):
    out = tmp_path / "out"
    folder = make_day(out, clips=("ting-shui", "a"))
    manifest = Library(out).manifest(DAY)
    for clip, title in zip(manifest["clips"], ("停水通知", "")):
        clip["title"] = title
    Library(out).publish(DAY, [(c["file"], folder / c["file"]) for c in manifest["clips"]], manifest)
    d = daemon(tmp_path, config(broadcast("morning")))
    d.queue.start()
    try:
        d.play_clips(DAY, ("ting-shui", "a"))
        played(d)
        [record] = records(d)
        assert (record.broadcast, record.clips) == ("manual: 停水通知, a", ("ting-shui", "a"))   # no title: the id
    finally:
        d.stop()
