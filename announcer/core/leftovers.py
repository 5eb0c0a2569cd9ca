"""What a killed announcer leaves behind, and clearing it away.

Each process keeps its temporary files (its own, pydub's and the engines') in one
folder of its own, `announcer-<pid>-*` in the system's temp folder, removed when
it exits. A process killed with -9 cannot remove it, nor the half-written
`.*.tmp` files, upload and import folders under the clip library. At start-up
a private folder is removed when the process named in it is gone, and the rest
when they are older than every announcer process still running: no running
process can be using them then. Nothing else is touched.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

PRIVATE = "announcer-"
# Under the clip library: what atomic_write, the page's uploads and `announcer import` make while they work.
LIBRARY_PATTERNS = (".cache/.*.tmp", ".upload-*", ".import-*", "*/.*.tmp", ".*.tmp")
# In the system's temp folder: private folders, and the engines' and the page's from before them. Only these
# names: a benchmark's or another tool's announcer-* folder is not ours to judge (pydub's tmp* now go
# into the private folder).
SYSTEM_PATTERNS = ("announcer-[0-9]*-*", "announcer-pyttsx3-*", "announcer-espeak-*", "announcer-notices-*")


def private_temp() -> Path:
    """This process's temp folder (made once; tempfile, pydub and the engines use it from now on)."""
    current = tempfile.gettempdir()
    if Path(current).name.startswith(f"{PRIVATE}{os.getpid()}-"):
        return Path(current)
    folder = tempfile.mkdtemp(prefix=f"{PRIVATE}{os.getpid()}-", dir=current)
    tempfile.tempdir = folder
    atexit.register(shutil.rmtree, folder, True)
    return Path(folder)


def clear(out: Path | None = None) -> int:
    """Remove what killed announcer processes left in the temp folder (and under `out`); how many went."""
    oldest = _oldest_running()
    if oldest is None:
        return 0
    base = Path(tempfile.gettempdir())
    if base.name.startswith(PRIVATE):
        base = base.parent
    found = [p for pattern in SYSTEM_PATTERNS for p in base.glob(pattern) if _ours(p)]
    if out is not None and Path(out).is_dir():
        found += [p for pattern in LIBRARY_PATTERNS for p in Path(out).glob(pattern)]
    removed = 0
    for path in found:
        try:
            owner = _owner(path.name)
            if owner is not None and _started(owner) is not None and _started(owner) <= path.lstat().st_mtime + 1:
                continue                      # its process still runs
            if owner is None and path.lstat().st_mtime >= oldest:
                continue                      # a running process may be using it
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError:
            pass                              # someone else's, or gone already
    return removed


def _ours(path: Path) -> bool:
    """A temp-folder entry this user made: another user's are left alone."""
    try:
        return path.lstat().st_uid == os.getuid()
    except OSError:
        return False


def _owner(name: str) -> int | None:
    """The process id in a private folder's name (announcer-<pid>-...), None for other names."""
    parts = name.split("-")
    return int(parts[1]) if name.startswith(PRIVATE) and len(parts) > 2 and parts[1].isdigit() else None


def _started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch); None when it does not run."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return _boot() + int(stat.rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None


@functools.cache
def _boot() -> float:
    """When this machine started (seconds since the epoch)."""
    return next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime "))


def _oldest_running() -> float | None:
    """When the oldest running announcer process (this one included, whatever runs it) started, in seconds
    since the epoch; None when that cannot be told (no /proc), so nothing is removed."""
    oldest = _started(os.getpid())
    if oldest is None:
        return None
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"announcer" in (entry / "cmdline").read_bytes():
                started = _started(int(entry.name))
                oldest = min(oldest, started) if started is not None else oldest
        except OSError:
            continue
    return oldest
