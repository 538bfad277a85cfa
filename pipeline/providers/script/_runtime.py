"""The fast runtime for the local script model: ONNX Runtime GenAI running the model's own weights in float32
arithmetic, with transformers' token choice.

Why it writes the same text as transformers: the ONNX model is exported (by onnxruntime-genai's model builder) from
the very fp32 folder transformers loads (its linear layers then stored as the exact 4-bit values they were
dequantized from, computed in float32), ONNX Runtime only computes the next-token logits, and the token is chosen
here exactly as `transformers.generate` chooses it: repetition penalty over the prompt and the text so far, then for
sampling temperature, top-k 50 (transformers' default), top-p, and `torch.multinomial` under the turn's seed, whose
random draws `TorchDraws` makes bit for bit with numpy (so this path never imports torch: ~2 s). The output layer
is a shortlist (`ShortlistHead`): approximate logits from its 8-bit weights bound the exact ones, and exact float32
logits are computed for the ~200 tokens that could be chosen, which picks the token the whole exact layer would.
A continuation reuses the previous passage's KV cache for the text both prompts share. Only the arithmetic's
rounding differs (ONNX Runtime's and numpy's kernels instead of torch's, summing in another order), which moves
logits in their last bits: a different token needs two candidates tied to within that rounding, which did not
happen in any of the benchmark's scripts (8 headlines: `benchmarks/script_runtime.py`). Transformers' own output is
not bit-stable across CPUs and torch builds either, and its cache keys never named them.

Why it is faster: transformers spends much of a token in Python and per-operator overhead for this 135M model; ONNX
Runtime runs the whole graph in C++ with a preallocated KV cache, and `_gridpack` puts the linear layers back on the
GGUF's 4-bit grid, so a token reads ~85 MB of weights (the shortlisted output layer included) instead of ~540 MB.
BENCHMARKS.md, "Script runtime", has the numbers.

The conversion is one-time and built-then-renamed, like the transformers folder it starts from.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from importlib import metadata, util
from pathlib import Path
from typing import Any

from ...errors import NewsreelError
from . import _gridpack
from ._sampling import Bounds, Sampling, TorchDraws, choose_token
from ._text import stop_here

log = logging.getLogger(__name__)

RUNTIME = "onnxruntime-genai"
MODULE = "onnxruntime_genai"
SOURCE_FILE = "newsreel-source.json"  # inside a finished folder: what it was made from (written last)
FAILED_SUFFIX = ".failed.json"  # beside the folder: this runtime version could not build it; do not retry each run
BUILD_TIMEOUT_S = 900
FP32_BYTES = 560_000_000  # an fp32 SmolLM2-135M folder (transformers or ONNX): 538-541 MB of weights, plus files
REUSE_MIN_TOKENS = 64  # reuse the previous turn's KV cache when the prompts share at least this many tokens
REUSE_ROOM_TOKENS = 1024  # a generator's KV cache room: a first passage and its continuations (~47 MB)
BUILD_BYTES = 800_000_000  # building the ONNX model at its largest: the float32 export and its 4-bit repacking


def runtime_version() -> str | None:
    """The installed onnxruntime-genai's version, or None when it is not installed."""
    if util.find_spec(MODULE) is None:
        return None
    try:
        return metadata.version(RUNTIME)
    except metadata.PackageNotFoundError:
        return "unknown"


# ------------------------------------------------------------------------------------------------------------------
# Room for a conversion


