"""A district on one machine: Mosquitto and N stations (StationLink threads); prints figures, asserts nothing.

The broker is set up by `announcer office init` for N stations on a free loopback port; each station is the
station's own link code (announcer.district.link.StationLink) in a thread of this process, with its own out
folder and schedule.toml ([network] with its password file, player "null", the espeak-ng engine). Instead of
the station's control socket, each station's `play` hook notes when it was asked to play (the clip is spoken
by then). It prints:
- `office urgent` to every station's first play (the attention chime, played the moment the notice arrives):
  median, 95th percentile, maximum (target: 95th at most 5 s); then to the spoken notice's play;
- `office publish` of a small notices file to every station built: median, maximum;
- broker and station (this process) CPU and memory;
- play-log records lost and duplicated at the office after a broker restart (targets 0 and 0).

    .venv/bin/python bench/district.py [--stations 50] [--records 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from broker import MOSQUITTO, MOSQUITTO_PASSWD, Broker, free_port, office_init  # noqa: E402

from announcer.build.district import ATTENTION_ID, built_mark, speak_urgent, wanted_mark  # noqa: E402
from announcer.cli import main as announcer  # noqa: E402
try:                                                     # where they are moving to
    from announcer.core.office import keep_message, office_connection  # noqa: E402
except ImportError:
    from announcer.cli.office import keep_message, office_connection  # noqa: E402
from announcer.core.config import load_config  # noqa: E402
from announcer.core.district import STATION_TOPICS, PlayRecord, Urgent, new_message_id, read_message  # noqa: E402
from announcer.core.districtfile import load_district  # noqa: E402
from announcer.core.library import Library  # noqa: E402
from announcer.core.officelog import OfficeLog  # noqa: E402
from announcer.core.playlog import PlayLog, Record  # noqa: E402
from announcer.district.link import StationLink  # noqa: E402

TARGET_P95_S = 5.0
DOWN_S = 4.0                       # how long the broker is stopped
NOTICES = """\
[[notice]]
id = "water"
title = "停水通知"
text = "本周六上午九点到十二点，街道全域停水，请提前储水。"

[[notice]]
id = "vaccine"
title = "疫苗接种"
text = "周日上午社区卫生服务站为老人接种流感疫苗，请带身份证。"
"""
TICK = os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU seconds and resident memory of the broker (whichever process it is now) and of this process, sampled
    every half second in a thread of its own."""

    def __init__(self, broker):
        self.broker = broker
        self.ticks: dict[int, int] = {}            # pid → CPU ticks last seen (the broker restarts: a new pid)
        self.peak = {"broker": 0, "stations": 0}
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        process = self.broker.process
        for name, pid in (("broker", process.pid if process else None), ("stations", os.getpid())):
            if pid is None:
                continue
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                self.ticks[pid] = int(fields[11]) + int(fields[12])        # utime + stime
                rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                           if line.startswith("VmRSS:"))
            except (OSError, StopIteration, IndexError, ValueError):
                continue
            self.peak[name] = max(self.peak[name], rss)

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: the broker's (all its processes) and this process's."""
        self.sample()
        mine = os.times()                          # with the espeak-ng and ffmpeg it ran
        return {"broker": sum(t for pid, t in self.ticks.items() if pid != os.getpid()) / TICK,
                "stations": mine.user + mine.system + mine.children_user + mine.children_system}

    def rss_mb(self, name: str) -> float:
        return self.peak[name] / 1024

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Plays:
    """A station's `play` hook, instead of the control socket: when it was first asked to play (the attention
    chime: the loudspeaker's first sample) and when the notice itself (monotonic)."""

    def __init__(self):
        self.at: float | None = None
        self.spoken: float | None = None

    def __call__(self, day, ids):
        now = time.monotonic()
        self.at = self.at or now
        if ids != [ATTENTION_ID]:
            self.spoken = self.spoken or now
        return "playing"


def until(check, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]     # nearest rank


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"median {statistics.median(values):.2f} s, 95th {quantile(values, 0.95):.2f} s, "
            f"max {max(values):.2f} s")


