"""Stage 2, image: script -> one background image per scene."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..artifacts import Artifact, ArtifactPath
from ..provider import ProgressFn, Provider
from .script import Script


class BackgroundImage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: ArtifactPath  # PNG
    width: int
    height: int
    prompt: str = ""
    seed: int | None = None
    notes: dict[str, str] = {}  # provider facts worth keeping (safety checker verdict, cut prompt words, ...)


class Backgrounds(Artifact):
    images: list[BackgroundImage] = Field(min_length=1)  # one per scene, in scene order

    def exports(self) -> dict[str, Path | bytes]:
        out: dict[str, Path | bytes] = {"image.png": self.images[0].path}
        for i, image in enumerate(self.images[1:], start=2):
            out[f"image-{i}.png"] = image.path
        return out


class ImageProvider(Provider):
    stage = "image"

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Backgrounds:
        raise NotImplementedError
