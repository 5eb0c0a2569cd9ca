"""The morning job: the day's notices → clean clips and a manifest in the library."""

from __future__ import annotations

import functools
import hashlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

from announcer import __version__
from announcer.build.bilingual import Note, by_language, note_of
from announcer.build.check import MAX_SECONDS, NOTHING_TO_SAY, REFUSE_SECONDS, estimate_seconds, unspoken_warning
from announcer.build.notices import MAX_A_DAY, Notice, too_many_error
from announcer.build.order import arranged, numbered, order_mark, withdrawn_order
from announcer.core.config import AudioConfig, Config
from announcer.core.errors import AudioError, NoticeError
from announcer.core.library import Library

IN_FLIGHT = 2      # clips spoken but not yet mastered and stored
LOUDNESS_TOLERANCE_LU = 0.5     # a finished clip this close to the loudness target is on target
Progress = Callable[[Notice, bool], None]   # called after each clip: (notice, came from cache)


@dataclass(frozen=True)
class Stage:
    """Finer progress within a build, for `detail`: the voices loading, or a notice's sentences spoken."""
    kind: str                 # "loading" or "speaking"
    clip: int = 0             # the notice's number in the day's notices (1-based), not its place in the order
    title: str | None = None
    sentence: int = 0         # the sentence being spoken (1-based) of `sentences`
    sentences: int = 0


Detail = Callable[[Stage], None]


@dataclass(frozen=True)
class DayBuild:
    day: date
    folder: Path
    clips: list[dict]     # the notices' manifest entries as published (the manifest has the recordings kept too)
    rendered: int         # clips synthesized this time
    reused: int           # clips taken from the cache
    notes: tuple[str, ...] = ()   # once for the whole build: a configured engine that could not be used


def build_day(notices: list[Notice], day: date, out: Path, config: Config, *,
              fmt: str | None = None, engine=None, progress: Progress | None = None,
              detail: Detail | None = None) -> DayBuild:
    """Render every notice valid on `day` and publish the day folder, all or nothing. `progress` is told
    of each clip done; `detail`, of what happens meanwhile (Stage)."""
    audio = config.audio if fmt is None else replace(config.audio, format=fmt)
    todays = [n for n in notices if n.valid_on(day)]
    if not todays:
        raise NoticeError(
            f"没有在 {day} 有效的通知（请检查 valid_from / valid_until，或用 --date 换一天）。",
            f"no notice is valid on {day}; check valid_from / valid_until, or pick another day with --date")
    if len(todays) > MAX_A_DAY:
        raise too_many_error(len(todays), day)
    library = Library(out)
    speaker = _open_speaker(config, engine)
    try:
        voices = speaker.identity()
        keys = [_cache_key(n, config, audio, voices) for n in todays]
        cached = {k: library.cached(k, audio.format) for k in keys}
        pending = _prepare({k: n for n, k in zip(todays, keys) if cached[k] is None}, config)
        library.prepare()
        for notice, key in zip(todays, keys):
            if progress and (key not in pending or pending[key][0] is not notice):
                progress(notice, True)   # from the cache, or the same text as another notice
        if pending:
            chime = chime_for(audio)
            if detail:
                detail(Stage("loading"))
                speaker.load({run.language for _, speakable in pending.values() for run in speakable.runs()})
            numbers = {id(n): number for number, n in enumerate(todays, start=1)}
            _render_all(pending, speaker, chime, audio, library, cached, progress, detail, numbers)
    finally:
        speaker.close()

    files, clips = [], []
    for number, (notice, key) in enumerate(zip(todays, keys), start=1):
        name = f"{number:02d}-{notice.id}.{audio.format}"
        files.append((name, cached[key].audio))
        clips.append(_entry(notice, name, cached[key].info))

    published: list[list[dict]] = []

    def with_recordings(current):
        """The notices' clips, then the recordings kept; in the staff member's order when they set one."""
        kept = _kept_recordings(current, clips)
        items = [(c, source) for c, (_, source) in zip(clips, files)] + [(e, source) for _, source, e in kept]
        placed, entries = numbered(arranged(current, items))
        published.append([e for e in entries if e.get("engine") != "recording"])
        manifest = {"date": day.isoformat(), "announcer": __version__, **order_mark(current and current[1]),
                    "clips": entries}
        return placed, manifest

    folder = library.update(day, with_recordings, replace_damaged=True)
    return DayBuild(day, folder, published[-1], rendered=len(pending), reused=len(todays) - len(pending),
                    notes=tuple(dict.fromkeys(speaker.missing.values())))


