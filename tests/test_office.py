"""`announcer office init`: the broker's config, passwords and ACL, and what they allow on a real Mosquitto."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from broker import DISTRICT, MOSQUITTO, TOPICS, Broker, broker, free_port, needs_mosquitto, office_init

from announcer.cli import main
from announcer.cli.office import acl_text
from announcer.core.districtfile import parse_district

__all__ = ["broker"]          # the fixture, used by name below

ROOT = Path(__file__).resolve().parent.parent
DAY_ALL, DAY_EAST, DAY_WEST = TOPICS + "day/all", TOPICS + "day/group/east", TOPICS + "day/group/west"


def announcer(*args, cwd, env=None):
    env = {**os.environ, "ANNOUNCER_LANG": "en", "COLUMNS": "250", **(env or {})}
    env.pop("ANNOUNCER_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "announcer", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@needs_mosquitto
def test_init_writes_config_passwords_and_acl_with_secrets_for_the_owner_only(tmp_path):
    (tmp_path / "district.toml").write_text(DISTRICT, encoding="utf-8")
    result = announcer("office", "init", "--port", "18830", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "broker"
    secrets = [out / "passwd", out / "acl", out / "office.password",
               *(out / "stations" / f"{s}.password" for s in ("xingfuli", "hepingli", "yangguang"))]
    for path in secrets:
        assert mode(path) == 0o600, path
    assert sorted(p.name for p in (out / "stations").iterdir()) == ["hepingli.password", "xingfuli.password",
                                                                    "yangguang.password"]
    passwords = {p.stem: p.read_text().strip() for p in (out / "stations").iterdir()}
    passwords["office"] = (out / "office.password").read_text().strip()
    assert len(set(passwords.values())) == 4
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", p) for p in passwords.values())
    hashed = (out / "passwd").read_text()
    assert sorted(line.split(":")[0] for line in hashed.splitlines()) == sorted(passwords)
    assert all(line.split(":", 1)[1].startswith("$7$") for line in hashed.splitlines())
    assert not any(p in hashed for p in passwords.values())

    conf = (out / "mosquitto.conf").read_text()
    settings = [line for line in conf.splitlines() if line and not line.startswith("#")]
    assert "listener 18830" in settings
    assert "allow_anonymous false" in settings
    assert f"password_file {out / 'passwd'}" in settings and f"acl_file {out / 'acl'}" in settings
    assert "persistence true" in settings and f"persistence_location {out / 'data'}/" in settings
    assert "max_queued_messages 200000" in settings     # not Mosquitto's 1,000: records sent while away
    assert (out / "data").is_dir()
    for line in ("# listener 8883", f"# cafile {out / 'tls' / 'ca.crt'}", f"# certfile {out / 'tls' / 'broker.crt'}",
                 f"# keyfile {out / 'tls' / 'broker.key'}"):
        assert line in conf.splitlines()
    assert not any(s.startswith(("cafile", "certfile", "keyfile")) for s in settings)

    assert f"mosquitto -c {out / 'mosquitto.conf'}" in result.stdout
    assert 'station_id = "hepingli"' in result.stdout and 'password_file = "hepingli.password"' in result.stdout
    assert str(out / "stations" / "yangguang.password") in result.stdout


def test_acl_lets_the_office_publish_and_each_station_read_only_its_own_topics():
    district = parse_district(DISTRICT.replace('groups = ["west"]', 'groups = ["west", "north"]'), Path("d.toml"))
    rules: dict[str, set[str]] = {}
    user = None
    for line in acl_text(district).splitlines():
        if line.startswith("user "):
            user = line.split()[1]
            rules[user] = set()
        elif line.startswith("topic "):
            assert user is not None, "a rule before any user applies to everybody"
            rules[user].add(line.removeprefix("topic "))
    assert rules["office"] == {f"write {TOPICS}day/#", f"write {TOPICS}urgent/#", f"read {TOPICS}station/#"}
    assert rules["hepingli"] == {
        *(f"read {TOPICS}{kind}/{what}" for kind in ("day", "urgent")
          for what in ("all", "station/hepingli", "group/west", "group/north")),
        f"write {TOPICS}station/hepingli/status", f"write {TOPICS}station/hepingli/log"}
    assert f"read {TOPICS}day/group/east" in rules["xingfuli"] and f"read {TOPICS}day/group/east" in rules["yangguang"]
    assert set(rules) == {"office", "xingfuli", "hepingli", "yangguang"}


def test_a_station_name_cannot_add_lines_to_the_acl():
    district = parse_district(DISTRICT.replace('"幸福里社区"', '"x\\nuser office\\ntopic readwrite #"'), Path("d.toml"))
    assert "topic readwrite #" not in acl_text(district).splitlines()


@needs_mosquitto
def test_running_init_again_keeps_passwords_adds_new_stations_and_drops_removed_ones(tmp_path):
    out = office_init(tmp_path)
    before = {p.name: p.read_text() for p in [out / "office.password", *(out / "stations").iterdir()]}
    changed = DISTRICT.replace('id = "hepingli"', 'id = "heping-new"')
    (tmp_path / "district.toml").write_text(changed, encoding="utf-8")
    result = announcer("office", "init", "--district", tmp_path / "district.toml", "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = {p.name: p.read_text() for p in [out / "office.password", *(out / "stations").iterdir()]}
    assert set(after) == {"office.password", "xingfuli.password", "yangguang.password", "heping-new.password"}
    for kept in ("office.password", "xingfuli.password", "yangguang.password"):
        assert after[kept] == before[kept]
    assert after["heping-new.password"] not in before.values()
    assert "removed the password of hepingli" in result.stdout
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert sorted(users) == ["heping-new", "office", "xingfuli", "yangguang"]
    assert "user hepingli" not in (out / "acl").read_text()


TLS_DISTRICT = DISTRICT.replace('broker = "mqtt://127.0.0.1:1883"',
                                'broker = "mqtts://office.example"\nca_file = "broker/tls/ca.crt"')


def settings(conf: str) -> list[str]:
    return [line for line in conf.splitlines() if line and not line.startswith("#")]


def init_here(tmp_path, capsys, *args) -> tuple[str, str]:
    """`announcer office init` in this process, in tmp_path: its (stdout, stderr)."""
    capsys.readouterr()
    assert main(["office", "init", "--district", str(tmp_path / "district.toml"), "--out", str(tmp_path / "broker"),
                 *args]) == 0
    return capsys.readouterr()


@needs_mosquitto
def test_init_with_an_mqtts_district_turns_tls_on_and_running_it_again_keeps_it_on(tmp_path, capsys):
    (tmp_path / "district.toml").write_text(TLS_DISTRICT, encoding="utf-8")
    out = tmp_path / "broker"
    tls_dir, conf_path = out / "tls", out / "mosquitto.conf"
    tls_lines = ["listener 8883", f"cafile {tls_dir / 'ca.crt'}", f"certfile {tls_dir / 'broker.crt'}",
                 f"keyfile {tls_dir / 'broker.key'}"]
    missing = [f"warning: the certificate files ca.crt, broker.crt, broker.key are not in {tls_dir} yet",
               "warning: the broker will not start until they are made",
               f"warning: the openssl commands that make them are in the comments of {conf_path}, and in README.md "
               'under "TLS (encrypted connections)"']
    first = init_here(tmp_path, capsys, "--port", "18830")
    conf = conf_path.read_text(encoding="utf-8")
    for said in (first, init_here(tmp_path, capsys, "--port", "18830")):     # the same the second time
        assert conf_path.read_text(encoding="utf-8") == conf
        on = settings(conf)
        assert on[on.index("listener 8883"):][:4] == tls_lines
        assert "listener 18830 127.0.0.1" in on                # plain: this computer only
        assert not any(line.startswith(("require_certificate", "use_identity_as_username")) for line in on)
        assert "# listener 8884" in conf.splitlines()          # no cert_port: the client-certificate one stays off
        assert said.err.splitlines() == missing
        assert ("TLS is on: stations connect to mqtts://office.example:8883 (port 8883, every address), with the "
                f"certificates in {tls_dir}") in said.out.splitlines()
        assert ("the plain port 18830 is for this computer only (127.0.0.1); to let other computers connect "
                "without TLS too, add --bind 0.0.0.0") in said.out.splitlines()
    # the openssl commands are made for the district's address, a name here
    assert '#   openssl req -newkey rsa:3072 -nodes -subj "/CN=office.example" -keyout broker.key -out broker.csr' in conf
    assert "#   printf 'subjectAltName=DNS:office.example\\n' > san.txt" in conf

    tls_dir.mkdir()
    for name in ("ca.crt", "broker.crt", "broker.key"):
        (tls_dir / name).write_text("made\n", encoding="utf-8")
    said = init_here(tmp_path, capsys, "--port", "18830", "--bind", "0.0.0.0")
    assert said.err == ""                                      # the certificates are there: nothing to warn of
    on = settings(conf_path.read_text(encoding="utf-8"))
    assert "listener 18830 0.0.0.0" in on and on[on.index("listener 8883"):][:4] == tls_lines
    assert "the plain port 18830 is open too (0.0.0.0)" in said.out.splitlines()


@needs_mosquitto
def test_the_missing_certificates_are_said_in_chinese_by_default_one_line_each(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    (tmp_path / "district.toml").write_text(TLS_DISTRICT.replace('"mqtts://office.example"',
                                                                 '"mqtts://192.168.1.10:18883"'), encoding="utf-8")
    said = init_here(tmp_path, capsys)
    tls_dir = tmp_path / "broker" / "tls"
    (tls_dir).mkdir()
    (tls_dir / "ca.crt").write_text("made\n", encoding="utf-8")
    again = init_here(tmp_path, capsys)
    assert said.err.splitlines() == [
        f"提醒：{tls_dir} 里还没有证书文件 ca.crt、broker.crt、broker.key", "提醒：证书做好以前，服务器启动不了",
        f"提醒：生成证书的 openssl 命令在 {tmp_path / 'broker' / 'mosquitto.conf'} 的注释里，"
        "也在 README.md 的“TLS (encrypted connections)”一节"]
    assert again.err.splitlines()[0] == f"提醒：{tls_dir} 里还没有证书文件 broker.crt、broker.key"
    assert "TLS 已打开：站点连接 mqtts://192.168.1.10:18883（端口 18883，所有地址）" in said.out
    on = settings((tmp_path / "broker" / "mosquitto.conf").read_text(encoding="utf-8"))
    assert "listener 18883" in on and "listener 1883 127.0.0.1" in on
    assert "#   printf 'subjectAltName=IP:192.168.1.10\\n' > san.txt" in \
        (tmp_path / "broker" / "mosquitto.conf").read_text(encoding="utf-8")


@needs_mosquitto
def test_a_plain_district_keeps_the_tls_listeners_commented_when_init_runs_again(tmp_path, capsys):
    (tmp_path / "district.toml").write_text(DISTRICT, encoding="utf-8")
    conf_path = tmp_path / "broker" / "mosquitto.conf"
    for _ in range(2):
        said = init_here(tmp_path, capsys, "--port", "18830")
        conf = conf_path.read_text(encoding="utf-8")
        on = settings(conf)
        assert [line for line in on if line.startswith("listener")] == ["listener 18830"]    # every address
        assert not any(line.startswith(("cafile", "certfile", "keyfile", "require_certificate")) for line in on)
        assert "# listener 8883" in conf.splitlines() and "# listener 8884" in conf.splitlines()
        assert said.err == "" and "TLS" not in said.out


@needs_mosquitto
def test_cert_port_turns_the_client_certificate_listener_on(tmp_path, capsys):
    (tmp_path / "district.toml").write_text(TLS_DISTRICT.replace('ca_file = ', 'cert_port = 18884\nca_file = '),
                                            encoding="utf-8")
    tls_dir = tmp_path / "broker" / "tls"
    said = init_here(tmp_path, capsys)
    on = settings((tmp_path / "broker" / "mosquitto.conf").read_text(encoding="utf-8"))
    assert on[on.index("listener 18884"):][:6] == [
        "listener 18884", f"cafile {tls_dir / 'ca.crt'}", f"certfile {tls_dir / 'broker.crt'}",
        f"keyfile {tls_dir / 'broker.key'}", "require_certificate true", "use_identity_as_username true"]
    assert "listener 8883" in on
    assert ("stations logging in with a client certificate connect to port 18884 (cert_port in district.toml)"
            in said.out.splitlines())


def test_a_plain_port_that_is_a_tls_port_is_one_line_and_nothing_is_written(tmp_path):
    (tmp_path / "district.toml").write_text(TLS_DISTRICT, encoding="utf-8")
    result = announcer("office", "init", "--port", "8883", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: port 8883 is already a TLS port in district.toml; give the plain listener another one with --port, "
        "e.g. --port 1883"]
    assert not (tmp_path / "broker").exists()


@pytest.mark.parametrize("text,line,fragment", [
    ('[office]\nbroker = "mqtt://127.0.0.1:1883\n', 2, "closing quote"),
    (DISTRICT.replace('id = "hepingli"', 'id = "He Ping"'), 10, "lowercase English letters"),
    (DISTRICT.replace('id = "yangguang"', 'id = "xingfuli"'), 15, "already used on line 5"),
    (DISTRICT.replace('broker = "mqtt://127.0.0.1:1883"', 'broker = "http://office:80"'), 2, "not a broker address"),
    (DISTRICT.replace('broker = "mqtt://127.0.0.1:1883"', 'broker = "mqtt://office:99999"'), 2,
     "not a broker address"),
    (DISTRICT.replace('groups = ["west"]', 'groups = ["west", "West Side"]'), 12, "can't be a group name"),
    (DISTRICT.replace('id = "hepingli"', 'id = "office"'), 10, "the office's user name"),
    (DISTRICT.replace('name = "阳光社区"', 'nmae = "阳光社区"'), 16, 'did you mean "name"'),
    (DISTRICT.replace('id = "xingfuli"\n', ''), 4, "add id = ..."),
    ('[office]\nbroker = "mqtt://127.0.0.1:1883"\n', 1, "no stations are listed"),
    (DISTRICT.replace('1883"', '1883"\ncert_port = 8884'), 3, "client certificates need TLS"),
    (DISTRICT.replace('"mqtt://127.0.0.1:1883"', '"mqtts://office:8884"\ncert_port = 8884'), 3,
     "8884 is already the broker's port"),
    (DISTRICT.replace('"mqtt://127.0.0.1:1883"', '"mqtts://office"\ncert_port = "8884"'), 3, "has quotes around it"),
    (DISTRICT.replace('"mqtt://127.0.0.1:1883"', '"mqtts://office"\ncert_port = 0'), 3,
     "is too low; write a port number, like 8884"),
])
def test_a_bad_district_file_gives_one_line_with_file_and_line_and_exit_2(tmp_path, text, line, fragment):
    (tmp_path / "district.toml").write_text(text, encoding="utf-8")
    result = announcer("office", "init", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: district.toml:{line}"), lines[0]
    assert fragment in lines[0]
    assert not (tmp_path / "broker").exists()


def test_every_problem_of_a_district_file_is_listed_in_chinese_by_default(tmp_path):
    text = DISTRICT.replace('id = "hepingli"', 'id = "和平"').replace('groups = ["east"]', 'groups = "east"', 1)
    (tmp_path / "district.toml").write_text(text, encoding="utf-8")
    result = announcer("office", "init", cwd=tmp_path, env={"ANNOUNCER_LANG": "zh"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["错误：district.toml:7", "错误：district.toml:10"], lines
    assert "站点编号" in lines[1]


def test_a_missing_district_file_or_mosquitto_passwd_is_one_line(tmp_path):
    result = announcer("office", "init", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "district.toml: district file not found" in result.stderr

    (tmp_path / "district.toml").write_text(DISTRICT, encoding="utf-8")
    empty = tmp_path / "no-programs"
    empty.mkdir()
    result = announcer("office", "init", cwd=tmp_path, env={"PATH": str(empty)})
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: mosquitto_passwd not found: install Debian's mosquitto package first (sudo apt-get install mosquitto)"]
    assert not (tmp_path / "broker").exists()


def test_office_shows_its_subcommands(tmp_path):
    result = announcer("office", cwd=tmp_path)
    assert result.returncode == 2 and "init" in result.stderr and "Traceback" not in result.stderr
    assert "office" in announcer("--help", cwd=tmp_path).stdout
    result = announcer("office", "init", "--port", "0", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_the_station_lines_printed_follow_the_district(tmp_path):
    text = DISTRICT.replace('broker = "mqtt://127.0.0.1:1883"', 'broker = "mqtts://office.example"\nca_file = "ca.crt"')
    district = parse_district(text, tmp_path / "district.toml")
    assert (district.broker, district.port, district.tls) == ("mqtts://office.example:8883", 8883, True)
    assert district.ca_file == (tmp_path / "ca.crt").resolve()
    from announcer.cli.office import network_section

    assert network_section(district, "xingfuli", ("east",)) == [
        "[network]", 'broker = "mqtts://office.example:8883"', 'station_id = "xingfuli"', 'groups = ["east"]',
        'password_file = "xingfuli.password"', 'ca_file = "ca.crt"']


# ---- with a real Mosquitto ----

@pytest.mark.real
@needs_mosquitto
def test_the_broker_starts_quickly_from_the_generated_config(tmp_path):
    port = free_port()
    running = Broker(office_init(tmp_path, port=port), port)
    started = time.monotonic()
    running.start()
    try:
        assert time.monotonic() - started < 1.0
        assert f"Opening ipv4 listen socket on port {port}" in running.log()
    finally:
        running.stop()


@pytest.mark.real
def test_a_retained_day_message_reaches_the_stations_of_its_group_only(broker):
    office = broker.client("office")
    office.publish(DAY_ALL, "for everybody", retain=True)
    office.publish(DAY_EAST, "for the east", retain=True)
    office.publish(DAY_WEST, "for the west", retain=True)
    office.publish(TOPICS + "day/station/yangguang", "for yangguang", retain=True)

    east = broker.client("xingfuli")           # connects after the publish: the retained messages wait for it
    east.subscribe(DAY_ALL, DAY_EAST, TOPICS + "day/station/xingfuli")
    west = broker.client("hepingli")           # ... and tries to read more than its own
    west.subscribe(DAY_ALL, DAY_WEST, TOPICS + "day/station/hepingli", DAY_EAST, TOPICS + "day/station/yangguang")
    west_all = broker.client("hepingli", client_id="hepingli-wildcard")
    west_all.subscribe(TOPICS + "day/#", TOPICS + "#", "#")
    office.publish(DAY_ALL, "marker")

    def received(client):
        got = client.received_until(b"marker")
        assert all(m.retain for m in got[:-1])
        return {(m.topic, m.payload) for m in got[:-1]}

    assert received(east) == {(DAY_ALL, b"for everybody"), (DAY_EAST, b"for the east")}
    assert received(west) == {(DAY_ALL, b"for everybody"), (DAY_WEST, b"for the west")}
    assert received(west_all) == {(DAY_ALL, b"for everybody"), (DAY_WEST, b"for the west")}


@pytest.mark.real
def test_a_station_cannot_publish_notices_mqtt_3(broker):
    listener = broker.client("yangguang")
    listener.subscribe(DAY_ALL, DAY_EAST, TOPICS + "urgent/all")
    rogue = broker.client("xingfuli")
    for topic in (DAY_ALL, DAY_EAST, TOPICS + "urgent/all"):
        rogue.publish(topic, "fake notice")       # MQTT 3.1.1: acknowledged, then silently dropped
    office = broker.client("office")
    office.publish(DAY_ALL, "marker")
    assert [m.payload for m in listener.received_until(b"marker")] == [b"marker"]


@pytest.mark.real
def test_a_station_cannot_publish_notices_mqtt_5_says_not_authorized(broker):
    rogue = broker.client("xingfuli", v5=True)
    reason = rogue.publish(DAY_ALL, "fake notice", retain=True)
    assert reason.is_failure and reason.getName() == "Not authorized"
    assert not rogue.publish(TOPICS + "station/xingfuli/status", "online").is_failure
    listener = broker.client("hepingli")
    listener.subscribe(DAY_ALL)
    broker.client("office").publish(DAY_ALL, "marker")
    assert [m.payload for m in listener.received_until(b"marker")] == [b"marker"]    # nothing retained either


@pytest.mark.real
def test_a_wrong_password_or_no_login_cannot_connect(broker):
    right = broker.password("xingfuli")
    for user, password in (("xingfuli", right[:-1] + ("x" if right[-1] != "x" else "y")),
                           ("xingfuli", broker.password("hepingli")), ("office", right), ("nobody", right),
                           ("xingfuli", "")):
        client = broker.client(user, password)
        assert client.reason.is_failure, (user, password)
    assert broker.client(None, client_id="anonymous").reason.is_failure
    assert not broker.client("xingfuli").reason.is_failure


@pytest.mark.real
def test_a_station_may_publish_its_own_status_and_log_but_not_another_stations(broker):
    office = broker.client("office")
    office.subscribe(TOPICS + "station/#")
    station = broker.client("xingfuli")
    station.publish(TOPICS + "station/xingfuli/status", "online", retain=True)
    station.publish(TOPICS + "station/hepingli/status", "offline", retain=True)
    station.publish(TOPICS + "station/hepingli/log", "fake record")
    station.publish(TOPICS + "station/xingfuli/log", "record 1")
    got = office.received_until(b"record 1")
    assert [(m.topic, m.payload) for m in got] == [(TOPICS + "station/xingfuli/status", b"online"),
                                                   (TOPICS + "station/xingfuli/log", b"record 1")]
    other = broker.client("hepingli")          # stations can't read each other's status either
    other.subscribe(TOPICS + "station/#", TOPICS + "station/xingfuli/status", TOPICS + "day/station/hepingli")
    office.publish(TOPICS + "day/station/hepingli", "marker")
    assert [m.payload for m in other.received_until(b"marker")] == [b"marker"]


@pytest.mark.real
def test_retained_day_messages_survive_a_broker_restart(broker):
    broker.client("office").publish(DAY_EAST, "monday's notices", retain=True)
    for client in broker.clients:
        client.close()
    started = time.monotonic()
    broker.restart()
    assert time.monotonic() - started < 2.0
    station = broker.client("yangguang")
    station.subscribe(DAY_EAST)
    message = station.next()
    assert (message.topic, message.payload, message.retain) == (DAY_EAST, b"monday's notices", True)


def test_mosquitto_is_found_where_debian_puts_it():
    if MOSQUITTO is None:
        pytest.skip("Debian's mosquitto package is not installed (scripts/test installs it)")
    assert Path(MOSQUITTO).name == "mosquitto"


# ---- office publish, urgent and status ----

from datetime import date, datetime, timedelta, timezone  # noqa: E402

from announcer.core.district import (DayNotices, LastBroadcast, PlayRecord, StationStatus, Urgent,  # noqa: E402
                                     day_topics, log_topic, record_id, status_topic, urgent_topics)
from announcer.core.officelog import OfficeLog  # noqa: E402

GROUPS = {"xingfuli": ("east",), "hepingli": ("west",), "yangguang": ("east",)}
NOTICES = """\
[[notice]]
id = "water"
title = "停水通知"
text = "明天上午九点到十一点停水，请提前储水。"
repeat = 2

