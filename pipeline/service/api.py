"""The JSON API under /api: queue, list, follow, cancel and download jobs; upload files; health. Every route takes
the app's shared state as a dependency (`svc: Service`, see state.py)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from .. import __version__
from .intake import ApiError, create_job, parse_json_body
from .state import Service, ServiceState
from .store import FINISHED, Job
from .uploads import save_upload
from .views import ERRORS, JOB_ID, MEDIA_TYPES, JobList, JobView, UploadView, job_view, visible_files

router = APIRouter()


def get_job(svc: ServiceState, job_id: str) -> Job:
    job = svc.store.get(job_id) if JOB_ID.match(job_id) else None
    if job is None:
        raise ApiError(404, f"no job '{job_id[:40]}'", "list the jobs with GET /api/jobs")
    return job


def options_schema() -> dict[str, Any]:
    from ..jobs import MakeOptions

    schema = MakeOptions.model_json_schema()
    schema.pop("$defs", None)
    # The service makes the source itself (a checked fetch, an upload it read); a client sends `url` or `article`.
    schema["properties"].pop("source", None)
    schema["properties"]["article"] = {
        "anyOf": [{"type": "string", "pattern": r"^upload:[0-9a-f]{16}$"}, {"type": "null"}],
        "default": None,
        "description": "an article uploaded with POST /api/uploads (kind=article): its ref",
    }
    schema["examples"] = [{"headline": "Breakthrough in Mars Project", "seed": 3, "aspect": "9:16", "voice": "en-gb"}]
    return schema


@router.post(
    "/api/jobs",
    summary="Queue a job",
    status_code=201,
    response_model=JobView,
    responses=ERRORS,
    tags=["jobs"],
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": options_schema()}}}},
)
async def post_job(request: Request, response: Response, svc: Service) -> JobView:
    """The body holds `newsreel make`'s options; `headline` is required unless the video is made from an article:
    `url` (a public http(s) page the service fetches; loopback and private addresses only when its operator allows
    them) or `article` (the `ref` of an article uploaded with POST /api/uploads, kind=article), whose title is then
    the headline. The server picks the run folder. An init image (or music) is uploaded first with POST
    /api/uploads and passed as its `ref`. Returns the job (201)."""
    data = parse_json_body(request.headers.get("content-type", ""), await request.body())
    job = await run_in_threadpool(create_job, svc, data)
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return job_view(job)


@router.get("/api/jobs", summary="List jobs", response_model=JobList, responses=ERRORS, tags=["jobs"])
def list_jobs(
    svc: Service,
    limit: int = Query(20, ge=1, le=100, description="jobs per page"),
    offset: int = Query(0, ge=0, description="jobs to skip (newest first)"),
    state: Literal["queued", "running", "done", "failed", "cancelled"] | None = Query(None, description="only jobs in this state"),
) -> JobList:
    """Jobs, newest first, a page at a time."""
    jobs, total = svc.store.list(limit, offset, state)
    nxt = None
    if offset + limit < total:
        nxt = f"/api/jobs?limit={limit}&offset={offset + limit}" + (f"&state={state}" if state else "")
    return JobList(jobs=[job_view(j) for j in jobs], total=total, limit=limit, offset=offset, next=nxt)


@router.get("/api/jobs/{job_id}", summary="A job's state and progress", response_model=JobView, responses=ERRORS, tags=["jobs"])
def get_job_api(job_id: str, svc: Service) -> JobView:
    """A job's state, per-stage progress, notices and error; links to its files once done."""
    return job_view(get_job(svc, job_id))


@router.delete("/api/jobs/{job_id}", summary="Cancel a job", response_model=JobView, responses=ERRORS, tags=["jobs"])
def cancel_job(job_id: str, response: Response, svc: Service) -> JobView:
    """Cancel a queued or running job (a running one stops within seconds: 202 until it has)."""
    job = get_job(svc, job_id)
    if job.state in FINISHED:
        raise ApiError(409, f"the job is already {job.state}; there is nothing to cancel", "only queued or running jobs can be cancelled")
    state = svc.executor.cancel(job_id)
    if state != "cancelled":
        response.status_code = 202
    return job_view(get_job(svc, job_id))


