"""Clips → the loudspeaker, through a system player: paplay, pw-play, aplay or ffplay (or `null`).

    player = get_player("auto", device=None)     # PlayerError only for an unknown name or no player at all
    playback = player.play(path, volume_db=-3)   # starts at once, returns
    playback.wait(timeout)                       # True once finished; then .ok and .error
    playback.stop()                              # cuts it off now

Players are given WAV files. An MP3, or a clip at another volume, is decoded
once by ffmpeg into a WAV in a small cache (`prepare`), so playing it again,
or after `prepare` was called ahead of time, starts without ffmpeg: the first
sample reaches the sink a few milliseconds after `play` (bench/playback.py).
A missing or failing player never raises from a Playback: it finishes with
ok=False and an error in the user's language.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import wave
from pathlib import Path

from announcer.core.config.choices import PLAYER_NAMES
from announcer.core.errors import AnnouncerError, shorten
from announcer.core.library import user_cache

# Command lines; the device option (if any) and then the WAV file are appended. No shell is involved.
PLAYERS = {
    "paplay": ["paplay", "--client-name=announcer"],
    "pw-play": ["pw-play"],
    "aplay": ["aplay", "-q"],
    "ffplay": ["ffplay", "-nodisp", "-autoexit", "-loglevel", "error"],
}
PACKAGES = {"paplay": "pulseaudio-utils", "pw-play": "pipewire-bin", "aplay": "alsa-utils", "ffplay": "ffmpeg"}
NAMES = PLAYER_NAMES        # what schedule.toml may name: PLAYERS and "null"
CACHE_DAYS = 7          # a decoded WAV not played for this long is removed
EARLY = 0.8             # a player that ends by itself before this share of the clip has failed...
EARLY_MIN_S = 1.0       # ...for clips at least this long


class PlayerError(AnnouncerError):
    """No player, or the player failed."""


class Playback:
    """One sound playing. `ok` and `error` are valid once `wait` has returned True."""

    def __init__(self) -> None:
        self.ok = False
        self.error: str | None = None
        self.problem: PlayerError | None = None     # the error, in both languages
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._stopped = False

    def wait(self, timeout: float | None = None) -> bool:
        """True once finished (within `timeout` seconds; None: however long it takes)."""
        return self._finished.wait(timeout)

    def stop(self) -> None:
        """End it now; it finishes with ok=False unless it had already ended."""
        with self._lock:
            if not self._finished.is_set():
                self._stopped = True
        self._finished.wait()

    def _finish(self, problem: PlayerError | None = None) -> None:
        with self._lock:
            if self._finished.is_set():
                return
            if problem is None and self._stopped:
                problem = PlayerError("播放被中途停止。", "stopped before the end")
            self.ok, self.problem = problem is None, problem
            self.error = str(problem) if problem else None
            self._finished.set()

    @classmethod
    def failed(cls, problem: PlayerError) -> "Playback":
        playback = cls()
        playback._finish(problem)
        return playback


class _ProcessPlayback(Playback):
    """A player program playing one file. Given the file's length (`expected_s`), a player that ends by
    itself well before it (ffplay exits 0 when it cannot open the sound device) has failed."""

    def __init__(self, command: list[str], env: dict[str, str] | None, device: str | None,
                 expected_s: float | None = None, clip: Path | None = None):
        super().__init__()
        self._program, self._device = command[0], device
        self._expected_s, self._clip = expected_s, clip
        self._settled = False
        self._stderr = tempfile.TemporaryFile()
        self._began = time.monotonic()
        try:
            # Its own session: a Ctrl-C in the terminal reaches only the station, which stops it itself.
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=self._stderr, env=env, start_new_session=True)
        except OSError as e:
            self._stderr.close()
            self._process = None
            self._finish(_not_installed(self._program) if isinstance(e, FileNotFoundError) else
                         _failed(self._program, e.strerror or str(e), device))

    def wait(self, timeout: float | None = None) -> bool:
        if self._process is not None and not self._finished.is_set():
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            self._settle()
        return self._finished.wait(5)           # another thread may be settling it

    def stop(self) -> None:
        with self._lock:
            if self._finished.is_set() or self._process is None:
                return
            if self._process.poll() is None:    # one that has just ended by itself is not stopped
                self._stopped = True
                self._process.terminate()
        try:
            self._process.wait(2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._settle()

    def _settle(self) -> None:
        """Read the ended process's result, once."""
        with self._lock:
            if self._settled:
                return
            self._settled = True
            code = self._process.returncode
            lasted = time.monotonic() - self._began      # at most a little late: never too short
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            self._stderr.close()
        if self._stopped:
            self._finish()
        elif code == 0:
            self._finish(ended_early(lasted, self._expected_s, self._clip))
        elif code < 0:
            self._finish(_failed(self._program, _signal_name(-code), self._device))
        else:
            self._finish(_failed(self._program, lines[-1].strip() if lines else f"exit {code}", self._device))


