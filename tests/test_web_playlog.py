"""/log and /log.csv: the day's play log, as a page and as a spreadsheet."""

import csv
import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from webpage import Page, make_client

from announcer.core.playlog import PlayLog, Record
from announcer.web import playlog

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 30) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture
def out(tmp_path):
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
    return make_client('[station]\ntimezone = "Asia/Shanghai"\n', tmp_path, out=out, now=NOW)


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
    client = make_client(None, tmp_path, out=tmp_path / "nothing", now=NOW)
    assert client.get("/log").status_code == 200
    answer = client.get("/log.csv")
    assert re.fullmatch(r"\ufeff[^\n]+\r\n", answer.content.decode("utf-8"))
    assert not (tmp_path / "nothing" / "playlog.sqlite").exists()


def test_the_days_around_link_to_each_other(client):
    page = Page(client.get("/log?date=2026-11-30").text)
    assert page.one("a", id="log-previous")["attrs"]["href"] == "/log?date=2026-11-29"
    assert page.one("a", id="log-next")["attrs"]["href"] == "/log?date=2026-12-01"


@pytest.mark.parametrize("day, gone", [("0001-01-01", "log-previous"), ("9999-12-31", "log-next")])
def test_the_first_and_last_day_a_date_can_hold_show_no_link_past_them(client, monkeypatch, day, gone):
    # Whatever range parse_day allows, the page never counts past the calendar (that was a 500).
    monkeypatch.setattr(playlog, "parse_day", lambda text, site: date.fromisoformat(text) if text else site.today())
    answer = client.get(f"/log?date={day}")
    assert answer.status_code == 200
    page = Page(answer.text)
    assert not page.all("a", id=gone)
    assert len(page.all("a", id="log-previous") + page.all("a", id="log-next")) == 1
    assert page.one("p", id="log-empty")
    csv_answer = client.get(f"/log.csv?date={day}")
    assert csv_answer.status_code == 200 and csv_answer.content.count(b"\r\n") == 1


def test_no_link_leads_to_a_day_the_page_refuses(client, monkeypatch):
    def parse_day(text, site):
        day = date.fromisoformat(text)
        if not date(2000, 1, 1) <= day <= date(2099, 12, 31):
            raise playlog.WebError("超出范围", "out of range", status=400)
        return day

    monkeypatch.setattr(playlog, "parse_day", parse_day)
    assert not Page(client.get("/log?date=2000-01-01").text).all("a", id="log-previous")
    assert not Page(client.get("/log?date=2099-12-31").text).all("a", id="log-next")


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_edge_dates_are_never_a_server_error(client, day):
    for url in ("/log", "/log.csv"):
        assert client.get(url, params={"date": day}).status_code in (200, 400)


# Titles and the page's language (issue 12) ---------------------------------------------------------

def publish(out, day: date, clips: list[dict]) -> None:
    from announcer.core.library import Library

    source = out.parent / "clip.mp3"
    source.write_bytes(b"x")
    Library(out).publish(day, [(c["file"], source) for c in clips], {"date": day.isoformat(), "clips": clips})


@pytest.fixture
def titled(tmp_path):
    out = tmp_path / "out"
    publish(out, date(2026, 11, 30), [{"id": "ting-shui", "title": "停水通知", "file": "01.mp3"},
                                      {"id": "fire", "title": "Fire drill", "file": "02.mp3"}])
    PlayLog(out).add_many([
        Record(at(8), "早间通知", ("ting-shui", "fire", "gone"), "played"),
        Record(at(9), "手动播放：ting-shui, fire", ("ting-shui", "fire"), "played"),
        Record(at(10), "manual: 早间通知", ("fire",), "failed", "电台停止，播放中断"),
        Record(at(11), "早间通知", (), "missed", "晚了 3 分 5 秒，超过宽限时间（电脑休眠或太忙）"),
        Record(at(22), "早间通知", (), "skipped", "静音时段"),
        Record(at(23), "早间通知", ("fire",), "failed", "clip file 02.mp3 is missing; no sound card at all"),
    ])
    return make_client('[station]\ntimezone = "Asia/Shanghai"\n', tmp_path, out=out, now=NOW)


