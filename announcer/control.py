"""Play now and stop, by hand: the running station's control socket, and the client the web page uses.

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
arrive); each connection has a short-lived thread, at most 8 at once, so no
client can hold up the station.

`Controls` is what the page calls: through the socket when a station runs (its
`.station.lock` is held), else on a play queue of its own with the configured
player, so "play now" works without a station too. While that queue has
something on air or waiting, the page holds `.by-hand.lock` (shared). The page
looks for a station every half second; when one has started it stops its own
playback (two players must not sound at once), records why and lets go. A
starting station waits for that (up to 3 s) before it plays anything, and
leaves the page's "playing" records for the page to end.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from announcer.errors import AnnouncerError, shorten, tr, ui_language

log = logging.getLogger("announcer.station")

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


def carry_out(daemon, request: object) -> Reply:
    """Do a request on `daemon` (announcer.station.Daemon); ControlError/AnnouncerError when refused."""
    request = check_request(request)
    if request["do"] == "stop":
        return daemon.stop_by_hand()
    if request["do"] == "status":
        return daemon.status()
    if "broadcast" in request:
        return daemon.play_broadcast(request["broadcast"])
    return daemon.play_clips(date.fromisoformat(request["day"]), tuple(request["clips"]))


def answer(daemon, request: object) -> dict:
    """The JSON answer to a request."""
    try:
        reply = carry_out(daemon, request)
    except AnnouncerError as e:
        return {"ok": False, "zh": e.message("zh"), "en": e.message("en")}
    except Exception as e:          # a bug must not take the station down: report it to the client
        log.error(f"internal error (control): {type(e).__name__}: {e}", exc_info=bool(os.environ.get("ANNOUNCER_DEBUG")))
        return {"ok": False, "zh": f"内部错误：{type(e).__name__}: {e}", "en": f"internal error: {type(e).__name__}: {e}"}
    return {**reply.data, "ok": True, "message_zh": reply.zh, "message_en": reply.en}


# --- the station's side -------------------------------------------------------

class ControlServer:
    """The station's control socket: accepts in a thread of its own, one short-lived thread a connection."""

    def __init__(self, daemon, out: Path, clients: int = CLIENTS, read_s: float = READ_S):
        self.daemon = daemon
        self.path = Path(out) / SOCKET
        self.read_s = read_s
        self._slots = threading.BoundedSemaphore(clients)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None
        self._inode: int | None = None

    def start(self) -> None:
        """Listen; a socket file left by a crashed station is replaced (the caller holds the station lock)."""
        temp = self.path.with_name(f"{SOCKET}.{os.getpid()}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            temp.unlink(missing_ok=True)
            with _address(temp) as address:
                sock.bind(address)
            os.chmod(temp, 0o600)               # before listen: nobody can connect until it is private
            sock.listen(16)
            os.replace(temp, self.path)
            self._inode = os.stat(self.path).st_ino
        except OSError as e:
            sock.close()
            with contextlib.suppress(OSError):
                temp.unlink()
            raise ControlError(f"无法打开电台的控制接口 {self.path}（{e.strerror or e}）",
                               f"cannot open the station's control socket {self.path} ({e.strerror or e})") from None
        self._sock = sock
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._accept, name="announcer-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and remove the socket file (when it is still ours)."""
        if self._thread is None:
            return
        os.write(self._wake[1], b"x")
        self._thread.join(5)
        self._sock.close()
        for fd in self._wake:
            os.close(fd)
        self._thread = None
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake[0], selectors.EVENT_READ)
            while True:
                events = selector.select()
                if any(key.fileobj == self._wake[0] for key, _ in events):
                    return
                try:
                    conn, _ = self._sock.accept()
                except OSError:
                    continue
                if not self._slots.acquire(blocking=False):     # too many at once: this one is turned away
                    conn.close()
                    continue
                threading.Thread(target=self._serve, args=(conn,), name="announcer-control-client",
                                 daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                try:
                    line = _read_line(conn, time.monotonic() + self.read_s)
                except _TooLarge:
                    reply = {"ok": False, "zh": f"请求太大（最多 {LIMIT // 1024} KB）。",
                             "en": f"the request is too large (at most {LIMIT // 1024} KB)"}
                except (TimeoutError, OSError):
                    return
                else:
                    if line is None:                       # connected and left (a probe)
                        return
                    try:
                        request = json.loads(line)
                    except ValueError:
                        reply = {"ok": False, "zh": "请求不是有效的 JSON。", "en": "the request is not valid JSON"}
                    else:
                        reply = answer(self.daemon, request)
                conn.settimeout(self.read_s)
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")
        finally:
            self._slots.release()


class _TooLarge(Exception):
    pass


def _read_line(conn: socket.socket, deadline: float) -> bytes | None:
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
            raise _TooLarge
    return data.split(b"\n", 1)[0]


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
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


def _hold_by_hand(out: Path) -> int | None:
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


def _let_go(fd: int | None) -> None:
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
            with _address(path) as address:
                sock.connect(address)
            sock.sendall(data)
            line = _read_line(sock, time.monotonic() + timeout)
    except (TimeoutError, _TooLarge):
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


def _reply(answer: dict) -> Reply:
    """A station's answer as a Reply, or the ControlError it reports."""
    if not answer.get("ok"):
        raise ControlError(str(answer.get("zh", "")), str(answer.get("en", "")))
    data = {k: v for k, v in answer.items() if k not in ("ok", "message_zh", "message_en")}
    return Reply(str(answer.get("message_zh", "")), str(answer.get("message_en", "")), data)


class Controls:
    """Play now / stop for the web page: through the running station, else on a play queue of its own.

    `config` is called for the current settings on each request (schedule.toml may change). Without a
    station, plays go through one queue (one at a time, recorded in the play log like the station's),
    made on the first request and closed once it is idle, or when a station starts; `close` stops it.
    """

    def __init__(self, out: Path, config: Callable[[], object], player: str | None = None, *,
                 get_player: Callable[..., object] | None = None, clock: Callable[[], object] | None = None,
                 watch_s: float = HANDOVER_S):
        self.out = Path(out)
        self._config = config
        self._player = player
        self._get_player = get_player
        self._clock = clock
        self._watch_s = watch_s
        self._local = None                   # the local daemon, while it plays
        self._held: int | None = None        # its hold on .by-hand.lock
        self._quit: threading.Event | None = None
        self._lock = threading.Lock()

    def station_running(self) -> bool:
        return station_running(self.out)

    def play_broadcast(self, name: str) -> Reply:
        return self._send({"do": "play", "broadcast": name})

    def play_clips(self, day: date | str, clip_ids) -> Reply:
        day = day.isoformat() if isinstance(day, date) else day
        return self._send({"do": "play", "day": day, "clips": list(clip_ids)})

    def stop(self) -> Reply:
        """Stop what plays here and at the station."""
        replies = []
        local = self._local
        if local is not None:
            replies.append(carry_out(local, {"do": "stop"}))
        if self.station_running():
            replies.append(_reply(ask(self.out, {"do": "stop"})))
        if not replies:
            return _nothing_playing()
        return next((r for r in replies if r.data.get("stopped")), replies[-1])

    def status(self) -> Reply:
        if self.station_running():
            self._close(handover=True)
            reply = _reply(ask(self.out, {"do": "status"}))
            return Reply(reply.zh, reply.en, {**reply.data, "station": True})
        local = self._local
        if local is None:
            reply = _nothing_playing()
            return Reply(reply.zh, reply.en, {"on_air": None, "waiting": [], "station": False})
        reply = carry_out(local, {"do": "status"})
        return Reply(reply.zh, reply.en, {**reply.data, "station": False})

    def close(self) -> None:
        """Stop the local queue (what plays on it is recorded as cut off)."""
        self._close(handover=False)

    def _send(self, request: dict) -> Reply:
        request = check_request(request)
        if not self.station_running():
            config = self._config()
            with self._lock:
                local = self._here(config)
                if local is not None:
                    return carry_out(local, request)
        self._close(handover=True)
        return _reply(ask(self.out, request))

    def _here(self, config):
        """(With self._lock.) The local daemon (never started: it plays only what is asked, no schedule), with
        today's settings; None when a station runs after all."""
        if self._local is None:
            held = _hold_by_hand(self.out)
            if station_running(self.out):        # looked at again while holding: a station starting now sees us
                _let_go(held)
                return None
            from announcer.station import Daemon

            try:
                local = Daemon(config, self.out, player=self._player, clock=self._clock, get_player=self._get_player)
            except BaseException:
                _let_go(held)
                raise
            local.queue.start()
            self._local, self._held, self._quit = local, held, threading.Event()
            threading.Thread(target=self._watch, args=(local, self._quit), name="announcer-page-queue",
                             daemon=True).start()
        elif station_running(self.out):
            return None
        else:
            self._local.use_config(config)
        return self._local

    def _watch(self, local, quit: threading.Event) -> None:
        """While the local daemon lives: a station that starts takes over; idle, it is closed (and lets go
        of .by-hand.lock)."""
        while not quit.wait(self._watch_s):
            if station_running(self.out):
                self._close(handover=True)
                return
            with self._lock:
                if self._local is not local:
                    return
                if local.queue.busy():
                    continue
                self._local, held, self._held = None, self._held, None
            local.stop()
            _let_go(held)
            return

    def _close(self, handover: bool) -> None:
        """Close the local daemon; with `handover` (a station has started) what plays here stops first and is
        recorded with that reason, so two players never sound at once."""
        with self._lock:
            local, self._local = self._local, None
            held, self._held = self._held, None
            quit, self._quit = self._quit, None
        if local is None:
            return
        quit.set()
        if handover:
            if local.queue.busy():
                log.warning(tr("电台开始运行了：网页停止自己的播放，由电台接着播放",
                               "a station has started: the page stops its own playback; the station plays from now on"))
            local.queue.stop_all(tr("电台开始运行，由电台接着播放", "a station started; it plays from now on"))
        local.stop()
        _let_go(held)


def _nothing_playing() -> Reply:
    return Reply("现在没有在播放的广播。", "nothing is playing", {"stopped": False})
