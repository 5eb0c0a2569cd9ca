"""Characters and scripts: which language a letter belongs to, and text cleaned
of what no listener can hear (control characters, zero-width marks, links).
"""

from __future__ import annotations

import itertools
import re
import unicodedata

# Han characters, for use inside a regex character class.
HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Latin letters, plain and accented, for use inside a regex character class.
LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"

# Full-width marks NFKC would fold to ASCII; they are kept so that the spoken
# text keeps the notice's own punctuation.
_KEEP_FULL_WIDTH = re.compile(r"[^，！？；：（）]+")
_DROPPED_CATEGORIES = frozenset(("Cf", "Cs", "Co", "Cn", "Mn", "Me"))
_LINE_BREAKS = frozenset("\n\x0b\x0c\x85\u2028\u2029")

_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]"
_URL_END = r"[A-Za-z0-9/_\-=#%&]"
_LINKS = re.compile(
    # e-mail addresses
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    # links with a scheme or www.
    rf"|(?<![A-Za-z0-9])(?:(?:https?|ftp)://|www\.){_URL_CHARS}*{_URL_END}"
    # bare domain names with a common ending, with an optional path
    r"|(?<![A-Za-z0-9.@-])[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*"
    r"\.(?:com|cn|net|org|gov|edu)(?![A-Za-z0-9-])"
    rf"(?:/{_URL_CHARS}*{_URL_END})?",
    re.IGNORECASE,
)


def script_of(char: str) -> str | None:
    """'zh' for a Han character, 'en' for a Latin letter, else None."""
    code = ord(char)
    if code < 0x80:
        return "en" if char.isalpha() else None
    if (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF
            or 0x20000 <= code <= 0x3134F or code == 0x3007):
        return "zh"
    if 0xC0 <= code <= 0x24F and code not in (0xD7, 0xF7):
        return "en"
    return None


def fold(text: str) -> str:
    """Full-width letters and digits to ASCII (NFKC), invisible characters out,
    every line break as '\\n', links and e-mail addresses removed."""
    text = _KEEP_FULL_WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    kept = []
    for char in text:
        if char in _LINE_BREAKS or char == "\r":
            kept.append("\n")
        elif char == "\t":
            kept.append(" ")
        else:
            category = unicodedata.category(char)
            if category == "Cc":
                kept.append(" ")
            elif category not in _DROPPED_CATEGORIES:
                kept.append(char)
    return _LINKS.sub(" ", "".join(kept))


Spans = list[tuple[int, int]]     # for each character of a text made from another: where it came from


def fold_spans(text: str) -> tuple[str, Spans]:
    """fold(text), and where in `text` each of its characters came from (for quoting the notice's own
    words, not the spoken form)."""
    chars: list[str] = []
    spans: Spans = []
    pieces, start = [], 0     # (NFKC-folded piece, where it starts and ends in `text`)
    for m in _KEEP_FULL_WIDTH.finditer(text):
        pieces += [(text[i], i, i + 1) for i in range(start, m.start())]
        whole = unicodedata.normalize("NFKC", m.group())
        singles = [unicodedata.normalize("NFKC", c) for c in m.group()]
        if "".join(singles) == whole:
            pieces += [(single, m.start() + i, m.start() + i + 1) for i, single in enumerate(singles)]
        else:
            pieces.append((whole, m.start(), m.end()))
        start = m.end()
    pieces += [(text[i], i, i + 1) for i in range(start, len(text))]
    for piece, a, b in pieces:
        for char in piece:
            if char in _LINE_BREAKS or char == "\r":
                kept = "\n"
            elif char == "\t":
                kept = " "
            else:
                category = unicodedata.category(char)
                kept = " " if category == "Cc" else "" if category in _DROPPED_CATEGORIES else char
            if kept:
                chars.append(kept)
                spans.append((a, b))
    return sub_spans(_LINKS, lambda m: " ", "".join(chars), spans)


def sub_spans(pattern: re.Pattern, write, text: str, spans: Spans) -> tuple[str, Spans]:
    """pattern.sub(write, text), carrying `spans` along: what a match writes comes from the whole match."""
    matches = pattern.finditer(text)
    first = next(matches, None)
    if first is None:
        return text, spans          # most rules find nothing: nothing to copy
    out: list[str] = []
    new: Spans = []
    start = 0
    for m in itertools.chain((first,), matches):
        out.append(text[start:m.start()])
        new += spans[start:m.start()]
        words = write(m)
        if words == m.group():
            new += spans[m.start():m.end()]
        elif words:
            if m.end() > m.start():
                whole = (spans[m.start()][0], spans[m.end() - 1][1])
            else:
                at = spans[m.start()][0] if m.start() < len(spans) else (spans[-1][1] if spans else 0)
                whole = (at, at)
            new += [whole] * len(words)
        out.append(words)
        start = m.end()
    out.append(text[start:])
    new += spans[start:]
    return "".join(out), new


def language_near(text: str, start: int, end: int, default: str, reach: int = 24) -> str:
    """The language of the letters next to text[start:end] (a number, a symbol).

    A letter right after it (spaces aside) decides, then one right before it,
    then whichever is nearer within `reach` characters of the same sentence;
    `default` when there is none.
    """
    after, after_gap = _nearest(text, end, 1, reach)
    before, before_gap = _nearest(text, start - 1, -1, reach)
    if after and after_gap == 0:
        return after
    if before and before_gap == 0:
        return before
    if after and before:
        return after if after_gap < before_gap else before
    return after or before or default


def language_before(text: str, start: int, default: str, reach: int = 24) -> str:
    """The language of the nearest letter before `start` in the same sentence."""
    before, _ = _nearest(text, start - 1, -1, reach)
    return before or default


_LETTER_OR_BREAK = re.compile(f"[{HAN}{LATIN}。！？!?；;\n]")


def _nearest(text: str, index: int, step: int, reach: int) -> tuple[str | None, int]:
    """The first letter's language walking from `index` by `step` (within the
    sentence), and how many non-space characters lie between."""
    if step > 0:
        window = text[index:index + reach]
    else:
        window = text[max(0, index + 1 - reach):index + 1][::-1]
    found = _LETTER_OR_BREAK.search(window)
    if found is None:
        return None, reach
    gap = len("".join(window[:found.start()].split()))
    return script_of(found.group()), gap


_HAN_CHAR = re.compile(f"[{HAN}]")
_LATIN_WORD = re.compile(f"[{LATIN}]+")


def unspoken_words(text: str) -> list[str]:
    """Words in letters of neither script announcer speaks (Hebrew, Arabic, Cyrillic, kana...): they are
    left out of the spoken text, so the staff member must be told."""
    words = []
    for word in re.findall(r"[^\W\d_]+", fold(text)):
        if any(unicodedata.category(c).startswith("L") and script_of(c) is None for c in word):
            if word not in words:
                words.append(word)
    return words


def main_language(text: str) -> str:
    """'zh' or 'en': whichever script carries more of the text (Han characters
    against Latin words); Chinese when there is neither."""
    han = len(_HAN_CHAR.findall(text))
    words = len(_LATIN_WORD.findall(text))
    return "en" if words > han else "zh"
