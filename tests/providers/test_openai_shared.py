"""pipeline.providers._openai: what the script `openai` and voice `openai-tts` providers share, without a server."""

from __future__ import annotations

import logging

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

from pipeline.errors import NewsreelError
from pipeline.providers import _openai
from pipeline.providers._openai import is_local, is_transient, redact, server_message
from pipeline.providers.script.openai import OpenAIScript
from pipeline.providers.voice.openai_tts import OpenAITTSVoice

KEY = "sk-test-Zq9SECRETkey0123456789abcdef"
URL = "http://127.0.0.1:9/v1"


def status_error(status: int, message: str = "trouble") -> openai.APIStatusError:
    request = httpx.Request("POST", f"{URL}/chat/completions")
    response = httpx.Response(status, request=request)
    body = {"error": {"message": message}}
    classes = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        403: openai.PermissionDeniedError,
        404: openai.NotFoundError,
        429: openai.RateLimitError,
    }
    return classes.get(status, openai.InternalServerError)(message, response=response, body=body)


def timeout_error() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=httpx.Request("POST", URL))


@pytest.fixture(autouse=True)
def tiny_waits(monkeypatch):
    monkeypatch.setattr(_openai, "RETRY_WAIT", 0.001)
    monkeypatch.setattr(_openai, "RETRY_WAIT_MAX", 0.002)


def test_is_local():
    assert is_local("http://localhost:11434/v1")
    assert is_local("http://127.0.0.1:8080/v1")
    assert is_local("http://[::1]:8000/v1")
    assert not is_local("https://api.openai.com/v1")
    assert not is_local("http://10.0.0.5:8000/v1")
    assert not is_local(None)


def test_redact_and_server_message():
    assert redact(f"key {KEY} here", KEY) == "key *** here"
    assert redact("a key sk-abcdefghijkl leaked", None) == "a key sk-ab*** leaked"
    assert server_message(status_error(500, "  over \n loaded ")) == "over loaded"
    long = server_message(status_error(500, "x" * 300))
    assert len(long) == 201 and long.endswith("\u2026")


def test_transient_errors():
    assert is_transient(status_error(429)) and is_transient(status_error(503)) and is_transient(timeout_error())
    assert not any(is_transient(status_error(s)) for s in (400, 401, 403, 404))


def test_retries_transient_errors_with_the_key_kept_out_of_the_log(caplog):
    caplog.set_level(logging.WARNING)
    provider = OpenAIScript({"base_url": URL, "max_retries": 3}, secrets={"OPENAI_API_KEY": KEY})
    calls = []

    def flaky(word: str, *, times: int) -> str:
        calls.append(word)
        if len(calls) <= times:
            raise status_error(503, f"busy, key {KEY}")
        return word.upper()

    assert provider.with_retries(flaky, "ok", times=2) == "OK" and calls == ["ok"] * 3
    assert "HTTP 503" in caplog.text and "retrying" in caplog.text and KEY not in caplog.text
    assert {r.name for r in caplog.records} == {"pipeline.providers.script.openai"}
    calls.clear()
    with pytest.raises(openai.InternalServerError):  # out of tries: the last error as it is
        provider.with_retries(flaky, "ok", times=10)
    assert len(calls) == 4
    calls.clear()
    with pytest.raises(openai.InternalServerError):  # a caller's own idea of transient
        provider.with_retries(flaky, "ok", times=10, transient=lambda exc: False)
    assert len(calls) == 1


def test_errors_are_worded_per_provider_and_never_show_the_key():
    script = OpenAIScript({"base_url": URL, "model": "m1"}, secrets={"OPENAI_API_KEY": KEY})
    voice = OpenAITTSVoice({"base_url": URL, "model": "m2"}, secrets={"OPENAI_API_KEY": KEY})
    for status in (400, 401, 403, 404, 429, 500):
        for provider in (script, voice):
            err = provider._error(status_error(status, f"bad {KEY}"))
            assert isinstance(err, NewsreelError) and KEY not in str(err)
    assert script._error(status_error(404)).message == f"{URL} has no model 'm1' (HTTP 404)"
    assert voice._error(status_error(404)).message == f"{URL} has no speech model 'm2' (HTTP 404)"
    assert "--set voice.model=..." in voice._error(status_error(404)).hint
    assert "--param model=..." in script._error(status_error(404)).hint
    assert script._error(status_error(400, "no")).message == f"the API at {URL} failed: HTTP 400 no"
    assert voice._error(status_error(400, "no")).message == "the speech API refused the request: no"
    assert "--set script.timeout" in script._error(timeout_error()).hint
    assert "--set voice.timeout" in voice._error(timeout_error()).hint
    assert voice._error(status_error(500)).hint == "run again later"
    assert script._error(status_error(500)).hint == "run again later, or check the request parameters"


def test_key_is_needed_except_on_localhost():
    with pytest.raises(NewsreelError) as err:
        OpenAITTSVoice({"base_url": "https://example.com/v1"}).check_key()
    assert err.value.message == "voice provider 'openai-tts' needs an API key for https://example.com/v1"
    OpenAIScript({"base_url": URL}).check_key()
    assert OpenAIScript({}).url == _openai.DEFAULT_BASE_URL
