from datetime import date
from pathlib import Path

import pytest

from announcer.build.notices import Notice, read_notices, slugify
from announcer.core.errors import NoticeError

ZH = "# 停水通知\n明天上午九点到十二点停水，请提前储水。\n\n# 流感疫苗\n社区医院本周免费接种流感疫苗。\n"


def write_bytes(tmp_path: Path, data: bytes, name: str = "notices.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def write(tmp_path: Path, text: str, name: str = "notices.txt") -> Path:
    return write_bytes(tmp_path, text.encode("utf-8"), name)


def error(paths: list[Path]) -> str:
    with pytest.raises(NoticeError) as caught:
        read_notices(paths)
    return str(caught.value)


# --- reading files (encodings and file problems: tests/test_textfile.py) ------

@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "gbk"])
def test_any_encoding_notepad_saves(tmp_path, codec):
    notices = read_notices([write_bytes(tmp_path, ZH.encode(codec))])
    assert [(n.title, n.text) for n in notices] == [
        ("停水通知", "明天上午九点到十二点停水，请提前储水。"), ("流感疫苗", "社区医院本周免费接种流感疫苗。")]


def test_newlines_are_normalised(tmp_path):
    path = write(tmp_path, "# A\r\nline one\r\nline two\r\n\r\n# B\rtext\r")
    assert [(n.title, n.text, n.line) for n in read_notices([path])] == [
        ("A", "line one\nline two", 1), ("B", "text", 5)]


def test_file_problems_are_notice_errors(tmp_path):
    assert error([write_bytes(tmp_path, b"")]) == (f"{tmp_path / 'notices.txt'}: the notices file is empty; "
                                                   "put the day's notices in it, separated by blank lines")
    assert error([tmp_path / "nope.txt"]) == (f"{tmp_path / 'nope.txt'}: notices file not found; "
                                              "check the file name and folder")


def test_chinese_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    path = write_bytes(tmp_path, b"")
    assert error([path]) == f"{path}: 通知文件是空的；请把当天的通知写进去，每条通知之间空一行"


# --- plain text --------------------------------------------------------------

def test_plain_format(tmp_path):
    path = write(tmp_path, "\n\n  \n# 停水通知 \n  明天停水。\n请储水。\n \t\nNo title here.\n\n\n"
                           "＃ 全角标题\n正文\n\n#\n无标题\n\n")
    notices = read_notices([path])
    assert [(n.id, n.title, n.text, n.line, n.number) for n in notices] == [
        ("ting-shui-tong-zhi", "停水通知", "明天停水。\n请储水。", 4, 1),
        ("notice-2", None, "No title here.", 8, 2),
        ("quan-jiao-biao-ti", "全角标题", "正文", 11, 3),
        ("notice-4", None, "无标题", 14, 4),
    ]
    first = notices[0]
    assert (first.language, first.repeat, first.valid_from, first.valid_until, first.tags, first.source) == \
        (None, None, None, None, (), str(path))


@pytest.mark.parametrize("text, expected", [
    # the review's case: a # line inside a notice used to start a notice with no title... or no text
    ("因维修，明天停水。\n#3号楼居民请储水。\n", [(None, "因维修，明天停水。\n#3号楼居民请储水。")]),
    ("# 停水通知\n因维修，明天停水。\n#3号楼居民请储水。\n",
     [("停水通知", "因维修，明天停水。\n#3号楼居民请储水。")]),
    ("# 停水通知\n明天停水。\n＃ 注意\n请储水。\n", [("停水通知", "明天停水。\n＃ 注意\n请储水。")]),
    ("# A\nfirst\n# B\nsecond\n", [("A", "first\n# B\nsecond")]),     # a blank line is what separates
    ("# A\nfirst\n\n# B\nsecond\n", [("A", "first"), ("B", "second")]),
])
def test_only_the_first_line_can_be_a_title(tmp_path, text, expected):
    notices = read_notices([write(tmp_path, text)])
    assert [(n.title, n.text) for n in notices] == expected
    assert [n.line for n in notices] == [1, 4][:len(expected)]


def test_title_without_text(tmp_path):
    path = write(tmp_path, "# 停水通知\n明天停水。\n\n# 停电通知\n\n后天停电。\n")
    assert error([path]) == (f"{path}:4 (notice 2 “停电通知”): notice has a title but no text; write the text "
                             "on the lines right below the title (no blank line in between)")


