"""What the two compose providers, `ffmpeg` and `moviepy`, share, so that they make the same video from the same
inputs and a provider of your own can too:

- the frame sizes H.264 takes (`check_frame_size`), the colour tags the stream carries (`COLOUR_TAGS`), the MP4's
  comment (`COMMENT`), the bug's opacity (`BUG_OPACITY`), and the poster and thumbnail (`write_poster`);
- what they check and hash of a style, a logo and a music bed (`check_graphics_and_music`, `content_key_params`:
  the files' contents, not their paths, are in the cache key);
- ffmpeg's version for the provider's identity (`ffmpeg_version`), and escaping for ffmpeg's filter graphs
  (`filter_escape`).

The timeline (which background shows when) is `timeline.py`. Nothing here imports a compose provider.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from ... import assets
from ...errors import NewsreelError
from ...hashing import sha256_file
from ...stages.image import Backgrounds
from ...stages.voice import Narration
from . import _styles
from .timeline import Timeline

COMMENT = "AI-generated with newsreel; see provenance in run.json"
MAX_LONG_SIDE = 3840  # 4K UHD
MAX_SHORT_SIDE = 2160
THUMBNAIL_WIDTH = 320
THUMBNAIL_NAME = "thumbnail.jpg"
BUG_OPACITY = 0.85
# The warp engine converts RGB to YUV with BT.601 (limited range) coefficients, as swscale does by default for the
# ffmpeg engines; the stream says so, so players convert back with the same matrix.
COLOUR_TAGS = {"colorspace": "smpte170m", "color_primaries": "bt709", "color_trc": "bt709", "range": "tv"}


def check_frame_size(width: int, height: int) -> None:
    if width % 2 or height % 2:
        raise NewsreelError(f"frame size {width}x{height} has an odd side", "H.264 (yuv420p) needs even sizes, e.g. 1280x720")
    if width < 128 or height < 128:
        raise NewsreelError(f"frame size {width}x{height} is too small", "use at least 128 pixels a side, e.g. 1280x720")
    if max(width, height) > MAX_LONG_SIDE or min(width, height) > MAX_SHORT_SIDE:
        raise NewsreelError(f"frame size {width}x{height} is larger than 4K", "use at most 3840x2160 (or 2160x3840)")


def check_graphics_and_music(p: Any) -> None:
    """Pre-flight of what the graphics and the soundtrack read: the style, the bold font, the logo, the music."""
    _styles.style_dir(p.style)
    if not assets.FONT_BOLD.is_file():
        raise NewsreelError(f"the font {assets.FONT_BOLD.name} is missing", "reinstall newsreel")
    if p.bug:
        _styles.load_logo(p.logo)
    if p.music is not None:
        from ...audio import check_music

        check_music(p.music)


def content_key_params(p: Any) -> dict[str, Any]:
    """The cache key's entries for the style, logo and music: the content of their files, not their paths, so
    editing a user style or logo renders again, and the same files in another folder hit the cache."""
    key: dict[str, Any] = {}
    key["style"] = p.style if not _styles.is_style_path(p.style) else "folder"
    key["style_sha256"] = _styles.folder_digest(_styles.style_dir(p.style))
    if p.logo is not None:
        key["logo"] = "file"
    if p.bug:
        try:
            key["logo_sha256"] = sha256_file(_styles.logo_path(p.logo))
        except OSError:  # gone since the pre-flight: the key still says so, and the render names the file
            key["logo_sha256"] = "missing"
    if p.music is not None:
        from ...audio import check_music, is_bundled_music

        path, _ = check_music(p.music)
        key["music"] = p.music if is_bundled_music(p.music) else "file"
        try:
            key["music_sha256"] = sha256_file(path)
        except OSError:
            key["music_sha256"] = "missing"
    return key


def check_inputs_exist(image: Backgrounds, voice: Narration) -> None:
    """The files of the cached artifacts a render reads: a cache entry emptied by hand is named, with the fix."""
    for img in image.images:
        if not Path(img.path).is_file():
            raise NewsreelError(f"background image {img.path} is missing", "clear the cache entry and run again")
    if not Path(voice.path).is_file():
        raise NewsreelError(f"narration {voice.path} is missing", "clear the cache entry and run again")


def remove_files(paths: list[Path]) -> None:
    """Delete what a failed or finished render leaves behind, ignoring what is already gone."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    """The version of the ffmpeg that renders (a provider's identity), or its file name when it says none."""
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


def filter_escape(value: str) -> str:
    """Escape a value for a filter option inside a -filter_complex graph (both levels of ffmpeg's escaping)."""
    level1 = re.sub(r"([\\':])", r"\\\1", value)  # inside the filter's option list
    return re.sub(r"([\\'\[\],;])", r"\\\1", level1)  # inside the filter graph


def write_poster(video: Path, plan: Timeline, poster: Path, thumbnail: Path) -> None:
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
