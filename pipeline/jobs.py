"""What one `make` asks for, as one serialisable pydantic model shared by the CLI, batch files and the web API.

A `MakeOptions` is plain data (JSON in, JSON out), so a batch line or an HTTP request validates exactly like the
command line does, and a queued job can be stored and resumed. `plan()` turns it into providers ready to run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import Aspect, load_settings
from .errors import NewsreelError
from .plugins import check_stage
from .runner import Plan, build_plan
from .stages.script import Headline

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

    headline: Headline
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
    force: list[str] = []
    no_cache: bool = False

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
            raise NewsreelError(f"bad option {where}: {err['msg']}", "fix that value") from None

    def plan(self, config_file: Path | None = None) -> Plan:
        for stage in [*self.providers, *self.params, *self.force]:
            check_stage(stage)
        providers = dict(self.providers)
        params = {stage: dict(values) for stage, values in self.params.items()}
        for option, (stage, key) in SHORTCUTS.items():
            value = getattr(self, option)
            if value is not None:
                params.setdefault(stage, {})[key] = value
        settings = load_settings(config_file, seed=self.seed, aspect=self.aspect, language=self.lang, providers=providers)
        return build_plan(settings, params)
