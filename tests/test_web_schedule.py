"""/schedule: the plan for today and tomorrow, play-now buttons, and the schedule.toml editor."""

import hashlib
import math
import os
import re
import struct
import wave
from datetime import date, datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from webpage import Page, csrf, inner, make_client

from announcer.core.library import Library

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 7, 30, tzinfo=SHANGHAI)   # a Monday
TOKEN = "river-stone-4821-lamp"
SCHEDULE = """\
[station]
timezone = "Asia/Shanghai"
quiet_hours = { from = "21:30", to = "07:00" }
holidays = [2026-12-01]

[[broadcast]]
name = "Morning news"
at = ["08:00", "22:00"]
clips = ["water"]
"""


@pytest.fixture
def client(tmp_path) -> TestClient:
    return make_client(SCHEDULE, tmp_path, now=NOW)


@pytest.fixture
def config(client, tmp_path) -> Path:
    return tmp_path / "schedule.toml"


def form_of(client: TestClient) -> tuple[str, dict]:
    """The editor's text and hidden fields as the page hands them out."""
    page = client.get("/schedule")
    parsed = Page(page.text)
    text = unescape(re.search(r'id="schedule-text"[^>]*>\n?(.*?)</textarea>', page.text, re.S).group(1))
    return text, {"csrf": csrf(parsed), "loaded": parsed.one("input", id="schedule-loaded")["attrs"]["value"]}


def test_plan_shows_today_and_tomorrow_with_skips_and_their_reasons(client):
    page = client.get("/schedule")
    assert page.status_code == 200
    rows = Page(page.text).all("tr", "occurrence")
    assert [(r["attrs"]["data-broadcast"], r["attrs"]["data-time"]) for r in rows] == [
        ("Morning news", "08:00"), ("Morning news", "22:00"), ("Morning news", "08:00"), ("Morning news", "22:00")]
    playing, quiet, holiday, _ = rows
    assert "skipped" not in playing["attrs"]["class"].split() and "plays" in playing["text"]
    assert "skipped" in quiet["attrs"]["class"].split() and "skipped: quiet hours" in quiet["text"]
    assert "skipped" in holiday["attrs"]["class"].split() and "skipped: holiday" in holiday["text"]
    assert "water (not built yet)" in playing["text"]
    assert "Today · 2026-11-30 Mon" in page.text and "Tomorrow · 2026-12-01 Tue" in page.text


def test_the_plan_reads_chinese(tmp_path):
    rows = Page(make_client(SCHEDULE, tmp_path, now=NOW, lang="zh").get("/schedule").text).all("tr", "occurrence")
    assert "跳过：静音时段" in rows[1]["text"] and "跳过：节假日" in rows[2]["text"]
    assert "water（当天还没有生成）" in rows[0]["text"]


def test_plan_lists_the_clips_of_a_built_day(client, tmp_path):
    source = tmp_path / "a.mp3"
    source.write_bytes(b"x")
    clips = [{"id": "water", "file": "01-water.mp3"}, {"id": "fire", "file": "02-fire.mp3"}]
    Library(tmp_path / "out").publish(date(2026, 11, 30), [(c["file"], source) for c in clips],
                                      {"date": "2026-11-30", "clips": clips})
    rows = Page(client.get("/schedule").text).all("tr", "occurrence")
    assert "water" in rows[0]["text"] and "fire" not in rows[0]["text"] and "not built" not in rows[0]["text"]
    assert "not built yet" in rows[2]["text"]


def test_each_broadcast_has_a_play_now_button_that_posts_to_play(client):
    page = Page(client.get("/schedule").text)
    button = page.one("button", "play-broadcast")
    assert button["attrs"]["data-broadcast"] == "Morning news"
    html = client.get("/schedule").text
    form = re.search(r'<form method="post" action="/play".*?</form>', html.split('id="broadcasts"')[1], re.S).group(0)
    assert 'name="broadcast" value="Morning news"' in form and 'name="csrf"' in form


