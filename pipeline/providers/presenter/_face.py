"""The anchor's head: face, ears, eyes, brows, nose; one mouth per shape; closed and half-closed eyelids.

Design units: the canvas is 1000 x 1000, the face's middle line is x = 500, eyes at y = 330, mouth at y = 428.
The key light comes from the viewer's upper left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _raster as R
from ._looks import Look

CX = 500.0
EYE_Y = 330.0
EYE_DX = 43.0  # eye centre to face middle
MOUTH = (500.0, 430.0)
HEAD_BOX = (300.0, 50.0, 700.0, 700.0)  # the head layer's region (hair included)
PIVOT = (500.0, 520.0)  # where the head turns on the neck


def face_outline(look: Look) -> np.ndarray:
    if look.face == "square":
        half = [(500, 178), (446, 186), (408, 222), (392, 280), (392, 335), (398, 385), (410, 425), (432, 458), (466, 478), (500, 483)]
    else:
        half = [(500, 180), (448, 188), (412, 222), (396, 280), (396, 335), (401, 382), (414, 420), (438, 452), (470, 472), (500, 478)]
    return R.spline(_ring(half), samples=10)


def _ring(half: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A closed outline from its left half, top (x = 500) to bottom (x = 500)."""
    right = [(2 * CX - x, y) for x, y in reversed(half[1:-1])]
    return [*half, *right]


def skin_paint(look: Look) -> R.Paint:
    skin = R.hex_color(look.skin)
    return R.radial(
        (478, 318), (125, 175), [(0.0, R.shade(skin, 0.10)), (0.55, skin), (0.9, R.shade(skin, -0.18)), (1.3, R.shade(skin, -0.35))]
    )


def draw_head(layer: R.Layer, look: Look) -> R.Mask:
    """Ears, face, features (no mouth): the face's coverage mask, for clipping later paint."""
    skin = R.hex_color(look.skin)
    paint = skin_paint(look)
    for side in (-1, 1):  # ears, behind the face's edge
        x = CX + side * 100
        ear = R.spline([(x, 318), (x + side * 14, 314), (x + side * 20, 338), (x + side * 13, 368), (x - side * 2, 380)])
        layer.fill(ear, R.shade(skin, -0.12))
        inner = R.spline([(x + side * 3, 328), (x + side * 11, 327), (x + side * 13, 344), (x + side * 7, 362), (x, 366)])
        layer.fill(layer.mask(inner, blur=2.0), R.shade(skin, -0.35), alpha=0.45)
    face = layer.mask(face_outline(look))
    layer.fill(face, paint)
    # Form: the far (right) side and the jaw turn away from the light; cheeks catch a little colour.
    layer.fill(layer.mask(R.ellipse(585, 350, 45, 150), blur=22), R.shade(skin, -0.5), alpha=0.30, clip=face)
    layer.fill(layer.mask(R.ellipse(500, 492, 120, 40), blur=16), R.shade(skin, -0.6), alpha=0.35, clip=face)
    blush = R.mix(skin, R.hex_color("#d0605a"), 0.6)
    for x in (448, 552):
        layer.fill(layer.mask(R.ellipse(x, 392, 26, 14), blur=9), blush, alpha=0.16 if _light(look) else 0.10, clip=face)
    layer.fill(layer.mask(R.ellipse(468, 250, 40, 24), blur=18), R.shade(skin, 0.35), alpha=0.25, clip=face)  # forehead sheen
    _eyes(layer, look, face)
    _brows(layer, look)
    _nose(layer, look, face)
    if look.beard:
        _beard(layer, look, face)
    return face


def _light(look: Look) -> bool:
    return sum(R.hex_color(look.skin)) > 1.6


# -- eyes ----------------------------------------------------------------------------------------------------------


def eye_outline(side: int) -> np.ndarray:
    """An almond; `side` -1 is the viewer's left eye. The outer corner sits a little higher."""
    cx = CX + side * EYE_DX
    pts = [(-23, 1), (-14, -8), (0, -11), (12, -9), (21, -2), (12, 6), (0, 8), (-13, 6)]
    # Drawn for the right eye (outer corner at -x flipped): mirror for the left.
    return R.spline([(cx - side * x, EYE_Y + y) for x, y in pts], samples=10)


