"""The web service making videos from sources, over real HTTP on 127.0.0.1: a URL the service fetches (refused when it
leads to this machine or its network, unless the operator allows it), an uploaded article, and the presenter choice
on the form. Two servers: a strict one (the default) and one started with --allow-private-urls.

The strict server must be shown fetching from an address it allows, and there is no internet here: its processes
treat 127.0.0.3 as a public address (tests/service_public/sitecustomize.py), while 127.0.0.1 stays loopback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from pipeline.sources.article import read_article
from pipeline.sources.fetch import fetch_article
from tests.helpers import TEST_PROVIDERS
from tests.sources.article_server import ARTICLES, articles, serve
from tests.test_service import Service, assert_error, wait_state

STANDIN = "127.0.0.3"  # "public" to the strict server's processes only
BRIDGE = articles()["01-bridge"]
MARS = articles()["02-mars-sample"]
MALARIA = ARTICLES / "05-malaria-trial.md"
# A short real video: the article's own lead sentences (about 20 words), a flat picture, beeps, ffmpeg at 15 fps.
REAL_VIDEO = {
    "providers": {**TEST_PROVIDERS, "script": "text", "captions": "subtitles", "compose": "ffmpeg"},
    "params": {"script": {"words": 20}, "compose": {"fps": 15, "preset": "ultrafast"}},
}


@pytest.fixture(scope="module")
def local_site():
    """The sample news site on 127.0.0.1: loopback, this machine."""
    with serve() as site:
        yield site


@pytest.fixture(scope="module")
def public_site():
    """The sample news site on the stand-in public address."""
    with serve(STANDIN) as site:
        yield site


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    svc = Service(tmp_path_factory.mktemp("strict"))
    svc.env["PYTHONPATH"] = str(Path(__file__).parent / "service_public") + ":" + svc.env["PYTHONPATH"]
    svc.env["NEWSREEL_TEST_PUBLIC_STANDIN"] = STANDIN
    svc.env["NEWSREEL_TEST_REBIND_NAME"] = "rebind.test"
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def trusting(tmp_path_factory):
    svc = Service(tmp_path_factory.mktemp("trusting"), "--allow-private-urls").start()
    yield svc
    svc.stop()


def run_json(client, job: dict) -> dict:
    return client.get(job["links"]["files"]["run.json"]).json()


# -- a strict server (the default) -------------------------------------------------------------------------------------


def test_urls_to_this_machine_or_its_network_are_refused_before_queueing(strict, local_site):
    """Loopback (by address and by a name that resolves to it), private, link-local and metadata addresses: a
    one-line 422, no job, and nothing fetched (the site on 127.0.0.1 counts every request)."""
    port = local_site.base.rsplit(":", 1)[1]
    cases = [
        (local_site.url("/articles/01-bridge"), "refusing to fetch from 127.0.0.1: it is 127.0.0.1, loopback"),
        (f"http://localhost:{port}/articles/01-bridge", "refusing to fetch from localhost"),
        ("http://10.20.30.40/news/story", "refusing to fetch from 10.20.30.40: it is 10.20.30.40, private"),
        ("http://169.254.10.20/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("file:///etc/passwd", "uses file:; newsreel fetches only http:// and https:// pages"),
    ]
    with strict.client() as client:
        before = client.get("/api/jobs").json()["total"]
        for url, words in cases:
            r = client.post("/api/jobs", json={"url": url, "providers": TEST_PROVIDERS})
            body = assert_error(r, 422, words)
            assert "\n" not in body["error"] + body["hint"]
            if "metadata" in words:
                assert "never" in body["hint"]
            elif "fetch from" in words:
                assert "--allow-private-urls" in body["hint"], body
        # the page's form says the same on the page
        page = client.post("/jobs", data={"url": local_site.url("/articles/01-bridge")})
        assert page.status_code == 422 and 'class="alert"' in page.text and "loopback (this machine)" in page.text
        assert client.get("/api/jobs").json()["total"] == before
        # a ready-made source is the service's to make: a client's could claim any URL in run.json
        fake = {"kind": "url", "url": "https://example.com/x", "text": "Made up words. " * 10}
        assert_error(client.post("/api/jobs", json={"headline": "Claimed", "source": fake}), 422, "'source' is made by the service")
    assert sum(local_site.hits.values()) == 0


def test_a_public_article_makes_a_video_and_a_redirect_or_rebinding_to_this_machine_is_refused(strict, public_site, local_site):
    with strict.client() as client:
        url = public_site.url("/articles/02-mars-sample")
        r = client.post("/api/jobs", json={"url": url, "providers": TEST_PROVIDERS})
        assert r.status_code == 201, r.text
        job = wait_state(client, r.json()["id"], "done", "failed")
        assert job["state"] == "done", job["error"]
        assert job["headline"] == MARS["title"]  # the article's title, once the worker had read it
        record = run_json(client, job)
        expected = fetch_article(url, cache_dir=None, private="allow")
        assert record["source"]["url"] == url and record["source"]["sha256"] == expected.sha256
        assert record["source"]["title"] == MARS["title"] and record["headline"] == MARS["title"]
        page = client.get(f"/jobs/{job['id']}").text  # the job page names what the video was made from
        assert f'<a href="{url}" rel="noopener noreferrer nofollow">{MARS["title"]}</a>' in page
        assert f"text sha256 {expected.sha256[:12]}" in page

        # From the allowed host to 127.0.0.1: the intake sees only the allowed host; the worker refuses the hop.
        target = local_site.url("/articles/01-bridge")
        r = client.post("/api/jobs", json={"url": public_site.url(f"/redirect-to?to={target}"), "providers": TEST_PROVIDERS})
        assert r.status_code == 201, r.text
        job = wait_state(client, r.json()["id"], "done", "failed")
        assert job["state"] == "failed"
        assert job["error"]["error"] == "refusing to fetch from 127.0.0.1: it is 127.0.0.1, loopback (this machine)"
        assert public_site.hits["/redirect-to"] == 1

        # DNS rebinding: the name was public when the intake checked it, and is loopback when the worker fetches.
        # The command line would fetch it (a private host as typed); the service must not.
        port = local_site.base.rsplit(":", 1)[1]
        r = client.post("/api/jobs", json={"url": f"http://rebind.test:{port}/articles/01-bridge", "providers": TEST_PROVIDERS})
        assert r.status_code == 201, r.text
        job = wait_state(client, r.json()["id"], "done", "failed")
        assert job["state"] == "failed"
        assert job["error"]["error"] == "refusing to fetch from rebind.test: it is 127.0.0.1, loopback (this machine)"
    assert local_site.hits["/articles/01-bridge"] == 0


def test_an_uploaded_article_makes_a_video(strict):
    """Upload the article (kind=article), then make a job from its ref: a real, short video of the article's lead;
    run.json records the file's name and the text's hash. Bad articles are refused at upload."""
    expected = read_article(MALARIA)
    with strict.client() as client:
        up = client.post("/api/uploads", files={"file": ("malaria.md", MALARIA.read_bytes(), "text/markdown")},
                         data={"kind": "article"})
        assert up.status_code == 201, up.text
        assert up.json()["type"] == "text/markdown" and up.json()["kind"] == "article"
        r = client.post("/api/jobs", json={"article": up.json()["ref"], **REAL_VIDEO})
        assert r.status_code == 201, r.text
        assert r.json()["headline"] == expected.title and r.json()["options"]["article"] == up.json()["ref"]
        job = wait_state(client, r.json()["id"], "done", "failed", timeout=120)
        assert job["state"] == "done", job["error"]
        record = run_json(client, job)
        assert record["source"]["kind"] == "file" and record["source"]["file"] == "malaria.md"
        assert record["source"]["sha256"] == expected.sha256 and record["headline"] == expected.title
        script = client.get(job["links"]["files"]["script.json"]).json()
        assert script["sentences"][0] in expected.text  # the article's own lead, not the headline echoed
        video = client.get(job["links"]["video"])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        from pipeline.media import probe

        (strict.root / "article.mp4").write_bytes(video.content)
        assert probe(strict.root / "article.mp4").duration > 2

        # bad articles: one line each, naming the client's file, never a path on the server
        bad = [
            (("latin1.txt", "Caf\xe9 owners say prices rose. ".encode("latin-1") * 10), "the article latin1.txt is not UTF-8 text"),
            (("short.txt", b"Rain is coming. Take an umbrella."), "the article file short.txt has 6 words of text; an article needs at least 20"),
            (("empty.txt", b""), "the uploaded file is empty"),
            (("front.html", b"<!DOCTYPE html><html><body><nav><a href='/'>Home</a></nav></body></html>"), "front.html"),
        ]
        for file, words in bad:
            body = assert_error(client.post("/api/uploads", files={"file": file}, data={"kind": "article"}), 422, words)
            assert str(strict.data) not in json.dumps(body)
        assert_error(client.post("/api/jobs", json={"article": "/etc/passwd"}), 422, "article must be an upload")
        assert_error(client.post("/api/jobs", json={"article": up.json()["ref"], "url": "https://example.com/x"}), 422,
                     "both an article and a url")


def test_the_form_takes_an_article_file_and_a_presenter(strict):
    """The form offers the presenters that need nothing from the server's disk (the drawn anchor and its looks, not
    a sprite folder), asked of the providers' declarations; a job with the anchor records the presenter stage."""
    with strict.client() as client:
        home = client.get("/").text
        assert 'name="url"' in home and 'name="article"' in home and 'name="presenter"' in home
        assert 'value="anchor:look=kwame"' in home and 'value="none"' in home
        assert "sprites" not in home
        assert 'name="reveal"' in home
        r = client.post("/jobs", files={"article": ("bridge.md", (ARTICLES / "01-bridge.md").read_bytes(), "text/plain"),
                                        "presenter": (None, "anchor:look=kwame"), "seed": (None, "2")})
        assert r.status_code == 303, r.text
        job = wait_state(client, r.headers["location"].rsplit("/", 1)[1], "done", "failed", timeout=60)
        assert job["state"] == "done", job["error"]
        assert job["options"]["presenter"] == "anchor" and job["options"]["params"] == {"presenter": {"look": "kwame"}}
        record = run_json(client, job)
        stage = record["stages"]["presenter"]
        assert stage["provider"] == "anchor" and stage["params"]["look"] == "kwame" and stage["notes"]["look"] == "kwame"
        assert record["source"]["file"] == "bridge.md"
        # the reveal checkbox reaches the job's options (this server's test compose draws no card: it says so)
        ticked = client.post("/jobs", data={"headline": "A story", "reveal": "on"})
        assert ticked.status_code == 303, ticked.text
        job = wait_state(client, ticked.headers["location"].rsplit("/", 1)[1], "done", "failed", timeout=60)
        assert job["options"]["reveal"] is True and "does not draw the reveal card" in str(job["error"])
        bad = client.post("/jobs", data={"headline": "A story", "presenter": "anchor:look"})
        assert bad.status_code == 422 and "is not a choice of the form" in bad.text
        nolook = client.post("/jobs", data={"headline": "A story", "presenter": "anchor:look=nobody"})
        assert nolook.status_code == 422 and "has no look" in nolook.text


