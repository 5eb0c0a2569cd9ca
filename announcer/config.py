"""schedule.toml → typed, validated settings.

(Interface fixed here; loading and validation are implemented below it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PACE_PRESETS = {"slow": 0.85, "normal": 1.0, "fast": 1.15}
DEFAULT_PACE = {"zh": 3.5, "en": 145.0}  # syllables/s, words/min


@dataclass(frozen=True)
class SpeechConfig:
    engine: str = "pyttsx3"                      # "pyttsx3" or "espeak-ng"
    voices: dict[str, str] = field(default_factory=lambda: {"zh": "cmn-latn-pinyin", "en": "en-us"})
    pace: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PACE))  # resolved targets
    sentence_pause_s: float = 0.6
    comma_pause_s: float = 0.3


@dataclass(frozen=True)
class AudioConfig:
    loudness_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    highpass_hz: float = 120.0
    compress: bool = True
    chime: str = "two-tone"          # "two-tone", "none", or a sound file path (resolved absolute)
    repeat: int = 1
    repeat_gap_s: float = 2.0
    lead_in_s: float = 0.5
    lead_in_sound: str = "wake"      # "wake" (very quiet tone) or "silence"
    format: str = "mp3"              # "mp3" or "wav"
    bitrate_kbps: int = 128
    sample_rate: int = 44100


@dataclass(frozen=True)
class Config:
    path: Path | None
    timezone: str | None             # [station] timezone, IANA name; None: the system's
    speech: SpeechConfig
    audio: AudioConfig
