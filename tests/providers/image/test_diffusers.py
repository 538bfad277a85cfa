"""The diffusers image provider, on a tiny random-weight SD pipeline loaded through the provider's normal path."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from pipeline.cache import cache_key
from pipeline.errors import NewsreelError
from pipeline.hashing import sha256_file
from pipeline.providers.image import _sd_models, _watermark
from pipeline.providers.image import diffusers as dp
from pipeline.providers.image.diffusers import DiffusersImage, _gen_size, fit_prompt
from pipeline.stages.script import Scene, Script

# 64x64 generation (the tiny model's native size) into a 128x128 frame: final images are 160x160, big enough to
# carry the watermark 6 times. On the CPU, as in CI, on any machine (this random model is not made for fp16).
FAST = {"steps": 3, "gen_width": 64, "gen_height": 64, "width": 128, "height": 128, "device": "cpu"}


def make_script(*prompts: str, negative: str = "") -> Script:
    prompts = prompts or ("a lighthouse on a cliff at dusk",)
    return Script(
        headline="Lighthouse keeper retires",
        title="Lighthouse keeper retires",
        sentences=[f"Sentence {i}." for i in range(len(prompts))],
        image_prompt=prompts[0],
        negative_prompt=negative,
        scenes=[Scene(sentences=[i], image_prompt=p) for i, p in enumerate(prompts)],
    )


def generate(model: Path, tmp_path: Path, script: Script | None = None, **params):
    provider = DiffusersImage({"model": str(model), **FAST, **params}, models_dir=tmp_path / "models")
    workdir = tmp_path / f"work-{len(list(tmp_path.glob('work-*')))}"
    workdir.mkdir()
    seen: list[float] = []
    backgrounds = provider.run(script=script or make_script(), workdir=workdir, progress=lambda f, m="": seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    return backgrounds, provider


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(float)


@pytest.fixture
def spy_calls(monkeypatch: pytest.MonkeyPatch):
    """Record the keyword arguments and scheduler of every real pipeline call (the call itself still runs)."""
    import diffusers

    calls: list[dict] = []
    for cls in (diffusers.StableDiffusionPipeline, diffusers.StableDiffusionImg2ImgPipeline):
        real = cls.__call__

        def spy(self, *args, _real=real, **kwargs):
            calls.append({**kwargs, "scheduler": type(self.scheduler).__name__, "pipeline": type(self).__name__})
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__call__", spy)
    return calls


# --- generation --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_same_pixels_other_seed_different(tiny_sd, tmp_path):
    a, _ = generate(tiny_sd, tmp_path, seed=7)
    b, _ = generate(tiny_sd, tmp_path, seed=7)
    c, _ = generate(tiny_sd, tmp_path, seed=8)
    first, again, other = (pixels(x.images[0].path) for x in (a, b, c))
    assert first.shape == (160, 160, 3)
    assert first.std() > 10  # a picture, not a flat fill
    assert np.array_equal(first, again)
    assert np.abs(first - other).mean() > 10
    assert a.images[0].seed == 7 and c.images[0].seed == 8


@pytest.mark.slow
def test_one_image_per_scene_with_its_prompt_and_seed(tiny_sd, tmp_path, spy_calls):
    script = make_script("a red tram in the snow", "a harbour at night", "a crowded market")
    backgrounds, _ = generate(tiny_sd, tmp_path, script=script, seed=100)
    assert [im.seed for im in backgrounds.images] == [100, 101, 102]
    assert [c["prompt"] for c in spy_calls] == [s.image_prompt for s in script.scenes]
    assert [im.prompt for im in backgrounds.images] == [s.image_prompt for s in script.scenes]
    a, b = (pixels(im.path) for im in backgrounds.images[:2])
    assert np.abs(a - b).mean() > 10


@pytest.mark.slow
def test_negative_prompt_and_scheduler_reach_the_pipeline(tiny_sd, tmp_path, spy_calls):
    script = make_script(negative="blurry, text, watermark")
    plain, _ = generate(tiny_sd, tmp_path, script=script, seed=3, negative_prompt="")
    from_script, _ = generate(tiny_sd, tmp_path, script=script, seed=3)
    chosen, _ = generate(tiny_sd, tmp_path, script=script, seed=3, negative_prompt="cartoon", scheduler="Euler A")
    plms, _ = generate(tiny_sd, tmp_path, script=script, seed=3, scheduler="plms")
    assert [c["negative_prompt"] for c in spy_calls] == [
        None,
        "blurry, text, watermark",
        "cartoon",
        "blurry, text, watermark",
    ]
    assert [c["scheduler"] for c in spy_calls] == [
        "DDIMScheduler",
        "DDIMScheduler",
        "EulerAncestralDiscreteScheduler",
        "PNDMScheduler",
    ]
    assert chosen.images[0].notes["scheduler"] == "EulerAncestralDiscreteScheduler"
    assert all(c["num_inference_steps"] == 3 and c["guidance_scale"] == 7.5 for c in spy_calls)
    # They change the picture too (guidance 7.5 mixes in the negative prompt's prediction).
    assert np.abs(pixels(plain.images[0].path) - pixels(from_script.images[0].path)).mean() > 0.5
    assert np.abs(pixels(from_script.images[0].path) - pixels(plms.images[0].path)).mean() > 0.5


@pytest.mark.slow
def test_img2img_low_strength_stays_close_to_its_input(tiny_sd, tmp_path, spy_calls):
    import torch

    y, x = np.mgrid[0:96, 0:96]
    init = np.stack([x * 2.5, y * 2.5, 255 - x * 2], axis=-1).astype(np.uint8)
    init_path = tmp_path / "sketch.png"
    Image.fromarray(init).save(init_path)
    common = {"init_image": str(init_path), "steps": 10, "watermark": False}
    low, provider = generate(tiny_sd, tmp_path, seed=1, strength=0.15, **common)
    high, _ = generate(tiny_sd, tmp_path, seed=1, strength=0.9, **common)
    assert spy_calls[0]["pipeline"] == "StableDiffusionImg2ImgPipeline" and spy_calls[0]["strength"] == 0.15
    assert "width" not in spy_calls[0]  # img2img takes its size from the (cover-cropped) init image
    # What "its input" is for this untrained VAE: the init image encoded and decoded again.
    pipe = provider.pipeline("image2image")
    start = ImageOps.fit(Image.fromarray(init), (64, 64), Image.Resampling.LANCZOS)
    with torch.no_grad():
        tensor = torch.from_numpy(np.array(start)).permute(2, 0, 1)[None].float() / 127.5 - 1
        decoded = pipe.vae.decode(pipe.vae.encode(tensor).latent_dist.mean).sample
    roundtrip = Image.fromarray(((decoded[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy())
    reference = np.asarray(ImageOps.fit(roundtrip, (160, 160), Image.Resampling.LANCZOS)).astype(float)
    near = np.abs(pixels(low.images[0].path) - reference).mean()
    far = np.abs(pixels(high.images[0].path) - reference).mean()
    assert near < 10 and far > 3 * near, (near, far)


@pytest.mark.slow
def test_watermark_decodes_from_the_saved_png(tiny_sd, tmp_path):
    marked, _ = generate(tiny_sd, tmp_path, seed=5)
    plain, _ = generate(tiny_sd, tmp_path, seed=5, watermark=False)
    assert _watermark.decode_watermark(marked.images[0].path) == (True, 1.0)
    found, score = _watermark.decode_watermark(plain.images[0].path)
    assert not found and score < 0.8
    assert marked.images[0].notes["watermark"] == "newsreel (dwtDctSvd)" and plain.images[0].notes["watermark"] == "off"
    # Invisible: a small change to the pixels.
    assert 0.1 < np.abs(pixels(marked.images[0].path) - pixels(plain.images[0].path)).mean() < 3


def test_watermark_is_the_invisible_watermark_packages_dwtdctsvd(tmp_path):
    """Our numpy embedder and decoder interoperate with the package's, both ways."""
    imwatermark = pytest.importorskip("imwatermark")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:300, 0:400]
    photo = np.clip(np.stack([x * 0.5, y * 0.7, 128 + 0 * x], -1) + rng.normal(0, 12, (300, 400, 3)), 0, 255).astype(
        np.uint8
    )
    ours = np.asarray(_watermark.embed_watermark(Image.fromarray(photo)))
    bgr = np.ascontiguousarray(ours[..., ::-1])
    assert imwatermark.WatermarkDecoder("bytes", 64).decode(bgr, "dwtDctSvd") == _watermark.PAYLOAD
    encoder = imwatermark.WatermarkEncoder()
    encoder.set_watermark("bytes", _watermark.PAYLOAD)
    theirs = encoder.encode(np.ascontiguousarray(photo[..., ::-1]), "dwtDctSvd")[..., ::-1]
    Image.fromarray(np.ascontiguousarray(theirs)).save(tmp_path / "theirs.png")
    Image.fromarray(photo).save(tmp_path / "photo.png")
    assert _watermark.decode_watermark(tmp_path / "theirs.png") == (True, 1.0)
    assert _watermark.decode_watermark(tmp_path / "photo.png")[0] is False
    assert np.abs(ours.astype(float) - photo).mean() < 2  # the package's encoder also swaps detail bands; we don't


