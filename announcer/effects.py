"""Speech → clean clip: the audio stage, as pure functions on pydub AudioSegments.

Every function takes segments and returns a new one; it never changes its
input. Results are 16-bit mono (`trim_silence` and `repeat` keep the input's
format). Numeric work happens on float64 arrays in [-1, 1] (`to_array` /
`from_array`). `master` is the whole chain a spoken notice goes through;
`encode` turns the result into the bytes of an MP3 or WAV file.

Loudness is ITU-R BS.1770-4 integrated loudness (the pyloudnorm meter) and
true peak is BS.1770-4 annex 2 (4x oversampled), so the clips match what a
broadcast loudness meter shows.
"""

from __future__ import annotations

import ctypes
import functools
import io
import math
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydub import AudioSegment

from announcer.errors import AudioError

SAMPLE_RATE = 44100
MP3_HEADROOM_DB = 0.5           # true-peak room for MP3 (measured rise: <= 0.05 dB at 128 kbps, 0.25 at 64)
COMPRESS_REFERENCE_LUFS = -23.0  # master() brings speech here before compress()
CHIME_UNDER_SPEECH_LU = 3.0      # the chime sits this far under the speech
CHIME_GAP_S = 0.4
WAKE_LEVEL_DBFS = -60.0          # RMS of the "wake" lead-in
WAKE_FREQUENCY_HZ = 40.0         # below what a loudspeaker plays audibly at that level

_GATE_BLOCK_S = 0.4              # BS.1770 gating block and overlap
_GATE_OVERLAP = 0.75
_ABSOLUTE_GATE_LUFS = -70.0
_LOUDNESS_TOLERANCE_LU = 0.05
_TP_OVERSAMPLE = 4
_TP_TAPS = 81                    # the filter scipy's resample_poly designs for 4x
_TP_BLOCK = 32                   # samples a true-peak work block holds
_TP_CONTEXT = 12                 # samples each side the interpolation filter reaches (>= 10)
_TP_SAFETY_DB = 0.05             # the limiter aims this far under the ceiling
_TP_ACCEPT_DB = 0.02             # a result must be this far under it (room for dither)
_LIMIT_BLOCK_S = 0.00075         # the limiter's gain curve is set per block of this length
_LIMIT_LOOKAHEAD_S = 0.002
_LIMIT_RELEASE_S = 0.06
_DETECTOR_S = 0.01               # compressor RMS detector time constant
_MAX_LOUDNESS_PASSES = 8
_MAX_LIMITING_DB = 20.0          # more would only be a click or two made loud
_FIRST_LIMITING_SLOPE = 0.7      # typical loudness gained per dB of gain into the limiter
_DITHER_SEED = 0x5EED            # fixed: the same input always gives the same clip


# --- conversions -------------------------------------------------------------


def to_array(seg: AudioSegment) -> np.ndarray:
    """The segment as float64 mono samples in [-1, 1] (channels averaged)."""
    width = seg.sample_width
    raw = seg.raw_data
    if width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
    else:
        ints = np.frombuffer(raw, {1: np.int8, 2: "<i2", 4: "<i4"}[width])
    x = ints.astype(np.float64) / float(1 << (8 * width - 1))
    if seg.channels > 1:
        x = x.reshape(-1, seg.channels).mean(axis=1)
    return x


