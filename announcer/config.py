"""schedule.toml → typed, validated settings.

The field-spec mechanism below (`Field`, `Table`, `check`) is also how
notices.py reads TOML notices; `show` and `closest` are the one place values
are quoted and misspellings matched for messages.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from announcer.errors import AnnouncerError, ConfigError, shorten, tr
from announcer.textfile import SETTINGS_ROLE, ZhEn, read_text
from announcer.tomlpos import TomlLines, explain_syntax_error

PACE_PRESETS = {"slow": 0.85, "normal": 1.0, "fast": 1.15}
DEFAULT_PACE = {"zh": 3.5, "en": 145.0}  # syllables/s, words/min


@dataclass(frozen=True)
class SpeechConfig:
    engine: str = "pyttsx3"                      # "pyttsx3" or "espeak-ng"
    voices: dict[str, str] = field(default_factory=lambda: {"zh": "cmn-latn-pinyin", "en": "en-us"})
    pace: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PACE))  # resolved targets
    sentence_pause_s: float = 0.6
    comma_pause_s: float = 0.3


@dataclass(frozen=True)
class AudioConfig:
    loudness_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    highpass_hz: float = 120.0
    compress: bool = True
    chime: str = "two-tone"          # "two-tone", "none", or a sound file path (resolved absolute)
    repeat: int = 1
    repeat_gap_s: float = 2.0
    lead_in_s: float = 0.5
    lead_in_sound: str = "wake"      # "wake" (very quiet tone) or "silence"
    format: str = "mp3"              # "mp3" or "wav"
    bitrate_kbps: int = 128
    sample_rate: int = 44100


@dataclass(frozen=True)
class QuietHours:
    start: time                      # `from`: nothing plays from here...
    end: time                        # `to`: ...until here (may wrap past midnight)


@dataclass(frozen=True)
class Station:
    name: str = "announcer"
    timezone: str | None = None      # IANA name; None: the system's
    language: str = "zh"             # "zh" or "en": messages, reports, the web page
    quiet_hours: QuietHours | None = None
    holidays: tuple[date, ...] = ()  # extra days off, on top of the country calendar
    country: str | None = None       # a `holidays` calendar, e.g. "CN" (knows make-up workdays)
    player: str = "auto"             # "auto", "paplay", "pw-play", "aplay", "ffplay" or "null"
    device: str | None = None        # the player's output device (sink / ALSA device); None: default


@dataclass(frozen=True)
class Broadcast:
    """One [[broadcast]] entry. Exactly one kind of timing is set."""
    name: str
    line: int = 0                    # where it starts in schedule.toml, for messages
    at: tuple[time, ...] = ()        # times of day
    start: time | None = None        # `from` ... `until` (exclusive) every `every_s` seconds
    until: time | None = None
    every_s: float | None = None
    cron: str | None = None          # crontab(5) expression, five fields
    once: datetime | None = None     # `date`: one time only (local wall time, naive)
    days: str | tuple[str, ...] = "daily"   # "daily", "workdays", "weekends" or weekday names ("mon", ...)
    clips: tuple[str, ...] = ("all",)       # "all", or clip ids / tags
    repeat: int = 1
    gap_s: float = 3.0
    volume_db: float = 0.0
    priority: str = "normal"         # "normal" or "urgent"


@dataclass(frozen=True)
class Config:
    path: Path | None
    speech: SpeechConfig
    audio: AudioConfig
    station: Station = field(default_factory=Station)
    broadcasts: tuple[Broadcast, ...] = ()

    @property
    def timezone(self) -> str | None:
        return self.station.timezone

    @property
    def language(self) -> str:
        return self.station.language


# ---------------------------------------------------------------------------
# Field specs: what each setting may be. A section is a `Table` of `Field`s
# (nested `Table`s, or `Tables` for [[arrays]]); `check` reads a parsed TOML
# table against it and collects every problem instead of stopping at the first.

class Invalid(ValueError):
    """A value is wrong: what is wrong and what to do, in Chinese and English."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(en)

    def __str__(self) -> str:
        return tr(self.zh, self.en)


