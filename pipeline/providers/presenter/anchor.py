"""Presenter provider `anchor`: a news anchor drawn by code, lip-synced to the narration.

Six looks (faces, skin tones, hair, outfits; `look` by name, or chosen by the seed). A look is drawn once per
canvas size into sprite layers (hair behind, body, one head per mouth shape, eyelids, the desk) and kept in the
models folder, so later runs only copy them. The timeline comes from the narration's word times and sound: each
word is phonemised by espeak-ng, its phonemes placed inside its time on the narration's loudness (vowels where it is
loud), mapped to mouth shapes (`_visemes`) whose jaw opens with the loudness, with blinks and a little head and
shoulder motion (`_timeline`).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn
from ...stages.presenter import MOUTH_SHAPES, Box, Placement, Presenter, PresenterProvider, Sprites, SpriteLayer
from ...stages.script import Script
from ...stages.voice import Narration
from . import _timeline
from ._looks import LOOKS, look_names

AUTO = "auto"
MAX_CANVAS = 1080


class AnchorPresenter(PresenterProvider):
    name = "anchor"
    version = "3"  # the timeline's (2: the jaw follows the narration's loudness; 3: the voice's own phoneme times)
    drawing = "1"  # bump when the drawing changes: the models folder keeps sprites per drawing version
    summary = f"a news anchor drawn by code, lip-synced to the narration ({len(LOOKS)} looks)"
    needs = Needs(packages=("numpy", "cv2", "PIL", "espeakng_loader"))
    run_options = frozenset({"seed", "fps", "width", "height"})

    class Params(Params):
        look: str = AUTO  # a look's name, or "auto": one chosen by the seed
        seed: int = 0
        fps: int = Field(30, ge=1, le=120)
        width: int = Field(1280, ge=64, le=7680)  # the video frame, to size the drawing
        height: int = Field(720, ge=64, le=7680)
        size: int | None = Field(None, ge=64, le=2160)  # canvas pixels (square); default: the frame's shorter side
        side: Literal["left", "right", "center"] = "right"
        motion: float = Field(1.0, ge=0.0, le=2.0)  # how much the head moves while speaking

    @classmethod
    def parse_params(cls, raw: dict[str, Any]) -> Params:
        look = raw.get("look", AUTO)
        if look != AUTO and look not in LOOKS:
            raise NewsreelError(
                f"presenter provider 'anchor' has no look {look!r}", f"looks are: {', '.join(look_names())} (or auto)"
            )
        return super().parse_params(raw)

    @classmethod
    def param_choices(cls) -> dict[str, list[str]]:
        return {"look": [AUTO, *look_names()]}

    def look_name(self) -> str:
        names = look_names()
        return self.params.look if self.params.look != AUTO else names[self.params.seed % len(names)]

    def canvas_size(self) -> int:
        p = self.params
        return p.size or min(min(p.width, p.height), MAX_CANVAS)

    def key_params(self) -> dict[str, Any]:
        key = super().key_params()
        key["look"] = self.look_name()  # "auto" and the name it picks are the same work
        return key

    def run(self, *, script: Script, voice: Narration, workdir: Path, progress: ProgressFn) -> Presenter:
        from ._phonemes import phonemize

        _timeline.check_word_times(voice)
        look, size, p = self.look_name(), self.canvas_size(), self.params
        progress(0.0, f"drawing {look}")
        layers, meta = self._sprites(look, size, Path(workdir) / "sprites")
        progress(0.5, "phonemising the narration")
        phonemes = phonemize([w.word for w in voice.words], script.language)
        timeline, cues, timed = _timeline.timeline(
            voice.words, phonemes.words, voice.duration, p.fps, p.seed, size / 1000, p.motion, audio=voice.path,
            voice_phonemes=voice.phonemes or None,
        )
        box, mouth_box = Box(**meta["box"]), Box(**meta["mouth_box"])
        sprites = Sprites(
            back=layers.get("back"),
            body=layers["body"],
            heads={shape: layers[f"head-{shape}"] for shape in MOUTH_SHAPES},
            eyes_closed=layers["eyes-closed"],
            eyes_half=layers["eyes-half"],
            front=layers["front"],
            pivot=tuple(meta["pivot"]),
        )
        progress(1.0, f"{look}: {timeline.frames} frames")
        return Presenter(
            kind="sprites",
            fps=p.fps,
            duration=voice.duration,
            look=look,
            width=size,
            height=size,
            box=box,
            mouth_box=mouth_box,
            placement=Placement(side=p.side, height=min(1.0, size / p.height)),
            sprites=sprites,
            timeline=timeline,
            notes={
                "look": look,
                "box": box.as_list(),
                "mouth_box": mouth_box.as_list(),
                "canvas": [size, size],
                "phonemes": phonemes.voice,
                "mouth_changes": len(cues),
                "blinks": _timeline.blinks(timeline.eyes),
                "phoneme_source": "voice" if voice.phonemes else "estimated",
                "phoneme_times": _timeline.phoneme_notes(timed),
            },
        )

    def _sprites(self, look: str, size: int, dest: Path) -> tuple[dict[str, SpriteLayer], dict[str, Any]]:
        """The look's layers copied into `dest` from the models folder, drawn there first when missing."""
        kept = self.models_dir / "presenter" / f"anchor-v{self.drawing}-{look}-{size}"
        for attempt in (1, 2):
            if not (kept / "sprites.json").is_file():
                _draw_into(kept, LOOKS[look], size)
            try:
                meta = json.loads((kept / "sprites.json").read_text())
                dest.mkdir(parents=True, exist_ok=True)
                layers = {}
                for name, (x, y) in meta["layers"].items():
                    shutil.copyfile(kept / f"{name}.png", dest / f"{name}.png")
                    layers[name] = SpriteLayer(path=dest / f"{name}.png", x=x, y=y)
                return layers, meta
            except (OSError, ValueError, KeyError):
                if attempt == 2:
                    raise
                shutil.rmtree(kept, ignore_errors=True)  # damaged (a file deleted, a half copy): draw it again
        raise AssertionError("unreachable")


def _draw_into(folder: Path, look, size: int) -> None:
    """Render the look and publish it into `folder` whole (built beside it, renamed into place)."""
    from PIL import Image

    from ._render import render

    rendered = render(look, size)
    folder.parent.mkdir(parents=True, exist_ok=True)
    part = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}"
    part.mkdir()
    try:
        for name, im in rendered.layers.items():
            Image.fromarray(im.rgba).save(part / f"{name}.png", compress_level=3)
        x, y, w, h = rendered.box
        mx, my, mw, mh = rendered.mouth_box
        meta = {
            "layers": {name: [im.x, im.y] for name, im in rendered.layers.items()},
            "pivot": list(rendered.pivot),
            "box": {"x": x, "y": y, "width": w, "height": h},
            "mouth_box": {"x": mx, "y": my, "width": mw, "height": mh},
        }
        (part / "sprites.json").write_text(json.dumps(meta))
        try:
            os.rename(part, folder)
        except OSError:  # another run published the same look first: theirs is as good as ours
            if not (folder / "sprites.json").is_file():
                raise
    finally:
        shutil.rmtree(part, ignore_errors=True)
