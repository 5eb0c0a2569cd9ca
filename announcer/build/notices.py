"""Notice files → Notice objects.

Two formats. Plain text (any extension but .toml): notices separated by blank
lines; the first line of a notice may be its title, `# title` (or `＃ title`).
Only the first line: a `#` line further down is part of the text, since a
notice may well say "#3号楼". TOML (.toml): `[[notice]]` tables with text and
optional id, title, language, repeat, dates and tags.

Files are read by `textfile.read_text`, which detects the encoding Notepad
used and refuses anything that is not plain text.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from announcer.build.speakable.script import HAN
from announcer.core.config.schema import (DATE, TEXT, TEXT_LIST, WHOLE, Field, Invalid, Problem, Table, Tables,
                              check, show)
from announcer.core.errors import LibraryError, NoticeError, shorten, tr
from announcer.core.library import atomic_write, user_cache
from announcer.core.textfile import NOTICES_ROLE, read_text
from announcer.core.tomlpos import TomlLines, explain_syntax_error


@dataclass(frozen=True)
class Notice:
    id: str                   # stable ASCII slug, unique within the day
    title: str | None
    text: str
    language: str | None      # "zh" / "en" / None (detect later)
    repeat: int | None
    valid_from: date | None
    valid_until: date | None
    tags: tuple[str, ...]
    source: str               # file name as the user gave it
    line: int                 # line where the notice starts (1-based)
    number: int = 0           # position within its file (1-based; 0: unknown)

    def valid_on(self, day: date) -> bool:
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_until is None or day <= self.valid_until))

    @property
    def where(self) -> str:
        """For error messages: notices.txt:7 (notice 2 “停水通知”)."""
        return _where(self.source, self.line, self.number, self.title)


def _where(source: str, line: int, number: int, title: str | None) -> str:
    name = f"“{shorten(title, 20)}”" if title else ""
    if number:
        en_name = f" {name}" if name else ""
        return f"{source}:{line}" + tr(f"（第 {number} 条通知{name}）", f" (notice {number}{en_name})")
    return f"{source}:{line}" + (tr(f"（{name}）", f" ({name})") if name else "")


MAX_A_DAY = 500        # notices valid on one day (the web page holds a day to the same)


def read_notices(paths: Sequence[Path], notes: list[str] | None = None) -> list[Notice]:
    """Every notice in `paths`, in order, with ids. Raises one NoticeError listing every problem; what was
    read with a warning (control characters dropped) is said in `notes`."""
    problems: list[NoticeError] = []
    drafts: list[tuple[Notice, str | None]] = []     # (notice without id, the id the user gave)
    for path in paths:
        try:
            text = read_text(path, NoticeError, NOTICES_ROLE, notes)
        except NoticeError as error:
            problems.append(error)
            continue
        parse = _from_toml if path.suffix.lower() == ".toml" else _from_plain
        drafts += parse(text, str(path), problems)
    notices = _with_ids(drafts, problems)
    if problems:
        raise NoticeError.several(problems)
    return notices


def busiest_day(notices: Sequence[Notice], today: date) -> tuple[date, int]:
    """The day with the most notices valid on it (from today on, or any day a notice starts), and how many."""
    days = {today} | {n.valid_from for n in notices if n.valid_from is not None}
    counts = {day: sum(n.valid_on(day) for n in notices) for day in days}
    day = max(counts, key=lambda d: (counts[d], -d.toordinal()))
    return day, counts[day]


def too_many_error(count: int, day: date) -> NoticeError:
    return NoticeError(f"{day} 有 {count} 条通知，超过一天最多 {MAX_A_DAY} 条；请只留下这一天要播的通知，"
                       "或用 valid_from / valid_until 分到几天。",
                       f"{day} has {count} notices, more than the {MAX_A_DAY} a day can hold; keep only that "
                       "day's notices, or spread them over several days with valid_from / valid_until")


def slugify(title: str, readings: dict[str, list[str]] | None = None) -> str:
    """An ASCII id from a title: "停水通知" → "ting-shui-tong-zhi" (at most 40 characters). `readings`: the
    titles' pinyin worked out beforehand (pinyin_of), for many titles at once."""
    text = unicodedata.normalize("NFKC", title)
    if _HAN.search(text):
        words = (readings or {}).get(text) or pinyin_of([text])[text]
    else:
        words = [text]
    ascii_text = "-".join(unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode() for w in words)
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > 40:
        cut = slug.rfind("-", 0, 41)
        slug = slug[:cut if cut > 0 else 40]
    return slug


_HAN = re.compile(f"[{HAN}]")
TITLES_MEMO = 2000      # titles whose pinyin is remembered


def pinyin_of(titles: Sequence[str]) -> dict[str, list[str]]:
    """Toneless pinyin of Chinese titles (NFKC), remembered in ~/.cache/announcer/titles.json: pypinyin's
    phrase data takes longer to load than the rest of a rebuild from the cache. The memo is read once and
    written once, only when a title was new."""
    if not titles:
        return {}
    path = user_cache("titles.json")
    try:
        memo = json.loads(path.read_bytes())
    except (OSError, ValueError):
        memo = {}
    memo = memo if isinstance(memo, dict) else {}
    found = {t: memo.get(t) for t in titles}
    new = [t for t, words in found.items() if not (isinstance(words, list) and all(isinstance(w, str) for w in words))]
    if not new:
        return found
    from pypinyin import Style, lazy_pinyin

    for title in new:
        found[title] = lazy_pinyin(title, style=Style.NORMAL)
    kept = [(k, v) for k, v in memo.items() if k not in found]
    memo = dict(kept[max(0, len(kept) - (TITLES_MEMO - len(found))):]) | found
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(memo, ensure_ascii=False).encode())
    except (OSError, LibraryError):
        pass            # only a memo: the next build works it out again
    return found


