"""`announcer serve` and `announcer run --web` as real processes, on ports the system picks (--port 0)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import wave
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest

from announcer.core.control import SOCKET
from announcer.core.library import Library
from announcer.core.playlog import PlayLog

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
       "ANNOUNCER_LANG": "en"}
TOKEN = "morning-shift-2026"
ZONE = ZoneInfo("Asia/Shanghai")
SETTINGS = """[station]
timezone = "Asia/Shanghai"
language = "en"
player = "null"

[[broadcast]]
name = "morning"
date = "2099-01-01 08:00"
gap = "0s"
"""


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "announcer", *args, "--config", str(tmp_path / "schedule.toml"),
                             "--out", str(tmp_path / "out")], cwd=tmp_path, env=ENV, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def url_in(stream, process, pattern=r"page at (http://\S+/)") -> str:
    """The page's address, from the line the command prints when it is ready."""
    seen = []
    for line in stream:
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found.group(1)
    process.kill()
    raise AssertionError("no address printed:\n" + "".join(seen) + process.stderr.read())


def stop(process: subprocess.Popen, how=signal.SIGINT) -> tuple[int, str]:
    process.send_signal(how)
    try:
        _, err = process.communicate(timeout=15)
    finally:
        process.kill()
    return process.returncode, err


@pytest.fixture
def settings(tmp_path) -> Path:
    path = tmp_path / "schedule.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    return path


def test_serve_answers_and_ctrl_c_stops_it_cleanly(tmp_path, settings):
    process = start(tmp_path, "serve", "--port", "0")
    try:
        first = process.stdout.readline()
        assert re.fullmatch(r"page at http://127\.0\.0\.1:\d+/ \(Ctrl-C stops\)\n", first), first
        url = re.search(r"http://\S+/", first).group(0)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/").status_code < 500
            assert client.get("/status").json() == {"ok": True, "running": False, "message": "nothing is playing",
                                                    "on_air": None, "waiting": []}
    finally:
        code, err = stop(process)
    assert code == 0 and "Traceback" not in err, err


def test_serve_on_the_network_needs_a_token(tmp_path, settings):
    result = subprocess.run([sys.executable, "-m", "announcer", "serve", "--host", "0.0.0.0", "--port", "0"],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: schedule.toml: to open the page to other devices on 0.0.0.0, set a token")

    settings.write_text(SETTINGS + f'\n[web]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    process = start(tmp_path, "serve", "--host", "0.0.0.0", "--port", "0")
    try:
        url = url_in(process.stdout, process)
        assert "0.0.0.0" not in url                     # an address a phone can open
        port = url.rsplit(":", 1)[1].rstrip("/")
        answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login")
        url_in(process.stdout, process, r"(each browser asks once for the token under \[web\] in schedule.toml)")
    finally:
        code, err = stop(process, signal.SIGTERM)
    assert code == 0, err


def test_listening_everywhere_shows_this_computers_addresses(monkeypatch):
    from announcer.web import server

    assert server.page_urls("127.0.0.1", 8080) == ["http://127.0.0.1:8080/"]
    assert server.page_urls("::1", 8080) == ["http://[::1]:8080/"]
    assert server.page_urls("192.168.1.20", 80) == ["http://192.168.1.20:80/"]
    monkeypatch.setattr(server, "lan_addresses", lambda: ["192.168.1.20", "10.8.0.3"])
    assert server.page_urls("0.0.0.0", 8080) == ["http://192.168.1.20:8080/", "http://10.8.0.3:8080/"]
    assert server.page_urls("::", 8080)[0] == "http://192.168.1.20:8080/"
    monkeypatch.setattr(server, "lan_addresses", lambda: [])
    assert server.page_urls("0.0.0.0", 8080) == ["http://127.0.0.1:8080/"]


def test_lan_addresses_are_usable_ipv4_addresses():
    import ipaddress

    from announcer.web.server import lan_addresses

    found = lan_addresses()
    assert len(found) == len(set(found))
    for address in found:
        ip = ipaddress.ip_address(address)
        assert ip.version == 4 and not ip.is_loopback and not ip.is_unspecified


def test_a_port_in_use_is_one_line(tmp_path, settings):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "announcer", "serve", "--port", str(port)],
                                cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == (f"error: port {port} is already in use (perhaps the page is already running); "
                             "choose another with --port\n")


def wav(path: Path, seconds: float = 0.05) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))


def test_run_web_plays_a_broadcast_pressed_on_the_page(tmp_path, settings):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("01-a.wav", "02-b.wav"):
        wav(source / name)
    today = datetime.now(ZONE).date()
    for day in (today, today + timedelta(days=1)):         # a test that runs over midnight finds its day too
        Library(tmp_path / "out").publish(day, [(n, source / n) for n in ("01-a.wav", "02-b.wav")], {
            "date": day.isoformat(), "clips": [{"id": "a", "file": "01-a.wav", "duration_s": 0.05},
                                               {"id": "b", "file": "02-b.wav", "duration_s": 0.05}]})
    process = start(tmp_path, "run", "--web", "--port", "0")
    try:
        url = url_in(process.stderr, process)
        with httpx.Client(base_url=url, timeout=10) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
            assert client.get("/status").json()["running"] is True
            answer = client.post("/play", data={"csrf": token, "broadcast": "morning"})
            assert answer.status_code == 303
            assert httpx.URL(answer.headers["location"]).params["flash"] == 'playing "morning" now (2 clip(s))'

            assert client.post("/play", data={"broadcast": "morning"}).status_code == 403
            log = PlayLog(tmp_path / "out")
            deadline = time.monotonic() + 10
            while not [r for r in log.records() if r.result == "played"] and time.monotonic() < deadline:
                time.sleep(0.05)
        assert (tmp_path / "out" / SOCKET).exists()
    finally:
        code, err = stop(process, signal.SIGTERM)
    assert code == 0 and "Traceback" not in err, err
    [record] = log.records()
    assert (record.broadcast, record.result, record.clips) == ("manual: morning", "played", ("a", "b"))
    assert not (tmp_path / "out" / SOCKET).exists()
    assert "station stopped" in err


def test_run_web_on_the_network_needs_a_token_before_anything_starts(tmp_path, settings):
    result = subprocess.run([sys.executable, "-m", "announcer", "run", "--web", "--host", "0.0.0.0"],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert "set a token" in result.stderr
    assert not (tmp_path / "audio_out").exists()
