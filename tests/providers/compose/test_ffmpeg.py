"""compose provider `ffmpeg`: real renders of short videos, checked with media.probe and pixels of extracted frames."""

from __future__ import annotations

import os
import re
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
from pipeline.providers.compose.ffmpeg import (
    COLOURS,
    COMMENT,
    FfmpegCompose,
    ass_escape,
    filter_escape,
    graphics_layout,
    render_graphics,
    scene_spans,
    write_burn_ass,
)
from pipeline.stages import BackgroundImage, Backgrounds, Captions, Narration, Scene, Script, WordTiming
from pipeline.stages.captions import Cue

BG = (40, 110, 70)  # a flat green backdrop: no white, no red, no navy anywhere in it
TITLE = "Breakthrough in Mars Project: rover finds ancient lake bed"


def bgr_hex_to_rgb(value: str) -> np.ndarray:
    return np.array([int(value[4:6], 16), int(value[2:4], 16), int(value[0:2], 16)], dtype=np.float32)


def flat_png(path: Path, colour=BG, size=(1600, 900)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def make_inputs(root: Path, seconds: float, *, width=1280, height=720, title=TITLE, images=None, scenes=1,
                cue_end: float | None = None):
    """Script, backgrounds, a sine narration with evenly spaced words, and captions (ASS/SRT/VTT via pysubs2)."""
    root.mkdir(parents=True, exist_ok=True)
    sentences = ["The rover found layered rock.", "Scientists say a lake stood here.", "More images arrive next week."]
    per = len(sentences) // scenes
    scene_list = [Scene(sentences=list(range(i * per, len(sentences) if i == scenes - 1 else (i + 1) * per)),
                        image_prompt=f"p{i}") for i in range(scenes)]
    script = Script(headline="Breakthrough in Mars Project", title=title, sentences=sentences,
                    image_prompt="mars", scenes=scene_list)
    wav = root / "narration.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=22050:duration={seconds}", "-ac", "1",
                "-c:a", "pcm_s16le", os.fspath(wav)])
    all_words = [(w, i) for i, s in enumerate(sentences) for w in s.split()]
    step = (seconds - 0.2) / len(all_words)
    words = [WordTiming(word=w, start=0.1 + k * step, end=0.1 + (k + 0.9) * step, sentence=i)
             for k, (w, i) in enumerate(all_words)]
    voice = Narration(path=wav, duration=seconds, sample_rate=22050, words=words, voice="sine")

    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = str(width), str(height)
    style = subs.styles["Default"]
    style.fontname, style.fontsize, style.bold = assets.FONT_FAMILY, round(min(width, height) * 0.06), True
    style.primarycolor, style.outlinecolor = pysubs2.Color(255, 255, 255), pysubs2.Color(0, 0, 0)
    style.outline, style.shadow, style.marginv = 3, 0, 20
    style.alignment = pysubs2.Alignment.BOTTOM_CENTER
    cues = []
    end_limit = cue_end if cue_end is not None else seconds
    for i in range(0, len(words), 4):
        chunk = [w for w in words[i:i + 4] if w.end <= end_limit]
        if not chunk:
            continue
        text = " ".join(w.word for w in chunk)
        cues.append(Cue(start=chunk[0].start, end=chunk[-1].end, text=text))
        subs.events.append(pysubs2.SSAEvent(start=round(chunk[0].start * 1000), end=round(chunk[-1].end * 1000), text=text))
    for ext in ("ass", "srt", "vtt"):
        subs.save(os.fspath(root / f"captions.{ext}"))
    captions = Captions(cues=cues, srt=root / "captions.srt", vtt=root / "captions.vtt", ass=root / "captions.ass")
    images = images or [flat_png(root / "bg.png")]
    backgrounds = Backgrounds(images=[BackgroundImage(path=p, width=1600, height=900) for p in images])
    return script, backgrounds, voice, captions


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
    # Only the outputs are left in the work folder: no partial file, no scratch ASS.
    assert sorted(p.name for p in video.path.parent.iterdir()) == ["poster.jpg", "video.mp4"]
    # Progress went forward to 1.0 with ffmpeg's frame counts in the messages.
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(re.match(r"frame \d+/198", m) for _, m in calls)


