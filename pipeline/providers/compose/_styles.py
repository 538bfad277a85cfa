"""Styles and the logo of the compose graphics: finding a style (a shipped one by name, or a user's folder copied
from one), its digest for the cache key, rendering its jinja2 templates, and the logo drawn as the channel bug.

A style is a folder of jinja2 templates that write ASS (the subtitle format libass draws): `style.ass.j2` is the
document (script info and styles) and includes one file per element (label, lower third, breaking bar, ticker, bug
plate, intro and outro cards); `callout.ass.j2`, the callout shots' card, is a document of its own. newsreel ships `templates/styles/news` and `templates/styles/minimal`; a user style is
a copy of one of those folders, edited, and passed by path. Templates render in a jinja2 SandboxedEnvironment with
StrictUndefined, and every `{{ value }}` passes through `ass_escape`, so data (a title, ticker text) can never open
an override block or start a new line: override tags only come from the template files themselves. A template's
error names its file and line.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from ... import assets
from ...errors import NewsreelError
from ._ass_text import ass_escape, one_line

STYLES_DIR = assets.TEMPLATES_DIR / "styles"
STYLE_ENTRY = "style.ass.j2"
CALLOUT_ENTRY = "callout.ass.j2"  # the callout card: a document of its own (a style copied before it has none)
STYLE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
DEFAULT_LOGO = assets.ASSETS_DIR / "logo.png"


def shipped_styles() -> list[str]:
    return sorted(p.name for p in STYLES_DIR.iterdir() if (p / STYLE_ENTRY).is_file()) if STYLES_DIR.is_dir() else []


def is_style_path(style: str) -> bool:
    return not STYLE_NAME_RE.match(style)


def check_style_name(style: str) -> str:
    """Params validation: a shipped style's name, or anything that looks like a path (checked when rendering)."""
    style = style.strip()
    if not style:
        raise ValueError("the style must be a shipped style's name or a folder")
    if not is_style_path(style) and style not in shipped_styles():
        raise ValueError(f"no shipped style '{style}' (shipped: {', '.join(shipped_styles())}); or give a folder path")
    return style


def style_dir(style: str) -> Path:
    """The folder of a style: templates/styles/<name>, or a user folder copied from one."""
    if not is_style_path(style):
        folder = STYLES_DIR / style
        if (folder / STYLE_ENTRY).is_file():
            return folder
        raise NewsreelError(f"no shipped style '{style}'", f"shipped styles: {', '.join(shipped_styles())}")
    folder = Path(style).expanduser()
    if not folder.is_dir():
        raise NewsreelError(
            f"the style folder {folder} does not exist",
            f"copy a shipped style ({STYLES_DIR}/news) and pass its folder",
        )
    if not (folder / STYLE_ENTRY).is_file():
        raise NewsreelError(
            f"the style folder {folder} has no {STYLE_ENTRY}",
            f"a style is a copy of a shipped style folder, e.g. {STYLES_DIR / 'news'}",
        )
    return folder


def folder_digest(folder: Path) -> str:
    """sha256 over the names and bytes of a style folder's files: a user's edit to a template changes it."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _template_error(exc: BaseException, folder: Path) -> NewsreelError:
    """A jinja2 error -> NewsreelError naming the template file and line."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    if isinstance(exc, TemplateNotFound):
        return NewsreelError(f"style {folder}: the template {exc.name} is missing", "restore it from the shipped style")
    where_file, where_line = None, None
    if isinstance(exc, TemplateSyntaxError):
        where_file, where_line = exc.filename or exc.name, exc.lineno
    else:
        # jinja2 rewrites tracebacks so that template frames carry the template's file name and line.
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if name.endswith(".j2"):
                where_file, where_line = name, tb.tb_lineno
            tb = tb.tb_next
    message = getattr(exc, "message", None) or str(exc)
    shown = where_file or "?"
    try:
        shown = str(Path(shown).resolve().relative_to(folder.resolve().parent))
    except (ValueError, OSError):
        pass
    return NewsreelError(
        f"style template {shown}:{where_line or '?'}: {one_line(str(message))}",
        "fix the template (the fields it may use are listed in the style's style.ass.j2)",
    )


def render_style(folder: Path, context: dict[str, Any], entry: str = STYLE_ENTRY) -> str:
    """Render a style's `entry` template (style.ass.j2) with `context`: sandboxed, strict, every value escaped. A
    callout.ass.j2 the folder lacks is the shipped news style's, so a style copied before callouts existed still
    draws their cards."""
    from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    search = [os.fspath(folder)]
    if entry == CALLOUT_ENTRY and not (folder / entry).is_file():
        search.append(os.fspath(STYLES_DIR / "news"))
    env = SandboxedEnvironment(
        loader=FileSystemLoader(search),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=ass_escape,
        keep_trailing_newline=True,
    )
    try:
        return env.get_template(entry).render(**context)
    except TemplateError as exc:
        raise _template_error(exc, folder) from None
    except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
        # e.g. {{ "a" + 1 }} or a division by zero inside a template
        raise _template_error(exc, folder) from None


# ---------------------------------------------------------------------------------------------------------------
# The channel bug


def logo_path(logo: str | None) -> Path:
    return DEFAULT_LOGO if logo is None else Path(logo).expanduser()


def load_logo(logo: str | None):
    """The logo as a PIL RGBA image, or NewsreelError when the file is missing or not an image."""
    from PIL import Image, UnidentifiedImageError

    path = logo_path(logo)
    if not path.is_file():
        raise NewsreelError(f"the logo {path} does not exist", "pass a PNG file with --set compose.logo=PATH")
    try:
        with Image.open(path) as im:
            im.load()
            if im.width < 2 or im.height < 2:
                raise ValueError("it is smaller than 2x2 pixels")
            return im.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise NewsreelError(
            f"the logo {path.name} is not an image ({one_line(str(exc))})", "pass a PNG (or JPEG/WebP) image file"
        ) from None


def write_logo(image, width: int, height: int, opacity: float, out: Path) -> Path:
    """The bug as ffmpeg overlays it: resized to width x height (Lanczos) with its alpha scaled by `opacity`."""
    from PIL import Image

    bug = image.resize((width, height), Image.Resampling.LANCZOS)
    if opacity < 1.0:
        alpha = bug.getchannel("A").point(lambda a: round(a * opacity))
        bug.putalpha(alpha)
    bug.save(out, format="PNG")
    return out
