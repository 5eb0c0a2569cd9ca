"""The `announcer` command. Thin: parse, call one function, print the result."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from announcer.cli import arguments
from announcer.core import leftovers
from announcer.core.errors import AnnouncerError, ConfigError, tr, ui_language

EXAMPLES = """examples:
  announcer build examples/notices.txt              today's clips into audio_out/<date>/
  announcer build notices.toml --date 2026-11-30 --format wav
  announcer check examples/notices.txt              find notices that are too long or unclear
  announcer say "明天上午九点停水" -o preview.mp3     preview one sentence
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line, like every other error, and the usual exit code 2 for a wrong command line."""
        self.exit(2, tr(f"错误：{message}（用法见 announcer --help）\n",
                        f"error: {message} (see announcer --help)\n"))


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="announcer", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Turn the day's notices into short, clear spoken clips for the loudspeaker.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="make the day's clips from notice files")
    b.add_argument("notices", nargs="+", type=Path, metavar="NOTICES", help=".txt or .toml notice files")
    b.add_argument("--date", type=arguments.day, help="the day to build, YYYY-MM-DD (default: today)")
    b.add_argument("--out", type=Path, default=Path("audio_out"), help="clip library folder (default: audio_out)")
    b.add_argument("--config", type=Path, help="station config (default: ./schedule.toml when present)")
    b.add_argument("--format", choices=["mp3", "wav"], help="clip format (default: [audio] format, mp3)")

    c = sub.add_parser("check", help="check notices without making audio; exit 1 on errors")
    c.add_argument("notices", nargs="+", type=Path, metavar="NOTICES")
    c.add_argument("--config", type=Path)
    c.add_argument("--max-seconds", type=_seconds, default=None, help="longest a notice may be (default 40)")

    s = sub.add_parser("say", help="speak one sentence now, or save it with -o")
    s.add_argument("text", metavar="TEXT")
    s.add_argument("-o", "--output", type=Path, help="write a .mp3 or .wav file instead of playing")
    s.add_argument("--config", type=Path)
    s.add_argument("--player", type=_player, default="auto", help=f"{_player_names()} (default: auto)")
    s.add_argument("--draft", action="store_true", help="a quick draft with espeak-ng instead of the neural voices")

    pl = sub.add_parser("plan", help="show what plays when, without playing anything")
    pl.add_argument("--config", type=Path, help="station config (default: ./schedule.toml when present)")
    pl.add_argument("--from", dest="start", type=_moment, help="start, ISO 8601 such as 2026-11-30T08:00 (default: now)")
    pl.add_argument("--hours", type=_hours, default=24.0, help="how many hours to show (default: 24)")
    pl.add_argument("--json", action="store_true", help="print a JSON array of what will play")
    pl.add_argument("--out", type=Path, default=Path("audio_out"), help="clip library folder (default: audio_out)")

    r = sub.add_parser("run", help="the station: play the clips at the times in schedule.toml, until stopped")
    r.add_argument("--config", type=Path, help="station config (default: ./schedule.toml)")
    r.add_argument("--out", type=Path, default=Path("audio_out"), help="clip library folder (default: audio_out)")
    r.add_argument("--player", type=_player, help=f"{_player_names()} (default: [station] player)")
    r.add_argument("--web", action="store_true", help="also serve the web page (see announcer serve)")
    r.add_argument("--host", help="with --web: the address the page listens on (default: 127.0.0.1)")
    r.add_argument("--port", type=_port, help="with --web: the page's port (default: 8080)")

    sv = sub.add_parser("serve", help="the web page: notices, clips, schedule, play log, play now")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default: 127.0.0.1, this computer only; others need [web] token)")
    sv.add_argument("--port", type=_port, default=8080, help="port (default: 8080)")
    sv.add_argument("--config", type=Path, help="station config (default: ./schedule.toml when present)")
    sv.add_argument("--out", type=Path, default=Path("audio_out"), help="clip library folder (default: audio_out)")
    sv.add_argument("--district", type=Path, help="the office's list of stations, for the District page "
                                                  "(default: ./district.toml when present; without one no such page)")
    sv.add_argument("--broker-dir", type=Path, help="the folder announcer office init wrote (default: ./broker)")

    lg = sub.add_parser("log", help="what the station played on a day (proof of broadcast)")
    lg.add_argument("--date", type=arguments.day, help="the day, YYYY-MM-DD (default: today)")
    lg.add_argument("--json", action="store_true", help="print a JSON array of the day's records")
    lg.add_argument("--out", type=Path, default=Path("audio_out"), help="clip library folder (default: audio_out)")
    lg.add_argument("--config", type=Path, help="station config (default: ./schedule.toml when present)")

    ex = sub.add_parser("export", help="copy the day's clips to a USB stick for a handheld loudspeaker")
    ex.add_argument("dest", type=Path, metavar="DEST", help="a folder on the mounted stick or card")
    ex.add_argument("--date", type=arguments.day, help="the day, YYYY-MM-DD (default: today)")
    ex.add_argument("--out", type=Path, default=Path("audio_out"), help="clip library folder (default: audio_out)")
    ex.add_argument("--loop-file", action="store_true", help="also write 000-all-clips.mp3: every clip in one file")
    ex.add_argument("--clean", action="store_true", help="remove the audio files already in DEST first")
    ex.add_argument("--dry-run", action="store_true", help="list what would be written; write nothing")
    ex.add_argument("--config", type=Path, help="station config (default: ./schedule.toml when present)")

    im = sub.add_parser("import", help="clean up your own recording and add it to the day's clips")
    im.add_argument("recording", type=Path, metavar="RECORDING", help="a sound file: m4a, mp3, wav, amr, ogg...")
    im.add_argument("--title", help="the clip's title (default: the file name); its id is made from it")
    im.add_argument("--text", help="what the recording says: stored, and used to measure the pace")
    im.add_argument("--date", type=arguments.day, help="the day, YYYY-MM-DD (default: today)")
    im.add_argument("--out", type=Path, default=Path("audio_out"), help="clip library folder (default: audio_out)")
    im.add_argument("--config", type=Path, help="station config (default: ./schedule.toml when present)")

    from announcer.cli import office     # light: the broker's files only

    office.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        leftovers.clear(getattr(args, "out", None))     # what killed announcer processes left behind
        leftovers.private_temp()
        return COMMANDS[args.command](args)
    except AnnouncerError as e:
        for problem in e.problems:
            print(tr("错误：", "error: ") + str(problem), file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 1
    except KeyboardInterrupt:
        print(tr("已中止，音频库保持原样。", "stopped; the clip library is unchanged."), file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("ANNOUNCER_DEBUG"):
            raise
        print(tr(f"内部错误：{type(e).__name__}: {e}。请把这行发给维护人员（设置 ANNOUNCER_DEBUG=1 可看详情）。",
                 f"internal error: {type(e).__name__}: {e}; please report this line "
                 "(set ANNOUNCER_DEBUG=1 for details)"), file=sys.stderr)
        return 3


def _player_names() -> str:
    from announcer.station.players import NAMES

    return ", ".join((*NAMES, "auto"))


def _player(text: str) -> str:
    """A player name, checked here: `run` with an unknown one would otherwise wait forever, never playing."""
    from announcer.station.players import NAMES, unknown_player

    if text not in (*NAMES, "auto"):
        raise argparse.ArgumentTypeError(str(unknown_player(text)))
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(tr(f"“{text}”不是端口号，例如 8080", f"\"{text}\" is not a port number, e.g. 8080"))
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not value > 0:
        raise argparse.ArgumentTypeError(tr(f"“{text}”不是正数秒数，例如 40", f"\"{text}\" is not a positive number of seconds, e.g. 40"))
    return value


def _config(path: Path | None):
    """The station config; its language becomes the messages' language unless ANNOUNCER_LANG says otherwise."""
    from announcer.core.config import find_config, load_config

    config = load_config(find_config(path))
    if not os.environ.get("ANNOUNCER_LANG"):
        os.environ["ANNOUNCER_LANG"] = config.language
    return config