@pytest.mark.slow
def test_candidates_contact_sheet_and_pick(tiny_sd, tmp_path):
    many, _ = generate(tiny_sd, tmp_path, seed=20, candidates=3, pick=2)
    image = many.images[0]
    seeds = [int(s) for s in image.notes["candidate_seeds"].split(",")]
    assert seeds == [20, 21, 22] and image.seed == 22
    workdir = image.path.parent
    candidates = [pixels(workdir / name) for name in image.notes["candidates"].split(",")]
    assert all(c.shape == (64, 64, 3) for c in candidates)
    assert min(np.abs(a - b).mean() for i, a in enumerate(candidates) for b in candidates[i + 1 :]) > 10
    sheet = Image.open(workdir / image.notes["contact_sheet"])
    assert sheet.size == (3 * (256 + 8) + 8, 256 + 22 + 16)
    # A recorded candidate seed reproduces that candidate alone.
    alone, _ = generate(tiny_sd, tmp_path, seed=22)
    assert np.array_equal(pixels(alone.images[0].path), pixels(image.path))


@pytest.mark.slow
def test_safety_verdict_lands_in_notes(tiny_sd, tiny_sd_checked, tmp_path):
    flagged, _ = generate(tiny_sd_checked["flag-all"], tmp_path, seed=1, watermark=False)
    unchecked, _ = generate(tiny_sd_checked["flag-all"], tmp_path, seed=1, watermark=False, safety_checker=False)
    passed, _ = generate(tiny_sd_checked["pass-all"], tmp_path, seed=1, watermark=False)
    none, _ = generate(tiny_sd, tmp_path, seed=1, watermark=False)
    assert flagged.images[0].notes["nsfw"] == "true"
    assert pixels(flagged.images[0].path).max() == 0  # the pipeline blacks out what its checker flags
    assert unchecked.images[0].notes["nsfw"] == "unchecked" and pixels(unchecked.images[0].path).std() > 10
    assert passed.images[0].notes["nsfw"] == "false" and pixels(passed.images[0].path).std() > 10
    assert none.images[0].notes["nsfw"] == "unchecked"
    # The verdict travels in the artifact, which is what the runner copies into run.json.
    assert flagged.to_json(root=flagged.images[0].path.parent)["images"][0]["notes"]["nsfw"] == "true"


