"""The presenter on the warp engine's frames: a `sprites` presenter blended onto the I420 planes.

Cheap by construction (a naive RGB compositor measured 6.7-9.7 ms a frame, +60-90 % of compose):
- every sprite layer is scaled to the frame once and converted once to I420 terms (premultiplied colour and
  255 - alpha, at full size for Y and half size for U and V: `_layers.Blend`);
- a head with its eyes is one picture per (mouth shape, eye state) pair, made the first time a frame shows it;
- per frame: at most four small rectangles multiplied and added with OpenCV (back, body, head, front);
- offsets move by whole chroma pixels (2 frame pixels), so a moved layer needs no resampling. The head's small
  turn (`head_angle`) is not drawn: a rotation per frame would cost a warp of the head region.

Placement by frame shape: landscape, the presenter stands at `placement.side`, `placement.height` of the frame
tall, its canvas's bottom on the frame's; portrait, in the lower half, centred; square, at the side, 0.75 of the
frame tall. Wherever the lower third would cover the face (a portrait frame's), the presenter stands higher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...stages.presenter import Box, Presenter
from ._layers import Blend


def _even(v: float) -> int:
    return int(round(v / 2.0)) * 2


@dataclass(frozen=True)
class Frame:
    """Where the presenter's canvas goes on the frame: scale and top-left corner."""

    scale: float
    x: int
    y: int

    def box(self, box: Box) -> list[int]:
        """A canvas box in frame pixels, [x, y, width, height]."""
        return [round(self.x + box.x * self.scale), round(self.y + box.y * self.scale),
                round(box.width * self.scale), round(box.height * self.scale)]


def placement(presenter: Presenter, width: int, height: int, ceiling: float | None = None) -> Frame:
    """Where `presenter` stands on a width x height frame (see the module's doc). `ceiling`: the frame row its
    face must end above (the top of the lower third); a presenter whose face would reach below it stands that much
    higher (on a portrait frame, where the lower third crosses the presenter, its chest goes behind the bar)."""
    cw, ch = presenter.width, presenter.height
    if height > width * 1.2:  # portrait: the lower half
        scale = min(0.5 * height / ch, width / cw)
        x = (width - cw * scale) / 2
    else:
        share = presenter.placement.height if width > height * 1.2 else 0.75
        scale = share * height / ch
        side = presenter.placement.side
        if side == "center":
            x = (width - cw * scale) / 2
        elif side == "left":
            x = 0.0
        else:
            x = width - cw * scale
    y = height - ch * scale
    if ceiling is not None and presenter.box is not None:
        face = face_box(presenter)
        below = y + (face.y + face.height) * scale - ceiling
        if below > 0:
            y = max(-face.y * scale, y - below)  # never so high that the face leaves the frame
    return Frame(scale, _even(x), _even(y))


