"""The office's side of the broker, shared by `announcer office ...` and the web page's District page: logging in
as the office, checking targets, sending a message to them, and collecting the stations' statuses and records
into the office's store (announcer.core.officelog).

    with office_connection(district, broker_dir) as connection: ...
    sent = send(district, broker_dir, ["all"], day_topic, message.to_json(), retain=True)
    got = collect(district, broker_dir, OfficeLog(broker_dir), wait=1.0)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from announcer.core.districtfile import OFFICE_USER, District
from announcer.core.errors import AnnouncerError, ConfigError, tr
from announcer.core.playlog import RESULT_NAMES

# `office status` keeps its session on the broker while it is away: the stations' play-log records wait there
# for the next time. (Publishing connects on its own, so it never takes those records.)
OFFICE_CLIENT = "announcer-office"
READ_TURN_S = 60.0      # how long `office status` waits for another reader of the kept session to finish


def office_connection(district: District, folder: Path, listen: bool = False):
    """Logged in to the district's broker as the office, with the password office init wrote into `folder`;
    `listen`: in the office's kept session, where the stations' messages wait for it."""
    from announcer.core.mqtt import Login, connect

    path = folder / "office.password"
    password = read_password(path)
    if password is None:
        raise AnnouncerError("没有街道办的密码文件：请先运行 announcer office init，或用 --broker-dir 指出它写的文件夹",
                             "the office's password file is missing: run announcer office init first, or point "
                             "--broker-dir at the folder it wrote", str(path))
    login = Login(district.host, district.port, district.tls, district.ca_file, username=OFFICE_USER,
                  password=password, client_id=OFFICE_CLIENT if listen else "", keep_session=listen)
    hint = (f"{path} 里的密码和服务器的不一致；请重新运行 announcer office init，再重启服务器",
            f"the password in {path} does not match the broker's; run announcer office init again and restart "
            "the broker")
    return connect(login, login_hint=hint)


def read_password(path: Path) -> str | None:
    """The password already in `path`, when it holds a usable one."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text and text.isprintable() and " " not in text and ":" not in text else None


# ---- targets: "all", "group:<group>" or a station id

def district_groups(district: District) -> list[str]:
    return sorted({g for s in district.stations for g in s.groups})


def checked_targets(district: District, targets: list[str] | None) -> list[str]:
    """The --to targets, each "all", "group:<group>" or a station id of the district (each once; default all).
    A target the district does not know is a usage error (exit 2) listing the ones it knows."""
    known_groups = district_groups(district)
    stations = [s.id for s in district.stations]
    chosen: list[str] = []
    for target in targets or ["all"]:
        target = target.strip()
        if target in ("all", *stations) or (target.startswith("group:") and target[6:] in known_groups):
            if target not in chosen:
                chosen.append(target)
            continue
        groups = ", ".join(f"group:{g}" for g in known_groups) or tr("（没有分组）", "(no groups)")
        raise ConfigError([AnnouncerError(
            f"{args_name(target)} 不在 {district.path} 里；可以写 all、站点编号 {', '.join(stations)}，或分组 {groups}",
            f"{args_name(target)} is not in {district.path}; write all, a station id ({', '.join(stations)}), or a "
            f"group ({groups})", "--to")])
    return ["all"] if "all" in chosen else chosen


def args_name(target: str) -> str:
    return f"“{one_line(target)[:60]}”"


def describe_target(district: District, target: str) -> str:
    """Whom a target reaches, in words: every station (3), group east (xingfuli, yangguang), or one station."""
    if target == "all":
        return tr(f"全部 {len(district.stations)} 个站点", f"every station ({len(district.stations)})")
    if target.startswith("group:"):
        group = target[len("group:"):]
        members = ", ".join(s.id for s in district.stations if group in s.groups)
        return tr(f"分组 {group}（{members}）", f"group {group} ({members})")
    station = next(s for s in district.stations if s.id == target)
    return tr(f"站点 {one_line(station.name)}（{station.id}）", f"station {one_line(station.name)} ({station.id})")


