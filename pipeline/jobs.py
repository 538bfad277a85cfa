"""What one `make` asks for, as one serialisable pydantic model shared by the CLI, batch files and the web API.

A `MakeOptions` is plain data (JSON in, JSON out), so a batch line or an HTTP request validates exactly like the
command line does, and a queued job can be stored and resumed. `plan()` turns it into providers ready to run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .config import Aspect, load_settings, preset_options
from .errors import NewsreelError
from .plugins import check_stage
from .runner import Plan, build_plan
from .sources.model import Source
from .stages.script import MAX_HEADLINE_CHARS, Headline, check_headline

# Flag-style shortcuts for common provider parameters: option name -> (stage, parameter).
SHORTCUTS: dict[str, tuple[str, str]] = {
    "image_model": ("image", "model"),
    "init_image": ("image", "init_image"),
    "strength": ("image", "strength"),
    "voice": ("voice", "voice"),
    "music": ("compose", "music"),
}


class MakeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headline: Headline | None = None  # optional when the source has a title (it becomes the headline)
    source: Source | None = None  # the article the video is made from (pipeline/sources/)
    url: str | None = Field(None, max_length=4000)  # an article to fetch into `source` (sources.resolve_options)
    refresh: bool = False  # fetch `url` again instead of using the cached fetch
    public_only: bool = False  # fetch `url` from public addresses only (a public feed's links); it can only restrict
    seed: int | None = Field(None, ge=0, lt=2**32)
    aspect: Aspect | None = None
    lang: str | None = None
    providers: dict[str, str] = {}  # stage -> provider name
    params: dict[str, dict[str, Any]] = {}  # stage -> provider parameters
    image_model: str | None = None
    init_image: str | None = None
    strength: float | None = None
    voice: str | None = None
    music: str | None = None
    presenter: str | None = None  # the presenter stage's provider (none, anchor, sprites): providers.presenter
    reveal: bool | None = None  # the reveal end card (pipeline/reveal.py); None: the preset's, else the config's
    preset: str | None = Field(None, max_length=40)  # a bundle of option defaults (config.PRESETS), e.g. "lesson"
    force: list[str] = []
    no_cache: bool = False

    @model_validator(mode="before")
    @classmethod
    def _unicode_text(cls, data: Any) -> Any:
        # A lone surrogate (undecodable bytes on the command line, "\ud800" in JSON) cannot be written to run.json
        # or a file name; refuse it here, naming the option. The headline's own check says it for the headline.
        if isinstance(data, dict):
            where = _first(_has_lone_surrogate, {k: v for k, v in data.items() if k != "headline"})
            if where is not None:
                raise NewsreelError(
                    f"the option {where} is not valid Unicode text (it holds a lone surrogate, e.g. from bytes that "
                    "are not UTF-8)",
                    "pass UTF-8 text; a file whose name is not UTF-8 needs renaming",
                )
            # JSON's NaN, Infinity and 1e999 parse to floats no parameter means, and run.json could not hold them.
            where = _first(_not_finite, data)
            if where is not None:
                raise NewsreelError(f"the option {where} is not a finite number", "give an ordinary number")
        return data

    @model_validator(mode="after")
    def _preset_known(self) -> "MakeOptions":
        if self.preset is not None:
            preset_options(self.preset)  # an unknown name fails here, in validation, before any work
        return self

    @model_validator(mode="after")
    def _headline_or_source(self) -> "MakeOptions":
        if self.headline is None:
            if self.source is not None and self.source.title:
                object.__setattr__(self, "headline", headline_from_title(self.source.title))
            elif self.source is not None:
                raise NewsreelError(
                    f"the article {self.source.where} has no title to use as the headline", "give a headline too"
                )
            elif self.url is None:
                raise NewsreelError("the option 'headline' is required", 'e.g. {"headline": "Breakthrough in Mars Project"}')
        return self

    def with_source(self, source: Source) -> "MakeOptions":
        """These options with `source` (a fetched or read article); its title becomes the headline if none was given."""
        return type(self).model_validate({**self.model_dump(exclude={"source"}, exclude_unset=True), "source": source})

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "MakeOptions":
        """Validate; a problem becomes a one-line NewsreelError naming the option."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "options"
            if err["type"] == "extra_forbidden":
                known = ", ".join(cls.model_fields)
                raise NewsreelError(f"unknown option '{where}'", f"options are: {known}") from None
            if err["type"] == "missing":
                raise NewsreelError(f"the option '{where}' is required", 'e.g. {"headline": "Breakthrough in Mars Project"}') from None
            hint = _HINTS.get(where, "fix that value")
            raise NewsreelError(f"bad option {where}: {_said_with_value(err)}", hint) from None

    def plan(self, config_file: Path | None = None) -> Plan:
        for stage in [*self.providers, *self.params, *self.force]:
            check_stage(stage)
        providers = dict(self.providers)
        if self.presenter is not None:
            if providers.setdefault("presenter", self.presenter) != self.presenter:
                raise NewsreelError(
                    f"the presenter is given twice: presenter {self.presenter!r} and providers.presenter "
                    f"{providers['presenter']!r}",
                    "give it once",
                )
        params = {stage: dict(values) for stage, values in self.params.items()}
        for option, (stage, key) in SHORTCUTS.items():
            value = getattr(self, option)
            if value is not None:
                params.setdefault(stage, {})[key] = value
        # A preset's values fill only the options this request left unset.
        preset = preset_options(self.preset) if self.preset is not None else {}
        reveal = self.reveal if self.reveal is not None else preset.get("reveal")
        settings = load_settings(config_file, seed=self.seed, aspect=self.aspect, language=self.lang, providers=providers,
                                 reveal=reveal)
        return build_plan(settings, params)


def headline_from_title(title: str) -> str:
    """An article's title as a headline: one line, cut at a word boundary to the headline limit."""
    text = " ".join(title.split())
    if len(text) > MAX_HEADLINE_CHARS:
        cut = text[: MAX_HEADLINE_CHARS - 1]
        text = (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(" ,;:-") + "…"
    return check_headline(text)


_HINTS = {
    "seed": f"a seed is a whole number from 0 to {2**32 - 1}",
    "aspect": "use 16:9, 9:16 or 1:1",
    "strength": "0 keeps the init image, 1 ignores it",
}


def _said_with_value(err: Any) -> str:
    """pydantic's message with the value that was given: "-1 should be greater than or equal to 0"."""
    message = str(err["msg"]).rstrip(".")
    value = err.get("input")
    if not message.startswith("Input should") or not isinstance(value, (str, int, float)):
        return message
    if isinstance(value, int) and abs(value) >= 10**30:
        shown = "a number that large"  # and str() of a 5000-digit int raises
    else:
        shown = repr(value)[:60]
    return shown + message.removeprefix("Input")


def _has_lone_surrogate(value: Any) -> bool:
    return isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value)


def _not_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _first(bad: Callable[[Any], bool], value: Any, where: str = "") -> str | None:
    """The dotted path of the first value (or dict key) in `value` that is `bad`, else None."""
    if bad(value):
        return where or "value"
    if isinstance(value, dict):
        for key, item in value.items():
            if bad(key):
                return where or "options"  # the key itself stays out of the message
            found = _first(bad, item, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first(bad, item, where)
            if found is not None:
                return found
    return None
