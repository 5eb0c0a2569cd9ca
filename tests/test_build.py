"""The morning job with a fake engine: cache, recovery reporting, atomicity, bad input."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest

from announcer.build.day import build_day
from announcer.build.engines.fake import Fault, FakeEngine
from announcer.build.notices import read_notices
from announcer.core.config import load_config
from announcer.core.errors import NoticeError

DAY = date(2026, 11, 30)
NOTICES = "# 停水通知\n明天上午九点到十二点停水，请提前储水。\n\n# Keys found\nA set of keys was found near the gate.\n"


def notices_file(tmp_path, text=NOTICES, name="n.txt"):
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def day_state(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_build_writes_clips_in_notice_order(tmp_path):
    result = build_day(read_notices([notices_file(tmp_path)]), DAY, tmp_path / "out", load_config(None),
                       engine=FakeEngine())
    assert [c["file"] for c in result.clips] == ["01-ting-shui-tong-zhi.mp3", "02-keys-found.mp3"]
    assert sorted(os.listdir(result.folder)) == ["01-ting-shui-tong-zhi.mp3", "02-keys-found.mp3", "manifest.json"]
    for clip in result.clips:
        data = (result.folder / clip["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == clip["sha256"]
        assert abs(clip["loudness_lufs"] + 16) <= 0.5 and clip["true_peak_dbtp"] <= -1.0


def test_changed_notice_is_the_only_one_rendered_again(tmp_path):
    config = load_config(None)
    build_day(read_notices([notices_file(tmp_path)]), DAY, tmp_path / "out", config, engine=FakeEngine())
    changed = NOTICES.replace("九点", "十点")
    engine = FakeEngine()
    result = build_day(read_notices([notices_file(tmp_path, changed)]), DAY, tmp_path / "out", config, engine=engine)
    assert (result.rendered, result.reused) == (1, 1)
    assert all(call.language == "zh" for call in engine.calls)


def test_settings_change_invalidates_the_cache(tmp_path):
    notices = read_notices([notices_file(tmp_path)])
    build_day(notices, DAY, tmp_path / "out", load_config(None), engine=FakeEngine())
    (tmp_path / "schedule.toml").write_text("[audio]\nloudness = -18\n", "utf-8")
    result = build_day(notices, DAY, tmp_path / "out", load_config(tmp_path / "schedule.toml"), engine=FakeEngine())
    assert result.rendered == 2
    assert all(abs(c["loudness_lufs"] + 18) <= 0.5 for c in result.clips)


def test_recovery_is_reported_in_the_manifest(tmp_path):
    engine = FakeEngine([Fault("fail", calls=frozenset({0}))])
    result = build_day(read_notices([notices_file(tmp_path)]), DAY, tmp_path / "out", load_config(None),
                       engine=engine)
    manifest = json.loads((result.folder / "manifest.json").read_text("utf-8"))
    assert manifest["clips"][0]["warnings"], "the recovered clip must say so"
    assert not manifest["clips"][1]["warnings"]


def test_notice_outside_its_dates_is_not_built(tmp_path):
    path = notices_file(tmp_path, textwrap.dedent('''
        [[notice]]
        title = "Old"
        text = "This was last week."
        valid_until = 2026-11-29

        [[notice]]
        title = "Today"
        text = "This is for today."
        valid_from = 2026-11-30
    '''), "n.toml")
    result = build_day(read_notices([path]), DAY, tmp_path / "out", load_config(None), engine=FakeEngine())
    assert [c["id"] for c in result.clips] == ["today"]


def test_nothing_valid_on_the_day_is_a_clear_error(tmp_path):
    path = notices_file(tmp_path, '[[notice]]\ntext = "Later."\nvalid_from = 2027-01-01\n', "n.toml")
    with pytest.raises(NoticeError, match="no notice is valid on 2026-11-30"):
        build_day(read_notices([path]), DAY, tmp_path / "out", load_config(None), engine=FakeEngine())
    assert not (tmp_path / "out").exists()


def test_unspeakable_notice_stops_the_build_before_any_synthesis(tmp_path):
    engine = FakeEngine()
    path = notices_file(tmp_path, "明天停水。\n\n🎉🎉 https://example.org\n")
    with pytest.raises(NoticeError, match="nothing that can be spoken") as error:
        build_day(read_notices([path]), DAY, tmp_path / "out", load_config(None), engine=engine)
    assert "n.txt:3" in error.value.where
    assert engine.calls == []
    assert not (tmp_path / "out").exists()


def test_absurdly_long_notice_is_refused_within_seconds(tmp_path):
    engine = FakeEngine()
    path = notices_file(tmp_path, "请注意安全，" * 20000)
    start = time.perf_counter()
    with pytest.raises(NoticeError, match="far too long"):
        build_day(read_notices([path]), DAY, tmp_path / "out", load_config(None), engine=engine)
    assert time.perf_counter() - start < 10
    assert engine.calls == []


SLOW_BUILD = """
import sys, time
from datetime import date
from pathlib import Path
from announcer.build.day import build_day
from announcer.core.config import load_config
from announcer.build.engines.fake import FakeEngine
from announcer.build.notices import read_notices

