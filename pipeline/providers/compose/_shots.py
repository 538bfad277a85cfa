"""The shot list of a video with a presenter: a newscast, not a slideshow.

One shot per sentence, cut where the sentence's first word starts: the anchor in the studio with the scene's
picture in an over-the-shoulder box, then the picture full screen (B-roll) with the voice going on, alternating,
so no shot shows for more than two sentences in a row (here: never two). The intro and outro are not shots (their
cards cover the frame); the last shot keeps the narration's tail.

A studio frame is made once per picture: the picture blurred and darkened behind, the picture itself in a framed
box on the side away from the presenter (above it on a portrait frame). The warp engine copies it on the anchor's
frames and blends the presenter on it; B-roll frames are the usual moving picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...stages.voice import Narration

ANCHOR, BROLL = "anchor", "broll"


@dataclass(frozen=True)
class Shot:
    kind: str
    start: int  # frames, [start, end)
    end: int
    sentences: tuple[int, ...]


def shot_list(voice: Narration, first: int, last: int, fps: int, style: str = "newscast") -> list[Shot]:
    """The shots tiling frames [first, last) (the narration's part of the video; `first` = the intro's frames);
    style "anchor": one shot of the anchor throughout."""
    starts: dict[int, float] = {}
    for w in voice.words:
        starts[w.sentence] = min(starts.get(w.sentence, w.start), w.start)
    cuts: list[tuple[int, int]] = []  # (frame, sentence)
    for sentence in sorted(starts):
        frame = first + round(starts[sentence] * fps)
        if not cuts:
            frame = first
        if cuts and frame <= cuts[-1][0]:
            continue  # a sentence that starts no later than the last: it joins that shot
        if frame < last:
            cuts.append((frame, sentence))
    if not cuts or style == "anchor":
        return [Shot(ANCHOR, first, last, tuple(sorted(starts)))]
    shots = []
    sentences = sorted(starts)
    for k, (frame, sentence) in enumerate(cuts):
        end = cuts[k + 1][0] if k + 1 < len(cuts) else last
        upto = cuts[k + 1][1] if k + 1 < len(cuts) else (sentences[-1] + 1)
        shots.append(Shot(ANCHOR if k % 2 == 0 else BROLL, frame, end, tuple(range(sentence, upto))))
    return shots


def picture_box(width: int, height: int, side: str, face: list[int]) -> list[int]:
    """Where the picture goes in the studio, [x, y, w, h] (even), away from the presenter standing at `side` and
    clear of its `face` box ([x, y, w, h], frame pixels): beside it, or above it on a portrait frame."""
    even = lambda v: int(round(v / 2.0)) * 2
    fx, fy, fw, fh = face
    margin = 0.04 * width
    if height > width * 1.2:  # portrait: the presenter has the lower half
        top = 0.07 * height
        w = even(0.84 * width)
        h = even(max(2, min(w * 9 / 16, 0.4 * height, fy - top - margin)))
        w = even(min(w, h * 16 / 9))
        return [even((width - w) / 2), even(top), w, h]
    room = (fx - 2 * margin) if side != "left" else (width - (fx + fw) - 2 * margin)
    w = even(max(2, min(0.46 * width, room)))
    h = even(w * 9 / 16)
    x = even(margin) if side != "left" else even(width - margin - w)
    return [x, even(0.14 * height), w, h]


def studio(picture: Path, width: int, height: int, box: list[int]) -> Any:
    """The studio frame for `picture` as `_motion.Planes`: a blurred, darkened backdrop, the picture in `box` with a
    thin light frame."""
    import numpy as np
    from PIL import Image, ImageFilter

    from ._motion import Planes, cover, load_rgb

    rgb = load_rgb(picture)
    back = cover(rgb, width // 8 or 1, height // 8 or 1).filter(ImageFilter.GaussianBlur(2))
    back = back.resize((width, height), Image.Resampling.BILINEAR)
    frame = (np.asarray(back, np.float32) * 0.35 + np.array([8, 12, 28], np.float32)).clip(0, 255).astype(np.uint8)
    x, y, w, h = box
    border = max(2, (width // 320) * 2)
    frame[y - border:y + h + border, x - border:x + w + border] = 235
    frame[y:y + h, x:x + w] = np.asarray(cover(rgb, w, h), np.uint8)
    return Planes.from_rgb(np.ascontiguousarray(frame))


class Shots:
    """The shot list with each picture's studio frame (made on first use): what the warp engine asks per frame."""

    def __init__(self, shots: list[Shot], images: list[Path], width: int, height: int, side: str,
                 face: list[int]) -> None:
        self.shots = shots
        self.images = images
        self.width, self.height = width, height
        self.box = picture_box(width, height, side, face)
        self._studios: dict[int, Any] = {}

    def anchor_seconds(self, fps: int) -> list[tuple[float, float]]:
        """[(start, end)] seconds of the anchor's shots."""
        return [(s.start / fps, s.end / fps) for s in self.shots if s.kind == ANCHOR]

    def anchor_at(self, n: int) -> bool:
        return any(s.kind == ANCHOR and s.start <= n < s.end for s in self.shots)

    def studio(self, image: int) -> Any:
        planes = self._studios.get(image)
        if planes is None:
            planes = self._studios[image] = studio(self.images[image], self.width, self.height, self.box)
        return planes

    def notes(self, fps: int, boxes: dict[str, Any]) -> list[dict[str, Any]]:
        """run.json's shot list: kind, start and end seconds, sentences; the anchor's shots with the presenter's
        boxes and the picture's box in frame pixels."""
        out = []
        for s in self.shots:
            entry: dict[str, Any] = {"shot": s.kind, "start": round(s.start / fps, 3), "end": round(s.end / fps, 3),
                                     "sentences": list(s.sentences)}
            if s.kind == ANCHOR:
                entry.update(boxes)
                entry["picture_box"] = self.box
            out.append(entry)
        return out
