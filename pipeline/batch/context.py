"""`BatchContext`: what `run_batch` hands an engine, and how the engine hands back events and results.

An engine is a function `(items, ctx) -> interrupted`: it makes every item of the iterator (read lazily from the file,
so a long batch never sits in memory) and returns True when Ctrl-C stopped it. It passes every event its workers send
to `ctx.event()` and every item's result, exactly once, to `ctx.finish()`; items it never reached are filled in as
`pending` by `run_batch`. Engines: `local_engine.run_local` and `ray_engine.run_ray`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .events import BatchEvent, BatchSink
from .item import ItemResult


@dataclass
class BatchContext:
    """Where and how to run the items (output root, config file, worker count, GPU slots, Ray address), the sink
    that receives progress, and the results so far (by line) with the lines of the items now running."""

    out: Path
    config_file: Path | None
    total: int
    workers: int | None
    gpu_slots: int
    address: str | None
    sink: BatchSink
    results: dict[int, ItemResult] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)  # lines whose item-start came and item-done did not

    def event(self, event: BatchEvent) -> None:
        """Forward a worker's event to the sink (a late stage event of an item already done is dropped)."""
        if event.line is not None and event.line in self.results:
            return
        if event.kind == "item-start" and event.line is not None:
            self.started.add(event.line)
        self.sink(event)

    def finish(self, result: ItemResult) -> None:
        """Record an item's result and tell the sink (`item-done`)."""
        self.results[result.line] = result
        self.started.discard(result.line)
        self.sink(
            BatchEvent(
                kind="item-done",
                line=result.line,
                name=result.name,
                status=result.status,
                seconds=round(result.seconds, 3),
                error=result.error,
                cached=result.cached,
            )
        )
