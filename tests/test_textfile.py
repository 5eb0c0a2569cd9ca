import errno
import os
from pathlib import Path

import pytest

from announcer.core.errors import AnnouncerError, NoticeError
from announcer.core.textfile import NOTICES_ROLE, SETTINGS_ROLE, TEXT_ROLE, read_text

ZH = "# 停水通知\n明天上午九点到十二点停水，请提前储水。\n\n# 流感疫苗\n社区医院本周免费接种流感疫苗。\n"
NOT_TEXT = "copy the notices into Notepad and save them as a .txt file"


def write_bytes(tmp_path: Path, data: bytes, name: str = "notices.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def write(tmp_path: Path, text: str, name: str = "notices.txt") -> Path:
    return write_bytes(tmp_path, text.encode("utf-8"), name)


def read(path: Path, role=NOTICES_ROLE) -> str:
    return read_text(path, NoticeError, role)


def error(path: Path, role=NOTICES_ROLE) -> str:
    with pytest.raises(NoticeError) as caught:
        read(path, role)
    return str(caught.value)


# --- encodings ---------------------------------------------------------------

@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                   "gb18030", "gbk"])
def test_encodings(tmp_path, codec):
    data = ZH.encode(codec)
    if codec in ("utf-16-le", "utf-16-be"):      # Windows "Unicode" always starts with a BOM
        data = "\ufeff".encode(codec) + data
    assert read(write_bytes(tmp_path, data)) == ZH


@pytest.mark.parametrize("text", ["思路", "眉头", "一只", "露营", "为什么", "石楼", "前头", "溪水", "楼群"])
def test_short_gbk_that_is_also_valid_utf8(tmp_path, text):
    data = text.encode("gbk")
    data.decode("utf-8")                        # the trap: these bytes are valid UTF-8 too
    assert read(write_bytes(tmp_path, data)) == text


@pytest.mark.parametrize("text", [
    "Café opens at 9. Outside it is 25°C.",
    "Tíng shuǐ tōngzhī: nǚ, lǜ",
    "Dvořák concert tonight",
    "Temperature: −5 °C – wrap up warm… “really”",
    "停水通知：明天 9:00–12:00",
])
def test_utf8_stays_utf8(tmp_path, text):
    assert read(write(tmp_path, text)) == text


def test_cp1252_is_refused_not_garbled(tmp_path):
    path = write_bytes(tmp_path, "Don’t forget: the lift is closed – use the stairs.".encode("cp1252"))
    assert error(path) == (f"{path}: can't tell which text encoding this file uses; open it in Notepad, "
                           "choose Save As, set Encoding to UTF-8 and save")


def test_damaged_utf16(tmp_path):
    path = write_bytes(tmp_path, b"\xff\xfe" + "停水".encode("utf-16-le") + b"\x00\xd8")
    assert error(path).startswith(f"{path}: the file is damaged (marked as UTF-16 but it isn't)")


def test_damaged_utf8_bom_says_utf8(tmp_path):
    path = write_bytes(tmp_path, b"\xef\xbb\xbf\xff\xfe")
    assert error(path).startswith(f"{path}: the file is damaged (marked as UTF-8 but it isn't)")


def test_newlines_are_normalised(tmp_path):
    assert read(write(tmp_path, "# A\r\nline one\r\n\r\n# B\rtext\r")) == "# A\nline one\n\n# B\ntext\n"


def test_one_stray_control_character_is_dropped(tmp_path):
    assert read(write(tmp_path, "停水通知\x1a")) == "停水通知"


def test_stray_nul_and_bel_in_readable_chinese_are_dropped_and_said(tmp_path):
    text = ZH.replace("停水", "停\x00水", 1).replace("疫苗", "疫苗\x07", 1)
    path = write(tmp_path, text)
    notes = []
    assert read_text(path, NoticeError, NOTICES_ROLE, notes) == ZH
    assert notes == [f"{path}: dropped 2 invisible control character(s) (such as NUL or BEL); the rest was read "
                     "as usual"]
    gbk = write_bytes(tmp_path, ZH.replace("通知", "通\x00知").encode("gbk"), "gbk.txt")
    assert read(gbk) == ZH


def test_a_pipe_is_refused_at_once_not_waited_on(tmp_path):
    import threading

    fifo = tmp_path / "notices.txt"
    os.mkfifo(fifo)
    said = []
    reader = threading.Thread(target=lambda: said.append(error(fifo)), daemon=True)
    reader.start()
    reader.join(5)
    assert said == [f"{fifo}: this is a pipe, not a regular file; save the notices file as a file and give that"]


def test_a_device_is_refused():
    assert error(Path("/dev/zero")) == ("/dev/zero: this is a device, not a regular file; save the notices file "
                                        "as a file and give that")


