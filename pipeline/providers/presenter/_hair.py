"""The anchor's hair: six styles, each an outline (its outer edge, then its hairline), strands along its flow, and
for long styles the part that falls behind the neck (the back layer, which moves with the head behind the body)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _raster as R
from ._face import ring
from ._looks import Look

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class Style:
    outer: Points  # the outer edge, from the left temple over the top
    inner: Points  # the hairline, back from the right temple
    flow: list[Points]  # strands
    hairline: float  # y where it shades the forehead
    part: Points | None = None  # a parting line
    back: Points | None = None  # left half of the hair behind the neck, top middle to bottom middle


# fmt: off
STYLES: dict[str, Style] = {
    "side-part": Style(
        outer=[(398, 335), (388, 290), (388, 232), (404, 190), (440, 158), (492, 142), (550, 145), (595, 168),
               (617, 208), (618, 262), (612, 330)],
        inner=[(603, 318), (603, 262), (590, 226), (560, 210), (520, 206), (478, 210), (445, 218), (418, 236),
               (405, 270), (405, 318)],
        flow=[[(462, 150), (440, 180), (415, 230)], [(480, 152), (520, 170), (590, 210)],
              [(470, 158), (500, 185), (570, 212)], [(455, 160), (430, 200), (410, 260)],
              [(490, 150), (540, 162), (600, 190)]],
        hairline=226, part=[(465, 146), (458, 175), (452, 206)],
    ),
    "crop": Style(
        outer=[(398, 318), (393, 262), (400, 214), (428, 180), (470, 163), (530, 163), (572, 180), (600, 214),
               (607, 262), (602, 318)],
        inner=[(598, 305), (598, 256), (586, 222), (552, 203), (500, 198), (448, 203), (414, 222), (402, 256),
               (402, 305)],
        flow=[], hairline=212,
    ),
    "curls": Style(
        outer=[(400, 304), (388, 262), (392, 212), (416, 175), (460, 150), (500, 145), (540, 150), (584, 175),
               (608, 212), (612, 262), (600, 304)],
        inner=[(598, 305), (598, 258), (582, 225), (545, 210), (500, 206), (455, 210), (418, 225), (402, 258),
               (402, 305)],
        flow=[], hairline=218,
    ),
    "bun": Style(
        outer=[(398, 318), (390, 262), (396, 214), (424, 178), (468, 160), (532, 160), (576, 178), (604, 214),
               (610, 262), (602, 318)],
        inner=[(598, 300), (596, 250), (578, 218), (540, 202), (500, 205), (460, 202), (422, 218), (404, 250),
               (402, 300)],
        flow=[[(500, 206), (470, 180), (440, 166)], [(500, 206), (530, 180), (560, 166)],
              [(420, 230), (430, 190), (470, 166)], [(580, 230), (570, 190), (530, 166)],
              [(405, 280), (402, 230), (430, 186)], [(595, 280), (598, 230), (570, 186)]],
        hairline=214,
    ),
    "bob": Style(
        outer=[(384, 528), (368, 470), (366, 380), (372, 290), (392, 222), (436, 172), (500, 155), (564, 172),
               (608, 222), (628, 290), (634, 380), (632, 470), (616, 528)],
        inner=[(598, 520), (606, 450), (604, 360), (598, 285), (582, 262), (545, 268), (505, 266), (465, 270),
               (428, 266), (405, 280), (398, 360), (396, 450), (402, 520)],
        flow=[[(440, 175), (410, 240), (392, 330), (394, 470)], [(560, 175), (590, 240), (608, 330), (606, 470)],
              [(470, 170), (455, 220), (440, 262)], [(520, 168), (530, 220), (545, 264)],
              [(495, 165), (490, 215), (490, 262)], [(420, 200), (385, 300), (380, 420)],
              [(580, 200), (615, 300), (620, 420)]],
        hairline=272,
        back=[(500, 150), (430, 160), (382, 215), (366, 300), (364, 400), (368, 480), (386, 528), (420, 540),
              (500, 536)],
    ),
    "waves": Style(  # a side parting, the hair falling past the jaw and over the shoulders
        outer=[(392, 660), (372, 600), (376, 520), (366, 440), (370, 350), (382, 270), (408, 205), (456, 163),
               (515, 152), (572, 168), (612, 212), (630, 280), (634, 360), (626, 440), (636, 520), (630, 600),
               (610, 664)],
        inner=[(596, 650), (606, 590), (600, 520), (598, 440), (604, 340), (598, 270), (576, 232), (540, 214),
               (505, 212), (470, 224), (440, 250), (418, 292), (404, 350), (398, 440), (402, 520), (396, 590),
               (404, 652)],
        flow=[[(480, 160), (440, 200), (410, 280), (396, 400), (388, 520), (392, 640)],
              [(500, 158), (560, 185), (600, 250), (612, 360), (616, 520), (612, 640)],
              [(470, 170), (430, 230), (400, 340)], [(520, 165), (575, 200), (606, 300)],
              [(490, 170), (455, 210), (425, 290), (410, 400)]],
        hairline=236,
        back=[(500, 150), (425, 160), (378, 215), (360, 310), (352, 420), (340, 520), (350, 610), (330, 680),
              (372, 720), (430, 700), (500, 690)],
    ),
}
BUN_STRANDS = [[(450, 150), (480, 122), (530, 118)], [(455, 170), (500, 140), (548, 135)],
               [(470, 180), (520, 160), (552, 150)]]
BACK_STRANDS = [[(380, 300), (368, 420), (372, 520)], [(620, 300), (632, 420), (628, 520)],
                [(395, 320), (380, 450), (360, 600)], [(605, 320), (620, 450), (640, 600)]]
# fmt: on


def _paint(look: Look, top: float, bottom: float) -> R.Paint:
    hair = R.hex_color(look.hair)
    # Dark hair shines cool (the studio's light), lighter hair in its own colour.
    sheen = R.shade(hair, 0.28) if sum(hair) > 0.5 else R.mix(hair, (0.52, 0.56, 0.64), 0.28)
    stops = [(0, R.shade(hair, 0.05)), (0.12, sheen), (0.3, hair), (1, R.shade(hair, -0.45))]
    return R.linear((0, top), (0, bottom), stops)


def _strands(layer: R.Layer, look: Look, clip: R.Mask, curves: list[Points], alpha: float = 0.35) -> None:
    """Light strands along the hair's flow, and darker ones between them: hair reads as hair, not a helmet."""
    hair = R.hex_color(look.hair)
    light, dark = R.shade(hair, 0.35 if sum(hair) > 0.5 else 0.22), R.shade(hair, -0.5)
    for i, pts in enumerate(curves):
        strand = R.band(R.spline(pts, closed=False, samples=10), [0.5, 2.2, 1.6, 0.4])
        layer.soft(strand, 0.9, light if i % 2 == 0 else dark, alpha, clip)


