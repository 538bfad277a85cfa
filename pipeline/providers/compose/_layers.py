"""Static graphics, drawn once and composited in Python (the `warp` engine's fast path for captions and graphics).

libass draws every subtitle image onto every frame with plain C loops: measured here, burning a 60 s clip's
captions and lower third with ffmpeg's `ass` filter cost 5-10 ms a frame at 720p, more than warping the frame.
Most of what is on screen does not change from one frame to the next: a caption stays up for seconds, the lower
third and the ticker's band for the whole video. So the burned ASS is split:

- static parts (no \\move, \\fad, \\t, karaoke or Effect while they show) are rendered by libass once per distinct
  set of them (a "state": each caption change makes one), over black and over white, which gives each state's
  colour and alpha exactly as libass blends them;
- the scrolling ticker text goes to `_scroll` (drawn once, slid into place each frame; `split_scrolling`);
- the rest (fade-ins, slide-ins, the intro and outro cards) stays in the ASS file ffmpeg burns.

Each frame, the warp engine blends the state's rows that hold anything onto the frame's I420 planes with two
OpenCV passes per plane (multiply by 1 - alpha, add the premultiplied colour), before ffmpeg's `ass` filter draws the animated parts on top.
A static part moves only where that keeps the stacking order: never under an animated event of a lower layer that
shows at the same time (that part of its time stays with libass).
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import assets
from .shared import filter_escape

_BLOCK = re.compile(r"(?<!\\)\{([^}]*)\}")
_MOVE = re.compile(r"\\move\(\s*([^)]*)\)")
_FAD = re.compile(r"\\fad\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_OTHER_ANIMATION = re.compile(r"\\(?:t\(|[kK][fo]?\s*\d|fade\()")
BAND_GAP = 8  # rows with nothing between two drawn rows that still join them into one band


@dataclass(frozen=True)
class Part:
    """A stretch of one event: [start, end) ms, its layer, its text (static form when static) and where it came
    from (its index in the burned file)."""

    start: int
    end: int
    layer: int
    text: str
    source: int


def _static_form(text: str) -> str:
    """The text with \\fad removed and \\move(x1,y1,x2,y2,...) replaced by \\pos(x2,y2): the event at rest."""

    def block(m: re.Match) -> str:
        inner = _FAD.sub("", m.group(1))
        inner = _MOVE.sub(lambda mm: "\\pos({},{})".format(*[v.strip() for v in mm.group(1).split(",")][2:4]), inner)
        return "{" + inner + "}"

    return _BLOCK.sub(block, text)


def classify(event: Any, frame_ms: float) -> tuple[list[tuple[int, int, str]], tuple[int, int] | None]:
    """(animated pieces [(start, end, text)], static window (start, end) or None) of one pysubs2 event."""
    start, end, text = int(event.start), int(event.end), event.text
    if end <= start:
        return [], None
    blocks = _BLOCK.findall(text)
    tags = "".join(blocks)
    if event.effect.strip() or _OTHER_ANIMATION.search(tags):
        return [(start, end, text)], None
    lead, trail = 0, 0
    for m in _FAD.finditer(tags):
        lead, trail = max(lead, int(m.group(1))), max(trail, int(m.group(2)))
    for m in _MOVE.finditer(tags):
        args = [a.strip() for a in m.group(1).split(",")]
        if len(args) == 6:
            try:
                lead = max(lead, int(float(args[5])))
            except ValueError:
                return [(start, end, text)], None
        else:
            return [(start, end, text)], None  # moves for the whole event
    s0, s1 = start + lead, end - trail
    if s1 - s0 < 2 * frame_ms:
        return [(start, end, text)], None
    pieces = []
    if lead:
        pieces.append((start, s0, text))
    if trail:
        # The fade-out as an event of its own: it fades over its own end, at rest.
        rest = _static_form(text)
        pieces.append((s1, end, _fade_out(rest, trail)))
    return pieces, (s0, s1)


def _fade_out(text: str, ms: int) -> str:
    m = _BLOCK.search(text)
    if m and m.start() == 0:
        return "{" + m.group(1) + f"\\fad(0,{ms})" + "}" + text[m.end():]
    return "{" + f"\\fad(0,{ms})" + "}" + text


def _subtract(interval: tuple[int, int], holes: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(pieces of `interval` outside the holes, pieces inside them)."""
    s, e = interval
    inside: list[tuple[int, int]] = []
    for a, b in sorted(holes):
        a, b = max(a, s), min(b, e)
        if a >= b:
            continue
        if inside and a <= inside[-1][1]:
            inside[-1] = (inside[-1][0], max(inside[-1][1], b))
        else:
            inside.append((a, b))
    outside, cur = [], s
    for a, b in inside:
        if a > cur:
            outside.append((cur, a))
        cur = max(cur, b)
    if cur < e:
        outside.append((cur, e))
    return outside, inside


