"""The shot list of a video with a presenter: a newscast, not a slideshow.

One shot per sentence, cut where the sentence's first word starts (a cut, not a crossfade: the frames on each side
are stills of different framings), chosen per sentence from three:

- `anchor`: the anchor in the studio with the scene's picture in an over-the-shoulder box;
- `broll`: the picture full screen, moving, with the voice going on;
- `callout`: the anchor with a card in the picture's place showing a figure or a name taken from the sentence (a
  money amount, percentage, number, date, time, else a proper name: `pipeline.grounding.extract`, the same items
  the grounding check looks up) and a few words of the sentence as its label.

The video opens on the anchor; a sentence with an item gets a callout unless the shot before was one; otherwise the
shot alternates between the anchor and the picture (after a callout, the anchor having been on screen, the
picture). So no two shots in a row are the same, well inside the rule of never more than two. A one-sentence
narration is one anchor shot. The intro and outro are not shots (their cards cover the frame); the last shot keeps
the narration's tail.

A studio frame is made once per picture: the picture blurred and darkened behind, the picture itself in a framed
box on the side away from the presenter (above it on a portrait frame); a callout's backdrop is the same without the
box (the card is drawn there by the style's `callout.ass.j2`). The warp engine copies them on the anchor's and the
callouts' frames and blends the presenter on them; B-roll frames are the usual moving picture.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...stages.voice import Narration

ANCHOR, BROLL, CALLOUT = "anchor", "broll", "callout"
# grounding's item kinds a callout shows, most wanted first: a figure before a name; months and weekdays alone say
# too little for a card
CALLOUT_KINDS = ("money", "percent", "number", "date", "time", "name")
LABEL_WORDS = 6  # the most words of the sentence a callout's label keeps
# words a label does not end on (nor start on, when they are the whole start of it): they need what was cut off
EDGE_WORDS = frozenset("""a an the of to in on at by for from with and or but that which who whom whose as is are was
    were be been being will would has have had said says say told this these those its their his her our than""".split())


@dataclass(frozen=True)
class Callout:
    """A callout card's content: `text` as the sentence writes it ("$40 million", "Jane Smith"), `label` a few words
    of the same sentence around it, `kind` grounding's item kind, `sentence` its index."""

    text: str
    label: str
    kind: str
    sentence: int


@dataclass(frozen=True)
class Shot:
    kind: str
    start: int  # frames, [start, end)
    end: int
    sentences: tuple[int, ...]
    callout: Callout | None = None


def callout_for(sentence: str, index: int, context: str | None = None) -> Callout | None:
    """The callout a sentence offers: its first item of the most wanted kind (`CALLOUT_KINDS`), labelled with the
    words after it up to the next punctuation or item (the words before it when fewer than two follow), or None."""
    from ...grounding import extract

    items = [i for i in extract(sentence, context) if i.kind in CALLOUT_KINDS]
    if not items:
        return None
    item = min(items, key=lambda i: (CALLOUT_KINDS.index(i.kind), i.start))
    # grounding works on the NFKC form; the offsets it gives are into that text
    text = unicodedata.normalize("NFKC", sentence)
    begin = text.find(item.text, item.start)
    begin = item.start if begin < 0 else begin
    end = begin + len(item.text)
    others = sorted(i.start for i in items if i is not item)
    stop = next((o for o in others if o >= end), len(text))
    after = re.split(r"[,;:.!?()\u2014\u2013]", text[end:stop], maxsplit=1)[0].split()[:LABEL_WORDS]
    after = _trimmed(after, lead=False)
    words = after
    if len(after) < 2:
        start = max([i.start + len(i.text) for i in items if i is not item and i.start < begin] + [0])
        before = re.split(r"[,;:.!?()\u2014\u2013]", text[start:begin])[-1].split()[-LABEL_WORDS:]
        before = _trimmed(before, lead=True)
        words = before if len(before) > len(after) else after
    label = " ".join(words).strip("\"'\u201c\u201d\u2018\u2019")
    return Callout(text=item.text, label=label, kind=item.kind, sentence=index)


def _trimmed(words: list[str], lead: bool) -> list[str]:
    """`words` without function words at their end (and at their start too when `lead`)."""
    def edge(w: str) -> bool:
        return w.strip("\"'\u201c\u201d\u2018\u2019").casefold() in EDGE_WORDS

    while words and edge(words[-1]):
        words = words[:-1]
    while lead and words and edge(words[0]):
        words = words[1:]
    return words


def choose_kinds(offers: list[bool]) -> list[str]:
    """The kind of each shot, given whether its sentences offer a callout (see the module's doc): the anchor first,
    a callout where offered and the last shot was none, else the anchor and the picture in turn."""
    kinds: list[str] = []
    for k, offered in enumerate(offers):
        last = kinds[-1] if kinds else None
        if k == 0:
            kind = ANCHOR
        elif offered and last != CALLOUT:
            kind = CALLOUT
        elif last == ANCHOR or last == CALLOUT:
            kind = BROLL
        else:
            kind = ANCHOR
        kinds.append(kind)
    return kinds


def shot_list(voice: Narration, first: int, last: int, fps: int, style: str = "newscast",
              callouts: dict[int, Callout] | None = None) -> list[Shot]:
    """The shots tiling frames [first, last) (the narration's part of the video; `first` = the intro's frames);
    `callouts`: what each sentence (by index) offers, see `callout_for`; style "anchor": one shot of the anchor
    throughout."""
    callouts = callouts or {}
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
    sentences = sorted(starts)
    spans = []
    for k, (frame, sentence) in enumerate(cuts):
        end = cuts[k + 1][0] if k + 1 < len(cuts) else last
        upto = cuts[k + 1][1] if k + 1 < len(cuts) else (sentences[-1] + 1)
        spans.append((frame, end, tuple(range(sentence, upto))))
    offers = [next((callouts[i] for i in held if i in callouts), None) for _, _, held in spans]
    kinds = choose_kinds([o is not None for o in offers])
    return [Shot(kind, frame, end, held, offer if kind == CALLOUT else None)
            for kind, offer, (frame, end, held) in zip(kinds, offers, spans)]


