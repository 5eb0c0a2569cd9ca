"""The Today page: notices saved like the commands read them, check, build in the background, the clarity
table, clips served only from the day's manifest."""

import asyncio
import hashlib
import html
import io
import json
import os
import re
import threading
import time
import tomllib
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import UploadFile

from announcer.build.engines.fake import FakeEngine
from announcer.build.notices import read_notices
from announcer.core.errors import NoticeError
from announcer.core.library import Library
from announcer.web import Site, create_app
from announcer.web.today import save_limited

DAY = date(2026, 11, 30)
NOTICES = ("# 停水通知\n因管道维修，明天上午九点到十二点停水，请提前储水。\n\n"
           "# Keys found\nA set of keys was found near the gate. Please collect them at the office.\n")


def make_client(tmp_path, config="", engine=None) -> TestClient:
    path = tmp_path / "schedule.toml"
    path.write_text('[station]\ntimezone = "Asia/Shanghai"\nlanguage = "en"\n' + config, "utf-8")
    site = Site(path, tmp_path / "out", clock=lambda: datetime(2026, 11, 30, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = create_app(site)
    app.state.engine = engine if engine is not None else FakeEngine()
    return TestClient(app, base_url="http://127.0.0.1:8080")


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as c:
        yield c


def csrf(client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def stored(tmp_path) -> dict | None:
    path = tmp_path / "out" / ".notices" / f"{DAY}.toml"
    return tomllib.loads(path.read_text("utf-8")) if path.exists() else None


def save(client, text=NOTICES, **extra):
    return client.post("/notices", data={"csrf": csrf(client), "date": str(DAY), "text": text, **extra},
                       follow_redirects=False)


def start_build(client):
    return client.post("/build", data={"date": str(DAY)},
                       headers={"X-CSRF-Token": csrf(client), "Accept": "application/json"})


def wait(client, job: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/build/{job}", headers={"Accept": "application/json"}).json()
        if state["finished"] or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def build(client) -> dict:
    answer = start_build(client)
    assert answer.status_code == 200 and answer.json()["ok"], answer.text
    state = wait(client, answer.json()["job"])
    assert state["finished"] and state["ok"], state
    return state


def manifest(tmp_path) -> dict | None:
    return Library(tmp_path / "out").manifest(DAY)


def clip_rows(page: str) -> list[str]:
    return re.findall(r'<tr class="clip" data-id="([^"]+)"', page)


# ---------------------------------------------------------------------------
# Saving notices

def test_pasted_chinese_and_english_notices_are_stored_as_toml(client, tmp_path):
    answer = save(client)
    assert answer.status_code == 303 and answer.headers["location"] == f"/?date={DAY}&msg=saved"
    data = stored(tmp_path)
    assert [(n["id"], n["title"]) for n in data["notice"]] == [("ting-shui-tong-zhi", "停水通知"),
                                                               ("keys-found", "Keys found")]
    assert data["notice"][0]["text"] == "因管道维修，明天上午九点到十二点停水，请提前储水。"
    assert (tmp_path / "out" / ".notices" / f"{DAY}.toml").read_text("utf-8").startswith("[[notice]]\n")
    page = client.get(answer.headers["location"])
    assert "Saved 2 notices" in page.text
    assert "停水通知" in page.text and 'class="notice-edit"' in page.text


def test_saving_again_adds_to_the_notices_unless_a_confirmed_replace(client, tmp_path):
    save(client)
    answer = save(client, "# Keys found\nAnother set of keys.\n")          # adding is the default
    assert answer.headers["location"] == f"/?date={DAY}&msg=added"
    assert [n["id"] for n in stored(tmp_path)["notice"]] == ["ting-shui-tong-zhi", "keys-found", "keys-found-2"]
    assert "Added to the saved notices: 3 in all now." in client.get(answer.headers["location"]).text
    answer = save(client, "Only this one.\n", mode="replace", confirm="3")
    assert answer.status_code == 303 and answer.headers["location"] == f"/?date={DAY}&msg=saved"
    assert [n["text"] for n in stored(tmp_path)["notice"]] == ["Only this one."]


def test_gbk_text_file_upload(client, tmp_path):
    data = NOTICES.replace("\n", "\r\n").encode("gbk")
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY)},
                         files={"file": ("今天的通知.txt", data, "text/plain")}, follow_redirects=False)
    assert answer.status_code == 303
    assert stored(tmp_path)["notice"][0]["text"] == "因管道维修，明天上午九点到十二点停水，请提前储水。"


def test_toml_upload_keeps_the_metadata(client, tmp_path):
    example = Path(__file__).parent.parent / "examples" / "notices.toml"
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY)},
                         files={"file": ("notices.toml", example.read_bytes(), "application/toml")},
                         follow_redirects=False)
    assert answer.status_code == 303
    first, second = stored(tmp_path)["notice"]
    assert first["valid_from"] == date(2026, 11, 1) and first["tags"] == ["环境"]
    assert second["repeat"] == 2 and second["language"] == "en"
    assert [n.id for n in read_notices([tmp_path / "out" / ".notices" / f"{DAY}.toml"])] == \
        [n.id for n in read_notices([example])]


BAD_TOML = '[[notice]]\ntitle = "停水"\nrepeat = "twice"\ntext = "明天停水。"\n'


def test_bad_toml_upload_shows_the_commands_error_and_stores_nothing(client, tmp_path):
    save(client)
    before = stored(tmp_path)
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY)},
                         files={"file": ("notices.toml", BAD_TOML.encode(), "application/toml")})
    assert answer.status_code == 400
    # The same one line the `check` / `build` commands give for this file.
    path = tmp_path / "notices.toml"
    path.write_text(BAD_TOML, "utf-8")
    with pytest.raises(NoticeError) as caught:
        read_notices([path])
    expected = caught.value.message("en").replace(str(path), "notices.toml")
    assert expected.startswith("notices.toml:3")
    assert expected in html.unescape(answer.text)
    assert "Nothing was saved" in answer.text
    assert stored(tmp_path) == before


