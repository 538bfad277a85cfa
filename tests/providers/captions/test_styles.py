"""Caption styles (sentence, word, karaoke), CJK and right-to-left text, fonts by script, the reading-speed ceiling
on real narration, and frames rendered by libass (the bundled ffmpeg's `ass` filter with assets/fonts).

Set NEWSREEL_SCREENSHOTS_DIR to also keep the rendered frames (docs/screenshots/captions-*.png come from here).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from pipeline.assets import FONTS_DIR
from pipeline.fonts import FONTS, caption_font
from pipeline.media import run_ffmpeg
from pipeline.providers.captions.subtitles import (
    HIGHLIGHT,
    MAX_LEAD,
    SubtitleCaptions,
    TimedWord,
    display_width,
)
from pipeline.stages.script import Script
from pipeline.stages.voice import Narration, WordTiming
from pipeline.words import is_rtl, split_words

ENGLISH = [
    "Officials said on Tuesday that the new rover had reached the crater rim, and scientists expect the first "
    "samples within weeks.",
    "Yes.",
    "The mission, which costs about two billion dollars, is the agency's most ambitious in a decade.",
]
CHINESE = [
    "北京市政府今天宣布了一项新的环保政策，计划在五年内把市中心的空气污染减少一半。",
    "专家说：“这是好消息，但执行起来并不容易。”",
]
ARABIC = [
    "أعلنت الحكومة اليوم عن خطة جديدة للطاقة الشمسية في المدن الكبرى.",
    "وقال الوزير إن المشروع سيبدأ في العام المقبل.",
]
CLOSING = tuple("，。、；：！？”’」』）》〉】")


def no_progress(fraction: float, message: str = "") -> None:
    pass


def timed(sentences, *, char_seconds=0.055, word_gap=0.02, sentence_gap=0.4):
    words, t = [], 0.3
    for si, sentence in enumerate(sentences):
        for w in split_words(sentence):
            d = 0.1 + char_seconds * display_width(w)
            words.append(TimedWord(w, round(t, 4), round(t + d, 4), si))
            t += d + word_gap
        t += sentence_gap
    return words


def narration_for(tmp_path, words, duration) -> Narration:
    return Narration(
        path=tmp_path / "narration.wav",
        duration=duration,
        sample_rate=22050,
        words=[WordTiming(word=w.word, start=w.start, end=w.end, sentence=w.sentence) for w in words],
    )


def caption(tmp_path, sentences, words, language="en", **params):
    script = Script(headline="T", title="T", sentences=sentences, image_prompt="t", language=language)
    narration = narration_for(tmp_path, words, words[-1].end + 0.5)
    provider = SubtitleCaptions({"language": language, **params})
    return provider, provider.run(script=script, voice=narration, workdir=tmp_path, progress=no_progress)


def no_overlap(cues):
    for a, b in zip(cues, cues[1:]):
        assert a.start < a.end <= b.start


# --- styles ------------------------------------------------------------------------------------------------------


def test_sentence_style_shows_whole_sentences_where_they_fit(tmp_path):
    words = timed(ENGLISH)
    _, captions = caption(tmp_path, ENGLISH, words, style="sentence", max_lines=3)
    texts = [c.text.replace("\n", " ") for c in captions.cues]
    assert " ".join(texts).split() == " ".join(ENGLISH).split()
    assert "Yes." in texts and ENGLISH[2] in texts  # 94 characters fit in three lines of 42
    assert len(captions.cues) <= 5
    no_overlap(captions.cues)
    _, phrase = caption(tmp_path, ENGLISH, words)
    assert len(phrase.cues) > len(captions.cues)


def test_word_style_shows_one_word_at_a_time(tmp_path):
    words = timed(ENGLISH)
    _, captions = caption(tmp_path, ENGLISH, words, style="word", max_lead=0.0)
    assert [c.text for c in captions.cues] == [w.word for w in words]
    assert [c.start for c in captions.cues] == [pytest.approx(w.start, abs=1e-3) for w in words]
    no_overlap(captions.cues)


def test_karaoke_ass_has_k_tags_that_pysubs2_reads_back(tmp_path):
    words = timed(ENGLISH)
    _, captions = caption(tmp_path, ENGLISH, words, style="karaoke")
    subs = pysubs2.load(str(captions.ass))
    style = subs.styles["Default"]
    assert style.primarycolor == pysubs2.Color(*HIGHLIGHT, 0) and style.secondarycolor == pysubs2.Color(255, 255, 255, 0)
    assert len(subs) == len(captions.cues)
    k = 0
    for event, cue in zip(subs, captions.cues):
        assert event.plaintext == cue.text  # tags gone, words and line breaks kept
        tags = [int(x) for x in re.findall(r"\{\\k(\d+)\}", event.text)]
        n = len(cue.text.split())
        assert len(tags) in (n, n + 1)  # one per word, plus one for a lead-in
        assert abs(sum(tags) * 10 - (event.end - event.start)) <= 10  # the syllables fill the event
        # Each word lights up when it is spoken (centisecond rounding).
        t = event.start + (tags[0] * 10 if len(tags) == n + 1 else 0)
        for tag, w in zip(tags[len(tags) - n :], words[k : k + n]):
            assert abs(t - w.start * 1000) <= 15, (w, t)
            t += tag * 10
        k += n
    assert k == len(words)
    # SRT and VTT carry the plain text.
    assert "\\k" not in captions.srt.read_text() and "\\k" not in captions.vtt.read_text()
    assert [e.plaintext for e in pysubs2.load(str(captions.srt))] == [c.text for c in captions.cues]


# --- CJK and right-to-left text ----------------------------------------------------------------------------------


def test_chinese_lines_break_between_characters_never_before_closing_marks(tmp_path):
    words = timed(CHINESE, char_seconds=0.12)
    provider, captions = caption(tmp_path, CHINESE, words, language="zh", width=1080, height=1920)
    width = provider.max_line_chars()
    assert width == 28
    lines = [line for c in captions.cues for line in c.text.split("\n")]
    assert "".join(lines) == "".join(CHINESE)  # every character, in order, no spaces added
    assert len(captions.cues) >= 3
    for line in lines:
        assert display_width(line) <= width, line
        assert not line.startswith(CLOSING), line
    # Two balanced lines per cue, cut after the commas: 北京市政府今天宣布了 / 一项新的环保政策，
    assert all(len(c.text.split("\n")) == 2 for c in captions.cues)
    assert captions.cues[0].text.endswith("，") and captions.cues[-1].text.endswith("。”")
    subs = pysubs2.load(str(captions.ass))
    assert subs.styles["Default"].fontname == "Droid Sans Fallback"
    assert captions.notes["font"] == "Droid Sans Fallback" and captions.notes["right_to_left"] is False


def test_arabic_is_right_to_left_in_logical_order(tmp_path):
    words = timed(ARABIC)
    provider, captions = caption(tmp_path, ARABIC, words, language="ar")
    assert " ".join(c.text.replace("\n", " ") for c in captions.cues).split() == " ".join(ARABIC).split()
    style = pysubs2.load(str(captions.ass)).styles["Default"]
    assert style.fontname == "Noto Sans Arabic" and style.encoding == -1
    assert style.fontsize == round(provider.font_size() * FONTS["arabic"][1])
    assert captions.notes["right_to_left"] is True


def test_fonts_follow_the_script():
    assert caption_font("zh", "北京欢迎你") == FONTS["cjk"]
    assert caption_font("en", "北京欢迎你，GDP") == FONTS["cjk"]  # the text decides
    assert caption_font("ja", "東京で新しい駅")[0] == "Droid Sans Fallback"
    assert caption_font("ko", "서울 시민들은")[0] == "Droid Sans Fallback"
    assert caption_font("ar", "أعلنت الحكومة") == FONTS["arabic"] and caption_font("fa", "سلام دنیا") == FONTS["arabic"]
    assert caption_font("he", "שלום עולם")[0] == "DejaVu Sans"
    assert caption_font("en", "Hello world")[0] == "DejaVu Sans"
    assert caption_font("zh", "2024")[0] == "Droid Sans Fallback"  # no letters: the language decides
    assert is_rtl("أعلنت الحكومة اليوم 2024.") and is_rtl("שלום עולם") and not is_rtl("Hello عالم world")
    families = {p.name for p in FONTS_DIR.glob("*.ttf")}
    assert {"DejaVuSans.ttf", "DroidSansFallbackFull.ttf", "NotoSansArabic-VariableFont.ttf"} <= families
    for licence in ("LICENSE-DejaVu.txt", "LICENSE-DroidSansFallback.txt", "LICENSE-NotoSansArabic.txt"):
        assert (FONTS_DIR / licence).stat().st_size > 1000


# --- real narration ---------------------------------------------------------------------------------------------

LONG = [
    "A small startup has unveiled a battery that it says can charge an electric car in ten minutes.",
    "The company, founded by former university researchers, used a new silicon material for the anode.",
    "Independent experts called the results promising but warned that laboratory tests often fail to scale.",
    "The firm plans to build a pilot factory next year with support from two large carmakers.",
    "Investors have already put more than three hundred million dollars into the project.",
    "Analysts say cheaper and faster batteries could speed up the switch away from petrol.",
    "Critics point out that the supply of silicon of the right purity is still limited.",
    "Officials in several countries have welcomed the news and promised to study the technology closely.",
    "Shares in the company rose sharply after the announcement, and the founders promised more news soon.",
]


@pytest.mark.parametrize("style", ["phrase", "karaoke", "sentence"])
def test_real_espeak_minute_stays_under_the_reading_speed_ceiling(tmp_path, style):
    from pipeline.providers.voice.espeak import EspeakVoice

    script = Script(headline="Battery", title="Battery", sentences=LONG, image_prompt="a battery")
    narration = EspeakVoice().run(script=script, workdir=tmp_path, progress=no_progress)
    assert abs(narration.duration - 60) <= 3
    provider = SubtitleCaptions({"style": style})
    captions = provider.run(script=script, voice=narration, workdir=tmp_path, progress=no_progress)
    cues = captions.cues
    assert " ".join(c.text.replace("\n", " ") for c in cues).split() == script.text.split()
    no_overlap(cues)
    k = 0
    for i, cue in enumerate(cues):
        n = len(cue.text.split())
        first = narration.words[k]
        assert first.start - MAX_LEAD - 1e-3 <= cue.start <= first.start + 1e-3
        k += n
        assert len(cue.text.replace("\n", " ")) / (cue.end - cue.start) <= 17.0 + 0.05, cue
        if i + 1 < len(cues):  # at least the minimum length, unless the next cue had to start first
            assert cue.end - cue.start >= 0.8 - 1e-3 or cue.end == cues[i + 1].start
    assert captions.notes["cues_over_max_cps"] == 0
    pysubs2.load(str(captions.ass))


# --- rendered frames ---------------------------------------------------------------------------------------------


def render(ass: Path, t: float, out: Path, size=(1280, 720)) -> np.ndarray:
    """The frame libass draws from `ass` at `t` seconds over a plain background (fonts from assets/fonts)."""
    w, h = size
    run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", f"color=c=0x2b4a6f:s={w}x{h}:d={t + 1:.2f}:r=10", "-ss", f"{t:.2f}",
         "-vf", f"ass=filename={ass.name}:fontsdir={FONTS_DIR}:shaping=complex", "-frames:v", "1", "-update", "1", out.name],
        cwd=ass.parent,
        loglevel="error",
    )
    from PIL import Image

    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def keep(png: Path, name: str) -> None:
    where = os.environ.get("NEWSREEL_SCREENSHOTS_DIR")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(where) / name)


def ink(frame: np.ndarray) -> np.ndarray:
    """Where caption text is: near-white pixels."""
    return (frame > 200).all(axis=2)


@pytest.mark.slow
def test_chinese_and_arabic_captions_render_in_their_script_and_direction(tmp_path):
    from pipeline.providers.voice.espeak import EspeakVoice

    for lang, sentences in (("zh", CHINESE), ("ar", ARABIC)):
        work = tmp_path / lang
        work.mkdir()
        script = Script(headline="T", title="T", sentences=sentences, image_prompt="t", language=lang)
        narration = EspeakVoice({"language": lang, "fit": False}).run(script=script, workdir=work, progress=no_progress)
        captions = SubtitleCaptions({"language": lang}).run(script=script, voice=narration, workdir=work, progress=no_progress)
        cue = max(captions.cues, key=lambda c: len(c.text))
        frame = render(captions.ass, (cue.start + cue.end) / 2, work / f"captions-{lang}.png")
        keep(work / f"captions-{lang}.png", f"captions-{lang}.png")
        mask = ink(frame)
        ys, xs = np.nonzero(mask)
        assert ys.size > 2000 and ys.min() > 720 * 0.6, "captions drawn in the lower part of the frame"
        assert xs.min() > 40 and xs.max() < 1240  # inside the margins
        if lang == "ar":
            # libass took the line direction from the text: the frame matches the same line forced right-to-left
            # with Unicode embedding marks, and differs from the line laid out left to right.
            subs = pysubs2.load(str(captions.ass))
            at = next(e for e in subs if abs(e.start - round(cue.start * 1000)) <= 10)
            text = at.text
            forced = subs.copy() if hasattr(subs, "copy") else pysubs2.load(str(captions.ass))
            forced.styles["Default"].encoding = 1
            for e in forced:
                e.text = "\\N".join(f"\u202b{part}\u202c" for part in e.text.split("\\N"))
            forced.save(str(work / "forced.ass"))
            ltr = pysubs2.load(str(captions.ass))
            ltr.styles["Default"].encoding = 1
            ltr.save(str(work / "ltr.ass"))
            t = (cue.start + cue.end) / 2
            same = render(work / "forced.ass", t, work / "forced.png")
            other = render(work / "ltr.ass", t, work / "ltr.png")
            assert np.abs(frame - same).mean() < 0.5
            assert np.abs(frame - other).mean() > 0.5, text


@pytest.mark.slow
def test_karaoke_frame_lights_up_the_spoken_words(tmp_path):
    words = timed(ENGLISH)
    _, captions = caption(tmp_path, ENGLISH, words, style="karaoke")
    cue = max(captions.cues, key=lambda c: len(c.text))
    frame = render(captions.ass, (cue.start + cue.end) / 2, tmp_path / "captions-karaoke.png")
    keep(tmp_path / "captions-karaoke.png", "captions-karaoke.png")
    r, g, b = HIGHLIGHT
    lit = (np.abs(frame - np.array([r, g, b])) < 40).all(axis=2)
    white = ink(frame)
    assert lit.sum() > 300 and white.sum() > 300  # spoken words in the highlight, the rest still white
    assert np.nonzero(lit)[0].min() > 720 * 0.6
