"""The District page (/district): the stations' status from a real broker, publishing the day's notices and sending
an urgent notice to subscribed stations, every refusal on its form, a broker that is down, and no district at all."""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from broker import DISTRICT, MOSQUITTO, MOSQUITTO_PASSWD, start_broker
from webpage import csrf, inner, make_client

from announcer.core.district import (DayNotices, LastBroadcast, StationStatus, Urgent, day_topics, read_message,
                                     status_topic, urgent_topics)
from announcer.core.officelog import OfficeLog

needs_broker = pytest.mark.skipif(not (MOSQUITTO and MOSQUITTO_PASSWD),
                                  reason="Debian's mosquitto package is not installed (scripts/test installs it)")
GROUPS = {"xingfuli": ("east",), "hepingli": ("west",), "yangguang": ("east",)}
NOTICES = "停水通知\n明天上午九点到十一点停水，请提前储水。\n\n集市\n周六上午有集市。\n"


@pytest.fixture
def office(tmp_path):
    """(page client, broker): a running broker for DISTRICT's three stations, and a page given its district."""
    if not (MOSQUITTO and MOSQUITTO_PASSWD):
        pytest.skip("Debian's mosquitto package is not installed (scripts/test installs it)")
    folder = tmp_path / "office"
    folder.mkdir()
    running = start_broker(folder)
    district = folder / "district.toml"
    district.write_text(DISTRICT.replace("1883", str(running.port)), encoding="utf-8")
    client = make_client("", tmp_path)
    site = client.app.state.site
    site.district, site.broker_dir = district, running.folder
    yield client, running
    for c in running.clients:
        c.close()
    running.stop()


def station(broker, station_id: str, kind: str):
    client = broker.client(station_id, client_id=f"{station_id}-{kind}-{len(broker.clients)}")
    topics = (day_topics if kind == "day" else urgent_topics)(station_id, GROUPS[station_id])
    assert not any(r.is_failure for r in client.subscribe(*topics))
    return client


def rows(page: str) -> dict[str, list[str]]:
    """The stations table: station id → the text of its cells."""
    table = inner(page, "table", "district-stations")
    found = {}
    for part in page.split('<tr class="station" data-station="')[1:]:
        sid = part.split('"', 1)[0]
        tds = part.split("</tr>")[0].split("<td")[1:]
        found[sid] = [" ".join(td.split("</td>")[0].split(">", 1)[1].split()) for td in tds]
    assert len(table.all("td")) == sum(len(c) for c in found.values())
    return found


def part(page: str, id: str) -> str:
    """The HTML of the element with this id, up to its first closing tag of a div or p."""
    rest = page.split(f'id="{id}"', 1)[1]
    return re.split(r"</(?:div|p)>", rest, maxsplit=1)[0]


def no_message(client, seconds: float = 0.5) -> bool:
    try:
        client.next(seconds)
    except AssertionError:
        return True
    return False


@pytest.mark.real
@needs_broker
def test_page_shows_the_stations_from_the_broker(office):
    page, broker = office
    now = datetime.now(timezone.utc).replace(microsecond=0)
    due = now - timedelta(minutes=5)
    today = page.app.state.site.today()
    status = StationStatus("xingfuli", True, now, day=today, built=4, engine={"engine": "kokoro"},
                           voices={"zh": "zf_xiaobei"}, last_broadcast=LastBroadcast("早间广播", due, "played"))
    broker.client("xingfuli").publish(status_topic("xingfuli"), status.to_json(), retain=True)
    broker.client("hepingli").publish(status_topic("hepingli"), StationStatus("hepingli", False, now,
                                                                              groups=()).to_json(), retain=True)
    response = page.get("/district")
    assert response.status_code == 200
    assert 'id="nav-district"' in response.text and "district-broker-warning" not in response.text
    table = rows(response.text)
    assert table["xingfuli"][1:] == ["online", f"{now.astimezone():%H:%M}", "built, 4 clips",
                                     f"{due.astimezone():%H:%M} 早间广播", "played", "engine kokoro; zh zf_xiaobei"]
    assert table["hepingli"][1:4] == ["offline", f"{now.astimezone():%H:%M}", "not built"]
    assert table["yangguang"][1:] == ["never seen", "—", "—", "—", "—", "—"]
    assert "阳光社区" in part(response.text, "district-never")
    assert all("data-label" in td["attrs"] for td in inner(response.text, "table", "district-stations").all("td"))
    assert OfficeLog(broker.folder).statuses()["xingfuli"][0] == status      # kept in office.sqlite
    notes = part(response.text, "district-groups")      # hepingli's schedule.toml left out its group west
    assert 'data-station="hepingli"' in notes and "xingfuli" not in notes
    assert "district.toml gives it the group(s) west, which its schedule.toml leaves out" in notes


@pytest.mark.real
@needs_broker
def test_publish_reaches_every_station_subscribed(office):
    page, broker = office
    xingfuli = station(broker, "xingfuli", "day")
    day = page.app.state.site.today() + timedelta(days=1)
    response = page.post("/district/publish", data={"csrf": csrf(page), "notices": NOTICES, "date": day.isoformat(),
                                                    "targets": ["all"]})
    assert response.status_code == 200, response.text
    assert f"Sent the 2 notices of {day} to 3 stations." in response.text
    message = read_message(xingfuli.next().payload)
    assert isinstance(message, DayNotices) and message.day == day
    assert ["明天上午九点到十一点停水" in n.text for n in message.notices] == [True, False]
    assert "周六上午有集市" in message.notices[1].text


