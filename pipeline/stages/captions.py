"""Stage 4, captions: script + narration word times -> timed cues as SRT, WebVTT and styled ASS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..artifacts import Artifact, ArtifactPath
from ..provider import ProgressFn, Provider
from .script import Script
from .voice import Narration


class Cue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float
    end: float
    text: str  # lines joined by "\n"


class Captions(Artifact):
    notes: dict[str, Any] = {}  # provider facts for run.json (alignment score, prompt cuts, ...)
    cues: list[Cue]
    srt: ArtifactPath
    vtt: ArtifactPath
    ass: ArtifactPath

    def exports(self) -> dict[str, Path | bytes]:
        return {"captions.srt": self.srt, "captions.vtt": self.vtt, "captions.ass": self.ass}


class CaptionsProvider(Provider):
    stage = "captions"

    def run(self, *, script: Script, voice: Narration, workdir: Path, progress: ProgressFn) -> Captions:
        raise NotImplementedError