class Slow(FakeEngine):
    def synthesize(self, *args, **kwargs):
        time.sleep(0.1)
        return super().synthesize(*args, **kwargs)

build_day(read_notices([Path(sys.argv[1])]), date(2026, 11, 30), Path(sys.argv[2]), load_config(None),
          engine=Slow(name="slow"))
"""


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_a_build_killed_part_way_leaves_the_previous_day_intact(tmp_path, stop):
    out = tmp_path / "out"
    first = build_day(read_notices([notices_file(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    before = day_state(first.folder)
    many = "\n\n".join(f"# Notice {i}\nThe meeting number {i} is moved to the small hall." for i in range(8))
    script = tmp_path / "slow_build.py"
    script.write_text(SLOW_BUILD, "utf-8")
    process = subprocess.Popen([sys.executable, str(script), str(notices_file(tmp_path, many)), str(out)])
    deadline = time.monotonic() + 60
    while len(list((out / ".cache").glob("*.json"))) < 4:   # two from the first build, two new
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(stop)
    assert process.wait(timeout=30) != 0
    assert day_state(first.folder) == before
    assert not list(out.glob(".2026-11-30.*"))
    assert not (out / ".days").exists() or len(list((out / ".days").iterdir())) == 1
    assert not [p for p in first.folder.iterdir() if p.name.endswith(".tmp")]
    # the next build finishes the job and cleans up after the killed one
    again = build_day(read_notices([notices_file(tmp_path, many)]), DAY, out, load_config(None),
                      engine=FakeEngine(name="slow"))
    assert again.reused >= 2
    assert sorted(p.name for p in out.iterdir()) == [".cache", ".days", ".lock", "2026-11-30"]
    assert not [p for p in (out / ".days").iterdir() if p.name.endswith(".partial")]


def test_an_unwritable_library_fails_before_any_synthesis(tmp_path):
    from announcer.core.errors import LibraryError

    (tmp_path / "out").write_text("a file, not a folder")
    engine = FakeEngine()
    with pytest.raises(LibraryError, match="cannot write here"):
        build_day(read_notices([notices_file(tmp_path)]), DAY, tmp_path / "out", load_config(None), engine=engine)
    assert engine.calls == []


def test_two_notices_with_the_same_text_are_rendered_once(tmp_path):
    engine = FakeEngine()
    text = "# One\nThe gate is closed today.\n\n# Two\nThe gate is closed today.\n"
    result = build_day(read_notices([notices_file(tmp_path, text)]), DAY, tmp_path / "out", load_config(None),
                       engine=engine)
    assert [c["file"] for c in result.clips] == ["01-one.mp3", "02-two.mp3"]
    assert (result.rendered, result.reused) == (1, 1)
    assert result.clips[0]["sha256"] == result.clips[1]["sha256"]


def add_recording(out: Path, clip_id: str = "memo") -> None:
    """A recording at the end of the day, as `announcer import` leaves it (its audio: any clip's bytes)."""
    from announcer.core.library import Library

    def append(current):
        folder, manifest = current
        source = folder / manifest["clips"][0]["file"]
        name = f"{len(manifest['clips']) + 1:02d}-{clip_id}.mp3"
        entry = {"id": clip_id, "title": "Memo", "file": name, "engine": "recording"}
        files = [(c["file"], folder / c["file"]) for c in manifest["clips"]] + [(name, source)]
        return files, {**manifest, "clips": [*manifest["clips"], entry]}

    Library(out).update(DAY, append)


def test_withdrawing_a_days_notices_keeps_its_recordings(tmp_path):
    from announcer.build.day import Withdrawn, withdraw_notices
    from announcer.core.library import Library

    out = tmp_path / "out"
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    add_recording(out)
    assert withdraw_notices(DAY, out) == Withdrawn(withdrawn=2, kept=1)
    folder, manifest = Library(out).day(DAY)
    assert [(c["id"], c["file"]) for c in manifest["clips"]] == [("memo", "01-memo.mp3")]
    assert sorted(os.listdir(folder)) == ["01-memo.mp3", "manifest.json"]
    assert withdraw_notices(DAY, out) == Withdrawn(0, 0)          # nothing left to take out: no new version
    assert Library(out).day(DAY)[0] == folder


def test_withdrawing_leaves_an_empty_day_and_a_day_never_built_alone(tmp_path):
    from announcer.build.day import Withdrawn, withdraw_notices
    from announcer.core.library import Library

    out = tmp_path / "out"
    assert withdraw_notices(DAY, out) == Withdrawn(0, 0) and Library(out).day(DAY) is None
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    assert withdraw_notices(DAY, out) == Withdrawn(2, 0)
    folder, manifest = Library(out).day(DAY)
    assert manifest["clips"] == [] and os.listdir(folder) == ["manifest.json"]


def test_speech_waits_for_the_mastering_so_memory_stays_flat(tmp_path, monkeypatch):
    """Speaking is faster than mastering; at most IN_FLIGHT spoken clips wait to be finished at any time."""
    import threading

    from announcer.build import day

    text = "\n\n".join(f"# 通知{n}\n第{n}号楼明天停水。" for n in range(12))
    waiting, most, lock = [0], [0], threading.Lock()
    real_finish = day._finish_clip

    def slow_finish(speech, *args):
        time.sleep(0.1)
        result = real_finish(speech, *args)
        with lock:
            waiting[0] -= 1
        return result

    from announcer.build.speech import Speaker
    spoken = Speaker.speak

    first = []

    def counting_speak(self, *args, **kwargs):          # speaking takes no time at all here
        result = first[0] if first else spoken(self, *args, **kwargs)
        first[:] = [result]
        with lock:
            waiting[0] += 1
            most[0] = max(most[0], waiting[0])
        return result

    monkeypatch.setattr(day, "_finish_clip", slow_finish)
    monkeypatch.setattr(Speaker, "speak", counting_speak)
    result = build_day(read_notices([notices_file(tmp_path, text)]), DAY, tmp_path / "out", load_config(None),
                       engine=FakeEngine())
    assert result.rendered == 12
    assert day.IN_FLIGHT == 2 and most[0] <= 3, most[0]     # two being mastered, one just spoken


def test_words_that_cannot_be_spoken_are_warned_about_in_the_clip_and_by_check(tmp_path):
    from announcer.build.check import check_notices

    notices = read_notices([notices_file(tmp_path, "# 欢迎\n欢迎新邻居 שלום 入住三号楼。\n")])
    result = build_day(notices, DAY, tmp_path / "out", load_config(None), engine=FakeEngine())
    warning = ('some words are neither Chinese nor English and will not be spoken: "שלום"; translate them '
               "into Chinese or English, or remove them")
    assert result.clips[0]["warnings"][0] == warning
    assert [f.message for f in check_notices(notices, load_config(None).speech)] == [warning]


def test_clip_warnings_are_stored_in_both_languages_and_picked_by_language(tmp_path, monkeypatch):
    from announcer.build.day import clip_warnings

    monkeypatch.setenv("ANNOUNCER_LANG", "zh")      # built by a Chinese command line, read on an English page
    engine = FakeEngine([Fault("fail", calls=frozenset({0}))])
    text = "# 欢迎\n欢迎新邻居 שלום 入住三号楼，明天上午九点到十二点停水，请提前储水。\n"
    result = build_day(read_notices([notices_file(tmp_path, text)]), DAY, tmp_path / "out", load_config(None),
                       engine=engine)
    (clip,) = json.loads((result.folder / "manifest.json").read_text("utf-8"))["clips"]
    both = clip["warnings_by_language"]
    assert len(both["zh"]) == len(both["en"]) == len(clip["warnings"]) >= 2     # unspoken words, recovery
    assert clip["warnings"] == both["zh"], "the command line keeps its own language"
    assert "不会读出来" in both["zh"][0] and "will not be spoken" in both["en"][0]
    assert "重试后成功" in both["zh"][1] and "fixed by trying again" in both["en"][1]
    assert clip_warnings(clip, "en") == both["en"] and clip_warnings(clip, "zh") == both["zh"]


def test_clip_warnings_of_an_older_manifest_are_shown_as_stored():
    from announcer.build.day import clip_warnings

    old = {"id": "a", "file": "01-a.mp3", "warnings": ["响度 -20.0 LUFS，偏离目标 -16.0 LUFS。"]}
    assert clip_warnings(old, "en") == clip_warnings(old, "zh") == old["warnings"]
    assert clip_warnings({"id": "b", "file": "02-b.mp3"}, "en") == []


def test_loudness_and_length_notes_keep_both_languages():
    from announcer.build.bilingual import Note, by_language, note_of
    from announcer.build.day import loudness_warnings
    from announcer.core.errors import tr

    (note,) = loudness_warnings(-20.0, load_config(None).audio)
    assert isinstance(note, Note) and note == note.en            # the tests' process speaks English
    assert by_language([note, "plain"]) == {"zh": ["响度 -20.0 LUFS，偏离目标 -16.0 LUFS。", "plain"],
                                            "en": ["loudness -20.0 LUFS is off the -16.0 LUFS target", "plain"]}
    assert note_of(lambda: tr("中", "en")).zh == "中" and note_of(lambda: None) is None


# ---------------------------------------------------------------------------
# The staff member's order (announcer/build/order.py): kept by rebuilds, followed by the files' numbers

def order_of(out: Path) -> list[tuple[str, str]]:
    from announcer.core.library import Library

    return [(c["id"], c["file"]) for c in Library(out).manifest(DAY)["clips"]]


def test_merge_order_keeps_the_old_order_and_puts_new_clips_after_their_natural_predecessor():
    from announcer.build.order import merge_order

    def items(*ids):
        return [({"id": i, "file": f"{i}.mp3"}, Path(f"{i}.mp3")) for i in ids]

    def before(*ids):        # the previous order's entries; a recording is paired only with a recording
        return [{"id": i} for i in ids]

    merged = merge_order(before("c", "a", "rec", "b"), items("new0", "a", "b", "new1", "new2", "c", "rec"))
    assert [e["id"] for e, _ in merged] == ["new0", "c", "a", "rec", "b", "new1", "new2"]
    assert [e["id"] for e, _ in merge_order(before("x", "a"), items("a", "b"))] == ["a", "b"]   # gone ones drop out
    assert merge_order([], []) == []
    # A notice added after all the others goes at the end, whatever was moved before it.
    assert [e["id"] for e, _ in merge_order(before("b", "a"), items("a", "b", "new"))] == ["b", "a", "new"]
    recording = ({"id": "rec", "file": "rec.mp3", "engine": "recording"}, Path("rec.mp3"))
    assert [e["id"] for e, _ in merge_order([recording[0], *before("b", "a")], items("a", "b", "new") + [recording])] \
        == ["rec", "b", "a", "new"]


def test_a_moved_clip_keeps_its_place_when_the_day_is_built_again(tmp_path):
    from announcer.build.order import move_clip
    from announcer.core.library import Library

    out, config = tmp_path / "out", load_config(None)
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, config, engine=FakeEngine())
    add_recording(out)
    assert move_clip(DAY, out, "memo", -1)[1] == 2
    assert move_clip(DAY, out, "memo", -1)[1] == 1
    assert order_of(out) == [("memo", "01-memo.mp3"), ("ting-shui-tong-zhi", "02-ting-shui-tong-zhi.mp3"),
                             ("keys-found", "03-keys-found.mp3")]
    folder, manifest = Library(out).day(DAY)
    assert manifest["order"] == "by-hand"
    assert sorted(os.listdir(folder)) == ["01-memo.mp3", "02-ting-shui-tong-zhi.mp3", "03-keys-found.mp3",
                                          "manifest.json"]
    # A new notice between the two: it goes right after the one it follows; the others keep their order.
    more = NOTICES.replace("# Keys found", "# Gate\nThe east gate is closed today.\n\n# Keys found")
    result = build_day(read_notices([notices_file(tmp_path, more)]), DAY, out, config, engine=FakeEngine())
    assert order_of(out) == [("memo", "01-memo.mp3"), ("ting-shui-tong-zhi", "02-ting-shui-tong-zhi.mp3"),
                             ("gate", "03-gate.mp3"), ("keys-found", "04-keys-found.mp3")]
    assert [c["file"] for c in result.clips] == ["02-ting-shui-tong-zhi.mp3", "03-gate.mp3", "04-keys-found.mp3"]
    folder, manifest = Library(out).day(DAY)
    assert manifest["order"] == "by-hand"
    for clip in manifest["clips"][1:]:        # each file is its own clip's audio (the memo has no sha256)
        assert hashlib.sha256((folder / clip["file"]).read_bytes()).hexdigest() == clip["sha256"]
    # A notice removed drops out; withdrawing the notices keeps the recording and the mark.
    build_day(read_notices([notices_file(tmp_path, "# Gate\nThe east gate is closed today.\n")]), DAY, out, config,
              engine=FakeEngine())
    assert order_of(out) == [("memo", "01-memo.mp3"), ("gate", "02-gate.mp3")]


