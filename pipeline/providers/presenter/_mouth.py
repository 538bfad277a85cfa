"""The anchor's nine mouths (the Preston Blair shapes Rhubarb Lip Sync uses), each drawn from a few numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _raster as R
from ._face import MOUTH, ring
from ._looks import Look

INSIDE = [(0, (0.24, 0.07, 0.08)), (1, (0.16, 0.05, 0.06))]  # the mouth's inside, darker down its throat
TEETH = [(0, (0.95, 0.94, 0.9)), (0.7, (0.86, 0.84, 0.8)), (1.0, (0.62, 0.58, 0.55))]  # in shadow towards the corners
LOWER_TEETH = (0.78, 0.76, 0.72)
SEAM = (0.25, 0.09, 0.09)


@dataclass(frozen=True)
class Mouth:
    """A mouth shape in numbers (design units, around the mouth's centre)."""

    half_width: float  # centre to a corner
    gap: float  # how far the lips part at the centre
    inner: float  # half width of the opening
    upper: float  # upper lip thickness
    lower: float  # lower lip thickness
    upper_teeth: float = 0.0  # how much of the opening the upper teeth fill (0..1)
    lower_teeth: float = 0.0
    tongue: str = ""  # "", "low", "raised"
    tuck: bool = False  # the lower lip drawn in under the upper teeth (F, V)
    smile: float = 0.0  # corners raised
    press: bool = False  # lips pressed together (M, B, P)


MOUTHS: dict[str, Mouth] = {
    "X": Mouth(half_width=27, gap=0, inner=20, upper=7.0, lower=9.0, smile=2.0),
    "A": Mouth(half_width=27, gap=0, inner=22, upper=5.2, lower=7.2, smile=0.6, press=True),
    "B": Mouth(half_width=28, gap=6.5, inner=21, upper=6.5, lower=8.0, upper_teeth=0.55, lower_teeth=0.45, smile=1.0),
    "C": Mouth(half_width=27, gap=15, inner=21, upper=6.0, lower=8.0, upper_teeth=0.33, lower_teeth=0.12, tongue="low"),
    "D": Mouth(half_width=25, gap=27, inner=19, upper=5.5, lower=7.5, upper_teeth=0.22, lower_teeth=0.08, tongue="low"),
    "E": Mouth(half_width=21, gap=13, inner=13, upper=7.8, lower=9.0, upper_teeth=0.25),
    "F": Mouth(half_width=15, gap=7, inner=6, upper=8.6, lower=9.6),
    "G": Mouth(half_width=27, gap=7, inner=20, upper=6.0, lower=6.0, upper_teeth=1.0, tuck=True, smile=0.5),
    "H": Mouth(half_width=26, gap=15, inner=20, upper=6.0, lower=8.0, upper_teeth=0.3, tongue="raised"),
}


def draw_mouth(layer: R.Layer, look: Look, shape: str, face: R.Mask) -> None:
    m = MOUTHS[shape]
    mx, my = MOUTH
    skin, lip = R.hex_color(look.skin), R.hex_color(look.lips)
    w, g, k = m.half_width, m.gap, m.inner
    corner = my - m.smile
    top, bottom = my - 0.35 * g, my + 0.65 * g  # the opening's edges at the middle
    # The outlines: the upper lip's bow and peaks, the lower lip's curve, the opening between them.
    bow, peak = top - m.upper * 0.78, top - m.upper
    upper_outer = [(mx - w, corner), (mx - 0.62 * w, bow), (mx - 0.2 * w, peak), (mx, bow), (mx + 0.2 * w, peak),
                   (mx + 0.62 * w, bow), (mx + w, corner)]  # fmt: skip
    rounded = k < 0.7 * w
    if g > 0:
        sag = 0.2 * g if rounded else 0.0  # a round opening's corners sit lower
        low = corner + (0.45 * g if rounded else 0.5)
        inner_top = [(mx - k, corner + sag), (mx - 0.5 * k, top + 0.2), (mx, top), (mx + 0.5 * k, top + 0.2),
                     (mx + k, corner + sag)]  # fmt: skip
        mid = bottom - 0.12 * g
        inner_bottom = [(mx + k, low), (mx + 0.55 * k, mid), (mx, bottom), (mx - 0.55 * k, mid), (mx - k, low)]
    else:
        line = [(mx - 0.96 * w, corner + 0.6), (mx - 0.5 * w, my + 0.6), (mx, my + 1.0), (mx + 0.5 * w, my + 0.6),
                (mx + 0.96 * w, corner + 0.6)]  # fmt: skip
        inner_top, inner_bottom = line, line[::-1]
    lower_y = (bottom if g > 0 else my + 1) + m.lower * (0.7 if m.tuck else 1.0)
    side_y = lower_y - m.lower * 0.25
    lower_outer = [(mx + w, corner), (mx + 0.6 * w, side_y), (mx, lower_y), (mx - 0.6 * w, side_y), (mx - w, corner)]

    # Soft shadows under the lower lip and at the corners give the mouth its form.
    shadow = R.shade(skin, -0.6)
    layer.soft(R.ellipse(mx, lower_y + 6, w * 0.55, 5), 4, shadow, 0.35, face)
    for side in (-1, 1):
        layer.soft(R.ellipse(mx + side * (w + 3), corner, 3.5, 5), 2.2, shadow, 0.35, face)

    whole = layer.mask(R.spline(upper_outer[:-1] + lower_outer[:-1], samples=8))
    teeth_paint = R.radial((mx - 3, top + 1), (k * 1.1, max(g, 6)), TEETH)
    upper_teeth = None
    if g > 0:
        opening = layer.mask(R.spline(inner_top + inner_bottom, samples=8))
        layer.fill(opening, R.linear((0, top), (0, bottom), INSIDE))
        _tongue(layer, m, lip, opening, top, bottom)
        if m.upper_teeth:
            edge = top + (g + 3 if m.tuck else max(2.5, m.upper_teeth * g))
            upper_teeth = R.spline([(mx - 1.05 * k, top - 3), (mx + 1.05 * k, top - 3), (mx + 0.8 * k, edge),
                                    (mx, edge + 0.8), (mx - 0.8 * k, edge)], samples=6)  # fmt: skip
            _teeth(layer, upper_teeth, teeth_paint, k, top, edge, opening)
        if m.lower_teeth:
            edge = bottom - max(2.0, m.lower_teeth * g)
            lower_teeth = R.spline([(mx - 0.8 * k, bottom + 2), (mx - 0.7 * k, edge), (mx, edge - 0.6),
                                    (mx + 0.7 * k, edge), (mx + 0.8 * k, bottom + 2)], samples=6)  # fmt: skip
            layer.soft(lower_teeth, 0.3, LOWER_TEETH, 1.0, opening)
        layer.soft(R.ellipse(mx, top, k, 3), 2, (0.1, 0.03, 0.03), 0.4, opening)  # the upper lip overhangs
        lips = whole - opening
        upper_edge = upper_outer + inner_top[::-1][1:-1]
    else:
        lips = whole
        upper_edge = upper_outer + inner_bottom[1:-1]
    upper_lip = layer.mask(R.spline(upper_edge, samples=8)) & lips
    lower_lip = lips - upper_lip
    base = R.mix(lip, skin, 0.15)
    lower_stops = [(0, R.shade(base, -0.15)), (0.55, R.shade(base, 0.06)), (1, R.shade(base, -0.1))]
    layer.fill(lower_lip, R.linear((0, my), (0, lower_y), lower_stops))
    layer.fill(upper_lip, R.linear((0, peak), (0, my), [(0, R.shade(base, -0.05)), (1, R.shade(base, -0.32))]))
    sheen = R.ellipse(mx - 4, lower_y - m.lower * 0.5, w * 0.3, m.lower * 0.2)
    layer.soft(sheen, 2, R.shade(base, 0.55), 0.35, lower_lip)
    if m.tuck and upper_teeth is not None:  # F, V: the upper teeth rest on the lower lip, in front of it
        band_ = np.array([[mx - w, top - 4], [mx + w, top - 4], [mx + w, bottom + 3], [mx - w, bottom + 3]])
        _teeth(layer, upper_teeth, teeth_paint, k, top, bottom + 3, (whole & layer.mask(band_)) - upper_lip)
        layer.soft(R.ellipse(mx, bottom + 4, k * 0.9, 1.6), 1.2, R.shade(base, -0.6), 0.6, lower_lip)
    if g == 0:  # where the lips meet: a firmer line when pressed
        p = 0.3 if m.press else 0.0
        layer.soft(R.band(R.spline(inner_top, closed=False), [0.6, 1.3 + p, 1.4 + p, 1.3 + p, 0.6]), 0.4, SEAM, 0.85)
    layer.soft(R.ellipse(mx, peak - 9, 4, 7), 3, R.shade(skin, -0.35), 0.25, face)  # the groove under the nose
    if look.beard:
        _mustache(layer, look)


def _tongue(layer: R.Layer, m: Mouth, lip: R.Color, opening: R.Mask, top: float, bottom: float) -> None:
    mx, g, k = MOUTH[0], m.gap, m.inner
    color = R.mix((0.72, 0.34, 0.36), lip, 0.35)
    if m.tongue == "raised":  # its tip up behind the upper teeth (L)
        side, tip = top + 0.45 * g, top + 0.2 * g
        root = bottom + 2
        outline = [(mx - 0.8 * k, root), (mx - 0.45 * k, side), (mx, tip), (mx + 0.45 * k, side), (mx + 0.8 * k, root)]
        layer.soft(R.spline(outline, samples=8), 0.6, color, 1.0, opening)
    elif m.tongue == "low":  # resting on the floor of the mouth: a sliver
        layer.soft(R.ellipse(mx, bottom + 0.05 * g, k * 0.7, 0.3 * g), 0.8, R.shade(color, -0.15), 1.0, opening)


def _teeth(
    layer: R.Layer, outline: np.ndarray, paint: R.Paint, inner: float, top: float, bottom: float, clip: R.Mask
) -> None:
    """A row of upper teeth: the block, and faint gaps between the front teeth."""
    mx = MOUTH[0]
    layer.soft(outline, 0.3, paint, 1.0, clip)
    for dx in (0.0, -0.3, 0.3, -0.58, 0.58):
        gap = np.array([[mx + dx * inner, top], [mx + dx * inner * 1.04, bottom]])
        layer.soft(R.band(gap, 0.7), 0.4, (0.5, 0.45, 0.42), 0.4 if dx == 0 else 0.25, clip)


def _mustache(layer: R.Layer, look: Look) -> None:
    """Drawn after the mouth, so it sits over the upper lip whatever the mouth does."""
    mx, my = MOUTH
    half = [(mx, my - 13), (mx - 14, my - 15), (mx - 28, my - 11), (mx - 33, my - 3), (mx - 26, my - 7),
            (mx - 12, my - 9), (mx, my - 9)]  # fmt: skip
    # ring() mirrors around the face's middle line, which the mouth shares.
    layer.soft(R.spline(ring(half), samples=8), 1.0, R.hex_color(look.hair), 0.85)
