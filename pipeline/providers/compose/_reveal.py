"""The reveal card's layout: the card's text (`stages.compose.Reveal`, built by pipeline/reveal.py) placed on a frame
of any size, every line measured so none leaves the frame, for the style's `reveal.ass.j2` to draw.

The card sits below the AI-GENERATED label, inside margins (in 9:16 clear of the bottom sixth, where phone apps put
their buttons). The heading and the statements come first, wrapped to the width; then as many invented items as
fit, and "…and N more" for the rest (run.json keeps the whole list). When even the statements do not fit, every
size shrinks a step (down to 60 %) before items are left off.
"""

from __future__ import annotations

from typing import Any

from ... import assets
from ._ass_text import text_font, text_width, wrap_title

MIN_SECONDS, MAX_SECONDS = 5.0, 8.0
WORDS_PER_SECOND = 6.0  # reading pace the card allows for: a few seconds (a viewer can pause it)
LINE_SPACING = 1.28  # line pitch / ASS size: libass lays DejaVu Sans out at about 1.17 of its size
ITEM_LINES = 2  # lines an invented item may take before it is cut with an ellipsis


def card_seconds(reveal: Any) -> float:
    """How long the card shows: time to read it at WORDS_PER_SECOND, from MIN_SECONDS to MAX_SECONDS. It follows
    from the card's text (in the compose key through the card's digest), so no parameter changes existing keys."""
    words = sum(len(line.split()) for line in reveal.text_lines())
    return round(min(MAX_SECONDS, max(MIN_SECONDS, words / WORDS_PER_SECOND)), 1)


def reveal_layout(reveal: Any, res_x: int, res_y: int, *, label_bottom: float | None = None) -> dict[str, Any]:
    """Where each line of the card goes on a res_x x res_y frame: {"lines": [{text, size, x, y, kind, font}],
    "panel", "rule", "box" (the text's bounding box), "shown" (items drawn), "more" (items left off), ...}.
    kind: heading | statement | invented_heading | item | more. `label_bottom`: where the label box ends."""
    u = min(res_x, res_y) / 720.0
    portrait = res_y > res_x * 1.2
    margin_x = round(0.07 * res_x) if portrait else round(64 * u)
    top = round((label_bottom if label_bottom is not None else 60 * u) + 28 * u)
    bottom = res_y - (round(0.14 * res_y) if portrait else round(40 * u))
    width = res_x - 2 * margin_x
    # A tall frame has the room for larger text (phones show 9:16 small); every frame shrinks when it must.
    scales = (1.25, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6) if portrait else (1.0, 0.9, 0.8, 0.7, 0.6)
    # The largest size that shows every item, down to 80 %; else the largest at most 100 % that fits the statements.
    tries = [(k, _place(reveal, margin_x, top, bottom, width, u * k, u, portrait)) for k in scales]
    placed = next((p for k, p in tries if p is not None and (p["more"] == 0 and k >= 0.8)), None) or next(
        (p for k, p in tries if p is not None and k <= 1.0), None)
    if placed is None:
        return _place(reveal, margin_x, top, bottom, width, u * 0.6, u, portrait, force=True)  # type: ignore[return-value]
    # A short card sits a third of the way down the room it leaves, not against the label.
    spare = bottom - (placed["box"][1] + placed["box"][3])
    if spare > 0:
        shift = round(spare / 3, 1)
        for line in placed["lines"]:
            line["y"] = round(line["y"] + shift, 1)
        placed["rule"]["y"] = round(placed["rule"]["y"] + shift, 1)
        placed["box"][1] = round(placed["box"][1] + shift, 1)
    return placed


def _wrapped(text: str, size: int, width: float, max_lines: int, font: str) -> list[str] | None:
    lines = wrap_title(text, size, width, max_lines, font)
    if lines is not None:
        return lines
    # Too long for max_lines: cut it word by word and end it with an ellipsis.
    words = text.split()
    while len(words) > 1:
        words = words[:-1]
        lines = wrap_title(" ".join(words).rstrip(",;:.") + "\u2026", size, width, max_lines, font)
        if lines is not None:
            return lines
    cut = text
    while cut and text_width(cut + "\u2026", size, font=font) > width:
        cut = cut[:-1]
    return [cut + "\u2026"] if cut else None


