"""Text in the compose graphics' ASS: made inert (`one_line`, `ass_escape`), timed (`ass_time`), drawn in the font
of its script (`TextFont`, `text_font`, as the captions choose theirs), measured as libass draws it (`text_width`,
`ink_extent`, glyph fallback included) and wrapped or shrunk to fit (`wrap_title`, `fit_title`).

Measuring uses Pillow with the bundled fonts libass draws with; the layout in `_graphics.py` is computed from it.
"""

from __future__ import annotations

import functools
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from ... import assets


def one_line(text: str) -> str:
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


def ass_escape(value: Any) -> str:
    """Make a value inert ASS text: no override blocks, no \\N-style escapes, no line breaks."""
    text = "" if value is None else str(value)
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029\u0085]", " ", text)
    text = re.sub(r" {2,}", " ", text).strip(" ")  # no-break spaces (U+00A0) are kept: the ticker spaces with them
    text = text.replace("\\", "\\\u2060")  # a word joiner after each backslash: "\N" no longer means a new line
    return text.replace("{", "\\{").replace("}", "\\}")  # libass shows \{ and \} as literal braces


def ass_time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


# The font files PIL measures with, by the family name libass sees: the bold face where there is one (the styles
# draw text bold; libass emboldens the others, which barely widens them). Families not listed measure as DejaVu.
FONT_FILES = {
    assets.FONT_FAMILY: assets.FONT_BOLD,
    assets.FONT_CJK_FAMILY: assets.FONT_CJK,
    assets.FONT_ARABIC_FAMILY: assets.FONT_ARABIC,
}
# When a font has no glyph for a character libass takes it from another (Droid Sans Fallback has no Latin letters:
# they come from DejaVu Sans Bold): measuring follows the same order.
FALLBACK_ORDER = (assets.FONT_FAMILY, assets.FONT_CJK_FAMILY, assets.FONT_ARABIC_FAMILY)
_MISSING = "\U0010fffd"  # a private-use code point no font has: it draws the font's .notdef box


@dataclass(frozen=True)
class TextFont:
    """The font a piece of on-screen text is drawn in: chosen by its script, the same way as the captions' font."""

    family: str = assets.FONT_FAMILY
    factor: float = 1.0  # ASS size = visual size x factor (Noto Sans Arabic's tall line box draws letters small)
    rtl: bool = False  # right-to-left text (Arabic, Hebrew): right-aligned, base direction from the text

    @property
    def latin(self) -> bool:
        return self.family == assets.FONT_FAMILY

    @property
    def encoding(self) -> int:
        """The ASS style's Encoding: -1 makes libass take the base direction from the text (see captions)."""
        return -1 if self.rtl else 1


def text_font(text: str, language: str = "") -> TextFont:
    """The font for `text`: its letters decide the script (Chinese -> Droid Sans Fallback, Arabic -> Noto Sans
    Arabic), the language decides when it has none; exactly as the captions choose theirs."""
    from ...fonts import caption_font
    from ...words import is_rtl

    family, factor = caption_font(language or "en", text)
    return TextFont(family, factor, is_rtl(text))


@functools.lru_cache(maxsize=16)
def _font(size: int, family: str = assets.FONT_FAMILY):
    from PIL import ImageFont

    return ImageFont.truetype(os.fspath(FONT_FILES.get(family, assets.FONT_BOLD)), size)


@functools.lru_cache(maxsize=4096)
def has_glyph(family: str, ch: str) -> bool:
    """Whether the font of `family` draws `ch` (rather than its .notdef box). Whitespace always counts as drawn."""
    if ch.isspace() or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return True
    font = _font(32, family)
    glyph, missing = font.getmask(ch), font.getmask(_MISSING)
    return glyph.size != missing.size or bytes(glyph) != bytes(missing)


