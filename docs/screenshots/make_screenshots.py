"""Render short clips in each shipped style and frame size and save frames as PNGs in this folder.

    .venv/bin/python docs/screenshots/make_screenshots.py

Inputs are real: the slate backdrop, an espeak narration and its captions; graphics on (BREAKING, a ticker, the
channel bug). Frames are saved at most 1280 pixels on their long side.
"""

from __future__ import annotations

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


def main() -> None:
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
