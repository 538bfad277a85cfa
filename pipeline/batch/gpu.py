"""Which stages use the GPU, and the gate that caps how many of them run at once across a batch's workers.

The batch knows nothing of providers' parameters: a provider says whether its work goes to a GPU (`uses_gpu()`,
pipeline/provider.py; e.g. the diffusers image provider says no when told `device: cpu`). A stage holds a GPU slot
only when its provider says so *and* this machine has a CUDA GPU, so a batch on a CPU-only machine is never capped.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from typing import Any

from ..provider import Provider
from ..runner import Plan


@lru_cache(maxsize=1)
def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU here. Imports torch, so it is asked only for a stage about to do work (a cached
    run never asks) and at most once per process."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def runs_on_gpu(provider: Provider, gpu_present: Callable[[], bool] = cuda_available) -> bool:
    """Whether a provider's work will run on a CUDA GPU here: it says it uses one, and one is there."""
    return provider.uses_gpu() and gpu_present()


def may_use_gpu(plan: Plan) -> bool:
    """Whether any stage of a plan would use a GPU on a machine that has one (asks no torch: the Ray driver calls it
    for nodes it is not on)."""
    return any(provider.uses_gpu() for provider in plan.providers.values())


class GpuGate:
    """A runner `stage_lock`: a stage whose provider runs on the GPU holds one of `semaphore`'s slots while it works;
    other stages pass freely. The semaphore is shared by every worker process of the batch (None: no cap)."""

    def __init__(
        self,
        semaphore: Any,
        on_wait: Callable[[str], None] | None = None,
        gpu_present: Callable[[], bool] = cuda_available,
    ):
        self.semaphore = semaphore
        self.on_wait = on_wait
        self.gpu_present = gpu_present

    def __call__(self, stage: str, provider: Provider) -> AbstractContextManager[Any]:
        if self.semaphore is None or not runs_on_gpu(provider, self.gpu_present):
            return nullcontext()
        return self._held(stage)

    @contextmanager
    def _held(self, stage: str) -> Iterator[None]:
        if not self.semaphore.acquire(block=False):
            if self.on_wait:
                self.on_wait(stage)
            self.semaphore.acquire()
        try:
            yield
        finally:
            self.semaphore.release()