def test_no_broadcasts_says_so(tmp_path):
    page = Page(make_client('[station]\ntimezone = "Asia/Shanghai"\n', tmp_path, now=NOW).get("/schedule").text)
    assert "no [[broadcast]] entries" in page.one("p", id="plan-empty")["text"]
    assert not page.all("table", id="plan")


def test_an_invalid_file_is_reported_and_the_editor_still_works(config, client):
    config.write_text(SCHEDULE.replace('at = ["08:00", "22:00"]', 'at = ["25:00"]'), encoding="utf-8")
    page = client.get("/schedule")
    assert page.status_code == 200
    parsed = Page(page.text)
    assert parsed.one("p", id="plan-invalid")
    assert [li["attrs"]["data-line"] for li in inner(page.text, "ul", "plan-errors").all("li")] == ["8"]
    assert parsed.one("textarea", id="schedule-text")
    fixed = SCHEDULE.replace("22:00", "21:00")
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": fixed}, follow_redirects=False)
    assert answer.status_code == 303
    assert config.read_text(encoding="utf-8") == fixed


def test_a_bad_edit_is_refused_with_its_lines_and_the_file_is_untouched(config, client):
    before = config.read_bytes()
    text, fields = form_of(client)
    assert text == SCHEDULE
    bad = text.replace('at = ["08:00", "22:00"]', 'at = ["8 o\'clock"]').replace('timezone = "Asia/Shanghai"',
                                                                                  'timezone = "Mars/Base"')
    answer = client.post("/schedule", data={**fields, "text": bad})
    assert answer.status_code == 422
    assert config.read_bytes() == before
    page = Page(answer.text)
    problems = inner(answer.text, "ul", "schedule-errors").all("li")
    assert [li["attrs"]["data-line"] for li in problems] == ["2", "8"]
    assert problems[0]["text"].startswith("line 2 station.timezone") and "Mars/Base" in problems[0]["text"]
    assert problems[1]["text"].startswith("line 8 broadcast[1].at")
    bad_lines = page.all("li", "bad")
    assert [e["attrs"]["id"] for e in bad_lines] == ["line-2", "line-8"]
    assert "Mars/Base" in bad_lines[0]["text"]
    # the text comes back as submitted, to be fixed
    assert "Mars/Base" in page.one("textarea", id="schedule-text")["text"]


