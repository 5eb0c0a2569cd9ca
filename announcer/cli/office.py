"""`announcer office ...`: the sub-district office's commands.

`office init` turns district.toml into what Debian's Mosquitto broker needs: its config, a password
file, an ACL letting each station read only its own topics and write only its own status and log, and
one password file for each station to copy to it. Run it again after changing district.toml: existing
passwords stay, new stations get one, removed stations lose theirs.
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from announcer.core.config import STATION_ID
from announcer.core.districtfile import OFFICE_USER, District, load_district
from announcer.core.errors import AnnouncerError, tr
from announcer.core.library import atomic_write

PREFIX = "announcer/v1/"
SBIN = "/usr/sbin:/sbin"          # where Debian puts mosquitto; a normal user's PATH may lack it


def add_parser(sub) -> None:
    """The `office` command and its subcommands, under the main parser's `sub`."""
    o = sub.add_parser("office", help="the sub-district office: set up the broker for its stations",
                       description="The sub-district office's commands.")
    osub = o.add_subparsers(dest="office_command", metavar="SUBCOMMAND")
    i = osub.add_parser("init", help="write the Mosquitto broker's config, passwords and ACL from district.toml",
                        description="Write the Mosquitto broker's config, password file and ACL from district.toml, "
                                    "and one password file for each station. Run it again after changing "
                                    "district.toml: existing passwords are kept.")
    i.add_argument("--district", type=Path, default=Path("district.toml"),
                   help="the list of stations (default: ./district.toml)")
    i.add_argument("--out", type=Path, default=Path("broker"), help="folder to write into (default: ./broker)")
    i.add_argument("--port", type=_port, default=1883, help="the port the broker listens on (default: 1883)")
    i.add_argument("--bind", metavar="ADDRESS",
                   help="the address it listens on (default: every address, so stations on other computers reach it)")
    o.set_defaults(office_parser=o)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(tr(f"“{text}”不是端口号，例如 1883", f"\"{text}\" is not a port number, e.g. 1883"))
    return int(text)


def cmd_office(args) -> int:
    if args.office_command is None:
        args.office_parser.print_help(sys.stderr)      # what it can do, as a usage error
        return 2
    return {"init": cmd_init}[args.office_command](args)


def cmd_init(args) -> int:
    district = load_district(args.district)
    result = init_broker(district, args.out, args.port, args.bind)
    for path in result.written:
        print(tr(f"已写入 {path}", f"wrote {path}"))
    for station_id in result.removed:
        print(tr(f"已删除 {station_id} 的密码（它已不在 {args.district} 里）",
                 f"removed the password of {station_id} (no longer in {args.district})"))
    kept = len(result.kept)
    if kept:
        print(tr(f"沿用了 {kept} 个已有的密码。", f"kept {kept} existing passwords."))
    print()
    print(tr("启动服务器：", "start the broker:"))
    print(f"  {result.mosquitto} -c {result.conf}")
    print(tr("（如果系统自带的 mosquitto 服务占用了同一个端口，请先停掉它：sudo systemctl disable --now mosquitto）",
             "(if Debian's own mosquitto service holds the same port, stop it first: "
             "sudo systemctl disable --now mosquitto)"))
    print()
    print(tr("每个站点：把它的密码文件复制到那台电脑上 schedule.toml 所在的文件夹，再在 schedule.toml 里加上：",
             "for each station: copy its password file next to schedule.toml on that computer, and add to "
             "schedule.toml:"))
    for station in district.stations:
        print()
        print(f"  # {_one_line(station.name)}: {result.folder / 'stations' / (station.id + '.password')}")
        for line in network_section(district, station.id, station.groups):
            print(f"  {line}")
    return 0


def network_section(district: District, station_id: str, groups: tuple[str, ...]) -> list[str]:
    """The [network] lines of a station's schedule.toml."""
    lines = ["[network]", f'broker = "{district.broker}"', f'station_id = "{station_id}"']
    if groups:
        lines.append("groups = [" + ", ".join(f'"{g}"' for g in groups) + "]")
    lines.append(f'password_file = "{station_id}.password"')
    if district.ca_file:
        lines.append(f'ca_file = "{district.ca_file.name}"')
    return lines


