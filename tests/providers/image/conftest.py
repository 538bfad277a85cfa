"""A tiny Stable Diffusion pipeline with random weights, saved like a real one, for the diffusers provider's tests.

Real SD weights cannot be downloaded here, and speed and plumbing do not depend on weight values. The pipeline has
SD's structure at toy size (UNet with cross-attention, a 4-level VAE, so 8x down-sampling like SD, a CLIP text
encoder) and the real CLIP tokenizer, built from the BPE merges open_clip_torch ships. Native size: 64x64.

Two settings make the random model behave like a trained one where the tests need it: the VAE posterior is made
deterministic (log-variance -30) and its latents are scaled to unit variance (scaling_factor), as SD's 0.18215
does for its VAE; without them VAE sampling noise swamps any img2img input.

`build_tiny_sd(folder)` is also used by benchmarks/image_stage.py.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

import pytest

CLIP_VOCAB_SIZE = 49408


def clip_bpe_file() -> Path | None:
    """CLIP's bpe_simple_vocab_16e6.txt.gz: $NEWSREEL_CLIP_BPE, else open_clip_torch's, found without importing
    open_clip (it imports torchvision)."""
    if os.environ.get("NEWSREEL_CLIP_BPE"):
        return Path(os.environ["NEWSREEL_CLIP_BPE"])
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    return path if path.is_file() else None


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable character table (the same one GPT-2 uses)."""
    keep = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, (chr(c) for c in chars)))


def clip_tokenizer(bpe: Path):
    """The CLIP ViT-L/14 tokenizer (vocab 49408) from the BPE merges, built the way CLIP builds it.

    transformers 5 ignores CLIPTokenizer(vocab_file=..., merges_file=...) and gives a 2-token vocabulary, so the
    vocab dict and merges list are passed directly.
    """
    from transformers import CLIPTokenizer

    with gzip.open(bpe) as f:
        lines = f.read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = list(_bytes_to_unicode().values())
    vocab = (
        symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    )
    tokenizer = CLIPTokenizer(vocab={s: i for i, s in enumerate(vocab)}, merges=merges, model_max_length=77)
    assert len(tokenizer) == CLIP_VOCAB_SIZE, len(tokenizer)
    return tokenizer


def build_tiny_sd(folder: Path, safety_checker: str | None = None, bpe: Path | None = None) -> Path:
    """save_pretrained a tiny StableDiffusionPipeline into `folder`.

    safety_checker: None (none, as most community models), "flag-all" (thresholds below any score: every image is
    reported NSFW and blacked out) or "pass-all" (thresholds above any score: nothing is flagged).
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    bpe = bpe or clip_bpe_file()
    if bpe is None:
        raise FileNotFoundError("CLIP's BPE vocabulary: pip install --no-deps open_clip_torch")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4),
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, block_out_channels=(32, 32, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=64,
        scaling_factor=5.0,  # these random latents have a std of about 0.2
    )  # fmt: skip
    with torch.no_grad():
        vae.quant_conv.bias[4:] = -30.0  # log-variance channels: a deterministic posterior
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=CLIP_VOCAB_SIZE, hidden_size=32, intermediate_size=37, num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407, projection_dim=32,
        )
    )  # fmt: skip
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False,
        steps_offset=1,
    )  # fmt: skip
    checker = extractor = None
    if safety_checker:
        checker = StableDiffusionSafetyChecker(
            CLIPConfig(
                text_config={"vocab_size": 1000, "hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                             "num_hidden_layers": 1, "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1},
                vision_config={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4,
                               "num_hidden_layers": 1, "image_size": 32, "patch_size": 4},
                projection_dim=32,
            )
        )  # fmt: skip
        # A concept fires when cosine(image, concept) - threshold > 0; cosines lie in [-1, 1].
        threshold = {"flag-all": -2.0, "pass-all": 2.0}[safety_checker]
        with torch.no_grad():
            checker.concept_embeds_weights.fill_(threshold)
            checker.special_care_embeds_weights.fill_(threshold)
        extractor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(bpe), unet=unet, scheduler=scheduler,
        safety_checker=checker, feature_extractor=extractor, requires_safety_checker=checker is not None,
    )  # fmt: skip
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_upscaler(folder: Path, bpe: Path | None = None) -> Path:
    """save_pretrained a tiny StableDiffusionUpscalePipeline (x4: a 3-level VAE, UNet fed latents + low-res image)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        StableDiffusionUpscalePipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    bpe = bpe or clip_bpe_file()
    if bpe is None:
        raise FileNotFoundError("CLIP's BPE vocabulary: pip install --no-deps open_clip_torch")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=7, out_channels=4, layers_per_block=1, block_out_channels=(32, 32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, use_linear_projection=True,
        only_cross_attention=(True, True, False), num_class_embeds=100,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, block_out_channels=(32, 32, 64),
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, scaling_factor=0.08333,
    )  # fmt: skip
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=CLIP_VOCAB_SIZE, hidden_size=32, intermediate_size=37, num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
        )
    )  # fmt: skip
    pipe = StableDiffusionUpscalePipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=clip_tokenizer(bpe), unet=unet,
        low_res_scheduler=DDPMScheduler(), scheduler=DDIMScheduler(prediction_type="v_prediction", steps_offset=1),
        max_noise_level=350,
    )  # fmt: skip
    pipe.save_pretrained(folder)
    return Path(folder)


@pytest.fixture(scope="session")
def clip_bpe() -> Path:
    bpe = clip_bpe_file()
    if bpe is None:
        pytest.skip("the tiny SD pipeline needs CLIP's BPE vocabulary: pip install --no-deps open_clip_torch")
    pytest.importorskip("diffusers")
    return bpe


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory, clip_bpe: Path) -> Path:
    """A tiny SD 1.x-shaped model folder without a safety checker."""
    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd"), bpe=clip_bpe)


@pytest.fixture(scope="session")
def tiny_sd_checked(tmp_path_factory: pytest.TempPathFactory, clip_bpe: Path) -> dict[str, Path]:
    """Two tiny model folders with a safety checker: one that flags every image, one that flags none."""
    return {
        kind: build_tiny_sd(tmp_path_factory.mktemp(f"tiny-sd-{kind}"), safety_checker=kind, bpe=clip_bpe)
        for kind in ("flag-all", "pass-all")
    }


@pytest.fixture(scope="session")
def tiny_upscaler(tmp_path_factory: pytest.TempPathFactory, clip_bpe: Path) -> Path:
    return build_tiny_upscaler(tmp_path_factory.mktemp("tiny-upscaler"), bpe=clip_bpe)
