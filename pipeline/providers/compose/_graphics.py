"""News graphics for the compose stage: styles, layout, the templates, and merging them with the captions.

A style is a folder of jinja2 templates that write ASS (the subtitle format libass draws): `style.ass.j2` is the
document (script info and styles) and includes one file per element (label, lower third, breaking bar, ticker, bug
plate, intro and outro cards). newsreel ships `templates/styles/news` and `templates/styles/minimal`; a user style is
a copy of one of those folders, edited, and passed by path. Templates render in a jinja2 SandboxedEnvironment with
StrictUndefined, and every `{{ value }}` passes through `ass_escape`, so data (a title, ticker text) can never open
an override block or start a new line: override tags only come from the template files themselves.

The geometry (where the lower third, ticker, bug and label go, how the title wraps) is computed here for every
frame size, in PlayRes units (= output pixels), so that the captions can be kept clear of the graphics; a style
decides how the elements look and may place them elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import assets
from ...errors import NewsreelError

STYLES_DIR = assets.TEMPLATES_DIR / "styles"
STYLE_ENTRY = "style.ass.j2"
DEFAULT_LOGO = assets.ASSETS_DIR / "logo.png"
GRAPHICS_LAYER = 10  # captions keep layers below this
TICKER_SPEED = 110.0  # pixels a second at 720 lines (scaled with the frame)
SEPARATOR = "\u00a0" * 4 + "\u2022" + "\u00a0" * 4  # between ticker repeats; no-break spaces survive escaping
STYLE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")


# ---------------------------------------------------------------------------------------------------------------
# Text


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


# ---------------------------------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class GraphicsLayout:
    """Positions and sizes (PlayRes units) of the graphics, also used by tests to find them in frames."""

    res_x: int
    res_y: int
    bar: dict
    title: dict
    label: dict
    breaking: dict = field(default_factory=dict)
    ticker: dict = field(default_factory=dict)
    bug: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)
    clear_bottom: int = 0  # captions anchored at the bottom must keep this much space free below them
    u: float = 1.0
    shape: str = "landscape"


def graphics_layout(
    res_x: int,
    res_y: int,
    title: str,
    label: str,
    *,
    breaking: bool = False,
    ticker: str | None = None,
    logo_aspect: float | None = None,
    main: tuple[float, float] = (0.0, 3600.0),
    language: str = "",
) -> GraphicsLayout:
    """Where everything goes for a res_x x res_y frame. logo_aspect: the bug's width / height, None for no bug.
    main: (start, end) seconds of the narrated part, over which the ticker scrolls. The title and the ticker are
    drawn in the font of their script (`text_font`; `language` decides for text without letters); right-to-left
    titles are right-aligned and right-to-left ticker text scrolls to the right."""
    u = min(res_x, res_y) / 720.0
    portrait = res_y > res_x * 1.2
    square = not portrait and res_x < res_y * 1.2
    shape = "portrait" if portrait else "square" if square else "landscape"
    margin_x = round((0.05 * res_x) if portrait else 48 * u)
    top = round(0.06 * res_y) if portrait else round(36 * u)

    # The ticker: a band across the bottom (in 9:16 above the bottom sixth, where phone apps put their buttons).
    tick: dict[str, Any] = {"on": bool(ticker)}
    tick_h = round(40 * u) if ticker else 0
    tick_bottom = round(0.16 * res_y) if portrait else 0
    if ticker:
        tab_size = round(22 * u)
        tab_text = "LATEST"
        tab_w = round(text_width(tab_text, tab_size, round(1.2 * u, 1)) + 28 * u)
        unit = one_line(ticker) + SEPARATOR
        tfont = text_font(unit, language)
        size = round(22 * u * tfont.factor)
        unit_w = text_width(unit, size, font=tfont.family)
        visible = res_x - tab_w
        copies = max(2, math.ceil(visible / max(unit_w, 1.0)) + (2 if tfont.rtl else 1))
        speed = TICKER_SPEED * u
        period = max(0.5, round(unit_w / speed, 2))  # ASS times are centiseconds: a period of whole centiseconds
        y = res_y - tick_bottom - tick_h
        passes = []
        start, end = main
        t = start
        while t < end - 1e-6:
            t2 = min(end, t + period)
            # Each pass moves the text left by exactly one unit over `period` seconds; the next pass starts again
            # one unit to the right, showing the same picture, so the scroll is seamless.
            # Right-to-left text moves right instead (its beginning, on its right, enters first), from one unit
            # left of the start.
            moved = unit_w * (t2 - t) / period
            x1 = tab_w + 12 * u - (unit_w if tfont.rtl else 0.0)
            passes.append({"start": ass_time(t), "end": ass_time(t2), "ms": round((t2 - t) * 1000),
                           "x1": round(x1, 2), "x2": round(x1 - moved if not tfont.rtl else x1 + moved, 2)})
            t = t2
        tick.update({
            "y": y, "h": tick_h, "w": res_x, "size": size, "text": unit * copies,
            "font": tfont.family, "rtl": tfont.rtl, "encoding": tfont.encoding,
            "tab": {"text": tab_text, "w": tab_w, "size": tab_size, "spacing": round(1.2 * u, 1)},
            "text_y": y + tick_h / 2, "passes": passes, "clip": [tab_w, y, res_x, y + tick_h],
            "unit_w": round(unit_w, 2), "period": period,
        })

    # Lower third: the title on a bar, the BREAKING tag on top of it.
    gap = round(18 * u) if ticker else (round(0.2 * res_y) - tick_bottom if portrait else round((52 if square else 40) * u))
    bottom = tick_bottom + tick_h + gap
    bar_w = res_x - 2 * margin_x
    accent = round(10 * u)
    pad_x = round(22 * u)
    max_lines = 3 if portrait else 2
    font = text_font(title, language)
    lines, fsize = fit_title(title, 36 * u * font.factor, bar_w - accent - 2 * pad_x, max_lines, font.family)
    line_h = fsize / font.factor * 1.22
    pad_y = round(15 * u)
    inner, drop = line_h * len(lines), 0.0
    if not font.latin:
        # Other fonts put their letters elsewhere in the line box (Noto Sans Arabic's is tall, the letters low in
        # it): centre the ink of the lines in the bar, making the bar taller if the lines need it.
        ink_top, ink_bottom = ink_extent(lines, fsize, font.family)
        inner = max(inner, ink_bottom - ink_top + 0.3 * fsize / font.factor)
        drop = (inner - (ink_bottom - ink_top)) / 2 - ink_top
    bar_h = round(2 * pad_y + inner)
    bar_y = res_y - bottom - bar_h
    slide = round(24 * u)
    # Left to right: the accent block on the left, the title after it, sliding in from the left. Right to left:
    # mirrored, the title right-aligned (\an9) against the accent on the right, sliding in from the right.
    accent_x = margin_x + bar_w - accent if font.rtl else margin_x
    title_x = margin_x + bar_w - accent - pad_x if font.rtl else margin_x + accent + pad_x
    bar = {"x": margin_x, "y": bar_y, "w": bar_w, "h": bar_h, "accent": accent, "accent_x": accent_x,
           "rule": max(1, round(2 * u))}
    title_d = {"lines": lines, "size": fsize, "x": title_x, "y": bar_y + pad_y + (round(drop, 2) if drop else 0), "slide": slide,
               "x_from": title_x + slide if font.rtl else title_x - slide, "an": 9 if font.rtl else 7,
               "font": font.family, "rtl": font.rtl, "encoding": font.encoding}

    bsize = round(22 * u)
    bspacing = round(1.5 * u, 1)
    btext = "BREAKING NEWS"
    bh = round(bsize * 1.2 + 14 * u)
    bw = round(text_width(btext, bsize, bspacing) + 2 * pad_x)
    bx = margin_x + bar_w - bw if font.rtl else margin_x  # on the accent's side
    brk = {"on": breaking, "text": btext, "size": bsize, "spacing": bspacing, "x": bx, "y": bar_y - bh,
           "w": bw, "h": bh, "pad_x": pad_x, "text_x": bx + pad_x, "text_y": bar_y - bh / 2}
    block_top = brk["y"] if breaking else bar_y

    # The AI-GENERATED label, top left; the channel bug, top right.
    lsize = round(22 * u)
    spacing = round(1.6 * u, 1)
    lpad_x, lpad_y = round(14 * u), round(8 * u)
    text = label.upper()
    box_h = round(lsize * 1.2 + 2 * lpad_y)
    label_d = {
        "text": text, "size": lsize, "spacing": spacing,
        "box_x": margin_x, "box_y": top, "box_w": round(text_width(text, lsize, spacing) + 2 * lpad_x), "box_h": box_h,
        "text_x": margin_x + lpad_x, "text_y": top + box_h / 2,
    }
    bug: dict[str, Any] = {"on": logo_aspect is not None}
    if logo_aspect is not None:
        bh_ = round(64 * u)
        bw_ = max(2, round(bh_ * logo_aspect))
        if bw_ > 0.3 * res_x:  # a very wide logo: limit its width instead
            bw_ = round(0.3 * res_x)
            bh_ = max(2, round(bw_ / logo_aspect))
        bw_ += bw_ % 2
        bh_ += bh_ % 2
        bug.update({"w": bw_, "h": bh_, "x": res_x - margin_x - bw_, "y": top})

    # Intro and outro cards: the title big in the middle.
    card_lines, card_size = fit_title(title, 60 * u * font.factor, res_x * (0.8 if not portrait else 0.86),
                                      4 if portrait else 3, font.family)
    # libass puts one ASS size between lines; Latin lines are laid out with a little more.
    card_line_h = card_size * 1.2 if font.latin else float(card_size)
    card = {"lines": card_lines, "size": card_size, "cx": res_x / 2, "cy": res_y / 2, "line_h": card_line_h,
            "font": font.family, "rtl": font.rtl, "encoding": font.encoding,
            "rule_w": round(min(res_x * 0.5, 420 * u)), "rule_h": max(2, round(5 * u)),
            "small": round(24 * u), "big": round(44 * u)}

    clear = res_y - block_top + round(24 * u)
    return GraphicsLayout(res_x, res_y, bar, title_d, label_d, brk, tick, bug, card, clear, u, shape)


# ---------------------------------------------------------------------------------------------------------------
# Styles


def shipped_styles() -> list[str]:
    return sorted(p.name for p in STYLES_DIR.iterdir() if (p / STYLE_ENTRY).is_file()) if STYLES_DIR.is_dir() else []


def is_style_path(style: str) -> bool:
    return not STYLE_NAME_RE.match(style)


def check_style_name(style: str) -> str:
    """Params validation: a shipped style's name, or anything that looks like a path (checked when rendering)."""
    style = style.strip()
    if not style:
        raise ValueError("the style must be a shipped style's name or a folder")
    if not is_style_path(style) and style not in shipped_styles():
        raise ValueError(f"no shipped style '{style}' (shipped: {', '.join(shipped_styles())}); or give a folder path")
    return style


