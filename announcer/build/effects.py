"""Speech → clean clip: the audio stage, as small functions on pydub AudioSegments.

Each effect is `(segment, **params) -> segment` and never changes its input;
`master` is just those effects in a row. Number work happens on float64
arrays in [-1, 1] (`to_array` / `from_array`) and results are 16-bit mono.
Loudness is ITU-R BS.1770-4 integrated loudness measured with pyloudnorm;
true peak is the peak of the 4x oversampled signal (BS.1770-4 annex 2).
Files are written and read by ffmpeg, through pydub.
"""

from __future__ import annotations

import functools
import io
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyloudnorm
from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError, CouldntEncodeError
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import butter, lfilter, resample_poly, sosfiltfilt

from announcer.core.errors import AudioError

SAMPLE_RATE = 44100
MP3_HEADROOM_DB = 0.5          # true-peak room for MP3 (measured rise: <= 0.05 dB at 128 kbps, 0.25 at 64)
LAME_CBR_SCALE = 0.95          # LAME's CBR presets at <= 160 kbps turn the input down by this (-0.45 dB)
COMPRESS_THRESHOLD_LU = -1.0   # in master, the compressor threshold sits this far from the speech's loudness
CHIME_UNDER_SPEECH_LU = 3.0    # the chime sits this far under the speech
CHIME_GAP_S = 0.4
WAKE_LEVEL_DBFS = -60.0        # RMS of the "wake" lead-in
WAKE_FREQUENCY_HZ = 40.0       # below what a loudspeaker plays audibly at that level

_LOUDNESS_TOLERANCE_LU = 0.05
_TP_SAFETY_DB = 0.05           # the limiter aims this far under the ceiling
_TP_ACCEPT_DB = 0.02           # a result must be this far under it (room for dither)
_LIMIT_LOOKAHEAD_S = 0.002     # the limiter's gain glides down over twice this
_LIMIT_RELEASE_S = 0.06
_DETECTOR_S = 0.01             # compressor RMS detector time constant
_MAX_LIMITING_DB = 20.0        # more would only be a click or two made loud
_DITHER_SEED = 0x5EED          # fixed: the same input always gives the same clip


# --- conversions -------------------------------------------------------------


def to_array(seg: AudioSegment) -> np.ndarray:
    """The segment as float64 mono samples in [-1, 1] (channels averaged)."""
    x = np.asarray(seg.get_array_of_samples(), dtype=np.float64) / float(1 << (8 * seg.sample_width - 1))
    return x.reshape(-1, seg.channels).mean(axis=1) if seg.channels > 1 else x


