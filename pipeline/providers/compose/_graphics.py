"""News graphics for the compose stage: where each graphic goes for a frame size, and the one ASS file burned in.

`graphics_layout` computes the geometry (where the lower third, ticker, bug, label and cards go, how the title wraps)
for every frame size, in PlayRes units (= output pixels), so that the captions can be kept clear of the graphics;
a style (`_styles.py`: its jinja2 templates) decides how the elements look and may place them elsewhere.
`style_context` is what the templates see; `write_burn_ass` merges the style's rendered graphics with the captions
into the file the `ass` filter (or libass, for the moviepy provider) draws. Text is escaped, measured and fitted in
`_ass_text.py`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import assets
from ...errors import NewsreelError
from ._ass_text import (  # noqa: F401 - TextFont and has_glyph re-exported: tests import them from here
    TextFont,
    ass_time,
    fit_title,
    has_glyph,
    ink_extent,
    one_line,
    text_font,
    text_width,
)
from ._styles import (  # noqa: F401 - STYLES_DIR and shipped_styles re-exported: tests import them from here
    CALLOUT_ENTRY,
    STYLES_DIR,
    render_style,
    shipped_styles,
    style_dir,
)

GRAPHICS_LAYER = 10  # captions keep layers below this
TICKER_SPEED = 110.0  # pixels a second at 720 lines (scaled with the frame)
SEPARATOR = "\u00a0" * 4 + "\u2022" + "\u00a0" * 4  # between ticker repeats; no-break spaces survive escaping


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
    reveal: dict = field(default_factory=dict)  # the reveal card's layout when drawn (`_reveal.reveal_layout`)


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
    shape = graphics_shape(res_x, res_y)
    portrait, square = shape == "portrait", shape == "square"
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


@dataclass(frozen=True)
class Timing:
    """Seconds: the whole video, and the narrated part between the intro and the outro."""

    duration: float
    main_start: float
    main_end: float
    intro: bool
    outro: bool
    reveal_start: float | None = None  # when the reveal card starts (it runs to the end); None: no card

    @property
    def outro_end(self) -> float:
        return self.reveal_start if self.reveal_start is not None else self.duration + 1.0


def style_context(layout: GraphicsLayout, timing: Timing, reveal: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a style's templates see. `reveal`: the reveal card's layout (`_reveal.reveal_layout`), None for none."""
    lower_start = timing.main_start + 0.15
    card: dict[str, Any] = {"on": False}
    if reveal is not None and timing.reveal_start is not None:
        card = {**reveal, "on": True, "start": ass_time(timing.reveal_start), "end": ass_time(timing.duration + 1.0),
                "ms": round((timing.duration - timing.reveal_start) * 1000)}
    return {
        "reveal": card,
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
        "outro": {"on": timing.outro, "start": ass_time(timing.main_end), "end": ass_time(timing.outro_end),
                  "ms": round((min(timing.outro_end, timing.duration) - timing.main_end) * 1000)},
    }


