"""Stage 3, voice: script -> narration audio with a start and end time for every spoken word."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..artifacts import Artifact, ArtifactPath
from ..provider import ProgressFn, Provider
from .script import Script


class WordTiming(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    word: str  # the script's word, punctuation attached as written
    start: float  # seconds from the start of the audio
    end: float
    sentence: int  # index into Script.sentences


class Narration(Artifact):
    notes: dict[str, Any] = {}  # provider facts for run.json (alignment score, prompt cuts, ...)
    path: ArtifactPath  # WAV, mono 16-bit
    duration: float
    sample_rate: int
    words: list[WordTiming] = Field(min_length=1)
    voice: str = ""

    def exports(self) -> dict[str, Path | bytes]:
        return {"narration.wav": self.path}


class VoiceProvider(Provider):
    stage = "voice"

    @classmethod
    def words_per_second(cls, params) -> float:
        """The speaking rate this voice is expected to reach with these parameters; sets the script's word budget."""
        return 2.5

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Narration:
        raise NotImplementedError