def test_a_word_document_is_refused_like_the_commands_do(client, tmp_path):
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY)},
                         files={"file": ("通知.docx", b"PK\x03\x04rest of a zip", "application/octet-stream")})
    assert answer.status_code == 400
    assert "通知.docx: this is a Word/Excel document or a zip archive, not a text file" in answer.text
    assert stored(tmp_path) is None


def test_nothing_pasted_is_an_error(client, tmp_path):
    answer = save(client, "  \n")
    assert answer.status_code == 400 and "Paste the notices" in answer.text
    assert stored(tmp_path) is None


def test_a_failed_save_keeps_what_was_pasted(client, tmp_path):
    answer = save(client, "# 只有标题\n")
    assert answer.status_code == 400
    assert "pasted text:1 (notice 1 “只有标题”): notice has a title but no text" in html.unescape(answer.text)
    assert "# 只有标题" in html.unescape(answer.text.split('id="notices-text"')[1].split("</textarea>")[0])


# ---------------------------------------------------------------------------
# Check

def test_check_findings_are_shown_before_building(client):
    long_stretch = " ".join(["word"] * 30) + "."
    save(client, f"# Long one\n{long_stretch}\n\n# Fine\nThe office opens at nine.\n")
    page = client.get(f"/?date={DAY}").text
    findings = page.split('id="check-findings"')[1].split("</table>")[0]
    assert "warning" in findings and "Long one" in findings and "too long to follow" in findings
    assert "Fine" not in findings
    save(client, "The office opens at nine.\n", mode="replace", confirm="2")
    page = client.get(f"/?date={DAY}").text
    assert 'id="check-findings"' in page and "no problems" in page


# ---------------------------------------------------------------------------
# Build and the clarity table

def test_build_through_the_json_endpoints_fills_the_clarity_table(client, tmp_path):
    save(client)
    page = client.get(f"/?date={DAY}").text
    assert 'id="no-clips"' in page and 'id="build"' in page and 'id="build-progress"' in page
    state = build(client)
    assert (state["done"], state["total"], state["errors"]) == (2, 2, [])
    page = client.get(f"/?date={DAY}&job={state['job']}").text
    assert "Built 2 clips: 2 rendered, 0 from the cache." in page
    assert clip_rows(page) == ["ting-shui-tong-zhi", "keys-found"]
    table = page.split('<table id="clips" class="cards">')[1].split("</table>")[0]
    assert table.count('<audio class="clip-audio" controls preload="metadata"') == 2
    assert f'src="/clips/{DAY}/01-ting-shui-tong-zhi.mp3?v=' in table
    assert table.count('<svg class="wave"') == 2
    assert table.count('class="play-clip') == 2 and 'action="/play"' in table
    assert 'name="clip" value="keys-found"' in table
    clip = manifest(tmp_path)["clips"][0]
    assert f"{clip['loudness_lufs']:.1f}" in table and f"{clip['speech_rate']['value']:.1f}" in table
    assert "syllables/s" in table


def test_a_second_build_uses_the_cache(client):
    save(client)
    build(client)
    assert build(client)["reused"] == 2


def test_build_errors_are_shown_in_the_pages_language(client):
    save(client, "# Emoji\n😀😀\n")
    answer = start_build(client)
    state = wait(client, answer.json()["job"])
    assert state["finished"] and not state["ok"]
    assert any("nothing that can be spoken" in e for e in state["errors"])
    client.cookies.set("lang", "zh")
    state = client.get(f"/build/{answer.json()['job']}", headers={"Accept": "application/json"}).json()
    assert any("没有可以朗读的文字" in e for e in state["errors"])
    page = client.get(f"/?date={DAY}&job={answer.json()['job']}").text
    assert "没有可以朗读的文字" in page.split('id="build-errors"')[1]


def test_build_without_notices_is_refused(client):
    answer = start_build(client)
    assert answer.status_code == 400 and "no notices are saved" in answer.json()["errors"][0]


class GatedEngine(FakeEngine):
    """Waits for the test to open the gate before each piece: a build that runs as long as the test wants."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()

    def synthesize(self, text, language, options):
        self.gate.wait(30)
        return super().synthesize(text, language, options)


def test_a_second_build_while_one_runs_is_refused(tmp_path):
    engine = GatedEngine()
    with make_client(tmp_path, engine=engine) as client:
        save(client)
        first = start_build(client)
        assert first.json()["ok"]
        second = start_build(client)
        assert second.status_code == 409
        assert second.json() == {"ok": False, "errors": [f"a build for {DAY} is already running; "
                                                         "wait until it has finished"]}
        page = client.get(f"/?date={DAY}").text      # the page follows the running build
        assert f'data-job="{first.json()["job"]}"' in page and '<progress id="build-progress" value=' in page
        other = client.get("/?date=2026-12-01").text          # another day says why it must wait
        assert 'id="other-build"' in other and 'data-job=""' in other
        engine.gate.set()
        assert wait(client, first.json()["job"])["ok"]
        assert start_build(client).json()["ok"]


def test_unknown_build_job_is_404(client):
    assert client.get("/build/0123456789abcdef", headers={"Accept": "application/json"}).status_code == 404
    assert client.get("/build/not-a-job", headers={"Accept": "application/json"}).status_code == 404


# ---------------------------------------------------------------------------
# Editing and deleting one notice

def test_rebuilding_one_edited_notice_changes_only_that_clip(client, tmp_path):
    save(client)
    build(client)
    before = {c["id"]: c for c in manifest(tmp_path)["clips"]}
    answer = client.post("/notices/keys-found", data={"csrf": csrf(client), "date": str(DAY),
                                                       "text": "A red umbrella was found in the lobby."},
                         follow_redirects=False)
    assert answer.status_code == 303
    job = re.search(r"job=([0-9a-f]{16})", answer.headers["location"]).group(1)
    state = wait(client, job)
    assert state["ok"] and (state["rendered"], state["reused"]) == (1, 1)
    after = {c["id"]: c for c in manifest(tmp_path)["clips"]}
    assert after["ting-shui-tong-zhi"]["sha256"] == before["ting-shui-tong-zhi"]["sha256"]
    assert after["keys-found"]["text"] == "A red umbrella was found in the lobby."
    assert after["keys-found"]["sha256"] != before["keys-found"]["sha256"]
    assert stored(tmp_path)["notice"][1] == {"id": "keys-found", "title": "Keys found",
                                             "text": "A red umbrella was found in the lobby."}
    assert "Saved the change" in client.get(answer.headers["location"]).text


def test_editing_an_unknown_notice_is_refused(client, tmp_path):
    save(client)
    before = stored(tmp_path)
    for ident in ("no-such-notice", "..", "Keys Found"):
        answer = client.post(f"/notices/{ident}", data={"csrf": csrf(client), "date": str(DAY), "text": "x"})
        assert answer.status_code in (404, 405), ident
    assert stored(tmp_path) == before


def test_empty_edit_is_refused(client, tmp_path):
    save(client)
    before = stored(tmp_path)
    answer = client.post("/notices/keys-found", data={"csrf": csrf(client), "date": str(DAY), "text": "  "})
    assert answer.status_code == 400 and "text is empty" in answer.text
    assert stored(tmp_path) == before


def delete(client, notice_id):
    answer = client.post(f"/notices/{notice_id}/delete", data={"csrf": csrf(client), "date": str(DAY)},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def job_of(location: str) -> str:
    return re.search(r"job=([0-9a-f]{16})", location).group(1)


def flash(page: str) -> tuple[str, str]:
    """The page's flash: (its classes, its text)."""
    found = re.search(r'<p class="(flash[^"]*)"[^>]*>(.*?)</p>', page.split("<main")[-1], re.S)
    return found.group(1), html.unescape(found.group(2))


