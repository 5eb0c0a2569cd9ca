"""A fake engine for tests: tone bursts instead of speech, with faults on demand.

A piece lasts units / (pace_per_rate * rate) seconds, where units are the
whitespace-separated tokens of the text (pinyin syllables or words), plus a
little silence before and after, like espeak. The tone depends on the text, so
different texts give different audio and the same text the same audio.

Faults copy what pyttsx3 + espeak-ng really do: no output ("fail" raises
SynthesisFailed, "empty" returns nothing, "silent" returns only silence), cut
off ("truncate"), the previous text's audio ("stale"), or no answer ("hang":
waits `hang_s`, then fails the way a timed-out worker does).
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

from announcer.build.engines.base import SynthesisFailed, SynthesisOptions
from announcer.build.engines.espeak_cli import EspeakFamily

FAULT_KINDS = ("fail", "empty", "silent", "truncate", "stale", "hang")


@dataclass(frozen=True)
class Fault:
    kind: str                          # one of FAULT_KINDS
    calls: frozenset[int] | None = None  # call numbers (0-based) it hits; None: every matching call
    text: str | None = None            # only texts containing this
    min_units: int = 0                 # only texts with at least this many units

    def hits(self, call: int, text: str) -> bool:
        if self.calls is not None and call not in self.calls:
            return False
        if self.text is not None and self.text not in text:
            return False
        return len(text.split()) >= self.min_units


@dataclass(frozen=True)
class FakeCall:
    text: str
    language: str
    options: SynthesisOptions
    fault: str | None


class FakeEngine(EspeakFamily):
    """Tone-burst engine. `pace_per_rate[lang]` is units per second per rate step (what it
    really does; the speech stage starts from espeak's table, like for a real espeak engine)."""

    def __init__(
        self,
        faults: list[Fault] | tuple[Fault, ...] = (),
        *,
        name: str = "fake",
        pace_per_rate: dict[str, float] | None = None,
        rate_power: float = 1.0,
        default_rate: float = 175.0,
        frame_rate: int = 22050,
        hang_s: float = 0.2,
        truncate_to: float = 0.5,
    ):
        self.name = name
        self.faults = list(faults)
        self.true_pace_per_rate = pace_per_rate or {"zh": 0.02, "en": 0.0138}
        self.rate_power = rate_power    # != 1: pace not proportional to rate
        self.default_rate = default_rate
        self.frame_rate = frame_rate
        self.hang_s = hang_s
        self.truncate_to = truncate_to
        self.calls: list[FakeCall] = []
        self.restarts = 0
        self.closed = False
        self._previous = None

    def pace(self, language: str, rate: float | None) -> float:
        """Units per second this engine speaks at `rate`."""
        rate = self.default_rate if rate is None else rate
        k = self.true_pace_per_rate.get(language, 0.015)
        return k * self.default_rate * (rate / self.default_rate) ** self.rate_power

    def synthesize(self, text: str, language: str, options: SynthesisOptions):
        call = len(self.calls)
        fault = next((f.kind for f in self.faults if f.hits(call, text)), None)
        self.calls.append(FakeCall(text, language, options, fault))
        if not text.strip():
            raise SynthesisFailed("nothing to say")
        if fault == "fail":
            raise SynthesisFailed("fake: no output file")
        if fault == "hang":
            time.sleep(self.hang_s)
            raise SynthesisFailed(f"fake: no answer within {self.hang_s:g} s; worker restarted")
        if fault == "stale" and self._previous is not None:
            return self._previous
        audio = self._burst(text, language, options.rate)
        self._previous = audio
        if fault == "empty":
            return audio[:0]
        if fault == "silent":
            return audio.apply_gain(-120)
        if fault == "truncate":
            return audio[: int(len(audio) * self.truncate_to)]
        return audio

    def restart(self) -> None:
        self.restarts += 1

    def close(self) -> None:
        self.closed = True

    def _burst(self, text: str, language: str, rate: float | None):
        import numpy as np
        from pydub import AudioSegment

        units = max(1, len(text.split()))
        seconds = units / self.pace(language, rate)
        seed = zlib.crc32(f"{language}|{text}".encode("utf-8"))
        n = int(seconds * self.frame_rate)
        t = np.arange(n) / self.frame_rate
        tone = 0.4 * np.sin(2 * np.pi * (180 + seed % 400) * t)
        noise = 0.05 * np.random.default_rng(seed).standard_normal(n)
        speech = np.clip((tone + noise) * 32767, -32767, 32767).astype(np.int16)
        lead = np.zeros(int(0.05 * self.frame_rate), np.int16)
        tail = np.zeros(int(0.12 * self.frame_rate), np.int16)
        samples = np.concatenate([lead, speech, tail])
        return AudioSegment(samples.tobytes(), frame_rate=self.frame_rate, sample_width=2, channels=1)
