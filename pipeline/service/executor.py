"""Runs queued jobs, a bounded number at a time, each in a worker process of its own (`pipeline.service.worker`).

A process per job keeps the heavy work (torch, per-frame Python, ffmpeg) off the server's event loop and GIL, lets a
crash or an out-of-memory kill take only that job, and lets a cancel stop everything the job started (its process
group). `max_running` threads each claim the oldest queued job, start its worker, and turn the worker's JSON lines into
store updates and live messages for the event streams (`Hub`).

On start, jobs the last server left running are queued again (the cache makes finished stages free) or, with
resume off or after `max_attempts` interruptions, failed with the reason. A worker process the old server left behind
is stopped first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .config import ServiceConfig
from .store import FINISHED, Job, JobStore

log = logging.getLogger("newsreel.service")

PROGRESS_WRITE_INTERVAL = 0.5  # seconds between database writes of a stage's progress (start/done always written)
WORKER_MODULE = "pipeline.service.worker"


class Hub:
    """Fans job updates out to event-stream subscribers on the server's event loop; safe to publish from any thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, set[asyncio.Queue]] = {}
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, job_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._subscribers.setdefault(job_id, set()).add(queue)
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue) -> None:
        subs = self._subscribers.get(job_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                self._subscribers.pop(job_id, None)

    def publish(self, job_id: str, kind: str, data: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._fanout, job_id, kind, data)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _fanout(self, job_id: str, kind: str, data: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(job_id, ())):
            try:
                queue.put_nowait((kind, data))
            except asyncio.QueueFull:  # a stalled client: drop progress, never block the workers
                pass

    def close(self) -> None:
        """End every open stream (server shutdown)."""
        self.closed = True
        if self._loop is None or self._loop.is_closed():
            return

        def end_all() -> None:
            for subs in self._subscribers.values():
                for queue in subs:
                    try:
                        queue.put_nowait(("close", {}))
                    except asyncio.QueueFull:
                        pass

        try:
            self._loop.call_soon_threadsafe(end_all)
        except RuntimeError:
            pass


class Executor:
    def __init__(self, config: ServiceConfig, store: JobStore, hub: Hub, on_change: Any = None):
        self.config = config
        self.store = store
        self.hub = hub
        self.on_change = on_change  # callback(job_id) after a state change; the app publishes the job view
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._procs: dict[str, subprocess.Popen] = {}
        self._procs_lock = threading.Lock()

    # -- life cycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        for i in range(self.config.max_running):
            t = threading.Thread(target=self._loop, name=f"newsreel-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs and stop running workers; their jobs stay `running` so the next start resumes them."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        with self._procs_lock:
            procs = list(self._procs.values())
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))

    def wake(self) -> None:
        with self._wake:
            self._wake.notify()

    def recover(self) -> None:
        """Deal with jobs the previous server left unfinished."""
        for job in self.store.jobs_in_state("running"):
            _stop_stale_worker(job.pid)
            if job.cancel_requested:
                self.store.update(job.id, state="cancelled", finished=time.time(), pid=None)
            elif not self.config.resume:
                self.store.update(
                    job.id,
                    state="failed",
                    finished=time.time(),
                    pid=None,
                    error={"message": "the server stopped while this job was running", "hint": "submit it again; stages that had finished come from the cache"},
                )
            elif job.attempts >= self.config.max_attempts:
                self.store.update(
                    job.id,
                    state="failed",
                    finished=time.time(),
                    pid=None,
                    error={
                        "message": f"the server stopped {job.attempts} times while this job was running, so it was not started again",
                        "hint": "check the server's log and the job's log; submit it again when the cause is fixed",
                    },
                )
            else:
                note = f"resumed after a server restart (attempt {job.attempts + 1})"
                self.store.update(job.id, state="queued", pid=None, notices=[*job.notices, note])
            log.info("job %s: recovered after a restart", job.id)

    # -- cancel --------------------------------------------------------------------------------------------------

    def cancel(self, job_id: str) -> str:
        """Cancel a job: returns the state it is in afterwards ("cancelled", or "running" while the worker stops)."""
        if self.store.cancel_queued(job_id):
            self._changed(job_id)
            return "cancelled"
        self.store.update(job_id, cancel_requested=True)
        with self._procs_lock:
            proc = self._procs.get(job_id)
        if proc is None:
            return "running"
        try:
            assert proc.stdin is not None
            proc.stdin.write("cancel\n")
            proc.stdin.flush()
        except (OSError, ValueError):
            pass
        grace = self.config.cancel_grace_s

        def escalate() -> None:
            # The cooperative cancel acts at the next progress event; work that sends none gets SIGTERM, then SIGKILL.
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3 * grace + 1)):
                try:
                    proc.wait(timeout=wait)
                    return
                except subprocess.TimeoutExpired:
                    _signal_group(proc, sig)

        threading.Thread(target=escalate, daemon=True).start()
        return "running"

    # -- running ---------------------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            job = self.store.claim_next()
            if job is None:
                with self._wake:
                    self._wake.wait(timeout=1.0)
                continue
            self._changed(job.id)
            try:
                self._run(job)
            except Exception:  # never let one job kill the worker thread
                log.exception("job %s: executor error", job.id)
                if not self._stopping.is_set():
                    self.store.update(job.id, state="failed", finished=time.time(), error={"message": "the service could not run this job", "hint": "see the server's log"})
                    self._changed(job.id)

    def resolve_spec(self, job: Job) -> dict[str, Any]:
        """The worker's input: the stored options with upload references turned into their files on this server, the
        article upload (if any) as its stored file, and which addresses a URL's fetch may reach ("refuse": public
        only, on every redirect and for the address connected to; "allow" when the operator allows private ones)."""
        from .uploads import UPLOAD_REF, resolve_uploads

        options = resolve_uploads(job.options, self.store)
        spec: dict[str, Any] = {
            "options": options,
            "out": str(job.out),
            "config": str(self.config.config_file) if self.config.config_file else None,
            "private": "allow" if self.config.allow_private_urls else "refuse",
        }
        ref = options.pop("article", None)
        if ref is not None:
            match = UPLOAD_REF.match(str(ref))
            upload = self.store.get_upload(match.group(1)) if match else None
            if upload is None or upload.kind != "article":
                raise ValueError(f"job {job.id}: its article upload {ref!r} is gone")  # intake checked it: a bug
            spec["article"] = {"path": str(upload.path), "name": upload.name}
        return spec

    def _run(self, job: Job) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        spec = self.resolve_spec(job)
        logfile = open(self.config.log_dir / f"{job.id}.log", "a", encoding="utf-8")
        try:
            logfile.write(f"--- attempt {job.attempts} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            logfile.flush()
            proc = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=logfile,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,  # its own process group: a cancel stops ffmpeg and everything else it started
            )
        finally:
            logfile.close()
        with self._procs_lock:
            self._procs[job.id] = proc
        self.store.update(job.id, pid=proc.pid)
        assert proc.stdin is not None and proc.stdout is not None
        final: dict[str, Any] | None = None
        try:
            proc.stdin.write(json.dumps(spec) + "\n")
            proc.stdin.flush()
            if self.store.get(job.id).cancel_requested:  # cancelled between claim and start
                self.cancel(job.id)
            stages = dict(job.stages)
            notices = list(job.notices)
            last_write: dict[str, float] = {}
            for line in proc.stdout:
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    continue
                kind = message.pop("type", None)
                if kind == "event":
                    self._on_event(job.id, stages, message, last_write)
                elif kind == "headline":  # a URL's or an article's title, once the worker has read it
                    headline = " ".join(str(message.get("headline", "")).split())[:300]
                    if headline:
                        self.store.update(job.id, headline=headline)
                        self._changed(job.id)
                elif kind == "notice":
                    notices.append(str(message.get("message", "")))
                    self.store.update(job.id, notices=notices)
                    self._changed(job.id)
                elif kind in ("done", "error", "cancelled"):
                    final = {"type": kind, **message}
            proc.wait()
        except (OSError, ValueError):
            proc.wait()
        finally:
            with self._procs_lock:
                self._procs.pop(job.id, None)
            for stream in (proc.stdin, proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        self._finish(job, final, proc.returncode)

    def _on_event(self, job_id: str, stages: dict[str, Any], event: dict[str, Any], last_write: dict[str, float]) -> None:
        stage = event.get("stage")
        if stage not in stages:
            return
        entry = dict(stages[stage])
        kind = event.get("kind")
        if kind == "start":
            entry.update(state="running", fraction=0.0, message="")
        elif kind == "progress":
            entry.update(state="running", fraction=float(event.get("fraction", 0.0)), message=str(event.get("message", ""))[:200])
        elif kind == "done":
            entry.update(state="done", fraction=1.0, message="cached" if event.get("hit") else "done", hit=event.get("hit"), seconds=event.get("seconds"))
        stages[stage] = entry
        now = time.monotonic()
        if kind != "progress" or now - last_write.get(stage, 0.0) >= PROGRESS_WRITE_INTERVAL:
            last_write[stage] = now
            self.store.update(job_id, stages=stages)
        self.hub.publish(job_id, "progress", {"stage": stage, **entry, "kind": kind})

    def _finish(self, job: Job, final: dict[str, Any] | None, returncode: int | None) -> None:
        now = time.time()
        current = self.store.get(job.id)
        kind = final["type"] if final else None
        if kind == "done":
            stages = current.stages if current else {}
            for entry in stages.values():
                if entry.get("state") != "done":
                    entry.update(state="done", fraction=1.0)
            self.store.update(job.id, state="done", finished=now, files=list(final.get("files", [])), pid=None, stages=stages)
        elif current is not None and current.cancel_requested:
            self.store.update(job.id, state="cancelled", finished=now, pid=None)
        elif self._stopping.is_set():
            # The server is shutting down and stopped this worker: leave the job `running`, the next start resumes it.
            log.info("job %s: interrupted by shutdown; it resumes on the next start", job.id)
            return
        elif kind == "error":
            self.store.update(job.id, state="failed", finished=now, pid=None, error={"message": final.get("message", ""), "hint": final.get("hint", "")})
        else:
            how = f"signal {-returncode}" if returncode is not None and returncode < 0 else f"exit code {returncode}"
            self.store.update(
                job.id,
                state="failed",
                finished=now,
                pid=None,
                error={"message": f"the job's worker process died ({how})", "hint": "it may have run out of memory; see the job's log in the service's data folder"},
            )
        self._changed(job.id)

    def _changed(self, job_id: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(job_id)
            except Exception:
                log.exception("job %s: publishing a change failed", job_id)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_stale_worker(pid: int | None) -> None:
    """Kill the process group of a worker a previous server left running, if that pid is still such a worker."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return  # gone (or not Linux: nothing we can check, so nothing we kill)
    if WORKER_MODULE.encode() not in cmdline:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.02)


def is_finished(state: str) -> bool:
    return state in FINISHED
