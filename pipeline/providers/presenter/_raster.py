"""A small vector painter on numpy and OpenCV: smooth closed shapes, gradients, soft shadows, clipping.

Shapes are given in design units (the canvas is 1000 units high) and drawn supersampled (`supersample` x the output
size, with OpenCV's anti-aliased polygon fill), then reduced by area averaging, so edges are smooth at any size.
A `Layer` is one region of the canvas, premultiplied float RGBA; every fill touches only its shape's bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

SUPERSAMPLE = 2  # for fine detail (a face); large smooth shapes look as good at 1, OpenCV's edges being anti-aliased
SHIFT = 4  # fixed-point bits for cv2.fillPoly: 1/16 of a supersampled pixel

Point = tuple[float, float]
Color = tuple[float, float, float]  # 0..1 linear-ish sRGB components


def hex_color(text: str) -> Color:
    text = text.lstrip("#")
    return tuple(int(text[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def mix(a: Color, b: Color, t: float) -> Color:
    return tuple(x + (y - x) * t for x, y in zip(a, b))  # type: ignore[return-value]


def shade(color: Color, amount: float) -> Color:
    """Darker (amount < 0, towards a warm shadow) or lighter (amount > 0, towards white)."""
    if amount >= 0:
        return mix(color, (1.0, 1.0, 1.0), amount)
    shadow = (color[0] * 0.55, color[1] * 0.42, color[2] * 0.45)  # shadows on skin and cloth go warm, not grey
    return mix(color, shadow, -amount)


# -- geometry ------------------------------------------------------------------------------------------------------


def spline(points: Sequence[Point], closed: bool = True, samples: int = 12) -> np.ndarray:
    """A smooth curve through `points` (centripetal Catmull-Rom), as an (N, 2) polyline in design units."""
    p = np.asarray(points, dtype=np.float64)
    if closed:
        p = np.vstack([p[-1], p, p[0], p[1]])
    else:
        p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    # Every segment at once: control points p0..p3 of segment i are p[i], p[i+1], p[i+2], p[i+3].
    p0, p1, p2, p3 = (p[i : len(p) - 3 + i][:, None, :] for i in range(4))
    gap = lambda a, b: np.maximum(np.linalg.norm(b - a, axis=-1, keepdims=True) ** 0.5, 1e-6)  # noqa: E731
    t0 = np.zeros_like(p0[..., :1])
    t1 = t0 + gap(p0, p1)
    t2 = t1 + gap(p1, p2)
    t3 = t2 + gap(p2, p3)
    u = np.linspace(0.0, 1.0, samples, endpoint=False)[None, :, None]
    t = t1 + (t2 - t1) * u
    a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
    a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
    a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
    b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
    b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
    curve = ((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2).reshape(-1, 2)
    return curve if closed else np.vstack([curve, p[-2]])


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 72) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(a), ry * np.sin(a)
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    return np.stack([cx + x * c - y * s, cy + x * s + y * c], axis=1)


def mirrored(points: Sequence[Point], cx: float = 500.0) -> list[Point]:
    """Left-half points followed by their mirror image, reversed: one symmetric closed outline."""
    return [*points, *[(2 * cx - x, y) for x, y in reversed(points)]]


def band(curve: np.ndarray, widths: Sequence[float] | float) -> np.ndarray:
    """A stroke along an open polyline as a closed polygon, `widths` from start to end (tapered strokes)."""
    curve = np.asarray(curve, dtype=np.float64)
    w = np.interp(np.linspace(0, 1, len(curve)), np.linspace(0, 1, len(np.atleast_1d(widths))), np.atleast_1d(widths))
    d = np.gradient(curve, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1) * (w[:, None] / 2)
    return np.vstack([curve + normal, (curve - normal)[::-1]])


# -- paints --------------------------------------------------------------------------------------------------------

Paint = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (x, y grids in design units) -> (h, w, 3) colours


def solid(color: Color) -> Paint:
    def paint(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.asarray(color, np.float32)

    return paint


def _ramp(t: np.ndarray, stops: Sequence[tuple[float, Color]]) -> np.ndarray:
    pos = [s for s, _ in stops]
    return np.stack([np.interp(t, pos, [c[k] for _, c in stops]) for k in range(3)], axis=-1).astype(np.float32)


def linear(p0: Point, p1: Point, stops: Sequence[tuple[float, Color]]) -> Paint:
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length2 = dx * dx + dy * dy

    def paint(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _ramp(((x - p0[0]) * dx + (y - p0[1]) * dy) / length2, stops)

    return paint


def radial(center: Point, radius: tuple[float, float], stops: Sequence[tuple[float, Color]]) -> Paint:
    def paint(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _ramp(np.hypot((x - center[0]) / radius[0], (y - center[1]) / radius[1]), stops)

    return paint


def _blurred(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; a wide one is done on a smaller copy (the result is smooth anyway) to stay fast."""
    if sigma <= 4:
        return cv2.GaussianBlur(a, (0, 0), sigma)
    f = sigma / 2.5
    h, w = a.shape
    small = cv2.resize(a, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), 2.5), (w, h), interpolation=cv2.INTER_LINEAR)


