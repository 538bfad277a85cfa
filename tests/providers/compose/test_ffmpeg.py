"""compose provider `ffmpeg`: real renders of short videos, checked with media.probe and pixels of extracted frames."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pysubs2
import pytest
from PIL import Image

from pipeline import assets
from pipeline.errors import NewsreelError
from pipeline.media import extract_frame, probe, run_ffmpeg
from pipeline.plugins import provider_class
from pipeline.providers.compose import _command, _graphics, _motion
from pipeline.providers.compose import ffmpeg as compose_ffmpeg
from pipeline.providers.compose.ffmpeg import (
    COMMENT,
    THUMBNAIL_NAME,
    FfmpegCompose,
    ass_escape,
    filter_escape,
    graphics_layout,
    render_graphics,
    scene_spans,
    write_burn_ass,
)
from pipeline.stages import Narration, Scene, Script, WordTiming
from tests.providers.compose.inputs import BG, TITLE, flat_png, make_inputs, textured_png

# The news style's colours (templates/styles/news/style.ass.j2), ASS BGR hex.
NEWS = {"bar": "2A1A0E", "bar_alpha": "18", "red": "2E1FE0"}
FAST = {"width": 320, "height": 180, "preset": "ultrafast"}


def bgr_hex_to_rgb(value: str) -> np.ndarray:
    return np.array([int(value[4:6], 16), int(value[2:4], 16), int(value[0:2], 16)], dtype=np.float32)


def render(root: Path, seconds: float, params: dict | None = None, **kw):
    script, backgrounds, voice, captions = make_inputs(root, seconds, width=(params or {}).get("width", 1280),
                                                       height=(params or {}).get("height", 720), **kw)
    work = root / "work"
    work.mkdir()
    calls: list[tuple[float, str]] = []
    video = FfmpegCompose(params or {}).run(script=script, image=backgrounds, voice=voice, captions=captions,
                                             workdir=work, progress=lambda f, m: calls.append((f, m)))
    return video, calls, (script, backgrounds, voice, captions)


@pytest.fixture(scope="module")
def main_render(tmp_path_factory):
    root = tmp_path_factory.mktemp("compose")
    video, calls, inputs = render(root, 6.0, cue_end=5.0)
    return video, calls, inputs, root


def frame(video_path: Path, t: float, out: Path) -> np.ndarray:
    return np.asarray(Image.open(extract_frame(video_path, t, out)).convert("RGB"), dtype=np.float32)


def gray_frames(video_path: Path, tmp: Path, width: int, height: int) -> np.ndarray:
    """Every frame's luma, decoded by ffmpeg: shape (frames, height, width), float32."""
    raw = tmp / "frames.gray"
    run_ffmpeg(["-y", "-i", os.fspath(video_path), "-f", "rawvideo", "-pix_fmt", "gray", os.fspath(raw)],
               loglevel="error")
    data = np.fromfile(raw, dtype=np.uint8)
    return data.reshape(-1, height, width).astype(np.float32)


def near(px, rgb, tol=30.0) -> bool:
    return bool(np.abs(np.asarray(px, dtype=np.float32) - np.asarray(rgb, dtype=np.float32)).max() <= tol)


def test_registered_as_the_compose_ffmpeg_entry_point():
    assert provider_class("compose", "ffmpeg") is FfmpegCompose


def test_render_streams_size_duration_metadata(main_render):
    video, calls, _, _ = main_render
    info = probe(video.path)
    assert (info.video.codec, info.video.width, info.video.height, info.video.pix_fmt) == ("h264", 1280, 720, "yuv420p")
    assert info.video.fps == pytest.approx(30.0)
    assert info.audio.codec == "aac" and info.audio.channels == 2
    assert info.duration == pytest.approx(6.0 + 0.6, abs=0.1)
    assert video.duration == pytest.approx(6.6, abs=1e-6)
    assert (video.width, video.height, video.fps) == (1280, 720, 30)
    assert info.tags["title"] == TITLE
    assert info.tags["comment"] == COMMENT
    poster = probe(video.poster)
    assert (poster.video.codec, poster.video.width, poster.video.height) == ("mjpeg", 1280, 720)
    thumb = probe(video.path.parent / THUMBNAIL_NAME)
    assert (thumb.video.codec, thumb.video.width, thumb.video.height) == ("mjpeg", 320, 180)
    # Only the outputs are left in the work folder: no partial file, no scratch ASS or bug PNG.
    assert sorted(p.name for p in video.path.parent.iterdir()) == ["poster.jpg", THUMBNAIL_NAME, "video.mp4"]
    # Progress went forward to 1.0 with ffmpeg's frame counts, the speed and an ETA in the messages.
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(re.match(r"frame \d+/198, speed \S+x, ETA \d+:\d\d$", m) for _, m in calls), calls


def test_faststart_puts_the_index_first(main_render):
    video, _, _, _ = main_render
    head = video.path.read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")


