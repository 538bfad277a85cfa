"""`run_batch`: validate the file, hand its items to an engine, and write OUT/batch.json.

Each item's video goes to `OUT/<name>/` (name: the `name` column, else the headline's slug); `OUT/batch.json`
summarises the run, one entry per item with its status: `ok`, `failed` (with the error), `skipped` (already made),
`interrupted` (stopped by Ctrl-C) or `pending` (never started). Re-running the same batch resumes it: an item whose
folder holds a run.json with the very stage cache keys this request gives (same headline, providers, versions,
parameters, model identities) and all its files is skipped; every other item runs, and the stage cache makes the
stages an interrupted run finished free.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import NewsreelError
from .context import BatchContext
from .events import BatchEvent, BatchSink
from .files import Validation, iter_items, validate
from .item import STATUSES, ItemResult

ENGINES = ("local", "ray")


@dataclass
class BatchSummary:
    path: Path
    out: Path
    engine: str
    workers: int | None
    items: list[ItemResult]
    seconds: float
    interrupted: bool = False

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for item in self.items:
            counts[item.status] += 1
        return counts

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.counts["failed"] else 0

    @property
    def summary_path(self) -> Path:
        return self.out / "batch.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "newsreel": __version__,
            "file": str(self.path),
            "out": str(self.out),
            "engine": self.engine,
            "workers": self.workers,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "counts": self.counts,
            "items": [item.record(self.out) for item in self.items],
        }


def default_batch_out(path: Path) -> Path:
    return Path("newsreel-out") / (re.sub(r"[^\w.\-]+", "-", path.stem).strip("-.") or "batch")


def run_batch(
    path: Path | str,
    out: Path | str | None = None,
    *,
    engine: str = "local",
    workers: int | None = None,
    gpu_slots: int = 1,
    address: str | None = None,
    config_file: Path | None = None,
    on_event: BatchSink | None = None,
    validation: Validation | None = None,
    defaults: dict[str, Any] | None = None,
) -> BatchSummary:
    """Validate the whole file, then make every item; writes OUT/batch.json and returns the summary.

    Raises BatchFileError (every bad line) before any work. One item's failure never stops the others. Ctrl-C stops
    cleanly: the summary says which items were interrupted or never started, and re-running resumes. The local engine
    spawns its workers, so a script calling this must do so under `if __name__ == "__main__":`. `defaults`: options
    for every line that does not set them (`newsreel batch --reveal`: {"reveal": True}); a `validation` carries its
    own."""
    if engine not in ENGINES:
        raise NewsreelError(f"unknown engine '{engine}'", f"engines are: {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise NewsreelError("--workers must be at least 1", "e.g. --workers 2")
    if gpu_slots < 1:
        raise NewsreelError("--gpu-slots must be at least 1", "the GPU stages that may run at once, e.g. 1")
    path = Path(path)
    validation = validation or validate(path, config_file, defaults)
    out_root = Path(out or default_batch_out(path)).resolve()
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NewsreelError(
            f"cannot write to the output folder {out_root}: {exc.strerror}", "choose a writable folder with --out"
        ) from None
    sink = on_event or (lambda event: None)
    ctx = BatchContext(out_root, config_file, validation.total, workers, gpu_slots, address, sink)
    sink(BatchEvent(kind="batch-start", total=validation.total))
    started = time.perf_counter()
    items = iter_items(path, validation.defaults)
    if engine == "ray":
        from .ray_engine import run_ray

        interrupted = run_ray(items, ctx)
    else:
        from .local_engine import run_local

        interrupted = run_local(items, ctx)
    if interrupted or len(ctx.results) < validation.total:
        for item in iter_items(path):  # items the run never reached
            if item.line not in ctx.results:
                ctx.results[item.line] = ItemResult(item.line, item.name, "pending")
    # a Ctrl-C that came when every item was already made leaves nothing to resume
    interrupted = interrupted and any(r.status in ("interrupted", "pending") for r in ctx.results.values())
    summary = BatchSummary(
        path=path.resolve(),
        out=out_root,
        engine=engine,
        workers=workers,
        items=[ctx.results[line] for line in sorted(ctx.results)],
        seconds=time.perf_counter() - started,
        interrupted=interrupted,
    )
    write_json_atomic(summary.summary_path, summary.to_json())
    sink(
        BatchEvent(
            kind="batch-done",
            counts=summary.counts,
            seconds=round(summary.seconds, 3),
            summary=str(summary.summary_path),
        )
    )
    return summary


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