def style_dir(style: str) -> Path:
    """The folder of a style: templates/styles/<name>, or a user folder copied from one."""
    if not is_style_path(style):
        folder = STYLES_DIR / style
        if (folder / STYLE_ENTRY).is_file():
            return folder
        raise NewsreelError(f"no shipped style '{style}'", f"shipped styles: {', '.join(shipped_styles())}")
    folder = Path(style).expanduser()
    if not folder.is_dir():
        raise NewsreelError(
            f"the style folder {folder} does not exist",
            f"copy a shipped style ({STYLES_DIR}/news) and pass its folder",
        )
    if not (folder / STYLE_ENTRY).is_file():
        raise NewsreelError(
            f"the style folder {folder} has no {STYLE_ENTRY}",
            f"a style is a copy of a shipped style folder, e.g. {STYLES_DIR / 'news'}",
        )
    return folder


def folder_digest(folder: Path) -> str:
    """sha256 over the names and bytes of a style folder's files: a user's edit to a template changes it."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _template_error(exc: BaseException, folder: Path) -> NewsreelError:
    """A jinja2 error -> NewsreelError naming the template file and line."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    if isinstance(exc, TemplateNotFound):
        return NewsreelError(f"style {folder}: the template {exc.name} is missing", "restore it from the shipped style")
    where_file, where_line = None, None
    if isinstance(exc, TemplateSyntaxError):
        where_file, where_line = exc.filename or exc.name, exc.lineno
    else:
        # jinja2 rewrites tracebacks so that template frames carry the template's file name and line.
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if name.endswith(".j2"):
                where_file, where_line = name, tb.tb_lineno
            tb = tb.tb_next
    message = getattr(exc, "message", None) or str(exc)
    shown = where_file or "?"
    try:
        shown = str(Path(shown).resolve().relative_to(folder.resolve().parent))
    except (ValueError, OSError):
        pass
    return NewsreelError(
        f"style template {shown}:{where_line or '?'}: {one_line(str(message))}",
        "fix the template (the fields it may use are listed in the style's style.ass.j2)",
    )


