"""The parameters of the `diffusers` image provider, checked when they are given: the schedulers by name, the turbo
models' own step and guidance defaults, and the init image (opened far enough to know it is one; its sha256 becomes a
parameter, so other bytes at the same path are another cache key)."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from ...errors import NewsreelError
from ...hashing import sha256_file
from ...provider import Params, ServerPath, operational
from ._sd_models import DEFAULT_MODEL

MAX_INIT_PIXELS = 50_000_000

SchedulerName = Literal[
    "ddim", "pndm", "plms", "euler", "euler-ancestral", "heun", "dpm2", "dpm2-ancestral",
    "dpm++2m", "dpm++2m-karras", "unipc", "lms", "lcm", "ddpm",
]  # fmt: skip

# name -> (diffusers class, config changes). Each is built from the model's own scheduler config, so the model's
# beta schedule, prediction type and timestep spacing carry over.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": False}),
    "plms": ("PNDMScheduler", {"skip_prk_steps": True}),  # CompVis' PLMS is PNDM without the Runge-Kutta warm-up
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "dpm2": ("KDPM2DiscreteScheduler", {}),
    "dpm2-ancestral": ("KDPM2AncestralDiscreteScheduler", {}),
    "dpm++2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpm++2m-karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),  # needs scipy
    "lcm": ("LCMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
}
assert set(SCHEDULERS) == set(get_args(SchedulerName))
# Spellings are compared without case, spaces, "-" and "_" ("DPM++ 2M Karras", "euler_a").
_SCHEDULER_SPELLINGS = {name.replace("-", ""): name for name in SCHEDULERS} | {"eulera": "euler-ancestral"}


class DiffusersParams(Params):
    """Parameters of the `diffusers` image provider (every one of them is part of the cache key)."""

    model: ServerPath = DEFAULT_MODEL  # Hugging Face id, diffusers folder, or .safetensors/.ckpt file
    single_file_config: ServerPath | None = None  # for a single checkpoint: diffusers folder or HF id with its configs
    prompt_override: str | None = None  # used for every scene instead of the script's image prompts
    negative_prompt: str | None = None  # None: the script's
    seed: int = Field(0, ge=0)
    steps: int = 30
    guidance_scale: float = Field(7.5, ge=0)
    scheduler: SchedulerName | None = None  # None: the model's own
    gen_width: int | None = None  # None: the model's native area at the frame's aspect ratio
    gen_height: int | None = None
    width: int = Field(1280, ge=16)  # the video frame, filled in by the runner
    height: int = Field(720, ge=16)
    upscaler: ServerPath | None = None  # SD x4 upscaler weights (HF id or folder); None: Lanczos only
    upscaler_steps: int = Field(20, ge=1)
    candidates: int = Field(1, ge=1, le=16)
    pick: int = Field(0, ge=0)  # which candidate becomes the background
    init_image: ServerPath | None = None  # img2img: start from this picture
    init_image_sha256: str | None = None  # computed from the file when the parameters are validated
    strength: float = 0.8  # img2img: 0 keeps the init image, 1 ignores it
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "fp16", "fp32"] = "auto"  # auto: fp16 on CUDA, fp32 elsewhere
    low_memory: bool = False  # VAE slicing and tiling; model CPU offload on CUDA; attention slicing on MPS
    watermark: bool = True
    safety_checker: bool = True  # used when the model has one
    threads: int | None = operational(None, ge=1)  # CPU torch threads; None: OMP_NUM_THREADS if set, else 1

    @model_validator(mode="before")
    @classmethod
    def _defaults_and_init_image(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "turbo" in str(data.get("model", "")).lower():
            data.setdefault("steps", 4 if data.get("init_image") else 1)
            data.setdefault("guidance_scale", 0.0)
        if data.get("init_image"):
            data["init_image_sha256"] = check_init_image(str(data["init_image"]))
        else:
            data["init_image_sha256"] = None
        return data

    @field_validator("scheduler", mode="before")
    @classmethod
    def _scheduler_name(cls, value: Any) -> Any:
        if value is None:
            return None
        spelling = "".join(str(value).lower().split()).replace("-", "").replace("_", "").replace("dpmpp", "dpm++")
        if spelling not in _SCHEDULER_SPELLINGS:
            raise NewsreelError(f"unknown scheduler '{value}'", f"choose one of: {', '.join(SCHEDULERS)}")
        return _SCHEDULER_SPELLINGS[spelling]

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: int) -> int:
        if value < 1:
            raise NewsreelError(f"steps must be at least 1, not {value}", "SD 1.x/2.x/XL want 20-50, Turbo models 1-4")
        return value

    @field_validator("strength")
    @classmethod
    def _strength(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise NewsreelError(f"strength must be between 0 and 1, not {value}", "0.8 repaints most of the init image")
        return value

    @field_validator("gen_width", "gen_height")
    @classmethod
    def _multiple_of_8(cls, value: int | None, info: Any) -> int | None:
        if value is not None and (value < 64 or value % 8):
            near = max(64, round(value / 8) * 8)
            raise NewsreelError(
                f"{info.field_name} must be a multiple of 8 and at least 64, not {value}", f"try {near}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DiffusersParams:
        if self.pick >= self.candidates:
            raise NewsreelError(
                f"pick {self.pick} does not exist with {self.candidates} candidate(s)",
                f"pick counts from 0: use 0..{self.candidates - 1}",
            )
        if self.init_image and int(self.steps * self.strength) < 1:
            need = math.ceil(1 / self.strength) if self.strength > 0 else None
            raise NewsreelError(
                f"img2img runs int(steps x strength) = int({self.steps} x {self.strength}) = 0 denoising steps",
                f"raise steps to {need} or more" if need else "raise strength above 0",
            )
        if self.device == "cpu" and self.dtype == "fp16":
            raise NewsreelError("dtype fp16 does not run on the CPU", "use dtype fp32 (or auto) with device cpu")
        return self


def check_init_image(path: str) -> str:
    """Open the init image far enough to know it is one and its size; return the sha256 of its bytes."""
    from PIL import Image, UnidentifiedImageError

    file = Path(path).expanduser()
    if file.is_dir():
        raise NewsreelError(f"init image {path} is a folder, not an image", "pass a PNG, JPEG or WebP file")
    if not file.is_file():
        what = "does not exist" if not file.exists() else "is not a regular file (a device or a pipe)"
        raise NewsreelError(f"init image {path} {what}", "check the path given as init_image")
    too_large = "scale it down first; it is resized to the generation size anyway"
    try:
        # The size is checked below against a tighter limit than Pillow's, so its bomb warning would only add lines.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file)
        with image:
            width, height = image.size
            if width * height > MAX_INIT_PIXELS:
                raise NewsreelError(
                    f"init image {path} is too large: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
                    f"the limit is {MAX_INIT_PIXELS / 1e6:.0f} megapixels",
                    too_large,
                )
            image.verify()
    except Image.DecompressionBombError as exc:  # past Pillow's own limit Image.open refuses before we see the size
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(pixels.group(1)) / 1e6:.0f} megapixels" if pixels else "more pixels than Pillow will open"
        raise NewsreelError(
            f"init image {path} is too large: {count}; the limit is {MAX_INIT_PIXELS / 1e6:.0f} megapixels", too_large
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NewsreelError(
            f"init image {path} cannot be read as an image ({exc})", "use a PNG, JPEG or WebP file"
        ) from None
    return sha256_file(file)
