import pytest


@pytest.fixture(autouse=True)
def english_messages(monkeypatch):
    """Tests read messages in English unless they ask for Chinese."""
    monkeypatch.setenv("ANNOUNCER_LANG", "en")
