"""Captions provider `subtitles`: cues from the narration's word times, written as SRT, WebVTT and styled ASS.

The cue building is pure (words in, cues out) so it can be tested without audio:

1. the words are cut into segments that no cue may cross: sentence ends, and (style `phrase`) pauses longer than
   `PAUSE_SPLIT`;
2. each segment is partitioned into cues by a small dynamic programme: every cue must fit in `max_lines` lines of
   `max_line_chars` display columns (a word is never split), and the cheapest partition wins, where each cue costs
   a constant, a cue ending mid-phrase (not after , ; : . ! ? or a dash) costs extra, a half-empty cue costs a
   little and a cue that cannot keep under `max_cps` even when held until the next cue costs in proportion;
3. each cue's lines are balanced, preferring a break after punctuation;
4. each cue runs from its first word's start to its last word's end, held longer (into the silence that follows,
   never past the next cue's start) to reach `min_duration` and the reading-speed ceiling `max_cps`; a cue that
   still cannot be read in time may appear up to `max_lead` seconds before its first word is spoken, taking the
   time from the silence before it or from a previous cue that has time to spare.

Styles: `phrase` (the default: one or two lines broken at phrase boundaries and pauses), `sentence` (whole
sentences, split only where a sentence does not fit), `word` (one word at a time; the reading-speed ceiling
cannot hold there) and `karaoke` (phrase cues whose ASS events carry `\\k` tags, so the spoken word lights up).

Scripts: words are the script's words (`pipeline.words.split_words`): in Chinese and Japanese a word is one
character with its punctuation, and words are joined without spaces there, so a line can break between any two
characters but never before a closing mark. Widths count a CJK character as two columns. Right-to-left text
(Arabic, Persian, Hebrew) is written in logical order; the ASS style's Encoding is -1, which tells libass to take
the paragraph direction from the text (otherwise it lays the line out left to right and the full stop lands on
the wrong side); libass's complex shaping joins the Arabic letters. The caption font follows the script of the
text (and the language): DejaVu Sans for Latin, Greek, Cyrillic and Hebrew, Droid Sans Fallback for CJK, Noto
Sans Arabic for Arabic script, all shipped in assets/fonts with their licences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import Field

from ...assets import FONT_FAMILY
from ...fonts import caption_font
from ...provider import Needs, Params, ProgressFn
from ...stages.captions import Captions, CaptionsProvider, Cue
from ...stages.script import Script
from ...stages.voice import Narration
from ...words import display_width, is_rtl, spaces_before

PAUSE_SPLIT = 0.35  # seconds of silence between two words that always ends a cue
CLOSE_GAP = 0.2  # a gap shorter than this between two cues is closed (no flicker between them)
PHRASE_END = tuple(",;:.!?…。，、；：！？")
CLOSERS = "\"'”’»)]}›」』）》〉】〕"
DASHES = {"-", "–", "—", "--"}
MAX_LEAD = 0.3  # seconds a cue may appear before its first word when it needs the time to be read

# Relative costs of the cue partition (see the module docstring).
CUE_COST = 10.0
MID_PHRASE_COST = 4.0
EMPTY_COST = 3.0
CPS_COST = 5.0
SENTENCE_CUE_COST = 100.0  # style `sentence`: as few cues as fit

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

HIGHLIGHT = (255, 212, 0)  # karaoke: the colour a word turns when it is spoken (RGB)

Style = Literal["phrase", "sentence", "word", "karaoke"]


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


def ends_phrase(word: str) -> bool:
    """A word after which a cue or a line may end naturally: it ends with punctuation, or it is a dash."""
    if word in DASHES:
        return True
    core = word.rstrip(CLOSERS)
    return bool(core) and core.endswith(PHRASE_END)


# ---------------------------------------------------------------------------------------------------------------
# Lines


def _spaces(words: Sequence[str], spaces: Sequence[bool] | None) -> list[int]:
    """Columns between word k-1 and word k (index 0 unused): 1 where a space is written, else 0."""
    if spaces is None:
        return [0] + [1] * (len(words) - 1)
    return [0] + [1 if spaces[k] else 0 for k in range(1, len(words))]


def join_line(words: Sequence[str], spaces: Sequence[bool] | None = None) -> str:
    gaps = _spaces(words, spaces)
    return "".join((" " if gaps[k] and k else "") + w for k, w in enumerate(words))


def _min_lines(widths: Sequence[int], max_chars: int, gaps: Sequence[int] | None = None) -> int:
    """Lines a greedy fill needs (the fewest possible); a word wider than a line takes a line of its own."""
    gaps = gaps if gaps is not None else [0] + [1] * (len(widths) - 1)
    lines, cur = 0, -1
    for k, w in enumerate(widths):
        if cur >= 0 and cur + gaps[k] + w <= max_chars:
            cur += gaps[k] + w
        else:
            lines += 1
            cur = w
    return lines


def line_breaks(words: Sequence[str], max_chars: int, max_lines: int = 2, spaces: Sequence[bool] | None = None) -> list[int] | None:
    """Word indices where each line ends (the last is len(words)), as in `break_lines`; None when over max_lines."""
    if not words:
        return []
    widths = [display_width(w) for w in words]
    gaps = _spaces(words, spaces)
    n_lines = _min_lines(widths, max_chars, gaps)
    if n_lines > max_lines:
        return None
    n = len(words)
    if n_lines == 1:
        return [n]
    mean = (sum(widths) + sum(gaps[1:])) / n_lines
    prefix = [0]
    for k in range(n):
        prefix.append(prefix[-1] + widths[k] + (gaps[k] if k else 0))

    def line_width(i: int, j: int) -> int:
        return prefix[j] - prefix[i] - (gaps[i] if i else 0)

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
    return list(breaks) if breaks else None


def break_lines(words: Sequence[str], max_chars: int, max_lines: int = 2, spaces: Sequence[bool] | None = None) -> list[str] | None:
    """The words as the fewest lines of at most max_chars columns, balanced; None when over max_lines lines.

    Among the breaks with the fewest lines, the chosen one minimises the spread of the line widths, with a bonus
    for a break right after punctuation (worth lines differing by up to half their mean width). Words are never
    split (a word wider than a line gets a line to itself). `spaces[k]` says whether a space is written before
    word k (default: everywhere); CJK characters are words joined without one, so CJK lines break between
    characters, and never before a closing mark (it is part of the character before it).
    """
    breaks = line_breaks(words, max_chars, max_lines, spaces)
    if breaks is None:
        return None
    gaps = _spaces(words, spaces)
    lines, i = [], 0
    for j in breaks:
        lines.append(join_line(words[i:j], [bool(g) for g in gaps[i:j]]))
        i = j
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Cues


def segments(words: Sequence[WordLike], pause: float | None = PAUSE_SPLIT) -> list[tuple[int, int]]:
    """[i, j) ranges of words that no cue crosses: a new sentence or (unless pause is None) a pause over `pause`
    seconds starts one."""
    out, begin = [], 0
    for k in range(1, len(words)):
        prev, cur = words[k - 1], words[k]
        if cur.sentence != prev.sentence or (pause is not None and cur.start - prev.end > pause):
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
    spaces: Sequence[bool] | None = None,
    cue_cost: float = CUE_COST,
    empty_cost: float = EMPTY_COST,
) -> list[tuple[int, int]]:
    """The cheapest split of words[begin:end] into cues, as [i, j) ranges (see the module docstring)."""
    capacity = max_lines * max_line_chars
    texts = [w.word for w in words]
    widths = [display_width(t) for t in texts]
    sp = list(spaces) if spaces is not None else [True] * len(words)
    gaps = [0] + [1 if sp[k] else 0 for k in range(1, len(words))]
    best: list[tuple[float, int]] = [(0.0, begin)] + [(math.inf, begin)] * (end - begin)
    for j in range(begin + 1, end + 1):
        chars = -1
        for i in range(j - 1, begin - 1, -1):
            # The fewest lines a greedy fill needs says whether the cue fits (the balanced breaks come later).
            if j - i > 1 and _min_lines(widths[i:j], max_line_chars, [0] + gaps[i + 1 : j]) > max_lines:
                break  # a longer cue would not fit either
            chars += len(texts[i]) + (gaps[i + 1] if i + 1 < j else 0) + (1 if chars < 0 else 0)
            cost = cue_cost
            if j < end and not ends_phrase(texts[j - 1]):
                cost += MID_PHRASE_COST
            cost += empty_cost * max(0.0, 1.0 - chars / capacity) ** 2
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


@dataclass(frozen=True)
class CueSpan:
    """A cue with the range of words it shows and the line each word is on."""

    first: int  # index of its first word
    last: int  # one past its last word
    cue: Cue
    lines: tuple[int, ...]  # word indices (relative to first) where each line ends


def build_cue_spans(
    words: Sequence[WordLike],
    *,
    max_line_chars: int = MAX_LINE_CHARS,
    max_lines: int = 2,
    max_cps: float = 17.0,
    min_duration: float = 0.8,
    end_limit: float | None = None,
    pause: float = PAUSE_SPLIT,
    style: Style = "phrase",
    spaces: Sequence[bool] | None = None,
    max_lead: float = 0.0,
) -> list[CueSpan]:
    """Timed caption cues from word timings (start, end and sentence of every spoken word, in order), each with the
    range of words it shows and where its lines break.

    Every word appears in exactly one cue, in order. Cue times are rounded to milliseconds; each cue ends at or
    before the next one starts, and no later than `end_limit` (the audio's end) when given. `spaces[k]` says
    whether a space is written before word k (default: everywhere but before the first).
    """
    if not words:
        return []
    sp = list(spaces) if spaces is not None else [False] + [True] * (len(words) - 1)
    if style == "word":
        ranges = [(k, k + 1) for k in range(len(words))]
    else:
        segs = segments(words, None if style == "sentence" else pause)
        ranges = []
        for s, (b, e) in enumerate(segs):
            nxt = words[segs[s + 1][0]].start if s + 1 < len(segs) else (end_limit if end_limit is not None else math.inf)
            hold = min(nxt, words[e - 1].end + 10.0)
            ranges += partition(
                words,
                b,
                e,
                max_line_chars=max_line_chars,
                max_lines=max_lines,
                max_cps=max_cps,
                hold_until=hold,
                spaces=sp,
                cue_cost=SENTENCE_CUE_COST if style == "sentence" else CUE_COST,
                empty_cost=0.0 if style == "sentence" else EMPTY_COST,
            )
    limit = math.inf if end_limit is None else end_limit
    texts, breaks = [], []
    for i, j in ranges:
        ws = [w.word for w in words[i:j]]
        gaps = [False] + sp[i + 1 : j]
        br = line_breaks(ws, max_line_chars, max_lines if style != "word" else 1, gaps) or [len(ws)]
        breaks.append(tuple(br))
        lines, a = [], 0
        for b in br:
            lines.append(join_line(ws[a:b], gaps[a:b]))
            a = b
        texts.append("\n".join(lines))
    starts = [words[i].start for i, _ in ranges]
    needs = [max(min_duration, len(t.replace("\n", " ")) / max_cps) for t in texts]
    # Lead-in: a cue that cannot be read before the next one starts may show up to max_lead earlier, taking time
    # from the silence before it, then from the previous cue as far as that one keeps its own reading time.
    if max_lead > 0:
        for k in range(len(ranges)):
            nxt = starts[k + 1] if k + 1 < len(ranges) else limit
            deficit = len(texts[k].replace("\n", " ")) / max_cps - (nxt - starts[k])
            if deficit <= 0:
                continue
            floor = starts[k] - max_lead
            floor = max(floor, starts[k - 1] + needs[k - 1]) if k else max(floor, 0.0)
            starts[k] = min(starts[k], max(floor, starts[k] - deficit))
    out: list[CueSpan] = []
    for k, (i, j) in enumerate(ranges):
        start = starts[k]
        next_start = starts[k + 1] if k + 1 < len(ranges) else limit
        speech_end = max(w.end for w in words[i:j])
        stop = min(max(speech_end, start + needs[k]), next_start, limit)
        if next_start - stop < CLOSE_GAP and next_start != math.inf:
            stop = next_start
        start_ms = round(start * 1000)
        stop_ms = max(round(stop * 1000), start_ms + 1)
        if k + 1 < len(ranges):
            stop_ms = min(stop_ms, round(next_start * 1000))
        out.append(CueSpan(i, j, Cue(start=start_ms / 1000, end=stop_ms / 1000, text=texts[k]), breaks[k]))
    return out


def build_cues(words: Sequence[WordLike], **options: Any) -> list[Cue]:
    """The cues of `build_cue_spans(words, **options)` (the same keyword options), without their word ranges."""
    return [span.cue for span in build_cue_spans(words, **options)]


# ---------------------------------------------------------------------------------------------------------------
# Files


def _ass_text(text: str) -> str:
    """Cue text as ASS event text: braces would start override tags and backslashes escapes."""
    text = text.replace("\\", "\u2216").replace("{", "(").replace("}", ")")
    return text.replace("\n", r"\N")


def karaoke_text(span: CueSpan, words: Sequence[WordLike], spaces: Sequence[bool]) -> str:
    """ASS text for one cue with a `\\k` tag before every word: each word turns from the secondary colour to the
    primary (highlight) colour when it starts being spoken. Durations are in centiseconds, from the rounded
    cumulative times, so they add up to the cue's length exactly (a lead-in becomes an empty first syllable)."""
    cue = span.cue
    cs0 = round(cue.start * 100)
    marks = [max(cs0, round(words[m].start * 100)) for m in range(span.first, span.last)]
    marks.append(max(marks[-1], round(cue.end * 100)))
    parts = []
    if marks[0] > cs0:
        parts.append(f"{{\\k{marks[0] - cs0}}}")
    line_ends = set(span.lines[:-1])
    for rel, m in enumerate(range(span.first, span.last)):
        if rel and rel in line_ends:
            parts.append(r"\N")
        elif rel and spaces[m]:
            parts.append(" ")
        parts.append(f"{{\\k{max(0, marks[rel + 1] - marks[rel])}}}{_ass_text(words[m].word)}")
    return "".join(parts)


def write_subtitles(
    cues: Sequence[Cue],
    workdir: Path,
    *,
    width: int,
    height: int,
    font_size: int,
    font: str = FONT_FAMILY,
    rtl: bool = False,
    ass_texts: Sequence[str] | None = None,
    highlight: tuple[int, int, int] | None = None,
) -> dict[str, Path]:
    """captions.srt, captions.vtt and a styled captions.ass (PlayRes = the frame) in workdir.

    `ass_texts` replaces the ASS event texts (karaoke); `highlight` is then the colour spoken words turn.
    `rtl` sets the style's Encoding to -1: libass then takes each line's base direction from its text.
    """
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(width)
    subs.info["PlayResY"] = str(height)
    subs.info["ScaledBorderAndShadow"] = "yes"
    subs.info["WrapStyle"] = "0"
    subs.info["Title"] = "newsreel captions"
    white = pysubs2.Color(255, 255, 255, 0)
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=font,
        fontsize=font_size,
        primarycolor=pysubs2.Color(*highlight, 0) if highlight else white,
        secondarycolor=white,
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
        encoding=-1 if rtl else 1,
    )
    plain = pysubs2.SSAFile()
    plain.info.update(subs.info)
    plain.styles["Default"] = subs.styles["Default"].copy()
    for k, cue in enumerate(cues):
        start, end = round(cue.start * 1000), round(cue.end * 1000)
        text = ass_texts[k] if ass_texts is not None else _ass_text(cue.text)
        subs.events.append(pysubs2.SSAEvent(start=start, end=end, text=text))
        plain.events.append(pysubs2.SSAEvent(start=start, end=end, text=_ass_text(cue.text)))
    out = {}
    for ext in ("srt", "vtt", "ass"):
        path = Path(workdir) / f"captions.{ext}"
        (subs if ext == "ass" else plain).save(str(path), format_=ext)
        out[ext] = path.resolve()
    return out


