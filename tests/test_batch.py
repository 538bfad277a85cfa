"""`newsreel batch`: file validation, the local process-pool engine, resume after a kill or Ctrl-C, the GPU slot
limit, and the Ray engine on a local Ray instance. Uses the fast test plugin providers (tests/plugins) plus a small
`image.lab` provider written here (a slow, crashing, GPU-pretending or rendezvousing image stage, as a test asks).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline import plugins
from pipeline.batch import BatchFileError, GpuGate, cuda_available, iter_items, run_batch, runs_on_gpu, validate
from pipeline.cli import app
from tests.conftest import PLUGIN_DIR
from tests.helpers import TEST_PROVIDERS, sigint_default, work_done

REPO = Path(__file__).resolve().parents[1]

LAB_MODULE = '''
import os, time, uuid
from pipeline.provider import Needs, Params
from pipeline.stages import BackgroundImage, Backgrounds, ImageProvider
from newsreel_testplugin import _count


class LabImage(ImageProvider):
    """An image stage for batch tests: can sleep, die, pretend to need a GPU, or wait for a twin build."""

    name = "lab"
    summary = "test: a flat PNG, slowly"
    needs = Needs(gpu="optional")

    class Params(Params):
        seed: int = 0
        delay: float = 0.0
        device: str = "cpu"
        crash_on: str = ""
        barrier: str = ""  # a folder: wait until `parties` builds have arrived there

    def uses_gpu(self):
        return self.params.device != "cpu"

    def run(self, *, script, workdir, progress):
        from PIL import Image

        _count("image")
        start = time.time()
        if self.params.crash_on and script.title == self.params.crash_on:
            os._exit(3)
        if self.params.barrier:
            os.makedirs(self.params.barrier, exist_ok=True)
            open(os.path.join(self.params.barrier, uuid.uuid4().hex), "w").close()
            while len(os.listdir(self.params.barrier)) < 2 and time.time() - start < 20:
                time.sleep(0.02)
        time.sleep(self.params.delay)
        log = os.environ.get("NEWSREEL_LAB_INTERVALS")
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {id(self)} {start} {time.time()}\\n")
        path = workdir / "bg.png"
        Image.new("RGB", (32, 18), (self.params.seed % 256, 10, 10)).save(path)
        return Backgrounds(images=[BackgroundImage(path=path, width=32, height=18, prompt=script.image_prompt)])
'''


@pytest.fixture
def batch_env(test_plugin, isolated_config, tmp_path, monkeypatch):
    """The test providers chosen for every item (through NEWSREEL_* settings, as a user would), the `image.lab`
    provider installed beside them, and PYTHONPATH set so subprocesses and Ray workers find both."""
    site = tmp_path / "site"
    (site / "newsreel_batchtest.py").write_text(LAB_MODULE)
    dist = site / "newsreel_batchtest-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-batchtest\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[newsreel.providers]\nimage.lab = newsreel_batchtest:LabImage\n")
    plugins._entry_points.cache_clear()
    for stage, name in TEST_PROVIDERS.items():
        monkeypatch.setenv(f"NEWSREEL_PROVIDERS__{stage.upper()}", name)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(PLUGIN_DIR), str(REPO)]))
    intervals = tmp_path / "intervals.log"
    monkeypatch.setenv("NEWSREEL_LAB_INTERVALS", str(intervals))
    return {"log": test_plugin, "root": tmp_path, "cache": tmp_path / "cache", "intervals": intervals}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _summary(out: Path) -> dict:
    return json.loads((out / "batch.json").read_text())


def _statuses(out: Path) -> dict[str, str]:
    return {item["name"]: item["status"] for item in _summary(out)["items"]}


def _hits(out: Path, name: str) -> dict[str, bool]:
    record = json.loads((out / name / "run.json").read_text())
    return {stage: rec["hit"] for stage, rec in record["stages"].items()}


def _stray_parts(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.part")]


SIX = """# six items, one of which blows up inside its script provider
Rain Expected Across the North
explode
Local Team Wins the Cup
City Opens New Library

