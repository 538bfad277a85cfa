"""What a client may send, checked before anything on the server is opened or built: a JSON body that parses to
plain, finite, valid-Unicode data nested a few levels deep, and no provider parameter that names a file, folder or
address on this machine (unless the operator allows it). Each problem is an `ApiError` (a 4xx with a one-line
message and a hint), never a crash further in.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from ..errors import NewsreelError
from .store import Job
from .uploads import UPLOAD_REF, resolve_uploads, upload_refs

if TYPE_CHECKING:
    from .state import ServiceState

# A job's options are at most a few levels deep ({"params": {"compose": {"style": ...}}}); much deeper bodies are
# no job, and past a few hundred levels the parser, pydantic and the JSON encoder hit Python's recursion limit.
MAX_DEPTH = 32
# A lone UTF-16 surrogate ("\ud800" in JSON) decodes to a str that cannot be encoded as UTF-8: not text.
SURROGATE = re.compile("[\ud800-\udfff]")


# safety.check_address's hint for a loopback, private or link-local address that was not allowed.
PRIVATE_REFUSED_HINT = "newsreel fetches only public web addresses here"


class ApiError(Exception):
    def __init__(self, status: int, message: str, hint: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.hint, self.headers = status, message, hint, headers


def create_job(svc: ServiceState, data: Any) -> Job:
    """Queue a job from request options (a JSON body's or the page form's): every check before the plan, the plan
    (unknown providers, bad parameters), then the queue (429 when full). The one way both the API and the form
    queue a job."""
    config, store = svc.config, svc.store
    check_plain_data(data)  # JSON bodies were checked as they parsed; form fields come here too
    if not isinstance(data, dict):
        raise ApiError(422, "the request body must be a JSON object of options", 'e.g. {"headline": "Breakthrough in Mars Project"}')
    data = dict(data)
    article_ref = data.pop("article", None)
    article = _article_upload(svc, article_ref) if article_ref is not None else None
    if data.get("source") is not None:
        # The service makes the source itself (a fetch it checked, an upload it read): a client's ready-made source
        # could claim any URL, and run.json and the signed manifest would repeat the claim.
        raise ApiError(
            422,
            "the option 'source' is made by the service, not sent",
            'send "url": "https://..." for a web page, or upload the article (POST /api/uploads, kind=article) '
            'and send "article": "upload:ID"',
        )
    if article is not None and data.get("url") is not None:
        raise ApiError(422, "the request has both an article and a url", "one video is made from one article: send one of them")
    if data.get("headline") is None and article is None and data.get("url") is None:
        raise ApiError(
            422,
            "the request has no headline",
            'send {"headline": "...", ...}: one line of text, at most 300 characters (optional with a url or an article)',
        )
    from ..jobs import MakeOptions

    # NewsreelError -> 422 with the option's name; an article's title is the headline when none was given
    options = MakeOptions.parse({**data, "source": article[1]} if article else data)
    if options.url is not None:
        _check_client_url(options.url, config.allow_private_urls)
    if options.init_image is not None and not UPLOAD_REF.match(options.init_image):
        raise ApiError(
            422,
            "init_image must be an upload, not a path on the server",
            "POST the picture to /api/uploads (kind=image) and pass the 'ref' it returns as init_image",
        )
    if not config.allow_server_paths:
        refuse_server_resources(options, config.config_file)  # before the plan opens any file it names
    public = options.model_dump(mode="json", exclude_defaults=True, exclude={"source", "headline"})
    if data.get("headline") is not None:  # the client's (a title taken from the article is not an option given)
        public["headline"] = options.headline
    for where, upload_id in upload_refs(public):
        upload = store.get_upload(upload_id)
        if upload is None:
            raise ApiError(422, f"{where} names an upload that does not exist (upload:{upload_id})", "upload the file again with POST /api/uploads")
        if where == "init_image" and upload.kind != "image":
            raise ApiError(422, f"init_image names a {upload.kind} upload, not an image", "upload a picture with kind=image")
        if upload.kind == "article":
            raise ApiError(422, f"{where} names an article upload", 'send an article as "article": "upload:ID"')
    # The job's title until the worker has the article: the headline (or the uploaded article's title), or the URL.
    title = options.headline
    shown = title or (article[0].name if article else str(options.url))[:300]
    planned = {**resolve_uploads(public, store), "headline": title or "article"}  # the plan does not read the headline
    planned.pop("url", None)
    plan = MakeOptions.parse(planned).plan(config.config_file)  # unknown providers, bad params
    if article is not None:
        public["article"] = article_ref
    job = store.add(shown, public, config.run_root, list(plan.notices), config.max_queued)
    if job is None:
        raise ApiError(
            429,
            f"the queue is full: {config.max_queued} jobs are waiting",
            "wait for some to finish, or cancel some with DELETE /api/jobs/{id}",
            headers={"Retry-After": "30"},
        )
    svc.executor.wake()
    return job


def _article_upload(svc: ServiceState, ref: Any) -> tuple[Any, Any]:
    """The article upload `ref` names ("upload:ID", kind article) and its Source, read again from the service's own
    upload folder; an ApiError for anything else (a path, another kind, a missing upload)."""
    from .uploads import read_uploaded_article

    match = UPLOAD_REF.match(ref) if isinstance(ref, str) else None
    if match is None:
        raise ApiError(
            422,
            "article must be an upload, not a path or text",
            "POST the file to /api/uploads (kind=article: plain text, Markdown or HTML, UTF-8) and pass the 'ref' it returns",
        )
    upload = svc.store.get_upload(match.group(1))
    if upload is None:
        raise ApiError(422, f"article names an upload that does not exist ({ref})", "upload the file again with POST /api/uploads")
    if upload.kind != "article":
        raise ApiError(422, f"article names a {upload.kind} upload, not an article", "upload the article with kind=article")
    return upload, read_uploaded_article(upload.path, upload.name)


def _check_client_url(url: str, allow_private: bool) -> None:
    """A client's URL before it is queued: http(s), resolving, and to public addresses only unless the operator
    allows private ones. The worker checks again on every hop and the address it connects to (DNS rebinding)."""
    from ..sources.safety import check_url

    try:
        check_url(url, allow_private=allow_private)
    except NewsreelError as exc:
        hint = exc.hint or "give the article's public web address"
        if hint == PRIVATE_REFUSED_HINT:  # a private address: say who may open them
            hint = "the service fetches only public web addresses; its operator may allow others (newsreel serve --allow-private-urls)"
        raise ApiError(422, exc.message, hint) from None


def parse_json_body(content_type: str, body: bytes) -> Any:
    """The request body as JSON data, or an ApiError: 415 not JSON, 400 empty, malformed, not finite numbers, too
    deep, or not valid Unicode."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(
            415, f"the request body must be JSON, not '{ctype[:60] or 'nothing'}'", "send it with the header Content-Type: application/json"
        )
    if not body.strip():
        raise ApiError(400, "the request body is empty", 'send a JSON object, e.g. {"headline": "..."}')
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON (not UTF-8 text: {_one_line(exc)})", "send a JSON object as UTF-8") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, a number too long to convert
        raise ApiError(400, f"the request body is not valid JSON ({type(exc).__name__}: {_one_line(exc)})", "send a JSON object") from None
    check_plain_data(data)
    return data


