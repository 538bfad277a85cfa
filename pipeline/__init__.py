"""newsreel: one headline in, a captioned, narrated, labelled one-minute video out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .runner import RunResult


def make_video(headline: str, **options: Any) -> "RunResult":
    """Make one video. Options are the same as `newsreel make`'s (out, seed, aspect, providers, ...)."""
    from .runner import make_video as _make_video

    return _make_video(headline, **options)
