"""The station's side of the control socket (the protocol: announcer/core/control.py).

Each connection has a short-lived thread, at most 8 at once, so no client can
hold up the station.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import socket
import threading
import time
from datetime import date
from pathlib import Path

from announcer.core.control import (CLIENTS, LIMIT, READ_S, SOCKET, ControlError, Reply, TooLarge, check_request,
                                    read_line, socket_address)
from announcer.core.errors import AnnouncerError

log = logging.getLogger("announcer.station")


def carry_out(daemon, request: object) -> Reply:
    """Do a request on `daemon` (announcer.station.daemon.Daemon); ControlError/AnnouncerError when refused."""
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
            with socket_address(temp) as address:
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
                    line = read_line(conn, time.monotonic() + self.read_s)
                except TooLarge:
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
