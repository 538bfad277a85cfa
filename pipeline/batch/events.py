"""What a batch reports while it runs: `BatchEvent`s, handed to a sink (`BatchSink`).

The batch package only produces events; whoever runs a batch decides how to show them (the CLI: a rich progress
display, plain lines for a log, or `--json-progress`, which prints each event as one JSON object a line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from ..runner import Event


class BatchEvent(BaseModel):
    """One batch progress event.

    kinds: `batch-start` (total), `item-start` (line, name, headline), `stage` (line, name, event: the runner's stage
    event), `item-done` (line, name, status, seconds, error, cached), `batch-done` (counts, seconds, summary path).
    """

    kind: Literal["batch-start", "item-start", "stage", "item-done", "batch-done"]
    line: int | None = None
    name: str | None = None
    headline: str | None = None
    total: int | None = None
    event: Event | None = None
    status: str | None = None
    seconds: float | None = None
    error: str | None = None
    cached: int | None = None
    counts: dict[str, int] | None = None
    summary: str | None = None


BatchSink = Callable[[BatchEvent], None]
