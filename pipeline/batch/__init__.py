"""Batch production: many videos from one file of headlines (text, CSV or JSONL), resumable, on one machine or Ray.

Every line is validated before any work starts; then each item runs through the runner into `OUT/<name>/`, and
`OUT/batch.json` says what became of each. Running the same batch again resumes it. One job per module:

- `files`: reading the file (formats, columns) and validating every line (`validate`, `iter_items`, `BatchFileError`)
- `item`: one item (`BatchItem`, `ItemResult`) and making it in a worker (`run_item`, resume check `up_to_date`)
- `plans`: `Plans`, the runner plans of distinct requests, shared by validation and both engines
- `gpu`: which stages use a GPU (the providers' `uses_gpu()`), and `GpuGate`, which caps them at `gpu_slots`
- `events`: `BatchEvent`, what a batch reports to its sink while it runs (the CLI renders them; no UI here)
- `context`: `BatchContext`, the contract between `run_batch` and an engine
- `local_engine`: a pool of worker processes (Ctrl-C, crashed workers); `ray_engine`: Ray tasks (the `ray` extra)
- `driver`: `run_batch` and `BatchSummary` (batch.json)

The command line's progress display lives in `pipeline/cli_batch.py`.
"""

from __future__ import annotations

from .context import BatchContext
from .driver import BatchSummary, default_batch_out, run_batch, write_json_atomic
from .events import BatchEvent, BatchSink
from .files import (
    MAX_PROBLEMS,
    BatchFileError,
    Format,
    Problem,
    Validation,
    check_name,
    detect_format,
    escaped,
    iter_items,
    plain_text,
    validate,
)
from .gpu import GpuGate, cuda_available, may_use_gpu, runs_on_gpu
from .item import STATUSES, BatchItem, ItemResult, Status, run_item, up_to_date, worker_id
from .plans import Plans

__all__ = [
    "MAX_PROBLEMS",
    "STATUSES",
    "BatchContext",
    "BatchEvent",
    "BatchFileError",
    "BatchItem",
    "BatchSink",
    "BatchSummary",
    "Format",
    "GpuGate",
    "ItemResult",
    "Plans",
    "Problem",
    "Status",
    "Validation",
    "check_name",
    "cuda_available",
    "default_batch_out",
    "detect_format",
    "escaped",
    "iter_items",
    "may_use_gpu",
    "plain_text",
    "run_batch",
    "run_item",
    "runs_on_gpu",
    "up_to_date",
    "validate",
    "worker_id",
    "write_json_atomic",
]
