"""Motion for the compose stage: presets, the ease curve, where each background shows, and the `warp` engine's frames.

A view is a window on the background (zoom and centre); a motion preset moves the view from one window to another
over its scene. The `warp` engine computes every frame in Python with OpenCV affine warps (bilinear, fixed point
to 1/32 pixel) of the background's I420 planes (YUV 4:2:0, BT.601 limited range, what the encoder takes: the
picture is converted once, not per frame) and streams the raw frames to ffmpeg's stdin: no PNG round trip, and every
position is sub-pixel, so a slow zoom or pan glides instead of stepping a whole pixel at a time as ffmpeg's
`zoompan` does. Crossfades are blends of two warped frames; a scene that does not move is warped once and its
frame sent again.

numpy and OpenCV are imported inside the functions that use them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import NewsreelError

PRESETS = ("push-in", "pull-out", "pan-left", "pan-right", "none")
AUTO_CYCLE = ("push-in", "pan-right", "pull-out", "pan-left")  # what motion="auto" gives scenes 1, 2, 3, 4, 5, ...
ZOOM = 0.12  # how far push-in / pull-out zoom, and how far pans are zoomed in to have room to travel (12%)
EASE_MIX = 0.5  # 0 = constant speed, 1 = full ease-in-out (stops dead at the scene's ends)


def parse_motion(spec: str) -> tuple[str, ...]:
    """"auto", one preset, or presets separated by commas (cycled over the scenes) -> the tuple of presets."""
    spec = spec.strip().lower()
    if spec == "auto":
        return ("auto",)
    items = tuple(s.strip() for s in spec.split(",") if s.strip())
    bad = [s for s in items if s not in PRESETS]
    if not items or bad:
        raise ValueError(
            f"unknown motion {', '.join(bad) or repr(spec)}: use auto, or one or more of {', '.join(PRESETS)}"
        )
    return items


def scene_motions(spec: str, count: int) -> list[str]:
    """The preset of each of `count` scenes: "auto" cycles push-in, pan-right, pull-out, pan-left; a list cycles."""
    items = parse_motion(spec)
    cycle = AUTO_CYCLE if items == ("auto",) else items
    return [cycle[i % len(cycle)] for i in range(count)]


def ease(p: float) -> float:
    """Progress 0..1 -> eased progress 0..1: half constant speed, half a cosine ease-in-out, so the motion starts and
    ends at half speed (gentle, yet never so slow that its steps round to nothing) and the speed changes smoothly."""
    p = min(1.0, max(0.0, p))
    return (1.0 - EASE_MIX) * p + EASE_MIX * (0.5 - 0.5 * math.cos(math.pi * p))


@dataclass(frozen=True)
class View:
    """A window on the background: zoom >= 1 (1 = the whole cover-fitted image) and its centre, 0..1 of each side."""

    zoom: float
    cx: float = 0.5
    cy: float = 0.5


def view_at(motion: str, p: float, zoom: float = ZOOM) -> View:
    """Where `motion` has the view at progress p (0..1 of its scene, before easing)."""
    e = ease(p)
    top = 1.0 + zoom
    if motion == "push-in":  # zoom evenly in log space: the speed of the zoom looks constant
        return View(top**e)
    if motion == "pull-out":
        return View(top ** (1.0 - e))
    half = 0.5 / top  # half the window's width, as a fraction of the image
    if motion == "pan-left":  # the view travels left: from the right edge to the left edge
        return View(top, (1.0 - half) + (2 * half - 1.0) * e)
    if motion == "pan-right":
        return View(top, half + (1.0 - 2 * half) * e)
    return View(1.0)


def affine(view: View, src_w: int, src_h: int, width: int, height: int) -> tuple[float, float, float, float]:
    """(scale, tx, scale, ty) of the map from output pixel (x, y) to source pixel (scale*x + tx, scale*y + ty), in
    OpenCV's convention (integer coordinates are pixel centres), for a source of src_w x src_h with the frame's
    aspect ratio."""
    win_w = src_w / view.zoom
    win_h = src_h / view.zoom
    x0 = min(max(view.cx * src_w - win_w / 2, 0.0), src_w - win_w)
    y0 = min(max(view.cy * src_h - win_h / 2, 0.0), src_h - win_h)
    sx = win_w / width
    sy = win_h / height
    return sx, x0 + 0.5 * sx - 0.5, sy, y0 + 0.5 * sy - 0.5


# ---------------------------------------------------------------------------------------------------------------
# Timeline: which background shows when.


@dataclass(frozen=True)
class Segment:
    """One background on screen: image index, motion, and the frames [start, end) it covers, crossfades included
    (neighbouring segments overlap by a crossfade)."""

    image: int
    motion: str
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def progress(self, frame: int) -> float:
        return (frame - self.start) / max(1, self.length - 1)


def segments(spans: list[tuple[int, int, int]], motions: list[str], fade: int) -> list[Segment]:
    """Spans (image, start, end) that tile the video -> segments that also cover half a crossfade on each side of
    every cut, so that two segments overlap by `fade` frames around each cut."""
    half = fade // 2
    out = []
    n = len(spans)
    for i, (image, s, e) in enumerate(spans):
        start = s - half if i > 0 else s
        end = e + (fade - half) if i < n - 1 else e
        out.append(Segment(image, motions[i], start, end))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Backgrounds.


def load_rgb(path: Path):
    """An image file -> PIL RGB image, or NewsreelError naming the file when it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                flat = Image.new("RGBA", im.size, (0, 0, 0, 255))
                flat.alpha_composite(im)
                return flat.convert("RGB")
            return im.convert("RGB")
    except FileNotFoundError:
        raise NewsreelError(f"background image {path} is missing", "clear the image cache entry and run again") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise NewsreelError(
            f"background image {Path(path).name} is not a readable image ({exc})",
            "clear the image stage's cache entry and run again, or check the image provider",
        ) from None


