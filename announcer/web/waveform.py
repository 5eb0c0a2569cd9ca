"""A clip's waveform and loudness strip for the clarity table: peak and RMS in ~120 columns, as inline SVG.

The clip is decoded by ffmpeg at a low sample rate (enough for a picture, and
fast); the columns are cached by (path, mtime, size), so a page shows at once
the second time and a rebuilt clip is drawn afresh.
"""

from __future__ import annotations

import math
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

COLUMNS = 120
HEIGHT = 36
DECODE_RATE = 8000          # Hz: plenty for 120 columns
CACHE_SIZE = 512
DECODE_TIMEOUT_S = 20
FLOOR_DB = -48.0            # the strip's bottom: quieter than this draws as nothing


@dataclass(frozen=True)
class Wave:
    peaks: tuple[float, ...]    # 0..1 per column
    rms: tuple[float, ...]      # 0..1 per column
    duration_s: float


_cache: OrderedDict[tuple, Wave | None] = OrderedDict()
_lock = threading.Lock()


def wave_of(path: Path, columns: int = COLUMNS) -> Wave | None:
    """The clip's columns, or None when it cannot be read or decoded."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size, columns)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    wave = _compute(path, columns)
    with _lock:
        _cache[key] = wave
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return wave


def _compute(path: Path, columns: int) -> Wave | None:
    import numpy as np

    try:
        # An absolute path, after "-i": a name is never taken for an option or an ffmpeg protocol.
        raw = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path.resolve()), "-ac", "1", "-ar", str(DECODE_RATE),
             "-f", "s16le", "-"], capture_output=True, timeout=DECODE_TIMEOUT_S, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    x = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    if x.size == 0:
        return None
    chunks = np.array_split(x, min(columns, x.size))
    peaks = tuple(round(float(np.max(np.abs(c))), 3) for c in chunks)
    rms = tuple(round(float(np.sqrt(np.mean(c * c))), 3) for c in chunks)
    return Wave(peaks, rms, x.size / DECODE_RATE)


def wave_svg(wave: Wave | None, label: str = "") -> Markup:
    """An `svg.wave`: light bars for the peaks, dark ones for the RMS (what the ear hears as loudness),
    both on a decibel scale from FLOOR_DB to full scale."""
    if wave is None:
        return Markup('<span class="muted">—</span>')
    mid = HEIGHT / 2

    def bars(values) -> str:
        parts = []
        for i, v in enumerate(values):
            level = (20 * math.log10(v) - FLOOR_DB) / -FLOOR_DB if v > 0 else 0.0   # in dB, as the ear hears
            h = max(min(level, 1.0) * (mid - 1), 0.2)
            parts.append(f"M{i} {mid - h:.1f}h1v{2 * h:.1f}h-1z")
        return "".join(parts)

    width = len(wave.peaks)
    return Markup(
        f'<svg class="wave" viewBox="0 0 {width} {HEIGHT}" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<path d="{bars(wave.peaks)}" fill="#1f6f8b" fill-opacity="0.3"/>'
        f'<path d="{bars(wave.rms)}" fill="#1f6f8b"/></svg>')
