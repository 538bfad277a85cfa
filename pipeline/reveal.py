"""The reveal card: an end card that tells the viewer how the clip was made (`--reveal`, on in the `lesson` preset).

It says that AI made the clip in N seconds on a computer (and "at no cost" when every provider that ran says it runs
locally: `Provider.runs_locally()`), which model wrote the script and from what (the headline alone, or the article's
title and site), which models made the pictures, the voice and the presenter (`Provider.model_label()`), and the
details the script invented: the grounding check's ungrounded items (pipeline/grounding.py, the script's
notes["grounding"]), or that every fact appeared in the source.

N is the sum of the recorded build seconds (`built_seconds`: how long each provider took when its cache entry was
made) of the stages whose artifacts compose receives. It is read from the cache entries, so a fully cached re-run
shows the same N, makes the same card and hits the compose stage's cache; it leaves out compose itself (the card is
drawn by it) and the time spent loading cache hits.

The runner builds the card before compose (core: it asks capabilities, never provider names), passes it to compose
providers as `reveal=`, folds its digest into compose's cache key and records `record()` in run.json. How it looks is
the style's `reveal.ass.j2` (templates/styles/); how much of the list fits a frame is compose's business
(pipeline/providers/compose/_reveal.py), and run.json keeps the whole text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .artifacts import canonical_json
from .hashing import sha256_bytes
from .provider import Provider
from .sources.model import Source
from .stages.compose import Reveal

# What run.json says N is.
SECONDS_MEAN = ("the build seconds of the stages that made the video's inputs (script, image, voice, captions, "
                "presenter), as recorded in their cache entries when they were made: the same on a cached re-run; "
                "composing the video is not counted")


def build_reveal(
    *,
    providers: Mapping[str, Provider],
    built_seconds: Mapping[str, float],
    script_notes: Mapping[str, Any],
    presenter_shown: bool,
    source: Source | None,
    language: str = "en",
) -> Reveal:
    """The card's text. `built_seconds`: each earlier stage's recorded build time; `script_notes`: the script
    artifact's notes (its `grounding`); `presenter_shown`: whether the run has a presenter (kind other than none)."""
    seconds = max(1, math.ceil(sum(built_seconds.values()) - 1e-9))
    free = all(p.runs_locally() for p in providers.values())
    made = f"Made by AI in {seconds} second{'s' if seconds != 1 else ''} on a computer"
    made += ", at no cost." if free else "."
    script = providers["script"].model_label()
    if source is None:
        origin = "the headline alone"
    else:
        title = " ".join((source.title or "an article").split())
        origin = f"\u201c{title}\u201d" + (f" ({where})" if (where := source_site(source)) else "")
    lines = [made, f"Script: {script}, from {origin}.", f"Pictures: {providers['image'].model_label()}.",
             f"Voice: {providers['voice'].model_label()}."]
    if presenter_shown:
        lines.append(f"Presenter: {providers['presenter'].model_label()}.")
    grounding = script_notes.get("grounding") or {}
    invented = [str(item) for item in grounding.get("ungrounded") or []]
    if invented:
        heading = ("Invented (not in the source):" if source is not None
                   else "Invented (no source to check against):")
    elif source is not None:
        heading = "Every fact appeared in the source."
    else:
        heading = "No names, numbers or dates to check."
    return Reveal(lines=lines, invented_heading=heading, invented=invented, seconds=seconds, at_no_cost=free,
                  sourced=source is not None, language=language)


def source_site(source: Source) -> str | None:
    """Where the article is from, for a viewer: its site's name, else the web address's host, else the file's name."""
    if source.site:
        return " ".join(source.site.split())
    url = source.final_url or source.url
    if url:
        host = urlsplit(url).hostname or ""
        return host.removeprefix("www.") or None
    return source.file


def reveal_digest(reveal: Reveal) -> str:
    """What the card enters the compose stage's cache key as."""
    return sha256_bytes(canonical_json(reveal.model_dump(mode="json")).encode())


def record(reveal: Reveal, compose_notes: Mapping[str, Any]) -> dict[str, Any]:
    """run.json's `reveal`: the card's whole text (every invented item, even those the frame had no room for), N and
    what it means, and what compose drew (its notes["reveal"]: the lines shown, how many items were left off)."""
    return {
        "lines": reveal.text_lines(),
        "invented": list(reveal.invented),
        "seconds": reveal.seconds,
        "seconds_means": SECONDS_MEAN,
        "at_no_cost": reveal.at_no_cost,
        "sourced": reveal.sourced,
        "drawn": dict(compose_notes.get("reveal") or {"drawn": False, "why": "the compose provider did not say"}),
        "digest": reveal_digest(reveal),
    }
