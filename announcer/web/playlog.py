"""/log: what the station played on a day, and the same as a CSV file for Excel."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, tzinfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from announcer.core.config import Station
from announcer.core.errors import AnnouncerError
from announcer.core.plan import station_zone
from announcer.core.playlog import RESULT_NAMES, RESULTS, PlayLog, Record
from announcer.web.site import Site, WebError, check_csrf, lang_of, parse_day, render

router = APIRouter(dependencies=[Depends(check_csrf)])

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")   # what a spreadsheet would run as a formula


def _zone(site: Site) -> tzinfo:
    """The station's zone; with an invalid schedule.toml the system's, so the log stays readable."""
    try:
        return station_zone(site.config().station)
    except AnnouncerError:
        return station_zone(Station())


def _clock(moment: datetime | None, zone: tzinfo, form: str = "%H:%M:%S") -> str:
    return moment.astimezone(zone).strftime(form) if moment is not None else ""


def _records(site: Site, day: date, zone: tzinfo) -> list[Record]:
    try:
        return PlayLog(site.out).records(day, zone)
    except OverflowError:        # the last day a date can hold has no next midnight, and nothing recorded
        return []


def _neighbour(day: date, days: int, site: Site) -> date | None:
    """The day before or after, if the page can show it (None past the calendar's or parse_day's bounds)."""
    try:
        other = day + timedelta(days=days)
        return parse_day(other.isoformat(), site)
    except (OverflowError, WebError):
        return None


def _result_name(result: str, lang: str) -> str:
    zh, en = RESULT_NAMES.get(result, (result, result))
    return en if lang == "en" else zh


def _rows(records: list[Record], zone: tzinfo, lang: str) -> list[dict]:
    rows = []
    for r in records:
        due = _clock(r.scheduled, zone)
        rows.append({"scheduled": due[:-3] if due.endswith(":00") else due, "started": _clock(r.started, zone),
                     "ended": _clock(r.ended, zone), "broadcast": r.broadcast, "clips": list(r.clips),
                     "result": r.result, "result_name": _result_name(r.result, lang), "reason": r.reason or ""})
    return rows


@router.get("/log")
def log_page(request: Request, date: str | None = None):
    site: Site = request.app.state.site
    day = parse_day(date, site)
    zone = _zone(site)
    lang = lang_of(request)
    records = _records(site, day, zone)
    counts = [{"result": result, "name": _result_name(result, lang), "count": sum(r.result == result for r in records)}
              for result in RESULTS]
    return render(request, "playlog.html", page="log", day=day, zone=getattr(zone, "key", str(zone)),
                  rows=_rows(records, zone, lang), counts=counts,
                  previous=_neighbour(day, -1, site), next=_neighbour(day, 1, site), is_today=day == site.today())


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@router.get("/log.csv")
def log_csv(request: Request, date: str | None = None):
    site: Site = request.app.state.site
    day = parse_day(date, site)
    zone = _zone(site)
    lang = lang_of(request)
    zh = lang != "en"
    stamp = "%Y-%m-%d %H:%M:%S"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["计划时间", "开始", "结束", "广播", "片段", "结果", "原因"] if zh else
                    ["scheduled", "started", "ended", "broadcast", "clips", "result", "reason"])
    for r in _records(site, day, zone):
        writer.writerow([safe_cell(cell) for cell in (
            _clock(r.scheduled, zone, stamp), _clock(r.started, zone, stamp), _clock(r.ended, zone, stamp),
            r.broadcast, " ".join(r.clips),
            _result_name(r.result, lang), r.reason or "")])
    data = "\ufeff" + buffer.getvalue()      # the BOM makes Excel read UTF-8 (Chinese) correctly
    return Response(data.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="playlog-{day.isoformat()}.csv"',
                             "Cache-Control": "no-store"})
