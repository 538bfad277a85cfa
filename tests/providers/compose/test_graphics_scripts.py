"""The compose graphics in other scripts: the lower third, ticker and cards choose their font by the text's script
(as the captions do), measure with that font, and draw right-to-left titles right-aligned; checked on the ASS the
compose stage writes and on frames the bundled ffmpeg (libass) renders from it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pysubs2
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline import assets
from pipeline.media import run_ffmpeg
from pipeline.providers.compose import _ass_text, _graphics
from pipeline.providers.compose._graphics import (
    graphics_layout,
    has_glyph,
    text_font,
    text_width,
    write_burn_ass,
)
from pipeline.providers.compose.ffmpeg import filter_escape
from tests.providers.compose.inputs import make_inputs

ZH = "北京宣布新的环保政策：到2030年空气污染减少一半"
AR = "الحكومة تعلن خطة جديدة للطاقة الشمسية"
EN = "Breakthrough in Mars Project"
W, H = 640, 360
BG = "0x286e46"
FALLBACK_FAILED = re.compile(r"failed to find any fallback with glyph (0x[0-9A-Fa-f]+)")


def burn_ass(tmp_path: Path, title: str, *, ticker: str | None = None, intro: bool = False,
             style: str = "news", language: str = "") -> tuple[Path, _graphics.GraphicsLayout]:
    """The one ASS file the compose stage burns in: captions plus the style's graphics."""
    captions = make_inputs(tmp_path / "in", 1.0, width=W, height=H)[3]
    out = tmp_path / "burn.ass"
    timing = _graphics.Timing(4.0, 1.0 if intro else 0.0, 3.5, intro, intro)
    layout = write_burn_ass(captions.ass, out, title=title, label="AI-GENERATED", duration=4.0, width=W, height=H,
                            style=style, breaking=True, ticker=ticker, timing=timing, language=language)
    return out, layout


def render_frame(ass: Path, t: float, out: Path) -> tuple[np.ndarray, list[str]]:
    """A frame of the ASS burnt over a flat green picture by the bundled ffmpeg, and libass's log."""
    log = run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", f"color=c={BG}:s={W}x{H}:d=4", "-vf",
         f"ass=filename={filter_escape(ass.name)}:fontsdir={filter_escape(os.fspath(assets.FONTS_DIR))}:shaping=complex",
         "-ss", f"{t}", "-frames:v", "1", out.name],
        cwd=ass.parent, loglevel="verbose",
    )
    return np.asarray(Image.open(out).convert("L"), dtype=np.float32), log


def missing_glyphs(log: list[str]) -> set[str]:
    return {chr(int(m.group(1), 16)) for line in log if (m := FALLBACK_FAILED.search(line))}


# --------------------------------------------------------------------------------------------------------------------
# Font choice, in the ASS the compose stage writes


@pytest.mark.parametrize(
    ("title", "family", "encoding", "align"),
    [(ZH, assets.FONT_CJK_FAMILY, 1, 7), (AR, assets.FONT_ARABIC_FAMILY, -1, 9), (EN, assets.FONT_FAMILY, 1, 7)],
)
@pytest.mark.parametrize("style", ["news", "minimal"])
def test_title_ticker_and_card_use_the_font_of_their_script(tmp_path, title, family, encoding, align, style):
    ass, layout = burn_ass(tmp_path, title, ticker=title, intro=True, style=style)
    subs = pysubs2.load(os.fspath(ass))
    for name in ("NR Title", "NR Ticker", "NR Card"):
        assert subs.styles[name].fontname == family, name
        assert int(subs.styles[name].encoding) == encoding, name
    for name in ("NR Label", "NR Breaking"):  # AI-GENERATED, BREAKING NEWS: Latin text in the Latin font
        assert subs.styles[name].fontname == assets.FONT_FAMILY
    title_event = next(e for e in subs.events if e.style == "NR Title")
    assert title_event.text.startswith(f"{{\\an{align}")
    assert "".join(layout.title["lines"]).replace(" ", "") in title_event.plaintext.replace(" ", "").replace("\n", "")
    # English boilerplate on the outro card keeps the Latin font whatever the title's script.
    outro = [e for e in subs.events if e.name == "outro" and e.style == "NR Card"]
    assert outro and all(f"\\fn{assets.FONT_FAMILY}" in e.text for e in outro)
    tab = next(e for e in subs.events if e.name == "ticker" and "LATEST" in e.text)
    assert tab.style == "NR Breaking" or f"\\fn{assets.FONT_FAMILY}" in tab.text