def test_label_lower_third_bug_and_captions_are_burned_in(main_render, tmp_path):
    video, _, _, _ = main_render
    layout = graphics_layout(1280, 720, TITLE, "AI-GENERATED", logo_aspect=1.0)
    during = frame(video.path, 2.0, tmp_path / "during.png")  # a cue is on screen
    after = frame(video.path, 6.3, tmp_path / "after.png")  # in the tail, after the last cue
    first = frame(video.path, 0.0, tmp_path / "first.png")

    red = bgr_hex_to_rgb(NEWS["red"])
    lab = layout.label
    for img in (first, during, after):  # the label is there from the first frame to the last
        assert near(img[lab["box_y"] + 3, lab["box_x"] + 3], red), img[lab["box_y"] + 3, lab["box_x"] + 3]
        box = img[lab["box_y"]:lab["box_y"] + lab["box_h"], lab["box_x"]:lab["box_x"] + lab["box_w"]]
        assert (box.min(axis=2) > 200).sum() > 150  # its white text
    assert near(during[400, 900], BG)  # plain background elsewhere

    bar = layout.bar
    alpha = 1 - int(NEWS["bar_alpha"], 16) / 255
    bar_rgb = alpha * bgr_hex_to_rgb(NEWS["bar"]) + (1 - alpha) * np.asarray(BG, dtype=np.float32)
    cy = bar["y"] + bar["h"] // 2
    assert near(during[cy, bar["x"] + bar["w"] - 12], bar_rgb, 20), during[cy, bar["x"] + bar["w"] - 12]
    assert near(during[cy, bar["x"] + 4], red)
    title_area = during[bar["y"]:bar["y"] + bar["h"], bar["x"] + bar["accent"]:bar["x"] + bar["w"]]
    assert (title_area.min(axis=2) > 200).sum() > 1000  # white title text on the bar

    # The channel bug: newsreel's logo (white strokes) top right, nothing there in the plain background.
    bug = layout.bug
    area = during[bug["y"]:bug["y"] + bug["h"], bug["x"]:bug["x"] + bug["w"]]
    assert (area.min(axis=2) > 180).sum() > 300
    assert near(during[bug["y"] + bug["h"] + 20, bug["x"] + bug["w"] // 2], BG)

    # Captions sit just above the lower third while a cue is on, and are gone after the last cue.
    band = slice(bar["y"] - 90, bar["y"] - 4)
    assert (during[band, 200:1080].min(axis=2) > 200).sum() > 800
    assert (after[band, 200:1080].min(axis=2) > 200).sum() < 20


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (1080, 1920), (1080, 1080)])
def test_each_format_renders_at_its_size(tmp_path, size):
    width, height = size
    video, _, _ = render(tmp_path, 1.0, {"width": width, "height": height, "preset": "ultrafast", "tail_seconds": 0.0})
    info = probe(video.path)
    assert (info.video.width, info.video.height) == size
    assert info.duration == pytest.approx(1.0, abs=0.1)
    poster = np.asarray(Image.open(video.poster).convert("RGB"), dtype=np.float32)
    assert poster.shape[:2] == (height, width)
    layout = graphics_layout(width, height, TITLE, "AI-GENERATED", logo_aspect=1.0)
    lab = layout.label
    assert near(poster[lab["box_y"] + 3, lab["box_x"] + 3], bgr_hex_to_rgb(NEWS["red"]), 40)
    bar = layout.bar
    assert bar["y"] + bar["h"] < height and layout.bug["x"] + layout.bug["w"] < width


def test_hostile_title_renders_as_text(tmp_path):
    title = 'Mars {\\b1}"bold" \'quoted\' \\N {\\pos(0,0)}x} end\\'
    video, _, _inputs = render(tmp_path, 2.0, dict(FAST), title=title)
    assert probe(video.path).tags["title"] == title
    out = tmp_path / "burn.ass"
    write_burn_ass(tmp_path / "captions.ass", out, title=title, label="AI-GENERATED", duration=2.6, width=320, height=180,
                   ticker="{\\c&H0000FF&}tick\\N")
    events = pysubs2.load(os.fspath(out)).events
    titles = [e for e in events if e.style == "NR Title"]
    assert len(titles) == 1
    blocks = re.findall(r"(?<!\\)\{[^}]*(?<!\\)\}", titles[0].text)
    assert len(blocks) == 1 and blocks[0].startswith("{\\an7")
    assert "\\{\\\u2060b1\\}" in titles[0].text  # braces escaped, backslash defused
    scrolls = [e for e in events if e.name == "ticker" and "\\move" in e.text]
    assert scrolls and all(len(re.findall(r"(?<!\\)\{[^}]*(?<!\\)\}", e.text)) == 1 for e in scrolls)


def test_ass_escape_and_template_cannot_be_injected():
    assert ass_escape("a{b}c") == "a\\{b\\}c"
    assert ass_escape("x\\Ny") == "x\\\u2060Ny"
    assert ass_escape("line1\nDialogue: 0,0:00:00.00,9:00:00.00,Default,,0,0,0,,owned").count("\n") == 0
    layout = graphics_layout(1280, 720, "one\nDialogue: 0,0:00:00.00,9:00:00.00,NR Title,,0,0,0,,{\\pos(1,1)}owned", "AI")
    for style in ("news", "minimal"):
        doc = render_graphics(layout, 10.0, style)
        assert doc.count("\nDialogue:") == (6 if style == "news" else 5)  # the style's own events and no more
        assert "{\\pos(1,1)}" not in doc


def test_long_title_wraps_and_fits_the_bar():
    from pipeline.providers.compose.ffmpeg import text_width

    long_title = " ".join(["Parliament"] * 40)
    for w, h, max_lines in ((1280, 720, 2), (1080, 1920, 3), (1080, 1080, 2)):
        layout = graphics_layout(w, h, long_title, "AI-GENERATED", breaking=True, ticker="x", logo_aspect=1.0)
        lines = layout.title["lines"]
        assert 1 <= len(lines) <= max_lines
        assert lines[-1].endswith("\u2026")
        room = layout.bar["w"] - layout.bar["accent"]
        assert all(text_width(line, layout.title["size"]) < room for line in lines)
        assert layout.bar["y"] + layout.bar["h"] <= layout.ticker["y"] < h  # lower third above the ticker
        assert layout.breaking["y"] + layout.breaking["h"] == layout.bar["y"]
        assert layout.label["box_x"] + layout.label["box_w"] < layout.bug["x"]
        assert layout.clear_bottom > h - layout.breaking["y"]  # captions stay above the whole block


