"""pipeline.media on small media made with ffmpeg's lavfi sources: the binary, running with progress, probing, frames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline import media
from pipeline.errors import NewsreelError
from pipeline.media import FfmpegError, extract_frame, ffmpeg_exe, parse_probe_output, probe, run_ffmpeg


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """2 s of 320x240 H.264 at 30 fps with a 44.1 kHz mono AAC tone, and a title with a colon in it."""
    out = tmp_path_factory.mktemp("media") / "clip.mp4"
    run_ffmpeg([
        "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1",
        "-metadata", "title=Mars: a lake", "-metadata", "comment=made by a test", os.fspath(out),
    ])
    return out


def test_ffmpeg_exe_is_the_bundled_binary_and_honours_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv(media.FFMPEG_ENV, raising=False)
    exe = ffmpeg_exe()
    assert Path(exe).is_file() and os.access(exe, os.X_OK)

    monkeypatch.setenv(media.FFMPEG_ENV, exe)
    assert ffmpeg_exe() == exe

    monkeypatch.setenv(media.FFMPEG_ENV, os.fspath(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(NewsreelError) as err:
        ffmpeg_exe()
    assert media.FFMPEG_ENV in err.value.hint


def test_probe_reads_streams_duration_and_tags(clip):
    info = probe(clip)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    video, audio = info.video, info.audio
    assert (video.codec, video.width, video.height, video.pix_fmt) == ("h264", 320, 240, "yuv420p")
    assert video.fps == pytest.approx(30.0)
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 44100, 1)
    assert info.tags["title"] == "Mars: a lake"
    assert info.tags["comment"] == "made by a test"


def test_probe_wav_and_png(tmp_path):
    wav = tmp_path / "tone.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=22050:duration=1.5", "-ac", "1",
                "-c:a", "pcm_s16le", os.fspath(wav)])
    info = probe(wav)
    assert info.duration == pytest.approx(1.5, abs=0.02)
    assert info.video is None
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("pcm_s16le", 22050, 1)

    png = tmp_path / "still.png"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=red:s=200x100", "-frames:v", "1", "-update", "1", os.fspath(png)])
    still = probe(png)
    assert (still.video.codec, still.video.width, still.video.height) == ("png", 200, 100)
    assert still.audio is None


def test_probe_rejects_missing_and_non_media_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nothing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    with pytest.raises(FfmpegError) as err:
        probe(text)
    assert "Invalid data" in str(err.value)


def test_failing_command_raises_with_stderr_tail(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(FfmpegError) as err:
        run_ffmpeg(["-y", "-f", "lavfi", "-i", "color", "-vf", "nosuchfilter", "-t", "1", os.fspath(out)])
    assert err.value.returncode != 0
    assert any("nosuchfilter" in line for line in err.value.stderr_tail)
    assert len(err.value.stderr_tail) <= media.STDERR_TAIL_LINES
    assert "No such filter: 'nosuchfilter'" in err.value.summary()
    assert "@ 0x" not in err.value.summary()  # log prefixes with addresses are trimmed
    assert isinstance(err.value, RuntimeError) and not isinstance(err.value, NewsreelError)


def test_progress_is_parsed_from_the_progress_pipe(tmp_path):
    calls: list[tuple[float, str]] = []
    run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-t", "3", "-c:v", "libx264",
         os.fspath(tmp_path / "p.mp4")],
        progress=lambda f, m: calls.append((f, m)),
        total_seconds=3.0,
        total_frames=90,
    )
    assert calls, "no progress reported"
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert calls[-1][1].startswith("frame 90/90")
    assert "speed" in calls[-1][1]
    assert calls[-1][1].endswith("ETA 0:00")


def test_progress_callback_exception_stops_ffmpeg(tmp_path):
    def cancel(fraction: float, message: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-t", "600", "-c:v", "libx264",
                    os.fspath(tmp_path / "long.mp4")], progress=cancel, total_seconds=600)


def test_extract_frame_takes_the_frame_at_that_time(tmp_path):
    # Red for the first second, blue after it.
    video = tmp_path / "rb.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=red:s=64x48:r=30:d=2",
                "-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=blue:t=fill:enable='gte(t,1)'",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", os.fspath(video)])
    from PIL import Image

    early = Image.open(extract_frame(video, 0.5, tmp_path / "early.png")).convert("RGB")
    late = Image.open(extract_frame(video, 1.5, tmp_path / "late.jpg")).convert("RGB")
    assert early.size == (64, 48) and late.size == (64, 48)
    r, g, b = early.getpixel((32, 24))
    assert r > 200 and g < 60 and b < 60
    r, g, b = late.getpixel((32, 24))
    assert b > 200 and r < 60 and g < 60


def test_parse_probe_output_handles_multiline_tags_and_only_the_first_input():
    text = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':
  Metadata:
    title           : One: two
    comment         : first line
                    : second line
  Duration: 00:01:00.60, start: 0.000000, bitrate: 900 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1080x1920 [SAR 1:1 DAR 9:16], 800 kb/s, 29.97 fps, 29.97 tbr, 15360 tbn (default)
    Metadata:
      handler_name    : VideoHandler
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 160 kb/s (default)
Input #1, wav, from 'b.wav':
  Duration: 00:00:09.00, bitrate: 705 kb/s
  Stream #1:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 22050 Hz, mono, s16, 352 kb/s
"""
    info = parse_probe_output(text)
    assert info.duration == pytest.approx(60.6)
    assert info.tags == {"title": "One: two", "comment": "first line\nsecond line"}
    assert len(info.streams) == 2
    assert (info.video.width, info.video.height, info.video.fps) == (1080, 1920, pytest.approx(29.97))
    assert (info.audio.sample_rate, info.audio.channels) == (48000, 2)


