"""/usb: a mounted stick (a fake mount table, a tmp folder as the drive), a dry run, then the export."""

import errno
import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from webpage import Page, csrf, inner, make_client

from announcer.build import effects, export
from announcer.core.library import Library
from announcer.web import usb

DAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CLIPS = [("ting-shui-tong-zhi", 3000), ("fire", 5000), ("停水", 4000)]


def mp3(size: int) -> bytes:
    """Bytes export takes as a fitting MP3 (44.1 kHz, 128 kbps, CBR) and copies as they are."""
    return b"\xff\xfb\x90\x00" + bytes(size - 4)


def publish(out, tmp_path, clips):
    files, entries = [], []
    for number, (clip_id, data) in enumerate(clips, start=1):
        name = f"{number:02d}-clip.mp3"
        source = tmp_path / f"src-{number}.mp3"
        source.write_bytes(data)
        files.append((name, source))
        entries.append({"id": clip_id, "file": name})
    Library(out).publish(DAY, files, {"date": DAY.isoformat(), "clips": entries})


def block_device(sysfs, device: str, disk: str, bus: str, removable: str, partition: bool = True):
    """A fake /sys entry: /sys/dev/block/<device> links to the disk (or its partition) on `bus`."""
    folder = sysfs / "devices" / "pci0000:00" / bus / "host0" / "block" / disk
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "removable").write_text(removable + "\n")
    node = folder
    if partition:
        node = folder / f"{disk}1"
        node.mkdir(exist_ok=True)
        (node / "partition").write_text("1\n")
    (sysfs / "dev" / "block").mkdir(parents=True, exist_ok=True)
    (sysfs / "dev" / "block" / device).symlink_to(Path("..", "..", *node.relative_to(sysfs).parts))


@pytest.fixture
def sysfs(tmp_path, monkeypatch):
    root = tmp_path / "sys"
    root.mkdir()
    monkeypatch.setattr(usb, "SYSFS", root)
    return root


@pytest.fixture
def media(tmp_path, monkeypatch, sysfs):
    """A mount table with a FAT stick under <tmp>/media, plus things that must not be offered."""
    block_device(sysfs, "8:17", "sdb", "usb1/1-1", "1")
    root = tmp_path / "media"
    stick, disk, plain = root / "user" / "MY STICK", root / "user" / "BACKUP", root / "user" / "not-mounted"
    for folder in (stick, disk, plain, tmp_path / "mnt-elsewhere"):
        folder.mkdir(parents=True)
    escaped = str(stick).replace(" ", "\\040")
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        f"36 25 8:17 / {escaped} rw,nosuid,nodev,relatime shared:1 - vfat /dev/sdb1 rw,uid=1000\n"
        f"37 25 8:33 / {disk} rw,relatime shared:2 - ext4 /dev/sdc1 rw\n"
        f"38 25 8:49 / {tmp_path / 'mnt-elsewhere'} rw - vfat /dev/sdd1 rw\n", encoding="utf-8")
    monkeypatch.setattr(usb, "MOUNTINFO", table)
    monkeypatch.setattr(usb, "MOUNT_ROOTS", (root,))
    return stick


@pytest.fixture
def out(tmp_path):
    out = tmp_path / "out"
    publish(out, tmp_path, [(clip_id, mp3(size)) for clip_id, size in CLIPS])
    return out


@pytest.fixture
def client(tmp_path, out, monkeypatch):
    monkeypatch.chdir(tmp_path)      # no ./schedule.toml: the default settings
    return make_client(None, tmp_path, out=out, now=NOW)


def post(client, url, stick, **fields):
    data = {"csrf": csrf(client), "drive": str(stick), "date": DAY.isoformat(), **fields}
    return client.post(url, data=data)


NAMES = [export.ascii_name(n, clip_id) for n, (clip_id, _) in enumerate(CLIPS, start=1)]


