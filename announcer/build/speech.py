"""Spoken text → one checked, paced recording of a notice.

Each run of a Speakable is synthesized as one piece. Every piece is checked
(there is sound, its length fits its text, it is not a copy of another text's
audio) and recovered when the check fails: try again with a fresh engine,
then in two halves, then with the fallback engine. The pieces are trimmed and
joined with the configured pauses.

Pace is measured in real units (Chinese syllables per second, English words
per minute) over the speaking time of the pieces, i.e. without the pauses we
insert. The engine's rate for each language comes from a calibration
(pace ≈ k · rate) learned per engine and voice; when the result misses the
target by more than 5 %, that language is spoken again at a corrected rate.
The rate is each engine's own knob (espeak's words per minute, a neural
model's speed factor); the engine gives its range and a first guess of k.

Each language has its engine (Kokoro for Mandarin, Piper for English by
default); the fallback (espeak-ng) makes what they cannot, and says so.
"""

from __future__ import annotations

import hashlib
import re
import statistics
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from announcer.build.bilingual import Note
from announcer.build.engines.base import Engine, EngineMissing, SynthesisFailed, SynthesisOptions
from announcer.build.speakable import PACE_UNIT_NAMES, PACE_UNITS, Run, Speakable
from announcer.core.config import SpeechConfig
from announcer.core.errors import SpeechError, shorten

if TYPE_CHECKING:
    from pydub import AudioSegment

LANGUAGE_GAP_S = 0.06          # between a Chinese and an English run of one clause
PACE_RETRY_OFF = 0.05          # speak a language again when its pace is further off than this
PACE_WARN_OFF = 0.10           # warn when it still is after the last round
MAX_PACE_ROUNDS = 3            # extra rounds at a corrected rate (an engine may allow fewer: `pace_rounds`)
MAX_STRETCH = 0.25             # what is still off after the rounds is corrected by a tempo change up to this
MIN_PACE_UNITS = 4             # fewer (a borrowed word, a letter): too little to measure a pace on
CALIBRATED_UNITS = 6           # units measured before the tight length check applies
SPLIT_MIN_TOKENS = 6           # shorter texts are not split when recovering
BROKEN_AFTER = 3               # pieces in a row the main engine could not make at all
SILENT_PEAK = 330              # below -40 dBFS: no speech
MIN_SPEECH_S = 0.04
LENGTH_BOUNDS = {True: (0.65, 1.7), False: (0.3, 3.0)}   # calibrated?, (low, high) × expected
LENGTH_SLACK_S = (0.12, 0.4)   # added below / above, for very short pieces
AGREE = 0.05                   # two suspicious takes this close are taken as genuine
STALE_MEMORY = 500             # pieces remembered to spot stale audio

_LANGUAGE_NAMES = {"zh": ("中文", "Chinese"), "en": ("英文", "English")}


@dataclass(frozen=True)
class Speech:
    audio: AudioSegment          # mono speech with the pauses, no chime/lead-in, not loudness-normalised
    pace: float                  # measured pace in the notice's main language's unit
    pace_unit: str               # "syllables/s" (zh) or "words/min" (en)
    engine: str                  # e.g. "kokoro", "kokoro+piper", or "kokoro+espeak-ng" when the fallback made some pieces
    voice: str                   # voices used, comma-joined, e.g. "cmn-latn-pinyin,en-us"
    warnings: tuple[str, ...]    # readable notes (bilingual.Note: both languages kept): recovery used, pace off
    recovered: int               # number of pieces that needed recovery
    fell_back: bool = False      # the fallback engine made some pieces in place of a language's engine


def per_second(language: str, pace: float) -> float:
    """A pace in the language's unit (PACE_UNITS) → units per second."""
    return pace / 60.0 if PACE_UNITS.get(language) == "words/min" else pace


def in_pace_unit(language: str, units_per_second: float) -> float:
    """Units per second → the language's pace unit (PACE_UNITS)."""
    return units_per_second * 60.0 if PACE_UNITS.get(language) == "words/min" else units_per_second


