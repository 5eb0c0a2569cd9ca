"""The web page end to end: a real `announcer serve` with the real espeak-ng, in Debian's headless Chromium.

Screenshots of each main page go to $ANNOUNCER_ARTIFACTS or test-artifacts/ (see tests/browser.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from browser import Server, Watch, artifacts, chromium, launch

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(chromium() is None, reason="needs Debian's chromium (scripts/test installs it)"),
]

ZONE = ZoneInfo("Asia/Shanghai")
BROADCAST = "午间通知"
NOTICE = "明天上午九点到十一点，三号楼停水，请提前储水。"
PAGES = [("/", "today"), ("/recordings", "recordings"), ("/schedule", "schedule"), ("/log", "log"), ("/usb", "usb")]


def station_config(soon: datetime) -> str:
    """The example station (schedule.toml), in Chinese, playing nothing, with one broadcast coming up."""
    return f"""# The e2e tests' station, after the repository's schedule.toml.
[station]
name = "幸福里社区"
timezone = "Asia/Shanghai"
language = "zh"
player = "null"

[speech]
engine = "pyttsx3"
voices = {{ zh = "cmn-latn-pinyin", en = "en-us" }}

[audio]
chime = "two-tone"
format = "mp3"

[[broadcast]]
name = "{BROADCAST}"
date = "{soon:%Y-%m-%d %H:%M}"
"""


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    soon = (datetime.now(ZONE) + timedelta(hours=1)).replace(second=0, microsecond=0)
    config = tmp / "schedule.toml"
    config.write_text(station_config(soon), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ANNOUNCER_LANG"}    # the page follows the station: zh
    server = Server(config, tmp / "out", tmp / "serve.log", env=env)
    try:
        server.wait_ready()
        yield server, config
    finally:
        code = server.stop()
        assert code == 0, f"Ctrl-C should stop announcer serve cleanly, it exited with {code}:\n{server.output()}"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chrome = launch(playwright)
        try:
            yield chrome
        finally:
            chrome.close()


@pytest.fixture
def page(browser, station):
    context = browser.new_context(base_url=station[0].url, viewport={"width": 1280, "height": 900},
                                  locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.watch = Watch(page)
    page.on("dialog", lambda dialog: dialog.accept())       # "Delete …?", "Replace …?": the staff member says yes
    yield page
    context.close()


def shot(page, name: str, capsys) -> None:
    path = artifacts() / f"web-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\nscreenshot: {path}")


def assert_no_errors(page) -> None:
    errors = page.watch.take()
    assert not errors, "\n".join(errors)


def test_today_builds_a_pasted_chinese_notice_into_a_clip_that_plays(page, capsys):
    page.goto("/")
    page.fill("#notices-text", NOTICE)
    page.click("#save-notices")
    page.wait_for_selector("#check-findings, #notices-errors li")
    assert not page.locator("#notices-errors li").all_inner_texts()
    assert page.locator("#stored-notices li.notice").count() == 1
    page.click("#build")
    page.wait_for_selector("table#clips tr.clip, #build-errors li", timeout=60_000)
    assert not page.locator("#build-errors li").all_inner_texts()
    audio = page.locator("table#clips tr.clip audio.clip-audio")
    assert audio.count() == 1
    audio.evaluate("a => { if (a.readyState < 1) a.load(); }")
    page.wait_for_function("a => a.error || (a.readyState >= 1 && Number.isFinite(a.duration))",
                           arg=audio.element_handle())
    assert audio.evaluate("a => a.error && a.error.message") is None
    assert 1 < audio.evaluate("a => a.duration") < 40
    shot(page, "today", capsys)
    page.set_viewport_size({"width": 390, "height": 844})      # a phone
    shot(page, "today-phone", capsys)
    assert_no_errors(page)


def test_the_language_switch_flips_the_pages_to_english_and_back(page, capsys):
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.click("#lang-switch")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.locator("#nav-today").inner_text() == "Today"
    for path, name in PAGES:
        page.goto(path)
        assert page.locator("html").get_attribute("lang") == "en", path
        shot(page, f"{name}-en", capsys)
    page.click("#lang-switch")
    page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    assert page.url.endswith(PAGES[-1][0])              # back on the page it was switched on
    assert page.locator("#nav-today").inner_text() == "今日通知"
    assert_no_errors(page)


def test_the_plan_shows_the_coming_broadcast(page, capsys):
    page.goto("/schedule")
    row = page.wait_for_selector(f'table#plan tr.occurrence[data-broadcast="{BROADCAST}"]')
    assert row.get_attribute("data-skip") is None
    shot(page, "schedule", capsys)
    assert_no_errors(page)


def test_an_invalid_schedule_edit_is_shown_by_line_and_not_saved(page, station, capsys):
    _, config = station
    before = config.read_bytes()
    page.goto("/schedule")
    text = page.input_value("#schedule-text")
    line = 1 + text.splitlines().index('player = "null"')
    page.fill("#schedule-text", text.replace('player = "null"', 'player = "nul"'))
    page.click("#save-schedule")
    error = page.wait_for_selector(f'#schedule-errors li[data-line="{line}"]')
    assert f"第 {line} 行" in error.inner_text() and "player" in error.inner_text()
    assert page.locator(f"#line-{line}.bad").count() == 1
    assert config.read_bytes() == before
    shot(page, "schedule-error", capsys)


@pytest.mark.parametrize("path, name", [p for p in PAGES if p[1] in ("recordings", "log", "usb")],
                         ids=["recordings", "log", "usb"])
def test_the_other_pages_open_without_errors(page, path, name, capsys):
    response = page.goto(path)
    assert response.status == 200
    shot(page, name, capsys)
    assert_no_errors(page)


# Issue 12: never lose work, one glance at today, the phone. Each test below sets up the day it needs (its own
# day far from today where it can), so they pass in any order.

PHONE = {"width": 390, "height": 844}


def broadcast_day(config) -> date:
    """The day of the station's one broadcast (a one-off an hour after the start: tomorrow near midnight)."""
    found = re.search(r'^date = "(\d{4}-\d{2}-\d{2}) ', config.read_text("utf-8"), re.MULTILINE)
    return date.fromisoformat(found.group(1))