def test_all_problems_in_one_error(tmp_path):
    a = write(tmp_path, "# A\n\n# B\n", "a.txt")
    b = write_bytes(tmp_path, b"", "b.txt")
    assert error([a, b, tmp_path / "c.txt"]).splitlines() == [
        f"{a}:1 (notice 1 “A”): notice has a title but no text; write the text on the lines right below the "
        "title (no blank line in between)",
        f"{a}:3 (notice 2 “B”): notice has a title but no text; write the text on the lines right below the "
        "title (no blank line in between)",
        f"{b}: the notices file is empty; put the day's notices in it, separated by blank lines",
        f"{tmp_path / 'c.txt'}: notices file not found; check the file name and folder",
    ]


# --- TOML --------------------------------------------------------------------

GOOD_TOML = '''\
# notices with metadata
[[notice]]
id = "bulky-waste"
title = "大件垃圾清运"
text = """
本周六上午清运大件垃圾。
请不要堵住消防通道。
"""
tags = ["环境", "safety"]
valid_from = 2026-11-01
valid_until = "2026-12-31"

[[notice]]
title = "Cold weather"
text = "Tonight it will be minus 5 degrees."
language = "en"
repeat = 2
'''


def test_toml_notices(tmp_path):
    path = write(tmp_path, GOOD_TOML, "notices.toml")
    assert read_notices([path]) == [
        Notice(id="bulky-waste", title="大件垃圾清运", text="本周六上午清运大件垃圾。\n请不要堵住消防通道。",
               language=None, repeat=None, valid_from=date(2026, 11, 1), valid_until=date(2026, 12, 31),
               tags=("环境", "safety"), source=str(path), line=2, number=1),
        Notice(id="cold-weather", title="Cold weather", text="Tonight it will be minus 5 degrees.",
               language="en", repeat=2, valid_from=None, valid_until=None, tags=(), source=str(path),
               line=13, number=2),
    ]


def test_toml_in_gbk(tmp_path):
    path = write_bytes(tmp_path, '[[notice]]\ntext = "明天停水，请储水。"\n'.encode("gbk"), "n.TOML")
    assert [n.text for n in read_notices([path])] == ["明天停水，请储水。"]


def test_toml_problems_name_line_and_key(tmp_path):
    path = write(tmp_path, '''\
[[notice]]
text = "ok"

[[notice]]
titel = "x"
text = 5
repeat = 11
valid_from = 2024-05-04
valid_until = 2024-05-02
language = "fr"
tags = "water"

[[notice]]
id = "Water Notice"
title = "no text"
valid_from = 2024-05-04T08:00:00
valid_until = "2024-02-30"
''', "notices.toml")
    assert error([path]).splitlines() == [
        f'{path}:5: notice 2 titel: unknown setting; did you mean "title"?',
        f'{path}:6: notice 2 text: 5 is not text; put the text in double quotes, like "Sunny Court"',
        f"{path}:7: notice 2 repeat: 11 is too high; use a whole number from 1 to 10",
        f"{path}:9: notice 2 valid_until: 2024-05-02 is before valid_from 2024-05-04; check the dates",
        f'{path}:10: notice 2 language: "fr" is not a language; use "zh" or "en"',
        f'{path}:11: notice 2 tags: "water" is not a list of words; write it like ["water", "urgent"]',
        f"{path}:13: notice 3 text: is missing; add text = ...",
        f'{path}:14: notice 3 id: "Water Notice" is not a usable id; use only lowercase letters, digits and -, '
        'like "water-notice"',
        f"{path}:16: notice 3 valid_from: 2024-05-04T08:00:00 has a time; write only the date, like 2024-05-01",
        f'{path}:17: notice 3 valid_until: "2024-02-30" is not a real date; check the month and day',
    ]


@pytest.mark.parametrize("text, message", [
    ("# nothing\n", 'there are no notices in it; add a [[notice]] line for each notice, with text = "..." '
                    "below it"),
    ('[notice]\ntext = "x"\n', "1: notice: write it as [[notice]] (double brackets), one for each entry"),
    ('[[notices]]\ntext = "x"\n', "1: notices: unknown section; did you mean [[notice]]?"),
    ('text = "x"\n', "1: text: this setting belongs in [[notice]]; move it below the [[notice]] line"),
    ('[[notice]]\ntext = 明天停水\n', "2: syntax error (column 8): the value after '=' can't be understood; "
                                  'put text in double quotes ("like this"); numbers and true/false go without '
                                  "quotes"),
])
def test_toml_file_problems(tmp_path, text, message):
    path = write(tmp_path, text, "notices.toml")
    got = error([path])
    assert got == f"{path}:{message}" if message[0].isdigit() else got == f"{path}: {message}"


def test_toml_problems_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    path = write(tmp_path, '[[notice]]\ntext = "x"\nrepeat = 0\n', "notices.toml")
    assert error([path]) == f"{path}:3: 第 1 条通知的 repeat: 0 太小；请用 1 到 10 之间的整数"


