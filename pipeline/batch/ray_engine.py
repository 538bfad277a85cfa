"""The Ray batch engine (`newsreel batch FILE --engine ray [--address ADDRESS]`; `pip install 'newsreel[ray]'`).

Each item becomes a Ray task needing one CPU and, when its plan has a stage that runs on a CUDA GPU and the cluster
has GPUs, `1/gpu_slots` of a GPU (Ray's scheduler then never puts more such items on a GPU than that). Task workers
are kept between tasks (`max_calls=0`), so a worker process loads each model once for all the items it runs.

Workers share the stage cache through the driver's `cache_dir`, passed to every task: on a cluster, point it at a
folder every node mounts (`NEWSREEL_CACHE_DIR=/shared/newsreel-cache`), and use an `--out` folder they all reach.
Entries are built under the cache's tmp/ and renamed into place, so two workers finishing the same key both succeed
and one entry remains. With no address a local Ray instance is started (and stopped afterwards).

This is the only module that imports `ray`. It uses only the public pieces of the batch package
(`BatchContext`, `Plans`, `run_item`, `may_use_gpu`).
"""

from __future__ import annotations

import logging
import os
import queue as queue_module
import time
from collections.abc import Iterator
from typing import Any

from ..config import load_settings
from ..errors import NewsreelError
from ..jobs import MakeOptions
from .context import BatchContext
from .events import BatchEvent
from .gpu import may_use_gpu
from .item import BatchItem, ItemResult, run_item
from .plans import Plans

LOCAL_CPUS = 2  # a local Ray instance's CPUs when --workers is not given


def _ray_task(item: BatchItem, out_root: str, config_file: str | None, events: Any) -> ItemResult:
    """One item inside a Ray worker; progress goes through the driver's queue actor (best effort)."""

    import ray

    last: list[Any] = []

    def put(event: BatchEvent) -> None:
        # Fire and forget (the queue is unbounded; calls from one task reach the actor in order): waiting for each
        # event's round trip would cost the item more than the event is worth.
        last[:] = [events.actor.put_nowait.remote(event.model_dump(mode="json", exclude_none=True))]

    result = run_item(item, out_root, config_file, put=put)
    if last:  # the item's events are queued before its result is: the driver never sees them after the item is done
        ray.wait(last, timeout=5)
    return result


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise NewsreelError("the ray engine needs Ray installed", "pip install 'newsreel[ray]'") from None
    return ray


def _secret_vars() -> set[str]:
    """NEWSREEL_* variables of secret settings (API keys, tokens): never shipped in a runtime_env (Ray shows those in
    its dashboard); on a cluster, set them on the nodes."""
    from pydantic import SecretStr

    from ..config import Settings

    return {
        f"NEWSREEL_{name.upper()}"
        for name, info in Settings.model_fields.items()
        if SecretStr in getattr(info.annotation, "__args__", (info.annotation,))
    }


def worker_env(cache_dir: str) -> dict[str, str]:
    """NEWSREEL_* settings of the driver (not secrets) for every worker, with the driver's resolved cache folder."""
    secret = _secret_vars()
    env = {k: v for k, v in os.environ.items() if k.startswith("NEWSREEL_") and k.upper() not in secret}
    env["NEWSREEL_CACHE_DIR"] = cache_dir
    return env


def run_ray(items: Iterator[BatchItem], ctx: BatchContext) -> bool:
    """Run every item as a Ray task; returns True when interrupted (Ctrl-C)."""
    ray = _import_ray()
    from ray.util.queue import Queue

    cache_dir = str(load_settings(ctx.config_file).cache_dir.resolve())
    started_here = False
    if not ray.is_initialized():
        common: dict[str, Any] = {
            "runtime_env": {"env_vars": worker_env(cache_dir)},
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        try:
            if ctx.address:
                ray.init(address=ctx.address, **common)
            else:
                ray.init(num_cpus=ctx.workers or LOCAL_CPUS, include_dashboard=False, **common)
        except ConnectionError as exc:
            raise NewsreelError(
                f"cannot reach the Ray cluster at {ctx.address}: {exc}",
                "check --address (e.g. ray://head:10001 or auto)",
            ) from None
        started_here = True
    try:
        return _drive(ray, Queue, items, ctx)
    finally:
        if started_here:
            ray.shutdown()


def _drive(ray: Any, Queue: Any, items: Iterator[BatchItem], ctx: BatchContext) -> bool:
    events = Queue(actor_options={"num_cpus": 0})
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0) > 0
    depth = max(2, int(resources.get("CPU", 1)) * 2)  # tasks submitted ahead; the rest stay in the file
    task = ray.remote(max_calls=0)(_ray_task)  # 0: keep workers (and their models) for any number of items, GPU too
    plans = Plans(ctx.config_file, keep=True)  # only to see whether an item may use a GPU
    out_root, config = str(ctx.out), str(ctx.config_file) if ctx.config_file else None
    inflight: dict[Any, BatchItem] = {}

    def submit_more() -> None:
        while len(inflight) < depth:
            item = next(items, None)
            if item is None:
                return
            plan = plans.get(MakeOptions.model_validate(item.options)) if gpus else None
            wants_gpu = plan is not None and may_use_gpu(plan)
            options = {"num_cpus": 1, "num_gpus": 1 / ctx.gpu_slots if wants_gpu else 0, "max_retries": 1}
            inflight[task.options(**options).remote(item, out_root, config, events)] = item

    def drain() -> None:
        try:
            n = events.qsize()
            batch = events.get_nowait_batch(n) if n else []
        except (queue_module.Empty, ray.exceptions.RayError):
            return
        for data in batch:
            ctx.event(BatchEvent.model_validate(data))

    def collect(ref: Any, item: BatchItem) -> ItemResult:
        try:
            return ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return ItemResult(item.line, item.name, "interrupted", error="interrupted")
        except ray.exceptions.RayTaskError as exc:
            return ItemResult(item.line, item.name, "failed", error=" ".join(str(exc.cause or exc).split())[:500])
        except ray.exceptions.RayError as exc:  # worker or node died (after Ray's retry)
            return ItemResult(
                item.line, item.name, "failed", error=f"{type(exc).__name__}: " + " ".join(str(exc).split())[:400]
            )

    try:
        submit_more()
        drained = 0.0
        while inflight:
            refs = list(inflight)
            ready, _ = ray.wait(refs, num_returns=1, timeout=0.1)
            if ready:  # and every other result already there, in the same round
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            if ready or time.monotonic() - drained > 0.1:  # before results: their items' last events come first
                drain()
                drained = time.monotonic()
            for ref in sorted(ready, key=lambda r: inflight[r].line):
                ctx.finish(collect(ref, inflight.pop(ref)))
            submit_more()
        drain()
        return False
    except KeyboardInterrupt:
        for ref in inflight:
            ray.cancel(ref)  # a KeyboardInterrupt inside the task: its stage work is discarded, nothing half-written
        try:
            ray.wait(list(inflight), num_returns=len(inflight), timeout=60)
        except KeyboardInterrupt:
            pass
        for ref, item in inflight.items():
            result = collect(ref, item) if ray.wait([ref], timeout=0)[0] else None
            if result is None or result.status == "interrupted" and item.line not in ctx.started:
                result = ItemResult(item.line, item.name, "interrupted" if item.line in ctx.started else "pending")
            ctx.finish(result)
        return True