def upper_lid(side: int, drop: float = 0.0) -> np.ndarray:
    """The upper lid's edge, outer corner to inner; `drop` 0 open .. 1 closed."""
    cx = CX + side * EYE_DX
    open_ = [(-23, 1), (-14, -8), (0, -11), (12, -9), (21, -2)]
    closed = [(-23, 2), (-13, 5), (0, 7), (12, 6), (21, 1)]
    pts = [(cx - side * (x0 + (x1 - x0) * drop), EYE_Y + y0 + (y1 - y0) * drop) for (x0, y0), (x1, y1) in zip(open_, closed)]
    return R.spline(pts, closed=False, samples=10)


def _eyes(layer: R.Layer, look: Look, face: R.Mask) -> None:
    skin = R.hex_color(look.skin)
    iris = R.hex_color(look.iris)
    for side in (-1, 1):
        cx = CX + side * EYE_DX
        # The socket: a soft shadow under the brow, eyeshadow on a made-up look.
        layer.fill(layer.mask(R.ellipse(cx, EYE_Y - 8, 30, 16), blur=8), R.shade(skin, -0.5), alpha=0.22, clip=face)
        if look.makeup:
            shadow = R.mix(skin, R.hex_color("#6b4a5a"), 0.45)
            layer.fill(layer.mask(R.ellipse(cx - side * 4, EYE_Y - 12, 24, 9), blur=5), shadow, alpha=0.45, clip=face)
        outline = eye_outline(side)
        white = layer.mask(outline)
        layer.fill(white, R.linear((0, EYE_Y - 11), (0, EYE_Y + 8), [(0, (0.78, 0.76, 0.75)), (0.45, (0.95, 0.94, 0.92)), (1, (0.93, 0.91, 0.9))]))
        ring = R.ellipse(cx, EYE_Y - 1, 9.5, 9.5)
        layer.fill(ring, R.radial((cx, EYE_Y), (9.5, 9.5), [(0, R.shade(iris, 0.25)), (0.65, iris), (1.0, R.shade(iris, -0.6))]), clip=white)
        layer.fill(R.ellipse(cx, EYE_Y - 1, 4.0, 4.0), (0.04, 0.03, 0.03), clip=white)
        layer.fill(layer.mask(R.band(upper_lid(side) + [0, 2.0], 5), blur=1.5), (0, 0, 0), alpha=0.25, clip=white)
        layer.fill(R.ellipse(cx + 3, EYE_Y - 5, 2.2, 2.2), (1, 1, 1), alpha=0.9)
        layer.fill(R.ellipse(cx - 4, EYE_Y + 3, 1.0, 1.0), (1, 1, 1), alpha=0.6)
        _lid_line(layer, look, side, 0.0)
        # Crease above the lid and a faint lower lid.
        crease = upper_lid(side) + [0, -5]
        layer.fill(layer.mask(R.band(crease[2:-3], [0.8, 1.8, 0.8]), blur=0.6), R.shade(skin, -0.6), alpha=0.45)
        lower = R.spline([(cx - side * x, EYE_Y + y) for x, y in [(-20, 3), (-10, 8.5), (2, 9.5), (13, 7)]], closed=False)
        layer.fill(layer.mask(R.band(lower, [0.5, 1.3, 0.5]), blur=0.5), R.shade(skin, -0.55), alpha=0.5)


def _lid_line(layer: R.Layer, look: Look, side: int, drop: float) -> None:
    """The lash line along the upper lid, heavier at the outer corner, with a small flick there."""
    lid = upper_lid(side, drop)
    heavy = 3.2 if look.makeup else 2.4
    layer.fill(R.band(lid, [heavy + 0.6, heavy, heavy * 0.8, 1.2]), (0.07, 0.05, 0.05))
    if look.makeup or drop < 0.5:
        x, y = lid[0]
        flick = R.spline([(x + side * 1.5, y + 1), (x - side * 4, y - 2.5), (x - side * 7, y - 5)], closed=False)
        layer.fill(R.band(flick, [2.2, 1.2, 0.3]), (0.07, 0.05, 0.05))


