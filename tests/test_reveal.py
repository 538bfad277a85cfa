"""The reveal card (--reveal, --preset lesson): its text, run.json, the card really in the video's last seconds, its fit
at every aspect ratio, cache hits on a re-run, and bad input.

The videos are short (8 s target, the `text` script provider, slate pictures, espeak): one with the card, its fully
cached re-run, and one without the card, made once for the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.config import FRAME_SIZES
from pipeline.errors import NewsreelError
from pipeline.providers.compose._reveal import render_card, reveal_layout
from pipeline.reveal import build_reveal
from pipeline.stages.compose import Reveal

NARRATION = ("The Daily Mail reports that NASA will send Elon Musk to Mars in 2035. "
             "The mission will cost $40 million, officials in Houston said.")
HEADLINE = "Breakthrough in Mars Project"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("reveal")
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSREEL_")}
    base.update({
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "COLUMNS": "200",
        "XDG_CONFIG_HOME": str(root / "config"), "XDG_CACHE_HOME": str(root / "xcache"),
        "XDG_DATA_HOME": str(root / "data"), "NEWSREEL_CACHE_DIR": str(root / "cache"),
        "NEWSREEL_TARGET_SECONDS": "8",
    })
    base["ROOT"] = str(root)
    return base


def newsreel(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, env=env,
                          cwd=env["ROOT"], timeout=300)


def make(env: dict[str, str], out: str, *extra: str) -> dict:
    proc = newsreel(env, "make", HEADLINE, "--provider", "script=text", "--set", f"script.text={NARRATION}",
                    "--provider", "image=slate", "--out", str(Path(env["ROOT"]) / out), *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads((Path(env["ROOT"]) / out / "run.json").read_text())


@pytest.fixture(scope="module")
def runs(env) -> dict[str, dict]:
    """The card (by the preset), the same request again (fully cached), and the card turned off over the preset."""
    return {"card": make(env, "card", "--preset", "lesson"), "again": make(env, "again", "--preset", "lesson"),
            "off": make(env, "off", "--preset", "lesson", "--no-reveal")}


def duration(path: Path) -> float:
    from pipeline.media import probe

    seconds = probe(path).duration
    assert seconds is not None
    return seconds


def frame_at(video: Path, seconds: float) -> np.ndarray:
    from pipeline.media import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{seconds:.3f}", "-i", str(video), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    w, h = FRAME_SIZES["16:9"]
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.int16)


def test_card_lists_what_run_json_says_was_invented(runs):
    record = runs["card"]
    invented = record["stages"]["script"]["notes"]["grounding"]["ungrounded"]
    # a headline-only run: every name, number and date of the script is invented, and the card lists them all
    assert {"Daily Mail", "NASA", "Elon Musk", "2035", "$40 million"} <= set(invented)
    reveal = record["reveal"]
    assert reveal["invented"] == invented
    assert reveal["sourced"] is False
    assert reveal["lines"][0] == "How this clip was made"
    assert reveal["lines"][1] == f"Made by AI in {reveal['seconds']} seconds on a computer, at no cost."
    assert "from the headline alone" in reveal["lines"][2]
    assert reveal["lines"][-len(invented):] == [f"\u2022 {item}" for item in invented]
    drawn = reveal["drawn"]
    assert drawn["drawn"] is True and drawn["invented_left_off"] == 0
    assert [line for line in drawn["shown_lines"] if line.startswith("\u2022 ")] == [f"\u2022 {i}" for i in invented]
    # N: the recorded build seconds of the stages compose takes its inputs from
    stages = record["stages"]
    built = sum(stages[s]["built_seconds"] for s in ("script", "image", "voice", "captions", "presenter"))
    assert reveal["seconds"] == max(1, int(np.ceil(built - 1e-9)))


def test_cached_rerun_hits_every_stage_and_shows_the_same_card(runs):
    first, again = runs["card"], runs["again"]
    assert all(stage["hit"] for stage in again["stages"].values()), {k: v["hit"] for k, v in again["stages"].items()}
    assert again["reveal"] == first["reveal"]
    assert again["stages"]["compose"]["key"] == first["stages"]["compose"]["key"]


def test_no_reveal_has_no_card_and_the_video_of_before(runs, env):
    on, off = runs["card"], runs["off"]
    assert "reveal" not in off and "reveal" not in off["stages"]["compose"]["notes"]
    for stage in ("script", "image", "voice", "captions", "presenter"):
        assert off["stages"][stage]["hit"] is True
    assert off["stages"]["compose"]["key"] != on["stages"]["compose"]["key"]
    root = Path(env["ROOT"])
    with_card, without = duration(root / "card" / "video.mp4"), duration(root / "off" / "video.mp4")
    assert with_card - without == pytest.approx(on["reveal"]["drawn"]["seconds_shown"], abs=0.1)
    # without the card the video is the narration plus its tail, as it was before the card existed
    assert without == pytest.approx(duration(root / "off" / "narration.wav") + 0.6, abs=0.15)


def test_the_card_is_in_the_video(runs, env, tmp_path):
    """The last frames are the card as its own code draws it, and unlike the narration's frames."""
    record = runs["card"]
    video = Path(env["ROOT"]) / "card" / "video.mp4"
    last, narrated = frame_at(video, duration(video) - 0.25), frame_at(video, 1.0)
    reveal = Reveal(lines=record["reveal"]["lines"][1:-len(record["reveal"]["invented"]) - 1],
                    invented_heading=record["reveal"]["lines"][-len(record["reveal"]["invented"]) - 1],
                    invented=record["reveal"]["invented"], seconds=record["reveal"]["seconds"], at_no_cost=True)
    w, h = FRAME_SIZES["16:9"]
    render_card(reveal, w, h, tmp_path / "card.png")
    card = np.asarray(Image.open(tmp_path / "card.png").convert("RGB")).astype(np.int16)
    assert np.abs(last - card).mean() < 4.0  # compression and the invisible mark only
    assert np.abs(narrated - card).mean() > 20.0
    # the text region: ink where the card draws text, in the video as in the render
    ink_card = card.max(axis=2) > 128
    ink_video = last.max(axis=2) > 128
    assert ink_card.sum() > 2000
    assert (ink_card & ink_video).sum() / ink_card.sum() > 0.9