def test_a_notices_file_over_2_mb_is_refused_without_reading_it_all(tmp_path):
    path = write(tmp_path, "停水通知。\n" * 200_000)          # 3.2 MB
    assert error(path) == (f"{path}: the notices file is too large (over 2 MB); a day's notices are a few KB; "
                           "check that this is the right file, or split the notices into several files and days")
    assert read(write(tmp_path, "停水通知。\n" * 100_000, "fits.txt")).count("\n") == 100_000   # 1.6 MB


# --- files that are not text -------------------------------------------------

@pytest.mark.parametrize("data, message", [
    (b"", "the notices file is empty; put the day's notices in it, separated by blank lines"),
    (b" \n\t\r\n   \n", "the notices file has only blank lines; put the day's notices in it, "
                         "separated by blank lines"),
    ("\ufeff\n".encode("utf-8"), "the notices file has only blank lines; put the day's notices in it, "
                                 "separated by blank lines"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", f"this is a picture, not a text file; {NOT_TEXT}"),
    (b"PK\x03\x04\x14\x00\x06\x00word/document.xml", "this is a Word/Excel document or a zip archive, not a "
                                                     f"text file; {NOT_TEXT}"),
    (b"{\\rtf1\\ansi hello}", f"this is an RTF document (WordPad/Word), not a text file; {NOT_TEXT}"),
    (b"%PDF-1.7\n", f"this is a PDF file, not a text file; {NOT_TEXT}"),
    (b"abc\x00def\x00\x01\x02", f"this is not a text file; {NOT_TEXT}"),
    (bytes(range(1, 32)) * 4, f"this is not a text file; {NOT_TEXT}"),
])
def test_not_text(tmp_path, data, message):
    path = write_bytes(tmp_path, data)
    assert error(path) == f"{path}: {message}"


def test_missing_file_and_folder(tmp_path):
    assert error(tmp_path / "nope.txt") == (f"{tmp_path / 'nope.txt'}: notices file not found; "
                                            "check the file name and folder")
    assert error(tmp_path) == f"{tmp_path}: this is a folder, not a notices file; give the notices file inside it"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_no_permission(tmp_path):
    path = write(tmp_path, "停水")
    path.chmod(0)
    try:
        assert error(path) == (f"{path}: no permission to open the notices file; check its permissions, "
                               "or copy it to another folder")
    finally:
        path.chmod(0o644)


def test_unreadable(tmp_path, monkeypatch):
    path = write(tmp_path, "停水")

    def broken(self, *args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(Path, "open", broken)
    assert error(path) == (f"{path}: the notices file can't be read (Input/output error); check it, "
                           "or copy it to another folder")


def test_chinese_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    assert error(write_bytes(tmp_path, b"")) == (f"{tmp_path / 'notices.txt'}: 通知文件是空的；"
                                                 "请把当天的通知写进去，每条通知之间空一行")
    assert error(tmp_path) == f"{tmp_path}: 这是一个文件夹，不是通知文件；请指定文件夹里的通知文件"
    assert error(write_bytes(tmp_path, b"%PDF-1.7")) == (f"{tmp_path / 'notices.txt'}: 这是PDF 文件，不是文本文件；"
                                                        "请把通知复制到记事本里，保存为 .txt 文件再用")


# --- the caller chooses the error and the role --------------------------------

def test_error_class_is_the_callers(tmp_path):
    with pytest.raises(AnnouncerError) as caught:
        read_text(tmp_path / "x.txt")
    assert type(caught.value) is AnnouncerError
    assert str(caught.value) == f"{tmp_path / 'x.txt'}: file not found; check the file name and folder"
    assert caught.value.where == str(tmp_path / "x.txt")


def test_default_role_is_plain(tmp_path):
    path = write_bytes(tmp_path, b"")
    with pytest.raises(AnnouncerError, match="the file is empty; put the text in it"):
        read_text(path)
    assert TEXT_ROLE.fill is not None


def test_settings_may_be_empty(tmp_path):
    assert read(write_bytes(tmp_path, b"", "schedule.toml"), SETTINGS_ROLE) == ""
    assert read(write_bytes(tmp_path, b"\n \n", "schedule.toml"), SETTINGS_ROLE) == "\n \n"


def test_settings_messages(tmp_path):
    path = write_bytes(tmp_path, b"\x89PNG\r\n\x1a\n", "schedule.toml")
    assert error(path, SETTINGS_ROLE) == (f"{path}: this is a picture, not a text file; edit schedule.toml in "
                                          "Notepad and save it as a text file")
    assert error(tmp_path, SETTINGS_ROLE) == (f"{tmp_path}: this is a folder, not a settings file; "
                                              "give the settings file inside it")
