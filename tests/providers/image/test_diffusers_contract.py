"""The diffusers image provider through the image contract suite, on the tiny random Stable Diffusion of conftest.py:
this whole file is what a provider needs to run the suite (see pipeline/stages/conformance.py)."""

from __future__ import annotations

from pipeline.providers.image.diffusers import DiffusersImage
from pipeline.stages.conformance import check_provider

FAST = {"steps": 2, "gen_width": 64, "gen_height": 64, "width": 128, "height": 128, "device": "cpu"}


def test_diffusers_keeps_the_image_contract(tiny_sd, tmp_path):
    provider = DiffusersImage({"model": str(tiny_sd), **FAST}, models_dir=tmp_path / "models")
    backgrounds = check_provider(provider, tmp_path)
    # One picture per scene, at least the frame asked for (the provider oversamples for the camera move).
    assert len(backgrounds.images) == 2 and all(i.width == i.height >= 128 for i in backgrounds.images)
