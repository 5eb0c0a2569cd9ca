"""`announcer plan`: the JSON others read, the table people read, and one-line errors."""

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from announcer.cli import main
from announcer.core.library import Library

ROOT = Path(__file__).resolve().parent.parent

STATION = """\
[station]
timezone = "Asia/Shanghai"
quiet_hours = { from = "21:30", to = "07:00" }
holidays = [2026-12-03]
"""
BROADCASTS = """
[[broadcast]]
name = "早间通知"
at = "08:00"
clips = ["停水"]
repeat = 2

[[broadcast]]
name = "rounds"
from = "14:00"
until = "15:00"
every = "30m"

[[broadcast]]
name = "late"
at = "22:00"
"""
MANIFEST = {"date": "2026-11-30", "clips": [
    {"id": "ting-shui", "tags": ["停水"]},
    {"id": "lost-keys", "tags": []},
]}


@pytest.fixture
def station(tmp_path, monkeypatch):
    """A station folder: schedule.toml and a built 2026-11-30."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "schedule.toml").write_text(STATION + BROADCASTS, "utf-8")
    Library(tmp_path / "audio_out").publish(date(2026, 11, 30), [], MANIFEST)
    return tmp_path


def run_json(capsys, *args) -> list:
    assert main(["plan", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_exactly(station, capsys):
    assert run_json(capsys, "--from", "2026-11-30T06:00", "--hours", "48") == [
        {"time": "2026-11-30T08:00:00+08:00", "broadcast": "早间通知", "clips": ["ting-shui"], "repeat": 2},
        {"time": "2026-11-30T14:00:00+08:00", "broadcast": "rounds", "clips": ["ting-shui", "lost-keys"], "repeat": 1},
        {"time": "2026-11-30T14:30:00+08:00", "broadcast": "rounds", "clips": ["ting-shui", "lost-keys"], "repeat": 1},
        # 22:00 is in the quiet hours: left out. 2026-12-01 is not built yet: "all".
        {"time": "2026-12-01T08:00:00+08:00", "broadcast": "早间通知", "clips": ["all"], "repeat": 2},
        {"time": "2026-12-01T14:00:00+08:00", "broadcast": "rounds", "clips": ["all"], "repeat": 1},
        {"time": "2026-12-01T14:30:00+08:00", "broadcast": "rounds", "clips": ["all"], "repeat": 1},
    ]


def test_json_leaves_out_holidays(station, capsys):
    assert run_json(capsys, "--from", "2026-12-03T00:00", "--hours", "24") == []


def test_json_reads_manifests_from_out(station, capsys):
    Library(station / "elsewhere").publish(date(2026, 12, 1), [], {**MANIFEST, "date": "2026-12-01"})
    got = run_json(capsys, "--from", "2026-12-01T07:00", "--hours", "2", "--out", "elsewhere")
    assert got == [{"time": "2026-12-01T08:00:00+08:00", "broadcast": "早间通知", "clips": ["ting-shui"], "repeat": 2}]


def test_from_with_an_offset_is_that_instant(station, capsys):
    # 00:00 UTC is 08:00 in Shanghai.
    got = run_json(capsys, "--from", "2026-11-30T00:00:00Z", "--hours", "0.5")
    assert [item["time"] for item in got] == ["2026-11-30T08:00:00+08:00"]


def test_from_a_date_starts_at_local_midnight(station, capsys):
    got = run_json(capsys, "--from", "2026-12-01", "--hours", "9")
    assert [item["time"] for item in got] == ["2026-12-01T08:00:00+08:00"]


def test_default_window_starts_now(station, capsys):
    (station / "schedule.toml").write_text('[station]\ntimezone = "Asia/Shanghai"\n' + BROADCASTS, "utf-8")
    got = run_json(capsys)
    now = datetime.now().astimezone()
    times = [datetime.fromisoformat(item["time"]) for item in got]
    assert len(times) == 4 and all(0 <= (t - now).total_seconds() <= 24 * 3600 + 60 for t in times)


def test_table_shows_skipped_with_the_reason(station, capsys):
    assert main(["plan", "--from", "2026-11-30T06:00", "--hours", "96"]) == 0
    out = capsys.readouterr().out
    assert "plan: 96 hours from 2026-11-30 06:00 (Asia/Shanghai)" in out
    lines = [line for line in out.splitlines() if "│" in line]
    morning = next(line for line in lines if "2026-11-30 Mon 08:00" in line)
    assert "早间通知" in morning and "ting-shui" in morning and "plays" in morning
    late = next(line for line in lines if "2026-11-30 Mon 22:00" in line)
    assert "skipped: quiet hours" in late
    holiday = next(line for line in lines if "2026-12-03 Thu 08:00" in line)
    assert "skipped: holiday" in holiday and "停水 (day not built yet)" in holiday
    assert "9 to play, 7 skipped." in out


def test_table_in_chinese(station, capsys, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    assert main(["plan", "--from", "2026-11-30T21:00", "--hours", "2"]) == 0
    out = capsys.readouterr().out
    assert "周一 22:00" in out and "跳过：静音时段" in out
    assert "共 0 次播放，1 次跳过。" in out


def test_no_broadcasts_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--from", "2026-11-30"]) == 0
    assert "no [[broadcast]]" in capsys.readouterr().out
    assert main(["plan", "--json", "--from", "2026-11-30"]) == 0
    assert json.loads(capsys.readouterr().out) == []


# Errors: one line, exit 2 ---------------------------------------------------------

def run(*args, cwd):
    env = {**os.environ, "ANNOUNCER_LANG": "en", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    env.pop("ANNOUNCER_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "announcer", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args,fragment", [
    (["--from", "tomorrow"], '"tomorrow" is not a date and time; write it like 2026-11-30T08:00'),
    (["--from", "2026-13-01"], '"2026-13-01" is not a date and time'),
    (["--hours", "0"], '"0" is not a number of hours above 0 and up to 8784, e.g. 24'),
    (["--hours", "-5"], '"-5" is not a number of hours'),
    (["--hours", "lots"], '"lots" is not a number of hours'),
    (["--hours", "9000"], '"9000" is not a number of hours'),
])
def test_bad_from_or_hours_is_one_line_exit_2(tmp_path, args, fragment):
    result = run("plan", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert fragment in result.stderr
    assert result.stdout == ""


def test_invalid_config_gives_its_errors_and_exit_2(tmp_path):
    (tmp_path / "schedule.toml").write_text('[station]\ntimezone = "Asia/Shangai"\n', "utf-8")
    result = run("plan", "--json", cwd=tmp_path)
    assert result.returncode == 2
    line, = result.stderr.strip().splitlines()
    for fragment in ("schedule.toml:2", "station.timezone", '"Asia/Shangai" is not a time zone; did you mean "Asia/Shanghai"?'):
        assert fragment in line
    assert result.stdout == ""


SCHEDULE = """\
[station]
timezone = "Asia/Shanghai"
country = "CN"
quiet_hours = { from = "21:30", to = "07:00" }

