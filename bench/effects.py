"""Benchmark: the audio stage on a ~20 s espeak-ng clip, and compress/normalize on a minute.

Prints the median of a few runs for each step, after one warm-up run (imports).
Run: .venv/bin/python bench/effects.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydub import AudioSegment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from announcer.build import effects as fx  # noqa: E402

RUNS = 5
TEXT = (
    "Attention please. The water supply in building three will be shut off tomorrow from nine a.m. "
    "to four p.m. for pipe repairs. Please store enough water in advance. The community center on "
    "the ground floor stays open on Saturday and Sunday from eight thirty in the morning. For questions, "
    "call the property office or ask the building manager. Thank you for your patience."
)


def espeak_clip() -> AudioSegment:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), TEXT], check=True)
        return AudioSegment.from_wav(path)


def speech_like(seconds: float, sr: int = fx.SAMPLE_RATE) -> AudioSegment:
    """Voiced syllables (120 Hz harmonics), fricative noise and pauses."""
    t = np.arange(round(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.7 * t)) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 21))
    syllables = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 2
    fricative = np.random.default_rng(1).standard_normal(t.size) * 0.4 * (syllables > 0.6)
    return fx.from_array(0.1 * (voiced + fricative) * syllables * ((t % 2.5) < 2.0), sr)


def timed(step) -> float:
    step()  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    speech = espeak_clip()
    settings = dict(
        highpass_hz=120.0, compress=True, chime=fx.chime(), repeat=1, repeat_gap_s=2.0, lead_in_s=0.5,
        lead_in_kind="wake", target_lufs=-16.0, ceiling_dbtp=fx.master_ceiling(-1.0, "mp3"),
    )
    clip = fx.master(speech, **settings)
    data = fx.encode(clip, "mp3")
    heard = fx.decode(data, "mp3")
    minute = speech_like(60.0)
    print(f"espeak-ng clip: {len(speech) / 1000:.1f} s speech, {len(clip) / 1000:.1f} s mastered; median of {RUNS}")
    rows = [
        ("master (chime, lead-in)", lambda: fx.master(speech, **settings)),
        ("encode mp3 128 kbps", lambda: fx.encode(clip, "mp3")),
        ("decode mp3", lambda: fx.decode(data, "mp3")),
        ("measure (decoded clip)", lambda: fx.measure(heard)),
        ("compress 60 s", lambda: fx.compress(minute)),
        ("normalize 60 s", lambda: fx.normalize(minute)),
    ]
    for name, step in rows:
        print(f"  {name:<26} {timed(step) * 1000:7.0f} ms")
    lufs, peak = fx.measure(heard)
    print(f"decoded clip: {lufs:.2f} LUFS, {peak:.2f} dBTP")


if __name__ == "__main__":
    main()
