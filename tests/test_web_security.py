"""The page's guards: token login, CSRF, Host, upload size, language, and the refusal to listen openly."""

import asyncio
import html
import ipaddress
import logging
import os
import re
import stat
import time

import pytest
from fastapi.testclient import TestClient

from announcer.core.config import load_config
from announcer.web import Site, create_app
from announcer.web.security import Throttle, on_link_networks
from announcer.web.site import WebError, refuse_start

TOKEN = "morning-shift-2026"


def client(tmp_path, settings: str = "", host: str = "127.0.0.1", base: str = "http://127.0.0.1:8080"):
    config = tmp_path / "schedule.toml"
    config.write_text(settings, encoding="utf-8")
    c = TestClient(create_app(Site(config, tmp_path / "out", host=host)), base_url=base)
    c.app.state.site.guard.throttle.delay = 0.0         # the delay has a test of its own
    return c


def problems(answer) -> list[str]:
    return [html.unescape(p) for p in re.findall(r"<li>(.*?)</li>", answer.text)]


def log_in(c, token: str = TOKEN):
    return c.post("/login", data={"token": token, "csrf": csrf_of(c.get("/login").text)}, follow_redirects=False)


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
    from announcer.core.errors import ConfigError

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
    from announcer.core.errors import ui_language

    assert ui_language() == "zh"                       # nothing leaks out of the request