def test_a_day_never_reordered_keeps_the_natural_order(tmp_path):
    from announcer.core.library import Library

    out, config = tmp_path / "out", load_config(None)
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, config, engine=FakeEngine())
    add_recording(out)
    swapped = "# Keys found\nA set of keys was found near the gate.\n\n# 停水通知\n明天上午九点到十二点停水，请提前储水。\n"
    build_day(read_notices([notices_file(tmp_path, swapped)]), DAY, out, config, engine=FakeEngine())
    assert [i for i, _ in order_of(out)] == ["keys-found", "ting-shui-tong-zhi", "memo"]
    assert "order" not in Library(out).manifest(DAY)


def test_moving_past_either_end_or_an_unknown_clip_is_refused_and_changes_nothing(tmp_path):
    from announcer.build.order import ClipError, move_clip
    from announcer.core.library import Library

    out = tmp_path / "out"
    with pytest.raises(ClipError) as unbuilt:
        move_clip(DAY, out, "keys-found", 1)
    assert unbuilt.value.status == 404
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    folder = Library(out).day(DAY)[0]
    for clip_id, step, status, words in (("ting-shui-tong-zhi", -1, 400, "already the first"),
                                         ("keys-found", 1, 400, "already the last"),
                                         ("nope", 1, 404, "no clip")):
        with pytest.raises(ClipError) as refused:
            move_clip(DAY, out, clip_id, step)
        assert refused.value.status == status and words in refused.value.en
    assert Library(out).day(DAY)[0] == folder and "order" not in Library(out).manifest(DAY)


