"""compose provider `moviepy`: short real renders (640x360, 3 s), checked with media.probe, decoded pixels and sound,
the watermark detector, and the `ffmpeg` provider's render of the same inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline import video_watermark
from pipeline.errors import NewsreelError
from pipeline.media import extract_frame, probe, run_ffmpeg
from pipeline.plugins import provider_class
from pipeline.providers.compose.ffmpeg import COMMENT, THUMBNAIL_NAME, FfmpegCompose, graphics_layout
from pipeline.providers.compose.moviepy import MoviepyCompose, Sprite, animation, at_rest
from tests.helpers import TEST_PROVIDERS
from tests.providers.compose.inputs import BG, TITLE, flat_png, make_inputs

W, H, FPS = 640, 360, 30
SECONDS = 3.0  # the narration; the video is 0.6 s longer (the tail)
RED = (224, 31, 46)  # the news style's label box, RGB


def render(cls, root: Path, params: dict | None = None, **kw):
    inputs = make_inputs(root, kw.pop("seconds", SECONDS), width=W, height=H, **kw)
    script, backgrounds, voice, captions = inputs
    work = root / f"work-{cls.name}"
    work.mkdir()
    calls: list[tuple[float, str]] = []
    video = cls({"width": W, "height": H, **(params or {})}).run(
        script=script, image=backgrounds, voice=voice, captions=captions, workdir=work,
        progress=lambda f, m: calls.append((f, m)))
    return video, calls, inputs


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One moviepy render, and the ffmpeg provider's render of the same inputs to compare it with."""
    root = tmp_path_factory.mktemp("moviepy")
    video, calls, inputs = render(MoviepyCompose, root, cue_end=2.5)
    reference = FfmpegCompose({"width": W, "height": H}).run(
        script=inputs[0], image=inputs[1], voice=inputs[2], captions=inputs[3], workdir=_mkdir(root / "work-ffmpeg"),
        progress=lambda f, m: None)
    return video, calls, inputs, reference


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def rgb_frame(video: Path, t: float, out: Path) -> np.ndarray:
    return np.asarray(Image.open(extract_frame(video, t, out)).convert("RGB"), dtype=np.float32)


def crops(video: Path, box: tuple[int, int, int, int], tmp: Path) -> np.ndarray:
    """The (x, y, w, h) region of every frame, decoded as RGB: shape (frames, h, w, 3)."""
    x, y, w, h = box
    raw = tmp / "crops.rgb"
    run_ffmpeg(["-y", "-i", os.fspath(video), "-vf", f"format=rgb24,crop={w}:{h}:{x}:{y}", "-f", "rawvideo",
                "-pix_fmt", "rgb24", os.fspath(raw)], loglevel="error")
    return np.fromfile(raw, np.uint8).reshape(-1, h, w, 3).astype(np.float32)


def layout():
    return graphics_layout(W, H, TITLE, "AI-GENERATED", logo_aspect=1.0)


def test_registered_with_its_capabilities():
    assert provider_class("compose", "moviepy") is MoviepyCompose
    assert MoviepyCompose.run_options == {"width", "height", "fps"}
    assert "slower" in MoviepyCompose.summary
    assert MoviepyCompose().provenance() == {"visible_label": {"visible": True, "text": "AI-GENERATED"}}
    shouting = MoviepyCompose({"label": " made  by ai "}).provenance()
    assert shouting == {"visible_label": {"visible": True, "text": "MADE BY AI"}}


@pytest.mark.parametrize("params, needle", [
    ({"ticker": "news"}, "bad parameter ticker"),
    ({"label": "   "}, "the label must have visible text"),
    ({"width": 641}, "odd side"),
    ({"motion": "spin"}, "unknown motion spin"),
    ({"style": "gaudy"}, "no shipped style 'gaudy'"),
])
def test_bad_params_are_one_line_errors(params, needle):
    with pytest.raises(NewsreelError) as err:
        MoviepyCompose(params)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_without_moviepy_check_says_which_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moviepy" else real(name, *a))
    with pytest.raises(NewsreelError, match=r"needs moviepy \(pip install 'newsreel\[moviepy\]'\)"):
        MoviepyCompose().check()


