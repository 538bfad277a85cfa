"""Finding providers. Built-ins and third-party packages register the same way: an entry point in the
`newsreel.providers` group named "STAGE.NAME" pointing at a Provider subclass. The core never imports a provider
module by name; it only loads the entry point a run asked for.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from .errors import NewsreelError
from .provider import Provider
from .stages import STAGES

GROUP = "newsreel.providers"


@lru_cache(maxsize=1)
def _entry_points() -> dict[tuple[str, str], EntryPoint]:
    found: dict[tuple[str, str], EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        stage, _, name = ep.name.partition(".")
        found[(stage, name)] = ep
    return found


def provider_names(stage: str) -> list[str]:
    return sorted(name for (s, name) in _entry_points() if s == stage)


def check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise NewsreelError(f"unknown stage '{stage}'", f"stages are: {', '.join(STAGES)}")


def provider_class(stage: str, name: str) -> type[Provider]:
    check_stage(stage)
    ep = _entry_points().get((stage, name))
    if ep is None:
        names = ", ".join(provider_names(stage)) or "none installed"
        raise NewsreelError(f"unknown {stage} provider '{name}'", f"{stage} providers are: {names}")
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
    """Every installed provider of a known stage, in stage order; one that fails to load comes with its error."""
    order = list(STAGES)
    names = sorted((k for k in _entry_points() if k[0] in STAGES), key=lambda k: (order.index(k[0]), k[1]))
    found: list[tuple[str, str, type[Provider] | NewsreelError]] = []
    for stage, name in names:
        try:
            found.append((stage, name, provider_class(stage, name)))
        except NewsreelError as exc:
            found.append((stage, name, exc))
    return found
