"""/usb: the day's clips onto a mounted USB stick, like `announcer export`: first a dry run, then the writing.

Only drives found in the mount table are offered, and a POST names one of them by its
mount point, checked against a fresh listing: a path from the form is never used as
such. An optional sub-folder is one plain folder name.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request

from announcer.build import export
from announcer.core.errors import AnnouncerError
from announcer.core.library import Library
from announcer.web.site import Site, WebError, check_csrf, lang_of, parse_day, render

router = APIRouter(dependencies=[Depends(check_csrf)])

MOUNTINFO = export.MOUNTINFO
MOUNT_ROOTS = export.MOUNT_ROOTS
SYSFS = Path("/sys")              # where the kernel tells whether a disk is removable
FS_NAMES = {"vfat": "FAT32", "msdos": "FAT", "fat": "FAT", "fuse.fusefat": "FAT32", "exfat": "exFAT",
            "fuse.exfat": "exFAT", "fuse.exfat-fuse": "exFAT", "ntfs": "NTFS", "ntfs3": "NTFS", "fuseblk": "NTFS"}
NTFS_TYPES = {"ntfs", "ntfs3", "fuseblk"}
FS_TYPES = export.FAT_TYPES | NTFS_TYPES
BAD_FOLDER_CHARS = re.compile(r'[/\\:*?"<>|\x00-\x1f]')   # a path, or what FAT does not allow in a name
MAX_FOLDER = 64

_writing = threading.Lock()   # one export at a time: two would interleave files on the stick


@dataclass(frozen=True)
class Drive:
    path: str          # the mount point: what the form sends back, compared with a fresh listing
    label: str
    fs: str
    free: int | None
    total: int | None
    removable: bool | None = None    # False: a disk inside the computer (a dual-boot partition); None: unknown

    @property
    def kind(self) -> str:
        return FS_NAMES.get(self.fs, self.fs)

    @property
    def ntfs(self) -> bool:
        return self.fs in NTFS_TYPES

    @property
    def fixed(self) -> bool:
        return self.removable is False


def removable(mount: export.Mount) -> bool | None:
    """Whether the mount's disk is a stick or a card: the kernel's removable flag, or a disk on USB or an
    SD card slot. False for a disk built into the computer; None when /sys does not say."""
    device = mount.device
    if device.startswith("0:") and mount.source.startswith("/dev/"):    # FUSE (ntfs-3g): the source's device
        try:
            rdev = os.stat(mount.source).st_rdev
        except OSError:
            return None
        device = f"{os.major(rdev)}:{os.minor(rdev)}"
    if not re.fullmatch(r"\d+:\d+", device):
        return None
    node = Path(os.path.realpath(SYSFS / "dev" / "block" / device))
    if not node.is_dir():
        return None
    disk = node.parent if (node / "partition").exists() else node
    try:
        flag = (disk / "removable").read_text().strip()
    except OSError:
        flag = ""
    on_usb = any(part.startswith("usb") for part in Path(os.path.relpath(node, os.path.realpath(SYSFS))).parts)
    if flag == "1" or on_usb or disk.name.startswith("mmcblk"):
        return True
    return False if flag == "0" else None


def list_drives() -> list[Drive]:
    """FAT/exFAT/NTFS file systems mounted under MOUNT_ROOTS: sticks and cards first, then by label."""
    found: dict[Path, export.Mount] = {}
    for mount in export.mounts(table=MOUNTINFO):
        if not any(mount.point == root or root in mount.point.parents for root in MOUNT_ROOTS):
            continue
        found.pop(mount.point, None)
        if mount.fs in FS_TYPES:           # a later mount on the same point hides the earlier one
            found[mount.point] = mount
    drives = []
    for point, mount in found.items():
        if not point.is_dir():
            continue
        try:
            usage = shutil.disk_usage(point)
            free, total = usage.free, usage.total
        except OSError:
            free = total = None
        drives.append(Drive(str(point), point.name or str(point), mount.fs, free, total, removable(mount)))
    return sorted(drives, key=lambda d: (d.fixed, d.label.lower(), d.path))


def size_text(size: int | None) -> str:
    if size is None:
        return "?"
    if size >= 1_000_000_000:
        return f"{size / 1e9:.1f} GB"
    if size >= 1_000_000:
        return f"{size / 1e6:.1f} MB"
    return f"{max(size / 1e3, 0.1 if size else 0):.1f} KB"


def _chosen_drive(path: str) -> Drive:
    """The drive the form names, if it is one of the drives mounted now."""
    for drive in list_drives():
        if drive.path == path:
            return drive
    raise WebError("找不到这个U盘：它可能已经拔出或还没有挂载。请插好U盘，刷新页面后重新选择。",
                   "this drive is not among the mounted drives: it may have been unplugged or not be mounted "
                   "yet; plug it in, reload the page and choose it again", status=400)


def check_folder(name: str) -> str:
    """An optional folder on the stick: one plain folder name, or "" for the stick's top level."""
    name = name.strip()
    if not name:
        return ""
    # A name ending in a dot (so "." and ".." too) or a space is one FAT cannot hold.
    if BAD_FOLDER_CHARS.search(name) or len(name) > MAX_FOLDER or name.endswith((".", " ")):
        raise WebError(f"“{name[:30]}”不能作为文件夹名：只写一个文件夹的名字，不能有 / \\ : * ? \" < > |，也不能是 . 或 ..。",
                       f"\"{name[:30]}\" cannot be a folder name: write just one folder's name, without "
                       "/ \\ : * ? \" < > |, and not . or ..", status=400)
    return name


