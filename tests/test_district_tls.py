"""TLS between the office, its broker and the stations, set up exactly as the docs say: district.toml's broker is
mqtts:// (with cert_port), so `announcer office init` turns the TLS listeners on; the openssl commands it writes
into mosquitto.conf (and README.md repeats) make the certificates, and a real Mosquitto serves them
(tests/broker.py). Running init again keeps them on."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import shutil
import ssl
import stat
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from broker import MOSQUITTO, MOSQUITTO_PASSWD, TOPICS, Broker, free_port
from test_district_station import Plays, day_message, tomorrow, until

from announcer.build.engines.fake import FakeEngine
from announcer.cli import main
from announcer.core.config import AudioConfig, Config, NetworkConfig, SpeechConfig, Station, load_config
from announcer.core.district import STATION_TOPICS, DayNotice, StationStatus, read_message
from announcer.core.library import Library
from announcer.core.mqtt import BrokerError, Login, _tls_error, connect
from announcer.district.link import StationLink

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(not (OPENSSL and MOSQUITTO and MOSQUITTO_PASSWD),
                                reason="openssl and Debian's mosquitto are needed (scripts/test installs them)")

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLE = "192.168.1.10"                  # the docs' broker address, replaced by the loopback one
COMMANDS = ("mkdir ", "cd ", "openssl ", "printf ", "chmod ")
STATIONS = """
[[station]]
id = "xingfuli"
name = "幸福里社区"
groups = ["east"]

[[station]]
id = "hepingli"
groups = ["west"]
"""


# ---- the docs, read

def conf_commands(conf: str) -> list[str]:
    """The shell commands in mosquitto.conf's comments (`#   openssl ...`), continuation lines joined."""
    commands: list[str] = []
    for line in conf.splitlines():
        text = line.removeprefix("#").strip()
        if commands and commands[-1].endswith("\\"):
            commands[-1] = commands[-1][:-1].rstrip() + " " + text
        elif line.startswith("#   ") and text.startswith(COMMANDS):
            commands.append(text)
    return commands


def readme_tls() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### TLS (encrypted connections)")
    end = re.compile(r"^##{0,2} ", re.M).search(text, start + 1)
    return text[start:end.start() if end else None]


def readme_blocks(kind: str) -> list[str]:
    """The ```kind blocks of the README's TLS section, unindented."""
    blocks = re.findall(rf"^( *)```{kind}\n(.*?)^\1```", readme_tls(), re.S | re.M)
    return ["\n".join(line.removeprefix(indent) for line in body.splitlines()) for indent, body in blocks]


def readme_commands() -> list[str]:
    commands: list[str] = []
    for block in readme_blocks("sh"):
        for line in block.splitlines():
            if commands and commands[-1].endswith("\\"):
                commands[-1] = commands[-1][:-1].rstrip() + " " + line.strip()
            elif line.startswith(COMMANDS):
                commands.append(line.strip())
    return commands


def same(command: str) -> str:
    """A command without its trailing comment and extra spaces, to compare the two docs."""
    return " ".join(re.sub(r"\s+#\s.*$", "", command).split())


def on_loopback(text: str) -> str:
    """The docs' example address made this machine's."""
    return text.replace(EXAMPLE, "127.0.0.1")


def with_localhost(command: str) -> str:
    """The broker's certificate named localhost too, as the comment after the printf line says how."""
    return command.replace("IP:127.0.0.1\\n", "IP:127.0.0.1,DNS:localhost\\n")


