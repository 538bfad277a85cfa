"""IPA phonemes -> Preston Blair mouth shapes (the set Rhubarb Lip Sync animates with).

A  closed, lips pressed: M, B, P            E  slightly rounded: AO (thought), ER (bird)
B  slightly open, teeth together: most      F  puckered: UW (you), OW, W
   consonants (K, S, T), EE (see)           G  upper teeth on the lower lip: F, V
C  open: EH (bed), AE (cat)                 H  tongue raised behind the teeth: L (long ones)
D  wide open: AA (father)                   X  rest, between phrases

Vowels have one shape (a diphthong two, 60 % then 40 %). Most consonants can be said with several shapes: the
mouth is already on its way to the next vowel, so such a consonant takes the shape of its set nearest the
neighbouring vowel's (the "t" in "two" is puckered, in "tea" it is not), as Rhubarb does. Works on any language
espeak-ng phonemises: the IPA symbol decides, not the spelling.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Base symbols of vowels in espeak-ng's IPA output.
VOWELS = frozenset("aeiouyæɑɐɒɔəɘɚɛɜɝɞɤɨɪɯɵøœɶʉʊʌʏᵻ")
MARKS = frozenset("ˈˌːˑ‿͡-0123456789")  # stress, length, ties, tone numbers (Mandarin)

VOWEL_SHAPE = {
    "ɑ": "D", "ɶ": "D",
    "a": "C", "æ": "C", "ɐ": "C", "e": "C", "ɛ": "C", "ə": "C", "ɘ": "C", "ʌ": "C",
    "ɒ": "E", "ɔ": "E", "o": "E", "ɤ": "E", "ɵ": "E", "ø": "E", "œ": "E", "ɞ": "E",
    "ɜ": "E", "ɝ": "E", "ɚ": "E",
    "i": "B", "ɪ": "B", "ᵻ": "B", "ɨ": "B", "ɯ": "B",
    "u": "F", "ʊ": "F", "ʉ": "F", "y": "F", "ʏ": "F",
}  # fmt: skip

# Consonants said with one shape.
FIXED = {
    "p": "A", "b": "A", "m": "A", "ɸ": "A", "β": "A",
    "f": "G", "v": "G", "ɱ": "G", "ʋ": "G",
    "l": "H", "ɫ": "H", "ʎ": "H", "ɬ": "H", "ɭ": "H",
    "w": "F", "ʍ": "F", "ɥ": "F",
}  # fmt: skip

ANY = "ABCDEFGH"
# Consonants said with any shape of a set, in order of preference.
FLEXIBLE = {
    "t": "BF", "d": "BF", "ɾ": "BF", "ʈ": "BF", "ɖ": "BF",
    "s": "BF", "z": "BF", "θ": "BF", "ð": "BF", "ʃ": "BF", "ʒ": "BF",
    "ɕ": "BF", "ʑ": "BF", "ʂ": "BF", "ʐ": "BF",
    "tʃ": "BF", "dʒ": "BF", "ts": "BF", "dz": "BF", "tɕ": "BF", "dʑ": "BF", "ʈʂ": "BF",
    "k": "BCEFH", "g": "BCEFH", "ɡ": "BCEFH", "q": "BCEFH", "x": "BCEFH", "ɣ": "BCEFH", "χ": "BCEFH", "c": "BCEFH",
    "n": "BCFH", "ɲ": "BCFH", "ɳ": "BCFH", "ŋ": "BCEF", "ɴ": "BCEF",
    "ɹ": "BEF", "r": "BEF", "ʁ": "BEF", "ʀ": "BEF", "ɻ": "BEF", "ɽ": "BEF",
    "j": "BCF", "ç": "BCF", "ʝ": "BCF",
    "h": ANY, "ɦ": ANY, "ʔ": ANY, "ħ": ANY, "ʕ": ANY,
}  # fmt: skip
DEFAULT_FLEXIBLE = "BF"

# How open and how rounded each shape is: the distance between two shapes is how far the mouth moves.
_OPEN = {"A": 0.0, "B": 1.0, "C": 2.0, "D": 3.0, "E": 2.0, "F": 1.0, "G": 0.5, "H": 2.0, "X": 0.0}
_ROUND = {"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.0, "E": 1.0, "F": 2.0, "G": 0.0, "H": 0.0, "X": 0.0}

# The shape a held mouth relaxes to in a short pause inside a phrase.
RELAXED = {"A": "A", "B": "B", "C": "B", "D": "C", "E": "C", "F": "B", "G": "X", "H": "B", "X": "X"}

LONG_VOWEL = 0.20  # seconds: a longer AH or open A is said wide open (D), a shorter one open (C)
SHORT_ER = 0.07  # seconds: a shorter ER is a schwa (C)


def base(phoneme: str) -> str:
    """The phoneme without stress, length, tone or diacritics: "ˈaʊ" -> "aʊ", "ɑ̃ː" -> "ɑ"."""
    decomposed = unicodedata.normalize("NFD", phoneme)
    return "".join(ch for ch in decomposed if ch not in MARKS and not unicodedata.combining(ch))


def is_vowel(phoneme: str) -> bool:
    b = base(phoneme)
    return bool(b) and b[0] in VOWELS


def weight(phoneme: str) -> float:
    """A phoneme's share of its word's time: vowels last about twice a consonant, long ones and diphthongs more."""
    b = base(phoneme)
    if not b:
        return 0.0
    if b[0] in VOWELS:
        long = "ː" in phoneme or sum(ch in VOWELS for ch in b) > 1
        return 2.6 if long else 2.0
    return 1.0


def distance(a: str, b: str) -> float:
    return abs(_OPEN[a] - _OPEN[b]) + abs(_ROUND[a] - _ROUND[b])


def nearest(choices: str, reference: str | None) -> str:
    """The shape among `choices` the mouth reaches most easily from `reference` (ties: the earlier choice)."""
    if reference is None:
        return choices[0]
    if choices == ANY:
        return reference
    return min(choices, key=lambda s: (distance(s, reference), choices.index(s)))


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    phoneme: str


def vowel_shapes(phoneme: str, seconds: float) -> list[tuple[float, str]]:
    """(fraction of the segment, shape) for a vowel: one part, or a diphthong's two (60 % / 40 %)."""
    b = [ch for ch in base(phoneme) if ch in VOWELS]
    first = _vowel(b[0], phoneme, seconds)
    if len(b) == 1:
        return [(1.0, first)]
    second = VOWEL_SHAPE.get(b[1], "B")
    if b[0] in "aɐ" and b[1] == "ʊ":  # "now": open, then rounded (not the full pucker)
        second = "E"
    if b[0] == "ə" and b[1] == "ʊ":  # British "go": rounded, then puckered
        first = "E"
    return [(0.6, first), (0.4, second)]