def _destination(drive: Drive, folder: str) -> Path:
    root = Path(drive.path)
    dest = root / folder if folder else root
    if folder and (dest.is_symlink() or Path(os.path.realpath(dest)).parent != Path(os.path.realpath(root))):
        raise WebError("这个文件夹指向U盘以外的地方，不能使用。请换一个文件夹名。",
                       "this folder points somewhere off the stick; use another folder name", status=400)
    return dest


def _export_settings(site: Site) -> dict:
    config = site.config()
    return {"gap_s": export.loop_gap(config), "bitrate_kbps": config.audio.bitrate_kbps}


def _plan(site: Site, drive: Drive, dest: Path, day, loop_file: bool, clean: bool) -> tuple[export.ExportPlan, bool]:
    """What the export would write (writes nothing); True when `dest` is a folder still to be made."""
    settings = _export_settings(site)
    if dest.exists() or dest == Path(drive.path):
        return export.plan_export(dest, day, site.out, loop_file=loop_file, clean=clean, **settings), False
    # A new folder starts empty: plan on the stick itself, ignoring what its top level holds.
    plan = export.plan_export(Path(drive.path), day, site.out, loop_file=loop_file, clean=True, **settings)
    if plan.needed > plan.free:
        raise export.ExportError(
            f"空间不够：需要 {size_text(plan.needed)}，U盘上只有 {size_text(plan.free)} 可用。请删除其他文件或换一个更大的U盘。",
            f"not enough space: {size_text(plan.needed)} is needed but only {size_text(plan.free)} is free; "
            "delete other files or use a bigger stick", str(dest))
    return dataclasses.replace(plan, dest=dest, remove=[]), True


def _page(request: Request, site: Site, *, status: int = 200, error: AnnouncerError | None = None, **context):
    drives = list_drives()
    form = context.pop("form", None) or {}
    day = context.pop("day", None) or site.today()
    try:
        manifest = Library(site.out).manifest(day)
    except AnnouncerError:
        manifest = None
    lang = lang_of(request)
    sticks = [d for d in drives if not d.fixed]     # a disk inside the computer is never chosen for the user
    return render(request, "usb.html", status=status, page="usb", drives=drives, size_text=size_text,
                  form={"drive": sticks[0].path if len(sticks) == 1 else "", "date": day.isoformat(),
                        "folder": "", "loop_file": False, "clean": False, **form},
                  day_clips=None if manifest is None else len(manifest.get("clips") or []),
                  errors=[p.message(lang) for p in error.problems] if error else [],
                  loop_name=export.LOOP_NAME, **context)


