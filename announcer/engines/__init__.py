"""Speech engines: pick one by the name used in schedule.toml.

Engine modules are imported only when an engine is made, so the CLI's --help
stays quick.
"""

from __future__ import annotations

from announcer.errors import SpeechError

ENGINE_NAMES = ("pyttsx3", "espeak-ng")


def get_engine(name: str):
    """The engine called `name` ("pyttsx3" or "espeak-ng"), ready to use."""
    key = name.strip().lower()
    if key == "pyttsx3":
        from announcer.engines.pyttsx3_engine import Pyttsx3Engine

        return Pyttsx3Engine()
    if key in ("espeak-ng", "espeak"):
        from announcer.engines.espeak_cli import EspeakCliEngine

        return EspeakCliEngine()
    names = "、".join(f"“{n}”" for n in ENGINE_NAMES)
    raise SpeechError(
        f"没有名为 “{name}” 的语音引擎。请在 schedule.toml 的 [speech] engine 里填写 {names} 之一。",
        f'There is no speech engine called "{name}". In schedule.toml, set [speech] engine to one of: '
        + ", ".join(f'"{n}"' for n in ENGINE_NAMES)
        + ".",
    )
