"""Benchmark: from player.play() to the first sample at the sink (target: <= 100 ms).

Starts a private PulseAudio server with a null sink (tests/pulse.py), records the
sink's monitor with parec, and for each case plays a tone RUNS times, finding
the first non-silent sample. Two figures per case, in ms after play() was called:
  sink   when the sink took the sample (the recording's timeline; +-5 ms)
  late   when parec handed it over: a bound nobody can beat, so the true figure is at most this
Cases: a WAV; an MP3 already prepared (what the station plays); an MP3 decoded
on the spot (what `prepare` avoids). Also times prepare() on a 30 s MP3.
Run: .venv/bin/python bench/playback.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from announcer.station.players import get_player  # noqa: E402
from pulse import have_pulseaudio, pulse_server  # noqa: E402

RUNS = 15
RATE = 44100


def tone(path: Path, seconds: float, hz: float = 1000.0) -> Path:
    t = np.arange(int(RATE * seconds)) / RATE
    wav = path.with_suffix(".wav")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes((0.25 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes())
    if path.suffix == ".mp3":
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-b:a", "128k", str(path)], check=True)
    return path


def latency(server, player, clip: Path, before=lambda: None) -> tuple[float, float, float]:
    """(sink ms, late ms, play() ms) for one play of `clip`."""
    with server.record() as take:
        time.sleep(0.15)
        before()
        called = time.time()
        playback = player.play(clip)
        returned = time.time()
        playback.wait(10)
        time.sleep(0.05)
    if not playback.ok:
        raise SystemExit(f"{player.name}: {playback.error}")
    first = take.first_sound(threshold_db=-40)
    if first is None:
        raise SystemExit(f"{player.name}: no sound reached the sink")
    return (take.wall(first) - called) * 1000, (take.arrived(first) - called) * 1000, (returned - called) * 1000


def summary(label: str, runs: list[tuple[float, float, float]]) -> None:
    sink, late, call = zip(*runs)
    print(f"{label:<34} sink median {statistics.median(sink):6.1f}  max {max(sink):6.1f}   "
          f"late median {statistics.median(late):6.1f}  max {max(late):6.1f}   play() {statistics.median(call):5.1f}")


def main() -> None:
    if not have_pulseaudio():
        raise SystemExit("needs pulseaudio, parec, paplay and pactl: apt-get install pulseaudio pulseaudio-utils")
    with tempfile.TemporaryDirectory() as folder, pulse_server() as server:
        folder = Path(folder)
        import os

        os.environ.update(server.env)
        wav, mp3 = tone(folder / "tone.wav", 0.4), tone(folder / "tone.mp3", 0.4)
        print(f"first sample at the sink after play(), ms ({RUNS} runs each; target <= 100)")
        names = ["paplay"] + [n for n in ("ffplay",) if subprocess.run(["which", n], capture_output=True).returncode == 0]
        for name in names:
            player = get_player(name, device=server.sink, cache=folder / "cache")
            try:
                latency(server, player, wav)                    # warm-up: page cache, server, program
            except SystemExit as e:
                print(f"{name:<34} skipped: {e}")
                continue
            summary(f"{name}, WAV", [latency(server, player, wav) for _ in range(RUNS)])
            player.prepare(mp3)
            summary(f"{name}, MP3 prepared", [latency(server, player, mp3) for _ in range(RUNS)])
            cache = folder / "cache"
            summary(f"{name}, MP3 decoded on the spot",
                    [latency(server, player, mp3, before=lambda: [p.unlink() for p in cache.glob("*.wav")])
                     for _ in range(RUNS)])
        long = tone(folder / "long.mp3", 30.0)
        player = get_player("paplay", cache=folder / "cache30")
        times = []
        for _ in range(5):
            for p in (folder / "cache30").glob("*.wav"):
                p.unlink()
            began = time.perf_counter()
            player.prepare(long)
            times.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        player.prepare(long)
        hit = (time.perf_counter() - began) * 1000
        print(f"prepare() a 30 s MP3: {statistics.median(times):.0f} ms decoding, {hit:.2f} ms from the cache")


if __name__ == "__main__":
    main()
