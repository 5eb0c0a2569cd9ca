import typing
from datetime import date, datetime, time
from pathlib import Path

import pytest

from announcer.core.config import DEFAULT_PACE, AudioConfig, Broadcast, Config, QuietHours, SpeechConfig, Station, find_config, load_config
from announcer.core.config.schema import (DURATION, TEXT, WHOLE, Field, Problem, Table, Tables, check, closest, label, parse_duration, show)
from announcer.core.errors import AnnouncerError, ConfigError, shorten


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
quiet_hours = { from = "22:00", to = "07:00" }
holidays = ["2026-10-01", 2026-10-02]
country = "cn"
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
name = "早间通知"
at = ["08:00", "17:30:15"]
days = "workdays"
clips = ["ting-shui", "紧急"]
repeat = 2
gap = "5s"
volume = -3.5
priority = "urgent"

[[broadcast]]
name = "巡播"
from = "14:00"
until = "15:00"
every = "20m"
''')
    config = load_config(path)
    assert config.timezone == "Asia/Shanghai"
    assert config.language == "zh"
    assert config.station == Station(
        name="幸福社区", timezone="Asia/Shanghai", language="zh", quiet_hours=QuietHours(time(22), time(7)),
        holidays=(date(2026, 10, 1), date(2026, 10, 2)), country="CN", player="ffplay", device="default")
    assert config.broadcasts == (
        Broadcast(name="早间通知", line=35, at=(time(8), time(17, 30, 15)), days="workdays",
                  clips=("ting-shui", "紧急"), repeat=2, gap_s=5.0, volume_db=-3.5, priority="urgent"),
        Broadcast(name="巡播", line=45, start=time(14), until=time(15), every_s=1200.0),
    )
    assert config.speech == SpeechConfig(engines={"zh": "espeak-ng", "en": "espeak-ng"}, voices={"zh": "cmn", "en": "en-gb"},
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
    config = load_config(write(tmp_path, '[speech]\nengines = { en = "espeak-ng" }\n[speech.voices]\nen = "en-gb"\n'))
    assert config.speech.voices == {"en": "en-gb"}          # Mandarin: the engine's own voice
    assert config.speech.engines == {"zh": "kokoro", "en": "espeak-ng"}


def test_neural_engines_by_default_and_the_old_engine_key_sets_both(tmp_path):
    assert load_config(write(tmp_path, "[speech]\n")).speech.engines == {"zh": "kokoro", "en": "espeak-ng"}
    old = load_config(write(tmp_path, '[speech]\nengine = "pyttsx3"\nvoices = { zh = "cmn", en = "en-us" }\n'))
    assert old.speech.engines == {"zh": "pyttsx3", "en": "pyttsx3"}
    both = load_config(write(tmp_path, '[speech]\nengine = "espeak-ng"\nengines = { zh = "kokoro" }\n'))
    assert both.speech.engines == {"zh": "kokoro", "en": "espeak-ng"}


@pytest.mark.parametrize("text, message", [
    ('[speech]\nengines = { zh = "piper" }',
     'speech.engines.zh: piper does not speak Mandarin; use one of "kokoro", "pyttsx3", "espeak-ng"'),
    ('[speech]\nengines = { en = "kokoro" }',
     'speech.engines.en: kokoro does not speak English; use one of "piper", "pyttsx3", "espeak-ng"'),
    ('[speech]\nengines = { zh = "festival" }',
     'speech.engines.zh: "festival" is not an engine; use "kokoro", "piper", "pyttsx3" or "espeak-ng"'),
    ('[speech]\nvoices = { zh = "jf_alfa" }',
     'speech.voices.zh: "jf_alfa" is not a voice of kokoro; did you mean "jf_alpha"? '
     '(for an espeak-ng voice, also set engines = { zh = "espeak-ng" })'),
    ('[speech]\nengines = { en = "piper" }\nvoices = { en = "en-us" }',
     'speech.voices.en: "en-us" is not a voice of piper; choose one of "en_US-joe-medium" '
     '(for an espeak-ng voice, also set engines = { en = "espeak-ng" })'),
    ('[speech]\nengine = "espeak-ng"\nvoices = { en = "en_US-joe-medium" }',
     'speech.voices.en: "en_US-joe-medium" is a voice of piper, not of espeak-ng; write one of espeak-ng\'s '
     'voices, such as "en-us", or delete it'),
])
def test_engines_and_their_voices(tmp_path, text, message):
    assert problem(write(tmp_path, text + "\n"))[1] == message


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
        f"{name}:1 timezone: this setting belongs in [station]; move it below the [station] line",
        f'{name}:4 station.timezone: "Asia/Shangai" is not a time zone; did you mean "Asia/Shanghai"?',
        f'{name}:7 speech.engin: unknown setting; did you mean "engine"?',
        f'{name}:8 speech.pace: "quick" is not a pace; use "slow", "normal", "fast" or a number',
        f"{name}:9 speech.voices.fr: unknown setting; check the spelling or delete it (allowed here: zh, en)",
        f"{name}:10 speech.zh_pace: 9 is too high; use a number from 1.5 to 7 syllables/s",
        f'{name}:11 speech.sentence_pause: "5s" is too long; use a duration from 0 to 3 seconds',
        f'{name}:14 audio.loudness: "-14" has quotes around it; write the number without quotes: -14',
        f'{name}:15 audio.compress: "yes" is not true or false; write true or false, without quotes',
        f'{name}:16 audio.chime: the sound file "ding.wav" was not found (looked in {tmp_path}); '
        'put it next to schedule.toml, or write "two-tone" or "none"',
        f"{name}:17 audio.sample_rate: 44000 is not a sample rate; use 22050, 44100 or 48000",
        f"{name}:18 audio.repeat: 2.5 is not a whole number; use a whole number from 1 to 10",
        f"{name}:19 audio.lead_in: 4 is too long; use a duration from 0 to 3 seconds",
        f"{name}:20 audio.bitrate: 32 is too low; use a whole number from 64 to 320 kbps",
        f'{name}:21 audio.format: "ogg" is not an audio format; use "mp3" or "wav"',
        f"{name}:23 speach: unknown section; did you mean [speech]?",
    ]


def test_problems_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    path = write(tmp_path, BAD)
    got = problems(path)
    assert got[3] == f'{path}:8 speech.pace: "quick" 不是语速；请用 "slow"、"normal"、"fast" 或一个数字'
    assert got[5] == f"{path}:10 speech.zh_pace: 9 太大；请用 1.5 到 7 之间的数字（音节/秒）"
    assert got[2] == f'{path}:7 speech.engin: 没有这个设置；您是不是想写 "engine"？'
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).splitlines() == got      # the whole error lists every problem


def test_file_name_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[speech]\npace = \"quick\"\n")
    assert problems(Path("schedule.toml")) == [
        'schedule.toml:2 speech.pace: "quick" is not a pace; use "slow", "normal", "fast" or a number']


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
        f"{tmp_path / 'schedule.toml'}:2 speech.pace: {message}"]


@pytest.mark.parametrize("text, message", [
    ('[speech]\nengine = "festival"', 'speech.engine: "festival" is not an engine; '
                                       'use "kokoro", "piper", "pyttsx3" or "espeak-ng"'),
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
    assert problem(write(tmp_path, text + "\n"))[1] == message


def problem(path: Path) -> tuple[int, str]:
    """The one problem in `path`: its line, and "key: message"."""
    (got,) = problems(path)
    line, rest = got.removeprefix(f"{path}:").split(" ", 1)
    return int(line), rest


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
    assert problems(path) == [f'{path}:3 speech.pace: "快" is not a pace; use "slow", "normal", "fast" or a number']


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
        f'{tmp_path / "schedule.toml"}:2 station.Timezone: unknown setting; did you mean "timezone"?']


def test_annotations_name_real_types():
    """`-> Text` named nothing; every annotation in the config modules must resolve."""
    import inspect

    from announcer.core.config import schema, sections, settings, timing

    checked = 0
    for module in (sections, schema, settings, timing):
        for name, thing in vars(module).items():
            if (inspect.isfunction(thing) or inspect.isclass(thing)) and thing.__module__ == module.__name__:
                typing.get_type_hints(thing)
                checked += 1
    assert checked > 50
    assert "station" in typing.get_type_hints(Config)


# --- [station]: quiet hours, holidays, country, player ---------------------------

@pytest.mark.parametrize("text, expected", [
    ('quiet_hours = { from = "21:30", to = "07:00" }', {"quiet_hours": QuietHours(time(21, 30), time(7))}),
    ('quiet_hours = { from = "12:00", to = "13:30:30" }', {"quiet_hours": QuietHours(time(12), time(13, 30, 30))}),
    ("quiet_hours = { from = 22:00:00, to = 06:00:00 }", {"quiet_hours": QuietHours(time(22), time(6))}),
    ('holidays = ["2026-10-08", 2026-10-01, "2026-10-01"]', {"holidays": (date(2026, 10, 1), date(2026, 10, 8))}),
    ("holidays = 2026-05-01", {"holidays": (date(2026, 5, 1),)}),
    ("holidays = []", {"holidays": ()}),
    ('country = "CN"', {"country": "CN"}),
    ('country = " us "', {"country": "US"}),
    ('player = "PW-PLAY"', {"player": "pw-play"}),
    ('player = "null"', {"player": "null"}),
    ('device = "alsa_output.usb-speaker"', {"device": "alsa_output.usb-speaker"}),
])
def test_station_settings(tmp_path, text, expected):
    station = load_config(write(tmp_path, f"[station]\n{text}\n")).station
    assert station == Station(**expected)


def test_station_defaults(tmp_path):
    station = load_config(write(tmp_path, "[station]\n")).station
    assert station == Station() and station.quiet_hours is None and station.player == "auto"


@pytest.mark.parametrize("text, message", [
    ('quiet_hours = { from = "21:30", to = "21:30" }',
     'station.quiet_hours.to: "21:30" is the same as from; write when the quiet hours end, '
     'like { from = "21:30", to = "07:00" }'),
    ('quiet_hours = { from = "21:30" }', "station.quiet_hours.to: is missing; add to = ..."),
    ('quiet_hours = { from = "9pm", to = "07:00" }',
     'station.quiet_hours.from: "9pm" is not a time of day; write it like "08:00" or "17:30:15"'),
    ('quiet_hours = { from = "24:00", to = "07:00" }',
     'station.quiet_hours.from: "24:00" is not a time of day; write it like "08:00" or "17:30:15"'),
    ('quiet_hours = ["21:30", "07:00"]',
     'station.quiet_hours: [ ... ] is not a group of settings; '
     'write it as quiet_hours = { from = "21:30", to = "07:00" }'),
    ('holidays = ["2026-10-01", "国庆"]', 'station.holidays[2]: "国庆" is not a date; write it like 2024-05-01'),
    ('holidays = ["2026-02-30"]', 'station.holidays[1]: "2026-02-30" is not a real date; check the month and day'),
    ('holidays = "10-01"', 'station.holidays: "10-01" is not a date; write it like 2024-05-01'),
    ('country = "China"', 'station.country: "China" is not a country code; did you mean "CN"?'),
    ('country = "united states"', 'station.country: "united states" is not a country code; did you mean "US"?'),
    ('country = "中国"', 'station.country: "中国" is not a country code; did you mean "CN"?'),
    ('country = "CNN"', 'station.country: "CNN" is not a country code; did you mean "CN"?'),
    ('country = "QQ"', 'station.country: "QQ" is not a country code the holiday calendar knows; '
                       'use a two-letter code, like "CN" (China)'),
    ('player = "mpv"', 'station.player: "mpv" is not a player; '
                       'use "auto", "paplay", "pw-play", "aplay", "ffplay" or "null"'),
    ("device = 0", 'station.device: 0 is not text; put the text in double quotes, like "Sunny Court"'),
])
def test_bad_station_settings(tmp_path, text, message):
    assert problem(write(tmp_path, f"[station]\n{text}\n")) == (2, message)


def test_holiday_in_a_long_list_names_its_own_line(tmp_path):
    path = write(tmp_path, '[station]\nholidays = [\n  2026-10-01,   # 国庆\n  "2026-10-32",\n]\n')
    assert problem(path) == (4, 'station.holidays[2]: "2026-10-32" is not a real date; check the month and day')


# --- [[broadcast]]: each kind of timing ------------------------------------------

def broadcast(tmp_path: Path, text: str) -> Broadcast:
    (found,) = load_config(write(tmp_path, f'# station\n[[broadcast]]\nname = "b"\n{text}\n')).broadcasts
    return found


@pytest.mark.parametrize("text, at", [
    ('at = ["17:30:15", "08:00"]', (time(8), time(17, 30, 15))),     # sorted
    ('at = "8:05"', (time(8, 5),)),                                   # one string, one-digit hour
    ('at = ["08:00", "8:00"]', (time(8),)),                           # no repeats
    ('at = "08：00"', (time(8),)),                                    # a Chinese input method's colon
    ("at = [07:45:00, 12:00:00]", (time(7, 45), time(12))),           # TOML local times
])
def test_at(tmp_path, text, at):
    assert broadcast(tmp_path, text) == Broadcast(name="b", line=2, at=at)


def test_rounds(tmp_path):
    found = broadcast(tmp_path, 'from = "14:00"\nuntil = "15:00"\nevery = "20m"')
    assert (found.start, found.until, found.every_s) == (time(14), time(15), 1200.0)
    assert found.at == () and found.cron is None and found.once is None
    assert broadcast(tmp_path, 'from = "14:00"\nuntil = "15:00"\nevery = "10s"').every_s == 10.0   # the shortest


@pytest.mark.parametrize("cron, kept", [
    ("0 8 * * 1", "0 8 * * 1"),
    ("  30   7  *  *  mon-fri ", "30 7 * * mon-fri"),
    ("0 8 * * 7", "0 8 * * 7"),                    # 7 is Sunday, as 0 is
    ("0 9 1 jan,jul *", "0 9 1 jan,jul *"),
    ("*/15 8-17 * * SAT,SUN", "*/15 8-17 * * SAT,SUN"),
    ("0 8 29 2 *", "0 8 29 2 *"),                  # leap years only, but it does come round
    ("0,30 8-17/2 1-15 * 1-5", "0,30 8-17/2 1-15 * 1-5"),   # lists, ranges and steps are crontab(5)
])
def test_cron(tmp_path, cron, kept):
    assert broadcast(tmp_path, f'cron = "{cron}"').cron == kept


@pytest.mark.parametrize("text", ['date = "2026-12-24T18:00"', 'date = "2026-12-24 18:00"',
                                  'date = " 2026-12-24  18:00:00 "', "date = 2026-12-24T18:00:00",
                                  "date = 2026-12-24 18:00:00"])
def test_date(tmp_path, text):
    assert broadcast(tmp_path, text).once == datetime(2026, 12, 24, 18, 0)


# --- [[broadcast]]: options -------------------------------------------------------

@pytest.mark.parametrize("days, kept", [
    (None, "daily"),
    ('"daily"', "daily"), ('"Workdays"', "workdays"), ('"weekends"', "weekends"),
    ('"每天"', "daily"), ('"工作日"', "workdays"), ('"周末"', "weekends"),
    ('["fri", "mon"]', ("mon", "fri")),                              # week order
    ('["Monday", "wednesday", "mon"]', ("mon", "wed")),
    ('["周一", "星期三", "周日", "星期天"]', ("mon", "wed", "sun")),
    ('"sat"', ("sat",)), ('"星期五"', ("fri",)),
])
def test_days(tmp_path, days, kept):
    text = 'at = "08:00"' + (f"\ndays = {days}" if days else "")
    assert broadcast(tmp_path, text).days == kept


@pytest.mark.parametrize("clips, kept", [
    (None, ("all",)), ('"all"', ("all",)), ('"ALL"', ("all",)), ('["all"]', ("all",)),
    ('"ting-shui"', ("ting-shui",)),
    ('["urgent", "ting-shui", "urgent"]', ("urgent", "ting-shui")),   # in the order given, once each
])
def test_clips(tmp_path, clips, kept):
    text = 'at = "08:00"' + (f"\nclips = {clips}" if clips else "")
    assert broadcast(tmp_path, text).clips == kept


def test_options(tmp_path):
    found = broadcast(tmp_path, 'at = "08:00"\nrepeat = 20\ngap = 0\nvolume = 12\npriority = "URGENT"')
    assert (found.repeat, found.gap_s, found.volume_db, found.priority) == (20, 0.0, 12.0, "urgent")
    found = broadcast(tmp_path, 'at = "08:00"\nrepeat = 1\ngap = "1m"\nvolume = -30')
    assert (found.repeat, found.gap_s, found.volume_db, found.priority) == (1, 60.0, -30.0, "normal")
    assert broadcast(tmp_path, 'at = "08:00"') == Broadcast(name="b", line=2, at=(time(8),), repeat=1, gap_s=3.0,
                                                           volume_db=0.0, priority="normal", days="daily")


# --- [[broadcast]]: problems, each with its exact message -------------------------

@pytest.mark.parametrize("text, line, message", [
    # timing
    ("", 2, 'broadcast[1]: has no time to play; add at = ["08:00"], or from, until and every, '
            'or cron = "0 8 * * 1", or date = "2026-12-24 18:00"'),
    ('at = "08:00"\ncron = "0 8 * * *"', 5, "broadcast[1].cron: already has its time in at, so cron can't be "
                                            "used too; keep one, and put the other in a [[broadcast]] of its own"),
    ('date = "2026-12-24 18:00"\nfrom = "14:00"', 5,
     "broadcast[1].from: already has its time in date, so from/until/every can't be used too; keep one, "
     "and put the other in a [[broadcast]] of its own"),
    ('from = "14:00"\nevery = "20m"', 4,
     'broadcast[1].from: from, until and every go together (like from = "14:00", until = "15:00", '
     'every = "20m"); add until'),
    ('until = "15:00"', 4,
     'broadcast[1].until: from, until and every go together (like from = "14:00", until = "15:00", '
     'every = "20m"); add from and every'),
    ('from = "15:00"\nuntil = "14:00"\nevery = "5m"', 5,
     'broadcast[1].until: "14:00" is not after from "15:00"; until is when the rounds end (not played '
     'itself): write a later time the same day'),
    ('from = "14:00"\nuntil = "14:00"\nevery = "5m"', 5,
     'broadcast[1].until: "14:00" is not after from "14:00"; until is when the rounds end (not played '
     'itself): write a later time the same day'),
    # at
    ('at = ["08:00", "25:00"]', 4, 'broadcast[1].at[2]: "25:00" is not a time of day; '
                                   'write it like "08:00" or "17:30:15"'),
    ('at = "8 am"', 4, 'broadcast[1].at: "8 am" is not a time of day; write it like "08:00" or "17:30:15"'),
    ("at = 800", 4, 'broadcast[1].at: 800 is not a time of day; write it like "08:00" or "17:30:15"'),
    ("at = []", 4, 'broadcast[1].at: is an empty list; write at least one time, like at = ["08:00"]'),
    # from / until / every
    ('from = "2pm"\nuntil = "15:00"\nevery = "20m"', 4,
     'broadcast[1].from: "2pm" is not a time of day; write it like "08:00" or "17:30:15"'),
    ('from = "14:00"\nuntil = "15:00"\nevery = "20 minutes"', 6,
     'broadcast[1].every: "20 minutes" is not a duration; write it like "20m"'),
    ('from = "14:00"\nuntil = "15:00"\nevery = "0s"', 6,
     'broadcast[1].every: "0s" is too short; every needs at least 10 seconds, like "20m"'),
    ('from = "14:00"\nuntil = "15:00"\nevery = "1ms"', 6,
     'broadcast[1].every: "1ms" is too short; every needs at least 10 seconds, like "20m"'),
    ('from = "14:00"\nuntil = "15:00"\nevery = "9.9s"', 6,
     'broadcast[1].every: "9.9s" is too short; every needs at least 10 seconds, like "20m"'),
    ('from = "14:00"\nuntil = "15:00"\nevery = 1', 6,
     'broadcast[1].every: 1 is too short; every needs at least 10 seconds, like "20m"'),
    ('from = "14:00"\nuntil = "15:00"\nevery = "20"', 6,
     'broadcast[1].every: "20" has no unit; write "20s" (seconds) or "20m" (minutes)'),
    # cron
    ('cron = "0 8 * *"', 4, 'broadcast[1].cron: "0 8 * *" has 4 fields; a cron time has 5: minute hour day '
                            'month weekday, like "0 8 * * 1" (Mondays at 08:00)'),
    ('cron = "0 0 8 * * 1"', 4, 'broadcast[1].cron: "0 0 8 * * 1" has 6 fields; a cron time has 5: minute '
                                'hour day month weekday, like "0 8 * * 1" (Mondays at 08:00)'),
    ('cron = "@daily"', 4, 'broadcast[1].cron: "@daily" has 1 field; a cron time has 5: minute hour day '
                           'month weekday, like "0 8 * * 1" (Mondays at 08:00)'),
    ('cron = "60 8 * * *"', 4, 'broadcast[1].cron: "60 8 * * *" is not a valid cron time: its minute field '
                               '"60" is wrong; use 0-59'),
    ('cron = "0 25 * * *"', 4, 'broadcast[1].cron: "0 25 * * *" is not a valid cron time: its hour field '
                               '"25" is wrong; use 0-23'),
    ('cron = "0 8 0 * *"', 4, 'broadcast[1].cron: "0 8 0 * *" is not a valid cron time: its day-of-month '
                              'field "0" is wrong; use 1-31'),
    ('cron = "0 8 * 13 *"', 4, 'broadcast[1].cron: "0 8 * 13 *" is not a valid cron time: its month field '
                               '"13" is wrong; use 1-12 or jan-dec'),
    ('cron = "0 8 * * monday"', 4, 'broadcast[1].cron: "0 8 * * monday" is not a valid cron time: its '
                                   'day-of-week field "monday" is wrong; use 0-7 or sun-sat (0 and 7 are Sunday)'),
    ('cron = "0 8 L * *"', 4, 'broadcast[1].cron: "0 8 L * *" is not standard cron: its day-of-month field "L" '
                              'uses an extension crontab(5) does not have (like L, W, # or ?); use 1-31'),
    ('cron = "0 8 15W * *"', 4, 'broadcast[1].cron: "0 8 15W * *" is not standard cron: its day-of-month field '
                                '"15W" uses an extension crontab(5) does not have (like L, W, # or ?); use 1-31'),
    ('cron = "0 8 * * 1#2"', 4, 'broadcast[1].cron: "0 8 * * 1#2" is not standard cron: its day-of-week field '
                                '"1#2" uses an extension crontab(5) does not have (like L, W, # or ?); use 0-7 or '
                                'sun-sat (0 and 7 are Sunday)'),
    ('cron = "0 8 ? * 1"', 4, 'broadcast[1].cron: "0 8 ? * 1" is not standard cron: its day-of-month field "?" '
                              'uses an extension crontab(5) does not have (like L, W, # or ?); use 1-31'),
    ('cron = "R 8 * * *"', 4, 'broadcast[1].cron: "R 8 * * *" is not standard cron: its minute field "R" '
                              'uses an extension crontab(5) does not have (like L, W, # or ?); use 0-59'),
    ('cron = "0 8 31 2 *"', 4, 'broadcast[1].cron: "0 8 31 2 *" never comes round (there is no such day); '
                               'check the day and month fields'),
    # date
    ('date = "2026-12-24"', 4, 'broadcast[1].date: "2026-12-24" has no time of day; '
                               'write it like "2026-12-24 18:00"'),
    ("date = 2026-12-24", 4, 'broadcast[1].date: 2026-12-24 has no time of day; write it like "2026-12-24 18:00"'),
    ("date = 2026-12-24T18:00:00+08:00", 4,
     "broadcast[1].date: 2026-12-24T18:00:00+08:00 has a UTC offset; write the station's local time without "
     'it, like "2026-12-24 18:00"'),
    ('date = "Christmas Eve"', 4, 'broadcast[1].date: "Christmas Eve" is not a date and time; '
                                  'write it like "2026-12-24 18:00"'),
    ('date = "2026-12-24 25:00"', 4, 'broadcast[1].date: "2026-12-24 25:00" is not a date and time; '
                                     'write it like "2026-12-24 18:00"'),
    ('date = "2026-02-30 18:00"', 4, 'broadcast[1].date: "2026-02-30" is not a real date; '
                                     'check the month and day'),
    # options
    ('at = "08:00"\ndays = "weekdays"', 5, 'broadcast[1].days: "weekdays" is not a choice of days; '
                                           'did you mean "workdays"?'),
    ('at = "08:00"\ndays = "sometimes"', 5,
     'broadcast[1].days: "sometimes" is not a choice of days; write "daily", "workdays", "weekends", '
     'or a list like ["mon", "fri"]'),
    ('at = "08:00"\ndays = ["mon", "thrusday"]', 5,
     'broadcast[1].days[2]: "thrusday" is not a day of the week; did you mean "thursday"?'),
    ('at = "08:00"\ndays = ["周一", "星期八"]', 5,
     'broadcast[1].days[2]: "星期八" is not a day of the week; write mon to sun, or 周一 to 周日'),
    ('at = "08:00"\ndays = []', 5,
     'broadcast[1].days: is an empty list; write "daily", or list the days, like ["mon", "fri"]'),
    ('at = "08:00"\nclips = []', 5, 'broadcast[1].clips: is an empty list; write "all" (all the day\'s clips), '
                                    'or list ids or tags, like ["ting-shui"]'),
    ('at = "08:00"\nclips = ["all", "ting-shui"]', 5,
     'broadcast[1].clips: "all" already means every clip; write clips = "all" alone, or list only the clips '
     'to play'),
    ('at = "08:00"\nclips = ["ting-shui", 3]', 5,
     'broadcast[1].clips[2]: 3 is not text; put the text in double quotes, like "Sunny Court"'),
    ('at = "08:00"\nrepeat = 21', 5, "broadcast[1].repeat: 21 is too high; use a whole number from 1 to 20"),
    ('at = "08:00"\nrepeat = 0', 5, "broadcast[1].repeat: 0 is too low; use a whole number from 1 to 20"),
    ('at = "08:00"\ngap = "2m"', 5, 'broadcast[1].gap: "2m" is too long; use a duration from 0 to 60 seconds'),
    ('at = "08:00"\nvolume = 13', 5, "broadcast[1].volume: 13 is too high; use a number from -30 to 12 dB"),
    ('at = "08:00"\nvolume = "-3dB"', 5, 'broadcast[1].volume: "-3dB" is not a number; '
                                         'use a number from -30 to 12 dB'),
    ('at = "08:00"\npriority = "high"', 5, 'broadcast[1].priority: "high" is not a priority; '
                                           'use "normal" or "urgent"'),
    ('at = "08:00"\ntime = "08:00"', 5, 'broadcast[1].time: unknown setting; did you mean "at"?'),
])
def test_bad_broadcast(tmp_path, text, line, message):
    path = write(tmp_path, f'# station\n[[broadcast]]\nname = "b"\n{text}\n')
    assert problem(path) == (line, message)


def test_broadcast_needs_a_name(tmp_path):
    assert problem(write(tmp_path, '[[broadcast]]\nat = "08:00"\n')) == (
        1, "broadcast[1].name: is missing; add name = ...")


def test_repeated_name_names_the_first_ones_line(tmp_path):
    path = write(tmp_path, '[[broadcast]]\nname = "早间"\nat = "08:00"\n\n[[broadcast]]\nname = "午间"\n'
                           'at = "12:00"\n\n[[broadcast]]\nname = "早间"\ncron = "0 8 * * 6"\n')
    assert problem(path) == (10, 'broadcast[3].name: "早间" is already the name of broadcast[1] (line 1); '
                                 'give each broadcast its own name')


def test_broadcast_written_as_a_single_table(tmp_path):
    assert problem(write(tmp_path, '[broadcast]\nname = "b"\nat = "08:00"\n')) == (
        1, "broadcast: write it as [[broadcast]] (double brackets), one for each entry")


def test_broadcasts_remember_their_header_line(tmp_path):
    path = write(tmp_path, '[station]\nname = "x"\n\n[[broadcast]]  # 早上\nname = "a"\nat = "08:00"\n\n'
                           '# 下午\n[[broadcast]]\nname = "b"\nat = "15:00"\n')
    assert [(b.name, b.line) for b in load_config(path).broadcasts] == [("a", 4), ("b", 9)]


BAD_BROADCASTS = '''\
[station]
quiet_hours = { from = "21:30", to = "21:30" }
country = "China"

