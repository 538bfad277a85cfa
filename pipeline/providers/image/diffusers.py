"""Image provider `diffusers`: Stable Diffusion on this machine, through Hugging Face diffusers.

The model is one of:
- a Hugging Face id (`stable-diffusion-v1-5/stable-diffusion-v1-5`, `stabilityai/sd-turbo`, ...) that is already in
  the local Hugging Face cache. Nothing is downloaded at run time: on a connected machine run `hf download ID`;
- a diffusers folder (what `save_pretrained` or `hf download` writes, with a model_index.json);
- a single `.safetensors` / `.ckpt` checkpoint (e.g. `sd-v1-4.ckpt`), loaded with `from_single_file`. It also needs
  the diffusers configs of its family, looked up offline in the Hugging Face cache or given as `single_file_config`.

SD 1.x, SD 2.x (768 px), SDXL, SD-Turbo and SDXL-Turbo all load the same way (AutoPipelineForText2Image picks the
pipeline class from model_index.json). A model whose name contains "turbo" gets 1 step (4 for img2img) and guidance 0
unless `steps` / `guidance_scale` are given: its model card's settings.

Per scene of the script: `candidates` pictures from seeds `seed + scene + k * scenes` (a CPU torch.Generator, so a
seed gives the same start noise on any device), all saved with a contact sheet; candidate `pick` is cover-cropped to
the video frame's aspect, scaled to 1.25 x the frame size (Lanczos, or the SD x4 upscaler first when `upscaler`
names present weights) and watermarked. The loaded pipeline is kept per process and shared by every provider
instance that asks for the same model, device and dtype.

This file is the provider and its run; `_sd_params.py` checks the parameters and `_sd_models.py` finds, identifies
and loads the model.
"""

from __future__ import annotations

import io
import logging
import math
import os
from pathlib import Path
from typing import Any, Literal

from ...errors import NewsreelError
from ...hashing import sha256_bytes
from ...provider import Needs, ProgressFn
from ...stages.image import BackgroundImage, Backgrounds, ImageProvider
from ...stages.script import Script
from . import _sd_models, _watermark
from ._sd_models import (  # noqa: F401 - DEFAULT_MODEL and unload_pipelines are re-exported: the provider's API
    DEFAULT_MODEL,
    LoadedModel,
    file_sha256_cached,
    folder_identity,
    resolve_model,
    unload_pipelines,
)
from ._sd_params import SCHEDULERS, DiffusersParams

log = logging.getLogger(__name__)

OVERSAMPLE = 1.25  # the final image is this much larger than the video frame (room for a slow zoom)
PNG_LEVEL = 1  # zlib level: 1 writes a 1600x900 frame 3-4x faster than the default 6, for files about 20 % larger


# --- the provider -----------------------------------------------------------------------------------------------


