"""Time the image stage's `diffusers` provider against a bare diffusers call on the same loaded pipeline.

    python benchmarks/image_stage.py                          # the tests' tiny random SD, 64x64, 4 steps, on CPU
    python benchmarks/image_stage.py --shape sd15 --size 512x512 --steps 30     # SD-1.5-shaped, random weights
    python benchmarks/image_stage.py --model ~/models/sd15 --size 512x512 --steps 30 --runs 5

Three timings, each the median of --runs after one warm-up, taken in rotating turns so drift hits them alike:
- bare: `pipe(prompt, negative_prompt=..., num_inference_steps, guidance_scale, width, height, generator)` on the
  pipeline the provider loaded: what the same picture costs in plain diffusers;
- provider: `DiffusersImage.run` with the same arguments and nothing on top (no watermark; the frame is the
  generated size, no oversampling): the provider's own cost, target at most 5 % over bare;
- stage: the provider as a run uses it, for --frame (cover-crop, Lanczos to 1.25 x frame, watermark, PNG).

Speed does not depend on weight values, so random weights of the right shape time like the real model. Prints a
markdown table (header, then one row).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "a lighthouse on a rocky cliff at dusk, dramatic clouds, photograph"
NEGATIVE = "blurry, text, watermark"


def _tiny_builders():
    """The tests' tiny-pipeline builders (tests/providers/image/conftest.py), loaded by path."""
    spec = importlib.util.spec_from_file_location("tiny_sd_builders", ROOT / "tests/providers/image/conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_random_sd15(folder: Path, bpe: Path | None) -> Path:
    """An SD-1.5-shaped pipeline (UNet 860M, VAE 84M, CLIP ViT-L/14 text encoder 123M) with random fp16 weights."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    builders = _tiny_builders()
    bpe = bpe or builders.clip_bpe_file()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)  # SD 1.5's config
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512,
    )  # fmt: skip
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408, hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
            max_position_embeddings=77, hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407,
            pad_token_id=49407, projection_dim=768,
        )
    )  # fmt: skip
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1,
        set_alpha_to_one=False,
    )  # fmt: skip
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=builders.clip_tokenizer(bpe), unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.to(torch.float16).save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder, .safetensors/.ckpt or downloaded HF id (default: build one)")
    parser.add_argument(
        "--shape", choices=("tiny", "sd15"), default="tiny", help="random model to build without --model"
    )
    parser.add_argument("--bpe", type=Path, help="CLIP's bpe_simple_vocab_16e6.txt.gz (default: open_clip_torch's)")
    parser.add_argument("--size", default=None, help="generation size WxH (default: 64x64 tiny, 512x512 sd15)")
    parser.add_argument("--frame", default="1280x720", help="video frame WxH for the full-stage timing")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--scheduler", default=None, help="scheduler name (default: the model's)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--dtype", default="auto", choices=("auto", "fp16", "fp32"))
    args = parser.parse_args(argv)

    import torch

    from pipeline.providers.image import diffusers as dp
    from pipeline.stages.script import Script

    tmp = Path(tempfile.mkdtemp(prefix="newsreel-bench-"))
    model = args.model
    label = Path(model).name if model else f"random {args.shape}"
    if model is None:
        started = time.perf_counter()
        if args.shape == "sd15":
            model = str(build_random_sd15(tmp / "sd15", args.bpe))
        else:
            model = str(_tiny_builders().build_tiny_sd(tmp / "tiny", bpe=args.bpe))
        print(f"built {label} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    size = args.size or ("512x512" if args.shape == "sd15" else "64x64")
    gen_w, gen_h = (int(v) for v in size.lower().split("x"))
    frame_w, frame_h = (int(v) for v in args.frame.lower().split("x"))

    script = Script(
        headline="Benchmark", title="Benchmark", sentences=["One."], image_prompt=PROMPT, negative_prompt=NEGATIVE
    )
    common = {
        "model": model, "seed": 1, "steps": args.steps, "guidance_scale": args.guidance, "scheduler": args.scheduler,
        "gen_width": gen_w, "gen_height": gen_h, "device": args.device, "dtype": args.dtype,
    }  # fmt: skip
    dp.OVERSAMPLE = 1.0  # bare comparison: the provider's final image is the generated one, untouched
    plain = dp.DiffusersImage(
        {**common, "width": gen_w, "height": gen_h, "watermark": False}, models_dir=tmp / "models"
    )
    stage = dp.DiffusersImage({**common, "width": frame_w, "height": frame_h}, models_dir=tmp / "models")
    started = time.perf_counter()
    pipe = plain.pipeline()
    load_s = time.perf_counter() - started
    device, dtype = plain._device_and_dtype()
    counter = iter(range(10**6))

    def bare() -> None:
        pipe(
            prompt=PROMPT, negative_prompt=NEGATIVE, num_inference_steps=args.steps, guidance_scale=args.guidance,
            width=gen_w, height=gen_h, generator=torch.Generator("cpu").manual_seed(1),
        ).images[0]  # fmt: skip

    def run(provider) -> None:
        workdir = tmp / f"run-{next(counter)}"
        workdir.mkdir()
        provider.run(script=script, workdir=workdir, progress=lambda fraction, message="": None)

    def provider_plain() -> None:
        dp.OVERSAMPLE = 1.0
        run(plain)

    def provider_stage() -> None:
        dp.OVERSAMPLE = 1.25
        run(stage)

    for fn in (bare, provider_plain, provider_stage):
        fn()  # warm-up each path once
    rounds = {bare: [], provider_plain: [], provider_stage: []}
    order = list(rounds)
    for i in range(args.runs):
        # Rotate who goes first: each path follows each other one equally often (a GPU clocks down while the
        # stage's CPU post-processing runs, and whatever comes next pays for it).
        for fn in order[i % 3 :] + order[: i % 3]:
            started = time.perf_counter()
            fn()
            rounds[fn].append(time.perf_counter() - started)
    bare_ms, plain_ms, stage_ms = (statistics.median(t) * 1000 for t in rounds.values())
    overhead = (plain_ms - bare_ms) / bare_ms * 100
    threads = torch.get_num_threads() if device == "cpu" else "-"
    print(
        "| model | device | threads | size | steps | load s | bare ms | provider ms | overhead | "
        f"stage ms ({frame_w}x{frame_h} x1.25, watermark) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(
        f"| {label} | {device} {dtype} | {threads} | {gen_w}x{gen_h} | {args.steps} | {load_s:.1f} | {bare_ms:.1f} | "
        f"{plain_ms:.1f} | {overhead:+.1f} % | {stage_ms:.1f} |"
    )


if __name__ == "__main__":
    main()
