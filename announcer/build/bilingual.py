"""Notes kept in both languages: a clip's warnings are stored in Chinese and English in the manifest, so
the page shows them in the reader's language whatever language the build ran in."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable

from announcer.core.errors import tr, use_language

LANGUAGES = ("zh", "en")


class Note(str):
    """A readable note: the text in the user's language (it is a str), keeping both wordings (`zh`, `en`)."""

    zh: str
    en: str

    def __new__(cls, zh: str, en: str) -> Note:
        note = super().__new__(cls, tr(zh, en))
        note.zh, note.en = zh, en
        return note

    def __reduce__(self):
        """Pickled with its text as it reads now: unpickled in another language, it still reads the same."""
        return _restore, (str(self), self.zh, self.en)


def _restore(text: str, zh: str, en: str) -> Note:
    note = str.__new__(Note, text)
    note.zh, note.en = zh, en
    return note


def _said_in(language: str, make: Callable[[], str]) -> str:
    """What `make` (which words its text with `tr`) says in `language`."""

    def speaking() -> str:
        use_language(language)
        return make()

    return contextvars.copy_context().run(speaking)


def note_of(make: Callable[[], str | None]) -> Note | None:
    """The note `make` words with `tr`, as a Note in both languages; None when it has nothing to say."""
    zh, en = _said_in("zh", make), _said_in("en", make)
    return None if zh is None or en is None else Note(zh, en)


def _in_language(note: str, language: str) -> str:
    """`note` in `language`; a plain str (an older build's) stays as it was written."""
    if isinstance(note, Note):
        return note.en if language == "en" else note.zh
    return str(note)


def by_language(notes: Iterable[str]) -> dict[str, list[str]]:
    """Each language's wording of `notes`, for a manifest's "warnings_by_language"."""
    notes = list(notes)
    return {language: [_in_language(n, language) for n in notes] for language in LANGUAGES}