Prices of Bread Fall Again
Bridge Repairs Finish Early
"""


def test_one_failing_item_does_not_stop_the_others(batch_env, tmp_path):
    batch = _write(tmp_path / "six.txt", SIX)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(batch), "--out", str(out), "--workers", "2", "--json-progress"])
    assert result.exit_code == 1, result.output

    summary = _summary(out)
    items = {item["line"]: item for item in summary["items"]}
    assert sorted(items) == [2, 3, 4, 5, 7, 8]
    assert summary["counts"] == {"ok": 5, "failed": 1, "skipped": 0, "interrupted": 0, "pending": 0}
    bad = items[3]
    assert (bad["name"], bad["status"], bad["output"]) == ("explode", "failed", None)
    assert "boom inside a provider" in bad["error"] and "RuntimeError" in bad["error"]
    for line, headline in [
        (2, "Rain Expected Across the North"),
        (4, "Local Team Wins the Cup"),
        (8, "Bridge Repairs Finish Early"),
    ]:
        item = items[line]
        assert item["status"] == "ok" and item["error"] is None and item["cached"] == 0 and item["seconds"] > 0
        # The listing compose provider writes "title|voice|cues" into video.mp4: the right headline landed there.
        video = Path(item["output"]) / "video.mp4"
        title, voice, cues = video.read_text().split("|")
        assert (
            title == headline
            and voice == "beep 50"
            and int(cues) == len(f"{headline}. Seed 0 says hello. That is all.".split())
        )
    assert not (out / "explode").exists() or not (out / "explode" / "run.json").exists()
    # 5 whole items plus the script stage that blew up; nothing else
    assert sorted(work_done(batch_env["log"])) == sorted(["script"] * 6 + ["image", "voice", "captions", "compose"] * 5)
    # --json-progress: one JSON object a line, every item started and done once, the batch closed with the counts
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert events[0] == {"kind": "batch-start", "total": 6}
    done = [e for e in events if e["kind"] == "item-done"]
    assert sorted(e["line"] for e in done) == [2, 3, 4, 5, 7, 8]
    assert any(
        e["kind"] == "stage" and e["event"]["stage"] == "compose" and e["event"]["kind"] == "progress" for e in events
    )
    assert events[-1]["kind"] == "batch-done" and events[-1]["counts"]["failed"] == 1
    assert _stray_parts(tmp_path) == []


def test_bad_lines_are_all_reported_with_line_numbers_before_any_work(batch_env, tmp_path):
    jsonl = _write(
        tmp_path / "bad.jsonl",
        "\n".join(
            [
                '{"headline": "Fine Headline One", "name": "one"}',
                '{"headline": "Broken line"',  # 2: not JSON
                '{"headline": "Fine Headline Two", "name": "two"}',
                '{"headline": "Same Name Again", "name": "ONE"}',  # 4: duplicate (case-insensitively)
                '{"headline": "Bad Provider", "providers": {"voice": "nope"}}',  # 5
                '{"headline": "Bad Param", "voice.pitchh": 3}',  # 6
                '{"headline": "Bad Seed", "seed": -1}',  # 7
                '["not", "an", "object"]',  # 8
                '{"headline": "Unknown Key", "colour": "red"}',  # 9
                '{"headline": "Bad Stage Param", "sound.rate": 3}',  # 10
                '{"headline": ""}',  # 11
                '{"headline": "Bad Name", "name": "../escape"}',  # 12
            ]
        )
        + "\n",
    )
    with pytest.raises(BatchFileError) as caught:
        validate(jsonl)
    by_line = {p.line: p.message for p in caught.value.problems}
    assert sorted(by_line) == [2, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert by_line[2].startswith("not JSON")
    assert "already used by line 1" in by_line[4]
    assert "unknown voice provider 'nope'" in by_line[5]
    assert "pitchh" in by_line[6]
    assert "seed" in by_line[7]
    assert "not an object" in by_line[8]
    assert "unknown column 'colour'" in by_line[9]
    assert "unknown stage 'sound'" in by_line[10]
    assert "headline is empty" in by_line[11]
    assert "not a plain folder name" in by_line[12]

    # The CLI prints them all and exits 2; no stage ran and nothing was written.
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(jsonl), "--out", str(out)])
    assert result.exit_code == 2
    for line in (2, 4, 5, 6, 7, 8, 9, 10, 11, 12):
        assert f"line {line}:" in result.output
    assert work_done(batch_env["log"]) == [] and not out.exists()

    # CSV: header problems are reported at the header's line, and no row is read
    no_headline = _write(tmp_path / "a.csv", "title,seed\nSomething,1\n")
    with pytest.raises(BatchFileError) as caught:
        validate(no_headline)
    assert [p.line for p in caught.value.problems] == [1, 1]
    assert (
        "no 'headline' column" in caught.value.problems[0].message
        and "unknown column 'title'" in caught.value.problems[1].message
    )
    unknown = _write(tmp_path / "b.csv", "\nheadline,colour,voice.rate\nA,red,100\n")
    with pytest.raises(BatchFileError) as caught:
        validate(unknown)
    assert [(p.line, "unknown column 'colour'" in p.message) for p in caught.value.problems] == [(2, True)]
    # bad rows of a good CSV: line numbers count the physical lines (a quoted cell may span two)
    rows = _write(
        tmp_path / "c.csv", 'headline,seed,voice.pitch\n"Two\nLines",1,3\nGood One,2,4\nBad Seed,x,5\nTooMany,1,2,3\n'
    )
    with pytest.raises(BatchFileError) as caught:
        validate(rows)
    by_line = {p.line: p.message for p in caught.value.problems}
    assert sorted(by_line) == [2, 5, 6]
    assert "control characters" in by_line[2] and "seed" in by_line[5] and "4 values" in by_line[6]
    # text: duplicate headlines make duplicate names; empty files have no headlines
    dup = _write(tmp_path / "d.txt", "# c\nSame Story\n\nOther Story\nsame story\n")
    with pytest.raises(BatchFileError) as caught:
        validate(dup)
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (5, "output name 'same-story' is already used by line 2 (set a 'name' for one of them)")
    ]
    for empty in (_write(tmp_path / "e.txt", "\n# only a comment\n"), _write(tmp_path / "f.csv", "headline,seed\n")):
        with pytest.raises(BatchFileError) as caught:
            validate(empty)
        assert [p.line for p in caught.value.problems] == [0] and "has no" in caught.value.problems[0].message
    assert work_done(batch_env["log"]) == []


def test_csv_and_jsonl_columns_become_make_options(batch_env, tmp_path):
    csv_file = _write(
        tmp_path / "x.csv",
        "headline,name,seed,aspect,providers.image,voice.pitch,force,params\n"
        '"Storm, then Sun",storm,7,9:16,lab,12,"script,voice","{""image"": {""delay"": 0.1}}"\n',
    )
    [item] = list(iter_items(csv_file))
    assert item.line == 2 and item.name == "storm"
    assert item.options == {
        "headline": "Storm, then Sun",
        "seed": 7,
        "aspect": "9:16",
        "providers": {"image": "lab"},
        "params": {"image": {"delay": 0.1}, "voice": {"pitch": "12"}},
        "force": ["script", "voice"],
    }
    assert validate(csv_file).total == 1  # and it plans: lab takes delay, beep takes pitch
    jsonl = _write(
        tmp_path / "x.jsonl",
        '{"headline": "A B", "out": "ab", "params": {"voice": {"pitch": 9}}, "voice.seconds_per_word": 0.5}\n',
    )
    [item] = list(iter_items(jsonl))
    assert item.name == "ab" and item.options["params"] == {"voice": {"pitch": 9, "seconds_per_word": 0.5}}


def test_rerun_skips_finished_items_and_redoes_changed_ones(batch_env, tmp_path):
    out = tmp_path / "out"
    batch = _write(tmp_path / "b.csv", "headline,name,seed\nFirst Story,first,1\nSecond Story,second,2\n")
    first = run_batch(batch, out, workers=1)
    assert [r.status for r in first.items] == ["ok", "ok"] and first.exit_code == 0
    log = batch_env["log"]
    log.unlink()
    again = run_batch(batch, out, workers=1)
    assert [r.status for r in again.items] == ["skipped", "skipped"] and work_done(log) == []
    assert _summary(out)["items"][0]["output"] == str(out.resolve() / "first")
    # a changed seed is a different video: only that item runs (its script is new work, and all after it)
    _write(batch, "headline,name,seed\nFirst Story,first,1\nSecond Story,second,3\n")
    changed = run_batch(batch, out, workers=1)
    assert [r.status for r in changed.items] == ["skipped", "ok"]
    assert work_done(log) == ["script", "image", "voice", "captions", "compose"]
    assert json.loads((out / "second" / "run.json").read_text())["stages"]["script"]["params"]["seed"] == 3


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_killed_batch_resumes_with_only_unfinished_work(batch_env, tmp_path, sig):
    """Run as a subprocess, stop it while item 3 is inside its (slow) image stage, then run the same batch again."""
    lines = ["headline,name,providers.image,image.delay"]
    for i in range(1, 7):
        lines.append(f"Story Number {i},s{i},lab,{3.0 if i == 3 else 0}")
    batch = _write(tmp_path / "b.csv", "\n".join(lines) + "\n")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "pipeline",
        "batch",
        str(batch),
        "--out",
        str(out),
        "--workers",
        "1",
        "--json-progress",
    ]
    shm = Path("/dev/shm")
    semaphores_before = set(shm.glob("sem.mp-*")) if shm.is_dir() else set()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=sigint_default)
    finished: list[str] = []
    try:
        in_image = False
        for line in proc.stdout:
            event = json.loads(line)
            if event["kind"] == "item-done":
                finished.append(event["name"])
            if event["kind"] == "stage" and event["name"] == "s3" and event["event"]["stage"] == "image":
                in_image = event["event"]["kind"] != "done"  # (the voice's events come meanwhile: it runs beside)
            if in_image and len(finished) == 2:  # (item 2's done may come just after item 3's first events)
                break
        else:
            pytest.fail(f"the batch ended before item 3's image stage: {proc.stderr.read()}")
        assert finished == ["s1", "s2"]
        time.sleep(0.3)  # inside the 3 s image stage
        os.killpg(proc.pid, sig)  # the whole process group, as a terminal's Ctrl-C or a dying machine would
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    first = work_done(batch_env["log"])
    assert first[:10] == ["script", "image", "voice", "captions", "compose"] * 2
    # item 3: its script, its image (stopped), and the voice and captions that the runner makes beside the image
    assert first[10:12] == ["script", "image"] and set(first[12:]) <= {"voice", "captions"}
    # what item 3 finished before it was stopped is cached (never what was still being built): s1, s2 and s3
    from pipeline.cache import Cache

    entries = [e.meta["stage"] for e in Cache(batch_env["cache"]).entries()]
    kept = {stage for stage in ("voice", "captions", "presenter") if entries.count(stage) == 3}
    assert entries.count("image") == 2 and entries.count("compose") == 2
    assert not (out / "s3" / "video.mp4").exists() and _stray_parts(tmp_path) == []
    if sig == signal.SIGINT:
        assert code == 130
        assert _statuses(out) == {
            "s1": "ok",
            "s2": "ok",
            "s3": "interrupted",
            "s4": "pending",
            "s5": "pending",
            "s6": "pending",
        }
        assert list((batch_env["cache"] / "tmp").iterdir()) == []  # the interrupted build cleaned up after itself
    else:
        assert code == -signal.SIGKILL and not (out / "batch.json").exists()
        # SIGKILL took multiprocessing's resource tracker with the group, so nobody unlinks the batch's named
        # semaphores: remove what the killed processes left in /dev/shm (a dying machine would clear them itself).
        for leaked in (set(shm.glob("sem.mp-*")) if shm.is_dir() else set()) - semaphores_before:
            leaked.unlink(missing_ok=True)

    batch_env["log"].unlink()
    summary = run_batch(batch, out, workers=1)
    assert summary.exit_code == 0
    assert _statuses(out) == {"s1": "skipped", "s2": "skipped", "s3": "ok", "s4": "ok", "s5": "ok", "s6": "ok"}
    # only unfinished work: item 3's script came from the cache; items 1-2 did nothing at all
    assert _hits(out, "s3") == {
        "script": True, "image": False, "compose": False, **{s: s in kept for s in ("voice", "captions", "presenter")}
    }
    for name in ("s4", "s5", "s6"):
        assert not any(_hits(out, name).values())
    redone = [s for s in ("voice", "captions") if s not in kept]
    assert sorted(work_done(batch_env["log"])) == sorted(["script"] * 3 + ["image", "compose"] * 4 + redone
                                                         + ["voice", "captions"] * 3)
    assert (out / "s3" / "video.mp4").read_text().startswith("Story Number 3|")


@pytest.fixture
def cuda_here(tmp_path, monkeypatch):
    """A machine with a CUDA GPU as far as batch's probe can tell (the hardware is the boundary faked here): a `torch`
    stand-in first on sys.path, which the spawned workers inherit. The parent never imports it."""
    root = tmp_path / "cuda_here"
    (root / "torch").mkdir(parents=True)
    (root / "torch" / "__init__.py").write_text(
        "class cuda:\n    @staticmethod\n    def is_available():\n        return True\n"
    )
    monkeypatch.syspath_prepend(str(root))
    yield
    if str(getattr(sys.modules.get("torch"), "__file__", "")).startswith(str(root)):
        del sys.modules["torch"]
    cuda_available.cache_clear()


def test_gpu_stages_never_exceed_the_gpu_slots(batch_env, cuda_here, tmp_path):
    lines = ["headline,name,providers.image,image.device,image.delay"] + [
        f"Gpu Story {i},g{i},lab,cuda,0.4" for i in range(6)
    ]
    batch = _write(tmp_path / "g.csv", "\n".join(lines) + "\n")
    summary = run_batch(batch, tmp_path / "out", workers=2, gpu_slots=1)
    assert summary.exit_code == 0
    spans = sorted(tuple(map(float, line.split()[2:])) for line in batch_env["intervals"].read_text().splitlines())
    pids = {line.split()[0] for line in batch_env["intervals"].read_text().splitlines()}
    assert len(spans) == 6 and len(pids) == 2  # both workers made images...
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.01  # ...but never two at once
    # a worker reuses its plan (and so its providers and their loaded models) for every item of the same request
    per_pid: dict[str, set[str]] = {}
    for line in batch_env["intervals"].read_text().splitlines():
        pid, provider_id = line.split()[:2]
        per_pid.setdefault(pid, set()).add(provider_id)
    assert all(len(ids) == 1 for ids in per_pid.values())


def test_gpu_gate_only_holds_gpu_stages():
    from pipeline.provider import Needs
    from pipeline.stages import ImageProvider

    class Sem:
        def __init__(self):
            self.held = 0

        def acquire(self, block=True):
            self.held += 1
            return True

        def release(self):
            self.held -= 1

    class Gpu(ImageProvider):
        name, needs = "g", Needs(gpu="optional")

        class Params(ImageProvider.Params):
            device: str = "cuda"

        def uses_gpu(self):
            return self.params.device != "cpu"

    class Plain(ImageProvider):  # declares no GPU need: the default uses_gpu() says no
        name = "p"

    def gpu_here():
        return True

    sem = Sem()
    gate = GpuGate(sem, gpu_present=gpu_here)
    assert runs_on_gpu(Gpu(), gpu_here) and not runs_on_gpu(Gpu({"device": "cpu"}), gpu_here)
    assert not runs_on_gpu(Plain(), gpu_here)
    with gate("image", Gpu()):
        assert sem.held == 1
    for provider in (Gpu({"device": "cpu"}), Plain()):
        with gate("image", provider):
            assert sem.held == 0
    # a machine without a CUDA GPU caps nothing: the provider's work runs on its CPU
    with GpuGate(sem, gpu_present=lambda: False)("image", Gpu()):
        assert sem.held == 0
    assert sem.held == 0


def test_a_crashing_worker_fails_only_its_item(batch_env, tmp_path):
    batch = _write(tmp_path / "c.jsonl", "".join(
        json.dumps({"headline": h, "providers": {"image": "lab"}, "params": {"image": {"crash_on": "Crash Here"}}}) + "\n"
        for h in ("Before the Crash", "Crash Here", "After the Crash")
    ))  # fmt: skip
    summary = run_batch(batch, tmp_path / "out", workers=1)
    assert [(r.name, r.status) for r in summary.items] == [
        ("before-the-crash", "ok"), ("crash-here", "failed"), ("after-the-crash", "ok")
    ]  # fmt: skip
    assert "worker process died" in summary.items[1].error and summary.exit_code == 1


def test_ten_thousand_lines_validate_as_a_stream(batch_env, tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "w") as f:
        f.writelines(f"Headline number {i} about the weather in a town near the river\n" for i in range(10_000))
    tracemalloc.start()
    try:
        materialised = list(iter_items(big))
        held = tracemalloc.get_traced_memory()[0]
        del materialised
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        started = time.perf_counter()
        validation = validate(big)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert validation.total == 10_000
    assert peak < held / 3, (peak, held)  # the names kept for the duplicate check, not the items
    assert seconds < 30
    # a bad line near the end is still found, with its number
    with open(big, "a") as f:
        f.write("Headline number 7 about the weather in a town near the river\n")
    with pytest.raises(BatchFileError) as caught:
        validate(big)
    assert [p.line for p in caught.value.problems] == [10_001]


@pytest.mark.slow
def test_ray_engine_runs_the_batch_on_a_local_instance(batch_env, tmp_path):
    pytest.importorskip("ray")
    barrier = tmp_path / "barrier"
    rows = [
        # two items asking for the same work: their workers build the same cache keys at the same moment
        {
            "headline": "Twin Story",
            "name": "twin-a",
            "providers": {"image": "lab"},
            "params": {"image": {"barrier": str(barrier)}},
        },
        {
            "headline": "Twin Story",
            "name": "twin-b",
            "providers": {"image": "lab"},
            "params": {"image": {"barrier": str(barrier)}},
        },
        {"headline": "Rain Expected Across the North"},
        {"headline": "explode"},
        {"headline": "Local Team Wins the Cup", "seed": 4},
        {"headline": "Bridge Repairs Finish Early", "aspect": "9:16"},
    ]
    batch = _write(tmp_path / "r.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    events = []
    summary = run_batch(batch, out, engine="ray", workers=2, on_event=events.append)
    assert summary.exit_code == 1
    statuses = _statuses(out)
    assert statuses == {
        "twin-a": "ok", "twin-b": "ok", "rain-expected-across-the-north": "ok", "explode": "failed",
        "local-team-wins-the-cup": "ok", "bridge-repairs-finish-early": "ok",
    }  # fmt: skip
    assert "boom inside a provider" in summary.items[3].error
    assert len({r.worker for r in summary.items}) >= 2  # it ran on more than one Ray worker
    # both twins built the image concurrently (the barrier saw two), both sealed the same key: one entry remains
    assert len(list(barrier.iterdir())) == 2
    keys = {}
    for name in statuses:
        if statuses[name] == "ok":
            for stage, rec in json.loads((out / name / "run.json").read_text())["stages"].items():
                keys[(name, stage)] = rec["key"]
    assert keys[("twin-a", "image")] == keys[("twin-b", "image")]
    entries = {p.name for p in (batch_env["cache"] / "entries").glob("*/*")}
    assert entries >= set(keys.values()) and list((batch_env["cache"] / "tmp").iterdir()) == []
    assert (out / "twin-a" / "video.mp4").read_text() == (out / "twin-b" / "video.mp4").read_text()
    assert work_done(batch_env["log"]).count("image") == 5  # the twins each built theirs; explode never got there
    kinds = [e.kind for e in events]
    assert kinds[0] == "batch-start" and kinds[-1] == "batch-done" and kinds.count("item-done") == 6
    assert any(e.kind == "stage" and e.event.stage == "compose" for e in events)  # progress came back from the workers


def test_ray_workers_get_settings_but_never_secrets(monkeypatch):
    from pipeline.batch.ray_engine import worker_env

    monkeypatch.setenv("NEWSREEL_SEED", "5")
    monkeypatch.setenv("NEWSREEL_OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("NEWSREEL_SERVICE_TOKEN", "token-secret")
    env = worker_env("/shared/cache")
    assert env["NEWSREEL_SEED"] == "5" and env["NEWSREEL_CACHE_DIR"] == "/shared/cache"
    assert "NEWSREEL_OPENAI_API_KEY" not in env and "NEWSREEL_SERVICE_TOKEN" not in env


def test_a_presenter_chosen_on_a_line_reaches_its_item(batch_env, tmp_path):
    """`presenter` and `presenter.KEY` columns pass through to the item's run (the settings choose none for all)."""
    jsonl = _write(
        tmp_path / "p.jsonl",
        '{"headline": "Anchor reads this", "out": "anchor", "presenter": "anchor", "presenter.look": "kwame", '
        '"presenter.size": 96}\n'
        '{"headline": "Nobody reads this", "out": "plain"}\n',
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(jsonl), "--out", str(out)])
    assert result.exit_code == 0, result.output
    anchored = json.loads((out / "anchor" / "run.json").read_text())["stages"]["presenter"]
    assert anchored["provider"] == "anchor" and anchored["params"]["look"] == "kwame" and anchored["notes"]["look"] == "kwame"
    assert json.loads((out / "plain" / "run.json").read_text())["stages"]["presenter"]["provider"] == "none"
