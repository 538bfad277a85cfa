"""What every provider is: a named, versioned way to do one stage, with a parameters model.

Providers are plain picklable objects (their parameters plus lazily loaded models that are dropped when pickled),
so batch workers can receive them. Heavy imports (torch, transformers, diffusers) happen inside `run` or a loader
method, never at module import: a fully cached run must not import torch.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Annotated, Any, Callable, ClassVar, Literal, get_args, get_origin

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

from .errors import NewsreelError

ProgressFn = Callable[[float, str], None]


def no_progress(fraction: float, message: str = "") -> None:  # noqa: ARG001 - a do-nothing progress sink
    pass


class Params(BaseModel):
    """Base of every provider's parameters model: unknown keys are errors, not silently ignored; NaN and infinity
    are refused (they would poison cache keys and every comparison)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def operational(default: Any, **kwargs: Any) -> Any:
    """A parameter that changes how a provider works (timeouts, retries, devices) but not what it makes.

    It is recorded in run.json but left out of the cache key, so raising a timeout does not redo a stage.
    """
    extra = {**kwargs.pop("json_schema_extra", {}), "operational": True}
    return Field(default, json_schema_extra=extra, **kwargs)


@dataclass(frozen=True)
class ServerResource:
    """Marker for a parameter that names a file, folder or address on the machine that runs the provider (a model
    folder, a logo, a music file, an API base URL). Declare such a parameter with the types below, never plain
    `str`: the web service refuses these values from clients (they could read the server's files into a video or
    send its API key elsewhere) before anything is opened, unless its operator allows them; an uploaded file's
    reference ("upload:ID") is fine. The protection comes with the type, so a third-party provider gets it by
    declaring its fields this way. `plain_names`: a plain name (letters, digits, - and _, e.g. a shipped style
    "news") is not a resource; anything else (a path, a URL) is."""

    plain_names: bool = False

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        schema["server_resource"] = "names" if self.plain_names else "always"
        return schema


#: A file, folder or address on the server, e.g. `logo: ServerPath | None = None`.
ServerPath = Annotated[str, ServerResource()]
#: A plain name (a shipped style, "default") or else a file or folder on the server, e.g. `style: ServerPathOrName`.
ServerPathOrName = Annotated[str, ServerResource(plain_names=True)]


def server_resource(default: Any = None, *, names: bool = False, **kwargs: Any) -> Any:
    """The older spelling of a ServerPath (names=False) or ServerPathOrName (names=True) field, as a Field(...) on a
    plain `str` annotation. Still honoured; new code declares the type instead."""
    extra = {**kwargs.pop("json_schema_extra", {}), "server_resource": "names" if names else "always"}
    return Field(default, json_schema_extra=extra, **kwargs)


PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _marker_in(annotation: Any) -> str | None:
    """'always' / 'names' when a ServerResource marker or a pathlib type sits anywhere in the annotation
    (inside Optional, unions, lists, nested Annotated); None otherwise."""
    stack, kinds = [annotation], set()
    while stack:
        current = stack.pop()
        if isinstance(current, ServerResource):
            kinds.add("names" if current.plain_names else "always")
        elif get_origin(current) is None and isinstance(current, type) and issubclass(current, PurePath):
            kinds.add("always")  # a Path parameter is a path on the server whether or not its author marked it
        else:
            stack.extend(get_args(current))  # Annotated's metadata, a union's members, a list's item type
    return "always" if "always" in kinds else ("names" if kinds else None)


def server_resource_kind(field: FieldInfo) -> str | None:
    """How a parameter names something on the server: 'always' (any value but None), 'names' (any value but a
    plain name), or None (it does not): from its ServerResource marker or Path type, or server_resource()."""
    kinds = {_marker_in(field.annotation), *(_marker_in(m) for m in field.metadata)}
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    kinds.add(extra.get("server_resource"))  # type: ignore[arg-type]
    return "always" if "always" in kinds else ("names" if "names" in kinds else None)


def names_server_resource(params_model: type[BaseModel], key: str, value: Any) -> bool:
    """Whether `value` for parameter `key` of `params_model` names something on the server (see ServerResource).
    Looks only at the declaration and the value: nothing is opened or resolved."""
    field = params_model.model_fields.get(key)
    kind = server_resource_kind(field) if field is not None else None
    if kind is None or value is None:
        return False
    return not (kind == "names" and isinstance(value, str) and PLAIN_NAME.fullmatch(value))


class Needs(BaseModel):
    """What a provider needs to run, shown by `newsreel providers` and checked by `newsreel doctor`."""

    model_config = ConfigDict(frozen=True)

    network: bool = False
    gpu: Literal["no", "optional", "required"] = "no"
    api_key: str | None = None  # name of the environment variable / config key holding it
    packages: tuple[str, ...] = ()  # importable module names; missing ones make the provider unusable
    extra: str | None = None  # the `pip install newsreel[EXTRA]` that brings those packages

    def describe(self) -> str:
        parts = ["network" if self.network else "offline"]
        if self.gpu != "no":
            parts.append(f"GPU {self.gpu}")
        if self.api_key:
            parts.append(f"key {self.api_key}")
        if self.extra:
            parts.append(f"extra [{self.extra}]")
        return ", ".join(parts)