def test_a_toml_syntax_error_names_its_line(config, client):
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": text + "\n[[broadcast]\nname = 1\n"})
    assert answer.status_code == 422
    assert Page(answer.text).all("li", "bad")[0]["attrs"]["id"] == f"line-{SCHEDULE.count(chr(10)) + 2}"


def test_a_good_edit_is_written_atomically_keeping_the_mode(config, client):
    os.chmod(config, 0o640)
    text, fields = form_of(client)
    new = text.replace("08:00", "09:15").replace("\n", "\r\n")      # as a browser sends a textarea
    answer = client.post("/schedule", data={**fields, "text": new}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/schedule?saved=1"
    assert config.read_text(encoding="utf-8") == SCHEDULE.replace("08:00", "09:15")
    assert config.stat().st_mode & 0o777 == 0o640
    assert not [p for p in config.parent.iterdir() if p.name.endswith(".tmp")]
    after = client.get(answer.headers["location"])
    assert "picks it up within a few seconds" in Page(after.text).one("p", "flash")["text"]
    assert [r["attrs"]["data-time"] for r in Page(after.text).all("tr", "occurrence")][0] == "09:15"


def test_a_change_made_meanwhile_is_not_overwritten(config, client):
    text, fields = form_of(client)
    theirs = SCHEDULE.replace("Morning news", "Their change")
    config.write_text(theirs, encoding="utf-8")
    mine = text.replace("08:00", "09:00")
    answer = client.post("/schedule", data={**fields, "text": mine})
    assert answer.status_code == 409
    assert config.read_text(encoding="utf-8") == theirs
    page = Page(answer.text)
    assert "was changed since you opened this page" in page.one("p", "flash")["text"]
    assert "Their change" in page.one("textarea", id="schedule-text")["text"]
    assert "09:00" in page.one("textarea", id="schedule-mine")["text"]
    # saving from that page (the current file's hash) goes through
    loaded = page.one("input", id="schedule-loaded")["attrs"]["value"]
    assert loaded == hashlib.sha256(theirs.encode()).hexdigest()
    again = client.post("/schedule", data={**fields, "loaded": loaded, "text": theirs.replace("08:00", "09:00")},
                        follow_redirects=False)
    assert again.status_code == 303 and "09:00" in config.read_text(encoding="utf-8")


def test_a_post_without_csrf_is_refused(config, client):
    before = config.read_bytes()
    _, fields = form_of(client)
    answer = client.post("/schedule", data={"loaded": fields["loaded"], "text": "[station]\n"})
    assert answer.status_code == 403
    answer = client.post("/schedule", data={**fields, "csrf": "0" * 64, "text": "[station]\n"})
    assert answer.status_code == 403
    assert config.read_bytes() == before


def test_the_token_stays_while_the_page_is_open_to_the_network(tmp_path):
    original = SCHEDULE + f'\n[web]\ntoken = "{TOKEN}"\n'
    client = make_client(original, tmp_path, now=NOW, host="0.0.0.0", base_url="http://192.168.1.5:8080")
    path = tmp_path / "schedule.toml"
    client.post("/login", data={"csrf": csrf(client.get("/login")), "token": TOKEN}, follow_redirects=False)
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": text.replace(f'token = "{TOKEN}"', "")})
    assert answer.status_code == 422
    assert "keep the token while the page is open to the network" in answer.text
    assert path.read_text(encoding="utf-8") == original


def test_saving_without_a_schedule_file_creates_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = make_client(None, tmp_path, now=NOW)
    page = Page(client.get("/schedule").text)
    assert "saving creates it" in page.one("section", id="editor")["text"]
    _, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": SCHEDULE}, follow_redirects=False)
    assert answer.status_code == 303
    assert (tmp_path / "schedule.toml").read_text(encoding="utf-8") == SCHEDULE


def test_add_a_broadcast_appends_a_block_and_saves(config, client):
    text, fields = form_of(client)
    answer = client.post("/schedule/add", data={**fields, "text": text, "new_name": "晚间 \"提醒\"",
                                                "new_at": "18:00， 19:30", "new_days": "weekends"},
                         follow_redirects=False)
    assert answer.status_code == 303
    saved = config.read_text(encoding="utf-8")
    assert saved.startswith(SCHEDULE)
    assert saved[len(SCHEDULE):] == '\n[[broadcast]]\nname = "晚间 \\"提醒\\""\nat = [\n    "18:00",\n    "19:30",\n]\n' \
                                    'days = "weekends"\n'
    names = [b["attrs"]["data-broadcast"] for b in Page(client.get("/schedule").text).all("tr", "broadcast")]
    assert names == ["Morning news", '晚间 "提醒"']


def test_add_a_broadcast_with_a_bad_time_is_refused(config, client):
    before = config.read_bytes()
    text, fields = form_of(client)
    answer = client.post("/schedule/add", data={**fields, "text": text, "new_name": "Evening", "new_at": "7pm"})
    assert answer.status_code == 422
    assert config.read_bytes() == before
    page = Page(answer.text)
    assert page.all("li", "bad") and "Evening" in page.one("textarea", id="schedule-text")["text"]
    empty = client.post("/schedule/add", data={**fields, "text": text, "new_name": "", "new_at": ""})
    assert empty.status_code == 422 and "give the new broadcast a name" in empty.text
    assert config.read_bytes() == before


def write_wav(path: Path, seconds: float = 0.2) -> Path:
    rate = 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                                 for n in range(int(rate * seconds))))
    return path


def with_chime(text: str, chime: str) -> str:
    return text + f'\n[audio]\nchime = "{chime}"\n'


def chime_line(text: str) -> int:
    return [n for n, line in enumerate(text.split("\n"), start=1) if line.startswith("chime = ")][0]


@pytest.mark.parametrize("chime", ["/etc/hostname", "/nonexistent/ding.wav", "../ding.wav", "sounds/../../ding.wav",
                                   "~/ding.wav", "link.wav", ".", " ELSEWHERE", "\\tELSEWHERE", "\\nELSEWHERE",
                                   "\\u0000x"])
