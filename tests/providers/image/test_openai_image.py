"""The openai-image provider against a fake OpenAI-compatible Images API over real HTTP on 127.0.0.1, through the
real openai client. The server answers real PNGs as b64_json and records every request it gets."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("openai")

from pipeline.errors import NewsreelError
from pipeline.plugins import provider_class
from pipeline.providers import _openai
from pipeline.providers.image import _watermark
from pipeline.providers.image.openai_image import OpenAIImage, family_of, pick_size
from pipeline.stages import Scene, Script
from tests.fake_openai import FakeOpenAI, Reply

KEY = "sk-test-Zq9SECRETkey0123456789abcdef"
HEADLINE = "Breakthrough in Mars Project"
PROMPTS = ["A drill rig on red Martian soil at dawn", "Engineers in a control room watching screens"]
RED, BLUE = (220, 30, 30), (30, 40, 220)


def png(width: int = 1792, height: int = 1024, mode: str = "RGB") -> bytes:
    """A real PNG: left half red, right half blue, with a brightness ramp from top to bottom."""
    px = np.zeros((height, width, 3), dtype=np.float32)
    px[:, : width // 2] = RED
    px[:, width // 2 :] = BLUE
    px *= np.linspace(0.6, 1.0, height, dtype=np.float32)[:, None, None]
    image = Image.fromarray(px.astype(np.uint8))
    if mode == "RGBA":
        alpha = np.full((height, width), 255, dtype=np.uint8)
        alpha[: height // 2] = 0  # the top half transparent
        image = image.convert("RGBA")
        image.putalpha(Image.fromarray(alpha))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def images_response(data: bytes | None = None, revised: str | None = "A revised prompt.", **item: Any) -> dict:
    entry: dict[str, Any] = {"b64_json": base64.b64encode(png() if data is None else data).decode()}
    if revised is not None:
        entry["revised_prompt"] = revised
    entry.update(item)
    return {"created": 1700000000, "data": [entry]}


class FakeImages(FakeOpenAI):
    """The fake API serving only /v1/images/generations."""

    def __init__(self, answer: Callable[[dict[str, Any], int], Reply]):
        super().__init__(answer, route="/v1/images/generations")


def ok(**kw) -> Callable[[dict[str, Any], int], Reply]:
    return lambda body, n: (200, images_response(**kw))


@pytest.fixture(autouse=True)
def tiny_waits(monkeypatch):
    monkeypatch.setattr(_openai, "RETRY_WAIT", 0.01)
    monkeypatch.setattr(_openai, "RETRY_WAIT_MAX", 0.05)


def make_script(scenes: int = 1) -> Script:
    sentences = ["Good evening.", "A drill found ice on Mars.", "Engineers will test it again.", "Back to you."]
    per = len(sentences) // scenes
    scene_list = [
        Scene(
            sentences=list(range(i * per, len(sentences) if i == scenes - 1 else (i + 1) * per)),
            image_prompt=PROMPTS[i],
        )
        for i in range(scenes)
    ]
    return Script(
        headline=HEADLINE, title=HEADLINE, sentences=sentences, image_prompt=PROMPTS[0],
        negative_prompt="text, letters, watermark", scenes=scene_list,
    )  # fmt: skip


def make(server: FakeImages | None = None, secrets: dict[str, str] | None = None, **params) -> OpenAIImage:
    params.setdefault("width", 640)
    params.setdefault("height", 360)
    # Against a server on 127.0.0.1 the model is not checked against OpenAI's options, so tests set what they test.
    if server is not None:
        params.setdefault("base_url", server.base_url)
    return OpenAIImage(params, secrets={"OPENAI_API_KEY": KEY} if secrets is None else secrets)


def run(provider: OpenAIImage, workdir: Path, scenes: int = 1):
    workdir.mkdir(exist_ok=True)
    events: list[tuple[float, str]] = []
    out = provider.run(script=make_script(scenes), workdir=workdir, progress=lambda f, m: events.append((f, m)))
    assert events and events[-1][0] == 1.0
    return out


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------------


def test_registered_as_the_image_openai_image_entry_point():
    assert provider_class("image", "openai-image") is OpenAIImage


def test_one_picture_per_scene_at_the_frame_size_from_the_answer(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeImages(ok()) as server:
        provider = make(server, model="dall-e-3", seed=5)
        out = run(provider, tmp_path / "w", scenes=2)

    # What the server received: one request per scene, with that scene's prompt, the model and the 16:9 size.
    assert [r["path"] for r in server.requests] == ["/v1/images/generations"] * 2
    assert [r["method"] for r in server.requests] == ["POST", "POST"]
    for request, prompt in zip(server.requests, PROMPTS):
        assert request["headers"]["authorization"] == f"Bearer {KEY}"
        body = request["json"]
        assert body == {
            "model": "dall-e-3",
            "prompt": prompt,
            "n": 1,
            "size": "1792x1024",
            "response_format": "b64_json",
        }

    # One PNG per scene, 1.25 x the 640x360 frame, in the workdir, carrying the answer's picture.
    assert len(out.images) == 2
    for image, prompt in zip(out.images, PROMPTS):
        assert image.path.parent == tmp_path / "w" and image.path.is_absolute()
        with Image.open(image.path) as f:
            assert f.format == "PNG" and f.size == (800, 450) == (image.width, image.height)
        px = pixels(image.path)
        left, right = px[200:260, 20:380].mean(axis=(0, 1)), px[200:260, 420:780].mean(axis=(0, 1))
        assert left[0] > 150 and left[2] < 80, left  # red half
        assert right[2] > 150 and right[0] < 80, right  # blue half
        assert px[:40].mean() < px[-40:].mean()  # the ramp: darker at the top
        assert image.prompt == prompt
        assert image.seed is None  # the API takes no seed
        notes = image.notes
        assert notes["revised_prompt"] == "A revised prompt."
        assert notes["generated"] == "1792x1024" and notes["requested_size"] == "1792x1024"
        assert "not supported" in notes["seed"] and "not supported" in notes["negative_prompt"]
        assert notes["watermark"].startswith("newsreel")
        assert _watermark.decode_watermark(image.path)[0]
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["scene-01.png", "scene-02.png"]

    # The key went over the wire but lands nowhere else.
    places = [
        json.dumps(out.to_json()),
        json.dumps([im.notes for im in out.images]),
        json.dumps(provider.params.model_dump()),
        json.dumps(provider.key_params()),
        json.dumps(provider.identity()),
        repr(provider),
        caplog.text,
    ]
    for place in places:
        assert KEY not in place and "SECRETkey" not in place


def test_size_follows_the_frame_and_the_model():
    dalle3, gpt, dalle2 = family_of("dall-e-3"), family_of("gpt-image-1"), family_of("dall-e-2")
    assert pick_size(dalle3, 1280, 720) == "1792x1024"
    assert pick_size(dalle3, 1080, 1920) == "1024x1792"
    assert pick_size(dalle3, 1080, 1080) == "1024x1024"
    assert pick_size(gpt, 1280, 720) == "1536x1024"
    assert pick_size(gpt, 1080, 1920) == "1024x1536"
    assert pick_size(dalle2, 1280, 720) == "1024x1024"
    assert pick_size(None, 1280, 720) == "1344x768"  # a model of no known family: about 1 MP at the frame's aspect
    assert family_of("GPT-Image-1-mini") is gpt and family_of("flux-schnell") is None


def test_portrait_gpt_image_request(tmp_path):
    with FakeImages(ok(data=png(1024, 1536), revised=None)) as server:
        out = run(make(server, model="gpt-image-1", quality="high", width=360, height=640), tmp_path / "w")
    body = server.requests[0]["json"]
    # gpt-image models always answer base64 and refuse response_format.
    assert body == {
        "model": "gpt-image-1", "prompt": PROMPTS[0], "n": 1, "size": "1024x1536", "output_format": "png",
        "quality": "high",
    }  # fmt: skip
    image = out.images[0]
    assert (image.width, image.height) == (450, 800)
    assert "revised_prompt" not in image.notes and image.notes["quality"] == "high"


def test_dall_e_3_style_and_prompt_override(tmp_path):
    with FakeImages(ok()) as server:
        out = run(
            make(server, style="natural", quality="hd", prompt_override="  A  quiet newsroom "), tmp_path / "w", 2
        )
    for request in server.requests:
        assert request["json"]["prompt"] == "A quiet newsroom"
        assert request["json"]["style"] == "natural" and request["json"]["quality"] == "hd"
    assert all(im.prompt == "A quiet newsroom" for im in out.images)


def test_unknown_model_on_a_compatible_server_gets_a_frame_shaped_size(tmp_path):
    with FakeImages(ok(data=png(1344, 768))) as server:
        run(make(server, model="flux-schnell"), tmp_path / "w")
    body = server.requests[0]["json"]
    assert body["size"] == "1344x768" and body["response_format"] == "b64_json"


def test_transparent_answer_is_flattened_over_black(tmp_path):
    with FakeImages(ok(data=png(mode="RGBA"))) as server:
        out = run(make(server, watermark=False), tmp_path / "w")
    px = pixels(out.images[0].path)
    assert px[:150].max() < 5  # the transparent top half
    assert px[-100:, :300, 0].mean() > 150  # the opaque red bottom left
    assert out.images[0].notes["watermark"] == "off"


def test_server_errors_are_retried_then_succeed(tmp_path, caplog):
    caplog.set_level(logging.WARNING)

    def answer(body, n):
        if n <= 2:
            return 500, {"error": {"message": "the server had an error", "type": "server_error"}}
        return 200, images_response()

    with FakeImages(answer) as server:
        out = run(make(server), tmp_path / "w")
    assert len(server.requests) == 3
    assert all(r["json"] == server.requests[0]["json"] for r in server.requests)  # the same request again
    assert len(out.images) == 1 and out.images[0].path.is_file()
    assert "HTTP 500" in caplog.text and "retrying" in caplog.text


def test_server_errors_exhaust_retries_into_a_clean_error(tmp_path):
    with (
        FakeImages(lambda body, n: (503, {"error": {"message": "overloaded"}})) as server,
        pytest.raises(NewsreelError) as err,
    ):
        run(make(server, max_retries=1), tmp_path / "w")
    assert len(server.requests) == 2
    assert "HTTP 503" in str(err.value) and "overloaded" in str(err.value)
    assert list((tmp_path / "w").iterdir()) == []


def test_content_policy_refusal_names_the_scene_and_leaves_nothing(tmp_path):
    def answer(body, n):
        if body["prompt"] == PROMPTS[1]:
            error = {
                "code": "content_policy_violation",
                "message": "Your request was rejected as a result of our safety system.",
                "param": None,
                "type": "invalid_request_error",
            }
            return 400, {"error": error}
        return 200, images_response()

    with FakeImages(answer) as server, pytest.raises(NewsreelError) as err:
        run(make(server), tmp_path / "w", scenes=2)
    assert len(server.requests) == 2  # scene 1 painted, scene 2 refused once, not retried
    text = str(err.value)
    assert "scene 2 of 2" in err.value.message and "content policy" in err.value.message
    assert "safety system" in text and PROMPTS[1] in text
    assert "image prompt" in err.value.hint
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert list((tmp_path / "w").iterdir()) == []  # scene 1's picture is removed too


def test_other_bad_requests_name_the_options(tmp_path):
    with (
        FakeImages(lambda body, n: (400, {"error": {"message": "Invalid size", "code": "invalid_size"}})) as server,
        pytest.raises(NewsreelError) as err,
    ):
        run(make(server, size="1000x1000"), tmp_path / "w")
    assert "Invalid size" in err.value.message and "size" in err.value.hint


def test_no_key_fails_the_preflight_naming_the_variable(tmp_path):
    provider = OpenAIImage({}, secrets={})
    with pytest.raises(NewsreelError) as err:
        provider.check()
    assert "OPENAI_API_KEY" in str(err.value) and "\n" not in err.value.one_line()
    with pytest.raises(NewsreelError):
        OpenAIImage({"base_url": "https://example.com/v1"}, secrets={}).check()
    with pytest.raises(NewsreelError):  # run() checks too, before any request
        run(provider, tmp_path / "w")
    assert list((tmp_path / "w").iterdir()) == []
    OpenAIImage({}, secrets={"OPENAI_API_KEY": KEY}).check()


def test_bad_key_is_a_clean_error_without_the_key(tmp_path):
    message = f"Incorrect API key provided: {KEY[:8]}********{KEY[-4:]}. You can find your API key at ..."
    with (
        FakeImages(lambda body, n: (401, {"error": {"message": message, "code": "invalid_api_key"}})) as server,
        pytest.raises(NewsreelError) as err,
    ):
        run(make(server), tmp_path / "w")
    assert len(server.requests) == 1
    assert "rejected the key" in err.value.message
    text = str(err.value)
    assert KEY not in text and KEY[-4:] not in text and KEY[:8] not in text


@pytest.mark.parametrize(
    "answer, why",
    [
        (lambda body, n: (200, images_response(data=b"<html>not a picture</html>")), "not a picture"),
        (lambda body, n: (200, {"created": 1, "data": [{"b64_json": "%%% not base64 %%%"}]}), "not base64"),
        (lambda body, n: (200, images_response(data=png()[:200])), "not a picture"),  # a truncated PNG
        (lambda body, n: (200, {"created": 1, "data": []}), "no picture"),
    ],
)
def test_an_answer_that_is_not_a_picture_is_an_error_and_nothing_is_written(tmp_path, answer, why):
    with FakeImages(answer) as server, pytest.raises(NewsreelError) as err:
        run(make(server), tmp_path / "w")
    assert why in err.value.message and "scene 1" in err.value.message
    assert len(server.requests) == 1
    assert list((tmp_path / "w").iterdir()) == []


def test_a_url_in_the_answer_is_never_fetched(tmp_path):
    with FakeImages(lambda body, n: (200, {"created": 1, "data": [{"url": "PLACEHOLDER"}]})) as server:
        picture_url = server.base_url + "/files/picture.png"
        server.answer = lambda body, n: (200, {"created": 1, "data": [{"url": picture_url}]})
        with pytest.raises(NewsreelError) as err:
            run(make(server), tmp_path / "w")
    assert "URL only" in err.value.message and "b64_json" in err.value.hint
    assert [r["method"] for r in server.requests] == ["POST"]  # no GET of the picture's URL
    assert list((tmp_path / "w").iterdir()) == []


def test_options_openai_does_not_take_are_refused_up_front():
    with pytest.raises(NewsreelError) as err:
        OpenAIImage({"model": "dall-e-3", "size": "1536x1024"})
    assert "1792x1024" in err.value.hint
    with pytest.raises(NewsreelError):
        OpenAIImage({"model": "gpt-image-1", "style": "vivid"})
    with pytest.raises(NewsreelError):
        OpenAIImage({"model": "dall-e-2", "quality": "hd"})
    with pytest.raises(NewsreelError):
        OpenAIImage({"size": "big"})
    # A compatible server decides for itself.
    assert OpenAIImage({"base_url": "http://127.0.0.1:8080/v1", "size": "1536x1024"}).params.size == "1536x1024"
    assert OpenAIImage({"model": "gpt-image-1", "size": "AUTO"}).params.size == "auto"


def test_base_url_with_credentials_is_refused():
    with pytest.raises(NewsreelError) as err:
        OpenAIImage({"base_url": f"https://user:{KEY}@example.com/v1"})
    assert "base_url" in str(err.value) and KEY not in str(err.value)


def test_operational_params_stay_out_of_the_key():
    a = OpenAIImage({"timeout": 30, "max_retries": 1}).key_params()
    b = OpenAIImage({}).key_params()
    assert a == b and "timeout" not in a
    assert OpenAIImage({"seed": 1}).key_params() != b  # another seed asks again
