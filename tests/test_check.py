"""The check's findings quote the staff member's own words, not the spoken form; the spans that map the
spoken text back to the notice."""

from __future__ import annotations

import contextvars

import pytest

from announcer.build.check import check_notices
from announcer.build.notices import Notice
from announcer.build.speakable import clause_sources, make_speakable
from announcer.build.speakable.normalise import normalise, normalise_spans
from announcer.build.speakable.script import fold, fold_spans, main_language
from announcer.core.config import load_config
from announcer.core.errors import use_language


def notice(text: str, language: str | None = None) -> Notice:
    return Notice("n", "通知", text, language, None, None, None, (), "n.txt", 1, 1)


def warnings(text: str, lang: str, language: str | None = None) -> list[str]:
    def check() -> list[str]:
        use_language(lang)
        return [f.message for f in check_notices([notice(text, language)], load_config(None).speech)]

    return contextvars.copy_context().run(check)     # the language stays this test's own


LONG_ZH = "请在12月8日上午9:00之前到社区服务中心一楼大厅领取新的门禁卡片并且带上身份证和户口本原件"


def test_a_long_stretch_is_quoted_as_written_not_as_spoken():
    found = warnings(f"各位居民，{LONG_ZH}。谢谢。", "zh")
    assert len(found) == 1
    assert "“请在12月8日上午9:00" in found[0] and "十二月八日" not in found[0] and "九点" not in found[0]
    assert "中间没有停顿" in found[0]


def test_english_findings_quote_the_digits_too():
    words = " ".join(["word"] * 26)
    found = warnings(f"Meet on 12 December at 9:30 {words}. Thanks.", "en")
    assert len(found) == 1
    assert '"Meet on 12 December at' in found[0] and "twelfth" not in found[0]
    assert "too long to follow" in found[0]


CASES = [
    "12月8日上午9:00-11:30，3号楼停水，请大家提前储水。",
    "因管道维修１２月８日停水！详情见 https://example.com/a?b=1 或拨打 13812345678。",
    "Meet at 8:30 a.m. in Room 301, then go to No. 5 building; call 555-1234.",
    "气温-3℃~5℃，湿度80%，价格¥12.50。\r\n第二行\u200b有零宽字符。",
    "½ 杯水，ﬁne，① 第一项",
    "只有一句话",
    "",
    "😀😀",
    "请拨打400-123-4567咨询，谢谢。",
    "The market opens Dec. 8, 2024 at the gate, please come.",
]


@pytest.mark.parametrize("text", CASES)
def test_the_spans_follow_the_spoken_text_exactly(text):
    folded, spans = fold_spans(text)
    assert folded == fold(text) and len(spans) == len(folded)
    language = main_language(folded)
    written, spans = normalise_spans(folded, language, spans)
    assert written == normalise(folded, language) and len(spans) == len(written)
    clauses = [c for s in make_speakable(text).sentences for c in s.clauses]
    sources = clause_sources(text)
    assert len(sources) == len(clauses)
    assert all(source and source in text for source in sources)
    end = 0
    for source in sources:              # in order, each after the one before: no words quoted twice
        found = text.find(source, end)
        assert found >= end, (source, sources)
        end = found + len(source)


def test_clause_sources_cut_where_the_clauses_are():
    assert clause_sources("12月8日上午9:00-11:30，3号楼停水，请大家提前储水。谢谢！") == \
        ["12月8日上午9:00-11:30", "3号楼停水", "请大家提前储水", "谢谢"]


@pytest.mark.parametrize("text, quoted", [
    ("请拨打400-123-4567咨询，谢谢。", ["请拨打400", "123", "4567咨询", "谢谢"]),
    ("Call 400-123-4567 for help, thanks.", ["Call 400", "123", "4567 for help", "thanks"]),
    ("The market opens Dec. 8, 2024 at the gate, please come.",
     ["The market opens Dec. 8", "2024 at the gate", "please come"]),
    ("Meet at 8:30 a.m. in Room 301, then go to No. 5 building; call 555-1234.",
     ["Meet at 8:30 a.m. in Room 301", "then go to No. 5 building", "call 555", "1234"]),
])
def test_a_number_read_with_pauses_is_shared_out_between_its_clauses(text, quoted):
    """Each clause quotes its own part of a phone number or a date, not the neighbouring clause's words."""
    assert clause_sources(text) == quoted
