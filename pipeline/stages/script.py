"""Stage 1, script: headline -> the anchor's narration, split into sentences, with an image prompt."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ..artifacts import Artifact
from ..errors import NewsreelError
from ..provider import ProgressFn, Provider
from ..words import count_words

MAX_HEADLINE_CHARS = 300


# Bidi embeddings, overrides and isolates: they reorder what is displayed, so a title could read differently from
# its text (the "Trojan Source" trick). A right-to-left headline needs none of them.
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
_CONTROL_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\x1b": "an escape"}


def check_headline(text: str) -> str:
    """A headline is one line of printable text, 1-300 characters. It is data, never instructions."""
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs":  # what undecodable bytes on the command line (surrogateescape) or a JSON "\ud800" become
            raise NewsreelError(
                f"the headline is not valid Unicode text (it holds the lone surrogate U+{ord(ch):04X}, e.g. from bytes "
                "that are not UTF-8)",
                "pass the headline as UTF-8 text",
            )
        if category == "Cc":
            what = _CONTROL_NAMES.get(ch, "a control character")
            raise NewsreelError(
                f"the headline contains control characters (U+{ord(ch):04X}, {what})", "pass one line of plain text"
            )
        if ch in BIDI_CONTROLS:
            raise NewsreelError(
                f"the headline contains the bidi control U+{ord(ch):04X} ({unicodedata.name(ch)}), which can make a "
                "title read differently from its text",
                "remove it: right-to-left headlines need no control characters",
            )
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise NewsreelError("the headline is empty", 'pass the headline in quotes, e.g. newsreel make "Breakthrough in Mars Project"')
    if len(text) > MAX_HEADLINE_CHARS:
        raise NewsreelError(
            f"the headline is {len(text)} characters long; the limit is {MAX_HEADLINE_CHARS}",
            "shorten it to one headline, not an article",
        )
    return text


Headline = Annotated[str, AfterValidator(check_headline)]


class Scene(BaseModel):
    """A stretch of the narration shown over one background image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentences: list[int]  # indices into Script.sentences, consecutive
    image_prompt: str


class Script(Artifact):
    notes: dict[str, Any] = {}  # provider facts for run.json (alignment score, prompt cuts, ...)
    headline: str
    title: str
    sentences: list[str] = Field(min_length=1)
    image_prompt: str
    negative_prompt: str = ""
    language: str = "en"
    scenes: list[Scene] = []
    words_target: int = 0  # the word budget the stage was asked for
    model: str = ""  # which model wrote it

    @model_validator(mode="after")
    def _one_scene_by_default(self) -> "Script":
        if not self.scenes:
            object.__setattr__(self, "scenes", [Scene(sentences=list(range(len(self.sentences))), image_prompt=self.image_prompt)])
        return self

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def word_count(self) -> int:
        """Words as a narrator speaks them (`pipeline.words.count_words`: one per Chinese/Japanese character)."""
        return count_words(self.text)

    def exports(self) -> dict[str, Path | bytes]:
        return {"script.json": json.dumps(self.to_json(), indent=2, ensure_ascii=False).encode() + b"\n"}


class ScriptProvider(Provider):
    stage = "script"

    def run(self, *, headline: str, workdir: Path, progress: ProgressFn) -> Script:
        raise NotImplementedError


def broken_rule(script: Script, **_: object) -> str | None:
    """The first rule of the script contract `script` breaks, in words, or None: every sentence and the title have
    text, and the scenes take the sentences in order, each sentence exactly once, none of them empty."""
    for k, sentence in enumerate(script.sentences, start=1):
        if not sentence.strip():
            return f"sentence {k} of {len(script.sentences)} is empty"
    if not script.title.strip():
        return "its title is empty"
    covered = [i for scene in script.scenes for i in scene.sentences]
    if covered != list(range(len(script.sentences))) or any(not scene.sentences for scene in script.scenes):
        listed = [scene.sentences for scene in script.scenes]
        return (f"its scenes list sentences {listed}; they must take sentences 0-{len(script.sentences) - 1} in order, "
                "each once, every scene at least one")
    return None