def test_a_broadcast_of_chosen_ids_plays_them_in_the_days_order(tmp_path):
    from announcer.build.order import move_clip
    from announcer.core.config import Broadcast
    from announcer.core.library import Library
    from announcer.core.plan import planned_clips

    out = tmp_path / "out"
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, load_config(None), engine=FakeEngine())
    broadcast = Broadcast(name="rounds", clips=("ting-shui-tong-zhi", "keys-found"))
    assert planned_clips(broadcast, Library(out).manifest(DAY)) == ["ting-shui-tong-zhi", "keys-found"]
    move_clip(DAY, out, "keys-found", -1)
    assert planned_clips(broadcast, Library(out).manifest(DAY)) == ["keys-found", "ting-shui-tong-zhi"]


def test_the_command_line_build_keeps_the_order_set_by_hand(tmp_path, monkeypatch, capsys):
    from announcer.build import day as day_module
    from announcer.build.order import move_clip
    from announcer.build.speech import Speaker
    from announcer.cli import main

    monkeypatch.setattr(day_module, "_open_speaker", lambda config, engine=None: Speaker(FakeEngine(), config.speech))
    out, notices = tmp_path / "out", notices_file(tmp_path)
    assert main(["build", str(notices), "--out", str(out), "--date", DAY.isoformat()]) == 0
    move_clip(DAY, out, "keys-found", -1)
    assert main(["build", str(notices), "--out", str(out), "--date", DAY.isoformat()]) == 0
    assert order_of(out) == [("keys-found", "01-keys-found.mp3"), ("ting-shui-tong-zhi", "02-ting-shui-tong-zhi.mp3")]
    assert "01-keys-found.mp3" in capsys.readouterr().out


