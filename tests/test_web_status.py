"""The status strip at the top of every page: today built or not, the next broadcast, the station."""

from __future__ import annotations

import asyncio
import html
import re
import time
import wave
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from webpage import Page

from announcer.core.control import ControlError, Reply
from announcer.core.library import Library
from announcer.core.plan import duration_words
from announcer.web import Site, create_app
from announcer.web import status as strip

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)           # a Monday
SCHEDULE = '''[station]
timezone = "Asia/Shanghai"
quiet_hours = { from = "21:30", to = "07:00" }

[[broadcast]]
name = "早间通知"
at = ["08:00", "14:00"]

[[broadcast]]
name = "夜里"
at = ["23:00"]
'''


class Controls:
    """Play now / stop / status as the page sees them; `on_air` is what status reports."""

    def __init__(self):
        self.running, self.on_air, self.fail, self.slow = False, None, None, 0.0

    def station_running(self):
        if self.fail == "running":
            raise RuntimeError("boom")
        return self.running

    def status(self):
        if self.slow:
            time.sleep(self.slow)
        if self.fail == "status":
            raise ControlError("电台没有回应。", "the station did not answer")
        return Reply("", "", {"station": self.running, "on_air": self.on_air, "waiting": []})


def client_at(tmp_path, now: datetime, schedule: str = SCHEDULE, lang: str = "en") -> TestClient:
    (tmp_path / "schedule.toml").write_text(schedule, encoding="utf-8")
    site = Site(tmp_path / "schedule.toml", tmp_path / "out", controls=Controls(), clock=lambda: now)
    client = TestClient(create_app(site), base_url="http://127.0.0.1:8080")
    client.cookies.set("lang", lang)
    client.controls = site.controls
    return client


def publish(out, day: date = DAY, clips=(("ting-shui", "停水通知", 40.4), ("ting-dian", "停电通知", 31.7))) -> None:
    source = out.parent / f"src-{time.monotonic_ns()}"
    source.mkdir(parents=True)
    files, entries = [], []
    for n, (clip_id, title, seconds) in enumerate(clips, 1):
        name = f"{n:02d}-{clip_id}.wav"
        with wave.open(str(source / name), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)
        files.append((name, source / name))
        entries.append({"id": clip_id, "title": title, "file": name, "duration_s": seconds})
    Library(out).publish(day, files, {"date": day.isoformat(), "clips": entries})


def strip_of(answer) -> dict[str, str]:
    page = answer.text
    assert answer.status_code in (200, 404), answer.status_code
    found = {}
    for part in ("status-today", "status-next", "status-station"):
        match = re.search(rf'<span id="{part}"[^>]*>(.*?)</span>\s*(?=<span id="status-|</div>|<span id="status-quiet)',
                          page, re.S)
        assert match, part
        found[part] = " ".join(html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())
    return found


def test_before_the_build_the_strip_says_today_is_not_built_and_the_next_broadcast(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE))
    answer = client.get("/")
    said = strip_of(answer)
    assert said["status-today"] == "Today's clips are not built yet · build them"
    assert said["status-next"] == "Next broadcast: 早间通知 · today 14:00"
    assert said["status-station"] == ("station not running Nothing plays by itself at the scheduled times. Ask "
                                      "whoever looks after this computer to start the station (command: announcer run, "
                                      "or announcer run --web to open this page as well).")
    assert Page(answer.text).one("span", id="station-state")["attrs"]["class"] == "station down"
    assert 'id="status-strip"' in answer.text and "status-quiet" not in answer.text


def test_after_the_build_it_counts_the_clips_and_their_air_time_in_words(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE), lang="zh")
    publish(tmp_path / "out")
    said = strip_of(client.get("/schedule"))
    assert said["status-today"] == "今天已生成：2 段，共 1 分 12 秒"
    assert said["status-next"] == "下一次广播：早间通知 · 今天 14:00"
    assert said["status-station"] == ("电台未运行 到点不会自动播放。请让管理员启动电台（命令：announcer run，"
                                      "或 announcer run --web 同时打开网页）。")


def test_the_next_broadcast_tomorrow_or_later_skips_quiet_hours_and_past_times(tmp_path):
    # 22:00: the 23:00 one falls in quiet hours (skipped); next is tomorrow's 08:00
    client = client_at(tmp_path, datetime(2026, 11, 30, 22, 0, tzinfo=ZONE), lang="zh")
    said = strip_of(client.get("/log"))
    assert said["status-next"] == "下一次广播：早间通知 · 明天 08:00"
    weekly = SCHEDULE.replace('at = ["08:00", "14:00"]', 'cron = "0 9 * * 4"')    # Thursdays 09:00
    client = client_at(tmp_path, datetime(2026, 11, 30, 22, 0, tzinfo=ZONE), schedule=weekly, lang="zh")
    assert strip_of(client.get("/"))["status-next"] == "下一次广播：早间通知 · 12月3日（周四）09:00"
    client.cookies.set("lang", "en")
    assert strip_of(client.get("/"))["status-next"] == "Next broadcast: 早间通知 · Thu 3 Dec 09:00"