def _kept_recordings(current: tuple[Path, dict] | None, clips: list[dict]) -> list[tuple[str, Path, dict]]:
    """The day's imported recordings (`announcer import`), in their order, their ids kept apart from the
    notices' ids (`clips`): (name, source, entry). A name numbers a recording on after the notices; a build
    numbers the day again in its order, a withdraw (no notices) keeps these names."""
    if current is None:
        return []
    folder, manifest = current
    taken, kept = {c["id"] for c in clips}, []
    for clip in manifest.get("clips", []):
        if clip.get("engine") == "recording" and (folder / clip["file"]).is_file():
            clip_id = unique_id(clip["id"], taken)
            taken.add(clip_id)
            name = f"{len(clips) + len(kept) + 1:02d}-{clip_id}{Path(clip['file']).suffix}"
            kept.append((name, folder / clip["file"], {**clip, "id": clip_id, "file": name}))
    return kept


@dataclass(frozen=True)
class Withdrawn:
    withdrawn: int        # notice clips taken out of the day
    kept: int             # imported recordings left in it


class _Unchanged(Exception):
    """Raised inside the library's update to publish nothing."""


def withdraw_notices(day: date, out: Path) -> Withdrawn:
    """Publish `day` without its notices' clips, keeping its imported recordings, under the library's lock:
    what is left when a day has no notice any more. A day not built, or with no notice clips, is left alone."""
    library = Library(out)
    counts = []

    def without_notices(current):
        notices = [] if current is None else [c for c in current[1].get("clips", []) if c.get("engine") != "recording"]
        if not notices:
            raise _Unchanged
        kept = _kept_recordings(current, [])
        counts.append(Withdrawn(len(notices), len(kept)))
        manifest = {"date": day.isoformat(), "announcer": __version__, **order_mark(current[1]),
                    **withdrawn_order(current[1]), "clips": [e for _, _, e in kept]}
        return [(name, source) for name, source, _ in kept], manifest

    try:
        library.update(day, without_notices, replace_damaged=True)
    except _Unchanged:
        return Withdrawn(0, 0)
    return counts[-1]


def unique_id(clip_id: str, taken: set) -> str:
    """`clip_id`, or `clip_id-2`, `-3`... when another clip of the day has it."""
    if clip_id not in taken:
        return clip_id
    n = 2
    while f"{clip_id}-{n}" in taken:
        n += 1
    return f"{clip_id}-{n}"


def _render_all(pending: dict, speaker, chime, audio: AudioConfig, library: Library, cached: dict,
                progress: Progress | None, detail: Detail | None = None, numbers: dict | None = None) -> None:
    """Speak one notice after another; master and encode them meanwhile on the other core."""
    from concurrent.futures import ThreadPoolExecutor

    def finish_clip(key, notice, speakable, speech):
        data, info = _finish_clip(speech, speakable, notice, audio, chime)
        # A clip the fallback helped with is not found by the next build, which tries its engine again.
        cached[key] = library.store(key + "-fallback" if speech.fell_back else key, audio.format, data, info)
        if progress:
            progress(notice, False)

    pool = ThreadPoolExecutor(max_workers=2)
    try:
        jobs: deque = deque()
        for key, (notice, speakable) in pending.items():
            while len(jobs) >= IN_FLIGHT:          # speech waits for the mastering: memory stays flat
                jobs.popleft().result()
            told = None
            if detail:       # the speaker tells each sentence as it starts, the first one too
                told = functools.partial(_speaking, detail, (numbers or {}).get(id(notice), 0), notice.title)
            speech = speaker.speak(speakable, where=notice.where, on_sentence=told)
            jobs.append(pool.submit(finish_clip, key, notice, speakable, speech))
        while jobs:
            jobs.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


