"""Captions provider `subtitles`: cues from the narration's word times, written as SRT, WebVTT and styled ASS.

The cue building is pure (words in, cues out) so it can be tested without audio:

1. the words are cut into segments that no cue may cross: sentence ends and pauses longer than `PAUSE_SPLIT`;
2. each segment is partitioned into cues by a small dynamic programme: every cue must fit in `max_lines` lines of
   `max_line_chars` display columns (a word is never split), and the cheapest partition wins, where each cue costs
   a constant, a cue ending mid-phrase (not after , ; : . ! ? or a dash) costs extra, a half-empty cue costs a
   little and a cue that cannot keep under `max_cps` even when held until the next cue costs in proportion;
3. each cue's lines are balanced, preferring a break after punctuation;
4. each cue runs from its first word's start to its last word's end, held longer (into the silence that follows,
   never past the next cue's start) to reach `min_duration` and the reading-speed ceiling `max_cps`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import Field

from ...assets import FONT_FAMILY
from ...provider import Needs, Params, ProgressFn
from ...stages.captions import Captions, CaptionsProvider, Cue
from ...stages.script import Script
from ...stages.voice import Narration

PAUSE_SPLIT = 0.35  # seconds of silence between two words that always ends a cue
CLOSE_GAP = 0.2  # a gap shorter than this between two cues is closed (no flicker between them)
PHRASE_END = tuple(",;:.!?…。，、；：！？")
CLOSERS = "\"'”’»)]}›"
DASHES = {"-", "–", "—", "--"}

# Relative costs of the cue partition (see the module docstring).
CUE_COST = 10.0
MID_PHRASE_COST = 4.0
EMPTY_COST = 3.0
CPS_COST = 5.0

# Frame geometry. DejaVu Sans averages 0.49 em per character on mixed-case English news text (measured with PIL
# on a 160-character paragraph; 0.62 em on all capitals), and libass sizes a font so that its ascent + descent
# (1.164 em for DejaVu Sans) equals the ASS font size: about 0.42 x font size per character. Lines may use 90 %
# of the frame width, with 15 % headroom for wide words, and never more than 42 characters (the usual ceiling for
# readable subtitles). 1280x720 -> font 47, 42 chars; 1080x1920 and 1080x1080 -> font 70, 28 chars.
FONT_HEIGHT_FRACTION = 0.065  # of the frame's shorter side
CHAR_WIDTH_PER_FONT_SIZE = 0.42
WIDTH_HEADROOM = 1.15
LINE_WIDTH_FRACTION = 0.9
MAX_LINE_CHARS = 42


class WordLike(Protocol):
    word: str
    start: float
    end: float
    sentence: int


@dataclass(frozen=True)
class TimedWord:
    word: str
    start: float
    end: float
    sentence: int = 0


def default_font_size(width: int, height: int) -> int:
    return max(12, round(FONT_HEIGHT_FRACTION * min(width, height)))


def default_max_line_chars(width: int, height: int, font_size: int | None = None) -> int:
    size = font_size or default_font_size(width, height)
    fit = math.floor(LINE_WIDTH_FRACTION * width / (CHAR_WIDTH_PER_FONT_SIZE * WIDTH_HEADROOM * size))
    return max(8, min(MAX_LINE_CHARS, fit))


def display_width(text: str) -> int:
    """Columns a text takes: wide (CJK) characters count two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def ends_phrase(word: str) -> bool:
    """A word after which a cue or a line may end naturally: it ends with punctuation, or it is a dash."""
    if word in DASHES:
        return True
    core = word.rstrip(CLOSERS)
    return bool(core) and core.endswith(PHRASE_END)


def _min_lines(widths: Sequence[int], max_chars: int) -> int:
    """Lines a greedy fill needs (the fewest possible); a word wider than a line takes a line of its own."""
    lines, cur = 0, -1
    for w in widths:
        if cur >= 0 and cur + 1 + w <= max_chars:
            cur += 1 + w
        else:
            lines += 1
            cur = w
    return lines


