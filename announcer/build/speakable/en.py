"""English readings: numbers, dates and times as an announcer says them, and
the plain words the English voice gets."""

from __future__ import annotations

import re
from functools import lru_cache
import unicodedata

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Each month's and weekday's name, then the short forms a notice may write for it.
MONTH_NAMES = (("January", "Jan"), ("February", "Feb"), ("March", "Mar"), ("April", "Apr"),
               ("May",), ("June", "Jun"), ("July", "Jul"), ("August", "Aug"),
               ("September", "Sept", "Sep"), ("October", "Oct"), ("November", "Nov"),
               ("December", "Dec"))
WEEKDAY_NAMES = (("Monday", "Mon"), ("Tuesday", "Tues", "Tue"), ("Wednesday", "Wed"),
                 ("Thursday", "Thurs", "Thur", "Thu"), ("Friday", "Fri"), ("Saturday", "Sat"),
                 ("Sunday", "Sun"))

# Latin unit abbreviations after a number: (one, many).
UNITS = {
    "km/h": ("kilometre per hour", "kilometres per hour"), "kWh": ("kilowatt hour", "kilowatt hours"),
    "km2": ("square kilometre", "square kilometres"), "m2": ("square metre", "square metres"),
    "m3": ("cubic metre", "cubic metres"), "km": ("kilometre", "kilometres"),
    "cm": ("centimetre", "centimetres"), "mm": ("millimetre", "millimetres"),
    "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"),
    "ml": ("millilitre", "millilitres"), "mL": ("millilitre", "millilitres"),
    "mins": ("minute", "minutes"), "min": ("minute", "minutes"), "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"), "sec": ("second", "seconds"), "h": ("hour", "hours"),
    "g": ("gram", "grams"), "m": ("metre", "metres"), "L": ("litre", "litres"),
}
CURRENCIES = {"¥": ("yuan", "yuan"), "$": ("dollar", "dollars"), "€": ("euro", "euros"),
              "£": ("pound", "pounds")}

_NOT_ENGINE = re.compile(r"[^A-Za-z' ]+")
_SPACES = re.compile(r" {2,}")


@lru_cache(maxsize=1024)
def _words(value: int, to: str = "cardinal") -> str:
    from num2words import num2words

    return num2words(value, to=to).replace(",", "")


def digits(text: str, oh: bool = False) -> str:
    """Digit by digit: 010 → zero one zero (with `oh`, 502 → five oh two)."""
    names = ("oh",) + _ONES[1:] if oh else _ONES
    return " ".join(names[int(d)] for d in text if d.isdigit())


def integer(text: str) -> str:
    """A whole number: 23 → twenty-three. Leading zeros or more than 15
    digits: digit by digit."""
    if (len(text) > 1 and text[0] == "0") or len(text) > 15:
        return digits(text)
    return _words(int(text))


def number(text: str) -> str:
    """An integer or decimal, thousands commas allowed: 37.3 → thirty-seven point three."""
    whole, _, fraction = text.replace(",", "").partition(".")
    words = integer(whole)
    return f"{words} point {digits(fraction)}" if fraction else words


def ordinal(value: int) -> str:
    """3 → third, 30 → thirtieth."""
    return _words(value, to="ordinal")


def year(value: int) -> str:
    """2026 → twenty twenty-six, 2000 → two thousand."""
    return _words(value, to="year")


def clock(hour: int, minute: int, second: int | None = None, pm: bool | None = None,
          oclock: bool = True) -> str:
    """8:30 am → eight thirty a m, 8:00 pm → eight p m, 8:05 → eight oh five,
    9:00 → nine o'clock (plain "nine" without `oclock`), 15:00 → fifteen hundred,
    0:00 → midnight."""
    if pm is None and minute == 0 and not second and hour in (0, 24):
        return "midnight"
    words = integer(str(hour))
    if minute:
        words += " " + (f"oh {_ONES[minute]}" if minute < 10 else integer(str(minute)))
    elif pm is None and not second:
        if hour > 12:
            words += " hundred"
        elif oclock:
            words += " o'clock"
    if second:
        words += f" and {integer(str(second))} second" + ("" if second == 1 else "s")
    if pm is not None:
        words += " p m" if pm else " a m"
    return words


def date(month: int, day: int, year_number: int | None = None) -> str:
    """November thirtieth, twenty twenty-six."""
    words = f"{MONTH_NAMES[month - 1][0]} {ordinal(day)}"
    return f"{words}, {year(year_number)}" if year_number else words


def amount(value: str, names: tuple[str, str]) -> str:
    """A number with its unit: 1 km → one kilometre, 2 km → two kilometres."""
    return f"{number(value)} {names[0] if value == '1' else names[1]}"


def engine_words(readable: str) -> str:
    """The words the English voice gets: letters, spaces and apostrophes only.
    Spelled letters ("a m", "U S A") are joined in capitals (AM, USA) so the
    voice says the letter names, not the word "a"."""
    plain = unicodedata.normalize("NFKD", readable.replace("-", " "))
    words = _NOT_ENGINE.sub("", plain).split()
    words = [w.strip("'") for w in words]
    joined: list[str] = []
    letters: list[str] = []
    for word in [w for w in words if w] + [""]:
        if len(word) == 1:
            letters.append(word)
            continue
        if len(letters) > 1:
            joined.append("".join(letters).upper())
        else:
            joined.extend(letters)
        letters = []
        if word:
            joined.append(word)
    return _SPACES.sub(" ", " ".join(joined)).strip()