@router.get(
    "/api/jobs/{job_id}/events",
    summary="Follow a job live (server-sent events)",
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}, **ERRORS},
    tags=["jobs"],
)
async def job_events(job_id: str, svc: Service):
    """Live progress as server-sent events: `job` (the whole job, on every change of state and first of all) and
    `progress` (one stage: state, fraction, message). The stream ends when the job has finished."""
    if not JOB_ID.match(job_id):
        raise ApiError(404, f"no job '{job_id[:40]}'", "list the jobs with GET /api/jobs")
    hub = svc.hub
    queue = hub.subscribe(job_id)  # before reading the job, so no change falls between the two
    job = await run_in_threadpool(svc.store.get, job_id)
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


@router.get("/api/jobs/{job_id}/video", summary="The finished video", responses={200: {"content": {"video/mp4": {}}}, **ERRORS}, tags=["files"])
def job_video(job_id: str, svc: Service, download: bool = False):
    """The finished video (MP4). Supports range requests, so players can seek."""
    return file_response(get_job(svc, job_id), "video.mp4", download)


@router.get("/api/jobs/{job_id}/files/{name}", summary="A file of the finished run", responses=ERRORS, tags=["files"])
def job_file(job_id: str, name: str, svc: Service, download: bool = False):
    """One file of the finished run folder: captions.vtt/.srt/.ass, script.json, run.json, poster.jpg, image.png,
    narration.wav, provenance.json, ... (those listed in the job's `links.files`)."""
    return file_response(get_job(svc, job_id), name, download)


def file_response(job: Job, name: str, download: bool):
    if job.state != "done":
        raise ApiError(409, f"the job is {job.state}; its files exist once it is done", f"follow it at /api/jobs/{job.id}/events")
    if name not in visible_files(job):
        raise ApiError(404, f"the job has no file '{name[:60]}'", f"its files are listed in links.files of GET /api/jobs/{job.id}")
    path = job.out / name
    if path.is_symlink() or not path.is_file() or path.resolve().parent != job.out.resolve():
        raise ApiError(404, f"the file '{name}' is gone from the run folder", "run the job again; the cache makes it quick")
    headers = {"Cache-Control": "no-cache"}
    if download:
        slug = re.sub(r"[^a-z0-9]+", "-", job.headline.lower()).strip("-")[:40] or "newsreel"
        headers["Content-Disposition"] = f"attachment; filename=\"{slug}-{name}\""
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


@router.post("/api/uploads", summary="Upload an init image, music or an article", status_code=201, response_model=UploadView, responses=ERRORS, tags=["uploads"])
async def upload(
    svc: Service,
    file: UploadFile = File(..., description="the picture, audio or article file"),
    kind: Literal["image", "audio", "article"] = Form("image"),
) -> UploadView:
    """Upload an init image (kind=image: PNG, JPEG or WebP), music (kind=audio: WAV, MP3, Ogg, FLAC, M4A) or an
    article to make the video from (kind=article: UTF-8 plain text, Markdown (.md) or a saved HTML page; pass its
    `ref` as `article`). What the file is comes from its bytes, not its name or declared type (a .md name makes
    text Markdown). Returns the `ref` to use in a job."""
    try:
        saved = await run_in_threadpool(save_upload, file.file, file.filename, kind, svc.config.upload_dir, svc.limits)
    finally:
        await file.close()
    svc.store.add_upload(saved)
    return UploadView(id=saved.id, ref=f"upload:{saved.id}", kind=saved.kind, type=saved.type, bytes=saved.bytes, name=saved.name)


@router.get("/api/health", summary="Health and queue size", tags=["service"])
def health(svc: Service) -> dict[str, Any]:
    """Liveness and queue size."""
    return {"ok": True, "version": __version__, "queued": svc.store.count("queued"), "running": svc.store.count("running")}


def _sse(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
