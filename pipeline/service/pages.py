"""The server-rendered pages: the job list with its form (/), a job (/jobs/ID), the login form, the static files and
the API reference (/docs). Errors on the form come back as the page with the message, not as JSON."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..assets import TEMPLATES_DIR
from ..errors import NewsreelError
from .config import ServiceConfig
from .intake import ApiError, create_job
from .security import SESSION_COOKIE, session_value
from .state import Service, ServiceState
from .uploads import UploadProblem, save_upload
from .views import JOB_ID, job_view

WEB_DIR = TEMPLATES_DIR / "web"
STATIC_FILES = {"style.css": "text/css; charset=utf-8", "job.js": "text/javascript; charset=utf-8"}
PAGE_SIZE = 20

router = APIRouter(include_in_schema=False)


def page(svc: ServiceState, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(name).render(version=__version__, token=svc.config.token is not None, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/", response_class=HTMLResponse)
def index(svc: Service, p: int = Query(1, ge=1, le=100_000)):
    jobs, total = svc.store.list(PAGE_SIZE, (p - 1) * PAGE_SIZE)
    return page(svc, "index.html.j2", jobs=[job_view(j) for j in jobs], total=total, p=p, pages=max(1, -(-total // PAGE_SIZE)), form={},
                **_form_choices(svc.config))


@router.post("/jobs")
async def submit_form(request: Request, svc: Service):
    form = await request.form(max_files=2, max_fields=20)
    try:
        data = await _form_to_options(form, svc)
        job = await run_in_threadpool(create_job, svc, data)
    except (ApiError, NewsreelError, UploadProblem) as exc:
        status = getattr(exc, "status", 422)
        jobs, total = svc.store.list(PAGE_SIZE, 0)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        return page(svc, "index.html.j2", status=status, jobs=[job_view(j) for j in jobs], total=total, p=1, pages=max(1, -(-total // PAGE_SIZE)),
                    form=values, error={"message": exc.message, "hint": exc.hint}, **_form_choices(svc.config))
    finally:
        await form.close()
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, svc: Service):
    job = svc.store.get(job_id) if JOB_ID.match(job_id) else None
    if job is None:
        return page(svc, "missing.html.j2", status=404, job_id=job_id[:40])
    view = job_view(job)
    script = _read_json(job.out / "script.json") if job.state == "done" else None
    record = _read_json(job.out / "run.json") if job.state == "done" else None
    return page(svc, "job.html.j2", job=view, script=script, provenance=_provenance(record), lang=(record or {}).get("settings", {}).get("language", "en"))


@router.get("/login", response_class=HTMLResponse)
def login_form(svc: Service, next: str = "/"):
    return page(svc, "login.html.j2", next=_safe_next(next), failed=False)


@router.post("/login")
async def login(request: Request, svc: Service):
    config = svc.config
    form = await request.form(max_files=0, max_fields=5)
    given, nxt = str(form.get("token", "")), _safe_next(str(form.get("next", "/")))
    if config.token is None:
        return RedirectResponse(nxt, status_code=303)
    import hmac

    if not hmac.compare_digest(given.strip().encode(), config.token.get_secret_value().encode()):
        await asyncio.sleep(0.5)  # slow down guessing
        return page(svc, "login.html.j2", status=401, next=nxt, failed=True)
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(SESSION_COOKIE, session_value(config.token.get_secret_value()), max_age=30 * 86400, httponly=True, samesite="strict")
    return response


@router.get("/static/{name}")
def static(name: str):
    if name not in STATIC_FILES:
        raise ApiError(404, f"nothing at /static/{name[:40]}", "the page is /")
    return FileResponse(WEB_DIR / "static" / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request, svc: Service):
    return page(svc, "docs.html.j2", api=request.app.openapi())


# -- helpers ---------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
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
    env.globals["stage_names"] = {
        "script": "Script", "image": "Image", "voice": "Voice", "captions": "Captions", "presenter": "Presenter",
        "compose": "Video",
    }  # fmt: skip
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
        "source": record.get("source") if isinstance(record.get("source"), dict) else None,
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
        if voice_cls.delegates:  # voice `auto`: a voice name is passed on, and picks a provider that takes one
            takes["voice"] = any("voice" in cls.Params.model_fields
                                 for cls in _loadable("voice", provider_names("voice")) if not cls.delegates)
        compose_cls = provider_class("compose", choice["compose"])
        if "style" in compose_cls.Params.model_fields:
            styles = list(compose_cls.param_choices().get("style", []))
            takes["style"] = bool(styles)
    except NewsreelError:
        pass
    image_providers = provider_names("image")
    takes["init_image"] = any("init_image" in cls.Params.model_fields for cls in _loadable("image", image_providers))
    from ..config import FRAME_SIZES

    return {"aspects": list(FRAME_SIZES), "image_providers": image_providers, "styles": styles, "takes": takes, "defaults": choice,
            "presenters": presenter_choices()}


def presenter_choices() -> list[dict[str, Any]]:
    """The presenters the form offers: each installed presenter provider that runs here and needs nothing but what
    a form can give, with a choice per value of its `param_choices()` (the anchor's looks). A provider with a
    required server path (a user's sprite folder) is left out: clients may not name folders on the server."""
    from ..plugins import provider_names
    from ..provider import server_resource_kind

    offered = []
    for cls in _loadable("presenter", provider_names("presenter")):
        fields = cls.Params.model_fields
        if cls.missing_packages() or any(f.is_required() and server_resource_kind(f) for f in fields.values()):
            continue
        options = [{"value": cls.name, "label": cls.name}]
        for key, values in cls.param_choices().items():
            default = fields[key].default if key in fields else None
            options += [{"value": f"{cls.name}:{key}={v}", "label": f"{cls.name}, {key} {v}"} for v in values if v != default]
        offered.append({"name": cls.name, "summary": cls.summary, "options": options})
    return offered


def _loadable(stage: str, names: list[str]) -> list[Any]:
    from ..plugins import provider_class

    found = []
    for name in names:
        try:
            found.append(provider_class(stage, name))
        except NewsreelError:
            pass  # a provider that does not load offers nothing
    return found


async def _form_to_options(form: Any, svc: ServiceState) -> dict[str, Any]:
    """The page's form (multipart or urlencoded) as job options; an attached init image or article is checked and
    stored in the service's upload folder."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    allowed = {"headline", "url", "article", "aspect", "voice", "image", "style", "presenter", "reveal", "seed",
               "init_image"}
    unknown = [k for k in form if k not in allowed]
    if unknown:
        raise ApiError(422, f"unknown form field '{unknown[0][:40]}'", f"the form's fields are: {', '.join(sorted(allowed))}")
    data: dict[str, Any] = {}
    if text("headline"):
        data["headline"] = text("headline")
    if text("url"):
        data["url"] = text("url")
    if text("aspect"):
        data["aspect"] = text("aspect")
    if text("voice"):
        data["voice"] = text("voice")
    if text("image"):
        data["providers"] = {"image": text("image")}
    if text("style"):
        data.setdefault("params", {}).setdefault("compose", {})["style"] = text("style")
    if text("presenter"):  # PROVIDER, or PROVIDER:KEY=VALUE (one of the values its param_choices() offers)
        name, _, setting = text("presenter").partition(":")
        data["presenter"] = name
        if setting:
            key, eq, value = setting.partition("=")
            if not (eq and key and value):
                raise ApiError(422, f"the presenter '{text('presenter')[:60]}' is not a choice of the form", "pick one from the list")
            data.setdefault("params", {}).setdefault("presenter", {})[key] = value
    if text("reveal"):  # a checkbox: sent only when ticked
        data["reveal"] = True
    if text("seed"):
        if not text("seed").isdigit():
            raise ApiError(422, f"the seed '{text('seed')[:20]}' is not a whole number", "leave it empty or give 0, 1, 2, ...")
        data["seed"] = int(text("seed"))
    picture = form.get("init_image")
    if picture is not None and not isinstance(picture, str) and picture.filename:
        saved = await run_in_threadpool(save_upload, picture.file, picture.filename, "image", svc.config.upload_dir, svc.limits)
        svc.store.add_upload(saved)
        data["init_image"] = f"upload:{saved.id}"
    article = form.get("article")
    if article is not None and not isinstance(article, str) and article.filename:
        if text("url"):  # refused before the file is stored
            raise ApiError(422, "the form has both an article URL and an article file", "one video is made from one article: give one of them")
        saved = await run_in_threadpool(save_upload, article.file, article.filename, "article", svc.config.upload_dir, svc.limits)
        svc.store.add_upload(saved)
        data["article"] = f"upload:{saved.id}"
    return data


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return quote(target, safe="/?=&")
