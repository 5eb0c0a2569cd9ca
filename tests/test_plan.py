"""The plan: schedule + window → occurrences, with a fixed clock (no test reads the real time)."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from announcer.core import plan as plan_module
from announcer.core.config import AudioConfig, Broadcast, Config, QuietHours, SpeechConfig, Station
from announcer.core.plan import (Occurrence, in_quiet_hours, plan, planned_clips, quiet_span, select_clips,
                                 skip_reason, station_zone)

SHANGHAI, LONDON, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/London"), ZoneInfo("America/New_York")


def config(*broadcasts: Broadcast, tz: str = "Asia/Shanghai", **station) -> Config:
    return Config(path=None, speech=SpeechConfig(), audio=AudioConfig(),
                  station=Station(timezone=tz, **station), broadcasts=broadcasts)


def window(day: str, hours: float = 24, zone: ZoneInfo = SHANGHAI) -> tuple[datetime, datetime]:
    """From local wall time `day`, `hours` real hours (aware arithmetic in one zone would add wall time)."""
    start = datetime.fromisoformat(day).replace(tzinfo=zone)
    return start, start.astimezone(timezone.utc) + timedelta(hours=hours)


def stamps(occurrences: list[Occurrence]) -> list[str]:
    return [o.time.isoformat() for o in occurrences]


def hhmm(*values: str) -> tuple[time, ...]:
    return tuple(time.fromisoformat(v) for v in values)


def loop(name: str, start: str, until: str, every_s: float, **kw) -> Broadcast:
    return Broadcast(name, start=time.fromisoformat(start), until=time.fromisoformat(until), every_s=every_s, **kw)


# Every kind of timing -------------------------------------------------------

def test_at_times_of_day_each_day_with_seconds():
    c = config(Broadcast("b", at=hhmm("17:30:15", "10:00")))
    assert stamps(plan(c, *window("2026-11-30", 48))) == [
        "2026-11-30T10:00:00+08:00", "2026-11-30T17:30:15+08:00",
        "2026-12-01T10:00:00+08:00", "2026-12-01T17:30:15+08:00"]


def test_every_plays_from_start_and_until_is_exclusive():
    c = config(loop("rounds", "14:00", "15:00", 20 * 60))
    assert stamps(plan(c, *window("2026-11-30"))) == [
        "2026-11-30T14:00:00+08:00", "2026-11-30T14:20:00+08:00", "2026-11-30T14:40:00+08:00"]


def test_every_that_lands_on_until_stops_before_it():
    c = config(loop("rounds", "14:00", "15:00", 30 * 60))
    assert [o.time.strftime("%H:%M") for o in plan(c, *window("2026-11-30"))] == ["14:00", "14:30"]


def test_cron_runs_in_local_wall_time():
    c = config(Broadcast("monday", cron="0 8 * * 1"))
    # 2026-11-30 is a Monday.
    assert stamps(plan(c, *window("2026-11-29", 24 * 14))) == [
        "2026-11-30T08:00:00+08:00", "2026-12-07T08:00:00+08:00"]


def test_once_inside_the_window():
    c = config(Broadcast("eve", once=datetime(2026, 12, 24, 18, 0)))
    assert stamps(plan(c, *window("2026-12-24"))) == ["2026-12-24T18:00:00+08:00"]


@pytest.mark.parametrize("start,hours", [("2026-12-23", 24), ("2026-12-24T18:00:01", 24),
                                         ("2026-12-24T17:00", 1)])   # the end is exclusive
def test_once_outside_the_window(start, hours):
    c = config(Broadcast("eve", once=datetime(2026, 12, 24, 18, 0)))
    assert plan(c, *window(start, hours)) == []


def test_start_is_inclusive():
    c = config(Broadcast("b", at=hhmm("08:00")))
    assert stamps(plan(c, *window("2026-11-30T08:00", 1))) == ["2026-11-30T08:00:00+08:00"]


def test_window_in_another_zone_gives_times_in_the_station_zone():
    c = config(Broadcast("b", at=hhmm("08:00")))
    start = datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc)
    assert stamps(plan(c, start, start + timedelta(hours=1))) == ["2026-11-30T08:00:00+08:00"]


def test_naive_window_is_refused():
    with pytest.raises(ValueError):
        plan(config(), datetime(2026, 11, 30), datetime(2026, 12, 1))


# Cron day-of-week semantics (crontab(5)) ----------------------------------------

@pytest.mark.parametrize("dow", ["0", "7", "sun", "SUN", "0,7"])
def test_cron_sunday_is_0_7_or_sun(dow):
    c = config(Broadcast("sunday", cron=f"0 9 * * {dow}"))
    # 2026-11-29 and 2026-12-06 are Sundays.
    assert stamps(plan(c, *window("2026-11-28", 24 * 9))) == [
        "2026-11-29T09:00:00+08:00", "2026-12-06T09:00:00+08:00"]


def test_cron_weekday_names_and_ranges():
    c = config(Broadcast("weekdays", cron="0 9 * * mon-fri"))
    got = plan(c, *window("2026-11-30", 24 * 7))
    assert [o.time.strftime("%a") for o in got] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_cron_day_of_month_or_day_of_week_when_both_are_restricted():
    c = config(Broadcast("b", cron="0 9 13 * fri"))
    got = {o.time.date().isoformat() for o in plan(c, *window("2026-11-01", 24 * 30))}
    # The 13th (a Friday here, and a Friday never repeats) plus every Friday of November 2026.
    assert got == {"2026-11-06", "2026-11-13", "2026-11-20", "2026-11-27"}
    c = config(Broadcast("b", cron="0 9 1 * mon"))
    got = {o.time.date().isoformat() for o in plan(c, *window("2026-12-01", 24 * 14))}
    assert got == {"2026-12-01", "2026-12-07", "2026-12-14"}   # the 1st is a Tuesday


def test_cron_starred_day_field_means_both_must_match():
    # "*/2" starts with "*": crontab(5) then wants an odd day AND a Monday.
    c = config(Broadcast("b", cron="0 9 */2 * mon"))
    got = [o.time.date().isoformat() for o in plan(c, *window("2026-11-01", 24 * 30))]
    assert got == ["2026-11-09", "2026-11-23"]


# days ------------------------------------------------------------------------

def test_weekends_without_a_country():
    c = config(Broadcast("b", at=hhmm("09:00"), days="weekends"))
    got = plan(c, *window("2026-11-30", 24 * 7))
    assert [o.time.date().isoformat() for o in got] == ["2026-12-05", "2026-12-06"]


def test_workdays_without_a_country():
    c = config(Broadcast("b", at=hhmm("09:00"), days="workdays"))
    got = plan(c, *window("2026-11-30", 24 * 7))
    assert [o.time.strftime("%a") for o in got] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_weekday_list():
    c = config(Broadcast("b", at=hhmm("09:00"), days=("mon", "wed")))       # config's names, in week order
    got = plan(c, *window("2026-11-30", 24 * 7))
    assert [o.time.date().isoformat() for o in got] == ["2026-11-30", "2026-12-02"]


def test_days_not_matching_leave_no_occurrence_at_all():
    c = config(Broadcast("b", at=hhmm("09:00"), days=("sat",)))
    assert plan(c, *window("2026-11-30", 24 * 4)) == []


# Holidays: the station's and China's calendar ---------------------------------------

def test_cn_make_up_workday_is_a_workday():
    # Sunday 2026-01-04 is worked in China, in exchange for Friday 2026-01-02 off.
    c = config(Broadcast("b", at=hhmm("09:00"), days="workdays"), country="CN")
    got = plan(c, *window("2026-01-03", 48))
    assert [(o.time.date().isoformat(), o.skipped) for o in got] == [("2026-01-04", None)]


def test_cn_make_up_workday_is_not_a_weekend():
    c = config(Broadcast("b", at=hhmm("09:00"), days="weekends"), country="CN")
    got = plan(c, *window("2026-01-03", 48))
    assert [(o.time.date().isoformat(), o.skipped) for o in got] == [("2026-01-03", None)]


def test_cn_holiday_on_a_weekday_is_shown_skipped():
    c = config(Broadcast("b", at=hhmm("09:00"), days="workdays"), country="CN")
    got = plan(c, *window("2026-01-01", 24 * 4))
    assert [(o.time.date().isoformat(), o.skipped) for o in got] == [
        ("2026-01-01", "holiday"),    # New Year's Day
        ("2026-01-02", "holiday"),    # the day off swapped with Sunday the 4th
        ("2026-01-04", None)]


def test_without_a_country_no_national_holidays():
    c = config(Broadcast("b", at=hhmm("09:00")))
    assert [o.skipped for o in plan(c, *window("2026-01-01"))] == [None]


def test_station_holidays_skip_every_broadcast_that_day():
    c = config(Broadcast("a", at=hhmm("09:00")), Broadcast("b", cron="0 10 * * *"),
               holidays=(date(2026, 12, 2),))
    got = plan(c, *window("2026-12-01", 48))
    assert [(o.time.isoformat(), o.broadcast.name, o.skipped) for o in got] == [
        ("2026-12-01T09:00:00+08:00", "a", None), ("2026-12-01T10:00:00+08:00", "b", None),
        ("2026-12-02T09:00:00+08:00", "a", "holiday"), ("2026-12-02T10:00:00+08:00", "b", "holiday")]


def test_holiday_wins_over_quiet_hours():
    c = config(Broadcast("b", at=hhmm("22:00")), holidays=(date(2026, 12, 2),),
               quiet_hours=QuietHours(time(21, 30), time(7, 0)))
    assert [o.skipped for o in plan(c, *window("2026-12-02"))] == ["holiday"]


# Quiet hours --------------------------------------------------------------------

def test_quiet_hours_across_midnight():
    c = config(Broadcast("b", at=hhmm("06:59:59", "07:00", "12:00", "21:29", "21:30", "23:59", "00:00")),
               quiet_hours=QuietHours(time(21, 30), time(7, 0)))
    got = plan(c, *window("2026-12-01"))
    assert [(o.time.strftime("%H:%M:%S"), o.skipped) for o in got] == [
        ("00:00:00", "quiet-hours"), ("06:59:59", "quiet-hours"), ("07:00:00", None), ("12:00:00", None),
        ("21:29:00", None), ("21:30:00", "quiet-hours"), ("23:59:00", "quiet-hours")]


def test_quiet_hours_within_a_day():
    c = config(loop("b", "11:30", "14:00", 30 * 60), quiet_hours=QuietHours(time(12, 0), time(13, 30)))
    got = plan(c, *window("2026-12-01"))
    assert [(o.time.strftime("%H:%M"), o.skipped) for o in got] == [
        ("11:30", None), ("12:00", "quiet-hours"), ("12:30", "quiet-hours"), ("13:00", "quiet-hours"),
        ("13:30", None)]


# Daylight saving -------------------------------------------------------------------
# London 2026-03-29: 01:00 GMT jumps to 02:00 BST. 2026-10-25: 02:00 BST goes back to 01:00 GMT.
# New York 2026-03-08: 02:00 EST jumps to 03:00 EDT. 2026-11-01: 02:00 EDT goes back to 01:00 EST.

def london(*broadcasts: Broadcast) -> Config:
    return config(*broadcasts, tz="Europe/London")


def test_dst_gap_at_plays_at_the_first_instant_after_the_jump():
    got = plan(london(Broadcast("b", at=hhmm("01:30"))), *window("2026-03-29", 24, LONDON))
    assert stamps(got) == ["2026-03-29T02:00:00+01:00"]


def test_dst_gap_several_times_in_the_gap_play_once():
    got = plan(london(Broadcast("b", at=hhmm("01:15", "01:45", "02:00", "02:15"))), *window("2026-03-29", 24, LONDON))
    assert stamps(got) == ["2026-03-29T02:00:00+01:00", "2026-03-29T02:15:00+01:00"]


def test_dst_gap_every():
    got = plan(london(loop("b", "00:00", "03:00", 30 * 60)), *window("2026-03-29", 23, LONDON))
    assert stamps(got) == ["2026-03-29T00:00:00+00:00", "2026-03-29T00:30:00+00:00",
                           "2026-03-29T02:00:00+01:00", "2026-03-29T02:30:00+01:00"]


def test_dst_gap_cron():
    got = plan(london(Broadcast("b", cron="30 1 * * *")), *window("2026-03-28", 72, LONDON))
    assert stamps(got) == ["2026-03-28T01:30:00+00:00", "2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"]


def test_dst_repeated_hour_at_plays_once_the_first_time():
    got = plan(london(Broadcast("b", at=hhmm("01:30"))), *window("2026-10-25", 24, LONDON))
    assert stamps(got) == ["2026-10-25T01:30:00+01:00"]


def test_dst_repeated_hour_every():
    got = plan(london(loop("b", "00:00", "03:00", 30 * 60)), *window("2026-10-25", 25, LONDON))
    assert stamps(got) == ["2026-10-25T00:00:00+01:00", "2026-10-25T00:30:00+01:00", "2026-10-25T01:00:00+01:00",
                           "2026-10-25T01:30:00+01:00", "2026-10-25T02:00:00+00:00", "2026-10-25T02:30:00+00:00"]


def test_dst_repeated_hour_cron():
    got = plan(london(Broadcast("b", cron="*/30 1 * * *")), *window("2026-10-25", 24, LONDON))
    assert stamps(got) == ["2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00"]


def test_dst_days_are_23_and_25_hours_long():
    c = london(Broadcast("b", cron="0 * * * *"))
    assert len(plan(c, *window("2026-03-29", 23, LONDON))) == 23    # no 01:00
    assert len(plan(c, *window("2026-10-25", 25, LONDON))) == 24    # 01:00 comes round twice, plays once
    assert len(plan(c, *window("2026-10-26", 24, LONDON))) == 24


def test_dst_new_york_both_ways():
    c = config(Broadcast("b", at=hhmm("02:30", "01:30")), tz="America/New_York")
    assert stamps(plan(c, *window("2026-03-08", 24, NEW_YORK))) == [
        "2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00"]
    assert stamps(plan(c, *window("2026-11-01", 24, NEW_YORK))) == [
        "2026-11-01T01:30:00-04:00", "2026-11-01T02:30:00-05:00"]


def test_window_starting_in_the_second_pass_of_a_repeated_hour():
    # Within one zone Python compares wall times and ignores fold: 01:30 BST would look
    # inside a window that starts at 01:00 GMT. It is an hour earlier, so it is not.
    start = datetime(2026, 10, 25, 1, 0, fold=1, tzinfo=LONDON)
    got = plan(london(Broadcast("b", at=hhmm("01:30", "01:45"))), start, start + timedelta(hours=1))
    assert got == []


def test_once_in_the_gap_and_in_the_repeated_hour():
    c = london(Broadcast("gap", once=datetime(2026, 3, 29, 1, 10)), Broadcast("fold", once=datetime(2026, 10, 25, 1, 10)))
    start = datetime(2026, 3, 1, tzinfo=LONDON)
    assert stamps(plan(c, start, start + timedelta(days=300))) == [
        "2026-03-29T02:00:00+01:00", "2026-10-25T01:10:00+01:00"]


# Order ------------------------------------------------------------------------------

def test_sorted_by_time_then_config_order():
    c = config(Broadcast("late", at=hhmm("10:00")), Broadcast("z", at=hhmm("09:00")),
               Broadcast("a", cron="0 9 * * *"), Broadcast("once", once=datetime(2026, 12, 1, 8, 0)))
    got = plan(c, *window("2026-12-01"))
    assert [(o.time.strftime("%H:%M"), o.broadcast.name) for o in got] == [
        ("08:00", "once"), ("09:00", "z"), ("09:00", "a"), ("10:00", "late")]


# Zone, reasons, clips ------------------------------------------------------------------

def test_station_zone_from_the_config():
    assert station_zone(Station(timezone="Asia/Shanghai")) == SHANGHAI


@pytest.mark.parametrize("tz,key", [("Europe/Paris", "Europe/Paris"), (":Asia/Tokyo", "Asia/Tokyo"),
                                    ("/usr/share/zoneinfo/America/Chicago", "America/Chicago")])
def test_station_zone_from_tz(monkeypatch, tz, key):
    monkeypatch.setenv("TZ", tz)
    assert station_zone(Station()).key == key


def test_station_zone_falls_back_to_utc(monkeypatch):
    def unreadable(*args, **kwargs):
        raise OSError("no such file")
    monkeypatch.setenv("TZ", "Not/AZone")
    monkeypatch.setattr(plan_module.Path, "read_text", unreadable)
    monkeypatch.setattr(plan_module.os, "readlink", unreadable)
    assert station_zone(Station()).key == "UTC"


def test_skip_reasons_are_readable(monkeypatch):
    assert skip_reason("holiday") == "holiday"
    assert skip_reason("quiet-hours") == "quiet hours"
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    assert skip_reason("holiday") == "节假日"
    assert skip_reason("quiet-hours") == "静音时段"


MANIFEST = {"date": "2026-12-01", "clips": [
    {"id": "ting-shui", "tags": ["停水", "urgent"]},
    {"id": "lost-keys", "tags": []},
    {"id": "flu-shots", "tags": ["health"]},
]}


@pytest.mark.parametrize("clips,ids", [
    (("all",), ["ting-shui", "lost-keys", "flu-shots"]),
    (("flu-shots", "lost-keys"), ["lost-keys", "flu-shots"]),      # manifest order, not the list's
    (("停水",), ["ting-shui"]),
    (("health", "ting-shui"), ["ting-shui", "flu-shots"]),
    (("nothing-like-this",), []),
])
def test_select_clips_by_id_and_tag(clips, ids):
    chosen = select_clips(Broadcast("b", clips=clips), MANIFEST)
    assert [c["id"] for c in chosen] == ids
    assert planned_clips(Broadcast("b", clips=clips), MANIFEST) == ids


def test_planned_clips_without_a_manifest_is_all():
    assert planned_clips(Broadcast("b", clips=("urgent",)), None) == ["all"]


# For people: timings in words, air time, rounds, quiet times ------------------------------------

@pytest.mark.parametrize("expression, words", [
    ("0 9 * * 1", ("每周一 09:00", "Mondays 09:00")),
    ("30 8 * * 1-5", ("每周一至周五 08:30", "Mondays to Fridays 08:30")),
    ("0 18 * * sat,sun", ("每周六、周日 18:00", "Saturdays and Sundays 18:00")),
    ("0 7 * * 0", ("每周日 07:00", "Sundays 07:00")),
    ("0 8,12 * * *", ("每天 08:00、12:00", "daily 08:00, 12:00")),
    ("15 9 1 * *", ("每月 1 日 09:15", "on the 1st of each month 09:15")),
    ("0 9 1,15 * 1", ("每月 1 日、15 日和每周一 09:00", "on the 1st and 15th of each month and Mondays 09:00")),
])
def test_common_cron_lines_read_as_words_in_both_languages(expression, words):
    assert plan_module.cron_words(expression) == words


@pytest.mark.parametrize("expression", ["*/5 * * * *", "0 9 * 12 *", "0,30 9 * * 1", "0 9 * * 1/2", "0 9-17/2 * * *"])
def test_other_cron_lines_are_not_put_in_words(expression):
    assert plan_module.cron_words(expression) is None


def test_every_timing_reads_as_words():
    words = plan_module.timing_words
    assert words(Broadcast("a", at=hhmm("12:00", "08:00"), days="workdays")) == ("工作日 08:00、12:00",
                                                                                "workdays 08:00, 12:00")
    assert words(loop("b", "14:00", "16:00", 1800, days=("sat", "sun"))) == (
        "每周六、周日 14:00–16:00，每 30 分钟一次", "Saturdays and Sundays 14:00–16:00, every 30 min")
    assert words(Broadcast("c", cron="0 9 * * 1")) == ("每周一 09:00", "Mondays 09:00")
    assert words(Broadcast("d", cron="0 9 * * *", days="workdays")) == ("每天 09:00（仅限工作日）",
                                                                        "daily 09:00 (workdays only)")
    assert words(Broadcast("e", cron="*/5 * * * *")) == ("按 cron 表达式 */5 * * * *", "cron */5 * * * *")
    assert words(Broadcast("f", once=datetime(2026, 11, 30, 8, 45))) == ("仅一次：2026-11-30 08:45",
                                                                          "once: 2026-11-30 08:45")


def test_air_time_counts_clips_repeats_and_the_gaps_between_them():
    clips = [{"id": "a", "duration_s": 40}, {"id": "b", "duration_s": 20}]
    assert plan_module.air_seconds(Broadcast("x", repeat=2, gap_s=5), clips) == 60 * 2 + 5 * 3
    assert plan_module.air_seconds(Broadcast("x"), [{"id": "a"}]) is None
    assert plan_module.air_seconds(Broadcast("x"), []) is None


def test_a_rounds_room_is_every_or_the_time_to_the_next_at():
    assert plan_module.round_room(loop("l", "14:00", "16:00", 600), time(14, 10)) == (600, None)
    at = Broadcast("a", at=hhmm("08:00", "08:05", "20:00"))
    assert plan_module.round_room(at, time(8)) == (300, time(8, 5))
    assert plan_module.round_room(at, time(20)) == (12 * 3600, time(8))      # round the clock
    assert plan_module.round_room(Broadcast("one", at=hhmm("08:00")), time(8)) is None
    assert plan_module.round_room(Broadcast("c", cron="0 9 * * 1"), time(9)) is None


def test_quiet_times_of_every_kind_of_timing():
    quiet = QuietHours(time(21, 30), time(7))
    assert plan_module.quiet_times(Broadcast("a", at=hhmm("06:30", "08:00", "22:00")), quiet) == [time(6, 30),
                                                                                                   time(22)]
    assert plan_module.quiet_times(loop("l", "21:00", "22:00", 1200), quiet) == [time(21, 40)]
    assert plan_module.quiet_times(Broadcast("c", cron="0 23 * * 1"), quiet) == [time(23)]
    assert plan_module.quiet_times(Broadcast("d", once=datetime(2026, 1, 1, 5)), quiet) == [time(5)]
    assert plan_module.quiet_times(Broadcast("a", at=hhmm("22:00")), None) == []


def test_durations_in_words():
    assert plan_module.duration_words(1800) == ("30 分钟", "30 min")
    assert plan_module.duration_words(145) == ("2 分 25 秒", "2 min 25 s")
    assert plan_module.duration_words(3725) == ("1 小时 2 分 5 秒", "1 h 2 min 5 s")
    assert plan_module.duration_words(7) == ("7 秒", "7 s")


def test_quiet_hours_for_the_plan_and_the_page_alike():
    night, noon = QuietHours(time(21, 30), time(7)), QuietHours(time(12), time(13, 30, 15))
    assert in_quiet_hours(night, time(21, 30)) and in_quiet_hours(night, time(3)) and in_quiet_hours(night, time(6, 59))
    assert not in_quiet_hours(night, time(7)) and not in_quiet_hours(night, time(12))
    assert in_quiet_hours(noon, time(12)) and not in_quiet_hours(noon, time(13, 30, 15))
    assert not in_quiet_hours(None, time(3)) and not in_quiet_hours(QuietHours(time(8), time(8)), time(8))
    assert quiet_span(night) == "21:30–07:00" and quiet_span(noon) == "12:00–13:30:15"


def test_quiet_times_of_a_cron_line_on_some_days_only():
    """A cron line for the 15th, for June or for Feb 29 still warns of its quiet hours."""
    quiet = QuietHours(time(21, 30), time(7))
    assert plan_module.quiet_times(Broadcast("c", cron="0 23 15 * *"), quiet) == [time(23)]
    assert plan_module.quiet_times(Broadcast("c", cron="30 6,12 * 6 *"), quiet) == [time(6, 30)]
    assert plan_module.quiet_times(Broadcast("c", cron="0 22 29 2 *"), quiet) == [time(22)]
    assert plan_module.quiet_times(Broadcast("c", cron="*/20 21 1 * *"), quiet) == [time(21, 40)]


def test_an_urgent_notice_spoken_into_the_day_is_not_played_again_by_all():
    """The office's urgent notice played when it came; the day's "all" rounds leave it out, a broadcast naming
    it (or its tag) still plays it."""
    manifest = {"clips": [{"id": "a", "tags": ["urgent"]},       # a staff member's own tag: "all" keeps that clip
                          {"id": "urgent-1234abcd", "tags": ["office", "office-urgent"]}, {"id": "b"}]}
    assert [c["id"] for c in select_clips(Broadcast("b", clips=("all",)), manifest)] == ["a", "b"]
    assert [c["id"] for c in select_clips(Broadcast("b", clips=("office-urgent",)), manifest)] == ["urgent-1234abcd"]
    assert [c["id"] for c in select_clips(Broadcast("b", clips=("urgent-1234abcd", "a")), manifest)] == \
        ["a", "urgent-1234abcd"]
