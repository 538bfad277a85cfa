"""The video watermark: a fixed pattern, exact +-1 embedding, detection on frames and through H.264 re-encodes."""

from __future__ import annotations

import hashlib
import os
import statistics
import time

import numpy as np
import pytest

from pipeline import video_watermark as vw
from pipeline.media import run_ffmpeg

W, H = 1280, 720


def background(seed: int = 0, size=(W, H)) -> np.ndarray:
    """A smooth picture with some texture and a few hard edges (a stand-in for a zoomed background)."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    img = np.zeros((h, w, 3), np.float32)
    for scale, weight in ((160, 1.0), (40, 0.5), (10, 0.2)):
        small = rng.random((max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        img += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = (img - img.min()) / (img.max() - img.min()) * 200 + 20
    img = img.astype(np.uint8)
    cv2.rectangle(img, (40, 600), (w - 40, 690), (20, 20, 30), -1)
    return img


def zoom_frames(img: np.ndarray, count: int):
    """A slow push-in (4 %) over `img`, as compose moves a background."""
    import cv2

    for i in range(count):
        z = 1.0 + 0.04 * i / max(1, count - 1)
        m = cv2.getRotationMatrix2D((W / 2, H / 2), 0.0, z)
        yield cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def encode(frames, path, crf=23):
    run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", "30", "-i", "pipe:0",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p", os.fspath(path)],
               feed=(np.ascontiguousarray(f).tobytes() for f in frames), loglevel="error")
    return path


def reencode(src, dst, crf=28, scale=None):
    args = ["-y", "-i", os.fspath(src)] + (["-vf", f"scale={scale}"] if scale else [])
    run_ffmpeg([*args, "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p", os.fspath(dst)], loglevel="error")
    return dst


def test_the_pattern_never_changes_without_a_new_method_name():
    # Videos marked today must decode forever: the pattern comes from SHA-256, not from numpy's generators.
    _, bit_of, _, pattern = vw._grid(160, 90)
    digest = hashlib.sha256(pattern.astype(np.int8).tobytes() + bit_of.astype(np.int8).tobytes()).hexdigest()
    assert vw.METHOD == "newsreel-luma-grid-v1"
    assert digest == PATTERN_SHA256, "the pattern changed: bump METHOD and keep detecting the old one"


PATTERN_SHA256 = "8486e0c6ae6dffb2b20ab365e8319b4ff58e2406e7ccd2f00227d3d74a6abe41"  # the pattern of v1, 16:9


def test_a_quarter_of_the_cells_carry_the_payload_evenly():
    chips, bit_of, signs, _ = vw._grid(160, 90)
    active = chips != 0
    assert active.sum() == round(160 * 90 * vw.DENSITY) == 3600
    per_bit = np.bincount(bit_of[active], minlength=64)
    assert per_bit.min() >= 56 and per_bit.max() <= 57
    assert np.packbits(signs > 0).tobytes() == b"newsreel"
    # Spread over the whole frame: every quarter of the frame holds about a quarter of the marked cells.
    quads = [active[:45, :80].sum(), active[:45, 80:].sum(), active[45:, :80].sum(), active[45:, 80:].sum()]
    assert min(quads) > 800 and max(quads) < 1000


def test_grid_follows_the_aspect_ratio_not_the_size():
    assert vw.grid_size(1280, 720) == vw.grid_size(1920, 1080) == vw.grid_size(854, 480) == (160, 90)
    assert vw.grid_size(1080, 1920) == (90, 160)
    assert vw.grid_size(1080, 1080) == (90, 90)


def test_embed_adds_exactly_plus_or_minus_one_on_marked_cells_and_saturates():
    marker = vw.Marker(W, H)
    frame = np.full((H, W, 3), 128, np.uint8)
    frame[:, :8] = 0  # the first column of cells is black: -1 must saturate at 0, not wrap to 255
    frame[:, 8:16] = 255
    marked = marker.embed(frame, 0)
    diff = marked.astype(int) - frame.astype(int)
    assert set(np.unique(diff)) <= {-1, 0, 1}
    assert (diff[..., 0] == diff[..., 1]).all() and (diff[..., 1] == diff[..., 2]).all()  # a luma-only change
    expected = np.repeat(np.repeat(vw._grid(160, 90)[3], 8, axis=0), 8, axis=1)  # 8x8-pixel cells at 720p
    middle = (slice(None), slice(16, None))
    assert (diff[..., 0][middle] == expected[middle]).all()
    assert marked[:, :8].min() == 0 and marked[:, 8:16].max() == 255
    assert (frame[:, 20] == 128).all()  # the input is left alone unless out= is given


def test_embed_i420_marks_only_the_luma_plane():
    marker = vw.Marker(W, H)
    i420 = np.full((H * 3 // 2, W), 100, np.uint8)
    marker.embed_i420(memoryview(i420).cast("B"), 7)
    luma = i420[:H].astype(int) - 100
    assert (luma == marker.pattern_luma()).all()
    assert (i420[H:] == 100).all()


def test_detects_the_payload_in_frames_at_any_size():
    marker = vw.Marker(W, H)
    img = background(1)
    marked = marker.embed(img, 0)
    found = vw.detect_frames([marked])
    assert found.found and found.score > 20 and found.bits_matched >= 60
    assert found.payload == b"newsreel"
    ok, score = found  # unpacks as (found, score)
    assert ok and score == found.score
    import cv2

    small = cv2.resize(marked, (854, 480), interpolation=cv2.INTER_AREA)
    assert vw.detect_frames([small]).found
    clean = vw.detect_frames([img, background(2)])
    assert not clean.found and abs(clean.score) < 4


def test_unmarked_scores_are_standard_normal():
    # The statistic is calibrated: on unmarked pictures z is N(0, 1), so z >= 6 is a one-in-a-billion false alarm.
    scores = [vw.detect_frames([background(seed, (640, 360))]).score for seed in range(40)]
    assert abs(statistics.fmean(scores)) < 0.6
    assert 0.6 < statistics.pstdev(scores) < 1.5
    assert max(abs(s) for s in scores) < vw.FOUND_Z


def test_embed_costs_little_per_720p_frame():
    cost = vw.embed_cost_ms(W, H, frames=60)
    assert cost["rgb_ms"] < 15 and cost["luma_ms"] < 5, cost


def test_detect_video_never_raises_on_bad_files(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    d = vw.detect_video(text)
    assert not d.found and d.frames == 0 and d.error
    d = vw.detect_video(tmp_path / "missing.mp4")
    assert not d.found and d.error


@pytest.mark.slow
def test_mark_survives_h264_and_a_crf_28_reencode_and_unmarked_stays_clean(tmp_path):
    marker = vw.Marker(W, H)
    img = background(3)
    t0 = time.perf_counter()
    marked = encode((marker.embed(f, n) for n, f in enumerate(zoom_frames(img, 45))), tmp_path / "m.mp4")
    plain = encode(zoom_frames(img, 45), tmp_path / "u.mp4")
    assert time.perf_counter() - t0 < 60
    first = vw.detect_video(marked)
    assert first.found and first.score > 12 and first.bits_matched >= 58, first
    again = vw.detect_video(reencode(marked, tmp_path / "m28.mp4"))
    assert again.found and again.score > 10, again
    smaller = vw.detect_video(reencode(marked, tmp_path / "m480.mp4", scale="854:480"))
    assert smaller.found, smaller
    for clean in (plain, reencode(plain, tmp_path / "u28.mp4")):
        d = vw.detect_video(clean)
        assert not d.found and abs(d.score) < 4, d