def reached(district: District, targets: list[str]) -> list[str]:
    """The ids of the stations the targets reach, each once, in the district's order."""
    return [s.id for s in district.stations
            if "all" in targets or s.id in targets or any(f"group:{g}" in targets for g in s.groups)]


def one_line(text: str) -> str:
    """A name for one line: nothing in it can start a line of its own."""
    return " ".join(text.split())


# ---- sending

def send(district: District, folder: Path, targets: list[str], topic_of: Callable[[str], str], data: bytes, *,
         retain: bool = False, sent: Callable[[str], None] = lambda target: None) -> list[str]:
    """Publish `data` to each target's topic (QoS 1, acknowledged), calling `sent(target)` after each; the ids of
    the stations reached. BrokerError (an AnnouncerError) when the broker cannot be reached or refuses."""
    with office_connection(district, folder) as connection:
        for target in targets:
            connection.publish(topic_of(target), data, retain=retain)
            sent(target)
    return reached(district, targets)


def urgent_message(text: str, expires: timedelta, emergency: bool, title: str | None):
    """An urgent notice issued now, playable for `expires`."""
    from announcer.core.district import Urgent, new_message_id

    issued = datetime.now().astimezone()
    return Urgent(new_message_id(), text, issued, issued + expires, emergency, title)


# ---- collecting the stations' statuses and records

@dataclass
class Collected:
    statuses: int = 0
    records: int = 0
    dropped: list[tuple[str, AnnouncerError]] = field(default_factory=list)   # (topic, why)


def collect(district: District, folder: Path, store, wait: float, patience: float = READ_TURN_S) -> Collected:
    """Listen `wait` seconds in the office's kept session for the stations' statuses and play-log records, and keep
    each checked one in `store` (an OfficeLog); waits up to `patience` for another reader to finish first.
    BrokerError when the broker cannot be reached; AnnouncerError when the other reader does not finish."""
    from announcer.core.district import STATION_TOPICS, DistrictError

    with reading(folder, patience):
        connection = office_connection(district, folder, listen=True)
        try:
            connection.subscribe(STATION_TOPICS)
            messages = connection.receive(wait)
        finally:
            connection.close()
    messages += connection.receive(0)         # what came in while it closed: acknowledged, so kept too
    got = Collected()
    unique = {(m.topic, m.payload): m for m in messages}     # a retained status comes twice: queued, and again
    for message in unique.values():                          # on subscribing
        try:
            kind = keep_message(store, message.topic, message.payload)
        except DistrictError as error:            # the store failing is an error of its own
            got.dropped.append((message.topic, error))
            continue
        got.statuses += kind == "status"
        got.records += kind == "record"
    return got


@contextmanager
def reading(folder: Path, patience: float):
    """The office's kept session has one reader at a time (a second one with its client id would push the first
    off the broker): `office status` and the District page take turns through `<folder>/office.lock`. Waits up to
    `patience` seconds for the other to finish; AnnouncerError after that."""
    import fcntl

    path = folder / "office.lock"
    try:
        handle = open(path, "a")
    except OSError as error:
        raise AnnouncerError(f"无法打开 {path}（{error.strerror or error}）；请检查这个文件夹的权限",
                             f"cannot open {path} ({error.strerror or error}); check the folder's permissions",
                             str(path)) from None
    with handle:
        deadline = time.monotonic() + max(patience, 0)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise AnnouncerError("另一个 announcer office status（或辖区网页）正在读取站点的消息；请稍后再试",
                                         "another announcer office status (or the District page) is reading the "
                                         "stations' messages; try again in a moment", str(path)) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def keep_message(store, topic: str, payload: bytes) -> str | None:
    """Check one message from a station's topic and keep it in the office's store: "status", "record", or None for
    an empty one (a retained status cleared). DistrictError when it is malformed or on the wrong topic."""
    from announcer.core.district import DistrictError, PlayRecord, StationStatus, read_message, station_of

    station = station_of(topic)
    if not payload:
        return None
    message = read_message(payload)
    expected = StationStatus if topic.endswith("/status") else PlayRecord
    if not isinstance(message, expected):
        raise DistrictError(f"这个主题上应是{'状态' if expected is StationStatus else '播放记录'}",
                            f"this topic carries {'statuses' if expected is StationStatus else 'play-log records'} "
                            "only")
    if message.station != station:
        raise DistrictError(f"消息说自己来自站点 {message.station}，却发在 {station} 的主题上",
                            f"the message says it is from station {message.station}, but came on {station}'s topic")
    if isinstance(message, StationStatus):
        store.add_status(message)
        return "status"
    store.add_record(message)
    return "record"