# -- pieces and their checks -------------------------------------------------

@dataclass(frozen=True)
class _Piece:
    samples: object          # numpy int16, trimmed
    seconds: float
    engine: str
    voice: str
    rate: float


@dataclass(frozen=True)
class _Problem:
    zh: str
    en: str
    hard: bool                   # no usable audio at all (as opposed to a doubtful length)
    piece: _Piece | None = None  # the take of doubtful length


@dataclass
class _Calibration:
    """Pace per rate step, per (engine, voice, language); learned from measured audio."""

    k: dict[tuple[str, str, str], float] = field(default_factory=dict)
    measured_units: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def pace_per_rate(self, engine: Engine, key: tuple[str, str, str]) -> float:
        return self.k.get(key) or engine.pace_per_rate(key[1], key[2])

    def calibrated(self, key: tuple[str, str, str]) -> bool:
        return self.measured_units.get(key, 0) >= CALIBRATED_UNITS

    def rate_for(self, engine: Engine, key: tuple[str, str, str], target_per_s: float) -> float:
        low, high = engine.rate_range
        rate = min(max(target_per_s / self.pace_per_rate(engine, key), low), high)
        step = engine.rate_step
        return int(round(rate)) if step >= 1 else round(round(rate / step) * step, 6)

    def learn(self, key: tuple[str, str, str], units: int, seconds: float, rate: float) -> None:
        if units <= 0 or seconds <= 0:
            return
        self.k[key] = units / seconds / rate
        self.measured_units[key] = self.measured_units.get(key, 0) + units


@dataclass
class _Job:
    """What one speak() call has learned so far."""

    where: str | None
    notes: dict[int, str] = field(default_factory=dict)   # run index → recovery note
    fallback_runs: set[int] = field(default_factory=set)  # runs the main engine could not make
    strikes: int = 0                                       # main engine failures in a row
    main_broken: set[str] = field(default_factory=set)    # languages whose main engine gave up
    breaths: list[list[int]] = field(default_factory=list)  # sentences an engine may speak in one breath
    sentence_of: list[int] = field(default_factory=list)    # run index → its sentence (0-based)
    on_sentence: Callable[[int, int], None] | None = None   # (sentence reached, 1-based; sentences)
    reached: int = 0

    def reach(self, run: int) -> None:
        """Say the sentence of `run` has started, once each further sentence (rounds go over them again)."""
        sentence = self.sentence_of[run] + 1 if run < len(self.sentence_of) else 0
        if self.on_sentence is not None and sentence > self.reached:
            self.reached = sentence
            self.on_sentence(sentence, self.sentence_of[-1] + 1)


def _done(function, *args):
    """A future already resolved: `function` run on this thread."""
    from concurrent.futures import Future

    future = Future()
    try:
        future.set_result(function(*args))
    except Exception as error:
        future.set_exception(error)
    return future


class _Share:
    """One clause's part of a sentence spoken in one breath (`future` gives the parts, or None
    when they could not be cut apart: then the clause is spoken on its own)."""

    def __init__(self, future, part: int, alone):
        self.future, self.part, self.alone = future, part, alone

    def result(self):
        parts = self.future.result()
        return parts[self.part] if parts is not None else self.alone()

    def cancel(self) -> None:
        self.future.cancel()


def _breaths(speakable: Speakable, spoken: set[int]) -> list[list[int]]:
    """Run indexes of each sentence of two or more clauses of one run each, all in one language."""
    found, index = [], 0
    for sentence in speakable.sentences:
        ids = list(range(index, index + sum(len(c.runs) for c in sentence.clauses)))
        index += len(ids)
        runs = [run for clause in sentence.clauses for run in clause.runs]
        if (len(ids) >= 2 and len(ids) == len(sentence.clauses) and set(ids) <= spoken
                and len({run.language for run in runs}) == 1):
            found.append(ids)
    return found


