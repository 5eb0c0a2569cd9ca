"""[network] in schedule.toml: the station's connection to its office's MQTT broker."""

from pathlib import Path

import pytest

from announcer.core.config import STATION_ID, NetworkConfig, load_config
from announcer.core.errors import ConfigError

BASE = '[network]\nbroker = "mqtt://192.168.1.10"\nstation_id = "xingfuli"\n'


def write(folder: Path, text: str) -> Path:
    path = folder / "schedule.toml"
    path.write_text(text, "utf-8")
    return path


def network(folder: Path, text: str) -> NetworkConfig:
    found = load_config(write(folder, text)).network
    assert found is not None
    return found


def refused(folder: Path, text: str, language: str = "en") -> list[str]:
    """Every problem with `text`, as "LINE key: message" (the file name checked and taken off)."""
    path = write(folder, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = caught.value.message(language).splitlines()
    assert all(line.startswith(f"{path}:") for line in lines), lines
    return [line.removeprefix(f"{path}:") for line in lines]


# --- absent, smallest, every key --------------------------------------------------

def test_no_network_section_is_none(tmp_path):
    assert load_config(write(tmp_path, '[station]\nname = "x"\n')).network is None
    assert load_config(None).network is None


def test_the_smallest_section_and_its_defaults(tmp_path):
    got = network(tmp_path, BASE)
    assert got == NetworkConfig(broker="mqtt://192.168.1.10:1883", host="192.168.1.10", port=1883,
                                station_id="xingfuli", groups=(), username="xingfuli", password=None, tls=False)


def test_every_key_is_read(tmp_path):
    (tmp_path / "certs").mkdir()
    for name in ("ca.crt", "xingfuli.crt", "xingfuli.key"):
        (tmp_path / "certs" / name).write_text("-----BEGIN-----\n", "utf-8")
    got = network(tmp_path, '''[network]
broker = "mqtts://office.example.org:18883"
station_id = "xingfuli-2"
groups = ["east", "school"]
username = "xfl"
password = "tea-kettle-41"
tls = true
ca_file = "certs/ca.crt"
cert_file = "certs/xingfuli.crt"
key_file = "certs/xingfuli.key"
''')
    assert got == NetworkConfig(broker="mqtts://office.example.org:18883", host="office.example.org", port=18883,
                                station_id="xingfuli-2", groups=("east", "school"), username="xfl",
                                password="tea-kettle-41", tls=True, ca_file=tmp_path / "certs" / "ca.crt",
                                cert_file=tmp_path / "certs" / "xingfuli.crt",
                                key_file=tmp_path / "certs" / "xingfuli.key")
    assert "tea-kettle-41" not in repr(got)      # a printed config does not show the password


@pytest.mark.parametrize("broker, shown, host, port, tls", [
    ("mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883", "127.0.0.1", 1883, False),
    ("mqtt://broker.local", "mqtt://broker.local:1883", "broker.local", 1883, False),
    ("mqtts://broker.local", "mqtts://broker.local:8883", "broker.local", 8883, True),
    ("MQTTS://Broker.Local:443/", "mqtts://Broker.Local:443", "Broker.Local", 443, True),
    ("mqtt://[::1]:1884", "mqtt://[::1]:1884", "::1", 1884, False),
    ("mqtts://[fd00::2]", "mqtts://[fd00::2]:8883", "fd00::2", 8883, True),
    ("  mqtt://office  ", "mqtt://office:1883", "office", 1883, False),
])
def test_broker_addresses(tmp_path, broker, shown, host, port, tls):
    got = network(tmp_path, f'[network]\nbroker = "{broker}"\nstation_id = "a"\n')
    assert (got.broker, got.host, got.port, got.tls) == (shown, host, port, tls)


@pytest.mark.parametrize("broker, message", [
    ("192.168.1.10:1883", '"192.168.1.10:1883" is not a broker address; did you mean "mqtt://192.168.1.10:1883"? '
                          '(write it as "mqtt://host:port", or "mqtts://host:port" for TLS)'),
    ("tcp://office:1883", '"tcp://office:1883" is not a broker address; did you mean "mqtt://office:1883"? '
                          '(write it as "mqtt://host:port", or "mqtts://host:port" for TLS)'),
    ("ssl://office", '"ssl://office" is not a broker address; did you mean "mqtts://office"? '
                     '(write it as "mqtt://host:port", or "mqtts://host:port" for TLS)'),
    ("http://office", '"http://office" is not a broker address; write it as "mqtt://host:port", or '
                      '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://office:0", '"mqtt://office:0" is not a broker address; write it as "mqtt://host:port", or '
                        '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://office:70000", '"mqtt://office:70000" is not a broker address; write it as "mqtt://host:port", or '
                            '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://office:port", '"mqtt://office:port" is not a broker address; write it as "mqtt://host:port", or '
                           '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://office/topic", '"mqtt://office/topic" is not a broker address; write it as "mqtt://host:port", or '
                            '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://", '"mqtt://" is not a broker address; write it as "mqtt://host:port", or '
                '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://my office", '"mqtt://my office" is not a broker address; write it as "mqtt://host:port", or '
                         '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://[nothing]:1883", '"mqtt://[nothing]:1883" is not a broker address; write it as "mqtt://host:port", '
                              'or "mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"'),
    ("mqtt://xfl:hunter22@office", "the address may not hold a user name or password; write them as username and "
                                   "password (or password_file)"),
])
def test_bad_broker_addresses(tmp_path, broker, message):
    assert refused(tmp_path, f'[network]\nbroker = "{broker}"\nstation_id = "a"\n') == [
        f"2 network.broker: {message}"]


def test_a_password_in_the_address_is_not_repeated(tmp_path):
    [got] = refused(tmp_path, '[network]\nbroker = "mqtt://xfl:hunter22@office"\nstation_id = "a"\n', "zh")
    assert "hunter22" not in got
    assert got == "2 network.broker: 地址里不要写用户名和密码；请分别写在 username 和 password（或 password_file）里"


def test_broker_message_in_chinese(tmp_path):
    assert refused(tmp_path, '[network]\nbroker = "office:1883"\nstation_id = "a"\n', "zh") == [
        '2 network.broker: "office:1883" 不是消息服务器（broker）地址；您是不是想写 "mqtt://office:1883"？'
        '（请写成 "mqtt://主机:端口"，加密连接写 "mqtts://主机:端口"）']


# --- station_id and groups ----------------------------------------------------------

@pytest.mark.parametrize("station_id", ["xingfuli", "a", "0", "east-3", "x" * 40, "9-lou-"])
def test_good_station_ids(tmp_path, station_id):
    got = network(tmp_path, f'[network]\nbroker = "mqtt://h"\nstation_id = "{station_id}"\n')
    assert got.station_id == got.username == station_id
    assert STATION_ID.fullmatch(station_id)


@pytest.mark.parametrize("station_id, hint", [
    ("XingFuLi", 'did you mean "xingfuli"? '),
    ("xing_fu li", 'did you mean "xing-fu-li"? '),
    ("-east", 'did you mean "east"? '),
    ("幸福里", ""),
    ("x" * 41, ""),
])
def test_bad_station_ids(tmp_path, station_id, hint):
    [got] = refused(tmp_path, f'[network]\nbroker = "mqtt://h"\nstation_id = "{station_id}"\n')
    assert got.startswith("3 network.station_id: ")
    assert got.endswith(f"is not a station id; {hint}an id is small letters, digits and dashes (-), starting with a "
                        "letter or digit, at most 40, as the office's district.toml names it")


def test_station_id_message_in_chinese(tmp_path):
    assert refused(tmp_path, '[network]\nbroker = "mqtt://h"\nstation_id = "XFL"\n', "zh") == [
        '3 network.station_id: "XFL" 不是站点编号；您是不是想写 "xfl"？编号只用小写字母、数字和短横线（-），'
        "以字母或数字开头，最多 40 个，和街道办 district.toml 里的写法一致"]


@pytest.mark.parametrize("text, message", [
    ('groups = ["east", "East"]', '4 network.groups[2]: "East" is not a group id; did you mean "east"? an id is '
                                  "small letters, digits and dashes (-), starting with a letter or digit, at most 40, "
                                  "as the office's district.toml names it"),
    ('groups = [\n  "east",\n  "school",\n  "east",\n]', '7 network.groups[3]: "east" is listed twice; '
                                                         "list each group once"),
    ('groups = "east"', '4 network.groups: "east" is not a list of words; write it like ["east", "school"]'),
    ('groups = ["east", 3]', '4 network.groups: [ ... ] is not a list of words; write it like ["east", "school"]'),
])
def test_bad_groups(tmp_path, text, message):
    assert refused(tmp_path, BASE + text + "\n") == [message]


def test_groups_may_be_empty(tmp_path):
    assert network(tmp_path, BASE + "groups = []\n").groups == ()


def test_groups_message_in_chinese(tmp_path):
    assert refused(tmp_path, BASE + 'groups = ["a", "a"]\n', "zh") == [
        '4 network.groups[2]: "a" 写了两次；每个分组只写一次']


# --- missing and unknown keys -----------------------------------------------------

def test_broker_and_station_id_are_required(tmp_path):
    assert refused(tmp_path, "[network]\n") == ["1 network.broker: is missing; add broker = ...",
                                                "1 network.station_id: is missing; add station_id = ..."]
    assert refused(tmp_path, "[network]\n", "zh") == ["1 network.broker: 缺少这一项；请加上 broker = ...",
                                                      "1 network.station_id: 缺少这一项；请加上 station_id = ..."]


@pytest.mark.parametrize("text, message", [
    ('host = "x"', 'network.host: unknown setting; did you mean "broker"?'),
    ('user = "x"', 'network.user: unknown setting; did you mean "username"?'),
    ('station_ids = "x"', 'network.station_ids: unknown setting; did you mean "station_id"?'),
    ('passwordfile = "x"', 'network.passwordfile: unknown setting; did you mean "password_file"?'),
    ('certfile = "x"', 'network.certfile: unknown setting; did you mean "cert_file"?'),
])
def test_unknown_keys(tmp_path, text, message):
    assert refused(tmp_path, BASE + text + "\n") == [f"4 {message}"]


def test_network_keys_outside_their_section(tmp_path):
    assert refused(tmp_path, 'station_id = "a"\n[network]\nbroker = "mqtt://h"\n') == [
        "1 station_id: this setting belongs in [network]; move it below the [network] line",
        "2 network.station_id: is missing; add station_id = ..."]
    assert refused(tmp_path, '[networks]\nbroker = "mqtt://h"\n') == [
        "1 networks: unknown section; did you mean [network]?"]


def test_every_network_problem_at_once(tmp_path):
    assert refused(tmp_path, '[network]\nbroker = "http://h"\nstation_id = "X Y"\ntls = "yes"\nusername = 5\n') == [
        '2 network.broker: "http://h" is not a broker address; write it as "mqtt://host:port", or '
        '"mqtts://host:port" for TLS, like "mqtt://192.168.1.10:1883"',
        '3 network.station_id: "X Y" is not a station id; did you mean "x-y"? an id is small letters, digits and '
        "dashes (-), starting with a letter or digit, at most 40, as the office's district.toml names it",
        '4 network.tls: "yes" is not true or false; write true or false, without quotes',
        '5 network.username: 5 is not text; put the text in double quotes, like "Sunny Court"']


# --- passwords ------------------------------------------------------------------------

def test_password_file_first_line_relative_to_the_settings_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)           # not the settings file's folder
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "station.password").write_bytes("\ufeff  tea-kettle-41 \r\nsecond line\n".encode())
    got = network(tmp_path, BASE + 'password_file = "secrets/station.password"\n')
    assert got.password == "tea-kettle-41"