def test_no_broadcast_in_the_coming_week(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, tzinfo=ZONE), schedule='[station]\ntimezone = "UTC"\n')
    assert strip_of(client.get("/"))["status-next"] == "no broadcast in the coming week"


def test_a_running_station_and_what_is_on_air_by_title(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE))
    publish(tmp_path / "out")
    client.controls.running = True
    client.controls.on_air = {"name": "早间通知", "clip": "ting-dian", "clip_number": 2, "clips": 2}
    answer = client.get("/usb")
    said = strip_of(answer)
    assert said["status-station"] == "station running On air: 停电通知 (早间通知)"
    assert "Nothing plays by itself" not in answer.text
    assert Page(answer.text).one("span", id="station-state")["attrs"]["class"] == "station up"
    client.controls.on_air = {"name": "手动播放：ting-shui", "clip": "ting-shui"}      # played by hand
    assert strip_of(client.get("/"))["status-station"] == "station running On air: 停水通知"


def test_quiet_hours_show_in_the_strip(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 23, 10, tzinfo=ZONE))
    answer = client.get("/")
    assert Page(answer.text).one("span", id="status-quiet")["text"] == "Quiet hours now (21:30–07:00)"


@pytest.mark.parametrize("where", ["/", "/recordings", "/schedule", "/log", "/usb", "/no-such-page"])
def test_every_page_has_the_strip_once(tmp_path, where):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE))
    answer = client.get(where)
    for part in ("status-strip", "status-today", "status-next", "status-station", "station-state"):
        assert answer.text.count(f'id="{part}"') == 1, part
    strip_html = answer.text.split('id="status-strip"')[1].split("</div>")[0]
    assert 'id="station-state"' in strip_html and 'id="status-next"' in strip_html


@pytest.mark.parametrize("trouble", ["running", "status", "manifest", "schedule"])
def test_nothing_in_the_strip_can_break_a_page(tmp_path, trouble):
    now = datetime(2026, 11, 30, 9, 30, tzinfo=ZONE)
    client = client_at(tmp_path, now)
    publish(tmp_path / "out")
    client.controls.running = True
    client.controls.fail = trouble
    if trouble == "manifest":
        (tmp_path / "out" / DAY.isoformat() / "manifest.json").write_text("{not json", encoding="utf-8")
    if trouble == "schedule":
        (tmp_path / "schedule.toml").write_text("[[broadcast]]\nname = 3\n", encoding="utf-8")
    answer = client.get("/log")
    assert answer.status_code == 200 and 'id="status-strip"' in answer.text
    said = strip_of(answer)
    if trouble == "running":
        assert said["status-station"].startswith("station not running")
    if trouble == "manifest":
        assert said["status-today"] == "Today's clips cannot be read; open Today and build them again."
    if trouble == "schedule":
        assert said["status-today"] == "Today is built: 2 clip(s), 1 min 12 s in all"
        assert said["status-next"] == ("The schedule (schedule.toml) has a mistake, so the next broadcast is not "
                                       "known · see it on the Schedule page")


def test_a_schedule_with_a_mistake_says_so_and_links_to_the_schedule_page(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE), lang="zh")
    (tmp_path / "schedule.toml").write_text("[[broadcast]]\nname = 3\n", encoding="utf-8")
    answer = client.get("/log")
    assert strip_of(answer)["status-next"] == "播放计划（schedule.toml）里有错误，算不出下一次广播 · 去“播放计划”查看"
    assert Page(answer.text).one("a", id="status-schedule-error")["attrs"]["href"] == "/schedule"
    assert "一周内没有要播的广播" not in answer.text
    (tmp_path / "schedule.toml").write_text('[station]\ntimezone = "UTC"\n', encoding="utf-8")   # a week without any
    answer = client.get("/log")
    assert strip_of(answer)["status-next"] == "一周内没有要播的广播" and "status-schedule-error" not in answer.text


class Asked(Controls):
    """Controls that remember each status() call and whether it (or station_running) ran on the event loop."""

    def __init__(self):
        super().__init__()
        self.asked, self.on_loop = 0, []

    def station_running(self):
        self.on_loop.append(on_the_event_loop())
        return super().station_running()

    def status(self):
        self.asked += 1
        return super().status()

    def play_clips(self, day, clips):
        raise ControlError(f"{day} 的音频里没有 {clips[0]}。", f"{clips[0]}: not among {day}'s clips")


