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