def break_lines(words: Sequence[str], max_chars: int, max_lines: int = 2) -> list[str] | None:
    """The words as the fewest lines of at most max_chars columns, balanced; None when over max_lines lines.

    Among the breaks with the fewest lines, the chosen one minimises the spread of the line widths, with a bonus
    for a break right after punctuation (worth lines differing by up to half their mean width). Words are never split (a word wider than a line gets a line to itself).
    """
    if not words:
        return []
    widths = [display_width(w) for w in words]
    n_lines = _min_lines(widths, max_chars)
    if n_lines > max_lines:
        return None
    if n_lines == 1:
        return [" ".join(words)]
    n = len(words)
    mean = (sum(widths) + n - n_lines) / n_lines

    def line_width(i: int, j: int) -> int:
        return sum(widths[i:j]) + (j - i - 1)

    # best[k][j]: (cost, breaks) for words[:j] in k lines
    inf = (math.inf, ())
    best = [[inf] * (n + 1) for _ in range(n_lines + 1)]
    best[0][0] = (0.0, ())
    for k in range(1, n_lines + 1):
        for j in range(1, n + 1):
            for i in range(j - 1, -1, -1):
                lw = line_width(i, j)
                if lw > max_chars and j - i > 1:
                    break
                prev_cost, prev_breaks = best[k - 1][i]
                if prev_cost == math.inf:
                    continue
                cost = prev_cost + (lw - mean) ** 2
                if j < n and ends_phrase(words[j - 1]):
                    cost -= mean * mean / 8  # worth an imbalance of up to half a line
                if cost < best[k][j][0]:
                    best[k][j] = (cost, prev_breaks + (j,))
    breaks = best[n_lines][n][1]
    if not breaks:
        return None
    lines, i = [], 0
    for j in breaks:
        lines.append(" ".join(words[i:j]))
        i = j
    return lines


def segments(words: Sequence[WordLike], pause: float = PAUSE_SPLIT) -> list[tuple[int, int]]:
    """[i, j) ranges of words that no cue crosses: a new sentence or a pause over `pause` seconds starts one."""
    out, begin = [], 0
    for k in range(1, len(words)):
        prev, cur = words[k - 1], words[k]
        if cur.sentence != prev.sentence or cur.start - prev.end > pause:
            out.append((begin, k))
            begin = k
    if words:
        out.append((begin, len(words)))
    return out


def partition(
    words: Sequence[WordLike],
    begin: int,
    end: int,
    *,
    max_line_chars: int,
    max_lines: int,
    max_cps: float,
    hold_until: float,
) -> list[tuple[int, int]]:
    """The cheapest split of words[begin:end] into cues, as [i, j) ranges (see the module docstring)."""
    capacity = max_lines * max_line_chars
    texts = [w.word for w in words]
    best: list[tuple[float, int]] = [(0.0, begin)] + [(math.inf, begin)] * (end - begin)
    for j in range(begin + 1, end + 1):
        for i in range(j - 1, begin - 1, -1):
            if j - i > 1 and break_lines(texts[i:j], max_line_chars, max_lines) is None:
                break  # a longer cue would not fit either
            chars = len(" ".join(texts[i:j]))
            cost = CUE_COST
            if j < end and not ends_phrase(texts[j - 1]):
                cost += MID_PHRASE_COST
            cost += EMPTY_COST * max(0.0, 1.0 - chars / capacity) ** 2
            window = (words[j].start if j < end else hold_until) - words[i].start
            if window > 0 and chars / window > max_cps:
                cost += CPS_COST * (chars / window - max_cps) / max_cps
            total = best[i - begin][0] + cost
            if total < best[j - begin][0]:
                best[j - begin] = (total, i)
    ranges, j = [], end
    while j > begin:
        i = best[j - begin][1]
        ranges.append((i, j))
        j = i
    return ranges[::-1]


def build_cues(
    words: Sequence[WordLike],
    *,
    max_line_chars: int = MAX_LINE_CHARS,
    max_lines: int = 2,
    max_cps: float = 17.0,
    min_duration: float = 0.8,
    end_limit: float | None = None,
    pause: float = PAUSE_SPLIT,
) -> list[Cue]:
    """Timed caption cues from word timings (start, end and sentence of every spoken word, in order).

    Every word appears in exactly one cue, in order. Cue times are rounded to milliseconds; each cue ends at or
    before the next one starts, and no later than `end_limit` (the audio's end) when given.
    """
    if not words:
        return []
    segs = segments(words, pause)
    ranges: list[tuple[int, int]] = []
    for s, (b, e) in enumerate(segs):
        hold = words[segs[s + 1][0]].start if s + 1 < len(segs) else (end_limit if end_limit is not None else math.inf)
        hold = min(hold, words[e - 1].end + 10.0)
        ranges += partition(
            words, b, e, max_line_chars=max_line_chars, max_lines=max_lines, max_cps=max_cps, hold_until=hold
        )
    limit = math.inf if end_limit is None else end_limit
    starts = [words[i].start for i, _ in ranges]
    cues: list[Cue] = []
    for k, (i, j) in enumerate(ranges):
        texts = [w.word for w in words[i:j]]
        lines = break_lines(texts, max_line_chars, max_lines) or [" ".join(texts)]
        start = starts[k]
        next_start = starts[k + 1] if k + 1 < len(ranges) else limit
        speech_end = max(w.end for w in words[i:j])
        needed = max(min_duration, len(" ".join(texts)) / max_cps)
        stop = min(max(speech_end, start + needed), next_start, limit)
        if next_start - stop < CLOSE_GAP and next_start != math.inf:
            stop = next_start
        start_ms = round(start * 1000)
        stop_ms = max(round(stop * 1000), start_ms + 1)
        if k + 1 < len(ranges):
            stop_ms = min(stop_ms, round(next_start * 1000))
        cues.append(Cue(start=start_ms / 1000, end=stop_ms / 1000, text="\n".join(lines)))
    return cues


