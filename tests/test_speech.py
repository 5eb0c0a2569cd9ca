"""The speech stage: checked pieces, recovery, pauses and pace."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from announcer.build.effects import trim_silence
from announcer.build.engines.base import SynthesisOptions
from announcer.build.engines.fake import FakeEngine, Fault
from announcer.build.speakable import Clause, Run, Sentence, Speakable
from announcer.build.speech import LANGUAGE_GAP_S, Speaker, speak
from announcer.core.config import SpeechConfig
from announcer.core.errors import SpeechError

MARGIN_S = 0.02          # the 10 ms kept on each side of a trimmed piece


def zh(text: str, pinyin: str) -> Run:
    return Run("zh", text, pinyin, len(pinyin.split()))


def en(text: str) -> Run:
    return Run("en", text, text, len(text.split()))


def notice(*sentences, language="zh") -> Speakable:
    """sentences: each a list of clauses, each a list of runs."""
    built = tuple(Sentence(tuple(Clause(tuple(runs)) for runs in clauses)) for clauses in sentences)
    return Speakable(built, language, "")


WATER = notice(
    [[zh("明天上午九点到下午五点停水", "ming2 tian1 shang4 wu3 jiu3 dian3 dao4 xia4 wu3 wu3 dian3 ting2 shui3")],
     [zh("请各位居民提前储水", "qing3 ge4 wei4 ju1 min2 ti2 qian2 chu3 shui3")]],
    [[zh("社区服务中心周六照常开放", "she4 qu1 fu2 wu4 zhong1 xin1 zhou1 liu4 zhao4 chang2 kai1 fang4")]],
    [[zh("如有疑问请拨打物业电话", "ru2 you3 yi2 wen4 qing3 bo1 da3 wu4 ye4 dian4 hua4")],
     [zh("谢谢大家的配合", "xie4 xie4 da4 jia1 de5 pei4 he2")]],
)
LIFT = notice(
    [[en("The elevator is under repair")], [en("please use the stairs")]],
    [[en("For questions, call the property office")]],
    [[en("Thank you for your patience")]],
    language="en",
)


def gaps(audio) -> list[float]:
    """Lengths of the stretches of digital silence inside the audio, in seconds."""
    samples = np.frombuffer(audio.raw_data, dtype=np.int16)
    quiet = np.concatenate([[False], samples == 0, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    return [(e - s) / audio.frame_rate for s, e in zip(starts, ends) if (e - s) / audio.frame_rate > 0.015]


def speaking_seconds(speech, speakable: Speakable, config: SpeechConfig) -> float:
    """Audio length less the pauses the stage inserts."""
    clauses = sum(len(s.clauses) for s in speakable.sentences)
    sentences = len(speakable.sentences)
    switches = sum(
        1 for s in speakable.sentences for c in s.clauses
        for a, b in zip(c.runs, c.runs[1:]) if a.language != b.language
    )
    pauses = ((clauses - sentences) * config.comma_pause_s + (sentences - 1) * config.sentence_pause_s
              + switches * LANGUAGE_GAP_S)
    return len(speech.audio) / 1000 - pauses


def run_texts(engine: FakeEngine) -> list[str]:
    return [c.text for c in engine.calls]


# -- assembly -----------------------------------------------------------------

def test_pauses_are_the_configured_lengths():
    config = SpeechConfig(comma_pause_s=0.25, sentence_pause_s=0.7)
    mixed = notice(
        [[zh("社区服务中心", "she4 qu1 fu2 wu4 zhong1 xin1"), en("Community Center")],
         [zh("周六照常开放", "zhou1 liu4 zhao4 chang2 kai1 fang4")]],
        [[zh("谢谢", "xie4 xie4")]],
        language="mixed",
    )
    speech = speak(mixed, FakeEngine(), config)
    found = gaps(speech.audio)
    # order: zh→en gap inside a clause, comma pause, sentence pause; each plus the trim margins
    assert found == pytest.approx([LANGUAGE_GAP_S + MARGIN_S, 0.25 + MARGIN_S, 0.7 + MARGIN_S], abs=0.003)
    assert speech.audio.channels == 1
    assert speech.recovered == 0 and speech.warnings == ()


def test_leading_and_trailing_silence_is_trimmed():
    speech = speak(notice([[zh("谢谢", "xie4 xie4")]]), FakeEngine(), SpeechConfig())
    samples = np.frombuffer(speech.audio.raw_data, dtype=np.int16)
    loud = np.flatnonzero(np.abs(samples) > 1000)
    rate = speech.audio.frame_rate
    assert loud[0] / rate == pytest.approx(0.01, abs=0.002)
    assert (len(samples) - loud[-1]) / rate == pytest.approx(0.01, abs=0.002)


def test_clean_notice_reports_engine_voices_and_pace():
    config = SpeechConfig()
    engine = FakeEngine()
    speech = speak(WATER, engine, config)
    assert len(engine.calls) >= len(WATER.runs())
    assert speech.engine == "fake" and speech.voice == "cmn-latn-pinyin"
    assert speech.pace_unit == "syllables/s"
    measured = WATER.units("zh") / speaking_seconds(speech, WATER, config)
    assert speech.pace == pytest.approx(measured, rel=0.02)
    assert speech.pace == pytest.approx(3.5, rel=0.10)


def test_main_language_is_the_one_spoken_longest():
    mixed = notice(
        [[zh("通知", "tong1 zhi1")], [en("The water supply will be cut off from nine to five tomorrow")]],
        language="mixed",
    )
    speech = speak(mixed, FakeEngine(), SpeechConfig())
    assert speech.pace_unit == "words/min"
    assert speech.pace == pytest.approx(145, rel=0.10)
    assert speech.voice == "cmn-latn-pinyin,en-us"


def test_a_notice_without_text_is_a_speech_error():
    with pytest.raises(SpeechError) as caught:
        speak(notice(), FakeEngine(), SpeechConfig(), where="notices.txt:3")
    assert caught.value.where == "notices.txt:3"


# -- recovery ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fail", "empty", "silent", "truncate", "stale", "hang"])
def test_each_misbehaviour_is_recovered_and_reported(kind):
    config = SpeechConfig()
    clean = speak(WATER, FakeEngine(), config)
    engine = FakeEngine([Fault(kind, calls=frozenset({2}))], hang_s=0.1)
    started = time.monotonic()
    speech = speak(WATER, engine, config)
    assert time.monotonic() - started < 2
    assert speech.recovered == 1
    assert len(speech.warnings) == 1 and "社区服务中心" in speech.warnings[0]
    assert engine.restarts >= 1
    retried = [c.text for c in engine.calls[3:]]
    assert engine.calls[2].text in retried                        # made again
    assert len(speech.audio) == pytest.approx(len(clean.audio), abs=2)
    assert speech.engine == "fake"


def test_truncation_is_caught_once_the_rate_is_calibrated():
    """With two pieces there is nothing to compare against: only the calibration knows."""
    config = SpeechConfig()
    engine = FakeEngine()
    speaker = Speaker(engine, config)
    speaker.speak(WATER)                                   # learns the rate
    engine.faults = [Fault("truncate", calls=frozenset({len(engine.calls) + 1}))]
    short = notice([[zh("请各位居民提前储水", "qing3 ge4 wei4 ju1 min2 ti2 qian2 chu3 shui3")],
                     [zh("谢谢大家的配合", "xie4 xie4 da4 jia1 de5 pei4 he2")]])
    speech = speaker.speak(short)
    assert speech.recovered == 1
    assert "截断" in speech.warnings[0] or "cut off" in speech.warnings[0]
    assert speech.pace == pytest.approx(3.5, rel=0.10)


def test_truncation_is_caught_before_calibration_by_comparing_pieces():
    engine = FakeEngine([Fault("truncate", calls=frozenset({0}))])
    speech = speak(WATER, engine, SpeechConfig())
    assert speech.recovered == 1 and "明天上午九点" in speech.warnings[0]
    assert speech.pace == pytest.approx(3.5, rel=0.10)


def test_a_long_text_the_engine_keeps_failing_is_split_in_two():
    engine = FakeEngine([Fault("fail", min_units=10)])        # anything of 10+ units fails
    speech = speak(WATER, engine, SpeechConfig())
    texts = run_texts(engine)
    assert "ming2 tian1 shang4 wu3 jiu3 dian3" in texts         # first half of the 13-syllable run
    assert "dao4 xia4 wu3 wu3 dian3 ting2 shui3" in texts
    assert speech.recovered == 3                                # the 13-, 12- and 11-syllable runs
    assert all("两段" in w or "two parts" in w for w in speech.warnings)
    assert speech.engine == "fake"


def test_the_fallback_engine_makes_what_the_main_engine_cannot():
    main = FakeEngine([Fault("fail", text="qing3 ge4")])
    backup = FakeEngine(name="backup")
    speech = speak(WATER, main, SpeechConfig(), fallback=backup)
    assert speech.engine == "fake+backup"
    assert [c.text for c in backup.calls] == ["qing3 ge4 wei4 ju1 min2 ti2 qian2 chu3 shui3"]
    assert speech.recovered == 1 and "backup" in speech.warnings[0]


def test_when_everything_fails_the_error_names_the_text_and_what_to_do():
    main = FakeEngine([Fault("fail", text="xie4")])
    backup = FakeEngine([Fault("empty", text="xie4")], name="backup")
    with pytest.raises(SpeechError) as caught:
        speak(WATER, main, SpeechConfig(), fallback=backup, where="notices.txt:7")
    error = caught.value
    assert error.where == "notices.txt:7"
    assert "谢谢大家的配合" in error.zh and "谢谢大家的配合" in error.en
    assert "espeak-ng hello" in error.zh and "espeak-ng hello" in error.en
    assert "Traceback" not in str(error)


def test_a_broken_main_engine_is_skipped_after_three_pieces():
    main = FakeEngine([Fault("fail")])
    backup = FakeEngine(name="backup")
    speech = speak(WATER, main, SpeechConfig(), fallback=backup)
    assert speech.engine == "fake+backup" and speech.recovered == len(WATER.runs())
    tried = [run.engine_text for run in WATER.runs() if run.engine_text in {c.text for c in main.calls}]
    assert tried == [run.engine_text for run in WATER.runs()[:3]]   # then the main engine is left alone
    assert len(main.calls) == 3 * 3          # each: a take, a retry, the first half of a split
    assert len({c.text for c in backup.calls}) == len(WATER.runs())


def test_a_genuinely_odd_length_is_accepted_when_a_second_take_agrees():
    """A run whose text speaks much faster than its units suggest is not an error."""
    odd = Run("zh", "二〇二四年", "er4 ling2", 5)            # two tokens spoken, five units counted
    speakable = notice(
        [[zh("明天上午九点到下午五点停水", "ming2 tian1 shang4 wu3 jiu3 dian3 dao4 xia4 wu3 wu3 dian3 ting2 shui3")]],
        [[zh("请各位居民提前储水", "qing3 ge4 wei4 ju1 min2 ti2 qian2 chu3 shui3")], [odd]],
        [[zh("谢谢大家的配合", "xie4 xie4 da4 jia1 de5 pei4 he2")]],
    )
    engine = FakeEngine()
    speech = speak(speakable, engine, SpeechConfig())
    assert speech.recovered == 0 and speech.warnings == ()


def test_stale_audio_from_an_earlier_notice_is_caught():
    engine = FakeEngine()
    speaker = Speaker(engine, SpeechConfig())
    speaker.speak(notice([[zh("谢谢", "xie4 xie4")]]))
    engine.faults = [Fault("stale", calls=frozenset({len(engine.calls)}))]
    speech = speaker.speak(notice([[zh("再见", "zai4 jian4")]]))
    assert speech.recovered == 1 and "谢谢" in speech.warnings[0]


# -- pace ---------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.85, 1.0, 1.15])
def test_pace_reaches_the_target_and_later_notices_need_one_take(scale):
    config = SpeechConfig(pace={"zh": 3.5 * scale, "en": 145 * scale})
    engine = FakeEngine(rate_power=1.3)              # the rate setting is not the pace you hear
    speaker = Speaker(engine, config)
    for speakable, language in ((WATER, "zh"), (LIFT, "en")):
        speech = speaker.speak(speakable)
        assert speech.pace == pytest.approx(config.pace[language], rel=0.05)
        measured = speakable.units(language) / speaking_seconds(speech, speakable, config)
        if language == "en":
            measured *= 60
        assert speech.pace == pytest.approx(measured, rel=0.02)
    before = len(engine.calls)
    speech = speaker.speak(WATER)
    assert len(engine.calls) - before == len(WATER.runs())
    assert speech.pace == pytest.approx(config.pace["zh"], rel=0.05)


def test_an_unreachable_pace_gives_a_warning():
    config = SpeechConfig(pace={"zh": 15.0, "en": 145.0})
    engine = FakeEngine()
    speech = speak(WATER, engine, config)
    assert speech.pace < 15.0 * 0.9
    assert len(speech.warnings) == 1 and ("15.0" in speech.warnings[0])
    assert max(c.options.rate for c in engine.calls) == 450     # it tried the fastest setting
    assert len(engine.calls) <= 2 * len(WATER.runs())           # and did not keep trying


def test_close_closes_both_engines():
    main, backup = FakeEngine(), FakeEngine(name="backup")
    Speaker(main, SpeechConfig(), fallback=backup).close()
    assert main.closed and backup.closed


# -- the real engines --------------------------------------------------------

@pytest.fixture(scope="module")
def real_speaker_factory():
    from announcer.build.engines.espeak_cli import EspeakCliEngine
    from announcer.build.engines.pyttsx3_engine import Pyttsx3Engine

    made = []

    def make(config):
        speaker = Speaker(Pyttsx3Engine(), config, fallback=EspeakCliEngine())
        made.append(speaker)
        return speaker

    yield make
    for speaker in made:
        speaker.close()


@pytest.mark.real
@pytest.mark.parametrize("scale", [0.85, 1.0, 1.15])
def test_real_pace_is_within_ten_percent(real_speaker_factory, scale):
    config = SpeechConfig(pace={"zh": 3.5 * scale, "en": 145 * scale})
    speaker = real_speaker_factory(config)
    for speakable, language in ((WATER, "zh"), (LIFT, "en")):
        speech = speaker.speak(speakable)
        assert speech.engine == "pyttsx3" and speech.recovered == 0, speech.warnings
        target = config.pace[language]
        assert speech.pace == pytest.approx(target, rel=0.10)
        measured = speakable.units(language) / speaking_seconds(speech, speakable, config)
        if language == "en":
            measured *= 60
        assert measured == pytest.approx(target, rel=0.10)


class Recording:
    """Passes requests through to an engine, noting the options used."""

    def __init__(self, inner):
        self.inner, self.name, self.options = inner, inner.name, []

    def __getattr__(self, name):          # the engine's attributes: rate range, voice names...
        return getattr(self.inner, name)

    def synthesize(self, text, language, options):
        self.options.append(options)
        return self.inner.synthesize(text, language, options)

    def close(self):
        self.inner.close()


@pytest.mark.real
def test_real_mandarin_comes_from_the_pinyin_voice():
    from announcer.build.engines.espeak_cli import EspeakCliEngine
    from announcer.build.engines.pyttsx3_engine import Pyttsx3Engine

    one = notice([[zh("明天上午九点到下午五点停水", "ming2 tian1 shang4 wu3 jiu3 dian3 dao4 xia4 wu3 wu3 dian3 ting2 shui3")]])
    config = SpeechConfig(voices={"zh": "cmn", "en": "en-us"})     # "cmn" alone would read pinyin as English
    engine = Recording(Pyttsx3Engine())
    cli = EspeakCliEngine()
    try:
        speech = Speaker(engine, config).speak(one)
        assert speech.voice == "cmn-latn-pinyin"
        assert {o.voice for o in engine.options} == {"cmn-latn-pinyin"}
        ours = len(speech.audio) / 1000 - MARGIN_S
        off = {}
        for voice in ("cmn-latn-pinyin", "cmn"):
            text = one.runs()[0].engine_text
            lengths = [_speech_seconds(cli.synthesize(text, "en", SynthesisOptions(voice=voice, rate=o.rate)))
                       for o in engine.options]
            off[voice] = min(abs(ours / length - 1) for length in lengths)
        assert off["cmn-latn-pinyin"] < 0.03          # the same as espeak-ng's pinyin voice
        assert off["cmn"] > 0.15                      # and unlike the voice that spells it out
    finally:
        engine.close()
        cli.close()


@pytest.mark.real
def test_real_worker_killed_between_notices_is_restarted(real_speaker_factory):
    config = SpeechConfig()
    speaker = real_speaker_factory(config)
    speaker.speak(LIFT)
    engine = speaker.engine_for("zh")
    os.kill(engine.worker_pid, 9)
    speech = speaker.speak(WATER)
    assert speech.engine == "pyttsx3" and speech.recovered == 0
    assert engine.starts == 2
    assert speech.pace == pytest.approx(3.5, rel=0.10)


def _speech_seconds(audio) -> float:
    """Length between the first and last audible sample, as the speech stage trims."""
    return trim_silence(audio, keep_s=0.0).frame_count() / audio.frame_rate