def test_a_chime_outside_the_settings_folder_is_refused_beside_its_line(config, client, tmp_path_factory, chime):
    elsewhere = write_wav(tmp_path_factory.mktemp("elsewhere") / "ding.wav")
    chime = chime.replace("ELSEWHERE", str(elsewhere))      # after spaces that parse_config strips
    (config.parent / "link.wav").symlink_to(elsewhere)
    before = config.read_bytes()
    text, fields = form_of(client)
    edited = with_chime(text, chime)
    answer = client.post("/schedule", data={**fields, "text": edited})
    assert answer.status_code == 422
    assert config.read_bytes() == before
    page = Page(answer.text)
    line = chime_line(edited)
    [bad] = page.all("li", "bad")
    assert bad["attrs"]["id"] == f"line-{line}"
    assert "a sound file in the folder of schedule.toml" in bad["text"]
    # one answer for a file that is there and one that is not: the page tells nothing about other folders
    assert "not found" not in answer.text
    [problem] = inner(answer.text, "ul", "schedule-errors").all("li")
    assert problem["attrs"]["data-line"] == str(line) and "audio.chime" in problem["text"]


def test_a_refused_chime_is_listed_with_the_other_problems_in_line_order(config, client):
    text, fields = form_of(client)
    edited = with_chime(text.replace('at = ["08:00", "22:00"]', 'at = ["7pm"]'), "/etc/hostname")
    answer = client.post("/schedule", data={**fields, "text": edited})
    assert answer.status_code == 422
    problems = inner(answer.text, "ul", "schedule-errors").all("li")
    assert [li["attrs"]["data-line"] for li in problems] == ["8", str(chime_line(edited))]


def test_a_chime_that_is_not_sound_is_refused(config, client):
    (config.parent / "ding.wav").write_text("not a sound at all\n", encoding="utf-8")
    before = config.read_bytes()
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": with_chime(text, "ding.wav")})
    assert answer.status_code == 422
    assert config.read_bytes() == before
    [bad] = Page(answer.text).all("li", "bad")
    assert "Cannot read this sound file" in bad["text"]


def test_a_chime_file_without_sound_is_refused(config, client):
    before = config.read_bytes()
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": with_chime(text, "schedule.toml")})
    assert answer.status_code == 422
    assert config.read_bytes() == before
    [bad] = Page(answer.text).all("li", "bad")
    assert "holds no sound" in bad["text"] or "Cannot read this sound file" in bad["text"]


@pytest.mark.parametrize("chime", ["ding.wav", "sounds/ding.wav", "two-tone", "None"])
def test_a_sound_file_in_the_settings_folder_or_a_preset_is_saved(config, client, chime):
    (config.parent / "sounds").mkdir()
    if chime.endswith(".wav"):
        write_wav(config.parent / chime)
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": with_chime(text, chime)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert f'chime = "{chime}"' in config.read_text(encoding="utf-8")


def test_a_chime_set_on_the_computer_itself_may_stay(tmp_path, tmp_path_factory):
    elsewhere = write_wav(tmp_path_factory.mktemp("sounds") / "ding.wav")
    client = make_client(with_chime(SCHEDULE, str(elsewhere)), tmp_path, now=NOW)
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": text.replace("08:00", "09:00")}, follow_redirects=False)
    assert answer.status_code == 303
    assert str(elsewhere) in (tmp_path / "schedule.toml").read_text(encoding="utf-8")


def field_errors(html: str) -> dict[str, str]:
    return {e["attrs"]["id"]: e["text"] for e in Page(html).all("span", "field-error")}


