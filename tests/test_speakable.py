"""Notice text → speakable: numbers read aloud, sentences and clauses, runs of
one language, and engine text the voices can say."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time

import pytest

from announcer.build.speakable import Run, Speakable, make_speakable

ZH_ENGINE = re.compile(r"[a-z]+[1-5](?: [a-z]+[1-5])*")
EN_ENGINE = re.compile(r"[A-Za-z']+(?: [A-Za-z']+)*")


def spoken(text: str, language: str | None = None) -> str:
    return make_speakable(text, language).spoken_text


def layout(speakable: Speakable) -> list[list[list[tuple[str, str]]]]:
    """sentences → clauses → (language, readable text) of each run."""
    return [[[(r.language, r.text) for r in c.runs] for c in s.clauses] for s in speakable.sentences]


# --- numbers, dates, times, symbols: what the listener hears -------------------------------

ZH_CASES = [
    ("11月30日", "十一月三十日"),
    ("2026年11月30日", "二零二六年十一月三十日"),
    ("2026-11-30停水", "二零二六年十一月三十日停水"),
    ("早上8:30集合", "早上八点半集合"),
    ("早上8：30集合", "早上八点半集合"),            # full-width colon
    ("8:05出发", "八点零五分出发"),
    ("8:00出发", "八点出发"),
    ("8:15出发", "八点十五分出发"),
    ("2:00开始", "两点开始"),
    ("下午3点", "下午三点"),
    ("8点05分集合", "八点零五分集合"),
    ("9:00-15:00停水", "九点到十五点停水"),
    ("9:00~15:00停水", "九点到十五点停水"),
    ("9:00至15:00停水", "九点到十五点停水"),
    ("9:00 am-5:00 pm开放", "上午九点到下午五点开放"),
    ("下午3-5pm开放", "下午三点到五点开放"),
    ("3pm开会", "下午三点开会"),
    ("电话：010-68861234", "电话：零幺零，六八八六幺二三四"),
    ("请拨打热线12345咨询", "请拨打热线幺二三四五咨询"),
    ("拨打110报警", "拨打幺幺零报警"),
    ("120急救", "幺二零急救"),
    ("火警电话119", "火警电话幺幺九"),
    ("客服电话400-810-8888", "客服电话四零零，八幺零，八八八八"),
    ("手机13800138000", "手机幺三八零零幺三八零零零"),
    ("+86 138 0013 8000", "加八六幺三八，零零幺三，八零零零"),
    ("23号楼", "二十三号楼"),
    ("3单元", "三单元"),
    ("502室", "五零二室"),
    ("3号楼2单元502室", "三号楼二单元五零二室"),
    ("3#楼", "三号楼"),
    ("#3号楼居民请储水", "三号楼居民请储水"),         # the 号 is already there
    ("请#3楼居民注意", "请三号楼居民注意"),
    ("3号楼#2单元", "三号楼二单元"),
    ("体温37.3℃", "体温三十七点三摄氏度"),
    ("体温37.3°C", "体温三十七点三摄氏度"),
    ("气温-3℃", "气温零下三摄氏度"),
    ("50%的住户", "百分之五十的住户"),
    ("30%-50%的住户", "百分之三十到百分之五十的住户"),
    ("1米", "一米"),
    ("2米", "两米"),
    ("2小时", "两小时"),
    ("2个", "两个"),
    ("2天", "两天"),
    ("20天", "二十天"),
    ("12个", "十二个"),
    ("1-2天", "一到两天"),
    ("第2天", "第二天"),
    ("2月", "二月"),
    ("2号楼", "二号楼"),
    ("2年级", "二年级"),
    ("共10000人", "共一万人"),
    ("奖金20000元", "奖金两万元"),
    ("¥2", "两元"),
    ("距离2km", "距离两公里"),
    ("限速30km/h", "限速三十公里每小时"),
    ("3F服务台", "三楼服务台"),
    ("共37.5元", "共三十七点五元"),
    ("张三&李四", "张三和李四"),
    ("1+1=2", "一加一等于二"),
    ("３号楼", "三号楼"),                           # full-width digit
    ("ＡＢＣ区", "ABC 区"),
]

EN_CASES = [
    ("Nov 30", "November thirtieth"),
    ("November 30", "November thirtieth"),
    ("Nov. 30", "November thirtieth"),
    ("30 November", "November thirtieth"),
    ("Nov 30, 2026", "November thirtieth, twenty twenty-six"),
    ("on November 30th", "on November thirtieth"),
    ("2026-11-30", "November thirtieth, twenty twenty-six"),
    ("at 8:30 am", "at eight thirty a m"),
    ("at 8:30 a.m. sharp", "at eight thirty a m sharp"),
    ("at 8:00 pm", "at eight p m"),
    ("at 8:05", "at eight oh five"),
    ("at 9:00", "at nine o'clock"),
    ("at 15:00", "at fifteen hundred"),
    ("open 9:00-15:00", "open nine to fifteen hundred"),
    ("open 9:00 am - 5:00 pm", "open nine a m to five p m"),
    ("at 3-5 pm", "at three to five p m"),
    ("at 3pm", "at three p m"),
    ("Call 010-68861234", "Call zero one zero, six eight eight six one two three four"),
    ("Call 911 now", "Call nine one one now"),
    ("Bldg 23", "building twenty-three"),
    ("Building 23", "building twenty-three"),
    ("No. 5", "number five"),
    ("#5", "number five"),
    ("Room 502", "room five oh two"),
    ("a fever of 37.3°C", "a fever of thirty-seven point three degrees"),
    ("a fever of 99.1°F", "a fever of ninety-nine point one degrees Fahrenheit"),
    ("50% off", "fifty percent off"),
    ("2 km", "two kilometres"),
    ("1 km", "one kilometre"),
    ("5 kg", "five kilograms"),
    ("the 3rd floor", "the third floor"),
    ("the 21st day", "the twenty-first day"),
    ("in 2026", "in twenty twenty-six"),
    ("23 people", "twenty-three people"),
    ("1,234 people", "one thousand two hundred and thirty-four people"),
    ("3.5 yuan", "three point five yuan"),
    ("$5", "five dollars"),
    ("Tom & Jerry", "Tom and Jerry"),
    ("C++", "C plus plus"),
    ("COVID-19 test", "COVID-nineteen test"),
    ("code abc123", "code abc one hundred and twenty-three"),
    ("Dr. Smith", "Doctor Smith"),
    ("apples, e.g. red ones", "apples, for example red ones"),
    ("the U.S.A. team", "the U S A team"),
    ("St. John St. is closed", "Saint John Street is closed"),
    ("Mon. to Fri.", "Monday to Friday."),
]


# Ranges, minus signs and temperatures below zero: a dash after a number with a
# unit joins a range (到 / to); a minus sign is read only where a number may
# start (start of text, after a space, an opening bracket, ：= 为 到 至 …), so a
# dash between a Chinese word and a number is never 负; a temperature below
# zero is 零下 in Chinese.
RANGE_CASES = [
    ("11月30日-12月2日", "zh", "十一月三十日到十二月二日"),
    ("12月1日-3日", "zh", "十二月一日到三日"),
    ("5月1日~5月5日", "zh", "五月一日到五月五日"),
    ("2025年-2026年", "zh", "二零二五年到二零二六年"),
    ("3号楼-5号楼停水", "zh", "三号楼到五号楼停水"),
    ("1号-3号", "zh", "一号到三号"),
    ("1楼-3楼", "zh", "一楼到三楼"),
    ("9点-11点", "zh", "九点到十一点"),
    ("9点半-11点", "zh", "九点半到十一点"),
    ("9点30分-11点30分", "zh", "九点三十分到十一点三十分"),
    ("上午9点-下午3点", "zh", "上午九点到下午三点"),
    ("10元-20元", "zh", "十元到二十元"),
    ("3号楼-502室", "zh", "三号楼五零二室"),          # an address, not a range
    ("3栋-2单元", "zh", "三栋二单元"),
    ("A-3栋", "zh", "A 三栋"),
    ("周一至周五", "zh", "周一至周五"),
    ("周一-周五", "zh", "周一到周五"),
    ("星期一~星期五", "zh", "星期一到星期五"),
    ("8:00—17:00", "zh", "八点到十七点"),               # em dash
    ("8:00——17:00", "zh", "八点到十七点"),              # Chinese double dash
    ("8:00～17:00", "zh", "八点到十七点"),              # full-width tilde
    ("3-5岁", "zh", "三到五岁"),
    ("1-2人", "zh", "一到两人"),
    ("2-3个", "zh", "两到三个"),
    ("2-3年级", "zh", "二到三年级"),
    ("第1-3期", "zh", "第一到三期"),
    ("3-5%", "zh", "百分之三到百分之五"),
    ("气温-3℃", "zh", "气温零下三摄氏度"),
    ("最低气温-3℃", "zh", "最低气温零下三摄氏度"),
    ("-3~5℃", "zh", "零下三到五摄氏度"),
    ("-3到5℃", "zh", "零下三到五摄氏度"),
    ("气温-3~5℃", "zh", "气温零下三到五摄氏度"),
    ("-5~-1℃", "zh", "零下五到零下一摄氏度"),
    ("3℃-5℃", "zh", "三摄氏度到五摄氏度"),
    ("零下-5℃", "zh", "零下五摄氏度"),
    ("气温-5度", "zh", "气温零下五度"),
    ("-3", "zh", "负三"),
    ("结果：-3", "zh", "结果：负三"),
    ("差值为-3", "zh", "差值为负三"),
    ("相差 -3", "zh", "相差负三"),
    ("同比-3%", "zh", "同比负百分之三"),
    ("-5°C", "en", "minus five degrees"),
    ("at -5°C", "en", "at minus five degrees"),
    ("-3~5°C", "en", "minus three to five degrees"),
    ("-3 to 5°C", "en", "minus three to five degrees"),
    ("3-5%", "en", "three to five percent"),
    ("8:00—17:00", "en", "eight to seventeen hundred"),
    ("open Mon-Fri", "en", "open Monday to Friday"),
    ("open Monday - Friday", "en", "open Monday to Friday"),
    ("Jan 5-7", "en", "January fifth to seventh"),
    ("Nov 30-Dec 2", "en", "November thirtieth to December second"),
    ("x = -3", "en", "x equals minus three"),
]


@pytest.mark.parametrize("text, language, expected", RANGE_CASES)
def test_ranges_minus_signs_and_frost_are_read_as_an_announcer_would(text, language, expected):
    assert spoken(text, language) == expected


@pytest.mark.parametrize("text, expected", ZH_CASES)
def test_chinese_is_read_as_an_announcer_would(text, expected):
    assert spoken(text, "zh") == expected


@pytest.mark.parametrize("text, expected", EN_CASES)
def test_english_is_read_as_an_announcer_would(text, expected):
    assert spoken(text, "en") == expected


@pytest.mark.parametrize("text, language, expected", [
    ("8:30", "zh", "八点半"),
    ("8:30", "en", "eight thirty"),
    ("12345", "zh", "幺二三四五"),
    ("12345", "en", "one two three four five"),
    ("50%", "zh", "百分之五十"),
    ("50%", "en", "fifty percent"),
])
def test_a_number_alone_is_read_in_the_notice_language(text, language, expected):
    assert spoken(text, language) == expected


def test_a_number_takes_the_language_of_its_neighbours_not_the_hint():
    assert spoken("请在8:30到3号楼。Come at 8:30 to Building 3.", "zh") == \
        "请在八点半到三号楼。Come at eight thirty to building three."


def test_english_spelled_letters_reach_the_engine_in_capitals():
    run, = make_speakable("at 8:30 am", "en").runs()
    assert run.text == "at eight thirty a m"
    assert run.engine_text == "at eight thirty AM"
    assert run.units == 5


# --- Mandarin readings ------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("银行", "yin2 hang2"),
    ("行动", "xing2 dong4"),
    ("重要", "zhong4 yao4"),
    ("还是", "hai2 shi4"),
    ("长大", "zhang3 da4"),
    ("长度", "chang2 du4"),
    ("音乐", "yin1 yue4"),
    ("快乐", "kuai4 le4"),
    ("我们的", "wo3 men5 de5"),
    ("绿色", "lv4 se4"),
])
def test_polyphones_take_the_reading_of_the_phrase(text, expected):
    run, = make_speakable(text).runs()
    assert run.engine_text == expected
    assert run.units == len(text)


def test_chinese_run_keeps_characters_readable_and_gives_pinyin_to_the_engine():
    run, = make_speakable("请到3号楼").runs()
    assert run == Run("zh", "请到三号楼", "qing3 dao4 san1 hao4 lou2", 5)


# --- languages of sentences and runs -----------------------------------------------------

def test_latin_words_inside_chinese_become_english_runs():
    s = make_speakable("请到3号楼领取 WiFi 密码")
    assert [(r.language, r.text, r.engine_text) for r in s.runs()] == [
        ("zh", "请到三号楼领取", "qing3 dao4 san1 hao4 lou2 ling3 qu3"),
        ("en", "WiFi", "WiFi"),
        ("zh", "密码", "mi4 ma3"),
    ]
    assert s.language == "zh"          # one borrowed word is not English content
    assert s.spoken_text == "请到三号楼领取 WiFi 密码"


def test_a_single_capital_letter_is_spelled_in_its_own_run():
    s = make_speakable("请到A栋领取。")
    assert [(r.language, r.text, r.units) for r in s.runs()] == [
        ("zh", "请到", 2), ("en", "A", 1), ("zh", "栋领取", 3)]
    assert s.language == "zh"


@pytest.mark.parametrize("text, language", [
    ("明天停水。", "zh"),
    ("Water will be off tomorrow.", "en"),
    ("明天停水。Water will be off tomorrow.", "mixed"),
    ("停水通知 Water outage notice", "mixed"),
    ("欢迎使用 App", "zh"),
    ("Collect it at 服务台", "en"),
])
def test_notice_language_is_mixed_only_when_both_carry_content(text, language):
    assert make_speakable(text).language == language


def test_sentence_languages_follow_their_script():
    s = make_speakable("明天停水。\nWater will be off tomorrow.\n请储水")
    assert [{r.language for r in sentence.clauses[0].runs} for sentence in s.sentences] == \
        [{"zh"}, {"en"}, {"zh"}]


def test_units_count_syllables_for_chinese_and_words_for_english():
    s = make_speakable("明天8点停水。Water off at 8:05 tomorrow.")
    assert s.units("zh") == len("明天八点停水")
    assert s.units("en") == len("Water off at eight oh five tomorrow".split())


# --- sentences and clauses ---------------------------------------------------------------

def test_sentences_end_at_chinese_and_english_stops_and_line_breaks():
    s = make_speakable("明天停水！请储水？好的；谢谢。\nOK. Really? Yes! Fine; done\nlast line")
    assert [[[t for _, t in c] for c in sentence] for sentence in layout(s)] == [
        [["明天停水"]], [["请储水"]], [["好的"]], [["谢谢"]],
        [["OK"]], [["Really"]], [["Yes"]], [["Fine"]], [["done"]], [["last line"]],
    ]


def test_full_stops_inside_numbers_and_abbreviations_do_not_end_sentences():
    s = make_speakable("Dr. Smith had 37.3°C at 8:30 a.m. on Monday. Then he left.")
    assert len(s.sentences) == 2
    assert s.sentences[0].clauses[0].runs[0].text == \
        "Doctor Smith had thirty-seven point three degrees at eight thirty a m on Monday"


@pytest.mark.parametrize("text, first", [
    ("Open until 5 p.m. Please come early.", "Open until five p m"),
    ("Closed all of Jan. Please come back.", "Closed all of January"),
    ("Go to Main St. Please hurry.", "Go to Main Street"),
    ("Bring pens, paper etc. We start soon.", "et cetera"),
])
def test_an_abbreviation_at_the_end_still_ends_the_sentence(text, first):
    s = make_speakable(text)
    assert len(s.sentences) == 2
    assert s.sentences[0].clauses[-1].runs[0].text.endswith(first)


def test_clauses_split_at_commas_colons_and_enumeration_commas():
    s = make_speakable("通知：3号楼、5号楼，明天停水。Note: Bldg 3, Bldg 5: no water.")
    assert layout(s) == [
        [[("zh", "通知")], [("zh", "三号楼")], [("zh", "五号楼")], [("zh", "明天停水")]],
        [[("en", "Note")], [("en", "building three")], [("en", "building five")], [("en", "no water")]],
    ]


def test_phone_hyphen_becomes_a_clause_pause():
    s = make_speakable("电话010-68861234")
    assert layout(s) == [[[("zh", "电话零幺零")], [("zh", "六八八六幺二三四")]]]


def test_brackets_dashes_and_ellipses_pause_and_empty_pieces_are_dropped():
    s = make_speakable("请带身份证（原件），，谢谢……——再见")
    assert layout(s) == [[[("zh", "请带身份证")], [("zh", "原件")], [("zh", "谢谢")], [("zh", "再见")]]]


def test_spoken_text_keeps_the_notice_punctuation():
    assert spoken("请带身份证（原件），谢谢！明天见。") == "请带身份证（原件），谢谢！明天见。"
    assert spoken("Hello, world: bye. See you!") == "Hello, world: bye. See you!"
    assert spoken("通知\n明天停水") == "通知\n明天停水"


# --- what cannot be heard ----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("请访问 https://example.com/a?b=1&c=2 了解详情", "请访问了解详情"),
    ("详见www.example.com。", "详见。"),
    ("Visit example.com/help today.", "Visit today."),
    ("邮件请发 help@example.org，谢谢", "邮件请发，谢谢"),
    ("明天停水😀👍🏽", "明天停水"),
    ("Keycap 3️⃣ here", "Keycap three here"),
    ("Wi\u200bFi 密\u200d码", "WiFi 密码"),
    ("明\u202e天\x07停\x00水", "明天停水"),
    ("★★重要★★ ※注意", "重要注意"),
    ("《通知》「停水」“今天”", "通知停水今天"),
    ("Café", "Café"),
])
def test_symbols_links_and_emoji_are_dropped_or_spoken(text, expected):
    assert spoken(text) == expected


@pytest.mark.parametrize("text", ["", "   \n\t", "😀😀👍", "https://example.com", "！！！。。。，，",
                                  "@#$%^*", "\u200b\u200d\x00"])
def test_nothing_speakable_gives_no_sentences(text):
    s = make_speakable(text)
    assert s.sentences == ()
    assert s.spoken_text == ""
    assert s.runs() == []


def test_engine_text_holds_only_pinyin_or_plain_words_on_nasty_input():
    pool = ([chr(c) for c in range(0x250)] + [chr(c) for c in range(0x2000, 0x2070)]
            + [chr(c) for c in range(0x3000, 0x3040)] + [chr(c) for c in range(0x4E00, 0x4E80)]
            + [chr(c) for c in range(0xFF00, 0xFF70)]
            + ["\U0001F600", "\U0001F44D", "\uFE0F", "\u200D", "\u200B", "\u202E", "\u20E3", "℃", "℉",
               "\u0301", "\uE000", "\U00020000", "\U0002A6D6", "\U00030000", "\U0010FFFF", "\uFFFD"]
            + list("0123456789" * 6) + list(".:-~/%#&+@ ,，。" * 3))
    rng = random.Random(20261130)
    for _ in range(1500):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 60)))
        s = make_speakable(text)
        assert not re.search(r"[0-9]", s.spoken_text), text
        for run in s.runs():
            allowed = ZH_ENGINE if run.language == "zh" else EN_ENGINE
            assert allowed.fullmatch(run.engine_text), (text, run)
            assert run.units >= 1 and run.text.strip() == run.text, (text, run)
            if run.language == "zh":
                assert run.units == len(run.text) == len(run.engine_text.split())


# --- speed -------------------------------------------------------------------------------

def _varied_notices(size: int) -> str:
    rng = random.Random(3)
    pieces = []
    while sum(len(p.encode()) for p in pieces) < size:
        n = rng.randint(1, 40)
        pieces.append(rng.choice([
            f"【通知】{rng.randint(1, 12)}月{rng.randint(1, 28)}日{rng.randint(6, 11)}:{rng.randint(0, 59):02d}"
            f"-{rng.randint(12, 20)}:00，{n}号楼{rng.randint(1, 6)}单元停水，请提前储水。",
            f"咨询电话：010-{rng.randint(10_000_000, 99_999_999)}，热线{rng.randint(10_000, 99_999)}。",
            f"Water off at Bldg {n} on Nov {rng.randint(1, 30)}, {rng.randint(1, 11)}:30 am to "
            f"{rng.randint(1, 11)}:00 pm. Call 010-{rng.randint(10_000_000, 99_999_999)}. ",
            f"体温超过{rng.randint(36, 39)}.{rng.randint(0, 9)}℃请勿入内；保持{n}米距离，{n}%已登记。\n",
            f"Dr. Smith, Room {rng.randint(100, 999)}, No. {n} — {n} km away, {n}rd floor 😀 www.x.com\n",
            "银行行动重要还是长大音乐快乐我们的绿色，欢迎使用 WiFi 密码 & 服务 + 更多。",
        ]))
    return "".join(pieces)


def test_two_hundred_kilobytes_of_mixed_notices_take_a_couple_of_seconds():
    make_speakable("预热 warm up 1")          # pypinyin loads its dictionaries once
    text = _varied_notices(200_000)
    start = time.perf_counter()
    s = make_speakable(text)
    elapsed = time.perf_counter() - start
    assert len(s.sentences) > 2000 and s.language == "mixed"
    assert elapsed < 4.0, elapsed


@pytest.mark.parametrize("text", [
    "1" * 100_000, "1-" * 50_000, "1." * 50_000, "1:" * 50_000, "a." * 50_000, "a-" * 50_000,
    "123 " * 25_000, "http://" + "a" * 100_000, "a." * 50_000 + "com", "x@" * 50_000,
    "1,000" * 20_000, "Nov " * 25_000, "8:30-" * 20_000, "1号-" * 30_000, "1日-1" * 25_000,
    "-1~" * 30_000, "1℃-" * 30_000, "Jan 1-" * 20_000, "Mon-" * 30_000, "周一-" * 30_000,
], ids=lambda t: repr(t[:8]))
def test_pathological_text_never_hangs(text):
    start = time.perf_counter()
    make_speakable(text)
    assert time.perf_counter() - start < 3.0


# --- the real voices ---------------------------------------------------------------------

def _espeak_phonemes(voice: str, text: str) -> str:
    result = subprocess.run(["espeak-ng", "-q", "-x", "-v", voice], input=text,
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


@pytest.mark.real
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_pinyin_voice_says_one_syllable_for_each_unit():
    s = make_speakable("银行行动很重要，还是要去。绿色女人的了吗？请拨打12345，嗯")
    for run in s.runs():
        phonemes = _espeak_phonemes("cmn-latn-pinyin", run.engine_text)
        assert phonemes.count("_|") == run.units, (run, phonemes)


@pytest.mark.real
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_english_voice_says_letter_names_for_a_m():
    run, = make_speakable("at 8:30 am", "en").runs()
    phonemes = _espeak_phonemes("en-us", run.engine_text)
    assert "eI'Em" in phonemes.replace(",", "")      # "ay em", not the word "am"


def test_words_in_scripts_that_are_not_spoken_are_named():
    from announcer.build.speakable.script import unspoken_words

    text = "明天停水 שלום and مرحبا, Привет! Café 3号楼 WiFi 가나"
    assert unspoken_words(text) == ["שלום", "مرحبا", "Привет", "가나"]
    assert "שלום" not in make_speakable(text).spoken_text          # left out of what is said...
    assert unspoken_words("明天上午九点停水，Building 3 too.") == []
