"""Scrolling text drawn once: the ticker's text, rendered by libass into one strip, then slid across each frame.

A ticker pass is an ASS event whose only animation is a horizontal \\move over its whole life, inside a \\clip
rectangle: the same picture at a position that changes every frame. ffmpeg's `ass` filter used to draw it anew on
every frame (libass lays out and rasterises ~100 glyphs, then blends them), which also kept every static part
above it in layer order (the label) in libass for the whole video. Here the text is rendered by libass once per
sub-pixel phase (every 1/8 pixel over two pixels: libass's own step, and an even pixel for 4:2:0 chroma), a few
frames each showing the next stretch of the text, over black and over white as `_layers` does for the static
graphics; each frame blends the window of the phase where libass would put the text (its time truncated to whole
milliseconds as ffmpeg's `ass` filter gives it, the position rounded to 1/64 and floored to 1/8 pixel) onto the
I420 planes. The frames match libass's to within the encoder's noise (tests/providers/compose/test_scroll.py).

Stacking order is kept: the static graphics are split into those under the scroll's layer (blended before it) and
those over it (after it); a stretch of a pass during which an animated event of a lower layer shows, or a static
one of the same layer, stays with libass (drawn over the frame after all of this), as `_layers.split` does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ._layers import Blend, keep_from, render_rgb

_MOVE_ONLY = re.compile(
    r"^\{(?P<pre>[^}]*?)\\move\(\s*(?P<x1>-?[\d.]+)\s*,\s*(?P<y1>-?[\d.]+)\s*,\s*(?P<x2>-?[\d.]+)\s*,\s*"
    r"(?P<y2>-?[\d.]+)\s*,\s*0\s*,\s*(?P<ms>\d+)\s*\)(?P<post>[^}]*)\}(?P<body>[^{}]*)$"
)
_CLIP = re.compile(r"\\clip\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)")
_OTHER = re.compile(r"\\(?:t\(|fad|fade\(|[kK][fo]?\s*\d|iclip|pos\(|org\(|fr[xyz]?\s*-?\d|fa[xy])")


@dataclass(frozen=True)
class Pass:
    """One scrolling event: shown [start, end) ms at x(t) = x1 + (x2 - x1) * (t - start) / ms, in its clip."""

    start: int
    end: int
    layer: int
    x1: float
    x2: float
    ms: int
    y: float
    clip: tuple[float, float, float, float]
    source: int
    text: str  # the event's text
    rest: str  # its override tags without \move and \clip, then its text: what the strip is rendered from
    window: tuple[int, int] | None = None  # the stretch [a, b) ms of its life drawn here (None: all of it)

    def shows(self, t_ms: float) -> bool:
        a, b = self.window or (self.start, self.end)
        return a <= t_ms < b

    def x_at(self, t_ms: float) -> float:
        p = min(1.0, max(0.0, (t_ms - self.start) / self.ms)) if self.ms > 0 else 1.0
        return self.x1 + (self.x2 - self.x1) * p

    def piece(self, a: int, b: int) -> str:
        """This pass's ASS text for [a, b) of its life (an event of its own from a): the same motion."""
        xa, xb = self.x_at(a), self.x_at(b)
        move = f"\\move({xa:.2f},{self.y:g},{xb:.2f},{self.y:g},0,{b - a})"
        return _MOVE.sub(lambda m: move, self.text, count=1)


_MOVE = re.compile(r"\\move\([^)]*\)")


def parse(text: str, start: int, end: int, layer: int, source: int) -> Pass | None:
    """A Pass when `text` is one override block with a horizontal \\move over the whole event and a \\clip
    rectangle, then plain text; None otherwise."""
    m = _MOVE_ONLY.match(text)
    if m is None or end - start != int(m.group("ms")) or int(m.group("ms")) <= 0:
        return None
    if float(m.group("y1")) != float(m.group("y2")) or float(m.group("x1")) == float(m.group("x2")):
        return None
    tags = m.group("pre") + m.group("post")
    clip = _CLIP.search(tags)
    if clip is None or _OTHER.search(tags) or "\\move" in tags:
        return None
    return Pass(start, end, layer, float(m.group("x1")), float(m.group("x2")), int(m.group("ms")),
                float(m.group("y1")), tuple(float(v) for v in clip.groups()),  # type: ignore[arg-type]
                source, text, "{" + _CLIP.sub("", tags) + "}" + m.group("body"))


PHASES = 16  # strips rendered per text: every 1/8 pixel (libass's own sub-pixel step) over two pixels (4:2:0)


