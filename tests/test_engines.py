"""Engines: the factory, the fake's faults, and the real espeak-ng / pyttsx3 engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from announcer.build.effects import trim_silence
from announcer.build.engines import get_engine
from announcer.build.engines.base import SynthesisFailed, SynthesisOptions
from announcer.build.engines.espeak_cli import EspeakCliEngine, espeak_voice_name
from announcer.build.engines.fake import FakeEngine, Fault
from announcer.build.engines.pyttsx3_engine import Pyttsx3Engine
from announcer.core.errors import SpeechError

ZH_TEXT = "ming2 tian1 shang4 wu3 jiu3 dian3 dao4 xia4 wu3 wu3 dian3 ting2 shui3"
EN_TEXT = "The water supply will be cut off tomorrow morning"


def speech_seconds(audio) -> float:
    """Length of the audio between its first and last audible sample, as the speech stage trims."""
    return trim_silence(audio, keep_s=0.0).frame_count() / audio.frame_rate


# -- factory ------------------------------------------------------------------

def test_get_engine_names_the_valid_engines_for_an_unknown_one():
    with pytest.raises(SpeechError) as caught:
        get_engine("festival")
    error = caught.value
    for text in (error.zh, error.en):
        assert "festival" in text and "pyttsx3" in text and "espeak-ng" in text
    assert "schedule.toml" in error.zh and "schedule.toml" in error.en


def test_get_engine_makes_engines_without_starting_anything():
    engine = get_engine("pyttsx3")
    assert engine.name == "pyttsx3" and engine.worker_pid is None
    assert get_engine(" eSpeak-NG ").name == "espeak-ng"
    engine.close()


def test_engines_package_import_stays_light():
    code = "import sys, announcer.build.engines; print(sorted(m for m in ('pydub','pyttsx3','numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


def test_voice_names_map_to_plain_espeak_names():
    assert espeak_voice_name("gmw/en-US", "en") == "en-us"
    assert espeak_voice_name("sit/cmn-latn-pinyin", "zh") == "cmn-latn-pinyin"
    # the text of a Chinese run is pinyin: only the pinyin voice reads it as Mandarin
    assert espeak_voice_name("cmn", "zh") == "cmn-latn-pinyin"
    assert espeak_voice_name(None, "zh") == "cmn-latn-pinyin"
    assert espeak_voice_name(None, "en") == "en-us"


# -- the fake -----------------------------------------------------------------

def test_fake_length_follows_units_and_rate():
    fake = FakeEngine()
    one = speech_seconds(fake.synthesize("a b c d", "en", SynthesisOptions(rate=100)))
    double_units = speech_seconds(fake.synthesize("a b c d e f g h", "en", SynthesisOptions(rate=100)))
    double_rate = speech_seconds(fake.synthesize("a b c d", "en", SynthesisOptions(rate=200)))
    assert one == pytest.approx(4 / (0.0138 * 100), rel=0.01)
    assert double_units == pytest.approx(2 * one, rel=0.01)
    assert double_rate == pytest.approx(one / 2, rel=0.01)


def test_fake_faults_misbehave_as_asked():
    fake = FakeEngine([
        Fault("fail", calls=frozenset({0})),
        Fault("empty", calls=frozenset({1})),
        Fault("silent", calls=frozenset({2})),
        Fault("truncate", calls=frozenset({4})),
        Fault("stale", calls=frozenset({5})),
        Fault("hang", calls=frozenset({6})),
    ], hang_s=0.1)
    options = SynthesisOptions(rate=150)
    with pytest.raises(SynthesisFailed):
        fake.synthesize("a b c", "en", options)
    assert len(fake.synthesize("a b c", "en", options)) == 0
    silent = fake.synthesize("a b c", "en", options)
    assert silent.max < 5
    full = fake.synthesize("a b c d e f", "en", options)
    cut = fake.synthesize("a b c d e f", "en", options)
    assert len(cut) == pytest.approx(len(full) / 2, abs=2)
    stale = fake.synthesize("x y", "en", options)
    assert stale.raw_data == full.raw_data         # the previous text's audio
    started = time.monotonic()
    with pytest.raises(SynthesisFailed):
        fake.synthesize("a b", "en", options)
    assert time.monotonic() - started >= 0.1
    assert [c.fault for c in fake.calls] == ["fail", "empty", "silent", None, "truncate", "stale", "hang"]


def test_fake_gives_different_texts_different_audio():
    fake = FakeEngine()
    a = fake.synthesize("a b c", "en", SynthesisOptions(rate=150))
    b = fake.synthesize("a b d", "en", SynthesisOptions(rate=150))
    again = fake.synthesize("a b c", "en", SynthesisOptions(rate=150))
    assert a.raw_data != b.raw_data and a.raw_data == again.raw_data


# -- espeak-ng command line -----------------------------------------------------

@pytest.mark.real
def test_espeak_cli_speaks_mono_and_follows_rate():
    engine = EspeakCliEngine()
    try:
        slow = engine.synthesize(EN_TEXT, "en", SynthesisOptions(voice="en-us", rate=100))
        fast = engine.synthesize(EN_TEXT, "en", SynthesisOptions(voice="en-us", rate=200))
    finally:
        engine.close()
    assert slow.channels == 1 and slow.frame_rate == 22050
    assert speech_seconds(slow) / speech_seconds(fast) == pytest.approx(2.0, rel=0.12)


@pytest.mark.real
def test_espeak_cli_unknown_voice_is_a_speech_error():
    engine = EspeakCliEngine()
    with pytest.raises(SpeechError) as caught:
        engine.synthesize("hello", "en", SynthesisOptions(voice="xx-nosuch"))
    assert "xx-nosuch" in caught.value.zh and "espeak-ng --voices" in caught.value.en
    engine.close()


def test_espeak_cli_missing_program_says_how_to_install(tmp_path):
    engine = EspeakCliEngine(program=str(tmp_path / "espeak-ng"))
    with pytest.raises(SpeechError) as caught:
        engine.synthesize("hello", "en", SynthesisOptions())
    assert "sudo apt-get install espeak-ng" in caught.value.zh
    assert "sudo apt-get install espeak-ng" in caught.value.en


# -- pyttsx3 worker ---------------------------------------------------------------

def fake_worker(body: str) -> list[str]:
    """A stand-in worker: says hello with two voices, then runs `body`."""
    hello = json.dumps({"hello": True, "voices": [{"id": "gmw/en-us", "languages": ["en-us"]}]})
    return [sys.executable, "-c", f"import sys, time, json\nprint({hello!r}, flush=True)\n{body}"]


@pytest.mark.real
def test_pyttsx3_speaks_like_the_espeak_program_and_cleans_up():
    engine = Pyttsx3Engine()
    cli = EspeakCliEngine()
    try:
        for text, language, voice in ((ZH_TEXT, "zh", "cmn-latn-pinyin"), (EN_TEXT, "en", "en-us")):
            options = SynthesisOptions(voice=voice, rate=150)
            ours = engine.synthesize(text, language, options)
            theirs = cli.synthesize(text, language, options)
            assert ours.channels == 1
            assert speech_seconds(ours) == pytest.approx(speech_seconds(theirs), rel=0.02)
        assert list(Path(engine._dir.name).iterdir()) == []      # every temp file deleted
    finally:
        engine.close()
        cli.close()
    assert engine.worker_pid is None


@pytest.mark.real
def test_pyttsx3_rate_changes_take_effect_every_time():
    """pyttsx3's own setProperty('rate') often sticks at an old rate; ours must not."""
    engine = Pyttsx3Engine()
    try:
        lengths = {100: [], 250: []}
        for rate in (100, 250, 100, 250, 250, 100, 100, 250):
            audio = engine.synthesize(EN_TEXT, "en", SynthesisOptions(voice="en-us", rate=rate))
            lengths[rate].append(speech_seconds(audio))
    finally:
        engine.close()
    for rate, seconds in lengths.items():
        assert max(seconds) - min(seconds) < 0.05, (rate, seconds)
    assert min(lengths[100]) > 2 * max(lengths[250])