def _family(engine: Engine) -> str:
    """Engines of one family share voice names (pyttsx3 and the espeak-ng program)."""
    return getattr(engine, "family", engine.name)


def _normal(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


class Speaker:
    """Speaks notices for one build: holds the engines and the learned rates.

    `engines` is one engine for every language, or one per language ("zh",
    "en"). `missing` holds, per language, the note for a configured engine
    that could not be used (its language then goes to the fallback). The
    Speaker owns the engines it is given: close() closes them.
    """

    def __init__(self, engines: Engine | dict[str, Engine], config: SpeechConfig, *,
                 fallback: Engine | None = None, missing: dict[str, str] | None = None):
        self.engines = dict(engines) if isinstance(engines, dict) else {lang: engines for lang in PACE_UNITS}
        self.fallback = fallback
        self.config = config
        self.missing = dict(missing or {})
        self.calibration = _Calibration()
        self._pool = None                 # for engines that speak several pieces at once (`parallel`)
        self._ready: dict[tuple, object] = {}   # (engine, text, language, voice, rate) → future audio
        self._frame_rate: int | None = None
        self._seen: OrderedDict[bytes, tuple[str, str]] = OrderedDict()   # audio digest → (normalized, readable) text

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        for engine in {id(e): e for e in (*self.engines.values(), self.fallback) if e is not None}.values():
            engine.close()

    def engine_for(self, language: str) -> Engine:
        return self.engines.get(language) or next(iter(self.engines.values()))

    def identity(self) -> dict[str, str]:
        """Per language, what makes its speech: engine, voice and model (for the cache key)."""
        found = {}
        for language in PACE_UNITS:
            engine = self.engine_for(language)
            voice = self._voice(engine, language)
            describe = getattr(engine, "identity", None)
            found[language] = describe(voice) if callable(describe) else f"{engine.name} {voice}"
        return found

    # -- a whole notice ------------------------------------------------------

    def load(self, languages) -> None:
        """Load the voices of `languages` now (an engine with a `load`), so that a build can say it waits
        for them; otherwise they load at their first sentence."""
        for engine in {id(e): e for e in map(self.engine_for, languages)}.values():
            load = getattr(engine, "load", None)
            if callable(load):
                load()

    def speak(self, speakable: Speakable, *, where: str | None = None,
              on_sentence: Callable[[int, int], None] | None = None) -> Speech:
        """The notice as one recording; SpeechError when a piece cannot be made. `on_sentence(n, of)` is
        told when the n-th of its sentences is being spoken."""
        runs = speakable.runs()
        spoken = [i for i, run in enumerate(runs) if run.engine_text.strip()]
        if not spoken:
            raise SpeechError(
                "这条通知没有可以朗读的文字。请检查通知内容是否为空。",
                "This notice has no text to speak. Check that the notice is not empty.",
                where,
            )
        sentence_of = [n for n, sentence in enumerate(speakable.sentences)
                       for clause in sentence.clauses for _ in clause.runs]
        job = _Job(where, breaths=_breaths(speakable, set(spoken)), sentence_of=sentence_of,
                   on_sentence=on_sentence)
        languages = list(dict.fromkeys(runs[i].language for i in spoken))
        pieces: dict[int, _Piece] = {}
        measured: dict[str, float] = {}
        pace_notes: list[str] = []
        for language in languages:
            indexes = [i for i in spoken if runs[i].language == language]
            result, pace, note = self._speak_language(runs, indexes, language, job)
            pieces.update(result)
            measured[language] = pace
            if note:
                pace_notes.append(note)

        main = max(languages, key=lambda lang: speakable.units(lang) / self._target(lang))
        mains = list(dict.fromkeys(self.engine_for(lang).name for lang in languages))
        engines = mains + sorted({p.engine for p in pieces.values()} - set(mains))
        voices = list(dict.fromkeys(pieces[i].voice for i in spoken))
        warnings = [self.missing[lang] for lang in languages if lang in self.missing]
        warnings += [job.notes[i] for i in sorted(job.notes)] + pace_notes
        return Speech(
            audio=self._assemble(speakable, pieces),
            pace=in_pace_unit(main, measured[main]),
            pace_unit=PACE_UNITS[main],
            engine="+".join(engines),
            voice=",".join(voices),
            warnings=tuple(warnings),
            recovered=len(job.notes),
            fell_back=bool(job.fallback_runs),
        )

    def _target(self, language: str) -> float:
        return per_second(language, self.config.pace[language])

    def _voice(self, engine: Engine, language: str) -> str:
        """The configured voice when `engine` is the language's own engine (or of its family), else its default."""
        own = self.engine_for(language)
        configured = self.config.voices.get(language)
        if configured and _family(engine) != _family(own):
            configured = None
        name = getattr(engine, "voice_name", None)
        return name(configured, language) if callable(name) else configured or engine.voice_for(language)

    def _key(self, engine: Engine, language: str) -> tuple[str, str, str]:
        return engine.name, self._voice(engine, language), language

    def _both(self, language: str) -> list[Engine]:
        """The language's engine, and the fallback when it is another engine."""
        own = self.engine_for(language)
        return [own] + ([self.fallback] if self.fallback is not None and self.fallback is not own else [])

    def _speak_language(self, runs, indexes, language, job):
        """Speak one language's runs, at corrected rates until the pace fits."""
        target = self._target(language)
        units = sum(runs[i].units for i in indexes)
        rates = {engine.name: self.calibration.rate_for(engine, self._key(engine, language), target)
                 for engine in self._both(language)}
        best = None
        rounds = min(getattr(self.engine_for(language), "pace_rounds", MAX_PACE_ROUNDS), MAX_PACE_ROUNDS)
        for _round in range(1 + rounds):
            self._prefetch(runs, indexes, language, rates, job.breaths)
            pieces = {}
            for i in indexes:
                job.reach(i)
                pieces[i] = self._piece(runs[i], i, rates, job)
            self._drop_prefetched()
            self._recheck(runs, pieces, rates, job)
            seconds = sum(p.seconds for p in pieces.values())
            pace = units / seconds if seconds > 0 else 0.0
            off = abs(pace / target - 1)
            if best is None or off < best[2]:
                best = (pieces, pace, off)
            changed = self._learn(runs, pieces, language, target, rates)
            if off <= PACE_RETRY_OFF or not changed or units == 0:
                break
        pieces, pace, off = best
        if off > PACE_RETRY_OFF and units >= MIN_PACE_UNITS and pace > 0:
            pieces, pace = self._stretch(pieces, units, pace, target)
            off = abs(pace / target - 1)
        note = None
        if off > PACE_WARN_OFF and units >= MIN_PACE_UNITS:
            unit = PACE_UNITS[language]
            zh_name, en_name = _LANGUAGE_NAMES.get(language, (language, language))
            got, want = in_pace_unit(language, pace), self.config.pace[language]
            note = Note(
                f"{zh_name}语速实测为 {got:.1f} {PACE_UNIT_NAMES[unit][0]}，目标是 {want:.1f}，语音引擎无法调到相差 10% 以内。"
                "可以在 schedule.toml 里换一个语速。",
                f"{en_name} pace is {got:.1f} {unit} against a target of {want:.1f}; the engine cannot get within 10%. "
                "Consider another pace in schedule.toml.",
            )
        return pieces, pace, note

    def _prefetch(self, runs, indexes, language: str, rates, breaths: list[list[int]]) -> None:
        """Start the language's engine on every piece of this round at once, when it can speak several
        at a time (`parallel`), and a sentence's clauses in one breath when it can (`synthesize_together`);
        the checks then take the pieces in order, as if spoken one by one."""
        from concurrent.futures import ThreadPoolExecutor

        engine = self.engine_for(language)
        workers = getattr(engine, "parallel", 1)
        together = getattr(engine, "synthesize_together", None)
        if (workers <= 1 and not callable(together)) or len(indexes) < 2:
            return
        if self._pool is None and workers > 1:
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="announcer-speech")
        submit = self._pool.submit if workers > 1 else _done   # one at a time: on this thread, now
        options = SynthesisOptions(voice=self._voice(engine, language), rate=rates[engine.name])
        key = lambda i: (engine.name, getattr(runs[i], engine.reads), language, options.voice, options.rate)  # noqa: E731
        for ids in breaths if callable(together) else ():
            if runs[ids[0]].language != language or any(key(i) in self._ready for i in ids):
                continue
            texts = [getattr(runs[i], engine.reads) for i in ids]
            future = submit(together, texts, language, options)
            for part, (i, text) in enumerate(zip(ids, texts)):
                self._ready[key(i)] = _Share(future, part, lambda text=text: engine.synthesize(text, language, options))
        for i in indexes if workers > 1 else ():
            if key(i) not in self._ready:
                self._ready[key(i)] = submit(engine.synthesize, getattr(runs[i], engine.reads), language, options)

    def _drop_prefetched(self) -> None:
        for future in self._ready.values():
            future.cancel()
        self._ready.clear()

    def _stretch(self, pieces: dict[int, _Piece], units: int, pace: float, target: float):
        """The pieces at the target pace by a tempo change (for engines whose rounds cost too much,
        or whose speed knob moves in steps): (pieces, new pace)."""
        from announcer.build.effects import change_tempo

        factor = min(max(target / pace, 1 - MAX_STRETCH), 1 + MAX_STRETCH)
        stretched = {}
        for i, piece in pieces.items():
            samples = change_tempo(piece.samples, self._frame_rate, factor)
            stretched[i] = replace(piece, samples=samples, seconds=samples.size / self._frame_rate)
        seconds = sum(p.seconds for p in stretched.values())
        return stretched, units / seconds

    def _learn(self, runs, pieces, language, target, rates) -> bool:
        """Update the calibration from this round; True when a rate changed."""
        changed = False
        for engine in self._both(language):
            made = [i for i, p in pieces.items() if p.engine == engine.name]
            if not made:
                continue
            key = self._key(engine, language)
            units = sum(runs[i].units for i in made)
            seconds = sum(pieces[i].seconds for i in made)
            self.calibration.learn(key, units, seconds, rates[engine.name])
            new_rate = self.calibration.rate_for(engine, key, target)
            changed |= new_rate != rates[engine.name]
            rates[engine.name] = new_rate
        return changed

    # -- one piece -------------------------------------------------------------

    def _piece(self, run: Run, index: int, rates, job: _Job, first: _Problem | None = None) -> _Piece:
        """A checked piece for one run, recovered if need be; SpeechError if it cannot be made.

        `first` is a problem already found with this run's piece (it is then made again).
        """
        problems: list[_Problem] = []
        main = self.engine_for(run.language)
        fallback = self.fallback if self.fallback is not main else None
        if index not in job.fallback_runs and run.language not in job.main_broken:
            if first is None:
                outcome = self._take(main, run, rates)
                if isinstance(outcome, _Piece):
                    job.strikes = 0
                    return outcome
                first = outcome
            problems.append(first)
            made = self._retry_main(main, run, rates, problems)
            if made is not None:
                piece, how = made
                job.strikes = 0
                if how is not None:
                    job.notes.setdefault(index, self._note(run, problems[0], how))
                return piece
            job.strikes += 1
            if job.strikes >= BROKEN_AFTER and fallback is not None:
                job.main_broken.add(run.language)
        elif first is not None:
            problems.append(first)
        elif index not in job.fallback_runs:
            problems.append(_Problem(
                f"主语音引擎 {main.name} 已连续 {BROKEN_AFTER} 句失败",
                f"the main engine {main.name} failed {BROKEN_AFTER} times in a row",
                hard=True,
            ))
        if fallback is not None:
            outcome = self._take(fallback, run, rates)
            if isinstance(outcome, _Problem):
                outcome = self._agreeing(problems, outcome) or outcome
            if isinstance(outcome, _Piece):
                job.fallback_runs.add(index)
                if problems:
                    how = (f"改用备用引擎 {fallback.name} 合成", f"made with the backup engine {fallback.name}")
                    job.notes.setdefault(index, self._note(run, problems[0], how))
                return outcome
            problems.append(outcome)
        raise self._failure(run, problems[-1] if problems else None, job.where)

    def _retry_main(self, main: Engine, run: Run, rates, problems: list[_Problem]):
        """(piece, how) from the main engine after a failed take, or None.

        `how` is None when a second take confirms a doubtful length: no recovery
        was needed then. Adds what went wrong to `problems`.
        """
        self._restart(main)
        outcome = self._take(main, run, rates)
        agreed = self._agreeing(problems, outcome)
        if agreed is not None:
            return agreed, None
        if isinstance(outcome, _Piece):
            return outcome, ("重试后成功", "fixed by trying again")
        problems.append(outcome)
        if run.units >= SPLIT_MIN_TOKENS:
            outcome = self._halves(main, run, rates)
            if isinstance(outcome, _Piece):
                return outcome, ("分成两段合成后成功", "fixed by speaking it in two parts")
            problems.append(outcome)
        return None

    def _halves(self, main: Engine, run: Run, rates) -> _Piece | _Problem:
        """The run spoken in two halves, joined."""
        import numpy as np

        syllables = run.engine_text.split()
        if run.language == "zh" and len(run.text) == len(syllables):
            # one Han character a syllable: cut both forms at the same place
            words, cut = syllables, len(syllables) // 2
            forms = [(run.text[:cut], " ".join(syllables[:cut])), (run.text[cut:], " ".join(syllables[cut:]))]
        else:
            words = run.text.split() if main.reads == "text" else syllables
            cut = len(words) // 2
            forms = [(" ".join(words[:cut]),) * 2, (" ".join(words[cut:]),) * 2]
        first_units = round(run.units * cut / len(words))
        halves = ((forms[0], first_units), (forms[1], run.units - first_units))
        made = []
        for (text, engine_text), units in halves:
            outcome = self._take(main, replace(run, text=text, engine_text=engine_text, units=units), rates)
            if isinstance(outcome, _Problem):
                self._restart(main)
                return outcome
            made.append(outcome)
        samples = np.concatenate([p.samples for p in made])
        return replace(made[0], samples=samples, seconds=samples.size / self._frame_rate)

    def _recheck(self, runs, pieces: dict[int, _Piece], rates, job: _Job) -> None:
        """Compare each piece's length with the others' pace; remake the odd ones.

        Catches a cut-off piece even before this engine's rate is calibrated.
        """
        by_engine: dict[str, list[int]] = {}
        for i, piece in pieces.items():
            by_engine.setdefault(piece.engine, []).append(i)
        for made in by_engine.values():
            paces = [runs[i].units / pieces[i].seconds for i in made if runs[i].units >= 3]
            if len(paces) < 3:
                continue
            typical = statistics.median(paces)
            for i in made:
                problem = self._length_problem(pieces[i], runs[i].units / typical, True)
                if problem is None:
                    continue
                pieces[i] = self._piece(runs[i], i, rates, job, first=problem)

    # -- a single take and its checks -----------------------------------------

    def _take(self, engine: Engine, run: Run, rates) -> _Piece | _Problem:
        """One synthesis of `run` by `engine`, checked."""
        import numpy as np

        from announcer.build.effects import trim_silence

        voice = self._voice(engine, run.language)
        rate = rates[engine.name]
        text = getattr(run, engine.reads)
        ready = self._ready.pop((engine.name, text, run.language, voice, rate), None)
        try:
            if ready is not None:
                audio = ready.result()
            else:
                audio = engine.synthesize(text, run.language, SynthesisOptions(voice=voice, rate=rate))
        except SynthesisFailed as exc:
            return _Problem("语音引擎没有输出", f"the speech engine gave no output ({exc})", hard=True)
        if audio is None or len(audio.raw_data) == 0:
            return _Problem("语音引擎的输出是空的", "the speech engine's output was empty", hard=True)
        if audio.channels != 1:
            audio = audio.set_channels(1)
        if audio.sample_width != 2:
            audio = audio.set_sample_width(2)
        if self._frame_rate is None:
            self._frame_rate = audio.frame_rate
        elif audio.frame_rate != self._frame_rate:
            audio = audio.set_frame_rate(self._frame_rate)
        raw = np.frombuffer(audio.raw_data, dtype=np.int16)
        if raw.size == 0 or int(np.abs(raw.astype(np.int32)).max()) < SILENT_PEAK:
            return _Problem("语音引擎的输出几乎没有声音", "the speech engine's output was almost silent", hard=True)
        trimmed = trim_silence(audio, keep_s=0.01)          # a 10 ms margin each side
        samples = np.frombuffer(trimmed.raw_data, dtype=np.int16)
        seconds = samples.size / self._frame_rate
        if seconds < MIN_SPEECH_S:
            return _Problem("语音引擎的输出几乎没有声音", "the speech engine's output was almost silent", hard=True)
        piece = _Piece(samples, seconds, engine.name, voice, rate)

        digest = hashlib.blake2b(samples.tobytes(), digest_size=16).digest()
        mine = _normal(run.engine_text)
        other, other_label = self._seen.get(digest, (mine, ""))
        if other != mine:
            return _Problem(
                f"输出和另一句（{shorten(other_label)}）的录音一模一样，是引擎串音",
                f'the output was the very same audio as another text ("{shorten(other_label)}"): stale audio',
                hard=True,
            )
        self._seen[digest] = (mine, run.text)
        self._seen.move_to_end(digest)
        while len(self._seen) > STALE_MEMORY:
            self._seen.popitem(last=False)

        key = (engine.name, voice, run.language)
        expected = run.units / (self.calibration.pace_per_rate(engine, key) * rate)
        return self._length_problem(piece, expected, self.calibration.calibrated(key)) or piece

    @staticmethod
    def _length_problem(piece: _Piece, expected: float, calibrated: bool) -> _Problem | None:
        if expected <= 0:
            return None
        low, high = LENGTH_BOUNDS[calibrated]
        seconds = piece.seconds
        if low * expected - LENGTH_SLACK_S[0] <= seconds <= high * expected + LENGTH_SLACK_S[1]:
            return None
        if seconds < expected:
            zh = f"录音只有 {seconds:.1f} 秒，按字数应约 {expected:.1f} 秒，可能被截断了"
            en = f"the recording lasts {seconds:.1f} s where about {expected:.1f} s was expected: probably cut off"
        else:
            zh = f"录音长 {seconds:.1f} 秒，按字数应约 {expected:.1f} 秒，可能混进了别的内容"
            en = f"the recording lasts {seconds:.1f} s where about {expected:.1f} s was expected: probably wrong audio"
        return _Problem(zh, en, hard=False, piece=piece)

    @staticmethod
    def _agreeing(problems: list[_Problem], outcome: _Piece | _Problem) -> _Piece | None:
        """The new take, if an earlier take of doubtful length had the same length.

        Two takes that agree (after allowing for their rates) are genuine: the
        check was a false alarm for an unusually fast or slow text.
        """
        piece = outcome.piece if isinstance(outcome, _Problem) else outcome
        if piece is None:
            return None
        for earlier in problems:
            if earlier.hard or earlier.piece is None:
                continue
            before = earlier.piece.seconds * earlier.piece.rate
            if abs(piece.seconds * piece.rate - before) <= AGREE * before:
                return piece
        return None

    @staticmethod
    def _restart(engine: Engine) -> None:
        restart = getattr(engine, "restart", None)
        if callable(restart):
            restart()

    # -- messages and assembly -----------------------------------------------

    @staticmethod
    def _note(run: Run, problem: _Problem, how: tuple[str, str]) -> str:
        text = shorten(run.text)
        return Note(f"“{text}”：{problem.zh}，{how[0]}。", f'"{text}": {problem.en}; {how[1]}.')

    def _failure(self, run: Run, problem: _Problem | None, where: str | None) -> SpeechError:
        text = shorten(run.text)
        zh_reason = problem.zh if problem else "语音引擎没有输出"
        en_reason = problem.en if problem else "the speech engine gave no output"
        return SpeechError(
            f"无法为“{text}”生成可用的语音（{zh_reason}），重试、分段和备用引擎都失败了。"
            "请在终端运行 espeak-ng hello 检查语音合成是否正常，或把这句话改写、改短后再试。",
            f'Could not make usable speech for "{text}" ({en_reason}); trying again, in parts and with the '
            "backup engine all failed. Run espeak-ng hello in a terminal to check that speech works, "
            "or reword or shorten this sentence and try again.",
            where,
        )

    def _assemble(self, speakable: Speakable, pieces: dict[int, _Piece]) -> AudioSegment:
        import numpy as np
        from pydub import AudioSegment

        rate = self._frame_rate or 22050

        def silence(seconds: float):
            return np.zeros(int(round(seconds * rate)), dtype=np.int16)

        sentences = []
        index = 0
        for sentence in speakable.sentences:
            clauses = []
            for clause in sentence.clauses:
                parts, previous = [], None
                for run in clause.runs:
                    piece = pieces.get(index)
                    index += 1
                    if piece is None:
                        continue
                    if previous is not None and previous != run.language:
                        parts.append(silence(LANGUAGE_GAP_S))
                    parts.append(piece.samples)
                    previous = run.language
                if parts:
                    clauses.append(np.concatenate(parts))
            if clauses:
                joined = [clauses[0]]
                for clause_samples in clauses[1:]:
                    joined += [silence(self.config.comma_pause_s), clause_samples]
                sentences.append(np.concatenate(joined))
        out = [sentences[0]]
        for sentence_samples in sentences[1:]:
            out += [silence(self.config.sentence_pause_s), sentence_samples]
        samples = np.concatenate(out)
        return AudioSegment(samples.tobytes(), frame_rate=rate, sample_width=2, channels=1)


