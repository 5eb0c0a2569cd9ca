"""Phone and language: a clip's warnings in the reader's language whatever language built it; the narrow-screen
cards and the kept scroll place are in the shared static files."""

from datetime import date

import pytest
from webpage import Page, make_client

from announcer.build.day import build_day
from announcer.build.engines.fake import Fault, FakeEngine
from announcer.build.notices import read_notices
from announcer.core.config import load_config
from announcer.core.library import Library

DAY = date(2026, 11, 30)
NOTICE = "# 欢迎\n欢迎新邻居 שלום 入住三号楼，明天上午九点到十二点停水，请提前储水。\n"


@pytest.fixture
def built(tmp_path, monkeypatch):
    """A day built by a Chinese command line, with a recovery note and an unspoken-words note."""
    monkeypatch.setenv("ANNOUNCER_LANG", "zh")
    (tmp_path / "n.txt").write_text(NOTICE, "utf-8")
    build_day(read_notices([tmp_path / "n.txt"]), DAY, tmp_path / "out", load_config(None),
              engine=FakeEngine([Fault("fail", calls=frozenset({0}))]))
    monkeypatch.setenv("ANNOUNCER_LANG", "en")
    return tmp_path


def warnings_shown(tmp_path, lang: str) -> str:
    with make_client(None, tmp_path, lang=lang) as client:
        answer = client.get(f"/?date={DAY}")
    assert answer.status_code == 200, answer.text
    (listed,) = Page(answer.text).all("ul", "warnings")
    return listed["text"]


def test_an_english_page_shows_a_chinese_builds_warnings_in_english(built):
    english = warnings_shown(built, "en")
    assert "will not be spoken" in english and "fixed by trying again" in english
    assert "不会读出来" not in english and "重试后成功" not in english
    chinese = warnings_shown(built, "zh")
    assert "不会读出来" in chinese and "重试后成功" in chinese and "fixed by trying again" not in chinese


def test_an_older_manifest_shows_its_warnings_as_stored(built):
    library = Library(built / "out")

    def as_before(current):
        folder, manifest = current
        clips = [{k: v for k, v in c.items() if k != "warnings_by_language"} for c in manifest["clips"]]
        return [(c["file"], folder / c["file"]) for c in clips], {**manifest, "clips": clips}

    library.update(DAY, as_before)
    (clip,) = library.manifest(DAY)["clips"]
    assert "warnings_by_language" not in clip and clip["warnings"]
    shown = warnings_shown(built, "en")
    assert all(w.split("“")[0] in shown for w in clip["warnings"])       # the stored (Chinese) words, not nothing


def test_the_static_files_carry_the_cards_and_the_kept_place(tmp_path):
    with make_client(None, tmp_path) as client:
        css = client.get("/static/app.css").text
        js = client.get("/static/app.js").text
    assert "@media (max-width: 640px)" in css and "table.cards thead { display:none; }" in css
    assert "content:attr(data-label)" in css and "main > .flash { position:sticky;" in css
    assert "function keepPlace()" in js and "sessionStorage" in js