def _speaking(detail: Detail, clip: int, title: str | None, sentence: int, sentences: int) -> None:
    detail(Stage("speaking", clip, title, sentence, sentences))


def _prepare(notices: dict[str, Notice], config: Config) -> dict[str, tuple[Notice, object]]:
    """Make every notice speakable before anything is synthesized, so bad input writes nothing."""
    from announcer.build.speakable import make_speakable

    prepared, problems = {}, []
    for key, notice in notices.items():
        speakable = make_speakable(notice.text, notice.language)
        seconds = estimate_seconds(speakable, config.speech)
        if not speakable.sentences:
            problems.append(NoticeError(*NOTHING_TO_SAY, notice.where))
        elif seconds > REFUSE_SECONDS:
            problems.append(NoticeError(
                f"太长：约 {seconds / 60:.0f} 分钟，居民听不完。请分成几条不超过 {MAX_SECONDS:.0f} 秒的通知。",
                f"far too long: about {seconds / 60:.0f} minutes; split it into notices of at most "
                f"{MAX_SECONDS:.0f} s each", notice.where))
        prepared[key] = (notice, speakable)
    if problems:
        raise NoticeError.several(problems)
    return prepared


def _open_speaker(config: Config, engine=None):
    from announcer.build.speech import Speaker, open_speaker

    return open_speaker(config.speech) if engine is None else Speaker(engine, config.speech)


def _finish_clip(speech, speakable, notice: Notice, audio: AudioConfig, chime) -> tuple[bytes, dict]:
    repeat = notice.repeat or audio.repeat
    data, heard, lufs, peak = finish(speech.audio, audio, chime=chime, repeat=repeat, where=notice.where)
    warnings = list(speech.warnings) + loudness_warnings(lufs, audio)
    unspoken = note_of(lambda: unspoken_warning(notice.text))
    if unspoken:
        warnings.insert(0, unspoken)
    duration = len(heard) / 1000
    if duration > MAX_SECONDS * repeat + 5:
        warnings.append(Note(f"音频长 {duration:.0f} 秒，建议缩短到 {MAX_SECONDS:.0f} 秒以内。",
                             f"the clip is {duration:.0f} s long; try to keep it under {MAX_SECONDS:.0f} s"))
    info = {
        "spoken_text": speakable.spoken_text,
        "language": speakable.language,
        "engine": speech.engine,
        "voice": speech.voice,
        "duration_s": round(duration, 2),
        "loudness_lufs": round(lufs, 2),
        "true_peak_dbtp": round(peak, 2),
        "speech_rate": {"value": round(speech.pace, 2), "unit": speech.pace_unit},
        "sha256": hashlib.sha256(data).hexdigest(),
        "warnings": [str(w) for w in warnings],     # in the build's language, as the command line shows them
        "warnings_by_language": by_language(warnings),
    }
    return data, info


def clip_warnings(entry: dict, lang: str) -> list[str]:
    """A manifest entry's warnings in `lang` ("zh" or "en"); an older build's stored only "warnings", in the
    language it ran in, and those are shown as they are."""
    both = entry.get("warnings_by_language")
    if isinstance(both, dict) and isinstance(both.get(lang), list):
        return [str(w) for w in both[lang]]
    return [str(w) for w in entry.get("warnings") or []]


def loudness_warnings(lufs: float, audio: AudioConfig) -> list[str]:
    """A note (in both languages) for the report when a finished clip missed the loudness target by more
    than 0.5 LU."""
    if abs(lufs - audio.loudness_lufs) <= LOUDNESS_TOLERANCE_LU:
        return []
    return [Note(f"响度 {lufs:.1f} LUFS，偏离目标 {audio.loudness_lufs} LUFS。",
                 f"loudness {lufs:.1f} LUFS is off the {audio.loudness_lufs} LUFS target")]


