"""POST /play, POST /stop and GET /status, with a stand-in for announcer.station.by_hand.Controls."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from announcer.core.control import ControlError, Reply
from announcer.web import Site, create_app
from announcer.web.site import flash_of


class FakeControls:
    def __init__(self):
        self.calls = []
        self.running = False

    def station_running(self):
        return self.running

    def play_broadcast(self, name):
        self.calls.append(("broadcast", name))
        if name != "morning":
            raise ControlError(f"没有「{name}」", f"there is no broadcast called \"{name}\" in the schedule")
        return Reply("正在播放「morning」（2 段）。", 'playing "morning" now (2 clip(s))')

    def play_clips(self, day, clips):
        self.calls.append(("clips", day, list(clips)))
        unknown = [c for c in clips if c not in ("a", "b")]
        if unknown:
            raise ControlError(f"{day} 的音频里没有 {unknown[0]}。", f"{unknown[0]}: not among {day}'s clips")
        return Reply("正在播放。", f"playing \"{', '.join(clips)}\" now")

    def stop(self):
        self.calls.append(("stop",))
        return Reply("现在没有在播放的广播。", "nothing is playing")

    def status(self):
        return Reply("正在播放「morning」。", 'on air: "morning"',
                     {"station": self.running, "on_air": {"name": "morning", "clip": "a"}, "waiting": []})


@pytest.fixture
def page(tmp_path):
    config = tmp_path / "schedule.toml"
    config.write_text('[station]\nlanguage = "en"\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    controls = FakeControls()
    site = Site(config, tmp_path / "out", controls=controls,
                clock=lambda: datetime(2026, 11, 30, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
    client = TestClient(create_app(site), base_url="http://127.0.0.1:8080")
    client.controls = controls
    client.csrf = csrf(client)
    return client


def csrf(client) -> str:
    """The session's CSRF token, as a page gives it (the session cookie comes with the first answer)."""
    answer = client.get("/login")
    return re.search(r'name="csrf" value="([0-9a-f]+)"', answer.text).group(1)


def flash(answer) -> tuple[str, str]:
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    return query["flash"][0], query["flash_kind"][0]


def test_play_a_broadcast_from_a_form_goes_back_to_the_page_with_a_flash(page):
    answer = page.post("/play", data={"csrf": page.csrf, "broadcast": "morning"},
                       headers={"referer": "http://127.0.0.1:8080/schedule?date=2026-11-30&flash=old"},
                       follow_redirects=False)
    assert answer.status_code == 303
    assert urlsplit(answer.headers["location"]).path == "/schedule"
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["date"] == ["2026-11-30"] and query["flash"] == ['playing "morning" now (2 clip(s))']
    assert page.controls.calls == [("broadcast", "morning")]


def test_play_clips_of_a_day(page):
    answer = page.post("/play", data={"csrf": page.csrf, "date": "2026-11-29", "clip": ["a", "b"]},
                       follow_redirects=False)
    assert answer.status_code == 303 and urlsplit(answer.headers["location"]).path == "/"
    assert flash(answer) == ('playing "a, b" now', "ok")
    assert page.controls.calls == [("clips", date(2026, 11, 29), ["a", "b"])]


def test_play_clips_without_a_date_plays_todays(page):
    page.post("/play", data={"csrf": page.csrf, "clip": "a"}, follow_redirects=False)
    assert page.controls.calls == [("clips", date(2026, 11, 30), ["a"])]


def test_a_referer_elsewhere_goes_back_to_the_start_page(page):
    for referer in ("http://evil.example/x", "//evil.example/x", "javascript:alert(1)", "/\\evil"):
        answer = page.post("/stop", data={"csrf": page.csrf}, headers={"referer": referer}, follow_redirects=False)
        assert urlsplit(answer.headers["location"]).path == "/", referer