def test_password_file_by_full_path(tmp_path):
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("p4ss-word", "utf-8")
    assert network(tmp_path, BASE + f'password_file = "{secret}"\n').password == "p4ss-word"


def test_password_as_text(tmp_path):
    assert network(tmp_path, BASE + 'password = "tea-kettle-41"\n').password == "tea-kettle-41"


def test_password_and_password_file_not_both(tmp_path):
    (tmp_path / "pw").write_text("a\n", "utf-8")
    assert refused(tmp_path, BASE + 'password = "x"\npassword_file = "pw"\n') == [
        "5 network.password_file: write password or password_file, not both; delete one of them"]
    assert refused(tmp_path, BASE + 'password = "x"\npassword_file = "pw"\n', "zh") == [
        "5 network.password_file: password 和 password_file 只能写一个；请删除其中一个"]


def test_missing_password_file(tmp_path):
    assert refused(tmp_path, BASE + 'password_file = "station.password"\n') == [
        f'4 network.password_file: the password file "station.password" was not found (looked in {tmp_path}); '
        "put it next to schedule.toml, or write its full path"]
    assert refused(tmp_path, BASE + 'password_file = "station.password"\n', "zh") == [
        f'4 network.password_file: 找不到密码文件 "station.password"（在 {tmp_path} 里找过）；'
        "请把文件放到 schedule.toml 旁边，或写出完整路径"]


