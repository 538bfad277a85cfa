"""Inputs for compose tests and benchmarks: a script, backgrounds, a sine narration with evenly spaced words, and
captions (ASS/SRT/VTT written by pysubs2)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pysubs2
from PIL import Image

from pipeline import assets
from pipeline.media import run_ffmpeg
from pipeline.stages import BackgroundImage, Backgrounds, Captions, Narration, Scene, Script, WordTiming
from pipeline.stages.captions import Cue

BG = (40, 110, 70)  # a flat green backdrop: no white, no red, no navy anywhere in it
TITLE = "Breakthrough in Mars Project: rover finds ancient lake bed"
SENTENCES = ["The rover found layered rock.", "Scientists say a lake stood here.", "More images arrive next week."]


def flat_png(path: Path, colour=BG, size=(1600, 900)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def textured_png(path: Path, size=(1600, 900), seed: int = 0) -> Path:
    """Smooth random texture (blurred noise with detail at several scales): phase correlation locks onto it."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    img = np.zeros((h, w, 3), np.float32)
    for scale, weight in ((64, 1.0), (24, 0.7), (12, 0.4)):
        small = rng.random((max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        img += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    Image.fromarray(img.astype(np.uint8)).save(path)
    return path


def make_inputs(root: Path, seconds: float, *, width=1280, height=720, title=TITLE, images=None, scenes=1,
                cue_end: float | None = None, sentences=None):
    root.mkdir(parents=True, exist_ok=True)
    sentences = sentences or SENTENCES
    per = len(sentences) // scenes
    scene_list = [Scene(sentences=list(range(i * per, len(sentences) if i == scenes - 1 else (i + 1) * per)),
                        image_prompt=f"p{i}") for i in range(scenes)]
    script = Script(headline="Breakthrough in Mars Project", title=title, sentences=sentences,
                    image_prompt="mars", scenes=scene_list)
    wav = root / "narration.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=22050:duration={seconds}", "-ac", "1",
                "-c:a", "pcm_s16le", os.fspath(wav)])
    all_words = [(w, i) for i, s in enumerate(sentences) for w in s.split()]
    step = (seconds - 0.2) / len(all_words)
    words = [WordTiming(word=w, start=0.1 + k * step, end=0.1 + (k + 0.9) * step, sentence=i)
             for k, (w, i) in enumerate(all_words)]
    voice = Narration(path=wav, duration=seconds, sample_rate=22050, words=words, voice="sine")

    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = str(width), str(height)
    style = subs.styles["Default"]
    style.fontname, style.fontsize, style.bold = assets.FONT_FAMILY, round(min(width, height) * 0.06), True
    style.primarycolor, style.outlinecolor = pysubs2.Color(255, 255, 255), pysubs2.Color(0, 0, 0)
    style.outline, style.shadow, style.marginv = 3, 0, 20
    style.alignment = pysubs2.Alignment.BOTTOM_CENTER
    cues = []
    end_limit = cue_end if cue_end is not None else seconds
    for i in range(0, len(words), 4):
        chunk = [w for w in words[i:i + 4] if w.end <= end_limit]
        if not chunk:
            continue
        text = " ".join(w.word for w in chunk)
        cues.append(Cue(start=chunk[0].start, end=chunk[-1].end, text=text))
        subs.events.append(pysubs2.SSAEvent(start=round(chunk[0].start * 1000), end=round(chunk[-1].end * 1000), text=text))
    for ext in ("ass", "srt", "vtt"):
        subs.save(os.fspath(root / f"captions.{ext}"))
    captions = Captions(cues=cues, srt=root / "captions.srt", vtt=root / "captions.vtt", ass=root / "captions.ass")
    images = images or [flat_png(root / "bg.png")]
    backgrounds = Backgrounds(images=[BackgroundImage(path=p, width=1600, height=900) for p in images])
    return script, backgrounds, voice, captions