@dataclass
class Scroll:
    """The passes of one text, its strips (one per phase), the first text column `c0` (even) and the frame
    columns [fa, fb) it may draw in (the clip, rounded inwards to even).

    A strip is the text rendered once at one sub-pixel phase, as a `_layers.Blend` at x 0 whose rows start at frame
    row `y`: luma column j shows the text's point j + c0 - phase / 8, chroma at half size."""

    passes: list[Pass]
    strips: list[Blend]
    c0: int
    fa: int
    fb: int

    def at(self, t_ms: float) -> Pass | None:
        for p in self.passes:
            if p.shows(t_ms):
                return p
        return None

    def composite(self, planes: tuple[Any, Any, Any], t_ms: float) -> bool:
        """Blend the text where it is at t_ms onto the frame's I420 planes; False when no pass shows."""
        import cv2

        p = self.at(t_ms)
        if p is None or self.fb <= self.fa:
            return False
        # The text's anchor x in 1/8 pixels as libass places it: rounded to 1/64, then floored to 1/8.
        eighths = round(p.x_at(t_ms) * 64) >> 3
        xe = 2 * math.floor(eighths / 16)  # the even pixel at or left of it
        s = self.strips[eighths - 8 * xe]
        # frame column f shows the text's point f - x, which is column f - xe - c0 of the strip of this phase
        i = self.fa - xe - self.c0
        n = self.fb - self.fa
        if i < 0 or i + n > s.keep_y.shape[1]:
            raise AssertionError("the strip does not cover the pass")  # a bug in `coverage`
        for plane, col, keep, top, left, a, width in (
            (planes[0], s.col_y, s.keep_y, s.y, self.fa, i, n),
            (planes[1], s.col_u, s.keep_c, s.y // 2, self.fa // 2, i // 2, n // 2),
            (planes[2], s.col_v, s.keep_c, s.y // 2, self.fa // 2, i // 2, n // 2),
        ):
            region = plane[top:top + keep.shape[0], left:left + width]
            cv2.multiply(region, keep[:, a:a + width], dst=region, scale=1.0 / 255.0)
            cv2.add(region, col[:, a:a + width], dst=region)
        return True


@dataclass
class Scrolls:
    """Every scroll of the video, all of one ASS layer, at `fps` frames a second."""

    layer: int
    fps: int
    items: list[Scroll] = field(default_factory=list)

    def libass_ms(self, t_ms: float) -> int:
        """The time libass is given for the frame at t_ms: ffmpeg's `ass` filter passes pts * time base * 1000,
        truncated to whole milliseconds (frame 87 at 30 fps is 2899 ms); positions follow it to match."""
        n = round(t_ms * self.fps / 1000)
        return int(n * (1.0 / self.fps) * 1000)

    def showing(self, t_ms: float) -> bool:
        t = self.libass_ms(t_ms)
        return any(s.at(t) is not None for s in self.items)

    def composite(self, planes: tuple[Any, Any, Any], t_ms: float) -> None:
        t = self.libass_ms(t_ms)
        for scroll in self.items:
            scroll.composite(planes, t)


def coverage(passes: list[Pass], width: int) -> tuple[int, int, int, int]:
    """(first text column c0, even; last text column + 1; fa, fb): what the passes can show, and the frame
    columns of their clip rounded inwards to even."""
    x0 = max(0.0, min(p.clip[0] for p in passes))
    x1 = min(float(width), max(p.clip[2] for p in passes))
    fa = 2 * math.ceil(x0 / 2)
    fb = 2 * math.floor(x1 / 2)
    lo = min(fa - max(p.x1, p.x2) for p in passes) - 4
    hi = max(fb - min(p.x1, p.x2) for p in passes) + 4
    return 2 * math.floor(lo / 2), math.ceil(hi), fa, fb


def strip_from(black: Any, white: Any, y0: int, clip: tuple[float, float, float, float]) -> Blend:
    """A strip from the text rendered over black and over white ([rows, columns, 3] uint8, rows from frame row
    y0, even): rows outside the clip are made transparent, as libass's clip would."""
    import numpy as np

    keep = keep_from(black, white)
    colour = black.copy()
    rows = np.arange(black.shape[0]) + y0
    outside = (rows < math.floor(clip[1])) | (rows >= math.ceil(clip[3]))
    keep[outside] = 255
    colour[outside] = 0
    return Blend.from_premultiplied(colour, keep, 0, y0)


def render(subs: Any, passes: list[Pass], width: int, height: int, fps: int, workdir: Any) -> Scrolls | None:
    """Render each scrolling text once per phase (passes that show the same text on the same line in the same clip
    share strips) and return what the frames need to slide it; None when there are no passes."""
    import numpy as np

    if not passes:
        return None
    groups: dict[tuple, list[Pass]] = {}
    for p in passes:
        groups.setdefault((p.rest, p.y, p.clip), []).append(p)
    scrolls = Scrolls(passes[0].layer, fps)
    for (rest, y, clip), group in groups.items():
        lo, hi, fa, fb = coverage(group, width)
        count = max(1, math.ceil((hi - lo) / width))
        y0 = max(0, 2 * math.floor(clip[1] / 2))
        y1 = min(height, 2 * math.ceil(clip[3] / 2))
        m = re.match(r"^\{([^}]*)\}(.*)$", rest, re.S)
        if m is None or y1 <= y0:
            continue
        frames = []
        for q in range(PHASES):
            for k in range(count):  # frame k shows text points [lo + k * width, ...) of phase q
                event = subs.events[group[0].source].copy()
                event.text = "{" + f"\\pos({-(lo + k * width) + q / 8:g},{y:g})" + m.group(1) + "}" + m.group(2)
                frames.append([event])
        pairs = list(render_rgb(subs, frames, width, height, workdir, rows=(y0, y1)))
        strips = []
        for q in range(PHASES):
            chunk = pairs[q * count:(q + 1) * count]
            black = np.concatenate([b for b, _ in chunk], axis=1)
            white = np.concatenate([w for _, w in chunk], axis=1)
            strips.append(strip_from(black, white, y0, clip))
        scrolls.items.append(Scroll(group, strips, lo, fa, fb))
    return scrolls
