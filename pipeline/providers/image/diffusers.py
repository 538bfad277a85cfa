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
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from ...errors import NewsreelError
from ...hashing import sha256_bytes
from ...hashing import sha256_file as _sha256  # one module-level name, so a test can count the hashing
from ...provider import Needs, Params, ProgressFn, ServerPath, operational
from ...stages.image import BackgroundImage, Backgrounds, ImageProvider
from ...stages.script import Script
from . import _watermark

log = logging.getLogger(__name__)

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
OVERSAMPLE = 1.25  # the final image is this much larger than the video frame (room for a slow zoom)
MAX_INIT_PIXELS = 50_000_000
PNG_LEVEL = 1  # zlib level: 1 writes a 1600x900 frame 3-4x faster than the default 6, for files about 20 % larger

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
            data["init_image_sha256"] = _check_init_image(str(data["init_image"]))
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


def _check_init_image(path: str) -> str:
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
    return _sha256(file)


# --- where the model is -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """A model found on this machine: a diffusers folder or a single checkpoint file."""

    name: str  # as the user gave it
    kind: Literal["folder", "file"]
    path: Path
    revision: str | None = None  # the commit of a Hugging Face cache snapshot


def resolve_model(name: str, what: str = "image model") -> ModelSource:
    """Find `name` on this machine without touching the network; NewsreelError says how to get it otherwise."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise NewsreelError(
                f"{what} {name} is a folder without model_index.json, so not a diffusers model",
                "pass a folder written by save_pretrained or `hf download`, or a .safetensors/.ckpt file",
            )
        revision = path.name if path.parent.name == "snapshots" else None
        return ModelSource(name, "folder", path.resolve(), revision)
    if path.is_file():
        if path.suffix.lower() not in (".safetensors", ".ckpt"):
            raise NewsreelError(
                f"{what} {name} is not a .safetensors or .ckpt file", "pass a checkpoint file or a diffusers folder"
            )
        return ModelSource(name, "file", path.resolve())
    looks_like_path = (
        path.is_absolute()
        or name.startswith((".", "~"))
        or "\\" in name
        or name.count("/") > 1
        or path.suffix.lower() in (".safetensors", ".ckpt")
    )
    if looks_like_path:
        raise NewsreelError(f"{what} {name} does not exist", "check the path, or give a downloaded Hugging Face id")
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(name, local_files_only=True))
    except (OSError, ValueError):  # LocalEntryNotFoundError is an OSError, a malformed id a ValueError
        raise NewsreelError(
            f"{what} {name} is not on this machine (newsreel never downloads at run time)",
            f"on a connected machine run `hf download {name}` (older huggingface_hub: `huggingface-cli download "
            f"{name}`), or pass a local model folder or .safetensors/.ckpt file",
        ) from None
    if not (folder / "model_index.json").is_file():
        raise NewsreelError(
            f"{what} {name} is only partly downloaded (no model_index.json)", f"run `hf download {name}` again"
        )
    return ModelSource(name, "folder", folder, folder.name)


def folder_identity(folder: Path) -> dict[str, str]:
    """sha256 of model_index.json and the denoiser's config: which model this folder is, without hashing weights."""
    h = hashlib.sha256((folder / "model_index.json").read_bytes())
    for part in ("unet", "transformer", "prior"):
        config = folder / part / "config.json"
        if config.is_file():
            h.update(config.read_bytes())
            break
    return {"config_sha256": h.hexdigest()}


def file_sha256_cached(path: Path, cache_dir: Path) -> str:
    """sha256 of a (multi-GB) checkpoint, kept in a small json keyed by size and mtime so it is hashed once."""
    stat = path.stat()
    sidecar = cache_dir / "hashes" / (hashlib.sha1(str(path).encode()).hexdigest() + ".json")
    key = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    with contextlib.suppress(OSError, ValueError, KeyError):
        saved = json.loads(sidecar.read_text())
        if {k: saved[k] for k in key} == key:
            return saved["sha256"]
    digest = _sha256(path)
    with contextlib.suppress(OSError):
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(json.dumps({**key, "sha256": digest}))
    return digest


# --- loaded pipelines, shared within the process ----------------------------------------------------------------


@dataclass
class LoadedModel:
    """One model on one device: its pipelines by task (they share their modules) and what runs may change on them."""

    pipelines: dict[str, Any]  # "text2image" | "image2image" | "upscale" -> pipeline
    scheduler_config: Any  # the model's own scheduler config
    safety_checker: Any  # the model's checker module, or None
    device: str
    low_memory: bool = False
    schedulers: dict[str, Any] = field(default_factory=dict)