[[broadcast]]
name = "早间"
at = ["08:00", "25:00"]

[[broadcast]]
name = "巡播"
from = "14:00"
until = "15:00"
every = "20 minutes"

[[broadcast]]
name = "早间"
cron = "0 8 * * 1"
days = "weekdays"

[[broadcast]]
name = "无时间"
volume = 20
'''


def test_every_broadcast_problem_at_once(tmp_path):
    path = write(tmp_path, BAD_BROADCASTS)
    assert problems(path) == [
        f'{path}:2 station.quiet_hours.to: "21:30" is the same as from; write when the quiet hours end, '
        'like { from = "21:30", to = "07:00" }',
        f'{path}:3 station.country: "China" is not a country code; did you mean "CN"?',
        f'{path}:7 broadcast[1].at[2]: "25:00" is not a time of day; write it like "08:00" or "17:30:15"',
        f'{path}:13 broadcast[2].every: "20 minutes" is not a duration; write it like "20m"',
        f'{path}:16 broadcast[3].name: "早间" is already the name of broadcast[1] (line 5); '
        "give each broadcast its own name",
        f'{path}:18 broadcast[3].days: "weekdays" is not a choice of days; did you mean "workdays"?',
        f"{path}:22 broadcast[4].volume: 20 is too high; use a number from -30 to 12 dB",
    ]


def test_until_and_to_are_not_swapped(tmp_path):
    """quiet_hours end with `to`, rounds with `until`: the wrong one is pointed out, and what is then missing."""
    path = write(tmp_path, '[station]\nquiet_hours = { from = "21:30", until = "07:00" }\n')
    assert problems(path) == [f'{path}:2 station.quiet_hours.until: unknown setting; did you mean "to"?',
                              f"{path}:2 station.quiet_hours.to: is missing; add to = ..."]
    path = write(tmp_path, '[[broadcast]]\nname = "b"\nfrom = "14:00"\nto = "15:00"\nevery = "5m"\n')
    assert problems(path) == [
        f'{path}:3 broadcast[1].from: from, until and every go together (like from = "14:00", until = "15:00", '
        'every = "20m"); add until',
        f'{path}:4 broadcast[1].to: unknown setting; did you mean "until"?']


def test_unknown_key_does_not_hide_a_timing_problem(tmp_path):
    path = write(tmp_path, '[[broadcast]]\nname = "b"\nfrom = "14:00"\nevery = "5m"\ntimes = 3\n')
    assert problems(path) == [
        f'{path}:3 broadcast[1].from: from, until and every go together (like from = "14:00", until = "15:00", '
        'every = "20m"); add until',
        f'{path}:5 broadcast[1].times: unknown setting; did you mean "at"?',
    ]


def test_broadcast_problems_in_chinese(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    path = write(tmp_path, BAD_BROADCASTS)
    got = problems(path)
    assert got[3] == f'{path}:13 broadcast[2].every: "20 minutes" 不是时长；请写成 "20m" 这样'
    assert got[4] == f'{path}:16 broadcast[3].name: "早间" 已经是第 5 行 broadcast[1] 的名称；每个广播请用不同的名称'
    assert problem(write(tmp_path, '[[broadcast]]\nname = "b"\ncron = "0 8 * * monday"\n')) == (
        3, 'broadcast[1].cron: "0 8 * * monday" 不是有效的 cron 时间：第 5 栏（星期）"monday" 写错了；'
           '请用 0-7 或 sun-sat（0 和 7 都是星期日）')
    assert problem(write(tmp_path, '[[broadcast]]\nname = "b"\n')) == (
        1, 'broadcast[1]: 没有写什么时候播放；请加上 at = ["08:00"]，或 from、until、every 三项，'
           '或 cron = "0 8 * * 1"，或 date = "2026-12-24 18:00"')
    assert problem(write(tmp_path, '[[broadcast]]\nname = "b"\nat = "8:00"\ndays = ["周一", "星期八"]\n')) == (
        4, 'broadcast[1].days[2]: "星期八" 不是星期几；请写 周一 到 周日，或 mon 到 sun')


# --- the example station ------------------------------------------------------------

def test_example_schedule_loads_with_every_kind_of_timing():
    config = load_config(Path(__file__).parent.parent / "schedule.toml")
    station = config.station
    assert station.timezone == "Asia/Shanghai" and station.country == "CN"
    assert station.quiet_hours is not None and station.quiet_hours.start > station.quiet_hours.end  # wraps midnight
    kinds = {("at" if b.at else "rounds" if b.every_s else "cron" if b.cron else "date") for b in config.broadcasts}
    assert kinds == {"at", "rounds", "cron", "date"}
    assert all(b.once or b.cron or b.at or b.every_s for b in config.broadcasts)
    assert len({b.name for b in config.broadcasts}) == len(config.broadcasts)
    assert any(b.priority == "urgent" for b in config.broadcasts)


@pytest.mark.parametrize("token", ["xingfuli-guangbo-2026", "Write-A-Long-Password-Here", "make-up-your-own-token"])
def test_a_token_copied_from_the_documentation_is_refused(tmp_path, token):
    path = tmp_path / "schedule.toml"
    path.write_text(f'[web]\ntoken = "{token}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message("en") == (
        f"{path}:2 web.token: this token is an example from the documentation, so anybody can guess it: "
        "make up your own of at least 12 characters, letters and digits")
    assert "说明书里的例子" in caught.value.message("zh")


def test_a_token_of_your_own_is_accepted(tmp_path):
    path = tmp_path / "schedule.toml"
    path.write_text('[web]\ntoken = "  tea-room-7-kettle  "\n', encoding="utf-8")
    assert load_config(path).web.token == "tea-room-7-kettle"


def test_a_broadcast_may_not_take_the_name_of_plays_by_hand(tmp_path):
    path = write(tmp_path, '[[broadcast]]\nname = "Manual: water"\nat = "08:00"\n')
    assert problems(path) == [f'{path}:2 broadcast[1].name: "Manual: water" starts with "manual: ", which the '
                              "play log uses for plays by hand; choose another name"]


def test_a_chime_name_with_a_nul_byte_is_a_problem_not_a_crash(tmp_path):
    path = write(tmp_path, '[audio]\nchime = "\\u0000x"\n')
    [problem] = problems(path)
    assert problem.startswith(f"{path}:2 audio.chime: the sound file ")
