"""Where the files that ship with newsreel live: fonts and images in assets/, jinja2 templates in templates/."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_DIR / "assets"
FONTS_DIR = ASSETS_DIR / "fonts"
TEMPLATES_DIR = PROJECT_DIR / "templates"

# Family names as libass and PIL see them; the files are in FONTS_DIR with their licence.
FONT_FAMILY = "DejaVu Sans"
FONT_REGULAR = FONTS_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONTS_DIR / "DejaVuSans-Bold.ttf"
# Fonts for scripts DejaVu Sans lacks (the captions and the graphics pick one by the text's script).
FONT_CJK_FAMILY = "Droid Sans Fallback"  # Chinese, Japanese, Korean; no Latin letters (libass falls back to DejaVu)
FONT_CJK = FONTS_DIR / "DroidSansFallbackFull.ttf"
FONT_ARABIC_FAMILY = "Noto Sans Arabic"  # Arabic script, with Latin letters and digits
FONT_ARABIC = FONTS_DIR / "NotoSansArabic-VariableFont.ttf"
