"""Hear it on this computer: GET /listen/broadcast (a day's broadcast as the station plays it) and
GET /listen/chime, and the Listen box on the Today page."""

from __future__ import annotations

import asyncio
import html
import io
import time
import wave
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from webpage import Page, inner

from announcer.build import effects
from announcer.core.library import Library
from announcer.web import Site, create_app, preview

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 30)
RATE = 44100
SCHEDULE = '''[station]
timezone = "Asia/Shanghai"

[audio]
chime = "{chime}"

[[broadcast]]
name = "早间通知"
at = ["08:00", "14:00"]
gap = "0.5s"
repeat = 2
volume = 6

[[broadcast]]
name = "一遍"
at = ["09:00"]
gap = "1s"
clips = ["b"]
days = ["周二"]

[[broadcast]]
name = "防火"
cron = "0 9 * * 1"
clips = ["fang-huo"]
'''


def tone_file(path, seconds: float, level: float = 0.1) -> None:
    t = np.arange(int(RATE * seconds)) / RATE
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes((level * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())


def publish(out, day: date = DAY, clips=(("a", "停水通知", 1.0), ("b", "停电通知", 0.5))) -> None:
    source = out.parent / f"src-{time.monotonic_ns()}"
    source.mkdir(parents=True)
    files, entries = [], []
    for n, (clip_id, title, seconds, *said) in enumerate(clips, 1):    # said: the length the manifest gives
        name = f"{n:02d}-{clip_id}.wav"
        tone_file(source / name, seconds)
        files.append((name, source / name))
        entries.append({"id": clip_id, "title": title, "file": name, "duration_s": said[0] if said else seconds})
    Library(out).publish(day, files, {"date": day.isoformat(), "clips": entries})


@pytest.fixture
def client(tmp_path):
    return make(tmp_path)


def make(tmp_path, chime: str = "two-tone") -> TestClient:
    (tmp_path / "schedule.toml").write_text(SCHEDULE.format(chime=chime), encoding="utf-8")
    site = Site(tmp_path / "schedule.toml", tmp_path / "out",
                clock=lambda: datetime(2026, 11, 30, 7, 30, tzinfo=ZONE))
    client = TestClient(create_app(site), base_url="http://127.0.0.1:8080")
    client.cookies.set("lang", "en")
    return client


def heard(answer) -> tuple[float, float]:
    """(seconds, peak level) of an MP3 answer."""
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg", answer.text[:300]
    sound = effects.decode(answer.content, "mp3")
    return len(sound) / 1000, float(np.max(np.abs(effects.to_array(sound))))


def test_a_broadcast_sounds_as_the_station_plays_it(client, tmp_path):
    publish(tmp_path / "out")
    # 早间通知: a (1 s), b (0.5 s), twice, 0.5 s between every two clips, 6 dB louder
    seconds, level = heard(client.get("/listen/broadcast", params={"date": "2026-11-30", "name": "早间通知"}))
    assert seconds == pytest.approx(2 * 1.5 + 3 * 0.5, abs=0.08)
    # 一遍: b only, once, no gap after the last clip, volume unchanged
    once, level_once = heard(client.get("/listen/broadcast", params={"date": "2026-11-30", "name": "一遍"}))
    assert once == pytest.approx(0.5, abs=0.08)
    assert 20 * np.log10(level / level_once) == pytest.approx(6, abs=0.5)
    assert level_once == pytest.approx(0.1, abs=0.01)


def test_it_is_put_together_once_and_kept_in_the_out_folder(client, tmp_path, monkeypatch):
    publish(tmp_path / "out")
    query = {"date": "2026-11-30", "name": "早间通知"}
    first = client.get("/listen/broadcast", params=query)
    kept = list((tmp_path / "out" / ".listen").iterdir())
    assert [p.suffix for p in kept] == [".mp3"] and kept[0].read_bytes() == first.content
    monkeypatch.setattr(preview, "_put_together", lambda *a: pytest.fail("made again"))
    assert client.get("/listen/broadcast", params=query).content == first.content
    publish(tmp_path / "out", clips=(("a", "停水通知", 0.5),))           # a rebuilt day is made afresh
    monkeypatch.undo()
    seconds, _ = heard(client.get("/listen/broadcast", params=query))
    assert seconds == pytest.approx(0.5 * 2 + 0.5, abs=0.08)
    assert len(list((tmp_path / "out" / ".listen").iterdir())) == 2


def test_only_the_newest_are_kept(client, tmp_path, monkeypatch):
    publish(tmp_path / "out")
    monkeypatch.setattr(preview, "KEEP", 1)
    client.get("/listen/broadcast", params={"date": "2026-11-30", "name": "早间通知"})
    client.get("/listen/broadcast", params={"date": "2026-11-30", "name": "一遍"})
    assert len(list((tmp_path / "out" / ".listen").iterdir())) == 1


@pytest.mark.parametrize("query, status, said", [
    ({"date": "2026-11-29", "name": "早间通知"}, 404,
     "no clips are built for 2026-11-29, so there is nothing to hear; build them on the Today page first"),
    ({"date": "2026-11-30", "name": "晚间"}, 404,
     'there is no broadcast called "晚间" in the schedule (there are: 早间通知, 一遍, 防火)'),
    ({"date": "2026-11-30", "name": ""}, 400, "choose the broadcast to hear first"),
    ({"date": "2026-11-30", "name": "防火"}, 404,
     '"防火" has no clips to play on 2026-11-30 (it plays: fang-huo), so nothing will sound; change its clips on '
     "the Schedule page, or build notices with them"),
    ({"date": "2026-13-01", "name": "早间通知"}, 400, '"2026-13-01" is not a date; write it like 2026-11-30'),
    ({"date": "../../etc", "name": "早间通知"}, 400, '"../../etc" is not a date; write it like 2026-11-30'),
])
def test_refusals_say_plainly_why(client, tmp_path, query, status, said):
    publish(tmp_path / "out")
    answer = client.get("/listen/broadcast", params=query, headers={"x-requested-with": "fetch"})
    assert answer.status_code == status and answer.json() == {"ok": False, "errors": [said]}
    page = client.get("/listen/broadcast", params=query)                  # opened without JavaScript
    assert page.status_code == status and said in html.unescape(page.text)
    assert not (tmp_path / "out" / ".listen").exists()


def test_refusals_read_in_chinese(client, tmp_path):
    client.cookies.set("lang", "zh")
    answer = client.get("/listen/broadcast", params={"date": "2026-11-30", "name": "早间通知"},
                        headers={"x-requested-with": "fetch"})
    assert answer.json()["errors"] == ["2026-11-30 还没有生成音频，没有可以试听的。请先在“今日通知”里生成。"]


def test_a_broadcast_too_long_to_hear_is_refused(client, tmp_path):
    publish(tmp_path / "out", clips=(("a", "长", 1.0), ("b", "很长", 1.0, 3000.0)))   # the manifest says 50 min
    answer = client.get("/listen/broadcast", params={"date": "2026-11-30", "name": "早间通知"},
                        headers={"x-requested-with": "fetch"})
    assert answer.status_code == 413 and "too long to hear here" in answer.json()["errors"][0]


def test_the_chime_alone(client):
    answer = client.get("/listen/chime")
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(answer.content)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(1.2, abs=0.01)


def test_a_chime_file_and_no_chime(tmp_path):
    tone_file(tmp_path / "bell.wav", 0.7)
    client = make(tmp_path, chime=str(tmp_path / "bell.wav"))
    with wave.open(io.BytesIO(client.get("/listen/chime").content)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(0.7, abs=0.01)
    client = make(tmp_path, chime="none")
    answer = client.get("/listen/chime", headers={"x-requested-with": "fetch"})
    assert answer.status_code == 404
    assert answer.json()["errors"] == ['there is no chime: [audio] chime = "none" in schedule.toml; set it to '
                                       '"two-tone" or a sound file to have one']


def test_the_today_page_has_the_listen_box_with_the_days_broadcasts_first(client, tmp_path):
    publish(tmp_path / "out")
    text = client.get("/?date=2026-11-30").text
    page = Page(text)
    options = page.all("option")
    assert [o["attrs"]["value"] for o in options] == ["早间通知", "防火", "一遍"]      # 一遍 plays on Tuesdays
    assert options[0]["text"] == "早间通知 · 08:00, 14:00 · 2 clip(s) ×2"
    assert options[1]["text"] == "防火 · 09:00 · 0 clip(s)"
    assert options[2]["text"] == "一遍 · not on this day · 1 clip(s)"
    form = page.one("form", id="listen-form")
    assert form["attrs"]["action"] == "/listen/broadcast" and form["attrs"]["method"] == "get"
    fields = inner(text, "form", "listen-form")
    assert fields.one("input", name="date", type="hidden")["attrs"]["value"] == "2026-11-30"
    assert fields.one("select", id="listen-broadcast")["attrs"]["name"] == "name"
    assert page.one("button", id="hear-broadcast")["attrs"]["type"] == "submit"
    assert page.one("form", id="chime-form")["attrs"]["action"] == "/listen/chime"
    assert page.one("button", id="hear-chime") and page.one("audio", id="listen-audio")


def test_before_the_build_only_the_chime_can_be_heard(client):
    text = client.get("/?date=2026-11-30").text
    assert 'id="hear-broadcast"' not in text and 'id="listen-form"' not in text
    page = Page(text)
    assert page.one("form", id="chime-form")["attrs"]["action"] == "/listen/chime"
    assert page.one("button", id="hear-chime") and page.one("audio", id="listen-audio")
    assert "Once the day's clips are built, you can hear whole broadcasts here too." in html.unescape(text)


def test_without_a_chime_there_is_no_chime_button(tmp_path):
    client = make(tmp_path, chime="none")
    text = client.get("/?date=2026-11-30").text
    assert 'id="listen"' not in text and 'id="hear-chime"' not in text and 'id="listen-audio"' not in text
    publish(tmp_path / "out")
    page = Page(client.get("/?date=2026-11-30").text)
    assert page.one("button", id="hear-broadcast") and not page.all("button", id="hear-chime")


def test_the_settings_are_read_off_the_event_loop(client, tmp_path, monkeypatch):
    """schedule.toml may be parsed again (it changed): in a worker thread, not on the loop serving every page."""
    publish(tmp_path / "out")
    site = client.app.state.site
    real, seen = site.config, []

    def config():
        try:
            asyncio.get_running_loop()
            seen.append("loop")
        except RuntimeError:
            seen.append("thread")
        return real()

    monkeypatch.setattr(site, "config", config)
    assert client.get("/listen/chime").status_code == 200 and "thread" in seen
    seen.clear()
    heard(client.get("/listen/broadcast", params={"date": "2026-11-30", "name": "一遍"}))
    assert "thread" in seen
