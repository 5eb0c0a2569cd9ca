import typing
from pathlib import Path

import pytest

from announcer import config as config_module
from announcer.config import (DEFAULT_PACE, DURATION, TEXT, WHOLE, AudioConfig, Config, Field, Problem,
                              SpeechConfig, Table, Tables, check, closest, find_config, label, load_config,
                              parse_duration, shorten, show)
from announcer.errors import AnnouncerError, ConfigError


def write(tmp_path: Path, text: str, name: str = "schedule.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


# --- defaults and valid files ------------------------------------------------

def test_no_file_gives_defaults():
    config = load_config(None)
    assert config == Config(path=None, speech=SpeechConfig(), audio=AudioConfig())
    assert config.timezone is None and config.language == "zh"
    assert config.language == "zh"


@pytest.mark.parametrize("text, language", [
    ("", "zh"),
    ('[station]\nname = "x"\n', "zh"),
    ('[station]\nlanguage = "en"\n', "en"),
    ('[station]\nlanguage = "EN"\n', "en"),
    ('[station]\nlanguage = " zh "\n', "zh"),
])
def test_station_language(tmp_path, text, language):
    assert load_config(write(tmp_path, text)).language == language


def test_empty_file_gives_defaults(tmp_path):
    path = write(tmp_path, "# nothing yet\n")
    config = load_config(path)
    assert config == Config(path=path, speech=SpeechConfig(), audio=AudioConfig())
    assert config.speech.pace == {"zh": 3.5, "en": 145.0}


def test_every_setting_is_read(tmp_path):
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "ding.wav").write_bytes(b"RIFF")
    path = write(tmp_path, '''
[station]
name = "幸福社区"
timezone = "Asia/Shanghai"
language = "zh"
quiet_hours = ["22:00", "07:00"]
holidays = ["2026-10-01"]
country = "CN"
player = "ffplay"
device = "default"

[speech]
engine = "espeak-ng"
voices = { zh = "cmn", en = "en-gb" }
pace = "slow"
zh_pace = 4
en_pace = 150
sentence_pause = "500ms"
comma_pause = 0.2

[audio]
loudness = -14
true_peak = -2
highpass = 0
compress = false
chime = "sounds/ding.wav"
repeat = 3
repeat_gap = "1.5s"
lead_in = "0s"
lead_in_sound = "silence"
format = "WAV"
bitrate = 192
sample_rate = 48000

[[broadcast]]
time = "08:00"
notices = "all"

[[broadcast]]
time = "18:00"
''')
    config = load_config(path)
    assert config.timezone == "Asia/Shanghai"
    assert config.language == "zh"
    assert config.speech == SpeechConfig(engine="espeak-ng", voices={"zh": "cmn", "en": "en-gb"},
                                         pace={"zh": 4 * 0.85, "en": 150 * 0.85},
                                         sentence_pause_s=0.5, comma_pause_s=0.2)
    assert config.audio == AudioConfig(
        loudness_lufs=-14.0, true_peak_dbtp=-2.0, highpass_hz=0.0, compress=False,
        chime=str((tmp_path / "sounds" / "ding.wav").resolve()), repeat=3, repeat_gap_s=1.5,
        lead_in_s=0.0, lead_in_sound="silence", format="wav", bitrate_kbps=192, sample_rate=48000)


@pytest.mark.parametrize("pace, zh, en", [
    ('"normal"', 3.5, 145.0),
    ('"fast"', 3.5 * 1.15, 145 * 1.15),
    ('"Slow"', 3.5 * 0.85, 145 * 0.85),
    ("0.5", 1.75, 72.5),
    ("2", 7.0, 290.0),
])
def test_pace_resolution(tmp_path, pace, zh, en):
    config = load_config(write(tmp_path, f"[speech]\npace = {pace}\n"))
    assert config.speech.pace == pytest.approx({"zh": zh, "en": en})
    assert DEFAULT_PACE == {"zh": 3.5, "en": 145.0}   # the presets scale these