def test_text_font_follows_the_script_then_the_language():
    assert text_font(ZH) == _graphics.TextFont(assets.FONT_CJK_FAMILY, 1.0, False)
    assert text_font(AR).family == assets.FONT_ARABIC_FAMILY and text_font(AR).rtl
    assert text_font(AR).factor > 1.0  # Noto Sans Arabic draws its letters small for its line box
    assert text_font(EN) == _graphics.TextFont()
    assert text_font("2030", "zh").family == assets.FONT_CJK_FAMILY  # no letters: the language decides
    assert text_font("2030", "ar").family == assets.FONT_ARABIC_FAMILY
    assert text_font(ZH, "en").family == assets.FONT_CJK_FAMILY  # letters beat the language


def test_the_chosen_fonts_have_every_letter():
    assert all(has_glyph(assets.FONT_CJK_FAMILY, ch) for ch in ZH if ch.isalpha())
    assert all(has_glyph(assets.FONT_ARABIC_FAMILY, ch) for ch in AR if ch.isalpha())
    # ... which the Latin font lacks for Chinese (it would draw .notdef boxes)
    assert not any(has_glyph(assets.FONT_FAMILY, ch) for ch in ZH if ch.isalpha() and not ch.isascii())
    assert has_glyph(assets.FONT_FAMILY, "A") and not has_glyph(assets.FONT_CJK_FAMILY, "A")  # Droid has no Latin


# --------------------------------------------------------------------------------------------------------------------
# Measuring with the chosen font


def test_widths_are_measured_in_the_drawn_font():
    # A Chinese character is one em of Droid Sans Fallback (libass sizes the font by ascender + descender); measured
    # in DejaVu Sans Bold it would be a .notdef box, 0.6 em.
    droid = ImageFont.truetype(os.fspath(assets.FONT_CJK), 200)
    em = 36 * 200 / sum(droid.getmetrics())
    assert text_width("北京宣布新的环保政策", 36, font=assets.FONT_CJK_FAMILY) == pytest.approx(10 * em, rel=0.01)
    dejavu = ImageFont.truetype(os.fspath(assets.FONT_BOLD), 200)
    box = dejavu.getlength(_ass_text._MISSING) * 36 / sum(dejavu.getmetrics())
    assert box < 0.8 * em
    # Characters the named font lacks are measured in a bundled font that has them.
    assert text_width("北京宣布新的环保政策", 36) == pytest.approx(10 * em, rel=0.01)
    # Latin digits in a Chinese title are measured in DejaVu Sans Bold, as libass draws them.
    mixed = text_width("到2030年", 36, font=assets.FONT_CJK_FAMILY)
    parts = text_width("到", 36, font=assets.FONT_CJK_FAMILY) * 2 + text_width("2030", 36)
    assert mixed == pytest.approx(parts, rel=0.01)
    # Latin text measures as before.
    assert text_width(EN, 36) == pytest.approx(text_width(EN, 36, font=assets.FONT_FAMILY))


@pytest.mark.parametrize(("w", "h", "max_lines"), [(1280, 720, 2), (1080, 1920, 3), (1080, 1080, 2)])
def test_long_chinese_title_wraps_between_characters_and_fits(w, h, max_lines):
    title = ZH + "，市民表示欢迎，专家认为这是一个重要的转折点，各地将陆续推出配套措施" * 4
    layout = graphics_layout(w, h, title, "AI-GENERATED", ticker="x", logo_aspect=1.0)
    lines = layout.title["lines"]
    assert 2 <= len(lines) <= max_lines  # wrapped although the title has no spaces
    room = layout.bar["w"] - layout.bar["accent"] - 2 * round(22 * layout.u)
    assert all(text_width(line, layout.title["size"], font=assets.FONT_CJK_FAMILY) <= room for line in lines)
    assert lines[-1].endswith("\u2026")
    assert not any(line.startswith(("，", "。", "：")) for line in lines)  # no line starts with a closing mark
    assert title.startswith("".join(lines)[:-1])  # the title's own characters, in order, cut with an ellipsis


