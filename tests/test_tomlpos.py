import tomllib

import pytest

from announcer.core.tomlpos import TomlLines, explain_syntax_error

TEXT = '''\
# settings
top = 1

[station]
name = "x"
"quoted key" = 2
[speech]
voices = { zh = "cmn", en = "en-us" }
voices2.zh = "a"
text = """
fake = 1
[fake]
"""
pace = 1.1   # after a multi-line string
list = [
  [1, 2],
  "a",
]
after_list = true

[[broadcast]]
time = "08:00"

[[broadcast]]
time = "09:00"
[broadcast.extra]
x = 1
'''


@pytest.fixture(scope="module")
def lines():
    tomllib.loads(TEXT)   # the fixture itself is valid TOML
    return TomlLines(TEXT)


@pytest.mark.parametrize("path, line", [
    (("top",), 2),
    (("station",), 4),
    (("station", "name"), 5),
    (("station", "quoted key"), 6),
    (("speech", "voices"), 8),
    (("speech", "voices", "zh"), 8),          # inside an inline table: the key's line
    (("speech", "voices2", "zh"), 9),         # dotted key
    (("speech", "voices2"), 9),
    (("speech", "pace"), 14),                 # not fooled by the multi-line string
    (("speech", "after_list"), 19),           # nor by a multi-line list
    (("broadcast",), 21),
    (("broadcast", 0), 21),
    (("broadcast", 0, "time"), 22),
    (("broadcast", 1), 24),
    (("broadcast", 1, "time"), 25),
    (("broadcast", 1, "extra", "x"), 27),
    (("broadcast", 1, "nothing"), 24),        # unknown: falls back to the table
    (("nowhere", "at", "all"), 1),
])
def test_lines(lines, path, line):
    assert lines.line(path) == line


def test_fake_table_inside_string_is_not_a_table(lines):
    assert lines.line(("fake",)) == 1
    assert lines.line(("speech", "fake")) == 7


def test_duplicates_are_listed():
    assert TomlLines("a = 1\n[t]\nb = 2\nb = 3\n[t]\n").duplicates == [4, 5]


def test_crlf_and_literal_multiline():
    text = "[a]\r\nx = '''\r\ny = 1\r\n'''\r\nz = 2\r\n"
    assert tomllib.loads(text.replace("\r\n", "\n"))["a"]["z"] == 2
    lines = TomlLines(text)
    assert lines.line(("a", "z")) == 5
    assert lines.line(("a", "y")) == 1     # y is inside the string: not a key


def _explain(text):
    with pytest.raises(tomllib.TOMLDecodeError) as caught:
        tomllib.loads(text)
    return explain_syntax_error(str(caught.value), text)


def test_unquoted_text():
    line, zh, en = _explain('a = 1\nname = 幸福社区\n')
    assert line == 2
    assert en == ("syntax error (column 8): the value after '=' can't be understood; put text in double "
                  'quotes ("like this"); numbers and true/false go without quotes')
    assert zh == ('格式错误（第 8 列）：等号后面的值看不懂；文字要加英文双引号（如 "幸福社区"），'
                  '数字和 true/false 不加引号')


@pytest.mark.parametrize("text, line, start", [
    ('a = "abc\n', 1, "syntax error (column 9): text is missing its closing quote"),
    ('\n\n[speech\n', 3, "syntax error (column 8): a [section] line is missing its closing ]"),
    ('x = 1\nx = 2', 2, "syntax error: a setting or section is written twice"),   # "end of document"
    ('chime = "C:\\sounds\\a.wav"\n', 1, "syntax error (column 14): a backslash \\ in text"),
    ('名称 = "x"\n', 1, "syntax error (column 1): this line is neither a setting"),
    ('a = 1 b = 2\n', 1, "syntax error (column 7): there is something extra after the value"),
    ('a = [1, 2\n', 1, "syntax error: a list is missing its closing ]"),
])
def test_syntax_errors_in_plain_words(text, line, start):
    got_line, _, en = _explain(text)
    assert (got_line, en[:len(start)]) == (line, start)


ARRAYS = '''\
holidays = [
  2026-10-01,   # first
  "2026-10-02", "2026-10-03",
  # a comment, then
  "a, [b] {c}",
]
nested = [[1, 2], [
  3,
]]
[[broadcast]]
at = ["08:00",
      "09:00"]
entries = [{ a = 1 },
           { a = 2 }]
text = ["""
not, an item
""", "x"]
after = 1
'''


@pytest.mark.parametrize("path, line", [
    (("holidays",), 1),
    (("holidays", 0), 2),
    (("holidays", 1), 3),
    (("holidays", 2), 3),                    # two items on one line
    (("holidays", 3), 5),                    # commas and brackets inside a string are text
    (("holidays", 4), 1),                    # no such item: the key's line
    (("nested", 0), 7),
    (("nested", 1), 7),
    (("nested", 1, 0), 8),                   # an array inside an array
    (("broadcast", 0, "at", 1), 12),
    (("broadcast", 0, "entries", 1), 14),    # an inline table as an item
    (("broadcast", 0, "entries", 1, "a"), 14),
    (("broadcast", 0, "text", 1), 17),       # after a multi-line string
    (("broadcast", 0, "after"), 18),
])
def test_array_items(path, line):
    tomllib.loads(ARRAYS)
    assert TomlLines(ARRAYS).line(path) == line
