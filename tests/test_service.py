"""The web service over real HTTP on 127.0.0.1: `newsreel serve` in a child process, the test plugin's fast providers
(installed through a real entry point), and a gated compose provider (tests/plugins/newsreel_slowplugin.py) that
holds a job in `running` for the queue, cancel and restart tests."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from tests.helpers import TEST_PROVIDERS, sigint_default

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIR = Path(__file__).parent / "plugins"
STAGE_ORDER = ["script", "image", "voice", "captions", "presenter", "compose"]
ENTRY_POINTS = """\
[newsreel.providers]
script.echo = newsreel_testplugin:EchoScript
image.flat = newsreel_testplugin:FlatImage
voice.beep = newsreel_testplugin:BeepVoice
captions.plain = newsreel_testplugin:PlainCaptions
compose.listing = newsreel_testplugin:ListingCompose
compose.gated = newsreel_slowplugin:GatedCompose
"""
TOKEN = "correct-horse-battery-staple-42"


# -- a server in a child process -------------------------------------------------------------------------------------


def make_env(root: Path) -> dict[str, str]:
    """Environment for a server child: the test plugins installed via a dist-info, private config/data/cache dirs."""
    site = root / "site"
    dist = site / "newsreel_testplugin-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-testplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (root / "cwd").mkdir(exist_ok=True)
    # The user's newsreel.toml: the fast test providers are the defaults, so the page's form makes quick jobs too.
    (root / "config" / "newsreel").mkdir(parents=True, exist_ok=True)
    providers = "\n".join(f'{stage} = "{name}"' for stage, name in TEST_PROVIDERS.items())
    (root / "config" / "newsreel" / "newsreel.toml").write_text(f"[providers]\n{providers}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSREEL_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(site), str(PLUGIN_DIR), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_DATA_HOME=str(root / "data-home"),
        NEWSREEL_CACHE_DIR=str(root / "cache"),
        NEWSREEL_TESTPLUGIN_LOG=str(root / "work.log"),
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`newsreel serve` on a free loopback port; start, kill -9, restart on the same data dir."""

    def __init__(self, root: Path, *args: str):
        self.root = root
        self.env = make_env(root)
        self.data = root / "data"
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0

    def start(self, *extra: str) -> Service:
        self.port = free_port()
        self.starts += 1
        log = open(self.root / f"server-{self.starts}.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", "--port", str(self.port), "--data-dir", str(self.data), *self.args, *extra],
            env=self.env,
            cwd=self.root / "cwd",
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=sigint_default,  # stop() uses Ctrl-C
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log()}")
            try:
                if httpx.get(self.url("/api/health"), headers=self.auth(), timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not come up: {self.log()}")

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"} if "--token-file" in self.args else {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url(""), timeout=30)

    def log(self) -> str:
        return (self.root / f"server-{self.starts}.log").read_text()[-3000:]

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def children(self) -> list[int]:
        """Live child processes of the server (its job workers)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                found.append(int(stat.parent.name))
        return found


def wait_for(fn, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def job_state(client, job_id: str) -> dict:
    r = client.get(f"/api/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_state(client, job_id: str, *states: str, timeout: float = 30.0) -> dict:
    return wait_for(lambda: (j := job_state(client, job_id))["state"] in states and j, timeout, what=f"job {job_id} -> {states}")


def all_jobs(client) -> list[dict]:
    """Every job the server knows, page by page."""
    jobs, url = [], "/api/jobs?limit=100"
    while url:
        page = client.get(url).json()
        jobs += page["jobs"]
        url = page["next"]
    return jobs


def jobs_titled(client, headline: str) -> list[dict]:
    """The jobs with this headline: a test that refuses a job looks for its own headline, not at the whole list,
    which holds other tests' jobs changing state."""
    return [j for j in all_jobs(client) if j["headline"] == headline]


def fast_job(headline: str, **extra) -> dict:
    return {"headline": headline, "providers": dict(TEST_PROVIDERS), **extra}


def gated_job(headline: str, gate: Path) -> dict:
    return {"headline": headline, "providers": {**TEST_PROVIDERS, "compose": "gated"}, "params": {"compose": {"gate": str(gate)}}}


def assert_error(r, status: int, *words: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "hint"} and body["error"] and body["hint"], body
    assert "Traceback" not in r.text
    for word in words:
        assert word in body["error"], (word, body)
    return body


def huge_png_header(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG whose header claims a 1-bit width x height picture (400 megapixels by default) with no pixel data: tiny
    on disk, and what Pillow reads when it opens a file."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def png_bytes(size=(16, 9), noise: bool = False) -> bytes:
    import numpy as np
    from PIL import Image

    if noise:
        pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        img = Image.fromarray(pixels)
    else:
        img = Image.new("RGB", size, (200, 30, 40))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes(struct.pack("<h", 1000) * int(8000 * seconds))
    return buf.getvalue()


def read_events(client, job_id: str, timeout: float = 60.0) -> list[tuple[str, dict]]:
    """Every server-sent event of a job's stream, until the stream ends (the job finished)."""
    events, kind = [], None
    with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=timeout) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    return events


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = Service(tmp_path_factory.mktemp("service"), "--max-queued", "3", "--max-upload-mb", "0.05").start()
    yield svc
    svc.stop()
    assert svc.proc.returncode is not None


@pytest.fixture
def client(service):
    with service.client() as c:
        yield c


# -- happy path --------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_video_end_to_end_over_http(service, client):
    """Queue a job that renders a real MP4 (ffmpeg compose, subtitles captions), follow its events to the end,
    download the video with a range request and its captions, and see them on the job page."""
    job = {
        "headline": "Lunar rover finds ice near the south pole",
        "seed": 11,
        "providers": {**TEST_PROVIDERS, "captions": "subtitles", "compose": "ffmpeg"},
        "params": {"compose": {"fps": 15, "preset": "ultrafast"}},
    }
    r = client.post("/api/jobs", json=job)
    assert r.status_code == 201, r.text
    created = r.json()
    job_id = created["id"]
    assert r.headers["location"] == f"/api/jobs/{job_id}"
    assert created["state"] in ("queued", "running") and created["links"]["video"] is None
    assert "out" not in created and str(service.data) not in r.text  # the run folder never leaves the server

    events = read_events(client, job_id)
    kinds = [k for k, _ in events]
    assert kinds[0] == "job" and kinds[-1] == "job"
    assert events[-1][1]["state"] == "done"
    progress = [d for k, d in events if k == "progress"]
    starts = [d["stage"] for d in progress if d["kind"] == "start"]
    dones = [d["stage"] for d in progress if d["kind"] == "done"]
    # Stages overlap where the data allows (the image beside voice, captions and presenter): each is reported once,
    # and never before the stages it takes.
    for seen in (starts, dones):
        assert sorted(seen) == sorted(STAGE_ORDER) and seen[0] == "script" and seen[-1] == "compose", seen
        assert seen.index("voice") < seen.index("captions") and seen.index("voice") < seen.index("presenter"), seen
    compose = [d["fraction"] for d in progress if d["stage"] == "compose" and d["kind"] == "progress"]
    assert any(0 < f < 1 for f in compose), compose
    assert compose == sorted(compose)  # it only moves forward

    final = job_state(client, job_id)
    assert final["state"] == "done" and final["attempts"] == 1 and final["error"] is None
    assert all(s["state"] == "done" and s["fraction"] == 1.0 for s in final["stages"].values())
    assert {"video.mp4", "captions.vtt", "script.json", "run.json", "poster.jpg"} <= set(final["links"]["files"])

    # A range request, as a <video> element makes it.
    r = client.get(final["links"]["video"], headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100 and r.content[4:8] == b"ftyp"
    r = client.get(final["links"]["video"], params={"download": 1})
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert "attachment" in r.headers["content-disposition"]
    video = service.root / "downloaded.mp4"
    video.write_bytes(r.content)
    from pipeline.media import probe

    info = probe(video)
    script = client.get(final["links"]["files"]["script.json"]).json()
    words = sum(len(s.split()) for s in script["sentences"])
    assert info.video.width == 1280 and info.video.height == 720 and info.video.codec.startswith("h264")
    assert abs(info.duration - (words * 0.25 + 0.6)) < 0.35, (info.duration, words)  # beep voice: 0.25 s a word, 0.6 s tail

    vtt = client.get(final["links"]["files"]["captions.vtt"])
    assert vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    assert "Lunar rover finds ice" in vtt.text
    record = client.get(final["links"]["files"]["run.json"]).json()
    assert {k: v["provider"] for k, v in record["stages"].items()} == job["providers"]
    assert record["settings"]["seed"] == 11

    html = client.get(f"/jobs/{job_id}").text
    assert f'<source src="/api/jobs/{job_id}/video" type="video/mp4">' in html
    assert f'src="/api/jobs/{job_id}/files/captions.vtt"' in html and "<track" in html
    assert "Seed 11 says hello." in html  # the script
    assert "<code>subtitles</code>" in html and "<code>ffmpeg</code>" in html  # the provenance table
    home = client.get("/").text
    assert f'href="/jobs/{job_id}"' in home and "Lunar rover finds ice near the south pole" in home


def test_list_is_paginated_newest_first(service, client):
    ids = []
    for i in range(3):
        r = client.post("/api/jobs", json=fast_job(f"Page test headline {i}"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for job_id in ids:
        wait_state(client, job_id, "done")
    first = client.get("/api/jobs", params={"limit": 2}).json()
    assert first["limit"] == 2 and first["offset"] == 0 and first["total"] >= 3
    assert [j["id"] for j in first["jobs"]] == ids[::-1][:2]
    assert first["next"] == "/api/jobs?limit=2&offset=2"
    second = client.get(first["next"]).json()
    assert second["jobs"][0]["id"] == ids[0]
    done = client.get("/api/jobs", params={"state": "done", "limit": 100}).json()
    assert set(ids) <= {j["id"] for j in done["jobs"]} and all(j["state"] == "done" for j in done["jobs"])
    # the listing compose wrote "title|voice|cues" as its video: the run folder holds what the job made
    assert client.get(f"/api/jobs/{ids[1]}/video").text == "Page test headline 1|beep 50|11"


# -- bad input ---------------------------------------------------------------------------------------------------------

BAD_JOBS = [
    ("malformed JSON", b'{"headline": "x",', 400, "not valid JSON"),
    ("empty body", b"", 400, "empty"),
    ("not an object", b'["headline"]', 422, "JSON object"),
    ("missing headline", b'{"seed": 3}', 422, "no headline"),
    ("empty headline", b'{"headline": "   "}', 422, "headline is empty"),
    ("over-long headline", json.dumps({"headline": "word " * 80}).encode(), 422, "the limit is 300"),
    ("control characters", b'{"headline": "two\\nlines"}', 422, "control characters"),
    ("unknown option", b'{"headline": "x", "out": "/etc"}', 422, "unknown option 'out'"),
    ("wrong type", b'{"headline": "x", "seed": "seven"}', 422, "seed"),
    ("negative seed", b'{"headline": "x", "seed": -1}', 422, "seed"),
    ("unknown aspect", b'{"headline": "x", "aspect": "4:3"}', 422, "aspect"),
    ("unknown provider", b'{"headline": "x", "providers": {"image": "nope"}}', 422, "unknown image provider 'nope'"),
    ("unknown stage", b'{"headline": "x", "providers": {"sound": "x"}}', 422, "unknown stage 'sound'"),
    ("init image path", b'{"headline": "x", "init_image": "/etc/passwd"}', 422, "must be an upload"),
    ("missing upload", b'{"headline": "x", "init_image": "upload:0123456789abcdef"}', 422, "does not exist"),
    # raw JSON that decodes to what no job holds: each used to end in a 500
    ("lone surrogate", b'{"headline": "Mars \\ud800 rover"}', 400, "lone UTF-16 surrogate"),
    ("surrogate in a key", b'{"headline": "x", "params": {"compose": {"\\udfff": 1}}}', 400, "surrogate"),
    ("nested too deep", b'{"headline": "x", "params": {"image": {"a": ' + b"[" * 40 + b"]" * 40 + b"}}}", 400, "nested more than"),
    ("nested past the parser", b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", 400, "nested more than"),
    ("nested 100k deep", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 413, "larger than"),
    ("NaN", b'{"headline": "x", "seed": NaN}', 400, "NaN"),
    ("infinite number", b'{"headline": "x", "params": {"image": {"strength": 1e999}}}', 400, "too large"),
    ("endless digits", b'{"headline": "x", "seed": ' + b"7" * 5000 + b"}", 400, "not valid JSON"),
]


@pytest.mark.parametrize("body,status,words", [b[1:] for b in BAD_JOBS], ids=[b[0] for b in BAD_JOBS])
def test_bad_job_requests_say_what_to_fix(client, body, status, words):
    before = {j["id"] for j in all_jobs(client)}
    r = client.post("/api/jobs", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, status, words)
    assert "\n" not in r.json()["error"]
    assert [j for j in all_jobs(client) if j["id"] not in before] == []  # nothing was queued


def test_other_bad_requests(service, client):
    assert_error(client.post("/api/jobs", content=b"headline=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415, "must be JSON")
    big = json.dumps({"headline": "x", "params": {"voice": {"pad": "x" * 70_000}}}).encode()
    assert_error(client.post("/api/jobs", content=big, headers={"Content-Type": "application/json"}), 413, "larger than")
    for path in ("/api/jobs/0123456789abcdef", "/api/jobs/not-an-id", "/api/jobs/0123456789abcdef/video",
                 "/api/jobs/0123456789abcdef/events", "/api/jobs/0123456789abcdef/files/run.json"):
        assert_error(client.get(path), 404, "no job")
    assert_error(client.delete("/api/jobs/0123456789abcdef"), 404, "no job")
    assert_error(client.get("/api/jobs", params={"limit": 0}), 422, "limit")
    assert_error(client.get("/api/jobs", params={"state": "sleeping"}), 422, "state")
    assert_error(client.get("/api/nothing"), 404, "nothing at")
    assert_error(client.put("/api/jobs"), 405, "not allowed")
    # DNS rebinding: a page under another name must not reach a loopback server
    assert_error(client.get("/api/jobs", headers={"Host": "attacker.example:80"}), 400, "only to localhost")
    # another site's page must not queue jobs through the user's browser
    assert_error(client.post("/api/jobs", json=fast_job("x"), headers={"Origin": "http://attacker.example"}), 403, "cross-site")
    assert_error(client.post("/jobs", data={"headline": "x"}, headers={"Sec-Fetch-Site": "cross-site"}), 403, "cross-site")


def test_files_are_limited_to_the_run_folder(service, client):
    job_id = client.post("/api/jobs", json=fast_job("Files test")).json()["id"]
    wait_state(client, job_id, "done")
    (service.data / "secret.txt").write_text("not for clients")
    assert_error(client.get(f"/api/jobs/{job_id}/files/..%2F..%2Fsecret.txt"), 404)
    assert_error(client.get(f"/api/jobs/{job_id}/files/secret.txt"), 404, "no file")
    assert_error(client.get(f"/api/jobs/{job_id}/files/.hidden.json"), 404, "no file")
    assert client.get(f"/api/jobs/{job_id}/files/script.json").json()["headline"] == "Files test"


# -- uploads -----------------------------------------------------------------------------------------------------------


def test_uploads_are_sniffed_and_size_limited(client):
    r = client.post("/api/uploads", files={"file": ("photo.png", png_bytes(), "image/png")}, data={"kind": "image"})
    assert r.status_code == 201, r.text
    up = r.json()
    assert up["type"] == "image/png" and up["kind"] == "image" and up["ref"] == f"upload:{up['id']}" and up["bytes"] > 50
    # the name and declared type lie: the bytes decide
    jpeg = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    assert client.post("/api/uploads", files={"file": ("x.png", jpeg.getvalue(), "image/png")}).json()["type"] == "image/jpeg"
    assert_error(client.post("/api/uploads", files={"file": ("cat.png", b"#!/bin/sh\necho not a picture\n" * 4, "image/png")}), 422, "not an image")
    assert_error(client.post("/api/uploads", files={"file": ("cut.png", png_bytes((64, 64), noise=True)[:2000], "image/png")}), 422, "damaged")
    assert_error(client.post("/api/uploads", files={"file": ("big.png", png_bytes((200, 200), noise=True), "image/png")}), 413, "larger than")
    assert_error(client.post("/api/uploads", files={"file": ("empty.png", b"", "image/png")}), 422, "empty")
    assert_error(client.post("/api/uploads", data={"kind": "image"}), 422, "file")
    assert_error(client.post("/api/uploads", files={"file": ("a.png", png_bytes())}, data={"kind": "video"}), 422, "kind")
    song = client.post("/api/uploads", files={"file": ("song.mp3", wav_bytes(), "audio/mpeg")}, data={"kind": "audio"})
    assert song.status_code == 201 and song.json()["type"] == "audio/wav"
    assert_error(client.post("/api/uploads", files={"file": ("song.mp3", png_bytes(), "audio/mpeg")}, data={"kind": "audio"}), 422, "not audio")
    fake_wav = b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk" * 8
    assert_error(client.post("/api/uploads", files={"file": ("x.wav", fake_wav)}, data={"kind": "audio"}), 422, "audio")
    # a job may name an image upload as its init image, but not an audio one
    r = client.post("/api/jobs", json=fast_job("x", init_image=song.json()["ref"]))
    assert_error(r, 422, "not an image")


def test_upload_files_on_disk(service, client):
    before = set((service.data / "uploads").glob("*")) if (service.data / "uploads").exists() else set()
    assert_error(client.post("/api/uploads", files={"file": ("x.png", b"not an image at all" * 10)}), 422)
    r = client.post("/api/uploads", files={"file": ("../../evil name.png", png_bytes())})
    assert r.status_code == 201 and r.json()["name"] == "evil name.png"
    after = set((service.data / "uploads").glob("*"))
    new = after - before
    assert [p.name for p in new] == [f"{r.json()['id']}.png"]  # the refused one left nothing; the name is ours


# -- queue, cancel -----------------------------------------------------------------------------------------------------


def test_queue_limit_and_cancel(service, client):
    health = lambda: client.get("/api/health").json()  # noqa: E731
    wait_for(lambda: health()["queued"] == 0 and health()["running"] == 0, what="earlier tests' jobs to finish")
    gate = service.root / "never-opens"
    running = client.post("/api/jobs", json=gated_job("Held at compose", gate)).json()["id"]
    wait_for(lambda: job_state(client, running)["stages"]["compose"]["state"] == "running", what="compose running")
    queued = []
    for i in range(3):
        r = client.post("/api/jobs", json=fast_job(f"Waiting {i}"))
        assert r.status_code == 201 and r.json()["position"] == i + 1, r.text
        queued.append(r.json()["id"])
    r = client.post("/api/jobs", json=fast_job("One too many"))
    assert_error(r, 429, "queue is full")
    assert r.headers["retry-after"] == "30"

    r = client.delete(f"/api/jobs/{queued[0]}")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert job_state(client, queued[1])["position"] == 1
    assert_error(client.delete(f"/api/jobs/{queued[0]}"), 409, "already cancelled")

    workers = wait_for(service.children, what="a worker process")
    r = client.delete(f"/api/jobs/{running}")
    assert r.status_code == 202 and r.json()["state"] == "running"
    t0 = time.monotonic()
    final = wait_state(client, running, "cancelled", "failed", "done", timeout=10)
    assert final["state"] == "cancelled" and time.monotonic() - t0 < 3  # the next progress event (50 ms) stopped it
    assert_error(client.get(f"/api/jobs/{running}/video"), 409, "cancelled")
    for job_id in queued[1:]:
        assert wait_state(client, job_id, "done")["state"] == "done"
    assert not any(Path(f"/proc/{pid}").exists() and pid in service.children() for pid in workers)
    leftovers = list((service.root / "cache" / "tmp").glob("*"))
    assert leftovers == []  # the cancelled build's temp folder was removed


def test_cancel_escalates_to_a_signal_for_silent_work(service, client):
    """Work that sends no progress events cannot see the cooperative cancel: the worker gets SIGTERM after the grace
    period (3 s), which still unwinds the run cleanly."""
    job = gated_job("Silent work", service.root / "never-opens-either")
    job["params"]["compose"]["quiet"] = True
    job_id = client.post("/api/jobs", json=job).json()["id"]
    wait_for(lambda: job_state(client, job_id)["stages"]["compose"]["state"] == "running", what="compose running")
    t0 = time.monotonic()
    assert client.delete(f"/api/jobs/{job_id}").status_code == 202
    final = wait_state(client, job_id, "cancelled", "failed", "done", timeout=15)
    took = time.monotonic() - t0
    assert final["state"] == "cancelled" and 2.5 < took < 8, (final, took)
    assert list((service.root / "cache" / "tmp").glob("*")) == []


def _ffmpegs(root: Path) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
            stat = (cmdline.parent / "stat").read_text()
        except OSError:
            continue
        if args and b"ffmpeg" in Path(args[0].decode(errors="replace")).name.encode() and str(root).encode() in b" ".join(args):
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(cmdline.parent.name))
    return found


@pytest.mark.slow
def test_cancel_stops_ffmpeg(service, client):
    """Cancelling a job while ffmpeg renders: the progress callback raises, run_ffmpeg kills ffmpeg."""
    job = {
        "headline": "A long render to cancel",
        "providers": {**TEST_PROVIDERS, "captions": "subtitles", "compose": "ffmpeg"},
        "params": {"voice": {"seconds_per_word": 2.0}},  # 20 s of video: long enough to catch it mid-render
    }
    job_id = client.post("/api/jobs", json=job).json()["id"]
    wait_for(lambda: job_state(client, job_id)["stages"]["compose"]["fraction"] > 0.03, what="compose under way")
    running = wait_for(lambda: _ffmpegs(service.root), timeout=10, what="ffmpeg running")
    assert client.delete(f"/api/jobs/{job_id}").status_code == 202
    assert wait_state(client, job_id, "cancelled", "failed", "done", timeout=10)["state"] == "cancelled"
    wait_for(lambda: not any(pid in _ffmpegs(service.root) for pid in running), timeout=5, what="ffmpeg gone")
    assert list((service.root / "cache" / "tmp").glob("*")) == []


# -- restart -----------------------------------------------------------------------------------------------------------


def test_restart_mid_job_loses_nothing(tmp_path):
    """Kill -9 the server while a job runs: the worker stops by itself; a restart with --no-resume fails the
    interrupted job with the reason. Stop it gracefully while the next job runs: a restart with resume (the
    default) finishes that job, its finished stages from the cache."""
    svc = Service(tmp_path)
    gate = tmp_path / "gate"
    svc.start()
    try:
        with svc.client() as c:
            a = c.post("/api/jobs", json=gated_job("First interrupted job", gate)).json()["id"]
            b = c.post("/api/jobs", json=gated_job("Second interrupted job", gate)).json()["id"]
            wait_for(lambda: job_state(c, a)["stages"]["compose"]["state"] == "running", what="a at compose")
            assert job_state(c, b)["state"] == "queued"
        pid = sqlite3.connect(svc.data / "service.sqlite3").execute("SELECT pid FROM jobs WHERE id = ?", (a,)).fetchone()[0]
        assert pid and Path(f"/proc/{pid}").exists()
        svc.kill()
        # the orphaned worker notices (its stdin closed) at its next progress event and stops
        wait_for(lambda: not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3], timeout=10, what="orphan worker exit")

        svc.start("--no-resume")
        with svc.client() as c:
            failed = job_state(c, a)
            assert failed["state"] == "failed" and "server stopped while this job was running" in failed["error"]["error"]
            wait_for(lambda: job_state(c, b)["stages"]["compose"]["state"] == "running", what="b at compose")
        svc.stop()  # a graceful stop (Ctrl-C) this time: the worker is stopped, the job stays `running` for the next start
        assert svc.proc.returncode == 0 and svc.children() == []
        assert sqlite3.connect(svc.data / "service.sqlite3").execute("SELECT state FROM jobs WHERE id = ?", (b,)).fetchone()[0] == "running"

        gate.write_text("open")
        svc.start()
        with svc.client() as c:
            done = wait_state(c, b, "done", "failed")
            assert done["state"] == "done", done
            assert done["attempts"] == 2 and any("resumed after a server restart" in n for n in done["notices"])
            record = c.get(f"/api/jobs/{b}/files/run.json").json()
            assert {s: r["hit"] for s, r in record["stages"].items()} == {
                "script": True, "image": True, "voice": True, "captions": True, "presenter": True, "compose": False
            }
            assert c.get(f"/api/jobs/{b}/video").text.endswith("|gated")
            assert job_state(c, a)["state"] == "failed"  # nothing lost, nothing re-run
            listed = c.get("/api/jobs").json()
            assert listed["total"] == 2
        work = (tmp_path / "work.log").read_text().split()
        # each earlier stage ran once per distinct job (a and b share none: different headlines); compose ran 3 times
        assert work.count("script") == 2 and work.count("compose") == 3, work
    finally:
        svc.stop()


# -- access token, pages, docs -----------------------------------------------------------------------------------------


def test_token_is_required_when_configured(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    svc = Service(tmp_path, "--token-file", str(token_file)).start()
    try:
        with httpx.Client(base_url=svc.url(""), timeout=10) as c:
            r = c.get("/api/jobs")
            assert_error(r, 401, "access token")
            assert r.headers["www-authenticate"] == "Bearer"
            assert_error(c.get("/api/jobs", headers={"Authorization": "Bearer wrong-token-wrong-token"}), 401)
            assert_error(c.post("/api/jobs", json=fast_job("x")), 401)
            assert c.get("/api/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            page = c.get("/jobs/0123456789abcdef", headers={"Accept": "text/html"})
            assert page.status_code == 303 and page.headers["location"] == "/login?next=/jobs/0123456789abcdef"
            assert c.get("/login").status_code == 200
            assert c.post("/login", data={"token": "nope", "next": "/"}).status_code == 401
            r = c.post("/login", data={"token": TOKEN, "next": "https://attacker.example/"})
            assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
            cookie = r.headers["set-cookie"]
            assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and TOKEN not in cookie
            assert c.get("/").status_code == 200  # the cookie now opens the page and the API
            assert c.get("/api/jobs").status_code == 200
            assert TOKEN not in c.get("/").text and TOKEN not in c.get("/openapi.json").text
    finally:
        svc.stop()


def test_non_loopback_bind_needs_a_token(tmp_path):
    env = make_env(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path / "d")],
        env=env, cwd=tmp_path / "cwd", capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "needs an access token" in proc.stderr and "--token-file" in proc.stderr and "Traceback" not in proc.stderr
    from pipeline.errors import NewsreelError
    from pipeline.service import ServiceConfig, read_token

    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(NewsreelError, match="shorter than 16"):
        ServiceConfig(host="0.0.0.0", token=read_token(None, short)).check()
    with pytest.raises(NewsreelError, match="is empty"):
        (tmp_path / "blank").write_text("\n")
        read_token(None, tmp_path / "blank")
    ServiceConfig(host="0.0.0.0", token=read_token(TOKEN, None)).check()
    ServiceConfig(host="::1").check()  # loopback needs none


def test_form_page_and_docs(service, client):
    home = client.get("/")
    assert home.status_code == 200 and "text/html" in home.headers["content-type"]
    assert '<form method="post" action="/jobs"' in home.text and 'name="headline"' in home.text
    assert 'option value="flat"' in home.text  # image providers come from the installed plugins
    assert "default-src 'self'" in home.headers["content-security-policy"]
    r = client.post("/jobs", files={"headline": (None, "Form made headline"), "aspect": (None, "9:16"), "seed": (None, "4"),
                                    "image": (None, "flat")})
    assert r.status_code == 303, r.text
    job_id = r.headers["location"].rsplit("/", 1)[1]
    job = wait_state(client, job_id, "done")
    assert job["options"] == {"headline": "Form made headline", "aspect": "9:16", "seed": 4, "providers": {"image": "flat"}}
    record = client.get(job["links"]["files"]["run.json"]).json()
    assert record["settings"]["aspect"] == "9:16" and record["stages"]["compose"]["params"]["height"] == 1920
    bad = client.post("/jobs", data={"headline": "x" * 301})
    assert bad.status_code == 422 and "the limit is 300" in bad.text and 'class="alert"' in bad.text
    assert 'value="' + "x" * 301 + '"' in bad.text  # what was typed stays in the form
    assert client.get("/jobs/0123456789abcdef").status_code == 404
    evil = client.post("/api/jobs", json=fast_job('<script>alert("x")</script> in the news')).json()["id"]
    for html in (client.get("/").text, client.get(f"/jobs/{evil}").text):
        assert '<script>alert("x")' not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; in the news" in html
    wait_state(client, evil, "done")  # no job of this test is left running for the next one
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/jobs/{job_id}/events" in docs.text and "cdn" not in docs.text.lower()
    spec = client.get("/openapi.json").json()
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/events", "/api/jobs/{job_id}/video", "/api/uploads"} <= set(spec["paths"])
    body = spec["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in body  # a headline, a url or an article (tests/test_service_sources.py)
    assert {"headline", "url", "article"} <= set(body["properties"]) and "source" not in body["properties"]


def test_clients_cannot_name_files_or_addresses_on_the_server(client):
    """Provider parameters that name something on the server (a narration file, a logo, a model folder, the API
    base URL the server sends its key to) are refused from clients; uploads are the way to bring a file."""
    secret = "/etc/hostname"
    cases = [
        ({"providers": {**TEST_PROVIDERS, "script": "text"}, "params": {"script": {"file": secret}}}, "params.script.file"),
        ({"providers": {**TEST_PROVIDERS, "compose": "ffmpeg"}, "params": {"compose": {"logo": secret}}}, "params.compose.logo"),
        ({"providers": {**TEST_PROVIDERS, "script": "openai"}, "params": {"script": {"base_url": "https://example.com/v1"}}},
         "params.script.base_url"),
        ({"providers": {**TEST_PROVIDERS, "voice": "piper"}, "params": {"voice": {"model": "/srv/voices/x.onnx"}}},
         "params.voice.model"),
        ({"providers": {**TEST_PROVIDERS, "compose": "ffmpeg"}, "music": secret}, "music"),
        ({"providers": {**TEST_PROVIDERS, "image": "diffusers"}, "params": {"image": {"single_file_config": "/srv/sd/cfg"}}},
         "params.image.single_file_config"),
        ({"providers": {**TEST_PROVIDERS, "image": "diffusers"}, "params": {"image": {"upscaler": "/srv/sd/x4"}}},
         "params.image.upscaler"),
        # `auto` hands its parameters to diffusers: refused as diffusers would be, before it decides anything
        ({"providers": {**TEST_PROVIDERS, "image": "auto"}, "params": {"image": {"upscaler": "/srv/sd/x4"}}},
         "params.image.upscaler"),
        ({"providers": {**TEST_PROVIDERS, "image": "auto"}, "image_model": "/srv/sd/model.safetensors"}, "image_model"),
    ]
    for i, (extra, where) in enumerate(cases):
        headline = f"Server path refused {i}"
        body = assert_error(client.post("/api/jobs", json={"headline": headline, **extra}), 422, where)
        assert "upload" in body["hint"]
        assert jobs_titled(client, headline) == []  # nothing was queued
    # a plain name is not a path: a shipped style is fine
    ok = client.post("/api/jobs", json={"headline": "Shipped style by name", "providers": {**TEST_PROVIDERS, "compose": "ffmpeg"},
                                        "params": {"compose": {"style": "news"}}})
    assert ok.status_code == 201, ok.text
    client.delete(f"/api/jobs/{ok.json()['id']}")  # a real render is not what this test is about
    wait_state(client, ok.json()["id"], "cancelled", "failed", "done")


def test_server_paths_are_refused_before_anything_is_opened(service, client):
    """The refusal does not depend on the file: a missing one, one that exists but is no picture (/etc/passwd) and
    a 400-megapixel PNG get the same answer, so a client learns nothing about the server's files, and nothing is
    opened (the huge one used to crash the plan with a 500)."""
    huge = service.root / "huge.png"
    huge.write_bytes(huge_png_header())
    paths = [str(service.root / "no-such-file.png"), "/etc/passwd", str(huge)]
    cases = [("image", "diffusers", "init_image"), ("image", "auto", "init_image"), ("image", "diffusers", "upscaler"),
             ("image", "diffusers", "single_file_config"), ("image", "diffusers", "model"), ("compose", "ffmpeg", "logo"),
             ("compose", "ffmpeg", "music"), ("compose", "ffmpeg", "style"), ("script", "text", "file")]
    for stage, provider, key in cases:
        answers = set()
        for path in paths:
            job = {"headline": f"Refused {provider} {key}", "providers": {**TEST_PROVIDERS, stage: provider},
                   "params": {stage: {key: path}}}
            r = client.post("/api/jobs", json=job)
            assert_error(r, 422, f"params.{stage}.{key} names a file or address on the server")
            answers.add(r.text)
        assert len(answers) == 1, (stage, provider, key, answers)
        assert jobs_titled(client, f"Refused {provider} {key}") == []


def test_server_resource_parameters_are_marked():
    from pipeline.plugins import provider_class
    from pipeline.provider import names_server_resource

    compose = provider_class("compose", "ffmpeg").Params
    assert names_server_resource(compose, "logo", "/etc/hostname")
    assert names_server_resource(compose, "style", "/home/me/my-style") and not names_server_resource(compose, "style", "news")
    assert names_server_resource(compose, "music", "../song.mp3") and not names_server_resource(compose, "music", "default")
    assert not names_server_resource(compose, "ticker", "/etc/hostname")  # text, not a resource
    assert names_server_resource(provider_class("image", "diffusers").Params, "model", "stable-diffusion-v1-5/x")
    for stage, name, key in [("script", "text", "file"), ("script", "openai", "base_url"),
                             ("voice", "openai-tts", "base_url"), ("voice", "piper", "align_model"),
                             ("image", "diffusers", "single_file_config"), ("image", "diffusers", "upscaler")]:
        assert names_server_resource(provider_class(stage, name).Params, key, "x"), (stage, name, key)


def test_the_server_path_types_protect_by_construction():
    """A provider (a third party's too) gets the protection from the field's type: ServerPath, ServerPathOrName, or
    any pathlib type, wherever it sits in the annotation; the older server_resource() spelling still works."""
    from pathlib import Path as FsPath
    from typing import Annotated

    from pydantic import Field

    from pipeline.provider import Params, ServerPath, ServerPathOrName, names_server_resource, server_resource

    class ThirdParty(Params):
        weights: ServerPath = "org/model"
        overlay: ServerPath | None = None
        preset: ServerPathOrName = "calm"
        extra_files: list[ServerPath] = []
        described: Annotated[ServerPath | None, Field(description="a folder")] = None
        where: FsPath | None = None
        legacy: str | None = server_resource()
        caption: str = "text, not a place"

    for key in ("weights", "overlay", "extra_files", "described", "where", "legacy"):
        assert names_server_resource(ThirdParty, key, "anything"), key
        assert not names_server_resource(ThirdParty, key, None), key
    assert names_server_resource(ThirdParty, "extra_files", ["a"])
    assert not names_server_resource(ThirdParty, "preset", "calm") and names_server_resource(ThirdParty, "preset", "./calm")
    assert names_server_resource(ThirdParty, "preset", "calm\n")  # a plain name is the whole value
    assert not names_server_resource(ThirdParty, "caption", "/etc/passwd")
    assert ThirdParty.model_json_schema()["properties"]["weights"]["server_resource"] == "always"


# -- every provider's path-like parameter is declared as one -----------------------------------------------------------

PATH_WORDS = ("path", "file", "dir", "folder", "model", "config", "url", "logo", "music", "image", "upscaler", "checkpoint")
# (stage, provider, parameter): why this path-like name is not a path on the server.
NOT_SERVER_PATHS = {
    ("script", "openai", "model"): "a model name the (guarded) base_url serves",
    ("image", "openai-image", "model"): "a model name the (guarded) base_url serves",
    ("voice", "openai-tts", "model"): "a model name the (guarded) base_url serves",
    ("image", "diffusers", "init_image_sha256"): "computed from the init image's bytes; a client's value is replaced",
}


def path_like_unmarked(stage: str, name: str, params: type) -> list[str]:
    """Parameters of `params` that look like they name a file, folder or address (by name or a pathlib type, among
    those that can hold a string) but are not declared as server paths and not in NOT_SERVER_PATHS."""
    from pathlib import PurePath
    from typing import Any, get_args, get_origin

    from pipeline.provider import server_resource_kind

    def kinds(annotation) -> set:
        found, stack = set(), [annotation]
        while stack:
            t = stack.pop()
            if t is Any or t is str:
                found.add("str")
            elif get_origin(t) is None and isinstance(t, type) and issubclass(t, PurePath):
                found.add("path")
            elif get_origin(t) is not None and str(get_origin(t)).endswith("Literal"):
                continue  # fixed choices, not a place
            else:
                stack.extend(a for a in get_args(t) if not isinstance(a, (str, int, float, bool)))
        return found

    unmarked = []
    for key, field in params.model_fields.items():
        holds = kinds(field.annotation)
        looks = "path" in holds or ("str" in holds and any(word in key.lower() for word in PATH_WORDS))
        if looks and server_resource_kind(field) is None and (stage, name, key) not in NOT_SERVER_PATHS:
            unmarked.append(key)
    return unmarked


def test_every_path_like_provider_parameter_is_a_server_path(test_plugin):
    """Walks every installed provider's Params (built-ins, the test plugins) and fails on a parameter that looks
    like it names a file, folder or address but is not declared with a server-path type: the web service would let
    clients set it."""
    import newsreel_slowplugin

    from pipeline.plugins import all_providers

    found = [(stage, name, cls) for stage, name, cls in all_providers() if isinstance(cls, type)]
    found.append(("compose", "gated", newsreel_slowplugin.GatedCompose))
    names = {(stage, name) for stage, name, _ in found}
    assert {("image", "diffusers"), ("compose", "ffmpeg"), ("script", "echo"), ("compose", "listing")} <= names
    unmarked = {f"{stage}.{name}.{key}" for stage, name, cls in found for key in path_like_unmarked(stage, name, cls.Params)}
    assert unmarked == set(), "declare these as ServerPath / ServerPathOrName (pipeline/provider.py)"
    for stage, name, key in NOT_SERVER_PATHS:  # the allow-list names parameters that exist
        cls = next(c for s, n, c in found if (s, n) == (stage, name))
        assert key in cls.Params.model_fields, (stage, name, key)

    # the check itself catches an undeclared path
    from pathlib import Path as FsPath
    from typing import Any, Literal

    from pipeline.provider import Params, ServerPath

    class Careless(Params):
        logo_file: str | None = None
        checkpoint: Any = None
        where: FsPath | None = None  # a pathlib type is a server path by itself (pipeline/provider.py)
        model: ServerPath = "x"
        image_count: int = 1
        image_style: Literal["photo", "drawing"] = "photo"

    assert path_like_unmarked("image", "careless", Careless) == ["logo_file", "checkpoint"]


# -- the form asks the providers, not their names ----------------------------------------------------------------------


def test_form_choices_come_from_provider_declarations(isolated_config, test_plugin, tmp_path):
    from pipeline.plugins import provider_class
    from pipeline.service import ServiceConfig
    from pipeline.service.pages import _form_choices

    toml = tmp_path / "newsreel.toml"
    toml.write_text('[providers]\ncompose = "ffmpeg"\nvoice = "espeak"\n')
    choices = _form_choices(ServiceConfig(data_dir=tmp_path / "d", config_file=toml))
    declared = provider_class("compose", "ffmpeg").param_choices()["style"]
    assert "news" in declared and choices["styles"] == declared and choices["takes"]["style"]
    assert choices["takes"]["voice"]  # espeak's Params has `voice`
    toml.write_text('[providers]\nvoice = "auto"\n')  # delegating: a voice name is passed on to a voice taking one
    assert _form_choices(ServiceConfig(data_dir=tmp_path / "d", config_file=toml))["takes"]["voice"]
    toml.write_text('[providers]\ncompose = "ffmpeg"\nvoice = "espeak"\n')
    # diffusers is installed and its Params has init_image; the test plugin's image provider is listed too
    assert choices["takes"]["init_image"] and "flat" in choices["image_providers"]

    # presenters: each with a choice per value its param_choices() offers (not the default again); a provider with a
    # required server path (a sprite folder) is not offered
    presenters = {p["name"]: [o["value"] for o in p["options"]] for p in choices["presenters"]}
    anchor = provider_class("presenter", "anchor")
    looks = [v for v in anchor.param_choices()["look"] if v != anchor.Params.model_fields["look"].default]
    assert presenters["anchor"] == ["anchor", *(f"anchor:look={v}" for v in looks)] and len(looks) >= 2
    assert presenters["none"] == ["none"] and "sprites" not in presenters

    toml.write_text("[providers]\n" + "".join(f'{k} = "{v}"\n' for k, v in TEST_PROVIDERS.items()))
    plain = _form_choices(ServiceConfig(data_dir=tmp_path / "d", config_file=toml))
    assert plain["styles"] == [] and not plain["takes"]["style"] and not plain["takes"]["voice"]  # listing, beep take neither


def test_service_code_names_no_provider():
    """The service asks providers' declarations (Params fields, param_choices, delegates); it never imports a
    provider module or tests a provider's name."""
    import re

    from pipeline.plugins import all_providers

    # "none" (the presenter stage's "no presenter") is also a CSP keyword the security headers quote: not a name test.
    names = {name for _, name, _ in all_providers()} - {"none"}
    for path in sorted((REPO / "pipeline" / "service").glob("*.py")):
        source = path.read_text()
        assert not re.search(r"(from|import)\s+(\.\.|pipeline\.)providers\b|providers\.(script|image|voice|captions|compose)\b", source), path.name
        quoted = {name for name in names if f'"{name}"' in source or f"'{name}'" in source}
        assert quoted == set(), (path.name, quoted)