def from_array(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    """Float samples in [-1, 1] → a 16-bit mono segment, TPDF-dithered and clipped safely.

    Exact zeros stay exact zeros, so digital silence stays silent.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"from_array wants mono samples, got shape {x.shape}")
    # The difference of successive uniform values: triangular dither in [-1, 1] LSB, high-passed.
    uniform = np.random.default_rng(_DITHER_SEED).random(x.size + 1)
    scaled = np.rint(x * 32768.0 + uniform[1:] - uniform[:-1])
    scaled[x == 0.0] = 0.0
    ints = np.clip(scaled, -32768, 32767).astype("<i2")
    return AudioSegment(data=ints.tobytes(), sample_width=2, frame_rate=int(sample_rate), channels=1)


def mono(seg: AudioSegment, sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """The segment as 16-bit mono at `sample_rate` (the segment itself if it already is)."""
    if seg.channels == 1 and seg.sample_width == 2 and seg.frame_rate == sample_rate:
        return seg
    x = to_array(seg)
    if seg.frame_rate != sample_rate and x.size:
        common = math.gcd(seg.frame_rate, sample_rate)
        x = resample_poly(x, sample_rate // common, seg.frame_rate // common)
    return from_array(x, sample_rate)


def silence(seconds: float, sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """Digital silence, 16-bit mono."""
    return from_array(np.zeros(_frames(seconds, sample_rate)), sample_rate)


def _frames(seconds: float, sample_rate: int) -> int:
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    return int(round(seconds * sample_rate))


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else float("-inf")


# --- effects -----------------------------------------------------------------


def trim_silence(
    seg: AudioSegment, threshold_dbfs: float = -45.0, keep_s: float = 0.05, below_peak_db: float = 40.0
) -> AudioSegment:
    """Cut leading and trailing silence, keeping `keep_s` of margin each side.

    Silence is quieter (sample peak) than `threshold_dbfs`, or than
    `below_peak_db` under the segment's own peak when that is lower, so a
    recording that is quiet all through keeps its sound. An all silent
    segment gives an empty one. The sample format is kept.
    """
    level = np.abs(to_array(seg))
    peak = float(level.max()) if level.size else 0.0
    threshold = min(threshold_dbfs, _db(peak) - below_peak_db)
    loud = np.flatnonzero(level > 10.0 ** (threshold / 20.0))
    if loud.size == 0:
        return seg.get_sample_slice(0, 0)
    keep = _frames(keep_s, seg.frame_rate)
    return seg.get_sample_slice(max(0, int(loud[0]) - keep), min(level.size, int(loud[-1]) + 1 + keep))


def high_pass(seg: AudioSegment, cutoff_hz: float = 120.0, order: int = 4) -> AudioSegment:
    """Remove hum and rumble: a zero-phase Butterworth high-pass.

    Run forwards and backwards, so the slope is twice that of one pass
    (order 4 → 48 dB/octave) and the cutoff is the -6 dB point.
    """
    rate = seg.frame_rate
    if not 0 < cutoff_hz < rate / 2:
        raise ValueError(f"high-pass cutoff must be between 0 and {rate / 2} Hz, got {cutoff_hz}")
    x = to_array(seg)
    if x.size >= 2:
        sos = butter(order, cutoff_hz, btype="highpass", fs=rate, output="sos")
        x = sosfiltfilt(sos, x, padlen=min(3 * (2 * len(sos) + 1), x.size - 1))
    return from_array(x, rate)


def compress(
    seg: AudioSegment,
    threshold_db: float = -24.0,
    ratio: float = 3.0,
    attack_s: float = 0.005,
    release_s: float = 0.1,
    knee_db: float = 6.0,
) -> AudioSegment:
    """Even out loud and soft syllables: a feed-forward soft-knee compressor.

    The detector is a 10 ms RMS level in dBFS; levels over `threshold_db` are
    reduced by `ratio`. No make-up gain: `normalize` sets the level after.
    """
    x = _compress(to_array(seg), seg.frame_rate, threshold_db, ratio, attack_s, release_s, knee_db)
    return from_array(x, seg.frame_rate)


def _compress(
    x: np.ndarray,
    sample_rate: int,
    threshold_db: float = -24.0,
    ratio: float = 3.0,
    attack_s: float = 0.005,
    release_s: float = 0.1,
    knee_db: float = 6.0,
) -> np.ndarray:
    if ratio < 1:
        raise ValueError(f"compressor ratio must be at least 1, got {ratio}")
    if x.size == 0:
        return x.copy()
    over = 10.0 * np.log10(one_pole(x * x, sample_rate, _DETECTOR_S) + 1e-12) - threshold_db
    slope = 1.0 / ratio - 1.0
    if knee_db > 0:
        in_knee = slope * (over + knee_db / 2) ** 2 / (2 * knee_db)
        gain_db = np.where(over <= -knee_db / 2, 0.0, np.where(over >= knee_db / 2, slope * over, in_knee))
    else:
        gain_db = slope * np.maximum(over, 0.0)
    # The fast curve wins while the reduction grows, the slow one while it lets go.
    gain_db = np.minimum(one_pole(gain_db, sample_rate, attack_s), one_pole(gain_db, sample_rate, release_s))
    # The whole recording is at hand: move the gain earlier by the detector's
    # and the attack's delay, so onsets are caught in time.
    ahead = min(x.size - 1, round((_DETECTOR_S + attack_s) * sample_rate))
    gain_db = np.concatenate([gain_db[ahead:], np.full(ahead, gain_db[-1])])
    return x * np.power(10.0, gain_db / 20.0)


def one_pole(x: np.ndarray, sample_rate: float, time_constant_s: float, start: float = 0.0) -> np.ndarray:
    """First-order low-pass smoothing with the given time constant."""
    if time_constant_s <= 0:
        return x.copy()
    a = math.exp(-1.0 / (time_constant_s * sample_rate))
    return lfilter([1.0 - a], [1.0, -a], x, zi=[a * start])[0]


def normalize(
    seg: AudioSegment, target_lufs: float = -16.0, ceiling_dbtp: float = -1.0, lead: AudioSegment | None = None
) -> AudioSegment:
    """Set the loudness to `target_lufs` (±0.05 LU) with the true peak at or under `ceiling_dbtp`.

    Peaks the gain would push over the ceiling go through a look-ahead
    limiter with a smooth gain curve (a 4 ms glide down, 60 ms release).
    `lead` is what will play just before (the lead-in): it is measured with
    the segment, since quiet blocks move the loudness gates of a short clip,
    but it is neither changed nor returned. For output that is then encoded
    as MP3, pass `master_ceiling(ceiling, "mp3")`. Raises AudioError for a
    silent segment.
    """
    rate = seg.frame_rate
    x = to_array(seg)
    before = np.zeros(0) if lead is None else to_array(mono(lead, rate))
    if not math.isfinite(_loudness(x, rate)):
        raise AudioError(
            "这段录音没有声音，无法调整音量。请检查语音引擎或声音文件后重新生成。",
            "This recording is silent, so its volume cannot be set. "
            "Check the speech engine or the sound file and build again.",
        )
    envelope = _peak_envelope(x)
    accept = 10.0 ** ((ceiling_dbtp - _TP_ACCEPT_DB) / 20.0)
    aim = 10.0 ** ((ceiling_dbtp - _TP_SAFETY_DB) / 20.0)
    for _ in range(4):
        y = _fit_loudness(x, rate, before, envelope, target_lufs, aim)
        if y is None:
            break
        peak = _true_peak(y)
        if peak <= accept:
            return from_array(y, rate)
        aim *= accept / peak * 0.999
    raise AudioError(
        f"这段录音太短或只有杂音，无法在峰值不超过 {ceiling_dbtp:.1f} dBTP 的情况下达到 {target_lufs:.1f} LUFS 的音量。"
        "请检查录音内容，或在 schedule.toml 中调低响度设置。",
        f"This recording is too short or only clicks, so it cannot reach {target_lufs:.1f} LUFS "
        f"with peaks at or under {ceiling_dbtp:.1f} dBTP. "
        "Check the recording, or lower the loudness in schedule.toml.",
    )


def _fit_loudness(
    x: np.ndarray, rate: int, before: np.ndarray, envelope: np.ndarray, target: float, aim: float
) -> np.ndarray | None:
    """x with gain and limiting so that `before` + x measures `target`, by secant steps;
    None if limiting would have to take more than `_MAX_LIMITING_DB` off."""
    gain_db = first_db = target - _loudness(np.concatenate([before, x]), rate)
    previous = None
    for _ in range(8):
        y = _limit(x, rate, 10.0 ** (gain_db / 20.0), envelope, aim)
        measured = _loudness(np.concatenate([before, y]), rate)
        if abs(target - measured) <= _LOUDNESS_TOLERANCE_LU:
            return y
        slope = 1.0  # loudness gained per dB of gain: 1 until limiting sets in
        if previous is not None and gain_db != previous[0]:
            slope = min(1.0, max(0.05, (measured - previous[1]) / (gain_db - previous[0])))
        previous = (gain_db, measured)
        gain_db += (target - measured) / slope
        if gain_db - first_db > _MAX_LIMITING_DB:
            return None
    return None


def _limit(x: np.ndarray, rate: int, gain: float, envelope: np.ndarray, ceiling: float) -> np.ndarray:
    """x * gain, turned down along a smooth curve wherever gain * envelope would pass `ceiling`."""
    over = envelope * gain > ceiling
    if not over.any():
        return x * gain
    need = np.ones(x.size)
    need[over] = ceiling / (envelope[over] * gain)
    # Hold each need over the look-ahead either side, then average over as
    # long: the curve glides, and never rises above what any sample needs.
    span = 2 * round(_LIMIT_LOOKAHEAD_S * rate) + 1
    glide = uniform_filter1d(minimum_filter1d(need, span, mode="nearest"), span, mode="nearest")
    curve = np.minimum(glide, one_pole(glide, rate, _LIMIT_RELEASE_S, start=1.0))
    return x * gain * curve


# --- measuring ---------------------------------------------------------------


def loudness_lufs(seg: AudioSegment) -> float:
    """BS.1770-4 integrated loudness in LUFS (pyloudnorm); float('-inf') for silence.

    A clip shorter than one 400 ms gating block is measured as one block.
    """
    return _loudness(to_array(seg), seg.frame_rate)


def _loudness(x: np.ndarray, rate: int) -> float:
    if not np.any(x):
        return float("-inf")
    block = min(0.4, np.nextafter(x.size / rate, 0.0))  # never longer than the clip
    return float(pyloudnorm.Meter(rate, block_size=block).integrated_loudness(x))


def true_peak_dbtp(seg: AudioSegment) -> float:
    """BS.1770-4 annex 2 true peak in dBTP: max |x| of the 4x oversampled signal."""
    return _db(_true_peak(to_array(seg)))


def measure(seg: AudioSegment) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP)."""
    return loudness_lufs(seg), true_peak_dbtp(seg)


def _peak_envelope(x: np.ndarray) -> np.ndarray:
    """Per sample, the largest 4x oversampled magnitude from it up to the next sample."""
    if x.size == 0:
        return x.copy()
    return np.abs(resample_poly(x, 4, 1)).reshape(-1, 4).max(axis=1)


def _true_peak(x: np.ndarray) -> float:
    """True peak as a linear amplitude."""
    return float(_peak_envelope(x).max()) if x.size else 0.0


# --- sounds ------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def chime(sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """A soft two-tone "ding-dong" (E5 then C5, bell-like), 1.2 s, peak -6 dBFS."""
    t = np.arange(_frames(1.2, sample_rate)) / sample_rate
    out = np.zeros_like(t)
    # (frequency ratio, level, decay time in s): harmonics dying away faster
    # the higher they are, and a slightly stretched fourth, as in a bell.
    partials = ((1.0, 1.0, 0.45), (2.0, 0.3, 0.22), (3.0, 0.1, 0.12), (4.2, 0.04, 0.07))
    attack_s = 0.01
    for pitch, start in ((659.25, 0.0), (523.25, 0.45)):
        tt = t[t >= start] - start
        tone = sum(level * np.sin(2 * np.pi * pitch * ratio * tt) * np.exp(-tt / decay)
                   for ratio, level, decay in partials)
        attack = np.where(tt < attack_s, 0.5 - 0.5 * np.cos(np.pi * np.minimum(tt, attack_s) / attack_s), 1.0)
        out[t >= start] += tone * attack
    fade = _frames(0.15, sample_rate)
    out[-fade:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
    return from_array(out * (0.5 / np.max(np.abs(out))), sample_rate)


def lead_in(seconds: float, kind: str = "wake", sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """What plays before the clip so a Bluetooth speaker is awake when speech starts.

    "wake": a 40 Hz tone at -60 dBFS RMS, a signal for the speaker's
    auto-wake that is too low and quiet for listeners to notice;
    "silence": digital silence.
    """
    if kind == "silence":
        return silence(seconds, sample_rate)
    if kind != "wake":
        raise ValueError(f'lead-in kind must be "wake" or "silence", got {kind!r}')
    n = _frames(seconds, sample_rate)
    t = np.arange(n) / sample_rate
    tone = math.sqrt(2) * 10.0 ** (WAKE_LEVEL_DBFS / 20.0) * np.sin(2 * np.pi * WAKE_FREQUENCY_HZ * t)
    fade = min(n // 4, _frames(0.05, sample_rate))
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
        tone[:fade] *= ramp
        tone[n - fade :] *= ramp[::-1]
    return from_array(tone, sample_rate)


def join(segments: Sequence[AudioSegment], gap_s: float = 0.0, sample_rate: int | None = None) -> AudioSegment:
    """Segments one after another with `gap_s` of silence between, as 16-bit mono.

    `sample_rate` defaults to the first segment's.
    """
    rate = sample_rate or (segments[0].frame_rate if segments else SAMPLE_RATE)
    gap = silence(gap_s, rate).raw_data
    return AudioSegment(
        data=gap.join(mono(s, rate).raw_data for s in segments), sample_width=2, frame_rate=rate, channels=1
    )


# --- the whole chain ---------------------------------------------------------


_compressor = compress  # master's `compress` flag hides the function


def master(
    speech: AudioSegment,
    *,
    highpass_hz: float,
    compress: bool,
    chime: AudioSegment | None,
    repeat: int,
    repeat_gap_s: float,
    lead_in_s: float,
    lead_in_kind: str,
    target_lufs: float,
    ceiling_dbtp: float,
    sample_rate: int = SAMPLE_RATE,
) -> AudioSegment:
    """Speech recording → finished broadcast clip (16-bit mono at `sample_rate`).

    In order: mono at `sample_rate` → trim silence → high-pass (`highpass_hz`
    0 is off) → compress (threshold 1 dB under the speech's loudness) →
    chime before the speech (trimmed, 0.4 s gap, 3 LU under it) → repeat with
    `repeat_gap_s` between → normalize to `target_lufs` / `ceiling_dbtp` with
    the lead-in in place, so the whole clip measures on target → lead-in first.

    `ceiling_dbtp` is what the returned samples meet. Encoding to MP3 adds a
    little to the peaks: pass `master_ceiling(ceiling, fmt)` so the file
    still meets `ceiling`.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    voice = trim_silence(mono(speech, sample_rate))
    if highpass_hz > 0:
        voice = high_pass(voice, highpass_hz)
    loudness = loudness_lufs(voice)
    if not math.isfinite(loudness):
        raise AudioError(
            "语音录音没有声音，可能是语音引擎出了问题。请检查语音设置后重新生成。",
            "The speech recording is silent; the speech engine may have failed. "
            "Check the speech settings and build again.",
        )
    if compress:
        voice = _compressor(voice, threshold_db=loudness + COMPRESS_THRESHOLD_LU)
    if chime is not None:
        bell = _matched_chime(chime, loudness_lufs(voice) - CHIME_UNDER_SPEECH_LU, sample_rate)
        voice = join([bell, voice], CHIME_GAP_S)
    body = join([voice] * repeat, repeat_gap_s)
    lead = lead_in(lead_in_s, lead_in_kind, sample_rate)
    return lead + normalize(body, target_lufs, ceiling_dbtp, lead=lead)


def _matched_chime(chime: AudioSegment, loudness: float, sample_rate: int) -> AudioSegment:
    """The chime without its silence, at `loudness`."""
    bell = trim_silence(mono(chime, sample_rate), keep_s=0.0)
    level = loudness_lufs(bell)
    if not math.isfinite(level):
        raise AudioError(
            "提示音文件没有声音。请换一个提示音文件，或在 schedule.toml 中把 chime 设为 \"two-tone\" 或 \"none\"。",
            "The chime sound is silent. Use another sound file, "
            'or set chime to "two-tone" or "none" in schedule.toml.',
        )
    return bell.apply_gain(loudness - level)


def master_ceiling(ceiling_dbtp: float, fmt: str) -> float:
    """The true-peak ceiling to master to, so that a file in `fmt` still meets `ceiling_dbtp`."""
    return ceiling_dbtp - MP3_HEADROOM_DB if fmt == "mp3" else ceiling_dbtp


# --- files -------------------------------------------------------------------


_NO_FFMPEG = (
    "没有找到 ffmpeg 程序，无法处理声音文件。请先安装：sudo apt-get install ffmpeg",
    "ffmpeg is not installed, so sound files cannot be processed. "
    "Install ffmpeg: sudo apt-get install ffmpeg",
)


def load_sound(path: str | Path, sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """Any sound file ffmpeg can read → 16-bit mono at `sample_rate`."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(
            f"找不到声音文件“{path}”。请检查文件名和所在文件夹是否正确。",
            f"The sound file {path} does not exist. Check the file name and folder.",
            where=str(path),
        )
    _need_ffmpeg()
    try:
        sound = AudioSegment.from_file(path.resolve())  # absolute: no name is taken for an ffmpeg protocol
    except CouldntDecodeError as failure:
        reason = _last_line(failure)
        raise AudioError(
            f"无法读取声音文件（ffmpeg：{reason}）。请确认它是完好的声音文件，或换成 WAV、MP3 格式再试。",
            f"Cannot read this sound file (ffmpeg: {reason}). "
            "Check that it is a working sound file, or convert it to WAV or MP3 and try again.",
            where=str(path),
        ) from None
    except OSError:
        raise AudioError(*_NO_FFMPEG) from None
    except (IndexError, KeyError):      # pydub, when ffprobe finds no audio stream in the file
        raise AudioError("这个文件里没有声音。请换一个声音文件（WAV 或 MP3）。",
                         "this file holds no sound; use a sound file (WAV or MP3) instead", where=str(path)) from None
    if sound.frame_count() < 1:
        raise AudioError(
            "这个声音文件里没有声音。请换一个文件。", "This sound file contains no audio. Use another file.", where=str(path)
        )
    return mono(sound, sample_rate)


def encode(seg: AudioSegment, fmt: str = "mp3", bitrate_kbps: int = 128, sample_rate: int = SAMPLE_RATE) -> bytes:
    """The bytes of a mono file: "mp3" (CBR, ffmpeg's LAME) or "wav" (16-bit PCM)."""
    _check_format(fmt)
    clip = mono(seg, sample_rate)
    if fmt == "wav":
        return clip.export(io.BytesIO(), format="wav").getvalue()
    _need_ffmpeg()
    # Undo LAME's preset scaling (in float, before LAME), so the file keeps the
    # loudness it was mastered to. Above 160 kbps LAME scales less (0.97 at 192,
    # 1 from 256); that small drop is left to the caller's measurement.
    undo = ["-af", f"volume={1.0 / LAME_CBR_SCALE!r}"] if bitrate_kbps <= 160 else []
    try:
        return clip.export(io.BytesIO(), format="mp3", bitrate=f"{bitrate_kbps}k", parameters=undo).getvalue()
    except CouldntEncodeError as failure:
        reason = _last_line(failure)
        raise AudioError(
            f"ffmpeg 无法生成 MP3（{reason}）。请确认安装了完整的 ffmpeg：sudo apt-get install ffmpeg",
            f"ffmpeg could not make the MP3 ({reason}). "
            "Install the full ffmpeg: sudo apt-get install ffmpeg",
        ) from None
    except OSError:
        raise AudioError(*_NO_FFMPEG) from None


def decode(data: bytes, fmt: str) -> AudioSegment:
    """File bytes → a segment at the file's own sample rate and channels."""
    _check_format(fmt)
    if fmt == "mp3":
        _need_ffmpeg()
    try:
        # Naming the decoder spares pydub probing the data with ffprobe first.
        return AudioSegment.from_file(io.BytesIO(data), format=fmt, codec="mp3" if fmt == "mp3" else None)
    except CouldntDecodeError as failure:
        reason = _last_line(failure)
        raise AudioError(
            f"无法解码 {fmt.upper()} 声音数据（ffmpeg：{reason}）。文件可能已损坏，请重新生成。",
            f"Cannot decode the {fmt.upper()} audio (ffmpeg: {reason}). "
            "The file may be damaged; build it again.",
        ) from None
    except OSError:
        raise AudioError(*_NO_FFMPEG) from None


def change_tempo(samples: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """16-bit mono speech made `factor` times faster (0.5 to 2), pitch kept (ffmpeg's atempo)."""
    import subprocess

    _need_ffmpeg()
    raw = ["-f", "s16le", "-ar", str(sample_rate), "-ac", "1"]
    command = ["ffmpeg", "-v", "error", "-nostdin", *raw, "-i", "pipe:0",
               "-filter:a", f"atempo={min(max(factor, 0.5), 2.0):.4f}", *raw, "pipe:1"]
    done = subprocess.run(command, input=np.ascontiguousarray(samples, dtype=np.int16).tobytes(),
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise AudioError(f"ffmpeg 无法调整语速（{reason[0]}）。请安装完整的 ffmpeg：sudo apt-get install ffmpeg",
                         f"ffmpeg could not change the pace ({reason[0]}). "
                         "Install the full ffmpeg: sudo apt-get install ffmpeg")
    return np.frombuffer(done.stdout, dtype=np.int16)


def _check_format(fmt: str) -> None:
    if fmt not in ("mp3", "wav"):
        raise AudioError(
            f"不支持的音频格式“{fmt}”。请在 schedule.toml 中把 format 设为 \"mp3\" 或 \"wav\"。",
            f'Unknown audio format "{fmt}". Set format to "mp3" or "wav" in schedule.toml.',
        )


def _need_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:
        raise AudioError(*_NO_FFMPEG)


def _last_line(failure: Exception) -> str:
    """ffmpeg's last message, which says what went wrong."""
    lines = [line for line in str(failure).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "failed"