def face_box(presenter: Presenter) -> Box:
    """The presenter's face (and hair) on its canvas, what captions and graphics must keep clear of: from the top
    of its box to a mouth and a half below the mouth (the chin), seven mouths wide around it (the drawn heads are
    about five mouths wide; the head sways a little). Without a mouth box: the upper half of the box."""
    box, mouth = presenter.box, presenter.mouth_box
    assert box is not None
    if mouth is None:
        return Box(x=box.x, y=box.y, width=box.width, height=box.height // 2)
    bottom = min(box.y + box.height, round(mouth.y + 2.5 * mouth.height))
    centre = mouth.x + mouth.width / 2
    x0 = max(box.x, round(centre - 3.5 * mouth.width))
    x1 = min(box.x + box.width, round(centre + 3.5 * mouth.width))
    return Box(x=x0, y=box.y, width=max(0, x1 - x0), height=max(0, bottom - box.y))


class PresenterLayer:
    """A sprites presenter ready to blend onto frames of width x height at `fps`; its first pose shows at frame
    `first` (after any intro) and it is drawn on frames [first, last); `frame`: where (default: `placement`)."""

    def __init__(self, presenter: Presenter, width: int, height: int, fps: int, first: int = 0,
                 last: int | None = None, frame: Frame | None = None) -> None:
        from PIL import Image

        if presenter.kind != "sprites" or presenter.sprites is None or presenter.timeline is None:
            raise ValueError("PresenterLayer draws sprites presenters only")
        self.presenter = presenter
        self.width, self.height, self.fps = width, height, fps
        self.first, self.last = first, last
        self.frame = frame or placement(presenter, width, height)
        self.timeline = presenter.timeline
        sp = presenter.sprites
        self._images: dict[str, Any] = {}

        def load(layer: Any) -> Any:
            key = str(layer.path)
            if key not in self._images:
                with Image.open(layer.path) as im:
                    self._images[key] = im.convert("RGBA")
            return self._images[key]

        self._load = load
        self.back = self._blend_of([sp.back]) if sp.back is not None else None
        self.body = self._blend_of([sp.body]) if sp.body is not None else None
        self.front = self._blend_of([sp.front]) if sp.front is not None else None
        self._heads: dict[tuple[str, str], Blend] = {}

    def _blend_of(self, layers: list[Any]) -> Blend:
        """Layers (drawn in order) composed on their union box, scaled to the frame, as one Blend at rest."""
        import numpy as np
        from PIL import Image

        ims = [self._load(layer) for layer in layers]
        x0 = min(layer.x for layer in layers)
        y0 = min(layer.y for layer in layers)
        x1 = max(layer.x + im.width for layer, im in zip(layers, ims))
        y1 = max(layer.y + im.height for layer, im in zip(layers, ims))
        canvas = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
        for layer, im in zip(layers, ims):
            canvas.alpha_composite(im, (layer.x - x0, layer.y - y0))
        s, f = self.frame.scale, self.frame
        fx, fy = _even(f.x + x0 * s), _even(f.y + y0 * s)
        w, h = max(2, round(canvas.width * s)), max(2, round(canvas.height * s))
        canvas = canvas.resize((w, h), Image.Resampling.LANCZOS)
        rgba = np.asarray(canvas, dtype=np.uint16)
        alpha = rgba[..., 3:4]
        colour = ((rgba[..., :3] * alpha + 127) // 255).astype(np.uint8)
        return Blend.from_premultiplied(colour, (255 - alpha[..., 0]).astype(np.uint8), fx, fy)

    def _head(self, mouth: str, eyes: str) -> Blend:
        key = (mouth, eyes)
        blend = self._heads.get(key)
        if blend is None:
            sp = self.presenter.sprites
            layers = [sp.heads[mouth]]
            over = {"c": sp.eyes_closed, "h": sp.eyes_half or sp.eyes_closed}.get(eyes)
            if over is not None:
                layers.append(over)
            blend = self._heads[key] = self._blend_of(layers)
        return blend

    def _index(self, n: int) -> int | None:
        if n < self.first or (self.last is not None and n >= self.last):
            return None
        return round((n - self.first) * self.presenter.fps / self.fps)

    def key(self, n: int) -> tuple | None:
        """What frame n shows of the presenter (equal keys draw the same pixels), None when it is not drawn."""
        i = self._index(n)
        if i is None:
            return None
        pose = self.timeline.pose(i)
        s = self.frame.scale
        return (pose.mouth, pose.eyes, _even((pose.head_dx + pose.body_dx) * s),
                _even((pose.head_dy + pose.body_dy) * s), _even(pose.body_dx * s), _even(pose.body_dy * s))

    def composite(self, planes: tuple[Any, Any, Any], n: int) -> None:
        """Draw frame n's presenter onto the I420 planes (Y, U, V), in place."""
        key = self.key(n)
        if key is None:
            return
        mouth, eyes, hx, hy, bx, by = key
        if self.back is not None:
            blend_at(self.back, planes, hx, hy)
        if self.body is not None:
            blend_at(self.body, planes, bx, by)
        blend_at(self._head(mouth, eyes), planes, hx, hy)
        if self.front is not None:
            blend_at(self.front, planes, 0, 0)


def blend_at(blend: Blend, planes: tuple[Any, Any, Any], dx: int, dy: int) -> None:
    """`blend` moved by (dx, dy) (even) onto I420 planes, clipped to them."""
    import cv2

    y_plane = planes[0]
    h, w = blend.keep_y.shape
    x0, y0 = blend.x + dx, blend.y + dy
    ax0, ay0 = max(0, x0), max(0, y0)
    ax1, ay1 = min(y_plane.shape[1], x0 + w), min(y_plane.shape[0], y0 + h)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    for plane, col, keep, d in ((planes[0], blend.col_y, blend.keep_y, 1), (planes[1], blend.col_u, blend.keep_c, 2),
                                (planes[2], blend.col_v, blend.keep_c, 2)):
        px0, py0, px1, py1 = ax0 // d, ay0 // d, ax1 // d, ay1 // d
        sx, sy = px0 - x0 // d, py0 - y0 // d
        region = plane[py0:py1, px0:px1]
        k = keep[sy:sy + py1 - py0, sx:sx + px1 - px0]
        c = col[sy:sy + py1 - py0, sx:sx + px1 - px0]
        cv2.multiply(region, k, dst=region, scale=1.0 / 255.0)
        cv2.add(region, c, dst=region)
