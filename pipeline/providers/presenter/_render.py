"""Render one look of the drawn anchor into its sprite layers (numpy RGBA images and where they go)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...stages.presenter import MOUTH_SHAPES
from . import _face, _figure, _hair, _mouth
from . import _raster as R
from ._looks import Look

HALF_CLOSED = 0.55  # how far the upper lid comes down on the half-closed frame of a blink
# What a mouth shape can repaint (design units): the lips, their shadows, the philtrum, a mustache.
MOUTH_REGION = (_face.MOUTH[0] - 62, _face.MOUTH[1] - 48, _face.MOUTH[0] + 62, _face.MOUTH[1] + 78)


@dataclass(frozen=True)
class Image:
    rgba: np.ndarray  # straight alpha, uint8, (h, w, 4)
    x: int  # its top-left on the canvas
    y: int


@dataclass(frozen=True)
class Rendered:
    size: int  # the canvas is size x size pixels
    layers: dict[str, Image]  # back, body, head-A .. head-X, eyes-closed, eyes-half, front
    pivot: tuple[float, float]
    box: tuple[int, int, int, int]  # x, y, width, height of the presenter at rest
    mouth_box: tuple[int, int, int, int]


def render(look: Look, size: int) -> Rendered:
    k = size / 1000.0
    layers: dict[str, Image] = {}

    def keep(name: str, layer: R.Layer) -> None:
        rgba, x, y = layer.image()
        layers[name] = Image(rgba, x, y)

    back = R.Layer(_figure.BACK_BOX, k, supersample=1)
    _hair.draw_back(back, look)
    keep("back", back)
    body = R.Layer(_figure.BODY_BOX, k, supersample=1)
    _figure.draw_body(body, look)
    keep("body", body)
    head = R.Layer(_face.HEAD_BOX, k)
    face = _face.draw_head(head, look)
    _hair.shadow(head, look, face)
    _hair.draw_front(head, look)
    _face.accessories(head, look)
    # Each mouth repaints only the mouth's neighbourhood: drawn on a copy of that region, pasted into the head.
    base, bx, by = head.image(crop=False)
    heads = {}
    for shape in MOUTH_SHAPES:
        part = head.region(MOUTH_REGION)
        _mouth.draw_mouth(part, look, shape, part.moved_here(face, head))
        patch, x, y = part.image(crop=False)
        rgba = base.copy()
        h, w = patch.shape[:2]
        rgba[y - by : y - by + h, x - bx : x - bx + w] = patch
        heads[shape] = rgba
    # One crop for all of them (what any shape paints), so every head sits at the same place.
    painted = np.logical_or.reduce([rgba[..., 3] > 0 for rgba in heads.values()])
    rows, cols = np.flatnonzero(painted.any(axis=1)), np.flatnonzero(painted.any(axis=0))
    for shape, rgba in heads.items():
        crop = rgba[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        layers[f"head-{shape}"] = Image(np.ascontiguousarray(crop), bx + int(cols[0]), by + int(rows[0]))
    for name, drop in (("eyes-closed", 1.0), ("eyes-half", HALF_CLOSED)):
        keep(name, _face.eyelids(look, k, drop))
    front = R.Layer(_figure.FRONT_BOX, k, supersample=1)
    _figure.draw_desk(front, look, _figure.torso_outline(look))
    keep("front", front)
    return Rendered(size, layers, (_face.PIVOT[0] * k, _face.PIVOT[1] * k), _box(layers, size), _mouth_box(layers))


def _mouth_box(layers: dict[str, Image]) -> tuple[int, int, int, int]:
    """Where the head pictures differ between mouth shapes: everything a mouth change repaints."""
    rest = layers["head-X"]
    changed = np.zeros(rest.rgba.shape[:2], bool)
    for shape in MOUTH_SHAPES:
        im = layers[f"head-{shape}"]
        assert (im.x, im.y, im.rgba.shape) == (rest.x, rest.y, rest.rgba.shape)  # one head, only the mouth differs
        changed |= np.abs(im.rgba.astype(np.int16) - rest.rgba).max(axis=-1) > 2
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    return rest.x + int(cols[0]), rest.y + int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def _box(layers: dict[str, Image], size: int) -> tuple[int, int, int, int]:
    """The bounding box of everything drawn at rest (with the rest mouth)."""
    covered = np.zeros((size, size), bool)
    for name in ("back", "body", "head-X", "front"):
        im = layers[name]
        h, w = im.rgba.shape[:2]
        x0, y0 = max(im.x, 0), max(im.y, 0)
        x1, y1 = min(im.x + w, size), min(im.y + h, size)
        covered[y0:y1, x0:x1] |= im.rgba[y0 - im.y : y1 - im.y, x0 - im.x : x1 - im.x, 3] > 8
    rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def composite(rendered: Rendered, mouth: str = "X", eyes: str = "o") -> np.ndarray:
    """The whole presenter at rest, as one straight-alpha RGBA image (for previews and contact sheets)."""
    size = rendered.size
    out = np.zeros((size, size, 4), np.float32)
    names = ["back", "body", f"head-{mouth}"]
    if eyes != "o":
        names.append("eyes-closed" if eyes == "c" else "eyes-half")
    names.append("front")
    for name in names:
        im = rendered.layers[name]
        src = im.rgba.astype(np.float32) / 255.0
        h, w = src.shape[:2]
        x0, y0 = max(im.x, 0), max(im.y, 0)
        x1, y1 = min(im.x + w, size), min(im.y + h, size)
        s = src[y0 - im.y : y1 - im.y, x0 - im.x : x1 - im.x]
        d = out[y0:y1, x0:x1]
        a = s[..., 3:]
        d[..., :3] = s[..., :3] * a + d[..., :3] * (1 - a)
        d[..., 3:] = a + d[..., 3:] * (1 - a)
    rgb = np.where(out[..., 3:] > 1e-6, out[..., :3] / np.maximum(out[..., 3:], 1e-6), 0)
    return (np.clip(np.concatenate([rgb, out[..., 3:]], axis=-1), 0, 1) * 255 + 0.5).astype(np.uint8)
