"""Which bundled font draws a piece of text: chosen by the text's script (its letters), else by the language.

Used by the captions and by the compose stage's graphics (title, ticker, cards), so both pick the same font for the
same text. The font files are in assets/fonts with their licences (`pipeline.assets`).
"""

from __future__ import annotations

import unicodedata

from .align import is_ideograph
from .assets import FONT_ARABIC_FAMILY, FONT_CJK_FAMILY, FONT_FAMILY

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
CJK_LANGUAGES = ("zh", "ja", "ko", "cmn", "yue")
ARABIC_LANGUAGES = ("ar", "fa", "ur", "ps", "ug", "ckb", "sd")


def script_of(text: str) -> str:
    """The script most of the letters of `text` are in: "cjk", "arabic", "hebrew" or "latin" (everything else)."""
    counts = {"cjk": 0, "arabic": 0, "hebrew": 0, "latin": 0}
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if is_ideograph(ch) or 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
            counts["cjk"] += 1
        elif 0x0600 <= cp <= 0x06FF or 0x0750 <= cp <= 0x077F or 0x08A0 <= cp <= 0x08FF or 0xFB50 <= cp <= 0xFEFF:
            counts["arabic"] += 1
        elif 0x0590 <= cp <= 0x05FF or 0xFB1D <= cp <= 0xFB4F:
            counts["hebrew"] += 1
        else:
            counts["latin"] += 1
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else "latin"


def caption_font(language: str, text: str = "") -> tuple[str, float]:
    """(font family, ASS size factor) for captions in `language` showing `text`.

    The text decides when it has letters (a Chinese script under --lang en still gets the CJK font); the
    language decides otherwise.
    """
    script = script_of(text) if text else "latin"
    lang = language.lower().replace("_", "-").split("-")[0]
    if script == "latin" and not any(ch.isalpha() for ch in text):
        script = "cjk" if lang in CJK_LANGUAGES else "arabic" if lang in ARABIC_LANGUAGES else "latin"
    if script == "hebrew":  # DejaVu Sans has Hebrew
        script = "latin"
    return FONTS[script]


def is_rtl(text: str) -> bool:
    """Whether most strongly directional letters of `text` are right-to-left (Arabic, Hebrew, ...)."""
    rtl = ltr = 0
    for ch in text:
        bidi = unicodedata.bidirectional(ch)
        if bidi in ("R", "AL"):
            rtl += 1
        elif bidi == "L":
            ltr += 1
    return rtl > ltr
