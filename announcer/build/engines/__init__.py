"""Speech engines: pick one by the name used in schedule.toml.

Engine modules are imported only when an engine is made, so the CLI's --help
stays quick. Making an engine loads no model: a neural engine loads its model
on first use, once a process.
"""

from __future__ import annotations

from announcer.core.config.choices import DEFAULT_ENGINES, ENGINE_NAMES, LANGUAGES, VOICES
from announcer.core.errors import SpeechError

__all__ = ["DEFAULT_ENGINES", "ENGINE_NAMES", "LANGUAGES", "VOICES", "get_engine"]


def get_engine(name: str):
    """The engine called `name`, ready to use; EngineMissing when it is not installed."""
    key = name.strip().lower()
    if key == "kokoro":
        from announcer.build.engines.kokoro import KokoroEngine

        return KokoroEngine()
    if key == "piper":
        from announcer.build.engines.piper_engine import PiperEngine

        return PiperEngine()
    if key == "pyttsx3":
        from announcer.build.engines.pyttsx3_engine import Pyttsx3Engine

        return Pyttsx3Engine()
    if key in ("espeak-ng", "espeak"):
        from announcer.build.engines.espeak_cli import EspeakCliEngine

        return EspeakCliEngine()
    names = "、".join(f"“{n}”" for n in ENGINE_NAMES)
    raise SpeechError(
        f"没有名为 “{name}” 的语音引擎。请在 schedule.toml 的 [speech] engines 里填写 {names} 之一。",
        f'There is no speech engine called "{name}". In schedule.toml, set [speech] engines to one of: '
        + ", ".join(f'"{n}"' for n in ENGINE_NAMES)
        + ".",
    )
