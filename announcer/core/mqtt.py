"""A small wrapper around paho-mqtt: connect and wait for the broker's answer, publish at QoS 1 and wait for its
acknowledgement, subscribe and read what arrives. Every failure is one BrokerError that names the broker and
says what to do (wrong password, broker not running, TLS problem). paho is imported inside the functions, so
commands that never talk to a broker don't load it.

    connection = connect(Login("127.0.0.1", 1883, username="office", password=...))
    connection.publish("announcer/v1/day/all", data, retain=True)
    connection.close()
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from announcer.core.errors import AnnouncerError, shorten

SESSION_EXPIRY = 90 * 24 * 3600   # seconds a kept session outlives its client's connection
CONNECT_TIMEOUT = 5.0      # seconds for the broker to answer a connection
ACK_TIMEOUT = 10.0         # seconds for the broker to acknowledge a message or a subscription


class BrokerError(AnnouncerError):
    """The MQTT broker cannot be reached, refused the login, or did not acknowledge a message."""


@dataclass(frozen=True)
class Login:
    """Where the broker is and how to log in."""
    host: str
    port: int
    tls: bool = False
    ca_file: Path | None = None          # TLS: the CA that signed the broker's certificate (None: the system's)
    cert_file: Path | None = None        # TLS: a client certificate instead of (or as well as) a password
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    client_id: str = ""                  # "" : one made up by paho
    keep_session: bool = False           # with a client_id: the broker keeps the subscriptions, and queues QoS 1
                                         # messages, while this client is away (for SESSION_EXPIRY seconds)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


@dataclass(frozen=True)
class Message:
    """A message received: its topic, payload and whether the broker kept it (retained)."""
    topic: str
    payload: bytes
    retain: bool


def connect(login: Login, *, timeout: float = CONNECT_TIMEOUT, login_hint: tuple[str, str] | None = None,
            will: tuple[str, bytes, bool] | None = None) -> "Connection":
    """A connection to the broker, once it has accepted the login (MQTT 5). `login_hint` (zh, en) says what to do
    when the password is refused; `will` is (topic, payload, retain), sent at QoS 1 if the connection is lost."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=login.client_id, protocol=mqtt.MQTTv5)
    connection = Connection(client, login)
    if login.username is not None:
        client.username_pw_set(login.username, login.password)
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=will[2])
    if login.tls:
        _use_tls(client, login)
    client.connect_timeout = timeout
    where = login.address
    try:
        if login.keep_session and login.client_id:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY
            client.connect(login.host, login.port, keepalive=30, clean_start=False, properties=properties)
        else:
            client.connect(login.host, login.port, keepalive=30)
    except ssl.SSLError as error:             # before OSError: it is one
        raise _tls_error(login, error) from None
    except socket.gaierror:
        raise BrokerError(f"找不到服务器 {where}：这个地址不存在；请检查 district.toml 或 schedule.toml 里的 broker",
                          f"cannot find the broker {where}: no such address; check broker in district.toml or "
                          "schedule.toml") from None
    except (TimeoutError, socket.timeout):
        raise _no_answer(where, timeout) from None
    except (ConnectionResetError, ConnectionAbortedError) as error:
        if login.tls:        # the broker hung up on the handshake: this port speaks no TLS
            raise _tls_error(login, error) from None
        raise _unreachable(where, error) from None
    except OSError as error:
        raise _unreachable(where, error) from None
    deadline = time.monotonic() + timeout
    try:
        while connection.answer is None:           # in this thread: paho's own would keep retrying a refusal
            if time.monotonic() > deadline:
                raise _no_answer(where, timeout)
            looped = client.loop(timeout=0.05)
            if connection.answer is None and looped not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
                raise BrokerError(f"服务器 {where} 断开了连接，没有回应登录；请检查它的日志",
                                  f"the broker {where} closed the connection without answering the login; check "
                                  "its log")
    except ssl.SSLError as error:
        _quietly_close(client)
        raise _tls_error(login, error) from None
    except BrokerError:
        _quietly_close(client)
        raise
    reason = connection.answer
    if reason.is_failure:
        _quietly_close(client)
        name = reason.getName()
        if name in ("Bad user name or password", "Not authorized"):
            user = login.username or "—"
            zh, en = login_hint or ("请检查用户名和密码", "check the user name and password")
            raise BrokerError(f"服务器 {where} 拒绝了用户 {user} 的登录（用户名或密码不对）：{zh}",
                              f"the broker {where} refused the login of user {user} (wrong user name or "
                              f"password): {en}")
        raise BrokerError(f"服务器 {where} 拒绝了连接（{name}）；请检查它的日志",
                          f"the broker {where} refused the connection ({name}); check its log")
    client.loop_start()
    return connection