def split(subs: Any, fps: int) -> tuple[list[Part], list[Part]]:
    """The burned file's events -> (animated parts, static parts)."""
    animated, static, _ = split_scrolling(subs, fps, scrolls=False)
    return animated, static


def split_scrolling(subs: Any, fps: int, *, scrolls: bool = True) -> tuple[list[Part], list[Part], list[Any]]:
    """The burned file's events -> (animated parts, static parts, scrolling passes): the passes (`_scroll.Pass`,
    their `window` the stretch drawn in Python) are the scrolling text of one layer, out of libass wherever no
    animated event of a lower layer and no static event of their layer shows at the same time."""
    from . import _scroll

    frame_ms = 1000.0 / fps
    animated: list[Part] = []
    candidates: list[Part] = []
    for i, event in enumerate(subs.events):
        if event.is_comment:
            continue
        pieces, window = classify(event, frame_ms)
        animated += [Part(a, b, event.layer, t, i) for a, b, t in pieces]
        if window is not None:
            candidates.append(Part(window[0], window[1], event.layer, _static_form(event.text), i))
    passes: list[Any] = []
    found = [(part, _scroll.parse(part.text, part.start, part.end, part.layer, part.source)) for part in animated] if scrolls else []
    layers = [p.layer for _, p in found if p is not None]
    if layers:
        layer = max(set(layers), key=layers.count)
        moving = [(part, p) for part, p in found if p is not None and p.layer == layer]
        animated = [a for a in animated if all(a is not part for part, _ in moving)]
        # ASS times are centiseconds: a stretch given back to libass starts and ends where its file will say
        cs = lambda ms: (ms + 5) - (ms + 5) % 10  # as pysubs2 (and Aegisub) round
        holes = [(cs(a.start), cs(a.end)) for a in animated if a.layer < layer]
        holes += [(cs(c.start), cs(c.end)) for c in candidates if c.layer == layer]
        for part, p in moving:
            keep, give = _subtract((p.start, p.end), holes)
            passes += [dataclasses.replace(p, window=(a, b)) for a, b in keep]
            animated += [Part(a, b, part.layer, p.piece(a, b), part.source) for a, b in give]
    static: list[Part] = []
    for part in candidates:
        holes = [(a.start, a.end) for a in animated if a.layer < part.layer]
        keep, give = _subtract((part.start, part.end), holes)
        static += [Part(a, b, part.layer, part.text, part.source) for a, b in keep if b - a >= frame_ms]
        animated += [Part(a, b, part.layer, part.text, part.source) for a, b in give]
        animated += [Part(a, b, part.layer, part.text, part.source) for a, b in keep if b - a < frame_ms]
    return animated, static, passes


# The I420 value of black (BT.601 limited range), what a transparent pixel over black reads as.
_BLACK_YUV = (16.0, 128.0, 128.0)


