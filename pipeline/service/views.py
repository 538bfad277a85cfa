"""What the API shows of a job, an upload or an error: the response models (they document the API at /docs and
/openapi.json) and the job's public view, which never holds a server path."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ..stages import STAGES
from .store import Job

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
    kind: Literal["image", "audio", "article"]
    type: str
    bytes: int
    name: str


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 404, 409, 413, 415, 422, 429)}


def iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def job_view(job: Job) -> JobView:
    base = f"/api/jobs/{job.id}"
    files = {name: f"{base}/files/{name}" for name in visible_files(job)}
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


def visible_files(job: Job) -> list[str]:
    if job.state != "done":
        return []
    names = [n for n in job.files if FILE_NAME.match(n) and Path(n).suffix in MEDIA_TYPES]
    names += [n for n in EXTRA_FILES if n not in names and (job.out / n).is_file()]
    return names
