"""Batch production: many videos from one file of headlines (text, CSV or JSONL), resumable, on one machine or Ray.

The file is read twice, both times as a stream. `validate()` checks every line (its options, the providers and
parameters they choose, its output name) before any work starts and reports all bad lines together, with their line
numbers. The engine then reads the file again and runs each item through the runner. Only small records are kept per
item (its output name during validation, its result afterwards), so a 10,000-line file never sits in memory.

File formats (by extension):
- text (any other extension): one headline a line; blank lines and lines starting with `#` are skipped.
- CSV (`.csv`): a header row with a `headline` column. Other columns are `make` options (`seed`, `aspect`, `lang`,
  `voice`, `image_model`, ... any `MakeOptions` field), `name` (or `out`) for the item's output folder,
  `providers.STAGE` for a stage's provider and `STAGE.KEY` for a provider parameter (e.g. `voice.rate`). Empty cells
  are unset; a cell starting with `[` or `{` is JSON; `force` takes stage names separated by commas.
- JSONL (`.jsonl`, `.ndjson`): one JSON object a line with the same keys (nested `providers`/`params` work too).

Each item's video goes to `OUT/<name>/` (name: the `name` column, else the headline's slug); `OUT/batch.json`
summarises the run, one entry per item with its status: `ok`, `failed` (with the error), `skipped` (already made),
`interrupted` (stopped by Ctrl-C) or `pending` (never started). Re-running the same batch resumes it: an item whose
folder holds a run.json with the very stage cache keys this request gives (same headline, providers, versions,
parameters, model identities) and all its files is skipped; every other item runs, and the stage cache makes the
stages an interrupted run finished free.

Engines: `local` (a pool of worker processes; each keeps its loaded models for all its items; stages on a GPU are
capped at `gpu_slots` at once by a cross-process semaphore) and `ray` (`pipeline.batch_ray`, the optional extra).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import signal
import sys
import time
import traceback
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel

from . import __version__
from .errors import NewsreelError
from .jobs import MakeOptions
from .provider import Provider
from .runner import Event, Plan, default_out, headline_digest, run, stage_key
from .stages import STAGES

Format = Literal["text", "csv", "jsonl"]
Status = Literal["ok", "failed", "skipped", "interrupted", "pending"]
STATUSES: tuple[str, ...] = ("ok", "failed", "skipped", "interrupted", "pending")

NAME_RE = re.compile(r"^\w[\w.\-]{0,119}$")  # one folder name: no path separators, no leading dot
RESERVED_NAMES = {"batch.json"}
NAME_KEYS = ("name", "out")
MAX_PROBLEMS = 200  # bad lines listed in full; beyond this they are counted
PROGRESS_EVERY = 0.25  # seconds between forwarded progress events of one item
CRASH_ATTEMPTS = 2  # an item whose worker process dies this many times is marked failed


# ---------------------------------------------------------------------------------------------------------------------
# Data


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


class BatchEvent(BaseModel):
    """One batch progress event (what `--json-progress` prints, one JSON object a line).

    kinds: `batch-start` (total), `item-start` (line, name), `stage` (line, name, event: the runner's stage event),
    `item-done` (line, name, status, seconds, error, cached), `batch-done` (counts, seconds, summary path).
    """

    kind: Literal["batch-start", "item-start", "stage", "item-done", "batch-done"]
    line: int | None = None
    name: str | None = None
    total: int | None = None
    event: Event | None = None
    status: str | None = None
    seconds: float | None = None
    error: str | None = None
    cached: int | None = None
    counts: dict[str, int] | None = None
    summary: str | None = None


BatchSink = Callable[[BatchEvent], None]


class Problem(NamedTuple):
    line: int  # 0: the file as a whole
    message: str


class BatchFileError(NewsreelError):
    """The batch file has bad lines: all of them (up to MAX_PROBLEMS) are in `problems`."""

    def __init__(self, path: Path, problems: list[Problem], more: int = 0):
        n = len(problems) + more
        super().__init__(
            f"{path}: {n} problem{'s' if n != 1 else ''}, nothing was made", "fix the lines listed and run again"
        )
        self.path = path
        self.problems = problems
        self.more = more

    def lines(self) -> list[str]:
        out = [f"{'line ' + str(p.line) if p.line else str(self.path)}: {p.message}" for p in self.problems]
        if self.more:
            out.append(f"... and {self.more} more")
        return out


@dataclass
class Validation:
    path: Path
    format: Format
    total: int
    notices: list[str] = field(default_factory=list)  # choices made for the user (e.g. image `auto`), once each


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


# ---------------------------------------------------------------------------------------------------------------------
# Reading the file


def detect_format(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "text"


def _open(path: Path) -> io.TextIOWrapper:
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise NewsreelError(f"batch file {path} does not exist", "check the path") from None
    except IsADirectoryError:
        raise NewsreelError(f"{path} is a folder, not a batch file", "pass a .txt, .csv or .jsonl file") from None
    except OSError as exc:
        raise NewsreelError(f"cannot read the batch file {path}: {exc.strerror}", "check its permissions") from None


class _Raw(NamedTuple):
    line: int
    data: dict[str, Any] | None
    problem: str | None = None
    fatal: bool = False  # a header problem: no row can be read


def _records(path: Path, fmt: Format) -> Iterator[_Raw]:
    """The file's records as dicts of option keys, one at a time, with their line numbers."""
    with _open(path) as f:
        try:
            if fmt == "csv":
                yield from _csv_records(f)
                return
            for number, text in enumerate(f, 1):
                stripped = text.strip()
                if not stripped:
                    continue
                if fmt == "text":
                    if not stripped.startswith("#"):
                        yield _Raw(number, {"headline": text.rstrip("\r\n")})
                    continue
                try:
                    data = json.loads(stripped)
                except json.JSONDecodeError as exc:
                    yield _Raw(number, None, f"not JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(data, dict):
                    yield _Raw(number, None, f'a JSON {type(data).__name__}, not an object like {{"headline": "..."}}')
                    continue
                yield _Raw(number, data)
        except UnicodeDecodeError as exc:
            yield _Raw(0, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})", fatal=True)


def _known_columns() -> str:
    return ", ".join([*MakeOptions.model_fields, *NAME_KEYS, "providers.STAGE", "STAGE.KEY"])


def _key_problem(key: str) -> str | None:
    """Why a column / JSON key is not one a batch item can have, or None."""
    if key in MakeOptions.model_fields or key in NAME_KEYS:
        return None
    left, dot, right = key.partition(".")
    if dot and right:
        if left == "providers" and right in STAGES:
            return None
        if left in STAGES:
            return None
        if left == "providers":
            return f"unknown stage '{right}' in '{key}' (stages are: {', '.join(STAGES)})"
        return f"unknown stage '{left}' in '{key}' (stages are: {', '.join(STAGES)})"
    return f"unknown column '{key}' (columns are: {_known_columns()})"


def _csv_records(f: io.TextIOWrapper) -> Iterator[_Raw]:
    reader = csv.reader(f)
    header: list[str] | None = None
    while header is None:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Raw(reader.line_num, None, f"not CSV: {exc}", fatal=True)
            return
        if any(cell.strip() for cell in row):
            header = [cell.strip() for cell in row]
    header_line = reader.line_num
    problems = []
    if "headline" not in header:
        problems.append(
            f"the header has no 'headline' column (it has: {', '.join(h for h in header if h) or 'nothing'})"
        )
    seen: set[str] = set()
    for column in header:
        if not column:
            problems.append("the header has an empty column name")
        elif column in seen:
            problems.append(f"column '{column}' appears twice in the header")
        else:
            seen.add(column)
            problem = _key_problem(column)
            if problem:
                problems.append(problem)
    if problems:
        for problem in problems:
            yield _Raw(header_line, None, problem, fatal=True)
        return
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _Raw(start, None, f"not CSV: {exc}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield _Raw(start, None, f"{len(row)} values but the header has {len(header)} columns")
            continue
        data: dict[str, Any] = {}
        bad = None
        for column, cell in zip(header, row):
            value, bad = _cell(column, cell)
            if bad:
                break
            if value is not None:
                data[column] = value
        yield _Raw(start, None, bad) if bad else _Raw(start, data)


def _cell(column: str, cell: str) -> tuple[Any, str | None]:
    """A CSV cell as an option value: None when empty, parsed JSON for `[...]`/`{...}`, a list for `force`."""
    text = cell.strip()
    if not text:
        return None, None
    if text[0] in "[{":
        try:
            return json.loads(text), None
        except json.JSONDecodeError as exc:
            return None, f"column '{column}': not valid JSON ({exc.msg})"
    if column == "force":
        return [s for s in re.split(r"[,\s]+", text) if s], None
    if column == "headline":
        return cell.rstrip("\r\n"), None
    return text, None


def _split(data: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(output name or None, MakeOptions data) from one record's keys."""
    name: Any = None
    options: dict[str, Any] = {}
    providers: dict[str, Any] = {}
    params: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        problem = _key_problem(key)
        if problem:
            raise NewsreelError(problem, "")
        if key in NAME_KEYS:
            if name is not None:
                raise NewsreelError("both 'name' and 'out' are set", "")
            name = value
        elif "." in key:
            left, _, right = key.partition(".")
            if left == "providers":
                providers[right] = value
            else:
                params.setdefault(left, {})[right] = value
        else:
            options[key] = value
    for key, extra in (("providers", providers), ("params", params)):
        if extra:
            given = options.get(key, {})
            if not isinstance(given, dict):
                raise NewsreelError(f"'{key}' must be an object", "")
            merged = {**given}
            for k, v in extra.items():
                merged[k] = {**merged.get(k, {}), **v} if key == "params" and isinstance(merged.get(k), dict) else v
            options[key] = merged
    if name is not None and not isinstance(name, str):
        raise NewsreelError(f"the name must be text, not {json.dumps(name)}", "")
    return name, options


def check_name(name: str) -> str:
    if name in RESERVED_NAMES or not NAME_RE.match(name):
        raise NewsreelError(
            f"output name '{name}' is not a plain folder name",
            "use letters, digits, '-', '_' and '.', starting with a letter or digit",
        )
    return name


def _item(raw: _Raw) -> tuple[BatchItem, MakeOptions]:
    if raw.problem is not None or raw.data is None:
        raise NewsreelError(raw.problem or "unreadable", "")
    if not str(raw.data.get("headline") or "").strip():
        raise NewsreelError("the headline is empty" if "headline" in raw.data else "no headline", "")
    name, data = _split(raw.data)
    options = MakeOptions.parse(data)
    name = check_name(name.strip() if name else default_out(options.headline).name)
    return BatchItem(raw.line, name, options.model_dump(mode="json", exclude_unset=True)), options


_PLANS_OK = "plans"


class _Plans:
    """Plans by request (a MakeOptions minus its headline: a plan never depends on the headline), least recently used
    dropped beyond `size`. In validation it remembers only whether a request plans; in workers it keeps the plans,
    so providers (and anything they cache on themselves) are reused across items."""

    def __init__(self, config_file: Path | None, size: int = 64, keep: bool = False):
        self.config_file = config_file
        self.size = size
        self.keep = keep
        self.notices: dict[str, None] = {}
        self._seen: OrderedDict[str, Plan | tuple[str, str] | str] = OrderedDict()

    def get(self, options: MakeOptions) -> Plan | None:
        """The request's plan (None for a request validation already passed, when plans are not kept); raises the
        request's NewsreelError, remembered too."""
        key = options.model_dump_json(exclude={"headline"})
        if key in self._seen:
            self._seen.move_to_end(key)
            found = self._seen[key]
            if isinstance(found, tuple):
                raise NewsreelError(*found)
            if isinstance(found, Plan):
                return found
            if found == _PLANS_OK:
                return None
        try:
            plan = options.plan(self.config_file)
            if not self.keep:
                for provider in plan.providers.values():
                    provider.check()  # cheap pre-flight (packages, keys, model files), once per request
        except NewsreelError as exc:
            self._remember(key, (exc.message, exc.hint))
            raise
        for notice in plan.notices:
            if len(self.notices) < 20:
                self.notices[notice] = None
        self._remember(key, plan if self.keep else _PLANS_OK)
        return plan

    def _remember(self, key: str, value: Any) -> None:
        self._seen[key] = value
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)


def validate(path: Path | str, config_file: Path | None = None) -> Validation:
    """Check every line of a batch file before any work: options, providers and their parameters (the plan is built),
    output names (unique, case-insensitively). Raises BatchFileError listing every bad line; streams the file."""
    path = Path(path)
    fmt = detect_format(path)
    problems: list[Problem] = []
    more = 0
    names: dict[str, int] = {}  # casefolded output name -> its line: the only per-item memory
    plans = _Plans(config_file)
    total = 0

    def problem(line: int, message: str) -> None:
        nonlocal more
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem(line, message))
        else:
            more += 1

    for raw in _records(path, fmt):
        try:
            item, options = _item(raw)
            plans.get(options)
        except NewsreelError as exc:
            problem(raw.line, exc.one_line())
            continue
        key = item.name.casefold()
        if key in names:
            problem(
                raw.line,
                f"output name '{item.name}' is already used by line {names[key]} (set a 'name' for one of them)",
            )
            continue
        names[key] = raw.line
        total += 1
    if not problems and not total:
        problem(0, "has no headlines" if fmt != "csv" else "has no rows under the header")
    if problems:
        raise BatchFileError(path, problems, more)
    return Validation(path=path, format=fmt, total=total, notices=list(plans.notices))


def iter_items(path: Path | str) -> Iterator[BatchItem]:
    """The items of an already validated file, streamed (the second pass)."""
    path = Path(path)
    for raw in _records(path, detect_format(path)):
        try:
            yield _item(raw)[0]
        except NewsreelError as exc:
            raise BatchFileError(
                path, [Problem(raw.line, exc.one_line() + " (the file changed during the batch)")]
            ) from None


# ---------------------------------------------------------------------------------------------------------------------
# One item (runs inside a worker: a pool process or a Ray task)


def uses_gpu(provider: Provider) -> bool:
    """Whether a provider's work will run on a CUDA GPU: it can use one, was not told to use the CPU (or Apple's
    GPU), and one is there. Only asked for a stage about to do work, so a cached run imports no torch."""
    if provider.needs.gpu == "no":
        return False
    device = str(getattr(provider.params, "device", "auto"))
    if device in ("cpu", "mps"):
        return False
    if device.startswith("cuda"):
        return True
    return _cuda_available()


def may_use_gpu(plan: Plan) -> bool:
    """Whether any stage of a plan would use a CUDA GPU if the machine had one (no torch import)."""
    return any(
        p.needs.gpu != "no" and str(getattr(p.params, "device", "auto")) not in ("cpu", "mps")
        for p in plan.providers.values()
    )


@lru_cache(maxsize=1)
def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


class GpuGate:
    """A runner `stage_lock`: a stage whose provider runs on the GPU holds one of `semaphore`'s slots while it works;
    other stages pass freely. The semaphore is shared by every worker process of the batch."""

    def __init__(self, semaphore: Any, on_wait: Callable[[str], None] | None = None):
        self.semaphore = semaphore
        self.on_wait = on_wait

    def __call__(self, stage: str, provider: Provider) -> AbstractContextManager[Any]:
        if self.semaphore is None or not uses_gpu(provider):
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


def up_to_date(out: Path, headline: str, plan: Plan) -> bool:
    """Whether `out` already holds what this request would make: every stage's cache key, computed now from this
    plan and the input digests its run.json recorded, equals the key recorded there (so the same providers, versions,
    parameters and model identities made it from the same headline), and every file it lists exists.

    The keys come from `runner.stage_key`, the function the runner keys its cache with."""
    try:
        record = json.loads((out / "run.json").read_text(encoding="utf-8"))
        if record.get("headline") != headline:
            return False
        stages = record["stages"]
        digests = {"headline": headline_digest(headline)}
        for name in STAGES:
            if stage_key(name, plan.providers[name], digests) != stages[name]["key"]:
                return False
            digests[name] = stages[name]["digest"]
        return all((out / name).is_file() for name in record["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, NewsreelError):
        return False


_WORKER_PLANS: dict[str, _Plans] = {}  # per process, per config file


def _worker_plan(options: MakeOptions, config_file: str | None) -> Plan:
    plans = _WORKER_PLANS.get(config_file or "")
    if plans is None:
        plans = _WORKER_PLANS[config_file or ""] = _Plans(Path(config_file) if config_file else None, size=8, keep=True)
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
        put(BatchEvent(kind="item-start", line=item.line, name=item.name))
    emit = _throttled(item, put)
    try:
        options = MakeOptions.parse(item.options)
        plan = _worker_plan(options, config_file)
        out = Path(out_root) / item.name
        if not (options.force or options.no_cache) and up_to_date(out, options.headline, plan):
            return result("skipped")
        gate = GpuGate(
            gpu, on_wait=lambda stage: emit(Event(stage=stage, kind="progress", message="waiting for a GPU slot"))
        )
        done = run(
            options.headline, plan, out, force=options.force, no_cache=options.no_cache, on_event=emit, stage_lock=gate
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


# ---------------------------------------------------------------------------------------------------------------------
# The local engine: a pool of worker processes


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


def _run_local(items: Iterator[BatchItem], ctx: _Context) -> bool:
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


def _stop_local(pool: _Pool, inflight: dict[Any, tuple[BatchItem, int]], ctx: _Context) -> None:
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


# ---------------------------------------------------------------------------------------------------------------------
# Driving a batch


@dataclass
class _Context:
    """What an engine needs: where and how to run, and where results go."""

    out: Path
    config_file: Path | None
    total: int
    workers: int | None
    gpu_slots: int
    address: str | None
    sink: BatchSink
    results: dict[int, ItemResult] = field(default_factory=dict)
    started: set[int] = field(default_factory=set)

    def event(self, event: BatchEvent) -> None:
        if event.line is not None and event.line in self.results:
            return  # a late stage event of an item already reported done
        if event.kind == "item-start" and event.line is not None:
            self.started.add(event.line)
        self.sink(event)

    def finish(self, result: ItemResult) -> None:
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
) -> BatchSummary:
    """Validate the whole file, then make every item; writes OUT/batch.json and returns the summary.

    Raises BatchFileError (every bad line) before any work. One item's failure never stops the others. Ctrl-C stops
    cleanly: the summary says which items were interrupted or never started, and re-running resumes. The local engine
    spawns its workers, so a script calling this must do so under `if __name__ == "__main__":`."""
    if engine not in ("local", "ray"):
        raise NewsreelError(f"unknown engine '{engine}'", "engines are: local, ray")
    if workers is not None and workers < 1:
        raise NewsreelError("--workers must be at least 1", "e.g. --workers 2")
    if gpu_slots < 1:
        raise NewsreelError("--gpu-slots must be at least 1", "the GPU stages that may run at once, e.g. 1")
    path = Path(path)
    validation = validation or validate(path, config_file)
    out_root = Path(out or default_batch_out(path)).resolve()
    try:
        out_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NewsreelError(
            f"cannot write to the output folder {out_root}: {exc.strerror}", "choose a writable folder with --out"
        ) from None
    sink = on_event or (lambda event: None)
    ctx = _Context(out_root, config_file, validation.total, workers, gpu_slots, address, sink)
    sink(BatchEvent(kind="batch-start", total=validation.total))
    started = time.perf_counter()
    items = iter_items(path)
    if engine == "ray":
        from .batch_ray import run_ray

        interrupted = run_ray(items, ctx)
    else:
        interrupted = _run_local(items, ctx)
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


# ---------------------------------------------------------------------------------------------------------------------
# The command line (`newsreel batch`): rich progress or JSON lines, then a table


def cli_batch(
    file: Path,
    *,
    out: Path | None,
    engine: str,
    workers: int | None,
    gpu_slots: int,
    address: str | None,
    json_progress: bool,
    config: Path | None,
) -> int:
    """Run a batch for the command line; returns the exit code (0 all made, 1 some failed, 2 bad file, 130 Ctrl-C)."""
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True)
    out_console = Console()

    def emit_json(event: BatchEvent) -> None:
        sys.stdout.write(event.model_dump_json(exclude_none=True) + "\n")
        sys.stdout.flush()

    try:
        validation = validate(file, config)
    except BatchFileError as exc:
        if json_progress:
            problems = [{"line": p.line, "message": p.message} for p in exc.problems]
            sys.stdout.write(json.dumps({"kind": "invalid", "problems": problems, "more": exc.more}) + "\n")
        err.print(f"[bold red]error:[/bold red] {escape(exc.message)}", highlight=False, soft_wrap=True)
        for line in exc.lines():
            err.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        return 2
    for notice in validation.notices:
        err.print(f"note: {notice}", style="dim", soft_wrap=True, markup=False)

    if json_progress:
        summary = run_batch(file, out, engine=engine, workers=workers, gpu_slots=gpu_slots, address=address,
                            config_file=config, on_event=emit_json, validation=validation)  # fmt: skip
    else:
        with _RichProgress(err, validation.total) as progress:
            summary = run_batch(file, out, engine=engine, workers=workers, gpu_slots=gpu_slots, address=address,
                                config_file=config, on_event=progress.on_event, validation=validation)  # fmt: skip
    (err if json_progress else out_console).print(summary_table(summary))
    counts = ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n)
    err.print(f"{counts} in {summary.seconds:.1f} s; summary: {summary.summary_path}", highlight=False, soft_wrap=True)
    if summary.interrupted:
        err.print("interrupted: nothing half-written was kept; run the same command again to resume", soft_wrap=True)
    return summary.exit_code


def summary_table(summary: BatchSummary, limit: int = 40) -> Any:
    from rich.markup import escape
    from rich.table import Table

    colors = {"ok": "green", "failed": "red", "skipped": "cyan", "interrupted": "yellow", "pending": "yellow"}
    table = Table(title=f"newsreel batch: {summary.out}", title_justify="left")
    for column in ("line", "name", "status", "cache", "seconds", "error"):
        table.add_column(column, overflow="fold")
    rows = summary.items
    if len(rows) > limit:  # a long batch shows its problems first
        rows = sorted(rows, key=lambda r: (r.status in ("ok", "skipped"), r.line))[:limit]
    n_stages = len(STAGES)
    for r in rows:
        cache = f"{r.cached}/{n_stages} hit" if r.cached is not None else ""
        table.add_row(
            str(r.line),
            escape(r.name),
            f"[{colors[r.status]}]{r.status}[/]",
            cache,
            f"{r.seconds:.1f}",
            escape(r.error or ""),
        )
    if len(summary.items) > len(rows):
        table.add_row("", f"... {len(summary.items) - len(rows)} more in batch.json", "", "", "", "")
    return table


class _RichProgress:
    """One overall bar plus a line per running item (its current stage)."""

    def __init__(self, console: Any, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.overall = self.progress.add_task("batch", total=total, status="")
        self.items: dict[int, Any] = {}
        self.stage_index = {name: i for i, name in enumerate(STAGES)}
        self.failed = 0

    def __enter__(self) -> _RichProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def on_event(self, event: BatchEvent) -> None:
        from rich.markup import escape

        p = self.progress
        if event.kind == "item-start" and event.line is not None:
            label = f"{event.line}: {event.name}"[:28]
            self.items[event.line] = p.add_task(label, total=len(STAGES), status="starting")
        elif event.kind == "stage" and event.line in self.items and event.event is not None:
            e = event.event
            done = self.stage_index.get(e.stage, 0) + (1.0 if e.kind == "done" else e.fraction)
            status = e.stage + (" (cached)" if e.hit else "") + (f": {e.message[:40]}" if e.message else "")
            p.update(self.items[event.line], completed=done, status=status)
        elif event.kind == "item-done" and event.line is not None:
            task = self.items.pop(event.line, None)
            if task is not None:
                p.remove_task(task)
            if event.status not in ("interrupted", "pending"):
                p.advance(self.overall)
            if event.status == "failed":
                self.failed += 1
                p.console.print(
                    f"[red]failed[/red] line {event.line} {escape(event.name or '')}: {escape(event.error or '')}",
                    soft_wrap=True,
                )
            p.update(self.overall, status=f"{self.failed} failed" if self.failed else "")
