"""compose provider `ffmpeg`: background(s) + narration + captions + graphics -> one H.264/AAC MP4, in ONE ffmpeg run.

The filter graph: each background PNG is decoded once, scaled to cover a canvas twice the frame size and fed as a
single frame to `zoompan`, which emits every frame of its span (feeding one frame is ~10x faster than `-loop 1`,
which decodes the PNG again for every frame; the 2x canvas halves zoompan's whole-pixel steps; yuv444p avoids its
rounding to even positions). Several scenes are joined with `xfade` crossfades. One `ass` filter then burns the
captions and the graphics (the AI-GENERATED label and the lower third, from templates/graphics/news.ass.j2) merged
into one ASS file. Audio is the narration padded with silence to the video's length.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ... import assets
from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn
from ...stages.captions import Captions
from ...stages.compose import ComposeProvider, Video
from ...stages.image import Backgrounds
from ...stages.script import Script
from ...stages.voice import Narration

TEMPLATE = "graphics/news.ass.j2"
COMMENT = "AI-generated with newsreel; see provenance in run.json"
MAX_LONG_SIDE = 3840  # 4K UHD
MAX_SHORT_SIDE = 2160
ZOOM = 0.12  # how far push-in / pull-out / pans zoom (12%)
CROSSFADE_SECONDS = 0.5
GRAPHICS_LAYER = 10  # captions keep layers below this

Motion = Literal["push-in", "pull-out", "pan-left", "pan-right", "none"]


class FfmpegCompose(ComposeProvider):
    name = "ffmpeg"
    version = "1"
    summary = "one ffmpeg run: slow zoom over the background, burned-in captions, lower third, AI-GENERATED label"
    needs = Needs(packages=("imageio_ffmpeg", "pysubs2", "jinja2"))

    class Params(Params):
        width: int = 1280
        height: int = 720
        fps: int = Field(30, ge=10, le=60)
        crf: int = Field(23, ge=0, le=51)
        preset: Literal[
            "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
        ] = "veryfast"
        motion: Motion = "push-in"
        tail_seconds: float = Field(0.6, ge=0.0, le=10.0)
        label: str = Field("AI-GENERATED", min_length=1, max_length=40)
        threads: int | None = Field(None, ge=1, le=64)

        @field_validator("label")
        @classmethod
        def _label_visible(cls, v: str) -> str:
            v = " ".join(v.split())
            if not v:
                raise ValueError("the label must have visible text")
            return v

        @model_validator(mode="after")
        def _frame_size(self):
            check_frame_size(self.width, self.height)
            return self

    def check(self) -> None:
        super().check()
        from ...media import ffmpeg_exe

        ffmpeg_exe()
        if not (assets.TEMPLATES_DIR / TEMPLATE).is_file():
            raise NewsreelError(f"the graphics template {TEMPLATE} is missing", "reinstall newsreel")
        if not assets.FONT_BOLD.is_file():
            raise NewsreelError(f"the font {assets.FONT_BOLD.name} is missing", "reinstall newsreel")

    def identity(self) -> dict[str, Any]:
        return {"ffmpeg": _ffmpeg_version()}

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
        from ...media import FfmpegError, extract_frame, run_ffmpeg

        p = self.params
        check_frame_size(p.width, p.height)
        workdir = Path(workdir)
        for img in image.images:
            if not Path(img.path).is_file():
                raise NewsreelError(f"background image {img.path} is missing", "clear the cache entry and run again")
        if not Path(voice.path).is_file():
            raise NewsreelError(f"narration {voice.path} is missing", "clear the cache entry and run again")

        frames = max(1, round((voice.duration + p.tail_seconds) * p.fps))
        duration = frames / p.fps
        graphics = workdir / "graphics.ass"
        partial = workdir / ".video.partial.mp4"
        final = workdir / "video.mp4"
        poster = workdir / "poster.jpg"
        made = [graphics, partial, final, poster]
        try:
            progress(0.0, "preparing graphics")
            write_burn_ass(captions.ass, graphics, title=script.title, label=p.label, duration=duration,
                           width=p.width, height=p.height)
            args = build_command(
                images=[Path(i.path) for i in image.images],
                spans=scene_spans(script, voice, len(image.images), frames, p.fps),
                narration=Path(voice.path),
                ass_name=graphics.name,
                output_name=partial.name,
                title=script.title,
                frames=frames,
                params=p,
            )
            run_ffmpeg(
                args,
                progress=lambda f, m: progress(0.02 + 0.95 * f, m),
                total_seconds=duration,
                total_frames=frames,
                cwd=workdir,
                loglevel="error",
            )
            os.replace(partial, final)
            progress(0.98, "writing poster frame")
            extract_frame(final, duration / 3.0, poster, quality=3)
        except FfmpegError as exc:
            _remove(made)
            raise NewsreelError(
                f"ffmpeg could not render the video: {exc.summary(4)}",
                "check that the background images and narration are valid files (clear their cache entries to redo them)",
            ) from exc
        except BaseException:
            _remove(made)
            raise
        graphics.unlink(missing_ok=True)
        progress(1.0, f"{duration:.1f} s video, {p.width}x{p.height}")
        return Video(path=final, duration=duration, width=p.width, height=p.height, fps=p.fps, poster=poster)


def check_frame_size(width: int, height: int) -> None:
    if width % 2 or height % 2:
        raise NewsreelError(f"frame size {width}x{height} has an odd side", "H.264 (yuv420p) needs even sizes, e.g. 1280x720")
    if width < 128 or height < 128:
        raise NewsreelError(f"frame size {width}x{height} is too small", "use at least 128 pixels a side, e.g. 1280x720")
    if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
        raise NewsreelError(f"frame size {width}x{height} is larger than 4K", "use at most 3840x2160 (or 2160x3840)")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


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
# Timeline: which background shows when.


def scene_spans(script: Script, voice: Narration, n_images: int, frames: int, fps: int) -> list[tuple[int, int, int]]:
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
    min_len = round(CROSSFADE_SECONDS * fps) * 2
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


def filter_escape(value: str) -> str:
    """Escape a value for a filter option inside a -filter_complex graph (both levels of ffmpeg's escaping)."""
    level1 = re.sub(r"([\\':])", r"\\\1", value)  # inside the filter's option list
    return re.sub(r"([\\'\[\],;])", r"\\\1", level1)  # inside the filter graph


def motion_exprs(motion: str, frames: int, canvas_w: int, canvas_h: int) -> tuple[str, str, str]:
    """zoompan z, x, y expressions for a motion over `frames` output frames (no commas, so no escaping needed)."""
    last = max(1, frames - 1)
    p = f"on/{last}"
    cx, cy = "(iw-iw/zoom)/2", "(ih-ih/zoom)/2"
    if motion == "push-in":
        return f"1+{ZOOM}*{p}", cx, cy
    if motion == "pull-out":
        return f"{1 + ZOOM}-{ZOOM}*{p}", cx, cy
    if motion == "pan-left":  # the view travels left: x from the right edge to the left edge
        return f"{1 + ZOOM}", f"(iw-iw/zoom)*(1-{p})", cy
    if motion == "pan-right":
        return f"{1 + ZOOM}", f"(iw-iw/zoom)*{p}", cy
    return "1", "0", "0"


def build_command(
    *,
    images: list[Path],
    spans: list[tuple[int, int, int]],
    narration: Path,
    ass_name: str,
    output_name: str,
    title: str,
    frames: int,
    params: Any,
) -> list[str]:
    """The ffmpeg arguments (after the binary) for one render; run with cwd = the work folder."""
    w, h, fps = params.width, params.height, params.fps
    cw, ch = 2 * w, 2 * h  # zoompan canvas: whole-pixel steps there are half-pixel steps in the frame
    duration = frames / fps
    fade = round(CROSSFADE_SECONDS * fps)
    half = fade // 2
    args: list[str] = ["-y"]
    chains: list[str] = []
    n = len(spans)
    for i, (image_index, s, e) in enumerate(spans):
        args += ["-i", os.fspath(images[image_index])]
        # Each segment also covers half a crossfade on each side of its span.
        seg_start = s - half if i > 0 else s
        seg_end = e + (fade - half) if i < n - 1 else e
        length = seg_end - seg_start
        z, x, y = motion_exprs(params.motion, length, cw, ch)
        chains.append(
            f"[{i}:v]scale={cw}:{ch}:force_original_aspect_ratio=increase:flags=lanczos,crop={cw}:{ch},setsar=1,"
            f"format=yuv444p,zoompan=z='{z}':x='{x}':y='{y}':d={length}:s={w}x{h}:fps={fps},format=yuv420p"
            f"[s{i}]"
        )
    audio_index = n
    args += ["-i", os.fspath(narration)]
    last = "s0"
    for i in range(1, n):
        offset = (spans[i][1] - half) / fps
        out = f"x{i}"
        chains.append(f"[{last}][s{i}]xfade=transition=fade:duration={fade / fps:.6f}:offset={offset:.6f}[{out}]")
        last = out
    fonts = filter_escape(os.fspath(assets.FONTS_DIR))
    chains.append(f"[{last}]ass=filename={filter_escape(ass_name)}:fontsdir={fonts}:shaping=complex[v]")
    chains.append(
        f"[{audio_index}:a]aresample=48000,aformat=channel_layouts=stereo,apad=whole_dur={duration:.6f}[a]"
    )
    args += ["-filter_complex", ";".join(chains)]
    args += ["-map", "[v]", "-map", "[a]", "-t", f"{duration:.6f}"]
    if params.threads:
        args = ["-filter_threads", str(params.threads), "-filter_complex_threads", str(params.threads)] + args
        args += ["-threads", str(params.threads)]
    args += [
        "-c:v", "libx264", "-preset", params.preset, "-crf", str(params.crf), "-pix_fmt", "yuv420p",
        "-profile:v", "high", "-r", str(fps),
        "-c:a", "aac", "-b:a", "160k",
        "-movflags", "+faststart",
        "-metadata", f"title={_one_line(title)}",
        "-metadata", f"comment={COMMENT}",
        "-f", "mp4", output_name,
    ]
    return args


def _one_line(text: str) -> str:
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


# ---------------------------------------------------------------------------------------------------------------
# Graphics: layout, the template, and merging with the captions.


def ass_escape(value: Any) -> str:
    """Make a value inert ASS text: no override blocks, no \\N-style escapes, no line breaks."""
    text = "" if value is None else str(value)
    text = " ".join(re.sub(r"[\x00-\x1f\x7f\u2028\u2029\u0085]", " ", text).split())
    text = text.replace("\\", "\\\u2060")  # a word joiner after each backslash: "\N" no longer means a new line
    return text.replace("{", "\\{").replace("}", "\\}")  # libass shows \{ and \} as literal braces


def ass_time(seconds: float) -> str:
    cs = max(0, round(seconds * 100))
    return f"{cs // 360000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(os.fspath(assets.FONT_BOLD), size)


def text_width(text: str, ass_size: float, spacing: float = 0.0) -> float:
    """Width in PlayRes units of `text` in the bold font at ASS font size `ass_size` (libass sizes fonts by
    ascender + descender, PIL by the em, hence the conversion)."""
    ref = _font(200)
    asc, desc = ref.getmetrics()
    em = 200 * ass_size / (asc + desc)
    return ref.getlength(text) * em / 200 + spacing * len(text)


def wrap_title(title: str, size: float, max_width: float, max_lines: int) -> list[str] | None:
    """Greedy word wrap into at most max_lines lines of max_width, or None when it does not fit."""
    words = title.split()
    lines: list[str] = []
    cur = ""
    for word in words:
        trial = f"{cur} {word}".strip()
        if text_width(trial, size) <= max_width or not cur:
            if text_width(trial, size) > max_width:
                return None  # one word alone is too wide
            cur = trial
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    return lines if len(lines) <= max_lines else None


def fit_title(title: str, base_size: float, max_width: float, max_lines: int) -> tuple[list[str], int]:
    """Lines and font size for the title: shrink down to 72% of base, then cut with an ellipsis."""
    title = _one_line(title) or " "
    for factor in (1.0, 0.92, 0.84, 0.78, 0.72):
        size = round(base_size * factor)
        lines = wrap_title(title, size, max_width, max_lines)
        if lines:
            return lines, size
    size = round(base_size * 0.72)
    words = title.split()
    while words:
        words = words[:-1]
        candidate = " ".join(words).rstrip(",;:.-") + "\u2026"
        lines = wrap_title(candidate, size, max_width, max_lines)
        if lines:
            return lines, size
    # A single enormous word: cut characters.
    text = title
    while text and text_width(text + "\u2026", size) > max_width:
        text = text[:-1]
    return [text + "\u2026"], size


@dataclass(frozen=True)
class GraphicsLayout:
    """Positions and sizes (PlayRes units) of the graphics, also used by tests to find them in frames."""

    res_x: int
    res_y: int
    bar: dict
    title: dict
    label: dict
    clear_bottom: int  # captions anchored at the bottom must keep this much space free below them


def graphics_layout(res_x: int, res_y: int, title: str, label: str) -> GraphicsLayout:
    u = min(res_x, res_y) / 720.0
    portrait = res_y > res_x * 1.2
    square = not portrait and res_x < res_y * 1.2
    margin_x = round((0.05 * res_x) if portrait else 48 * u)
    # Keep the lower third inside the area phone apps leave free in 9:16 (their captions and buttons sit low).
    bottom = round(0.2 * res_y if portrait else (52 * u if square else 40 * u))
    bar_w = res_x - 2 * margin_x
    accent = round(10 * u)
    pad_x = round(22 * u)
    size = 36 * u
    max_lines = 3 if portrait else 2
    lines, fsize = fit_title(title, size, bar_w - accent - 2 * pad_x, max_lines)
    line_h = fsize * 1.22
    pad_y = round(15 * u)
    bar_h = round(2 * pad_y + line_h * len(lines))
    bar_y = res_y - bottom - bar_h
    bar = {
        "x": margin_x, "y": bar_y, "w": bar_w, "h": bar_h, "accent": accent,
        "rule": max(1, round(2 * u)),
    }
    title_d = {
        "lines": lines, "size": fsize, "x": margin_x + accent + pad_x, "y": bar_y + pad_y,
        "slide": round(24 * u),
    }
    lsize = round(22 * u)
    spacing = round(1.6 * u, 1)
    lpad_x, lpad_y = round(14 * u), round(8 * u)
    text = label.upper()
    lw = text_width(text, lsize, spacing)
    box_h = round(lsize * 1.2 + 2 * lpad_y)
    box_x = margin_x
    box_y = round(0.06 * res_y) if portrait else round(36 * u)
    label_d = {
        "text": text, "size": lsize, "spacing": spacing,
        "box_x": box_x, "box_y": box_y, "box_w": round(lw + 2 * lpad_x), "box_h": box_h,
        "text_x": box_x + lpad_x, "text_y": box_y + box_h / 2,
    }
    clear = res_y - bar_y + round(24 * u)
    return GraphicsLayout(res_x, res_y, bar, title_d, label_d, clear)


COLOURS = {
    "bar": "2A1A0E",  # #0E1A2A deep navy
    "bar_alpha": "18",
    "rule": "FFFFFF",
    "accent": "2E1FE0",  # #E01F2E news red
    "label": "2E1FE0",
}


def render_graphics(layout: GraphicsLayout, duration: float) -> str:
    """The graphics ASS document from the jinja2 template, rendered in a sandbox with every value escaped."""
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(os.fspath(assets.TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=ass_escape,
        keep_trailing_newline=True,
    )
    template = env.get_template(TEMPLATE)
    return template.render(
        res_x=layout.res_x,
        res_y=layout.res_y,
        font=assets.FONT_FAMILY,
        bar=layout.bar,
        title=layout.title,
        label=layout.label,
        colours=COLOURS,
        start=ass_time(0),
        end=ass_time(duration + 1.0),
        lower={"start": ass_time(0.15), "fade": 350},
    )


def write_burn_ass(
    captions_ass: Path, out: Path, *, title: str, label: str, duration: float, width: int, height: int
) -> GraphicsLayout:
    """Merge the captions' ASS with the graphics into `out`, the one file the `ass` filter burns in."""
    import pysubs2

    try:
        subs = pysubs2.load(os.fspath(captions_ass), encoding="utf-8", format_="ass")
    except Exception as exc:  # noqa: BLE001 - pysubs2 raises several types for malformed files
        raise NewsreelError(f"could not read the captions file {captions_ass}: {exc}", "clear the captions cache entry and run again") from None
    res_x = _int(subs.info.get("PlayResX"))
    res_y = _int(subs.info.get("PlayResY"))
    if not res_x or not res_y:
        # libass would assume 384x288; state the frame size instead and scale the caption styles to match.
        scale = height / (res_y or 288)
        for style in subs.styles.values():
            style.fontsize *= scale
            style.outline *= scale
            style.shadow *= scale
            style.marginl = round(style.marginl * scale)
            style.marginr = round(style.marginr * scale)
            style.marginv = round(style.marginv * scale)
        res_x, res_y = width, height
        subs.info["PlayResX"], subs.info["PlayResY"] = str(width), str(height)
    subs.info.setdefault("ScaledBorderAndShadow", "yes")
    layout = graphics_layout(res_x, res_y, title, label)
    graphics = pysubs2.SSAFile.from_string(render_graphics(layout, duration), format_="ass")
    # Captions anchored at the bottom move up above the lower third.
    for style in subs.styles.values():
        if int(style.alignment) in (1, 2, 3):
            style.marginv = max(style.marginv, layout.clear_bottom)
    for event in subs.events:
        if event.marginv and event.marginv < layout.clear_bottom and style_is_bottom(subs, event.style):
            event.marginv = layout.clear_bottom
        event.layer = min(event.layer, GRAPHICS_LAYER - 1)
    for name, style in graphics.styles.items():
        subs.styles[name] = style
    subs.events.extend(graphics.events)
    subs.save(os.fspath(out), encoding="utf-8", format_="ass")
    return layout


def style_is_bottom(subs, name: str) -> bool:
    style = subs.styles.get(name)
    return style is not None and int(style.alignment) in (1, 2, 3)


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None