def make_station(folder: Path, broker_dir: Path, port: int, station_id: str) -> tuple[StationLink, Plays]:
    home = folder / station_id
    home.mkdir()
    shutil.copy(broker_dir / "stations" / f"{station_id}.password", home / f"{station_id}.password")
    (home / "schedule.toml").write_text(f"""\
[station]
player = "null"

[speech]
engine = "espeak-ng"

[network]
broker = "mqtt://127.0.0.1:{port}"
station_id = "{station_id}"
password_file = "{station_id}.password"
""", encoding="utf-8")
    plays = Plays()
    return StationLink(load_config(home / "schedule.toml"), home / "out", play=plays), plays


def office(*words: str) -> None:
    """An `announcer office ...` command, in this process, its output swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = announcer(["office", *words])
    if code != 0:
        raise SystemExit(f"announcer office {words[0]} failed ({code})")


def collect(district, broker_dir: Path, expected: set[str], timeout: float) -> tuple[Counter, OfficeLog]:
    """As `office status` does: the office's kept session, every station message kept in office.sqlite; listens
    until every expected record came (or `timeout`), then a little longer for duplicates. Deliveries by id."""
    store = OfficeLog(broker_dir)
    deliveries: Counter = Counter()
    connection = office_connection(district, broker_dir, listen=True)
    deadline = time.monotonic() + timeout
    try:
        connection.subscribe(STATION_TOPICS)
        extra, quiet = None, time.monotonic() + 10.0      # nothing new for 5 s (10 at first): all there is
        while time.monotonic() < min(deadline, quiet) and (extra is None or time.monotonic() < extra):
            for message in connection.receive(0.5):
                keep(store, deliveries, message)
                quiet = time.monotonic() + 5.0
            if extra is None and expected <= set(deliveries):
                extra = time.monotonic() + 2.0
    finally:
        connection.close()
    for message in connection.receive(0):
        keep(store, deliveries, message)
    return deliveries, store


def keep(store: OfficeLog, deliveries: Counter, message) -> None:
    if keep_message(store, message.topic, message.payload) == "record":
        deliveries[read_message(message.payload).id] += 1


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--stations", type=int, default=50, help="stations (default 50)")
    options.add_argument("--records", type=int, default=20, help="play-log records per station, before and again "
                                                                  "during the broker's restart (default 20)")
    args = options.parse_args()
    if not (MOSQUITTO and MOSQUITTO_PASSWD):
        raise SystemExit("Debian's mosquitto package is not installed (sudo apt-get install mosquitto)")
    if not shutil.which("espeak-ng"):
        raise SystemExit("espeak-ng is not installed (sudo apt-get install espeak-ng)")
    errors = Counter()

    class Count(logging.Handler):
        def emit(self, record):
            errors[record.levelname] += 1

    station_log = logging.getLogger("announcer")
    station_log.setLevel(logging.WARNING)
    station_log.propagate = False
    station_log.handlers[:] = [Count()]               # counted, not shown: the restart makes many warnings
    n = args.stations
    ids = [f"s{i:03d}" for i in range(1, n + 1)]
    with tempfile.TemporaryDirectory(prefix="announcer-district-") as tmp:
        folder = Path(tmp)
        port = free_port()
        district_text = f'[office]\nbroker = "mqtt://127.0.0.1:{port}"\n' + "".join(
            f'\n[[station]]\nid = "{i}"\nname = "社区 {i}"\n' for i in ids)
        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):           # office init's instructions
            broker = Broker(office_init(folder, district_text, port), port)
        broker.start()
        links: list[StationLink] = []
        meter = Meter(broker)
        try:
            run(args, folder, broker, ids, links, meter, started)
        finally:
            stoppers = [threading.Thread(target=link.stop) for link in links]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
            meter.stop()
            broker.stop()
    print(f"station log: {errors['WARNING']} warnings, {errors['ERROR'] + errors['CRITICAL']} errors "
          "(the broker's restart makes a warning per station)")


def run(args, folder: Path, broker, ids: list[str], links: list, meter: Meter, started: float) -> None:
    n, cores = len(ids), os.cpu_count() or 1
    broker_dir = broker.folder
    district_file = folder / "district.toml"
    district = load_district(district_file)
    common = ["--district", str(district_file), "--broker-dir", str(broker_dir)]
    office("status", "--wait", "0", *common)           # the office's kept session exists: records wait for it
    print(f"{n} stations, {args.records} records each before and during a broker restart; {cores} cores; "
          f"broker {broker.port} ({MOSQUITTO}); load average {os.getloadavg()[0]:.1f}")

    plays, arrived = {}, {}
    for station_id in ids:
        link, plays[station_id] = make_station(folder, broker_dir, broker.port, station_id)
        links.append(link)

        def take(urgent, station=station_id, take=link.take_urgent):      # when the message reached it
            arrived.setdefault(station, time.monotonic())
            take(urgent)
        link.take_urgent = take

    # one urgent clip spoken alone: what each station has to do before it can play
    now = datetime.now(timezone.utc)
    probe = Urgent(new_message_id(), "请注意，今晚八点起大风降温，请关好门窗，收好阳台物品。", now,
                   now + timedelta(minutes=30), True, "大风降温")
    speak_urgent(probe, links[0].today(), folder / "probe", links[0].config, chime=False)   # warm: imports
    t = time.monotonic()
    speak_urgent(probe, links[0].today(), folder / "probe", links[0].config, chime=False)
    alone = time.monotonic() - t

    cpu = meter.cpu()
    t = time.monotonic()
    for link in links:
        link.start()
    online = until(lambda: all(link.connected() for link in links), 60)
    print(f"stations connected: {sum(link.connected() for link in links)}/{n} in {time.monotonic() - t:.1f} s"
          + ("" if online else " (not all within 60 s)"))
    time.sleep(1.0)                                      # subscriptions granted
    prepared = until(lambda: all(link.prepared.is_set() for link in links), 120)
    print(f"stations ready (attention chime made): {sum(link.prepared.is_set() for link in links)}/{n} after "
          f"{time.monotonic() - t:.1f} s" + ("" if prepared else " (not all within 120 s)"))
    phases = []

    def phase(name: str, before: dict, seconds: float) -> None:
        now = meter.cpu()
        phases.append((name, {k: now[k] - before[k] for k in now}, seconds))

    phase("connect", cpu, time.monotonic() - t)

    # 1. urgent: from `office urgent` to each station's play
    cpu, t = meter.cpu(), time.monotonic()
    office("urgent", probe.text, "--title", "大风降温", "--emergency", *common)
    done = until(lambda: all(p.spoken is not None for p in plays.values()), 180)
    waits = [p.at - t for p in plays.values() if p.at is not None]
    spoken = [p.spoken - t for p in plays.values() if p.spoken is not None]
    phase("urgent", cpu, time.monotonic() - t)
    print()
    print(f"urgent notice to first play (the attention chime), {len(waits)}/{n} stations: {spread(waits)}")
    print(f"  target: 95th percentile at most {TARGET_P95_S:g} s with espeak-ng -> "
          f"{'met' if waits and len(waits) == n and quantile(waits, 0.95) <= TARGET_P95_S else 'NOT met'}")
    print(f"  the message reached the stations (network only): {spread([a - t for a in arrived.values()])}")
    print(f"  the notice itself, spoken, to play, {len(spoken)}/{n} stations: {spread(spoken)}"
          + ("" if done else " (the rest did not play within 180 s)"))
    floor = alone * n / cores
    print(f"  one urgent clip spoken alone (espeak-ng, loudness, mp3): {alone:.2f} s; {n} stations on "
          f"{cores} cores need at least about {floor:.1f} s of synthesis before the last notice can play; "
          f"on real machines each station speaks on its own computer: about {alone:.1f} s after its chime")

    # 2. a day's notices: from `office publish` to every station built
    day = links[0].today()
    notices = folder / "notices.toml"
    notices.write_text(NOTICES, encoding="utf-8")

    def built(link) -> bool:
        mark = built_mark(link.out, day)
        return bool(mark) and mark == wanted_mark(link.out, day) and Library(link.out).manifest(day) is not None

    cpu, t = meter.cpu(), time.monotonic()
    office("publish", str(notices), "--date", day.isoformat(), *common)
    ready: dict[str, float] = {}

    def all_built() -> bool:
        for link in links:
            if link.station not in ready and built(link):
                ready[link.station] = time.monotonic() - t
        return len(ready) == n

    done = until(all_built, 180, step=0.1)
    phase("publish", cpu, time.monotonic() - t)
    times = list(ready.values())
    print()
    print(f"day's notices (2) to built, {len(times)}/{n} stations: "
          + (f"median {statistics.median(times):.2f} s, max {max(times):.2f} s" if times else "none")
          + ("" if done else " (the rest not built within 180 s)"))

    # 4. records: M each, the broker stopped, M more while it is down, restarted, then collected
    cpu, t = meter.cpu(), time.monotonic()
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
    expected: set[str] = set()

    def add_records(first: int) -> None:
        for link in links:
            for i in range(first, first + args.records):
                record = Record(base + timedelta(minutes=i), f"bench-{i:03d}", ("water",), "played",
                                started=base + timedelta(minutes=i), ended=base + timedelta(minutes=i, seconds=20))
                PlayLog(link.out).add(record)
                expected.add(PlayRecord.of(link.station, record).id)

    add_records(0)
    sent = until(lambda: all(link.records_sent >= args.records for link in links), 60)
    before_stop = sum(link.records_sent for link in links)
    broker.stop()
    add_records(args.records)
    time.sleep(DOWN_S)
    broker.start()
    sent = until(lambda: all(link.records_sent >= 2 * args.records for link in links), 90) and sent
    after = sum(link.records_sent for link in links)
    deliveries, store = collect(district, broker_dir, expected, 60)
    phase("records", cpu, time.monotonic() - t)
    stored = [r.id for r in store.records()]
    lost = expected - set(stored)
    doubled = sum(count - 1 for count in Counter(stored).values())
    redelivered = sum(count - 1 for count in deliveries.values())
    print()
    print(f"records: {len(expected)} written ({args.records} per station before the broker stopped, "
          f"{args.records} while it was down for {DOWN_S:g} s); sent {before_stop} before the stop, {after} in all"
          + ("" if sent else " (not all sent in time)"))
    print(f"  at the office (office status's session and office.sqlite): lost {len(lost)} (target 0), "
          f"duplicated {doubled} (target 0); delivered more than once {redelivered} (kept once)")
    if lost:
        dropped = [line for line in broker.log().splitlines() if "dropped" in line.lower()]
        print(f"  e.g. {sorted(lost)[:3]}" + (f"; the broker's log: {dropped[0].strip()}" if dropped else ""))

    print()
    wall = time.monotonic() - started
    total = meter.cpu()
    print("CPU (seconds, and share of one core over the phase):")
    for name, used, seconds in phases:
        print(f"  {name:8} {seconds:6.1f} s wall: broker {used['broker']:5.2f} s "
              f"({100 * used['broker'] / seconds:4.1f} %), stations {used['stations']:6.2f} s "
              f"({100 * used['stations'] / seconds:5.1f} %)")
    print(f"  whole run {wall:.1f} s: broker {total['broker']:.2f} s, stations {total['stations']:.2f} s "
          "(stations: this process and the espeak-ng and ffmpeg it ran)")
    print(f"memory (peak RSS): broker {meter.rss_mb('broker'):.1f} MB, stations {meter.rss_mb('stations'):.0f} MB "
          f"in all, {meter.rss_mb('stations') / n:.1f} MB per station (one process; a real station is its own)")


if __name__ == "__main__":
    main()