def test_corrupt_image_raises_and_leaves_only_inputs(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 50)
    script, backgrounds, voice, captions = make_inputs(tmp_path, 2.0, images=[bad])
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(NewsreelError) as err:
        FfmpegCompose().run(script=script, image=backgrounds, voice=voice, captions=captions, workdir=work,
                            progress=lambda f, m: None)
    assert "bad.png" in err.value.message and "not a readable image" in err.value.message
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_ffmpeg_failure_gives_its_stderr_and_removes_the_partial_file(tmp_path):
    script, backgrounds, voice, captions = make_inputs(tmp_path, 2.0)
    Path(voice.path).write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all" * 10)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(NewsreelError) as err:
        FfmpegCompose(FAST).run(script=script, image=backgrounds, voice=voice, captions=captions, workdir=work,
                                progress=lambda f, m: None)
    assert err.value.message.startswith("ffmpeg could not render the video: ")
    assert "narration.wav" in err.value.message or "Invalid data" in err.value.message, err.value.message
    assert list(work.iterdir()) == []


def test_crossfade_between_two_scenes(tmp_path):
    red = flat_png(tmp_path / "red.png", (220, 60, 60))
    blue = flat_png(tmp_path / "blue.png", (20, 40, 160))
    video, _, (script, _bg, voice, _c) = render(tmp_path, 4.0, {**FAST, "bug": False}, images=[red, blue], scenes=3)
    # Scenes of 1 + 2 sentences -> two of the three scenes have images; scene 2 starts at its first word.
    script2 = Script(**{**script.model_dump(), "scenes": [Scene(sentences=[0], image_prompt="a"),
                                                          Scene(sentences=[1, 2], image_prompt="b")]})
    spans = scene_spans(script2, voice, 2, round(4.6 * 30), 30)
    cut = round(next(w.start for w in voice.words if w.sentence == 1) * 30)
    assert spans == [(0, 0, cut), (1, cut, 138)]
    frames = gray_frames(video.path, tmp_path, 320, 180)
    rgb = lambda t: frame(video.path, t, tmp_path / f"f{t}.png")[90, 160]
    early, late = rgb(0.3), rgb(3.0)  # mid-scene 1, mid-scene 2
    assert early[0] > 130 and early[2] < 80  # red scene
    assert late[2] > 130 and late[0] < 80  # blue scene
    # Across the cut the picture fades over 0.5 s (15 frames): luma moves in small steps, none a hard cut.
    luma = frames[:, 90, 160]
    window = luma[cut - 10:cut + 10]
    steps = np.abs(np.diff(window))
    assert abs(luma[cut - 12] - luma[cut + 12]) > 15  # the two scenes differ in luma
    assert steps.max() < abs(luma[cut - 12] - luma[cut + 12]) / 4  # no single jump: a fade
    assert probe(video.path).duration == pytest.approx(4.6, abs=0.1)


def test_scene_spans_cover_the_video_and_merge_short_scenes():
    words = [WordTiming(word="w", start=t, end=t + 0.1, sentence=s) for t, s in ((0.0, 0), (2.0, 1), (2.2, 2), (5.0, 3))]
    voice = Narration(path=Path("/x.wav"), duration=6.0, sample_rate=22050, words=words)
    script = Script(headline="h", title="t", sentences=["a.", "b.", "c.", "d."], image_prompt="p",
                    scenes=[Scene(sentences=[0], image_prompt="1"), Scene(sentences=[1], image_prompt="2"),
                            Scene(sentences=[2], image_prompt="3"), Scene(sentences=[3], image_prompt="4")])
    spans = scene_spans(script, voice, 4, 198, 30)
    # Scene 2 lasts 0.2 s (scene 3 starts at 2.2 s): too short to crossfade, scene 1's image stays on.
    assert spans == [(0, 0, 66), (2, 66, 150), (3, 150, 198)]
    assert scene_spans(script, voice, 1, 198, 30) == [(0, 0, 198)]
    assert scene_spans(script, voice, 2, 198, 30) == [(0, 0, 60), (1, 60, 198)]

    def second_scene_at(t: float) -> Narration:
        moved = [words[0], WordTiming(word="w", start=t, end=t + 0.1, sentence=1), *words[2:]]
        return Narration(path=Path("/x.wav"), duration=6.0, sample_rate=22050, words=moved)

    assert scene_spans(script, second_scene_at(1.0), 2, 198, 30) == [(0, 0, 30), (1, 30, 198)]
    assert scene_spans(script, second_scene_at(0.5), 2, 198, 30) == [(1, 0, 198)]


def test_auto_motion_cycles_presets_per_scene():
    assert _motion.scene_motions("auto", 5) == ["push-in", "pan-right", "pull-out", "pan-left", "push-in"]
    assert _motion.scene_motions("pan-left", 2) == ["pan-left", "pan-left"]
    assert _motion.scene_motions("none,push-in", 3) == ["none", "push-in", "none"]
    assert FfmpegCompose({"motion": " Pan-Left , none "}).params.motion == "pan-left,none"
    # The ease starts and ends at half speed and is symmetric.
    e = [_motion.ease(p) for p in np.linspace(0, 1, 101)]
    assert e[0] == 0.0 and e[-1] == pytest.approx(1.0) and e[50] == pytest.approx(0.5)
    assert all(b > a for a, b in itertools.pairwise(e))
    assert (e[1] - e[0]) / 0.01 == pytest.approx(0.5, abs=0.02)


