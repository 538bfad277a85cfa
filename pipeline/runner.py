"""The runner: walks the stage graph for one job, asks the cache, calls providers on misses, reports progress
events, and writes the run folder with run.json. The CLI, batch engines and the web service are thin callers of it.
"""

from __future__ import annotations

import errno
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from . import __version__
from .artifacts import Artifact
from . import run_folder
from .cache import Cache, DamagedEntry, cache_key
from .config import SECRET_FIELDS, Settings
from .errors import NewsreelError
from .hashing import sha256_bytes
from .plugins import check_stage, provider_class
from .provider import Provider
from .sources.model import Source
from .reveal import build_reveal, record as reveal_record, reveal_digest
from .stages import STAGES, Reveal
from .stages.script import check_headline

# Run-level options a provider receives when it declares them (`Provider.run_options`) and its Params has the field.
RUN_OPTIONS = ("seed", "width", "height", "language", "fps", "target_seconds", "words")


class Event(BaseModel):
    """One progress event: the CLI renders these with rich, the service streams them, batch aggregates them."""

    model_config = ConfigDict(frozen=True)

    stage: str
    kind: str  # "start" | "progress" | "done"
    fraction: float = 0.0
    message: str = ""
    hit: bool | None = None
    seconds: float | None = None


EventSink = Callable[[Event], None]

# Called as `stage_lock(stage, provider)` before a provider does a stage's work (cache misses only); the runner holds
# the returned context manager around `provider.run`. Batch engines use it to cap GPU stages running at once.
StageLock = Callable[[str, Provider], AbstractContextManager[Any]]


class _Stopped(BaseException):
    """Raised from a stage's progress report when another stage failed: it unwinds the provider (its own cleanup
    runs, nothing is cached) and is never reported; the first stage's error is."""


class StageRecord(BaseModel):
    provider: str
    version: str
    params: dict[str, Any]
    key: str
    hit: bool
    seconds: float  # this run's wall time for the stage (a hit only loads the entry)
    started: float = 0.0  # when the stage started, seconds after the run started (stages may overlap)
    built_seconds: float  # how long the provider took when the entry was built
    identity: dict[str, Any]
    digest: str
    notes: dict[str, Any] = {}
    provenance: dict[str, Any] = {}  # what the provider says about itself for provenance (Provider.provenance())


@dataclass
class RunResult:
    out: Path
    record: dict[str, Any]
    artifacts: dict[str, Artifact] = field(default_factory=dict)

    @property
    def video(self) -> Path:
        return self.out / "video.mp4"


@dataclass
class Plan:
    """The providers a job will use, built and validated before any work starts."""

    providers: dict[str, Provider]
    settings: Settings
    notices: list[str] = field(default_factory=list)  # one line each: choices made for the user (e.g. `auto`)


def build_plan(settings: Settings, overrides: dict[str, dict[str, Any]] | None = None) -> Plan:
    """Instantiate every stage's provider with its parameters; all validation errors surface here."""
    overrides = overrides or {}
    for stage in overrides:
        check_stage(stage)
    choice = settings.providers.model_dump()
    width, height = settings.frame_size
    run_options: dict[str, Any] = {
        "seed": settings.seed,
        "width": width,
        "height": height,
        "language": settings.language,
        "fps": settings.fps,
        "target_seconds": settings.target_seconds,
    }
    classes: dict[str, type[Provider]] = {}
    explicit: dict[str, dict[str, Any]] = {}
    notices: list[str] = []
    for stage in STAGES:
        cls = provider_class(stage, choice[stage])
        params = {**getattr(settings, stage), **overrides.get(stage, {})}
        # A delegating provider (image `auto`) picks the real one now, so keys and run.json name what really ran.
        if cls.delegates:
            # It sees the run options it declares (voice `auto` chooses by the run's language); they are handed back
            # to the chosen provider only as run options, never as if the user had set them.
            declared = {k: v for k, v in run_options.items() if k in cls.run_options and k not in params}
            name, params, notice = cls.delegate({**declared, **params}, frozenset(overrides.get(stage, {})))
            params = {k: v for k, v in params.items() if k not in declared}
            cls = provider_class(stage, name)
            notices.append(notice)
        classes[stage], explicit[stage] = cls, params
    voice_cls = classes["voice"]
    voice_params = voice_cls.parse_params(_params_for(voice_cls, run_options, explicit["voice"]))
    # The script's word budget follows the voice's pace, so the narration lands near the target length.
    run_options["words"] = max(20, round(settings.target_seconds * voice_cls.words_per_second(voice_params)))
    providers: dict[str, Provider] = {}
    for stage, cls in classes.items():
        providers[stage] = cls(
            _params_for(cls, run_options, explicit[stage]),
            secrets=settings.secrets(),
            models_dir=settings.models_dir or settings.cache_dir / "models",
        )
    return Plan(providers, settings, notices)


