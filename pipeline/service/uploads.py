"""Uploaded init images, music and articles: what a file really is (its bytes, not its name), and whether it is small
enough.

An image must start like a PNG, JPEG or WebP, and Pillow must decode all of it within the pixel limit; audio must
start like WAV, MP3, Ogg, FLAC or MP4/M4A audio, and ffmpeg must find an audio stream of some length in it; an article
must be UTF-8 text (plain, Markdown, or a saved HTML page) with enough words in it, read as `newsreel make --article`
reads a file. The file is stored in the service's own upload folder under the upload's id with the extension of what
it is; the client's file name is kept for display only (and never opened: a client names no path on the server).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .store import Upload, new_id

IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "flac": "audio/flac", "m4a": "audio/mp4"}
MAX_AUDIO_SECONDS = 3600
CHUNK = 1 << 16


class UploadProblem(Exception):
    """An upload we refuse: `status` is 413 (too big) or 422 (not what it claims / not usable)."""

    def __init__(self, status: int, message: str, hint: str):
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


ARTICLE_TYPES = {"txt": "text/plain", "md": "text/markdown", "html": "text/html"}
MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
KINDS = ("image", "audio", "article")


@dataclass(frozen=True)
class Limits:
    image_bytes: int
    audio_bytes: int
    image_pixels: int
    article_bytes: int = 5 * 1024 * 1024


def sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def sniff_audio(head: bytes) -> str | None:
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "m4a"
    return None


def display_name(name: str | None) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    base = re.sub(r"[^\w.\- ]+", "_", base, flags=re.UNICODE).strip()[:100]
    return base or "upload"


def save_upload(source: BinaryIO, name: str | None, kind: str, folder: Path, limits: Limits) -> Upload:
    """Copy `source` into `folder` (refusing it past the size limit), check what it is, and return the Upload.

    Raises UploadProblem; nothing of a refused upload is left on disk.
    """
    if kind not in KINDS:
        raise UploadProblem(
            422, f"unknown upload kind '{kind[:40]}'", "kind is image (an init image), audio (music) or article"
        )
    limit = {"image": limits.image_bytes, "audio": limits.audio_bytes, "article": limits.article_bytes}[kind]
    folder.mkdir(parents=True, exist_ok=True)
    upload_id = new_id()
    tmp = folder / f".{upload_id}.part"
    size = 0
    try:
        with open(tmp, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadProblem(
                        413,
                        f"the {kind} upload is larger than {_mb(limit)}",
                        f"send a smaller file (at most {_mb(limit)})",
                    )
                out.write(chunk)
        if size == 0:
            raise UploadProblem(422, "the uploaded file is empty", f"attach the {kind} file")
        with open(tmp, "rb") as f:
            head = f.read(64)
        if kind == "article":
            final, mime = _keep_article(tmp, folder / upload_id, display_name(name))
            return Upload(id=upload_id, kind=kind, type=mime, bytes=size, name=display_name(name), path=final, created=time.time())
        if kind == "image":
            ext = sniff_image(head)
            if ext is None:
                raise UploadProblem(422, "the uploaded file is not an image", "send a PNG, JPEG or WebP picture")
            _check_image(tmp, ext, limits.image_pixels)
            mime = IMAGE_TYPES[ext]
        else:
            ext = sniff_audio(head)
            if ext is None:
                raise UploadProblem(422, "the uploaded file is not audio", "send music as WAV, MP3, Ogg, FLAC or M4A")
            _check_audio(tmp)
            mime = AUDIO_TYPES[ext]
        final = folder / f"{upload_id}.{ext}"
        os.replace(tmp, final)
        return Upload(id=upload_id, kind=kind, type=mime, bytes=size, name=display_name(name), path=final, created=time.time())
    finally:
        tmp.unlink(missing_ok=True)


def article_kind(data: bytes, name: str) -> str:
    """txt, md or html: a page by its bytes (or a .html name), Markdown by its name, else plain text."""
    from ..sources.article import _looks_like_html

    suffix = os.path.splitext(name)[1].lower()
    if suffix in HTML_SUFFIXES or _looks_like_html(data):
        return "html"
    return "md" if suffix in MARKDOWN_SUFFIXES else "txt"


def _keep_article(tmp: Path, stem: Path, name: str) -> tuple[Path, str]:
    """Check the uploaded article (UTF-8, enough words; read as `make --article` reads a file) and keep it as
    `stem.EXT`; (the stored file, its MIME type). Messages name the client's file, never the server's path."""
    data = tmp.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadProblem(422, f"the article {name} is UTF-16, not UTF-8 text", "save it as UTF-8 and upload it again")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadProblem(
            422,
            f"the article {name} is not UTF-8 text (byte 0x{data[exc.start]:02X} at offset {exc.start})",
            "save it as UTF-8 (most editors offer it under 'Save as' / encoding) and upload it again",
        ) from None
    ext = article_kind(data, name)
    final = stem.with_name(f"{stem.name}.{ext}")
    os.replace(tmp, final)
    try:
        read_uploaded_article(final, name)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return final, ARTICLE_TYPES[ext]


def read_uploaded_article(path: Path, name: str):
    """The stored article as a `Source` named by the client's file name; an UploadProblem (422) when it is no
    article (empty, too few words, an HTML page without article text). Runs at upload and again in the worker."""
    from ..errors import NewsreelError
    from ..sources.article import read_article

    try:
        source = read_article(path)
    except NewsreelError as exc:
        message = exc.message.replace(str(path), name)  # the server's folder never reaches the client
        hint = (exc.hint or "").replace("--article FILE", "an article upload").replace("--article", "the upload")
        if "newsreel make" in hint:  # the command line's advice; a client sends a headline instead
            hint = "upload the whole article, or send a headline alone"
        raise UploadProblem(422, message, hint or "upload one article's text as UTF-8") from None
    return source.model_copy(update={"file": name})


def _check_image(path: Path, ext: str, max_pixels: int) -> None:
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = (img.format or "").lower()
                width, height = img.size
                if fmt != ext:
                    raise UploadProblem(422, "the uploaded image is damaged or not what its header says", "send a PNG, JPEG or WebP picture")
                if width * height > max_pixels:
                    raise UploadProblem(
                        413,
                        f"the image is {width}x{height} pixels; the limit is {max_pixels // 1_000_000} megapixels",
                        "scale it down before uploading",
                    )
                img.load()  # decode every pixel: a truncated or corrupt file fails here
    except UploadProblem:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadProblem(422, "the uploaded image is damaged and cannot be decoded", "send a PNG, JPEG or WebP picture that opens in an image viewer") from None


def _check_audio(path: Path) -> None:
    from ..errors import NewsreelError
    from ..media import FfmpegError, probe

    try:
        info = probe(path)
    except (FfmpegError, NewsreelError, OSError):
        raise UploadProblem(422, "the uploaded file is not playable audio", "send music as WAV, MP3, Ogg, FLAC or M4A") from None
    if info.audio is None or not info.duration or info.duration <= 0:
        raise UploadProblem(422, "the uploaded file has no audio in it", "send music as WAV, MP3, Ogg, FLAC or M4A")
    if info.duration > MAX_AUDIO_SECONDS:
        raise UploadProblem(422, f"the music is {info.duration / 60:.0f} minutes long; the limit is an hour", "cut it shorter")


UPLOAD_REF = re.compile(r"^upload:([0-9a-f]{16})$")


def upload_refs(options: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, upload id) for every upload reference in request options: `init_image`, `music`, and string values of
    `params.STAGE.KEY` (e.g. a compose provider's music file), written as "upload:ID"."""
    found = []
    for option in ("init_image", "music"):
        value = options.get(option)
        if isinstance(value, str) and (m := UPLOAD_REF.match(value)):
            found.append((option, m.group(1)))
    for stage, values in (options.get("params") or {}).items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, str) and (m := UPLOAD_REF.match(value)):
                    found.append((f"params.{stage}.{key}", m.group(1)))
    return found


def resolve_uploads(options: dict[str, Any], store: Any) -> dict[str, Any]:
    """A copy of `options` with each upload reference replaced by the stored file's path (server side only)."""
    resolved = json.loads(json.dumps(options))
    for where, upload_id in upload_refs(options):
        upload = store.get_upload(upload_id)
        path = str(upload.path) if upload is not None else f"upload:{upload_id}"
        if where in ("init_image", "music"):
            resolved[where] = path
        else:
            _, stage, key = where.split(".", 2)
            resolved["params"][stage][key] = path
    return resolved


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"