def test_progress_message_has_an_eta_from_the_pace_so_far():
    calls: list[tuple[float, str]] = []
    media._report({"frame": "30", "speed": "2.0x", "progress": "continue"}, lambda f, m: calls.append((f, m)),
                  10.0, 300, elapsed=4.0)
    assert calls == [(0.1, "frame 30/300, speed 2.0x, ETA 0:36")]  # 10% in 4 s: 36 s to go
    assert media.format_eta(3725) == "1:02:05" and media.format_eta(-1) == "0:00"


def test_feed_writes_raw_frames_to_ffmpeg_stdin(tmp_path):
    import numpy as np

    values = [0, 60, 120, 180, 240]
    frames = (bytes([v]) * (64 * 48) for v in values)
    out = tmp_path / "gray.raw"
    run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "64x48", "-framerate", "10", "-i", "pipe:0",
                "-f", "rawvideo", "-pix_fmt", "gray", os.fspath(out)], feed=frames, loglevel="error")
    got = np.fromfile(out, dtype=np.uint8).reshape(-1, 48, 64)
    assert [int(f.mean()) for f in got] == values


def test_feed_error_stops_ffmpeg_and_is_raised(tmp_path):
    def frames():
        yield bytes(64 * 48)
        raise ValueError("frame source broke")

    with pytest.raises(ValueError, match="frame source broke"):
        run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "64x48", "-i", "pipe:0",
                    os.fspath(tmp_path / "x.mp4")], feed=frames())


def test_feed_to_an_ffmpeg_that_fails_reports_ffmpeg_error(tmp_path):
    endless = (bytes(64 * 48) for _ in iter(int, 1))
    with pytest.raises(FfmpegError) as err:
        run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "64x48", "-i", "pipe:0", "-vf", "nosuchfilter",
                    os.fspath(tmp_path / "x.mp4")], feed=endless)
    assert "nosuchfilter" in err.value.summary()


def test_encoders_and_nvenc_detection(monkeypatch):
    names = media.encoders()
    assert {"libx264", "aac"} <= names
    monkeypatch.setattr(media.shutil, "which", lambda name: None)  # no nvidia-smi: no NVENC, whatever ffmpeg has
    assert media.nvenc_available() is False
