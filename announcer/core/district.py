"""The district's wire protocol: MQTT topics and the four messages an office and its stations exchange.

One office (街道办) publishes a day's notices and urgent notices; each station (a community's loudspeaker
computer) reports its status and every play-log record. The topics (all under "announcer/v1/"):

    day/all, day/group/<group>, day/station/<id>           a day's notices (retained, QoS 1)
    urgent/all, urgent/group/<group>, urgent/station/<id>  an urgent notice (QoS 1, not retained)
    station/<id>/status                                    a station's status (retained; last will: offline)
    station/<id>/log                                       a station's play-log records (QoS 1)

Every message is one JSON object with "kind" and "v": 1. `from_json` checks a message completely (its size
first, then its schema, ids and dates as the web page checks them) before anything may touch disk, and
raises DistrictError for anything malformed; `to_json` refuses to send what `from_json` would refuse.
Pure and stdlib only: the MQTT client (paho) lives in the layers above.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, ClassVar

from announcer.core.config import STATION_ID      # a station's or a group's id, as [network] and district.toml write it
from announcer.core.errors import AnnouncerError, shorten
from announcer.core.playlog import RESULTS, Record

PREFIX = "announcer/v1/"
VERSION = 1
MAX_MESSAGE_BYTES = 2_500_000    # a day of notices up to the notices' 2 MB limit, plus the JSON around them
MAX_NOTICES = 500                # notices a day: the same as the command line's limit (build.notices.MAX_A_DAY)
MAX_NOTICE_TEXT = 20_000         # characters of one notice's text
MAX_TITLE = 200                  # characters of a title
MAX_URGENT_TEXT = 2_000          # characters of an urgent notice: it is short and read out at once
MAX_NAME = 200                   # an office's name, an engine's or voice's setting, a clip id in a record
MAX_BROADCAST = 1_000            # a broadcast's name (a play by hand is named after its clips)
MAX_REASON = 2_000               # why a broadcast was missed, skipped or failed
MAX_SETTINGS = 50                # entries of a station's engine or voices
MAX_CLIPS = 2_000                # clips of one play-log record
MAX_BUILT = 100_000              # clips a station reports built
MAX_GROUPS = 100                 # groups a station reports
MAX_REPEAT = 10                  # a notice's repeat, as in a notices file
LANGUAGES = ("zh", "en")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)   # as the web page checks a date

MESSAGE_ID = re.compile(r"^[0-9a-f]{32}$")
CLIP_ID = re.compile(r"^[a-z0-9-]{1,80}$")                 # a notice's id, as the web page's CLIP_ID
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")     # control characters, and halves of a character
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")   # the same, lines and tabs allowed


class DistrictError(AnnouncerError):
    """A district message or topic is malformed, or a station or group id is invalid."""


def new_message_id() -> str:
    """A fresh message id: 32 hex digits."""
    return secrets.token_hex(16)


def record_id(station: str, scheduled: datetime, broadcast: str) -> str:
    """A play-log record's stable id (32 hex digits): the same station, instant and broadcast always give the
    same id, whatever the time zone the instant is written in. The office keeps one record per id."""
    _check_station(station)
    moment = _aware(scheduled, "scheduled")
    _text(broadcast, "broadcast", MAX_BROADCAST)
    key = "\n".join((station, moment.astimezone(timezone.utc).isoformat(), broadcast))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# ---- topics

def valid_id(text: object) -> bool:
    """Whether `text` is a valid station or group id."""
    return isinstance(text, str) and STATION_ID.fullmatch(text) is not None


def _check_station(station: object, noun: tuple[str, str] = ("站点编号", "station id")) -> str:
    if not valid_id(station):
        shown = shorten(str(station), 40) if isinstance(station, str) else type(station).__name__
        raise DistrictError(f"{noun[0]}“{shown}”无效：只能用小写字母、数字和“-”，以字母或数字开头，最多 40 个字符。",
                            f"invalid {noun[1]} \"{shown}\": use only lowercase letters, digits and \"-\", "
                            "starting with a letter or digit, at most 40 characters")
    return station


def _check_groups(groups) -> list[str]:
    if isinstance(groups, str):
        groups = [groups]
    return list(dict.fromkeys(_check_station(g, ("分组名", "group")) for g in groups))


def _target_topic(section: str, target: str) -> str:
    if target == "all":
        return f"{PREFIX}{section}/all"
    if isinstance(target, str) and target.startswith("group:"):
        return f"{PREFIX}{section}/group/{_check_station(target[len('group:'):], ('分组名', 'group'))}"
    if isinstance(target, str) and valid_id(target):
        return f"{PREFIX}{section}/station/{target}"
    shown = shorten(target, 40) if isinstance(target, str) else type(target).__name__
    raise DistrictError(f"发送对象“{shown}”无效：请写 all（全部站点）、group:分组名，或一个站点编号。",
                        f"invalid target \"{shown}\": write all (every station), group:<group>, or a station id")


def day_topic(target: str) -> str:
    """Where the office publishes a day's notices for `target`: "all", "group:<group>" or a station id."""
    return _target_topic("day", target)


