"""When a [[broadcast]] plays: times of day, days, every, cron, quiet hours, each with its own message."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from announcer.core.config.schema import (DATE, TEXT, Field, Invalid, Kind, WrongType, check_field, closest,
                                          parse_duration, show, to_date)
from announcer.core.config.settings import QuietHours
from announcer.core.textfile import ZhEn


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
    return datetime.combine(to_date(match[1]), _to_clock(match[2]))


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


def some_times(times: tuple[time, ...]) -> tuple[time, ...]:
    if not times:
        raise Invalid('是空的列表；请至少写一个时间，如 at = ["08:00"]',
                      'is an empty list; write at least one time, like at = ["08:00"]')
    return tuple(sorted(times))


MIN_EVERY_S = 10   # shorter rounds are a typo ("1ms") and would flood the plan and the play queue


def every_seconds(value: Any) -> float:
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


def to_days(value: Any) -> str | tuple[str, ...]:
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


def clip_choice(names: tuple[str, ...]) -> tuple[str, ...]:
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


def cron_expression(value: str) -> str:
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


def to_quiet_hours(values: dict[str, Any]) -> QuietHours:
    if values["start"] == values["end"]:
        raise Invalid(f'"{_clock_text(values["end"])}" 和 from 相同；请写安静时段结束的时间，'
                      f'如 {{ from = "21:30", to = "07:00" }}',
                      f'"{_clock_text(values["end"])}" is the same as from; write when the quiet hours end, '
                      f'like {{ from = "21:30", to = "07:00" }}', ("to",))
    return QuietHours(**values)


# Broadcast's timing fields (stored names) → their key in schedule.toml and their kind of timing.
_TIMING = {"at": ("at", "at"), "start": ("from", "from/until/every"), "until": ("until", "from/until/every"),
           "every_s": ("every", "from/until/every"), "cron": ("cron", "cron"), "once": ("date", "date")}


def check_timing(values: dict[str, Any]) -> dict[str, Any]:
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
