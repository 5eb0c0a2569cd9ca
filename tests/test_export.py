"""announcer export: the day's clips onto a stick, in play order, as players want them."""

import errno
import os
import shutil
import struct
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from announcer import effects, export
from announcer.export import ExportError, ascii_name, mp3_fits, plan_export, write_export
from announcer.library import Library

DAY = date(2026, 11, 30)
MKFS = shutil.which("mkfs.vfat", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
FAT_TOOLS = MKFS and shutil.which("mcopy")
needs_fat = pytest.mark.skipif(not FAT_TOOLS, reason="mkfs.vfat (dosfstools) and mcopy (mtools) are not installed; "
                                                     "scripts/test installs them")


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


def test_names_are_short_ascii_and_numbered_in_play_order():
    assert ascii_name(1, "ting-shui-tong-zhi") == "001-ting-shui-tong-zhi.mp3"
    assert ascii_name(12, "Lost & Found!") == "012-lost-found.mp3"
    assert ascii_name(3, "停水通知") == "003-clip.mp3"
    assert ascii_name(4, "Café") == "004-cafe.mp3"
    assert len(ascii_name(5, "a" * 80)) <= 28


def test_clips_go_in_manifest_order_copied_when_they_qualify(day, stick, sounds):
    written = write_export(plan_export(stick, DAY, day))
    assert [p.name for p in written] == ["001-ting-shui.mp3", "002-clip.mp3", "003-lost-found.mp3"]
    assert written[0].read_bytes() == sounds["mp3"]           # 128 kbps MP3 at 44.1 kHz: as it is
    for path in written[1:]:                                   # WAV and 256 kbps: re-encoded
        assert mp3_fits(path.read_bytes())
        assert effects.decode(path.read_bytes(), "mp3").frame_rate == 44100
    assert not mp3_fits(sounds["mp3_256"])
    assert sorted(p.name for p in stick.iterdir()) == [p.name for p in written]


def fat_root_entries(image: Path) -> list[str]:
    """Short names in the FAT root directory, in on-disk order (FAT12/16/32)."""
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
    names = []
    for offset in range(0, len(raw), 32):
        entry = raw[offset:offset + 32]
        if entry[0] == 0:
            break
        if entry[0] == 0xE5 or entry[11] & 0x0F == 0x0F or entry[11] & 0x08:
            continue
        names.append(entry[:8].decode("ascii").rstrip() + "." + entry[8:11].decode("ascii").rstrip())
    return names


@needs_fat
def test_on_a_fat32_stick_the_directory_order_is_the_play_order(day, stick, tmp_path):
    image = tmp_path / "stick.img"
    subprocess.run([MKFS, "-F", "32", "-C", str(image), "40000"], check=True, capture_output=True)
    written = write_export(plan_export(stick, DAY, day, loop_file=True))
    for path in written:        # copied in the order export wrote them, as a file manager would
        subprocess.run(["mcopy", "-i", str(image), str(path), "::/"], check=True, capture_output=True)
    on_disk = fat_root_entries(image)
    assert [name[:3] for name in on_disk] == ["000", "001", "002", "003"]
    assert on_disk[0] == "000-ALL.MP3"


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
        "001-ting-shui.mp3", "002-clip.mp3", "003-lost-found.mp3", "notes.txt", "photos"]


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
        f"{stick}: the stick is full: it ran out of space writing 002-clip.mp3, and what was written is removed "
        f"again; about {rest / 1e6:.1f} MB more is needed; free some space or use a bigger stick, then export again")
    assert list(stick.iterdir()) == []          # no half day left to play, nothing to block the next export


def test_loop_file_holds_every_clip_with_the_gaps(day, stick):
    written = write_export(plan_export(stick, DAY, day, loop_file=True, gap_s=3.0))
    assert written[0].name == "000-all.mp3"
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
    from announcer.cli import main

    (stick / "old.mp3").write_bytes(b"x")
    assert main(["export", str(stick), "--date", "2026-11-30", "--out", str(day), "--dry-run", "--clean",
                 "--loop-file"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "remove old.mp3"
    assert [line.split()[0] for line in out[1:5]] == ["000-all.mp3", "001-ting-shui.mp3", "002-clip.mp3",
                                                      "003-lost-found.mp3"]
    assert out[-1] == f"dry run: 4 files would be written to {stick}; nothing was written."
    assert [p.name for p in stick.iterdir()] == ["old.mp3"]


def test_cli_writes_the_day_and_refuses_in_one_line(day, stick, capsys):
    from announcer.cli import main

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
