"""The day's clips → a USB stick or TF card for a handheld loudspeaker.

Cheap players play files in FAT directory order, which is the order they were
written, so each file is written whole and fsynced before the next one starts,
in play order: `001-<id>.mp3`, `002-...`. Every file is MP3 at 44.1 kHz and at
most 192 kbps; clips that already are go on as they are, others are re-encoded.
All audio is prepared in memory first, so the stick is only touched once the
files are known to fit.

A new directory entry goes into the first gap that fits, and files deleted earlier leave
gaps of all sizes; names of 16-26 characters, never 8.3, all take 3 entries on FAT (4 on
exFAT), so write order stays directory order. FAT-like sticks are read back to be sure.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple

from announcer.core.errors import AnnouncerError, LibraryError
from announcer.core.library import Library
from announcer.core.plan import every_clip

AUDIO_SUFFIXES = (".mp3", ".wav", ".wma", ".m4a", ".aac", ".ogg", ".flac", ".amr", ".ape", ".mp2", ".opus")
LOOP_NAME = "000-all-clips.mp3"   # written first, so "track 1" on a player that loops one file
DEFAULT_GAP_S = 3.0           # between clips in the loop file when no [[broadcast]] sets one
MAX_KBPS = 192
RATE = 44100
SLACK_BYTES = 64 * 1024       # per file: FAT cluster rounding and directory entries
NAME_LENGTHS = (16, 26)       # FAT: 1 short + 2 long-name entries; exFAT: 2 + 2 name entries
FALLBACK_ID = "announcement"  # for an id with no ASCII letters or digits
FAT_TYPES = {"vfat", "msdos", "fat", "exfat", "fuse.fusefat", "fuseblk", "fuse.exfat", "fuse.exfat-fuse"}
MOUNT_ROOTS = (Path("/media"), Path("/run/media"), Path("/mnt"))   # where sticks are mounted; a plain folder there is not one
MOUNTINFO = Path("/proc/self/mountinfo")


class ExportError(AnnouncerError):
    """The clips cannot be put on the stick."""


@dataclass(frozen=True)
class ExportFile:
    name: str
    data: bytes
    source: str        # the clip file it comes from, or "all clips" for the loop file
    copied: bool       # True: the clip's own bytes; False: re-encoded


@dataclass(frozen=True)
class ExportPlan:
    dest: Path
    files: list[ExportFile]
    remove: list[Path]  # audio files --clean removes first
    free: int           # free bytes on the destination now

    @property
    def needed(self) -> int:
        return sum(len(f.data) + SLACK_BYTES for f in self.files)


def ascii_name(number: int, clip_id: str) -> str:
    """`001-ting-shui-tong-zhi.mp3`, `002-fire-notice.mp3`: ASCII, and a length in NAME_LENGTHS."""
    prefix, shortest, longest = f"{number:03d}-", *NAME_LENGTHS
    text = unicodedata.normalize("NFKD", clip_id).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    text = text[:longest - len(prefix) - len(".mp3")].strip("-") or FALLBACK_ID
    if len(prefix + text + ".mp3") < shortest:
        text += "-notice"
    return f"{prefix}{text}.mp3"


def loop_gap(config) -> float:
    """Silence between clips in the loop file: the first [[broadcast]]'s gap, else 3 s."""
    return config.broadcasts[0].gap_s if config is not None and config.broadcasts else DEFAULT_GAP_S


def plan_export(dest: Path, day: date, out: Path, *, loop_file: bool = False, clean: bool = False,
                gap_s: float = DEFAULT_GAP_S, bitrate_kbps: int = 128) -> ExportPlan:
    """Check the destination and prepare every file's bytes; writes nothing."""
    dest = Path(dest)
    check_destination(dest)
    present = audio_files(dest)
    if present and not clean:
        names = ", ".join(p.name for p in present[:3]) + (" …" if len(present) > 3 else "")
        raise ExportError(
            f"目标文件夹里已有 {len(present)} 个音频文件（{names}），播放器会把它们和新文件混在一起播放。"
            "请加 --clean 先删除它们（只删除音频文件），或换一个文件夹。",
            f"the folder already holds {len(present)} audio files ({names}) that a player would mix with the new "
            "ones; add --clean to remove them first (only audio files are removed), or pick another folder",
            str(dest))
    folder, clips = _day_clips(day, out)
    bitrate = min(bitrate_kbps, MAX_KBPS)
    files = [_export_file(number, clip, folder, bitrate) for number, clip in enumerate(clips, start=1)]
    if loop_file:
        files.insert(0, ExportFile(LOOP_NAME, _loop_bytes(clips, folder, gap_s, bitrate), "all clips", False))
    free = shutil.disk_usage(dest).free
    plan = ExportPlan(dest, files, present if clean else [], free)
    available = free + sum(p.stat().st_size for p in plan.remove)
    if plan.needed > available:
        raise ExportError(
            f"空间不够：需要 {_mb(plan.needed)}，这里只有 {_mb(available)} 可用。请删除其他文件或换一个更大的U盘。",
            f"not enough space: {_mb(plan.needed)} is needed but only {_mb(available)} is free; "
            "delete other files or use a bigger stick", str(dest))
    return plan