class Provider:
    """Base class. Subclasses set the class attributes and implement the stage's `run` signature."""

    stage: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[str] = "1"
    summary: ClassVar[str] = ""
    needs: ClassVar[Needs] = Needs()
    Params: ClassVar[type[Params]] = Params

    # Capabilities: what the core may know about a provider, declared here. The core asks these; it never tests a
    # provider's name. A provider that declares nothing gets the safe defaults below.
    #: It does no work itself: at plan time `delegate(params)` names the provider that really runs (image `auto`).
    delegates: ClassVar[bool] = False
    #: The run-level options (RUN_OPTIONS in pipeline/runner.py: seed, width, height, language, fps, target_seconds,
    #: words) this provider takes; the runner fills each one into the Params field of the same name. None are filled
    #: unless declared here.
    run_options: ClassVar[frozenset[str]] = frozenset()
    #: Its `run()` takes `source=`: the article the job is made from (`pipeline.sources.Source`), or None for a job
    #: made from a headline alone. Without it the provider never sees the article (the script is still checked
    #: against it: pipeline/grounding.py).
    takes_source: ClassVar[bool] = False

    @classmethod
    def delegate(cls, params: dict[str, Any], asked: frozenset[str] = frozenset()) -> tuple[str, dict[str, Any], str]:
        """For `delegates = True`: (the provider to use instead, its parameters, a one-line notice for the user).
        `params` merges the configuration and the request; `asked` names the ones this run's request set itself."""
        raise NotImplementedError(f"{cls.stage} provider '{cls.name}' declares delegates=True but no delegate()")

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this provider cannot run on this machine with its default parameters, in a few words (e.g. "piper-tts
        is not installed (pip install ...)"), or None when it can. Cheap (no model loading, no network): a
        delegating provider asks it to choose (voice `auto`). By default: the packages `needs` names."""
        missing = cls.missing_packages()
        if missing:
            how = f"pip install 'newsreel[{cls.needs.extra}]'" if cls.needs.extra else f"pip install {' '.join(missing)}"
            return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed ({how})"
        return None

    @classmethod
    def param_choices(cls) -> dict[str, list[str]]:
        """Values a form may offer for some parameters (e.g. the shipped style names); {} when there are none."""
        return {}

    def uses_gpu(self) -> bool:
        """Whether this provider, with its parameters, will put work on a GPU (batch engines cap such stages)."""
        return self.needs.gpu != "no"

    def provenance(self) -> dict[str, Any]:
        """Facts this provider adds to the run's provenance (run.json and the C2PA manifest), beyond its name,
        version, parameters and `identity()`: e.g. the visible label it draws, its prompt templates' hashes. JSON
        values only."""
        return {}

    def runs_locally(self) -> bool:
        """Whether this provider, with its parameters, does its work on this machine with nothing to pay: no network
        service, no API key. The reveal card says "at no cost" only when every provider of the run says so."""
        return not self.needs.network and self.needs.api_key is None

    def model_label(self) -> str:
        """The model (or program) that does the work, in a few words for a viewer: the reveal card's "Voice:
        espeak". Default: the provider's name, with its `model` parameter's last part when it has one."""
        model = getattr(self.params, "model", None)
        if isinstance(model, str) and model.strip():
            return f"{self.name} ({model.strip().rstrip('/').rsplit('/', 1)[-1]})"
        return self.name

    def __init__(
        self,
        params: BaseModel | dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        models_dir: Path | None = None,
    ):
        self.params = params if isinstance(params, self.Params) else self.parse_params(params or {})
        # Where converted or downloaded model files are kept between runs (not part of any cache key).
        self.models_dir = Path(models_dir) if models_dir else platformdirs.user_cache_path("newsreel") / "models"
        # Secrets never enter params: params go into cache keys and run.json, secrets must not.
        self._secrets = dict(secrets or {})

    @classmethod
    def parse_params(cls, raw: dict[str, Any]) -> Params:
        try:
            return cls.Params.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "parameters"
            fields = ", ".join(cls.Params.model_fields) or "none"
            raise NewsreelError(
                f"{cls.stage} provider '{cls.name}': bad parameter {where}: {err['msg']}",
                f"its parameters are: {fields}",
            ) from None

    def key_params(self) -> dict[str, Any]:
        """The parameters that go into the cache key: all of them but the operational ones."""
        return {
            name: value
            for name, value in self.params.model_dump(mode="json").items()
            if not (self.Params.model_fields[name].json_schema_extra or {}).get("operational")
        }

    @classmethod
    def missing_packages(cls) -> list[str]:
        return [m for m in cls.needs.packages if importlib.util.find_spec(m) is None]

    def check(self) -> None:
        """Cheap pre-flight check (no heavy imports). Raise NewsreelError saying how to fix what is missing."""
        missing = self.missing_packages()
        if missing:
            how = f"pip install 'newsreel[{self.needs.extra}]'" if self.needs.extra else f"pip install {' '.join(missing)}"
            raise NewsreelError(f"{self.stage} provider '{self.name}' needs {', '.join(missing)}", how)
        if self.needs.api_key and not self._secrets.get(self.needs.api_key):
            raise NewsreelError(
                f"{self.stage} provider '{self.name}' needs an API key",
                f"set the environment variable {self.needs.api_key}",
            )

    def identity(self) -> dict[str, Any]:
        """Model identities (file hashes, revisions) recorded in run.json. Cheap; no model loading."""
        return {}

    def __getstate__(self) -> dict[str, Any]:
        # Loaded models and handles (attributes starting with "_") stay in their process; secrets travel.
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        state["_secrets"] = self._secrets
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<{self.stage} provider {self.name}@{self.version} {self.params!r}>"