class WrongType(Exception):
    """Raised by a Kind's convert: the value is not of that kind at all."""


@dataclass(frozen=True)
class Kind:
    """A type of value: its name for messages and how to read it."""
    zh: str
    en: str
    convert: Callable[[Any], Any]   # raises WrongType, or Invalid with its own message


@dataclass(frozen=True)
class Field:
    kind: Kind
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    unit: ZhEn = ("", "")
    noun: ZhEn | None = None           # "an engine": used when a value is not one of the choices
    expect: ZhEn | None = None         # what to write instead, when the default wording won't do
    parse: Callable[[Any], Any] | None = None   # last step; raises Invalid
    default: Any = None                # used when the key is absent (None: leave it out)
    required: bool = False
    to: str | None = None              # the name the value is stored under


@dataclass(frozen=True)
class Table:
    fields: Mapping[str, "Field | Table | Tables"]
    ignore: frozenset[str] = frozenset()   # accepted and not read (yet)
    expect: ZhEn | None = None
    to: str | None = None


@dataclass(frozen=True)
class Tables:
    """An array of tables: [[name]] repeated."""
    table: Table
    to: str | None = None


@dataclass(frozen=True)
class Problem:
    path: tuple[str | int, ...]
    zh: str
    en: str


def closest(word: str, options: list[str], cutoff: float = 0.6) -> str | None:
    """The option `word` was probably meant to be ("did you mean"): same letters in other case, else similar."""
    same = next((o for o in options if o.lower() == word.lower()), None)
    return same or next(iter(difflib.get_close_matches(word, options, n=1, cutoff=cutoff)), None)


def show(value: Any) -> str:
    """A value the way it looks in a TOML file (long text shortened)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + shorten(value, 30).replace("\n", " ") + '"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return "{ ... }"
    if isinstance(value, list):
        return "[ ... ]"
    return str(value)


def _options(values: tuple, zh: bool) -> str:
    shown = [show(v) for v in values]
    if len(shown) == 1:
        return shown[0]
    return ("、".join(shown[:-1]) + " 或 " if zh else ", ".join(shown[:-1]) + " or ") + shown[-1]


def _quoted_number(value: Any) -> None:
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)\s*", value):
        raise Invalid(f"{show(value)} 带了引号；数字请不加引号，写成 {value.strip()}",
                      f"{show(value)} has quotes around it; write the number without quotes: {value.strip()}")


def _to_number(value: Any) -> float:
    _quoted_number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WrongType
    return float(value)


def _to_whole(value: Any) -> int:
    number = _to_number(value)
    if not number.is_integer():
        raise WrongType
    return int(number)


def _to_text(value: Any) -> str:
    if not isinstance(value, str):
        raise WrongType
    if not value.strip():
        raise Invalid("是空的；请填写内容，或删除这一行", "is empty; fill it in or delete the line")
    return value.strip()


def _to_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise WrongType
    return value


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise Invalid(f"{show(value)} 带有时间；只写日期，如 2024-05-01",
                      f"{show(value)} has a time; write only the date, like 2024-05-01")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise Invalid(f"{show(value)} 不是真实存在的日期；请检查月份和日子",
                          f"{show(value)} is not a real date; check the month and day") from None
    raise WrongType


def _to_text_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise WrongType
    return tuple(v.strip() for v in value)


_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)\s*"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_FORMS = '"0.6s"、"500ms"、"20m" 或 "1h30m"', '"0.6s", "500ms", "20m" or "1h30m"'


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or a string like "0.6s", "500ms", "20m", "1h30m"."""
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(f"(?:{_DURATION_PART})+", text):
            return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in re.findall(_DURATION_PART, text))
        if re.fullmatch(r"\d+(\.\d*)?", text):
            raise Invalid(f"{show(value)} 缺少单位；请写成 \"{text}s\"（秒）或 \"{text}m\"（分钟）",
                          f"{show(value)} has no unit; write \"{text}s\" (seconds) or \"{text}m\" (minutes)")
    elif not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value):
        if value < 0:
            raise Invalid(f"{show(value)} 是负数；时长不能小于 0", f"{show(value)} is negative; a duration can't be below 0")
        return float(value)
    raise Invalid(f"{show(value)} 不是时长；请写成 {_DURATION_FORMS[0]} 这样",
                  f"{show(value)} is not a duration; write it like {_DURATION_FORMS[1]}")