def picture_box(width: int, height: int, side: str, face: list[int]) -> list[int]:
    """Where the picture goes in the studio, [x, y, w, h] (even), away from the presenter standing at `side` and
    clear of its `face` box ([x, y, w, h], frame pixels): beside it, or above it on a portrait frame. A callout's
    card takes the same box."""
    even = lambda v: int(round(v / 2.0)) * 2
    fx, fy, fw, fh = face
    margin = 0.04 * width
    if height > width * 1.2:  # portrait: the presenter has the lower half; the box starts below the label and
        top = 0.08 * height + 64 * min(width, height) / 720  # the bug (`_graphics.graphics_layout`: 0.06 h + 64 u)
        w = even(0.84 * width)
        h = even(max(2, min(w * 9 / 16, 0.4 * height, fy - top - margin)))
        w = even(min(w, h * 16 / 9))
        return [even((width - w) / 2), even(top), w, h]
    room = (fx - 2 * margin) if side != "left" else (width - (fx + fw) - 2 * margin)
    w = even(max(2, min(0.46 * width, room)))
    h = even(w * 9 / 16)
    x = even(margin) if side != "left" else even(width - margin - w)
    return [x, even(0.14 * height), w, h]


def studio(picture: Path, width: int, height: int, box: list[int] | None) -> Any:
    """The studio frame for `picture` as `_motion.Planes`: a blurred, darkened backdrop, the picture in `box` with a
    thin light frame (no box: a callout's backdrop, darker still)."""
    import numpy as np
    from PIL import Image, ImageFilter

    from ._motion import Planes, cover, load_rgb

    rgb = load_rgb(picture)
    back = cover(rgb, width // 8 or 1, height // 8 or 1).filter(ImageFilter.GaussianBlur(2))
    back = back.resize((width, height), Image.Resampling.BILINEAR)
    dim = 0.35 if box is not None else 0.25
    frame = (np.asarray(back, np.float32) * dim + np.array([8, 12, 28], np.float32)).clip(0, 255).astype(np.uint8)
    if box is not None:
        x, y, w, h = box
        border = max(2, (width // 320) * 2)
        frame[y - border:y + h + border, x - border:x + w + border] = 235
        frame[y:y + h, x:x + w] = np.asarray(cover(rgb, w, h), np.uint8)
    return Planes.from_rgb(np.ascontiguousarray(frame))


class Shots:
    """The shot list with each picture's studio frame and callout backdrop (made on first use): what the warp
    engine asks per frame."""

    def __init__(self, shots: list[Shot], images: list[Path], width: int, height: int, side: str,
                 face: list[int]) -> None:
        self.shots = shots
        self.images = images
        self.width, self.height = width, height
        self.box = picture_box(width, height, side, face)
        self._starts = [s.start for s in shots]
        self._stills: dict[tuple[str, int], Any] = {}

    def anchor_seconds(self, fps: int) -> list[tuple[float, float]]:
        """[(start, end)] seconds of the shots that show the anchor (its own and the callouts)."""
        return [(s.start / fps, s.end / fps) for s in self.shots if s.kind != BROLL]

    def at(self, n: int) -> Shot | None:
        """The shot frame n is in, or None (the intro, the outro)."""
        k = bisect.bisect_right(self._starts, n) - 1
        if k < 0 or n >= self.shots[k].end:
            return None
        return self.shots[k]

    def anchor_at(self, n: int) -> bool:
        shot = self.at(n)
        return shot is not None and shot.kind != BROLL

    def studio(self, image: int, kind: str = ANCHOR) -> Any:
        """The still under the presenter on a shot of `kind` (anchor or callout) of picture `image`."""
        planes = self._stills.get((kind, image))
        if planes is None:
            box = self.box if kind == ANCHOR else None
            planes = self._stills[(kind, image)] = studio(self.images[image], self.width, self.height, box)
        return planes

    def callouts(self, fps: int) -> list[dict[str, Any]]:
        """The callout shots for the graphics: start and end seconds (frame-exact), text, label, the card's box."""
        return [{"start": s.start / fps, "end": s.end / fps, "text": s.callout.text, "label": s.callout.label,
                 "kind": s.callout.kind, "box": self.box} for s in self.shots if s.callout is not None]

    def notes(self, fps: int, boxes: dict[str, Any]) -> list[dict[str, Any]]:
        """run.json's shot list: kind, start and end seconds, sentences; the shots showing the anchor with the
        presenter's boxes, the anchor's own with the picture's box, the callouts with their text, label and card."""
        out = []
        for s in self.shots:
            entry: dict[str, Any] = {"shot": s.kind, "start": round(s.start / fps, 3), "end": round(s.end / fps, 3),
                                     "sentences": list(s.sentences)}
            if s.kind != BROLL:
                entry.update(boxes)
            if s.kind == ANCHOR:
                entry["picture_box"] = self.box
            if s.callout is not None:
                entry["callout"] = {"text": s.callout.text, "label": s.callout.label, "kind": s.callout.kind,
                                    "sentence": s.callout.sentence, "box": self.box}
            out.append(entry)
        return out