# -- masks and layers ----------------------------------------------------------------------------------------------


@dataclass
class Mask:
    """Coverage (0..1) of a shape over a box of the layer's pixel grid: rows y0.., columns x0.."""

    x0: int
    y0: int
    a: np.ndarray

    def window(self, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        """Coverage over another box (zero outside this mask)."""
        out = np.zeros((h, w), np.float32)
        sx0, sy0 = max(x0, self.x0), max(y0, self.y0)
        sx1, sy1 = min(x0 + w, self.x0 + self.a.shape[1]), min(y0 + h, self.y0 + self.a.shape[0])
        if sx1 > sx0 and sy1 > sy0:
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = self.a[
                sy0 - self.y0 : sy1 - self.y0, sx0 - self.x0 : sx1 - self.x0
            ]
        return out

    def __and__(self, other: "Mask") -> "Mask":
        return Mask(self.x0, self.y0, self.a * other.window(self.x0, self.y0, self.a.shape[1], self.a.shape[0]))

    def __sub__(self, other: "Mask") -> "Mask":
        return Mask(self.x0, self.y0, self.a * (1 - other.window(self.x0, self.y0, self.a.shape[1], self.a.shape[0])))

    def __or__(self, other: "Mask") -> "Mask":
        x0, y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        x1 = max(self.x0 + self.a.shape[1], other.x0 + other.a.shape[1])
        y1 = max(self.y0 + self.a.shape[0], other.y0 + other.a.shape[0])
        w, h = x1 - x0, y1 - y0
        return Mask(x0, y0, np.maximum(self.window(x0, y0, w, h), other.window(x0, y0, w, h)))


class Layer:
    """A rectangle of the canvas (design units `box` = x0, y0, x1, y1) painted at `px_per_unit` x `supersample`."""

    def __init__(self, box: tuple[float, float, float, float], px_per_unit: float, supersample: int = SUPERSAMPLE):
        self.units = box
        self.ss = supersample
        self.k = px_per_unit * supersample  # surface pixels per design unit
        # Whole output pixels: the layer lands on the canvas at an integer offset.
        self.ox = int(np.floor(box[0] * px_per_unit))
        self.oy = int(np.floor(box[1] * px_per_unit))
        w = int(np.ceil(box[2] * px_per_unit)) - self.ox
        h = int(np.ceil(box[3] * px_per_unit)) - self.oy
        self.rgba = np.zeros((h * supersample, w * supersample, 4), np.float32)

    def region(self, box: tuple[float, float, float, float]) -> "Layer":
        """A copy of the part of this layer under `box` (design units), on the same pixel grid: paint on it, then
        paste its `image(crop=False)` over this layer's image, and only that part is drawn again."""
        ppu = self.k / self.ss
        h_out, w_out = self.rgba.shape[0] // self.ss, self.rgba.shape[1] // self.ss
        x0 = min(max(int(np.floor(box[0] * ppu)), self.ox), self.ox + w_out)
        y0 = min(max(int(np.floor(box[1] * ppu)), self.oy), self.oy + h_out)
        x1 = min(max(int(np.ceil(box[2] * ppu)), x0), self.ox + w_out)
        y1 = min(max(int(np.ceil(box[3] * ppu)), y0), self.oy + h_out)
        part = object.__new__(Layer)
        part.__dict__.update(self.__dict__)
        part.units, part.ox, part.oy = box, x0, y0
        ss = self.ss
        part.rgba = self.rgba[
            (y0 - self.oy) * ss : (y1 - self.oy) * ss, (x0 - self.ox) * ss : (x1 - self.ox) * ss
        ].copy()
        return part

    def moved_here(self, mask: Mask, origin: "Layer") -> Mask:
        """`mask`, made on `origin`'s surface, on this layer's surface (same grid, other offset)."""
        return Mask(mask.x0 - (self.ox - origin.ox) * self.ss, mask.y0 - (self.oy - origin.oy) * self.ss, mask.a)

    def _px(self, pts: np.ndarray) -> np.ndarray:
        return np.asarray(pts, np.float64) * self.k - [self.ox * self.ss, self.oy * self.ss]

    def mask(self, *polygons: np.ndarray, blur: float = 0.0) -> Mask:
        """Coverage of the union of `polygons`; `blur` (design units) softens it into a shadow or glow."""
        pts = [self._px(p) for p in polygons]
        pad = int(np.ceil(3 * blur * self.k)) + 2
        lo = np.floor(np.min([p.min(axis=0) for p in pts], axis=0)).astype(int) - pad
        hi = np.ceil(np.max([p.max(axis=0) for p in pts], axis=0)).astype(int) + pad
        h_img, w_img = self.rgba.shape[:2]
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, [w_img, h_img])
        if hi[0] <= lo[0] or hi[1] <= lo[1]:
            return Mask(0, 0, np.zeros((1, 1), np.float32))
        m = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
        for p in pts:  # one at a time: fillPoly given several polygons fills where they overlap by even-odd
            one = np.zeros_like(m) if len(pts) > 1 else m
            cv2.fillPoly(
                one, [np.round((p - lo) * (1 << SHIFT)).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=SHIFT
            )
            if one is not m:
                np.maximum(m, one, out=m)
        a = m.astype(np.float32) / 255.0
        if blur > 0:
            a = _blurred(a, blur * self.k)
        return Mask(int(lo[0]), int(lo[1]), a)

    def fill(
        self, shape: Mask | np.ndarray, paint: Paint | Color, alpha: float = 1.0, clip: Mask | None = None
    ) -> None:
        """Paint `shape` (a polygon or a Mask) over what is there, optionally only inside `clip`."""
        m = shape if isinstance(shape, Mask) else self.mask(shape)
        if clip is not None:
            m = m & clip
        h, w = m.a.shape
        if h == 0 or w == 0:
            return
        # Pixel centres in design units, as a row and a column: paints broadcast them to the box.
        x = ((np.arange(m.x0, m.x0 + w, dtype=np.float32) + 0.5 + self.ox * self.ss) / self.k)[None, :]
        y = ((np.arange(m.y0, m.y0 + h, dtype=np.float32) + 0.5 + self.oy * self.ss) / self.k)[:, None]
        colors = paint(x, y) if callable(paint) else np.asarray(paint, np.float32)
        a = (m.a * alpha)[..., None]
        region = self.rgba[m.y0 : m.y0 + h, m.x0 : m.x0 + w]
        region[..., :3] = colors * a + region[..., :3] * (1 - a)
        region[..., 3:] = a + region[..., 3:] * (1 - a)

    def soft(
        self, shape: np.ndarray, blur: float, paint: Paint | Color, alpha: float = 1.0, clip: Mask | None = None
    ) -> None:
        """Paint `shape` with edges softened by `blur` design units: shadows, glows, blush."""
        self.fill(self.mask(shape, blur=blur), paint, alpha, clip)

    def image(self, crop: bool = True) -> tuple[np.ndarray, int, int]:
        """(straight-alpha RGBA uint8, x, y of its top-left on the canvas), cropped to its paint unless not `crop`."""
        small = (
            self.rgba
            if self.ss == 1
            else cv2.resize(self.rgba, None, fx=1 / self.ss, fy=1 / self.ss, interpolation=cv2.INTER_AREA)
        )
        alpha = small[..., 3]
        rows, cols = np.flatnonzero(alpha.max(axis=1) > 1 / 512), np.flatnonzero(alpha.max(axis=0) > 1 / 512)
        if not crop:
            rows, cols = np.arange(small.shape[0]), np.arange(small.shape[1])
        if rows.size == 0 or cols.size == 0:
            return np.zeros((1, 1, 4), np.uint8), self.ox, self.oy
        small = small[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        a = small[..., 3:]
        rgb = np.where(a > 1e-6, small[..., :3] / np.maximum(a, 1e-6), 0)
        out = np.concatenate([rgb, a], axis=-1)
        return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), self.ox + int(cols[0]), self.oy + int(rows[0])
