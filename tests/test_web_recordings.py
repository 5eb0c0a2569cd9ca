"""The Recordings page: a phone recording uploaded, cleaned and added to the day like `announcer import`."""

import hashlib
import html
import json
import re
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest

from announcer.core.library import Library
from test_web_today import DAY, build, csrf, make_client, save
from webpage import Page

TEXT = "明天上午停水，请提前储水。"


def _run(*command):
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def phone_memo(tmp_path_factory) -> bytes:
    """Two seconds of a warbling tone with a pause in it, as AAC in .m4a: enough like speech for the chain."""
    path = tmp_path_factory.mktemp("rec") / "memo.m4a"
    _run("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=22050:duration=2.5",
         "-af", "volume='if(between(t,1.0,1.4),0,0.3*(0.6+0.4*sin(2*PI*4*t)))':eval=frame",
         "-c:a", "aac", "-b:a", "64k", str(path))
    return path.read_bytes()


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """The system temp folder, for this test only: what the upload leaves there can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as c:
        yield c


def upload(client, data: bytes, name="电话录音.m4a", **fields):
    return client.post("/recordings", data={"csrf": csrf(client), "date": str(DAY), **fields},
                       files={"file": (name, data, "audio/mp4")})


def uploads_left(tmp_path) -> list[str]:
    """Temp folders of uploads left in --out (there should be none)."""
    out = tmp_path / "out"
    return [p.name for p in out.glob(".upload-*")] if out.is_dir() else []


def day_state(tmp_path):
    found = Library(tmp_path / "out").day(DAY)
    return None if found is None else (found[0], json.dumps(found[1]))


def test_page_shows_the_upload_form(client):
    page = client.get(f"/recordings?date={DAY}").text
    for ident in ("recording-file", "recording-title", "recording-text"):
        assert f'id="{ident}"' in page
    assert 'id="no-recordings"' in page and 'id="nav-recordings"' in page
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "<" not in title and "Recordings" in title
    assert page.count('<script src="/static/today.js"') == 1


def test_an_uploaded_recording_joins_the_day(client, tmp_path, temp_dir, phone_memo):
    save(client)
    build(client)
    answer = upload(client, phone_memo, title="停水通知", text=TEXT)
    assert answer.status_code == 200, answer.text
    clips = Library(tmp_path / "out").manifest(DAY)["clips"]
    assert [c["id"] for c in clips] == ["ting-shui-tong-zhi", "keys-found", "ting-shui-tong-zhi-2"]
    clip = clips[-1]
    assert clip["engine"] == "recording" and clip["title"] == "停水通知" and clip["text"] == TEXT
    result = html.unescape(answer.text.split('id="recording-result"')[1].split("</section>")[0])
    assert f"{clip['duration_s']:.1f} s" in result and f"{clip['loudness_lufs']:.1f} LUFS" in result
    assert f"{clip['true_peak_dbtp']:.1f} dBTP" in result
    assert f"{clip['speech_rate']['value']:.1f} syllables/s" in result
    assert f'href="/?date={DAY}"' in result and 'id="back-to-today"' in result
    for warning in clip["warnings"]:
        assert warning in result
    # Listed on this page, and in the clarity table of the Today page, playable.
    assert 'data-id="ting-shui-tong-zhi-2"' in answer.text
    today = client.get(f"/?date={DAY}").text
    assert re.findall(r'<tr class="clip" data-id="([^"]+)"', today)[-1] == "ting-shui-tong-zhi-2"
    assert client.get(f"/clips/{DAY}/03-ting-shui-tong-zhi-2.mp3").headers["content-type"] == "audio/mpeg"
    assert list(temp_dir.iterdir()) == [] and uploads_left(tmp_path) == []


def test_a_recording_without_title_or_text_is_named_after_its_file(client, tmp_path, temp_dir, phone_memo):
    answer = upload(client, phone_memo, name="C:\\Users\\staff\\Desktop\\water off.m4a")
    assert answer.status_code == 200, answer.text
    clip = Library(tmp_path / "out").manifest(DAY)["clips"][0]
    assert (clip["id"], clip["title"], clip["speech_rate"]["value"]) == ("water-off", "water off", None)
    assert "not measured: no text given" in answer.text
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("kind", ["corrupt", "not audio", "silence"])
def test_unusable_audio_is_a_clear_error_and_adds_nothing(client, tmp_path, temp_dir, phone_memo, kind):
    save(client)
    build(client)
    before = day_state(tmp_path)
    if kind == "silence":
        quiet = tmp_path / "quiet.m4a"
        _run("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "2",
             "-c:a", "aac", str(quiet))
        data = quiet.read_bytes()
    else:
        data = phone_memo[:600] if kind == "corrupt" else "这不是声音文件\n".encode()
    answer = upload(client, data, name="录音.m4a", title="Broken")
    assert answer.status_code == 400
    errors = html.unescape(answer.text.split('id="recording-errors"')[1].split("</ul>")[0])
    assert errors.count("<li>") == 1 and "录音.m4a" in errors
    assert str(temp_dir) not in answer.text and ".upload-" not in answer.text and "Nothing was added" in answer.text
    if kind == "silence":
        assert "the recording is silent" in errors
    assert day_state(tmp_path) == before
    assert list(temp_dir.iterdir()) == [] and uploads_left(tmp_path) == []


def test_no_file_chosen(client, tmp_path):
    answer = client.post("/recordings", data={"csrf": csrf(client), "date": str(DAY), "title": "x"},
                         files={"file": ("", b"", "application/octet-stream")})
    assert answer.status_code == 400 and "Choose the recording file first" in answer.text
    assert day_state(tmp_path) is None


def test_an_odd_file_name_is_not_used_on_disk(client, tmp_path, temp_dir, phone_memo, monkeypatch):
    seen = []
    import announcer.build.recording

    real = announcer.build.recording.import_recording

    def spy(path, *args, **kwargs):
        seen.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(announcer.build.recording, "import_recording", spy)
    answer = upload(client, phone_memo, name="../../evil name.m4a;rm -rf")
    assert answer.status_code == 200, answer.text
    # Kept in --out (the library's disk), not in the system temp folder, which is RAM on a Pi.
    assert seen[0].name == "recording" and seen[0].parent.parent == tmp_path / "out"
    assert seen[0].parent.name.startswith(".upload-")
    answer = upload(client, phone_memo, name="../../evil.M4A")
    assert seen[1].name == "recording.m4a"
    assert [c["id"] for c in Library(tmp_path / "out").manifest(DAY)["clips"]] == ["evil-name", "evil"]
    assert not (tmp_path / "evil.M4A").exists() and list(temp_dir.iterdir()) == []
    assert uploads_left(tmp_path) == []


def test_upload_without_csrf_is_refused(client, tmp_path, phone_memo):
    answer = client.post("/recordings", data={"date": str(DAY)}, files={"file": ("a.m4a", phone_memo, "audio/mp4")})
    assert answer.status_code == 403
    assert day_state(tmp_path) is None


def test_an_oversized_recording_is_refused(tmp_path, temp_dir):
    with make_client(tmp_path, "[web]\nupload_limit = 1\n") as client:
        answer = upload(client, b"\0" * 1_200_000)
        assert answer.status_code == 413 and "at most 1 MB" in answer.text
    assert day_state(tmp_path) is None and list(temp_dir.iterdir()) == [] and uploads_left(tmp_path) == []


def test_a_bad_date_is_refused(client, phone_memo):
    assert upload(client, phone_memo, date="2026-02-30").status_code == 400
    assert client.get("/recordings?date=yesterday").status_code == 400


def test_date_defaults_to_today(client):
    assert f'value="{date(2026, 11, 30)}"' in client.get("/recordings").text


# ---------------------------------------------------------------------------
# Delete, replace with a new take, undo; the day's order by hand (announcer/web/clips.py)

@pytest.fixture(scope="module")
def second_take(tmp_path_factory) -> bytes:
    """Another take: a lower tone, as a WAV file."""
    path = tmp_path_factory.mktemp("rec") / "take2.wav"
    _run("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=165:sample_rate=22050:duration=2.0",
         "-af", "volume='if(between(t,0.8,1.1),0,0.3)':eval=frame", str(path))
    return path.read_bytes()


def order(tmp_path) -> list[tuple[str, str]]:
    return [(c["id"], c["file"]) for c in Library(tmp_path / "out").manifest(DAY)["clips"]]


def act(client, action: str, back: str = "today", **fields):
    return client.post(f"/clips/{action}", data={"csrf": csrf(client), "date": str(DAY), "back": back, **fields},
                       follow_redirects=False)


def replace_take(client, clip: str, data: bytes, back: str = "today", name="take2.wav", **fields):
    return client.post("/clips/replace", data={"csrf": csrf(client), "date": str(DAY), "clip": clip, "back": back,
                                               **fields},
                       files={"file": (name, data, "audio/wav")}, follow_redirects=False)


def flash(client, answer) -> str:
    assert answer.status_code == 303, answer.text
    return html.unescape(client.get(answer.headers["location"]).text.split('role="status">')[1].split("</p>")[0])


@pytest.fixture
def day_with_recording(client, tmp_path, phone_memo):
    """The two notices built, and a recording "Memo" after them."""
    save(client)
    build(client)
    assert upload(client, phone_memo, title="Memo", text=TEXT).status_code == 200
    assert order(tmp_path) == [("ting-shui-tong-zhi", "01-ting-shui-tong-zhi.mp3"), ("keys-found", "02-keys-found.mp3"),
                               ("memo", "03-memo.mp3")]
    return client


def test_the_clips_table_is_cards_with_labels_and_says_the_volume_in_words(day_with_recording, tmp_path):
    page = day_with_recording.get(f"/?date={DAY}").text
    table = page.split('<table id="clips" class="cards">')[1].split("</table>")[0]
    for row in table.split("<tbody>")[1].split("</tr>")[:-1]:
        cells = re.findall(r"<td\b[^>]*>", row)
        assert len(cells) == 8 and all("data-label=" in c for c in cells), row
    assert table.count('class="move-up quiet"') == 3 and table.count('class="move-down quiet"') == 3
    assert table.count('class="delete-clip quiet"') == 1 and table.count('class="replace-clip"') == 1
    assert table.count("volume OK") == 3 and "LUFS" in table and 'class="dbtp"' in table
    memo = table.split('data-id="memo"')[1]
    assert 'data-confirm="Delete the recording “Memo”?' in html.unescape(memo)
    first, last = table.split('data-id="ting-shui-tong-zhi"')[1], memo
    assert re.search(r'class="move-up quiet"[^>]*disabled', first.split("</tr>")[0])
    assert re.search(r'class="move-down quiet"[^>]*disabled', last.split("</tr>")[0])
    assert "ting-shui-tong-zhi" not in re.sub(r'<[^>]+>', "", table)      # titles, not ids
    recordings = day_with_recording.get(f"/recordings?date={DAY}").text
    table = recordings.split('<table id="recordings-table" class="cards">')[1].split("</table>")[0]
    assert re.findall(r'<tr class="clip" data-id="([^"]+)"', table) == ["memo"]
    assert 'name="back" value="recordings"' in table and 'class="delete-clip quiet"' in table


def test_volume_words_follow_the_targets():
    from announcer.web.today import volume_verdict

    targets = (-16.0, -1.0)
    assert volume_verdict({"loudness_lufs": -16.4, "true_peak_dbtp": -1.0}, targets) == "ok"
    assert volume_verdict({"loudness_lufs": -17.0, "true_peak_dbtp": -3.0}, targets) == "quiet"
    assert volume_verdict({"loudness_lufs": -15.0, "true_peak_dbtp": -1.5}, targets) == "loud"
    assert volume_verdict({"loudness_lufs": -16.0, "true_peak_dbtp": -0.5}, targets) == "peak"
    assert volume_verdict({"loudness_lufs": None, "true_peak_dbtp": -1.0}, targets) is None
    assert volume_verdict({"loudness_lufs": -16.0, "true_peak_dbtp": -1.0}, None) is None


def test_deleting_a_recording_asks_first_and_undo_puts_it_back_in_its_place(day_with_recording, tmp_path):
    client = day_with_recording
    assert act(client, "move", clip="memo", direction="up").status_code == 303
    sha = Library(tmp_path / "out").manifest(DAY)["clips"][1]["sha256"]
    answer = act(client, "delete", clip="memo")
    location = answer.headers["location"]
    assert location.startswith(f"/?date={DAY}&flash=") and location.endswith("#clips")
    assert 'Deleted the recording "Memo"' in flash(client, answer)
    assert order(tmp_path) == [("ting-shui-tong-zhi", "01-ting-shui-tong-zhi.mp3"), ("keys-found", "02-keys-found.mp3")]
    page = client.get(f"/?date={DAY}").text
    assert 'id="undo-recording"' in page and "put the recording “Memo” back" in html.unescape(page)
    assert 'id="undo-recording"' in client.get(f"/recordings?date={DAY}").text     # no recording left: still there
    answer = act(client, "undo", back="recordings")
    assert answer.headers["location"].startswith(f"/recordings?date={DAY}&flash=")
    assert "is back, at place 2" in flash(client, answer)
    assert order(tmp_path) == [("ting-shui-tong-zhi", "01-ting-shui-tong-zhi.mp3"), ("memo", "02-memo.mp3"),
                               ("keys-found", "03-keys-found.mp3")]
    folder, manifest = Library(tmp_path / "out").day(DAY)
    assert manifest["clips"][1]["sha256"] == sha == hashlib.sha256((folder / "02-memo.mp3").read_bytes()).hexdigest()
    assert 'id="undo-recording"' not in client.get(f"/?date={DAY}").text
    answer = act(client, "undo")
    assert answer.status_code == 404 and "nothing to undo" in answer.text


def test_a_new_take_replaces_the_recording_in_its_place_with_its_id(day_with_recording, tmp_path, second_take,
                                                                    temp_dir):
    client = day_with_recording
    act(client, "move", clip="memo", direction="up")
    before = Library(tmp_path / "out").manifest(DAY)["clips"][1]
    answer = replace_take(client, "memo", second_take, back="recordings")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/recordings?date={DAY}&added=memo&replaced=1#recording-result"
    page = client.get(answer.headers["location"]).text
    assert "Replaced with the new take" in page and "(clip 2)" in page
    clips = Library(tmp_path / "out").manifest(DAY)["clips"]
    assert order(tmp_path) == [("ting-shui-tong-zhi", "01-ting-shui-tong-zhi.mp3"), ("memo", "02-memo.mp3"),
                               ("keys-found", "03-keys-found.mp3")]       # no second copy
    new = clips[1]
    assert new["sha256"] != before["sha256"] and (new["title"], new["text"]) == ("Memo", TEXT)
    assert new["speech_rate"]["value"] is not None                         # measured against the old text
    assert list(temp_dir.iterdir()) == [] and uploads_left(tmp_path) == []
    # Undo puts the old take back, in the same place.
    answer = act(client, "undo")
    assert "is back, at place 2" in flash(client, answer)
    clips = Library(tmp_path / "out").manifest(DAY)["clips"]
    assert [c["id"] for c in clips] == ["ting-shui-tong-zhi", "memo", "keys-found"]
    assert clips[1]["sha256"] == before["sha256"]


def test_a_new_take_from_the_today_page_comes_back_there(day_with_recording, tmp_path, second_take):
    client = day_with_recording
    answer = replace_take(client, "memo", second_take, text="新的文字。")
    assert answer.headers["location"].endswith("#clips")
    assert 'Replaced with the new take: "Memo" (place 3)' in flash(client, answer)
    assert Library(tmp_path / "out").manifest(DAY)["clips"][2]["text"] == "新的文字。"
    assert "put the old take of “Memo” back" in html.unescape(client.get(f"/?date={DAY}").text)


@pytest.mark.parametrize("action", ["delete", "replace"])
def test_only_recordings_can_be_deleted_or_replaced(day_with_recording, tmp_path, second_take, action):
    client = day_with_recording
    before = day_state(tmp_path)
    cases = [("keys-found", 400, "made from a notice, not a recording"), ("nope", 404, "has no clip"),
             ("../etc", 404, "there is no clip"), ("", 404, "there is no clip")]
    for clip_id, status, words in cases:
        if action == "delete":
            answer = act(client, "delete", clip=clip_id)
        else:
            answer = replace_take(client, clip_id, second_take)
        assert answer.status_code == status and words in answer.text, (clip_id, answer.text)
    assert day_state(tmp_path) == before and 'id="undo-recording"' not in client.get(f"/?date={DAY}").text


def test_a_replace_without_a_file_or_with_a_bad_one_changes_nothing(day_with_recording, tmp_path, temp_dir):
    client = day_with_recording
    before = day_state(tmp_path)
    answer = client.post("/clips/replace", data={"csrf": csrf(client), "date": str(DAY), "clip": "memo"},
                         files={"file": ("", b"", "application/octet-stream")}, follow_redirects=False)
    assert answer.status_code == 400 and "choose the new recording" in answer.text
    answer = replace_take(client, "memo", "这不是声音文件\n".encode(), name="新录音.m4a")   # said on the page it came from
    said = flash(client, answer)
    assert answer.headers["location"].startswith(f"/?date={DAY}") and answer.headers["location"].endswith("#clips")
    assert said.startswith("Not replaced: ") and "新录音.m4a" in said and ".upload-" not in said
    assert day_state(tmp_path) == before and 'id="undo-recording"' not in client.get(f"/?date={DAY}").text
    assert list(temp_dir.iterdir()) == [] and uploads_left(tmp_path) == []


def test_clips_move_up_and_down_and_the_order_is_the_plan_and_the_stations(day_with_recording, tmp_path):
    client = day_with_recording
    answer = act(client, "move", clip="memo", direction="up")
    assert 'Moved "Memo" to place 2' in flash(client, answer)
    act(client, "move", clip="ting-shui-tong-zhi", direction="down")
    assert order(tmp_path) == [("memo", "01-memo.mp3"), ("ting-shui-tong-zhi", "02-ting-shui-tong-zhi.mp3"),
                               ("keys-found", "03-keys-found.mp3")]
    assert Library(tmp_path / "out").manifest(DAY)["order"] == "by-hand"
    page = client.get(f"/?date={DAY}").text
    assert re.findall(r'<tr class="clip" data-id="([^"]+)"', page) == ["memo", "ting-shui-tong-zhi", "keys-found"]
    assert client.get(f"/clips/{DAY}/01-memo.mp3").status_code == 200
    # A rebuild from the page keeps it; a notice added goes after the one it follows.
    save(client, "# Gate\nThe east gate is closed today.\n", append="1")
    build(client)
    assert [i for i, _ in order(tmp_path)] == ["memo", "ting-shui-tong-zhi", "keys-found", "gate"]
    assert [f for _, f in order(tmp_path)] == ["01-memo.mp3", "02-ting-shui-tong-zhi.mp3", "03-keys-found.mp3",
                                               "04-gate.mp3"]


def test_moves_that_cannot_be_made_are_refused(day_with_recording, tmp_path):
    client = day_with_recording
    before = day_state(tmp_path)
    cases = [({"clip": "ting-shui-tong-zhi", "direction": "up"}, 400, "already the first clip"),
             ({"clip": "memo", "direction": "down"}, 400, "already the last clip"),
             ({"clip": "nope", "direction": "up"}, 404, "has no clip"),
             ({"clip": "Bad Id!", "direction": "up"}, 404, "there is no clip"),
             ({"clip": "memo", "direction": "sideways"}, 400, "Move up or Move down"),
             ({"clip": "memo", "direction": "up", "date": "2026-02-30"}, 400, "is not a date")]
    for fields, status, words in cases:
        answer = act(client, "move", **fields)
        assert answer.status_code == status and words in answer.text, (fields, answer.text)
    assert act(client, "move", clip="memo", direction="up", date="2026-12-01").status_code == 404    # not built
    assert day_state(tmp_path) == before
    answer = client.post("/clips/move", data={"date": str(DAY), "clip": "memo", "direction": "up"})
    assert answer.status_code == 403 and day_state(tmp_path) == before


def test_a_move_during_a_build_of_that_day_is_refused(day_with_recording, tmp_path):
    from announcer.web.today import BuildJob

    client = day_with_recording
    before = day_state(tmp_path)
    jobs = client.app.state.today_builds.jobs
    jobs["0" * 16] = BuildJob("0" * 16, DAY, total=2)            # a build of the day still running
    answer = act(client, "move", clip="memo", direction="up")
    assert answer.status_code == 409 and "being built" in answer.text and day_state(tmp_path) == before
    moves = Page(client.get(f"/recordings?date={DAY}").text).all("button", "move-up")   # and the page says so
    assert moves and all("disabled" in b["attrs"] and "a build is running" in b["attrs"]["title"] for b in moves)
    jobs["0" * 16] = BuildJob("0" * 16, date(2026, 12, 1), total=2)   # another day's: this one can change
    assert act(client, "move", clip="memo", direction="up").status_code == 303
    jobs.clear()