def shell(commands: list[str], cwd: Path) -> None:
    done = subprocess.run(["bash", "-euc", "\n".join(commands)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def settings(conf: str) -> list[str]:
    """mosquitto.conf's lines that are not comments."""
    return [line for line in conf.splitlines() if line and not line.startswith("#")]


def init(home: Path, plain: int) -> tuple[str, str]:
    """`announcer office init` as README says, in English: its (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.setenv("ANNOUNCER_LANG", "en")
        code = main(["office", "init", "--district", str(home / "district.toml"), "--out", str(home / "broker"),
                     "--port", str(plain)])
    assert code == 0, err.getvalue()
    return out.getvalue(), err.getvalue()


# ---- the office's broker folder, with TLS set up the documented way (made once: keys take a while)

@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """office init for a district whose [office] is README's TLS one with cert_port, the certificates made by the
    commands in mosquitto.conf, and init run again: the TLS listeners (password, client certificate) are on."""
    home = tmp_path_factory.mktemp("tls-office")
    plain, tls, cert = free_port(), free_port(), free_port()
    [password_toml, cert_toml] = [b for b in readme_blocks("toml") if b.startswith("[office]")]
    assert cert_toml.startswith(password_toml) and "cert_port = 8884" in cert_toml
    district = on_loopback(cert_toml).replace("127.0.0.1:8883", f"127.0.0.1:{tls}") \
        .replace("cert_port = 8884", f"cert_port = {cert}")
    (home / "district.toml").write_text(district + STATIONS, encoding="utf-8")
    folder, tls_dir = home / "broker", home / "broker" / "tls"
    out, err = init(home, plain)
    assert f"TLS is on: stations connect to mqtts://127.0.0.1:{tls} (port {tls}, every address)" in out
    assert err.splitlines() == [
        f"warning: the certificate files ca.crt, broker.crt, broker.key are not in {tls_dir} yet",
        "warning: the broker will not start until they are made",
        f"warning: the openssl commands that make them are in the comments of {folder / 'mosquitto.conf'}, and in "
        'README.md under "TLS (encrypted connections)"']
    commands = conf_commands((folder / "mosquitto.conf").read_text(encoding="utf-8"))
    assert commands and commands[0].startswith("mkdir -p "), commands
    shell([with_localhost(c) for c in commands], home)
    out, err = init(home, plain)            # as after any change to district.toml
    assert err == "" and f"the plain port {plain} is for this computer only (127.0.0.1)" in out
    conf = (folder / "mosquitto.conf").read_text(encoding="utf-8")
    on = settings(conf)
    for port in (tls, cert):
        at = on.index(f"listener {port}")
        assert on[at + 1:at + 4] == [f"cafile {tls_dir / 'ca.crt'}", f"certfile {tls_dir / 'broker.crt'}",
                                     f"keyfile {tls_dir / 'broker.key'}"]
    assert f"listener {plain} 127.0.0.1" in on and on.count("use_identity_as_username true") == 1
    return SimpleNamespace(home=home, folder=folder, tls_dir=tls_dir, plain=plain, tls=tls, cert=cert, conf=conf,
                           commands=commands)


@pytest.fixture
def broker(office):
    """The office's broker, started afresh (no retained messages or sessions from another test)."""
    shutil.rmtree(office.folder / "data")
    (office.folder / "data").mkdir()
    running = Broker(office.folder, office.tls)
    running.start()
    yield running
    for client in running.clients:
        client.close()
    running.stop()


@pytest.fixture(autouse=True)
def logs_reach_caplog(monkeypatch):
    """`announcer run` in another test may have stopped the station's log from propagating."""
    monkeypatch.setattr(logging.getLogger("announcer"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("announcer"), "level", logging.INFO)


@pytest.fixture
def links(tmp_path):
    made: list[StationLink] = []

    def make(config: Config) -> StationLink:
        link = StationLink(config, tmp_path / f"out-{len(made)}", engine=FakeEngine, send_s=0.2, retry_s=0.5,
                           play=Plays())
        made.append(link)
        return link

    yield make
    for link in made:
        link.stop()


def station(office, port: int, *, station_id: str = "xingfuli", ca_file: Path | None = None, cert: bool = False,
            password: bool = True) -> Config:
    """A station's settings for TLS to `port`: its password and/or its client certificate, and a CA to trust."""
    tls_dir = office.tls_dir
    network = NetworkConfig(broker=f"mqtts://127.0.0.1:{port}", host="127.0.0.1", port=port, station_id=station_id,
                            groups=("east",) if station_id == "xingfuli" else ("west",), username=station_id,
                            password=Broker(office.folder, port).password(station_id) if password else None,
                            tls=True, ca_file=ca_file or tls_dir / "ca.crt",
                            cert_file=tls_dir / f"{station_id}.crt" if cert else None,
                            key_file=tls_dir / f"{station_id}.key" if cert else None)
    return Config(path=None, speech=SpeechConfig(), audio=AudioConfig(format="wav"),
                  station=Station(timezone="Asia/Shanghai"), network=network)


def listen(office, broker):
    """The office's side over TLS: subscribed to every station's status and log."""
    connection = connect(Login("127.0.0.1", office.tls, tls=True, ca_file=office.tls_dir / "ca.crt",
                               username="office", password=broker.password("office")))
    connection.subscribe(STATION_TOPICS)
    broker.clients.append(connection)
    return connection


def online(connection, station_id: str) -> StationStatus:
    def seen():
        for message in connection.receive(0.2):
            found = read_message(message.payload)
            if isinstance(found, StationStatus) and found.station == station_id and found.online:
                return found
    return until(seen, what=f"{station_id} online")


def publish(office, day) -> None:
    """`announcer office publish` with district.toml's mqtts:// broker and ca_file."""
    notices = office.home / "notices.toml"
    notices.write_text('[[notice]]\nid = "gas"\ntitle = "燃气检修"\ntext = "周五燃气检修，请关好阀门。"\n',
                       encoding="utf-8")
    assert main(["office", "publish", str(notices), "--date", str(day), "--district",
                 str(office.home / "district.toml"), "--broker-dir", str(office.folder)]) == 0


def refusal(login: Login) -> str:
    with pytest.raises(BrokerError) as caught:
        connect(login, timeout=3)
    text = str(caught.value)
    assert "\n" not in text
    return text


def enddate(path: Path) -> datetime:
    done = subprocess.run([OPENSSL, "x509", "-noout", "-enddate", "-in", str(path)], capture_output=True, text=True,
                          check=True)
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(done.stdout.strip().removeprefix("notAfter=")),
                                  timezone.utc)


# ---- the certificates

@pytest.mark.real
def test_the_documented_commands_make_certificates_for_ten_years_with_keys_only_the_owner_reads(office):
    tls_dir = office.tls_dir
    for name in ("ca.crt", "broker.crt", "xingfuli.crt"):
        years = (enddate(tls_dir / name) - datetime.now(timezone.utc)).days / 365.25
        assert 9.9 < years < 10.1, (name, years)
    for name in ("ca.key", "broker.key", "xingfuli.key"):
        assert stat.S_IMODE((tls_dir / name).stat().st_mode) == 0o600, name
    done = subprocess.run([OPENSSL, "verify", "-CAfile", "ca.crt", "broker.crt", "xingfuli.crt"], cwd=tls_dir,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text = subprocess.run([OPENSSL, "x509", "-noout", "-text", "-in", "broker.crt"], cwd=tls_dir,
                          capture_output=True, text=True, check=True).stdout
    assert "IP Address:127.0.0.1, DNS:localhost" in text
    # README.md gives the same commands as mosquitto.conf (there made for district.toml's address), so what the
    # test ran is what the user reads
    assert [same(on_loopback(c)) for c in readme_commands() if not c.startswith(("mkdir", "cd"))] == \
           [same(c) for c in office.commands if not c.startswith(("mkdir", "cd"))]
    assert "listener 8884" in readme_tls() and "use_identity_as_username true" in office.conf


# ---- password and TLS

@pytest.mark.real
def test_a_station_over_tls_goes_online_and_builds_the_day_the_office_published_over_tls(office, broker, links):
    listener = listen(office, broker)
    link = links(station(office, office.tls))
    link.start()
    assert online(listener, "xingfuli").online
    day = tomorrow()
    publish(office, day)
    manifest = until(lambda: Library(link.out).manifest(day), what="the build")
    assert [(c["id"], c["tags"]) for c in manifest["clips"]] == [("gas", ["office"])]
    assert link.login().address == f"mqtts://127.0.0.1:{office.tls}"

    # the name in the certificate works too
    by_name = connect(Login("localhost", office.tls, tls=True, ca_file=office.tls_dir / "ca.crt",
                            username="hepingli", password=broker.password("hepingli")))
    by_name.close()


@pytest.mark.real
def test_a_station_config_from_schedule_toml_with_mqtts_and_ca_file_as_readme_shows(office, broker, links,
                                                                                      tmp_path):
    [password_toml, cert_toml] = [b for b in readme_blocks("toml") if b.startswith("[network]")]
    where = tmp_path / "station"
    where.mkdir()
    shutil.copy(office.tls_dir / "ca.crt", where)           # what the docs say to copy next to schedule.toml
    shutil.copy(office.folder / "stations" / "xingfuli.password", where)
    text = on_loopback(password_toml).replace("127.0.0.1:8883", f"127.0.0.1:{office.tls}")
    (where / "schedule.toml").write_text('[station]\ntimezone = "Asia/Shanghai"\n[audio]\nformat = "wav"\n' + text,
                                         encoding="utf-8")
    config = load_config(where / "schedule.toml")
    assert config.network.tls and config.network.ca_file == where / "ca.crt"
    listener = listen(office, broker)
    link = links(config)
    link.start()
    assert online(listener, "xingfuli").online

    # the client certificate's [network], in another folder
    other = tmp_path / "station-cert"
    other.mkdir()
    for name in ("ca.crt", "xingfuli.crt", "xingfuli.key"):
        shutil.copy(office.tls_dir / name, other)
    text = on_loopback(cert_toml).replace("127.0.0.1:8884", f"127.0.0.1:{office.cert}")
    (other / "schedule.toml").write_text(text, encoding="utf-8")
    network = load_config(other / "schedule.toml").network
    assert network.password is None and network.cert_file == other / "xingfuli.crt"
    connect(Login(network.host, network.port, tls=True, ca_file=network.ca_file, cert_file=network.cert_file,
                  key_file=network.key_file, username=network.username)).close()


@pytest.mark.real
def test_running_init_again_keeps_tls_on_so_the_station_is_back_after_the_broker_restarts(office, broker, links):
    link = links(station(office, office.tls))
    link.start()
    until(link.connected, what="the station's connection")
    out, err = init(office.home, office.plain)        # what README says to do after each change to district.toml
    assert err == "" and "TLS is on" in out
    assert (office.folder / "mosquitto.conf").read_text(encoding="utf-8") == office.conf
    broker.restart()
    day = tomorrow()
    publish(office, day)                              # over TLS, to the restarted broker
    manifest = until(lambda: Library(link.out).manifest(day), what="the build after the restart")
    assert [c["id"] for c in manifest["clips"]] == ["gas"]


# ---- a client certificate

@pytest.mark.real
def test_a_station_with_a_client_certificate_logs_in_as_its_name_under_the_same_acl(office, broker, links):
    day = tomorrow()
    publish(office, day)
    listener = listen(office, broker)
    link = links(station(office, office.cert, cert=True, password=False))
    link.start()
    assert online(listener, "xingfuli").online                # it wrote its own status topic
    until(lambda: Library(link.out).manifest(day), what="the build")    # and read its day

    ca, tls_dir = office.tls_dir / "ca.crt", office.tls_dir
    # the name in the certificate is the user: claiming to be the office changes nothing
    with connect(Login("127.0.0.1", office.cert, tls=True, ca_file=ca, cert_file=tls_dir / "xingfuli.crt",
                       key_file=tls_dir / "xingfuli.key", username="office", password="x")) as claimed:
        with pytest.raises(BrokerError, match="refused .* message to announcer/v1/day/all"):
            claimed.publish(TOPICS + "day/all", day_message(day, DayNotice("x", None, "假的。")).to_json())

    # without a certificate that port says nothing: the station is told to set one
    text = refusal(Login("127.0.0.1", office.cert, tls=True, ca_file=ca, username="xingfuli",
                         password=broker.password("xingfuli")))
    assert f"the broker mqtts://127.0.0.1:{office.cert} closed the connection without answering the login: if " \
           "this port asks for a client certificate, set cert_file and key_file in [network]" in text
    # a certificate alone on the password port: told where it works
    text = refusal(Login("127.0.0.1", office.tls, tls=True, ca_file=ca, cert_file=tls_dir / "xingfuli.crt",
                         key_file=tls_dir / "xingfuli.key", username="xingfuli"))
    assert "does not log in with the certificate" in text and "usually 8884" in text and "password_file" in text


# ---- refusals, each one line that says what to do

@pytest.mark.real
def test_a_station_trusting_another_ca_is_refused_with_one_line_naming_its_ca_file(office, broker, links, tmp_path,
                                                                                     caplog, capsys):
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    shell([c for c in office.commands if "-x509" in c], stranger)          # the same command, another CA
    text = refusal(Login("127.0.0.1", office.tls, tls=True, ca_file=stranger / "ca.crt", username="xingfuli",
                         password=broker.password("xingfuli")))
    assert text == (f"the broker mqtts://127.0.0.1:{office.tls} has a certificate not signed by the CA in "
                    f"{stranger / 'ca.crt'}: ca_file must be the ca.crt that signed the broker's certificate "
                    "(tls/ca.crt in the office's broker folder)")
    # what the station's log says: the same line, and that it plays on
    link = links(station(office, office.tls, ca_file=stranger / "ca.crt"))
    link.start()
    until(lambda: "not signed by the CA in" in caplog.text, what="the log line")
    [line] = [r.getMessage() for r in caplog.records if "not signed by the CA in" in r.getMessage()]
    assert line.endswith("; the station plays on, trying again in 0.5 s") and not link.connected()

    # no ca_file at all: the system's CAs do not know the office's
    text = refusal(Login("127.0.0.1", office.tls, tls=True, username="xingfuli", password=broker.password("xingfuli")))
    assert "no ca_file is set: set ca_file to the office's ca.crt" in text

    # the office's command says it the same way, on one line
    district = office.home / "district-stranger.toml"
    district.write_text((office.home / "district.toml").read_text(encoding="utf-8")
                        .replace('ca_file = "broker/tls/ca.crt"', f'ca_file = "{stranger / "ca.crt"}"'),
                        encoding="utf-8")
    capsys.readouterr()
    assert main(["office", "urgent", "停水", "--district", str(district), "--broker-dir", str(office.folder)]) == 1
    err = capsys.readouterr().err
    assert err == (f"error: the broker mqtts://127.0.0.1:{office.tls} has a certificate not signed by the CA in "
                   f"{stranger / 'ca.crt'}: ca_file must be the ca.crt that signed the broker's certificate "
                   "(tls/ca.crt in the office's broker folder)\n")


@pytest.mark.real
def test_a_plain_client_cannot_talk_to_the_tls_port_nor_tls_to_the_plain_one(office, broker):
    password = broker.password("xingfuli")
    text = refusal(Login("127.0.0.1", office.tls, username="xingfuli", password=password))
    assert text == (f"the broker mqtt://127.0.0.1:{office.tls} closed the connection without answering the login: "
                    "if this is its TLS port, write the broker as mqtts:// and set ca_file; otherwise check the "
                    "broker's log")
    text = refusal(Login("127.0.0.1", office.plain, tls=True, ca_file=office.tls_dir / "ca.crt",
                         username="xingfuli", password=password))
    assert text == (f"the broker mqtts://127.0.0.1:{office.plain} does not speak TLS on this port: write the "
                    "broker as mqtt://, or use its TLS port (usually 8883)")


@pytest.mark.real
def test_a_broker_certificate_made_for_another_address_is_refused_by_name(office, tmp_path):
    """README's commands as printed, for 192.168.1.10, signed by the office's CA: the station at 127.0.0.1 is told
    the certificate is not made for it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("ca.crt", "ca.key"):
        shutil.copy(office.tls_dir / name, elsewhere)
    shell([c for c in readme_commands() if "broker." in c or "san.txt" in c], elsewhere)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(office.conf.replace(str(office.tls_dir / "broker."), str(elsewhere / "broker.")),
                    encoding="utf-8")
    port = office.tls
    running = Broker(office.folder, port)
    running.conf = conf
    running.start()
    try:
        text = refusal(Login("127.0.0.1", port, tls=True, ca_file=office.tls_dir / "ca.crt", username="xingfuli",
                             password=running.password("xingfuli")))
    finally:
        running.stop()
    assert text == (f"the broker mqtts://127.0.0.1:{port} has a certificate not made for 127.0.0.1: write the "
                    "address the certificate names as broker, or make the broker's certificate again with "
                    "127.0.0.1 in its subjectAltName (the openssl commands in mosquitto.conf)")


def test_an_expired_or_not_yet_valid_broker_certificate_says_what_to_do():
    login = Login("192.168.1.10", 8883, tls=True, ca_file=Path("ca.crt"))
    said = {}
    for code in (9, 10):                    # OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
        error = ssl.SSLCertVerificationError(1, "certificate verify failed")
        error.verify_code = code
        said[code] = _tls_error(login, error)
        assert "\n" not in said[code].message("zh") and "\n" not in said[code].message("en")
    assert str(said[10]) == ("the broker mqtts://192.168.1.10:8883 has an expired certificate: make the broker's "
                             "certificate again at the office (the openssl commands in mosquitto.conf) and restart "
                             "the broker, or check this computer's date and time")
    assert str(said[9]) == ("the broker mqtts://192.168.1.10:8883 has a certificate that is not valid yet: check "
                            "this computer's date and time")