def eyelids(look: Look, px_per_unit: float, drop: float) -> R.Layer:
    """An overlay for the eyes: skin drawn down over them to `drop` (1 closed, ~0.55 half), with the lash line."""
    layer = R.Layer((CX - 110, EYE_Y - 40, CX + 110, EYE_Y + 30), px_per_unit)
    paint = skin_paint(look)
    skin = R.hex_color(look.skin)
    for side in (-1, 1):
        lid_edge = upper_lid(side, drop)
        top = upper_lid(side, 0.0)
        cover = np.vstack([top + [0, -3], lid_edge[::-1]])
        lid = layer.mask(cover) & layer.mask(eye_outline(side) if drop < 0.99 else R.ellipse(CX + side * EYE_DX, EYE_Y - 1, 26, 13))
        if drop >= 0.99:
            lid = layer.mask(eye_outline(side), blur=0.4) | lid
        layer.fill(lid, paint)
        layer.fill(lid, R.shade(skin, -0.35), alpha=0.25)  # a lid is in its socket's shade
        if look.makeup:
            layer.fill(lid, R.mix(skin, R.hex_color("#6b4a5a"), 0.45), alpha=0.3)
        _lid_line(layer, look, side, drop)
    if look.glasses:
        glasses(layer)
    return layer


# -- brows, nose, beard ------------------------------------------------------------------------------------------


def _brows(layer: R.Layer, look: Look) -> None:
    hair = R.hex_color(look.hair)
    color = R.mix(hair, (0.1, 0.07, 0.05), 0.3) if sum(hair) > 0.6 else hair
    heavy = 1.25 if look.face == "square" else 1.0
    for side in (-1, 1):
        pts = [(CX - side * x, y) for x, y in [(20, 296), (34, 289), (50, 287), (64, 292), (70, 297)]]
        brow = R.spline(pts, closed=False, samples=10)
        layer.fill(layer.mask(R.band(brow, [5.5 * heavy, 7.0 * heavy, 6.0 * heavy, 3.8 * heavy, 1.5]), blur=0.5), color, alpha=0.92)


def _nose(layer: R.Layer, look: Look, face: R.Mask) -> None:
    skin = R.hex_color(look.skin)
    dark = R.shade(skin, -0.55)
    # The shaded side of the bridge and the underside of the nose.
    bridge = R.spline([(508, 338), (512, 360), (516, 383)], closed=False)
    layer.fill(layer.mask(R.band(bridge, [2, 5, 7]), blur=4), dark, alpha=0.35, clip=face)
    layer.fill(layer.mask(R.ellipse(500, 400, 16, 5), blur=4), dark, alpha=0.45, clip=face)
    for side in (-1, 1):
        wing = R.spline([(CX + side * 6, 398), (CX + side * 13, 397), (CX + side * 17, 390), (CX + side * 15, 383)], closed=False)
        layer.fill(layer.mask(R.band(wing, [1.8, 2.4, 2.0, 0.8]), blur=0.8), dark, alpha=0.75)
    layer.fill(layer.mask(R.ellipse(497, 384, 7, 5), blur=3), R.shade(skin, 0.5), alpha=0.35)  # tip catches the light


def _beard(layer: R.Layer, look: Look, face: R.Mask) -> None:
    """A short full beard: jaw, chin and around the mouth, a little fuller than the jaw; textured, soft-edged."""
    hair = R.hex_color(look.hair)
    half = [(500, 452), (476, 449), (463, 440), (458, 426), (444, 418), (426, 404), (406, 380), (398, 398), (402, 428),
            (416, 456), (440, 480), (470, 493), (500, 496)]  # fmt: skip
    outline = R.spline([*half, *[(2 * CX - x, y) for x, y in reversed(half[1:-1])]], samples=10)
    beard = layer.mask(outline, blur=1.6)
    layer.fill(beard, R.linear((0, 400), (0, 500), [(0, R.shade(hair, 0.12)), (1, R.shade(hair, -0.3))]), alpha=0.86)
    rng = np.random.default_rng(5)
    for x, y in zip(rng.uniform(396, 604, 200), rng.uniform(378, 498, 200)):
        light = rng.random() < 0.3
        tone = R.shade(hair, 0.25) if light else R.shade(hair, -0.6)
        stroke = R.band(np.array([[x, y], [x + rng.uniform(-1.5, 1.5), y + 3.5]]), 1.0)
        layer.fill(layer.mask(stroke, blur=0.5), tone, alpha=0.2 if light else 0.35, clip=beard)


