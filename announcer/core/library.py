"""The clip library on disk: day folders, their manifests, the render cache.

Layout under the output folder (`audio_out/` by default):

    2026-11-30 -> .days/2026-11-30.<n>   the day: a link to its latest version
    .days/2026-11-30.<n>/manifest.json    the day's clips; written last
    .days/2026-11-30.<n>/01-ting-shui.mp3
    .cache/<key>.mp3 + <key>.json         rendered clips, keyed by text and settings

A day is published whole: its version folder is filled, then the day link is
replaced in one rename. A crash or Ctrl-C mid-build leaves the previous day as
it was, and a reader never sees half a day. The previous version is kept, so a
player that resolved the link just before a swap can still finish, and so is any
older version a broadcast still plays from: it holds the folder (a shared flock
on it, `held_day`) until it ends, and a version is removed only when nobody holds it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from announcer.core.errors import LibraryError

MANIFEST = "manifest.json"
CACHE = ".cache"
DAYS = ".days"
KEEP_VERSIONS = 2   # the current one and the one before it (and any still held)
HOLD_TRIES = 5      # a day swapped this often while being held is given up on


def user_cache(part: str) -> Path:
    """~/.cache/announcer/<part>, under XDG_CACHE_HOME when that is set; the temp folder without a home."""
    base = os.environ.get("XDG_CACHE_HOME") or (os.environ.get("HOME") and os.path.join(os.environ["HOME"], ".cache"))
    if base:
        return Path(base) / "announcer" / part
    return Path(tempfile.gettempdir()) / f"announcer-{part}-{os.getuid()}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _unwritable(path, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())   # mkstemp makes files only we can read
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _unwritable(path, e) from None
        raise


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
        """The day's path as users see it (a link to the current version)."""
        return self.out / day.isoformat()

    def day_version(self, day: date) -> Path | None:
        """The folder the day currently points to; read a manifest and its clips from here."""
        link = self.day_dir(day)
        return link.resolve() if link.exists() else None

    def manifest(self, day: date) -> dict | None:
        """The day's manifest, or None when the day has not been built."""
        found = self.day(day)
        return None if found is None else found[1]

    def day(self, day: date) -> tuple[Path, dict] | None:
        """The day's version folder (resolved once) and its manifest, or None when the day has not been built.
        Read the clips from that folder, not through the day link, which a rebuild may swap meanwhile."""
        folder = self.day_version(day)
        if folder is None:
            return None
        path = folder / MANIFEST
        try:
            return folder, json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise LibraryError(
                f"无法读取清单（{e}）。请重新运行 announcer build 生成这一天的音频。",
                f"cannot read the manifest ({e}); run announcer build again for this day",
                str(self.day_dir(day) / MANIFEST),
            ) from None

    def held_day(self, day: date) -> tuple[Path, dict, Hold] | None:
        """Like `day`, and the version folder is kept until the Hold is released: a broadcast on air plays
        its clips to the end, however often the day is rebuilt meanwhile."""
        for _ in range(HOLD_TRIES):
            found = self.day(day)
            if found is None:
                return None
            folder, manifest = found
            try:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue                      # removed since the link was read: read it again
            fcntl.flock(fd, fcntl.LOCK_SH)
            if (folder / MANIFEST).is_file():
                return folder, manifest, Hold(fd)
            os.close(fd)                      # removed while we waited for the hold
        raise LibraryError("这一天的音频正在不停地重新生成，读不到。请稍后再试。",
                           "the day's clips keep being rebuilt and could not be read; try again in a moment",
                           str(self.day_dir(day)))

    def prepare(self) -> None:
        """Make sure the library can be written, before any slow work starts."""
        try:
            (self.out / CACHE).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _unwritable(self.out, e) from None
        probe = self.out / CACHE / ".write-test"
        atomic_write(probe, b"")
        probe.unlink()

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
        """Make `files` (name, source) and `manifest` the day, all or nothing."""
        return self.update(day, lambda current: (files, manifest), replace_damaged=True)

    def update(self, day: date, change, *, replace_damaged: bool = False) -> Path:
        """Publish `change(current)` as the day, where `current` is `day(day)` read under the same lock,
        so two writers (a build and an import) never lose each other's clips. `change` returns
        (files, manifest) like `publish` takes. A damaged manifest is an error, or with
        `replace_damaged` (a rebuild) counts as no day at all."""
        with self._locked():
            try:
                current = self.day(day)
            except LibraryError:
                if not replace_damaged:
                    raise
                current = None
            files, manifest = change(current)
            self._tidy()
            versions = self.out / DAYS
            name = f"{day.isoformat()}.{time.time_ns()}"
            partial = versions / f"{name}.partial"
            try:
                partial.mkdir(parents=True)
                for file_name, source in files:
                    _place(source, partial / file_name)
                atomic_write(partial / MANIFEST, to_json(manifest))
                os.rename(partial, versions / name)
                self._point(day, Path(DAYS) / name)
            except OSError as e:
                shutil.rmtree(partial, ignore_errors=True)
                raise _unwritable(self.day_dir(day), e) from None
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            self._tidy()
        return self.day_dir(day)

    def _point(self, day: date, target: Path) -> None:
        """Swap the day link to `target` in one rename."""
        link = self.day_dir(day)
        if link.is_dir() and not link.is_symlink():        # a plain folder someone made by hand
            os.rename(link, self.out / DAYS / f"{day.isoformat()}.0")
        temporary = self.out / f".{day.isoformat()}.link-{os.getpid()}"
        temporary.unlink(missing_ok=True)
        os.symlink(target, temporary)
        os.replace(temporary, link)
        _fsync_dir(self.out)

    def _tidy(self) -> None:
        """Drop what interrupted builds left, and versions older than the previous one."""
        versions = self.out / DAYS
        if not versions.is_dir():
            return
        for leftover in self.out.glob(".*.link-*"):
            leftover.unlink(missing_ok=True)
        by_day: dict[str, list[Path]] = {}
        for folder in versions.iterdir():
            if folder.name.endswith(".partial"):
                shutil.rmtree(folder, ignore_errors=True)
                continue
            day, _, stamp = folder.name.partition(".")
            by_day.setdefault(day, []).append(folder)
        for day, folders in by_day.items():
            link = self.out / day
            current = Path(os.readlink(link)).name if link.is_symlink() else None
            older = sorted((f for f in folders if f.name != current), key=lambda f: int(f.name.partition(".")[2]))
            for folder in older[: max(0, len(older) - (KEEP_VERSIONS - 1))]:
                _remove_unless_held(folder)

    @contextmanager
    def _locked(self):
        """One publish at a time in this library, across processes."""
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            handle = open(self.out / ".lock", "a")
        except OSError as e:
            raise _unwritable(self.out, e) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


