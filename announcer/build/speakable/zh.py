"""Chinese readings: numbers, times and digits as a Mandarin announcer says
them, and the tone-numbered pinyin the espeak-ng cmn-latn-pinyin voice reads.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DIGITS = "零一二三四五六七八九"
_PHONE_DIGITS = "零幺二三四五六七八九"   # 1 as 幺 so it is not heard as 7

# After these, the number 2 is read 两 (两个, 两小时); longest first. Words that
# also name a number (2栋, 2层, 2班 = building, floor, class No. 2) are left out.
MEASURE_WORDS = tuple(sorted((
    "个", "位", "名", "人", "次", "天", "年", "周", "星期", "小时", "钟头", "分钟", "秒钟", "秒", "点",
    "刻", "件", "张", "本", "条", "只", "台", "辆", "把", "间", "套", "户",
    "家", "种", "项", "节", "包", "瓶", "箱", "袋", "份", "杯", "盒", "桶", "吨", "升", "毫升",
    "克", "千克", "公斤", "斤", "米", "公里", "千米", "厘米", "毫米", "平方米", "立方米", "元", "块",
    "角", "毛", "岁", "周岁", "遍", "步", "倍", "批", "趟", "场", "轮", "页", "篇",
    "句", "段", "部", "架", "双", "对", "副", "支", "根", "片", "颗", "粒", "口", "头", "棵", "株",
    "朵", "首", "封", "道", "扇", "所", "处", "万", "千", "百", "亿", "美元", "欧元", "英镑", "度",
), key=len, reverse=True))

# Latin unit abbreviations after a number.
UNITS = {
    "km/h": "公里每小时", "kWh": "千瓦时", "km2": "平方公里", "m2": "平方米", "m3": "立方米",
    "km": "公里", "cm": "厘米", "mm": "毫米", "kg": "公斤", "mg": "毫克", "ml": "毫升", "mL": "毫升",
    "mins": "分钟", "min": "分钟", "hrs": "小时", "hr": "小时", "sec": "秒", "h": "小时",
    "g": "克", "m": "米", "L": "升",
}
CURRENCIES = {"¥": "元", "$": "美元", "€": "欧元", "£": "英镑"}

_SYLLABLE = re.compile(r"[a-z]+[1-5]")
_CHUNK = 200


def digits(text: str) -> str:
    """Digit by digit, 1 as 幺: phone numbers, hotlines, room numbers."""
    return "".join(_PHONE_DIGITS[int(d)] for d in text if d.isdigit())


def year(text: str) -> str:
    """A year digit by digit: 2026 → 二零二六."""
    return "".join(_DIGITS[int(d)] for d in text)


@lru_cache(maxsize=1024)
def integer(text: str) -> str:
    """A whole number: 23 → 二十三, 20000 → 两万. Leading zeros or more than
    16 digits: digit by digit."""
    if (len(text) > 1 and text[0] == "0") or len(text) > 16:
        return year(text)
    from cn2an import an2cn

    words = an2cn(text)
    if words[:2] in ("二千", "二万", "二亿"):
        words = "两" + words[1:]
    return words


def number(text: str) -> str:
    """An integer or decimal, thousands commas allowed: 37.3 → 三十七点三."""
    whole, _, fraction = text.replace(",", "").partition(".")
    words = integer(whole)
    return words + "点" + year(fraction) if fraction else words


def count(text: str) -> str:
    """A number before a measure word: exactly 2 is 两 (两个), 20 stays 二十."""
    return "两" if text == "2" else number(text)


def clock(hour: int, minute: int, second: int | None = None, half: bool = True) -> str:
    """8:30 → 八点半, 8:05 → 八点零五分, 8:00 → 八点, 2:00 → 两点.
    With `half` False, 30 minutes stay 三十分."""
    words = count(str(hour)) + "点"
    if minute == 30 and half and second is None:
        words += "半"
    elif minute or second:
        words += "零分" if minute == 0 else ("零" if minute < 10 else "") + integer(str(minute)) + "分"
    if second:
        words += integer(str(second)) + "秒"
    return words


def day_part(hour: int, pm: bool) -> str:
    """上午/中午/下午/晚上 for a 12-hour clock time."""
    if not pm:
        return "凌晨" if hour < 6 or hour == 12 else "上午"
    if hour == 12:
        return "中午"
    return "下午" if hour < 6 else "晚上"


def pinyin(han: str) -> list[tuple[str, str]]:
    """(character, tone-numbered syllable) for each Han character that has a
    reading; pypinyin's phrase data picks the reading of polyphones."""
    read: list[tuple[str, str]] = []
    # pypinyin slows down on very long strings; no phrase is near this long
    for start in range(0, len(han), _CHUNK):
        read += _pinyin_chunk(han[start:start + _CHUNK])
    return read


@lru_cache(maxsize=4096)
def _pinyin_chunk(chunk: str) -> tuple[tuple[str, str], ...]:
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(chunk, style=Style.TONE3, neutral_tone_with_five=True,
                            errors=lambda chars: [""] * len(chars))
    if len(syllables) != len(chunk):   # one item a character is expected; be safe if not
        syllables = [_one(char) for char in chunk]
    return tuple((c, s) for c, s in zip(chunk, syllables) if _SYLLABLE.fullmatch(s))


def _one(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    found = lazy_pinyin(char, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda c: [""])
    return found[0] if len(found) == 1 else ""