@router.get("/usb")
def usb_page(request: Request):
    return _page(request, request.app.state.site)


def _form(drive: str, date: str, folder: str, loop_file: str | None, clean: str | None) -> dict:
    return {"drive": drive, "date": date, "folder": folder, "loop_file": bool(loop_file), "clean": bool(clean)}


def _checked(site: Site, form: dict):
    """The form's drive, day and destination, each checked; raises WebError."""
    day = parse_day(form["date"], site)
    drive = _chosen_drive(form["drive"])
    folder = check_folder(form["folder"])
    return drive, day, folder, _destination(drive, folder)


@router.post("/usb/plan")
def usb_plan(request: Request, drive: str = Form(""), date: str = Form(""), folder: str = Form(""),
             loop_file: str | None = Form(None), clean: str | None = Form(None)):
    site: Site = request.app.state.site
    form = _form(drive, date, folder, loop_file, clean)
    try:
        chosen, day, folder, dest = _checked(site, form)
        plan, new_folder = _plan(site, chosen, dest, day, form["loop_file"], form["clean"])
    except WebError as error:
        return _page(request, site, status=error.status, error=error, form=form)
    except AnnouncerError as error:
        return _page(request, site, status=409, error=error, form=form)
    files = [{"name": f.name, "size": len(f.data), "source": f.source, "copied": f.copied,
              "loop": f.name == export.LOOP_NAME} for f in plan.files]
    return _page(request, site, form={**form, "folder": folder}, day=day, plan=plan, files=files,
                 remove=[p.name for p in plan.remove], total=sum(f["size"] for f in files), free=plan.free,
                 drive=chosen, dest=str(dest), new_folder=new_folder)


@router.post("/usb/export")
def usb_export(request: Request, drive: str = Form(""), date: str = Form(""), folder: str = Form(""),
               loop_file: str | None = Form(None), clean: str | None = Form(None)):
    site: Site = request.app.state.site
    form = _form(drive, date, folder, loop_file, clean)
    if not _writing.acquire(blocking=False):
        busy = WebError("正在往U盘写入另一次导出，请等它完成后再试。",
                        "another export is writing to a stick right now; wait for it to finish, then try again",
                        status=409)
        return _page(request, site, status=409, error=busy, form=form)
    made = None
    try:
        chosen, day, folder, dest = _checked(site, form)
        if folder and not dest.exists():
            dest.mkdir()
            made = dest
        plan = export.plan_export(dest, day, site.out, loop_file=form["loop_file"], clean=form["clean"],
                                  **_export_settings(site))
        written = export.write_export(plan)
        made = None
    except WebError as error:
        return _page(request, site, status=error.status, error=error, form=form)
    except AnnouncerError as error:
        return _page(request, site, status=409, error=error, form=form)
    except OSError as error:
        failed = export.ExportError(f"无法写入（{error.strerror or error}）。请检查U盘是否插好、是否有写保护。",
                                    f"cannot write here ({error.strerror or error}); check that the stick is "
                                    "plugged in and not write-protected", str(form["drive"]))
        return _page(request, site, status=409, error=failed, form=form)
    finally:
        if made is not None:        # a folder made for a failed export goes again (only while still empty)
            try:
                made.rmdir()
            except OSError:
                pass
        _writing.release()
    return _page(request, site, form={**form, "folder": folder, "clean": False}, day=day,
                 done=[p.name for p in written], removed=[p.name for p in plan.remove], drive=chosen, dest=str(dest))
