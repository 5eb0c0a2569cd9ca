"""district.toml: the office's list of its stations, read and checked like schedule.toml.

```toml
[office]
broker = "mqtt://127.0.0.1:1883"     # mqtt:// or mqtts:// (TLS); host and port
# ca_file = "ca.crt"                 # TLS: the CA that signed the broker's certificate
# cert_port = 8884                   # TLS: a second port, where stations log in with a client certificate
[[station]]
id = "xingfuli"
name = "幸福里社区"
groups = ["east"]
```
Every problem is reported at once, each with the file and line (exit code 2, like the settings).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from announcer.core.config import STATION_ID, broker_address
from announcer.core.config.schema import (TEXT, TEXT_LIST, WHOLE, Field, Invalid, Problem, Table, Tables, check, label,
                                          show)
from announcer.core.errors import AnnouncerError, ConfigError
from announcer.core.textfile import Role, read_text
from announcer.core.tomlpos import TomlLines, explain_syntax_error

OFFICE_USER = "office"                         # the office's user name on the broker; no station may take it
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
DISTRICT_ROLE = Role(("辖区文件", "district file"), None,
                     ("请用记事本编辑 district.toml，保存为文本文件再用",
                      "edit district.toml in Notepad and save it as a text file"), 1_000_000,
                     ("辖区文件只列出各个站点，只有几 KB；请检查是不是选错了文件",
                      "a district file only lists the stations, a few KB; check that this is the right file"))


@dataclass(frozen=True)
class DistrictStation:
    id: str                          # also its user name on the broker
    name: str                        # what people call it; the id when not given
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class District:
    path: Path
    broker: str                      # "mqtt://host:port", the port always written
    host: str
    port: int
    tls: bool                        # mqtts://
    ca_file: Path | None             # absolute
    stations: tuple[DistrictStation, ...]
    cert_port: int | None = None     # TLS: the port where stations log in with a client certificate


def _id(what: tuple[str, str], user: bool = False):
    """A checker of ids; `user`: the id is also a user name on the broker."""
    def parse(text: str) -> str:
        if not STATION_ID.fullmatch(text):
            raise Invalid(f"{show(text)} 不能做{what[0]}：只能用小写英文字母、数字和 -，以字母或数字开头，最多 40 个字符，"
                          '如 "xingfuli"',
                          f"{show(text)} can't be {what[1]}: use lowercase English letters, digits and -, starting "
                          'with a letter or digit, at most 40 characters, like "xingfuli"')
        if user and text == OFFICE_USER:
            raise Invalid(f'"{OFFICE_USER}" 是街道办在服务器上的用户名，站点不能用；请换一个',
                          f'"{OFFICE_USER}" is the office\'s user name on the broker, so no station can have it; '
                          "choose another")
        return text
    return parse


def _groups(groups: tuple[str, ...]) -> tuple[str, ...]:
    check_one = _id(("分组名", "a group name"))
    for i, group in enumerate(groups):
        try:
            check_one(group)
        except Invalid as error:
            raise Invalid(error.zh, error.en, (i,)) from None
    return tuple(dict.fromkeys(groups))


def _broker(text: str) -> str:
    """The address with its port always written."""
    host, port, tls = broker_address(text)
    return f"{'mqtts' if tls else 'mqtt'}://{f'[{host}]' if ':' in host else host}:{port}"


def _office(values: dict[str, Any]) -> dict[str, Any]:
    host, port, tls = broker_address(values["broker"])
    cert_port = values.get("cert_port")
    if cert_port is not None and not tls:
        raise Invalid('客户端证书只能用于加密连接：请把 broker 写成 "mqtts://服务器地址:8883"，或删掉 cert_port',
                      'client certificates need TLS: write broker as "mqtts://<broker address>:8883", or remove '
                      "cert_port", ("cert_port",))
    if cert_port == port:
        raise Invalid(f"{cert_port} 已经是 broker 的端口；cert_port 要用另一个端口，如 8884",
                      f"{cert_port} is already the broker's port; cert_port needs another one, like 8884",
                      ("cert_port",))
    return {**values, "host": host, "port": port, "tls": tls}


def _station(values: dict[str, Any]) -> DistrictStation:
    return DistrictStation(values["id"], values.get("name") or values["id"], values.get("groups", ()))


def district_schema() -> Table:
    return Table({
        "office": Table({
            "broker": Field(TEXT, default=DEFAULT_BROKER, parse=_broker),
            "ca_file": Field(TEXT),
            "cert_port": Field(WHOLE, min=1, max=65535,
                               expect=("请写端口号，如 8884", "write a port number, like 8884")),
        }, make=_office),
        "station": Tables(Table({
            "id": Field(TEXT, required=True, parse=_id(("站点编号", "a station id"), user=True)),
            "name": Field(TEXT),
            "groups": Field(TEXT_LIST, parse=_groups),
        }, hints={"station_id": "id", "group": "groups", "title": "name"}, make=_station), to="stations"),
    }, hints={"stations": "station"})


def load_district(path: Path) -> District:
    """Read and check district.toml. Raises ConfigError listing every problem with its line."""
    try:
        text = read_text(path, AnnouncerError, DISTRICT_ROLE)
    except AnnouncerError as error:
        raise ConfigError([error]) from None
    return parse_district(text, path)


def parse_district(text: str, path: Path) -> District:
    name = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, zh, en = explain_syntax_error(str(error), text)
        raise ConfigError([AnnouncerError(zh, en, where=f"{name}:{line}")]) from None
    lines = TomlLines(text)
    problems: list[Problem] = []
    values = check(data, district_schema(), (), problems)
    stations = [s for s in values.get("stations", []) if isinstance(s, DistrictStation)]
    seen: dict[str, int] = {}
    for i, entry in enumerate(data.get("station", []) if isinstance(data.get("station"), list) else []):
        sid = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(sid, str) and sid.strip() in seen:
            first = lines.line(("station", seen[sid.strip()], "id"))
            problems.append(Problem(("station", i, "id"), f"站点编号 {show(sid)} 在第 {first} 行已经用过；每个站点的编号要不同",
                                    f"the station id {show(sid)} is already used on line {first}; "
                                    "each station needs its own id"))
        elif isinstance(sid, str):
            seen[sid.strip()] = i
    if not problems and not stations:
        problems.append(Problem((), "还没有列出任何站点；请为每个社区加一段 [[station]]，写上 id、name 和 groups",
                                "no stations are listed; add a [[station]] with id, name and groups for each "
                                "community"))
    if problems:
        located = sorted(((lines.line(p.path), p) for p in problems), key=lambda item: item[0])
        raise ConfigError([AnnouncerError(p.zh, p.en, where=f"{name}:{line} {label(p.path)}".rstrip())
                           for line, p in located])
    office = values["office"]
    ca_file = office.get("ca_file")
    return District(path=path, broker=office["broker"], host=office["host"], port=office["port"], tls=office["tls"],
                    ca_file=(path.parent / ca_file).resolve() if ca_file else None, stations=tuple(stations),
                    cert_port=office.get("cert_port"))