_MODELS: OrderedDict[tuple, LoadedModel] = OrderedDict()
_KEEP_MODELS = 2  # models kept loaded per process; the least recently used one beyond this is dropped
_LOCK = threading.RLock()


def unload_pipelines() -> None:
    """Drop every loaded pipeline of this process (frees the GPU or RAM they hold)."""
    with _LOCK:
        _MODELS.clear()
    _empty_device_cache()


def _empty_device_cache() -> None:
    import gc
    import sys

    gc.collect()  # frames of a failed call can hold its tensors in reference cycles
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def _quiet_loading():
    """No progress bars from diffusers and transformers while loading; restored afterwards."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    d_on, t_on = dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if d_on:
            dlog.enable_progress_bar()
        if t_on:
            tlog.enable_progress_bar()


def _dtype_kwarg(torch_dtype: Any) -> dict[str, Any]:
    """diffusers renamed `torch_dtype` to `dtype` (and warns on the old name) when it added `_resolve_dtype`."""
    from diffusers.utils import deprecation_utils

    return {"dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype": torch_dtype}


def _variant(folder: Path, dtype: str) -> str | None:
    """Use the fp16 weight files when we run in fp16 and they are there, or when they are all there is."""
    weights = [p.name for sub in ("unet", "transformer") if (folder / sub).is_dir() for p in (folder / sub).iterdir()]
    has_fp16 = any(".fp16." in n for n in weights)
    has_plain = any(n.endswith((".safetensors", ".bin")) and ".fp16." not in n for n in weights)
    return "fp16" if has_fp16 and (dtype == "fp16" or not has_plain) else None


def _single_file_config(source: ModelSource, config: str | None) -> Path:
    """The diffusers configs a single checkpoint is loaded with: given, or its family's, from the local HF cache."""
    if config:
        return resolve_model(config, "single_file_config").path
    from diffusers.loaders.single_file_utils import fetch_diffusers_config, load_single_file_checkpoint

    try:
        if source.path.suffix.lower() == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(source.path), framework="pt") as f:
                family = fetch_diffusers_config(_LazyTensors(f))["pretrained_model_name_or_path"]
        else:
            checkpoint = load_single_file_checkpoint(str(source.path), local_files_only=True)
            family = fetch_diffusers_config(checkpoint)["pretrained_model_name_or_path"]
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, OSError, RuntimeError) as exc:  # not SD
        raise NewsreelError(
            f"cannot tell which model family {source.name} belongs to ({type(exc).__name__}: {exc})",
            "set single_file_config to a diffusers folder of the same family, or check that it is an SD checkpoint",
        ) from None
    try:
        return resolve_model(family, "config").path
    except NewsreelError:
        raise NewsreelError(
            f"{source.name} looks like a {family} checkpoint, whose diffusers configs are not on this machine",
            f"on a connected machine run `hf download {family} --include '*.json' '*.txt'` (a few kB), or set "
            "single_file_config to a diffusers folder of the same family",
        ) from None


class _LazyTensors:
    """A checkpoint mapping that reads a tensor only when asked: enough to tell a model's family from its keys."""

    def __init__(self, handle: Any):
        self._f, self._keys = handle, set(handle.keys())

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __getitem__(self, key: str) -> Any:
        return self._f.get_tensor(key)

    def __iter__(self):
        return iter(self._keys)

    def keys(self):
        return self._keys


def _load_text2image(source: ModelSource, dtype: str, single_file_config: str | None) -> Any:
    import diffusers
    import torch

    torch_dtype = torch.float16 if dtype == "fp16" else torch.float32
    try:
        with _quiet_loading():
            if source.kind == "folder":
                return diffusers.AutoPipelineForText2Image.from_pretrained(
                    str(source.path),
                    local_files_only=True,
                    variant=_variant(source.path, dtype),
                    **_dtype_kwarg(torch_dtype),
                )
            config = _single_file_config(source, single_file_config)
            class_name = json.loads((config / "model_index.json").read_text())["_class_name"]
            pipeline_class = getattr(diffusers, class_name, None)
            if pipeline_class is None or not hasattr(pipeline_class, "from_single_file"):
                raise NewsreelError(
                    f"{source.name}: {class_name} models cannot be loaded from a single file", "use a diffusers folder"
                )
            pipe = pipeline_class.from_single_file(
                str(source.path), config=str(config), local_files_only=True, **_dtype_kwarg(torch_dtype)
            )
            return diffusers.AutoPipelineForText2Image.from_pipe(pipe)
    except NewsreelError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NewsreelError(
            f"cannot load image model {source.name}: {first}",
            "check that the download is complete (`hf download` it again) and that it is a Stable Diffusion model",
        ) from None


