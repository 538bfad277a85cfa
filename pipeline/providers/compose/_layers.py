"""Static graphics, drawn once and composited in Python (the `warp` engine's fast path for captions and graphics).

libass draws every subtitle image onto every frame with plain C loops: measured here, burning a 60 s clip's
captions and lower third with ffmpeg's `ass` filter cost 5-10 ms a frame at 720p, more than warping the frame.
Most of what is on screen does not change from one frame to the next: a caption stays up for seconds, the lower
third and the ticker's band for the whole video. So the burned ASS is split:

- static parts (no \\move, \\fad, \\t, karaoke or Effect while they show) are rendered by libass once per distinct
  set of them (a "state": each caption change makes one), over black and over white, which gives each state's
  colour and alpha exactly as libass blends them;
- the rest (the scrolling ticker text, fade-ins, the intro and outro cards) stays in the ASS file ffmpeg burns.

Each frame, the warp engine blends the state's rows that hold anything onto the RGBA frame with two OpenCV passes
(multiply by 1 - alpha, add the premultiplied colour), before ffmpeg's `ass` filter draws the animated parts on top.
A static part moves only where that keeps the stacking order: never under an animated event of a lower layer that
shows at the same time (that part of its time stays with libass).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import assets

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
    static: list[Part] = []
    for part in candidates:
        holes = [(a.start, a.end) for a in animated if a.layer < part.layer]
        keep, give = _subtract((part.start, part.end), holes)
        static += [Part(a, b, part.layer, part.text, part.source) for a, b in keep if b - a >= frame_ms]
        animated += [Part(a, b, part.layer, part.text, part.source) for a, b in give]
        animated += [Part(a, b, part.layer, part.text, part.source) for a, b in keep if b - a < frame_ms]
    return animated, static


@dataclass
class Band:
    """Rows y0..y1 of a state: the premultiplied colour and 255 - alpha, both RGBA-shaped (4th channel 0/0)."""

    y0: int
    y1: int
    colour: Any
    keep: Any


@dataclass
class Sprite:
    """A small picture with alpha at (x, y), blended the same way (the channel bug)."""

    x: int
    y: int
    colour: Any
    keep: Any

    @classmethod
    def from_image(cls, image: Any, x: int, y: int) -> Sprite:
        """From a PIL RGBA image."""
        import numpy as np

        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint16)
        alpha = rgba[..., 3:4]
        colour = np.zeros(rgba.shape, np.uint8)
        colour[..., :3] = ((rgba[..., :3] * alpha + 127) // 255).astype(np.uint8)
        keep = np.empty(rgba.shape, np.uint8)
        keep[...] = (255 - alpha).astype(np.uint8)
        keep[..., 3] = 255
        return cls(x, y, colour, keep)

    def composite(self, rgba: Any) -> None:
        import cv2

        h, w = self.colour.shape[:2]
        region = rgba[self.y:self.y + h, self.x:self.x + w]
        cv2.multiply(region, self.keep, dst=region, scale=1.0 / 255.0)
        cv2.add(region, self.colour, dst=region)


@dataclass
class StaticLayers:
    """States in time: state i shows from starts[i] (ms) until starts[i + 1]; None = nothing static on screen."""

    starts: list[int] = field(default_factory=list)
    states: list[list[Band] | None] = field(default_factory=list)
    under: list[Sprite] = field(default_factory=list)  # drawn first, under every state (the bug)

    def at(self, t_ms: float) -> list[Band] | None:
        i = bisect.bisect_right(self.starts, t_ms) - 1
        return self.states[i] if i >= 0 else None

    def composite(self, rgba: Any, t_ms: float) -> None:
        """Blend the static graphics shown at t_ms onto an RGBA frame, in place."""
        import cv2

        for sprite in self.under:
            sprite.composite(rgba)
        bands = self.at(t_ms)
        if not bands:
            return
        for band in bands:
            rows = rgba[band.y0:band.y1]
            cv2.multiply(rows, band.keep, dst=rows, scale=1.0 / 255.0)
            cv2.add(rows, band.colour, dst=rows)


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


def render_states(subs: Any, static: list[Part], width: int, height: int, workdir: Path) -> StaticLayers:
    """Render every state of the static parts with libass (one ffmpeg run over black, one over white) and keep the
    rows that hold anything, as premultiplied colour and 255 - alpha."""
    import copy

    import numpy as np

    from ...media import run_ffmpeg
    from .ffmpeg import filter_escape

    starts, active = _states(static)
    unique: dict[tuple[int, ...], int] = {}
    for on in active:
        if on and on not in unique:
            unique[on] = len(unique)
    layers = StaticLayers()
    if not unique:
        return layers
    doc = copy.copy(subs)
    events = []
    for on, k in unique.items():  # state k shows from k s to k + 1 s
        for idx in on:
            part = static[idx]
            event = subs.events[part.source].copy()
            event.start, event.end, event.text = k * 1000, (k + 1) * 1000, part.text
            events.append(event)
    doc.events = events
    ass = workdir / ".static.ass"
    doc.save(os.fspath(ass), encoding="utf-8", format_="ass")
    count = len(unique)
    frame = width * height * 3
    planes = {}
    try:
        fonts = filter_escape(os.fspath(assets.FONTS_DIR))
        for name, colour in (("black", "black"), ("white", "white")):
            raw = workdir / f".static-{name}.rgb"
            run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r=1:d={count}",
                        "-vf", f"format=rgb24,ass=filename={filter_escape(ass.name)}:fontsdir={fonts}:shaping=complex",
                        "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", raw.name],
                       cwd=workdir, loglevel="error")
            planes[name] = raw
        with open(planes["black"], "rb") as fb, open(planes["white"], "rb") as fw:
            bands_of: list[list[Band]] = []
            shared: dict[bytes, Band] = {}
            for _ in range(count):
                black = np.frombuffer(fb.read(frame), np.uint8).reshape(height, width, 3)
                white = np.frombuffer(fw.read(frame), np.uint8).reshape(height, width, 3)
                bands_of.append(_bands(black, white, shared))
    finally:
        for path in [ass, *planes.values()]:
            path.unlink(missing_ok=True)
    for a, on in zip(starts, active):
        layers.starts.append(a)
        layers.states.append(bands_of[unique[on]] if on else None)
    return layers


def _bands(black: Any, white: Any, shared: dict[bytes, Band]) -> list[Band]:
    """Rows with anything drawn, grouped into bands; identical bands (the lower third in every state) are shared."""
    import numpy as np

    # Over black a pixel is alpha * colour; over white alpha * colour + (1 - alpha) * 255.
    keep = (white.astype(np.int16) - black.astype(np.int16)).max(axis=2).clip(0, 255).astype(np.uint8)
    drawn = np.flatnonzero((keep < 255).any(axis=1) | (black > 0).any(axis=(1, 2)))
    bands: list[Band] = []
    if drawn.size == 0:
        return bands
    runs = np.split(drawn, np.flatnonzero(np.diff(drawn) > BAND_GAP) + 1)
    for run in runs:
        y0, y1 = int(run[0]), int(run[-1]) + 1
        colour = np.zeros((y1 - y0, black.shape[1], 4), np.uint8)
        colour[..., :3] = black[y0:y1]
        keep4 = np.empty((y1 - y0, black.shape[1], 4), np.uint8)
        keep4[...] = keep[y0:y1, :, None]
        keep4[..., 3] = 255
        key = hashlib.sha1(colour.tobytes() + keep4.tobytes() + f"{y0}".encode()).digest()
        band = shared.get(key)
        if band is None:
            band = shared[key] = Band(y0, y1, colour, keep4)
        bands.append(band)
    return bands
