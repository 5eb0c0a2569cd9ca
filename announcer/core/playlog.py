"""The play log: proof of what the station broadcast, at `<out>/playlog.sqlite`.

Every occurrence gets a record: when it was due, which clips, and what became
of it (played, missed, skipped, failed, with the reason), plus when it really
started and ended. Each record is committed to disk before `add` returns
(SQLite, synchronous=FULL), so a crash or power cut keeps all that were added.
Any number of processes may read and write it at once: the station writes,
`announcer log` reads. Times are stored as instants with the offset they were
given, so a record reads back exactly as written.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path

from announcer.core.errors import LibraryError, tr

FILE = "playlog.sqlite"
RESULTS = ("played", "missed", "skipped", "failed", "playing")   # playing: started, not ended (yet)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    id INTEGER PRIMARY KEY,
    due_us INTEGER NOT NULL,         -- the scheduled instant, microseconds since 1970 UTC
    scheduled TEXT NOT NULL,         -- the same, ISO 8601 with its UTC offset
    broadcast TEXT NOT NULL,
    clips TEXT NOT NULL,             -- JSON array of clip ids
    result TEXT NOT NULL,
    reason TEXT,
    started TEXT,
    ended TEXT,
    written TEXT NOT NULL            -- when the record was added (UTC)
);
CREATE INDEX IF NOT EXISTS record_due ON record (due_us);
CREATE INDEX IF NOT EXISTS record_broadcast ON record (broadcast, due_us);
"""


class PlayLogError(LibraryError):
    """The play log cannot be read or written."""


@dataclass(frozen=True)
class Record:
    scheduled: datetime              # aware
    broadcast: str
    clips: tuple[str, ...]           # clip ids
    result: str                      # "played", "missed", "skipped", "failed", "playing"
    reason: str | None = None
    started: datetime | None = None
    ended: datetime | None = None

    def to_json(self, zone: tzinfo | None = None) -> dict:
        """For `announcer log --json`: times in ISO 8601, in `zone` when given."""
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else (moment.astimezone(zone) if zone else moment).isoformat()

        return {"scheduled": iso(self.scheduled), "broadcast": self.broadcast, "clips": list(self.clips),
                "result": self.result, "reason": self.reason, "started": iso(self.started), "ended": iso(self.ended)}