def _resolve_device(choice: str) -> str:
    import torch

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if choice == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if choice == "cuda" and not cuda:
        raise NewsreelError(
            "device cuda was asked for, but torch sees no CUDA GPU",
            "use device auto or cpu, or install a CUDA build of torch",
        )
    if choice == "mps" and not mps:
        raise NewsreelError("device mps was asked for, but torch sees no Apple GPU", "use device auto or cpu")
    return choice


def _apply_low_memory(pipe: Any, device: str) -> None:
    """VAE slicing and tiling; model CPU offload on CUDA; attention slicing on Apple GPUs only.

    PyTorch 2's scaled-dot-product attention never holds the attention matrix; diffusers' sliced processor replaces
    it and does, a slice at a time: at 1024x1024 on SD 1.5 one slice is 4 heads x 16384^2 x 2 bytes = 2 GiB. So on
    CUDA slicing costs memory instead of saving it (an OOM retry with it failed under a 3 GiB cap here; without it
    the same retry peaked at 2.8 GiB). diffusers recommends it on MPS, so it is kept there.
    """
    if device == "mps":
        pipe.enable_attention_slicing()
    vae = getattr(pipe, "vae", None)
    if vae is not None and hasattr(vae, "enable_tiling"):
        vae.enable_slicing()
        vae.enable_tiling()
    if device == "cuda":
        pipe.enable_model_cpu_offload()


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
        device = _resolve_device(self.params.device)
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
        stamp = (
            folder_identity(source.path)["config_sha256"]
            if source.kind == "folder"
            else (source.path.stat().st_size, source.path.stat().st_mtime_ns)
        )
        key = (source.kind, str(source.path), stamp, self.params.single_file_config, device, dtype)
        with _LOCK:
            if key in _MODELS:
                _MODELS.move_to_end(key)
                return _MODELS[key]
            pipe = _load_text2image(source, dtype, self.params.single_file_config)
            pipe.set_progress_bar_config(disable=True)
            if device != "cpu":
                pipe.to(device)
            model = LoadedModel(
                pipelines={"text2image": pipe},
                scheduler_config=pipe.scheduler.config,
                safety_checker=getattr(pipe, "safety_checker", None),
                device=device,
            )
            _MODELS[key] = model
            while len(_MODELS) > _KEEP_MODELS:
                _MODELS.popitem(last=False)
            return model

    def pipeline(self, task: Literal["text2image", "image2image"] = "text2image") -> Any:
        """The loaded diffusers pipeline for a task; image2image shares the text2image pipeline's modules."""
        model = self.loaded()
        with _LOCK:
            if task not in model.pipelines:
                import diffusers

                pipe = diffusers.AutoPipelineForImage2Image.from_pipe(model.pipelines["text2image"])
                pipe.set_progress_bar_config(disable=True)
                model.pipelines[task] = pipe
            return model.pipelines[task]

    def _upscaler(self, model: LoadedModel) -> Any:
        with _LOCK:
            if "upscale" not in model.pipelines:
                import diffusers
                import torch

                source = resolve_model(self.params.upscaler or "", "upscaler")
                _, dtype = self._device_and_dtype()
                try:
                    with _quiet_loading():
                        pipe = diffusers.StableDiffusionUpscalePipeline.from_pretrained(
                            str(source.path), local_files_only=True,
                            **_dtype_kwarg(torch.float16 if dtype == "fp16" else torch.float32),
                        )  # fmt: skip
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    raise NewsreelError(
                        f"cannot load the upscaler {source.name}: {exc}",
                        "check that it is stabilityai/stable-diffusion-x4-upscaler",
                    ) from None
                pipe.set_progress_bar_config(disable=True)
                if model.device != "cpu":
                    pipe.to(model.device)
                if model.low_memory:
                    _apply_low_memory(pipe, model.device)
                model.pipelines["upscale"] = pipe
            return model.pipelines["upscale"]

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
        with _LOCK:
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
            self._low_memory(model)
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

    def _low_memory(self, model: LoadedModel) -> None:
        with _LOCK:
            for pipe in model.pipelines.values():
                _apply_low_memory(pipe, model.device)
            model.low_memory = True

    def _generate(self, model: LoadedModel, pipe: Any, call: dict[str, Any], notes: dict[str, str]) -> Any:
        """One pipeline call; on running out of accelerator memory, once more with the low-memory options."""
        try:
            return pipe(**call)
        except Exception as exc:
            if not _is_oom(exc):
                raise
            if model.low_memory:
                raise _oom_error(self.params) from None
        _empty_device_cache()
        log.warning("out of GPU memory; retrying once with the low-memory options (VAE tiling, model CPU offload)")
        self._low_memory(model)
        _empty_device_cache()
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
            upscaler = self._upscaler(model)
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
