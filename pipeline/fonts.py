"""Which bundled font draws a piece of text: chosen by the text's writing system (its letters, as
`pipeline.words.script_of` reads them), else by the language.

Used by the captions and by the compose stage's graphics (title, ticker, cards), so both pick the same font for the
same text. The font files are in assets/fonts with their licences (`pipeline.assets`).
"""

from __future__ import annotations

from .assets import FONT_ARABIC_FAMILY, FONT_CJK_FAMILY, FONT_FAMILY
from .words import language_script, script_of

# Fonts by script: (family as libass sees it, ASS size factor). libass scales a font so that ascent +
# descent equals the ASS size; Noto Sans Arabic's are tall (2.12 em, for stacked marks, against DejaVu's 1.16), so
# at the same ASS size its letters come out about half as tall: rendered with libass, a capital H is 33 px in Noto
# Sans Arabic against 63 px in DejaVu Sans at size 100. A factor of 1.7 evens that out (measured widths then: 0.36
# x base size per column for Arabic news text, 0.38 for CJK in Droid Sans Fallback, 0.44 for DejaVu Sans Latin, so
# the DejaVu-based line length is safe for all three).
FONTS = {
    "latin": (FONT_FAMILY, 1.0),
    "cjk": (FONT_CJK_FAMILY, 1.0),
    "arabic": (FONT_ARABIC_FAMILY, 1.7),
}


def caption_font(language: str, text: str = "") -> tuple[str, float]:
    """(font family, ASS size factor) for captions in `language` showing `text`.

    The text decides when it has letters (a Chinese script under --lang en still gets the CJK font); the
    language decides otherwise.
    """
    script = script_of(text) if any(ch.isalpha() for ch in text) else language_script(language)
    if script == "hebrew":  # DejaVu Sans has Hebrew
        script = "latin"
    return FONTS[script]
