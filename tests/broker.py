"""A real Mosquitto broker for the tests, set up by `announcer office init`, and a small MQTT client.

    from broker import Client, broker            # the fixture, in a test module (see tests/test_office.py)

    def test_x(broker):
        office = broker.client("office")          # logged in with the office's password
        station = broker.client("xingfuli")

`Broker.start()` runs `mosquitto -c <conf>` on a free loopback port and returns once it accepts
connections; `stop()` sends SIGTERM and waits (the broker saves its retained messages then), so
`restart()` keeps them. The broker's own log is in `<folder>/mosquitto.log`.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

SBIN = "/usr/sbin:/sbin"
MOSQUITTO = shutil.which("mosquitto", path=os.environ.get("PATH", "") + ":" + SBIN)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd", path=os.environ.get("PATH", "") + ":" + SBIN)
needs_mosquitto = pytest.mark.skipif(not (MOSQUITTO and MOSQUITTO_PASSWD),
                                     reason="Debian's mosquitto package is not installed (scripts/test installs it)")

# Three stations: two share the group "east".
DISTRICT = """\
[office]
broker = "mqtt://127.0.0.1:1883"

[[station]]
id = "xingfuli"
name = "幸福里社区"
groups = ["east"]

[[station]]
id = "hepingli"
name = "和平里社区"
groups = ["west"]

[[station]]
id = "yangguang"
name = "阳光社区"
groups = ["east"]
"""
TOPICS = "announcer/v1/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def office_init(folder: Path, district: str = DISTRICT, port: int = 1883) -> Path:
    """Run `announcer office init` (in this process) on `district`; the broker's folder."""
    from announcer.cli import main

    (folder / "district.toml").write_text(district, encoding="utf-8")
    out = folder / "broker"
    code = main(["office", "init", "--district", str(folder / "district.toml"), "--out", str(out),
                 "--port", str(port), "--bind", "127.0.0.1"])
    assert code == 0
    return out


class Broker:
    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.conf = folder / "mosquitto.conf"
        self.process: subprocess.Popen | None = None
        self.clients: list[Client] = []

    def password(self, user: str) -> str:
        path = self.folder / ("office.password" if user == "office" else f"stations/{user}.password")
        return path.read_text(encoding="utf-8").strip()

    def start(self, timeout: float = 5.0) -> None:
        log = open(self.folder / "mosquitto.log", "ab")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mosquitto exited ({self.process.returncode}):\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise AssertionError(f"mosquitto did not accept connections within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.folder / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, user: str | None, password: str | None = None, **options) -> "Client":
        """A client logged in as `user` (its own password unless given; None: anonymous), connected; closed with
        the broker fixture."""
        if user is not None and password is None:
            password = self.password(user)
        client = Client(self.port, user, password, **options)
        self.clients.append(client)
        client.connect()
        return client


def start_broker(folder: Path, district: str = DISTRICT) -> Broker:
    """office init into `folder`/broker on a free port, and the broker started."""
    port = free_port()
    broker = Broker(office_init(folder, district, port), port)
    broker.start()
    return broker


@pytest.fixture
def broker(tmp_path):
    """A running broker for DISTRICT's three stations; stopped (and its clients closed) after the test."""
    if not (MOSQUITTO and MOSQUITTO_PASSWD):
        pytest.skip("Debian's mosquitto package is not installed (scripts/test installs it)")
    running = start_broker(tmp_path)
    yield running
    for client in running.clients:
        client.close()
    running.stop()


class Client:
    """paho-mqtt with waiting made simple: connect, subscribe and publish return when the broker answered."""

    def __init__(self, port: int, user: str | None, password: str | None, *, v5: bool = False,
                 client_id: str | None = None):
        import paho.mqtt.client as mqtt

        self.port = port
        self.messages: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.reason = None                       # the CONNACK's reason code
        self._done: dict[int, object] = {}       # mid → reason code(s) of its PUBACK / SUBACK
        self._answered = threading.Condition()
        self.mqtt = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"{user}-{id(self)}",
                                protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        if user is not None:                     # None: no login at all
            self.mqtt.username_pw_set(user, password)
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_message = lambda client, userdata, message: self.messages.put(message)
        self.mqtt.on_publish = lambda client, userdata, mid, reason, properties: self._answer(mid, reason)
        self.mqtt.on_subscribe = lambda client, userdata, mid, reasons, properties: self._answer(mid, reasons)

    def _on_connect(self, client, userdata, flags, reason, properties):
        self.reason = reason
        self.connected.set()

    def _answer(self, mid, reason):
        with self._answered:
            self._done[mid] = reason
            self._answered.notify_all()

    def _wait(self, mid: int, timeout: float = 5.0):
        with self._answered:
            if not self._answered.wait_for(lambda: mid in self._done, timeout):
                raise AssertionError(f"the broker did not answer message {mid} within {timeout} s")
            return self._done.pop(mid)

    def connect(self, timeout: float = 5.0):
        """Connect and wait for the broker's answer; its reason code (check `.is_failure`)."""
        self.mqtt.connect("127.0.0.1", self.port, keepalive=30)
        deadline = time.monotonic() + timeout
        while not self.connected.is_set():      # here, not in paho's thread: a refused one would retry there
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer from the broker within {timeout} s")
            self.mqtt.loop(timeout=0.05)
        if not self.reason.is_failure:
            self.mqtt.loop_start()
        return self.reason

    def subscribe(self, *topics: str, qos: int = 1) -> list:
        """Subscribe and wait for SUBACK; the reason code of each topic."""
        result, mid = self.mqtt.subscribe([(topic, qos) for topic in topics])
        assert result == 0, result
        return self._wait(mid)

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False):
        """Publish and, at QoS 1, wait for PUBACK; its reason code (MQTT v5 says when the ACL refused it)."""
        info = self.mqtt.publish(topic, payload, qos=qos, retain=retain)
        assert info.rc == 0, info.rc
        return self._wait(info.mid)

    def next(self, timeout: float = 5.0):
        """The next message received (topic, payload, retain); AssertionError when none comes in time."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s") from None

    def received_until(self, marker: bytes, timeout: float = 5.0) -> list:
        """Messages received up to and including the first with the payload `marker` (something sent last: what
        the broker would have forwarded before it has arrived by then)."""
        got = []
        while True:
            got.append(self.next(timeout))
            if got[-1].payload == marker:
                return got

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()