def test_only_mounted_fat_drives_under_the_roots_are_offered(client, media):
    page = Page(client.get("/usb").text)
    options = page.all("option")
    assert [(o["attrs"]["value"], o["text"].split(" (")[0]) for o in options] == [(str(media), "MY STICK")]
    assert "selected" in options[0]["attrs"]              # the only drive is chosen already
    assert page.one("tr", "drive")["attrs"]["data-path"] == str(media)
    assert "FAT32" in page.one("tr", "drive")["text"]
    for box in ("usb-loop-file", "usb-clean", "usb-date", "usb-folder"):
        assert page.one("input", id=box)
    assert page.one("span", id="usb-day-state")["text"] == "3 clips for this day"


def test_no_drive_says_how_to_get_one(client, tmp_path, monkeypatch):
    monkeypatch.setattr(usb, "MOUNTINFO", tmp_path / "missing")
    page = Page(client.get("/usb").text)
    assert "Plug in the stick" in page.one("p", id="usb-none")["text"]
    assert not page.all("select")


def test_the_plan_lists_what_would_be_written_and_writes_nothing(client, media):
    answer = post(client, "/usb/plan", media)
    assert answer.status_code == 200
    page = Page(answer.text)
    rows = page.all("tr", "file")
    assert [r["attrs"]["data-name"] for r in rows] == NAMES
    assert "copied" in rows[0]["text"] and "3.0 KB" in rows[0]["text"]
    confirm = page.one("form", id="usb-confirm")
    assert confirm["attrs"]["action"] == "/usb/export"
    assert list(media.iterdir()) == []


def test_export_writes_the_files_in_play_order(client, media):
    answer = post(client, "/usb/export", media)
    assert answer.status_code == 200, answer.text
    page = Page(answer.text)
    assert [li["text"] for li in page.all("li") if li["text"] in NAMES] == NAMES
    assert "Eject the stick safely" in page.one("section", id="usb-done")["text"]
    assert sorted(p.name for p in media.iterdir()) == NAMES
    assert [(media / name).stat().st_size for name in NAMES] == [size for _, size in CLIPS]
    stamps = [(media / name).stat().st_mtime_ns for name in NAMES]
    assert stamps == sorted(stamps)


def test_a_drive_not_in_the_list_is_refused(client, media, tmp_path):
    for elsewhere in (tmp_path / "mnt-elsewhere", tmp_path / "media" / "user" / "not-mounted",
                      tmp_path / "media" / "user" / "BACKUP", media / "..", "/"):
        answer = post(client, "/usb/export", elsewhere)
        assert answer.status_code == 400
        assert "not among the mounted drives" in Page(answer.text).one("div", id="usb-error")["text"]
    assert not [p for p in tmp_path.rglob("*.mp3") if "out" not in p.parts and "src-" not in p.name]


@pytest.mark.parametrize("folder", ["..", " .. ", "../escape", "a/b", "a\\b", ".", "x:y", "bad\x01", "end.", "x" * 65])
def test_a_sub_folder_must_be_one_plain_name(client, media, tmp_path, folder):
    for url in ("/usb/plan", "/usb/export"):
        answer = post(client, url, media, folder=folder)
        assert answer.status_code == 400
        assert "cannot be a folder name" in answer.text
    assert list(media.iterdir()) == []
    assert not (tmp_path / "media" / "user" / "escape").exists()


def test_a_sub_folder_is_made_and_filled(client, media):
    plan = post(client, "/usb/plan", media, folder="通知 Notices")
    assert plan.status_code == 200
    assert "this folder is made" in Page(plan.text).one("section", id="usb-plan")["text"]
    assert list(media.iterdir()) == []
    answer = post(client, "/usb/export", media, folder="通知 Notices")
    assert answer.status_code == 200
    assert sorted(p.name for p in (media / "通知 Notices").iterdir()) == NAMES


def test_a_sub_folder_that_links_off_the_stick_is_refused(client, media, tmp_path):
    (media / "link").symlink_to(tmp_path / "mnt-elsewhere")
    answer = post(client, "/usb/export", media, folder="link")
    assert answer.status_code == 400
    assert list((tmp_path / "mnt-elsewhere").iterdir()) == []