def write_export(plan: ExportPlan) -> list[Path]:
    """Remove what --clean asked for, then write the files one at a time, in order, each fsynced."""
    for path in plan.remove:
        try:
            path.unlink()
        except OSError as e:
            raise _cannot_write(path, e) from None
    if plan.remove:
        _fsync_dir(plan.dest)
    written: list[Path] = []
    try:
        for index, file in enumerate(plan.files):
            path = plan.dest / file.name
            try:
                with open(path, "wb") as f:
                    written.append(path)
                    f.write(file.data)
                    f.flush()
                    os.fsync(f.fileno())
                _fsync_dir(plan.dest)
            except OSError as e:
                if _out_of_space(e, plan.dest, len(file.data)):
                    rest = sum(len(f.data) + SLACK_BYTES for f in plan.files[index:])
                    raise ExportError(
                        f"U盘已满：写入 {file.name} 时空间用完，已写入的文件已删除。"
                        f"还需要约 {_mb(rest)} 空间，请删除其他文件或换一个更大的U盘后重新导出。",
                        f"the stick is full: it ran out of space writing {file.name}, and what was written is "
                        f"removed again; about {_mb(rest)} more is needed; free some space or use a bigger stick, "
                        "then export again", str(plan.dest)) from None
                raise _cannot_write(path, e) from None
        if fs_type(plan.dest) in FAT_TYPES:
            try:
                listing = os.listdir(plan.dest)
            except OSError as e:
                raise _cannot_write(plan.dest, e) from None
            check_play_order(plan.dest, [file.name for file in plan.files], listing)
    except BaseException:
        # Half a day on the stick would play as if it were whole, and block the next export: take it off.
        for path in written:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        raise
    return written


def check_play_order(dest: Path, names: list[str], listing: list[str]) -> None:
    """Refuse when `listing` (the folder in directory order) does not hold `names` in that order."""
    wanted = {name.lower() for name in names}
    if [name.lower() for name in listing if name.lower() in wanted] != [name.lower() for name in names]:
        raise ExportError(
            "文件在U盘上的顺序不对，播放器会打乱播放顺序（U盘上删除过的文件留下了空位），已写入的文件已删除。"
            "请把U盘上的文件全部复制出来，把U盘格式化（FAT32）后重新导出。",
            "the files would play out of order (gaps left by files deleted from the stick put them out of "
            "order), and what was written is removed again; copy everything off the stick and format it "
            "(FAT32), then export again", str(dest))


class Mount(NamedTuple):
    point: Path        # where it is mounted
    fs: str            # "vfat", "ext4", ...
    source: str        # "/dev/sdb1", "tmpfs", ...
    device: str        # "major:minor", as /sys/dev/block names it


def mounts(mountinfo: str | None = None, table: Path | None = None) -> list[Mount]:
    """The mount table in mount order (a later mount on the same point hides the earlier one): the text
    `mountinfo`, else the file `table` (default /proc/self/mountinfo); [] when it cannot be read."""
    if mountinfo is None:
        try:
            mountinfo = (table or MOUNTINFO).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            return []
    found = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 8 or "-" not in fields[6:]:
            continue
        rest = fields[fields.index("-", 6) + 1:]
        if not rest:
            continue
        found.append(Mount(Path(_unescape(fields[4])), rest[0], _unescape(rest[1]) if len(rest) > 1 else "",
                           fields[2]))
    return found


