"""The play log: proof of broadcast that survives crashes, shared by processes; and `announcer log`."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from announcer.core.playlog import PlayLog, PlayLogError, Record

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str, zone=SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def played(when: datetime, name="morning", clips=("01-water",), **kw) -> Record:
    return Record(when, name, tuple(clips), "played", started=when + timedelta(seconds=0.02),
                  ended=when + timedelta(seconds=31), **kw)


def test_records_read_back_as_written(tmp_path):
    log = PlayLog(tmp_path)
    first = played(at("2026-11-30T08:00"), clips=("01-water", "02-flu"))
    second = Record(at("2026-11-30T09:00"), "停水通知", (), "failed", "paplay: Connection refused")
    log.add(second)
    log.add(first)
    assert log.records() == [first, second]                      # by scheduled time, not by when added
    assert log.records()[0].scheduled.utcoffset() == timedelta(hours=8)
    assert (tmp_path / "playlog.sqlite").is_file()


def test_seen_matches_the_instant_whatever_the_offset(tmp_path):
    log = PlayLog(tmp_path)
    log.add(Record(at("2026-11-30T08:00"), "morning", (), "missed", "the station was off"))
    assert log.seen("morning", at("2026-11-30T00:00", timezone.utc))
    assert not log.seen("morning", at("2026-11-30T08:00:01"))
    assert not log.seen("evening", at("2026-11-30T08:00"))


def test_last_scheduled(tmp_path):
    log = PlayLog(tmp_path)
    assert log.last_scheduled() is None
    log.add(played(at("2026-11-30T17:30")))
    log.add(played(at("2026-11-30T08:00")))
    assert log.last_scheduled() == at("2026-11-30T17:30")


def test_last_scheduled_can_leave_out_names_by_exact_prefix(tmp_path):
    log = PlayLog(tmp_path)
    log.add(played(at("2026-11-28T08:00")))
    log.add(played(at("2026-11-30T10:00"), name="manual: morning"))
    log.add(played(at("2026-11-30T10:05"), name="手动播放：早间"))
    manual = ("手动播放：", "manual: ")
    assert log.last_scheduled() == at("2026-11-30T10:05")
    assert log.last_scheduled(exclude=manual) == at("2026-11-28T08:00")
    log.add(played(at("2026-11-29T09:00"), name="Manual: a broadcast of its own"))    # case counts
    log.add(played(at("2026-11-29T09:30"), name="manual_ x"))                          # no wildcards
    assert log.last_scheduled(exclude=manual) == at("2026-11-29T09:30")
    assert PlayLog(tmp_path / "none").last_scheduled(exclude=manual) is None


def test_a_later_record_of_the_same_occurrence_replaces_the_earlier(tmp_path):
    log = PlayLog(tmp_path)
    due = at("2026-11-30T08:00")
    log.add(Record(due, "morning", (), "playing", started=due))
    log.add(Record(due, "evening", (), "playing", started=due))
    assert log.seen("morning", due)                                  # on air counts as dealt with
    log.add(played(due.astimezone(timezone.utc)))                    # the same instant, another offset
    assert sorted((r.broadcast, r.result) for r in log.records()) == [("evening", "playing"), ("morning", "played")]


def test_add_many_writes_all_or_nothing(tmp_path):
    log = PlayLog(tmp_path)
    base = at("2026-11-30T08:00")
    log.add_many([Record(base + timedelta(minutes=m), "loop", (), "missed", "asleep") for m in range(100)])
    assert len(log.records()) == 100
    with pytest.raises(ValueError):
        log.add_many([Record(base + timedelta(hours=5), "loop", (), "missed"), Record(base, "loop", (), "bogus")])
    assert len(log.records()) == 100 and log.records()[0].result == "missed"
    log.add_many([])


def test_reading_an_empty_folder_creates_nothing(tmp_path):
    log = PlayLog(tmp_path / "audio_out")
    assert log.records(date(2026, 11, 30), SHANGHAI) == [] and log.last_scheduled() is None
    assert not log.seen("morning", at("2026-11-30T08:00"))
    assert not (tmp_path / "audio_out").exists()


def test_a_day_is_the_stations_day(tmp_path):
    log = PlayLog(tmp_path)
    times = [at("2026-11-29T23:59:59"), at("2026-11-30T00:00"), at("2026-11-30T23:59:59"), at("2026-12-01T00:00")]
    for t in times:
        log.add(played(t))
    assert [r.scheduled for r in log.records(date(2026, 11, 30), SHANGHAI)] == times[1:3]
    # the same instants seen from UTC: 16:00 the day before to 16:00
    assert [r.scheduled for r in log.records(date(2026, 11, 30), timezone.utc)] == times[2:]


@pytest.mark.parametrize("day,hours", [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25)])
def test_a_day_across_a_clock_change_has_its_real_length(tmp_path, day, hours):
    log = PlayLog(tmp_path)
    midnight = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).astimezone(timezone.utc)
    for minutes in range(-30, hours * 60 + 60, 30):
        log.add(played((midnight + timedelta(minutes=minutes)).astimezone(NEW_YORK)))
    on_the_day = log.records(day, NEW_YORK)
    assert len(on_the_day) == hours * 2
    assert {r.scheduled.astimezone(NEW_YORK).date() for r in on_the_day} == {day}


def test_local_zone_when_none_is_given(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        log = PlayLog(tmp_path)
        log.add(played(at("2026-11-30T00:30")))
        assert len(log.records(date(2026, 11, 30))) == 1
        assert log.records(date(2026, 11, 29)) == []
    finally:
        monkeypatch.undo()
        time.tzset()


def test_naive_times_and_unknown_results_are_refused(tmp_path):
    log = PlayLog(tmp_path)
    with pytest.raises(ValueError, match="aware"):
        log.add(Record(datetime(2026, 11, 30, 8), "morning", (), "played"))
    with pytest.raises(ValueError, match="result"):
        log.add(Record(at("2026-11-30T08:00"), "morning", (), "ok"))
    assert log.records() == []


WRITER = """
import sys
from datetime import datetime, timedelta, timezone
from announcer.core.playlog import PlayLog, Record
log, base = PlayLog(sys.argv[1]), datetime(2026, 11, 30, tzinfo=timezone.utc)
for i in range(int(sys.argv[3])):
    log.add(Record(base + timedelta(minutes=i), sys.argv[2], ("01-a",), "played"))
    print(i, flush=True)
