"""Image provider `openai-image`: the backgrounds painted by the OpenAI Images API (DALL-E 3, DALL-E 2,
gpt-image-1) or any OpenAI-compatible server given as `base_url` (`client.images.generate`).

One request per scene, with the scene's image prompt (or `prompt_override`). The picture comes back as base64 in
the answer (`b64_json`); a URL in the answer is never fetched, so the API is the only address contacted. The bytes
are decoded and checked with PIL before anything is written, cover-cropped to the video frame's aspect, scaled to
1.25 x the frame size (Lanczos, as the diffusers provider does) and watermarked like every generated picture.

What the API does not take is recorded, not faked: there is no seed (`seed` only names the cache entry: another seed
asks again, the same seed does not repeat a picture) and no negative prompt. DALL-E 3 rewrites prompts; what it
painted from (`revised_prompt`) goes into the image's notes.

The size asked for is the model's size closest to the frame's aspect (DALL-E 3: 1792x1024 for 16:9, 1024x1792 for
9:16; gpt-image-1: 1536x1024 / 1024x1536; DALL-E 2: squares only), or `size`. Against OpenAI itself `size`,
`quality` and `style` are checked against what the model takes; a `base_url` server gets what it is given.

Retries, errors and the key (OPENAI_API_KEY, from the secrets, never in params, notes, logs or errors) are the
shared `pipeline.providers._openai` code's.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ...errors import NewsreelError
from ...provider import Needs, Params, ProgressFn, ServerPath, operational
from ...stages.image import BackgroundImage, Backgrounds, ImageProvider
from ...stages.script import Script
from .._openai import API_KEY, OpenAICompatible, plain_http_url, server_message
from . import _watermark

log = logging.getLogger(__name__)

DEFAULT_MODEL = "dall-e-3"
OVERSAMPLE = 1.25  # the saved image is this much larger than the video frame (room for the compose stage's motion)
PNG_LEVEL = 1  # as the diffusers provider: fast zlib, files a little larger
MAX_PIXELS = 50_000_000  # a picture larger than this in an answer is refused, not decoded
POLICY_CODES = ("content_policy_violation", "moderation_blocked")  # DALL-E's and gpt-image's refusal codes


class Family:
    """What OpenAI documents for a family of image models."""

    def __init__(self, sizes: tuple[str, ...], qualities: tuple[str, ...], styles: bool, prompt_chars: int, b64: bool):
        self.sizes = sizes  # the first is the square one
        self.qualities = qualities
        self.styles = styles  # takes style=vivid|natural
        self.prompt_chars = prompt_chars
        self.b64 = b64  # takes response_format=b64_json (gpt-image models always answer base64 and refuse it)


FAMILIES = {
    "dall-e-3": Family(("1024x1024", "1792x1024", "1024x1792"), ("standard", "hd"), True, 4000, True),
    "dall-e-2": Family(("1024x1024", "512x512", "256x256"), ("standard",), False, 1000, True),
    "gpt-image": Family(("1024x1024", "1536x1024", "1024x1536", "auto"), ("low", "medium", "high", "auto"), False, 32000, False),
}  # fmt: skip


def family_of(model: str) -> Family | None:
    name = model.strip().lower()
    if name in FAMILIES:
        return FAMILIES[name]
    if name.startswith("gpt-image"):
        return FAMILIES["gpt-image"]
    return None


def pick_size(family: Family | None, width: int, height: int) -> str:
    """The size to ask for: the family's size whose aspect is nearest the frame's (in log terms, so 16:9 and 9:16
    are as far from square); for a model of no known family, about a megapixel at the frame's aspect in steps of 64."""
    aspect = width / height
    if family is None:
        step, area = 64, 1024 * 1024
        w = math.sqrt(area * aspect)
        return f"{max(step, round(w / step) * step)}x{max(step, round(area / w / step) * step)}"
    fixed = [s for s in family.sizes if s != "auto"]
    return min(fixed, key=lambda s: (abs(math.log(_aspect(s) / aspect)), -_area(s)))


def _aspect(size: str) -> float:
    w, h = size.split("x")
    return int(w) / int(h)


def _area(size: str) -> int:
    w, h = size.split("x")
    return int(w) * int(h)


