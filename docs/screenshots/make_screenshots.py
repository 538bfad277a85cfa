"""Render short clips in each shipped style and frame size and save frames as PNGs in this folder.

    .venv/bin/python docs/screenshots/make_screenshots.py [--only styles|presenter|reveal] [--presenter anchor]

Inputs are real: the slate backdrop, an espeak narration and its captions; graphics on (BREAKING, a ticker, the
channel bug). Frames are saved at most 1280 pixels on their long side. `presenter-16x9.png`, `presenter-9x16.png`
and `presenter-1x1.png` show a newscast's three shots side by side (the anchor, a callout, the picture full screen),
with the presenter provider named by --presenter (given explicitly, whatever the default is).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "Scientists working on the Mars project say a rover has found layered rock at the bottom of an ancient lake.",
    "The layers were laid down in still water over thousands of years, the team said on Tuesday.",
]
TITLE = "Breakthrough in Mars Project: rover finds ancient lake bed"
TICKER = "Markets close higher as tech rallies; Storm warning issued for the coast; Transit strike talks resume"
SHOTS = [  # (file, style, width, height, extra params, seconds into the video)
    ("news-16x9.png", "news", 1280, 720, {}, 4.0),
    ("news-16x9-1080p.png", "news", 1920, 1080, {}, 4.0),
    ("news-9x16.png", "news", 1080, 1920, {}, 4.0),
    ("news-1x1.png", "news", 1080, 1080, {}, 4.0),
    ("news-intro.png", "news", 1280, 720, {"intro": True}, 1.2),
    ("news-outro.png", "news", 1280, 720, {"outro": True}, -1.0),
    ("minimal-16x9.png", "minimal", 1280, 720, {}, 4.0),
    ("minimal-9x16.png", "minimal", 1080, 1920, {}, 4.0),
    ("minimal-1x1.png", "minimal", 1080, 1080, {}, 4.0),
    ("minimal-intro.png", "minimal", 1280, 720, {"intro": True}, 1.2),
]


# The reveal card (--reveal): a narration made from the headline alone, with the kind of details a small model
# invents; the grounding check lists them and the card shows them.
REVEAL_HEADLINE = "Breakthrough in Mars Project"
REVEAL_SENTENCES = [
    "The Daily Mail reports that NASA scientists have found water on Mars, ahead of the 2035 Apollo missions.",
    "Dr. Helen Okafor of the European Space Agency said the discovery cost $40 million and took three years.",
]
REVEAL_SHOTS = [("reveal-16x9.png", 1280, 720), ("reveal-9x16.png", 1080, 1920)]


def reveal_shots() -> None:
    """The last frame of a clip made with the reveal card, at 16:9 and 9:16."""
    import time

    from pipeline.grounding import ground_script
    from pipeline.media import extract_frame
    from pipeline.providers.captions.subtitles import SubtitleCaptions
    from pipeline.providers.compose.ffmpeg import FfmpegCompose
    from pipeline.providers.image.slate import SlateImage
    from pipeline.providers.presenter.none import NoPresenter
    from pipeline.providers.script.text import TextScript
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.reveal import build_reveal
    from pipeline.stages import Script

    quiet = lambda f, m: None
    script = Script(headline=REVEAL_HEADLINE, title=REVEAL_HEADLINE, sentences=REVEAL_SENTENCES, image_prompt="mars")
    script = ground_script(script, headline=REVEAL_HEADLINE)  # the check every run's script passes
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "voice").mkdir()
        t0 = time.perf_counter()
        voice = EspeakVoice({"target_seconds": 8.0, "fit": False}).run(script=script, workdir=tmp / "voice", progress=quiet)
        built = {"voice": time.perf_counter() - t0}
        for name, w, h in REVEAL_SHOTS:
            work = tmp / name
            for sub in ("image", "captions", "compose"):
                (work / sub).mkdir(parents=True)
            t0 = time.perf_counter()
            image = SlateImage({"width": w, "height": h}).run(script=script, workdir=work / "image", progress=quiet)
            captions = SubtitleCaptions({"width": w, "height": h}).run(script=script, voice=voice,
                                                                      workdir=work / "captions", progress=quiet)
            built["image+captions"] = time.perf_counter() - t0
            providers = {"script": TextScript({"text": " ".join(REVEAL_SENTENCES)}), "image": SlateImage(),
                         "voice": EspeakVoice(), "captions": SubtitleCaptions(), "presenter": NoPresenter(),
                         "compose": FfmpegCompose()}
            reveal = build_reveal(providers=providers, built_seconds=built, script_notes=script.notes,
                                  presenter_shown=False, source=None)
            video = FfmpegCompose({"width": w, "height": h}).run(
                script=script, image=image, voice=voice, captions=captions, reveal=reveal, workdir=work / "compose",
                progress=quiet)
            save(extract_frame(video.path, video.duration - 0.3, work / "frame.png"), name)
            print(f"{name}: {w}x{h} reveal card at {video.duration - 0.3:.1f} s", flush=True)


def save(png: Path, name: str) -> None:
    from PIL import Image

    im = Image.open(png).convert("RGB")
    scale = min(1.0, 1280 / max(im.size))
    if scale < 1.0:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    im.save(HERE / name, optimize=True)


# The newscast: the anchor on the first sentence, a callout card on the second (its figure), the picture on the third.
NEWSCAST = [
    "Scientists working on the Mars project say a rover has found layered rock at the bottom of an ancient lake.",
    "The lake was about 45 kilometres wide, the team said on Tuesday.",
    "The layers were laid down in still water over thousands of years.",
]
PRESENTER_SHOTS = [("presenter-16x9.png", 1280, 720), ("presenter-9x16.png", 1080, 1920),
                   ("presenter-1x1.png", 1080, 1080)]
GRID_HEIGHT = {"presenter-16x9.png": 300, "presenter-9x16.png": 560, "presenter-1x1.png": 400}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=("styles", "presenter", "reveal"), help="make one set of screenshots")
    ap.add_argument("--presenter", default="anchor", help="the presenter provider of the newscast shots")
    args = ap.parse_args()
    if args.only in (None, "styles"):
        styles()
    if args.only in (None, "presenter"):
        presenter(args.presenter)
    if args.only in (None, "reveal"):
        reveal_shots()


def presenter(name: str) -> None:
    """For each frame shape, a newscast's anchor, callout and B-roll shots, side by side in one image."""
    from PIL import Image, ImageDraw

    from pipeline.media import extract_frame
    from pipeline.plugins import provider_class
    from pipeline.providers.captions.subtitles import SubtitleCaptions
    from pipeline.providers.compose.ffmpeg import FfmpegCompose
    from pipeline.providers.image.slate import SlateImage
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.stages import Script

    quiet = lambda f, m: None
    script = Script(headline="Breakthrough in Mars Project", title=TITLE, sentences=NEWSCAST, image_prompt="mars")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "voice").mkdir()
        (tmp / "presenter").mkdir()
        voice = EspeakVoice({"fit": False}).run(script=script, workdir=tmp / "voice", progress=quiet)
        anchor = provider_class("presenter", name)({"look": "mei"} if name == "anchor" else {}).run(
            script=script, voice=voice, workdir=tmp / "presenter", progress=quiet)
        for file, w, h in PRESENTER_SHOTS:
            work = tmp / file
            for sub in ("image", "captions", "compose"):
                (work / sub).mkdir(parents=True)
            image = SlateImage({"width": w, "height": h}).run(script=script, workdir=work / "image", progress=quiet)
            captions = SubtitleCaptions({"width": w, "height": h}).run(script=script, voice=voice,
                                                                      workdir=work / "captions", progress=quiet)
            video = FfmpegCompose({"width": w, "height": h, "preset": "medium"}).run(
                script=script, image=image, voice=voice, captions=captions, presenter=anchor,
                workdir=work / "compose", progress=quiet)
            frames = []
            for shot in video.notes["shots"]:
                at = shot["start"] + 0.6 * (shot["end"] - shot["start"])
                im = Image.open(extract_frame(video.path, at, work / f"{shot['shot']}.png")).convert("RGB")
                scale = GRID_HEIGHT[file] / im.height
                frames.append((shot["shot"], im.resize((round(im.width * scale), GRID_HEIGHT[file]),
                                                       Image.Resampling.LANCZOS)))
            gap, caption = 12, 28
            sheet = Image.new("RGB", (sum(f.width for _, f in frames) + gap * (len(frames) + 1),
                                      GRID_HEIGHT[file] + caption + 2 * gap), (245, 245, 245))
            draw = ImageDraw.Draw(sheet)
            x = gap
            for kind, im in frames:
                sheet.paste(im, (x, gap))
                draw.text((x, gap + im.height + 6), {"broll": "B-roll"}.get(kind, kind), fill=(40, 40, 40))
                x += im.width + gap
            sheet.save(HERE / file, optimize=True)
            print(f"{file}: {w}x{h}, shots {[s['shot'] for s in video.notes['shots']]}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


def styles() -> None:
    from PIL import Image

    from pipeline.media import extract_frame
    from pipeline.providers.captions.subtitles import SubtitleCaptions
    from pipeline.providers.compose.ffmpeg import FfmpegCompose
    from pipeline.providers.image.slate import SlateImage
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.stages import Script

    quiet = lambda f, m: None
    script = Script(headline="Breakthrough in Mars Project", title=TITLE, sentences=SENTENCES, image_prompt="mars")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "voice").mkdir()
        voice = EspeakVoice({"target_seconds": 8.0, "fit": False}).run(script=script, workdir=tmp / "voice", progress=quiet)
        for name, style, w, h, extra, t in SHOTS:
            work = tmp / name
            for sub in ("image", "captions", "compose"):
                (work / sub).mkdir(parents=True)
            image = SlateImage({"width": w, "height": h}).run(script=script, workdir=work / "image", progress=quiet)
            captions = SubtitleCaptions({"width": w, "height": h}).run(script=script, voice=voice,
                                                                      workdir=work / "captions", progress=quiet)
            params = {"width": w, "height": h, "style": style, "breaking": True, "ticker": TICKER,
                      "outro_seconds": 3.0, **extra}
            video = FfmpegCompose(params).run(script=script, image=image, voice=voice, captions=captions,
                                              workdir=work / "compose", progress=quiet)
            at = t if t >= 0 else video.duration + t
            png = extract_frame(video.path, at, work / "frame.png")
            im = Image.open(png).convert("RGB")
            scale = min(1.0, 1280 / max(im.size))
            if scale < 1.0:
                im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
            im.save(HERE / name, optimize=True)
            print(f"{name}: {w}x{h} {style} at {at:.1f} s", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
