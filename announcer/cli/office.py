"""`announcer office ...`: the sub-district office's commands.

`office init` turns district.toml into what Debian's Mosquitto broker needs: its config, a password
file, an ACL letting each station read only its own topics and write only its own status and log, and
one password file for each station to copy to it. Run it again after changing district.toml: existing
passwords stay, new stations get one, removed stations lose theirs. When district.toml's broker is mqtts://,
mosquitto.conf has its TLS listener turned on (and the plain one for this computer only, unless --bind says
otherwise), every time it is written.

`office publish` sends a day's notices (retained, so a station that is off gets them when it comes back),
`office urgent` an urgent notice, and `office status` listens for the stations' status and play-log records,
keeps them in <broker folder>/office.sqlite and shows every station.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from announcer.cli import arguments
from announcer.core.config import STATION_ID
from announcer.core.districtfile import OFFICE_USER, District, load_district
from announcer.core.errors import AnnouncerError, tr, ui_language
from announcer.core.library import atomic_write
from announcer.core.office import (checked_targets, collect, describe_target, read_password, send, station_rows,
                                    urgent_message)

PREFIX = "announcer/v1/"
SBIN = "/usr/sbin:/sbin"          # where Debian puts mosquitto; a normal user's PATH may lack it
TLS_FILES = ("ca.crt", "broker.crt", "broker.key")     # what the TLS listeners need, in <broker folder>/tls/
THIS_COMPUTER = "127.0.0.1"       # where the plain listener listens when TLS is on and --bind is not given
EXAMPLE_HOST = "192.168.1.10"     # the broker's address in the openssl commands when district.toml has none for TLS


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
    i.add_argument("--port", type=_port, default=1883,
                   help="the port of the plain (mqtt://) listener (default: 1883); the TLS one's is in district.toml")
    i.add_argument("--bind", metavar="ADDRESS",
                   help="the address the plain listener listens on (default: every address, so stations on other "
                        "computers reach it; 127.0.0.1, this computer only, when district.toml's broker is mqtts://)")

    p = osub.add_parser("publish", help="send a day's notices to the stations (they keep them until replaced)",
                        description="Send the notices valid on a day to the stations: each builds them with its own "
                                    "voice. A station that is off gets them when it comes back.")
    p.add_argument("notices", nargs="+", type=Path, metavar="NOTICES", help=".txt or .toml notice files")
    p.add_argument("--date", type=arguments.day, help="the day, YYYY-MM-DD (default: today)")
    _common(p)
    u = osub.add_parser("urgent", help="send an urgent notice: the stations play it at once",
                        description="Send an urgent notice: every station it is meant for builds and plays it at "
                                    "once, until it expires.")
    u.add_argument("text", metavar="TEXT", help="what to say")
    u.add_argument("--title", help="a short title for the stations' play log")
    u.add_argument("--expires", type=_duration, default=timedelta(minutes=30), metavar="DURATION",
                   help="how long it may still be played, e.g. 30m, 2h, 1h30m (default: 30m)")
    u.add_argument("--emergency", action="store_true", help="an emergency: played even in the stations' quiet hours")
    _common(u)
    st = osub.add_parser("status", help="show every station: online, today's clips, last broadcast, voice",
                         description="Listen for the stations' status and play-log records, keep them in "
                                     "<broker folder>/office.sqlite, and show every station in district.toml.")
    st.add_argument("--wait", type=_wait, default=2.0, metavar="SECONDS",
                    help="how long to listen for the stations (default: 2 seconds)")
    _common(st, targets=False)
    o.set_defaults(office_parser=o)


def _common(p, targets: bool = True) -> None:
    if targets:
        p.add_argument("--to", action="append", metavar="TARGET",
                       help="all, a station id, or group:<group>; may be given several times (default: all)")
    p.add_argument("--district", type=Path, default=Path("district.toml"),
                   help="the list of stations (default: ./district.toml)")
    p.add_argument("--broker-dir", type=Path, default=Path("broker"),
                   help="the folder office init wrote, with office.password (default: ./broker)")


def _duration(text: str) -> timedelta:
    """30m, 2h, 90s, 1h30m: from one minute to one day."""
    found = re.fullmatch(r"(?:(\d{1,3})h)?(?:(\d{1,4})m)?(?:(\d{1,5})s)?", text.strip().lower())
    if found and any(found.groups()):
        hours, minutes, seconds = (int(part or 0) for part in found.groups())
        value = timedelta(hours=hours, minutes=minutes, seconds=seconds)
        if timedelta(minutes=1) <= value <= timedelta(days=1):
            return value
    raise argparse.ArgumentTypeError(tr(f"“{text}”不是有效的时长：请写 30m（30 分钟）、2h（2 小时）或 1h30m，"
                                        "从 1 分钟到 24 小时",
                                        f"\"{text}\" is not a duration: write 30m, 2h or 1h30m, from 1 minute to "
                                        "24 hours"))


def _wait(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(tr(f"“{text}”不是 0 到 600 之间的秒数", f"\"{text}\" is not a number of "
                                            "seconds from 0 to 600"))
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(tr(f"“{text}”不是端口号，例如 1883", f"\"{text}\" is not a port number, e.g. 1883"))
    return int(text)


def cmd_office(args) -> int:
    if args.office_command is None:
        args.office_parser.print_help(sys.stderr)      # what it can do, as a usage error
        return 2
    return {"init": cmd_init, "publish": cmd_publish, "urgent": cmd_urgent,
            "status": cmd_status}[args.office_command](args)


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
    _say_listeners(district, result, args.port)
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


def _say_listeners(district: District, result: InitResult, port: int) -> None:
    """With TLS: where each listener listens, and what is still missing, one line per fact."""
    if not district.tls:
        return
    tls_dir = result.folder / "tls"
    print(tr(f"TLS 已打开：站点连接 {district.broker}（端口 {district.port}，所有地址），证书在 {tls_dir}",
             f"TLS is on: stations connect to {district.broker} (port {district.port}, every address), with the "
             f"certificates in {tls_dir}"))
    if district.cert_port:
        print(tr(f"用客户端证书登录的站点连接端口 {district.cert_port}（district.toml 里的 cert_port）",
                 f"stations logging in with a client certificate connect to port {district.cert_port} (cert_port in "
                 "district.toml)"))
    if result.bind == THIS_COMPUTER:
        print(tr(f"不加密的端口 {port} 只对本机开放（{THIS_COMPUTER}）；"
                 "要让其他电脑也能不加密地连接，加上 --bind 0.0.0.0",
                 f"the plain port {port} is for this computer only ({THIS_COMPUTER}); to let other computers "
                 "connect without TLS too, add --bind 0.0.0.0"))
    else:
        print(tr(f"不加密的端口 {port} 也开着（{result.bind or '所有地址'}）",
                 f"the plain port {port} is open too ({result.bind or 'every address'})"))
    if result.missing:
        sys.stdout.flush()                  # the warnings after what came before, also when both go to one file
        warn = tr("提醒：", "warning: ")
        names = tr("、", ", ").join(result.missing)
        print(warn + tr(f"{tls_dir} 里还没有证书文件 {names}", f"the certificate files {names} are not in {tls_dir} "
                        "yet"), file=sys.stderr)
        print(warn + tr("证书做好以前，服务器启动不了", "the broker will not start until they are made"),
              file=sys.stderr)
        print(warn + tr(f"生成证书的 openssl 命令在 {result.conf} 的注释里，"
                        "也在 README.md 的“TLS (encrypted connections)”一节",
                        f"the openssl commands that make them are in the comments of {result.conf}, and in "
                        "README.md under \"TLS (encrypted connections)\""), file=sys.stderr)


def network_section(district: District, station_id: str, groups: tuple[str, ...]) -> list[str]:
    """The [network] lines of a station's schedule.toml."""
    lines = ["[network]", f'broker = "{district.broker}"', f'station_id = "{station_id}"']
    if groups:
        lines.append("groups = [" + ", ".join(f'"{g}"' for g in groups) + "]")
    lines.append(f'password_file = "{station_id}.password"')
    if district.ca_file:
        lines.append(f'ca_file = "{district.ca_file.name}"')
    return lines