UNTITLED = "停水：明天上午停水。\n\n停电：下午两点停电。\n\n检修电梯：三号楼电梯今天检修。\n"


def texts_of(out: Path) -> list[str]:
    from announcer.core.library import Library

    return [c.get("text", c["id"]) for c in Library(out).manifest(DAY)["clips"]]


def test_a_notice_deleted_from_a_day_ordered_by_hand_leaves_the_others_in_their_places(tmp_path):
    """Untitled notices are notice-1, notice-2...: deleting one renumbers the rest, and the order stays."""
    from announcer.build.order import move_clip

    out, config = tmp_path / "out", load_config(None)
    build_day(read_notices([notices_file(tmp_path, UNTITLED)]), DAY, out, config, engine=FakeEngine())
    move_clip(DAY, out, "notice-3", -1)
    move_clip(DAY, out, "notice-3", -1)
    assert texts_of(out) == ["检修电梯：三号楼电梯今天检修。", "停水：明天上午停水。", "停电：下午两点停电。"]
    without = UNTITLED.replace("停电：下午两点停电。\n\n", "")
    build_day(read_notices([notices_file(tmp_path, without)]), DAY, out, config, engine=FakeEngine())
    assert texts_of(out) == ["检修电梯：三号楼电梯今天检修。", "停水：明天上午停水。"]
    assert order_of(out) == [("notice-2", "01-notice-2.mp3"), ("notice-1", "02-notice-1.mp3")]


