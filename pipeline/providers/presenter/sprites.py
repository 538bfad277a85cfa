"""Presenter provider `sprites`: your own presenter, as one picture per mouth shape.

The folder holds one PNG per mouth shape, all the same size, each the whole presenter (transparent around them):
A.png (M, B, P) B.png (most consonants) C.png (EH, AE) D.png (AA) E.png (AO, ER) F.png (UW, OW, W) are required;
G.png (F, V), H.png (L) and X.png (rest) are optional, and stand in as Rhubarb Lip Sync does when missing (G as A,
H as C, X as A). blink.png, also optional, is drawn over the picture while the eyes are closed (transparent but for
closed eyes). presenter.toml, optional:

    side = "right"        # where the presenter stands: left, right or center
    scale = 0.8           # the pictures' height as a fraction of the video's
    anchor = [256, 480]   # the point the presenter sways around, in picture pixels (default: bottom centre)
    motion = 0.5          # how much it sways while speaking (0 still, 1 like the drawn anchor)

Every problem (a missing or unreadable picture, a size that differs, an unknown key) is found in pre-flight, named
with its file, before any stage runs.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn, ServerPath
from ...stages.presenter import MOUTH_SHAPES, Box, Placement, Presenter, PresenterProvider, Sprites, SpriteLayer
from ...stages.script import Script
from ...stages.voice import Narration
from . import _timeline

REQUIRED = "ABCDEF"
STAND_INS = {"G": "A", "H": "C", "X": "A"}  # Rhubarb Lip Sync's fallbacks for its optional shapes
BLINK = "blink.png"
SETTINGS = "presenter.toml"
HINT = "see `newsreel providers`: one PNG per mouth shape (A.png ... F.png, optional G, H, X and blink.png), same size"


class FolderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    side: Literal["left", "right", "center"] = "right"
    scale: float = Field(0.8, gt=0.0, le=1.0)
    anchor: tuple[float, float] | None = None
    motion: float = Field(0.5, ge=0.0, le=2.0)


class SpritePresenter(PresenterProvider):
    name = "sprites"
    version = "3"  # 2: the jaw follows the narration's loudness; 3: the voice's own phoneme times when it has them
    summary = "your own presenter: a folder of pictures, one per mouth shape (A.png ... F.png), lip-synced"
    needs = Needs(packages=("PIL", "espeakng_loader"))
    run_options = frozenset({"seed", "fps"})

    class Params(Params):
        folder: ServerPath
        seed: int = 0
        fps: int = Field(30, ge=1, le=120)

    def check(self) -> None:
        super().check()
        inspect(Path(self.params.folder))

    def key_params(self) -> dict[str, Any]:
        """The pictures' bytes are in the key, not the folder's path: editing one redraws, moving them does not."""
        key = super().key_params()
        folder = Path(key.pop("folder"))
        digest = hashlib.sha256()
        for path in sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        key["folder_sha256"] = digest.hexdigest()
        return key

    def run(self, *, script: Script, voice: Narration, workdir: Path, progress: ProgressFn) -> Presenter:
        import numpy as np
        from PIL import Image

        from ._phonemes import phonemize

        _timeline.check_word_times(voice)
        folder = Path(self.params.folder)
        found = inspect(folder)
        settings, (width, height) = found["settings"], found["size"]
        dest = Path(workdir) / "sprites"
        dest.mkdir(parents=True, exist_ok=True)
        pictures: dict[str, np.ndarray] = {}
        for shape in MOUTH_SHAPES:
            source = found["shapes"].get(shape) or found["shapes"][STAND_INS[shape]]
            rgba = np.asarray(Image.open(source).convert("RGBA"))
            pictures[shape] = rgba
            Image.fromarray(rgba).save(dest / f"head-{shape}.png", compress_level=3)
        heads = {shape: SpriteLayer(path=dest / f"head-{shape}.png", x=0, y=0) for shape in MOUTH_SHAPES}
        blink = None
        if found["blink"] is not None:
            Image.open(found["blink"]).convert("RGBA").save(dest / "eyes-closed.png", compress_level=3)
            blink = SpriteLayer(path=dest / "eyes-closed.png", x=0, y=0)
        box = _bbox(pictures["X"][..., 3] > 8) or Box(x=0, y=0, width=width, height=height)
        moving = np.zeros((height, width), bool)
        for shape in MOUTH_SHAPES:  # the mouth is where the pictures differ
            moving |= np.abs(pictures[shape].astype(np.int16) - pictures["A"]).max(axis=-1) > 24
        mouth_box = _bbox(moving)
        phonemes = phonemize([w.word for w in voice.words], script.language)
        p = self.params
        timeline, cues, timed = _timeline.timeline(
            voice.words, phonemes.words, voice.duration, p.fps, p.seed, height / 1000, settings.motion,
            audio=voice.path,
            voice_phonemes=voice.phonemes or None,
        )
        if blink is None:  # no eyes-closed picture: the eyes stay open
            timeline = timeline.model_copy(update={"eyes": "o" * timeline.frames})
        pivot = settings.anchor or (width / 2, float(height))
        return Presenter(
            kind="sprites",
            fps=p.fps,
            duration=voice.duration,
            look=folder.name,
            width=width,
            height=height,
            box=box,
            mouth_box=mouth_box,
            placement=Placement(side=settings.side, height=settings.scale),
            sprites=Sprites(heads=heads, eyes_closed=blink, pivot=pivot),
            timeline=timeline,
            notes={
                "look": folder.name,
                "box": box.as_list(),
                "mouth_box": mouth_box.as_list() if mouth_box else None,
                "canvas": [width, height],
                "phonemes": phonemes.voice,
                "mouth_changes": len(cues),
                "phoneme_source": "voice" if voice.phonemes else "estimated",
                "phoneme_times": _timeline.phoneme_notes(timed),
                "stand_ins": {s: STAND_INS[s] for s in STAND_INS if s not in found["shapes"]},
            },
        )


def _bbox(mask) -> Box | None:
    import numpy as np

    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return Box(x=int(cols[0]), y=int(rows[0]), width=int(cols[-1] - cols[0] + 1), height=int(rows[-1] - rows[0] + 1))


def inspect(folder: Path) -> dict[str, Any]:
    """Check a sprite folder without decoding the pictures: which shapes it has, their size, its settings.
    Raises a one-line NewsreelError naming the first problem and its file."""
    from PIL import Image, UnidentifiedImageError

    if not folder.is_dir():
        raise NewsreelError(f"the presenter sprite folder {folder} does not exist", HINT)
    settings = _settings(folder / SETTINGS)
    shapes: dict[str, Path] = {}
    size: tuple[int, int] | None = None
    first = ""
    for name in [*(f"{s}.png" for s in MOUTH_SHAPES), BLINK]:
        path = folder / name
        if not path.is_file():
            if name[0] in REQUIRED and name != BLINK:
                raise NewsreelError(f"the presenter sprite folder has no {path} (mouth shape {name[0]})", HINT)
            continue
        try:
            with Image.open(path) as im:
                fmt, this = im.format, im.size
        except (UnidentifiedImageError, OSError) as exc:
            raise NewsreelError(f"cannot read the presenter sprite {path}: {exc}", "save it as a PNG") from None
        if fmt != "PNG":
            raise NewsreelError(
                f"the presenter sprite {path} is a {fmt}, not a PNG", "save it as a PNG (with transparency)"
            )
        if size is None:
            size, first = this, name
        elif this != size:
            raise NewsreelError(
                f"the presenter sprite {path} is {this[0]}x{this[1]}, but {first} is {size[0]}x{size[1]}",
                "every picture in the folder must be the same size",
            )
        if name != BLINK:
            shapes[name[0]] = path
    assert size is not None  # A.png is required
    if settings.anchor is not None and not (0 <= settings.anchor[0] <= size[0] and 0 <= settings.anchor[1] <= size[1]):
        raise NewsreelError(
            f"{folder / SETTINGS}: anchor {list(settings.anchor)} is outside the {size[0]}x{size[1]} pictures",
            "give the anchor in picture pixels",
        )
    return {
        "shapes": shapes,
        "size": size,
        "blink": folder / BLINK if (folder / BLINK).is_file() else None,
        "settings": settings,
    }


def _settings(path: Path) -> FolderSettings:
    if not path.is_file():
        return FolderSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NewsreelError(f"cannot read {path}: {exc}", "fix its TOML syntax") from None
    try:
        return FolderSettings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        raise NewsreelError(
            f"{path}: bad value for {where}: {err['msg']}", f"its keys are: {', '.join(FolderSettings.model_fields)}"
        ) from None
