"""The service's front door, as one ASGI middleware: which hosts and origins may talk to it, the access token, how
big a request body may be, and the security headers on every response.

- Bound to loopback, only requests addressed to localhost/127.0.0.1/[::1] are served (a DNS-rebinding page cannot
  reach it under another name).
- A state-changing request (POST, PUT, PATCH, DELETE) whose Origin is another site is refused, so a web page the user
  visits cannot queue or cancel jobs through their browser.
- With a token, every request must carry `Authorization: Bearer TOKEN` or the session cookie the /login form sets;
  only /login and the stylesheet are open.
- Bodies past the limit are refused with 413 from their Content-Length, or as soon as a streamed body passes it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse

from .config import ServiceConfig, is_loopback

SESSION_COOKIE = "newsreel_session"
OPEN_PATHS = ("/login", "/static/style.css", "/favicon.ico")
UPLOAD_PATHS = ("/api/uploads", "/jobs")  # multipart bodies that may carry a file
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # not no-referrer: with it browsers send "Origin: null" on form posts
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


def session_value(token: str) -> str:
    """The cookie value for a token: an HMAC of it, so the cookie never holds the token itself."""
    return hmac.new(token.encode(), b"newsreel-session-v1", hashlib.sha256).hexdigest()


def token_ok(config: ServiceConfig, headers: Headers) -> bool:
    if config.token is None:
        return True
    token = config.token.get_secret_value()
    auth = headers.get("authorization", "")
    scheme, _, given = auth.partition(" ")
    if scheme.lower() == "bearer" and given and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and hmac.compare_digest(value.encode(), session_value(token).encode()):
            return True
    return False


def error_response(status: int, message: str, hint: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "hint": hint}, status_code=status, headers=headers)


def body_limit(config: ServiceConfig, path: str) -> int:
    if path in UPLOAD_PATHS:
        return config.max_upload_bytes + 64 * 1024  # the file plus the form's other fields and multipart framing
    return config.max_body_bytes


class Guard:
    def __init__(self, app: Any, config: ServiceConfig):
        self.app = app
        self.config = config

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        method: str = scope["method"]

        async def add_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                present = {k.lower() for k, _ in message["headers"]}
                message["headers"] = [*message["headers"], *((k, v) for k, v in SECURITY_HEADERS if k not in present)]
            await send(message)

        refusal = self._refusal(headers, path, method)
        if refusal is not None:
            await refusal(scope, receive, add_headers)
            return

        limit = body_limit(self.config, path)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await error_response(413, f"the request body is larger than {limit} bytes", _size_hint(path))(scope, receive, add_headers)
            return
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, add_headers)

    def _refusal(self, headers: Headers, path: str, method: str) -> Any:
        config = self.config
        if config.loopback:
            host = headers.get("host", "")
            name = urlsplit(f"//{host}").hostname or ""
            if not is_loopback(name):
                return error_response(400, f"this service answers only to localhost, not to '{host[:100]}'", "open it as http://127.0.0.1:PORT/")
        if method in UNSAFE_METHODS:
            origin = headers.get("origin")
            if origin and origin != "null":
                if urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
                    return error_response(403, "cross-site request refused", "use the newsreel page itself, or call the API without an Origin header")
            elif origin == "null" or headers.get("sec-fetch-site") == "cross-site":
                return error_response(403, "cross-site request refused", "use the newsreel page itself, or call the API without an Origin header")
        if config.token is not None and path not in OPEN_PATHS and not token_ok(config, headers):
            wants_page = method == "GET" and not path.startswith("/api/") and "text/html" in headers.get("accept", "")
            if wants_page:
                return RedirectResponse(f"/login?next={quote(path, safe='/')}", status_code=303)
            return error_response(
                401,
                "this service needs an access token",
                "send the header 'Authorization: Bearer TOKEN', or log in at /login",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None


def _size_hint(path: str) -> str:
    if path in UPLOAD_PATHS:
        return "send a smaller file"
    return "send only the job's options: a headline and a few settings"