@pytest.mark.slow
def test_long_prompt_is_cut_at_77_tokens_with_a_note(tiny_sd, tmp_path, caplog):
    words = [f"detail{i}" for i in range(80)]
    backgrounds, provider = generate(tiny_sd, tmp_path, script=make_script("a city skyline, " + " ".join(words)))
    image = backgrounds.images[0]
    cut = image.notes["prompt_cut"]
    assert cut.endswith("detail79") and image.prompt.startswith("a city skyline, detail0")
    assert (image.prompt + " " + cut).split() == ("a city skyline, " + " ".join(words)).split()
    assert len(provider.pipeline().tokenizer(image.prompt).input_ids) <= 77
    assert "cut:" in caplog.text and "detail79" in caplog.text
    assert fit_prompt(provider.pipeline().tokenizer, "a short prompt") == ("a short prompt", "")


@pytest.mark.slow
def test_pipeline_is_loaded_once_and_shared(tiny_sd, tmp_path, monkeypatch):
    loads = []
    real = _sd_models._load_text2image
    monkeypatch.setattr(_sd_models, "_load_text2image", lambda *a: loads.append(a) or real(*a))
    dp.unload_pipelines()
    first = DiffusersImage({"model": str(tiny_sd), **FAST, "seed": 1})
    second = DiffusersImage({"model": str(tiny_sd), **FAST, "seed": 2, "steps": 2})
    assert first.pipeline() is second.pipeline()
    assert first.pipeline("image2image").unet is first.pipeline().unet
    script = make_script("one", "two", "three")
    for provider in (first, second):
        workdir = tmp_path / f"w{provider.params.seed}"
        workdir.mkdir()
        provider.run(script=script, workdir=workdir, progress=lambda f, m="": None)
    assert len(loads) == 1