def _ass_text(text: str) -> str:
    """Cue text as ASS event text: braces would start override tags and backslashes escapes."""
    text = text.replace("\\", "\u2216").replace("{", "(").replace("}", ")")
    return text.replace("\n", r"\N")


def write_subtitles(cues: Sequence[Cue], workdir: Path, *, width: int, height: int, font_size: int) -> dict[str, Path]:
    """captions.srt, captions.vtt and a styled captions.ass (PlayRes = the frame) in workdir."""
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(width)
    subs.info["PlayResY"] = str(height)
    subs.info["ScaledBorderAndShadow"] = "yes"
    subs.info["WrapStyle"] = "0"
    subs.info["Title"] = "newsreel captions"
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=FONT_FAMILY,
        fontsize=font_size,
        primarycolor=pysubs2.Color(255, 255, 255, 0),
        secondarycolor=pysubs2.Color(255, 255, 255, 0),
        outlinecolor=pysubs2.Color(0, 0, 0, 0),
        backcolor=pysubs2.Color(0, 0, 0, 110),
        bold=False,
        borderstyle=1,
        outline=max(1.0, round(font_size * 0.07, 1)),
        shadow=max(0.5, round(font_size * 0.035, 1)),
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=round(0.05 * width),
        marginr=round(0.05 * width),
        marginv=round(0.06 * height),
    )
    for cue in cues:
        subs.events.append(
            pysubs2.SSAEvent(start=round(cue.start * 1000), end=round(cue.end * 1000), text=_ass_text(cue.text))
        )
    out = {}
    for ext in ("srt", "vtt", "ass"):
        path = Path(workdir) / f"captions.{ext}"
        subs.save(str(path), format_=ext)
        out[ext] = path.resolve()
    return out


class SubtitleCaptions(CaptionsProvider):
    name = "subtitles"
    version = "1"
    summary = "cues of one or two lines from the narration's word times; SRT, WebVTT and styled ASS (pysubs2)"
    needs = Needs(packages=("pysubs2",))

    class Params(Params):
        width: int = Field(1280, ge=16)
        height: int = Field(720, ge=16)
        max_line_chars: int | None = Field(None, ge=8)  # default: from the frame width and the font size
        max_lines: int = Field(2, ge=1, le=4)
        max_cps: float = Field(17.0, gt=0)  # reading-speed ceiling, characters per second
        min_duration: float = Field(0.8, ge=0)  # seconds a cue stays up at least, where the next one allows
        font_size: int | None = Field(None, ge=6)  # ASS font size in frame pixels; default 6.5 % of the shorter side

    def font_size(self) -> int:
        return self.params.font_size or default_font_size(self.params.width, self.params.height)

    def max_line_chars(self) -> int:
        p = self.params
        return p.max_line_chars or default_max_line_chars(p.width, p.height, self.font_size())

    def run(self, *, script: Script, voice: Narration, workdir: Path, progress: ProgressFn) -> Captions:
        p = self.params
        progress(0.0, "building cues")
        cues = build_cues(
            voice.words,
            max_line_chars=self.max_line_chars(),
            max_lines=p.max_lines,
            max_cps=p.max_cps,
            min_duration=p.min_duration,
            end_limit=voice.duration,
        )
        files = write_subtitles(cues, Path(workdir), width=p.width, height=p.height, font_size=self.font_size())
        progress(1.0, f"{len(cues)} cues")
        return Captions(cues=cues, srt=files["srt"], vtt=files["vtt"], ass=files["ass"])
