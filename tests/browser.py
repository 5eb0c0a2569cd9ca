"""Helpers for the web page's end-to-end tests (tests/test_web_e2e.py): a real `announcer serve` and
Debian's headless Chromium.

Chromium is Debian's `chromium` package (scripts/test installs it), driven by Playwright's Python
package through `executable_path`: `playwright install` is never needed. Without the flags that
switch off its background networking, Chromium hangs on a network without internet.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


def chromium() -> str | None:
    return shutil.which("chromium")


def launch(playwright):
    """Chromium with a fresh, temporary profile (Playwright makes a new user-data-dir per launch and
    removes it on close)."""
    return playwright.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)


def artifacts() -> Path:
    """Where screenshots go: $ANNOUNCER_ARTIFACTS, or test-artifacts/ in the repository (gitignored)."""
    folder = Path(os.environ.get("ANNOUNCER_ARTIFACTS") or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def announcer_command() -> list[str]:
    """The `announcer` command of this venv, as a staff member runs it."""
    script = Path(sys.executable).with_name("announcer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "announcer"]


class Server:
    """`announcer serve` in a subprocess, on a free port of 127.0.0.1; its output goes to `log`."""

    def __init__(self, config: Path, out: Path, log: Path, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [*announcer_command(), "serve", "--port", str(self.port), "--config", str(config),
                   "--out", str(out)]
        with open(log, "wb") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                            env=env if env is not None else os.environ.copy())

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30) -> None:
        """Until the page answers (any HTTP status counts); fails with the server's output when it exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"announcer serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"announcer serve did not answer within {timeout} s:\n{self.output()}")
                time.sleep(0.1)

    def stop(self, timeout: float = 10) -> int:
        """Ctrl-C, as a staff member stops it; killed only when it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class Watch:
    """Collects a page's console errors and uncaught exceptions."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message) -> None:
        where = (message.location or {}).get("url", "")
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({where})")

    def take(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors
