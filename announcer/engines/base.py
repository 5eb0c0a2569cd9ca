"""The engine interface: text in one language → a mono recording.

An engine is anything with `name`, `voice_for`, `synthesize` and `close`.
`synthesize` either returns audio or raises SynthesisFailed; checking that the
audio is plausible, and recovering when it is not, is the speech stage's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydub import AudioSegment


@dataclass(frozen=True)
class SynthesisOptions:
    voice: str | None = None   # None: the engine's voice for the language
    rate: float | None = None  # the engine's own rate setting; None: its default


class SynthesisFailed(Exception):
    """The engine produced nothing usable for one piece of text."""


class Engine(Protocol):
    name: str

    def voice_for(self, language: str) -> str: ...

    def synthesize(self, text: str, language: str, options: SynthesisOptions) -> AudioSegment: ...

    def close(self) -> None: ...