def test_deleting_a_notice_rebuilds_the_day_without_it(client, tmp_path):
    save(client)
    build(client)
    location = delete(client, "ting-shui-tong-zhi")
    assert wait(client, job_of(location))["ok"]
    assert [n["id"] for n in stored(tmp_path)["notice"]] == ["keys-found"]
    assert [c["id"] for c in manifest(tmp_path)["clips"]] == ["keys-found"]
    assert clip_rows(client.get(location).text) == ["keys-found"]


def test_deleting_the_last_notice_takes_its_clip_off_the_air(client, tmp_path):
    save(client, "# Wrong facts\nThe water is off all week.\n")
    build(client)
    location = delete(client, "wrong-facts")
    assert "msg=withdrawing" in location
    state = wait(client, job_of(location))
    assert state["ok"] and state["withdraw"] and (state["withdrawn"], state["kept"]) == (1, 0)
    folder, listed = Library(tmp_path / "out").day(DAY)
    assert listed["clips"] == [] and os.listdir(folder) == ["manifest.json"]
    assert client.get(f"/clips/{DAY}/01-wrong-facts.mp3").status_code == 404
    page = client.get(location).text
    assert stored(tmp_path) is None and 'id="no-notices"' in page and 'id="empty-day"' in page
    assert '<table id="clips" class="cards">' not in page
    kind, text = flash(page)
    assert "warn" in kind
    assert text == (f"No notice is left for {DAY}: its 1 notice clip(s) were withdrawn, and the station will not "
                    "play them. Nothing is left to play that day.")
    assert 'id="stale-clips"' not in page and re.search(r'<button type="button" id="build"\s+disabled', page)


def test_withdrawing_keeps_the_recordings_added_by_hand(client, tmp_path):
    from test_build import add_recording

    save(client)
    build(client)
    add_recording(tmp_path / "out")
    assert wait(client, job_of(delete(client, "keys-found")))["ok"]
    location = delete(client, "ting-shui-tong-zhi")
    assert wait(client, job_of(location))["kept"] == 1
    assert [(c["id"], c["file"]) for c in manifest(tmp_path)["clips"]] == [("memo", "01-memo.mp3")]
    client.cookies.set("lang", "zh")
    kind, text = flash(client.get(location).text)
    assert "warn" in kind and "已撤下 1 段通知音频，电台不会再播放它们" in text and "1 段录音保留" in text


def test_deleting_a_notice_of_a_day_not_built_withdraws_nothing(client, tmp_path):
    save(client, "# Only\nOne notice.\n")
    location = delete(client, "only")
    assert location.endswith("msg=deleted-unbuilt") and "job=" not in location
    assert "nothing to withdraw" in client.get(location).text
    assert manifest(tmp_path) is None


def test_notice_clips_left_without_notices_are_withdrawn_by_build(tmp_path):
    engine = GatedEngine()
    engine.gate.set()
    with make_client(tmp_path, engine=engine) as client:
        save(client, "# Wrong facts\nThe water is off all week.\n")
        build(client)
        client.post("/notices", data={"csrf": csrf(client), "date": "2026-12-01", "text": NOTICES})
        engine.gate.clear()
        other = client.post("/build", data={"date": "2026-12-01"},
                            headers={"X-CSRF-Token": csrf(client), "Accept": "application/json"}).json()["job"]
        location = delete(client, "wrong-facts")        # another build runs: the withdraw must wait
        assert location.endswith("msg=busy-withdraw")
        assert [c["id"] for c in manifest(tmp_path)["clips"]] == ["wrong-facts"]
        kind, text = flash(client.get(location).text)
        assert "warn" in kind and "the station would still play them" in text
        engine.gate.set()
        assert wait(client, other)["ok"]
        page = client.get(f"/?date={DAY}").text
        assert 'id="stale-clips"' in page and re.search(r'<button type="button" id="build"\s+>', page)
        state = build(client)
        assert state["withdraw"] and manifest(tmp_path)["clips"] == []
        assert start_build(client).json()["errors"] == [f"no notices are saved for {DAY}; paste or upload them "
                                                         "and save first"]