def _with_ids(drafts: list[tuple[Notice, str | None]], problems: list[NoticeError]) -> list[Notice]:
    """Given ids as they are (a repeat is an error); others from the title, else notice-N."""
    given: dict[str, Notice] = {}
    for notice, ident in drafts:
        if ident and ident in given:
            first = given[ident]
            problems.append(NoticeError(
                f"id {show(ident)} 已经被 {first.where} 用过了；请给每条通知不同的 id",
                f"the id {show(ident)} is already used by {first.where}; give each notice its own id",
                where=notice.where))
        elif ident:
            given[ident] = notice
    used, out = set(given), []
    titles = {unicodedata.normalize("NFKC", n.title) for n, ident in drafts if not ident and n.title}
    readings = pinyin_of([t for t in titles if _HAN.search(t)])
    for position, (notice, ident) in enumerate(drafts, 1):
        if not ident:
            base = (slugify(notice.title, readings) if notice.title else "") or f"notice-{position}"
            ident, count = base, 1
            while ident in used:
                count += 1
                ident = f"{base}-{count}"
            used.add(ident)
        out.append(replace(notice, id=ident))
    return out


# ---------------------------------------------------------------------------
# Plain text

_TITLE_MARKS = "#＃"   # the full-width ＃ comes from a Chinese input method


def _from_plain(text: str, source: str, problems: list[NoticeError]) -> list[tuple[Notice, None]]:
    """Blank lines separate notices; only a notice's first line can be its title."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            current = None
            continue
        if current is None:
            current = []
            blocks.append((lineno, current))
        current.append(line)     # a # line inside a notice is text: "#3号楼居民请储水。"
    out = []
    for number, (lineno, lines) in enumerate(blocks, 1):
        has_title = lines[0][0] in _TITLE_MARKS
        title = (lines[0].lstrip(_TITLE_MARKS).strip() or None) if has_title else None
        body = lines[1:] if has_title else lines
        if not body:
            if title:
                problems.append(NoticeError(
                    "这条通知只有标题，没有正文；请把正文写在标题的下一行（中间不要空行）",
                    "notice has a title but no text; write the text on the lines right below the title "
                    "(no blank line in between)", where=_where(source, lineno, number, title)))
            continue
        out.append((Notice(id="", title=title, text="\n".join(body), language=None, repeat=None,
                           valid_from=None, valid_until=None, tags=(), source=source, line=lineno,
                           number=number), None))
    return out


# ---------------------------------------------------------------------------
# TOML

def _check_id(value: str) -> str:
    if re.fullmatch(r"[a-z0-9-]+", value):
        return value
    example = slugify(value) or "water-notice"
    raise Invalid(f'{show(value)} 不能用作 id；只能用小写英文字母、数字和 -，如 "{example}"',
                  f'{show(value)} is not a usable id; use only lowercase letters, digits and -, like "{example}"')


NOTICE_FIELDS = Table({
    "id": Field(TEXT, parse=_check_id),
    "title": Field(TEXT),
    "text": Field(TEXT, required=True),
    "language": Field(TEXT, choices=("zh", "en"), noun=("语言", "a language")),
    "repeat": Field(WHOLE, min=1, max=10),
    "valid_from": Field(DATE),
    "valid_until": Field(DATE),
    "tags": Field(TEXT_LIST),
})
NOTICES_FILE = Table({"notice": Tables(NOTICE_FIELDS)})


def _from_toml(text: str, source: str, problems: list[NoticeError]) -> list[tuple[Notice, str | None]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, zh, en = explain_syntax_error(str(error), text)
        problems.append(NoticeError(zh, en, where=f"{source}:{line}"))
        return []
    found: list[Problem] = []
    entries = check(data, NOTICES_FILE, (), found).get("notice", [])
    lines = TomlLines(text)
    out = []
    for index, entry in enumerate(entries):
        start, end = entry.get("valid_from"), entry.get("valid_until")
        if start and end and end < start:
            found.append(Problem(("notice", index, "valid_until"),
                                 f"{end} 早于 valid_from {start}；请检查日期",
                                 f"{end} is before valid_from {start}; check the dates"))
        notice = Notice(id="", title=entry.get("title"), text=entry.get("text", ""),
                        language=entry.get("language"), repeat=entry.get("repeat"),
                        valid_from=start, valid_until=end, tags=entry.get("tags", ()),
                        source=source, line=lines.line(("notice", index)), number=index + 1)
        out.append((notice, entry.get("id")))
    if not found and not entries:
        found.append(Problem((), "里面没有通知；每条通知写一个 [[notice]]，下面写 text = \"...\"",
                             'there are no notices in it; add a [[notice]] line for each notice, '
                             'with text = "..." below it'))
    for problem in sorted(found, key=lambda p: lines.line(p.path) if p.path else 0):
        key_zh, key_en = _notice_label(problem.path)
        where = f"{source}:{lines.line(problem.path)}" if problem.path else source
        problems.append(NoticeError(f"{key_zh}{problem.zh}", f"{key_en}{problem.en}", where=where))
    return [] if found else out


def _notice_label(path: tuple) -> tuple[str, str]:
    """("notice", 1, "title") → "第 2 条通知的 title: " / "notice 2 title: "."""
    if len(path) >= 2 and path[0] == "notice" and isinstance(path[1], int):
        key = ".".join(str(p) for p in path[2:])
        return ((f"第 {path[1] + 1} 条通知的 {key}: ", f"notice {path[1] + 1} {key}: ") if key
                else (f"第 {path[1] + 1} 条通知: ", f"notice {path[1] + 1}: "))
    key = ".".join(str(p) for p in path)
    return (f"{key}: ", f"{key}: ") if key else ("", "")
