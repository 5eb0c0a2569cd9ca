"""The speech → clean clip stage: measured against known signals and the real tools."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from pydub import AudioSegment

from announcer.build import effects as fx
from announcer.core.errors import AudioError

SR = 44100
TEXT_EN = (
    "Attention please. The water supply in building three will be shut off tomorrow from nine a.m. "
    "to four p.m. for pipe repairs. Please store enough water in advance. Thank you."
)
TEXT_ZH = "ge4 wei4 ju1 min2 qing3 zhu4 yi4, ming2 tian1 shang4 wu3 jiu3 dian3 dao4 xia4 wu3 si4 dian3 ting2 shui3."


# --- signals -----------------------------------------------------------------


def tone(freq: float, seconds: float, amplitude: float = 0.5, sr: int = SR, phase: float = 0.0) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * sr)) / sr + phase)


def speech_like(seconds: float, level: float = 0.1, sr: int = SR, seed: int = 1) -> np.ndarray:
    """Voiced syllables (gliding 120 Hz harmonics), fricative noise and pauses."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.7 * t)) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 21))
    syllables = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 2
    fricative = rng.standard_normal(t.size) * 0.4 * (syllables > 0.6)
    talking = (t % 2.5) < 2.0
    return level * (voiced + fricative) * syllables * talking


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x))))


def dominant_hz(x: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), 8 * x.size))
    return float(np.fft.rfftfreq(8 * x.size, 1 / sr)[np.argmax(spectrum)])


def seg(x: np.ndarray, sr: int = SR) -> AudioSegment:
    return fx.from_array(x, sr)


def espeak(tmp: Path, text: str, voice: str) -> AudioSegment:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    path = tmp / f"{voice}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    return AudioSegment.from_wav(path)


@pytest.fixture(scope="module")
def speech_en(tmp_path_factory) -> AudioSegment:
    return espeak(tmp_path_factory.mktemp("speech"), TEXT_EN, "en-us")


@pytest.fixture(scope="module")
def speech_zh(tmp_path_factory) -> AudioSegment:
    return espeak(tmp_path_factory.mktemp("speech"), TEXT_ZH, "cmn-latn-pinyin")


MASTER = dict(
    highpass_hz=120.0, compress=True, chime=None, repeat=1, repeat_gap_s=2.0,
    lead_in_s=0.0, lead_in_kind="wake", target_lufs=-16.0, ceiling_dbtp=-1.0,
)


# --- conversions -------------------------------------------------------------


def test_to_array_reads_every_sample_width_and_averages_channels():
    ints = np.array([0, 16384, -32768, 32767], dtype="<i2")
    assert fx.to_array(AudioSegment(ints.tobytes(), sample_width=2, frame_rate=SR, channels=1)).tolist() == [
        0.0, 0.5, -1.0, 32767 / 32768,
    ]
    wide = np.array([0, 1 << 30, -(1 << 31)], dtype="<i4")
    assert fx.to_array(AudioSegment(wide.tobytes(), sample_width=4, frame_rate=SR, channels=1)).tolist() == [
        0.0, 0.5, -1.0,
    ]
    stereo = np.array([16384, 0, -16384, -16384], dtype="<i2")  # frames (0.5, 0) and (-0.5, -0.5)
    assert fx.to_array(AudioSegment(stereo.tobytes(), sample_width=2, frame_rate=SR, channels=2)).tolist() == [
        0.25, -0.5,
    ]


def test_from_array_is_16_bit_mono_clipped_and_keeps_digital_silence():
    out = fx.from_array(np.array([0.0, 2.0, -2.0, 0.0, 0.5]), 22050)
    assert (out.sample_width, out.channels, out.frame_rate) == (2, 1, 22050)
    samples = np.frombuffer(out.raw_data, "<i2")
    assert samples[:4].tolist() == [0, 32767, -32768, 0]
    assert abs(int(samples[4]) - 16384) <= 1


