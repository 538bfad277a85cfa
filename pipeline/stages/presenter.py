"""The presenter stage: script + narration -> a presenter that compose can draw on every frame (or none).

The artifact is built for a cheap compositor. Three kinds:
- `none`: no presenter; compose draws what it always drew.
- `sprites`: a few RGBA PNG layers, rendered once, and a per-frame `Timeline` (mouth shape, eyes, head and body
  offsets) at the run's fps. A frame is at most five pastes of small images, the head's under a small rotation.
- `video`: an RGBA video (e.g. from a neural talking head on a GPU) of the canvas size at `fps`, `duration` long.

Coordinates are canvas pixels: the presenter's own picture (`width` x `height`), which compose scales and places;
`placement` says where it goes in a default shot. Mouth shapes are the Preston Blair set that Rhubarb Lip Sync uses:
A closed (M, B, P), B slightly open with clenched teeth (most consonants), C open (EH, AE), D wide open (AA),
E slightly rounded (AO, ER), F puckered (UW, OW, W), G upper teeth on the lower lip (F, V), H tongue raised (L),
X rest.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..artifacts import Artifact, ArtifactPath
from ..provider import ProgressFn, Provider
from .script import Script
from .voice import Narration

MOUTH_SHAPES = "ABCDEFGHX"
EYE_STATES = "ohc"  # open, half closed, closed


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(_Model):
    """A rectangle in canvas pixels."""

    x: int
    y: int
    width: int = Field(ge=0)
    height: int = Field(ge=0)

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.width, self.height]


class SpriteLayer(_Model):
    path: ArtifactPath  # RGBA PNG
    x: int  # where its top-left corner goes on the canvas, in the rest pose
    y: int


class Sprites(_Model):
    """The layers of a `sprites` presenter, in drawing order: back, body, head (by mouth shape), eyes, front.

    The head layers (back, heads, eyes) move by the body's offset plus the head's own, turned by the head's angle
    around `pivot`; the body layer moves by the body's offset; `front` (a desk) never moves.
    """

    back: SpriteLayer | None = None  # behind the body, moves with the head (long hair over the shoulders)
    body: SpriteLayer | None = None  # None when each head picture is the whole presenter (a user's sprite set)
    heads: dict[str, SpriteLayer]  # one per mouth shape in MOUTH_SHAPES, eyes open
    eyes_closed: SpriteLayer | None = None  # drawn over the head while the eyes are closed
    eyes_half: SpriteLayer | None = None  # ... while half closed (the closed layer stands in when absent)
    front: SpriteLayer | None = None
    pivot: tuple[float, float]  # the head's turning point (the neck), canvas pixels

    @model_validator(mode="after")
    def _every_shape(self) -> "Sprites":
        if sorted(self.heads) != sorted(MOUTH_SHAPES):
            got = "".join(sorted(self.heads))
            raise ValueError(f"heads must have exactly the mouth shapes {MOUTH_SHAPES}, got {got}")
        return self


class Pose(_Model):
    """What one frame shows."""

    mouth: str
    eyes: str
    head_dx: float
    head_dy: float
    head_angle: float  # degrees, positive turns clockwise on screen
    body_dx: float
    body_dy: float


class Timeline(_Model):
    """One value per frame for each track, frame i showing the instant i / fps. Columns, not rows: 60 s at 30 fps
    is 1800 frames, and a column of floats is what a compositor indexes."""

    mouth: str  # one letter of MOUTH_SHAPES per frame
    eyes: str  # one letter of EYE_STATES per frame
    head_dx: list[float]  # canvas pixels
    head_dy: list[float]
    head_angle: list[float]  # degrees
    body_dx: list[float]
    body_dy: list[float]

    @model_validator(mode="after")
    def _consistent(self) -> "Timeline":
        n = len(self.mouth)
        tracks = ("eyes", "head_dx", "head_dy", "head_angle", "body_dx", "body_dy")
        lengths = {len(getattr(self, name)) for name in tracks}
        if lengths != {n}:
            raise ValueError(f"every track needs {n} frames (one per mouth letter)")
        if set(self.mouth) - set(MOUTH_SHAPES):
            raise ValueError(f"mouth letters must be among {MOUTH_SHAPES}")
        if set(self.eyes) - set(EYE_STATES):
            raise ValueError(f"eye letters must be among {EYE_STATES}")
        return self

    @property
    def frames(self) -> int:
        return len(self.mouth)

    def pose(self, frame: int) -> Pose:
        """The pose of `frame`; frames past either end hold the nearest one."""
        i = min(max(frame, 0), self.frames - 1)
        return Pose(
            mouth=self.mouth[i],
            eyes=self.eyes[i],
            head_dx=self.head_dx[i],
            head_dy=self.head_dy[i],
            head_angle=self.head_angle[i],
            body_dx=self.body_dx[i],
            body_dy=self.body_dy[i],
        )


class Placement(_Model):
    """Where the presenter stands in a default shot (compose may direct other shots)."""

    side: Literal["left", "right", "center"] = "right"
    height: float = Field(0.9, gt=0.0, le=1.0)  # the canvas's height as a fraction of the frame's


class Presenter(Artifact):
    notes: dict[str, Any] = {}  # provider facts for run.json (look, boxes, phoneme language, ...)
    kind: Literal["none", "sprites", "video"]
    fps: int = Field(gt=0)
    duration: float = Field(ge=0.0)  # seconds, the narration's
    look: str = ""  # which presenter ("anchor" look name, a sprite folder's name)
    width: int = Field(0, ge=0)  # the canvas, pixels
    height: int = Field(0, ge=0)
    box: Box | None = None  # the visible presenter on the canvas
    mouth_box: Box | None = None  # the mouth on the canvas, in the rest pose
    placement: Placement = Placement()
    sprites: Sprites | None = None
    timeline: Timeline | None = None
    video: ArtifactPath | None = None  # kind "video": RGBA video, canvas-sized, at fps

    @model_validator(mode="after")
    def _kind_has_its_parts(self) -> "Presenter":
        if self.kind == "sprites" and (self.sprites is None or self.timeline is None):
            raise ValueError("a sprites presenter needs sprites and a timeline")
        if self.kind == "video" and self.video is None:
            raise ValueError("a video presenter needs its video")
        if self.kind != "none" and (self.width <= 0 or self.height <= 0 or self.box is None):
            raise ValueError("a presenter needs its canvas size and box")
        return self

    @classmethod
    def nobody(cls, fps: int, duration: float) -> "Presenter":
        """The artifact that says: no presenter."""
        return cls(kind="none", fps=fps, duration=duration)

    def exports(self) -> dict[str, Path | bytes]:
        return {}  # compose draws it; nothing of its own goes to the run folder


class PresenterProvider(Provider):
    stage = "presenter"

    def provenance(self) -> dict[str, Any]:
        """`ai_element`: what this presenter is, for the manifest's list of AI-generated elements (listed only when
        compose reports drawing it, with the look it drew). The default is the first clause of the provider's
        summary; a provider says it better by overriding this."""
        words = re.split(r"[,;(]", self.summary or "", maxsplit=1)[0].strip() or self.name
        return {"ai_element": {"element": "presenter", "description": words}}

    def run(self, *, script: Script, voice: Narration, workdir: Path, progress: ProgressFn) -> Presenter:
        raise NotImplementedError


def broken_rule(presenter: Presenter, *, voice: Narration, **_: object) -> str | None:
    """The presenter contract: it lasts as long as the narration, and a sprites timeline has one pose per frame of
    it (compose indexes the timeline by frame, so a short one would freeze the anchor mid-word)."""
    if abs(presenter.duration - voice.duration) > 0.1:
        return f"it lasts {presenter.duration:.2f} s, the narration {voice.duration:.2f} s"
    if presenter.kind == "sprites" and presenter.timeline is not None:
        needed = round(voice.duration * presenter.fps)
        if presenter.timeline.frames < needed:
            return f"its timeline has {presenter.timeline.frames} frames, the narration needs {needed} at {presenter.fps} fps"
    return None
