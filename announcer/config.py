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

from announcer.engines import DEFAULT_ENGINES, ENGINE_NAMES, LANGUAGES, VOICES
from announcer.errors import AnnouncerError, ConfigError, shorten, tr
from announcer.players import NAMES as PLAYER_NAMES
from announcer.textfile import SETTINGS_ROLE, ZhEn, read_text
from announcer.tomlpos import TomlLines, explain_syntax_error

PACE_PRESETS = {"slow": 0.85, "normal": 1.0, "fast": 1.15}
DEFAULT_PACE = {"zh": 3.5, "en": 145.0}  # syllables/s, words/min


@dataclass(frozen=True)
class SpeechConfig:
    engines: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ENGINES))  # language → engine name
    voices: dict[str, str] = field(default_factory=dict)   # language → voice; absent: the engine's own
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


MANUAL = ("手动播放：", "manual: ")   # how plays by hand are named in the play log (zh, en)


@dataclass(frozen=True)
class WebConfig:
    """[web]: the staff member's web page (`announcer serve`, `announcer run --web`)."""
    token: str | None = None         # required when the page listens beyond this computer
    upload_limit_mb: float = 50.0    # largest upload: notices or a recording


@dataclass(frozen=True)
class Config:
    path: Path | None
    speech: SpeechConfig
    audio: AudioConfig
    station: Station = field(default_factory=Station)
    broadcasts: tuple[Broadcast, ...] = ()
    web: WebConfig = field(default_factory=WebConfig)

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
    """A value is wrong: what is wrong and what to do, in Chinese and English.

    `at` names the part to blame, below the value's own key: ("until",) in a
    table, (2,) for a list's third item.
    """

    def __init__(self, zh: str, en: str, at: tuple[str | int, ...] = ()):
        self.zh, self.en, self.at = zh, en, at
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
    expect: ZhEn | None = None      # what to write instead ("write it like 2024-05-01")


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
    expect: ZhEn | None = None
    to: str | None = None
    hints: Mapping[str, str] = field(default_factory=dict)   # a likely wrong key → the right one
    make: Callable[[dict[str, Any]], Any] | None = None       # checked values → what is stored; raises Invalid
    fill: bool = True                      # when absent: fill in its defaults (False: leave it out)


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


def parse_duration(value: Any, forms: ZhEn = _DURATION_FORMS) -> float:
    """Seconds from a number of seconds or a string like "0.6s", "500ms", "20m", "1h30m".

    `forms`: the examples a message shows when the value is not a duration.
    """
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
    raise Invalid(f"{show(value)} 不是时长；请写成 {forms[0]} 这样",
                  f"{show(value)} is not a duration; write it like {forms[1]}")


NUMBER = Kind("数字", "a number", _to_number)
WHOLE = Kind("整数", "a whole number", _to_whole)
TEXT = Kind("文字", "text", _to_text,
            ('请把文字放进英文双引号里，如 "幸福社区"', 'put the text in double quotes, like "Sunny Court"'))
BOOL = Kind("开关值", "true or false", _to_bool, ("请写 true 或 false，不加引号", "write true or false, without quotes"))
DATE = Kind("日期", "a date", _to_date, ("请写成 2024-05-01 这样", "write it like 2024-05-01"))
TEXT_LIST = Kind("文字列表", "a list of words", _to_text_list,
                 ('请写成 ["停水", "紧急"] 这样', 'write it like ["water", "urgent"]'))