def test_password_file_that_is_a_folder(tmp_path):
    (tmp_path / "pw").mkdir()
    [got] = refused(tmp_path, BASE + 'password_file = "pw"\n')
    assert got.startswith('4 network.password_file: the password file "pw" was not found')


def test_unreadable_password_file(tmp_path, monkeypatch):
    (tmp_path / "pw").write_text("secret\n", "utf-8")
    monkeypatch.setattr("announcer.core.config.sections.os.access", lambda path, mode: False)
    assert refused(tmp_path, BASE + 'password_file = "pw"\n') == [
        f"4 network.password_file: the password file {tmp_path / 'pw'} cannot be read (no permission); "
        "let the user running announcer read it"]


@pytest.mark.parametrize("content, message", [
    (b"\n\nsecret\n", "the first line of the password file {file} is empty; write the password on it"),
    (b"", "the first line of the password file {file} is empty; write the password on it"),
    (b"\xff\xfesecret", "the password file {file} is not UTF-8 text; save it as UTF-8"),
])
def test_bad_password_file_content(tmp_path, content, message):
    (tmp_path / "pw").write_bytes(content)
    assert refused(tmp_path, BASE + 'password_file = "pw"\n') == [
        f"4 network.password_file: {message.format(file=tmp_path / 'pw')}"]