class Connection:
    """A connected client. Messages of subscribed topics are queued until read with `receive`."""

    def __init__(self, client, login: Login):
        self.client, self.login = client, login
        self.answer = None                        # the CONNACK's reason code
        self.received: queue.Queue[Message] = queue.Queue()
        self._done: dict[int, object] = {}        # mid → reason code(s) of its PUBACK / SUBACK
        self._answered = threading.Condition()
        client.on_connect = self._on_connect
        client.on_message = lambda c, userdata, m: self.received.put(Message(m.topic, bytes(m.payload), bool(m.retain)))
        client.on_publish = lambda c, userdata, mid, reason, properties: self._answer(mid, reason)
        client.on_subscribe = lambda c, userdata, mid, reasons, properties: self._answer(mid, reasons)

    def _on_connect(self, client, userdata, flags, reason, properties):
        self.answer = reason

    def _answer(self, mid: int, reason) -> None:
        with self._answered:
            self._done[mid] = reason
            self._answered.notify_all()

    def _wait(self, mid: int, what: tuple[str, str], timeout: float):
        with self._answered:
            if not self._answered.wait_for(lambda: mid in self._done, timeout):
                where = self.login.address
                raise BrokerError(f"服务器 {where} 在 {timeout:g} 秒内没有确认收到{what[0]}；请检查网络和服务器后再试",
                                  f"the broker {where} did not acknowledge {what[1]} within {timeout:g} s; check "
                                  "the network and the broker, then try again")
            return self._done.pop(mid)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, timeout: float = ACK_TIMEOUT) -> None:
        """Publish at QoS 1 and return once the broker has acknowledged it; BrokerError when it refuses."""
        import paho.mqtt.client as mqtt

        info = self.client.publish(topic, payload, qos=1, retain=retain)
        where = self.login.address
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise BrokerError(f"没能发送到服务器 {where}（{mqtt.error_string(info.rc)}）；请检查网络和服务器后再试",
                              f"could not send to the broker {where} ({mqtt.error_string(info.rc)}); check the "
                              "network and the broker, then try again")
        reason = self._wait(info.mid, (f"发往 {topic} 的消息", f"the message to {topic}"), timeout)
        if getattr(reason, "is_failure", False):
            user = self.login.username or "—"
            raise BrokerError(f"服务器 {where} 拒绝了用户 {user} 发往 {topic} 的消息（{reason.getName()}）；"
                              "请检查服务器的 ACL（重新运行 announcer office init 并重启服务器）",
                              f"the broker {where} refused user {user}'s message to {topic} ({reason.getName()}); "
                              "check the broker's ACL (run announcer office init again and restart the broker)")

    def subscribe(self, *topics: str, timeout: float = ACK_TIMEOUT) -> None:
        """Subscribe at QoS 1 and return once the broker has granted every topic."""
        result, mid = self.client.subscribe([(topic, 1) for topic in topics])
        where = self.login.address
        if result != 0:
            raise BrokerError(f"没能向服务器 {where} 订阅消息；请检查网络和服务器后再试",
                              f"could not subscribe at the broker {where}; check the network and the broker, then "
                              "try again")
        reasons = self._wait(mid, ("订阅", "the subscription"), timeout)
        refused = [t for t, r in zip(topics, reasons) if getattr(r, "is_failure", False)]
        if refused:
            raise BrokerError(f"服务器 {where} 不允许订阅 {refused[0]}；请检查服务器的 ACL",
                              f"the broker {where} does not allow subscribing to {refused[0]}; check the broker's ACL")

    def receive(self, seconds: float) -> list[Message]:
        """Every message that arrives within `seconds` (and those that arrived before)."""
        got: list[Message] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.received.get(timeout=min(left, 0.1)))
            except queue.Empty:
                pass
        while not self.received.empty():
            got.append(self.received.get_nowait())
        return got

    def close(self) -> None:
        """Disconnect cleanly (no last will is sent) and stop paho's thread."""
        _quietly_close(self.client)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _use_tls(client, login: Login) -> None:
    for path, what in ((login.ca_file, ("CA 证书", "CA certificate")), (login.cert_file, ("证书", "certificate")),
                       (login.key_file, ("私钥", "private key"))):
        if path is not None and not Path(path).is_file():
            raise BrokerError(f"找不到 TLS 的{what[0]}文件 {path}；请把它复制到这里，或改正文件名",
                              f"the TLS {what[1]} file {path} is not there; copy it here or correct its name")
    try:
        client.tls_set(ca_certs=str(login.ca_file) if login.ca_file else None,
                       certfile=str(login.cert_file) if login.cert_file else None,
                       keyfile=str(login.key_file) if login.key_file else None)
    except (ssl.SSLError, OSError, ValueError) as error:
        raise BrokerError(f"TLS 证书文件用不了（{shorten(str(error), 80)}）；请检查 ca_file、证书和私钥是否是 PEM 文件、"
                          "彼此配套",
                          f"the TLS certificate files cannot be used ({shorten(str(error), 80)}); check that the "
                          "CA file, certificate and key are PEM files that belong together") from None


def _tls_error(login: Login, error: OSError) -> BrokerError:
    where = login.address
    detail = shorten(getattr(error, "verify_message", None) or getattr(error, "reason", None) or _reason(error), 80)
    return BrokerError(f"和服务器 {where} 的加密连接（TLS）没有建立（{detail}）：请检查 ca_file 是不是签发服务器证书的那个 CA，"
                       "证书里的名字是否就是这个地址，以及服务器这个端口是否开了 TLS",
                       f"the encrypted (TLS) connection to the broker {where} failed ({detail}): check that ca_file "
                       "is the CA that signed the broker's certificate, that the certificate names this address, "
                       "and that this port of the broker uses TLS")


def _unreachable(where: str, error: OSError) -> BrokerError:
    return BrokerError(f"连不上服务器 {where}（{_reason(error)}）：服务器没有运行，或地址、端口不对；"
                       "请先启动 mosquitto（announcer office init 打印了启动命令），或检查 broker 地址",
                       f"cannot reach the broker {where} ({_reason(error)}): it is not running, or the address "
                       "or port is wrong; start mosquitto first (announcer office init printed how), or check "
                       "the broker address")


def _no_answer(where: str, timeout: float) -> BrokerError:
    return BrokerError(f"服务器 {where} 在 {timeout:g} 秒内没有回应：请检查它是否在运行、地址和端口是否对，"
                       "以及 mqtt:// 和 mqtts://（TLS）是否写对",
                       f"the broker {where} did not answer within {timeout:g} s: check that it is running, the "
                       "address and port, and mqtt:// versus mqtts:// (TLS)")


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _quietly_close(client) -> None:
    try:
        client.disconnect()
    except Exception:      # already closed
        pass
    client.loop_stop()
