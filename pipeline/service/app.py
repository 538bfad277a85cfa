"""The FastAPI application: the JSON API under /api, the server-rendered pages, and the reference at /docs.

Every request that goes wrong gets a JSON body {"error": what is wrong, "hint": what to do} with a fitting status
(400 malformed, 401 token, 404 unknown, 409 not ready, 413 too big, 415 wrong content type, 422 invalid, 429 queue
full); an unexpected failure is a 500 with the same shape and no traceback (the traceback goes to the server log).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..assets import TEMPLATES_DIR
from ..errors import NewsreelError
from ..stages import STAGES
from .config import ServiceConfig
from .executor import Executor, Hub
from .intake import ApiError, check_plain_data, parse_json_body, refuse_server_resources
from .security import SESSION_COOKIE, BodyTooLarge, Guard, error_response, session_value
from .store import FINISHED, Job, JobStore
from .uploads import UPLOAD_REF, Limits, UploadProblem, save_upload, upload_refs

log = logging.getLogger("newsreel.service")

WEB_DIR = TEMPLATES_DIR / "web"
STATIC_FILES = {"style.css": "text/css; charset=utf-8", "job.js": "text/javascript; charset=utf-8"}
JOB_ID = re.compile(r"^[0-9a-f]{16}$")
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9]+)+$")
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "text/plain; charset=utf-8",
    ".ass": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".wav": "audio/wav",
}
EXTRA_FILES = ("provenance.json", "thumbnail.jpg")  # files a run folder may hold beyond run.json's list
PAGE_SIZE = 20


# -- response models (they document the API at /docs and /openapi.json) -------------------------------------------


class ErrorBody(BaseModel):
    error: str
    hint: str


class StageView(BaseModel):
    state: Literal["pending", "running", "done"]
    fraction: float
    message: str = ""
    hit: bool | None = None  # the stage came from the cache
    seconds: float | None = None


class JobLinks(BaseModel):
    self: str
    events: str
    page: str
    video: str | None = None
    files: dict[str, str] = {}


class JobView(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    headline: str
    created: str
    started: str | None = None
    finished: str | None = None
    position: int | None = None  # place in the queue, 1 = next
    attempts: int = 0
    options: dict[str, Any]
    stages: dict[str, StageView]
    notices: list[str] = []
    error: ErrorBody | None = None
    links: JobLinks


class JobList(BaseModel):
    jobs: list[JobView]
    total: int
    limit: int
    offset: int
    next: str | None = None


class UploadView(BaseModel):
    id: str
    ref: str  # use this string as init_image (or a provider parameter) in POST /api/jobs
    kind: Literal["image", "audio"]
    type: str
    bytes: int
    name: str


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 404, 409, 413, 415, 422, 429)}


def iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def job_view(job: Job) -> JobView:
    base = f"/api/jobs/{job.id}"
    files = {name: f"{base}/files/{name}" for name in _visible_files(job)}
    return JobView(
        id=job.id,
        state=job.state,
        headline=job.headline,
        created=iso(job.created),
        started=iso(job.started),
        finished=iso(job.finished),
        position=job.position,
        attempts=job.attempts,
        options=job.options,
        stages={name: StageView(**job.stages.get(name, {"state": "pending", "fraction": 0.0})) for name in STAGES},
        notices=job.notices,
        error=ErrorBody(error=job.error.get("message", ""), hint=job.error.get("hint", "")) if job.error else None,
        links=JobLinks(
            self=base,
            events=f"{base}/events",
            page=f"/jobs/{job.id}",
            video=f"{base}/video" if "video.mp4" in files else None,
            files=files,
        ),
    )


def _visible_files(job: Job) -> list[str]:
    if job.state != "done":
        return []
    names = [n for n in job.files if FILE_NAME.match(n) and Path(n).suffix in MEDIA_TYPES]
    names += [n for n in EXTRA_FILES if n not in names and (job.out / n).is_file()]
    return names


def create_app(config: ServiceConfig) -> FastAPI:
    config.check()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(config.db_path)
    hub = Hub()

    def publish_job(job_id: str) -> None:
        job = store.get(job_id)
        if job is not None:
            hub.publish(job_id, "job", job_view(job).model_dump(mode="json"))

    executor = Executor(config, store, hub, on_change=publish_job)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        hub.bind(asyncio.get_running_loop())
        await run_in_threadpool(executor.start)
        try:
            yield
        finally:
            hub.close()
            await run_in_threadpool(executor.stop)
            store.close()

    app = FastAPI(
        title="newsreel",
        version=__version__,
        summary="Make a captioned, narrated one-minute video from a headline: queue jobs, follow them, download them.",
        docs_url=None,  # /docs is our own page: Swagger UI would load its scripts from a CDN, and newsreel is offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.config, app.state.store, app.state.hub, app.state.executor = config, store, hub, executor
    app.add_middleware(Guard, config=config)
    pages = _templates()
    limits = Limits(config.max_image_bytes, config.max_audio_bytes, config.max_image_pixels)

    # -- errors --------------------------------------------------------------------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.hint, exc.headers)

    @app.exception_handler(NewsreelError)
    async def _newsreel_error(request: Request, exc: NewsreelError):
        return error_response(422, exc.message, exc.hint or "fix that option")

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge):
        return error_response(413, f"the request body is larger than {exc.limit} bytes", "send a smaller body or file")

    @app.exception_handler(UploadProblem)
    async def _upload_problem(request: Request, exc: UploadProblem):
        return error_response(exc.status, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        err = exc.errors()[0] if exc.errors() else {"type": "", "loc": (), "msg": "invalid request"}
        if err["type"] == "json_invalid":
            return error_response(400, "the request body is not valid JSON", "send a JSON object")
        loc = [str(p) for p in err.get("loc", ())]
        where = ".".join(loc[1:]) or (loc[0] if loc else "request")
        if loc[:1] == ["body"] and err["type"] == "missing":
            return error_response(422, f"the form has no '{where}' field", f"send '{where}' as a multipart form field")
        return error_response(422, f"bad {loc[0] if loc else 'request'} parameter {where}: {err.get('msg', 'invalid')}", "fix that value")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return error_response(404, f"nothing at {request.url.path}", "the API is under /api (see /docs); the page is /")
        if exc.status_code == 405:
            return error_response(405, f"{request.method} is not allowed on {request.url.path}", "see /docs for the methods each path takes")
        return error_response(exc.status_code, str(exc.detail), "see /docs")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "the service hit an unexpected error", "this is a bug: the server's log has the details")

    # -- helpers -------------------------------------------------------------------------------------------------

    def get_job(job_id: str) -> Job:
        job = store.get(job_id) if JOB_ID.match(job_id) else None
        if job is None:
            raise ApiError(404, f"no job '{job_id[:40]}'", "list the jobs with GET /api/jobs")
        return job

    def create_job(data: Any) -> Job:
        check_plain_data(data)  # JSON bodies were checked as they parsed; form fields come here too
        if not isinstance(data, dict):
            raise ApiError(422, "the request body must be a JSON object of options", 'e.g. {"headline": "Breakthrough in Mars Project"}')
        if "headline" not in data or data["headline"] is None:
            raise ApiError(422, "the request has no headline", 'send {"headline": "...", ...}: one line of text, at most 300 characters')
        from ..jobs import MakeOptions

        options = MakeOptions.parse(data)  # NewsreelError -> 422 with the option's name
        if options.init_image is not None and not UPLOAD_REF.match(options.init_image):
            raise ApiError(
                422,
                "init_image must be an upload, not a path on the server",
                "POST the picture to /api/uploads (kind=image) and pass the 'ref' it returns as init_image",
            )
        if not config.allow_server_paths:
            refuse_server_resources(options, config.config_file)  # before the plan opens any file it names
        public = options.model_dump(mode="json", exclude_defaults=True)
        public["headline"] = options.headline
        for where, upload_id in upload_refs(public):
            upload = store.get_upload(upload_id)
            if upload is None:
                raise ApiError(422, f"{where} names an upload that does not exist (upload:{upload_id})", "upload the file again with POST /api/uploads")
            if where == "init_image" and upload.kind != "image":
                raise ApiError(422, f"init_image names a {upload.kind} upload, not an image", "upload a picture with kind=image")
        from .uploads import resolve_uploads

        plan = MakeOptions.parse(resolve_uploads(public, store)).plan(config.config_file)  # unknown providers, bad params
        job = store.add(options.headline, public, config.run_root, list(plan.notices), config.max_queued)
        if job is None:
            raise ApiError(
                429,
                f"the queue is full: {config.max_queued} jobs are waiting",
                "wait for some to finish, or cancel some with DELETE /api/jobs/{id}",
                headers={"Retry-After": "30"},
            )
        executor.wake()
        return job

    async def read_json(request: Request) -> Any:
        return parse_json_body(request.headers.get("content-type", ""), await request.body())

    # -- the API ---------------------------------------------------------------------------------------------------

    @app.post(
        "/api/jobs",
        summary="Queue a job",
        status_code=201,
        response_model=JobView,
        responses=ERRORS,
        tags=["jobs"],
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _options_schema()}}}},
    )
    async def post_job(request: Request, response: Response) -> JobView:
        """The body holds `newsreel make`'s options; only `headline` is required. The server picks the run folder. An
        init image (or music) is uploaded first with POST /api/uploads and passed as its `ref`. Returns the job (201)."""
        data = await read_json(request)
        job = await run_in_threadpool(create_job, data)
        response.headers["Location"] = f"/api/jobs/{job.id}"
        return job_view(job)

    @app.get("/api/jobs", summary="List jobs", response_model=JobList, responses=ERRORS, tags=["jobs"])
    def list_jobs(
        limit: int = Query(20, ge=1, le=100, description="jobs per page"),
        offset: int = Query(0, ge=0, description="jobs to skip (newest first)"),
        state: Literal["queued", "running", "done", "failed", "cancelled"] | None = Query(None, description="only jobs in this state"),
    ) -> JobList:
        """Jobs, newest first, a page at a time."""
        jobs, total = store.list(limit, offset, state)
        nxt = None
        if offset + limit < total:
            nxt = f"/api/jobs?limit={limit}&offset={offset + limit}" + (f"&state={state}" if state else "")
        return JobList(jobs=[job_view(j) for j in jobs], total=total, limit=limit, offset=offset, next=nxt)

    @app.get("/api/jobs/{job_id}", summary="A job's state and progress", response_model=JobView, responses=ERRORS, tags=["jobs"])
    def get_job_api(job_id: str) -> JobView:
        """A job's state, per-stage progress, notices and error; links to its files once done."""
        return job_view(get_job(job_id))

    @app.delete("/api/jobs/{job_id}", summary="Cancel a job", response_model=JobView, responses=ERRORS, tags=["jobs"])
    def cancel_job(job_id: str, response: Response) -> JobView:
        """Cancel a queued or running job (a running one stops within seconds: 202 until it has)."""
        job = get_job(job_id)
        if job.state in FINISHED:
            raise ApiError(409, f"the job is already {job.state}; there is nothing to cancel", "only queued or running jobs can be cancelled")
        state = executor.cancel(job_id)
        if state != "cancelled":
            response.status_code = 202
        return job_view(get_job(job_id))

    @app.get(
        "/api/jobs/{job_id}/events",
        summary="Follow a job live (server-sent events)",
        responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}, **ERRORS},
        tags=["jobs"],
    )
    async def job_events(job_id: str, request: Request):
        """Live progress as server-sent events: `job` (the whole job, on every change of state and first of all) and
        `progress` (one stage: state, fraction, message). The stream ends when the job has finished."""
        if not JOB_ID.match(job_id):
            raise ApiError(404, f"no job '{job_id[:40]}'", "list the jobs with GET /api/jobs")
        queue = hub.subscribe(job_id)  # before reading the job, so no change falls between the two
        job = await run_in_threadpool(store.get, job_id)
        if job is None:
            hub.unsubscribe(job_id, queue)
            raise ApiError(404, f"no job '{job_id}'", "list the jobs with GET /api/jobs")

        async def stream():
            try:
                yield "retry: 2000\n\n"
                view = job_view(job).model_dump(mode="json")
                yield _sse("job", view)
                if view["state"] in FINISHED:
                    return
                while not hub.closed:
                    try:
                        kind, data = await asyncio.wait_for(queue.get(), timeout=15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if kind == "close":
                        return
                    yield _sse(kind, data)
                    if kind == "job" and data.get("state") in FINISHED:
                        return
            finally:
                hub.unsubscribe(job_id, queue)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/jobs/{job_id}/video", summary="The finished video", responses={200: {"content": {"video/mp4": {}}}, **ERRORS}, tags=["files"])
    def job_video(job_id: str, download: bool = False):
        """The finished video (MP4). Supports range requests, so players can seek."""
        return file_response(get_job(job_id), "video.mp4", download)

    @app.get("/api/jobs/{job_id}/files/{name}", summary="A file of the finished run", responses=ERRORS, tags=["files"])
    def job_file(job_id: str, name: str, download: bool = False):
        """One file of the finished run folder: captions.vtt/.srt/.ass, script.json, run.json, poster.jpg, image.png,
        narration.wav, provenance.json, ... (those listed in the job's `links.files`)."""
        return file_response(get_job(job_id), name, download)

    def file_response(job: Job, name: str, download: bool):
        if job.state != "done":
            raise ApiError(409, f"the job is {job.state}; its files exist once it is done", f"follow it at /api/jobs/{job.id}/events")
        if name not in _visible_files(job):
            raise ApiError(404, f"the job has no file '{name[:60]}'", f"its files are listed in links.files of GET /api/jobs/{job.id}")
        path = job.out / name
        if path.is_symlink() or not path.is_file() or path.resolve().parent != job.out.resolve():
            raise ApiError(404, f"the file '{name}' is gone from the run folder", "run the job again; the cache makes it quick")
        headers = {"Cache-Control": "no-cache"}
        if download:
            slug = re.sub(r"[^a-z0-9]+", "-", job.headline.lower()).strip("-")[:40] or "newsreel"
            headers["Content-Disposition"] = f"attachment; filename=\"{slug}-{name}\""
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)

    @app.post("/api/uploads", summary="Upload an init image or music", status_code=201, response_model=UploadView, responses=ERRORS, tags=["uploads"])
    async def upload(file: UploadFile = File(..., description="the picture or audio file"), kind: Literal["image", "audio"] = Form("image")) -> UploadView:
        """Upload an init image (kind=image: PNG, JPEG or WebP) or music (kind=audio: WAV, MP3, Ogg, FLAC, M4A). What
        the file is comes from its bytes, not its name or declared type. Returns the `ref` to use in a job."""
        try:
            saved = await run_in_threadpool(save_upload, file.file, file.filename, kind, config.upload_dir, limits)
        finally:
            await file.close()
        store.add_upload(saved)
        return UploadView(id=saved.id, ref=f"upload:{saved.id}", kind=saved.kind, type=saved.type, bytes=saved.bytes, name=saved.name)

    @app.get("/api/health", summary="Health and queue size", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and queue size."""
        return {"ok": True, "version": __version__, "queued": store.count("queued"), "running": store.count("running")}

    # -- pages -----------------------------------------------------------------------------------------------------

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = pages.get_template(name).render(version=__version__, token=config.token is not None, **context)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def form_context() -> dict[str, Any]:
        return _form_choices(config)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(p: int = Query(1, ge=1, le=100_000)):
        jobs, total = store.list(PAGE_SIZE, (p - 1) * PAGE_SIZE)
        return page("index.html.j2", jobs=[job_view(j) for j in jobs], total=total, p=p, pages=max(1, -(-total // PAGE_SIZE)), form={}, **form_context())

    @app.post("/jobs", include_in_schema=False)
    async def submit_form(request: Request):
        form = await request.form(max_files=1, max_fields=20)
        try:
            data = await _form_to_options(form, config, store, limits)
            job = await run_in_threadpool(create_job, data)
        except (ApiError, NewsreelError, UploadProblem) as exc:
            status = getattr(exc, "status", 422)
            jobs, total = store.list(PAGE_SIZE, 0)
            values = {k: v for k, v in form.items() if isinstance(v, str)}
            return page("index.html.j2", status=status, jobs=[job_view(j) for j in jobs], total=total, p=1, pages=max(1, -(-total // PAGE_SIZE)),
                        form=values, error={"message": exc.message, "hint": exc.hint}, **form_context())
        finally:
            await form.close()
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(job_id: str):
        job = store.get(job_id) if JOB_ID.match(job_id) else None
        if job is None:
            return page("missing.html.j2", status=404, job_id=job_id[:40])
        view = job_view(job)
        script = _read_json(job.out / "script.json") if job.state == "done" else None
        record = _read_json(job.out / "run.json") if job.state == "done" else None
        return page("job.html.j2", job=view, script=script, provenance=_provenance(record), lang=(record or {}).get("settings", {}).get("language", "en"))

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(next: str = "/"):
        return page("login.html.j2", next=_safe_next(next), failed=False)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form(max_files=0, max_fields=5)
        given, nxt = str(form.get("token", "")), _safe_next(str(form.get("next", "/")))
        if config.token is None:
            return RedirectResponse(nxt, status_code=303)
        import hmac

        if not hmac.compare_digest(given.strip().encode(), config.token.get_secret_value().encode()):
            await asyncio.sleep(0.5)  # slow down guessing
            return page("login.html.j2", status=401, next=nxt, failed=True)
        response = RedirectResponse(nxt, status_code=303)
        response.set_cookie(SESSION_COOKIE, session_value(config.token.get_secret_value()), max_age=30 * 86400, httponly=True, samesite="strict")
        return response

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in STATIC_FILES:
            raise ApiError(404, f"nothing at /static/{name[:40]}", "the page is /")
        return FileResponse(WEB_DIR / "static" / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs():
        return page("docs.html.j2", api=app.openapi())

    return app


# -- page helpers ------------------------------------------------------------------------------------------------


def _templates():
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(WEB_DIR)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda iso_text: (iso_text or "").replace("T", " ").replace("Z", " UTC")[:20].strip()
    env.filters["pct"] = lambda f: f"{max(0.0, min(1.0, float(f or 0))) * 100:.0f}"
    env.globals["stage_names"] = {"script": "Script", "image": "Image", "voice": "Voice", "captions": "Captions", "compose": "Video"}
    env.filters["schema_text"] = _schema_text
    env.filters["inline_code"] = lambda text: markupsafe.Markup(
        re.sub(r"`([^`]+)`", r"<code>\1</code>", str(markupsafe.escape(text or "")))
    )
    return env


def _schema_text(schema: dict[str, Any]) -> str:
    """A JSON schema fragment in words, for the /docs page: 'integer, >= 0, < 4294967296, or null'."""
    if "anyOf" in schema:
        parts = [_schema_text(s) for s in schema["anyOf"] if s.get("type") != "null"]
        text = " or ".join(parts) + (", or null" if any(s.get("type") == "null" for s in schema["anyOf"]) else "")
    elif "enum" in schema:
        text = "one of " + ", ".join(str(v) for v in schema["enum"])
    elif schema.get("type") == "array":
        text = "list of " + _schema_text(schema.get("items", {}))
    elif schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = "object: name -> " + _schema_text(schema["additionalProperties"])
    else:
        text = schema.get("type", "any")
        for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
            if key in schema:
                text += f", {sign} {schema[key]}"
        if "maxLength" in schema:
            text += f", at most {schema['maxLength']} characters"
    if schema.get("default") not in (None, {}, []):
        text += f" (default {json.dumps(schema['default'])})"
    return text


def _sse(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _options_schema() -> dict[str, Any]:
    from ..jobs import MakeOptions

    schema = MakeOptions.model_json_schema()
    schema.pop("$defs", None)
    schema["examples"] = [{"headline": "Breakthrough in Mars Project", "seed": 3, "aspect": "9:16", "voice": "en-gb"}]
    return schema


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _provenance(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the page shows of run.json: versions, settings, and per stage what ran, from the cache or not."""
    if not record:
        return None
    settings = record.get("settings", {})
    stages = []
    for name, rec in record.get("stages", {}).items():
        identity = rec.get("identity") or {}
        models = []
        for key, value in identity.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            models.append(f"{key}: {text[:80]}")
        notes = rec.get("notes") or {}
        stages.append(
            {
                "stage": name,
                "provider": rec.get("provider", "?"),
                "version": rec.get("version", "?"),
                "hit": rec.get("hit"),
                "seconds": rec.get("seconds"),
                "built_seconds": rec.get("built_seconds"),
                "models": models,
                "notes": [f"{k}: {json.dumps(v, ensure_ascii=False)[:120]}" for k, v in notes.items()],
            }
        )
    return {
        "newsreel": record.get("newsreel"),
        "created": record.get("created"),
        "seconds": record.get("seconds"),
        "seed": settings.get("seed"),
        "aspect": settings.get("aspect"),
        "language": settings.get("language"),
        "stages": stages,
    }


def _form_choices(config: ServiceConfig) -> dict[str, Any]:
    """What the form offers, from what is installed and configured, asked of the providers' declarations (their
    Params fields and `param_choices()`), never of their names; fields the configured providers do not take are
    left out rather than failing the job."""
    from ..config import load_settings
    from ..plugins import provider_class, provider_names

    choice: dict[str, str] = {}
    takes: dict[str, bool] = {"voice": False, "style": False, "init_image": False}
    styles: list[str] = []
    try:
        settings = load_settings(config.config_file)
        choice = {**settings.providers.model_dump(), "aspect": settings.aspect}
        voice_cls = provider_class("voice", choice["voice"])
        takes["voice"] = "voice" in voice_cls.Params.model_fields
        compose_cls = provider_class("compose", choice["compose"])
        if "style" in compose_cls.Params.model_fields:
            styles = list(compose_cls.param_choices().get("style", []))
            takes["style"] = bool(styles)
    except NewsreelError:
        pass
    image_providers = provider_names("image")
    takes["init_image"] = any("init_image" in cls.Params.model_fields for cls in _loadable("image", image_providers))
    from ..config import FRAME_SIZES

    return {"aspects": list(FRAME_SIZES), "image_providers": image_providers, "styles": styles, "takes": takes, "defaults": choice}


def _loadable(stage: str, names: list[str]) -> list[Any]:
    from ..plugins import provider_class

    found = []
    for name in names:
        try:
            found.append(provider_class(stage, name))
        except NewsreelError:
            pass  # a provider that does not load offers nothing
    return found


async def _form_to_options(form: Any, config: ServiceConfig, store: JobStore, limits: Limits) -> dict[str, Any]:
    """The page's form (multipart or urlencoded) as job options; an attached init image is checked and stored."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    allowed = {"headline", "aspect", "voice", "image", "style", "seed", "init_image"}
    unknown = [k for k in form if k not in allowed]
    if unknown:
        raise ApiError(422, f"unknown form field '{unknown[0][:40]}'", f"the form's fields are: {', '.join(sorted(allowed))}")
    data: dict[str, Any] = {"headline": text("headline")}
    if text("aspect"):
        data["aspect"] = text("aspect")
    if text("voice"):
        data["voice"] = text("voice")
    if text("image"):
        data["providers"] = {"image": text("image")}
    if text("style"):
        data["params"] = {"compose": {"style": text("style")}}
    if text("seed"):
        if not text("seed").isdigit():
            raise ApiError(422, f"the seed '{text('seed')[:20]}' is not a whole number", "leave it empty or give 0, 1, 2, ...")
        data["seed"] = int(text("seed"))
    picture = form.get("init_image")
    if picture is not None and not isinstance(picture, str) and picture.filename:
        saved = await run_in_threadpool(save_upload, picture.file, picture.filename, "image", config.upload_dir, limits)
        store.add_upload(saved)
        data["init_image"] = f"upload:{saved.id}"
    return data


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return quote(target, safe="/?=&")