DURATION = Kind("时长", "a duration", parse_duration,
                (f"请写成 {_DURATION_FORMS[0]} 这样", f"write it like {_DURATION_FORMS[1]}"))
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
    return kind.expect or (f"请用{kind.zh}", f"use {kind.en}")


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
          problems: list[Problem] | None = None) -> Any:
    """Values of `data` read through `spec`, stored under each field's `to` name.

    Every problem found is appended to `problems`; a wrong value is left out.
    Returns the dict of values, or what `spec.make` builds from it when every
    value is right and present (unknown keys aside).
    """
    problems = [] if problems is None else problems
    before, unknown = len(problems), 0
    out: dict[str, Any] = {}
    for key, value in data.items():
        sub, where = spec.fields.get(key), path + (key,)
        if sub is None:
            problems.append(_unknown(key, value, spec, where))
            unknown += 1
            continue
        name = sub.to or key
        if isinstance(sub, Field):
            try:
                out[name] = check_field(value, sub)
            except Invalid as error:
                problems.append(Problem(where + error.at, error.zh, error.en))
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
            if sub.fill:
                out[sub.to or key] = check({}, sub, path + (key,), problems)
        elif sub.required:
            problems.append(Problem(path + (key,), f"缺少这一项；请加上 {key} = ...",
                                    f"is missing; add {key} = ..."))
        elif sub.default is not None:
            out[sub.to or key] = sub.default
    if spec.make and len(problems) == before + unknown:
        try:
            return spec.make(out)
        except Invalid as error:
            problems.append(Problem(path + error.at, error.zh, error.en))
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
        return set(sub.fields) if isinstance(sub, Table) else set()

    home = next((name for name, sub in spec.fields.items() if key in fields(sub)), None)
    if home and not section:
        place = header(home)
        return Problem(where, f"这个设置属于 {place}；请把它移到 {place} 那一行的下面",
                       f"this setting belongs in {place}; move it below the {place} line")
    close = spec.hints.get(key.lower()) or closest(key, list(spec.fields))
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
        try:
            sound = (folder / Path(value).expanduser()).resolve()
            found = sound.is_file()
        except (ValueError, OSError):     # a NUL byte, a name too long
            found = False
        if not found:
            raise Invalid(f"找不到声音文件 {show(value)}（在 {folder} 里找过）；请把文件放到 schedule.toml 旁边，"
                          f'或写 "two-tone" / "none"',
                          f"the sound file {show(value)} was not found (looked in {folder}); put it next to "
                          f'schedule.toml, or write "two-tone" or "none"')
        return str(sound)
    return resolve


def _clock_text(moment: time) -> str:
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


_CLOCK = re.compile(r"(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?")


def _to_clock(value: Any) -> time:
    if isinstance(value, time):          # a TOML local time, 08:00:00
        return value
    match = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    raise WrongType


def _to_moment(value: Any) -> datetime:
    """A naive local date and time: a TOML local datetime, or "2026-12-24 18:00" / "2026-12-24T18:00"."""
    if isinstance(value, datetime):
        if value.tzinfo:
            raise Invalid(f'{show(value)} 带有时区；请写车站当地的时间，不带时区，如 "2026-12-24 18:00"',
                          f"{show(value)} has a UTC offset; write the station's local time without it, "
                          'like "2026-12-24 18:00"')
        return value
    text = value.strip() if isinstance(value, str) else ""
    if isinstance(value, date) or re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        raise Invalid(f'{show(value)} 没有写几点；请写成 "2026-12-24 18:00" 这样',
                      f'{show(value)} has no time of day; write it like "2026-12-24 18:00"')
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:T|\s+)(\S+)", text)
    if not match:
        raise WrongType
    return datetime.combine(_to_date(match[1]), _to_clock(match[2]))


def _list_of(kind: Kind) -> Callable[[Any], tuple]:
    """A list of `kind` (one value counts as a list of one), without repeats; an item's problem names it."""
    def convert(value: Any) -> tuple:
        items = value if isinstance(value, list) else [value]
        out = []
        for index, item in enumerate(items):
            try:
                out.append(check_field(item, Field(kind)))
            except Invalid as error:
                raise Invalid(error.zh, error.en, (index,) if isinstance(value, list) else ()) from None
        return tuple(dict.fromkeys(out))
    return convert


CLOCK = Kind("时间", "a time of day", _to_clock,
             ('请写成 "08:00" 或 "17:30:15" 这样', 'write it like "08:00" or "17:30:15"'))
MOMENT = Kind("日期和时间", "a date and time", _to_moment,
              ('请写成 "2026-12-24 18:00" 这样', 'write it like "2026-12-24 18:00"'))
CLOCKS = Kind("时间", "a time of day", _list_of(CLOCK), CLOCK.expect)
DATES = Kind("日期", "a date", _list_of(DATE), DATE.expect)
NAMES = Kind("文字", "text", _list_of(TEXT), TEXT.expect)