@pytest.mark.real
@needs_broker
def test_urgent_reaches_the_group_chosen_only(office):
    page, broker = office
    xingfuli, hepingli = station(broker, "xingfuli", "urgent"), station(broker, "hepingli", "urgent")
    sent = datetime.now().astimezone()
    response = page.post("/district/urgent", data={"csrf": csrf(page), "text": "自来水管爆裂，请暂停用水。",
                                                   "title": "停水", "expires": "45", "emergency": "1",
                                                   "targets": ["group:east"]})
    assert response.status_code == 200, response.text
    assert "Sent the urgent notice to 2 stations" in response.text
    message = read_message(xingfuli.next().payload)
    assert isinstance(message, Urgent) and message.text == "自来水管爆裂，请暂停用水。" and message.emergency
    assert message.title == "停水"
    assert timedelta(minutes=44) < message.expires - sent < timedelta(minutes=46)
    assert no_message(hepingli)              # group west was not chosen


@pytest.mark.real
@needs_broker
def test_refusals_keep_the_text_and_send_nothing(office):
    page, broker = office
    day_station, urgent_station = station(broker, "xingfuli", "day"), station(broker, "xingfuli", "urgent")
    token = csrf(page)
    today = page.app.state.site.today().isoformat()

    empty = page.post("/district/publish", data={"csrf": token, "notices": "  ", "date": today, "targets": ["all"]})
    assert empty.status_code == 400 and "the notices are empty" in part(empty.text, "publish-error")

    unknown = page.post("/district/publish", data={"csrf": token, "notices": NOTICES, "date": today,
                                                   "targets": ["nowhere"]})
    assert unknown.status_code == 400 and "\"nowhere\" is not in the district file" in html.unescape(unknown.text)
    assert "明天上午九点到十一点停水" in unknown.text.split('id="publish-notices"')[1].split("</textarea>")[0]

    none = page.post("/district/urgent", data={"csrf": token, "text": "煤气泄漏", "expires": "30"})
    assert none.status_code == 400 and "tick at least one receiver" in part(none.text, "urgent-error")
    assert "煤气泄漏" in none.text.split('id="urgent-text"')[1].split("</textarea>")[0]

    bad_date = page.post("/district/publish", data={"csrf": token, "notices": NOTICES, "date": "2026-13-40",
                                                    "targets": ["all"]})
    assert bad_date.status_code == 400 and "is not a date" in bad_date.text
    assert "明天上午九点到十一点停水" in bad_date.text

    empty_urgent = page.post("/district/urgent", data={"csrf": token, "text": "", "targets": ["all"]})
    assert empty_urgent.status_code == 400 and "the urgent notice is empty" in empty_urgent.text

    long_life = page.post("/district/urgent", data={"csrf": token, "text": "煤气泄漏", "expires": "9999",
                                                    "targets": ["all"]})
    assert long_life.status_code == 400 and "minutes from 1 to 1440" in long_life.text

    forged = page.post("/district/urgent", data={"text": "煤气泄漏", "targets": ["all"]})
    assert forged.status_code == 403
    forged = page.post("/district/publish", data={"csrf": "x" * 40, "notices": NOTICES, "targets": ["all"]})
    assert forged.status_code == 403
    assert no_message(day_station) and no_message(urgent_station)


@needs_broker
def test_broker_down_is_one_warning_and_the_table_shows_what_is_kept(tmp_path):
    folder = tmp_path / "office"
    folder.mkdir()
    running = start_broker(folder)
    running.stop()                               # office init wrote its files; nobody listens on the port
    district = folder / "district.toml"
    district.write_text(DISTRICT.replace("1883", str(running.port)), encoding="utf-8")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    OfficeLog(running.folder).add_status(StationStatus("hepingli", True, now, day=date.today(), built=2))
    page = make_client("", tmp_path)
    page.app.state.site.district, page.app.state.site.broker_dir = district, running.folder
    response = page.get("/district")
    assert response.status_code == 200
    warning = part(response.text, "district-broker-warning")
    assert "cannot reach the broker" in warning and "start mosquitto first" in warning
    assert rows(response.text)["hepingli"][1] == "online"
    sent = page.post("/district/urgent", data={"csrf": csrf(page), "text": "煤气泄漏", "targets": ["all"]})
    assert sent.status_code == 409 and "cannot reach the broker" in part(sent.text, "urgent-error")
    assert "煤气泄漏" in sent.text
    assert "Traceback" not in response.text + sent.text


def test_no_district_no_link_and_no_page(tmp_path):
    page = make_client("", tmp_path)
    home = page.get("/")
    assert home.status_code == 200 and "nav-district" not in home.text
    missing = page.get("/district")
    assert missing.status_code == 404 and "there is no District page here" in missing.text
    refused = page.post("/district/urgent", data={"csrf": csrf(page), "text": "x", "targets": ["all"]})
    assert refused.status_code == 404


@pytest.mark.real
@needs_broker
def test_while_office_status_reads_the_page_waits_briefly_then_shows_what_is_kept(office):
    import time

    from announcer.core.office import reading
    from announcer.web.district import PAGE_TURN_S

    page, broker = office
    now = datetime.now(timezone.utc).replace(microsecond=0)
    OfficeLog(broker.folder).add_status(StationStatus("hepingli", True, now, day=date.today(), built=2))
    with reading(broker.folder, 1.0):                   # `office status --wait 60` is listening
        started = time.monotonic()
        response = page.get("/district")
        waited = time.monotonic() - started
    assert response.status_code == 200 and PAGE_TURN_S <= waited < PAGE_TURN_S + 3
    warning = part(response.text, "district-broker-warning")
    assert "another announcer office status (or the District page) is reading" in warning
    assert rows(response.text)["hepingli"][1] == "online"
    assert "Traceback" not in response.text
    again = page.get("/district")                       # its turn now
    assert again.status_code == 200 and "district-broker-warning" not in again.text