def test_filter_escape_survives_hostile_font_paths(tmp_path):
    fonts = tmp_path / "fo:n't,s [1];x"
    fonts.mkdir()
    for f in (assets.FONT_REGULAR, assets.FONT_BOLD):
        (fonts / f.name).write_bytes(f.read_bytes())
    ass = tmp_path / "t.ass"
    ass.write_text(render_graphics(graphics_layout(320, 180, "t", "AI"), 1.0))
    lines = run_ffmpeg(["-f", "lavfi", "-i", "color=s=320x180:d=0.1", "-vf",
                        f"ass=filename={filter_escape(os.fspath(ass))}:fontsdir={filter_escape(os.fspath(fonts))}",
                        "-f", "null", "-"], loglevel="verbose")
    assert any(f"Loading font file '{fonts}/DejaVuSans-Bold.ttf'" in line for line in lines)


def test_params_are_validated():
    for bad in ({"width": 1281}, {"height": 719}, {"width": 4096, "height": 2160}, {"width": 2160, "height": 4096},
                {"width": 3840, "height": 2162}, {"crf": 52}, {"label": ""}, {"label": "   "}, {"motion": "spin"},
                {"motion": "push-in,spin"}, {"preset": "warp"}, {"extra": 1}, {"style": "gothic"}, {"style": ""},
                {"engine": "blender"}, {"encoder": "x265"}, {"crossfade": -1}):
        with pytest.raises(NewsreelError):
            FfmpegCompose(bad)
    assert FfmpegCompose({"width": 3840, "height": 2160}).params.width == 3840
    assert FfmpegCompose({"width": 2160, "height": 3840}).params.height == 3840
    assert FfmpegCompose({"ticker": "  two\n lines "}).params.ticker == "two lines"
    assert FfmpegCompose({"ticker": "   "}).params.ticker is None


@pytest.mark.slow
def test_sixty_seconds_at_720p(tmp_path):
    from pipeline.providers.image.slate import SlateImage

    script, _, voice, captions = make_inputs(tmp_path, 60.0)
    slate = SlateImage({"width": 1280, "height": 720}).run(script=script, workdir=tmp_path, progress=lambda f, m: None)
    work = tmp_path / "work"
    work.mkdir()
    start = time.perf_counter()
    video = FfmpegCompose({"ticker": "Markets close higher", "breaking": True}).run(
        script=script, image=slate, voice=voice, captions=captions, workdir=work, progress=lambda f, m: None)
    seconds = time.perf_counter() - start
    print(f"\n60 s at 1280x720 rendered in {seconds:.1f} s ({60.6 / seconds:.2f}x real time, load {os.getloadavg()[0]:.1f})")
    info = probe(video.path)
    assert info.duration == pytest.approx(60.6, abs=0.1)
    assert (info.video.width, info.video.height) == (1280, 720)