@dataclass
class InitResult:
    folder: Path
    conf: Path
    mosquitto: str                                     # how to call the broker
    written: list[Path] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)      # users whose password stayed
    removed: list[str] = field(default_factory=list)   # stations whose password file went


def init_broker(district: District, folder: Path, port: int, bind: str | None = None) -> InitResult:
    """Write the broker's files for `district` into `folder` (see the module's docstring)."""
    passwd_tool = find_tool("mosquitto_passwd")
    folder = folder.resolve()
    stations_dir, data_dir = folder / "stations", folder / "data"
    for path in (folder, stations_dir, data_dir):
        _make_folder(path)
    result = InitResult(folder, folder / "mosquitto.conf", find_tool("mosquitto", required=False) or "mosquitto")

    passwords: dict[str, str] = {}
    files = {OFFICE_USER: folder / "office.password"}
    files.update((s.id, stations_dir / f"{s.id}.password") for s in district.stations)
    for user, path in files.items():
        old = _read_password(path)
        if old:
            result.kept.append(user)
        passwords[user] = old or secrets.token_urlsafe(24)
        _write_secret(path, (passwords[user] + "\n").encode())
        result.written.append(path)
    for path in sorted(stations_dir.glob("*.password")):
        if STATION_ID.fullmatch(path.stem) and path.stem not in files:
            path.unlink()
            result.removed.append(path.stem)

    passwd, acl = folder / "passwd", folder / "acl"
    _write_secret(passwd, _hashed(passwd_tool, passwords))
    _write_secret(acl, acl_text(district).encode())
    atomic_write(result.conf, conf_text(folder, port, bind).encode())
    result.written += [passwd, acl, result.conf]
    return result


def acl_text(district: District) -> str:
    """The broker's ACL: who may read and write which topics (DISTRICT.md)."""
    lines = ["# 由 announcer office init 根据 district.toml 生成；请改 district.toml 后重新运行，不要直接改这里。",
             "# Written by `announcer office init` from district.toml: change that file and run it again.",
             "", f"user {OFFICE_USER}", f"topic write {PREFIX}day/#", f"topic write {PREFIX}urgent/#",
             f"topic read {PREFIX}station/#"]
    for station in district.stations:
        lines += ["", f"# {_one_line(station.name)}", f"user {station.id}"]
        for kind in ("day", "urgent"):
            lines += [f"topic read {PREFIX}{kind}/all", f"topic read {PREFIX}{kind}/station/{station.id}"]
            lines += [f"topic read {PREFIX}{kind}/group/{group}" for group in station.groups]
        lines += [f"topic write {PREFIX}station/{station.id}/status", f"topic write {PREFIX}station/{station.id}/log"]
    return "\n".join(lines) + "\n"