def save_notices(page, day: date, text: str, *, replace: bool = False) -> None:
    """Paste `text` on the Today page of `day` and save it, added to the saved ones (or replacing them)."""
    page.goto(f"/?date={day}")
    page.fill("#notices-text", text)
    if replace:
        page.check("#notices-replace")
    with page.expect_navigation():
        page.click("#save-notices")
    assert not page.locator("#notices-errors li").all_inner_texts()


def build(page) -> None:
    """Press Build on the open Today page and wait for the page with the new clips."""
    from playwright.sync_api import TimeoutError as Late

    page.click("#build")
    try:
        page.wait_for_url(re.compile(r"[?&]job="), timeout=90_000)
    except Late:
        raise AssertionError(f"the build did not finish: {page.locator('#build-errors li').all_inner_texts()}")
    assert not page.locator("#build-errors li").all_inner_texts()
    page.wait_for_selector("table#clips tr.clip")


def titles(page, table: str) -> list[str]:
    """The clip titles of a clips table, in order (without the "recording" badge)."""
    return page.locator(f"table#{table} tr.clip td.clip-title").evaluate_all(
        "cells => cells.map(td => td.firstChild.textContent.trim())")


def speech_wav(path, words: str):
    """A short spoken recording, as a phone would make it (espeak-ng's English voice)."""
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), words], check=True, capture_output=True)
    return path


def test_saving_twice_keeps_both_notices(page):
    day = date(2031, 3, 3)
    page.goto(f"/?date={day}")
    assert page.locator("#notices-append").is_checked()          # adding is the default
    save_notices(page, day, "# 停水通知\n明天上午三号楼停水，请提前储水。")
    assert page.locator("#notices-append").is_checked()
    save_notices(page, day, "# 停电通知\n后天下午两点到四点，五号楼停电。")
    stored = page.locator("#stored-notices li.notice")
    assert stored.count() == 2
    assert "停水通知" in stored.nth(0).inner_text() and "停电通知" in stored.nth(1).inner_text()
    assert page.locator("#undo-notices").count() == 1             # the last save can be taken back
    assert_no_errors(page)


def test_a_deleted_recording_comes_back_at_its_place_with_undo(page, tmp_path, capsys):
    day = date(2031, 3, 5)
    for title, words in [("物业录音", "Attention please. The water in building three is off tomorrow morning."),
                         ("居委会录音", "The community office is closed on Saturday afternoon. Thank you.")]:
        page.goto(f"/recordings?date={day}")
        page.set_input_files("#recording-file", str(speech_wav(tmp_path / f"{len(title)}.wav", words)))
        page.fill("#recording-title", title)
        with page.expect_navigation(timeout=60_000):
            page.click("#upload-recording")
        assert not page.locator("#recording-errors li").all_inner_texts()
        assert title in page.locator("#recording-result").inner_text()
    assert titles(page, "recordings-table") == ["物业录音", "居委会录音"]
    assert page.locator("#undo-recording").count() == 0

    with page.expect_navigation():
        page.locator("table#recordings-table tr.clip").first.locator("button.delete-clip").click()
    assert titles(page, "recordings-table") == ["居委会录音"]
    assert "物业录音" in page.locator("#undo-recording").inner_text()
    shot(page, "recording-deleted", capsys)

    with page.expect_navigation():
        page.click("#undo-recording")
    assert titles(page, "recordings-table") == ["物业录音", "居委会录音"]        # back at its place
    assert page.locator("#undo-recording").count() == 0
    page.goto(f"/?date={day}")                                                     # and on the Today page
    assert titles(page, "clips") == ["物业录音", "居委会录音"]
    assert_no_errors(page)


