"""The local script provider's fast runtime (ONNX Runtime GenAI, pipeline/providers/script/_runtime.py): its token
choice against transformers', the build-then-rename conversion, the fallback to transformers, and the one-line error
for a models folder that cannot take the conversion.

All cheap: the ONNX model builder is replaced where a test needs it to fail or be killed at a chosen moment (the real
build and a real generation run once per session in test_local.py).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import NewsreelError
from pipeline.providers.script import _runtime, local
from pipeline.providers.script._sampling import Sampling, TorchDraws, choose_token

ROOT = Path(__file__).resolve().parents[3]
needs_runtime = pytest.mark.skipif(_runtime.runtime_version() is None, reason="onnxruntime-genai is not installed")


# --------------------------------------------------------------------------------------------------------------------
# Token choice


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 5, 2**63 - 1])
def test_draws_are_torchs_bit_for_bit(seed):
    """TorchDraws gives the very float32 values torch's exponential_ gives after torch.manual_seed(seed), call after
    call (the stream advances by whole vocabularies, as torch.multinomial consumes it)."""
    import numpy as np
    import torch

    draws = TorchDraws(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for size in (49152, 3, 8192):
            expected = torch.empty(1, size).exponential_(1).numpy()[0]
            assert np.array_equal(draws.exponentials(size), expected)


@pytest.mark.parametrize(
    ("temperature", "top_p"), [(0.7, 0.9), (0.3, 0.9), (1.0, 0.5), (1.5, 0.95), (0.7, 1.0)]
)
def test_token_choice_is_transformers_own(temperature, top_p):
    """Same logits, same ids, same seed: the token transformers.generate would sample (its processors, softmax,
    torch.multinomial), over many random draws, including flat and peaked distributions, with the draws of one turn
    following each other in one random stream as they do in generate."""
    import torch
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    warpers = [TemperatureLogitsWarper(temperature), TopKLogitsWarper(50)]
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    processors = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.1), *warpers])
    sampling = Sampling(temperature=temperature, top_p=top_p, repetition_penalty=1.1)
    data = torch.Generator().manual_seed(1234)
    seed = int(temperature * 1000 + top_p * 10)
    draws = TorchDraws(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for draw in range(40):  # a vocabulary of 8192 instead of 49152: the same arithmetic, a sixth of the time
            logits = torch.randn(8192, generator=data) * (1 + draw % 7)
            ids = torch.randint(0, 8192, (draw * 7 + 5,), generator=data)
            scores = processors(ids.unsqueeze(0), logits.unsqueeze(0).clone())
            expected = int(torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1)[0, 0])
            assert choose_token(ids.numpy(), logits.numpy(), sampling, draws) == expected, draw


def test_greedy_choice_is_argmax_after_the_penalty():
    import torch
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

    penalty = RepetitionPenaltyLogitsProcessor(1.1)
    data = torch.Generator().manual_seed(7)
    for draw in range(40):
        logits = torch.randn(8192, generator=data)
        ids = torch.randint(0, 8192, (100,), generator=data)
        ids[:3] = torch.topk(logits, 3).indices  # the leaders were said already: the penalty must decide
        expected = int(torch.argmax(penalty(ids.unsqueeze(0), logits.unsqueeze(0).clone())))
        sampling = Sampling(temperature=0.0, top_p=0.9, repetition_penalty=1.1)
        assert choose_token(ids.numpy(), logits.numpy(), sampling) == expected


@pytest.mark.parametrize("temperature", [0.7, 0.0])
def test_a_shortlist_from_bounded_logits_picks_what_the_exact_logits_pick(temperature):
    """Approximate logits within a per-token bound, and exact ones on request for a shortlist: the same token as
    choosing from the exact logits of the whole vocabulary, draw after draw, while far fewer than the whole
    vocabulary are computed exactly. Includes ties and leaders that the repetition penalty demotes."""
    import numpy as np

    data = np.random.default_rng(11)
    sampling = Sampling(temperature=temperature, top_p=0.9, repetition_penalty=1.1)
    full, short = TorchDraws(3), TorchDraws(3)
    computed = []
    for draw in range(60):
        exact_logits = (data.standard_normal(8192) * (1 + draw % 5)).astype(np.float32)
        exact_logits[:4] = exact_logits.max()  # a four-way tie at the top
        bound = (data.random(8192) * 0.5).astype(np.float32)
        approx = exact_logits + (data.random(8192).astype(np.float32) * 2 - 1) * bound
        ids = np.concatenate([data.integers(0, 8192, 40), np.argsort(exact_logits)[-3:]])

        def exact(index):
            computed.append(len(index))
            return exact_logits[index]

        expected = choose_token(ids, exact_logits, sampling, full)
        assert choose_token(ids, approx, sampling, short, bound=bound, exact=exact) == expected, draw
    assert max(computed) < 8192 // 4


def test_kth_largest_matches_a_full_partition_however_spread_the_values():
    import numpy as np

    from pipeline.providers.script._sampling import _kth_largest

    data = np.random.default_rng(4)
    for scale in (0.1, 1.0, 10.0, 100.0, 1000.0):  # from everything near the top to nothing near it
        values = (data.standard_normal(8192) * scale).astype(np.float32)
        for k in (1, 50, 300):
            assert _kth_largest(values, k) == np.partition(values, values.size - k)[values.size - k]


def test_a_zero_draw_picks_what_torch_picks():
    """u == 0 gives q == 0: torch's argmax(probs / q) then returns the NaN of 0/0 (or the inf of p/0) at the first
    such index; the shortcut that only looks at the kept tokens must not hide it."""
    import numpy as np
    import torch

    logits = np.zeros(64, dtype=np.float32)
    logits[10] = 5.0
    draws = TorchDraws(0)
    high = np.full(64, 0, np.uint32)
    low = np.where(np.arange(64) == 3, 0, 9).astype(np.uint32)
    draws._words = lambda n: (high, low)
    q = draws.exponentials(64)
    assert q[3] == 0 and q[10] > 0
    probs = np.zeros(64, dtype=np.float32)
    probs[10] = 1.0
    expected = int(torch.argmax(torch.from_numpy(probs) / torch.from_numpy(q)))
    sampling = Sampling(temperature=1.0, top_p=1.0, repetition_penalty=1.0, top_k=1)
    assert choose_token([], logits, sampling, draws) == expected == 3


def test_a_head_whose_bound_fails_computes_every_logit_from_then_on(tmp_path, caplog):
    """Should the 8-bit kernel round more than the bound allows (another ONNX Runtime, another CPU), the shortlist
    sees it on the rows it computes, says so once, and from then on every logit is computed exactly: the token is
    still the one the exact logits give, and the draw is not taken twice."""
    import numpy as np

    from pipeline.providers.script import _gridpack

    data = np.random.default_rng(2)
    q = data.integers(-127, 128, size=(500, 64)).astype(np.int8)
    d = data.uniform(0.001, 0.01, size=(500, 2)).astype(np.float32)
    np.save(tmp_path / _gridpack.HEAD_WEIGHTS, q)
    np.save(tmp_path / _gridpack.HEAD_SCALES, d)
    np.save(tmp_path / _gridpack.HEAD_BLOCK_ABS, np.zeros((500, 2), dtype=np.float32))  # a bound of ~0: too tight
    head = _runtime.ShortlistHead(tmp_path)
    sampling = Sampling(temperature=0.7, top_p=0.9, repetition_penalty=1.1)
    reference, draws = TorchDraws(9), TorchDraws(9)
    caplog.set_level(logging.WARNING)
    for step in range(5):
        hidden = data.standard_normal(64).astype(np.float32)
        exact_logits = head.rows(np.arange(500)) @ hidden
        approx = exact_logits + data.uniform(-0.5, 0.5, 500).astype(np.float32)
        expected = choose_token([1, 2], exact_logits, sampling, reference)
        assert head.choose([1, 2], approx, hidden, sampling, draws) == expected, step
    assert head._dense is not None
    assert sum("rounded more than its bound" in r.getMessage() for r in caplog.records) == 1


def test_sampling_never_imports_torch(tmp_path):
    """The fast path's token choice runs in a process where torch cannot be imported at all."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from pipeline.providers.script._sampling import Sampling, TorchDraws, choose_token\n"
        "logits = np.random.default_rng(0).standard_normal(49152).astype(np.float32)\n"
        "s = Sampling(temperature=0.7, top_p=0.9, repetition_penalty=1.1)\n"
        "print(choose_token([1, 2, 3], logits, s, TorchDraws(5)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert 0 <= int(done.stdout) < 49152


