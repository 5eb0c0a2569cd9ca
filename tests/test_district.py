"""The district's wire protocol: topics for each station, and every message checked before it is used."""

import json
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from announcer.core.district import (MAX_MESSAGE_BYTES, MAX_NOTICE_TEXT, MAX_NOTICES, MAX_URGENT_TEXT, DayNotice,
                                     DayNotices, DistrictError, LastBroadcast, PlayRecord, StationStatus, Urgent,
                                     day_topic, day_topics, log_topic, new_message_id, read_message, record_id,
                                     station_of, status_topic, urgent_topic, urgent_topics, valid_id)
from announcer.core.errors import AnnouncerError
from announcer.core.playlog import Record

SHANGHAI = ZoneInfo("Asia/Shanghai")
ISSUED = datetime(2026, 11, 30, 8, 0, tzinfo=SHANGHAI)
HAN = re.compile(r"[\u4e00-\u9fff]")


def day_notices(count=2, **changes) -> DayNotices:
    notices = tuple(DayNotice(f"notice-{n}", f"第 {n} 条", f"明天上午停水，第 {n} 条。") for n in range(count))
    fields = dict(id=new_message_id(), office="幸福街道办", day=date(2026, 12, 1), issued=ISSUED, notices=notices)
    return DayNotices(**(fields | changes))


def urgent(**changes) -> Urgent:
    fields = dict(id=new_message_id(), text="自来水总管爆裂，请勿靠近幸福路。", issued=ISSUED,
                  expires=ISSUED + timedelta(hours=2), emergency=True, title="紧急通知")
    return Urgent(**(fields | changes))


def body(message) -> dict:
    return json.loads(message.to_json())