def _place(reveal: Any, x: int, top: int, bottom: int, width: int, s: float, u: float, portrait: bool,
           force: bool = False) -> dict[str, Any] | None:
    """The layout at scale `s` (u times a shrink factor), or None when the heading and statements do not fit."""
    sizes = {"heading": round(44 * s), "statement": round(27 * s), "invented_heading": round(27 * s),
             "item": round(25 * s), "more": round(23 * s)}
    gaps = {"heading": 22 * s, "statement": 6 * s, "invented_heading": 8 * s, "item": 4 * s, "more": 0.0}
    family = assets.FONT_FAMILY
    lines: list[dict[str, Any]] = []
    y = float(top)

    def add(kind: str, text: str, max_lines: int, font: str = family, factor: float = 1.0) -> bool:
        nonlocal y
        size = round(sizes[kind] * factor)
        wrapped = _wrapped(text, size, width, max_lines, font) if text else None
        if not wrapped:
            return False
        pitch = size / factor * LINE_SPACING
        needed = pitch * len(wrapped)
        if y + needed > bottom and not force:
            return False
        for line in wrapped:
            lines.append({"text": line, "size": size, "x": x, "y": round(y, 1), "kind": kind, "font": font,
                          "w": round(text_width(line, size, font=font), 1), "h": round(pitch, 1)})
            y += pitch
        y += gaps[kind]
        return True

    if not add("heading", reveal.heading, 2):
        return None
    rule_y = y - gaps["heading"] * 0.8
    for statement in reveal.lines:
        if not add("statement", statement, 3):
            return None
    if not add("invented_heading", reveal.invented_heading, 2):
        return None
    items = list(reveal.invented)
    shown = 0
    more_pitch = sizes["more"] * LINE_SPACING
    # Wide frames list the items in two columns, filled row by row.
    cols = 1 if portrait else 2
    gutter = round(28 * u)
    col_w = (width - gutter * (cols - 1)) / cols
    row_h = 0.0
    for k, item in enumerate(items):
        col = k % cols
        if col == 0 and k:
            y += row_h + gaps["item"]
            row_h = 0.0
        reserve = more_pitch if k < len(items) - 1 else 0.0  # room for "...and N more" unless this is the last
        font = text_font(item, getattr(reveal, "language", "en"))
        size = round(sizes["item"] * font.factor)
        wrapped = _wrapped(f"\u2022 {item}", size, col_w, ITEM_LINES, font.family)
        pitch = size / font.factor * LINE_SPACING
        if not wrapped or y + pitch * len(wrapped) > bottom - reserve:
            break
        cx = x + col * (col_w + gutter)
        for i, line in enumerate(wrapped):
            lines.append({"text": line, "size": size, "x": round(cx, 1), "y": round(y + i * pitch, 1), "kind": "item",
                          "font": font.family, "w": round(text_width(line, size, font=font.family), 1),
                          "h": round(pitch, 1)})
        row_h = max(row_h, pitch * len(wrapped))
        shown += 1
    y += row_h + (gaps["item"] if row_h else 0.0)
    more = len(items) - shown
    if more:
        add("more", f"\u2026and {more} more (all of them in run.json)", 1)
    box = [x, top, max((ln["x"] + ln["w"] for ln in lines), default=float(x)) - x, round(y - top, 1)]
    return {
        "lines": lines,
        "x": x,
        "top": top,
        "bottom": bottom,
        "width": width,
        "rule": {"x": x, "y": round(rule_y, 1), "w": round(min(width, 200 * u)), "h": max(2, round(4 * u))},
        "box": [round(v, 1) for v in box],
        "shown": shown,
        "more": more,
    }


def notes(layout: dict[str, Any]) -> dict[str, Any]:
    """run.json's compose notes about the card: drawn, the lines as shown, how many items fit and were left off."""
    return {"drawn": True, "shown_lines": [ln["text"] for ln in layout["lines"]], "invented_shown": layout["shown"],
            "invented_left_off": layout["more"], "box": layout["box"]}


def render_card(reveal: Any, width: int, height: int, out: Any, *, style: str = "news") -> dict[str, Any]:
    """Draw the card alone, as compose draws it (the style's graphics burned by libass), over black into the image
    file `out` (e.g. a PNG): the picture of its last moment, the fades done. For screenshots and for tests that
    compare a video's last frames with it. Returns the layout."""
    import os
    import tempfile
    from pathlib import Path

    import pysubs2

    from ...media import run_ffmpeg
    from ._graphics import Timing, write_burn_ass
    from .shared import filter_escape

    duration = 2.0  # the card from 1 s on: its picture does not depend on how long it shows
    with tempfile.TemporaryDirectory(prefix="newsreel-reveal-") as tmp:
        folder = Path(tmp)
        captions = pysubs2.SSAFile()
        captions.info.update({"PlayResX": str(width), "PlayResY": str(height)})
        captions.save(os.fspath(folder / "captions.ass"), format_="ass")
        layout = write_burn_ass(folder / "captions.ass", folder / "graphics.ass", title=" ", label="AI-GENERATED",
                                duration=duration, width=width, height=height, style=style,
                                timing=Timing(duration, 0.0, 1.0, False, False, reveal_start=1.0), reveal=reveal)
        fonts = filter_escape(os.fspath(assets.FONTS_DIR))
        run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=c=black:s={width}x{height}:r=10:d={duration}",
                    "-vf", f"ass=filename=graphics.ass:fontsdir={fonts}:shaping=complex",
                    "-ss", "1.7", "-frames:v", "1", os.fspath(Path(out).resolve())],
                   cwd=folder, loglevel="error")
    return layout.reveal