def test_building_notices_none_of_which_is_for_the_day_is_refused(client, tmp_path):
    client.post("/notices", data={"csrf": csrf(client), "date": str(DAY)},
                files={"file": ("n.toml", b'[[notice]]\ntext = "Later."\nvalid_from = 2027-01-01\n', "application/toml")})
    assert len(stored(tmp_path)["notice"]) == 1
    answer = start_build(client)
    assert answer.status_code == 400 and "no notice saved for 2026-11-30 is valid on that day" in answer.json()["errors"][0]


# ---------------------------------------------------------------------------
# Serving clips

def test_a_listed_clip_is_served_with_its_type_and_ranges(client, tmp_path):
    save(client)
    build(client)
    folder, day = Library(tmp_path / "out").day(DAY)
    data = (folder / "01-ting-shui-tong-zhi.mp3").read_bytes()
    answer = client.get(f"/clips/{DAY}/01-ting-shui-tong-zhi.mp3?v=abc")
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/mpeg"
    assert answer.content == data
    part = client.get(f"/clips/{DAY}/01-ting-shui-tong-zhi.mp3", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"


def test_wav_clips_are_served_as_audio_wav(tmp_path):
    with make_client(tmp_path, '[audio]\nformat = "wav"\n') as client:
        save(client, "The office opens at nine.\n")
        build(client)
        answer = client.get(f"/clips/{DAY}/01-notice-1.wav")
        assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"


REFUSED = [
    f"/clips/{DAY}/..%2f..%2fschedule.toml",
    f"/clips/{DAY}/..%2fschedule.toml",
    f"/clips/{DAY}/manifest.json",                   # in the folder, but not a clip of the manifest
    f"/clips/{DAY}/99-not-there.mp3",
    f"/clips/{DAY}/%2e%2e",
    f"/clips/{DAY}/.lock",
    f"/clips/{DAY}/01-ting-shui-tong-zhi.mp3%00.txt",
    "/clips/..%2f/x",
    "/clips/2026-11-31/01-ting-shui-tong-zhi.mp3",
    "/clips/2026-12-01/01-ting-shui-tong-zhi.mp3",   # a valid day that is not built
    f"/clips/{DAY}%2f..%2f..%2fschedule.toml/x",
    "/clips/.notices/2026-11-30.toml",
]


def test_anything_but_a_listed_clip_is_refused(client):
    save(client)
    build(client)
    for url in REFUSED:
        answer = client.get(url)
        assert answer.status_code in (400, 404), url
        assert b"[station]" not in answer.content and b'"clips"' not in answer.content, url
        assert b"[[notice]]" not in answer.content, url


def test_a_listed_link_leading_out_of_the_day_is_refused(client, tmp_path):
    save(client)
    build(client)
    folder, day = Library(tmp_path / "out").day(DAY)
    os.symlink(tmp_path / "schedule.toml", folder / "03-evil.mp3")
    day["clips"].append({**day["clips"][0], "id": "evil", "file": "03-evil.mp3"})
    (folder / "manifest.json").write_text(json.dumps(day), "utf-8")
    assert client.get(f"/clips/{DAY}/03-evil.mp3").status_code == 404
    assert client.get(f"/clips/{DAY}/01-ting-shui-tong-zhi.mp3").status_code == 200


# ---------------------------------------------------------------------------
# Safety

def test_posts_without_csrf_are_refused(client, tmp_path):
    assert client.post("/notices", data={"date": str(DAY), "text": NOTICES}).status_code == 403
    assert client.post("/notices", data={"date": str(DAY), "text": NOTICES, "csrf": "forged"}).status_code == 403
    assert client.post("/build", data={"date": str(DAY)}, headers={"Accept": "application/json"}).status_code == 403
    save(client)
    before = stored(tmp_path)
    assert client.post("/notices/keys-found", data={"date": str(DAY), "text": "changed"}).status_code == 403
    assert client.post("/notices/keys-found/delete", data={"date": str(DAY)}).status_code == 403
    assert stored(tmp_path) == before


def test_an_oversized_upload_is_refused(tmp_path):
    with make_client(tmp_path, "[web]\nupload_limit = 1\n") as client:
        big = ("# Big\n" + "x" * 1_100_000).encode()
        answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY)},
                             files={"file": ("big.txt", big, "text/plain")})
        assert answer.status_code == 413
        assert stored(tmp_path) is None


def test_uploads_are_measured_while_read(tmp_path):
    from announcer.web.site import WebError

    upload = UploadFile(io.BytesIO(b"x" * 300_000), filename="a.wav")
    with pytest.raises(WebError) as caught:
        asyncio.run(save_limited(upload, tmp_path / "a.wav", 200_000))
    assert caught.value.status == 413


def test_notices_read_from_an_upload_are_measured_while_read():
    from announcer.web.site import WebError
    from announcer.web.today import notices_too_big, read_limited

    assert asyncio.run(read_limited(UploadFile(io.BytesIO(b"x" * 200_000)), 200_000)) == b"x" * 200_000
    with pytest.raises(WebError) as caught:
        asyncio.run(read_limited(UploadFile(io.BytesIO(b"x" * 200_001)), 200_000))
    assert caught.value.status == 413 and "at most 0.2 MB" in caught.value.en
    with pytest.raises(WebError, match="the notices are too big"):
        asyncio.run(read_limited(UploadFile(io.BytesIO(b"x" * 200_001)), 200_000, notices_too_big))


def test_notices_have_their_own_size_limit(client, tmp_path):
    big = "# Big\n" + "x" * 2_000_100
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY)},
                         files={"file": ("big.txt", big.encode(), "text/plain")})
    assert answer.status_code == 413 and "the notices are too big: at most 2 MB" in answer.text
    for fields in ({}, {"file": ("", b"", "application/octet-stream")}):      # pasted: plain form, multipart
        answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY), "text": big}, files=fields)
        assert answer.status_code == 413 and "the pasted notices are too big" in answer.text, fields
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY), "text": "好" * 2_100_000},
                         files={"file": ("", b"", "application/octet-stream")})
    assert answer.status_code == 413 and "the pasted notices are too big" in answer.text
    assert stored(tmp_path) is None
    client.cookies.set("lang", "zh")
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY), "text": big})
    assert "粘贴的通知太大：最多 2 MB" in answer.text and "文字还在框里" in answer.text
    answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY),      # over 1 MB pasted, sent
                                           "text": "# 长通知\n" + "很长的通知。" * 60_000},   # as the page's form
                         files={"file": ("", b"", "application/octet-stream")}, follow_redirects=False)
    assert answer.status_code == 303


