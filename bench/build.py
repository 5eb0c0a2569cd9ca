"""Benchmark: a full build of a day of notices against the raw engine, then a cached rebuild.

Targets: first build <= 2x the raw engine (espeak-ng command line speaking the same
text), cached rebuild <= 10% of the first build, `announcer --help` under 0.3 s.
The build speaks with pyttsx3 + espeak-ng (the neural voices: bench/voices.py).
Run: .venv/bin/python bench/build.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANNOUNCER = [sys.executable, "-m", "announcer"]
NOTICES = [ROOT / "examples" / "notices.txt", ROOT / "examples" / "notices.toml"]


def timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - start


def raw_engine(out: Path) -> float:
    """espeak-ng speaking each notice's text once, in the voice announcer would use."""
    from announcer.build.notices import read_notices
    from announcer.build.speakable import make_speakable

    jobs = []
    for notice in read_notices(NOTICES):
        for run in make_speakable(notice.text, notice.language).runs():
            voice = "cmn-latn-pinyin" if run.language == "zh" else "en-us"
            jobs.append((voice, run.engine_text))
    start = time.perf_counter()
    for i, (voice, text) in enumerate(jobs):
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(out / f"{i}.wav"), "--stdin"],
                       input=text.encode(), check=True)
    return time.perf_counter() - start


def warm_build(tmp: Path) -> tuple[float, float, int]:
    """The same build inside one warm process (imports done, engine started): where the time goes per clip."""
    from datetime import date

    from announcer.build.day import build_day
    from announcer.core.config import load_config
    from announcer.build.notices import read_notices

    config = load_config(tmp / "schedule.toml")
    notices = read_notices(NOTICES)
    build_day(notices, date(2026, 11, 29), tmp / "warm-up", config)   # pays for imports and start-up
    start = time.perf_counter()
    result = build_day(notices, date(2026, 11, 30), tmp / "warm", config)
    first = time.perf_counter() - start
    start = time.perf_counter()
    build_day(notices, date(2026, 11, 30), tmp / "warm", config)
    return first, time.perf_counter() - start, len(result.clips)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "raw").mkdir()
        (tmp / "schedule.toml").write_text('[speech]\nengine = "pyttsx3"\n', "utf-8")
        raw = raw_engine(tmp / "raw")
        build = ANNOUNCER + ["build", *map(str, NOTICES), "--config", str(tmp / "schedule.toml"),
                             "--out", str(tmp / "out"), "--date", "2026-11-30"]
        first = timed(build)
        cached = timed(build)
        shutil.rmtree(tmp / "out")
        help_times = sorted(timed(ANNOUNCER + ["--help"]) for _ in range(5))
        warm, warm_cached, clips = warm_build(tmp)
    print(f"raw espeak-ng, same text:   {raw:7.3f} s")
    print(f"announcer build (first):    {first:7.3f} s   ratio to raw engine {first / raw:6.1f}x  (target <= 2x)")
    print(f"announcer build (cached):   {cached:7.3f} s   ratio to first build {cached / first:6.1%}  (target <= 10%)")
    print(f"announcer --help (median):  {help_times[2]:7.3f} s   (target < 0.3 s)")
    print(f"in a warm process, {clips} clips: first build {warm:.3f} s ({warm / raw:.1f}x raw engine, "
          f"{warm / clips * 1000:.0f} ms a clip), cached {warm_cached:.3f} s ({warm_cached / warm:.1%})")


if __name__ == "__main__":
    main()