def test_moving_a_clip_down_changes_the_order_in_the_plan(page, station):
    day = broadcast_day(station[1])             # today, or tomorrow when now+1h is past midnight
    save_notices(page, day, "# 停水通知\n明天上午三号楼停水，请提前储水。\n\n# 停电通知\n后天下午五号楼停电。",
                 replace=True)
    build(page)
    assert titles(page, "clips") == ["停水通知", "停电通知"]
    with page.expect_navigation():
        page.locator("table#clips tr.clip").first.locator("button.move-down").click()
    page.wait_for_selector("table#clips tr.clip")
    assert titles(page, "clips") == ["停电通知", "停水通知"]
    assert page.locator("table#clips tr.clip").first.locator("button.move-up").is_disabled()

    page.goto("/schedule")
    cell = page.locator(f'table#plan tr.occurrence[data-broadcast="{BROADCAST}"] td.plan-clips')
    assert cell.count() == 1
    text = cell.inner_text()
    assert "停电通知" in text and "停水通知" in text, text
    assert text.index("停电通知") < text.index("停水通知"), text
    assert_no_errors(page)


def test_the_status_strip_says_today_is_built_and_the_station_is_not_running(page, capsys):
    today = datetime.now(ZONE).date()
    save_notices(page, today, "# 活动室开放\n今天下午三点，社区活动室开放，欢迎大家参加。")
    build(page)
    clips = page.locator("table#clips tr.clip").count()
    page.goto("/")                              # the strip as a fresh page shows it
    strip = page.locator("#status-strip")
    assert strip.is_visible()
    built = page.locator("#status-today").inner_text()
    assert f"今天已生成：{clips} 段" in built, built
    following = page.locator("#status-next").inner_text()
    assert "下一次广播" in following and BROADCAST in following, following
    station = page.locator("#status-station").inner_text()
    assert "电台未运行" in station and "到点不会自动播放" in station, station
    assert "announcer run" in page.locator("#status-station-help").inner_text()
    shot(page, "today-status", capsys)         # the desktop page with the strip
    for path, _ in PAGES[1:]:                   # on every page
        page.goto(path)
        assert page.locator("#status-strip").is_visible(), path
        assert f"今天已生成：{clips} 段" in page.locator("#status-today").inner_text(), path
    assert_no_errors(page)


def test_on_a_phone_the_play_buttons_are_on_screen_without_scrolling_sideways(page, capsys):
    day = date(2031, 3, 7)
    save_notices(page, day, "# 停水通知\n明天上午三号楼停水，请提前储水。\n\n# 停电通知\n后天下午五号楼停电。",
                 replace=True)
    build(page)
    page.set_viewport_size(PHONE)
    page.goto(f"/?date={day}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    buttons = page.locator("table#clips button.play-clip")
    assert buttons.count() == 2
    for button in buttons.all():
        assert button.is_visible()
        box = button.bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], box
    links = page.locator("header nav a")
    assert links.count() == len(PAGES)
    for link in links.all():
        assert link.evaluate("a => a.getClientRects().length") == 1, link.inner_text()
    shot(page, "today-phone-cards", capsys)
    assert_no_errors(page)


@pytest.mark.parametrize("path, name", PAGES, ids=[name for _, name in PAGES])
def test_every_page_fits_a_phone(page, path, name, capsys):
    page.set_viewport_size(PHONE)
    response = page.goto(path)
    assert response.status == 200
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    shot(page, f"{name}-phone", capsys)
    assert_no_errors(page)


def test_the_whole_broadcast_can_be_heard_on_the_computer(page):
    day = date(2031, 3, 9)
    save_notices(page, day, "# 停水通知\n明天上午三号楼停水，请提前储水。", replace=True)
    build(page)
    page.click("#hear-broadcast")
    audio = page.locator("audio#listen-audio")
    page.wait_for_function("a => a.error || (a.src && a.readyState >= 1 && Number.isFinite(a.duration))",
                           arg=audio.element_handle(), timeout=60_000)
    assert audio.evaluate("a => a.error && a.error.message") is None
    assert not page.locator("#listen-status").inner_text().strip()
    assert audio.evaluate("a => a.duration") > 1
    assert_no_errors(page)
