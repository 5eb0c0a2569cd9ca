"""One error type a layer, each carrying a message in Chinese and English.

Every error a staff member can see says what went wrong, where, and what to do.
`str(error)` gives it in the user's language (see `ui_language`).
"""

from __future__ import annotations

import contextvars
import os

# The web page's language for the request being served (and the build it starts); None elsewhere.
_REQUEST_LANGUAGE: contextvars.ContextVar[str | None] = contextvars.ContextVar("announcer_language", default=None)


def use_language(language: str | None) -> contextvars.Token:
    """Messages made in this context (a web request) are in `language`; undo with `_REQUEST_LANGUAGE.reset`."""
    return _REQUEST_LANGUAGE.set(language)


def ui_language() -> str:
    """'zh' or 'en': the web request's language, ANNOUNCER_LANG, then the locale; Chinese unless English is asked for."""
    chosen = _REQUEST_LANGUAGE.get()
    if chosen in ("zh", "en"):
        return chosen
    for var in ("ANNOUNCER_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").lower()
        if value.startswith("en"):
            return "en"
        if value.startswith("zh"):
            return "zh"
    return "zh"


def tr(zh: str, en: str) -> str:
    """Pick the text for the user's language."""
    return en if ui_language() == "en" else zh


def shorten(text: str, limit: int = 24) -> str:
    """`text` on one line, cut to at most `limit` characters, ending in … when cut (for quoting in messages)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class AnnouncerError(Exception):
    """A problem the user can fix. `where` is a file, file:line, or notice."""

    def __init__(self, zh: str, en: str, where: str | None = None):
        self.zh = zh
        self.en = en
        self.where = where
        self.problems: list[AnnouncerError] = [self]
        super().__init__(self.message())

    @classmethod
    def several(cls, problems: list["AnnouncerError"]) -> "AnnouncerError":
        """One error carrying every problem found; each is shown on its own line."""
        if len(problems) == 1:
            return problems[0]
        error = cls("\n".join(p.message("zh") for p in problems), "\n".join(p.message("en") for p in problems))
        error.problems = list(problems)
        return error

    def message(self, language: str | None = None) -> str:
        language = language or ui_language()
        text = self.en if language == "en" else self.zh
        return f"{self.where}: {text}" if self.where else text

    def __str__(self) -> str:
        return self.message()


class NoticeError(AnnouncerError):
    """A notices file cannot be read or a notice cannot be spoken."""


class ConfigError(AnnouncerError):
    """schedule.toml is invalid. `problems` holds every error found."""

    def __init__(self, problems: list[AnnouncerError]):
        zh = "\n".join(p.message("zh") for p in problems)
        en = "\n".join(p.message("en") for p in problems)
        super().__init__(zh, en)
        self.problems = list(problems)


class SpeechError(AnnouncerError):
    """The speech engine could not produce a usable recording."""


class AudioError(AnnouncerError):
    """Audio processing or encoding failed (ffmpeg missing, bad file)."""


class LibraryError(AnnouncerError):
    """The clip library on disk cannot be read or written."""
