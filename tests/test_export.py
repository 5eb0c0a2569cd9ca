"""announcer export: the day's clips onto a stick, in play order, as players want them."""

import errno
import os
import re
import shutil
import struct
import subprocess
import time
import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from announcer.build import effects, export
from announcer.build.export import (ExportError, Mount, ascii_name, check_play_order, fs_type, mounts, mp3_fits,
                              plan_export, write_export)
from announcer.cli import main
from announcer.core.library import Library

DAY = date(2026, 11, 30)
MKFS = shutil.which("mkfs.vfat", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
FUSEFAT = shutil.which("fusefat")
FUSERMOUNT = shutil.which("fusermount") or shutil.which("fusermount3")
OUT_OF_ORDER = ("the files would play out of order (gaps left by files deleted from the stick put them out of "
                "order), and what was written is removed again; copy everything off the stick and format it "
                "(FAT32), then export again")


def tone(seconds: float, hz: float, rate: int = 44100):
    t = np.arange(int(seconds * rate)) / rate
    return effects.from_array(0.3 * np.sin(2 * np.pi * hz * t), rate)


@pytest.fixture(scope="module")
def sounds():
    return {
        "mp3": effects.encode(tone(1.0, 440), "mp3", 128),
        "mp3_256": effects.encode(tone(1.5, 550), "mp3", 256),
        "wav": effects.encode(tone(0.5, 660), "wav"),
    }


def make_day(out: Path, tmp_path: Path, clips: list[tuple[str, str, bytes]]) -> Path:
    """Publish a day whose clips are (id, file name, bytes), in that play order."""
    files, entries = [], []
    for clip_id, name, data in clips:
        source = tmp_path / f"src-{name}"
        source.write_bytes(data)
        files.append((name, source))
        entries.append({"id": clip_id, "file": name})
    return Library(out).publish(DAY, files, {"date": DAY.isoformat(), "clips": entries})


@pytest.fixture
def day(tmp_path, sounds):
    out = tmp_path / "out"
    make_day(out, tmp_path, [("ting-shui", "01-ting-shui.mp3", sounds["mp3"]),
                             ("停水通知", "02-x.wav", sounds["wav"]),
                             ("Lost & Found!", "03-lost.mp3", sounds["mp3_256"])])
    return out


@pytest.fixture
def stick(tmp_path):
    folder = tmp_path / "stick"
    folder.mkdir()
    return folder


def test_names_are_ascii_and_numbered_in_play_order():
    assert ascii_name(1, "ting-shui-tong-zhi") == "001-ting-shui-tong-zhi.mp3"
    assert ascii_name(12, "Lost & Found!") == "012-lost-found.mp3"
    assert ascii_name(3, "停水通知") == "003-announcement.mp3"
    assert ascii_name(4, "Café") == "004-cafe-notice.mp3"
    assert ascii_name(5, "a" * 80) == "005-" + "a" * 18 + ".mp3"
    assert export.LOOP_NAME == "000-all-clips.mp3"


def valid_8_3(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9!#$%&'()@^_`{}~-]{1,8}(\.[A-Za-z0-9!#$%&'()@^_`{}~-]{1,3})?", name) is not None


def test_every_name_takes_the_same_number_of_directory_entries():
    ids = ["", "a", "ab", "x-y", "fire", "1234567", "12345678", "停水通知", "停水 notice", "Café au lait",
           "Lost & Found!", "--", "a" * 80, "ab-" * 30, "water-notice-long", "ting-shui-tong-zhi-bu-chong"]
    names = [ascii_name(number, clip_id) for number in range(1, 1000) for clip_id in ids] + [export.LOOP_NAME]
    for name in names:      # FAT: 1 + 2 long-name entries; exFAT: 2 + 2 name entries
        assert 16 <= len(name) <= 26 and not valid_8_3(name), name
        assert re.fullmatch(r"\d{3}-[a-z0-9]+(-[a-z0-9]+)*\.mp3", name), name
    assert valid_8_3("note1.txt") and valid_8_3("001-x.mp3") and not valid_8_3("001-fire-x.mp3")


def test_clips_go_in_manifest_order_copied_when_they_qualify(day, stick, sounds):
    written = write_export(plan_export(stick, DAY, day))
    assert [p.name for p in written] == ["001-ting-shui.mp3", "002-announcement.mp3", "003-lost-found.mp3"]
    assert written[0].read_bytes() == sounds["mp3"]           # 128 kbps MP3 at 44.1 kHz: as it is
    for path in written[1:]:                                   # WAV and 256 kbps: re-encoded
        assert mp3_fits(path.read_bytes())
        assert effects.decode(path.read_bytes(), "mp3").frame_rate == 44100
    assert not mp3_fits(sounds["mp3_256"])
    assert sorted(p.name for p in stick.iterdir()) == [p.name for p in written]


def fat_root_entries(image: Path) -> list[str]:
    """Names in the FAT root directory, in on-disk order (FAT12/16/32): the long name where there is one."""
    data = image.read_bytes()
    sector, per_cluster, reserved, fats, root_count = struct.unpack_from("<HBHBH", data, 11)
    fat16_size = struct.unpack_from("<H", data, 22)[0]
    fat_size = fat16_size or struct.unpack_from("<I", data, 36)[0]
    first_data = reserved + fats * fat_size + (root_count * 32 + sector - 1) // sector
    if root_count:          # FAT12/16: a fixed root area before the data
        start = (reserved + fats * fat_size) * sector
        raw = data[start:start + root_count * 32]
    else:                   # FAT32: the root is a cluster chain
        cluster, raw = struct.unpack_from("<I", data, 44)[0], b""
        while cluster < 0x0FFFFFF8:
            start = (first_data + (cluster - 2) * per_cluster) * sector
            raw += data[start:start + per_cluster * sector]
            cluster = struct.unpack_from("<I", data, reserved * sector + cluster * 4)[0] & 0x0FFFFFFF
    names, long = [], ""
    for offset in range(0, len(raw), 32):
        entry = raw[offset:offset + 32]
        if entry[0] == 0:
            break
        if entry[0] == 0xE5:                # deleted
            long = ""
        elif entry[11] == 0x0F:             # a long-name part; the last part comes first
            long = (entry[1:11] + entry[14:26] + entry[28:32]).decode("utf-16-le").split("\0")[0] + long
        else:
            short = entry[:8].decode("ascii").rstrip() + "." + entry[8:11].decode("ascii").rstrip()
            if not entry[11] & 0x08:        # not the volume label
                names.append(long or short.rstrip("."))
            long = ""
    return names


class FatStick:
    """A FAT image mounted with fusefat, which like Linux vfat puts a new entry in the first gap that fits."""

    def __init__(self, image: Path, mount: Path, process: subprocess.Popen):
        self.image, self.mount, self.process = image, mount, process

    def unmount(self) -> None:
        if self.process.poll() is None:
            if subprocess.run([FUSERMOUNT, "-u", str(self.mount)], capture_output=True).returncode:
                subprocess.run([FUSERMOUNT, "-uz", str(self.mount)], capture_output=True)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def entries(self) -> list[str]:
        """Unmount, then the root directory's names as the image holds them."""
        self.unmount()
        return fat_root_entries(self.image)


@pytest.fixture
def fat(tmp_path):
    """fat(kb, *mkfs_args): a fresh FAT image of `kb` KiB, mounted with fusefat until the test ends."""
    if not (MKFS and FUSEFAT and FUSERMOUNT):
        pytest.skip("mkfs.vfat (dosfstools), fusefat and fusermount (fuse) are needed; scripts/test installs them")
    sticks: list[FatStick] = []

    def mount(kb: int = 4096, *mkfs_args: str) -> FatStick:
        image, point, log = (tmp_path / f"fat{len(sticks)}{suffix}" for suffix in (".img", "", ".log"))
        point.mkdir()
        subprocess.run([MKFS, *mkfs_args, "-C", str(image), str(kb)], check=True, capture_output=True)
        with open(log, "wb") as out:        # fusefat talks on stdout; -f: stay ours, to wait for on unmount
            process = subprocess.Popen([FUSEFAT, "-f", "-o", "rw+", str(image), str(point)],
                                       stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not os.path.ismount(point) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        sticks.append(FatStick(image, point, process))
        if not os.path.ismount(point):
            sticks[-1].unmount()
            said = log.read_text(errors="replace").strip().splitlines()
            pytest.skip(f"fusefat could not mount a FAT image here (is /dev/fuse usable?): {said[-1:] or 'no output'}")
        return sticks[-1]

    yield mount
    for stick in sticks:
        stick.unmount()


YESTERDAY = ["001-old-a.mp3", "note1.txt", "002-yesterdays-long-name.mp3", "note2.txt", "003-mid-name.mp3",
             "note3.txt"]   # the audio leaves gaps of 2, 4 and 3 entries between the kept notes


def reused_stick(fat, tmp_path, sounds) -> tuple[FatStick, Path]:
    """Yesterday's stick, and a day whose old names (3 entries, then 2) would land out of order in its gaps."""
    stick = fat()
    for name in YESTERDAY:
        (stick.mount / name).write_text("yesterday")
    out = tmp_path / "out"
    make_day(out, tmp_path, [("water-notice-long", "01-water.mp3", sounds["mp3"]),
                             ("fire", "02-fire.mp3", sounds["mp3"])])
    return stick, out


def old_ascii_name(number: int, clip_id: str) -> str:
    """Names as they were before: as long as the id, so 2 to 3 entries on FAT."""
    text = unicodedata.normalize("NFKD", clip_id).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:20].strip("-") or "clip"
    return f"{number:03d}-{text}.mp3"


def test_reusing_a_stick_with_gaps_keeps_the_play_order_on_disk(fat, tmp_path, sounds, capsys):
    stick, out = reused_stick(fat, tmp_path, sounds)
    assert main(["export", str(stick.mount), "--date", "2026-11-30", "--out", str(out), "--clean"]) == 0, \
        capsys.readouterr().err
    on_disk = stick.entries()
    assert [name for name in on_disk if name.endswith(".mp3")] == ["001-water-notice-long.mp3",
                                                                   "002-fire-notice.mp3"]
    assert [name for name in on_disk if name.endswith(".txt")] == ["note1.txt", "note2.txt", "note3.txt"]


def test_files_that_land_out_of_order_are_refused_and_taken_off(fat, tmp_path, sounds, capsys, monkeypatch):
    stick, out = reused_stick(fat, tmp_path, sounds)
    monkeypatch.setattr(export, "ascii_name", old_ascii_name)
    assert main(["export", str(stick.mount), "--date", "2026-11-30", "--out", str(out), "--clean"]) == 1
    assert capsys.readouterr().err == f"error: {stick.mount}: {OUT_OF_ORDER}\n"
    assert os.listdir(stick.mount) == ["note1.txt", "note2.txt", "note3.txt"]
    assert stick.entries() == ["note1.txt", "note2.txt", "note3.txt"]


def test_play_order_is_read_back_from_the_directory_listing(tmp_path):
    names = ["000-all-clips.mp3", "001-fire-notice.mp3"]
    check_play_order(tmp_path, names, ["notes.txt", "000-all-clips.mp3", "photos", "001-FIRE-NOTICE.MP3"])
    with pytest.raises(ExportError) as caught:
        check_play_order(tmp_path, names, ["001-fire-notice.mp3", "notes.txt", "000-all-clips.mp3"])
    assert str(caught.value) == f"{tmp_path}: {OUT_OF_ORDER}"


def test_the_file_system_is_the_one_at_the_longest_mount_point():
    mountinfo = "\n".join([
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        r"40 22 8:17 / /media/pi/MY\040STICK rw,nosuid,nodev shared:5 - vfat /dev/sdb1 rw,shortname=mixed",
        "41 22 0:40 / /media/pi/MY rw - tmpfs tmpfs rw",
        "42 22 0:41 / /media/pi/CARD rw - ext4 /dev/sdc1 rw",
        "43 42 0:42 / /media/pi/CARD rw - exfat /dev/sdc1 rw",
    ])
    assert fs_type(Path("/media/pi/MY STICK/sounds"), mountinfo) == "vfat"
    assert fs_type(Path("/media/pi/MY"), mountinfo) == "tmpfs"
    assert fs_type(Path("/media/pi/MY STICKER"), mountinfo) == "ext4"
    assert fs_type(Path("/media/pi/CARD"), mountinfo) == "exfat"      # mounted over the one before
    assert fs_type(Path("/home/pi"), mountinfo) == "ext4"


def test_the_mount_table_is_read_in_order_with_escapes_undone(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_text("\n".join([
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
        r"40 22 8:17 / /media/pi/MY\040STICK rw,nosuid,nodev shared:5 master:2 - vfat /dev/sdb1 rw,shortname=mixed",
        "41 22 0:51 / /media/pi/WIN rw - fuseblk /dev/sda3 rw,user_id=0",
        "broken line",
        "50 22 8:1 / /cut off here -",
    ]), encoding="utf-8")
    assert mounts(table=table) == [
        Mount(Path("/"), "ext4", "/dev/sda1", "8:1"),
        Mount(Path("/media/pi/MY STICK"), "vfat", "/dev/sdb1", "8:17"),
        Mount(Path("/media/pi/WIN"), "fuseblk", "/dev/sda3", "0:51"),
    ]
    assert mounts(table.read_text(encoding="utf-8"), table=tmp_path / "ignored") == mounts(table=table)
    assert mounts(table=tmp_path / "missing") == []


def test_export_onto_a_fat32_stick_keeps_the_play_order_on_disk(fat, day, monkeypatch):
    stick = fat(40000, "-F", "32")
    # fusefat reports 0 bytes free on FAT32 (right on FAT12/16); the image has about 40 MB
    monkeypatch.setattr(export.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(40_000_000, 0, 40_000_000))
    written = write_export(plan_export(stick.mount, DAY, day, loop_file=True))
    assert stick.entries() == [p.name for p in written] == [
        "000-all-clips.mp3", "001-ting-shui.mp3", "002-announcement.mp3", "003-lost-found.mp3"]


def padded_day(tmp_path, sounds, count: int, size: int) -> Path:
    """A day of `count` MP3 clips of about `size` bytes each, copied as they are."""
    out, data = tmp_path / "out", sounds["mp3"] + bytes(size - len(sounds["mp3"]))
    make_day(out, tmp_path, [(f"notice-{n}", f"{n:02d}-notice.mp3", data) for n in range(1, count + 1)])
    return out


def test_a_small_stick_is_refused_before_anything_is_written(fat, tmp_path, sounds):
    stick = fat(1024)           # about 1 MB free
    out = padded_day(tmp_path, sounds, 3, 400_000)
    with pytest.raises(ExportError) as caught:
        plan_export(stick.mount, DAY, out)
    assert str(caught.value).startswith(f"{stick.mount}: not enough space: 1.4 MB is needed but only ")
    assert os.listdir(stick.mount) == []
    assert stick.entries() == []


def test_a_stick_that_really_fills_up_mid_write_keeps_none_of_the_new_files(fat, tmp_path, sounds):
    stick = fat(1024)
    (stick.mount / "keep.txt").write_text("kept")
    plan = plan_export(stick.mount, DAY, padded_day(tmp_path, sounds, 2, 300_000))
    with open(stick.mount / "filler.bin", "wb") as f:      # something else takes the space meanwhile
        f.write(bytes(shutil.disk_usage(stick.mount).free - 450_000))
    assert 300_000 < shutil.disk_usage(stick.mount).free < 600_000     # fusefat keeps statvfs up to date
    with pytest.raises(ExportError) as caught:
        write_export(plan)
    assert str(caught.value).startswith(f"{stick.mount}: the stick is full: it ran out of space writing "
                                        "002-notice-2.mp3, and what was written is removed again; about ")
    assert sorted(os.listdir(stick.mount)) == ["filler.bin", "keep.txt"]
    assert stick.entries() == ["keep.txt", "filler.bin"]


def test_refuses_a_stick_that_already_holds_audio(day, stick):
    (stick / "old.MP3").write_bytes(b"x")
    with pytest.raises(ExportError) as caught:
        plan_export(stick, DAY, day)
    assert str(caught.value) == (
        f"{stick}: the folder already holds 1 audio files (old.MP3) that a player would mix with the new ones; "
        "add --clean to remove them first (only audio files are removed), or pick another folder")
    assert (stick / "old.MP3").exists()


def test_clean_removes_only_audio_files(day, stick):
    for name in ("old.mp3", "song.WMA", "voice.m4a", "a.wav"):
        (stick / name).write_bytes(b"x")
    (stick / "notes.txt").write_text("keep me")
    (stick / "photos").mkdir()
    write_export(plan_export(stick, DAY, day, clean=True))
    assert sorted(p.name for p in stick.iterdir()) == [
        "001-ting-shui.mp3", "002-announcement.mp3", "003-lost-found.mp3", "notes.txt", "photos"]


def test_free_space_is_checked_before_anything_is_written(day, stick, monkeypatch):
    (stick / "old.mp3").write_bytes(b"x")
    monkeypatch.setattr(export.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(ExportError) as caught:
        plan_export(stick, DAY, day, clean=True)
    assert str(caught.value).startswith(f"{stick}: not enough space: ")
    assert str(caught.value).endswith(" MB is free; delete other files or use a bigger stick")
    assert [p.name for p in stick.iterdir()] == ["old.mp3"]


def test_a_stick_full_mid_write_leaves_no_partial_file(day, stick, monkeypatch):
    plan = plan_export(stick, DAY, day)
    real_fsync, calls = export.os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 3:      # file 1, its folder, then file 2
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(export.os, "fsync", fsync)
    with pytest.raises(ExportError) as caught:
        write_export(plan)
    rest = sum(len(f.data) + export.SLACK_BYTES for f in plan.files[1:])
    assert str(caught.value) == (
        f"{stick}: the stick is full: it ran out of space writing 002-announcement.mp3, and what was written is "
        f"removed again; about {rest / 1e6:.1f} MB more is needed; free some space or use a bigger stick, then export again")
    assert list(stick.iterdir()) == []          # no half day left to play, nothing to block the next export


def test_loop_file_holds_every_clip_with_the_gaps(day, stick):
    written = write_export(plan_export(stick, DAY, day, loop_file=True, gap_s=3.0))
    assert written[0].name == "000-all-clips.mp3"
    clips = sum(len(effects.decode(p.read_bytes(), "mp3")) for p in written[1:]) / 1000
    loop = len(effects.decode(written[0].read_bytes(), "mp3")) / 1000
    assert loop == pytest.approx(clips + 3 * 3.0, abs=0.1)    # a gap after each clip, so the loop keeps time


def test_destination_errors(day, tmp_path, monkeypatch):
    with pytest.raises(ExportError, match="this folder does not exist; plug in the stick and check the path"):
        plan_export(tmp_path / "nowhere", DAY, day)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="this is a file, not a folder; give a folder on the stick"):
        plan_export(tmp_path / "file", DAY, day)
    media = tmp_path / "media"
    (media / "usb").mkdir(parents=True)
    monkeypatch.setattr(export, "MOUNT_ROOTS", (media,))
    with pytest.raises(ExportError) as caught:
        plan_export(media / "usb", DAY, day)
    assert str(caught.value) == (
        f"{media / 'usb'}: the stick is not mounted: this folder is on the computer's own disk, not on the stick; "
        "plug the stick in and mount it, then try again")


def test_a_write_protected_stick_is_named_before_any_work(day, stick, monkeypatch):
    monkeypatch.setattr(export.os, "access", lambda path, mode: False)   # root may write anywhere
    with pytest.raises(ExportError) as caught:
        plan_export(stick, DAY, day)
    assert str(caught.value) == (f"{stick}: cannot write here; the stick may be write-protected "
                                 "(check its lock switch) or the folder's permissions")


def test_day_not_built_or_empty(tmp_path, stick):
    out = tmp_path / "out"
    with pytest.raises(ExportError) as caught:
        plan_export(stick, DAY, out)
    assert str(caught.value) == f"{out}: no clips for 2026-11-30 yet; run announcer build for this day first"
    make_day(out, tmp_path, [])
    with pytest.raises(ExportError) as caught:
        plan_export(stick, DAY, out)
    assert str(caught.value) == (f"{out / '2026-11-30'}: 2026-11-30 has no clips, so there is nothing to export; "
                                 "check the notices and run announcer build again")


def test_cli_dry_run_lists_and_writes_nothing(day, stick, capsys):
    (stick / "old.mp3").write_bytes(b"x")
    assert main(["export", str(stick), "--date", "2026-11-30", "--out", str(day), "--dry-run", "--clean",
                 "--loop-file"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "remove old.mp3"
    assert [line.split()[0] for line in out[1:5]] == ["000-all-clips.mp3", "001-ting-shui.mp3",
                                                      "002-announcement.mp3", "003-lost-found.mp3"]
    assert out[-1] == f"dry run: 4 files would be written to {stick}; nothing was written."
    assert [p.name for p in stick.iterdir()] == ["old.mp3"]


def test_cli_writes_the_day_and_refuses_in_one_line(day, stick, capsys):
    args = ["export", str(stick), "--date", "2026-11-30", "--out", str(day)]
    assert main(args) == 0
    assert capsys.readouterr().out == (f"wrote 3 files to {stick} in play order; "
                                       "eject the stick safely before unplugging it.\n")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {stick}: the folder already holds 3 audio files")


def test_ctrl_c_mid_export_takes_the_half_day_off_the_stick(day, stick, monkeypatch):
    plan = plan_export(stick, DAY, day)
    real_fsync, calls = export.os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(export.os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        write_export(plan)
    assert list(stick.iterdir()) == []


def test_the_export_numbers_files_in_the_order_set_by_hand(tmp_path, stick, sounds):
    from announcer.build.order import move_clip

    out = tmp_path / "out"
    make_day(out, tmp_path, [("ting-shui", "01-ting-shui.mp3", sounds["mp3"]),
                             ("keys", "02-keys.mp3", sounds["mp3"]),
                             ("memo", "03-memo.wav", sounds["wav"])])
    move_clip(DAY, out, "memo", -1)
    move_clip(DAY, out, "memo", -1)
    assert [c["file"] for c in Library(out).manifest(DAY)["clips"]] == ["01-memo.wav", "02-ting-shui.mp3",
                                                                         "03-keys.mp3"]
    written = write_export(plan_export(stick, DAY, out))
    assert [p.name for p in written] == [ascii_name(1, "memo"), ascii_name(2, "ting-shui"), ascii_name(3, "keys")]
    assert written[0].name.startswith("001-memo") and written[1].read_bytes() == sounds["mp3"]


def test_an_office_urgent_notice_and_its_chime_stay_off_the_stick_which_loops_all_day(tmp_path, stick, sounds):
    from announcer.core.plan import ONCE_TAG

    out = tmp_path / "out"
    make_day(out, tmp_path, [("ting-shui", "01-ting-shui.mp3", sounds["mp3"]),
                             ("urgent-attention", "02-urgent-attention.mp3", sounds["mp3"]),
                             ("urgent-1a2b3c4d", "03-urgent-1a2b3c4d.mp3", sounds["mp3_256"])])
    manifest = Library(out).manifest(DAY)
    for clip in manifest["clips"][1:]:
        clip["tags"] = ["office", ONCE_TAG]
    Library(out).publish(DAY, [(c["file"], Library(out).day_dir(DAY) / c["file"]) for c in manifest["clips"]],
                         manifest)
    written = write_export(plan_export(stick, DAY, out))
    assert [p.name for p in written] == [ascii_name(1, "ting-shui")]