def test_from_array_dithers_with_tpdf_and_is_repeatable():
    x = np.full(SR, 0.3 + 0.25 / 32768)  # a quarter LSB off the grid
    samples = np.frombuffer(fx.from_array(x, SR).raw_data, "<i2").astype(float)
    error = samples - x * 32768
    assert abs(error.mean()) < 0.01  # dither makes the average exact
    assert 0.35 < error.std() < 0.65  # triangular ±1 LSB dither plus rounding, ~0.5 LSB
    assert np.abs(error).max() <= 1.5
    assert fx.from_array(x, SR).raw_data == fx.from_array(x, SR).raw_data


def test_mono_resamples_and_downmixes():
    left = seg(tone(440, 1.0, sr=22050), 22050)
    stereo = AudioSegment.from_mono_audiosegments(left, left)
    out = fx.mono(stereo, SR)
    assert (out.channels, out.frame_rate, len(out.raw_data) // 2) == (1, SR, SR)
    assert rms_db(fx.to_array(out)[1000:-1000]) == pytest.approx(rms_db(tone(440, 1.0)), abs=0.05)


# --- silence and trimming -----------------------------------------------------


def test_silence_is_exact_zeros():
    out = fx.silence(0.5, 22050)
    assert (out.frame_rate, out.channels, out.sample_width) == (22050, 1, 2)
    assert out.raw_data == bytes(2 * 11025)


def test_trim_silence_keeps_the_margin():
    quiet = np.random.default_rng(0).standard_normal(SR) * 10 ** (-65 / 20)  # a -65 dBFS hiss is silence
    x = np.concatenate([quiet, tone(440, 0.5), quiet])
    out = fx.trim_silence(seg(x, SR))
    assert len(out.raw_data) // 2 == pytest.approx(0.5 * SR + 2 * 0.05 * SR, abs=0.002 * SR)


def test_trim_silence_keeps_the_sample_format():
    stereo = AudioSegment.from_mono_audiosegments(
        *(seg(np.concatenate([np.zeros(22050), tone(300, 0.2, sr=22050), np.zeros(22050)]), 22050),) * 2
    )
    out = fx.trim_silence(stereo, keep_s=0.0)
    assert (out.frame_rate, out.channels, out.sample_width) == (22050, 2, 2)
    assert out.frame_count() == pytest.approx(0.2 * 22050, abs=3)


def test_trim_silence_keeps_a_recording_that_is_quiet_all_through():
    x = np.concatenate([np.zeros(SR // 2), tone(440, 0.5, 10 ** (-55 / 20)), np.zeros(SR // 2)])  # peak -55 dBFS
    out = fx.trim_silence(seg(x), keep_s=0.0)
    assert len(out.raw_data) // 2 == pytest.approx(0.5 * SR, abs=0.002 * SR)


def test_trim_silence_of_silence_is_empty():
    assert len(fx.trim_silence(fx.silence(1.0)).raw_data) == 0


# --- high-pass ----------------------------------------------------------------


def _through_high_pass(freq: float) -> float:
    out = fx.to_array(fx.high_pass(seg(tone(freq, 2.0)), 120.0, 4))
    return rms_db(out[SR // 2 : 3 * SR // 2]) - rms_db(tone(freq, 1.0))


@pytest.mark.parametrize(
    "freq, low, high",
    [
        (50, -65.0, -55.0),   # hum: measured -61 dB
        (60, -51.0, -45.0),   # hum: measured -48 dB
        (120, -6.5, -5.5),    # the cutoff, -6 dB after two passes
        (1000, -0.05, 0.05),  # speech passes untouched
    ],
)
def test_high_pass_response(freq, low, high):
    assert low <= _through_high_pass(freq) <= high


def test_high_pass_takes_hum_25_db_under_speech():
    for hum in (50, 60):
        assert _through_high_pass(1000) - _through_high_pass(hum) >= 25


# --- compressor ---------------------------------------------------------------


def test_compress_leaves_quiet_audio_alone():
    x = tone(1000, 1.0, amplitude=10 ** (-35 / 20))  # -38 dB RMS, under threshold and knee
    assert np.max(np.abs(fx._compress(x, SR) - x)) < 1e-12


def test_compress_follows_the_static_curve():
    x = tone(1000, 2.0, amplitude=np.sqrt(2) * 10 ** (-6 / 20))  # -6 dB RMS: 18 dB over threshold
    out = fx._compress(x, SR, threshold_db=-24, ratio=3)
    assert rms_db(out[SR:]) == pytest.approx(-6 - 18 * (1 - 1 / 3), abs=0.3)


def test_compress_attacks_fast_and_releases_slowly():
    loud = np.sqrt(2) * 10 ** (-6 / 20)
    quiet = np.sqrt(2) * 10 ** (-30 / 20)
    x = np.concatenate([tone(1000, 0.5, quiet), tone(1000, 0.5, loud), tone(1000, 0.5, quiet)])
    gain = fx._compress(x, SR) / np.where(np.abs(x) > 1e-4, x, 1)
    db = 20 * np.log10(np.maximum(np.abs(gain), 1e-9))

    def at(seconds: float) -> float:
        i = round(seconds * SR)
        return float(np.median(db[i - 20 : i + 20][np.abs(x[i - 20 : i + 20]) > 1e-3]))

    assert at(0.5 - 0.002) < -3  # looks ahead: already coming down before the step
    assert at(0.5 + 0.03) == pytest.approx(-12, abs=1.0)
    assert at(1.0 + 0.03) < -7  # 30 ms after the step down, still mostly reduced
    assert at(1.0 + 0.45) > -0.5  # and back after several release times


def test_compress_reduces_crest_factor_and_evens_out_levels():
    x = speech_like(4.0, level=0.08)
    for start in (0.3, 1.3, 2.3, 3.3):  # a few shouted syllables, 16 dB up
        x[round(start * SR) : round((start + 0.25) * SR)] *= 6
    out = fx.to_array(fx.compress(seg(x)))

    def crest(v: np.ndarray) -> float:
        return 20 * np.log10(np.max(np.abs(v))) - rms_db(v)

    assert crest(out) < crest(x) - 2.5  # measured 22.5 → 19.4 dB
    loud, soft = slice(round(0.3 * SR), round(0.55 * SR)), slice(round(0.6 * SR), round(1.2 * SR))
    spread_in = rms_db(x[loud]) - rms_db(x[soft])
    spread_out = rms_db(out[loud]) - rms_db(out[soft])
    assert spread_out < spread_in - 5  # measured 15.8 → 6.6 dB


@pytest.mark.real
def test_compress_lowers_the_crest_of_real_speech(speech_en):
    speech = fx.mono(speech_en)
    x = fx.to_array(speech)
    out = fx.to_array(fx.compress(speech, threshold_db=fx.loudness_lufs(speech) + fx.COMPRESS_THRESHOLD_LU))
    crest = lambda v: 20 * np.log10(np.max(np.abs(v))) - rms_db(v)  # noqa: E731
    assert crest(out) < crest(x) - 1.0


# --- loudness and true peak ----------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: speech_like(6.0),
        lambda: np.random.default_rng(3).standard_normal(3 * SR) * 0.05,
        lambda: tone(100, 2.5, 0.2),
        lambda: np.concatenate([tone(1000, 1.0, 0.5), np.zeros(SR), tone(3000, 1.0, 0.01)]),  # gating matters
    ],
    ids=["speech-like", "noise", "100 Hz", "gated"],
)
def test_loudness_is_the_pyloudnorm_meter(make):
    import pyloudnorm

    signal = make()
    assert fx._loudness(signal, SR) == pytest.approx(pyloudnorm.Meter(SR).integrated_loudness(signal), abs=1e-6)


def test_loudness_calibration_and_edge_cases():
    # BS.1770: a full-scale 1 kHz sine reads -3.01; pyloudnorm's filters at 44.1 kHz read 0.04 under.
    assert fx.loudness_lufs(seg(tone(1000, 3.0, 1.0 - 1e-4))) == pytest.approx(-3.01, abs=0.05)
    assert fx.loudness_lufs(fx.silence(2.0)) == float("-inf")
    short = fx.loudness_lufs(seg(tone(1000, 0.2, 0.5)))  # under one 400 ms block
    assert short == pytest.approx(fx.loudness_lufs(seg(tone(1000, 2.0, 0.5))), abs=0.1)


def test_true_peak_finds_peaks_between_samples():
    # A quarter-rate sine sampled 45 degrees off its crests: samples 3 dB under the real peak.
    x = tone(SR / 4, 1.0, 0.5, phase=np.pi / 4)
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-9.03, abs=0.01)
    assert fx.true_peak_dbtp(seg(x)) == pytest.approx(-6.02, abs=0.15)  # the filter's ripple: -5.91
    assert fx.true_peak_dbtp(fx.silence(1.0)) == float("-inf")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_true_peak_equals_full_oversampling(seed):
    from scipy.signal import resample_poly

    rng = np.random.default_rng(seed)
    x = speech_like(2.0, level=0.2, seed=seed) + np.where(rng.random(2 * SR) < 0.001, 0.8, 0.0)
    full = np.max(np.abs(resample_poly(x, 4, 1)))
    assert fx._true_peak(x) == pytest.approx(full, rel=1e-12)


def test_measure_gives_loudness_and_true_peak():
    s = seg(speech_like(3.0))
    assert fx.measure(s) == (fx.loudness_lufs(s), fx.true_peak_dbtp(s))


# --- normalize ----------------------------------------------------------------


def _clicks(seconds: float) -> np.ndarray:
    x = tone(1000, seconds, 0.01)
    x[:: SR // 2] = 0.9
    return x


NORMALIZE_CASES = {  # signal, target LUFS, ceiling dBTP
    "quiet speech": (lambda: speech_like(8.0, level=0.003), -16.0, -1.0),
    "loud speech, clipping": (lambda: np.clip(speech_like(8.0, level=0.8), -1, 1), -16.0, -1.0),
    "peaky clicks": (lambda: _clicks(6.0), -16.0, -1.0),
    "quarter-rate sine": (lambda: tone(SR / 4, 3.0, 0.5, phase=np.pi / 4), -16.0, -1.0),
    "short": (lambda: speech_like(0.3, level=0.1), -16.0, -1.0),
    "long": (lambda: speech_like(60.0, level=0.1), -16.0, -1.0),
    "broadcast": (lambda: speech_like(8.0, level=0.1), -23.0, -2.0),
}


@pytest.mark.parametrize("name", list(NORMALIZE_CASES))
def test_normalize_hits_loudness_and_ceiling(name):
    make, target, ceiling = NORMALIZE_CASES[name]
    x = make()
    loudness, peak = fx.measure(fx.normalize(seg(x), target, ceiling))
    assert loudness == pytest.approx(target, abs=0.2)
    assert peak <= ceiling


def test_normalize_limits_smoothly():
    x = tone(1000, 2.0, 0.05)
    x[SR : SR + 882] *= 18  # a 20 ms burst 25 dB louder
    y = fx.to_array(fx.normalize(seg(x), -16.0, -1.0))
    usable = np.abs(x) > 0.02
    gain = np.where(usable, y / np.where(usable, x, 1), np.nan)
    outside = np.nanmedian(gain[: SR // 2])
    inside = np.nanmedian(gain[SR : SR + 882])
    assert 20 * np.log10(outside / inside) > 10  # the burst really was limited
    both = usable[1:] & usable[:-1]
    steps = np.abs(np.diff(gain)[both]) / (outside - inside)
    assert np.max(steps) < 0.01  # the gain glides over 100+ samples: no step to click


def test_normalize_refuses_silence_in_both_languages():
    with pytest.raises(AudioError) as caught:
        fx.normalize(fx.silence(2.0))
    assert "没有声音" in caught.value.zh and "silent" in caught.value.en


# --- chime, lead-in, join ----------------------------------------------


def test_chime_is_a_soft_two_tone_ding_dong():
    x = fx.to_array(fx.chime())
    assert x.size / SR == pytest.approx(1.2, abs=0.01)
    assert dominant_hz(x[: round(0.4 * SR)]) == pytest.approx(659.25, abs=3)
    assert dominant_hz(x[round(0.6 * SR) : round(1.1 * SR)]) == pytest.approx(523.25, abs=3)
    peak = np.max(np.abs(x))
    assert 20 * np.log10(peak) == pytest.approx(-6.0, abs=0.1)
    assert x[0] == 0.0 and np.max(np.abs(x[: SR // 1000])) < 0.05 * peak  # soft attack, no click
    assert rms_db(x[: SR // 1000]) < rms_db(x[SR // 100 : SR // 50]) - 20  # rises over ~10 ms
    assert abs(x[-1]) < 1e-3  # fades out


def test_wake_lead_in_is_quiet_and_silence_is_silent():
    wake = fx.to_array(fx.lead_in(1.0, "wake"))
    assert wake.size == SR
    assert rms_db(wake[SR // 10 : -SR // 10]) == pytest.approx(fx.WAKE_LEVEL_DBFS, abs=0.5)
    assert dominant_hz(wake) == pytest.approx(fx.WAKE_FREQUENCY_HZ, abs=2)
    assert fx.lead_in(0.5, "silence").raw_data == bytes(2 * SR // 2)
    with pytest.raises(ValueError):
        fx.lead_in(0.5, "music")


def test_join_repeats_with_gaps_between_copies():
    one = seg(tone(440, 1.0))
    out = fx.join([one] * 3, 0.5)
    assert len(out.raw_data) // 2 == 4 * SR
    data = np.frombuffer(out.raw_data, "<i2")
    assert data[round(1.5 * SR) : round(2.5 * SR)].tobytes() == one.raw_data
    assert not data[SR : round(1.5 * SR)].any()
    assert fx.join([one], 2.0).raw_data == one.raw_data


def test_join_converts_to_one_format():
    out = fx.join([seg(tone(440, 1.0, sr=22050), 22050), seg(tone(440, 0.5))], gap_s=0.25, sample_rate=SR)
    assert (out.frame_rate, out.channels) == (SR, 1)
    assert len(out.raw_data) // 2 == round(1.75 * SR)


def test_functions_never_change_their_input():
    source = seg(speech_like(3.0, level=0.3))
    before = source.raw_data
    for run in (
        lambda s: fx.trim_silence(s), lambda s: fx.high_pass(s), lambda s: fx.compress(s),
        lambda s: fx.normalize(s), lambda s: fx.mono(s, 22050),
        lambda s: fx.join([s, s]), lambda s: fx.encode(s, "wav"),
        lambda s: fx.master(s, **MASTER),
    ):
        assert run(source) is not source
        assert source.raw_data == before
        assert (source.frame_rate, source.channels, source.sample_width) == (SR, 1, 2)


# --- encode, decode, load ---------------------------------------------------------


def _mp3_header_kbps(data: bytes) -> int:
    start = data.index(b"\xff\xfb")  # MPEG-1 layer III frame sync
    return [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320][data[start + 2] >> 4]


def test_wav_round_trip_is_exact():
    source = seg(speech_like(2.0, level=0.3))
    data = fx.encode(source, "wav")
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SR)
    assert fx.decode(data, "wav").raw_data == source.raw_data


@pytest.mark.real
@pytest.mark.parametrize("kbps", [128, 160])
def test_mp3_round_trip_keeps_the_level(kbps):
    x = tone(1000, 10.0, 0.3)
    data = fx.encode(seg(x[::2], 22050), "mp3", kbps, SR)  # resampled on the way
    out = fx.decode(data, "mp3")
    assert (out.frame_rate, out.channels) == (SR, 1)
    assert len(out) / 1000 == pytest.approx(10.0, abs=0.03)
    assert _mp3_header_kbps(data) == kbps
    assert len(data) * 8 / 10.0 / 1000 == pytest.approx(kbps, abs=3)
    y = fx.to_array(out)
    assert rms_db(y[SR:-SR]) == pytest.approx(rms_db(x), abs=0.1)  # LAME's preset scaling undone


@pytest.mark.real
def test_mp3_decode_is_gapless():
    source = seg(speech_like(3.0, level=0.3))
    out = fx.decode(fx.encode(source, "mp3"), "mp3")
    assert (out.frame_rate, out.channels) == (SR, 1)
    assert len(out.raw_data) == len(source.raw_data)  # encoder delay and padding removed exactly


@pytest.mark.real
def test_mastered_speech_survives_mp3(speech_en, speech_zh):
    for speech in (speech_en, speech_zh):
        clip = fx.master(speech, **{**MASTER, "ceiling_dbtp": fx.master_ceiling(-1.0, "mp3")})
        loudness, peak = fx.measure(fx.decode(fx.encode(clip, "mp3"), "mp3"))
        assert loudness == pytest.approx(-16.0, abs=0.5)
        assert peak <= -1.0


@pytest.mark.real
def test_wake_lead_in_survives_mp3():
    data = fx.encode(fx.join([fx.lead_in(1.0), seg(tone(440, 1.0, 0.3))]), "mp3")
    wake = fx.to_array(fx.decode(data, "mp3"))[SR // 10 : 9 * SR // 10]
    assert rms_db(wake) == pytest.approx(fx.WAKE_LEVEL_DBFS, abs=1.0)


def test_unknown_format_is_a_user_error():
    for call in (lambda: fx.encode(fx.silence(0.1), "ogg"), lambda: fx.decode(b"", "ogg")):
        with pytest.raises(AudioError) as caught:
            call()
        assert "ogg" in caught.value.zh and "ogg" in caught.value.en


@pytest.mark.real
def test_decode_of_damaged_mp3_is_a_user_error():
    with pytest.raises(AudioError) as caught:
        fx.decode(b"this is not an mp3 file" * 10, "mp3")
    assert "MP3" in caught.value.zh and "damaged" in caught.value.en


@pytest.mark.real
def test_load_sound_converts_to_mono_44k(tmp_path):
    path = tmp_path / "ding.wav"
    left = seg(tone(660, 0.8, 0.4, sr=22050), 22050)
    AudioSegment.from_mono_audiosegments(left, left).export(path, format="wav")
    out = fx.load_sound(path)
    assert (out.frame_rate, out.channels, out.sample_width) == (SR, 1, 2)
    assert len(out) / 1000 == pytest.approx(0.8, abs=0.01)
    assert dominant_hz(fx.to_array(out)) == pytest.approx(660, abs=2)


def test_load_sound_names_a_missing_file(tmp_path):
    missing = tmp_path / "chime.wav"
    with pytest.raises(AudioError) as caught:
        fx.load_sound(missing)
    assert caught.value.where == str(missing)
    assert "找不到" in caught.value.zh and "does not exist" in caught.value.en


@pytest.mark.real
def test_load_sound_explains_a_file_that_is_not_audio(tmp_path):
    text = tmp_path / "notes.mp3"
    text.write_text("not sound at all\n" * 50)
    with pytest.raises(AudioError) as caught:
        fx.load_sound(text)
    assert caught.value.where == str(text)
    assert "WAV" in caught.value.zh and "convert it" in caught.value.en


def test_missing_ffmpeg_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fx.shutil, "which", lambda name: None)
    path = tmp_path / "a.wav"
    path.write_bytes(fx.encode(fx.silence(0.1), "wav"))
    for call in (lambda: fx.load_sound(path), lambda: fx.decode(b"x", "mp3"), lambda: fx.encode(fx.silence(0.1))):
        with pytest.raises(AudioError) as caught:
            call()
        assert "sudo apt-get install ffmpeg" in caught.value.zh
        assert "sudo apt-get install ffmpeg" in caught.value.en


# --- master ---------------------------------------------------------------------


@pytest.mark.real
def test_master_makes_a_clip_on_target(speech_en):
    clip = fx.master(speech_en, **{**MASTER, "lead_in_s": 0.5})
    assert (clip.frame_rate, clip.channels, clip.sample_width) == (SR, 1, 2)
    loudness, peak = fx.measure(clip)
    assert loudness == pytest.approx(-16.0, abs=0.2)
    assert peak <= -1.0
    trimmed = fx.trim_silence(speech_en)
    assert len(clip) / 1000 == pytest.approx(0.5 + len(trimmed) / 1000, abs=0.01)


@pytest.mark.real
@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.0])
def test_lead_in_leaves_the_loudness_on_target(speech_zh, seconds):
    without = fx.loudness_lufs(fx.master(speech_zh, **MASTER))
    clip = fx.master(speech_zh, **{**MASTER, "lead_in_s": seconds})
    assert abs(fx.loudness_lufs(clip) - without) <= 0.1
    assert fx.loudness_lufs(clip) == pytest.approx(-16.0, abs=0.1)
    start = fx.to_array(clip)[round(0.1 * seconds * SR) : round(0.9 * seconds * SR)]
    assert rms_db(start) == pytest.approx(fx.WAKE_LEVEL_DBFS, abs=1.0)  # the lead-in kept its level


@pytest.mark.real
def test_master_puts_the_chime_first_3_lu_under_the_speech(speech_en):
    clip = fx.to_array(fx.master(speech_en, **{**MASTER, "chime": fx.chime()}))
    chime_part = clip[: round(1.2 * SR)]
    speech_part = clip[round((1.2 + fx.CHIME_GAP_S) * SR) :]
    assert dominant_hz(chime_part[: round(0.4 * SR)]) == pytest.approx(659.25, abs=3)
    assert np.max(np.abs(clip[round(1.21 * SR) : round(1.55 * SR)])) < 1e-3  # the gap
    difference = fx._loudness(speech_part, SR) - fx._loudness(chime_part, SR)
    assert difference == pytest.approx(fx.CHIME_UNDER_SPEECH_LU, abs=0.5)


@pytest.mark.real
def test_master_repeats_with_the_gap(speech_zh):
    once = fx.master(speech_zh, **MASTER)
    twice = fx.master(speech_zh, **{**MASTER, "repeat": 2, "repeat_gap_s": 1.5})
    assert len(twice.raw_data) // 2 == 2 * (len(once.raw_data) // 2) + round(1.5 * SR)
    assert fx.loudness_lufs(twice) == pytest.approx(-16.0, abs=0.2)


def test_master_removes_hum_only_when_asked():
    x = speech_like(4.0, level=0.1) + tone(50, 4.0, 0.02)

    def hum_vs_voice(clip: AudioSegment) -> float:
        spectrum = np.abs(np.fft.rfft(fx.to_array(clip)))
        freqs = np.fft.rfftfreq(len(clip.raw_data) // 2, 1 / SR)
        band = lambda lo, hi: np.sum(spectrum[(freqs >= lo) & (freqs < hi)] ** 2)  # noqa: E731
        return 10 * np.log10(band(45, 55) / band(200, 4000))

    kept = hum_vs_voice(fx.master(seg(x), **{**MASTER, "highpass_hz": 0}))
    removed = hum_vs_voice(fx.master(seg(x), **MASTER))
    assert kept - removed >= 25


@pytest.mark.real
def test_master_takes_any_rate_and_a_chime_file(speech_zh, tmp_path):
    path = tmp_path / "bell.mp3"
    path.write_bytes(fx.encode(fx.join([fx.silence(0.3), seg(tone(880, 0.6, 0.2))]), "mp3"))
    settings = {**MASTER, "chime": fx.load_sound(path), "lead_in_s": 0.5, "sample_rate": 48000}
    clip = fx.master(speech_zh, **settings)  # the speech is 22.05 kHz
    assert (clip.frame_rate, clip.channels) == (48000, 1)
    loudness, peak = fx.measure(clip)
    assert loudness == pytest.approx(-16.0, abs=0.2) and peak <= -1.0
    start = fx.to_array(clip)[round(0.5 * 48000) : round(1.0 * 48000)]  # the chime's silence was trimmed
    assert dominant_hz(start, 48000) == pytest.approx(880, abs=3)


def test_master_ceiling_leaves_room_for_mp3_only():
    assert fx.master_ceiling(-1.0, "mp3") == -1.0 - fx.MP3_HEADROOM_DB
    assert fx.master_ceiling(-1.0, "wav") == -1.0


def test_master_refuses_silent_speech():
    with pytest.raises(AudioError) as caught:
        fx.master(fx.silence(2.0), **MASTER)
    assert caught.value.zh and "silent" in caught.value.en

