"""The office's store, `<broker folder>/office.sqlite`: each station's last status, and its play-log records.

Records arrive at least once; each carries a stable id (district.record_id), and the store keeps one row per
id: a record delivered twice is stored once, and a later version of it (playing → played) replaces it
(an old "playing" arriving late does not undo the end).
Only checked messages (district.StationStatus / PlayRecord) are stored; they are kept as their JSON and read
back through the same checks.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from announcer.core.district import DistrictError, PlayRecord, StationStatus
from announcer.core.errors import AnnouncerError

FILE = "office.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS status (
    station TEXT PRIMARY KEY,
    last_seen TEXT NOT NULL,         -- the latest "seen" of any status received (UTC, ISO 8601)
    received TEXT NOT NULL,          -- when the office received the latest (UTC)
    message TEXT NOT NULL            -- the latest status, as its JSON
);
CREATE TABLE IF NOT EXISTS record (
    id TEXT PRIMARY KEY,             -- district.record_id: the same record twice is one row
    station TEXT NOT NULL,
    scheduled TEXT NOT NULL,         -- UTC, ISO 8601
    broadcast TEXT NOT NULL,
    result TEXT NOT NULL,
    received TEXT NOT NULL,
    message TEXT NOT NULL            -- the record, as its JSON
);
CREATE INDEX IF NOT EXISTS record_station ON record (station, scheduled);
"""


class OfficeLogError(AnnouncerError):
    """office.sqlite cannot be read or written."""


class OfficeLog:
    def __init__(self, folder: Path):
        self.path = Path(folder) / FILE

    def add_status(self, status: StationStatus) -> None:
        """Keep `status` as the station's latest; its last seen is the latest of all it sent."""
        seen = _utc(status.seen)
        with self._db() as db:
            db.execute("INSERT INTO status (station, last_seen, received, message) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (station) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), "
                       "received = excluded.received, message = excluded.message",
                       (status.station, seen, _utc(_now()), status.to_json().decode("utf-8")))

    def add_record(self, record: PlayRecord) -> None:
        """Keep `record`, replacing an earlier delivery or version of the same record (same id); a "playing"
        delivered late never replaces the record's end (played, failed...)."""
        with self._db() as db:
            db.execute("INSERT INTO record (id, station, scheduled, broadcast, result, received, message) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET station = excluded.station, "
                       "scheduled = excluded.scheduled, broadcast = excluded.broadcast, result = excluded.result, "
                       "received = excluded.received, message = excluded.message "
                       "WHERE excluded.result != 'playing' OR record.result = 'playing'",
                       (record.id, record.station, _utc(record.scheduled), record.broadcast, record.result,
                        _utc(_now()), record.to_json().decode("utf-8")))

    def statuses(self) -> dict[str, tuple[StationStatus, datetime]]:
        """Each station's latest status and when it was last seen."""
        found = {}
        for row in self._read("SELECT station, last_seen, message FROM status"):
            try:
                found[row[0]] = (StationStatus.from_json(row[2].encode("utf-8")), datetime.fromisoformat(row[1]))
            except (DistrictError, ValueError):       # changed by hand: as if never received
                continue
        return found

    def records(self, station: str | None = None) -> list[PlayRecord]:
        """The records kept (of one station), earliest first."""
        query = "SELECT message FROM record" + (" WHERE station = ?" if station else "") + " ORDER BY scheduled, id"
        found = []
        for row in self._read(query, (station,) if station else ()):
            try:
                found.append(PlayRecord.from_json(row[0].encode("utf-8")))
            except DistrictError:
                continue
        return found

    def last_records(self) -> dict[str, PlayRecord]:
        """Each station's latest record (by its scheduled time)."""
        found = {}
        for row in self._read("SELECT r.message FROM record r JOIN (SELECT station, max(scheduled) AS latest "
                              "FROM record GROUP BY station) l ON r.station = l.station AND r.scheduled = l.latest "
                              "ORDER BY r.id"):
            try:
                record = PlayRecord.from_json(row[0].encode("utf-8"))
            except DistrictError:
                continue
            found.setdefault(record.station, record)
        return found

    def _read(self, query: str, args: tuple = ()) -> list[tuple]:
        if not self.path.exists():
            return []
        with self._db() as db:
            return db.execute(query, args).fetchall()

    def _db(self) -> "_Db":
        return _Db(self)


class _Db:
    """One connection for one `with` block: committed at its end, rolled back on an error."""

    def __init__(self, log: OfficeLog):
        self.log, self.db = log, None

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db = sqlite3.connect(self.log.path, timeout=30)
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            self._close()
            raise _error(self.log.path, error) from None
        return self.db

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is None:
                self.db.commit()
        except sqlite3.Error as failed:
            raise _error(self.log.path, failed) from None
        finally:
            self._close()
        if isinstance(error, sqlite3.Error):
            raise _error(self.log.path, error) from None

    def _close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def _error(path: Path, error: sqlite3.Error) -> OfficeLogError:
    return OfficeLogError(f"街道办的记录文件读写失败（{error}）；请检查文件夹的权限和磁盘空间。文件损坏时可以把它改名，"
                          "各站点的状态会重新收到",
                          f"the office's store cannot be read or written ({error}); check the folder's permissions "
                          "and the free disk space. If the file is damaged, rename it: the stations' status "
                          "arrives again", str(path))


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _now() -> datetime:
    return datetime.now(timezone.utc)
