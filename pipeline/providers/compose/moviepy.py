"""compose provider `moviepy`: the same video as `ffmpeg`, put together as MoviePy clips, for writing effects in Python.

Pick it to change how the video looks with a few lines of Python: every element is a MoviePy clip, composited by
one `CompositeVideoClip` (`MoviepyCompose.clips`), so an effect is a clip transform, a position function or one
more clip. A provider of your own can start from it:

    from moviepy import vfx

    class PunchyCompose(MoviepyCompose):
        name = "punchy"

        def clips(self, script, image, captions, plan, workdir):
            video = super().clips(script, image, captions, plan, workdir)
            return video.with_effects([vfx.LumContrast(contrast=0.3)])

registered as `compose.punchy` in your package's `newsreel.providers` entry points. It makes the same video as the
`ffmpeg` provider from the same inputs, and is slower (about 5x at 720p: MoviePy blends every layer of every frame
with Pillow; benchmarks/compose.py measures it):

- backgrounds: one clip per scene, each a slow camera move (the `ffmpeg` provider's presets and ease, `_motion.py`),
  drawn per frame by an OpenCV affine warp (sub-pixel), crossfading into the next scene;
- graphics and captions: the `ffmpeg` provider's burned ASS (a style's templates merged with the captions,
  `_graphics.write_burn_ass`), each event drawn once at rest by libass into an RGBA picture (`draw_sprites`) and
  shown as an ImageClip over its time, with the fade-in, fade-out and slide its ASS tags ask for. The
  AI-GENERATED label is one of them, on screen from the first frame to the last; the channel bug is one more; the
  reveal card (`reveal=`, the style's reveal.ass.j2 laid out by `_reveal.py`) is drawn the same way at the end;
- sound: the soundtrack mastered by `pipeline/audio.py` (-16 LUFS, -1.5 dBTP, optional music ducked under the voice);
- the invisible provenance mark (`pipeline/video_watermark.py`) added to every finished frame, as the `ffmpeg`
  provider's warp engine does, just before the frame goes to the encoder (libx264, yuv420p, AAC, faststart).

What it does not do (the `ffmpeg` provider does): the scrolling ticker, karaoke highlighting (karaoke cues show as
plain captions) and animation tags other than \\fad and \\move in a user's style (such events are drawn at rest).
moviepy is imported inside `run`; install it with `pip install 'newsreel[moviepy]'`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ... import assets
from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn, ServerPath, ServerPathOrName, operational
from ...stages.captions import Captions
from ...stages.compose import ComposeProvider, Reveal, Video
from ...stages.image import Backgrounds
from ...stages.presenter import Presenter
from ...stages.script import Script
from ...stages.voice import Narration
from . import _graphics, _motion, _reveal, _styles
from ._ass_text import one_line
from .shared import (
    BUG_OPACITY,
    COLOUR_TAGS,
    COMMENT,
    THUMBNAIL_NAME,
    check_frame_size,
    check_graphics_and_music,
    check_inputs_exist,
    content_key_params,
    ffmpeg_version,
    filter_escape,
    remove_files,
    write_poster,
)
from .timeline import Timeline, timeline

_FAD = re.compile(r"\\fad\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_MOVE = re.compile(r"\\move\(([^)]*)\)")
SPRITE_FILES = (".sprites.ass", ".sprites-black.rgb", ".sprites-white.rgb")  # scratch files of draw_sprites


class MoviepyCompose(ComposeProvider):
    name = "moviepy"
    version = "1"
    summary = ("MoviePy clips to add Python effects to: zoom/pan, captions, graphics, label; no ticker; "
               "~5x slower than ffmpeg")
    needs = Needs(packages=("moviepy", "cv2", "imageio_ffmpeg", "pysubs2", "jinja2", "numpy", "PIL"), extra="moviepy")
    run_options = frozenset({"width", "height", "fps"})

    # Deliberately repeated from the `ffmpeg` provider (less its ticker, encoder and engine), validators included:
    # each provider's parameters read in its own file, and one can change without the other.
    class Params(Params):
        width: int = 1280
        height: int = 720
        fps: int = Field(30, ge=10, le=60)
        crf: int = Field(23, ge=0, le=51)
        preset: Literal[
            "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
        ] = "veryfast"
        motion: str = "auto"  # auto | a preset | presets separated by commas, cycled over the scenes
        crossfade: float = Field(0.5, ge=0.0, le=3.0)  # seconds
        tail_seconds: float = Field(0.6, ge=0.0, le=10.0)
        style: ServerPathOrName = "news"  # a shipped style's name, or the folder of a copy of one
        label: str = Field("AI-GENERATED", min_length=1, max_length=40)
        breaking: bool = False
        bug: bool = True
        logo: ServerPath | None = None  # a PNG for the bug; None = newsreel's own (assets/logo.png)
        intro: bool = False
        intro_seconds: float = Field(2.5, ge=0.5, le=10.0)
        outro: bool = False
        outro_seconds: float = Field(3.0, ge=0.5, le=10.0)
        music: ServerPathOrName | None = None  # "default" (the bundled bed, assets/music) or an audio file
        music_gain_db: float = Field(-18.0, ge=-40.0, le=0.0)
        duck: bool = True
        loudness: float = Field(-16.0, ge=-31.0, le=-9.0)
        true_peak: float = Field(-1.5, ge=-9.0, le=0.0)
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
            return _styles.check_style_name(v)

        @model_validator(mode="after")
        def _frame_size(self):
            check_frame_size(self.width, self.height)
            return self

    def provenance(self) -> dict[str, Any]:
        # The label is drawn in capitals (the layout upper-cases it), on every frame: there is no way to turn it off.
        return {"visible_label": {"visible": True, "text": self.params.label.upper()}}

    def check(self) -> None:
        super().check()
        from ...media import ffmpeg_exe

        ffmpeg_exe()
        check_graphics_and_music(self.params)

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        out: dict[str, Any] = {"ffmpeg": ffmpeg_version(), "encoder": "libx264"}
        for package in ("moviepy", "opencv-python-headless"):
            try:
                out[package] = version(package)
            except PackageNotFoundError:
                pass
        return out

    def key_params(self) -> dict[str, Any]:
        """As the `ffmpeg` provider's: the content of the style, logo and music files, not their paths."""
        return {**super().key_params(), **content_key_params(self.params)}

    # ---------------------------------------------------------------------------------------------------------------

    def run(
        self,
        *,
        script: Script,
        image: Backgrounds,
        voice: Narration,
        captions: Captions,
        presenter: Presenter | None = None,
        reveal: Reveal | None = None,
        workdir: Path,
        progress: ProgressFn,
    ) -> Video:
        from ... import video_watermark
        from ...audio import master_audio
        from ...media import FfmpegError, run_ffmpeg

        p = self.params
        workdir = Path(workdir)
        check_inputs_exist(image, voice)
        self.check()
        plan = timeline(script, voice, len(image.images), p, _reveal.card_seconds(reveal) if reveal else 0.0)
        burned, bug_png, soundtrack = workdir / ".graphics.ass", workdir / ".bug.png", workdir / ".soundtrack.wav"
        partial, final = workdir / ".video.partial.mp4", workdir / "video.mp4"
        poster, thumbnail = workdir / "poster.jpg", workdir / THUMBNAIL_NAME
        scratch = [burned, bug_png, soundtrack, *(workdir / name for name in SPRITE_FILES)]
        try:
            progress(0.0, "mastering the soundtrack")
            mastered = master_audio(
                voice.path, soundtrack, plan.duration, music=p.music, music_gain_db=p.music_gain_db,
                offset=plan.timing.main_start, duck=p.duck, target_lufs=p.loudness, true_peak=p.true_peak,
            )
            progress(0.03, "drawing the graphics and captions")
            self._reveal_notes = None  # set by clips() when it lays the card out
            # (only with a card: a subclass's clips() written before the card existed keeps working without one)
            video = self.clips(script, image, captions, plan, workdir, **({"reveal": reveal} if reveal else {}))
            progress(0.05, "composing with MoviePy")
            run_ffmpeg(
                encode_command(p, plan, soundtrack.name, partial.name, script.title),
                progress=lambda f, m: progress(0.05 + 0.92 * f, m),
                total_seconds=plan.duration,
                total_frames=plan.frames,
                cwd=workdir,
                loglevel="error",
                feed=marked_i420(video, plan.frames, p.fps),
            )
            os.replace(partial, final)
            progress(0.98, "writing poster and thumbnail")
            write_poster(final, plan, poster, thumbnail)
        except FfmpegError as exc:
            remove_files([*scratch, partial, final, poster, thumbnail])
            raise NewsreelError(
                f"ffmpeg could not render the video: {exc.summary(4)}",
                "check that the background images and narration are valid files "
                "(clear their cache entries to redo them)",
            ) from exc
        except BaseException:
            remove_files([*scratch, partial, final, poster, thumbnail])
            raise
        remove_files(scratch)
        progress(1.0, f"{plan.duration:.1f} s video, {p.width}x{p.height}, MoviePy + libx264")
        return Video(path=final, duration=plan.duration, width=p.width, height=p.height, fps=p.fps, poster=poster,
                     thumbnail=thumbnail, notes=_notes(mastered.notes(), presenter, self._reveal_notes, reveal))

    def clips(self, script: Script, image: Backgrounds, captions: Captions, plan: Timeline, workdir: Path,
              reveal: Reveal | None = None):
        """The whole picture as one MoviePy CompositeVideoClip: the place to add effects of your own. `reveal`: the
        reveal card, drawn (as the other graphics) from the style's reveal.ass.j2 over the last seconds."""
        from moviepy import CompositeVideoClip, ImageClip, vfx

        p = self.params
        logo = _styles.load_logo(p.logo) if p.bug else None
        burned = workdir / ".graphics.ass"
        layout = _graphics.write_burn_ass(
            captions.ass, burned, title=script.title, label=p.label, duration=plan.duration, width=p.width,
            height=p.height, style=p.style, breaking=p.breaking, ticker=None, timing=plan.timing,
            logo_aspect=(logo.width / logo.height) if logo is not None else None, reveal=reveal,
        )
        self._reveal_notes = _reveal.notes(layout.reveal) if layout.reveal else None
        layers = background_clips([Path(i.path) for i in image.images], plan, p.width, p.height)
        if logo is not None:  # the channel bug, under the graphics and captions as in the `ffmpeg` provider
            bug = _styles.write_logo(logo, layout.bug["w"], layout.bug["h"], BUG_OPACITY, workdir / ".bug.png")
            position = (layout.bug["x"], layout.bug["y"])
            layers.append(ImageClip(_rgba(bug), duration=plan.duration).with_position(position))
        for sprite in draw_sprites(burned, p.width, p.height, workdir):
            start, end = sprite.start, min(sprite.end, plan.duration)
            if end <= start:
                continue
            clip = ImageClip(sprite.rgba).with_start(start).with_duration(end - start)
            clip = clip.with_position(sprite.position)
            fades = [vfx.CrossFadeIn(sprite.fade_in)] if sprite.fade_in else []
            fades += [vfx.CrossFadeOut(sprite.fade_out)] if sprite.fade_out and end == sprite.end else []
            layers.append(clip.with_effects(fades) if fades else clip)
        return CompositeVideoClip(layers, size=(p.width, p.height), bg_color=(0, 0, 0)).with_duration(plan.duration)


