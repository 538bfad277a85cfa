"""Pieces shared by the providers that talk to OpenAI-compatible APIs (script `openai`, voice `openai-tts`, image
`openai-image`).

`OpenAICompatible` is mixed into such a provider: the client (the openai package's own retries off), the retry
policy (transient failures: 429, 5xx, 408/409, timeouts, dropped connections, retried with exponential backoff) and
the mapping of openai errors to NewsreelErrors that say what to do. The API key comes from the secrets
(OPENAI_API_KEY), never from params, and is kept out of logs and errors.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from ..errors import NewsreelError

API_KEY = "OPENAI_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key-needed"  # what a local server without auth gets: the client refuses an empty key
RETRY_WAIT = 1.0  # seconds before the first retry; doubles each time (tests shrink it)
RETRY_WAIT_MAX = 30.0

T = TypeVar("T")


def plain_http_url(value: str | None, example: str) -> str | None:
    """Validate a `base_url` parameter: http(s), a host, no credentials or query (params reach run.json and keys)."""
    if value is None or not value.strip():
        return None
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL such as {example}")
    if parts.username or parts.password or parts.query:
        # Params are written to run.json and cache keys: a secret here would leak. Keys go in OPENAI_API_KEY.
        raise ValueError("must not carry credentials or a query string (put the key in OPENAI_API_KEY)")
    return value


def is_local(base_url: str | None) -> bool:
    """A server on this machine (where running without a key is normal)."""
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    if host in ("localhost", "host.docker.internal") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def redact(text: str, key: str | None) -> str:
    """`text` with the key, and anything shaped like an OpenAI key (sk-...), starred out."""
    if key:
        text = text.replace(key, "***")
    return re.sub(r"\b(sk-[A-Za-z0-9_\-*]{2})[A-Za-z0-9_\-*]{6,}", r"\1***", text)


def server_message(exc: Any) -> str:
    """The server's own error message, one short line."""
    body = getattr(exc, "body", None)
    message = ""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message", "") if isinstance(inner, dict) else str(inner)
    message = message or getattr(exc, "message", "") or str(exc)
    message = " ".join(str(message).split())
    return message[:200] + ("\u2026" if len(message) > 200 else "")


def is_transient(exc: BaseException) -> bool:
    """An openai error worth another try: 429, 5xx, 408, 409, a timeout or a dropped connection."""
    import openai

    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code >= 500 or exc.status_code in (408, 409))


class OpenAICompatible:
    """Mixed into a provider (before its stage's base class) whose Params have `model`, `base_url`, `timeout` and
    `max_retries`. The class attributes word the errors for what the provider asks of the server."""

    service: ClassVar[str] = "API"  # errors say "the API at URL ..."
    model_noun: ClassVar[str] = "model"  # "URL has no model 'x'"
    model_option: ClassVar[str] = "--param model=..."  # how to pick another model
    status_hint: ClassVar[str] = "run again later, or check the request parameters"  # other HTTP errors
    bad_request_hint: ClassVar[str | None] = None  # None: HTTP 400 is reported as any other HTTP error

    # From Provider.
    stage: ClassVar[str]
    name: ClassVar[str]
    params: Any
    _secrets: dict[str, str]

    @property
    def url(self) -> str:
        return self.params.base_url or DEFAULT_BASE_URL

    def _key(self) -> str | None:
        return self._secrets.get(API_KEY) or None

    def _redact(self, text: str) -> str:
        return redact(text, self._key())

    def check_key(self) -> None:
        """A key is needed except for a server on this machine."""
        if not self._key() and not is_local(self.params.base_url):
            raise NewsreelError(
                f"{self.stage} provider '{self.name}' needs an API key for {self.url}",
                f"set the environment variable {API_KEY} (a server on localhost may go without one)",
            )

    def client(self) -> Any:
        """An openai client for `url`, its own retries off (`with_retries` does the retrying)."""
        import openai

        return openai.OpenAI(
            api_key=self._key() or NO_KEY, base_url=self.url, timeout=self.params.timeout, max_retries=0
        )

    def with_retries(
        self, fn: Callable[..., T], *args: Any, transient: Callable[[BaseException], bool] = is_transient, **kwargs: Any
    ) -> T:
        """fn(*args, **kwargs), retried with exponential backoff while it fails with a `transient` error, at most
        `max_retries` times. The last error is raised as it is (see `_error`)."""
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

        p = self.params
        log = logging.getLogger(type(self).__module__)

        def before_sleep(state: Any) -> None:
            log.warning(
                "%s: %s; retrying in %.1f s (attempt %d of %d)",
                self.url,
                self._describe(state.outcome.exception()),
                state.next_action.sleep,
                state.attempt_number + 1,
                p.max_retries + 1,
            )

        retrying = Retrying(
            retry=retry_if_exception(transient),
            stop=stop_after_attempt(p.max_retries + 1),
            wait=wait_exponential(multiplier=RETRY_WAIT, max=RETRY_WAIT_MAX),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn, *args, **kwargs)

    def _describe(self, exc: BaseException | None) -> str:
        import openai

        if isinstance(exc, openai.APIStatusError):
            return self._redact(f"HTTP {exc.status_code}: {server_message(exc)}")
        return self._redact(type(exc).__name__ if exc is not None else "no answer")

    def _error(self, exc: Exception) -> NewsreelError:
        """An openai exception -> a NewsreelError that says what to do, with the key nowhere in it."""
        import openai

        p, api, url = self.params, self.service, self.url
        if isinstance(exc, openai.AuthenticationError):
            # Never quote the server here: OpenAI's 401 message repeats part of the key.
            return NewsreelError(f"the {api} rejected the key (HTTP 401 from {url})", f"check {API_KEY}")
        if isinstance(exc, openai.PermissionDeniedError):
            return NewsreelError(
                f"the {api} refused access to {p.model} (HTTP 403 from {url})", "check the key's project and permissions"
            )
        if isinstance(exc, openai.NotFoundError):
            return NewsreelError(
                f"{url} has no {self.model_noun} '{p.model}' (HTTP 404)",
                f"check {self.model_option} and base_url (OpenAI-compatible servers serve under /v1)",
            )
        if self.bad_request_hint is not None and isinstance(exc, openai.BadRequestError):
            return NewsreelError(
                f"the {api} refused the request: {self._redact(server_message(exc))}", self.bad_request_hint
            )
        if isinstance(exc, openai.RateLimitError):
            return NewsreelError(
                f"the {api} at {url} kept answering 429 ({self._redact(server_message(exc))})",
                "wait and run again, or check the account's quota",
            )
        if isinstance(exc, openai.APITimeoutError):
            return NewsreelError(
                f"the {api} at {url} did not answer within {p.timeout:g} s ({p.max_retries + 1} tries)",
                f"raise it with --set {self.stage}.timeout=SECONDS or check the server",
            )
        if isinstance(exc, openai.APIConnectionError):
            return NewsreelError(
                f"cannot reach the {api} at {url}",
                "check base_url and that the server is running" if p.base_url else "check the network connection",
            )
        if isinstance(exc, openai.APIStatusError):
            return NewsreelError(
                f"the {api} at {url} failed: HTTP {exc.status_code} {self._redact(server_message(exc))}",
                self.status_hint,
            )
        return NewsreelError(f"the {api} at {url} failed: {self._redact(type(exc).__name__)}", "run again later")
