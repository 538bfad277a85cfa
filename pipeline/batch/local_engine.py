"""The local engine: a pool of spawned worker processes on this machine.

Each worker keeps its plans (and so its providers' loaded models) for all its items. Stages on a GPU are capped at
`gpu_slots` at once by a semaphore the workers share. A worker that dies (a crash in native code, out of memory)
takes its pool with it: a new pool starts, the items that were running are blamed once (an item whose worker dies
`CRASH_ATTEMPTS` times fails), the others go back in the queue. Ctrl-C: no new item starts, running ones are
interrupted (their stage work discarded, nothing half-written kept) and report back; `run_batch` exits with 130.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import NewsreelError
from .context import BatchContext
from .events import BatchEvent
from .item import BatchItem, ItemResult, run_item

CRASH_ATTEMPTS = 2  # an item whose worker process dies this many times is marked failed

_WORKER_STATE: dict[str, Any] = {}
_READY = "ready"  # a worker's first message: it started and imported what it needs


def _interrupt_once(signum: int, frame: Any) -> None:
    # The first Ctrl-C interrupts the item; a second one (the terminal's and the parent's) must not interrupt the
    # clean-up that the first one started. The flag catches an interrupt that native code swallowed (a KeyboardInterrupt
    # raised inside a ctypes callback, e.g. espeak's, is only printed): the item's next event raises it again.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_STATE["interrupted"] = True
    raise KeyboardInterrupt


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Hold Ctrl-C back while the pool may spawn a worker: a worker process starts with SIGINT blocked (the mask is
    inherited across fork and exec), so a Ctrl-C while it is still importing does not kill it with a traceback;
    its initializer ignores SIGINT and unblocks it, and workers take Ctrl-C only inside an item (`_local_task`).
    This process does not lose the Ctrl-C: blocked, not ignored, it is delivered when the block ends (ignoring it
    here, as before, dropped a Ctrl-C that came while a worker was being spawned). Main thread only."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if not hasattr(signal, "pthread_sigmask"):  # Windows: ignore it for the moment instead
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _init_worker(events: Any, gpu: Any, stop: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # between items a Ctrl-C means nothing to a worker
    if hasattr(signal, "pthread_sigmask"):  # born with SIGINT blocked (see `_sigint_ignored`): ignored from now on
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _WORKER_STATE.update(events=events, gpu=gpu, stop=stop, interrupted=False)
    events.put(_READY)


def _local_task(item: BatchItem, out_root: str, config_file: str | None) -> ItemResult:
    state = _WORKER_STATE
    if state["interrupted"] or state["stop"].is_set():
        return ItemResult(item.line, item.name, "pending")

    def put(event: BatchEvent) -> None:
        if state["interrupted"]:
            raise KeyboardInterrupt
        state["events"].put(event)

    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        result = run_item(item, out_root, config_file, put=put, gpu=state["gpu"])
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if state["interrupted"]:
        state["stop"].set()  # this worker saw the Ctrl-C: start no more items (before the parent says so too)
    return result


class _Pool:
    """One generation of worker processes with its event queue, GPU semaphore and stop flag (all replaced together
    when a worker dies, since a dead process may have held the queue's or the semaphore's lock)."""

    def __init__(self, workers: int, gpu_slots: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        mp = multiprocessing.get_context("spawn")
        # A SimpleQueue writes in `put` itself (no feeder thread), so an item's events are in the pipe before its
        # result comes back: the parent, draining before it handles results, never sees them after the item is done.
        self.events = mp.SimpleQueue()
        self.gpu = mp.Semaphore(gpu_slots)
        self.stop = mp.Event()
        self.ready = 0  # workers that came up
        self.executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=mp, initializer=_init_worker, initargs=(self.events, self.gpu, self.stop)
        )

    def drain(self, sink: Callable[[BatchEvent], None]) -> None:
        while True:
            try:
                if self.events.empty():
                    return
                event = self.events.get()
            except (OSError, ValueError, EOFError):
                return
            if event == _READY:
                self.ready += 1
            else:
                sink(event)

    def interrupt(self) -> None:
        self.stop.set()
        for pid in list(getattr(self.executor, "_processes", None) or {}):
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

    def close(self, wait: bool = True, grace: float = 0.0) -> None:
        """Shut the pool down; `grace`: seconds to let workers finish exiting (an interrupted one cleaning up, one
        still starting, which would otherwise find the pool's semaphore gone and die with a traceback)."""
        processes = list((getattr(self.executor, "_processes", None) or {}).values())
        self.executor.shutdown(wait=wait, cancel_futures=True)
        deadline = time.monotonic() + grace
        for process in processes if grace else ():
            process.join(max(0.0, deadline - time.monotonic()))
        self.events.close()


def run_local(items: Iterator[BatchItem], ctx: BatchContext) -> bool:
    """Run every item on a process pool; returns True when interrupted (Ctrl-C)."""
    from concurrent.futures import FIRST_COMPLETED, Future, wait
    from concurrent.futures.process import BrokenProcessPool

    workers = max(1, min(ctx.workers or 1, ctx.total))
    pool = _Pool(workers, ctx.gpu_slots)
    inflight: dict[Future, tuple[BatchItem, int]] = {}
    retry: deque[tuple[BatchItem, int]] = deque()
    depth = workers * 2  # items handed to the pool ahead of time; the rest stay in the file
    out_root, config = str(ctx.out), str(ctx.config_file) if ctx.config_file else None

    def submit_more() -> None:
        while len(inflight) < depth:
            if retry:
                item, attempts = retry.popleft()
            else:
                item = next(items, None)
                attempts = 0
                if item is None:
                    return
            with _sigint_ignored():  # a worker process started now begins life ignoring Ctrl-C (see below)
                future = pool.executor.submit(_local_task, item, out_root, config)
            inflight[future] = (item, attempts)

    fruitless = 0  # pools in a row whose workers all died before they were ready
    try:
        submit_more()
        while inflight:
            done, _ = wait(list(inflight), timeout=0.1, return_when=FIRST_COMPLETED)
            pool.drain(ctx.event)
            broken: list[tuple[BatchItem, int]] = []
            for future in sorted(done, key=lambda f: inflight[f][0].line):
                item, attempts = inflight.pop(future)
                try:
                    ctx.finish(future.result())
                except BrokenProcessPool:
                    broken.append((item, attempts))
                except KeyboardInterrupt:
                    ctx.finish(ItemResult(item.line, item.name, "interrupted", error="interrupted"))
                except Exception as exc:  # noqa: BLE001 - e.g. a result that would not pickle
                    ctx.finish(ItemResult(item.line, item.name, "failed", error=f"{type(exc).__name__}: {exc}"))
            if broken:  # a worker died (a crash in native code, out of memory): the whole pool goes
                broken = sorted([*broken, *inflight.values()], key=lambda entry: entry[0].line)
                inflight.clear()
                pool.drain(ctx.event)
                ready = pool.ready
                pool.close(wait=False)
                if ready:
                    fruitless = 0
                    # Blame the items that were running (the oldest ones when none had reported yet); the others
                    # go back in the queue as they were.
                    started = [entry for entry in broken if entry[0].line in ctx.started]
                    suspects = {entry[0].line for entry in (started or broken[:workers])}
                else:
                    fruitless += 1
                    if fruitless >= 3:
                        raise NewsreelError(
                            "the batch's worker processes die before they can start any item",
                            "run it with --workers 1 to see why; a script calling run_batch must do so under "
                            '`if __name__ == "__main__":` (workers are spawned)',
                        )
                    suspects = set()
                for item, attempts in broken:
                    ctx.started.discard(item.line)
                    attempts += item.line in suspects
                    if attempts >= CRASH_ATTEMPTS:
                        error = "its worker process died (a crash or out of memory)"
                        ctx.finish(ItemResult(item.line, item.name, "failed", error=error))
                    else:
                        retry.append((item, attempts))
                pool = _Pool(workers, ctx.gpu_slots)
            submit_more()
        pool.drain(ctx.event)
        pool.close()
        return False
    except KeyboardInterrupt:
        _stop_local(pool, inflight, ctx)
        return True
    except BaseException:  # e.g. the file changed under the batch: start nothing more, leave the running items be
        pool.stop.set()
        pool.close(wait=False)
        raise


def _stop_local(pool: _Pool, inflight: dict[Any, tuple[BatchItem, int]], ctx: BatchContext) -> None:
    """Ctrl-C: no new item starts; running ones are interrupted (their stage work is discarded, nothing half-written
    stays) and report back; a second Ctrl-C stops waiting for them."""
    from concurrent.futures import wait

    pool.interrupt()
    for future in inflight:
        future.cancel()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not all(future.done() for future in inflight):
            wait(list(inflight), timeout=0.1)
            pool.drain(ctx.event)  # workers write their events themselves: keep their pipe from filling up
    except KeyboardInterrupt:
        pass
    pool.drain(ctx.event)
    for future, (item, _) in sorted(inflight.items(), key=lambda entry: entry[1][0].line):
        result = None
        if future.done() and not future.cancelled():
            try:
                result = future.result(timeout=0)
            except BaseException:  # noqa: BLE001 - a worker that died on the way out
                result = None
        ctx.finish(result or ItemResult(item.line, item.name, "interrupted" if item.line in ctx.started else "pending"))
    pool.close(wait=False, grace=10)
