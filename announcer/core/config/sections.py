"""schedule.toml's sections, each with its fields and rules, and reading the file into a Config."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from announcer.core.config.choices import DEFAULT_ENGINES, ENGINE_NAMES, LANGUAGES, PLAYER_NAMES, VOICES
from announcer.core.config.schema import (BOOL, DURATION, NUMBER, SECONDS, TEXT, TEXT_LIST, WHOLE, Field, Invalid, Kind,
                                          Problem, Table, Tables, check, closest, label, show, to_number, to_text)
from announcer.core.config.settings import (DEFAULT_PACE, MANUAL, PACE_PRESETS, AudioConfig, Broadcast, Config,
                                            NetworkConfig, SpeechConfig, Station, WebConfig)
from announcer.core.config.timing import (CLOCK, CLOCKS, DATES, MOMENT, NAMES, check_timing, clip_choice,
                                          cron_expression, every_seconds, some_times, to_days, to_quiet_hours)
from announcer.core.errors import AnnouncerError, ConfigError, shorten
from announcer.core.textfile import SETTINGS_ROLE, ZhEn, read_text
from announcer.core.tomlpos import TomlLines, explain_syntax_error


# ---------------------------------------------------------------------------
# schedule.toml

def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
        return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    close = closest(name, sorted(zoneinfo.available_timezones()), cutoff=0.7)
    if close:
        raise Invalid(f"{show(name)} 不是时区名称；您是不是想写 \"{close}\"？",
                      f"{show(name)} is not a time zone; did you mean \"{close}\"?")
    raise Invalid(f'{show(name)} 不是时区名称；请用 "Asia/Shanghai" 这样的名称',
                  f'{show(name)} is not a time zone; use a name like "Asia/Shanghai"')


def _pace_factor(value: Any) -> float:
    if isinstance(value, str) and value.strip().lower() in PACE_PRESETS:
        return PACE_PRESETS[value.strip().lower()]
    number = to_number(value)
    if not 0 < number <= 2:
        raise Invalid(f"{show(value)} 超出范围；请用大于 0、不超过 2 的数字（1.0 = 正常）",
                      f"{show(value)} is out of range; use a number above 0 and up to 2 (1.0 = normal)")
    return number


PACE = Kind("语速", "a pace", _pace_factor)
_PACE_EXPECT = ('请用 "slow"、"normal"、"fast" 或一个数字', 'use "slow", "normal", "fast" or a number')
CHIME_PRESETS = ("two-tone", "none")


def _chime(folder: Path) -> Callable[[str], str]:
    def resolve(value: str) -> str:
        if value.lower() in CHIME_PRESETS:
            return value.lower()
        sound = _found_file(folder, value)
        if sound is None:
            raise Invalid(f"找不到声音文件 {show(value)}（在 {folder} 里找过）；请把文件放到 schedule.toml 旁边，"
                          f'或写 "two-tone" / "none"',
                          f"the sound file {show(value)} was not found (looked in {folder}); put it next to "
                          f'schedule.toml, or write "two-tone" or "none"')
        return str(sound)
    return resolve


# Words people write for a country, beyond the codes (an English name is looked up in `holidays`).
_COUNTRY_WORDS = {"中国": "CN", "中华人民共和国": "CN", "香港": "HK", "澳门": "MO"}


def _country(value: str) -> str:
    """A country code the `holidays` library has a calendar for, in capitals."""
    from holidays.registry import COUNTRIES   # the codes, without importing 250 calendars

    codes = sorted(entry[1] for entry in COUNTRIES.values())
    if value.upper() in codes:
        return value.upper()
    import holidays

    entity = getattr(holidays, value.title().replace(" ", ""), None)
    hint = _COUNTRY_WORDS.get(value) or getattr(entity, "country", None) or closest(value.upper(), list(codes))
    if hint in codes:
        raise Invalid(f'{show(value)} 不是国家代码；您是不是想写 "{hint}"？',
                      f'{show(value)} is not a country code; did you mean "{hint}"?')
    raise Invalid(f'{show(value)} 不是节假日日历认识的国家代码；请用两个字母的代码，如 "CN"（中国）',
                  f'{show(value)} is not a country code the holiday calendar knows; use a two-letter code, '
                  'like "CN" (China)')


def _same_names(entries: list[dict[str, Any]], lines: TomlLines) -> list[Problem]:
    """Each broadcast's name is its own (the play log goes by it); a repeat names the first one's line."""
    first: dict[str, int] = {}
    found = []
    for index, entry in enumerate(entries):
        name = entry.get("name")
        if name is None:
            continue
        if name.casefold() not in first:
            first[name.casefold()] = index
            continue
        other = ("broadcast", first[name.casefold()])
        line = lines.line(other)
        found.append(Problem(("broadcast", index, "name"),
                             f"{show(name)} 已经是第 {line} 行 {label(other)} 的名称；每个广播请用不同的名称",
                             f"{show(name)} is already the name of {label(other)} (line {line}); "
                             "give each broadcast its own name"))
    return found


def config_schema(folder: Path) -> Table:
    """The settings schedule.toml may hold. `folder`: where relative file paths start."""
    voice = Field(TEXT, expect=('请写语音名称，如 "jf_alpha"', 'write a voice name, like "jf_alpha"'))
    engine = Field(TEXT, choices=ENGINE_NAMES, noun=("语音引擎", "an engine"))
    return Table({
        "station": Table({
            "name": Field(TEXT),
            "timezone": Field(TEXT, parse=_timezone),
            "language": Field(TEXT, choices=("zh", "en"), noun=("界面语言", "a language")),
            "quiet_hours": Table({"from": Field(CLOCK, required=True, to="start"),
                                  "to": Field(CLOCK, required=True, to="end")},
                                 expect=('请写成 quiet_hours = { from = "21:30", to = "07:00" }',
                                         'write it as quiet_hours = { from = "21:30", to = "07:00" }'),
                                 hints={"until": "to", "start": "from", "end": "to"}, make=to_quiet_hours, fill=False),
            "holidays": Field(DATES, parse=lambda days: tuple(sorted(days))),
            "country": Field(TEXT, parse=_country),
            "player": Field(TEXT, choices=("auto", *PLAYER_NAMES),
                            noun=("播放程序", "a player")),
            "device": Field(TEXT),
        }),
        "speech": Table({
            "engine": Field(TEXT, choices=ENGINE_NAMES, noun=("语音引擎", "an engine")),
            "engines": Table({"zh": engine, "en": engine}, fill=False,
                             expect=('请写成 engines = { zh = "kokoro", en = "piper" }',
                                     'write it as engines = { zh = "kokoro", en = "piper" }')),
            "voices": Table({"zh": voice, "en": voice},
                            expect=('请写成 voices = { zh = "...", en = "..." }',
                                    'write it as voices = { zh = "...", en = "..." }')),
            "pace": Field(PACE, expect=_PACE_EXPECT, default=1.0),
            "zh_pace": Field(NUMBER, min=1.5, max=7, unit=("音节/秒", "syllables/s"), default=DEFAULT_PACE["zh"]),
            "en_pace": Field(NUMBER, min=60, max=260, unit=("词/分钟", "words/min"), default=DEFAULT_PACE["en"]),
            "sentence_pause": Field(DURATION, min=0, max=3, unit=SECONDS, to="sentence_pause_s"),
            "comma_pause": Field(DURATION, min=0, max=3, unit=SECONDS, to="comma_pause_s"),
        }, make=_speech),
        "audio": Table({
            "loudness": Field(NUMBER, min=-30, max=-9, unit=("LUFS", "LUFS"), to="loudness_lufs"),
            "true_peak": Field(NUMBER, min=-6, max=0, unit=("dBTP", "dBTP"), to="true_peak_dbtp"),
            "highpass": Field(NUMBER, min=0, max=300, unit=("Hz", "Hz"), to="highpass_hz"),
            "compress": Field(BOOL),
            "chime": Field(TEXT, parse=_chime(folder)),
            "repeat": Field(WHOLE, min=1, max=10),
            "repeat_gap": Field(DURATION, min=0, max=60, unit=SECONDS, to="repeat_gap_s"),
            "lead_in": Field(DURATION, min=0, max=3, unit=SECONDS, to="lead_in_s"),
            "lead_in_sound": Field(TEXT, choices=("wake", "silence")),
            "format": Field(TEXT, choices=("mp3", "wav"), noun=("音频格式", "an audio format")),
            "bitrate": Field(WHOLE, min=64, max=320, unit=("kbps", "kbps"), to="bitrate_kbps"),
            "sample_rate": Field(WHOLE, choices=(22050, 44100, 48000), noun=("采样率", "a sample rate")),
        }),
        "web": Table({
            "token": Field(Kind("口令", "a token", _token)),
            "upload_limit": Field(NUMBER, min=1, max=500, unit=("MB", "MB"), to="upload_limit_mb"),
        }),
        "network": Table({
            "broker": Field(TEXT, required=True, parse=_broker),
            "station_id": Field(TEXT, required=True, parse=_district_id(("站点编号", "a station id"))),
            "groups": Field(TEXT_LIST, parse=_groups, expect=('请写成 ["east", "school"] 这样',
                                                              'write it like ["east", "school"]')),
            "username": Field(TEXT),
            "password": Field(TEXT),
            "password_file": Field(TEXT, parse=_password_file(folder)),
            "tls": Field(BOOL),
            "ca_file": Field(TEXT, parse=_tls_file(folder, ("CA 证书文件", "CA certificate file"))),
            "cert_file": Field(TEXT, parse=_tls_file(folder, ("证书文件", "certificate file"))),
            "key_file": Field(TEXT, parse=_tls_file(folder, ("私钥文件", "key file"))),
        }, hints={"host": "broker", "server": "broker", "url": "broker", "address": "broker", "id": "station_id",
                  "station": "station_id", "user": "username", "group": "groups", "ssl": "tls", "ca": "ca_file",
                  "cert": "cert_file", "key": "key_file", "passwd": "password"}, make=_network, fill=False),
        "broadcast": Tables(Table({
            "name": Field(TEXT, required=True, parse=_broadcast_name),
            "at": Field(CLOCKS, parse=some_times),
            "from": Field(CLOCK, to="start"),
            "until": Field(CLOCK),
            "every": Field(Kind("时长", "a duration", every_seconds), to="every_s"),
            "cron": Field(TEXT, parse=cron_expression),
            "date": Field(MOMENT, to="once"),
            "days": Field(Kind("日子", "a day", to_days)),
            "clips": Field(NAMES, parse=clip_choice),
            "repeat": Field(WHOLE, min=1, max=20),
            "gap": Field(DURATION, min=0, max=60, unit=SECONDS, to="gap_s"),
            "volume": Field(NUMBER, min=-30, max=12, unit=("dB", "dB"), to="volume_db"),
            "priority": Field(TEXT, choices=("normal", "urgent"), noun=("优先级", "a priority")),
        }, hints={"to": "until", "end": "until", "start": "from", "time": "at", "times": "at",
                  "interval": "every", "weekdays": "days", "volume_db": "volume"}, make=check_timing), to="broadcasts"),
    })


def find_config(explicit: Path | None) -> Path | None:
    """The settings file to use: `explicit` (must exist), else ./schedule.toml if present."""
    if explicit is None:
        default = Path("schedule.toml")
        return default if default.is_file() else None
    if not explicit.is_file():
        what_zh, what_en = ("是一个文件夹，不是文件", "is a folder, not a file") if explicit.is_dir() \
            else ("找不到这个文件", "file not found")
        raise ConfigError([AnnouncerError(
            f"{what_zh}；请检查名称和所在的文件夹，或不指定设置文件以使用默认设置",
            f"{what_en}; check the name and folder, or leave it out to use the default settings",
            where=str(explicit))])
    return explicit


def load_config(path: Path | None) -> Config:
    """Read and check schedule.toml; None gives the defaults. Raises ConfigError listing every problem."""
    if path is None:
        return Config(path=None, speech=SpeechConfig(), audio=AudioConfig())
    try:
        text = read_text(path, AnnouncerError, SETTINGS_ROLE)
    except AnnouncerError as error:
        raise ConfigError([error]) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Check the text of a settings file that is (or will be) at `path`. Each problem in the ConfigError
    carries `line` and `key` too, so a form can show it beside the field."""
    name = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, zh, en = explain_syntax_error(str(error), text)
        raise ConfigError([_located(AnnouncerError(zh, en, where=f"{name}:{line}"), line, "")]) from None
    problems: list[Problem] = []
    lines = TomlLines(text)
    values = check(data, config_schema(path.parent), (), problems)
    problems += _same_names(values.get("broadcasts", []), lines)
    if problems:
        located = sorted(((lines.line(p.path), p) for p in problems), key=lambda item: item[0])
        raise ConfigError([_located(AnnouncerError(p.zh, p.en, where=f"{name}:{line} {label(p.path)}".rstrip()),
                                    line, label(p.path)) for line, p in located])
    return _build(path, values, lines)