def urgent_topic(target: str) -> str:
    """Where the office publishes an urgent notice for `target`: "all", "group:<group>" or a station id."""
    return _target_topic("urgent", target)


def day_topics(station_id: str, groups=()) -> list[str]:
    """The day-notice topics a station subscribes to: all, each of its groups, then its own."""
    _check_station(station_id)
    return ([day_topic("all")] + [day_topic(f"group:{g}") for g in _check_groups(groups)]
            + [day_topic(station_id)])


def urgent_topics(station_id: str, groups=()) -> list[str]:
    """The urgent-notice topics a station subscribes to: all, each of its groups, then its own."""
    _check_station(station_id)
    return ([urgent_topic("all")] + [urgent_topic(f"group:{g}") for g in _check_groups(groups)]
            + [urgent_topic(station_id)])


def status_topic(station_id: str) -> str:
    """Where a station publishes its status (retained; its last will says offline)."""
    return f"{PREFIX}station/{_check_station(station_id)}/status"


def log_topic(station_id: str) -> str:
    """Where a station publishes its play-log records."""
    return f"{PREFIX}station/{_check_station(station_id)}/log"


STATION_TOPICS = f"{PREFIX}station/#"    # what the office subscribes to


def station_of(topic: str) -> str:
    """The station id of a status or log topic; DistrictError for any other topic."""
    parts = topic.split("/") if isinstance(topic, str) else []
    if (len(parts) == 5 and "/".join(parts[:2]) + "/" == PREFIX and parts[2] == "station"
            and parts[4] in ("status", "log") and valid_id(parts[3])):
        return parts[3]
    shown = shorten(topic, 80) if isinstance(topic, str) else type(topic).__name__
    raise DistrictError(f"主题“{shown}”不是站点的状态或播放记录主题，这条消息不予处理。",
                        f"topic \"{shown}\" is not a station's status or log topic; the message is not used")


# ---- checking a field

def _bad(zh: str, en: str) -> DistrictError:
    return DistrictError(f"区务消息有误：{zh}。", f"district message is not valid: {en}")


def _text(value: object, key: str, limit: int, *, empty: bool = False, lines: bool = False) -> str:
    """A string of at most `limit` characters; not blank unless `empty`; one line unless `lines`."""
    if not isinstance(value, str):
        raise _bad(f"“{key}”应是文字", f"\"{key}\" must be text")
    if len(value) > limit:
        raise _bad(f"“{key}”有 {len(value)} 个字符，超过 {limit} 个", f"\"{key}\" has {len(value)} characters, "
                   f"more than {limit}")
    if not empty and not value.strip():
        raise _bad(f"“{key}”是空的", f"\"{key}\" is empty")
    if (_TEXT_CONTROL if lines else _CONTROL).search(value):
        raise _bad(f"“{key}”含有控制字符或残缺字符", f"\"{key}\" contains control characters or broken characters")
    return value


def _message_id(value: object, key: str = "id") -> str:
    if not isinstance(value, str) or not MESSAGE_ID.fullmatch(value):
        raise _bad(f"“{key}”应是 32 位十六进制的消息编号", f"\"{key}\" must be a message id of 32 hex digits")
    return value