def render_style(folder: Path, context: dict[str, Any]) -> str:
    """Render a style's style.ass.j2 with `context`: sandboxed, strict, every value escaped."""
    from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(os.fspath(folder)),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=ass_escape,
        keep_trailing_newline=True,
    )
    try:
        return env.get_template(STYLE_ENTRY).render(**context)
    except TemplateError as exc:
        raise _template_error(exc, folder) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        # e.g. {{ "a" + 1 }} or a division by zero inside a template
        raise _template_error(exc, folder) from None


@dataclass(frozen=True)
class Timing:
    """Seconds: the whole video, and the narrated part between the intro and the outro."""

    duration: float
    main_start: float
    main_end: float
    intro: bool
    outro: bool


def style_context(layout: GraphicsLayout, timing: Timing) -> dict[str, Any]:
    lower_start = timing.main_start + 0.15
    return {
        "res_x": layout.res_x,
        "res_y": layout.res_y,
        "u": layout.u,
        "shape": layout.shape,
        "font": assets.FONT_FAMILY,  # labels, tags and the outro's English; title, ticker and card carry their own
        "bar": layout.bar,
        "title": layout.title,
        "label": layout.label,
        "breaking": layout.breaking,
        "ticker": layout.ticker,
        "bug": layout.bug,
        "card": layout.card,
        "start": ass_time(0),
        "end": ass_time(timing.duration + 1.0),
        "main": {"start": ass_time(timing.main_start), "end": ass_time(timing.main_end),
                 "seconds": round(timing.main_end - timing.main_start, 3)},
        "lower": {"start": ass_time(lower_start), "end": ass_time(timing.main_end), "fade": 350},
        "intro": {"on": timing.intro, "start": ass_time(0), "end": ass_time(timing.main_start),
                  "ms": round(timing.main_start * 1000)},
        "outro": {"on": timing.outro, "start": ass_time(timing.main_end), "end": ass_time(timing.duration + 1.0),
                  "ms": round((timing.duration - timing.main_end) * 1000)},
    }


