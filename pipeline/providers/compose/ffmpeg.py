"""compose provider `ffmpeg`: background(s) + narration + captions + news graphics -> one H.264/AAC MP4.

Three motion engines:

- `warp` (default): every frame is one OpenCV affine warp of the background (sub-pixel, bilinear), converted to
  I420 in Python and streamed to ffmpeg's stdin as raw video while ffmpeg encodes the frames before it (see
  `_motion.py`). Smooth at any speed. The graphics that hold still (captions, lower third, ticker band, cards, the
  bug) are drawn by libass once per change and blended in Python (`_layers.py`); ffmpeg's `ass` filter draws only
  what moves (the ticker text, fades).
- `zoompan`: ffmpeg's zoompan on a 2x 4:4:4 canvas; no Python per frame, but positions step in half pixels.
- `perspective`: ffmpeg's perspective filter evaluated per frame; smooth, and the slowest.
  Both draw the bug with `overlay` and all the graphics with one `ass` filter, then blend in the provenance mark.

The graphics come from a style's templates (`_graphics.py`, templates/styles/). The sound is mastered while they
are prepared (`pipeline/audio.py`): the narration placed after any intro, optional music ducked under it, loudness
normalised to -16 LUFS with true peaks at most -1.5 dBTP; the measured values go to run.json. Encoder: libx264
(CRF), or h264_nvenc when an NVIDIA GPU and an ffmpeg with NVENC are there. Then a poster JPEG and a 320 px
thumbnail. Measured speeds: benchmarks/compose.py.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ... import assets
from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn, ServerPath, ServerPathOrName, operational
from ...stages.captions import Captions
from ...stages.compose import ComposeProvider, Video
from ...stages.image import Backgrounds
from ...stages.script import Script
from ...stages.voice import Narration
from . import _graphics, _layers, _motion
from ._graphics import (  # noqa: F401 - re-exported: the graphics API used by tests and other modules
    GraphicsLayout,
    Timing,
    ass_escape,
    ass_time,
    fit_title,
    graphics_layout,
    render_graphics,
    text_width,
    write_burn_ass,
)
from ._motion import PRESETS, ZOOM, ease, scene_motions  # noqa: F401

COMMENT = "AI-generated with newsreel; see provenance in run.json"
MAX_LONG_SIDE = 3840  # 4K UHD
MAX_SHORT_SIDE = 2160
THUMBNAIL_WIDTH = 320
THUMBNAIL_NAME = "thumbnail.jpg"
BUG_OPACITY = 0.85
NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p4",
                 "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7"}
# The warp engine converts RGB to YUV with BT.601 (limited range) coefficients, as swscale does by default for the
# ffmpeg engines; the stream says so, so players convert back with the same matrix.
COLOUR_TAGS = {"colorspace": "smpte170m", "color_primaries": "bt709", "color_trc": "bt709", "range": "tv"}

Engine = Literal["warp", "zoompan", "perspective"]


class FfmpegCompose(ComposeProvider):
    name = "ffmpeg"
    run_options = frozenset({"width", "height", "fps"})
    version = "4"
    summary = "smooth sub-pixel zoom/pan, news graphics (lower third, ticker, bug, label), captions, H.264 in one pass"
    needs = Needs(packages=("imageio_ffmpeg", "pysubs2", "jinja2", "numpy", "PIL"))

    class Params(Params):
        width: int = 1280
        height: int = 720
        fps: int = Field(30, ge=10, le=60)
        crf: int = Field(23, ge=0, le=51)
        preset: Literal[
            "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
        ] = "veryfast"
        encoder: Literal["auto", "libx264", "h264_nvenc"] = "auto"
        engine: Engine = "warp"
        motion: str = "auto"  # auto | a preset | presets separated by commas, cycled over the scenes
        crossfade: float = Field(0.5, ge=0.0, le=3.0)  # seconds
        tail_seconds: float = Field(0.6, ge=0.0, le=10.0)
        style: ServerPathOrName = "news"  # a shipped style's name, or the folder of a copy of one
        label: str = Field("AI-GENERATED", min_length=1, max_length=40)
        breaking: bool = False
        ticker: str | None = Field(None, max_length=500)
        bug: bool = True
        logo: ServerPath | None = None  # a PNG for the bug; None = newsreel's own (assets/logo.png)
        intro: bool = False
        intro_seconds: float = Field(2.5, ge=0.5, le=10.0)
        outro: bool = False
        outro_seconds: float = Field(3.0, ge=0.5, le=10.0)
        music: ServerPathOrName | None = None  # "default" (the bundled bed, assets/music) or an audio file
        music_gain_db: float = Field(-18.0, ge=-40.0, le=0.0)  # the music's loudness relative to the voice's
        duck: bool = True  # lower the music while the voice speaks
        loudness: float = Field(-16.0, ge=-31.0, le=-9.0)  # integrated LUFS of the finished soundtrack
        true_peak: float = Field(-1.5, ge=-9.0, le=0.0)  # dBTP ceiling
        threads: int | None = operational(None, ge=1, le=64)

        @field_validator("music")
        @classmethod
        def _music_named(cls, v: str | None) -> str | None:
            if v is None or not v.strip() or v.strip().lower() in ("none", "off"):
                return None
            return v.strip()

        @field_validator("label")
        @classmethod
        def _label_visible(cls, v: str) -> str:
            v = " ".join(v.split())
            if not v:
                raise ValueError("the label must have visible text")
            return v

        @field_validator("motion")
        @classmethod
        def _motion_known(cls, v: str) -> str:
            return ",".join(_motion.parse_motion(v))

        @field_validator("style")
        @classmethod
        def _style_known(cls, v: str) -> str:
            return _graphics.check_style_name(v)

        @field_validator("ticker")
        @classmethod
        def _ticker_text(cls, v: str | None) -> str | None:
            if v is None:
                return None
            v = _graphics.one_line(v)
            return v or None

        @model_validator(mode="after")
        def _frame_size(self):
            check_frame_size(self.width, self.height)
            return self

    @classmethod
    def param_choices(cls) -> dict[str, list[str]]:
        """The shipped styles, for forms (the web page's style menu)."""
        return {"style": _graphics.shipped_styles()}

    # ---------------------------------------------------------------------------------------------------------------

    def check(self) -> None:
        super().check()
        from ...media import ffmpeg_exe

        ffmpeg_exe()
        p = self.params
        if p.engine == "warp":
            import importlib.util

            if importlib.util.find_spec("cv2") is None:
                raise NewsreelError(
                    "compose engine 'warp' needs OpenCV",
                    "pip install opencv-python-headless, or --set compose.engine=zoompan",
                )
        _graphics.style_dir(p.style)
        if not assets.FONT_BOLD.is_file():
            raise NewsreelError(f"the font {assets.FONT_BOLD.name} is missing", "reinstall newsreel")
        if p.bug:
            _graphics.load_logo(p.logo)
        if p.music is not None:
            from ...audio import check_music

            check_music(p.music)
        if p.encoder == "h264_nvenc":
            resolve_encoder("h264_nvenc")

    def identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ffmpeg": _ffmpeg_version(), "encoder": resolve_encoder(self.params.encoder)}
        if self.params.engine == "warp":
            try:
                import cv2

                out["opencv"] = cv2.__version__
            except ImportError:
                pass
        return out

    def provenance(self) -> dict[str, Any]:
        """The visible label it draws over every frame: `label` is required and never blank, so it is always on. The
        invisible watermark is reported per run, in the video's notes."""
        return {"visible_label": {"visible": True, "text": self.params.label}}

    def key_params(self) -> dict[str, Any]:
        """The cache key holds the content of the style's templates and of the logo, not their paths: editing a
        user style or logo renders again, and the same files in another folder hit the cache."""
        key = super().key_params()
        p = self.params
        key["style"] = p.style if not _graphics.is_style_path(p.style) else "folder"
        key["style_sha256"] = _graphics.folder_digest(_graphics.style_dir(p.style))
        if p.logo is not None:
            key["logo"] = "file"
        if p.bug:
            key["logo_sha256"] = _file_sha256(_graphics.logo_path(p.logo))
        if p.music is not None:
            from ...audio import check_music, is_bundled_music

            path, _ = check_music(p.music)
            key["music"] = p.music if is_bundled_music(p.music) else "file"
            key["music_sha256"] = _file_sha256(path)
        return key

    def run(
        self,
        *,
        script: Script,
        image: Backgrounds,
        voice: Narration,
        captions: Captions,
        workdir: Path,
        progress: ProgressFn,
    ) -> Video:
        from ...audio import master_audio
        from ...media import FfmpegError, run_ffmpeg

        p = self.params
        check_frame_size(p.width, p.height)
        workdir = Path(workdir)
        for img in image.images:
            if not Path(img.path).is_file():
                raise NewsreelError(f"background image {img.path} is missing", "clear the cache entry and run again")
        if not Path(voice.path).is_file():
            raise NewsreelError(f"narration {voice.path} is missing", "clear the cache entry and run again")
        encoder = resolve_encoder(p.encoder)
        logo = _graphics.load_logo(p.logo) if p.bug else None
        if p.engine == "warp":
            self.check()

        plan = timeline(script, voice, len(image.images), p)
        graphics = workdir / ".graphics.ass"
        bug_png = workdir / ".bug.png"
        partial = workdir / ".video.partial.mp4"
        final = workdir / "video.mp4"
        poster = workdir / "poster.jpg"
        thumbnail = workdir / THUMBNAIL_NAME
        soundtrack = workdir / ".soundtrack.wav"
        mark, mark_neg = workdir / ".mark-add.yuv", workdir / ".mark-subtract.yuv"
        made = [graphics, bug_png, soundtrack, mark, mark_neg, partial, final, poster, thumbnail]
        # The soundtrack is mastered (pipeline/audio.py: narration after any intro, music ducked under it, -16 LUFS
        # and -1.5 dBTP; ffmpeg processes, about a second for a minute of sound) while the graphics are prepared.
        audio_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsreel-soundtrack")
        try:
            progress(0.0, "mastering the soundtrack, preparing graphics")
            soundtrack_job = audio_pool.submit(
                master_audio, voice.path, soundtrack, plan.duration, music=p.music, music_gain_db=p.music_gain_db,
                offset=plan.timing.main_start, duck=p.duck, target_lufs=p.loudness, true_peak=p.true_peak,
            )
            layout = write_burn_ass(
                captions.ass, graphics, title=script.title, label=p.label, duration=plan.duration,
                width=p.width, height=p.height, style=p.style, breaking=p.breaking, ticker=p.ticker,
                logo_aspect=(logo.width / logo.height) if logo is not None else None, timing=plan.timing,
            )
            overlay = None
            if logo is not None:
                _graphics.write_logo(logo, layout.bug["w"], layout.bug["h"], BUG_OPACITY, bug_png)
                overlay = Overlay(bug_png, layout.bug["x"], layout.bug["y"])
            audio = AudioTrack(soundtrack)
            images = [Path(i.path) for i in image.images]
            feed = None
            watermark = None
            if p.engine == "warp":
                progress(0.01, "drawing the static graphics")
                layers = split_graphics(graphics, plan, p, workdir)
                if overlay is not None:  # the bug is blended in Python too, under the graphics
                    from PIL import Image

                    with Image.open(overlay.path) as bug:
                        layers.under.append(_layers.sprite(bug, overlay.x, overlay.y))
                    overlay = None
                progress(0.015, "preparing backgrounds")
                # The invisible provenance mark goes into every final frame (after zoom and graphics), so it
                # only has to survive the encode: pipeline/video_watermark.py, 0.1 ms a 720p frame.
                from ... import video_watermark

                marker = video_watermark.Marker(p.width, p.height)
                watermark = video_watermark.METHOD
                feed = warp_frames(images, plan, p, layers, on_i420=marker.embed_i420)
                mastered = soundtrack_job.result()
                args = warp_command(plan=plan, params=p, encoder=encoder, overlay=overlay, ass_name=graphics.name,
                                    audio=audio, output_name=partial.name, title=script.title)
            else:
                from ... import video_watermark

                write_mark(video_watermark.Marker(p.width, p.height), mark, mark_neg)
                watermark = video_watermark.METHOD
                mastered = soundtrack_job.result()
                args = filter_command(images=images, plan=plan, params=p, encoder=encoder, overlay=overlay,
                                      ass_name=graphics.name, audio=audio, output_name=partial.name,
                                      title=script.title, mark=(mark.name, mark_neg.name))
            run_ffmpeg(
                args,
                progress=lambda f, m: progress(0.02 + 0.95 * f, m),
                total_seconds=plan.duration,
                total_frames=plan.frames,
                cwd=workdir,
                loglevel="error",
                feed=feed,
            )
            os.replace(partial, final)
            progress(0.98, "writing poster and thumbnail")
            write_poster(final, plan, poster, thumbnail)
        except FfmpegError as exc:
            audio_pool.shutdown(wait=True, cancel_futures=True)
            _remove(made)
            raise NewsreelError(
                f"ffmpeg could not render the video: {exc.summary(4)}",
                "check that the background images and narration are valid files (clear their cache entries to redo them)",
            ) from exc
        except BaseException:
            audio_pool.shutdown(wait=True, cancel_futures=True)
            _remove(made)
            raise
        audio_pool.shutdown(wait=True)
        _remove([graphics, bug_png, soundtrack, mark, mark_neg])
        progress(1.0, f"{plan.duration:.1f} s video, {p.width}x{p.height}, {encoder}")
        notes: dict[str, Any] = {"audio": mastered.notes()}
        if watermark:
            notes["watermark"] = watermark
        extra: dict[str, Any] = {"notes": notes}
        if "thumbnail" in Video.model_fields:
            extra["thumbnail"] = thumbnail
        return Video(path=final, duration=plan.duration, width=p.width, height=p.height, fps=p.fps, poster=poster,
                     **extra)


def check_frame_size(width: int, height: int) -> None:
    if width % 2 or height % 2:
        raise NewsreelError(f"frame size {width}x{height} has an odd side", "H.264 (yuv420p) needs even sizes, e.g. 1280x720")
    if width < 128 or height < 128:
        raise NewsreelError(f"frame size {width}x{height} is too small", "use at least 128 pixels a side, e.g. 1280x720")
    if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
        raise NewsreelError(f"frame size {width}x{height} is larger than 4K", "use at most 3840x2160 (or 2160x3840)")


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


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


@functools.lru_cache(maxsize=1)
def _ffmpeg_version() -> str:
    import subprocess

    from ...media import ffmpeg_exe

    exe = ffmpeg_exe()
    try:
        out = subprocess.run([exe, "-hide_banner", "-version"], check=False, capture_output=True, text=True, timeout=20).stdout
        first = out.splitlines()[0] if out else ""
    except (OSError, subprocess.SubprocessError):
        first = ""
    m = re.search(r"ffmpeg version (\S+)", first)
    return m.group(1) if m else Path(exe).name


# ---------------------------------------------------------------------------------------------------------------
# Timeline: which background shows when, and where the intro and outro go.


@dataclass(frozen=True)
class Plan:
    frames: int  # the whole video
    fps: int
    spans: list[tuple[int, int, int]]  # (image index, start frame, end frame), tiling 0..frames
    motions: list[str]  # per span
    fade: int  # crossfade frames
    timing: Timing

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def timeline(script: Script, voice: Narration, n_images: int, p: Any) -> Plan:
    fps = p.fps
    intro = round(p.intro_seconds * fps) if p.intro else 0
    body = max(1, round((voice.duration + p.tail_seconds) * fps))
    outro = round(p.outro_seconds * fps) if p.outro else 0
    frames = intro + body + outro
    fade = round(p.crossfade * fps)
    spans = scene_spans(script, voice, n_images, body, fps, min_len=max(2, 2 * fade))
    shifted = []
    for k, (i, s, e) in enumerate(spans):
        shifted.append((i, 0 if k == 0 else s + intro, frames if k == len(spans) - 1 else e + intro))
    timing = Timing(frames / fps, intro / fps, (intro + body) / fps, bool(intro), bool(outro))
    return Plan(frames, fps, shifted, scene_motions(p.motion, len(shifted)), fade, timing)


def scene_spans(script: Script, voice: Narration, n_images: int, frames: int, fps: int,
                min_len: int | None = None) -> list[tuple[int, int, int]]:
    """(image index, start frame, end frame) for each background shown, covering 0..frames without gaps.

    Scene i shows image i from the first word of its first sentence; the first starts at 0 and the last runs to the
    end (tail included). Scenes beyond the number of images are shown over the last image. A scene too short to
    crossfade (under 2 crossfades) keeps the previous image on screen; a short first scene gives its time to the next.
    """
    count = min(n_images, len(script.scenes))
    if count <= 1:
        return [(0, 0, frames)]
    starts = [0]
    for scene in script.scenes[1:count]:
        first = min(scene.sentences) if scene.sentences else None
        t = next((w.start for w in voice.words if first is not None and w.sentence >= first), None)
        if t is None:
            break
        starts.append(max(starts[-1], min(frames, round(t * fps))))
    if min_len is None:
        min_len = round(0.5 * fps) * 2
    spans: list[list[int]] = []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else frames
        if not spans:
            spans.append([i, s, e])
        elif e - s < min_len:
            spans[-1][2] = e  # too short: keep showing the previous image
        elif spans[-1][2] - spans[-1][1] < min_len:
            spans[-1] = [i, spans[-1][1], e]  # the first scene was too short: this image takes over its time
        else:
            spans.append([i, s, e])
    return [(i, s, e) for i, s, e in spans]


# ---------------------------------------------------------------------------------------------------------------
# The ffmpeg command.


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


def filter_escape(value: str) -> str:
    """Escape a value for a filter option inside a -filter_complex graph (both levels of ffmpeg's escaping)."""
    level1 = re.sub(r"([\\':])", r"\\\1", value)  # inside the filter's option list
    return re.sub(r"([\\'\[\],;])", r"\\\1", level1)  # inside the filter graph


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


def _output(params: Any, encoder: str, duration: float, title: str, output_name: str) -> list[str]:
    args = ["-map", "[v]", "-map", "[a]", "-t", f"{duration:.6f}"]
    if params.threads:
        args += ["-threads", str(params.threads)]
    if encoder == "h264_nvenc":
        args += ["-c:v", "h264_nvenc", "-preset", NVENC_PRESETS[params.preset], "-rc", "vbr", "-cq", str(params.crf),
                 "-b:v", "0"]
    else:
        args += ["-c:v", "libx264", "-preset", params.preset, "-crf", str(params.crf)]
    args += [
        "-pix_fmt", "yuv420p", "-profile:v", "high", "-r", str(params.fps),
        "-colorspace", COLOUR_TAGS["colorspace"], "-color_primaries", COLOUR_TAGS["color_primaries"],
        "-color_trc", COLOUR_TAGS["color_trc"], "-color_range", COLOUR_TAGS["range"],
        "-c:a", "aac", "-b:a", "160k",
        "-movflags", "+faststart",
        "-metadata", f"title={_graphics.one_line(title)}",
        "-metadata", f"comment={COMMENT}",
        "-f", "mp4", output_name,
    ]
    return args


def _threads(params: Any) -> list[str]:
    if params.threads:
        return ["-filter_threads", str(params.threads), "-filter_complex_threads", str(params.threads)]
    return []


def split_graphics(graphics: Path, plan: Plan, params: Any, workdir: Path) -> _layers.StaticLayers:
    """Move the static parts of the burned ASS into pre-rendered layers (see `_layers`); `graphics` is rewritten
    with what stays animated."""
    import pysubs2

    subs = pysubs2.load(os.fspath(graphics), encoding="utf-8", format_="ass")
    animated, static = _layers.split(subs, plan.fps)
    layers = _layers.render_states(subs, static, params.width, params.height, workdir)
    _layers.write_animated(subs, animated, graphics)
    return layers


def warp_frames(images: list[Path], plan: Plan, params: Any, layers: Any = None,
                on_i420: Any = None) -> _motion.WarpFrames:
    """The warp engine's frame source (on_i420: see `_motion.WarpFrames`)."""
    segs = _motion.segments(plan.spans, plan.motions, plan.fade)
    moving = {s.image for s in segs if s.motion != "none"}
    sources = {i: _motion.prepare(images[i], params.width, params.height, i in moving) for i in {s.image for s in segs}}
    return _motion.WarpFrames(sources, segs, plan.frames, params.width, params.height, params.fps, layers, on_i420)


def warp_command(*, plan: Plan, params: Any, encoder: str, overlay: Overlay | None, ass_name: str,
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
    return args + ["-filter_complex", ";".join(chains)] + _output(params, encoder, plan.duration, title, output_name)


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


def filter_command(*, images: list[Path], plan: Plan, params: Any, encoder: str, overlay: Overlay | None,
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
    return args + ["-filter_complex", ";".join(chains)] + _output(params, encoder, plan.duration, title, output_name)


def write_poster(video: Path, plan: Plan, poster: Path, thumbnail: Path) -> None:
    """A JPEG frame a third into the narration (the lower third and a caption are on screen), and a 320 px wide
    thumbnail of it."""
    from PIL import Image

    from ...media import extract_frame

    t = plan.timing.main_start + (plan.timing.main_end - plan.timing.main_start) / 3.0
    extract_frame(video, min(t, max(0.0, plan.duration - 1.0 / plan.fps)), poster, quality=3)
    with Image.open(poster) as im:
        height = max(2, round(im.height * THUMBNAIL_WIDTH / im.width))
        im.convert("RGB").resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS).save(
            thumbnail, format="JPEG", quality=85, optimize=True, progressive=True
        )