def _day(value: object, key: str) -> date:
    """A date written YYYY-MM-DD, from 2000 to 2099, as the web page takes it."""
    try:
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise _bad(f"“{key}”不是日期，应写成 2026-11-30 这样", f"\"{key}\" is not a date like 2026-11-30") from None
    return _day_range(day, key)


def _day_range(day: object, key: str) -> date:
    if not isinstance(day, date) or isinstance(day, datetime):
        raise _bad(f"“{key}”应是日期", f"\"{key}\" must be a date")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _bad(f"“{key}”的日期 {day} 超出 {FIRST_DAY} 到 {LAST_DAY}", f"\"{key}\" is {day}, outside "
                   f"{FIRST_DAY} to {LAST_DAY}")
    return day


def _moment(value: object, key: str) -> datetime:
    """An instant in ISO 8601 with its UTC offset (2026-11-30T08:00:00+08:00)."""
    try:
        if not isinstance(value, str) or len(value) > 40 or not _MOMENT.fullmatch(value):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(f"“{key}”应是带时区的时间，写成 2026-11-30T08:00:00+08:00 这样",
                   f"\"{key}\" must be a time with its UTC offset, like 2026-11-30T08:00:00+08:00") from None
    return _aware(moment, key)


def _aware(moment: object, key: str) -> datetime:
    if not isinstance(moment, datetime):
        raise _bad(f"“{key}”应是时间", f"\"{key}\" must be a time")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _bad(f"“{key}”的时间没有时区", f"\"{key}\" is a time without a UTC offset")
    if not FIRST_DAY.year <= moment.year <= LAST_DAY.year:
        raise _bad(f"“{key}”的时间 {moment} 超出 {FIRST_DAY.year} 到 {LAST_DAY.year} 年",
                   f"\"{key}\" is {moment}, outside the years {FIRST_DAY.year} to {LAST_DAY.year}")
    return moment


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(f"“{key}”应是 true 或 false", f"\"{key}\" must be true or false")
    return value