"""


def test_records_survive_the_writer_being_killed(tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "crash", "100000"],
                              stdout=subprocess.PIPE, text=True)
    for _ in range(20):
        confirmed = int(writer.stdout.readline())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    records = PlayLog(tmp_path).records()
    assert len(records) >= confirmed + 1                      # every add that returned is there
    assert [r.scheduled for r in records] == sorted(r.scheduled for r in records)
    assert sqlite3.connect(tmp_path / "playlog.sqlite").execute("PRAGMA integrity_check").fetchone() == ("ok",)
    PlayLog(tmp_path).add(played(at("2026-12-01T08:00")))     # and it can be written again


def test_several_processes_write_at_once(tmp_path):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"w{n}", "40"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for n in range(4)]
    log = PlayLog(tmp_path)
    while any(w.poll() is None for w in writers):
        log.records()                                        # a reader alongside never fails
    assert [w.returncode for w in writers] == [0] * 4, [w.stderr.read() for w in writers]
    records = log.records()
    assert len(records) == 160
    assert all(sum(r.broadcast == f"w{n}" for r in records) == 40 for n in range(4))


def test_a_damaged_log_is_set_aside_and_a_new_one_started(tmp_path):
    (tmp_path / "playlog.sqlite").write_bytes(b"this is not a database" * 100)
    log = PlayLog(tmp_path)
    with pytest.raises(PlayLogError, match="the play log is damaged"):
        log.records()
    log.add(played(at("2026-11-30T08:00")))
    assert len(log.records()) == 1
    assert len(list(tmp_path.glob("playlog.sqlite.damaged-*"))) == 1


def test_an_unwritable_folder_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(PlayLogError, match="cannot read or write the play log") as error:
        PlayLog(tmp_path / "file" / "out").add(played(at("2026-11-30T08:00")))
    assert "check the disk space" in str(error.value)


# --- announcer log --------------------------------------------------------------------

def announcer(*args, cwd, lang="en"):
    env = {**os.environ, "ANNOUNCER_LANG": lang, "COLUMNS": "200", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    env.pop("ANNOUNCER_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "announcer", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def station(tmp_path):
    (tmp_path / "schedule.toml").write_text('[station]\ntimezone = "Asia/Shanghai"\n', "utf-8")
    log = PlayLog(tmp_path / "audio_out")
    log.add(played(at("2026-11-30T08:00"), clips=("01-water", "02-flu")))
    log.add(Record(at("2026-11-30T12:00"), "noon", (), "skipped", "quiet hours"))
    log.add(Record(at("2026-11-30T17:30"), "停水通知", ("01-water",), "failed", "paplay: Connection refused",
                   started=at("2026-11-30T17:30:00.05")))
    log.add(played(at("2026-12-01T07:00")))
    log.add(played(at("2026-11-29T23:30")))
    return tmp_path


def test_log_json_holds_the_days_records(station):
    result = announcer("log", "--date", "2026-11-30", "--json", cwd=station)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"scheduled": "2026-11-30T08:00:00+08:00", "broadcast": "morning", "clips": ["01-water", "02-flu"],
         "result": "played", "reason": None, "started": "2026-11-30T08:00:00.020000+08:00",
         "ended": "2026-11-30T08:00:31+08:00"},
        {"scheduled": "2026-11-30T12:00:00+08:00", "broadcast": "noon", "clips": [], "result": "skipped",
         "reason": "quiet hours", "started": None, "ended": None},
        {"scheduled": "2026-11-30T17:30:00+08:00", "broadcast": "停水通知", "clips": ["01-water"], "result": "failed",
         "reason": "paplay: Connection refused", "started": "2026-11-30T17:30:00.050000+08:00", "ended": None},
    ]


def test_log_times_are_shown_in_the_stations_zone(station):
    (station / "schedule.toml").write_text('[station]\ntimezone = "UTC"\n', "utf-8")
    result = announcer("log", "--date", "2026-11-30", "--json", cwd=station)
    assert [r["scheduled"] for r in json.loads(result.stdout)] == [
        "2026-11-30T00:00:00+00:00", "2026-11-30T04:00:00+00:00", "2026-11-30T09:30:00+00:00",
        "2026-11-30T23:00:00+00:00"]      # 2026-12-01 07:00 in Shanghai is still the 30th in UTC


def test_log_table_for_people(station):
    result = announcer("log", "--date", "2026-11-30", cwd=station)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "play log: 2026-11-30 (Asia/Shanghai)" in out
    lines = out.splitlines()
    rows = [line for line in lines if line.startswith(("│ 08:00 ", "│ 12:00 ", "│ 17:30 "))]
    assert len(rows) == 3
    assert "01-water" in rows[0] and "played" in rows[0] and "08:00:00–08:00:31" in rows[0]
    assert "02-flu" in lines[lines.index(rows[0]) + 1]           # one clip a line
    assert "noon" in rows[1] and "skipped" in rows[1] and "quiet hours" in rows[1]
    assert "停水通知" in rows[2] and "failed" in rows[2] and "Connection refused" in rows[2]
    assert "1 played, 0 missed, 1 skipped, 1 failed." in out


def test_log_shows_a_broadcast_on_air_as_playing(station):
    PlayLog(station / "audio_out").add(Record(at("2026-11-30T20:00"), "evening", (), "playing",
                                              started=at("2026-11-30T20:00:00.03")))
    for lang, word in (("en", "playing"), ("zh", "正在播放")):
        result = announcer("log", "--date", "2026-11-30", cwd=station, lang=lang)
        [row] = [line for line in result.stdout.splitlines() if line.startswith("│ 20:00 ")]
        assert "evening" in row and word in row and "20:00:00–" in row, result.stdout


def test_log_table_in_chinese(station):
    result = announcer("log", "--date", "2026-11-30", cwd=station, lang="zh")
    assert "播放记录：2026-11-30" in result.stdout and "已播放" in result.stdout and "失败" in result.stdout
    assert "已播放 1，错过 0，跳过 1，失败 1。" in result.stdout


def test_log_today_by_default_and_an_empty_day(station):
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    PlayLog(station / "today").add(played(now, name="now"))
    PlayLog(station / "today").add(played(now - timedelta(days=1), name="yesterday"))
    result = announcer("log", "--json", "--out", "today", cwd=station)
    assert [r["broadcast"] for r in json.loads(result.stdout)] == ["now"]
    empty = announcer("log", "--date", "2020-01-01", cwd=station)
    assert empty.returncode == 0
    assert empty.stdout.strip() == f"nothing in the play log for 2020-01-01 ({Path('audio_out') / 'playlog.sqlite'})."
    assert announcer("log", "--date", "2020-01-01", "--json", cwd=station).stdout.strip() == "[]"


def test_log_out_and_config_options(station, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "station.toml").write_text('[station]\ntimezone = "Asia/Shanghai"\n', "utf-8")
    result = announcer("log", "--date", "2026-11-30", "--json", "--out", station / "audio_out",
                       "--config", elsewhere / "station.toml", cwd=elsewhere)
    assert len(json.loads(result.stdout)) == 3


def test_log_with_a_bad_date_or_config_is_one_line(station):
    bad = announcer("log", "--date", "30.11.2026", cwd=station)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "not a date" in bad.stderr
    (station / "schedule.toml").write_text('[station]\ntimezone = "Mars/Olympus"\n', "utf-8")
    config = announcer("log", cwd=station)
    assert config.returncode == 2 and "schedule.toml:2" in config.stderr and "Traceback" not in config.stderr


def test_log_damaged_file_is_one_line(station):
    (station / "audio_out" / "playlog.sqlite").write_bytes(b"garbage" * 200)
    result = announcer("log", "--date", "2026-11-30", cwd=station)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {Path('audio_out') / 'playlog.sqlite'}: the play log is damaged (file is not a database); "
        "rename it and the station will start a new one"]