class Hold:
    """A version folder kept from removal (a shared flock on it) until `release`."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _remove_unless_held(folder: Path) -> None:
    """Remove an old version folder, unless a reader holds it (it is tried again at the next publish)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return                                # on air: kept
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)


def _place(source: Path, target: Path) -> None:
    """Hard-link a cached clip into the day (instant, no extra space), or copy it."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        os.chmod(target, 0o666 & ~_umask())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_STATUS = "/proc/self/status"


def _umask_by_setting() -> int:
    mask = os.umask(0)        # sets it: another thread's mkdir or ffmpeg in between would get umask 0
    os.umask(mask)
    return mask


_IMPORT_UMASK = _umask_by_setting()     # read once at import (no other threads yet), where /proc cannot tell


def _umask() -> int:
    """The process's umask, read without changing it (the page and build threads write files at the same time)."""
    try:
        with open(_STATUS, "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORT_UMASK


def _unwritable(path: Path, error: OSError) -> LibraryError:
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        zh, en = "磁盘已满，请删除不需要的文件后再试", "the disk is full; free some space and try again"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        zh, en = "没有写入权限，请换一个文件夹（--out）或检查权限", "no permission to write there; pick another folder (--out) or fix the permissions"
    else:
        zh, en = "请确认这个文件夹存在并且可以写入", "check that this folder exists and can be written"
    return LibraryError(f"无法写入（{reason}）。{zh}。", f"cannot write here ({reason}); {en}", str(path))