def _broadcast_name(name: str) -> str:
    if name.lower().startswith(tuple(p.lower() for p in MANUAL)):
        raise Invalid(f"“{shorten(name)}”以“{MANUAL[0]}”开头，这是手动播放在播放记录里的名字；请换一个名字",
                      f"\"{shorten(name)}\" starts with \"{MANUAL[1]}\", which the play log uses for plays by hand; "
                      "choose another name")
    return name


_LANGUAGE_NAMES = {"zh": ("普通话", "Mandarin"), "en": ("英语", "English")}


def _speech(values: dict[str, Any]) -> dict[str, Any]:
    """The engine for each language (the old single `engine` sets both; `engines` wins), and voices
    each language's engine has."""
    engines = dict(DEFAULT_ENGINES)
    if "engine" in values:
        engines = dict.fromkeys(engines, values.pop("engine"))
    engines.update(values.pop("engines", None) or {})
    for language, name in engines.items():
        if language not in LANGUAGES[name]:
            able = [e for e in ENGINE_NAMES if language in LANGUAGES[e]]
            zh_lang, en_lang = _LANGUAGE_NAMES[language]
            raise Invalid(f"{name} 不会说{zh_lang}；请改用 " + "、".join(f'"{e}"' for e in able),
                          f"{name} does not speak {en_lang}; use one of " + ", ".join(f'"{e}"' for e in able),
                          ("engines", language))
    for language, voice in (values.get("voices") or {}).items():
        known = VOICES.get(engines[language])
        owner = next((e for e, names in VOICES.items() if voice in names), None)
        if known is None and owner is not None:
            raise Invalid(f"{show(voice)} 是 {owner} 的语音，{engines[language]} 用不了；请写 {engines[language]} 的语音，"
                          f'如 "{"cmn-latn-pinyin" if language == "zh" else "en-us"}"，或删除这一项',
                          f"{show(voice)} is a voice of {owner}, not of {engines[language]}; write one of "
                          f'{engines[language]}\'s voices, such as "{"cmn-latn-pinyin" if language == "zh" else "en-us"}", '
                          "or delete it", ("voices", language))
        if known and voice not in known:
            hint = closest(voice, list(known))
            choices = ", ".join(f'"{v}"' for v in known)
            zh_hint = f'您是不是想写 "{hint}"？' if hint else f"可选：{choices}"
            en_hint = f'did you mean "{hint}"?' if hint else f"choose one of {choices}"
            raise Invalid(f"{show(voice)} 不是 {engines[language]} 的语音；{zh_hint}"
                          f"（要用 espeak-ng 的语音，请同时写 engines = {{ {language} = \"espeak-ng\" }}）",
                          f"{show(voice)} is not a voice of {engines[language]}; {en_hint} "
                          f'(for an espeak-ng voice, also set engines = {{ {language} = "espeak-ng" }})',
                          ("voices", language))
    return {**values, "engines": engines}


