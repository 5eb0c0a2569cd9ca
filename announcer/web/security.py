"""What keeps the page safe: who may use it, which requests may change things, how big an upload may be.

- Sessions: a random id in an HttpOnly, SameSite=Lax cookie.
- Login: with a [web] token set, every page but /login and /static needs the
  session to have shown the token (required when listening beyond 127.0.0.1).
  The login mark is bound to the token: a new token logs everybody out. Each
  failed login costs a second, and 10 failures in 10 minutes lock that client
  (IPv4 address, IPv6 /64) out for 10 minutes.
- CSRF: every POST carries a token derived from the session (form field `csrf`
  or header X-CSRF-Token), and a foreign Origin is refused.
- Host: on a loopback address only localhost names are accepted (DNS rebinding).
- Body size: a request body larger than the upload limit is refused before it is read.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
import time
from pathlib import Path

from starlette.requests import Request

SESSION_COOKIE = "announcer_session"
LOGIN_COOKIE = "announcer_login"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_secret(out: Path) -> bytes:
    """The key that signs sessions, kept in `<out>/.web-secret` (mode 0600) so a restart keeps people logged in."""
    path = Path(out) / ".web-secret"
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    data = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".web-secret.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except OSError:
        pass   # an unwritable folder: sessions last until the server stops
    return data


class Throttle:
    """Failed logins per client: each failure costs `delay` seconds (the route sleeps without blocking), and
    `limit` failures within `window` seconds refuse the client for `lockout` seconds."""

    def __init__(self, delay: float = 1.0, limit: int = 10, window: float = 600, lockout: float = 600,
                 clock=time.monotonic, clients: int = 1000):
        self.delay, self.limit, self.window, self.lockout = delay, limit, window, lockout
        self.clock = clock
        self.clients = clients                     # at most this many remembered, oldest forgotten first
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(address: str | None) -> str:
        """One client: an IPv4 address, or an IPv6 /64 (one household or phone has a whole /64)."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return address or "?"
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def refused(self, address: str | None) -> float:
        """Seconds the client is still locked out for; 0 when it may try."""
        client, now = self.key(address), self.clock()
        with self._lock:
            until = self._locked.get(client, 0.0)
            if until <= now:
                self._locked.pop(client, None)
                return 0.0
            return until - now

    def failed(self, address: str | None) -> None:
        client, now = self.key(address), self.clock()
        with self._lock:
            times = [t for t in self._failures.pop(client, []) if now - t < self.window] + [now]
            if len(times) >= self.limit:
                self._locked[client] = now + self.lockout
            else:
                self._failures[client] = times
            for table in (self._failures, self._locked):
                while len(table) > self.clients:
                    del table[next(iter(table))]

    def succeeded(self, address: str | None) -> None:
        with self._lock:
            self._failures.pop(self.key(address), None)


class Guard:
    def __init__(self, secret: bytes, token: str | None, throttle: Throttle | None = None):
        self.secret = secret
        self.token = token
        self.throttle = throttle or Throttle()

    def _sign(self, purpose: str, session: str) -> str:
        return hmac.new(self.secret, f"{purpose}:{session}".encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, session: str) -> str:
        return self._sign("csrf", session)

    def csrf_ok(self, session: str, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(self.csrf_token(session), offered)

    def login_mark(self, session: str) -> str:
        """Bound to the session and to the token: changing the token logs every browser out."""
        token = hashlib.sha256((self.token or "").encode()).hexdigest()
        return self._sign("login", f"{session}:{token}")

    def logged_in(self, session: str, mark: str | None) -> bool:
        if self.token is None:
            return True
        return bool(mark) and hmac.compare_digest(self.login_mark(session), mark)

    def token_ok(self, offered: str) -> bool:
        return self.token is not None and hmac.compare_digest(self.token.encode(), offered.strip().encode())


def same_origin(request: Request) -> bool:
    """A browser names the page a POST came from in Origin; it must be this site."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


def host_allowed(request: Request, bound: str) -> bool:
    """On a loopback bind, only localhost names: a web page elsewhere cannot reach us through DNS rebinding."""
    if not is_loopback(bound):
        return True
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_NAMES
