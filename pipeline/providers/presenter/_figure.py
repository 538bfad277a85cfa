"""The anchor's body (neck, shoulders, outfit) and desk, in the design units of `_face`."""

from __future__ import annotations

import numpy as np

from . import _raster as R
from ._face import CX, ring
from ._looks import Look

BACK_BOX = (280.0, 60.0, 720.0, 760.0)
BODY_BOX = (150.0, 380.0, 850.0, 900.0)
FRONT_BOX = (30.0, 700.0, 970.0, 1000.0)
DESK_TOP = 832.0
NECK_BASE = 526.0
GOLD = (0.86, 0.72, 0.4)


def shoulder_width(look: Look) -> float:
    """Half the shoulders' width: broader on the square-faced looks."""
    return 290.0 if look.face == "square" else 262.0


def torso_outline(look: Look) -> np.ndarray:
    w, y = shoulder_width(look), NECK_BASE
    edge = 500 - w  # the shoulder's outer edge
    half = [(500, y - 4), (446, y), (404, y + 12), (edge + 62, y + 30), (edge + 20, y + 56), (edge + 3, y + 96),
            (edge - 6, y + 190), (edge - 12, y + 300), (edge - 14, 900), (500, 900)]  # fmt: skip
    return R.spline(ring(half), samples=10)


def _v(*half: tuple[float, float]) -> np.ndarray:
    """A symmetric shape (a neckline, a V) from its left half."""
    return R.spline(ring(list(half)), samples=6)


def _cloth(color: R.Color, top: float, bottom: float) -> R.Paint:
    return R.linear((0, top), (0, bottom), [(0, R.shade(color, -0.12)), (0.3, color), (1, R.shade(color, -0.18))])


def draw_body(layer: R.Layer, look: Look) -> R.Mask:
    skin, jacket, shirt = R.hex_color(look.skin), R.hex_color(look.jacket), R.hex_color(look.shirt)
    y = NECK_BASE
    # The neck reaches up under the jaw, so the head can turn without a gap.
    neck = R.spline(ring([(500, 400), (450, 405), (446, 470), (440, y), (428, y + 50), (500, y + 60)]), samples=8)
    neck_stops = [(0, R.shade(skin, -0.08)), (0.6, R.shade(skin, -0.2)), (1, R.shade(skin, -0.42))]
    layer.fill(neck, R.linear((440, 0), (560, 0), neck_stops))
    layer.soft(R.ellipse(500, 468, 80, 46), 14, R.shade(skin, -0.7), 0.55, layer.mask(neck))  # under the jaw
    torso = layer.mask(torso_outline(look))
    # The neckline (a shirt's V, a blouse, a top), then the jacket around it.
    if look.outfit == "suit-tie":
        layer.fill(_v((500, y - 8), (454, y - 2), (470, y + 100), (500, y + 196)), _cloth(shirt, y, y + 200))
        _tie(layer, look)
        _collar(layer, shirt, open_=False)
    elif look.outfit == "suit-open":
        layer.fill(_v((500, y - 8), (452, y - 2), (468, y + 100), (500, y + 200)), _cloth(shirt, y, y + 200))
        layer.fill(_v((500, y - 4), (466, y), (482, y + 44), (500, y + 72)), R.shade(skin, -0.12))
        layer.soft(R.ellipse(500, y + 18, 22, 16), 6, R.shade(skin, -0.5), 0.35)
        _collar(layer, shirt, open_=True)
    elif look.outfit == "blazer-blouse":
        layer.fill(_v((500, y - 4), (452, y), (464, y + 100), (500, y + 206)), _cloth(shirt, y, y + 220))
        layer.fill(_v((500, y - 4), (455, y + 2), (468, y + 34), (485, y + 58), (500, y + 64)), R.shade(skin, -0.1))
        fold = R.spline([(458, y + 16), (478, y + 56), (500, y + 66), (522, y + 56), (542, y + 16)], closed=False)
        layer.soft(R.band(fold, 3.0), 1.0, R.shade(shirt, -0.35), 0.5)
        if look.earrings:  # a fine chain with a small pendant goes with the earrings
            chain = R.spline([(466, y + 4), (482, y + 40), (500, y + 50), (518, y + 40), (534, y + 4)], closed=False)
            layer.soft(R.band(chain, 1.3), 0.3, GOLD)
            layer.fill(R.ellipse(500, y + 54, 3.2, 4), R.shade(GOLD, 0.2))
    else:  # blazer-shell: a plain round-necked top
        layer.fill(_v((500, y + 4), (450, y + 6), (460, y + 100), (500, y + 210)), _cloth(shirt, y, y + 220))
        layer.fill(_v((500, y), (454, y + 4), (470, y + 22), (500, y + 30)), R.shade(skin, -0.15))
    _jacket(layer, look, torso)
    shoulder_light = R.ellipse(500 - shoulder_width(look) + 40, y + 60, 44, 20, angle=-35)
    layer.soft(shoulder_light, 12, R.shade(jacket, 0.4), 0.35, torso)
    return torso


