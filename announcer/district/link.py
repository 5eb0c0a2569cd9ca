"""StationLink: a station's connection to its office, run next to the station by `announcer run` with [network].

    link = StationLink(config, out)      # config.network is set
    link.start()                          # returns at once; everything happens in its threads
    ...
    link.stop()                           # says "offline" (retained) and disconnects

- It logs in as its station id with a kept session (client id = station id, clean start off), so QoS 1 messages
  wait on the broker while the station is off. Its last will is a retained "offline" status; once connected it
  says "online" (retained), subscribes to its day and urgent topics at QoS 1, and paho reconnects on its own.
- A day's notices (checked by district.read_message; anything malformed or too large is logged and dropped) are
  kept in `<out>/.district/<date>.json` and the day is built, in a thread of its own, from the station's own
  notices plus the office's (tagged "office"), with the station's own voices. Its status then says what it built.
- An urgent notice plays at once through the station's control socket, as the page's "play now" does (urgent,
  cutting in), unless it was seen before (it plays once) or has expired (recorded missed). The day's attention
  clip (the chime alone, made when the link starts) plays first, the moment it arrives, while the notice is
  spoken; the notice follows it. In the quiet hours it waits for their end unless the office marked it an
  emergency. One taken but not played when the station stopped is played (or recorded missed) when it starts.
- Every play-log record goes to the office at least once, in the order written; one changed since it was sent
  (playing → played) goes again. While the broker cannot be reached the records wait in the play log.
- schedule.toml edited while it runs is followed as the station follows it: voices and quiet hours at once, new
  groups subscribed (those left unsubscribed), a new broker, station id or login connects again, and no
  [network] disconnects until it is back.

Nothing here can stop the station playing: every failure is logged, and the schedule plays on.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from announcer.build.district import (SentLog, UrgentSeen, attention_clip, attention_sound, build_with_office,
                                      built_mark, digest, save_day, speak_urgent, urgent_name, wanted_mark)
from announcer.core.config import Config, load_config
from announcer.core.control import StationClient
from announcer.core.district import (DayNotices, DistrictError, LastBroadcast, PlayRecord, StationStatus, Urgent,
                                     day_topics, log_topic, read_message, status_topic, urgent_topics)
from announcer.core.errors import AnnouncerError, shorten, tr
from announcer.core.library import Library
from announcer.core.mqtt import Login, connect
from announcer.core.plan import in_quiet_hours, station_zone
from announcer.core.playlog import FILE as PLAYLOG_FILE
from announcer.core.playlog import PlayLog, Record

log = logging.getLogger("announcer.district")

RETRY_S = 5.0          # the first connection is tried again this often (paho retries a lost one itself)
RECONNECT_MAX_S = 4    # paho's wait between tries to get a lost connection back grows 1, 2, 4 s, no longer:
                       # an urgent notice sent just after a broker restart waits for it
SEND_S = 1.0           # the play log is looked at this often for records to send
ACK_S = 5.0            # seconds the broker has to acknowledge a record or a status
QUIET_CHECK_S = 0.2    # an urgent notice waiting for the quiet hours' end looks at the clock this often
SAY_AGAIN_S = 600      # the same trouble is logged again after this long


class StationLink:
    """The station's side of the district; see the module's description. `engine` (tests): a speech engine, or
    what makes one, instead of the station's configured engines; `clock`: the current instant; `play(day, ids)`:
    plays clips now (default: through the running station's control socket)."""

    def __init__(self, config: Config, out: Path, *, engine=None, clock: Callable[[], datetime] | None = None,
                 play: Callable[[date, list[str]], object] | None = None, retry_s: float = RETRY_S,
                 send_s: float = SEND_S):
        if config.network is None:
            raise ValueError("StationLink needs config.network")
        self._use(config)
        self._config_state = _file_state(config.path) if config.path else None
        self._unwanted: set[str] = set()   # topics of groups left: unsubscribed at the next chance
        self.out = Path(out)
        self.engine = engine
        self.retry_s, self.send_s = retry_s, send_s
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._play = play or (lambda day, ids: StationClient(self.out).play_clips(day, ids))
        self.playlog, self.sent, self.seen = PlayLog(self.out), SentLog(self.out), UrgentSeen(self.out)
        self.connection = None
        self.dropped = 0                   # messages dropped as malformed (for tests and the log)
        self.records_sent = 0
        self._stop = threading.Event()
        self._wake = threading.Event()     # the sender looks at the play log now
        self._fresh = threading.Event()    # (re)connected: subscribe and say online
        self._status_due = threading.Event()
        self.prepared = threading.Event()  # the attention chime is made (or cannot be): urgent notices play at once
        self._builds: queue.Queue[date] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._built: tuple[date, int] | None = None
        self._log_state: tuple | None = None   # the play log file as last sent in full
        self._said: dict[str, tuple[str, float]] = {}

    # ---- start and stop

    def start(self) -> None:
        for name, target in (("link", self._run_link), ("messages", self._run_messages),
                             ("builds", self._run_builds)):
            thread = threading.Thread(target=self._guarded, args=(target,), name=f"announcer-district-{name}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info(tr(f"连接街道办的服务器 {self.network.broker}（站点 {self.station}）",
                    f"connecting to the office's broker {self.network.broker} (station {self.station})"))

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        """Say "offline" (retained) while still connected, then disconnect; waits briefly for the threads."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=3)
        self._disconnect()

    def wake(self) -> None:
        """Look at the play log for records to send now, not at the next turn."""
        self._wake.set()

    def _guarded(self, target) -> None:
        """A thread's loop, kept alive: an unexpected error is logged and the loop starts again."""
        while not self._stop.is_set():
            try:
                target()
                return
            except Exception as error:          # never let the link's trouble reach the station
                log.error(tr(f"街道办连接内部错误：{type(error).__name__}: {error}；继续运行",
                             f"internal error in the office link: {type(error).__name__}: {error}; carrying on"))
                if os.environ.get("ANNOUNCER_DEBUG"):
                    log.exception("office link")
                self._stop.wait(1.0)

    def _say(self, key: str, level: int, text: str) -> None:
        """Log `text`, but the same trouble under `key` only once in SAY_AGAIN_S."""
        last = self._said.get(key)
        now = time.monotonic()
        if last is None or last[0] != text or now - last[1] > SAY_AGAIN_S:
            self._said[key] = (text, now)
            log.log(level, text)

    # ---- schedule.toml edited

    def _use(self, config: Config) -> None:
        self.config, self.network = config, config.network
        self.zone = station_zone(config.station)
        if self.network is not None:
            self.station = self.network.station_id
            self.day_topics = day_topics(self.station, self.network.groups)
            self.urgent_topics = urgent_topics(self.station, self.network.groups)

    def follow_schedule(self) -> bool:
        """Use schedule.toml's new settings when it was edited, as the station does: voices, quiet hours and
        groups at once; a new broker, station id or login reconnects; no [network] disconnects until it is back.
        One with mistakes is left to the station to report (it keeps the last good one too). True when taken."""
        path = self.config.path
        state = _file_state(Path(path)) if path else None
        if state is None or state == self._config_state:
            return False
        self._config_state = state
        try:
            config = load_config(path)
        except AnnouncerError:
            return False
        before, after, topics = self.network, config.network, set(self.day_topics + self.urgent_topics)
        if after is None or before is None or _login_of(before) != _login_of(after):
            self._disconnect()                         # as the station it was
            self._use(config)
            if after is None:
                log.warning(tr(f"{path} 里没有 [network] 了：和街道办断开，电台照常播放",
                               f"{path} has no [network] now: disconnected from the office; the station plays on"))
            elif before is not None:
                log.info(tr(f"{path} 的 [network] 改了：重新连接街道办的服务器",
                            f"[network] in {path} changed: connecting to the office's broker again"))
            return True
        self._use(config)
        if before.groups != after.groups:
            self._unwanted |= topics - set(self.day_topics + self.urgent_topics)
            log.info(tr(f"{path} 的分组改了：现在是 {'、'.join(after.groups) or '无'}",
                        f"the groups in {path} changed: now {', '.join(after.groups) or 'none'}"))
            self._fresh.set()                          # subscribe to the new ones
        return True

    def _disconnect(self) -> None:
        """Say "offline" (retained) while still connected, and disconnect."""
        connection, self.connection = self.connection, None
        if connection is None:
            return
        try:
            if connection.client.is_connected():
                connection.publish(status_topic(self.station), self.status(online=False).to_json(), retain=True,
                                   timeout=2)
        except (AnnouncerError, OSError):
            pass
        connection.close()

    # ---- the connection

    def login(self) -> Login:
        n = self.network
        return Login(n.host, n.port, tls=n.tls, ca_file=n.ca_file, cert_file=n.cert_file, key_file=n.key_file,
                     username=n.username or None, password=n.password, client_id=self.station, keep_session=True)

    def _connect(self) -> bool:
        will = (status_topic(self.station), self.status(online=False).to_json(), True)
        try:
            connection = connect(self.login(), login_hint=(
                "请检查 schedule.toml 的 [network] 里的 password 或 password_file（街道办的 announcer office init 生成）",
                "check password or password_file in [network] of schedule.toml (announcer office init at the "
                "office made it)"), will=will)
        except AnnouncerError as error:
            self._say("connect", logging.ERROR,
                      tr(f"{error}；电台照常播放，{self.retry_s:g} 秒后再连",
                         f"{error}; the station plays on, trying again in {self.retry_s:g} s"))
            return False
        client = connection.client
        client.reconnect_delay_set(min_delay=1, max_delay=RECONNECT_MAX_S)
        answered = client.on_connect

        def on_connect(c, userdata, flags, reason, properties):
            answered(c, userdata, flags, reason, properties)
            if not reason.is_failure:
                self._fresh.set()
                self._wake.set()

        def on_disconnect(c, userdata, flags, reason, properties):
            if not self._stop.is_set():
                log.warning(tr(f"和街道办的服务器 {self.network.broker} 断开了连接；电台照常播放，会自动重连",
                               f"lost the office's broker {self.network.broker}; the station plays on and "
                               "reconnects by itself"))

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        self.connection = connection
        self._said.pop("connect", None)
        self._fresh.set()
        return True

    def connected(self) -> bool:
        return self.connection is not None and self.connection.client.is_connected()

    def _run_link(self) -> None:
        while not self._stop.is_set():
            self.follow_schedule()
            if self.network is None:                   # [network] taken out of schedule.toml
                self._stop.wait(self.send_s)
                continue
            if self.connection is None and not self._connect():
                self._stop.wait(self.retry_s)
                continue
            if self._fresh.is_set() and self.connected():
                self._fresh.clear()
                try:
                    if self._unwanted:                 # the kept session still has the groups left
                        self.connection.unsubscribe(*sorted(self._unwanted), timeout=ACK_S)
                        self._unwanted.clear()
                    self.connection.subscribe(*self.day_topics, *self.urgent_topics, timeout=ACK_S)
                    self._publish_status()
                    log.info(tr(f"已连上街道办的服务器 {self.network.broker}", f"connected to the office's broker "
                                f"{self.network.broker}"))
                except AnnouncerError as error:
                    self._fresh.set()
                    self._say("subscribe", logging.ERROR, str(error))
                    self._stop.wait(1.0)
                    continue
            if self._status_due.is_set() and self.connected():
                self._status_due.clear()
                try:
                    self._publish_status()
                except AnnouncerError as error:
                    self._status_due.set()
                    self._say("status", logging.WARNING, str(error))
            self.send_records()
            self._wake.wait(self.send_s)
            self._wake.clear()

    def _publish_status(self) -> None:
        self.connection.publish(status_topic(self.station), self.status().to_json(), retain=True, timeout=ACK_S)

    def status(self, online: bool = True) -> StationStatus:
        """What the office is told: online or not, the day built and its clips, voices, the last broadcast."""
        day, built = self._built or (None, 0)
        if day is None:
            today = self.today()
            try:
                manifest = Library(self.out).manifest(today)
            except AnnouncerError:
                manifest = None
            if manifest is not None:
                day, built = today, len(manifest.get("clips", []))
        last = None
        try:
            records = self.playlog.records(self.today(), self.zone)
            if records:
                r = records[-1]
                last = LastBroadcast(shorten(r.broadcast, 1000), r.scheduled, r.result)
        except (AnnouncerError, DistrictError):
            last = None
        speech = self.config.speech
        return StationStatus(self.station, online, self.now(), day=day, built=built,
                             engine={k: str(v) for k, v in speech.engines.items()},
                             voices={k: str(v) for k, v in speech.voices.items()}, last_broadcast=last,
                             groups=self.network.groups if self.network is not None else ())

    def now(self) -> datetime:
        return self._clock().astimezone(timezone.utc)

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()

    # ---- records to the office

    def send_records(self) -> int:
        """Send the play-log records not yet acknowledged, oldest first; each is noted sent only once the broker
        acknowledged it. Stops at the first failure (the rest wait for the next turn). How many were sent."""
        if not self.connected():
            return 0
        state = _file_state(self.out / PLAYLOG_FILE)
        if state == self._log_state:
            return 0
        sent = 0
        try:
            rows = self.playlog.written_since(self.sent.since())
            messages = []
            for record, written in rows:
                try:
                    messages.append((PlayRecord.of(self.station, record), written))
                except DistrictError as error:
                    self._say("record", logging.WARNING, tr(f"一条播放记录不能发给街道办：{error}",
                                                            f"a play-log record cannot go to the office: {error}"))
            known = self.sent.digests([m.id for m, _ in messages])
            for message, written in messages:
                data = message.to_json()
                if known.get(message.id) == digest(data):
                    continue
                self.connection.publish(log_topic(self.station), data, timeout=ACK_S)
                self.sent.done(message.id, digest(data), written)
                known[message.id] = digest(data)
                sent += 1
        except AnnouncerError as error:
            self._say("send", logging.WARNING, tr(f"播放记录暂时发不出去（{error}）；稍后再发",
                                                  f"play-log records cannot be sent now ({error}); they go later"))
            self._wake.clear()
            return sent
        self._log_state = state
        self.records_sent += sent
        if sent:
            self._said.pop("send", None)
            self._status_due.set()
        return sent

    # ---- messages from the office

    def _run_messages(self) -> None:
        while not self._stop.is_set():
            connection = self.connection
            if connection is None:
                self._stop.wait(0.2)
                continue
            try:
                message = connection.received.get(timeout=0.3)
            except queue.Empty:
                continue
            self.handle(message.topic, message.payload)

    def handle(self, topic: str, payload: bytes) -> None:
        """One message from the broker: checked before anything touches disk; a bad one is logged and dropped."""
        try:
            message = read_message(payload)
            if topic in self.day_topics and isinstance(message, DayNotices):
                self.take_day(topic, message)
            elif topic in self.urgent_topics and isinstance(message, Urgent):
                self.take_urgent(message)
            else:
                raise DistrictError(f"主题 {shorten(topic, 80)} 上不该有“{message.KIND}”消息",
                                    f"a \"{message.KIND}\" message does not belong on {shorten(topic, 80)}")
        except DistrictError as error:
            self.dropped += 1
            log.warning(tr(f"丢弃了来自 {shorten(topic, 80)} 的消息：{error}",
                           f"dropped a message from {shorten(topic, 80)}: {error}"))
        except AnnouncerError as error:
            log.error(tr(f"处理来自 {shorten(topic, 80)} 的消息失败：{error}",
                         f"could not use the message from {shorten(topic, 80)}: {error}"))

    def take_day(self, topic: str, message: DayNotices) -> None:
        """Keep the office's notices of a day and build it, unless it is past or built with them already."""
        try:
            save_day(self.out, topic, message)
        except OSError as error:
            log.error(tr(f"无法保存街道办 {message.day} 的通知（{error.strerror or error}）；请检查磁盘空间和文件夹权限",
                         f"cannot keep the office's notices of {message.day} ({error.strerror or error}); check "
                         "the disk space and the folder's permissions"))
            return
        if message.day < self.today():
            log.info(tr(f"街道办 {message.day} 的通知已经过了日期，只保存不生成",
                        f"the office's notices of {message.day} are for a past day: kept, not built"))
            return
        if built_mark(self.out, message.day) != wanted_mark(self.out, message.day):
            log.info(tr(f"收到街道办 {message.day} 的 {len(message.notices)} 条通知，开始生成",
                        f"received the office's {len(message.notices)} notice(s) of {message.day}; building"))
            self._builds.put(message.day)

    def _run_builds(self) -> None:
        self.resume_urgent()
        try:
            attention_sound(self.out, self.config)      # made now, so an urgent notice need not wait for it
        except AnnouncerError as error:
            log.warning(tr(f"紧急通知提示音做不出来（{error}）；紧急通知会直接播放",
                           f"cannot make the urgent notice chime ({error}); urgent notices play without it"))
        except OSError as error:
            log.warning(tr(f"紧急通知提示音保存不了（{error}）", f"cannot keep the urgent notice chime ({error})"))
        self.prepared.set()
        while not self._stop.is_set():
            try:
                day = self._builds.get(timeout=0.3)
            except queue.Empty:
                continue
            if built_mark(self.out, day) == wanted_mark(self.out, day):
                continue                                   # asked twice: built already
            try:
                made = build_with_office(self.out, day, self.config, self.engine)
            except AnnouncerError as error:
                log.error(tr(f"没能生成 {day} 的音频：{error}", f"could not build {day}: {error}"))
                continue
            self._built = (day, len(made.clips))
            log.info(tr(f"已生成 {day} 的音频：{len(made.clips)} 段（新合成 {made.rendered} 段）",
                        f"built {day}: {len(made.clips)} clip(s) ({made.rendered} spoken now)"))
            self._status_due.set()
            self._wake.set()

    def take_urgent(self, urgent: Urgent) -> None:
        """Play an urgent notice once, unless it expired; in the quiet hours it waits for them to end (an
        emergency does not)."""
        if not self.seen.first_time(urgent, self.now()):
            log.info(tr(f"紧急通知“{urgent_name(urgent)}”已经收到过，不再播放",
                        f"the urgent notice \"{urgent_name(urgent)}\" came again; it is not played twice"))
            return
        self._settle(urgent, tr("到达时已经过期", "expired before it arrived"))

    def _settle(self, urgent: Urgent, expired: str) -> None:
        """Play `urgent` in a thread of its own, or record it missed (`expired`: why) when it has expired."""
        if urgent.expired(self.now()):
            self._missed(urgent, expired)
            return
        thread = threading.Thread(target=self._guarded, args=(lambda: self._urgent(urgent),),
                                  name=f"announcer-urgent-{urgent.id[:8]}", daemon=True)
        thread.start()

    def resume_urgent(self) -> None:
        """The urgent notices taken but not played when the station stopped: played now, or recorded missed."""
        try:
            waiting = self.seen.waiting()
        except OSError as error:
            log.error(tr(f"读不到等待播放的紧急通知（{error}）", f"cannot read the urgent notices waiting ({error})"))
            return
        for urgent in waiting:
            log.info(tr(f"电台停止前没播出的紧急通知“{urgent_name(urgent)}”现在处理",
                        f"the urgent notice \"{urgent_name(urgent)}\" was not played before the station stopped; "
                        "taking it now"))
            self._settle(urgent, tr("电台停止期间过期", "expired while the station was stopped"))

    def _urgent(self, urgent: Urgent) -> None:
        quiet = self.config.station.quiet_hours
        local = self.now().astimezone(self.zone)
        if not urgent.emergency and in_quiet_hours(quiet, local.time()):
            end = datetime.combine(local.date(), quiet.end, tzinfo=self.zone)
            end = end if end > local else datetime.combine(local.date() + timedelta(days=1), quiet.end,
                                                           tzinfo=self.zone)
            if urgent.expires <= end:
                self._missed(urgent, tr("在静音时段内过期", "expired during the quiet hours"))
                return
            log.info(tr(f"紧急通知“{urgent_name(urgent)}”等静音时段结束（{end:%H:%M}）后播放",
                        f"the urgent notice \"{urgent_name(urgent)}\" plays when the quiet hours end ({end:%H:%M})"))
            while in_quiet_hours(quiet, self.now().astimezone(self.zone).time()):
                if self._stop.wait(QUIET_CHECK_S):
                    return                         # still waiting: played when the station starts again
        if urgent.expired(self.now()):
            self._missed(urgent, tr("在播放前过期", "expired before it could play"))
            return
        day = self.today()
        try:
            attention = self._attention(day)
            clip = speak_urgent(urgent, day, self.out, self.config, self.engine, chime=attention is None)
            reply = self._play(day, [clip])
        except AnnouncerError as error:
            log.error(tr(f"紧急通知“{urgent_name(urgent)}”没能播放：{error}",
                         f"the urgent notice \"{urgent_name(urgent)}\" could not play: {error}"))
            self._record(Record(urgent.issued, urgent_name(urgent), (), "failed", str(error)))
            self.seen.done(urgent)
            return
        self.seen.done(urgent)
        log.info(tr(f"播放紧急通知“{urgent_name(urgent)}”：{reply}",
                    f"playing the urgent notice \"{urgent_name(urgent)}\": {reply}"))

    def _attention(self, day: date) -> str | None:
        """Play the day's attention clip (the chime) now, so the loudspeaker sounds while the notice is spoken;
        its id, or None when there is none (the notice then carries the chime itself)."""
        try:
            attention = attention_clip(day, self.out, self.config)
            if attention is not None:
                self._play(day, [attention])
            return attention
        except AnnouncerError as error:
            log.warning(tr(f"提示音没能先播放（{error}）；紧急通知照常播放",
                           f"the chime could not play first ({error}); the urgent notice plays all the same"))
            return None

    def _missed(self, urgent: Urgent, why: str) -> None:
        log.warning(tr(f"紧急通知“{urgent_name(urgent)}”没有播放：{why}",
                       f"the urgent notice \"{urgent_name(urgent)}\" was not played: {why}"))
        self._record(Record(urgent.issued, urgent_name(urgent), (), "missed", why))
        self.seen.done(urgent)

    def _record(self, record: Record) -> None:
        try:
            self.playlog.add(record)
        except AnnouncerError as error:
            log.error(tr(f"无法写入播放记录：{error}", f"cannot use the play log: {error}"))
        self._wake.set()


def _login_of(network) -> tuple:
    """What [network] settings the connection is made with (all but the groups)."""
    return (network.host, network.port, network.tls, network.ca_file, network.cert_file, network.key_file,
            network.username, network.password, network.station_id)


def _file_state(path: Path) -> tuple | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino, found.st_ctime_ns