class SubtitleCaptions(CaptionsProvider):
    name = "subtitles"
    run_options = frozenset({"width", "height", "language"})
    version = "2"
    summary = "phrase, sentence, word or karaoke cues from the narration's word times; SRT, WebVTT, styled ASS"
    needs = Needs(packages=("pysubs2",))

    class Params(Params):
        width: int = Field(1280, ge=16)
        height: int = Field(720, ge=16)
        style: Style = "phrase"
        language: str = "en"  # picks the caption font when the text itself does not (zh/ja/ko: CJK, ar/fa: Arabic)
        max_line_chars: int | None = Field(None, ge=8)  # default: from the frame width and the font size
        max_lines: int = Field(2, ge=1, le=4)
        max_cps: float = Field(17.0, gt=0)  # reading-speed ceiling, characters per second
        min_duration: float = Field(0.8, ge=0)  # seconds a cue stays up at least, where the next one allows
        max_lead: float = Field(MAX_LEAD, ge=0.0, le=1.0)  # seconds a cue may show before its first word is spoken
        font_size: int | None = Field(None, ge=6)  # ASS font size in frame pixels; default 6.5 % of the shorter side
        font: str | None = None  # a font family (in assets/fonts or installed); default: by script and language

    def font_size(self) -> int:
        return self.params.font_size or default_font_size(self.params.width, self.params.height)

    def max_line_chars(self) -> int:
        p = self.params
        return p.max_line_chars or default_max_line_chars(p.width, p.height, self.font_size())

    def run(self, *, script: Script, voice: Narration, workdir: Path, progress: ProgressFn) -> Captions:
        p = self.params
        progress(0.0, "building cues")
        words = voice.words
        spaces = spaces_before([w.word for w in words], script.sentences, [w.sentence for w in words])
        spans = build_cue_spans(
            words,
            max_line_chars=self.max_line_chars(),
            max_lines=1 if p.style == "word" else p.max_lines,
            max_cps=p.max_cps,
            min_duration=p.min_duration,
            end_limit=voice.duration,
            style=p.style,
            spaces=spaces,
            max_lead=p.max_lead,
        )
        cues = [s.cue for s in spans]
        text = " ".join(w.word for w in words)
        family, factor = caption_font(p.language or script.language, text)
        if p.font:
            family, factor = p.font, 1.0
        size = round(self.font_size() * factor) if not p.font_size else self.font_size()
        rtl = is_rtl(text)
        karaoke = p.style == "karaoke"
        files = write_subtitles(
            cues,
            Path(workdir),
            width=p.width,
            height=p.height,
            font_size=size,
            font=family,
            rtl=rtl,
            ass_texts=[karaoke_text(s, words, spaces) for s in spans] if karaoke else None,
            highlight=HIGHLIGHT if karaoke else None,
        )
        rates = [len(c.text.replace("\n", " ")) / (c.end - c.start) for c in cues if c.end > c.start]
        notes = {
            "style": p.style,
            "font": family,
            "right_to_left": rtl,
            "cues": len(cues),
            "max_cps_seen": round(max(rates), 2) if rates else 0.0,
            "cues_over_max_cps": sum(r > p.max_cps + 0.05 for r in rates),
        }
        progress(1.0, f"{len(cues)} cues")
        return Captions(cues=cues, srt=files["srt"], vtt=files["vtt"], ass=files["ass"], notes=notes)