def _some_times(times: tuple[time, ...]) -> tuple[time, ...]:
    if not times:
        raise Invalid('是空的列表；请至少写一个时间，如 at = ["08:00"]',
                      'is an empty list; write at least one time, like at = ["08:00"]')
    return tuple(sorted(times))


MIN_EVERY_S = 10   # shorter rounds are a typo ("1ms") and would flood the plan and the play queue


def _every(value: Any) -> float:
    seconds = parse_duration(value, ('"20m"', '"20m"'))
    if seconds < MIN_EVERY_S:
        raise Invalid(f'{show(value)} 太短；间隔至少 {MIN_EVERY_S} 秒，如 "20m"',
                      f'{show(value)} is too short; every needs at least {MIN_EVERY_S} seconds, like "20m"')
    return seconds


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {"daily": "daily", "workdays": "workdays", "weekends": "weekends",
             "每天": "daily", "工作日": "workdays", "周末": "weekends"}
_DAY_HINTS = {"weekdays": "workdays", "weekday": "workdays", "workday": "workdays", "weekend": "weekends",
              "everyday": "daily", "every day": "daily", "all": "daily"}
_WEEKDAY_NAMES = {
    **{day: day for day in WEEKDAYS},
    **dict(zip(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), WEEKDAYS)),
    **{prefix + digit: day for prefix in ("周", "星期") for digit, day in zip("一二三四五六日", WEEKDAYS)},
    "周天": "sun", "星期天": "sun",
}


def _day_word(value: Any) -> str | None:
    return " ".join(value.lower().split()) if isinstance(value, str) else None


def _to_days(value: Any) -> str | tuple[str, ...]:
    """"daily", "workdays", "weekends", or weekday names (one, or a list) → ("mon", ...) in week order."""
    word = _day_word(value)
    if word in _DAY_SETS:
        return _DAY_SETS[word]
    items = value if isinstance(value, list) else [value]
    if not items:
        raise Invalid('是空的列表；请写 "daily"，或列出星期几，如 ["周一", "周五"]',
                      'is an empty list; write "daily", or list the days, like ["mon", "fri"]')
    found = set()
    for index, item in enumerate(items):
        word = _day_word(item)
        if word in _WEEKDAY_NAMES:
            found.add(_WEEKDAY_NAMES[word])
        elif isinstance(value, list):
            raise Invalid(*_not_a_day(item, list(_WEEKDAY_NAMES), ("星期几", "a day of the week"),
                                      ("请写 周一 到 周日，或 mon 到 sun", "write mon to sun, or 周一 to 周日")), (index,))
        else:
            raise Invalid(*_not_a_day(item, list(_WEEKDAY_NAMES) + list(_DAY_SETS), ("可选的日子", "a choice of days"),
                                      ('请写 "daily"（每天）、"workdays"（工作日）、"weekends"（周末），'
                                       '或 ["周一", "周五"] 这样的列表',
                                       'write "daily", "workdays", "weekends", or a list like ["mon", "fri"]')))
    return tuple(day for day in WEEKDAYS if day in found)


def _not_a_day(item: Any, options: list[str], noun: ZhEn, expect: ZhEn) -> ZhEn:
    """What is wrong with a days value, with a "did you mean" when one is close."""
    word = _day_word(item) or ""
    hint = _DAY_HINTS.get(word)
    hint = hint if hint in options else closest(word, options, 0.75)
    if hint:
        expect = f'您是不是想写 "{hint}"？', f'did you mean "{hint}"?'
    return f"{show(item)} 不是{noun[0]}；{expect[0]}", f"{show(item)} is not {noun[1]}; {expect[1]}"


def _clip_choice(names: tuple[str, ...]) -> tuple[str, ...]:
    if not names:
        raise Invalid('是空的列表；请写 "all"（当天全部），或列出编号或标签，如 ["ting-shui"]',
                      'is an empty list; write "all" (all the day\'s clips), or list ids or tags, like ["ting-shui"]')
    if any(name.lower() == "all" for name in names):
        if len(names) > 1:
            raise Invalid('"all" 已经包括全部；请只写 clips = "all"，或只列出要播的编号或标签',
                          '"all" already means every clip; write clips = "all" alone, or list only the clips '
                          'to play')
        return ("all",)
    return names


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


