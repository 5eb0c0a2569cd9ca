"""The Recordings page: a phone recording uploaded, cleaned and added to the day like `announcer import`."""

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