def conf_text(folder: Path, port: int, bind: str | None) -> str:
    """mosquitto.conf: one listener, logins required, retained messages kept on disk, TLS explained."""
    user = _user()
    return f"""\
# 由 announcer office init 生成。启动：mosquitto -c {folder / 'mosquitto.conf'}
# Written by `announcer office init`. Start the broker with: mosquitto -c {folder / 'mosquitto.conf'}

# 用 root 启动时，服务器换成这个用户运行；下面的文件属于它。
# When started as root, the broker switches to this user, who owns the files below.
user {user}

# 保留的消息（当天的通知）写到磁盘上，服务器重启后还在。
# Retained messages (the day's notices) are kept on disk and survive a restart.
persistence true
persistence_location {folder / 'data'}/
autosave_interval 60

# 每个站点和街道办都要用户名和密码登录；ACL 规定谁能读写哪些主题。
# Every station and the office log in with a user name and password; the ACL says who may read and write what.
per_listener_settings false
allow_anonymous false
password_file {folder / 'passwd'}
acl_file {folder / 'acl'}

listener {port}{' ' + bind if bind else ''}

# --- TLS（加密连接）/ TLS (encrypted connections) ---
# 站点通过公共网络连接时请用加密：去掉下面四行开头的 #，站点的 broker 写成 "mqtts://服务器地址:8883"，
# 并把 ca.crt 复制给每个站点（schedule.toml 里 ca_file = "ca.crt"）。
# When stations connect over a public network, use TLS: remove the # before the four lines below, write the
# stations' broker as "mqtts://<broker address>:8883", and copy ca.crt to each station (ca_file = "ca.crt").
#   cafile:   the certificate authority (CA) that signed the broker's certificate; stations trust it
#   certfile: this broker's certificate; its name must be the address the stations connect to
#   keyfile:  the certificate's private key (keep it secret: chmod 600, readable by user {user})
#
# listener 8883
# cafile {folder / 'tls' / 'ca.crt'}
# certfile {folder / 'tls' / 'broker.crt'}
# keyfile {folder / 'tls' / 'broker.key'}
#
# 用 openssl 生成证书 / making the certificates with openssl (in {folder / 'tls'}; replace the address):
#   openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=announcer CA" -keyout ca.key -out ca.crt
#   openssl req -newkey rsa:3072 -nodes -subj "/CN=192.168.1.10" -keyout broker.key -out broker.csr
#   printf 'subjectAltName=IP:192.168.1.10\\n' > san.txt     # or DNS:office.example for a name
#   openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile san.txt \\
#       -out broker.crt
#   chmod 600 ca.key broker.key     # ca.key signs certificates: keep it off the broker, somewhere safe
"""


def find_tool(name: str, required: bool = True) -> str | None:
    """The full path of one of Mosquitto's programs; a missing one says which package to install."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":" + SBIN)
    if found or not required:
        return found
    raise AnnouncerError(f"找不到 {name}：请先安装 Debian 的 mosquitto 软件包（sudo apt-get install mosquitto）",
                         f"{name} not found: install Debian's mosquitto package first (sudo apt-get install mosquitto)")


def _hashed(tool: str, passwords: dict[str, str]) -> bytes:
    """The password file: `user:hash` lines, hashed by mosquitto_passwd -U (never a password on a command line)."""
    with tempfile.TemporaryDirectory(prefix="announcer-passwd-") as tmp:
        plain = Path(tmp) / "passwd"
        with open(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as f:
            f.writelines(f"{user}:{password}\n" for user, password in passwords.items())
        done = subprocess.run([tool, "-U", str(plain)], capture_output=True, text=True, timeout=60)
        text = plain.read_bytes()
    if done.returncode != 0 or any(f"{user}:{password}".encode() in text for user, password in passwords.items()):
        reason = (done.stderr or done.stdout).strip().splitlines()
        reason = reason[-1] if reason else f"exit {done.returncode}"
        raise AnnouncerError(f"mosquitto_passwd 没能生成密码文件（{reason}）；请检查 mosquitto 软件包是否完整",
                             f"mosquitto_passwd could not make the password file ({reason}); check the mosquitto "
                             "package is installed properly")
    return text


def _read_password(path: Path) -> str | None:
    """The password already in `path`, when it holds a usable one."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text and text.isprintable() and " " not in text and ":" not in text else None


def _write_secret(path: Path, data: bytes) -> None:
    """Atomically, readable by the owner only from the moment it exists."""
    mask = os.umask(0o077)
    try:
        atomic_write(path, data)
    finally:
        os.umask(mask)
    os.chmod(path, 0o600)


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise AnnouncerError(f"无法建立文件夹（{error.strerror}）；请换一个文件夹（--out）或检查权限",
                             f"cannot make the folder ({error.strerror}); pick another one (--out) or fix the "
                             "permissions", str(path)) from None
    if not path.is_dir():
        raise AnnouncerError("这不是文件夹；请换一个（--out）", "this is not a folder; pick another one (--out)", str(path))


def _user() -> str:
    """Who runs this (and owns the files it writes)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return "mosquitto"


def _one_line(text: str) -> str:
    """A name for a comment line: nothing in it can start a line of its own."""
    return " ".join(text.split())