def test_add_broadcast_problems_are_shown_beside_their_fields(config, client):
    before = config.read_bytes()
    text, fields = form_of(client)
    empty = client.post("/schedule/add", data={**fields, "text": text, "new_name": " ", "new_at": ""})
    assert empty.status_code == 422
    assert field_errors(empty.text) == {"new-name-error": "give the new broadcast a name",
                                        "new-at-error": "write at least one time to play, like 08:00"}
    name = Page(empty.text).one("input", id="new-name")["attrs"]
    assert name["aria-invalid"] == "true" and name["aria-describedby"] == "new-name-error"
    # problems parse_config finds in the added block go beside their fields too
    bad = client.post("/schedule/add", data={**fields, "text": text, "new_name": "Morning news", "new_at": "7pm"})
    assert bad.status_code == 422
    errors = field_errors(bad.text)
    assert set(errors) == {"new-name-error", "new-at-error"}
    assert "already the name" in errors["new-name-error"] and "not a time of day" in errors["new-at-error"]
    assert "aria-invalid" not in Page(bad.text).one("select", id="new-days")["attrs"]
    days = client.post("/schedule/add", data={**fields, "text": text, "new_name": "Evening", "new_at": "18:00",
                                              "new_days": "sometimes"})
    assert days.status_code == 422 and field_errors(days.text) == {"new-days-error": "choose daily, workdays or weekends"}
    assert config.read_bytes() == before


def test_a_problem_elsewhere_in_the_text_is_not_put_beside_the_new_broadcast(config, client):
    text, fields = form_of(client)
    broken = text.replace('at = ["08:00", "22:00"]', 'at = ["7pm"]')
    answer = client.post("/schedule/add", data={**fields, "text": broken, "new_name": "Evening", "new_at": "18:00"})
    assert answer.status_code == 422
    assert field_errors(answer.text) == {}
    assert [li["attrs"]["data-line"] for li in inner(answer.text, "ul", "schedule-errors").all("li")] == ["8"]


def test_a_chime_is_named_relative_to_the_folder_even_inside_it(config, client):
    inside = write_wav(config.parent / "ding.wav")
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": with_chime(text, str(inside))})
    assert answer.status_code == 422
    assert "written as just its name" in Page(answer.text).one("li", "bad")["text"]
    assert "chime" not in config.read_text(encoding="utf-8")


def test_a_broadcast_every_10_s_shows_as_one_row_a_run_and_the_page_stays_small(tmp_path):
    client = make_client(SCHEDULE + '\n[[broadcast]]\nname = "Reminder"\nfrom = "14:00"\nuntil = "16:00"\n'
                         'every = "10s"\n\n[[broadcast]]\nname = "Fire"\nat = ["15:00"]\n', tmp_path, now=NOW)
    page = client.get("/schedule")
    rows = Page(page.text).all("tr", "occurrence")
    reminders = [r for r in rows if r["attrs"]["data-broadcast"] == "Reminder"]
    # today: 14:00–15:00 (361), Fire at 15:00, then 15:00:10–15:59:50 (359); tomorrow too (its own status)
    assert [r["attrs"]["data-time"] for r in reminders] == ["14:00", "15:00:10", "14:00", "15:00:10"]
    assert "every 10 s, 361 times" in reminders[0]["text"]
    assert "14:00–15:00" in page.text
    assert "15:00:10–15:59:50" in page.text and "every 10 s, 359 times" in page.text
    assert len(rows) < 20 and len(page.text) < 100_000


def test_a_plan_longer_than_a_page_is_paginated(tmp_path, monkeypatch):
    from announcer.web import schedule

    monkeypatch.setattr(schedule, "PAGE_ROWS", 3)
    client = make_client(SCHEDULE.replace('at = ["08:00", "22:00"]', 'at = ["08:00", "09:00", "10:00", "22:00"]'),
                         tmp_path, now=NOW)
    first, second = client.get("/schedule"), client.get("/schedule?page=3")
    assert len(Page(first.text).all("tr", "occurrence")) == 3 and "page 1 of 3" in first.text
    assert len(Page(second.text).all("tr", "occurrence")) == 2 and "page 3 of 3" in second.text
    assert 'href="/schedule?page=2#plan"' in second.text
    assert client.get("/schedule?page=99").status_code == 200


# Warnings, words and print (issue 12) ----------------------------------------------------------------

EXAMPLE = (Path(__file__).resolve().parents[1] / "schedule.toml").read_text(encoding="utf-8")