def test_pace_factor_applies_to_explicit_paces(tmp_path):
    config = load_config(write(tmp_path, "[speech]\npace = 1.1\nzh_pace = 3\nen_pace = 120\n"))
    assert config.speech.pace == pytest.approx({"zh": 3.3, "en": 132.0})


def test_partial_voices_keep_the_other_default(tmp_path):
    config = load_config(write(tmp_path, '[speech.voices]\nen = "en-gb"\n'))
    assert config.speech.voices == {"zh": "cmn-latn-pinyin", "en": "en-gb"}


def test_utf8_bom_is_fine(tmp_path):
    path = tmp_path / "schedule.toml"
    path.write_bytes('[station]\nname = "幸福社区"\n'.encode("utf-8-sig"))
    assert load_config(path).timezone is None


@pytest.mark.parametrize("chime", ["two-tone", "none", "Two-Tone"])
def test_chime_presets(tmp_path, chime):
    config = load_config(write(tmp_path, f'[audio]\nchime = "{chime}"\n'))
    assert config.audio.chime == chime.lower()


# --- problems: every one at once, with lines ---------------------------------

BAD = '''\
timezone = "Asia/Shanghai"
[station]
name = "幸福社区"
timezone = "Asia/Shangai"

[speech]
engin = "pyttsx3"
pace = "quick"
voices = { zh = "cmn", fr = "x" }
zh_pace = 9
sentence_pause = "5s"

[audio]
loudness = "-14"
compress = "yes"
chime = "ding.wav"
sample_rate = 44000
repeat = 2.5
lead_in = 4
bitrate = 32
format = "ogg"

[speach]
pace = 1
'''


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, BAD)
    name = str(path)
    assert problems(path) == [
        f"{name}:1: timezone: this setting belongs in [station]; move it below the [station] line",
        f'{name}:4: station.timezone: "Asia/Shangai" is not a time zone; did you mean "Asia/Shanghai"?',
        f'{name}:7: speech.engin: unknown setting; did you mean "engine"?',
        f'{name}:8: speech.pace: "quick" is not a pace; use "slow", "normal", "fast" or a number',
        f"{name}:9: speech.voices.fr: unknown setting; check the spelling or delete it (allowed here: zh, en)",
        f"{name}:10: speech.zh_pace: 9 is too high; use a number from 1.5 to 7 syllables/s",
        f'{name}:11: speech.sentence_pause: "5s" is too long; use a duration from 0 to 3 seconds',
        f'{name}:14: audio.loudness: "-14" has quotes around it; write the number without quotes: -14',
        f'{name}:15: audio.compress: "yes" is not true or false; write true or false, without quotes',
        f'{name}:16: audio.chime: the sound file "ding.wav" was not found (looked in {tmp_path}); '
        'put it next to schedule.toml, or write "two-tone" or "none"',
        f"{name}:17: audio.sample_rate: 44000 is not a sample rate; use 22050, 44100 or 48000",
        f"{name}:18: audio.repeat: 2.5 is not a whole number; use a whole number from 1 to 10",
        f"{name}:19: audio.lead_in: 4 is too long; use a duration from 0 to 3 seconds",
        f"{name}:20: audio.bitrate: 32 is too low; use a whole number from 64 to 320 kbps",
        f'{name}:21: audio.format: "ogg" is not an audio format; use "mp3" or "wav"',
        f"{name}:23: speach: unknown section; did you mean [speech]?",
    ]


def test_problems_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    path = write(tmp_path, BAD)
    got = problems(path)
    assert got[3] == f'{path}:8: speech.pace: "quick" 不是语速；请用 "slow"、"normal"、"fast" 或一个数字'
    assert got[5] == f"{path}:10: speech.zh_pace: 9 太大；请用 1.5 到 7 之间的数字（音节/秒）"
    assert got[2] == f'{path}:7: speech.engin: 没有这个设置；您是不是想写 "engine"？'
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).splitlines() == got      # the whole error lists every problem