def _params_for(cls: type[Provider], run_options: dict[str, Any], explicit: dict[str, Any]) -> dict[str, Any]:
    fields = cls.Params.model_fields
    filled = {k: v for k, v in run_options.items() if k in cls.run_options and k in fields}
    return {**filled, **explicit}


def run(
    headline: str,
    plan: Plan,
    out: Path,
    *,
    force: Iterable[str] = (),
    no_cache: bool = False,
    on_event: EventSink | None = None,
    stage_lock: StageLock | None = None,
    source: Source | None = None,
) -> RunResult:
    """Make one video from `headline` (and the article `source`, when the job has one) into the run folder `out`."""
    headline = check_headline(headline)
    force = set(force)
    for stage in force:
        check_stage(stage)
    emit = on_event or (lambda event: None)
    out = Path(out)
    run_folder.check_destination(out)
    cache = Cache(plan.settings.cache_dir)
    started = time.perf_counter()
    # Cheap pre-flight of every provider (binaries, packages, voices, keys) so a missing piece is reported
    # before any stage spends minutes on work.
    for provider in plan.providers.values():
        provider.check()
    if plan.settings.reveal:
        _check_draws_reveal(plan)
    # What killed runs left behind goes now, not a day later; live work elsewhere holds its locks and stays.
    cache.clean()
    run_folder.clean_abandoned(out.parent)
    try:
        return _run(headline, plan, out, cache, started, force, no_cache, emit, stage_lock, source)
    except (OSError, NewsreelError) as exc:
        full = _disk_full(exc, {"cache": cache.root, "output": out.parent})
        if full is None:
            raise
        raise full from None


