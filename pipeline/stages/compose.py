"""Stage 5, compose: script, backgrounds, narration and captions -> the finished MP4."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
