"""pipeline.words: what a word and a sentence are, and which writing system a text is in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.words import (
    count_words,
    display_width,
    is_rtl,
    join_lines,
    join_words,
    language_script,
    script_of,
    sentence_words,
    spaces_before,
    split_sentences,
    split_words,
    word_spans,
)

# --- words ------------------------------------------------------------------------------------------------------


def test_spaced_text_splits_like_str_split():
    for sentence in [
        "The U.S. economy grew 2.5% in 2024, officials said.",
        "  Café owners — in Zürich — cheer!  ",
        "أعلنت الحكومة اليوم عن خطة جديدة للطاقة.",
        "서울 시민들은 새 정책을 환영했다.",
        "Цены выросли на 3,5 % за год.",
    ]:
        assert split_words(sentence) == sentence.split()
        assert [sentence[a:b] for a, b in word_spans(sentence)] == sentence.split()


def test_chinese_and_japanese_words_are_characters_with_their_punctuation():
    assert split_words("北京今天宣布新政策，市民表示欢迎。") == list("北京今天宣布新政") + ["策，"] + list("市民表示欢") + ["迎。"]
    # Runs of other characters stay whole; opening marks go with the next character, closing with the one before.
    assert split_words("GDP增长了5%，专家说：“这是好消息。”") == [
        "GDP", "增", "长", "了", "5%，", "专", "家", "说：", "“这", "是", "好", "消", "息。”"
    ]  # fmt: skip
    assert split_words("「東京」で新駅！") == ["「東", "京」", "で", "新", "駅！"]
    # Katakana (with its long-vowel mark), the iteration mark and digits inside Japanese text.
    assert split_words("人々はコーヒーを2杯飲んだ。") == ["人", "々", "は", "コ", "ー", "ヒ", "ー", "を", "2", "杯", "飲", "ん", "だ。"]
    for sentence in ["北京今天宣布新政策，市民表示欢迎。", "GDP增长了5%，专家说：“这是好消息。”", "「東京」で新駅！"]:
        assert join_words(split_words(sentence)) == sentence
    assert join_words(["The", "mission", "costs", "$5.5", "billion."]) == "The mission costs $5.5 billion."


def test_mixed_scripts_and_lone_marks():
    # Latin inside Chinese keeps its spaces; a dash between words is a word of its own in spaced text.
    assert split_words("苹果 iPhone 销量增长") == ["苹", "果", "iPhone", "销", "量", "增", "长"]
    assert split_words("Prices rose — again.") == ["Prices", "rose", "—", "again."]
    assert split_words("（新华社）北京") == ["（新", "华", "社）", "北", "京"]
    assert split_words("") == [] and split_words("   ") == []


def test_sentence_words_number_every_word_by_its_sentence():
    assert sentence_words(["Hello world.", "北京。"]) == [("Hello", 0), ("world.", 0), ("北", 1), ("京。", 1)]
    with pytest.raises(TypeError):
        sentence_words("Hello world.")  # a string is not a list of sentences


def test_count_words_counts_what_a_narrator_speaks():
    assert count_words("The rover landed on Mars.") == 5
    assert count_words("It cost $2.5 billion — a record.") == 6  # the dash alone is no word
    assert count_words("中国发射了探测器。") == 8
    assert count_words("NASA 和 ESA 合作") == 5
    assert count_words("人々は") == 3  # the iteration mark is a character of its own, as the voices time it
    assert count_words("أعلنت الحكومة اليوم.") == 3
    assert count_words("🎉 !") == 0 and count_words("") == 0


def test_spacing_follows_the_script_as_written():
    sentences = ["他说 GDP增长了。", "Markets rose."]
    words = [w for w, _ in sentence_words(sentences)]
    sentence_of = [i for _, i in sentence_words(sentences)]
    spaces = spaces_before(words, sentences, sentence_of)
    assert words[:3] == ["他", "说", "GDP"]
    assert spaces[:4] == [False, False, True, False]  # "说 GDP" had a space, "GDP增" none
    assert spaces[-1] is True and words[-1] == "rose."


def test_wrapped_lines_join_without_a_space_only_inside_chinese_and_japanese():
    assert join_lines(["北京市政府今天宣布了", "一项新的环保政策。"]) == "北京市政府今天宣布了一项新的环保政策。"
    assert join_lines(["市民表示欢迎，", "专家说"]) == "市民表示欢迎，专家说"
    assert join_lines(["The rover", "  landed.", ""]) == "The rover landed."
    assert join_lines(["GDP", "增长了"]) == "GDP 增长了"  # only one side is Chinese: the writer's space is kept
    assert join_lines(["서울 시민들은", "환영했다."]) == "서울 시민들은 환영했다."  # Korean spaces its words


_MIXED = st.text(
    alphabet=st.sampled_from(list("ab Z9%,.—“”「」（）。，！？ \t") + list("北京增长ひらカタ々ー") + ["한", "국", "😀", "ع", "ｶ"]),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_MIXED)
def test_words_cover_every_visible_character_once_in_order(text):
    spans = word_spans(text)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    assert all(not text[a:b].isspace() and " " not in text[a:b] for a, b in spans)
    assert "".join(split_words(text)) == "".join(text.split())
    assert count_words(text) <= len(split_words(text))


# --- sentences --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ("Dr. Smith met Mr. Jones. They talked.", ["Dr. Smith met Mr. Jones.", "They talked."]),
        ("The U.S. economy grew 3.5 percent. Markets rose.", ["The U.S. economy grew 3.5 percent.", "Markets rose."]),
        (
            "Prices rose 2.75% in Jan. and fell later. Experts disagree.",
            ["Prices rose 2.75% in Jan. and fell later.", "Experts disagree."],
        ),
        ("J. K. Rowling spoke. Fans cheered.", ["J. K. Rowling spoke.", "Fans cheered."]),
        ('He said, "It works." Then he left.', ['He said, "It works."', "Then he left."]),
        ("Wait... what happened? Nobody knows.", ["Wait... what happened?", "Nobody knows."]),
        (
            "It was approx. five meters. Then e.g. a car. Done.",
            ["It was approx. five meters.", "Then e.g. a car.", "Done."],
        ),
        ("Visit example.com today. It is new.", ["Visit example.com today.", "It is new."]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("No. 5 won. Team No. 7 lost.", ["No. 5 won.", "Team No. 7 lost."]),
        ("She said no. Then she left.", ["She said no.", "Then she left."]),
        ("They sat in the sun. Then it rained.", ["They sat in the sun.", "Then it rained."]),
        ("Smith et al. found it. The U.S. Senate agreed.", ["Smith et al. found it.", "The U.S. Senate agreed."]),
        (
            "中国发射了新的探测器。科学家很高兴！这是真的吗？是的",
            ["中国发射了新的探测器。", "科学家很高兴！", "这是真的吗？", "是的"],
        ),
        ("東京で新駅が開業した。「便利だ」と話した。", ["東京で新駅が開業した。", "「便利だ」と話した。"]),
        ("هل هذا صحيح؟ نعم هو كذلك.", ["هل هذا صحيح؟", "نعم هو كذلك."]),
        ("حکومت نے اعلان کیا۔ لوگ خوش ہیں۔", ["حکومت نے اعلان کیا۔", "لوگ خوش ہیں۔"]),
        ("No final stop here", ["No final stop here"]),
        ("  \n  ", []),
        ("123. 456. Real sentence.", ["Real sentence."]),
        ("(Rover) landed. [Yes] ok.", ["(Rover) landed.", "[Yes] ok."]),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_keeps_every_character_of_the_sentences():
    text = "Dr. A. B. Chu, Ph.D., said 3.14 is pi. The U.K. and the E.U. agreed at 5 p.m. Friday. Done!"
    parts = split_sentences(text)
    assert " ".join(parts) == text
    assert parts[-1] == "Done!"
    assert len(parts) == 3


# --- writing systems --------------------------------------------------------------------------------------------


def test_script_of_counts_letters():
    assert script_of("北京欢迎你") == "cjk" and script_of("こんにちは") == "cjk" and script_of("서울") == "cjk"
    assert script_of("أعلنت الحكومة") == "arabic" and script_of("שלום") == "hebrew"
    assert script_of("The rover") == "latin" and script_of("Цены") == "latin"
    assert script_of("iPhone 销量增长") == "latin"  # the majority decides: six Latin letters, four Han
    assert script_of("苹果 iPhone 销量大幅增长") == "cjk"
    assert script_of("2024 — 5%") == "latin"  # no letters at all


def test_language_script_and_direction():
    assert [language_script(c) for c in ("zh", "zh-TW", "ja", "ko_KR", "ar", "fa", "en", "he")] == [
        "cjk", "cjk", "cjk", "cjk", "arabic", "arabic", "latin", "latin"
    ]  # fmt: skip
    assert is_rtl("أعلنت الحكومة اليوم.") and is_rtl("שלום עולם")
    assert not is_rtl("The rover landed.") and not is_rtl("北京") and not is_rtl("2024")
    assert is_rtl("قال NASA إن المهمة نجحت")  # mostly Arabic letters with a Latin name


def test_display_width_counts_wide_characters_twice():
    assert display_width("北京欢迎你") == 10 and display_width("Café") == 4 and display_width("Cafe\u0301") == 4
    assert display_width("ＧＤＰ") == 6 and display_width("ｶﾀ") == 2