class _SilentPlayback(Playback):
    """Plays nothing for `seconds`."""

    def __init__(self, seconds: float):
        super().__init__()
        self._ends = time.monotonic() + seconds
        self._stop = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        left = self._ends - time.monotonic()
        if timeout is not None and timeout < left:
            self._stop.wait(max(timeout, 0))
            if not self._stop.is_set():
                return False
        else:
            self._stop.wait(max(left, 0))
        self._finish()
        return True

    def stop(self) -> None:
        with self._lock:
            self._stopped = time.monotonic() < self._ends
        self._stop.set()
        self._finish()


class Player:
    """Plays clips on one system player (`name`), on `device` or the default output."""

    def __init__(self, name: str, device: str | None = None, cache: Path | None = None):
        if name not in NAMES:
            raise unknown_player(name)
        self.name = name
        self.device = device
        self.cache = Path(cache) if cache else default_cache()

    def command(self, wav: Path) -> list[str]:
        """The command line that plays `wav`."""
        command = list(PLAYERS[self.name])
        if self.device and self.name == "paplay":
            command.append(f"--device={self.device}")
        elif self.device and self.name == "pw-play":
            command.append(f"--target={self.device}")
        elif self.device and self.name == "aplay":
            command += ["-D", self.device]
        return command + [str(wav)]

    def check(self) -> None:
        """Raise PlayerError when the player program is not installed."""
        if self.name != "null" and not shutil.which(PLAYERS[self.name][0]):
            raise _not_installed(self.name)

    def play(self, path: Path, volume_db: float = 0.0) -> Playback:
        """Start playing `path` (WAV or MP3) `volume_db` louder, and return at once."""
        try:
            wav = self.prepare(path, volume_db if self.name != "null" else 0.0)
            if self.name == "null":
                return _SilentPlayback(_seconds(wav))
        except PlayerError as problem:
            return Playback.failed(problem)
        env = None
        if self.device and self.name == "ffplay":       # SDL takes the device from the environment
            env = {**os.environ, "AUDIODEV": self.device}
        return _ProcessPlayback(self.command(wav), env, self.device, expected_s=_length(wav), clip=path)

    def prepare(self, path: Path, volume_db: float = 0.0) -> Path:
        """The WAV file that plays `path` at `volume_db`: `path` itself, or one decoded into the cache.

        Call it ahead of time (when the day's clips are known) to keep ffmpeg off the moment of playing.
        """
        path = Path(path)
        try:
            stat = path.stat()
        except OSError:
            raise PlayerError(f"找不到音频文件“{path.name}”。请重新运行 announcer build 生成这一天的音频。",
                              f"the clip file {path.name} is missing; run announcer build again for this day",
                              str(path)) from None
        volume_db = round(float(volume_db), 2)
        if path.suffix.lower() == ".wav" and volume_db == 0:
            return path
        # The file itself, not its path: a rebuilt day hard-links unchanged clips, so they stay decoded.
        key = hashlib.sha256(f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{volume_db}"
                             .encode()).hexdigest()[:20]
        wav = self.cache / f"{path.stem}.{key}.wav"
        try:
            os.utime(wav)                        # in the cache: mark it used
            return wav
        except OSError:
            pass
        _decode(path, wav, volume_db)
        _tidy(self.cache, keep=wav)
        return wav

    def __repr__(self) -> str:
        return f"Player({self.name!r}, device={self.device!r})"