def publish(out: Path, day: date, clips: list[dict]) -> None:
    source = out.parent / "clip.mp3"
    source.write_bytes(b"x")
    Library(out).publish(day, [(c["file"], source) for c in clips], {"date": day.isoformat(), "clips": clips})


NOTICES = [{"id": "ting-shui-tong-zhi", "title": "停水通知", "file": "01.mp3", "duration_s": 40.0},
           {"id": "jiang-zuo", "title": "健康讲座", "file": "02.mp3", "duration_s": 20.0}]


def occurrences(html: str, name: str) -> list[dict]:
    return [r for r in Page(html).all("tr", "occurrence") if r["attrs"]["data-broadcast"] == name]


def status_cell(html: str, name: str, time: str) -> str:
    row = re.search(rf'<tr class="occurrence[^"]*" data-broadcast="{name}"\s+data-time="{time}".*?</tr>', html, re.S)
    return Page(row.group(0)).one("td", "status")["text"]


@pytest.mark.parametrize("lang, plays, warned", [("en", "plays", "plays nothing"), ("zh", "播放", "不会播放")])
def test_the_example_fire_reminder_that_matches_no_clip_warns_instead_of_saying_it_plays(tmp_path, lang, plays,
                                                                                         warned):
    publish(tmp_path / "out", date(2026, 11, 30), NOTICES)
    html = make_client(EXAMPLE, tmp_path, now=NOW, lang=lang).get("/schedule").text
    [fire] = occurrences(html, "每周防火提醒")
    assert fire["attrs"]["data-warning"] == "no-clips"
    status = status_cell(html, "每周防火提醒", "09:00")
    assert status.startswith("⚠ " + warned) and status != plays
    assert '"all"' in status and "停水通知" in status            # what to do, and the day's clips by title
    [warning] = [w for w in Page(html).all("li") if w["attrs"].get("data-warning") == "no-clips"]
    assert warning["attrs"]["data-broadcast"] == "每周防火提醒" and warned in warning["text"]
    assert status_cell(html, "早间通知", "08:00") == plays


def test_a_one_off_date_that_has_passed_is_warned_of(tmp_path):
    text = SCHEDULE + '\n[[broadcast]]\nname = "Water off"\ndate = "2026-11-29 08:45"\n'
    html = make_client(text, tmp_path, now=NOW).get("/schedule").text
    [warning] = [w for w in Page(html).all("li") if w["attrs"].get("data-warning") == "date-passed"]
    assert warning["attrs"]["data-broadcast"] == "Water off"
    assert "2026-11-29 08:45" in warning["text"] and "has passed" in warning["text"]
    assert "change its date" in warning["text"]
    later = make_client(text.replace("2026-11-29", "2026-12-01"), tmp_path, now=NOW).get("/schedule").text
    assert 'data-warning="date-passed"' not in later


def test_a_broadcast_in_quiet_hours_says_it_will_be_skipped_and_why(client):
    html = client.get("/schedule").text
    [warning] = [w for w in Page(html).all("li") if w["attrs"].get("data-warning") == "quiet-hours"]
    assert warning["attrs"]["data-broadcast"] == "Morning news"
    assert "at 22:00 falls in the quiet hours (21:30–07:00)" in warning["text"]
    assert "will not play" in warning["text"] and "quiet_hours" in warning["text"]
    status = status_cell(html, "Morning news", "22:00")
    assert status.startswith("skipped: quiet hours") and "it will not play" in status


def test_the_quiet_hours_warning_reads_chinese(tmp_path):
    html = make_client(SCHEDULE, tmp_path, now=NOW, lang="zh").get("/schedule").text
    [warning] = [w for w in Page(html).all("li") if w["attrs"].get("data-warning") == "quiet-hours"]
    assert "22:00 在静音时段（21:30–07:00）内，会被跳过，不会播放" in warning["text"]


