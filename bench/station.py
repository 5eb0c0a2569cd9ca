"""How promptly and how lightly `announcer run` plays: prints figures, asserts nothing.

- Start latency: from the scheduled time to the first sample at a PulseAudio null
  sink (a private server, as in the tests), for WAV clips and for MP3 clips
  (which the station decodes ahead of time). Target: at most 100 ms.
- The idle station: resident memory and CPU over 10 s with nothing due.
  Target: at most 80 MB and about 0 % CPU.

    .venv/bin/python bench/station.py [--times 4] [--idle 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # this checkout first
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pulse import pulse_server  # noqa: E402
from test_station_real import ZONE, tone_day  # noqa: E402

from announcer.core.playlog import PlayLog  # noqa: E402

SPACING_S = 2


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--times", type=int, default=4, help="occurrences per clip format (default 4)")
    options.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement (default 10)")
    args = options.parse_args()

    with tempfile.TemporaryDirectory(prefix="announcer-bench-") as tmp, pulse_server() as server:
        folder = Path(tmp)
        out = folder / "out"
        first = (datetime.now(ZONE) + timedelta(seconds=5)).replace(microsecond=0)
        tone_day(out, first.date(), {"beep": 1000.0}, seconds=0.3, lead_in=0.0)
        wav = next((out / first.date().isoformat()).glob("*.wav"))
        version = wav.resolve().parent          # an MP3 beside it, as `announcer build` makes by default
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-b:a", "128k", str(version / "02-mp3.mp3")],
                       check=True)
        manifest = version / "manifest.json"
        data = json.loads(manifest.read_text())
        data["clips"].append({**data["clips"][0], "id": "mp3", "file": "02-mp3.mp3"})
        manifest.write_text(json.dumps(data))

        times = {"wav": [], "mp3": []}
        for n in range(2 * args.times):
            times["wav" if n % 2 == 0 else "mp3"].append(first + timedelta(seconds=SPACING_S * n))
        schedule = '[station]\ntimezone = "Asia/Shanghai"\nplayer = "paplay"\n'
        for name, moments in times.items():
            listed = ", ".join(f'"{m:%H:%M:%S}"' for m in moments)
            clip = "beep" if name == "wav" else "mp3"
            schedule += f'\n[[broadcast]]\nname = "{name}"\nat = [{listed}]\nclips = ["{clip}"]\n'
        (folder / "schedule.toml").write_text(schedule, "utf-8")

        env = {**os.environ, **server.env, "PYTHONPATH": PYTHONPATH, "XDG_CACHE_HOME": str(folder / "cache")}
        with server.record() as take:
            started = time.monotonic()
            station = subprocess.Popen([sys.executable, "-m", "announcer", "run", "--out", str(out)], cwd=folder,
                                       env=env, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 30 + SPACING_S * 2 * args.times
                while len(PlayLog(out).records()) < 2 * args.times and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1)                      # let its threads settle
                rss_mb, cpu = idle(station.pid, args.idle)
            finally:
                station.send_signal(signal.SIGTERM)
                _, log = station.communicate(timeout=15)
        print(f"station ran {time.monotonic() - started:.1f} s, exit {station.returncode}")

        sounds = take.sounds(threshold_db=-40)
        print("\nstart latency: scheduled time -> first sample at the sink (target <= 100 ms)")
        for name, moments in times.items():
            late = []
            for moment in moments:
                at = moment.timestamp()
                near = [take.wall(s.start) - at for s in sounds if -0.2 < take.wall(s.start) - at < 1.5]
                late.append(near[0] * 1000 if near else float("nan"))
            shown = ", ".join(f"{ms:.0f}" for ms in late)
            print(f"  {name}: median {statistics.median(late):.0f} ms, max {max(late):.0f} ms   ({shown})")
        starts = [(r.started - r.scheduled).total_seconds() * 1000 for r in PlayLog(out).records() if r.started]
        print(f"  (the recorder resolves about 5 ms; the play log's start times are "
              f"{statistics.median(starts):.1f} ms median, {max(starts):.1f} ms max after the scheduled ones)")
        print(f"\nidle station over {args.idle:.0f} s (targets <= 80 MB, ~0 % CPU)")
        print(f"  RSS {rss_mb:.1f} MB, CPU {cpu:.2f} %")
        if station.returncode != 0:
            print(log)


def idle(pid: int, seconds: float) -> tuple[float, float]:
    """(resident MB at the end, CPU % over `seconds`) of the process."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    before, t0 = cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    used, elapsed = cpu_seconds() - before, time.monotonic() - t0
    rss = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS"))
    return int(rss.split()[1]) / 1024, 100 * used / elapsed


if __name__ == "__main__":
    main()
