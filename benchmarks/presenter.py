"""The presenter stage on a minute of narration: the drawn anchor cold (its look drawn into an empty models folder)
and warm (the look's sprites already there), with where the time goes.

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


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


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
    steps = ("cold stage", "warm stage", "draw one look", "phonemise", "timeline")
    rows: dict[str, list[float]] = {k: [] for k in steps}
    for i in range(args.runs):
        look = list(LOOKS)[i % len(LOOKS)]
        models = root / f"models-{i}"
        provider = AnchorPresenter({"look": look, "size": args.size}, models_dir=models)
        for label in ("cold stage", "warm stage"):
            work = root / f"work-{i}-{label.split()[0]}"
            work.mkdir()
            seconds, presenter = timed(lambda: provider.run(script=script, voice=voice, workdir=work, progress=quiet))
            rows[label].append(seconds)
        rows["draw one look"].append(timed(lambda: _render.render(LOOKS[look], args.size))[0])
        seconds, found = timed(lambda: phonemize([w.word for w in voice.words], script.language))
        rows["phonemise"].append(seconds)
        rows["timeline"].append(
            timed(lambda: _timeline.timeline(voice.words, found.words, voice.duration, 30, 0, args.size / 1000))[0]
        )
    frames = presenter.timeline.frames
    print(f"\n{args.runs} runs, canvas {args.size}x{args.size}, {frames} frames at 30 fps\n")
    print("| step | median s | min | max |")
    print("|---|---|---|---|")
    for label, values in rows.items():
        print(f"| {label} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