def _teeth(layer: R.Layer, outline: np.ndarray, paint: R.Paint, mx: float, inner: float, top: float, bottom: float, clip: R.Mask) -> None:
    """A row of upper teeth: the block, and faint gaps between the front teeth."""
    layer.fill(layer.mask(outline, blur=0.3), paint, clip=clip)
    for dx in (0.0, -0.3, 0.3, -0.58, 0.58):
        gap = np.array([[mx + dx * inner, top], [mx + dx * inner * 1.04, bottom]])
        layer.fill(layer.mask(R.band(gap, 0.7), blur=0.4), (0.5, 0.45, 0.42), alpha=0.4 if dx == 0 else 0.25, clip=clip)


def mustache(layer: R.Layer, look: Look) -> None:
    """Drawn after the mouth, so it sits over the upper lip whatever the mouth does."""
    hair = R.hex_color(look.hair)
    mx, my = MOUTH
    pts = [(mx, my - 13), (mx - 14, my - 15), (mx - 28, my - 11), (mx - 33, my - 3), (mx - 26, my - 7), (mx - 12, my - 9),
           (mx, my - 9), (mx + 12, my - 9), (mx + 26, my - 7), (mx + 33, my - 3), (mx + 28, my - 11), (mx + 14, my - 15)]  # fmt: skip
    layer.fill(layer.mask(R.spline(pts, samples=8), blur=1.0), hair, alpha=0.85)


