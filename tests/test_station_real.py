"""`announcer run` on a real PulseAudio null sink: the clips come out in order, on time."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import wave
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pulse import RATE, pulse  # noqa: F401  (the fixture)

from announcer.core.library import Library
from announcer.core.playlog import PlayLog

pytestmark = pytest.mark.real

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # this checkout first
ZONE = ZoneInfo("Asia/Shanghai")
LEAD_IN = 0.5


def tone(hz: float, seconds: float, lead_in: float = LEAD_IN) -> bytes:
    """A WAV file: `lead_in` of silence (like the build's lead-in), then a sine at -12 dBFS."""
    t = np.arange(int(seconds * RATE)) / RATE
    audio = np.concatenate([np.zeros(int(lead_in * RATE)), 0.25 * np.sin(2 * np.pi * hz * t)])
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((audio * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def tone_day(out: Path, day: date, tones: dict[str, float], seconds: float = 0.6, lead_in: float = LEAD_IN) -> None:
    """Publish a day whose clips are tones (clip id → Hz) into the library, with a manifest, as build would."""
    source = out.parent / "tones"
    source.mkdir(parents=True, exist_ok=True)
    files, clips = [], []
    for n, (clip, hz) in enumerate(tones.items(), 1):
        name = f"{n:02d}-{clip}.wav"
        (source / name).write_bytes(tone(hz, seconds, lead_in))
        files.append((name, source / name))
        clips.append({"id": clip, "file": name, "duration_s": lead_in + seconds, "tags": []})
    Library(out).publish(day, files, {"date": day.isoformat(), "clips": clips})


def test_the_station_plays_the_clips_in_order_on_time(tmp_path, pulse):  # noqa: F811
    out = tmp_path / "out"
    # 5-6 s ahead: a loaded machine has the station started and the clips decoded before it is due.
    start = (datetime.now(ZONE) + timedelta(seconds=6)).replace(microsecond=0)
    tone_day(out, start.date(), {"low": 440.0, "high": 880.0})
    (tmp_path / "schedule.toml").write_text(
        '[station]\ntimezone = "Asia/Shanghai"\nplayer = "paplay"\n\n'
        f'[audio]\nlead_in = "{LEAD_IN}s"\n\n'
        f'[[broadcast]]\nname = "tones"\ndate = {start.replace(tzinfo=None).isoformat()}\ngap = "0.4s"\n', "utf-8")
    with pulse.record() as take:
        station = subprocess.Popen([sys.executable, "-m", "announcer", "run", "--out", str(out)], cwd=tmp_path,
                                   env={**os.environ, "PYTHONPATH": PYTHONPATH},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while not [r for r in PlayLog(out).records() if r.result != "playing"] and time.monotonic() < deadline and station.poll() is None:
                time.sleep(0.1)
            station.send_signal(signal.SIGTERM)
            _, log = station.communicate(timeout=10)
        finally:
            station.kill()
    assert station.returncode == 0, log
    [record] = PlayLog(out).records()
    assert (record.result, record.clips, record.scheduled) == ("played", ("low", "high"), start), log

    sounds = take.sounds(threshold_db=-40)
    assert len(sounds) == 2, f"{sounds}\n{log}"
    pitches = [take.pitch(s.start + 0.1, s.end - 0.1) for s in sounds]
    assert abs(pitches[0] - 440) < 20 and abs(pitches[1] - 880) < 20, f"{pitches}\n{log}"
    late = take.wall(sounds[0].start) - (start.timestamp() + LEAD_IN)
    assert -0.05 < late < 0.5, f"first sound {late:+.3f} s from the scheduled time plus the lead-in\n{log}"
    gap = sounds[1].start - sounds[0].end
    assert 0.35 + LEAD_IN < gap < 0.8 + LEAD_IN, f"gap {gap:.3f} s\n{log}"   # the gap, then the lead-in
