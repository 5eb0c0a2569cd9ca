"""How fast and how light the web page is: prints figures, asserts nothing.

A real `announcer serve` on a free port of 127.0.0.1, with a day of clips in the library:

- Start-up: from the command to the first answer. Target: at most 2 s.
- Today with N clips, first view (every waveform decoded) and later views (cached).
  Target: first view at most 1.5 s for 8 clips of 20 s; later views at most 100 ms.
- The other pages (schedule, play log, USB) and one clip's audio. Target: at most 100 ms.
- Resident memory of the server after all that. Target: at most 150 MB.

    .venv/bin/python bench/web.py [--clips 8] [--seconds 20] [--times 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browser import Server  # noqa: E402

from announcer.build import effects  # noqa: E402
from announcer.core.library import Library  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")


def speech_like(seconds: float, n: int):
    """A warbling tone with syllable-like bursts: decodes and draws like speech does."""
    import numpy as np

    rate = 44100
    t = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * (180 + 20 * n + 40 * np.sin(2 * np.pi * 3 * t)) * t)
    bursts = (np.sin(2 * np.pi * 4 * t) > -0.2).astype(float)
    return effects.from_array(0.3 * voice * bursts, rate)


def publish_day(out: Path, day, clips: int, seconds: float) -> None:
    source = out.parent / "clips"
    source.mkdir(parents=True)
    files, entries = [], []
    for n in range(1, clips + 1):
        name = f"{n:02d}-notice-{n}.mp3"
        (source / name).write_bytes(effects.encode(speech_like(seconds, n), "mp3", 128))
        files.append((name, source / name))
        entries.append({"id": f"notice-{n}", "file": name, "title": f"通知 {n}", "text": "测试",
                        "duration_s": seconds, "loudness_lufs": -16.0, "true_peak_dbtp": -1.5,
                        "speech_rate": {"value": 3.5, "unit": "syllables/s"}, "warnings": [], "engine": "pyttsx3"})
    Library(out).publish(day, files, {"date": day.isoformat(), "clips": entries})


def fetch_ms(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        answer.read()
    return (time.perf_counter() - start) * 1000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--clips", type=int, default=8, help="clips in the day (default 8)")
    options.add_argument("--seconds", type=float, default=20.0, help="length of each clip (default 20)")
    options.add_argument("--times", type=int, default=20, help="requests per page for the medians (default 20)")
    args = options.parse_args()

    with tempfile.TemporaryDirectory(prefix="announcer-bench-") as tmp:
        folder = Path(tmp)
        day = datetime.now(ZONE).date() + timedelta(days=1)   # not today: the readiness probe opens today
        config = folder / "schedule.toml"
        config.write_text('[station]\ntimezone = "Asia/Shanghai"\nplayer = "null"\n\n'
                          '[[broadcast]]\nname = "早间通知"\nat = ["08:00", "12:00", "17:30"]\n', "utf-8")
        publish_day(folder / "out", day, args.clips, args.seconds)

        started = time.perf_counter()
        server = Server(config, folder / "out", folder / "serve.log")
        try:
            server.wait_ready()
            startup = time.perf_counter() - started
            first = fetch_ms(f"{server.url}/?date={day}")
            pages = {"today": f"/?date={day}", "schedule": "/schedule", "log": "/log", "usb": "/usb",
                     "clip": f"/clips/{day}/01-notice-1.mp3"}
            medians = {name: statistics.median(fetch_ms(server.url + path) for _ in range(args.times))
                       for name, path in pages.items()}
            memory = rss_mb(server.process.pid)
        finally:
            server.stop()

    print(f"announcer serve start-up to first answer: {startup:.2f} s (target <= 2 s)")
    print(f"today, first view, {args.clips} clips of {args.seconds:g} s (waveforms decoded): {first:.0f} ms "
          "(target <= 1500 ms)")
    for name, ms in medians.items():
        print(f"{name:>8}: median {ms:.1f} ms over {args.times} requests (target <= 100 ms)")
    print(f"server resident memory: {memory:.1f} MB (target <= 150 MB)")


if __name__ == "__main__":
    main()