def i420_planes(buffer: Any, width: int, height: int) -> tuple[Any, Any, Any]:
    """Views of an I420 buffer (width x height, both even) as its Y, U and V planes."""
    flat = buffer.reshape(-1)
    ys, cs = width * height, (width // 2) * (height // 2)
    return (flat[:ys].reshape(height, width), flat[ys:ys + cs].reshape(height // 2, width // 2),
            flat[ys + cs:ys + 2 * cs].reshape(height // 2, width // 2))


@dataclass
class Blend:
    """A rectangle of graphics at (x, y) in I420 terms: for each plane (full-size Y, half-size U and V) the
    premultiplied colour to add and 255 - alpha to multiply the picture by. x, y, and the size are even.

    Blending in YUV is the same as blending in RGB and converting: the conversion is affine and alpha blending
    is a weighted mean, which an affine map keeps (the chroma of a 2x2 block takes the block's mean alpha).
    """

    x: int
    y: int
    col_y: Any
    keep_y: Any
    col_u: Any
    col_v: Any
    keep_c: Any

    @classmethod
    def from_premultiplied(cls, colour: Any, keep: Any, x: int, y: int) -> Blend:
        """From RGB premultiplied colour [h, w, 3] and 255 - alpha [h, w] (uint8), placed at (x, y); widened to
        even bounds with transparent pixels."""
        import cv2
        import numpy as np

        h, w = keep.shape
        x0, y0 = x - x % 2, y - y % 2
        x1, y1 = x + w + (x + w) % 2, y + h + (y + h) % 2
        rgb = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        k = np.full((y1 - y0, x1 - x0), 255, np.uint8)
        rgb[y - y0:y - y0 + h, x - x0:x - x0 + w] = colour
        k[y - y0:y - y0 + h, x - x0:x - x0 + w] = keep
        hh, ww = k.shape
        yb, ub, vb = i420_planes(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420), ww, hh)
        kf = k.astype(np.float32)
        kc = cv2.resize(kf, (ww // 2, hh // 2), interpolation=cv2.INTER_AREA)
        # Over black, a plane reads black * (1 - alpha) + colour term: the colour term is what is left.
        term = lambda plane, kk, black: np.clip(np.rint(plane - black * kk / 255.0), 0, 255).astype(np.uint8)
        return cls(x0, y0, term(yb, kf, _BLACK_YUV[0]), k, term(ub, kc, _BLACK_YUV[1]), term(vb, kc, _BLACK_YUV[2]),
                   np.rint(kc).astype(np.uint8))

    def composite(self, planes: tuple[Any, Any, Any]) -> None:
        """Blend onto I420 planes (Y, U, V), in place."""
        import cv2

        y_plane, u_plane, v_plane = planes
        cy, cx = self.y // 2, self.x // 2
        for plane, col, keep, top, left in (
            (y_plane, self.col_y, self.keep_y, self.y, self.x),
            (u_plane, self.col_u, self.keep_c, cy, cx),
            (v_plane, self.col_v, self.keep_c, cy, cx),
        ):
            region = plane[top:top + keep.shape[0], left:left + keep.shape[1]]
            cv2.multiply(region, keep, dst=region, scale=1.0 / 255.0)
            cv2.add(region, col, dst=region)


def sprite(image: Any, x: int, y: int) -> Blend:
    """A small PIL picture with alpha at (x, y) (the channel bug), ready to blend."""
    import numpy as np

    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint16)
    alpha = rgba[..., 3:4]
    colour = ((rgba[..., :3] * alpha + 127) // 255).astype(np.uint8)
    return Blend.from_premultiplied(colour, (255 - alpha[..., 0]).astype(np.uint8), x, y)


@dataclass
class StaticLayers:
    """States in time: state i shows from starts[i] (ms) until starts[i + 1]; None = nothing static on screen."""

    starts: list[int] = field(default_factory=list)
    states: list[list[Blend] | None] = field(default_factory=list)
    under: list[Blend] = field(default_factory=list)  # drawn first, under every state (the bug)
    scrolls: Any = None  # a `_scroll.Scrolls` (the ticker's text), drawn over the states
    over: StaticLayers | None = None  # the static parts of layers above the scrolls', drawn last

    def at(self, t_ms: float) -> list[Blend] | None:
        i = bisect.bisect_right(self.starts, t_ms) - 1
        return self.states[i] if i >= 0 else None

    def key(self, t_ms: float, frame: int) -> tuple:
        """Equal for two times exactly when the graphics look the same at both (`frame`: the frame's index, part
        of the key while scrolling text moves)."""
        moving = self.scrolls is not None and self.scrolls.showing(t_ms)
        over = self.over.key(t_ms, frame) if self.over is not None else None
        return id(self.at(t_ms)), over, frame if moving else None

    def composite(self, planes: tuple[Any, Any, Any], t_ms: float) -> None:
        """Blend the static graphics shown at t_ms onto a frame's I420 planes (Y, U, V), in place."""
        for blend in self.under:
            blend.composite(planes)
        for band in self.at(t_ms) or ():
            band.composite(planes)
        if self.scrolls is not None:
            self.scrolls.composite(planes, t_ms)
        if self.over is not None:
            self.over.composite(planes, t_ms)


def _states(static: list[Part]) -> tuple[list[int], list[tuple[int, ...]]]:
    """Change points and the (sorted) static parts active from each."""
    cuts = sorted({p.start for p in static} | {p.end for p in static})
    starts, active = [], []
    for a in cuts:
        on = tuple(sorted(k for k, p in enumerate(static) if p.start <= a < p.end))
        if active and on == active[-1]:
            continue
        starts.append(a)
        active.append(on)
    return starts, active


def write_animated(subs: Any, animated: list[Part], out: Path) -> None:
    """The burned file with only the animated parts: what ffmpeg's `ass` filter still draws."""
    import copy

    doc = copy.copy(subs)
    events = []
    for part in animated:
        event = subs.events[part.source].copy()
        event.start, event.end, event.text = part.start, part.end, part.text
        events.append(event)
    events.sort(key=lambda e: (e.start, e.layer))
    doc.events = events
    doc.save(os.fspath(out), encoding="utf-8", format_="ass")


def render_rgb(subs: Any, frames: list[list[Any]], width: int, height: int, workdir: Path,
               rows: tuple[int, int] | None = None) -> Iterator[tuple[Any, Any]]:
    """Each list of events in `frames` (pysubs2 events of `subs`'s styles) drawn by libass on one frame, over black
    and over white: yields (black, white) RGB arrays [height, width, 3] (only `rows` [y0, y1) of them when given),
    one ffmpeg run each for all frames."""
    import copy

    import numpy as np

    from ...media import run_ffmpeg

    doc = copy.copy(subs)
    events = []
    for k, frame_events in enumerate(frames):  # frame k shows from k s to k + 1 s
        for event in frame_events:
            event = event.copy()
            event.start, event.end = k * 1000, (k + 1) * 1000
            events.append(event)
    doc.events = events
    ass = workdir / ".static.ass"
    doc.save(os.fspath(ass), encoding="utf-8", format_="ass")
    count = len(frames)
    y0, y1 = rows or (0, height)
    crop = f",crop={width}:{y1 - y0}:0:{y0}" if rows else ""
    size = width * (y1 - y0) * 3
    planes = {}
    try:
        fonts = filter_escape(os.fspath(assets.FONTS_DIR))
        planes.update((colour, workdir / f".static-{colour}.rgb") for colour in ("black", "white"))

        def draw(colour: str) -> None:
            run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r=1:d={count}",
                        "-vf", f"format=rgb24,ass=filename={filter_escape(ass.name)}:fontsdir={fonts}:shaping=complex{crop}",
                        "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", planes[colour].name],
                       cwd=workdir, loglevel="error")

        # Both at once: each is one libass pass on one core (~0.4 s each for the default make's ~35 states).
        with ThreadPoolExecutor(max_workers=2) as pool:
            for job in [pool.submit(draw, colour) for colour in planes]:
                job.result()
        with open(planes["black"], "rb") as fb, open(planes["white"], "rb") as fw:
            for _ in range(count):
                yield (np.frombuffer(fb.read(size), np.uint8).reshape(y1 - y0, width, 3),
                       np.frombuffer(fw.read(size), np.uint8).reshape(y1 - y0, width, 3))
    finally:
        for path in [ass, *planes.values()]:
            path.unlink(missing_ok=True)


def render_states(subs: Any, static: list[Part], width: int, height: int, workdir: Path) -> StaticLayers:
    """Render every state of the static parts with libass (one ffmpeg run over black, one over white) and keep the
    rows that hold anything, as premultiplied colour and 255 - alpha."""
    starts, active = _states(static)
    unique: dict[tuple[int, ...], int] = {}
    for on in active:
        if on and on not in unique:
            unique[on] = len(unique)
    layers = StaticLayers()
    if not unique:
        return layers
    frames = []
    for on in unique:
        events = []
        for idx in on:
            event = subs.events[static[idx].source].copy()
            event.text = static[idx].text
            events.append(event)
        frames.append(events)
    bands_of: list[list[Blend]] = []
    shared: dict[bytes, Blend] = {}
    for black, white in render_rgb(subs, frames, width, height, workdir):
        bands_of.append(_bands(black, white, shared))
    for a, on in zip(starts, active):
        layers.starts.append(a)
        layers.states.append(bands_of[unique[on]] if on else None)
    return layers


def keep_from(black: Any, white: Any) -> Any:
    """255 - alpha (uint8 [rows, columns]) of what libass drew over black and over white (RGB uint8): over black a
    pixel is alpha * colour, over white alpha * colour + (1 - alpha) * 255."""
    import numpy as np

    return (white.astype(np.int16) - black.astype(np.int16)).max(axis=2).clip(0, 255).astype(np.uint8)


def _bands(black: Any, white: Any, shared: dict[bytes, Blend]) -> list[Blend]:
    """Rows with anything drawn, grouped into bands of even rows; identical bands (the lower third in every state)
    are shared."""
    import numpy as np

    # Only rows where either rendering differs from an empty frame can hold anything: `keep` is computed for those
    # alone (a caption state covers a sixth of the frame; doing every row cost ~1 s of each compose).
    height = black.shape[0]
    rows = np.flatnonzero(black.reshape(height, -1).any(axis=1) | (white.reshape(height, -1) != 255).any(axis=1))
    keep = np.full(black.shape[:2], 255, dtype=np.uint8)
    keep[rows] = keep_from(black[rows], white[rows])
    drawn = rows[(keep[rows] < 255).any(axis=1) | (black[rows] > 0).any(axis=(1, 2))]
    bands: list[Blend] = []
    if drawn.size == 0:
        return bands
    runs = np.split(drawn, np.flatnonzero(np.diff(drawn) > BAND_GAP) + 1)
    for run in runs:
        y0, y1 = int(run[0]) & ~1, min(black.shape[0], (int(run[-1]) + 2) & ~1)
        colour, band_keep = black[y0:y1], keep[y0:y1]
        key = hashlib.sha1(colour.tobytes() + band_keep.tobytes() + f"{y0}".encode()).digest()
        band = shared.get(key)
        if band is None:
            band = shared[key] = Blend.from_premultiplied(colour, band_keep, 0, y0)
        bands.append(band)
    return bands