def get_player(name: str = "auto", device: str | None = None, cache: Path | None = None) -> Player:
    """The player called `name`, or with "auto" the first one this machine can use (never null).

    A named player that is not installed is still returned: its playbacks fail with a
    message saying what to install, and work once it is installed.
    """
    if name != "auto":
        return Player(name, device, cache)
    for candidate in PLAYERS:
        if shutil.which(PLAYERS[candidate][0]) and _usable(candidate):
            return Player(candidate, device, cache)
    raise PlayerError(
        "找不到可用的播放程序。请安装：sudo apt-get install pulseaudio-utils（或 alsa-utils），或用 -o 文件名 保存音频。",
        "no audio player found; install one (sudo apt-get install pulseaudio-utils, or alsa-utils), "
        "or save the audio with -o FILE")


def default_cache() -> Path:
    """Where decoded WAVs are kept: ~/.cache/announcer/play (XDG_CACHE_HOME), else the temp folder."""
    return user_cache("play")


# --- for `announcer say` ------------------------------------------------------

def find_player(name: str = "auto") -> list[str]:
    """The command line of a player that is installed; PlayerError otherwise."""
    player = get_player(name)
    if player.name == "null":
        return []
    player.check()
    return PLAYERS[player.name]


def play(path: Path, player: str = "auto") -> None:
    """Play a sound file and wait until it has finished; PlayerError when it could not."""
    playback = get_player(player).play(path)
    try:
        playback.wait()
    except BaseException:
        playback.stop()                          # in its own session, a Ctrl-C did not reach the player
        raise
    if not playback.ok:
        raise playback.problem or PlayerError(playback.error or "", playback.error or "")


# --- helpers ------------------------------------------------------------------

