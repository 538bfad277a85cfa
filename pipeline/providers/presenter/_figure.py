"""The anchor's hair, body (neck, shoulders, outfit) and desk, in the design units of `_face`."""

from __future__ import annotations

import numpy as np

from . import _raster as R
from ._face import CX
from ._looks import Look

BACK_BOX = (280.0, 60.0, 720.0, 760.0)
BODY_BOX = (150.0, 380.0, 850.0, 900.0)
FRONT_BOX = (30.0, 700.0, 970.0, 1000.0)
DESK_TOP = 832.0


def _ring(half: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A closed outline from its left half, first and last points on the middle line."""
    return [*half, *[(2 * CX - x, y) for x, y in reversed(half[1:-1])]]


def _hair_paint(look: Look, top: float = 150, bottom: float = 520) -> R.Paint:
    hair = R.hex_color(look.hair)
    # Dark hair shines cool (the studio's light), lighter hair in its own colour.
    sheen = R.shade(hair, 0.28) if sum(hair) > 0.5 else R.mix(hair, (0.52, 0.56, 0.64), 0.28)
    return R.linear((0, top), (0, bottom), [(0, R.shade(hair, 0.05)), (0.12, sheen), (0.3, hair), (1, R.shade(hair, -0.45))])


def _strands(layer: R.Layer, look: Look, clip: R.Mask, curves: list[list[tuple[float, float]]], alpha: float = 0.35) -> None:
    """Light strands along the hair's flow, and darker ones between them: hair reads as hair, not a helmet."""
    hair = R.hex_color(look.hair)
    light, dark = R.shade(hair, 0.35 if sum(hair) > 0.5 else 0.22), R.shade(hair, -0.5)
    for i, pts in enumerate(curves):
        curve = R.spline(pts, closed=False, samples=10)
        layer.fill(layer.mask(R.band(curve, [0.5, 2.2, 1.6, 0.4]), blur=0.9), light if i % 2 == 0 else dark, alpha=alpha, clip=clip)


# -- hair ----------------------------------------------------------------------------------------------------------


def draw_back_hair(layer: R.Layer, look: Look) -> None:
    """Hair that falls behind the neck and shoulders (moves with the head, drawn behind the body)."""
    style = look.hair_style
    if style == "bob":
        outline = R.spline(_ring([(500, 150), (430, 160), (382, 215), (366, 300), (364, 400), (368, 480), (386, 528), (420, 540), (500, 536)]))
    elif style == "waves":
        outline = R.spline(_ring([(500, 150), (425, 160), (378, 215), (360, 310), (352, 420), (340, 520), (350, 610), (330, 680),
                                  (372, 720), (430, 700), (500, 690)]))  # fmt: skip
    else:
        return
    mask = layer.mask(outline)
    layer.fill(mask, _hair_paint(look, 150, 720))
    # The inside of the hair, behind the neck, is in shadow.
    layer.fill(layer.mask(R.ellipse(500, 520, 110, 160), blur=30), R.shade(R.hex_color(look.hair), -0.8), alpha=0.55, clip=mask)
    _strands(layer, look, mask, [[(380, 300), (368, 420), (372, 520)], [(620, 300), (632, 420), (628, 520)],
                                 [(395, 320), (380, 450), (360, 600)], [(605, 320), (620, 450), (640, 600)]])  # fmt: skip


def draw_front_hair(layer: R.Layer, look: Look, face: R.Mask) -> None:
    style = look.hair_style
    hair = R.hex_color(look.hair)
    if style == "side-part":
        outer = [(398, 335), (388, 290), (388, 232), (404, 190), (440, 158), (492, 142), (550, 145), (595, 168), (617, 208), (618, 262), (612, 330)]
        inner = [(603, 318), (603, 262), (590, 226), (560, 210), (520, 206), (478, 210), (445, 218), (418, 236), (405, 270), (405, 318)]
        flow = [[(462, 150), (440, 180), (415, 230)], [(480, 152), (520, 170), (590, 210)], [(470, 158), (500, 185), (570, 212)],
                [(455, 160), (430, 200), (410, 260)], [(490, 150), (540, 162), (600, 190)]]  # fmt: skip
        part = R.spline([(465, 146), (458, 175), (452, 206)], closed=False)
    elif style == "crop":
        outer = [(398, 318), (393, 262), (400, 214), (428, 180), (470, 163), (530, 163), (572, 180), (600, 214), (607, 262), (602, 318)]
        inner = [(598, 305), (598, 256), (586, 222), (552, 203), (500, 198), (448, 203), (414, 222), (402, 256), (402, 305)]
        flow, part = [], None
    elif style == "curls":
        outer = [(400, 304), (388, 262), (392, 212), (416, 175), (460, 150), (500, 145), (540, 150), (584, 175), (608, 212), (612, 262), (600, 304)]
        inner = [(598, 305), (598, 258), (582, 225), (545, 210), (500, 206), (455, 210), (418, 225), (402, 258), (402, 305)]
        flow, part = [], None
    elif style == "bun":
        outer = [(398, 318), (390, 262), (396, 214), (424, 178), (468, 160), (532, 160), (576, 178), (604, 214), (610, 262), (602, 318)]
        inner = [(598, 300), (596, 250), (578, 218), (540, 202), (500, 205), (460, 202), (422, 218), (404, 250), (402, 300)]
        flow = [[(500, 206), (470, 180), (440, 166)], [(500, 206), (530, 180), (560, 166)], [(420, 230), (430, 190), (470, 166)],
                [(580, 230), (570, 190), (530, 166)], [(405, 280), (402, 230), (430, 186)], [(595, 280), (598, 230), (570, 186)]]  # fmt: skip
        part = None
        bun = R.ellipse(500, 150, 58, 44)
        layer.fill(bun, _hair_paint(look, 105, 195))
        bun_mask = layer.mask(bun)
        _strands(layer, look, bun_mask, [[(450, 150), (480, 122), (530, 118)], [(455, 170), (500, 140), (548, 135)],
                                         [(470, 180), (520, 160), (552, 150)]], alpha=0.45)  # fmt: skip
    elif style == "bob":
        outer = [(384, 528), (368, 470), (366, 380), (372, 290), (392, 222), (436, 172), (500, 155), (564, 172), (608, 222), (628, 290),
                 (634, 380), (632, 470), (616, 528)]  # fmt: skip
        inner = [(598, 520), (606, 450), (604, 360), (598, 285), (582, 262), (545, 268), (505, 266), (465, 270), (428, 266), (405, 280),
                 (398, 360), (396, 450), (402, 520)]  # fmt: skip
        flow = [[(440, 175), (410, 240), (392, 330), (394, 470)], [(560, 175), (590, 240), (608, 330), (606, 470)],
                [(470, 170), (455, 220), (440, 262)], [(520, 168), (530, 220), (545, 264)], [(495, 165), (490, 215), (490, 262)],
                [(420, 200), (385, 300), (380, 420)], [(580, 200), (615, 300), (620, 420)]]  # fmt: skip
        part = None
    else:  # waves: a side parting, the hair falling in waves past the jaw on both sides
        outer = [(392, 660), (372, 600), (376, 520), (366, 440), (370, 350), (382, 270), (408, 205), (456, 163), (515, 152), (572, 168),
                 (612, 212), (630, 280), (634, 360), (626, 440), (636, 520), (630, 600), (610, 664)]  # fmt: skip
        inner = [(596, 650), (606, 590), (600, 520), (598, 440), (604, 340), (598, 270), (576, 232), (540, 214), (505, 212), (470, 224),
                 (440, 250), (418, 292), (404, 350), (398, 440), (402, 520), (396, 590), (404, 652)]  # fmt: skip
        flow = [[(480, 160), (440, 200), (410, 280), (396, 400), (388, 520), (392, 640)], [(500, 158), (560, 185), (600, 250), (612, 360), (616, 520), (612, 640)],
                [(470, 170), (430, 230), (400, 340)], [(520, 165), (575, 200), (606, 300)], [(490, 170), (455, 210), (425, 290), (410, 400)]]  # fmt: skip
        part = None
    shape = R.spline([*outer, *inner], samples=10)
    if style == "curls":
        # A soft, bumpy outline of small curls around the cap.
        bumps = [R.ellipse(x, y, 16, 14) for x, y in R.spline(outer[1:-1], closed=False, samples=4)[1:-1:2]]
        mask = layer.mask(shape, *bumps)
        mask = mask - (layer.mask(R.spline(inner + [(500, 330)], samples=6)) - layer.mask(shape))
    else:
        mask = layer.mask(shape)
    if style in ("crop", "curls"):
        # Short hair lets the skin through at the hairline.
        soft = layer.mask(shape, blur=0.8) if style == "crop" else mask
        layer.fill(soft, _hair_paint(look, 150, 330), alpha=0.97)
        mask = soft
    else:
        layer.fill(mask, _hair_paint(look, 145, 560))
    # The hair's own form: darker away from the light, a sheen where the light falls.
    layer.fill(layer.mask(R.ellipse(600, 260, 60, 140), blur=30), R.shade(hair, -0.6), alpha=0.4, clip=mask)
    layer.fill(layer.mask(R.ellipse(455, 185, 55, 22, angle=-18), blur=12), R.shade(hair, 0.45), alpha=0.35, clip=mask)
    if style == "curls":
        rng = np.random.default_rng(7)
        for x, y in zip(rng.uniform(390, 612, 70), rng.uniform(150, 300, 70)):
            layer.fill(layer.mask(R.ellipse(x, y, 6, 5), blur=1.2), R.shade(hair, 0.35), alpha=0.35, clip=mask)
            layer.fill(layer.mask(R.ellipse(x + 3, y + 4, 5, 3), blur=1.2), R.shade(hair, -0.6), alpha=0.35, clip=mask)
    if style == "crop":
        rng = np.random.default_rng(11)
        for x, y in zip(rng.uniform(395, 605, 160), rng.uniform(165, 300, 160)):
            layer.fill(layer.mask(R.ellipse(x, y, 1.6, 1.1), blur=0.6), R.shade(hair, 0.3), alpha=0.3, clip=mask)
    _strands(layer, look, mask, flow)
    if part is not None:
        layer.fill(layer.mask(R.band(part, [0.6, 1.6, 0.8]), blur=0.8), R.shade(R.hex_color(look.skin), -0.2), alpha=0.5, clip=mask)


def hair_shadow(layer: R.Layer, look: Look, face: R.Mask) -> None:
    """The soft shadow the hair casts on the forehead and temples, drawn before the hair."""
    skin = R.hex_color(look.skin)
    top = {"bob": 272, "waves": 236, "side-part": 226, "crop": 212, "curls": 218, "bun": 214}[look.hair_style]
    layer.fill(layer.mask(R.ellipse(500, top - 8, 120, 26), blur=9), R.shade(skin, -0.6), alpha=0.35, clip=face)


# -- body ----------------------------------------------------------------------------------------------------------

NECK_BASE = 526.0


def shoulder_width(look: Look) -> float:
    """Half the shoulders' width: broader on the square-faced looks."""
    return 290.0 if look.face == "square" else 262.0


def torso_outline(look: Look) -> np.ndarray:
    w, y = shoulder_width(look), NECK_BASE
    half = [(500, y - 4), (446, y), (404, y + 12), (500 - w + 62, y + 30), (500 - w + 20, y + 56), (500 - w + 3, y + 96),
            (500 - w - 6, y + 190), (500 - w - 12, y + 300), (500 - w - 14, 900), (500, 900)]  # fmt: skip
    return R.spline(_ring(half), samples=10)


def draw_body(layer: R.Layer, look: Look) -> R.Mask:
    skin = R.hex_color(look.skin)
    jacket = R.hex_color(look.jacket)
    shirt = R.hex_color(look.shirt)
    y = NECK_BASE
    # Neck: reaches up under the jaw so the head can turn without a gap.
    neck = R.spline(_ring([(500, 400), (450, 405), (446, 470), (440, y), (428, y + 50), (500, y + 60)]), samples=8)
    layer.fill(neck, R.linear((440, 0), (560, 0), [(0, R.shade(skin, -0.08)), (0.6, R.shade(skin, -0.2)), (1, R.shade(skin, -0.42))]))
    neck_mask = layer.mask(neck)
    layer.fill(layer.mask(R.ellipse(500, 468, 80, 46), blur=14), R.shade(skin, -0.7), alpha=0.55, clip=neck_mask)  # under the jaw
    torso = layer.mask(torso_outline(look))
    # The open neckline: skin or the shirt's V, then the jacket around it.
    if look.outfit == "suit-tie":
        layer.fill(R.spline(_ring([(500, y - 8), (454, y - 2), (470, y + 100), (500, y + 196)]), samples=6), _cloth(shirt, y, y + 200))
        _tie(layer, look)
        _collar(layer, shirt, open_=False)
    elif look.outfit == "suit-open":
        layer.fill(R.spline(_ring([(500, y - 8), (452, y - 2), (468, y + 100), (500, y + 200)]), samples=6), _cloth(shirt, y, y + 200))
        layer.fill(R.spline(_ring([(500, y - 4), (466, y), (482, y + 44), (500, y + 72)]), samples=6), R.shade(skin, -0.12))
        layer.fill(layer.mask(R.ellipse(500, y + 18, 22, 16), blur=6), R.shade(skin, -0.5), alpha=0.35)
        _collar(layer, shirt, open_=True)
    elif look.outfit == "blazer-blouse":
        layer.fill(R.spline(_ring([(500, y - 4), (452, y), (464, y + 100), (500, y + 206)]), samples=6), _cloth(shirt, y, y + 220))
        neckline = R.spline(_ring([(500, y - 4), (455, y + 2), (468, y + 34), (485, y + 58), (500, y + 64)]), samples=6)
        layer.fill(neckline, R.shade(skin, -0.1))
        fold = R.spline([(458, y + 16), (478, y + 56), (500, y + 66), (522, y + 56), (542, y + 16)], closed=False)
        layer.fill(layer.mask(R.band(fold, 3.0), blur=1.0), R.shade(shirt, -0.35), alpha=0.5)
        if look.earrings:  # a fine chain with a small pendant goes with the earrings
            chain = R.spline([(466, y + 4), (482, y + 40), (500, y + 50), (518, y + 40), (534, y + 4)], closed=False)
            layer.fill(layer.mask(R.band(chain, 1.3), blur=0.3), (0.86, 0.72, 0.4))
            layer.fill(R.ellipse(500, y + 54, 3.2, 4), (0.9, 0.78, 0.45))
    else:  # blazer-shell: a plain round-necked top
        layer.fill(R.spline(_ring([(500, y + 4), (450, y + 6), (460, y + 100), (500, y + 210)]), samples=6), _cloth(shirt, y, y + 220))
        layer.fill(R.spline(_ring([(500, y), (454, y + 4), (470, y + 22), (500, y + 30)]), samples=6), R.shade(skin, -0.15))
    _jacket(layer, look, torso)
    w = shoulder_width(look)
    layer.fill(layer.mask(R.ellipse(500 - w + 40, y + 60, 44, 20, angle=-35), blur=12), R.shade(jacket, 0.4), alpha=0.35, clip=torso)
    return torso


def _cloth(color: R.Color, top: float, bottom: float) -> R.Paint:
    return R.linear((0, top), (0, bottom), [(0, R.shade(color, -0.12)), (0.3, color), (1, R.shade(color, -0.18))])


def _collar(layer: R.Layer, shirt: R.Color, open_: bool) -> None:
    y = NECK_BASE
    for side in (-1, 1):
        if open_:
            pts = [(CX + side * 48, y - 14), (CX + side * 32, y + 16), (CX + side * 16, y + 58), (CX + side * 36, y + 56), (CX + side * 56, y + 16)]
        else:
            pts = [(CX + side * 50, y - 16), (CX + side * 38, y + 16), (CX + side * 4, y + 46), (CX + side * 28, y + 62), (CX + side * 58, y + 22)]
        wing = R.spline(pts, samples=6)
        layer.fill(layer.mask(wing, blur=3), (0, 0, 0), alpha=0.25)
        layer.fill(wing, R.linear((CX + side * 50, y - 16), (CX, y + 60), [(0, R.shade(shirt, -0.08)), (1, R.shade(shirt, 0.1))]))


def _tie(layer: R.Layer, look: Look) -> None:
    tie = R.hex_color(look.tie)
    y = NECK_BASE
    knot = R.spline([(485, y + 32), (515, y + 32), (508, y + 60), (492, y + 60)], samples=4)
    blade = R.spline([(493, y + 60), (507, y + 60), (519, y + 150), (500, y + 180), (481, y + 150)], samples=5)
    paint = R.linear((470, 0), (530, 0), [(0, R.shade(tie, 0.15)), (1, R.shade(tie, -0.35))])
    layer.fill(blade, paint)
    layer.fill(knot, paint)
    layer.fill(layer.mask(R.ellipse(500, y + 63, 12, 4), blur=2.5), R.shade(tie, -0.7), alpha=0.6)
    stripes = layer.mask(blade)
    for k in range(6):
        yy = y + 72 + 22 * k
        layer.fill(layer.mask(R.band(np.array([[470, yy], [530, yy + 18]]), 2.0), blur=0.6), R.shade(tie, 0.3), alpha=0.35, clip=stripes)


def _jacket(layer: R.Layer, look: Look, torso: R.Mask) -> None:
    jacket = R.hex_color(look.jacket)
    y = NECK_BASE
    w = shoulder_width(look)
    v_depth = y + (200 if look.outfit != "blazer-shell" else 214)
    # The jacket is the torso less the V of the neckline.
    opening = R.spline(_ring([(500, 440), (450, y - 4), (460, y + 60), (484, y + 150), (500, v_depth)]), samples=6)
    body = torso - layer.mask(opening)
    layer.fill(body, R.linear((500 - w, 0), (500 + w, 0), [(0, R.shade(jacket, 0.14)), (0.45, jacket), (1, R.shade(jacket, -0.45))]))
    layer.fill(layer.mask(R.ellipse(500, 900, 300, 90), blur=40), R.shade(jacket, -0.6), alpha=0.4, clip=body)
    # Where the sleeves meet the body: a soft crease on each side.
    for side in (-1, 1):
        crease = R.spline([(CX + side * (w - 46), y + 70), (CX + side * (w - 40), y + 170), (CX + side * (w - 38), y + 300)], closed=False)
        layer.fill(layer.mask(R.band(crease, [1, 4, 6]), blur=4), R.shade(jacket, -0.6), alpha=0.45, clip=body)
    # Lapels: a notch at the collar, the roll line down to the button.
    for side in (-1, 1):
        def sx(x: float) -> float:
            return CX + side * (CX - x)

        lapel = R.spline([(sx(450), y - 4), (sx(430), y + 42), (sx(412), y + 54), (sx(428), y + 66), (sx(446), y + 110), (sx(476), y + 172),
                          (sx(500), v_depth), (sx(486), y + 150), (sx(464), y + 70), (sx(456), y + 20)], samples=4)  # fmt: skip
        tone = R.shade(jacket, 0.08 if side < 0 else -0.28)
        layer.fill(layer.mask(lapel, blur=3), (0, 0, 0), alpha=0.35)
        layer.fill(lapel, tone)
        edge = R.spline([(sx(430), y + 42), (sx(446), y + 110), (sx(476), y + 172), (sx(500), v_depth)], closed=False)
        layer.fill(layer.mask(R.band(edge, 1.4), blur=0.5), R.shade(jacket, 0.4), alpha=0.5)
    # A button, pocket lines, and a pocket square with the suits.
    layer.fill(R.ellipse(500, v_depth + 28, 5, 5), R.shade(jacket, -0.5))
    layer.fill(R.ellipse(499, v_depth + 27, 2, 2), R.shade(jacket, 0.3), alpha=0.6)
    layer.fill(layer.mask(R.band(np.array([[500 - w + 70, y + 150], [500 - w + 140, y + 142]]), 2.0), blur=0.6), R.shade(jacket, -0.5), alpha=0.6)
    pocket = np.array([[500 + w - 150, y + 150], [500 + w - 82, y + 146]])
    if look.outfit in ("suit-tie", "suit-open"):
        px, py = pocket[0]
        square = R.spline([(px + 6, py), (px + 20, py - 14), (px + 32, py - 6), (px + 46, py - 16), (px + 58, py - 2)], samples=3)
        layer.fill(square, (0.95, 0.95, 0.96), alpha=0.95)
        layer.fill(layer.mask(square, blur=2) - layer.mask(square + [0, -3]), (0, 0, 0), alpha=0.25)
    layer.fill(layer.mask(R.band(pocket, 2.0), blur=0.6), R.shade(jacket, -0.5), alpha=0.6)


# -- the desk ------------------------------------------------------------------------------------------------------


def draw_desk(layer: R.Layer, look: Look, torso: np.ndarray) -> None:
    desk = R.hex_color(look.desk)
    accent = R.hex_color(look.accent)
    t = DESK_TOP
    # Where the body meets the desk it is darker (the desk shades it), clipped to the body at rest.
    near = layer.mask(np.array([[150, t - 30], [850, t - 30], [850, t + 60], [150, t + 60]]), blur=12)
    layer.fill(near & layer.mask(torso), (0, 0, 0), alpha=0.45)
    top = np.array([[60, t], [940, t], [962, t + 20], [38, t + 20]])
    front = np.array([[38, t + 20], [962, t + 20], [962, 1000], [38, 1000]])
    layer.fill(layer.mask(np.array([[50, t - 4], [950, t - 4], [966, t + 26], [34, t + 26]]), blur=5), (0, 0, 0), alpha=0.3)
    layer.fill(top, R.linear((0, t), (0, t + 20), [(0, R.shade(desk, 0.62)), (1, R.shade(desk, 0.3))]))
    layer.fill(layer.mask(R.ellipse(420, t + 8, 260, 5), blur=5), (1, 1, 1), alpha=0.35, clip=layer.mask(top))
    layer.fill(front, R.linear((0, t + 20), (0, 1000), [(0, R.shade(desk, 0.12)), (0.35, desk), (1, R.shade(desk, -0.5))]))
    layer.fill(layer.mask(R.band(np.array([[40, t + 21], [960, t + 21]]), 2.2)), R.shade(desk, 0.85), alpha=0.75)
    # A broad soft reflection on the front, and the accent light strip with its glow.
    layer.fill(layer.mask(R.ellipse(330, t + 80, 320, 40), blur=30), (1, 1, 1), alpha=0.08, clip=layer.mask(front))
    ys = t + 62
    strip = np.array([[38, ys], [962, ys], [962, ys + 7], [38, ys + 7]])
    layer.fill(layer.mask(strip, blur=7), accent, alpha=0.55, clip=layer.mask(front))
    layer.fill(strip, R.linear((38, 0), (962, 0), [(0, R.shade(accent, -0.35)), (0.5, R.shade(accent, 0.35)), (1, R.shade(accent, -0.35))]))
