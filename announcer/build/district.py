"""What a station keeps of its office under `<out>/.district/`, and the builds that use it.

    <date>.json     the office's notices of a day: one checked DayNotices message per topic (all, a group, this
                    station), each replaced by the next one on its topic; kept apart from the page's own
                    `<out>/.notices/<date>.toml`
    <date>.built    which of those messages the day was last built with
    urgent.json     the urgent notices seen (id → expiry): one delivered twice plays once
    urgent-waiting/ each urgent notice seen but not yet played (or missed): played when the station starts again
    attention.*     the attention clip (the chime alone) that plays the moment an urgent notice arrives
    sent.sqlite     the play-log records the broker has acknowledged (id → what was sent), and how far the
                    play log has been read

A day is built from the station's own saved notices plus the office's, the office's tagged "office"; an urgent
notice is spoken into one clip appended to the day ("urgent-<first 8 of its id>"), after the day's attention
clip ("urgent-attention"), which plays while it is spoken.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
import threading
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from announcer import __version__
from announcer.build.day import (DayBuild, build_day, chime_for, chime_identity, finish, loudness_warnings,
                                unique_id)
from announcer.build.notices import Notice, read_notices
from announcer.core.config import Config
from announcer.core.district import DayNotices, DistrictError, Urgent, read_message
from announcer.core.errors import LibraryError, shorten, tr
from announcer.core.library import Library, atomic_write, to_json
from announcer.core.plan import ONCE_TAG

FOLDER = ".district"
NOTICES_DIR = ".notices"         # the page's own notices of each day (announcer/web/today.py writes them)
OFFICE_TAG = "office"
URGENT_TAG = ONCE_TAG           # "all" broadcasts leave it out: it played when it came
URGENT_KEEP = timedelta(days=2)  # an urgent id is remembered this long after it expired
SENT_MARGIN = timedelta(minutes=10)   # the play log is read again this far back (writers commit out of order)


def folder(out: Path) -> Path:
    return Path(out) / FOLDER


def day_file(out: Path, day: date) -> Path:
    return folder(out) / f"{day.isoformat()}.json"


# ---- the office's notices of a day

def stored_days(out: Path, day: date) -> dict[str, DayNotices]:
    """The office's messages kept for `day`, by topic; {} when none (or the file is unreadable: said in the log
    by the caller's next save)."""
    path = day_file(out, day)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {topic: DayNotices.from_object(message) for topic, message in data["messages"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, DistrictError):
        return {}


def save_day(out: Path, topic: str, message: DayNotices) -> bool:
    """Keep `message` as what the office sent on `topic` for its day (atomically); False when it was kept already."""
    kept = stored_days(out, message.day)
    if topic in kept and kept[topic].id == message.id:
        return False
    kept[topic] = message
    body = {"date": message.day.isoformat(),
            "messages": {t: json.loads(m.to_json()) for t, m in sorted(kept.items())}}
    folder(out).mkdir(parents=True, exist_ok=True)
    atomic_write(day_file(out, message.day), to_json(body))
    return True


def office_notices(out: Path, day: date) -> list[Notice]:
    """The office's notices of `day` as Notices tagged "office": everybody's first, then the groups', then
    this station's own; an id used twice gets -2, -3..."""
    kept = stored_days(out, day)
    order = sorted(kept, key=lambda t: (0 if t.endswith("/all") else 1 if "/group/" in t else 2, t))
    found: list[Notice] = []
    taken: set[str] = set()
    label = f"{FOLDER}/{day.isoformat()}.json"
    for topic in order:
        for number, n in enumerate(kept[topic].notices, start=1):
            notice_id = unique_id(n.id, taken)
            taken.add(notice_id)
            found.append(Notice(id=notice_id, title=n.title, text=n.text, language=n.language, repeat=n.repeat,
                                valid_from=None, valid_until=None, tags=(OFFICE_TAG,), source=label, line=1,
                                number=number))
    return found


def own_notices(out: Path, day: date) -> list[Notice]:
    """The station's own notices saved for `day` on the page (`.notices/<date>.toml`), [] when none; read as a
    notices file given to the commands (NoticeError when it cannot be read)."""
    path = Path(out) / NOTICES_DIR / f"{day.isoformat()}.toml"
    if not path.is_file():
        return []
    return [replace(n, source=f"{NOTICES_DIR}/{day.isoformat()}.toml") for n in read_notices([path])]


def built_mark(out: Path, day: date) -> str:
    """Which office messages the day was last built with ("" when never)."""
    try:
        return (folder(out) / f"{day.isoformat()}.built").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def wanted_mark(out: Path, day: date) -> str:
    """The office messages kept for `day`, as one line: different whenever one of them changed."""
    return " ".join(f"{topic}={message.id}" for topic, message in sorted(stored_days(out, day).items()))


def with_office(own: list[Notice], out: Path, day: date) -> list[Notice]:
    """`own` (the station's notices of `day`) followed by the office's, tagged "office", their ids kept apart
    from the station's: what a build of the day is made from, by the link and by the page alike."""
    taken = {n.id for n in own}
    office = []
    for notice in office_notices(out, day):
        notice = replace(notice, id=unique_id(notice.id, taken))
        taken.add(notice.id)
        office.append(notice)
    return own + office


def build_with_office(out: Path, day: date, config: Config, engine=None) -> DayBuild:
    """Build `day` from the station's own saved notices and the office's (tagged "office"), with the station's
    voices; the office messages it used are noted. NoticeError / SpeechError / ... as build_day raises them."""
    mark = wanted_mark(out, day)
    made = build_day(with_office(own_notices(out, day), out, day), day, out, config,
                     engine=engine() if callable(engine) else engine)
    atomic_write(folder(out) / f"{day.isoformat()}.built", mark.encode("utf-8"))
    return made


# ---- urgent notices

class UrgentSeen:
    """The urgent notices seen, in `<out>/.district/urgent.json` (id → expiry), forgotten two days after they
    expire; and those not yet settled (played, missed or failed), each in `urgent-waiting/<id>.json`, so a
    station stopped before it could play one plays it when it starts again (the broker will not send it again)."""

    def __init__(self, out: Path):
        self.path = folder(out) / "urgent.json"
        self.waiting_dir = folder(out) / "urgent-waiting"
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def first_time(self, urgent: Urgent, now: datetime) -> bool:
        """Note `urgent` as seen, and waiting until done(); False when it was seen before (a second delivery)."""
        with self._lock:
            seen = self._read()
            if urgent.id in seen:
                return False
            horizon = now - URGENT_KEEP
            kept = {}
            for key, expires in seen.items():
                try:
                    if datetime.fromisoformat(expires) >= horizon:
                        kept[key] = expires
                except ValueError:
                    continue
            kept[urgent.id] = urgent.expires.isoformat()
            self.waiting_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(self.waiting_dir / f"{urgent.id}.json", urgent.to_json())
            atomic_write(self.path, to_json(kept))
            return True

    def done(self, urgent: Urgent) -> None:
        """`urgent` is settled: played, missed or failed."""
        (self.waiting_dir / f"{urgent.id}.json").unlink(missing_ok=True)

    def waiting(self) -> list[Urgent]:
        """The urgent notices seen but not settled, oldest first; an unreadable file is removed."""
        found = []
        for path in sorted(self.waiting_dir.glob("*.json")) if self.waiting_dir.is_dir() else []:
            try:
                message = read_message(path.read_bytes())
                if not isinstance(message, Urgent):
                    raise DistrictError("not an urgent notice", "not an urgent notice")
                found.append(message)
            except (OSError, DistrictError):
                path.unlink(missing_ok=True)
        return sorted(found, key=lambda u: u.issued)


def urgent_clip_id(urgent: Urgent) -> str:
    return f"urgent-{urgent.id[:8]}"


def urgent_name(urgent: Urgent) -> str:
    """What the play log calls an urgent notice: "紧急通知：<title>" / "urgent: <title>"."""
    return tr("紧急通知：", "urgent: ") + shorten(urgent.title or urgent.text.replace("\n", " "), 60)


def speak_urgent(urgent: Urgent, day: date, out: Path, config: Config, engine=None, *, chime: bool = True) -> str:
    """Speak `urgent` with the station's engines and append it to `day` in the library (under the library's
    lock, the day's clips kept); the new clip's id. `chime`: the configured chime before the speech (not when
    the attention clip has just played it)."""
    from announcer.build.speakable import make_speakable
    from announcer.build.speech import Speaker, open_speaker

    audio = config.audio
    where = urgent_name(urgent)
    speakable = make_speakable(urgent.text)
    made = engine() if callable(engine) else engine
    speaker = open_speaker(config.speech) if made is None else Speaker(made, config.speech)
    try:
        speech = speaker.speak(speakable, where=where)
    finally:
        speaker.close()
    data, heard, lufs, peak = finish(speech.audio, audio, chime=chime_for(audio) if chime else None, where=where)
    warnings = list(speech.warnings) + loudness_warnings(lufs, audio)
    details = {"text": urgent.text, "tags": [OFFICE_TAG, URGENT_TAG], "spoken_text": speakable.spoken_text,
               "language": speakable.language, "engine": speech.engine, "voice": speech.voice,
               "duration_s": round(len(heard) / 1000, 2), "loudness_lufs": round(lufs, 2),
               "true_peak_dbtp": round(peak, 2),
               "speech_rate": {"value": round(speech.pace, 2), "unit": speech.pace_unit},
               "sha256": hashlib.sha256(data).hexdigest(), "warnings": [str(w) for w in warnings]}
    title = urgent.title or tr("紧急通知", "urgent notice")
    return _append_clip(out, day, urgent_clip_id(urgent), title, data, details, audio.format)


class _Present(Exception):
    """The day has the clip already: nothing to publish."""


def _append_clip(out: Path, day: date, base_id: str, title: str, data: bytes, details: dict, audio_format: str, *,
                 once: bool = False) -> str:
    """Append a clip (`data`, an `audio_format` file) to `day` under the library's lock, the day's clips kept;
    its id. `once`: when the day has a clip `base_id` already, that one is the answer and nothing changes."""
    library = Library(out)
    library.prepare()
    made_ids: list[str] = []
    with tempfile.TemporaryDirectory(dir=library.out, prefix=".urgent-") as tmp:

        def append(current):
            found, manifest = current if current is not None else (None, {"clips": []})
            existing = list(manifest.get("clips", []))
            if once and found is not None and any(c.get("id") == base_id and (found / c.get("file", "")).is_file()
                                                  for c in existing):
                raise _Present
            clip_id = unique_id(base_id, {c.get("id") for c in existing})
            name = f"{len(existing) + 1:02d}-{clip_id}.{audio_format}"
            (Path(tmp) / name).write_bytes(data)
            entry = {"id": clip_id, "title": title, "file": name, **details}
            made_ids.append(clip_id)
            files = [(c["file"], found / c["file"]) for c in existing] + [(name, Path(tmp) / name)]
            return files, {**manifest, "date": day.isoformat(), "announcer": __version__, "clips": [*existing, entry]}

        try:
            library.update(day, append, replace_damaged=True)
        except _Present:
            return base_id
    return made_ids[-1]


# ---- the attention chime of urgent notices

ATTENTION_ID = "urgent-attention"


def attention_sound(out: Path, config: Config) -> tuple[bytes, dict] | None:
    """The attention clip: the station's chime alone, with its lead-in, at the loudness target, as (file bytes,
    details); made once and kept in `<out>/.district/attention.<format>` for these [audio] settings. None when
    [audio] chime = "none". AudioError as finish raises it."""
    audio = config.audio
    chime = chime_for(audio)
    if chime is None:
        return None
    key = _attention_key(config)
    sound, about = folder(out) / f"attention.{audio.format}", folder(out) / "attention.json"
    try:
        details = json.loads(about.read_text(encoding="utf-8"))
        data = sound.read_bytes()
        if details.get("key") == key and details.get("sha256") == hashlib.sha256(data).hexdigest():
            return data, {k: v for k, v in details.items() if k != "key"}
    except (OSError, ValueError, AttributeError):
        pass
    plain = replace(audio, compress=False, highpass_hz=0)            # a bell, not speech
    data, heard, lufs, peak = finish(chime, plain, chime=None, where=tr("紧急通知提示音", "the urgent notice chime"))
    details = {"text": "", "tags": [OFFICE_TAG, URGENT_TAG],
               "duration_s": round(len(heard) / 1000, 2), "loudness_lufs": round(lufs, 2),
               "true_peak_dbtp": round(peak, 2), "sha256": hashlib.sha256(data).hexdigest(), "warnings": []}
    folder(out).mkdir(parents=True, exist_ok=True)
    atomic_write(sound, data)
    atomic_write(about, to_json({**details, "key": key}))
    return data, details


def _attention_key(config: Config) -> str:
    audio = config.audio
    recipe = {"announcer": __version__, "audio": {**asdict(audio), "chime": chime_identity(audio)}}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def attention_clip(day: date, out: Path, config: Config) -> str | None:
    """The id of `day`'s attention clip, appended to the day the first time (from attention_sound); None when
    the station has no chime. An urgent notice plays it at once, while the notice itself is spoken."""
    found = attention_sound(out, config)
    if found is None:
        return None
    data, details = found
    return _append_clip(out, day, ATTENTION_ID, tr("紧急通知提示音", "urgent notice chime"), data, details,
                        config.audio.format, once=True)


# ---- play-log records sent

class SentLog:
    """The play-log records the broker has acknowledged, in `<out>/.district/sent.sqlite`: each record's id with
    a digest of what was sent (a record changed since, playing → played, is sent again), and the latest play-log
    time read (the next read starts SENT_MARGIN before it)."""

    def __init__(self, out: Path):
        self.path = folder(out) / "sent.sqlite"

    def _db(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA synchronous = FULL")
        db.executescript("CREATE TABLE IF NOT EXISTS sent (id TEXT PRIMARY KEY, digest TEXT NOT NULL);"
                         "CREATE TABLE IF NOT EXISTS mark (one INTEGER PRIMARY KEY CHECK (one = 0), "
                         "written TEXT NOT NULL);")
        return db

    def _use(self, action):
        try:
            db = self._db()
        except sqlite3.Error as error:
            raise _sent_error(self.path, error) from None
        try:
            with db:
                return action(db)
        except sqlite3.Error as error:
            raise _sent_error(self.path, error) from None
        finally:
            db.close()

    def since(self) -> str | None:
        """Where to read the play log from: SENT_MARGIN before the latest time read; None: from the start."""
        row = self._use(lambda db: db.execute("SELECT written FROM mark").fetchone())
        if row is None:
            return None
        try:
            return (datetime.fromisoformat(row[0]) - SENT_MARGIN).astimezone(timezone.utc).isoformat()
        except ValueError:
            return None

    def digests(self, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            rows = self._use(lambda db: db.execute(
                f"SELECT id, digest FROM sent WHERE id IN ({','.join('?' * len(part))})", part).fetchall())
            found.update(rows)
        return found

    def done(self, record_id: str, digest: str, written: str) -> None:
        """The broker acknowledged this version of the record, written to the play log at `written`."""
        def note(db):
            db.execute("INSERT INTO sent (id, digest) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET digest = "
                       "excluded.digest", (record_id, digest))
            db.execute("INSERT INTO mark (one, written) VALUES (0, ?) ON CONFLICT (one) DO UPDATE SET written = "
                       "max(written, excluded.written)", (written,))
        self._use(note)


def _sent_error(path: Path, error: sqlite3.Error) -> LibraryError:
    return LibraryError(f"记不下已发给街道办的播放记录（{error}）；请检查磁盘空间和文件夹权限。记录会在能写入后重新发送",
                        f"cannot note the play-log records sent to the office ({error}); check the disk space and "
                        "the folder's permissions. The records are sent again once it works", str(path))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]