def test_file_name_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[speech]\npace = \"quick\"\n")
    assert problems(Path("schedule.toml")) == [
        'schedule.toml:2: speech.pace: "quick" is not a pace; use "slow", "normal", "fast" or a number']


@pytest.mark.parametrize("value, message", [
    ("0", "0 is out of range; use a number above 0 and up to 2 (1.0 = normal)"),
    ("-1", "-1 is out of range; use a number above 0 and up to 2 (1.0 = normal)"),
    ("2.5", "2.5 is out of range; use a number above 0 and up to 2 (1.0 = normal)"),
    ('"1.2"', '"1.2" has quotes around it; write the number without quotes: 1.2'),
    ("true", 'true is not a pace; use "slow", "normal", "fast" or a number'),
    ("nan", 'nan is not a pace; use "slow", "normal", "fast" or a number'),
])
def test_bad_pace(tmp_path, value, message):
    assert problems(write(tmp_path, f"[speech]\npace = {value}\n")) == [
        f"{tmp_path / 'schedule.toml'}:2: speech.pace: {message}"]


@pytest.mark.parametrize("text, message", [
    ('[speech]\nengine = "festival"', 'speech.engine: "festival" is not an engine; use "pyttsx3" or "espeak-ng"'),
    ('[speech]\nen_pace = 300', "speech.en_pace: 300 is too high; use a number from 60 to 260 words/min"),
    ('[speech]\ncomma_pause = "3"', 'speech.comma_pause: "3" has no unit; write "3s" (seconds) or "3m" (minutes)'),
    ('[speech]\nvoices = "cmn"', 'speech.voices: "cmn" is not a group of settings; '
                                 'write it as voices = { zh = "...", en = "..." }'),
    ('[speech]\nvoices = { zh = "" }', "speech.voices.zh: is empty; fill it in or delete the line"),
    ("speech = 5", "speech: 5 is not a group of settings; write it as a [speech] section"),
    ('[station]\nlanguage = "fr"', 'station.language: "fr" is not a language; use "zh" or "en"'),
    ("[station]\nname = 5", 'station.name: 5 is not text; put the text in double quotes, like "Sunny Court"'),
    ('[station]\ntimezone = "Mars/Base"', 'station.timezone: "Mars/Base" is not a time zone; '
                                          'use a name like "Asia/Shanghai"'),
    ('[station]\ntimezone = "asia/shanghai"', 'station.timezone: "asia/shanghai" is not a time zone; '
                                              'did you mean "Asia/Shanghai"?'),
    ('[station]\nplayers = "x"', 'station.players: unknown setting; did you mean "player"?'),
    ("[audio]\ntrue_peak = 1", "audio.true_peak: 1 is too high; use a number from -6 to 0 dBTP"),
    ("[audio]\nhighpass = 400", "audio.highpass: 400 is too high; use a number from 0 to 300 Hz"),
    ("[audio]\nrepeat = 0", "audio.repeat: 0 is too low; use a whole number from 1 to 10"),
    ('[audio]\nrepeat_gap = "soon"', 'audio.repeat_gap: "soon" is not a duration; '
                                     'write it like "0.6s", "500ms", "20m" or "1h30m"'),
    ('[audio]\nlead_in_sound = "beep"', 'audio.lead_in_sound: "beep" is not one of the choices; '
                                        'use "wake" or "silence"'),
    ("[audio]\nloudness = -40", "audio.loudness: -40 is too low; use a number from -30 to -9 LUFS"),
    ("[audio.extra]\nx = 1", "audio.extra: unknown section; check the spelling or delete it (allowed here: "
                             "loudness, true_peak, highpass, compress, chime, repeat, repeat_gap, lead_in, "
                             "lead_in_sound, format, bitrate, sample_rate)"),
    ("[[broadcasts]]\ntime = 1", "broadcasts: unknown section; did you mean [[broadcast]]?"),
])
def test_single_problems(tmp_path, text, message):
    path = write(tmp_path, text + "\n")
    (got,) = problems(path)
    assert got.split(": ", 1)[1] == message


