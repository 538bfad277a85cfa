"""Fuzzing the web API over real HTTP on 127.0.0.1 (`newsreel serve` in a child process, as in test_service.py):
job bodies with hostile headlines (lone surrogates, control characters, bidi overrides, markup, template syntax),
random options and provider parameters, deep nesting, invalid UTF-8 and cut-off bodies. Whatever comes in, the
answer is a 201 or a 4xx with a one-line JSON error, never a 5xx; a refused job leaves nothing behind (no job, no run
folder, no upload).

No job runs: a gated job that never opens holds the only running slot, so accepted jobs only queue (cheap), and
the queue count says exactly which requests queued one.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.test_service import TEST_PROVIDERS, Service, gated_job, job_state, wait_for

STAGES = ["script", "image", "voice", "captions", "compose"]
PROVIDERS = {
    "script": ["echo", "text", "openai", "local", "nope"],
    "image": ["flat", "auto", "diffusers", "slate", "openai-image"],
    "voice": ["beep", "espeak", "piper", "openai-tts"],
    "captions": ["plain", "subtitles"],
    "compose": ["listing", "ffmpeg"],
}
# Parameter names the providers take (some of them server paths) and a few they do not.
KEYS = ["file", "text", "logo", "music", "style", "model", "init_image", "upscaler", "single_file_config", "base_url",
        "align_model", "seed", "pitch", "width", "fps", "ticker", "label", "motion", "strength", "voice", "gate", "__class__"]
NASTY = [
    "\ud800", "\udfff", "\ud83d", "\U0001f600",  # lone surrogates; an astral character (a valid pair in JSON)
    "\x00", "\n", "\r", "\t", "\x1b[31m", "\x7f", "\x85", "\u2028",  # control characters and line breaks
    "\u202e", "\u2066", "\u2069", "\u200f", "\u061c",  # bidi overrides, isolates, marks
    "\ufeff", "\u200b", "\ufffe", "\u0301", "\U000e0001", " ",
    "<script>alert(1)</script>", "</textarea>", "{{ 7*7 }}", "{% raw %}", "&amp;", "'", '"', "\\",
    "upload:0123456789abcdef", "../../etc/passwd", "/etc/passwd", "http://169.254.169.254/", "%s%n",
]

text = st.lists(st.one_of(st.text(max_size=10), st.sampled_from(NASTY)), max_size=10).map("".join)
headline = st.one_of(text, st.text(min_size=280, max_size=320), st.sampled_from(["Mars rover finds ice", "  ", ""]))
scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False), text)
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)), max_leaves=8)
stage_params = st.dictionaries(st.one_of(st.sampled_from(KEYS), text), value, max_size=3)
params = st.dictionaries(st.one_of(st.sampled_from(STAGES), text), st.one_of(stage_params, value), max_size=3)
providers = st.one_of(
    st.fixed_dictionaries({}, optional={s: st.sampled_from(names) for s, names in PROVIDERS.items()}).map(lambda p: {**TEST_PROVIDERS, **p}),
    st.dictionaries(st.one_of(st.sampled_from(STAGES), text), st.one_of(text, value), max_size=2),
)
body = st.fixed_dictionaries(
    {"headline": st.one_of(headline, value)},
    optional={
        "providers": providers,
        "params": params,
        "seed": st.one_of(st.integers(-5, 2**33), value),
        "aspect": st.one_of(st.sampled_from(["16:9", "9:16", "1:1", "4:3"]), value),
        "lang": text,
        "voice": text,
        "music": st.one_of(text, st.sampled_from(["default", "/etc/passwd", "upload:0123456789abcdef"])),
        "init_image": text,
        "image_model": text,
        "strength": st.one_of(st.floats(allow_nan=False, allow_infinity=False), value),
        "force": st.one_of(st.lists(st.sampled_from([*STAGES, "sound"]), max_size=3), value),
        "no_cache": value,
        "unknown_option": value,
    },
)

# Bodies close to a real job, so that many get past parsing into the options, the providers' parameters and the
# queue: a plain headline with at most a few hostile characters, real provider names, their parameter names.
plain = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789,.'-"), min_size=1, max_size=60)
near_headline = st.tuples(plain, st.one_of(st.just(""), st.sampled_from(NASTY)), plain).map("".join)
near_value = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(-10, 1000), plain, st.sampled_from(NASTY))
near_body = st.fixed_dictionaries(
    {"headline": near_headline},
    optional={
        "providers": st.fixed_dictionaries({}, optional={s: st.sampled_from(n) for s, n in PROVIDERS.items()}),
        "params": st.dictionaries(st.sampled_from(STAGES), st.dictionaries(st.sampled_from(KEYS), near_value, max_size=2), max_size=2),
        "seed": st.integers(0, 2**32 + 1),
        "aspect": st.sampled_from(["16:9", "9:16", "1:1", "4:3"]),
        "voice": st.one_of(plain, st.sampled_from(NASTY)),
        "music": st.sampled_from(["default", "none", "/etc/passwd", "upload:0123456789abcdef", "song.mp3"]),
        "force": st.lists(st.sampled_from(STAGES), max_size=2),
    },
).map(lambda b: {**b, "providers": {**TEST_PROVIDERS, **b.get("providers", {})}})


@st.composite
def raw_request(draw) -> bytes:
    """A job body as the bytes a client might send: JSON (ASCII-escaped, or raw UTF-8 where lone surrogates become
    invalid bytes), wrapped in nesting, or cut off."""
    data = draw(st.one_of(near_body, body, value))
    depth = draw(st.sampled_from([0] * 20 + [5, 31, 33, 200, 5000]))
    if depth:
        data = {"headline": "Deep", "params": {"image": {"a": json.loads("[" * depth + "]" * depth) if depth < 900 else None}}}
    ascii_only = draw(st.booleans())
    raw = json.dumps(data, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if depth >= 900:  # past Python's recursion limit: only as bytes
        raw = b'{"headline": "Deep", "a": ' + b"[" * depth + b"]" * depth + b"}"
    if draw(st.integers(0, 15)) == 15:  # (hypothesis draws small numbers more often)
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    return raw


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    """A server whose only running slot is held by a job that waits for a gate that never opens."""
    root = tmp_path_factory.mktemp("fuzz")
    svc = Service(root, "--max-queued", "100000").start()
    try:
        with svc.client() as c:
            job = gated_job("Holds the running slot", root / "never-opens")
            job["params"]["compose"].update(timeout=3600.0, quiet=True)
            r = c.post("/api/jobs", json=job)
            assert r.status_code == 201, r.text
            blocker = r.json()["id"]
            wait_for(lambda: job_state(c, blocker)["state"] == "running", what="the blocker running")
        yield svc
    finally:
        svc.stop()


def leftovers(svc: Service) -> set[str]:
    """Everything under the run and upload folders (relative names)."""
    found = set()
    for folder in (svc.data / "runs", svc.data / "uploads"):
        if folder.exists():
            found |= {str(p.relative_to(svc.data)) for p in folder.rglob("*")}
    return found


def server_path_given(data: dict) -> list[str]:
    """The provider parameters of an accepted job body that its chosen (built-in) providers declare as server paths."""
    from pipeline.plugins import provider_class, provider_names
    from pipeline.provider import names_server_resource
    from pipeline.service.uploads import UPLOAD_REF

    chosen = {**TEST_PROVIDERS, **data.get("providers", {})}
    shortcuts = {"init_image": ("image", "init_image"), "music": ("compose", "music"), "image_model": ("image", "model")}
    given = [(f"params.{s}.{k}", s, k, v) for s, values in data.get("params", {}).items() for k, v in values.items()]
    given += [(o, s, k, data[o]) for o, (s, k) in shortcuts.items() if o in data]
    found = []
    for where, stage, key, val in given:
        if val is None or (isinstance(val, str) and UPLOAD_REF.fullmatch(val)) or chosen[stage] in TEST_PROVIDERS.values():
            continue
        cls = provider_class(stage, chosen[stage])
        classes = [provider_class(stage, n) for n in provider_names(stage)] if cls.delegates else [cls]
        if any(names_server_resource(c.Params, key, val) for c in classes):
            found.append(where)
    return found


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=raw_request())
def test_job_api_never_fails_on_what_a_client_sends(held, raw):
    with held.client() as c:
        before_queued = c.get("/api/health").json()["queued"]
        before_files = leftovers(held)
        r = c.post("/api/jobs", content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code < 500, (r.status_code, r.text, held.log())
        event(f"{r.status_code} {(r.json().get('error') or '')[:40]}")  # pytest --hypothesis-show-statistics shows the mix
        queued = c.get("/api/health").json()["queued"]
        if r.status_code == 201:
            job = r.json()
            assert queued == before_queued + 1 and job_state(c, job["id"])["state"] == "queued"
            assert server_path_given(json.loads(raw)) == [], job  # a server path got through
            return
        assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/json"), (r.status_code, r.text)
        error = r.json()
        assert set(error) == {"error", "hint"} and error["error"] and error["hint"], error
        assert "\n" not in error["error"] and "\r" not in error["error"] and "Traceback" not in r.text, error
        assert queued == before_queued  # a refused job is not queued
        assert leftovers(held) == before_files  # and leaves nothing on disk


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.fixed_dictionaries(
        {"headline": text},
        optional={"aspect": text, "seed": text, "style": text, "voice": text, "image": st.sampled_from(PROVIDERS["image"]), "junk": text},
    ),
    multipart=st.booleans(),
)
def test_form_never_fails_on_what_a_browser_sends(held, fields, multipart):
    # A form field is text the browser encodes as UTF-8: a lone surrogate cannot travel, so it arrives replaced.
    fields = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in fields.items()}
    with held.client() as c:
        before_queued = c.get("/api/health").json()["queued"]
        if multipart:
            r = c.post("/jobs", files={k: (None, v) for k, v in fields.items()})
        else:
            r = c.post("/jobs", data=fields)
        assert r.status_code < 500, (r.status_code, r.text[-2000:], held.log())
        queued = c.get("/api/health").json()["queued"]
        if r.status_code == 303:
            assert queued == before_queued + 1
        else:
            assert 400 <= r.status_code < 500 and 'class="alert"' in r.text, (r.status_code, r.text[-2000:])
            assert queued == before_queued
