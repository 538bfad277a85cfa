"""Pieces shared by the providers that talk to OpenAI-compatible APIs (script `openai`, voice `openai-tts`)."""

from __future__ import annotations

from urllib.parse import urlsplit


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