def cover(image, width: int, height: int):
    """Resize (Lanczos) and centre-crop a PIL image to exactly width x height, covering it without distortion."""
    from PIL import Image

    iw, ih = image.size
    scale = max(width / iw, height / ih)
    cw, ch = width / scale, height / scale
    # max(0, ...): on the side the crop takes whole, cw or ch can come out a hair above it (float rounding)
    x0 = max(0.0, (iw - cw) / 2)
    y0 = max(0.0, (ih - ch) / 2)
    return image.resize((width, height), Image.Resampling.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch))


def source_size(width: int, height: int, moving: bool, zoom: float = ZOOM) -> tuple[int, int]:
    """The size a background is prepared at: zoomed all the way in, one source pixel per output pixel (so zoomed out
    it is sampled at 1 + zoom source pixels per output pixel, which bilinear sampling still handles cleanly); a still
    background is prepared at the frame size. Even, for 4:2:0 chroma."""
    if not moving:
        return width, height
    even = lambda v: 2 * max(1, round(v / 2))
    return even(width * (1.0 + zoom)), even(height * (1.0 + zoom))


@dataclass(frozen=True)
class Planes:
    """A picture in I420 (BT.601 limited range, what the encoder takes): full-size Y, half-size U and V."""

    y: Any
    u: Any
    v: Any

    @classmethod
    def from_rgb(cls, rgb: Any) -> Planes:
        """From an RGB or RGBA uint8 array with even sides."""
        import cv2

        from ._layers import i420_planes

        h, w = rgb.shape[:2]
        code = cv2.COLOR_RGBA2YUV_I420 if rgb.shape[2] == 4 else cv2.COLOR_RGB2YUV_I420
        return cls(*i420_planes(cv2.cvtColor(rgb, code), w, h))

    @property
    def size(self) -> tuple[int, int]:
        return self.y.shape[1], self.y.shape[0]


def prepare(path: Path, width: int, height: int, moving: bool) -> Planes:
    """A background file -> its I420 planes, cover-fitted to the frame's aspect at its source size."""
    import numpy as np

    sw, sh = source_size(width, height, moving)
    rgb = cover(load_rgb(path), sw, sh)
    return Planes.from_rgb(np.asarray(rgb, dtype=np.uint8))


# ---------------------------------------------------------------------------------------------------------------
# The warp engine's frames.