# -- mouths --------------------------------------------------------------------------------------------------------


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
    skin = R.hex_color(look.skin)
    lip = R.hex_color(look.lips)
    w, g = m.half_width, m.gap
    corner_y = my - m.smile
    top_of_gap, bottom_of_gap = my - 0.35 * g, my + 0.65 * g
    # Lip outlines: the upper lip's cupid's bow, the lower lip's curve, the opening between them.
    upper_outer = [(mx - w, corner_y), (mx - 0.62 * w, top_of_gap - m.upper * 0.78), (mx - 0.2 * w, top_of_gap - m.upper),
                   (mx, top_of_gap - m.upper * 0.78), (mx + 0.2 * w, top_of_gap - m.upper), (mx + 0.62 * w, top_of_gap - m.upper * 0.78),
                   (mx + w, corner_y)]  # fmt: skip
    rounded = m.inner < 0.7 * w
    if g > 0:
        k = m.inner
        inner_top = [(mx - k, corner_y + 0.2 * g * (1 if rounded else 0)), (mx - 0.5 * k, top_of_gap + 0.2), (mx, top_of_gap),
                     (mx + 0.5 * k, top_of_gap + 0.2), (mx + k, corner_y + 0.2 * g * (1 if rounded else 0))]  # fmt: skip
        inner_bottom = [(mx + k, corner_y + (0.45 * g if rounded else 0.5)), (mx + 0.55 * k, bottom_of_gap - 0.12 * g),
                        (mx, bottom_of_gap), (mx - 0.55 * k, bottom_of_gap - 0.12 * g),
                        (mx - k, corner_y + (0.45 * g if rounded else 0.5))]  # fmt: skip
    else:
        line = [(mx - w * 0.96, corner_y + 0.6), (mx - 0.5 * w, my + 0.6), (mx, my + 1.0), (mx + 0.5 * w, my + 0.6), (mx + w * 0.96, corner_y + 0.6)]
        inner_top, inner_bottom = line, line[::-1]
    lower_y = (bottom_of_gap if g > 0 else my + 1) + m.lower * (0.7 if m.tuck else 1.0)
    lower_outer = [(mx + w, corner_y), (mx + 0.6 * w, lower_y - m.lower * 0.25), (mx, lower_y), (mx - 0.6 * w, lower_y - m.lower * 0.25), (mx - w, corner_y)]

    # Soft shadow under the lower lip and at the corners gives the mouth its form.
    layer.fill(layer.mask(R.ellipse(mx, lower_y + 6, w * 0.55, 5), blur=4), R.shade(skin, -0.6), alpha=0.35, clip=face)
    for side in (-1, 1):
        layer.fill(layer.mask(R.ellipse(mx + side * (w + 3), corner_y, 3.5, 5), blur=2.2), R.shade(skin, -0.6), alpha=0.35, clip=face)

    mouth_all = layer.mask(R.spline(upper_outer[:-1] + lower_outer[:-1], samples=8))
    if g > 0:
        opening = layer.mask(R.spline(inner_top + inner_bottom, samples=8))
        layer.fill(opening, R.linear((0, top_of_gap), (0, bottom_of_gap), [(0, (0.24, 0.07, 0.08)), (1, (0.16, 0.05, 0.06))]))
        tongue_color = R.mix((0.72, 0.34, 0.36), lip, 0.35)
        if m.tongue == "raised":  # the tip up behind the upper teeth (L)
            tongue = R.spline([(mx - m.inner * 0.8, bottom_of_gap + 2), (mx - m.inner * 0.45, top_of_gap + 0.45 * g), (mx, top_of_gap + 0.2 * g),
                               (mx + m.inner * 0.45, top_of_gap + 0.45 * g), (mx + m.inner * 0.8, bottom_of_gap + 2)], samples=8)  # fmt: skip
            layer.fill(layer.mask(tongue, blur=0.6), tongue_color, clip=opening)
        elif m.tongue == "low":  # resting on the floor of the mouth: a sliver
            layer.fill(layer.mask(R.ellipse(mx, bottom_of_gap + 0.05 * g, m.inner * 0.7, 0.3 * g), blur=0.8), R.shade(tongue_color, -0.15), clip=opening)
        teeth_color = R.radial((mx - 3, top_of_gap + 1), (m.inner * 1.1, max(g, 6)), [(0, (0.95, 0.94, 0.9)), (0.7, (0.86, 0.84, 0.8)), (1.0, (0.62, 0.58, 0.55))])
        upper_teeth = None
        if m.upper_teeth:
            h = max(2.5, m.upper_teeth * g) if not m.tuck else g + 3
            upper_teeth = R.spline([(mx - m.inner * 1.05, top_of_gap - 3), (mx + m.inner * 1.05, top_of_gap - 3),
                                    (mx + m.inner * 0.8, top_of_gap + h), (mx, top_of_gap + h + 0.8), (mx - m.inner * 0.8, top_of_gap + h)],
                                   samples=6)  # fmt: skip
            _teeth(layer, upper_teeth, teeth_color, mx, m.inner, top_of_gap, top_of_gap + h, opening)
        if m.lower_teeth:
            h = max(2.0, m.lower_teeth * g)
            teeth = R.spline([(mx - m.inner * 0.8, bottom_of_gap + 2), (mx - m.inner * 0.7, bottom_of_gap - h),
                              (mx, bottom_of_gap - h - 0.6), (mx + m.inner * 0.7, bottom_of_gap - h), (mx + m.inner * 0.8, bottom_of_gap + 2)], samples=6)  # fmt: skip
            layer.fill(layer.mask(teeth, blur=0.3), (0.78, 0.76, 0.72), clip=opening)
        # Shade the top of the opening: the upper lip overhangs it.
        layer.fill(layer.mask(R.ellipse(mx, top_of_gap, m.inner, 3), blur=2), (0.1, 0.03, 0.03), alpha=0.4, clip=opening)
        lips = mouth_all - opening
    else:
        lips = mouth_all
    upper_lip = layer.mask(R.spline(upper_outer + inner_top[::-1][1:-1] if g > 0 else upper_outer + inner_bottom[1:-1], samples=8)) & lips
    lower_lip = lips - upper_lip
    base = R.mix(lip, skin, 0.15)
    layer.fill(lower_lip, R.linear((0, my), (0, lower_y), [(0, R.shade(base, -0.15)), (0.55, R.shade(base, 0.06)), (1, R.shade(base, -0.1))]))
    layer.fill(upper_lip, R.linear((0, top_of_gap - m.upper), (0, my), [(0, R.shade(base, -0.05)), (1, R.shade(base, -0.32))]))
    # The lower lip's sheen, and the line where the lips meet.
    layer.fill(layer.mask(R.ellipse(mx - 4, lower_y - m.lower * 0.5, w * 0.3, m.lower * 0.2), blur=2.0), R.shade(base, 0.55), alpha=0.35, clip=lower_lip)
    if m.tuck and upper_teeth is not None:  # F, V: the upper teeth rest on the lower lip, over it
        over_lip = mouth_all & layer.mask(np.array([[mx - w, top_of_gap - 4], [mx + w, top_of_gap - 4], [mx + w, bottom_of_gap + 3], [mx - w, bottom_of_gap + 3]]))
        _teeth(layer, upper_teeth, teeth_color, mx, m.inner, top_of_gap, bottom_of_gap + 3, over_lip - upper_lip)
        layer.fill(layer.mask(R.ellipse(mx, bottom_of_gap + 4, m.inner * 0.9, 1.6), blur=1.2), R.shade(base, -0.6), alpha=0.6, clip=lower_lip)
    if g == 0:
        seam = R.band(R.spline(inner_top, closed=False), [0.6, 1.6 if m.press else 1.3, 1.8 if m.press else 1.4, 1.6 if m.press else 1.3, 0.6])
        layer.fill(layer.mask(seam, blur=0.4), (0.25, 0.09, 0.09), alpha=0.85)
    # Philtrum: the groove between nose and lip.
    layer.fill(layer.mask(R.ellipse(mx, top_of_gap - m.upper - 9, 4, 7), blur=3), R.shade(skin, -0.35), alpha=0.25, clip=face)
    if look.beard:
        mustache(layer, look)


