"""The web page end to end: a real `announcer serve` with the real espeak-ng, in Debian's headless Chromium.

Screenshots of each main page go to $ANNOUNCER_ARTIFACTS or test-artifacts/ (see tests/browser.py).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
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