# --- validity ----------------------------------------------------------------

def test_valid_on(tmp_path):
    (first, second) = read_notices([write(tmp_path, GOOD_TOML, "notices.toml")])
    assert [first.valid_on(d) for d in (date(2026, 10, 31), date(2026, 11, 1), date(2026, 12, 31),
                                        date(2027, 1, 1))] == [False, True, True, False]
    assert second.valid_on(date(1999, 1, 1)) and second.valid_on(date(2999, 1, 1))


# --- ids ---------------------------------------------------------------------

@pytest.mark.parametrize("title, slug", [
    ("停水通知", "ting-shui-tong-zhi"),
    ("3号楼 Water-Outage!", "3-hao-lou-water-outage"),
    ("绿化带修剪", "lv-hua-dai-xiu-jian"),
    ("重庆银行", "chong-qing-yin-hang"),
    ("Café ＡＢＣ", "cafe-abc"),
    ("！！！", ""),
    ("关于本周六上午在社区活动中心举办免费健康讲座的通知", "guan-yu-ben-zhou-liu-shang-wu-zai-she-qu"),
])
def test_slugify(title, slug):
    assert slugify(title) == slug
    assert len(slug) <= 40


def test_slugs_are_remembered_without_loading_pypinyin(tmp_path):
    """A rebuild from the cache reads its titles' pinyin from ~/.cache/announcer/titles.json."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    script = ("import sys; from announcer.build.notices import slugify; "
              "print(slugify(sys.argv[1]), 'pypinyin' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", script, "重庆银行"], env=env, capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-c", script, "重庆银行"], env=env, capture_output=True, text=True)
    assert first.stdout.split() == ["chong-qing-yin-hang", "True"]
    assert again.stdout.split() == ["chong-qing-yin-hang", "False"]
    memo = tmp_path / "announcer" / "titles.json"
    assert json.loads(memo.read_text(encoding="utf-8")) == {"重庆银行": ["chong", "qing", "yin", "hang"]}
    memo.write_text("{damaged", encoding="utf-8")      # a damaged memo is worked out again
    third = subprocess.run([sys.executable, "-c", script, "重庆银行"], env=env, capture_output=True, text=True)
    assert third.stdout.split() == ["chong-qing-yin-hang", "True"]
    english = subprocess.run([sys.executable, "-c", script, "Lost and found"], env=env, capture_output=True, text=True)
    assert english.stdout.split() == ["lost-and-found", "False"]


def test_ids_are_unique_and_stable(tmp_path):
    a = write(tmp_path, "# 停水通知\n一\n\n# 停水通知\n二\n\n无标题\n\n# ！！！\n三\n", "a.txt")
    b = write(tmp_path, '[[notice]]\ntitle = "停水通知"\ntext = "四"\n\n'
                        '[[notice]]\nid = "ting-shui-tong-zhi-2"\ntext = "五"\n', "b.toml")
    ids = [n.id for n in read_notices([a, b])]
    assert ids == ["ting-shui-tong-zhi", "ting-shui-tong-zhi-3", "notice-3", "notice-4",
                   "ting-shui-tong-zhi-4", "ting-shui-tong-zhi-2"]
    assert [n.id for n in read_notices([a, b])] == ids
    assert [n.text for n in read_notices([b, a])][:2] == ["四", "五"]      # files in the order given


def test_duplicate_given_id_is_an_error(tmp_path):
    path = write(tmp_path, '[[notice]]\nid = "water"\ntext = "a"\n\n[[notice]]\nid = "water"\ntitle = "再次"\n'
                           'text = "b"\n', "notices.toml")
    assert error([path]) == (f'{path}:5 (notice 2 “再次”): the id "water" is already used by {path}:1 '
                             "(notice 1); give each notice its own id")


def test_where(monkeypatch):
    notice = Notice(id="x", title="停水通知", text="t", language=None, repeat=None, valid_from=None,
                    valid_until=None, tags=(), source="notices.txt", line=7, number=2)
    assert notice.where == "notices.txt:7 (notice 2 “停水通知”)"
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    assert notice.where == "notices.txt:7（第 2 条通知“停水通知”）"


def test_where_shortens_a_long_title():
    title = "关于本周六上午在社区活动中心举办免费健康讲座的通知"
    notice = Notice(id="x", title=title, text="t", language=None, repeat=None, valid_from=None,
                    valid_until=None, tags=(), source="n.txt", line=1, number=1)
    assert notice.where == f"n.txt:1 (notice 1 “{title[:19]}…”)"