def test_changing_the_token_logs_everybody_out(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n')
    assert log_in(c).status_code == 303
    assert c.get("/log").status_code == 200
    (tmp_path / "schedule.toml").write_text('[web]\ntoken = "evening-shift-2027"\n', encoding="utf-8")
    assert c.get("/log", follow_redirects=False).headers["location"] == "/login"
    assert log_in(c, "evening-shift-2027").status_code == 303
    assert c.get("/log").status_code == 200


def test_the_cookies_are_lax_and_http_only(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n')
    session = c.get("/login").headers["set-cookie"]
    login = log_in(c).headers["set-cookie"]
    for cookie in (session, login):
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()


def test_wrong_tokens_lock_the_client_out_for_a_while(tmp_path):
    now = [1000.0]
    c = client(tmp_path, f'[station]\nlanguage = "en"\n[web]\ntoken = "{TOKEN}"\n')
    c.app.state.site.guard.throttle = Throttle(delay=0, clock=lambda: now[0])
    for _ in range(9):
        assert log_in(c, "guess-guess-guess").status_code == 401
    now[0] += 300
    assert log_in(c, "guess-guess-guess").status_code == 401      # the 10th within 10 minutes
    refused = log_in(c)                                             # even the right token now
    assert refused.status_code == 429 and 'id="login-locked"' in refused.text
    assert "Too many failed logins. For safety, try again in 10 minute(s)." in refused.text
    assert "announcer_login" not in refused.headers.get("set-cookie", "")
    now[0] += 599
    assert log_in(c).status_code == 429
    now[0] += 2
    assert log_in(c).status_code == 303


def test_the_lockout_message_is_in_chinese_too(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n')
    c.app.state.site.guard.throttle = Throttle(delay=0, limit=1)
    log_in(c, "guess-guess-guess")
    assert "登录失败的次数太多。为了安全，请 10 分钟后再试。" in log_in(c).text


def test_old_failures_and_a_good_login_are_forgotten():
    now = [0.0]
    throttle = Throttle(limit=3, window=60, lockout=60, clock=lambda: now[0])
    throttle.failed("10.0.0.5")
    throttle.failed("10.0.0.5")
    now[0] = 61                                   # both are out of the window
    throttle.failed("10.0.0.5")
    throttle.failed("10.0.0.5")
    assert throttle.refused("10.0.0.5") == 0
    throttle.succeeded("10.0.0.5")
    throttle.failed("10.0.0.5")
    throttle.failed("10.0.0.5")
    assert throttle.refused("10.0.0.5") == 0
    throttle.failed("10.0.0.5")
    assert throttle.refused("10.0.0.5") == 60
    assert throttle.refused("10.0.0.6") == 0      # another client may still try


def lock_out(throttle: Throttle, address: str, times: int = 10) -> None:
    for _ in range(times):
        throttle.failed(address)


@pytest.mark.parametrize("guesser, neighbour", [("fe80::1", "fe80::2"), ("fe80::1%eth0", "fe80::abcd:1%eth0"),
                                                ("2001:db8::1", "2001:db8::2"), ("fd00::5", "fd00::6")])
def test_an_ipv6_client_is_its_own_address_so_one_guesser_does_not_lock_out_the_lan(guesser, neighbour):
    throttle = Throttle(clock=lambda: 1000.0, local_networks=lambda: [ipaddress.IPv6Network("fd00::/64")])
    lock_out(throttle, guesser)
    assert throttle.refused(guesser) == 600
    assert throttle.refused(neighbour) == 0


def test_a_slash_64_beyond_this_machines_networks_is_locked_at_its_own_looser_limit():
    """Privacy addresses change within a device's /64: 100 failures there lock it, whatever the addresses."""
    throttle = Throttle(clock=lambda: 1000.0, local_networks=lambda: [ipaddress.IPv6Network("fd00::/64")])
    for n in range(1, 101):
        throttle.failed(f"fe80::{n:x}")                  # link-local: never grouped
        throttle.failed(f"fd00::{n:x}")                  # this machine's own network: never grouped
    for n in range(1, 100):
        throttle.failed(f"2001:db8::{n:x}")
    assert throttle.refused("2001:db8::ffff") == 0 and throttle.refused("2001:db8::1") == 0
    throttle.succeeded("2001:db8::1")                    # one address's success does not clear the /64's count
    throttle.failed("2001:db8::100")                     # the 100th
    assert throttle.refused("2001:db8::ffff") == 600 and throttle.refused("2001:db8::1") == 600
    assert throttle.refused("2001:db8:0:1::1") == 0      # the next /64
    assert throttle.refused("fe80::ffff") == 0 and throttle.refused("fd00::ffff") == 0


def test_ipv4_mapped_clients_are_their_ipv4_address_and_memory_is_bounded():
    throttle = Throttle(limit=2, local_networks=lambda: [])
    throttle.failed("::ffff:10.0.0.5")
    throttle.failed("10.0.0.5")
    assert throttle.refused("10.0.0.5") > 0 and throttle.refused("::ffff:10.0.0.5") > 0
    throttle = Throttle(limit=1, clients=5, local_networks=lambda: [])
    for n in range(20):
        throttle.failed(f"10.0.0.{n}")
        throttle.failed(f"2001:db8:{n:x}::1")
    assert len(throttle._locked) == 5 and len(throttle._failures) <= 5 and throttle.refused("2001:db8:13::1") > 0


def test_this_machines_own_ipv6_networks_come_from_proc(monkeypatch, tmp_path):
    table = tmp_path / "if_inet6"
    table.write_text("00000000000000000000000000000001 01 80 10 80       lo\n"
                     "20010db8000000010000000000000002 04 40 00 82     eth0\n"
                     "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n", encoding="ascii")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(
        table if path == "/proc/net/if_inet6" else path, *a, **k))
    assert on_link_networks() == [ipaddress.IPv6Network("2001:db8:0:1::/64")]
    assert Throttle().buckets("2001:db8:0:1::9") == [("2001:db8:0:1::9", 10)]
    assert Throttle().buckets("2001:db8:0:2::9") == [("2001:db8:0:2::9", 10), ("2001:db8:0:2::/64", 100)]


def test_a_locked_out_ipv6_neighbour_does_not_keep_the_others_from_logging_in(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n')
    app = c.app
    for _ in range(10):
        assert log_in(TestClient(app, base_url="http://127.0.0.1:8080", client=("fe80::1", 5000)),
                      "guess-guess-guess").status_code == 401
    assert log_in(TestClient(app, base_url="http://127.0.0.1:8080", client=("fe80::1", 5001))).status_code == 429
    assert log_in(TestClient(app, base_url="http://127.0.0.1:8080", client=("fe80::2", 5000))).status_code == 303


def test_a_wrong_token_costs_a_second_without_holding_up_other_requests(tmp_path):
    c = client(tmp_path, f'[web]\ntoken = "{TOKEN}"\n')
    c.app.state.site.guard.throttle.delay = 0.3
    started = time.monotonic()
    assert log_in(c, "guess-guess-guess").status_code == 401
    assert time.monotonic() - started >= 0.3
    from announcer.web import login

    assert asyncio.iscoroutinefunction(login.login)           # it awaits the delay: the loop goes on


def test_the_readme_example_token_is_refused(tmp_path):
    readme = (os.path.dirname(__file__) + "/../README.md")
    example = re.search(r'^\s*token = "([^"]+)"', open(readme, encoding="utf-8").read(), re.M).group(1)
    config = tmp_path / "schedule.toml"
    config.write_text(f'[web]\ntoken = "{example}"\n', encoding="utf-8")
    from announcer.core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "an example from the documentation" in caught.value.message("en")


@pytest.mark.parametrize("lang, path, status, words", [
    ("en", "/no-such-page", 404, "there is no such page; use the menu above to open the page you need"),
    ("zh", "/no-such-page", 404, "找不到这个页面。"),
    ("en", "/usb/plan", 405, "this address cannot be opened this way"),
    ("zh", "/notices/abc", 405, "这个地址不能这样打开。"),
    ("en", "/log?date=9999-12-31", 400, "9999-12-31 is out of range: choose a date from 2000-01-01 to 2099-12-31"),
    ("en", "/log.csv?date=0001-01-01", 400, "0001-01-01 is out of range"),
    ("zh", "/?date=1999-12-31", 400, "日期 1999-12-31 超出范围"),
])
def test_errors_are_a_page_in_the_pages_language(tmp_path, lang, path, status, words):
    c = client(tmp_path, f'[station]\nlanguage = "{lang}"\n')
    answer = c.get(path)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    assert any(words in p for p in problems(answer)), problems(answer)
    assert 'id="nav-today"' in answer.text
    wanted = c.get(path, headers={"accept": "application/json"})
    assert wanted.status_code == status and wanted.json()["ok"] is False and words in wanted.json()["errors"][0]


def test_a_field_of_the_wrong_kind_is_a_bilingual_422(tmp_path):
    c = client(tmp_path, '[station]\nlanguage = "en"\n')
    answer = c.post("/login", data={"csrf": csrf_of(c.get("/login").text)}, files={"token": ("t.txt", b"x")})
    assert answer.status_code == 422
    assert problems(answer) == ['"token" in the request is missing or not valid; reload the page and try again']


def test_an_unexpected_failure_is_one_line_and_its_traceback_goes_to_the_log(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("announcer"), "propagate", True)
    c = client(tmp_path)

    def broken():
        raise RuntimeError("disk on fire")

    c.app.add_api_route("/broken", broken)
    with caplog.at_level(logging.ERROR, logger="announcer.web"):
        answer = c.get("/broken")
    assert answer.status_code == 500
    assert problems(answer) == ["内部错误：页面出了问题，没能完成这一步。请记下时间并告诉维护人员；电台的日志里有详细信息。"]
    assert "disk on fire" not in answer.text and "Traceback" not in answer.text
    assert "disk on fire" in caplog.text and "GET /broken" in caplog.text
    c.cookies.set("lang", "en")
    assert c.get("/broken", headers={"accept": "application/json"}).json()["errors"] == [
        "internal error: the page failed to do this; please report it with the time (the server's log has the details)"]


def test_the_wrong_host_message_is_in_the_pages_language(tmp_path):
    c = client(tmp_path, base="http://attacker.example:8080")
    assert c.get("/log").text == "地址不对：请在本机用 http://127.0.0.1:8080 打开本页面。"
    c.cookies.set("lang", "en")
    assert c.get("/log").text == "wrong Host header; open the page as http://127.0.0.1:8080"


def test_a_pasted_text_over_a_megabyte_is_read_up_to_the_text_limit(tmp_path):
    """Starlette's own limit for a form field is 1 MB (with English JSON); the page's is 2 MB."""
    c = client(tmp_path, '[station]\nlanguage = "en"\n')
    c.get("/log")
    big = {"text": "x" * 1_200_000, "csrf": "0" * 64}
    answer = c.post("/notices", data=big, files={"file": ("", b"")})        # multipart, as the Today form
    assert answer.status_code == 403 and "reload the page and try again" in answer.text   # read, then refused
    big["text"] = "x" * 2_100_000                                            # held in memory: not more
    answer = c.post("/stop", data=big, files={"file": ("", b"")})
    assert answer.status_code == 413 and "at most 2 MB" in answer.text


def test_a_field_over_its_limit_on_a_small_form_is_a_bilingual_413(tmp_path):
    c = client(tmp_path)
    token = csrf_of(c.get("/login").text)
    answer = c.post("/login", data={"csrf": token, "token": "x" * 1_100_000}, files={"f": ("", b"")})
    assert answer.status_code == 413
    assert problems(answer) == ["上传的内容太大：最多 1 MB。请把文件缩小或拆开后再上传。"]


def test_the_settings_are_parsed_once_while_the_file_is_unchanged(tmp_path, monkeypatch):
    import announcer.web.site as site_module

    calls = []
    real = site_module.load_config
    monkeypatch.setattr(site_module, "load_config", lambda path: calls.append(path) or real(path))
    c = client(tmp_path, '[station]\nlanguage = "en"\n')
    config = tmp_path / "schedule.toml"
    settled = time.time() - 60
    os.utime(config, (settled, settled))
    calls.clear()
    c.get("/log")
    c.get("/log")
    assert len(calls) == 1
    config.write_text('[station]\nlanguage = "zh"\n', encoding="utf-8")   # just written: not trusted yet,
    assert "播放记录" in c.get("/log").text                                 # it may change within the same tick
    os.utime(config, (settled + 1, settled + 1))
    calls.clear()
    c.get("/log")
    c.get("/log")
    assert len(calls) == 1
    config.write_text('[station]\nlanguage = "xx"\n', encoding="utf-8")
    os.utime(config, (settled + 2, settled + 2))
    site = c.app.state.site
    from announcer.core.errors import ConfigError

    calls.clear()
    for _ in range(2):
        with pytest.raises(ConfigError) as caught:
            site.config()
        assert "station.language" in caught.value.message("en")
    assert len(calls) == 2          # a problem is read again: it may lie in another file (a missing chime)


def test_a_settings_problem_in_another_file_clears_once_that_file_is_there(tmp_path):
    c = client(tmp_path, '[station]\nlanguage = "en"\n[audio]\nchime = "ding.wav"\n')
    config = tmp_path / "schedule.toml"
    settled = time.time() - 60
    os.utime(config, (settled, settled))
    from announcer.core.errors import ConfigError

    with pytest.raises(ConfigError, match="ding.wav"):
        c.app.state.site.config()
    (tmp_path / "ding.wav").write_bytes(b"RIFF")          # what the message asked for; schedule.toml unchanged
    assert c.app.state.site.config().audio.chime == str(tmp_path / "ding.wav")
