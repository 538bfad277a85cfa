"""Phonemes to mouth shapes: real words through espeak-ng, and the mapping rules on IPA."""

from __future__ import annotations

import pytest

from pipeline.providers.presenter import _visemes as V
from pipeline.providers.presenter._phonemes import phonemize


def word_shapes(words: list[str], language: str = "en") -> dict[str, str]:
    """Each word's shapes in order, the word spoken over 0.4 s."""
    found = phonemize(words, language)
    return {w: "".join(s for _, _, s in V.shapes(V.spread(ph, 0.0, 0.4))) for w, ph in zip(words, found.words)}


def test_known_english_words_get_their_telling_shapes():
    shapes = word_shapes(["map", "fish", "look", "you", "father", "thought", "we"])
    assert shapes["map"][0] == "A" and shapes["map"][-1] == "A"  # lips closed for M and P
    assert shapes["fish"][0] == "G"  # F: upper teeth on the lower lip
    assert "H" in shapes["look"]  # L: the tongue raised
    assert set(shapes["you"]) == {"F"}  # Y heads for the puckered OO
    assert "D" in shapes["father"]  # the long open AA
    assert "E" in shapes["thought"]  # AO, rounded
    assert shapes["we"][0] == "F"  # W
    assert "X" not in "".join(shapes.values())  # rest is for pauses only


def test_other_languages_are_phonemised_by_their_own_voice():
    found = phonemize(["über", "Mann"], "de")
    assert found.voice == "de"
    assert V.shapes(V.spread(found.words[0], 0, 0.4))[0][2] == "F"  # ü is rounded
    assert V.shapes(V.spread(found.words[1], 0, 0.4))[0][2] == "A"
    unknown = phonemize(["hello"], "xx")
    assert unknown.voice == "en" and unknown.words[0]  # no such voice: read as English, the mouth still moves


def test_numbers_symbols_and_emoji():
    found = phonemize(["2024", "—", "🎉", "hello."], "en")
    assert len(found.words[0]) > 8  # "two thousand and twenty four"
    assert found.words[1] == [] and found.words[2] == []  # not spoken, not read out by name
    assert found.words[3][0] == "h"


@pytest.mark.parametrize(
    ("ipa", "shape"),
    [("ˈɑː", "D"), ("ɔː", "E"), ("uː", "F"), ("ɪ", "B"), ("ɛ", "C"), ("æ", "C"), ("ɜː", "E"), ("y", "F")],
)
def test_vowels(ipa, shape):
    assert V.vowel_shapes(ipa, 0.15)[0][1] == shape


def test_diphthongs_take_two_shapes_and_long_ah_opens_wide():
    assert [s for _, s in V.vowel_shapes("ˈeɪ", 0.2)] == ["C", "B"]
    assert [s for _, s in V.vowel_shapes("əʊ", 0.2)] == ["E", "F"]
    assert [s for _, s in V.vowel_shapes("aʊ", 0.2)] == ["D", "E"]
    assert V.vowel_shapes("ʌ", 0.1)[0][1] == "C" and V.vowel_shapes("ʌ", 0.3)[0][1] == "D"


def test_a_consonant_takes_the_shape_nearest_its_vowel():
    def first(phonemes):
        return V.shapes(V.spread(phonemes, 0, 0.4))[0][2]

    assert first(["t", "uː"]) == "F"  # "two": the lips are already rounding
    assert first(["t", "iː"]) == "B"  # "tea"
    assert first(["k", "ɑː"]) == "C"  # "car"
    assert first(["h", "ɑː"]) == "D"  # H is said with whatever comes next
    assert first(["m", "uː"]) == "A"  # M closes the lips whatever follows


def test_vowels_get_more_time_than_consonants():
    segments = V.spread(["m", "ˈa", "p"], 1.0, 1.4)
    assert segments[0].start == 1.0 and segments[-1].end == pytest.approx(1.4)
    lengths = [s.end - s.start for s in segments]
    assert lengths[1] == pytest.approx(2 * lengths[0]) and lengths[0] == pytest.approx(lengths[2])
    assert V.base("ˈɑ̃ː") == "ɑ" and V.base("ˈuo2") == "uo"