# ---- publish, urgent, status: the office talks to its stations through the broker

def cmd_publish(args) -> int:
    from rich.console import Console

    from announcer.build.notices import read_notices
    from announcer.build.office import day_message
    from announcer.core.district import day_topic

    district = load_district(args.district)
    targets = checked_targets(district, args.to)
    notes: list[str] = []
    notices = read_notices(args.notices, notes)
    err = Console(stderr=True)
    for note in notes:
        err.print(tr("提醒：", "warning: ") + note, markup=False, highlight=False)
    day = args.date or date.today()           # the office has no schedule.toml: this computer's date
    message = day_message(notices, day)
    count = len(message.notices)
    send(district, args.broker_dir, targets, day_topic, message.to_json(), retain=True,
         sent=lambda target: print(tr(f"已把 {day} 的 {count} 条通知发给{describe_target(district, target)}",
                                      f"sent the {count} notices of {day} to {describe_target(district, target)}")))
    return 0


def cmd_urgent(args) -> int:
    from announcer.core.district import urgent_topic

    district = load_district(args.district)
    targets = checked_targets(district, args.to)
    message = urgent_message(args.text, args.expires, args.emergency, args.title)
    send(district, args.broker_dir, targets, urgent_topic, message.to_json(),
         sent=lambda target: print(tr(f"已把紧急通知发给{describe_target(district, target)}",
                                      f"sent the urgent notice to {describe_target(district, target)}")))
    until = f"{message.expires:%H:%M}"
    print(tr(f"{until} 以前没能播放的站点不再播放它。", f"stations that cannot play it by {until} will not play it.")
          + (tr("这是紧急情况：安静时段也播放。", " It is an emergency: it plays in quiet hours too.")
             if args.emergency else ""))
    return 0