def render_graphics(layout: GraphicsLayout, duration: float, style: str = "news", timing: Timing | None = None) -> str:
    """The graphics ASS document of a style for this layout."""
    timing = timing or Timing(duration, 0.0, duration, False, False)
    return render_style(style_dir(style), style_context(layout, timing))


def write_burn_ass(
    captions_ass: Path,
    out: Path,
    *,
    title: str,
    label: str,
    duration: float,
    width: int,
    height: int,
    style: str = "news",
    breaking: bool = False,
    ticker: str | None = None,
    logo_aspect: float | None = None,
    timing: Timing | None = None,
    language: str = "",
) -> GraphicsLayout:
    """Merge the captions' ASS (shifted to start after an intro) with the style's graphics into `out`, the one file
    the `ass` filter burns in. `language` (the script's) picks the graphics' font for text without letters."""
    import pysubs2

    timing = timing or Timing(duration, 0.0, duration, False, False)
    folder = style_dir(style)
    try:
        subs = pysubs2.load(os.fspath(captions_ass), encoding="utf-8", format_="ass")
    except Exception as exc:  # noqa: BLE001 - pysubs2 raises several types for malformed files
        raise NewsreelError(
            f"could not read the captions file {captions_ass}: {exc}", "clear the captions cache entry and run again"
        ) from None
    res_x = _int(subs.info.get("PlayResX"))
    res_y = _int(subs.info.get("PlayResY"))
    if (res_x, res_y) != (width, height):
        # Work in frame pixels (the graphics are laid out, and the bug placed, in them): scale the captions' styles
        # from their PlayRes (libass assumes 384x288 when there is none) to the frame.
        scale = height / (res_y or 288)
        for st in subs.styles.values():
            st.fontsize *= scale
            st.outline *= scale
            st.shadow *= scale
            st.spacing *= scale
            st.marginl = round(st.marginl * scale)
            st.marginr = round(st.marginr * scale)
            st.marginv = round(st.marginv * scale)
        for event in subs.events:
            event.marginl, event.marginr = round(event.marginl * scale), round(event.marginr * scale)
            event.marginv = round(event.marginv * scale)
        res_x, res_y = width, height
        subs.info["PlayResX"], subs.info["PlayResY"] = str(width), str(height)
    subs.info.setdefault("ScaledBorderAndShadow", "yes")
    # Colours are plain RGB: no VSFilter-style YCbCr matrix mangling (libass would shift the news red by ~16).
    subs.info["YCbCr Matrix"] = "None"
    if timing.main_start:
        subs.shift(s=timing.main_start)
    layout = graphics_layout(res_x, res_y, title, label, breaking=breaking, ticker=ticker, logo_aspect=logo_aspect,
                             main=(timing.main_start, timing.main_end), language=language)
    document = render_style(folder, style_context(layout, timing))
    try:
        graphics = pysubs2.SSAFile.from_string(document, format_="ass")
    except Exception as exc:  # noqa: BLE001
        raise NewsreelError(f"style {folder} rendered a document that is not ASS: {exc}",
                            "check the [Script Info], [V4+ Styles] and [Events] sections of style.ass.j2") from None
    if not any(e.name == "label" for e in graphics.events):
        raise NewsreelError(
            f"style {folder} draws no AI-GENERATED label (no event named 'label')",
            "keep the label events of the shipped style's label.ass.j2: every video carries the label",
        )
    # Captions anchored at the bottom move up above the lower third.
    for st in subs.styles.values():
        if int(st.alignment) in (1, 2, 3):
            st.marginv = max(st.marginv, layout.clear_bottom)
    for event in subs.events:
        if event.marginv and event.marginv < layout.clear_bottom and _style_is_bottom(subs, event.style):
            event.marginv = layout.clear_bottom
        event.layer = min(event.layer, GRAPHICS_LAYER - 1)
    for name, st in graphics.styles.items():
        subs.styles[name] = st
    for event in graphics.events:
        event.layer = max(event.layer, GRAPHICS_LAYER)
    subs.events.extend(graphics.events)
    subs.save(os.fspath(out), encoding="utf-8", format_="ass")
    return layout


