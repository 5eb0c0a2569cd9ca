"""Reading a text file the user wrote, whatever editor saved it.

Notices files and schedule.toml come from Windows Notepad as often as not, so
the encoding is detected: a BOM (UTF-8, UTF-16, UTF-32), else UTF-8, else
GB18030/GBK when it reads as plausible Chinese. A file that is missing, a
folder, a pipe or a device, over its size limit, unreadable, not text at all,
or empty is refused with a message, in Chinese and English, saying what to do;
a file is never read as mojibake. A few stray control characters (NUL, BEL…)
in readable text are dropped, and the caller is told.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from announcer.core.errors import AnnouncerError, tr

ZhEn = tuple[str, str]   # (Chinese, English)


@dataclass(frozen=True)
class Role:
    """What a file is for, so that messages can say which file and what belongs in it."""
    noun: ZhEn                    # ("通知文件", "notices file")
    fill: ZhEn | None             # what to write into an empty file; None: an empty file is fine
    remake: ZhEn                  # how to make a proper text file of this kind
    limit: int | None = None      # the largest file taken, in bytes
    split: ZhEn | None = None     # what to do with a file over the limit


NOTICES_LIMIT = 2_000_000         # bytes: a day's notices are a few KB (the web page takes the same)

TEXT_ROLE = Role(("文件", "file"), ("请把内容写进去", "put the text in it"),
                 ("请用记事本保存为文本文件再用", "save it as a text file in Notepad"))
NOTICES_ROLE = Role(("通知文件", "notices file"),
                    ("请把当天的通知写进去，每条通知之间空一行",
                     "put the day's notices in it, separated by blank lines"),
                    ("请把通知复制到记事本里，保存为 .txt 文件再用",
                     "copy the notices into Notepad and save them as a .txt file"),
                    NOTICES_LIMIT,
                    ("一天的通知只有几 KB；请检查是不是选错了文件，或把通知分成几个文件、分几天生成",
                     "a day's notices are a few KB; check that this is the right file, or split the notices "
                     "into several files and days"))
SETTINGS_ROLE = Role(("设置文件", "settings file"), None,
                     ("请用记事本编辑 schedule.toml，保存为文本文件再用",
                      "edit schedule.toml in Notepad and save it as a text file"))

SAVE_AS_UTF8: ZhEn = ("请用记事本打开，选“另存为”，编码选 UTF-8 后保存",
                      "open it in Notepad, choose Save As, set Encoding to UTF-8 and save")

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


def read_text(path: Path, error_class: Callable[..., AnnouncerError] = AnnouncerError,
              role: Role = TEXT_ROLE, notes: list[str] | None = None) -> str:
    """The text of `path`, whatever its encoding; newlines as \\n, stray control characters dropped (said in
    `notes`, when given, in the messages' language).

    Raises `error_class(zh, en, where=str(path))` saying what is wrong and what to do.
    """
    name = str(path)
    (noun_zh, noun_en), (remake_zh, remake_en) = role.noun, role.remake

    def fail(zh: str, en: str) -> AnnouncerError:
        return error_class(zh, en, where=name)

    try:
        data = _read_regular(path, role.limit, fail, role)
    except FileNotFoundError:
        raise fail(f"找不到这个{noun_zh}；请检查文件名和所在的文件夹",
                   f"{noun_en} not found; check the file name and folder") from None
    except IsADirectoryError:
        raise fail(f"这是一个文件夹，不是{noun_zh}；请指定文件夹里的{noun_zh}",
                   f"this is a folder, not a {noun_en}; give the {noun_en} inside it") from None
    except PermissionError:
        raise fail(f"没有权限打开这个{noun_zh}；请检查文件权限，或把它复制到别的文件夹",
                   f"no permission to open the {noun_en}; check its permissions, "
                   "or copy it to another folder") from None
    except OSError as error:
        raise fail(f"无法读取这个{noun_zh}（{error.strerror}）；请检查文件，或把它复制到别的文件夹",
                   f"the {noun_en} can't be read ({error.strerror}); check it, "
                   "or copy it to another folder") from None
    if not data:
        if role.fill is None:
            return ""
        raise fail(f"{noun_zh}是空的；{role.fill[0]}", f"the {noun_en} is empty; {role.fill[1]}")
    nuls = data.count(b"\x00")
    if nuls and not any(data.startswith(bom) for bom, _ in _BOMS) and nuls <= max(2, len(data) // 100):
        data = data.replace(b"\x00", b"")       # a few stray NULs in a text file (UTF-16 has many)
    text = _decode(data, fail, role)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = sum(1 for c in text if _is_control(c)) + (nuls if b"\x00" not in data else 0)
    if controls > 2 and controls * 10 > len(text):
        raise fail(f"这不是文本文件；{remake_zh}", f"this is not a text file; {remake_en}")
    text = "".join(c for c in text if not _is_control(c))   # stray invisible characters
    if controls and notes is not None:
        notes.append(tr(f"{name}：删除了 {controls} 个看不见的控制字符（如 NUL、BEL），其余照常读取。",
                        f"{name}: dropped {controls} invisible control character(s) (such as NUL or BEL); "
                        "the rest was read as usual"))
    if not text.strip() and role.fill is not None:
        raise fail(f"{noun_zh}里只有空行；{role.fill[0]}", f"the {noun_en} has only blank lines; {role.fill[1]}")
    return text


def _read_regular(path: Path, limit: int | None, fail: Callable[[str, str], Exception], role: Role) -> bytes:
    """The bytes of a regular file, at most `limit`; a pipe or a device is refused before it is opened (a
    pipe would wait forever for a writer)."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError
    noun_zh, noun_en = role.noun
    if not stat.S_ISREG(mode):
        kind = ("管道", "a pipe") if stat.S_ISFIFO(mode) else ("设备", "a device") if (
            stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else ("套接字", "a socket")
        raise fail(f"这是{kind[0]}，不是普通文件；请把{noun_zh}保存成文件再用",
                   f"this is {kind[1]}, not a regular file; save the {noun_en} as a file and give that")
    with path.open("rb") as file:
        data = file.read(limit + 1) if limit is not None else file.read()
    if limit is not None and len(data) > limit:
        split = role.split or ("请把它分成几个小文件", "split it into smaller files")
        raise fail(f"{noun_zh}太大（超过 {limit / 1e6:.0f} MB）；{split[0]}",
                   f"the {noun_en} is too large (over {limit / 1e6:.0f} MB); {split[1]}")
    return data


def _decode(data: bytes, fail: Callable[[str, str], Exception], role: Role) -> str:
    """`data` as text: BOM, else UTF-8, else GB18030 that looks like real Chinese. Raises fail(zh, en)."""
    remake_zh, remake_en = role.remake
    for magic, kind_zh, kind_en in _SIGNATURES:
        if data.startswith(magic):
            raise fail(f"这是{kind_zh}，不是文本文件；{remake_zh}", f"this is {kind_en}, not a text file; {remake_en}")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec).lstrip("\ufeff")
            except UnicodeDecodeError:
                name = codec.upper().removesuffix("-SIG")
                raise fail(f"文件已损坏（标记为 {name} 编码，内容却不是）；{SAVE_AS_UTF8[0]}",
                           f"the file is damaged (marked as {name} but it isn't); {SAVE_AS_UTF8[1]}") from None
    if b"\x00" in data:
        raise fail(f"这不是文本文件；{remake_zh}", f"this is not a text file; {remake_en}")
    utf8 = _try_decode(data, "utf-8")
    if utf8 is not None and not _misread_chinese(utf8):
        return utf8
    chinese = _try_decode(data, "gb18030")
    if chinese is not None and _plausible_chinese(chinese):
        return chinese
    if utf8 is not None:
        return utf8
    raise fail(f"看不出这个文件用的是什么文字编码；{SAVE_AS_UTF8[0]}",
               f"can't tell which text encoding this file uses; {SAVE_AS_UTF8[1]}")


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