def test_a_round_longer_than_every_is_warned_of_with_how_much(tmp_path):
    # 40 s + 20 s, twice, with 5 s gaps: 135 s a round, every 2 minutes: 15 s too long
    text = SCHEDULE + ('\n[[broadcast]]\nname = "Rounds"\nfrom = "14:00"\nuntil = "15:00"\nevery = "2m"\n'
                       'repeat = 2\ngap = "5s"\n')
    publish(tmp_path / "out", date(2026, 11, 30), NOTICES)
    html = make_client(text, tmp_path, now=NOW).get("/schedule").text
    rounds = occurrences(html, "Rounds")
    assert rounds[0]["attrs"]["data-warning"] == "too-long"
    status = status_cell(html, "Rounds", "14:00")
    assert "a round is too long (by 15 s)" in status
    assert "about 2 min 15 s, 15 s longer than the interval (every 2 min)" in status and "Make every longer" in status
    [warning] = [w for w in Page(html).all("li") if w["attrs"].get("data-warning") == "too-long"]
    assert warning["attrs"]["data-broadcast"] == "Rounds"
    fits = make_client(text.replace('every = "2m"', 'every = "3m"'), tmp_path, now=NOW).get("/schedule").text
    assert 'data-warning="too-long"' not in fits


def test_a_round_longer_than_the_gap_to_the_next_time_is_warned_of(tmp_path):
    text = SCHEDULE.replace('at = ["08:00", "22:00"]', 'at = ["08:00", "08:01", "12:00"]').replace(
        'clips = ["water"]', 'clips = "all"')
    publish(tmp_path / "out", date(2026, 11, 30), NOTICES)
    html = make_client(text, tmp_path, now=NOW).get("/schedule").text
    status = status_cell(html, "Morning news", "08:00")
    assert "longer than the 1 min until the next one at 08:01" in status and "by 3 s" in status   # 40+3+20 s
    assert status_cell(html, "Morning news", "08:01") == "plays"


def test_the_plan_shows_clip_titles_in_broadcast_order(tmp_path):
    publish(tmp_path / "out", date(2026, 11, 30), list(reversed(NOTICES)))
    text = SCHEDULE.replace('clips = ["water"]', 'clips = "all"')
    page = Page(make_client(text, tmp_path, now=NOW).get("/schedule").text)
    cells = page.all("td", "plan-clips")
    assert cells[0]["text"] == "健康讲座, 停水通知"
    assert "jiang-zuo" not in cells[0]["text"]
    zh = Page(make_client(text, tmp_path, now=NOW, lang="zh").get("/schedule").text)
    assert zh.all("td", "plan-clips")[0]["text"] == "健康讲座、停水通知"


def test_a_day_not_built_yet_names_known_clips_by_title(tmp_path):
    publish(tmp_path / "out", date(2026, 11, 30), NOTICES)
    text = SCHEDULE.replace('clips = ["water"]', 'clips = ["jiang-zuo"]').replace("holidays = [2026-12-01]", "")
    cells = Page(make_client(text, tmp_path, now=NOW).get("/schedule").text).all("td", "plan-clips")
    assert cells[-1]["text"] == "健康讲座 (not built yet)"


@pytest.mark.parametrize("lang, words", [("en", ["daily 08:00, 22:00", "Mondays 09:00", "Mondays to Fridays 17:30"]),
                                         ("zh", ["每天 08:00、22:00", "每周一 09:00", "每周一至周五 17:30"])])
def test_timings_read_as_words(tmp_path, lang, words):
    text = SCHEDULE + ('\n[[broadcast]]\nname = "Fire"\ncron = "0 9 * * 1"\n'
                       '\n[[broadcast]]\nname = "Evening"\ncron = "30 17 * * 1-5"\n')
    page = Page(make_client(text, tmp_path, now=NOW, lang=lang).get("/schedule").text)
    assert [c["text"] for c in page.all("td", "timing")] == words
    assert "cron" not in " ".join(c["text"] for c in page.all("td", "timing"))


