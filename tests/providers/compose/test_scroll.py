"""The ticker's text drawn once and slid across the frames (`_scroll`): the same pictures as libass drawing it on
every frame, and the split that decides what stays with libass."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from pipeline.media import run_ffmpeg
from pipeline.providers.compose import _layers, _scroll
from pipeline.providers.compose.ffmpeg import FfmpegCompose
from tests.providers.compose.inputs import make_inputs

W, H = 640, 360
TICKER = "Markets close higher as tech rallies; Storm warning issued for the coast"
PARAMS = {"width": W, "height": H, "preset": "ultrafast", "crf": 1, "ticker": TICKER, "breaking": True, "bug": False}


def luma(root: Path, monkeypatch, *, scroll_in_python: bool) -> np.ndarray:
    """Every frame's luma of a 3 s render with the ticker, the ticker's text drawn once (ours) or by libass."""
    with monkeypatch.context() as m:
        if not scroll_in_python:
            m.setattr(_scroll, "parse", lambda *a, **k: None)  # no event is a scroll: libass draws the passes
        root.mkdir()
        script, image, voice, captions = make_inputs(root, 3.0, width=W, height=H)
        (root / "work").mkdir()
        video = FfmpegCompose(PARAMS).run(script=script, image=image, voice=voice, captions=captions,
                                          workdir=root / "work", progress=lambda f, msg: None)
    raw = root / "frames.gray"
    run_ffmpeg(["-y", "-i", os.fspath(video.path), "-f", "rawvideo", "-pix_fmt", "gray", os.fspath(raw)],
               loglevel="error")
    return np.fromfile(raw, np.uint8).reshape(-1, H, W).astype(np.int16)


def test_the_ticker_drawn_once_matches_libass_drawing_it_every_frame(tmp_path, monkeypatch):
    ours = luma(tmp_path / "ours", monkeypatch, scroll_in_python=True)
    libass = luma(tmp_path / "libass", monkeypatch, scroll_in_python=False)
    assert ours.shape == libass.shape and ours.shape[0] >= 90
    band = slice(H - 22, H)  # the ticker's band at this size
    moved = np.abs(libass[30, band] - libass[31, band]).mean()
    assert moved > 2  # the text does scroll: two frames differ
    diff = np.abs(ours - libass)
    # the same sub-pixel positions (libass's 1/8 px and its frame times): within the near-lossless encode's noise
    assert diff.max() <= 8, np.unravel_index(diff.argmax(), diff.shape)
    assert diff[:, band].mean() < 0.3


def ass_doc(events: list[tuple[int, int, int, str]]) -> pysubs2.SSAFile:
    doc = pysubs2.SSAFile()
    doc.info.update({"PlayResX": str(W), "PlayResY": str(H)})
    for start, end, layer, text in events:
        doc.events.append(pysubs2.SSAEvent(start=start, end=end, layer=layer, text=text))
    return doc


MOVE = r"{\an4\q2\clip(56,340,640,360)\move(62,350,-190,350,0,4000)}Markets"


def test_a_scroll_leaves_libass_except_under_lower_animation_and_keeps_its_motion_there():
    doc = ass_doc([
        (0, 4000, 19, MOVE),
        (0, 4000, 11, r"{\an7\pos(0,340)\p1}m 0 0 l 640 0 640 20 0 20{\p0}"),  # static, under it
        (1000, 1500, 12, r"{\an7\pos(24,293)\fad(300,0)}Title"),  # fades in on a lower layer: libass keeps the text
        (0, 4000, 30, r"{\an4\pos(31,28)}AI-GENERATED"),  # static over it
    ])
    animated, static, passes = _layers.split_scrolling(doc, 30)
    assert [(p.window, p.x1, p.x2) for p in passes] == [((0, 1000), 62.0, -190.0), ((1300, 4000), 62.0, -190.0)]
    given = [a for a in animated if a.layer == 19]
    assert [(a.start, a.end) for a in given] == [(1000, 1300)]  # while the title fades in
    # the stretch libass draws starts where the pass is at 1 s and moves as it did
    assert r"\move(-1.00,350,-19.90,350,0,300)" in given[0].text and r"\clip(56,340,640,360)" in given[0].text
    # the label is no longer kept in libass by the ticker, only while the title (a lower layer) fades in
    assert sorted((p.layer, p.start, p.end) for p in static if p.layer == 30) == [(30, 0, 1000), (30, 1300, 4000)]


@pytest.mark.parametrize("text", [
    r"{\an4\move(62,350,-190,350,0,4000)}no clip",
    r"{\an4\clip(56,340,640,360)\move(62,350,-190,340,0,4000)}moves up too",
    r"{\an4\clip(56,340,640,360)\move(62,350,-190,350,0,3000)}stops early",
    r"{\an4\clip(56,340,640,360)\move(62,350,-190,350,0,4000)\t(\frz30)}turns",
    r"{\an4\clip(56,340,640,360)\move(62,350,-190,350,0,4000)}two {\b1}blocks",
])
def test_only_plain_horizontal_scrolls_in_a_clip_leave_libass(text):
    assert _scroll.parse(text, 0, 4000, 19, 0) is None
    assert _scroll.parse(MOVE, 0, 4000, 19, 0) is not None
