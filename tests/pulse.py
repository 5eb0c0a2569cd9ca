"""A private PulseAudio server with one null sink, "speaker", and a recorder of what comes out of it.

Tests use it where the truth is the sound itself: WHEN it came out and WHAT came out.

    from pulse import pulse            # the fixture (needs `pulseaudio`; skipped with the reason otherwise)

    def test_something(pulse):
        with pulse.record() as take:   # parec on speaker.monitor, already flowing when the block starts
            ...play...
        take.sounds()                  # [Sound(start, end), ...] in seconds from the recording's start
        take.wall(take.sounds()[0].start)   # when that was, as time.time()
        take.pitch(a, b), take.level_db(a, b)

The fixture points PULSE_SERVER (and the runtime paths) of this process at the
server, so players started by the code under test, and their children, reach
it and nothing else. `pulse_server()` is the same as a context manager, for
benchmarks. The server runs as this machine allows (as root, no system bus)
and is killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

RATE = 44100
SINK = "speaker"
NEEDS_PULSEAUDIO = "needs the `pulseaudio` server (scripts/test installs it: apt-get install pulseaudio pulseaudio-utils)"


def have_pulseaudio() -> bool:
    return all(shutil.which(tool) for tool in ("pulseaudio", "parec", "paplay", "pactl"))


@dataclass
class PulseServer:
    root: Path
    env: dict[str, str]          # the variables a client needs to reach this server
    pid: int
    sink: str = SINK

    @property
    def monitor(self) -> str:
        return f"{self.sink}.monitor"

    def record(self, latency_ms: int = 5) -> "Recording":
        return Recording(self.env, f"--device={self.monitor}", latency_ms)

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env={**os.environ, **self.env}, capture_output=True,
                              text=True, check=True, timeout=10).stdout


@contextlib.contextmanager
def pulse_server():
    """Start a private server with the null sink `speaker`; stop it on the way out."""
    if not have_pulseaudio():
        pytest.skip(NEEDS_PULSEAUDIO)
    with tempfile.TemporaryDirectory(prefix="announcer-pulse-") as tmp:
        root = Path(tmp)
        env = {
            "XDG_RUNTIME_DIR": str(root),
            "PULSE_RUNTIME_PATH": str(root / "pulse"),
            "PULSE_STATE_PATH": str(root / "state"),
            "PULSE_SERVER": f"unix:{root / 'pulse' / 'native'}",
        }
        started = subprocess.run(
            ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--use-pid-file=yes",
             f"--load=module-null-sink sink_name={SINK}", "--load=module-native-protocol-unix"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=30)
        pid_file = root / "pulse" / "pid"
        if started.returncode != 0 or not pid_file.exists():
            raise RuntimeError(f"pulseaudio did not start: {started.stderr.strip()}")
        server = PulseServer(root, env, int(pid_file.read_text().split()[0]))
        try:
            deadline = time.monotonic() + 10
            while SINK not in _sinks(server):
                if time.monotonic() > deadline:
                    raise RuntimeError("pulseaudio started without the null sink")
                time.sleep(0.02)
            yield server
        finally:
            _kill(server.pid)


def _sinks(server: PulseServer) -> str:
    try:
        return server.pactl("list", "short", "sinks")
    except subprocess.CalledProcessError:
        return ""


def _kill(pid: int) -> None:
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Running (the daemonized server is not our child: once ended it may stay a zombie until init reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


@pytest.fixture
def pulse(monkeypatch):
    """A private PulseAudio server; this test's players reach it and nothing else."""
    with pulse_server() as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        yield server


@dataclass(frozen=True)
class Sound:
    start: float     # seconds from the start of the recording
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Recording:
    """`parec` into memory. Sample 0 came out of the sink at `started` (time.time())."""
    env: dict[str, str]
    device: str
    latency_ms: int = 5
    rate: int = RATE
    started: float = 0.0
    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    _chunks: list[bytes] = field(default_factory=list)
    _arrivals: list[tuple[float, int]] = field(default_factory=list)   # (monotonic, bytes so far)

    def __enter__(self) -> "Recording":
        self._process = subprocess.Popen(
            ["parec", self.device, "--format=s16le", f"--rate={self.rate}", "--channels=1",
             f"--latency-msec={self.latency_ms}"],
            env={**os.environ, **self.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 10
        while not self._arrivals:              # play nothing before the recorder hears
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._process.kill()
                raise RuntimeError(f"parec did not start: {self._process.stderr.read().decode().strip()}")
            time.sleep(0.005)
        return self

    def _read(self) -> None:
        fd, total = self._process.stdout.fileno(), 0
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            self._chunks.append(chunk)
            self._arrivals.append((time.monotonic(), total))

    def __exit__(self, *exc) -> None:
        self._process.terminate()
        self._process.wait(10)
        self._reader.join(10)
        self._process.stdout.close()
        self._process.stderr.close()
        data = b"".join(self._chunks)
        self.samples = np.frombuffer(data[: len(data) // 2 * 2], np.int16)
        # A chunk cannot arrive before its last sample came out of the sink, so the
        # least delayed chunk tells when sample 0 did.
        start = min(at - total / 2 / self.rate for at, total in self._arrivals)
        self._wall_offset = time.time() - time.monotonic()
        self.started = start + self._wall_offset

    # --- what came out -------------------------------------------------------

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate

    def wall(self, seconds: float) -> float:
        """time.time() at `seconds` into the recording."""
        return self.started + seconds

    def arrived(self, seconds: float) -> float:
        """time.time() when parec handed over the sample at `seconds`: a late bound on when it came out."""
        wanted = (round(seconds * self.rate) + 1) * 2
        mono = next((at for at, total in self._arrivals if total >= wanted), self._arrivals[-1][0])
        return mono + self._wall_offset

    def at(self, wall: float) -> float:
        """Seconds into the recording at time.time() `wall`."""
        return wall - self.started

    def first_sound(self, threshold_db: float = -50.0, after: float = 0.0) -> float | None:
        """Seconds to the first sample louder than `threshold_db` dBFS, or None."""
        limit = 32768 * 10 ** (threshold_db / 20)
        begin = int(after * self.rate)
        loud = np.flatnonzero(np.abs(self.samples[begin:].astype(np.int32)) > limit)
        return (begin + loud[0]) / self.rate if len(loud) else None

    def sounds(self, threshold_db: float = -50.0, min_silence: float = 0.15) -> list[Sound]:
        """Stretches of sound, joined across silences shorter than `min_silence` seconds."""
        limit = 32768 * 10 ** (threshold_db / 20)
        loud = np.flatnonzero(np.abs(self.samples.astype(np.int32)) > limit)
        if not len(loud):
            return []
        breaks = np.flatnonzero(np.diff(loud) > min_silence * self.rate)
        starts = np.concatenate(([loud[0]], loud[breaks + 1]))
        ends = np.concatenate((loud[breaks], [loud[-1]]))
        return [Sound(s / self.rate, (e + 1) / self.rate) for s, e in zip(starts, ends)]

    def _part(self, start: float, end: float) -> np.ndarray:
        return self.samples[int(start * self.rate): int(end * self.rate)].astype(np.float64) / 32768

    def level_db(self, start: float, end: float) -> float:
        """RMS level of that stretch, dBFS (a full-scale sine is -3)."""
        part = self._part(start, end)
        return 20 * np.log10(max(np.sqrt(np.mean(part ** 2)) if len(part) else 0.0, 1e-9))

    def pitch(self, start: float, end: float) -> float:
        """The strongest frequency in that stretch, Hz."""
        part = self._part(start, end)
        spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
        return float(np.argmax(spectrum) * self.rate / len(part))