class DiffusersImage(ImageProvider):
    name = "diffusers"
    run_options = frozenset({"seed", "width", "height"})
    version = "1"
    summary = "Stable Diffusion (1.x, 2.x, XL, Turbo) on this machine through diffusers; watermarked"
    needs = Needs(gpu="optional", packages=("torch", "diffusers", "transformers"), extra="diffusers")
    Params = DiffusersParams

    params: DiffusersParams

    def uses_gpu(self) -> bool:
        # Told to run on the CPU or Apple's GPU, it puts nothing on a CUDA GPU; `auto` and `cuda` use one if present.
        return self.params.device not in ("cpu", "mps")

    def check(self) -> None:
        super().check()
        resolve_model(self.params.model)
        if self.params.upscaler:
            resolve_model(self.params.upscaler, "upscaler")
        if self.params.scheduler == "lms":
            import importlib.util

            if importlib.util.find_spec("scipy") is None:
                raise NewsreelError("the lms scheduler needs scipy", "pip install scipy, or choose another scheduler")

    def identity(self) -> dict[str, Any]:
        ids: dict[str, Any] = {"model": self._identity(self.params.model)}
        if self.params.single_file_config:
            ids["single_file_config"] = self._identity(self.params.single_file_config)
        if self.params.upscaler:
            ids["upscaler"] = self._identity(self.params.upscaler)
        return ids

    def _identity(self, name: str) -> dict[str, Any]:
        try:
            source = resolve_model(name)
        except NewsreelError:
            return {"name": name, "present": False}
        if source.kind == "file":
            return {"name": source.path.name, "sha256": file_sha256_cached(source.path, self.models_dir)}
        found: dict[str, Any] = {"name": name, **folder_identity(source.path)}
        if source.revision:
            found["revision"] = source.revision
        return found

    # -- loading

    def _device_and_dtype(self) -> tuple[str, str]:
        device = _sd_models.resolve_device(self.params.device)
        dtype = self.params.dtype
        if dtype == "auto":
            dtype = "fp16" if device == "cuda" else "fp32"
        if device == "cpu" and dtype == "fp16":
            raise NewsreelError(
                "dtype fp16 does not run on the CPU (it fails or gives black images there)", "use dtype fp32 or auto"
            )
        return device, dtype

    def loaded(self) -> LoadedModel:
        """The process-wide loaded model for these parameters, loading it on first use."""
        source = resolve_model(self.params.model)
        device, dtype = self._device_and_dtype()
        return _sd_models.load(source, device, dtype, self.params.single_file_config)

    def pipeline(self, task: Literal["text2image", "image2image"] = "text2image") -> Any:
        """The loaded diffusers pipeline for a task; image2image shares the text2image pipeline's modules."""
        return _sd_models.task_pipeline(self.loaded(), task)

    def _set_scheduler(self, model: LoadedModel, pipe: Any) -> str:
        name = self.params.scheduler
        if name is None:
            key, make = "model", None
        else:
            key, make = name, SCHEDULERS[name]
        if key not in model.schedulers:
            import diffusers

            if make is None:
                model.schedulers[key] = pipe.scheduler.__class__.from_config(model.scheduler_config)
            else:
                class_name, changes = make
                model.schedulers[key] = getattr(diffusers, class_name).from_config(model.scheduler_config, **changes)
        pipe.scheduler = model.schedulers[key]
        return type(pipe.scheduler).__name__

    # -- running

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Backgrounds:
        # The loaded pipelines are shared, and a run sets their scheduler and safety checker: one run at a time.
        with _sd_models.LOCK:
            return self._run(script, workdir, progress)

    def _run(self, script: Script, workdir: Path, progress: ProgressFn) -> Backgrounds:
        import torch

        p = self.params
        progress(0.0, f"loading {p.model}")
        device, dtype = self._device_and_dtype()
        if device == "cpu":
            torch.set_num_threads(p.threads or _env_threads() or 1)
        model = self.loaded()
        task = "image2image" if p.init_image else "text2image"
        pipe = self.pipeline(task)
        if p.low_memory and not model.low_memory:
            _sd_models.use_low_memory(model)
        scheduler_name = self._set_scheduler(model, pipe)
        has_checker = model.safety_checker is not None
        if hasattr(pipe, "safety_checker"):
            pipe.safety_checker = model.safety_checker if p.safety_checker else None

        native = _native_size(pipe)
        gen_w, gen_h = (
            (p.gen_width, p.gen_height)
            if p.gen_width and p.gen_height
            else _gen_size(native, p.width, p.height, p.gen_width, p.gen_height)
        )
        out_w, out_h = round(p.width * OVERSAMPLE), round(p.height * OVERSAMPLE)
        init = self._init_image(gen_w, gen_h) if p.init_image else None
        tokenizer = getattr(pipe, "tokenizer", None) or getattr(pipe, "tokenizer_2", None)

        scenes = script.scenes
        total = len(scenes) * p.candidates
        images: list[BackgroundImage] = []
        for s, scene in enumerate(scenes):
            prompt, prompt_cut = fit_prompt(tokenizer, p.prompt_override or scene.image_prompt)
            negative_text = p.negative_prompt if p.negative_prompt is not None else script.negative_prompt
            negative, negative_cut = fit_prompt(tokenizer, negative_text)
            notes: dict[str, str] = {
                "generated": f"{gen_w}x{gen_h}",
                "scheduler": scheduler_name,
                "device": f"{device} {dtype}",
            }
            if prompt_cut:
                log.warning("image prompt of scene %d is over CLIP's 77 tokens; cut: %s", s + 1, prompt_cut)
                notes["prompt_cut"] = prompt_cut
            if negative_cut:
                log.warning("negative prompt is over CLIP's 77 tokens; cut: %s", negative_cut)
                notes["negative_prompt_cut"] = negative_cut
            seeds = [(p.seed + s + k * len(scenes)) % 2**63 for k in range(p.candidates)]
            pictures, flags = [], []
            for k, seed in enumerate(seeds):
                done = s * p.candidates + k
                message = f"scene {s + 1}/{len(scenes)}, picture {k + 1}/{p.candidates}"

                def step_done(
                    _pipe: Any, step: int, _t: Any, tensors: dict, done: int = done, message: str = message
                ) -> dict:
                    steps = max(1, getattr(_pipe, "num_timesteps", p.steps))
                    progress((done + (step + 1) / steps) / total, message)
                    return tensors

                call: dict[str, Any] = {
                    "prompt": prompt,
                    "negative_prompt": negative or None,
                    "num_inference_steps": p.steps,
                    "guidance_scale": p.guidance_scale,
                    "generator": torch.Generator("cpu").manual_seed(seed),
                    "callback_on_step_end": step_done,
                }
                if init is not None:
                    call.update(image=init, strength=p.strength)
                else:
                    call.update(width=gen_w, height=gen_h)
                result = self._generate(model, pipe, call, notes)
                pictures.append(result.images[0])
                nsfw = getattr(result, "nsfw_content_detected", None)
                checked = has_checker and p.safety_checker and nsfw is not None
                flags.append(str(bool(nsfw[0])).lower() if checked else "unchecked")

            stem = f"scene-{s + 1:02d}"
            notes["nsfw"] = flags[p.pick]
            if p.candidates > 1:
                names = []
                for k, picture in enumerate(pictures):
                    names.append(f"{stem}-candidate-{k}.png")  # numbered like `pick`
                    picture.save(workdir / names[-1], compress_level=PNG_LEVEL)
                contact_sheet(pictures, seeds, p.pick).save(workdir / f"{stem}-contact.png", compress_level=PNG_LEVEL)
                notes.update(
                    candidates=",".join(names),
                    candidate_seeds=",".join(map(str, seeds)),
                    candidate_nsfw=",".join(flags),
                    contact_sheet=f"{stem}-contact.png",
                    pick=str(p.pick),
                )
            final = self._finish(model, pictures[p.pick], prompt, seeds[p.pick], out_w, out_h, notes)
            path = workdir / f"{stem}.png"
            final.save(path, compress_level=PNG_LEVEL)
            images.append(
                BackgroundImage(
                    path=path, width=final.width, height=final.height, prompt=prompt, seed=seeds[p.pick], notes=notes
                )
            )
        progress(1.0, "images done")
        return Backgrounds(images=images)

    def _generate(self, model: LoadedModel, pipe: Any, call: dict[str, Any], notes: dict[str, str]) -> Any:
        """One pipeline call; on running out of accelerator memory, once more with the low-memory options."""
        try:
            return pipe(**call)
        except Exception as exc:
            if not _is_oom(exc):
                raise
            if model.low_memory:
                raise _oom_error(self.params) from None
        _sd_models.empty_device_cache()
        log.warning("out of GPU memory; retrying once with the low-memory options (VAE tiling, model CPU offload)")
        _sd_models.use_low_memory(model)
        _sd_models.empty_device_cache()
        notes["low_memory_retry"] = "true"
        call["generator"] = call["generator"].manual_seed(call["generator"].initial_seed())
        try:
            return pipe(**call)
        except Exception as exc:
            if _is_oom(exc):
                raise _oom_error(self.params) from None
            raise

    def _init_image(self, gen_w: int, gen_h: int) -> Any:
        from PIL import Image, ImageOps

        path = Path(self.params.init_image or "").expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NewsreelError(
                f"init image {path} cannot be read: {exc.strerror}", "check the path given as init_image"
            ) from None
        if sha256_bytes(data) != self.params.init_image_sha256:
            raise NewsreelError(f"init image {path} changed after the parameters were checked", "run again")
        with Image.open(io.BytesIO(data)) as image:
            return ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (gen_w, gen_h), Image.Resampling.LANCZOS)

    def _finish(
        self, model: LoadedModel, picture: Any, prompt: str, seed: int, out_w: int, out_h: int, notes: dict[str, str]
    ) -> Any:
        """Cover-crop to the frame's aspect, scale to the oversampled frame size, watermark."""
        import torch
        from PIL import Image, ImageOps

        if self.params.upscaler and (picture.width < out_w or picture.height < out_h):
            aspect = out_w / out_h
            crop_w, crop_h = (
                min(picture.width, round(picture.height * aspect)),
                min(picture.height, round(picture.width / aspect)),
            )
            cropped = ImageOps.fit(picture, (crop_w, crop_h), Image.Resampling.LANCZOS)
            upscaler = _sd_models.upscaler_pipeline(model, self.params.upscaler)
            picture = upscaler(
                prompt=prompt, image=cropped, num_inference_steps=self.params.upscaler_steps,
                generator=torch.Generator("cpu").manual_seed(seed),
            ).images[0]  # fmt: skip
            notes["upscaler"] = "sd-x4 then lanczos"
        else:
            notes["upscaler"] = "lanczos"
        final = ImageOps.fit(picture.convert("RGB"), (out_w, out_h), Image.Resampling.LANCZOS)
        return _watermark.mark_if_wanted(final, self.params.watermark, notes)