def from_array(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    """Float samples in [-1, 1] → a 16-bit mono segment, TPDF-dithered and clipped safely.

    Exact zeros stay exact zeros, so digital silence stays silent.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"from_array wants mono samples, got shape {x.shape}")
    return _segment(_to_int16(x), sample_rate)


def _to_int16(x: np.ndarray) -> np.ndarray:
    # High-passed TPDF dither: the difference of successive uniform values is
    # triangular in [-1, 1] LSB and pushes the noise to high frequencies.
    uniform = np.random.default_rng(_DITHER_SEED).random(x.size + 1)
    scaled = x * 32768.0
    scaled += uniform[1:]
    scaled -= uniform[:-1]
    scaled[x == 0.0] = 0.0
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768, 32767, out=scaled)
    return scaled.astype(np.int16)


def _segment(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    return AudioSegment(
        data=samples.astype("<i2").tobytes(), sample_width=2, frame_rate=int(sample_rate), channels=1
    )


def mono(seg: AudioSegment, sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """The segment as 16-bit mono at `sample_rate` (unchanged data if it already is)."""
    if seg.channels == 1 and seg.sample_width == 2 and seg.frame_rate == sample_rate:
        return seg._spawn(seg.raw_data)
    return from_array(_resample(to_array(seg), seg.frame_rate, sample_rate), sample_rate)


def _resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    if rate_in == rate_out or x.size == 0:
        return x
    from scipy.signal import resample_poly

    common = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(x, int(rate_out) // common, int(rate_in) // common)


# --- building blocks ---------------------------------------------------------


def silence(seconds: float, sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """Digital silence, 16-bit mono."""
    return _segment(np.zeros(_frames(seconds, sample_rate), np.int16), sample_rate)


def _frames(seconds: float, sample_rate: int) -> int:
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    return int(round(seconds * sample_rate))


def trim_silence(seg: AudioSegment, threshold_dbfs: float = -45.0, keep_s: float = 0.05) -> AudioSegment:
    """Cut leading and trailing silence, keeping `keep_s` of margin each side.

    Silence is everything quieter than `threshold_dbfs` (sample peak). An all
    silent segment gives an empty one. The sample format is kept.
    """
    start, end = _audible_span(to_array(seg), seg.frame_rate, threshold_dbfs, keep_s)
    return seg.get_sample_slice(start, end)


def _audible_span(x: np.ndarray, sample_rate: int, threshold_dbfs: float, keep_s: float) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(x) > 10.0 ** (threshold_dbfs / 20.0))
    if loud.size == 0:
        return 0, 0
    keep = _frames(keep_s, sample_rate)
    return max(0, int(loud[0]) - keep), min(x.size, int(loud[-1]) + 1 + keep)


def high_pass(seg: AudioSegment, cutoff_hz: float = 120.0, order: int = 4) -> AudioSegment:
    """Remove hum and rumble: a zero-phase Butterworth high-pass.

    Run forwards and backwards, so the slope is twice that of one pass
    (order 4 → 48 dB/octave) and the cutoff is the -6 dB point.
    """
    return from_array(_high_pass(to_array(seg), seg.frame_rate, cutoff_hz, order), seg.frame_rate)


def _high_pass(x: np.ndarray, sample_rate: int, cutoff_hz: float, order: int) -> np.ndarray:
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"high-pass cutoff must be between 0 and {sample_rate / 2} Hz, got {cutoff_hz}")
    if x.size < 2:
        return x.copy()
    from scipy.signal import butter, sosfiltfilt

    sos = butter(order, cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, x, padlen=min(3 * (2 * len(sos) + 1), x.size - 1))


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
    settings = dict(threshold_db=threshold_db, ratio=ratio, attack_s=attack_s, release_s=release_s,
                    knee_db=knee_db)
    x = _compress(to_array(seg), seg.frame_rate, **settings)
    return from_array(x, seg.frame_rate)


def _compress(x: np.ndarray, sample_rate: int, **settings: float) -> np.ndarray:
    return x * _compressor_gains(x, sample_rate, **settings)


def _compressor_gains(
    x: np.ndarray,
    sample_rate: int,
    threshold_db: float = -24.0,
    ratio: float = 3.0,
    attack_s: float = 0.005,
    release_s: float = 0.1,
    knee_db: float = 6.0,
) -> np.ndarray:
    """The compressor's gain for every sample of x."""
    if ratio < 1:
        raise ValueError(f"compressor ratio must be at least 1, got {ratio}")
    if x.size == 0:
        return np.ones(0)
    # The level and gain change slowly: work them out at 1/8 of the rate,
    # then interpolate the gain back linearly.
    step = max(1, int(sample_rate // 5000))
    level = _one_pole(x * x, sample_rate, _DETECTOR_S)[::step]
    over = 10.0 * np.log10(level + 1e-12) - threshold_db
    slope = 1.0 / ratio - 1.0
    if knee_db > 0:
        in_knee = slope * (over + knee_db / 2) ** 2 / (2 * knee_db)
        gain_db = np.where(over <= -knee_db / 2, 0.0, np.where(over >= knee_db / 2, slope * over, in_knee))
    else:
        gain_db = slope * np.maximum(over, 0.0)
    # Attack and release without a per-sample branch: the fast curve wins
    # while the reduction grows, the slow one while it lets go.
    rate = sample_rate / step
    smoothed = np.minimum(_one_pole(gain_db, rate, attack_s), _one_pole(gain_db, rate, release_s))
    # The whole recording is at hand, so look ahead: move the gain earlier by
    # the detector's and the attack's delay, and onsets are caught in time.
    ahead = min(smoothed.size - 1, round((_DETECTOR_S + attack_s) * rate))
    smoothed = np.concatenate([smoothed[ahead:], np.full(ahead, smoothed[-1])])
    return _interpolate(np.power(10.0, smoothed / 20.0), step, x.size)


def _interpolate(values: np.ndarray, step: int, size: int) -> np.ndarray:
    """`values` placed every `step` samples, linearly interpolated to `size` samples."""
    out = np.multiply.outer(np.append(values[1:], values[-1]) - values, np.arange(step) / step)
    out += values[:, None]
    return out.ravel()[:size]


def _one_pole(x: np.ndarray, sample_rate: float, time_constant_s: float, start: float = 0.0) -> np.ndarray:
    """First-order low-pass smoothing with the given time constant."""
    from scipy.signal import lfilter

    if time_constant_s <= 0:
        return x.copy()
    a = math.exp(-1.0 / (time_constant_s * sample_rate))
    y, _ = lfilter([1.0 - a], [1.0, -a], x, zi=[a * start])
    return y


# --- measuring ---------------------------------------------------------------


def loudness_lufs(seg: AudioSegment) -> float:
    """BS.1770-4 integrated loudness in LUFS; float('-inf') for silence.

    The same meter as pyloudnorm (its K-weighting filters and gating), computed
    without per-block Python loops. A clip shorter than one 400 ms gating block
    is measured as one block.
    """
    return _loudness(to_array(seg), seg.frame_rate)


@functools.lru_cache(maxsize=8)
def _k_weighting(sample_rate: int) -> np.ndarray:
    from pyloudnorm.iirfilter import IIRfilter

    stages = (
        IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, sample_rate, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
    )
    rows = []
    for stage in stages:
        b, a = (np.asarray(c, dtype=np.float64) for c in stage.generate_coefficients())
        rows.append(np.concatenate([stage.passband_gain * b / a[0], a / a[0]]))
    return np.array(rows)


def _loudness(x: np.ndarray, sample_rate: int) -> float:
    return _gated_loudness(_k_energy(x, sample_rate), sample_rate)


def _k_energy(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """The K-weighted signal, squared: what BS.1770 loudness averages."""
    from scipy.signal import sosfilt

    if x.size == 0:
        return np.zeros(0)
    weighted = sosfilt(_k_weighting(int(sample_rate)), x)
    return np.square(weighted, out=weighted)


def _gated_loudness(energy: np.ndarray, sample_rate: int) -> float:
    """BS.1770 gating over K-weighted energy, with pyloudnorm's block bounds."""
    if not np.any(energy):
        return float("-inf")
    block = _GATE_BLOCK_S * sample_rate
    if energy.size < block:
        z = np.array([energy.mean()])
    else:
        step = 1.0 - _GATE_OVERLAP
        duration = energy.size / sample_rate
        count = int(np.round((duration - _GATE_BLOCK_S) / (_GATE_BLOCK_S * step))) + 1
        j = np.arange(count)
        lower = (_GATE_BLOCK_S * (j * step) * sample_rate).astype(np.int64)
        upper = np.minimum((_GATE_BLOCK_S * (j * step + 1) * sample_rate).astype(np.int64), energy.size)
        # Sum the stretches between all block edges once, then add those up per block.
        edges = np.union1d(lower, upper)
        inner = edges[edges < energy.size]
        sums = np.concatenate(([0.0], np.cumsum(np.add.reduceat(energy, inner))))
        position = np.searchsorted(inner, edges)
        by_edge = dict(zip(edges.tolist(), sums[position].tolist()))
        z = np.maximum([by_edge[u] - by_edge[l] for l, u in zip(lower.tolist(), upper.tolist())], 0.0) / block
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(z)
    above = block_lufs >= _ABSOLUTE_GATE_LUFS
    if not above.any():
        return float("-inf")
    relative_gate = -0.691 + 10.0 * math.log10(z[above].mean()) - 10.0
    gated = (block_lufs > relative_gate) & above
    return float(-0.691 + 10.0 * math.log10(z[gated].mean()))


def true_peak_dbtp(seg: AudioSegment) -> float:
    """BS.1770-4 annex 2 true peak in dBTP: max |x| of the 4x oversampled signal."""
    return _db(_true_peak(to_array(seg)))


def measure(seg: AudioSegment) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP)."""
    x = to_array(seg)
    return _loudness(x, seg.frame_rate), _db(_true_peak(x))


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else float("-inf")


@functools.lru_cache(maxsize=1)
def _tp_filter() -> tuple[np.ndarray, float]:
    """The 4x interpolation filter (scipy's resample_poly design) and a bound on its gain.

    No interpolated value exceeds `bound` times the largest sample within
    `_TP_CONTEXT` samples of it, so blocks far under a level can be skipped.
    """
    from scipy.signal import firwin

    taps = firwin(_TP_TAPS, 1.0 / _TP_OVERSAMPLE, window=("kaiser", 5.0))
    phases = _TP_OVERSAMPLE * taps
    bound = max(float(np.abs(phases[p::_TP_OVERSAMPLE]).sum()) for p in range(_TP_OVERSAMPLE))
    return taps, bound


def _tp_blocks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x cut into true-peak blocks: a zero-padded copy, and per block the sample
    peak over it and its two neighbours (all the interpolation filter reaches)."""
    size, context = _TP_BLOCK, _TP_CONTEXT
    count = -(-x.size // size)
    padded = np.zeros(count * size + 2 * context)
    padded[context : context + x.size] = x
    peak = np.abs(padded[context : context + count * size]).reshape(count, size).max(axis=1)
    return padded, _with_neighbours(peak, np.maximum)


def _with_neighbours(values: np.ndarray, pick: np.ufunc) -> np.ndarray:
    out = values.copy()
    pick(out[1:], values[:-1], out=out[1:])
    pick(out[:-1], values[1:], out=out[:-1])
    return out


def _tp_exact(padded: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """For each listed block, per sample: the largest 4x-oversampled magnitude
    from it up to the next sample, exactly as resample_poly gives for the whole signal."""
    from scipy.signal import resample_poly

    size, context, up = _TP_BLOCK, _TP_CONTEXT, _TP_OVERSAMPLE
    # Runs of neighbouring blocks go end to end, each with its context, into
    # one call; the filter reaches less than the context, so runs stay apart.
    breaks = np.flatnonzero(np.diff(todo) != 1) + 1
    starts = todo[np.concatenate(([0], breaks))]
    ends = todo[np.concatenate((breaks - 1, [todo.size - 1]))] + 1
    pieces = [padded[a * size : b * size + 2 * context] for a, b in zip(starts.tolist(), ends.tolist())]
    fine = np.abs(resample_poly(np.concatenate(pieces), up, 1, window=_tp_filter()[0]))
    offsets = np.cumsum([0] + [len(piece) for piece in pieces[:-1]])
    cores = [fine[up * (o + context) : up * (o + len(p) - context)] for o, p in zip(offsets.tolist(), pieces)]
    fine = np.concatenate(cores).reshape(todo.size, size * up)
    return np.maximum(np.maximum(fine[:, 0::4], fine[:, 1::4]), np.maximum(fine[:, 2::4], fine[:, 3::4]))


def _tp_envelope(x: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(envelope, block bound, block neighbourhood peak) of x.

    envelope: per sample, the 4x-oversampled magnitude up to the next sample,
    exact wherever it could exceed `floor` and |x| elsewhere. block bound: per
    `_TP_BLOCK` samples, an upper bound of the true peak (exact where computed).
    """
    padded, near = _tp_blocks(x)
    size, context, count = _TP_BLOCK, _TP_CONTEXT, near.size
    envelope = np.abs(padded[context : context + count * size])
    blocks = envelope.reshape(count, size)
    bound = near * _tp_filter()[1]
    todo = np.flatnonzero(bound > floor)
    if todo.size:
        blocks[todo] = np.maximum(blocks[todo], _tp_exact(padded, todo))
        bound[todo] = blocks[todo].max(axis=1)
    return envelope[: x.size], bound, near


def _true_peak(x: np.ndarray) -> float:
    """BS.1770-4 true peak as a linear amplitude."""
    if x.size == 0:
        return 0.0
    return float(_tp_envelope(x, float(np.max(np.abs(x))))[0].max())


def _gained_true_peak(
    y: np.ndarray, gains: np.ndarray | float, x_bound: np.ndarray, x_near: np.ndarray, floor: float
) -> float:
    """An upper bound of the true peak of y = x * gains, exact wherever it exceeds `floor`.

    Near a sample n, y is gains[n] * x plus x times the gain's change over the
    filter's reach, so the bound is the block's largest gain times x's bound,
    plus the filter's gain bound times x's peak times that change. Only where
    the gain moves fast is y oversampled again.
    """
    size, count = _TP_BLOCK, x_bound.size
    if np.isscalar(gains):
        bound = float(gains) * x_bound
    else:
        padded = np.full(count * size, gains[-1])
        padded[: gains.size] = gains
        largest = padded.reshape(count, size).max(axis=1)
        steepest = np.abs(np.diff(padded, append=padded[-1])).reshape(count, size).max(axis=1)
        change = _TP_CONTEXT * _with_neighbours(steepest, np.maximum)
        bound = largest * x_bound + _tp_filter()[1] * x_near * change
    todo = np.flatnonzero(bound > floor)
    if todo.size:
        bound[todo] = _tp_exact(_tp_blocks(y)[0], todo).max(axis=1)
    return float(bound.max())


# --- loudness normalisation and limiting -------------------------------------


def normalize(seg: AudioSegment, target_lufs: float = -16.0, ceiling_dbtp: float = -1.0) -> AudioSegment:
    """Set the loudness to `target_lufs` (±0.05 LU) with the true peak at or under `ceiling_dbtp`.

    Peaks the gain would push over the ceiling go through a look-ahead
    limiter with a smooth gain curve (a 5 ms glide down, 60 ms release). For
    output that is then encoded as MP3, pass `master_ceiling(ceiling, "mp3")`.
    Raises AudioError for a silent segment.
    """
    y = _normalize(to_array(seg), seg.frame_rate, target_lufs, ceiling_dbtp)
    return from_array(y, seg.frame_rate)


def _normalize(
    x: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    ceiling_dbtp: float,
    lead: np.ndarray | None = None,
    energy: np.ndarray | None = None,
) -> np.ndarray:
    """x with gain and limiting so that `lead` + x measures `target_lufs`.

    `lead` (played first, left as it is) is measured with x, because quiet
    blocks before the speech move the loudness gates of a short clip.
    `energy`, if given, estimates the K-weighted energy of lead + x; the
    result is then measured exactly before it is accepted.
    """
    lead = np.zeros(0) if lead is None else lead
    exact = energy is None
    if exact:
        energy = _k_energy(np.concatenate([lead, x]), sample_rate)
    if not math.isfinite(_gated_loudness(energy[lead.size :], sample_rate)):
        raise AudioError(
            "这段录音没有声音，无法调整音量。请检查语音引擎或声音文件后重新生成。",
            "This recording is silent, so its volume cannot be set. "
            "Check the speech engine or the sound file and build again.",
        )
    accept = 10.0 ** ((ceiling_dbtp - _TP_ACCEPT_DB) / 20.0)
    ceiling = 10.0 ** ((ceiling_dbtp - _TP_SAFETY_DB) / 20.0)
    for _ in range(4):
        fitted = _fit_loudness(x, sample_rate, lead, energy, exact, target_lufs, ceiling)
        if fitted is None:
            break
        y, gains, x_bound, x_near = fitted
        peak = _gained_true_peak(y, gains, x_bound, x_near, accept)
        if peak <= accept:
            return y
        ceiling *= accept / peak * 0.999
    raise AudioError(
        f"这段录音太短或只有杂音，无法在峰值不超过 {ceiling_dbtp:.1f} dBTP 的情况下达到 {target_lufs:.1f} LUFS 的音量。"
        "请检查录音内容，或在 schedule.toml 中调低响度设置。",
        f"This recording is too short or only clicks, so it cannot reach {target_lufs:.1f} LUFS "
        f"with peaks at or under {ceiling_dbtp:.1f} dBTP. "
        "Check the recording, or lower the loudness in schedule.toml.",
    )


def _fit_loudness(
    x: np.ndarray,
    sample_rate: int,
    lead: np.ndarray,
    energy: np.ndarray,
    exact: bool,
    target: float,
    ceiling: float,
) -> tuple[np.ndarray, np.ndarray | float, np.ndarray, np.ndarray] | None:
    """Gain plus limiting, repeated (secant steps) until lead + result is on target.

    `energy` is the K-weighted energy of lead + x (`exact`, or an estimate).
    The limiter's gain changes slowly, so scaling x's part by gains²
    estimates the result's; a result that looks on target is measured in
    full unless it is a plain gain of exact energy. Returns the result, the
    gains applied, and x's true-peak block bounds; None if limiting would
    have to take more than `_MAX_LIMITING_DB` off the loudness.
    """
    lead_energy, x_energy = energy[: lead.size], energy[lead.size :]
    gain_db = first_gain_db = target - _gated_loudness(energy, sample_rate)
    valid_up_to = 0.0
    previous = None
    for _ in range(_MAX_LOUDNESS_PASSES):
        gain = 10.0 ** (gain_db / 20.0)
        if gain > valid_up_to:
            # Exact wherever a peak could reach the ceiling at up to 1 dB more gain.
            valid_up_to = 1.12 * gain
            envelope, x_bound, x_near = _tp_envelope(x, ceiling / valid_up_to)
        y, gains = _limit(x, sample_rate, gain, envelope, ceiling)
        measured = _gated_loudness(np.concatenate([lead_energy, x_energy * np.square(gains)]), sample_rate)
        if abs(target - measured) <= _LOUDNESS_TOLERANCE_LU:
            if exact and np.isscalar(gains):  # the estimate is the measurement
                return y, gains, x_bound, x_near
            measured = _loudness(np.concatenate([lead, y]), sample_rate)
            if abs(target - measured) <= _LOUDNESS_TOLERANCE_LU:
                return y, gains, x_bound, x_near
        slope = _FIRST_LIMITING_SLOPE
        if previous is not None and gain_db != previous[0]:
            slope = min(1.0, max(0.05, (measured - previous[1]) / (gain_db - previous[0])))
        previous = (gain_db, measured)
        gain_db += (target - measured) / slope
        if gain_db - first_gain_db > _MAX_LIMITING_DB:
            return None
    return None


def _limit(
    x: np.ndarray, sample_rate: int, gain: float, envelope: np.ndarray, ceiling: float
) -> tuple[np.ndarray, np.ndarray | float]:
    """(x * gains, gains): `gain`, lowered along a smooth curve wherever
    gain * envelope would pass `ceiling`."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    over = envelope * gain > ceiling
    if not over.any():
        return x * gain, gain
    n = x.size
    # The curve is set per short block, at the block's first sample, then
    # interpolated, so each sample mixes its own block's value and the next's.
    # A block's value is a mean of minima over windows that all contain both
    # blocks, so the curve never rises above what any sample needs.
    size = max(1, round(_LIMIT_BLOCK_S * sample_rate))
    count = -(-n // size)
    needed = np.ones(count * size)
    needed[: n][over] = ceiling / (envelope[over] * gain)
    block_need = needed.reshape(count, size).min(axis=1)
    reach = max(1, math.ceil(_LIMIT_LOOKAHEAD_S * sample_rate / size))
    held = minimum_filter1d(block_need, 2 * reach + 3, mode="nearest")
    ramped = np.minimum(uniform_filter1d(held, 2 * reach + 1, mode="nearest"), 1.0)
    released = np.minimum(ramped, _one_pole(ramped, sample_rate / size, _LIMIT_RELEASE_S, start=1.0))
    gains = _interpolate(released * gain, size, n)
    return x * gains, gains


# --- sounds ------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def chime(sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """A soft two-tone "ding-dong" (E5 then C5, bell-like), 1.2 s, peak -6 dBFS."""
    return from_array(_chime(sample_rate), sample_rate)


def _chime(sample_rate: int) -> np.ndarray:
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
    return out * (0.5 / np.max(np.abs(out)))


def lead_in(seconds: float, kind: str = "wake", sample_rate: int = SAMPLE_RATE) -> AudioSegment:
    """What plays before the clip so a Bluetooth speaker is awake when speech starts.

    "wake": a 40 Hz tone at -60 dBFS RMS, a signal for the speaker's
    auto-wake that is too low and quiet for listeners to notice;
    "silence": digital silence.
    """
    return from_array(_lead_in(seconds, kind, sample_rate), sample_rate)


def _lead_in(seconds: float, kind: str, sample_rate: int) -> np.ndarray:
    n = _frames(seconds, sample_rate)
    if kind == "silence":
        return np.zeros(n)
    if kind != "wake":
        raise ValueError(f'lead-in kind must be "wake" or "silence", got {kind!r}')
    t = np.arange(n) / sample_rate
    tone = math.sqrt(2) * 10.0 ** (WAKE_LEVEL_DBFS / 20.0) * np.sin(2 * np.pi * WAKE_FREQUENCY_HZ * t)
    fade = min(n // 4, _frames(0.05, sample_rate))
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
        tone[:fade] *= ramp
        tone[n - fade :] *= ramp[::-1]
    return tone


def repeat(seg: AudioSegment, times: int, gap_s: float) -> AudioSegment:
    """The segment `times` times with `gap_s` of silence between (format kept)."""
    if times < 1:
        raise ValueError(f"repeat times must be at least 1, got {times}")
    gap = b"\0" * (_frames(gap_s, seg.frame_rate) * seg.frame_width)
    return seg._spawn(gap.join([seg.raw_data] * times))


def join(
    segments: Sequence[AudioSegment], gap_s: float = 0.0, sample_rate: int | None = None
) -> AudioSegment:
    """Segments one after another with `gap_s` of silence between, as 16-bit mono.

    `sample_rate` defaults to the first segment's.
    """
    if not segments:
        return silence(0.0, sample_rate or SAMPLE_RATE)
    rate = sample_rate or segments[0].frame_rate
    gap = b"\0" * (_frames(gap_s, rate) * 2)
    return _spawn_mono(gap.join(mono(s, rate).raw_data for s in segments), rate)


def _spawn_mono(data: bytes, sample_rate: int) -> AudioSegment:
    return AudioSegment(data=data, sample_width=2, frame_rate=sample_rate, channels=1)


# --- the whole chain ---------------------------------------------------------


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

    In order: resample to mono → trim silence → high-pass (`highpass_hz` 0 is
    off) → compress → chime before the speech (0.4 s gap, 3 LU under it) →
    repeat → normalize to `target_lufs` / `ceiling_dbtp` → lead-in first. The
    loudness is set with the lead-in in place, so the whole clip measures on
    target.

    `ceiling_dbtp` is what the returned samples meet. Encoding to MP3 adds a
    little to the peaks: pass `master_ceiling(ceiling, fmt)` so the file
    still meets `ceiling`.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    x = _trimmed(_resample(to_array(speech), speech.frame_rate, sample_rate), sample_rate, 0.05)
    if highpass_hz > 0:
        x = _high_pass(x, sample_rate, highpass_hz, 4)
    # K-weighted energy travels with the audio: a slowly changing gain scales
    # it the same way, so the loudness of every later step is known without
    # filtering again. normalize() measures the finished clip exactly.
    energy = _k_energy(x, sample_rate)
    loudness = _gated_loudness(energy, sample_rate)
    if not math.isfinite(loudness):
        raise AudioError(
            "语音录音没有声音，可能是语音引擎出了问题。请检查语音设置后重新生成。",
            "The speech recording is silent; the speech engine may have failed. "
            "Check the speech settings and build again.",
        )
    if compress:
        level = 10.0 ** ((COMPRESS_REFERENCE_LUFS - loudness) / 20.0)
        gains = level * _compressor_gains(x * level, sample_rate)
        x, energy = x * gains, energy * np.square(gains)
        loudness = _gated_loudness(energy, sample_rate)
    unit, unit_energy = [x], [energy]
    if chime is not None:
        sound, sound_energy = _matched_chime(chime, loudness - CHIME_UNDER_SPEECH_LU, sample_rate)
        pause = np.zeros(_frames(CHIME_GAP_S, sample_rate))
        unit, unit_energy = [sound, pause, x], [sound_energy, pause, energy]
    gap = np.zeros(_frames(repeat_gap_s, sample_rate))
    pieces, piece_energies = list(unit), list(unit_energy)
    for _ in range(repeat - 1):
        pieces += [gap, *unit]
        piece_energies += [gap, *unit_energy]
    lead = _lead_in(lead_in_s, lead_in_kind, sample_rate)
    piece_energies.insert(0, _k_energy(lead, sample_rate))
    whole = _normalize(
        np.concatenate(pieces), sample_rate, target_lufs, ceiling_dbtp, lead, np.concatenate(piece_energies)
    )
    return from_array(np.concatenate([lead, whole]), sample_rate)


def _matched_chime(chime: AudioSegment, loudness: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The chime at `loudness`, with its K-weighted energy."""
    sound = _trimmed(_resample(to_array(chime), chime.frame_rate, sample_rate), sample_rate, 0.0)
    energy = _k_energy(sound, sample_rate)
    chime_loudness = _gated_loudness(energy, sample_rate)
    if not math.isfinite(chime_loudness):
        raise AudioError(
            "提示音文件没有声音。请换一个提示音文件，或在 schedule.toml 中把 chime 设为 \"two-tone\" 或 \"none\"。",
            "The chime sound is silent. Use another sound file, "
            'or set chime to "two-tone" or "none" in schedule.toml.',
        )
    gain = 10.0 ** ((loudness - chime_loudness) / 20.0)
    return sound * gain, energy * gain**2


def _trimmed(x: np.ndarray, sample_rate: int, keep_s: float) -> np.ndarray:
    """x without its leading and trailing silence: under -45 dBFS, or 40 dB
    under the peak for a recording that is quiet all through."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    threshold = min(-45.0, _db(peak) - 40.0)
    start, end = _audible_span(x, sample_rate, threshold, keep_s)
    return x[start:end]


def master_ceiling(ceiling_dbtp: float, fmt: str) -> float:
    """The true-peak ceiling to master to, so that a file in `fmt` still meets `ceiling_dbtp`."""
    return ceiling_dbtp - MP3_HEADROOM_DB if fmt == "mp3" else ceiling_dbtp


# --- files and encoding -------------------------------------------------------


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
    try:
        # "file:" so that no name is taken for an ffmpeg protocol or option.
        pcm = _ffmpeg(["-i", f"file:{path.resolve()}", "-vn", "-ac", "1", "-ar", str(sample_rate),
                       "-f", "s16le", "pipe:1"])
    except _FfmpegFailed as failure:
        raise AudioError(
            f"无法读取声音文件（ffmpeg：{failure}）。请确认它是完好的声音文件，或换成 WAV、MP3 格式再试。",
            f"Cannot read this sound file (ffmpeg: {failure}). "
            "Check that it is a working sound file, or convert it to WAV or MP3 and try again.",
            where=str(path),
        ) from None
    if len(pcm) < 2:
        raise AudioError(
            "这个声音文件里没有声音。请换一个文件。",
            "This sound file contains no audio. Use another file.",
            where=str(path),
        )
    return _spawn_mono(pcm[: len(pcm) // 2 * 2], sample_rate)


def encode(
    seg: AudioSegment, fmt: str = "mp3", bitrate_kbps: int = 128, sample_rate: int = SAMPLE_RATE
) -> bytes:
    """The bytes of a mono file: "mp3" (CBR, LAME) or "wav" (16-bit PCM)."""
    pcm = mono(seg, sample_rate).raw_data
    if fmt == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(sample_rate)
            out.writeframes(pcm)
        return buffer.getvalue()
    if fmt == "mp3":
        library = _lame_library()
        if library is not None:
            return _lame_encode(library, pcm, sample_rate, bitrate_kbps)
        return _ffmpeg_mp3(pcm, sample_rate, bitrate_kbps)
    raise _unknown_format(fmt)


def decode(data: bytes, fmt: str) -> AudioSegment:
    """File bytes → a segment at the file's own sample rate and channels."""
    if fmt not in ("mp3", "wav"):
        raise _unknown_format(fmt)
    if fmt == "wav":
        try:
            return AudioSegment(data=bytes(data))
        except Exception:
            pass  # not plain PCM; ffmpeg reads the rest
    if fmt == "mp3" and (library := _mpg123_library()) is not None:
        decoded = _mpg123_decode(library, bytes(data))
        if decoded is not None:
            return decoded  # otherwise ffmpeg tries, and explains what is wrong
    try:
        arguments = ["-f", fmt, "-i", "pipe:0", "-c:a", "pcm_s16le", "-f", "wav", "pipe:1"]
        wav = bytearray(_ffmpeg(arguments, data))
    except _FfmpegFailed as failure:
        raise AudioError(
            f"无法解码 {fmt.upper()} 声音数据（ffmpeg：{failure}）。文件可能已损坏，请重新生成。",
            f"Cannot decode the {fmt.upper()} audio (ffmpeg: {failure}). "
            "The file may be damaged; build it again.",
        ) from None
    from pydub.audio_segment import fix_wav_headers

    fix_wav_headers(wav)  # sizes ffmpeg could not fill in on a pipe
    return AudioSegment(data=bytes(wav))


def _unknown_format(fmt: str) -> AudioError:
    return AudioError(
        f"不支持的音频格式“{fmt}”。请在 schedule.toml 中把 format 设为 \"mp3\" 或 \"wav\"。",
        f'Unknown audio format "{fmt}". Set format to "mp3" or "wav" in schedule.toml.',
    )


class _FfmpegFailed(Exception):
    """ffmpeg ran and failed; the message is its last error line."""


def _ffmpeg(arguments: list[str], stdin: bytes | None = None) -> bytes:
    """Run ffmpeg with an argument list (never a shell) and return its output."""
    program = shutil.which("ffmpeg")
    if program is None:
        raise AudioError(*_NO_FFMPEG)
    # Without input of its own, ffmpeg must not read the terminal.
    quiet = ["-hide_banner", "-loglevel", "error"] + (["-nostdin"] if stdin is None else [])
    try:
        done = subprocess.run(
            [program, *quiet, *arguments],
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            timeout=300,
        )
    except OSError:
        raise AudioError(*_NO_FFMPEG) from None
    except subprocess.TimeoutExpired:
        raise _FfmpegFailed("timed out after 300 s") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _FfmpegFailed(lines[-1] if lines else f"exit status {done.returncode}")
    return done.stdout


def _ffmpeg_mp3(pcm: bytes, sample_rate: int, bitrate_kbps: int) -> bytes:
    """MP3 through the ffmpeg program, when libmp3lame cannot be loaded directly."""
    undo_preset = f"volume={1.0 / _lame_preset_scale(bitrate_kbps)!r}:precision=float"
    with tempfile.TemporaryDirectory(prefix="announcer-") as folder:
        target = Path(folder) / "clip.mp3"  # a real file, so ffmpeg can write the gapless header
        try:
            _ffmpeg(
                ["-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0", "-af", undo_preset,
                 "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k", "-compression_level", str(_LAME_QUALITY),
                 "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1",
                 "-f", "mp3", f"file:{target}"],
                pcm,
            )
        except _FfmpegFailed as failure:
            raise AudioError(
                f"ffmpeg 无法生成 MP3（{failure}）。请确认安装了完整的 ffmpeg：sudo apt-get install ffmpeg",
                f"ffmpeg could not make the MP3 ({failure}). "
                "Install the full ffmpeg: sudo apt-get install ffmpeg",
            ) from None
        return target.read_bytes()


# LAME called directly: the encoder ffmpeg uses, without starting a program (saves ~80 ms a clip).
_LAME_QUALITY = 7  # LAME -q, 0 best … 9 fastest: 7 is fast, and 128 kbps mono leaves speech plenty of bits
_LAME_MONO = 3
_LAME_SETTERS = (
    "lame_set_in_samplerate", "lame_set_out_samplerate", "lame_set_num_channels", "lame_set_mode",
    "lame_set_VBR", "lame_set_brate", "lame_set_quality", "lame_set_bWriteVbrTag",
)


def _lame_preset_scale(bitrate_kbps: int) -> float:
    """How far LAME 3.100's CBR presets turn the input down (ffmpeg cannot switch this off)."""
    table = {8: 0.95, 160: 0.95, 192: 0.97, 224: 0.98, 256: 1.0, 320: 1.0}
    return table[min(table, key=lambda kbps: abs(kbps - bitrate_kbps))]


@functools.lru_cache(maxsize=1)
def _lame_library() -> ctypes.CDLL | None:
    for name in ("libmp3lame.so.0", "libmp3lame.so", "libmp3lame.0.dylib", "libmp3lame.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        flags, c_int, pointer = ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
        signatures = {
            "lame_init": ([], flags),
            "lame_init_params": ([flags], c_int),
            "lame_get_scale": ([flags], ctypes.c_float),
            "lame_encode_buffer_ieee_float": ([flags, pointer, pointer, c_int, pointer, c_int], c_int),
            "lame_encode_flush": ([flags, pointer, c_int], c_int),
            "lame_get_lametag_frame": ([flags, pointer, ctypes.c_size_t], ctypes.c_size_t),
            "lame_close": ([flags], c_int),
            **{setter: ([flags, c_int], c_int) for setter in _LAME_SETTERS},
        }
        for function, (arguments, result) in signatures.items():
            getattr(lib, function).argtypes = arguments
            getattr(lib, function).restype = result
        return lib
    return None


def _lame_encode(lib: ctypes.CDLL, pcm: bytes, sample_rate: int, bitrate_kbps: int) -> bytes:
    samples = len(pcm) // 2
    flags = lib.lame_init()
    if not flags:
        raise AudioError("MP3 编码器无法启动（内存不足？）。请重试。",
                         "The MP3 encoder could not start (out of memory?). Try again.")
    try:
        values = (sample_rate, sample_rate, 1, _LAME_MONO, 0, bitrate_kbps, _LAME_QUALITY, 1)
        for setter, value in zip(_LAME_SETTERS, values):
            getattr(lib, setter)(flags, value)
        if lib.lame_init_params(flags) < 0:
            raise AudioError(
                f"MP3 编码器不接受这些设置（{sample_rate} Hz，{bitrate_kbps} kbps）。"
                "请在 schedule.toml 中使用 44100 Hz 和 128 kbps。",
                f"The MP3 encoder rejects these settings ({sample_rate} Hz, {bitrate_kbps} kbps). "
                "Use 44100 Hz and 128 kbps in schedule.toml.",
            )
        # LAME's CBR presets scale the input down (0.95 at 128 kbps); undo that.
        scale = np.float32(1.0 / (32768.0 * lib.lame_get_scale(flags)))
        source = np.frombuffer(pcm, "<i2").astype(np.float32) * scale if samples else np.zeros(1, np.float32)
        output = ctypes.create_string_buffer(samples * 5 // 4 + 7200)  # LAME's worst case
        address = source.ctypes.data
        written = lib.lame_encode_buffer_ieee_float(flags, address, address, samples, output, len(output))
        if written < 0:
            raise AudioError(f"MP3 编码失败（LAME 错误 {written}）。请重试。",
                             f"MP3 encoding failed (LAME error {written}). Try again.")
        flushed = lib.lame_encode_flush(flags, ctypes.byref(output, written), len(output) - written)
        data = bytearray(ctypes.string_at(output, written + max(flushed, 0)))
        # The first frame holds the place of the tag that makes playback gapless.
        tag = ctypes.create_string_buffer(2880)
        size = lib.lame_get_lametag_frame(flags, tag, len(tag))
        if 0 < size <= len(data):
            data[:size] = ctypes.string_at(tag, size)
        return bytes(data)
    finally:
        lib.lame_close(flags)


# mpg123 called directly: decodes a clip in milliseconds, gapless, without starting a program.
_MPG123_OK, _MPG123_NEED_MORE, _MPG123_NEW_FORMAT, _MPG123_DONE = 0, -10, -11, -12
_MPG123_MONO_OR_STEREO = 1 | 2
_MPG123_SIGNED_16 = 0xD0
_MPEG_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


@functools.lru_cache(maxsize=1)
def _mpg123_library() -> ctypes.CDLL | None:
    for name in ("libmpg123.so.0", "libmpg123.so", "libmpg123.0.dylib", "libmpg123-0.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        handle, c_int, c_long, c_size_t = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_size_t
        signatures = {
            "mpg123_init": ([], c_int),
            "mpg123_new": ([ctypes.c_char_p, ctypes.POINTER(c_int)], handle),
            "mpg123_delete": ([handle], None),
            "mpg123_format_none": ([handle], c_int),
            "mpg123_format": ([handle, c_long, c_int, c_int], c_int),
            "mpg123_open_feed": ([handle], c_int),
            "mpg123_feed": ([handle, ctypes.c_char_p, c_size_t], c_int),
            "mpg123_read": ([handle, ctypes.c_void_p, c_size_t, ctypes.POINTER(c_size_t)], c_int),
            "mpg123_getformat": (
                [handle, ctypes.POINTER(c_long), ctypes.POINTER(c_int), ctypes.POINTER(c_int)], c_int
            ),
        }
        for function, (arguments, result) in signatures.items():
            getattr(lib, function).argtypes = arguments
            getattr(lib, function).restype = result
        if lib.mpg123_init() != _MPG123_OK:
            return None
        return lib
    return None


def _mpg123_decode(lib: ctypes.CDLL, data: bytes) -> AudioSegment | None:
    """MP3 bytes → 16-bit audio at the file's rate and channels; None if mpg123 cannot."""
    handle = lib.mpg123_new(None, None)
    if not handle:
        return None
    try:
        lib.mpg123_format_none(handle)
        for rate in _MPEG_RATES:
            lib.mpg123_format(handle, rate, _MPG123_MONO_OR_STEREO, _MPG123_SIGNED_16)
        if lib.mpg123_open_feed(handle) != _MPG123_OK:
            return None
        if lib.mpg123_feed(handle, data, len(data)) != _MPG123_OK:
            return None
        rate, channels, encoding = ctypes.c_long(), ctypes.c_int(), ctypes.c_int()
        format_out = (ctypes.byref(rate), ctypes.byref(channels), ctypes.byref(encoding))
        buffer, done = ctypes.create_string_buffer(1 << 18), ctypes.c_size_t()
        chunks = []
        while True:
            status = lib.mpg123_read(handle, buffer, len(buffer), ctypes.byref(done))
            chunks.append(ctypes.string_at(buffer, done.value))
            if status == _MPG123_NEW_FORMAT:
                lib.mpg123_getformat(handle, *format_out)
            elif status in (_MPG123_NEED_MORE, _MPG123_DONE):
                break  # all of it was fed in: needing more means the end
            elif status != _MPG123_OK:
                return None
        pcm = b"".join(chunks)
        if not rate.value or not channels.value or not pcm:
            return None
        return AudioSegment(data=pcm, sample_width=2, frame_rate=rate.value, channels=channels.value)
    finally:
        lib.mpg123_delete(handle)
