"""The clip library on disk: day folders, their manifests, the render cache.

Layout under the output folder (`audio_out/` by default):

    2026-11-30/manifest.json      the day's clips, written last
    2026-11-30/01-ting-shui.mp3
    .cache/<key>.mp3 + <key>.json  rendered clips, keyed by text and settings

A day is published whole: it is staged in a hidden folder and swapped in by
rename, so a crash or Ctrl-C mid-build leaves the previous day as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from announcer.errors import LibraryError

MANIFEST = "manifest.json"
CACHE = ".cache"


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def to_json(data: object) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class CachedClip:
    audio: Path
    info: dict


class Library:
    def __init__(self, out: Path):
        self.out = Path(out)

    def day_dir(self, day: date) -> Path:
        return self.out / day.isoformat()

    def manifest(self, day: date) -> dict | None:
        """The day's manifest, or None when the day has not been built."""
        path = self.day_dir(day) / MANIFEST
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise LibraryError(
                f"无法读取清单（{e}）。请重新运行 announcer build 生成这一天的音频。",
                f"cannot read the manifest ({e}); run announcer build again for this day",
                str(path),
            ) from None

    # The cache ---------------------------------------------------------------

    def cached(self, key: str, ext: str) -> CachedClip | None:
        audio = self.out / CACHE / f"{key}.{ext}"
        meta = self.out / CACHE / f"{key}.json"
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return CachedClip(audio, info) if audio.is_file() else None

    def store(self, key: str, ext: str, audio: bytes, info: dict) -> CachedClip:
        """Keep a rendered clip; the audio goes first so a present .json means a whole entry."""
        folder = self.out / CACHE
        atomic_write(folder / f"{key}.{ext}", audio)
        atomic_write(folder / f"{key}.json", to_json(info))
        return CachedClip(folder / f"{key}.{ext}", info)

    # Publishing a day --------------------------------------------------------

    def publish(self, day: date, files: list[tuple[str, Path]], manifest: dict) -> Path:
        """Replace the day folder with `files` (name, source) and `manifest`, all or nothing."""
        self.recover()
        self.out.mkdir(parents=True, exist_ok=True)
        final = self.day_dir(day)
        staging = Path(tempfile.mkdtemp(dir=self.out, prefix=f".{day.isoformat()}.staging-{os.getpid()}-"))
        try:
            for name, source in files:
                _place(source, staging / name)
            atomic_write(staging / MANIFEST, to_json(manifest))
            _fsync_dir(staging)
            old = None
            if final.exists():
                old = self.out / f".{day.isoformat()}.old-{os.getpid()}"
                os.rename(final, old)
            os.rename(staging, final)
            _fsync_dir(self.out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            self.recover()
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def recover(self) -> None:
        """Undo what an interrupted publish left: put a day back, drop stale staging."""
        if not self.out.is_dir():
            return
        for entry in self.out.iterdir():
            name = entry.name
            if not name.startswith(".") or not entry.is_dir():
                continue
            day, _, rest = name[1:].partition(".")
            if rest.startswith("old-"):
                final = self.out / day
                if final.exists():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    os.rename(entry, final)
            elif rest.startswith("staging-") and not _build_running(rest):
                shutil.rmtree(entry, ignore_errors=True)


def _build_running(staging_name: str) -> bool:
    """Whether the build that made `staging-<pid>-...` is still alive."""
    try:
        pid = int(staging_name.split("-")[1])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def _place(source: Path, target: Path) -> None:
    """Hard-link a cached clip into the day (instant, no extra space), or copy it."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
