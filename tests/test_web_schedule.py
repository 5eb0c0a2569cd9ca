"""/schedule: the plan for today and tomorrow, play-now buttons, and the schedule.toml editor."""

import hashlib
import os
import re
from datetime import date, datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from announcer.library import Library
from announcer.web import Site, create_app

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


class Page(HTMLParser):
    """Elements of a page as (tag, attrs, text), enough to find things by id, class and attribute."""

    VOID = {"input", "meta", "link", "br", "img", "hr"}

    def __init__(self, html: str):
        super().__init__()
        self.elements, self.open = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": []}
        self.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open and self.open.pop()["tag"] != tag:
            pass

    def handle_data(self, data):
        for element in self.open:
            element["text"].append(data)

    def all(self, tag: str, cls: str | None = None, **attrs) -> list[dict]:
        found = []
        for e in self.elements:
            if e["tag"] != tag or (cls and cls not in e["attrs"].get("class", "").split()):
                continue
            if all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append({**e, "text": " ".join("".join(e["text"]).split())})
        return found

    def one(self, tag: str, cls: str | None = None, **attrs) -> dict:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, (tag, cls, attrs, found)
        return found[0]


def inner(html: str, tag: str, id: str) -> Page:
    """The elements inside <tag id=...> (not nested in another of the same tag)."""
    return Page(re.search(rf'<{tag}[^>]*id="{id}"[^>]*>(.*?)</{tag}>', html, re.S).group(1))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(SCHEDULE, encoding="utf-8")
    return path


def make_client(config: Path | None, out: Path, lang: str = "en") -> TestClient:
    client = TestClient(create_app(Site(config, out, clock=lambda: NOW)), base_url="http://127.0.0.1:8080")
    client.cookies.set("lang", lang)
    return client


@pytest.fixture
def client(config, tmp_path) -> TestClient:
    return make_client(config, tmp_path / "out")


def form_of(client: TestClient) -> tuple[str, dict]:
    """The editor's text and hidden fields as the page hands them out."""
    page = client.get("/schedule")
    parsed = Page(page.text)
    text = unescape(re.search(r'id="schedule-text"[^>]*>\n?(.*?)</textarea>', page.text, re.S).group(1))
    return text, {"csrf": csrf_of(page.text), "loaded": parsed.one("input", id="schedule-loaded")["attrs"]["value"]}


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


def test_the_plan_reads_chinese(config, tmp_path):
    rows = Page(make_client(config, tmp_path / "out", lang="zh").get("/schedule").text).all("tr", "occurrence")
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
    path = tmp_path / "schedule.toml"
    path.write_text('[station]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    page = Page(make_client(path, tmp_path / "out").get("/schedule").text)
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
    path = tmp_path / "schedule.toml"
    original = SCHEDULE + f'\n[web]\ntoken = "{TOKEN}"\n'
    path.write_text(original, encoding="utf-8")
    site = Site(path, tmp_path / "out", host="0.0.0.0", clock=lambda: NOW)
    client = TestClient(create_app(site), base_url="http://192.168.1.5:8080", cookies={"lang": "en"})
    login = client.get("/login")
    client.post("/login", data={"csrf": csrf_of(login.text), "token": TOKEN}, follow_redirects=False)
    text, fields = form_of(client)
    answer = client.post("/schedule", data={**fields, "text": text.replace(f'token = "{TOKEN}"', "")})
    assert answer.status_code == 422
    assert "keep the token while the page is open to the network" in answer.text
    assert path.read_text(encoding="utf-8") == original


def test_saving_without_a_schedule_file_creates_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = make_client(None, tmp_path / "out")
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