def _located(error: AnnouncerError, line: int, key: str) -> AnnouncerError:
    error.line, error.key = line, key
    return error


# The examples in the README and the sample schedule.toml are public: anybody could try them.
EXAMPLE_TOKENS = ("xingfuli-guangbo-2026", "write-a-long-password-here", "make-up-your-own-token")


def _token(value: Any) -> str:
    text = to_text(value).strip()
    if text.lower() in EXAMPLE_TOKENS:
        raise Invalid("这个口令是说明书里的例子，谁都能猜到：请自己编一个至少 12 个字符的口令，字母和数字混合",
                      "this token is an example from the documentation, so anybody can guess it: make up your own "
                      "of at least 12 characters, letters and digits")
    if len(text) < 12 or text.lower() in ("changeme", "password", "123456789012"):
        raise Invalid("口令太短或太容易猜：请写至少 12 个字符，字母和数字混合",
                      "the token is too short or too easy to guess: write at least 12 characters, letters and digits")
    return text


# ---------------------------------------------------------------------------
# [network]: the station's connection to its office's MQTT broker

STATION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")   # station and group ids, as in the office's district.toml
_BROKER_PORTS = {"mqtt": 1883, "mqtts": 8883}
_OTHER_SCHEMES = {"tcp": "mqtt", "mqtt+tcp": "mqtt", "ssl": "mqtts", "tls": "mqtts", "mqtt+ssl": "mqtts"}
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")   # a name or an IPv4 address