def _env_threads() -> int | None:
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return None


def _is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _oom_error(p: DiffusersParams) -> NewsreelError:
    return NewsreelError(
        f"out of GPU memory running {p.model}, even with the low-memory options",
        "make gen_width/gen_height smaller, use fewer candidates or a smaller model, or use device cpu",
    )


def _native_size(pipe: Any) -> int:
    """The side of the square the model was trained at: UNet sample size x VAE factor (512, 768, 1024 ...)."""
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    sample = getattr(denoiser.config, "sample_size", 64) if denoiser is not None else 64
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    return int(sample) * int(getattr(pipe, "vae_scale_factor", 8))


def _gen_size(
    native: int, frame_w: int, frame_h: int, gen_w: int | None = None, gen_h: int | None = None
) -> tuple[int, int]:
    """The size to generate: the model's native pixel area at the frame's aspect ratio (cover-cropped later).

    Sides are multiples of 64 (of native/8 for models under 512 px), the granularity SD sizes are usually picked
    at, so 16:9 on SD 1.5 gives 704x384 and 9:16 on SDXL 768x1344. One given side keeps it and fits the other.
    """
    step = max(8, min(64, native // 8))
    aspect = frame_w / frame_h
    if gen_w:
        return gen_w, max(step, round(gen_w / aspect / step) * step)
    if gen_h:
        return max(step, round(gen_h * aspect / step) * step), gen_h
    width = native * math.sqrt(aspect)
    return max(step, round(width / step) * step), max(step, round(native * native / width / step) * step)


def fit_prompt(tokenizer: Any, text: str) -> tuple[str, str]:
    """Keep what fits CLIP's window (77 tokens with start and end); return (kept, cut), cut at a word boundary."""
    text = " ".join((text or "").split())
    if tokenizer is None or not text:
        return text, ""
    window = tokenizer.model_max_length if 8 < tokenizer.model_max_length < 100_000 else 77
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    if len(encoded["input_ids"]) <= window - 2:
        return text, ""
    cut = encoded["offset_mapping"][window - 2][0]
    start = text.rfind(" ", 0, cut + 1)
    if start > 0 and not text[cut - 1 : cut].isspace():  # the first token that does not fit is mid-word
        cut = start
    return text[:cut].rstrip(" ,;"), text[cut:].strip()


def contact_sheet(pictures: list[Any], seeds: list[int], pick: int) -> Any:
    """All candidates side by side (rows of 4), each labelled with its number and seed; the picked one framed."""
    from PIL import Image, ImageDraw, ImageFont

    from ...assets import FONT_REGULAR

    side = 256
    thumbs = [picture.copy() for picture in pictures]
    for thumb in thumbs:
        thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    cols = min(4, len(thumbs))
    rows = math.ceil(len(thumbs) / cols)
    label = 22
    sheet = Image.new("RGB", (cols * (side + 8) + 8, rows * (side + label + 8) + 8), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.truetype(str(FONT_REGULAR), 14)
    except OSError:
        font = ImageFont.load_default()
    for k, thumb in enumerate(thumbs):
        x, y = 8 + (k % cols) * (side + 8), 8 + (k // cols) * (side + label + 8)
        sheet.paste(thumb, (x + (side - thumb.width) // 2, y + (side - thumb.height) // 2))
        if k == pick:
            draw.rectangle((x - 4, y - 4, x + side + 3, y + side + label + 3), outline=(255, 196, 0), width=3)
        draw.text(
            (x, y + side + 3),
            f"{k} seed {seeds[k]}" + ("  (used)" if k == pick else ""),
            fill=(230, 230, 230),
            font=font,
        )
    return sheet
