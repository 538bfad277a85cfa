"""Image provider `auto` (the default): local Stable Diffusion when its model is on this machine, else `slate`.

It does no work itself. At plan time it looks for the configured model without touching the network and hands the
stage to `diffusers` or `slate`, with a one-line notice saying which and why. The run then records the provider that
really ran, so cache keys and run.json never mention `auto`.
"""

from __future__ import annotations

from typing import Any

from ...errors import NewsreelError
from ...provider import Needs
from ...stages.image import ImageProvider


class AutoImage(ImageProvider):
    name = "auto"
    summary = "Stable Diffusion (diffusers) when its model is on this machine, otherwise the slate backdrop"
    needs = Needs()
    delegates = True

    @classmethod
    def delegate(cls, params: dict[str, Any], asked: frozenset[str] = frozenset()) -> tuple[str, dict[str, Any], str]:
        """(provider to use, its parameters, a one-line notice)."""
        from ...plugins import provider_class

        if {"model", "init_image", "strength"} & asked:
            # Asking for a model or img2img means Stable Diffusion, not a fallback to the slate: diffusers' own
            # pre-flight then says what is missing.
            return "diffusers", params, "image: Stable Diffusion (diffusers), because its parameters were given"

        try:
            diffusers = provider_class("image", "diffusers")
        except NewsreelError:
            diffusers = None
        if diffusers is not None and not diffusers.missing_packages():
            from .diffusers import DEFAULT_MODEL, resolve_model

            model = params.get("model", DEFAULT_MODEL)
            try:
                resolve_model(str(model))
            except NewsreelError as exc:
                reason = f"Stable Diffusion model {model} is not on this machine ({exc.hint})"
            else:
                return "diffusers", params, f"image: Stable Diffusion {model} (diffusers)"
        else:
            reason = "diffusers is not installed (pip install 'newsreel[diffusers]')"
        slate = provider_class("image", "slate")
        kept = {k: v for k, v in params.items() if k in slate.Params.model_fields}
        return "slate", kept, f"image: the 'slate' backdrop, because {reason}"