def ensure_room(parent: Path, needed: int, what: str) -> None:
    """Raise the one-line error when `parent` (the models folder) cannot take `needed` more bytes: read-only, not
    creatable, or too full. Cheap; called before a conversion starts writing."""
    hint = (
        f"free about {needed / 1e9:.1f} GB there, make it writable, or point models_dir elsewhere "
        f"(NEWSREEL_MODELS_DIR=/path or models_dir in newsreel.toml)"
    )
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NewsreelError(
            f"cannot create the models folder {parent} to convert {what} (needs about {needed / 1e9:.1f} GB): "
            f"{exc.strerror or exc}",
            hint,
        ) from exc
    try:  # a real write, not os.access(): it also catches read-only mounts, and permissions that bind root too
        fd, probe = tempfile.mkstemp(prefix=".newsreel-write-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise NewsreelError(
            f"the models folder {parent} is read-only: converting {what} once needs about {needed / 1e9:.1f} GB there",
            hint,
        ) from exc
    free = shutil.disk_usage(parent).free
    if free < needed:
        raise NewsreelError(
            f"the models folder {parent} is full: converting {what} once needs about {needed / 1e9:.1f} GB, "
            f"{free / 1e9:.1f} GB is free",
            hint,
        )


def space_error(exc: OSError, parent: Path, needed: int, what: str) -> NewsreelError | None:
    """The one-line error for a conversion that ran out of space or permission half-way; None for other errors."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NewsreelError(
            f"the models folder {parent} filled up while converting {what} (needs about {needed / 1e9:.1f} GB)",
            f"free about {needed / 1e9:.1f} GB there or point models_dir elsewhere (NEWSREEL_MODELS_DIR=/path)",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return NewsreelError(
            f"the models folder {parent} is read-only: converting {what} once needs about {needed / 1e9:.1f} GB there",
            "make it writable or point models_dir elsewhere (NEWSREEL_MODELS_DIR=/path)",
        )
    return None


# ------------------------------------------------------------------------------------------------------------------
# Conversion: transformers fp32 folder -> ONNX fp32 folder


class BuildFailed(Exception):
    """The ONNX model could not be built here (missing builder dependency, unsupported model): use transformers."""


def build_onnx(source: Path, folder: Path, facts: dict[str, Any], precision: str = "fp32", grid: bool = True) -> None:
    """Export the transformers folder `source` to an ONNX model in `folder` (fp32: the weights transformers runs;
    with `grid`, the linear layers are then put back on the GGUF's 4-bit grid with float32 arithmetic, `_gridpack`;
    benchmarks/script_runtime.py also builds plain fp32 and the builder's int4 to compare), built under a temporary
    name and renamed into place: a build that is killed or fails never leaves a folder that looks finished
    (SOURCE_FILE is written last, and the folder only gets its name once complete). Raises NewsreelError for a
    read-only or full models folder, BuildFailed when the builder itself fails (recorded beside the folder, so later
    runs do not try again with the same onnxruntime-genai version) or another file error stops it."""
    parent = folder.parent
    version = runtime_version()
    ensure_room(parent, BUILD_BYTES, "SmolLM2 for ONNX Runtime")
    remove_stale_temps(parent, folder.name)
    tmp = parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    # The builder runs in its own process: it imports torch, onnx and transformers at full size, prints progress bars,
    # and its Python API changes between releases while its command line has stayed the same.
    command = [
        sys.executable, "-m", f"{MODULE}.models.builder",
        "-i", str(source), "-o", str(tmp), "-p", precision, "-e", "cpu", "-c", str(tmp / ".builder-cache"),
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    try:
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BuildFailed(f"the ONNX model builder ran over {BUILD_TIMEOUT_S} s") from exc
        if done.returncode != 0 or not (tmp / "genai_config.json").is_file():
            # A full or read-only disk shows up as an OSError in the builder's output: say that, not "build failed".
            output = (done.stderr or "") + (done.stdout or "")
            if "No space left on device" in output or "Disk quota exceeded" in output:
                raise space_error(OSError(errno.ENOSPC, "no space"), parent, BUILD_BYTES, "SmolLM2 for ONNX Runtime")
            last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip()), "no output")
            raise BuildFailed(f"the ONNX model builder failed (exit {done.returncode}): {last[:300]}")
        shutil.rmtree(tmp / ".builder-cache", ignore_errors=True)
        record = {**facts, "runtime": f"{RUNTIME} {version}", "precision": precision, "grid_matrices": 0}
        if grid:
            staging = tmp / ".repacked"
            try:
                record["grid_matrices"] = _gridpack.repack(tmp, staging)
            except Exception as exc:  # noqa: BLE001 - the float32 export is still whole, and writes the same text
                log.warning("kept the float32 ONNX model (slower): the 4-bit grid pass failed: %s", exc)
            else:
                if record["grid_matrices"]:  # inside the temporary folder: a kill between the moves is never loaded
                    os.replace(staging / _gridpack.DATA_FILE, tmp / _gridpack.DATA_FILE)
                    os.replace(staging / _gridpack.MODEL_FILE, tmp / _gridpack.MODEL_FILE)
                    head = [staging / name for name in ShortlistHead.FILES]
                    if all(path.is_file() for path in head):
                        for path in head:
                            os.replace(path, tmp / path.name)
                        record["shortlist_head"] = True
            shutil.rmtree(staging, ignore_errors=True)
        (tmp / SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n")
        if folder.exists() and not (folder / SOURCE_FILE).is_file():
            shutil.rmtree(folder)  # a folder without the marker is not ours to trust (conversions arrive whole)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / SOURCE_FILE).is_file():  # not "another process finished first"
                raise
    except BuildFailed as exc:
        _remember_failure(folder, version, str(exc))
        raise
    except OSError as exc:
        space = space_error(exc, parent, BUILD_BYTES, "SmolLM2 for ONNX Runtime")
        if space is not None:
            raise space from exc
        raise BuildFailed(f"building the ONNX model failed: {exc}") from exc  # not remembered: may be passing
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("built the ONNX model %s in %.1f s", folder, time.perf_counter() - started)


def _failure_record(folder: Path) -> Path:
    return folder.with_name(folder.name + FAILED_SUFFIX)


def _remember_failure(folder: Path, version: str | None, reason: str) -> None:
    try:
        _failure_record(folder).write_text(json.dumps({"runtime": f"{RUNTIME} {version}", "reason": reason}) + "\n")
    except OSError:
        pass  # a read-only folder only costs trying again next run


def failed_before(folder: Path) -> str | None:
    """Why this onnxruntime-genai version could not build `folder` before, or None (never tried, or upgraded since)."""
    try:
        record = json.loads(_failure_record(folder).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("runtime") != f"{RUNTIME} {runtime_version()}":
        return None
    return str(record.get("reason", "unknown"))


STALE_TEMP_SECONDS = 3600  # a conversion temp folder older than this was left by a killed process


def remove_stale_temps(parent: Path, name: str) -> None:
    """Remove `.NAME.tmp-*` conversion folders in `parent` older than STALE_TEMP_SECONDS (NAME may be a glob)."""
    now = time.time()
    for old in parent.glob(f".{name}.tmp-*"):
        try:
            if now - old.stat().st_mtime > STALE_TEMP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


# ------------------------------------------------------------------------------------------------------------------
# Prompt and text: the chat template and tokenizer transformers uses, without importing transformers


class ChatTokenizer:
    """The folder's tokenizer.json (through the `tokenizers` library transformers wraps) and its chat template
    (rendered as transformers renders it: a sandboxed jinja2 with trim_blocks and lstrip_blocks). Gives the same ids
    as `AutoTokenizer.apply_chat_template(..., add_generation_prompt=True)` and the same text as
    `decode(..., skip_special_tokens=True)`; tests/providers/script/test_runtime.py checks both against
    transformers."""

    def __init__(self, folder: Path):
        import jinja2.sandbox
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        template_file = folder / "chat_template.jinja"
        if template_file.is_file():
            template = template_file.read_text(encoding="utf-8")
        else:  # transformers before 4.50 kept it in tokenizer_config.json
            template = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["chat_template"]
        environment = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        self._template = environment.from_string(template)
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        eos = config.get("eos_token")
        eos = eos.get("content") if isinstance(eos, dict) else eos
        self.eos_token_id = self._tokenizer.token_to_id(eos) if eos else None
        if self.eos_token_id is None:
            raise ValueError(f"no end-of-sequence token in {folder / 'tokenizer_config.json'}")

    def chat_ids(self, prompt: str) -> list[int]:
        text = self._template.render(messages=[{"role": "user", "content": prompt}], add_generation_prompt=True)
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)


# ------------------------------------------------------------------------------------------------------------------
# The model


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs from /proc/stat (Linux); None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return fields[3] + fields[4], sum(fields[:8])  # idle + iowait; user..steal (guest is counted inside user)


def idle_cores_while(work: Any, cpus: int | None = None) -> tuple[Any, float | None]:
    """Run `work()` and return its result with how many cores stood idle meanwhile (None where that cannot be read,
    or the window was too short to tell). `work` keeps one core busy itself, so on 2 cores ~1.0 means the other is
    free and ~0 that something else uses it."""
    before = _cpu_times()
    result = work()
    after = _cpu_times()
    if before is None or after is None or after[1] - before[1] < 10:
        return result, None
    return result, (after[0] - before[0]) / (after[1] - before[1]) * (cpus or os.cpu_count() or 1)


def threads(cpus: int | None = None, idle: float | None = None) -> int:
    """OMP_NUM_THREADS when the user set it; else two threads when a second core is free, one when it is not. On 2
    shared cores two threads ran at half the speed of one when other work was running (12 against 23 tokens/s), yet
    wrote a 160-word script in 6.5 s against 8.6-10.0 s with one on an idle machine (BENCHMARKS.md, "Script
    runtime"): a second spinning thread only pays when nothing else wants that core. `idle` is how many cores stood
    idle just before (`idle_cores_while`, measured while the tokenizer loads: an instant's view, where the load
    average would still count this process's own last script); at least 0.75 of a core counts as free. Without that
    measurement the 1-minute load average decides (free when under cpus - 1). Four or more CPUs always get two. The
    thread count does not change the text (checked on the benchmark's 8 headlines, and in test_local.py)."""
    told = os.environ.get("OMP_NUM_THREADS", "")
    if told.isdigit() and int(told) > 0:
        return int(told)
    cpus = cpus or os.cpu_count() or 1
    if cpus >= 4:
        return 2
    if cpus < 2:
        return 1
    if idle is not None:
        return 2 if idle >= 0.75 else 1
    try:
        return 2 if os.getloadavg()[0] < cpus - 1 else 1
    except (OSError, AttributeError):  # not on every OS: assume busy, the safe side
        return 1


class ShortlistHead:
    """The output layer as a shortlist (`_gridpack.write_shortlist_head`): ONNX Runtime gives approximate logits from
    the exact int8 weights with the hidden state rounded to 8 bits per block of 32, and the hidden state itself; this
    bounds the error per token and computes exact float32 logits for the tokens that could be chosen
    (`choose_token`'s `bound` and `exact`). ~0.7 ms of ONNX Runtime and ~1 ms here per token instead of ~4 ms of
    float32 MatMul over 113 MB.

    The bound: rounding a block's activations to 8 bits moves each by at most half a step (step = the block's
    largest |activation| / 127), so a logit moves by at most the sum over blocks of half a step times that block's
    sum of |weight| (HEAD_BLOCK_ABS); 1 % and 1e-3 are added for float rounding in the kernel's sums. Every token
    the shortlist computes exactly is also a check of that bound: should a kernel ever round more coarsely than
    that (another ONNX Runtime, another CPU), the head stops shortlisting and computes every logit exactly from
    then on, after a one-line notice."""

    FILES = (_gridpack.HEAD_WEIGHTS, _gridpack.HEAD_SCALES, _gridpack.HEAD_BLOCK_ABS)

    def __init__(self, folder: Path):
        import numpy as np

        self._np = np
        # Read whole, not mapped: a token touches ~200 scattered rows, which from a mapping of a file that is not in
        # the page cache would be as many random disk reads on a slow disk; one sequential read of the 28 MB costs
        # ~0.05 s.
        self.weights = np.load(folder / _gridpack.HEAD_WEIGHTS)  # int8 [vocab, K]
        self.scales = np.load(folder / _gridpack.HEAD_SCALES)  # float32 [vocab, K/32]
        self.block_abs = np.load(folder / _gridpack.HEAD_BLOCK_ABS)  # float32 [vocab, K/32]
        self.block_abs_max = self.block_abs.max(axis=0)  # per block, over the vocabulary: for the bounds' cap
        self.vocab, self.width = self.weights.shape
        self._dense: Any = None  # float32 [vocab, K], made only if the bound is ever seen to fail
        self.shortlisted = 0  # tokens chosen through the shortlist, and exact rows computed for them: its size,
        self.computed = 0  # logged at debug level after each turn

    def rows(self, index: Any) -> Any:
        """Exact float32 weight rows for these tokens (d * q is exact in float32, as transformers dequantized it)."""
        np = self._np
        blocks = self.weights[index].reshape(len(index), -1, _gridpack.BLOCK).astype(np.float32)
        return (blocks * self.scales[index][:, :, None]).reshape(len(index), self.width)

    def bound(self, hidden: Any) -> Bounds:
        """How far each approximate logit may be from the exact one for this hidden state (the class docstring)."""
        np = self._np
        step = np.abs(hidden).reshape(-1, _gridpack.BLOCK).max(axis=1) * np.float32(0.5 * 1.01 / 127)
        block_abs = self.block_abs

        def at(index: Any) -> Any:
            # einsum, not @: a BLAS call would start its own threads beside ONNX Runtime's still-spinning ones
            return np.einsum("ij,j->i", block_abs[index], step) + np.float32(1e-3)

        return Bounds(float(self.block_abs_max @ step) + 1e-3, at)

    def choose(self, ids: Any, approx: Any, hidden: Any, sampling: Sampling, draws: TorchDraws) -> int:
        np = self._np
        hidden = np.ascontiguousarray(hidden, dtype=np.float32).reshape(-1)
        approx = np.asarray(approx, dtype=np.float32).reshape(-1)
        if self._dense is not None:
            return choose_token(ids, np.einsum("ij,j->i", self._dense, hidden), sampling, draws)
        bound = self.bound(hidden)
        held = True

        def exact(index: Any) -> Any:
            nonlocal held
            logits = np.einsum("ij,j->i", self.rows(index), hidden)
            held = bool(np.all(np.abs(logits - approx[index]) <= bound.at(index)))
            self.shortlisted += 1
            self.computed += len(index)
            return logits

        state = draws.state()
        token = choose_token(ids, approx, sampling, draws, bound=bound, exact=exact)
        if held:
            return token
        log.warning("script: the 8-bit output layer rounded more than its bound here; computing every logit exactly "
                    "from now on (slower, same text)")
        self._dense = self.rows(np.arange(self.vocab))
        draws.restore(state)
        return self.choose(ids, approx, hidden, sampling, draws)  # now on every exact logit


class OnnxModel:
    """SmolLM2 in ONNX Runtime GenAI: `generate(prompt, ...)` as the transformers path does it."""

    label = RUNTIME

    def __init__(self, folder: Path, thread_count: int | None = None):
        import onnxruntime_genai as og

        if hasattr(og, "disable_telemetry_events"):
            og.disable_telemetry_events()  # offline by design; nothing to report to
        self._og = og
        # The tokenizer first: while it loads (~0.3 s, one core) we see whether a second core is free.
        self.tokenizer, idle = idle_cores_while(lambda: ChatTokenizer(folder))
        config = og.Config(str(folder))
        config.clear_providers()  # the CPU: a GPU build's providers are not what this fp32 export is for
        count = thread_count or threads(idle=idle)
        options = {"intra_op_num_threads": count, "inter_op_num_threads": 1}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        self._model = og.Model(config)
        try:
            record = json.loads((folder / SOURCE_FILE).read_text())
        except (OSError, ValueError):
            record = {}
        self.head = ShortlistHead(folder) if record.get("shortlist_head") else None
        self._turns = threading.local()  # each thread's last generator, for the next turn's shared start
        weights = "4-bit grid, fp32 math" if record.get("grid_matrices") else record.get("precision", "?")
        if self.head is not None:
            weights += ", shortlisted output layer"
        self.label = f"{RUNTIME} {runtime_version()} ({weights}), {count} thread{'s' if count > 1 else ''}"

    def _generator(self, prompt_ids: list[int], length: int) -> tuple[Any, int, int]:
        """A generator with room for `length` tokens and the longest possible start of `prompt_ids` already in its KV
        cache: this thread's previous turn's, rewound to where the two turns part, when that saves at least
        REUSE_MIN_TOKENS of prefill (a continuation prompt repeats the previous prompt's text: ~150 tokens, ~0.3 s);
        a new one otherwise. Returns it, how many of the prompt's tokens it holds, and its room."""
        last = getattr(self._turns, "last", None)
        if last is not None:
            generator, held, room = last
            same = 0
            for a, b in zip(held, prompt_ids[:-1]):  # at least the prompt's last token is run: it makes the logits
                if a != b:
                    break
                same += 1
            if same >= REUSE_MIN_TOKENS and length <= room:
                generator.rewind_to(same)
                return generator, same, room
        self._turns.last = None  # its KV cache goes before the next one is allocated
        params = self._og.GeneratorParams(self._model)
        # The KV cache is allocated for max_length up front: room for this turn and a continuation, not 8192 tokens.
        room = max(length, REUSE_ROOM_TOKENS)
        params.set_search_options(max_length=room)
        return self._og.Generator(self._model, params), 0, room

    def generate(self, prompt: str, max_new_tokens: int, seed: int, sampling: Sampling,
                 settled: Callable[[str], bool] | None = None) -> tuple[str, bool]:
        """One chat turn: (text, finished); finished is False when the token cap cut it off, or when `settled` (asked
        with the text so far each time a token may end a sentence) said that more text would change nothing."""
        import numpy as np

        prompt_ids = self.tokenizer.chat_ids(prompt)
        eos = self.tokenizer.eos_token_id
        length = len(prompt_ids) + max_new_tokens
        generator, held, room = self._generator(prompt_ids, length)
        self._turns.last = None  # until this turn has finished cleanly
        ids = list(prompt_ids)
        new: list[int] = []
        stopped = False
        draws = TorchDraws(seed)
        generator.append_tokens(np.asarray(prompt_ids[held:], dtype=np.int32))
        head = self.head
        while len(new) < max_new_tokens:
            if head is None:
                token = choose_token(ids, generator.get_logits(), sampling, draws)
            else:
                hidden = generator.get_output(_gridpack.HIDDEN_OUTPUT)[0, -1]
                token = head.choose(ids, generator.get_logits(), hidden, sampling, draws)
            new.append(token)
            if token == eos:
                break
            ids.append(token)
            if stop_here(settled, self.tokenizer.decode, new):
                stopped = True
                break
            if len(new) < max_new_tokens:
                generator.append_tokens(np.asarray([token], dtype=np.int32))
        in_cache = len(prompt_ids) + max(0, len(new) - 1)  # every chosen token but the last was run
        self._turns.last = (generator, ids[:in_cache], room)
        if head is not None and head.shortlisted:
            log.debug("prefilled %d of %d prompt tokens; %.0f exact logits a token on average",
                      len(prompt_ids) - held, len(prompt_ids), head.computed / head.shortlisted)
        finished = not stopped and (eos in new or len(new) < max_new_tokens)
        return self.tokenizer.decode(new), finished
