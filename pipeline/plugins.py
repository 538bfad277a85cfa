"""Finding providers. Built-ins and third-party packages register the same way: an entry point "STAGE.NAME" ->
"module:Class" in the `newsreel.providers` group, pointing at a Provider subclass. The core never imports a provider
module by name; it only loads the entry point a run asks for.

The built-ins are listed here, in `BUILTINS` (as simonw/llm lists its default plugins), not read from newsreel's own
installed metadata: that metadata is written at `pip install` time, so a provider added to the source tree would
stay unknown until a reinstall, and a stale install could name a provider that no longer exists. pyproject.toml
declares the same entry points for tools that read metadata; tests/test_plugins.py keeps the two lists equal.

Third-party packages add to the table through their installed entry points. A third-party entry point that takes a
built-in's name does not replace it: the built-in wins, and `newsreel providers` lists the clash as a broken entry
saying how to rename it (`clashes()`), so a built-in can never be swapped for other code by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from .errors import NewsreelError
from .provider import Provider
from .stages import STAGES

GROUP = "newsreel.providers"
DISTRIBUTION = "newsreel"  # this package's own name: its installed entry points are BUILTINS, maybe stale

#: The providers that ship with newsreel, exactly as pyproject.toml's [project.entry-points."newsreel.providers"].
BUILTINS: dict[str, str] = {
    "script.local": "pipeline.providers.script.local:LocalScript",
    "script.openai": "pipeline.providers.script.openai:OpenAIScript",
    "script.text": "pipeline.providers.script.text:TextScript",
    "image.auto": "pipeline.providers.image.auto:AutoImage",
    "image.slate": "pipeline.providers.image.slate:SlateImage",
    "image.diffusers": "pipeline.providers.image.diffusers:DiffusersImage",
    "image.openai-image": "pipeline.providers.image.openai_image:OpenAIImage",
    "voice.auto": "pipeline.providers.voice.auto:AutoVoice",
    "voice.espeak": "pipeline.providers.voice.espeak:EspeakVoice",
    "voice.piper": "pipeline.providers.voice.piper:PiperVoice",
    "voice.openai-tts": "pipeline.providers.voice.openai_tts:OpenAITTSVoice",
    "captions.subtitles": "pipeline.providers.captions.subtitles:SubtitleCaptions",
    "presenter.none": "pipeline.providers.presenter.none:NoPresenter",
    "presenter.anchor": "pipeline.providers.presenter.anchor:AnchorPresenter",
    "presenter.sprites": "pipeline.providers.presenter.sprites:SpritePresenter",
    "compose.ffmpeg": "pipeline.providers.compose.ffmpeg:FfmpegCompose",
    "compose.moviepy": "pipeline.providers.compose.moviepy:MoviepyCompose",
}

REINSTALL_HINT = "a plugin you just added? reinstall its package: pip install -e ."


@dataclass(frozen=True)
class Clash:
    """A third-party entry point that names a built-in provider; it is ignored and the built-in is used."""

    stage: str
    name: str
    value: str  # what the third-party entry point points at
    package: str  # the distribution that declares it

    def error(self) -> NewsreelError:
        return NewsreelError(
            f"package '{self.package}' declares {self.stage}.{self.name} = {self.value}, the name of a built-in "
            f"{self.stage} provider; it is ignored and the built-in one is used",
            f"give it a name of its own in that package's entry points (e.g. {self.stage}.{self.package}-{self.name})"
            " and reinstall it: pip install -e .",
        )


def _key(entry_name: str) -> tuple[str, str]:
    stage, _, name = entry_name.partition(".")
    return stage, name


def _package(ep: EntryPoint) -> str:
    """The normalised name of the distribution that declares `ep` ("" when unknown)."""
    dist = getattr(ep, "dist", None)
    return re.sub(r"[-_.]+", "-", (dist.name if dist is not None else "") or "").lower()


def _third_party() -> list[EntryPoint]:
    """Installed entry points of the group, less newsreel's own (BUILTINS is the truth for those)."""
    return [ep for ep in entry_points(group=GROUP) if _package(ep) != DISTRIBUTION]


@lru_cache(maxsize=1)
def _entry_points() -> dict[tuple[str, str], EntryPoint]:
    """Every known provider: the built-ins, then the installed third-party entry points that do not clash."""
    found = {_key(name): EntryPoint(name=name, value=value, group=GROUP) for name, value in BUILTINS.items()}
    for ep in _third_party():
        found.setdefault(_key(ep.name), ep)  # a built-in's name stays the built-in's: see clashes()
    return found


def clashes() -> list[Clash]:
    """Installed third-party entry points that name a built-in provider with another target (they are ignored)."""
    out = []
    for ep in _third_party():
        if ep.name in BUILTINS and ep.value != BUILTINS[ep.name]:
            out.append(Clash(*_key(ep.name), ep.value, _package(ep) or "?"))
    return out


def provider_names(stage: str) -> list[str]:
    return sorted(name for (s, name) in _entry_points() if s == stage)


def check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise NewsreelError(f"unknown stage '{stage}'", f"stages are: {', '.join(STAGES)}")


def provider_class(stage: str, name: str) -> type[Provider]:
    """The Provider class of `stage`.`name`, imported now (only the one asked for)."""
    check_stage(stage)
    ep = _entry_points().get((stage, name))
    if ep is None:
        names = ", ".join(provider_names(stage)) or "none installed"
        raise NewsreelError(f"unknown {stage} provider '{name}'", f"{stage} providers are: {names}; {REINSTALL_HINT}")
    try:
        cls = ep.load()
    except ImportError as exc:
        raise NewsreelError(
            f"{stage} provider '{name}' could not be loaded ({exc})", f"reinstall the package that provides {ep.value}"
        ) from None
    base = STAGES[stage].provider_base
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise NewsreelError(f"entry point {ep.value} is not a {base.__name__}", "fix or uninstall the plugin that declares it")
    return cls


def all_providers() -> list[tuple[str, str, type[Provider] | NewsreelError]]:
    """Every provider of a known stage, in stage order; one that fails to load comes with its error, and so does
    each third-party entry point ignored for taking a built-in's name (after the built-in)."""
    order = list(STAGES)
    names = sorted((k for k in _entry_points() if k[0] in STAGES), key=lambda k: (order.index(k[0]), k[1]))
    found: list[tuple[str, str, type[Provider] | NewsreelError]] = []
    clashing = {}
    for clash in clashes():
        clashing.setdefault((clash.stage, clash.name), []).append(clash)
    for stage, name in names:
        try:
            found.append((stage, name, provider_class(stage, name)))
        except NewsreelError as exc:
            found.append((stage, name, exc))
        found += [(stage, name, c.error()) for c in clashing.get((stage, name), [])]
    return found
