"""Numbers, dates, times, phone numbers, units and symbols written out as an
announcer reads them, in the language of the words around them.

This runs before the text is split, so "37.3" and "8:30" are never cut at
their dots and colons. Afterwards no digit is left, and the only "." left ends
a sentence. Every pattern is anchored so that it cannot start inside a number
or word it has already passed: the passes stay linear in the text's length.

English time ranges read "nine to fifteen hundred" (24-hour clock kept, as
written), never converted to a m / p m.

A dash between numbers, or between numbers with Chinese units of one kind
(11月30日-12月2日, 3号楼-5号楼), is a range: 到 / to. A "-" is a minus sign
only where a number may start (see _MINUS_AFTER), and a temperature below
zero is 零下 in Chinese, also right after a word (气温-3℃, -3~5℃).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

from announcer.build.speakable import en, zh
from announcer.build.speakable.script import HAN, Spans, language_before, language_near, script_of, sub_spans

Rule = tuple[re.Pattern, Callable[[re.Match, str], str]]

_NUMBER = r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?"
# Where an abbreviation's full stop also ends the sentence.
_STOP_AFTER = re.compile(rf"[ \t]*(?:$|\n)|[ \t]+[\"'“‘(]*[A-Z{HAN}]|[{HAN}]")
_PHONE_WORDS = re.compile(r"电话|热线|拨打|致电|手机|号码|报警|急救|火警|求助"
                          r"|(?<![A-Za-z])(?:tel|telephone|phone|hotline|call|dial|mobile)", re.IGNORECASE)
_PHONE_WORDS_AFTER = re.compile(r"[ \t]*(?:电话|热线|报警|急救|火警)")
# What may follow a long number that is an amount, not a phone number.
_AMOUNT_AFTER = re.compile(
    "[ \t]*(?:" + "|".join(re.escape(w) for w in sorted(
        set(zh.MEASURE_WORDS) | set(zh.UNITS) | set("年月日号楼层室栋元%‰°"), key=len, reverse=True))
    + r"|(?:yuan|RMB|people|persons|residents|households|dollars|euros|times)(?![A-Za-z]))")
_CURRENCY_BEFORE = re.compile(r"(?:[¥$€£]|RMB|CNY)[ \t]*$")
# A dash or tilde that joins the two ends of a range (—— is the Chinese dash).
_DASH = r"(?:—{1,2}|[-~〜～–―])"
# What may come right before a minus sign: a number starts there (start of
# text, a space, an opening bracket, a separator, 为/到/至 …). After any other
# character, above all a Chinese word, a dash only joins or separates.
_MINUS_AFTER = re.compile(r"[\s(（\[【「『“‘\"'《<>:：=≈,，、;；~〜～为到至是约达和及或比]")
_DAY_PARTS = "上午|下午|中午|晚上|凌晨|早上|早晨|傍晚|夜里"


def normalise(text: str, default: str) -> str:
    """`text` with every number and symbol written out; `default` ("zh"/"en")
    is the language for numbers with no words around them."""
    for pattern, write in _rules():
        text = pattern.sub(lambda m, write=write: _apart(m, write(m, default)), text)
    return text


def normalise_spans(text: str, default: str, spans: Spans) -> tuple[str, Spans]:
    """normalise(text, default), carrying `spans` (where each character of `text` came from) along."""
    for pattern, write in _rules():
        text, spans = sub_spans(pattern, lambda m, write=write: _apart(m, write(m, default)), text, spans)
    return text, spans


def _apart(m: re.Match, words: str) -> str:
    """English words written out next to letters or digits get a space
    between (abc123 → abc one hundred and twenty-three)."""
    if not words or words == m.group() or not (words[0].isascii() or words[-1].isascii()):
        return words
    text, start, end = m.string, m.start(), m.end()
    if start and words[0].isalpha() and words[0].isascii() and script_of(text[start - 1]) == "en":
        words = " " + words
    if (end < len(text) and words[-1].isalpha() and words[-1].isascii()
            and (script_of(text[end]) == "en" or text[end].isdigit())):
        words += " "
    return words


def _language(m: re.Match, default: str) -> str:
    return language_near(m.string, m.start(), m.end(), default)


def _minus(m: re.Match, group: str = "neg", frost: bool = False) -> bool:
    """Whether the "-" of `group` is a minus sign (see _MINUS_AFTER). With
    `frost` (a temperature) it is also one right after a Chinese word:
    气温-3℃, but not 零下-3℃."""
    index = m.start(group)
    if index < 0:
        return False
    if index == 0 or _MINUS_AFTER.match(m.string, index - 1):
        return True
    text = m.string
    return frost and script_of(text[index - 1]) == "zh" and not text.endswith("零下", 0, index)


def _stop(m: re.Match, group: str = "dot") -> str:
    """"." when the full stop the match swallowed also ended the sentence."""
    return "." if m.group(group) and _STOP_AFTER.match(m.string, m.end()) else ""


# --- dates and times ---------------------------------------------------------

def _names(table: tuple[tuple[str, ...], ...]) -> tuple[dict[str, int], str]:
    """Month or weekday names: lower-cased name → number from 1, and a regex
    for any of them as written or in capitals."""
    index = {name.lower(): i + 1 for i, names in enumerate(table) for name in names}
    forms = sorted({form for names in table for name in names for form in (name, name.upper())},
                   key=len, reverse=True)
    return index, "(?:" + "|".join(forms) + ")"


_MONTH_INDEX, _MONTH = _names(en.MONTH_NAMES)
_WEEKDAY_INDEX, _WEEKDAY = _names(en.WEEKDAY_NAMES)
_ORDINAL_SUFFIX = "(?:st|nd|rd|th)?"


def _iso_date(m: re.Match, default: str) -> str:
    year, month, day = (int(m.group(g)) for g in ("year", "month", "day"))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group()
    if _language(m, default) == "zh":
        return f"{zh.year(m.group('year'))}年{zh.integer(str(month))}月{zh.integer(str(day))}日"
    return en.date(month, day, year)


def _zh_year(m: re.Match, default: str) -> str:
    return zh.year(m.group())


def _en_date_range(m: re.Match, default: str) -> str:
    """Jan 5-7 → January fifth to seventh; Nov 30-Dec 2 → … to December second."""
    day, day2 = int(m.group("day")), int(m.group("day2"))
    if not (1 <= day <= 31 and 1 <= day2 <= 31):
        return m.group()
    month = _MONTH_INDEX[m.group("month").lower()]
    second = (en.date(_MONTH_INDEX[m.group("month2").lower()], day2) if m.group("month2")
              else en.ordinal(day2))
    year = m.group("year")
    return en.date(month, day) + " to " + second + (f", {en.year(int(year))}" if year else "")


def _en_weekdays(m: re.Match, default: str) -> str:
    """Mon-Fri → Monday to Friday."""
    first, last = (en.WEEKDAY_NAMES[_WEEKDAY_INDEX[m.group(g).lower()] - 1][0] for g in ("a", "b"))
    return f"{first} to {last}" + _stop(m)


def _unit_kind(unit: str) -> str:
    """What a Chinese unit after a number measures, by its first character:
    点/时/分/秒 are times, 年/月/日/号 dates, anything else is its own kind."""
    first = unit[0]
    return "time" if first in "点时分秒" else "date" if first in "年月日号" else first


def _unit_range(m: re.Match, default: str) -> str:
    """A dash between two numbers with units of one kind joins a range
    (11月30日-12月2日, 3号楼-5号楼, 9点半-11点); between kinds it only
    separates (3号楼-502室) and is left alone."""
    kind = _unit_kind(m.group("unit"))
    right = re.findall(rf"[0-9]([{HAN}]+)", m.group("right"))
    if any(_unit_kind(unit) == kind for unit in right):
        return m.group("unit") + "到"
    return m.group()


def _en_date(m: re.Match, default: str) -> str:
    day = int(m.group("day"))
    if not 1 <= day <= 31:
        return m.group()
    year = m.group("year")
    words = en.date(_MONTH_INDEX[m.group("month").lower()], day, int(year) if year else None)
    return words + ("" if year else _stop(m))


_DAY_PART_BEFORE = re.compile(rf"(?:{_DAY_PARTS})[ \t]*$")
_TIME = r"(?P<h{0}>[0-9]{{1,2}})[:：](?P<m{0}>[0-9]{{2}})(?:[:：](?P<s{0}>[0-9]{{2}}))?"
_AMPM = r"(?:[ \t]*(?P<ap{0}>[AaPp])\.?[ \t]?[Mm](?![A-Za-z])(?P<dot{0}>\.)?)?"


def _clock(m: re.Match, n: str, language: str, oclock: bool = True, ampm: str | None = None,
           day_part: bool = True) -> str | None:
    """The words for time number `n` of the match, or None if it is no time.
    `ampm` overrides the match's own a.m./p.m.; `day_part` False leaves out
    the Chinese 上午/下午 (said once for a range)."""
    hour, minute = int(m.group("h" + n)), int(m.group("m" + n) or 0)
    second = int(m.group("s" + n)) if m.groupdict().get("s" + n) else None
    ampm = ampm or m.group("ap" + n)
    if hour > 24 or minute > 59 or (second or 0) > 59 or (ampm and not 1 <= hour <= 12):
        return None
    pm = ampm.lower() == "p" if ampm else None
    if language == "zh":
        said = _DAY_PART_BEFORE.search(m.string, max(0, m.start() - 4), m.start())
        part = zh.day_part(hour, pm) if ampm and day_part and not said else ""
        return part + zh.clock(hour, minute, second)
    return en.clock(hour, minute, second, pm, oclock)


def _time_range(m: re.Match, default: str) -> str:
    """9:00-15:00, 9:00 am - 5:00 pm, 3-5 pm (a.m./p.m. said once)."""
    language = _language(m, default)
    shared = m.group("ap2") if m.group("ap1") == "" else None
    if language == "zh":
        first = _clock(m, "1", language, ampm=shared)
        second = _clock(m, "2", language, day_part=not shared)
    else:
        first = _clock(m, "1", language, oclock=False)
        second = _clock(m, "2", language)
        if shared and first is not None and not 1 <= int(m.group("h1")) <= 12:
            first = None
    if first is None or second is None:
        return m.group()
    joint = "到" if language == "zh" else " to "
    return first + joint + second + _stop(m, "dot2")


def _time(m: re.Match, default: str) -> str:
    words = _clock(m, "1", _language(m, default))
    return m.group() if words is None else words + _stop(m, "dot1")


def _zh_clock(m: re.Match, default: str) -> str:
    hour, minute = int(m.group("h")), int(m.group("m"))
    if hour > 24 or minute > 59:
        return m.group()
    return zh.clock(hour, minute, half=False)


# --- phone numbers, rooms, buildings -----------------------------------------

def _phone(m: re.Match, default: str) -> str:
    groups = re.findall(r"[0-9]+", m.group("body"))
    total = sum(len(g) for g in groups)
    plus = bool(m.group("plus"))
    if len(groups) == 1 and not plus and not _looks_like_phone(m, groups[0]):
        return m.group()
    if len(groups) > 1 and not plus:
        spaced_only = not re.search(r"[-()]", m.group("body"))
        if spaced_only and total < 7:
            return m.group()
        if not spaced_only and total < 7 and (len(groups) < 3 or total < 4):
            return m.group()   # a range such as 3-5; read later
    if _language(m, default) == "zh":
        return ("加" if plus else "") + "，".join(zh.digits(g) for g in groups)
    return ("plus " if plus else "") + ", ".join(en.digits(g) for g in groups)


def _looks_like_phone(m: re.Match, digits: str) -> bool:
    """A lone number read digit by digit: a hotline or phone number, not an amount."""
    text, start, end = m.string, m.start(), m.end()
    if len(digits) >= 5:
        if _AMOUNT_AFTER.match(text, end) or _CURRENCY_BEFORE.search(text, max(0, start - 4), start):
            return False
        return len(digits) >= 7 or digits[0] == "0" or not digits.endswith("00")
    if len(digits) >= 3:
        return bool(_PHONE_WORDS.search(text, max(0, start - 12), start)
                    or _PHONE_WORDS_AFTER.match(text, end, end + 8))
    return False


def _zh_room(m: re.Match, default: str) -> str:
    return zh.digits(m.group())


def _en_room(m: re.Match, default: str) -> str:
    n = m.group("n")
    return "room " + (en.digits(n, oh=True) if len(n) >= 3 else en.integer(n))


def _en_building(m: re.Match, default: str) -> str:
    return "building " + en.integer(m.group("n"))


def _en_number_sign(m: re.Match, default: str) -> str:
    return "number " + en.integer(m.group("n"))


_OWN_UNIT = ("号", "单元", "栋", "幢", "座", "层", "室", "期", "排", "组")


def _hash_number(m: re.Match, default: str) -> str:
    n = m.group("n") or m.group("n2")
    if _language(m, default) == "zh":
        # "#3楼" is 三号楼, but "#3号楼" and "#2单元" already say what the number is
        return zh.integer(n) + ("" if m.string.startswith(_OWN_UNIT, m.end()) else "号")
    return "number " + en.integer(n)


# --- quantities --------------------------------------------------------------

def _range(m: re.Match, default: str) -> str:
    return "到" if _language(m, default) == "zh" else " to "


def _zh_weekdays(m: re.Match, default: str) -> str:
    return "到"


_ZH_DEGREES = {"℃": "摄氏度", "℉": "华氏度", "°": "度", "度": "度"}


def _signed(language: str, minus: bool, n: str, sign: str, unit: bool = True) -> str:
    """A number with its sign (℃ ℉ ° 度 % ‰): 零下三摄氏度, 负百分之三,
    minus three degrees. Without `unit`, a temperature's unit is left to the
    other end of its range (零下三到五摄氏度)."""
    percent = sign in "%‰"
    if language == "zh":
        if percent:
            return ("负" if minus else "") + ("千分之" if sign == "‰" else "百分之") + zh.number(n)
        return ("零下" if minus else "") + zh.number(n) + (_ZH_DEGREES[sign] if unit else "")
    words = ("minus " if minus else "") + en.number(n)
    if not unit:
        return words
    if percent:
        return words + (" per mille" if sign == "‰" else " percent")
    return words + (" degree" if n == "1" else " degrees") + (" Fahrenheit" if sign == "℉" else "")


def _dash(m: re.Match, group: str, minus: bool) -> str:
    """The dash of `group` when it is not read as a minus sign (it separates)."""
    return "" if minus else m.group(group) or ""


def _signed_range(m: re.Match, default: str) -> str:
    """-3~5℃ → 零下三到五摄氏度, 3-5% → 百分之三到百分之五, three to five percent."""
    language, sign = _language(m, default), m.group("sign")
    minus = _minus(m, "neg1", frost=sign not in "%‰")
    both = language == "zh" and sign in "%‰"
    first = _signed(language, minus, m.group("n1"), sign, unit=both)
    second = _signed(language, bool(m.group("neg2")), m.group("n2"), sign)
    return _dash(m, "neg1", minus) + first + ("到" if language == "zh" else " to ") + second


def _temperature(m: re.Match, default: str) -> str:
    sign = m.group("sign")
    minus = _minus(m, frost=True)
    if sign == "度" and not minus:
        return m.group()     # 5度: a plain count, read later
    return _dash(m, "neg", minus) + _signed(_language(m, default), minus, m.group("n"), sign)


def _percent(m: re.Match, default: str) -> str:
    minus = _minus(m)
    return _dash(m, "neg", minus) + _signed(_language(m, default), minus, m.group("n"), m.group("sign"))


def _currency(m: re.Match, default: str) -> str:
    n, sign = m.group("n"), m.group("cur")
    sign = "¥" if sign in ("RMB", "CNY") else sign
    if _language(m, default) == "zh":
        return zh.count(n) + zh.CURRENCIES[sign]
    return en.amount(n, en.CURRENCIES[sign])


def _ordinal(m: re.Match, default: str) -> str:
    return en.ordinal(int(m.group("n")))


def _floor(m: re.Match, default: str) -> str:
    n = m.group("n")
    if _language(m, default) == "zh":
        return zh.integer(n) + "楼"
    return en.ordinal(int(n)) + " floor"


def _two(m: re.Match, default: str) -> str:
    return "两"


def _unit(m: re.Match, default: str) -> str:
    n, unit = m.group("n"), m.group("u")
    after = language_near(m.string, m.end(), m.end(), default)
    if language_before(m.string, m.start(), after) == "zh":
        return zh.count(n) + zh.UNITS[unit]
    return en.amount(n, en.UNITS[unit])


def _plain(m: re.Match, default: str) -> str:
    n, minus = m.group("n"), _minus(m)
    if _language(m, default) == "zh":
        words = ("负" if minus else "") + zh.number(n)
    elif not minus and len(n) == 4 and n[:2] in ("19", "20"):
        words = en.year(int(n))
    else:
        words = ("minus " if minus else "") + en.number(n)
    return _dash(m, "neg", minus) + words


def _symbol(m: re.Match, default: str) -> str:
    zh_word, en_word = {"&": ("和", "and"), "+": ("加", "plus"), "=": ("等于", "equals")}[m.group()]
    return zh_word if _language(m, default) == "zh" else f" {en_word} "


# --- English abbreviations and full stops -------------------------------------

_TITLES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Prof": "Professor",
           "vs": "versus", "approx": "approximately", "Tel": "telephone", "tel": "telephone",
           "Rm": "room", "Bldg": "building", "Apt": "apartment", "Dept": "department",
           "Fl": "floor", "Attn": "attention", "Mt": "Mount"}
_ENDINGS = {"etc": "et cetera", "St": "Street", "Rd": "Road", "Ave": "Avenue", "Blvd": "Boulevard",
            "Ltd": "Limited", "Co": "Company", "Inc": "Incorporated", "Jr": "Junior", "Sr": "Senior",
            **{short: names[0] for table in (en.MONTH_NAMES, en.WEEKDAY_NAMES)
               for names in table for short in names[1:]}}
_SAINT = re.compile(r"[ \t]*[A-Z][a-z]")
_NAME_BEFORE = re.compile(r"[A-Z][a-z]*[ \t]+$")
_UNDOTTED = ("Bldg", "Rm", "Tel", "Dept", "Apt")


def _abbreviation(m: re.Match, default: str) -> str:
    word = m.group("word")
    if word in _TITLES:
        return _TITLES[word] + " "
    text, start = m.string, m.start()
    if (word == "St" and _SAINT.match(text, m.end())
            and not _NAME_BEFORE.search(text, max(0, start - 24), start)):
        return "Saint "   # St. John, but Main St. and St. at the end are streets
    return _ENDINGS[word] + _stop(m)


def _undotted(m: re.Match, default: str) -> str:
    return _TITLES[m.group()]


def _letters(m: re.Match, default: str) -> str:
    letters = m.group("letters").replace(".", "")
    if letters.lower() in ("eg", "ie"):
        return "for example" if letters.lower() == "eg" else "that is"
    return " ".join(letters) + _stop(m)


def _drop_dot(m: re.Match, default: str) -> str:
    return " "


def _fixed(words: str) -> Callable[[re.Match, str], str]:
    return lambda m, default: words


@lru_cache(maxsize=1)
def _rules() -> tuple[Rule, ...]:
    """The passes, in order: the specific before the general."""
    time1, time2 = _TIME.format("1"), _TIME.format("2")
    ampm1, ampm2 = _AMPM.format("1"), _AMPM.format("2")
    joint = rf"(?:[ \t]*(?:{_DASH}|至|到)[ \t]*|[ \t]+(?:to|until|till)[ \t]+)"
    units = "|".join(re.escape(u) for u in sorted(zh.UNITS, key=len, reverse=True))
    measures = "|".join(zh.MEASURE_WORDS)
    rules: list[tuple[str, Callable[[re.Match, str], str]]] = [
        (r"\.{2,}|…+", _fixed("…")),
        (r"(?<=\s)-+(?=\s)", _fixed("—")),
        (r"(?<=[0-9])[ \t]*°[ \t]*C(?![A-Za-z])", _fixed("℃")),
        (r"(?<=[0-9])[ \t]*°[ \t]*F(?![A-Za-z])", _fixed("℉")),
        # ranges between numbers with Chinese units, and of weekdays
        (rf"(?<=[0-9])(?P<unit>[{HAN}]{{1,3}})[ \t]*{_DASH}[ \t]*"
         rf"(?=(?:{_DAY_PARTS})?(?P<right>(?:[0-9]+(?:\.[0-9]+)?[{HAN}]{{1,3}}){{1,3}}))", _unit_range),
        (rf"(?<=[周期拜][一二三四五六日天])[ \t]*{_DASH}[ \t]*(?=(?:周|星期|礼拜)?[一二三四五六日天])",
         _zh_weekdays),
        (rf"(?<![A-Za-z])(?P<a>{_WEEKDAY})\.?(?:[ \t]*{_DASH}[ \t]*|[ \t]+(?:to|through|thru)[ \t]+)"
         rf"(?P<b>{_WEEKDAY})(?P<dot>\.)?(?![A-Za-z])", _en_weekdays),
        # dates
        (rf"(?<![A-Za-z])(?P<month>{_MONTH})\.?[ \t]+(?P<day>[0-9]{{1,2}}){_ORDINAL_SUFFIX}"
         rf"(?:[ \t]*{_DASH}[ \t]*|[ \t]+(?:to|through|until|till)[ \t]+)"
         rf"(?:(?P<month2>{_MONTH})\.?[ \t]+)?(?P<day2>[0-9]{{1,2}}){_ORDINAL_SUFFIX}(?![0-9A-Za-z])"
         r"(?![ \t]*(?:[:：.][0-9]|[AaPp]\.?[ \t]?[Mm](?![A-Za-z])))"
         r"(?:,?[ \t]*(?P<year>[0-9]{4})(?![0-9]))?", _en_date_range),
        (r"(?<![0-9])(?P<year>(?:19|20)[0-9]{2})(?P<sep>[-/.])(?P<month>[0-9]{1,2})(?P=sep)"
         r"(?P<day>[0-9]{1,2})(?![0-9])", _iso_date),
        (r"(?<![0-9])[0-9]{4}(?=[ \t]*年)", _zh_year),
        (rf"(?<![A-Za-z])(?P<month>{_MONTH})\.?[ \t]+(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?(?![0-9A-Za-z])"
         r"(?:,?[ \t]*(?P<year>[0-9]{4})(?![0-9]))?(?P<dot>)", _en_date),
        (rf"(?<![0-9])(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?[ \t]+(?P<month>{_MONTH})(?P<dot>\.)?"
         r"(?![A-Za-z])(?:,?[ \t]*(?P<year>[0-9]{4})(?![0-9]))?", _en_date),
        # times
        (rf"(?<![0-9]){time1}{ampm1}{joint}{time2}{ampm2}(?![0-9])", _time_range),
        (rf"(?<![0-9]){time1}{ampm1}(?![0-9])", _time),
        (rf"(?<![0-9:：.])(?P<h1>[0-9]{{1,2}})(?P<m1>)(?P<ap1>){joint}(?P<h2>[0-9]{{1,2}})(?P<m2>)"
         r"[ \t]*(?P<ap2>[AaPp])\.?[ \t]?[Mm](?![A-Za-z])(?P<dot2>\.)?", _time_range),
        (r"(?<![0-9:：.])(?P<h1>[0-9]{1,2})(?P<m1>)"
         r"[ \t]*(?P<ap1>[AaPp])\.?[ \t]?[Mm](?![A-Za-z])(?P<dot1>\.)?", _time),
        (r"(?<![0-9])(?P<h>[0-9]{1,2})[ \t]*点[ \t]*(?P<m>[0-9]{1,2})[ \t]*分", _zh_clock),
        # rooms, buildings, numbers of things
        (r"(?<![0-9])[0-9]{3,5}(?=[ \t]*(?:室|房间|号房))", _zh_room),
        (r"(?<![A-Za-z])(?:Room|ROOM|room|Rm|RM|rm)\.?[ \t]*(?P<n>[0-9]+)(?![0-9])", _en_room),
        (r"(?<![A-Za-z])(?:Building|BUILDING|building|Bldg|BLDG|bldg)\.?[ \t]*(?:No\.?[ \t]*)?"
         r"(?P<n>[0-9]+)(?![0-9])", _en_building),
        (r"(?<![A-Za-z])(?:No|NO|no(?=\.))\.?[ \t]*(?P<n>[0-9]+)(?![0-9])", _en_number_sign),
        (r"#[ \t]*(?P<n>[0-9]+)(?![0-9])|(?<![0-9])(?P<n2>[0-9]+)#", _hash_number),
        # phone numbers and hotlines
        (r"(?<![0-9.,])(?<![0-9][.,])(?P<plus>\+[ \t]?)?(?P<body>\(?[0-9]+\)?"
         r"(?:(?:[ \t]*-[ \t]*|(?<=[0-9]{3})[ \t]+(?=[0-9]{3})|(?<=\))[ \t]*)\(?[0-9]+\)?)*)"
         r"(?![0-9])(?![.,][0-9])", _phone),
        # quantities
        (rf"(?:(?<![0-9A-Za-z])(?P<neg1>-))?(?<![0-9.])(?P<n1>{_NUMBER})"
         rf"(?:[ \t]*(?:{_DASH}|到|至)[ \t]*|[ \t]+(?:to|until|till)[ \t]+)"
         rf"(?P<neg2>-)?(?P<n2>{_NUMBER})[ \t]*(?P<sign>[℃℉°%‰])", _signed_range),
        (rf"(?<=[0-9%‰℃℉°])[ \t]*{_DASH}[ \t]*(?=-?[0-9])", _range),
        (rf"(?:(?<![0-9A-Za-z])(?P<neg>-))?(?<![0-9])(?P<n>{_NUMBER})[ \t]*(?P<sign>[℃℉°]|度(?!电))",
         _temperature),
        (rf"(?:(?<![0-9A-Za-z])(?P<neg>-))?(?<![0-9])(?P<n>{_NUMBER})[ \t]*(?P<sign>[%‰])", _percent),
        (rf"(?P<cur>[¥$€£]|(?<![A-Za-z])(?:RMB|CNY))[ \t]*(?P<n>{_NUMBER})", _currency),
        (r"(?<![0-9])(?P<n>[0-9]+)(?:st|nd|rd|th)(?![A-Za-z])", _ordinal),
        (r"(?<![0-9A-Za-z])(?P<n>[0-9]{1,2})[Ff](?![A-Za-z])", _floor),
        (rf"(?<![0-9.])(?<!第)2(?=[ \t]*(?:(?:到|至)[ \t]*[0-9]+[ \t]*)?(?:{measures}))"
         r"(?![ \t]*(?:(?:到|至)[ \t]*[0-9]+[ \t]*)?年级)", _two),
        (rf"(?<![0-9])(?P<n>{_NUMBER})[ \t]*(?P<u>{units})(?![A-Za-z0-9])", _unit),
        (rf"(?:(?<![0-9A-Za-z])(?P<neg>-)(?=[0-9]))?(?<![0-9])(?P<n>{_NUMBER})", _plain),
        (r"[&+=]", _symbol),
        # English abbreviations, spelled letters, and full stops inside a sentence
        ("(?<![A-Za-z.])(?P<word>" + "|".join(sorted({**_TITLES, **_ENDINGS}, key=len, reverse=True))
         + r")(?P<dot>\.)", _abbreviation),
        ("(?<![A-Za-z])(?:" + "|".join(_UNDOTTED) + ")(?![A-Za-z.])", _undotted),
        (r"(?<![A-Za-z.])(?P<letters>[A-Za-z](?:\.[A-Za-z])+)(?P<dot>\.)?(?![A-Za-z])", _letters),
        (rf"\.(?![ \t\n]|$|[\"'”’)\]】》」』]|[{HAN}])", _drop_dot),
    ]
    return tuple((re.compile(pattern), write) for pattern, write in rules)
