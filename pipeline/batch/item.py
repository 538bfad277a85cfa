"""One batch item: what it is (`BatchItem`), what became of it (`ItemResult`), and making it (`run_item`).

`run_item` runs inside a worker (a local pool process or a Ray task): it skips an item whose folder already holds
what this request would make, otherwise runs it through the runner, and never raises for the item's own problems.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ..errors import NewsreelError
from ..jobs import MakeOptions
from ..runner import Event, Plan, headline_digest, run, stage_key
from ..sources import Source, resolve_options
from ..stages import STAGES
from .events import BatchEvent
from .gpu import GpuGate
from .plans import Plans

Status = Literal["ok", "failed", "skipped", "interrupted", "pending"]
STATUSES: tuple[str, ...] = ("ok", "failed", "skipped", "interrupted", "pending")
PROGRESS_EVERY = 0.25  # seconds between forwarded progress events of one item


class BatchItem(NamedTuple):
    """One validated line: its number in the file, its output folder name and its `MakeOptions` as plain data."""

    line: int
    name: str
    options: dict[str, Any]


@dataclass
class ItemResult:
    """What became of one item (one entry of batch.json)."""

    line: int
    name: str
    status: Status
    seconds: float = 0.0
    error: str | None = None
    cached: int | None = None  # stages served from the cache (of len(STAGES)); None when the run did not finish
    worker: str | None = None  # which process (and node) ran it
    detail: str | None = None  # the traceback tail of an unexpected error (a bug in a provider), for the report

    def record(self, out_root: Path) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(out_root / self.name) if self.status in ("ok", "skipped") else None
        data["seconds"] = round(self.seconds, 3)
        if data["detail"] is None:
            del data["detail"]
        return data


def up_to_date(out: Path, headline: str, plan: Plan, source: Source | None = None) -> bool:
    """Whether `out` already holds what this request would make: every stage's cache key, computed now from this
    plan and the input digests its run.json recorded, equals the key recorded there (so the same providers, versions,
    parameters and model identities made it from the same headline), and every file it lists exists.

    The keys come from `runner.stage_key`, the function the runner keys its cache with."""
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
        if record.get("headline") != headline:
            return False
        stages = record["stages"]
        digests = {"headline": headline_digest(headline, source)}
        if plan.settings.reveal:
            # The card is made from the entries the recorded keys name (their build seconds among them), so the
            # recorded card stands for it; a folder made without the card has none and is not up to date.
            digests["reveal"] = record["reveal"]["digest"]
        for name in STAGES:
            if stage_key(name, plan.providers[name], digests) != stages[name]["key"]:
                return False
            digests[name] = stages[name]["digest"]
        return all((out / name).is_file() for name in record["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, NewsreelError):
        return False


_WORKER_PLANS: dict[str, Plans] = {}  # per process, per config file


def _worker_plan(options: MakeOptions, config_file: str | None) -> Plan:
    plans = _WORKER_PLANS.get(config_file or "")
    if plans is None:
        plans = _WORKER_PLANS[config_file or ""] = Plans(Path(config_file) if config_file else None, size=8, keep=True)
    plan = plans.get(options)
    assert plan is not None  # kept plans are always returned
    return plan


def _throttled(item: BatchItem, put: Callable[[BatchEvent], None]) -> Callable[[Event], None]:
    last = 0.0

    def emit(event: Event) -> None:
        nonlocal last
        if event.kind == "progress":  # the first of a stage goes through, then at most one per PROGRESS_EVERY
            now = time.monotonic()
            if now - last < PROGRESS_EVERY:
                return
            last = now
        elif event.kind == "start":
            last = 0.0
        with suppress(Exception):  # progress is best effort: it never fails an item
            put(BatchEvent(kind="stage", line=item.line, name=item.name, event=event))

    return emit


def worker_id() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def run_item(
    item: BatchItem,
    out_root: Path | str,
    config_file: str | None = None,
    put: Callable[[BatchEvent], None] | None = None,
    gpu: Any = None,
) -> ItemResult:
    """Make one item's video into `out_root/<name>`; never raises for the item's own problems (a failed result says
    what went wrong). `gpu`: a semaphore capping GPU stages across workers. KeyboardInterrupt -> `interrupted`."""
    put = put or (lambda event: None)
    started = time.perf_counter()
    who = worker_id()

    def result(status: str, **kw: Any) -> ItemResult:
        return ItemResult(item.line, item.name, status, seconds=time.perf_counter() - started, worker=who, **kw)

    with suppress(Exception):
        put(BatchEvent(kind="item-start", line=item.line, name=item.name, headline=item.options.get("headline")))
    emit = _throttled(item, put)
    try:
        options = MakeOptions.parse(item.options)
        plan = _worker_plan(options, config_file)
        options = resolve_options(options, plan.settings.cache_dir)  # a `url` line: fetched (or from the fetch cache)
        assert options.headline is not None  # given, or the article's title
        out = Path(out_root) / item.name
        if not (options.force or options.no_cache) and up_to_date(out, options.headline, plan, options.source):
            return result("skipped")
        gate = GpuGate(
            gpu, on_wait=lambda stage: emit(Event(stage=stage, kind="progress", message="waiting for a GPU slot"))
        )
        done = run(
            options.headline, plan, out, force=options.force, no_cache=options.no_cache, on_event=emit, stage_lock=gate,
            source=options.source,
        )
        cached = sum(1 for rec in done.record["stages"].values() if rec["hit"])
        return result("ok", cached=cached)
    except KeyboardInterrupt:
        return result("interrupted", error="interrupted")
    except NewsreelError as exc:
        return result("failed", error=exc.one_line())
    except Exception as exc:  # noqa: BLE001 - a provider's bug fails its item, not the batch
        detail = "".join(traceback.format_exception(exc)[-6:])
        return result("failed", error=" ".join(f"{type(exc).__name__}: {exc}".split())[:500], detail=detail)
