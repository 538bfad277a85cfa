"""Stage 5, compose: script, backgrounds, narration and captions -> the finished MP4."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..artifacts import Artifact, ArtifactPath
from ..provider import ProgressFn, Provider
from .captions import Captions
from .image import Backgrounds
from .presenter import Presenter
from .script import Script
from .voice import Narration


class Video(Artifact):
    notes: dict[str, Any] = {}  # provider facts for run.json (alignment score, prompt cuts, ...)
    path: ArtifactPath  # MP4, H.264 + AAC
    duration: float
    width: int
    height: int
    fps: int
    poster: ArtifactPath | None = None  # JPEG frame
    thumbnail: ArtifactPath | None = None  # small JPEG (320 px wide)

    def exports(self) -> dict[str, Path | bytes]:
        out: dict[str, Path | bytes] = {"video.mp4": self.path}
        if self.poster is not None:
            out["poster.jpg"] = self.poster
        if self.thumbnail is not None:
            out["thumbnail.jpg"] = self.thumbnail
        return out


class Reveal(BaseModel):
    """The reveal end card's text (built by pipeline/reveal.py), which a compose provider draws after the narration
    when the run asks for it: a heading, the statements, and the invented details under their heading. A provider
    that cannot draw it has no `reveal` argument in `run()`, and the runner refuses the run rather than drop it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    heading: str = "How this clip was made"
    lines: list[str]  # "Made by AI in 12 seconds on a computer, at no cost.", "Script: ...", "Pictures: ...", ...
    invented_heading: str  # "Invented (not in the source):", or "Every fact appeared in the source." with none
    invented: list[str] = []  # the grounding check's ungrounded items, all of them
    seconds: int  # the N of "in N seconds" (pipeline/reveal.py says what it counts)
    at_no_cost: bool = False
    sourced: bool = False
    language: str = "en"  # the script's: invented items are drawn in the font of their writing system

    def text_lines(self) -> list[str]:
        """The whole card as lines of text, every invented item included (run.json's `reveal.lines`)."""
        return [self.heading, *self.lines, self.invented_heading, *(f"\u2022 {item}" for item in self.invented)]


class ComposeProvider(Provider):
    stage = "compose"

    def run(
        self,
        *,
        script: Script,
        image: Backgrounds,
        voice: Narration,
        captions: Captions,
        presenter: Presenter | None = None,  # None or kind none: no presenter (older callers pass none)
        reveal: Reveal | None = None,  # the end card to draw after the narration, when the run asks for one
        workdir: Path,
        progress: ProgressFn,
    ) -> Video:
        raise NotImplementedError


TIME_SLACK = 0.1  # seconds: a video's length is whole frames and whole audio packets


def broken_rule(video: Video, *, voice: Narration, **_: object) -> str | None:
    """The first rule of the compose contract `video` breaks, in words, or None: the video file has bytes, its
    duration is positive and holds the whole narration, and its frame size and rate are positive. Cheap: no probe
    (the file's size and the declared numbers only)."""
    if video.path.stat().st_size == 0:
        return f"its video file {video.path.name} is empty"
    if not (math.isfinite(video.duration) and video.duration > 0):
        return f"its duration is {video.duration} s; a video lasts a positive number of seconds"
    if video.duration < voice.duration - TIME_SLACK:
        return f"the video ({video.duration:.2f} s) is shorter than its narration ({voice.duration:.2f} s)"
    if min(video.width, video.height, video.fps) <= 0:
        return f"its frame is {video.width}x{video.height} at {video.fps} fps; all three must be positive"
    return None