def _run(
    headline: str,
    plan: Plan,
    out: Path,
    cache: Cache,
    started: float,
    force: set[str],
    no_cache: bool,
    emit: EventSink,
    stage_lock: StageLock | None,
    source: Source | None = None,
) -> RunResult:

    artifacts: dict[str, Artifact] = {}
    digests: dict[str, str] = {"headline": headline_digest(headline, source)}
    records: dict[str, StageRecord] = {}
    made: dict[str, Any] = {}  # the reveal card, when compose draws one
    # Events come from the stage threads: the sink is called by one thread at a time, as it always was.
    sink_lock = threading.Lock()

    def emit_one(event: Event) -> None:
        with sink_lock:
            emit(event)

    stop = threading.Event()  # set when a stage failed (or the run was interrupted): the others stop at their
    # next progress report, so the error is reported without waiting long for them
    interrupted = threading.Event()  # Ctrl-C, a service's cancel: what the other stages finish is not cached either

    def stage_emit(event: Event) -> None:
        if stop.is_set() and event.kind == "progress":
            raise _Stopped()
        emit_one(event)

    def do_stage(name: str, have: dict[str, Artifact], have_digests: dict[str, str]) -> tuple[Artifact, str, StageRecord]:
        stage = STAGES[name]
        provider = plan.providers[name]
        params = provider.params.model_dump(mode="json")
        identity = provider.identity()
        reveal = None
        if stage.takes_reveal and plan.settings.reveal:  # all the stages it tells of are done: compose takes them all
            reveal = made["reveal"] = _reveal_card(plan, records, have, source)
            have_digests = {**have_digests, "reveal": reveal_digest(reveal)}
        key = stage_key(name, provider, have_digests, identity)
        emit_one(Event(stage=name, kind="start"))
        t0 = time.perf_counter()
        rebuild = no_cache or name in force
        found = None
        if not rebuild:
            try:
                found = cache.get(key, stage.output)
            except DamagedEntry as damaged:
                # Never serve (or sign) bytes that do not match their seal: say so, move it away, build it again.
                emit_one(Event(stage=name, kind="notice", message=f"{name}: the cached result was damaged ({damaged.reason}); rebuilding it"))
                cache.discard(damaged)
        if found is None:
            artifact, entry = _build(
                cache, key, name, stage.inputs, provider, have, headline, stage_emit, stage_lock, replace=rebuild,
                source=source, interrupted=interrupted, reveal=reveal if stage.takes_reveal else None,
            )
            hit = False
        else:
            artifact, entry = found
            hit = True
        t1 = time.perf_counter()
        record = StageRecord(
            provider=provider.name,
            version=provider.version,
            params=params,
            key=key,
            hit=hit,
            seconds=round(t1 - t0, 3),
            started=round(t0 - started, 3),
            built_seconds=entry.meta["seconds"],
            identity=identity,
            digest=entry.meta["digest"],
            notes=entry.meta.get("notes", {}),
            provenance=provider.provenance(),
        )
        emit_one(Event(stage=name, kind="done", fraction=1.0, hit=hit, seconds=t1 - t0))
        return artifact, entry.meta["digest"], record

    # Each stage starts as soon as the stages it takes are done: after the script, the image is made while the
    # voice, the captions and the presenter are (neither depends on the other). Providers do their heavy work in
    # subprocesses and native code (ffmpeg, espeak, onnxruntime, torch), which run beside each other; the GIL is
    # only held between them. Of the stages ready at once, the last runs in this thread and the others in threads
    # of their own: a stage alone (the script, compose) runs here, where Ctrl-C and a service's SIGTERM reach it.
    waiting = list(STAGES)
    running: dict[Future, str] = {}
    failure: BaseException | None = None

    def fail(exc: BaseException) -> None:
        nonlocal failure
        if failure is None:
            failure = exc
        if not isinstance(exc, (Exception, _Stopped)):
            interrupted.set()
        stop.set()

    def in_thread(name: str, have: dict[str, Artifact], have_digests: dict[str, str]) -> tuple[Artifact, str, StageRecord]:
        try:
            return do_stage(name, have, have_digests)
        except BaseException as exc:  # the others (this thread's caller too) stop at their next progress report
            if not isinstance(exc, (Exception, _Stopped)):
                interrupted.set()
            stop.set()
            raise

    def collect(done: Iterable[Future]) -> None:
        for future in done:
            name = running.pop(future)
            try:
                artifacts[name], digests[name], records[name] = future.result()
            except _Stopped:
                pass  # stopped because another stage failed: that one's error is reported
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once the other stages stopped
                fail(exc)

    with ThreadPoolExecutor(max_workers=len(STAGES), thread_name_prefix="newsreel-stage") as pool:
        try:
            while failure is None and (waiting or running):
                collect([f for f in running if f.done()])
                if failure is not None:
                    break
                ready = [n for n in waiting if all(i == "headline" or i in artifacts for i in STAGES[n].inputs)]
                for name in ready:
                    waiting.remove(name)
                for name in ready[:-1]:
                    running[pool.submit(in_thread, name, dict(artifacts), dict(digests))] = name
                if ready:
                    name = ready[-1]
                    try:
                        artifacts[name], digests[name], records[name] = do_stage(name, dict(artifacts), dict(digests))
                    except _Stopped:
                        pass  # a stage in a thread failed: collected next
                    except Exception as exc:  # noqa: BLE001 - re-raised below, once the other stages stopped
                        fail(exc)
                elif running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    collect(done)
                elif failure is None:  # nothing running, nothing ready: a stage whose input failed to appear
                    raise RuntimeError(f"stages {', '.join(waiting)} can never start")
        except BaseException as exc:  # e.g. Ctrl-C in this thread: stop the stages, then report it
            fail(exc)
        finally:
            if running:
                wait(running)
                collect(list(running))
    if failure is not None:
        raise failure
    records = {name: records[name] for name in STAGES}
    wall = time.perf_counter() - started

    record = {
        "newsreel": __version__,
        "headline": headline,
        "source": source.summary() if source is not None else None,  # where the article came from; not its text
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {k: v for k, v in plan.settings.masked().items() if k not in (*SECRET_FIELDS, "cache_dir", "models_dir")},
        "stages": {k: v.model_dump(mode="json") for k, v in records.items()},
        # The run's wall time up to the video; stages that overlapped make it less than their seconds' sum.
        "seconds": round(wall, 3),
        "stage_seconds": round(sum(r.seconds for r in records.values()), 3),
    }
    if "reveal" in made:  # the card's whole text, N and what it means, and what compose drew of it
        drawer = next(n for n, s in STAGES.items() if s.takes_reveal)
        record["reveal"] = reveal_record(made["reveal"], records[drawer].notes)
    files: dict[str, Path | bytes] = {}
    for name, stage in STAGES.items():
        files.update(stage.exports(artifacts[name]))
    # Provenance last of all (a remux after signing would drop the manifest): the video is signed from the cache
    # into the run folder (temp name, read back, renamed) and provenance.json joins the files to export.
    from .provenance import SIDECAR, seal

    record["files"] = sorted([*files, SIDECAR, "run.json"])
    # The run folder is assembled beside its destination and renamed into place only when complete.
    with run_folder.assembling(out) as part:
        sealed = seal(
            part,
            files,
            record,
            artifacts,
            key=plan.settings.c2pa_key,
            cert=plan.settings.c2pa_cert,
            cache_dir=plan.settings.cache_dir,
        )
        record["provenance"] = sealed.summary
        files = sealed.files
        files["run.json"] = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()
        _export(part, files)
        run_folder.publish(part, out)
    return RunResult(out=out, record=record, artifacts=artifacts)