def _style_is_bottom(subs, name: str) -> bool:
    st = subs.styles.get(name)
    return st is not None and int(st.alignment) in (1, 2, 3)


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------------
# The channel bug


def logo_path(logo: str | None) -> Path:
    return DEFAULT_LOGO if logo is None else Path(logo).expanduser()


def load_logo(logo: str | None):
    """The logo as a PIL RGBA image, or NewsreelError when the file is missing or not an image."""
    from PIL import Image, UnidentifiedImageError

    path = logo_path(logo)
    if not path.is_file():
        raise NewsreelError(f"the logo {path} does not exist", "pass a PNG file with --set compose.logo=PATH")
    try:
        with Image.open(path) as im:
            im.load()
            if im.width < 2 or im.height < 2:
                raise ValueError("it is smaller than 2x2 pixels")
            return im.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise NewsreelError(
            f"the logo {path.name} is not an image ({one_line(str(exc))})", "pass a PNG (or JPEG/WebP) image file"
        ) from None


def write_logo(image, width: int, height: int, opacity: float, out: Path) -> Path:
    """The bug as ffmpeg overlays it: resized to width x height (Lanczos) with its alpha scaled by `opacity`."""
    from PIL import Image

    bug = image.resize((width, height), Image.Resampling.LANCZOS)
    if opacity < 1.0:
        alpha = bug.getchannel("A").point(lambda a: round(a * opacity))
        bug.putalpha(alpha)
    bug.save(out, format="PNG")
    return out