def _whole(value: object, key: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _bad(f"“{key}”应是 {low} 到 {high} 之间的整数", f"\"{key}\" must be a whole number from {low} to "
                   f"{high}")
    return value


def _settings(value: object, key: str) -> dict[str, str]:
    """A small table of names to texts (a station's engine or voices)."""
    if not isinstance(value, dict):
        raise _bad(f"“{key}”应是一张表", f"\"{key}\" must be a table")
    if len(value) > MAX_SETTINGS:
        raise _bad(f"“{key}”有 {len(value)} 项，超过 {MAX_SETTINGS} 项", f"\"{key}\" has {len(value)} entries, "
                   f"more than {MAX_SETTINGS}")
    return {_text(name, f"{key}.<name>", MAX_NAME):
            _text(setting, f"{key}.{shorten(str(name), 20)}", MAX_NAME, empty=True) for name, setting in value.items()}


def _optional(value: object, check, *args, **kwargs):
    return None if value is None else check(value, *args, **kwargs)


# ---- messages as JSON

def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _bad("同一个键出现了两次", "a key appears twice")
    return found


def _no_constant(name: str):
    raise _bad(f"含有 {name}，不是数值", f"contains {name}, which is not a number")


def _decode(data: object) -> dict:
    """The JSON object in `data` (bytes), its size checked before it is read."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _bad("消息应是字节", "a message must be bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise _bad(f"消息有 {len(data):,} 字节，超过 {MAX_MESSAGE_BYTES:,} 字节", f"the message has {len(data):,} "
                   f"bytes, more than {MAX_MESSAGE_BYTES:,}")
    try:
        message = json.loads(bytes(data).decode("utf-8"), object_pairs_hook=_no_repeated_keys,
                             parse_constant=_no_constant)
    except (ValueError, RecursionError):      # not UTF-8, not JSON, nested too deep, a huge number
        raise _bad("消息不是 JSON", "the message is not JSON") from None
    if not isinstance(message, dict):
        raise _bad("消息应是一个 JSON 对象", "the message must be a JSON object")
    return message


def _fields(message: dict, kind: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """`message` checked to be a version-1 message of `kind` with exactly these keys."""
    if not isinstance(message, dict):
        raise _bad("消息应是一个 JSON 对象", "the message must be a JSON object")
    if message.get("kind") != kind:
        got = message.get("kind")
        shown = shorten(got, 20) if isinstance(got, str) else ""
        raise _bad(f"消息类型应是“{kind}”，收到的是“{shown}”",
                   f"the message's kind must be \"{kind}\", not \"{shown}\"")
    if message.get("v") != VERSION or type(message.get("v")) is not int:
        raise _bad(f"消息版本应是 {VERSION}；请把两边的 announcer 更新到同一版本", f"the message's version must be "
                   f"{VERSION}; update announcer on both sides to the same version")
    missing = [key for key in required if key not in message]
    if missing:
        raise _bad(f"缺少“{missing[0]}”", f"\"{missing[0]}\" is missing")
    unknown = [key for key in message if key not in ("kind", "v") + required + optional]
    if unknown:
        raise _bad(f"有不认识的键“{shorten(unknown[0], 20)}”", f"unknown key \"{shorten(unknown[0], 20)}\"")
    return message


def _encode(body: dict) -> bytes:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise _bad(f"消息有 {len(data):,} 字节，超过 {MAX_MESSAGE_BYTES:,} 字节；请分几天或几次发送",
                   f"the message has {len(data):,} bytes, more than {MAX_MESSAGE_BYTES:,}; send it in parts")
    return data


# ---- the messages

@dataclass(frozen=True)
class DayNotice:
    """One notice of a day, as a notices file holds it."""
    id: str                          # as the web page's CLIP_ID
    title: str | None
    text: str
    language: str | None = None      # "zh", "en", or None: detected when built
    repeat: int | None = None        # 1 to 10, or None: the broadcast's

    def __post_init__(self):
        if not isinstance(self.id, str) or not CLIP_ID.fullmatch(self.id):
            shown = shorten(self.id, 20) if isinstance(self.id, str) else ""
            raise _bad(f"通知编号“{shown}”无效：只能用小写字母、数字和“-”，最多 80 个字符",
                       f"invalid notice id \"{shown}\": use only lowercase letters, digits and \"-\", at most 80")
        where = f"notices[{self.id}]"
        _optional(self.title, _text, f"{where}.title", MAX_TITLE)
        _text(self.text, f"{where}.text", MAX_NOTICE_TEXT, lines=True)
        if self.language is not None and self.language not in LANGUAGES:
            raise _bad(f"“{where}.language”应是 zh 或 en", f"\"{where}.language\" must be zh or en")
        _optional(self.repeat, _whole, f"{where}.repeat", 1, MAX_REPEAT)

    def to_dict(self) -> dict:
        entry = {"id": self.id, "title": self.title, "text": self.text}
        if self.language is not None:
            entry["language"] = self.language
        if self.repeat is not None:
            entry["repeat"] = self.repeat
        return entry

    @classmethod
    def from_dict(cls, entry: object) -> "DayNotice":
        if not isinstance(entry, dict):
            raise _bad("每条通知应是一个对象", "each notice must be an object")
        unknown = [key for key in entry if key not in ("id", "title", "text", "language", "repeat")]
        if unknown:
            raise _bad(f"通知里有不认识的键“{shorten(unknown[0], 20)}”", f"unknown key \"{shorten(unknown[0], 20)}\" "
                       "in a notice")
        for key in ("id", "text"):
            if key not in entry:
                raise _bad(f"有一条通知缺少“{key}”", f"a notice has no \"{key}\"")
        return cls(entry["id"], entry.get("title"), entry["text"], entry.get("language"), entry.get("repeat"))


@dataclass(frozen=True)
class DayNotices:
    """A day's notices from the office (kind "day"): each station builds them next to its own."""
    KIND: ClassVar[str] = "day"
    id: str                          # message id
    office: str                      # the office's name
    day: date
    issued: datetime                 # aware
    notices: tuple[DayNotice, ...]

    def __post_init__(self):
        _message_id(self.id)
        _text(self.office, "office", MAX_NAME)
        _day_range(self.day, "day")
        _aware(self.issued, "issued")
        if not isinstance(self.notices, (tuple, list)):
            raise _bad("“notices”应是通知的列表", "\"notices\" must be a list of notices")
        object.__setattr__(self, "notices", tuple(self.notices))
        if len(self.notices) > MAX_NOTICES:
            raise _bad(f"{self.day} 有 {len(self.notices)} 条通知，超过一天最多 {MAX_NOTICES} 条",
                       f"{self.day} has {len(self.notices)} notices, more than the {MAX_NOTICES} a day can hold")
        seen: set[str] = set()
        for notice in self.notices:
            if not isinstance(notice, DayNotice):
                raise _bad("“notices”应是通知的列表", "\"notices\" must be a list of notices")
            if notice.id in seen:
                raise _bad(f"通知编号“{notice.id}”用了两次", f"the notice id \"{notice.id}\" is used twice")
            seen.add(notice.id)

    def to_json(self) -> bytes:
        return _encode({"kind": self.KIND, "v": VERSION, "id": self.id, "office": self.office,
                        "day": self.day.isoformat(), "issued": _iso(self.issued),
                        "notices": [n.to_dict() for n in self.notices]})

    @classmethod
    def from_json(cls, data: bytes) -> "DayNotices":
        """The message in `data`, checked; DistrictError for anything malformed."""
        return cls.from_object(_decode(data))

    @classmethod
    def from_object(cls, message: dict) -> "DayNotices":
        """The message from its JSON object (already decoded, e.g. by read_message), checked."""
        m = _fields(message, cls.KIND, ("id", "office", "day", "issued", "notices"))
        if not isinstance(m["notices"], list):
            raise _bad("“notices”应是通知的列表", "\"notices\" must be a list of notices")
        if len(m["notices"]) > MAX_NOTICES:      # before each is checked
            raise _bad(f"有 {len(m['notices'])} 条通知，超过一天最多 {MAX_NOTICES} 条",
                       f"{len(m['notices'])} notices, more than the {MAX_NOTICES} a day can hold")
        return cls(_message_id(m["id"]), _text(m["office"], "office", MAX_NAME), _day(m["day"], "day"),
                   _moment(m["issued"], "issued"), tuple(DayNotice.from_dict(n) for n in m["notices"]))


@dataclass(frozen=True)
class Urgent:
    """An urgent notice from the office (kind "urgent"): built and played at once, until it expires."""
    KIND: ClassVar[str] = "urgent"
    id: str                          # message id: a notice delivered twice plays once
    text: str
    issued: datetime                 # aware
    expires: datetime                # aware, after issued: not played from then on (logged as missed)
    emergency: bool = False          # plays even in quiet hours
    title: str | None = None

    def __post_init__(self):
        _message_id(self.id)
        _text(self.text, "text", MAX_URGENT_TEXT, lines=True)
        _aware(self.issued, "issued")
        _aware(self.expires, "expires")
        if self.expires <= self.issued:
            raise _bad(f"过期时间 {self.expires} 不晚于发出时间 {self.issued}",
                       f"it expires at {self.expires}, not after it was issued at {self.issued}")
        _bool(self.emergency, "emergency")
        _optional(self.title, _text, "title", MAX_TITLE)

    def expired(self, now: datetime) -> bool:
        """Whether the notice is too late to play at `now` (aware)."""
        return now >= self.expires

    def to_json(self) -> bytes:
        return _encode({"kind": self.KIND, "v": VERSION, "id": self.id, "title": self.title, "text": self.text,
                        "issued": _iso(self.issued), "expires": _iso(self.expires), "emergency": self.emergency})

    @classmethod
    def from_json(cls, data: bytes) -> "Urgent":
        """The message in `data`, checked; DistrictError for anything malformed."""
        return cls.from_object(_decode(data))

    @classmethod
    def from_object(cls, message: dict) -> "Urgent":
        """The message from its JSON object (already decoded, e.g. by read_message), checked."""
        m = _fields(message, cls.KIND, ("id", "text", "issued", "expires", "emergency"), ("title",))
        return cls(_message_id(m["id"]), _text(m["text"], "text", MAX_URGENT_TEXT, lines=True),
                   _moment(m["issued"], "issued"), _moment(m["expires"], "expires"), _bool(m["emergency"], "emergency"),
                   _optional(m.get("title"), _text, "title", MAX_TITLE))


@dataclass(frozen=True)
class LastBroadcast:
    """The last broadcast a station played or tried: its name, when it was due, and its result."""
    name: str
    time: datetime                   # aware
    result: str                      # one of playlog.RESULTS

    def __post_init__(self):
        _text(self.name, "last_broadcast.name", MAX_BROADCAST)
        _aware(self.time, "last_broadcast.time")
        if self.result not in RESULTS:
            raise _bad(f"“last_broadcast.result”应是 {'、'.join(RESULTS)} 之一",
                       f"\"last_broadcast.result\" must be one of {', '.join(RESULTS)}")


@dataclass(frozen=True)
class StationStatus:
    """A station's status (kind "status", retained): online or not, what it built, its last broadcast."""
    KIND: ClassVar[str] = "status"
    station: str
    online: bool
    seen: datetime                   # aware: when this was sent
    day: date | None = None          # the day built, if any
    built: int = 0                   # clips built for that day
    engine: dict[str, str] = field(default_factory=dict)
    voices: dict[str, str] = field(default_factory=dict)
    last_broadcast: LastBroadcast | None = None
    groups: tuple[str, ...] | None = None   # the groups its schedule.toml names (None: not said)

    def __post_init__(self):
        _check_station(self.station)
        _bool(self.online, "online")
        _aware(self.seen, "seen")
        _optional(self.day, _day_range, "day")
        _whole(self.built, "built", 0, MAX_BUILT)
        object.__setattr__(self, "engine", _settings(self.engine, "engine"))
        object.__setattr__(self, "voices", _settings(self.voices, "voices"))
        if self.last_broadcast is not None and not isinstance(self.last_broadcast, LastBroadcast):
            raise _bad("“last_broadcast”应是 {name, time, result}", "\"last_broadcast\" must be {name, time, result}")
        if self.groups is not None:
            if not isinstance(self.groups, (list, tuple)) or len(self.groups) > MAX_GROUPS:
                raise _bad(f"“groups”应是最多 {MAX_GROUPS} 个分组名的列表",
                           f"\"groups\" must be a list of at most {MAX_GROUPS} group names")
            object.__setattr__(self, "groups", tuple(_check_groups(self.groups)))

    __hash__ = None      # engine and voices are tables

    def to_json(self) -> bytes:
        last = self.last_broadcast
        return _encode({"kind": self.KIND, "v": VERSION, "station": self.station, "online": self.online,
                        "seen": _iso(self.seen), "day": self.day.isoformat() if self.day else None,
                        "built": self.built, "engine": self.engine, "voices": self.voices,
                        "last_broadcast": None if last is None else {"name": last.name, "time": _iso(last.time),
                                                                     "result": last.result},
                        "groups": None if self.groups is None else list(self.groups)})

    @classmethod
    def from_json(cls, data: bytes) -> "StationStatus":
        """The message in `data`, checked; DistrictError for anything malformed."""
        return cls.from_object(_decode(data))

    @classmethod
    def from_object(cls, message: dict) -> "StationStatus":
        """The message from its JSON object (already decoded, e.g. by read_message), checked."""
        m = _fields(message, cls.KIND, ("station", "online", "seen"),
                    ("day", "built", "engine", "voices", "last_broadcast", "groups"))
        last = m.get("last_broadcast")
        if last is not None:
            if not isinstance(last, dict) or set(last) != {"name", "time", "result"}:
                raise _bad("“last_broadcast”应是 {name, time, result}",
                           "\"last_broadcast\" must be {name, time, result}")
            last = LastBroadcast(_text(last["name"], "last_broadcast.name", MAX_BROADCAST),
                                 _moment(last["time"], "last_broadcast.time"), last["result"])
        return cls(_check_station(m["station"]), _bool(m["online"], "online"), _moment(m["seen"], "seen"),
                   _optional(m.get("day"), _day, "day"), _whole(m.get("built", 0), "built", 0, MAX_BUILT),
                   _settings(m.get("engine", {}), "engine"), _settings(m.get("voices", {}), "voices"), last,
                   m.get("groups"))


@dataclass(frozen=True)
class PlayRecord:
    """One play-log record of a station (kind "record"), sent at least once; the office keeps one per id."""
    KIND: ClassVar[str] = "record"
    id: str                          # record_id(station, scheduled, broadcast)
    station: str
    scheduled: datetime              # aware
    broadcast: str
    clips: tuple[str, ...]           # clip ids
    result: str                      # one of playlog.RESULTS
    started: datetime | None = None
    ended: datetime | None = None
    reason: str | None = None

    def __post_init__(self):
        _check_station(self.station)
        _aware(self.scheduled, "scheduled")
        _text(self.broadcast, "broadcast", MAX_BROADCAST)
        if _message_id(self.id) != record_id(self.station, self.scheduled, self.broadcast):
            raise _bad("记录编号与站点、时间和广播对不上", "the record's id does not match its station, time and "
                       "broadcast")
        if not isinstance(self.clips, (tuple, list)):
            raise _bad("“clips”应是片段编号的列表", "\"clips\" must be a list of clip ids")
        object.__setattr__(self, "clips", tuple(self.clips))
        if len(self.clips) > MAX_CLIPS:
            raise _bad(f"“clips”有 {len(self.clips)} 个，超过 {MAX_CLIPS} 个", f"\"clips\" has {len(self.clips)} "
                       f"entries, more than {MAX_CLIPS}")
        for clip in self.clips:
            _text(clip, "clips[]", MAX_NAME)
        if self.result not in RESULTS:
            raise _bad(f"“result”应是 {'、'.join(RESULTS)} 之一", f"\"result\" must be one of {', '.join(RESULTS)}")
        _optional(self.started, _aware, "started")
        _optional(self.ended, _aware, "ended")
        _optional(self.reason, _text, "reason", MAX_REASON, empty=True, lines=True)

    @classmethod
    def of(cls, station: str, record: Record) -> "PlayRecord":
        """The message for a record of the station's play log."""
        return cls(record_id(station, record.scheduled, record.broadcast), station, record.scheduled,
                   record.broadcast, tuple(record.clips), record.result, record.started, record.ended, record.reason)

    def record(self) -> Record:
        """The play-log record this message carries."""
        return Record(self.scheduled, self.broadcast, self.clips, self.result, self.reason, self.started, self.ended)

    def to_json(self) -> bytes:
        return _encode({"kind": self.KIND, "v": VERSION, "id": self.id, "station": self.station,
                        "scheduled": _iso(self.scheduled), "broadcast": self.broadcast, "clips": list(self.clips),
                        "result": self.result, "started": _iso(self.started), "ended": _iso(self.ended),
                        "reason": self.reason})

    @classmethod
    def from_json(cls, data: bytes) -> "PlayRecord":
        """The message in `data`, checked; DistrictError for anything malformed."""
        return cls.from_object(_decode(data))

    @classmethod
    def from_object(cls, message: dict) -> "PlayRecord":
        """The message from its JSON object (already decoded, e.g. by read_message), checked."""
        m = _fields(message, cls.KIND, ("id", "station", "scheduled", "broadcast", "clips", "result"),
                    ("started", "ended", "reason"))
        if not isinstance(m["clips"], list):
            raise _bad("“clips”应是片段编号的列表", "\"clips\" must be a list of clip ids")
        return cls(_message_id(m["id"]), _check_station(m["station"]), _moment(m["scheduled"], "scheduled"),
                   _text(m["broadcast"], "broadcast", MAX_BROADCAST), tuple(m["clips"]), m["result"],
                   _optional(m.get("started"), _moment, "started"), _optional(m.get("ended"), _moment, "ended"),
                   m.get("reason"))


MESSAGES = {kind.KIND: kind for kind in (DayNotices, Urgent, StationStatus, PlayRecord)}


def read_message(data: bytes) -> DayNotices | Urgent | StationStatus | PlayRecord:
    """Whichever of the four messages `data` holds, checked; DistrictError for anything else."""
    message = _decode(data)
    kind = message.get("kind")
    if not isinstance(kind, str) or kind not in MESSAGES:
        shown = shorten(kind, 20) if isinstance(kind, str) else ""
        raise _bad(f"不认识的消息类型“{shown}”", f"unknown message kind \"{shown}\"")
    return MESSAGES[kind].from_object(message)