def test_a_notice_whose_title_changed_keeps_its_place_in_the_order_set_by_hand(tmp_path):
    from announcer.build.order import move_clip

    out, config = tmp_path / "out", load_config(None)
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, config, engine=FakeEngine())
    add_recording(out)
    move_clip(DAY, out, "keys-found", -1)
    renamed = NOTICES.replace("# Keys found", "# Found: keys")
    build_day(read_notices([notices_file(tmp_path, renamed)]), DAY, out, config, engine=FakeEngine())
    assert [i for i, _ in order_of(out)] == ["found-keys", "ting-shui-tong-zhi", "memo"]


def test_a_new_notice_taking_a_recordings_id_leaves_the_recording_in_its_place(tmp_path):
    """The recording is renamed memo-2 when a notice is called Memo; its place is found by its audio."""
    from announcer.build.order import move_clip
    from announcer.core.library import Library

    out, config = tmp_path / "out", load_config(None)
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, config, engine=FakeEngine())
    add_recording(out)
    move_clip(DAY, out, "memo", -1)
    move_clip(DAY, out, "memo", -1)
    sha = {c["id"]: c.get("sha256") for c in Library(out).manifest(DAY)["clips"]}

    def with_sha(current):      # an imported recording has its audio's sha256
        folder, manifest = current
        clips = [{**c, "sha256": sha["ting-shui-tong-zhi"]} if c["id"] == "memo" else c for c in manifest["clips"]]
        return [(c["file"], folder / c["file"]) for c in clips], {**manifest, "clips": clips}

    Library(out).update(DAY, with_sha)
    more = NOTICES + "\n# Memo\nThe memo notice.\n"
    build_day(read_notices([notices_file(tmp_path, more)]), DAY, out, config, engine=FakeEngine())
    assert [i for i, _ in order_of(out)] == ["memo-2", "ting-shui-tong-zhi", "keys-found", "memo"]