def callout_context(callouts: list[dict[str, Any]], res_x: int, res_y: int, language: str = "") -> dict[str, Any]:
    """What callout.ass.j2 sees: each callout (`_shots.Shots.callouts`: start and end seconds, text, label, kind,
    box [x, y, w, h]) with its card's geometry: the figure fitted on one line as big as the box allows, the label
    in up to two lines under it, the pair centred in the box's height. Times are floored to the centisecond so the
    card shows exactly on the shot's frames (a frame shows at n / fps; fps <= 60)."""
    u = min(res_x, res_y) / 720.0
    font = text_font(" ".join(f"{c['text']} {c['label']}" for c in callouts), language)
    out = []
    for c in callouts:
        x, y, w, h = (int(v) for v in c["box"])
        accent = max(2, round(0.018 * w))
        pad = round(0.07 * w)
        inner = w - accent - 2 * pad
        # the label readable on a small card (a square frame's), 22 px at 720 lines at least, while both fit
        fig_base, lab_base = min(0.3 * h, 120 * u), min(max(0.1 * h, 22 * u), 32 * u)
        for _ in range(6):
            fig_lines, fig_size = fit_title(c["text"], fig_base * font.factor, inner, 1, font.family)
            lab_lines, lab_size = fit_title(c["label"] or " ", lab_base * font.factor, inner, 2, font.family)
            if not (c["label"] or "").strip():
                lab_lines = []
            fig_h = fig_size / font.factor * 1.2
            gap = 0.3 * lab_size / font.factor if lab_lines else 0.0
            lab_h = len(lab_lines) * lab_size / font.factor * 1.22
            if fig_h + gap + lab_h <= 0.9 * h:
                break
            fig_base, lab_base = 0.9 * fig_base, 0.9 * lab_base
        top = y + (h - fig_h - gap - lab_h) / 2
        left = x + accent + pad
        out.append({
            "start": _floor_time(c["start"]), "end": _floor_time(c["end"]),
            "ms": round((c["end"] - c["start"]) * 1000), "kind": c.get("kind", ""),
            "box": {"x": x, "y": y, "w": w, "h": h}, "pad": pad, "accent": accent, "rule": max(1, round(2 * u)),
            "figure": {"text": c["text"], "lines": fig_lines, "size": fig_size, "x": left, "y": round(top, 1)},
            "label": {"text": c["label"], "lines": lab_lines, "size": lab_size, "x": left,
                      "y": round(top + fig_h + gap, 1)},
        })
    return {"res_x": res_x, "res_y": res_y, "u": u, "shape": graphics_shape(res_x, res_y), "font": assets.FONT_FAMILY,
            "text": {"font": font.family, "encoding": font.encoding}, "callouts": out}


def graphics_shape(res_x: int, res_y: int) -> str:
    return "portrait" if res_y > res_x * 1.2 else "square" if res_x < res_y * 1.2 else "landscape"


def _floor_time(seconds: float) -> str:
    cs = max(0, math.floor(seconds * 100 + 1e-6))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


def render_graphics(layout: GraphicsLayout, duration: float, style: str = "news", timing: Timing | None = None) -> str:
    """The graphics ASS document of a style for this layout."""
    timing = timing or Timing(duration, 0.0, duration, False, False)
    return render_style(style_dir(style), style_context(layout, timing, layout.reveal or None))


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
    keep_clear: list[int] | None = None,
    clear_when: list[tuple[float, float]] | None = None,
    reveal: Any = None,
    callouts: list[dict[str, Any]] | None = None,
    keep_under: int | None = None,
) -> GraphicsLayout:
    """Merge the captions' ASS (shifted to start after an intro) with the style's graphics into `out`, the one file
    the `ass` filter burns in. `language` (the script's) picks the graphics' font for text without letters.
    `keep_clear` ([x, y, w, h] frame pixels, a presenter's face): bottom captions are narrowed to the other side of
    it (when it leaves 40 % of the width there), or lifted above it when it stands in the middle; only the captions
    showing during `clear_when` ([(start, end)] seconds of the video, the shots showing the anchor) when given, else
    all; `keep_under`: the row those captions stay below (shrunk to fit if they must: `_fit_under`). `callouts`
    (`callout_context`'s input): the cards of the callout shots, drawn by the style's callout.ass.j2. `reveal` (a
    `stages.compose.Reveal`, with `timing.reveal_start` set): the reveal card, laid out for the frame by
    `_reveal.reveal_layout`; the layout's `reveal` holds what was placed (its notes)."""
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
    card = None
    if reveal is not None and timing.reveal_start is not None:
        from ._reveal import reveal_layout

        card = reveal_layout(reveal, res_x, res_y, label_bottom=layout.label["box_y"] + layout.label["box_h"])
        object.__setattr__(layout, "reveal", card)
    document = render_style(folder, style_context(layout, timing, card))
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
    if card is not None and not any(e.name == "reveal" for e in graphics.events):
        raise NewsreelError(
            f"style {folder} draws no reveal card (no event named 'reveal')",
            f"copy reveal.ass.j2 from {STYLES_DIR / 'news'} into the style and include it in style.ass.j2, "
            "or leave out --reveal",
        )
    # Captions anchored at the bottom move up above the lower third.
    for st in subs.styles.values():
        if int(st.alignment) in (1, 2, 3):
            st.marginv = max(st.marginv, layout.clear_bottom)
    for event in subs.events:
        if event.marginv and event.marginv < layout.clear_bottom and _style_is_bottom(subs, event.style):
            event.marginv = layout.clear_bottom
        event.layer = min(event.layer, GRAPHICS_LAYER - 1)
    if keep_clear is not None:
        _clear_of(subs, keep_clear, res_x, res_y, clear_when, keep_under)
    parts = [graphics]
    if callouts:
        cards = render_style(folder, callout_context(callouts, res_x, res_y, language), CALLOUT_ENTRY)
        try:
            parts.append(pysubs2.SSAFile.from_string(cards, format_="ass"))
        except Exception as exc:  # noqa: BLE001
            raise NewsreelError(f"style {folder} rendered a {CALLOUT_ENTRY} that is not ASS: {exc}",
                                "check its [Script Info], [V4+ Styles] and [Events] sections") from None
    for part in parts:
        for name, st in part.styles.items():
            subs.styles[name] = st
        for event in part.events:
            event.layer = max(event.layer, GRAPHICS_LAYER)
        subs.events.extend(part.events)
    subs.save(os.fspath(out), encoding="utf-8", format_="ass")
    return layout