def encode(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def refused(parse, data: bytes, *words: str) -> DistrictError:
    """`parse(data)` raises a bilingual, one-line DistrictError whose English names each of `words` (the English
    quotes what it refuses, which may be Chinese)."""
    with pytest.raises(DistrictError) as caught:
        parse(data)
    error = caught.value
    assert isinstance(error, AnnouncerError)
    assert HAN.search(error.zh) and not HAN.search(re.sub(r'"[^"]*"', "", error.en)), (error.zh, error.en)
    assert "\n" not in error.zh and "\n" not in error.en
    for word in words:
        assert word in error.en, (word, error.en)
    return error


# ---- topics

def test_topics_for_a_station_with_groups():
    assert day_topics("xingfuli", ["east", "river", "east"]) == [
        "announcer/v1/day/all", "announcer/v1/day/group/east", "announcer/v1/day/group/river",
        "announcer/v1/day/station/xingfuli"]
    assert urgent_topics("xingfuli", ("east",)) == [
        "announcer/v1/urgent/all", "announcer/v1/urgent/group/east", "announcer/v1/urgent/station/xingfuli"]
    assert day_topics("a1", []) == ["announcer/v1/day/all", "announcer/v1/day/station/a1"]


def test_topics_the_office_publishes_to():
    assert day_topic("all") == "announcer/v1/day/all"
    assert day_topic("group:east") == "announcer/v1/day/group/east"
    assert day_topic("xingfuli") == "announcer/v1/day/station/xingfuli"
    assert urgent_topic("all") == "announcer/v1/urgent/all"
    assert urgent_topic("group:east") == "announcer/v1/urgent/group/east"
    assert urgent_topic("xingfuli") == "announcer/v1/urgent/station/xingfuli"
    # every station subscribes to exactly what the office publishes for it
    assert set(day_topics("xingfuli", ["east"])) == {day_topic(t) for t in ("all", "group:east", "xingfuli")}


def test_status_and_log_topics_and_their_station():
    assert status_topic("xingfuli") == "announcer/v1/station/xingfuli/status"
    assert log_topic("xingfuli") == "announcer/v1/station/xingfuli/log"
    assert station_of(status_topic("xingfuli")) == "xingfuli"
    assert station_of(log_topic("a-2")) == "a-2"


@pytest.mark.parametrize("topic", ["announcer/v1/station/xingfuli/other", "announcer/v1/day/all",
                                   "announcer/v2/station/xingfuli/log", "announcer/v1/station/Xingfu/log",
                                   "announcer/v1/station/x/y/log", "", "announcer/v1/station//status"])
def test_other_topics_have_no_station(topic):
    refused(station_of, topic, "topic")


@pytest.mark.parametrize("bad", ["", "Xingfuli", "-east", "a" * 41, "幸福里", "a/b", "a+", "#", "a b"])
def test_ids_are_checked_everywhere(bad):
    assert not valid_id(bad)
    refused(status_topic, bad, "station id")
    refused(log_topic, bad, "station id")
    refused(lambda s: day_topics(s, []), bad, "station id")
    refused(lambda g: urgent_topics("ok", [g]), bad, "group")
    refused(day_topic, "group:" + bad, "group")
    refused(urgent_topic, bad, "target")


def test_valid_ids():
    for good in ("a", "0", "xingfuli", "east-2", "a" * 40):
        assert valid_id(good)
    assert not valid_id(None) and not valid_id(3)


# ---- round trips

def test_day_notices_round_trip():
    notices = (DayNotice("ting-shui", "停水通知", "明天 8 点到 12 点停水。\n请提前储水。", "zh", 2),
               DayNotice("notice-2", None, "Garbage is collected at 7 am."))
    sent = day_notices(notices=notices)
    data = sent.to_json()
    assert isinstance(data, bytes)
    assert DayNotices.from_json(data) == sent
    assert read_message(data) == sent
    raw = json.loads(data)
    assert raw["kind"] == "day" and raw["v"] == 1 and raw["day"] == "2026-12-01"
    assert raw["issued"] == "2026-11-30T08:00:00+08:00"
    assert raw["notices"][1] == {"id": "notice-2", "title": None, "text": "Garbage is collected at 7 am."}
    assert "停水通知".encode() in data         # Chinese travels as UTF-8, not \\u escapes


def test_urgent_round_trip_and_expiry():
    sent = urgent()
    got = Urgent.from_json(sent.to_json())
    assert got == sent and got.emergency is True and got.title == "紧急通知"
    assert read_message(sent.to_json()) == sent
    assert body(sent)["kind"] == "urgent" and body(sent)["v"] == 1
    assert not got.expired(ISSUED + timedelta(minutes=119))
    assert got.expired(ISSUED + timedelta(hours=2))
    plain = urgent(emergency=False, title=None)
    assert Urgent.from_json(plain.to_json()) == plain


def test_urgent_without_title_key():
    raw = body(urgent())
    del raw["title"]
    assert Urgent.from_json(encode(raw)).title is None


def test_station_status_round_trip():
    sent = StationStatus("xingfuli", True, ISSUED, date(2026, 11, 30), 12, {"name": "piper"},
                         {"zh": "zh_CN-huayan-medium", "en": "en_US-amy"},
                         LastBroadcast("早间通知", ISSUED - timedelta(hours=1), "played"))
    got = StationStatus.from_json(sent.to_json())
    assert got == sent and got.last_broadcast.result == "played"
    assert read_message(sent.to_json()) == sent
    offline = StationStatus("xingfuli", False, ISSUED)
    raw = body(offline)
    assert raw["kind"] == "status" and raw["day"] is None and raw["last_broadcast"] is None
    assert StationStatus.from_json(offline.to_json()) == offline
    # a last will need not carry more than who, whether online, and when
    minimal = encode({"kind": "status", "v": 1, "station": "xingfuli", "online": False, "seen": ISSUED.isoformat()})
    assert StationStatus.from_json(minimal) == offline
    grouped = StationStatus("xingfuli", True, ISSUED, groups=["east", "west", "east"])
    assert grouped.groups == ("east", "west") and body(grouped)["groups"] == ["east", "west"]
    assert StationStatus.from_json(grouped.to_json()) == grouped and raw["groups"] is None


def test_play_record_round_trip_and_the_play_log():
    record = Record(ISSUED, "早间通知", ("ting-shui", "notice-2"), "failed", "扬声器没有声音",
                    started=ISSUED + timedelta(seconds=1), ended=ISSUED + timedelta(seconds=30))
    sent = PlayRecord.of("xingfuli", record)
    assert sent.id == record_id("xingfuli", ISSUED, "早间通知")
    got = PlayRecord.from_json(sent.to_json())
    assert got == sent and got.record() == record
    assert read_message(sent.to_json()) == sent
    assert body(sent)["kind"] == "record"
    missed = PlayRecord.of("xingfuli", Record(ISSUED, "午间", (), "missed"))
    assert PlayRecord.from_json(missed.to_json()).record() == Record(ISSUED, "午间", (), "missed")


def test_record_id_is_stable_and_distinct():
    first = record_id("xingfuli", ISSUED, "早间通知")
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert record_id("xingfuli", ISSUED, "早间通知") == first
    # the same instant written in another zone is the same occurrence
    assert record_id("xingfuli", ISSUED.astimezone(timezone.utc), "早间通知") == first
    others = {record_id("xingfuli", ISSUED + timedelta(seconds=1), "早间通知"),
              record_id("hepingli", ISSUED, "早间通知"), record_id("xingfuli", ISSUED, "午间通知"),
              record_id("xingfuli", ISSUED, "早间通知 ")}
    assert first not in others and len(others) == 4
    refused(lambda when: record_id("xingfuli", when, "早间通知"), ISSUED.replace(tzinfo=None), "offset")


def test_a_record_whose_id_does_not_match_is_refused():
    raw = body(PlayRecord.of("xingfuli", Record(ISSUED, "早间通知", (), "played")))
    raw["id"] = new_message_id()
    refused(PlayRecord.from_json, encode(raw), "does not match")


def test_new_message_ids():
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


# ---- refusals

def test_oversized_message_refused_before_parsing():
    data = b"{" + b" " * MAX_MESSAGE_BYTES + b"}"
    for parse in (DayNotices.from_json, Urgent.from_json, StationStatus.from_json, PlayRecord.from_json,
                  read_message):
        refused(parse, data, "bytes")


def test_a_message_too_big_is_not_sent():
    notices = tuple(DayNotice(f"n-{n}", None, "停" * MAX_NOTICE_TEXT) for n in range(50))   # 3 MB of UTF-8
    refused(lambda m: m.to_json(), day_notices(notices=notices), "bytes")


@pytest.mark.parametrize("data", [b"", b"not json", b"\xff\xfe{}", b'{"kind": "day", ', b"[" * 100_000,
                                  b'{"kind": "urgent", "v": NaN}'])
def test_not_json_refused(data):
    refused(Urgent.from_json, data)
    refused(read_message, data)


@pytest.mark.parametrize("data", [b"[]", b'"day"', b"3", b"null"])
def test_not_an_object_refused(data):
    refused(DayNotices.from_json, data, "object")


def test_wrong_kind_refused():
    data = urgent().to_json()
    refused(DayNotices.from_json, data, "kind", "day")
    refused(StationStatus.from_json, data, "kind")
    raw = body(urgent())
    raw["kind"] = "firmware"
    refused(read_message, encode(raw), "kind", "firmware")
    del raw["kind"]
    refused(read_message, encode(raw), "kind")


@pytest.mark.parametrize("version", [2, "1", True, None])
def test_wrong_version_refused(version):
    raw = body(urgent())
    raw["v"] = version
    refused(Urgent.from_json, encode(raw), "version")


def test_unknown_and_missing_keys_refused():
    raw = body(urgent())
    raw["payload"] = "x" * 1_000_000
    refused(Urgent.from_json, encode(raw), "unknown key")
    raw = body(urgent())
    del raw["expires"]
    refused(Urgent.from_json, encode(raw), "expires", "missing")
    raw = body(day_notices())
    raw["notices"][0]["script"] = "rm -rf /"
    refused(DayNotices.from_json, encode(raw), "unknown key")


def test_repeated_key_refused():
    data = urgent().to_json()[:-1] + ",\"text\":\"另一段\"}".encode()
    refused(Urgent.from_json, data, "twice")


@pytest.mark.parametrize("bad", ["", "abc", "0" * 31, "0" * 33, "G" * 32, "A" * 32, 12345, None])
def test_bad_message_id_refused(bad):
    raw = body(urgent())
    raw["id"] = bad
    refused(Urgent.from_json, encode(raw), "message id")
    raw = body(day_notices())
    raw["id"] = bad
    refused(DayNotices.from_json, encode(raw), "message id")


@pytest.mark.parametrize("bad", ["../etc", "Ting-Shui", "", "a" * 81, "停水", "a b", 7])
def test_bad_notice_id_refused(bad):
    raw = body(day_notices())
    raw["notices"][0]["id"] = bad
    refused(DayNotices.from_json, encode(raw), "notice id")


def test_repeated_notice_id_refused():
    raw = body(day_notices())
    raw["notices"][1]["id"] = raw["notices"][0]["id"]
    refused(DayNotices.from_json, encode(raw), "twice")


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-02-30", "1999-12-31", "2100-01-01", "26-12-01",
                                 "2026-12-01T00:00", "2026/12/01", "２０２６-12-01", 20261201, None])
