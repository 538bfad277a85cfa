"""image provider `slate`: deterministic designed backdrops, one per scene, oversampled, never flat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import NewsreelError
from pipeline.plugins import provider_class
from pipeline.providers.image.slate import PALETTES, SlateImage, palette_for
from pipeline.stages import Scene, Script

HEADLINE = "Breakthrough in Mars Project"


def make_script(headline: str = HEADLINE, scenes: int = 1) -> Script:
    sentences = [f"Sentence number {i} about the story." for i in range(max(3, scenes))]
    per = len(sentences) // scenes
    scene_list = [
        Scene(sentences=list(range(i * per, len(sentences) if i == scenes - 1 else (i + 1) * per)), image_prompt=f"p{i}")
        for i in range(scenes)
    ]
    return Script(headline=headline, title=headline, sentences=sentences, image_prompt="a studio", scenes=scene_list)


def render(tmp_path: Path, name: str, script: Script | None = None, **params) -> list[Path]:
    work = tmp_path / name
    work.mkdir()
    calls = []
    out = SlateImage({"width": 640, "height": 360, **params}).run(
        script=script or make_script(), workdir=work, progress=lambda f, m: calls.append(f)
    )
    assert calls[-1] == 1.0
    for image in out.images:
        assert image.path.parent == work and image.path.is_absolute()
    return [image.path for image in out.images]


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


def test_registered_as_the_image_slate_entry_point():
    assert provider_class("image", "slate") is SlateImage


def test_same_inputs_give_identical_bytes(tmp_path):
    a = render(tmp_path, "a", seed=7)
    b = render(tmp_path, "b", seed=7)
    assert a[0].read_bytes() == b[0].read_bytes()


def test_seed_changes_the_picture(tmp_path):
    a = pixels(render(tmp_path, "a", seed=1)[0])
    b = pixels(render(tmp_path, "b", seed=2)[0])
    assert np.abs(a - b).mean() > 4.0


def test_oversampled_size_and_metadata(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    out = SlateImage({"width": 640, "height": 360, "seed": 3}).run(script=make_script(), workdir=work, progress=lambda f, m: None)
    image = out.images[0]
    assert Image.open(image.path).size == (800, 450) == (image.width, image.height)
    assert image.seed == 3
    assert image.notes["palette"] in {p[0] for p in PALETTES}
    tall = SlateImage({"width": 360, "height": 640, "oversample": 1.0}).run(
        script=make_script(), workdir=tmp_path, progress=lambda f, m: None
    )
    assert Image.open(tall.images[0].path).size == (360, 640)


def test_picture_is_designed_not_flat(tmp_path):
    px = pixels(render(tmp_path, "a")[0])
    assert px.std() > 10.0  # gradients, globe and lights, not one colour
    luma = px @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    assert luma.mean() < 110  # a dark backdrop that white captions read well on
    assert luma.max() > 150  # with highlights
    # Darker corners than centre (vignette), on average.
    h, w = luma.shape
    corners = np.concatenate([luma[: h // 8, : w // 8].ravel(), luma[-h // 8 :, -w // 8 :].ravel()])
    assert corners.mean() < luma[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].mean()


def test_one_image_per_scene_each_different(tmp_path):
    paths = render(tmp_path, "a", script=make_script(scenes=3))
    assert [p.name for p in paths] == ["slate-01.png", "slate-02.png", "slate-03.png"]
    pics = [pixels(p) for p in paths]
    assert np.abs(pics[0] - pics[1]).mean() > 4.0
    assert np.abs(pics[1] - pics[2]).mean() > 4.0


def test_palette_follows_headline_and_seed():
    assert palette_for(HEADLINE, 0)[0] == palette_for(HEADLINE, 0)[0]
    names = {palette_for(f"Headline {i}", 0)[0] for i in range(40)}
    assert len(names) >= 4  # headlines spread over the palettes


def test_params_are_checked():
    with pytest.raises(NewsreelError):
        SlateImage({"width": 640, "height": 360, "nonsense": 1})
    with pytest.raises(NewsreelError):
        SlateImage({"oversample": 3.0})