# ---------------------------------------------------------------------------------------------------------------
# Backgrounds: one clip per scene, moving as the `ffmpeg` provider's warp engine moves it.


def background_clips(images: list[Path], plan: Timeline, width: int, height: int) -> list[Any]:
    """One clip per scene (`_motion.segments`: they overlap by a crossfade), each fading in over the one before."""
    import numpy as np
    from moviepy import ImageClip, VideoClip, vfx

    fps = plan.fps
    clips = []
    for k, seg in enumerate(_motion.segments(plan.spans, plan.motions, plan.fade)):
        moving = seg.motion != "none"
        sw, sh = _motion.source_size(width, height, moving)
        picture = np.asarray(_motion.cover(_motion.load_rgb(images[seg.image]), sw, sh), dtype=np.uint8)
        if moving:
            clip = VideoClip(camera(picture, seg.motion, seg.length, fps, width, height), duration=seg.length / fps)
        else:
            clip = ImageClip(picture, duration=seg.length / fps)
        clip = clip.with_start(seg.start / fps)
        if k and plan.fade:
            clip = clip.with_effects([vfx.CrossFadeIn(plan.fade / fps)])
        clips.append(clip)
    return clips


def camera(picture: Any, motion: str, frames: int, fps: int, width: int, height: int):
    """A frame function (clip time -> RGB frame) moving a view over `picture` as the preset `motion` does over
    `frames` frames: the `ffmpeg` provider's views (`_motion.view_at`), sampled bilinearly at sub-pixel positions."""
    import cv2
    import numpy as np

    sh, sw = picture.shape[:2]
    last = max(1, frames - 1)

    def frame(t: float):
        view = _motion.view_at(motion, min(1.0, round(t * fps, 6) / last))
        sx, tx, sy, ty = _motion.affine(view, sw, sh, width, height)
        matrix = np.array([[sx, 0.0, tx], [0.0, sy, ty]], dtype=np.float64)
        return cv2.warpAffine(picture, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    return frame


# ---------------------------------------------------------------------------------------------------------------
# Graphics and captions: every event of the burned ASS drawn once, at rest, by libass.


@dataclass(frozen=True)
class Sprite:
    """One or more ASS events drawn at rest: an RGBA picture at (x, y), shown from `start` to `end` seconds,
    fading in and out over `fade_in` / `fade_out` seconds, and sliding to its place from (dx, dy) pixels away
    between `slide` = (t1, t2) seconds after its start."""

    rgba: Any
    x: int
    y: int
    start: float
    end: float
    fade_in: float = 0.0
    fade_out: float = 0.0
    dx: float = 0.0
    dy: float = 0.0
    slide: tuple[float, float] = (0.0, 0.0)

    def position(self, t: float) -> tuple[float, float]:
        """Where the picture is `t` seconds after its start (MoviePy calls this with the clip's time)."""
        t1, t2 = self.slide
        if t2 <= t1 or t >= t2:
            return self.x, self.y
        rest = 1.0 - max(0.0, t - t1) / (t2 - t1)  # libass moves linearly
        return round(self.x + self.dx * rest), round(self.y + self.dy * rest)


def animation(text: str) -> tuple[float, float, float, float, tuple[float, float]]:
    """(fade in s, fade out s, dx, dy, (t1, t2) s) from an event's \\fad and timed \\move tags."""
    fade_in = fade_out = 0.0
    for m in _FAD.finditer(text):
        fade_in, fade_out = max(fade_in, int(m.group(1)) / 1000), max(fade_out, int(m.group(2)) / 1000)
    dx = dy = 0.0
    slide = (0.0, 0.0)
    for m in _MOVE.finditer(text):
        args = [float(a) for a in m.group(1).split(",")]
        if len(args) == 6:  # \move(x1, y1, x2, y2, t1, t2): drawn at (x2, y2), coming from (x1, y1)
            dx, dy, slide = args[0] - args[2], args[1] - args[3], (args[4] / 1000, args[5] / 1000)
    return fade_in, fade_out, dx, dy, slide


def at_rest(text: str) -> str:
    """The event's text with its animation tags removed: \\fad dropped, \\move(x1, y1, x2, y2, ...) -> \\pos(x2, y2)."""
    text = _FAD.sub("", text)
    return _MOVE.sub(lambda m: "\\pos({},{})".format(*[a.strip() for a in m.group(1).split(",")][2:4]), text)


def draw_sprites(burned: Path, width: int, height: int, workdir: Path) -> list[Sprite]:
    """Every event of the burned ASS file as a Sprite, in drawing order. Neighbouring events (in layer order) that
    show at the same times with the same animation become one picture (the label's box and its text).

    libass draws each group once, over black and over white (two ffmpeg runs, one frame per group); the two
    pictures give each pixel's colour and alpha exactly as libass blends them."""
    import numpy as np
    import pysubs2

    from ...media import run_ffmpeg

    subs = pysubs2.load(os.fspath(burned), encoding="utf-8", format_="ass")
    events = sorted((e for e in subs.events if not e.is_comment and e.end > e.start),
                    key=lambda e: e.layer)  # a stable sort: libass draws a layer's events in file order
    groups: list[tuple[tuple, list[Any]]] = []
    for event in events:
        key = (event.start, event.end, animation(event.text))
        if groups and groups[-1][0] == key:
            groups[-1][1].append(event)
        else:
            groups.append((key, [event]))
    if not groups:
        return []
    subs.events = []
    for k, (_, members) in enumerate(groups):  # group k is on screen from k s to k + 1 s
        for event in members:
            drawn = event.copy()
            drawn.start, drawn.end, drawn.text = k * 1000, (k + 1) * 1000, at_rest(event.text)
            subs.events.append(drawn)
    ass, *raws = SPRITE_FILES
    subs.save(os.fspath(workdir / ass), encoding="utf-8", format_="ass")
    fonts = filter_escape(os.fspath(assets.FONTS_DIR))
    pictures = {}
    for colour, raw in zip(("black", "white"), raws):
        run_ffmpeg(["-y", "-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}:r=1:d={len(groups)}",
                    "-vf", f"format=rgb24,ass=filename={ass}:fontsdir={fonts}:shaping=complex",
                    "-frames:v", str(len(groups)), "-f", "rawvideo", "-pix_fmt", "rgb24", raw],
                   cwd=workdir, loglevel="error")
        # Mapped, not read: a minute of captions is some 30 frames, 166 MB at 720p.
        pictures[colour] = np.memmap(workdir / raw, np.uint8, mode="r", shape=(len(groups), height, width, 3))
    sprites = []
    for k, ((start, end, (fade_in, fade_out, dx, dy, slide)), _) in enumerate(groups):
        rgba, x, y = _unblend(pictures["black"][k], pictures["white"][k])
        if rgba is not None:
            sprites.append(Sprite(rgba, x, y, start / 1000, end / 1000, fade_in, fade_out, dx, dy, slide))
    return sprites


def _unblend(black: Any, white: Any) -> tuple[Any, int, int]:
    """From a picture drawn over black (alpha x colour) and over white (alpha x colour + (1 - alpha) x 255): the
    RGBA picture (straight alpha, as Pillow composites it) cropped to what is drawn, and its top-left corner."""
    import numpy as np

    alpha = 255 - (white.astype(np.int16) - black.astype(np.int16)).max(axis=2).clip(0, 255)
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return None, 0, 0
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    a = alpha[y0:y1, x0:x1].astype(np.float32)
    colour = black[y0:y1, x0:x1].astype(np.float32) * 255.0 / np.maximum(a, 1.0)[..., None]
    rgba = np.dstack([np.clip(np.rint(colour), 0, 255), a]).astype(np.uint8)
    return rgba, int(x0), int(y0)


# ---------------------------------------------------------------------------------------------------------------
# The encode: frames from MoviePy, marked, to the same ffmpeg the `ffmpeg` provider runs.


def marked_i420(video: Any, frames: int, fps: int):
    """Every frame of `video` as I420 bytes with the provenance mark in its luma, for ffmpeg's stdin. RGB is
    converted with OpenCV (BT.601, limited range, what the stream's colour tags say), as the warp engine does."""
    import cv2
    import numpy as np

    from ... import video_watermark

    width, height = video.size
    marker = video_watermark.Marker(width, height)
    for n in range(frames):  # frame n shows time n / fps: no float drift over a long video
        rgb = np.ascontiguousarray(video.get_frame(n / fps), dtype=np.uint8)
        i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        marker.embed_i420(i420, n)
        yield memoryview(i420).cast("B")


def encode_command(p: Any, plan: Timeline, soundtrack: str, output: str, title: str) -> list[str]:
    """ffmpeg reads raw I420 frames on stdin and the mastered soundtrack; run with cwd = the work folder."""
    args = ["-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{p.width}x{p.height}", "-framerate", str(p.fps),
            "-i", "pipe:0", "-i", soundtrack, "-map", "0:v", "-map", "1:a",
            "-af", f"apad=whole_dur={plan.duration:.6f}", "-t", f"{plan.duration:.6f}"]
    if p.threads:
        args += ["-threads", str(p.threads)]
    return args + [
        "-c:v", "libx264", "-preset", p.preset, "-crf", str(p.crf), "-pix_fmt", "yuv420p", "-profile:v", "high",
        "-r", str(p.fps), "-colorspace", COLOUR_TAGS["colorspace"], "-color_primaries", COLOUR_TAGS["color_primaries"],
        "-color_trc", COLOUR_TAGS["color_trc"], "-color_range", COLOUR_TAGS["range"],
        "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart",
        "-metadata", f"title={one_line(title)}", "-metadata", f"comment={COMMENT}",
        "-f", "mp4", output,
    ]


def _rgba(path: Path) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))


def _notes(audio: dict[str, Any], presenter: Presenter | None, drawn: dict[str, Any] | None = None,
           reveal: Reveal | None = None) -> dict[str, Any]:
    """run.json's compose notes. This provider does not draw a presenter: it says so rather than dropping it
    silently (the `ffmpeg` provider's warp engine draws it)."""
    from ... import video_watermark

    notes: dict[str, Any] = {"audio": audio, "watermark": video_watermark.METHOD}
    if reveal is not None:  # the card is drawn by clips(); one that did not draw it says so
        notes["reveal"] = drawn or {"drawn": False, "why": "this provider's clips() did not draw the reveal card"}
    if presenter is not None and presenter.kind != "none":
        notes["presenter"] = {"drawn": False, "why": "the moviepy compose provider does not draw presenters; "
                              "use --provider compose=ffmpeg (engine warp)"}
    return notes
