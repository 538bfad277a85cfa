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


def broken_rule(backgrounds: Backgrounds, *, script: Script, **_: object) -> str | None:
    """The first rule of the image contract `backgrounds` breaks, in words, or None: one image per scene of the
    script, each a picture file whose size is the width and height it declares. Cheap: reads image headers only."""
    from PIL import Image, UnidentifiedImageError

    if len(backgrounds.images) != len(script.scenes):
        made, scenes = len(backgrounds.images), len(script.scenes)
        return f"it made {made} images for {scenes} scenes; the contract is one per scene"
    for k, image in enumerate(backgrounds.images, start=1):
        try:
            with Image.open(image.path) as picture:
                size = picture.size
        except (OSError, UnidentifiedImageError) as exc:
            return f"image {k} ({image.path.name}) is not a picture file ({exc})"
        if size != (image.width, image.height):
            said = f"{image.width}x{image.height}"
            return f"image {k} ({image.path.name}) is {size[0]}x{size[1]} pixels, but it says {said}"
    return None