def cmd_status(args) -> int:
    from rich.console import Console

    from announcer.core.officelog import OfficeLog

    district = load_district(args.district)
    store = OfficeLog(args.broker_dir)
    got = collect(district, args.broker_dir, store, args.wait)
    err = Console(stderr=True)
    for topic, error in got.dropped:
        err.print(tr(f"提醒：丢弃了 {topic} 上的一条消息：", f"warning: dropped a message on {topic}: ") + str(error),
                  markup=False, highlight=False)
    Console().print(status_table(district, store, date.today()))
    for row in station_rows(district, store, date.today(), ui_language()):
        if row.groups_note:
            err.print(tr("提醒：", "warning: ") + (row.id if row.name == row.id else f"{row.name} ({row.id})")
                      + tr("：", ": ") + row.groups_note, markup=False, highlight=False, soft_wrap=True)
    print(tr(f"收到 {got.statuses} 条状态、{got.records} 条播放记录。", f"received {got.statuses} statuses and "
             f"{got.records} play-log records."))
    return 0


def status_table(district: District, store, today: date):
    """Every station of the district: online, last seen, today's clips, last broadcast, engine and voice."""
    from rich.table import Table
    from rich.text import Text

    from announcer.core.playlog import RESULT_STYLES

    table = Table(title=tr(f"各站点（{today}）", f"stations ({today})"), title_justify="left")
    table.add_column(tr("站点", "station"), overflow="fold")
    table.add_column(tr("在线", "online"), no_wrap=True)
    table.add_column(tr("最后联系", "last seen"), no_wrap=True)
    table.add_column(tr("今天", "today"), overflow="fold")
    table.add_column(tr("最近一次广播", "last broadcast"), overflow="fold")
    table.add_column(tr("结果", "result"), no_wrap=True)
    table.add_column(tr("语音引擎和声音", "engine and voice"), overflow="fold")
    for row in station_rows(district, store, today, ui_language()):
        name = Text(row.id if row.name == row.id else f"{row.name} ({row.id})")
        if not row.seen:
            table.add_row(name, Text(tr("从未连接", "never seen"), style="dim"), "—", "—", "—", "—", "—")
            continue
        online = Text(tr("在线", "online"), style="green") if row.online else Text(tr("离线", "offline"), style="red")
        table.add_row(name, online, row.last_seen, row.today, Text(row.last_broadcast) if row.last_broadcast else "—",
                      Text(row.result_text, style=RESULT_STYLES.get(row.result, "")) if row.result else "—",
                      Text(row.settings or "—"))
    return table


