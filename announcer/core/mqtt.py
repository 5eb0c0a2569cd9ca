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
                raise _hung_up(login)
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
            if login.cert_file is not None and login.password is None:
                raise BrokerError(f"服务器 {where} 不接受用证书 {login.cert_file} 登录（这个端口要密码）：请连服务器的客户端证书端口"
                                  "（mosquitto.conf 里有 use_identity_as_username 的那个，通常是 8884），"
                                  "或在 [network] 里加上 password_file",
                                  f"the broker {where} does not log in with the certificate {login.cert_file} "
                                  "(this port asks for a password): connect to its client-certificate port (the "
                                  "one with use_identity_as_username in mosquitto.conf, usually 8884), or add "
                                  "password_file to [network]")
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
        client.on_unsubscribe = lambda c, userdata, mid, reasons, properties: self._answer(mid, reasons)

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

    def unsubscribe(self, *topics: str, timeout: float = ACK_TIMEOUT) -> None:
        """Unsubscribe, and return once the broker has answered."""
        result, mid = self.client.unsubscribe(list(topics))
        if result != 0:
            raise BrokerError(f"没能在服务器 {self.login.address} 取消订阅；请检查网络和服务器",
                              f"could not unsubscribe at the broker {self.login.address}; check the network and the "
                              "broker")
        self._wait(mid, ("取消订阅", "the unsubscription"), timeout)

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


# OpenSSL's verify codes (X509_V_ERR_...): why the broker's certificate was not trusted
_UNKNOWN_CA = {2, 18, 19, 20, 21}    # no CA that this computer trusts signed it
_NOT_YET_VALID, _EXPIRED = 9, 10
_WRONG_NAME = {62, 64}               # made for another host name / IP address


def _tls_error(login: Login, error: OSError) -> BrokerError:
    """What went wrong in the TLS handshake, and what to do, in one line."""
    where, host = login.address, login.host
    code = getattr(error, "verify_code", None)
    reason = str(getattr(error, "reason", None) or "")
    if code in _UNKNOWN_CA and login.ca_file is None:
        return BrokerError(f"服务器 {where} 的证书不是这台电脑信任的 CA 签发的，而且没有写 ca_file：请把 ca_file 设为街道办的 "
                           "ca.crt（服务器文件夹的 tls/ca.crt；站点写在 schedule.toml 的 [network] 里，街道办写在 "
                           "district.toml 里）",
                           f"the broker {where} has a certificate signed by no CA this computer trusts, and no "
                           "ca_file is set: set ca_file to the office's ca.crt (tls/ca.crt in the broker folder; "
                           "in [network] of schedule.toml at a station, in district.toml at the office)")
    if code in _UNKNOWN_CA:
        return BrokerError(f"服务器 {where} 的证书不是 {login.ca_file} 这个 CA 签发的：ca_file 要用签发服务器证书的那个 "
                           "ca.crt（街道办服务器文件夹的 tls/ca.crt）",
                           f"the broker {where} has a certificate not signed by the CA in {login.ca_file}: ca_file "
                           "must be the ca.crt that signed the broker's certificate (tls/ca.crt in the office's "
                           "broker folder)")
    if code in _WRONG_NAME:
        return BrokerError(f"服务器 {where} 的证书不是为 {host} 做的：broker 请写证书里的地址，或在街道办重新生成服务器证书，"
                           f"让 subjectAltName 写上 {host}（见 mosquitto.conf 里的 openssl 命令）",
                           f"the broker {where} has a certificate not made for {host}: write the address the "
                           "certificate names as broker, or make the broker's certificate again with "
                           f"{host} in its subjectAltName (the openssl commands in mosquitto.conf)")
    if code == _EXPIRED:
        return BrokerError(f"服务器 {where} 的证书已经过期：请在街道办重新生成服务器证书（见 mosquitto.conf 里的 openssl 命令）"
                           "并重启服务器，或检查这台电脑的日期和时间",
                           f"the broker {where} has an expired certificate: make the broker's certificate again "
                           "at the office (the openssl commands in mosquitto.conf) and restart the broker, or check "
                           "this computer's date and time")
    if code == _NOT_YET_VALID:
        return BrokerError(f"服务器 {where} 的证书还没到生效时间：请检查这台电脑的日期和时间",
                           f"the broker {where} has a certificate that is not valid yet: check this computer's "
                           "date and time")
    if isinstance(error, ConnectionError) or reason in ("WRONG_VERSION_NUMBER", "UNEXPECTED_EOF_WHILE_READING") \
            or isinstance(error, ssl.SSLEOFError):
        return BrokerError(f"服务器 {where} 的这个端口不用加密（TLS）：broker 请写成 mqtt://，或改用服务器的 TLS 端口（通常是 8883）",
                           f"the broker {where} does not speak TLS on this port: write the broker as mqtt://, or "
                           "use its TLS port (usually 8883)")
    detail = shorten(getattr(error, "verify_message", None) or reason or _reason(error), 80)
    if "ALERT" in reason and login.cert_file is not None:
        return BrokerError(f"服务器 {where} 不接受这台电脑的证书 {login.cert_file}（{detail}）：证书要由服务器的 CA 签发、"
                           "还在有效期内，并和 key_file 配套",
                           f"the broker {where} refused this computer's certificate {login.cert_file} ({detail}): "
                           "it must be signed by the broker's CA, still valid, and go with key_file")
    return BrokerError(f"和服务器 {where} 的加密连接（TLS）没有建立（{detail}）：请检查 ca_file 是不是签发服务器证书的那个 CA，"
                       "证书里的名字是否就是这个地址，以及服务器这个端口是否开了 TLS",
                       f"the encrypted (TLS) connection to the broker {where} failed ({detail}): check that ca_file "
                       "is the CA that signed the broker's certificate, that the certificate names this address, "
                       "and that this port of the broker uses TLS")


def _hung_up(login: Login) -> BrokerError:
    """The broker closed the connection before answering the login."""
    where = login.address
    if login.tls and login.cert_file is None:       # a port asking for a client certificate does this
        return BrokerError(f"服务器 {where} 断开了连接，没有回应登录：如果这个端口要客户端证书，请在 [network] 里写上 "
                           "cert_file 和 key_file，否则请检查服务器的日志",
                           f"the broker {where} closed the connection without answering the login: if this port "
                           "asks for a client certificate, set cert_file and key_file in [network]; otherwise "
                           "check the broker's log")
    if not login.tls:                               # a TLS port does this to a plain client
        return BrokerError(f"服务器 {where} 断开了连接，没有回应登录：如果这是服务器的加密（TLS）端口，请把 broker 写成 "
                           "mqtts:// 并写上 ca_file，否则请检查服务器的日志",
                           f"the broker {where} closed the connection without answering the login: if this is "
                           "its TLS port, write the broker as mqtts:// and set ca_file; otherwise check the "
                           "broker's log")
    return BrokerError(f"服务器 {where} 断开了连接，没有回应登录；请检查它的日志",
                       f"the broker {where} closed the connection without answering the login; check its log")


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