def test_bad_date_refused(bad):
    raw = body(day_notices())
    raw["day"] = bad
    refused(DayNotices.from_json, encode(raw), "day")


@pytest.mark.parametrize("key", ["issued", "expires"])
@pytest.mark.parametrize("bad", ["2026-11-30T08:00:00", "2026-11-30 08:00", "yesterday", "0001-01-01T00:00:00+01:00",
                                 "2026-11-30T08:00:00+08:00" + " " * 50, 1764460800])
def test_naive_or_bad_time_refused(key, bad):
    raw = body(urgent())
    raw[key] = bad
    refused(Urgent.from_json, encode(raw), key)


def test_naive_time_refused_when_made_in_code():
    refused(lambda when: urgent(issued=when), ISSUED.replace(tzinfo=None), "issued", "offset")
    refused(lambda when: StationStatus("xingfuli", True, when), datetime(2026, 11, 30, 8), "seen")


def test_expires_before_issued_refused():
    raw = body(urgent())
    raw["expires"] = raw["issued"]
    refused(Urgent.from_json, encode(raw), "expires")
    raw["expires"] = (ISSUED - timedelta(minutes=5)).isoformat()
    refused(Urgent.from_json, encode(raw), "not after")
    refused(lambda when: urgent(expires=when), ISSUED - timedelta(seconds=1), "not after")


