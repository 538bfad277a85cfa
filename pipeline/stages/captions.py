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


TIME_SLACK = 0.01  # seconds: cue times are rounded to milliseconds


def broken_rule(captions: Captions, *, voice: Narration, **_: object) -> str | None:
    """The first rule of the captions contract `captions` breaks, in words, or None: a narration with words gets
    cues; every cue has text, starts no later than it ends, lies inside the narration (0 to its duration), and
    starts no earlier than the cue before it."""
    if voice.words and not captions.cues:
        return f"it made no cues for a narration of {len(voice.words)} words"
    previous = None
    for k, cue in enumerate(captions.cues, start=1):
        if not cue.text.strip():
            return f"cue {k} has no text"
        if not (cue.start <= cue.end):
            return f"cue {k} ends ({cue.end:.3f} s) before it starts ({cue.start:.3f} s)"
        if cue.start < 0 or cue.end > voice.duration + TIME_SLACK:
            return f"cue {k} ({cue.start:.3f}-{cue.end:.3f} s) lies outside the narration (0-{voice.duration:.3f} s)"
        if previous is not None and cue.start < previous.start:
            return f"cue {k} starts at {cue.start:.3f} s, before cue {k - 1} ({previous.start:.3f} s)"
        previous = cue
    return None
