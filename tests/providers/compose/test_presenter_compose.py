"""Compose with a presenter: kind none changes nothing; a real anchor's mouth follows the narration; captions keep
off its face."""

from __future__ import annotations

import json
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline import make_video
from pipeline.media import run_ffmpeg
from pipeline.providers.compose.ffmpeg import FfmpegCompose
from pipeline.stages.presenter import Presenter
from tests.providers.compose.inputs import make_inputs

W, H, FPS = 384, 216, 20
NARRATION = ("Officials opened the new bridge over the wide river on Monday morning. "
             "Thousands of people walked across it, waving flags and cheering loudly.")
# The newscast's: a figure in its second sentence, so its shots are the anchor, a callout, then the picture
NEWSCAST = ("Officials opened the new bridge over the wide river on Monday morning. "
            "It cost $40 million to build. "
            "Thousands of people walked across it, waving flags and cheering loudly.")


def gray_frames(video: Path, width: int, height: int, workdir: Path) -> np.ndarray:
    raw = workdir / "frames.gray"
    run_ffmpeg(["-y", "-i", os.fspath(video), "-f", "rawvideo", "-pix_fmt", "gray", os.fspath(raw)])
    return np.fromfile(raw, np.uint8).reshape(-1, height, width)


def test_kind_none_draws_exactly_what_compose_drew_before(tmp_path):
    script, image, voice, captions = make_inputs(tmp_path / "in", 2.0, width=W, height=H)
    params = {"width": W, "height": H, "fps": FPS, "bug": False}
    frames = []
    for name, extra in (("before", {}), ("none", {"presenter": Presenter.nobody(FPS, voice.duration)})):
        work = tmp_path / name
        work.mkdir()
        video = FfmpegCompose(params).run(script=script, image=image, voice=voice, captions=captions, workdir=work,
                                          progress=lambda f, m: None, **extra)
        assert "presenter" not in video.notes
        frames.append(gray_frames(video.path, W, H, work))
    assert frames[0].shape[0] >= 2.0 * FPS
    assert np.array_equal(frames[0], frames[1])


def loudness(wav_path: Path, fps: int, frames: int) -> np.ndarray:
    with wave.open(os.fspath(wav_path)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64)
    per = rate / fps
    return np.array([np.sqrt(np.mean(samples[int(i * per):int((i + 1) * per)] ** 2) if int(i * per) < len(samples)
                             else 0.0) for i in range(frames)])


def render(tmp, shots: str, narration: str = NARRATION):
    """A real render of a few sentences: text script, espeak voice, slate image, the drawn anchor."""
    import pathlib

    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    for k in saved:
        os.environ[k] = os.fspath(tmp / "home" / k.lower())
    cwd = pathlib.Path.cwd()
    try:
        params = {"script": {"text": narration}, "presenter": {"width": W, "height": H, "fps": FPS},
                  "compose": {"width": W, "height": H, "fps": FPS, "shots": shots}}
        result = make_video("Bridge opens", out=tmp / "run", params=params,
                            providers={"script": "text", "image": "slate", "voice": "espeak", "captions": "subtitles",
                                       "presenter": "anchor", "compose": "ffmpeg"})
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    record = json.loads((tmp / "run" / "run.json").read_text())
    return tmp, result, record


@pytest.fixture(scope="module")
def anchored(tmp_path_factory):
    return render(tmp_path_factory.mktemp("anchored"), "newscast", NEWSCAST)


@pytest.fixture(scope="module")
def anchor_only(tmp_path_factory):
    return render(tmp_path_factory.mktemp("anchor_only"), "anchor")