@dataclass
class InitResult:
    folder: Path
    conf: Path
    mosquitto: str                                     # how to call the broker
    bind: str | None = None                            # the plain listener's address (None: every one)
    missing: list[str] = field(default_factory=list)   # TLS files not made yet (with TLS on)
    written: list[Path] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)      # users whose password stayed
    removed: list[str] = field(default_factory=list)   # stations whose password file went


def init_broker(district: District, folder: Path, port: int, bind: str | None = None) -> InitResult:
    """Write the broker's files for `district` into `folder` (see the module's docstring)."""
    tls_ports = (district.port, district.cert_port) if district.tls else ()
    if port in tls_ports:
        raise AnnouncerError(f"端口 {port} 已经是 district.toml 里的加密端口；"
                             "请用 --port 给不加密的端口换一个，如 --port 1883",
                             f"port {port} is already a TLS port in district.toml; give the plain listener another one "
                             "with --port, e.g. --port 1883")
    passwd_tool = find_tool("mosquitto_passwd")
    folder = folder.resolve()
    stations_dir, data_dir = folder / "stations", folder / "data"
    for path in (folder, stations_dir, data_dir):
        _make_folder(path)
    result = InitResult(folder, folder / "mosquitto.conf", find_tool("mosquitto", required=False) or "mosquitto",
                        bind=bind or (THIS_COMPUTER if district.tls else None))

    passwords: dict[str, str] = {}
    files = {OFFICE_USER: folder / "office.password"}
    files.update((s.id, stations_dir / f"{s.id}.password") for s in district.stations)
    for user, path in files.items():
        old = read_password(path)
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
    atomic_write(result.conf, conf_text(folder, port, result.bind, district).encode())
    result.written += [passwd, acl, result.conf]
    if district.tls:
        result.missing = [name for name in TLS_FILES if not (folder / "tls" / name).is_file()]
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