def test_arabic_title_is_mirrored_and_its_ink_centred_in_the_bar():
    layout = graphics_layout(1280, 720, AR, "AI-GENERATED", breaking=True)
    bar, title = layout.bar, layout.title
    assert title["an"] == 9 and title["rtl"] and title["encoding"] == -1
    assert title["x"] == bar["x"] + bar["w"] - bar["accent"] - round(22 * layout.u)  # right-aligned by the accent
    assert bar["accent_x"] == bar["x"] + bar["w"] - bar["accent"] and title["x_from"] > title["x"]
    assert layout.breaking["x"] + layout.breaking["w"] == bar["x"] + bar["w"]
    top, bottom = _graphics.ink_extent(title["lines"], title["size"], title["font"])
    ink_mid = title["y"] + (top + bottom) / 2
    assert ink_mid == pytest.approx(bar["y"] + bar["h"] / 2, abs=1.0)
    latin = graphics_layout(1280, 720, EN, "AI-GENERATED", breaking=True)
    assert latin.title["an"] == 7 and latin.bar["accent_x"] == latin.bar["x"] and latin.breaking["x"] == bar["x"]


def test_right_to_left_ticker_scrolls_to_the_right():
    for text, sign in ((AR, 1), (EN, -1), (ZH, -1)):
        layout = graphics_layout(1280, 720, EN, "AI", ticker=text, main=(0.0, 30.0))
        passes = layout.ticker["passes"]
        assert all(np.sign(p["x2"] - p["x1"]) == sign for p in passes), text
        # however it moves, the text covers the band from the tab to the right edge all the time
        unit_w = layout.ticker["unit_w"]
        copies = layout.ticker["text"].count(_graphics.SEPARATOR)
        for p in passes:
            for x in (p["x1"], p["x2"]):
                assert x <= layout.ticker["tab"]["w"] + 12 * layout.u + 0.01
                assert x + copies * unit_w >= 1280


# --------------------------------------------------------------------------------------------------------------------
# Rendered by libass