def ramp_png(path: Path) -> Path:
    ramp = np.tile(np.linspace(0, 255, 1600, dtype=np.float32), (900, 1))
    Image.fromarray(np.stack([ramp, ramp, ramp], axis=2).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize(("engine", "motion"), [
    ("warp", "pan-left"), ("warp", "pan-right"), ("warp", "push-in"), ("warp", "pull-out"), ("warp", "none"),
    ("zoompan", "pan-right"), ("perspective", "pan-left"), ("perspective", "push-in"),
])
def test_motion_moves_the_view_the_right_way(tmp_path, engine, motion):
    # A left-to-right brightness ramp: panning right brings brighter columns to the centre of the frame.
    bg = ramp_png(tmp_path / "ramp.png")
    video, _, _ = render(tmp_path, 2.0, {**FAST, "motion": motion, "engine": engine, "threads": 1, "tail_seconds": 0.0,
                                         "bug": False}, images=[bg])
    frames = gray_frames(video.path, tmp_path, 320, 180)
    assert len(frames) == 60
    start, end = frames[0][90, 150:170].mean(), frames[-1][90, 150:170].mean()
    if motion == "pan-right":
        assert end - start > 8
    elif motion == "pan-left":
        assert start - end > 8
    else:  # zooming on the centre, or standing still, keeps the centre column where it was
        assert abs(end - start) < 4
    # Zooming in spreads the ramp over more pixels: its slope across the frame falls by the zoom (12%).
    slope = lambda f: (f[60, 250] - f[60, 70]) / 180
    if motion == "push-in":
        assert slope(frames[0]) == pytest.approx(slope(frames[-1]) * (1 + _motion.ZOOM), rel=0.03)
    elif motion == "pull-out":
        assert slope(frames[-1]) == pytest.approx(slope(frames[0]) * (1 + _motion.ZOOM), rel=0.03)
    elif motion == "none":  # a still picture (one frame, looped by ffmpeg); compare above the captions
        diff = np.abs(frames[-1][25:90] - frames[0][25:90])
        assert diff.mean() < 1.5 and diff.max() <= 8  # coding noise only (a 1% zoom or pan moves it by 10+)


def phase_shift(a: np.ndarray, b: np.ndarray, band: float = 0.12) -> tuple[float, float]:
    """Sub-pixel (dx, dy) of picture b against picture a by phase correlation: the phase of the normalised
    cross-power spectrum is -2 pi (kx dx + ky dy); its slope is fitted by least squares over the low frequencies,
    where it does not wrap. (cv2.phaseCorrelate's peak centroid reads a 0.5 px shift of a smooth texture as 0.13.)"""
    h, w = a.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    cross = np.fft.fft2((b - b.mean()) * win) * np.conj(np.fft.fft2((a - a.mean()) * win))
    ky = np.repeat(np.fft.fftfreq(h)[:, None], w, axis=1)
    kx = np.repeat(np.fft.fftfreq(w)[None, :], h, axis=0)
    sel = (np.abs(kx) <= band) & (np.abs(ky) <= band) & ((kx != 0) | (ky != 0))
    weight = np.sqrt(np.abs(cross[sel]))
    design = np.stack([-2 * np.pi * kx[sel], -2 * np.pi * ky[sel]], axis=1) * weight[:, None]
    (dx, dy), *_ = np.linalg.lstsq(design, np.angle(cross[sel]) * weight, rcond=None)
    return float(dx), float(dy)


def test_phase_shift_measures_known_sub_pixel_shifts(tmp_path):
    import cv2

    src = np.asarray(Image.open(textured_png(tmp_path / "t.png")).convert("L"), dtype=np.float32)[:200, :340]
    for true in (0.1, 0.25, 0.5, 0.9):
        moved = cv2.warpAffine(src, np.float32([[1, 0, true], [0, 1, 0]]), (320, 180),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        dx, dy = phase_shift(src[:180, :320], moved)
        assert dx == pytest.approx(-true, abs=0.03) and abs(dy) < 0.03


def frame_shifts(frames: np.ndarray) -> np.ndarray:
    """Horizontal shift (pixels) between consecutive frames, over the middle of the frame (between the label and
    the lower third)."""
    h = frames.shape[1]
    crop = frames[:, h // 4: h // 4 + h // 2, :]
    return np.array([phase_shift(a, b)[0] for a, b in itertools.pairwise(crop)])


@pytest.mark.parametrize("engine", ["warp", "zoompan"])
def test_slow_pan_moves_smoothly_sub_pixel(tmp_path, engine):
    """A slow pan (under a pixel a frame) over a textured picture: the frame-to-frame shift, measured by phase
    correlation, follows the eased speed curve with no whole-pixel jumps. zoompan's rounding is the control: its
    shifts jump between whole canvas steps, which this same measure catches."""
    bg = textured_png(tmp_path / "texture.png")
    params = {"width": 320, "height": 180, "preset": "veryfast", "crf": 12, "motion": "pan-right", "engine": engine,
              "tail_seconds": 0.0, "bug": False, "label": "AI"}
    video, _, _ = render(tmp_path, 3.0, params, images=[bg], cue_end=0.0)  # no captions over the texture
    frames = gray_frames(video.path, tmp_path, 320, 180)
    shifts = -frame_shifts(frames)  # the view moves right: the picture moves left
    n = len(frames)
    travel = 320 * _motion.ZOOM  # the whole pan, in output pixels
    expected = np.diff([travel * _motion.ease(i / (n - 1)) for i in range(n)])
    assert expected.max() < 1.0  # the case this test is about: under a pixel per frame
    jumps = np.abs(np.diff(shifts))
    if engine == "warp":
        assert np.abs(shifts - expected).max() < 0.15, np.round(shifts - expected, 2)
        assert jumps.max() < 0.3, np.round(shifts, 2)
        assert shifts.sum() == pytest.approx(travel, abs=1.0)
    else:
        assert jumps.max() > 0.4  # zoompan stalls a frame and catches up: the judder the warp engine removes


def test_warp_frames_follow_the_eased_path_to_a_hundredth_of_a_pixel(tmp_path):
    """The warp engine's own frames, before the encoder: each frame-to-frame shift is the eased pan's."""
    width, height, n = 320, 180, 90
    src = _motion.prepare(textured_png(tmp_path / "t.png"), width, height, True)
    segs = _motion.segments([(0, 0, n)], ["pan-right"], 0)
    luma = np.array([np.frombuffer(bytes(f), np.uint8)[:width * height].reshape(height, width)
                     for f in _motion.WarpFrames({0: src}, segs, n, width, height)], dtype=np.float32)
    shifts = -frame_shifts(luma)
    expected = np.diff([width * _motion.ZOOM * _motion.ease(i / (n - 1)) for i in range(n)])
    assert np.abs(shifts - expected).max() < 0.02


def test_still_background_is_made_once_and_sent_again(monkeypatch):
    src = np.zeros((180, 320, 3), np.uint8)
    src[..., 0] = 200
    segs = _motion.segments([(0, 0, 10)], ["none"], 0)
    frames = _motion.WarpFrames({0: _motion.Planes.from_rgb(src)}, segs, 10, 320, 180, 30)
    made = []
    real = frames._warp
    monkeypatch.setattr(frames, "_warp", lambda *a: made.append(a[1]) or real(*a))
    chunks = [bytes(c) for c in frames]
    assert len(chunks) == 10 and len(set(chunks)) == 1 and len(chunks[0]) == 320 * 180 * 3 // 2
    assert made == [0]
    y = np.frombuffer(chunks[0], np.uint8)[:320 * 180]
    assert abs(int(y.mean()) - round(16 + 0.257 * 200)) <= 1  # BT.601 limited-range luma of pure red 200


def test_ticker_scrolls_right_to_left(tmp_path):
    text = "Markets close higher as tech rallies; storm warning for the coast"
    video, _, _ = render(tmp_path, 3.0, {**FAST, "width": 640, "height": 360, "ticker": text, "motion": "none",
                                         "bug": False})
    layout = graphics_layout(640, 360, TITLE, "AI-GENERATED", ticker=text, main=(0.0, 3.6))
    tick = layout.ticker
    frames = gray_frames(video.path, tmp_path, 640, 360)
    band = frames[:, tick["y"] + 4: tick["y"] + tick["h"] - 4, tick["tab"]["w"] + 4: 636]
    assert (band[30] > 200).sum() > 200  # white text on the dark band
    import cv2

    (dx, dy), _response = cv2.phaseCorrelate(np.ascontiguousarray(band[30]), np.ascontiguousarray(band[45]))
    speed = _graphics.TICKER_SPEED * layout.u  # pixels a second
    assert dx == pytest.approx(-speed * 0.5, abs=3) and abs(dy) < 1
    assert tick["period"] == round(tick["period"], 2)  # passes join on ASS's centisecond clock


def test_intro_and_outro_add_cards_and_delay_the_narration(tmp_path):
    params = {**FAST, "intro": True, "intro_seconds": 1.0, "outro": True, "outro_seconds": 1.5, "bug": False}
    video, _, _inputs = render(tmp_path, 2.0, params, cue_end=1.9)
    assert video.duration == pytest.approx(1.0 + 2.0 + 0.6 + 1.5, abs=1e-6)
    assert probe(video.path).duration == pytest.approx(5.1, abs=0.1)
    # Audio: silence during the intro, the 220 Hz tone after it.
    pcm = tmp_path / "a.raw"
    run_ffmpeg(["-y", "-i", os.fspath(video.path), "-vn", "-ac", "1", "-ar", "8000", "-f", "s16le", os.fspath(pcm)],
               loglevel="error")
    audio = np.fromfile(pcm, dtype=np.int16).astype(np.float32)
    rms = lambda a, b: float(np.sqrt(np.mean(audio[int(a * 8000):int(b * 8000)] ** 2)))
    assert rms(0.1, 0.9) < 50 and rms(1.2, 2.8) > 1000
    # Pictures: the intro and outro cards darken the whole frame; the title is on the intro card.
    layout = graphics_layout(320, 180, TITLE, "AI-GENERATED")
    intro = frame(video.path, 0.5, tmp_path / "i.png")
    main = frame(video.path, 2.0, tmp_path / "m.png")
    outro = frame(video.path, 4.8, tmp_path / "o.png")
    assert near(main[100, 300], BG)
    for card in (intro, outro):
        assert card[100, 300].max() < 60  # the dark card over the green background
        lab = layout.label
        assert near(card[lab["box_y"] + 3, lab["box_x"] + 3], bgr_hex_to_rgb(NEWS["red"]))  # the label stays on
    assert (intro[60:120, 40:280].min(axis=2) > 200).sum() > 200  # the title's white letters
    # The captions moved with the narration: none on screen during the intro.
    out = tmp_path / "burn.ass"
    write_burn_ass(tmp_path / "captions.ass", out, title=TITLE, label="AI", duration=5.1, width=320, height=180,
                   timing=_graphics.Timing(5.1, 1.0, 3.6, True, True))
    caps = [e for e in pysubs2.load(os.fspath(out)).events if e.style == "Default"]
    assert min(e.start for e in caps) >= 1000


@pytest.mark.parametrize("style", _graphics.shipped_styles())
def test_each_shipped_style_renders_its_graphics(tmp_path, style):
    assert set(_graphics.shipped_styles()) >= {"news", "minimal"}
    params = {**FAST, "width": 640, "height": 360, "style": style, "breaking": True, "ticker": "Storm warning",
              "motion": "none"}
    video, _, _ = render(tmp_path, 2.0, params)
    img = frame(video.path, 1.5, tmp_path / "f.png")
    layout = graphics_layout(640, 360, TITLE, "AI-GENERATED", breaking=True, ticker="Storm warning", logo_aspect=1.0)
    lab, tick = layout.label, layout.ticker
    label_colour = {"news": bgr_hex_to_rgb(NEWS["red"]), "minimal": (255, 255, 255)}[style]
    assert near(img[lab["box_y"] + 2, lab["box_x"] + 2], label_colour)
    band = img[tick["y"] + 2:tick["y"] + tick["h"] - 2, tick["tab"]["w"] + 4:636].max(axis=2)
    assert np.median(band) < 110 and (band > 200).sum() > 50  # the dark ticker band with white text on it
    assert near(img[150, 320], BG)  # the middle of the picture is untouched


def copy_style(tmp_path: Path, name: str = "news") -> Path:
    folder = tmp_path / "mystyle"
    shutil.copytree(_graphics.STYLES_DIR / name, folder)
    return folder


def test_user_style_folder_renders_and_its_edits_change_the_cache_key(tmp_path):
    folder = copy_style(tmp_path)
    lower = folder / "label.ass.j2"
    lower.write_text(lower.read_text().replace("\\1c&H{{ c.red }}&", "\\1c&H00FF00&"))  # a green label box
    provider = FfmpegCompose({**FAST, "style": os.fspath(folder), "motion": "none"})
    key1 = provider.key_params()
    assert key1["style"] == "folder" and os.fspath(folder) not in repr(key1)
    script, backgrounds, voice, captions = make_inputs(tmp_path, 1.0, width=320, height=180)
    work = tmp_path / "work"
    work.mkdir()
    video = provider.run(script=script, image=backgrounds, voice=voice, captions=captions, workdir=work,
                         progress=lambda f, m: None)
    lab = graphics_layout(320, 180, TITLE, "AI-GENERATED").label
    assert near(frame(video.path, 0.5, tmp_path / "f.png")[lab["box_y"] + 2, lab["box_x"] + 2], (0, 255, 0), 40)
    lower.write_text(lower.read_text() + "\n")
    assert FfmpegCompose({**FAST, "style": os.fspath(folder)}).key_params()["style_sha256"] != key1["style_sha256"]


@pytest.mark.parametrize(("edit", "where"), [
    ("syntax", "lower_third.ass.j2:3"),
    ("unknown", "ticker.ass.j2:4"),
])
def test_broken_user_template_names_its_file_and_line(tmp_path, edit, where):
    folder = copy_style(tmp_path)
    if edit == "syntax":
        path = folder / "lower_third.ass.j2"
        lines = path.read_text().splitlines()
        lines[2] = lines[2].replace("{{ bar.x }}", "{{ bar.x ", 1)  # line 3: an unclosed expression
    else:
        path = folder / "ticker.ass.j2"
        lines = path.read_text().splitlines()
        lines[3] = lines[3].replace("{{ ticker.w }}", "{{ ticker.width }}", 1)  # line 4: a field that does not exist
    path.write_text("\n".join(lines) + "\n")
    script, backgrounds, voice, captions = make_inputs(tmp_path, 1.0, width=320, height=180)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(NewsreelError) as err:
        FfmpegCompose({**FAST, "style": os.fspath(folder), "ticker": "x"}).run(
            script=script, image=backgrounds, voice=voice, captions=captions, workdir=work, progress=lambda f, m: None)
    assert f"mystyle/{where}" in err.value.message, err.value.message
    assert list(work.iterdir()) == []


def test_style_must_keep_the_label_and_exist(tmp_path):
    folder = copy_style(tmp_path, "minimal")
    (folder / "label.ass.j2").write_text("{# no label #}\n")
    with pytest.raises(NewsreelError) as err:
        write_burn_ass(make_inputs(tmp_path, 1.0, width=320, height=180)[3].ass, tmp_path / "x.ass", title="t",
                       label="AI", duration=1.0, width=320, height=180, style=os.fspath(folder))
    assert "label" in err.value.message
    with pytest.raises(NewsreelError):
        FfmpegCompose({"style": os.fspath(tmp_path / "nowhere")}).check()


def test_logo_must_be_an_image_and_a_user_logo_is_drawn(tmp_path):
    notes = tmp_path / "logo.png"
    notes.write_text("not a picture\n")
    with pytest.raises(NewsreelError) as err:
        FfmpegCompose({**FAST, "logo": os.fspath(notes)}).check()
    assert "logo.png is not an image" in err.value.message
    with pytest.raises(NewsreelError):
        FfmpegCompose({"logo": os.fspath(tmp_path / "missing.png")}).check()

    square = tmp_path / "square.png"
    Image.new("RGBA", (100, 50), (255, 0, 0, 255)).save(square)
    video, _, _ = render(tmp_path / "r", 1.0, {**FAST, "width": 640, "height": 360, "logo": os.fspath(square),
                                                "motion": "none"})
    bug = graphics_layout(640, 360, TITLE, "AI-GENERATED", logo_aspect=2.0).bug
    assert bug["w"] == 2 * bug["h"]
    img = frame(video.path, 0.5, tmp_path / "f.png")
    expected = 0.85 * np.array([255, 0, 0]) + 0.15 * np.array(BG)  # the bug is 85% opaque
    assert near(img[bug["y"] + bug["h"] // 2, bug["x"] + bug["w"] // 2], expected, 30)
    assert FfmpegCompose({"logo": os.fspath(square)}).key_params()["logo"] == "file"


def test_encoder_choice(monkeypatch):
    monkeypatch.setattr("pipeline.media.nvenc_available", lambda: False)
    assert compose_ffmpeg.resolve_encoder("auto") == "libx264"
    with pytest.raises(NewsreelError):
        compose_ffmpeg.resolve_encoder("h264_nvenc")
    monkeypatch.setattr("pipeline.media.nvenc_available", lambda: True)
    assert compose_ffmpeg.resolve_encoder("auto") == "h264_nvenc"
    assert compose_ffmpeg.resolve_encoder("libx264") == "libx264"
    p = FfmpegCompose({"preset": "veryfast", "crf": 21}).params
    args = _command.output_args(p, "h264_nvenc", 10.0, "t", "out.mp4")
    assert args[args.index("-c:v") + 1] == "h264_nvenc" and args[args.index("-cq") + 1] == "21"
    assert "+faststart" in args


def test_check_and_identity(monkeypatch, tmp_path):
    provider = FfmpegCompose()
    provider.check()
    ident = provider.identity()
    assert re.match(r"\S+", ident["ffmpeg"]) and ident["encoder"] in ("libx264", "h264_nvenc")
    assert re.match(r"\d+\.\d+", ident["opencv"])
    monkeypatch.setenv("NEWSREEL_FFMPEG", os.fspath(tmp_path / "missing-ffmpeg"))
    with pytest.raises(NewsreelError):
        provider.check()


@pytest.mark.parametrize("engine", ["warp", "zoompan", "perspective"])
def test_scenes_cut_without_crossfade_in_every_engine(tmp_path, engine):
    red = flat_png(tmp_path / "red.png", (220, 60, 60))
    blue = flat_png(tmp_path / "blue.png", (20, 40, 160))
    video, _, (_s, _b, voice, _c) = render(tmp_path, 2.0, {**FAST, "engine": engine, "crossfade": 0, "bug": False,
                                                           "motion": "none"}, images=[red, blue], scenes=3)
    cut = round(next(w.start for w in voice.words if w.sentence == 1) * 30)
    luma = gray_frames(video.path, tmp_path, 320, 180)[:, 90, 160]
    assert len(luma) == 78
    assert luma[cut - 1] - luma[cut] > 40  # red to darker blue from one frame to the next
    assert abs(luma[cut - 8] - luma[cut - 1]) < 4 and abs(luma[cut] - luma[cut + 8]) < 4


def test_each_new_i420_frame_goes_through_the_hook_once():
    src = np.zeros((180, 320, 4), np.uint8)
    segs = _motion.segments([(0, 0, 4), (0, 4, 8)], ["push-in", "none"], 0)
    seen = []

    def hook(buf, index):
        seen.append(index)
        buf[0, 0] = 99  # may change the frame in place

    frames = _motion.WarpFrames({0: _motion.Planes.from_rgb(src)}, segs, 8, 320, 180, 30, on_i420=hook)
    chunks = [bytes(c) for c in frames]
    assert seen == [0, 1, 2, 3, 4]  # the still second scene is made once, then sent again
    assert all(c[0] == 99 for c in chunks)


# ---------------------------------------------------------------------------------------------------------------
# Sound: the finished video's soundtrack is mastered (pipeline/audio.py), with optional music.


def test_finished_video_is_at_broadcast_loudness(main_render):
    from pipeline.audio import measure_loudness

    video = main_render[0]
    integrated, peak = measure_loudness(video.path)  # ebur128 on the AAC track in the MP4
    assert integrated == pytest.approx(-16.0, abs=1.0)
    assert peak <= -1.5
    notes = video.notes["audio"]
    assert notes["music"] is None
    assert notes["loudness_lufs"] == pytest.approx(-16.0, abs=0.5) and notes["true_peak_dbtp"] <= -1.5


def test_music_plays_under_the_intro_and_the_mix_keeps_the_loudness(tmp_path):
    from pipeline.audio import measure_loudness

    params = {**FAST, "intro": True, "intro_seconds": 1.0, "bug": False, "music": "default"}
    video, calls, _ = render(tmp_path, 4.0, params, cue_end=3.9)
    assert any("mastering" in m for _, m in calls)
    pcm = tmp_path / "a.raw"
    run_ffmpeg(["-y", "-i", os.fspath(video.path), "-vn", "-ac", "1", "-ar", "8000", "-f", "s16le", os.fspath(pcm)],
               loglevel="error")
    audio = np.fromfile(pcm, dtype=np.int16).astype(np.float32)
    rms = lambda a, b: float(np.sqrt(np.mean(audio[int(a * 8000):int(b * 8000)] ** 2)))
    assert rms(0.3, 0.9) > 30  # the music fades in under the intro card (no voice yet)
    assert rms(1.5, 4.5) > 4 * rms(0.3, 0.9)  # the voice, far above the ducked music
    integrated, peak = measure_loudness(video.path)
    assert integrated == pytest.approx(-16.0, abs=1.0) and peak <= -1.5
    assert video.notes["audio"]["music"] == "newsroom-bed.m4a"
    assert not list((tmp_path / "work").glob(".soundtrack*"))  # the intermediate WAV is gone


def test_music_file_content_not_path_is_in_the_cache_key(tmp_path):
    from pipeline.audio import DEFAULT_MUSIC

    a, b = tmp_path / "a.m4a", tmp_path / "sub" / "b.m4a"
    b.parent.mkdir()
    shutil.copyfile(DEFAULT_MUSIC, a)
    shutil.copyfile(DEFAULT_MUSIC, b)
    key = lambda path: FfmpegCompose({"music": os.fspath(path)}).key_params()
    assert key(a) == key(b)
    assert key(a) != FfmpegCompose({}).key_params()
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=frequency=330:duration=3", "-c:a", "aac", os.fspath(b)],
               loglevel="error")
    assert key(a) != key(b)
    assert FfmpegCompose({"music": "none"}).params.music is None


def test_music_that_is_not_audio_is_refused_before_anything_is_written(tmp_path):
    text = tmp_path / "song.mp3"
    text.write_text("not audio at all")
    provider = FfmpegCompose({**FAST, "music": os.fspath(text)})
    with pytest.raises(NewsreelError, match="not audio|no audio"):
        provider.check()
    with pytest.raises(NewsreelError, match="does not exist"):
        FfmpegCompose({"music": os.fspath(tmp_path / "missing.mp3")}).check()
    with pytest.raises(NewsreelError):
        render(tmp_path / "r", 2.0, {**FAST, "music": os.fspath(text)})
    assert sorted(p.name for p in (tmp_path / "r" / "work").iterdir()) == []


@pytest.mark.parametrize("engine", ["zoompan", "perspective"])
def test_filter_engines_embed_the_provenance_mark_too(tmp_path, engine):
    from pipeline import video_watermark

    bg = textured_png(tmp_path / "texture.png")
    params = {"width": 320, "height": 180, "preset": "veryfast", "engine": engine, "bug": False}
    video, _, _ = render(tmp_path, 2.0, params, images=[bg], cue_end=1.5)
    found = video_watermark.detect_video(video.path)
    assert found.found, found
    assert video.notes["watermark"] == video_watermark.METHOD
    assert not list((tmp_path / "work").glob(".mark*"))
    # Control: the same picture encoded without the mark is not taken for marked.
    plain = tmp_path / "plain.mp4"
    run_ffmpeg(["-y", "-loop", "1", "-i", os.fspath(bg), "-t", "2", "-vf", "scale=320:180,format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", os.fspath(plain)], loglevel="error")
    assert not video_watermark.detect_video(plain).found