def test_a_bad_date_is_refused(client):
    assert client.get("/?date=2026-13-01").status_code == 400
    assert client.post("/notices", data={"csrf": csrf(client), "date": "../../etc", "text": "x"}).status_code == 400


# ---------------------------------------------------------------------------
# The real engine

@pytest.mark.real
def test_a_chinese_notice_built_with_espeak_ng_through_the_page(tmp_path):
    with make_client(tmp_path, '[speech]\nengine = "espeak-ng"\n') as client:
        client.app.state.engine = None          # the configured engine, as in production
        save(client, "# 停水\n明天上午停水。\n")
        state = build(client)
        assert state["rendered"] == 1
        clip = manifest(tmp_path)["clips"][0]
        assert clip["language"] == "zh" and clip["engine"] == "espeak-ng" and clip["duration_s"] > 1
        page = client.get(f"/?date={DAY}").text
        assert clip_rows(page) == ["ting-shui"]
        data = client.get(f"/clips/{DAY}/{clip['file']}").content
        assert hashlib.sha256(data).hexdigest() == clip["sha256"]


def test_play_now_posts_the_clip_and_the_answer_shows_on_the_page(tmp_path):
    from announcer.core.control import Reply

    class Controls:
        calls = []

        def station_running(self):
            return True

        def play_clips(self, day, clips):
            self.calls.append((day, list(clips)))
            return Reply("正在播放。", f"playing {', '.join(clips)} now")

    with make_client(tmp_path) as client:
        client.app.state.site.controls = Controls()
        save(client)
        build(client)
        page = client.get(f"/?date={DAY}").text
        row = page.split('<tr class="clip" data-id="keys-found"')[1].split("</tr>")[0]
        play = row.split('action="/play"')[1].split("</form>")[0]      # the row's other forms move the clip
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', play))
        assert fields.keys() == {"csrf", "date", "clip"} and 'action="/play"' in row
        answer = client.post("/play", data=fields, headers={"Referer": f"http://127.0.0.1:8080/?date={DAY}"})
        assert Controls.calls == [(DAY, ["keys-found"])]
        assert answer.status_code == 200 and "playing keys-found now" in answer.text
        assert 'data-id="keys-found"' in answer.text


def test_clips_built_from_other_notices_are_said_on_the_page(client, tmp_path):
    """A command-line build of the day replaces the clips; the page's saved notices no longer match them."""
    from announcer.build.day import build_day
    from announcer.core.config import load_config

    save(client)
    build(client)
    assert 'id="clips-differ"' not in client.get(f"/?date={DAY}").text
    other = tmp_path / "cli.txt"
    other.write_text("# Lift\nThe lift is serviced on Friday.\n", "utf-8")
    build_day(read_notices([other]), DAY, tmp_path / "out", load_config(None), engine=FakeEngine())
    page = client.get(f"/?date={DAY}").text
    assert 'id="clips-differ"' in page and "perhaps they were built with announcer build" in page
    build(client)
    assert 'id="clips-differ"' not in client.get(f"/?date={DAY}").text


# ---------------------------------------------------------------------------
# Issue 12: adding is the default, replacing asks; undo; titles; the list while a build runs; limits; progress

def test_the_form_adds_by_default_and_replacing_asks_with_the_count(client):
    from webpage import Page

    save(client)
    page = Page(client.get(f"/?date={DAY}").text)
    add = page.one("input", id="notices-append")
    assert add["attrs"]["type"] == "radio" and add["attrs"]["value"] == "add" and "checked" in add["attrs"]
    replacing = page.one("input", id="notices-replace")
    assert replacing["attrs"]["value"] == "replace" and "checked" not in replacing["attrs"]
    assert replacing["attrs"]["data-confirm"] == "Replace the 2 saved notices?"
    assert replacing["attrs"]["data-count"] == "2"
    client.cookies.set("lang", "zh")
    replacing = Page(client.get(f"/?date={DAY}").text).one("input", id="notices-replace")
    assert replacing["attrs"]["data-confirm"] == "将替换已保存的 2 条通知？"


def test_a_replace_without_the_confirmation_is_refused_on_the_form(client, tmp_path):
    from webpage import Page

    save(client)
    before = stored(tmp_path)
    for confirm, said in (({}, "would remove the saved notices (2)"), ({"confirm": ""}, "would remove the saved"),
                          ({"confirm": "1"}, "the saved notices changed meanwhile, and there are 2 now")):
        answer = save(client, "# New\nOnly this one.\n", mode="replace", **confirm)   # not asked, or about another number
        assert answer.status_code == 409, confirm
        errors = answer.text.split('id="notices-errors"')[1].split("</ul>")[0]
        assert said in html.unescape(errors)
        kept = answer.text.split('id="notices-text"')[1].split("</textarea>")[0]
        assert "# New\nOnly this one." in html.unescape(kept)
        page = Page(answer.text)          # still "replace": saving again asks, it does not add
        assert "checked" in page.one("input", id="notices-replace")["attrs"]
        assert "checked" not in page.one("input", id="notices-append")["attrs"]
        assert stored(tmp_path) == before
    client.cookies.set("lang", "zh")
    assert "会删掉已保存的 2 条通知" in save(client, "x\n", mode="replace").text
    client.post("/notices/keys-found/delete", data={"csrf": csrf(client), "date": str(DAY)})
    client.post("/notices/ting-shui-tong-zhi/delete", data={"csrf": csrf(client), "date": str(DAY)})
    assert save(client, "Fresh.\n", mode="replace").status_code == 303       # nothing saved: nothing to ask