def _ink_box(gray: np.ndarray, box: tuple[int, int, int, int], level: float = 170.0) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the bright (text) pixels inside box, in frame coordinates."""
    x0, y0, x1, y1 = box
    ys, xs = np.nonzero(gray[y0:y1, x0:x1] > level)
    assert xs.size, "no text drawn there"
    return x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1


def bare_fontconfig(tmp_path: Path) -> Path:
    """A fontconfig configuration that knows no fonts (a bare container)."""
    empty = tmp_path / "empty.conf"
    empty.write_text('<?xml version="1.0"?>\n<fontconfig><cachedir>' + os.fspath(tmp_path / "fc") + "</cachedir></fontconfig>\n")
    return empty


@pytest.mark.parametrize("title", [ZH, AR])
def test_libass_finds_a_glyph_for_every_character(tmp_path, title, monkeypatch):
    ass, _ = burn_ass(tmp_path, title, ticker=title, intro=True)
    for t in (0.5, 2.0, 3.8):  # intro card, lower third and ticker, outro card
        _, log = render_frame(ass, t, tmp_path / f"f{t}.png")
        assert missing_glyphs(log) == set(), t
    # The check sees boxes when they are there: the same title forced into the Latin font, with no fallback fonts
    # anywhere (run_ffmpeg's fontconfig, which adds ours, swapped for a bare one).
    forced = tmp_path / "forced.ass"
    forced.write_text(ass.read_text().replace(text_font(title).family, assets.FONT_FAMILY))
    bare = {**os.environ, "FONTCONFIG_FILE": os.fspath(bare_fontconfig(tmp_path))}
    monkeypatch.setattr("pipeline.media.font_environment", lambda: bare)
    _, log = render_frame(forced, 2.0, tmp_path / "forced.png")
    assert missing_glyphs(log) >= {ch for ch in title if ch.isalpha() and not has_glyph(assets.FONT_FAMILY, ch)}


def test_chinese_title_renders_glyphs_not_boxes(tmp_path, monkeypatch):
    ass, layout = burn_ass(tmp_path, ZH)
    frame, _ = render_frame(ass, 2.0, tmp_path / "zh.png")
    bar = layout.bar
    area = (bar["x"], bar["y"] + bar["rule"] + 1, bar["x"] + bar["w"], bar["y"] + bar["h"])  # below the white rule
    x0, y0, x1, y1 = _ink_box(frame, area)
    expected = text_width(layout.title["lines"][0], layout.title["size"], font=assets.FONT_CJK_FAMILY)
    assert (x1 - x0) == pytest.approx(expected, rel=0.06)  # as wide as measured
    assert y0 > bar["y"] and y1 < bar["y"] + bar["h"]  # inside the bar
    # The title in the Latin font (boxes) draws different pixels: hollow rectangles, not the characters.
    forced = tmp_path / "forced.ass"
    forced.write_text(ass.read_text().replace(assets.FONT_CJK_FAMILY, assets.FONT_FAMILY))
    bare = {**os.environ, "FONTCONFIG_FILE": os.fspath(bare_fontconfig(tmp_path))}
    monkeypatch.setattr("pipeline.media.font_environment", lambda: bare)  # no fallback font to rescue it
    boxes, _ = render_frame(forced, 2.0, tmp_path / "boxes.png")
    region = np.s_[bar["y"]:bar["y"] + bar["h"], bar["x"]:bar["x"] + bar["w"]]
    assert np.abs(frame[region] - boxes[region]).mean() > 8.0


def _pil_text(text: str, size: int, engine) -> np.ndarray:
    font = ImageFont.truetype(os.fspath(assets.FONT_ARABIC), size, layout_engine=engine)
    font.set_variation_by_name("Bold")  # the title is bold; fontconfig gives libass the variable font's bold instance
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("L", (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(img).text((2 - left, 2 - top), text, font=font, fill=255)
    return np.asarray(img, dtype=np.float32)


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two text images after cropping to their ink and scaling b to a's size."""
    def crop(x):
        ys, xs = np.nonzero(x > 128)
        return x[ys.min():ys.max() + 1, xs.min():xs.max() + 1]

    a, b = crop(a), crop(b)
    b = np.asarray(Image.fromarray(b.astype(np.uint8)).resize((a.shape[1], a.shape[0]), Image.Resampling.BILINEAR),
                   dtype=np.float32)
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_arabic_title_renders_joined_right_to_left_and_right_aligned(tmp_path):
    ass, layout = burn_ass(tmp_path, AR)
    frame, _ = render_frame(ass, 2.0, tmp_path / "ar.png")
    bar = layout.bar
    x0, y0, x1, y1 = _ink_box(frame, (bar["x"], bar["y"] + bar["rule"] + 1, bar["accent_x"], bar["y"] + bar["h"]))
    assert abs(x1 - layout.title["x"]) <= 4  # right-aligned against the accent block
    assert x0 > bar["x"] + 0.3 * bar["w"]  # and not stretched from the left
    # Compare with PIL's drawing of the same text: shaped right to left (raqm) against unshaped left-to-right
    # isolated letters (basic layout). libass must match the first far better.
    drawn = frame[y0:y1, x0:x1]
    size = round(layout.title["size"] * 200 / sum(ImageFont.truetype(os.fspath(assets.FONT_ARABIC), 200).getmetrics()))
    shaped = _similarity(drawn, _pil_text(AR, size, ImageFont.Layout.RAQM))
    unshaped = _similarity(drawn, _pil_text(AR, size, ImageFont.Layout.BASIC))
    mirrored = _similarity(drawn, _pil_text(AR, size, ImageFont.Layout.RAQM)[:, ::-1])
    assert shaped > 0.75 and shaped > unshaped + 0.2 and shaped > mirrored + 0.2, (shaped, unshaped, mirrored)


def test_fallback_glyphs_come_from_our_fonts_on_a_machine_without_system_fonts(tmp_path, monkeypatch):
    """Droid Sans Fallback has no Latin digits: libass asks fontconfig for a fallback. With a fontconfig that knows
    no fonts at all (a bare container), ffmpeg still finds ours, because run_ffmpeg adds assets/fonts to it."""
    empty = bare_fontconfig(tmp_path)
    monkeypatch.setenv("FONTCONFIG_FILE", os.fspath(empty))
    ass, _ = burn_ass(tmp_path, ZH)
    _, log = render_frame(ass, 2.0, tmp_path / "zh.png")
    assert missing_glyphs(log) == set()
    # Control: ffmpeg run with that bare configuration itself (not through run_ffmpeg) misses the digits.
    import subprocess

    from pipeline.media import ffmpeg_exe

    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "verbose", "-y", "-f", "lavfi", "-i", f"color=c={BG}:s={W}x{H}:d=4",
         "-vf", f"ass=filename={filter_escape(ass.name)}:fontsdir={filter_escape(os.fspath(assets.FONTS_DIR))}",
         "-ss", "2", "-frames:v", "1", "bare.png"],
        cwd=ass.parent, capture_output=True, text=True, env={**os.environ, "FONTCONFIG_FILE": os.fspath(empty)},
    )
    assert {"2", "0", "3"} <= missing_glyphs(proc.stderr.splitlines())
