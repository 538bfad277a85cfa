"""The ffmpeg command line of the compose provider `ffmpeg`, for each motion engine: the inputs, the filter graph
(backgrounds, crossfades, the bug, the ASS graphics and captions, the provenance mark, the padded soundtrack) and
the encoder's output arguments. The encoder is libx264 (CRF), or h264_nvenc when this machine has a working NVENC
(`resolve_encoder`). Every function returns an argument list; `ffmpeg.py` runs it with cwd = the work folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import assets
from ...errors import NewsreelError
from . import _motion
from ._ass_text import one_line
from ._motion import ZOOM
from .shared import COLOUR_TAGS, COMMENT, filter_escape
from .timeline import Timeline

NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p4",
                 "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7"}


def resolve_encoder(choice: str) -> str:
    """auto -> h264_nvenc when this machine has a working NVENC, else libx264."""
    from ...media import nvenc_available

    if choice == "libx264":
        return "libx264"
    if choice == "h264_nvenc":
        if not nvenc_available():
            raise NewsreelError(
                "encoder h264_nvenc is not available here (no NVIDIA GPU, driver, or an ffmpeg without NVENC)",
                "use --set compose.encoder=auto or libx264",
            )
        return "h264_nvenc"
    return "h264_nvenc" if nvenc_available() else "libx264"


@dataclass(frozen=True)
class AudioTrack:
    """The sound of the video: the mastered soundtrack (already the video's length), padded with silence to the
    end should it be shorter."""

    path: Path


@dataclass(frozen=True)
class Overlay:
    """A PNG (with alpha) drawn at x, y on every frame: the channel bug."""

    path: Path
    x: int
    y: int


def _finish(video: str, *, overlay_index: int | None, overlay: Overlay | None, ass_name: str, audio_index: int,
            audio: AudioTrack, duration: float, mark_index: int | None = None) -> list[str]:
    """The chains after the background: colour tags, the bug, the ASS graphics and captions, the provenance mark
    (`mark_index`: the input holding it, see `write_mark`); and the audio."""
    tags = ":".join(f"{k}={v}" for k, v in COLOUR_TAGS.items())
    chains = [f"[{video}]setparams={tags}[bg]"]
    last = "bg"
    if overlay is not None and overlay_index is not None:
        chains.append(f"[{last}][{overlay_index}:v]overlay=x={overlay.x}:y={overlay.y}:format=yuv420:eof_action=repeat[bug]")
        last = "bug"
    fonts = filter_escape(os.fspath(assets.FONTS_DIR))
    if mark_index is None:
        chains.append(f"[{last}]ass=filename={filter_escape(ass_name)}:fontsdir={fonts}:shaping=complex[v]")
    else:  # the mark goes on last, into the final picture: + its positive frame, - its negative one (each a
        # single frame, which blend repeats for every frame of the video)
        chains.append(f"[{last}]ass=filename={filter_escape(ass_name)}:fontsdir={fonts}:shaping=complex[drawn]")
        chains.append(f"[drawn][{mark_index}:v]blend=all_mode=addition:eof_action=repeat[marked]")
        chains.append(f"[marked][{mark_index + 1}:v]blend=all_mode=subtract:eof_action=repeat[v]")
    chains.append(f"[{audio_index}:a]aresample=48000,aformat=channel_layouts=stereo,apad=whole_dur={duration:.6f}[a]")
    return chains


def output_args(params: Any, encoder: str, duration: float, title: str, output_name: str) -> list[str]:
    args = ["-map", "[v]", "-map", "[a]", "-t", f"{duration:.6f}"]
    if params.threads:
        args += ["-threads", str(params.threads)]
    if encoder == "h264_nvenc":
        args += ["-c:v", "h264_nvenc", "-preset", NVENC_PRESETS[params.preset], "-rc", "vbr", "-cq", str(params.crf),
                 "-b:v", "0"]
    else:
        args += ["-c:v", "libx264", *x264_options(params)]
    args += [
        "-pix_fmt", "yuv420p", "-profile:v", "high", "-r", str(params.fps),
        "-colorspace", COLOUR_TAGS["colorspace"], "-color_primaries", COLOUR_TAGS["color_primaries"],
        "-color_trc", COLOUR_TAGS["color_trc"], "-color_range", COLOUR_TAGS["range"],
        "-c:a", "aac", "-b:a", "160k",
        "-movflags", "+faststart",
        "-metadata", f"title={one_line(title)}",
        "-metadata", f"comment={COMMENT}",
        "-f", "mp4", output_name,
    ]
    return args


# x264 options the compose provider adds to a preset unless `x264` says otherwise. superfast turns off the
# macroblock tree (x264's rate control that spends bits where later frames reuse them) and the lookahead it needs;
# on our slowly moving pictures that costs little time and saves most of the bits: measured on the same drawn
# frames (benchmarks/encoder.py, BENCHMARKS.md), superfast with them uses ~0.8x the CPU of veryfast at the same
# size and SSIM, where stock superfast needs 3.8x the bytes at the same CRF.
TUNED = {"superfast": "mbtree=1:rc-lookahead=10"}


def x264_options(params: Any) -> list[str]:
    """libx264's preset, CRF and the x264 options on top of the preset: `params.x264`, or TUNED's when None."""
    out = ["-preset", params.preset, "-crf", str(params.crf)]
    extra = TUNED.get(params.preset, "") if params.x264 is None else params.x264
    if extra:
        out += ["-x264-params", extra]
    return out


def _threads(params: Any) -> list[str]:
    if params.threads:
        return ["-filter_threads", str(params.threads), "-filter_complex_threads", str(params.threads)]
    return []


def warp_command(*, plan: Timeline, params: Any, encoder: str, overlay: Overlay | None, ass_name: str,
                 audio: AudioTrack, output_name: str, title: str) -> list[str]:
    """ffmpeg reads raw I420 frames on stdin; run with cwd = the work folder."""
    w, h, fps = params.width, params.height, params.fps
    args = ["-y", *_threads(params),
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-framerate", str(fps), "-i", "pipe:0",
            "-i", os.fspath(audio.path)]
    overlay_index = None
    if overlay is not None:
        args += ["-i", os.fspath(overlay.path)]
        overlay_index = 2
    chains = _finish("0:v", overlay_index=overlay_index, overlay=overlay, ass_name=ass_name, audio_index=1,
                     audio=audio, duration=plan.duration)
    output = output_args(params, encoder, plan.duration, title, output_name)
    return args + ["-filter_complex", ";".join(chains)] + output


def motion_exprs(motion: str, frames: int, width_var: str, height_var: str) -> tuple[str, str, str]:
    """ffmpeg expressions of the view for `motion` over `frames` frames of progress `on`: (zoom, window left, window
    top), in pixels of a source width_var x height_var; the same ease as the warp engine. Commas are inside quotes."""
    last = max(1, frames - 1)
    p = f"min(on/{last},1)"
    e = f"({1 - _motion.EASE_MIX}*{p}+{_motion.EASE_MIX}*(0.5-0.5*cos(PI*{p})))"
    top = 1.0 + ZOOM
    W, H = width_var, height_var
    if motion == "push-in":
        z = f"pow({top},{e})"
    elif motion == "pull-out":
        z = f"pow({top},1-{e})"
    elif motion in ("pan-left", "pan-right"):
        z = f"{top}"
    else:
        return "1", "0", "0"
    cy = f"({H}-{H}/{z})/2"
    if motion == "pan-left":
        return z, f"({W}-{W}/{z})*(1-{e})", cy
    if motion == "pan-right":
        return z, f"({W}-{W}/{z})*{e}", cy
    return z, f"({W}-{W}/{z})/2", cy


def write_mark(marker: Any, add: Path, subtract: Path) -> None:
    """The provenance mark as two raw I420 frames for the filter engines: the levels to add to the luma and the
    levels to take away (chroma 0: unchanged). Raw, not PNG: no range conversion touches the levels."""
    import numpy as np

    w, h = marker.width, marker.height
    pattern = marker.pattern_luma()
    for path, luma in ((add, pattern.clip(0, 255)), (subtract, (-pattern).clip(0, 255))):
        frame = np.zeros((h * 3 // 2, w), np.uint8)
        frame[:h] = luma
        path.write_bytes(frame.tobytes())


def filter_command(*, images: list[Path], plan: Timeline, params: Any, encoder: str, overlay: Overlay | None,
                   ass_name: str, audio: AudioTrack, output_name: str, title: str,
                   mark: tuple[str, str] | None = None) -> list[str]:
    """The `zoompan` and `perspective` engines: everything in one ffmpeg filter graph. `mark`: the two raw frames
    of `write_mark` (file names in the work folder), blended into every final frame."""
    w, h, fps = params.width, params.height, params.fps
    segs = _motion.segments(plan.spans, plan.motions, plan.fade)
    args: list[str] = ["-y", *_threads(params)]
    chains: list[str] = []
    for k, seg in enumerate(segs):
        args += ["-i", os.fspath(images[seg.image])]
        if params.engine == "zoompan":
            cw, ch = 2 * w, 2 * h  # whole-pixel steps on this canvas are half-pixel steps in the frame
            z, x, y = motion_exprs(seg.motion, seg.length, "iw", "ih")
            chains.append(
                f"[{k}:v]scale={cw}:{ch}:force_original_aspect_ratio=increase:flags=lanczos,crop={cw}:{ch},setsar=1,"
                f"format=yuv444p,zoompan=z='{z}':x='{x}':y='{y}':d={seg.length}:s={w}x{h}:fps={fps},format=yuv420p"
                f"[s{k}]"
            )
        else:
            z, x, y = motion_exprs(seg.motion, seg.length, "W", "H")
            x1, y1 = f"({x}+W/{z})", f"({y}+H/{z})"
            corners = f"x0='{x}':y0='{y}':x1='{x1}':y1='{y}':x2='{x}':y2='{y1}':x3='{x1}':y3='{y1}'"
            chains.append(
                f"[{k}:v]scale={w}:{h}:force_original_aspect_ratio=increase:flags=lanczos,crop={w}:{h},setsar=1,"
                f"format=yuv420p,loop=loop={seg.length - 1}:size=1,setpts=N/({fps}*TB),"
                f"perspective={corners}:interpolation=linear:eval=frame[s{k}]"
            )
    audio_index = len(segs)
    args += ["-i", os.fspath(audio.path)]
    overlay_index = None
    if overlay is not None:
        args += ["-i", os.fspath(overlay.path)]
        overlay_index = audio_index + 1
    mark_index = None
    if mark is not None:
        mark_index = audio_index + (2 if overlay is not None else 1)
        for name in mark:
            args += ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-i", name]
    last = "s0"
    if plan.fade == 0 and len(segs) > 1:  # cuts, no crossfades
        chains.append("".join(f"[s{k}]" for k in range(len(segs))) + f"concat=n={len(segs)}:v=1:a=0[cut]")
        last = "cut"
    for k in range(1, len(segs) if plan.fade else 1):
        offset = segs[k].start / fps
        out = f"x{k}"
        chains.append(f"[{last}][s{k}]xfade=transition=fade:duration={plan.fade / fps:.6f}:offset={offset:.6f}[{out}]")
        last = out
    chains += _finish(last, overlay_index=overlay_index, overlay=overlay, ass_name=ass_name, audio_index=audio_index,
                      audio=audio, duration=plan.duration, mark_index=mark_index)
    output = output_args(params, encoder, plan.duration, title, output_name)
    return args + ["-filter_complex", ";".join(chains)] + output
