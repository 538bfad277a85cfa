"""Presenter provider `none`: no presenter, so the video keeps its picture-under-captions look."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ...provider import Params, ProgressFn
from ...stages.presenter import Presenter, PresenterProvider
from ...stages.script import Script
from ...stages.voice import Narration


class NoPresenter(PresenterProvider):
    name = "none"
    summary = "no presenter: the picture under captions"
    run_options = frozenset({"fps"})

    class Params(Params):
        fps: int = Field(30, ge=1, le=120)

    def run(self, *, script: Script, voice: Narration, workdir: Path, progress: ProgressFn) -> Presenter:
        return Presenter.nobody(fps=self.params.fps, duration=voice.duration)