class PlayLog:
    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / FILE

    def add(self, record: Record) -> None:
        """Keep `record`, replacing any earlier record of the same occurrence (broadcast and scheduled
        instant: a "playing" row becomes what the turn ended as); on disk when this returns."""
        self.add_many([record])

    def add_many(self, records: list[Record]) -> None:
        """`add` each of `records`, in one transaction (a catch-up may record hundreds of missed occurrences)."""
        rows = [_row(record) for record in records]
        if not rows:
            return
        with self._connect(write=True) as db:
            for row in rows:
                db.execute("DELETE FROM record WHERE broadcast = ? AND due_us = ?", (row[2], row[0]))
                db.execute("INSERT INTO record (due_us, scheduled, broadcast, clips, result, reason, started, ended, "
                           "written) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    def records(self, day: date | None = None, zone: tzinfo | None = None) -> list[Record]:
        """Every record, or those scheduled on `day` in `zone` (None: this machine's zone); by scheduled time."""
        query, args = "SELECT * FROM record", ()
        if day is not None:
            query, args = query + " WHERE due_us >= ? AND due_us < ?", (_us(_midnight(day, zone)),
                                                                        _us(_midnight(day + timedelta(1), zone)))
        return [_record(row) for row in self._read(query + " ORDER BY due_us, id", args)]

    def seen(self, broadcast: str, scheduled: datetime) -> bool:
        """Whether this occurrence has any record (also "playing"): it has been dealt with and must not play again."""
        rows = self._read("SELECT 1 FROM record WHERE broadcast = ? AND due_us = ? LIMIT 1",
                          (broadcast, _us(scheduled)))
        return bool(rows)

    def written_since(self, since: str | None = None) -> list[tuple[Record, str]]:
        """Records added or replaced at or after `since` (a time as the log writes it: UTC, ISO 8601; None: all),
        each with that time, in the order written: what a station has still to send to its office."""
        query, args = "SELECT * FROM record", ()
        if since is not None:
            query, args = query + " WHERE written >= ?", (since,)
        return [(_record(row), row["written"]) for row in self._read(query + " ORDER BY written, id", args)]

    def unfinished(self) -> list[Record]:
        """Records still "playing": their station stopped before the broadcast ended."""
        return [_record(row) for row in self._read("SELECT * FROM record WHERE result = 'playing' ORDER BY due_us, id")]

    def last_scheduled(self, exclude: tuple[str, ...] = ()) -> datetime | None:
        """The latest scheduled time recorded, leaving out broadcasts whose names start with one of `exclude`
        (exactly: case and wildcards count); None when there is none."""
        where = " AND ".join("substr(broadcast, 1, ?) != ?" for _ in exclude)
        args = tuple(x for prefix in exclude for x in (len(prefix), prefix))
        rows = self._read("SELECT scheduled FROM record" + (f" WHERE {where}" if where else "")
                          + " ORDER BY due_us DESC, id DESC LIMIT 1", args)
        return datetime.fromisoformat(rows[0]["scheduled"]) if rows else None

    # --- the file -------------------------------------------------------------

    def _read(self, query: str, args: tuple = ()) -> list[sqlite3.Row]:
        if not self.path.exists():                 # nothing recorded yet; reading creates nothing
            return []
        try:
            with self._connect(write=False) as db:
                return db.execute(query, args).fetchall()
        except PlayLogError as e:
            if "no such table" in e.en:           # a writer has just created the file
                return []
            raise

    def _connect(self, write: bool) -> "_Connection":
        return _Connection(self, write)

    def _open(self, write: bool) -> sqlite3.Connection:
        try:
            if write:
                self.out.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            else:
                db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                                     isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous = FULL")
            if write:
                db.executescript(_SCHEMA)
            return db
        except sqlite3.DatabaseError as e:
            if write and _damaged(e) and self._set_aside():
                return self._open(write)
            raise self._error(e) from None
        except OSError as e:
            raise self._error(e) from None

    def _set_aside(self) -> bool:
        """Move a damaged log out of the way (kept for inspection) so the station can go on recording."""
        try:
            self.path.rename(self.path.with_name(f"{FILE}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"))
            return True
        except OSError:
            return False

    def _error(self, e: Exception) -> PlayLogError:
        reason = str(e)
        if _damaged(e):
            return PlayLogError(f"播放记录文件已损坏（{reason}）。请把它改名保存，电台会新建一个。",
                                f"the play log is damaged ({reason}); rename it and the station will start a new one",
                                str(self.path))
        return PlayLogError(f"无法读写播放记录（{reason}）。请检查磁盘空间和文件夹权限。",
                            f"cannot read or write the play log ({reason}); check the disk space and the folder's "
                            "permissions", str(self.path))


class _Connection:
    """One connection per call, in one transaction: safe across threads and processes."""

    def __init__(self, log: PlayLog, write: bool):
        self.log, self.write = log, write

    def __enter__(self) -> sqlite3.Connection:
        self.db = self.log._open(self.write)
        try:
            self.db.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
        except sqlite3.Error as e:
            self.db.close()
            raise self.log._error(e) from None
        return self.db

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                self.db.execute("COMMIT")
            else:
                self.db.execute("ROLLBACK")
        except sqlite3.Error as e:
            if kind is None:
                raise self.log._error(e) from None
        finally:
            self.db.close()
        if isinstance(error, sqlite3.Error):
            raise self.log._error(error) from None


def _row(record: Record) -> tuple:
    if record.result not in RESULTS:
        raise ValueError(f"result must be one of {RESULTS}, not {record.result!r}")
    return (_us(record.scheduled), _iso(record.scheduled), record.broadcast, json.dumps(list(record.clips)),
            record.result, record.reason, _iso(record.started), _iso(record.ended),
            datetime.now(timezone.utc).isoformat())


def _damaged(e: Exception) -> bool:
    return isinstance(e, sqlite3.DatabaseError) and ("not a database" in str(e) or "malformed" in str(e))


def _us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the play log needs aware datetimes, not {moment!r}")
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    _us(moment)
    return moment.isoformat()


def _midnight(day: date, zone: tzinfo | None) -> datetime:
    """The day's first instant in `zone` (None: this machine's zone)."""
    moment = datetime(day.year, day.month, day.day)
    return moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()


RESULT_NAMES = {"played": ("已播放", "played"), "missed": ("错过", "missed"), "skipped": ("跳过", "skipped"),
                "failed": ("失败", "failed"), "playing": ("正在播放", "playing")}
RESULT_STYLES = {"played": "green", "missed": "yellow", "skipped": "dim", "failed": "bold red", "playing": "cyan"}


def log_table(records: list[Record], zone: tzinfo | None = None, title: str | None = None):
    """The play log for people: a rich Table, times in `zone`."""
    from rich.table import Table
    from rich.text import Text

    def clock(moment: datetime | None) -> str:
        return (moment.astimezone(zone) if zone else moment.astimezone()).strftime("%H:%M:%S") if moment else ""

    table = Table(title=title, title_justify="left")
    table.add_column(tr("时间", "time"), no_wrap=True)
    table.add_column(tr("广播", "broadcast"), overflow="fold")
    table.add_column(tr("片段", "clips"), overflow="fold")
    table.add_column(tr("结果", "result"), no_wrap=True)
    table.add_column(tr("原因", "reason"), overflow="fold")
    table.add_column(tr("实际开始–结束", "started–ended"), no_wrap=True)
    for r in records:
        actual = f"{clock(r.started)}–{clock(r.ended)}" if r.started or r.ended else "—"
        due = clock(r.scheduled)
        table.add_row(due[:-3] if due.endswith(":00") else due, Text(r.broadcast), Text("\n".join(r.clips) or "—"),
                      Text(tr(*RESULT_NAMES.get(r.result, (r.result, r.result))), style=RESULT_STYLES.get(r.result, "")),
                      Text(r.reason or "—"), actual)
    return table


def _record(row: sqlite3.Row) -> Record:
    def when(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return Record(when(row["scheduled"]), row["broadcast"], tuple(json.loads(row["clips"])), row["result"],
                  row["reason"], when(row["started"]), when(row["ended"]))