# crontab(5) fields: name, and what it takes.
_CRON_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("分钟", "minute", "0-59", "0-59"),
    ("小时", "hour", "0-23", "0-23"),
    ("日", "day-of-month", "1-31", "1-31"),
    ("月", "month", "1-12 或 jan-dec", "1-12 or jan-dec"),
    ("星期", "day-of-week", "0-7 或 sun-sat（0 和 7 都是星期日）", "0-7 or sun-sat (0 and 7 are Sunday)"),
)


def _standard_cron_field(text: str, names: bool) -> bool:
    """crontab(5) only: numbers (names in month and day-of-week), ranges, steps, lists; no croniter extensions."""
    number = r"(?:\d+|[a-z]{3})" if names else r"\d+"
    item = rf"(?:\*|{number}(?:-{number})?)(?:/\d+)?"
    return re.fullmatch(rf"{item}(?:,{item})*", text.lower()) is not None


def _cron(value: str) -> str:
    """A five-field crontab(5) expression that fires at some time, spaces tidied."""
    from croniter import CroniterBadDateError, croniter

    fields = value.split()
    expression = " ".join(fields)
    if len(fields) != 5:
        raise Invalid(f'{show(value)} 有 {len(fields)} 栏；cron 时间要写 5 栏：分 时 日 月 星期，'
                      f'如 "0 8 * * 1"（每周一 8:00）',
                      f'{show(value)} has {len(fields)} field{"" if len(fields) == 1 else "s"}; a cron time has 5: '
                      'minute hour day month weekday, like "0 8 * * 1" (Mondays at 08:00)')
    for index, (name_zh, name_en, takes_zh, takes_en) in enumerate(_CRON_FIELDS):
        probe = " ".join(part if i == index else "*" for i, part in enumerate(fields))
        if not croniter.is_valid(probe):
            raise Invalid(f'{show(value)} 不是有效的 cron 时间：第 {index + 1} 栏（{name_zh}）"{fields[index]}" 写错了；'
                          f'请用 {takes_zh}',
                          f'{show(value)} is not a valid cron time: its {name_en} field "{fields[index]}" is wrong; '
                          f'use {takes_en}')
        if not _standard_cron_field(fields[index], names=index >= 3):
            raise Invalid(f'{show(value)} 不是标准的 cron 时间：第 {index + 1} 栏（{name_zh}）"{fields[index]}" '
                          f'用了 crontab(5) 没有的扩展写法（如 L、W、#、?）；请用 {takes_zh}',
                          f'{show(value)} is not standard cron: its {name_en} field "{fields[index]}" uses an '
                          f'extension crontab(5) does not have (like L, W, # or ?); use {takes_en}')
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise Invalid(f"{show(value)} 永远不会到来（没有这一天）；请检查日和月两栏",
                      f"{show(value)} never comes round (there is no such day); check the day and month fields") \
            from None
    return expression


def _quiet_hours(values: dict[str, Any]) -> QuietHours:
    if values["start"] == values["end"]:
        raise Invalid(f'"{_clock_text(values["end"])}" 和 from 相同；请写安静时段结束的时间，'
                      f'如 {{ from = "21:30", to = "07:00" }}',
                      f'"{_clock_text(values["end"])}" is the same as from; write when the quiet hours end, '
                      f'like {{ from = "21:30", to = "07:00" }}', ("to",))
    return QuietHours(**values)


# Broadcast's timing fields (stored names) → their key in schedule.toml and their kind of timing.
_TIMING = {"at": ("at", "at"), "start": ("from", "from/until/every"), "until": ("until", "from/until/every"),
           "every_s": ("every", "from/until/every"), "cron": ("cron", "cron"), "once": ("date", "date")}