# -- accessories ---------------------------------------------------------------------------------------------------


def accessories(layer: R.Layer, look: Look) -> None:
    if look.earrings:
        for side in (-1, 1):
            x = CX + side * 103
            layer.fill(layer.mask(R.ellipse(x, 390, 4.5, 4.5), blur=1.5), (0, 0, 0), alpha=0.3)
            layer.fill(R.ellipse(x, 388, 4.2, 4.2), R.radial((x - 1.5, 386.5), (4.5, 4.5), [(0, (1.0, 0.93, 0.7)), (1, (0.72, 0.55, 0.25))]))
    if look.glasses:
        glasses(layer)


def glasses(layer: R.Layer) -> None:
    """Thin dark frames; drawn on the head and again on the eyelid overlays, which cover the eyes under them."""
    frame = (0.09, 0.08, 0.08)
    for side in (-1, 1):
        cx = CX + side * EYE_DX
        rim = R.spline([(cx - 31, EYE_Y - 15), (cx + 31, EYE_Y - 16), (cx + 30, EYE_Y + 12), (cx, EYE_Y + 20), (cx - 29, EYE_Y + 12)], samples=10)
        lens = layer.mask(rim)
        layer.fill(layer.mask(R.ellipse(cx - 12, EYE_Y - 8, 14, 5, angle=-20), blur=3), (1, 1, 1), alpha=0.12, clip=lens)
        ring = lens - layer.mask(R.spline([(cx - 28, EYE_Y - 12.5), (cx + 28, EYE_Y - 13.5), (cx + 27, EYE_Y + 10), (cx, EYE_Y + 17.5),
                                           (cx - 26, EYE_Y + 10)], samples=10))  # fmt: skip
        layer.fill(ring, frame)
        temple = R.spline([(cx + side * 30, EYE_Y - 10), (cx + side * 48, EYE_Y - 8), (cx + side * 58, EYE_Y - 4)], closed=False)
        layer.fill(R.band(temple, [3.0, 2.6, 2.0]), frame)
    bridge = R.spline([(CX - 12, EYE_Y - 8), (CX, EYE_Y - 12), (CX + 12, EYE_Y - 8)], closed=False)
    layer.fill(R.band(bridge, 2.8), frame)
