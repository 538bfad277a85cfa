"""The anchor's head: face, ears, eyes, brows, nose, beard and accessories; the closed and half-closed eyelids.

Design units: the canvas is 1000 x 1000, the face's middle line is x = 500, the eyes at y = 330, the mouth (drawn by
`_mouth`) at y = 430. The key light comes from the viewer's upper left.
"""

from __future__ import annotations

import numpy as np

from . import _raster as R
from ._looks import Look

CX = 500.0
EYE_Y = 330.0
EYE_DX = 43.0  # eye centre to face middle
MOUTH = (500.0, 430.0)
HEAD_BOX = (300.0, 50.0, 700.0, 700.0)  # the head layer's region (hair included)
PIVOT = (500.0, 520.0)  # where the head turns on the neck
LASH = (0.07, 0.05, 0.05)
EYESHADOW = "#6b4a5a"

# Left halves of the face outline, top middle to chin middle.
FACES = {
    "square": [(500, 178), (446, 186), (408, 222), (392, 280), (392, 335), (398, 385), (410, 425), (432, 458),
               (466, 478), (500, 483)],
    "soft": [(500, 180), (448, 188), (412, 222), (396, 280), (396, 335), (401, 382), (414, 420), (438, 452),
             (470, 472), (500, 478)],
}  # fmt: skip


