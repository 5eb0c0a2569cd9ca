"""The station's control socket: its protocol, and the client the web page uses.

The station (`announcer run`) listens on the Unix socket `<out>/.station.sock`
(mode 0600, replaced when a crashed station left one, removed when it stops).
One request a connection, one JSON line each way:

    {"do": "play", "broadcast": "早间通知"}             that broadcast's clips now (its repeat, gap, volume)
    {"do": "play", "day": "2026-11-30", "clips": ["a"]}  those clips of the day, once
    {"do": "stop"}                                      stop what is on air, drop what waits
    {"do": "status"}                                    what is on air and what waits

    → {"ok": true, "message_zh": ..., "message_en": ..., ...}   or   {"ok": false, "zh": ..., "en": ...}

A play by hand cuts in like an urgent broadcast and is recorded in the play log
as "手动播放：<name>" ("manual: <name>"). Requests are checked before anything
plays (known broadcast, clips in the day's manifest, at most 64 KB, 5 s to
arrive). `.station.lock` is held by a running station; `.by-hand.lock` (shared)
by a page while it plays on its own player. The station's side is
announcer/station/control.py; the page's "play now" is announcer/station/by_hand.py.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from announcer.core.errors import AnnouncerError, shorten, ui_language

SOCKET = ".station.sock"
LOCK = ".station.lock"
BY_HAND = ".by-hand.lock"  # held (shared) by a page while it plays on its own player
HANDOVER_S = 0.5           # a page playing on its own looks for a station this often (seconds)
LIMIT = 64 * 1024          # largest request or answer, bytes
READ_S = 5.0               # a request must arrive within this
ANSWER_S = 10.0            # the client waits this long for the answer
CLIENTS = 8                # connections served at once
MAX_CLIPS = 100
MAX_NAME = 200
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELDS = {"play": {"do", "broadcast", "day", "clips"}, "stop": {"do"}, "status": {"do"}}


class ControlError(AnnouncerError):
    """A play-now or stop request that was refused, or a station that could not be reached."""


@dataclass(frozen=True)
class Reply:
    """What a request did, in both languages; `data` holds details (status: on_air, waiting, station)."""
    zh: str
    en: str
    data: dict = field(default_factory=dict)

    def message(self, language: str | None = None) -> str:
        return self.en if (language or ui_language()) == "en" else self.zh

    def __str__(self) -> str:
        return self.message()


# --- requests -----------------------------------------------------------------

def check_request(request: object) -> dict:
    """The request, checked for shape (the daemon checks names and clips against the schedule and the day)."""
    if not isinstance(request, dict):
        raise ControlError("请求格式不对（应为 JSON 对象）。", "the request is not a JSON object")
    do = request.get("do")
    if do not in _FIELDS:
        shown = shorten(str(do), 30)
        raise ControlError(f"不认识的请求“{shown}”（可以是 play、stop、status）。",
                           f"unknown request \"{shown}\" (play, stop or status)")
    extra = sorted(set(request) - _FIELDS[do])
    if extra:
        shown = shorten(", ".join(map(str, extra)), 40)
        raise ControlError(f"请求里有不认识的字段：{shown}。", f"unknown fields in the request: {shown}")
    if do != "play":
        return {"do": do}
    has_broadcast = request.get("broadcast") is not None
    has_clips = request.get("clips") is not None or request.get("day") is not None
    if has_broadcast == has_clips:
        raise ControlError("请指定要播放的广播，或者日期和段落（二选一）。",
                           "say which broadcast to play, or which day and clips (one of the two)")
    if has_broadcast:
        return {"do": "play", "broadcast": _text(request["broadcast"], "broadcast")}
    day = request.get("day")
    if not isinstance(day, str) or not _DAY.match(day):
        raise ControlError(f"“{shorten(str(day), 20)}”不是日期，请写成 2026-11-30 这样。",
                           f"\"{shorten(str(day), 20)}\" is not a date; write it like 2026-11-30")
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ControlError(f"“{day}”不是日期，请写成 2026-11-30 这样。",
                           f"\"{day}\" is not a date; write it like 2026-11-30") from None
    clips = request.get("clips")
    if not isinstance(clips, list) or not clips:
        raise ControlError("请选择要播放的段落。", "choose the clips to play")
    if len(clips) > MAX_CLIPS:
        raise ControlError(f"一次最多播放 {MAX_CLIPS} 段。", f"at most {MAX_CLIPS} clips at a time")
    return {"do": "play", "day": day, "clips": list(dict.fromkeys(_text(c, "clip") for c in clips))}


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME or \
            any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        zh = {"broadcast": "广播名称", "clip": "段落编号"}[what]
        raise ControlError(f"{zh}“{shorten(str(value), 30)}”不对。", f"not a valid {what} name: \"{shorten(str(value), 30)}\"")
    return value


class TooLarge(Exception):
    pass


def read_line(conn: socket.socket, deadline: float) -> bytes | None:
    """One line (without its newline) by `deadline`; None at once when the peer sent nothing and closed."""
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.settimeout(left)
        try:
            chunk = conn.recv(min(65536, LIMIT + 1 - len(data)))
        except socket.timeout:
            raise TimeoutError from None
        if not chunk:
            return data or None
        data += chunk
        if len(data) > LIMIT and b"\n" not in data[:LIMIT + 1]:
            raise TooLarge
    return data.split(b"\n", 1)[0]


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """A socket address for `path`: itself, or, when it is longer than AF_UNIX allows, the same file reached
    through /proc/self/fd and an open handle on its folder."""
    if len(os.fsencode(str(path))) < 100:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


# --- the client ---------------------------------------------------------------

def station_running(out: Path) -> bool:
    """Whether a station holds `<out>/.station.lock` (a shared probe: the station retries its lock briefly)."""
    return _held(Path(out) / LOCK, fcntl.LOCK_SH)


def playing_by_hand(out: Path) -> bool:
    """Whether a page plays on its own player at `out` right now (it holds `<out>/.by-hand.lock`)."""
    return _held(Path(out) / BY_HAND, fcntl.LOCK_EX)


def _held(path: Path, probe: int) -> bool:
    """Whether another process holds a lock on `path` that conflicts with `probe` (taken and let go at once)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, probe | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def hold_by_hand(out: Path) -> int | None:
    """Take `<out>/.by-hand.lock` shared (it waits only while a starting station looks); None when the folder
    cannot hold it."""
    try:
        fd = os.open(Path(out) / BY_HAND, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        os.close(fd)
        return None
    return fd


def let_go(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)


def ask(out: Path, request: dict, timeout: float = ANSWER_S) -> dict:
    """Send one request to the station at `out`; its answer (a dict with "ok"). ControlError when unreachable."""
    path = Path(out) / SOCKET
    data = json.dumps(request, ensure_ascii=False).encode("utf-8") + b"\n"
    if len(data) > LIMIT:
        raise ControlError(f"请求太大（最多 {LIMIT // 1024} KB）。", f"the request is too large (at most {LIMIT // 1024} KB)")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            with socket_address(path) as address:
                sock.connect(address)
            sock.sendall(data)
            line = read_line(sock, time.monotonic() + timeout)
    except (TimeoutError, TooLarge):
        raise _silent() from None
    except OSError as e:
        raise ControlError(f"电台正在运行，但连不上它（{e.strerror or e}）。请稍后再试，或重新启动电台。",
                           f"the station is running but cannot be reached ({e.strerror or e}); try again in a "
                           "moment, or restart the station") from None
    try:
        reply = json.loads(line or b"")
        if not isinstance(reply, dict) or "ok" not in reply:
            raise ValueError
    except ValueError:
        raise _silent() from None
    return reply


def _silent() -> ControlError:
    return ControlError("电台没有回应。请稍后再试，或重新启动电台。",
                        "the station did not answer; try again in a moment, or restart the station")


def reply_of(answer: dict) -> Reply:
    """A station's answer as a Reply, or the ControlError it reports."""
    if not answer.get("ok"):
        raise ControlError(str(answer.get("zh", "")), str(answer.get("en", "")))
    data = {k: v for k, v in answer.items() if k not in ("ok", "message_zh", "message_en")}
    return Reply(str(answer.get("message_zh", "")), str(answer.get("message_en", "")), data)


def nothing_playing() -> Reply:
    return Reply("现在没有在播放的广播。", "nothing is playing", {"stopped": False})


class StationClient:
    """Play now / stop / status through the running station only: what a page has when the command that
    serves it gave it no player of its own (announcer.station.by_hand.Controls)."""

    def __init__(self, out: Path):
        self.out = Path(out)

    def station_running(self) -> bool:
        return station_running(self.out)

    def play_broadcast(self, name: str) -> Reply:
        return self._send({"do": "play", "broadcast": name})

    def play_clips(self, day: date | str, clip_ids) -> Reply:
        day = day.isoformat() if isinstance(day, date) else day
        return self._send({"do": "play", "day": day, "clips": list(clip_ids)})

    def stop(self) -> Reply:
        if not self.station_running():
            return nothing_playing()
        return reply_of(ask(self.out, {"do": "stop"}))

    def status(self) -> Reply:
        if not self.station_running():
            reply = nothing_playing()
            return Reply(reply.zh, reply.en, {"on_air": None, "waiting": [], "station": False})
        reply = reply_of(ask(self.out, {"do": "status"}))
        return Reply(reply.zh, reply.en, {**reply.data, "station": True})

    def close(self) -> None:
        """Nothing to stop: this plays nothing itself."""

    def _send(self, request: dict) -> Reply:
        request = check_request(request)
        if not self.station_running():
            raise ControlError("电台没有在运行，网页没法播放。请先启动 announcer run。",
                               "the station is not running, so the page cannot play; start announcer run first")
        return reply_of(ask(self.out, request))