def test_a_drive_holding_audio_is_refused_and_clean_replaces_it(client, media):
    (media / "old song.mp3").write_bytes(b"old")
    (media / "readme.txt").write_text("keep me")
    answer = post(client, "/usb/export", media)
    assert answer.status_code == 409
    error = Page(answer.text).one("div", id="usb-error")["text"]
    assert "already holds" in error and "old song.mp3" in error
    assert (media / "old song.mp3").exists()
    plan = post(client, "/usb/plan", media, clean="1")
    page = Page(plan.text)
    assert [li["text"] for li in inner(plan.text, "ul", "usb-remove").all("li")] == ["old song.mp3"]
    assert page.one("input", name="clean", type="hidden")["attrs"]["value"] == "1"
    answer = post(client, "/usb/export", media, clean="1")
    assert answer.status_code == 200
    assert sorted(p.name for p in media.iterdir()) == NAMES + ["readme.txt"]


def test_a_day_without_clips_is_a_clear_error(client, media):
    answer = post(client, "/usb/plan", media, date="2026-12-25")
    assert answer.status_code == 409
    assert "no clips for 2026-12-25 yet" in Page(answer.text).one("div", id="usb-error")["text"]
    assert post(client, "/usb/plan", media, date="../../etc").status_code == 400


def test_a_full_stick_is_a_clear_error(client, media, monkeypatch):
    monkeypatch.setattr(export.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000, "total": 2000})())
    answer = post(client, "/usb/export", media)
    assert answer.status_code == 409
    assert "not enough space" in answer.text
    assert list(media.iterdir()) == []


def test_a_post_without_csrf_writes_nothing(client, media):
    answer = client.post("/usb/export", data={"drive": str(media), "date": DAY.isoformat()})
    assert answer.status_code == 403
    assert list(media.iterdir()) == []


def test_the_loop_file_comes_first(client, media, tmp_path, out):
    t = np.arange(int(0.4 * 44100)) / 44100
    sound = effects.encode(effects.from_array(0.3 * np.sin(2 * np.pi * 440 * t), 44100), "mp3", 128)
    publish(out, tmp_path, [("a-first", sound), ("b-second", sound)])
    answer = post(client, "/usb/export", media, loop_file="1")
    assert answer.status_code == 200, answer.text
    written = [li["text"] for li in inner(answer.text, "ol", "usb-written").all("li")]
    assert written == [export.LOOP_NAME, export.ascii_name(1, "a-first"), export.ascii_name(2, "b-second")]
    assert (media / export.LOOP_NAME).stat().st_size > len(sound)


def test_the_folder_is_also_checked_against_the_stick_itself(media):
    # The second guard, should check_folder ever let a name through: the real path must stay on the stick.
    drive = usb.Drive(str(media), media.name, "vfat", None, None)
    for folder in ("..", "../..", "../BACKUP"):
        with pytest.raises(usb.WebError):
            usb._destination(drive, folder)
    assert usb._destination(drive, "Notices") == media / "Notices"


@pytest.mark.parametrize("failure", [OSError(errno.EIO, "Input/output error"),
                                     export.ExportError("写不了", "the stick went away")])
def test_a_folder_made_for_a_failed_export_is_removed_again(client, media, monkeypatch, failure):
    def fail(plan):
        raise failure

    monkeypatch.setattr(export, "write_export", fail)
    answer = post(client, "/usb/export", media, folder="Notices")
    assert answer.status_code == 409
    assert ("Input/output error" if isinstance(failure, OSError) else "the stick went away") \
        in Page(answer.text).one("div", id="usb-error")["text"]
    assert list(media.iterdir()) == []


def test_a_folder_that_was_there_stays_after_a_failed_export(client, media, monkeypatch):
    (media / "Notices").mkdir()
    monkeypatch.setattr(export, "write_export", lambda plan: (_ for _ in ()).throw(OSError(errno.EIO, "EIO")))
    assert post(client, "/usb/export", media, folder="Notices").status_code == 409
    assert (media / "Notices").is_dir()