def check_plain_data(data: Any) -> None:
    """Refuse data nested deeper than MAX_DEPTH or holding a lone surrogate in any key or string (400)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise _too_deep()
            if isinstance(item, dict):
                stack.extend((key, depth + 1) for key in item)
                stack.extend((value, depth + 1) for value in item.values())
            else:
                stack.extend((value, depth + 1) for value in item)
        elif isinstance(item, str) and SURROGATE.search(item):
            raise ApiError(
                400,
                "the request body holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair), "
                "which is not text",
                "send the text as UTF-8, or escape a character beyond U+FFFF as a surrogate pair",
            )


def refuse_server_resources(options: Any, config_file: Any) -> None:
    """422 when a request names a file, folder or address on this machine in a provider parameter (a field of the
    type ServerPath / ServerPathOrName in pipeline/provider.py): a client could otherwise read the server's files
    into a video, or send the server's API key to a URL of its choosing. Uploads ("upload:ID") are fine.

    It looks only at the request's values and the chosen providers' Params declarations, so it runs before the
    plan validates (and opens) anything: a missing file, /etc/passwd and a 400-megapixel picture get the same
    refusal. A provider that delegates (image `auto`) may hand its parameters to any provider of its stage, so
    for it a key is refused when any installed provider of that stage declares it a server path."""
    from ..config import load_settings
    from ..jobs import SHORTCUTS
    from ..plugins import check_stage, provider_class, provider_names
    from ..provider import names_server_resource

    given: list[tuple[str, str, str, Any]] = [
        (f"params.{stage}.{key}", stage, key, value)
        for stage, values in options.params.items() for key, value in values.items()
    ]
    given += [(option, stage, key, getattr(options, option)) for option, (stage, key) in SHORTCUTS.items()]
    given = [g for g in given if g[3] is not None and not (isinstance(g[3], str) and UPLOAD_REF.fullmatch(g[3]))]
    if not given:
        return
    for stage in [*options.providers, *options.params]:
        check_stage(stage)  # the same message the plan would give
    chosen = load_settings(config_file, providers=options.providers or None).providers.model_dump()
    models: dict[str, list[type]] = {}
    for where, stage, key, value in given:
        if stage not in models:
            cls = provider_class(stage, chosen[stage])
            models[stage] = [cls.Params]
            if cls.delegates:
                models[stage] += [p.Params for p in _loadable(stage, provider_names(stage), provider_class)]
        if any(names_server_resource(model, key, value) for model in models[stage]):
            raise ApiError(
                422,
                f"{where} names a file or address on the server, which clients may not choose",
                "upload the file (POST /api/uploads) and pass its 'ref', or ask the operator to set it in the "
                "server's config (or start the server with --allow-server-paths for trusted clients)",
            )


def _loadable(stage: str, names: list[str], provider_class: Any) -> list[Any]:
    found = []
    for name in names:
        try:
            found.append(provider_class(stage, name))
        except NewsreelError:
            pass  # a provider that does not load cannot be delegated to either
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _too_deep() -> ApiError:
    return ApiError(
        400, f"the request body is nested more than {MAX_DEPTH} levels deep", "send only the job's options: a JSON object a few levels deep"
    )


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:80]
