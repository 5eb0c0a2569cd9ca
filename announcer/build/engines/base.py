"""The engine interface: text in one language → a mono recording.

An engine has `name`, `languages` (those it speaks), `reads` (which form of a
run it takes: "engine_text", e.g. tone-numbered pinyin for espeak-ng, or
"text", the readable words), `rate_range` and `rate_step` (its own rate knob:
espeak's words per minute, or a neural model's speed factor), and
`voice_for`, `pace_per_rate` (a first guess of pace per rate step, for the
pace loop), `identity` (what the cache key needs: engine, voice, model
checksum), `synthesize` and `close`.

Optional: `family` (engines sharing voice names), `voice_name` (a configured
voice in the engine's own naming), `pace_rounds` (synthesis rounds the pace loop
may spend; fewer for a costly engine), `parallel` (pieces it can make at once),
`synthesize_together` (a sentence's clauses in one breath, one recording each)
and `load` (load the model now).

`synthesize` either returns audio or raises SynthesisFailed; checking that the
audio is plausible, and recovering when it is not, is the speech stage's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydub import AudioSegment

from announcer.core.errors import SpeechError


@dataclass(frozen=True)
class SynthesisOptions:
    voice: str | None = None    # None: the engine's voice for the language
    rate: float | None = None   # the engine's own rate setting; None: its default


class SynthesisFailed(Exception):
    """The engine produced nothing usable for one piece of text."""


class EngineMissing(SpeechError):
    """A configured engine cannot be used on this machine (not installed, or its model is damaged)."""

    def __init__(self, zh: str, en: str, engine: str):
        super().__init__(zh, en)
        self.engine = engine


def missing_engine_error(engine: str, en_what: str, zh_what: str) -> EngineMissing:
    return EngineMissing(
        f"语音引擎 {engine} 用不了（{zh_what}）。请运行 scripts/setup 安装。",
        f"The speech engine {engine} cannot be used ({en_what}). Run scripts/setup to install it.",
        engine,
    )


class Engine(Protocol):
    name: str
    languages: tuple[str, ...]
    reads: str
    rate_range: tuple[float, float]
    rate_step: float

    def voice_for(self, language: str) -> str: ...

    def pace_per_rate(self, voice: str, language: str) -> float: ...

    def identity(self, voice: str) -> str: ...

    def synthesize(self, text: str, language: str, options: SynthesisOptions) -> AudioSegment: ...

    def close(self) -> None: ...
