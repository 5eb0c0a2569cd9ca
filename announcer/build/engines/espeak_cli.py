"""The espeak-ng command line as an engine: one process a piece.

`espeak-ng -v VOICE -s RATE -w OUT.wav --stdin`, with the text on stdin (never
on a command line). Used as the fallback when pyttsx3 misbehaves, or on its own.
Also holds what both espeak-based engines share: voice names, the rate
range and the pace per rate step.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

from announcer.build.engines.base import SynthesisFailed, SynthesisOptions
from announcer.core.errors import SpeechError

ESPEAK = "espeak-ng"
DEFAULT_VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}
# Chinese runs reach the engine as tone-numbered pinyin: only the pinyin voice
# reads that as Mandarin ("cmn" reads it as English letters).
PINYIN_VOICE_ALIASES = {"cmn", "zh", "zh-cn", "cmn-latn-pinyin", "sit/cmn", "sit/cmn-latn-pinyin"}
RATE_RANGE = (80, 450)         # espeak's usable rates (words/min setting)
# Pace per rate step (units per second) measured on espeak-ng 1.51, rates 80-300.
KNOWN_PACE_PER_RATE = {"cmn-latn-pinyin": 0.0207, "en-us": 0.0200}
DEFAULT_PACE_PER_RATE = 0.020


def espeak_voice_name(voice: str | None, language: str) -> str:
    """Plain espeak voice name for a configured voice: 'cmn-latn-pinyin', 'en-us'.

    Accepts pyttsx3-style ids ('gmw/en-us') too. For Chinese the pinyin voice is
    always used, since the text is pinyin.
    """
    name = (voice or DEFAULT_VOICES.get(language, "en-us")).strip().lower()
    if language == "zh" and name in PINYIN_VOICE_ALIASES:
        return "cmn-latn-pinyin"
    return name.rsplit("/", 1)[-1]


@functools.cache
def espeak_version() -> str:
    try:
        return subprocess.run([ESPEAK, "--version"], capture_output=True, timeout=10).stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        return ""   # the engine reports a missing espeak-ng when it is needed


class EspeakFamily:
    """What pyttsx3 and the espeak-ng program share: both speak through espeak-ng."""

    family = "espeak"
    languages = ("zh", "en")
    reads = "engine_text"          # tone-numbered pinyin for Mandarin
    rate_range = RATE_RANGE
    rate_step = 1

    def voice_for(self, language: str) -> str:
        return DEFAULT_VOICES.get(language, "en-us")

    def voice_name(self, configured: str | None, language: str) -> str:
        return espeak_voice_name(configured or self.voice_for(language), language)

    def pace_per_rate(self, voice: str, language: str) -> float:
        return KNOWN_PACE_PER_RATE.get(espeak_voice_name(voice, language), DEFAULT_PACE_PER_RATE)

    def identity(self, voice: str) -> str:
        return f"{self.name} {espeak_version()} {voice}"


def espeak_missing_error() -> SpeechError:
    return SpeechError(
        "找不到语音合成程序 espeak-ng，无法生成语音。请让管理员在这台电脑上运行：sudo apt-get install espeak-ng",
        "The speech program espeak-ng is not installed, so no speech can be made. "
        "Ask the administrator to run: sudo apt-get install espeak-ng",
    )


def unknown_voice_error(voice: str, language: str) -> SpeechError:
    lang_zh = "中文" if language == "zh" else "英文"
    example = DEFAULT_VOICES.get(language, "en-us")
    return SpeechError(
        f"语音合成程序里没有名为 “{voice}” 的{lang_zh}语音。请在 schedule.toml 的 [speech] voices 里改用 "
        f"“{example}”；运行 espeak-ng --voices 可以列出所有可用语音。",
        f'The speech program has no voice called "{voice}" for {"Chinese" if language == "zh" else "English"}. '
        f'In schedule.toml, [speech] voices, use "{example}" instead; run espeak-ng --voices to list all voices.',
    )


def read_wav(path: Path):
    """The wav file as a mono AudioSegment; SynthesisFailed if missing or empty."""
    from pydub import AudioSegment

    try:
        if path.stat().st_size <= 44:
            raise SynthesisFailed("the engine wrote an empty file")
        audio = AudioSegment.from_wav(str(path))
    except FileNotFoundError:
        raise SynthesisFailed("the engine wrote no file") from None
    except SynthesisFailed:
        raise
    except Exception as exc:  # a half-written or garbled wav
        raise SynthesisFailed(f"unreadable wav file: {exc}") from None
    if audio.frame_count() == 0:
        raise SynthesisFailed("the engine wrote an empty file")
    return audio.set_channels(1) if audio.channels != 1 else audio


class EspeakCliEngine(EspeakFamily):
    """Speaks through the espeak-ng program; rate is espeak's -s (words per minute)."""

    name = "espeak-ng"

    def __init__(self, *, timeout_s: float = 20.0, program: str = ESPEAK):
        self.timeout_s = timeout_s
        self.program = program
        self._dir: tempfile.TemporaryDirectory | None = None
        self._count = 0

    def synthesize(self, text: str, language: str, options: SynthesisOptions):
        if not text.strip():
            raise SynthesisFailed("nothing to say")
        voice = espeak_voice_name(options.voice or self.voice_for(language), language)
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="announcer-espeak-")
        self._count += 1
        path = Path(self._dir.name) / f"piece-{self._count}.wav"
        rate = [] if options.rate is None else ["-s", str(int(round(options.rate)))]
        command = [self.program, "-v", voice, *rate, "-w", str(path), "--stdin"]
        try:
            done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True, timeout=self.timeout_s)
        except FileNotFoundError:
            raise espeak_missing_error() from None
        except subprocess.TimeoutExpired:
            path.unlink(missing_ok=True)
            raise SynthesisFailed(f"espeak-ng gave no answer within {self.timeout_s:g} s") from None
        try:
            if done.returncode != 0:
                message = done.stderr.decode("utf-8", "replace").strip()
                if "voice does not exist" in message:
                    raise unknown_voice_error(voice, language)
                raise SynthesisFailed(f"espeak-ng failed ({done.returncode}): {message[:200]}")
            return read_wav(path)
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
