"""The espeak voice: real synthesis with libespeak-ng from espeakng_loader (fast: a minute of audio in well under 1 s)."""

from __future__ import annotations

import pickle
import re
import wave

import numpy as np
import pytest

from pipeline.errors import NewsreelError
from pipeline.providers.voice.espeak import (
    DEFAULT_RATE,
    PACE_FACTOR,
    EspeakVoice,
    assign_events,
    clean_for_speech,
    word_spans,
)
from pipeline.stages.script import Script
from pipeline.stages.voice import Narration


def no_progress(fraction: float, message: str = "") -> None:
    assert 0.0 <= fraction <= 1.0


def make_script(sentences: list[str], language: str = "en") -> Script:
    return Script(headline="Test", title="Test", sentences=sentences, image_prompt="a test", language=language)


THREE = [
    "Officials said on Tuesday that the new rover had reached the crater rim, and scientists are delighted.",
    "The mission costs about two billion dollars.",
    "Engineers spent three years testing the drill in the desert.",
]

LONG = (
    "A small startup has unveiled a battery that it says can charge an electric car in ten minutes. "
    "The company, founded by former university researchers, used a new silicon material for the anode. "
    "Independent experts called the results promising but warned that laboratory tests often fail to scale. "
    "The firm plans to build a pilot factory next year with support from two large carmakers. "
    "Investors have already put more than three hundred million dollars into the project. "
    "Analysts say cheaper and faster batteries could speed up the switch away from petrol. "
    "Critics point out that the supply of silicon of the right purity is still limited. "
    "The first cars using the battery could reach showrooms in late twenty twenty seven, the company said. "
    "Officials in several countries have welcomed the news and promised to study the technology closely. "
    "Shares in the company rose sharply after the announcement."
)
LONG_SENTENCES = re.split(r"(?<=[.!?])\s+", LONG)


