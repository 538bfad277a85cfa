"""The five stage contracts, in the order the runner walks them.

A stage says what it takes (earlier stages' artifacts, by stage name), what it gives (an artifact type), and which of
its artifact's files land in the run folder under which names. It does no I/O policy: that is the runner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..artifacts import Artifact
from .captions import Captions, CaptionsProvider
from .compose import ComposeProvider, Video
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
    default_provider: str


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("script", ("headline",), Script, ScriptProvider, Script.exports, "local"),
        Stage("image", ("script",), Backgrounds, ImageProvider, Backgrounds.exports, "slate"),
        Stage("voice", ("script",), Narration, VoiceProvider, Narration.exports, "espeak"),
        Stage("captions", ("script", "voice"), Captions, CaptionsProvider, Captions.exports, "subtitles"),
        Stage("presenter", ("script", "voice"), Presenter, PresenterProvider, Presenter.exports, "none"),
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
