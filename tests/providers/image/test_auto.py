"""Image provider `auto`: Stable Diffusion when the model is on this machine, the slate backdrop otherwise."""

from __future__ import annotations

import json
import shutil

import huggingface_hub.constants
import pytest

from pipeline import make_video
from pipeline.providers.image.auto import AutoImage


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))


def test_falls_back_to_slate_with_a_reason_when_the_model_is_absent(empty_hub):
    name, params, notice = AutoImage.delegate({"model": "someone/not-downloaded", "steps": 4, "seed": 3})
    assert name == "slate"
    assert params == {"seed": 3}  # only what slate understands
    assert "someone/not-downloaded is not on this machine" in notice and "download" in notice
    name, _, notice = AutoImage.delegate({})
    assert name == "slate" and "stable-diffusion-v1-5" in notice


def test_uses_diffusers_when_the_model_folder_exists(tiny_sd):
    name, params, notice = AutoImage.delegate({"model": str(tiny_sd), "steps": 2})
    assert (name, params) == ("diffusers", {"model": str(tiny_sd), "steps": 2})
    assert str(tiny_sd) in notice


@pytest.mark.slow
def test_auto_end_to_end_records_the_real_provider_and_model_identity(tiny_sd, test_plugin, isolated_config, tmp_path):
    from tests.helpers import TEST_PROVIDERS

    model = tmp_path / "model"
    shutil.copytree(tiny_sd, model)
    providers = {**TEST_PROVIDERS, "image": "auto"}
    params = {"image": {"model": str(model), "steps": 2, "gen_width": 64, "gen_height": 64, "device": "cpu"}}
    first = make_video("Storm hits the coast", out=tmp_path / "a", providers=providers, params=params)
    record = json.loads((tmp_path / "a" / "run.json").read_text())
    image = record["stages"]["image"]
    assert image["provider"] == "diffusers" and image["hit"] is False
    assert image["identity"] and image["params"]["model"] == str(model)
    # New weights at the same path are new work: the model identity is part of the cache key.
    config = model / "unet" / "config.json"
    data = json.loads(config.read_text())
    data["_note"] = "retrained"
    config.write_text(json.dumps(data))
    second = make_video("Storm hits the coast", out=tmp_path / "b", providers=providers, params=params)
    assert second.record["stages"]["image"]["key"] != first.record["stages"]["image"]["key"]
    assert second.record["stages"]["script"]["hit"] is True
