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