def test_streams_size_fps_duration_and_outputs(made):
    video, calls, _, _ = made
    info = probe(video.path)
    assert (info.video.codec, info.video.width, info.video.height, info.video.pix_fmt) == ("h264", W, H, "yuv420p")
    assert info.video.fps == pytest.approx(FPS)
    assert info.duration == pytest.approx(SECONDS + 0.6, abs=0.05)
    assert (video.duration, video.width, video.height, video.fps) == (pytest.approx(SECONDS + 0.6), W, H, FPS)
    assert (info.tags["title"], info.tags["comment"]) == (TITLE, COMMENT)
    assert (probe(video.thumbnail).video.width, probe(video.poster).video.width) == (320, W)
    # Nothing but the outputs is left: no partial video, no scratch ASS, sprite pictures, bug or soundtrack.
    assert sorted(p.name for p in video.path.parent.iterdir()) == ["poster.jpg", THUMBNAIL_NAME, "video.mp4"]
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(m.startswith("frame ") and f"/{round((SECONDS + 0.6) * FPS)}" in m for _, m in calls), calls


def test_soundtrack_is_the_narration_for_its_duration(made, tmp_path):
    video, _, _, _ = made
    info = probe(video.path)
    assert (info.audio.codec, info.audio.channels, info.audio.sample_rate) == ("aac", 2, 48000)
    raw = tmp_path / "sound.f32"
    run_ffmpeg(["-y", "-i", os.fspath(video.path), "-map", "0:a", "-ac", "1", "-ar", "8000", "-f", "f32le",
                os.fspath(raw)], loglevel="error")
    pcm = np.fromfile(raw, np.float32)
    assert len(pcm) / 8000 == pytest.approx(SECONDS + 0.6, abs=0.05)
    loud = np.sqrt((pcm[: len(pcm) // 400 * 400].reshape(-1, 400) ** 2).mean(axis=1)) > 0.01  # 50 ms windows
    assert loud.sum() * 0.05 == pytest.approx(SECONDS, abs=0.1)  # the 3 s sine, then the silent tail
    assert not loud[-(int(0.5 / 0.05)):].any()
    assert video.notes["audio"]["loudness_lufs"] == pytest.approx(-16.0, abs=1.0)


def test_label_is_on_every_frame(made, tmp_path):
    video, _, _, _ = made
    lab = layout().label
    box = crops(video.path, (lab["box_x"], lab["box_y"], lab["box_w"], lab["box_h"]), tmp_path)
    assert len(box) == round((SECONDS + 0.6) * FPS)
    red = (np.abs(box - np.asarray(RED, np.float32)).max(axis=3) < 40).sum(axis=(1, 2))
    white = (box.min(axis=3) > 200).sum(axis=(1, 2))
    area = lab["box_w"] * lab["box_h"]
    assert red.min() > 0.5 * area, red  # the red box, on the first frame, the last and every one between
    assert white.min() > 40, white  # and its white letters
    # Control: the same region of a frame without graphics is the plain background, not red.
    assert np.abs(np.asarray(BG, np.float32) - np.asarray(RED, np.float32)).max() > 100


def test_captions_change_at_cue_times_and_clear_after_the_last(made, tmp_path):
    video, _, inputs, _ = made
    cues = inputs[3].cues
    bar = layout().bar
    band = slice(bar["y"] - 60, bar["y"] - 2)  # the captions sit just above the lower third
    frame = lambda t, name: rgb_frame(video.path, t, tmp_path / f"{name}.png")[band]
    changed = lambda a, b: int((np.abs(a - b).max(axis=2) > 60).sum())
    later = [c for c in cues if c.start > 0.7]  # after the lower third has slid in
    assert len(later) >= 2
    for cue in later:
        before, after = frame(cue.start - 1.5 / FPS, "before"), frame(cue.start + 1.5 / FPS, "after")
        assert changed(before, after) > 300, cue  # new words appear at the cue's start
        settled = frame(cue.start + 3.5 / FPS, "settled")
        assert changed(after, settled) < 30, cue  # and hold still while it is up
    after_last = frame(cues[-1].end + 0.3, "gone")
    assert (after_last.min(axis=2) > 200).sum() < 10  # no white letters once the last cue is over


def test_provenance_mark_is_in_the_frames(made):
    video, _, _, _ = made
    found = video_watermark.detect_video(video.path)
    assert found.found and found.payload == video_watermark.PAYLOAD, found
    assert video.notes["watermark"] == video_watermark.METHOD


def test_same_picture_as_the_ffmpeg_provider(made, tmp_path):
    """Same inputs, same look: backgrounds, motion, label, lower third, bug and captions all line up."""
    video, _, _, reference = made
    for t in (0.1, 1.5, SECONDS + 0.4):
        ours = rgb_frame(video.path, t, tmp_path / "ours.png")
        theirs = rgb_frame(reference.path, t, tmp_path / "theirs.png")
        diff = np.abs(ours - theirs).max(axis=2)
        assert diff.mean() < 2.5 and np.percentile(diff, 99) < 30, (t, diff.mean(), np.percentile(diff, 99))


def test_two_scenes_crossfade(tmp_path):
    red, blue = flat_png(tmp_path / "red.png", (200, 40, 40)), flat_png(tmp_path / "blue.png", (40, 40, 200))
    video, _, inputs = render(MoviepyCompose, tmp_path, {"bug": False, "crossfade": 0.4, "motion": "none"},
                              seconds=2.4, images=[red, blue], scenes=2, cue_end=0.0)
    script, _, voice, _ = inputs
    first_word = min(w.start for w in voice.words if w.sentence >= script.scenes[1].sentences[0])
    at = lambda t: rgb_frame(video.path, t, tmp_path / "f.png")[H // 2, W // 2]
    assert np.abs(at(0.2) - (200, 40, 40)).max() < 12
    assert np.abs(at(first_word + 0.5) - (40, 40, 200)).max() < 12
    mid = at(first_word)  # halfway through the crossfade: about half of each
    assert 90 < mid[0] < 150 and 90 < mid[2] < 150, mid


def test_missing_background_is_an_error_and_leaves_nothing(tmp_path):
    script, backgrounds, voice, captions = make_inputs(tmp_path, 1.0, width=W, height=H)
    Path(backgrounds.images[0].path).unlink()
    work = _mkdir(tmp_path / "work")
    with pytest.raises(NewsreelError, match="background image .* is missing"):
        MoviepyCompose({"width": W, "height": H}).run(script=script, image=backgrounds, voice=voice,
                                                       captions=captions, workdir=work, progress=lambda f, m: None)
    assert list(work.iterdir()) == []


def test_ass_animation_tags_become_fades_and_slides():
    title = r"{\an7\q2\move(40,300,64,300,0,350)\fad(350,0)}Breakthrough"
    assert animation(title) == (0.35, 0.0, -24.0, 0.0, (0.0, 0.35))
    assert at_rest(title) == r"{\an7\q2\pos(64,300)}Breakthrough"
    assert animation(r"{\an7\pos(10,10)}AI-GENERATED") == (0.0, 0.0, 0.0, 0.0, (0.0, 0.0))
    sprite = Sprite(None, 64, 300, 1.0, 5.0, 0.35, 0.0, -24.0, 0.0, (0.0, 0.35))
    assert sprite.position(0.0) == (40, 300)
    assert sprite.position(0.175) == (52, 300)
    assert sprite.position(0.35) == sprite.position(3.0) == (64, 300)


def test_make_with_moviepy_through_the_cli_verifies(test_plugin, isolated_config, tmp_path):
    """`newsreel make --provider compose=moviepy`, then `newsreel verify`: found without a reinstall (the
    installed metadata may predate the provider), signed, labelled and watermarked."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "COLUMNS": "200"}
    providers = {**TEST_PROVIDERS, "captions": "subtitles", "compose": "moviepy"}
    flags = [a for stage, name in providers.items() for a in ("--provider", f"{stage}={name}")]
    for stage in ("captions", "compose"):
        flags += ["--set", f"{stage}.width={W}", "--set", f"{stage}.height={H}"]
    out = tmp_path / "run"
    made = subprocess.run([sys.executable, "-m", "pipeline", "make", "Breakthrough in Mars Project", "--out",
                           os.fspath(out), *flags], capture_output=True, text=True, env=env, timeout=300)
    assert made.returncode == 0, made.stderr
    record = json.loads((out / "run.json").read_text())
    assert record["stages"]["compose"]["provider"] == "moviepy"
    assert record["stages"]["compose"]["provenance"] == {"visible_label": {"visible": True, "text": "AI-GENERATED"}}
    checked = subprocess.run([sys.executable, "-m", "pipeline", "verify", os.fspath(out / "video.mp4"), "--json"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verdict = json.loads(checked.stdout)
    assert verdict["status"] == "verified"
    assert verdict["manifest"]["visible_label"]["visible"] is True
    assert verdict["watermark"]["found"] is True