@pytest.mark.slow
def test_cpu_threads(tiny_sd, tmp_path, monkeypatch):
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        generate(tiny_sd, tmp_path, steps=1)
        assert torch.get_num_threads() == 1
        generate(tiny_sd, tmp_path, steps=1, threads=2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_upscaler_runs_when_its_weights_are_given(tiny_sd, tiny_upscaler, tmp_path, spy_calls, monkeypatch):
    import diffusers

    sizes = []
    real = diffusers.StableDiffusionUpscalePipeline.__call__
    monkeypatch.setattr(
        diffusers.StableDiffusionUpscalePipeline,
        "__call__",
        lambda self, **kw: sizes.append(kw["image"].size) or real(self, **kw),
    )
    backgrounds, provider = generate(tiny_sd, tmp_path, upscaler=str(tiny_upscaler), upscaler_steps=2)
    assert sizes == [(64, 64)]
    assert backgrounds.images[0].notes["upscaler"] == "sd-x4 then lanczos"
    assert pixels(backgrounds.images[0].path).shape == (160, 160, 3)
    assert provider.identity()["upscaler"]["config_sha256"]


@pytest.mark.slow
def test_out_of_memory_retries_once_with_low_memory_options(tiny_sd, tmp_path, monkeypatch):
    import diffusers
    import torch

    real = diffusers.StableDiffusionPipeline.__call__
    failures = {"left": 1}

    def tight(self, **kw):
        if failures["left"]:
            failures["left"] -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, **kw)

    monkeypatch.setattr(diffusers.StableDiffusionPipeline, "__call__", tight)
    dp.unload_pipelines()
    try:
        backgrounds, provider = generate(tiny_sd, tmp_path, seed=4)
        assert backgrounds.images[0].notes["low_memory_retry"] == "true"
        assert provider.loaded().low_memory
        assert provider.pipeline().vae.use_tiling and provider.pipeline().vae.use_slicing  # low-memory options on
        failures["left"] = 2
        dp.unload_pipelines()
        with pytest.raises(NewsreelError, match="out of GPU memory"):
            generate(tiny_sd, tmp_path, seed=4)
    finally:
        dp.unload_pipelines()  # later tests get a pipeline without the low-memory options


# --- model lookup and identity -----------------------------------------------------------------------------------


def test_a_model_that_is_not_downloaded_says_how_to_get_it(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    provider = DiffusersImage({"model": "someone/sd-not-here"})
    with pytest.raises(NewsreelError) as err:
        provider.check()
    assert "someone/sd-not-here" in err.value.message and "hf download someone/sd-not-here" in err.value.hint
    with pytest.raises(NewsreelError, match="does not exist"):
        DiffusersImage({"model": str(tmp_path / "models" / "sd15")}).check()
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(NewsreelError, match="model_index.json"):
        DiffusersImage({"model": str(tmp_path / "not-a-model")}).check()
    assert provider.identity() == {"model": {"name": "someone/sd-not-here", "present": False}}


@pytest.mark.slow
def test_a_hugging_face_id_loads_from_the_local_cache_with_its_revision(tiny_sd, tmp_path, monkeypatch):
    import shutil

    import huggingface_hub.constants

    hub = tmp_path / "hub"
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_sd, hub / "models--newsreel--tiny-sd" / "snapshots" / revision)
    (hub / "models--newsreel--tiny-sd" / "refs").mkdir()
    (hub / "models--newsreel--tiny-sd" / "refs" / "main").write_text(revision)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    backgrounds, provider = generate("newsreel/tiny-sd", tmp_path, seed=7, steps=1)
    identity = provider.identity()["model"]
    assert identity["revision"] == revision
    assert identity["config_sha256"] == dp.folder_identity(tiny_sd)["config_sha256"]
    assert pixels(backgrounds.images[0].path).std() > 10