def test_empty_password(tmp_path):
    assert refused(tmp_path, BASE + 'password = "  "\n') == [
        "4 network.password: is empty; fill it in or delete the line"]


# --- TLS ----------------------------------------------------------------------------

def test_tls_follows_the_address_and_may_be_turned_on(tmp_path):
    assert network(tmp_path, BASE + "tls = true\n").tls is True
    assert network(tmp_path, BASE + "tls = false\n").tls is False
    got = network(tmp_path, '[network]\nbroker = "mqtts://h"\nstation_id = "a"\ntls = true\n')
    assert got.tls and got.port == 8883


def test_tls_false_with_mqtts_is_a_contradiction(tmp_path):
    text = '[network]\nbroker = "mqtts://h"\nstation_id = "a"\ntls = false\n'
    assert refused(tmp_path, text) == [
        '4 network.tls: "mqtts://" means TLS, which contradicts tls = false; delete tls = false, or write the '
        'address as "mqtt://..." to connect without TLS']
    assert refused(tmp_path, text, "zh") == [
        '4 network.tls: "mqtts://" 就是加密连接，和 tls = false 矛盾；要加密请删除 tls = false，'
        '不加密请把地址改成 "mqtt://..."']


def make_certs(folder: Path) -> None:
    for name in ("ca.crt", "station.crt", "station.key"):
        (folder / name).write_text("-----BEGIN-----\n", "utf-8")


def test_client_certificate_without_a_password(tmp_path):
    make_certs(tmp_path)
    got = network(tmp_path, '[network]\nbroker = "mqtts://h"\nstation_id = "a"\n'
                            'cert_file = "station.crt"\nkey_file = "station.key"\n')
    assert (got.cert_file, got.key_file, got.ca_file, got.password) == (
        tmp_path / "station.crt", tmp_path / "station.key", None, None)


def test_tls_with_mqtt_and_a_ca_file(tmp_path):
    make_certs(tmp_path)
    got = network(tmp_path, BASE + 'tls = true\nca_file = "ca.crt"\n')
    assert got.tls and got.port == 1883 and got.ca_file == tmp_path / "ca.crt"