def _vowel(symbol: str, phoneme: str, seconds: float) -> str:
    if symbol in "ʌa":  # AH / open A: wide open only when held
        return "D" if seconds >= LONG_VOWEL or "ː" in phoneme else "C"
    if symbol in "ɜɝɚ" and seconds < SHORT_ER:
        return "C"
    return VOWEL_SHAPE.get(symbol, "C")


def parts(segment: Segment) -> list[Segment]:
    """A timed phoneme as the mouth says it: a diphthong in its two parts (`vowel_shapes`), anything else whole."""
    if not is_vowel(segment.phoneme):
        return [segment]
    shares = [fraction for fraction, _shape in vowel_shapes(segment.phoneme, segment.end - segment.start)]
    out, t = [], segment.start
    for k, fraction in enumerate(shares):
        end = segment.end if k == len(shares) - 1 else t + fraction * (segment.end - segment.start)
        out.append(Segment(t, end, segment.phoneme))
        t = end
    return out


def consonant_choices(phoneme: str) -> str:
    b = base(phoneme)
    if b in FIXED:
        return FIXED[b]
    if b in FLEXIBLE:
        return FLEXIBLE[b]
    head = b[:1]
    return FIXED.get(head) or FLEXIBLE.get(head) or DEFAULT_FLEXIBLE


