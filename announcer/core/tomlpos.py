"""Where things are in a TOML file, for error messages that name a line.

tomllib gives values but no line numbers, and syntax errors only in English
and in parser terms. `TomlLines` finds the line of a table, an entry of an
array of tables, a key (dotted keys too), or an item of an array (the path
ends in its index); a key inside an inline table, or anything it cannot find,
falls back to the line of the nearest enclosing part.
`explain_syntax_error` turns a tomllib error into plain words and a line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]   # ("speech", "pace"), ("broadcast", 2, "time")

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class _Array:
    """An open [ ... ] while scanning: whose items they are, and which item comes next."""
    path: KeyPath | None                 # None: inside an inline table, not recorded
    index: int = 0
    started: bool = False                # the current item has begun


class TomlLines:
    """Line numbers (1-based) of the tables and keys of one TOML text."""

    def __init__(self, text: str):
        self._lines: dict[KeyPath, int] = {}
        self._arrays: dict[KeyPath, int] = {}      # array-of-tables path → entries so far
        self.duplicates: list[int] = []         # lines that repeat a key or a table
        self._scan(text)

    def line(self, path: Sequence[str | int]) -> int:
        """The line of `path`, else of its nearest known parent, else 1."""
        path = tuple(path)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return 1

    def _record(self, path: KeyPath, lineno: int, *, unique: bool) -> None:
        if path in self._lines:
            if unique:
                self.duplicates.append(lineno)
            return
        self._lines[path] = lineno
        for i in range(1, len(path)):            # a.b.c = 1 also defines a and a.b
            self._lines.setdefault(path[:i], lineno)

    def _resolve(self, keys: list[str]) -> KeyPath:
        """Insert the current entry number after each array of tables."""
        out: list[str | int] = []
        for key in keys:
            out.append(key)
            if tuple(out) in self._arrays:
                out.append(self._arrays[tuple(out)] - 1)
        return tuple(out)

    def _scan(self, text: str) -> None:
        table: KeyPath = ()
        open_string: str | None = None   # '"""' or "'''" while inside a multi-line string
        brackets: list[_Array | None] = []   # open [ (an _Array) and { (None) of a value that spans lines
        for lineno, line in enumerate(text.split("\n"), 1):
            pos, key = 0, None
            if open_string:
                end = _string_end(line, 0, open_string)
                if end is None:
                    continue
                open_string, pos = None, end
            elif not brackets:
                pos = _skip_space(line, 0)
                if line.startswith("[[", pos):
                    found = _read_key(line, pos + 2)
                    if found:
                        parent = self._resolve(found[0][:-1])
                        array = parent + (found[0][-1],)
                        count = self._arrays.get(array, 0)
                        self._arrays[array] = count + 1
                        table = array + (count,)
                        self._record(table, lineno, unique=True)
                    continue
                if line.startswith("[", pos):
                    found = _read_key(line, pos + 1)
                    if found:
                        table = self._resolve(found[0])
                        self._record(table, lineno, unique=True)
                    continue
                found = _read_key(line, pos)
                if not found or not line.startswith("=", found[1]):
                    continue
                key = table + tuple(found[0])
                self._record(key, lineno, unique=True)
                pos = found[1] + 1
            open_string = self._scan_value(line, pos, lineno, brackets, key)

    def _scan_value(self, line: str, pos: int, lineno: int, brackets: list[_Array | None],
                    key: KeyPath | None) -> str | None:
        """Follow strings and brackets to the end of the line, recording where array items start.

        `key`: the key whose value starts at `pos`. Returns the delimiter of a
        multi-line string left open, else None.
        """
        while pos < len(line):
            char = line[pos]
            if char == "#":
                break
            if char in " \t\r":
                pos += 1
                continue
            array, here, key = (brackets[-1] if brackets else None), key, None
            if array and not array.started and char not in ",]":
                array.started = True
                here = None if array.path is None else array.path + (array.index,)
                if here is not None:
                    self._record(here, lineno, unique=False)
            if line.startswith(('"""', "'''"), pos):
                delimiter = line[pos:pos + 3]
                end = _string_end(line, pos + 3, delimiter)
                if end is None:
                    return delimiter
                pos = end
                continue
            if char in "\"'":
                end = _quote_end(line, pos + 1, char)
                if end is None:
                    break
                pos = end
                continue
            if char == "[":
                brackets.append(_Array(here))
            elif char == "{":
                brackets.append(None)
            elif char in "]}" and brackets:
                brackets.pop()
            elif char == "," and array:
                array.index, array.started = array.index + 1, False
            pos += 1
        return None


def _skip_space(line: str, pos: int) -> int:
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    return pos


def _read_key(line: str, pos: int) -> tuple[list[str], int] | None:
    """A dotted key starting at `pos`: its parts and the position after it."""
    parts: list[str] = []
    while True:
        pos = _skip_space(line, pos)
        if line.startswith('"', pos):
            end = _quote_end(line, pos + 1, '"')
            if end is None:
                return None
            parts.append(_unescape(line[pos + 1:end - 1]))
            pos = end
        elif line.startswith("'", pos):
            end = line.find("'", pos + 1)
            if end < 0:
                return None
            parts.append(line[pos + 1:end])
            pos = end + 1
        else:
            match = _BARE_KEY.match(line, pos)
            if not match:
                return None
            parts.append(match.group())
            pos = match.end()
        pos = _skip_space(line, pos)
        if not line.startswith(".", pos):
            return parts, pos
        pos += 1