def _unescape(field: str) -> str:
    """Mount table fields write a space as \\040 (and tab, newline, backslash likewise)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def fs_type(path: Path, mountinfo: str | None = None) -> str:
    """The type of the file system `path` is on ("vfat", "ext4", ...), from /proc/self/mountinfo; "" if unknown."""
    path = Path(os.path.realpath(path))
    best, kind = -1, ""
    for mount in mounts(mountinfo):
        if (mount.point == path or mount.point in path.parents) and len(mount.point.parts) >= best:
            best, kind = len(mount.point.parts), mount.fs     # the last of equals is on top
    return kind


def check_destination(dest: Path) -> None:
    if not dest.exists():
        raise ExportError("找不到这个文件夹。请插好U盘，并检查路径是否正确。",
                          "this folder does not exist; plug in the stick and check the path", str(dest))
    if not dest.is_dir():
        raise ExportError("这是一个文件，不是文件夹。请给出U盘上的文件夹。",
                          "this is a file, not a folder; give a folder on the stick", str(dest))
    if not _mounted(dest):
        raise ExportError("U盘没有挂载：这个文件夹在本机磁盘上，不在U盘上。请插好U盘并挂载后再试。",
                          "the stick is not mounted: this folder is on the computer's own disk, not on the stick; "
                          "plug the stick in and mount it, then try again", str(dest))
    if not os.access(dest, os.W_OK | os.X_OK):
        raise ExportError("没有写入权限。U盘可能设置了写保护，请检查U盘的写保护开关或文件夹权限。",
                          "cannot write here; the stick may be write-protected (check its lock switch) "
                          "or the folder's permissions", str(dest))


def audio_files(dest: Path) -> list[Path]:
    """Audio files directly in `dest`, in name order."""
    return sorted(p for p in dest.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def _mounted(dest: Path) -> bool:
    """False for a folder under /media or /mnt that is not on a mounted file system there."""
    path = dest.resolve()
    for top in MOUNT_ROOTS:
        if path == top or top in path.parents:
            while path != top:
                if os.path.ismount(path):
                    return True
                path = path.parent
            return False
    return True


def _day_clips(day: date, out: Path) -> tuple[Path, list[dict]]:
    found = Library(out).day(day)
    if found is None:
        raise ExportError(f"{day} 的音频还没有生成。请先运行 announcer build 生成这一天的音频。",
                          f"no clips for {day} yet; run announcer build for this day first", str(Path(out)))
    folder, manifest = found
    clips = every_clip(manifest)          # the stick loops them all day, as a broadcast of "all"
    if not clips:
        raise ExportError(f"{day} 没有音频片段，没有可导出的。请检查通知后重新运行 announcer build。",
                          f"{day} has no clips, so there is nothing to export; check the notices and run "
                          "announcer build again", str(Library(out).day_dir(day)))
    return folder, clips


def _read_clip(source: Path) -> bytes:
    try:
        return source.read_bytes()
    except OSError as e:
        raise LibraryError(f"无法读取音频（{e.strerror}）。请重新运行 announcer build。",
                           f"cannot read the clip ({e.strerror}); run announcer build again", str(source)) from None


def _export_file(number: int, clip: dict, folder: Path, bitrate: int) -> ExportFile:
    source = folder / clip["file"]
    data = _read_clip(source)
    name = ascii_name(number, clip.get("id", ""))
    if source.suffix.lower() == ".mp3" and mp3_fits(data):
        return ExportFile(name, data, clip["file"], True)
    from announcer.build import effects

    sound = effects.decode(data, source.suffix.lower().lstrip("."))
    return ExportFile(name, effects.encode(sound, "mp3", bitrate, RATE), clip["file"], False)


def _loop_bytes(clips: list[dict], folder: Path, gap_s: float, bitrate: int) -> bytes:
    """Every clip with `gap_s` between, and `gap_s` at the end too, so the loop keeps the same rhythm."""
    from announcer.build import effects

    sounds = [effects.mono(effects.decode(_read_clip(folder / c["file"]), Path(c["file"]).suffix.lstrip(".").lower()),
                           RATE) for c in clips]
    whole = effects.join(sounds, gap_s, RATE) + effects.silence(gap_s, RATE)
    return effects.encode(whole, "mp3", bitrate, RATE)


_MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


def mp3_fits(data: bytes) -> bool:
    """True for a constant-bitrate MPEG-1 Layer III file at 44.1 kHz and at most 192 kbps (first frame)."""
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        start = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
    header = data[start:start + 4]
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xFE) != 0xFA:   # sync, MPEG-1, Layer III
        return False
    index, rate = header[2] >> 4, (header[2] >> 2) & 0x3
    if rate != 0 or not 0 < index < 15 or _MP3_KBPS[index] > MAX_KBPS:
        return False
    return b"Xing" not in data[start:start + 200]   # a Xing tag marks variable bitrate


def _out_of_space(e: OSError, folder: Path, size: int) -> bool:
    """ENOSPC, or less space left than the file needs (fusefat fails a full write with EPERM)."""
    if e.errno == errno.ENOSPC:
        return True
    try:
        return shutil.disk_usage(folder).free < size
    except OSError:
        return False


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass   # some file systems refuse fsync on a folder
    finally:
        os.close(fd)


def _cannot_write(path: Path, e: OSError) -> ExportError:
    reason = e.strerror or str(e)
    return ExportError(f"无法写入（{reason}）。请检查U盘是否插好、是否有写保护。",
                       f"cannot write here ({reason}); check that the stick is plugged in and not write-protected",
                       str(path))


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
