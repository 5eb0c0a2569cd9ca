"""A staff member's own recording → a clip in the day's library, through the same clarity chain.

The recording is decoded (anything ffmpeg reads), trimmed, high-passed at
`RECORDING_HIGHPASS_HZ` at least (phone recordings carry hum and handling
rumble), gently gated, then mastered like a synthesized clip by
`day.finish`: compression, chime, loudness target and true-peak ceiling,
measured on the encoded file. The day is republished whole with its clips
as they were plus this one at the end, or with this one in the place of the
recording it replaces (a new take: same id, same place).

A recording deleted or replaced is kept in `<out>/.undo/recordings/<date>/`
(its file, its manifest entry and its place) until the next delete or replace
of that day, so the last one can be undone. A delete, a replace and an undo
hold the undo folder's lock (`.undo/recordings/.lock`, taken before the
library's) from the look at the undo to its new note, so they never lose each
other's undo; a new note becomes the undo only once the day is published.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from announcer import __version__
from announcer.build.bilingual import Note, by_language
from announcer.build.order import ClipError, day_items, find_clip, no_day, numbered, publish_items
from announcer.core.config import Config
from announcer.core.errors import AudioError, LibraryError
from announcer.core.library import Library, atomic_write, to_json
from announcer.core.plan import clip_title

RECORDING_HIGHPASS_HZ = 120.0   # at least this, whatever [audio] highpass says
GATE_FRAME_S = 0.02
GATE_OPEN_DB = 8.0              # the gate opens this far over the noise floor
GATE_DEPTH_DB = 12.0            # and turns the noise between words down by at most this: gentle
GATE_RELEASE_S = 0.15
SILENT_LUFS = -60.0             # quieter than this after the high-pass: nothing to hear
PAUSE_S = 0.25                  # quiet stretches this long are pauses, not speaking time
SPEECH_UNDER_PEAK_DB = 30.0     # frames this far under the loud ones are not speech
MIN_SPEECH_S = 0.3
PACE_WARN_OFF = 0.10
_UNDO_DIR = Path(".undo") / "recordings"
_UNDO_FILE = "undo.json"
_STAGED = ".staged-"       # a note written before its publish; it becomes the undo after it


@dataclass(frozen=True)
class Imported:
    day: date
    folder: Path
    clip: dict          # the new manifest entry
    clips: int          # clips in the day now
    number: int = 0     # its place in the day's order (1 is first)


def import_recording(path: Path, day: date, out: Path, config: Config, *,
                     title: str | None = None, text: str | None = None, replaces: str | None = None) -> Imported:
    """Clean `path` and append it to `day` in the library at `out`; AudioError for unusable input.
    With `replaces` (a recording's id) it is a new take: it takes that recording's id and place, its title
    and text unless new ones are given, and the old take is kept for an undo."""
    from announcer.build import effects
    from announcer.build.day import chime_for, finish, loudness_warnings, unique_id

    path = Path(path)
    audio = config.audio
    where = str(path)
    library = Library(out)
    if replaces is not None:         # refused before the slow part; looked up again under the lock
        current = library.day(day)
        if current is None:
            raise no_day(day)
        items = day_items(current)
        old = items[_recording_index(items, day, replaces)][0]
        title = title or old.get("title") or None
        text = text or old.get("text") or None
    sound = effects.load_sound(path, audio.sample_rate)
    # High-pass first: hum and rumble would otherwise count as sound, and the trim would keep dead air.
    # Anything 30 dB under the loudest moment is room noise or the filter's edge, not speech.
    voice = effects.trim_silence(effects.high_pass(sound, max(audio.highpass_hz, RECORDING_HIGHPASS_HZ)),
                                 below_peak_db=30.0)
    if len(voice) < MIN_SPEECH_S * 1000 or not effects.loudness_lufs(voice) > SILENT_LUFS:
        raise AudioError(
            "这段录音没有声音（或几乎听不到）。请重新录音，说话时靠近手机话筒。",
            "the recording is silent (or almost); record it again, speaking close to the microphone", where)
    voice = gate(voice)
    speaking_s = speaking_seconds(voice)
    if speaking_s < MIN_SPEECH_S:
        raise AudioError(
            "这段录音里听不出说话声。请重新录音，说话时靠近手机话筒。",
            "no speech can be heard in the recording; record it again, speaking close to the microphone", where)

    library.prepare()
    data, heard, lufs, peak = finish(voice, replace(audio, highpass_hz=0.0), chime=chime_for(audio), where=where)

    warnings = loudness_warnings(lufs, audio)
    spoken_text, language, rate = "", "", {"value": None, "unit": None}
    if text:
        from announcer.build.speakable import make_speakable

        speakable = make_speakable(text)
        spoken_text, language = speakable.spoken_text, speakable.language
        measured = pace(speakable, speaking_s, config.speech.pace)
        if measured is not None:
            value, unit, note = measured
            rate = {"value": round(value, 2), "unit": unit}
            if note:
                warnings.append(note)
    details = {
        "text": text or "",
        "tags": [],
        "spoken_text": spoken_text,
        "language": language,
        "engine": "recording",
        "voice": "",
        "duration_s": round(len(heard) / 1000, 2),
        "loudness_lufs": round(lufs, 2),
        "true_peak_dbtp": round(peak, 2),
        "speech_rate": rate,
        "sha256": hashlib.sha256(data).hexdigest(),
        "warnings": [str(w) for w in warnings],
        "warnings_by_language": by_language(warnings),
    }
    made: list[tuple[dict, int, int]] = []   # the new entry, the day's clip count and its place, once published
    staged: list[str] = []                   # the undo note of a new take, made the undo once it is published

    with tempfile.TemporaryDirectory(dir=library.out, prefix=".import-") as tmp, \
            (_undo_lock(library.out) if replaces is not None else contextlib.nullcontext()):

        def append(current):
            """The day as it is now (read under the library's lock) plus this clip, last."""
            folder, manifest = current if current is not None else (None, {"clips": []})
            existing = list(manifest.get("clips", []))
            clip_id = unique_id(_clip_id(title, path), {c.get("id") for c in existing})
            name = f"{len(existing) + 1:02d}-{clip_id}.{audio.format}"
            (Path(tmp) / name).write_bytes(data)
            entry = {"id": clip_id, "title": title or path.stem, "file": name, **details}
            made.append((entry, len(existing) + 1, len(existing) + 1))
            files = [(c["file"], folder / c["file"]) for c in existing] + [(name, Path(tmp) / name)]
            return files, {**manifest, "date": day.isoformat(), "announcer": __version__, "clips": [*existing, entry]}

        def new_take(current):
            """The day as it is now with this take in the place of the recording it replaces."""
            if current is None:
                raise no_day(day)
            items = day_items(current)
            index = _recording_index(items, day, replaces)
            old, source = items[index]
            name = f"{index + 1:02d}-{replaces}.{audio.format}"
            (Path(tmp) / name).write_bytes(data)
            entry = {"id": replaces, "title": title or old.get("title") or replaces, "file": name,
                     **details, "tags": list(old.get("tags") or [])}
            staged.append(_stage_undo(library.out, day, "replace", old, source, index, details["sha256"]))
            items[index] = (entry, Path(tmp) / name)
            files, clips = numbered(items)
            made.append((clips[index], len(clips), index + 1))
            return files, {**current[1], "date": day.isoformat(), "announcer": __version__, "clips": clips}

        try:
            published = library.update(day, append if replaces is None else new_take)
        except BaseException:
            for note in staged:              # the day was not changed: the last undo stays
                _unstage(library.out, day, note)
            raise
        if staged:
            _make_undo(library.out, day, staged[-1])
    entry, count, number = made[-1]
    return Imported(day, published, entry, count, number)


def _recording_index(items: list, day: date, clip_id: str) -> int:
    """Where the day's recording `clip_id` is among `items`; ClipError when the day has no such clip, or
    it is not a recording (a notice's clip changes with its notice)."""
    index = find_clip(items, day, clip_id)
    entry = items[index][0]
    if entry.get("engine") != "recording":
        title = clip_title(entry)
        raise ClipError(f"“{title}”是由通知生成的，不是录音。请在“已保存的通知”里修改或删除那条通知。",
                        f"\"{title}\" is made from a notice, not a recording; edit or delete that notice instead")
    return index


# ---------------------------------------------------------------------------
# Deleting a recording, and taking the last delete or replace back

def delete_recording(day: date, out: Path, clip_id: str) -> dict:
    """Take a recording out of the day (the clips after it move up), kept for `undo_recording`; its entry."""
    removed: list[tuple[dict, str]] = []

    def change(items, manifest):
        index = _recording_index(items, day, clip_id)
        entry, source = items[index]
        removed.append((entry, _stage_undo(Path(out), day, "delete", entry, source, index)))
        return items[:index] + items[index + 1:], manifest

    with _undo_lock(out):
        try:
            publish_items(Library(out), day, change)
        except BaseException:
            for _, note in removed:         # the day was not changed: the last undo stays
                _unstage(Path(out), day, note)
            raise
        _make_undo(Path(out), day, removed[-1][1])
    return removed[-1][0]


def undo_recording(day: date, out: Path) -> tuple[dict, int]:
    """Put back the recording last deleted (at its old place) or replaced (the old take in place of the new
    one, found by its audio); (its entry, its number). ClipError 404 when there is nothing to undo."""
    from announcer.build.day import unique_id

    nothing = ClipError("没有可以撤销的录音操作（撤销只能恢复最近一次删除或替换的录音）。",
                        "there is nothing to undo (only the last recording deleted or replaced can be put back)",
                        status=404)
    if last_undo(out, day) is None:
        raise nothing
    placed: list[tuple[dict, int, dict]] = []

    def change(items, manifest):
        kept = last_undo(out, day)          # read again under both locks: this is the one put back
        if kept is None:
            raise nothing
        entry, source = kept["entry"], _undo_folder(out, day) / kept["audio"]
        items = list(items)
        ids = {e["id"] for e, _ in items}
        new_take = kept.get("new_take")
        taken = next((n for n, (e, _) in enumerate(items) if e.get("engine") == "recording"
                      and isinstance(new_take, str) and e.get("sha256") == new_take), None)
        same = next((n for n, (e, _) in enumerate(items) if e["id"] == entry["id"]
                     and e.get("engine") == "recording"), None)
        if kept["action"] == "replace" and taken is not None:
            index = taken                   # the new take, under whatever id a rebuild gave it
            items[index] = ({**entry, "id": items[index][0]["id"]}, source)
        else:
            if same is not None and items[same][0].get("sha256") == entry.get("sha256"):
                raise ClipError(f"录音“{clip_title(entry)}”已经在这一天里了，不需要撤销。",
                                f"the recording \"{clip_title(entry)}\" is already in the day; nothing to undo",
                                status=409)
            index = min(kept["position"], len(items))
            items.insert(index, ({**entry, "id": unique_id(entry["id"], ids)}, source))
        placed.append((items[index][0], index + 1, kept))
        return items, manifest

    with _undo_lock(out):
        publish_items(Library(out), day, change)
        _drop_undo(out, day, placed[-1][2])
    entry, number, _ = placed[-1]
    return entry, number


def _undo_folder(out: Path, day: date) -> Path:
    return Path(out) / _UNDO_DIR / day.isoformat()


@contextlib.contextmanager
def _undo_lock(out: Path):
    """One delete, replace or undo at a time in this library, across processes (taken before the library's)."""
    folder = Path(out) / _UNDO_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "a")
    except OSError as error:
        raise LibraryError(f"无法使用撤销文件夹（{error.strerror}）。请检查 --out 文件夹是否可以写入。",
                           f"cannot use the undo folder ({error.strerror}); check that the --out folder can be "
                           "written", str(folder)) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _stage_undo(out: Path, day: date, action: str, entry: dict, source: Path, position: int,
                new_take: str | None = None) -> str:
    """Keep a recording taken out of the day ("delete" or "replace", `new_take` the sha256 of the take put in
    its place): its audio, then a staged note naming it; the note's name. `_make_undo` makes it the undo."""
    folder = _undo_folder(out, day)
    stamp = time.time_ns()
    audio = f"{stamp}{Path(entry['file']).suffix}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        data = Path(source).read_bytes()
    except OSError as error:
        raise LibraryError(f"无法保存被删除的录音以便撤销（{error.strerror}）。请检查 --out 文件夹是否可以写入。",
                           f"cannot keep the removed recording for an undo ({error.strerror}); "
                           "check that the --out folder can be written", str(folder)) from None
    atomic_write(folder / audio, data)
    note = f"{_STAGED}{stamp}.json"
    atomic_write(folder / note, to_json({"action": action, "position": position, "entry": entry, "audio": audio,
                                         **({"new_take": new_take} if new_take else {})}))
    return note


def _make_undo(out: Path, day: date, note: str) -> None:
    """The staged `note` becomes the day's undo (one rename); the older undo's audio and leftovers go."""
    folder = _undo_folder(out, day)
    try:
        os.replace(folder / note, folder / _UNDO_FILE)
    except OSError:
        return          # the day is published all the same; only this undo is lost (the older one stays)
    kept = last_undo(out, day)
    for other in folder.iterdir():
        if other.name != _UNDO_FILE and (kept is None or other.name != kept["audio"]):
            other.unlink(missing_ok=True)


def _unstage(out: Path, day: date, note: str) -> None:
    """Forget a staged note and its audio: its publish failed."""
    folder = _undo_folder(out, day)
    try:
        audio = json.loads((folder / note).read_text(encoding="utf-8")).get("audio")
    except (OSError, ValueError, AttributeError):
        audio = None
    if isinstance(audio, str) and audio and "/" not in audio:
        (folder / audio).unlink(missing_ok=True)
    (folder / note).unlink(missing_ok=True)


def last_undo(out: Path, day: date) -> dict | None:
    """What an undo would put back for the day: {"action", "position", "entry", "audio"} (and "new_take", the
    sha256 of the take a replace put in), or None."""
    folder = _undo_folder(out, day)
    try:
        kept = json.loads((folder / _UNDO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("action") not in ("delete", "replace") \
            or not isinstance(kept.get("entry"), dict) or not isinstance(kept["entry"].get("id"), str) \
            or type(kept.get("position")) is not int or kept["position"] < 0 \
            or not isinstance(kept.get("audio"), str) or "/" in kept["audio"] or not (folder / kept["audio"]).is_file():
        return None
    return kept


def _drop_undo(out: Path, day: date, kept: dict) -> None:
    """Forget the undo `kept` once it is done: its note, when it is still the day's undo, and its audio."""
    folder = _undo_folder(out, day)
    if last_undo(out, day) == kept:
        (folder / _UNDO_FILE).unlink(missing_ok=True)
    (folder / kept["audio"]).unlink(missing_ok=True)


def gate(seg, open_db: float = GATE_OPEN_DB, depth_db: float = GATE_DEPTH_DB):
    """A gentle downward expander: sound near the noise floor is turned down by up to `depth_db`.

    The floor is the 10th percentile of 20 ms levels; the gain glides (instant
    opening a frame early, `GATE_RELEASE_S` closing), so words keep their edges.
    """
    import numpy as np

    from announcer.build.effects import one_pole, from_array, to_array

    x = to_array(seg)
    rate = seg.frame_rate
    levels = _frame_levels(x, rate)
    if levels.size < 5:
        return seg
    floor = float(np.percentile(levels, 10))
    loud = float(np.percentile(levels, 95))
    threshold = min(floor + open_db, loud - 10.0)
    under = np.clip(threshold - levels, 0.0, depth_db)        # dB to take off, per frame
    under[:-1] = np.minimum(under[:-1], under[1:])             # open a frame early
    frame = round(GATE_FRAME_S * rate)
    gain_db = -np.repeat(under, frame)[: x.size]
    gain_db = np.pad(gain_db, (0, x.size - gain_db.size), mode="edge")
    smooth = np.maximum(gain_db, one_pole(gain_db, rate, GATE_RELEASE_S))   # opens fast, closes slowly
    return from_array(x * np.power(10.0, smooth / 20.0), rate)


def speaking_seconds(seg) -> float:
    """The time with speech: the whole minus pauses of `PAUSE_S` or longer."""
    from announcer.build.effects import to_array

    levels = _frame_levels(to_array(seg), seg.frame_rate)
    if levels.size == 0:
        return 0.0
    import numpy as np

    speech = levels > float(np.percentile(levels, 95)) - SPEECH_UNDER_PEAK_DB
    pause_frames = math.ceil(PAUSE_S / GATE_FRAME_S)
    quiet, run = 0, 0
    for is_speech in speech:
        run = 0 if is_speech else run + 1
        if run == pause_frames:
            quiet += pause_frames
        elif run > pause_frames:
            quiet += 1
    # Leading or trailing quiet shorter than a pause counts as speech; that is at most PAUSE_S.
    return (levels.size - quiet) * GATE_FRAME_S


def pace(speakable, speaking_s: float, targets: dict[str, float]):
    """(pace, unit, warning or None) for the main language of `speakable`, or None with nothing to count.

    The speaking time is shared between languages by how long each would take at its target.
    """
    from announcer.build.speakable import PACE_UNIT_NAMES, PACE_UNITS
    from announcer.build.speech import in_pace_unit, per_second

    languages = [lang for lang in PACE_UNITS if speakable.units(lang) > 0]
    if not languages or speaking_s <= 0:
        return None
    needs = {lang: speakable.units(lang) / per_second(lang, targets[lang]) for lang in languages}
    main = max(languages, key=needs.get)
    seconds = speaking_s * needs[main] / sum(needs.values())
    value = in_pace_unit(main, speakable.units(main) / seconds)
    unit, target = PACE_UNITS[main], targets[main]
    note = None
    if abs(value / target - 1) > PACE_WARN_OFF:
        zh_unit, en_unit = PACE_UNIT_NAMES[unit]
        if value > target:
            note = Note(f"语速太快：{value:.1f} {zh_unit}，目标 {target:.1f}。请放慢一些重新录音。",
                        f"too fast: {value:.1f} {en_unit}, target {target:.1f}; record it again a little slower")
        else:
            note = Note(f"语速太慢：{value:.1f} {zh_unit}，目标 {target:.1f}。",
                        f"too slow: {value:.1f} {en_unit}, target {target:.1f}")
    return value, unit, note


def _frame_levels(x, rate: int):
    """RMS level in dB of each `GATE_FRAME_S` frame."""
    import numpy as np

    frame = round(GATE_FRAME_S * rate)
    count = x.size // frame
    if count == 0:
        return np.zeros(0)
    frames = x[: count * frame].reshape(count, frame)
    return 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-12)


def _clip_id(title: str | None, path: Path) -> str:
    from announcer.build.notices import slugify

    return slugify(title or path.stem) or "recording"