NUMBER = Kind("数字", "a number", _to_number)
WHOLE = Kind("整数", "a whole number", _to_whole)
TEXT = Kind("文字", "text", _to_text)
BOOL = Kind("开关值", "true or false", _to_bool)
DATE = Kind("日期", "a date", _to_date)
TEXT_LIST = Kind("文字列表", "a list of words", _to_text_list)
DURATION = Kind("时长", "a duration", parse_duration)
SECONDS: ZhEn = ("秒", "seconds")


def _expected(field: Field) -> ZhEn:
    """What to write instead: "use a number from -30 to -9 LUFS"."""
    if field.expect:
        return field.expect
    if field.choices:
        return f"请用 {_options(field.choices, True)}", f"use {_options(field.choices, False)}"
    kind, (uzh, uen) = field.kind, field.unit
    if field.min is not None and field.max is not None:
        return (f"请用 {show(field.min)} 到 {show(field.max)} 之间的{kind.zh}" + (f"（{uzh}）" if uzh else ""),
                f"use {kind.en} from {show(field.min)} to {show(field.max)}" + (f" {uen}" if uen else ""))
    if field.kind is TEXT:
        return '请把文字放进英文双引号里，如 "幸福社区"', 'put the text in double quotes, like "Sunny Court"'
    if field.kind is BOOL:
        return "请写 true 或 false，不加引号", "write true or false, without quotes"
    if field.kind is DATE:
        return "请写成 2024-05-01 这样", "write it like 2024-05-01"
    if field.kind is TEXT_LIST:
        return '请写成 ["停水", "紧急"] 这样', 'write it like ["water", "urgent"]'
    if field.kind is DURATION:
        return f"请写成 {_DURATION_FORMS[0]} 这样", f"write it like {_DURATION_FORMS[1]}"
    return f"请用{kind.zh}", f"use {kind.en}"


def check_field(value: Any, field: Field) -> Any:
    """One value through its field spec: converted, or Invalid."""
    try:
        result = field.kind.convert(value)
    except WrongType:
        zh, en = _expected(field)
        noun_zh, noun_en = field.noun if field.noun and not field.choices else (field.kind.zh, field.kind.en)
        raise Invalid(f"{show(value)} 不是{noun_zh}；{zh}", f"{show(value)} is not {noun_en}; {en}") from None
    if field.choices:
        lowered = {c.lower() if isinstance(c, str) else c: c for c in field.choices}
        key = result.lower() if isinstance(result, str) else result
        if key not in lowered:
            zh, en = _expected(field)
            noun_zh, noun_en = field.noun or ("可选的值", "one of the choices")
            raise Invalid(f"{show(value)} 不是{noun_zh}；{zh}", f"{show(value)} is not {noun_en}; {en}")
        result = lowered[key]
    for limit, low in ((field.min, True), (field.max, False)):
        if limit is not None and (result < limit if low else result > limit):
            zh, en = _expected(field)
            short = field.kind is DURATION
            word_zh = ("太短" if short else "太小") if low else ("太长" if short else "太大")
            word_en = ("too short" if short else "too low") if low else ("too long" if short else "too high")
            raise Invalid(f"{show(value)} {word_zh}；{zh}", f"{show(value)} is {word_en}; {en}")
    return field.parse(result) if field.parse else result