def cells(client, lang: str, cls: str) -> list[str]:
    client.cookies.set("lang", lang)
    page = Page(client.get("/log?date=2026-11-30").text)
    return [td["text"] for td in page.all("td", cls)]


def test_the_log_shows_clip_titles_from_the_days_manifest(titled):
    assert cells(titled, "en", "clips")[:3] == ["停水通知, Fire drill, gone", "停水通知, Fire drill", "Fire drill"]
    assert cells(titled, "zh", "clips")[0] == "停水通知、Fire drill、gone"
    client_ids = Page(titled.get("/log?date=2026-11-30").text).all("td", "clips")[0]["attrs"]["data-clips"]
    assert client_ids == "ting-shui fire gone"


def test_plays_by_hand_are_named_in_the_pages_language_with_titles(titled):
    assert cells(titled, "en", "broadcast-name")[1:3] == ["Played by hand: 停水通知, Fire drill",
                                                          "Played by hand: 早间通知"]
    assert cells(titled, "zh", "broadcast-name")[1:3] == ["手动播放：停水通知、Fire drill", "手动播放：早间通知"]


def test_the_stations_fixed_reasons_are_shown_in_the_pages_language(titled):
    english = cells(titled, "en", "reason")
    assert english[2:5] == ["the station stopped during playback",
                            "3 min 5 s late, past the grace time (the machine was asleep or busy)", "quiet hours"]
    # a joined reason: the known part is translated, the player's own words stay as recorded
    chinese = cells(titled, "zh", "reason")
    assert chinese[2:] == ["电台停止，播放中断", "晚了 3 分 5 秒，超过宽限时间（电脑休眠或太忙）", "静音时段",
                           "找不到音频文件 02.mp3；no sound card at all"]


@pytest.mark.parametrize("text, zh, en", [
    ("节假日", "节假日", "holiday"),
    ("stopped by hand", "手动停止", "stopped by hand"),
    ("还在排队时被 08:30:00 的同一广播代替", "还在排队时被 08:30:00 的同一广播代替",
     "still waiting when the 08:30:00 occurrence replaced it"),
    ("interrupted 2 time(s) by an urgent broadcast; the clip was restarted", "被紧急广播打断 2 次，已从中断处重播",
     "interrupted 2 time(s) by an urgent broadcast; the clip was restarted"),
    ("2026-11-30 还没有生成音频；请运行 announcer build，或在网页的“今日通知”里生成", None,
     "no clips for 2026-11-30; run announcer build, or build them on the web page's Today page"),
    ("ffplay: cannot open audio device", "ffplay: cannot open audio device", "ffplay: cannot open audio device"),
    ("01-water.mp3: 播放器只响了 1 秒，这段有 31 秒：可能没有可用的音频输出。请检查喇叭/声卡", None,
     "01-water.mp3: the player ran for only 1 s of this 31 s clip: there may be no working audio output; check the "
     "speaker and the sound card"),
])
def test_reasons_in_either_language(text, zh, en):
    assert playlog.reason_in(text, "zh") == (zh or text)
    assert playlog.reason_in(text, "en") == en


def test_the_log_table_is_cards_with_a_label_on_every_cell(titled):
    html = titled.get("/log?date=2026-11-30").text
    table = Page(html).one("table", id="playlog")
    assert "cards" in table["attrs"]["class"].split()
    tds = [td for td in Page(html).all("td")]
    assert tds and all(td["attrs"].get("data-label") for td in tds)


def test_the_csv_names_plays_by_hand_and_reasons_in_the_pages_language(titled):
    rows = list(csv.reader(io.StringIO(titled.get("/log.csv?date=2026-11-30").content.decode("utf-8-sig"))))
    assert rows[2][3] == "Played by hand: 停水通知, Fire drill" and rows[2][4] == "ting-shui fire"
    assert rows[5][6] == "quiet hours"