# --------------------------------------------------------------------------------------------------------------------
# Build, then rename


def fake_builder(writes: dict[str, str], then=None):
    """A stand-in for `python -m onnxruntime_genai.models.builder`: writes `writes` into its -o folder, then does
    `then` (raise, or return an exit code)."""
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        out = Path(command[command.index("-o") + 1])
        out.mkdir(parents=True, exist_ok=True)
        for name, text in writes.items():
            (out / name).write_text(text)
        if isinstance(then, BaseException):
            raise then
        return subprocess.CompletedProcess(command, then or 0, stdout="", stderr="Traceback ...\nValueError: boom")

    run.calls = calls
    return run


COMPLETE = {"genai_config.json": "{}", "model.onnx": "graph", "tokenizer.json": "{}"}


def test_interrupted_build_leaves_nothing_and_the_next_run_builds_again(tmp_path, monkeypatch):
    source, folder = tmp_path / "hf", tmp_path / "models" / "m-onnx-fp32"
    source.mkdir()
    monkeypatch.setattr(_runtime.subprocess, "run", fake_builder({"model.onnx": "half"}, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _runtime.build_onnx(source, folder, {"sha256": "abc"})
    assert list(folder.parent.iterdir()) == []  # no half folder under either name

    monkeypatch.setattr(_runtime.subprocess, "run", fake_builder(COMPLETE))
    _runtime.build_onnx(source, folder, {"sha256": "abc"})
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    record = json.loads((folder / _runtime.SOURCE_FILE).read_text())
    assert record["sha256"] == "abc" and record["precision"] == "fp32"
    assert record["runtime"].startswith("onnxruntime-genai ")
    assert (folder / "model.onnx").read_text() == "graph" and not (folder / ".builder-cache").exists()


KILLED_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from pipeline.providers.script import _runtime

def slow_builder(command, **kwargs):
    out = Path(command[command.index("-o") + 1])
    out.mkdir(parents=True)
    (out / "genai_config.json").write_text("{{}}")
    (out / "model.onnx").write_text("partial")
    print("writing", flush=True)
    time.sleep(120)

_runtime.subprocess.run = slow_builder
_runtime.build_onnx(Path({source!r}), Path({folder!r}), {{}})
"""


def test_killed_build_is_never_used(tmp_path, monkeypatch):
    """SIGKILL half-way (no cleanup runs): what is left has a temp name, so the next run builds again."""
    source, folder = tmp_path / "hf", tmp_path / "models" / "m-onnx-fp32"
    source.mkdir()
    code = KILLED_CHILD.format(root=str(ROOT), source=str(source), folder=str(folder))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.kill()
        child.wait(timeout=30)
    assert not folder.exists()
    assert [p.name.startswith(f".{folder.name}.tmp-") for p in folder.parent.iterdir()] == [True]

    monkeypatch.setattr(_runtime.subprocess, "run", builder := fake_builder(COMPLETE))
    _runtime.build_onnx(source, folder, {})
    assert len(builder.calls) == 1 and (folder / _runtime.SOURCE_FILE).is_file()


# --------------------------------------------------------------------------------------------------------------------
# Falling back to transformers


def converted_folder(models_dir: Path) -> Path:
    """A stand-in for the transformers folder the fast runtime is built from (only its source record is read)."""
    folder = models_dir / "smollm2-135m-instruct-0123456789ab"
    folder.mkdir(parents=True)
    (folder / local.SOURCE_FILE).write_text(json.dumps({"sha256": "0123456789ab"}))
    return folder


def test_missing_runtime_falls_back_with_a_one_line_notice(tmp_path, monkeypatch, caplog):
    real = _runtime.util.find_spec
    missing = lambda name, *a: None if name == "onnxruntime_genai" else real(name, *a)  # noqa: E731
    monkeypatch.setattr(_runtime.util, "find_spec", missing)
    folder = converted_folder(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert local.LocalScript(models_dir=tmp_path)._load_fast(folder, lambda *_: None) is None
    [notice] = [r.getMessage() for r in caplog.records]
    assert "onnxruntime-genai is not installed" in notice and "writing with transformers instead" in notice
    assert "\n" not in notice


@needs_runtime
def test_failed_build_falls_back_and_is_not_retried_every_run(tmp_path, monkeypatch, caplog):
    folder = converted_folder(tmp_path)
    monkeypatch.setattr(_runtime.subprocess, "run", builder := fake_builder({}, then=1))
    provider = local.LocalScript(models_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        assert provider._load_fast(folder, lambda *_: None) is None
        assert provider._load_fast(folder, lambda *_: None) is None
    assert len(builder.calls) == 1  # the second run remembered the failure
    first, second = (r.getMessage() for r in caplog.records)
    assert "the ONNX model builder failed (exit 1): ValueError: boom" in first and "transformers instead" in first
    assert "earlier" in second and f"{folder.name}{local.ONNX_SUFFIX}{_runtime.FAILED_SUFFIX}" in second
    assert not (tmp_path / f"{folder.name}{local.ONNX_SUFFIX}").exists()


@needs_runtime
def test_unloadable_model_falls_back(tmp_path, monkeypatch, caplog):
    """A model the runtime cannot load (here: a broken export, as an unsupported CPU or a damaged file would be)."""
    folder = converted_folder(tmp_path)
    monkeypatch.setattr(_runtime.subprocess, "run", fake_builder(COMPLETE))
    with caplog.at_level(logging.WARNING):
        assert local.LocalScript(models_dir=tmp_path)._load_fast(folder, lambda *_: None) is None
    # The 4-bit grid pass cannot read this export either: it says so and keeps the float32 files.
    [grid] = [r.getMessage() for r in caplog.records if r.name == _runtime.__name__]
    assert grid.startswith("kept the float32 ONNX model (slower): the 4-bit grid pass failed: ")
    [notice] = [r.getMessage() for r in caplog.records if r.name == local.__name__]
    assert notice.startswith(f"script: ONNX Runtime GenAI could not load {folder.name}{local.ONNX_SUFFIX}: ")
    assert "writing with transformers instead" in notice


# --------------------------------------------------------------------------------------------------------------------
# A models folder that cannot take the conversion


def run_without_root_privileges(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Python `code` in a child that file permissions bind: as root, with the capabilities that override them
    dropped (setpriv), so a read-only folder is read-only as it is for any user."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be made to apply")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


READ_ONLY_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from pipeline.errors import NewsreelError
from pipeline.providers.script.local import LocalScript
try:
    provider = LocalScript(models_dir=Path({models!r}))
    provider.run(headline="Rover lands", workdir=Path({work!r}), progress=lambda *a: None)
except NewsreelError as exc:
    print(exc.one_line())
    sys.exit(2)
"""


def test_read_only_models_folder_is_a_one_line_error(tmp_path):
    """The first run with a read-only models folder: one line naming the folder and the space needed, and nothing
    written there."""
    models, work = tmp_path / "models", tmp_path / "work"
    models.mkdir()
    work.mkdir()
    models.chmod(0o555)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        code = READ_ONLY_CHILD.format(root=str(ROOT), models=str(models), work=str(work))
        done = run_without_root_privileges(code, env)
    finally:
        models.chmod(0o755)
    assert done.returncode == 2, done.stderr
    gb = (local._runtime.FP32_BYTES + (local._runtime.BUILD_BYTES if _runtime.runtime_version() else 0)) / 1e9
    assert done.stdout == (
        f"the models folder {models} is read-only: converting the SmolLM2 model file once needs about {gb:.1f} GB "
        f"there (free about {gb:.1f} GB there, make it writable, or point models_dir elsewhere "
        f"(NEWSREEL_MODELS_DIR=/path or models_dir in newsreel.toml))\n"
    )
    assert list(models.iterdir()) == []


def test_full_models_folder_is_a_one_line_error(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(_runtime.shutil, "disk_usage", lambda path: usage._replace(free=300_000_000))
    with pytest.raises(NewsreelError) as err:
        _runtime.ensure_room(tmp_path / "models", 2 * _runtime.FP32_BYTES, "the SmolLM2 model file")
    assert err.value.one_line().startswith(f"the models folder {tmp_path / 'models'} is full: converting the SmolLM2")
    assert "needs about 1.1 GB, 0.3 GB is free" in err.value.message


def test_a_second_onnx_thread_only_when_a_core_is_free(monkeypatch):
    """Two threads halve the speed on two busy cores and cut ~30 % on two idle ones (BENCHMARKS.md): the rule."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert _runtime.threads(cpus=2, idle=1.0) == 2
    assert _runtime.threads(cpus=2, idle=0.5) == 1
    assert _runtime.threads(cpus=2, idle=0.0) == 1
    assert _runtime.threads(cpus=3, idle=1.9) == 2
    assert _runtime.threads(cpus=1, idle=0.0) == 1
    assert _runtime.threads(cpus=8, idle=0.0) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 0.0, 0.0))  # no instant view: the load average decides
    assert _runtime.threads(cpus=2) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (4.3, 0.0, 0.0))
    assert _runtime.threads(cpus=2) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert _runtime.threads(cpus=2, idle=1.0) == 3


def test_idle_cores_are_measured_around_the_work():
    """A busy-looping `work` on this machine: the idle cores seen meanwhile are between 0 and all but the one it used
    (None only where /proc/stat is missing or the window was too short)."""
    import time

    def spin() -> str:
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass
        return "done"

    result, idle = _runtime.idle_cores_while(spin, cpus=os.cpu_count())
    assert result == "done"
    if Path("/proc/stat").is_file():
        assert idle is not None and 0.0 <= idle <= (os.cpu_count() or 1) - 0.5
