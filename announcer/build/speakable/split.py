"""Written-out text → sentences → clauses → runs of one language each.

Sentences end at 。！？!?；; a full stop or a line break; clauses at ，,、：:
…, dashes and brackets. Inside a clause, Han characters make Chinese runs and
Latin words English runs; everything else (symbols, emoji, quotes) is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from announcer.build.speakable import en, zh
from announcer.build.speakable.parts import Clause, Run, Sentence
from announcer.build.speakable.script import HAN, LATIN

_ENDS = "。！？!?；;.\n"
_PAUSES = "，,、：:…—–―()（）[]【】〔〕|｜"
_SENTENCE_END = re.compile(f"[{re.escape(_ENDS)}][{re.escape(_ENDS)}\\s]*")
_CLAUSE_END = re.compile(f"[{re.escape(_PAUSES)}][{re.escape(_PAUSES)}\\s]*")
_CLOSING = frozenset(")）]】〕")
_WORD = re.compile(rf"(?P<zh>[{HAN}]+)|(?P<en>[{LATIN}]+(?:['’\-][{LATIN}]+)*)")
_SPACE = re.compile(r"\s+")


def sentences(text: str) -> tuple[tuple[Sentence, ...], str]:
    """The sentences of written-out text, and the readable text with the
    notice's own punctuation (for the manifest)."""
    found: list[Sentence] = []
    readable: list[str] = []
    previous_end = ""
    for body, end in _pieces(text, _SENTENCE_END):
        clauses, shown = _clauses(body)
        if not clauses:
            continue
        found.append(Sentence(tuple(clauses)))
        if readable:
            readable.append(_gap(readable[-1], previous_end))
        readable.append(shown + _SPACE.sub("", end))
        previous_end = end
    return tuple(found), "".join(readable)


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Where in written-out `text` each clause of sentences(text) lies, in order (the pause after it left out)."""
    found = []
    for start, body in _pieces_at(text, _SENTENCE_END):
        for offset, part in _pieces_at(body, _CLAUSE_END):
            if _runs(part):
                found.append((start + offset, start + offset + len(part)))
    return found


def _pieces_at(text: str, ends: re.Pattern) -> Iterator[tuple[int, str]]:
    """(where it starts, piece) along `text`, as _pieces cuts it."""
    start = 0
    for m in ends.finditer(text):
        yield start, text[start:m.start()]
        start = m.end()
    yield start, text[start:]


def _gap(previous: str, end: str) -> str:
    """What separates two sentences in the readable text."""
    if previous[-1] in "。！？；":
        return ""
    return "\n" if "\n" in end and not _SPACE.sub("", end) else " "


def _clauses(body: str) -> tuple[list[Clause], str]:
    parts = [(runs, pause) for part, pause in _pieces(body, _CLAUSE_END) if (runs := _runs(part))]
    shown = []
    for i, (runs, pause) in enumerate(parts):
        pause = _SPACE.sub("", pause)
        if i == len(parts) - 1:
            pause = "".join(c for c in pause if c in _CLOSING)
        elif pause and pause[-1].isascii():
            pause += " "
        shown.append(" ".join(run.text for run in runs) + pause)
    return [Clause(tuple(runs)) for runs, _ in parts], "".join(shown)


def _pieces(text: str, ends: re.Pattern) -> Iterator[tuple[str, str]]:
    """(piece, the delimiter after it) along `text`."""
    start = 0
    for m in ends.finditer(text):
        yield text[start:m.start()], m.group()
        start = m.end()
    yield text[start:], ""


def _runs(part: str) -> list[Run]:
    """Runs of one language each; neighbours of the same language merged."""
    chunks: list[tuple[str, list[str]]] = []
    for m in _WORD.finditer(part):
        language = "zh" if m.group("zh") else "en"
        if chunks and chunks[-1][0] == language:
            chunks[-1][1].append(m.group())
        else:
            chunks.append((language, [m.group()]))
    runs: list[Run] = []
    for language, words in chunks:
        run = _zh_run("".join(words)) if language == "zh" else _en_run(" ".join(words))
        if run is None:
            continue
        if runs and runs[-1].language == run.language:
            run = _merge(runs.pop(), run)
        runs.append(run)
    return runs


def _zh_run(han: str) -> Run | None:
    read = zh.pinyin(han)
    if not read:
        return None
    return Run("zh", "".join(c for c, _ in read), " ".join(s for _, s in read), len(read))


def _en_run(words: str) -> Run | None:
    text = words.replace("’", "'")
    engine = en.engine_words(text)
    if not engine:
        return None
    return Run("en", text, engine, len(text.split()))


def _merge(first: Run, second: Run) -> Run:
    joint = "" if first.language == "zh" else " "
    return Run(first.language, first.text + joint + second.text,
               first.engine_text + " " + second.engine_text, first.units + second.units)
