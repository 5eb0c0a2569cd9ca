"""Benchmark: the neural voices (Kokoro for Mandarin, Piper for English) against espeak-ng.

On one day of notices (examples/notices.txt + examples/notices.toml, or the
files given), for each engine setup ("neural": zh=kokoro, en=piper;
"espeak-ng": espeak-ng for both) it measures:

- raw synthesis, in a fresh process: engine load time, then every run of every
  notice spoken once at a fixed rate (speed 0.8; espeak 175 words/min) in the
  form the engine reads, as many at a time as the engine speaks (`parallel`); synthesis seconds, audio seconds, real-time factor
  (synthesis / audio) and the process's peak RSS (VmHWM);
- `announcer build` of the same files (--date 2026-12-01) with a schedule.toml
  holding only the setup's [speech] engines: wall time, its ratio to raw
  load + synthesis (target <= 1.3x), and the build's peak RSS (target < 1 GB;
  os.wait4 on the child: the largest single process of its tree);
- the same build again into the same library: wall time (target < 0.5 s).

Then, with the neural engines: `announcer say` of one sentence with a warm
engine (one process; a first sentence warms it, the second is timed through
speak + finish as `say` does when it plays; target < 2 s), and onnxruntime
threading for Kokoro over the Mandarin runs: sessions with intra-op threads
1, 2 and the default, and two runs at a time on a shared 1-thread session
(session.run only; phonemes are made beforehand).

Every measurement runs in its own child process (this file with --child).
Numbers are printed; no target fails the run. Other work on the machine skews
them: the load average is printed with each step.
Run: .venv/bin/python bench/voices.py [NOTICE_FILES...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANNOUNCER = ROOT / ".venv" / "bin" / "announcer"
NOTICES = [ROOT / "examples" / "notices.txt", ROOT / "examples" / "notices.toml"]
SETUPS = {"neural": {"zh": "kokoro", "en": "piper"}, "espeak-ng": {"zh": "espeak-ng", "en": "espeak-ng"}}
RATES = {"kokoro": 0.8, "piper": 0.8, "espeak-ng": 175}
BUILD_DATE = "2026-12-01"
WARM_SENTENCE = "明天上午九点停水，请提前储水。"
SAY_SENTENCE = "本周六上午10点在社区广场举行消防演练，请大家准时参加。"
TARGETS = {"build_ratio": 1.3, "cached_s": 0.5, "rss_mb": 1024, "say_s": 2.0}


# -- helpers ------------------------------------------------------------------

def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def schedule(tmp: Path, engines: dict[str, str]) -> Path:
    """A schedule.toml holding only the [speech] engines line."""
    path = tmp / "schedule.toml"
    pairs = ", ".join(f'{lang} = "{name}"' for lang, name in engines.items())
    path.write_text(f"[speech]\nengines = {{ {pairs} }}\n", encoding="utf-8")
    return path


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MB of the child, stdout) for a command; raises when it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def child(mode: str, files: list[Path], *args: str) -> dict:
    """Run one measurement of this file in a fresh process; its JSON answer."""
    _, rss, out = run_measured([sys.executable, __file__, *map(str, files), "--child", mode, *args])
    result = json.loads(out.strip().splitlines()[-1])
    result.setdefault("rss_mb", rss)
    return result


def runs_of(files: list[Path]):
    """Every run (language, run) of every notice in the files."""
    from announcer.build.notices import read_notices
    from announcer.build.speakable import make_speakable

    for notice in read_notices(files):
        for run in make_speakable(notice.text, notice.language).runs():
            if run.engine_text.strip():
                yield run


# -- measurements in a child process --------------------------------------------

def raw_synthesis(setup: str, files: list[Path]) -> dict:
    """Load the setup's engines, then speak every run once at the fixed rate."""
    from announcer.build.engines import get_engine
    from announcer.build.engines.base import SynthesisOptions

    start = time.perf_counter()
    engines = {lang: get_engine(name) for lang, name in SETUPS[setup].items()}
    for engine in {id(e): e for e in engines.values()}.values():
        if hasattr(engine, "load"):
            engine.load()
    load_s = time.perf_counter() - start
    from concurrent.futures import ThreadPoolExecutor

    runs = list(runs_of(files))
    synth_s = audio_s = 0.0
    for language, engine in engines.items():   # as fast as the engine goes: `parallel` pieces at a time
        mine = [run for run in runs if run.language == language]
        speak = lambda run, engine=engine: engine.synthesize(  # noqa: E731
            getattr(run, engine.reads), run.language, SynthesisOptions(rate=RATES[engine.name]))
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=getattr(engine, "parallel", 1)) as pool:
            audio_s += sum(len(audio) / 1000 for audio in pool.map(speak, mine))
        synth_s += time.perf_counter() - start
    for engine in engines.values():
        engine.close()
    return {"load_s": load_s, "synth_s": synth_s, "audio_s": audio_s, "runs": len(runs), "rss_mb": peak_rss_mb()}