def test_label_lower_third_and_captions_are_burned_in(main_render, tmp_path):
    video, _, _, _ = main_render
    layout = graphics_layout(1280, 720, TITLE, "AI-GENERATED")
    during = frame(video.path, 2.0, tmp_path / "during.png")  # a cue is on screen
    after = frame(video.path, 6.3, tmp_path / "after.png")  # in the tail, after the last cue
    first = frame(video.path, 0.0, tmp_path / "first.png")

    def near(px, rgb, tol=30.0):
        return np.abs(px - np.asarray(rgb, dtype=np.float32)).max() <= tol

    red = bgr_hex_to_rgb(COLOURS["label"])
    lab = layout.label
    for img in (first, during, after):  # the label is there from the first frame to the last
        assert near(img[lab["box_y"] + 3, lab["box_x"] + 3], red), img[lab["box_y"] + 3, lab["box_x"] + 3]
        # The label's text is white inside the red box.
        box = img[lab["box_y"]:lab["box_y"] + lab["box_h"], lab["box_x"]:lab["box_x"] + lab["box_w"]]
        assert (box.min(axis=2) > 200).sum() > 150
    assert near(during[400, 900], BG)  # plain background elsewhere

    bar = layout.bar
    alpha = 1 - int(COLOURS["bar_alpha"], 16) / 255
    bar_rgb = alpha * bgr_hex_to_rgb(COLOURS["bar"]) + (1 - alpha) * np.asarray(BG, dtype=np.float32)
    cy = bar["y"] + bar["h"] // 2
    assert near(during[cy, bar["x"] + bar["w"] - 12], bar_rgb, 20), during[cy, bar["x"] + bar["w"] - 12]
    assert near(during[cy, bar["x"] + 4], bgr_hex_to_rgb(COLOURS["accent"]))
    title_area = during[bar["y"]:bar["y"] + bar["h"], bar["x"] + bar["accent"]:bar["x"] + bar["w"]]
    assert (title_area.min(axis=2) > 200).sum() > 1000  # white title text on the bar

    # Captions sit just above the lower third while a cue is on, and are gone after the last cue.
    band = slice(bar["y"] - 90, bar["y"] - 4)
    white_during = (during[band, 200:1080].min(axis=2) > 200).sum()
    white_after = (after[band, 200:1080].min(axis=2) > 200).sum()
    assert white_during > 800
    assert white_after < 20


def test_vertical_render_is_1080x1920(tmp_path):
    video, _, _ = render(tmp_path, 2.0, {"width": 1080, "height": 1920, "preset": "ultrafast"})
    info = probe(video.path)
    assert (info.video.width, info.video.height) == (1080, 1920)
    assert info.duration == pytest.approx(2.6, abs=0.1)


def test_hostile_title_renders_as_text(tmp_path):
    title = 'Mars {\\b1}"bold" \'quoted\' \\N {\\pos(0,0)}x} end\\'
    video, _, _inputs = render(tmp_path, 2.0, {"width": 320, "height": 180, "preset": "ultrafast"},
                                        title=title)
    assert probe(video.path).tags["title"] == title
    # The burned ASS the render used: the title is one event whose only override block is the template's own.
    out = tmp_path / "burn.ass"
    write_burn_ass(tmp_path / "captions.ass", out, title=title, label="AI-GENERATED", duration=2.6, width=320, height=180)
    titles = [e for e in pysubs2.load(os.fspath(out)).events if e.style == "NR Title"]
    assert len(titles) == 1
    text = titles[0].text
    blocks = re.findall(r"(?<!\\)\{[^}]*(?<!\\)\}", text)
    assert len(blocks) == 1 and blocks[0].startswith("{\\an7")
    assert "\\{\\\u2060b1\\}" in text  # braces escaped, backslash defused


def test_ass_escape_and_template_cannot_be_injected():
    assert ass_escape("a{b}c") == "a\\{b\\}c"
    assert ass_escape("x\\Ny") == "x\\\u2060Ny"
    assert ass_escape("line1\nDialogue: 0,0:00:00.00,9:00:00.00,Default,,0,0,0,,owned") .count("\n") == 0
    layout = graphics_layout(1280, 720, "one\nDialogue: 0,0:00:00.00,9:00:00.00,NR Title,,0,0,0,,{\\pos(1,1)}owned", "AI")
    doc = render_graphics(layout, 10.0)
    assert doc.count("\nDialogue:") == 6  # the template's six events and no more
    assert "{\\pos(1,1)}" not in doc