def speak(
    speakable: Speakable,
    engine: Engine,
    config: SpeechConfig,
    *,
    fallback: Engine | None = None,
    where: str | None = None,
) -> Speech:
    """One notice with a one-off Speaker (the engines are not closed)."""
    return Speaker(engine, config, fallback=fallback).speak(speakable, where=where)


FALLBACK = "espeak-ng"


def open_speaker(config: SpeechConfig, *, draft: bool = False) -> Speaker:
    """A Speaker with each language's configured engine, and the espeak-ng program as fallback.

    A configured engine that cannot be used (not installed, model damaged)
    hands its language to the fallback, and every clip in that language says
    so. `draft`: pyttsx3 for every language, for a quick preview.
    """
    from announcer.build.engines import get_engine

    made: dict[str, Engine] = {}

    def engine(name: str) -> Engine:
        if name not in made:
            made[name] = get_engine(name)
        return made[name]

    fallback = engine(FALLBACK)
    if draft:
        return Speaker(engine("pyttsx3"), config, fallback=fallback)
    engines, missing = {}, {}
    for language, name in config.engines.items():
        try:
            engines[language] = engine(name)
        except EngineMissing as error:
            engines[language] = fallback
            missing[language] = Note(f"{error.zh}这次改用 {FALLBACK} 朗读。",
                                     f"{error.en} Spoken with {FALLBACK} meanwhile.")
    return Speaker(engines, config, fallback=fallback, missing=missing)