def _collar(layer: R.Layer, shirt: R.Color, open_: bool) -> None:
    y = NECK_BASE
    # Left wing's points, as (distance from the middle, y): open, or buttoned round the tie.
    wing = [(48, y - 14), (32, y + 16), (16, y + 58), (36, y + 56), (56, y + 16)] if open_ else \
        [(50, y - 16), (38, y + 16), (4, y + 46), (28, y + 62), (58, y + 22)]  # fmt: skip
    for side in (-1, 1):
        outline = R.spline([(CX + side * dx, yy) for dx, yy in wing], samples=6)
        layer.soft(outline, 3, (0, 0, 0), 0.25)
        stops = [(0, R.shade(shirt, -0.08)), (1, R.shade(shirt, 0.1))]
        layer.fill(outline, R.linear((CX + side * 50, y - 16), (CX, y + 60), stops))


def _tie(layer: R.Layer, look: Look) -> None:
    tie = R.hex_color(look.tie)
    y = NECK_BASE
    knot = R.spline([(485, y + 32), (515, y + 32), (508, y + 60), (492, y + 60)], samples=4)
    blade = R.spline([(493, y + 60), (507, y + 60), (519, y + 150), (500, y + 180), (481, y + 150)], samples=5)
    paint = R.linear((470, 0), (530, 0), [(0, R.shade(tie, 0.15)), (1, R.shade(tie, -0.35))])
    layer.fill(blade, paint)
    layer.fill(knot, paint)
    layer.soft(R.ellipse(500, y + 63, 12, 4), 2.5, R.shade(tie, -0.7), 0.6)
    stripes = layer.mask(blade)
    for k in range(6):
        top = y + 72 + 22 * k
        layer.soft(R.band(np.array([[470, top], [530, top + 18]]), 2.0), 0.6, R.shade(tie, 0.3), 0.35, stripes)


