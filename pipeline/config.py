"""One settings model. Defaults < user config dir newsreel.toml < ./newsreel.toml < NEWSREEL_* env < CLI flags."""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from .errors import NewsreelError

Aspect = Literal["16:9", "9:16", "1:1"]

# Frame size per aspect ratio (the default 16:9 is 720p; 1080p is a compose parameter away).
FRAME_SIZES: dict[str, tuple[int, int]] = {"16:9": (1280, 720), "9:16": (1080, 1920), "1:1": (1080, 1080)}

# Environment variables that hold secrets, besides NEWSREEL_* ones. Never logged, cached or written out.
SECRET_ENV = ("OPENAI_API_KEY",)

# A --config file for the settings being built now (a context variable, so nothing leaks into the process env).
_EXTRA_CONFIG: ContextVar[Path | None] = ContextVar("newsreel_extra_config", default=None)


SECRET_FIELDS = ("openai_api_key", "service_token")

# Presets: a named bundle of option defaults (`--preset NAME`, "preset" in a batch line or a web request). A preset's
# values sit under the options given with it (an explicit `--no-reveal` wins over `--preset lesson`) and over
# newsreel.toml. Keys are `jobs.MakeOptions` fields. Add one here, with a line in README.md.
PRESETS: dict[str, dict[str, Any]] = {
    # For showing what AI video is: the end card says how the clip was made and lists what the script invented.
    "lesson": {"reveal": True},
}


def preset_options(name: str) -> dict[str, Any]:
    """The option defaults of preset `name`; an unknown name is a one-line error naming the presets."""
    if name not in PRESETS:
        raise NewsreelError(f"unknown preset '{name}'", f"presets: {', '.join(sorted(PRESETS))}")
    return dict(PRESETS[name])


class ProviderChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    script: str = "local"
    image: str = "auto"  # diffusers when a Stable Diffusion model is on this machine, else slate
    voice: str = "auto"  # Piper when piper-tts (the piper extra) is installed, else espeak
    captions: str = "subtitles"
    presenter: str = "anchor"  # the drawn anchor; `none` keeps the picture-only look
    compose: str = "ffmpeg"


def config_files() -> list[Path]:
    """Lowest priority first."""
    return [platformdirs.user_config_path("newsreel") / "newsreel.toml", Path.cwd() / "newsreel.toml"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSREEL_", env_nested_delimiter="__", extra="forbid")

    seed: int = Field(0, ge=0, lt=2**32, description="same headline + seed -> same video")
    aspect: Aspect = "16:9"
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")
    target_seconds: float = Field(60.0, gt=5, le=600, description="narration length to aim for")
    fps: int = Field(30, ge=10, le=60)
    # An end card after the narration saying how the clip was made and what the script invented (pipeline/reveal.py).
    reveal: bool = False
    cache_dir: Path = Field(default_factory=lambda: platformdirs.user_cache_path("newsreel"))
    models_dir: Path | None = None  # converted model files kept between runs; default: <cache_dir>/models
    providers: ProviderChoice = ProviderChoice()
    # Per-stage provider parameters, validated by the chosen provider's Params model.
    script: dict[str, Any] = {}
    image: dict[str, Any] = {}
    voice: dict[str, Any] = {}
    captions: dict[str, Any] = {}
    presenter: dict[str, Any] = {}
    compose: dict[str, Any] = {}
    openai_api_key: SecretStr | None = None
    service_token: SecretStr | None = None  # required by `newsreel serve` on any address but loopback
    service_allow_private_urls: bool = False  # `newsreel serve --allow-private-urls`: clients' URLs may be private
    # C2PA signing identity: your key and certificate chain (leaf first). Unset: a local identity made on first use.
    c2pa_key: Path | None = None
    c2pa_cert: Path | None = None
    c2pa_trust: list[Path] = []  # extra trust anchors for `newsreel verify`

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = [p for p in config_files() if p.is_file()]
        extra = _EXTRA_CONFIG.get()
        if extra is not None:
            files.append(extra)
        # pydantic-settings gives the first source priority, so the most specific file comes first.
        tomls = [TomlConfigSettingsSource(settings_cls, toml_file=p) for p in reversed(files)]
        return (init_settings, env_settings, *tomls)

    @property
    def frame_size(self) -> tuple[int, int]:
        return FRAME_SIZES[self.aspect]

    def secrets(self) -> dict[str, str]:
        found = {name: os.environ[name] for name in SECRET_ENV if os.environ.get(name)}
        if self.openai_api_key is not None:
            found["OPENAI_API_KEY"] = self.openai_api_key.get_secret_value()
        return found

    def masked(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        for name in SECRET_FIELDS:
            if data.get(name):
                data[name] = "********"
        return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the effective settings; any problem becomes a one-line NewsreelError."""
    if config_file is not None and not Path(config_file).is_file():
        raise NewsreelError(f"config file {config_file} does not exist", "check the path given to --config")
    token = _EXTRA_CONFIG.set(Path(config_file) if config_file is not None else None)
    try:
        # Overrides deep-merge over the files and env (a partial `providers` dict keeps the other stages' choices).
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise NewsreelError(
            f"bad config value {where}: {err['msg']}",
            "fix it in newsreel.toml, the NEWSREEL_* environment variable or the flag that set it",
        ) from None
    except (OSError, ValueError) as exc:  # a TOML file that does not parse
        raise NewsreelError(f"cannot read the config: {exc}", "fix the syntax of newsreel.toml") from None
    finally:
        _EXTRA_CONFIG.reset(token)