@dataclass(frozen=True)
class StationRow:
    """One station of the office's table (office status, the District page), in one language."""
    id: str
    name: str
    seen: bool                        # False: never seen
    online: bool = False
    last_seen: str = ""
    today: str = ""
    last_broadcast: str = ""
    result: str = ""                  # played / missed / ... (a class name)
    result_text: str = ""
    settings: str = ""
    groups_note: str = ""             # its schedule.toml's groups differ from district.toml's: what it misses


def station_rows(district: District, store, today: date, lang: str) -> list[StationRow]:
    """Every station of `district` as `store` (an OfficeLog) knows it, in `lang`: the last play record or the
    last status's broadcast, whichever is newer."""
    en = lang == "en"

    def T(zh: str, en_text: str) -> str:
        return en_text if en else zh

    def clock(moment: datetime) -> str:
        local = moment.astimezone()
        return f"{local:%H:%M}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"

    statuses, last_records = store.statuses(), store.last_records()
    rows = []
    for station in district.stations:
        if station.id not in statuses:
            rows.append(StationRow(station.id, station.name, seen=False))
            continue
        status, seen = statuses[station.id]
        if status.day == today:
            built = T(f"已生成 {status.built} 段", f"built, {status.built} clips")
        elif status.day is not None:
            built = T(f"未生成（最近生成的是 {status.day}）", f"not built (last built: {status.day})")
        else:
            built = T("未生成", "not built")
        last, record = status.last_broadcast, last_records.get(station.id)
        if record is not None and (last is None or record.scheduled > last.time):
            last_name, last_time, result = record.broadcast, record.scheduled, record.result
        elif last is not None:
            last_name, last_time, result = last.name, last.time, last.result
        else:
            last_name = last_time = result = None
        names = RESULT_NAMES.get(result, (result, result)) if result else ("", "")
        settings = "; ".join(", ".join(f"{k} {v}".strip() for k, v in table.items())
                             for table in (status.engine, status.voices) if table)
        rows.append(StationRow(station.id, station.name, True, status.online, clock(seen), built,
                        f"{clock(last_time)} {last_name}" if last_name else "", result or "",
                        names[1] if en else names[0], settings, groups_note(station.groups, status.groups, en)))
    return rows


def groups_note(given: tuple[str, ...], named: tuple[str, ...] | None, en: bool) -> str:
    """What a station misses when the groups its schedule.toml names (`named`) are not those district.toml gives
    it (`given`): the broker's ACL lets it read only the given ones, and says nothing of the others. "" when
    they agree, or the station did not say."""
    if named is None:
        return ""
    extra = [g for g in named if g not in given]
    missing = [g for g in given if g not in named]
    notes = []
    if extra:
        notes.append(f"its schedule.toml names the group(s) {', '.join(extra)}, which district.toml does not give "
                     "it: nothing sent to them reaches it (add them to its groups in district.toml and run office "
                     "init again, or take them out of its [network])" if en else
                     f"它的 schedule.toml 写了分组 {'、'.join(extra)}，district.toml 里没给它：发给这些分组的通知它收不到"
                     "（在 district.toml 里给它加上并重新运行 office init，或从它的 [network] 里删掉）")
    if missing:
        notes.append(f"district.toml gives it the group(s) {', '.join(missing)}, which its schedule.toml leaves "
                     "out: nothing sent to them reaches it (add them to groups in its [network])" if en else
                     f"district.toml 给它的分组 {'、'.join(missing)} 没写在它的 schedule.toml 里：发给这些分组的通知它收不到"
                     "（在它的 [network] 的 groups 里加上）")
    return ("; " if en else "；").join(notes)