def check(data: Mapping[str, Any], spec: Table, path: tuple = (),
          problems: list[Problem] | None = None) -> dict[str, Any]:
    """Values of `data` read through `spec`, stored under each field's `to` name.

    Every problem found is appended to `problems`; a wrong value is left out.
    """
    problems = [] if problems is None else problems
    out: dict[str, Any] = {}
    for key, value in data.items():
        sub, where = spec.fields.get(key), path + (key,)
        if sub is None:
            if key not in spec.ignore:
                problems.append(_unknown(key, value, spec, where))
            continue
        name = sub.to or key
        if isinstance(sub, Field):
            try:
                out[name] = check_field(value, sub)
            except Invalid as error:
                problems.append(Problem(where, error.zh, error.en))
        elif isinstance(sub, Table):
            if isinstance(value, dict):
                out[name] = check(value, sub, where, problems)
            else:
                zh, en = sub.expect or (f"请写成 [{label(where)}] 分组", f"write it as a [{label(where)}] section")
                problems.append(Problem(where, f"{show(value)} 不是一组设置；{zh}",
                                        f"{show(value)} is not a group of settings; {en}"))
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            out[name] = [check(v, sub.table, where + (i,), problems) for i, v in enumerate(value)]
        else:
            problems.append(Problem(where, f"要写成 [[{label(where)}]]（两层方括号），每项一个",
                                    f"write it as [[{label(where)}]] (double brackets), one for each entry"))
    for key, sub in spec.fields.items():
        if key in data or isinstance(sub, Tables):
            continue
        if isinstance(sub, Table):
            out[sub.to or key] = check({}, sub, path + (key,), problems)
        elif sub.required:
            problems.append(Problem(path + (key,), f"缺少这一项；请加上 {key} = ...",
                                    f"is missing; add {key} = ..."))
        elif sub.default is not None:
            out[sub.to or key] = sub.default
    return out


def label(path: tuple) -> str:
    """A key path for messages: speech.pace, broadcast[2].time (entries count from 1)."""
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _unknown(key: str, value: Any, spec: Table, where: tuple) -> Problem:
    """An unknown key: did you mean a known one, or does it belong in a sub-section?"""
    section = isinstance(value, dict) or (isinstance(value, list) and value and
                                          all(isinstance(v, dict) for v in value))
    what_zh, what_en = ("没有这个分组", "unknown section") if section else ("没有这个设置", "unknown setting")

    def header(name: str) -> str:
        text = label(where[:-1] + (name,))
        array = isinstance(spec.fields.get(name), Tables) or (name not in spec.fields and isinstance(value, list))
        return f"[[{text}]]" if array else f"[{text}]"

    def fields(sub: Field | Table | Tables) -> set[str]:
        sub = sub.table if isinstance(sub, Tables) else sub
        return set(sub.fields) | sub.ignore if isinstance(sub, Table) else set()

    home = next((name for name, sub in spec.fields.items() if key in fields(sub)), None)
    if home and not section:
        place = header(home)
        return Problem(where, f"这个设置属于 {place}；请把它移到 {place} 那一行的下面",
                       f"this setting belongs in {place}; move it below the {place} line")
    close = closest(key, list(spec.fields) + sorted(spec.ignore))
    if close:
        hint = header(close) if section and len(where) == 1 else f'"{close}"'
        return Problem(where, f"{what_zh}；您是不是想写 {hint}？", f"{what_en}; did you mean {hint}?")
    listed = ", ".join(spec.fields)
    return Problem(where, f"{what_zh}；请检查拼写或删除它（这里可以写：{listed}）",
                   f"{what_en}; check the spelling or delete it (allowed here: {listed})")


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
    number = _to_number(value)
    if not 0 < number <= 2:
        raise Invalid(f"{show(value)} 超出范围；请用大于 0、不超过 2 的数字（1.0 = 正常）",
                      f"{show(value)} is out of range; use a number above 0 and up to 2 (1.0 = normal)")
    return number