def test_add_a_broadcast_picks_clips_by_title_and_writes_their_ids(config, client, tmp_path):
    publish(tmp_path / "out", date(2026, 11, 30), NOTICES)
    page = client.get("/schedule").text
    boxes = [b for b in Page(page).all("input", name="new_clips")]
    assert [b["attrs"]["value"] for b in boxes] == ["all", "ting-shui-tong-zhi", "jiang-zuo"]
    assert "checked" in boxes[0]["attrs"] and "checked" not in boxes[1]["attrs"]      # "all" by default
    labels = [label["text"] for label in inner(page, "fieldset", "new-clips").all("label")]
    assert labels[1:] == ["停水通知", "健康讲座"]
    text, fields = form_of(client)
    answer = client.post("/schedule/add", data={**fields, "text": text, "new_name": "Water", "new_at": "18:00",
                                                "new_clips": ["jiang-zuo", "ting-shui-tong-zhi"]},
                         follow_redirects=False)
    assert answer.status_code == 303
    added = config.read_text(encoding="utf-8")[len(SCHEDULE):]
    assert added == ('\n[[broadcast]]\nname = "Water"\nat = [\n    "18:00",\n]\ndays = "daily"\n'
                     'clips = [\n    "jiang-zuo",\n    "ting-shui-tong-zhi",\n]\n')
    water = occurrences(client.get("/schedule").text, "Water")
    assert water and "健康讲座" in water[0]["text"] and "停水通知" in water[0]["text"]


def test_add_a_broadcast_with_all_writes_no_clips(config, client, tmp_path):
    publish(tmp_path / "out", date(2026, 11, 30), NOTICES)
    text, fields = form_of(client)
    answer = client.post("/schedule/add", data={**fields, "text": text, "new_name": "All", "new_at": "18:00",
                                                "new_clips": ["all", "jiang-zuo"]}, follow_redirects=False)
    assert answer.status_code == 303
    assert "clips" not in config.read_text(encoding="utf-8")[len(SCHEDULE):]


def test_add_a_broadcast_with_a_clip_no_longer_there_is_refused_beside_the_clips(config, client, tmp_path):
    publish(tmp_path / "out", date(2026, 11, 30), NOTICES)
    before = config.read_bytes()
    text, fields = form_of(client)
    answer = client.post("/schedule/add", data={**fields, "text": text, "new_name": "Gone", "new_at": "18:00",
                                                "new_clips": ["old-notice"]})
    assert answer.status_code == 422
    assert config.read_bytes() == before
    assert "no longer among today's clips" in field_errors(answer.text)["new-clips-error"]


def test_without_clips_today_only_all_can_be_picked(client):
    page = Page(client.get("/schedule").text)
    assert [b["attrs"]["value"] for b in page.all("input", name="new_clips")] == ["all"]
    assert "Today has no clips built yet" in page.one("p", id="new-clips-none")["text"]


def test_the_plan_prints_cleanly(tmp_path):
    html = make_client(SCHEDULE.replace("[station]", '[station]\nname = "幸福里社区"'), tmp_path, now=NOW,
                       lang="zh").get("/schedule").text
    button = Page(html).one("button", id="print-plan")
    assert button["attrs"]["onclick"] == "window.print()" and button["text"] == "打印"
    head = Page(html).one("div", id="plan-print-head")["text"]
    assert "幸福里社区" in head and "2026-11-30 – 2026-12-01" in head
    printed = re.search(r"@media print \{(.*?)\n  \}", html, re.S).group(1)
    for hidden in ("nav", "#editor", "#broadcasts", "#plan-section form", "#plan-section button"):
        assert hidden in printed
    assert Page(make_client(SCHEDULE, tmp_path, now=NOW).get("/schedule").text).one("button", id="print-plan")[
        "text"] == "Print"


def test_plan_and_broadcast_tables_are_cards_with_a_label_on_every_cell(client):
    html = client.get("/schedule").text
    assert "cards" in Page(html).one("table", id="plan")["attrs"]["class"].split()
    plan_cells = inner(html, "table", "plan").all("td")
    assert plan_cells and all(c["attrs"].get("data-label") for c in plan_cells)
    section = html.split('id="broadcasts"')[1].split("</table>")[0]
    assert 'class="cards"' in section and all("data-label" in td for td in re.findall(r"<td[^>]*>", section))