def _usable(name: str) -> bool:
    """For auto: a sound-server player only when its server answers (a Raspberry Pi without one uses ALSA)."""
    if name == "paplay" and shutil.which("pactl"):
        try:
            return subprocess.run(["pactl", "info"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=5, start_new_session=True).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
    if name == "pw-play":
        runtime = os.environ.get("PIPEWIRE_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR") or ""
        remote = os.environ.get("PIPEWIRE_REMOTE", "pipewire-0")
        return bool(runtime) and os.path.exists(os.path.join(runtime, remote))
    return True


def _decode(source: Path, wav: Path, volume_db: float) -> None:
    """`source` → 16-bit WAV at its own rate and channels, `volume_db` louder, written whole or not at all."""
    if not shutil.which("ffmpeg"):
        raise PlayerError("需要 ffmpeg 才能播放这段音频。请安装：sudo apt-get install ffmpeg",
                          "ffmpeg is needed to play this clip; install it: sudo apt-get install ffmpeg", str(source))
    try:
        wav.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=wav.parent, prefix=f".{wav.stem}.", suffix=".wav")
        os.close(fd)
    except OSError as e:
        raise PlayerError(f"无法写入播放缓存（{e.strerror}）：{wav.parent}。请检查磁盘空间和权限。",
                          f"cannot write the playback cache ({e.strerror}): {wav.parent}; check disk space and "
                          "permissions") from None
    try:
        result = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", f"file:{source.resolve()}", "-vn",
             "-af", f"volume={volume_db}dB", "-c:a", "pcm_s16le", "-f", "wav", tmp],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
            start_new_session=True)             # out of Ctrl-C's reach; run() kills it if we are interrupted
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            reason = shorten(lines[-1], 80) if lines else f"exit {result.returncode}"
            raise PlayerError(f"无法读取这段音频（ffmpeg：{reason}）。文件可能已损坏，请重新运行 announcer build。",
                              f"cannot read this clip (ffmpeg: {reason}); the file may be damaged: run announcer "
                              "build again", str(source))
        os.replace(tmp, wav)
    except subprocess.TimeoutExpired:
        raise PlayerError("解码这段音频超时。请重新运行 announcer build。",
                          "decoding this clip took too long; run announcer build again", str(source)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _tidy(cache: Path, keep: Path) -> None:
    """Remove decoded WAVs not played for CACHE_DAYS days."""
    old = time.time() - CACHE_DAYS * 86400
    try:
        for entry in cache.iterdir():
            if entry != keep and entry.suffix == ".wav" and entry.stat().st_mtime < old:
                entry.unlink(missing_ok=True)
    except OSError:
        pass


def ended_early(lasted: float, expected_s: float | None, clip: Path | None = None) -> PlayerError | None:
    """The failure of a player that ended by itself after `lasted` seconds, under EARLY of a clip
    `expected_s` long; None when it took long enough (or the length is unknown or short)."""
    if not expected_s or expected_s < EARLY_MIN_S or lasted >= EARLY * expected_s:
        return None
    heard, length = _said(lasted, down=True), _said(expected_s)
    return PlayerError(f"播放器只响了 {heard} 秒，这段有 {length} 秒：可能没有可用的音频输出。请检查喇叭/声卡。",
                       f"the player ran for only {heard} s of this {length} s clip: there may be no working "
                       "audio output; check the speaker and the sound card", str(clip) if clip else None)


def _said(seconds: float, down: bool = False) -> str:
    """Seconds to say: to 0.01 s under 1 s, 0.1 s under 10 s, else whole; `down`: rounded down, so a player
    cut short never reads as having played (nearly) the whole clip."""
    places = 2 if seconds < 1 else 1 if seconds < 10 else 0
    if down:
        seconds = math.floor(seconds * 10 ** places + 1e-9) / 10 ** places
    shown = f"{seconds:.{places}f}"
    return shown.rstrip("0").rstrip(".") if places else shown


def _length(wav: Path) -> float | None:
    """A WAV file's length in seconds from its header; None when it cannot be read."""
    try:
        return _seconds(wav)
    except PlayerError:
        return None


def _seconds(wav: Path) -> float:
    try:
        with wave.open(str(wav), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, EOFError, wave.Error):
        raise PlayerError("无法读取这段 WAV 音频。文件可能已损坏，请重新运行 announcer build。",
                          "cannot read this WAV clip; the file may be damaged: run announcer build again",
                          str(wav)) from None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def unknown_player(name: str) -> PlayerError:
    options = ", ".join((*NAMES, "auto"))
    return PlayerError(f"不认识播放器“{name}”。可用：{options}。", f"unknown player \"{name}\"; use one of {options}")


def _not_installed(program: str) -> PlayerError:
    package = PACKAGES.get(program, program)
    return PlayerError(f"没有安装播放程序 {program}。请安装：sudo apt-get install {package}，或换一个播放器（[station] player）。",
                       f"the player {program} is not installed; install it (sudo apt-get install {package}) "
                       "or choose another one ([station] player)")


def _failed(program: str, detail: str, device: str | None) -> PlayerError:
    detail = shorten(detail, 80)
    zh_device = f"，以及输出设备“{device}”是否存在" if device else ""
    en_device = f" and that the output device \"{device}\" exists" if device else ""
    return PlayerError(f"播放失败（{program}：{detail}）。请检查喇叭是否连接、音量是否打开{zh_device}。",
                       f"playback failed ({program}: {detail}); check that the speaker is connected and on{en_device}")
