"""Placing script words on Piper's phoneme durations (pure functions: no model, no piper-tts needed)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.providers.voice._piper_words import Timed, core, phoneme_samples, word_spans

ID_MAP = {"_": [0], "^": [1], "$": [2], " ": [3], ",": [8], "ˈ": [120], **{ch: [10 + i] for i, ch in enumerate("abdeiklmnostuvzðɪəɛ")}}


def timed(phonemes: str, each: int = 100) -> list[Timed]:
    """A sentence whose every id (phonemes and pads alike) gets `each` samples."""
    ids_per_phoneme = [ph for ph in phonemes if ph in ID_MAP]
    per_id = [each] * (2 + 2 * len(ids_per_phoneme) + 1)
    return phoneme_samples(ID_MAP, list(phonemes), per_id)


def test_phoneme_samples_follow_the_id_layout_and_skip_marks():
    # ids: ^ _ ˈ _ m _ ɪ _   _ ð _ ə _ $  -> each phoneme starts after BOS and pad, and its pad belongs to it
    out = phoneme_samples(ID_MAP, list("ˈmɪ ðə"), [5, 7, 1, 1, 10, 2, 20, 3, 4, 4, 30, 1, 40, 6, 9])
    assert [(t.phoneme, t.start, t.end) for t in out] == [("m", 14, 24), ("ɪ", 26, 46), ("ð", 57, 87), ("ə", 88, 128)]
    # a phoneme the voice does not know is skipped, as piper skips it, without shifting the others
    assert [t.phoneme for t in phoneme_samples(ID_MAP, list("m?ɪ"), [1] * 7)] == ["m", "ɪ"]


def test_joined_words_are_split_where_their_phonemes_meet():
    """espeak says "in the" as one phoneme word; each script word still gets its own span."""
    sentence = timed("ɪnðə mˈuːn")  # "in the moon" (ː is not in this voice's map: skipped)
    spans, matched, total = word_spans(sentence, [list("ɪn"), list("ðə"), list("mˈuːn")], 10_000)
    assert matched == total == 7
    assert spans[1][0] == sentence[2].start  # "the" starts at ð...
    assert spans[0][1] == sentence[1].end == spans[1][0] - 100  # ...one pad id after "in" ends with its n
    assert spans[2][0] == sentence[4].start and spans[2][1] == 10_000  # the last word runs to the sentence's end


def test_a_word_with_no_phonemes_takes_the_gap_and_times_never_go_back():
    sentence = timed("ɛnd stɑːt")
    spans, matched, total = word_spans(sentence, [list("ɛnd"), list("—"), list("stɑːt")], 5_000)
    assert core(list("—")) == [] and total == matched + 1  # ɑ is unknown to this voice: unmatched
    assert spans[1] == (spans[0][1], spans[2][0])
    assert all(a <= b for a, b in spans) and all(spans[i][1] <= spans[i + 1][0] for i in range(2))


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(alphabet="abdeiklmnostuvzðɪəɛ —,", min_size=0, max_size=6), min_size=1, max_size=8),
    said=st.text(alphabet="abdeiklmnostuvzðɪəɛ ,", min_size=0, max_size=40),
    length=st.integers(min_value=0, max_value=20_000),
)
def test_spans_are_monotonic_and_inside_the_sentence_whatever_the_phonemes(words, said, length):
    spans, matched, total = word_spans(timed(said, 37), [list(w) for w in words], length, onset=min(length, 50))
    assert len(spans) == len(words) and 0 <= matched <= total
    floor = 0
    for start, end in spans:
        assert floor <= start <= end <= max(length, 0)
        floor = end
    assert spans[0][0] <= min(length, 50)  # the first word starts by the sound's onset at the latest
    assert spans[-1][1] == max(length, spans[-1][0])  # the last word ends with the sentence
