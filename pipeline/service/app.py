"""The FastAPI application: the JSON API under /api (api.py), the server-rendered pages (pages.py), and the
reference at /docs, assembled here with the shared state (state.py) and the error handlers.

Every request that goes wrong gets a JSON body {"error": what is wrong, "hint": what to do} with a fitting status
(400 malformed, 401 token, 404 unknown, 409 not ready, 413 too big, 415 wrong content type, 422 invalid, 429 queue
full); an unexpected failure is a 500 with the same shape and no traceback (the traceback goes to the server log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import NewsreelError
from . import api, pages
from .config import ServiceConfig
from .executor import Executor, Hub
from .intake import ApiError
from .security import BodyTooLarge, Guard, error_response
from .state import ServiceState
from .store import JobStore
from .uploads import Limits, UploadProblem
from .views import job_view

log = logging.getLogger("newsreel.service")


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
    limits = Limits(config.max_image_bytes, config.max_audio_bytes, config.max_image_pixels, config.max_article_bytes)
    app.state.service = ServiceState(config=config, store=store, hub=hub, executor=executor, limits=limits)
    app.add_middleware(Guard, config=config)
    _error_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    return app


def _error_handlers(app: FastAPI) -> None:
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