def test_chime_directory_is_not_a_sound(tmp_path):
    (tmp_path / "sounds").mkdir()
    (got,) = problems(write(tmp_path, '[audio]\nchime = "sounds"\n'))
    assert 'the sound file "sounds" was not found' in got


def test_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, '[station]\nname = "幸福社区"\n\n[speech]\npace = fast\n')
    assert problems(path) == [
        f"{path}:5: syntax error (column 8): the value after '=' can't be understood; put text in double "
        'quotes ("like this"); numbers and true/false go without quotes']


@pytest.mark.parametrize("codec", ["gbk", "gb18030", "utf-16", "utf-8-sig"])
def test_notepad_encodings_are_read(tmp_path, codec):
    """A Chinese Notepad saves GBK ("ANSI") or UTF-16 ("Unicode"): detected as for notices files."""
    path = tmp_path / "schedule.toml"
    path.write_bytes('# 设置\n[station]\nname = "幸福社区"\nlanguage = "en"\n'.encode(codec))
    assert load_config(path).language == "en"


def test_gbk_file_still_names_lines(tmp_path):
    path = tmp_path / "schedule.toml"
    path.write_bytes('# 设置：幸福社区\n[speech]\npace = "快"\n'.encode("gbk"))
    assert problems(path) == [f'{path}:3: speech.pace: "快" is not a pace; use "slow", "normal", "fast" or a number']


def test_unknown_encoding(tmp_path):
    path = tmp_path / "schedule.toml"
    path.write_bytes('[station]\nname = "Caf\u00e9 – Côte"\n'.encode("cp1252"))
    assert problems(path) == [f"{path}: can't tell which text encoding this file uses; open it in Notepad, "
                              "choose Save As, set Encoding to UTF-8 and save"]


@pytest.mark.parametrize("data", [b"", b"\r\n\n", "\ufeff".encode("utf-8")])
def test_empty_file_is_the_defaults(tmp_path, data):
    path = tmp_path / "schedule.toml"
    path.write_bytes(data)
    assert load_config(path) == Config(path=path, speech=SpeechConfig(), audio=AudioConfig())


def test_missing_file(tmp_path):
    assert problems(tmp_path / "nope.toml") == [
        f"{tmp_path / 'nope.toml'}: settings file not found; check the file name and folder"]


def test_folder_and_binary_file(tmp_path):
    assert problems(tmp_path) == [f"{tmp_path}: this is a folder, not a settings file; give the settings file "
                                  "inside it"]
    path = tmp_path / "schedule.toml"
    path.write_bytes(b"PK\x03\x04\x14\x00")
    assert problems(path) == [f"{path}: this is a Word/Excel document or a zip archive, not a text file; "
                              "edit schedule.toml in Notepad and save it as a text file"]


def test_file_problems_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    assert problems(tmp_path / "nope.toml") == [f"{tmp_path / 'nope.toml'}: 找不到这个设置文件；请检查文件名和所在的文件夹"]


# --- durations ---------------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [
    (2, 2.0), (0.25, 0.25), (0, 0.0), ("0.6s", 0.6), ("500ms", 0.5), ("3s", 3.0), ("20m", 1200.0),
    ("1h", 3600.0), ("1h30m", 5400.0), ("1h 30m", 5400.0), (" 2S ", 2.0), (".5s", 0.5),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value, message", [
    ("abc", '"abc" is not a duration; write it like "0.6s", "500ms", "20m" or "1h30m"'),
    ("", '"" is not a duration; write it like "0.6s", "500ms", "20m" or "1h30m"'),
    ("1h30", '"1h30" is not a duration; write it like "0.6s", "500ms", "20m" or "1h30m"'),
    ("5 minutes", '"5 minutes" is not a duration; write it like "0.6s", "500ms", "20m" or "1h30m"'),
    ("3", '"3" has no unit; write "3s" (seconds) or "3m" (minutes)'),
    (-1, "-1 is negative; a duration can't be below 0"),
    (True, 'true is not a duration; write it like "0.6s", "500ms", "20m" or "1h30m"'),
])
def test_parse_duration_errors(value, message):
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == message