def test_a_withdraw_keeps_the_order_set_by_hand_for_the_next_build(tmp_path):
    from announcer.build.day import withdraw_notices
    from announcer.build.order import move_clip
    from announcer.core.library import Library

    out, config = tmp_path / "out", load_config(None)
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, config, engine=FakeEngine())
    add_recording(out)
    add_recording(out, "late")
    move_clip(DAY, out, "memo", -1)                       # 停水, memo, keys, late
    withdraw_notices(DAY, out)
    assert [i for i, _ in order_of(out)] == ["memo", "late"]
    assert Library(out).manifest(DAY)["order"] == "by-hand"
    move_clip(DAY, out, "late", -1)                       # the recordings swapped while the notices are out
    build_day(read_notices([notices_file(tmp_path)]), DAY, out, config, engine=FakeEngine())
    assert [i for i, _ in order_of(out)] == ["ting-shui-tong-zhi", "late", "keys-found", "memo"]
    assert "withdrawn_order" not in Library(out).manifest(DAY)
    # A day never ordered by hand keeps nothing of a withdraw.
    other = date(2026, 12, 1)
    build_day(read_notices([notices_file(tmp_path)]), other, out, config, engine=FakeEngine())
    withdraw_notices(other, out)
    assert "withdrawn_order" not in Library(out).manifest(other)


def test_each_sentence_is_told_once(tmp_path):
    from announcer.build.day import Stage

    stages = []
    notices = read_notices([notices_file(tmp_path, "# A\nFirst. Second.\n\n# B\nOnly one.\n")])
    build_day(notices, DAY, tmp_path / "out", load_config(None), engine=FakeEngine(), detail=stages.append)
    assert stages == [Stage("loading"), Stage("speaking", 1, "A", 1, 2), Stage("speaking", 1, "A", 2, 2),
                      Stage("speaking", 2, "B", 1, 1)]


def test_a_pickled_note_reads_the_same_when_unpickled_in_another_language():
    """Pickled (or copied: copy uses the same __reduce__), a note made under zh stays Chinese, both wordings kept."""
    import contextvars
    import copy
    import pickle

    from announcer.build.bilingual import Note
    from announcer.core.errors import use_language

    def under(language, make):
        def run():
            use_language(language)
            return make()

        return contextvars.copy_context().run(run)

    data = under("zh", lambda: pickle.dumps(Note("停水", "water off")))
    note = under("en", lambda: pickle.loads(data))
    assert (str(note), note.zh, note.en, type(note)) == ("停水", "停水", "water off", Note)
    copied = under("en", lambda: copy.deepcopy(note))
    assert (str(copied), copied.zh, copied.en) == ("停水", "停水", "water off")
