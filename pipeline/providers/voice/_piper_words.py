"""Word times from Piper's own alignment: the samples its model spends on each phoneme, matched to the script's words.

Piper's VITS model decides how many audio samples each phoneme id gets (its duration predictor's `w_ceil`); the
model, patched to return those counts, tells exactly where each phoneme of a sentence lies in the audio. What it
does not say is which phonemes belong to which script word: espeak-ng phonemizes a whole sentence at once, joins
unstressed words ("in the" -> one phoneme word `ɪnðə`), spells numbers out ("2024" -> three words) and drops
punctuation. So each script word is also phonemized alone, and its phonemes are matched to the sentence's
(difflib's longest matching blocks, stress and length marks ignored): a word starts at the sample of its first
matched phoneme and ends where its last matched phoneme ends. A word none of whose phonemes match (a lone dash,
a symbol espeak reads differently alone) gets the gap between its neighbours.

The result is monotonic by construction and never needs to hear the audio; `matched_share` (how many of the
script's phonemes found their place) is recorded in run.json as a quality signal.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

# Codepoints that carry no sound of their own: stress, length and tie marks, word spaces, punctuation. They are
# left out of the matching (espeak marks stress differently in a word alone and in a sentence).
_MARKS = set("ˈˌːˑ‿͡ \t\n") | set("!'(),-.:;?\"¡¿…—–")
PAD, BOS, EOS = "_", "^", "$"


def core(phonemes: Sequence[str]) -> list[str]:
    """The sounding phonemes of a phoneme list (combining accents kept with their letter's position)."""
    return [ph for ph in phonemes if ph not in _MARKS and not unicodedata.combining(ph[:1] or " ")]


@dataclass(frozen=True)
class Timed:
    """One sounding phoneme of a sentence: the phoneme and its [start, end) in samples from the sentence start."""

    phoneme: str
    start: int
    end: int


def phoneme_samples(id_map: Mapping[str, Sequence[int]], phonemes: Sequence[str], per_id: Sequence[int], offset: int = 0) -> list[Timed]:
    """The sounding phonemes of one chunk with their sample spans, from the samples per phoneme id that the patched
    model returned for `piper.phoneme_ids.phonemes_to_ids(phonemes)` (BOS, pad, then each known phoneme's ids and a
    pad, then EOS; phonemes missing from the map are skipped there and here alike)."""
    counts = [int(n) for n in per_id]
    pos = len(id_map[BOS]) + len(id_map[PAD])
    cum = sum(counts[:pos])
    out: list[Timed] = []
    pad = len(id_map[PAD])
    for ph in phonemes:
        ids = id_map.get(ph)
        if ids is None:
            continue
        own = sum(counts[pos : pos + len(ids)])
        if ph not in _MARKS and not unicodedata.combining(ph[:1] or " "):
            out.append(Timed(ph, offset + cum, offset + cum + own))
        step = len(ids) + pad
        cum += sum(counts[pos : pos + step])
        pos += step
    return out


def word_spans(
    sentence: Sequence[Timed], words: Sequence[Sequence[str]], length: int, onset: int = 0
) -> tuple[list[tuple[int, int]], int, int]:
    """Each word's (start, end) sample in a sentence of `length` samples (trimmed to its sound), given the sentence's
    timed phonemes and each word's own phonemes (phonemized alone). Returns (spans, phonemes matched, phonemes of
    the words). The first word starts at its first phoneme or at the sentence's sound `onset`, whichever is earlier
    (Piper's sound may start a few frames before its first phoneme's own), and the last word ends where the trimmed
    sentence does (its sound may ring on into the frames of the final punctuation).

    Spans never go back: each start is at or after the previous word's end, each end at or after its start, all
    within 0..length."""
    said = [t.phoneme for t in sentence]
    owner: list[int] = []  # for each phoneme of the words, joined, the index of its word
    joined: list[str] = []
    for k, word in enumerate(words):
        mine = core(word)
        joined += mine
        owner += [k] * len(mine)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    matched = 0
    blocks = SequenceMatcher(None, joined, said, autojunk=False).get_matching_blocks()
    for a, b, size in blocks:
        for i in range(size):
            k, j = owner[a + i], b + i
            first.setdefault(k, j)
            last[k] = j
            matched += 1
    spans: list[tuple[int, int]] = []
    floor = 0
    for k in range(len(words)):
        if k in first:
            start = max(floor, sentence[first[k]].start)
            end = max(start, sentence[last[k]].end)
        else:  # nothing of it was matched: the gap up to the next matched word, at least an empty span here
            start = floor
            later = [sentence[first[n]].start for n in range(k + 1, len(words)) if n in first]
            end = max(start, later[0] if later else length)
            if later and k + 1 < len(words) and (k + 1) not in first:
                end = start  # several unmatched words in a row: all at the gap's start, none overlapping
        start, end = min(start, length), min(end, length)
        spans.append((start, end))
        floor = end
    if spans:  # the sentence is trimmed to its sound: its first word starts, and its last word ends, with it
        spans[0] = (max(0, min(spans[0][0], onset)), spans[0][1])
        spans[-1] = (spans[-1][0], max(spans[-1][1], length))
    return spans, matched, len(joined)