[[notice]]
id = "vaccine"
title = "Vaccination"
text = "Free flu shots at the clinic this Friday."
language = "en"

[[notice]]
id = "old-fair"
title = "上周的集市"
text = "集市在周六举行。"
valid_until = 2026-11-01
"""


def office_folder(broker) -> Path:
    """The folder of district.toml and broker/, district.toml pointing at the running broker."""
    folder = broker.folder.parent
    (folder / "district.toml").write_text(DISTRICT.replace("1883", str(broker.port)), encoding="utf-8")
    (folder / "notices.toml").write_text(NOTICES, encoding="utf-8")
    return folder


def station(broker, station_id: str, kind: str = "day"):
    """A station's client, subscribed to its day (or urgent) topics."""
    client = broker.client(station_id, client_id=f"{station_id}-{kind}-{len(broker.clients)}")
    topics = (day_topics if kind == "day" else urgent_topics)(station_id, GROUPS[station_id])
    assert not any(r.is_failure for r in client.subscribe(*topics))
    return client


def until_marker(broker, client) -> list:
    """What `client` received before a marker the office sends to everybody last (not retained)."""
    office = broker.client("office", client_id=f"marker-{len(broker.clients)}")
    marker = f"marker-{len(broker.clients)}".encode()
    office.publish(TOPICS + "day/all", marker)
    office.publish(TOPICS + "urgent/all", marker)
    got = client.received_until(marker)
    return [m for m in got if not m.payload.startswith(b"marker")]       # and the markers sent for others


