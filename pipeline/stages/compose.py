"""Stage 5, compose: script, backgrounds, narration and captions -> the finished MP4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..artifacts import Artifact, ArtifactPath
from ..provider import ProgressFn, Provider
from .captions import Captions
from .image import Backgrounds
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
        workdir: Path,
        progress: ProgressFn,
    ) -> Video:
        raise NotImplementedError