def _timing(values: dict[str, Any]) -> dict[str, Any]:
    """A [[broadcast]] has exactly one kind of timing, and from/until/every all three, until after from."""
    present = [key for key in values if key in _TIMING]
    kinds = list(dict.fromkeys(_TIMING[key][1] for key in present))
    if not kinds:
        raise Invalid('没有写什么时候播放；请加上 at = ["08:00"]，或 from、until、every 三项，'
                      '或 cron = "0 8 * * 1"，或 date = "2026-12-24 18:00"',
                      'has no time to play; add at = ["08:00"], or from, until and every, '
                      'or cron = "0 8 * * 1", or date = "2026-12-24 18:00"')
    if len(kinds) > 1:
        second = next(key for key in present if _TIMING[key][1] == kinds[1])
        raise Invalid(f"已经用 {kinds[0]} 定了时间，不能再用 {kinds[1]}；请只留一种，另一种可以另写一个 [[broadcast]]",
                      f"already has its time in {kinds[0]}, so {kinds[1]} can't be used too; keep one, and "
                      "put the other in a [[broadcast]] of its own", (_TIMING[second][0],))
    if kinds[0] == "from/until/every":
        missing = [_TIMING[key][0] for key in ("start", "until", "every_s") if key not in values]
        if missing:
            raise Invalid(f'from、until 和 every 要一起写（如 from = "14:00"、until = "15:00"、every = "20m"）；'
                          f"请加上 {' 和 '.join(missing)}",
                          f'from, until and every go together (like from = "14:00", until = "15:00", '
                          f"every = \"20m\"); add {' and '.join(missing)}", (_TIMING[present[0]][0],))
        if values["until"] <= values["start"]:
            until, start = _clock_text(values["until"]), _clock_text(values["start"])
            raise Invalid(f'"{until}" 不晚于 from "{start}"；until 是结束的时间（那一刻不播），要写同一天里更晚的时间',
                          f'"{until}" is not after from "{start}"; until is when the rounds end (not played '
                          'itself): write a later time the same day', ("until",))
    return values


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
                                 hints={"until": "to", "start": "from", "end": "to"}, make=_quiet_hours, fill=False),
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
        "broadcast": Tables(Table({
            "name": Field(TEXT, required=True, parse=_broadcast_name),
            "at": Field(CLOCKS, parse=_some_times),
            "from": Field(CLOCK, to="start"),
            "until": Field(CLOCK),
            "every": Field(Kind("时长", "a duration", _every), to="every_s"),
            "cron": Field(TEXT, parse=_cron),
            "date": Field(MOMENT, to="once"),
            "days": Field(Kind("日子", "a day", _to_days)),
            "clips": Field(NAMES, parse=_clip_choice),
            "repeat": Field(WHOLE, min=1, max=20),
            "gap": Field(DURATION, min=0, max=60, unit=SECONDS, to="gap_s"),
            "volume": Field(NUMBER, min=-30, max=12, unit=("dB", "dB"), to="volume_db"),
            "priority": Field(TEXT, choices=("normal", "urgent"), noun=("优先级", "a priority")),
        }, hints={"to": "until", "end": "until", "start": "from", "time": "at", "times": "at",
                  "interval": "every", "weekdays": "days", "volume_db": "volume"}, make=_timing), to="broadcasts"),
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
    text = _to_text(value).strip()
    if text.lower() in EXAMPLE_TOKENS:
        raise Invalid("这个口令是说明书里的例子，谁都能猜到：请自己编一个至少 12 个字符的口令，字母和数字混合",
                      "this token is an example from the documentation, so anybody can guess it: make up your own "
                      "of at least 12 characters, letters and digits")
    if len(text) < 12 or text.lower() in ("changeme", "password", "123456789012"):
        raise Invalid("口令太短或太容易猜：请写至少 12 个字符，字母和数字混合",
                      "the token is too short or too easy to guess: write at least 12 characters, letters and digits")
    return text


def _build(path: Path, values: dict[str, Any], lines: TomlLines) -> Config:
    station, speech, audio, web = (dict(values.get(key, {})) for key in ("station", "speech", "audio", "web"))
    factor = speech.pop("pace")
    speech["pace"] = {"zh": speech.pop("zh_pace") * factor, "en": speech.pop("en_pace") * factor}
    speech["voices"] = dict(speech.get("voices", {}))
    broadcasts = tuple(Broadcast(line=lines.line(("broadcast", index)), **entry)
                       for index, entry in enumerate(values.get("broadcasts", [])))
    return Config(path=path, speech=SpeechConfig(**speech), audio=AudioConfig(**audio),
                  station=Station(**station), broadcasts=broadcasts, web=WebConfig(**web))