@pytest.mark.parametrize("env", [{}, {"HF_HOME": "/srv/hf"}, {"XDG_CACHE_HOME": "/srv/xdg"},
                                 {"HF_HUB_CACHE": "/srv/hub", "HF_HOME": "/srv/hf"}, {"HUGGINGFACE_HUB_CACHE": "/srv/old"}])
def test_the_hub_cache_is_where_huggingface_hub_looks(env):
    """`hub_cache` finds the cache without importing huggingface_hub (it rules out a model that is not there for
    ~0.4 s less): the same folder huggingface_hub's own constant names, in a fresh process per environment."""
    import subprocess
    import sys

    code = ("from pipeline.providers.image._sd_models import hub_cache\n"
            "mine = hub_cache()\n"
            "import huggingface_hub.constants as c\n"
            "print(mine == __import__('pathlib').Path(c.HF_HUB_CACHE), mine)\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "XDG_CACHE"))}
    done = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[3])
    assert done.stdout.startswith("True"), done.stdout


def test_single_file_identity_is_hashed_once(tmp_path, monkeypatch):
    checkpoint = tmp_path / "sd-v1-4.ckpt"
    checkpoint.write_bytes(b"not really weights" * 1000)
    hashed = []
    real = _sd_models._sha256
    monkeypatch.setattr(_sd_models, "_sha256", lambda p: hashed.append(p) or real(p))
    provider = DiffusersImage({"model": str(checkpoint)}, models_dir=tmp_path / "models")
    first = provider.identity()["model"]
    assert provider.identity()["model"] == first and len(hashed) == 1
    assert first == {"name": "sd-v1-4.ckpt", "sha256": real(checkpoint)}
    checkpoint.write_bytes(b"other weights")
    assert provider.identity()["model"]["sha256"] == real(checkpoint) and len(hashed) == 2


def test_folder_identity_is_the_hash_of_its_configs(tmp_path):
    (tmp_path / "unet").mkdir()
    (tmp_path / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (tmp_path / "unet" / "config.json").write_text('{"sample_size": 64}')
    first = dp.folder_identity(tmp_path)["config_sha256"]
    (tmp_path / "unet" / "config.json").write_text('{"sample_size": 96}')
    assert dp.folder_identity(tmp_path)["config_sha256"] != first


# --- parameters --------------------------------------------------------------------------------------------------


def tiny_png(path: Path, width: int, height: int, color: int = 0) -> Path:
    Image.new("RGB", (width, height), (color, color, color)).save(path)
    return path


def huge_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that claims to be width x height (its header is all that is read before it is refused)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"gen_width": 500}, "multiple of 8"),
        ({"gen_height": 36}, "multiple of 8"),
        ({"steps": 0}, "steps must be at least 1"),
        ({"strength": 1.2}, "between 0 and 1"),
        ({"strength": -0.1}, "between 0 and 1"),
        ({"scheduler": "k_dpmpp_sde_turbo"}, "unknown scheduler .* ddim, pndm, plms, euler"),
        ({"candidates": 2, "pick": 2}, "pick 2 does not exist"),
        ({"device": "cpu", "dtype": "fp16"}, "fp16 does not run on the CPU"),
        ({"init_image": "/no/such/sketch.png"}, "does not exist"),
    ],
)
def test_bad_parameters_are_one_line_errors_at_validation(params, message):
    with pytest.raises(NewsreelError, match=message) as err:
        DiffusersImage(params)
    assert "\n" not in err.value.one_line()


