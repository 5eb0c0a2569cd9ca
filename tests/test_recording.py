"""announcer import: a phone recording through the clarity chain into the day's library (real ffmpeg, espeak-ng)."""

import hashlib
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from announcer.build.day import build_day
from announcer.build.engines.fake import FakeEngine
from announcer.build.notices import read_notices
from announcer.build.recording import import_recording
from announcer.core.config import load_config
from announcer.core.errors import AudioError
from announcer.core.library import Library

pytestmark = pytest.mark.real

DAY = date(2026, 11, 30)
TEXT = "The water will be off tomorrow from nine to noon. Please store some water in advance."


def _run(*command):
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def bad_recording(tmp_path_factory) -> Path:
    """Speech 20 dB too quiet, 60 Hz hum and low rumble under it, saved as AAC in .m4a, as a phone might."""
    folder = tmp_path_factory.mktemp("rec")
    speech = folder / "speech.wav"
    _run("espeak-ng", "-v", "en-us", "-s", "160", "-w", str(speech), TEXT)
    m4a = folder / "phone memo.m4a"
    _run("ffmpeg", "-v", "error", "-i", str(speech),
         "-f", "lavfi", "-i", "sine=frequency=60:sample_rate=22050",
         "-f", "lavfi", "-i", "anoisesrc=color=brown:amplitude=0.3:sample_rate=22050:seed=7",
         "-filter_complex",
         "[0]volume=-20dB[s];[1]volume=0.05[h];[2]lowpass=f=60,lowpass=f=60[r];"
         "[s][h][r]amix=inputs=3:duration=first:normalize=0,apad=pad_dur=0.5[out]",
         "-map", "[out]", "-c:a", "aac", "-b:a", "64k", str(m4a))
    return m4a


def _decoded(path: Path) -> tuple[np.ndarray, int]:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-"],
                         check=True, capture_output=True).stdout
    rate = 44100
    return np.frombuffer(raw, dtype="<f4").astype(np.float64), rate