def test_json_requests_get_json(page):
    headers = {"x-csrf-token": page.csrf, "accept": "application/json"}
    answer = page.post("/play", json={"broadcast": "morning"}, headers=headers)
    assert answer.json() == {"ok": True, "message": 'playing "morning" now (2 clip(s))'}
    answer = page.post("/play", json={"date": "2026-11-30", "clips": ["zzz"]}, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["ok"] is False and answer.json()["message"] == "zzz: not among 2026-11-30's clips"
    answer = page.post("/stop", headers=headers)
    assert answer.json() == {"ok": True, "message": "nothing is playing"}
    answer = page.post("/play", data={"broadcast": "morning"}, headers={"x-csrf-token": page.csrf,
                                                                      "x-requested-with": "fetch"})
    assert answer.json()["ok"] is True                       # a form sent by postJSON


def test_status_is_json(page):
    page.controls.running = True
    answer = page.get("/status")
    assert answer.json() == {"ok": True, "running": True, "message": 'on air: "morning"',
                             "on_air": {"name": "morning", "clip": "a"}, "waiting": []}


def test_without_the_csrf_token_nothing_plays(page):
    assert page.post("/play", data={"broadcast": "morning"}).status_code == 403
    assert page.post("/play", json={"broadcast": "morning"}).status_code == 403
    assert page.post("/stop", data={"csrf": "0" * 64}).status_code == 403
    assert page.controls.calls == []


@pytest.mark.parametrize("data, message", [
    ({"date": "2026-13-40", "clip": "a"}, '"2026-13-40" is not a date; write it like 2026-11-30'),
    ({"date": "../../etc/passwd", "clip": "a"}, '"../../etc/passwd" is not a date'),
    ({}, "choose a broadcast to play, or clips to play (one of the two)"),
    ({"broadcast": "morning", "clip": "a"}, "choose a broadcast to play, or clips to play (one of the two)"),
])
def test_a_bad_request_is_refused_with_400(page, data, message):
    answer = page.post("/play", data={"csrf": page.csrf, **data})
    assert answer.status_code == 400 and message in html.unescape(answer.text)
    assert page.controls.calls == []


def test_a_bad_json_body_is_refused(page):
    headers = {"x-csrf-token": page.csrf, "accept": "application/json", "content-type": "application/json"}
    assert page.post("/play", content=b"[1, 2]", headers=headers).status_code == 400
    assert page.post("/play", content=b"{nope", headers=headers).status_code == 400
    assert page.post("/play", json={"clips": [1]}, headers=headers).status_code == 400
    big = page.post("/play", json={"broadcast": "x" * 70_000}, headers=headers)
    assert big.status_code == 413
    assert page.controls.calls == []


def test_an_unknown_clip_or_broadcast_is_shown_on_the_error_page(page):
    answer = page.post("/play", data={"csrf": page.csrf, "date": "2026-11-30", "clip": "zzz"})
    assert answer.status_code == 400
    assert "Something went wrong" in answer.text and "zzz: not among 2026-11-30's clips" in html.unescape(answer.text)
    answer = page.post("/play", data={"csrf": page.csrf, "broadcast": "evening"})
    assert answer.status_code == 400 and 'there is no broadcast called "evening"' in html.unescape(answer.text)


def test_a_flash_is_shown_only_when_signed_for_this_session(page):
    answer = page.post("/stop", data={"csrf": page.csrf}, follow_redirects=False)
    location = answer.headers["location"]
    app = page.app

    def request_for(url, session):
        from starlette.requests import Request

        scope = {"type": "http", "method": "GET", "path": urlsplit(url).path, "app": app, "headers": [],
                 "query_string": urlsplit(url).query.encode(), "state": {"session": session}}
        return Request(scope)

    session = page.cookies.get("announcer_session")
    assert flash_of(request_for(location, session)) == {"flash": "nothing is playing", "flash_kind": "ok"}
    assert flash_of(request_for(location, "another-session-another-session")) == {}
    forged = location.replace("nothing", "everything")
    assert flash_of(request_for(forged, session)) == {}


def test_a_page_without_controls_still_stops_and_answers_status(tmp_path):
    config = tmp_path / "schedule.toml"
    config.write_text('[station]\nlanguage = "en"\n', encoding="utf-8")
    client = TestClient(create_app(Site(config, tmp_path / "out")), base_url="http://127.0.0.1:8080")
    token = csrf(client)
    answer = client.post("/stop", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 303 and flash(answer) == ("nothing is playing", "ok")
    assert client.get("/status").json() == {"ok": True, "running": False, "message": "nothing is playing",
                                            "on_air": None, "waiting": []}


@pytest.mark.parametrize("referer, back", [
    ("/usb/plan", "/usb"), ("/usb/export", "/usb"), ("/schedule/add", "/schedule"), ("/play", "/"),
    ("/notices", "/"), ("/notices/water-off?date=2026-11-29", "/?date=2026-11-29"),
    ("/log?date=2026-11-20&x=1", "/log?date=2026-11-20"), ("/log?date=../../etc", "/log"),
    ("/recordings", "/recordings"), ("/static/app.css", "/"),
])
def test_stop_goes_back_to_a_page_never_to_a_post_only_address(page, referer, back):
    answer = page.post("/stop", data={"csrf": page.csrf}, headers={"referer": f"http://127.0.0.1:8080{referer}"},
                       follow_redirects=False)
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert location.path + (f"?date={query['date'][0]}" if "date" in query else "") == back
    assert sorted(query) == sorted(["flash", "flash_kind", "flash_sig"] + (["date"] if "date" in query else []))


@pytest.mark.parametrize("post, fields, back", [
    ("/usb/plan", {"date": "2026-11-30"}, "/usb"),
    ("/usb/export", {"date": "2026-11-30"}, "/usb"),
    ("/schedule/add", {"new_name": "", "new_at": ""}, "/schedule"),
    ("/notices", {"date": "2026-11-29", "text": ""}, "/?date=2026-11-29"),
])
def test_stop_and_the_language_switch_on_a_page_that_answered_a_post_end_on_a_page(page, post, fields, back):
    shown = page.post(post, data={"csrf": page.csrf, **fields})
    assert f'name="back" value="{back}"' in shown.text
    switch = html.unescape(re.search(r'id="lang-switch" href="([^"]*)"', shown.text).group(1))
    landed = page.get(switch)                                   # to Chinese
    assert landed.status_code == 200 and landed.headers["content-type"].startswith("text/html")
    assert urlsplit(str(landed.url)).path == urlsplit(back).path and 'lang="zh-CN"' in landed.text
    stopped = page.post("/stop", data={"csrf": page.csrf, "back": back},
                        headers={"referer": f"http://127.0.0.1:8080{post}"})
    assert stopped.status_code == 200 and stopped.headers["content-type"].startswith("text/html")
    assert "现在没有在播放的广播。" in stopped.text
    assert urlsplit(str(stopped.url)).path == urlsplit(back).path


def test_the_stop_forms_back_field_keeps_to_this_sites_pages(page):
    for back, path in (("//evil.example/x", "/"), ("http://evil.example/", "/"), ("/usb/plan", "/usb"),
                       ("/log?date=2026-11-20", "/log"), ("javascript:alert(1)", "/")):
        answer = page.post("/stop", data={"csrf": page.csrf, "back": back}, follow_redirects=False)
        assert urlsplit(answer.headers["location"]).path == path, back


def test_the_language_switch_keeps_the_day(page):
    shown = page.get("/log?date=2026-11-20")
    switch = html.unescape(re.search(r'id="lang-switch" href="([^"]*)"', shown.text).group(1))
    assert page.get(switch, follow_redirects=False).headers["location"] == "/log?date=2026-11-20"


@pytest.mark.parametrize("where", ["/schedule", "/log", "/usb", "/recordings", "/"])
def test_play_now_and_stop_say_what_happened_on_every_page(page, where):
    answer = page.post("/play", data={"csrf": page.csrf, "broadcast": "morning"},
                       headers={"referer": f"http://127.0.0.1:8080{where}"})
    assert answer.status_code == 200 and urlsplit(str(answer.url)).path == where
    assert html.unescape(answer.text).count('playing "morning" now (2 clip(s))') == 1
    assert re.search(r'<p class="flash ok" role="status">playing &#34;morning&#34; now', answer.text)
    answer = page.post("/stop", data={"csrf": page.csrf, "back": where})
    assert html.unescape(answer.text).count("nothing is playing") == 1


def test_a_pages_own_message_is_shown_instead_of_a_flash_in_the_address(page):
    stopped = page.post("/stop", data={"csrf": page.csrf, "back": "/schedule"}, follow_redirects=False)
    address = stopped.headers["location"] + "&saved=1"
    shown = html.unescape(page.get(address).text)
    assert "saved; the running station picks it up" in shown and "nothing is playing" not in shown


# --- quiet hours, asking first, titles -------------------------------------------------------------------

QUIET = '[station]\nlanguage = "en"\ntimezone = "Asia/Shanghai"\nquiet_hours = { from = "21:30", to = "07:00" }\n'


def page_at(tmp_path, hour: int, minute: int = 0) -> TestClient:
    config = tmp_path / "schedule.toml"
    config.write_text(QUIET + '\n[[broadcast]]\nname = "morning"\nat = ["08:00"]\n', encoding="utf-8")
    controls = FakeControls()
    site = Site(config, tmp_path / "out", controls=controls,
                clock=lambda: datetime(2026, 11, 30, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")))
    client = TestClient(create_app(site), base_url="http://127.0.0.1:8080")
    client.cookies.set("lang", "en")
    client.controls = controls
    client.csrf = csrf(client)
    return client


def publish(out, clips=(("a", "停水通知"), ("b", "停电通知")), day: date = date(2026, 11, 30)) -> None:
    from announcer.core.library import Library

    source = out.parent / "src"
    source.mkdir(parents=True, exist_ok=True)
    files = []
    for clip_id, _ in clips:
        (source / f"{clip_id}.wav").write_bytes(b"RIFF")
        files.append((f"{clip_id}.wav", source / f"{clip_id}.wav"))
    Library(out).publish(day, files, {"date": day.isoformat(), "clips": [
        {"id": clip_id, "title": title, "file": f"{clip_id}.wav", "duration_s": 1.0} for clip_id, title in clips]})


QUIET_SAID = ("it is quiet hours (21:30–07:00), so nothing was played: the loudspeaker would disturb residents. "
              "To play anyway, press Play again and confirm")


def test_in_quiet_hours_a_form_play_is_refused_until_confirmed(tmp_path):
    page = page_at(tmp_path, 23, 15)
    answer = page.post("/play", data={"csrf": page.csrf, "broadcast": "morning", "back": "/schedule"},
                       follow_redirects=False)
    assert answer.status_code == 303 and urlsplit(answer.headers["location"]).path == "/schedule"
    assert flash(answer) == (QUIET_SAID, "warn")
    assert page.controls.calls == []
    answer = page.post("/play", data={"csrf": page.csrf, "broadcast": "morning", "quiet_ok": "1"},
                       follow_redirects=False)
    assert answer.status_code == 303 and flash(answer) == ('playing "morning" now (2 clip(s))', "ok")
    assert page.controls.calls == [("broadcast", "morning")]


def test_in_quiet_hours_a_json_play_is_refused_until_confirmed(tmp_path):
    page = page_at(tmp_path, 6, 59)
    headers = {"x-csrf-token": page.csrf, "accept": "application/json"}
    answer = page.post("/play", json={"date": "2026-11-30", "clips": ["a"]}, headers=headers)
    assert answer.status_code == 409
    assert answer.json() == {"ok": False, "quiet": True, "message": QUIET_SAID, "errors": [QUIET_SAID]}
    assert page.post("/play", json={"date": "2026-11-30", "clips": ["a"], "quiet_ok": False},
                     headers=headers).status_code == 409
    assert page.controls.calls == []
    answer = page.post("/play", json={"date": "2026-11-30", "clips": ["a"], "quiet_ok": True}, headers=headers)
    assert answer.status_code == 200 and answer.json()["ok"] is True
    assert page.controls.calls == [("clips", date(2026, 11, 30), ["a"])]


def test_the_quiet_refusal_reads_in_chinese(tmp_path):
    page = page_at(tmp_path, 22)
    page.cookies.set("lang", "zh")
    answer = page.post("/play", json={"broadcast": "morning"}, headers={"x-csrf-token": page.csrf,
                                                                       "accept": "application/json"})
    assert answer.json()["message"] == ("现在是静音时段（21:30–07:00），没有播放：喇叭会打扰居民休息。"
                                        "如果确实要播放，请再点一次“播放”，在确认框里点“确定”。")


def test_outside_quiet_hours_nothing_more_is_asked_and_a_bad_date_still_comes_first(tmp_path):
    page = page_at(tmp_path, 7, 0)                 # `to` is not in the quiet hours
    answer = page.post("/play", data={"csrf": page.csrf, "broadcast": "morning"}, follow_redirects=False)
    assert answer.status_code == 303 and page.controls.calls == [("broadcast", "morning")]
    page = page_at(tmp_path, 23)
    answer = page.post("/play", data={"csrf": page.csrf, "date": "2026-02-30", "clip": "a"})
    assert answer.status_code == 400 and page.controls.calls == []


def play_forms(text: str) -> list[dict]:
    """Each play form of a page: its hidden fields and its button's data-confirm."""
    forms = []
    for form in re.findall(r'<form method="post" action="/play".*?</form>', text, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
        confirm = re.search(r'data-confirm="([^"]*)"', form)
        forms.append({"fields": fields, "confirm": html.unescape(confirm.group(1)) if confirm else None,
                      "button": re.search(r'<button[^>]*class="([^"]*)"', form).group(1)})
    return forms


def test_the_today_page_asks_before_playing_on_the_loudspeaker(tmp_path):
    page = page_at(tmp_path, 9)
    publish(tmp_path / "out")
    forms = play_forms(page.get("/?date=2026-11-30").text)
    assert [f["button"] for f in forms] == ["play-clip quiet", "play-clip quiet"]
    # the question names the clip by the title the row shows
    assert [f["confirm"] for f in forms] == ["Play “停水通知” on the loudspeaker now?",
                                             "Play “停电通知” on the loudspeaker now?"]
    for form in forms:
        assert set(form["fields"]) == {"csrf", "date", "clip"}
    [schedule] = play_forms(page.get("/schedule").text)
    assert schedule["confirm"] == "Play “morning” on the loudspeaker now?" and "quiet_ok" not in schedule["fields"]


def test_a_page_rendered_in_quiet_hours_says_so_when_it_asks_and_then_plays(tmp_path):
    page = page_at(tmp_path, 23, 30)
    publish(tmp_path / "out")
    text = page.get("/?date=2026-11-30", headers={"referer": "http://127.0.0.1:8080/"}).text
    form = play_forms(text)[0]
    assert form["confirm"] == ("Play “停水通知” on the loudspeaker now?\n\nNote: it is quiet hours now (21:30–07:00); "
                               "the loudspeaker will disturb residents. Play anyway?")
    assert form["fields"]["quiet_ok"] == "1"
    answer = page.post("/play", data=form["fields"], follow_redirects=False)     # after the confirm
    assert answer.status_code == 303 and page.controls.calls == [("clips", date(2026, 11, 30), ["a"])]
    page.cookies.set("lang", "zh")
    [schedule] = play_forms(page.get("/schedule").text)
    assert schedule["confirm"] == "现在就在喇叭上播放“morning”吗？\n\n注意：现在是静音时段（21:30–07:00），喇叭会打扰居民休息。仍然要播放吗？"


def test_a_manual_play_names_the_clips_by_title(tmp_path):
    page = page_at(tmp_path, 9)
    publish(tmp_path / "out")
    answer = page.post("/play", data={"csrf": page.csrf, "date": "2026-11-30", "clip": ["a", "b"]},
                       follow_redirects=False)
    assert flash(answer) == ('playing "停水通知, 停电通知" now', "ok")
    headers = {"x-csrf-token": page.csrf, "accept": "application/json"}
    assert page.post("/play", json={"date": "2026-11-30", "clips": ["a", "b"]},
                     headers=headers).json()["message"] == 'playing "停水通知, 停电通知" now'


def on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_the_titles_and_the_quiet_hours_are_read_off_the_event_loop(tmp_path, monkeypatch):
    """Reading the day's manifest and schedule.toml may wait on the disk: never on the loop serving every page."""
    from announcer.core.library import Library
    from announcer.web import controls as controls_module

    page = page_at(tmp_path, 9)
    publish(tmp_path / "out")
    seen = []

    class Watched(Library):
        def day(self, day):
            seen.append(("manifest", on_the_event_loop()))
            return super().day(day)

    monkeypatch.setattr(controls_module, "Library", Watched)
    site = page.app.state.site
    real_config = site.config
    monkeypatch.setattr(site, "config", lambda: seen.append(("config", on_the_event_loop())) or real_config())
    answer = page.post("/play", data={"csrf": page.csrf, "date": "2026-11-30", "clip": ["a", "b"]},
                       follow_redirects=False)
    assert flash(answer) == ('playing "停水通知, 停电通知" now', "ok")
    assert ("manifest", False) in seen and ("config", False) in seen
    assert all(not on_loop for what, on_loop in seen if what == "manifest"), seen


def test_the_station_s_own_answer_names_the_clip_by_title(tmp_path):
    """The real answer (announcer.station.daemon) through the page's own player."""
    from announcer.station.by_hand import Controls

    page = page_at(tmp_path, 9)
    publish(tmp_path / "out")
    page.app.state.site.controls = Controls(tmp_path / "out", page.app.state.site.config, player="null")
    page.cookies.set("lang", "zh")
    try:
        answer = page.post("/play", data={"csrf": page.csrf, "date": "2026-11-30", "clip": "a"},
                           follow_redirects=False)
        assert flash(answer)[0] == "正在播放「停水通知」（1 段）。"
    finally:
        page.app.state.site.controls.close()
