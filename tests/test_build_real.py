"""End to end through the real engines (by default Kokoro for Mandarin, Piper for English) and ffmpeg:
notices in, measured clips out."""

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from pydub import AudioSegment
from pydub.silence import detect_nonsilent
from scipy.signal import resample_poly

from announcer.build.day import build_day
from announcer.build.notices import read_notices
from announcer.core.config import load_config

pytestmark = pytest.mark.real
DAY = date(2026, 11, 30)
ZH = "因管道维修，明天上午九点到下午三点，三号楼暂停供水。请居民提前储水，给您带来不便，敬请谅解。"
EN = ("The water supply to building three will be off tomorrow from nine a m to three p m. "
      "Please store some water in advance. Thank you for your patience.")


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    (tmp / "notices.txt").write_text(f"# 停水通知\n{ZH}\n\n# Water off\n{EN}\n", "utf-8")
    (tmp / "schedule.toml").write_text('[audio]\nchime = "none"\n', "utf-8")
    config = load_config(tmp / "schedule.toml")
    result = build_day(read_notices([tmp / "notices.txt"]), DAY, tmp / "out", config)
    return tmp, config, result


def measured(path: Path):
    """Loudness, true peak and speaking time of the file as a listener would get it."""
    clip = AudioSegment.from_file(path)
    samples = np.array(clip.get_array_of_samples(), dtype=np.float64) / 32768
    lufs = pyloudnorm.Meter(clip.frame_rate).integrated_loudness(samples)
    peak = 20 * np.log10(np.max(np.abs(resample_poly(samples, 4, 1))))
    spans = detect_nonsilent(clip, min_silence_len=250, silence_thresh=-45)
    speaking = sum(end - start for start, end in spans) / 1000
    return clip, lufs, peak, speaking


def test_manifest_lists_both_clips_with_every_field(day):
    tmp, _, result = day
    manifest = json.loads((tmp / "out" / "2026-11-30" / "manifest.json").read_text("utf-8"))
    assert manifest["date"] == "2026-11-30"
    assert [c["file"] for c in manifest["clips"]] == ["01-ting-shui-tong-zhi.mp3", "02-water-off.mp3"]
    for clip in manifest["clips"]:
        assert set(clip) >= {"id", "title", "file", "text", "spoken_text", "language", "engine", "voice",
                             "duration_s", "loudness_lufs", "true_peak_dbtp", "speech_rate", "sha256",
                             "warnings"}
    zh, en = manifest["clips"]
    assert zh["language"] == "zh" and en["language"] == "en"
    assert zh["speech_rate"]["unit"] == "syllables/s" and en["speech_rate"]["unit"] == "words/min"
    assert zh["engine"] == "kokoro" and zh["voice"] == "jf_gongitsune"
    assert en["engine"] == "espeak-ng" and en["voice"] == "en-us"
    assert zh["warnings"] == [] and en["warnings"] == []
    assert "三号楼" in zh["spoken_text"] and "building three" in en["spoken_text"]


def test_clips_are_mp3_on_loudness_target_under_the_peak_ceiling(day):
    tmp, config, result = day
    folder = tmp / "out" / "2026-11-30"
    for clip in result.clips:
        audio, lufs, peak, _ = measured(folder / clip["file"])
        assert audio.frame_rate == 44100 and audio.channels == 1
        assert abs(lufs - config.audio.loudness_lufs) <= 0.5
        assert peak <= config.audio.true_peak_dbtp + 0.05   # our meter vs. theirs: interpolation differs a hair
        assert abs(clip["loudness_lufs"] - lufs) < 0.2
        assert abs(clip["duration_s"] - len(audio) / 1000) < 0.1


def test_pace_measured_on_the_finished_clip_is_within_ten_percent(day):
    tmp, config, result = day
    folder = tmp / "out" / "2026-11-30"
    zh_clip, en_clip = result.clips
    _, _, _, zh_speaking = measured(folder / zh_clip["file"])
    syllables = len(re.findall(r"[\u4e00-\u9fff]", zh_clip["spoken_text"]))
    zh_pace = syllables / zh_speaking
    assert abs(zh_pace / config.speech.pace["zh"] - 1) <= 0.10, zh_pace
    _, _, _, en_speaking = measured(folder / en_clip["file"])
    words = len(en_clip["spoken_text"].split())
    en_pace = words / en_speaking * 60
    assert abs(en_pace / config.speech.pace["en"] - 1) <= 0.10, en_pace
    # the manifest's own figure agrees with the independent measurement
    assert abs(zh_clip["speech_rate"]["value"] / zh_pace - 1) <= 0.10
    assert abs(en_clip["speech_rate"]["value"] / en_pace - 1) <= 0.10


def test_duration_is_plausible_for_the_text(day):
    _, config, result = day
    zh_clip, en_clip = result.clips
    # 44 syllables at 3.5/s plus pauses and the lead-in: roughly 13 to 22 s
    assert 11 < zh_clip["duration_s"] < 24
    assert 8 < en_clip["duration_s"] < 20


def test_rebuild_with_unchanged_text_synthesizes_nothing(day, monkeypatch):
    from announcer.build.engines.espeak_cli import EspeakCliEngine
    from announcer.build.engines.kokoro import KokoroEngine

    tmp, config, first = day

    def no(*a, **k):
        raise AssertionError("synthesized on a cached rebuild")

    monkeypatch.setattr(KokoroEngine, "synthesize", no)
    monkeypatch.setattr(EspeakCliEngine, "synthesize", no)
    again = build_day(read_notices([tmp / "notices.txt"]), DAY, tmp / "out", config)
    assert again.rendered == 0 and again.reused == 2
    assert [c["sha256"] for c in again.clips] == [c["sha256"] for c in first.clips]


def test_say_writes_a_preview_file(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "announcer", "say", "明天上午9:00停水，请提前储水。",
                             "-o", str(tmp_path / "preview.mp3")], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _, lufs, peak, speaking = measured(tmp_path / "preview.mp3")
    assert abs(lufs + 16) <= 0.5 and peak <= -0.95
    assert 2.5 < speaking < 6        # 14 syllables at about 3.5 per second
    assert [p.name for p in tmp_path.iterdir()] == ["preview.mp3"]


def test_say_plays_through_the_system_player(tmp_path):
    """A stand-in `aplay` on PATH records what it was asked to play."""
    import os
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # It plays as long as the clip lasts: a player that ends at once is a failed play (no audio output).
    (bin_dir / "aplay").write_text(f'#!/bin/sh\nfor last; do :; done\ncp "$last" {tmp_path}/played.wav\nsleep 3\n')
    (bin_dir / "aplay").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "announcer", "say", "Hello, the office is open.",
                             "--player", "aplay"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    played, lufs, _, speaking = measured(tmp_path / "played.wav")
    assert played.frame_rate == 44100 and abs(lufs + 16) <= 0.5
    assert 1.0 < speaking < 4


def test_wav_format_on_request(tmp_path):
    (tmp_path / "n.txt").write_text("# Hello\nThe office is open today.\n", "utf-8")
    result = build_day(read_notices([tmp_path / "n.txt"]), DAY, tmp_path / "out", load_config(None), fmt="wav")
    clip = result.clips[0]
    assert clip["file"] == "01-hello.wav"
    assert (result.folder / clip["file"]).read_bytes()[:4] == b"RIFF"
    audio, lufs, peak, _ = measured(result.folder / clip["file"])
    assert audio.frame_rate == 44100 and abs(lufs + 16) <= 0.5 and peak <= -0.95
