"""Stable Diffusion models for the `diffusers` image provider: where a model is, which bytes it is, how it loads.

- `resolve_model` finds a model on this machine, never on the network: a Hugging Face id already in the local
  Hugging Face cache, a diffusers folder (with model_index.json), or a single `.safetensors` / `.ckpt` checkpoint.
- `folder_identity` and `file_sha256_cached` name the model's bytes for the cache key (a folder by its configs, a
  checkpoint by its sha256, hashed once per size and mtime).
- `load` returns the process-wide `LoadedModel` for (model, device, dtype), loading it on first use; the img2img and
  upscaler pipelines are derived from it here too. A single checkpoint loads with the diffusers configs of its
  family, found offline (`single_file_config`).

Nothing here imports torch or diffusers until a model is loaded. What runs the pipelines is in `diffusers.py`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ...errors import NewsreelError
from ...hashing import sha256_file as _sha256  # one module-level name, so a test can count the hashing

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"


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
    try:
        if not (hub_cache() / f"models--{name.replace('/', '--')}").is_dir():
            raise OSError("not in the cache")  # certain without huggingface_hub's import (~0.4 s of every make)
        from huggingface_hub import snapshot_download

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


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, found as huggingface_hub finds it (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE,
    HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub) without importing it; a test checks it
    against huggingface_hub's own constant, which is used when something imported it already."""
    imported = sys.modules.get("huggingface_hub.constants")
    if imported is not None:
        return Path(imported.HF_HUB_CACHE)
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


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
    dtype: str  # "fp16" | "fp32": the upscaler loads in the same
    low_memory: bool = False
    schedulers: dict[str, Any] = field(default_factory=dict)


_MODELS: OrderedDict[tuple, LoadedModel] = OrderedDict()
_KEEP_MODELS = 2  # models kept loaded per process; the least recently used one beyond this is dropped
LOCK = threading.RLock()  # guards _MODELS and every LoadedModel; the provider holds it for a whole run


def load(source: ModelSource, device: str, dtype: str, single_file_config: str | None) -> LoadedModel:
    """The process-wide loaded model for this source, device and dtype, loading it on first use."""
    stamp = (
        folder_identity(source.path)["config_sha256"]
        if source.kind == "folder"
        else (source.path.stat().st_size, source.path.stat().st_mtime_ns)
    )
    key = (source.kind, str(source.path), stamp, single_file_config, device, dtype)
    with LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        pipe = _load_text2image(source, dtype, single_file_config)
        pipe.set_progress_bar_config(disable=True)
        if device != "cpu":
            pipe.to(device)
        model = LoadedModel(
            pipelines={"text2image": pipe},
            scheduler_config=pipe.scheduler.config,
            safety_checker=getattr(pipe, "safety_checker", None),
            device=device,
            dtype=dtype,
        )
        _MODELS[key] = model
        while len(_MODELS) > _KEEP_MODELS:
            _MODELS.popitem(last=False)
        return model


def task_pipeline(model: LoadedModel, task: Literal["text2image", "image2image"]) -> Any:
    """The model's pipeline for a task; image2image is made on first use and shares the text2image modules."""
    with LOCK:
        if task not in model.pipelines:
            import diffusers

            pipe = diffusers.AutoPipelineForImage2Image.from_pipe(model.pipelines["text2image"])
            pipe.set_progress_bar_config(disable=True)
            model.pipelines[task] = pipe
        return model.pipelines[task]


def upscaler_pipeline(model: LoadedModel, name: str) -> Any:
    """The SD x4 upscaler `name`, loaded once per model on the model's device and in its dtype."""
    with LOCK:
        if "upscale" not in model.pipelines:
            import diffusers
            import torch

            source = resolve_model(name, "upscaler")
            try:
                with _quiet_loading():
                    pipe = diffusers.StableDiffusionUpscalePipeline.from_pretrained(
                        str(source.path), local_files_only=True,
                        **_dtype_kwarg(torch.float16 if model.dtype == "fp16" else torch.float32),
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


def use_low_memory(model: LoadedModel) -> None:
    """Switch every pipeline of the model to the low-memory options, and those it loads later."""
    with LOCK:
        for pipe in model.pipelines.values():
            _apply_low_memory(pipe, model.device)
        model.low_memory = True


def unload_pipelines() -> None:
    """Drop every loaded pipeline of this process (frees the GPU or RAM they hold)."""
    with LOCK:
        _MODELS.clear()
    empty_device_cache()


def empty_device_cache() -> None:
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


def resolve_device(choice: str) -> str:
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