def ring(half: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A closed outline from its left half, the first and last points on the middle line."""
    return [*half, *[(2 * CX - x, y) for x, y in reversed(half[1:-1])]]


def face_outline(look: Look) -> np.ndarray:
    return R.spline(ring(FACES[look.face]), samples=10)


def skin_paint(look: Look) -> R.Paint:
    skin = R.hex_color(look.skin)
    stops = [(0.0, R.shade(skin, 0.10)), (0.55, skin), (0.9, R.shade(skin, -0.18)), (1.3, R.shade(skin, -0.35))]
    return R.radial((478, 318), (125, 175), stops)


def draw_head(layer: R.Layer, look: Look) -> R.Mask:
    """Ears, face, features (no mouth); returns the face's mask, for clipping later paint to the skin."""
    skin = R.hex_color(look.skin)
    shadow = R.shade(skin, -0.55)
    for side in (-1, 1):  # ears, behind the face's edge
        x = CX + side * 100
        ear = [(x, 318), (x + side * 14, 314), (x + side * 20, 338), (x + side * 13, 368), (x - side * 2, 380)]
        layer.fill(R.spline(ear), R.shade(skin, -0.12))
        inner = [(x + side * 3, 328), (x + side * 11, 327), (x + side * 13, 344), (x + side * 7, 362), (x, 366)]
        layer.soft(R.spline(inner), 2.0, R.shade(skin, -0.35), 0.45)
    face = layer.mask(face_outline(look))
    layer.fill(face, skin_paint(look))
    # Form: the far side and the jaw turn away from the light; the cheeks catch a little colour; the forehead shines.
    layer.soft(R.ellipse(585, 350, 45, 150), 22, R.shade(skin, -0.5), 0.30, face)
    layer.soft(R.ellipse(500, 492, 120, 40), 16, R.shade(skin, -0.6), 0.35, face)
    blush = R.mix(skin, R.hex_color("#d0605a"), 0.6)
    for x in (448, 552):
        layer.soft(R.ellipse(x, 392, 26, 14), 9, blush, 0.16 if sum(skin) > 1.6 else 0.10, face)
    layer.soft(R.ellipse(468, 250, 40, 24), 18, R.shade(skin, 0.35), 0.25, face)
    _eyes(layer, look, face)
    _brows(layer, look)
    # The nose: the shaded side of the bridge, its underside, the wings of the nostrils, a lit tip.
    layer.soft(R.band(R.spline([(508, 338), (512, 360), (516, 383)], closed=False), [2, 5, 7]), 4, shadow, 0.35, face)
    layer.soft(R.ellipse(500, 400, 16, 5), 4, shadow, 0.45, face)
    for side in (-1, 1):
        wing = [(CX + side * 6, 398), (CX + side * 13, 397), (CX + side * 17, 390), (CX + side * 15, 383)]
        layer.soft(R.band(R.spline(wing, closed=False), [1.8, 2.4, 2.0, 0.8]), 0.8, shadow, 0.75)
    layer.soft(R.ellipse(497, 384, 7, 5), 3, R.shade(skin, 0.5), 0.35)
    if look.beard:
        _beard(layer, look)
    return face


# -- eyes ----------------------------------------------------------------------------------------------------------

# Around the eye's centre, for the viewer's right eye (outer corner at -x); the other is its mirror image.
EYE = [(-23, 1), (-14, -8), (0, -11), (12, -9), (21, -2), (12, 6), (0, 8), (-13, 6)]
LID_OPEN = [(-23, 1), (-14, -8), (0, -11), (12, -9), (21, -2)]
LID_CLOSED = [(-23, 2), (-13, 5), (0, 7), (12, 6), (21, 1)]
LOWER_LID = [(-20, 3), (-10, 8.5), (2, 9.5), (13, 7)]


def _at(side: int, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Eye-relative points placed at the eye on `side` (-1: the viewer's left)."""
    cx = CX + side * EYE_DX
    return [(cx - side * x, EYE_Y + y) for x, y in pts]


def eye_outline(side: int) -> np.ndarray:
    """An almond whose outer corner sits a little higher."""
    return R.spline(_at(side, EYE), samples=10)


def upper_lid(side: int, drop: float = 0.0) -> np.ndarray:
    """The upper lid's edge, outer corner to inner; `drop` from 0 (open) to 1 (closed)."""
    pts = [(x0 + (x1 - x0) * drop, y0 + (y1 - y0) * drop) for (x0, y0), (x1, y1) in zip(LID_OPEN, LID_CLOSED)]
    return R.spline(_at(side, pts), closed=False, samples=10)


def _eyes(layer: R.Layer, look: Look, face: R.Mask) -> None:
    skin = R.hex_color(look.skin)
    iris = R.hex_color(look.iris)
    white_stops = [(0, (0.78, 0.76, 0.75)), (0.45, (0.95, 0.94, 0.92)), (1, (0.93, 0.91, 0.9))]
    sclera = R.linear((0, EYE_Y - 11), (0, EYE_Y + 8), white_stops)  # in the lid's shadow at the top
    for side in (-1, 1):
        cx = CX + side * EYE_DX
        # The socket: a soft shadow under the brow; eyeshadow on a made-up look.
        layer.soft(R.ellipse(cx, EYE_Y - 8, 30, 16), 8, R.shade(skin, -0.5), 0.22, face)
        if look.makeup:
            shadow = R.mix(skin, R.hex_color(EYESHADOW), 0.45)
            layer.soft(R.ellipse(cx - side * 4, EYE_Y - 12, 24, 9), 5, shadow, 0.45, face)
        white = layer.mask(eye_outline(side))
        layer.fill(white, sclera)
        iris_stops = [(0, R.shade(iris, 0.25)), (0.65, iris), (1.0, R.shade(iris, -0.6))]
        iris_paint = R.radial((cx, EYE_Y), (9.5, 9.5), iris_stops)
        layer.fill(R.ellipse(cx, EYE_Y - 1, 9.5, 9.5), iris_paint, clip=white)
        layer.fill(R.ellipse(cx, EYE_Y - 1, 4.0, 4.0), (0.04, 0.03, 0.03), clip=white)
        layer.soft(R.band(upper_lid(side) + [0, 2.0], 5), 1.5, (0, 0, 0), 0.25, white)  # the lid's shadow on the eye
        layer.fill(R.ellipse(cx + 3, EYE_Y - 5, 2.2, 2.2), (1, 1, 1), alpha=0.9)
        layer.fill(R.ellipse(cx - 4, EYE_Y + 3, 1.0, 1.0), (1, 1, 1), alpha=0.6)
        _lash_line(layer, look, side, 0.0)
        # The crease above the lid, and a faint lower lid.
        layer.soft(R.band((upper_lid(side) + [0, -5])[2:-3], [0.8, 1.8, 0.8]), 0.6, R.shade(skin, -0.6), 0.45)
        lower = R.spline(_at(side, LOWER_LID), closed=False)
        layer.soft(R.band(lower, [0.5, 1.3, 0.5]), 0.5, R.shade(skin, -0.55), 0.5)


def _lash_line(layer: R.Layer, look: Look, side: int, drop: float) -> None:
    """The lash line along the upper lid, heavier at the outer corner, with a small flick there."""
    lid = upper_lid(side, drop)
    heavy = 3.2 if look.makeup else 2.4
    layer.fill(R.band(lid, [heavy + 0.6, heavy, heavy * 0.8, 1.2]), LASH)
    if look.makeup or drop < 0.5:
        x, y = lid[0]
        flick = R.spline([(x + side * 1.5, y + 1), (x - side * 4, y - 2.5), (x - side * 7, y - 5)], closed=False)
        layer.fill(R.band(flick, [2.2, 1.2, 0.3]), LASH)


def eyelids(look: Look, px_per_unit: float, drop: float) -> R.Layer:
    """An overlay for the eyes: skin drawn down over them to `drop` (1 closed, ~0.55 half), with the lash line."""
    layer = R.Layer((CX - 110, EYE_Y - 40, CX + 110, EYE_Y + 30), px_per_unit)
    skin = R.hex_color(look.skin)
    for side in (-1, 1):
        cover = layer.mask(np.vstack([upper_lid(side, 0.0) + [0, -3], upper_lid(side, drop)[::-1]]))
        if drop < 0.99:
            lid = cover & layer.mask(eye_outline(side))
        else:  # closed: the lid covers the whole eye, soft-edged so no white shows at its rim
            around = layer.mask(R.ellipse(CX + side * EYE_DX, EYE_Y - 1, 26, 13))
            lid = (cover & around) | layer.mask(eye_outline(side), blur=0.4)
        layer.fill(lid, skin_paint(look))
        layer.fill(lid, R.shade(skin, -0.35), alpha=0.25)  # a lid is in its socket's shade
        if look.makeup:
            layer.fill(lid, R.mix(skin, R.hex_color(EYESHADOW), 0.45), alpha=0.3)
        _lash_line(layer, look, side, drop)
    if look.glasses:
        glasses(layer)
    return layer


def _brows(layer: R.Layer, look: Look) -> None:
    hair = R.hex_color(look.hair)
    color = R.mix(hair, (0.1, 0.07, 0.05), 0.3) if sum(hair) > 0.6 else hair
    k = 1.2 if look.face == "square" else 0.85
    for side in (-1, 1):  # a gentle arch, its inner end no lower than its tail: attentive, not stern
        brow = R.spline([(CX - side * x, y) for x, y in [(22, 294), (36, 288), (52, 286), (65, 290), (72, 296)]], False)
        layer.soft(R.band(brow, [5.0 * k, 6.4 * k, 5.4 * k, 3.4 * k, 1.3]), 0.5, color, 0.92)


def _beard(layer: R.Layer, look: Look) -> None:
    """A short full beard: jaw, chin and around the mouth, a little fuller than the jaw; textured, soft-edged."""
    hair = R.hex_color(look.hair)
    half = [(500, 452), (476, 449), (463, 440), (458, 426), (444, 418), (426, 404), (406, 380), (398, 398), (402, 428),
            (416, 456), (440, 480), (470, 493), (500, 496)]  # fmt: skip
    beard = layer.mask(R.spline(ring(half), samples=10), blur=1.6)
    layer.fill(beard, R.linear((0, 400), (0, 500), [(0, R.shade(hair, 0.12)), (1, R.shade(hair, -0.3))]), alpha=0.86)
    rng = np.random.default_rng(5)  # the same hairs every time
    for x, y in zip(rng.uniform(396, 604, 200), rng.uniform(378, 498, 200)):
        light = rng.random() < 0.3
        hair_stroke = R.band(np.array([[x, y], [x + rng.uniform(-1.5, 1.5), y + 3.5]]), 1.0)
        layer.soft(hair_stroke, 0.5, R.shade(hair, 0.25 if light else -0.6), 0.2 if light else 0.35, beard)


# -- accessories ---------------------------------------------------------------------------------------------------


def accessories(layer: R.Layer, look: Look) -> None:
    if look.earrings:
        gold = [(0, (1.0, 0.93, 0.7)), (1, (0.72, 0.55, 0.25))]
        for side in (-1, 1):
            x = CX + side * 103
            layer.soft(R.ellipse(x, 390, 4.5, 4.5), 1.5, (0, 0, 0), 0.3)
            layer.fill(R.ellipse(x, 388, 4.2, 4.2), R.radial((x - 1.5, 386.5), (4.5, 4.5), gold))
    if look.glasses:
        glasses(layer)


def glasses(layer: R.Layer) -> None:
    """Thin dark frames; drawn on the head and again on the eyelid overlays, which cover the eyes under them."""
    frame = (0.09, 0.08, 0.08)
    for side in (-1, 1):
        cx = CX + side * EYE_DX

        def rim(inset: float, cx: float = cx) -> np.ndarray:
            return R.spline([(cx - 31 + inset, EYE_Y - 15 + inset), (cx + 31 - inset, EYE_Y - 16 + inset),
                             (cx + 30 - inset, EYE_Y + 12 - inset), (cx, EYE_Y + 20 - inset),
                             (cx - 29 + inset, EYE_Y + 12 - inset)], samples=10)  # fmt: skip

        lens = layer.mask(rim(0))
        layer.soft(R.ellipse(cx - 12, EYE_Y - 8, 14, 5, angle=-20), 3, (1, 1, 1), 0.12, lens)  # a reflection
        layer.fill(lens - layer.mask(rim(2.6)), frame)
        temple = [(cx + side * 30, EYE_Y - 10), (cx + side * 48, EYE_Y - 8), (cx + side * 58, EYE_Y - 4)]
        layer.fill(R.band(R.spline(temple, closed=False), [3.0, 2.6, 2.0]), frame)
    bridge = [(CX - 12, EYE_Y - 8), (CX, EYE_Y - 12), (CX + 12, EYE_Y - 8)]
    layer.fill(R.band(R.spline(bridge, closed=False), 2.8), frame)
