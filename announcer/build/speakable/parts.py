"""What spoken text is made of: a Speakable is sentences, a sentence clauses, a clause runs of one
language each; and the units its pace is counted in."""

from __future__ import annotations

from dataclasses import dataclass

PACE_UNITS = {"zh": "syllables/s", "en": "words/min"}
PACE_UNIT_NAMES = {"syllables/s": ("音节/秒", "syllables/s"), "words/min": ("词/分钟", "words/min")}  # (zh, en)


@dataclass(frozen=True)
class Run:
    language: str      # "zh" or "en"
    text: str          # readable normalized text: 十一月三十日 / November thirtieth
    engine_text: str   # what the engine gets: "shi2 yi1 yue4 ..." for zh, plain words for en
    units: int         # syllables for zh, words for en: the pace counts these


@dataclass(frozen=True)
class Clause:
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Sentence:
    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class Speakable:
    sentences: tuple[Sentence, ...]
    language: str      # "zh", "en" or "mixed"
    spoken_text: str   # the whole readable normalized text, for the manifest

    def runs(self) -> list[Run]:
        return [r for s in self.sentences for c in s.clauses for r in c.runs]

    def units(self, language: str) -> int:
        return sum(r.units for r in self.runs() if r.language == language)
