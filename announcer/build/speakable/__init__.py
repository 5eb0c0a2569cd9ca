"""Notice text → spoken text: what the engine should say, split where to pause.

A notice becomes sentences; a sentence becomes clauses (a comma pause after
each but the last); a clause becomes runs of one language each. A run is the
unit the engine speaks.
"""

from __future__ import annotations

from announcer.build.speakable.parts import (PACE_UNIT_NAMES, PACE_UNITS, Clause, Run, Sentence,
                                             Speakable)

__all__ = ["PACE_UNITS", "PACE_UNIT_NAMES", "Clause", "Run", "Sentence", "Speakable", "clause_sources",
           "make_speakable"]


def make_speakable(text: str, language: str | None = None) -> Speakable:
    """A notice's text as sentences, clauses and runs ready for the engine.

    `language` ("zh", "en" or None) is the notice's own language: it decides
    how a number with no words around it is read. Each sentence and run takes
    its language from its script, so mixed text works. Speakable.language is
    "mixed" when both languages carry real content (a run of four or more
    syllables / three or more words, or most of a clause of two or more); a
    text with nothing to say gives no sentences.
    """
    from announcer.build.speakable.normalise import normalise
    from announcer.build.speakable.script import fold, main_language
    from announcer.build.speakable.split import sentences

    folded = fold(text)
    default = language if language in PACE_UNITS else main_language(folded)
    found, spoken = sentences(normalise(folded, default))
    return Speakable(found, _overall_language(found, default), spoken)


def clause_sources(text: str, language: str | None = None) -> list[str]:
    """For each clause of make_speakable(text, language), in order, the notice's own words it was made from
    ("12月8日", not the spoken 十二月八日): what a message quotes back to the person who wrote them."""
    from announcer.build.speakable.normalise import normalise_spans
    from announcer.build.speakable.script import fold_spans, main_language
    from announcer.build.speakable.split import clause_spans

    folded, spans = fold_spans(text)
    default = language if language in PACE_UNITS else main_language(folded)
    written, spans = normalise_spans(folded, default, spans)
    sources, end = [], 0
    for a, b in clause_spans(written):
        if b <= a:
            sources.append("")
            continue
        # Each clause starts where the one before it ended, or later: a phone number or a date read with
        # pauses in it ("400-123-4567") is shared out between its clauses, not quoted whole in each.
        start = max(_source_at(text, spans, a, starts=True), end)
        end = max(_source_at(text, spans, b, starts=False), start)
        source = text[start:end].strip()
        if start > spans[a][0]:            # cut inside a match: no hyphen or comma left at the cut
            source = source.lstrip(_CUT_EDGE)
        if end < spans[b - 1][1]:
            source = source.rstrip(_CUT_EDGE)
        sources.append(source)
    return sources


_CUT_EDGE = " \t\n,，、;；:：-–—/"


def _source_at(text: str, spans: list[tuple[int, int]], index: int, *, starts: bool) -> int:
    """Where in `text` a clause starting (or ending) at written position `index` starts (or ends). Inside what
    one match wrote (the same span on both sides of `index`), at the word edge nearest to the same share of the
    match: "400-123-4567" read as 四零零，幺二三，四五六七 is cut at its hyphens."""
    if starts and not (0 < index and spans[index - 1] == spans[index]):
        return spans[index][0]
    if not starts and not (index < len(spans) and spans[index - 1] == spans[index]):
        return spans[index - 1][1]
    first = last = index
    while first > 0 and spans[first - 1] == spans[index]:
        first -= 1
    while last < len(spans) and spans[last] == spans[index]:
        last += 1
    low, high = spans[index]
    share = low + (high - low) * (index - first) / (last - first)

    def word(at: int) -> bool:
        return low <= at < high and text[at].isalnum()

    edges = [at for at in range(low, high + 1)
             if at in (low, high) or (word(at) and not word(at - 1) if starts else word(at - 1) and not word(at))]
    return min(edges, key=lambda at: abs(at - share))


# A run this long is content of its own, not a borrowed word (WiFi, 服务台).
_CONTENT_RUN = {"zh": 4, "en": 3}


def _overall_language(sentences: tuple[Sentence, ...], default: str) -> str:
    """'zh', 'en' or 'mixed', by which languages carry real content."""
    carried = set()
    for sentence in sentences:
        for clause in sentence.clauses:
            units = {"zh": 0, "en": 0}
            for run in clause.runs:
                units[run.language] += run.units
                if run.units >= _CONTENT_RUN[run.language]:
                    carried.add(run.language)
            lead = max(units, key=units.get)
            if units[lead] >= 2 and units[lead] > units[_other(lead)]:
                carried.add(lead)
    if len(carried) == 2:
        return "mixed"
    if carried:
        return carried.pop()
    zh, en = (sum(r.units for s in sentences for c in s.clauses for r in c.runs if r.language == lang)
              for lang in ("zh", "en"))
    return "zh" if zh > en else "en" if en > zh else default


def _other(language: str) -> str:
    return "en" if language == "zh" else "zh"