def _clear_of(subs: Any, box: list[int], res_x: int, res_y: int,
              when: list[tuple[float, float]] | None = None, above: int | None = None) -> None:
    """Keep the captions (the events below the graphics' layer showing during `when`, all when None) off `box`: a
    box on one side (or leaving 40 % of the width on the other) narrows them to the other side's margins; a box
    across the middle lifts bottom captions above it and pushes top ones below it. Set on each event (an event's
    non-zero margin overrides its style's). `above`: a frame row bottom captions must stay below (the bottom of the
    picture's box or the callout's card): one that would wrap up past it is drawn smaller, down to 70 %."""
    x, y, w, h = box
    pad = max(8, round(0.02 * res_x))
    right = x + w / 2 >= res_x / 2
    # Beside the face when it stands to one side, or leaves 40 % of the width free on the other (a square frame's
    # anchor: lifted above its face, the captions would land on the picture over its shoulder).
    room = (x - pad) if right else (res_x - x - w - pad)
    side = x >= res_x / 2 or x + w <= res_x / 2 or room >= 0.4 * res_x
    for event in subs.events:
        if event.layer >= GRAPHICS_LAYER or event.is_comment:
            continue
        # a caption that shows a moment (under 100 ms: cue and cut times round differently) into an anchor shot
        # does not count
        if when is not None and not any(min(event.end, b * 1000) - max(event.start, a * 1000) > 100
                                        for a, b in when):
            continue
        st = subs.styles.get(event.style)
        if st is None:
            continue
        if side:
            if right:
                event.marginr = max(event.marginr or st.marginr, res_x - x + pad)
            else:
                event.marginl = max(event.marginl or st.marginl, x + w + pad)
        elif int(st.alignment) in (1, 2, 3):
            event.marginv = max(event.marginv or st.marginv, res_y - y + pad)
        elif int(st.alignment) in (7, 8, 9):
            event.marginv = max(event.marginv or st.marginv, y + h + pad)
        if above is not None and int(st.alignment) in (1, 2, 3):
            _fit_under(event, st, res_x, res_y, above + pad)


def _fit_under(event: Any, st: Any, res_x: int, res_y: int, top: int) -> None:
    """Draw a bottom caption smaller (90 %, 80 %, 70 %: an \\fs override at its start) when its lines, wrapped
    as libass wraps them in its margins (estimated by measuring the words), would reach above row `top`."""
    width = res_x - (event.marginl or st.marginl) - (event.marginr or st.marginr)
    bottom = res_y - (event.marginv or st.marginv)
    lines = [line.split() for line in event.plaintext.split("\n")]

    def height(size: float) -> float:
        count = 0
        for words in lines:
            count += 1
            used = 0.0
            for word in words:
                w = text_width(word + " ", size, font=st.fontname)
                if used and used + w > width:
                    count += 1
                    used = 0.0
                used += w
        return count * size * 1.1 + 2 * st.outline

    if bottom - height(st.fontsize) >= top:
        return
    for scale in (0.9, 0.8, 0.7):
        if bottom - height(st.fontsize * scale) >= top:
            break
    event.text = "{\\fs%d}" % round(st.fontsize * scale) + event.text


def _style_is_bottom(subs, name: str) -> bool:
    st = subs.styles.get(name)
    return st is not None and int(st.alignment) in (1, 2, 3)


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