def conf_text(folder: Path, port: int, bind: str | None, district: District) -> str:
    """mosquitto.conf: logins required, retained messages kept on disk, a plain listener, and the TLS ones: on when
    district.toml's broker is mqtts:// (with cert_port, the client-certificate one too), else commented and
    explained."""
    user = _user()
    tls_dir = folder / "tls"
    tls = district.tls
    host = district.host if tls else EXAMPLE_HOST      # what the broker's certificate must name
    tls_port = district.port if tls else 8883
    cert_port = district.cert_port or 8884
    on = "" if tls else "# "                            # the TLS listener's lines: on, or commented
    cert_on = "" if district.cert_port else "# "
    plain = f"listener {port}{' ' + bind if bind else ''}"
    if tls and bind == THIS_COMPUTER:
        plain = f"""\
# 不加密的端口只对本机开放：站点用下面的加密端口。要让其他电脑也能不加密地连接，运行 office init --bind 0.0.0.0。
# The plain listener is for this computer only: stations use the TLS listener below. To let other computers connect
# without TLS too, run `announcer office init --bind 0.0.0.0`.
{plain}"""
    if tls:
        about_tls = f"""\
# district.toml 的 broker 是 {district.broker}，所以下面的加密端口是打开的；每次运行 office init 都保持打开。
# 证书文件做好以前服务器启动不了：用后面的 openssl 命令生成，
# 再把 ca.crt 复制给每个站点（[network] 里 ca_file = "ca.crt"）。
# district.toml's broker is {district.broker}, so the TLS listener below is on, and stays on each time
# `office init` runs. The broker does not start until the certificate files exist: make them with the openssl
# commands further down, and give each station a copy of ca.crt (ca_file = "ca.crt" in [network] of its
# schedule.toml)."""
    else:
        about_tls = f"""\
# 站点通过公共网络连接时请用加密：在 district.toml 的 [office] 里写 broker = "mqtts://服务器地址:8883" 和
# ca_file = "{tls_dir / 'ca.crt'}"，再运行 announcer office init，它就打开下面的加密端口（不要在这里去掉 #：
# 每次 office init 都重写这个文件）。然后用后面的 openssl 命令生成证书，
# 把 ca.crt 复制给每个站点（[network] 里 ca_file = "ca.crt"）。
# When stations connect over a public network, use TLS: in district.toml's [office], write
# broker = "mqtts://<broker address>:8883" and ca_file = "{tls_dir / 'ca.crt'}", and run `announcer office init`
# again: it turns on the TLS listener below (do not remove the # here: office init writes this file anew each
# time). Then make the certificates with the openssl commands further down and give each station a copy of ca.crt
# (ca_file = "ca.crt" in [network] of its schedule.toml)."""
    if district.cert_port:
        about_cert = f"""\
# 站点也可以用客户端证书代替密码登录：district.toml 里写了 cert_port = {cert_port}，所以这个端口是打开的。
# 证书里的名字 CN 就是用户名，ACL 照样适用。用站点编号为每个站点生成证书（在同一个文件夹里；把 xingfuli 换成站点编号）。
# Stations may log in with a client certificate instead of a password: district.toml says cert_port = {cert_port},
# so this listener is on. The name (CN) in a station's certificate is its user name, under the same ACL. Make each
# station a certificate named after its id (in the same folder; replace xingfuli):"""
    else:
        about_cert = f"""\
# 站点也可以用客户端证书代替密码登录：在 district.toml 的 [office] 里加上 cert_port = 8884（broker 要是 mqtts://），
# 再运行 office init，它就打开下面的第二个加密端口（证书里的名字 CN 就是用户名，ACL 照样适用）；
# 然后用站点编号为每个站点生成证书（在同一个文件夹里；把 xingfuli 换成站点编号）。
# Stations may log in with a client certificate instead of a password: add cert_port = 8884 to district.toml's
# [office] (its broker must be mqtts://) and run `office init` again: it turns on the second TLS listener below,
# where the name (CN) in a station's certificate is its user name, under the same ACL. Then make each station a
# certificate named after its id (in the same folder; replace xingfuli):"""
    if tls:
        made_for = (f"# 用 openssl 生成证书（有效 10 年；为 district.toml 里的服务器地址 {host} 而做）：\n"
                    f"# Making the certificates with openssl (valid for 10 years, for {host}, the broker's address in "
                    "district.toml):")
    else:
        made_for = (f"# 用 openssl 生成证书（有效 10 年；把 {host} 换成服务器的地址）：\n"
                    f"# Making the certificates with openssl (valid for 10 years; replace {host} with the broker's "
                    "address):")
    san = _subject_alt_name(host)
    if san.startswith("IP:"):
        more = f"with a name too: {san},DNS:office.example"
    else:
        more = f"with an address too: {san},IP:192.168.1.10"
    where = f"{f'[{host}]' if ':' in host else host}" if tls else "<broker address>"
    where_zh = where if tls else "服务器地址"
    return f"""\
# 由 announcer office init 生成；请改 district.toml 后重新运行，不要直接改这里（每次运行都会重写）。
# 启动：mosquitto -c {folder / 'mosquitto.conf'}
# Written by `announcer office init`: change district.toml and run it again rather than editing this file (it is
# written anew each time). Start the broker with: mosquitto -c {folder / 'mosquitto.conf'}

# 用 root 启动时，服务器换成这个用户运行；下面的文件属于它。
# When started as root, the broker switches to this user, who owns the files below.
user {user}

# 保留的消息（当天的通知）写到磁盘上，服务器重启后还在。
# Retained messages (the day's notices) are kept on disk and survive a restart.
persistence true
persistence_location {folder / 'data'}/
autosave_interval 60

# 街道办不在线时，站点发来的播放记录在这里排队，等下一次 status 来取；默认只留 1000 条，多的会丢掉。
# Play records sent while the office is not listening queue here for its next `status`; Mosquitto's default
# keeps 1,000 a client and drops the rest (bench/district.py lost 1,138 of 2,000 records that way).
max_queued_messages 200000

# 每个站点和街道办都要用户名和密码登录；ACL 规定谁能读写哪些主题。
# Every station and the office log in with a user name and password; the ACL says who may read and write what.
per_listener_settings false
allow_anonymous false
password_file {folder / 'passwd'}
acl_file {folder / 'acl'}

{plain}

# --- TLS（加密连接）/ TLS (encrypted connections) ---
{about_tls}
#   cafile:   the certificate authority (CA) that signed the broker's certificate; stations trust it
#   certfile: this broker's certificate; its name must be the address the stations connect to
#   keyfile:  the certificate's private key (keep it secret: chmod 600, readable by user {user})
#
{on}listener {tls_port}
{on}cafile {tls_dir / 'ca.crt'}
{on}certfile {tls_dir / 'broker.crt'}
{on}keyfile {tls_dir / 'broker.key'}
#
{made_for}
#   mkdir -p {shlex.quote(str(tls_dir))} && cd {shlex.quote(str(tls_dir))}
#   openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -subj "/CN=announcer CA" -keyout ca.key -out ca.crt
#   openssl req -newkey rsa:3072 -nodes -subj "/CN={host}" -keyout broker.key -out broker.csr
#   printf 'subjectAltName={san}\\n' > san.txt    # {more}
#   openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile san.txt \\
#       -out broker.crt
#   chmod 600 ca.key broker.key    # ca.key makes certificates the stations trust: keep a copy somewhere safe
#
{about_cert}
#
{cert_on}listener {cert_port}
{cert_on}cafile {tls_dir / 'ca.crt'}
{cert_on}certfile {tls_dir / 'broker.crt'}
{cert_on}keyfile {tls_dir / 'broker.key'}
{cert_on}require_certificate true
{cert_on}use_identity_as_username true
#
#   openssl req -newkey rsa:3072 -nodes -subj "/CN=xingfuli" -keyout xingfuli.key -out xingfuli.csr
#   openssl x509 -req -in xingfuli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out xingfuli.crt
#   chmod 600 xingfuli.key
# 把 ca.crt、xingfuli.crt 和 xingfuli.key 复制给这个站点；它的 [network] 写 broker = "mqtts://{where_zh}:{cert_port}"、
# ca_file = "ca.crt"、cert_file = "xingfuli.crt"、key_file = "xingfuli.key"，不写 password_file。
# Copy ca.crt, xingfuli.crt and xingfuli.key to that station; its [network] says broker =
# "mqtts://{where}:{cert_port}", ca_file = "ca.crt", cert_file = "xingfuli.crt", key_file = "xingfuli.key",
# and no password_file.
"""


def _subject_alt_name(host: str) -> str:
    """What the broker's certificate names: IP:<address> or DNS:<name>."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"DNS:{host}"
    return f"IP:{host}"


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