def test_bad_init_images(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(NewsreelError, match="cannot be read as an image"):
        DiffusersImage({"init_image": str(text)})
    huge = huge_png_header(tmp_path / "huge.png", 8000, 7000)
    with pytest.raises(NewsreelError, match="56 megapixels"):
        DiffusersImage({"init_image": str(huge)})
    ok = tiny_png(tmp_path / "ok.png", 32, 32)
    with pytest.raises(NewsreelError, match="0 denoising steps"):
        DiffusersImage({"init_image": str(ok), "steps": 4, "strength": 0.2})


def test_turbo_models_default_to_their_model_card_settings():
    turbo = DiffusersImage({"model": "stabilityai/sd-turbo"}).params
    assert (turbo.steps, turbo.guidance_scale) == (1, 0.0)
    assert DiffusersImage({"model": "stabilityai/sdxl-turbo", "steps": 3}).params.steps == 3
    assert DiffusersImage({"model": "stabilityai/sd-turbo"}).params.model_dump()["steps"] == 1  # explicit in run.json


def test_scheduler_names_are_forgiving_about_spelling():
    assert DiffusersImage({"scheduler": "DPM++ 2M Karras"}).params.scheduler == "dpm++2m-karras"
    assert DiffusersImage({"scheduler": "euler_a"}).params.scheduler == "euler-ancestral"
    assert set(dp.SCHEDULERS) >= {"ddim", "pndm", "plms", "euler", "euler-ancestral", "dpm++2m", "lms"}


def test_every_parameter_changes_the_cache_key(tmp_path):
    init_a = tiny_png(tmp_path / "a.png", 32, 32, color=10)
    init_b = tiny_png(tmp_path / "b.png", 32, 32, color=20)
    changed = {
        "model": "stabilityai/stable-diffusion-2-1",
        "single_file_config": "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "prompt_override": "a cat",
        "negative_prompt": "blurry",
        "seed": 1,
        "steps": 31,
        "guidance_scale": 7.0,
        "scheduler": "euler",
        "gen_width": 768,
        "gen_height": 768,
        "width": 1080,
        "height": 1920,
        "upscaler": "stabilityai/stable-diffusion-x4-upscaler",
        "upscaler_steps": 30,
        "candidates": 4,
        "pick": 1,
        "init_image": str(init_a),
        "strength": 0.5,
        "device": "cpu",
        "dtype": "fp32",
        "low_memory": True,
        "watermark": False,
        "safety_checker": False,
        "threads": 2,
    }
    base = {"init_image": str(init_b)}  # so that changing init_image (and its sha256) is visible
    fields = set(DiffusersImage.Params.model_fields)
    assert fields - set(changed) == {"init_image_sha256"}  # a new parameter must be added here

    def key(raw: dict) -> str:
        params = DiffusersImage(raw).params
        return cache_key(
            "image", DiffusersImage.name, DiffusersImage.version, params.model_dump(mode="json"), {"script": "x"}
        )

    reference = key(base)
    keys = {
        name: key({**base, name: value, **({"candidates": 2} if name == "pick" else {})})
        for name, value in changed.items()
    }
    assert reference not in keys.values() and len(set(keys.values())) == len(keys)
    # The same init image path with other content is another key: its sha256 is a parameter.
    before = key({"init_image": str(init_a)})
    tiny_png(init_a, 32, 32, color=99)
    after = DiffusersImage({"init_image": str(init_a)}).params
    assert after.init_image_sha256 == sha256_file(init_a)
    assert key({"init_image": str(init_a)}) != before
    assert json.loads(after.model_dump_json())["init_image_sha256"] == after.init_image_sha256


def test_generation_size_follows_the_frame_aspect():
    assert _gen_size(512, 1280, 720) == (704, 384)
    assert _gen_size(512, 1080, 1920) == (384, 704)
    assert _gen_size(512, 1080, 1080) == (512, 512)
    assert _gen_size(768, 1280, 720) == (1024, 576)
    assert _gen_size(1024, 1080, 1920) == (768, 1344)
    assert _gen_size(512, 1280, 720, gen_w=640) == (640, 384)
    assert _gen_size(64, 1280, 720) == (88, 48)


def test_importing_the_provider_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, pipeline.providers.image.diffusers; print('torch' in sys.modules, 'diffusers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_a_single_checkpoint_without_its_family_configs_says_how_to_get_them(tmp_path, monkeypatch):
    """Offline, a .safetensors checkpoint needs its family's diffusers configs; diffusers itself would download them."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    import huggingface_hub.constants
    from safetensors.torch import save_file

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    checkpoint = tmp_path / "my-finetune.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(320, 4, 3, 3)}, checkpoint)  # SD 1.x
    provider = DiffusersImage({"model": str(checkpoint), **FAST}, models_dir=tmp_path / "models")
    (tmp_path / "work").mkdir()
    with pytest.raises(NewsreelError) as err:
        provider.run(script=make_script(), workdir=tmp_path / "work", progress=lambda f, m="": None)
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in err.value.message
    assert "hf download stable-diffusion-v1-5/stable-diffusion-v1-5 --include" in err.value.hint
    assert "single_file_config" in err.value.hint