def inputs_it_takes(provider: Any, stage: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """`inputs` without a presenter of kind none when `provider.run` has no `presenter` argument: a compose plugin
    written before compose took the presenter still runs. A real presenter to such a provider is an error (it would
    be dropped without a word)."""
    import inspect

    presenter = inputs.get("presenter")
    if presenter is None:
        return inputs
    params = inspect.signature(provider.run).parameters
    if "presenter" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return inputs
    if getattr(presenter, "kind", "none") != "none":
        name = getattr(provider, "name", type(provider).__name__)
        raise NewsreelError(f"{stage} provider '{name}' does not take a presenter",
                            f"use --presenter none, or a {stage} provider that draws one (ffmpeg)")
    return {k: v for k, v in inputs.items() if k != "presenter"}


def _takes_argument(provider: Any, argument: str) -> bool:
    import inspect

    params = inspect.signature(provider.run).parameters
    return argument in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _check_draws_reveal(plan: Plan) -> None:
    """A run that asks for the reveal card fails before any work when its compose provider cannot draw it (its
    run() has no `reveal` argument): the card is never dropped without a word."""
    for name, stage in STAGES.items():
        provider = plan.providers[name]
        if stage.takes_reveal and not _takes_argument(provider, "reveal"):
            raise NewsreelError(
                f"{name} provider '{provider.name}' does not draw the reveal card",
                f"leave out --reveal (and --preset lesson), or use a {name} provider that draws it (ffmpeg, moviepy)",
            )


def _reveal_card(plan: Plan, records: Mapping[str, StageRecord], artifacts: Mapping[str, Artifact],
                 source: Source | None) -> Reveal:
    """The reveal card from what the earlier stages recorded (pipeline/reveal.py)."""
    script = artifacts["script"]
    presenter = artifacts.get("presenter")
    return build_reveal(
        providers=plan.providers,
        built_seconds={name: rec.built_seconds for name, rec in records.items()},
        script_notes=getattr(script, "notes", None) or {},
        presenter_shown=presenter is not None and getattr(presenter, "kind", "none") != "none",
        source=source,
        language=getattr(script, "language", "en") or "en",
    )


def _build(
    cache: Cache,
    key: str,
    name: str,
    input_names: tuple[str, ...],
    provider: Provider,
    artifacts: dict[str, Artifact],
    headline: str,
    emit: EventSink,
    stage_lock: StageLock | None = None,
    *,
    replace: bool = False,
    source: Source | None = None,
    reveal: Reveal | None = None,
    interrupted: threading.Event | None = None,
) -> tuple[Artifact, Any]:
    inputs: dict[str, Any] = {i: (headline if i == "headline" else artifacts[i]) for i in input_names}
    inputs = inputs_it_takes(provider, name, inputs)
    if reveal is not None:
        inputs["reveal"] = reveal
    if "headline" in input_names and provider.takes_source:
        inputs["source"] = source  # the article travels with the headline, to providers that read it

    def progress(fraction: float, message: str = "") -> None:
        emit(Event(stage=name, kind="progress", fraction=max(0.0, min(1.0, fraction)), message=message))

    with cache.building(key) as workdir:
        with stage_lock(name, provider) if stage_lock else nullcontext():
            t0 = time.perf_counter()  # time the work, not the wait for the lock
            artifact = provider.run(**inputs, workdir=workdir, progress=progress)
            finish = STAGES[name].finish
            if finish is not None:  # the script's grounding check, for every provider
                artifact = finish(artifact, headline=headline, source=source)
            seconds = time.perf_counter() - t0
        # A provider's broken promise fails its stage here, in one line, before anything is cached.
        STAGES[name].check_output(provider, artifact, inputs)
        if interrupted is not None and interrupted.is_set():  # the run was stopped while this stage worked
            raise _Stopped()
        meta = {
            "stage": name,
            "provider": provider.name,
            "version": provider.version,
            "seconds": round(seconds, 3),
            "identity": provider.identity(),
            "notes": _notes(artifact),
        }
        return cache.put(key, workdir, artifact, meta, replace=replace)


def _notes(artifact: Artifact) -> dict[str, Any]:
    """Provider facts worth surfacing in run.json (e.g. an image's safety verdict), gathered from the artifact."""
    notes = dict(getattr(artifact, "notes", None) or {})
    for i, image in enumerate(getattr(artifact, "images", None) or []):
        if image.notes:
            notes[f"image{i + 1}"] = image.notes
    return notes


def headline_digest(headline: str, source: Source | None = None) -> str:
    """What the job's input, the headline and the article it is made from (if any), enters the cache keys as (the
    input of the script stage). A headline alone keeps the digest it always had; with a source, the source's text
    hash and metadata join it, so the same headline with another article is new work."""
    if source is None:
        return sha256_bytes(headline.encode())
    from .artifacts import canonical_json

    return sha256_bytes(canonical_json({"headline": headline, "source": source.key_material()}).encode())


def stage_key(name: str, provider: Provider, digests: Mapping[str, str], identity: dict[str, Any] | None = None) -> str:
    """The cache key of stage `name` done by `provider`: its name and version, its key parameters, its model identity
    (file hash, revision: new weights at the same path are new work) and the digests of the stage's inputs.

    `digests` holds "headline" (`headline_digest`) and each earlier stage's output digest, and "reveal" (the reveal
    card's digest) when the run draws one. `identity` is
    `provider.identity()`, passed when the caller already has it. The runner keys its cache with this and
    `batch.up_to_date` recomputes run.json's keys with it.
    """
    if identity is None:
        identity = provider.identity()
    material = {**provider.key_params(), "__identity__": identity} if identity else provider.key_params()
    if STAGES[name].finish_version:
        material = {**material, "__finish__": STAGES[name].finish_version}
    inputs = {i: digests[i] for i in STAGES[name].inputs}
    if STAGES[name].takes_reveal and "reveal" in digests:  # one more input; a run without the card keeps its keys
        inputs["reveal"] = digests["reveal"]
    return cache_key(name, provider.name, provider.version, material, inputs)


def _export(folder: Path, files: dict[str, Path | bytes]) -> None:
    """Write each file into the (private, not yet published) run folder: copies out of the cache, or bytes."""
    for name, source in files.items():
        if isinstance(source, bytes):
            (folder / name).write_bytes(source)
        else:
            shutil.copyfile(source, folder / name)


def _disk_full(exc: BaseException, places: dict[str, Path]) -> NewsreelError | None:
    """A one-line error naming the full place when `exc` came from a full disk (ENOSPC anywhere in its chain, or a
    provider's own error while the cache's or the output's device has no room left); None otherwise."""
    errnos = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
    chain, seen = [], exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    saw_enospc = any(isinstance(e, OSError) and e.errno in errnos for e in chain) or any(
        "no space left on device" in str(e).lower() for e in chain
    )
    free = {what: _free_bytes(path) for what, path in places.items()}
    named = None
    for e in chain:
        if not (isinstance(e, OSError) and e.errno in errnos):
            continue
        # A failed copy names its source in `filename` and the file it was writing, on the full disk, in `filename2`.
        written = e.filename2 or e.filename
        for what, path in places.items():
            if written and str(written).startswith(str(path)):
                named = what
    full = named or min(free, key=lambda w: free[w] if free[w] is not None else float("inf"))
    if not saw_enospc and (free[full] is None or free[full] >= 1 << 20):
        return None
    where = places[full]
    left = f"{free[full] / 1e6:.1f} MB free" if free[full] is not None else "no room"
    if full == "cache":
        return NewsreelError(
            f"the cache folder {where} is full ({left} on its disk)",
            "free space there (newsreel cache prune --older-than 30 removes old entries) or set cache_dir to a "
            "folder on a disk with room; a 60 s video needs about 50 MB",
        )
    return NewsreelError(
        f"the output folder {where} is full ({left} on its disk); nothing was written there",
        "free space there or choose --out on a disk with room; a 60 s video's run folder needs about 20 MB",
    )


def _free_bytes(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def make_video(
    headline: str | None,
    out: Path | str | None = None,
    *,
    on_event: EventSink | None = None,
    config_file: Path | None = None,
    **options: Any,
) -> RunResult:
    """Python API: `make_video("Headline", out="clip", seed=3, aspect="9:16", providers={"voice": "espeak"})`.

    Options are those of `pipeline.jobs.MakeOptions` (the same as `newsreel make`'s flags): `url="https://..."`
    makes the video from that article (the headline may then be None: the article's title is used), `source=`
    takes an article already read (`pipeline.sources.article.read_article(path)`).
    """
    from .jobs import MakeOptions
    from .sources import resolve_options

    job = MakeOptions.parse({"headline": headline, **options})
    plan = job.plan(config_file)
    job = resolve_options(job, plan.settings.cache_dir)  # fetch `url` (cached) into the job's source
    assert job.headline is not None  # a resolved job has one (given, or the article's title)
    target = Path(out) if out else default_out(job.headline)
    return run(job.headline, plan, target, force=job.force, no_cache=job.no_cache, on_event=on_event, source=job.source)


def default_out(headline: str) -> Path:
    import re

    slug = re.sub(r"[^\w]+", "-", headline.lower(), flags=re.UNICODE).strip("-")[:48] or "video"
    return Path("newsreel-out") / slug