PACE = Kind("语速", "a pace", _pace_factor)
_PACE_EXPECT = ('请用 "slow"、"normal"、"fast" 或一个数字', 'use "slow", "normal", "fast" or a number')
_CHIME_PRESETS = ("two-tone", "none")


def _chime(folder: Path) -> Callable[[str], str]:
    def resolve(value: str) -> str:
        if value.lower() in _CHIME_PRESETS:
            return value.lower()
        sound = (folder / Path(value).expanduser()).resolve()
        if not sound.is_file():
            raise Invalid(f"找不到声音文件 {show(value)}（在 {folder} 里找过）；请把文件放到 schedule.toml 旁边，"
                          f'或写 "two-tone" / "none"',
                          f"the sound file {show(value)} was not found (looked in {folder}); put it next to "
                          f'schedule.toml, or write "two-tone" or "none"')
        return str(sound)
    return resolve


def config_schema(folder: Path) -> Table:
    """The settings schedule.toml may hold. `folder`: where relative file paths start."""
    voice = Field(TEXT, expect=('请写语音名称，如 "cmn"', 'write a voice name, like "cmn"'))
    return Table({
        "station": Table({
            "timezone": Field(TEXT, parse=_timezone),
            "name": Field(TEXT),
            "language": Field(TEXT, choices=("zh", "en"), noun=("界面语言", "a language")),
        }, ignore=frozenset({"quiet_hours", "holidays", "country", "player", "device"})),
        "speech": Table({
            "engine": Field(TEXT, choices=("pyttsx3", "espeak-ng"), noun=("语音引擎", "an engine")),
            "voices": Table({"zh": voice, "en": voice},
                            expect=('请写成 voices = { zh = "...", en = "..." }',
                                    'write it as voices = { zh = "...", en = "..." }')),
            "pace": Field(PACE, expect=_PACE_EXPECT, default=1.0),
            "zh_pace": Field(NUMBER, min=1.5, max=7, unit=("音节/秒", "syllables/s"), default=DEFAULT_PACE["zh"]),
            "en_pace": Field(NUMBER, min=60, max=260, unit=("词/分钟", "words/min"), default=DEFAULT_PACE["en"]),
            "sentence_pause": Field(DURATION, min=0, max=3, unit=SECONDS, to="sentence_pause_s"),
            "comma_pause": Field(DURATION, min=0, max=3, unit=SECONDS, to="comma_pause_s"),
        }),
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
    }, ignore=frozenset({"broadcast"}))


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
    name = str(path)
    try:
        text = read_text(path, AnnouncerError, SETTINGS_ROLE)
    except AnnouncerError as error:
        raise ConfigError([error]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, zh, en = explain_syntax_error(str(error), text)
        raise ConfigError([AnnouncerError(zh, en, where=f"{name}:{line}")]) from None
    problems: list[Problem] = []
    values = check(data, config_schema(path.parent), (), problems)
    if problems:
        lines = TomlLines(text)
        located = sorted(((lines.line(p.path), p) for p in problems), key=lambda item: item[0])
        raise ConfigError([AnnouncerError(f"{label(p.path)}: {p.zh}", f"{label(p.path)}: {p.en}",
                                          where=f"{name}:{line}") for line, p in located])
    return _build(path, values)


def _build(path: Path, values: dict[str, Any]) -> Config:
    station, speech, audio = (dict(values.get(key, {})) for key in ("station", "speech", "audio"))
    factor = speech.pop("pace")
    speech["pace"] = {"zh": speech.pop("zh_pace") * factor, "en": speech.pop("en_pace") * factor}
    speech["voices"] = {**SpeechConfig().voices, **speech.get("voices", {})}
    return Config(path=path, speech=SpeechConfig(**speech), audio=AudioConfig(**audio),
                  station=Station(**{k: v for k, v in station.items() if k in ("name", "timezone", "language")}))