def _runs(text: str, family: str) -> list[tuple[str, str]]:
    """`text` cut into (family, run) pieces, each character in the first font of `family`, then FALLBACK_ORDER,
    that has it (or `family` when none does)."""
    runs: list[tuple[str, str]] = []
    for ch in text:
        fam = next((f for f in (family, *FALLBACK_ORDER) if has_glyph(f, ch)), family)
        if runs and (runs[-1][0] == fam or ch.isspace()):
            runs[-1] = (runs[-1][0], runs[-1][1] + ch)
        else:
            runs.append((fam, ch))
    return runs


def text_width(text: str, ass_size: float, spacing: float = 0.0, font: str = assets.FONT_FAMILY) -> float:
    """Width in PlayRes units of `text` in the font `font` (bold where it has a bold face) at ASS font size
    `ass_size`. libass sizes every font by its ascender + descender, PIL by the em, hence the conversion; characters
    the font lacks are measured in the font libass falls back to. Arabic is measured shaped (PIL's raqm layout)."""
    width = 0.0
    runs = [(font, text)] if font == assets.FONT_FAMILY and text.isascii() else _runs(text, font)
    for fam, run in runs:
        ref = _font(200, fam)
        asc, desc = ref.getmetrics()
        width += ref.getlength(run) * ass_size / (asc + desc)
    return width + spacing * len(text)


def ink_extent(lines: list[str], ass_size: float, font: str) -> tuple[float, float]:
    """(top, bottom) of the ink of `lines` drawn one under another by libass (each line one ASS size further
    down), in PlayRes units from the top of the first line's box."""
    ref = _font(200, font)
    asc, desc = ref.getmetrics()
    scale = ass_size / (asc + desc)
    top, bottom = math.inf, -math.inf
    for i, line in enumerate(lines):
        box = ref.getbbox(line) if line.strip() else None
        if box is None or box[3] <= box[1]:
            continue
        top = min(top, i * ass_size + box[1] * scale)
        bottom = max(bottom, i * ass_size + box[3] * scale)
    if top > bottom:  # nothing drawn: the line boxes themselves
        return 0.0, ass_size * max(1, len(lines))
    return top, bottom


def _pieces(title: str) -> list[tuple[int, int]]:
    """Where a title may wrap: [start, end) spans of its words; Chinese and Japanese break between characters
    (never before a closing mark), as the captions do."""
    from ...words import word_spans

    return word_spans(title)


def wrap_title(title: str, size: float, max_width: float, max_lines: int,
               font: str = assets.FONT_FAMILY) -> list[str] | None:
    """Greedy word wrap into at most max_lines lines of max_width, or None when it does not fit."""
    lines: list[str] = []
    start: int | None = None  # where the current line starts in `title`
    end = 0
    for a, b in _pieces(title):
        if start is None:
            start = a
        trial = title[start:b].strip()
        if text_width(trial, size, font=font) <= max_width:
            end = b
            continue
        if end <= start:
            return None  # one word alone is too wide
        lines.append(title[start:end].strip())
        start, end = a, b
        if text_width(title[a:b], size, font=font) > max_width:
            return None
    if start is not None and end > start:
        lines.append(title[start:end].strip())
    return lines if len(lines) <= max_lines else None


def fit_title(title: str, base_size: float, max_width: float, max_lines: int,
              font: str = assets.FONT_FAMILY) -> tuple[list[str], int]:
    """Lines and (ASS) font size for the title: shrink down to 72% of base, then cut with an ellipsis."""
    title = one_line(title) or " "
    for factor in (1.0, 0.92, 0.84, 0.78, 0.72):
        size = round(base_size * factor)
        lines = wrap_title(title, size, max_width, max_lines, font)
        if lines:
            return lines, size
    size = round(base_size * 0.72)
    pieces = _pieces(title)
    while pieces:
        pieces = pieces[:-1]
        kept = title[: pieces[-1][1]] if pieces else ""
        candidate = kept.rstrip(",;:.-\uff0c\u3001\uff1b\uff1a\u3002\u060c\u061b ") + "\u2026"
        lines = wrap_title(candidate, size, max_width, max_lines, font)
        if lines:
            return lines, size
    text = title  # a single enormous word: cut characters
    while text and text_width(text + "\u2026", size, font=font) > max_width:
        text = text[:-1]
    return [text + "\u2026"], size