def draw_back(layer: R.Layer, look: Look) -> None:
    """Hair that falls behind the neck and shoulders."""
    style = STYLES[look.hair_style]
    if style.back is None:
        return
    mask = layer.mask(R.spline(ring(style.back)))
    layer.fill(mask, _paint(look, 150, 720))
    layer.soft(R.ellipse(500, 520, 110, 160), 30, R.shade(R.hex_color(look.hair), -0.8), 0.55, mask)  # behind the neck
    _strands(layer, look, mask, BACK_STRANDS)


def shadow(layer: R.Layer, look: Look, face: R.Mask) -> None:
    """The soft shadow the hair casts on the forehead, drawn before the hair."""
    y = STYLES[look.hair_style].hairline - 8
    layer.soft(R.ellipse(500, y, 120, 26), 9, R.shade(R.hex_color(look.skin), -0.6), 0.35, face)


def draw_front(layer: R.Layer, look: Look) -> None:
    name, style = look.hair_style, STYLES[look.hair_style]
    hair = R.hex_color(look.hair)
    if name == "bun":  # the bun sits behind the cap
        bun = R.ellipse(500, 150, 58, 44)
        layer.fill(bun, _paint(look, 105, 195))
        _strands(layer, look, layer.mask(bun), BUN_STRANDS, alpha=0.45)
    shape = R.spline([*style.outer, *style.inner], samples=10)
    if name == "curls":  # a bumpy edge of small curls, none reaching below the hairline
        edge = R.spline(style.outer[1:-1], closed=False, samples=4)[1:-1:2]
        mask = layer.mask(shape, *[R.ellipse(x, y, 16, 14) for x, y in edge])
        mask = mask - (layer.mask(R.spline(style.inner + [(500, 330)], samples=6)) - layer.mask(shape))
    elif name == "crop":  # short hair lets the skin through at the hairline
        mask = layer.mask(shape, blur=0.8)
    else:
        mask = layer.mask(shape)
    short = name in ("crop", "curls")
    layer.fill(mask, _paint(look, 150, 330) if short else _paint(look, 145, 560), alpha=0.97 if short else 1.0)
    # The hair's own form: darker away from the light, a sheen where the light falls.
    layer.soft(R.ellipse(600, 260, 60, 140), 30, R.shade(hair, -0.6), 0.4, mask)
    layer.soft(R.ellipse(455, 185, 55, 22, angle=-18), 12, R.shade(hair, 0.45), 0.35, mask)
    rng = np.random.default_rng(7)  # texture: the same every time
    if name == "curls":
        for x, y in zip(rng.uniform(390, 612, 70), rng.uniform(150, 300, 70)):
            layer.soft(R.ellipse(x, y, 6, 5), 1.2, R.shade(hair, 0.35), 0.35, mask)
            layer.soft(R.ellipse(x + 3, y + 4, 5, 3), 1.2, R.shade(hair, -0.6), 0.35, mask)
    if name == "crop":
        for x, y in zip(rng.uniform(395, 605, 160), rng.uniform(165, 300, 160)):
            layer.soft(R.ellipse(x, y, 1.6, 1.1), 0.6, R.shade(hair, 0.3), 0.3, mask)
    _strands(layer, look, mask, style.flow)
    if style.part is not None:
        parting = R.band(R.spline(style.part, closed=False), [0.6, 1.6, 0.8])
        layer.soft(parting, 0.8, R.shade(R.hex_color(look.skin), -0.2), 0.5, mask)
