"""The stage contracts, in the order the runner walks them (the default provider of each: config.ProviderChoice).

A stage says what it takes (earlier stages' artifacts, by stage name), what it gives (an artifact type), which of
its artifact's files land in the run folder under which names, and the rules its output must keep (`check_output`,
which the runner calls after every provider run, and the contract suites in `pipeline.stages.conformance` use). It
does no I/O policy: that is the runner's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..artifacts import Artifact
from ..errors import NewsreelError
from ..grounding import GROUNDING_VERSION, ground_script
from . import captions, compose, image, presenter, script, voice
from .captions import Captions, CaptionsProvider
from .compose import ComposeProvider, Reveal, Video
from .image import Backgrounds, BackgroundImage, ImageProvider
from .presenter import Presenter, PresenterProvider
from .script import Scene, Script, ScriptProvider
from .voice import Narration, VoiceProvider, WordTiming


@dataclass(frozen=True)
class Stage:
    name: str
    inputs: tuple[str, ...]  # names of the stages whose artifacts `run` receives, as keyword arguments
    output: type[Artifact]
    provider_base: type
    exports: Callable[[Artifact], dict[str, Path | bytes]]  # run-folder file name -> cache file or bytes
    # The first contract rule an output breaks, in words, or None: called as rules(artifact, **inputs).
    rules: Callable[..., str | None]
    # A step every provider's output passes before it is cached, whoever wrote it: finish(artifact, headline=...,
    # source=...) -> artifact. `finish_version` joins the stage's cache keys, so a changed step redoes the work.
    finish: Callable[..., Artifact] | None = None
    finish_version: str = ""
    # It draws the reveal card (pipeline/reveal.py) when the run asks for one: its providers' run() takes `reveal=`
    # and the card's digest joins its cache key (only then: a run without the card keeps its keys).
    takes_reveal: bool = False

    def check_output(self, provider: Any, artifact: Any, inputs: Mapping[str, Any]) -> None:
        """Raise NewsreelError naming the provider and the rule when `artifact`, what `provider` (an instance or
        its name) returned for `inputs` (the keyword arguments its run got, by stage name), breaks this stage's
        contract: the right type, every file it names present, and the stage's own rules."""
        name = provider if isinstance(provider, str) else getattr(provider, "name", type(provider).__name__)
        if not isinstance(artifact, self.output):
            problem = f"it returned {type(artifact).__name__}, not {self.output.__name__}"
        else:
            missing = next((f for f in artifact.files() if not f.is_file()), None)
            problem = f"its file {missing} does not exist" if missing else self.rules(artifact, **inputs)
        if problem:
            cls = type(provider)
            where = "the provider" if isinstance(provider, str) else f"{cls.__module__}.{cls.__qualname__}"
            raise NewsreelError(
                f"{self.name} provider '{name}' broke the {self.name} contract: {problem}",
                f"a bug in {where}: tell its author, or choose another {self.name} provider",
            )


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        # Every script is checked against its source (pipeline/grounding.py), whichever provider wrote it.
        Stage("script", ("headline",), Script, ScriptProvider, Script.exports, script.broken_rule,
              finish=ground_script, finish_version=f"grounding-{GROUNDING_VERSION}"),
        Stage("image", ("script",), Backgrounds, ImageProvider, Backgrounds.exports, image.broken_rule),
        Stage("voice", ("script",), Narration, VoiceProvider, Narration.exports, voice.broken_rule),
        Stage("captions", ("script", "voice"), Captions, CaptionsProvider, Captions.exports, captions.broken_rule),
        Stage("presenter", ("script", "voice"), Presenter, PresenterProvider, Presenter.exports, presenter.broken_rule),
        Stage("compose", ("script", "image", "voice", "captions", "presenter"), Video, ComposeProvider, Video.exports,
              compose.broken_rule, takes_reveal=True),
    )
}

__all__ = [
    "STAGES",
    "Stage",
    "Script",
    "Scene",
    "Backgrounds",
    "BackgroundImage",
    "Narration",
    "WordTiming",
    "Captions",
    "Video",
    "Reveal",
    "ScriptProvider",
    "ImageProvider",
    "VoiceProvider",
    "CaptionsProvider",
    "ComposeProvider",
]
