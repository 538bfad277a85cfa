"""The five stage contracts, in the order the runner walks them.

A stage says what it takes (earlier stages' artifacts, by stage name), what it gives (an artifact type), and which of
its artifact's files land in the run folder under which names. It does no I/O policy: that is the runner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..artifacts import Artifact
from ..grounding import GROUNDING_VERSION, ground_script
from .captions import Captions, CaptionsProvider
from .compose import ComposeProvider, Video
from .image import Backgrounds, BackgroundImage, ImageProvider
from .script import Scene, Script, ScriptProvider
from .voice import Narration, VoiceProvider, WordTiming


@dataclass(frozen=True)
class Stage:
    name: str
    inputs: tuple[str, ...]  # names of the stages whose artifacts `run` receives, as keyword arguments
    output: type[Artifact]
    provider_base: type
    exports: Callable[[Artifact], dict[str, Path | bytes]]  # run-folder file name -> cache file or bytes
    default_provider: str
    # A step every provider's output passes before it is cached, whoever wrote it: finish(artifact, headline=...,
    # source=...) -> artifact. `finish_version` joins the stage's cache keys, so a changed step redoes the work.
    finish: Callable[..., Artifact] | None = None
    finish_version: str = ""


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        # Every script is checked against its source (pipeline/grounding.py), whichever provider wrote it.
        Stage("script", ("headline",), Script, ScriptProvider, Script.exports, "local", ground_script,
              f"grounding-{GROUNDING_VERSION}"),
        Stage("image", ("script",), Backgrounds, ImageProvider, Backgrounds.exports, "slate"),
        Stage("voice", ("script",), Narration, VoiceProvider, Narration.exports, "espeak"),
        Stage("captions", ("script", "voice"), Captions, CaptionsProvider, Captions.exports, "subtitles"),
        Stage("compose", ("script", "image", "voice", "captions"), Video, ComposeProvider, Video.exports, "ffmpeg"),
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
    "ScriptProvider",
    "ImageProvider",
    "VoiceProvider",
    "CaptionsProvider",
    "ComposeProvider",
]
