"""Fault injection against the real pipeline: a damaged cache entry is reported, rebuilt and never served or signed.

The providers are the real offline ones (your own narration through `text`, the slate, espeak, subtitles, the drawn
anchor, ffmpeg) on a short clip, so every stage's real files are damaged: script (artifact.json only), image (PNG),
narration (WAV), captions (SRT/VTT/ASS), the presenter's sprites (PNG) and video (MP4). Each run must finish with media that decode to the same frames as a clean
run, and a signature that verifies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cache import Cache
from pipeline.media import ffmpeg_exe

pytestmark = pytest.mark.slow

HEADLINE = "Council opens new library"
NARRATION = "The city council opened a new library on Monday. It holds forty thousand books and a small cafe."
OPTIONS = {
    "providers": {"script": "text", "image": "slate", "voice": "espeak", "captions": "subtitles", "compose": "ffmpeg"},
    "params": {"script": {"text": NARRATION}, "voice": {"fit": False}},
}
CLI_ARGS = ["--provider", "script=text", "--provider", "image=slate", "--provider", "voice=espeak", "--set", f"script.text={NARRATION}", "--set", "voice.fit=false"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("integrity")
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("NEWSREEL_"):
            del os.environ[name]
    os.environ.update(
        NEWSREEL_CACHE_DIR=str(root / "cache"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CACHE_HOME=str(root / "xdg-cache"),
    )
    (root / "cwd").mkdir()
    cwd = os.getcwd()
    os.chdir(root / "cwd")
    try:
        yield root
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


def make(out: Path, **extra):
    from pipeline.runner import make_video

    notices: list[str] = []

    def on_event(event):
        if event.kind == "notice":
            notices.append(event.message)

    result = make_video(HEADLINE, out=out, on_event=on_event, **OPTIONS, **extra)
    return result, notices


def decoded_frames(video: Path) -> str:
    """sha256 of every decoded frame (small grey frames: enough to tell any change in the picture)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(video), "-vf", "scale=160:90", "-pix_fmt", "gray", "-f", "rawvideo", "-"],
        capture_output=True, check=True,
    )
    assert len(proc.stdout) > 160 * 90 * 30
    return hashlib.sha256(proc.stdout).hexdigest()


def verified(folder: Path) -> bool:
    from pipeline.provenance import verify

    return verify(folder / "video.mp4", watermark=False).exit_code == 0


@pytest.fixture(scope="module")
def clean(env):
    result, notices = make(env / "clean")
    assert notices == []
    assert verified(env / "clean")
    return {
        "frames": decoded_frames(env / "clean" / "video.mp4"),
        "digests": {s: r["digest"] for s, r in result.record["stages"].items()},
        "files": {n: hashlib.sha256((env / "clean" / n).read_bytes()).hexdigest() for n in ("narration.wav", "captions.srt", "image.png", "script.json")},
    }


def entry_of(root: Path, stage: str) -> Path:
    for entry in Cache(root / "cache").entries():
        if entry.meta.get("stage") == stage:
            return entry.path
    raise AssertionError(f"no {stage} entry")


def payload(obj: Path) -> Path:
    """The stage's biggest file of its own, in any folder of the entry (the presenter's sprites/), or artifact.json for
    the script, whose artifact holds no file."""
    files = [f for f in obj.rglob("*") if f.is_file() and f.name not in ("meta.json", "artifact.json")]
    return max(files, key=lambda f: f.stat().st_size) if files else obj / "artifact.json"


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0x5A for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