def _not_broker(value: str, hint: str | None = None) -> Invalid:
    form_zh = '请写成 "mqtt://主机:端口"，加密连接写 "mqtts://主机:端口"'
    form_en = 'write it as "mqtt://host:port", or "mqtts://host:port" for TLS'
    if hint:
        return Invalid(f'{show(value)} 不是消息服务器（broker）地址；您是不是想写 "{hint}"？（{form_zh}）',
                       f'{show(value)} is not a broker address; did you mean "{hint}"? ({form_en})')
    return Invalid(f'{show(value)} 不是消息服务器（broker）地址；{form_zh}，如 "mqtt://192.168.1.10:1883"',
                   f'{show(value)} is not a broker address; {form_en}, like "mqtt://192.168.1.10:1883"')


def _host_port(text: str) -> tuple[str, int | None] | None:
    """("host", port or None) from "host", "host:port", "[::1]:port"; None when it is not that."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|([^:/@\[\]\s]+)(?::(\d{1,5}))?", text)
    if not match:
        return None
    host, port = (match[1], match[2]) if match[1] else (match[3], match[4])
    if match[1]:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    elif not _HOST_NAME.fullmatch(host):
        return None
    if port is not None and not 1 <= int(port) <= 65535:
        return None
    return host, None if port is None else int(port)


def broker_address(value: str) -> tuple[str, int, bool]:
    """(host, port, tls) of a broker address, as [network] and the office's district.toml write it;
    Invalid when it is not one."""
    scheme, host, port = _broker(value)
    return host, port, scheme == "mqtts"


def _broker(value: str) -> tuple[str, str, int]:
    """(scheme, host, port) from "mqtt://host:port" or "mqtts://host:port" (the port may be left out)."""
    match = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", value)
    if not match:
        raise _not_broker(value, f"mqtt://{value}" if _host_port(value) else None)   # "192.168.1.10:1883"
    scheme, rest = match[1].lower(), match[2].removesuffix("/")
    if "@" in rest:     # says nothing of the value: it may hold a password
        raise Invalid("地址里不要写用户名和密码；请分别写在 username 和 password（或 password_file）里",
                      "the address may not hold a user name or password; write them as username and password "
                      "(or password_file)")
    if scheme not in _BROKER_PORTS:
        other = _OTHER_SCHEMES.get(scheme)
        raise _not_broker(value, f"{other}://{rest}" if other and _host_port(rest) else None)
    found = _host_port(rest)
    if not found:
        raise _not_broker(value)
    host, port = found
    return scheme, host, port or _BROKER_PORTS[scheme]


def _district_id(noun: ZhEn) -> Callable[[str], str]:
    """A station or group id as the office's district.toml writes it; "did you mean" its small-letter form."""
    def check_id(value: str) -> str:
        if STATION_ID.fullmatch(value):
            return value
        guess = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
        did_zh, did_en = (f'您是不是想写 "{guess}"？', f'did you mean "{guess}"? ') if STATION_ID.fullmatch(guess) \
            else ("", "")
        raise Invalid(f"{show(value)} 不是{noun[0]}；{did_zh}编号只用小写字母、数字和短横线（-），以字母或数字开头，"
                      "最多 40 个，和街道办 district.toml 里的写法一致",
                      f"{show(value)} is not {noun[1]}; {did_en}an id is small letters, digits and dashes (-), "
                      "starting with a letter or digit, at most 40, as the office's district.toml names it")
    return check_id


