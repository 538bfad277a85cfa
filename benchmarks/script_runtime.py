"""Runtimes for the local script model (SmolLM2-135M): speed and script quality per candidate, on fixed headlines.

    .venv/bin/python benchmarks/script_runtime.py [--runtimes transformers,onnx-fp32,...] [--threads 1]
        [--temperature 0.7] [--words 160] [--headlines 8] [--models-dir DIR] [--json results.json]
    .venv/bin/python benchmarks/script_runtime.py --report results.json

Every candidate writes through the `local` provider's own passage loop (prompts, cleaning, word budget), with the
same seed per headline; only the model behind `generate` changes. Candidates that hand back logits (transformers,
ONNX Runtime GenAI, ik-llama-cpp-python) choose tokens with the provider's transformers-equivalent sampler, so their
scripts can be compared word for word; xllamacpp samples with llama.cpp's own sampler (same settings).

    transformers   the reference: the fp32 folder converted from the shipped GGUF, `model.generate`
    onnx-grid      ONNX Runtime GenAI on the export of that folder with its linear layers back on the GGUF's 4-bit
                   grid, float32 arithmetic (what the provider uses; `_gridpack.py`)
    onnx-fp32      ONNX Runtime GenAI on the plain fp32 export
    onnx-int4      the builder's int4 export (re-quantized, block 32, 8-bit activations)
    ik-llama-cpp   ik-llama-cpp-python on the shipped Q4_1 GGUF (pip install ik-llama-cpp-python)
    xllamacpp      xllamacpp on the shipped Q4_1 GGUF (pip install xllamacpp)

Reported per candidate: load seconds (from converted files, in a process that has torch imported already), decode
tokens/s (output tokens over generate time, prefill and token choice included; tokens counted by re-encoding the
text), seconds per script (median), words against the budget, the share of repeated word 4-grams in a script
(higher = more repetitive), the share of the headline's words the script uses (lower = drifting off the story), in
how many scripts the text equals transformers', and the load average while they ran. Prints a markdown table;
`--report results.json` prints it again from a saved run.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.providers.script import _runtime, _text, local  # noqa: E402
from pipeline.providers.script._runtime import ChatTokenizer  # noqa: E402
from pipeline.providers.script._sampling import Sampling, TorchDraws, choose_token  # noqa: E402

HEADLINES = [
    "Breakthrough in Mars Project",
    "City Council Approves New Bike Lanes Downtown",
    "Heatwave Sets Record Temperatures Across Europe",
    "Local Bakery Wins National Bread Competition",
    "Scientists Discover New Species of Deep-Sea Fish",
    "Central Bank Holds Interest Rates Steady",
    "High School Robotics Team Heads to World Finals",
    "Storm Knocks Out Power to Thousands of Homes",
]
CANDIDATES = ("transformers", "onnx-grid", "onnx-fp32", "onnx-int4", "ik-llama-cpp", "xllamacpp")


def headline_words(headline: str, text: str) -> float:
    """Share of the headline's content words (over 3 letters, compared by their first 5) that the script uses: a
    script that drifts off its story scores low."""
    words = [w[:5] for w in re.findall(r"[a-z]+", headline.lower()) if len(w) > 3]
    used = {w[:5] for w in re.findall(r"[a-z]+", text.lower())}
    return sum(w in used for w in words) / max(1, len(words))


def repeated_4grams(text: str) -> float:
    words = re.findall(r"[a-z0-9']+", text.lower())
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    return 0.0 if not grams else 1 - len(set(grams)) / len(grams)


class Counted:
    """Wraps a model: generate seconds and output tokens (re-encoded with the reference tokenizer)."""

    def __init__(self, model: Any, tokenizer: ChatTokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.label = getattr(model, "label", type(model).__name__)
        self.seconds, self.tokens = 0.0, 0

    def generate(self, prompt: str, max_new_tokens: int, seed: int, sampling: Sampling) -> tuple[str, bool]:
        started = time.perf_counter()
        text, finished = self.model.generate(prompt, max_new_tokens, seed, sampling)
        self.seconds += time.perf_counter() - started
        self.tokens += len(self.tokenizer._tokenizer.encode(text, add_special_tokens=False).ids) + int(finished)
        return text, finished


class IkLlamaModel:
    """ik-llama-cpp-python computes the logits of the shipped Q4_1 GGUF; the provider's sampler picks the tokens."""

    def __init__(self, gguf: Path, tokenizer: ChatTokenizer, threads: int):
        from ik_llama_cpp import IkLlama
        from ik_llama_cpp import _internals as ik

        self.ik, self.tokenizer = ik, tokenizer
        self.llm = IkLlama(str(gguf), n_ctx=2048, n_threads=threads, verbose=False)
        self.n_vocab = self.llm._model.n_vocab
        self.label = "ik-llama-cpp-python (Q4_1 GGUF)"

    def _logits(self) -> Any:
        import numpy as np

        pointer = self.llm._context.get_logits(-1)
        array = np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,))
        return array.copy()

    def generate(self, prompt: str, max_new_tokens: int, seed: int, sampling: Sampling) -> tuple[str, bool]:
        ik, ctx = self.ik, self.llm._context
        prompt_ids = self.tokenizer.chat_ids(prompt)
        ctx.kv_cache_clear()
        batch = ik.make_batch_range(prompt_ids, pos_start=0, logits_last=True)
        if ctx.decode(batch) != 0:
            raise RuntimeError("ik-llama decode failed")
        ik.C.llama_batch_free(batch)
        ids, new, eos = list(prompt_ids), [], self.tokenizer.eos_token_id
        draws = TorchDraws(seed)
        while len(new) < max_new_tokens:
            token = choose_token(ids, self._logits(), sampling, draws)
            new.append(token)
            if token == eos:
                break
            ids.append(token)
            batch = ik.make_batch_single(token, len(ids) - 1)
            ctx.decode(batch)
            ik.C.llama_batch_free(batch)
        return self.tokenizer.decode(new), eos in new or len(new) < max_new_tokens