def test_too_many_notices_refused():
    assert MAX_NOTICES == 500
    assert DayNotices.from_json(day_notices(MAX_NOTICES).to_json()).notices[-1].id == "notice-499"
    raw = body(day_notices(MAX_NOTICES))
    raw["notices"].append({"id": "one-more", "text": "多一条"})
    refused(DayNotices.from_json, encode(raw), "501 notices", "500")
    refused(lambda n: day_notices(n), MAX_NOTICES + 1, "501 notices")


def test_text_too_long_refused():
    raw = body(day_notices())
    raw["notices"][0]["text"] = "停" * MAX_NOTICE_TEXT
    assert DayNotices.from_json(encode(raw)).notices[0].text == "停" * MAX_NOTICE_TEXT
    raw["notices"][0]["text"] += "水"
    refused(DayNotices.from_json, encode(raw), "text", "20001 characters")
    raw = body(day_notices())
    raw["notices"][0]["title"] = "题" * 201
    refused(DayNotices.from_json, encode(raw), "title", "201 characters")
    raw = body(urgent())
    raw["text"] = "急" * (MAX_URGENT_TEXT + 1)
    refused(Urgent.from_json, encode(raw), "text", "2001 characters")


@pytest.mark.parametrize("bad", ["", "   \n ", None, 3, ["停水"]])
def test_empty_or_wrong_text_refused(bad):
    raw = body(urgent())
    raw["text"] = bad
    refused(Urgent.from_json, encode(raw), "text")
    raw = body(day_notices())
    raw["notices"][0]["text"] = bad
    refused(DayNotices.from_json, encode(raw), "text")


