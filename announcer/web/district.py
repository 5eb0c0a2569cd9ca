"""/district: the office's page (only when the page was given a district.toml, `announcer serve --district`).

It shows `announcer office status` (every station: online, last seen, today's clips, last broadcast, engine and
voice), after listening about a second for the stations in a worker thread, and sends the day's notices and urgent
notices as `announcer office publish` and `office urgent` do. A broker that cannot be reached is one warning line:
the table still shows what office.sqlite knows.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from announcer.build.office import day_message
from announcer.core.district import day_topic, urgent_topic
from announcer.core.districtfile import District, load_district
from announcer.core.errors import AnnouncerError
from announcer.core.office import collect, district_groups, send, station_rows, urgent_message
from announcer.core.officelog import OfficeLog
from announcer.web.site import Site, WebError, check_csrf, lang_of, parse_day, render
from announcer.web.today import parse_notices

router = APIRouter(dependencies=[Depends(check_csrf)])

LISTEN = 1.0              # seconds the page listens for the stations before showing them
PAGE_TURN_S = 3.0         # while `office status` reads, the page waits this long, then shows what it has
EXPIRES_MINUTES = 30      # an urgent notice's default time to live
MAX_EXPIRES = 24 * 60


def _site(request: Request) -> tuple[Site, District]:
    site: Site = request.app.state.site
    if site.district is None:
        raise WebError("这台电脑上没有辖区页面：它只在街道办的电脑上用 announcer serve --district district.toml 打开。",
                       "there is no District page here: it is only on the office's computer, opened with "
                       "announcer serve --district district.toml", status=404)
    return site, load_district(site.district)


def _broker_dir(site: Site) -> Path:
    return site.broker_dir if site.broker_dir is not None else Path(site.district).parent / "broker"


def _page(request: Request, site: Site, district: District, *, listen: bool = True, status: int = 200,
          errors: dict | None = None, publish: dict | None = None, urgent: dict | None = None, **context):
    """The page (in a worker thread): the stations, after listening for them when `listen`."""
    folder = _broker_dir(site)
    store = OfficeLog(folder)
    lang = lang_of(request)
    warning = None
    if listen:
        try:
            collect(district, folder, store, LISTEN, patience=PAGE_TURN_S)
        except AnnouncerError as error:
            warning = error.message(lang)
    groups = district_groups(district)
    return render(request, "district.html", status=status, page="district", district=district,
                  rows=station_rows(district, store, site.today(), lang), broker_warning=warning, groups=groups,
                  errors=errors or {},
                  publish={"text": "", "date": site.today().isoformat(), "targets": ["all"], **(publish or {})},
                  urgent={"text": "", "title": "", "expires": str(EXPIRES_MINUTES), "emergency": False,
                          "targets": ["all"], **(urgent or {})}, **context)


@router.get("/district")
async def district_page(request: Request):
    site, district = _site(request)
    return await run_in_threadpool(_page, request, site, district)


def _targets(district: District, chosen: list[str]) -> list[str]:
    """The ticked targets, each checked against district.toml; WebError when none or an unknown one."""
    stations = [s.id for s in district.stations]
    groups = district_groups(district)
    if not chosen:
        raise WebError("请至少勾选一个接收的对象（全部站点、一个分组或一个站点）。",
                       "tick at least one receiver (every station, a group or a station)")
    for target in chosen:
        if not (target in ("all", *stations) or (target.startswith("group:") and target[6:] in groups)):
            raise WebError(f"“{target[:40]}”不在辖区文件里。请刷新页面，再从列出的站点和分组里勾选。",
                           f"\"{target[:40]}\" is not in the district file; reload the page and tick among the "
                           "stations and groups listed")
    unique = list(dict.fromkeys(chosen))
    return ["all"] if "all" in unique else unique


def _how_many(count: int, en: bool) -> str:
    return f"{count} station{'s' if count != 1 else ''}" if en else f"{count} 个站点"


@router.post("/district/publish")
async def district_publish(request: Request):
    site, district = _site(request)
    form = await request.form()
    text = str(form.get("notices") or "")
    values = {"text": text, "date": str(form.get("date") or ""), "targets": [str(t) for t in form.getlist("targets")]}
    return await run_in_threadpool(_publish, request, site, district, values)


def _publish(request: Request, site: Site, district: District, values: dict):
    en = lang_of(request) == "en"
    try:
        if not values["text"].strip():
            raise WebError("通知是空的：请把当天的通知贴进框里（每段一条，段与段之间空一行）。",
                           "the notices are empty: paste the day's notices into the box (one paragraph each, a "
                           "blank line between them)")
        day = parse_day(values["date"], site)
        targets = _targets(district, values["targets"])
        suffix = ".toml" if "[[notice]]" in values["text"] else ".txt"
        notices = parse_notices(values["text"].encode("utf-8"), suffix, "通知" if not en else "notices")
        message = day_message(notices, day)
        reached = send(district, _broker_dir(site), targets, day_topic, message.to_json(), retain=True)
    except AnnouncerError as error:
        return _refused(request, site, district, error, "publish", publish=values)
    count = len(message.notices)
    flash = (f"Sent the {count} notices of {day} to {_how_many(len(reached), True)}." if en
             else f"已把 {day} 的 {count} 条通知发给 {_how_many(len(reached), False)}。")
    return _page(request, site, district, flash=flash, flash_kind="ok")


@router.post("/district/urgent")
async def district_urgent(request: Request):
    site, district = _site(request)
    form = await request.form()
    values = {"text": str(form.get("text") or ""), "title": str(form.get("title") or ""),
              "expires": str(form.get("expires") or ""), "emergency": bool(form.get("emergency")),
              "targets": [str(t) for t in form.getlist("targets")]}
    return await run_in_threadpool(_urgent, request, site, district, values)


def _urgent(request: Request, site: Site, district: District, values: dict):
    en = lang_of(request) == "en"
    try:
        if not values["text"].strip():
            raise WebError("紧急通知是空的：请写上要广播的话。", "the urgent notice is empty: write what to say")
        minutes = values["expires"].strip() or str(EXPIRES_MINUTES)
        if not minutes.isdigit() or not 1 <= int(minutes) <= MAX_EXPIRES:
            raise WebError(f"有效时间“{minutes[:20]}”不对：请写 1 到 {MAX_EXPIRES} 之间的分钟数，例如 30。",
                           f"\"{minutes[:20]}\" is not a valid time to live: write a number of minutes from 1 to "
                           f"{MAX_EXPIRES}, e.g. 30")
        targets = _targets(district, values["targets"])
        message = urgent_message(values["text"].strip(), timedelta(minutes=int(minutes)), values["emergency"],
                                 values["title"].strip() or None)
        reached = send(district, _broker_dir(site), targets, urgent_topic, message.to_json())
    except AnnouncerError as error:
        return _refused(request, site, district, error, "urgent", urgent=values)
    until = f"{message.expires:%H:%M}"
    flash = (f"Sent the urgent notice to {_how_many(len(reached), True)}; stations that cannot play it by {until} "
             "will not play it." if en else
             f"已把紧急通知发给 {_how_many(len(reached), False)}；{until} 以前没能播放的站点不再播放它。")
    return _page(request, site, district, flash=flash, flash_kind="ok")


def _refused(request: Request, site: Site, district: District, error: AnnouncerError, form: str, **values):
    """The page again, the refusal on the form it came from, the text kept."""
    lang = lang_of(request)
    status = getattr(error, "status", 409)
    return _page(request, site, district, listen=False, status=status,
                 errors={form: [p.message(lang) for p in error.problems]}, **values)