FAULTS = {
    "flip 16 bytes": lambda obj: flip(payload(obj)),
    "truncate": lambda obj: payload(obj).write_bytes(payload(obj).read_bytes()[: payload(obj).stat().st_size // 3]),
    "delete a file": lambda obj: payload(obj).unlink(),
    "corrupt meta.json": lambda obj: (obj / "meta.json").write_bytes((obj / "meta.json").read_bytes()[:40]),
    "corrupt artifact.json": lambda obj: (obj / "artifact.json").write_text('{"this": "is not the artifact"}'),
}
from pipeline.stages import STAGES as _ALL_STAGES  # noqa: E402

STAGES = tuple(_ALL_STAGES)  # every stage's real entry, the presenter's (the default anchor's sprites) included
N = len(STAGES)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_damaged_entry_is_reported_rebuilt_and_the_video_matches_a_clean_run(env, clean, stage, fault):
    FAULTS[fault](entry_of(env, stage))
    out = env / f"after-{stage}-{fault.replace(' ', '-')}"
    result, notices = make(out)
    assert len(notices) == 1 and notices[0].startswith(f"{stage}: the cached result was damaged"), notices
    stages = result.record["stages"]
    assert [s for s, r in stages.items() if not r["hit"]][0] == stage  # rebuilt from the damaged stage on
    assert {s: r["digest"] for s, r in stages.items() if s != "compose"} == {s: d for s, d in clean["digests"].items() if s != "compose"}
    assert decoded_frames(out / "video.mp4") == clean["frames"]
    for name, digest in clean["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert verified(out)
    assert Cache(env / "cache").verify() == (N, [])
    assert list((env / "cache" / "tmp").iterdir()) == []


def test_force_repairs_a_damaged_entry_and_replaces_a_good_one_atomically(env, clean):
    cache = Cache(env / "cache")
    flip(payload(entry_of(env, "voice")))
    result, notices = make(env / "forced", force=["voice"])
    assert notices == []  # --force never looked at the damaged entry: it rebuilt it
    assert not result.record["stages"]["voice"]["hit"]
    assert cache.verify() == (N, [])
    before = entry_of(env, "compose")
    result, _ = make(env / "forced", force=["compose"])  # a good entry is replaced, not kept
    after = entry_of(env, "compose")
    assert after != before and (before / "video.mp4").is_file()  # the old object stays for its readers...
    assert (env / "cache" / "retired" / before.name).is_file()  # ...marked for removal after the grace
    assert result.record["stages"]["compose"]["key"] == after.name.split(".")[0]
    assert decoded_frames(env / "forced" / "video.mp4") == clean["frames"] and verified(env / "forced")


def test_the_cli_reports_a_damaged_entry_in_one_line_and_cache_verify_finds_it(env, clean):
    flip(payload(entry_of(env, "image")))
    cli_env = dict(os.environ, COLUMNS="200")
    newsreel = [sys.executable, "-m", "pipeline"]
    check = subprocess.run([*newsreel, "cache", "verify"], capture_output=True, text=True, env=cli_env, timeout=120)
    assert check.returncode == 1 and "damaged:" in check.stdout and "(image): slate-01.png does not match its sealed hash" in check.stdout
    doctor_like = Cache(env / "cache").verify(hashes=False)
    assert doctor_like == (6, [])  # one entry per stage; same size: only the full check reads the bytes
    proc = subprocess.run([*newsreel, "make", HEADLINE, "--out", str(env / "cli"), *CLI_ARGS], capture_output=True, text=True, env=cli_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "damaged" in line]
    assert lines == ["note: image: the cached result was damaged (slate-01.png does not match its sealed hash); rebuilding it"]
    again = subprocess.run([*newsreel, "cache", "verify"], capture_output=True, text=True, env=cli_env, timeout=120)
    assert again.returncode == 0 and "6 entries checked, 0 damaged" in again.stdout
    assert decoded_frames(env / "cli" / "video.mp4") == clean["frames"] and verified(env / "cli")


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append((int(proc.name), cmd))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads children from /proc (Linux)")
def test_kill_9_during_compose_then_make_again_completes_and_leaves_nothing(env, clean):
    Cache(env / "cache").remove(entry_of(env, "compose").name.split(".")[0])
    out = env / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "make", HEADLINE, "--out", str(out), *CLI_ARGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    encoder = None
    deadline = time.monotonic() + 120
    while encoder is None and time.monotonic() < deadline and proc.poll() is None:
        encoder = next((pid for pid, cmd in _children(proc.pid) if "ffmpeg" in cmd and "rawvideo" in cmd), None)
        time.sleep(0.02)
    assert encoder is not None, "compose's encoder never started"
    proc.send_signal(signal.SIGKILL)  # the newsreel process alone: its ffmpeg must not outlive it
    proc.wait(10)
    for _ in range(100):
        if not Path(f"/proc/{encoder}").exists() or "Z" in (Path(f"/proc/{encoder}/stat").read_text().rsplit(")", 1)[1].split()[:1]):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("ffmpeg outlived the killed newsreel")
    assert not out.exists()
    leftovers = list((env / "cache" / "tmp").iterdir())
    assert leftovers  # the killed build's folder and lock are still there, with nobody holding the lock
    result, notices = make(out)
    assert notices == [] and not result.record["stages"]["compose"]["hit"]
    assert list((env / "cache" / "tmp").iterdir()) == []  # cleaned by this run, not a day later
    assert [p.name for p in env.iterdir() if ".newsreel-" in p.name] == []
    assert decoded_frames(out / "video.mp4") == clean["frames"] and verified(out)


def test_a_run_into_an_existing_run_folder_replaces_it_only_on_success(env, clean, monkeypatch):
    from pipeline import runner
    from pipeline.errors import NewsreelError

    out = env / "replace-me"
    make(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_export = runner._export

    def export_then_fail(folder, files):
        real_export(folder, files)
        raise OSError(5, "Input/output error")  # everything written, then the disk fails before the rename

    monkeypatch.setattr(runner, "_export", export_then_fail)
    with pytest.raises(OSError):
        make(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous run is intact
    assert [p.name for p in env.iterdir() if ".newsreel-" in p.name] == []
    monkeypatch.setattr(runner, "_export", real_export)
    make(out)
    assert json.loads((out / "run.json").read_text())["created"] and (out / "run.json").read_bytes() != before["run.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
    # A folder holding someone else's files is never replaced.
    mine = env / "my-documents"
    mine.mkdir()
    (mine / "thesis.odt").write_bytes(b"years of work")
    with pytest.raises(NewsreelError, match="holds files newsreel did not make"):
        make(mine)
    assert [p.name for p in mine.iterdir()] == ["thesis.odt"]


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (root only: CI and this project's machines run as root; skipped elsewhere)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _cli(env_root: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(extra_env or {})}, timeout=300)


def test_a_full_output_disk_is_one_line_naming_it_and_leaves_nothing(env, clean, small_disk):
    (small_disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024))  # leaves ~1 MB: less than the run folder needs
    proc = _cli(env, "make", HEADLINE, "--out", str(small_disk / "clip"), *CLI_ARGS)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"the output folder {small_disk} is full" in errors[0] and "--out" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]  # no partial run folder, no temp files


def test_a_full_cache_disk_is_one_line_naming_it_and_leaves_nothing(env, clean, small_disk):
    proc = _cli(env, "make", HEADLINE, "--out", str(env / "full-cache"), *CLI_ARGS,
                extra_env={"NEWSREEL_CACHE_DIR": str(small_disk / "cache")})
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"the cache folder {small_disk / 'cache'} is full" in errors[0] and "cache prune" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert list((small_disk / "cache" / "tmp").iterdir()) == []
    assert not (env / "full-cache").exists()
    assert Cache(small_disk / "cache").verify() == (len(Cache(small_disk / "cache").entries()), [])  # what was sealed is whole