class OpenAIImageParams(Params):
    """Parameters of the `openai-image` provider."""

    model: str = Field(DEFAULT_MODEL, min_length=1)  # dall-e-3, dall-e-2, gpt-image-1, or what a base_url serves
    base_url: ServerPath | None = None  # an OpenAI-compatible server (it receives the API key)
    size: str | None = None  # "1792x1024", "auto" (gpt-image); None: the model's size nearest the frame's aspect
    quality: str | None = None  # dall-e-3: standard|hd; gpt-image: low|medium|high|auto; None: the server's default
    style: Literal["vivid", "natural"] | None = None  # dall-e-3 only; None: the server's default (vivid)
    prompt_override: str | None = None  # used for every scene instead of the script's image prompts
    seed: int = Field(0, ge=0)  # not sent (the API has no seed): a new seed only asks again
    width: int = Field(1280, ge=16)  # the video frame, filled in by the runner
    height: int = Field(720, ge=16)
    watermark: bool = True
    timeout: float = operational(180.0, gt=0, le=3600)  # a DALL-E 3 HD picture can take a minute
    max_retries: int = operational(4, ge=0, le=20)

    @field_validator("base_url")
    @classmethod
    def _plain_http_url(cls, value: str | None) -> str | None:
        return plain_http_url(value, "http://localhost:8080/v1")

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower().replace("\u00d7", "x")
        if value != "auto" and not re.fullmatch(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}", value):
            raise ValueError("must be WIDTHxHEIGHT such as 1792x1024, or auto")
        return value

    @field_validator("quality")
    @classmethod
    def _quality(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip().lower() or None

    @model_validator(mode="after")
    def _what_openai_takes(self) -> OpenAIImageParams:
        """Against OpenAI itself, refuse options the model does not take (a compatible server decides itself)."""
        family = family_of(self.model)
        if self.base_url is not None or family is None:
            return self
        if self.size is not None and self.size not in family.sizes:
            raise NewsreelError(
                f"{self.model} does not paint size {self.size}", f"use one of: {', '.join(family.sizes)}"
            )
        if self.quality is not None and self.quality not in family.qualities:
            raise NewsreelError(
                f"{self.model} has no quality '{self.quality}'", f"use one of: {', '.join(family.qualities)}"
            )
        if self.style is not None and not family.styles:
            raise NewsreelError(f"{self.model} takes no style", "style (vivid or natural) is for dall-e-3 only")
        return self


class OpenAIImage(OpenAICompatible, ImageProvider):
    name = "openai-image"
    run_options = frozenset({"seed", "width", "height"})
    version = "1"
    summary = "OpenAI Images API (DALL-E 3, DALL-E 2, gpt-image-1) or a compatible base_url; watermarked"
    needs = Needs(network=True, api_key=API_KEY, packages=("openai", "PIL"), extra="openai")
    Params = OpenAIImageParams
    service = "Images API"
    model_noun = "image model"
    model_option = "--set image.model=..."
    status_hint = "run again later"
    bad_request_hint = "check model, size, quality and style (e.g. --set image.size=1024x1024)"

    params: OpenAIImageParams

    def check(self) -> None:
        missing = self.missing_packages()
        if missing:
            raise NewsreelError(
                f"image provider 'openai-image' needs {', '.join(missing)}", "pip install 'newsreel[openai]'"
            )
        self.check_key()

    def identity(self) -> dict[str, Any]:
        return {"model": self.params.model, "base_url": self.url}

    # ---------------------------------------------------------------------------------------------------------------

    def run(self, *, script: Script, workdir: Path, progress: ProgressFn) -> Backgrounds:
        self.check()
        p = self.params
        family = family_of(p.model)
        size = p.size or pick_size(family, p.width, p.height)
        out_w, out_h = round(p.width * OVERSAMPLE), round(p.height * OVERSAMPLE)
        client = self.client()
        scenes = script.scenes
        written: list[Path] = []
        images: list[BackgroundImage] = []
        try:
            for s, scene in enumerate(scenes):
                progress(s / len(scenes), f"painting scene {s + 1}/{len(scenes)} with {p.model}")
                prompt, cut = _fit_prompt(p.prompt_override or scene.image_prompt, family)
                notes: dict[str, str] = {
                    "model": p.model,
                    "requested_size": size,
                    "seed": f"not supported by the Images API (not sent; {p.seed} only names the cache entry)",
                }
                if cut:
                    log.warning("image prompt of scene %d is over %s's limit; cut: %s", s + 1, p.model, cut)
                    notes["prompt_cut"] = cut
                if script.negative_prompt and not p.prompt_override:
                    notes["negative_prompt"] = "not supported by the Images API (not sent)"
                if p.quality:
                    notes["quality"] = p.quality
                if p.style:
                    notes["style"] = p.style
                data, revised = self._paint(client, prompt, size, family, s, len(scenes))
                picture = _decode(data, s, self.url)
                notes["generated"] = f"{picture.width}x{picture.height}"
                if revised:
                    notes["revised_prompt"] = self._redact(" ".join(revised.split()))
                final = self._finish(picture, out_w, out_h, notes)
                path = Path(workdir) / f"scene-{s + 1:02d}.png"
                written.append(path)
                final.save(path, format="PNG", compress_level=PNG_LEVEL)
                images.append(
                    BackgroundImage(
                        path=path, width=final.width, height=final.height, prompt=prompt, seed=None, notes=notes
                    )
                )
        except BaseException:
            for path in written:  # a failed run leaves nothing behind
                path.unlink(missing_ok=True)
            raise
        progress(1.0, f"{len(images)} picture{'s' if len(images) != 1 else ''} painted")
        return Backgrounds(images=images)

    def _paint(
        self, client: Any, prompt: str, size: str, family: Family | None, scene: int, scenes: int
    ) -> tuple[str, str]:
        """One picture from the API -> (its base64 text, the revised prompt or ""), retried on transient errors."""
        import openai

        p = self.params
        request: dict[str, Any] = {"model": p.model, "prompt": prompt, "n": 1, "size": size}
        if family is None or family.b64:
            request["response_format"] = "b64_json"
        else:
            request["output_format"] = "png"
        if p.quality:
            request["quality"] = p.quality
        if p.style:
            request["style"] = p.style
        try:
            response = self.with_retries(client.images.generate, **request)
        except openai.BadRequestError as exc:
            if _policy_refusal(exc):
                where = f"scene {scene + 1} of {scenes}" if scenes > 1 else "the scene"
                raise NewsreelError(
                    f"the Images API refused the image prompt of {where} under its content policy "
                    f"({self._redact(server_message(exc))}); the prompt was: {_excerpt(prompt)}",
                    'reword that scene\'s image prompt (edit the script), or set --set image.prompt_override="..."',
                ) from None
            raise self._error(exc) from None
        except openai.APIError as exc:
            raise self._error(exc) from None
        items = getattr(response, "data", None) or []
        if not items:
            raise NewsreelError(
                f"the Images API at {self.url} answered scene {scene + 1} with no picture",
                "check base_url points at an OpenAI-compatible images server",
            )
        item = items[0]
        if not item.b64_json:
            what = "a URL only" if item.url else "no image data"
            raise NewsreelError(
                f"the Images API at {self.url} answered scene {scene + 1} with {what}; newsreel asks for b64_json and "
                "fetches nothing else",
                "use a server that supports response_format=b64_json",
            )
        return item.b64_json, item.revised_prompt or ""

    def _finish(self, picture: Any, out_w: int, out_h: int, notes: dict[str, str]) -> Any:
        """Cover-crop to the frame's aspect, scale to the oversampled frame size, watermark."""
        from PIL import Image, ImageOps

        final = ImageOps.fit(picture, (out_w, out_h), Image.Resampling.LANCZOS)
        return _watermark.mark_if_wanted(final, self.params.watermark, notes)


def _policy_refusal(exc: Any) -> bool:
    codes = {getattr(exc, "code", None)}
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            codes.add(inner.get("code"))
    return any(code in POLICY_CODES for code in codes)


def _excerpt(prompt: str, limit: int = 120) -> str:
    return '"' + (prompt if len(prompt) <= limit else prompt[:limit].rstrip() + "\u2026") + '"'


def _fit_prompt(text: str, family: Family | None) -> tuple[str, str]:
    """Keep what fits the model's prompt limit (characters), cut at a word boundary: (kept, cut)."""
    text = " ".join((text or "").split())
    if family is None or len(text) <= family.prompt_chars:
        return text, ""
    cut = text.rfind(" ", 0, family.prompt_chars + 1)
    cut = cut if cut > 0 else family.prompt_chars
    return text[:cut].rstrip(" ,;"), text[cut:].strip()


def _decode(data: str, scene: int, url: str) -> Any:
    """The answer's base64 text -> an RGB PIL image, or a NewsreelError saying the answer is not a picture."""
    from PIL import Image, UnidentifiedImageError

    def refuse(why: str) -> NewsreelError:
        return NewsreelError(
            f"the Images API at {url} answered scene {scene + 1} with something that is not a picture ({why})",
            "check base_url points at an OpenAI-compatible images server, and run again",
        )

    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("not base64") from None
    if not raw:
        raise refuse("empty")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise refuse(f"{image.width}x{image.height} is over {MAX_PIXELS // 1_000_000} megapixels")
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                picture = Image.new("RGB", rgba.size, (0, 0, 0))
                picture.paste(rgba, mask=rgba.getchannel("A"))  # transparency (gpt-image can paint it) over black
            else:
                picture = image.convert("RGB")
    except NewsreelError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        why = "PIL cannot read it" if isinstance(exc, UnidentifiedImageError) else str(exc) or type(exc).__name__
        raise refuse(why) from None
    return picture
