"""Checks on notice text before any audio is made: too long, hard to follow, or empty."""

from __future__ import annotations

from dataclasses import dataclass

from announcer.build.notices import Notice
from announcer.build.speakable import Speakable, clause_sources, make_speakable
from announcer.build.speakable.script import unspoken_words
from announcer.core.config import SpeechConfig
from announcer.core.errors import shorten, tr

MAX_SECONDS = 40.0        # a notice longer than this loses the listener
MAX_ZH_SYLLABLES = 30     # between two pauses
MAX_EN_WORDS = 25
REFUSE_SECONDS = 300.0    # the build refuses anything this long outright
QUOTE_WITHIN = 20_000     # characters: a longer notice (refused as far too long) is quoted as spoken
NOTHING_TO_SAY = (
    "没有可以朗读的文字（只有符号、网址或表情）。请写上要播报的内容，或删除这条通知。",
    "has nothing that can be spoken (only symbols, links or emoji); write the message in words or remove the notice",
)


@dataclass(frozen=True)
class Finding:
    notice: Notice
    level: str            # "error" or "warning"
    message: str


def estimate_seconds(speakable: Speakable, speech: SpeechConfig) -> float:
    """Speaking time at the target pace, with the configured pauses."""
    seconds = speakable.units("zh") / speech.pace["zh"] + speakable.units("en") * 60 / speech.pace["en"]
    for sentence in speakable.sentences:
        seconds += (len(sentence.clauses) - 1) * speech.comma_pause_s
    return seconds + max(len(speakable.sentences) - 1, 0) * speech.sentence_pause_s


def unspoken_warning(text: str) -> str | None:
    """What is said when a notice has words in a script that cannot be spoken (they are left out)."""
    words = unspoken_words(text)
    if not words:
        return None
    shown = shorten(" ".join(words), 40)
    return tr(f"有些文字不是中文也不是英文，不会读出来：“{shown}”。请翻译成中文或英文，或删去。",
              f"some words are neither Chinese nor English and will not be spoken: \"{shown}\"; "
              "translate them into Chinese or English, or remove them")


def check_notice(notice: Notice, speakable: Speakable, speech: SpeechConfig,
                 max_seconds: float = MAX_SECONDS) -> list[Finding]:
    if not speakable.sentences:
        return [Finding(notice, "error", tr(*NOTHING_TO_SAY))]
    findings = []
    unspoken = unspoken_warning(notice.text)
    if unspoken:
        findings.append(Finding(notice, "warning", unspoken))
    seconds = estimate_seconds(speakable, speech)
    if seconds > max_seconds:
        findings.append(Finding(notice, "error", tr(
            f"太长：按目标语速约 {seconds:.0f} 秒，超过 {max_seconds:.0f} 秒。请删去次要内容，或分成两条通知。",
            f"too long: about {seconds:.0f} s at the target pace, over {max_seconds:.0f} s; "
            "cut what is not essential or split it into two notices")))
    clauses = [clause for sentence in speakable.sentences for clause in sentence.clauses]
    sources = None
    for number, clause in enumerate(clauses):
        zh = sum(r.units for r in clause.runs if r.language == "zh")
        en = sum(r.units for r in clause.runs if r.language == "en")
        if zh > MAX_ZH_SYLLABLES:
            count_zh, count_en = f"{zh} 个字", f"{zh} syllables"
        elif en > MAX_EN_WORDS:
            count_zh, count_en = f"{en} 个英文词", f"{en} words"
        else:
            continue
        if sources is None:     # the notice's own words ("12月8日"), not the spoken form ("十二月八日")
            sources = clause_sources(notice.text, notice.language) if len(notice.text) <= QUOTE_WITHIN else []
            if len(sources) != len(clauses):
                sources = [" ".join(r.text for r in c.runs) for c in clauses]
        text = shorten(sources[number])
        findings.append(Finding(notice, "warning", tr(
            f"有一段话太长，中间没有停顿（{count_zh}）：“{text}”。请用逗号或句号断开。",
            f"a stretch without a pause is too long to follow ({count_en}): \"{text}\"; "
            "break it with a comma or full stop")))
    return findings


def check_notices(notices: list[Notice], speech: SpeechConfig,
                  max_seconds: float = MAX_SECONDS) -> list[Finding]:
    findings = []
    for notice in notices:
        findings += check_notice(notice, make_speakable(notice.text, notice.language), speech, max_seconds)
    return findings
