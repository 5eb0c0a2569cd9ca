"""Serving the page: `announcer serve`, and the page thread of `announcer run --web`.

uvicorn runs in a thread of its own, on a socket bound beforehand (so a port in
use is one clear line, before anything starts). In a thread uvicorn installs no
signal handlers: SIGINT and SIGTERM are blocked and taken with sigwait by the
main thread, as in the station, which then stops the page.
"""

from __future__ import annotations

import errno
import ipaddress
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from announcer.core.config import Config
from announcer.core.errors import tr
from announcer.web.app import create_app
from announcer.web.site import Site, WebError, refuse_start

STOP_S = 3          # open requests get this long to finish when the page stops


class WebServer:
    """The page on host:port. The port is taken when this is made; `start` serves it, `stop` ends it."""

    def __init__(self, site: Site, host: str, port: int):
        import uvicorn

        self.site = site
        self.sock = listen(host, port)
        self.port = self.sock.getsockname()[1]
        site.port = self.port
        self.urls = page_urls(host, self.port)      # what another device opens; the first is the likeliest
        self.url = self.urls[0]
        config = uvicorn.Config(create_app(site), host=host, port=self.port, log_level="warning",
                                timeout_graceful_shutdown=STOP_S, server_header=False)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name="announcer-web", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """End the page (open requests get STOP_S seconds); safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_S + 2)
        self.sock.close()
        if self.site.controls is not None:
            self.site.controls.close()


def page_urls(host: str, port: int) -> list[str]:
    """The addresses to open the page at. Listening on every address (0.0.0.0, ::), those are this computer's
    network addresses (a phone cannot open 0.0.0.0); 127.0.0.1 when it has none."""
    if host not in ("0.0.0.0", "::", ""):
        shown = f"[{host}]" if ":" in host else host
        return [f"http://{shown}:{port}/"]
    return [f"http://{address}:{port}/" for address in lan_addresses() or ["127.0.0.1"]]


def lan_addresses() -> list[str]:
    """This computer's IPv4 addresses other than loopback, the one its default route uses first. Nothing is
    sent: a UDP connect only picks a route, and the rest are read from the network interfaces."""
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))          # TEST-NET-1: never reached, nothing is sent
            found.append(probe.getsockname()[0])
        except OSError:
            pass                                      # no route: no network, or not Linux-like
        try:
            import fcntl

            for _, name in socket.if_nameindex():
                request = struct.pack("256s", name.encode()[:15])
                try:
                    answer = fcntl.ioctl(probe.fileno(), 0x8915, request)   # SIOCGIFADDR
                except OSError:
                    continue                          # an interface without an IPv4 address
                found.append(socket.inet_ntoa(answer[20:24]))
        except (ImportError, OSError, AttributeError):
            pass
    usable = []
    for address in found:
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local) and address not in usable:
            usable.append(address)
    return usable


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; WebError (one line) when that is not possible."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise WebError(f"无法识别地址“{host}”；请检查 --host。", f"unknown address \"{host}\"; check --host") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise WebError(f"端口 {port} 已被占用（也许网页已经在运行）；请用 --port 换一个端口。",
                           f"port {port} is already in use (perhaps the page is already running); "
                           "choose another with --port") from None
        if e.errno == errno.EACCES:
            raise WebError(f"没有权限使用端口 {port}；请用 1024 以上的端口，例如 --port 8080。",
                           f"not allowed to use port {port}; use one above 1024, e.g. --port 8080") from None
        if e.errno == errno.EADDRNOTAVAIL:
            raise WebError(f"这台电脑没有地址 {host}；请检查 --host。",
                           f"this computer has no address {host}; check --host") from None
        raise WebError(f"无法在 {host}:{port} 上打开网页（{e.strerror or e}）。",
                       f"cannot open the page on {host}:{port} ({e.strerror or e})") from None
    sock.set_inheritable(False)
    return sock


def open_page(config: Config, out: Path, host: str, port: int, controls: Callable[[Site], object],
              district: Path | None = None, broker_dir: Path | None = None) -> WebServer:
    """The page on its port (bound now, served once started). `controls(site)` makes its play now / stop
    (announcer.station.by_hand.Controls: through the running station, or without one on this process's
    own player); the command that serves the page chooses it. `district`, `broker_dir`: the office's district.toml
    and broker folder, for the District page (None: no District page)."""
    out = Path(out)
    site = Site(config.path, out, host=host, port=port, district=district, broker_dir=broker_dir)
    site.controls = controls(site)
    return WebServer(site, host, port)


def serve(config: Config, out: Path, controls: Callable[[Site], object], host: str = "127.0.0.1",
          port: int = 8080, district: Path | None = None, broker_dir: Path | None = None) -> int:
    """`announcer serve`: the page until Ctrl-C or SIGTERM (0); `controls` as for open_page."""
    from announcer.core.logs import log_to_stderr
    from announcer.core.plan import station_zone

    refuse_start(host, config)
    log_to_stderr(station_zone(config.station))          # plays made here are logged like the station's
    stops = {signal.SIGINT, signal.SIGTERM}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)   # before any thread starts: they inherit it
    try:
        page = open_page(config, out, host, port, controls, district, broker_dir)
        try:
            page.start()
            print(tr(f"网页：{page.url}（按 Ctrl-C 停止）", f"page at {page.url} (Ctrl-C stops)"), flush=True)
            for url in page.urls[1:]:
                print(tr(f"也可以用：{url}", f"also at {url}"), flush=True)
            if config.web.token:
                print(tr("每个浏览器第一次打开时要输入 schedule.toml 里 [web] 的 token。",
                         "each browser asks once for the token under [web] in schedule.toml"), flush=True)
            signalled = False
            while page.alive() and not signalled:
                signalled = signal.sigtimedwait(stops, 0.5) is not None
        finally:
            page.stop()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if not signalled:
        print(tr("错误：网页意外停止了。", "error: the page stopped unexpectedly"), file=sys.stderr)
        return 3
    return 0