class WarpFrames:
    """Every frame of the video as I420 bytes, computed on demand: iterate it to feed ffmpeg's stdin.

    sources: the `Planes` of each image index (prepared at `source_size`); segs: what shows when; layers: the
    static graphics (a `_layers.StaticLayers`) blended onto each frame, or None. Everything happens on the I420
    planes the encoder takes - warping Y at full size and U, V at half size is 1.5 bytes a pixel where RGBA is 4,
    and there is no colour conversion per frame. A frame whose background does not move and whose graphics did
    not change is not made again: the last one is sent again.
    on_i420(buffer, frame_index): called on each newly made I420 frame, [height * 3 / 2, width] uint8, which it
    may change in place (e.g. an invisible watermark that is the same on every frame); frames sent again are not
    passed again.
    """

    def __init__(self, sources: dict[int, Planes], segs: list[Segment], total: int, width: int, height: int,
                 fps: int = 30, layers: Any = None, on_i420: Any = None, presenter: Any = None,
                 shots: Any = None) -> None:
        self.sources = sources
        self.segs = segs
        self.total = total
        self.width = width
        self.height = height
        self.fps = fps
        self.layers = layers
        self.on_i420 = on_i420
        self.presenter = presenter  # a `_presenter.PresenterLayer` or None: drawn under the graphics
        # a `_shots.Shots` or None: on the anchor's and the callouts' shots the frame is the picture's studio frame
        # (or callout backdrop) with the presenter (no warp); elsewhere the moving picture, and the presenter only
        # when there is no shot list
        self.shots = shots

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3 // 2

    def _warp(self, seg: Segment, frame: int, out: tuple[Any, Any, Any]) -> None:
        """Draw `seg`'s background as it is at `frame` into the planes `out` (Y, U, V)."""
        import cv2
        import numpy as np

        src = self.sources[seg.image]
        sw, sh = src.size
        if seg.motion == "none" and (sw, sh) == (self.width, self.height):
            for dst, plane in zip(out, (src.y, src.u, src.v)):
                np.copyto(dst, plane)
            return
        sx, tx, sy, ty = affine(view_at(seg.motion, seg.progress(frame)), sw, sh, self.width, self.height)
        # Chroma sample (i, j) of a 4:2:0 plane sits at luma position (2i + 0.5, 2j + 0.5): the same map in chroma
        # coordinates keeps the scale and moves the offset.
        luma = np.array([[sx, 0.0, tx], [0.0, sy, ty]], dtype=np.float64)
        chroma = np.array([[sx, 0.0, (0.5 * sx + tx - 0.5) / 2], [0.0, sy, (0.5 * sy + ty - 0.5) / 2]], np.float64)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        cv2.warpAffine(src.y, luma, (self.width, self.height), dst=out[0], flags=flags,
                       borderMode=cv2.BORDER_REPLICATE)
        half = (self.width // 2, self.height // 2)
        cv2.warpAffine(src.u, chroma, half, dst=out[1], flags=flags, borderMode=cv2.BORDER_REPLICATE)
        cv2.warpAffine(src.v, chroma, half, dst=out[2], flags=flags, borderMode=cv2.BORDER_REPLICATE)

    def __iter__(self) -> Iterator[memoryview]:
        import cv2

        # One OpenCV thread: the encoder keeps the other cores busy, and OpenCV's worker threads only add
        # overhead then. Restored when the frames are done.
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            yield from self._frames()
        finally:
            cv2.setNumThreads(threads)

    def _frames(self) -> Iterator[memoryview]:
        import cv2
        import numpy as np

        from ._layers import i420_planes

        w, h = self.width, self.height
        i420 = np.empty((h * 3 // 2, w), np.uint8)
        a = np.empty_like(i420)
        b = np.empty_like(i420)
        planes, planes_a, planes_b = (i420_planes(buf, w, h) for buf in (i420, a, b))
        view = memoryview(i420).cast("B")
        last: tuple | None = None  # what the frame in i420 shows, when it is a still
        k = 0  # index of the first segment that may still be on screen
        for n in range(self.total):
            while k < len(self.segs) - 1 and self.segs[k].end <= n:
                k += 1
            on = [s for s in self.segs[k:k + 2] if s.start <= n < s.end]
            t_ms = n * 1000.0 / self.fps
            # what the graphics look like at this frame (changes with every caption, and every frame the ticker moves)
            bands = self.layers.key(t_ms, n) if self.layers is not None else None
            shot = self.shots.at(n) if self.shots is not None and self.presenter is not None else None
            if shot is not None and shot.kind != "broll":  # the anchor's or a callout's still, and the presenter
                key = (shot.kind, on[-1].image, self.presenter.key(n), bands)
                if key == last:
                    yield view
                    continue
                last = key
                studio = self.shots.studio(on[-1].image, shot.kind)
                for dst, plane in zip(planes, (studio.y, studio.u, studio.v)):
                    np.copyto(dst, plane)
                self.presenter.composite(planes, n)
                if self.layers is not None:
                    self.layers.composite(planes, t_ms)
                if self.on_i420 is not None:
                    self.on_i420(i420, n)
                yield view
                continue
            if len(on) == 1 and on[0].motion == "none":
                key = (on[0].image, on[0].start, bands)
                if self.presenter is not None and self.shots is None:
                    key += (self.presenter.key(n),)
                if key == last:
                    yield view
                    continue
                last = key
            else:
                last = None
            if len(on) == 1:
                self._warp(on[0], n, planes)
            else:  # a crossfade: the next scene fades in over the last
                first, second = on[0], on[1]
                t = (n - second.start + 1) / (first.end - second.start + 1)
                self._warp(first, n, planes_a)
                self._warp(second, n, planes_b)
                cv2.addWeighted(a, 1.0 - t, b, t, 0.0, dst=i420)
            if self.presenter is not None and self.shots is None:
                self.presenter.composite(planes, n)
            if self.layers is not None:
                self.layers.composite(planes, t_ms)
            if self.on_i420 is not None:
                self.on_i420(i420, n)
            yield view
