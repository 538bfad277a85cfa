"""The web page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright; Playwright's own
browser download is never used): submit a headline, watch the stages advance live, play the finished video with
its captions, and take screenshots (for the README's docs/screenshots/web-*.png with NEWSREEL_SCREENSHOTS set)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
playwright_api = pytest.importorskip("playwright.sync_api")

from tests.test_service import Service, wait_for

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The README's screenshots (docs/screenshots/web-*.png) are rewritten only when asked, with
# NEWSREEL_SCREENSHOTS=docs/screenshots: a test run leaves the checkout as it found it.
SHOTS = os.environ.get("NEWSREEL_SCREENSHOTS")
HEADLINE = "City council approves new riverside park after a decade of debate"
# Real built-in providers that are quick without a model: the test plugin's echo script, the slate backdrop,
# espeak narration, subtitles captions and the ffmpeg compose (news graphics, H.264).
PROVIDERS = {"script": "echo", "image": "slate", "voice": "espeak", "captions": "subtitles", "compose": "ffmpeg"}

# Records every change of a stage row (state, bar value) in sessionStorage, so it survives the page's reload.
RECORDER = """
(() => {
  const push = (e) => {
    const log = JSON.parse(sessionStorage.getItem("nr-log") || "[]");
    log.push(e);
    sessionStorage.setItem("nr-log", JSON.stringify(log));
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const row = m.target.closest ? m.target.closest("[data-stage]") : null;
      if (!row) continue;
      const bar = row.querySelector("progress");
      push([row.dataset.stage, row.dataset.state, bar ? Number(bar.value) : null]);
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state", "value"] });
})();
"""


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        message = f"no Chromium at {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run this test, not skip it
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_make_a_video_in_the_browser(browser, tmp_path):
    shots = Path(SHOTS) if SHOTS else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    svc = Service(tmp_path)
    providers = "\n".join(f'{stage} = "{name}"' for stage, name in PROVIDERS.items())
    (tmp_path / "config" / "newsreel" / "newsreel.toml").write_text(f'[providers]\n{providers}\n[compose]\npreset = "ultrafast"\n')
    svc.start()
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.add_init_script(RECORDER)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        page.goto(svc.url("/"))
        assert page.title() == "newsreel"
        page.fill("#headline", HEADLINE)
        page.select_option("#aspect", "16:9")
        page.select_option("#style", "news")
        page.fill("#seed", "7")
        page.click("button[type=submit]")
        page.wait_for_url("**/jobs/*")
        job_id = page.url.rsplit("/", 1)[1]

        # Live progress: the compose bar moves while the video renders.
        page.wait_for_function(
            "() => { const r = document.querySelector('[data-stage=compose]');"
            " return r && r.dataset.state === 'running' && r.querySelector('progress').value > 0.2; }",
            timeout=60_000,
        )
        page.screenshot(path=str(shots / "web-progress.png"))
        page.wait_for_selector("video#video", timeout=90_000)  # the page reloads itself when the job is done

        log = page.evaluate("() => JSON.parse(sessionStorage.getItem('nr-log') || '[]')")
        compose = [v for stage, state, v in log if stage == "compose" and state == "running" and v is not None]
        assert len({v for v in compose if 0 < v < 1}) >= 3, compose  # several distinct steps, not one jump
        assert compose == sorted(compose)
        done_order = []
        for stage, state, _ in log:
            if state == "done" and stage not in done_order:
                done_order.append(stage)
        # the image is made beside the voice, captions and presenter: each finishes once, after what it takes
        assert sorted(done_order) == sorted(["script", "image", "voice", "captions", "presenter", "compose"]), log
        assert done_order[0] == "script" and done_order[-1] == "compose", log
        assert done_order.index("voice") < min(done_order.index("captions"), done_order.index("presenter")), log
        assert page.inner_text("#job-state") == "DONE"  # text-transform: the badge reads in capitals

        # The video plays, with its captions track parsed.
        assert page.evaluate("() => document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.640028\"')") == "probably"
        page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
        page.wait_for_function("() => document.querySelector('video').currentTime > 1.0", timeout=20_000)
        facts = page.evaluate(
            """() => { const v = document.querySelector('video'); const t = v.textTracks[0]; t.mode = 'hidden';
                       return {w: v.videoWidth, h: v.videoHeight, d: v.duration, ready: v.readyState, kind: t.kind}; }"""
        )
        assert facts["w"] == 1280 and facts["h"] == 720 and facts["d"] > 5 and facts["ready"] >= 2 and facts["kind"] == "captions"
        cues = page.wait_for_function(
            "() => { const t = document.querySelector('video').textTracks[0];"
            " return t.cues && t.cues.length ? Array.from(t.cues).map(c => c.text).join(' ') : null; }",
            timeout=10_000,
        ).json_value()
        assert "approves new riverside park after a decade" in " ".join(cues.split())

        # A still for the README while it plays, once the player's controls have faded (no mouse over it).
        page.mouse.move(5, 5)
        page.evaluate(
            """() => new Promise((done) => { const v = document.querySelector('video');
                 v.addEventListener('seeked', () => done(), { once: true }); v.currentTime = 0; })"""
        )
        page.wait_for_function("() => document.querySelector('video').currentTime > 3.6", timeout=20_000)
        assert "Seed 7 says hello." in page.inner_text(".script")
        assert "echo" in page.inner_text("table.prov") and "ffmpeg" in page.inner_text("table.prov")
        page.screenshot(path=str(shots / "web-job.png"), full_page=True)

        page.goto(svc.url("/"))
        row = page.locator(f'a[href="/jobs/{job_id}"]')
        assert row.locator(".badge").inner_text() == "DONE"
        wait_for(lambda: page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"), 10)
        page.screenshot(path=str(shots / "web-home.png"))
        assert errors == [], errors
    finally:
        context.close()
        svc.stop()