def _unescape(body: str) -> str:
    try:
        return tomllib.loads(f'k = "{body}"')["k"]
    except tomllib.TOMLDecodeError:
        return body


def _quote_end(line: str, pos: int, quote: str) -> int | None:
    """Position after the closing quote of a one-line string (escapes in "...")."""
    while pos < len(line):
        if quote == '"' and line[pos] == "\\":
            pos += 2
            continue
        if line[pos] == quote:
            return pos + 1
        pos += 1
    return None


def _string_end(line: str, pos: int, delimiter: str) -> int | None:
    """Position after the closing `\"\"\"` / `'''` of a multi-line string."""
    while pos < len(line):
        if delimiter == '"""' and line[pos] == "\\":
            pos += 2
            continue
        if line.startswith(delimiter, pos):
            pos += 3
            extra = 0                      # up to two quotes may end the content
            while extra < 2 and line.startswith(delimiter[0], pos):
                pos, extra = pos + 1, extra + 1
            return pos
        pos += 1
    return None


# tomllib's message → (what is wrong, what to do), each in Chinese and English.
_SYNTAX_HELP: list[tuple[tuple[str, ...], str, str, str, str]] = [
    (("Unterminated string", "Illegal character '\\n'", "Illegal character '\\r'"),
     "文字缺少结尾的引号", 'text is missing its closing quote',
     '请在文字末尾加上 "', 'add " at the end of the text'),
    (("Unescaped '\\'", "Invalid hex value", "Escaped character"),
     "文字里的反斜杠 \\ 有特殊含义", "a backslash \\ in text has a special meaning",
     "文件路径请用单引号（如 'C:\\声音\\铃声.wav'）或改用 /",
     "put file paths in single quotes (like 'C:\\sounds\\ding.wav') or use / instead"),
    (("Invalid value",),
     "等号后面的值看不懂", "the value after '=' can't be understood",
     '文字要加英文双引号（如 "幸福社区"），数字和 true/false 不加引号',
     'put text in double quotes ("like this"); numbers and true/false go without quotes'),
    (("Expected '=' after a key",),
     "设置的名称和值之间缺少 =", "a setting needs '=' between its name and its value",
     "请写成 名称 = 值", "write it as name = value"),
    (("Invalid initial character for a key", "Invalid statement"),
     "这一行既不是设置（名称 = 值），也不是 [分组]",
     "this line is neither a setting (name = value) nor a [section]",
     "设置名称只能用英文字母、数字、_ 和 -；说明文字请在行首加 #",
     "setting names use only English letters, digits, _ and -; start a comment with #"),
    (("Expected ']' at the end of a table",),
     "[分组] 缺少结尾的 ]", "a [section] line is missing its closing ]",
     "请在行尾加上 ]", "add ] at the end of the line"),
    (("Expected ']]' at the end of an array",),
     "[[分组]] 缺少结尾的 ]]", "a [[section]] line is missing its closing ]]",
     "请在行尾加上 ]]", "add ]] at the end of the line"),
    (("Expected newline or end of document",),
     "值的后面还有多余的内容", "there is something extra after the value",
     "每个设置单独占一行；说明文字请用 # 开头",
     "put each setting on its own line; start a comment with #"),
    (("Cannot declare", "Cannot redefine", "Cannot overwrite", "Cannot mutate", "Duplicate inline"),
     "同一个设置或分组写了两次", "a setting or section is written twice",
     "请只保留一个", "keep only one of them"),
    (("Unclosed array",),
     "列表缺少结尾的 ]", "a list is missing its closing ]",
     "请在列表末尾加上 ]", "add ] at the end of the list"),
    (("Unclosed inline table",),
     "{ ... } 缺少结尾的 }", "a { ... } is missing its closing }",
     "请在同一行的末尾加上 }", "add } at the end of the same line"),
    (("Invalid date",),
     "日期写得不对", "this is not a valid date",
     "日期请写成 2024-05-01 这样", "write dates like 2024-05-01"),
    (("Illegal character", "Found invalid character"),
     "这里有一个不允许的字符", "there is a character that is not allowed here",
     "请删除它，或把文字放进英文双引号里", "delete it, or put the text in double quotes"),
]

_POSITION = re.compile(r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$")


def explain_syntax_error(message: str, text: str) -> tuple[int, str, str]:
    """A tomllib error message → (line, Chinese text, English text) in plain words."""
    match = _POSITION.match(message)
    raw = match.group("msg") if match else message
    if match and match.group("line"):
        line, column = int(match.group("line")), int(match.group("col"))
    else:   # "end of document": the last line with something on it
        lines = text.split("\n")
        line = next((i for i in range(len(lines), 0, -1) if lines[i - 1].strip()), 1)
        column = None
    for prefixes, what_zh, what_en, fix_zh, fix_en in _SYNTAX_HELP:
        if raw.startswith(prefixes):
            break
    else:
        what_zh = what_en = raw
        fix_zh, fix_en = "请对照示例文件检查这一行", "check this line against the example file"
    if raw.startswith("Cannot overwrite") and column is None:
        found = TomlLines(text).duplicates
        line = found[0] if found else line
    at_zh = f"（第 {column} 列）" if column else ""
    at_en = f" (column {column})" if column else ""
    return (line,
            f"格式错误{at_zh}：{what_zh}；{fix_zh}",
            f"syntax error{at_en}: {what_en}; {fix_en}")