def undo(client, **extra):
    return client.post("/undo/notices", data={"csrf": csrf(client), "date": str(DAY), **extra},
                       follow_redirects=False)


def undo_button(page: str) -> str | None:
    found = re.search(r'<button type="submit" id="undo-notices"[^>]*>(.*?)</button>', page, re.S)
    return html.unescape(found.group(1)) if found else None


def test_undo_the_last_save(client, tmp_path):
    assert undo_button(client.get(f"/?date={DAY}").text) is None
    save(client)
    first = stored(tmp_path)
    save(client, "# Lift\nThe lift is serviced on Friday.\n")
    assert undo_button(client.get(f"/?date={DAY}").text) == "Undo the last save"
    answer = undo(client)
    assert answer.status_code == 303 and answer.headers["location"] == f"/?date={DAY}&msg=undone-unbuilt"
    assert stored(tmp_path) == first and manifest(tmp_path) is None       # a day not built is not built by undo
    page = client.get(answer.headers["location"]).text
    assert "Undone: the notices are as they were." in page and undo_button(page) is None
    again = undo(client)
    assert again.status_code == 409 and "There is nothing to undo" in again.text
    assert stored(tmp_path) == first
    client.cookies.set("lang", "zh")
    assert "没有可以撤销的操作" in undo(client).text


def test_undo_the_first_save_of_a_day_leaves_it_empty(client, tmp_path):
    save(client)
    client.cookies.set("lang", "zh")
    assert undo_button(client.get(f"/?date={DAY}").text) == "撤销上一次保存"
    assert undo(client).status_code == 303
    assert stored(tmp_path) is None


def test_undo_a_delete_builds_the_day_again_from_the_cache(client, tmp_path):
    save(client)
    build(client)
    assert wait(client, job_of(delete(client, "keys-found")))["ok"]
    page = client.get(f"/?date={DAY}").text            # the rebuild a delete starts does not end the undo
    assert undo_button(page) == "Undo deleting “Keys found”"
    answer = undo(client)
    assert "msg=undone" in answer.headers["location"]
    state = wait(client, job_of(answer.headers["location"]))
    assert state["ok"] and (state["rendered"], state["reused"]) == (0, 2)
    assert [n["id"] for n in stored(tmp_path)["notice"]] == ["ting-shui-tong-zhi", "keys-found"]
    assert [c["id"] for c in manifest(tmp_path)["clips"]] == ["ting-shui-tong-zhi", "keys-found"]
    client.cookies.set("lang", "zh")
    assert "已撤销" in client.get(answer.headers["location"]).text


def test_undo_deleting_the_last_notice_puts_its_clip_back_on_the_air(client, tmp_path):
    save(client, "# Only\nThe office opens at nine.\n")
    build(client)
    assert wait(client, job_of(delete(client, "only")))["withdraw"]
    assert manifest(tmp_path)["clips"] == []
    state = wait(client, job_of(undo(client).headers["location"]))
    assert state["ok"] and not state["withdraw"]
    assert [c["id"] for c in manifest(tmp_path)["clips"]] == ["only"]


def test_pressing_build_ends_the_undo(client, tmp_path):
    save(client)
    assert undo_button(client.get(f"/?date={DAY}").text)
    build(client)
    assert undo_button(client.get(f"/?date={DAY}").text) is None
    assert undo(client).status_code == 409
    assert len(stored(tmp_path)["notice"]) == 2


def test_a_new_change_replaces_the_undo_and_a_change_by_hand_ends_it(client, tmp_path):
    save(client)
    save(client, "# Lift\nThe lift is serviced on Friday.\n")
    client.post("/notices/lift/delete", data={"csrf": csrf(client), "date": str(DAY)})
    assert undo_button(client.get(f"/?date={DAY}").text) == "Undo deleting “Lift”"
    assert undo(client).status_code == 303
    assert [n["id"] for n in stored(tmp_path)["notice"]] == ["ting-shui-tong-zhi", "keys-found", "lift"]
    save(client, "# Lift 2\nAgain.\n")
    path = tmp_path / "out" / ".notices" / f"{DAY}.toml"
    path.write_text(path.read_text("utf-8") + '\n[[notice]]\ntext = "By hand."\n', "utf-8")
    assert undo_button(client.get(f"/?date={DAY}").text) is None
    assert undo(client).status_code == 409 and "By hand." in path.read_text("utf-8")


def test_undo_without_csrf_is_refused(client, tmp_path):
    save(client)
    save(client, "# Lift\nThe lift is serviced on Friday.\n")
    assert client.post("/undo/notices", data={"date": str(DAY)}).status_code == 403
    assert len(stored(tmp_path)["notice"]) == 3


def test_editing_the_title_keeps_the_notice_and_its_place(client, tmp_path):
    save(client)
    build(client)
    answer = client.post("/notices/ting-shui-tong-zhi", data={
        "csrf": csrf(client), "date": str(DAY), "title": "  停水  通知（更新）\n",
        "text": "因管道维修，明天上午九点到十二点停水，请提前储水。"}, follow_redirects=False)
    assert answer.status_code == 303
    assert wait(client, job_of(answer.headers["location"]))["ok"]
    assert stored(tmp_path)["notice"][0] == {"id": "ting-shui-tong-zhi", "title": "停水 通知（更新）",
                                             "text": "因管道维修，明天上午九点到十二点停水，请提前储水。"}
    clips = manifest(tmp_path)["clips"]
    assert [c["id"] for c in clips] == ["ting-shui-tong-zhi", "keys-found"] and clips[0]["title"] == "停水 通知（更新）"
    assert undo_button(client.get(f"/?date={DAY}").text) == "Undo the edit of “停水通知”"
    client.post("/notices/keys-found", data={"csrf": csrf(client), "date": str(DAY), "title": "",
                                             "text": "A red umbrella."})
    assert "title" not in stored(tmp_path)["notice"][1]          # an empty title: the notice has none
    page = client.get(f"/?date={DAY}").text
    assert 'class="notice-title-edit" name="title" value="停水 通知（更新）"' in page