_group_id = _district_id(("分组编号", "a group id"))


def _groups(names: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        try:
            _group_id(name)
        except Invalid as error:
            raise Invalid(error.zh, error.en, (index,)) from None
        if name in seen:
            raise Invalid(f"{show(name)} 写了两次；每个分组只写一次",
                          f"{show(name)} is listed twice; list each group once", (index,))
        seen.add(name)
    return names


def _found_file(folder: Path, value: str) -> Path | None:
    """`value` (relative to schedule.toml's folder, ~ allowed) as an absolute path, when a file is there."""
    try:
        path = (folder / Path(value).expanduser()).resolve()
        return path if path.is_file() else None
    except (ValueError, OSError):     # a NUL byte, a name too long
        return None


def _existing_file(folder: Path, value: str, what: ZhEn) -> Path:
    """`value` (relative to schedule.toml's folder) as an absolute path to a file that can be read."""
    path = _found_file(folder, value)
    if path is None:
        raise Invalid(f"找不到{what[0]} {show(value)}（在 {folder} 里找过）；"
                      "请把文件放到 schedule.toml 旁边，或写出完整路径",
                      f"the {what[1]} {show(value)} was not found (looked in {folder}); put it next to "
                      "schedule.toml, or write its full path")
    if not os.access(path, os.R_OK):
        raise Invalid(f"{what[0]} {path} 读不了（没有权限）；请让运行 announcer 的用户可以读它",
                      f"the {what[1]} {path} cannot be read (no permission); let the user running announcer read it")
    return path


def _tls_file(folder: Path, what: ZhEn) -> Callable[[str], Path]:
    return lambda value: _existing_file(folder, value, what)


def _password_file(folder: Path) -> Callable[[str], str]:
    """The password on the first line of a file (spaces and line ending around it dropped)."""
    what = ("密码文件", "password file")

    def read(value: str) -> str:
        path = _existing_file(folder, value, what)
        try:
            with path.open("rb") as stream:
                first = stream.read(4096).split(b"\n", 1)[0]
        except OSError:
            raise Invalid(f"密码文件 {path} 读不了；请检查它的权限", f"the password file {path} cannot be read; "
                          "check its permissions") from None
        try:
            password = first.decode("utf-8-sig").strip()
        except UnicodeDecodeError:
            raise Invalid(f"密码文件 {path} 不是 UTF-8 文本；请用记事本另存为 UTF-8",
                          f"the password file {path} is not UTF-8 text; save it as UTF-8") from None
        if not password:
            raise Invalid(f"密码文件 {path} 的第一行是空的；请把密码写在第一行",
                          f"the first line of the password file {path} is empty; write the password on it")
        return password
    return read


def _network(values: dict[str, Any]) -> NetworkConfig:
    """The connection's rules across keys: TLS agrees with the address; certificate with key; one password."""
    scheme, host, port = values.pop("broker")
    tls = values.pop("tls", scheme == "mqtts")
    if scheme == "mqtts" and not tls:
        raise Invalid('"mqtts://" 就是加密连接，和 tls = false 矛盾；要加密请删除 tls = false，不加密请把地址改成 "mqtt://..."',
                      '"mqtts://" means TLS, which contradicts tls = false; delete tls = false, or write the address '
                      'as "mqtt://..." to connect without TLS', ("tls",))
    files = [key for key in ("ca_file", "cert_file", "key_file") if key in values]
    if files and not tls:
        raise Invalid(f'{files[0]} 只用于加密连接（TLS）；请把地址写成 "mqtts://..." 或加上 tls = true，或删除这一行',
                      f'{files[0]} is only used with TLS; write the address as "mqtts://..." or add tls = true, '
                      "or delete this line", (files[0],))
    if ("cert_file" in values) != ("key_file" in values):
        have, lack = ("cert_file", "key_file") if "cert_file" in values else ("key_file", "cert_file")
        raise Invalid(f'证书和私钥要一起写：请加上 {lack} = "..."，或删除 {have}',
                      f'a certificate and its key go together: add {lack} = "...", or delete {have}', (have,))
    if "password" in values and "password_file" in values:
        raise Invalid("password 和 password_file 只能写一个；请删除其中一个",
                      "write password or password_file, not both; delete one of them", ("password_file",))
    station_id = values.pop("station_id")
    password = values.pop("password_file", None) or values.pop("password", None)
    return NetworkConfig(broker=f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}", host=host, port=port,
                         station_id=station_id, username=values.pop("username", station_id), password=password,
                         tls=tls, **values)


def _build(path: Path, values: dict[str, Any], lines: TomlLines) -> Config:
    station, speech, audio, web = (dict(values.get(key, {})) for key in ("station", "speech", "audio", "web"))
    factor = speech.pop("pace")
    speech["pace"] = {"zh": speech.pop("zh_pace") * factor, "en": speech.pop("en_pace") * factor}
    speech["voices"] = dict(speech.get("voices", {}))
    broadcasts = tuple(Broadcast(line=lines.line(("broadcast", index)), **entry)
                       for index, entry in enumerate(values.get("broadcasts", [])))
    return Config(path=path, speech=SpeechConfig(**speech), audio=AudioConfig(**audio),
                  station=Station(**station), broadcasts=broadcasts, web=WebConfig(**web),
                  network=values.get("network"))