def test_the_anchors_mouth_opens_with_the_narration(anchor_only):
    tmp, result, record = anchor_only
    notes = record["stages"]["compose"]["notes"]["presenter"]
    assert notes["drawn"] is True
    frames = gray_frames(tmp / "run" / "video.mp4", W, H, tmp)
    x, y, w, h = notes["mouth_box"]
    pad = 2
    shots = record["stages"]["compose"]["notes"]["shots"]
    on = np.zeros(len(frames), bool)
    for shot in shots:
        if shot["shot"] == "anchor":
            on[round(shot["start"] * FPS):round(shot["end"] * FPS)] = True
    assert [s["shot"] for s in shots] == ["anchor"] and on.all()
    mouth = frames[:, max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad].astype(np.float64)
    # Openness: how far the mouth is from the rest pose, which the last frame (the silent tail) shows.
    openness = np.abs(mouth - mouth[-1]).mean(axis=(1, 2))
    loud = loudness(result.artifacts["voice"].path, FPS, len(frames))[on]
    assert openness.std() > 0 and loud.std() > 0
    # Both over a syllable's window (250 ms): a mouth shape spans a phoneme, loudness peaks on the vowel.
    window = np.ones(FPS // 4) / (FPS // 4)
    r = np.corrcoef(np.convolve(openness, window, "same"), np.convolve(loud, window, "same"))[0, 1]
    assert r >= 0.5, r


def test_shots_cut_at_sentences_and_never_repeat_more_than_twice(anchored):
    tmp, result, record = anchored
    shots = record["stages"]["compose"]["notes"]["shots"]
    voice = result.artifacts["voice"]
    assert [s["shot"] for s in shots] == ["anchor", "callout", "broll"]
    assert shots[0]["start"] == 0 and shots[-1]["end"] == pytest.approx(result.artifacts["compose"].duration, abs=0.06)
    for k in (1, 2):
        starts = min(w.start for w in voice.words if w.sentence == k)
        assert shots[k]["start"] == pytest.approx(starts, abs=1 / FPS) and shots[k]["sentences"] == [k]
    assert shots[0]["face_box"] == record["stages"]["compose"]["notes"]["presenter"]["face_box"]
    px, py, pw, ph = shots[0]["picture_box"]
    fx, fy, fw, fh = shots[0]["face_box"]
    assert px + pw <= fx  # the picture's box is over the anchor's shoulder, not over the face


def test_the_callout_shows_the_sentences_figure_on_its_card(anchored):
    tmp, result, record = anchored
    shots = record["stages"]["compose"]["notes"]["shots"]
    callout = shots[1]["callout"]
    sentence = result.artifacts["script"].sentences[1]
    assert callout["text"] == "$40 million" and callout["text"] in sentence and callout["label"] == "to build"
    assert callout["sentence"] == 1 and callout["box"] == shots[0]["picture_box"]
    frames = gray_frames(tmp / "run" / "video.mp4", W, H, tmp)
    x, y, w, h = callout["box"]
    first, last = round(shots[1]["start"] * FPS), round(shots[1]["end"] * FPS)
    card = frames[first + 1:last - 1, y:y + h, x:x + w].astype(np.int16)
    picture = frames[2:first - 1, y:y + h, x:x + w].astype(np.int16)  # the anchor's shot: the picture in the box
    # The card is dark navy with a big white figure; on the anchor's shot the same box holds the picture.
    dark = (card < 45).mean(axis=(1, 2))
    white = (card > 235).mean(axis=(1, 2))
    assert dark.min() > 0.5 and white.min() > 0.02, (dark.min(), white.min())
    assert (picture > 235).mean(axis=(1, 2)).max() < 0.2 * white.min(), (picture > 235).mean(axis=(1, 2)).max()
    assert np.abs(card.mean(axis=0) - picture.mean(axis=0)).mean() > 10
    # The white figure sits in the middle of the card's height, above the (light grey) label, off its edges.
    rows = np.nonzero((card[0] > 235).sum(axis=1) > 2)[0]
    assert rows.size and 0.1 * h < rows.min() and rows.max() < 0.75 * h, (rows.min(), rows.max(), h)


def test_shot_lists_alternate_for_any_number_of_sentences():
    from pipeline.providers.compose._shots import shot_list
    from pipeline.stages import Narration, WordTiming

    for count in range(1, 9):
        words = [WordTiming(word="w", start=1.5 * i + 0.1, end=1.5 * i + 1.0, sentence=i) for i in range(count)]
        voice = Narration(path=__file__, duration=1.5 * count, sample_rate=22050, words=words, voice="x")
        shots = shot_list(voice, 10, 10 + round(1.5 * count * FPS), FPS)
        kinds = [s.kind for s in shots]
        assert all(not (a == b == c) for a, b, c in zip(kinds, kinds[1:], kinds[2:]))
        assert shots[0].start == 10 and all(a.end == b.start for a, b in zip(shots, shots[1:]))
        assert sorted(i for s in shots for i in s.sentences) == list(range(count))


def test_captions_keep_off_the_face(anchored):
    tmp, result, record = anchored
    notes = record["stages"]["compose"]["notes"]["presenter"]
    fx, fy, fw, fh = notes["face_box"]
    bx, by, bw, bh = notes["box"]
    assert bx <= fx and fx + fw <= bx + bw and fw > 0 and fh > 0
    assert fx >= W / 2  # the default side is the right
    graphics = notes["graphics"]
    assert {"label", "lower_third", "bug"} <= set(graphics)
    for name, (gx, gy, gw, gh) in graphics.items():
        assert gx + gw <= fx or fx + fw <= gx or gy + gh <= fy or fy + fh <= gy, name
    # The burned captions are narrowed to the left of the face: their right margin clears it.
    frames = gray_frames(tmp / "run" / "video.mp4", W, H, tmp)
    anchor = [s for s in record["stages"]["compose"]["notes"]["shots"] if s["shot"] == "anchor"]
    on = np.zeros(len(frames), bool)
    for shot in anchor:
        on[round(shot["start"] * FPS):round(shot["end"] * FPS)] = True
    face = frames[on][:, fy:fy + fh, fx:fx + fw].astype(np.int16)
    # Caption text is white: the face region never gets it (the anchor's own pixels stay below pure white).
    assert (face > 250).mean() < 0.01
    # Only the anchor's shots narrow them: on the B-roll the caption's text runs past the face's left edge.
    lines = slice(fy + fh, notes["graphics"]["lower_third"][1])
    def right_edge(frames):
        white = np.argwhere((frames[:, lines] > 245).any(axis=(0, 1)))
        return int(white.max()) if white.size else -1
    assert 0 < right_edge(frames[on]) < fx < right_edge(frames[~on])


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280), (720, 720)])
def test_placement_by_frame_shape(size):
    from pipeline.providers.compose import _presenter, _shots
    from pipeline.stages.presenter import Box, Placement, Sprites, SpriteLayer, Timeline

    width, height = size
    layer = SpriteLayer(path=__file__, x=0, y=0)
    presenter = Presenter(kind="sprites", fps=30, duration=1.0, width=400, height=400,
                          box=Box(x=50, y=20, width=300, height=380), mouth_box=Box(x=180, y=150, width=40, height=20),
                          placement=Placement(side="right", height=0.9),
                          sprites=Sprites(heads={s: layer for s in "ABCDEFGHX"}, pivot=(200.0, 260.0)),
                          timeline=Timeline(mouth="X", eyes="o", head_dx=[0.0], head_dy=[0.0], head_angle=[0.0],
                                            body_dx=[0.0], body_dy=[0.0]))
    frame = _presenter.placement(presenter, width, height)
    x, y, w, h = frame.box(Box(x=0, y=0, width=400, height=400))
    assert x % 2 == 0 and y % 2 == 0 and 0 <= x and x + w <= width + 1 and abs(y + h - height) <= 1  # on the floor
    fx, fy, fw, fh = frame.box(_presenter.face_box(presenter))
    px, py, pw, ph = _shots.picture_box(width, height, "right", [fx, fy, fw, fh])
    assert pw >= 0.25 * width and ph >= 0.12 * height
    assert px + pw <= fx or py + ph <= fy  # the picture's box never covers the face
    if height > width:  # portrait: the lower half, centred
        assert y >= height / 2 - 1 and abs((x + w / 2) - width / 2) <= 2
    elif width > height:  # landscape: at the right, 0.9 of the frame tall
        assert x + w >= width - 1 and abs(h - 0.9 * height) <= 2
    else:  # square: at the side, scaled to 0.75 of the frame
        assert x + w >= width - 1 and abs(h - 0.75 * height) <= 2


def test_a_compose_plugin_without_a_presenter_argument_still_runs_and_refuses_a_real_presenter():
    from pipeline.errors import NewsreelError
    from pipeline.runner import inputs_it_takes

    class Old:
        name = "old"

        def run(self, *, script, image, voice, captions, workdir, progress):
            raise AssertionError("not called")

    class New(Old):
        def run(self, *, script, image, voice, captions, presenter=None, workdir, progress):
            raise AssertionError("not called")

    nobody = Presenter.nobody(30, 1.0)
    given = {"script": 1, "image": 2, "voice": 3, "captions": 4, "presenter": nobody}
    assert inputs_it_takes(Old(), "compose", given) == {"script": 1, "image": 2, "voice": 3, "captions": 4}
    assert inputs_it_takes(New(), "compose", given) == given
    someone = Presenter.model_construct(kind="sprites")
    with pytest.raises(NewsreelError, match="compose provider 'old' does not take a presenter"):
        inputs_it_takes(Old(), "compose", {**given, "presenter": someone})