def _band_db(x: np.ndarray, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    return 10 * np.log10(spectrum[(freqs >= low) & (freqs < high)].sum() + 1e-20)


def _loudness(x, rate):
    import pyloudnorm

    return pyloudnorm.Meter(rate).integrated_loudness(x)


@pytest.fixture(scope="module")
def imported(bad_recording, tmp_path_factory):
    out = tmp_path_factory.mktemp("lib") / "out"
    result = import_recording(bad_recording, DAY, out, load_config(None), title="停水通知")
    return out, result


def test_hum_before_and_after_the_speech_is_trimmed_away(bad_recording, tmp_path):
    """Two seconds of hum-only air on each side must not stay in the clip: the trim comes after the high-pass."""
    padded = tmp_path / "padded.m4a"
    _run("ffmpeg", "-v", "error", "-i", str(bad_recording),
         "-f", "lavfi", "-i", "sine=frequency=60:sample_rate=22050", "-filter_complex",
         "[1]volume=0.05,atrim=duration=2[h1];[1]volume=0.05,atrim=duration=2[h2];[h1][0][h2]concat=n=3:v=0:a=1[out]",
         "-map", "[out]", "-c:a", "aac", "-b:a", "64k", str(padded))
    config = load_config(None)
    plain = import_recording(bad_recording, DAY, tmp_path / "a", config, title="plain")
    hummed = import_recording(padded, DAY, tmp_path / "b", config, title="padded")
    assert abs(hummed.clip["duration_s"] - plain.clip["duration_s"]) < 0.6


def test_bad_recording_is_really_bad(bad_recording):
    x, rate = _decoded(bad_recording)
    assert _loudness(x, rate) < -30
    assert _band_db(x, rate, 1, 100) > _band_db(x, rate, 300, 3400)   # hum and rumble outweigh the speech


def test_imported_recording_meets_the_clarity_targets(imported):
    out, result = imported
    x, rate = _decoded(result.folder / result.clip["file"])
    assert abs(_loudness(x, rate) + 16) <= 0.5
    oversampled = np.abs(np.asarray(__import__("scipy.signal", fromlist=["x"]).resample_poly(x, 4, 1)))
    assert 20 * np.log10(oversampled.max()) <= -1.0
    assert _band_db(x, rate, 1, 100) <= _band_db(x, rate, 300, 3400) - 25


def test_imported_clip_joins_the_manifest_like_a_synthesized_one(imported):
    out, result = imported
    folder, manifest = Library(out).day(DAY)
    assert manifest["date"] == "2026-11-30" and manifest["clips"] == [result.clip]
    clip = result.clip
    assert clip["id"] == "ting-shui-tong-zhi" and clip["file"] == "01-ting-shui-tong-zhi.mp3"
    assert clip["title"] == "停水通知" and clip["text"] == "" and clip["engine"] == "recording"
    assert clip["voice"] == "" and clip["tags"] == [] and clip["speech_rate"]["value"] is None
    assert clip["true_peak_dbtp"] <= -1.0 and abs(clip["loudness_lufs"] + 16) <= 0.5
    assert 4 < clip["duration_s"] < 12
    assert hashlib.sha256((folder / clip["file"]).read_bytes()).hexdigest() == clip["sha256"]
    for key in ("spoken_text", "language", "warnings"):
        assert key in clip


def test_existing_clips_are_kept_and_the_recording_goes_last(bad_recording, tmp_path):
    out = tmp_path / "out"
    built = build_day(read_notices([_notices(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    before = {c["file"]: (built.folder / c["file"]).read_bytes() for c in built.clips}
    result = import_recording(bad_recording, DAY, out, load_config(None))
    folder, manifest = Library(out).day(DAY)
    assert [c["file"] for c in manifest["clips"]] == [*before, "02-phone-memo.mp3"]
    assert manifest["clips"][:1] == built.clips and result.clip["title"] == "phone memo"
    for name, data in before.items():
        assert (folder / name).read_bytes() == data


def test_build_keeps_the_days_imported_recordings(bad_recording, tmp_path):
    out = tmp_path / "out"
    build_day(read_notices([_notices(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    imported = import_recording(bad_recording, DAY, out, load_config(None), title="Lost cat")
    later = tmp_path / "later.txt"
    later.write_text("# Bins\nBins go out tonight.\n\n# Keys found\nKeys were found.\n", "utf-8")
    build_day(read_notices([later]), DAY, out, load_config(None), engine=FakeEngine())
    folder, manifest = Library(out).day(DAY)
    assert [c["file"] for c in manifest["clips"]] == ["01-bins.mp3", "02-keys-found.mp3", "03-lost-cat.mp3"]
    assert manifest["clips"][2] == {**imported.clip, "file": "03-lost-cat.mp3"}
    assert hashlib.sha256((folder / "03-lost-cat.mp3").read_bytes()).hexdigest() == imported.clip["sha256"]



def test_a_kept_recording_never_shares_an_id_with_a_notice(bad_recording, tmp_path):
    """Broadcasts pick clips by id: a later notice with the recording's title must not make two "lost-cat"s."""
    out = tmp_path / "out"
    import_recording(bad_recording, DAY, out, load_config(None), title="Lost cat")
    later = tmp_path / "later.txt"
    later.write_text("# Lost cat\nA grey cat is lost near the gate.\n", "utf-8")
    build_day(read_notices([later]), DAY, out, load_config(None), engine=FakeEngine())
    _, manifest = Library(out).day(DAY)
    assert [(c["id"], c["file"], c["engine"]) for c in manifest["clips"]] == [
        ("lost-cat", "01-lost-cat.mp3", "fake"), ("lost-cat-2", "02-lost-cat-2.mp3", "recording")]


def _notices(tmp_path):
    path = tmp_path / "n.txt"
    path.write_text("# Keys found\nA set of keys was found near the gate.\n", "utf-8")
    return path


def test_text_gives_the_pace_and_a_too_fast_warning(tmp_path):
    fast = tmp_path / "fast.wav"
    _run("espeak-ng", "-v", "en-us", "-s", "330", "-w", str(fast), TEXT)
    result = import_recording(fast, DAY, tmp_path / "out", load_config(None), text=TEXT)
    rate = result.clip["speech_rate"]
    assert rate["unit"] == "words/min" and rate["value"] > 200
    assert result.clip["text"] == TEXT and result.clip["language"] == "en" and result.clip["spoken_text"]
    assert any(w.startswith("too fast:") and "target 145.0" in w for w in result.clip["warnings"])


def _day_state(out: Path):
    found = Library(out).day(DAY)
    return None if found is None else (found[0], json.dumps(found[1]))


@pytest.mark.parametrize("kind", ["silence", "corrupt", "not audio", "missing"])
def test_unusable_input_is_a_clear_error_and_adds_nothing(tmp_path, kind):
    out = tmp_path / "out"
    build_day(read_notices([_notices(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    before = _day_state(out)
    path = tmp_path / {"silence": "quiet.m4a", "corrupt": "broken.m4a", "not audio": "notes.mp3",
                       "missing": "nowhere.m4a"}[kind]
    if kind == "silence":
        _run("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "3",
             "-c:a", "aac", str(path))
    elif kind == "corrupt":
        good = tmp_path / "good.m4a"
        _run("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "3", "-c:a", "aac", str(good))
        path.write_bytes(good.read_bytes()[: 600])
    elif kind == "not audio":
        path.write_text("这不是声音文件\n", "utf-8")
    with pytest.raises(AudioError) as caught:
        import_recording(path, DAY, out, load_config(None))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert _day_state(out) == before
    assert not list(out.glob(".import-*"))


def _cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "announcer", "import", *args, "--date", "2026-11-30",
                           "--out", str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "ANNOUNCER_LANG": "en"})


def test_cli_import_reports_the_clip_and_the_pace(tmp_path):
    fast = tmp_path / "fast.ogg"
    _run("espeak-ng", "-v", "en-us", "-s", "330", "-w", str(tmp_path / "fast.wav"), TEXT)
    _run("ffmpeg", "-v", "error", "-i", str(tmp_path / "fast.wav"), "-c:a", "libvorbis", str(fast))
    result = _cli(tmp_path, str(fast), "--title", "Water off", "--text", TEXT)
    assert result.returncode == 0, result.stderr
    assert "01-water-off.mp3" in result.stdout and "LUFS" in result.stdout
    assert "warning: too fast:" in result.stdout and "target 145.0" in result.stdout
    clip = Library(tmp_path / "out").manifest(DAY)["clips"][0]
    assert clip["engine"] == "recording" and clip["title"] == "Water off"


def test_cli_import_of_a_non_audio_file_is_one_line_and_exit_1(tmp_path):
    notes = tmp_path / "notes.m4a"
    notes.write_text("hello\n", "utf-8")
    result = _cli(tmp_path, str(notes))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "2026-11-30").exists()


def test_a_recordings_warnings_are_kept_in_both_languages(tmp_path, monkeypatch):
    from announcer.build.day import clip_warnings

    monkeypatch.setenv("ANNOUNCER_LANG", "zh")      # imported on a Chinese page, read later on an English one
    fast = tmp_path / "fast.wav"
    _run("espeak-ng", "-v", "en-us", "-s", "330", "-w", str(fast), TEXT)
    result = import_recording(fast, DAY, tmp_path / "out", load_config(None), text=TEXT)
    _, manifest = Library(tmp_path / "out").day(DAY)
    (clip,) = manifest["clips"]
    both = clip["warnings_by_language"]
    assert clip["warnings"] == both["zh"] == result.clip["warnings"]
    assert any(w.startswith("语速太快：") for w in both["zh"])
    assert any(w.startswith("too fast:") and "words/min" in w for w in clip_warnings(clip, "en"))
    assert len(both["en"]) == len(both["zh"])


def test_a_retake_after_too_fast_replaces_the_recording_in_its_place(tmp_path):
    """After a "too fast" warning, a slower take: one copy, the same id and place, the pace measured again."""
    from announcer.build.order import ClipError, move_clip
    from announcer.build.recording import delete_recording, last_undo, undo_recording

    out, config = tmp_path / "out", load_config(None)
    fast, slow = tmp_path / "fast.wav", tmp_path / "slow.wav"
    _run("espeak-ng", "-v", "en-us", "-s", "330", "-w", str(fast), TEXT)
    _run("espeak-ng", "-v", "en-us", "-s", "140", "-w", str(slow), TEXT)
    build_day(read_notices([_notices(tmp_path)]), DAY, out, config, engine=FakeEngine())
    first = import_recording(fast, DAY, out, config, title="Water", text=TEXT)
    move_clip(DAY, out, first.clip["id"], -1)
    assert any(w.startswith("too fast:") for w in first.clip["warnings"])
    retake = import_recording(slow, DAY, out, config, replaces="water")
    assert (retake.clip["id"], retake.clip["title"], retake.clip["text"], retake.number) == ("water", "Water", TEXT, 1)
    assert retake.clip["speech_rate"]["value"] < first.clip["speech_rate"]["value"] - 50     # measured again
    folder, manifest = Library(out).day(DAY)
    assert [(c["id"], c["file"]) for c in manifest["clips"]] == [("water", "01-water.mp3"),
                                                                 ("keys-found", "02-keys-found.mp3")]
    assert manifest["order"] == "by-hand"
    assert hashlib.sha256((folder / "01-water.mp3").read_bytes()).hexdigest() == retake.clip["sha256"]
    assert last_undo(out, DAY)["action"] == "replace"
    # A notice's clip cannot be replaced or deleted as a recording.
    with pytest.raises(ClipError, match="not a recording"):
        import_recording(slow, DAY, out, config, replaces="keys-found")
    with pytest.raises(ClipError, match="not a recording"):
        delete_recording(DAY, out, "keys-found")
    # Delete, then undo: back in its place; nothing more to undo.
    delete_recording(DAY, out, "water")
    assert [c["id"] for c in Library(out).manifest(DAY)["clips"]] == ["keys-found"]
    entry, number = undo_recording(DAY, out)
    assert (entry["id"], number, entry["sha256"]) == ("water", 1, retake.clip["sha256"])
    assert [c["file"] for c in Library(out).manifest(DAY)["clips"]] == ["01-water.mp3", "02-keys-found.mp3"]
    assert last_undo(out, DAY) is None
    with pytest.raises(ClipError, match="nothing to undo"):
        undo_recording(DAY, out)


def _day_with_recordings(tmp_path, *ids) -> Path:
    """A day built from one notice, with recordings (their audio: the notice's clip) added at the end."""
    out = tmp_path / "out"
    build_day(read_notices([_notices(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())

    def append(current):
        folder, manifest = current
        source = folder / manifest["clips"][0]["file"]
        clips = list(manifest["clips"])
        for n, clip_id in enumerate(ids, start=len(clips) + 1):
            clips.append({"id": clip_id, "title": clip_id, "file": f"{n:02d}-{clip_id}.mp3", "engine": "recording",
                          "sha256": f"sha-{clip_id}"})
        return [(c["file"], folder / c["file"] if c.get("engine") != "recording" else source) for c in clips], \
            {**manifest, "clips": clips}

    Library(out).update(DAY, append)
    return out


def test_a_failed_delete_keeps_the_last_undo(tmp_path, monkeypatch):
    from announcer.build.recording import delete_recording, last_undo, undo_recording
    from announcer.core.errors import LibraryError

    out = _day_with_recordings(tmp_path, "one", "two")
    delete_recording(DAY, out, "one")

    def broken(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("announcer.core.library._place", broken)
    with pytest.raises(LibraryError):
        delete_recording(DAY, out, "two")
    monkeypatch.undo()
    assert last_undo(out, DAY)["entry"]["id"] == "one"
    assert [c["id"] for c in Library(out).manifest(DAY)["clips"]] == ["keys-found", "two"]
    entry, number = undo_recording(DAY, out)
    assert (entry["id"], number) == ("one", 2)
    assert [c["id"] for c in Library(out).manifest(DAY)["clips"]] == ["keys-found", "one", "two"]
    assert [p.name for p in (out / ".undo" / "recordings" / DAY.isoformat()).iterdir()] == []


def test_a_delete_during_an_undo_keeps_its_own_undo(tmp_path, monkeypatch):
    """A delete that comes while an undo is being published waits for it, and its undo is the next one."""
    import threading
    import time

    from announcer.build import recording
    from announcer.build.recording import delete_recording, last_undo, undo_recording

    out = _day_with_recordings(tmp_path, "one", "two")
    delete_recording(DAY, out, "one")
    published, go = threading.Event(), threading.Event()
    real = recording.publish_items

    def pausing(library, day, change):
        folder = real(library, day, change)
        if threading.current_thread().name == "undo":
            published.set()
            go.wait(5)
        return folder

    monkeypatch.setattr(recording, "publish_items", pausing)
    failures = []

    def run(function, *args):
        try:
            function(*args)
        except Exception as error:      # shown by the assertion below
            failures.append(error)

    undo = threading.Thread(target=run, args=(undo_recording, DAY, out), name="undo")
    undo.start()
    assert published.wait(5)
    delete = threading.Thread(target=run, args=(delete_recording, DAY, out, "two"), name="delete")
    delete.start()
    time.sleep(0.5)                     # time for the delete to be done if nothing holds it back
    go.set()
    undo.join(10)
    delete.join(10)
    assert failures == []
    assert [c["id"] for c in Library(out).manifest(DAY)["clips"]] == ["keys-found", "one"]
    kept = last_undo(out, DAY)
    assert kept is not None and kept["entry"]["id"] == "two"
    undo_recording(DAY, out)
    assert [c["id"] for c in Library(out).manifest(DAY)["clips"]] == ["keys-found", "one", "two"]


@pytest.mark.parametrize("position", ["2", 1.5, None, True, -1])
def test_an_undo_note_with_a_bad_position_is_nothing_to_undo(tmp_path, position):
    from announcer.build.order import ClipError
    from announcer.build.recording import delete_recording, last_undo, undo_recording

    out = _day_with_recordings(tmp_path, "one")
    delete_recording(DAY, out, "one")
    note = out / ".undo" / "recordings" / DAY.isoformat() / "undo.json"
    kept = json.loads(note.read_text("utf-8"))
    note.write_text(json.dumps({**kept, "position": position}), "utf-8")
    assert last_undo(out, DAY) is None
    with pytest.raises(ClipError) as refused:
        undo_recording(DAY, out)
    assert refused.value.status == 404


def test_undo_after_a_replace_and_a_rebuild_leaves_one_take(tmp_path):
    """A new notice takes the recording's id (the recording becomes water-2): the undo finds the new take by
    its audio and puts the old one in its place."""
    from announcer.build.recording import undo_recording

    out, config = tmp_path / "out", load_config(None)
    fast, slow = tmp_path / "fast.wav", tmp_path / "slow.wav"
    _run("espeak-ng", "-v", "en-us", "-s", "250", "-w", str(fast), TEXT)
    _run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(slow), TEXT)
    build_day(read_notices([_notices(tmp_path)]), DAY, out, config, engine=FakeEngine())
    first = import_recording(fast, DAY, out, config, title="Water", text=TEXT)
    retake = import_recording(slow, DAY, out, config, replaces="water")
    more = tmp_path / "more.txt"
    more.write_text(_notices(tmp_path).read_text("utf-8") + "\n# Water\nThe water tank is cleaned today.\n", "utf-8")
    build_day(read_notices([more]), DAY, out, config, engine=FakeEngine())
    clips = Library(out).manifest(DAY)["clips"]
    assert [(c["id"], c.get("sha256") == retake.clip["sha256"]) for c in clips] == \
        [("keys-found", False), ("water", False), ("water-2", True)]
    entry, number = undo_recording(DAY, out)
    assert (entry["id"], entry["sha256"], number) == ("water-2", first.clip["sha256"], 3)
    folder, manifest = Library(out).day(DAY)
    takes = [c for c in manifest["clips"] if c.get("engine") == "recording"]
    assert [(c["id"], c["sha256"]) for c in takes] == [("water-2", first.clip["sha256"])]
    assert hashlib.sha256((folder / takes[0]["file"]).read_bytes()).hexdigest() == first.clip["sha256"]
