"""Compose time with the presenter against without it, in the same run.

    .venv/bin/python benchmarks/presenter_compose.py [--runs 3] [--seconds 20] [--size 1280x720] [--look auto]

The inputs of benchmarks/compose.py (slate background, espeak narration fitted to `--seconds`, its captions, the
full graphics), rendered by the `ffmpeg` compose provider (warp engine, libx264) with presenter kind `none` and
with the drawn `anchor`, alternating, `--runs` times each; the median wall and CPU seconds are reported. The
anchor's own stage (drawing, phonemes) is made once before and is not timed: it is cached in a real run. Also
timed alone: the presenter's blending per frame (`_presenter.PresenterLayer.composite` on every frame's planes),
the part of the difference that is ours rather than the encoder's (a moving head is more for x264 to encode).

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.compose import GRAPHICS, SENTENCES, TITLE, cpu_seconds  # noqa: E402


def make_inputs(root: Path, width: int, height: int, seconds: float, look: str):
    from pipeline.providers.captions.subtitles import SubtitleCaptions
    from pipeline.providers.image.slate import SlateImage
    from pipeline.providers.presenter.anchor import AnchorPresenter
    from pipeline.providers.voice.espeak import EspeakVoice
    from pipeline.stages import Script

    quiet = lambda f, m: None
    script = Script(headline="Breakthrough in Mars Project", title=TITLE, sentences=SENTENCES[:3], image_prompt="mars")
    for name in ("image", "voice", "captions", "presenter", "models"):
        (root / name).mkdir(parents=True, exist_ok=True)
    image = SlateImage({"width": width, "height": height}).run(script=script, workdir=root / "image", progress=quiet)
    voice = EspeakVoice({"target_seconds": seconds}).run(script=script, workdir=root / "voice", progress=quiet)
    captions = SubtitleCaptions({"width": width, "height": height}).run(
        script=script, voice=voice, workdir=root / "captions", progress=quiet
    )
    presenter = AnchorPresenter({"look": look, "width": width, "height": height}, models_dir=root / "models").run(
        script=script, voice=voice, workdir=root / "presenter", progress=quiet
    )
    return script, image, voice, captions, presenter


VARIANTS = {"none": None, "anchor, newscast shots": "newscast", "anchor throughout": "anchor"}


def render(inputs, root: Path, width: int, height: int, shots: str | None) -> tuple[float, float]:
    from pipeline.providers.compose.ffmpeg import FfmpegCompose

    script, image, voice, captions, presenter = inputs
    work = root / f"render-{shots}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    params = {"width": width, "height": height, "engine": "warp", "encoder": "libx264", **GRAPHICS}
    extra = {}
    if shots is not None:
        params["shots"] = shots
        extra = {"presenter": presenter}
    c0, t0 = cpu_seconds(), time.perf_counter()
    FfmpegCompose(params).run(script=script, image=image, voice=voice, captions=captions, workdir=work,
                              progress=lambda f, m: None, **extra)
    return time.perf_counter() - t0, cpu_seconds() - c0


def blend_ms(presenter, width: int, height: int, fps: int = 30) -> tuple[float, float]:
    """(setup ms, median ms a frame) of drawing the presenter on I420 planes, alone."""
    import cv2
    import numpy as np

    from pipeline.providers.compose import _presenter
    from pipeline.providers.compose._layers import i420_planes

    cv2.setNumThreads(1)  # as the warp engine runs
    t0 = time.perf_counter()
    layer = _presenter.PresenterLayer(presenter, width, height, fps)
    setup = (time.perf_counter() - t0) * 1000
    buf = np.full((height * 3 // 2, width), 100, np.uint8)
    planes = i420_planes(buf, width, height)
    times = []
    for n in range(presenter.timeline.frames):
        t = time.perf_counter()
        layer.composite(planes, n)
        times.append((time.perf_counter() - t) * 1000)
    return setup, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--look", default="daniel")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="newsreel-bench-presenter-") as tmp:
        root = Path(tmp)
        inputs = make_inputs(root, width, height, args.seconds, args.look)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
        for _ in range(args.runs):
            for name, shots in VARIANTS.items():
                results[name].append(render(inputs, root, width, height, shots))
        setup, per_frame = blend_ms(inputs[4], width, height)
        duration = inputs[2].duration
        load = os.getloadavg()[0]
    wall = {k: statistics.median(w for w, _ in v) for k, v in results.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in results.items()}
    print(f"{width}x{height}, {duration:.1f} s narration at 30 fps, look {args.look}, {args.runs} runs each "
          f"(median), load average {load:.2f}, {os.cpu_count()} CPUs\n")
    print("| compose | wall s | CPU s | wall vs none | CPU vs none |")
    print("|---|---|---|---|---|")
    for name in VARIANTS:
        print(f"| presenter {name} | {wall[name]:.2f} | {cpu[name]:.2f} | "
              f"{100 * (wall[name] / wall['none'] - 1):+.1f} % | {100 * (cpu[name] / cpu['none'] - 1):+.1f} % |")
    print(f"\npresenter blending alone: {per_frame:.3f} ms a frame (median), setup {setup:.0f} ms")
    for name in VARIANTS:
        print(f"runs (wall/CPU s), {name}:", ", ".join(f"{w:.2f}/{c:.2f}" for w, c in results[name]))


if __name__ == "__main__":
    main()