def on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_a_station_that_is_not_running_is_never_asked_what_is_on_air(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE))
    client.app.state.site.controls = client.controls = Asked()
    client.controls.slow = 3.0                       # asking would hold the page up a second
    for where in ("/", "/schedule", "/no-such-page"):
        began = time.monotonic()
        answer = client.get(where)
        assert time.monotonic() - began < 0.5, where
        assert strip_of(answer)["status-station"].startswith("station not running")
    assert client.controls.asked == 0
    client.controls.running, client.controls.slow = True, 0.0
    client.get("/")
    assert client.controls.asked == 1


def test_an_error_page_is_rendered_off_the_event_loop(tmp_path):
    """An error page's strip works out the plan and may wait on the station: in a worker thread, never on the
    loop that serves every other request."""
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE))
    client.app.state.site.controls = client.controls = Asked()
    client.controls.slow = 3.0
    began = time.monotonic()
    answer = client.get("/no-such-page")
    assert answer.status_code == 404 and time.monotonic() - began < 0.5
    assert 'id="status-strip"' in answer.text and client.controls.on_loop == [False]
    token = re.search(r'name="csrf" content="([^"]+)"', answer.text).group(1)
    refused = client.post("/play", data={"csrf": token})                 # neither a broadcast nor clips
    assert refused.status_code == 400 and 'id="status-strip"' in refused.text
    refused = client.post("/play", data={"csrf": token, "date": "2026-11-30", "clip": "x"})   # the station refuses
    assert refused.status_code == 400 and 'id="status-strip"' in refused.text
    assert client.controls.on_loop and not any(client.controls.on_loop), client.controls.on_loop


def test_a_slow_station_does_not_hold_up_the_page(tmp_path):
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE))
    client.controls.running = True
    client.controls.on_air = {"name": "早间通知", "clip": "x"}
    client.controls.slow = 3.0
    began = time.monotonic()
    answer = client.get("/log")
    assert time.monotonic() - began < 2.5 and answer.status_code == 200
    assert "On air" not in answer.text and strip_of(answer)["status-station"] == "station running"


def test_a_page_before_the_login_has_no_strip(tmp_path):
    schedule = SCHEDULE.replace("[station]", '[web]\ntoken = "a-long-enough-token"\n\n[station]')
    client = client_at(tmp_path, datetime(2026, 11, 30, 9, 30, tzinfo=ZONE), schedule=schedule)
    answer = client.post("/login", data={"csrf": "wrong", "token": "x"})
    assert answer.status_code == 403 and 'id="status-strip"' not in answer.text and "早间通知" not in answer.text
    assert 'id="station-state"' in answer.text


def test_a_clock_that_fails_leaves_a_strip_that_says_less(tmp_path):
    site = Site(None, tmp_path / "out", controls=Controls(), clock=lambda: 1 / 0)
    assert strip.strip(site, "en") == strip.Strip(running=False)


def test_words_for_time_and_air_time():
    today = date(2026, 11, 30)
    at = datetime(2026, 12, 1, 8, 0, tzinfo=ZONE)
    assert strip.when(at, today, "zh") == "明天 08:00" and strip.when(at, today, "en") == "tomorrow 08:00"
    assert duration_words(72.4) == ("1 分 12 秒", "1 min 12 s") and duration_words(45)[0] == "45 秒"
    assert duration_words(0)[1] == "0 s"


def test_the_next_broadcast_is_worked_out_once_a_minute(tmp_path, monkeypatch):
    from announcer.core.config import load_config

    (tmp_path / "schedule.toml").write_text(SCHEDULE, encoding="utf-8")
    config = load_config(tmp_path / "schedule.toml")
    calls = []
    real = strip.plan
    monkeypatch.setattr(strip, "plan", lambda *a: calls.append(a) or real(*a))
    first = strip.next_broadcast(config, datetime(2026, 11, 30, 9, 30, 5, tzinfo=ZONE))
    again = strip.next_broadcast(config, datetime(2026, 11, 30, 9, 30, 50, tzinfo=ZONE))
    assert first is again and len(calls) == 1 and f"{first.time:%H:%M}" == "14:00"
    # 14:00:30: the 14:00 one (same minute) has begun; the next is 23:00 (quiet hours: skipped) → tomorrow 08:00
    assert f"{strip.next_broadcast(config, datetime(2026, 11, 30, 14, 0, 30, tzinfo=ZONE)).time:%d %H:%M}" == "01 08:00"