def say_warm() -> dict:
    """One sentence through a warm neural Speaker, the way `announcer say` plays it."""
    from dataclasses import replace

    from announcer.build.day import finish
    from announcer.core.config import load_config
    from announcer.build.speakable import make_speakable
    from announcer.build.speech import open_speaker

    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(schedule(Path(tmp), SETUPS["neural"]))
    speaker = open_speaker(config.speech)
    try:
        start = time.perf_counter()
        speech = speaker.speak(make_speakable(WARM_SENTENCE))
        finish(speech.audio, replace(config.audio, format="wav"), lead_in=False)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        speech = speaker.speak(make_speakable(SAY_SENTENCE))
        speak_s = time.perf_counter() - start
        finish(speech.audio, replace(config.audio, format="wav"), lead_in=False)
        say_s = time.perf_counter() - start
        start = time.perf_counter()
        finish(speech.audio, config.audio, lead_in=False)
        mp3_finish_s = time.perf_counter() - start
    finally:
        speaker.close()
    return {"cold_s": cold_s, "speak_s": speak_s, "say_s": say_s, "mp3_finish_s": mp3_finish_s,
            "audio_s": len(speech.audio) / 1000, "engine": speech.engine}


def kokoro_session(threads: int | None):
    """An InferenceSession made as announcer's Kokoro engine makes it, with `threads` intra-op threads."""
    from importlib import resources

    import onnxruntime

    from announcer.build.engines.kokoro import MODEL_PACKAGES

    model = b"".join((resources.files(p) / "part.bin").read_bytes() for p in MODEL_PACKAGES)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def kokoro_inputs(files: list[Path]) -> list[dict]:
    """The model inputs for every Mandarin run, as KokoroEngine.synthesize makes them."""
    from importlib import resources

    import numpy as np

    from announcer.build.engines import kokoro

    data = resources.files(kokoro.VOICE_PACKAGE) / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as file:
        styles = np.load(file)[kokoro.DEFAULT_VOICE]
    inputs = []
    for run in runs_of(files):
        if run.language != "zh":
            continue
        for chunk in kokoro.phoneme_chunks(kokoro.phonemes(run.text)):
            tokens = [vocab[p] for p in chunk if p in vocab]
            if tokens:
                inputs.append({
                    "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                    "style": np.asarray(styles[min(len(tokens), len(styles)) - 1], dtype=np.float32).reshape(1, -1),
                    "speed": np.array([RATES["kokoro"]], dtype=np.float32),
                })
    return inputs


def kokoro_threads(files: list[Path]) -> dict:
    """session.run over the Mandarin runs: 1 vs 2 intra-op threads, default, and 2 runs at a time."""
    from concurrent.futures import ThreadPoolExecutor

    inputs = kokoro_inputs(files)
    shortest = min(inputs, key=lambda i: i["tokens"].size)
    results = {"pieces": len(inputs)}

    def timed(session, parallel: int) -> tuple[float, float]:
        session.run(None, shortest)                       # the first run pays for allocations
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            outputs = list(pool.map(lambda i: session.run(None, i)[0], inputs))
        return time.perf_counter() - start, sum(o.size for o in outputs) / 24000

    for name, threads, parallel in (("intra1", 1, 1), ("intra2", 2, 1), ("default", None, 1),
                                    ("parallel2_intra1", 1, 2)):
        session = kokoro_session(threads)
        seconds, audio = timed(session, parallel)
        del session
        results[name] = seconds
        results["audio_s"] = audio
        results[name + "_load"] = load()
    return results


# -- the parent -----------------------------------------------------------------

