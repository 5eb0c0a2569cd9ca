"""/log and /log.csv: the day's play log, as a page and as a spreadsheet."""

import csv
import io
import re
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from announcer.playlog import PlayLog, Record
from announcer.web import Site, create_app

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)


class Page(HTMLParser):
    """Elements of a page as (tag, attrs, text)."""

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
        return [{**e, "text": " ".join("".join(e["text"]).split())} for e in self.elements
                if e["tag"] == tag and (not cls or cls in e["attrs"].get("class", "").split())
                and all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def one(self, tag: str, cls: str | None = None, **attrs) -> dict:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, (tag, cls, attrs, found)
        return found[0]


def at(hour: int, minute: int = 0, second: int = 0, day: int = 30) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def out(tmp_path):
    (tmp_path / "schedule.toml").write_text('[station]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    log = PlayLog(tmp_path / "out")
    log.add_many([
        Record(at(8), "早间通知", ("ting-shui", "fire"), "played", started=at(8, 0, 1), ended=at(8, 1, 30)),
        Record(at(12), "早间通知", ("ting-shui",), "failed", "player crashed: =cmd|' /C calc'!A0",
               started=at(12, 0, 1), ended=at(12, 0, 2)),
        Record(at(22), "=HYPERLINK(\"http://x\")", (), "skipped", "quiet hours"),
        Record(at(9, day=29), "yesterday", ("a",), "missed", "station not running"),
        Record(at(8, day=1), "elsewhere", (), "played"),   # 2026-11-01: another day
    ])
    return tmp_path / "out"


@pytest.fixture
def client(out, tmp_path):
    site = Site(tmp_path / "schedule.toml", out, clock=lambda: NOW)
    client = TestClient(create_app(site), base_url="http://127.0.0.1:8080")
    client.cookies.set("lang", "en")
    return client


def test_the_log_page_shows_the_days_records_coloured_by_result(client):
    page = client.get("/log?date=2026-11-30")
    assert page.status_code == 200
    parsed = Page(page.text)
    assert parsed.one("input", id="log-date")["attrs"] == {
        "type": "date", "id": "log-date", "name": "date", "value": "2026-11-30", "required": None,
        "onchange": "this.form.submit()"}
    rows = parsed.all("tr", "record")
    assert [r["attrs"]["data-result"] for r in rows] == ["played", "failed", "skipped"]
    assert rows[0]["text"] == "08:00 08:00:01 08:01:30 早间通知 ting-shui, fire played —"
    assert "player crashed" in rows[1]["text"]
    assert parsed.all("span", "result-failed")[-1]["text"] == "failed"
    counts = {li["attrs"]["data-result"]: li["text"] for li in parsed.all("li") if "data-result" in li["attrs"]}
    assert counts == {"played": "played 1", "missed": "missed 0", "skipped": "skipped 1", "failed": "failed 1",
                      "playing": "playing 0"}
    assert parsed.one("a", id="log-csv")["attrs"]["href"] == "/log.csv?date=2026-11-30"


def test_without_a_date_the_log_shows_today_in_the_station_zone(client):
    parsed = Page(client.get("/log").text)
    assert parsed.one("input", id="log-date")["attrs"]["value"] == "2026-11-30"
    assert len(parsed.all("tr", "record")) == 3


def test_an_empty_day_says_so(client):
    parsed = Page(client.get("/log?date=2026-12-05").text)
    assert "Nothing in the play log for this day" in parsed.one("p", id="log-empty")["text"]
    assert not parsed.all("table", id="playlog")


def test_the_page_reads_chinese(client):
    client.cookies.set("lang", "zh")
    parsed = Page(client.get("/log?date=2026-11-29").text)
    assert parsed.one("tr", "record")["text"].endswith("错过 station not running")


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "../../etc", "2026-11-30/../x", "20261130"])
def test_a_bad_date_is_refused(client, bad):
    assert client.get("/log", params={"date": bad}).status_code == 400
    answer = client.get("/log.csv", params={"date": bad})
    assert answer.status_code == 400 and "is not a date" in answer.text


def test_the_csv_opens_in_excel_and_runs_no_formulas(client):
    answer = client.get("/log.csv?date=2026-11-30")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="playlog-2026-11-30.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["scheduled", "started", "ended", "broadcast", "clips", "result", "reason"]
    assert rows[1] == ["2026-11-30 08:00:00", "2026-11-30 08:00:01", "2026-11-30 08:01:30", "早间通知",
                       "ting-shui fire", "played", ""]
    assert rows[2][6] == "player crashed: =cmd|' /C calc'!A0"      # not at the start: harmless
    assert rows[3][3] == "'=HYPERLINK(\"http://x\")"
    assert len(rows) == 4
    assert "早间通知".encode("utf-8") in answer.content


def test_the_csv_header_follows_the_page_language(client):
    client.cookies.set("lang", "zh")
    answer = client.get("/log.csv?date=2026-11-29")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows == [["计划时间", "开始", "结束", "广播", "片段", "结果", "原因"],
                    ["2026-11-29 09:00:00", "", "", "yesterday", "a", "错过", "station not running"]]


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"])
def test_formula_cells_get_a_leading_quote(cell):
    from announcer.web.playlog import safe_cell

    assert safe_cell(cell) == "'" + cell
    assert safe_cell("plain 1-2") == "plain 1-2"


def test_an_empty_log_file_is_no_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = Site(None, tmp_path / "nothing", clock=lambda: NOW)
    client = TestClient(create_app(site), base_url="http://127.0.0.1:8080")
    assert client.get("/log").status_code == 200
    answer = client.get("/log.csv")
    assert re.fullmatch(r"\ufeff[^\n]+\r\n", answer.content.decode("utf-8"))
    assert not (tmp_path / "nothing" / "playlog.sqlite").exists()
