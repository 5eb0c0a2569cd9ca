"""The checker behind schedule.toml and TOML notices.

A section is a `Table` of `Field`s (nested `Table`s, or `Tables` for [[arrays]]);
`check` reads a parsed TOML table against it and collects every problem, each
with its key path, in Chinese and English, instead of stopping at the first.
`show` and `closest` are the one place values are quoted and misspellings matched.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from announcer.core.errors import shorten, tr
from announcer.core.textfile import ZhEn


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


def to_number(value: Any) -> float:
    _quoted_number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WrongType
    return float(value)


def _to_whole(value: Any) -> int:
    number = to_number(value)
    if not number.is_integer():
        raise WrongType
    return int(number)


def to_text(value: Any) -> str:
    if not isinstance(value, str):
        raise WrongType
    if not value.strip():
        raise Invalid("是空的；请填写内容，或删除这一行", "is empty; fill it in or delete the line")
    return value.strip()


def _to_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise WrongType
    return value


def to_date(value: Any) -> date:
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


NUMBER = Kind("数字", "a number", to_number)
WHOLE = Kind("整数", "a whole number", _to_whole)
TEXT = Kind("文字", "text", to_text,
            ('请把文字放进英文双引号里，如 "幸福社区"', 'put the text in double quotes, like "Sunny Court"'))
BOOL = Kind("开关值", "true or false", _to_bool, ("请写 true 或 false，不加引号", "write true or false, without quotes"))
DATE = Kind("日期", "a date", to_date, ("请写成 2024-05-01 这样", "write it like 2024-05-01"))
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