def read_wav(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
    return samples, rate


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> tuple[EspeakVoice, Script, Narration]:
    provider = EspeakVoice({"fit": False})
    script = make_script(THREE)
    narration = provider.run(script=script, workdir=tmp_path_factory.mktemp("voice"), progress=no_progress)
    return provider, script, narration


def test_words_are_the_script_words_in_order(three):
    _, script, narration = three
    assert [w.word for w in narration.words] == script.text.split()
    expected_sentences = [i for i, s in enumerate(script.sentences) for _ in s.split()]
    assert [w.sentence for w in narration.words] == expected_sentences
    assert narration.voice == f"espeak-ng en-us @{DEFAULT_RATE}wpm"


def test_word_times_are_ordered_and_inside_the_audio(three):
    _, _, narration = three
    words = narration.words
    starts = [w.start for w in words]
    assert all(a < b for a, b in zip(starts, starts[1:]))
    assert words[0].start >= 0.0
    for w in words:
        assert w.start < w.end <= narration.duration, w
    for a, b in zip(words, words[1:]):
        assert a.end <= b.start, (a, b)
    # A few seconds of speech for 34 words, and the last word ends near the end of the file.
    assert 8.0 < narration.duration < 16.0
    assert narration.duration - words[-1].end < 0.1


def test_wav_duration_matches_the_narration(three):
    _, _, narration = three
    assert narration.path.name == "narration.wav"
    samples, rate = read_wav(narration.path)
    assert rate == narration.sample_rate == 22050
    assert len(samples) / rate == pytest.approx(narration.duration, abs=1e-9)
    assert np.abs(samples).max() > 8000  # real speech, not silence


def test_word_spans_follow_the_audio_energy(three):
    provider, _, narration = three
    samples, rate = read_wav(narration.path)
    words = narration.words

    def span(a: float, b: float) -> np.ndarray:
        return samples[int(round(a * rate)) : int(round(b * rate))]

    in_words = np.concatenate([span(w.start, w.end) for w in words])
    pauses = []
    for a, b in zip(words, words[1:]):
        if a.sentence != b.sentence:
            gap = b.start - a.end
            assert gap >= provider.params.sentence_pause - 1e-3  # our pause, and not glued to the next start
            pauses.append(span(a.end, b.start))
    assert len(pauses) == 2
    pause_rms = rms(np.concatenate(pauses))
    assert rms(in_words) > 1000
    assert rms(in_words) > 50 * max(pause_rms, 1.0)
    # Every word carries sound of its own, and speech starts right at each sentence's first word.
    for w in words:
        assert np.abs(span(w.start, w.end)).max() > 1500, w
    for a, b in zip(words, words[1:]):
        if a.sentence != b.sentence:
            assert rms(span(b.start, b.start + 0.15)) > 500
    # The comma after "rim," is a pause: the word ends before it, in silence up to "and".
    rim = next(i for i, w in enumerate(words) if w.word == "rim,")
    gap = span(words[rim].end, words[rim + 1].start)
    assert words[rim + 1].start - words[rim].end > 0.08
    assert rms(gap) < 0.05 * rms(in_words)


def test_fit_lands_on_the_target_and_the_pace_estimate(tmp_path):
    script = make_script(LONG_SENTENCES)
    assert 140 <= script.word_count <= 160
    # Without fit: how far the words_per_second estimate is from espeak's real pace on this text.
    (tmp_path / "plain").mkdir()
    plain = EspeakVoice({"fit": False}).run(script=script, workdir=tmp_path / "plain", progress=no_progress)
    estimate = EspeakVoice.words_per_second(EspeakVoice.Params())
    actual = script.word_count / plain.duration
    print(f"\nwords_per_second estimate {estimate:.3f}, actual {actual:.3f} ({estimate / actual - 1:+.1%})")
    assert estimate == pytest.approx(actual, rel=0.10)
    # With fit: one re-synthesis at a scaled rate (within 20 % of the default) lands within 5 % of a minute.
    (tmp_path / "fit").mkdir()
    fitted = EspeakVoice({"fit": True}).run(script=script, workdir=tmp_path / "fit", progress=no_progress)
    assert abs(fitted.duration - 60.0) <= 0.05 * 60.0, fitted.duration
    rate = int(re.search(r"@(\d+)wpm", fitted.voice).group(1))
    assert rate != DEFAULT_RATE and 0.8 * DEFAULT_RATE <= rate <= 1.2 * DEFAULT_RATE
    samples, sr = read_wav(fitted.path)
    assert len(samples) / sr == pytest.approx(fitted.duration)
    assert [w.word for w in fitted.words] == script.text.split()


def test_fit_leaves_a_close_duration_alone(tmp_path):
    script = make_script(THREE)
    plain = EspeakVoice({"fit": False}).run(script=script, workdir=tmp_path, progress=no_progress)
    (tmp_path / "b").mkdir()
    near = EspeakVoice({"fit": True, "target_seconds": plain.duration * 1.03}).run(
        script=script, workdir=tmp_path / "b", progress=no_progress
    )
    assert near.voice.endswith(f"@{DEFAULT_RATE}wpm") and near.duration == plain.duration


def test_emoji_only_sentence_is_named(tmp_path):
    script = make_script(["Markets rallied on Friday.", "🎉🚀 🎉"])
    with pytest.raises(NewsreelError) as err:
        EspeakVoice().run(script=script, workdir=tmp_path, progress=no_progress)
    assert "sentence 2" in err.value.message and "🎉🚀 🎉" in err.value.message


def test_emoji_and_accents_inside_a_sentence(tmp_path):
    sentence = "Café owners in Zürich celebrate 🎉 — naïve résumé writers cheer!"
    narration = EspeakVoice({"fit": False}).run(script=make_script([sentence]), workdir=tmp_path, progress=no_progress)
    assert [w.word for w in narration.words] == sentence.split()
    samples, rate = read_wav(narration.path)
    spoken = [w for w in narration.words if w.word not in ("🎉", "—")]
    for w in spoken:  # text positions count code points: every real word found its own sound
        seg = samples[int(w.start * rate) : int(w.end * rate)]
        assert np.abs(seg).max() > 1500, w
    # The emoji is not read out ("party popper"): the unspoken tokens share the time of the word before them.
    by_word = {w.word: w for w in narration.words}
    assert by_word["🎉"].start > by_word["celebrate"].start and by_word["🎉"].end <= by_word["naïve"].start
    assert by_word["naïve"].start - by_word["celebrate"].start < 1.2


def test_unknown_voice_lists_languages(tmp_path):
    with pytest.raises(NewsreelError) as err:
        EspeakVoice({"voice": "xx-nowhere"}).run(script=make_script(["Hello."]), workdir=tmp_path, progress=no_progress)
    assert "xx-nowhere" in err.value.message
    for lang in ("en-us", "en-gb", "fr", "de", "cmn"):
        assert re.search(rf"(^|[ :,]){re.escape(lang)}(,|$)", err.value.hint), lang
    with pytest.raises(NewsreelError):
        EspeakVoice({"voice": "xx-nowhere"}).check()


def test_language_picks_a_voice(tmp_path):
    assert EspeakVoice({"language": "zh"}).voice_name() == "cmn"
    assert EspeakVoice({"language": "ar"}).voice_name() == "ar"
    assert EspeakVoice({"language": "en-gb"}).voice_name() == "en-us"
    assert EspeakVoice({"language": "fr", "voice": "de"}).voice_name() == "de"
    # A language name that is not a voice file name ("en-gb" is spoken by the file "gmw/en") still works.
    gb = EspeakVoice({"voice": "en-gb", "fit": False}).run(
        script=make_script(["Good evening."]), workdir=tmp_path, progress=no_progress
    )
    assert gb.voice.startswith("espeak-ng en-gb @") and len(gb.words) == 2
    (tmp_path / "zh").mkdir()
    script = make_script(["今天 天气很好。", "北京 欢迎 你。"], language="zh")
    narration = EspeakVoice({"language": "zh", "fit": False}).run(
        script=script, workdir=tmp_path / "zh", progress=no_progress
    )
    assert narration.voice.startswith("espeak-ng cmn @")
    # Chinese script words are characters, punctuation attached (pipeline.words.word_spans).
    assert [w.word for w in narration.words] == ["今", "天", "天", "气", "很", "好。", "北", "京", "欢", "迎", "你。"]
    assert all(a.start < b.start for a, b in zip(narration.words, narration.words[1:]))


def test_words_per_second_depends_on_the_rate_only():
    fast = EspeakVoice.words_per_second(EspeakVoice.Params(rate=200))
    assert fast == pytest.approx(200 / 60 * PACE_FACTOR)
    assert EspeakVoice.words_per_second(EspeakVoice.Params(rate=200, voice="fr", language="fr")) == fast
    assert EspeakVoice.words_per_second(EspeakVoice.Params()) < fast


def test_check_identity_and_pickle(three):
    provider = three[0]
    provider.check()
    ident = provider.identity()
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?.*", ident["espeak-ng"]) and ident["voice"] == "en-us"
    clone = pickle.loads(pickle.dumps(provider))
    assert isinstance(clone, EspeakVoice) and clone.params == provider.params
    with pytest.raises(NewsreelError):
        EspeakVoice({"rate": 20})


def test_pickled_provider_speaks_the_same(three, tmp_path):
    provider, script, narration = three
    clone = pickle.loads(pickle.dumps(provider))
    # Something else spoken in between (espeak keeps state across calls; the provider reloads it per pass).
    EspeakVoice({"rate": 300, "fit": False}).run(
        script=make_script(["Something else entirely, at another rate."]), workdir=tmp_path, progress=no_progress
    )
    (tmp_path / "again").mkdir()
    again = clone.run(script=script, workdir=tmp_path / "again", progress=no_progress)
    assert again.words == narration.words
    assert again.path.read_bytes() == narration.path.read_bytes()


def test_event_mapping_uses_one_based_code_point_positions():
    sentence = "Zürich — naïve 2024 costs"
    spans = word_spans(sentence)
    assert [sentence[a:b] for a, b in spans] == sentence.split()
    # (text_position 1-based, length, sample): "2024" gives several events inside the word; none for the dash.
    events = [(1, 6, 0), (10, 5, 900), (16, 4, 1500), (17, 4, 1800), (21, 5, 2600)]
    assert assign_events(spans, events) == [0, None, 900, 1500, 2600]
    # An event pointing at the blank after a word belongs to that word; a non-increasing one is dropped.
    assert assign_events(spans, [(1, 6, 500), (7, 1, 700), (10, 5, 300)]) == [500, None, None, None, None]


def test_cleaning_keeps_positions():
    text = "Wow 🎉\u200d🚀 great\u0007 news 👍🏽!"
    cleaned = clean_for_speech(text)
    assert len(cleaned) == len(text)
    assert cleaned.split() == ["Wow", "great", "news", "!"]


def test_chinese_without_spaces_is_timed_character_by_character(tmp_path):
    from pipeline.words import join_words, split_words

    sentences = ["北京市政府今天宣布了一项新的环保政策，市民普遍表示欢迎。", "专家说：“这是好消息。”"]
    script = make_script(sentences, language="zh")
    narration = EspeakVoice({"language": "zh", "fit": False}).run(script=script, workdir=tmp_path, progress=no_progress)
    words = [w.word for w in narration.words]
    assert words == [w for s in sentences for w in split_words(s)]
    assert join_words(words[: len(split_words(sentences[0]))]) == sentences[0]
    assert "策，" in words and "“这" in words and "息。”" in words  # punctuation stays with its character
    starts = [w.start for w in narration.words]
    assert all(a < b for a, b in zip(starts, starts[1:]))
    for w in narration.words:
        assert 0 <= w.start < w.end <= narration.duration
    # About a quarter of a second per character, as espeak's cmn voice speaks them (not a sentence-long blur).
    first = [w for w in narration.words if w.sentence == 0]
    per_char = (first[-1].end - first[0].start) / len("".join(w.word for w in first))
    assert 0.12 < per_char < 0.45
    samples, rate = read_wav(narration.path)
    for w in narration.words:
        seg = samples[int(w.start * rate) : int(w.end * rate)]
        assert np.abs(seg).max() > 1000, w  # every character has sound of its own


def test_arabic_words_are_timed_in_logical_order(tmp_path):
    sentences = ["أعلنت الحكومة اليوم عن خطة جديدة للطاقة.", "وقال الوزير إن المشروع سيبدأ العام المقبل."]
    narration = EspeakVoice({"language": "ar", "fit": False}).run(
        script=make_script(sentences, language="ar"), workdir=tmp_path, progress=no_progress
    )
    assert narration.voice.startswith("espeak-ng ar @")
    assert [w.word for w in narration.words] == " ".join(sentences).split()
    starts = [w.start for w in narration.words]
    assert all(a < b for a, b in zip(starts, starts[1:]))
    assert narration.words[-1].end <= narration.duration


def test_words_start_where_their_sound_starts(tmp_path):
    """Words start at their sound, not in the silence (pause or stop closure) before it."""
    script = make_script(["After a long and difficult vote, the council finally closed the old bridge."])
    narration = EspeakVoice({"fit": False}).run(script=script, workdir=tmp_path, progress=no_progress)
    samples, rate = read_wav(narration.path)
    peak = np.abs(samples).max()
    for w in narration.words:
        first = samples[int(round(w.start * rate)) : int(round(w.start * rate)) + int(0.005 * rate)]
        assert np.abs(first).max() > 0.01 * peak, w  # sound within 5 ms of the start