def test_control_and_broken_characters_refused():
    raw = body(day_notices())
    raw["notices"][0]["text"] = "停水\x00通知"
    refused(DayNotices.from_json, encode(raw), "control")
    # a lone half of a character arrives as a JSON escape and could not be written to disk
    data = day_notices().to_json().replace("明天".encode(), b"\\ud800", 1)
    refused(DayNotices.from_json, data, "control")
    raw = body(day_notices())
    raw["office"] = "幸福\n街道办"
    refused(DayNotices.from_json, encode(raw), "office")


@pytest.mark.parametrize("key, bad", [("language", "fr"), ("repeat", 0), ("repeat", 11), ("repeat", True),
                                      ("repeat", "2"), ("title", 5)])
def test_bad_notice_settings_refused(key, bad):
    raw = body(day_notices())
    raw["notices"][0][key] = bad
    refused(DayNotices.from_json, encode(raw), key)


@pytest.mark.parametrize("key, bad", [("station", "Xingfuli"), ("online", 1), ("built", -1), ("built", True),
                                      ("built", 1.5), ("engine", ["piper"]), ("voices", {"zh": 3}),
                                      ("day", "2100-01-01"), ("last_broadcast", {"name": "早间"}),
                                      ("last_broadcast", "早间")])
def test_bad_station_status_refused(key, bad):
    raw = body(StationStatus("xingfuli", True, ISSUED, date(2026, 11, 30), 3, {"name": "piper"}))
    raw[key] = bad
    refused(StationStatus.from_json, encode(raw), key.split("_")[0])


@pytest.mark.parametrize("bad, said", [("east", "list of at most 100 group names"),
                                       (["East"], 'invalid group "East"'), ([3], "invalid group"),
                                       (["g"] * 101, "at most 100")])
def test_bad_station_groups_refused(bad, said):
    raw = body(StationStatus("xingfuli", True, ISSUED))
    raw["groups"] = bad
    refused(StationStatus.from_json, encode(raw), said)


def test_bad_last_broadcast_result_refused():
    raw = body(StationStatus("xingfuli", True, ISSUED, last_broadcast=LastBroadcast("早间", ISSUED, "played")))
    raw["last_broadcast"]["result"] = "exploded"
    refused(StationStatus.from_json, encode(raw), "result")


@pytest.mark.parametrize("key, bad", [("result", "exploded"), ("clips", "ting-shui"), ("clips", [3]),
                                      ("station", "../x"), ("started", "2026-11-30T08:00:00"), ("reason", 5),
                                      ("broadcast", "")])
def test_bad_play_record_refused(key, bad):
    raw = body(PlayRecord.of("xingfuli", Record(ISSUED, "早间通知", ("a",), "played")))
    raw[key] = bad
    refused(PlayRecord.from_json, encode(raw))


def test_messages_say_what_is_wrong_in_both_languages():
    raw = body(urgent())
    raw["expires"] = raw["issued"]
    error = refused(Urgent.from_json, encode(raw))
    assert "过期时间" in error.zh and error.zh.startswith("区务消息有误")
    assert error.en.startswith("district message is not valid")
    assert error.message("en") == error.en and error.message("zh") == error.zh
    error = refused(urgent_topic, "group:East")
    assert "分组名" in error.zh and "group" in error.en


def test_an_id_with_a_trailing_new_line_is_refused():
    """`$` would let "abc\\n" through: ids are matched whole."""
    from announcer.core import district

    assert not district.valid_id("xingfuli\n")
    with pytest.raises(district.DistrictError):
        district.status_topic("xingfuli\n")