def test_a_notice_titled_undo_can_be_edited(client, tmp_path):
    """Its id is "undo": the page's Undo has an address of its own, so the edit reaches the notice."""
    save(client, "# Undo\nThe lift is back.\n")
    answer = client.post("/notices/undo", data={"csrf": csrf(client), "date": str(DAY), "text": "The lift works."},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert stored(tmp_path)["notice"][0]["id"] == "undo"
    assert stored(tmp_path)["notice"][0]["text"] == "The lift works."


class SlowEngine(FakeEngine):
    """Waits for the test's gate before each piece, and can be loaded (as the neural voices are)."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.loaded = 0

    def load(self):
        self.loaded += 1

    def synthesize(self, text, language, options):
        self.gate.wait(30)
        return super().synthesize(text, language, options)


def test_the_clips_from_before_are_not_shown_while_the_day_builds(tmp_path):
    engine = SlowEngine()
    engine.gate.set()
    with make_client(tmp_path, engine=engine) as client:
        save(client)
        build(client)
        assert clip_rows(client.get(f"/?date={DAY}").text) == ["ting-shui-tong-zhi", "keys-found"]
        engine.gate.clear()          # the edited notice waits to be spoken
        location = client.post("/notices/keys-found", data={"csrf": csrf(client), "date": str(DAY),
                                                             "text": "A red umbrella was found."},
                               follow_redirects=False).headers["location"]
        page = client.get(location).text
        assert 'id="clips-rebuilding"' in page and "Building again; the new clips are shown when it is done" in page
        assert clip_rows(page) == [] and "clip-audio" not in page and 'id="no-clips"' not in page
        assert re.search(r'<button type="button" id="build"\s+disabled', page)
        other_tab = client.get(f"/?date={DAY}").text          # no job in the address: still not shown
        assert 'id="clips-rebuilding"' in other_tab and clip_rows(other_tab) == []
        client.cookies.set("lang", "zh")
        assert "正在重新生成，完成后显示新的音频…" in client.get(location).text
        engine.gate.set()
        assert wait(client, job_of(location))["ok"]
        page = client.get(location).text                      # finished before the page was asked for
        assert 'id="clips-rebuilding"' not in page and clip_rows(page) == ["ting-shui-tong-zhi", "keys-found"]


def test_a_build_started_while_the_page_reads_the_clips_hides_them(client, monkeypatch):
    """The race: the clips were read, then a build of the day started (another tab) before the page was made."""
    import announcer.web.today as today

    save(client)
    build(client)
    started = {}
    real = today.clip_rows

    def read_then_build(*args, **kwargs):
        rows = real(*args, **kwargs)
        job = today.BuildJob("f" * 16, DAY, total=2)
        client.app.state.today_builds.jobs[job.id] = started.setdefault("job", job)
        return rows

    monkeypatch.setattr(today, "clip_rows", read_then_build)
    page = client.get(f"/?date={DAY}").text
    assert 'id="clips-rebuilding"' in page and clip_rows(page) == [] and 'data-job="ffffffffffffffff"' in page
    started["job"].finished = True


def test_clips_in_another_order_than_the_notices_are_not_said_to_differ(client, tmp_path):
    save(client)
    build(client)
    path = tmp_path / "out" / ".notices" / f"{DAY}.toml"
    first, second = path.read_text("utf-8").split("\n[[notice]]\n")
    path.write_text("[[notice]]\n" + second + "\n" + first, "utf-8")       # the same notices, the other order
    assert [n["id"] for n in stored(tmp_path)["notice"]] == ["keys-found", "ting-shui-tong-zhi"]
    assert 'id="clips-differ"' not in client.get(f"/?date={DAY}").text
    save(client, "# Keys found\nA set of keys was found near the gate. Please collect them at the office.\n")
    assert 'id="clips-differ"' in client.get(f"/?date={DAY}").text      # the same text twice is another day


def many(count: int) -> str:
    return "\n\n".join(f"# Notice {n}\nThe office opens at nine." for n in range(count)) + "\n"


def test_more_notices_than_a_day_holds_are_refused_on_the_form(client, tmp_path):
    answer = save(client, many(501))
    assert answer.status_code == 400
    assert f"{DAY} has 501 notices, more than the 500 a day can hold" in html.unescape(answer.text)
    assert "# Notice 500" in answer.text.split('id="notices-text"')[1]
    assert stored(tmp_path) is None
    assert save(client, many(499)).status_code == 303
    answer = save(client, many(2))
    assert answer.status_code == 400 and f"{DAY} has 501 notices" in html.unescape(answer.text)
    assert len(stored(tmp_path)["notice"]) == 499


def test_a_paste_over_the_limit_is_answered_on_the_form_with_the_text_kept(client, tmp_path):
    big = "# Big\n" + "很长的通知。" * 170_000          # about 3 MB
    assert len(big.encode()) > 3_000_000
    for fields in ({}, {"file": ("", b"", "application/octet-stream")}):     # plain form, multipart (the page)
        answer = client.post("/notices", data={"csrf": csrf(client), "date": str(DAY), "text": big}, files=fields)
        assert answer.status_code == 413
        errors = answer.text.split('id="notices-errors"')[1].split("</ul>")[0]
        assert "the pasted notices are too big: at most 2 MB" in errors and "choose" not in errors
        assert "the text is still in the box" in errors
        assert 'id="notices-form"' in answer.text
        assert answer.text.split('id="notices-text"')[1].split(">", 1)[1].startswith("# Big\n很长的通知。很长的通知。")
    assert stored(tmp_path) is None
    save(client)
    edit = client.post("/notices/keys-found", data={"csrf": csrf(client), "date": str(DAY), "text": big},
                       files={"file": ("", b"", "application/octet-stream")})
    assert edit.status_code == 413 and 'id="notices-form"' not in edit.text     # other forms keep their limit


def test_a_paste_too_big_to_keep_is_answered_on_the_days_form_without_it(client, tmp_path):
    """Over twice the limit the text is not read into memory, nor sent back: the page says so, on the form."""
    huge = "x" * 4_100_000
    answer = client.post(f"/notices?date={DAY}", data={"date": str(DAY), "text": huge},
                         files={"file": ("", b"", "application/octet-stream")})
    assert answer.status_code == 413 and len(answer.content) < 200_000
    errors = html.unescape(answer.text.split('id="notices-errors"')[1].split("</ul>")[0])
    assert "the pasted notices are too big: at most 2 MB" in errors and "too big to keep in the box" in errors
    assert f"Today's notices · {DAY}" in html.unescape(answer.text)
    assert stored(tmp_path) is None


def test_the_form_carries_the_limit_for_the_browsers_check(client):
    from webpage import Page

    form = Page(client.get(f"/?date={DAY}").text).one("form", id="notices-form")
    assert form["attrs"]["data-limit"] == "2000000"
    assert "at most 2 MB; nothing was saved" in form["attrs"]["data-too-big"]
    script = client.get("/static/today.js").text
    assert "new TextEncoder().encode(text.value).length" in script and "form.dataset.tooBig" in script


def test_english_mode_has_no_chinese_in_the_notices_form(client):
    from webpage import Page

    save(client)
    page = client.get(f"/?date={DAY}").text
    placeholder = Page(page).one("textarea", id="notices-text")["attrs"]["placeholder"]
    assert placeholder.startswith("# Water off\n") and not re.search(r"[\u4e00-\u9fff]", placeholder)
    form = page.split('<section class="card" id="notices-card">')[1].split("</section>")[0]
    assert not re.search(r"[\u4e00-\u9fff]", form)
    client.cookies.set("lang", "zh")
    placeholder = Page(client.get(f"/?date={DAY}").text).one("textarea", id="notices-text")["attrs"]["placeholder"]
    assert placeholder.startswith("# 停水通知\n")


def test_the_build_says_the_voice_loading_and_the_sentences(tmp_path):
    engine = SlowEngine()
    with make_client(tmp_path, engine=engine) as client:
        save(client, "# Three\nOne sentence here. Another one there. And a third one.\n")
        job = start_build(client).json()["job"]
        deadline = time.monotonic() + 10
        state = {}
        while time.monotonic() < deadline and not state.get("stage_text", "").startswith("speaking"):
            state = client.get(f"/build/{job}", headers={"Accept": "application/json"}).json()
            time.sleep(0.02)
        assert state["stage"] == {"stage": "speaking", "clip": 1, "sentence": 1, "sentences": 3, "title": "Three"}
        assert state["stage_text"] == "speaking clip 1: sentence 1 of 3"
        page = client.get(f"/?date={DAY}").text
        assert "Building: 0 of 1 · speaking clip 1: sentence 1 of 3" in page
        client.cookies.set("lang", "zh")
        zh = client.get(f"/build/{job}", headers={"Accept": "application/json"}).json()["stage_text"]
        assert zh == "正在生成第 1 段：第 1/3 句"
        engine.gate.set()
        state = wait(client, job)
        assert state["ok"] and state["stage_text"] == "" and engine.loaded == 1


def test_build_day_tells_its_stages_and_old_callers_still_work(tmp_path):
    from announcer.build.day import Stage, build_day
    from announcer.core.config import load_config

    engine = SlowEngine()
    engine.gate.set()
    notices = read_notices([_write(tmp_path / "n.txt", "# A\nFirst. Second.\n\n# B\nOnly one.\n")])
    stages, done = [], []
    build_day(notices, DAY, tmp_path / "out", load_config(None), engine=engine,
              progress=lambda n, cached: done.append(n.id), detail=stages.append)
    assert stages[0] == Stage("loading") and engine.loaded == 1
    speaking = [(s.clip, s.title, s.sentence, s.sentences) for s in stages[1:]]
    assert speaking[0] == (1, "A", 1, 2) and (1, "A", 2, 2) in speaking and speaking[-1] == (2, "B", 1, 1)
    assert [s for s in speaking if s[0] == 1] == sorted(s for s in speaking if s[0] == 1)   # never back
    assert sorted(done) == ["a", "b"]
    result = build_day(notices, DAY, tmp_path / "out", load_config(None), engine=engine)    # as before
    assert result.reused == 2


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def test_a_district_stations_page_builds_the_offices_notices_with_its_own(client, tmp_path):
    """The office's notices (kept by the station's link) are part of the day: a build from the page keeps them,
    marked as the office's, and they do not make the page say its clips differ from its notices."""
    from datetime import datetime, timezone

    from announcer.build.district import save_day
    from announcer.core.district import DayNotice, DayNotices, day_topic, new_message_id
    from webpage import Page

    office = DayNotices(new_message_id(), "office", DAY, datetime(2026, 11, 30, 6, tzinfo=timezone.utc),
                        (DayNotice("gas-check", "Gas check", "The gas pipes are checked today."),))
    save_day(tmp_path / "out", day_topic("all"), office)
    save(client)
    build(client)
    clips = manifest(tmp_path)["clips"]
    assert [(c["id"], "office" in c["tags"]) for c in clips] == [
        ("ting-shui-tong-zhi", False), ("keys-found", False), ("gas-check", True)]
    page = client.get(f"/?date={DAY}").text
    assert 'id="clips-differ"' not in page
    row = [r for r in Page(page).all("tr", "clip") if r["attrs"]["data-id"] == "gas-check"]
    assert row and "office" in row[0]["text"]
    for notice in ("ting-shui-tong-zhi", "keys-found"):           # the page's own notices all deleted
        client.post(f"/notices/{notice}/delete", data={"csrf": csrf(client), "date": str(DAY)})
    deadline = time.monotonic() + 30
    while [c["id"] for c in manifest(tmp_path)["clips"]] != ["gas-check"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c["id"] for c in manifest(tmp_path)["clips"]] == ["gas-check"]    # built, not withdrawn
    assert 'id="stale-clips"' not in client.get(f"/?date={DAY}").text
