"""pyttsx3 (driving the espeak-ng library) as an engine, kept in a worker process.

The worker (announcer.build.engines.pyttsx3_worker) starts on the first request and
stays up, so a piece costs a few milliseconds instead of a process start. Each
request has a time limit; when the worker hangs, crashes or reports a failure
it is killed and a fresh one is started for the next request, since pyttsx3
can leave stale audio behind after a failure.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from announcer.build.engines.base import SynthesisFailed, SynthesisOptions
from announcer.build.engines.espeak_cli import (
    EspeakFamily,
    espeak_missing_error,
    espeak_voice_name,
    read_wav,
    unknown_voice_error,
)

WORKER_MODULE = "announcer.build.engines.pyttsx3_worker"


class Pyttsx3Engine(EspeakFamily):
    """Speaks through pyttsx3 in a worker process; rate is espeak's words per minute."""

    name = "pyttsx3"

    def __init__(
        self,
        *,
        timeout_s: float = 5.0,
        start_timeout_s: float = 20.0,
        worker_command: list[str] | None = None,
    ):
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.worker_command = list(worker_command or [sys.executable, "-m", WORKER_MODULE])
        self.starts = 0          # workers started so far (a restart counts)
        self._process: subprocess.Popen | None = None
        self._voices: list[dict] = []
        self._pending = b""
        self._dir: tempfile.TemporaryDirectory | None = None
        self._count = 0

    @property
    def worker_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def synthesize(self, text: str, language: str, options: SynthesisOptions):
        if not text.strip():
            raise SynthesisFailed("nothing to say")
        try:
            return self._request(text, language, options)
        except _WorkerGone:
            # The worker died between requests (or was killed): one fresh try.
            self.restart()
            try:
                return self._request(text, language, options)
            except _WorkerGone as gone:
                self.restart()
                raise SynthesisFailed(str(gone)) from None

    def restart(self) -> None:
        """Kill the worker; the next request starts a fresh one."""
        process, self._process = self._process, None
        self._pending = b""
        if process is None:
            return
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            try:
                process.stdin.close()        # the worker ends at end of input
                process.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
            process.stdout.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    # -- one request -----------------------------------------------------

    def _request(self, text: str, language: str, options: SynthesisOptions):
        self._ensure_worker()
        voice = self._voice_id(espeak_voice_name(options.voice or self.voice_for(language), language), language)
        self._count += 1
        path = Path(self._dir.name) / f"piece-{self._count}.wav"
        request = {
            "id": self._count,
            "text": text,
            "voice": voice,
            "rate": None if options.rate is None else int(round(options.rate)),
            "path": str(path),
            "timeout": self.timeout_s * 0.8,
        }
        try:
            self._send(request)
            answer = self._receive(time.monotonic() + self.timeout_s)
            if answer.get("id") != request["id"] or not answer.get("ok"):
                self.restart()
                raise SynthesisFailed(f"pyttsx3: {answer.get('error') or 'unexpected answer'}")
            try:
                return read_wav(path)
            except SynthesisFailed:
                self.restart()
                raise
        except _Timeout:
            self.restart()
            raise SynthesisFailed(f"pyttsx3 gave no answer within {self.timeout_s:g} s; worker restarted") from None
        finally:
            path.unlink(missing_ok=True)

    def _ensure_worker(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.restart()
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="announcer-pyttsx3-")
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            self._process = subprocess.Popen(
                self.worker_command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # pyttsx3 chatters there; unread pipes would fill up
                env=env,
                bufsize=0,
            )
        except OSError as exc:
            raise SynthesisFailed(f"cannot start the pyttsx3 worker: {exc}") from None
        self.starts += 1
        try:
            hello = self._receive(time.monotonic() + self.start_timeout_s)
        except (_Timeout, _WorkerGone) as exc:
            self.restart()
            raise SynthesisFailed(f"the pyttsx3 worker did not start: {str(exc) or 'no answer'}") from None
        if not hello.get("hello"):
            self.restart()
            raise espeak_missing_error()
        self._voices = hello.get("voices", [])

    def _voice_id(self, name: str, language: str) -> str:
        for voice in self._voices:
            if voice["id"] == name or voice["id"].rsplit("/", 1)[-1] == name:
                return voice["id"]
        for voice in self._voices:
            if name in voice.get("languages", []):
                return voice["id"]
        raise unknown_voice_error(name, language)

    def _send(self, message: dict) -> None:
        try:
            self._process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise _WorkerGone(f"the pyttsx3 worker stopped ({exc})") from None

    def _receive(self, deadline: float) -> dict:
        fd = self._process.stdout.fileno()
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise _WorkerGone(f"the pyttsx3 worker stopped (exit code {self._process.poll()})")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            return {"ok": False, "error": f"garbled answer {line[:80]!r}"}


class _Timeout(Exception):
    pass


class _WorkerGone(Exception):
    pass