def test_an_article_upload_past_the_size_limit_leaves_nothing(tmp_path):
    import io

    from pipeline.service.uploads import Limits, UploadProblem, save_upload

    limits = Limits(image_bytes=1024, audio_bytes=1024, image_pixels=1, article_bytes=4096)
    with pytest.raises(UploadProblem) as caught:
        save_upload(io.BytesIO(b"Words of a long feature. " * 400), "long.txt", "article", tmp_path, limits)
    assert caught.value.status == 413 and caught.value.message == "the article upload is larger than 4 KB"
    assert list(tmp_path.iterdir()) == []
    saved = save_upload(io.BytesIO(MALARIA.read_bytes()), "../../etc/x.md", "article", tmp_path, Limits(1024, 1024, 1))
    assert saved.path.parent == tmp_path and saved.path.name == f"{saved.id}.md" and saved.name == "x.md"


def test_the_setting_behind_allow_private_urls(isolated_config, tmp_path, monkeypatch):
    from pipeline.service import settings_allow_private_urls

    toml = tmp_path / "newsreel.toml"
    toml.write_text("service_allow_private_urls = true\n")
    assert settings_allow_private_urls(toml) is True
    toml.write_text("")
    assert settings_allow_private_urls(toml) is False
    monkeypatch.setenv("NEWSREEL_SERVICE_ALLOW_PRIVATE_URLS", "1")
    assert settings_allow_private_urls(toml) is True


# -- a server started with --allow-private-urls ------------------------------------------------------------------------


def test_with_the_option_an_article_on_this_machine_makes_a_video(trusting, local_site):
    with trusting.client() as client:
        url = local_site.url("/articles/01-bridge")
        r = client.post("/api/jobs", json={"url": url, **REAL_VIDEO})
        assert r.status_code == 201, r.text
        job = wait_state(client, r.json()["id"], "done", "failed", timeout=120)
        assert job["state"] == "done", job["error"]
        record = run_json(client, job)
        expected = fetch_article(url, cache_dir=None)
        assert record["source"]["url"] == url and record["source"]["sha256"] == expected.sha256
        assert record["headline"] == BRIDGE["title"]
        script = client.get(job["links"]["files"]["script.json"]).json()
        assert script["sentences"][0] in expected.text
        video = client.get(job["links"]["video"])
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        # metadata services stay closed with the option on
        assert_error(client.post("/api/jobs", json={"url": "http://169.254.169.254/latest/meta-data/"}), 422,
                     "a cloud metadata address")
