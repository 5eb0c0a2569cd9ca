"""Notice files → Notice objects.

Two formats. Plain text (any extension but .toml): notices separated by blank
lines, each with an optional first line `# title`. TOML (.toml): `[[notice]]`
tables with text and optional id, title, language, repeat, dates and tags.

Files come from Windows Notepad as often as not, so the text encoding is
detected (BOMs, then UTF-8, then GB18030) and anything that is not plain text
is refused with a message saying what to do, never read as mojibake.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from announcer.config import (DATE, TEXT, TEXT_LIST, WHOLE, Field, Invalid, Problem, Table, Tables,
                              check, show)
from announcer.errors import NoticeError, tr
from announcer.tomlpos import TomlLines, explain_syntax_error


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
    name = f"“{title if len(title) <= 20 else title[:19] + '…'}”" if title else ""
    if number:
        en_name = f" {name}" if name else ""
        return f"{source}:{line}" + tr(f"（第 {number} 条通知{name}）", f" (notice {number}{en_name})")
    return f"{source}:{line}" + (tr(f"（{name}）", f" ({name})") if name else "")


def read_notices(paths: Sequence[Path]) -> list[Notice]:
    """Every notice in `paths`, in order, with ids. Raises one NoticeError listing every problem."""
    problems: list[NoticeError] = []
    drafts: list[tuple[Notice, str | None]] = []     # (notice without id, the id the user gave)
    for path in paths:
        try:
            text = read_text(path)
        except NoticeError as error:
            problems.append(error)
            continue
        parse = _from_toml if path.suffix.lower() == ".toml" else _from_plain
        drafts += parse(text, str(path), problems)
    notices = _with_ids(drafts, problems)
    if problems:
        raise NoticeError.several(problems)
    return notices


def slugify(title: str) -> str:
    """An ASCII id from a title: "停水通知" → "ting-shui-tong-zhi" (at most 40 characters)."""
    from pypinyin import Style, lazy_pinyin

    words = lazy_pinyin(unicodedata.normalize("NFKC", title), style=Style.NORMAL)
    ascii_text = "-".join(unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode() for w in words)
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > 40:
        cut = slug.rfind("-", 0, 41)
        slug = slug[:cut if cut > 0 else 40]
    return slug


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
    for position, (notice, ident) in enumerate(drafts, 1):
        if not ident:
            base = (slugify(notice.title) if notice.title else "") or f"notice-{position}"
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
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line:
            current = None
            continue
        if current is None or line[0] in _TITLE_MARKS:   # a title also starts a notice
            current = []
            blocks.append((lineno, current))
        current.append(line)
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


# ---------------------------------------------------------------------------
# Reading bytes and finding the text encoding

_SAVE_AS_UTF8 = ("请用记事本打开，选“另存为”，编码选 UTF-8 后保存",
                 "open it in Notepad, choose Save As, set Encoding to UTF-8 and save")
_PLAIN_TEXT_HELP = ("请把通知复制到记事本里，保存为 .txt 文件再用",
                    "copy the notices into Notepad and save them as a .txt file")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_SIGNATURES = (
    (b"PK\x03\x04", "Word/Excel 文档或压缩包", "a Word/Excel document or a zip archive"),
    (b"\xd0\xcf\x11\xe0", "Word/Excel 文档", "a Word/Excel document"),
    (b"{\\rtf", "写字板/Word 的 RTF 文档", "an RTF document (WordPad/Word)"),
    (b"%PDF", "PDF 文件", "a PDF file"),
    (b"\x89PNG", "图片", "a picture"), (b"\xff\xd8\xff", "图片", "a picture"), (b"GIF8", "图片", "a picture"),
    (b"ID3", "音频文件", "a sound file"), (b"RIFF", "音频或视频文件", "a sound or video file"),
)
_PINYIN_LETTERS = set("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüĀÁǍÀĒÉĚÈĪÍǏÌŌÓǑÒŪÚǓÙǕǗǙǛÜ")


def read_text(path: Path) -> str:
    """The text of a notices file, whatever its encoding; newlines as \\n. Raises NoticeError."""
    name = str(path)

    def fail(zh: str, en: str) -> NoticeError:
        return NoticeError(zh, en, where=name)

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise fail("找不到这个文件；请检查文件名和所在的文件夹", "file not found; check the file name and folder") from None
    except IsADirectoryError:
        raise fail("这是一个文件夹，不是文件；请指定文件夹里的通知文件",
                   "this is a folder, not a file; give the notices file inside it") from None
    except PermissionError:
        raise fail("没有权限打开这个文件；请检查文件权限，或把它复制到别的文件夹",
                   "no permission to open the file; check its permissions, or copy it to another folder") from None
    except OSError as error:
        raise fail(f"无法读取这个文件（{error.strerror}）；请检查文件，或把它复制到别的文件夹",
                   f"the file can't be read ({error.strerror}); check it, or copy it to another folder") from None
    if not data:
        raise fail("文件是空的；请把当天的通知写进去，每条通知之间空一行",
                   "the file is empty; put the day's notices in it, separated by blank lines")
    text = _decode(data, fail)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = sum(1 for c in text if _is_control(c))
    if controls > 2 and controls * 10 > len(text):
        raise fail(f"这不是文本文件；{_PLAIN_TEXT_HELP[0]}", f"this is not a text file; {_PLAIN_TEXT_HELP[1]}")
    text = "".join(c for c in text if not _is_control(c))   # stray invisible characters
    if not text.strip():
        raise fail("文件里只有空行；请把当天的通知写进去，每条通知之间空一行",
                   "the file has only blank lines; put the day's notices in it, separated by blank lines")
    return text


def _decode(data: bytes, fail) -> str:
    for magic, kind_zh, kind_en in _SIGNATURES:
        if data.startswith(magic):
            raise fail(f"这是{kind_zh}，不是文本文件；{_PLAIN_TEXT_HELP[0]}",
                       f"this is {kind_en}, not a text file; {_PLAIN_TEXT_HELP[1]}")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec).lstrip("\ufeff")
            except UnicodeDecodeError:
                name = codec.upper().removesuffix("-SIG")
                raise fail(f"文件已损坏（标记为 {name} 编码，内容却不是）；{_SAVE_AS_UTF8[0]}",
                           f"the file is damaged (marked as {name} but it isn't); {_SAVE_AS_UTF8[1]}") from None
    if b"\x00" in data:
        raise fail(f"这不是文本文件；{_PLAIN_TEXT_HELP[0]}", f"this is not a text file; {_PLAIN_TEXT_HELP[1]}")
    utf8 = _try_decode(data, "utf-8")
    if utf8 is not None and not _misread_chinese(utf8):
        return utf8
    chinese = _try_decode(data, "gb18030")
    if chinese is not None and _plausible_chinese(chinese):
        return chinese
    if utf8 is not None:
        return utf8
    raise fail(f"看不出这个文件用的是什么文字编码；{_SAVE_AS_UTF8[0]}",
               f"can't tell which text encoding this file uses; {_SAVE_AS_UTF8[1]}")


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


def _misread_chinese(text: str) -> bool:
    """Valid UTF-8 that looks like GBK read wrongly: 思路 (GBK) → "˼·", 眉头 → "üͷ".

    Real text here is Chinese and English: two-byte UTF-8 characters beyond
    Latin-1 and pinyin letters (Greek, Cyrillic, IPA...) or unassigned code
    points give it away, as do Latin-1 letters with no ASCII letters about.
    """
    odd = [c for c in text if 0x80 <= ord(c) < 0x800]
    if any(not (0xA0 <= ord(c) <= 0xFF or c in _PINYIN_LETTERS) for c in odd):
        return True
    if any(unicodedata.category(c) in ("Cn", "Co") for c in text if ord(c) >= 0x800):
        return True
    return bool(odd) and not any(c.isascii() and c.isalpha() for c in text)


def _plausible_chinese(text: str) -> bool:
    """GB18030 text from Chinese Windows: GBK characters, mostly the common GB2312 ones."""
    wide = [c for c in text if ord(c) > 0x7F]
    common = 0
    for char in wide:
        if unicodedata.category(char) in ("Cc", "Co", "Cn"):
            return False
        try:
            char.encode("gbk")
        except UnicodeEncodeError:
            return False      # only GB18030's four-byte codes: not from Notepad
        common += _in_gb2312(char)
    return common >= 0.8 * len(wide)


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def _is_control(char: str) -> bool:
    return char not in "\n\t" and unicodedata.category(char) == "Cc"