# --- finding the file --------------------------------------------------------

def test_find_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_config(None) is None
    write(tmp_path, "")
    assert find_config(None) == Path("schedule.toml")
    other = write(tmp_path, "", "other.toml")
    assert find_config(other) == other


def test_find_config_explicit_must_exist(tmp_path):
    with pytest.raises(AnnouncerError) as caught:
        find_config(tmp_path / "station.toml")
    assert str(caught.value) == (f"{tmp_path / 'station.toml'}: file not found; check the name and folder, "
                                 "or leave it out to use the default settings")
    with pytest.raises(AnnouncerError, match="is a folder, not a file"):
        find_config(tmp_path)


# --- the field-spec mechanism, as [[broadcast]] will use it --------------------

def test_arrays_of_tables_collect_problems_with_paths():
    spec = Table({"broadcast": Tables(Table({
        "time": Field(TEXT, required=True),
        "repeat": Field(WHOLE, min=1, max=3, default=1),
        "gap": Field(DURATION, to="gap_s"),
    }))})
    found: list[Problem] = []
    values = check({"broadcast": [{"time": "08:00", "gap": "1m"}, {"repeat": 5}]}, spec, (), found)
    assert values == {"broadcast": [{"time": "08:00", "repeat": 1, "gap_s": 60.0}, {}]}
    assert [(label(p.path), p.en) for p in found] == [
        ("broadcast[2].repeat", "5 is too high; use a whole number from 1 to 3"),
        ("broadcast[2].time", "is missing; add time = ..."),
    ]
    found.clear()
    check({"broadcast": {"time": "08:00"}}, spec, (), found)
    assert [p.en for p in found] == ["write it as [[broadcast]] (double brackets), one for each entry"]


# --- helpers shared with notices.py ---------------------------------------------

@pytest.mark.parametrize("text, limit, short", [
    ("停水通知", 20, "停水通知"), ("a" * 20, 20, "a" * 20), ("a" * 21, 20, "a" * 19 + "…"), ("", 5, ""),
])
def test_shorten(text, limit, short):
    assert shorten(text, limit) == short
    assert len(shorten(text, limit)) <= limit


def test_show_shortens_long_text():
    assert show("x" * 40) == '"' + "x" * 29 + '…"'
    assert show("a\nb") == '"a b"'


@pytest.mark.parametrize("word, options, cutoff, found", [
    ("engin", ["engine", "voices"], 0.6, "engine"),
    ("VOICES", ["engine", "voices"], 0.6, "voices"),             # other case first, whatever the cutoff
    ("asia/shanghai", ["Asia/Shanghai", "Asia/Seoul"], 0.99, "Asia/Shanghai"),
    ("xyz", ["engine", "voices"], 0.6, None),
])
def test_closest(word, options, cutoff, found):
    assert closest(word, options, cutoff) == found


def test_did_you_mean_ignores_case(tmp_path):
    assert problems(write(tmp_path, '[station]\nTimezone = "Asia/Shanghai"\n')) == [
        f'{tmp_path / "schedule.toml"}:2: station.Timezone: unknown setting; did you mean "timezone"?']


def test_annotations_name_real_types():
    """`-> Text` named nothing; every annotation in the module must resolve."""
    for name in ("_expected", "check_field", "check", "closest", "shorten", "load_config"):
        typing.get_type_hints(getattr(config_module, name))
    assert "station" in typing.get_type_hints(Config)