[[broadcast]]
name = "早间通知"
at = ["08:00"]
clips = ["停水"]
repeat = 2
days = "workdays"

[[broadcast]]
name = "rounds"
from = "14:00"
until = "15:00"
every = "30m"

[[broadcast]]
name = "late"
cron = "0 22 * * *"
"""


def test_json_from_schedule_toml(tmp_path):
    # 2026-01-01 is New Year's Day, 2026-01-03 a Saturday, Sunday 2026-01-04 a make-up workday.
    (tmp_path / "schedule.toml").write_text(SCHEDULE, "utf-8")
    Library(tmp_path / "audio_out").publish(date(2026, 1, 4), [], {**MANIFEST, "date": "2026-01-04"})
    result = run("plan", "--json", "--from", "2026-01-03T07:00", "--hours", "31.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"time": "2026-01-03T14:00:00+08:00", "broadcast": "rounds", "clips": ["all"], "repeat": 1},
        {"time": "2026-01-03T14:30:00+08:00", "broadcast": "rounds", "clips": ["all"], "repeat": 1},
        {"time": "2026-01-04T08:00:00+08:00", "broadcast": "早间通知", "clips": ["ting-shui"], "repeat": 2},
        {"time": "2026-01-04T14:00:00+08:00", "broadcast": "rounds", "clips": ["ting-shui", "lost-keys"], "repeat": 1},
    ]


def test_every_config_error_is_listed_exit_2(tmp_path):
    (tmp_path / "schedule.toml").write_text(
        '[[broadcast]]\nname = "a"\nat = ["25:00"]\n\n[[broadcast]]\nname = "b"\ncron = "0 8 * * 8"\n', "utf-8")
    result = run("plan", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    first, second = result.stderr.strip().splitlines()
    assert first.startswith("error: schedule.toml:3 ") and '"25:00"' in first
    assert second.startswith("error: schedule.toml:7 ") and '"0 8 * * 8"' in second


def test_the_default_start_is_clis_now_in_the_station_zone(station, capsys, monkeypatch):
    """plan and log take the clock from one place, cli._now (today is its date)."""
    from zoneinfo import ZoneInfo

    import announcer.cli

    moment = datetime(2026, 11, 30, 13, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(announcer.cli, "_now", lambda config: moment)
    got = run_json(capsys, "--hours", "2")
    assert [item["time"] for item in got] == ["2026-11-30T14:00:00+08:00", "2026-11-30T14:30:00+08:00"]
    assert main(["log"]) == 0
    assert "2026-11-30" in capsys.readouterr().out
