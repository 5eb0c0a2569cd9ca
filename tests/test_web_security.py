"""The page's guards: token login, CSRF, Host, upload size, language, and the refusal to listen openly."""

import re
import stat

import pytest
from fastapi.testclient import TestClient

from announcer.config import load_config
from announcer.web import Site, create_app
from announcer.web.site import WebError, refuse_start

TOKEN = "morning-shift-2026"


def client(tmp_path, settings: str = "", host: str = "127.0.0.1", base: str = "http://127.0.0.1:8080"):
    config = tmp_path / "schedule.toml"
    config.write_text(settings, encoding="utf-8")
    return TestClient(create_app(Site(config, tmp_path / "out", host=host)), base_url=base)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def test_with_a_token_every_page_asks_for_the_login_first(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n')
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    assert c.get("/schedule", follow_redirects=False).status_code == 303
    assert c.get("/status", headers={"accept": "application/json"}).status_code == 401
    assert c.get("/static/app.css").status_code == 200      # the login page needs its style
    login = c.get("/login")
    wrong = c.post("/login", data={"token": "guess-guess-guess", "csrf": csrf_of(login.text)})
    assert wrong.status_code == 401 and "Wrong token" not in wrong.text    # station language zh by default
    assert "口令不对" in wrong.text
    right = c.post("/login", data={"token": TOKEN, "csrf": csrf_of(login.text)}, follow_redirects=False)
    assert (right.status_code, right.headers["location"]) == (303, "/")
    assert c.get("/log").status_code == 200


def test_a_login_cookie_from_another_session_does_not_open_the_page(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n')
    login = c.get("/login")
    c.post("/login", data={"token": TOKEN, "csrf": csrf_of(login.text)})
    mark = c.cookies.get("announcer_login")
    other = TestClient(c.app, base_url="http://127.0.0.1:8080")
    other.cookies.set("announcer_login", mark)
    assert other.get("/", follow_redirects=False).status_code == 303


def test_without_a_token_on_loopback_the_page_is_open(tmp_path):
    assert client(tmp_path).get("/log").status_code == 200


def test_posts_need_the_sessions_csrf_token(tmp_path):
    c = client(tmp_path, '[station]\nlanguage = "en"\n')
    page = c.get("/log")
    assert c.post("/stop").status_code == 403
    refused = c.post("/stop", data={"csrf": "0" * 64})
    assert refused.status_code == 403 and "reload the page and try again" in refused.text
    other = TestClient(c.app, base_url="http://127.0.0.1:8080")    # another session's token
    other.get("/log")
    assert other.post("/stop", data={"csrf": csrf_of(page.text)}).status_code == 403


def test_a_post_from_another_site_is_refused_even_with_the_token(tmp_path):
    c = client(tmp_path)
    token = csrf_of(c.get("/log").text)
    answer = c.post("/stop", data={"csrf": token}, headers={"origin": "http://evil.example"})
    assert answer.status_code == 403


def test_on_loopback_only_localhost_names_are_answered(tmp_path):
    assert client(tmp_path, base="http://attacker.example:8080").get("/log").status_code == 400
    assert client(tmp_path, base="http://localhost:8080").get("/log").status_code == 200


def test_an_upload_over_the_limit_is_refused_before_it_is_read(tmp_path):
    c = client(tmp_path, '[station]\nlanguage = "en"\n[web]\nupload_limit = 1\n')
    token = csrf_of(c.get("/log").text)
    answer = c.post("/notices", data={"csrf": token}, files={"file": ("n.txt", b"x" * 1_100_000)})
    assert answer.status_code == 413
    assert answer.text == "the upload is too big: at most 1 MB; make the file smaller or split it"


def test_language_follows_the_station_then_the_switch(tmp_path):
    c = client(tmp_path)
    assert "今日通知" in c.get("/log").text
    switched = c.get("/lang?to=en&back=/log", follow_redirects=False)
    assert switched.headers["location"] == "/log"
    assert "Today" in c.get("/log").text
    assert c.get("/lang?to=en&back=//evil.example/x", follow_redirects=False).headers["location"] == "/"


def test_listening_beyond_this_computer_needs_a_token(tmp_path):
    config = tmp_path / "schedule.toml"
    config.write_text("", encoding="utf-8")
    with pytest.raises(WebError) as caught:
        refuse_start("0.0.0.0", load_config(config))
    assert caught.value.message("en").startswith(f"{config}: to open the page to other devices on 0.0.0.0, set a token")
    refuse_start("127.0.0.1", load_config(config))
    refuse_start("::1", load_config(config))
    config.write_text(f'[web]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    refuse_start("0.0.0.0", load_config(config))


def test_removing_the_token_from_the_file_does_not_open_a_running_page(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n', host="0.0.0.0", base="http://192.168.1.20:8080")
    assert c.get("/", follow_redirects=False).status_code == 303
    (tmp_path / "schedule.toml").write_text("", encoding="utf-8")
    assert c.get("/", follow_redirects=False).status_code == 303


def test_the_signing_key_is_private_and_survives_a_restart(tmp_path):
    first = client(tmp_path)
    first.get("/log")
    secret = tmp_path / "out" / ".web-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    again = TestClient(create_app(Site(tmp_path / "schedule.toml", tmp_path / "out")), base_url="http://127.0.0.1:8080")
    again.cookies.update(first.cookies)
    token = csrf_of(first.get("/log").text)
    assert again.post("/stop", data={"csrf": token}).status_code != 403


def test_token_in_settings_is_checked(tmp_path):
    config = tmp_path / "schedule.toml"
    config.write_text('[web]\ntoken = "short"\n', encoding="utf-8")
    from announcer.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value) == (f"{config}:2 web.token: the token is too short or too easy to guess: "
                                 "write at least 12 characters, letters and digits")


def test_messages_made_for_a_request_are_in_the_pages_language(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")       # the server's own language
    c = client(tmp_path)
    c.cookies.set("lang", "en")
    token = csrf_of(c.get("/").text)
    c.post("/notices", data={"csrf": token, "text": "# 长通知\n" + "这是一个很长的通知。" * 40, "date": "2026-11-30"})
    page = c.get("/?date=2026-11-30").text
    assert "too long: about" in page and "太长" not in page
    from announcer.errors import ui_language

    assert ui_language() == "zh"                       # nothing leaks out of the request
