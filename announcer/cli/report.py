"""What the staff member reads after a build or a check: the clarity table and findings."""

from __future__ import annotations

from rich.table import Table

from announcer.build.check import Finding
from announcer.core.errors import tr, ui_language

UNITS = {"syllables/s": ("字/秒", "syl/s"), "words/min": ("词/分", "wpm")}


def clarity_table(clips: list[dict], title: str | None = None) -> Table:
    from announcer.build.day import clip_warnings

    table = Table(title=title, title_justify="left")
    table.add_column(tr("片段", "clip"), no_wrap=True, min_width=max((len(c["file"]) for c in clips), default=4))
    table.add_column(tr("时长(秒)", "secs"), justify="right")
    table.add_column(tr("语速", "pace"), justify="right")
    table.add_column("LUFS", justify="right")
    table.add_column("dBTP", justify="right")
    table.add_column(tr("提醒", "notes"), overflow="fold")
    for clip in clips:
        rate = clip["speech_rate"]
        unit = tr(*UNITS.get(rate["unit"], (rate["unit"], rate["unit"])))
        table.add_row(
            clip["file"],
            f"{clip['duration_s']:.1f}",
            "—" if rate["value"] is None else f"{rate['value']:.1f} {unit}",   # a recording with no text
            f"{clip['loudness_lufs']:.1f}",
            f"{clip['true_peak_dbtp']:.1f}",
            "\n".join(clip_warnings(clip, ui_language())) or "—",
        )
    return table


def findings_table(findings: list[Finding]) -> Table:
    table = Table()
    table.add_column(tr("位置", "where"))
    table.add_column(tr("级别", "level"))
    table.add_column(tr("问题", "problem"), overflow="fold")
    for f in findings:
        level = tr("错误", "error") if f.level == "error" else tr("提醒", "warning")
        table.add_row(f.notice.where, level, f.message)
    return table


def plan_table(rows: list[tuple], title: str | None = None) -> Table:
    """The plan for people. rows: (Occurrence, clip ids from the day's manifest, or None when not built yet)."""
    from rich.text import Text

    from announcer.core.plan import skip_reason

    weekdays = tr("周一 周二 周三 周四 周五 周六 周日", "Mon Tue Wed Thu Fri Sat Sun").split()
    table = Table(title=title, title_justify="left")
    table.add_column(tr("时间", "time"), no_wrap=True)
    table.add_column(tr("广播", "broadcast"), overflow="fold")
    table.add_column(tr("片段", "clips"), overflow="fold")
    table.add_column(tr("遍数", "repeat"), justify="right")
    table.add_column(tr("状态", "status"), overflow="fold")
    for occurrence, ids in rows:
        t, broadcast = occurrence.time, occurrence.broadcast
        when = f"{t:%Y-%m-%d} {weekdays[t.weekday()]} " + t.strftime("%H:%M:%S" if t.second else "%H:%M")
        if ids is None:   # the day is not built: show what the broadcast asks for
            chosen = ", ".join(tr("全部", "all") if c == "all" else c for c in broadcast.clips)
            clips = chosen + tr("（当天还没有生成）", " (day not built yet)")
        else:
            clips = ", ".join(ids) or tr("没有符合的片段", "no matching clips")
        status = tr("跳过：", "skipped: ") + skip_reason(occurrence.skipped) if occurrence.skipped \
            else tr("播放", "plays")
        table.add_row(when, Text(broadcast.name), Text(clips), str(broadcast.repeat), status,
                      style="dim" if occurrence.skipped else None)
    return table
