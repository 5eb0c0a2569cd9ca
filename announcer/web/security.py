"""What keeps the page safe: who may use it, which requests may change things, how big an upload may be.

- Sessions: a random id in an HttpOnly, SameSite=Lax cookie.
- Login: with a [web] token set, every page but /login and /static needs the
  session to have shown the token (required when listening beyond 127.0.0.1).
  The login mark is bound to the token: a new token logs everybody out. Each
  failed login costs a second, and 10 failures in 10 minutes lock that address
  out for 10 minutes. An IPv6 address from beyond this machine's own networks
  also counts for its /64 (a device's privacy addresses change within it),
  which 100 failures lock; on the LAN (and link-local) only the address counts,
  so one person cannot lock everybody else out.
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
    `limit` failures within `window` seconds refuse the client for `lockout` seconds. An IPv6 client from
    beyond this machine's networks is also its /64, which `prefix_limit` failures lock."""

    def __init__(self, delay: float = 1.0, limit: int = 10, window: float = 600, lockout: float = 600,
                 clock=time.monotonic, clients: int = 1000, prefix_limit: int | None = None,
                 local_networks=None):
        self.delay, self.limit, self.window, self.lockout = delay, limit, window, lockout
        self.prefix_limit = prefix_limit or 10 * limit
        self.clock = clock
        self.clients = clients                     # at most this many remembered, oldest forgotten first
        self.local_networks = local_networks or on_link_networks
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    def buckets(self, address: str | None) -> list[tuple[str, int]]:
        """Where a client's failures count, each with its limit: its address, and for an IPv6 address that is
        neither link-local nor on one of this machine's networks, its /64 as well."""
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return [(address or "?", self.limit)]
        if isinstance(ip, ipaddress.IPv4Address):
            return [(str(ip), self.limit)]
        if ip.ipv4_mapped is not None:
            return [(str(ip.ipv4_mapped), self.limit)]
        own = [(str(ip), self.limit)]
        if ip.is_link_local or ip.is_loopback:
            return own
        bare = ipaddress.IPv6Address(int(ip))                        # without a %scope
        if any(bare in network for network in self.local_networks()):
            return own
        return own + [(str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64))), self.prefix_limit)]

    def refused(self, address: str | None) -> float:
        """Seconds the client is still locked out for; 0 when it may try."""
        buckets, now = self.buckets(address), self.clock()
        wait = 0.0
        with self._lock:
            for bucket, _ in buckets:
                until = self._locked.get(bucket, 0.0)
                if until <= now:
                    self._locked.pop(bucket, None)
                else:
                    wait = max(wait, until - now)
        return wait

    def failed(self, address: str | None) -> None:
        buckets, now = self.buckets(address), self.clock()
        with self._lock:
            for bucket, limit in buckets:
                times = [t for t in self._failures.pop(bucket, []) if now - t < self.window] + [now]
                if len(times) >= limit:
                    self._locked[bucket] = now + self.lockout
                else:
                    self._failures[bucket] = times
            for table in (self._failures, self._locked):
                while len(table) > self.clients:
                    del table[next(iter(table))]

    def succeeded(self, address: str | None) -> None:
        """The address starts afresh (its /64 keeps counting the others' failures)."""
        with self._lock:
            self._failures.pop(self.buckets(address)[0][0], None)


def on_link_networks() -> list[ipaddress.IPv6Network]:
    """This machine's own IPv6 networks (global and unique-local), from /proc/net/if_inet6; none elsewhere."""
    networks = []
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                try:
                    ip = ipaddress.IPv6Address(int(fields[0], 16))
                    length = int(fields[2], 16)
                    if not (ip.is_link_local or ip.is_loopback) and 0 < length <= 128:
                        networks.append(ipaddress.IPv6Network((int(ip), length), strict=False))
                except ValueError:
                    continue
    except OSError:
        pass
    return networks


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