def test_long_title_wraps_and_fits_the_bar():
    from pipeline.providers.compose.ffmpeg import text_width

    long_title = " ".join(["Parliament"] * 40)
    for w, h, max_lines in ((1280, 720, 2), (1080, 1920, 3), (1080, 1080, 2)):
        layout = graphics_layout(w, h, long_title, "AI-GENERATED")
        lines = layout.title["lines"]
        assert 1 <= len(lines) <= max_lines
        assert lines[-1].endswith("\u2026")
        room = layout.bar["w"] - layout.bar["accent"]
        assert all(text_width(line, layout.title["size"]) < room for line in lines)
        assert layout.bar["y"] + layout.bar["h"] < h  # on screen
        assert layout.label["box_x"] + layout.label["box_w"] < w


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
    assert "png" in err.value.message.lower()  # ffmpeg's own complaint about the image is in the message
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_two_scenes_show_two_backgrounds(tmp_path):
    red = flat_png(tmp_path / "red.png", (170, 40, 40))
    blue = flat_png(tmp_path / "blue.png", (40, 60, 170))
    video, _, (script, _bg, voice, _c) = render(
        tmp_path, 4.0, {"width": 320, "height": 180, "preset": "ultrafast"}, images=[red, blue], scenes=3
    )
    # Scenes of 1 + 2 sentences -> two of the three scenes have images; scene 2 starts at its first word.
    script2 = Script(**{**script.model_dump(), "scenes": [Scene(sentences=[0], image_prompt="a"),
                                                          Scene(sentences=[1, 2], image_prompt="b")]})
    spans = scene_spans(script2, voice, 2, round(4.6 * 30), 30)
    start2 = next(w.start for w in voice.words if w.sentence == 1)
    assert spans == [(0, 0, round(start2 * 30)), (1, round(start2 * 30), 138)]
    early = frame(video.path, 0.3, tmp_path / "early.png")[90, 160]
    late = frame(video.path, 4.0, tmp_path / "late.png")[90, 160]
    assert early[0] > 130 and early[2] < 80  # red scene
    assert late[2] > 130 and late[0] < 80  # blue scene
    info = probe(video.path)
    assert info.duration == pytest.approx(4.6, abs=0.1)


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
    # Fewer images than scenes: the last image runs to the end.
    assert scene_spans(script, voice, 2, 198, 30) == [(0, 0, 60), (1, 60, 198)]

    def second_scene_at(t: float) -> Narration:
        moved = [words[0], WordTiming(word="w", start=t, end=t + 0.1, sentence=1), *words[2:]]
        return Narration(path=Path("/x.wav"), duration=6.0, sample_rate=22050, words=moved)

    assert scene_spans(script, second_scene_at(1.0), 2, 198, 30) == [(0, 0, 30), (1, 30, 198)]
    # A first scene too short to crossfade gives its time to the next image.
    assert scene_spans(script, second_scene_at(0.5), 2, 198, 30) == [(1, 0, 198)]


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
                {"crf": 52}, {"label": ""}, {"label": "   "}, {"motion": "spin"}, {"preset": "warp"}, {"extra": 1}):
        with pytest.raises(NewsreelError):
            FfmpegCompose(bad)
    assert FfmpegCompose({"width": 3840, "height": 2160}).params.width == 3840
    assert FfmpegCompose({"width": 2160, "height": 3840}).params.height == 3840


@pytest.mark.slow
def test_sixty_seconds_at_720p(tmp_path):
    from pipeline.providers.image.slate import SlateImage

    script, _, voice, captions = make_inputs(tmp_path, 60.0)
    slate = SlateImage({"width": 1280, "height": 720}).run(script=script, workdir=tmp_path, progress=lambda f, m: None)
    work = tmp_path / "work"
    work.mkdir()
    start = time.perf_counter()
    video = FfmpegCompose().run(script=script, image=slate, voice=voice, captions=captions, workdir=work,
                                progress=lambda f, m: None)
    seconds = time.perf_counter() - start
    print(f"\n60 s at 1280x720 rendered in {seconds:.1f} s ({60.6 / seconds:.2f}x real time)")
    info = probe(video.path)
    assert info.duration == pytest.approx(60.6, abs=0.1)
    assert (info.video.width, info.video.height) == (1280, 720)


@pytest.mark.parametrize("motion", ["pan-left", "pan-right", "push-in", "none"])
def test_motion_moves_the_view_the_right_way(tmp_path, motion):
    # A left-to-right brightness ramp: panning right brings brighter columns to the centre of the frame.
    ramp = np.tile(np.linspace(0, 255, 1600, dtype=np.float32), (900, 1))
    bg = tmp_path / "ramp.png"
    Image.fromarray(np.stack([ramp, ramp, ramp], axis=2).astype(np.uint8)).save(bg)
    video, _, _ = render(tmp_path, 2.0, {"width": 320, "height": 180, "preset": "ultrafast", "motion": motion,
                                         "threads": 1, "tail_seconds": 0.0}, images=[bg])
    start = frame(video.path, 0.0, tmp_path / "a.png")[90, 150:170].mean()
    end = frame(video.path, 1.95, tmp_path / "b.png")[90, 150:170].mean()
    assert probe(video.path).duration == pytest.approx(2.0, abs=0.1)
    if motion == "pan-right":
        assert end - start > 8
    elif motion == "pan-left":
        assert start - end > 8
    else:  # zooming on the centre, or standing still, keeps the centre column where it was
        assert abs(end - start) < 4


def test_check_and_identity(monkeypatch, tmp_path):
    provider = FfmpegCompose()
    provider.check()
    assert re.match(r"\S+", provider.identity()["ffmpeg"])
    monkeypatch.setenv("NEWSREEL_FFMPEG", os.fspath(tmp_path / "missing-ffmpeg"))
    with pytest.raises(NewsreelError):
        provider.check()