def finish(speech, audio: AudioConfig, *, chime=None, repeat: int = 1, lead_in: bool = True,
           where: str | None = None):
    """Master and encode speech; measure the encoded clip as it will be heard.

    Returns (encoded bytes, decoded clip, loudness LUFS, true peak dBTP). Encoding
    can push the true peak up, so the limiter's ceiling is lowered until it holds.
    """
    from announcer.build import effects

    ceiling = effects.master_ceiling(audio.true_peak_dbtp, audio.format)
    for _ in range(4):
        clip = effects.master(
            speech, highpass_hz=audio.highpass_hz, compress=audio.compress, chime=chime,
            repeat=repeat, repeat_gap_s=audio.repeat_gap_s, lead_in_s=audio.lead_in_s if lead_in else 0.0,
            lead_in_kind=audio.lead_in_sound, target_lufs=audio.loudness_lufs,
            ceiling_dbtp=ceiling, sample_rate=audio.sample_rate)
        data = effects.encode(clip, audio.format, audio.bitrate_kbps, audio.sample_rate)
        heard = effects.decode(data, audio.format)
        lufs, peak = effects.measure(heard)
        if peak <= audio.true_peak_dbtp:
            return data, heard, lufs, peak
        ceiling -= peak - audio.true_peak_dbtp + 0.2
    raise AudioError(
        f"无法把峰值压到 {audio.true_peak_dbtp} dBTP 以下（现为 {peak:.1f}）。请调低 [audio] loudness。",
        f"cannot keep the true peak under {audio.true_peak_dbtp} dBTP (it is {peak:.1f}); "
        "lower [audio] loudness", where)


def _entry(notice: Notice, file: str, info: dict) -> dict:
    return {"id": notice.id, "title": notice.title, "file": file, "text": notice.text,
            "tags": list(notice.tags), **info}


def chime_for(audio: AudioConfig):
    """The chime [audio] asks for: the generated two-tone, a sound file, or None."""
    from announcer.build import effects

    if audio.chime == "none":
        return None
    if audio.chime == "two-tone":
        return effects.chime(audio.sample_rate)
    return effects.load_sound(Path(audio.chime))


def chime_identity(audio: AudioConfig) -> str:
    """What tells the chime [audio] asks for: "none", "two-tone", or its sound file's SHA-256 (its name when it
    cannot be read: load_sound reports that when the chime is made)."""
    chime = audio.chime
    if chime not in ("none", "two-tone"):
        try:
            chime = hashlib.sha256(Path(chime).read_bytes()).hexdigest()
        except OSError:
            pass
    return chime


@functools.cache
def _renderer_version() -> str:
    """Changes whenever the code that makes a clip changes, so old clips are not reused."""
    package = Path(__file__).parent
    digest = hashlib.sha256(__version__.encode())
    for source in sorted([*package.glob("speakable/*.py"), *package.glob("engines/*.py"),
                          package / "speech.py", package / "effects.py", package / "day.py"]):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _languages(text: str) -> tuple[str, ...]:
    """The languages a text may be spoken in, by its script: a new English voice leaves Chinese clips be."""
    import re

    from announcer.build.speakable.script import HAN, LATIN

    found = tuple(lang for lang, chars in (("zh", HAN), ("en", LATIN)) if re.search(f"[{chars}]", text))
    return found or ("zh", "en")      # digits alone: read in the notice's language, either


def _cache_key(notice: Notice, config: Config, audio: AudioConfig, voices: dict[str, str]) -> str:
    """Everything that changes the clip: the text, the settings, each language's engine, voice and model
    (`voices`, from Speaker.identity), the chime, this version."""
    chime = chime_identity(audio)
    recipe = {
        "renderer": _renderer_version(),
        "voices": {lang: voices[lang] for lang in _languages(notice.text) if lang in voices},
        "text": notice.text,
        "language": notice.language,
        "repeat": notice.repeat,
        "speech": {k: v for k, v in asdict(config.speech).items() if k not in ("engines", "voices")},
        "audio": {**asdict(audio), "chime": chime},
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]