def one_line_error(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.real
def test_publish_sends_one_retained_day_to_all_a_group_and_a_station(broker):
    folder = office_folder(broker)
    sent = announcer("office", "publish", "notices.toml", "--date", "2026-12-07", cwd=folder)
    assert sent.returncode == 0, sent.stderr
    assert "sent the 2 notices of 2026-12-07 to every station (3)" in sent.stdout
    (folder / "east.txt").write_text("# 东区通知\n东区明天修路。\n", encoding="utf-8")
    sent = announcer("office", "publish", "east.txt", "--date", "2026-12-07", "--to", "group:east", cwd=folder)
    assert sent.returncode == 0, sent.stderr
    assert "to group east (xingfuli, yangguang)" in sent.stdout
    (folder / "heping.txt").write_text("# 和平里通知\n和平里今晚放电影。\n", encoding="utf-8")
    sent = announcer("office", "publish", "heping.txt", "--to", "hepingli", "--to", "hepingli", cwd=folder)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.count("sent the") == 1 and "to station 和平里社区 (hepingli)" in sent.stdout

    received = {}
    for station_id in GROUPS:              # they connect after the publish: the broker kept the day for them
        got = until_marker(broker, station(broker, station_id))
        assert all(m.retain for m in got)
        received[station_id] = {m.topic: DayNotices.from_json(m.payload) for m in got}
        assert len(received[station_id]) == len(got), "one message a topic"
    assert set(received["xingfuli"]) == set(received["yangguang"]) == {TOPICS + "day/all", DAY_EAST}
    assert set(received["hepingli"]) == {TOPICS + "day/all", TOPICS + "day/station/hepingli"}

    everybody = received["hepingli"][TOPICS + "day/all"]
    assert everybody == received["xingfuli"][TOPICS + "day/all"]
    assert (everybody.day, everybody.office) == (date(2026, 12, 7), "office")
    assert [(n.id, n.title, n.language, n.repeat) for n in everybody.notices] == [
        ("water", "停水通知", None, 2), ("vaccine", "Vaccination", "en", None)]     # old-fair is over by then
    assert everybody.notices[0].text == "明天上午九点到十一点停水，请提前储水。"
    east = received["xingfuli"][DAY_EAST]
    assert [n.text for n in east.notices] == ["东区明天修路。"] and east.id != everybody.id
    heping = received["hepingli"][TOPICS + "day/station/hepingli"]
    assert heping.day == date.today() and [n.title for n in heping.notices] == ["和平里通知"]


@pytest.mark.real
def test_urgent_reaches_its_stations_once_and_is_not_kept(broker):
    folder = office_folder(broker)
    listeners = {station_id: station(broker, station_id, "urgent") for station_id in GROUPS}
    before = datetime.now(timezone.utc)
    sent = announcer("office", "urgent", "燃气泄漏，请立即离开三号楼。", "--title", "燃气泄漏", "--to", "group:east",
                     "--expires", "45m", "--emergency", cwd=folder)
    assert sent.returncode == 0, sent.stderr
    assert "sent the urgent notice to group east (xingfuli, yangguang)" in sent.stdout
    assert "It is an emergency" in sent.stdout

    for station_id in ("xingfuli", "yangguang"):
        got = until_marker(broker, listeners[station_id])
        assert len(got) == 1 and got[0].topic == TOPICS + "urgent/group/east" and not got[0].retain
        urgent = Urgent.from_json(got[0].payload)
        assert (urgent.text, urgent.title, urgent.emergency) == ("燃气泄漏，请立即离开三号楼。", "燃气泄漏", True)
        assert urgent.expires - urgent.issued == timedelta(minutes=45)
        assert before - timedelta(seconds=1) <= urgent.issued <= datetime.now(timezone.utc)
        assert urgent.issued.utcoffset() is not None
    assert until_marker(broker, listeners["hepingli"]) == []
    assert until_marker(broker, station(broker, "xingfuli", "urgent")) == []      # not retained: gone

    sent = announcer("office", "urgent", "停电通知", "--to", "hepingli", cwd=folder)
    assert sent.returncode == 0, sent.stderr
    urgent = Urgent.from_json(until_marker(broker, listeners["hepingli"])[0].payload)
    assert urgent.expires - urgent.issued == timedelta(minutes=30) and not urgent.emergency and urgent.title is None


def test_an_unknown_target_is_one_line_listing_the_known_ones_and_exit_2(tmp_path):
    (tmp_path / "district.toml").write_text(DISTRICT, encoding="utf-8")
    (tmp_path / "notices.toml").write_text(NOTICES, encoding="utf-8")
    for command in (("publish", "notices.toml"), ("urgent", "停水")):
        for target in ("group:north", "nobody"):
            result = announcer("office", *command, "--to", "all", "--to", target, cwd=tmp_path)
            assert result.returncode == 2, result.stderr
            line = one_line_error(result)
            assert f"“{target}” is not in district.toml" in line
            assert "xingfuli, hepingli, yangguang" in line and "group:east, group:west" in line
    result = announcer("office", "urgent", "停水", "--expires", "3d", cwd=tmp_path)
    assert result.returncode == 2 and "not a duration" in one_line_error(result)


def test_the_office_store_keeps_each_record_once_and_its_latest_version(tmp_path):
    store = OfficeLog(tmp_path)
    due = datetime(2026, 12, 6, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    playing = PlayRecord(record_id("xingfuli", due, "早间"), "xingfuli", due, "早间", ("water",), "playing",
                         started=due)
    played = PlayRecord(playing.id, "xingfuli", due.astimezone(timezone.utc), "早间", ("water",), "played",
                        started=due, ended=due + timedelta(seconds=40))
    for record in (playing, playing, played, played):
        store.add_record(record)
    assert store.records() == [played]
    store.add_record(playing)            # an old delivery arriving late
    assert store.records() == [played]
    later = PlayRecord(record_id("xingfuli", due + timedelta(hours=4), "午间"), "xingfuli", due + timedelta(hours=4),
                       "午间", (), "missed", reason="停电")
    store.add_record(later)
    assert [r.result for r in store.records("xingfuli")] == ["played", "missed"]
    assert store.last_records() == {"xingfuli": later}

    seen = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
    store.add_status(StationStatus("xingfuli", True, seen))
    store.add_status(StationStatus("xingfuli", False, seen - timedelta(hours=1)))    # its last will, set earlier
    status, last_seen = store.statuses()["xingfuli"]
    assert not status.online and last_seen == seen


def station_status(station_id: str, online: bool = True, **fields) -> bytes:
    return StationStatus(station_id, online, datetime.now(timezone.utc), **fields).to_json()


@pytest.mark.real
def test_status_shows_every_station_and_keeps_each_record_once(broker):
    folder = office_folder(broker)
    first = announcer("office", "status", "--wait", "0", cwd=folder)      # the office's session begins
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("never seen") == 3

    now = datetime.now(timezone.utc).replace(microsecond=0)
    due = now - timedelta(minutes=5)
    xingfuli = broker.client("xingfuli")
    xingfuli.publish(status_topic("xingfuli"), station_status(
        "xingfuli", day=date.today(), built=4, engine={"engine": "kokoro"}, voices={"zh": "zf_xiaobei"},
        last_broadcast=LastBroadcast("早间广播", due, "played"), groups=("east",)), retain=True)
    playing = PlayRecord(record_id("xingfuli", due, "早间广播"), "xingfuli", due, "早间广播", ("water",), "playing")
    played = PlayRecord(playing.id, "xingfuli", due, "早间广播", ("water",), "played", started=due,
                        ended=due + timedelta(seconds=30))
    for record in (playing, played):
        xingfuli.publish(log_topic("xingfuli"), record.to_json())
    hepingli = broker.client("hepingli")
    hepingli.publish(status_topic("hepingli"), station_status("hepingli", online=False, groups=("north",)),
                     retain=True)             # its schedule.toml says north; district.toml gives it west
    yangguang = broker.client("yangguang")
    yangguang.publish(status_topic("yangguang"), b'{"kind": "status", "v": 1, "station": "yangguang"}', retain=True)

    result = announcer("office", "status", "--wait", "1", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    dropped = [line for line in result.stderr.splitlines() if line.startswith("warning: dropped")]
    assert len(dropped) == 1 and "station/yangguang/status" in dropped[0] and '"online" is missing' in dropped[0]
    [groups] = [line for line in result.stderr.splitlines() if "group(s)" in line]
    assert groups == ("warning: 和平里社区 (hepingli): its schedule.toml names the group(s) north, which district.toml "
                      "does not give it: nothing sent to them reaches it (add them to its groups in district.toml and "
                      "run office init again, or take them out of its [network]); district.toml gives it the "
                      "group(s) west, which its schedule.toml leaves out: nothing sent to them reaches it (add them "
                      "to groups in its [network])")
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:-1]]
            for line in result.stdout.splitlines() if line.startswith("│")}
    assert rows["幸福里社区 (xingfuli)"][0] == "online"
    assert rows["幸福里社区 (xingfuli)"][2:] == ["built, 4 clips", f"{due.astimezone():%H:%M} 早间广播", "played",
                                              "engine kokoro; zh zf_xiaobei"]
    assert rows["和平里社区 (hepingli)"][:1] == ["offline"] and rows["和平里社区 (hepingli)"][2] == "not built"
    assert rows["阳光社区 (yangguang)"] == ["never seen", "—", "—", "—", "—", "—"]
    assert "received 2 statuses and 2 play-log records." in result.stdout

    store = OfficeLog(broker.folder)
    assert store.records() == [played]
    import sqlite3

    with sqlite3.connect(broker.folder / "office.sqlite") as db:
        assert db.execute("SELECT count(*) FROM record").fetchone() == (1,)

    xingfuli.publish(log_topic("xingfuli"), played.to_json())        # delivered again (at least once)
    again = announcer("office", "status", "--wait", "0.3", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert "received 2 statuses and 1 play-log records." in again.stdout     # statuses: retained, sent again
    assert OfficeLog(broker.folder).records() == [played]
    assert again.stdout.count("早间广播") == 1 and "never seen" in again.stdout


@pytest.mark.real
def test_two_readers_at_once_take_turns_and_every_record_is_kept_once(broker):
    """`office status` and the District page read the office's one kept session: the second waits for the first
    (two at once with one client id would push each other off the broker)."""
    folder = office_folder(broker)
    assert announcer("office", "status", "--wait", "0", cwd=folder).returncode == 0       # the session begins
    xingfuli = broker.client("xingfuli")
    due = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    records = [PlayRecord(record_id("xingfuli", due + timedelta(minutes=i), f"广播{i}"), "xingfuli",
                          due + timedelta(minutes=i), f"广播{i}", ("water",), "played") for i in range(20)]
    env = {**os.environ, "ANNOUNCER_LANG": "en", "COLUMNS": "250"}
    readers = [subprocess.Popen([sys.executable, "-m", "announcer", "office", "status", "--wait", "1.5"], cwd=folder,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for record in records:                             # while they read
        xingfuli.publish(log_topic("xingfuli"), record.to_json())
        time.sleep(0.05)
    outcomes = [reader.communicate(timeout=60) for reader in readers]
    for reader, (out, err) in zip(readers, outcomes):
        assert reader.returncode == 0 and "Traceback" not in err, err
        assert "lost" not in err and "error" not in err.lower(), err
    assert sorted(r.id for r in OfficeLog(broker.folder).records()) == sorted(r.id for r in records)
    assert "announcer-office already connected" not in broker.log()


@pytest.mark.real
def test_a_wrong_office_password_is_one_line(broker):
    folder = office_folder(broker)
    (broker.folder / "office.password").write_text("not-the-password\n", encoding="utf-8")
    for command in (("status",), ("urgent", "停水"), ("publish", "notices.toml")):
        result = announcer("office", *command, cwd=folder)
        assert result.returncode == 1, result.stderr
        line = one_line_error(result)
        assert line.startswith(f"error: the broker mqtt://127.0.0.1:{broker.port} refused the login of user office")
        assert "run announcer office init again" in line


@needs_mosquitto
def test_a_broker_that_is_not_running_is_one_line_and_exit_1(tmp_path):
    port = free_port()
    office_init(tmp_path, DISTRICT.replace("1883", str(port)), port)
    (tmp_path / "notices.toml").write_text(NOTICES, encoding="utf-8")
    for command in (("status",), ("urgent", "停水"), ("publish", "notices.toml")):
        result = announcer("office", *command, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert one_line_error(result).startswith(f"error: cannot reach the broker mqtt://127.0.0.1:{port} ")
        assert "not running" in result.stderr and "start mosquitto" in result.stderr
    result = announcer("office", "status", cwd=tmp_path, env={"ANNOUNCER_LANG": "zh"})
    assert one_line_error(result).startswith(f"错误：连不上服务器 mqtt://127.0.0.1:{port}")

    (tmp_path / "broker" / "office.password").unlink()
    result = announcer("office", "status", cwd=tmp_path)
    assert result.returncode == 1 and "run announcer office init first" in one_line_error(result)


@pytest.mark.real
def test_tls_to_a_broker_without_tls_is_one_line(broker):
    folder = office_folder(broker)
    district = (folder / "district.toml").read_text().replace("mqtt://", "mqtts://")
    (folder / "district.toml").write_text(district, encoding="utf-8")
    result = announcer("office", "status", cwd=folder)
    assert result.returncode == 1
    assert "TLS" in one_line_error(result)
    (folder / "district.toml").write_text(district.replace("[office]\n", '[office]\nca_file = "ca.crt"\n'))
    result = announcer("office", "status", cwd=folder)
    assert result.returncode == 1 and "ca.crt is not there" in one_line_error(result)