@pytest.mark.parametrize("text, message", [
    ('tls = true\ncert_file = "station.crt"', '5 network.cert_file: a certificate and its key go together: '
                                              'add key_file = "...", or delete cert_file'),
    ('tls = true\nkey_file = "station.key"', '5 network.key_file: a certificate and its key go together: '
                                             'add cert_file = "...", or delete key_file'),
    ('ca_file = "ca.crt"', '4 network.ca_file: ca_file is only used with TLS; write the address as '
                           '"mqtts://..." or add tls = true, or delete this line'),
    ('tls = false\ncert_file = "station.crt"\nkey_file = "station.key"',
     '5 network.cert_file: cert_file is only used with TLS; write the address as "mqtts://..." or add '
     'tls = true, or delete this line'),
    ('tls = true\nca_file = "nowhere.crt"',
     '5 network.ca_file: the CA certificate file "nowhere.crt" was not found (looked in {folder}); put it next to '
     'schedule.toml, or write its full path'),
    ('tls = true\ncert_file = "x.crt"\nkey_file = "station.key"',
     '5 network.cert_file: the certificate file "x.crt" was not found (looked in {folder}); put it next to '
     'schedule.toml, or write its full path'),
    ('tls = true\ncert_file = "station.crt"\nkey_file = "x.key"',
     '6 network.key_file: the key file "x.key" was not found (looked in {folder}); put it next to '
     'schedule.toml, or write its full path'),
    ('tls = "on"', '4 network.tls: "on" is not true or false; write true or false, without quotes'),
])
def test_bad_tls_settings(tmp_path, text, message):
    make_certs(tmp_path)
    assert refused(tmp_path, BASE + text + "\n") == [message.format(folder=tmp_path)]


def test_tls_messages_in_chinese(tmp_path):
    make_certs(tmp_path)
    assert refused(tmp_path, BASE + 'tls = true\ncert_file = "station.crt"\n', "zh") == [
        '5 network.cert_file: 证书和私钥要一起写：请加上 key_file = "..."，或删除 cert_file']
    assert refused(tmp_path, BASE + 'ca_file = "ca.crt"\n', "zh") == [
        '4 network.ca_file: ca_file 只用于加密连接（TLS）；请把地址写成 "mqtts://..." 或加上 tls = true，或删除这一行']
    assert refused(tmp_path, BASE + 'tls = true\nkey_file = "k.key"\n', "zh") == [
        f'5 network.key_file: 找不到私钥文件 "k.key"（在 {tmp_path} 里找过）；'
        "请把文件放到 schedule.toml 旁边，或写出完整路径"]


def test_unreadable_key_file(tmp_path, monkeypatch):
    make_certs(tmp_path)
    monkeypatch.setattr("announcer.core.config.sections.os.access", lambda path, mode: False)
    assert refused(tmp_path, BASE + 'tls = true\ncert_file = "station.crt"\nkey_file = "station.key"\n') == [
        f"5 network.cert_file: the certificate file {tmp_path / 'station.crt'} cannot be read (no permission); "
        "let the user running announcer read it",
        f"6 network.key_file: the key file {tmp_path / 'station.key'} cannot be read (no permission); "
        "let the user running announcer read it"]


# --- the example file -------------------------------------------------------------------

def test_the_example_network_block_works_once_uncommented(tmp_path):
    """The commented-out [network] in the repository's schedule.toml is a working section when uncommented."""
    text = (Path(__file__).parent.parent / "schedule.toml").read_text("utf-8")
    start = text.index("# [network]")
    block = []
    for line in text[start:].splitlines():
        if not line.startswith("# "):
            break
        block.append(line.removeprefix("# "))
    (tmp_path / "station.password").write_text("tea-kettle-41\n", "utf-8")
    (tmp_path / "ca.crt").write_text("-----BEGIN-----\n", "utf-8")
    got = network(tmp_path, "\n".join(block) + "\n")
    assert got.station_id == "xingfuli" and got.password == "tea-kettle-41" and got.groups == ("east",)
    assert got.tls and got.ca_file == tmp_path / "ca.crt"
    assert load_config(Path(__file__).parent.parent / "schedule.toml").network is None