@pytest.fixture
def windows(tmp_path, sysfs):
    """A dual-boot computer's own FAT partition, mounted under the same root as the stick."""
    block_device(sysfs, "8:2", "sda", "ata1", "0")
    folder = tmp_path / "media" / "user" / "WINDOWS"
    folder.mkdir(parents=True)
    with open(tmp_path / "mountinfo", "a", encoding="utf-8") as table:
        table.write(f"39 25 8:2 / {folder} rw,relatime shared:3 - vfat /dev/sda2 rw\n")
    return folder


def test_a_disk_inside_the_computer_is_marked_and_never_chosen_for_the_user(client, media, windows):
    page = Page(client.get("/usb").text)
    rows = page.all("tr", "drive")
    assert [r["attrs"]["data-path"] for r in rows] == [str(media), str(windows)]     # sticks first
    assert "fixed" in rows[1]["attrs"]["class"].split() and "not removable" in rows[1]["text"]
    assert "fixed" not in rows[0]["attrs"]["class"].split()
    chosen = [o["attrs"]["value"] for o in page.all("option") if "selected" in o["attrs"]]
    assert chosen == [str(media)]
    assert "not removable" in page.one("option", value=str(windows))["text"]


def test_a_disk_inside_the_computer_needs_an_explicit_choice_and_a_confirmation(client, tmp_path, media, windows):
    (tmp_path / "mountinfo").write_text(
        "".join(line + "\n" for line in (tmp_path / "mountinfo").read_text().splitlines() if "8:17" not in line))
    page = Page(client.get("/usb").text)
    assert not [o for o in page.all("option") if "selected" in o["attrs"]]
    assert page.all("option")[0]["attrs"]["value"] == ""                      # "choose one" first
    plan = Page(post(client, "/usb/plan", windows).text)
    assert "a disk inside this computer" in plan.one("p", id="usb-fixed")["text"]
    assert "not a stick" in plan.one("button", id="usb-export")["attrs"]["data-confirm"]


def test_a_stick_plan_has_no_disk_warning(client, media):
    plan = Page(post(client, "/usb/plan", media).text)
    assert not plan.all("p", id="usb-fixed")
    assert "data-confirm" not in plan.one("button", id="usb-export")["attrs"]


@pytest.mark.parametrize("device, disk, bus, flag, partition, expected", [
    ("8:17", "sdb", "usb1/1-1", "1", True, True),       # a stick
    ("8:33", "sdc", "usb2/2-1", "0", True, True),       # a USB disk or a stick that says it is fixed
    ("8:16", "sdb", "usb1/1-1", "1", False, True),      # a stick with no partition table
    ("179:1", "mmcblk1", "mmc0", "0", True, True),      # an SD card in the computer's slot
    ("8:2", "sda", "ata1", "0", True, False),           # the computer's own disk
    ("259:1", "nvme0n1", "nvme0", "0", True, False),
])
def test_removable_follows_sysfs(sysfs, device, disk, bus, flag, partition, expected):
    block_device(sysfs, device, disk, bus, flag, partition)
    assert usb.removable(export.Mount(Path("/media/x"), "vfat", "/dev/x", device)) is expected


def test_a_fuse_mount_is_looked_up_by_its_source_device(sysfs):
    null = os.stat("/dev/null").st_rdev                # any device node will do to follow the lookup
    block_device(sysfs, f"{os.major(null)}:{os.minor(null)}", "sdb", "usb1/1-1", "1")
    assert usb.removable(export.Mount(Path("/media/x"), "fuseblk", "/dev/null", "0:51")) is True


def test_removable_is_unknown_without_sysfs(sysfs):
    assert usb.removable(export.Mount(Path("/media/x"), "vfat", "/dev/sdz1", "8:99")) is None
    assert usb.removable(export.Mount(Path("/media/x"), "fuseblk", "/nonexistent/sdz1", "0:51")) is None
    assert usb.removable(export.Mount(Path("/media/x"), "vfat", "/dev/x", "../../etc")) is None