def build(files: list[Path], setup: str, tmp: Path) -> dict:
    """A first build and a cached rebuild into the same library."""
    config = schedule(tmp, SETUPS[setup])
    command = [str(ANNOUNCER), "build", *map(str, files), "--out", str(tmp / "out"),
               "--date", BUILD_DATE, "--config", str(config)]
    first_s, rss_mb, _ = run_measured(command)
    cached_s, _, said = run_measured(command)
    clips = len(list((tmp / "out" / BUILD_DATE).glob("*.mp3")))
    summary = [line for line in said.splitlines() if line.strip()][-1:]   # clips made anew / from the cache
    return {"build_s": first_s, "build_rss_mb": rss_mb, "cached_s": cached_s, "clips": clips,
            "cached_says": "".join(summary).strip()}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(raw: dict, builds: dict, say: dict, threads: dict) -> None:
    rows = []
    for setup in SETUPS:
        r, b = raw[setup], builds[setup]
        ratio = b["build_s"] / (r["load_s"] + r["synth_s"])
        rows += [
            (setup, "raw load", f"{r['load_s']:.2f} s", ""),
            (setup, f"raw synthesis ({r['runs']} runs)", f"{r['synth_s']:.2f} s", ""),
            (setup, "raw audio", f"{r['audio_s']:.1f} s", ""),
            (setup, "real-time factor", f"{r['synth_s'] / r['audio_s']:.3f}", ""),
            (setup, "raw peak RSS", f"{r['rss_mb']:.0f} MB", ""),
            (setup, f"build ({b['clips']} clips)", f"{b['build_s']:.2f} s", ""),
            (setup, "build / raw (load + synth)", f"{ratio:.2f}x",
             f"<= {TARGETS['build_ratio']}x {verdict(ratio <= TARGETS['build_ratio'])}"),
            (setup, "build / raw synth only", f"{b['build_s'] / r['synth_s']:.2f}x", ""),
            (setup, "cached rebuild", f"{b['cached_s']:.2f} s",
             f"< {TARGETS['cached_s']} s {verdict(b['cached_s'] < TARGETS['cached_s'])}"),
            (setup, "build peak RSS", f"{b['build_rss_mb']:.0f} MB",
             f"< {TARGETS['rss_mb']} MB {verdict(b['build_rss_mb'] < TARGETS['rss_mb'])}"),
        ]
    rows += [
        ("neural", "say, warm (speak + finish)", f"{say['say_s']:.2f} s",
         f"< {TARGETS['say_s']} s {verdict(say['say_s'] < TARGETS['say_s'])}"),
        ("neural", "  of which speak", f"{say['speak_s']:.2f} s", f"{say['audio_s']:.1f} s of audio"),
        ("neural", "say, first sentence (cold)", f"{say['cold_s']:.2f} s", ""),
        ("neural", "finish as mp3 instead", f"{say['mp3_finish_s']:.2f} s", ""),
    ]
    modes = ("intra1", "intra2", "default", "parallel2_intra1")
    for mode in modes:
        rows.append(("kokoro", f"threads: {mode}", f"{threads[mode]:.2f} s",
                     f"RTF {threads[mode] / threads['audio_s']:.3f}"))
    fastest = min(modes, key=threads.get)
    rows.append(("kokoro", "fastest threading", fastest, f"cpu_count {os.cpu_count()}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    print(f"summary ({load()}, cpu_count {os.cpu_count()})")
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=NOTICES)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    files = [f.resolve() for f in args.files]
    if args.child:
        mode, *rest = args.child
        answer = {"raw": lambda: raw_synthesis(rest[0], files), "say": say_warm,
                  "threads": lambda: kokoro_threads(files)}[mode]()
        print(json.dumps(answer))
        return

    print(f"cpu_count {os.cpu_count()}, {load()}; notices: {', '.join(f.name for f in files)}")
    raw, builds = {}, {}
    for setup in SETUPS:
        raw[setup] = r = child("raw", files, setup)
        print(f"{setup}: raw load {r['load_s']:.2f} s, synthesis {r['synth_s']:.2f} s for {r['audio_s']:.1f} s "
              f"of audio ({r['runs']} runs, RTF {r['synth_s'] / r['audio_s']:.3f}), peak RSS {r['rss_mb']:.0f} MB  "
              f"[{load()}]")
        with tempfile.TemporaryDirectory() as tmp:
            builds[setup] = b = build(files, setup, Path(tmp))
        print(f"{setup}: build {b['build_s']:.2f} s ({b['clips']} clips), peak RSS {b['build_rss_mb']:.0f} MB, "
              f"cached rebuild {b['cached_s']:.2f} s ({b['cached_says']})  [{load()}]")
    say = child("say", files)
    print(f"say, warm neural engine: {say['say_s']:.2f} s (speak {say['speak_s']:.2f} s, engine {say['engine']}), "
          f"first sentence {say['cold_s']:.2f} s  [{load()}]")
    threads = child("threads", files)
    print(f"kokoro session.run over {threads['pieces']} Mandarin pieces ({threads['audio_s']:.1f} s of audio): "
          + ", ".join(f"{m} {threads[m]:.2f} s [{threads[m + '_load']}]"
                      for m in ("intra1", "intra2", "default", "parallel2_intra1")))
    report(raw, builds, say, threads)


if __name__ == "__main__":
    main()