def _jacket(layer: R.Layer, look: Look, torso: R.Mask) -> None:
    jacket = R.hex_color(look.jacket)
    y, w = NECK_BASE, shoulder_width(look)
    v_depth = y + (200 if look.outfit != "blazer-shell" else 214)
    body = torso - layer.mask(_v((500, 440), (450, y - 4), (460, y + 60), (484, y + 150), (500, v_depth)))
    stops = [(0, R.shade(jacket, 0.14)), (0.45, jacket), (1, R.shade(jacket, -0.45))]
    layer.fill(body, R.linear((500 - w, 0), (500 + w, 0), stops))
    layer.soft(R.ellipse(500, 900, 300, 90), 40, R.shade(jacket, -0.6), 0.4, body)
    for side in (-1, 1):  # where the sleeves meet the body: a soft crease
        crease = [(CX + side * (w - 46), y + 70), (CX + side * (w - 40), y + 170), (CX + side * (w - 38), y + 300)]
        layer.soft(R.band(R.spline(crease, closed=False), [1, 4, 6]), 4, R.shade(jacket, -0.6), 0.45, body)
    # Lapels: a notch at the collar, the roll line down to the button.
    lapel = [(450, y - 4), (430, y + 42), (412, y + 54), (428, y + 66), (446, y + 110), (476, y + 172), (500, v_depth),
             (486, y + 150), (464, y + 70), (456, y + 20)]  # fmt: skip
    roll = [(430, y + 42), (446, y + 110), (476, y + 172), (500, v_depth)]
    for side in (-1, 1):
        outline = R.spline([(CX + side * (CX - x), yy) for x, yy in lapel], samples=4)
        layer.soft(outline, 3, (0, 0, 0), 0.35)
        layer.fill(outline, R.shade(jacket, 0.08 if side < 0 else -0.28))
        edge = R.spline([(CX + side * (CX - x), yy) for x, yy in roll], closed=False)
        layer.soft(R.band(edge, 1.4), 0.5, R.shade(jacket, 0.4), 0.5)
    # A button, the pocket flaps, and a pocket square with the suits.
    layer.fill(R.ellipse(500, v_depth + 28, 5, 5), R.shade(jacket, -0.5))
    layer.fill(R.ellipse(499, v_depth + 27, 2, 2), R.shade(jacket, 0.3), alpha=0.6)
    seam = R.shade(jacket, -0.5)
    layer.soft(R.band(np.array([[500 - w + 70, y + 150], [500 - w + 140, y + 142]]), 2.0), 0.6, seam, 0.6)
    pocket = np.array([[500 + w - 150, y + 150], [500 + w - 82, y + 146]])
    if look.outfit in ("suit-tie", "suit-open"):
        px, py = pocket[0]
        points = [(px + 6, py), (px + 20, py - 14), (px + 32, py - 6), (px + 46, py - 16), (px + 58, py - 2)]
        square = R.spline(points, samples=3)
        layer.fill(square, (0.95, 0.95, 0.96), alpha=0.95)
        layer.fill(layer.mask(square, blur=2) - layer.mask(square + [0, -3]), (0, 0, 0), alpha=0.25)
    layer.soft(R.band(pocket, 2.0), 0.6, seam, 0.6)


def draw_desk(layer: R.Layer, look: Look, torso: np.ndarray) -> None:
    desk, accent = R.hex_color(look.desk), R.hex_color(look.accent)
    t = DESK_TOP
    # Where the body meets the desk it is darker (the desk shades it), clipped to the body at rest.
    near = layer.mask(np.array([[150, t - 30], [850, t - 30], [850, t + 60], [150, t + 60]]), blur=12)
    layer.fill(near & layer.mask(torso), (0, 0, 0), alpha=0.45)
    top = np.array([[60, t], [940, t], [962, t + 20], [38, t + 20]])
    front = np.array([[38, t + 20], [962, t + 20], [962, 1000], [38, 1000]])
    layer.soft(np.array([[50, t - 4], [950, t - 4], [966, t + 26], [34, t + 26]]), 5, (0, 0, 0), 0.3)
    layer.fill(top, R.linear((0, t), (0, t + 20), [(0, R.shade(desk, 0.62)), (1, R.shade(desk, 0.3))]))
    layer.soft(R.ellipse(420, t + 8, 260, 5), 5, (1, 1, 1), 0.35, layer.mask(top))
    front_stops = [(0, R.shade(desk, 0.12)), (0.35, desk), (1, R.shade(desk, -0.5))]
    layer.fill(front, R.linear((0, t + 20), (0, 1000), front_stops))
    layer.fill(layer.mask(R.band(np.array([[40, t + 21], [960, t + 21]]), 2.2)), R.shade(desk, 0.85), alpha=0.75)
    # A broad soft reflection on the front, and the accent light strip with its glow.
    layer.soft(R.ellipse(330, t + 80, 320, 40), 30, (1, 1, 1), 0.08, layer.mask(front))
    strip = np.array([[38, t + 62], [962, t + 62], [962, t + 69], [38, t + 69]])
    layer.soft(strip, 7, accent, 0.55, layer.mask(front))
    stops = [(0, R.shade(accent, -0.35)), (0.5, R.shade(accent, 0.35)), (1, R.shade(accent, -0.35))]
    layer.fill(strip, R.linear((38, 0), (962, 0), stops))
