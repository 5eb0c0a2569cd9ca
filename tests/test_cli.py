"""The command as a staff member meets it: exit codes, one-line errors, nothing written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def announcer(*args, cwd, lang="en"):
    env = {**os.environ, "ANNOUNCER_LANG": lang, "COLUMNS": "250", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    env.pop("ANNOUNCER_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "announcer", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(result, *fragments, code=1):
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("name,content,fragment", [
    ("empty.txt", b"", "empty"),
    ("blank.txt", b"  \n\n\t\n", "blank"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not a text file"),
])
def test_bad_notice_files_give_one_line_and_write_nothing(tmp_path, name, content, fragment):
    (tmp_path / name).write_bytes(content)
    result = announcer("build", name, "--out", "out", cwd=tmp_path)
    assert_one_line_error(result, name)
    assert fragment in result.stderr.lower()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["build", "check"])
def test_more_than_500_notices_on_one_day_are_refused_before_anything_is_built(tmp_path, command):
    (tmp_path / "many.txt").write_text("\n\n".join(f"第{n}号通知。" for n in range(501)), "utf-8")
    result = announcer(command, "many.txt", "--out", "out", "--date", "2026-12-01", cwd=tmp_path) \
        if command == "build" else announcer(command, "many.txt", cwd=tmp_path)
    assert_one_line_error(result, "has 501 notices, more than the 500 a day can hold")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_pipe_or_a_huge_file_is_refused_at_once(tmp_path, command):
    os.mkfifo(tmp_path / "pipe.txt")
    assert_one_line_error(announcer(command, "pipe.txt", cwd=tmp_path), "pipe.txt", "this is a pipe")
    (tmp_path / "huge.txt").write_text("停水。\n" * 400_000, "utf-8")
    assert_one_line_error(announcer(command, "huge.txt", cwd=tmp_path), "huge.txt", "too large (over 2 MB)")


def test_control_characters_are_dropped_with_a_warning(tmp_path):
    (tmp_path / "n.txt").write_bytes("# 停水\n明天停\x00水，请储水。\x07\n".encode("utf-8"))
    result = announcer("check", "n.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: " in result.stderr and "dropped 2 invisible control character(s)" in result.stderr


def test_missing_file(tmp_path):
    result = announcer("build", "nope.txt", cwd=tmp_path)
    assert_one_line_error(result, "nope.txt")


def test_notice_with_nothing_speakable_names_the_notice(tmp_path):
    (tmp_path / "n.txt").write_text("# 好消息\n供暖明天开始。\n\n# 链接\nhttps://example.org/a 🎉🎉 ###\n", "utf-8")
    result = announcer("build", "n.txt", "--out", "out", cwd=tmp_path)
    assert_one_line_error(result, "n.txt:4", "链接", "nothing that can be spoken")
    assert not (tmp_path / "out").exists()


def test_station_language_decides_when_nothing_else_does(tmp_path):
    (tmp_path / "schedule.toml").write_text('[station]\nlanguage = "en"\n', "utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    result = announcer("build", "empty.txt", cwd=tmp_path, lang="")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")


def test_errors_are_in_chinese_by_default(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    result = announcer("build", "empty.txt", cwd=tmp_path, lang="")
    assert result.returncode == 1
    assert result.stderr.startswith("错误：")


def test_invalid_config_exits_2_with_every_problem(tmp_path):
    (tmp_path / "n.txt").write_text("明天停水。", "utf-8")
    (tmp_path / "schedule.toml").write_text('[speech]\npace = "quick"\n\n[audio]\nloudnes = -16\n', "utf-8")
    result = announcer("build", "n.txt", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("error: schedule.toml:2")
    assert "did you mean" in lines[1] and "loudness" in lines[1]
    assert not (tmp_path / "out").exists()


def test_bad_date_is_a_usage_error(tmp_path):
    (tmp_path / "n.txt").write_text("明天停水。", "utf-8")
    result = announcer("build", "n.txt", "--date", "30/11/2026", cwd=tmp_path)
    assert result.returncode == 2
    assert "write it like 2026-11-30" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_flags_long_notice_and_exits_1(tmp_path):
    long = "请各位居民注意。" * 40
    (tmp_path / "n.txt").write_text(f"# 长通知\n{long}\n\n# 短通知\n明天停水。\n", "utf-8")
    result = announcer("check", "n.txt", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "too long" in result.stdout
    assert "1 errors" in result.stdout


def test_check_warns_about_a_stretch_without_pause_but_passes(tmp_path):
    (tmp_path / "n.txt").write_text("请所有居住在本小区内的居民朋友们在本周六上午之前到社区服务中心一楼大厅领取新的门禁卡片。\n", "utf-8")
    result = announcer("check", "n.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "too long to follow" in result.stdout


def test_help_lists_every_command():
    result = announcer("--help", cwd=ROOT)
    assert result.returncode == 0
    for command in ("build", "check", "say"):
        assert command in result.stdout


def test_cli_import_stays_light():
    """--help must be quick: the CLI module may not pull in the audio or language stacks."""
    code = ("import sys, announcer.cli; "
            "print(','.join(m for m in ('numpy', 'scipy', 'pydub', 'pypinyin', 'cn2an', 'rich', 'pyttsx3', "
            "'fastapi', 'uvicorn', 'starlette', 'jinja2') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_command_line_mistakes_are_one_line(tmp_path):
    for args in (["check", "n.txt", "--max-seconds", "0"], ["build"], ["frobnicate"]):
        assert_one_line_error(announcer(*args, cwd=tmp_path), "announcer --help", code=2)


def test_every_bad_notice_is_reported_at_once(tmp_path):
    (tmp_path / "n.txt").write_text("🎉\n\n明天停水。\n\nhttps://example.org\n", "utf-8")
    result = announcer("build", "n.txt", "--out", "out", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(" ")[1].split("(")[0] for line in lines] == ["n.txt:1", "n.txt:5"]
    assert all(line.startswith("error: ") and "nothing that can be spoken" in line for line in lines)
    assert not (tmp_path / "out").exists()


def test_an_output_folder_that_cannot_be_written_fails_before_speaking(tmp_path):
    (tmp_path / "n.txt").write_text("明天停水。", "utf-8")
    (tmp_path / "out").write_text("a file, not a folder")
    result = announcer("build", "n.txt", "--out", "out", cwd=tmp_path)
    assert_one_line_error(result, "cannot write here", "out")


@pytest.mark.parametrize("command", [["run", "--out", "out"], ["say", "明天停水。"]])
def test_an_unknown_player_is_a_usage_error_at_once(tmp_path, command):
    """`run --player winamp` used to start and wait forever, never playing."""
    result = announcer(*command, "--player", "winamp", cwd=tmp_path)
    assert_one_line_error(result, 'argument --player: unknown player "winamp"; use one of paplay, pw-play, aplay, '
                                  "ffplay, null, auto", code=2)
    assert not (tmp_path / "out").exists()


def test_player_names_are_one_list():
    from announcer.core.config import config_schema
    from announcer.station.players import NAMES

    assert config_schema(ROOT).fields["station"].fields["player"].choices == ("auto", *NAMES)


def test_clarity_table_shows_a_recording_without_a_pace():
    from rich.console import Console

    from announcer.cli.report import clarity_table

    clip = {"file": "03-own.mp3", "duration_s": 12.0, "speech_rate": {"value": None, "unit": None},
            "loudness_lufs": -16.0, "true_peak_dbtp": -1.2, "warnings": []}
    console = Console(width=120, record=True)
    console.print(clarity_table([clip]))
    row = next(line for line in console.export_text().splitlines() if "03-own.mp3" in line)
    assert "12.0" in row and "—" in row and "-16.0" in row