def _now(config):
    """Now in the station's zone: the one place the commands read the clock."""
    from datetime import datetime

    from announcer.core.plan import station_zone

    return datetime.now(station_zone(config.station))


def _today(config) -> date:
    """Today in the station's zone (system zone when none is set)."""
    return _now(config).date()


def cmd_build(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from announcer.build.day import build_day
    from announcer.cli.report import clarity_table

    config = _config(args.config)
    err = Console(stderr=True)
    notices = _read_notices(args.notices, err)
    day = args.date or _today(config)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task(tr("正在生成", "building"), total=sum(n.valid_on(day) for n in notices))
        result = build_day(notices, day, args.out, config, fmt=args.format,
                           progress=lambda notice, cached: bar.advance(task))
    for note in result.notes:
        err.print(note, markup=False, highlight=False)
    out = Console()
    out.print(clarity_table(result.clips, title=str(result.folder)))
    out.print(tr(f"共 {len(result.clips)} 段：新生成 {result.rendered} 段，沿用缓存 {result.reused} 段。",
                 f"{len(result.clips)} clips: {result.rendered} rendered, {result.reused} from the cache."))
    return 0


def cmd_check(args) -> int:
    from rich.console import Console

    from announcer.build.check import MAX_SECONDS, check_notices
    from announcer.build.notices import MAX_A_DAY, busiest_day, too_many_error
    from announcer.cli.report import findings_table

    config = _config(args.config)
    notices = _read_notices(args.notices, Console(stderr=True))
    day, count = busiest_day(notices, _today(config))
    if count > MAX_A_DAY:
        raise too_many_error(count, day)
    findings = check_notices(notices, config.speech, args.max_seconds if args.max_seconds is not None else MAX_SECONDS)
    errors = sum(f.level == "error" for f in findings)
    console = Console()
    if findings:
        console.print(findings_table(findings))
    console.print(tr(f"检查了 {len(notices)} 条通知：{errors} 个错误，{len(findings) - errors} 个提醒。",
                     f"checked {len(notices)} notices: {errors} errors, {len(findings) - errors} warnings."))
    return 1 if errors else 0


def _read_notices(paths, err):
    """The notices in `paths`; what was read with a warning is said on stderr first."""
    from announcer.build.notices import read_notices

    notes: list[str] = []
    notices = read_notices(paths, notes)
    for note in notes:
        err.print(tr("提醒：", "warning: ") + note, markup=False, highlight=False)
    return notices


def cmd_say(args) -> int:
    import tempfile
    from dataclasses import replace

    from announcer.build.day import finish
    from announcer.build.check import NOTHING_TO_SAY
    from announcer.build.speech import open_speaker
    from announcer.core.errors import NoticeError
    from announcer.core.library import atomic_write
    from announcer.station.players import find_player, play
    from announcer.build.speakable import make_speakable

    config = _config(args.config)
    fmt = "wav"
    if args.output:
        fmt = args.output.suffix.lower().lstrip(".")
        if fmt not in ("mp3", "wav"):
            raise AnnouncerError(f"只能保存为 .mp3 或 .wav（收到 {args.output.name}）。",
                                 f"can only write .mp3 or .wav (got {args.output.name})", str(args.output))
    else:
        find_player(args.player)  # fail before synthesizing when nothing can play
    speakable = make_speakable(args.text)
    if not speakable.sentences:
        raise NoticeError(*NOTHING_TO_SAY)
    speaker = open_speaker(config.speech, draft=args.draft)
    try:
        speech = speaker.speak(speakable)
    finally:
        speaker.close()
    for note in dict.fromkeys(speaker.missing.values()):
        print(note, file=sys.stderr)
    data, heard, _, _ = finish(speech.audio, replace(config.audio, format=fmt), lead_in=bool(args.output))
    if not args.output:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "say.wav"
            wav.write_bytes(data)
            play(wav, args.player)
        return 0
    atomic_write(args.output, data)
    print(tr(f"已保存 {args.output}（{len(heard) / 1000:.1f} 秒，语速 {speech.pace:.1f} {speech.pace_unit}）",
             f"saved {args.output} ({len(heard) / 1000:.1f} s, pace {speech.pace:.1f} {speech.pace_unit})"))
    return 0


MAX_PLAN_HOURS = 366 * 24


def _moment(text: str):
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(tr(f"“{text}”不是日期时间，请写成 2026-11-30T08:00 这样",
                                            f"\"{text}\" is not a date and time; write it like 2026-11-30T08:00"))


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value <= MAX_PLAN_HOURS:
        raise argparse.ArgumentTypeError(tr(f"“{text}”不是大于 0、不超过 {MAX_PLAN_HOURS} 的小时数，例如 24",
                                            f"\"{text}\" is not a number of hours above 0 and up to {MAX_PLAN_HOURS}, e.g. 24"))
    return value


def cmd_plan(args) -> int:
    import json
    from datetime import timedelta, timezone

    from announcer.core.library import Library
    from announcer.core.plan import plan, planned_clips, station_zone

    config = _config(args.config)
    zone = station_zone(config.station)
    start = args.start or _now(config)
    start = (start if start.tzinfo else start.replace(tzinfo=zone)).astimezone(zone)
    occurrences = plan(config, start, start.astimezone(timezone.utc) + timedelta(hours=args.hours))
    library, manifests = Library(args.out), {}

    def manifest(occurrence) -> dict | None:
        day = occurrence.time.date()
        if day not in manifests:
            manifests[day] = library.manifest(day)
        return manifests[day]

    if args.json:
        playing = [o for o in occurrences if o.skipped is None]
        print(json.dumps([{"time": o.time.isoformat(), "broadcast": o.broadcast.name,
                           "clips": planned_clips(o.broadcast, manifest(o)), "repeat": o.broadcast.repeat}
                          for o in playing], ensure_ascii=False, indent=2))
        return 0

    from rich.console import Console

    from announcer.cli.report import plan_table

    console = Console()
    if not config.broadcasts:
        console.print(tr("设置文件里还没有 [[broadcast]]，没有要播放的。",
                         "the settings have no [[broadcast]] entries; nothing will play."), markup=False)
        return 0
    title = tr(f"播放计划：{start:%Y-%m-%d %H:%M} 起 {args.hours:g} 小时（{zone.key}）",
               f"plan: {args.hours:g} hours from {start:%Y-%m-%d %H:%M} ({zone.key})")
    rows = [(o, None if (m := manifest(o)) is None else planned_clips(o.broadcast, m)) for o in occurrences]
    console.print(plan_table(rows, title=title))
    skipped = sum(o.skipped is not None for o in occurrences)
    console.print(tr(f"共 {len(occurrences) - skipped} 次播放，{skipped} 次跳过。",
                     f"{len(occurrences) - skipped} to play, {skipped} skipped."))
    return 0


def cmd_run(args) -> int:
    from announcer.station.daemon import run

    if not args.web and (args.host is not None or args.port is not None):
        parser().error(tr("--host 和 --port 要和 --web 一起用", "--host and --port go with --web"))
    config = _config(args.config)
    page = None
    if args.web:
        from announcer.web.server import open_page
        from announcer.web.site import refuse_start

        host, port = args.host or "127.0.0.1", 8080 if args.port is None else args.port
        refuse_start(host, config)             # before the station starts

        def page():
            return open_page(config, args.out, host, port, _controls(args.out, args.player))
    companions = ()
    if config.network is not None:             # [network]: the link to the office's broker
        from announcer.district.link import StationLink

        companions = (lambda: StationLink(config, args.out),)
    return run(config, args.out, player=args.player, page=page, companions=companions)


def cmd_serve(args) -> int:
    from announcer.web.server import serve

    district = args.district
    if district is None and Path("district.toml").is_file():
        district = Path("district.toml")
    broker_dir = (args.broker_dir or Path("broker")) if district is not None else None
    return serve(_config(args.config), args.out, _controls(args.out), args.host, args.port, district, broker_dir)


def _controls(out: Path, player: str | None = None):
    """How the page plays now and stops: through the running station, or without one on its own player."""
    from announcer.station.by_hand import Controls

    return lambda site: Controls(Path(out), site.config, player)


def cmd_log(args) -> int:
    import json

    from announcer.core.plan import station_zone
    from announcer.core.playlog import RESULTS, PlayLog, log_table

    config = _config(args.config)
    zone = station_zone(config.station)
    day = args.date or _today(config)
    log = PlayLog(args.out)
    records = log.records(day, zone)
    if args.json:
        print(json.dumps([r.to_json(zone) for r in records], ensure_ascii=False, indent=2))
        return 0

    from rich.console import Console

    console = Console()
    if not records:
        console.print(tr(f"{day} 没有播放记录（{log.path}）。", f"nothing in the play log for {day} ({log.path})."),
                      markup=False)
        return 0
    console.print(log_table(records, zone, title=tr(f"播放记录：{day}（{zone.key}）", f"play log: {day} ({zone.key})")))
    counts = {result: sum(r.result == result for r in records) for result in RESULTS}
    console.print(tr("已播放 {played}，错过 {missed}，跳过 {skipped}，失败 {failed}。",
                     "{played} played, {missed} missed, {skipped} skipped, {failed} failed.").format(**counts))
    return 0


def cmd_export(args) -> int:
    from announcer.build.export import loop_gap, plan_export, write_export

    config = _config(args.config)
    day = args.date or _today(config)
    plan = plan_export(args.dest, day, args.out, loop_file=args.loop_file, clean=args.clean,
                       gap_s=loop_gap(config), bitrate_kbps=config.audio.bitrate_kbps)
    if args.dry_run:
        for path in plan.remove:
            print(tr(f"删除 {path.name}", f"remove {path.name}"))
        for file in plan.files:
            how = tr("原样复制", "copied") if file.copied else tr("重新编码", "re-encoded")
            print(f"{file.name}  {len(file.data) / 1e6:.2f} MB  ({file.source}, {how})")
        print(tr(f"试运行：将写入 {len(plan.files)} 个文件到 {plan.dest}，未写入任何内容。",
                 f"dry run: {len(plan.files)} files would be written to {plan.dest}; nothing was written."))
        return 0
    written = write_export(plan)
    print(tr(f"已按播放顺序写入 {len(written)} 个文件到 {plan.dest}。安全弹出U盘后再拔下。",
             f"wrote {len(written)} files to {plan.dest} in play order; eject the stick safely before unplugging it."))
    return 0


def cmd_import(args) -> int:
    from announcer.build.day import clip_warnings
    from announcer.build.recording import import_recording
    from announcer.build.speakable import PACE_UNIT_NAMES

    config = _config(args.config)
    day = args.date or _today(config)
    result = import_recording(args.recording, day, args.out, config, title=args.title, text=args.text)
    clip = result.clip
    print(tr(f"已加入 {result.folder / clip['file']}（第 {result.clips} 段）：{clip['duration_s']:.1f} 秒，"
             f"{clip['loudness_lufs']:.1f} LUFS，峰值 {clip['true_peak_dbtp']:.1f} dBTP",
             f"added {result.folder / clip['file']} (clip {result.clips}): {clip['duration_s']:.1f} s, "
             f"{clip['loudness_lufs']:.1f} LUFS, true peak {clip['true_peak_dbtp']:.1f} dBTP"))
    rate = clip["speech_rate"]
    if rate["value"] is not None:
        zh_unit, en_unit = PACE_UNIT_NAMES.get(rate["unit"], (rate["unit"], rate["unit"]))
        print(tr(f"语速 {rate['value']:.1f} {zh_unit}", f"pace {rate['value']:.1f} {en_unit}"))
    for warning in clip_warnings(clip, ui_language()):
        print(tr("提醒：", "warning: ") + warning)
    return 0


def cmd_office(args) -> int:
    from announcer.cli.office import cmd_office

    return cmd_office(args)


COMMANDS = {"build": cmd_build, "check": cmd_check, "say": cmd_say, "plan": cmd_plan, "run": cmd_run, "log": cmd_log,
            "export": cmd_export, "import": cmd_import, "serve": cmd_serve, "office": cmd_office}
