"""The presenter stage on a minute of narration: the drawn anchor cold (its look drawn into an empty models folder)
and warm (the look's sprites already there), with where the time goes, in wall and CPU seconds (this process and its
children: the phonemiser is one); and what drawing the artifact on every frame of a 1280x720 video costs a naive RGB
compositor (for comparison: compose's own I420 blending is timed by benchmarks/presenter_compose.py).

    .venv/bin/python benchmarks/presenter.py [--runs 5] [--size 720]

The narration is real: the espeak voice speaks a news paragraph fitted to 60 s, so the word times and the words
phonemised are what a default `make` gives the stage. Prints a markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEXT = (
    "The city council approved a new budget on Tuesday after months of debate over schools, roads and housing. "
    "Officials said the plan keeps property taxes flat while adding money for repairs to bridges and parks. "
    "Opponents argued that the spending on a new stadium should wait until the schools are fixed. "
    "The mayor called the vote a fair compromise and promised a public review in the spring. "
    "Teachers welcomed the extra funds for classrooms, which had been cut for three years in a row. "
    "Work on the first bridge is expected to begin in March and to last about eighteen months. "
    "Residents can read the full budget online and comment on it until the end of the month. "
    "The council will meet again next week to decide how the money for housing will be shared out."
)


def narration(root: Path):
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.stages.script import Script

    sentences = [s.strip() + "." for s in TEXT.split(".") if s.strip()]
    title = "Council passes budget"
    script = Script(headline=title, title=title, sentences=sentences, image_prompt="city hall")
    work = root / "voice"
    work.mkdir()
    voice = EspeakVoice({"target_seconds": 60.0}).run(script=script, workdir=work, progress=lambda f, m: None)
    return script, voice


def quiet(fraction: float, message: str = "") -> None:
    pass


def reference_composite(presenter, frame_size=(1280, 720)) -> float:
    """Seconds per frame to draw the presenter over a frame, as compose could: the layers decoded once into
    premultiplied uint8; the body and the desk (which the head never overlaps) merged once into one static layer,
    blended at the body's whole-pixel offset; the head (and hair behind, eyelids) turned and moved by one small
    warpAffine each. Blends are OpenCV multiply-add on the layer's own box. Frame i's pose comes from the timeline."""
    import cv2
    import numpy as np
    from PIL import Image

    def load(layer):
        rgba = np.asarray(Image.open(layer.path))
        rgb = (rgba[..., :3].astype(np.uint16) * rgba[..., 3:] // 255).astype(np.uint8)
        return np.dstack([rgb, rgba[..., 3]]), layer.x, layer.y

    sp, tl, size = presenter.sprites, presenter.timeline, presenter.width
    heads = {s: load(layer) for s, layer in sp.heads.items()}
    eyes = {"c": load(sp.eyes_closed), "h": load(sp.eyes_half)}
    back = load(sp.back) if sp.back else None
    merged = np.zeros((size, size, 4), np.uint8)
    for rgba, x, y in (load(sp.body), load(sp.front)):
        h, w = rgba.shape[:2]
        region = merged[y : y + h, x : x + w]
        region[:] = rgba + (region.astype(np.uint16) * (255 - rgba[..., 3:]) // 255).astype(np.uint8)
    ys, xs = np.nonzero(merged[..., 3])
    static = (merged[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], int(xs.min()), int(ys.min()))
    width, height = frame_size
    frame = np.full((height, width, 3), 80, np.uint8)
    ox = width - size  # the canvas at the frame's right edge

    def blend(src, dx, dy):
        rgba, sx, sy = src
        h, w = rgba.shape[:2]
        region = frame[sy + dy : sy + dy + h, ox + sx + dx : ox + sx + dx + w]
        part = rgba[: region.shape[0], : region.shape[1]]
        cv2.multiply(region, cv2.merge([255 - part[..., 3]] * 3), dst=region, scale=1 / 255)
        cv2.add(region, part[..., :3], dst=region)

    def turned(src, pose):
        rgba, sx, sy = src
        h, w = rgba.shape[:2]
        m = cv2.getRotationMatrix2D((sp.pivot[0] - sx, sp.pivot[1] - sy), -pose.head_angle, 1.0)
        m[:, 2] += (pose.head_dx + pose.body_dx, pose.head_dy + pose.body_dy)
        return cv2.warpAffine(rgba, m, (w, h), flags=cv2.INTER_LINEAR), sx, sy

    n = min(tl.frames, 300)
    t = time.perf_counter()
    for i in range(n):
        pose = tl.pose(i)
        if back:
            blend(turned(back, pose), 0, 0)
        blend(static, round(pose.body_dx), round(pose.body_dy))
        blend(turned(heads[pose.mouth], pose), 0, 0)
        if pose.eyes != "o":
            blend(turned(eyes[pose.eyes], pose), 0, 0)
    return (time.perf_counter() - t) / n


def cpu_seconds() -> float:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


CPU: dict[str, list[float]] = {}


def timed(fn, label: str | None = None):
    """(wall seconds, result); the CPU seconds go to CPU[label]."""
    c, t = cpu_seconds(), time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t
    if label is not None:
        CPU.setdefault(label, []).append(cpu_seconds() - c)
    return wall, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", type=int, default=720, help="canvas pixels (720 for a 16:9 720p video)")
    args = ap.parse_args()

    from pipeline.providers.presenter import _render, _timeline
    from pipeline.providers.presenter._looks import LOOKS
    from pipeline.providers.presenter._phonemes import phonemize
    from pipeline.providers.presenter.anchor import AnchorPresenter

    root = Path(tempfile.mkdtemp(prefix="presenter-bench-"))
    script, voice = narration(root)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"narration: {voice.duration:.1f} s, {len(voice.words)} words; load {load}")
    steps = ("cold stage", "warm stage", "draw one look", "phonemise", "timeline", "timeline, word times only")
    rows: dict[str, list[float]] = {k: [] for k in steps}
    for i in range(args.runs):
        look = list(LOOKS)[i % len(LOOKS)]
        models = root / f"models-{i}"
        provider = AnchorPresenter({"look": look, "size": args.size}, models_dir=models)
        for label in ("cold stage", "warm stage"):
            work = root / f"work-{i}-{label.split()[0]}"
            work.mkdir()
            seconds, presenter = timed(
                lambda: provider.run(script=script, voice=voice, workdir=work, progress=quiet), label
            )
            rows[label].append(seconds)
        rows["draw one look"].append(timed(lambda: _render.render(LOOKS[look], args.size), "draw one look")[0])
        seconds, found = timed(lambda: phonemize([w.word for w in voice.words], script.language), "phonemise")
        rows["phonemise"].append(seconds)
        rows["timeline"].append(
            timed(lambda: _timeline.timeline(voice.words, found.words, voice.duration, 30, 0, args.size / 1000,
                                             audio=voice.path), "timeline")[0]
        )
        rows["timeline, word times only"].append(
            timed(lambda: _timeline.timeline(voice.words, found.words, voice.duration, 30, 0, args.size / 1000),
                  "timeline, word times only")[0]
        )
    frames = presenter.timeline.frames
    per_frame = statistics.median(reference_composite(presenter) for _ in range(3))
    print(f"\n{args.runs} runs, canvas {args.size}x{args.size}, {frames} frames at 30 fps\n")
    print("| step | median wall s | min | max | median CPU s |")
    print("|---|---|---|---|---|")
    for label, values in rows.items():
        cpu = statistics.median(CPU[label])
        print(f"| {label} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} | {cpu:.3f} |")
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    total = per_frame * frames
    print(f"\nreference compositor: {per_frame * 1000:.2f} ms a frame, {total:.1f} s for the {frames} frames")


if __name__ == "__main__":
    main()