LONG = Reveal(
    lines=["Made by AI in 1234 seconds on a computer.",
           "Script: openai (gpt-4o-mini), from \u201cA very long title about the city council's budget vote on "
           "the new harbour bridge and the tunnel under it\u201d (news.example.org).",
           "Pictures: diffusers (stable-diffusion-xl-base-1.0).", "Voice: piper (en_US-lessac-medium.onnx).",
           "Presenter: anchor."],
    invented_heading="Invented (not in the source):",
    invented=[f"Item number {i} with a rather long name of the kind a model invents" for i in range(30)]
    + ["\u5317\u4eac\u5e02\u653f\u5e9c", "Supercalifragilisticexpialidociousness" * 3],
    seconds=1234,
)


@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1"])
def test_the_card_fits_every_frame(aspect, tmp_path):
    w, h = FRAME_SIZES[aspect]
    layout = render_card(LONG, w, h, tmp_path / "card.png")
    for line in layout["lines"]:
        assert line["x"] >= 0 and line["x"] + line["w"] <= w - layout["x"] + 1, line
        assert line["y"] >= 0 and line["y"] + line["h"] <= h, line
    assert 0 < layout["shown"] < len(LONG.invented)
    assert layout["lines"][-1]["text"].startswith(f"\u2026and {len(LONG.invented) - layout['shown']} more")
    # nothing drawn in the side margins (text running off the frame would reach its edge)
    picture = np.asarray(Image.open(tmp_path / "card.png").convert("RGB")).astype(np.int16)
    panel = picture[h - 4, w // 2]
    differs = np.abs(picture - panel).max(axis=2) > 40
    margin = layout["x"] // 2
    assert not differs[:, :margin].any() and not differs[:, w - margin:].any()
    assert not differs[h - margin // 2:, :].any()


def test_headline_only_and_sourced_wording():
    from pipeline.plugins import provider_class
    from pipeline.sources.model import Source

    providers = {stage: provider_class(stage, name)() for stage, name in
                 {"script": "text", "image": "slate", "voice": "espeak", "captions": "subtitles",
                  "presenter": "none", "compose": "ffmpeg"}.items()}
    built = {"script": 0.4, "image": 1.2, "voice": 0.5}
    alone = build_reveal(providers=providers, built_seconds=built, presenter_shown=False, source=None,
                         script_notes={"grounding": {"ungrounded": ["NASA", "2035"]}})
    assert alone.invented == ["NASA", "2035"] and alone.seconds == 3 and alone.at_no_cost
    assert alone.lines[0] == "Made by AI in 3 seconds on a computer, at no cost."
    source = Source(kind="url", url="https://www.example.org/a", title="Bridge opens", text="The bridge opened.")
    grounded = build_reveal(providers=providers, built_seconds=built, presenter_shown=False, source=source,
                            script_notes={"grounding": {"ungrounded": []}})
    assert grounded.invented_heading == "Every fact appeared in the source."
    assert "from \u201cBridge opens\u201d (example.org)." in grounded.lines[1]
    assert not any(line.startswith("Presenter:") for line in alone.lines)
    anchored = build_reveal(providers={**providers, "presenter": provider_class("presenter", "anchor")()},
                            built_seconds=built, presenter_shown=True, source=None, script_notes={})
    assert anchored.lines[-1] == "Presenter: anchor."
    assert anchored.invented_heading == "No names, numbers or dates to check."
    # a provider that is not local (a paid API) takes "at no cost" away; the core asks, it never tests names
    paid = {**providers, "voice": provider_class("voice", "openai-tts")()}
    assert build_reveal(providers=paid, built_seconds=built, presenter_shown=False, source=None,
                        script_notes={}).lines[0] == "Made by AI in 3 seconds on a computer."


def test_a_style_without_the_card_is_refused(tmp_path):
    import shutil

    from pipeline.providers.compose._graphics import STYLES_DIR

    style = tmp_path / "mystyle"
    shutil.copytree(STYLES_DIR / "news", style)
    (style / "reveal.ass.j2").write_text("")
    with pytest.raises(NewsreelError, match="draws no reveal card"):
        render_card(LONG, 1280, 720, tmp_path / "x.png", style=str(style))


def test_a_compose_provider_that_cannot_draw_it_is_refused(test_plugin, isolated_config, tmp_path):
    from pipeline.jobs import MakeOptions
    from pipeline.runner import run
    from tests.helpers import TEST_PROVIDERS

    plan = MakeOptions.parse({"headline": "Ok", "providers": TEST_PROVIDERS, "reveal": True}).plan()
    with pytest.raises(NewsreelError, match="compose provider 'listing' does not draw the reveal card"):
        run("Ok", plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_preset_and_flags(isolated_config):
    from pipeline.jobs import MakeOptions

    assert MakeOptions.parse({"headline": "Ok", "preset": "lesson"}).plan().settings.reveal is True
    assert MakeOptions.parse({"headline": "Ok", "preset": "lesson", "reveal": False}).plan().settings.reveal is False
    assert MakeOptions.parse({"headline": "Ok"}).plan().settings.reveal is False
    (isolated_config / "cwd" / "newsreel.toml").write_text("reveal = true\n")
    assert MakeOptions.parse({"headline": "Ok"}).plan().settings.reveal is True
    with pytest.raises(NewsreelError, match="unknown preset 'nope'"):
        MakeOptions.parse({"headline": "Ok", "preset": "nope"})


def test_batch_options_apply_under_each_line(isolated_config, tmp_path):
    from pipeline.batch.files import iter_items, validate

    lines = tmp_path / "b.jsonl"
    lines.write_text('{"headline": "One"}\n{"headline": "Two", "reveal": false}\n')
    validation = validate(lines, defaults={"reveal": True})
    items = list(iter_items(lines, validation.defaults))
    assert [i.options.get("reveal") for i in items] == [True, False]


@pytest.mark.parametrize("args, needle", [
    (["make", "Ok", "--preset", "nope"], "unknown preset 'nope'"),
    (["batch", "headlines.txt", "--preset", "nope"], "unknown preset 'nope'"),
])
def test_bad_preset_is_one_line_exit_2(env, args, needle):
    (Path(env["ROOT"]) / "headlines.txt").write_text("One\n")
    proc = newsreel(env, *args)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "presets: lesson" in lines[0], proc.stderr


@pytest.mark.parametrize("provider", ["ffmpeg-zoompan", "moviepy"])
def test_the_other_compose_engines_draw_it_too(provider, tmp_path):
    """The zoompan engine (ffmpeg's ass filter) and the moviepy provider (libass sprites) draw the same card."""
    if provider == "moviepy":
        pytest.importorskip("moviepy")
    from pipeline.providers.compose.ffmpeg import FfmpegCompose
    from pipeline.providers.compose.moviepy import MoviepyCompose
    from tests.providers.compose.inputs import make_inputs

    w, h = 640, 360
    script, image, voice, captions = make_inputs(tmp_path / "in", 1.5, width=w, height=h)[:4]
    reveal = Reveal(lines=["Made by AI in 3 seconds on a computer, at no cost.", "Voice: sine."],
                    invented_heading="Invented (no source to check against):", invented=["NASA", "2035"], seconds=3)
    cls, params = (MoviepyCompose, {}) if provider == "moviepy" else (FfmpegCompose, {"engine": "zoompan"})
    (tmp_path / "work").mkdir()
    video = cls({"width": w, "height": h, **params}).run(script=script, image=image, voice=voice, captions=captions,
                                                         reveal=reveal, workdir=tmp_path / "work",
                                                         progress=lambda f, m: None)
    assert video.notes["reveal"]["drawn"] is True and video.notes["reveal"]["invented_shown"] == 2
    from pipeline.media import extract_frame

    last = np.asarray(Image.open(extract_frame(video.path, video.duration - 0.2, tmp_path / "last.png")).convert("RGB"))
    render_card(reveal, w, h, tmp_path / "card.png")
    card = np.asarray(Image.open(tmp_path / "card.png").convert("RGB"))
    assert np.abs(last.astype(np.int16) - card).mean() < 6.0


def test_batch_reveal_reaches_every_item(test_plugin, isolated_config, tmp_path):
    """`newsreel batch --reveal` asks every line for the card: the test plugin's compose cannot draw it, so each
    item fails saying so (and nothing is composed), while the same batch without --reveal is made."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "COLUMNS": "200"}
    lines = tmp_path / "b.txt"
    lines.write_text("One\nTwo\n")
    # batch takes its providers from the config (or each line): the test plugin's, from newsreel.toml
    (isolated_config / "cwd" / "newsreel.toml").write_text(
        '[providers]\nscript = "echo"\nimage = "flat"\nvoice = "beep"\ncaptions = "plain"\ncompose = "listing"\n')

    def batch(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline", "batch", str(lines), "--out", str(tmp_path / "o"),
                               *args], capture_output=True, text=True, env=env,
                              cwd=isolated_config / "cwd", timeout=120)

    refused = batch("--reveal")
    assert refused.returncode == 1, refused.stderr
    report = json.loads((tmp_path / "o" / "batch.json").read_text())
    assert [i["status"] for i in report["items"]] == ["failed", "failed"]
    assert all("does not draw the reveal card" in i["error"] for i in report["items"])
    made = batch()
    assert made.returncode == 0, made.stderr