@pytest.mark.real
def test_pyttsx3_worker_is_restarted_after_a_kill():
    engine = Pyttsx3Engine()
    try:
        engine.synthesize("hello there", "en", SynthesisOptions(rate=150))
        first = engine.worker_pid
        os.kill(first, 9)
        audio = engine.synthesize("hello again", "en", SynthesisOptions(rate=150))
        assert speech_seconds(audio) > 0.3
        assert engine.worker_pid != first and engine.starts == 2
    finally:
        engine.close()


def test_pyttsx3_hung_worker_times_out_and_is_killed():
    engine = Pyttsx3Engine(timeout_s=0.5, worker_command=fake_worker("time.sleep(60)"))
    try:
        started = time.monotonic()
        with pytest.raises(SynthesisFailed, match="no answer"):
            engine.synthesize("hello", "en", SynthesisOptions(voice="en-us"))
        assert time.monotonic() - started < 2.0
        assert engine.worker_pid is None                  # killed; a fresh one starts next time
    finally:
        engine.close()


def test_pyttsx3_worker_crash_mid_request_is_a_synthesis_failure():
    engine = Pyttsx3Engine(worker_command=fake_worker("sys.stdin.readline(); sys.exit(3)"))
    try:
        with pytest.raises(SynthesisFailed, match="stopped"):
            engine.synthesize("hello", "en", SynthesisOptions(voice="en-us"))
        assert engine.starts == 2                         # it tried once more with a fresh worker
    finally:
        engine.close()


def test_pyttsx3_failed_answer_restarts_the_worker():
    body = ("line = json.loads(sys.stdin.readline())\n"
            "print(json.dumps({'id': line['id'], 'ok': False, 'error': 'boom'}), flush=True)\n"
            "time.sleep(60)")
    engine = Pyttsx3Engine(worker_command=fake_worker(body))
    try:
        with pytest.raises(SynthesisFailed, match="boom"):
            engine.synthesize("hello", "en", SynthesisOptions(voice="en-us"))
        assert engine.worker_pid is None
    finally:
        engine.close()


def test_pyttsx3_without_espeak_library_says_how_to_install():
    answer = json.dumps({"hello": False, "error": "OSError: libespeak-ng.so.1"})
    command = [sys.executable, "-c", f"print({answer!r}, flush=True)"]
    engine = Pyttsx3Engine(worker_command=command)
    with pytest.raises(SpeechError) as caught:
        engine.synthesize("hello", "en", SynthesisOptions())
    assert "sudo apt-get install espeak-ng" in caught.value.zh and "sudo apt-get install espeak-ng" in caught.value.en
    engine.close()


def test_pyttsx3_unknown_voice_is_a_speech_error():
    engine = Pyttsx3Engine(worker_command=fake_worker("time.sleep(60)"))
    try:
        with pytest.raises(SpeechError) as caught:
            engine.synthesize("hello", "en", SynthesisOptions(voice="xx-nosuch"))
        assert "xx-nosuch" in caught.value.zh and "xx-nosuch" in caught.value.en
    finally:
        engine.close()