def shapes(segments: list[Segment]) -> list[tuple[float, float, str]]:
    """(start, end, shape) for one word's phoneme segments, in order."""
    vowel_shape: list[str | None] = []
    for seg in segments:
        vowel_shape.append(vowel_shapes(seg.phoneme, seg.end - seg.start)[0][1] if is_vowel(seg.phoneme) else None)
    out: list[tuple[float, float, str]] = []
    for i, seg in enumerate(segments):
        if is_vowel(seg.phoneme):
            t = seg.start
            for fraction, shape in vowel_shapes(seg.phoneme, seg.end - seg.start):
                end = t + fraction * (seg.end - seg.start)
                out.append((t, end, shape))
                t = end
            continue
        # The mouth heads for the next vowel of the word; at the word's end it stays with the last one.
        following = next((s for s in vowel_shape[i + 1 :] if s), None)
        preceding = next((s for s in reversed(vowel_shape[:i]) if s), None)
        out.append((seg.start, seg.end, nearest(consonant_choices(seg.phoneme), following or preceding)))
    return out


SONORANTS = frozenset("mnŋɲɳɴlɫɹrɻwjʋɥ")  # voiced and steady: as loud as a quiet vowel, so no pull either way
HOP = 0.01  # seconds: the loudness envelope's step when phonemes are placed on it


def place(phonemes: list[str], start: float, end: float, level: "np.ndarray | None") -> list[Segment]:
    """A word's phonemes over its time span, placed on the narration's loudness: vowels where the voice is loud,
    stops and fricatives where it is quiet, each near its `weight` share of the word (a dynamic programme over
    HOP steps). `level` is the narration's loudness per HOP, 0 (a pause) to 1 (its speaking level); without it,
    or for a word shorter than a step per phoneme, the shares alone (`spread`)."""
    import numpy as np

    kept = [p for p in phonemes if weight(p) > 0]
    first, last = round(start / HOP), min(round(end / HOP), 0 if level is None else len(level))
    steps = last - first
    if level is None or not kept or steps < len(kept) or len(kept) > 40:
        return spread(phonemes, start, end)
    env = level[first:last]
    total = sum(weight(p) for p in kept)
    # cost[j][e]: the best placement of phonemes 0..j with phoneme j ending at step e (exclusive).
    ends = np.arange(steps + 1)
    inf = np.inf
    best = np.full(steps + 1, inf)
    best[0] = 0.0
    back = []
    for j, p in enumerate(kept):
        b = base(p)
        pull = (1.0 - env) if is_vowel(p) else (np.zeros(steps) if b[:1] in SONORANTS else env)
        prefix = np.concatenate([[0.0], np.cumsum(pull)])
        expected = steps * weight(p) / total
        # length[s, e] = e - s; a segment is at least one step long.
        length = ends[None, :] - ends[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            duration = 0.8 * np.log(np.where(length > 0, length, 1) / expected) ** 2
        cost = best[:, None] + (prefix[None, :] - prefix[:, None]) + duration
        cost[length < 1] = inf
        choice = np.argmin(cost, axis=0)
        best = cost[choice, ends]
        back.append(choice)
    out, e = [], steps
    for j in range(len(kept) - 1, -1, -1):
        s = int(back[j][e])
        out.append(Segment(start + s * (end - start) / steps, start + e * (end - start) / steps, kept[j]))
        e = s
    return out[::-1]


def spread(phonemes: list[str], start: float, end: float) -> list[Segment]:
    """A word's phonemes over its time span, each taking a share by `weight` (vowels longer)."""
    kept = [p for p in phonemes if weight(p) > 0]
    total = sum(weight(p) for p in kept)
    if not kept or end <= start:
        return []
    out, t = [], start
    for p in kept:
        step = (end - start) * weight(p) / total
        out.append(Segment(t, t + step, p))
        t += step
    return out