class XllamaModel:
    """xllamacpp's embedded llama.cpp server on the shipped Q4_1 GGUF, with llama.cpp's own sampler."""

    def __init__(self, gguf: Path, tokenizer: ChatTokenizer, threads: int):
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_ctx, params.n_parallel = 2048, 1
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
        self.server, self.tokenizer = xllamacpp.Server(params), tokenizer
        self.label = "xllamacpp (Q4_1 GGUF)"

    def generate(self, prompt: str, max_new_tokens: int, seed: int, sampling: Sampling) -> tuple[str, bool]:
        request = {
            "prompt": self.tokenizer.chat_ids(prompt),
            "n_predict": max_new_tokens,
            "temperature": sampling.temperature,
            "top_k": sampling.top_k,
            "top_p": sampling.top_p,
            "min_p": 0.0,
            "repeat_penalty": sampling.repetition_penalty,
            "repeat_last_n": 2048,
            "seed": seed % 2**32,
            "cache_prompt": False,
        }
        answer = self.server.handle_completions(request)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        choice = answer["choices"][0]
        return choice["text"], choice["finish_reason"] != "length"


def table(results: dict[str, dict[str, Any]], args: dict[str, Any], headlines: list[str]) -> str:
    reference = results.get("transformers", {}).get("scripts")
    mode = "greedy" if args["temperature"] == 0 else f"sampling (temperature {args['temperature']}, top-p 0.9, seed 0)"
    lines = [
        f"{date.today()}, {platform.machine()}, {os.cpu_count()} CPUs (runtimes interleaved headline by headline); "
        f"{len(headlines)} headlines, {args['words']}-word budget, {mode}, {args['threads']} thread(s)\n",
        "| runtime | load s | decode tok/s | s per script (median, min-max) | words vs budget (median, min-max) "
        "| repeated 4-grams (mean) | headline words used (mean) | text = transformers' | load average (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        words = [_text.count_words(t) / args["words"] for t in r["scripts"]]
        repeats = statistics.mean(repeated_4grams(t) for t in r["scripts"])
        topical = statistics.mean(headline_words(h, t) for h, t in zip(headlines, r["scripts"]))
        same = f"{sum(a == b for a, b in zip(r['scripts'], reference))}/{len(headlines)}" if reference else "n/a"
        lines.append(
            f"| {r['label']} | {r['load_s']:.2f} | {r['tok_s']:.1f} | {statistics.median(r['seconds']):.1f} "
            f"({min(r['seconds']):.1f}-{max(r['seconds']):.1f}) | {statistics.median(words):.2f} "
            f"({min(words):.2f}-{max(words):.2f}) | {repeats:.3f} | {topical:.2f} | {same} "
            f"| {statistics.median(r['load_average']):.1f} |"
        )
    return "\n".join(lines)


def load(name: str, folder: Path, gguf: Path, threads: int) -> Any:
    if name == "transformers":
        import torch

        torch.set_num_threads(threads)
        return local.TransformersModel.load(folder, lambda *_: None)
    if name == "onnx-grid":
        return _runtime.OnnxModel(folder.with_name(folder.name + local.ONNX_SUFFIX), thread_count=threads)
    if name in ("onnx-fp32", "onnx-int4"):
        precision = name.split("-", 1)[1]
        onnx = folder.with_name(f"{folder.name}-bench-{name}")
        if not (onnx / _runtime.SOURCE_FILE).is_file():
            _runtime.build_onnx(folder, onnx, {"benchmark": True}, precision=precision, grid=False)
        return _runtime.OnnxModel(onnx, thread_count=threads)
    tokenizer = ChatTokenizer(folder)
    if name == "ik-llama-cpp":
        return IkLlamaModel(gguf, tokenizer, threads)
    if name == "xllamacpp":
        return XllamaModel(gguf, tokenizer, threads)
    raise SystemExit(f"unknown runtime {name}; choose from {', '.join(CANDIDATES)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtimes", default=",".join(CANDIDATES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=0.7, help="0.7: the provider's default; 0: greedy")
    parser.add_argument("--words", type=int, default=160, help="the default make's budget (60 s of espeak)")
    parser.add_argument("--headlines", type=int, default=len(HEADLINES))
    parser.add_argument("--models-dir", type=Path, default=None, help="default: the provider's models folder")
    parser.add_argument("--json", type=Path, default=None, help="also write every script and number here")
    parser.add_argument("--report", type=Path, default=None, help="print the table of an earlier --json; run nothing")
    args = parser.parse_args()
    if args.report:
        saved = json.loads(args.report.read_text())
        options = saved.pop("args")
        print(table(saved, options, HEADLINES[: options["headlines"]]))
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))  # before torch starts: transformers' threads too

    provider = local.LocalScript({"words": args.words, "temperature": args.temperature}, models_dir=args.models_dir)
    provider._load(lambda *_: None)  # converts the GGUF (and builds the fp32 ONNX model) once if needed
    gguf = local.gguf_path()
    folder = provider._converted_dir(gguf)
    tokenizer = ChatTokenizer(folder)
    headlines = HEADLINES[: args.headlines]
    results: dict[str, dict[str, Any]] = {}
    models: dict[str, Counted] = {}
    for name in args.runtimes.split(","):
        started = time.perf_counter()
        try:
            model = load(name, folder, gguf, args.threads)
        except (ImportError, RuntimeError, OSError) as exc:
            print(f"{name}: not measured ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        models[name] = Counted(model, tokenizer)
        results[name] = {
            "label": models[name].label,
            "load_s": time.perf_counter() - started,
            "seconds": [],
            "scripts": [],
            "load_average": [],
        }
    # Headline by headline, every runtime in turn: on a shared machine the load changes by the minute, and this way
    # each runtime meets about the same.
    for headline in headlines:
        for name, counted in models.items():
            writer = local.LocalScript(
                {"seed": 0, "words": args.words, "temperature": args.temperature}, models_dir=args.models_dir
            )
            writer._loaded = counted
            began = time.perf_counter()
            with tempfile.TemporaryDirectory() as work:
                script = writer.run(headline=headline, workdir=Path(work), progress=lambda *_: None)
            results[name]["seconds"].append(time.perf_counter() - began)
            results[name]["scripts"].append(script.text)
            results[name]["load_average"].append(os.getloadavg()[0])
            seconds = results[name]["seconds"][-1]
            print(f"{name}: {seconds:.1f} s, load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    for name, counted in models.items():
        results[name].update(tok_s=counted.tokens / counted.seconds, tokens=counted.tokens)

    print(table(results, vars(args), headlines))
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"models_dir": str(args.models_dir)}, **results},
                                        indent=2, default=str) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
