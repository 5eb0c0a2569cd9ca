"""Speech engines: pick one by the name used in schedule.toml.

Engine modules are imported only when an engine is made, so the CLI's --help
stays quick. Making an engine loads no model: a neural engine loads its model
on first use, once a process.
"""

from __future__ import annotations

from announcer.errors import SpeechError

ENGINE_NAMES = ("kokoro", "piper", "pyttsx3", "espeak-ng")
# The languages each engine speaks, and the voices a neural one has (espeak-ng has many).
LANGUAGES = {"kokoro": ("zh",), "piper": ("en",), "pyttsx3": ("zh", "en"), "espeak-ng": ("zh", "en")}
VOICES = {
    "kokoro": ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"),
    "piper": ("en_US-joe-medium",),
}
# English stays with espeak-ng: through a whole build Whisper got 0.010 of its letters wrong, 0.025 of
# Piper's (bench/clarity.py); Piper is one setting away: engines = { en = "piper" }.
DEFAULT_ENGINES = {"zh": "kokoro", "en": "espeak-ng"}


def get_engine(name: str):
    """The engine called `name`, ready to use; EngineMissing when it is not installed."""
    key = name.strip().lower()
    if key == "kokoro":
        from announcer.engines.kokoro import KokoroEngine

        return KokoroEngine()
    if key == "piper":
        from announcer.engines.piper_engine import PiperEngine

        return PiperEngine()
    if key == "pyttsx3":
        from announcer.engines.pyttsx3_engine import Pyttsx3Engine

        return Pyttsx3Engine()
    if key in ("espeak-ng", "espeak"):
        from announcer.engines.espeak_cli import EspeakCliEngine

        return EspeakCliEngine()
    names = "、".join(f"“{n}”" for n in ENGINE_NAMES)
    raise SpeechError(
        f"没有名为 “{name}” 的语音引擎。请在 schedule.toml 的 [speech] engines 里填写 {names} 之一。",
        f'There is no speech engine called "{name}". In schedule.toml, set [speech] engines to one of: '
        + ", ".join(f'"{n}"' for n in ENGINE_NAMES)
        + ".",
    )
